/*
 * agents.c - the master's side of the agent protocol (docs/protocol.md): admission
 * (SUBSCRIBE, committed to the registry first), re-registration with task adoption,
 * status UPDATEs, PING/PONG liveness, disconnection, the unreachable mark and removal.
 *
 * An agent's life as Mesos defines it (API-COMPAT.md §2): admitted -> (disconnected) ->
 * unreachable after --agent-ping-misses silent intervals (tasks TASK_UNREACHABLE, kept) ->
 * removed after --agent-removal-timeout more, or at once by the operator's MARK_AGENT_GONE
 * (tasks TASK_GONE / TASK_GONE_BY_OPERATOR, completed). A removed agent is forgotten but
 * for a small record (m->removed_agents, registry table "removed_agents"): if it comes
 * back its SUBSCRIBE is answered 410 Gone, upon which the agent shuts every old task down
 * and registers again without an id, as a new agent.
 *
 * Invariant: an agent is in the allocator exactly while it is admitted and not
 * unreachable; it is active there only while its stream is connected. No id is both in
 * m->agents and in m->removed_agents.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "master/master_impl.h"

#define TABLE "agents"
#define REMOVED_TABLE "removed_agents"

struct agent *agent_find(struct cr_master *m, const char *id)
{
    return id ? cr_map_get(&m->agents, id) : NULL;
}

static void agent_disconnected(struct cr_master *m, struct agent *a);

static void check_send(struct agent *a, int rc)
{
    if (rc == -ENOBUFS) {
        CR_WARN("agent does not read its event stream; dropping it agent=%s", a->id);
        agent_disconnected(a->m, a);
    } else if (rc < 0) {
        CR_DEBUG("event to a closed agent stream dropped agent=%s", a->id);
    }
}

void agent_send(struct agent *a, json_t *event)
{
    if (!a->connected || !a->stream) {
        json_decref(event);
        return;
    }
    check_send(a, master_stream_send(a->stream, event));
}

static void agent_send_record(struct agent *a, const char *record, size_t len)
{
    if (a->connected && a->stream)
        check_send(a, master_stream_send_record(a->stream, record, len));
}

void agent_send_pending_kills(struct agent *a)
{
    size_t it = 0;
    void *v;
    while (cr_map_next(&a->tasks, &it, NULL, &v)) {
        struct task *t = v;
        if (!t->kill_pending || !a->connected)
            continue;
        t->kill_pending = false;
        if (cr_task_state_is_terminal(t->state))
            continue;
        int64_t g = t->kill_grace_ms >= 0 ? t->kill_grace_ms : t->info.kill_grace_ms;
        agent_send(a, cr_agent_event_kill(t->framework_id, t->info.task_id, g));
        CR_INFO("sending a kill that waited for the agent task=%s agent=%s", t->info.task_id,
                a->id);
    }
}

static struct agent *agent_new(struct cr_master *m, const char *id)
{
    struct agent *a = cr_xcalloc(1, sizeof(*a));
    a->id = cr_xstrdup(id);
    a->m = m;
    cr_map_init(&a->tasks);
    return a;
}

void agent_free(struct agent *a)
{
    if (!a)
        return;
    if (a->stream)
        cr_http_stream_release(a->stream);
    cr_map_release(&a->tasks);
    cr_agent_info_release(&a->info);
    free(a->ip);
    free(a->pid);
    free(a->version);
    free(a->id);
    free(a);
}

static json_t *agent_record(const struct agent *a)
{
    json_t *j = json_object();
    json_object_set_new(j, "agent_info", cr_json_agent_info(&a->info));
    json_t *addr = json_object();
    json_object_set_new(addr, "ip", json_string(a->ip ? a->ip : ""));
    json_object_set_new(addr, "port", json_integer(a->port));
    json_object_set_new(j, "address", addr);
    if (a->version)
        json_object_set_new(j, "version", json_string(a->version));
    if (a->unreachable)
        json_object_set_new(j, "unreachable_time", json_real(a->unreachable_time));
    json_object_set_new(j, "registered_time", json_real(a->registered_time));
    return j;
}

static void set_pid(struct agent *a)
{
    free(a->pid);
    a->pid = cr_xasprintf("slave(1)@%s:%d", a->ip ? a->ip : "0.0.0.0", a->port);
}

void agent_recover(struct cr_master *m, const char *id, const char *info_json)
{
    struct cr_err err;
    cr_err_clear(&err);
    json_t *j = cr_json_parse_object(info_json, strlen(info_json), &err);
    struct agent *a = agent_new(m, id);
    if (!j ||
        cr_parse_agent_info(json_object_get(j, "agent_info"), "agent_info", &a->info, &err) < 0) {
        CR_ERROR("skipping unreadable agent in the registry agent=%s error=\"%s\"", id, err.msg);
        json_decref(j);
        agent_free(a);
        return;
    }
    json_t *addr = json_object_get(j, "address");
    a->ip = cr_xstrdup(json_string_value(json_object_get(addr, "ip")));
    a->port = (int)json_integer_value(json_object_get(addr, "port"));
    a->version = cr_xstrdup(json_string_value(json_object_get(j, "version")));
    a->registered_time = json_number_value(json_object_get(j, "registered_time"));
    json_t *ut = json_object_get(j, "unreachable_time");
    if (ut) {
        a->unreachable = true;
        a->unreachable_time = json_number_value(ut);
    } else {
        a->recovered = true;
        m->nrecovered_agents++;
    }
    set_pid(a);
    json_decref(j);
    cr_map_put(&m->agents, a->id, a);
    a->last_seen_ms = cr_now_ms();
    CR_INFO("agent recovered from the registry agent=%s hostname=%s%s", a->id, a->info.hostname,
            a->unreachable ? " (unreachable)" : "");
}

/* ---------------------------------------------------------------- disconnection */

