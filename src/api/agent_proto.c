/*
 * agent_proto.c - the agent protocol codecs (see agent_proto.h and docs/protocol.md).
 *
 * Envelopes are {"type": NAME, "<lowercase name>": body} like the Mesos calls and events;
 * UPDATE and PONG carry agent_id at the top level. Message bodies go through the Mesos
 * codecs, tasks with the JSON layer only: they were validated when they were launched,
 * and an agent must be able to report any task it runs.
 */
#include "api/agent_proto.h"
#include "api/mesos_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

static const char *const CALL_NAMES[] = {"UNKNOWN", "SUBSCRIBE", "UPDATE", "PONG"};
#define N_CALL_NAMES (sizeof(CALL_NAMES) / sizeof(CALL_NAMES[0]))

static const char *const EVENT_NAMES[] = {
    "UNKNOWN",      "SUBSCRIBED", "LAUNCH", "KILL", "SHUTDOWN_FRAMEWORK",
    "ACKNOWLEDGED", "PING",       "ERROR"};
#define N_EVENT_NAMES (sizeof(EVENT_NAMES) / sizeof(EVENT_NAMES[0]))

#define AGENT_PORT_DEFAULT 5051

const char *cr_agent_call_name(enum cr_agent_call_type t)
{
    return (unsigned)t < N_CALL_NAMES ? CALL_NAMES[t] : "UNKNOWN";
}

const char *cr_agent_event_name(enum cr_agent_event_type t)
{
    return (unsigned)t < N_EVENT_NAMES ? EVENT_NAMES[t] : "UNKNOWN";
}

/* Type and body of an envelope; *body NULL when the body is absent. */
static int envelope(const json_t *root, const char *const *names, size_t n, int *type,
                    json_t **body, struct cr_err *err)
{
    int rc = cr_mj_envelope_type(root, names, n, type, err);
    if (rc < 0)
        return rc;
    *body = NULL;
    if (*type == 0)
        return 0;
    char key[64];
    cr_mj_body_key(key, sizeof(key), names[*type]);
    return cr_mj_object(root, key, "", body, err) < 0 ? -EINVAL : 0;
}

static int need_body(const json_t *body, const char *name, struct cr_err *err)
{
    if (body)
        return 0;
    char key[64];
    cr_mj_body_key(key, sizeof(key), name);
    return cr_mj_err(err, "", key, "required for type %s", name);
}

/* ---------------------------------------------------------------- calls */

void cr_agent_call_init(struct cr_agent_call *c)
{
    memset(c, 0, sizeof(*c));
    cr_agent_info_init(&c->agent_info);
    c->address_port = AGENT_PORT_DEFAULT;
    cr_task_status_init(&c->status);
}

void cr_agent_call_release(struct cr_agent_call *c)
{
    if (!c)
        return;
    free(c->agent_id);
    cr_agent_info_release(&c->agent_info);
    free(c->address_ip);
    free(c->version);
    for (size_t i = 0; i < c->nframeworks; i++)
        cr_framework_info_release(&c->frameworks[i]);
    free(c->frameworks);
    for (size_t i = 0; i < c->ntasks; i++) {
        free(c->tasks[i].framework_id);
        cr_task_info_release(&c->tasks[i].task);
        cr_task_status_release(&c->tasks[i].latest_status);
    }
    free(c->tasks);
    free(c->framework_id);
    cr_task_status_release(&c->status);
    cr_agent_call_init(c);
}

