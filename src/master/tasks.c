/*
 * tasks.c - the master's view of tasks: launch, status updates from agents and their
 * acknowledgements, kills, and reconciliation (API-COMPAT.md §2.4: a task the master does
 * not hold is answered from its completed ring, else from what is known of its agent:
 * registered -> GONE, unreachable -> UNREACHABLE, removed -> GONE, marked gone ->
 * GONE_BY_OPERATOR, unknown -> UNKNOWN; all LOST for frameworks without PARTITION_AWARE).
 *
 * A task belongs to its framework (fw->tasks) and is indexed by its agent
 * (agent->tasks). Its resources are given back to the allocator when the master first
 * sees a terminal state; it leaves the active maps (for the framework's completed
 * ring) once that terminal update has been acknowledged by the framework.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "master/master_impl.h"

struct task *task_new(struct fw *fw, const struct cr_task_info *info, const char *role)
{
    struct task *t = cr_xcalloc(1, sizeof(*t));
    if (cr_task_info_copy(&t->info, info) < 0) {
        free(t);
        return NULL;
    }
    t->fw = fw;
    t->framework_id = cr_xstrdup(fw->id);
    t->agent_key = cr_xasprintf("%s\n%s", fw->id, t->info.task_id);
    t->kill_grace_ms = -1;
    t->role = cr_xstrdup(role ? role : CR_ROLE_ANY);
    t->state = CR_TASK_STAGING;
    cr_map_put(&fw->tasks, t->info.task_id, t);
    return t;
}

void task_free(struct task *t)
{
    if (!t)
        return;
    cr_task_info_release(&t->info);
    for (size_t i = 0; i < t->nstatuses; i++)
        cr_task_status_release(&t->statuses[i]);
    free(t->framework_id);
    free(t->agent_key);
    free(t->role);
    free(t);
}

const struct cr_task_status *task_latest_status(const struct task *t)
{
    if (t->nstatuses == 0)
        return NULL;
    size_t idx = (t->status_head + t->nstatuses - 1) % CR_MASTER_TASK_STATUSES;
    return &t->statuses[idx];
}

static void push_status(struct task *t, const struct cr_task_status *s)
{
    struct cr_task_status copy;
    memset(&copy, 0, sizeof(copy));
    if (cr_task_status_copy(&copy, s) < 0)
        return;
    if (t->nstatuses == CR_MASTER_TASK_STATUSES) {
        cr_task_status_release(&t->statuses[t->status_head]);
        t->statuses[t->status_head] = copy;
        t->status_head = (t->status_head + 1) % CR_MASTER_TASK_STATUSES;
    } else {
        t->statuses[(t->status_head + t->nstatuses) % CR_MASTER_TASK_STATUSES] = copy;
        t->nstatuses++;
    }
}

static void count_state(struct cr_master *m, enum cr_task_state from, enum cr_task_state to)
{
    if ((int)from >= 0 && from < CR_TASK_STATE_COUNT && m->tasks_by_state[from] > 0)
        m->tasks_by_state[from]--;
    if ((int)to >= 0 && to < CR_TASK_STATE_COUNT)
        m->tasks_by_state[to]++;
}

static void set_state(struct cr_master *m, struct task *t, enum cr_task_state state)
{
    count_state(m, t->state, state);
    t->state = state;
}

/* Send status to the framework as an UPDATE, mapping states for non-partition-aware ones. */
static void forward_status(struct fw *fw, const struct cr_task_status *s)
{
    if (!fw || !fw->connected)
        return;
    enum cr_task_state seen = cr_task_state_for_framework(s->state, fw_partition_aware(fw));
    if (seen == s->state) {
        fw_send(fw, cr_event_update(s));
        return;
    }
    struct cr_task_status copy;
    memset(&copy, 0, sizeof(copy));
    if (cr_task_status_copy(&copy, s) < 0)
        return;
    copy.state = seen;
    fw_send(fw, cr_event_update(&copy));
    cr_task_status_release(&copy);
}

void task_release_resources(struct cr_master *m, struct task *t)
{
    if (t->resources_released)
        return;
    t->resources_released = true;
    cr_alloc_recover(m->alloc, t->info.agent_id, t->framework_id, t->role, &t->info.resources, 0,
                     cr_now_ms());
    offers_schedule(m);
}

