/*
 * test_checkpoint.c - the agent's checkpoint files and record journal (src/agent/checkpoint.c)
 * on real files in a temp dir: the exact on-disk framing, round trips in order, a torn tail
 * cut at every byte offset, a damaged byte anywhere in a middle record, compaction, a full
 * filesystem (a 64 KiB tmpfs mounted in a private mount namespace), atomic checkpoint
 * replacement watched by a concurrent reader process, and group commit on a libuv loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/checkpoint.h"
#include "base/util.h"

struct fixture {
    char dir[256];
    char path[300]; /* dir/journal */
    char mnt[300];  /* dir/mnt when a tmpfs is mounted there */
    bool is_mounted;
};

static int setup(void **state)
{
    struct fixture *f = cr_xcalloc(1, sizeof(*f));
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof(f->dir), "%s/cr-ckpt-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/journal", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    /* Runs even when the test failed: never leave the tmpfs behind. */
    if (f->is_mounted && umount2(f->mnt, MNT_DETACH) < 0)
        fprintf(stderr, "umount '%s': %s\n", f->mnt, strerror(errno));
    struct cr_err err;
    cr_rm_rf(f->dir, &err);
    free(f);
    return 0;
}

/* ---- helpers ---- */

static json_t *rec_seq(int seq, size_t pad)
{
    char *s = cr_xmalloc(pad + 1);
    for (size_t i = 0; i < pad; i++)
        s[i] = (char)('a' + (seq + (int)i) % 26);
    s[pad] = '\0';
    json_t *r =
        json_pack("{s:i, s:s, s:s}", "seq", seq, "pad", s, "msg", "line1\nline2 \"q\" \xc3\xa9");
    free(s);
    return r;
}

static void append_seq(struct cr_journal *j, int seq, size_t pad)
{
    json_t *r = rec_seq(seq, pad);
    assert_int_equal(cr_journal_append(j, r), 0);
    json_decref(r);
}

/* Replay collector: keeps every record (increfed). */
struct collected {
    json_t *v[4096];
    size_t n;
    int fail_at; /* return -EIO at this index (-1: never) */
};

static int collect(void *ud, const json_t *record, struct cr_err *err)
{
    struct collected *c = ud;
    if ((int)c->n == c->fail_at)
        return cr_err_set(err, -EIO, "replay refused record %zu", c->n);
    assert_true(c->n < 4096);
    c->v[c->n++] = json_incref((json_t *)record);
    return 0;
}

static void collected_reset(struct collected *c)
{
    for (size_t i = 0; i < c->n; i++)
        json_decref(c->v[i]);
    c->n = 0;
    c->fail_at = -1;
}

static int seq_of(const json_t *r)
{
    return (int)json_integer_value(json_object_get(r, "seq"));
}

static struct cr_journal *open_collect(const char *path, struct collected *c)
{
    collected_reset(c);
    struct cr_journal *j = NULL;
    struct cr_err err;
    int rc = cr_journal_open(path, collect, c, &j, &err);
    if (rc < 0)
        fail_msg("open journal: %s", err.msg);
    assert_non_null(j);
    return j;
}

static off_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

