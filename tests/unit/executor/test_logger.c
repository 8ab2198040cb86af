/*
 * test_logger.c - the task log capture: 100 MiB through a 1 MiB cap leaves two files of
 * at most 1 MiB holding exactly the newest bytes; splits at the boundary with tiny caps;
 * appending to an existing file; no cap (0) never rotates; closing waits for every
 * writer (EOF) and calls back asynchronously; freeing early; a full disk (a small tmpfs
 * mounted for the test) drops bytes without blocking the writer and says so in the file
 * once writing works again.
 *
 * Each test has its own temp dir (removed at the end); the writer processes it forks are
 * reaped by pid; the tmpfs is unmounted in the teardown.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "base/util.h"
#include "executor/logger.h"

#define MIB (1024 * 1024)

struct fixture {
    uv_loop_t loop;
    char dir[64];
    char path[128];  /* dir/stdout */
    char path1[128]; /* dir/stdout.1 */
    bool is_mounted;
    int done_calls;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    uv_loop_init(&f->loop);
    snprintf(f->dir, sizeof(f->dir), "/tmp/cr-logger-test-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/stdout", f->dir);
    snprintf(f->path1, sizeof(f->path1), "%s/stdout.1", f->dir);
    signal(SIGPIPE, SIG_IGN);
    *state = f;
    return 0;
}

static void close_handle(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    /* A failed test may leave a logger reading: close it (leaking it) rather than hang. */
    uv_walk(&f->loop, close_handle, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&f->loop);
    if (f->is_mounted) {
        char *mnt = cr_xasprintf("%s/fs", f->dir);
        umount2(mnt, MNT_DETACH);
        free(mnt);
    }
    cr_rm_rf(f->dir, NULL);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void on_done(void *ud)
{
    struct fixture *f = ud;
    f->done_calls++;
}

static int64_t file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -1;
    return (int64_t)st.st_size;
}

static char *slurp(const char *path, size_t *len)
{
    char *data = NULL;
    assert_int_equal(cr_read_file(path, &data, len, NULL), 0);
    return data;
}

/* Byte i of the numbered stream "000000000\n000000001\n...". */
static char stream_byte(uint64_t i)
{
    uint64_t line = i / 10, col = i % 10;
    if (col == 9)
        return '\n';
    for (uint64_t k = 8; k > col; k--)
        line /= 10;
    return (char)('0' + line % 10);
}

/* Fork a process writing total bytes of the numbered stream to fd in writes of chunk
 * bytes, then exiting. Returns its pid. */
static pid_t spawn_writer(int fd, uint64_t total, size_t chunk)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid > 0)
        return pid;
    char *buf = malloc(chunk);
    uint64_t pos = 0;
    while (pos < total) {
        size_t n = total - pos < chunk ? (size_t)(total - pos) : chunk;
        for (size_t i = 0; i < n; i++)
            buf[i] = stream_byte(pos + i);
        const char *p = buf;
        size_t left = n;
        while (left > 0) {
            ssize_t w = write(fd, p, left);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                _exit(3);
            p += w;
            left -= (size_t)w;
        }
        pos += n;
    }
    _exit(0);
}

static void reap(pid_t pid, int want_status)
{
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), want_status);
}

/* Write all of data to fd, running the loop between pieces so the pipe never fills. */
static void feed(struct fixture *f, struct cr_logger *l, int fd, const char *data, size_t len)
{
    struct cr_logger_stats st;
    cr_logger_get_stats(l, &st);
    uint64_t want = st.bytes_read + len;
    while (len > 0) {
        size_t n = len < 16384 ? len : 16384;
        assert_int_equal(write(fd, data, n), (ssize_t)n);
        data += n;
        len -= n;
        for (int spins = 0; spins < 100000; spins++) {
            uv_run(&f->loop, UV_RUN_NOWAIT);
            cr_logger_get_stats(l, &st);
            if (st.bytes_read + len >= want)
                break;
        }
    }
    cr_logger_get_stats(l, &st);
    assert_int_equal(st.bytes_read, want);
}

