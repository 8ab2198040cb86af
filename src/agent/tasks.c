/*
 * tasks.c - the agent's tasks: LAUNCH -> sandbox + checkpoint -> its corral-executor
 * (executors.c) -> the executor's status updates, checkpointed and forwarded -> (KILL,
 * forwarded) -> terminal update -> acknowledged by the framework and executor gone ->
 * completed (sandbox handed to the GC).
 *
 * States a task reports (API-COMPAT §2.1), source SOURCE_EXECUTOR unless noted:
 *   STARTING  once the container's process exists (before exec), as Mesos' command
 *             executor sends it first;
 *   RUNNING   when the exec succeeded; again with healthy true/false when its health
 *             check changes (REASON_TASK_HEALTH_CHECK_STATUS_UPDATED);
 *   KILLING   on KILL, if the framework has TASK_KILLING_STATE;
 *   FINISHED  exit status 0; FAILED  other exit status or signal, or exec failure; an OOM
 *             kill is FAILED with REASON_CONTAINER_LIMITATION_MEMORY;
 *   KILLED    the process ended after a KILL (or SHUTDOWN_FRAMEWORK), or its health
 *             check failed too often;
 *   ERROR     (SOURCE_AGENT) the task cannot run here: invalid TaskInfo, or an
 *             ExecutorInfo (custom executors are not supported yet);
 *   FAILED    (SOURCE_AGENT) the sandbox, checkpoint or executor could not be created
 *             (unknown user, ...), REASON_CONTAINER_LAUNCH_FAILED; or its executor died
 *             without reporting an end, REASON_EXECUTOR_TERMINATED (or
 *             ..._REREGISTRATION_TIMEOUT after an agent restart).
 * KILL of a task this agent never had: TASK_DROPPED for PARTITION_AWARE frameworks,
 * TASK_LOST otherwise (SOURCE_AGENT, REASON_TASK_UNKNOWN), as Mesos' agent does. KILL of
 * a completed task re-sends its terminal state; KILL of a task whose terminal update
 * is still unacknowledged does nothing (that update is being retried).
 *
 * Invariants: a task is in a->tasks iff it is in the active list; t->executor is
 * non-NULL iff its executor process may still run; every status is in the checkpoint
 * journal before the executor is told it may forget it; a task leaves the active set
 * only after its terminal update was acknowledged and its executor is gone.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent_internal.h"
#include "base/log.h"
#include "base/util.h"

/* ------------------------------------------------------------------ frameworks */

static struct agent_framework *fw_get(struct cr_agent *a, const char *id,
                                      const struct cr_framework_info *info)
{
    struct agent_framework *fw = cr_map_get(&a->frameworks, id);
    if (!fw) {
        fw = cr_xcalloc(1, sizeof(*fw));
        fw->id = cr_xstrdup(id);
        cr_framework_info_init(&fw->info);
        cr_map_put(&a->frameworks, fw->id, fw);
    }
    if (info) {
        struct cr_framework_info copy;
        memset(&copy, 0, sizeof(copy));
        if (cr_framework_info_copy(&copy, info) == 0) {
            cr_framework_info_release(&fw->info);
            fw->info = copy;
            fw->has_info = true;
        }
    }
    return fw;
}

static void fw_drop_if_unused(struct cr_agent *a, struct agent_framework *fw)
{
    if (fw->nactive > 0 || fw->ncompleted > 0)
        return;
    cr_map_remove(&a->frameworks, fw->id);
    cr_framework_info_release(&fw->info);
    free(fw->id);
    free(fw);
}

static bool fw_partition_aware(const struct agent_framework *fw)
{
    return fw && fw->has_info && (fw->info.capabilities & CR_FWCAP_PARTITION_AWARE);
}

/* ------------------------------------------------------------------ records */

static void task_free(struct agent_task *t)
{
    free(t->key);
    free(t->framework_id);
    free(t->task_id);
    cr_task_info_release(&t->info);
    free(t->allocation_role);
    free(t->container_id);
    free(t->directory);
    free(t->user);
    free(t->user_ids);
    for (size_t i = 0; i < t->nstatuses; i++)
        cr_task_status_release(&t->statuses[i]);
    free(t->statuses);
    free(t);
}