void tasks_sum_held(const struct cr_map *tasks, const char *role, struct cr_resources *out)
{
    size_t it = 0;
    void *v;
    while (cr_map_next(tasks, &it, NULL, &v)) {
        const struct task *t = v;
        /* Terminal and unreachable tasks have given their resources back. */
        if (!t->resources_released && (!role || strcmp(t->role, role) == 0))
            cr_resources_add(out, &t->info.resources);
    }
}

void task_complete(struct cr_master *m, struct task *t)
{
    struct fw *fw = t->fw;
    struct agent *a = agent_find(m, t->info.agent_id);
    if (a && cr_map_get(&a->tasks, t->agent_key) == t)
        cr_map_remove(&a->tasks, t->agent_key);
    task_release_resources(m, t);
    if (cr_map_get(&fw->tasks, t->info.task_id) == t)
        cr_map_remove(&fw->tasks, t->info.task_id);
    size_t slot = (fw->completed_head + fw->ncompleted) % CR_MASTER_COMPLETED_TASKS;
    if (fw->ncompleted == CR_MASTER_COMPLETED_TASKS) {
        slot = fw->completed_head;
        struct task *old = fw->completed[slot];
        if (cr_map_get(&fw->completed_by_id, old->info.task_id) == old)
            cr_map_remove(&fw->completed_by_id, old->info.task_id);
        task_free(old);
        fw->completed_head = (fw->completed_head + 1) % CR_MASTER_COMPLETED_TASKS;
    } else {
        fw->ncompleted++;
    }
    fw->completed[slot] = t;
    cr_map_put(&fw->completed_by_id, t->info.task_id, t);
}

static void fill_master_status(struct cr_task_status *s, const char *task_id, const char *agent_id,
                               enum cr_task_state state, enum cr_task_reason reason,
                               const char *message)
{
    memset(s, 0, sizeof(*s));
    s->task_id = (char *)task_id;
    s->agent_id = (char *)agent_id;
    s->state = state;
    s->reason = reason;
    s->message = (char *)message;
    s->source = CR_SOURCE_MASTER;
    s->timestamp = cr_wall_seconds();
    s->healthy = -1;
}

void task_master_update(struct cr_master *m, struct task *t, enum cr_task_state state,
                        enum cr_task_reason reason, const char *message)
{
    struct cr_task_status s;
    fill_master_status(&s, t->info.task_id, t->info.agent_id, state, reason, message);
    if (state == CR_TASK_UNREACHABLE)
        s.unreachable_time = s.timestamp;
    push_status(t, &s);
    set_state(m, t, state);
    if (cr_task_state_is_terminal(state))
        task_release_resources(m, t);
    forward_status(t->fw, &s);
}

void task_send_orphan_status(struct fw *fw, const char *task_id, const char *agent_id,
                             enum cr_task_state state, enum cr_task_reason reason,
                             const char *message)
{
    struct cr_task_status s;
    fill_master_status(&s, task_id, agent_id, state, reason, message);
    forward_status(fw, &s);
}

void task_launch(struct cr_master *m, struct fw *fw, struct agent *a, struct task *t)
{
    m->tasks_by_state[CR_TASK_STAGING]++;
    cr_map_put(&a->tasks, t->agent_key, t);
    if (!a->connected) {
        enum cr_task_state st = fw_partition_aware(fw) ? CR_TASK_DROPPED : CR_TASK_LOST;
        task_master_update(m, t, st, CR_REASON_AGENT_DISCONNECTED, "Agent is disconnected");
        task_complete(m, t);
        return;
    }
    agent_send(a, cr_agent_event_launch(&fw->info, &t->info, t->role));
    CR_DEBUG("task launching task=%s framework=%s agent=%s", t->info.task_id, fw->id, a->id);
}

struct task *task_find_any(struct cr_master *m, const char *task_id, struct fw **fw_out)
{
    size_t it = 0;
    void *v;
    while (cr_map_next(&m->frameworks, &it, NULL, &v)) {
        struct fw *fw = v;
        struct task *t = cr_map_get(&fw->tasks, task_id);
        if (t) {
            if (fw_out)
                *fw_out = fw;
            return t;
        }
    }
    return NULL;
}

