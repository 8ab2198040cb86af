/*
 * namespaces.h - the "namespaces" isolator: the task gets its own pid, mount, UTS and
 * IPC namespaces, and optionally its own (empty) network namespace.
 *
 * Pid: the task is pid 1 of its namespace and sees only its own tree (a fresh /proc is
 * mounted in its mount namespace); when it exits the kernel kills everything else in
 * the namespace, so a double-forked daemon cannot outlive it. Mount: / is made
 * recursively private first, so nothing mounted inside (volumes, /proc, /tmp) leaks
 * back to the host. UTS: hostname = cr_container_config.hostname, or the container id
 * (cut to 64 bytes, the kernel's limit). Network: "host" (default, the agent's
 * network) or "none" (a new namespace with only lo, brought up); anything else fails
 * the launch naming the mode.
 *
 * Everything is done by the child from the launch info (containerizer.c); prepare only
 * describes it. Stateless.
 */
#ifndef CR_ISOLATE_NAMESPACES_H
#define CR_ISOLATE_NAMESPACES_H

#include "isolate/isolator.h"

extern const struct cr_isolator_ops cr_isolator_namespaces;

#endif