void agent_tasks_init(struct cr_agent *a)
{
    cr_map_init(&a->tasks);
    cr_map_init(&a->frameworks);
    a->completed = cr_xcalloc(CR_AGENT_MAX_COMPLETED, sizeof(*a->completed));
    a->completed_start = a->ncompleted = 0;
}

void agent_tasks_release(struct cr_agent *a)
{
    struct agent_task *t = a->tasks_head;
    while (t) {
        struct agent_task *next = t->next;
        task_free(t);
        t = next;
    }
    a->tasks_head = a->tasks_tail = NULL;
    a->ntasks = 0;
    cr_map_release(&a->tasks);
    for (size_t i = 0; i < a->ncompleted; i++)
        task_free(agent_completed_at(a, i));
    free(a->completed);
    a->completed = NULL;
    a->ncompleted = 0;
    size_t it = 0;
    const char *key;
    void *value;
    while (cr_map_next(&a->frameworks, &it, &key, &value)) {
        struct agent_framework *fw = value;
        cr_framework_info_release(&fw->info);
        free(fw->id);
        free(fw);
    }
    cr_map_release(&a->frameworks);
}

struct agent_task *agent_completed_at(const struct cr_agent *a, size_t i)
{
    return a->completed[(a->completed_start + i) % CR_AGENT_MAX_COMPLETED];
}

const struct cr_task_status *agent_task_latest(const struct agent_task *t)
{
    return t->nstatuses ? &t->statuses[t->nstatuses - 1] : NULL;
}

static struct agent_task *task_new(struct cr_agent *a, char *key, const char *framework_id,
                                   const char *task_id, struct agent_framework *fw)
{
    struct agent_task *t = cr_xcalloc(1, sizeof(*t));
    t->agent = a;
    t->key = key;
    t->framework_id = cr_xstrdup(framework_id);
    t->task_id = cr_xstrdup(task_id);
    t->fw = fw;
    cr_task_info_init(&t->info);
    t->state = CR_TASK_STAGING;
    t->kill_grace_ms = -1;
    t->launched_at = cr_wall_seconds();
    fw->nactive++;
    cr_map_put(&a->tasks, t->key, t);
    t->prev = a->tasks_tail;
    if (a->tasks_tail)
        a->tasks_tail->next = t;
    else
        a->tasks_head = t;
    a->tasks_tail = t;
    a->ntasks++;
    return t;
}

/* Active -> completed ring (evicting the oldest completed task when full). */
static void task_complete(struct cr_agent *a, struct agent_task *t)
{
    cr_map_remove(&a->tasks, t->key);
    if (t->prev)
        t->prev->next = t->next;
    else
        a->tasks_head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        a->tasks_tail = t->prev;
    t->prev = t->next = NULL;
    a->ntasks--;
    t->fw->nactive--;
    t->fw->ncompleted++;
    if (a->ncompleted == CR_AGENT_MAX_COMPLETED) {
        struct agent_task *old = a->completed[a->completed_start];
        a->completed_start = (a->completed_start + 1) % CR_AGENT_MAX_COMPLETED;
        a->ncompleted--;
        old->fw->ncompleted--;
        fw_drop_if_unused(a, old->fw);
        task_free(old);
    }
    if (t->directory && a->gc) {
        struct cr_err err;
        cr_err_clear(&err);
        if (cr_gc_schedule(a->gc, t->directory, CR_GC_DEFAULT_DELAY, &err) < 0)
            CR_WARN("cannot schedule the sandbox for removal task=%s error=\"%s\"", t->task_id,
                    err.msg);
    }
    a->completed[(a->completed_start + a->ncompleted) % CR_AGENT_MAX_COMPLETED] = t;
    a->ncompleted++;
    CR_DEBUG("task completed task=%s framework=%s state=%s", t->task_id, t->framework_id,
             cr_task_state_name(t->state));
}

/* Keep a copy of s as the task's latest status (dropping the oldest beyond the cap). */
static void task_record_status(struct agent_task *t, const struct cr_task_status *s)
{
    if (t->nstatuses == CR_AGENT_MAX_STATUSES) {
        cr_task_status_release(&t->statuses[0]);
        memmove(&t->statuses[0], &t->statuses[1],
                (CR_AGENT_MAX_STATUSES - 1) * sizeof(t->statuses[0]));
        t->nstatuses--;
    }
    if (!t->statuses)
        t->statuses = cr_xcalloc(CR_AGENT_MAX_STATUSES, sizeof(t->statuses[0]));
    struct cr_task_status *slot = &t->statuses[t->nstatuses];
    memset(slot, 0, sizeof(*slot));
    if (cr_task_status_copy(slot, s) == 0)
        t->nstatuses++;
}

