/*
 * http.c - the agent's HTTP endpoints: routing, /state (Mesos agent state JSON with the
 * legacy shapes of API-COMPAT §4.3), /health, and the files API (files.c).
 *
 *   GET /state, /state.json, /slave(1)/state, /slave(1)/state.json
 *   GET /health, /slave(1)/health                   -> 200, empty
 *   GET /files/browse[.json]?path=DIR
 *   GET /files/read[.json]?path=FILE&offset=N&length=N
 *   GET /monitor/statistics[.json], /slave(1)/monitor/statistics[.json]  (monitor.c)
 *   GET /metrics/snapshot                                               (monitor.c)
 *   GET /version
 *   POST /api/v1, /slave(1)/api/v1   the v1 agent operator API (JSON only)
 * JSON answers honour ?jsonp=callback. Unknown paths answer 404, other methods 405.
 *
 * /api/v1 checks the envelope as the master's operator API does (API-COMPAT §0): POST
 * (else 405), Content-Type application/json (missing: 400, other: 415), an Accept that
 * allows JSON (else 406), a JSON object (else 400) with a string "type". Calls:
 * GET_HEALTH, GET_VERSION, GET_METRICS, GET_STATE, GET_TASKS, GET_EXECUTORS,
 * GET_FRAMEWORKS, GET_AGENT, GET_CONTAINERS. Another call type of Mesos' agent API answers
 * 501; a name Mesos does not know answers 400 naming it.
 *
 * /state shape: frameworks[] are those with active tasks; each command task is its own
 * executor (id = task id, directory = its sandbox) with the task under "tasks" while
 * active and under "completed_tasks" of a "completed_executors" entry once its terminal
 * update was acknowledged; frameworks left with only completed tasks are listed in
 * completed_frameworks[]. `corral logs` finds sandboxes this way.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/agent_internal.h"
#include "agent/files.h"
#include "agent/monitor.h"
#include "base/log.h"
#include "base/util.h"

#define MESOS_VERSION "1.11.0"

/* ------------------------------------------------------------------ answers */

static bool jsonp_name_ok(const char *s)
{
    if (!*s || strlen(s) > 128)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '$')
            return false;
    return true;
}

/* Answer 200 with body (reference stolen), as JSON or JSONP. */
static void respond_json(struct cr_http_req *req, json_t *body)
{
    char *text = cr_json_dump(body);
    json_decref(body);
    if (!text) {
        cr_http_respondf(req, 500, "Failed to encode the answer");
        return;
    }
    const char *cb = cr_http_req_query(req, "jsonp");
    if (cb) {
        if (!jsonp_name_ok(cb)) {
            free(text);
            cr_http_respondf(req, 400, "jsonp: '%s' is not a valid callback name", cb);
            return;
        }
        char *wrapped = cr_xasprintf("%s(%s);", cb, text);
        cr_http_respond(req, 200, "text/javascript", wrapped, strlen(wrapped));
        free(wrapped);
    } else {
        cr_http_respond(req, 200, "application/json", text, strlen(text));
    }
    free(text);
}

/* ------------------------------------------------------------------ /state */

