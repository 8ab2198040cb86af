/*
 * apps_http.c - Marathon's REST API (API-COMPAT.md §6) over the orchestrator.
 *
 * Served on the apps port (8080) and under /v2 on the master's port. Every change is made
 * in memory at once, written to the registry, and answered when the write has committed
 * (registry writes apply in order, so the app record committing means the version and
 * deployment records written before it did too). A change creates a deployment; a running
 * deployment locks its app (409) unless ?force=true, which cancels it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "apps/apps_impl.h"
#include "base/log.h"
#include "base/util.h"

#define MARATHON_VERSION "1.10.19"

/* ---------------------------------------------------------------- answers */

static void add_leader_header(struct cr_apps *a, struct cr_http_req *req)
{
    char leader[300];
    snprintf(leader, sizeof(leader), "http://%s:%lld", a->m->advertised_ip,
             (long long)(a->cfg.port > 0 ? a->cfg.port : a->m->cfg.port));
    cr_http_req_add_header(req, "X-Marathon-Leader", leader);
}

void apps_http_error(struct cr_http_req *req, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *j = json_object();
    json_object_set_new(j, "message", json_string(msg));
    http_respond_json(req, status, j);
}

static void invalid_json(struct cr_http_req *req, const char *why)
{
    json_t *j = json_object();
    json_object_set_new(j, "message", json_string("Invalid JSON"));
    json_t *d = json_object();
    json_object_set_new(d, "path", json_string("/"));
    json_t *errs = json_array();
    json_array_append_new(errs, json_string(why));
    json_object_set_new(d, "errors", errs);
    json_t *details = json_array();
    json_array_append_new(details, d);
    json_object_set_new(j, "details", details);
    http_respond_json(req, 400, j);
}

static bool query_true(struct cr_http_req *req, const char *name, bool dflt)
{
    const char *v = cr_http_req_query(req, name);
    if (!v)
        return dflt;
    return strcmp(v, "") == 0 || strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0;
}

static bool method_is(struct cr_http_req *req, const char *m)
{
    return strcmp(cr_http_req_method(req), m) == 0;
}

/* The body as JSON (object or array); NULL after answering 400. */
static json_t *body_json(struct cr_http_req *req)
{
    size_t len;
    const char *body = cr_http_req_body(req, &len);
    json_error_t jerr;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        char why[300];
        snprintf(why, sizeof(why), "error.invalid.json: %s (line %d, column %d)", jerr.text,
                 jerr.line, jerr.column);
        invalid_json(req, why);
    }
    return j;
}

static void merr_answer(struct cr_http_req *req, struct cr_marathon_err *merr)
{
    json_t *body = merr->body ? json_incref(merr->body) : json_pack("{s:s}", "message", "invalid");
    http_respond_json(req, merr->status ? merr->status : 422, body);
}

/* ---------------------------------------------------------------- committing changes */

struct answer {
    struct cr_apps *a;
    struct cr_http_req *req;
    int status;
    json_t *body;
    char deployment_id[40];
    char *location;
};

static void answer_committed(struct cr_master *m, int rc, const char *msg, void *ud)
{
    struct answer *an = ud;
    (void)m;
    if (rc < 0) {
        json_decref(an->body);
        apps_http_error(an->req, 503, "Failed to store the change in the registry: %s",
                        msg ? msg : "");
    } else {
        if (an->deployment_id[0])
            cr_http_req_add_header(an->req, "Marathon-Deployment-Id", an->deployment_id);
        if (an->location)
            cr_http_req_add_header(an->req, "Location", an->location);
        http_respond_json(an->req, an->status, an->body);
    }
    free(an->location);
    free(an);
}

static struct answer *answer_new(struct cr_apps *a, struct cr_http_req *req, int status)
{
    struct answer *an = cr_xcalloc(1, sizeof(*an));
    an->a = a;
    an->req = req;
    an->status = status;
    return an;
}

static json_t *deployment_result(const struct app *app, const struct deployment *d)
{
    json_t *j = json_object();
    json_object_set_new(j, "version", json_string(app->spec.version));
    json_object_set_new(j, "deploymentId", json_string(d ? d->id : ""));
    return j;
}

/* 409 when app has a running deployment and force is not set; with force it is cancelled. */
static bool locked(struct cr_apps *a, struct cr_http_req *req, struct app *app)
{
    if (!app || !app->deploy)
        return false;
    if (query_true(req, "force", false)) {
        deploy_finish(a, app->deploy, DEPLOY_CANCELLED, "cancelled by a forced change");
        return false;
    }
    json_t *j = json_object();
    json_object_set_new(j, "message",
                        json_string("App is locked by one or more deployments. Override with "
                                    "the option '?force=true'. View details at '/v2/deployments/"
                                    "<DEPLOYMENT_ID>'."));
    json_t *ds = json_array();
    json_array_append_new(ds, json_pack("{s:s}", "id", app->deploy->id));
    json_object_set_new(j, "deployments", ds);
    http_respond_json(req, 409, j);
    return true;
}

