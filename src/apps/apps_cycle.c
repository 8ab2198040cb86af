/*
 * apps_cycle.c - the orchestrator's cycle (see apps_impl.h and apps.c): for each app, plan
 * (core/deploy.h), kill, place the launches over every agent (core/placement.h), check the
 * deployment; then commit the new instances and ACCEPT their offers, DECLINE the rest, and
 * SUPPRESS when no app wants offers. Also the health kill budget, the launch backoff reset
 * and the diagnoses of waiting instances.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/apps_impl.h"
#include "base/log.h"
#include "base/util.h"

#define DECLINE_REFUSE_S 5.0
#define KILL_RETRY_S 10.0 /* Marathon's kill retry timeout */
#define HOLD_GRACE_S 5.0
#define HOLD_MAX_S                                                                                 \
    60.0 /* longest hold while most agents are unreachable */ /* after most agents came back, for  \
                                                                 the last ones to follow */

struct launch_group {
    struct held_agent *h;
    struct cr_task_info *tasks;
    size_t ntasks;
};

struct pending_launch {
    struct cr_apps *a;
    struct cr_sched_call *calls; /* one ACCEPT per agent */
    size_t ncalls;
    char **inst_ids; /* committed instances (they may be gone when the commit returns) */
    size_t ninst;
};

static int64_t scalar_of(const struct cr_resources *r, const char *name)
{
    return cr_resources_scalar(r, name);
}

static void set_free(struct cr_place_machine *pm, const struct cr_resources *r)
{
    pm->free_cpus = scalar_of(r, "cpus");
    pm->free_mem = scalar_of(r, "mem");
    pm->free_disk = scalar_of(r, "disk");
    pm->free_ports = (int64_t)cr_resources_range_count(r, "ports");
}

/* Every known agent becomes a machine: in s->ms its held offers are the free part (what can
 * be launched now); in s->real the free part is what nobody uses or holds (the truth for a
 * diagnosis and a dry run). */
void machine_set_build(struct cr_apps *a, struct machine_set *s)
{
    memset(s, 0, sizeof(*s));
    size_t n = cr_map_count(&a->m->agents);
    s->ms = cr_xcalloc(n + 1, sizeof(*s->ms));
    s->real = cr_xcalloc(n + 1, sizeof(*s->real));
    s->held = cr_xcalloc(n + 1, sizeof(*s->held));
    s->agents = cr_xcalloc(n + 1, sizeof(*s->agents));
    size_t nattrs = 0;
    size_t it = 0;
    void *v;
    while (cr_map_next(&a->m->agents, &it, NULL, &v))
        nattrs += ((struct agent *)v)->info.attributes.n;
    s->attrs = cr_xcalloc(nattrs + 1, sizeof(*s->attrs));
    size_t k = 0, na = 0;
    it = 0;
    while (cr_map_next(&a->m->agents, &it, NULL, &v)) {
        struct agent *ag = v;
        struct cr_place_machine *pm = &s->ms[k];
        s->agents[k] = ag;
        pm->id = ag->id;
        pm->hostname = ag->info.hostname ? ag->info.hostname : "";
        pm->attrs = &s->attrs[na];
        for (size_t j = 0; j < ag->info.attributes.n; j++) {
            s->attrs[na].name = ag->info.attributes.v[j].name;
            s->attrs[na].text = ag->info.attributes.v[j].text;
            na++;
        }
        pm->nattrs = ag->info.attributes.n;
        pm->total_cpus = scalar_of(&ag->info.resources, "cpus");
        pm->total_mem = scalar_of(&ag->info.resources, "mem");
        pm->total_disk = scalar_of(&ag->info.resources, "disk");
        pm->is_unreachable = ag->unreachable || !ag->connected;
        struct held_agent *h = held_find(a, ag->id);
        s->held[k] = h;
        if (h)
            set_free(pm, &h->free);

        /* real free = total - tasks - every outstanding offer + ours */
        struct cr_resources used, offered;
        cr_resources_init(&used);
        cr_resources_init(&offered);
        tasks_sum_held(&ag->tasks, NULL, &used);
        offers_sum_agent(a->m, ag->id, &offered);
        s->real[k] = *pm;
        struct cr_place_machine *rm = &s->real[k];
        struct cr_place_machine u = {0}, o = {0};
        set_free(&u, &used);
        set_free(&o, &offered);
        rm->free_cpus = pm->total_cpus - u.free_cpus - o.free_cpus + pm->free_cpus;
        rm->free_mem = pm->total_mem - u.free_mem - o.free_mem + pm->free_mem;
        rm->free_disk = pm->total_disk - u.free_disk - o.free_disk + pm->free_disk;
        rm->free_ports = (int64_t)cr_resources_range_count(&ag->info.resources, "ports") -
                         u.free_ports - o.free_ports + pm->free_ports;
        cr_resources_release(&used);
        cr_resources_release(&offered);
        k++;
    }
    s->n = k;
}

