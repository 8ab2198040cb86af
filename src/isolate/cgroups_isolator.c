/*
 * cgroups_isolator.c - the "cgroups" isolator (see cgroups_isolator.h).
 *
 * State: the detected cgroup system, the options, and one entry per container this
 * process prepared or recovered (its open cgroup handle, what was asked, and the OOM
 * kill count at prepare, so a container reports only its own kills). Containers it
 * does not know (usage of a container another process launched) are opened by name on
 * demand. Only cgroup files are touched; processes only through the cgroup's member
 * list.
 */
#include "isolate/cgroups_isolator.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "isolate/cgroup.h"

#define MB (UINT64_C(1024) * 1024)

struct entry {
    struct entry *next;
    char *id;
    struct cr_cgroup *cg;
    int64_t cpus_milli; /* asked for; 0 = unknown (recovered) */
    bool cpu_hard;
    uint64_t oom_base; /* oom kills already counted when prepared */
};

struct state {
    struct cr_cgroup_system *sys;
    char *root;
    bool cpu_hard_limit;
    uint64_t pids_limit;
    bool warned_cpu, warned_pids;
    struct entry *entries;
};

static struct entry *find(struct state *st, const char *id)
{
    for (struct entry *e = st->entries; e; e = e->next)
        if (strcmp(e->id, id) == 0)
            return e;
    return NULL;
}

static void drop(struct state *st, struct entry *e)
{
    for (struct entry **p = &st->entries; *p; p = &(*p)->next) {
        if (*p == e) {
            *p = e->next;
            break;
        }
    }
    cr_cgroup_free(e->cg);
    free(e->id);
    free(e);
}

static struct entry *add(struct state *st, const char *id, struct cr_cgroup *cg)
{
    struct entry *e = cr_xcalloc(1, sizeof(*e));
    e->id = cr_xstrdup(id);
    e->cg = cg;
    e->next = st->entries;
    st->entries = e;
    return e;
}

/* A container id must be one path component to name a cgroup below the root. */
static bool id_ok(const char *id)
{
    return id && *id && !strchr(id, '/') && strcmp(id, ".") != 0 && strcmp(id, "..") != 0;
}

static char *cgroup_name(const struct state *st, const char *id)
{
    return cr_xasprintf("%s/%s", st->root, id);
}

static int cg_create(void **state, const struct cr_isolation_opts *opts, struct cr_err *err)
{
    const char *mount = opts->cgroups_mount ? opts->cgroups_mount : CR_ISOLATION_CGROUPS_MOUNT;
    const char *root = opts->cgroups_root ? opts->cgroups_root : CR_ISOLATION_CGROUPS_ROOT;
    struct cr_cgroup_system *sys = NULL;
    int rc = cr_cgroup_detect(mount, &sys, err);
    if (rc < 0)
        return rc;
    struct state *st = cr_xcalloc(1, sizeof(*st));
    st->sys = sys;
    st->root = cr_xstrdup(root);
    st->cpu_hard_limit = opts->cpu_hard_limit;
    st->pids_limit = opts->pids_limit;
    CR_INFO("cgroups isolator ready version=%d mount=%s root=%s cpu=%d memory=%d pids=%d",
            (int)cr_cgroup_system_version(sys), mount, root, cr_cgroup_system_has(sys, "cpu"),
            cr_cgroup_system_has(sys, "memory"), cr_cgroup_system_has(sys, "pids"));
    *state = st;
    return 0;
}

static void cg_destroy(void *state)
{
    struct state *st = state;
    if (!st)
        return;
    while (st->entries)
        drop(st, st->entries);
    cr_cgroup_system_free(st->sys);
    free(st->root);
    free(st);
}

