/*
 * http.c - the agent's HTTP endpoints: routing, /state (Mesos agent state JSON with the
 * legacy shapes of API-COMPAT §4.3), /health, and the files API (files.c).
 *
 *   GET /state, /state.json, /slave(1)/state, /slave(1)/state.json
 *   GET /health, /slave(1)/health                   -> 200, empty
 *   GET /files/browse[.json]?path=DIR
 *   GET /files/read[.json]?path=FILE&offset=N&length=N
 * JSON answers honour ?jsonp=callback. Unknown paths answer 404, other methods 405.
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

#include "agent/agent_internal.h"
#include "agent/files.h"
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
    bool known = path_is(path, state_paths) || path_is(path, health_paths) ||
                 path_is(path, browse_paths) || path_is(path, read_paths);
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