static void api_post_event(struct cr_apps *a, struct cr_http_req *req, const struct app *app)
{
    json_t *ev = json_object();
    json_object_set_new(ev, "clientIp", json_string(cr_http_req_peer(req)));
    json_object_set_new(ev, "uri", json_string(cr_http_req_path(req)));
    json_object_set_new(ev, "appDefinition", cr_marathon_app_json(&app->spec));
    apps_event(a, "api_post_event", ev);
}

/*
 * Make spec (a parsed app, versions unset) the app's new target. Decides the kind of change:
 * a new app starts, an instances-only change scales, anything else restarts. is_restart
 * forces a new configuration version (POST .../restart). config_version (or NULL): going
 * back to an older version, whose configuration keeps its lastConfigChangeAt, so the
 * instances still running it are the target again and are kept.
 */
static struct deployment *apply_spec_as(struct cr_apps *a, struct cr_http_req *req,
                                        struct app **appp, struct cr_app *spec, bool is_restart,
                                        const char *config_version)
{
    struct app *app = *appp;
    free(spec->version);
    spec->version = apps_new_version(a);
    const char *action;
    char *prev = NULL;
    if (!app) {
        free(spec->last_scaling_at);
        spec->last_scaling_at = cr_xstrdup(spec->version);
        free(spec->last_config_change_at);
        spec->last_config_change_at = cr_xstrdup(spec->version);
        app = app_new(a, spec);
        *appp = app;
        action = "StartApplication";
    } else {
        prev = cr_xstrdup(app->spec.version);
        bool same = !is_restart && cr_app_same_config(&app->spec, spec);
        free(spec->last_scaling_at);
        spec->last_scaling_at = cr_xstrdup(spec->version);
        free(spec->last_config_change_at);
        spec->last_config_change_at =
            cr_xstrdup(same && app->spec.last_config_change_at ? app->spec.last_config_change_at
                                                               : spec->version);
        if (config_version && !same) {
            /* Back to an older configuration: its instances are the target again. */
            free(spec->last_config_change_at);
            spec->last_config_change_at = cr_xstrdup(config_version);
        }
        action = same ? "ScaleApplication" : "RestartApplication";
        app->is_deleting = false;
    }
    app_add_version(a, app, spec);
    store_version(a, app, &app->spec);
    if (req)
        api_post_event(a, req, app);
    struct deployment *d = deploy_start(a, app, action, prev);
    free(prev);
    return d;
}

static struct deployment *apply_spec(struct cr_apps *a, struct cr_http_req *req, struct app **appp,
                                     struct cr_app *spec, bool is_restart)
{
    return apply_spec_as(a, req, appp, spec, is_restart, NULL);
}

/* Commit app's record and answer with body once durable. */
static void commit_and_answer(struct cr_apps *a, struct cr_http_req *req, struct app *app,
                              struct deployment *d, int status, json_t *body)
{
    struct answer *an = answer_new(a, req, status);
    an->body = body;
    if (d)
        snprintf(an->deployment_id, sizeof(an->deployment_id), "%s", d->id);
    if (status == 201)
        an->location = cr_xasprintf("/v2/apps%s", app->id);
    store_app(a, app, answer_committed, an);
}

/* ---------------------------------------------------------------- dry run */

static void dry_run(struct cr_apps *a, struct cr_http_req *req, const struct cr_app *spec)
{
    struct machine_set set;
    machine_set_build(a, &set);
    struct cr_place_machine *ms = set.real;
    struct agent **ags = set.agents;
    size_t k = set.n;
    struct cr_place_request preq = app_place_request(spec, NULL, 0);
    struct cr_place_result res;
    cr_place_result_init(&res);
    struct cr_err err;
    cr_err_clear(&err);
    enum cr_place_strategy strategy =
        spec->has_placement_label ? spec->placement : a->cfg.placement;
    if (cr_place_batch(ms, k, &preq, (size_t)spec->instances, strategy, &res, &err) < 0) {
        apps_http_error(req, 422, "%s", err.msg);
    } else {
        json_t *j = json_object();
        json_object_set_new(j, "dryRun", json_true());
        json_t *pl = json_array();
        for (size_t q = 0; q < res.nplaced; q++) {
            struct agent *ag = ags[res.machine[q]];
            json_array_append_new(pl, json_pack("{s:s,s:s}", "agentId", ag->id, "host",
                                                ag->info.hostname ? ag->info.hostname : ""));
        }
        json_object_set_new(j, "placements", pl);
        json_object_set_new(j, "unplaced", json_integer((json_int_t)res.nunplaced));
        if (res.nunplaced > 0) {
            json_t *d = json_object();
            json_object_set_new(d, "considered", json_integer((json_int_t)res.diag.considered));
            json_t *reqs = json_array();
            for (size_t q = 0; q < res.diag.n; q++)
                json_array_append_new(reqs, json_pack("{s:s,s:I}", "requirement",
                                                      res.diag.v[q].requirement, "failed",
                                                      (json_int_t)res.diag.v[q].failed));
            json_object_set_new(d, "requirements", reqs);
            json_object_set_new(j, "diagnosis", d);
        }
        http_respond_json(req, 200, j);
    }
    cr_place_result_release(&res);
    machine_set_release(&set);
}

