/*
 * protocol.c - envelopes of the agent protocol (see protocol.h). Inner messages use
 * the api/ codecs; this file reads and writes only the event/call wrappers.
 */
#include "agent/protocol.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

void cr_agent_event_release(struct cr_agent_event *ev)
{
    if (!ev)
        return;
    free(ev->type_name);
    free(ev->agent_id);
    free(ev->master_hostname);
    free(ev->framework_id);
    free(ev->task_id);
    cr_framework_info_release(&ev->framework_info);
    cr_task_info_release(&ev->task);
    json_decref(ev->task_json);
    free(ev->launch_error);
    free(ev->message);
    memset(ev, 0, sizeof(*ev));
    ev->kill_grace_ms = -1;
}

/* obj[key] as an object, NULL if absent/null; -EINVAL if another type. */
static int get_object(const json_t *obj, const char *key, const char *path, json_t **out,
                      bool required, struct cr_err *err)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required)
            return cr_err_set(err, -EINVAL, "%s.%s: required field missing", path, key);
        return 0;
    }
    if (!json_is_object(v))
        return cr_err_set(err, -EINVAL, "%s.%s: expected an object", path, key);
    *out = v;
    return 0;
}

/* A required {"value": "..."} id at obj[key]. */
static int get_id(const json_t *obj, const char *key, const char *path, char **out,
                  struct cr_err *err)
{
    int rc = cr_parse_id(obj, key, path, out, err);
    if (rc < 0)
        return rc;
    if (!*out)
        return cr_err_set(err, -EINVAL, "%s.%s: required field missing", path, key);
    return 0;
}

/* A number or a decimal string (proto int64 in JSON). */
static int json_int64(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d < -9.2e18 || d > 9.2e18)
            return -EINVAL;
        *out = (int64_t)d;
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        long long n = strtoll(s, &end, 10);
        if (end == s || *end || errno != 0)
            return -EINVAL;
        *out = n;
        return 0;
    }
    return -EINVAL;
}

/* kill_policy {grace_period {nanoseconds}} -> ms, or -1 when absent. */
static int get_kill_grace(const json_t *obj, const char *path, int64_t *out_ms,
                          struct cr_err *err)
{
    *out_ms = -1;
    json_t *policy, *grace;
    int rc = get_object(obj, "kill_policy", path, &policy, false, err);
    if (rc < 0 || !policy)
        return rc;
    rc = get_object(policy, "grace_period", "kill.kill_policy", &grace, false, err);
    if (rc < 0 || !grace)
        return rc;
    json_t *ns = json_object_get(grace, "nanoseconds");
    int64_t nanos;
    if (!ns || json_int64(ns, &nanos) < 0 || nanos < 0)
        return cr_err_set(err, -EINVAL,
                          "%s.kill_policy.grace_period.nanoseconds: expected a non-negative "
                          "integer",
                          path);
    *out_ms = nanos / 1000000;
    return 0;
}

static int parse_subscribed(const json_t *root, struct cr_agent_event *ev, struct cr_err *err)
{
    json_t *body;
    int rc = get_object(root, "subscribed", "event", &body, true, err);
    if (rc < 0)
        return rc;
    rc = get_id(body, "agent_id", "subscribed", &ev->agent_id, err);
    if (rc < 0)
        return rc;
    json_t *ping = json_object_get(body, "ping_interval_seconds");
    if (ping && !json_is_null(ping)) {
        if (!json_is_number(ping) || json_number_value(ping) < 0)
            return cr_err_set(err, -EINVAL,
                              "subscribed.ping_interval_seconds: expected a non-negative number");
        ev->ping_interval_seconds = json_number_value(ping);
    }
    json_t *mi;
    rc = get_object(body, "master_info", "subscribed", &mi, false, err);
    if (rc < 0)
        return rc;
    if (mi) {
        json_t *host = json_object_get(mi, "hostname");
        if (json_is_string(host))
            ev->master_hostname = cr_xstrdup(json_string_value(host));
    }
    return 0;
}

