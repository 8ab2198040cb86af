/*
 * apps.c - the orchestrator's life cycle, apps, instances and deployments, and its framework
 * side (apps_impl.h).
 *
 * Events from the master are queued by on_event() and handled on the next loop pass
 * (run_kick), never inside the master's own call: the master may be iterating its maps. A
 * pass handles every queued event, then runs one cycle (apps_cycle.c):
 *
 *   for each app (by id): plan (core/deploy.h) -> kill what the plan says -> place the
 *   launches (core/placement.h) over every agent, the held offers being the free part ->
 *   record the new instances -> check the deployment (done, deadline)
 *   then: commit the new instances to the registry, and only then ACCEPT their offers;
 *   DECLINE every offer not used (the orchestrator never hoards offers).
 *
 * Offers come back when there is new demand (apps_revive clears the decline filters) or when
 * the decline filter (5 s) runs out, so an unplaceable app is retried every 5 s without an
 * offer storm.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apps/apps_impl.h"
#include "base/log.h"
#include "base/util.h"

#define TICK_MS 500
#define RECONCILE_RETRY_S 0.5
#define RECONCILE_ALL_S 30.0 /* finds tasks of ours we forgot (expunged, never recorded) */

/* ---------------------------------------------------------------- small helpers */

const char *apps_iso(double t, char *buf, size_t size)
{
    time_t secs = (time_t)floor(t);
    int ms = (int)((t - (double)secs) * 1000.0);
    if (ms > 999)
        ms = 999;
    struct tm tm;
    gmtime_r(&secs, &tm);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%03dZ", base, ms);
    return buf;
}

char *apps_new_version(struct cr_apps *a)
{
    double now = floor(cr_wall_seconds() * 1000.0) / 1000.0;
    if (now <= a->last_version_s)
        now = a->last_version_s + 0.001;
    a->last_version_s = now;
    char buf[40];
    return cr_xstrdup(apps_iso(now, buf, sizeof(buf)));
}

struct app *apps_find(struct cr_apps *a, const char *id)
{
    return id ? cr_map_get(&a->apps, id) : NULL;
}

/* ---------------------------------------------------------------- apps and instances */

struct app *app_new(struct cr_apps *a, const struct cr_app *spec)
{
    struct app *app = cr_xcalloc(1, sizeof(*app));
    cr_app_init(&app->spec);
    cr_app_copy(&app->spec, spec);
    app->id = cr_xstrdup(spec->id);
    cr_map_init(&app->versions);
    cr_map_init(&app->insts);
    cr_kill_budget_init(&app->kill_budget);
    cr_map_put(&a->apps, app->id, app);
    return app;
}

void inst_free(struct inst *i)
{
    if (!i)
        return;
    free(i->id);
    free(i->version);
    free(i->config_version);
    free(i->agent_id);
    free(i->hostname);
    free(i->ports);
    free(i->message);
    free(i);
}

void app_diag_clear(struct app *app)
{
    if (!app->has_diag)
        return;
    for (size_t k = 0; k < app->diag.n; k++)
        free(app->diag.v[k].requirement);
    free(app->diag.v);
    memset(&app->diag, 0, sizeof(app->diag));
    app->has_diag = false;
}

void app_free(struct app *app)
{
    if (!app)
        return;
    size_t it = 0;
    void *v;
    while (cr_map_next(&app->insts, &it, NULL, &v))
        inst_free(v);
    cr_map_release(&app->insts);
    it = 0;
    while (cr_map_next(&app->versions, &it, NULL, &v)) {
        cr_app_release(v);
        free(v);
    }
    cr_map_release(&app->versions);
    cr_app_release(&app->spec);
    cr_kill_budget_release(&app->kill_budget);
    app_diag_clear(app);
    json_decref(app->last_failure);
    free(app->id);
    free(app);
}

const struct cr_app *app_version(const struct app *app, const char *version)
{
    return version ? cr_map_get(&app->versions, version) : NULL;
}

