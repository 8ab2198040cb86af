/*
 * test_gc.c - sandbox garbage collection: removal when due (and not before), in due
 * order; confinement to the work dir (lexical, and a symlinked parent at removal time);
 * symlinks inside a sandbox are removed, not followed; unschedule and reschedule;
 * scheduling by mtime for recovery; the disk check shortening delays as Mesos does
 * (injected usage, the periodic timer, and real statvfs on a small tmpfs mounted for
 * the test); freeing with paths waiting and with a removal in flight.
 *
 * Each test uses its own temp dir (removed at the end); the tmpfs is unmounted in the
 * teardown.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "agent/gc.h"
#include "base/util.h"

#define WEEK_MS (7LL * 24 * 3600 * 1000)

struct fixture {
    uv_loop_t loop;
    char dir[PATH_MAX];       /* realpath of the temp dir */
    char work[PATH_MAX + 16]; /* dir/work: the work dir */
    char out[PATH_MAX + 16];  /* dir/outside: must survive everything */
    bool is_mounted;
    struct cr_gc *gc;
    char removed[16][PATH_MAX]; /* paths reported removed, in order */
    int rcs[16];
    int nremoved;
    double usage; /* for fake_usage */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    uv_loop_init(&f->loop);
    char tmpl[] = "/tmp/cr-gc-test-XXXXXX";
    if (!mkdtemp(tmpl) || !realpath(tmpl, f->dir))
        return -1;
    snprintf(f->work, sizeof(f->work), "%s/work", f->dir);
    snprintf(f->out, sizeof(f->out), "%s/outside", f->dir);
    if (mkdir(f->work, 0755) < 0 || mkdir(f->out, 0755) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    cr_gc_free(f->gc);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&f->loop);
    if (f->is_mounted)
        umount2(f->work, MNT_DETACH);
    cr_rm_rf(f->dir, NULL);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void on_removed(const char *path, int rc, const char *error, void *ud)
{
    struct fixture *f = ud;
    assert_true(f->nremoved < 16);
    snprintf(f->removed[f->nremoved], PATH_MAX, "%s", path);
    f->rcs[f->nremoved] = rc;
    f->nremoved++;
    assert_true(rc == 0 ? error[0] == '\0' : error[0] != '\0');
}

static void new_gc(struct fixture *f, int64_t delay_ms, double headroom)
{
    struct cr_err err = {0};
    assert_int_equal(cr_gc_new(&f->loop, delay_ms, headroom, f->work, &f->gc, &err), 0);
    cr_gc_set_on_removed(f->gc, on_removed, f);
}

static void put_file(const char *path, size_t size)
{
    char *data = calloc(1, size + 1);
    memset(data, 'x', size);
    assert_int_equal(cr_write_file_atomic(path, data, size, NULL), 0);
    free(data);
}

/* A sandbox-like tree under work: run/stdout, run/sub/deep/file, a symlink out. */
static char *make_sandbox(struct fixture *f, const char *name)
{
    char *run = cr_xasprintf("%s/%s", f->work, name);
    char *deep = cr_xasprintf("%s/sub/deep", run);
    assert_int_equal(cr_mkdir_p(deep, 0755, NULL), 0);
    char *p = cr_xasprintf("%s/stdout", run);
    put_file(p, 100);
    free(p);
    p = cr_xasprintf("%s/file", deep);
    put_file(p, 10);
    free(p);
    p = cr_xasprintf("%s/escape", run);
    assert_int_equal(symlink(f->out, p), 0); /* a task's symlink to outside */
    free(p);
    free(deep);
    return run;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Run the loop for about ms milliseconds. */
static void run_for(struct fixture *f, int64_t ms)
{
    int64_t end = cr_now_ms() + ms;
    while (cr_now_ms() < end) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(2000);
    }
}

/* Run the loop until n removals were reported (or 10 s). */
static void run_until_removed(struct fixture *f, int n)
{
    int64_t end = cr_now_ms() + 10000;
    while (f->nremoved < n && cr_now_ms() < end) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    assert_int_equal(f->nremoved, n);
}

