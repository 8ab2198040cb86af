/*
 * apps_json.c - JSON views of the orchestrator's state, in Marathon's shapes
 * (API-COMPAT.md §6): AppInfo, Task, deployment, queue entry.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "apps/apps_impl.h"
#include "base/util.h"

char *apps_task_id(const char *app_id)
{
    const char *p = app_id[0] == '/' ? app_id + 1 : app_id;
    char *safe = cr_xstrdup(p);
    for (char *c = safe; *c; c++)
        if (*c == '/')
            *c = '_';
    char uuid[37];
    cr_uuid_text(uuid);
    char *id = cr_xasprintf("%s.instance-%s._app.1", safe, uuid);
    free(safe);
    return id;
}

static json_t *iso_or_null(double t)
{
    if (t <= 0)
        return json_null();
    char buf[40];
    return json_string(apps_iso(t, buf, sizeof(buf)));
}

json_t *json_task(struct cr_apps *a, const struct inst *i)
{
    (void)a;
    json_t *j = json_object();
    json_object_set_new(j, "id", json_string(i->id));
    json_object_set_new(j, "appId", json_string(i->app->id));
    json_object_set_new(j, "host", json_string(i->hostname ? i->hostname : ""));
    json_object_set_new(j, "slaveId", json_string(i->agent_id ? i->agent_id : ""));
    json_object_set_new(j, "state", json_string(cr_task_state_name(i->state)));
    json_object_set_new(j, "stagedAt", iso_or_null(i->staged_at));
    json_object_set_new(j, "startedAt", iso_or_null(i->started_at));
    json_object_set_new(j, "version", json_string(i->version));
    json_t *ports = json_array();
    for (size_t k = 0; k < i->nports; k++)
        json_array_append_new(ports, json_integer((json_int_t)i->ports[k]));
    json_object_set_new(j, "ports", ports);
    json_object_set_new(j, "servicePorts", json_array());
    json_object_set_new(j, "ipAddresses", json_array());
    json_t *hc = json_array();
    if (i->has_health && i->healthy >= 0) {
        json_t *r = json_object();
        json_object_set_new(r, "alive", json_boolean(i->healthy == 1));
        json_object_set_new(r, "consecutiveFailures", json_integer(i->healthy == 1 ? 0 : 1));
        json_object_set_new(r, "firstSuccess", iso_or_null(i->healthy_since));
        json_object_set_new(r, "lastSuccess", iso_or_null(i->healthy == 1 ? cr_wall_seconds() : 0));
        json_object_set_new(r, "lastFailure", json_null());
        json_object_set_new(r, "lastFailureCause",
                            i->healthy == 0 && i->message ? json_string(i->message) : json_null());
        json_object_set_new(r, "instanceId", json_string(i->id));
        json_array_append_new(hc, r);
    }
    json_object_set_new(j, "healthCheckResults", hc);
    json_object_set_new(j, "localVolumes", json_array());
    json_object_set_new(j, "role", json_string(i->app->spec.role ? i->app->spec.role : "*"));
    return j;
}

struct counts {
    size_t staged, running, healthy, unhealthy;
};

static void count(const struct app *app, struct counts *c)
{
    memset(c, 0, sizeof(*c));
    size_t it = 0;
    void *v;
    while (cr_map_next(&app->insts, &it, NULL, &v)) {
        const struct inst *i = v;
        if (i->phase == CR_INST_STAGING)
            c->staged++;
        if (i->state == CR_TASK_RUNNING) {
            c->running++;
            if (i->has_health && i->healthy == 1)
                c->healthy++;
            if (i->has_health && i->healthy == 0)
                c->unhealthy++;
        }
    }
}

json_t *json_app_info(struct cr_apps *a, struct app *app, bool embed_tasks, bool embed_counts,
                      bool embed_deployments, bool embed_failure)
{
    json_t *j = cr_marathon_app_json(&app->spec);
    if (embed_counts) {
        struct counts c;
        count(app, &c);
        json_object_set_new(j, "tasksStaged", json_integer((json_int_t)c.staged));
        json_object_set_new(j, "tasksRunning", json_integer((json_int_t)c.running));
        json_object_set_new(j, "tasksHealthy", json_integer((json_int_t)c.healthy));
        json_object_set_new(j, "tasksUnhealthy", json_integer((json_int_t)c.unhealthy));
    }
    if (embed_deployments) {
        json_t *ds = json_array();
        if (app->deploy) {
            json_t *d = json_object();
            json_object_set_new(d, "id", json_string(app->deploy->id));
            json_array_append_new(ds, d);
        }
        json_object_set_new(j, "deployments", ds);
    }
    if (embed_tasks) {
        json_t *ts = json_array();
        size_t it = 0;
        void *v;
        while (cr_map_next(&app->insts, &it, NULL, &v))
            json_array_append_new(ts, json_task(a, v));
        json_object_set_new(j, "tasks", ts);
    }
    if (embed_failure && app->last_failure)
        json_object_set(j, "lastTaskFailure", app->last_failure);
    return j;
}

json_t *json_deployment(struct cr_apps *a, const struct deployment *d, bool with_status)
{
    (void)a;
    json_t *j = json_object();
    json_object_set_new(j, "id", json_string(d->id));
    json_object_set_new(j, "version", json_string(d->version));
    json_t *apps = json_array();
    json_array_append_new(apps, json_string(d->app_id));
    json_object_set_new(j, "affectedApps", apps);
    json_object_set_new(j, "affectedPods", json_array());
    json_t *action = json_object();
    json_object_set_new(action, "action", json_string(d->action));
    json_object_set_new(action, "app", json_string(d->app_id));
    json_t *actions = json_array();
    json_array_append(actions, action);
    json_t *step = json_object();
    json_object_set_new(step, "actions", actions);
    json_t *steps = json_array();
    json_array_append_new(steps, step);
    json_object_set_new(j, "steps", steps);
    json_t *current = json_array();
    if (d->status == DEPLOY_RUNNING) {
        json_object_set_new(action, "readinessCheckResults", json_array());
        json_array_append(current, action);
    }
    json_decref(action);
    json_object_set_new(j, "currentActions", current);
    json_object_set_new(j, "currentStep", json_integer(1));
    json_object_set_new(j, "totalSteps", json_integer(1));
    /* Marathon's deployment events carry the plan as "plan" and the step as "currentStep". */
    if (with_status) {
        json_object_set_new(j, "status", json_string(deploy_status_name(d->status)));
        json_object_set_new(j, "reason", d->reason ? json_string(d->reason) : json_null());
        json_object_set_new(j, "startedAt", iso_or_null(d->started_at));
        json_object_set_new(j, "finishedAt", iso_or_null(d->finished_at));
        json_object_set_new(j, "deadline", iso_or_null(d->deadline_at));
    }
    return j;
}

