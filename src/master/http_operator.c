/*
 * http_operator.c - the operator API (POST /api/v1, API-COMPAT.md §4.1) and the legacy
 * read-only GETs (/state, /master/state, /master/state.json, /version, /health,
 * /master/frameworks, /master/slaves, /master/tasks, /metrics/snapshot, /master/redirect).
 * Calls that change the cluster: KILL_TASK, TEARDOWN, UPDATE_WEIGHTS and MARK_AGENT_GONE
 * (agents.c does the removal; the answer waits for the registry).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "master/master_impl.h"

static bool jsonp_name_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '$' && *s != '.')
            return false;
    return true;
}

void http_respond_json(struct cr_http_req *req, int status, json_t *body)
{
    char *text = cr_json_dump(body);
    json_decref(body);
    if (!text) {
        cr_http_respondf(req, 500, "out of memory");
        return;
    }
    const char *cb = cr_http_req_query(req, "jsonp");
    if (cb && jsonp_name_ok(cb)) {
        char *wrapped = cr_xasprintf("%s(%s);", cb, text);
        cr_http_respond(req, status, "text/javascript", wrapped, strlen(wrapped));
        free(wrapped);
    } else {
        cr_http_respond(req, status, "application/json", text, strlen(text));
    }
    free(text);
}

static json_t *version_json(struct cr_master *m)
{
    json_t *v = json_object();
    json_object_set_new(v, "version", json_string(CR_MESOS_VERSION));
    json_object_set_new(v, "build_date", json_string(__DATE__ " " __TIME__));
    json_object_set_new(v, "build_time", json_real(m->start_time));
    json_object_set_new(v, "build_user", json_string("corral"));
    json_object_set_new(v, "corral_version", json_string(CR_VERSION));
    return v;
}

static json_t *metrics_json(struct cr_master *m)
{
    json_t *j = json_object();
    json_object_set_new(j, "master/elected", json_real(m->ready ? 1.0 : 0.0));
    json_object_set_new(j, "master/uptime_secs", json_real(cr_wall_seconds() - m->start_time));
    size_t active = 0, inactive = 0, unreachable = 0;
    size_t it = 0;
    void *v;
    struct cr_resources total, used;
    cr_resources_init(&total);
    cr_resources_init(&used);
    while (cr_map_next(&m->agents, &it, NULL, &v)) {
        struct agent *a = v;
        if (a->unreachable) {
            unreachable++;
            continue;
        }
        a->connected ? active++ : inactive++;
        cr_resources_add(&total, &a->info.resources);
        tasks_sum_held(&a->tasks, NULL, &used);
    }
    json_object_set_new(j, "master/slaves_active", json_real((double)active));
    json_object_set_new(j, "master/slaves_inactive", json_real((double)inactive));
    json_object_set_new(j, "master/slaves_connected", json_real((double)active));
    json_object_set_new(j, "master/slaves_disconnected", json_real((double)inactive));
    json_object_set_new(j, "master/slaves_unreachable", json_real((double)unreachable));
    json_object_set_new(j, "master/slaves_removed",
                        json_real((double)cr_map_count(&m->removed_agents)));
    json_object_set_new(j, "master/slave_removals", json_real((double)m->agent_removals));
    size_t fa = 0, fi = 0;
    it = 0;
    while (cr_map_next(&m->frameworks, &it, NULL, &v)) {
        struct fw *fw = v;
        fw->connected ? fa++ : fi++;
    }
    json_object_set_new(j, "master/frameworks_active", json_real((double)fa));
    json_object_set_new(j, "master/frameworks_inactive", json_real((double)fi));
    json_object_set_new(j, "master/frameworks_connected", json_real((double)fa));
    json_object_set_new(j, "master/frameworks_disconnected", json_real((double)fi));
    json_object_set_new(j, "master/outstanding_offers", json_real((double)offers_count(m)));
    static const char *const res[] = {"cpus", "mem", "disk", "gpus"};
    for (size_t i = 0; i < 4; i++) {
        double tot = cr_milli_to_double(cr_resources_scalar(&total, res[i]));
        double use = cr_milli_to_double(cr_resources_scalar(&used, res[i]));
        char key[64];
        snprintf(key, sizeof(key), "master/%s_total", res[i]);
        json_object_set_new(j, key, json_real(tot));
        snprintf(key, sizeof(key), "master/%s_used", res[i]);
        json_object_set_new(j, key, json_real(use));
        snprintf(key, sizeof(key), "master/%s_percent", res[i]);
        json_object_set_new(j, key, json_real(tot > 0 ? use / tot : 0.0));
    }
    cr_resources_release(&total);
    cr_resources_release(&used);
    for (int s = 0; s < CR_TASK_STATE_COUNT; s++) {
        const char *name = cr_task_state_name((enum cr_task_state)s);
        char key[64];
        snprintf(key, sizeof(key), "master/tasks_%s", name + 5);
        for (char *p = key; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        json_object_set_new(j, key, json_real((double)m->tasks_by_state[s]));
    }
    json_object_set_new(j, "master/valid_status_updates",
                        json_real((double)m->valid_status_updates));
    json_object_set_new(j, "master/invalid_status_updates",
                        json_real((double)m->invalid_status_updates));
    return j;
}

/* ---------------------------------------------------------------- POST /api/v1 */

