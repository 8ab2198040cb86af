/*
 * files.h - the agent's files API (Mesos' /files/browse and /files/read), confined to
 * the agent's work dir.
 *
 * Confinement: a path must be absolute; after lexical normalization ("..", ".", "//")
 * it must lie under the work dir (else -EPERM, HTTP 403, without touching the file
 * system); it is then resolved with realpath() (symlinks) and checked again; and what
 * was actually opened is checked a third time through /proc/self/fd, so a symlink
 * swapped in by a task between the check and the open cannot lead outside.
 *
 * Errors map to HTTP statuses with cr_files_http_status(): -EINVAL 400 (bad or missing
 * parameter, named in the message), -EISDIR/-ENOTDIR 400, -EPERM/-EACCES 403, -ENOENT
 * 404, anything else 500. Used by http.c; tested alone.
 */
#ifndef CR_AGENT_FILES_H
#define CR_AGENT_FILES_H

#include <jansson.h>

#include "base/err.h"

#define CR_FILES_READ_MAX (1024 * 1024) /* most bytes one /files/read answers */

/*
 * Resolve path under root (an absolute path without symlinks: the agent's realpath'd
 * work dir). Returns 0 with *out (owned) or a negative code as above.
 */
int cr_files_resolve(const char *root, const char *path, char **out, struct cr_err *err);

/*
 * /files/browse?path=DIR: a JSON array of {path, nlink, size, mtime, mode ("drwxr-xr-x"),
 * uid, gid (names when known), inode} for the entries of DIR (symlinks shown as links,
 * not followed), or of the single file if path is a file. *out is an owned reference.
 * inode is Corral's addition to Mesos' fields (see cr_files_read).
 */
int cr_files_browse(const char *root, const char *path, json_t **out, struct cr_err *err);

/*
 * /files/read?path=FILE&offset=N&length=N with Mesos' semantics: offset absent or -1
 * answers {"data": "", "offset": <size>}; otherwise up to length bytes (absent or -1 =
 * CR_FILES_READ_MAX; larger values are capped) from offset as {"data": "...", "offset":
 * offset}; an offset at or past the end answers no data. The data is the file's bytes
 * with invalid UTF-8 bytes replaced by '?' (one byte each, so offset + length of data
 * stays exact) and a multi-byte character cut by the window left for the next read.
 * Every answer also holds "inode": the inode number of the file that was read (as a
 * JSON integer; compare for equality only). A task log rotated between two reads (path
 * renamed to path.1, a fresh path created) answers another inode, which tells a reader
 * following the log to finish path.1 from its offset and go on from 0 in the new path
 * (`corral logs -f`); a shrinking size alone cannot tell a rotation once the new file
 * has grown past the old offset. offset_text/length_text are the raw query values
 * (NULL if absent).
 */
int cr_files_read(const char *root, const char *path, const char *offset_text,
                  const char *length_text, json_t **out, struct cr_err *err);

/* The HTTP status for an error code of the functions above. */
int cr_files_http_status(int rc);

/* "-rw-r--r--" etc. for st_mode (buf of at least 11 bytes). Returns buf. */
char *cr_files_mode_string(unsigned mode, char *buf);

#endif
