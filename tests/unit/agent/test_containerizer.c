/*
 * test_containerizer.c - the containerizer and the posix isolator with real processes:
 * stdout/stderr files, exit statuses, argv form and PATH search, environment and
 * working dir, exec failures, kill with a grace period (TERM ignored -> KILL), the whole
 * process group dies with the task, running as another user, usage from /proc, stdout
 * and stderr to descriptors, duplicate ids, and freeing the containerizer leaves
 * processes running.
 *
 * Every test uses its own temp dir (removed at the end) and kills/reaps by pid whatever
 * it left running on purpose.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "base/util.h"
#include "isolate/containerizer.h"
#include "isolate/posix.h"

struct fixture {
    uv_loop_t loop;
    struct cr_containerizer *cz;
    char dir[64];
    char out[128], err[128];
    bool started;
    bool exited;
    int started_before_exit;
    struct cr_container_exit ex;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    uv_loop_init(&f->loop);
    snprintf(f->dir, sizeof(f->dir), "/tmp/cr-cz-test-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->out, sizeof(f->out), "%s/stdout", f->dir);
    snprintf(f->err, sizeof(f->err), "%s/stderr", f->dir);
    struct cr_err err;
    cr_err_clear(&err);
    if (cr_containerizer_new(&f->loop, "posix", NULL, &f->cz, &err) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    cr_containerizer_free(f->cz);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    cr_rm_rf(f->dir, NULL);
    free(f);
    return 0;
}

static void on_started(struct cr_container *c, void *ud)
{
    struct fixture *f = ud;
    (void)c;
    assert_false(f->started);
    assert_false(f->exited);
    f->started = true;
}

static void on_exited(struct cr_container *c, const struct cr_container_exit *ex, void *ud)
{
    struct fixture *f = ud;
    (void)c;
    assert_false(f->exited);
    f->exited = true;
    f->ex = *ex;
}

static void on_deadline(uv_timer_t *t)
{
    bool *expired = t->data;
    *expired = true;
}

/* Run the loop until *flag or ms elapse. Returns whether flag got set. */
static bool run_until(struct fixture *f, const bool *flag, uint64_t ms)
{
    uv_timer_t t;
    bool expired = false;
    uv_timer_init(&f->loop, &t);
    t.data = &expired;
    uv_timer_start(&t, on_deadline, ms, 0);
    while (!*flag && !expired)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    return *flag;
}

static int launch(struct fixture *f, const char *program, const char *const *argv,
                  const char *const *envp, const char *user, struct cr_container **out,
                  struct cr_err *err)
{
    struct cr_launch_spec spec = {
        .container_id = "c1",
        .sandbox = f->dir,
        .program = program,
        .argv = argv,
        .envp = envp,
        .stdout_path = f->out,
        .stderr_path = f->err,
        .user = user,
        .on_started = on_started,
        .on_exited = on_exited,
        .ud = f,
    };
    return cr_containerizer_launch(f->cz, &spec, out, err);
}

static int launch_sh(struct fixture *f, const char *script, struct cr_container **out)
{
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    const char *envp[] = {"PATH=/usr/bin:/bin", NULL};
    struct cr_err err;
    cr_err_clear(&err);
    int rc = launch(f, NULL, argv, envp, NULL, out, &err);
    if (rc < 0)
        fail_msg("launch failed: %s", err.msg);
    return rc;
}

static char *slurp(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    if (cr_read_file(path, &text, &len, NULL) < 0)
        return cr_xstrdup("");
    return text;
}

/* Whether pid is gone (or a zombie waiting for a reaper other than us). */
static bool pid_dead(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    char *text = NULL;
    size_t len = 0;
    if (cr_read_file(path, &text, &len, NULL) < 0)
        return true;
    const char *close = strrchr(text, ')');
    bool zombie = close && close[1] == ' ' && (close[2] == 'Z' || close[2] == 'X');
    free(text);
    return zombie;
}

