/*
 * checkpoint.c - atomic checkpoint files and the agent's record journal (see checkpoint.h
 * for the on-disk format and the guarantees).
 *
 * Invariants of an open journal:
 *   - the file holds exactly j->size bytes of whole records (j->records of them) that have
 *     been fdatasync'ed, except transiently inside cr_journal_sync();
 *   - j->pending holds framed records not yet written; every write goes to offset j->size
 *     with pwrite, so a failed write that could not be truncated away is overwritten by the
 *     next one instead of being appended after;
 *   - the open file description holds an exclusive flock for the journal's lifetime.
 *
 * Replay reads the whole file into memory (a journal is kept small by compaction) and
 * walks it with parse_record(), which classifies the first bad spot as torn (the bytes
 * present are a valid prefix of a record: a crash cut it) or damaged (they can never
 * become a record). Both end the replay at the last good record; only the log line
 * differs, since a damaged record in the middle means lost updates and deserves attention.
 */
#include "agent/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"

/* Longest header: 7 digits (CR_JOURNAL_RECORD_MAX < 10^7), space, 8 hex digits, newline. */
#define LEN_DIGITS_MAX 7
#define CRC_DIGITS 8

/* ---- CRC-32C (Castagnoli, reflected 0x82F63B78), four bits per table lookup ---- */

static const uint32_t crc32c_nibble[16] = {
    0x00000000, 0x105ec76f, 0x20bd8ede, 0x30e349b1, 0x417b1dbc, 0x5125dad3, 0x61c69362, 0x7198540d,
    0x82f63b78, 0x92a8fc17, 0xa24bb5a6, 0xb21572c9, 0xc38d26c4, 0xd3d3e1ab, 0xe330a81a, 0xf36e6f75,
};

static uint32_t crc32c(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint32_t crc = 0xffffffffu;
    while (len--) {
        crc ^= *p++;
        crc = (crc >> 4) ^ crc32c_nibble[crc & 0xf];
        crc = (crc >> 4) ^ crc32c_nibble[crc & 0xf];
    }
    return ~crc;
}

/* ---- file helpers ---- */

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return cr_xstrdup(".");
    if (slash == path)
        return cr_xstrdup("/");
    return cr_xasprintf("%.*s", (int)(slash - path), path);
}

/* The rename (or creation) of a file is durable only once its directory is synced. */
static int fsync_dir(const char *dir, struct cr_err *err)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return cr_err_sys(err, -errno, "open directory '%s'", dir);
    int rc = 0;
    if (fsync(dfd) < 0)
        rc = cr_err_sys(err, -errno, "fsync directory '%s'", dir);
    close(dfd);
    return rc;
}

static int pwrite_all(int fd, const char *p, size_t len, uint64_t off)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/*
 * Create tmp (truncating a stale one), write data, fsync. On success the file is left
 * open in *fd_out if fd_out is given (read-write), closed otherwise. On failure tmp is
 * removed.
 */
static int write_synced(const char *tmp, const void *data, size_t len, int *fd_out,
                        struct cr_err *err)
{
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return cr_err_sys(err, -errno, "create '%s'", tmp);
    int rc = pwrite_all(fd, data, len, 0);
    if (rc < 0) {
        cr_err_sys(err, rc, "write '%s'", tmp);
        goto fail;
    }
    if (fsync(fd) < 0) {
        rc = cr_err_sys(err, -errno, "fsync '%s'", tmp);
        goto fail;
    }
    if (fd_out) {
        *fd_out = fd;
        return 0;
    }
    if (close(fd) < 0) {
        fd = -1;
        rc = cr_err_sys(err, -errno, "close '%s'", tmp);
        goto fail;
    }
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return rc;
}

/* ---- record framing ---- */

/* Serialize and frame one record onto b. Returns 0, -EINVAL or -EMSGSIZE (err filled). */
static int frame_record(struct cr_buf *b, const json_t *record, struct cr_err *err)
{
    if (!record)
        return cr_err_set(err, -EINVAL, "journal record is NULL");
    char *json CR_AUTOFREE = json_dumps(record, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!json)
        return cr_err_set(err, -EINVAL, "journal record cannot be serialized");
    size_t len = strlen(json);
    if (len > CR_JOURNAL_RECORD_MAX)
        return cr_err_set(err, -EMSGSIZE, "journal record of %zu bytes is over the limit of %u",
                          len, CR_JOURNAL_RECORD_MAX);
    cr_buf_printf(b, "%zu %08" PRIx32 "\n", len, crc32c(json, len));
    cr_buf_append(b, json, len);
    cr_buf_append(b, "\n", 1);
    return 0;
}

enum parse_result {
    PARSE_OK,
    PARSE_TORN,    /* the bytes present are a valid prefix of a record */
    PARSE_DAMAGED, /* they can never become a record */
};