/* Keep s as t's latest status, checkpoint it and queue it for the master. */
static void task_accept_status(struct cr_agent *a, struct agent_task *t,
                               const struct cr_task_status *s)
{
    t->state = s->state;
    task_record_status(t, s);
    CR_LOG(cr_task_state_is_terminal(s->state) && s->state != CR_TASK_FINISHED ? CR_LOG_INFO
                                                                               : CR_LOG_DEBUG,
           "task status task=%s framework=%s state=%s%s%s", t->task_id, t->framework_id,
           cr_task_state_name(s->state), s->message ? " message=" : "",
           s->message ? s->message : "");
    agent_ckpt_update(a, t, s);
    agent_send_status(a, t->framework_id, s);
}

void agent_task_emit(struct cr_agent *a, struct agent_task *t, enum cr_task_state state,
                     enum cr_task_source source, enum cr_task_reason reason, const char *message)
{
    struct cr_task_status s;
    memset(&s, 0, sizeof(s));
    s.task_id = t->task_id;
    s.state = state;
    s.message = (char *)message;
    s.source = source;
    s.reason = reason;
    s.agent_id = a->agent_id;
    s.executor_id = t->executor ? t->task_id : NULL;
    s.timestamp = cr_wall_seconds();
    s.has_uuid = true;
    cr_random_bytes(s.uuid, sizeof(s.uuid));
    s.healthy = -1;
    s.container_id = t->container_id;
    task_accept_status(a, t, &s);
    agent_ckpt_sync_later(a, NULL, NULL);
}

struct agent_task *agent_task_find(struct cr_agent *a, const char *key)
{
    return cr_map_get(&a->tasks, key);
}

/* ------------------------------------------------------------------ executors */

static bool task_has_uuid(const struct agent_task *t, const unsigned char uuid[16])
{
    for (size_t i = 0; i < t->nstatuses; i++)
        if (t->statuses[i].has_uuid && memcmp(t->statuses[i].uuid, uuid, 16) == 0)
            return true;
    return false;
}

/* Record the agent's launch latency (LAUNCH received -> the task's exec). */
static void note_launch_latency(struct cr_agent *a, const struct agent_task *t, double exec_at)
{
    if (!a->launch_ms || exec_at <= 0 || exec_at < t->launched_at)
        return;
    a->launch_ms[a->launch_ms_next] = (exec_at - t->launched_at) * 1000.0;
    a->launch_ms_next = (a->launch_ms_next + 1) % CR_AGENT_LAUNCH_SAMPLES;
    if (a->nlaunch_ms < CR_AGENT_LAUNCH_SAMPLES)
        a->nlaunch_ms++;
}

struct exec_ack {
    struct exec_ack *next; /* a->failed_acks */
    struct cr_agent *a;
    char *key;
    char *task_id;
    unsigned char uuid[16];
};

static void exec_ack_free(struct exec_ack *k)
{
    free(k->key);
    free(k->task_id);
    free(k);
}

static void on_update_durable(void *ud, int rc)
{
    struct exec_ack *k = ud;
    if (rc == -ECANCELED) { /* the agent is going away (k->a may be gone) */
        exec_ack_free(k);
        return;
    }
    if (rc < 0) {
        /* The update stays buffered in the journal; acknowledge once a later sync (the
         * agent's 1 s tick retries) has made it durable. */
        k->next = k->a->failed_acks;
        k->a->failed_acks = k;
        agent_tick_ensure(k->a);
        return;
    }
    agent_executor_ack(k->a, k->key, k->task_id, k->uuid);
    exec_ack_free(k);
}

void agent_acks_retry(struct cr_agent *a)
{
    struct exec_ack *k = a->failed_acks;
    a->failed_acks = NULL;
    while (k) {
        struct exec_ack *next = k->next;
        agent_executor_ack(a, k->key, k->task_id, k->uuid);
        exec_ack_free(k);
        k = next;
    }
}

void agent_acks_release(struct cr_agent *a)
{
    while (a->failed_acks) {
        struct exec_ack *k = a->failed_acks;
        a->failed_acks = k->next;
        exec_ack_free(k);
    }
}