static void test_removes_when_due_not_before(void **state)
{
    struct fixture *f = *state;
    new_gc(f, WEEK_MS, 0.1);
    char *keep = cr_xasprintf("%s/kept", f->out);
    put_file(keep, 5);
    char *run = make_sandbox(f, "run1");
    int64_t scheduled_at = cr_now_ms();
    assert_int_equal(cr_gc_schedule(f->gc, run, 400, NULL), 0);
    assert_true(cr_gc_is_scheduled(f->gc, run));
    assert_int_equal(cr_gc_count(f->gc), 1);
    run_for(f, 100);
    assert_true(exists(run));
    assert_int_equal(f->nremoved, 0);
    run_until_removed(f, 1);
    assert_true(cr_now_ms() - scheduled_at >= 390); /* not before it was due */
    assert_false(exists(run));
    assert_string_equal(f->removed[0], run);
    assert_int_equal(f->rcs[0], 0);
    assert_true(exists(keep)); /* the symlink was removed, not followed */
    assert_true(exists(f->out));
    assert_int_equal(cr_gc_count(f->gc), 0);
    assert_false(cr_gc_is_scheduled(f->gc, run));
    free(run);
    free(keep);
}

static void test_due_order_and_reschedule(void **state)
{
    struct fixture *f = *state;
    new_gc(f, WEEK_MS, 0.1);
    char *a = make_sandbox(f, "a"), *b = make_sandbox(f, "b"), *c = make_sandbox(f, "c");
    assert_int_equal(cr_gc_schedule(f->gc, a, 90, NULL), 0);
    assert_int_equal(cr_gc_schedule(f->gc, b, 30, NULL), 0);
    assert_int_equal(cr_gc_schedule(f->gc, c, 60000, NULL), 0);
    assert_int_equal(cr_gc_schedule(f->gc, c, 60, NULL), 0); /* rescheduled sooner */
    assert_int_equal(cr_gc_count(f->gc), 3);
    run_until_removed(f, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(f->rcs[i], 0);
    assert_false(exists(a) || exists(b) || exists(c));
    assert_string_equal(f->removed[0], b);
    assert_string_equal(f->removed[1], c);
    assert_string_equal(f->removed[2], a);
    /* A path given with "//" and "." is the same path. */
    char *d = make_sandbox(f, "d");
    char *odd = cr_xasprintf("%s//./d", f->work);
    assert_int_equal(cr_gc_schedule(f->gc, odd, 60000, NULL), 0);
    assert_true(cr_gc_is_scheduled(f->gc, d));
    assert_int_equal(cr_gc_schedule(f->gc, d, 0, NULL), 0);
    assert_int_equal(cr_gc_count(f->gc), 1);
    run_until_removed(f, 4);
    assert_false(exists(d));
    free(odd);
    free(a);
    free(b);
    free(c);
    free(d);
}

static void test_unschedule(void **state)
{
    struct fixture *f = *state;
    new_gc(f, WEEK_MS, 0.1);
    char *run = make_sandbox(f, "run");
    assert_int_equal(cr_gc_schedule(f->gc, run, 50, NULL), 0);
    assert_true(cr_gc_unschedule(f->gc, run));
    assert_false(cr_gc_unschedule(f->gc, run));
    assert_false(cr_gc_unschedule(f->gc, "/nowhere"));
    run_for(f, 150);
    assert_true(exists(run));
    assert_int_equal(f->nremoved, 0);
    assert_int_equal(cr_gc_count(f->gc), 0);
    free(run);
}

static void test_confinement(void **state)
{
    struct fixture *f = *state;
    new_gc(f, WEEK_MS, 0.1);
    struct cr_err err = {0};
    assert_int_equal(cr_gc_schedule(f->gc, "relative/path", 0, &err), -EINVAL);
    assert_int_equal(cr_gc_schedule(f->gc, f->out, 0, &err), -EPERM);
    assert_non_null(strstr(err.msg, "not under the work dir"));
    assert_int_equal(cr_gc_schedule(f->gc, f->work, 0, &err), -EPERM); /* itself */
    char *p = cr_xasprintf("%s/", f->work);
    assert_int_equal(cr_gc_schedule(f->gc, p, 0, &err), -EPERM);
    free(p);
    p = cr_xasprintf("%s/x/../../outside", f->work);
    assert_int_equal(cr_gc_schedule(f->gc, p, 0, &err), -EPERM);
    free(p);
    p = cr_xasprintf("%s-evil/x", f->work); /* shares the prefix */
    assert_int_equal(cr_gc_schedule(f->gc, p, 0, &err), -EPERM);
    free(p);
    assert_int_equal(cr_gc_schedule(f->gc, "/", 0, &err), -EPERM);
    p = cr_xasprintf("%s/x", f->work);
    assert_int_equal(cr_gc_schedule(f->gc, p, -2, &err), -EINVAL);
    free(p);
    assert_int_equal(cr_gc_count(f->gc), 0);

    /* A symlinked parent under the work dir pointing outside: refused at removal. */
    char *victim = cr_xasprintf("%s/victim", f->out);
    char *inner = cr_xasprintf("%s/inner", victim);
    assert_int_equal(cr_mkdir_p(inner, 0755, NULL), 0);
    char *link = cr_xasprintf("%s/link", f->work);
    assert_int_equal(symlink(f->out, link), 0);
    char *via = cr_xasprintf("%s/victim", link);
    assert_int_equal(cr_gc_schedule(f->gc, via, 0, &err), 0); /* lexically inside */
    run_until_removed(f, 1);
    assert_int_equal(f->rcs[0], -EPERM);
    assert_true(exists(inner));
    /* A missing path is simply done. */
    p = cr_xasprintf("%s/gone/already", f->work);
    assert_int_equal(cr_gc_schedule(f->gc, p, 0, &err), 0);
    run_until_removed(f, 2);
    assert_int_equal(f->rcs[1], 0);
    free(p);
    free(via);
    free(link);
    free(inner);
    free(victim);
}

static int fake_usage(const char *dir, double *usage, void *ud)
{
    struct fixture *f = ud;
    if (f->usage < 0)
        return -EIO;
    *usage = f->usage;
    return 0;
}

static void test_disk_check_shortens_delays(void **state)
{
    struct fixture *f = *state;
    new_gc(f, WEEK_MS, 0.1);
    cr_gc_set_usage_fn(f->gc, fake_usage, f);
    char *fresh = make_sandbox(f, "fresh"), *half = make_sandbox(f, "half");
    char *old = make_sandbox(f, "old");
    /* As if scheduled now, half a week ago and 0.8 weeks ago. */
    assert_int_equal(cr_gc_schedule(f->gc, fresh, CR_GC_DEFAULT_DELAY, NULL), 0);
    assert_int_equal(cr_gc_schedule(f->gc, half, WEEK_MS / 2, NULL), 0);
    assert_int_equal(cr_gc_schedule(f->gc, old, WEEK_MS / 5, NULL), 0);

    f->usage = 0.05; /* max age 0.85 weeks: nothing is that old */
    int64_t age = cr_gc_check_disk(f->gc);
    assert_true(age >= WEEK_MS * 85 / 100 - 1 && age <= WEEK_MS * 85 / 100);
    run_for(f, 30);
    assert_int_equal(f->nremoved, 0);

    f->usage = 0.3; /* max age 0.6 weeks: "old" (0.8) goes */
    age = cr_gc_check_disk(f->gc);
    assert_true(age >= WEEK_MS * 6 / 10 - 1 && age <= WEEK_MS * 6 / 10);
    run_until_removed(f, 1);
    assert_string_equal(f->removed[0], old);
    assert_int_equal(f->rcs[0], 0);
    assert_false(exists(old));
    run_for(f, 30);
    assert_int_equal(f->nremoved, 1);

    f->usage = 0.6; /* max age 0.3 weeks: "half" (0.5) goes */
    age = cr_gc_check_disk(f->gc);
    assert_true(age >= WEEK_MS * 3 / 10 - 1 && age <= WEEK_MS * 3 / 10);
    run_until_removed(f, 2);
    assert_string_equal(f->removed[1], half);
    assert_true(exists(fresh));
    run_for(f, 30);
    assert_int_equal(f->nremoved, 2);

    f->usage = -1; /* unreadable: nothing changes */
    assert_int_equal(cr_gc_check_disk(f->gc), -EIO);

    f->usage = 0.95; /* past the headroom: max age 0, everything goes now */
    assert_int_equal(cr_gc_check_disk(f->gc), 0);
    run_until_removed(f, 3);
    assert_false(exists(fresh));

    /* Later schedules are not caught by an earlier check once the disk has room. */
    f->usage = 0;
    assert_int_equal(cr_gc_check_disk(f->gc), WEEK_MS * 9 / 10);
    char *later = make_sandbox(f, "later");
    assert_int_equal(cr_gc_schedule(f->gc, later, CR_GC_DEFAULT_DELAY, NULL), 0);
    run_for(f, 30);
    assert_true(exists(later));
    free(fresh);
    free(half);
    free(old);
    free(later);
}

static void test_periodic_check(void **state)
{
    struct fixture *f = *state;
    new_gc(f, WEEK_MS, 0.1);
    cr_gc_set_usage_fn(f->gc, fake_usage, f);
    f->usage = 0.5;
    cr_gc_set_check_interval(f->gc, 20);
    char *run = make_sandbox(f, "run");
    assert_int_equal(cr_gc_schedule(f->gc, run, CR_GC_DEFAULT_DELAY, NULL), 0);
    run_for(f, 80);
    assert_true(exists(run));
    f->usage = 0.99;
    run_until_removed(f, 1); /* no explicit check: the timer did it */
    assert_false(exists(run));
    free(run);
}

static void test_statvfs_on_small_tmpfs(void **state)
{
    struct fixture *f = *state;
    if (mount("cr-gc-test", f->work, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m") < 0)
        fail_msg("mount a tmpfs on %s: %s (the tests run as root)", f->work, strerror(errno));
    f->is_mounted = true;
    new_gc(f, WEEK_MS, 0.1);
    char *run = make_sandbox(f, "run");
    assert_int_equal(cr_gc_schedule(f->gc, run, CR_GC_DEFAULT_DELAY, NULL), 0);
    /* Nearly empty: a sandbox may live almost 0.9 weeks. */
    int64_t age = cr_gc_check_disk(f->gc);
    assert_true(age > WEEK_MS * 85 / 100 && age < WEEK_MS * 9 / 10);
    run_for(f, 30);
    assert_true(exists(run));
    /* The task's output fills 95% of the disk: max age 0, it goes now. */
    char *big = cr_xasprintf("%s/big", run);
    put_file(big, 970 * 1024);
    assert_int_equal(cr_gc_check_disk(f->gc), 0);
    run_until_removed(f, 1);
    assert_int_equal(f->rcs[0], 0);
    assert_false(exists(run));
    age = cr_gc_check_disk(f->gc);
    assert_true(age > WEEK_MS * 85 / 100);
    free(big);
    free(run);
    cr_gc_free(f->gc);
    f->gc = NULL;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(umount2(f->work, 0), 0);
    f->is_mounted = false;
}

static void test_schedule_by_mtime(void **state)
{
    struct fixture *f = *state;
    new_gc(f, WEEK_MS, 0.1);
    char *stale = make_sandbox(f, "stale"), *recent = make_sandbox(f, "recent");
    char *sixdays = make_sandbox(f, "sixdays");
    struct timespec ts[2];
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[0].tv_sec -= 8 * 24 * 3600; /* older than the delay: due now */
    ts[1] = ts[0];
    assert_int_equal(utimensat(AT_FDCWD, stale, ts, AT_SYMLINK_NOFOLLOW), 0);
    ts[0].tv_sec += 2 * 24 * 3600; /* six days: due in a day */
    ts[1] = ts[0];
    assert_int_equal(utimensat(AT_FDCWD, sixdays, ts, AT_SYMLINK_NOFOLLOW), 0);
    assert_int_equal(cr_gc_schedule_by_mtime(f->gc, stale, NULL), 0);
    assert_int_equal(cr_gc_schedule_by_mtime(f->gc, recent, NULL), 0);
    assert_int_equal(cr_gc_schedule_by_mtime(f->gc, sixdays, NULL), 0);
    struct cr_err err = {0};
    char *missing = cr_xasprintf("%s/missing", f->work);
    assert_int_equal(cr_gc_schedule_by_mtime(f->gc, missing, &err), -ENOENT);
    free(missing);
    run_until_removed(f, 1);
    assert_string_equal(f->removed[0], stale);
    assert_int_equal(f->rcs[0], 0);
    assert_false(exists(stale));
    run_for(f, 30);
    assert_true(exists(recent) && exists(sixdays));
    /* With the disk at 80% (max age 0.1 weeks = 16.8 h) the six-day one goes too. */
    f->usage = 0.8;
    cr_gc_set_usage_fn(f->gc, fake_usage, f);
    cr_gc_check_disk(f->gc);
    run_until_removed(f, 2);
    assert_string_equal(f->removed[1], sixdays);
    assert_false(exists(sixdays));
    run_for(f, 30);
    assert_true(exists(recent));
    free(stale);
    free(recent);
    free(sixdays);
}

static void test_free_with_work_pending(void **state)
{
    struct fixture *f = *state;
    new_gc(f, WEEK_MS, 0.1);
    /* A big tree, so that its removal is likely still running when freed. */
    char *big = cr_xasprintf("%s/big", f->work);
    for (int d = 0; d < 20; d++) {
        char *sub = cr_xasprintf("%s/d%d", big, d);
        assert_int_equal(cr_mkdir_p(sub, 0755, NULL), 0);
        for (int i = 0; i < 100; i++) {
            char *p = cr_xasprintf("%s/f%d", sub, i);
            put_file(p, 1);
            free(p);
        }
        free(sub);
    }
    char *waiting = make_sandbox(f, "waiting");
    assert_int_equal(cr_gc_schedule(f->gc, big, 0, NULL), 0);
    assert_int_equal(cr_gc_schedule(f->gc, waiting, 100000, NULL), 0);
    assert_int_equal(cr_gc_count(f->gc), 2); /* big is in flight or about to be */
    cr_gc_free(f->gc);
    f->gc = NULL;
    uv_run(&f->loop, UV_RUN_DEFAULT); /* returns once the removal has come back */
    assert_int_equal(f->nremoved, 0); /* no callback after free */
    assert_true(exists(waiting));     /* waiting paths stay on disk */
    free(big);
    free(waiting);
}

static void test_bad_arguments(void **state)
{
    struct fixture *f = *state;
    struct cr_err err = {0};
    struct cr_gc *gc = NULL;
    assert_int_equal(cr_gc_new(&f->loop, -1, 0.1, f->work, &gc, &err), -EINVAL);
    assert_int_equal(cr_gc_new(&f->loop, 1000, 1.5, f->work, &gc, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "headroom"));
    char *missing = cr_xasprintf("%s/missing", f->dir);
    assert_int_equal(cr_gc_new(&f->loop, 1000, 0.1, missing, &gc, &err), -ENOENT);
    assert_null(gc);
    free(missing);
    cr_gc_free(NULL);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_removes_when_due_not_before),
        T(test_due_order_and_reschedule),
        T(test_unschedule),
        T(test_confinement),
        T(test_disk_check_shortens_delays),
        T(test_periodic_check),
        T(test_statvfs_on_small_tmpfs),
        T(test_schedule_by_mtime),
        T(test_free_with_work_pending),
        T(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