static bool is_hex_lower(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/*
 * Parse the record at p[0..avail). On PARSE_OK *rec is the decoded value (owned) and
 * *used the framed size. Otherwise *why says what is wrong (static text).
 */
static enum parse_result parse_record(const char *p, size_t avail, json_t **rec, size_t *used,
                                      const char **why)
{
    size_t i = 0, plen = 0;
    while (i < avail && p[i] >= '0' && p[i] <= '9' && i <= LEN_DIGITS_MAX) {
        plen = plen * 10 + (size_t)(p[i] - '0');
        i++;
    }
    if (i == 0 || i > LEN_DIGITS_MAX || (i > 1 && p[0] == '0')) {
        *why = "bad length";
        return PARSE_DAMAGED;
    }
    if (i == avail)
        return PARSE_TORN;
    if (p[i] != ' ' || plen == 0 || plen > CR_JOURNAL_RECORD_MAX) {
        *why = "bad length";
        return PARSE_DAMAGED;
    }
    i++;
    uint32_t want = 0;
    for (int k = 0; k < CRC_DIGITS; k++, i++) {
        if (i == avail)
            return PARSE_TORN;
        if (!is_hex_lower(p[i])) {
            *why = "bad checksum field";
            return PARSE_DAMAGED;
        }
        want = want << 4 | (uint32_t)(p[i] <= '9' ? p[i] - '0' : p[i] - 'a' + 10);
    }
    if (i == avail)
        return PARSE_TORN;
    if (p[i] != '\n') {
        *why = "bad header end";
        return PARSE_DAMAGED;
    }
    i++;
    if (avail - i < plen + 1)
        return PARSE_TORN;
    const char *payload = p + i;
    if (payload[plen] != '\n') {
        *why = "bad record end";
        return PARSE_DAMAGED;
    }
    if (crc32c(payload, plen) != want) {
        *why = "checksum mismatch";
        return PARSE_DAMAGED;
    }
    json_error_t jerr;
    *rec = json_loadb(payload, plen, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!*rec) {
        *why = "record is not json";
        return PARSE_DAMAGED;
    }
    *used = i + plen + 1;
    return PARSE_OK;
}

static bool all_zero(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i])
            return false;
    return true;
}

/* ---- the journal ---- */

struct waiter {
    cr_journal_done_fn done;
    void *ud;
};

struct cr_journal {
    char *path; /* owned */
    char *dir;  /* owned */
    int fd;
    uint64_t size;    /* bytes of whole synced records */
    uint64_t records; /* records in those bytes */
    uint64_t dropped_bytes;
    uint64_t syncs;
    struct cr_buf pending; /* framed records not yet written */
    size_t n_pending;

    /* Deferred sync (cr_journal_sync_deferred); loop is NULL until first used. */
    uv_loop_t *loop;
    uv_check_t check;
    uv_idle_t idle;
    bool is_scheduled;
    int handles_open;
    struct waiter *waiters; /* owned */
    size_t n_waiters, cap_waiters;
};

static int read_fd_all(int fd, struct cr_buf *b, struct cr_err *err)
{
    char chunk[65536];
    uint64_t off = 0;
    for (;;) {
        ssize_t n = pread(fd, chunk, sizeof(chunk), (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return cr_err_sys(err, -errno, "read");
        }
        if (n == 0)
            return 0;
        cr_buf_append(b, chunk, (size_t)n);
        off += (uint64_t)n;
    }
}

/* Remove "<base>.tmp.*" left in dir by a writer that crashed (we hold the lock now). */
static void remove_stale_temps(const char *dir, const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char *prefix CR_AUTOFREE = cr_xasprintf("%s.tmp.", base);
    size_t plen = strlen(prefix);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, prefix, plen) != 0 || !de->d_name[plen])
            continue;
        char *stale CR_AUTOFREE = cr_xasprintf("%s/%s", dir, de->d_name);
        if (unlink(stale) == 0)
            CR_WARN("journal removed a stale temp file path=%s", stale);
    }
    closedir(d);
}

/* Replay data through fn; *good_end is the end of the last intact record. */
static int replay(struct cr_journal *j, const char *data, size_t len, cr_journal_replay_fn fn,
                  void *ud, size_t *good_end, struct cr_err *err)
{
    size_t off = 0;
    while (off < len) {
        json_t *rec = NULL;
        size_t used = 0;
        const char *why = "";
        enum parse_result r = parse_record(data + off, len - off, &rec, &used, &why);
        if (r != PARSE_OK) {
            size_t dropped = len - off;
            if (r == PARSE_TORN || all_zero(data + off, dropped))
                CR_WARN("journal has a torn tail, truncating path=%s offset=%zu dropped_bytes=%zu",
                        j->path, off, dropped);
            else
                CR_WARN("journal record is damaged, replay stops there and the rest is dropped "
                        "path=%s offset=%zu dropped_bytes=%zu reason=\"%s\" records_kept=%" PRIu64,
                        j->path, off, dropped, why, j->records);
            break;
        }
        int rc = fn ? fn(ud, rec, err) : 0;
        json_decref(rec);
        if (rc < 0) {
            if (err && err->code == 0)
                cr_err_set(err, rc, "the replay function failed");
            cr_err_wrap(err, "replay record at offset %zu", off);
            return rc;
        }
        off += used;
        j->records++;
    }
    *good_end = off;
    return 0;
}

