/*
 * logger.c - a task's output stream from a pipe into <path>, capped and rotated to
 * <path>.1 (see logger.h).
 *
 * Invariants: the current file holds `size` bytes (what this logger wrote, plus what was
 * there when it started) and size <= max_bytes when there is a cap; a rotation happens
 * only when the current file is exactly full, so <path>.1 always holds max_bytes (or
 * what an earlier process left). The pipe is read by libuv into the one buffer in the
 * struct, and each chunk is written out before the next read, so nothing queues up in
 * memory whatever the task prints.
 *
 * Failure policy: the pipe is the task's; the file is ours. Whatever goes wrong with the
 * file, reading goes on, so a task never blocks on a full pipe because of its logs.
 */
#include "executor/logger.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"

struct cr_logger {
    uv_pipe_t pipe; /* the read end */
    char *path;     /* owned */
    char *path1;    /* owned: path + ".1" */
    int64_t max_bytes;
    int fd;       /* the current file, -1 after a failed (re)open: retried per chunk */
    int64_t size; /* bytes in the current file */
    bool ends_in_newline;
    bool is_eof;       /* the pipe reached its end (or failed) */
    bool is_finishing; /* the pipe handle is closing: memory goes in on_closed */
    bool is_closing;   /* cr_logger_close was called */
    cr_logger_done_fn done;
    void *done_ud;
    uint64_t unnoted_drops; /* bytes dropped since the file last said so */
    int drop_errno;
    struct cr_logger_stats stats;
    char buf[CR_LOGGER_BUFFER_BYTES];
};

/* Open the current file for appending and learn its size. Returns 0 or -errno. */
static int open_current(struct cr_logger *l, bool truncate)
{
    int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY | (truncate ? O_TRUNC : 0);
    int fd = open(l->path, flags, 0644);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    l->fd = fd;
    l->size = (int64_t)st.st_size;
    l->ends_in_newline = true; /* a note after old content starts its own line anyway */
    return 0;
}

/*
 * path -> path.1 and a fresh path. If the rename fails the current file is truncated
 * instead, so the cap holds whatever happens. Returns 0 or -errno (no file open then).
 */
static int rotate(struct cr_logger *l)
{
    if (l->fd >= 0) {
        close(l->fd);
        l->fd = -1;
    }
    if (rename(l->path, l->path1) < 0 && errno != ENOENT)
        CR_WARN("cannot rotate a task log, truncating it instead path=%s error=\"%s\"", l->path,
                strerror(errno));
    l->stats.rotations++;
    return open_current(l, true);
}

/*
 * Write p[0..n) to the files, rotating at the cap. Sets *written to the bytes that
 * reached a file. Returns 0, or -errno of the write, rotation or open that failed.
 */
