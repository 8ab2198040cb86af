/*
 * executor_proto.c - codecs of the agent <-> executor protocol (see executor_proto.h).
 */
#include "api/executor_proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/mesos_internal.h"
#include "base/util.h"

static const char *const CALL_NAMES[] = {"UNKNOWN", "SUBSCRIBE", "UPDATE"};
static const char *const EVENT_NAMES[] = {"UNKNOWN", "SUBSCRIBED",   "LAUNCH",
                                          "KILL",    "ACKNOWLEDGED", "SHUTDOWN"};

/* ------------------------------------------------------------------ helpers */

static json_t *id_obj(const char *value)
{
    json_t *o = cr_mj_object_new();
    cr_mj_set(o, "value", cr_mj_str(value ? value : ""));
    return o;
}

static json_t *strv_json(const char *const *v)
{
    json_t *arr = cr_mj_array_new();
    for (size_t i = 0; v && v[i]; i++)
        cr_mj_append(arr, cr_mj_str(v[i]));
    return arr;
}

/* A NULL-terminated copy of an optional string array field. */
static int strv_field(const json_t *obj, const char *key, const char *path, char ***out,
                      struct cr_err *err)
{
    char **v = NULL;
    size_t n = 0;
    int rc = cr_mj_string_array(obj, key, path, &v, &n, err);
    if (rc < 0)
        return rc;
    char **z = cr_xcalloc(n + 1, sizeof(*z));
    for (size_t i = 0; i < n; i++)
        z[i] = v[i];
    free(v);
    *out = z;
    return 0;
}

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static int pid_field(const json_t *obj, const char *key, const char *path, pid_t *out,
                     struct cr_err *err)
{
    int64_t v = 0;
    int rc = cr_mj_int64(obj, key, path, &v, err);
    if (rc < 0)
        return rc;
    if (v < 0 || v > 0x3fffffff)
        return cr_mj_err(err, path, key, "not a pid: %lld", (long long)v);
    *out = (pid_t)v;
    return 0;
}

static json_t *envelope(const char *type, const char *body_key, json_t *body)
{
    json_t *m = cr_mj_object_new();
    cr_mj_set(m, "type", cr_mj_str(type));
    if (body)
        cr_mj_set(m, body_key, body);
    return m;
}