static json_t *legacy_task(const struct cr_agent *a, const struct agent_task *t)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(t->task_id));
    json_object_set_new(o, "name", json_string(t->has_info ? t->info.name : t->task_id));
    json_object_set_new(o, "framework_id", json_string(t->framework_id));
    json_object_set_new(o, "executor_id", json_string(t->container_id ? t->task_id : ""));
    json_object_set_new(o, "slave_id", json_string(a->agent_id ? a->agent_id : ""));
    json_object_set_new(o, "state", json_string(cr_task_state_name(t->state)));
    struct cr_resources empty;
    cr_resources_init(&empty);
    json_object_set_new(o, "resources",
                        cr_json_resources_flat(t->has_info ? &t->info.resources : &empty));
    if (t->allocation_role)
        json_object_set_new(o, "role", json_string(t->allocation_role));
    else if (t->fw && t->fw->has_info && t->fw->info.nroles > 0)
        json_object_set_new(o, "role", json_string(t->fw->info.roles[0]));
    json_t *statuses = json_array();
    for (size_t i = 0; i < t->nstatuses; i++) {
        const struct cr_task_status *s = &t->statuses[i];
        json_t *so = json_object();
        json_object_set_new(so, "state", json_string(cr_task_state_name(s->state)));
        json_object_set_new(so, "timestamp", json_real(s->timestamp));
        if (s->container_id) {
            json_t *cs = json_object();
            json_object_set_new(cs, "container_id", cr_json_id(s->container_id));
            json_object_set_new(so, "container_status", cs);
        }
        json_array_append_new(statuses, so);
    }
    json_object_set_new(o, "statuses", statuses);
    if (t->user)
        json_object_set_new(o, "user", json_string(t->user));
    if (t->has_info && t->info.extra) {
        static const char *const copied[] = {"labels", "discovery", "container", "health_check"};
        for (size_t i = 0; i < sizeof(copied) / sizeof(copied[0]); i++) {
            json_t *v = json_object_get(t->info.extra, copied[i]);
            if (v)
                json_object_set(o, copied[i], v);
        }
    }
    return o;
}

/* The executor object of a command task (Mesos' legacy executor JSON). */
static json_t *legacy_executor(const struct cr_agent *a, const struct agent_task *t, bool completed)
{
    json_t *e = json_object();
    json_object_set_new(e, "id", json_string(t->task_id));
    char *name = cr_xasprintf("Command Executor (Task: %s) (Command: %s)", t->task_id,
                              t->has_info && t->info.command.value ? t->info.command.value : "");
    json_object_set_new(e, "name", json_string(name));
    free(name);
    json_object_set_new(e, "source", json_string(t->task_id));
    json_object_set_new(e, "container", json_string(t->container_id ? t->container_id : ""));
    json_object_set_new(e, "directory", json_string(t->directory ? t->directory : ""));
    json_object_set_new(e, "type", json_string("COMMAND"));
    json_object_set_new(e, "framework_id", json_string(t->framework_id));
    struct cr_resources empty;
    cr_resources_init(&empty);
    json_object_set_new(e, "resources",
                        cr_json_resources_flat(t->has_info ? &t->info.resources : &empty));
    json_t *tasks = json_array(), *done = json_array();
    json_array_append_new(completed ? done : tasks, legacy_task(a, t));
    json_object_set_new(e, "tasks", tasks);
    json_object_set_new(e, "queued_tasks", json_array());
    json_object_set_new(e, "completed_tasks", done);
    return e;
}

static json_t *legacy_framework(const struct agent_framework *fw)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(fw->id));
    if (fw->has_info) {
        const struct cr_framework_info *fi = &fw->info;
        json_object_set_new(o, "name", json_string(fi->name ? fi->name : ""));
        json_object_set_new(o, "user", json_string(fi->user ? fi->user : ""));
        json_object_set_new(o, "hostname", json_string(fi->hostname ? fi->hostname : ""));
        json_object_set_new(o, "failover_timeout", json_real(fi->failover_timeout));
        json_object_set_new(o, "checkpoint", json_boolean(fi->checkpoint));
        json_t *roles = json_array();
        for (size_t i = 0; i < fi->nroles; i++)
            json_array_append_new(roles, json_string(fi->roles[i]));
        if (fi->capabilities & CR_FWCAP_MULTI_ROLE)
            json_object_set_new(o, "roles", roles);
        else {
            json_object_set_new(o, "role", json_string(fi->nroles ? fi->roles[0] : "*"));
            json_decref(roles);
        }
        if (fi->principal)
            json_object_set_new(o, "principal", json_string(fi->principal));
    } else {
        json_object_set_new(o, "name", json_string(""));
    }
    json_object_set_new(o, "executors", json_array());
    json_object_set_new(o, "completed_executors", json_array());
    return o;
}