/* Drop the oldest versions beyond APPS_MAX_VERSIONS (never the target). */
static void trim_versions(struct cr_apps *a, struct app *app)
{
    while (cr_map_count(&app->versions) > APPS_MAX_VERSIONS) {
        size_t it = 0;
        const char *k, *oldest = NULL;
        while (cr_map_next(&app->versions, &it, &k, NULL))
            if (!oldest || strcmp(k, oldest) < 0)
                oldest = k;
        if (!oldest || strcmp(oldest, app->spec.version) == 0)
            return;
        struct cr_app *old = cr_map_remove(&app->versions, oldest);
        char *key = cr_xasprintf("%s %s", app->id, old->version);
        master_unpersist(a->m, "app_versions", key, NULL, NULL);
        free(key);
        cr_app_release(old);
        free(old);
    }
}

void app_add_version(struct cr_apps *a, struct app *app, const struct cr_app *spec)
{
    struct cr_app *copy = cr_xcalloc(1, sizeof(*copy));
    cr_app_init(copy);
    cr_app_copy(copy, spec);
    struct cr_app *old = cr_map_put(&app->versions, copy->version, copy);
    if (old && old != copy) {
        cr_app_release(old);
        free(old);
    }
    if (&app->spec != spec)
        cr_app_copy(&app->spec, spec);
    trim_versions(a, app);
}

void inst_forget(struct cr_apps *a, struct inst *i)
{
    cr_map_remove(&a->insts, i->id);
    cr_map_remove(&i->app->insts, i->id);
    if (i->is_persisted)
        store_uninst(a, i);
    inst_free(i);
}

void app_remove(struct cr_apps *a, struct app *app)
{
    CR_INFO("app removed app=%s", app->id);
    json_t *ev = json_object();
    json_object_set_new(ev, "appId", json_string(app->id));
    apps_event(a, "app_terminated_event", ev);
    store_unapp(a, app);
    size_t it = 0;
    void *v;
    while (cr_map_next(&app->insts, &it, NULL, &v)) {
        struct inst *i = v;
        cr_map_remove(&a->insts, i->id);
        if (i->is_persisted)
            store_uninst(a, i);
    }
    cr_map_remove(&a->apps, app->id);
    app_free(app);
}

/* ---------------------------------------------------------------- deployments */

const char *deploy_status_name(enum deploy_status s)
{
    switch (s) {
    case DEPLOY_RUNNING:
        return "running";
    case DEPLOY_SUCCEEDED:
        return "succeeded";
    case DEPLOY_FAILED:
        return "failed";
    case DEPLOY_CANCELLED:
        return "cancelled";
    case DEPLOY_ROLLED_BACK:
        return "rolled_back";
    }
    return "unknown";
}

static void deployment_free(struct deployment *d)
{
    if (!d)
        return;
    free(d->app_id);
    free(d->version);
    free(d->action);
    free(d->prev_version);
    free(d->reason);
    free(d);
}

struct deployment *deploy_find(struct cr_apps *a, const char *id)
{
    struct deployment *d = cr_map_get(&a->deployments, id);
    if (d)
        return d;
    for (size_t k = 0; k < a->ndone; k++)
        if (a->done[k] && strcmp(a->done[k]->id, id) == 0)
            return a->done[k];
    return NULL;
}

struct deployment *deploy_start(struct cr_apps *a, struct app *app, const char *action,
                                const char *prev_version)
{
    struct deployment *d = cr_xcalloc(1, sizeof(*d));
    cr_uuid_text(d->id);
    d->app_id = cr_xstrdup(app->id);
    d->version = cr_xstrdup(app->spec.version);
    d->action = cr_xstrdup(action);
    d->prev_version = prev_version ? cr_xstrdup(prev_version) : NULL;
    d->started_at = cr_wall_seconds();
    d->deadline_at = d->started_at + app->spec.progress_deadline_s;
    d->status = DEPLOY_RUNNING;
    cr_map_put(&a->deployments, d->id, d);
    app->deploy = d;
    /* A new version starts with a clean slate: no backoff, a fresh diagnosis. */
    app->failures = 0;
    app->delay_until = 0;
    store_deployment(a, d);
    CR_INFO("deployment started deployment=%s app=%s action=%s version=%s", d->id, app->id, action,
            d->version);
    apps_event(a, "deployment_info", json_deployment_event(a, d, true));
    apps_revive(a);
    apps_kick(a);
    return d;
}