/* cpu and memory from resources (pids from the options), for prepare and update. */
static int apply_limits(struct state *st, struct entry *e, const struct cr_resources *res,
                        struct cr_err *err)
{
    int rc;
    int64_t cpus = res ? cr_resources_scalar(res, "cpus") : 0;
    if (cpus > 0) {
        e->cpus_milli = cpus;
        rc = cr_cgroup_set_cpu(e->cg, (uint64_t)cpus, e->cpu_hard, err);
        if (rc == -ENOTSUP) {
            if (!st->warned_cpu)
                CR_WARN("cpu controller missing, cpu limits not applied error=\"%s\"",
                        cr_err_msg(err));
            st->warned_cpu = true;
            cr_err_clear(err);
        } else if (rc < 0) {
            return rc;
        }
    }
    int64_t mem_milli = res ? cr_resources_scalar(res, "mem") : 0;
    if (mem_milli > 0) {
        uint64_t bytes = (uint64_t)mem_milli * MB / 1000;
        rc = cr_cgroup_set_memory(e->cg, bytes, err);
        if (rc < 0)
            return cr_err_wrap(err, "memory limit of %.3g MB cannot be applied",
                               (double)mem_milli / 1000.0);
    }
    if (st->pids_limit > 0) {
        rc = cr_cgroup_set_pids(e->cg, st->pids_limit, err);
        if (rc == -ENOTSUP) {
            if (!st->warned_pids)
                CR_WARN("pids controller missing, pids limit not applied error=\"%s\"",
                        cr_err_msg(err));
            st->warned_pids = true;
            cr_err_clear(err);
        } else if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

static int cg_prepare(void *state, const struct cr_container_config *cfg,
                      struct cr_launch_info *launch, struct cr_err *err)
{
    struct state *st = state;
    (void)launch;
    if (!id_ok(cfg->container_id))
        return cr_err_set(err, -EINVAL, "container id '%s' cannot name a cgroup",
                          cfg->container_id ? cfg->container_id : "(null)");
    if (find(st, cfg->container_id))
        return cr_err_set(err, -EEXIST, "container '%s' already has a cgroup", cfg->container_id);
    char *name CR_AUTOFREE = cgroup_name(st, cfg->container_id);
    struct cr_cgroup *cg = NULL;
    int rc = cr_cgroup_create(st->sys, name, &cg, err);
    if (rc < 0)
        return rc;
    struct entry *e = add(st, cfg->container_id, cg); /* cleanup removes it from here on */
    e->cpu_hard = st->cpu_hard_limit || cfg->cpu_hard_limit;
    if ((rc = apply_limits(st, e, cfg->resources, err)) < 0)
        return rc;
    struct cr_cgroup_usage u;
    if (cr_cgroup_usage(cg, &u, NULL) == 0)
        e->oom_base = u.oom_kills;
    return 0;
}

static int cg_isolate(void *state, const char *container_id, pid_t pid, struct cr_err *err)
{
    struct entry *e = find(state, container_id);
    if (!e)
        return cr_err_set(err, -ENOENT, "container '%s' has no cgroup", container_id);
    return cr_cgroup_add_pid(e->cg, pid, err);
}

static int cg_update(void *state, const char *container_id, const struct cr_resources *resources,
                     struct cr_err *err)
{
    struct entry *e = find(state, container_id);
    if (!e)
        return cr_err_set(err, -ENOENT, "container '%s' has no cgroup", container_id);
    return apply_limits(state, e, resources, err);
}

/* The container's cgroup: its entry's, or *tmp opened by name (free it afterwards). */
static int lookup(struct state *st, const char *id, struct cr_cgroup **tmp, struct entry **e,
                  struct cr_err *err)
{
    *tmp = NULL;
    *e = find(st, id);
    if (*e)
        return 0;
    if (!id_ok(id))
        return cr_err_set(err, -ENOENT, "container '%s' has no cgroup", id ? id : "(null)");
    char *name CR_AUTOFREE = cgroup_name(st, id);
    int rc = cr_cgroup_open(st->sys, name, tmp, err);
    if (rc < 0)
        return cr_err_wrap(err, "container '%s'", id);
    return 0;
}

static int cg_usage(void *state, const char *container_id, pid_t pid, struct cr_usage *usage,
                    struct cr_err *err)
{
    (void)pid;
    struct cr_cgroup *tmp;
    struct entry *e;
    int rc = lookup(state, container_id, &tmp, &e, err);
    if (rc < 0)
        return rc;
    struct cr_cgroup_usage u;
    rc = cr_cgroup_usage(e ? e->cg : tmp, &u, err);
    cr_cgroup_free(tmp);
    if (rc < 0)
        return rc;
    usage->cpus_user_time_secs = u.cpu_user_secs;
    usage->cpus_system_time_secs = u.cpu_system_secs;
    usage->mem_rss_bytes = u.mem_rss_bytes;
    usage->mem_total_bytes = u.mem_current_bytes;
    usage->mem_max_bytes = u.mem_max_bytes;
    usage->mem_limit_bytes = u.mem_limit_bytes;
    usage->cpus_limit = e && e->cpus_milli > 0 ? (double)e->cpus_milli / 1000.0 : u.cpu_limit;
    usage->cpus_nr_periods = u.cpu_nr_periods;
    usage->cpus_nr_throttled = u.cpu_nr_throttled;
    usage->cpus_throttled_time_secs = u.cpu_throttled_secs;
    uint64_t base = e ? e->oom_base : 0;
    usage->mem_oom_kills = u.oom_kills > base ? u.oom_kills - base : 0;
    usage->processes = u.processes;
    if (u.threads)
        usage->threads = u.threads;
    return 0;
}

static int cg_kill(void *state, const char *container_id, int signo, struct cr_err *err)
{
    struct cr_cgroup *tmp;
    struct entry *e;
    int rc = lookup(state, container_id, &tmp, &e, err);
    if (rc < 0)
        return rc;
    rc = cr_cgroup_signal(e ? e->cg : tmp, signo, err);
    cr_cgroup_free(tmp);
    return rc;
}

static int cg_procs_files(void *state, const char *container_id, char ***paths, size_t *n)
{
    struct cr_cgroup *tmp;
    struct entry *e;
    *paths = NULL;
    *n = 0;
    int rc = lookup(state, container_id, &tmp, &e, NULL);
    if (rc < 0)
        return rc;
    cr_cgroup_procs_paths(e ? e->cg : tmp, paths, n);
    cr_cgroup_free(tmp);
    return 0;
}

/* Kill everything in cg and remove it. A cgroup already gone (someone else destroyed the
 * container) is fine. */
static int remove_cgroup(struct cr_cgroup *cg, struct cr_err *err)
{
    int rc = cr_cgroup_kill_all(cg, err);
    if (rc == -ENOENT)
        cr_err_clear(err);
    else if (rc < 0)
        return rc;
    return cr_cgroup_destroy(cg, err);
}

static int cg_cleanup(void *state, const char *container_id, struct cr_err *err)
{
    struct state *st = state;
    struct entry *e = find(st, container_id);
    if (e) {
        int rc = remove_cgroup(e->cg, err);
        drop(st, e);
        return rc;
    }
    /* A container this process does not know (destroyed by id), or one whose prepare
     * failed half-way: remove its cgroup if there is one. */
    if (!id_ok(container_id))
        return 0;
    char *name CR_AUTOFREE = cgroup_name(st, container_id);
    struct cr_cgroup *cg = NULL;
    if (cr_cgroup_open(st->sys, name, &cg, NULL) < 0) {
        /* Missing in some v1 hierarchy: create fills the gaps so all of it goes. */
        char **kids = NULL;
        size_t nkids = 0;
        if (cr_cgroup_children(st->sys, st->root, &kids, &nkids, NULL) < 0)
            return 0;
        bool exists = false;
        for (size_t i = 0; i < nkids; i++) {
            exists |= strcmp(kids[i], container_id) == 0;
            free(kids[i]);
        }
        free(kids);
        if (!exists)
            return 0;
        int rc = cr_cgroup_create(st->sys, name, &cg, err);
        if (rc < 0)
            return rc;
    }
    int rc = remove_cgroup(cg, err);
    cr_cgroup_free(cg);
    return rc;
}

static int cg_recover(void *state, const struct cr_container_ref *known, size_t n,
                      struct cr_err *err)
{
    struct state *st = state;
    char **children = NULL;
    size_t nchildren = 0;
    int rc = cr_cgroup_children(st->sys, st->root, &children, &nchildren, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < nchildren && rc == 0; i++) {
        bool is_known = false;
        for (size_t k = 0; k < n && !is_known; k++)
            is_known = known[k].container_id && strcmp(known[k].container_id, children[i]) == 0;
        char *name CR_AUTOFREE = cgroup_name(st, children[i]);
        struct cr_cgroup *cg = NULL;
        if (is_known) {
            if (find(st, children[i]))
                continue;
            /* Created (not opened): a half-made cgroup gets its missing hierarchies. */
            if ((rc = cr_cgroup_create(st->sys, name, &cg, err)) < 0)
                break;
            add(st, children[i], cg);
            CR_INFO("recovered container cgroup container=%s cgroup=%s", children[i], name);
            continue;
        }
        if ((rc = cr_cgroup_create(st->sys, name, &cg, err)) < 0)
            break;
        rc = remove_cgroup(cg, err);
        cr_cgroup_free(cg);
        if (rc == 0)
            CR_INFO("removed orphan cgroup container=%s cgroup=%s", children[i], name);
    }
    for (size_t i = 0; i < nchildren; i++)
        free(children[i]);
    free(children);
    return rc;
}

const struct cr_isolator_ops cr_isolator_cgroups = {
    .name = "cgroups",
    .create = cg_create,
    .destroy = cg_destroy,
    .recover = cg_recover,
    .prepare = cg_prepare,
    .isolate = cg_isolate,
    .update = cg_update,
    .usage = cg_usage,
    .kill = cg_kill,
    .procs_files = cg_procs_files,
    .cleanup = cg_cleanup,
};
