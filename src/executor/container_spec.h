/*
 * container_spec.h - what a TaskInfo asks of its container, in the isolators' terms.
 *
 * Reads the parts of a Mesos TaskInfo the executor turns into launch settings:
 *   container.type            "MESOS" (or absent); "DOCKER" and container.mesos.image are
 *                             refused until images are supported ("not supported yet");
 *   container.hostname        the UTS hostname (default: the task id, cut to 63 bytes);
 *   container.network_infos   [{"name": "none"}] for a private network namespace with only
 *                             loopback; "host" or absent = the host's network;
 *   container.volumes         [{"container_path", "host_path", "mode": "RW"|"RO"}] binds;
 *                             other volume sources are refused;
 *   limits.cpus               a hard cpu cap (CFS quota) at that many cpus;
 *   limits.mem                a memory limit above the requested mem.
 * Every refusal names the field: "container.volumes[0].host_path: required".
 */
#ifndef CR_EXECUTOR_CONTAINER_SPEC_H
#define CR_EXECUTOR_CONTAINER_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "api/mesos.h"
#include "base/err.h"
#include "core/resources.h"
#include "isolate/containerizer.h"

struct cr_container_spec_ext {
    struct cr_resources resources; /* cpus and mem the isolators apply */
    bool cpu_hard_limit;           /* the task asked for a cpu cap (limits.cpus) */
    char *hostname;                /* owned */
    const char *network;           /* static: "host" or "none" */
    struct cr_volume *volumes;     /* owned array; its strings owned too */
    size_t nvolumes;
};

/* Parse info's container and limits. On error out is left released. */
int cr_container_spec_parse(const struct cr_task_info *info, struct cr_container_spec_ext *out,
                            struct cr_err *err);
void cr_container_spec_ext_release(struct cr_container_spec_ext *s);

#endif