static void ack_to_agent(struct agent *a, const char *framework_id, const char *task_id,
                         const unsigned char uuid[16])
{
    if (!a || !a->connected)
        return;
    agent_send(a, cr_agent_event_acknowledged(framework_id, task_id, uuid));
}

void task_status_update(struct cr_master *m, struct agent *a, const char *framework_id,
                        const struct cr_task_status *status)
{
    struct fw *fw = fw_find(m, framework_id);
    if (!fw) {
        /* Nobody to deliver to: the framework is gone. Acknowledge on its behalf so the
         * agent stops retrying, and make sure nothing of it keeps running there. */
        CR_INFO("status update for a removed framework acknowledged by the master "
                "framework=%s task=%s state=%s",
                framework_id, status->task_id, cr_task_state_name(status->state));
        if (status->has_uuid)
            ack_to_agent(a, framework_id, status->task_id, status->uuid);
        if (!cr_task_state_is_terminal(status->state))
            agent_send(a, cr_agent_event_shutdown_framework(framework_id));
        return;
    }
    struct task *t = cr_map_get(&fw->tasks, status->task_id);
    if (t && a && strcmp(t->info.agent_id, a->id) != 0) {
        /* Only the agent a task runs on may speak for it. */
        m->invalid_status_updates++;
        CR_WARN("status update from an agent the task does not run on dropped task=%s "
                "framework=%s from=%s runs_on=%s",
                status->task_id, framework_id, a->id, t->info.agent_id);
        return;
    }
    m->valid_status_updates++;
    if (t) {
        if (cr_task_transition_ok(t->state, status->state)) {
            set_state(m, t, status->state);
        } else if (t->state != status->state) {
            m->invalid_status_updates++;
            CR_WARN("unexpected task state transition task=%s from=%s to=%s", t->info.task_id,
                    cr_task_state_name(t->state), cr_task_state_name(status->state));
        }
        push_status(t, status);
        if (cr_task_state_is_terminal(status->state))
            task_release_resources(m, t);
        if (status->has_uuid) {
            t->has_pending = true;
            t->pending_state = status->state;
            memcpy(t->pending_uuid, status->uuid, 16);
        }
    }
    CR_DEBUG("status update task=%s state=%s framework=%s agent=%s", status->task_id,
             cr_task_state_name(status->state), framework_id, a ? a->id : "-");
    forward_status(fw, status);
}

void task_acknowledge(struct cr_master *m, struct fw *fw, struct cr_sched_call *call)
{
    if (call->uuid_len != 16) {
        CR_WARN("acknowledgement with a malformed uuid ignored framework=%s task=%s", fw->id,
                call->task_id);
        return;
    }
    struct task *t = cr_map_get(&fw->tasks, call->task_id);
    const char *agent_id = call->agent_id;
    if (t) {
        if (t->has_pending && memcmp(t->pending_uuid, call->uuid, 16) == 0) {
            t->has_pending = false;
            if (cr_task_state_is_terminal(t->state))
                task_complete(m, t);
        }
    }
    ack_to_agent(agent_find(m, agent_id), fw->id, call->task_id, call->uuid);
}

void task_kill(struct cr_master *m, struct fw *fw, const char *task_id, const char *agent_id,
               int64_t grace_ms)
{
    struct task *t = cr_map_get(&fw->tasks, task_id);
    if (!t) {
        /* Mesos answers a kill of an unknown task with explicit reconciliation. */
        struct cr_sched_call call;
        memset(&call, 0, sizeof(call));
        struct cr_reconcile_task rt = {.task_id = (char *)task_id, .agent_id = (char *)agent_id};
        call.reconcile = &rt;
        call.nreconcile = 1;
        task_reconcile(m, fw, &call);
        return;
    }
    if (cr_task_state_is_terminal(t->state)) {
        const struct cr_task_status *s = task_latest_status(t);
        if (s)
            forward_status(fw, s);
        return;
    }
    struct agent *a = agent_find(m, t->info.agent_id);
    if (!a || !a->connected) {
        /* Sent when the agent comes back (or dropped with it if it never does). */
        t->kill_pending = true;
        t->kill_grace_ms = grace_ms;
        CR_INFO("kill of a task on a disconnected agent deferred until it returns task=%s "
                "agent=%s",
                task_id, t->info.agent_id);
        return;
    }
    int64_t g = grace_ms >= 0 ? grace_ms : t->info.kill_grace_ms;
    agent_send(a, cr_agent_event_kill(fw->id, task_id, g));
    CR_INFO("killing task task=%s framework=%s agent=%s", task_id, fw->id, a->id);
}