static bool wait_dead(pid_t pid, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        if (pid_dead(pid))
            return true;
        usleep(10000);
    }
    return pid_dead(pid);
}

static pid_t read_pid_file(const char *path)
{
    char *text = slurp(path);
    pid_t pid = (pid_t)atoi(text);
    free(text);
    return pid;
}

/* Wait (running the loop) until the file exists and is non-empty. */
static bool wait_file(struct fixture *f, const char *path, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        struct stat st;
        if (stat(path, &st) == 0 && st.st_size > 0)
            return true;
        bool never = false;
        run_until(f, &never, 10);
    }
    return false;
}

/* ------------------------------------------------------------------ tests */

static void test_shell_exit_status_and_stdout(void **state)
{
    struct fixture *f = *state;
    struct cr_container *c = NULL;
    launch_sh(f, "echo hi; echo oops >&2; exit 3", &c);
    assert_non_null(c);
    assert_true(cr_container_pid(c) > 0);
    assert_string_equal(cr_container_id(c), "c1");
    assert_true(run_until(f, &f->exited, 10000));
    assert_true(f->started);
    assert_true(f->ex.launched);
    assert_false(f->ex.signaled);
    assert_int_equal(f->ex.code, 3);
    char *out = slurp(f->out), *err = slurp(f->err);
    assert_string_equal(out, "hi\n");
    assert_string_equal(err, "oops\n");
    free(out);
    free(err);
    assert_int_equal(cr_containerizer_count(f->cz), 0);
}

static void test_argv_form_path_search(void **state)
{
    struct fixture *f = *state;
    const char *argv[] = {"echo", "a  b", "c", NULL};
    const char *envp[] = {"PATH=/nonexistent:/usr/bin:/bin", NULL};
    struct cr_container *c = NULL;
    assert_int_equal(launch(f, "echo", argv, envp, NULL, &c, NULL), 0);
    assert_true(run_until(f, &f->exited, 10000));
    assert_true(f->ex.launched);
    assert_int_equal(f->ex.code, 0);
    char *out = slurp(f->out);
    assert_string_equal(out, "a  b c\n");
    free(out);
}

static void test_env_and_working_dir(void **state)
{
    struct fixture *f = *state;
    const char *argv[] = {"/bin/sh", "-c", "echo \"$FOO|$BAR\"; pwd; echo $$ > pid", NULL};
    const char *envp[] = {"FOO=bar baz", "BAR=", "PATH=/usr/bin:/bin", NULL};
    struct cr_container *c = NULL;
    assert_int_equal(launch(f, NULL, argv, envp, NULL, &c, NULL), 0);
    pid_t pid = cr_container_pid(c);
    assert_true(run_until(f, &f->exited, 10000));
    assert_int_equal(f->ex.code, 0);
    char *out = slurp(f->out);
    char want[256];
    snprintf(want, sizeof(want), "bar baz|\n%s\n", f->dir);
    assert_string_equal(out, want);
    free(out);
    char pidfile[128];
    snprintf(pidfile, sizeof(pidfile), "%s/pid", f->dir);
    assert_int_equal(read_pid_file(pidfile), pid); /* the leader is the shell itself */
}

static void test_no_agent_fds_leak(void **state)
{
    struct fixture *f = *state;
    /* Open something the child must not inherit. */
    int fd = open("/dev/null", O_RDONLY);
    assert_true(fd >= 3);
    char script[128];
    snprintf(script, sizeof(script), "ls /proc/self/fd | sort -n | tr '\\n' ' '");
    struct cr_container *c = NULL;
    launch_sh(f, script, &c);
    assert_true(run_until(f, &f->exited, 10000));
    close(fd);
    char *out = slurp(f->out);
    /* stdin, stdout, stderr and the fd ls opens for /proc/self/fd itself */
    assert_string_equal(out, "0 1 2 3 ");
    free(out);
}

