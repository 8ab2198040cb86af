/*
 * cgroup.h - control groups, v1 and v2 behind one interface (the crun model).
 *
 * cr_cgroup_detect() looks at a cgroup root ("/sys/fs/cgroup", or a directory tree
 * that imitates one in tests) and picks the layout: v2 when the root itself is a
 * cgroup2 hierarchy (it has cgroup.controllers), else v1 with one mount per controller
 * (root/cpu, root/memory, root/pids, root/freezer, root/cpuacct, or combined ones such
 * as root/cpu,cpuacct). One ops table per version sits inside; callers never see which.
 *
 * A struct cr_cgroup names one cgroup by its path relative to the root
 * ("corral/<container-id>"), which on v1 means one directory per hierarchy. Writes go
 * straight to the control files; every error names the operation, the cgroup and the
 * file: "set memory limit of cgroup 'corral/x': write '/sys/fs/cgroup/memory/corral/x/
 * memory.limit_in_bytes': Device or resource busy".
 *
 * Controllers used: cpu (+cpuacct on v1), memory, pids, and freezer on v1 for killing.
 * A controller that is not available makes the functions that need it fail with
 * -ENOTSUP; everything else keeps working.
 *
 * Calls block only on cgroupfs I/O, except cr_cgroup_kill_all() which waits (bounded)
 * for the processes to go. Not thread-safe per handle; no global state.
 */
#ifndef CR_ISOLATE_CGROUP_H
#define CR_ISOLATE_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"

struct cr_cgroup_system;
struct cr_cgroup;

enum cr_cgroup_version {
    CR_CGROUP_V1 = 1,
    CR_CGROUP_V2 = 2,
};

/* CFS period used for hard cpu limits, in microseconds. */
#define CR_CGROUP_CPU_PERIOD_US 100000u

/* Statistics of one cgroup. Fields a hierarchy does not provide stay 0. */
struct cr_cgroup_usage {
    double cpu_user_secs;       /* cpuacct.stat (USER_HZ) or cpu.stat user_usec */
    double cpu_system_secs;     /* cpuacct.stat or cpu.stat system_usec */
    uint64_t cpu_nr_periods;    /* cpu.stat, CFS enforcement periods */
    uint64_t cpu_nr_throttled;  /* cpu.stat, periods in which the group was throttled */
    double cpu_throttled_secs;  /* cpu.stat throttled_time (ns, v1) / throttled_usec (v2) */
    uint64_t mem_current_bytes; /* memory.usage_in_bytes / memory.current */
    uint64_t mem_rss_bytes;     /* memory.stat total_rss|rss (v1) / anon (v2) */
    uint64_t mem_limit_bytes;   /* memory.limit_in_bytes / memory.max; 0 = unlimited */
    uint64_t mem_max_bytes;     /* peak: memory.max_usage_in_bytes / memory.peak (v2, Linux
                                   >= 5.19); 0 when the kernel does not say */
    double cpu_limit;           /* cpus the group may use: quota / period when capped, else
                                   its weight as cpus (shares / 1024); 0 when unknown */
    uint64_t oom_kills;         /* memory.oom_control / memory.events oom_kill */
    uint32_t processes;         /* entries in cgroup.procs */
    uint32_t threads;           /* pids.current (tasks = threads); 0 without the pids controller */
};

/*
 * Detect the cgroup layout under root (borrowed; copied). On success *out is owned
 * (free with cr_cgroup_system_free()). Fails with -ENOENT when root holds neither a
 * cgroup2 hierarchy nor any v1 controller Corral uses.
 */
int cr_cgroup_detect(const char *root, struct cr_cgroup_system **out, struct cr_err *err);
/* Free what detect returned. Touches no cgroup. Accepts NULL. */
void cr_cgroup_system_free(struct cr_cgroup_system *sys);
/* CR_CGROUP_V1 or CR_CGROUP_V2. */
enum cr_cgroup_version cr_cgroup_system_version(const struct cr_cgroup_system *sys);
/* Whether controller ("cpu", "cpuacct", "memory", "pids", "freezer") is usable. */
bool cr_cgroup_system_has(const struct cr_cgroup_system *sys, const char *controller);

/*
 * Create the cgroup name ("corral/<id>": relative, no "." or ".." parts) in every
 * hierarchy, with its missing parents (an existing directory is fine, so create is
 * idempotent). On v2 the cpu, memory and pids controllers are enabled in the
 * cgroup.subtree_control of the root and of every parent. sys is borrowed and must
 * outlive the handle. On success *out is owned: cr_cgroup_free().
 */
int cr_cgroup_create(struct cr_cgroup_system *sys, const char *name, struct cr_cgroup **out,
                     struct cr_err *err);
/* Like create, but for a cgroup that must already exist (recovery): -ENOENT if not. */
int cr_cgroup_open(struct cr_cgroup_system *sys, const char *name, struct cr_cgroup **out,
                   struct cr_err *err);
/* Free the handle only; the cgroup stays. Accepts NULL. */
void cr_cgroup_free(struct cr_cgroup *cg);
/* The name given at create/open. Borrowed; valid while cg lives. */
const char *cr_cgroup_name(const struct cr_cgroup *cg);