void agent_on_executor_update(struct cr_agent *a, struct agent_task *t,
                              const struct cr_task_status *status, pid_t task_pid)
{
    if (task_pid > 0)
        t->task_pid = task_pid;
    struct exec_ack *k = cr_xcalloc(1, sizeof(*k));
    k->a = a;
    k->key = cr_xstrdup(t->key);
    k->task_id = cr_xstrdup(t->task_id);
    memcpy(k->uuid, status->uuid, 16);
    if (task_has_uuid(t, status->uuid)) {
        /* A re-sent update the checkpoint already holds (at least once: acknowledge again). */
        agent_ckpt_sync_later(a, on_update_durable, k);
        return;
    }
    if (cr_task_state_is_terminal(t->state)) {
        CR_WARN("ignoring an executor update after the task ended task=%s state=%s", t->task_id,
                cr_task_state_name(status->state));
        agent_ckpt_sync_later(a, on_update_durable, k);
        return;
    }
    struct cr_task_status s;
    memset(&s, 0, sizeof(s));
    if (cr_task_status_copy(&s, status) < 0) {
        on_update_durable(k, -ENOMEM);
        return;
    }
    free(s.agent_id);
    s.agent_id = cr_xstrdup(a->agent_id);
    if (!s.executor_id)
        s.executor_id = cr_xstrdup(t->task_id);
    if (!s.container_id)
        s.container_id = cr_xstrdup(t->container_id);
    s.source = CR_SOURCE_EXECUTOR;
    if (s.state == CR_TASK_RUNNING && t->state == CR_TASK_STARTING)
        note_launch_latency(a, t, s.timestamp);
    task_accept_status(a, t, &s);
    cr_task_status_release(&s);
    agent_ckpt_sync_later(a, on_update_durable, k);
}

static void executor_gone(struct cr_agent *a, struct agent_task *t, enum cr_task_state state,
                          enum cr_task_reason reason, const char *message)
{
    if (t->container_id && !cr_task_state_is_terminal(t->state)) {
        struct cr_err err;
        cr_err_clear(&err);
        if (cr_containerizer_destroy(a->cz, t->container_id, &err) < 0)
            CR_ERROR("cannot clean up the container of a lost executor task=%s container=%s "
                     "error=\"%s\"",
                     t->task_id, t->container_id, err.msg);
    }
    if (!cr_task_state_is_terminal(t->state))
        agent_task_emit(a, t, t->kill_pending || t->kill_requested ? CR_TASK_KILLED : state,
                        CR_SOURCE_AGENT, reason, message);
    agent_task_maybe_complete(a, t);
}

void agent_on_executor_gone(struct cr_agent *a, struct agent_task *t, enum cr_task_reason reason,
                            const char *message)
{
    executor_gone(a, t, CR_TASK_FAILED, reason, message);
}

void agent_on_executor_lost_while_down(struct cr_agent *a, struct agent_task *t)
{
    /* The machine (or at least this task's processes) went down with the agent: as Mesos
     * says of tasks on a rebooted agent, they are gone, not failed. */
    executor_gone(a, t, fw_partition_aware(t->fw) ? CR_TASK_GONE : CR_TASK_LOST,
                  CR_REASON_EXECUTOR_TERMINATED, "Executor terminated while the agent was down");
}

void agent_task_maybe_complete(struct cr_agent *a, struct agent_task *t)
{
    if (t->executor || !cr_task_state_is_terminal(t->state))
        return;
    if (cr_su_stream_find(&a->su, t->framework_id, t->task_id))
        return; /* updates still waiting for the framework's acknowledgement */
    agent_ckpt_done(a, t);
    task_complete(a, t);
}

/* Create <work>/slaves/<agent>/frameworks/<fw>/executors/<task>/runs/<cid> + runs/latest. */
static int make_sandbox(struct cr_agent *a, struct agent_task *t, struct cr_err *err)
{
    char *runs = cr_xasprintf("%s/slaves/%s/frameworks/%s/executors/%s/runs", a->work_dir,
                              a->agent_id, t->framework_id, t->task_id);
    char *dir = cr_xasprintf("%s/%s", runs, t->container_id);
    int rc = cr_mkdir_p(dir, 0755, err);
    if (rc < 0) {
        free(runs);
        free(dir);
        return rc;
    }
    char *tmp = cr_xasprintf("%s/.latest-%s", runs, t->container_id);
    char *latest = cr_xasprintf("%s/latest", runs);
    if (symlink(t->container_id, tmp) < 0 || rename(tmp, latest) < 0) {
        rc = cr_err_sys(err, -errno, "link '%s'", latest);
        unlink(tmp);
    }
    free(tmp);
    free(latest);
    free(runs);
    if (rc < 0) {
        free(dir);
        return rc;
    }
    t->directory = dir;
    return 0;
}

