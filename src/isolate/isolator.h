/*
 * isolator.h - the isolator interface: one ops table per kind of isolation.
 *
 * An isolator confines a container in one dimension (process group, cgroups, a
 * namespace, a root filesystem, ports, ...). Every isolator has the same lifecycle,
 * called by the containerizer (containerizer.h) in Mesos' order:
 *
 *   recover  once at start, with the containers the agent still knows (from its
 *            checkpoints), so the isolator can re-attach to them and clean up orphans;
 *   prepare  before the container's process exists (create a cgroup, a mount point);
 *   isolate  after fork and before exec, with the child's pid, while the child waits
 *            on a pipe for the go-ahead (move the pid into the cgroup);
 *   update   when the container's resources change (new limits);
 *   usage    on demand, to sample statistics (merged across isolators in order);
 *   cleanup  after the container's last process is gone (remove the cgroup).
 *
 * Invariants: hooks run on the agent's loop thread and must not block for long;
 * isolate must be quick (the child is paused until it returns); cleanup is called for
 * every container that was prepared, whatever happened after; an isolator that has no
 * work for a step leaves its hook NULL (the containerizer treats NULL as success).
 * Isolators keep per-container state keyed by the container id if they need it.
 *
 * Only "posix" exists today (posix.c: process groups/sessions, usage from /proc).
 * cgroups v1/v2, namespaces and seccomp plug in here by adding an ops table to the
 * registry in isolator.c.
 */
#ifndef CR_ISOLATE_ISOLATOR_H
#define CR_ISOLATE_ISOLATOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"
#include "core/resources.h"

/* Resource statistics of one container (Mesos' ResourceStatistics subset). */
struct cr_usage {
    double timestamp;           /* epoch seconds when sampled */
    double cpus_user_time_secs; /* summed over the container's processes */
    double cpus_system_time_secs;
    uint64_t mem_rss_bytes;
    uint32_t processes;
    uint32_t threads;
};

/* What the isolators learn about a container at prepare time. All fields borrowed. */
struct cr_container_config {
    const char *container_id;
    const char *sandbox;                  /* absolute path of the sandbox directory */
    const char *user;                     /* user the task runs as, or NULL (the agent's) */
    const struct cr_resources *resources; /* may be NULL */
};

/* A container the agent knows at recovery (from its checkpoints). Borrowed. */
struct cr_container_ref {
    const char *container_id;
    pid_t pid; /* leader pid, 0 if unknown */
};

struct cr_isolator_ops {
    const char *name; /* "posix" */

    /* Create the isolator's state (*state may stay NULL if it has none). Return 0 or -errno. */
    int (*create)(void **state, struct cr_err *err);
    /* Free the state. Never touches containers' processes. Accepts NULL state. */
    void (*destroy)(void *state);

    /* Re-attach to known containers; everything else it finds is an orphan to clean. */
    int (*recover)(void *state, const struct cr_container_ref *known, size_t n, struct cr_err *err);
    int (*prepare)(void *state, const struct cr_container_config *cfg, struct cr_err *err);
    int (*isolate)(void *state, const char *container_id, pid_t pid, struct cr_err *err);
    int (*update)(void *state, const char *container_id, const struct cr_resources *resources,
                  struct cr_err *err);
    /* Fill the fields it knows in *usage (others are left alone). pid = leader pid. */
    int (*usage)(void *state, const char *container_id, pid_t pid, struct cr_usage *usage,
                 struct cr_err *err);
    int (*cleanup)(void *state, const char *container_id, struct cr_err *err);
};

/* The ops table registered under name ("posix"), or NULL. Borrowed, static. */
const struct cr_isolator_ops *cr_isolator_find(const char *name);

/* Names of every registered isolator, comma-separated, into buf (for messages). Returns buf. */
char *cr_isolator_names(char *buf, size_t size);

#endif