void machine_set_release(struct machine_set *s)
{
    free(s->ms);
    free(s->real);
    free(s->held);
    free(s->agents);
    free(s->attrs);
    memset(s, 0, sizeof(*s));
}

/* Take the instance's host ports out of h->free: the app's fixed ports with requirePorts,
 * else the first free ones. ports[] gets napp_ports entries. */
static int take_ports(struct held_agent *h, const struct cr_app *spec, uint64_t *ports)
{
    if (spec->nports == 0)
        return 0;
    struct cr_resources want;
    cr_resources_init(&want);
    int rc = 0;
    if (spec->require_ports) {
        for (size_t k = 0; k < spec->nports; k++) {
            ports[k] = (uint64_t)spec->ports[k].port;
            struct cr_range r = {ports[k], ports[k]};
            cr_resources_add_ranges(&want, "ports", h->role, &r, 1);
        }
    } else {
        rc = cr_resources_take_ranges(&h->free, "ports", spec->nports, &want, NULL);
        size_t k = 0;
        for (size_t e = 0; rc == 0 && e < want.n; e++) {
            const struct cr_resource *pr = &want.v[e];
            for (size_t r = 0; r < pr->nranges && k < spec->nports; r++)
                for (uint64_t p = pr->ranges[r].begin; p <= pr->ranges[r].end && k < spec->nports;
                     p++)
                    ports[k++] = p;
        }
        if (rc == 0 && k < spec->nports)
            rc = -ENOSPC;
    }
    if (rc == 0 && !cr_resources_contains(&h->free, &want))
        rc = -ENOSPC;
    if (rc == 0)
        rc = cr_resources_subtract(&h->free, &want, NULL);
    cr_resources_release(&want);
    return rc;
}

static void launch_committed(struct cr_master *m, int rc, const char *msg, void *ud)
{
    struct pending_launch *p = ud;
    struct cr_apps *a = p->a;
    for (size_t k = 0; k < p->ncalls; k++) {
        struct cr_sched_call *call = &p->calls[k];
        if (rc < 0 || !a->fw) {
            /* Not durable: the instances are not launched; give the offers back. */
            if (a->fw) {
                call->type = CR_CALL_DECLINE;
                call->refuse_seconds = 0;
                offers_decline(m, a->fw, call);
            }
        } else {
            offers_accept(m, a->fw, call);
        }
        cr_sched_call_release(call);
    }
    for (size_t k = 0; k < p->ninst; k++) {
        struct inst *i = cr_map_get(&a->insts, p->inst_ids[k]);
        if (i && rc < 0) {
            CR_WARN("apps: instance not launched: the registry write failed task=%s error=\"%s\"",
                    i->id, msg ? msg : "");
            i->is_persisted = false;
            inst_forget(a, i);
        }
        free(p->inst_ids[k]);
    }
    if (rc < 0)
        apps_kick(a);
    free(p->inst_ids);
    free(p->calls);
    free(p);
}

/* Instances of app as the planner sees them (order = ids, indexes into list). */
/* The app's GROUP_BY field, or NULL. */
static const char *group_by_field(const struct cr_app *spec)
{
    for (size_t k = 0; k < spec->nconstraints; k++)
        if (spec->constraints[k].op == CR_PLACE_GROUP_BY)
            return spec->constraints[k].field;
    return NULL;
}