/* ---------------------------------------------------------------- /v2/apps */

static bool embed_has(struct cr_http_req *req, const char *what)
{
    const char *vals[16];
    size_t n = cr_http_req_query_all(req, "embed", vals, 16);
    for (size_t k = 0; k < n && k < 16; k++)
        if (strcmp(vals[k], what) == 0)
            return true;
    return false;
}

static int compare_ids(const void *x, const void *y)
{
    const struct app *const *p = x, *const *q = y;
    return strcmp((*p)->id, (*q)->id);
}

static struct app **sorted_apps(struct cr_apps *a, size_t *n)
{
    *n = cr_map_count(&a->apps);
    struct app **v = cr_xcalloc(*n + 1, sizeof(*v));
    size_t it = 0, k = 0;
    void *p;
    while (cr_map_next(&a->apps, &it, NULL, &p))
        v[k++] = p;
    qsort(v, *n, sizeof(*v), compare_ids);
    return v;
}

static bool contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++)
        if (strncasecmp(p, needle, n) == 0)
            return true;
    return n == 0;
}

static const char *label_of(const struct cr_app *spec, const char *name)
{
    for (size_t k = 0; k < spec->nlabels; k++)
        if (strcmp(spec->labels[k].name, name) == 0)
            return spec->labels[k].value;
    return NULL;
}

/* value is one of the comma-separated words of set ("a, b"). */
static bool in_set(const char *set, const char *value)
{
    size_t len = strlen(value);
    const char *p = set;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && t[-1] == ' ')
            t--;
        if ((size_t)(t - p) == len && strncmp(p, value, len) == 0)
            return true;
        p = e;
    }
    return false;
}

/* One requirement of a label selector: "k", "k==v", "k!=v", "k in (a,b)", "k notin (a,b)". */
static bool label_matches(const struct cr_app *spec, const char *req)
{
    char *r = cr_xstrdup(req);
    char *key = r, *op, *val = NULL;
    bool ok;
    if ((op = strstr(r, "!=")) || (op = strstr(r, "=="))) {
        bool neg = op[0] == '!';
        *op = '\0';
        val = op + 2;
        while (*val == ' ')
            val++;
        for (char *t = val + strlen(val); t > val && t[-1] == ' ';)
            *--t = '\0';
        for (char *t = key + strlen(key); t > key && t[-1] == ' ';)
            *--t = '\0';
        const char *have = label_of(spec, key);
        ok = neg ? !have || strcmp(have, val) != 0 : have && strcmp(have, val) == 0;
    } else if ((op = strstr(r, " notin ")) || (op = strstr(r, " in "))) {
        bool neg = op[1] == 'n' && op[2] == 'o';
        *op = '\0';
        val = strchr(op + 1, '(');
        char *close = val ? strrchr(val, ')') : NULL;
        if (close)
            *close = '\0';
        const char *have = label_of(spec, key);
        bool in = have && val && in_set(val + 1, have);
        ok = neg ? !in : in;
    } else {
        ok = label_of(spec, key) != NULL;
    }
    free(r);
    return ok;
}

/* Marathon's label selector: requirements joined by commas outside parentheses (AND). */
static bool selector_matches(const struct cr_app *spec, const char *sel)
{
    char *copy = cr_xstrdup(sel);
    bool ok = true;
    int depth = 0;
    char *start = copy;
    for (char *p = copy;; p++) {
        if (*p == '(')
            depth++;
        else if (*p == ')')
            depth--;
        if ((*p == ',' && depth == 0) || *p == '\0') {
            bool end = *p == '\0';
            *p = '\0';
            while (*start == ' ')
                start++;
            if (*start && !label_matches(spec, start))
                ok = false;
            if (end)
                break;
            start = p + 1;
        }
    }
    free(copy);
    return ok;
}

static void list_apps(struct cr_apps *a, struct cr_http_req *req)
{
    const char *label = cr_http_req_query(req, "label");
    const char *idf = cr_http_req_query(req, "id");
    const char *cmdf = cr_http_req_query(req, "cmd");
    bool tasks = embed_has(req, "apps.tasks");
    bool counts = embed_has(req, "apps.counts") || embed_has(req, "apps.tasks");
    bool deps = embed_has(req, "apps.deployments");
    bool fail = embed_has(req, "apps.lastTaskFailure") || embed_has(req, "apps.failures");
    size_t n;
    struct app **v = sorted_apps(a, &n);
    json_t *arr = json_array();
    for (size_t k = 0; k < n; k++) {
        if (idf && !contains_ci(v[k]->id, idf))
            continue;
        if (cmdf && !(v[k]->spec.cmd && contains_ci(v[k]->spec.cmd, cmdf)))
            continue;
        if (label && !selector_matches(&v[k]->spec, label))
            continue;
        json_array_append_new(arr, json_app_info(a, v[k], tasks, counts, deps, fail));
    }
    free(v);
    json_t *j = json_object();
    json_object_set_new(j, "apps", arr);
    http_respond_json(req, 200, j);
}

