/*
 * namespaces.c - the "namespaces" isolator (see namespaces.h): fills the launch info
 * with the clone flags, the hostname, /proc and the loopback interface.
 */
#include "isolate/namespaces.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

#define HOSTNAME_MAX 64 /* the kernel's __NEW_UTS_LEN */

static int ns_prepare(void *state, const struct cr_container_config *cfg,
                      struct cr_launch_info *launch, struct cr_err *err)
{
    (void)state;
    const char *network = cfg->network ? cfg->network : "host";
    bool none = strcmp(network, "none") == 0;
    if (!none && strcmp(network, "host") != 0)
        return cr_err_set(err, -EINVAL, "unknown network mode '%s' (known: host, none)", network);
    launch->clone_flags |= CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC;
    launch->mount_proc = true;
    if (none) {
        launch->clone_flags |= CLONE_NEWNET;
        launch->loopback_up = true;
    }
    const char *host = cfg->hostname && *cfg->hostname ? cfg->hostname : cfg->container_id;
    free(launch->hostname);
    launch->hostname = cr_xasprintf("%.*s", HOSTNAME_MAX, host);
    return 0;
}

const struct cr_isolator_ops cr_isolator_namespaces = {
    .name = "namespaces",
    .prepare = ns_prepare,
};
