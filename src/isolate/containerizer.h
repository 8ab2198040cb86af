/*
 * containerizer.h - launches, watches, signals and destroys containers: one process
 * (plus whatever it starts) per task, confined by an ordered list of isolators.
 *
 * Launch, in Mesos' order: isolators' prepare (which may fill a launch info: namespaces
 * to clone, mounts, hostname, capabilities, seccomp) -> fork (the child makes itself a
 * session and process-group leader, then blocks on a socket) -> isolators' isolate(pid)
 * in the parent -> "go" byte -> the child does the launch info's work (make / private,
 * chdir to the sandbox, mounts, /proc, hostname, lo up), points stdin at /dev/null and
 * stdout/stderr at the sandbox files (or the given descriptors), drops capabilities,
 * switches user, sets no_new_privs, loads the seccomp filter and execs. With namespaces
 * the child is created by clone(2) with the CLONE_NEW* flags (it is pid 1 of its pid
 * namespace). When no isolator has an isolate() hook and the launch info is empty
 * (posix alone) there is nothing to wait for, so the child is created like posix_spawn
 * does, with clone(CLONE_VM | CLONE_VFORK): no page tables copied and no copy-on-write
 * faults in a busy agent, the parent resuming once the child has exec'd. Either way
 * the child's end of the socket is close-on-exec, so the parent learns the outcome
 * without blocking: EOF means the exec succeeded (on_started), a small report means a
 * step failed (errno and which step). Every other descriptor is marked close-on-exec
 * in the child, so nothing of the agent leaks into tasks.
 *
 * Waiting uses a pidfd (Linux >= 5.3) watched by a uv_poll: readable when the leader
 * exits. The containerizer then peeks at the status without reaping (WNOWAIT), samples
 * the isolators' usage (an OOM kill in the container's cgroup becomes the exit's
 * limitation), kills what is left of the process group while the leader's pid is still
 * pinned by the zombie (so the group id cannot be reused), reaps, runs the isolators'
 * cleanup (the cgroups isolator kills every process left in the cgroup) and calls
 * on_exited. No SIGCHLD handler is installed, and other code's children are never
 * reaped by mistake. In a pid namespace the kernel kills the whole namespace when its
 * pid 1 (the leader) exits.
 *
 * Kill = SIGTERM to the group, then SIGKILL to the group and to every process the
 * isolators know (the cgroup) after the grace period. A leader that is pid 1 of its own
 * pid namespace and has no handler for SIGTERM would never see it (the kernel drops
 * signals pid 1 does not handle), so it gets SIGKILL at once: the default action.
 *
 * Callbacks and handles run on the loop thread. Freeing the containerizer releases
 * containers WITHOUT killing their processes (agent restarts never kill work).
 */
#ifndef CR_ISOLATE_CONTAINERIZER_H
#define CR_ISOLATE_CONTAINERIZER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "base/err.h"
#include "core/resources.h"
#include "isolate/isolator.h"

struct cr_containerizer;
struct cr_container;

/* How a container ended. */
struct cr_container_exit {
    bool launched;        /* false: a pre-exec step failed (see error); true: signaled/code say how
                             the process ended (it may have been killed before its exec) */
    int error_code;       /* !launched: the errno of the failed step */
    char error[256];      /* !launched: "execute 'x': No such file or directory" */
    bool signaled;        /* launched: true if killed by a signal */
    int code;             /* launched: exit status (!signaled) or signal number (signaled) */
    bool oom_killed;      /* the OOM killer killed a process of the container's cgroup */
    char limitation[256]; /* oom_killed: "Memory limit exceeded: Requested: 64MB Maximum
                             Used: 64MB" (Mesos' wording); else "" */
};

/* The exec succeeded (called at most once, always before on_exited). */
typedef void (*cr_container_started_fn)(struct cr_container *c, void *ud);
/*
 * The container is gone: its leader exited (or never ran), the rest of its process group
 * was killed and the isolators cleaned up. Called exactly once per launched container;
 * c must not be used after this returns.
 */
typedef void (*cr_container_exited_fn)(struct cr_container *c, const struct cr_container_exit *ex,
                                       void *ud);

struct cr_launch_spec {
    const char *container_id; /* required, unique among live containers */
    const char *sandbox;      /* required: existing directory, the working dir */
    const char *program;      /* the executable: with a '/' used as is, else
                                 searched in the PATH of envp (or the standard
                                 PATH); NULL = argv[0] */
    const char *const *argv;  /* required, NULL-terminated, argv[0] included */
    const char *const *envp;  /* NULL-terminated; NULL = empty environment */
    const char *stdout_path;  /* required unless use_stdio_fds: created (or
                                 appended to) */
    const char *stderr_path;  /* required unless use_stdio_fds */
    bool use_stdio_fds;       /* true: stdout_fd/stderr_fd instead of the paths */
    int stdout_fd;            /* use_stdio_fds: borrowed (duplicated), e.g. a
                                 pipe's write end; a launch failure is noted on
                                 stderr_fd */
    int stderr_fd;
    const char *user;                     /* run as this user (looked up), NULL = stay as is */
    const struct cr_resources *resources; /* for the isolators; may be NULL */
    bool cpu_hard_limit;                  /* ask for a CFS quota = cpus (cgroups isolator) */
    const char *hostname;                 /* UTS hostname (namespaces); NULL = container_id */
    const char *network;                  /* "host" (NULL) or "none" (namespaces isolator) */
    const struct cr_volume *volumes;      /* borrowed; need the filesystem isolator */
    size_t nvolumes;
    cr_container_started_fn on_started; /* may be NULL */
    cr_container_exited_fn on_exited;   /* required */
    void *ud;
};