/* The value of field on the agent an instance runs on (borrowed), or NULL. */
static const char *field_value(struct cr_apps *a, const struct inst *i, const char *field)
{
    if (strcmp(field, "hostname") == 0)
        return i->hostname;
    struct agent *ag = agent_find(a->m, i->agent_id);
    if (!ag)
        return NULL;
    for (size_t k = 0; k < ag->info.attributes.n; k++)
        if (strcmp(ag->info.attributes.v[k].name, field) == 0)
            return ag->info.attributes.v[k].text;
    return NULL;
}

static struct cr_deploy_inst *plan_view(struct cr_apps *a, struct app *app, struct inst ***list_out,
                                        size_t *n_out)
{
    const char *group_field = group_by_field(&app->spec);
    size_t n = cr_map_count(&app->insts);
    struct inst **list = cr_xcalloc(n + 1, sizeof(*list));
    struct cr_deploy_inst *v = cr_xcalloc(n + 1, sizeof(*v));
    size_t it = 0, k = 0;
    void *p;
    /* Inactive unreachable instances do not count: a replacement takes their place. */
    while (cr_map_next(&app->insts, &it, NULL, &p))
        if (!((struct inst *)p)->is_inactive)
            list[k++] = p;
    n = k;
    for (size_t j = 0; j < n; j++) {
        struct inst *i = list[j];
        v[j].is_target = i->config_version && app->spec.last_config_change_at &&
                         strcmp(i->config_version, app->spec.last_config_change_at) == 0;
        v[j].phase = i->phase;
        v[j].is_healthy = i->phase == CR_INST_RUNNING && i->unreachable_since == 0 &&
                          (!i->has_health || i->healthy == 1);
        v[j].staged_at_s = i->staged_at;
        v[j].group = group_field && i->agent_id ? field_value(a, i, group_field) : NULL;
    }
    *list_out = list;
    *n_out = n;
    return v;
}

/*
 * True when most agents are unreachable at once: more likely this master is the one cut off
 * (its own link, a partition of the control network) than half the machines dead at the same
 * moment. Replacing their instances would only start them on the first agents to come back and
 * kill them again a moment later, so inactivation waits (expunging does not).
 */
static bool most_agents_unreachable(struct cr_apps *a)
{
    size_t n = 0, away = 0;
    size_t it = 0;
    void *v;
    while (cr_map_next(&a->m->agents, &it, NULL, &v)) {
        n++;
        away += ((struct agent *)v)->unreachable;
    }
    return n >= 2 && away * 2 > n;
}

void apps_unreachable_tick(struct cr_apps *a, struct app *app, double now, bool hold)
{
    size_t n = cr_map_count(&app->insts), k = 0;
    struct inst **gone = cr_xcalloc(n + 1, sizeof(*gone));
    size_t it = 0;
    void *v;
    while (cr_map_next(&app->insts, &it, NULL, &v)) {
        struct inst *i = v;
        if (i->unreachable_since <= 0)
            continue;
        double away = now - i->unreachable_since;
        if (away >= app->spec.expunge_after_s) {
            gone[k++] = i;
        } else if (!i->is_inactive && away >= app->spec.inactive_after_s && !hold) {
            i->is_inactive = true;
            CR_INFO("instance inactive, replacing it app=%s task=%s unreachable_for=%.1fs", app->id,
                    i->id, away);
            json_t *ev = json_object();
            json_object_set_new(ev, "instanceId", json_string(i->id));
            json_object_set_new(ev, "condition", json_string("UnreachableInactive"));
            json_object_set_new(ev, "runSpecId", json_string(app->id));
            json_object_set_new(ev, "agentId", json_string(i->agent_id ? i->agent_id : ""));
            json_object_set_new(ev, "host", json_string(i->hostname ? i->hostname : ""));
            json_object_set_new(ev, "runSpecVersion", json_string(i->version));
            apps_event(a, "instance_changed_event", ev);
            apps_revive(a);
        }
    }
    for (size_t j = 0; j < k; j++) {
        CR_INFO("instance expunged (unreachable too long) app=%s task=%s", app->id, gone[j]->id);
        /* Forgotten, so kill it: the master holds the KILL until the agent is back (or the
         * agent is removed and the task gone). */
        inst_send_kill(a, gone[j]);
        inst_forget(a, gone[j]);
    }
    free(gone);
}