static void agent_disconnected(struct cr_master *m, struct agent *a)
{
    if (a->stream) {
        cr_http_stream_release(a->stream);
        a->stream = NULL;
    }
    if (!a->connected)
        return;
    a->connected = false;
    cr_alloc_set_agent_active(m->alloc, a->id, false);
    offers_recover_agent(m, a);
    if (!m->stopping)
        CR_INFO("agent disconnected agent=%s hostname=%s", a->id, a->info.hostname);
}

static void stream_closed(struct cr_http_stream *stream, void *ud)
{
    struct agent *a = ud;
    if (a->stream != stream) {
        cr_http_stream_release(stream);
        return;
    }
    agent_disconnected(a->m, a);
}

static void mark_unreachable(struct cr_master *m, struct agent *a)
{
    agent_disconnected(m, a);
    a->unreachable = true;
    if (a->recovered)
        m->nrecovered_agents--;
    a->recovered = false;
    a->unreachable_time = cr_wall_seconds();
    CR_WARN("agent unreachable agent=%s hostname=%s tasks=%zu", a->id, a->info.hostname,
            cr_map_count(&a->tasks));
    size_t it = 0;
    void *v;
    while (cr_map_next(&a->tasks, &it, NULL, &v)) {
        struct task *t = v;
        if (cr_task_state_is_terminal(t->state))
            continue;
        task_master_update(m, t, CR_TASK_UNREACHABLE, CR_REASON_AGENT_REMOVED,
                           "Agent is unreachable");
        t->resources_released = true; /* the agent leaves the allocator below */
    }
    cr_alloc_remove_agent(m->alloc, a->id);
    a->in_allocator = false;
    /* Schedulers learn of the agent loss as Mesos tells them: a FAILURE event. */
    size_t fit = 0;
    while (cr_map_next(&m->frameworks, &fit, NULL, &v))
        fw_send(v, cr_event_failure(a->id, NULL, 0, false));
    master_persist(m, TABLE, a->id, agent_record(a), NULL, NULL);
    offers_schedule(m);
}