static int parse_launch(const json_t *root, struct cr_agent_event *ev, struct cr_err *err)
{
    json_t *body, *fi, *task;
    int rc = get_object(root, "launch", "event", &body, true, err);
    if (rc < 0)
        return rc;
    if ((rc = get_object(body, "framework_info", "launch", &fi, true, err)) < 0)
        return rc;
    if ((rc = get_id(fi, "id", "launch.framework_info", &ev->framework_id, err)) < 0)
        return rc;
    if ((rc = get_object(body, "task", "launch", &task, true, err)) < 0)
        return rc;
    ev->task_json = json_incref(task);

    struct cr_err fi_err;
    cr_err_clear(&fi_err);
    if (cr_parse_framework_info(fi, "launch.framework_info", &ev->framework_info, &fi_err) == 0)
        ev->has_framework_info = true;
    else
        cr_framework_info_release(&ev->framework_info);

    /* The task id first, on its own, so an invalid task can still be answered. */
    json_t *tid = json_object_get(task, "task_id");
    json_t *tval = json_is_object(tid) ? json_object_get(tid, "value") : NULL;
    if (json_is_string(tval) && json_string_length(tval) > 0)
        ev->task_id = cr_xstrdup(json_string_value(tval));

    struct cr_err task_err;
    cr_err_clear(&task_err);
    if (cr_parse_task_info(task, "launch.task", &ev->task, &task_err) == 0) {
        ev->has_task = true;
        return 0;
    }
    cr_task_info_release(&ev->task);
    memset(&ev->task, 0, sizeof(ev->task));
    if (!ev->task_id)
        return cr_err_set(err, -EINVAL, "%s", cr_err_msg(&task_err));
    ev->launch_error = cr_xstrdup(cr_err_msg(&task_err));
    return 0;
}

static int parse_kill(const json_t *root, struct cr_agent_event *ev, struct cr_err *err)
{
    json_t *body;
    int rc = get_object(root, "kill", "event", &body, true, err);
    if (rc < 0)
        return rc;
    if ((rc = get_id(body, "framework_id", "kill", &ev->framework_id, err)) < 0)
        return rc;
    if ((rc = get_id(body, "task_id", "kill", &ev->task_id, err)) < 0)
        return rc;
    return get_kill_grace(body, "kill", &ev->kill_grace_ms, err);
}

static int parse_shutdown(const json_t *root, struct cr_agent_event *ev, struct cr_err *err)
{
    json_t *body;
    int rc = get_object(root, "shutdown_framework", "event", &body, true, err);
    if (rc < 0)
        return rc;
    return get_id(body, "framework_id", "shutdown_framework", &ev->framework_id, err);
}

static int parse_acknowledged(const json_t *root, struct cr_agent_event *ev, struct cr_err *err)
{
    json_t *body;
    int rc = get_object(root, "acknowledged", "event", &body, true, err);
    if (rc < 0)
        return rc;
    if ((rc = get_id(body, "framework_id", "acknowledged", &ev->framework_id, err)) < 0)
        return rc;
    if ((rc = get_id(body, "task_id", "acknowledged", &ev->task_id, err)) < 0)
        return rc;
    json_t *uuid = json_object_get(body, "uuid");
    if (!uuid || json_is_null(uuid))
        return cr_err_set(err, -EINVAL, "acknowledged.uuid: required field missing");
    if (!json_is_string(uuid))
        return cr_err_set(err, -EINVAL, "acknowledged.uuid: expected a base64 string");
    unsigned char *bytes = NULL;
    size_t n = 0;
    if (cr_base64_decode(json_string_value(uuid), json_string_length(uuid), &bytes, &n) < 0)
        return cr_err_set(err, -EINVAL, "acknowledged.uuid: not valid base64");
    if (n != 16) {
        free(bytes);
        return cr_err_set(err, -EINVAL, "acknowledged.uuid: expected 16 bytes, got %zu", n);
    }
    memcpy(ev->uuid, bytes, 16);
    free(bytes);
    return 0;
}

static int parse_error(const json_t *root, struct cr_agent_event *ev, struct cr_err *err)
{
    json_t *body;
    int rc = get_object(root, "error", "event", &body, false, err);
    if (rc < 0)
        return rc;
    json_t *msg = body ? json_object_get(body, "message") : NULL;
    ev->message = cr_xstrdup(json_is_string(msg) ? json_string_value(msg) : "(no message)");
    return 0;
}