static void write_raw(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static char *read_raw(const char *path, size_t *len)
{
    char *data = NULL;
    struct cr_err err;
    assert_int_equal(cr_read_file(path, &data, len, &err), 0);
    return data;
}

/* Count directory entries other than . and .. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* Capture what the log writes to stderr while it runs. */
struct capture {
    int saved;
    char path[320];
};

static void capture_start(struct capture *c, const struct fixture *f)
{
    snprintf(c->path, sizeof(c->path), "%s/stderr.txt", f->dir);
    fflush(stderr);
    int fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    c->saved = dup(STDERR_FILENO);
    assert_true(c->saved >= 0);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    close(fd);
}

static char *capture_end(struct capture *c)
{
    fflush(stderr);
    dup2(c->saved, STDERR_FILENO);
    close(c->saved);
    char *text = read_raw(c->path, NULL);
    unlink(c->path);
    return text;
}

/* ---- tests ---- */

/* The documented framing, byte for byte (CRC-32C check values computed independently). */
static void test_frame_format(void **state)
{
    struct fixture *f = *state;
    struct collected c = {.fail_at = -1};
    struct cr_journal *j = open_collect(f->path, &c);
    assert_int_equal(c.n, 0);
    assert_false(cr_journal_dirty(j));
    json_t *a = json_pack("{s:i}", "a", 1);
    json_t *b = json_pack("[i,s]", 1, "x");
    assert_int_equal(cr_journal_append(j, a), 0);
    assert_int_equal(cr_journal_append(j, b), 0);
    assert_true(cr_journal_dirty(j));
    assert_int_equal(file_size(f->path), 0); /* append does no I/O */
    struct cr_err err;
    assert_int_equal(cr_journal_sync(j, &err), 0);
    assert_false(cr_journal_dirty(j));
    const char want[] = "7 cff7d56a\n{\"a\":1}\n7 8feb1802\n[1,\"x\"]\n";
    size_t len = 0;
    char *data = read_raw(f->path, &len);
    assert_int_equal(len, sizeof(want) - 1);
    assert_memory_equal(data, want, len);
    free(data);
    assert_int_equal(cr_journal_size(j), sizeof(want) - 1);
    assert_int_equal(cr_journal_records(j), 2);
    /* Nothing buffered: no I/O, no fdatasync. */
    uint64_t syncs = cr_journal_sync_count(j);
    assert_int_equal(cr_journal_sync(j, &err), 0);
    assert_int_equal(cr_journal_sync_count(j), syncs);
    cr_journal_free(j);

    j = open_collect(f->path, &c);
    assert_int_equal(c.n, 2);
    assert_true(json_equal(c.v[0], a));
    assert_true(json_equal(c.v[1], b));
    assert_int_equal(cr_journal_dropped_bytes(j), 0);
    cr_journal_free(j);
    collected_reset(&c);
    json_decref(a);
    json_decref(b);
}

/* Records come back equal and in order across several syncs and reopens; unsynced ones
 * are lost like in a crash. */
static void test_round_trip_order(void **state)
{
    struct fixture *f = *state;
    struct collected c = {.fail_at = -1};
    struct cr_err err;
    struct cr_journal *j = open_collect(f->path, &c);
    int seq = 0;
    for (int batch = 0; batch < 5; batch++) {
        for (int i = 0; i < 10; i++, seq++)
            append_seq(j, seq, (size_t)((seq + 1) * 7) % 300);
        assert_int_equal(cr_journal_sync(j, &err), 0);
    }
    assert_int_equal(cr_journal_records(j), 50);
    assert_int_equal(cr_journal_size(j), (uint64_t)file_size(f->path));
    append_seq(j, 999, 10); /* never synced */
    cr_journal_free(j);

    j = open_collect(f->path, &c);
    assert_int_equal(c.n, 50);
    for (int i = 0; i < 50; i++) {
        json_t *want = rec_seq(i, (size_t)((i + 1) * 7) % 300);
        assert_true(json_equal(c.v[i], want));
        json_decref(want);
    }
    assert_int_equal(cr_journal_records(j), 50);
    /* Appending after a reopen continues the same file. */
    append_seq(j, 50, 3);
    assert_int_equal(cr_journal_sync(j, &err), 0);
    cr_journal_free(j);
    j = open_collect(f->path, &c);
    assert_int_equal(c.n, 51);
    assert_int_equal(seq_of(c.v[50]), 50);
    cr_journal_free(j);
    collected_reset(&c);
}

/* Cut the file at every byte offset: replay yields exactly the records that are whole,
 * the rest is truncated away, and the journal keeps working after it. */
static void test_torn_tail_every_offset(void **state)
{
    struct fixture *f = *state;
    struct collected c = {.fail_at = -1};
    struct cr_err err;
    struct cr_journal *j = open_collect(f->path, &c);
    size_t ends[8];
    size_t n_rec = 0;
    size_t pads[] = {0, 5, 40, 200};
    for (size_t i = 0; i < 4; i++) {
        append_seq(j, (int)i, pads[i]);
        assert_int_equal(cr_journal_sync(j, &err), 0);
        ends[n_rec++] = (size_t)cr_journal_size(j);
    }
    cr_journal_free(j);
    size_t full_len = 0;
    char *full = read_raw(f->path, &full_len);
    assert_int_equal(full_len, ends[n_rec - 1]);

    char cut[320];
    snprintf(cut, sizeof(cut), "%s/cut", f->dir);
    for (size_t len = 0; len <= full_len; len++) {
        write_raw(cut, full, len);
        size_t whole = 0, good_end = 0;
        while (whole < n_rec && ends[whole] <= len)
            good_end = ends[whole++];
        struct capture cap;
        capture_start(&cap, f);
        j = open_collect(cut, &c);
        char *log = capture_end(&cap);
        if (c.n != whole)
            fail_msg("cut at %zu: replayed %zu records, want %zu", len, c.n, whole);
        for (size_t i = 0; i < whole; i++)
            assert_int_equal(seq_of(c.v[i]), (int)i);
        assert_int_equal(cr_journal_dropped_bytes(j), len - good_end);
        assert_int_equal(cr_journal_size(j), good_end);
        assert_int_equal(file_size(cut), (off_t)good_end);
        if (len > good_end)
            assert_non_null(strstr(log, "torn tail"));
        else
            assert_null(strstr(log, "journal"));
        free(log);
        /* More appends after the repair replay correctly. */
        append_seq(j, 100, 3);
        assert_int_equal(cr_journal_sync(j, &err), 0);
        cr_journal_free(j);
        j = open_collect(cut, &c);
        assert_int_equal(c.n, whole + 1);
        assert_int_equal(seq_of(c.v[whole]), 100);
        assert_int_equal(cr_journal_dropped_bytes(j), 0);
        cr_journal_free(j);
    }
    collected_reset(&c);
    free(full);
}

/* A damaged byte anywhere in a middle record (header, checksum, payload, end) stops the
 * replay at the record before, truncates there, and warns with the offset and size. */
static void test_damaged_middle_record(void **state)
{
    struct fixture *f = *state;
    struct collected c = {.fail_at = -1};
    struct cr_err err;
    struct cr_journal *j = open_collect(f->path, &c);
    size_t ends[5];
    for (int i = 0; i < 5; i++) {
        append_seq(j, i, 20);
        assert_int_equal(cr_journal_sync(j, &err), 0);
        ends[i] = (size_t)cr_journal_size(j);
    }
    cr_journal_free(j);
    size_t full_len = 0;
    char *full = read_raw(f->path, &full_len);
    char *copy = cr_xmalloc(full_len);
    char bad[320];
    snprintf(bad, sizeof(bad), "%s/bad", f->dir);
    /* Every byte of record 2. XOR 0x20 turns any header byte into a non-header byte and
     * any payload change is caught by the CRC. */
    for (size_t off = ends[1]; off < ends[2]; off++) {
        memcpy(copy, full, full_len);
        copy[off] ^= 0x20;
        write_raw(bad, copy, full_len);
        struct capture cap;
        capture_start(&cap, f);
        j = open_collect(bad, &c);
        char *log = capture_end(&cap);
        if (c.n != 2)
            fail_msg("flip at %zu: replayed %zu records, want 2", off, c.n);
        assert_int_equal(seq_of(c.v[0]), 0);
        assert_int_equal(seq_of(c.v[1]), 1);
        assert_int_equal(cr_journal_size(j), ends[1]);
        assert_int_equal(cr_journal_dropped_bytes(j), full_len - ends[1]);
        assert_int_equal(file_size(bad), (off_t)ends[1]);
        char want[128];
        snprintf(want, sizeof(want), "offset=%zu dropped_bytes=%zu", ends[1], full_len - ends[1]);
        if (!strstr(log, "damaged") || !strstr(log, want))
            fail_msg("flip at %zu: warning '%s' lacks '%s'", off, log, want);
        free(log);
        cr_journal_free(j);
    }
    /* A zero-filled tail (what some filesystems leave after a crash) is a torn tail. */
    char *zeros = cr_xcalloc(1, full_len + 4096);
    memcpy(zeros, full, full_len);
    write_raw(bad, zeros, full_len + 4096);
    struct capture cap;
    capture_start(&cap, f);
    j = open_collect(bad, &c);
    char *log = capture_end(&cap);
    assert_int_equal(c.n, 5);
    assert_int_equal(cr_journal_dropped_bytes(j), 4096);
    assert_non_null(strstr(log, "torn tail"));
    free(log);
    cr_journal_free(j);
    free(zeros);
    free(copy);
    free(full);
    collected_reset(&c);
}

/* Compaction replaces the file with the live records; appends continue after it. */
static void test_compact(void **state)
{
    struct fixture *f = *state;
    struct collected c = {.fail_at = -1};
    struct cr_err err;
    struct cr_journal *j = open_collect(f->path, &c);
    for (int i = 0; i < 20; i++)
        append_seq(j, i, 50);
    assert_int_equal(cr_journal_sync(j, &err), 0);
    uint64_t before = cr_journal_size(j);
    append_seq(j, 20, 50); /* buffered: dropped by the compaction */

    json_t *live[3] = {rec_seq(1000, 1), rec_seq(1001, 2), rec_seq(1002, 3)};
    /* A record the journal rejects fails the compaction and keeps everything as it was. */
    char *big = cr_xmalloc(CR_JOURNAL_RECORD_MAX + 1);
    memset(big, 'x', CR_JOURNAL_RECORD_MAX);
    big[CR_JOURNAL_RECORD_MAX] = '\0';
    json_t *huge = json_string(big);
    free(big);
    json_t *with_huge[2] = {live[0], huge};
    assert_int_equal(cr_journal_compact(j, with_huge, 2, &err), -EMSGSIZE);
    assert_non_null(strstr(err.msg, "compact journal"));
    assert_int_equal(cr_journal_size(j), before);
    assert_true(cr_journal_dirty(j));
    assert_int_equal(count_entries(f->dir), 1);
    json_decref(huge);

    assert_int_equal(cr_journal_compact(j, live, 3, &err), 0);
    assert_false(cr_journal_dirty(j));
    assert_true(cr_journal_size(j) < before);
    assert_int_equal(cr_journal_size(j), (uint64_t)file_size(f->path));
    assert_int_equal(cr_journal_records(j), 3);
    assert_int_equal(count_entries(f->dir), 1); /* no temp file left */
    append_seq(j, 2000, 4);
    append_seq(j, 2001, 5);
    assert_int_equal(cr_journal_sync(j, &err), 0);
    cr_journal_free(j);

    j = open_collect(f->path, &c);
    int want[] = {1000, 1001, 1002, 2000, 2001};
    assert_int_equal(c.n, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(seq_of(c.v[i]), want[i]);
    /* Compacting to nothing leaves an empty journal. */
    assert_int_equal(cr_journal_compact(j, NULL, 0, &err), 0);
    assert_int_equal(file_size(f->path), 0);
    cr_journal_free(j);
    j = open_collect(f->path, &c);
    assert_int_equal(c.n, 0);
    cr_journal_free(j);
    for (int i = 0; i < 3; i++)
        json_decref(live[i]);
    collected_reset(&c);
}

/* Records up to the 4 MiB limit work; a bigger one is rejected without touching the rest. */
static void test_record_limit(void **state)
{
    struct fixture *f = *state;
    struct collected c = {.fail_at = -1};
    struct cr_err err;
    struct cr_journal *j = open_collect(f->path, &c);
    char *s = cr_xmalloc(CR_JOURNAL_RECORD_MAX);
    memset(s, 'y', CR_JOURNAL_RECORD_MAX - 1);
    s[CR_JOURNAL_RECORD_MAX - 2] = '\0'; /* plus two quotes: exactly the limit */
    json_t *max = json_string(s);
    s[CR_JOURNAL_RECORD_MAX - 2] = 'y';
    s[CR_JOURNAL_RECORD_MAX - 1] = '\0'; /* one byte over */
    json_t *over = json_string(s);
    free(s);
    assert_int_equal(cr_journal_append(j, over), -EMSGSIZE);
    assert_false(cr_journal_dirty(j));
    assert_int_equal(cr_journal_append(j, max), 0);
    append_seq(j, 1, 1);
    assert_int_equal(cr_journal_append(j, NULL), -EINVAL);
    assert_int_equal(cr_journal_sync(j, &err), 0);
    cr_journal_free(j);
    j = open_collect(f->path, &c);
    assert_int_equal(c.n, 2);
    assert_true(json_equal(c.v[0], max));
    assert_int_equal(seq_of(c.v[1]), 1);
    cr_journal_free(j);
    json_decref(max);
    json_decref(over);
    collected_reset(&c);
}

/* A replay function's error aborts the open with its code and leaves the file alone. */
static void test_replay_abort_and_lock(void **state)
{
    struct fixture *f = *state;
    struct collected c = {.fail_at = -1};
    struct cr_err err;
    struct cr_journal *j = open_collect(f->path, &c);
    for (int i = 0; i < 5; i++)
        append_seq(j, i, 10);
    assert_int_equal(cr_journal_sync(j, &err), 0);

    /* One owner at a time. */
    struct cr_journal *j2 = (struct cr_journal *)&c; /* must be reset to NULL */
    assert_int_equal(cr_journal_open(f->path, NULL, NULL, &j2, &err), -EBUSY);
    assert_null(j2);
    assert_non_null(strstr(err.msg, "in use"));
    assert_int_equal(cr_journal_open(f->path, NULL, NULL, &j2, NULL), -EBUSY); /* no err */
    cr_journal_free(j);
    off_t size = file_size(f->path);

    collected_reset(&c);
    c.fail_at = 3;
    assert_int_equal(cr_journal_open(f->path, collect, &c, &j2, &err), -EIO);
    assert_null(j2);
    assert_int_equal(c.n, 3);
    assert_non_null(strstr(err.msg, "replay refused record 3"));
    assert_non_null(strstr(err.msg, "open journal"));
    assert_int_equal(file_size(f->path), size);

    /* A temp file left by a crashed compaction is removed by the next open. */
    char stale[320];
    snprintf(stale, sizeof(stale), "%s.tmp.99999", f->path);
    write_raw(stale, "junk", 4);
    j = open_collect(f->path, &c);
    assert_int_equal(c.n, 5);
    assert_int_equal(access(stale, F_OK), -1);
    cr_journal_free(j);
    collected_reset(&c);

    /* A missing directory is an error, not a crash. */
    char nodir[320];
    snprintf(nodir, sizeof(nodir), "%s/missing/journal", f->dir);
    assert_int_equal(cr_journal_open(nodir, NULL, NULL, &j2, &err), -ENOENT);
    assert_null(j2);
}

/* ENOSPC on a full 64 KiB tmpfs: the sync fails, nothing partial stays in the file, the
 * records stay buffered, and once space is freed the retry writes each exactly once. */
static void test_full_filesystem(void **state)
{
    struct fixture *f = *state;
    /* A private mount namespace: the tmpfs vanishes with this process whatever happens. */
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        fprintf(stderr, "cannot make a private mount namespace (%s): skipped\n", strerror(errno));
        skip();
    }
    snprintf(f->mnt, sizeof(f->mnt), "%s/mnt", f->dir);
    assert_int_equal(mkdir(f->mnt, 0755), 0);
    if (mount("tmpfs", f->mnt, "tmpfs", 0, "size=64k") < 0) {
        fprintf(stderr, "mount tmpfs: %s: skipped\n", strerror(errno));
        skip();
    }
    f->is_mounted = true;
    char path[400], filler[400];
    snprintf(path, sizeof(path), "%s/journal", f->mnt);
    snprintf(filler, sizeof(filler), "%s/filler", f->mnt);

    struct collected c = {.fail_at = -1};
    struct cr_err err;
    struct cr_journal *j = open_collect(path, &c);
    for (int i = 0; i < 5; i++)
        append_seq(j, i, 100);
    assert_int_equal(cr_journal_sync(j, &err), 0);
    uint64_t synced = cr_journal_size(j);

    int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    char block[4096];
    memset(block, 'F', sizeof(block));
    for (;;) {
        ssize_t n = write(fd, block, sizeof(block));
        if (n < 0) {
            assert_int_equal(errno, ENOSPC);
            break;
        }
    }
    close(fd);

    for (int i = 5; i < 25; i++)
        append_seq(j, i, 1000); /* ~20 KiB: more than the free tail of the last page */
    assert_int_equal(cr_journal_sync(j, &err), -ENOSPC);
    assert_int_equal(err.code, -ENOSPC);
    assert_non_null(strstr(err.msg, "sync journal"));
    assert_true(cr_journal_dirty(j));
    assert_int_equal(cr_journal_size(j), synced);
    assert_int_equal(file_size(path), (off_t)synced);    /* cut back: no partial batch */
    assert_int_equal(cr_journal_sync(j, &err), -ENOSPC); /* still full */
    assert_int_equal(file_size(path), (off_t)synced);

    assert_int_equal(unlink(filler), 0);
    assert_int_equal(cr_journal_sync(j, &err), 0);
    assert_false(cr_journal_dirty(j));
    assert_int_equal(cr_journal_records(j), 25);
    cr_journal_free(j);

    j = open_collect(path, &c);
    assert_int_equal(c.n, 25);
    for (int i = 0; i < 25; i++)
        assert_int_equal(seq_of(c.v[i]), i);
    assert_int_equal(cr_journal_dropped_bytes(j), 0);
    cr_journal_free(j);
    collected_reset(&c);

    /* A full disk fails a checkpoint write cleanly: old content kept, no temp file. */
    char ckpt[400];
    snprintf(ckpt, sizeof(ckpt), "%s/ckpt", f->mnt);
    assert_int_equal(cr_write_file_atomic(ckpt, "old", 3, &err), 0);
    char *huge = cr_xcalloc(1, 128 * 1024);
    assert_int_equal(cr_write_file_atomic(ckpt, huge, 128 * 1024, &err), -ENOSPC);
    free(huge);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(cr_read_file(ckpt, &data, &len, &err), 0);
    assert_int_equal(len, 3);
    assert_string_equal(data, "old");
    free(data);
    assert_int_equal(count_entries(f->mnt), 2); /* journal, ckpt */

    assert_int_equal(umount2(f->mnt, 0), 0);
    f->is_mounted = false;
}

static void test_checkpoint_basics(void **state)
{
    struct fixture *f = *state;
    char path[320];
    snprintf(path, sizeof(path), "%s/state.json", f->dir);
    struct cr_err err;
    char *data = (char *)"x";
    size_t len = 7;
    assert_int_equal(cr_read_file(path, &data, &len, &err), -ENOENT);
    assert_null(data);
    assert_non_null(strstr(err.msg, "state.json"));
    assert_int_equal(cr_read_file(path, &data, &len, NULL), -ENOENT);

    assert_int_equal(cr_write_file_atomic(path, "{\"a\":1}", 7, &err), 0);
    assert_int_equal(cr_read_file(path, &data, &len, &err), 0);
    assert_int_equal(len, 7);
    assert_string_equal(data, "{\"a\":1}");
    free(data);
    assert_int_equal(cr_write_file_atomic(path, "", 0, &err), 0);
    assert_int_equal(cr_read_file(path, &data, &len, &err), 0);
    assert_int_equal(len, 0);
    assert_string_equal(data, "");
    free(data);
    assert_int_equal(count_entries(f->dir), 1);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);

    char nodir[320];
    snprintf(nodir, sizeof(nodir), "%s/missing/state.json", f->dir);
    assert_int_equal(cr_write_file_atomic(nodir, "x", 1, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "/missing"));
    assert_int_equal(cr_write_file_atomic("", "x", 1, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "empty path"));
}