static void test_exec_failure_reported(void **state)
{
    struct fixture *f = *state;
    const char *argv[] = {"prog", NULL};
    struct cr_container *c = NULL;
    assert_int_equal(launch(f, "/nonexistent/prog", argv, NULL, NULL, &c, NULL), 0);
    assert_true(run_until(f, &f->exited, 10000));
    assert_false(f->started);
    assert_false(f->ex.launched);
    assert_int_equal(f->ex.error_code, ENOENT);
    assert_non_null(strstr(f->ex.error, "execute '/nonexistent/prog'"));
    assert_non_null(strstr(f->ex.error, "No such file or directory"));
    char *err = slurp(f->err);
    assert_non_null(strstr(err, "corral: execute '/nonexistent/prog'"));
    free(err);
}

static void test_exec_failure_path_search_and_eacces(void **state)
{
    struct fixture *f = *state;
    const char *argv[] = {"no-such-program-xyz", NULL};
    const char *envp[] = {"PATH=/usr/bin:/bin", NULL};
    struct cr_container *c = NULL;
    assert_int_equal(launch(f, NULL, argv, envp, NULL, &c, NULL), 0);
    assert_true(run_until(f, &f->exited, 10000));
    assert_false(f->ex.launched);
    assert_int_equal(f->ex.error_code, ENOENT);
    assert_non_null(strstr(f->ex.error, "no-such-program-xyz"));

    /* a file without the execute bit */
    f->exited = false;
    char path[128];
    snprintf(path, sizeof(path), "%s/notexec", f->dir);
    FILE *fp = fopen(path, "w");
    fputs("#!/bin/sh\nexit 0\n", fp);
    fclose(fp);
    chmod(path, 0644);
    const char *argv2[] = {path, NULL};
    assert_int_equal(launch(f, NULL, argv2, envp, NULL, &c, NULL), 0);
    assert_true(run_until(f, &f->exited, 10000));
    assert_false(f->ex.launched);
    assert_int_equal(f->ex.error_code, EACCES); /* not even root may exec it */
    assert_non_null(strstr(f->ex.error, "Permission denied"));
}

static void test_signal_exit(void **state)
{
    struct fixture *f = *state;
    struct cr_container *c = NULL;
    launch_sh(f, "kill -SEGV $$", &c);
    assert_true(run_until(f, &f->exited, 10000));
    assert_true(f->ex.launched);
    assert_true(f->ex.signaled);
    assert_int_equal(f->ex.code, SIGSEGV);
}

static void test_kill_grace_escalates(void **state)
{
    struct fixture *f = *state;
    struct cr_container *c = NULL;
    /* Ignores TERM (the shell and its sleep child), so only the KILL after the grace ends it. */
    launch_sh(f, "trap '' TERM; echo ready; sleep 30; echo not-reached", &c);
    assert_true(wait_file(f, f->out, 5000));
    uint64_t t0 = uv_hrtime();
    cr_container_stop(c, 300);
    assert_true(cr_container_is_stopping(c));
    assert_true(run_until(f, &f->exited, 10000));
    uint64_t elapsed_ms = (uv_hrtime() - t0) / 1000000;
    assert_true(elapsed_ms >= 290);
    assert_true(elapsed_ms < 5000);
    assert_true(f->ex.signaled);
    assert_int_equal(f->ex.code, SIGKILL);
    char *out = slurp(f->out);
    assert_string_equal(out, "ready\n");
    free(out);
}

static void test_kill_term_is_enough(void **state)
{
    struct fixture *f = *state;
    struct cr_container *c = NULL;
    launch_sh(f, "echo ready; exec sleep 30", &c);
    assert_true(wait_file(f, f->out, 5000));
    uint64_t t0 = uv_hrtime();
    cr_container_stop(c, 20000);
    assert_true(run_until(f, &f->exited, 10000));
    assert_true((uv_hrtime() - t0) / 1000000 < 5000); /* did not wait for the grace */
    assert_true(f->ex.signaled);
    assert_int_equal(f->ex.code, SIGTERM);
}

