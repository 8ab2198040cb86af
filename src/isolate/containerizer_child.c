/*
 * containerizer_child.c - the child between clone and exec (see containerizer_child.h).
 *
 * Order, each step reporting its errno and itself on failure: reset signals, setsid,
 * wait for the go-ahead, make / private (new mount namespace), chdir to the sandbox,
 * the launch info's mounts, /proc, hostname, lo up, stdio, close-on-exec sweep,
 * capability bounding set and ambient set, setgroups/setgid/setuid, the capability
 * sets of a root task, no_new_privs, seccomp, exec. The chdir comes before the mounts
 * so that a sandbox below a directory that gets covered (a private /tmp) stays the
 * working directory; seccomp comes last so that it filters only the task.
 */
#include "isolate/containerizer_child.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <net/if.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static void __attribute__((noreturn))
child_fail_at(int sync_fd, enum cr_child_step step, int err, int index)
{
    struct cr_child_report rep = {.step = (int32_t)step, .err = (int32_t)err, .index = index};
    ssize_t n;
    do {
        n = send(sync_fd, &rep, sizeof(rep), MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    _exit(127);
}

static void __attribute__((noreturn)) child_fail(int sync_fd, enum cr_child_step step, int err)
{
    child_fail_at(sync_fd, step, err, 0);
}

/* Make fd become target, clearing close-on-exec (dup2 keeps the flag if fd == target). */
static int move_fd(int fd, int target)
{
    if (fd == target)
        return fcntl(fd, F_SETFD, 0);
    return dup2(fd, target) < 0 ? -1 : 0;
}

static int loopback_up(void)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, "lo", 3);
    int rc = ioctl(s, SIOCGIFFLAGS, &ifr);
    if (rc == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        rc = ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    int saved = errno;
    close(s);
    errno = saved;
    return rc;
}

/* E and P reduced to keep (and to what the process has), I emptied. */
static int reduce_cap_sets(uint64_t keep)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof(data));
    if (syscall(SYS_capget, &hdr, data) < 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        uint32_t k = (uint32_t)(keep >> (32 * i));
        data[i].effective &= k;
        data[i].permitted &= k;
        data[i].inheritable = 0;
    }
    return (int)syscall(SYS_capset, &hdr, data);
}