static void launch_container(struct cr_agent *a, struct agent_task *t)
{
    struct cr_err err;
    cr_err_clear(&err);
    char uuid[37];
    cr_uuid_text(uuid);
    t->container_id = cr_xstrdup(uuid);
    char **argv = NULL, **envp = NULL;
    if (agent_task_command(a, t, &argv, &envp, &err) < 0) {
        char msg[320];
        snprintf(msg, sizeof(msg), "Task is invalid: %s", cr_err_msg(&err));
        agent_task_emit(a, t, CR_TASK_ERROR, CR_SOURCE_AGENT, CR_REASON_TASK_INVALID, msg);
        return;
    }
    agent_strv_free(argv);
    agent_strv_free(envp);
    if (make_sandbox(a, t, &err) < 0) {
        char msg[320];
        snprintf(msg, sizeof(msg), "Failed to create sandbox: %s", cr_err_msg(&err));
        agent_task_emit(a, t, CR_TASK_FAILED, CR_SOURCE_AGENT, CR_REASON_CONTAINER_LAUNCH_FAILED,
                        msg);
        return;
    }
    t->user = cr_xstrdup(t->info.command.user);
    if (t->user && !(t->user_ids = cr_user_resolve(t->user, &err))) {
        char msg[320];
        snprintf(msg, sizeof(msg), "Failed to launch the container: %s", cr_err_msg(&err));
        agent_task_emit(a, t, CR_TASK_FAILED, CR_SOURCE_AGENT, CR_REASON_CONTAINER_LAUNCH_FAILED,
                        msg);
        return;
    }
    /* The task must be in the checkpoint before anything of it runs. */
    agent_ckpt_task(a, t);
    if (agent_ckpt_sync(a) < 0) {
        agent_task_emit(a, t, CR_TASK_FAILED, CR_SOURCE_AGENT, CR_REASON_CONTAINER_LAUNCH_FAILED,
                        "Failed to checkpoint the task (see the agent's log)");
        return;
    }
    if (agent_executor_spawn(a, t, &err) < 0) {
        char msg[320];
        snprintf(msg, sizeof(msg), "Failed to launch the executor: %s", cr_err_msg(&err));
        agent_task_emit(a, t, CR_TASK_FAILED, CR_SOURCE_AGENT, CR_REASON_CONTAINER_LAUNCH_FAILED,
                        msg);
        return;
    }
}

static void task_minimal_info(const struct cr_agent *a, struct agent_task *t);

/* ------------------------------------------------------------------ recovery */

struct agent_task *agent_task_restore(struct cr_agent *a, const char *framework_id,
                                      const char *task_id, const struct cr_framework_info *fi,
                                      const struct cr_task_info *info)
{
    char *key = cr_agent_task_key(framework_id, task_id);
    if (cr_map_get(&a->tasks, key)) {
        free(key);
        return NULL;
    }
    struct agent_task *t = task_new(a, key, framework_id, task_id, fw_get(a, framework_id, fi));
    if (cr_task_info_copy(&t->info, info) == 0)
        t->has_info = true;
    else
        task_minimal_info(a, t);
    return t;
}

void agent_task_restore_status(struct cr_agent *a, struct agent_task *t,
                               const struct cr_task_status *s, bool pending)
{
    t->state = s->state;
    task_record_status(t, s);
    if (pending)
        cr_su_add(&a->su, t->framework_id, s, cr_now_ms());
}

void agent_task_forget(struct cr_agent *a, struct agent_task *t)
{
    task_complete(a, t);
}

void agent_tasks_recovered(struct cr_agent *a)
{
    struct agent_task *t = a->tasks_head;
    while (t) {
        struct agent_task *next = t->next;
        if (t->executor_pid > 0 || !cr_task_state_is_terminal(t->state))
            agent_executor_adopt(a, t, t->executor_pid); /* may complete t */
        else
            agent_task_maybe_complete(a, t);
        t = next;
    }
}

