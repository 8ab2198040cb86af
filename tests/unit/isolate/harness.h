/*
 * harness.h - shared helpers of the isolator tests that launch real containers: a
 * fixture with a loop, a containerizer and a test-specific cgroups root, launch of shell
 * scripts into numbered slots, and waiting while the loop runs.
 *
 * Header-only (static functions) because each test file is its own executable. The
 * fixture's teardown kills and removes whatever is left under its cgroups root (only
 * cgroups it created, only processes in them) and fails the test if a container's
 * cgroup was left behind by the code under test.
 */
#ifndef CR_TESTS_ISOLATE_HARNESS_H
#define CR_TESTS_ISOLATE_HARNESS_H

#include <errno.h>
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
#include "core/resources.h"
#include "isolate/cgroup.h"
#include "isolate/containerizer.h"

#define H_SLOTS 4
#define H_ALL "posix,cgroups,namespaces,filesystem,hardening"

struct h_slot {
    struct cr_container *c;
    bool started;
    bool exited;
    struct cr_container_exit ex;
    char sandbox[128];
    char out[160], err[160];
};

struct h_fixture {
    uv_loop_t loop;
    struct cr_containerizer *cz;
    char dir[64];  /* the test's temp dir; sandboxes are <dir>/<container-id> */
    char root[64]; /* cgroups_root of the test, "corral-test-<pid>-<n>" */
    char mnt[128]; /* a filesystem the test mounted ("" = none), unmounted at teardown */
    struct cr_isolation_opts opts;
    struct h_slot slots[H_SLOTS];
};

/* What to launch into a slot; unset fields take the defaults. */
struct h_job {
    const char *id; /* default "c<slot>" */
    const char *script;
    const char *resources; /* "cpus:0.5;mem:32" */
    bool cpu_hard_limit;
    const char *hostname;
    const char *network;
    const struct cr_volume *volumes;
    size_t nvolumes;
    const char *user;
};

static int h_counter __attribute__((unused));

/* Whether real containers can run here (root and a cgroup hierarchy). */
static inline bool h_can_run(void)
{
    if (geteuid() != 0)
        return false;
    struct cr_cgroup_system *sys = NULL;
    if (cr_cgroup_detect(CR_ISOLATION_CGROUPS_MOUNT, &sys, NULL) < 0)
        return false;
    cr_cgroup_system_free(sys);
    return true;
}

