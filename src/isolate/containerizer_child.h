/*
 * containerizer_child.h - INTERNAL to the containerizer: what the child does between
 * clone and exec, and how it reports a failed step to the parent.
 *
 * The child runs on a copy of the parent's memory (fork/clone) or on the parent's
 * memory itself (the vfork-style path), so it touches only what the parent prepared in
 * struct cr_child_args before the fork, allocates nothing, and calls only
 * async-signal-safe functions and raw system calls (the user switch uses syscall(2),
 * not libc's wrappers, which would try to signal threads of a multi-threaded parent).
 */
#ifndef CR_ISOLATE_CONTAINERIZER_CHILD_H
#define CR_ISOLATE_CONTAINERIZER_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "isolate/isolator.h"

/* The step of the child's setup that failed, sent to the parent with its errno. */
enum cr_child_step {
    CR_STEP_SETSID = 1,
    CR_STEP_STDIO,
    CR_STEP_CHDIR,
    CR_STEP_SETGROUPS,
    CR_STEP_SETGID,
    CR_STEP_SETUID,
    CR_STEP_EXEC,
    CR_STEP_MOUNT_PRIVATE,
    CR_STEP_MOUNT, /* index = which mount of the launch info */
    CR_STEP_MOUNT_PROC,
    CR_STEP_HOSTNAME,
    CR_STEP_LOOPBACK,
    CR_STEP_CAPBSET,
    CR_STEP_AMBIENT,
    CR_STEP_CAPS,
    CR_STEP_NO_NEW_PRIVS,
    CR_STEP_SECCOMP,
};

struct cr_child_report {
    int32_t step;
    int32_t err;
    int32_t index;
};

/* Everything the child needs, prepared before the fork. All pointers borrowed. */
struct cr_child_args {
    bool wait_go; /* block until the parent's go byte (fork path) */
    int sync_fd;
    int stdin_fd, stdout_fd, stderr_fd;
    const char *sandbox;
    char *const *argv;
    char *const *envp;
    char **candidates; /* exec paths to try, NULL-terminated */
    bool switch_user;
    uid_t uid;
    gid_t gid;
    gid_t *groups;
    int ngroups;
    int max_fd; /* for the close-on-exec fallback */
    /* from the launch info */
    bool private_root; /* in a new mount namespace: make / recursively private */
    const struct cr_mount *mounts;
    size_t nmounts;
    bool mount_proc;
    const char *hostname;
    size_t hostname_len;
    bool loopback_up;
    bool drop_caps;
    uint64_t cap_keep;
    int cap_last;
    bool reduce_cap_sets; /* the task runs as root: E/P = cap_keep, I = none */
    bool no_new_privs;
    const void *seccomp_prog; /* struct sock_fprog, or NULL */
};

/* The child's whole life: set up, exec, or report the failed step and _exit(127). */
void cr_child_run(const struct cr_child_args *a) __attribute__((noreturn));

/* What a step does, for messages ("set hostname"). Static. */
const char *cr_child_step_text(enum cr_child_step step);

#endif