static int parse_agent_task(const json_t *t, const char *p, struct cr_agent_task *out,
                            struct cr_err *err)
{
    if (!json_is_object(t))
        return cr_mj_type_err(err, p, NULL, "an object", t);
    int rc;
    if ((rc = cr_mj_required_id(t, "framework_id", p, &out->framework_id, err)) < 0)
        return rc;
    json_t *v = NULL;
    if ((rc = cr_mj_required_object(t, "task", p, &v, err)) < 0)
        return rc;
    char sp[CR_MJ_PATH_MAX];
    if ((rc = cr_mj_parse_task_info_lenient(v, cr_mj_path(sp, sizeof(sp), p, "task"), &out->task,
                                            err)) < 0)
        return rc;
    if ((rc = cr_mj_task_state(t, p, &out->state, err)) < 0)
        return rc;
    if ((rc = cr_mj_object(t, "latest_status", p, &v, err)) < 0)
        return rc;
    if (rc == 1) {
        if ((rc = cr_parse_task_status(v, cr_mj_path(sp, sizeof(sp), p, "latest_status"),
                                       &out->latest_status, err)) < 0)
            return rc;
        out->has_latest_status = true;
    }
    return 0;
}

static int call_subscribe(const json_t *body, struct cr_agent_call *c, struct cr_err *err)
{
    const char *p = "subscribe";
    char sp[CR_MJ_PATH_MAX], ep[CR_MJ_PATH_MAX];
    json_t *v = NULL;
    int rc = cr_mj_required_object(body, "agent_info", p, &v, err);
    if (rc < 0)
        return rc;
    if ((rc = cr_parse_agent_info(v, cr_mj_path(sp, sizeof(sp), p, "agent_info"), &c->agent_info,
                                  err)) < 0)
        return rc;
    if ((rc = cr_mj_object(body, "address", p, &v, err)) < 0)
        return rc;
    if (rc == 1) {
        cr_mj_path(sp, sizeof(sp), p, "address");
        int64_t port = c->address_port;
        if ((rc = cr_mj_string_dup(v, "ip", sp, &c->address_ip, err)) < 0 ||
            (rc = cr_mj_int64(v, "port", sp, &port, err)) < 0)
            return rc;
        if (port < 0 || port > 65535)
            return cr_mj_err(err, sp, "port", "%lld is not a port", (long long)port);
        c->address_port = (int)port;
    }
    if ((rc = cr_mj_string_dup(body, "version", p, &c->version, err)) < 0)
        return rc;

    json_t *arr = NULL;
    if ((rc = cr_mj_array(body, "frameworks", p, &arr, err)) < 0)
        return rc;
    size_t n = arr ? json_array_size(arr) : 0;
    c->frameworks = n ? cr_xcalloc(n, sizeof(*c->frameworks)) : NULL;
    cr_mj_path(sp, sizeof(sp), p, "frameworks");
    for (size_t i = 0; i < n; i++) {
        rc =
            cr_parse_framework_info(json_array_get(arr, i), cr_mj_path_index(ep, sizeof(ep), sp, i),
                                    &c->frameworks[i], err);
        if (rc < 0)
            return rc;
        c->nframeworks = i + 1;
    }

    if ((rc = cr_mj_array(body, "tasks", p, &arr, err)) < 0)
        return rc;
    n = rc == 1 ? json_array_size(arr) : 0;
    c->tasks = n ? cr_xcalloc(n, sizeof(*c->tasks)) : NULL;
    cr_mj_path(sp, sizeof(sp), p, "tasks");
    for (size_t i = 0; i < n; i++) {
        struct cr_agent_task *t = &c->tasks[i];
        cr_task_info_init(&t->task);
        cr_task_status_init(&t->latest_status);
        c->ntasks = i + 1;
        rc = parse_agent_task(json_array_get(arr, i), cr_mj_path_index(ep, sizeof(ep), sp, i), t,
                              err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int call_update(const json_t *body, struct cr_agent_call *c, struct cr_err *err)
{
    int rc = cr_mj_required_id(body, "framework_id", "update", &c->framework_id, err);
    if (rc < 0)
        return rc;
    json_t *v = NULL;
    if ((rc = cr_mj_required_object(body, "status", "update", &v, err)) < 0)
        return rc;
    if ((rc = cr_parse_task_status(v, "update.status", &c->status, err)) < 0)
        return rc;
    if (!c->status.has_uuid)
        return cr_mj_err(err, "update.status", "uuid",
                         "required: agent status updates are acknowledged by uuid");
    return 0;
}

static int parse_call(const json_t *root, struct cr_agent_call *c, struct cr_err *err)
{
    int type = 0;
    json_t *body = NULL;
    int rc = envelope(root, CALL_NAMES, N_CALL_NAMES, &type, &body, err);
    if (rc < 0)
        return rc;
    c->type = (enum cr_agent_call_type)type;
    if ((rc = cr_mj_id(root, "agent_id", "", &c->agent_id, err)) < 0)
        return rc;
    switch (c->type) {
    case CR_AGENT_CALL_SUBSCRIBE:
        if ((rc = need_body(body, "SUBSCRIBE", err)) < 0)
            return rc;
        return call_subscribe(body, c, err);
    case CR_AGENT_CALL_UPDATE:
        if (!c->agent_id)
            return cr_mj_err(err, "", "agent_id", "required for type UPDATE");
        if ((rc = need_body(body, "UPDATE", err)) < 0)
            return rc;
        return call_update(body, c, err);
    case CR_AGENT_CALL_PONG:
        if (!c->agent_id)
            return cr_mj_err(err, "", "agent_id", "required for type PONG");
        return 0;
    case CR_AGENT_CALL_UNKNOWN:
        return 0;
    }
    return 0;
}

int cr_parse_agent_call(const char *body, size_t len, struct cr_agent_call *out, struct cr_err *err)
{
    cr_agent_call_init(out);
    json_t *root = cr_json_parse_object(body, len, err);
    if (!root)
        return -EINVAL;
    int rc = parse_call(root, out, err);
    json_decref(root);
    if (rc < 0) {
        cr_agent_call_release(out);
        return -EINVAL;
    }
    return 0;
}

json_t *cr_json_agent_call(const struct cr_agent_call *c)
{
    json_t *o = cr_mj_object_new();
    cr_mj_set(o, "type", cr_mj_str(cr_agent_call_name(c->type)));
    cr_mj_set(o, "agent_id", cr_json_id(c->agent_id));
    if (c->type == CR_AGENT_CALL_SUBSCRIBE) {
        json_t *b = cr_mj_object_new();
        cr_mj_set(b, "agent_info", cr_json_agent_info(&c->agent_info));
        json_t *addr = cr_mj_object_new();
        cr_mj_set(addr, "ip", cr_mj_str(c->address_ip));
        cr_mj_set(addr, "port", cr_mj_int(c->address_port));
        cr_mj_set(b, "address", addr);
        cr_mj_set(b, "version", cr_mj_str(c->version));
        if (c->nframeworks) {
            json_t *fws = cr_mj_array_new();
            for (size_t i = 0; i < c->nframeworks; i++)
                cr_mj_append(fws, cr_json_framework_info(&c->frameworks[i]));
            cr_mj_set(b, "frameworks", fws);
        }
        if (c->ntasks) {
            json_t *tasks = cr_mj_array_new();
            for (size_t i = 0; i < c->ntasks; i++) {
                const struct cr_agent_task *t = &c->tasks[i];
                json_t *e = cr_mj_object_new();
                cr_mj_set(e, "framework_id", cr_json_id(t->framework_id ? t->framework_id : ""));
                cr_mj_set(e, "task", cr_json_task_info(&t->task, NULL));
                cr_mj_set(e, "state", cr_mj_str(cr_task_state_name(t->state)));
                if (t->has_latest_status)
                    cr_mj_set(e, "latest_status", cr_json_task_status(&t->latest_status));
                cr_mj_append(tasks, e);
            }
            cr_mj_set(b, "tasks", tasks);
        }
        cr_mj_set(o, "subscribe", b);
    } else if (c->type == CR_AGENT_CALL_UPDATE) {
        json_t *b = cr_mj_object_new();
        cr_mj_set(b, "framework_id", cr_json_id(c->framework_id ? c->framework_id : ""));
        cr_mj_set(b, "status", cr_json_task_status(&c->status));
        cr_mj_set(o, "update", b);
    }
    return o;
}

/* ---------------------------------------------------------------- events */

void cr_agent_event_init(struct cr_agent_event *e)
{
    memset(e, 0, sizeof(*e));
    cr_framework_info_init(&e->framework_info);
    cr_task_info_init(&e->task);
    e->kill_grace_ms = -1;
}

void cr_agent_event_release(struct cr_agent_event *e)
{
    if (!e)
        return;
    free(e->agent_id);
    json_decref(e->master_info);
    cr_framework_info_release(&e->framework_info);
    cr_task_info_release(&e->task);
    free(e->allocation_role);
    free(e->framework_id);
    free(e->task_id);
    free(e->message);
    cr_agent_event_init(e);
}

static int event_subscribed(const json_t *b, struct cr_agent_event *e, struct cr_err *err)
{
    const char *p = "subscribed";
    int rc = cr_mj_required_id(b, "agent_id", p, &e->agent_id, err);
    if (rc < 0)
        return rc;
    double ping = 0;
    if ((rc = cr_mj_double(b, "ping_interval_seconds", p, &ping, err)) < 0)
        return rc;
    if (!isfinite(ping) || ping < 0)
        return cr_mj_err(err, p, "ping_interval_seconds", "must be a non-negative number");
    e->ping_interval_seconds = ping;
    json_t *mi = NULL;
    if ((rc = cr_mj_object(b, "master_info", p, &mi, err)) < 0)
        return rc;
    if (mi)
        e->master_info = cr_mj_copy_clean(mi);
    return 0;
}

static int event_launch(const json_t *b, struct cr_agent_event *e, struct cr_err *err)
{
    const char *p = "launch";
    json_t *v = NULL;
    int rc = cr_mj_required_object(b, "framework_info", p, &v, err);
    if (rc < 0)
        return rc;
    if ((rc = cr_parse_framework_info(v, "launch.framework_info", &e->framework_info, err)) < 0)
        return rc;
    if ((rc = cr_mj_required_object(b, "task", p, &v, err)) < 0)
        return rc;
    if ((rc = cr_mj_parse_task_info_lenient(v, "launch.task", &e->task, err)) < 0)
        return rc;
    /* The allocation role rides on the resources (all of one task share it). */
    json_t *res = cr_mj_field(v, "resources");
    size_t i;
    json_t *r;
    json_array_foreach(res, i, r)
    {
        const char *role =
            json_string_value(cr_mj_field(cr_mj_field(r, "allocation_info"), "role"));
        if (role) {
            e->allocation_role = cr_xstrdup(role);
            break;
        }
    }
    return 0;
}

static int event_kill(const json_t *b, struct cr_agent_event *e, struct cr_err *err)
{
    const char *p = "kill";
    int rc;
    if ((rc = cr_mj_required_id(b, "framework_id", p, &e->framework_id, err)) < 0 ||
        (rc = cr_mj_required_id(b, "task_id", p, &e->task_id, err)) < 0)
        return rc;
    return cr_mj_kill_policy(b, p, &e->kill_grace_ms, err);
}

static int event_acknowledged(const json_t *b, struct cr_agent_event *e, struct cr_err *err)
{
    const char *p = "acknowledged";
    int rc;
    if ((rc = cr_mj_required_id(b, "framework_id", p, &e->framework_id, err)) < 0 ||
        (rc = cr_mj_required_id(b, "task_id", p, &e->task_id, err)) < 0)
        return rc;
    if ((rc = cr_mj_uuid(b, "uuid", p, e->uuid, err)) < 0)
        return rc;
    return rc == 0 ? cr_mj_missing(err, p, "uuid") : 0;
}

static int parse_event(const json_t *root, struct cr_agent_event *e, struct cr_err *err)
{
    int type = 0;
    json_t *body = NULL;
    int rc = envelope(root, EVENT_NAMES, N_EVENT_NAMES, &type, &body, err);
    if (rc < 0)
        return rc;
    e->type = (enum cr_agent_event_type)type;
    if (e->type != CR_AGENT_EVENT_PING && e->type != CR_AGENT_EVENT_UNKNOWN &&
        (rc = need_body(body, EVENT_NAMES[type], err)) < 0)
        return rc;
    switch (e->type) {
    case CR_AGENT_EVENT_SUBSCRIBED:
        return event_subscribed(body, e, err);
    case CR_AGENT_EVENT_LAUNCH:
        return event_launch(body, e, err);
    case CR_AGENT_EVENT_KILL:
        return event_kill(body, e, err);
    case CR_AGENT_EVENT_SHUTDOWN_FRAMEWORK:
        return cr_mj_required_id(body, "framework_id", "shutdown_framework", &e->framework_id, err);
    case CR_AGENT_EVENT_ACKNOWLEDGED:
        return event_acknowledged(body, e, err);
    case CR_AGENT_EVENT_ERROR:
        return cr_mj_required_string_dup(body, "message", "error", &e->message, err);
    case CR_AGENT_EVENT_PING:
    case CR_AGENT_EVENT_UNKNOWN:
        return 0;
    }
    return 0;
}

int cr_parse_agent_event(const char *body, size_t len, struct cr_agent_event *out,
                         struct cr_err *err)
{
    cr_agent_event_init(out);
    json_t *root = cr_json_parse_object(body, len, err);
    if (!root)
        return -EINVAL;
    int rc = parse_event(root, out, err);
    json_decref(root);
    if (rc < 0) {
        cr_agent_event_release(out);
        return -EINVAL;
    }
    return 0;
}

json_t *cr_agent_event_subscribed(const char *agent_id, double ping_interval_seconds,
                                  const struct cr_master_info *mi)
{
    json_t *b = cr_mj_object_new();
    cr_mj_set(b, "agent_id", cr_json_id(agent_id ? agent_id : ""));
    cr_mj_set(b, "ping_interval_seconds", cr_mj_real(ping_interval_seconds));
    if (mi)
        cr_mj_set(b, "master_info", cr_json_master_info(mi));
    return cr_event("SUBSCRIBED", b);
}

json_t *cr_agent_event_launch(const struct cr_framework_info *fi, const struct cr_task_info *task,
                              const char *allocation_role)
{
    struct cr_res_style style = {.allocation_role = allocation_role, .refinement = false};
    json_t *b = cr_mj_object_new();
    cr_mj_set(b, "framework_info", cr_json_framework_info(fi));
    cr_mj_set(b, "task", cr_json_task_info(task, &style));
    return cr_event("LAUNCH", b);
}

json_t *cr_agent_event_kill(const char *framework_id, const char *task_id, int64_t kill_grace_ms)
{
    json_t *b = cr_mj_object_new();
    cr_mj_set(b, "framework_id", cr_json_id(framework_id ? framework_id : ""));
    cr_mj_set(b, "task_id", cr_json_id(task_id ? task_id : ""));
    cr_mj_set(b, "kill_policy", cr_mj_kill_policy_new(kill_grace_ms));
    return cr_event("KILL", b);
}

json_t *cr_agent_event_shutdown_framework(const char *framework_id)
{
    json_t *b = cr_mj_object_new();
    cr_mj_set(b, "framework_id", cr_json_id(framework_id ? framework_id : ""));
    return cr_event("SHUTDOWN_FRAMEWORK", b);
}

json_t *cr_agent_event_acknowledged(const char *framework_id, const char *task_id,
                                    const unsigned char uuid[16])
{
    json_t *b = cr_mj_object_new();
    cr_mj_set(b, "framework_id", cr_json_id(framework_id ? framework_id : ""));
    cr_mj_set(b, "task_id", cr_json_id(task_id ? task_id : ""));
    cr_mj_set(b, "uuid", cr_mj_base64(uuid, 16));
    return cr_event("ACKNOWLEDGED", b);
}

json_t *cr_agent_event_ping(void)
{
    return cr_event("PING", NULL);
}

json_t *cr_agent_event_error(const char *message)
{
    return cr_event_error(message);
}