#define H_NEED_ROOT()                                                                              \
    do {                                                                                           \
        if (!h_can_run()) {                                                                        \
            print_message("skipped: needs root and cgroups at /sys/fs/cgroup\n");                  \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

static inline void h_on_started(struct cr_container *c, void *ud)
{
    struct h_slot *s = ud;
    (void)c;
    assert_false(s->started);
    s->started = true;
}

static inline void h_on_exited(struct cr_container *c, const struct cr_container_exit *ex, void *ud)
{
    struct h_slot *s = ud;
    (void)c;
    assert_false(s->exited);
    s->exited = true;
    s->ex = *ex;
    s->c = NULL;
}

static inline int h_new_cz(struct h_fixture *f, const char *isolation, struct cr_err *err)
{
    return cr_containerizer_new(&f->loop, isolation, &f->opts, &f->cz, err);
}

/* Fixture without a containerizer (tests create it with h_new_cz after setting opts). */
static inline int h_setup(void **state)
{
    struct h_fixture *f = cr_xcalloc(1, sizeof(*f));
    uv_loop_init(&f->loop);
    snprintf(f->dir, sizeof(f->dir), "/tmp/cr-iso-test-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    chmod(f->dir, 0755);
    snprintf(f->root, sizeof(f->root), "corral-test-%d-%d", (int)getpid(), h_counter++);
    cr_isolation_opts_default(&f->opts);
    f->opts.cgroups_root = f->root;
    *state = f;
    return 0;
}

/* Kill and remove every cgroup under the test's root, then the root. Returns how many
 * container cgroups were still there. */
static inline size_t h_clean_cgroups(const char *mount, const char *root)
{
    struct cr_cgroup_system *sys = NULL;
    if (cr_cgroup_detect(mount, &sys, NULL) < 0)
        return 0;
    char **kids = NULL;
    size_t n = 0, left = 0;
    if (cr_cgroup_children(sys, root, &kids, &n, NULL) == 0) {
        for (size_t i = 0; i < n; i++) {
            char *name CR_AUTOFREE = cr_xasprintf("%s/%s", root, kids[i]);
            struct cr_cgroup *cg = NULL;
            if (cr_cgroup_create(sys, name, &cg, NULL) == 0) {
                cr_cgroup_kill_all(cg, NULL);
                cr_cgroup_destroy(cg, NULL);
                cr_cgroup_free(cg);
            }
            free(kids[i]);
            left++;
        }
        free(kids);
    }
    struct cr_cgroup *cg = NULL;
    if (cr_cgroup_open(sys, root, &cg, NULL) == 0) {
        cr_cgroup_kill_all(cg, NULL);
        cr_cgroup_destroy(cg, NULL);
        cr_cgroup_free(cg);
    }
    cr_cgroup_system_free(sys);
    return left;
}

static inline int h_teardown(void **state)
{
    struct h_fixture *f = *state;
    cr_containerizer_free(f->cz);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    uv_loop_close(&f->loop);
    size_t left = 0;
    if (geteuid() == 0) {
        left = h_clean_cgroups(f->opts.cgroups_mount, f->root);
        if (strcmp(f->opts.cgroups_mount, CR_ISOLATION_CGROUPS_MOUNT) != 0)
            left += h_clean_cgroups(CR_ISOLATION_CGROUPS_MOUNT, f->root);
    }
    while (waitpid(-1, NULL, WNOHANG) > 0) /* our own children only */
        ;
    /* Never let rm -rf walk into a mounted filesystem (a cgroupfs above all). */
    bool mounted = f->mnt[0] && umount2(f->mnt, MNT_DETACH) < 0 && errno != EINVAL;
    if (!mounted)
        cr_rm_rf(f->dir, NULL);
    free(f);
    if (left > 0)
        fail_msg("%zu container cgroups were left behind", left);
    return 0;
}

static inline void h_on_deadline(uv_timer_t *t)
{
    bool *expired = t->data;
    *expired = true;
}

/* Run the loop until *flag or ms elapse. Returns whether flag got set. */
static inline bool h_run_until(struct h_fixture *f, const bool *flag, uint64_t ms)
{
    uv_timer_t t;
    bool expired = false;
    uv_timer_init(&f->loop, &t);
    t.data = &expired;
    uv_timer_start(&t, h_on_deadline, ms, 0);
    while (!*flag && !expired)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    return *flag;
}

static inline void h_run_for(struct h_fixture *f, uint64_t ms)
{
    bool never = false;
    h_run_until(f, &never, ms);
}

static inline char *h_slurp(const char *path)
{
    char *text = NULL;
    if (cr_read_file(path, &text, NULL, NULL) < 0)
        return cr_xstrdup("");
    return text;
}

/* Run the loop until the file at path contains needle (or ms elapse). */
static inline bool h_wait_text(struct h_fixture *f, const char *path, const char *needle, int ms)
{
    for (int i = 0; i <= ms / 10; i++) {
        char *text CR_AUTOFREE = h_slurp(path);
        if (strstr(text, needle))
            return true;
        h_run_for(f, 10);
    }
    return false;
}

/* Launch job into slot k. Returns the launch's result (0 or -errno with err). */
static inline int h_try_start(struct h_fixture *f, int k, const struct h_job *j, struct cr_err *err)
{
    struct h_slot *s = &f->slots[k];
    memset(s, 0, sizeof(*s));
    char idbuf[16];
    snprintf(idbuf, sizeof(idbuf), "c%d", k);
    const char *id = j->id ? j->id : idbuf;
    snprintf(s->sandbox, sizeof(s->sandbox), "%s/%s", f->dir, id);
    assert_int_equal(cr_mkdir_p(s->sandbox, 0755, NULL), 0);
    snprintf(s->out, sizeof(s->out), "%s/%s/stdout", f->dir, id);
    snprintf(s->err, sizeof(s->err), "%s/%s/stderr", f->dir, id);
    struct cr_resources res;
    cr_resources_init(&res);
    if (j->resources)
        assert_int_equal(cr_resources_parse(&res, j->resources, "*", NULL), 0);
    const char *argv[] = {"/bin/sh", "-c", j->script, NULL};
    const char *envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
    struct cr_launch_spec spec = {
        .container_id = id,
        .sandbox = s->sandbox,
        .argv = argv,
        .envp = envp,
        .stdout_path = s->out,
        .stderr_path = s->err,
        .user = j->user,
        .resources = &res,
        .cpu_hard_limit = j->cpu_hard_limit,
        .hostname = j->hostname,
        .network = j->network,
        .volumes = j->volumes,
        .nvolumes = j->nvolumes,
        .on_started = h_on_started,
        .on_exited = h_on_exited,
        .ud = s,
    };
    int rc = cr_containerizer_launch(f->cz, &spec, &s->c, err);
    cr_resources_release(&res);
    return rc;
}

static inline struct cr_container *h_start(struct h_fixture *f, int k, const struct h_job *j)
{
    struct cr_err err;
    cr_err_clear(&err);
    if (h_try_start(f, k, j, &err) < 0)
        fail_msg("launch failed: %s", err.msg);
    return f->slots[k].c;
}

/* Launch a script, wait for its end (10 s at most) and return its stdout (owned). */
static inline char *h_run_script(struct h_fixture *f, const struct h_job *j)
{
    h_start(f, 0, j);
    if (!h_run_until(f, &f->slots[0].exited, 10000))
        fail_msg("container did not finish");
    return h_slurp(f->slots[0].out);
}

/* Stop slot k (SIGKILL at once) and wait for its end. */
static inline void h_stop(struct h_fixture *f, int k)
{
    if (f->slots[k].c)
        cr_container_stop(f->slots[k].c, 0);
    assert_true(h_run_until(f, &f->slots[k].exited, 10000));
}

/* The pids listed in a cgroup.procs file (0-terminated, owned). */
static inline pid_t *h_read_pids(const char *path, size_t *n)
{
    char *text CR_AUTOFREE = h_slurp(path);
    pid_t *pids = cr_xcalloc(1024, sizeof(pid_t));
    *n = 0;
    for (char *p = text; *p && *n < 1023;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p)
            break;
        pids[(*n)++] = (pid_t)v;
        p = end;
    }
    return pids;
}

/* Whether pid is gone (or a zombie waiting for a reaper other than us). */
static inline bool h_pid_dead(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    char *text = NULL;
    if (cr_read_file(path, &text, NULL, NULL) < 0)
        return true;
    const char *close = strrchr(text, ')');
    bool zombie = close && close[1] == ' ' && (close[2] == 'Z' || close[2] == 'X');
    free(text);
    return zombie;
}

static inline bool h_path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

#endif
