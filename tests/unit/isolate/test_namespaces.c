/*
 * test_namespaces.c - the "namespaces", "filesystem" and "hardening" isolators with real
 * containers (root): the task is pid 1 and sees only its own processes, the hostname is
 * the given one (or the container id), network "none" has only lo, up; volumes bind
 * read-write and read-only (a write to the read-only one fails), a missing host path
 * fails in prepare, /tmp is private to the sandbox; mount and unshare (user namespaces
 * too) fail with EPERM under the seccomp filter and work without it, clone with a
 * namespace flag fails with EPERM and clone3 with ENOSYS (the test binary re-runs itself
 * inside a container as the helper), non-default personalities are refused; the capability bounding
 * set is Docker's 14, and a root task's effective set too; a failing child step is reported with
 * its name.
 *
 * Every test has its own temp dir and cgroups root, both removed at teardown.
 */
#include "harness.h"

#include <dirent.h>
#include <sched.h>
#include <sys/syscall.h>

#include "isolate/hardening.h"

static void test_pid1_hostname_own_proc(void **state)
{
    struct h_fixture *f = *state;
    H_NEED_ROOT();
    assert_int_equal(h_new_cz(f, H_ALL, NULL), 0);
    struct h_job j = {.script = "echo $$; hostname; read -r a b c < /proc/self/stat; "
                                "echo stat=$a; ps -e -o pid= > ps.out; cat ps.out | wc -l; "
                                "ls /proc | grep -c '^[0-9]'",
                      .hostname = "web-1"};
    char *out = h_run_script(f, &j);
    assert_int_equal(f->slots[0].ex.code, 0);
    /* sh is pid 1; `read` is a builtin, so /proc/self is the shell itself; ps sees sh
     * and itself; ls sees sh, itself and grep */
    assert_string_equal(out, "1\nweb-1\nstat=1\n2\n3\n");
    free(out);
}

static void test_hostname_defaults_to_container_id(void **state)
{
    struct h_fixture *f = *state;
    H_NEED_ROOT();
    assert_int_equal(h_new_cz(f, H_ALL, NULL), 0);
    struct h_job j = {.id = "web.3-task", .script = "hostname"};
    char *out = h_run_script(f, &j);
    assert_string_equal(out, "web.3-task\n");
    free(out);
    /* the host's name did not change */
    char host[256];
    assert_int_equal(gethostname(host, sizeof(host)), 0);
    assert_string_not_equal(host, "web.3-task");
}

static void test_network_none_only_lo_up(void **state)
{
    struct h_fixture *f = *state;
    H_NEED_ROOT();
    assert_int_equal(h_new_cz(f, H_ALL, NULL), 0);
    struct h_job j = {.script = "ip -o link | wc -l; ip -o link | cut -d' ' -f2,3; "
                                "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '",
                      .network = "none"};
    char *out = h_run_script(f, &j);
    assert_int_equal(f->slots[0].ex.code, 0);
    assert_non_null(strstr(out, "1\nlo: <LOOPBACK,UP,LOWER_UP>\nlo\n"));
    free(out);
}

static void test_network_host_and_unknown(void **state)
{
    struct h_fixture *f = *state;
    H_NEED_ROOT();
    assert_int_equal(h_new_cz(f, H_ALL, NULL), 0);
    struct h_job host = {.script = "tail -n +3 /proc/net/dev | wc -l"};
    char *out = h_run_script(f, &host);
    assert_true(atoi(out) >= 1);
    free(out);
    struct h_job bad = {.script = "true", .network = "bridge"};
    struct cr_err err;
    cr_err_clear(&err);
    assert_int_equal(h_try_start(f, 1, &bad, &err), -EINVAL);
    assert_string_equal(err.msg, "unknown network mode 'bridge' (known: host, none)");
}

static void test_network_none_needs_namespaces(void **state)
{
    struct h_fixture *f = *state;
    H_NEED_ROOT();
    assert_int_equal(h_new_cz(f, "posix,cgroups", NULL), 0);
    struct h_job j = {.script = "true", .network = "none"};
    struct cr_err err;
    cr_err_clear(&err);
    assert_int_equal(h_try_start(f, 0, &j, &err), -EINVAL);
    assert_string_equal(err.msg, "network mode 'none' needs the 'namespaces' isolator");
    assert_int_equal(cr_containerizer_count(f->cz), 0);
}