static void test_100mib_through_1mib_cap(void **state)
{
    struct fixture *f = *state;
    struct cr_err err = {0};
    struct cr_logger *l = NULL;
    int wfd = -1;
    assert_int_equal(cr_logger_new(&f->loop, f->path, MIB, &l, &wfd, &err), 0);
    assert_true(fcntl(wfd, F_GETFD) & FD_CLOEXEC);
    const uint64_t total = 100ull * MIB;
    pid_t pid = spawn_writer(wfd, total, 100000); /* chunks straddle the cap */
    close(wfd);
    struct cr_logger_stats st;
    uint64_t seen = 0;
    while (uv_run(&f->loop, UV_RUN_ONCE)) { /* until the writer's EOF */
        cr_logger_get_stats(l, &st);
        if (st.bytes_read == total)
            break;
        assert_true(st.bytes_read > seen || st.bytes_read == 0);
        seen = st.bytes_read;
    }
    cr_logger_get_stats(l, &st);
    assert_int_equal(st.bytes_read, total);
    assert_int_equal(st.bytes_written, total);
    assert_int_equal(st.bytes_dropped, 0);
    assert_int_equal(st.rotations, 99);
    cr_logger_close(l, on_done, f);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->done_calls, 1);
    reap(pid, 0);

    int64_t s0 = file_size(f->path), s1 = file_size(f->path1);
    assert_true(s0 > 0 && s0 <= MIB);
    assert_int_equal(s1, MIB); /* a rotated file is always exactly full */
    /* stdout.1 then stdout are exactly the last s1 + s0 bytes of the stream. */
    size_t len0 = 0, len1 = 0;
    char *d0 = slurp(f->path, &len0), *d1 = slurp(f->path1, &len1);
    uint64_t start = total - (uint64_t)(s0 + s1);
    for (size_t i = 0; i < len1; i++)
        if (d1[i] != stream_byte(start + i))
            fail_msg("stdout.1 byte %zu is '%c', want '%c'", i, d1[i], stream_byte(start + i));
    for (size_t i = 0; i < len0; i++)
        if (d0[i] != stream_byte(start + len1 + i))
            fail_msg("stdout byte %zu differs", i);
    /* the very last line of the stream is the end of stdout */
    char last[16];
    snprintf(last, sizeof(last), "%09llu\n", (unsigned long long)(total / 10 - 1));
    assert_memory_equal(d0 + len0 - 10, last, 10);
    free(d0);
    free(d1);
}

/* 100 MiB is not a whole number of lines: check the tail with a line-exact stream. */
static void test_tail_is_last_line(void **state)
{
    struct fixture *f = *state;
    struct cr_logger *l = NULL;
    int wfd = -1;
    assert_int_equal(cr_logger_new(&f->loop, f->path, 64 * 1024, &l, &wfd, NULL), 0);
    const uint64_t total = 10ull * 123457; /* 123457 whole lines */
    pid_t pid = spawn_writer(wfd, total, 4096);
    close(wfd);
    cr_logger_close(l, on_done, f);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    reap(pid, 0);
    assert_int_equal(f->done_calls, 1);
    size_t len0 = 0;
    char *d0 = slurp(f->path, &len0);
    assert_true(len0 >= 10 && len0 <= 64 * 1024);
    assert_memory_equal(d0 + len0 - 10, "000123456\n", 10);
    free(d0);
    assert_int_equal(file_size(f->path1), 64 * 1024);
}

static void test_small_cap_splits_at_boundary(void **state)
{
    struct fixture *f = *state;
    /* An older run left 80 bytes: they count towards the cap. */
    char old[80];
    memset(old, 'o', sizeof(old));
    assert_int_equal(cr_write_file_atomic(f->path, old, sizeof(old), NULL), 0);
    struct cr_logger *l = NULL;
    int wfd = -1;
    assert_int_equal(cr_logger_new(&f->loop, f->path, 100, &l, &wfd, NULL), 0);
    char data[1050];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (char)('a' + i % 26);
    feed(f, l, wfd, data, sizeof(data)); /* one chunk spanning 11 rotations */
    struct cr_logger_stats st;
    cr_logger_get_stats(l, &st);
    assert_int_equal(st.bytes_read, 1050);
    assert_int_equal(st.bytes_written, 1050);
    assert_int_equal(st.bytes_dropped, 0);
    /* 80 + 1050 = 1130 bytes: files of 100 rotate 11 times, 30 bytes remain. */
    assert_int_equal(st.rotations, 11);
    assert_int_equal(file_size(f->path), 30);
    assert_int_equal(file_size(f->path1), 100);
    size_t n0, n1;
    char *d0 = slurp(f->path, &n0), *d1 = slurp(f->path1, &n1);
    assert_memory_equal(d0, data + 1020, 30);
    assert_memory_equal(d1, data + 920, 100);
    free(d0);
    free(d1);

    /* Byte by byte: exactly full files, never more. */
    for (int i = 0; i < 75; i++)
        feed(f, l, wfd, "x", 1);
    assert_int_equal(file_size(f->path), 5);
    assert_int_equal(file_size(f->path1), 100);
    close(wfd);
    cr_logger_close(l, on_done, f);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->done_calls, 1);
}