static void test_kill_reaches_children(void **state)
{
    struct fixture *f = *state;
    struct cr_container *c = NULL;
    char pidfile[128];
    snprintf(pidfile, sizeof(pidfile), "%s/child.pid", f->dir);
    launch_sh(f, "trap '' TERM; sleep 60 & echo $! > child.pid; wait", &c);
    assert_true(wait_file(f, pidfile, 5000));
    pid_t child = read_pid_file(pidfile);
    assert_true(child > 0);
    assert_false(pid_dead(child));
    cr_container_stop(c, 200);
    assert_true(run_until(f, &f->exited, 10000));
    assert_true(f->ex.signaled);
    assert_true(wait_dead(child, 3000));
}

static void test_leftover_children_die_with_leader(void **state)
{
    struct fixture *f = *state;
    struct cr_container *c = NULL;
    char pidfile[128];
    snprintf(pidfile, sizeof(pidfile), "%s/child.pid", f->dir);
    /* The leader exits at once, leaving a background child in its group. */
    launch_sh(f, "sleep 60 & echo $! > child.pid; exit 0", &c);
    assert_true(run_until(f, &f->exited, 10000));
    assert_int_equal(f->ex.code, 0);
    pid_t child = read_pid_file(pidfile);
    assert_true(child > 0);
    assert_true(wait_dead(child, 3000));
}

static void test_kill_now(void **state)
{
    struct fixture *f = *state;
    struct cr_container *c = NULL;
    launch_sh(f, "exec sleep 30", &c);
    cr_container_stop(c, 0);
    assert_true(run_until(f, &f->exited, 10000));
    assert_true(f->ex.signaled);
    assert_int_equal(f->ex.code, SIGKILL);
}

static void test_signal_before_exec(void **state)
{
    struct fixture *f = *state;
    struct cr_container *c = NULL;
    /* Signal right after launch: the child may not even have called setsid() yet. */
    launch_sh(f, "exec sleep 30", &c);
    assert_int_equal(cr_container_signal(c, SIGKILL), 0);
    assert_true(run_until(f, &f->exited, 10000));
    assert_true(f->ex.launched);
    assert_true(f->ex.signaled);
    assert_int_equal(f->ex.code, SIGKILL);
}

static void test_usage_posix(void **state)
{
    struct fixture *f = *state;
    struct cr_container *c = NULL;
    launch_sh(f, "sleep 30 & sleep 30 & echo ready; wait", &c);
    assert_true(wait_file(f, f->out, 5000));
    struct cr_usage u;
    struct cr_err err;
    cr_err_clear(&err);
    assert_int_equal(cr_container_usage(c, &u, &err), 0);
    assert_int_equal(u.processes, 3);
    assert_true(u.threads >= 3);
    assert_true(u.mem_rss_bytes > 0);
    assert_true(u.timestamp > 1e9);
    assert_int_equal(cr_container_update(c, NULL, &err), 0);
    cr_container_stop(c, 0);
    assert_true(run_until(f, &f->exited, 10000));
}

static void test_user_switch(void **state)
{
    struct fixture *f = *state;
    if (geteuid() != 0)
        skip();
    chmod(f->dir, 0755);
    const char *argv[] = {"/bin/sh", "-c", "id -u; touch mine", NULL};
    const char *envp[] = {"PATH=/usr/bin:/bin", NULL};
    struct cr_container *c = NULL;
    struct cr_err err;
    cr_err_clear(&err);
    assert_int_equal(launch(f, NULL, argv, envp, "nobody", &c, &err), 0);
    assert_true(run_until(f, &f->exited, 10000));
    assert_int_equal(f->ex.code, 0);
    char *out = slurp(f->out);
    assert_string_equal(out, "65534\n");
    free(out);
    struct stat st;
    char mine[128];
    snprintf(mine, sizeof(mine), "%s/mine", f->dir);
    assert_int_equal(stat(mine, &st), 0);
    assert_int_equal(st.st_uid, 65534);
}