char *cr_exec_frame(const json_t *msg, size_t *len)
{
    char *text = json_dumps(msg, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (!text)
        abort(); /* only on allocation failure */
    size_t n = strlen(text);
    char head[24];
    int h = snprintf(head, sizeof(head), "%zu\n", n);
    char *framed = cr_xmalloc((size_t)h + n);
    memcpy(framed, head, (size_t)h);
    memcpy(framed + h, text, n);
    free(text);
    *len = (size_t)h + n;
    return framed;
}

/* ------------------------------------------------------------------ calls */

json_t *cr_exec_call_subscribe(const char *framework_id, const char *executor_id,
                               const char *container_id, pid_t pid, bool launched, pid_t task_pid,
                               const struct cr_task_status *const *updates, size_t n)
{
    json_t *b = cr_mj_object_new();
    cr_mj_set(b, "container_id", id_obj(container_id));
    cr_mj_set(b, "pid", cr_mj_int(pid));
    cr_mj_set(b, "launched", cr_mj_bool_new(launched));
    if (task_pid > 0)
        cr_mj_set(b, "task_pid", cr_mj_int(task_pid));
    json_t *arr = cr_mj_array_new();
    for (size_t i = 0; i < n; i++) {
        json_t *u = cr_mj_object_new();
        cr_mj_set(u, "framework_id", id_obj(framework_id));
        cr_mj_set(u, "status", cr_json_task_status(updates[i]));
        cr_mj_append(arr, u);
    }
    cr_mj_set(b, "unacknowledged_updates", arr);
    json_t *m = envelope("SUBSCRIBE", "subscribe", b);
    cr_mj_set(m, "framework_id", id_obj(framework_id));
    cr_mj_set(m, "executor_id", id_obj(executor_id));
    return m;
}

json_t *cr_exec_call_update(const char *framework_id, const char *executor_id,
                            const struct cr_task_status *status, pid_t task_pid)
{
    json_t *b = cr_mj_object_new();
    cr_mj_set(b, "status", cr_json_task_status(status));
    if (task_pid > 0)
        cr_mj_set(b, "task_pid", cr_mj_int(task_pid));
    json_t *m = envelope("UPDATE", "update", b);
    cr_mj_set(m, "framework_id", id_obj(framework_id));
    cr_mj_set(m, "executor_id", id_obj(executor_id));
    return m;
}

void cr_exec_call_release(struct cr_exec_call *c)
{
    free(c->framework_id);
    free(c->executor_id);
    free(c->container_id);
    for (size_t i = 0; i < c->nupdates; i++)
        cr_task_status_release(&c->updates[i]);
    free(c->updates);
    cr_task_status_release(&c->status);
    memset(c, 0, sizeof(*c));
    cr_task_status_init(&c->status);
}

static int need_uuid(const struct cr_task_status *s, const char *path, struct cr_err *err)
{
    if (!s->has_uuid)
        return cr_mj_err(err, path, "uuid", "required: executor updates are acknowledged by uuid");
    return 0;
}

static int call_subscribe(const json_t *b, struct cr_exec_call *c, struct cr_err *err)
{
    int rc;
    if ((rc = cr_mj_required_id(b, "container_id", "subscribe", &c->container_id, err)) < 0 ||
        (rc = pid_field(b, "pid", "subscribe", &c->pid, err)) < 0 ||
        (rc = pid_field(b, "task_pid", "subscribe", &c->task_pid, err)) < 0 ||
        (rc = cr_mj_bool(b, "launched", "subscribe", &c->launched, err)) < 0)
        return rc;
    json_t *arr = NULL;
    if ((rc = cr_mj_array(b, "unacknowledged_updates", "subscribe", &arr, err)) < 0)
        return rc;
    size_t n = rc == 1 ? json_array_size(arr) : 0;
    c->updates = n ? cr_xcalloc(n, sizeof(*c->updates)) : NULL;
    char path[96];
    for (size_t i = 0; i < n; i++) {
        cr_task_status_init(&c->updates[i]);
        c->nupdates = i + 1;
        snprintf(path, sizeof(path), "subscribe.unacknowledged_updates[%zu]", i);
        json_t *u = json_array_get(arr, i), *st = NULL;
        if (!json_is_object(u))
            return cr_mj_err(err, path, NULL, "must be an object");
        if ((rc = cr_mj_required_object(u, "status", path, &st, err)) < 0)
            return rc;
        snprintf(path, sizeof(path), "subscribe.unacknowledged_updates[%zu].status", i);
        if ((rc = cr_parse_task_status(st, path, &c->updates[i], err)) < 0 ||
            (rc = need_uuid(&c->updates[i], path, err)) < 0)
            return rc;
    }
    return 0;
}

int cr_exec_call_parse(const char *text, size_t len, struct cr_exec_call *out, struct cr_err *err)
{
    memset(out, 0, sizeof(*out));
    cr_task_status_init(&out->status);
    json_t *root = cr_json_parse_object(text, len, err);
    if (!root)
        return -EINVAL;
    int type = 0, rc = cr_mj_envelope_type(root, CALL_NAMES, 3, &type, err);
    json_t *body = NULL;
    if (rc < 0)
        goto out;
    out->type = (enum cr_exec_call_type)type;
    if ((rc = cr_mj_required_id(root, "framework_id", "", &out->framework_id, err)) < 0 ||
        (rc = cr_mj_required_id(root, "executor_id", "", &out->executor_id, err)) < 0)
        goto out;
    switch (type) {
    case CR_EXEC_CALL_SUBSCRIBE:
        if ((rc = cr_mj_required_object(root, "subscribe", "", &body, err)) < 0)
            goto out;
        rc = call_subscribe(body, out, err);
        break;
    case CR_EXEC_CALL_UPDATE:
        if ((rc = cr_mj_required_object(root, "update", "", &body, err)) < 0)
            goto out;
        json_t *st = NULL;
        if ((rc = cr_mj_required_object(body, "status", "update", &st, err)) < 0 ||
            (rc = cr_parse_task_status(st, "update.status", &out->status, err)) < 0 ||
            (rc = need_uuid(&out->status, "update.status", err)) < 0 ||
            (rc = pid_field(body, "task_pid", "update", &out->task_pid, err)) < 0)
            goto out;
        break;
    default:
        rc = cr_err_set(err, -EINVAL, "type: unknown executor call");
        break;
    }
out:
    json_decref(root);
    if (rc < 0) {
        cr_err_wrap(err, "executor message");
        cr_exec_call_release(out);
        return -EINVAL;
    }
    return 0;
}

/* ------------------------------------------------------------------ events */

json_t *cr_exec_event_subscribed(const char *agent_id, const char *container_id)
{
    json_t *b = cr_mj_object_new();
    json_t *ai = cr_mj_object_new();
    cr_mj_set(ai, "id", id_obj(agent_id));
    cr_mj_set(b, "agent_info", ai);
    cr_mj_set(b, "container_id", id_obj(container_id));
    return envelope("SUBSCRIBED", "subscribed", b);
}

json_t *cr_exec_event_launch(json_t *task, const char *const *argv, const char *const *envp,
                             const char *user)
{
    json_t *b = cr_mj_object_new();
    cr_mj_set(b, "task", json_incref(task));
    json_t *cmd = cr_mj_object_new();
    cr_mj_set(cmd, "argv", strv_json(argv));
    cr_mj_set(cmd, "environment", strv_json(envp));
    if (user)
        cr_mj_set(cmd, "user", cr_mj_str(user));
    cr_mj_set(b, "command", cmd);
    return envelope("LAUNCH", "launch", b);
}

json_t *cr_exec_event_kill(const char *task_id, int64_t grace_ms, bool killing_state)
{
    json_t *b = cr_mj_object_new();
    cr_mj_set(b, "task_id", id_obj(task_id));
    if (grace_ms >= 0)
        cr_mj_set(b, "grace_period_ms", cr_mj_int(grace_ms));
    cr_mj_set(b, "killing_state", cr_mj_bool_new(killing_state));
    return envelope("KILL", "kill", b);
}

json_t *cr_exec_event_acknowledged(const char *task_id, const unsigned char uuid[16])
{
    json_t *b = cr_mj_object_new();
    cr_mj_set(b, "task_id", id_obj(task_id));
    cr_mj_set(b, "uuid", cr_mj_base64(uuid, 16));
    return envelope("ACKNOWLEDGED", "acknowledged", b);
}

json_t *cr_exec_event_shutdown(int64_t grace_ms)
{
    json_t *b = cr_mj_object_new();
    if (grace_ms >= 0)
        cr_mj_set(b, "grace_period_ms", cr_mj_int(grace_ms));
    return envelope("SHUTDOWN", "shutdown", b);
}

void cr_exec_event_release(struct cr_exec_event *e)
{
    free(e->agent_id);
    free(e->container_id);
    json_decref(e->task);
    strv_free(e->argv);
    strv_free(e->envp);
    free(e->user);
    free(e->task_id);
    memset(e, 0, sizeof(*e));
    e->grace_ms = -1;
}

static int grace_field(const json_t *b, const char *path, int64_t *out, struct cr_err *err)
{
    *out = -1;
    int rc = cr_mj_int64(b, "grace_period_ms", path, out, err);
    if (rc < 0)
        return rc;
    if (rc == 1 && *out < 0)
        return cr_mj_err(err, path, "grace_period_ms", "must not be negative");
    return 0;
}

static int event_body(const json_t *root, int type, struct cr_exec_event *e, struct cr_err *err)
{
    json_t *b = NULL;
    int rc;
    switch (type) {
    case CR_EXEC_EVENT_SUBSCRIBED: {
        json_t *ai = NULL;
        if ((rc = cr_mj_required_object(root, "subscribed", "", &b, err)) < 0 ||
            (rc = cr_mj_required_object(b, "agent_info", "subscribed", &ai, err)) < 0 ||
            (rc = cr_mj_required_id(ai, "id", "subscribed.agent_info", &e->agent_id, err)) < 0)
            return rc;
        return cr_mj_required_id(b, "container_id", "subscribed", &e->container_id, err);
    }
    case CR_EXEC_EVENT_LAUNCH: {
        json_t *task = NULL, *cmd = NULL;
        if ((rc = cr_mj_required_object(root, "launch", "", &b, err)) < 0 ||
            (rc = cr_mj_required_object(b, "task", "launch", &task, err)) < 0 ||
            (rc = cr_mj_required_object(b, "command", "launch", &cmd, err)) < 0 ||
            (rc = strv_field(cmd, "argv", "launch.command", &e->argv, err)) < 0 ||
            (rc = strv_field(cmd, "environment", "launch.command", &e->envp, err)) < 0 ||
            (rc = cr_mj_string_dup(cmd, "user", "launch.command", &e->user, err)) < 0)
            return rc;
        if (!e->argv[0])
            return cr_mj_err(err, "launch.command", "argv", "must not be empty");
        e->task = json_incref(task);
        return 0;
    }
    case CR_EXEC_EVENT_KILL:
        if ((rc = cr_mj_required_object(root, "kill", "", &b, err)) < 0 ||
            (rc = cr_mj_required_id(b, "task_id", "kill", &e->task_id, err)) < 0 ||
            (rc = grace_field(b, "kill", &e->grace_ms, err)) < 0 ||
            (rc = cr_mj_bool(b, "killing_state", "kill", &e->killing_state, err)) < 0)
            return rc;
        return 0;
    case CR_EXEC_EVENT_ACKNOWLEDGED:
        if ((rc = cr_mj_required_object(root, "acknowledged", "", &b, err)) < 0 ||
            (rc = cr_mj_required_id(b, "task_id", "acknowledged", &e->task_id, err)) < 0)
            return rc;
        rc = cr_mj_uuid(b, "uuid", "acknowledged", e->uuid, err);
        if (rc == 0)
            return cr_mj_missing(err, "acknowledged", "uuid");
        return rc < 0 ? rc : 0;
    case CR_EXEC_EVENT_SHUTDOWN:
        if ((rc = cr_mj_object(root, "shutdown", "", &b, err)) < 0)
            return rc;
        return b ? grace_field(b, "shutdown", &e->grace_ms, err) : 0;
    default:
        return cr_err_set(err, -EINVAL, "type: unknown executor event");
    }
}

int cr_exec_event_parse(const char *text, size_t len, struct cr_exec_event *out, struct cr_err *err)
{
    memset(out, 0, sizeof(*out));
    out->grace_ms = -1;
    json_t *root = cr_json_parse_object(text, len, err);
    if (!root)
        return -EINVAL;
    int type = 0, rc = cr_mj_envelope_type(root, EVENT_NAMES, 6, &type, err);
    if (rc >= 0) {
        out->type = (enum cr_exec_event_type)type;
        rc = event_body(root, type, out, err);
    }
    json_decref(root);
    if (rc < 0) {
        cr_err_wrap(err, "executor message");
        cr_exec_event_release(out);
        return -EINVAL;
    }
    return 0;
}