/*
 * Create a containerizer on loop with the isolators named in isolation (comma-separated,
 * in order: "posix", "cgroups", "namespaces", "filesystem", "hardening"; NULL or "" =
 * "posix"; cr_isolation_default() picks for this machine) and the options opts
 * (borrowed for the call; NULL = cr_isolation_opts_default()). On success *out is owned
 * (free with cr_containerizer_free). Returns 0, or -EINVAL naming an unknown isolator
 * (and listing the known ones) or one whose required isolator is missing ("isolator
 * 'filesystem' requires 'namespaces'"), or an isolator's create error.
 */
int cr_containerizer_new(uv_loop_t *loop, const char *isolation,
                         const struct cr_isolation_opts *opts, struct cr_containerizer **out,
                         struct cr_err *err);

/*
 * The same with the isolators given as ops tables (borrowed, static), in order: for
 * isolators outside the registry (tests, embedders).
 */
int cr_containerizer_new_ops(uv_loop_t *loop, const struct cr_isolator_ops *const *ops, size_t n,
                             const struct cr_isolation_opts *opts, struct cr_containerizer **out,
                             struct cr_err *err);

/*
 * Tell the isolators which containers survive from a previous run (the agent's
 * checkpoints). The cgroups isolator kills and removes every cgroup under its root that
 * is not in known (orphans), so only the process that knows all of them (the agent)
 * may call this. Returns 0 or the first isolator error.
 */
int cr_containerizer_recover(struct cr_containerizer *cz, const struct cr_container_ref *known,
                             size_t n, struct cr_err *err);

/*
 * Launch a container as described by spec (everything copied or used before return).
 * Returns 0 with *out (owned by the containerizer; valid until on_exited returns), or a
 * negative errno with err when nothing was started (unknown user, unreadable sandbox,
 * prepare/isolate failure, fork failure); no callback is made in that case. A failure
 * after the fork that belongs to the child (chdir, setuid, exec) is reported through
 * on_exited with launched = false.
 */
int cr_containerizer_launch(struct cr_containerizer *cz, const struct cr_launch_spec *spec,
                            struct cr_container **out, struct cr_err *err);

/* The leader's pid (also its session and process-group id). */
pid_t cr_container_pid(const struct cr_container *c);
/* The container id (borrowed). */
const char *cr_container_id(const struct cr_container *c);

/* Send signo to the container's whole process group. Returns 0 or -errno (-ESRCH: gone). */
int cr_container_signal(struct cr_container *c, int signo);

/*
 * Stop the container: SIGTERM to the group now and SIGKILL to the group and to every
 * process the isolators know (the cgroup) after grace_ms (0 = SIGKILL at once). A leader
 * that is pid 1 of its own pid namespace and neither catches nor ignores SIGTERM gets
 * SIGKILL at once (the kernel would drop the TERM). Calling it again can only bring the
 * SIGKILL deadline closer. on_exited reports the end as usual.
 */
void cr_container_stop(struct cr_container *c, int64_t grace_ms);

/* Whether cr_container_stop() was called. */
bool cr_container_is_stopping(const struct cr_container *c);

/* Sample usage from the isolators, in order. Returns 0 or the first isolator error. */
int cr_container_usage(struct cr_container *c, struct cr_usage *usage, struct cr_err *err);

/* Give the isolators new resources for the container. */
int cr_container_update(struct cr_container *c, const struct cr_resources *resources,
                        struct cr_err *err);

/*
 * The cgroup.procs files of the container's cgroup (one per v1 hierarchy, one on v2):
 * a process (a health check) joins the container by writing its pid into each. None
 * (*n = 0, *paths NULL) without the cgroups isolator. *paths is owned: free each, then
 * the array. Returns 0 or -ESRCH when the container is gone.
 */
int cr_container_cgroup_procs(const struct cr_container *c, char ***paths, size_t *n);

/*
 * Usage of a container this process did not launch (the agent samples the containers
 * its executors launched, by id): every isolator's usage with container_id and pid (the
 * task's host pid, or 0 when unknown: the posix isolator then has nothing to add).
 * *usage is overwritten. Returns 0 or the first isolator error (-ENOENT: no cgroup).
 */
int cr_containerizer_usage_of(struct cr_containerizer *cz, const char *container_id, pid_t pid,
                              struct cr_usage *usage, struct cr_err *err);

/*
 * Destroy a container by id that this containerizer did not launch (the agent cleaning
 * up after a lost executor): every isolator's kill (SIGKILL) and cleanup, in reverse
 * order, so nothing of it is left (the cgroups isolator kills every process of its
 * cgroup, waiting up to about 2 s, and removes it). For a live container of cz it is
 * cr_container_stop(c, 0) (on_exited reports the end). Returns 0, also when nothing
 * was left, or the first isolator error.
 */
int cr_containerizer_destroy(struct cr_containerizer *cz, const char *container_id,
                             struct cr_err *err);

/*
 * Release every container without killing its processes (no callbacks), destroy the
 * isolators and free cz. Handles close asynchronously: run the loop afterwards until it
 * has nothing left so their memory is freed. Accepts NULL.
 */
void cr_containerizer_free(struct cr_containerizer *cz);

/* Number of live containers. */
size_t cr_containerizer_count(const struct cr_containerizer *cz);

#endif