/*
 * Remove the cgroup's directory in every hierarchy (its parents stay). It must be
 * empty: -EBUSY names the hierarchy otherwise (call cr_cgroup_kill_all() first). A
 * directory already gone is fine. The handle still needs cr_cgroup_free().
 */
int cr_cgroup_destroy(struct cr_cgroup *cg, struct cr_err *err);

/* Move process pid (all its threads) into the cgroup, in every hierarchy. */
int cr_cgroup_add_pid(struct cr_cgroup *cg, pid_t pid, struct cr_err *err);

/*
 * Cpu share: cpus_milli thousandths of a cpu (1000 = one cpu). Always sets the relative
 * weight (v1 cpu.shares = 1024 * cpus; v2 cpu.weight converted from those shares as the
 * kernel does, see cr_cgroup_cpu_weight()). With hard_limit also caps the group at
 * cpus_milli of cpu time (v1 cpu.cfs_quota_us/cpu.cfs_period_us, v2 cpu.max
 * "<quota> <period>"); without, removes any cap (-1 / "max <period>").
 */
int cr_cgroup_set_cpu(struct cr_cgroup *cg, uint64_t cpus_milli, bool hard_limit,
                      struct cr_err *err);
/* Memory limit in bytes, 0 = unlimited (v1 memory.limit_in_bytes, v2 memory.max). */
int cr_cgroup_set_memory(struct cr_cgroup *cg, uint64_t limit_bytes, struct cr_err *err);
/* Maximum number of processes/threads, 0 = unlimited (pids.max). */
int cr_cgroup_set_pids(struct cr_cgroup *cg, uint64_t max, struct cr_err *err);

/* Sample statistics into *u (fully overwritten). Missing controllers leave fields 0. */
int cr_cgroup_usage(struct cr_cgroup *cg, struct cr_cgroup_usage *u, struct cr_err *err);

/*
 * The processes in the cgroup (cgroup.procs). On success *pids is owned (free()), and
 * may be non-NULL with *n == 0.
 */
int cr_cgroup_pids(struct cr_cgroup *cg, pid_t **pids, size_t *n, struct cr_err *err);

/*
 * SIGKILL every process in the cgroup, including ones that fork meanwhile, and wait
 * (bounded, about 2 s) until it is empty. v2: cgroup.kill when the kernel has it, else
 * freeze (cgroup.freeze), kill each pid, thaw; v1: freezer.state FROZEN, kill each pid
 * in tasks, THAWED, repeated until empty (a process leaves the cgroup when it exits,
 * before it is reaped). Returns -EBUSY naming a pid if processes remain at the deadline.
 */
int cr_cgroup_kill_all(struct cr_cgroup *cg, struct cr_err *err);

/*
 * Send signo to every process in the cgroup, once, without waiting (for a kill that must
 * not block the caller's loop; cr_cgroup_kill_all() is the thorough one). On v2 with
 * cgroup.kill a SIGKILL is one write, atomic against forks. Processes that vanish
 * meanwhile are fine.
 */
int cr_cgroup_signal(struct cr_cgroup *cg, int signo, struct cr_err *err);

/*
 * The absolute paths of the cgroup's cgroup.procs files: one per v1 hierarchy, one on
 * v2. Writing a pid into each joins the cgroup. *paths is owned (free each, then the
 * array); *n is set.
 */
void cr_cgroup_procs_paths(const struct cr_cgroup *cg, char ***paths, size_t *n);

/*
 * The names of the child cgroups of name ("corral" -> "web.1", "web.2"), the union over
 * every hierarchy; a parent that does not exist has none. *names is owned (free each,
 * then the array; may be non-NULL with *n == 0).
 */
int cr_cgroup_children(struct cr_cgroup_system *sys, const char *name, char ***names, size_t *n,
                       struct cr_err *err);

/* v1 cpu.shares for cpus_milli: 1024 per cpu, clamped to the kernel's [2, 262144]. */
uint64_t cr_cgroup_cpu_shares(uint64_t cpus_milli);
/* v2 cpu.weight for v1 shares, the kernel's mapping (1024 shares = weight 100),
 * rounded to nearest and clamped to [1, 10000]. */
uint64_t cr_cgroup_cpu_weight(uint64_t shares);
/* CFS quota in microseconds for cpus_milli per CR_CGROUP_CPU_PERIOD_US (at least 1000). */
uint64_t cr_cgroup_cpu_quota_us(uint64_t cpus_milli);

/*
 * Make moving processes between cgroups cheap for as long as the returned descriptor is
 * open (Linux >= 6.0, cgroup v1). Every write to a v1 cgroup.procs takes the kernel's
 * global threadgroup lock for writing, which waits for an RCU grace period (about 30 ms
 * on an idle machine) unless some hierarchy is mounted with "favordynmods". This mounts
 * a controller-less named hierarchy ("name=corral-dynmods,favordynmods") on a fresh
 * directory under scratch_dir, keeps an O_PATH descriptor on its root, lazily unmounts
 * it and removes the directory: nothing stays visible, and closing the descriptor (or
 * the process dying) puts the kernel back as it was. The cost is slightly slower
 * fork/exit system-wide, the trade the kernel documents for hosts that create many
 * containers. Returns the descriptor, or -errno with err (-EINVAL: kernel too old).
 */
int cr_cgroup_favor_dynmods(const char *scratch_dir, struct cr_err *err);

#endif