/* Read what is in fd until EOF (fd non-blocking is not needed: the writers are gone). */
static char *read_all(int fd)
{
    struct cr_buf b = {0};
    char chunk[256];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof(chunk))) > 0)
        cr_buf_append(&b, chunk, (size_t)n);
    return cr_buf_steal(&b, NULL);
}

static void test_stdio_to_descriptors(void **state)
{
    struct fixture *f = *state;
    int out[2], errp[2];
    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(errp), 0);
    const char *argv[] = {"/bin/sh", "-c", "echo to-out; echo to-err >&2", NULL};
    struct cr_launch_spec spec = {
        .container_id = "c1",
        .sandbox = f->dir,
        .argv = argv,
        .use_stdio_fds = true,
        .stdout_fd = out[1],
        .stderr_fd = errp[1],
        .on_exited = on_exited,
        .ud = f,
    };
    struct cr_container *c = NULL;
    struct cr_err err;
    cr_err_clear(&err);
    assert_int_equal(cr_containerizer_launch(f->cz, &spec, &c, &err), 0);
    close(out[1]); /* the containerizer keeps its own copies only as long as it needs */
    close(errp[1]);
    assert_true(run_until(f, &f->exited, 10000));
    assert_int_equal(f->ex.code, 0);
    char *o = read_all(out[0]), *e = read_all(errp[0]); /* EOF: nothing holds them open */
    assert_string_equal(o, "to-out\n");
    assert_string_equal(e, "to-err\n");
    free(o);
    free(e);
    close(out[0]);
    close(errp[0]);
    assert_false(access(f->out, F_OK) == 0); /* no file was created */

    /* A launch failure is noted on the stderr descriptor. */
    f->exited = false;
    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(errp), 0);
    const char *bad[] = {"/nonexistent/prog", NULL};
    spec.argv = bad;
    spec.stdout_fd = out[1];
    spec.stderr_fd = errp[1];
    assert_int_equal(cr_containerizer_launch(f->cz, &spec, &c, &err), 0);
    close(out[1]);
    close(errp[1]);
    assert_true(run_until(f, &f->exited, 10000));
    assert_false(f->ex.launched);
    e = read_all(errp[0]);
    assert_string_equal(e, "corral: execute '/nonexistent/prog': No such file or directory\n");
    free(e);
    close(out[0]);
    close(errp[0]);

    /* Designated initialisers leave the descriptors 0: without use_stdio_fds the paths
     * are what counts, and they are required. */
    struct cr_launch_spec nopaths = {
        .container_id = "c2", .sandbox = f->dir, .argv = argv, .on_exited = on_exited};
    assert_int_equal(cr_containerizer_launch(f->cz, &nopaths, &c, &err), -EINVAL);
    nopaths.use_stdio_fds = true;
    nopaths.stdout_fd = -1;
    nopaths.stderr_fd = 2;
    assert_int_equal(cr_containerizer_launch(f->cz, &nopaths, &c, &err), -EINVAL);
}

static void test_duplicate_container_id(void **state)
{
    struct fixture *f = *state;
    struct cr_container *c = NULL, *c2 = NULL;
    launch_sh(f, "exec sleep 30", &c);
    struct cr_err err;
    cr_err_clear(&err);
    const char *argv[] = {"/bin/true", NULL};
    assert_int_equal(launch(f, NULL, argv, NULL, NULL, &c2, &err), -EEXIST);
    assert_string_equal(err.msg, "launch: container 'c1' is already running");
    assert_int_equal(cr_containerizer_count(f->cz), 1);
    /* destroy by id of a live container = stop at once */
    assert_int_equal(cr_containerizer_destroy(f->cz, "c1", &err), 0);
    assert_true(run_until(f, &f->exited, 10000));
    assert_true(f->ex.signaled);
    assert_int_equal(f->ex.code, SIGKILL);
    /* and of an unknown one: nothing to do */
    assert_int_equal(cr_containerizer_destroy(f->cz, "nope", &err), 0);
}