static void create_app(struct cr_apps *a, struct cr_http_req *req, const json_t *body,
                       const char *path_id)
{
    struct cr_app spec;
    cr_app_init(&spec);
    struct cr_marathon_err merr;
    cr_marathon_err_init(&merr);
    if (cr_marathon_parse_app(body, path_id, NULL, &spec, &merr) < 0) {
        merr_answer(req, &merr);
        goto out;
    }
    if (apps_find(a, spec.id)) {
        apps_http_error(req, 409, "An app with id [%s] already exists.", spec.id);
        goto out;
    }
    if (query_true(req, "dry_run", false) || query_true(req, "dryRun", false)) {
        dry_run(a, req, &spec);
        goto out;
    }
    struct app *app = NULL;
    struct deployment *d = apply_spec(a, req, &app, &spec, false);
    json_t *j = json_app_info(a, app, false, true, true, false);
    json_object_set_new(j, "tasks", json_array());
    commit_and_answer(a, req, app, d, 201, j);
out:
    cr_marathon_err_release(&merr);
    cr_app_release(&spec);
}

/* PUT/PATCH of one app: create, update, or roll back to {"version": v}. */
static void update_app(struct cr_apps *a, struct cr_http_req *req, const json_t *body,
                       const char *id, bool partial)
{
    struct app *app = apps_find(a, id);
    if (!app || app->is_deleting) {
        if (app && app->is_deleting) {
            apps_http_error(req, 409, "App '%s' is being deleted", id);
            return;
        }
        create_app(a, req, body, id);
        return;
    }
    if (locked(a, req, app))
        return;
    struct cr_app spec;
    cr_app_init(&spec);
    struct cr_marathon_err merr;
    cr_marathon_err_init(&merr);
    const char *only_version = json_string_value(json_object_get(body, "version"));
    char *restored_config = NULL;
    if (only_version && json_object_size(body) <= 2 &&
        (json_object_size(body) == 1 || json_object_get(body, "id"))) {
        const struct cr_app *old = app_version(app, only_version);
        if (!old) {
            apps_http_error(req, 404, "App '%s' has no version '%s'", id, only_version);
            goto out;
        }
        cr_app_copy(&spec, old);
        restored_config =
            old->last_config_change_at ? cr_xstrdup(old->last_config_change_at) : NULL;
    } else if (cr_marathon_parse_app(body, id, partial ? &app->spec : NULL, &spec, &merr) < 0) {
        merr_answer(req, &merr);
        goto out;
    }
    if (strcmp(spec.id, app->id) != 0) {
        apps_http_error(req, 422, "The app id in the body (%s) differs from the path (%s)", spec.id,
                        app->id);
        goto out;
    }
    struct deployment *d = apply_spec_as(a, req, &app, &spec, false, restored_config);
    commit_and_answer(a, req, app, d, 200, deployment_result(app, d));
out:
    free(restored_config);
    cr_marathon_err_release(&merr);
    cr_app_release(&spec);
}

static void put_apps_array(struct cr_apps *a, struct cr_http_req *req, const json_t *body)
{
    /* Validate all first: either every app changes or none. */
    size_t n = json_array_size(body);
    if (n == 0) {
        apps_http_error(req, 422, "No apps given");
        return;
    }
    struct cr_app *specs = cr_xcalloc(n, sizeof(*specs));
    bool ok = true;
    for (size_t k = 0; k < n && ok; k++) {
        cr_app_init(&specs[k]);
        const json_t *item = json_array_get(body, k);
        const char *raw = json_string_value(json_object_get(item, "id"));
        char *norm = raw ? cr_marathon_app_id(raw) : NULL;
        struct app *app = norm ? apps_find(a, norm) : NULL;
        free(norm);
        struct cr_marathon_err merr;
        cr_marathon_err_init(&merr);
        if (cr_marathon_parse_app(item, NULL, app ? &app->spec : NULL, &specs[k], &merr) < 0) {
            merr_answer(req, &merr);
            ok = false;
        }
        cr_marathon_err_release(&merr);
        if (ok && app && app->deploy && !query_true(req, "force", false)) {
            locked(a, req, app);
            ok = false;
        }
    }
    if (ok) {
        struct app *last = NULL;
        struct deployment *d = NULL;
        for (size_t k = 0; k < n; k++) {
            struct app *app = apps_find(a, specs[k].id);
            if (app && app->deploy)
                deploy_finish(a, app->deploy, DEPLOY_CANCELLED, "cancelled by a forced change");
            d = apply_spec(a, req, &app, &specs[k], false);
            if (k + 1 < n)
                store_app(a, app, NULL, NULL);
            last = app;
        }
        commit_and_answer(a, req, last, d, 200, deployment_result(last, d));
    }
    for (size_t k = 0; k < n; k++)
        cr_app_release(&specs[k]);
    free(specs);
}

static void delete_app(struct cr_apps *a, struct cr_http_req *req, struct app *app)
{
    if (!query_true(req, "force", true) && locked(a, req, app))
        return;
    if (app->deploy)
        deploy_finish(a, app->deploy, DEPLOY_CANCELLED, "cancelled: the app is deleted");
    app->is_deleting = true;
    struct deployment *d = deploy_start(a, app, "StopApplication", app->spec.version);
    commit_and_answer(a, req, app, d, 200, deployment_result(app, d));
}

