/*
 * filesystem.h - the "filesystem" isolator: volumes and a private /tmp, inside the
 * mount namespace the "namespaces" isolator creates (it requires that isolator; the
 * containerizer refuses the list without it). The working directory is the sandbox.
 *
 * Volumes (cr_volume): host_path is bound onto container_path in the task's mount
 * namespace. A relative container_path is inside the sandbox and is created (a
 * directory, or an empty file when host_path is a file); ".." is refused. An absolute
 * one must exist. read_only remounts the bind read-only, keeping the nosuid/nodev/noexec
 * flags of the host mount (a read-only bind is not recursive, so no writable submount
 * shows through). Every check runs in prepare, before the fork: "volume host path '/x'
 * does not exist".
 *
 * Private /tmp: <sandbox>/tmp (created, mode 1777) is bound onto /tmp after the
 * volumes, so what the task writes to /tmp lands in its sandbox and dies with it. A
 * sandbox that itself lives under /tmp (a work dir there) is first bound, with its
 * volumes, at its own path inside the new /tmp, so it stays reachable by its absolute
 * path (and stays the working directory: the child changes into it before mounting).
 */
#ifndef CR_ISOLATE_FILESYSTEM_H
#define CR_ISOLATE_FILESYSTEM_H

#include "isolate/isolator.h"

extern const struct cr_isolator_ops cr_isolator_filesystem;

#endif