void agents_ping_all(struct cr_master *m)
{
    int64_t now = cr_now_ms();
    double wall = cr_wall_seconds();
    int64_t window = m->cfg.agent_ping_ms * m->cfg.agent_ping_misses;
    int64_t reregister_window = m->cfg.agent_reregister_timeout_ms;
    if (reregister_window < window)
        reregister_window = window;
    /* If the master itself stalled (paused, swapped, stopped), the agents' answers are
     * still unread: do not hold the stall against them. */
    int64_t late = now - m->last_ping_tick_ms - m->cfg.agent_ping_ms;
    m->last_ping_tick_ms = now;
    bool stalled = late > m->cfg.agent_ping_ms;
    size_t len;
    char *ping = master_record(cr_agent_event_ping(), &len);
    struct agent **expired = NULL;
    size_t nexpired = 0;
    size_t it = 0;
    void *v;
    while (cr_map_next(&m->agents, &it, NULL, &v)) {
        struct agent *a = v;
        if (a->unreachable) {
            double limit_s = (double)m->cfg.agent_removal_timeout_ms / 1000.0;
            if (!stalled && m->cfg.agent_removal_timeout_ms > 0 &&
                wall - a->unreachable_time >= limit_s) {
                if (!expired)
                    expired = cr_xcalloc(cr_map_count(&m->agents), sizeof(*expired));
                expired[nexpired++] = a;
            }
            continue;
        }
        if (stalled) {
            a->last_seen_ms += late;
            continue;
        }
        if (a->connected && ping)
            agent_send_record(a, ping, len);
        int64_t limit = a->recovered ? reregister_window : window;
        if (now - a->last_seen_ms > limit)
            mark_unreachable(m, a);
    }
    free(ping);
    /* Removal frees the agent: done outside the walk over m->agents. */
    for (size_t i = 0; i < nexpired; i++) {
        CR_WARN("agent unreachable longer than the removal timeout; removing it agent=%s "
                "hostname=%s unreachable_s=%.1f",
                expired[i]->id, expired[i]->info.hostname, wall - expired[i]->unreachable_time);
        agent_remove(m, expired[i], false, NULL, NULL);
    }
    free(expired);
    if (stalled)
        CR_WARN("master loop stalled; agent liveness checks skipped once stall_ms=%lld",
                (long long)late);
}

/* ---------------------------------------------------------------- removal */

static void removed_free(struct removed_agent *r)
{
    if (!r)
        return;
    free(r->id);
    free(r->hostname);
    free(r);
}

const struct removed_agent *agent_find_removed(struct cr_master *m, const char *id)
{
    return id ? cr_map_get(&m->removed_agents, id) : NULL;
}

static json_t *removed_record(const struct removed_agent *r)
{
    json_t *j = json_object();
    json_object_set_new(j, "hostname", json_string(r->hostname));
    json_object_set_new(j, "removed_time", json_real(r->removed_time));
    json_object_set_new(j, "gone", json_boolean(r->is_gone));
    return j;
}

static int recover_removed(const char *key, const void *value, size_t len, void *ud)
{
    struct cr_master *m = ud;
    struct cr_err err;
    cr_err_clear(&err);
    json_t *j = cr_json_parse_object(value, len, &err);
    if (!j) {
        CR_ERROR("skipping an unreadable removed agent in the registry agent=%s error=\"%s\"", key,
                 err.msg);
        return 0;
    }
    struct removed_agent *r = cr_xcalloc(1, sizeof(*r));
    r->id = cr_xstrdup(key);
    const char *hostname = json_string_value(json_object_get(j, "hostname"));
    r->hostname = cr_xstrdup(hostname ? hostname : "");
    r->removed_time = json_number_value(json_object_get(j, "removed_time"));
    r->is_gone = json_is_true(json_object_get(j, "gone"));
    json_decref(j);
    struct agent *a = agent_find(m, r->id);
    if (a) {
        /* Both records: the removal is the later fact (it deletes the other). */
        cr_map_remove(&m->agents, a->id);
        if (a->recovered)
            m->nrecovered_agents--;
        agent_free(a);
    }
    removed_free(cr_map_put(&m->removed_agents, r->id, r));
    return 0;
}

void agents_recover_removed(struct cr_master *m)
{
    cr_state_foreach(m->state, REMOVED_TABLE, recover_removed, m);
    if (cr_map_count(&m->removed_agents) > 0)
        CR_INFO("removed agents recovered from the registry count=%zu",
                cr_map_count(&m->removed_agents));
}

void agents_removed_release(struct cr_master *m)
{
    size_t it = 0;
    void *v;
    while (cr_map_next(&m->removed_agents, &it, NULL, &v))
        removed_free(v);
    cr_map_release(&m->removed_agents);
}