void deploy_finish(struct cr_apps *a, struct deployment *d, enum deploy_status status,
                   const char *reason)
{
    if (d->status != DEPLOY_RUNNING)
        return;
    d->status = status;
    d->finished_at = cr_wall_seconds();
    free(d->reason);
    d->reason = reason ? cr_xstrdup(reason) : NULL;
    struct app *app = apps_find(a, d->app_id);
    if (app && app->deploy == d)
        app->deploy = NULL;
    cr_map_remove(&a->deployments, d->id);
    store_undeployment(a, d);
    if (a->ndone == APPS_DONE_DEPLOYMENTS) {
        deployment_free(a->done[a->done_head]);
        a->done[a->done_head] = d;
        a->done_head = (a->done_head + 1) % APPS_DONE_DEPLOYMENTS;
    } else {
        a->done[a->ndone++] = d;
    }
    CR_INFO("deployment ended deployment=%s app=%s status=%s reason=\"%s\"", d->id, d->app_id,
            deploy_status_name(status), reason ? reason : "");
    if (status == DEPLOY_SUCCEEDED) {
        apps_event(a, "deployment_step_success", json_deployment_event(a, d, true));
        apps_event(a, "deployment_success", json_deployment_event(a, d, false));
    } else {
        apps_event(a, "deployment_step_failure", json_deployment_event(a, d, true));
        json_t *ev = json_deployment_event(a, d, false);
        json_object_set_new(ev, "reason",
                            json_string(reason ? reason : deploy_status_name(status)));
        apps_event(a, "deployment_failed", ev);
    }
}

/* ---------------------------------------------------------------- calls to the master */

void apps_revive(struct cr_apps *a)
{
    if (!a->fw)
        return;
    a->is_suppressed = false;
    cr_alloc_revive(a->m->alloc, a->fw->id, NULL, 0);
    offers_schedule(a->m);
}

void inst_kill(struct cr_apps *a, struct inst *i)
{
    if (!a->fw || i->phase == CR_INST_KILLING)
        return;
    inst_send_kill(a, i);
}

void inst_send_kill(struct cr_apps *a, struct inst *i)
{
    if (!a->fw)
        return;
    const struct cr_app *spec = app_version(i->app, i->version);
    if (!spec)
        spec = &i->app->spec;
    int64_t grace_ms =
        spec->kill_grace_period_s >= 0 ? (int64_t)(spec->kill_grace_period_s * 1000.0) : -1;
    i->phase = CR_INST_KILLING;
    i->kill_sent_at = cr_wall_seconds();
    CR_INFO("killing instance app=%s task=%s agent=%s", i->app->id, i->id,
            i->agent_id ? i->agent_id : "");
    task_kill(a->m, a->fw, i->id, i->agent_id, grace_ms);
}

static void acknowledge(struct cr_apps *a, const struct cr_task_status *st)
{
    if (!st->has_uuid || !a->fw)
        return;
    struct cr_sched_call call;
    cr_sched_call_init(&call);
    call.type = CR_CALL_ACKNOWLEDGE;
    call.task_id = cr_xstrdup(st->task_id);
    call.agent_id = st->agent_id ? cr_xstrdup(st->agent_id) : NULL;
    memcpy(call.uuid, st->uuid, 16);
    call.uuid_len = 16;
    task_acknowledge(a->m, a->fw, &call);
    cr_sched_call_release(&call);
}

/* Ask the master for the state of every instance we know, and (implicitly) of every task
 * of ours it knows (instances launched just before a crash and never recorded are killed). */
static void reconcile(struct cr_apps *a, bool only_unsure)
{
    if (!a->fw)
        return;
    a->last_reconcile_s = cr_wall_seconds();
    if (!only_unsure)
        a->last_full_reconcile_s = a->last_reconcile_s;
    struct cr_sched_call call;
    cr_sched_call_init(&call);
    call.type = CR_CALL_RECONCILE;
    size_t n = cr_map_count(&a->insts);
    if (n > 0) {
        call.reconcile = cr_xcalloc(n, sizeof(*call.reconcile));
        size_t it = 0;
        void *v;
        while (cr_map_next(&a->insts, &it, NULL, &v)) {
            struct inst *i = v;
            if (only_unsure && !i->is_unconfirmed && i->unreachable_since == 0)
                continue;
            call.reconcile[call.nreconcile].task_id = cr_xstrdup(i->id);
            call.reconcile[call.nreconcile].agent_id = i->agent_id ? cr_xstrdup(i->agent_id) : NULL;
            call.nreconcile++;
        }
        if (call.nreconcile > 0)
            task_reconcile(a->m, a->fw, &call);
        cr_sched_call_release(&call);
        cr_sched_call_init(&call);
        call.type = CR_CALL_RECONCILE;
    }
    if (!only_unsure)
        task_reconcile(a->m, a->fw, &call); /* implicit */
    cr_sched_call_release(&call);
}