static void test_unknown_user_fails_launch(void **state)
{
    struct fixture *f = *state;
    const char *argv[] = {"/bin/true", NULL};
    struct cr_container *c = NULL;
    struct cr_err err;
    cr_err_clear(&err);
    assert_int_equal(launch(f, NULL, argv, NULL, "no-such-user-corral", &c, &err), -ENOENT);
    assert_null(c);
    assert_string_equal(err.msg, "user 'no-such-user-corral' does not exist");
    assert_int_equal(cr_containerizer_count(f->cz), 0);
    bool never = false;
    run_until(f, &never, 50);
    assert_false(f->exited);
}

static void test_bad_spec(void **state)
{
    struct fixture *f = *state;
    struct cr_container *c = NULL;
    struct cr_launch_spec spec = {.container_id = "x"};
    assert_int_equal(cr_containerizer_launch(f->cz, &spec, &c, NULL), -EINVAL);
    const char *argv[] = {"/bin/true", NULL};
    struct cr_launch_spec spec2 = {
        .container_id = "x",
        .sandbox = f->dir,
        .argv = argv,
        .stdout_path = "/nonexistent/dir/stdout",
        .stderr_path = f->err,
        .on_exited = on_exited,
    };
    struct cr_err err;
    cr_err_clear(&err);
    assert_int_equal(cr_containerizer_launch(f->cz, &spec2, &c, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "/nonexistent/dir/stdout"));
}

static void test_free_leaves_processes_running(void **state)
{
    struct fixture *f = *state;
    struct cr_container *c = NULL;
    launch_sh(f, "exec sleep 30", &c);
    pid_t pid = cr_container_pid(c);
    cr_containerizer_free(f->cz);
    f->cz = NULL;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_false(f->exited);
    assert_int_equal(kill(pid, 0), 0);
    /* clean up by pid: we are still its parent */
    kill(pid, SIGKILL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    struct cr_err err;
    cr_err_clear(&err);
    assert_int_equal(cr_containerizer_new(&f->loop, "posix", NULL, &f->cz, &err), 0);
}

static void test_unknown_isolator(void **state)
{
    struct fixture *f = *state;
    struct cr_containerizer *cz = NULL;
    struct cr_err err;
    cr_err_clear(&err);
    assert_int_equal(cr_containerizer_new(&f->loop, "posix,cgroups/mem", NULL, &cz, &err), -EINVAL);
    assert_null(cz);
    assert_non_null(strstr(err.msg, "unknown isolator 'cgroups/mem'"));
    assert_int_equal(cr_containerizer_new(&f->loop, "posix,", NULL, &cz, &err), -EINVAL);
}

static void test_proc_stat_parse(void **state)
{
    (void)state;
    const char *line = "4242 (we(ird) n)ame) S 1 4242 4242 0 -1 4194560 100 0 0 0 "
                       "17 5 0 0 20 0 3 0 123456 1000000 250 18446744073709551615";
    struct cr_proc_stat st;
    assert_int_equal(cr_proc_stat_parse(line, &st, NULL), 0);
    assert_int_equal(st.pid, 4242);
    assert_int_equal(st.session, 4242);
    assert_int_equal(st.utime_ticks, 17);
    assert_int_equal(st.stime_ticks, 5);
    assert_int_equal(st.num_threads, 3);
    assert_int_equal(st.rss_pages, 250);
    struct cr_err err;
    cr_err_clear(&err);
    assert_int_equal(cr_proc_stat_parse("12 (x) S 1 2", &st, &err), -EINVAL);
    assert_int_equal(cr_proc_stat_parse("garbage", &st, NULL), -EINVAL);
}

static void test_usage_scan_fake_proc(void **state)
{
    struct fixture *f = *state;
    /* A /proc-shaped tree: two processes of session 100, one of another session. */
    const char *stats[][2] = {
        {"100", "100 (sh) S 1 100 100 0 -1 0 0 0 0 0 10 20 0 0 20 0 1 0 1 1 5"},
        {"101", "101 (sleep) S 100 100 100 0 -1 0 0 0 0 0 30 40 0 0 20 0 2 0 1 1 7"},
        {"200", "200 (other) S 1 200 200 0 -1 0 0 0 0 0 99 99 0 0 20 0 1 0 1 1 99"},
    };
    char path[256];
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/proc/%s", f->dir, stats[i][0]);
        assert_int_equal(cr_mkdir_p(path, 0755, NULL), 0);
        snprintf(path, sizeof(path), "%s/proc/%s/stat", f->dir, stats[i][0]);
        FILE *fp = fopen(path, "w");
        fputs(stats[i][1], fp);
        fclose(fp);
    }
    snprintf(path, sizeof(path), "%s/proc/self", f->dir); /* non-numeric entries are skipped */
    assert_int_equal(cr_mkdir_p(path, 0755, NULL), 0);
    snprintf(path, sizeof(path), "%s/proc", f->dir);
    struct cr_usage u;
    memset(&u, 0, sizeof(u));
    assert_int_equal(cr_posix_usage_scan(path, 100, 10, 4096, &u, NULL), 0);
    assert_int_equal(u.processes, 2);
    assert_int_equal(u.threads, 3);
    assert_true(u.cpus_user_time_secs == 4.0);
    assert_true(u.cpus_system_time_secs == 6.0);
    assert_int_equal(u.mem_rss_bytes, 12 * 4096);
    assert_int_equal(cr_posix_usage_scan(path, 7, 10, 4096, &u, NULL), -ESRCH);
}