static void restart_app(struct cr_apps *a, struct cr_http_req *req, struct app *app)
{
    if (locked(a, req, app))
        return;
    struct cr_app spec;
    cr_app_init(&spec);
    cr_app_copy(&spec, &app->spec);
    struct deployment *d = apply_spec(a, req, &app, &spec, true);
    cr_app_release(&spec);
    commit_and_answer(a, req, app, d, 200, deployment_result(app, d));
}

static void app_tasks(struct cr_apps *a, struct cr_http_req *req, struct app *app)
{
    json_t *ts = json_array();
    size_t it = 0;
    void *v;
    while (cr_map_next(&app->insts, &it, NULL, &v))
        json_array_append_new(ts, json_task(a, v));
    json_t *j = json_object();
    json_object_set_new(j, "tasks", ts);
    http_respond_json(req, 200, j);
}

/* Kill instances (all of app's when ids is NULL, optionally only on host); with scale the
 * app's count goes down by as many (a ScaleApplication deployment). */
static void kill_tasks(struct cr_apps *a, struct cr_http_req *req, struct app *app,
                       struct inst **list, size_t n, bool single)
{
    bool scale = query_true(req, "scale", false);
    json_t *killed = json_array();
    size_t nkilled = 0;
    for (size_t k = 0; k < n; k++) {
        json_array_append_new(killed, json_task(a, list[k]));
        if (list[k]->phase != CR_INST_KILLING)
            nkilled++;
        inst_kill(a, list[k]);
    }
    if (scale && app) {
        if (locked(a, req, app)) {
            json_decref(killed);
            return;
        }
        struct cr_app spec;
        cr_app_init(&spec);
        cr_app_copy(&spec, &app->spec);
        spec.instances = spec.instances > (int64_t)nkilled ? spec.instances - (int64_t)nkilled : 0;
        struct deployment *d = apply_spec(a, req, &app, &spec, false);
        cr_app_release(&spec);
        json_decref(killed);
        commit_and_answer(a, req, app, d, 200, deployment_result(app, d));
        return;
    }
    apps_kick(a);
    json_t *j = json_object();
    if (single)
        json_object_set(j, "task", json_array_get(killed, 0));
    else
        json_object_set(j, "tasks", killed);
    json_decref(killed);
    http_respond_json(req, 200, j);
}

static int compare_versions_desc(const void *x, const void *y)
{
    return strcmp(*(const char *const *)y, *(const char *const *)x);
}

static void versions(struct cr_apps *a, struct cr_http_req *req, struct app *app, const char *which)
{
    (void)a;
    if (which) {
        const struct cr_app *v = app_version(app, which);
        if (!v) {
            apps_http_error(req, 404, "App '%s' has no version '%s'", app->id, which);
            return;
        }
        http_respond_json(req, 200, cr_marathon_app_json(v));
        return;
    }
    size_t n = cr_map_count(&app->versions);
    const char **vs = cr_xcalloc(n + 1, sizeof(char *));
    size_t it = 0, k = 0;
    const char *key;
    while (cr_map_next(&app->versions, &it, &key, NULL))
        vs[k++] = key;
    qsort(vs, k, sizeof(char *), compare_versions_desc);
    json_t *arr = json_array();
    for (size_t q = 0; q < k; q++)
        json_array_append_new(arr, json_string(vs[q]));
    free(vs);
    json_t *j = json_object();
    json_object_set_new(j, "versions", arr);
    http_respond_json(req, 200, j);
}

/* Longest known app id that prefixes rest (ids contain slashes: "/a/b/tasks" may be the
 * app "/a/b" + "tasks"). */
static struct app *match_app(struct cr_apps *a, const char *rest, const char **tail)
{
    char *buf = cr_xstrdup(rest);
    size_t len = strlen(buf);
    while (len > 1 && buf[len - 1] == '/')
        buf[--len] = '\0';
    for (;;) {
        struct app *app = apps_find(a, buf);
        if (app) {
            *tail = rest + strlen(buf);
            free(buf);
            return app;
        }
        char *slash = strrchr(buf, '/');
        if (!slash || slash == buf)
            break;
        *slash = '\0';
    }
    free(buf);
    return NULL;
}

