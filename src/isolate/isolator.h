/*
 * isolator.h - the isolator interface: one ops table per kind of isolation.
 *
 * An isolator confines a container in one dimension (process group, cgroups, a
 * namespace, a root filesystem, ports, ...). Every isolator has the same lifecycle,
 * called by the containerizer (containerizer.h) in Mesos' order:
 *
 *   create   once, with the isolation options (cr_isolation_opts) of the containerizer;
 *   recover  once at start, with the containers the agent still knows (from its
 *            checkpoints), so the isolator can re-attach to them and clean up orphans;
 *   prepare  before the container's process exists (create a cgroup, build a seccomp
 *            filter); it may also ask for work in the child between clone and exec by
 *            filling the launch info (Mesos' ContainerLaunchInfo): namespaces to create,
 *            mounts, a hostname, capabilities to drop, a seccomp program;
 *   isolate  after fork and before exec, with the child's pid, while the child waits
 *            on a pipe for the go-ahead (move the pid into the cgroup);
 *   update   when the container's resources change (new limits);
 *   usage    on demand, to sample statistics (merged across isolators in order);
 *   kill     to signal every process it knows of the container (a cgroup's members),
 *            without blocking;
 *   cleanup  after the container's last process is gone (remove the cgroup).
 *
 * Invariants: hooks run on the loop thread and must not block for long; isolate must
 * be quick (the child is paused until it returns); cleanup is called for every
 * container that was prepared, whatever happened after (also when prepare itself
 * failed half-way); an isolator that has no work for a step leaves its hook NULL (the
 * containerizer treats NULL as success). Isolators keep per-container state keyed by
 * the container id if they need it.
 *
 * The registry (isolator.c) knows "posix" (posix.c: sessions, usage from /proc),
 * "cgroups" (cgroups_isolator.c: cpu/memory/pids limits, usage, OOM, kill),
 * "namespaces" (namespaces.c: pid, mount, uts, ipc, optional network),
 * "filesystem" (filesystem.c: volumes, private /tmp; needs "namespaces") and
 * "hardening" (hardening.c: capabilities, no_new_privs, seccomp).
 */
#ifndef CR_ISOLATE_ISOLATOR_H
#define CR_ISOLATE_ISOLATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"
#include "core/resources.h"

/*
 * Options of a containerizer, handed to every isolator's create. Strings are borrowed
 * for the call (isolators copy what they keep). Start from cr_isolation_opts_default():
 * a zeroed struct means seccomp off.
 */
struct cr_isolation_opts {
    const char *cgroups_mount; /* "/sys/fs/cgroup" (tests may point at a temp tree);
                                  NULL = the default */
    const char *cgroups_root;  /* parent cgroup of the containers, e.g.
                                  "corral/agent-1a2b3c4d"; NULL = "corral" */
    bool cpu_hard_limit;       /* CFS quota = cpus for every task (else only when the task
                                  asks for one) */
    uint64_t pids_limit;       /* pids.max per container, 0 = unlimited */
    bool seccomp;              /* default seccomp filter (true) or unconfined */
};

#define CR_ISOLATION_CGROUPS_MOUNT "/sys/fs/cgroup"
#define CR_ISOLATION_CGROUPS_ROOT "corral"

/* Fill opts with the defaults: /sys/fs/cgroup, "corral", no hard cpu limit, no pids
 * limit, seccomp on. */
void cr_isolation_opts_default(struct cr_isolation_opts *opts);

/* Resource statistics of one container (Mesos' ResourceStatistics subset and names). A
 * field no isolator knows stays 0. */
struct cr_usage {
    double timestamp;           /* epoch seconds when sampled */
    double cpus_user_time_secs; /* summed over the container's processes */
    double cpus_system_time_secs;
    uint64_t mem_rss_bytes;
    uint32_t processes;
    uint32_t threads;
    /* from the cgroups isolator */
    double cpus_limit;               /* cpus allocated (the quota when capped) */
    uint64_t mem_limit_bytes;        /* 0 = unlimited */
    uint64_t mem_total_bytes;        /* current usage, page cache included */
    uint64_t mem_max_bytes;          /* peak usage, 0 if the kernel does not say */
    uint64_t cpus_nr_periods;        /* CFS periods while capped */
    uint64_t cpus_nr_throttled;      /* periods in which the container was throttled */
    double cpus_throttled_time_secs; /* total time throttled */
    uint64_t mem_oom_kills;          /* processes the OOM killer killed in the container */
};

/* A host path bound into the container's mount namespace. Strings borrowed. */
struct cr_volume {
    const char *host_path;      /* absolute; must exist */
    const char *container_path; /* relative = inside the sandbox (created); absolute = must
                                   exist */
    bool read_only;
};

/* What the isolators learn about a container at prepare time. All fields borrowed. */
struct cr_container_config {
    const char *container_id;
    const char *sandbox;                  /* absolute path of the sandbox directory */
    const char *user;                     /* user the task runs as, or NULL (the agent's) */
    const struct cr_resources *resources; /* may be NULL */
    const char *hostname;                 /* UTS namespace hostname; NULL = container_id */
    const char *network;                  /* "host" (NULL) or "none" */
    const struct cr_volume *volumes;
    size_t nvolumes;
    bool cpu_hard_limit; /* the task asks for a CFS quota = its cpus */
};