json_t *agent_state_json(const struct cr_agent *a)
{
    json_t *s = json_object();
    json_object_set_new(s, "version", json_string(MESOS_VERSION));
    json_object_set_new(s, "corral_version", json_string(CR_VERSION));
    json_object_set_new(s, "id", json_string(a->agent_id ? a->agent_id : ""));
    char *pid = cr_xasprintf("slave(1)@%s:%u", a->advertise_ip, a->port);
    json_object_set_new(s, "pid", json_string(pid));
    free(pid);
    json_object_set_new(s, "hostname", json_string(a->hostname));
    json_object_set_new(s, "port", json_integer(a->port));
    json_object_set_new(s, "start_time", json_real(a->start_time));
    json_object_set_new(s, "resources", cr_json_resources_flat(&a->resources));
    json_object_set_new(s, "attributes", cr_json_attributes_flat(&a->attributes));
    json_object_set_new(s, "master_hostname",
                        json_string(a->master_hostname ? a->master_hostname : ""));
    json_t *flags = json_object();
    json_object_set_new(flags, "master", json_string(a->opts.master ? a->opts.master : ""));
    json_object_set_new(flags, "work_dir", json_string(a->work_dir ? a->work_dir : ""));
    json_object_set_new(flags, "isolation", json_string(a->opts.isolation));
    json_object_set_new(flags, "ip", json_string(a->opts.ip));
    char port[16];
    snprintf(port, sizeof(port), "%u", a->port);
    json_object_set_new(flags, "port", json_string(port));
    json_object_set_new(s, "flags", flags);

    /* Frameworks keyed by id while the executors are filled in. */
    json_t *by_id = json_object();
    size_t it = 0;
    const char *key;
    void *value;
    while (cr_map_next(&a->frameworks, &it, &key, &value)) {
        const struct agent_framework *fw = value;
        json_object_set_new(by_id, fw->id, legacy_framework(fw));
    }
    for (const struct agent_task *t = a->tasks_head; t; t = t->next) {
        json_t *fo = json_object_get(by_id, t->framework_id);
        if (fo)
            json_array_append_new(json_object_get(fo, "executors"), legacy_executor(a, t, false));
    }
    for (size_t i = 0; i < a->ncompleted; i++) {
        const struct agent_task *t = agent_completed_at(a, i);
        json_t *fo = json_object_get(by_id, t->framework_id);
        if (fo)
            json_array_append_new(json_object_get(fo, "completed_executors"),
                                  legacy_executor(a, t, true));
    }
    json_t *frameworks = json_array(), *completed = json_array();
    it = 0;
    while (cr_map_next(&a->frameworks, &it, &key, &value)) {
        const struct agent_framework *fw = value;
        json_t *fo = json_object_get(by_id, fw->id);
        json_array_append(fw->nactive > 0 ? frameworks : completed, fo);
    }
    json_decref(by_id);
    json_object_set_new(s, "frameworks", frameworks);
    json_object_set_new(s, "completed_frameworks", completed);
    return s;
}

/* ------------------------------------------------------------------ /api/v1 */

static json_t *version_json(const struct cr_agent *a)
{
    json_t *v = json_object();
    json_object_set_new(v, "version", json_string(MESOS_VERSION));
    json_object_set_new(v, "build_date", json_string(__DATE__ " " __TIME__));
    json_object_set_new(v, "build_time", json_real(a->start_time));
    json_object_set_new(v, "build_user", json_string("corral"));
    json_object_set_new(v, "corral_version", json_string(CR_VERSION));
    return v;
}