static void route_apps(struct cr_apps *a, struct cr_http_req *req, const char *rest)
{
    if (strcmp(rest, "") == 0 || strcmp(rest, "/") == 0) {
        if (method_is(req, "GET")) {
            list_apps(a, req);
        } else if (method_is(req, "POST")) {
            json_t *body = body_json(req);
            if (!body)
                return;
            if (!json_is_object(body))
                invalid_json(req, "error.expected.jsobject");
            else
                create_app(a, req, body, NULL);
            json_decref(body);
        } else if (method_is(req, "PUT") || method_is(req, "PATCH")) {
            json_t *body = body_json(req);
            if (!body)
                return;
            if (!json_is_array(body))
                invalid_json(req, "error.expected.jsarray");
            else
                put_apps_array(a, req, body);
            json_decref(body);
        } else {
            apps_http_error(req, 405, "Method not allowed");
        }
        return;
    }
    const char *tail = "";
    struct app *app = match_app(a, rest, &tail);
    if (app && *tail) {
        /* A sub-resource of an existing app. */
        if (strcmp(tail, "/restart") == 0 && method_is(req, "POST")) {
            restart_app(a, req, app);
        } else if (strcmp(tail, "/tasks") == 0 && method_is(req, "GET")) {
            app_tasks(a, req, app);
        } else if (strcmp(tail, "/tasks") == 0 && method_is(req, "DELETE")) {
            const char *host = cr_http_req_query(req, "host");
            size_t n = cr_map_count(&app->insts), k = 0;
            struct inst **list = cr_xcalloc(n + 1, sizeof(*list));
            size_t it = 0;
            void *v;
            while (cr_map_next(&app->insts, &it, NULL, &v)) {
                struct inst *i = v;
                if (!host || (i->hostname && strcmp(i->hostname, host) == 0))
                    list[k++] = i;
            }
            kill_tasks(a, req, app, list, k, false);
            free(list);
        } else if (strncmp(tail, "/tasks/", 7) == 0 && method_is(req, "DELETE")) {
            struct inst *i = cr_map_get(&app->insts, tail + 7);
            if (!i) {
                apps_http_error(req, 404, "Task '%s' does not exist", tail + 7);
                return;
            }
            kill_tasks(a, req, app, &i, 1, true);
        } else if (strcmp(tail, "/versions") == 0 && method_is(req, "GET")) {
            versions(a, req, app, NULL);
        } else if (strncmp(tail, "/versions/", 10) == 0 && method_is(req, "GET")) {
            versions(a, req, app, tail + 10);
        } else if (method_is(req, "PUT") || method_is(req, "PATCH")) {
            /* A new app nested under an existing one's path. */
            char *id = cr_marathon_app_id(rest);
            json_t *body = id ? body_json(req) : NULL;
            if (!id)
                apps_http_error(req, 422, "'%s' is not a valid app id", rest);
            else if (body)
                update_app(a, req, body, id, method_is(req, "PATCH"));
            json_decref(body);
            free(id);
        } else {
            apps_http_error(req, 404, "App '%s' does not exist", rest);
        }
        return;
    }
    char *id = cr_marathon_app_id(rest);
    if (!id) {
        apps_http_error(req, 404, "App '%s' does not exist", rest);
        return;
    }
    if (!app && (method_is(req, "POST") || method_is(req, "DELETE") || method_is(req, "GET"))) {
        /* /restart, /tasks, /versions of an app that does not exist, or the app itself */
        const char *slash = strrchr(id, '/');
        const char *sub = slash ? slash + 1 : id;
        bool is_sub = strcmp(sub, "restart") == 0 || strcmp(sub, "tasks") == 0 ||
                      strcmp(sub, "versions") == 0;
        if (is_sub && slash && slash != id)
            *(char *)slash = '\0';
        apps_http_error(req, 404, "App '%s' does not exist", id);
        free(id);
        return;
    }
    if (method_is(req, "GET")) {
        if (!app) {
            apps_http_error(req, 404, "App '%s' does not exist", id);
        } else {
            json_t *j = json_object();
            json_object_set_new(j, "app", json_app_info(a, app, true, true, true, true));
            http_respond_json(req, 200, j);
        }
    } else if (method_is(req, "PUT") || method_is(req, "PATCH")) {
        json_t *body = body_json(req);
        if (body) {
            if (!json_is_object(body))
                invalid_json(req, "error.expected.jsobject");
            else
                update_app(a, req, body, id,
                           method_is(req, "PATCH") || query_true(req, "partialUpdate", true));
            json_decref(body);
        }
    } else if (method_is(req, "DELETE")) {
        if (!app)
            apps_http_error(req, 404, "App '%s' does not exist", id);
        else
            delete_app(a, req, app);
    } else {
        apps_http_error(req, 405, "Method not allowed");
    }
    free(id);
}

/* ---------------------------------------------------------------- /v2/tasks */

static void list_tasks(struct cr_apps *a, struct cr_http_req *req)
{
    const char *st[8];
    size_t nst = cr_http_req_query_all(req, "status", st, 8);
    if (nst == 0)
        nst = cr_http_req_query_all(req, "status[]", st, 8);
    if (nst > 8)
        nst = 8;
    json_t *arr = json_array();
    size_t it = 0;
    void *v;
    while (cr_map_next(&a->insts, &it, NULL, &v)) {
        struct inst *i = v;
        bool keep = nst == 0;
        for (size_t k = 0; k < nst; k++) {
            if (strcasecmp(st[k], "running") == 0 && i->state == CR_TASK_RUNNING)
                keep = true;
            if (strcasecmp(st[k], "staging") == 0 && i->phase == CR_INST_STAGING)
                keep = true;
        }
        if (keep)
            json_array_append_new(arr, json_task(a, i));
    }
    json_t *j = json_object();
    json_object_set_new(j, "tasks", arr);
    http_respond_json(req, 200, j);
}

