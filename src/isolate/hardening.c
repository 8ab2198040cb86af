/*
 * hardening.c - the "hardening" isolator (see hardening.h).
 *
 * libseccomp and libcap are used only here and only in the parent: the seccomp rules
 * are compiled to BPF (seccomp_export_bpf into a memfd, read back) and the capability
 * names are resolved to numbers; the child then needs nothing but prctl and capset.
 */
#include "isolate/hardening.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"

/* Docker's default capability set. */
static const char *const default_caps[] = {
    "cap_chown",   "cap_dac_override", "cap_fsetid",           "cap_fowner",
    "cap_mknod",   "cap_net_raw",      "cap_setgid",           "cap_setuid",
    "cap_setfcap", "cap_setpcap",      "cap_net_bind_service", "cap_sys_chroot",
    "cap_kill",    "cap_audit_write",
};

/* Syscalls that fail with EPERM (Docker's default profile does not allow them). Names
 * libseccomp does not know on this architecture are skipped. */
static const char *const blocked[] = {
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "create_module",
    "delete_module",
    "finit_module",
    "get_kernel_syms",
    "get_mempolicy",
    "init_module",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mbind",
    "mount",
    "move_pages",
    "name_to_handle_at",
    "nfsservctl",
    "open_by_handle_at",
    "perf_event_open",
    "pivot_root",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "query_module",
    "quotactl",
    "reboot",
    "request_key",
    "set_mempolicy",
    "setns",
    "settimeofday",
    "stime",
    "swapon",
    "swapoff",
    "sysfs",
    "_sysctl",
    "umount",
    "umount2",
    "unshare",
    "uselib",
    "userfaultfd",
    "ustat",
    "vm86",
    "vm86old",
    /* the new mount API would bypass the mount rule */
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
};

/* personality(2) values Docker allows: PER_LINUX, PER_LINUX32, UNAME26, both, and the
 * query 0xffffffff. The kernel takes an unsigned int, so only the low 32 bits count. */
static const uint32_t allowed_personality[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};

#define NALLOWED (sizeof(allowed_personality) / sizeof(allowed_personality[0]))

/*
 * libseccomp takes one comparison per argument and rule, so "personality(x), x not in
 * the allowed set" becomes one EPERM rule per maximal block of 32-bit values holding no
 * allowed value: walk the binary trie of the allowed values, and every missing branch is
 * a block "high `depth` bits == prefix" (a masked-equal comparison).
 */
static int deny_personality(scmp_filter_ctx ctx, uint32_t prefix, int depth)
{
    bool any = false;
    for (size_t i = 0; i < NALLOWED && !any; i++)
        any = depth == 0 || (allowed_personality[i] >> (32 - depth)) == prefix;
    if (!any) {
        uint64_t mask = (UINT64_C(0xffffffff) << (32 - depth)) & UINT64_C(0xffffffff);
        uint64_t value = (uint64_t)prefix << (32 - depth);
        return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(personality), 1,
                                SCMP_A0(SCMP_CMP_MASKED_EQ, mask, value));
    }
    if (depth == 32)
        return 0;
    int rc = deny_personality(ctx, prefix << 1, depth + 1);
    return rc < 0 ? rc : deny_personality(ctx, (prefix << 1) | 1, depth + 1);
}

static int add_rules(scmp_filter_ctx ctx, struct cr_err *err)
{
    int rc;
    for (size_t i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++) {
        int nr = seccomp_syscall_resolve_name(blocked[i]);
        if (nr == __NR_SCMP_ERROR)
            continue;
        if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0)) < 0)
            return cr_err_sys(err, rc, "seccomp rule for '%s'", blocked[i]);
    }
    /* clone: EPERM when any namespace flag is set (one rule per flag, rules are or'ed). */
    static const uint64_t ns_flags[] = {CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,   CLONE_NEWUSER,
                                        CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP};
    for (size_t i = 0; i < sizeof(ns_flags) / sizeof(ns_flags[0]); i++) {
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
        if (rc < 0)
            return cr_err_sys(err, rc, "seccomp rule for clone");
    }
    int nr = seccomp_syscall_resolve_name("clone3");
    if (nr != __NR_SCMP_ERROR && (rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0)) < 0)
        return cr_err_sys(err, rc, "seccomp rule for clone3");
    if ((rc = deny_personality(ctx, 0, 0)) < 0)
        return cr_err_sys(err, rc, "seccomp rule for personality");
    return 0;
}