static void test_zero_cap_is_unlimited(void **state)
{
    struct fixture *f = *state;
    struct cr_logger *l = NULL;
    int wfd = -1;
    assert_int_equal(cr_logger_new(&f->loop, f->path, 0, &l, &wfd, NULL), 0);
    pid_t pid = spawn_writer(wfd, 3 * MIB, 65536);
    close(wfd);
    cr_logger_close(l, on_done, f);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    reap(pid, 0);
    assert_int_equal(f->done_calls, 1);
    assert_int_equal(file_size(f->path), 3 * MIB);
    assert_int_equal(file_size(f->path1), -1);
}

static void test_close_waits_for_every_writer(void **state)
{
    struct fixture *f = *state;
    struct cr_logger *l = NULL;
    int wfd = -1;
    assert_int_equal(cr_logger_new(&f->loop, f->path, 0, &l, &wfd, NULL), 0);
    int wfd2 = dup(wfd); /* a second writer, as a task's child would hold */
    feed(f, l, wfd, "hello\n", 6);
    close(wfd);
    cr_logger_close(l, on_done, f);
    for (int i = 0; i < 50; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(f->done_calls, 0); /* wfd2 is still open */
    assert_int_equal(write(wfd2, "world\n", 6), 6);
    close(wfd2);
    assert_int_equal(f->done_calls, 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->done_calls, 1);
    size_t n;
    char *d = slurp(f->path, &n);
    assert_string_equal(d, "hello\nworld\n");
    free(d);
}

static void test_close_after_eof_is_asynchronous(void **state)
{
    struct fixture *f = *state;
    struct cr_logger *l = NULL;
    int wfd = -1;
    assert_int_equal(cr_logger_new(&f->loop, f->path, 0, &l, &wfd, NULL), 0);
    assert_int_equal(write(wfd, "bye", 3), 3);
    close(wfd);
    for (int i = 0; i < 50; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT); /* reads "bye" and the EOF */
    cr_logger_close(l, on_done, f);
    assert_int_equal(f->done_calls, 0); /* never from inside cr_logger_close */
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->done_calls, 1);
    size_t n;
    char *d = slurp(f->path, &n);
    assert_string_equal(d, "bye");
    free(d);
}

static void test_free_does_not_wait(void **state)
{
    struct fixture *f = *state;
    struct cr_logger *l = NULL;
    int wfd = -1;
    assert_int_equal(cr_logger_new(&f->loop, f->path, 0, &l, &wfd, NULL), 0);
    feed(f, l, wfd, "kept\n", 5);
    cr_logger_close(l, on_done, f);
    cr_logger_free(l); /* cancels the close: done is not called */
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->done_calls, 0);
    /* The read end is gone: a writer learns it instead of blocking. */
    assert_int_equal(write(wfd, "x", 1), -1);
    assert_int_equal(errno, EPIPE);
    close(wfd);
    cr_logger_free(NULL);
    size_t n;
    char *d = slurp(f->path, &n);
    assert_string_equal(d, "kept\n");
    free(d);
}