/* ------------------------------------------------------------------ the fork path */

/* A test isolator with every hook, recording the order of calls (test-only globals). */
static struct {
    char calls[256];
    pid_t isolated_pid;
    bool exe_was_parent; /* at isolate(), the child had not exec'd yet */
    int fail_isolate;
} rec;

static void note(const char *what)
{
    size_t n = strlen(rec.calls);
    snprintf(rec.calls + n, sizeof(rec.calls) - n, "%s%s", n ? "," : "", what);
}

static int t_create(void **state, const struct cr_isolation_opts *opts, struct cr_err *err)
{
    (void)err;
    assert_non_null(opts);
    *state = &rec;
    note("create");
    return 0;
}

static void t_destroy(void *state)
{
    assert_ptr_equal(state, &rec);
    note("destroy");
}

static int t_prepare(void *state, const struct cr_container_config *cfg,
                     struct cr_launch_info *launch, struct cr_err *err)
{
    (void)state;
    (void)err;
    assert_non_null(launch);
    assert_string_equal(cfg->container_id, "c1");
    note("prepare");
    return 0;
}

static int t_isolate(void *state, const char *id, pid_t pid, struct cr_err *err)
{
    (void)state;
    note("isolate");
    rec.isolated_pid = pid;
    char self[512] = "", child[512] = "", path[64];
    snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
    ssize_t a = readlink("/proc/self/exe", self, sizeof(self) - 1);
    ssize_t b = readlink(path, child, sizeof(child) - 1);
    rec.exe_was_parent = a > 0 && b == a && memcmp(self, child, (size_t)a) == 0;
    if (rec.fail_isolate)
        return cr_err_set(err, -EPERM, "cannot isolate '%s'", id);
    return 0;
}

static int t_usage(void *state, const char *id, pid_t pid, struct cr_usage *u, struct cr_err *err)
{
    (void)state;
    (void)id;
    (void)pid;
    (void)err;
    u->mem_rss_bytes = 42; /* later isolators win */
    return 0;
}

static int t_cleanup(void *state, const char *id, struct cr_err *err)
{
    (void)state;
    (void)id;
    (void)err;
    note("cleanup");
    return 0;
}

static const struct cr_isolator_ops test_isolator = {
    .name = "test",
    .create = t_create,
    .destroy = t_destroy,
    .prepare = t_prepare,
    .isolate = t_isolate,
    .usage = t_usage,
    .cleanup = t_cleanup,
};