/* A reader process that reads the checkpoint in a loop while we replace it must only ever
 * see one of the two whole contents. */
static void test_checkpoint_atomic(void **state)
{
    struct fixture *f = *state;
    char path[320];
    snprintf(path, sizeof(path), "%s/ckpt", f->dir);
    size_t len_a = 100 * 1024, len_b = 37 * 1024 + 5;
    char *a = cr_xmalloc(len_a), *b = cr_xmalloc(len_b);
    memset(a, 'a', len_a);
    memset(b, 'b', len_b);
    struct cr_err err;
    assert_int_equal(cr_write_file_atomic(path, a, len_a, &err), 0);

    int stop[2];
    assert_int_equal(pipe(stop), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(stop[1]);
        long reads = 0, bad = 0;
        for (;;) {
            struct pollfd p = {.fd = stop[0], .events = POLLIN};
            if (poll(&p, 1, 0) > 0)
                break;
            char *data = NULL;
            size_t len = 0;
            struct cr_err e;
            if (cr_read_file(path, &data, &len, &e) < 0) {
                bad++;
                continue;
            }
            reads++;
            char ch = len == len_a ? 'a' : len == len_b ? 'b' : 0;
            for (size_t i = 0; ch && i < len; i++)
                if (data[i] != ch)
                    ch = 0;
            if (!ch)
                bad++;
            free(data);
        }
        _exit(bad == 0 && reads > 0 ? 0 : 1);
    }
    close(stop[0]);
    for (int i = 0; i < 200; i++) {
        int rc = i % 2 ? cr_write_file_atomic(path, a, len_a, &err)
                       : cr_write_file_atomic(path, b, len_b, &err);
        if (rc < 0)
            break;
    }
    close(stop[1]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(count_entries(f->dir), 1);
    free(a);
    free(b);
}

/* ---- deferred sync on a loop ---- */

struct deferred {
    struct cr_journal *j;
    uv_loop_t *loop;
    int calls[64];
    int rcs[64];
    int n;
    int chain; /* how many more deferred syncs a done callback should schedule */
    bool free_in_done;
};

struct waiter_ctx {
    struct deferred *d;
    int id;
};

static void on_done(void *ud, int rc)
{
    struct waiter_ctx *w = ud;
    struct deferred *d = w->d;
    assert_true(d->n < 64);
    d->calls[d->n] = w->id;
    d->rcs[d->n] = rc;
    d->n++;
    if (d->free_in_done) {
        d->free_in_done = false;
        cr_journal_free(d->j);
        d->j = NULL;
        return;
    }
    if (d->chain > 0 && rc == 0) {
        d->chain--;
        static struct waiter_ctx next = {0};
        next.d = d;
        next.id = 100 + d->chain;
        append_seq(d->j, next.id, 1);
        assert_int_equal(cr_journal_sync_deferred(d->j, d->loop, on_done, &next), 0);
    }
}

struct turn {
    struct deferred *d;
    struct waiter_ctx w[10];
};

static void on_turn(uv_timer_t *t)
{
    struct turn *tu = t->data;
    struct deferred *d = tu->d;
    for (int i = 0; i < 10; i++) {
        tu->w[i] = (struct waiter_ctx){d, i};
        append_seq(d->j, i, 30);
        assert_int_equal(cr_journal_sync_deferred(d->j, d->loop, on_done, &tu->w[i]), 0);
    }
    assert_int_equal(d->n, 0); /* never called synchronously */
    uv_close((uv_handle_t *)t, NULL);
}

static void test_deferred_group_commit(void **state)
{
    struct fixture *f = *state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct collected c = {.fail_at = -1};
    struct deferred d = {.loop = &loop};
    d.j = open_collect(f->path, &c);
    uint64_t syncs0 = cr_journal_sync_count(d.j);

    /* 10 appends + 10 deferred syncs in one turn: one fdatasync, ten callbacks in order. */
    uv_timer_t timer;
    struct turn tu = {.d = &d};
    uv_timer_init(&loop, &timer);
    timer.data = &tu;
    uv_timer_start(&timer, on_turn, 0, 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(d.n, 10);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(d.calls[i], i);
        assert_int_equal(d.rcs[i], 0);
    }
    assert_int_equal(cr_journal_sync_count(d.j) - syncs0, 1);
    assert_int_equal(cr_journal_records(d.j), 10);
    assert_false(cr_journal_dirty(d.j));
    assert_int_equal(cr_journal_size(d.j), (uint64_t)file_size(f->path));

    /* A done callback that schedules again gets a later, separate sync. */
    d.n = 0;
    d.chain = 2;
    struct waiter_ctx first = {&d, 50};
    append_seq(d.j, 50, 1);
    assert_int_equal(cr_journal_sync_deferred(d.j, &loop, on_done, &first), 0);
    /* Another loop is refused once the journal is tied to this one. */
    uv_loop_t other;
    assert_int_equal(uv_loop_init(&other), 0);
    assert_int_equal(cr_journal_sync_deferred(d.j, &other, NULL, NULL), -EINVAL);
    assert_int_equal(uv_loop_close(&other), 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.calls[0], 50);
    assert_int_equal(d.calls[1], 101);
    assert_int_equal(d.calls[2], 100);
    assert_int_equal(cr_journal_sync_count(d.j) - syncs0, 4);
    assert_int_equal(cr_journal_records(d.j), 13);

    /* A done callback may free the journal; the callbacks after it still run. */
    d.n = 0;
    d.free_in_done = true;
    struct waiter_ctx w3[3] = {{&d, 1}, {&d, 2}, {&d, 3}};
    for (int i = 0; i < 3; i++) {
        append_seq(d.j, 200 + i, 1);
        assert_int_equal(cr_journal_sync_deferred(d.j, &loop, on_done, &w3[i]), 0);
    }
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(d.n, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(d.rcs[i], 0);
    assert_null(d.j);

    /* Freeing with a sync pending cancels it: -ECANCELED from the close callbacks, and
     * the unsynced record is lost like in a crash. */
    d.j = open_collect(f->path, &c);
    assert_int_equal(c.n, 16);
    d.n = 0;
    struct waiter_ctx last = {&d, 7};
    append_seq(d.j, 300, 1);
    assert_int_equal(cr_journal_sync_deferred(d.j, &loop, on_done, &last), 0);
    cr_journal_free(d.j);
    d.j = NULL;
    assert_int_equal(d.n, 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.rcs[0], -ECANCELED);
    assert_int_equal(uv_loop_close(&loop), 0);

    struct cr_journal *j = open_collect(f->path, &c);
    assert_int_equal(c.n, 16);
    cr_journal_free(j);
    collected_reset(&c);
}

static int count_only(void *ud, const json_t *record, struct cr_err *err)
{
    (*(size_t *)ud)++;
    return 0;
}

/* Not an assertion: how fast group commit is here (one fdatasync per 100 records). */
static void test_throughput(void **state)
{
    struct fixture *f = *state;
    struct collected c = {.fail_at = -1};
    struct cr_err err;
    struct cr_journal *j = open_collect(f->path, &c);
    const int n = 20000, per_sync = 100;
    json_t *r = rec_seq(0, 150);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; i++) {
        json_object_set_new(r, "seq", json_integer(i));
        assert_int_equal(cr_journal_append(j, r), 0);
        if ((i + 1) % per_sync == 0)
            assert_int_equal(cr_journal_sync(j, &err), 0);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    uint64_t size = cr_journal_size(j);
    cr_journal_free(j);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t replayed = 0;
    j = NULL;
    assert_int_equal(cr_journal_open(f->path, count_only, &replayed, &j, &err), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double replay_secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_int_equal(replayed, (size_t)n);
    printf("journal: %d records (%" PRIu64 " bytes), one fdatasync per %d: %.0f records/s; "
           "replay %.0f records/s\n",
           n, size, per_sync, n / secs, n / replay_secs);
    cr_journal_free(j);
    json_decref(r);
    collected_reset(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_frame_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_every_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_middle_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_abort_and_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_basics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deferred_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_throughput, setup, teardown),
        /* Last: it moves this process into a private mount namespace. */
        cmocka_unit_test_setup_teardown(test_full_filesystem, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
