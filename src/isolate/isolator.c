/*
 * isolator.c - the registry of isolators by name, the default isolation, and the launch
 * info helpers. Adding an isolator = adding its ops table to `registry` below.
 */
#include "isolate/isolator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "isolate/cgroup.h"
#include "isolate/cgroups_isolator.h"
#include "isolate/filesystem.h"
#include "isolate/hardening.h"
#include "isolate/namespaces.h"
#include "isolate/posix.h"

static const struct cr_isolator_ops *const registry[] = {
    &cr_isolator_posix,      &cr_isolator_cgroups,   &cr_isolator_namespaces,
    &cr_isolator_filesystem, &cr_isolator_hardening,
};

const struct cr_isolator_ops *cr_isolator_find(const char *name)
{
    for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++)
        if (strcmp(registry[i]->name, name) == 0)
            return registry[i];
    return NULL;
}

char *cr_isolator_names(char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]) && used < size; i++) {
        int n = snprintf(buf + used, size - used, "%s%s", i ? "," : "", registry[i]->name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return buf;
}

const char *cr_isolation_default(void)
{
    if (geteuid() != 0)
        return "posix";
    struct cr_cgroup_system *sys = NULL;
    if (cr_cgroup_detect(CR_ISOLATION_CGROUPS_MOUNT, &sys, NULL) < 0)
        return "posix,namespaces,filesystem,hardening";
    cr_cgroup_system_free(sys);
    return "posix,cgroups,namespaces,filesystem,hardening";
}

void cr_isolation_opts_default(struct cr_isolation_opts *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->cgroups_mount = CR_ISOLATION_CGROUPS_MOUNT;
    opts->cgroups_root = CR_ISOLATION_CGROUPS_ROOT;
    opts->seccomp = true;
}

void cr_launch_info_init(struct cr_launch_info *li)
{
    memset(li, 0, sizeof(*li));
}

void cr_launch_info_release(struct cr_launch_info *li)
{
    if (!li)
        return;
    for (size_t i = 0; i < li->nmounts; i++) {
        free(li->mounts[i].source);
        free(li->mounts[i].target);
        free(li->mounts[i].fstype);
        free(li->mounts[i].what);
    }
    free(li->mounts);
    free(li->hostname);
    free(li->seccomp_filter);
    memset(li, 0, sizeof(*li));
}

void cr_launch_info_add_mount(struct cr_launch_info *li, const char *source, const char *target,
                              const char *fstype, unsigned long flags, const char *what)
{
    li->mounts = cr_xrealloc(li->mounts, (li->nmounts + 1) * sizeof(*li->mounts));
    struct cr_mount *m = &li->mounts[li->nmounts++];
    m->source = cr_xstrdup(source);
    m->target = cr_xstrdup(target);
    m->fstype = cr_xstrdup(fstype);
    m->flags = flags;
    m->what = cr_xstrdup(what ? what : target);
}