static void diag_text(const struct app *app, char *buf, size_t size)
{
    size_t off = (size_t)snprintf(
        buf, size, "%zu instance%s cannot be placed on any of %zu machines:", app->waiting,
        app->waiting == 1 ? "" : "s", app->diag.considered);
    const char *sep = " ";
    for (size_t k = 0; k < app->diag.n && off < size; k++) {
        if (app->diag.v[k].failed == 0)
            continue;
        off += (size_t)snprintf(buf + off, size - off, "%s%s failed on %zu", sep,
                                app->diag.v[k].requirement, app->diag.v[k].failed);
        sep = ", ";
    }
}

/* The deadline passed: say why the target was not reached. */
static void deadline_reason(struct cr_apps *a, struct app *app, char *buf, size_t size)
{
    if (app->waiting > 0 && app->has_diag) {
        char d[400];
        diag_text(app, d, sizeof(d));
        snprintf(buf, size, "unplaceable: %s", d);
        return;
    }
    if (app->failures > 0) {
        const char *msg = app->last_failure
                              ? json_string_value(json_object_get(app->last_failure, "message"))
                              : NULL;
        snprintf(buf, size, "crash loop: instances failed %u times in a row (last: %s)",
                 app->failures, msg && *msg ? msg : "no message");
        return;
    }
    size_t running = 0, healthy = 0;
    size_t it = 0;
    void *v;
    while (cr_map_next(&app->insts, &it, NULL, &v)) {
        struct inst *i = v;
        running += i->phase == CR_INST_RUNNING;
        healthy += i->phase == CR_INST_RUNNING && (!i->has_health || i->healthy == 1);
    }
    if (running > healthy) {
        snprintf(buf, size, "health checks never passed: %zu of %zu running instances unhealthy",
                 running - healthy, running);
        return;
    }
    snprintf(buf, size, "progress deadline of %.0f s exceeded", app->spec.progress_deadline_s);
    (void)a;
}

static void check_deployment(struct cr_apps *a, struct app *app, bool is_done, double now)
{
    struct deployment *d = app->deploy;
    if (!d)
        return;
    if (is_done) {
        deploy_finish(a, d, DEPLOY_SUCCEEDED, NULL);
        return;
    }
    if (now >= d->deadline_at) {
        char why[512];
        deadline_reason(a, app, why, sizeof(why));
        deploy_finish(a, d, DEPLOY_FAILED, why);
    }
}

/* Health kills the executor left to us, within the app's budget. */
static void health_kills(struct cr_apps *a, struct app *app, double now)
{
    size_t it = 0;
    void *v;
    while (cr_map_next(&app->insts, &it, NULL, &v)) {
        struct inst *i = v;
        if (!i->kill_for_health || i->phase == CR_INST_KILLING)
            continue;
        if (!cr_kill_budget_allows(&app->kill_budget, now, a->cfg.health_kill_window_s,
                                   a->cfg.health_kill_fraction, app->spec.instances)) {
            if (!app->kill_budget_warned) {
                app->kill_budget_warned = true;
                CR_WARN("apps: health kill budget exhausted, unhealthy instances are kept "
                        "app=%s",
                        app->id);
                json_t *ev = json_object();
                json_object_set_new(ev, "appId", json_string(app->id));
                json_object_set_new(ev, "instanceId", json_string(i->id));
                json_object_set_new(ev, "reason",
                                    json_string("too many instances killed for failing health "
                                                "checks within the window; not killing more"));
                apps_event(a, "health_kill_budget_exhausted_event", ev);
            }
            continue;
        }
        app->kill_budget_warned = false;
        cr_kill_budget_record(&app->kill_budget, now, a->cfg.health_kill_window_s);
        json_t *ev = json_object();
        json_object_set_new(ev, "appId", json_string(app->id));
        json_object_set_new(ev, "taskId", json_string(i->id));
        json_object_set_new(ev, "instanceId", json_string(i->id));
        json_object_set_new(ev, "version", json_string(i->version));
        json_object_set_new(ev, "reason", json_string(i->message ? i->message : "unhealthy"));
        json_object_set_new(ev, "host", json_string(i->hostname ? i->hostname : ""));
        json_object_set_new(ev, "slaveId", json_string(i->agent_id ? i->agent_id : ""));
        apps_event(a, "unhealthy_instance_kill_event", ev);
        inst_kill(a, i);
    }
}