/* ---- filesystem ------------------------------------------------------------------ */

static void test_volumes_rw_ro_absolute(void **state)
{
    struct h_fixture *f = *state;
    H_NEED_ROOT();
    assert_int_equal(h_new_cz(f, H_ALL, NULL), 0);
    char *rw CR_AUTOFREE = cr_xasprintf("%s/host-rw", f->dir);
    char *ro CR_AUTOFREE = cr_xasprintf("%s/host-ro", f->dir);
    char *file CR_AUTOFREE = cr_xasprintf("%s/host-file", f->dir);
    assert_int_equal(cr_mkdir_p(rw, 0755, NULL), 0);
    assert_int_equal(cr_mkdir_p(ro, 0755, NULL), 0);
    char *in CR_AUTOFREE = cr_xasprintf("%s/in.txt", ro);
    assert_int_equal(cr_write_file_atomic(in, "from-host\n", 10, NULL), 0);
    assert_int_equal(cr_write_file_atomic(file, "single\n", 7, NULL), 0);
    /* an absolute container path outside /tmp (which the private /tmp covers) */
    char abs[] = "/var/tmp/cr-iso-abs-XXXXXX";
    assert_non_null(mkdtemp(abs));
    struct cr_volume vols[] = {
        {.host_path = rw, .container_path = "data/rw"},
        {.host_path = ro, .container_path = "ro", .read_only = true},
        {.host_path = file, .container_path = "etc/one.txt", .read_only = true},
        {.host_path = rw, .container_path = abs},
    };
    char script[512];
    snprintf(script, sizeof(script),
             "echo w > data/rw/out.txt && echo rw-ok; cat ro/in.txt; "
             "if echo x > ro/new.txt; then echo ro-writable; else echo ro-denied; fi; "
             "cat etc/one.txt; cat %s/out.txt",
             abs);
    struct h_job j = {.script = script, .volumes = vols, .nvolumes = 4};
    char *out = h_run_script(f, &j);
    char *err = h_slurp(f->slots[0].err);
    assert_string_equal(out, "rw-ok\nfrom-host\nro-denied\nsingle\nw\n");
    assert_non_null(strstr(err, "Read-only file system"));
    free(out);
    free(err);
    char *written CR_AUTOFREE = cr_xasprintf("%s/out.txt", rw);
    char *got CR_AUTOFREE = h_slurp(written);
    assert_string_equal(got, "w\n");
    char *denied CR_AUTOFREE = cr_xasprintf("%s/new.txt", ro);
    assert_false(h_path_exists(denied));
    /* nothing leaked to the host's mount table: the mount points are plain again */
    char *mp CR_AUTOFREE = cr_xasprintf("%s/data/rw/out.txt", f->slots[0].sandbox);
    assert_false(h_path_exists(mp));
    char *mounts CR_AUTOFREE = h_slurp("/proc/self/mountinfo");
    assert_null(strstr(mounts, f->dir));
    assert_null(strstr(mounts, abs));
    rmdir(abs);
}

