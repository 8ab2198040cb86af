/*
 * test_cgroup.c - the cgroup layer (src/isolate/cgroup.c).
 *
 * Part 1 points the layer at temporary directory trees that imitate cgroup2 and v1
 * mounts: detection, the exact strings written to each control file (cpu.weight
 * conversion, cpu.max, cfs quota, "max"/-1 for unlimited), parsing of the usage files,
 * error messages naming the cgroup and the file. Part 2 runs on the real v1 hierarchy
 * when root: a child that double-forks is moved into corral-test-<pid>/x, limited,
 * measured, killed and the cgroups removed. It touches only cgroups it created and
 * processes it started (or found in its own cgroup), and skips with a message otherwise.
 * Also on temp trees: cpu limits and peak memory read back, cgroup.procs paths, child
 * listing, one-pass signals.
 */
#include <errno.h>
#include <limits.h>
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

#include <cmocka.h>

#include "base/util.h"
#include "isolate/cgroup.h"

/* ---- temp trees ------------------------------------------------------------------ */

struct tree {
    char root[PATH_MAX];
};

static void put(const struct tree *t, const char *rel, const char *text)
{
    char *path CR_AUTOFREE = cr_xasprintf("%s/%s", t->root, rel);
    char *dir CR_AUTOFREE = cr_xstrdup(path);
    *strrchr(dir, '/') = '\0';
    assert_int_equal(cr_mkdir_p(dir, 0755, NULL), 0);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* Content of root/rel, owned. */
static char *get(const struct tree *t, const char *rel)
{
    char *path CR_AUTOFREE = cr_xasprintf("%s/%s", t->root, rel);
    char *text = NULL;
    assert_int_equal(cr_read_file(path, &text, NULL, NULL), 0);
    return text;
}

static void assert_file(const struct tree *t, const char *rel, const char *want)
{
    char *got CR_AUTOFREE = get(t, rel);
    assert_string_equal(got, want);
}

static bool exists(const struct tree *t, const char *rel)
{
    char *path CR_AUTOFREE = cr_xasprintf("%s/%s", t->root, rel);
    return access(path, F_OK) == 0;
}

static int tree_setup(void **state)
{
    struct tree *t = cr_xcalloc(1, sizeof(*t));
    snprintf(t->root, sizeof(t->root), "/tmp/cr-cgroup-test-XXXXXX");
    assert_non_null(mkdtemp(t->root));
    *state = t;
    return 0;
}

static int tree_teardown(void **state)
{
    struct tree *t = *state;
    assert_int_equal(cr_rm_rf(t->root, NULL), 0);
    free(t);
    return 0;
}

/* ---- conversions ----------------------------------------------------------------- */

static void test_conversions(void **state)
{
    (void)state;
    assert_int_equal(cr_cgroup_cpu_shares(0), 2);
    assert_int_equal(cr_cgroup_cpu_shares(1), 2);
    assert_int_equal(cr_cgroup_cpu_shares(100), 102);
    assert_int_equal(cr_cgroup_cpu_shares(1000), 1024);
    assert_int_equal(cr_cgroup_cpu_shares(2500), 2560);
    assert_int_equal(cr_cgroup_cpu_shares(UINT64_MAX), 262144);
    /* Kernel mapping: weight 100 <-> 1024 shares, rounded, clamped to [1, 10000]. */
    assert_int_equal(cr_cgroup_cpu_weight(2), 1);
    assert_int_equal(cr_cgroup_cpu_weight(1024), 100);
    assert_int_equal(cr_cgroup_cpu_weight(512), 50);
    assert_int_equal(cr_cgroup_cpu_weight(102), 10);
    assert_int_equal(cr_cgroup_cpu_weight(2560), 250);
    assert_int_equal(cr_cgroup_cpu_weight(262144), 10000);
    assert_int_equal(cr_cgroup_cpu_quota_us(1), 1000);
    assert_int_equal(cr_cgroup_cpu_quota_us(500), 50000);
    assert_int_equal(cr_cgroup_cpu_quota_us(2000), 200000);
}

static void test_detect_nothing(void **state)
{
    struct tree *t = *state;
    struct cr_cgroup_system *sys = (void *)1;
    struct cr_err err = {0};
    put(t, "unrelated/file", "x");
    assert_int_equal(cr_cgroup_detect(t->root, &sys, &err), -ENOENT);
    assert_null(sys);
    assert_non_null(strstr(err.msg, "detect cgroups at '"));
    assert_non_null(strstr(err.msg, "no cgroup hierarchy"));
}

/* ---- v2 -------------------------------------------------------------------------- */

static void v2_tree(const struct tree *t)
{
    put(t, "cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
    put(t, "cgroup.subtree_control", "cpu memory\n");
    put(t, "cgroup.procs", "1\n");
    put(t, "corral/cgroup.subtree_control", "");
    const char *files[] = {"cgroup.procs", "cpu.weight", "cpu.max",
                           "memory.max",   "pids.max",   "cgroup.freeze"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char *rel CR_AUTOFREE = cr_xasprintf("corral/x/%s", files[i]);
        put(t, rel, "");
    }
}

static void test_v2_detect_create_write(void **state)
{
    struct tree *t = *state;
    v2_tree(t);
    struct cr_cgroup_system *sys = NULL;
    struct cr_cgroup *cg = NULL;
    struct cr_err err = {0};
    assert_int_equal(cr_cgroup_detect(t->root, &sys, &err), 0);
    assert_int_equal(cr_cgroup_system_version(sys), CR_CGROUP_V2);
    assert_true(cr_cgroup_system_has(sys, "cpu"));
    assert_true(cr_cgroup_system_has(sys, "memory"));
    assert_true(cr_cgroup_system_has(sys, "pids"));
    assert_false(cr_cgroup_system_has(sys, "freezer"));
    assert_false(cr_cgroup_system_has(sys, "cpuacct"));

    assert_int_equal(cr_cgroup_create(sys, "corral/x", &cg, &err), 0);
    assert_string_equal(cr_cgroup_name(cg), "corral/x");
    /* Only what is missing is enabled, in the root and in every parent. */
    assert_file(t, "cgroup.subtree_control", "+pids");
    assert_file(t, "corral/cgroup.subtree_control", "+cpu +memory +pids");

    assert_int_equal(cr_cgroup_set_cpu(cg, 1500, true, &err), 0);
    assert_file(t, "corral/x/cpu.weight", "150");
    assert_file(t, "corral/x/cpu.max", "150000 100000");
    assert_int_equal(cr_cgroup_set_cpu(cg, 250, false, &err), 0);
    assert_file(t, "corral/x/cpu.weight", "25");
    assert_file(t, "corral/x/cpu.max", "max 100000");
    assert_int_equal(cr_cgroup_set_memory(cg, 64u << 20, &err), 0);
    assert_file(t, "corral/x/memory.max", "67108864");
    assert_int_equal(cr_cgroup_set_memory(cg, 0, &err), 0);
    assert_file(t, "corral/x/memory.max", "max");
    assert_int_equal(cr_cgroup_set_pids(cg, 100, &err), 0);
    assert_file(t, "corral/x/pids.max", "100");
    assert_int_equal(cr_cgroup_set_pids(cg, 0, &err), 0);
    assert_file(t, "corral/x/pids.max", "max");
    assert_int_equal(cr_cgroup_add_pid(cg, 4321, &err), 0);
    assert_file(t, "corral/x/cgroup.procs", "4321");
    assert_int_equal(cr_cgroup_add_pid(cg, 0, &err), -EINVAL);

    /* Open of an existing cgroup works; of a missing one is -ENOENT. */
    struct cr_cgroup *again = NULL;
    assert_int_equal(cr_cgroup_open(sys, "corral/x", &again, &err), 0);
    cr_cgroup_free(again);
    assert_int_equal(cr_cgroup_open(sys, "corral/nope", &again, &err), -ENOENT);
    assert_null(again);
    assert_non_null(strstr(err.msg, "open cgroup 'corral/nope': open '"));

    cr_cgroup_free(cg);
    cr_cgroup_system_free(sys);
}

static void test_v2_error_names_file(void **state)
{
    struct tree *t = *state;
    v2_tree(t);
    struct cr_cgroup_system *sys = NULL;
    struct cr_cgroup *cg = NULL;
    struct cr_err err = {0};
    assert_int_equal(cr_cgroup_detect(t->root, &sys, &err), 0);
    assert_int_equal(cr_cgroup_create(sys, "corral/x", &cg, &err), 0);
    char *path CR_AUTOFREE = cr_xasprintf("%s/corral/x/memory.max", t->root);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(cr_cgroup_set_memory(cg, 1 << 20, &err), -ENOENT);
    char *want CR_AUTOFREE = cr_xasprintf(
        "set memory limit of cgroup 'corral/x': write '%s': No such file or directory", path);
    assert_string_equal(err.msg, want);
    cr_cgroup_free(cg);
    cr_cgroup_system_free(sys);
}

static void test_v2_usage_pids_kill(void **state)
{
    struct tree *t = *state;
    v2_tree(t);
    put(t, "corral/x/cpu.stat",
        "usage_usec 3500000\nuser_usec 2500000\nsystem_usec 1000000\nnr_periods 10\n"
        "nr_throttled 4\nthrottled_usec 200000\n");
    put(t, "corral/x/memory.current", "1048576\n");
    put(t, "corral/x/memory.max", "max\n");
    put(t, "corral/x/memory.stat", "anon_thp 0\nanon 524288\nfile 4096\n");
    put(t, "corral/x/memory.events", "low 0\nhigh 0\nmax 3\noom 2\noom_kill 1\n");
    put(t, "corral/x/cgroup.procs", "10\n20\n");
    struct cr_cgroup_system *sys = NULL;
    struct cr_cgroup *cg = NULL;
    struct cr_err err = {0};
    assert_int_equal(cr_cgroup_detect(t->root, &sys, &err), 0);
    assert_int_equal(cr_cgroup_open(sys, "corral/x", &cg, &err), 0);

    struct cr_cgroup_usage u;
    assert_int_equal(cr_cgroup_usage(cg, &u, &err), 0);
    assert_float_equal(u.cpu_user_secs, 2.5, 1e-9);
    assert_float_equal(u.cpu_system_secs, 1.0, 1e-9);
    assert_int_equal(u.cpu_nr_periods, 10);
    assert_int_equal(u.cpu_nr_throttled, 4);
    assert_float_equal(u.cpu_throttled_secs, 0.2, 1e-9);
    assert_int_equal(u.mem_current_bytes, 1048576);
    assert_int_equal(u.mem_limit_bytes, 0);
    assert_int_equal(u.mem_rss_bytes, 524288);
    assert_int_equal(u.oom_kills, 1);
    assert_int_equal(u.processes, 2);

    put(t, "corral/x/memory.max", "268435456\n");
    assert_int_equal(cr_cgroup_usage(cg, &u, &err), 0);
    assert_int_equal(u.mem_limit_bytes, 268435456);

    pid_t *pids = NULL;
    size_t n = 0;
    assert_int_equal(cr_cgroup_pids(cg, &pids, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(pids[0], 10);
    assert_int_equal(pids[1], 20);
    free(pids);
    put(t, "corral/x/cgroup.procs", "10\nabc\n");
    assert_int_equal(cr_cgroup_pids(cg, &pids, &n, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "list processes of cgroup 'corral/x': parse '"));

    /* Empty group: cgroup.kill when present, else freeze + thaw. */
    put(t, "corral/x/cgroup.procs", "");
    assert_int_equal(cr_cgroup_kill_all(cg, &err), 0);
    assert_file(t, "corral/x/cgroup.freeze", "0");
    put(t, "corral/x/cgroup.kill", "");
    assert_int_equal(cr_cgroup_kill_all(cg, &err), 0);
    assert_file(t, "corral/x/cgroup.kill", "1");

    cr_cgroup_free(cg);
    cr_cgroup_system_free(sys);
}

/* ---- v1 -------------------------------------------------------------------------- */

static void v1_tree(const struct tree *t, bool with_pids)
{
    put(t, "cpu,cpuacct/cgroup.procs", "");
    put(t, "memory/cgroup.procs", "");
    if (with_pids)
        put(t, "pids/cgroup.procs", "");
    put(t, "freezer/cgroup.procs", "");
    put(t, "systemd/cgroup.procs", "");
    put(t, "unified/cgroup.controllers", "");
    put(t, "unified/cgroup.procs", "");
    char *l1 CR_AUTOFREE = cr_xasprintf("%s/cpu", t->root);
    char *l2 CR_AUTOFREE = cr_xasprintf("%s/cpuacct", t->root);
    assert_int_equal(symlink("cpu,cpuacct", l1), 0);
    assert_int_equal(symlink("cpu,cpuacct", l2), 0);
}

static void v1_files(const struct tree *t)
{
    put(t, "cpu,cpuacct/corral/x/cpu.shares", "");
    put(t, "cpu,cpuacct/corral/x/cpu.cfs_period_us", "");
    put(t, "cpu,cpuacct/corral/x/cpu.cfs_quota_us", "");
    put(t, "cpu,cpuacct/corral/x/cgroup.procs", "");
    put(t, "memory/corral/x/memory.limit_in_bytes", "");
    put(t, "memory/corral/x/cgroup.procs", "");
    put(t, "pids/corral/x/pids.max", "");
    put(t, "pids/corral/x/cgroup.procs", "");
    put(t, "freezer/corral/x/cgroup.procs", "");
    put(t, "freezer/corral/x/tasks", "");
    put(t, "freezer/corral/x/freezer.state", "THAWED\n");
}

static void test_v1_detect_create_write(void **state)
{
    struct tree *t = *state;
    v1_tree(t, true);
    struct cr_cgroup_system *sys = NULL;
    struct cr_cgroup *cg = NULL;
    struct cr_err err = {0};
    assert_int_equal(cr_cgroup_detect(t->root, &sys, &err), 0);
    assert_int_equal(cr_cgroup_system_version(sys), CR_CGROUP_V1);
    const char *ctrls[] = {"cpu", "cpuacct", "memory", "pids", "freezer"};
    for (size_t i = 0; i < 5; i++)
        assert_true(cr_cgroup_system_has(sys, ctrls[i]));

    assert_int_equal(cr_cgroup_create(sys, "corral/x", &cg, &err), 0);
    assert_true(exists(t, "cpu,cpuacct/corral/x"));
    assert_true(exists(t, "memory/corral/x"));
    assert_true(exists(t, "pids/corral/x"));
    assert_true(exists(t, "freezer/corral/x"));
    assert_false(exists(t, "systemd/corral"));
    assert_false(exists(t, "unified/corral"));
    v1_files(t);

    assert_int_equal(cr_cgroup_set_cpu(cg, 500, true, &err), 0);
    assert_file(t, "cpu,cpuacct/corral/x/cpu.shares", "512");
    assert_file(t, "cpu,cpuacct/corral/x/cpu.cfs_period_us", "100000");
    assert_file(t, "cpu,cpuacct/corral/x/cpu.cfs_quota_us", "50000");
    assert_int_equal(cr_cgroup_set_cpu(cg, 2000, false, &err), 0);
    assert_file(t, "cpu,cpuacct/corral/x/cpu.shares", "2048");
    assert_file(t, "cpu,cpuacct/corral/x/cpu.cfs_quota_us", "-1");
    assert_int_equal(cr_cgroup_set_memory(cg, 1 << 30, &err), 0);
    assert_file(t, "memory/corral/x/memory.limit_in_bytes", "1073741824");
    assert_int_equal(cr_cgroup_set_memory(cg, 0, &err), 0);
    assert_file(t, "memory/corral/x/memory.limit_in_bytes", "-1");
    assert_int_equal(cr_cgroup_set_pids(cg, 64, &err), 0);
    assert_file(t, "pids/corral/x/pids.max", "64");
    assert_int_equal(cr_cgroup_add_pid(cg, 777, &err), 0);
    assert_file(t, "cpu,cpuacct/corral/x/cgroup.procs", "777");
    assert_file(t, "memory/corral/x/cgroup.procs", "777");
    assert_file(t, "pids/corral/x/cgroup.procs", "777");
    assert_file(t, "freezer/corral/x/cgroup.procs", "777");

    /* Destroy needs an empty directory (on cgroupfs the files are not real). */
    assert_int_equal(cr_cgroup_destroy(cg, &err), -ENOTEMPTY);
    assert_non_null(strstr(err.msg, "destroy cgroup 'corral/x': rmdir '"));
    char *dirs[] = {"cpu,cpuacct/corral/x", "memory/corral/x", "pids/corral/x", "freezer/corral/x"};
    for (size_t i = 0; i < 4; i++) {
        char *path CR_AUTOFREE = cr_xasprintf("%s/%s", t->root, dirs[i]);
        assert_int_equal(cr_rm_rf(path, NULL), 0);
        assert_int_equal(mkdir(path, 0755), 0);
    }
    assert_int_equal(cr_cgroup_destroy(cg, &err), 0);
    for (size_t i = 0; i < 4; i++)
        assert_false(exists(t, dirs[i]));
    assert_true(exists(t, "memory/corral"));          /* parents stay */
    assert_int_equal(cr_cgroup_destroy(cg, &err), 0); /* already gone is fine */

    cr_cgroup_free(cg);
    cr_cgroup_system_free(sys);
}

static void test_v1_usage_kill(void **state)
{
    struct tree *t = *state;
    v1_tree(t, true);
    struct cr_cgroup_system *sys = NULL;
    struct cr_cgroup *cg = NULL;
    struct cr_err err = {0};
    assert_int_equal(cr_cgroup_detect(t->root, &sys, &err), 0);
    assert_int_equal(cr_cgroup_create(sys, "corral/x", &cg, &err), 0);
    v1_files(t);
    put(t, "cpu,cpuacct/corral/x/cpuacct.stat", "user 250\nsystem 50\n");
    put(t, "cpu,cpuacct/corral/x/cpu.stat",
        "nr_periods 5\nnr_throttled 2\nthrottled_time 1500000000\n");
    put(t, "memory/corral/x/memory.usage_in_bytes", "8192\n");
    put(t, "memory/corral/x/memory.limit_in_bytes", "9223372036854771712\n");
    put(t, "memory/corral/x/memory.stat", "cache 0\nrss 4096\nrss_huge 0\ntotal_rss 8192\n");
    put(t, "memory/corral/x/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
    put(t, "pids/corral/x/cgroup.procs", "5\n6\n7\n");

    struct cr_cgroup_usage u;
    assert_int_equal(cr_cgroup_usage(cg, &u, &err), 0);
    double hz = (double)sysconf(_SC_CLK_TCK);
    assert_float_equal(u.cpu_user_secs, 250 / hz, 1e-9);
    assert_float_equal(u.cpu_system_secs, 50 / hz, 1e-9);
    assert_int_equal(u.cpu_nr_periods, 5);
    assert_int_equal(u.cpu_nr_throttled, 2);
    assert_float_equal(u.cpu_throttled_secs, 1.5, 1e-9);
    assert_int_equal(u.mem_current_bytes, 8192);
    assert_int_equal(u.mem_limit_bytes, 0);
    assert_int_equal(u.mem_rss_bytes, 8192);
    assert_int_equal(u.oom_kills, 3);
    assert_int_equal(u.processes, 3);
    assert_int_equal(u.threads, 0); /* no pids.current in the tree yet */
    put(t, "pids/corral/x/pids.current", "7\n");
    assert_int_equal(cr_cgroup_usage(cg, &u, &err), 0);
    assert_int_equal(u.threads, 7);

    /* Older kernels: no oom_kill line, no total_rss; a real limit. */
    put(t, "memory/corral/x/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n");
    put(t, "memory/corral/x/memory.stat", "cache 0\nrss 4096\n");
    put(t, "memory/corral/x/memory.limit_in_bytes", "67108864\n");
    assert_int_equal(cr_cgroup_usage(cg, &u, &err), 0);
    assert_int_equal(u.oom_kills, 0);
    assert_int_equal(u.mem_rss_bytes, 4096);
    assert_int_equal(u.mem_limit_bytes, 67108864);

    put(t, "memory/corral/x/memory.usage_in_bytes", "lots\n");
    assert_int_equal(cr_cgroup_usage(cg, &u, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "read usage of cgroup 'corral/x': parse '"));

    /* Empty group: an empty cgroup cannot gain a process, so no freeze/thaw round trip. */
    put(t, "pids/corral/x/cgroup.procs", "");
    put(t, "freezer/corral/x/freezer.state", "untouched\n");
    assert_int_equal(cr_cgroup_kill_all(cg, &err), 0);
    assert_file(t, "freezer/corral/x/freezer.state", "untouched\n");

    cr_cgroup_free(cg);
    cr_cgroup_system_free(sys);
}

/* cpu_limit, peak memory, cgroup.procs paths, children and one-pass signals. */
static void test_limits_peak_paths_children_signal(void **state)
{
    struct tree *t = *state;
    v1_tree(t, true);
    struct cr_cgroup_system *sys = NULL;
    struct cr_cgroup *cg = NULL, *other = NULL;
    struct cr_err err = {0};
    assert_int_equal(cr_cgroup_detect(t->root, &sys, &err), 0);
    assert_int_equal(cr_cgroup_create(sys, "corral/x", &cg, &err), 0);
    assert_int_equal(cr_cgroup_create(sys, "corral/y", &other, &err), 0);
    v1_files(t);
    put(t, "memory/corral/notadir", "");
    put(t, "cpu,cpuacct/corral/x/cpuacct.stat", "user 0\nsystem 0\n");
    put(t, "memory/corral/x/memory.usage_in_bytes", "8192\n");
    put(t, "memory/corral/x/memory.limit_in_bytes", "67108864\n");
    put(t, "memory/corral/x/memory.stat", "rss 4096\n");
    put(t, "memory/corral/x/memory.max_usage_in_bytes", "12288\n");
    put(t, "cpu,cpuacct/corral/x/cpu.shares", "512\n");
    put(t, "cpu,cpuacct/corral/x/cpu.cfs_period_us", "100000\n");
    put(t, "cpu,cpuacct/corral/x/cpu.cfs_quota_us", "-1\n");
    struct cr_cgroup_usage u;
    assert_int_equal(cr_cgroup_usage(cg, &u, &err), 0);
    assert_float_equal(u.cpu_limit, 0.5, 1e-9); /* no quota: the shares say */
    assert_int_equal(u.mem_max_bytes, 12288);
    put(t, "cpu,cpuacct/corral/x/cpu.cfs_quota_us", "25000\n");
    assert_int_equal(cr_cgroup_usage(cg, &u, &err), 0);
    assert_float_equal(u.cpu_limit, 0.25, 1e-9);

    char **paths = NULL;
    size_t n = 0;
    cr_cgroup_procs_paths(cg, &paths, &n);
    assert_int_equal(n, 4); /* cpu,cpuacct memory pids freezer */
    for (size_t i = 0; i < n; i++) {
        assert_non_null(strstr(paths[i], t->root));
        const char *tail = "/corral/x/cgroup.procs";
        assert_string_equal(paths[i] + strlen(paths[i]) - strlen(tail), tail);
        free(paths[i]);
    }
    free(paths);

    char **kids = NULL;
    assert_int_equal(cr_cgroup_children(sys, "corral", &kids, &n, &err), 0);
    assert_int_equal(n, 2);
    bool x = false, y = false;
    for (size_t i = 0; i < n; i++) {
        x |= strcmp(kids[i], "x") == 0;
        y |= strcmp(kids[i], "y") == 0;
        free(kids[i]);
    }
    free(kids);
    assert_true(x && y);
    assert_int_equal(cr_cgroup_children(sys, "nothing/here", &kids, &n, &err), 0);
    assert_int_equal(n, 0);
    free(kids);
    assert_int_equal(cr_cgroup_children(sys, "../etc", &kids, &n, &err), -EINVAL);

    /* One pass of a signal to the listed members (a child of ours stands in). */
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        pause();
        _exit(0);
    }
    char *list CR_AUTOFREE = cr_xasprintf("%d\n", (int)child);
    put(t, "pids/corral/x/cgroup.procs", list);
    assert_int_equal(cr_cgroup_signal(cg, SIGTERM, &err), 0);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
    put(t, "pids/corral/x/cgroup.procs", "x\n");
    assert_int_equal(cr_cgroup_signal(cg, SIGKILL, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "signal processes of cgroup 'corral/x': parse '"));
    cr_cgroup_free(cg);
    cr_cgroup_free(other);
    cr_cgroup_system_free(sys);
}

static void test_v2_cpu_limit_peak_kill_file(void **state)
{
    struct tree *t = *state;
    v2_tree(t);
    put(t, "corral/x/cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n");
    put(t, "corral/x/cpu.max", "max 100000\n");
    put(t, "corral/x/cpu.weight", "200\n");
    put(t, "corral/x/memory.current", "4096\n");
    put(t, "corral/x/memory.max", "max\n");
    put(t, "corral/x/memory.stat", "anon 0\n");
    put(t, "corral/x/memory.peak", "65536\n");
    put(t, "corral/x/cgroup.procs", "");
    put(t, "corral/x/cgroup.kill", "");
    struct cr_cgroup_system *sys = NULL;
    struct cr_cgroup *cg = NULL;
    struct cr_err err = {0};
    assert_int_equal(cr_cgroup_detect(t->root, &sys, &err), 0);
    assert_int_equal(cr_cgroup_open(sys, "corral/x", &cg, &err), 0);
    struct cr_cgroup_usage u;
    assert_int_equal(cr_cgroup_usage(cg, &u, &err), 0);
    assert_float_equal(u.cpu_limit, 2.0, 1e-9); /* weight 200 = 2048 shares = 2 cpus */
    assert_int_equal(u.mem_max_bytes, 65536);
    put(t, "corral/x/cpu.max", "150000 100000\n");
    assert_int_equal(cr_cgroup_usage(cg, &u, &err), 0);
    assert_float_equal(u.cpu_limit, 1.5, 1e-9);
    /* SIGKILL on v2 is one write to cgroup.kill, when the kernel has it */
    assert_int_equal(cr_cgroup_signal(cg, SIGKILL, &err), 0);
    assert_file(t, "corral/x/cgroup.kill", "1");
    char **paths = NULL;
    size_t n = 0;
    cr_cgroup_procs_paths(cg, &paths, &n);
    assert_int_equal(n, 1);
    char *want CR_AUTOFREE = cr_xasprintf("%s/corral/x/cgroup.procs", t->root);
    assert_string_equal(paths[0], want);
    free(paths[0]);
    free(paths);
    char **kids = NULL;
    assert_int_equal(cr_cgroup_children(sys, "corral", &kids, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(kids[0], "x");
    free(kids[0]);
    free(kids);
    cr_cgroup_free(cg);
    cr_cgroup_system_free(sys);
}

static void test_v1_missing_controller(void **state)
{
    struct tree *t = *state;
    v1_tree(t, false);
    struct cr_cgroup_system *sys = NULL;
    struct cr_cgroup *cg = NULL;
    struct cr_err err = {0};
    assert_int_equal(cr_cgroup_detect(t->root, &sys, &err), 0);
    assert_false(cr_cgroup_system_has(sys, "pids"));
    assert_int_equal(cr_cgroup_create(sys, "corral/x", &cg, &err), 0);
    assert_int_equal(cr_cgroup_set_pids(cg, 10, &err), -ENOTSUP);
    assert_string_equal(err.msg,
                        "set pids limit of cgroup 'corral/x': controller 'pids' not available");
    cr_cgroup_free(cg);
    cr_cgroup_system_free(sys);
}

static void test_bad_names(void **state)
{
    struct tree *t = *state;
    v2_tree(t);
    struct cr_cgroup_system *sys = NULL;
    struct cr_err err = {0};
    assert_int_equal(cr_cgroup_detect(t->root, &sys, &err), 0);
    const char *bad[] = {"",          "/corral/x", "corral/../x", "corral//x",
                         "corral/x/", ".",         "..",          "corral/./x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cr_cgroup *cg = (void *)1;
        assert_int_equal(cr_cgroup_create(sys, bad[i], &cg, &err), -EINVAL);
        assert_null(cg);
    }
    assert_string_equal(err.msg, "create cgroup 'corral/./x': bad name");
    cr_cgroup_system_free(sys);
}

/* ---- the real hierarchy ---------------------------------------------------------- */

#define REAL_ROOT "/sys/fs/cgroup"

static const char *const real_hiers[] = {"cpu",    "cpuacct", "cpu,cpuacct",
                                         "memory", "pids",    "freezer"};

struct real {
    char parent[64]; /* "corral-test-<pid>" */
    char leaf[80];   /* parent + "/x" */
    pid_t child;
};

static char *real_path(const char *hier, const char *name, const char *file)
{
    return cr_xasprintf(REAL_ROOT "/%s/%s%s%s", hier, name, file ? "/" : "", file ? file : "");
}

static int real_setup(void **state)
{
    struct real *r = cr_xcalloc(1, sizeof(*r));
    snprintf(r->parent, sizeof(r->parent), "corral-test-%d", (int)getpid());
    snprintf(r->leaf, sizeof(r->leaf), "%s/x", r->parent);
    *state = r;
    return 0;
}

/* Whatever happened: kill our child and anything left in our own cgroup, remove our dirs. */
static int real_teardown(void **state)
{
    struct real *r = *state;
    if (r->child > 0) {
        kill(r->child, SIGKILL);
        waitpid(r->child, NULL, 0);
    }
    for (size_t i = 0; i < sizeof(real_hiers) / sizeof(real_hiers[0]); i++) {
        char *procs CR_AUTOFREE = real_path(real_hiers[i], r->leaf, "cgroup.procs");
        char *text CR_AUTOFREE = NULL;
        if (cr_read_file(procs, &text, NULL, NULL) == 0)
            for (char *p = text; *p;) {
                char *end;
                long pid = strtol(p, &end, 10);
                if (end == p)
                    break;
                if (pid > 0)
                    kill((pid_t)pid, SIGKILL);
                p = end;
                while (*p == '\n')
                    p++;
            }
        char *leaf CR_AUTOFREE = real_path(real_hiers[i], r->leaf, NULL);
        char *parent CR_AUTOFREE = real_path(real_hiers[i], r->parent, NULL);
        for (int tries = 0; tries < 100 && rmdir(leaf) < 0 && errno == EBUSY; tries++)
            usleep(10000);
        rmdir(parent);
    }
    free(r);
    return 0;
}

static void test_real_v1(void **state)
{
    struct real *r = *state;
    if (geteuid() != 0) {
        print_message("[ SKIP ] real cgroups: not root\n");
        skip();
    }
    if (access(REAL_ROOT "/cgroup.controllers", F_OK) == 0) {
        print_message("[ SKIP ] real cgroups: " REAL_ROOT " is cgroup2; the real test covers "
                      "v1 only (v2 formats are covered above)\n");
        skip();
    }
    if (access(REAL_ROOT "/memory/cgroup.procs", W_OK) != 0) {
        print_message("[ SKIP ] real cgroups: no writable v1 memory hierarchy at " REAL_ROOT
                      "/memory\n");
        skip();
    }
    struct cr_cgroup_system *sys = NULL;
    struct cr_cgroup *cg = NULL, *parent = NULL;
    struct cr_err err = {0};
    assert_int_equal(cr_cgroup_detect(REAL_ROOT, &sys, &err), 0);
    assert_int_equal(cr_cgroup_system_version(sys), CR_CGROUP_V1);
    int rc = cr_cgroup_create(sys, r->leaf, &cg, &err);
    if (rc == -EACCES || rc == -EROFS || rc == -EPERM) {
        print_message("[ SKIP ] real cgroups: %s\n", err.msg);
        cr_cgroup_system_free(sys);
        skip();
    }
    if (rc < 0)
        fail_msg("%s", err.msg);

    /* A child that waits until it is in the cgroup, then leaves a detached daemon. */
    int go[2];
    assert_int_equal(pipe(go), 0);
    r->child = fork();
    assert_true(r->child >= 0);
    if (r->child == 0) {
        char c;
        close(go[1]);
        if (read(go[0], &c, 1) != 1)
            _exit(126);
        execl("/bin/sh", "sh", "-c", "sleep 30 & exec sleep 30", (char *)NULL);
        _exit(127);
    }
    close(go[0]);
    if (cr_cgroup_add_pid(cg, r->child, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(write(go[1], "g", 1), 1);
    close(go[1]);

    pid_t *pids = NULL;
    size_t n = 0;
    for (int i = 0; i < 400; i++) {
        free(pids);
        assert_int_equal(cr_cgroup_pids(cg, &pids, &n, &err), 0);
        if (n == 2)
            break;
        usleep(5000);
    }
    assert_int_equal(n, 2);
    free(pids);

    if (cr_cgroup_set_cpu(cg, 500, true, &err) < 0 ||
        cr_cgroup_set_memory(cg, 64u << 20, &err) < 0 || cr_cgroup_set_pids(cg, 16, &err) < 0)
        fail_msg("%s", err.msg);
    char *quota_path CR_AUTOFREE = real_path("cpu", r->leaf, "cpu.cfs_quota_us");
    char *mem_path CR_AUTOFREE = real_path("memory", r->leaf, "memory.limit_in_bytes");
    char *pids_path CR_AUTOFREE = real_path("pids", r->leaf, "pids.max");
    char *text = NULL;
    assert_int_equal(cr_read_file(quota_path, &text, NULL, NULL), 0);
    assert_string_equal(text, "50000\n");
    free(text);
    assert_int_equal(cr_read_file(mem_path, &text, NULL, NULL), 0);
    assert_string_equal(text, "67108864\n");
    free(text);
    assert_int_equal(cr_read_file(pids_path, &text, NULL, NULL), 0);
    assert_string_equal(text, "16\n");
    free(text);

    /* The kernel refuses a pid that does not exist: the message names cgroup and file. */
    assert_int_equal(cr_cgroup_add_pid(cg, INT_MAX, &err), -ESRCH);
    assert_non_null(strstr(err.msg, "add pid 2147483647 to cgroup 'corral-test-"));
    assert_non_null(strstr(err.msg, "/x/cgroup.procs': No such process"));

    struct cr_cgroup_usage u;
    if (cr_cgroup_usage(cg, &u, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(u.processes, 2);
    assert_true(u.mem_current_bytes > 0);
    assert_int_equal(u.mem_limit_bytes, 64u << 20);

    if (cr_cgroup_kill_all(cg, &err) < 0)
        fail_msg("%s", err.msg);
    int status = 0;
    assert_int_equal(waitpid(r->child, &status, 0), r->child);
    r->child = 0;
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    assert_int_equal(cr_cgroup_pids(cg, &pids, &n, &err), 0);
    assert_int_equal(n, 0);
    free(pids);

    if (cr_cgroup_destroy(cg, &err) < 0)
        fail_msg("%s", err.msg);
    if (cr_cgroup_open(sys, r->parent, &parent, &err) < 0 || cr_cgroup_destroy(parent, &err) < 0)
        fail_msg("%s", err.msg);
    char *gone CR_AUTOFREE = real_path("memory", r->parent, NULL);
    assert_int_equal(access(gone, F_OK), -1);
    cr_cgroup_free(parent);
    cr_cgroup_free(cg);
    cr_cgroup_system_free(sys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conversions),
        cmocka_unit_test_setup_teardown(test_detect_nothing, tree_setup, tree_teardown),
        cmocka_unit_test_setup_teardown(test_v2_detect_create_write, tree_setup, tree_teardown),
        cmocka_unit_test_setup_teardown(test_v2_error_names_file, tree_setup, tree_teardown),
        cmocka_unit_test_setup_teardown(test_v2_usage_pids_kill, tree_setup, tree_teardown),
        cmocka_unit_test_setup_teardown(test_v1_detect_create_write, tree_setup, tree_teardown),
        cmocka_unit_test_setup_teardown(test_v1_usage_kill, tree_setup, tree_teardown),
        cmocka_unit_test_setup_teardown(test_limits_peak_paths_children_signal, tree_setup,
                                        tree_teardown),
        cmocka_unit_test_setup_teardown(test_v2_cpu_limit_peak_kill_file, tree_setup,
                                        tree_teardown),
        cmocka_unit_test_setup_teardown(test_v1_missing_controller, tree_setup, tree_teardown),
        cmocka_unit_test_setup_teardown(test_bad_names, tree_setup, tree_teardown),
        cmocka_unit_test_setup_teardown(test_real_v1, real_setup, real_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