int cr_hardening_seccomp_bpf(void **prog, size_t *len, struct cr_err *err)
{
    *prog = NULL;
    *len = 0;
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx)
        return cr_err_set(err, -ENOMEM, "seccomp: init filter");
    int rc = add_rules(ctx, err);
    int fd = -1;
    if (rc == 0 && (fd = memfd_create("corral-seccomp", MFD_CLOEXEC)) < 0)
        rc = cr_err_sys(err, -errno, "seccomp: memfd_create");
    if (rc == 0 && (rc = seccomp_export_bpf(ctx, fd)) < 0)
        cr_err_sys(err, rc, "seccomp: export bpf");
    seccomp_release(ctx);
    struct stat st;
    if (rc == 0 && fstat(fd, &st) < 0)
        rc = cr_err_sys(err, -errno, "seccomp: stat exported filter");
    if (rc == 0 && (st.st_size <= 0 || st.st_size % 8 != 0))
        rc = cr_err_set(err, -EINVAL, "seccomp: exported filter has %lld bytes",
                        (long long)st.st_size);
    if (rc < 0) {
        if (fd >= 0)
            close(fd);
        return rc;
    }
    char *buf = cr_xmalloc((size_t)st.st_size);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = r < 0 ? -errno : -EIO;
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    if (rc < 0) {
        free(buf);
        return cr_err_sys(err, rc, "seccomp: read exported filter");
    }
    *prog = buf;
    *len = (size_t)st.st_size / 8; /* sizeof(struct sock_filter) */
    return 0;
}

uint64_t cr_hardening_default_caps(void)
{
    uint64_t mask = 0;
    for (size_t i = 0; i < sizeof(default_caps) / sizeof(default_caps[0]); i++) {
        cap_value_t v;
        if (cap_from_name(default_caps[i], &v) == 0 && v >= 0 && v < 64)
            mask |= UINT64_C(1) << v;
    }
    return mask;
}

struct state {
    uint64_t keep;
    int cap_last;
    void *filter; /* owned, NULL when seccomp is off */
    size_t filter_len;
};

static int hd_create(void **state, const struct cr_isolation_opts *opts, struct cr_err *err)
{
    struct state *st = cr_xcalloc(1, sizeof(*st));
    st->keep = cr_hardening_default_caps();
    int bits = (int)cap_max_bits();
    st->cap_last = bits > 0 && bits <= 64 ? bits - 1 : 63;
    if (opts->seccomp) {
        int rc = cr_hardening_seccomp_bpf(&st->filter, &st->filter_len, err);
        if (rc < 0) {
            free(st);
            return rc;
        }
    }
    *state = st;
    return 0;
}

static void hd_destroy(void *state)
{
    struct state *st = state;
    if (!st)
        return;
    free(st->filter);
    free(st);
}

static int hd_prepare(void *state, const struct cr_container_config *cfg,
                      struct cr_launch_info *launch, struct cr_err *err)
{
    struct state *st = state;
    (void)cfg;
    (void)err;
    launch->drop_caps = true;
    launch->cap_keep = st->keep;
    launch->cap_last = st->cap_last;
    launch->no_new_privs = true;
    if (st->filter) {
        free(launch->seccomp_filter);
        launch->seccomp_filter = cr_xmalloc(st->filter_len * 8);
        memcpy(launch->seccomp_filter, st->filter, st->filter_len * 8);
        launch->seccomp_len = st->filter_len;
    }
    return 0;
}

const struct cr_isolator_ops cr_isolator_hardening = {
    .name = "hardening",
    .create = hd_create,
    .destroy = hd_destroy,
    .prepare = hd_prepare,
};