static json_t *wrap(const char *type, json_t *body)
{
    return cr_event(type, body);
}

static void kill_task(struct cr_master *m, struct cr_http_req *req, json_t *call)
{
    json_t *kt = json_object_get(call, "kill_task");
    struct cr_err err;
    cr_err_clear(&err);
    char *task_id = NULL, *fw_id = NULL;
    if (!json_is_object(kt) || cr_parse_id(kt, "task_id", "kill_task", &task_id, &err) < 0 ||
        !task_id || cr_parse_id(kt, "framework_id", "kill_task", &fw_id, &err) < 0) {
        cr_http_respondf(req, 400, "Failed to validate master::Call: %s",
                         err.msg[0] ? err.msg : "kill_task.task_id: required field missing");
        free(task_id);
        free(fw_id);
        return;
    }
    struct fw *fw = NULL;
    struct task *t = NULL;
    if (fw_id) {
        fw = fw_find(m, fw_id);
        t = fw ? cr_map_get(&fw->tasks, task_id) : NULL;
    } else {
        t = task_find_any(m, task_id, &fw);
    }
    if (!t) {
        cr_http_respondf(req, 404, "No running task '%s'", task_id);
    } else if (cr_task_state_is_terminal(t->state)) {
        cr_http_respondf(req, 409, "Task '%s' is already %s", task_id,
                         cr_task_state_name(t->state));
    } else {
        cr_http_respond(req, 202, NULL, NULL, 0);
        CR_INFO("operator kills task task=%s framework=%s", task_id, fw->id);
        task_kill(m, fw, task_id, t->info.agent_id, -1);
    }
    free(task_id);
    free(fw_id);
}

/* Answers once everything written before it (the framework's removal) is durable. */
static void teardown_durable(struct cr_state *st, int status, const char *msg, void *ud)
{
    if (status < 0)
        cr_http_respondf(ud, 503, "Failed to remove the framework from the registry: %s", msg);
    else
        cr_http_respond(ud, 200, NULL, NULL, 0);
}

static void teardown(struct cr_master *m, struct cr_http_req *req, json_t *call)
{
    json_t *td = json_object_get(call, "teardown");
    struct cr_err err;
    cr_err_clear(&err);
    char *fw_id = NULL;
    if (!json_is_object(td) || cr_parse_id(td, "framework_id", "teardown", &fw_id, &err) < 0 ||
        !fw_id) {
        cr_http_respondf(req, 400, "Failed to validate master::Call: %s",
                         err.msg[0] ? err.msg : "teardown.framework_id: required field missing");
        free(fw_id);
        return;
    }
    struct fw *fw = fw_find(m, fw_id);
    if (!fw) {
        cr_http_respondf(req, 400, "Framework '%s' not found", fw_id);
    } else if (fw->local) {
        cr_http_respondf(req, 400,
                         "Framework '%s' is the master's built-in apps orchestrator; delete "
                         "its apps (DELETE /v2/apps/<id>) instead",
                         fw_id);
    } else {
        fw_teardown(m, fw, "teardown requested by the operator");
        cr_state_write(m->state, NULL, 0, teardown_durable, req);
    }
    free(fw_id);
}