void agent_remove(struct cr_master *m, struct agent *a, bool is_gone, master_persist_fn done,
                  void *ud)
{
    bool was_unreachable = a->unreachable;
    if (a->connected)
        agent_send(a, cr_agent_event_error(is_gone ? "Agent was marked gone by the operator"
                                                   : "Agent was removed"));
    agent_disconnected(m, a);
    if (a->recovered)
        m->nrecovered_agents--;
    a->recovered = false;

    /* The agent leaves the allocator first, so nothing of it is offered again. */
    size_t ntasks = cr_map_count(&a->tasks);
    struct task **tasks = cr_xcalloc(ntasks + 1, sizeof(*tasks));
    size_t n = 0;
    size_t it = 0;
    void *v;
    while (cr_map_next(&a->tasks, &it, NULL, &v)) {
        struct task *t = v;
        if (!cr_task_state_is_terminal(t->state))
            t->resources_released = true;
        tasks[n++] = t;
    }
    if (a->in_allocator) {
        cr_alloc_remove_agent(m->alloc, a->id);
        a->in_allocator = false;
    }
    enum cr_task_state state = is_gone ? CR_TASK_GONE_BY_OPERATOR : CR_TASK_GONE;
    enum cr_task_reason reason =
        is_gone ? CR_REASON_AGENT_REMOVED_BY_OPERATOR : CR_REASON_AGENT_REMOVED;
    const char *msg = is_gone ? "Agent was marked gone by the operator"
                              : "Agent was removed: unreachable longer than the removal timeout";
    for (size_t i = 0; i < n; i++) {
        struct task *t = tasks[i];
        if (!cr_task_state_is_terminal(t->state))
            task_master_update(m, t, state, reason, msg);
        t->has_pending = false; /* master updates carry no uuid; nothing to wait for */
        t->kill_pending = false;
        task_complete(m, t);
    }
    free(tasks);
    if (!was_unreachable) {
        size_t fit = 0;
        while (cr_map_next(&m->frameworks, &fit, NULL, &v))
            fw_send(v, cr_event_failure(a->id, NULL, 0, false));
    }

    struct removed_agent *r = cr_xcalloc(1, sizeof(*r));
    r->id = cr_xstrdup(a->id);
    r->hostname = cr_xstrdup(a->info.hostname ? a->info.hostname : "");
    r->removed_time = cr_wall_seconds();
    r->is_gone = is_gone;
    m->agent_removals++;
    CR_WARN("agent removed agent=%s hostname=%s gone=%s tasks=%zu", r->id, r->hostname,
            is_gone ? "true" : "false", n);
    cr_map_remove(&m->agents, a->id);
    agent_free(a);
    removed_free(cr_map_put(&m->removed_agents, r->id, r));

    json_t *rec = removed_record(r);
    char *text = cr_json_dump(rec);
    json_decref(rec);
    struct cr_state_op ops[2] = {
        {.kind = CR_STATE_DELETE, .table = TABLE, .key = r->id},
        {.kind = CR_STATE_PUT,
         .table = REMOVED_TABLE,
         .key = r->id,
         .value = text,
         .len = text ? strlen(text) : 0},
    };
    master_persist_ops(m, ops, 2, done, ud);
    free(text);
    offers_schedule(m);
}

void agent_shutdown_framework(struct cr_master *m, const char *framework_id)
{
    size_t it = 0;
    void *v;
    while (cr_map_next(&m->agents, &it, NULL, &v)) {
        struct agent *a = v;
        if (!a->connected)
            continue;
        agent_send(a, cr_agent_event_shutdown_framework(framework_id));
    }
}

/* ---------------------------------------------------------------- SUBSCRIBE */

struct pending_agent {
    struct cr_http_req *req;
    char *id;
    struct cr_agent_call call; /* the SUBSCRIBE, taken over from the handler */
    bool is_new;
};

static void pending_free(struct pending_agent *p)
{
    cr_agent_call_release(&p->call);
    free(p->id);
    free(p);
}

static const char *first_role(const struct fw *fw)
{
    return fw->info.nroles > 0 ? fw->info.roles[0] : CR_ROLE_ANY;
}

