/*
 * logger.h - capture one output stream of a task (stdout or stderr) through a pipe into a
 * file of the sandbox, capped and rotated like Mesos' logrotate module.
 *
 * The executor makes one logger per stream before it launches the task: the logger owns
 * the read end of a pipe, the task gets the write end as its stdout (or stderr). Bytes
 * are appended to <path>; when the next bytes would take <path> past max_bytes, the
 * logger fills <path> exactly to max_bytes, renames it to <path>.1 (replacing the older
 * one) and goes on in a fresh <path>. So a stream never holds more than 2 * max_bytes on
 * disk, neither file ever exceeds max_bytes, and together they hold the newest output.
 * Lines may be split across the two files at the boundary; readers join them
 * (`corral logs --tail` does).
 *
 * The task must never block because of its logs: the logger keeps reading the pipe
 * whatever happens to the file. A write that fails (disk full, quota, I/O error) drops
 * those bytes, counts them, warns once in the executor's log, and when writing works
 * again the file gets one line saying how many bytes were lost ("[corral: N bytes of
 * output dropped: No space left on device]"). Memory is one 64 KiB buffer per logger.
 *
 * Everything runs on the loop's thread. Writes to the file are plain write(2) calls
 * from the loop (local disks answer from the page cache).
 */
#ifndef CR_EXECUTOR_LOGGER_H
#define CR_EXECUTOR_LOGGER_H

#include <stdint.h>
#include <uv.h>

#include "base/err.h"

#define CR_LOGGER_BUFFER_BYTES (64 * 1024) /* the one read buffer of a logger */

struct cr_logger;

/* What a logger did so far (for the executor's status and for tests). */
struct cr_logger_stats {
    uint64_t bytes_read;    /* from the pipe */
    uint64_t bytes_written; /* to the files (notes included) */
    uint64_t bytes_dropped; /* read but lost because a write failed */
    uint64_t rotations;     /* renames of <path> to <path>.1 */
};

/* Called once a closing logger has drained its pipe to the end (see cr_logger_close). */
typedef void (*cr_logger_done_fn)(void *ud);

/*
 * Start a logger on loop that appends what arrives on a new pipe to path (created with
 * mode 0644 if missing, appended to if it exists, e.g. by a restarted executor).
 * max_bytes caps path and path.1 each; 0 means no cap (never rotate); negative is
 * -EINVAL. On success *out is owned (cr_logger_close or cr_logger_free) and *write_fd
 * is the pipe's write end, owned by the caller and close-on-exec: hand it to the task
 * (dup2 onto 1 or 2 clears close-on-exec there), then close it in this process, or the
 * pipe never reaches end-of-file. Returns 0 or a negative errno with err ("open
 * '/x/stdout': Permission denied"); nothing is left open on failure.
 */
int cr_logger_new(uv_loop_t *loop, const char *path, int64_t max_bytes, struct cr_logger **out,
                  int *write_fd, struct cr_err *err);

/*
 * Finish: keep reading until every write end of the pipe is closed (the task and all
 * its children are gone and the caller closed *write_fd), write what is left, close the
 * file, free the logger, then call done(ud) (may be NULL) from the loop, never
 * synchronously. A process that escaped the task's group and holds the pipe keeps the
 * logger open; cr_logger_free() then ends it without waiting. Call at most once.
 */
void cr_logger_close(struct cr_logger *l, cr_logger_done_fn done, void *ud);

/*
 * End now: stop reading (bytes still in the pipe are lost; a writer still running gets
 * EPIPE/SIGPIPE on its next write), close the file and free. Cancels a pending
 * cr_logger_close (done is not called), e.g. when a drain deadline passes; must not be
 * called once done has run (l is gone then). The pipe handle closes asynchronously: run
 * the loop afterwards so its memory is released. Accepts NULL.
 */
void cr_logger_free(struct cr_logger *l);

/* Copy l's counters into *out. */
void cr_logger_get_stats(const struct cr_logger *l, struct cr_logger_stats *out);

#endif