/* A v1 Task of the agent's task t (mesos.v1.Task). */
static json_t *v1_task(const struct cr_agent *a, const struct agent_task *t)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(t->has_info ? t->info.name : t->task_id));
    json_object_set_new(o, "task_id", cr_json_id(t->task_id));
    json_object_set_new(o, "framework_id", cr_json_id(t->framework_id));
    if (t->container_id)
        json_object_set_new(o, "executor_id", cr_json_id(t->task_id));
    json_object_set_new(o, "agent_id", cr_json_id(a->agent_id ? a->agent_id : ""));
    json_object_set_new(o, "state", json_string(cr_task_state_name(t->state)));
    if (t->has_info) {
        struct cr_res_style style = {.allocation_role = t->allocation_role};
        json_object_set_new(o, "resources", cr_json_resources(&t->info.resources, &style));
    }
    if (t->nstatuses > 0)
        json_object_set_new(o, "statuses", cr_json_task_status_list(t->statuses, t->nstatuses));
    if (t->user)
        json_object_set_new(o, "user", json_string(t->user));
    if (t->has_info && t->info.extra) {
        static const char *const copied[] = {"labels", "discovery", "container", "health_check"};
        for (size_t i = 0; i < sizeof(copied) / sizeof(copied[0]); i++) {
            json_t *v = json_object_get(t->info.extra, copied[i]);
            if (v)
                json_object_set(o, copied[i], v);
        }
    }
    return o;
}

/* Append array to obj[key] only when it is non-empty (Mesos' repeated fields). */
static void set_nonempty(json_t *obj, const char *key, json_t *array)
{
    if (json_array_size(array) > 0)
        json_object_set_new(obj, key, array);
    else
        json_decref(array);
}

/* GetTasks: queued (not yet handed to the executor), launched, terminated (awaiting the
 * acknowledgement of their terminal update) and completed tasks. */
static json_t *v1_get_tasks(const struct cr_agent *a)
{
    json_t *queued = json_array(), *launched = json_array(), *terminated = json_array();
    json_t *completed = json_array();
    for (const struct agent_task *t = a->tasks_head; t; t = t->next) {
        json_t *target = cr_task_state_is_terminal(t->state) ? terminated
                         : t->launch_sent || t->task_pid > 0 ? launched
                                                             : queued;
        json_array_append_new(target, v1_task(a, t));
    }
    for (size_t i = 0; i < a->ncompleted; i++)
        json_array_append_new(completed, v1_task(a, agent_completed_at(a, i)));
    json_t *j = json_object();
    set_nonempty(j, "queued_tasks", queued);
    set_nonempty(j, "launched_tasks", launched);
    set_nonempty(j, "terminated_tasks", terminated);
    set_nonempty(j, "completed_tasks", completed);
    return j;
}

/* The ExecutorInfo of a command task's executor. */
static json_t *v1_executor(const struct agent_task *t)
{
    json_t *ei = json_object();
    json_object_set_new(ei, "executor_id", cr_json_id(t->task_id));
    json_object_set_new(ei, "framework_id", cr_json_id(t->framework_id));
    char *name = cr_xasprintf("Command Executor (Task: %s) (Command: %s)", t->task_id,
                              t->has_info && t->info.command.value ? t->info.command.value : "");
    json_object_set_new(ei, "name", json_string(name));
    free(name);
    json_object_set_new(ei, "source", json_string(t->task_id));
    json_t *e = json_object();
    json_object_set_new(e, "executor_info", ei);
    return e;
}

static json_t *v1_get_executors(const struct cr_agent *a)
{
    json_t *live = json_array(), *done = json_array();
    for (const struct agent_task *t = a->tasks_head; t; t = t->next)
        if (t->container_id)
            json_array_append_new(t->executor ? live : done, v1_executor(t));
    for (size_t i = 0; i < a->ncompleted; i++) {
        const struct agent_task *t = agent_completed_at(a, i);
        if (t->container_id)
            json_array_append_new(done, v1_executor(t));
    }
    json_t *j = json_object();
    set_nonempty(j, "executors", live);
    set_nonempty(j, "completed_executors", done);
    return j;
}

