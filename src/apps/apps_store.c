/*
 * apps_store.c - the orchestrator's records in the raft registry, and recovery from them.
 *
 * Tables (values are JSON):
 *   apps          <app id>            {"spec": <version record>, "deleting": bool}
 *   app_versions  <app id> <version>  <version record>
 *   deployments   <id>                {id, appId, version, action, prevVersion, startedAt,
 *                                      deadlineAt}
 *   instances     <task id>           {appId, version, configVersion, agentId, hostname,
 *                                      ports, stagedAt}
 *   apps_meta     framework_id        {"id": "<framework id>"}
 * A version record is {"app": <App JSON>, "version", "lastScalingAt", "lastConfigChangeAt"}
 * (the App JSON's own version fields are server-set, so they travel beside it).
 *
 * Writes that answer a user (app changes) wait for the commit; the rest (deployment ends,
 * forgotten instances) are fire-and-forget: a lost delete only leaves a record that
 * reconciliation clears after a restart.
 */
#include <stdlib.h>
#include <string.h>

#include "apps/apps_impl.h"
#include "base/log.h"
#include "base/util.h"

static json_t *version_record(const struct cr_app *spec)
{
    json_t *j = json_object();
    json_object_set_new(j, "app", cr_marathon_app_json(spec));
    json_object_set_new(j, "version", json_string(spec->version ? spec->version : ""));
    if (spec->last_scaling_at)
        json_object_set_new(j, "lastScalingAt", json_string(spec->last_scaling_at));
    if (spec->last_config_change_at)
        json_object_set_new(j, "lastConfigChangeAt", json_string(spec->last_config_change_at));
    return j;
}

static int spec_from_record(const json_t *rec, struct cr_app *out, char *why, size_t size)
{
    struct cr_marathon_err merr;
    cr_marathon_err_init(&merr);
    int rc = cr_marathon_parse_app(json_object_get(rec, "app"), NULL, NULL, out, &merr);
    if (rc < 0) {
        char *text = merr.body ? cr_json_dump(merr.body) : NULL;
        snprintf(why, size, "%s", text ? text : "invalid app");
        free(text);
        cr_marathon_err_release(&merr);
        return rc;
    }
    cr_marathon_err_release(&merr);
    const char *v = json_string_value(json_object_get(rec, "version"));
    const char *ls = json_string_value(json_object_get(rec, "lastScalingAt"));
    const char *lc = json_string_value(json_object_get(rec, "lastConfigChangeAt"));
    free(out->version);
    out->version = cr_xstrdup(v ? v : "");
    free(out->last_scaling_at);
    out->last_scaling_at = ls ? cr_xstrdup(ls) : NULL;
    free(out->last_config_change_at);
    out->last_config_change_at = cr_xstrdup(lc ? lc : out->version);
    return 0;
}

void store_app(struct cr_apps *a, struct app *app, master_persist_fn done, void *ud)
{
    json_t *j = json_object();
    json_object_set_new(j, "spec", version_record(&app->spec));
    json_object_set_new(j, "deleting", json_boolean(app->is_deleting));
    master_persist(a->m, "apps", app->id, j, done, ud);
}

void store_version(struct cr_apps *a, const struct app *app, const struct cr_app *spec)
{
    char *key = cr_xasprintf("%s %s", app->id, spec->version);
    master_persist(a->m, "app_versions", key, version_record(spec), NULL, NULL);
    free(key);
}

void store_unapp(struct cr_apps *a, struct app *app)
{
    master_unpersist(a->m, "apps", app->id, NULL, NULL);
    size_t it = 0;
    const char *v;
    while (cr_map_next(&app->versions, &it, &v, NULL)) {
        char *key = cr_xasprintf("%s %s", app->id, v);
        master_unpersist(a->m, "app_versions", key, NULL, NULL);
        free(key);
    }
}