/* ------------------------------------------------------------------ events */

/* A task record for framework_id/task_id, or NULL (logged) if one is already active. */
static struct agent_task *task_begin(struct cr_agent *a, const char *framework_id,
                                     const char *task_id, const struct cr_framework_info *fi)
{
    char *key = cr_agent_task_key(framework_id, task_id);
    if (cr_map_get(&a->tasks, key)) {
        CR_WARN("ignoring LAUNCH of a task that is already active task=%s framework=%s", task_id,
                framework_id);
        free(key);
        return NULL;
    }
    struct agent_framework *fw = fw_get(a, framework_id, fi);
    return task_new(a, key, framework_id, task_id, fw);
}

/* Give a record without a valid TaskInfo the minimal one SUBSCRIBE reports. */
static void task_minimal_info(const struct cr_agent *a, struct agent_task *t)
{
    cr_task_info_release(&t->info);
    cr_task_info_init(&t->info);
    t->info.name = cr_xstrdup(t->task_id);
    t->info.task_id = cr_xstrdup(t->task_id);
    t->info.agent_id = cr_xstrdup(a->agent_id ? a->agent_id : "");
}

void agent_on_invalid_launch(struct cr_agent *a, const char *framework_id, const char *task_id,
                             const char *why)
{
    struct agent_task *t = task_begin(a, framework_id, task_id, NULL);
    if (!t)
        return;
    task_minimal_info(a, t);
    char msg[320];
    snprintf(msg, sizeof(msg), "Task is invalid: %s", why);
    agent_task_emit(a, t, CR_TASK_ERROR, CR_SOURCE_AGENT, CR_REASON_TASK_INVALID, msg);
}

void agent_on_launch(struct cr_agent *a, const struct cr_agent_event *ev)
{
    const char *fw_id = ev->framework_info.id;
    const char *task_id = ev->task.task_id;
    if (!fw_id || !task_id) {
        CR_ERROR("ignoring LAUNCH without framework or task id");
        return;
    }
    struct agent_task *t = task_begin(a, fw_id, task_id, &ev->framework_info);
    if (!t)
        return;
    t->allocation_role = cr_xstrdup(ev->allocation_role);
    struct cr_err verr;
    cr_err_clear(&verr);
    if (cr_validate_id(task_id, &verr) < 0 || cr_validate_id(fw_id, &verr) < 0) {
        task_minimal_info(a, t);
        char msg[320];
        snprintf(msg, sizeof(msg),
                 "Task is invalid: its task or framework id cannot name a "
                 "sandbox directory: %s",
                 cr_err_msg(&verr));
        agent_task_emit(a, t, CR_TASK_ERROR, CR_SOURCE_AGENT, CR_REASON_TASK_INVALID, msg);
        return;
    }
    if (cr_task_info_copy(&t->info, &ev->task) < 0) {
        task_minimal_info(a, t);
        agent_task_emit(a, t, CR_TASK_FAILED, CR_SOURCE_AGENT, CR_REASON_CONTAINER_LAUNCH_FAILED,
                        "Failed to launch: out of memory");
        return;
    }
    t->has_info = true;
    if (cr_task_info_validate(&t->info, &verr) < 0) {
        char msg[320];
        snprintf(msg, sizeof(msg), "Task is invalid: %s", cr_err_msg(&verr));
        agent_task_emit(a, t, CR_TASK_ERROR, CR_SOURCE_AGENT, CR_REASON_TASK_INVALID, msg);
        return;
    }
    if (t->info.executor) {
        agent_task_emit(a, t, CR_TASK_ERROR, CR_SOURCE_AGENT, CR_REASON_TASK_INVALID,
                        "Task is invalid: custom executors are not supported yet "
                        "(TaskInfo.executor); use TaskInfo.command");
        return;
    }
    launch_container(a, t);
}

static int64_t kill_grace(const struct agent_task *t, int64_t requested_ms)
{
    if (requested_ms >= 0)
        return requested_ms;
    if (t->has_info && t->info.kill_grace_ms >= 0)
        return t->info.kill_grace_ms;
    return CR_AGENT_DEFAULT_GRACE_MS;
}