static void delete_tasks(struct cr_apps *a, struct cr_http_req *req)
{
    json_t *body = body_json(req);
    if (!body)
        return;
    const json_t *ids = json_object_get(body, "ids");
    if (!json_is_array(ids)) {
        invalid_json(req, "error.expected.jsarray at /ids");
        json_decref(body);
        return;
    }
    size_t n = json_array_size(ids);
    struct inst **list = cr_xcalloc(n + 1, sizeof(*list));
    struct app *app = NULL;
    bool one_app = true;
    for (size_t k = 0; k < n; k++) {
        const char *id = json_string_value(json_array_get(ids, k));
        struct inst *i = id ? cr_map_get(&a->insts, id) : NULL;
        if (!i) {
            apps_http_error(req, 400, "Invalid task id '%s'", id ? id : "(not a string)");
            free(list);
            json_decref(body);
            return;
        }
        list[k] = i;
        if (app && app != i->app)
            one_app = false;
        app = i->app;
    }
    if (query_true(req, "scale", false) && !one_app) {
        apps_http_error(req, 422, "scale=true works on the tasks of one app per request");
    } else {
        kill_tasks(a, req, app, list, n, false);
    }
    free(list);
    json_decref(body);
}

/* ---------------------------------------------------------------- /v2/deployments */

static void list_deployments(struct cr_apps *a, struct cr_http_req *req)
{
    json_t *arr = json_array();
    size_t it = 0;
    void *v;
    while (cr_map_next(&a->deployments, &it, NULL, &v))
        json_array_append_new(arr, json_deployment(a, v, false));
    http_respond_json(req, 200, arr);
}

static void delete_deployment(struct cr_apps *a, struct cr_http_req *req, struct deployment *d)
{
    struct app *app = apps_find(a, d->app_id);
    if (query_true(req, "force", false) || !app) {
        deploy_finish(a, d, DEPLOY_CANCELLED, "cancelled by the user");
        cr_http_respond(req, 202, NULL, NULL, 0);
        return;
    }
    char *prev = d->prev_version ? cr_xstrdup(d->prev_version) : NULL;
    deploy_finish(a, d, DEPLOY_ROLLED_BACK, "rolled back by the user");
    const struct cr_app *old = prev ? app_version(app, prev) : NULL;
    struct deployment *nd;
    if (!old || strcmp(d->action, "StopApplication") == 0) {
        if (strcmp(d->action, "StopApplication") == 0) {
            app->is_deleting = false; /* undo the delete: back to its instances */
            nd = deploy_start(a, app, "ScaleApplication", app->spec.version);
        } else {
            app->is_deleting = true; /* a rolled back start removes the app */
            nd = deploy_start(a, app, "StopApplication", app->spec.version);
        }
    } else {
        struct cr_app spec;
        cr_app_init(&spec);
        cr_app_copy(&spec, old);
        nd = apply_spec_as(a, req, &app, &spec, false, old->last_config_change_at);
        cr_app_release(&spec);
    }
    free(prev);
    commit_and_answer(a, req, app, nd, 200, deployment_result(app, nd));
}

/* ---------------------------------------------------------------- /v2/queue */

static void list_queue(struct cr_apps *a, struct cr_http_req *req)
{
    size_t n;
    struct app **v = sorted_apps(a, &n);
    json_t *arr = json_array();
    double now = cr_wall_seconds();
    for (size_t k = 0; k < n; k++)
        if (v[k]->waiting > 0 || v[k]->delay_until > now)
            json_array_append_new(arr, json_queue_entry(a, v[k]));
    free(v);
    json_t *j = json_object();
    json_object_set_new(j, "queue", arr);
    http_respond_json(req, 200, j);
}

/* ---------------------------------------------------------------- /v2/info, /v2/leader */

static void info(struct cr_apps *a, struct cr_http_req *req)
{
    struct cr_master *m = a->m;
    char leader[300];
    snprintf(leader, sizeof(leader), "%s:%lld", m->advertised_ip,
             (long long)(a->cfg.port > 0 ? a->cfg.port : m->cfg.port));
    char master[300];
    snprintf(master, sizeof(master), "http://%s:%lld", m->advertised_ip, (long long)m->cfg.port);
    json_t *cfg = json_object();
    json_object_set_new(cfg, "master", json_string(master));
    json_object_set_new(cfg, "framework_name", json_string("marathon"));
    json_object_set_new(cfg, "failover_timeout", json_integer(604800));
    json_object_set_new(cfg, "hostname", json_string(m->cfg.hostname));
    json_object_set_new(cfg, "mesos_role", json_string("*"));
    json_object_set_new(cfg, "mesos_user", json_string("root"));
    json_object_set_new(cfg, "local_port_min", json_integer(10000));
    json_object_set_new(cfg, "local_port_max", json_integer(20000));
    json_object_set_new(cfg, "reconciliation_interval", json_integer(600000));
    json_object_set_new(cfg, "task_launch_timeout", json_integer(300000));
    json_object_set_new(cfg, "features", json_array());
    json_object_set_new(cfg, "placement",
                        json_string(a->cfg.placement == CR_PLACE_SPREAD ? "spread" : "binpack"));
    json_t *http = json_object();
    json_object_set_new(http, "http_port",
                        json_integer(a->cfg.port > 0 ? a->cfg.port : m->cfg.port));
    json_object_set_new(http, "https_port", json_integer(8443));
    json_t *j = json_object();
    json_object_set_new(j, "name", json_string("marathon"));
    json_object_set_new(j, "version", json_string(MARATHON_VERSION));
    json_object_set_new(j, "buildref", json_string("corral"));
    json_object_set_new(j, "elected", json_true());
    json_object_set_new(j, "leader", json_string(leader));
    json_object_set_new(j, "frameworkId", a->fw ? json_string(a->fw->id) : json_null());
    json_object_set_new(j, "marathon_config", cfg);
    json_object_set_new(j, "zookeeper_config", json_object());
    json_object_set_new(j, "http_config", http);
    http_respond_json(req, 200, j);
}