/* Keep the task's status ring in step with what the agent last reported. */
static void adopt_status(struct task *t, const struct cr_task_status *st)
{
    const struct cr_task_status *latest = task_latest_status(t);
    if (latest && latest->state == st->state)
        return;
    if (t->nstatuses == CR_MASTER_TASK_STATUSES) {
        cr_task_status_release(&t->statuses[t->status_head]);
        t->status_head = (t->status_head + 1) % CR_MASTER_TASK_STATUSES;
        t->nstatuses--;
    }
    struct cr_task_status *slot =
        &t->statuses[(t->status_head + t->nstatuses) % CR_MASTER_TASK_STATUSES];
    cr_task_status_init(slot);
    if (cr_task_status_copy(slot, st) == 0)
        t->nstatuses++;
}

/* Take over the tasks an agent reports running; forget those it no longer has. */
static void adopt_tasks(struct cr_master *m, struct agent *a, struct cr_agent_call *call)
{
    struct cr_map seen;
    cr_map_init(&seen);
    for (size_t i = 0; i < call->ntasks; i++) {
        struct cr_agent_task *at = &call->tasks[i];
        struct fw *fw = fw_find(m, at->framework_id);
        if (!fw) {
            CR_WARN("agent runs a task of an unknown framework; shutting it down agent=%s "
                    "framework=%s task=%s",
                    a->id, at->framework_id, at->task.task_id);
            agent_send(a, cr_agent_event_shutdown_framework(at->framework_id));
            continue;
        }
        struct task *t = cr_map_get(&fw->tasks, at->task.task_id);
        if (t && strcmp(t->info.agent_id, a->id) != 0) {
            /* Only the agent a task runs on may report it. */
            CR_WARN("agent reports a task that runs on another agent; ignored agent=%s "
                    "framework=%s task=%s runs_on=%s",
                    a->id, fw->id, t->info.task_id, t->info.agent_id);
            continue;
        }
        if (!t) {
            free(at->task.agent_id);
            at->task.agent_id = cr_xstrdup(a->id);
            t = task_new(fw, &at->task, first_role(fw));
            if (!t)
                continue;
            m->tasks_by_state[CR_TASK_STAGING]++;
            t->resources_released = true; /* allocated below */
            CR_INFO("adopted task from agent task=%s framework=%s agent=%s state=%s",
                    t->info.task_id, fw->id, a->id, cr_task_state_name(at->state));
        }
        if (t->state != at->state) {
            if (m->tasks_by_state[t->state] > 0)
                m->tasks_by_state[t->state]--;
            m->tasks_by_state[at->state]++;
            t->state = at->state;
        }
        if (at->has_latest_status)
            adopt_status(t, &at->latest_status);
        cr_map_put(&a->tasks, t->agent_key, t);
        cr_map_put(&seen, t->agent_key, t);
        struct cr_err err;
        cr_err_clear(&err);
        if (!cr_task_state_is_terminal(t->state) && t->resources_released) {
            if (cr_alloc_allocate(m->alloc, a->id, fw->id, t->role, &t->info.resources, &err) < 0)
                CR_WARN("adopted task does not fit the agent task=%s agent=%s error=\"%s\"",
                        t->info.task_id, a->id, err.msg);
            else
                t->resources_released = false;
        }
    }

    /* What the master believed ran there but the agent does not have is gone. */
    size_t it = 0;
    void *v;
    size_t nmissing = 0;
    struct task **missing = cr_xcalloc(cr_map_count(&a->tasks) + 1, sizeof(*missing));
    while (cr_map_next(&a->tasks, &it, NULL, &v)) {
        struct task *t = v;
        if (!cr_map_get(&seen, t->agent_key))
            missing[nmissing++] = t;
    }
    for (size_t k = 0; k < nmissing; k++) {
        struct task *t = missing[k];
        if (!cr_task_state_is_terminal(t->state))
            task_master_update(m, t, CR_TASK_GONE, CR_REASON_AGENT_REREGISTERED,
                               "Task was not found on the re-registered agent");
        t->has_pending = false;
        task_complete(m, t);
    }
    free(missing);
    cr_map_release(&seen);
}