/* One mount(2) the child performs in its mount namespace. */
struct cr_mount {
    char *source; /* owned, NULL for a remount */
    char *target; /* owned, absolute */
    char *fstype; /* owned or NULL */
    unsigned long flags;
    char *what; /* owned: for the error message, e.g. "bind volume '/a' on '/s/data'" */
};

/*
 * Work for the child between clone and exec, filled by the isolators' prepare (Mesos'
 * ContainerLaunchInfo). Caller-owned storage: zero it (cr_launch_info_init), release
 * with cr_launch_info_release. The child executes it in this order: make / private
 * (when CLONE_NEWNS), chdir to the sandbox, mounts in order, /proc, hostname, lo up,
 * stdio, capability bounding set, user switch, capability sets, no_new_privs, seccomp,
 * exec.
 */
struct cr_launch_info {
    int clone_flags;         /* CLONE_NEW* flags the child is created with */
    char *hostname;          /* owned or NULL: sethostname in the new UTS namespace */
    struct cr_mount *mounts; /* owned array, performed in order */
    size_t nmounts;
    bool mount_proc;      /* a fresh /proc (needs CLONE_NEWPID and CLONE_NEWNS) */
    bool loopback_up;     /* bring lo up (needs CLONE_NEWNET) */
    bool drop_caps;       /* bounding set (and, for a root task, the effective, permitted
                             and inheritable sets) reduced to cap_keep */
    uint64_t cap_keep;    /* bit n = capability n */
    int cap_last;         /* highest capability number the kernel knows */
    bool no_new_privs;    /* PR_SET_NO_NEW_PRIVS */
    void *seccomp_filter; /* owned: struct sock_filter[seccomp_len], loaded last */
    size_t seccomp_len;   /* instructions */
};

/* Zero li. */
void cr_launch_info_init(struct cr_launch_info *li);
/* Free what li owns and zero it. Accepts NULL. */
void cr_launch_info_release(struct cr_launch_info *li);
/* Append a mount (strings copied; source and fstype may be NULL). */
void cr_launch_info_add_mount(struct cr_launch_info *li, const char *source, const char *target,
                              const char *fstype, unsigned long flags, const char *what);

/* A container the agent knows at recovery (from its checkpoints). Borrowed. */
struct cr_container_ref {
    const char *container_id;
    pid_t pid; /* leader pid, 0 if unknown */
};

struct cr_isolator_ops {
    const char *name;     /* "posix" */
    const char *requires; /* another isolator this one needs in the same list, or NULL */

    /* Create the isolator's state (*state may stay NULL if it has none); opts is never
     * NULL and borrowed for the call. Return 0 or -errno. */
    int (*create)(void **state, const struct cr_isolation_opts *opts, struct cr_err *err);
    /* Free the state. Never touches containers' processes. Accepts NULL state. */
    void (*destroy)(void *state);

    /* Re-attach to known containers; everything else it finds is an orphan to clean. */
    int (*recover)(void *state, const struct cr_container_ref *known, size_t n, struct cr_err *err);
    /* Prepare the container; may add to *launch (never NULL) what the child must do. */
    int (*prepare)(void *state, const struct cr_container_config *cfg,
                   struct cr_launch_info *launch, struct cr_err *err);
    int (*isolate)(void *state, const char *container_id, pid_t pid, struct cr_err *err);
    int (*update)(void *state, const char *container_id, const struct cr_resources *resources,
                  struct cr_err *err);
    /* Fill the fields it knows in *usage (others are left alone). pid = leader pid, or 0
     * when the caller does not know it (a container another process launched). */
    int (*usage)(void *state, const char *container_id, pid_t pid, struct cr_usage *usage,
                 struct cr_err *err);
    /* Send signo to every process of the container it knows of. Must not block. */
    int (*kill)(void *state, const char *container_id, int signo, struct cr_err *err);
    /* The cgroup.procs files a process writes its pid into to join the container
     * (*paths owned: free each, then the array). 0, or -ENOENT if it has none. */
    int (*procs_files)(void *state, const char *container_id, char ***paths, size_t *n);
    int (*cleanup)(void *state, const char *container_id, struct cr_err *err);
};

/* The ops table registered under name ("posix"), or NULL. Borrowed, static. */
const struct cr_isolator_ops *cr_isolator_find(const char *name);

/* Names of every registered isolator, comma-separated, into buf (for messages). Returns buf. */
char *cr_isolator_names(char *buf, size_t size);

/*
 * The isolation a containerizer should use by default on this machine: every isolator
 * ("posix,cgroups,namespaces,filesystem,hardening") when running as root, without
 * "cgroups" when no cgroup hierarchy is found at /sys/fs/cgroup, and only "posix" when
 * not root. Borrowed, static. The agent passes its --isolation flag instead when given.
 */
const char *cr_isolation_default(void);

#endif