/* KILLs are retried until the task ends (a KILL can be lost with a link that drops). */
static void retry_kills(struct cr_apps *a, struct app *app, double now)
{
    size_t it = 0;
    void *v;
    while (cr_map_next(&app->insts, &it, NULL, &v)) {
        struct inst *i = v;
        const struct cr_app *spec = app_version(app, i->version);
        double grace = spec && spec->kill_grace_period_s > 0 ? spec->kill_grace_period_s : 0;
        double every = KILL_RETRY_S > grace + 5 ? KILL_RETRY_S : grace + 5;
        if (i->phase == CR_INST_KILLING && i->unreachable_since == 0 &&
            now - i->kill_sent_at >= every) {
            CR_INFO("apps: kill not confirmed, sent again app=%s task=%s", app->id, i->id);
            inst_send_kill(a, i);
        }
    }
}

/* Reset the backoff of an app whose instances have been healthy long enough. */
static void backoff_reset(struct cr_apps *a, struct app *app, double now)
{
    if (app->failures == 0)
        return;
    size_t it = 0;
    void *v;
    while (cr_map_next(&app->insts, &it, NULL, &v)) {
        struct inst *i = v;
        double since = i->has_health ? i->healthy_since : i->started_at;
        if (i->phase == CR_INST_RUNNING && since > 0 && now - since >= a->cfg.backoff_reset_s) {
            CR_INFO("apps: launch backoff reset app=%s failures=%u", app->id, app->failures);
            app->failures = 0;
            app->delay_until = 0;
            return;
        }
    }
}

static bool has_unconfirmed(const struct app *app)
{
    size_t it = 0;
    void *v;
    while (cr_map_next(&app->insts, &it, NULL, &v))
        if (((struct inst *)v)->is_unconfirmed)
            return true;
    return false;
}

static int compare_apps(const void *x, const void *y)
{
    const struct app *const *p = x, *const *q = y;
    return strcmp((*p)->id, (*q)->id);
}

static struct launch_group *group_for(struct launch_group **groups, size_t *n, struct held_agent *h)
{
    for (size_t k = 0; k < *n; k++)
        if ((*groups)[k].h == h)
            return &(*groups)[k];
    *groups = cr_xrealloc(*groups, (*n + 1) * sizeof(**groups));
    struct launch_group *g = &(*groups)[(*n)++];
    memset(g, 0, sizeof(*g));
    g->h = h;
    return g;
}

struct cr_place_request app_place_request(const struct cr_app *spec, const char *const *placed,
                                          size_t nplaced)
{
    struct cr_place_request req = {
        .app_id = spec->id,
        .cpus = spec->cpus,
        .mem = spec->mem,
        .disk = spec->disk,
        .ports = (int64_t)spec->nports,
        .constraints = spec->constraints,
        .nconstraints = spec->nconstraints,
        .placed = placed,
        .nplaced = nplaced,
    };
    return req;
}

/* The agent of every alive instance of app (borrowed strings; free the array). */
static const char **alive_agents(const struct app *app, size_t *n)
{
    const char **placed = cr_xcalloc(cr_map_count(&app->insts) + 1, sizeof(char *));
    size_t it = 0, k = 0;
    void *v;
    while (cr_map_next(&app->insts, &it, NULL, &v)) {
        const struct inst *i = v;
        if (i->phase != CR_INST_KILLING && i->agent_id)
            placed[k++] = i->agent_id;
    }
    *n = k;
    return placed;
}

/*
 * Why count instances of req wait: placement over what the agents really have free
 * (set->real, which this cycle's launches were taken from too). When that would fit, the resources
 * exist but are not offered to us right now (another framework holds them, or a decline filter
 * runs): no diagnosis.
 */