static void open_agent_stream(struct cr_master *m, struct agent *a, struct cr_http_req *req)
{
    char sid[37];
    cr_uuid_text(sid);
    cr_http_req_add_header(req, "Mesos-Stream-Id", sid);
    struct cr_http_stream *s = cr_http_stream_open(req, 200, "application/json", stream_closed, a);
    if (!s)
        return;
    if (a->stream) {
        struct cr_http_stream *old = a->stream;
        a->stream = NULL;
        master_stream_send(old, cr_agent_event_error("Agent re-subscribed on a new stream"));
        cr_http_stream_release(old);
    }
    a->stream = s;
    snprintf(a->stream_id, sizeof(a->stream_id), "%s", sid);
    a->connected = true;
    struct cr_master_info mi;
    master_master_info(m, &mi);
    agent_send(a, cr_agent_event_subscribed(a->id, (double)m->cfg.agent_ping_ms / 1000.0, &mi));
}

/* A removed agent is told to shut its old tasks down and come back as a new agent. */
static void refuse_removed(struct cr_http_req *req, const struct removed_agent *r)
{
    CR_INFO("removed agent tried to re-register; told to shut down its tasks and register "
            "anew agent=%s hostname=%s gone=%s",
            r->id, r->hostname, r->is_gone ? "true" : "false");
    cr_http_respondf(req, 410, "Agent '%s' was %s: shut down its tasks and register as a new agent",
                     r->id, r->is_gone ? "marked gone" : "removed");
}

static void subscribe_committed(struct cr_master *m, int rc, const char *msg, void *ud)
{
    struct pending_agent *p = ud;
    if (rc < 0) {
        cr_http_respondf(p->req, 503, "Failed to store the agent in the registry: %s", msg);
        pending_free(p);
        return;
    }
    const struct removed_agent *removed = agent_find_removed(m, p->id);
    if (removed) {
        /* Removed while its subscription was being committed (the removal came later in
         * the log, so the registry does not hold it either). */
        refuse_removed(p->req, removed);
        pending_free(p);
        return;
    }
    struct cr_err err;
    cr_err_clear(&err);
    struct agent *a = agent_find(m, p->id);
    if (!a) {
        a = agent_new(m, p->id);
        cr_map_put(&m->agents, a->id, a);
        a->registered_time = cr_wall_seconds();
    } else {
        a->reregistered_time = cr_wall_seconds();
    }
    cr_agent_info_release(&a->info);
    a->info = p->call.agent_info;
    cr_agent_info_init(&p->call.agent_info);
    free(a->ip);
    a->ip = p->call.address_ip;
    p->call.address_ip = NULL;
    a->port = p->call.address_port;
    free(a->version);
    a->version = p->call.version;
    p->call.version = NULL;
    set_pid(a);

    if (a->in_allocator) {
        if (cr_alloc_update_agent(m->alloc, a->id, &a->info.resources, &err) < 0)
            CR_WARN("agent resources changed below what is allocated agent=%s error=\"%s\"", a->id,
                    err.msg);
    } else if (cr_alloc_add_agent(m->alloc, a->id, &a->info.resources, &err) < 0) {
        CR_ERROR("allocator refused agent agent=%s error=\"%s\"", a->id, err.msg);
    } else {
        a->in_allocator = true;
    }
    a->unreachable = false;
    if (a->recovered)
        m->nrecovered_agents--;
    a->recovered = false;
    a->last_seen_ms = cr_now_ms();
    open_agent_stream(m, a, p->req);
    cr_alloc_set_agent_active(m->alloc, a->id, a->connected);
    adopt_tasks(m, a, &p->call);
    agent_send_pending_kills(a);
    CR_INFO("agent %s agent=%s hostname=%s address=%s:%d", p->is_new ? "admitted" : "re-admitted",
            a->id, a->info.hostname, a->ip, a->port);
    pending_free(p);
    offers_schedule(m);
}

/*
 * A known agent whose new resources no longer hold what is allocated on it (its tasks'
 * and outstanding offers' resources) is refused: 0, or -ERANGE with err naming the tasks.
 */