/* Explicit reconciliation of a task the master does not hold (API-COMPAT §2.4). */
static void reconcile_unknown(struct cr_master *m, struct fw *fw, const char *task_id,
                              const char *agent_id)
{
    bool pa = fw_partition_aware(fw);
    /* A task finished recently is still known in the completed ring. */
    for (size_t i = 0; i < fw->ncompleted; i++) {
        struct task *t = fw->completed[(fw->completed_head + i) % CR_MASTER_COMPLETED_TASKS];
        if (t && strcmp(t->info.task_id, task_id) == 0) {
            task_send_orphan_status(fw, task_id, t->info.agent_id, t->state,
                                    CR_REASON_RECONCILIATION, "Reconciliation: Latest task state");
            return;
        }
    }
    if (agent_id) {
        struct agent *a = agent_find(m, agent_id);
        if (a && a->recovered)
            return; /* not re-registered yet: no answer, the framework retries */
        enum cr_task_state st;
        const char *msg;
        const struct removed_agent *removed = a ? NULL : agent_find_removed(m, agent_id);
        if (removed) {
            st = !pa ? CR_TASK_LOST : removed->is_gone ? CR_TASK_GONE_BY_OPERATOR : CR_TASK_GONE;
            msg = removed->is_gone ? "Reconciliation: Agent was marked gone"
                                   : "Reconciliation: Agent was removed";
        } else if (!a) {
            st = pa ? CR_TASK_UNKNOWN : CR_TASK_LOST;
            msg = "Reconciliation: Task is unknown to the master";
        } else if (a->unreachable) {
            st = pa ? CR_TASK_UNREACHABLE : CR_TASK_LOST;
            msg = "Reconciliation: Task is unreachable";
        } else {
            st = pa ? CR_TASK_GONE : CR_TASK_LOST;
            msg = "Reconciliation: Task is unknown to the agent";
        }
        task_send_orphan_status(fw, task_id, agent_id, st, CR_REASON_RECONCILIATION, msg);
        return;
    }
    /* No agent id: stay silent while any agent may still bring the task back. */
    if (m->nrecovered_agents > 0)
        return;
    task_send_orphan_status(fw, task_id, NULL, pa ? CR_TASK_UNKNOWN : CR_TASK_LOST,
                            CR_REASON_RECONCILIATION,
                            "Reconciliation: Task is unknown to the master");
}

static void reconcile_known(struct fw *fw, struct task *t)
{
    struct cr_task_status s;
    const struct cr_task_status *latest = task_latest_status(t);
    memset(&s, 0, sizeof(s));
    s.task_id = t->info.task_id;
    s.agent_id = t->info.agent_id;
    s.state = t->has_pending ? t->pending_state : t->state;
    s.source = CR_SOURCE_MASTER;
    s.reason = CR_REASON_RECONCILIATION;
    s.message = "Reconciliation: Latest task state";
    s.timestamp = cr_wall_seconds();
    s.healthy = latest ? latest->healthy : -1;
    s.container_id = latest ? latest->container_id : NULL;
    s.executor_id = latest ? latest->executor_id : NULL;
    s.unreachable_time = latest ? latest->unreachable_time : 0;
    forward_status(fw, &s);
}

void task_reconcile(struct cr_master *m, struct fw *fw, struct cr_sched_call *call)
{
    if (call->nreconcile == 0) {
        size_t it = 0;
        void *v;
        while (cr_map_next(&fw->tasks, &it, NULL, &v)) {
            struct task *t = v;
            if (!cr_task_state_is_terminal(t->state) || t->has_pending)
                reconcile_known(fw, t);
        }
        return;
    }
    for (size_t i = 0; i < call->nreconcile; i++) {
        const struct cr_reconcile_task *r = &call->reconcile[i];
        struct task *t = cr_map_get(&fw->tasks, r->task_id);
        if (t)
            reconcile_known(fw, t);
        else
            reconcile_unknown(m, fw, r->task_id, r->agent_id);
    }
}
