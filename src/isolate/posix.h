/*
 * posix.h - the "posix" isolator: no isolation beyond the process session the
 * containerizer already gives every container (setsid: the leader's pid is the
 * session and process-group id, so a signal to the group reaches the children).
 *
 * Its only real hook is usage: it sums /proc/<pid>/stat over every process whose
 * session is the container's (a process that left the session with its own setsid()
 * escapes it — cgroups close that gap).
 */
#ifndef CR_ISOLATE_POSIX_H
#define CR_ISOLATE_POSIX_H

#include <stdint.h>
#include <sys/types.h>

#include "isolate/isolator.h"

extern const struct cr_isolator_ops cr_isolator_posix;

/* The fields of one /proc/<pid>/stat line the posix isolator uses. */
struct cr_proc_stat {
    pid_t pid;
    pid_t session;
    uint64_t utime_ticks;
    uint64_t stime_ticks;
    uint64_t num_threads;
    uint64_t rss_pages;
};

/*
 * Parse the text of /proc/<pid>/stat (the command name may hold spaces and parentheses;
 * the last ')' ends it). Returns 0 or -EINVAL with err saying which field is bad.
 */
int cr_proc_stat_parse(const char *text, struct cr_proc_stat *out, struct cr_err *err);

/*
 * Sum the statistics of every process of session sid found under proc_root ("/proc"
 * normally; a directory shaped like it in tests) into *usage (overwriting cpus_*,
 * mem_rss_bytes, processes, threads). ticks_per_sec and page_size convert units.
 * Returns 0, or -ESRCH if no process of the session exists, or -errno if proc_root
 * cannot be read.
 */
int cr_posix_usage_scan(const char *proc_root, pid_t sid, long ticks_per_sec, long page_size,
                        struct cr_usage *usage, struct cr_err *err);

#endif