static void test_errors(void **state)
{
    struct fixture *f = *state;
    struct cr_err err = {0};
    struct cr_logger *l = (struct cr_logger *)1;
    int wfd = 7;
    assert_int_equal(cr_logger_new(&f->loop, f->path, -1, &l, &wfd, &err), -EINVAL);
    assert_null(l);
    assert_int_equal(wfd, -1);
    assert_non_null(strstr(err.msg, "negative"));
    char *bad = cr_xasprintf("%s/no/such/dir/stdout", f->dir);
    assert_int_equal(cr_logger_new(&f->loop, bad, 0, &l, &wfd, &err), -ENOENT);
    assert_non_null(strstr(err.msg, bad));
    assert_null(l);
    free(bad);
}

/* Fill the file system holding path until it reports no space. */
static void fill_fs(const char *ballast)
{
    int fd = open(ballast, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    char block[4096];
    memset(block, 'b', sizeof(block));
    while (write(fd, block, sizeof(block)) > 0)
        ;
    assert_int_equal(errno, ENOSPC);
    close(fd);
}

static void test_disk_full_drops_and_says_so(void **state)
{
    struct fixture *f = *state;
    char *mnt = cr_xasprintf("%s/fs", f->dir);
    assert_int_equal(mkdir(mnt, 0755), 0);
    if (mount("cr-logger-test", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=256k") < 0)
        fail_msg("mount a tmpfs on %s: %s (the tests run as root)", mnt, strerror(errno));
    f->is_mounted = true;
    char *path = cr_xasprintf("%s/stdout", mnt);
    char *ballast = cr_xasprintf("%s/ballast", mnt);
    struct cr_logger *l = NULL;
    int wfd = -1;
    assert_int_equal(cr_logger_new(&f->loop, path, 0, &l, &wfd, NULL), 0);
    feed(f, l, wfd, "before\n", 7);
    fill_fs(ballast);

    /* Far more than the pipe holds: the writer never blocks, the bytes are counted. */
    size_t big = 300 * 1024;
    char *junk = malloc(big);
    memset(junk, 'j', big);
    feed(f, l, wfd, junk, big);
    free(junk);
    /* The file's last page may still have taken a few bytes. */
    struct cr_logger_stats st;
    cr_logger_get_stats(l, &st);
    assert_int_equal(st.bytes_dropped + st.bytes_written, 7 + big);
    assert_true(st.bytes_dropped > big - 4096);
    size_t squeezed = (size_t)st.bytes_written - 7;

    /* Space again: one note, then the output goes on. */
    assert_int_equal(unlink(ballast), 0);
    feed(f, l, wfd, "after\n", 6);
    feed(f, l, wfd, "more\n", 5);
    close(wfd);
    cr_logger_close(l, on_done, f);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->done_calls, 1);
    size_t n;
    char *d = slurp(path, &n);
    char *want = cr_xasprintf("[corral: %zu bytes of output dropped: %s]\nafter\nmore\n",
                              big - squeezed, strerror(ENOSPC));
    assert_int_equal(n, 7 + squeezed + 1 + strlen(want));
    assert_memory_equal(d, "before\n", 7);
    for (size_t i = 0; i < squeezed; i++)
        assert_int_equal(d[7 + i], 'j');
    assert_int_equal(d[7 + squeezed], '\n'); /* the note starts its own line */
    assert_string_equal(d + 7 + squeezed + 1, want);
    free(want);
    free(d);

    /* A writer process into a full disk still runs to its end. */
    f->done_calls = 0;
    assert_int_equal(cr_logger_new(&f->loop, path, 64 * 1024, &l, &wfd, NULL), 0);
    fill_fs(ballast);
    pid_t pid = spawn_writer(wfd, 4 * MIB, 65536);
    close(wfd);
    cr_logger_close(l, on_done, f);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    reap(pid, 0);
    assert_int_equal(f->done_calls, 1);
    assert_true(file_size(path) <= 64 * 1024);
    free(path);
    free(ballast);
    assert_int_equal(umount2(mnt, 0), 0);
    f->is_mounted = false;
    free(mnt);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_100mib_through_1mib_cap),      T(test_tail_is_last_line),
        T(test_small_cap_splits_at_boundary), T(test_zero_cap_is_unlimited),
        T(test_close_waits_for_every_writer), T(test_close_after_eof_is_asynchronous),
        T(test_free_does_not_wait),           T(test_errors),
        T(test_disk_full_drops_and_says_so),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