static void test_volume_missing_paths_fail_in_prepare(void **state)
{
    struct h_fixture *f = *state;
    H_NEED_ROOT();
    assert_int_equal(h_new_cz(f, H_ALL, NULL), 0);
    struct cr_volume missing[] = {{.host_path = "/nonexistent/x", .container_path = "x"}};
    struct h_job j = {.script = "true", .volumes = missing, .nvolumes = 1};
    struct cr_err err;
    cr_err_clear(&err);
    assert_int_equal(h_try_start(f, 0, &j, &err), -ENOENT);
    assert_string_equal(err.msg, "prepare isolator 'filesystem': volume host path "
                                 "'/nonexistent/x' does not exist");
    struct cr_volume no_target[] = {{.host_path = "/etc", .container_path = "/nonexistent/y"}};
    j.volumes = no_target;
    assert_int_equal(h_try_start(f, 1, &j, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "volume container path '/nonexistent/y' does not exist"));
    struct cr_volume escape[] = {{.host_path = "/etc", .container_path = "a/../../x"}};
    j.volumes = escape;
    assert_int_equal(h_try_start(f, 2, &j, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "leaves the sandbox"));
    assert_int_equal(cr_containerizer_count(f->cz), 0);
    assert_false(f->slots[0].exited); /* no callback for a launch that never started */

    /* and volumes without the filesystem isolator are refused, not ignored */
    cr_containerizer_free(f->cz);
    assert_int_equal(h_new_cz(f, "posix,cgroups,namespaces", NULL), 0);
    struct cr_volume ok[] = {{.host_path = "/etc", .container_path = "etc"}};
    j.volumes = ok;
    assert_int_equal(h_try_start(f, 0, &j, &err), -EINVAL);
    assert_string_equal(err.msg, "volumes need the 'filesystem' isolator");
}

static void test_private_tmp(void **state)
{
    struct h_fixture *f = *state;
    H_NEED_ROOT();
    assert_int_equal(h_new_cz(f, H_ALL, NULL), 0);
    char name[64];
    snprintf(name, sizeof(name), "cr-iso-private-%d", (int)getpid());
    char script[512];
    char sandbox[160]; /* where h_start puts slot 0's sandbox */
    snprintf(sandbox, sizeof(sandbox), "%s/c0", f->dir);
    snprintf(script, sizeof(script),
             "echo secret > /tmp/%s && ls -A /tmp; stat -c %%a /tmp; pwd; "
             "test -f %s/stdout && echo sandbox-visible",
             name, sandbox);
    struct h_job j = {.script = script};
    char *out = h_run_script(f, &j);
    /* The sandbox lives under the host's /tmp (f->dir): it stays visible at its own path
     * inside the private /tmp, and stays the working directory. */
    char want[512];
    snprintf(want, sizeof(want), "%s\n%s\n1777\n%s\nsandbox-visible\n", name, f->dir + 5, sandbox);
    assert_string_equal(out, want);
    free(out);
    char *inside CR_AUTOFREE = cr_xasprintf("%s/tmp/%s", sandbox, name);
    char *got CR_AUTOFREE = h_slurp(inside);
    assert_string_equal(got, "secret\n");
    char *host CR_AUTOFREE = cr_xasprintf("/tmp/%s", name);
    assert_false(h_path_exists(host));
}

static void test_failed_mount_names_the_step(void **state)
{
    struct h_fixture *f = *state;
    H_NEED_ROOT();
    assert_int_equal(h_new_cz(f, H_ALL, NULL), 0);
    /* a directory bound onto an existing file: the kernel refuses in the child */
    struct cr_volume vols[] = {{.host_path = "/etc", .container_path = "/etc/hostname"}};
    struct h_job j = {.script = "echo not-reached", .volumes = vols, .nvolumes = 1};
    char *out = h_run_script(f, &j);
    assert_string_equal(out, "");
    free(out);
    const struct cr_container_exit *ex = &f->slots[0].ex;
    assert_false(ex->launched);
    assert_int_equal(ex->error_code, ENOTDIR);
    assert_string_equal(ex->error, "bind volume '/etc' on '/etc/hostname': Not a directory");
    char *err = h_slurp(f->slots[0].err);
    assert_non_null(strstr(err, "corral: bind volume '/etc' on '/etc/hostname'"));
    free(err);
}

/* ---- hardening ------------------------------------------------------------------- */

static void test_seccomp_blocks_mount_unshare_personality(void **state)
{
    struct h_fixture *f = *state;
    H_NEED_ROOT();
    assert_int_equal(h_new_cz(f, H_ALL, NULL), 0);
    struct h_job j = {.script = "mkdir -p m; mount -t tmpfs none m; echo mount=$?; "
                                "unshare -U true; echo unshare=$?; "
                                "setarch $(uname -m) -R true; echo aslr-off=$?; "
                                "setarch $(uname -m) true; echo linux=$?"};
    char *out = h_run_script(f, &j);
    char *err = h_slurp(f->slots[0].err);
    print_message("stdout: %sstderr: %s", out, err);
    assert_null(strstr(out, "mount=0"));
    assert_non_null(strstr(out, "unshare=1\n"));
    assert_null(strstr(out, "aslr-off=0"));
    assert_non_null(strstr(out, "linux=0\n"));
    assert_non_null(strstr(err, "unshare failed: Operation not permitted"));
    assert_non_null(strstr(err, "Operation not permitted")); /* setarch */
    free(out);
    free(err);
}