static void journal_destroy(struct cr_journal *j)
{
    free(j->waiters);
    free(j->path);
    free(j->dir);
    free(j);
}

int cr_journal_open(const char *path, cr_journal_replay_fn fn, void *ud, struct cr_journal **out,
                    struct cr_err *err)
{
    *out = NULL;
    if (!path || !*path)
        return cr_err_set(err, -EINVAL, "open journal: empty path");
    struct cr_journal *j = cr_xcalloc(1, sizeof(*j));
    j->path = cr_xstrdup(path);
    j->dir = dir_of(path);
    cr_buf_init(&j->pending);
    struct cr_buf data;
    cr_buf_init(&data);
    int rc;

    struct stat st;
    bool is_new = stat(path, &st) < 0 && errno == ENOENT;
    j->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (j->fd < 0) {
        rc = cr_err_sys(err, -errno, "open");
        goto fail;
    }
    if (flock(j->fd, LOCK_EX | LOCK_NB) < 0) {
        rc = errno == EWOULDBLOCK ? cr_err_set(err, -EBUSY, "in use by another owner")
                                  : cr_err_sys(err, -errno, "lock");
        goto fail;
    }
    if (is_new && (rc = fsync_dir(j->dir, err)) < 0)
        goto fail;
    remove_stale_temps(j->dir, path);
    if ((rc = read_fd_all(j->fd, &data, err)) < 0)
        goto fail;
    size_t good_end = 0;
    if ((rc = replay(j, data.data, data.len, fn, ud, &good_end, err)) < 0)
        goto fail;
    if (good_end < data.len) {
        j->dropped_bytes = data.len - good_end;
        if (ftruncate(j->fd, (off_t)good_end) < 0) {
            rc = cr_err_sys(err, -errno, "truncate to %zu bytes", good_end);
            goto fail;
        }
        if (fdatasync(j->fd) < 0) {
            rc = cr_err_sys(err, -errno, "fdatasync");
            goto fail;
        }
        j->syncs++;
    }
    j->size = good_end;
    cr_buf_release(&data);
    *out = j;
    return 0;
fail:
    cr_buf_release(&data);
    if (j->fd >= 0)
        close(j->fd);
    cr_buf_release(&j->pending);
    journal_destroy(j);
    cr_err_wrap(err, "open journal '%s'", path);
    return rc;
}

int cr_journal_append(struct cr_journal *j, const json_t *record)
{
    struct cr_err err;
    cr_err_clear(&err);
    int rc = frame_record(&j->pending, record, &err);
    if (rc < 0) {
        CR_ERROR("journal append rejected a record path=%s error=\"%s\"", j->path,
                 cr_err_msg(&err));
        return rc;
    }
    j->n_pending++;
    return 0;
}

int cr_journal_sync(struct cr_journal *j, struct cr_err *err)
{
    if (j->n_pending == 0)
        return 0;
    int rc = pwrite_all(j->fd, j->pending.data, j->pending.len, j->size);
    if (rc < 0) {
        cr_err_sys(err, rc, "sync journal '%s': write %zu bytes at offset %" PRIu64, j->path,
                   j->pending.len, j->size);
    } else {
        j->syncs++;
        if (fdatasync(j->fd) < 0)
            rc = cr_err_sys(err, -errno, "sync journal '%s': fdatasync", j->path);
    }
    if (rc < 0) {
        /*
         * Cut back whatever part of the batch reached the file: a torn record there would
         * be dropped by replay anyway, but whole records from a batch the caller was told
         * failed must not come back after a restart if the retry never happens. After a
         * failed fdatasync the page cache cannot be trusted either, so the retry rewrites
         * the whole batch.
         */
        if (ftruncate(j->fd, (off_t)j->size) < 0)
            CR_ERROR("journal cannot cut back a failed write path=%s size=%" PRIu64 " error=\"%s\"",
                     j->path, j->size, strerror(errno));
        return rc;
    }
    j->size += j->pending.len;
    j->records += j->n_pending;
    j->n_pending = 0;
    cr_buf_release(&j->pending);
    cr_buf_init(&j->pending);
    return 0;
}

bool cr_journal_dirty(const struct cr_journal *j)
{
    return j->n_pending > 0;
}