/* ---------------------------------------------------------------- events from the master */

static void on_event(struct fw *fw, json_t *event, void *ud)
{
    struct cr_apps *a = ud;
    json_array_append(a->events, event);
    apps_kick(a);
}

void held_release(struct held_agent *h)
{
    free(h->agent_id);
    free(h->hostname);
    for (size_t k = 0; k < h->noffer_ids; k++)
        free(h->offer_ids[k]);
    free(h->offer_ids);
    free(h->role);
    cr_resources_release(&h->free);
    cr_attributes_release(&h->attributes);
}

struct held_agent *held_find(struct cr_apps *a, const char *agent_id)
{
    for (size_t k = 0; k < a->nheld; k++)
        if (strcmp(a->held[k].agent_id, agent_id) == 0)
            return &a->held[k];
    return NULL;
}

static const char *id_value(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(json_object_get(obj, key), "value"));
}

static void take_offer(struct cr_apps *a, const json_t *offer)
{
    const char *oid = id_value(offer, "id");
    const char *agent_id = id_value(offer, "agent_id");
    if (!oid || !agent_id)
        return;
    struct cr_err err;
    cr_err_clear(&err);
    struct cr_resources res;
    cr_resources_init(&res);
    if (cr_parse_resources(json_object_get(offer, "resources"), "offer.resources", &res, &err) <
        0) {
        CR_WARN("apps: unreadable offer ignored offer=%s error=\"%s\"", oid, err.msg);
        cr_resources_release(&res);
        return;
    }
    struct held_agent *h = held_find(a, agent_id);
    if (!h) {
        a->held = cr_xrealloc(a->held, (a->nheld + 1) * sizeof(*a->held));
        h = &a->held[a->nheld++];
        memset(h, 0, sizeof(*h));
        h->agent_id = cr_xstrdup(agent_id);
        const char *host = json_string_value(json_object_get(offer, "hostname"));
        h->hostname = cr_xstrdup(host ? host : "");
        cr_resources_init(&h->free);
        cr_attributes_init(&h->attributes);
        const json_t *attrs = json_object_get(offer, "attributes");
        if (attrs)
            cr_parse_attributes(attrs, "offer.attributes", &h->attributes, &err);
        const char *role =
            json_string_value(json_object_get(json_object_get(offer, "allocation_info"), "role"));
        h->role = cr_xstrdup(role ? role : "*");
    }
    h->offer_ids = cr_xrealloc(h->offer_ids, (h->noffer_ids + 1) * sizeof(char *));
    h->offer_ids[h->noffer_ids++] = cr_xstrdup(oid);
    cr_resources_add(&h->free, &res);
    cr_resources_release(&res);
}

static void drop_offer(struct cr_apps *a, const char *oid)
{
    for (size_t k = 0; k < a->nheld; k++) {
        struct held_agent *h = &a->held[k];
        for (size_t j = 0; j < h->noffer_ids; j++) {
            if (strcmp(h->offer_ids[j], oid) != 0)
                continue;
            /* The agent's offers are merged: a rescind voids them all (the rest are
             * declined in this pass). */
            held_release(h);
            a->held[k] = a->held[--a->nheld];
            return;
        }
    }
}

static const char *instance_condition(enum cr_task_state s)
{
    switch (s) {
    case CR_TASK_STAGING:
        return "Staging";
    case CR_TASK_STARTING:
        return "Starting";
    case CR_TASK_RUNNING:
        return "Running";
    case CR_TASK_KILLING:
        return "Killing";
    case CR_TASK_FINISHED:
        return "Finished";
    case CR_TASK_FAILED:
        return "Failed";
    case CR_TASK_KILLED:
        return "Killed";
    case CR_TASK_ERROR:
        return "Error";
    case CR_TASK_LOST:
        return "Unreachable";
    case CR_TASK_DROPPED:
        return "Dropped";
    case CR_TASK_UNREACHABLE:
        return "Unreachable";
    case CR_TASK_GONE:
    case CR_TASK_GONE_BY_OPERATOR:
        return "Gone";
    default:
        return "Unknown";
    }
}