static int put(struct cr_logger *l, const char *p, size_t n, size_t *written)
{
    *written = 0;
    while (n > 0) {
        int rc;
        if (l->fd < 0 && (rc = open_current(l, false)) < 0)
            return rc;
        size_t room = n;
        if (l->max_bytes > 0) {
            if (l->size >= l->max_bytes) {
                if ((rc = rotate(l)) < 0)
                    return rc;
                continue;
            }
            if ((uint64_t)(l->max_bytes - l->size) < room)
                room = (size_t)(l->max_bytes - l->size);
        }
        ssize_t w = write(l->fd, p, room);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        if (w == 0)
            return -EIO;
        l->size += w;
        l->stats.bytes_written += (uint64_t)w;
        l->ends_in_newline = p[w - 1] == '\n';
        *written += (size_t)w;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Count bytes that could not be written; warn once per outage. */
static void drop(struct cr_logger *l, size_t n, int rc)
{
    if (l->unnoted_drops == 0)
        CR_WARN("cannot write a task log, dropping output until it works again path=%s "
                "error=\"%s\"",
                l->path, strerror(-rc));
    l->stats.bytes_dropped += n;
    l->unnoted_drops += n;
    l->drop_errno = -rc;
}

/* After an outage, say in the file how much is missing (if the file takes it now). */
static void note_drops(struct cr_logger *l)
{
    char note[160];
    int len = snprintf(note, sizeof(note), "%s[corral: %" PRIu64 " bytes of output dropped: %s]\n",
                       l->ends_in_newline ? "" : "\n", l->unnoted_drops, strerror(l->drop_errno));
    size_t written = 0;
    if (put(l, note, (size_t)len, &written) < 0)
        return; /* still failing: the data write after this counts its own drop */
    CR_INFO("task log writable again path=%s dropped_bytes=%" PRIu64, l->path, l->unnoted_drops);
    l->unnoted_drops = 0;
}

static void consume(struct cr_logger *l, const char *p, size_t n)
{
    l->stats.bytes_read += n;
    if (l->unnoted_drops > 0)
        note_drops(l);
    size_t written = 0;
    int rc = put(l, p, n, &written);
    if (rc < 0)
        drop(l, n - written, rc);
}

static void on_closed(uv_handle_t *h)
{
    struct cr_logger *l = h->data;
    cr_logger_done_fn done = l->done;
    void *ud = l->done_ud;
    free(l->path);
    free(l->path1);
    free(l);
    if (done)
        done(ud);
}

/* Close the file and the pipe; on_closed frees l (and calls done, if still wanted). */
static void finish(struct cr_logger *l)
{
    if (l->is_finishing)
        return;
    l->is_finishing = true;
    if (l->fd >= 0) {
        close(l->fd);
        l->fd = -1;
    }
    uv_close((uv_handle_t *)&l->pipe, on_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct cr_logger *l = h->data;
    *buf = uv_buf_init(l->buf, sizeof(l->buf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct cr_logger *l = s->data;
    if (nread > 0) {
        consume(l, buf->base, (size_t)nread);
        return;
    }
    if (nread == 0)
        return; /* EAGAIN */
    if (nread != UV_EOF)
        CR_WARN("reading a task's output failed, closing its log path=%s error=\"%s\"", l->path,
                uv_strerror((int)nread));
    uv_read_stop(s);
    l->is_eof = true;
    if (l->unnoted_drops > 0)
        note_drops(l);
    if (l->is_closing)
        finish(l);
}

int cr_logger_new(uv_loop_t *loop, const char *path, int64_t max_bytes, struct cr_logger **out,
                  int *write_fd, struct cr_err *err)
{
    *out = NULL;
    *write_fd = -1;
    if (max_bytes < 0)
        return cr_err_set(err, -EINVAL, "log cap %" PRId64 " is negative", max_bytes);
    struct cr_logger *l = cr_xcalloc(1, sizeof(*l));
    l->path = cr_xstrdup(path);
    l->path1 = cr_xasprintf("%s.1", path);
    l->max_bytes = max_bytes;
    l->fd = -1;
    int rc = open_current(l, false);
    if (rc < 0) {
        cr_err_sys(err, rc, "open '%s'", path);
        goto fail;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        rc = cr_err_sys(err, -errno, "create a pipe for '%s'", path);
        close(l->fd);
        goto fail;
    }
    uv_pipe_init(loop, &l->pipe, 0);
    l->pipe.data = l;
    rc = uv_pipe_open(&l->pipe, fds[0]);
    if (rc < 0)
        close(fds[0]); /* not the handle's */
    else
        rc = uv_read_start((uv_stream_t *)&l->pipe, on_alloc, on_read);
    if (rc < 0) {
        cr_err_set(err, -EIO, "watch the pipe for '%s': %s", path, uv_strerror(rc));
        close(fds[1]);
        /* The handle is initialized: it must close through the loop, which frees l. */
        finish(l);
        return -EIO;
    }
    *out = l;
    *write_fd = fds[1];
    return 0;
fail:
    free(l->path);
    free(l->path1);
    free(l);
    return rc;
}

void cr_logger_close(struct cr_logger *l, cr_logger_done_fn done, void *ud)
{
    if (l->is_finishing || l->is_closing)
        return;
    l->is_closing = true;
    l->done = done;
    l->done_ud = ud;
    if (l->is_eof)
        finish(l);
}

void cr_logger_free(struct cr_logger *l)
{
    if (!l)
        return;
    l->done = NULL;
    if (!l->is_eof)
        uv_read_stop((uv_stream_t *)&l->pipe);
    finish(l);
}

void cr_logger_get_stats(const struct cr_logger *l, struct cr_logger_stats *out)
{
    *out = l->stats;
}