static void test_unconfined_without_seccomp(void **state)
{
    struct h_fixture *f = *state;
    H_NEED_ROOT();
    f->opts.seccomp = false;
    assert_int_equal(h_new_cz(f, H_ALL, NULL), 0);
    /* a user namespace needs no capability: only the filter stops it */
    struct h_job j = {.script =
                          "unshare -U true; echo unshare=$?; grep Seccomp: /proc/self/status"};
    char *out = h_run_script(f, &j);
    assert_string_equal(out, "unshare=0\nSeccomp:\t0\n");
    free(out);
}

static void test_capabilities_reduced(void **state)
{
    struct h_fixture *f = *state;
    H_NEED_ROOT();
    assert_int_equal(h_new_cz(f, H_ALL, NULL), 0);
    assert_int_equal(cr_hardening_default_caps(), UINT64_C(0xa80425fb));
    struct h_job root = {.script = "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|"
                                   "Seccomp):' /proc/self/status"};
    char *out = h_run_script(f, &root);
    assert_string_equal(out, "CapInh:\t0000000000000000\n"
                             "CapPrm:\t00000000a80425fb\n"
                             "CapEff:\t00000000a80425fb\n"
                             "CapBnd:\t00000000a80425fb\n"
                             "CapAmb:\t0000000000000000\n"
                             "NoNewPrivs:\t1\n"
                             "Seccomp:\t2\n");
    free(out);
    /* a non-root task has no capabilities at all, and the same bounding set */
    struct h_job nobody = {.id = "c-nobody",
                           .script = "id -u; grep -E '^(CapEff|CapBnd):' /proc/self/status",
                           .user = "nobody"};
    h_start(f, 1, &nobody);
    assert_true(h_run_until(f, &f->slots[1].exited, 10000));
    out = h_slurp(f->slots[1].out);
    assert_string_equal(out, "65534\nCapEff:\t0000000000000000\nCapBnd:\t00000000a80425fb\n");
    free(out);
}

static void test_seccomp_filter_exports(void **state)
{
    (void)state;
    void *prog = NULL;
    size_t len = 0;
    struct cr_err err;
    cr_err_clear(&err);
    assert_int_equal(cr_hardening_seccomp_bpf(&prog, &len, &err), 0);
    assert_non_null(prog);
    assert_true(len > 10 && len < 4096);
    free(prog);
}

/* Set by main: this test binary, re-executed inside a container as a helper. */
static char self_exe[512];

/* The helper: try clone with namespace flags, plain clone, clone3; print the errnos. */
static int clone_helper(void)
{
    long r = syscall(SYS_clone, (unsigned long)(CLONE_NEWUTS | SIGCHLD), NULL, NULL, NULL, NULL);
    if (r == 0)
        _exit(0);
    printf("clone-newuts=%s\n", r < 0 ? strerror(errno) : "ok");
    if (r > 0)
        waitpid((pid_t)r, NULL, 0);
    r = syscall(SYS_clone, (unsigned long)SIGCHLD, NULL, NULL, NULL, NULL);
    if (r == 0)
        _exit(0);
    printf("clone-plain=%s\n", r < 0 ? strerror(errno) : "ok");
    if (r > 0)
        waitpid((pid_t)r, NULL, 0);
    struct {
        uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
    } args = {.exit_signal = SIGCHLD};
    r = syscall(SYS_clone3, &args, sizeof(args));
    if (r == 0)
        _exit(0);
    printf("clone3=%s\n", r < 0 ? strerror(errno) : "ok");
    if (r > 0)
        waitpid((pid_t)r, NULL, 0);
    r = syscall(SYS_personality, 0xffffffffUL);
    printf("personality-query=%s\n", r < 0 ? strerror(errno) : "ok");
    fflush(stdout);
    return 0;
}