void store_deployment(struct cr_apps *a, const struct deployment *d)
{
    json_t *j = json_object();
    json_object_set_new(j, "id", json_string(d->id));
    json_object_set_new(j, "appId", json_string(d->app_id));
    json_object_set_new(j, "version", json_string(d->version));
    json_object_set_new(j, "action", json_string(d->action));
    if (d->prev_version)
        json_object_set_new(j, "prevVersion", json_string(d->prev_version));
    json_object_set_new(j, "startedAt", json_real(d->started_at));
    json_object_set_new(j, "deadlineAt", json_real(d->deadline_at));
    master_persist(a->m, "deployments", d->id, j, NULL, NULL);
}

void store_undeployment(struct cr_apps *a, const struct deployment *d)
{
    master_unpersist(a->m, "deployments", d->id, NULL, NULL);
}

json_t *store_inst_json(const struct inst *i)
{
    json_t *j = json_object();
    json_object_set_new(j, "appId", json_string(i->app->id));
    json_object_set_new(j, "version", json_string(i->version));
    json_object_set_new(j, "configVersion", json_string(i->config_version));
    json_object_set_new(j, "agentId", json_string(i->agent_id ? i->agent_id : ""));
    json_object_set_new(j, "hostname", json_string(i->hostname ? i->hostname : ""));
    json_t *ports = json_array();
    for (size_t k = 0; k < i->nports; k++)
        json_array_append_new(ports, json_integer((json_int_t)i->ports[k]));
    json_object_set_new(j, "ports", ports);
    json_object_set_new(j, "stagedAt", json_real(i->staged_at));
    json_object_set_new(j, "hasHealth", json_boolean(i->has_health));
    return j;
}

void store_uninst(struct cr_apps *a, const struct inst *i)
{
    master_unpersist(a->m, "instances", i->id, NULL, NULL);
}

void store_framework_id(struct cr_apps *a, const char *id)
{
    json_t *j = json_object();
    json_object_set_new(j, "id", json_string(id));
    master_persist(a->m, "apps_meta", "framework_id", j, NULL, NULL);
}

/* ---------------------------------------------------------------- recovery */

static json_t *parse_value(const char *table, const char *key, const void *value, size_t len)
{
    struct cr_err err;
    cr_err_clear(&err);
    json_t *j = cr_json_parse_object(value, len, &err);
    if (!j)
        CR_ERROR("apps: unreadable registry record skipped table=%s key=%s error=\"%s\"", table,
                 key, err.msg);
    return j;
}

static int recover_app(const char *key, const void *value, size_t len, void *ud)
{
    struct cr_apps *a = ud;
    json_t *j = parse_value("apps", key, value, len);
    if (!j)
        return 0;
    struct cr_app spec;
    cr_app_init(&spec);
    char why[512];
    if (spec_from_record(json_object_get(j, "spec"), &spec, why, sizeof(why)) < 0) {
        CR_ERROR("apps: app record skipped app=%s error=\"%s\"", key, why);
    } else {
        struct app *app = app_new(a, &spec);
        app->is_deleting = json_is_true(json_object_get(j, "deleting"));
        app_add_version(a, app, &spec);
    }
    cr_app_release(&spec);
    json_decref(j);
    return 0;
}

static int recover_version(const char *key, const void *value, size_t len, void *ud)
{
    struct cr_apps *a = ud;
    const char *sp = strchr(key, ' ');
    if (!sp)
        return 0;
    char *app_id = cr_xasprintf("%.*s", (int)(sp - key), key);
    struct app *app = apps_find(a, app_id);
    free(app_id);
    if (!app || app_version(app, sp + 1))
        return 0;
    json_t *j = parse_value("app_versions", key, value, len);
    if (!j)
        return 0;
    struct cr_app spec;
    cr_app_init(&spec);
    char why[512];
    if (spec_from_record(j, &spec, why, sizeof(why)) == 0) {
        struct cr_app *copy = cr_xcalloc(1, sizeof(*copy));
        cr_app_init(copy);
        cr_app_copy(copy, &spec);
        cr_map_put(&app->versions, copy->version, copy);
    }
    cr_app_release(&spec);
    json_decref(j);
    return 0;
}

static char *jstr(const json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    return s ? cr_xstrdup(s) : NULL;
}

