/*
 * resources_detect.h - the agent's total resources: what the machine has, minus what
 * the operator keeps for the system, overridden per resource by --resources.
 *
 * Split in two so the arithmetic is testable without a machine: cr_agent_probe_machine()
 * reads the facts (cpu count, /proc/meminfo, the work dir's file system) and
 * cr_agent_compute_resources() turns facts + the --resources text into resources.
 *
 * Rules (Mesos' defaults): cpus = CPUs this process may run on; mem = MemTotal minus
 * 1 GiB when at least 2 GiB, else half; disk = the work dir's file system size minus
 * 5 GiB when at least 10 GiB, else half; ports = [31000-32000]. Every resource named in
 * --resources (any role) replaces the detected one of that name; other names in it
 * (gpus, custom ones) are added.
 */
#ifndef CR_AGENT_RESOURCES_DETECT_H
#define CR_AGENT_RESOURCES_DETECT_H

#include <stdint.h>

#include "base/err.h"
#include "core/resources.h"

struct cr_machine_facts {
    long cpus;           /* online CPUs usable by this process */
    uint64_t mem_bytes;  /* MemTotal */
    uint64_t disk_bytes; /* size of the file system holding the work dir */
};

/*
 * Parse MemTotal out of /proc/meminfo text ("MemTotal:  16318008 kB"). Returns 0 with
 * *mem_bytes, or -EINVAL if the line is missing or malformed.
 */
int cr_meminfo_parse(const char *text, uint64_t *mem_bytes, struct cr_err *err);

/* Read the facts of this machine; work_dir must exist. Returns 0 or -errno with err. */
int cr_agent_probe_machine(const char *work_dir, struct cr_machine_facts *out, struct cr_err *err);

/*
 * out := resources from facts, overridden by override_text (Mesos text form, may be
 * NULL or empty). out is released first. Returns 0 or -EINVAL with err naming the bad
 * --resources entry.
 */
int cr_agent_compute_resources(const struct cr_machine_facts *facts, const char *override_text,
                               struct cr_resources *out, struct cr_err *err);

#endif