static void diagnose(struct app *app, struct machine_set *set, const struct cr_place_request *req,
                     size_t count, enum cr_place_strategy strategy)
{
    struct cr_place_machine *real = cr_xcalloc(set->n + 1, sizeof(*real));
    memcpy(real, set->real, set->n * sizeof(*real));
    struct cr_place_request r = *req; /* with this cycle's launches among the placed */
    r.placed = alive_agents(app, &r.nplaced);
    struct cr_place_result res;
    cr_place_result_init(&res);
    struct cr_err err;
    cr_err_clear(&err);
    app_diag_clear(app);
    if (cr_place_batch(real, set->n, &r, count, strategy, &res, &err) == 0 && res.nunplaced > 0) {
        app->diag = res.diag;
        memset(&res.diag, 0, sizeof(res.diag));
        app->has_diag = true;
    }
    cr_place_result_release(&res);
    free((void *)r.placed);
    free(real);
}

/* Place and prepare the launches of one app. */
static void place_app(struct cr_apps *a, struct app *app, size_t count, struct machine_set *set,
                      struct launch_group **groups, size_t *ngroups, struct pending_launch *p,
                      double now)
{
    struct cr_place_machine *ms = set->ms;
    size_t nms = set->n;
    struct held_agent **held_of = set->held;
    const struct cr_app *spec = &app->spec;
    size_t nplaced_ids;
    const char **placed = alive_agents(app, &nplaced_ids);
    struct cr_place_request req = app_place_request(spec, placed, nplaced_ids);
    struct cr_place_result res;
    cr_place_result_init(&res);
    struct cr_err err;
    cr_err_clear(&err);
    enum cr_place_strategy strategy =
        spec->has_placement_label ? spec->placement : a->cfg.placement;
    if (cr_place_batch(ms, nms, &req, count, strategy, &res, &err) < 0) {
        CR_WARN("apps: placement refused app=%s error=\"%s\"", app->id, err.msg);
        free(placed);
        cr_place_result_release(&res);
        return;
    }
    size_t launched = 0;
    for (size_t k = 0; k < res.nplaced; k++) {
        struct held_agent *h = held_of[res.machine[k]];
        if (!h)
            continue; /* cannot happen: a machine without offers has nothing free */
        uint64_t *ports = cr_xcalloc(spec->nports + 1, sizeof(uint64_t));
        if (take_ports(h, spec, ports) < 0) {
            free(ports);
            continue;
        }
        char *task_id = apps_task_id(app->id);
        struct cr_marathon_launch l = {
            .task_id = task_id,
            .agent_id = h->agent_id,
            .hostname = h->hostname,
            .role = h->role,
            .host_ports = ports,
            .nhost_ports = spec->nports,
        };
        struct cr_task_info ti;
        cr_task_info_init(&ti);
        if (cr_marathon_task_info(spec, &l, &ti, &err) < 0 ||
            cr_task_info_validate(&ti, &err) < 0) {
            CR_WARN("apps: cannot build the task app=%s error=\"%s\"", app->id, err.msg);
            cr_task_info_release(&ti);
            free(task_id);
            free(ports);
            continue;
        }
        /* The scalars leave the held offer too (placement lowered only its copy), and what
         * the agent really has free. */
        cr_resources_subtract(&h->free, &ti.resources, NULL);
        struct cr_place_machine *rm = &set->real[res.machine[k]];
        rm->free_cpus -= spec->cpus;
        rm->free_mem -= spec->mem;
        rm->free_disk -= spec->disk;
        rm->free_ports -= (int64_t)spec->nports;
        struct launch_group *g = group_for(groups, ngroups, h);
        g->tasks = cr_xrealloc(g->tasks, (g->ntasks + 1) * sizeof(*g->tasks));
        g->tasks[g->ntasks++] = ti;

        struct inst *i = cr_xcalloc(1, sizeof(*i));
        i->id = task_id;
        i->app = app;
        i->version = cr_xstrdup(spec->version);
        i->config_version =
            cr_xstrdup(spec->last_config_change_at ? spec->last_config_change_at : spec->version);
        i->agent_id = cr_xstrdup(h->agent_id);
        i->hostname = cr_xstrdup(h->hostname);
        i->ports = ports;
        i->nports = spec->nports;
        i->phase = CR_INST_STAGING;
        i->state = CR_TASK_STAGING;
        i->healthy = -1;
        i->has_health = spec->nhealth_checks > 0;
        i->staged_at = now;
        i->is_persisted = true;
        cr_map_put(&app->insts, i->id, i);
        cr_map_put(&a->insts, i->id, i);
        p->inst_ids = cr_xrealloc(p->inst_ids, (p->ninst + 1) * sizeof(char *));
        p->inst_ids[p->ninst++] = cr_xstrdup(i->id);
        launched++;
    }
    app->waiting = count - launched;
    if (launched > 0) {
        app->offers_processed++;
        app->last_offer_used_at = now;
    }
    if (app->waiting > 0) {
        if (app->waiting_since == 0)
            app->waiting_since = now;
        app->offers_unused++;
        app->last_offer_unused_at = now;
        diagnose(app, set, &req, app->waiting, strategy);
    } else {
        app->waiting_since = 0;
        app_diag_clear(app);
    }
    free(placed);
    cr_place_result_release(&res);
}