static void kill_task(struct cr_agent *a, struct agent_task *t, int64_t grace_ms)
{
    int64_t grace = kill_grace(t, grace_ms);
    if (t->kill_requested)
        CR_INFO("task already being killed task=%s grace_ms=%lld", t->task_id, (long long)grace);
    else
        CR_INFO("killing task task=%s framework=%s grace_ms=%lld", t->task_id, t->framework_id,
                (long long)grace);
    t->kill_requested = true;
    t->kill_grace_ms = grace;
    agent_executor_kill(a, t, grace);
}

/* The most recent completed record of a task, or NULL. */
static struct agent_task *find_completed(struct cr_agent *a, const char *key)
{
    for (size_t i = a->ncompleted; i-- > 0;) {
        struct agent_task *t = agent_completed_at(a, i);
        if (strcmp(t->key, key) == 0)
            return t;
    }
    return NULL;
}

void agent_on_kill(struct cr_agent *a, const struct cr_agent_event *ev)
{
    char *key = cr_agent_task_key(ev->framework_id, ev->task_id);
    struct agent_task *t = cr_map_get(&a->tasks, key);
    if (t) {
        free(key);
        if (!cr_task_state_is_terminal(t->state))
            kill_task(a, t, ev->kill_grace_ms);
        else
            CR_INFO("KILL of a task that already ended; its terminal update is pending task=%s "
                    "state=%s",
                    t->task_id, cr_task_state_name(t->state));
        return;
    }
    struct agent_task *done = find_completed(a, key);
    free(key);
    struct cr_task_status s;
    memset(&s, 0, sizeof(s));
    const struct cr_task_status *latest = done ? agent_task_latest(done) : NULL;
    if (latest) {
        /* Say the terminal state again, as a fresh update from the agent. */
        if (cr_task_status_copy(&s, latest) < 0)
            return;
        s.source = CR_SOURCE_AGENT;
        CR_INFO("KILL of a completed task, re-sending its state task=%s state=%s", ev->task_id,
                cr_task_state_name(s.state));
    } else {
        struct agent_framework *fw = cr_map_get(&a->frameworks, ev->framework_id);
        s.task_id = cr_xstrdup(ev->task_id);
        s.state = fw_partition_aware(fw) ? CR_TASK_DROPPED : CR_TASK_LOST;
        s.message = cr_xstrdup("Task is unknown to the agent");
        s.source = CR_SOURCE_AGENT;
        s.reason = CR_REASON_TASK_UNKNOWN;
        s.agent_id = cr_xstrdup(a->agent_id);
        s.healthy = -1;
        CR_INFO("KILL of an unknown task task=%s framework=%s answer=%s", ev->task_id,
                ev->framework_id, cr_task_state_name(s.state));
    }
    s.timestamp = cr_wall_seconds();
    s.has_uuid = true;
    cr_random_bytes(s.uuid, sizeof(s.uuid));
    agent_send_status(a, ev->framework_id, &s);
    cr_task_status_release(&s);
}

void agent_on_shutdown_framework(struct cr_agent *a, const struct cr_agent_event *ev)
{
    size_t n = 0;
    for (struct agent_task *t = a->tasks_head; t; t = t->next) {
        if (strcmp(t->framework_id, ev->framework_id) != 0 || cr_task_state_is_terminal(t->state))
            continue;
        kill_task(a, t, -1);
        n++;
    }
    CR_INFO("shutting down framework framework=%s tasks=%zu", ev->framework_id, n);
}

void agent_on_acknowledged(struct cr_agent *a, const struct cr_agent_event *ev)
{
    enum cr_task_state acked = CR_TASK_STAGING;
    int rc = cr_su_ack(&a->su, ev->framework_id, ev->task_id, ev->uuid, cr_now_ms(), &acked);
    if (rc == -ENOENT) {
        CR_DEBUG("acknowledgement for a task with no pending update task=%s", ev->task_id);
        return;
    }
    if (rc == -ESTALE) {
        CR_DEBUG("ignoring acknowledgement of an older update task=%s", ev->task_id);
        return;
    }
    char *key = cr_agent_task_key(ev->framework_id, ev->task_id);
    struct agent_task *t = cr_map_get(&a->tasks, key);
    free(key);
    if (!t)
        return;
    agent_ckpt_ack(a, t, ev->uuid);
    agent_ckpt_sync_later(a, NULL, NULL);
    if (cr_task_state_is_terminal(acked))
        agent_task_maybe_complete(a, t);
}