static void status_events(struct cr_apps *a, struct inst *i, const struct cr_task_status *st,
                          int was_healthy)
{
    json_t *ev = json_object();
    json_object_set_new(ev, "slaveId", json_string(i->agent_id ? i->agent_id : ""));
    json_object_set_new(ev, "taskId", json_string(i->id));
    json_object_set_new(ev, "taskStatus", json_string(cr_task_state_name(st->state)));
    json_object_set_new(ev, "message", json_string(st->message ? st->message : ""));
    json_object_set_new(ev, "appId", json_string(i->app->id));
    json_object_set_new(ev, "host", json_string(i->hostname ? i->hostname : ""));
    json_t *ports = json_array();
    for (size_t k = 0; k < i->nports; k++)
        json_array_append_new(ports, json_integer((json_int_t)i->ports[k]));
    json_object_set_new(ev, "ports", ports);
    json_object_set_new(ev, "ipAddresses", json_array());
    json_object_set_new(ev, "version", json_string(i->version));
    apps_event(a, "status_update_event", ev);

    ev = json_object();
    json_object_set_new(ev, "instanceId", json_string(i->id));
    json_object_set_new(ev, "condition", json_string(instance_condition(st->state)));
    json_object_set_new(ev, "runSpecId", json_string(i->app->id));
    json_object_set_new(ev, "agentId", json_string(i->agent_id ? i->agent_id : ""));
    json_object_set_new(ev, "host", json_string(i->hostname ? i->hostname : ""));
    json_object_set_new(ev, "runSpecVersion", json_string(i->version));
    apps_event(a, "instance_changed_event", ev);

    if (st->healthy >= 0 && st->healthy != was_healthy) {
        ev = json_object();
        json_object_set_new(ev, "appId", json_string(i->app->id));
        json_object_set_new(ev, "instanceId", json_string(i->id));
        json_object_set_new(ev, "version", json_string(i->version));
        json_object_set_new(ev, "alive", json_boolean(st->healthy == 1));
        apps_event(a, "health_status_changed_event", ev);
        ev = json_object();
        json_object_set_new(ev, "instanceId", json_string(i->id));
        json_object_set_new(ev, "runSpecId", json_string(i->app->id));
        json_object_set_new(ev, "healthy", json_boolean(st->healthy == 1));
        json_object_set_new(ev, "runSpecVersion", json_string(i->version));
        apps_event(a, "instance_health_changed_event", ev);
    }
}

static void record_failure(struct cr_apps *a, struct inst *i, const struct cr_task_status *st)
{
    struct app *app = i->app;
    json_decref(app->last_failure);
    json_t *f = json_object();
    char ts[40];
    json_object_set_new(f, "appId", json_string(app->id));
    json_object_set_new(f, "host", json_string(i->hostname ? i->hostname : ""));
    json_object_set_new(f, "message", json_string(st->message ? st->message : ""));
    json_object_set_new(f, "state", json_string(cr_task_state_name(st->state)));
    json_object_set_new(f, "taskId", json_string(i->id));
    json_object_set_new(f, "timestamp", json_string(apps_iso(cr_wall_seconds(), ts, sizeof(ts))));
    json_object_set_new(f, "version", json_string(i->version));
    json_object_set_new(f, "slaveId", json_string(i->agent_id ? i->agent_id : ""));
    app->last_failure = f;
}