json_t *json_deployment_event(struct cr_apps *a, const struct deployment *d, bool with_step)
{
    json_t *full = json_deployment(a, d, false);
    json_t *plan = json_object();
    json_object_set_new(plan, "id", json_string(d->id));
    json_object_set(plan, "steps", json_object_get(full, "steps"));
    json_object_set_new(plan, "version", json_string(d->version));
    json_object_set(plan, "affectedApps", json_object_get(full, "affectedApps"));
    json_t *j = json_object();
    if (with_step) {
        json_t *step = json_object();
        json_object_set(
            step, "actions",
            json_object_get(json_array_get(json_object_get(full, "steps"), 0), "actions"));
        json_object_set_new(j, "currentStep", step);
    } else {
        json_object_set_new(j, "id", json_string(d->id));
    }
    json_object_set_new(j, "plan", plan);
    json_decref(full);
    return j;
}

json_t *json_queue_entry(struct cr_apps *a, struct app *app)
{
    json_t *j = json_object();
    json_object_set_new(j, "app", json_app_info(a, app, false, true, true, false));
    json_object_set_new(j, "count", json_integer((json_int_t)app->waiting));
    json_object_set_new(j, "role", json_string(app->spec.role ? app->spec.role : "*"));
    double now = cr_wall_seconds();
    double left = app->delay_until > now ? app->delay_until - now : 0;
    json_t *delay = json_object();
    json_object_set_new(delay, "timeLeftSeconds", json_integer((json_int_t)ceil(left)));
    json_object_set_new(delay, "overdue", json_boolean(left <= 0));
    if (left > 0)
        json_object_set_new(delay, "until", iso_or_null(app->delay_until));
    json_object_set_new(j, "delay", delay);
    json_object_set_new(j, "since", iso_or_null(app->waiting_since));

    /* Marathon's summary, from our diagnosis: each requirement maps to its reject reason. */
    json_t *sum = json_object();
    json_object_set_new(
        sum, "processedOffersCount",
        json_integer((json_int_t)app->offers_processed + (json_int_t)app->offers_unused));
    json_object_set_new(sum, "unusedOffersCount", json_integer((json_int_t)app->offers_unused));
    json_object_set_new(sum, "lastUnusedOfferAt", iso_or_null(app->last_offer_unused_at));
    json_object_set_new(sum, "lastUsedOfferAt", iso_or_null(app->last_offer_used_at));
    json_t *rejects = json_array();
    json_t *diag = NULL;
    if (app->has_diag) {
        diag = json_object();
        json_object_set_new(diag, "considered", json_integer((json_int_t)app->diag.considered));
        json_t *reqs = json_array();
        char msg[600];
        size_t off =
            (size_t)snprintf(msg, sizeof(msg), "%zu machines considered", app->diag.considered);
        for (size_t k = 0; k < app->diag.n; k++) {
            const struct cr_place_diag_item *d = &app->diag.v[k];
            json_t *r = json_object();
            json_object_set_new(r, "requirement", json_string(d->requirement));
            json_object_set_new(r, "failed", json_integer((json_int_t)d->failed));
            json_array_append_new(reqs, r);
            if (d->failed > 0 && off < sizeof(msg))
                off += (size_t)snprintf(msg + off, sizeof(msg) - off, "; %s failed on %zu",
                                        d->requirement, d->failed);
            const char *reason = "UnfulfilledConstraint";
            if (strcmp(d->requirement, "cpus") == 0)
                reason = "InsufficientCpus";
            else if (strcmp(d->requirement, "mem") == 0)
                reason = "InsufficientMemory";
            else if (strcmp(d->requirement, "disk") == 0)
                reason = "InsufficientDisk";
            else if (strcmp(d->requirement, "ports") == 0)
                reason = "InsufficientPorts";
            else if (strcmp(d->requirement, "unreachable") == 0 ||
                     strcmp(d->requirement, "draining") == 0)
                reason = "AgentMaintenance";
            json_t *rj = json_object();
            json_object_set_new(rj, "reason", json_string(reason));
            json_object_set_new(rj, "declined", json_integer((json_int_t)d->failed));
            json_object_set_new(rj, "processed", json_integer((json_int_t)app->diag.considered));
            json_array_append_new(rejects, rj);
        }
        json_object_set_new(diag, "requirements", reqs);
        json_object_set_new(diag, "message", json_string(msg));
    }
    json_object_set_new(sum, "rejectSummaryLastOffers", rejects);
    json_object_set_new(sum, "rejectSummaryLaunchAttempt", json_deep_copy(rejects));
    json_object_set_new(j, "processedOffersSummary", sum);
    if (diag)
        json_object_set_new(j, "diagnosis", diag);
    return j;
}