static json_t *v1_get_frameworks(const struct cr_agent *a)
{
    json_t *live = json_array(), *done = json_array();
    size_t it = 0;
    const char *key;
    void *value;
    while (cr_map_next(&a->frameworks, &it, &key, &value)) {
        const struct agent_framework *fw = value;
        json_t *info;
        if (fw->has_info) {
            info = cr_json_framework_info(&fw->info);
            json_object_set_new(info, "id", cr_json_id(fw->id));
        } else {
            info = json_object();
            json_object_set_new(info, "id", cr_json_id(fw->id));
        }
        json_t *f = json_object();
        json_object_set_new(f, "framework_info", info);
        json_array_append_new(fw->nactive > 0 ? live : done, f);
    }
    json_t *j = json_object();
    set_nonempty(j, "frameworks", live);
    set_nonempty(j, "completed_frameworks", done);
    return j;
}

static json_t *v1_get_agent(const struct cr_agent *a)
{
    /* Borrowed view of the agent's own fields: cr_json_agent_info only reads them. */
    struct cr_agent_info info = {
        .id = a->agent_id,
        .hostname = a->hostname,
        .port = a->port,
        .resources = a->resources,
        .attributes = a->attributes,
    };
    json_t *j = json_object();
    json_object_set_new(j, "agent_info", cr_json_agent_info(&info));
    return j;
}

static json_t *v1_get_metrics(struct cr_agent *a)
{
    json_t *flat = agent_metrics_snapshot(a), *arr = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(flat, k, v)
    {
        json_t *e = json_object();
        json_object_set_new(e, "name", json_string(k));
        json_object_set(e, "value", v);
        json_array_append_new(arr, e);
    }
    json_decref(flat);
    json_t *j = json_object();
    json_object_set_new(j, "metrics", arr);
    return j;
}

/* Calls of Mesos' v1 agent API that Corral does not serve (answered 501). */
static bool is_mesos_agent_call(const char *type)
{
    static const char *const known[] = {"GET_FLAGS",
                                        "GET_LOGGING_LEVEL",
                                        "SET_LOGGING_LEVEL",
                                        "LIST_FILES",
                                        "READ_FILE",
                                        "LAUNCH_NESTED_CONTAINER",
                                        "WAIT_NESTED_CONTAINER",
                                        "KILL_NESTED_CONTAINER",
                                        "REMOVE_NESTED_CONTAINER",
                                        "LAUNCH_NESTED_CONTAINER_SESSION",
                                        "ATTACH_CONTAINER_INPUT",
                                        "ATTACH_CONTAINER_OUTPUT",
                                        "LAUNCH_CONTAINER",
                                        "WAIT_CONTAINER",
                                        "KILL_CONTAINER",
                                        "REMOVE_CONTAINER",
                                        "ADD_RESOURCE_PROVIDER_CONFIG",
                                        "UPDATE_RESOURCE_PROVIDER_CONFIG",
                                        "REMOVE_RESOURCE_PROVIDER_CONFIG",
                                        "MARK_RESOURCE_PROVIDER_GONE",
                                        "GET_RESOURCE_PROVIDERS",
                                        "GET_OPERATIONS",
                                        "PRUNE_IMAGES",
                                        NULL};
    for (const char *const *k = known; *k; k++)
        if (strcmp(type, *k) == 0)
            return true;
    return false;
}

/* The media type of a Content-Type or Accept entry is json (parameters ignored). */
static bool media_is(const char *value, size_t n, const char *type)
{
    while (n > 0 && (*value == ' ' || *value == '\t'))
        value++, n--;
    while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
        n--;
    return n == strlen(type) && strncasecmp(value, type, n) == 0;
}

/* Does the Accept header allow JSON? Missing means anything. */
static bool accepts_json(const char *accept)
{
    if (!accept || !*accept)
        return true;
    for (const char *p = accept; *p;) {
        size_t n = strcspn(p, ",");
        size_t type_len = strcspn(p, ";,");
        if (media_is(p, type_len, "application/json") || media_is(p, type_len, "*/*") ||
            media_is(p, type_len, "application/*"))
            return true;
        p += n;
        if (*p == ',')
            p++;
    }
    return false;
}

