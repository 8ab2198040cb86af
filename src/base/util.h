/*
 * util.h - small pieces everyone needs: growable buffers, ids, clocks, base64, files.
 *
 * Out-of-memory is not an error Corral recovers from: the cr_x* allocators (and
 * everything here that allocates) print one line and abort.
 */
#ifndef CR_BASE_UTIL_H
#define CR_BASE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Free a local on scope exit: char *s __attribute__((cleanup(cr_freep))) = ...; */
void cr_freep(void *pp);
#define CR_AUTOFREE __attribute__((cleanup(cr_freep)))

/* malloc/calloc/realloc/strdup/asprintf that abort on out-of-memory; results owned (free()).
 * A size of 0 still returns a unique pointer. */
void *cr_xmalloc(size_t n);
void *cr_xcalloc(size_t n, size_t size);
void *cr_xrealloc(void *p, size_t n);
char *cr_xstrdup(const char *s); /* NULL -> NULL */
char *cr_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * A growable byte buffer. data is NULL until the first append; after that it is always
 * NUL-terminated at data[len] (the NUL is not counted in len). Zero-initialised
 * storage is a valid empty buffer.
 */
struct cr_buf {
    char *data; /* owned */
    size_t len, cap;
};
void cr_buf_init(struct cr_buf *b);
void cr_buf_release(struct cr_buf *b);
void cr_buf_append(struct cr_buf *b, const void *data, size_t len);
void cr_buf_puts(struct cr_buf *b, const char *s);
void cr_buf_printf(struct cr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hand the data out (owned by the caller: free(); "" if nothing was appended), set *len
 * (may be NULL), and reset b to empty. */
char *cr_buf_steal(struct cr_buf *b, size_t *len);

/* Monotonic clock in milliseconds (for timers and deadlines). */
int64_t cr_now_ms(void);
/* Wall clock as seconds since the epoch, with fraction. */
double cr_wall_seconds(void);

/* n random bytes from the kernel (getrandom; blocks only before the pool is seeded). */
void cr_random_bytes(void *out, size_t n);
/* A random UUID v4 as text, "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" (37 bytes with NUL). */
void cr_uuid_text(char out[37]);

/* Standard base64 with padding. Encode returns owned NUL-terminated text. */
char *cr_base64_encode(const void *data, size_t len);
/* Decode (padding optional, whitespace and non-canonical trailing bits rejected).
 * Returns 0 with *out owned (free()), or -EINVAL with *out NULL. */
int cr_base64_decode(const char *text, size_t text_len, unsigned char **out, size_t *out_len);

/* mkdir -p with mode (existing directories are fine; an existing non-directory is
 * -ENOTDIR). Returns 0 or negative errno with err filled. */
int cr_mkdir_p(const char *path, unsigned mode, struct cr_err *err);
/* rm -rf: symlinks are removed, never followed; a missing path is success; "/" is
 * refused (-EPERM). Returns 0 or negative errno with err filled. */
int cr_rm_rf(const char *path, struct cr_err *err);
/*
 * Resolve a user for running a process: uid, primary gid and supplementary groups
 * (*ngroups: capacity in, count out; more groups than that keeps the first ones).
 * user is a name ("nobody", looked up through NSS), or the resolved form
 * "#<uid>:<gid>[:<gid>,<gid>...]" that needs no lookup (what the agent hands to its
 * statically linked executors, where NSS is unavailable). Returns 0, or -ENOENT
 * ("user 'x' does not exist"), -EINVAL (a malformed resolved form) or a lookup error.
 */
int cr_user_lookup(const char *user, unsigned *uid, unsigned *gid, unsigned *groups, int *ngroups,
                   struct cr_err *err);
/* The resolved form of user ("#uid:gid:g1,g2"), owned, or NULL with err as above. */
char *cr_user_resolve(const char *user, struct cr_err *err);

/* Collapse "//", "." and ".." of an absolute path, lexically (no file system access;
 * ".." above "/" stays at "/"). Owned. */
char *cr_path_normalize(const char *path);
/* Read a whole file (*out owned: free(); NUL-terminated; *out_len may be NULL). Works for
 * /proc files that report size 0. Returns 0 or negative errno with err filled. */
int cr_read_file(const char *path, char **out, size_t *out_len, struct cr_err *err);
/* Write a file atomically: temp file in the same dir, fsync, rename, fsync the dir.
 * Readers see the old or the new content, never a mix, even across a crash. The file
 * gets mode 0644. Returns 0 or negative errno with err filled (no temp file is left). */
int cr_write_file_atomic(const char *path, const void *data, size_t len, struct cr_err *err);

#endif