static void test_seccomp_clone_rules(void **state)
{
    struct h_fixture *f = *state;
    H_NEED_ROOT();
    assert_int_equal(h_new_cz(f, H_ALL, NULL), 0);
    char script[700];
    snprintf(script, sizeof(script), "ASAN_OPTIONS=detect_leaks=0 exec %s --clone-helper",
             self_exe);
    struct h_job j = {.script = script};
    char *out = h_run_script(f, &j);
    char *err = h_slurp(f->slots[0].err);
    if (strcmp(out, "") == 0)
        print_message("helper stderr: %s\n", err);
    assert_string_equal(out, "clone-newuts=Operation not permitted\nclone-plain=ok\n"
                             "clone3=Function not implemented\npersonality-query=ok\n");
    free(out);
    free(err);
}

static void test_kill_group_in_pid_namespace(void **state)
{
    struct h_fixture *f = *state;
    H_NEED_ROOT();
    assert_int_equal(h_new_cz(f, "posix,namespaces", NULL), 0);
    /* no cgroups: the pid namespace alone takes the daemon down with pid 1 */
    struct h_job j = {.script = "setsid sh -c 'exec sleep 60' & sleep 0.2; echo ready; "
                                "exec sleep 60"};
    struct cr_container *c = h_start(f, 0, &j);
    assert_true(h_wait_text(f, f->slots[0].out, "ready", 5000));
    struct cr_usage u;
    assert_int_equal(cr_container_usage(c, &u, NULL), 0);
    assert_int_equal(u.processes, 1); /* the daemon left the session: posix cannot see it */
    char **paths = NULL;
    size_t n = 7;
    assert_int_equal(cr_container_cgroup_procs(c, &paths, &n), 0);
    assert_int_equal(n, 0);
    assert_null(paths);
    /* find the daemon: the host pid whose pid namespace is the leader's */
    char link[64], leader_ns[64] = "", ns[64];
    snprintf(link, sizeof(link), "/proc/%d/ns/pid", (int)cr_container_pid(c));
    ssize_t len = readlink(link, leader_ns, sizeof(leader_ns) - 1);
    assert_true(len > 0);
    leader_ns[len] = '\0';
    pid_t daemon = 0;
    DIR *proc = opendir("/proc");
    assert_non_null(proc);
    struct dirent *e;
    while (!daemon && (e = readdir(proc))) {
        pid_t p = (pid_t)atoi(e->d_name);
        if (p <= 0 || p == cr_container_pid(c))
            continue;
        snprintf(link, sizeof(link), "/proc/%d/ns/pid", (int)p);
        len = readlink(link, ns, sizeof(ns) - 1);
        if (len <= 0)
            continue;
        ns[len] = '\0';
        if (strcmp(ns, leader_ns) == 0)
            daemon = p;
    }
    closedir(proc);
    assert_true(daemon > 0);
    h_stop(f, 0);
    for (int i = 0; i < 100 && !h_pid_dead(daemon); i++)
        usleep(10000);
    assert_true(h_pid_dead(daemon));
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--clone-helper") == 0)
        return clone_helper();
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
    if (n > 0)
        self_exe[n] = '\0';
#define T(name) cmocka_unit_test_setup_teardown(name, h_setup, h_teardown)
    const struct CMUnitTest tests[] = {
        T(test_pid1_hostname_own_proc),
        T(test_hostname_defaults_to_container_id),
        T(test_network_none_only_lo_up),
        T(test_network_host_and_unknown),
        T(test_network_none_needs_namespaces),
        T(test_volumes_rw_ro_absolute),
        T(test_volume_missing_paths_fail_in_prepare),
        T(test_private_tmp),
        T(test_failed_mount_names_the_step),
        T(test_seccomp_blocks_mount_unshare_personality),
        T(test_unconfined_without_seccomp),
        T(test_capabilities_reduced),
        cmocka_unit_test(test_seccomp_filter_exports),
        T(test_seccomp_clone_rules),
        T(test_kill_group_in_pid_namespace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