static void on_update(struct cr_apps *a, const json_t *body)
{
    struct cr_err err;
    cr_err_clear(&err);
    struct cr_task_status st;
    cr_task_status_init(&st);
    if (cr_parse_task_status(json_object_get(body, "status"), "update.status", &st, &err) < 0) {
        CR_WARN("apps: unreadable status update ignored error=\"%s\"", err.msg);
        cr_task_status_release(&st);
        return;
    }
    struct inst *i = cr_map_get(&a->insts, st.task_id);
    if (!i) {
        /* Not ours (launched before a crash, never recorded; or long forgotten). */
        if (!cr_task_state_is_terminal(st.state) && a->fw) {
            CR_INFO("apps: killing an unknown task of the orchestrator task=%s", st.task_id);
            task_kill(a->m, a->fw, st.task_id, st.agent_id, -1);
        }
        acknowledge(a, &st);
        cr_task_status_release(&st);
        return;
    }
    double now = cr_wall_seconds();
    int was_healthy = i->healthy;
    /* Reconciliation repeats what we know: only changes make events. */
    bool is_news = st.state != i->state || (st.healthy >= 0 && st.healthy != was_healthy) ||
                   st.reason != CR_REASON_RECONCILIATION;
    i->is_unconfirmed = false;
    if (st.state != CR_TASK_UNREACHABLE && i->unreachable_since > 0) {
        /* Back from a partition: it counts again; the planner kills the surplus. */
        CR_INFO("instance reachable again app=%s task=%s state=%s was_inactive=%s", i->app->id,
                i->id, cr_task_state_name(st.state), i->is_inactive ? "true" : "false");
        i->unreachable_since = 0;
        i->is_inactive = false;
        if (i->phase == CR_INST_KILLING && !cr_task_state_is_terminal(st.state))
            inst_send_kill(a, i); /* the KILL sent before may have been lost with the link */
    }
    i->state = st.state;
    free(i->message);
    i->message = st.message ? cr_xstrdup(st.message) : NULL;
    if (!i->agent_id && st.agent_id)
        i->agent_id = cr_xstrdup(st.agent_id);
    if (st.state == CR_TASK_RUNNING) {
        if (i->phase != CR_INST_KILLING)
            i->phase = CR_INST_RUNNING;
        if (i->started_at == 0)
            i->started_at = now;
    }
    if (st.healthy >= 0) {
        i->healthy = st.healthy;
        if (st.healthy == 1 && was_healthy != 1)
            i->healthy_since = now;
        if (st.healthy == 0)
            i->healthy_since = 0;
        else
            i->kill_for_health = false;
    }
    /* Our executor leaves the kill after too many failed checks to us (kill budget): it
     * says so with this message prefix on a RUNNING, unhealthy update. */
    if (st.state == CR_TASK_RUNNING && st.healthy == 0 && st.message &&
        strncmp(st.message, CR_MARATHON_HEALTH_KILL_PREFIX,
                strlen(CR_MARATHON_HEALTH_KILL_PREFIX)) == 0)
        i->kill_for_health = true;
    if (is_news)
        status_events(a, i, &st, was_healthy);

    if (st.state == CR_TASK_UNREACHABLE && !i->app->spec.unreachable_disabled) {
        /* Kept (not replaced) until inactiveAfterSeconds: the machine may come back. */
        if (i->unreachable_since == 0) {
            /* The machine is unreachable since its last sign of life (its last PONG), not
             * since the master noticed (a ping window later): inactiveAfterSeconds counts
             * from there, so a dead machine's work moves a window sooner. */
            struct agent *ag = agent_find(a->m, i->agent_id);
            double last = ag && ag->last_seen_ms > 0
                              ? now - (double)(cr_now_ms() - ag->last_seen_ms) / 1000.0
                              : 0;
            i->unreachable_since = last > 0 && last <= now   ? last
                                   : st.unreachable_time > 0 ? st.unreachable_time
                                                             : now;
            CR_INFO("instance unreachable app=%s task=%s agent=%s inactive_after=%.0fs "
                    "expunge_after=%.0fs",
                    i->app->id, i->id, i->agent_id ? i->agent_id : "",
                    i->app->spec.inactive_after_s, i->app->spec.expunge_after_s);
        }
        apps_kick(a);
    } else if (cr_task_state_is_terminal(st.state) || st.state == CR_TASK_UNREACHABLE ||
               st.state == CR_TASK_UNKNOWN) {
        struct app *app = i->app;
        bool failed = st.state == CR_TASK_FAILED || st.state == CR_TASK_ERROR ||
                      (st.state == CR_TASK_FINISHED && i->phase != CR_INST_KILLING);
        if (st.state != CR_TASK_KILLED || i->phase != CR_INST_KILLING)
            record_failure(a, i, &st);
        if (failed) {
            app->failures++;
            double delay = cr_backoff_delay_s(app->spec.backoff_s, app->spec.backoff_factor,
                                              app->spec.max_launch_delay_s, app->failures);
            app->delay_until = now + delay;
            CR_INFO("instance failed app=%s task=%s state=%s failures=%u delay=%.3fs "
                    "message=\"%s\"",
                    app->id, i->id, cr_task_state_name(st.state), app->failures, delay,
                    st.message ? st.message : "");
        } else {
            CR_INFO("instance ended app=%s task=%s state=%s reason=%s", app->id, i->id,
                    cr_task_state_name(st.state), cr_task_reason_name(st.reason));
        }
        inst_forget(a, i);
        apps_revive(a);
    }
    acknowledge(a, &st);
    cr_task_status_release(&st);
}