/* Check the POST /api/v1 envelope; answers and returns false when it is wrong. */
static bool api_envelope_ok(struct cr_http_req *req)
{
    const char *method = cr_http_req_method(req);
    if (strcmp(method, "POST") != 0) {
        cr_http_req_add_header(req, "Allow", "POST");
        cr_http_respondf(req, 405, "Expecting 'POST', received '%s'\n", method);
        return false;
    }
    const char *ct = cr_http_req_header(req, "Content-Type");
    if (!ct) {
        cr_http_respondf(req, 400, "Expecting 'Content-Type' to be present\n");
        return false;
    }
    size_t type_len = strcspn(ct, ";");
    if (!media_is(ct, type_len, "application/json")) {
        if (media_is(ct, type_len, "application/x-protobuf"))
            cr_http_respondf(req, 415,
                             "Content-Type 'application/x-protobuf' is not supported by Corral; "
                             "use 'application/json'\n");
        else
            cr_http_respondf(req, 415,
                             "Expecting 'Content-Type' of application/json or "
                             "application/x-protobuf, received '%s'\n",
                             ct);
        return false;
    }
    if (!accepts_json(cr_http_req_header(req, "Accept"))) {
        cr_http_respondf(req, 406, "Expecting 'Accept' to allow 'application/json'\n");
        return false;
    }
    return true;
}

/* Answer {"type": type, "<type in lowercase>": body} (body stolen; NULL = no body). */
static void respond_call(struct cr_http_req *req, const char *type, json_t *body)
{
    json_t *r = json_object();
    json_object_set_new(r, "type", json_string(type));
    if (body) {
        char key[64];
        size_t i = 0;
        for (; type[i] && i + 1 < sizeof(key); i++)
            key[i] = (char)tolower((unsigned char)type[i]);
        key[i] = '\0';
        json_object_set_new(r, key, body);
    }
    respond_json(req, r);
}

/* POST /api/v1: the v1 agent operator API. */
static void agent_api(struct cr_agent *a, struct cr_http_req *req)
{
    if (!api_envelope_ok(req))
        return;
    size_t len;
    const char *text = cr_http_req_body(req, &len);
    struct cr_err err;
    cr_err_clear(&err);
    json_t *call = cr_json_parse_object(text ? text : "", text ? len : 0, &err);
    if (!call) {
        cr_http_respondf(req, 400, "Failed to parse body into JSON: %s\n", cr_err_msg(&err));
        return;
    }
    json_t *jtype = json_object_get(call, "type");
    const char *type = json_string_value(jtype);
    if (!type) {
        cr_http_respondf(req, 400, "Failed to validate agent::Call: type: %s\n",
                         jtype && !json_is_null(jtype) ? "expected a string"
                                                       : "required field missing");
    } else if (strcmp(type, "GET_HEALTH") == 0) {
        json_t *b = json_object();
        json_object_set_new(b, "healthy", json_true());
        respond_call(req, type, b);
    } else if (strcmp(type, "GET_VERSION") == 0) {
        json_t *b = json_object();
        json_object_set_new(b, "version_info", version_json(a));
        respond_call(req, type, b);
    } else if (strcmp(type, "GET_METRICS") == 0) {
        respond_call(req, type, v1_get_metrics(a));
    } else if (strcmp(type, "GET_CONTAINERS") == 0) {
        respond_call(req, type, agent_monitor_containers(a));
    } else if (strcmp(type, "GET_TASKS") == 0) {
        respond_call(req, type, v1_get_tasks(a));
    } else if (strcmp(type, "GET_EXECUTORS") == 0) {
        respond_call(req, type, v1_get_executors(a));
    } else if (strcmp(type, "GET_FRAMEWORKS") == 0) {
        respond_call(req, type, v1_get_frameworks(a));
    } else if (strcmp(type, "GET_AGENT") == 0) {
        respond_call(req, type, v1_get_agent(a));
    } else if (strcmp(type, "GET_STATE") == 0) {
        json_t *b = json_object();
        json_object_set_new(b, "get_tasks", v1_get_tasks(a));
        json_object_set_new(b, "get_executors", v1_get_executors(a));
        json_object_set_new(b, "get_frameworks", v1_get_frameworks(a));
        respond_call(req, type, b);
    } else if (is_mesos_agent_call(type)) {
        cr_http_respondf(req, 501, "Agent call '%s' is not supported by Corral yet\n", type);
    } else {
        cr_http_respondf(req, 400, "Failed to validate agent::Call: unknown call type '%s'\n",
                         type);
    }
    json_decref(call);
}