static void mark_gone_committed(struct cr_master *m, int rc, const char *msg, void *ud)
{
    if (rc < 0)
        cr_http_respondf(ud, 503, "Failed to store the agent's removal in the registry: %s", msg);
    else
        cr_http_respond(ud, 200, NULL, NULL, 0);
}

/* MARK_AGENT_GONE: the operator asserts the machine is gone for good (Mesos 1.5). */
static void mark_agent_gone(struct cr_master *m, struct cr_http_req *req, json_t *call)
{
    json_t *mg = json_object_get(call, "mark_agent_gone");
    struct cr_err err;
    cr_err_clear(&err);
    char *agent_id = NULL;
    if (!json_is_object(mg) ||
        cr_parse_id(mg, "agent_id", "mark_agent_gone", &agent_id, &err) < 0 || !agent_id) {
        cr_http_respondf(req, 400, "Failed to validate master::Call: %s",
                         err.msg[0] ? err.msg : "mark_agent_gone.agent_id: required field missing");
        free(agent_id);
        return;
    }
    struct agent *a = agent_find(m, agent_id);
    if (a) {
        CR_INFO("operator marks agent gone agent=%s hostname=%s", a->id, a->info.hostname);
        agent_remove(m, a, true, mark_gone_committed, req);
    } else if (agent_find_removed(m, agent_id)) {
        cr_http_respond(req, 200, NULL, NULL, 0); /* already gone: nothing to do */
    } else {
        cr_http_respondf(req, 404, "Agent '%s' not found", agent_id);
    }
    free(agent_id);
}