static int recover_deployment(const char *key, const void *value, size_t len, void *ud)
{
    struct cr_apps *a = ud;
    json_t *j = parse_value("deployments", key, value, len);
    if (!j)
        return 0;
    const char *app_id = json_string_value(json_object_get(j, "appId"));
    struct app *app = apps_find(a, app_id);
    if (!app || app->deploy) {
        master_unpersist(a->m, "deployments", key, NULL, NULL);
        json_decref(j);
        return 0;
    }
    struct deployment *d = cr_xcalloc(1, sizeof(*d));
    snprintf(d->id, sizeof(d->id), "%s", key);
    d->app_id = cr_xstrdup(app->id);
    d->version = jstr(j, "version");
    d->action = jstr(j, "action");
    d->prev_version = jstr(j, "prevVersion");
    if (!d->version)
        d->version = cr_xstrdup(app->spec.version);
    if (!d->action)
        d->action = cr_xstrdup("RestartApplication");
    d->started_at = json_number_value(json_object_get(j, "startedAt"));
    d->deadline_at = json_number_value(json_object_get(j, "deadlineAt"));
    d->status = DEPLOY_RUNNING;
    cr_map_put(&a->deployments, d->id, d);
    app->deploy = d;
    CR_INFO("apps: deployment resumed deployment=%s app=%s action=%s", d->id, app->id, d->action);
    json_decref(j);
    return 0;
}

static int recover_inst(const char *key, const void *value, size_t len, void *ud)
{
    struct cr_apps *a = ud;
    json_t *j = parse_value("instances", key, value, len);
    if (!j)
        return 0;
    struct app *app = apps_find(a, json_string_value(json_object_get(j, "appId")));
    if (!app) {
        master_unpersist(a->m, "instances", key, NULL, NULL);
        json_decref(j);
        return 0;
    }
    struct inst *i = cr_xcalloc(1, sizeof(*i));
    i->id = cr_xstrdup(key);
    i->app = app;
    i->version = jstr(j, "version");
    i->config_version = jstr(j, "configVersion");
    if (!i->version)
        i->version = cr_xstrdup(app->spec.version);
    if (!i->config_version)
        i->config_version = cr_xstrdup(i->version);
    i->agent_id = jstr(j, "agentId");
    i->hostname = jstr(j, "hostname");
    const json_t *ports = json_object_get(j, "ports");
    i->nports = json_array_size(ports);
    i->ports = cr_xcalloc(i->nports + 1, sizeof(uint64_t));
    for (size_t k = 0; k < i->nports; k++)
        i->ports[k] = (uint64_t)json_integer_value(json_array_get(ports, k));
    i->staged_at = json_number_value(json_object_get(j, "stagedAt"));
    i->has_health = json_is_true(json_object_get(j, "hasHealth"));
    /* Until reconciliation says otherwise it counts as launched, not running. */
    i->phase = CR_INST_STAGING;
    i->state = CR_TASK_STAGING;
    i->healthy = -1;
    i->is_persisted = true;
    i->is_unconfirmed = true;
    cr_map_put(&app->insts, i->id, i);
    cr_map_put(&a->insts, i->id, i);
    json_decref(j);
    return 0;
}

void store_recover(struct cr_apps *a)
{
    struct cr_state *st = a->m->state;
    size_t len;
    const char *meta = cr_state_get(st, "apps_meta", "framework_id", &len);
    if (meta) {
        json_t *j = parse_value("apps_meta", "framework_id", meta, len);
        free(a->framework_id);
        a->framework_id = jstr(j, "id");
        json_decref(j);
    }
    cr_state_foreach(st, "apps", recover_app, a);
    cr_state_foreach(st, "app_versions", recover_version, a);
    cr_state_foreach(st, "deployments", recover_deployment, a);
    cr_state_foreach(st, "instances", recover_inst, a);
    CR_INFO("apps: recovered apps=%zu deployments=%zu instances=%zu framework=%s",
            cr_map_count(&a->apps), cr_map_count(&a->deployments), cr_map_count(&a->insts),
            a->framework_id ? a->framework_id : "(new)");
}