static int setup_fork(void **state)
{
    memset(&rec, 0, sizeof(rec));
    if (setup(state) < 0)
        return -1;
    struct fixture *f = *state;
    cr_containerizer_free(f->cz);
    const struct cr_isolator_ops *ops[] = {&cr_isolator_posix, &test_isolator};
    return cr_containerizer_new_ops(&f->loop, ops, 2, NULL, &f->cz, NULL);
}

static void test_fork_path_hook_order(void **state)
{
    struct fixture *f = *state;
    struct cr_container *c = NULL;
    launch_sh(f, "echo $$; sleep 30", &c);
    assert_int_equal(rec.isolated_pid, cr_container_pid(c));
    assert_true(rec.exe_was_parent); /* isolate ran before the exec */
    assert_true(wait_file(f, f->out, 5000));
    struct cr_usage u;
    assert_int_equal(cr_container_usage(c, &u, NULL), 0);
    assert_int_equal(u.mem_rss_bytes, 42);
    assert_int_equal(u.processes, 2);
    cr_container_stop(c, 0);
    assert_true(run_until(f, &f->exited, 10000));
    assert_true(f->started);
    assert_true(f->ex.signaled);
    assert_string_equal(rec.calls, "create,prepare,isolate,cleanup");
    char *out = slurp(f->out);
    assert_int_equal(atoi(out), rec.isolated_pid);
    free(out);
}

static void test_fork_path_exec_failure(void **state)
{
    struct fixture *f = *state;
    const char *argv[] = {"/nonexistent/prog", NULL};
    struct cr_container *c = NULL;
    assert_int_equal(launch(f, NULL, argv, NULL, NULL, &c, NULL), 0);
    assert_true(run_until(f, &f->exited, 10000));
    assert_false(f->started);
    assert_false(f->ex.launched);
    assert_int_equal(f->ex.error_code, ENOENT);
}

static void test_fork_path_isolate_failure(void **state)
{
    struct fixture *f = *state;
    rec.fail_isolate = 1;
    const char *argv[] = {"/bin/true", NULL};
    struct cr_container *c = NULL;
    struct cr_err err;
    cr_err_clear(&err);
    assert_int_equal(launch(f, NULL, argv, NULL, NULL, &c, &err), -EPERM);
    assert_null(c);
    assert_non_null(strstr(err.msg, "isolate with 'test': cannot isolate 'c1'"));
    assert_string_equal(rec.calls, "create,prepare,isolate,cleanup");
    assert_true(pid_dead(rec.isolated_pid)); /* killed and reaped, never exec'd */
    assert_int_equal(cr_containerizer_count(f->cz), 0);
    bool never = false;
    run_until(f, &never, 50);
    assert_false(f->exited);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_shell_exit_status_and_stdout),
        T(test_argv_form_path_search),
        T(test_env_and_working_dir),
        T(test_no_agent_fds_leak),
        T(test_exec_failure_reported),
        T(test_exec_failure_path_search_and_eacces),
        T(test_signal_exit),
        T(test_kill_grace_escalates),
        T(test_kill_term_is_enough),
        T(test_kill_reaches_children),
        T(test_leftover_children_die_with_leader),
        T(test_kill_now),
        T(test_signal_before_exec),
        T(test_usage_posix),
        T(test_user_switch),
        T(test_stdio_to_descriptors),
        T(test_duplicate_container_id),
        T(test_unknown_user_fails_launch),
        T(test_bad_spec),
        T(test_free_leaves_processes_running),
        T(test_unknown_isolator),
        cmocka_unit_test(test_proc_stat_parse),
        T(test_usage_scan_fake_proc),
        cmocka_unit_test_setup_teardown(test_fork_path_hook_order, setup_fork, teardown),
        cmocka_unit_test_setup_teardown(test_fork_path_exec_failure, setup_fork, teardown),
        cmocka_unit_test_setup_teardown(test_fork_path_isolate_failure, setup_fork, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
