/*
 * hardening.h - the "hardening" isolator: what a task may do to the kernel, Docker's
 * defaults.
 *
 *  - capabilities: the bounding set is reduced to Docker's 14 (CHOWN DAC_OVERRIDE
 *    FSETID FOWNER MKNOD NET_RAW SETGID SETUID SETFCAP SETPCAP NET_BIND_SERVICE
 *    SYS_CHROOT KILL AUDIT_WRITE), the ambient set is cleared, and a task that runs as
 *    root also has its effective and permitted sets reduced to those and its
 *    inheritable set emptied (so nothing regains a dropped capability through exec);
 *  - PR_SET_NO_NEW_PRIVS: setuid binaries and file capabilities grant nothing;
 *  - seccomp (unless the options say seccomp = false): a filter that allows everything
 *    except what Docker's default profile blocks, which fails with EPERM: kernel
 *    modules, kexec, reboot, swap, clocks, keyrings, bpf, perf, ptrace and
 *    process_vm_*, mount/umount/pivot_root and the new mount API, namespaces (unshare,
 *    setns, clone with CLONE_NEW* flags), NUMA policy, personality other than the
 *    default ones, and a few obsolete calls; clone3 fails with ENOSYS (its flags cannot
 *    be inspected, and libc then falls back to clone). Syscalls of another
 *    architecture (32-bit entry points) kill the task.
 *
 * The filter is built once with libseccomp when the isolator is created and exported
 * as classic BPF; the child loads it with prctl as its last step before exec, after
 * switching user, so the containerizer's own setup is not filtered.
 */
#ifndef CR_ISOLATE_HARDENING_H
#define CR_ISOLATE_HARDENING_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "isolate/isolator.h"

extern const struct cr_isolator_ops cr_isolator_hardening;

/* Docker's default capabilities as a mask (bit n = capability n). */
uint64_t cr_hardening_default_caps(void);

/*
 * Build the default seccomp filter as classic BPF. On success *prog is owned (free(); an
 * array of struct sock_filter) and *len is its number of instructions. Returns 0 or
 * -errno with err naming the libseccomp step that failed.
 */
int cr_hardening_seccomp_bpf(void **prog, size_t *len, struct cr_err *err);

#endif