void http_operator(struct cr_master *m, struct cr_http_req *req)
{
    if (!http_check_post_json(req))
        return;
    size_t len;
    const char *body = cr_http_req_body(req, &len);
    struct cr_err err;
    cr_err_clear(&err);
    json_t *call = cr_json_parse_object(body, len, &err);
    if (!call) {
        cr_http_respondf(req, 400, "Failed to parse body into JSON: %s", err.msg);
        return;
    }
    json_t *jtype = json_object_get(call, "type");
    const char *type = json_string_value(jtype);
    if (!type) {
        cr_http_respondf(req, 400, "Failed to validate master::Call: type: %s",
                         jtype ? "expected a string" : "required field missing");
    } else if (strcmp(type, "GET_HEALTH") == 0) {
        json_t *b = json_object();
        json_object_set_new(b, "healthy", json_true());
        http_respond_json(req, 200, wrap(type, b));
    } else if (strcmp(type, "GET_VERSION") == 0) {
        json_t *b = json_object();
        json_object_set_new(b, "version_info", version_json(m));
        http_respond_json(req, 200, wrap(type, b));
    } else if (strcmp(type, "GET_STATE") == 0) {
        http_respond_json(req, 200, wrap(type, state_json_get_state(m)));
    } else if (strcmp(type, "GET_AGENTS") == 0) {
        http_respond_json(req, 200, wrap(type, state_json_get_agents(m)));
    } else if (strcmp(type, "GET_FRAMEWORKS") == 0) {
        http_respond_json(req, 200, wrap(type, state_json_get_frameworks(m)));
    } else if (strcmp(type, "GET_TASKS") == 0) {
        http_respond_json(req, 200, wrap(type, state_json_get_tasks(m)));
    } else if (strcmp(type, "GET_EXECUTORS") == 0) {
        http_respond_json(req, 200, wrap(type, json_object()));
    } else if (strcmp(type, "GET_MASTER") == 0) {
        struct cr_master_info mi;
        master_master_info(m, &mi);
        json_t *b = json_object();
        json_object_set_new(b, "master_info", cr_json_master_info(&mi));
        json_object_set_new(b, "start_time", json_real(m->start_time));
        json_object_set_new(b, "elected_time", json_real(m->elected_time));
        http_respond_json(req, 200, wrap(type, b));
    } else if (strcmp(type, "GET_METRICS") == 0) {
        json_t *flat = metrics_json(m), *arr = json_array();
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
        json_t *b = json_object();
        json_object_set_new(b, "metrics", arr);
        http_respond_json(req, 200, wrap(type, b));
    } else if (strcmp(type, "GET_WEIGHTS") == 0) {
        json_t *b = json_object();
        json_object_set_new(b, "weight_infos", weights_json(m));
        http_respond_json(req, 200, wrap(type, b));
    } else if (strcmp(type, "UPDATE_WEIGHTS") == 0) {
        json_t *uw = json_object_get(call, "update_weights");
        if (!json_is_object(uw))
            cr_http_respondf(req, 400,
                             "Failed to validate master::Call: update_weights: "
                             "required for type UPDATE_WEIGHTS");
        else
            weights_update(m, req, json_object_get(uw, "weight_infos"),
                           "update_weights.weight_infos");
    } else if (strcmp(type, "GET_ROLES") == 0) {
        json_t *b = json_object();
        json_object_set_new(b, "roles", roles_json(m, false));
        http_respond_json(req, 200, wrap(type, b));
    } else if (strcmp(type, "KILL_TASK") == 0) {
        kill_task(m, req, call);
    } else if (strcmp(type, "TEARDOWN") == 0) {
        teardown(m, req, call);
    } else if (strcmp(type, "MARK_AGENT_GONE") == 0) {
        mark_agent_gone(m, req, call);
    } else {
        cr_http_respondf(req, 501, "Operator call '%s' is not supported by Corral yet", type);
    }
    json_decref(call);
}

/* ---------------------------------------------------------------- legacy GETs */

static json_t *filter_array(json_t *arr, const char *key, const char *value)
{
    if (!value)
        return json_incref(arr);
    json_t *out = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        const char *v = json_string_value(json_object_get(e, key));
        if (v && strcmp(v, value) == 0)
            json_array_append(out, e);
    }
    return out;
}

static json_t *legacy_tasks(struct cr_master *m, struct cr_http_req *req)
{
    json_t *state = state_json_legacy(m);
    json_t *all = json_array();
    size_t i;
    json_t *fw;
    const char *fw_filter = cr_http_req_query(req, "framework_id");
    const char *task_filter = cr_http_req_query(req, "task_id");
    json_array_foreach(json_object_get(state, "frameworks"), i, fw)
    {
        const char *fid = json_string_value(json_object_get(fw, "id"));
        if (fw_filter && (!fid || strcmp(fid, fw_filter) != 0))
            continue;
        json_array_extend(all, json_object_get(fw, "tasks"));
        json_array_extend(all, json_object_get(fw, "unreachable_tasks"));
        json_array_extend(all, json_object_get(fw, "completed_tasks"));
    }
    json_decref(state);
    json_t *filtered = filter_array(all, "id", task_filter);
    json_decref(all);
    long limit = 100, offset = 0;
    const char *q;
    if ((q = cr_http_req_query(req, "limit")))
        limit = strtol(q, NULL, 10);
    if ((q = cr_http_req_query(req, "offset")))
        offset = strtol(q, NULL, 10);
    bool asc = (q = cr_http_req_query(req, "order")) && strcmp(q, "asc") == 0;
    size_t n = json_array_size(filtered);
    json_t *page = json_array();
    for (long k = offset; k >= 0 && (size_t)k < n && (long)json_array_size(page) < limit; k++) {
        size_t idx = asc ? (size_t)k : n - 1 - (size_t)k;
        json_array_append(page, json_array_get(filtered, idx));
    }
    json_decref(filtered);
    json_t *j = json_object();
    json_object_set_new(j, "tasks", page);
    return j;
}