uint64_t cr_journal_size(const struct cr_journal *j)
{
    return j->size;
}

uint64_t cr_journal_records(const struct cr_journal *j)
{
    return j->records;
}

uint64_t cr_journal_dropped_bytes(const struct cr_journal *j)
{
    return j->dropped_bytes;
}

uint64_t cr_journal_sync_count(const struct cr_journal *j)
{
    return j->syncs;
}

int cr_journal_compact(struct cr_journal *j, json_t *const *records, size_t n, struct cr_err *err)
{
    struct cr_buf b;
    cr_buf_init(&b);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if ((rc = frame_record(&b, records[i], err)) < 0)
            cr_err_wrap(err, "record %zu", i);
    char *tmp CR_AUTOFREE = cr_xasprintf("%s.tmp.%ld", j->path, (long)getpid());
    int fd = -1;
    if (rc == 0)
        rc = write_synced(tmp, b.data, b.len, &fd, err);
    if (rc < 0) {
        cr_buf_release(&b);
        cr_err_wrap(err, "compact journal '%s'", j->path);
        return rc;
    }
    /* Nobody else can see the temp file yet, so the lock cannot be contended. */
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        rc = cr_err_sys(err, -errno, "compact journal: lock '%s'", tmp);
        goto fail;
    }
    if (rename(tmp, j->path) < 0) {
        rc = cr_err_sys(err, -errno, "compact journal: rename '%s' to '%s'", tmp, j->path);
        goto fail;
    }
    /* From here the new file is the journal, whatever the directory sync says. */
    close(j->fd);
    j->fd = fd;
    j->size = b.len;
    j->records = n;
    j->n_pending = 0;
    cr_buf_release(&j->pending);
    cr_buf_init(&j->pending);
    cr_buf_release(&b);
    rc = fsync_dir(j->dir, err);
    if (rc < 0) {
        cr_err_wrap(err, "compact journal '%s'", j->path);
        return rc;
    }
    return 0;
fail:
    close(fd);
    unlink(tmp);
    cr_buf_release(&b);
    return rc;
}

/* ---- deferred sync ---- */

static void on_idle(uv_idle_t *h)
{
    /* Nothing to do: an active idle handle only makes the loop poll without blocking. */
    (void)h;
}

static void on_check(uv_check_t *h)
{
    struct cr_journal *j = h->data;
    uv_check_stop(&j->check);
    uv_idle_stop(&j->idle);
    j->is_scheduled = false;
    /* Take the waiters: a callback may schedule again (a new batch) or free j. */
    struct waiter *w = j->waiters;
    size_t n = j->n_waiters;
    j->waiters = NULL;
    j->n_waiters = j->cap_waiters = 0;
    struct cr_err err;
    cr_err_clear(&err);
    int rc = cr_journal_sync(j, &err);
    if (rc < 0)
        CR_ERROR("journal deferred sync failed path=%s error=\"%s\"", j->path, cr_err_msg(&err));
    for (size_t i = 0; i < n; i++)
        if (w[i].done)
            w[i].done(w[i].ud, rc);
    free(w);
}

int cr_journal_sync_deferred(struct cr_journal *j, uv_loop_t *loop, cr_journal_done_fn done,
                             void *ud)
{
    if (!loop || (j->loop && j->loop != loop))
        return -EINVAL;
    if (!j->loop) {
        /* Neither init can fail for a valid loop. */
        uv_check_init(loop, &j->check);
        uv_idle_init(loop, &j->idle);
        j->check.data = j;
        j->idle.data = j;
        j->loop = loop;
        j->handles_open = 2;
    }
    if (j->n_waiters == j->cap_waiters) {
        j->cap_waiters = j->cap_waiters ? j->cap_waiters * 2 : 8;
        j->waiters = cr_xrealloc(j->waiters, j->cap_waiters * sizeof(*j->waiters));
    }
    j->waiters[j->n_waiters++] = (struct waiter){done, ud};
    if (!j->is_scheduled) {
        uv_check_start(&j->check, on_check);
        uv_idle_start(&j->idle, on_idle);
        j->is_scheduled = true;
    }
    return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct cr_journal *j = h->data;
    if (--j->handles_open > 0)
        return;
    for (size_t i = 0; i < j->n_waiters; i++)
        if (j->waiters[i].done)
            j->waiters[i].done(j->waiters[i].ud, -ECANCELED);
    journal_destroy(j);
}

void cr_journal_free(struct cr_journal *j)
{
    if (!j)
        return;
    if (j->fd >= 0)
        close(j->fd);
    j->fd = -1;
    cr_buf_release(&j->pending);
    j->n_pending = 0;
    if (!j->loop) {
        journal_destroy(j);
        return;
    }
    uv_close((uv_handle_t *)&j->check, on_handle_closed);
    uv_close((uv_handle_t *)&j->idle, on_handle_closed);
}