static void setup_namespaces(const struct cr_child_args *a)
{
    if (a->private_root && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        child_fail(a->sync_fd, CR_STEP_MOUNT_PRIVATE, errno);
    if (chdir(a->sandbox) < 0)
        child_fail(a->sync_fd, CR_STEP_CHDIR, errno);
    for (size_t i = 0; i < a->nmounts; i++) {
        const struct cr_mount *m = &a->mounts[i];
        if (mount(m->source, m->target, m->fstype, m->flags, NULL) < 0)
            child_fail_at(a->sync_fd, CR_STEP_MOUNT, errno, (int)i);
    }
    if (a->mount_proc && mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        child_fail(a->sync_fd, CR_STEP_MOUNT_PROC, errno);
    if (a->hostname && sethostname(a->hostname, a->hostname_len) < 0)
        child_fail(a->sync_fd, CR_STEP_HOSTNAME, errno);
    if (a->loopback_up && loopback_up() < 0)
        child_fail(a->sync_fd, CR_STEP_LOOPBACK, errno);
}

static void drop_privileges(const struct cr_child_args *a)
{
    if (a->drop_caps) {
        for (int cap = 0; cap <= a->cap_last && cap < 64; cap++) {
            if (a->cap_keep & (UINT64_C(1) << cap))
                continue;
            if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
                child_fail_at(a->sync_fd, CR_STEP_CAPBSET, errno, cap);
        }
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
            child_fail(a->sync_fd, CR_STEP_AMBIENT, errno);
    }
    if (a->switch_user) {
        /* Raw system calls: libc's would signal the threads of a multi-threaded parent. */
        if (syscall(SYS_setgroups, (size_t)a->ngroups, a->groups) < 0)
            child_fail(a->sync_fd, CR_STEP_SETGROUPS, errno);
        if (syscall(SYS_setgid, a->gid) < 0)
            child_fail(a->sync_fd, CR_STEP_SETGID, errno);
        if (syscall(SYS_setuid, a->uid) < 0)
            child_fail(a->sync_fd, CR_STEP_SETUID, errno);
    }
    if (a->reduce_cap_sets && reduce_cap_sets(a->cap_keep) < 0)
        child_fail(a->sync_fd, CR_STEP_CAPS, errno);
    if (a->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        child_fail(a->sync_fd, CR_STEP_NO_NEW_PRIVS, errno);
    /* SECCOMP_MODE_FILTER = 2 (linux/seccomp.h) */
    if (a->seccomp_prog && prctl(PR_SET_SECCOMP, 2, a->seccomp_prog, 0, 0) < 0)
        child_fail(a->sync_fd, CR_STEP_SECCOMP, errno);
}

void cr_child_run(const struct cr_child_args *a)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &sa, NULL); /* reserved real-time signals fail harmlessly */
    if (setsid() < 0)
        child_fail(a->sync_fd, CR_STEP_SETSID, errno);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    if (a->wait_go) {
        /* Wait for the parent's go-ahead: it runs the isolators' isolate() meanwhile. */
        char go;
        ssize_t n;
        do {
            n = read(a->sync_fd, &go, 1);
        } while (n < 0 && errno == EINTR);
        if (n != 1)
            _exit(127); /* the parent gave up on this launch */
    }

    setup_namespaces(a);
    if (move_fd(a->stdin_fd, 0) < 0 || move_fd(a->stdout_fd, 1) < 0 || move_fd(a->stderr_fd, 2) < 0)
        child_fail(a->sync_fd, CR_STEP_STDIO, errno);
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
        for (int fd = 3; fd < a->max_fd; fd++)
            fcntl(fd, F_SETFD, FD_CLOEXEC); /* EBADF for closed ones is fine */
    }
    drop_privileges(a);

    /* Like execvp: remember EACCES, keep looking past ENOENT/ENOTDIR, stop on others. */
    int err = ENOENT;
    bool saw_eacces = false;
    for (char **cand = a->candidates; *cand; cand++) {
        execve(*cand, a->argv, a->envp);
        err = errno;
        if (err == EACCES) {
            saw_eacces = true;
            continue;
        }
        if (err != ENOENT && err != ENOTDIR && err != ESTALE && err != ENODEV && err != ETIMEDOUT)
            break;
    }
    if (saw_eacces && (err == ENOENT || err == ENOTDIR))
        err = EACCES;
    child_fail(a->sync_fd, CR_STEP_EXEC, err);
}

const char *cr_child_step_text(enum cr_child_step step)
{
    switch (step) {
    case CR_STEP_SETSID:
        return "create a session";
    case CR_STEP_STDIO:
        return "redirect stdin/stdout/stderr";
    case CR_STEP_CHDIR:
        return "change to the sandbox";
    case CR_STEP_SETGROUPS:
        return "set supplementary groups";
    case CR_STEP_SETGID:
        return "set group id";
    case CR_STEP_SETUID:
        return "set user id";
    case CR_STEP_EXEC:
        return "execute";
    case CR_STEP_MOUNT_PRIVATE:
        return "make the mount namespace private (mount / rprivate)";
    case CR_STEP_MOUNT:
        return "mount";
    case CR_STEP_MOUNT_PROC:
        return "mount /proc";
    case CR_STEP_HOSTNAME:
        return "set hostname";
    case CR_STEP_LOOPBACK:
        return "bring up the loopback interface";
    case CR_STEP_CAPBSET:
        return "drop capabilities from the bounding set";
    case CR_STEP_AMBIENT:
        return "clear ambient capabilities";
    case CR_STEP_CAPS:
        return "reduce the capability sets";
    case CR_STEP_NO_NEW_PRIVS:
        return "set no_new_privs";
    case CR_STEP_SECCOMP:
        return "load the seccomp filter";
    }
    return "set up the process";
}