int cr_agent_event_parse(const char *text, size_t len, struct cr_agent_event *ev,
                         struct cr_err *err)
{
    memset(ev, 0, sizeof(*ev));
    ev->kill_grace_ms = -1;
    json_t *root = cr_json_parse_object(text, len, err);
    if (!root)
        return err && err->code ? err->code : -EINVAL;
    json_t *type = json_object_get(root, "type");
    int rc = 0;
    if (!json_is_string(type)) {
        rc = cr_err_set(err, -EINVAL, "event.type: expected an event name");
        goto out;
    }
    const char *name = json_string_value(type);
    ev->type_name = cr_xstrdup(name);
    if (strcmp(name, "SUBSCRIBED") == 0) {
        ev->type = CR_AGENT_EV_SUBSCRIBED;
        rc = parse_subscribed(root, ev, err);
    } else if (strcmp(name, "LAUNCH") == 0) {
        ev->type = CR_AGENT_EV_LAUNCH;
        rc = parse_launch(root, ev, err);
    } else if (strcmp(name, "KILL") == 0) {
        ev->type = CR_AGENT_EV_KILL;
        rc = parse_kill(root, ev, err);
    } else if (strcmp(name, "SHUTDOWN_FRAMEWORK") == 0) {
        ev->type = CR_AGENT_EV_SHUTDOWN_FRAMEWORK;
        rc = parse_shutdown(root, ev, err);
    } else if (strcmp(name, "ACKNOWLEDGED") == 0) {
        ev->type = CR_AGENT_EV_ACKNOWLEDGED;
        rc = parse_acknowledged(root, ev, err);
    } else if (strcmp(name, "PING") == 0) {
        ev->type = CR_AGENT_EV_PING;
    } else if (strcmp(name, "ERROR") == 0) {
        ev->type = CR_AGENT_EV_ERROR;
        rc = parse_error(root, ev, err);
    } else {
        ev->type = CR_AGENT_EV_UNKNOWN;
    }
out:
    json_decref(root);
    return rc;
}

/* ------------------------------------------------------------------ calls */

static json_t *call(const char *type, const char *body_key, json_t *body)
{
    json_t *c = json_object();
    json_object_set_new(c, "type", json_string(type));
    if (body_key && body)
        json_object_set_new(c, body_key, body);
    return c;
}

json_t *cr_agent_call_subscribe(const struct cr_agent_subscribe_view *v)
{
    json_t *sub = json_object();
    json_object_set_new(sub, "agent_info", cr_json_agent_info(v->info));
    json_t *addr = json_object();
    json_object_set_new(addr, "ip", json_string(v->ip));
    json_object_set_new(addr, "port", json_integer(v->port));
    json_object_set_new(sub, "address", addr);
    json_object_set_new(sub, "version", json_string(v->version));
    json_t *fws = json_array();
    for (size_t i = 0; i < v->nframeworks; i++)
        json_array_append_new(fws, cr_json_framework_info(v->frameworks[i]));
    json_object_set_new(sub, "frameworks", fws);
    json_t *tasks = json_array();
    for (size_t i = 0; i < v->ntasks; i++) {
        const struct cr_agent_subscribe_task *t = &v->tasks[i];
        json_t *o = json_object();
        json_object_set_new(o, "framework_id", cr_json_id(t->framework_id));
        if (t->task_json)
            json_object_set(o, "task", (json_t *)t->task_json);
        else
            json_object_set_new(o, "task", cr_json_task_info(t->task, NULL));
        json_object_set_new(o, "state", json_string(cr_task_state_name(t->state)));
        if (t->latest_status)
            json_object_set_new(o, "latest_status", cr_json_task_status(t->latest_status));
        json_array_append_new(tasks, o);
    }
    json_object_set_new(sub, "tasks", tasks);
    return call("SUBSCRIBE", "subscribe", sub);
}

json_t *cr_agent_call_update(const char *agent_id, const char *framework_id,
                             const struct cr_task_status *status)
{
    json_t *up = json_object();
    json_object_set_new(up, "framework_id", cr_json_id(framework_id));
    json_object_set_new(up, "status", cr_json_task_status(status));
    json_t *c = call("UPDATE", "update", up);
    json_object_set_new(c, "agent_id", cr_json_id(agent_id));
    return c;
}

json_t *cr_agent_call_pong(const char *agent_id)
{
    json_t *c = call("PONG", NULL, NULL);
    json_object_set_new(c, "agent_id", cr_json_id(agent_id));
    return c;
}