void apps_cycle(struct cr_apps *a)
{
    if (!a->fw)
        return;
    double now = cr_wall_seconds();
    size_t napps = cr_map_count(&a->apps);
    struct app **apps = cr_xcalloc(napps + 1, sizeof(*apps));
    size_t it = 0, k = 0;
    void *v;
    while (cr_map_next(&a->apps, &it, NULL, &v))
        apps[k++] = v;
    qsort(apps, napps, sizeof(*apps), compare_apps);

    struct machine_set set = {0}; /* built when the first app has something to place */
    bool has_set = false;
    struct launch_group *groups = NULL;
    size_t ngroups = 0;
    struct pending_launch *p = cr_xcalloc(1, sizeof(*p));
    p->a = a;
    struct app **gone = cr_xcalloc(napps + 1, sizeof(*gone));
    size_t ngone = 0;
    bool wants_offers = false;
    bool most_away = most_agents_unreachable(a);
    if (most_away && !a->is_holding) {
        a->hold_since = now;
        CR_WARN("apps: most agents are unreachable at once; this master is probably the one cut "
                "off: unreachable instances are not replaced until most agents are back (at "
                "most %.0f s)",
                HOLD_MAX_S);
    }
    if (!most_away && a->is_holding) { /* the rest come back one by one: a short grace */
        a->hold_until = now + HOLD_GRACE_S;
        CR_INFO("apps: most agents are reachable again; replacements resume in %.0f s",
                HOLD_GRACE_S);
    }
    a->is_holding = most_away;
    /* Capped: if half the machines really died, their work moves after HOLD_MAX_S. */
    bool hold_replacements = (most_away && now - a->hold_since < HOLD_MAX_S) || now < a->hold_until;

    for (size_t j = 0; j < napps; j++) {
        struct app *app = apps[j];
        if (has_unconfirmed(app))
            continue; /* after a master restart: act only on confirmed states (kill nothing) */
        apps_unreachable_tick(a, app, now, hold_replacements);
        retry_kills(a, app, now);
        backoff_reset(a, app, now);
        health_kills(a, app, now);
        struct cr_deploy_goal goal = {
            .instances = app->is_deleting ? 0 : app->spec.instances,
            .minimum_health_capacity = app->spec.minimum_health_capacity,
            .maximum_over_capacity = app->spec.maximum_over_capacity,
            .kill_selection = app->spec.kill_selection,
        };
        struct inst **list;
        size_t n;
        struct cr_deploy_inst *view = plan_view(a, app, &list, &n);
        struct cr_deploy_step step;
        cr_deploy_step_init(&step);
        struct cr_err err;
        cr_err_clear(&err);
        if (cr_deploy_plan(&goal, view, n, &step, &err) < 0) {
            CR_WARN("apps: no plan app=%s error=\"%s\"", app->id, err.msg);
        } else {
            for (size_t q = 0; q < step.nkill; q++)
                if (step.kill[q] < n)
                    inst_kill(a, list[step.kill[q]]);
            wants_offers |= step.launch > 0;
            if (step.launch > 0 && now < app->delay_until) {
                app->waiting = step.launch;
                if (app->waiting_since == 0)
                    app->waiting_since = now;
            } else if (step.launch > 0) {
                if (!has_set)
                    machine_set_build(a, &set);
                has_set = true;
                place_app(a, app, step.launch, &set, &groups, &ngroups, p, now);
            } else {
                app->waiting = 0;
                app->waiting_since = 0;
                app_diag_clear(app);
            }
            check_deployment(a, app, step.is_done, now);
            if (app->is_deleting && cr_map_count(&app->insts) == 0)
                gone[ngone++] = app;
        }
        cr_deploy_step_release(&step);
        free(view);
        free(list);
    }
    for (size_t j = 0; j < ngone; j++)
        app_remove(a, gone[j]);
    free(gone);
    /* A framework without demand says so (Mesos SUPPRESS): no offer churn for nothing; demand
     * that appears by itself (a launch delay over, an instance gone inactive) revives. */
    if (!wants_offers && !a->is_suppressed) {
        cr_alloc_suppress(a->m->alloc, a->fw->id, NULL, 0);
        a->is_suppressed = true;
    } else if (wants_offers && a->is_suppressed) {
        apps_revive(a);
    }

    /* ACCEPT per agent (after the commit), DECLINE the rest now. */
    p->calls = cr_xcalloc(ngroups + 1, sizeof(*p->calls));
    for (size_t g = 0; g < ngroups; g++) {
        struct cr_sched_call *call = &p->calls[p->ncalls++];
        cr_sched_call_init(call);
        call->type = CR_CALL_ACCEPT;
        call->framework_id = cr_xstrdup(a->fw->id);
        struct held_agent *h = groups[g].h;
        call->offer_ids = h->offer_ids;
        call->noffer_ids = h->noffer_ids;
        h->offer_ids = NULL;
        h->noffer_ids = 0;
        call->operations = cr_xcalloc(1, sizeof(*call->operations));
        call->noperations = 1;
        call->operations[0].type = CR_OP_LAUNCH;
        call->operations[0].tasks = groups[g].tasks;
        call->operations[0].ntasks = groups[g].ntasks;
        call->operations[0].raw = json_object();
        call->refuse_seconds = DECLINE_REFUSE_S;
    }
    free(groups);
    for (size_t h = 0; h < a->nheld; h++) {
        struct held_agent *ha = &a->held[h];
        if (ha->noffer_ids > 0) {
            struct cr_sched_call call;
            cr_sched_call_init(&call);
            call.type = CR_CALL_DECLINE;
            call.offer_ids = ha->offer_ids;
            call.noffer_ids = ha->noffer_ids;
            ha->offer_ids = NULL;
            ha->noffer_ids = 0;
            call.refuse_seconds = DECLINE_REFUSE_S;
            offers_decline(a->m, a->fw, &call);
            cr_sched_call_release(&call);
        }
        held_release(ha);
    }
    free(a->held);
    a->held = NULL;
    a->nheld = 0;
    machine_set_release(&set);
    free(apps);

    if (p->ninst == 0) {
        free(p->calls);
        free(p->inst_ids);
        free(p);
        return;
    }
    /* One registry write for every new instance, then the launches. */
    struct cr_state_op *ops = cr_xcalloc(p->ninst, sizeof(*ops));
    char **texts = cr_xcalloc(p->ninst, sizeof(char *));
    for (size_t q = 0; q < p->ninst; q++) {
        struct inst *i = cr_map_get(&a->insts, p->inst_ids[q]);
        json_t *j = store_inst_json(i);
        texts[q] = cr_json_dump(j);
        json_decref(j);
        ops[q].kind = CR_STATE_PUT;
        ops[q].table = "instances";
        ops[q].key = i->id;
        ops[q].value = texts[q];
        ops[q].len = texts[q] ? strlen(texts[q]) : 0;
    }
    master_persist_ops(a->m, ops, p->ninst, launch_committed, p);
    for (size_t q = 0; q < p->ninst; q++)
        free(texts[q]);
    free(texts);
    free(ops);
}