static void on_subscribed(struct cr_apps *a, const json_t *body)
{
    const char *id = id_value(body, "framework_id");
    if (id && (!a->framework_id || strcmp(id, a->framework_id) != 0)) {
        free(a->framework_id);
        a->framework_id = cr_xstrdup(id);
        store_framework_id(a, id);
    }
    reconcile(a, false);
}

static void handle_event(struct cr_apps *a, const json_t *ev)
{
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (!type)
        return;
    if (strcmp(type, "OFFERS") == 0) {
        const json_t *offers = json_object_get(json_object_get(ev, "offers"), "offers");
        size_t k;
        const json_t *o;
        json_array_foreach(offers, k, o) take_offer(a, o);
    } else if (strcmp(type, "RESCIND") == 0) {
        const char *oid = id_value(json_object_get(ev, "rescind"), "offer_id");
        if (oid)
            drop_offer(a, oid);
    } else if (strcmp(type, "UPDATE") == 0) {
        on_update(a, json_object_get(ev, "update"));
    } else if (strcmp(type, "SUBSCRIBED") == 0) {
        on_subscribed(a, json_object_get(ev, "subscribed"));
    } else if (strcmp(type, "ERROR") == 0) {
        CR_ERROR("apps: the master sent the orchestrator an error message=\"%s\"",
                 json_string_value(json_object_get(json_object_get(ev, "error"), "message")));
    }
}

/* ---------------------------------------------------------------- the loop side */

static void run_kick(uv_timer_t *t)
{
    struct cr_apps *a = t->data;
    a->is_kicked = false;
    json_t *evs = a->events;
    a->events = json_array();
    size_t k;
    json_t *ev;
    json_array_foreach(evs, k, ev) handle_event(a, ev);
    json_decref(evs);
    apps_cycle(a);
}

void apps_kick(struct cr_apps *a)
{
    if (a->is_kicked || !a->is_started)
        return;
    a->is_kicked = true;
    uv_timer_start(&a->kick_timer, run_kick, 0, 0);
}

static void tick(uv_timer_t *t)
{
    struct cr_apps *a = t->data;
    double now = cr_wall_seconds();
    size_t it = 0;
    void *v;
    bool revive = false;
    while (cr_map_next(&a->apps, &it, NULL, &v)) {
        struct app *app = v;
        /* A launch delay just ran out: offers are wanted again. */
        if (app->delay_until > 0 && now >= app->delay_until && app->waiting > 0) {
            app->delay_until = 0;
            revive = true;
        }
    }
    if (revive)
        apps_revive(a);
    /* Instances recovered from the registry whose agent has not come back yet get no
     * answer, and a partitioned agent's return is not announced: ask again (Mesos'
     * reconciliation is retried by the framework). */
    bool unconfirmed = false;
    it = 0;
    while (!unconfirmed && cr_map_next(&a->insts, &it, NULL, &v))
        unconfirmed =
            ((struct inst *)v)->is_unconfirmed || ((struct inst *)v)->unreachable_since > 0;
    if (unconfirmed && now - a->last_reconcile_s >= RECONCILE_RETRY_S)
        reconcile(a, true);
    if (now - a->last_full_reconcile_s >= RECONCILE_ALL_S)
        reconcile(a, false);
    apps_kick(a);
}

static void subscribed(struct cr_master *m, struct fw *fw, int rc, const char *msg, void *ud)
{
    struct cr_apps *a = ud;
    a->is_subscribing = false;
    if (rc < 0 || !fw) {
        CR_ERROR("apps: the orchestrator could not subscribe error=\"%s\"", msg ? msg : "");
        return;
    }
    a->fw = fw;
    CR_INFO("apps: orchestrator subscribed framework=%s apps=%zu instances=%zu", fw->id,
            cr_map_count(&a->apps), cr_map_count(&a->insts));
    apps_kick(a);
}