/* ------------------------------------------------------------------ routing */

static bool path_is(const char *path, const char *const *names)
{
    for (; *names; names++)
        if (strcmp(path, *names) == 0)
            return true;
    return false;
}

static void files_answer(struct cr_http_req *req, int rc, json_t *body, const struct cr_err *err)
{
    if (rc == 0) {
        respond_json(req, body);
        return;
    }
    int status = cr_files_http_status(rc);
    if (status == 500)
        CR_WARN("files request failed path=%s error=\"%s\"", cr_http_req_path(req),
                cr_err_msg(err));
    cr_http_respondf(req, status, "%s\n", cr_err_msg(err));
}

void agent_http_handle(struct cr_http_req *req, void *ud)
{
    struct cr_agent *a = ud;
    const char *path = cr_http_req_path(req);
    static const char *const state_paths[] = {"/state", "/state.json", "/slave(1)/state",
                                              "/slave(1)/state.json", NULL};
    static const char *const health_paths[] = {"/health", "/slave(1)/health", NULL};
    static const char *const browse_paths[] = {"/files/browse", "/files/browse.json", NULL};
    static const char *const read_paths[] = {"/files/read", "/files/read.json", NULL};
    static const char *const stats_paths[] = {"/monitor/statistics", "/monitor/statistics.json",
                                              "/slave(1)/monitor/statistics",
                                              "/slave(1)/monitor/statistics.json", NULL};
    static const char *const metrics_paths[] = {"/metrics/snapshot", NULL};
    static const char *const version_paths[] = {"/version", NULL};
    static const char *const api_paths[] = {"/api/v1", "/slave(1)/api/v1", NULL};
    if (path_is(path, api_paths)) {
        agent_api(a, req);
        return;
    }
    bool known = path_is(path, state_paths) || path_is(path, health_paths) ||
                 path_is(path, browse_paths) || path_is(path, read_paths) ||
                 path_is(path, stats_paths) || path_is(path, metrics_paths) ||
                 path_is(path, version_paths);
    if (!known) {
        cr_http_respondf(req, 404, "No endpoint '%s' on this agent\n", path);
        return;
    }
    const char *method = cr_http_req_method(req);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        cr_http_req_add_header(req, "Allow", "GET");
        cr_http_respondf(req, 405, "Expecting 'GET', received '%s'\n", method);
        return;
    }
    if (path_is(path, health_paths)) {
        cr_http_respond(req, 200, NULL, NULL, 0);
        return;
    }
    if (path_is(path, state_paths)) {
        respond_json(req, agent_state_json(a));
        return;
    }
    if (path_is(path, stats_paths)) {
        respond_json(req, agent_monitor_statistics(a));
        return;
    }
    if (path_is(path, metrics_paths)) {
        respond_json(req, agent_metrics_snapshot(a));
        return;
    }
    if (path_is(path, version_paths)) {
        respond_json(req, version_json(a));
        return;
    }
    struct cr_err err;
    cr_err_clear(&err);
    json_t *body = NULL;
    int rc;
    if (path_is(path, browse_paths))
        rc = cr_files_browse(a->work_dir, cr_http_req_query(req, "path"), &body, &err);
    else
        rc = cr_files_read(a->work_dir, cr_http_req_query(req, "path"),
                           cr_http_req_query(req, "offset"), cr_http_req_query(req, "length"),
                           &body, &err);
    files_answer(req, rc, body, &err);
}