/* ---------------------------------------------------------------- routing */

bool cr_apps_route(struct cr_apps *a, struct cr_http_req *req)
{
    const char *path = cr_http_req_path(req);
    bool is_ping = strcmp(path, "/ping") == 0;
    if (!is_ping && strncmp(path, "/v2/", 4) != 0 && strcmp(path, "/v2") != 0)
        return false;
    if (!a->is_started || a->m->stopping || !a->m->ready) {
        apps_http_error(req, 503, "The orchestrator is not ready yet; retry shortly");
        return true;
    }
    add_leader_header(a, req);
    if (is_ping) {
        const char *accept = cr_http_req_header(req, "Accept");
        if (accept && strstr(accept, "application/json"))
            cr_http_respond(req, 200, "application/json", "\"pong\"", 6);
        else
            cr_http_respond(req, 200, "text/plain", "pong\n", 5);
        return true;
    }
    const char *rest = path + 3; /* "/apps..." */
    if (strncmp(rest, "/apps", 5) == 0 && (rest[5] == '\0' || rest[5] == '/')) {
        route_apps(a, req, rest + 5);
    } else if (strcmp(rest, "/tasks") == 0 && method_is(req, "GET")) {
        list_tasks(a, req);
    } else if (strcmp(rest, "/tasks/delete") == 0 && method_is(req, "POST")) {
        delete_tasks(a, req);
    } else if (strcmp(rest, "/deployments") == 0 && method_is(req, "GET")) {
        list_deployments(a, req);
    } else if (strncmp(rest, "/deployments/", 13) == 0) {
        struct deployment *d = deploy_find(a, rest + 13);
        if (!d)
            apps_http_error(req, 404, "Deployment '%s' does not exist", rest + 13);
        else if (method_is(req, "GET"))
            http_respond_json(req, 200, json_deployment(a, d, true));
        else if (method_is(req, "DELETE") && d->status == DEPLOY_RUNNING)
            delete_deployment(a, req, d);
        else if (method_is(req, "DELETE"))
            apps_http_error(req, 404, "Deployment '%s' has already ended (%s)", d->id,
                            deploy_status_name(d->status));
        else
            apps_http_error(req, 405, "Method not allowed");
    } else if (strcmp(rest, "/queue") == 0 && method_is(req, "GET")) {
        list_queue(a, req);
    } else if (strncmp(rest, "/queue/", 7) == 0 && method_is(req, "DELETE")) {
        size_t len = strlen(rest + 7);
        const char *suffix = "/delay";
        if (len <= 6 || strcmp(rest + 7 + len - 6, suffix) != 0) {
            apps_http_error(req, 404, "Not found: %s", path);
            return true;
        }
        char *raw = cr_xasprintf("%.*s", (int)(len - 6), rest + 7);
        char *id = cr_marathon_app_id(raw);
        struct app *app = id ? apps_find(a, id) : NULL;
        if (!app || app->delay_until == 0) {
            apps_http_error(req, 404, "No delay for app '%s'", id ? id : raw);
        } else {
            app->failures = 0;
            app->delay_until = 0;
            apps_revive(a);
            apps_kick(a);
            cr_http_respond(req, 204, NULL, NULL, 0);
        }
        free(raw);
        free(id);
    } else if (strcmp(rest, "/info") == 0 && method_is(req, "GET")) {
        info(a, req);
    } else if (strcmp(rest, "/leader") == 0 && method_is(req, "GET")) {
        char leader[300];
        snprintf(leader, sizeof(leader), "%s:%lld", a->m->advertised_ip,
                 (long long)(a->cfg.port > 0 ? a->cfg.port : a->m->cfg.port));
        http_respond_json(req, 200, json_pack("{s:s}", "leader", leader));
    } else if (strcmp(rest, "/leader") == 0 && method_is(req, "DELETE")) {
        apps_http_error(req, 400,
                        "This master runs alone (no --peers): there is no other "
                        "master to take over the leadership");
    } else if (strcmp(rest, "/events") == 0) {
        apps_events_http(a, req);
    } else {
        apps_http_error(req, 404, "Not found: %s", path);
    }
    return true;
}