static void subscribe(struct cr_apps *a)
{
    struct cr_framework_info fi;
    cr_framework_info_init(&fi);
    fi.id = a->framework_id ? cr_xstrdup(a->framework_id) : NULL;
    fi.name = cr_xstrdup("marathon");
    fi.user = cr_xstrdup("root");
    fi.failover_timeout = 604800.0;
    fi.checkpoint = true;
    fi.hostname = cr_xstrdup(a->m->cfg.hostname);
    fi.roles = cr_xcalloc(1, sizeof(char *));
    fi.roles[0] = cr_xstrdup("*");
    fi.nroles = 1;
    fi.capabilities = CR_FWCAP_PARTITION_AWARE | CR_FWCAP_MULTI_ROLE;
    a->is_subscribing = true;
    fw_subscribe_local(a->m, &fi, on_event, a, subscribed, a);
    cr_framework_info_release(&fi);
}

/* ---------------------------------------------------------------- public */

static void apps_http_route(struct cr_http_req *req, void *ud)
{
    struct cr_apps *a = ud;
    if (!cr_apps_route(a, req))
        apps_http_error(req, 404, "Not found: %s", cr_http_req_path(req));
}

struct cr_apps *cr_apps_new(struct cr_master *m, const struct cr_apps_config *cfg,
                            struct cr_err *err)
{
    struct cr_apps *a = cr_xcalloc(1, sizeof(*a));
    a->m = m;
    a->cfg = *cfg;
    cr_map_init(&a->apps);
    cr_map_init(&a->insts);
    cr_map_init(&a->deployments);
    a->events = json_array();
    uv_timer_init(m->loop, &a->kick_timer);
    a->kick_timer.data = a;
    uv_timer_init(m->loop, &a->tick_timer);
    a->tick_timer.data = a;
    uv_timer_init(m->loop, &a->sse_timer);
    a->sse_timer.data = a;
    if (cfg->port > 0) {
        struct cr_http_server_config hcfg = {
            .bind_ip = m->cfg.ip,
            .port = (uint16_t)cfg->port,
            .max_body_bytes = (size_t)m->cfg.max_body_bytes,
            .handler = apps_http_route,
            .ud = a,
        };
        if (cr_http_server_start(m->loop, &hcfg, &a->http, err) < 0) {
            cr_err_wrap(err, "serve the apps API on port %lld", (long long)cfg->port);
            cr_apps_free(a);
            return NULL;
        }
    }
    return a;
}

void cr_apps_start(struct cr_apps *a)
{
    if (a->is_started)
        return;
    a->is_started = true;
    store_recover(a);
    uv_timer_start(&a->tick_timer, tick, TICK_MS, TICK_MS);
    apps_events_start(a);
    subscribe(a);
}

void cr_apps_stop(struct cr_apps *a)
{
    if (!a)
        return;
    a->is_started = false;
    uv_timer_stop(&a->kick_timer);
    uv_timer_stop(&a->tick_timer);
    apps_events_close(a);
    cr_http_server_free(a->http);
    a->http = NULL;
}

static void timer_closed(uv_handle_t *h)
{
    struct cr_apps *a = h->data;
    if (++a->nclosed == 3)
        free(a);
}

void cr_apps_free(struct cr_apps *a)
{
    if (!a)
        return;
    cr_apps_stop(a);
    size_t it = 0;
    void *v;
    while (cr_map_next(&a->apps, &it, NULL, &v))
        app_free(v);
    cr_map_release(&a->apps);
    cr_map_release(&a->insts);
    it = 0;
    while (cr_map_next(&a->deployments, &it, NULL, &v))
        deployment_free(v);
    cr_map_release(&a->deployments);
    for (size_t k = 0; k < a->ndone; k++)
        deployment_free(a->done[k]);
    for (size_t k = 0; k < a->nheld; k++)
        held_release(&a->held[k]);
    free(a->held);
    json_decref(a->events);
    free(a->framework_id);
    uv_close((uv_handle_t *)&a->kick_timer, timer_closed);
    uv_close((uv_handle_t *)&a->tick_timer, timer_closed);
    uv_close((uv_handle_t *)&a->sse_timer, timer_closed);
}