static int check_new_resources(struct cr_master *m, struct agent *a,
                               const struct cr_resources *total, struct cr_err *err)
{
    if (!a->in_allocator)
        return 0;
    struct cr_resources used;
    cr_resources_init(&used);
    struct cr_buf names;
    cr_buf_init(&names);
    size_t it = 0;
    void *v;
    while (cr_map_next(&a->tasks, &it, NULL, &v)) {
        struct task *t = v;
        if (cr_task_state_is_terminal(t->state) || t->resources_released)
            continue;
        cr_resources_add(&used, &t->info.resources);
        cr_buf_printf(&names, "%s%s", names.len ? ", " : "", t->info.task_id);
    }
    int rc = 0;
    if (!cr_resources_contains(total, &used)) {
        char need[256];
        cr_resources_format(&used, need, sizeof(need));
        rc = cr_err_set(err, -ERANGE,
                        "the agent's new resources do not hold its running tasks (%s use %s)",
                        names.len ? names.data : "", need);
    }
    cr_buf_release(&names);
    cr_resources_release(&used);
    return rc;
}

void agent_subscribe(struct cr_master *m, struct cr_http_req *req, struct cr_agent_call *call)
{
    const struct removed_agent *removed = agent_find_removed(m, call->agent_info.id);
    if (removed) {
        refuse_removed(req, removed);
        return;
    }
    struct agent *known = agent_find(m, call->agent_info.id);
    if (known) {
        struct cr_err err;
        cr_err_clear(&err);
        if (check_new_resources(m, known, &call->agent_info.resources, &err) < 0) {
            CR_WARN("agent re-registration refused agent=%s error=\"%s\"", known->id, err.msg);
            cr_http_respondf(req, 409, "Agent re-registration refused: %s", err.msg);
            return;
        }
        /* Its subscription is under way: liveness checks must not mark it meanwhile. */
        known->last_seen_ms = cr_now_ms();
    }
    struct pending_agent *p = cr_xcalloc(1, sizeof(*p));
    p->req = req;
    p->call = *call;
    cr_agent_call_init(call);
    if (p->call.agent_info.id) {
        p->id = cr_xstrdup(p->call.agent_info.id);
    } else {
        p->id = cr_xasprintf("%s-S%llu", m->id, (unsigned long long)m->next_agent_seq++);
        p->call.agent_info.id = cr_xstrdup(p->id);
        p->is_new = true;
    }

    /* Persist what the registry keeps of an agent: its info and address. */
    struct agent tmp;
    memset(&tmp, 0, sizeof(tmp));
    tmp.info = p->call.agent_info;
    tmp.ip = p->call.address_ip;
    tmp.port = p->call.address_port;
    tmp.version = p->call.version;
    tmp.registered_time = known ? known->registered_time : cr_wall_seconds();
    master_persist(m, TABLE, p->id, agent_record(&tmp), subscribe_committed, p);
}

/* Common checks for UPDATE and PONG: agent known, stream current. NULL = answered. */
static struct agent *check_agent_call(struct cr_master *m, struct cr_http_req *req,
                                      const struct cr_agent_call *call)
{
    struct agent *a = agent_find(m, call->agent_id);
    if (!a || !a->connected) {
        cr_http_respondf(req, 403, "Agent is not subscribed");
        return NULL;
    }
    const char *sid = cr_http_req_header(req, "Mesos-Stream-Id");
    if (!sid || strcmp(sid, a->stream_id) != 0) {
        cr_http_respondf(req, 400, "The stream ID '%s' does not match the agent's current stream",
                         sid ? sid : "");
        return NULL;
    }
    return a;
}

void agent_pong(struct cr_master *m, struct cr_http_req *req, struct cr_agent_call *call)
{
    struct agent *a = check_agent_call(m, req, call);
    if (!a)
        return;
    a->last_seen_ms = cr_now_ms();
    cr_http_respond(req, 202, NULL, NULL, 0);
}

void agent_update(struct cr_master *m, struct cr_http_req *req, struct cr_agent_call *call)
{
    struct agent *a = check_agent_call(m, req, call);
    if (!a)
        return;
    cr_http_respond(req, 202, NULL, NULL, 0);
    a->last_seen_ms = cr_now_ms();
    /* The status speaks for the agent that sent it, whatever its body claims. */
    free(call->status.agent_id);
    call->status.agent_id = cr_xstrdup(a->id);
    task_status_update(m, a, call->framework_id, &call->status);
}