bool http_legacy(struct cr_master *m, struct cr_http_req *req)
{
    const char *path = cr_http_req_path(req);
    const char *method = cr_http_req_method(req);
    bool is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
#define IS(p) (strcmp(path, p) == 0)
    if (IS("/version") || IS("/master/version")) {
        if (!is_get)
            goto bad_method;
        http_respond_json(req, 200, version_json(m));
        return true;
    }
    if (IS("/state") || IS("/master/state") || IS("/master/state.json") || IS("/state.json")) {
        if (!is_get)
            goto bad_method;
        http_respond_json(req, 200, state_json_legacy(m));
        return true;
    }
    if (IS("/master/frameworks") || IS("/frameworks")) {
        if (!is_get)
            goto bad_method;
        json_t *state = state_json_legacy(m);
        const char *id = cr_http_req_query(req, "framework_id");
        json_t *j = json_object();
        json_object_set_new(j, "frameworks",
                            filter_array(json_object_get(state, "frameworks"), "id", id));
        json_object_set_new(j, "completed_frameworks",
                            filter_array(json_object_get(state, "completed_frameworks"), "id", id));
        json_object_set_new(j, "unregistered_frameworks", json_array());
        json_decref(state);
        http_respond_json(req, 200, j);
        return true;
    }
    if (IS("/master/slaves") || IS("/slaves")) {
        if (!is_get)
            goto bad_method;
        json_t *state = state_json_legacy(m);
        const char *id = cr_http_req_query(req, "slave_id");
        json_t *j = json_object();
        json_object_set_new(j, "slaves", filter_array(json_object_get(state, "slaves"), "id", id));
        json_object_set_new(j, "recovered_slaves",
                            filter_array(json_object_get(state, "recovered_slaves"), "id", id));
        json_decref(state);
        http_respond_json(req, 200, j);
        return true;
    }
    if (IS("/master/tasks") || IS("/tasks") || IS("/master/tasks.json")) {
        if (!is_get)
            goto bad_method;
        http_respond_json(req, 200, legacy_tasks(m, req));
        return true;
    }
    if (IS("/weights") || IS("/master/weights")) {
        if (strcmp(method, "PUT") == 0) {
            size_t len;
            const char *body = cr_http_req_body(req, &len);
            struct cr_err err;
            cr_err_clear(&err);
            json_error_t jerr;
            json_t *arr = json_loadb(body, len, 0, &jerr);
            if (!arr)
                cr_http_respondf(req, 400, "Failed to parse body into JSON: %s", jerr.text);
            else
                weights_update(m, req, arr, "weights");
            json_decref(arr);
            return true;
        }
        if (!is_get)
            goto bad_method;
        http_respond_json(req, 200, weights_json(m));
        return true;
    }
    if (IS("/roles") || IS("/master/roles")) {
        if (!is_get)
            goto bad_method;
        json_t *j = json_object();
        json_object_set_new(j, "roles", roles_json(m, true));
        http_respond_json(req, 200, j);
        return true;
    }
    if (IS("/metrics/snapshot")) {
        if (!is_get)
            goto bad_method;
        http_respond_json(req, 200, metrics_json(m));
        return true;
    }
    if (IS("/master/redirect") || IS("/redirect")) {
        char *loc = cr_xasprintf("//%s:%lld", m->advertised_ip, (long long)m->cfg.port);
        cr_http_req_add_header(req, "Location", loc);
        free(loc);
        cr_http_respond(req, 307, NULL, NULL, 0);
        return true;
    }
#undef IS
    return false;
bad_method:
    cr_http_req_add_header(req, "Allow", "GET");
    cr_http_respondf(req, 405, "Expecting 'GET', received '%s'", method);
    return true;
}
