/*
 * cgroups_isolator.h - the "cgroups" isolator: one cgroup per container under
 * <cgroups_root>/<container-id>, on cgroup v1 or v2 (cgroup.h hides which).
 *
 * prepare creates the cgroup and applies the limits: cpu weight from the `cpus`
 * resource (plus a CFS quota of the same size when the containerizer's options or the
 * task ask for a hard limit), memory.limit from `mem` (MB), pids.max from the options.
 * A controller the machine lacks is logged once and skipped, except memory: a memory
 * limit that cannot be applied fails the launch. isolate moves the child in before it
 * execs, so everything the task forks is counted and killed with it. usage reads cpu
 * time, throttling, memory (rss, current, peak, limit) and OOM kills from the cgroup;
 * kill signals every member; cleanup kills what is left (freezer/cgroup.kill, so
 * forks cannot escape) and removes the cgroup.
 *
 * recover(known) removes every child of cgroups_root that is not a known container:
 * call it only from the process that knows every container under that root (the agent).
 */
#ifndef CR_ISOLATE_CGROUPS_ISOLATOR_H
#define CR_ISOLATE_CGROUPS_ISOLATOR_H

#include "isolate/isolator.h"

extern const struct cr_isolator_ops cr_isolator_cgroups;

#endif
