/*
 * executor.c - `corral-executor`: one per task, started by the agent.
 *
 * The executor is the task's keeper. The agent spawns it (in its own session, so it
 * outlives the agent) with flags naming the agent's unix socket, the framework, the
 * task (= executor id), the container id, the sandbox and the isolation to apply. It
 *
 *   1. connects to the agent and sends SUBSCRIBE; the agent answers SUBSCRIBED and LAUNCH
 *      with the TaskInfo and the resolved argv/environment/user (executor_proto.h);
 *   2. launches the task through the containerizer with the isolators the agent chose
 *      (cgroups, namespaces, filesystem, hardening), its stdout/stderr going through
 *      pipes into capped, rotated files in the sandbox (logger.h);
 *   3. reports STARTING, RUNNING (with the task's host pid), health changes (health.h:
 *      RUNNING with healthy true/false), and the terminal state with the exit code or
 *      signal, an OOM kill as FAILED/REASON_CONTAINER_LIMITATION_MEMORY;
 *   4. keeps every update until the agent acknowledges it (the agent acknowledges once
 *      the update is in its checkpoint), re-sending them all when it re-subscribes;
 *   5. exits once the terminal update is acknowledged and the container is cleaned up.
 *
 * When the agent goes away (crash, restart, upgrade) nothing happens to the task: the
 * executor reconnects every half second and re-subscribes with launched=true, its
 * task's pid and its unacknowledged updates. If the agent stays away longer than
 * --recovery-timeout (Mesos' 15 minutes) the executor kills the task and exits.
 * SHUTDOWN (the agent does not know this executor, or the framework is being torn down)
 * kills the task and exits as soon as its end is reported.
 *
 * Single-threaded (libuv loop); nothing here blocks except the cgroup kill at cleanup.
 * Kept small: the executor's RSS budget is 2 MB, so it links no HTTP stack.
 */
#include "executor/executor.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "api/executor_proto.h"
#include "api/marathon_app.h"
#include "api/mesos.h"
#include "base/flags.h"
#include "base/log.h"
#include "base/util.h"
#include "executor/container_spec.h"
#include "executor/health.h"
#include "executor/logger.h"
#include "isolate/containerizer.h"
#include "net/loop.h"
#include "net/recordio.h"

#define RECONNECT_MS 500
#define DRAIN_TIMEOUT_MS 2000   /* wait this long for the task's pipes to reach EOF */
#define ORPHAN_EXIT_MS 5000     /* after SHUTDOWN, exit this long after the end at the latest */
#define DEFAULT_GRACE_MS 3000   /* kill grace without a kill policy (Mesos' default) */
#define MAX_MESSAGE (16u << 20) /* largest message from the agent */

struct exec_opts {
    char *agent_socket;
    char *framework_id;
    char *executor_id;
    char *container_id;
    char *sandbox;
    char *isolation;
    char *cgroups_mount;
    char *cgroups_root;
    bool cgroups_cpu_hard_limit;
    int64_t pids_limit;
    bool seccomp;
    int64_t log_max_size;
    int64_t recovery_timeout_ms;
    char *log_level;
    char *config;
};

#define OFF(f) offsetof(struct exec_opts, f)
static const struct cr_flag exec_flags[] = {
    {"agent-socket", CR_FLAG_STRING, OFF(agent_socket), NULL, "the agent's unix socket", 0, 0},
    {"framework-id", CR_FLAG_STRING, OFF(framework_id), NULL, "the task's framework", 0, 0},
    {"executor-id", CR_FLAG_STRING, OFF(executor_id), NULL, "this executor (= the task id)", 0, 0},
    {"container-id", CR_FLAG_STRING, OFF(container_id), NULL, "the container to create", 0, 0},
    {"sandbox", CR_FLAG_STRING, OFF(sandbox), NULL, "the task's sandbox (working dir)", 0, 0},
    {"isolation", CR_FLAG_STRING, OFF(isolation), "posix", "isolators, in order", 0, 0},
    {"cgroups-mount", CR_FLAG_STRING, OFF(cgroups_mount), "/sys/fs/cgroup",
     "where the cgroup hierarchies are mounted", 0, 0},
    {"cgroups-root", CR_FLAG_STRING, OFF(cgroups_root), "corral", "parent cgroup of containers", 0,
     0},
    {"cgroups-cpu-hard-limit", CR_FLAG_BOOL, OFF(cgroups_cpu_hard_limit), "false",
     "cap every task's cpu time at its cpus (CFS quota)", 0, 0},
    {"pids-limit", CR_FLAG_INT, OFF(pids_limit), "0", "pids.max per container (0 = unlimited)", 0,
     1e9},
    {"seccomp", CR_FLAG_BOOL, OFF(seccomp), "true", "apply the default seccomp filter", 0, 0},
    {"log-max-size", CR_FLAG_BYTES, OFF(log_max_size), "10MB",
     "cap of each of stdout/stderr before rotation (0 = no cap)", 0, 0},
    {"recovery-timeout", CR_FLAG_DURATION, OFF(recovery_timeout_ms), "15mins",
     "kill the task and exit when the agent is gone this long", 0, 0},
    {"log-level", CR_FLAG_STRING, OFF(log_level), "info", "debug, info, warn or error", 0, 0},
    {"config", CR_FLAG_STRING, OFF(config), NULL, "read flags from this file", 0, 0},
    CR_FLAG_END,
};

/* An update not yet acknowledged by the agent. */
struct pending {
    struct pending *next;
    struct cr_task_status status;
    pid_t task_pid;
};

struct executor {
    uv_loop_t *loop;
    struct exec_opts *o;

    /* the agent connection */
    uv_pipe_t pipe;
    uv_connect_t connect_req;
    bool pipe_open, connected;
    uv_timer_t reconnect_timer;
    int64_t disconnected_since_ms;
    bool ever_connected;
    struct cr_recordio_reader reader;

    /* the task */
    struct cr_containerizer *cz;
    struct cr_container *c;
    bool launched; /* LAUNCH received (the task exists or ended) */
    bool ended;    /* the container is gone */
    bool has_info;
    struct cr_task_info info;
    char *task_id;
    char *user; /* the agent's resolved "#uid:gid:groups", or NULL */
    pid_t task_pid;
    enum cr_task_state state;
    bool kill_requested, killed_by_health, shutdown, recovery_expired;
    int healthy; /* -1 unknown */
    char *health_message;
    struct cr_health_spec *health_spec;
    struct cr_health_checker *hc;
    struct cr_logger *log_out, *log_err;
    int loggers_open;
    uv_timer_t drain_timer, exit_timer;
    struct cr_task_status *final; /* the terminal update, held until the logs drained */
    bool final_sent;

    struct pending *head, *tail;
    bool terminal_acked;
    int exit_code;
};

/* ------------------------------------------------------------------ sending */

static void on_written(uv_write_t *w, int status)
{
    (void)status; /* a failed write shows as a read error / EOF too */
    free(w->data);
    free(w);
}

static void send_msg(struct executor *x, json_t *msg)
{
    if (!x->connected) {
        json_decref(msg);
        return;
    }
    size_t len = 0;
    char *framed = cr_exec_frame(msg, &len);
    json_decref(msg);
    uv_write_t *w = cr_xcalloc(1, sizeof(*w));
    w->data = framed;
    uv_buf_t buf = uv_buf_init(framed, (unsigned)len);
    if (uv_write(w, (uv_stream_t *)&x->pipe, &buf, 1, on_written) < 0) {
        free(framed);
        free(w);
    }
}

static void send_subscribe(struct executor *x)
{
    size_t n = 0;
    for (struct pending *p = x->head; p; p = p->next)
        n++;
    const struct cr_task_status **v = cr_xcalloc(n + 1, sizeof(*v));
    n = 0;
    for (struct pending *p = x->head; p; p = p->next)
        v[n++] = &p->status;
    send_msg(x, cr_exec_call_subscribe(x->o->framework_id, x->o->executor_id, x->o->container_id,
                                       getpid(), x->launched, x->task_pid, v, n));
    free(v);
}

/* Create a status update of the task, keep it until acknowledged and send it. */
static void emit(struct executor *x, enum cr_task_state state, enum cr_task_reason reason,
                 const char *message, json_t *limitation)
{
    struct pending *p = cr_xcalloc(1, sizeof(*p));
    struct cr_task_status *s = &p->status;
    cr_task_status_init(s);
    s->task_id = cr_xstrdup(x->task_id);
    s->state = state;
    s->message = cr_xstrdup(message);
    s->source = CR_SOURCE_EXECUTOR;
    s->reason = reason;
    s->executor_id = cr_xstrdup(x->o->executor_id);
    s->container_id = cr_xstrdup(x->o->container_id);
    s->timestamp = cr_wall_seconds();
    s->healthy = (state == CR_TASK_RUNNING || cr_task_state_is_terminal(state)) ? x->healthy : -1;
    cr_task_status_set_uuid_random(s);
    if (limitation) {
        s->extra = json_object();
        json_object_set_new(s->extra, "limitation", limitation);
    }
    p->task_pid = x->task_pid;
    x->state = state;
    if (x->tail)
        x->tail->next = p;
    else
        x->head = p;
    x->tail = p;
    CR_LOG(cr_task_state_is_terminal(state) && state != CR_TASK_FINISHED ? CR_LOG_INFO
                                                                         : CR_LOG_DEBUG,
           "task status task=%s state=%s%s%s", x->task_id, cr_task_state_name(state),
           message ? " message=" : "", message ? message : "");
    send_msg(x, cr_exec_call_update(x->o->framework_id, x->o->executor_id, s, x->task_pid));
}

/* ------------------------------------------------------------------ ending */

static void maybe_exit(struct executor *x)
{
    if (!x->ended || !x->final_sent)
        return;
    if (x->terminal_acked || (x->shutdown && !x->connected) || x->recovery_expired) {
        CR_INFO("executor done task=%s", x->task_id ? x->task_id : "-");
        uv_stop(x->loop);
    }
}

static void on_exit_timer(uv_timer_t *t)
{
    struct executor *x = t->data;
    CR_WARN("the agent did not acknowledge the end of an orphaned task, exiting task=%s",
            x->task_id ? x->task_id : "-");
    uv_stop(x->loop);
}

static void send_final(struct executor *x)
{
    if (!x->final || x->loggers_open > 0)
        return;
    struct cr_task_status *f = x->final;
    uv_timer_stop(&x->drain_timer);
    json_t *lim = f->extra ? json_object_get(f->extra, "limitation") : NULL;
    emit(x, f->state, f->reason, f->message, lim ? json_incref(lim) : NULL);
    x->final = NULL;
    x->final_sent = true;
    cr_task_status_release(f);
    free(f);
    if (x->shutdown)
        uv_timer_start(&x->exit_timer, on_exit_timer, ORPHAN_EXIT_MS, 0);
    maybe_exit(x);
}

static void logger_done(struct executor *x)
{
    x->loggers_open--;
    if (!x->final_sent)
        send_final(x);
}

static void on_out_done(void *ud)
{
    struct executor *x = ud;
    x->log_out = NULL;
    logger_done(x);
}

static void on_err_done(void *ud)
{
    struct executor *x = ud;
    x->log_err = NULL;
    logger_done(x);
}

/* Stop capturing at once (a leftover process still holds the pipes). */
static void loggers_abandon(struct executor *x)
{
    cr_logger_free(x->log_out);
    cr_logger_free(x->log_err);
    x->log_out = x->log_err = NULL;
    x->loggers_open = 0;
}

static void on_drain_timeout(uv_timer_t *t)
{
    struct executor *x = t->data;
    CR_WARN("the task's output is still open after it ended (a leftover process?); reporting "
            "its end now task=%s",
            x->task_id);
    loggers_abandon(x);
    send_final(x);
}

/* The terminal state, sent once the loggers have drained (the logs are complete). */
static void finish(struct executor *x, enum cr_task_state state, enum cr_task_reason reason,
                   const char *message, json_t *limitation)
{
    if (x->hc) {
        cr_health_checker_free(x->hc);
        x->hc = NULL;
    }
    x->ended = true;
    struct cr_task_status *f = cr_xcalloc(1, sizeof(*f));
    cr_task_status_init(f);
    f->state = state;
    f->reason = reason;
    f->message = cr_xstrdup(message);
    if (limitation) {
        f->extra = json_object();
        json_object_set_new(f->extra, "limitation", limitation);
    }
    x->final = f;
    if (x->loggers_open > 0)
        uv_timer_start(&x->drain_timer, on_drain_timeout, DRAIN_TIMEOUT_MS, 0);
    send_final(x);
}

static const char *signal_text(int sig, char *buf, size_t size)
{
    const char *abbrev = sigabbrev_np(sig);
    if (abbrev)
        snprintf(buf, size, "SIG%s", abbrev);
    else
        snprintf(buf, size, "signal %d", sig);
    return buf;
}

static void on_exited(struct cr_container *c, const struct cr_container_exit *ex, void *ud)
{
    struct executor *x = ud;
    (void)c;
    x->c = NULL;
    char msg[512], sig[32];
    enum cr_task_state state;
    enum cr_task_reason reason = CR_REASON_NONE;
    json_t *limitation = NULL;
    if (!ex->launched) {
        snprintf(msg, sizeof(msg), "Failed to %s", ex->error);
        finish(x, CR_TASK_FAILED, CR_REASON_CONTAINER_LAUNCH_FAILED, msg, NULL);
        return;
    }
    if (ex->signaled)
        snprintf(msg, sizeof(msg), "Command terminated with signal %s",
                 signal_text(ex->code, sig, sizeof(sig)));
    else
        snprintf(msg, sizeof(msg), "Command exited with status %d", ex->code);
    if (ex->oom_killed) {
        state = CR_TASK_FAILED;
        reason = CR_REASON_CONTAINER_LIMITATION_MEMORY;
        snprintf(msg, sizeof(msg), "%s", ex->limitation);
        /* Mesos' TaskResourceLimitation: the resources whose limit was hit. */
        double mem = x->has_info ? cr_resources_scalar(&x->info.resources, "mem") / 1000.0 : 0;
        limitation = json_pack("{s:[{s:s, s:s, s:{s:f}}]}", "resources", "name", "mem", "type",
                               "SCALAR", "scalar", "value", mem);
    } else if (x->killed_by_health) {
        state = CR_TASK_KILLED;
        reason = CR_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED;
        snprintf(msg, sizeof(msg), "Task killed because its health check failed: %s",
                 x->health_message ? x->health_message : "unhealthy");
    } else if (x->kill_requested) {
        state = CR_TASK_KILLED;
    } else if (!ex->signaled && ex->code == 0) {
        state = CR_TASK_FINISHED;
    } else {
        state = CR_TASK_FAILED;
    }
    finish(x, state, reason, msg, limitation);
}

/* ------------------------------------------------------------------ task */

static void kill_task(struct executor *x, int64_t grace_ms)
{
    if (!x->c)
        return;
    int64_t grace = grace_ms;
    if (grace < 0)
        grace =
            x->has_info && x->info.kill_grace_ms >= 0 ? x->info.kill_grace_ms : DEFAULT_GRACE_MS;
    CR_INFO("killing task task=%s grace_ms=%lld", x->task_id, (long long)grace);
    x->kill_requested = true;
    cr_container_stop(x->c, grace);
}

/* The task's labels ask us to report the failure threshold instead of killing. */
static bool kill_left_to_scheduler(const struct executor *x)
{
    if (!x->has_info || !x->info.extra)
        return false;
    const json_t *ls = json_object_get(json_object_get(x->info.extra, "labels"), "labels");
    size_t k;
    const json_t *kv;
    json_array_foreach(ls, k, kv)
    {
        const char *key = json_string_value(json_object_get(kv, "key"));
        const char *val = json_string_value(json_object_get(kv, "value"));
        if (key && val && strcmp(key, CR_MARATHON_HEALTH_KILL_LABEL) == 0 &&
            strcmp(val, "scheduler") == 0)
            return true;
    }
    return false;
}

static void on_health(void *ud, const struct cr_health_result *r)
{
    struct executor *x = ud;
    if (x->ended || x->kill_requested)
        return;
    free(x->health_message);
    x->health_message = cr_xstrdup(r->message);
    int healthy = r->healthy ? 1 : 0;
    if (healthy != x->healthy) {
        x->healthy = healthy;
        CR_INFO("task health changed task=%s healthy=%s%s%s", x->task_id,
                healthy ? "true" : "false", r->message ? " message=" : "",
                r->message ? r->message : "");
        emit(x, CR_TASK_RUNNING, CR_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED, r->message, NULL);
    }
    if (r->kill && kill_left_to_scheduler(x)) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s (%u): %s", CR_MARATHON_HEALTH_KILL_PREFIX,
                 (unsigned)r->consecutive_failures, r->message ? r->message : "");
        CR_INFO("health check failure threshold reached, kill left to the scheduler task=%s",
                x->task_id);
        emit(x, CR_TASK_RUNNING, CR_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED, msg, NULL);
    } else if (r->kill) {
        x->killed_by_health = true;
        kill_task(x, -1);
    }
}

static void start_health(struct executor *x, struct cr_container *c)
{
    if (!x->health_spec)
        return;
    char **procs = NULL;
    size_t nprocs = 0;
    cr_container_cgroup_procs(c, &procs, &nprocs);
    struct cr_health_target target = {
        .pid = cr_container_pid(c),
        .sandbox = x->o->sandbox,
        .envp = NULL,
        .user = x->user, /* resolved by the agent: no NSS lookups in this static binary */
        .cgroup_procs = (const char *const *)procs,
        .ncgroup_procs = nprocs,
        .enter_namespaces = strstr(x->o->isolation, "namespaces") != NULL,
    };
    struct cr_err err;
    cr_err_clear(&err);
    if (cr_health_checker_new(x->loop, x->health_spec, &target, on_health, x, &x->hc, &err) < 0)
        CR_ERROR("cannot start the health check task=%s error=\"%s\"", x->task_id, err.msg);
    else
        cr_health_checker_start(x->hc);
    for (size_t i = 0; i < nprocs; i++)
        free(procs[i]);
    free(procs);
}

static void on_started(struct cr_container *c, void *ud)
{
    struct executor *x = ud;
    x->task_pid = cr_container_pid(c);
    emit(x, CR_TASK_RUNNING, CR_REASON_NONE, NULL, NULL);
    start_health(x, c);
}

/* Fail the task before its container exists (the end is reported at once). */
static void fail_launch(struct executor *x, enum cr_task_state state, enum cr_task_reason reason,
                        const char *what, const struct cr_err *err)
{
    char msg[512];
    snprintf(msg, sizeof(msg), "%s: %s", what, cr_err_msg(err));
    finish(x, state, reason, msg, NULL);
}

static void launch(struct executor *x, const struct cr_exec_event *ev)
{
    struct cr_err err;
    cr_err_clear(&err);
    x->launched = true;
    x->user = cr_xstrdup(ev->user);
    if (cr_parse_task_info(ev->task, "task", &x->info, &err) < 0) {
        fail_launch(x, CR_TASK_ERROR, CR_REASON_TASK_INVALID, "Task is invalid", &err);
        return;
    }
    x->has_info = true;
    struct cr_container_spec_ext ext;
    if (cr_container_spec_parse(&x->info, &ext, &err) < 0) {
        fail_launch(x, CR_TASK_FAILED, CR_REASON_CONTAINER_LAUNCH_FAILED, "Container is invalid",
                    &err);
        return;
    }
    json_t *hc = x->info.extra ? json_object_get(x->info.extra, "health_check") : NULL;
    if (hc && !json_is_null(hc)) {
        x->health_spec = cr_xcalloc(1, sizeof(*x->health_spec));
        if (cr_health_parse(hc, x->health_spec, &err) < 0) {
            cr_container_spec_ext_release(&ext);
            fail_launch(x, CR_TASK_ERROR, CR_REASON_TASK_INVALID, "Task is invalid", &err);
            return;
        }
    }
    char *out_path = cr_xasprintf("%s/stdout", x->o->sandbox);
    char *err_path = cr_xasprintf("%s/stderr", x->o->sandbox);
    int out_fd = -1, err_fd = -1;
    uint64_t cap = x->o->log_max_size > 0 ? (uint64_t)x->o->log_max_size : 0;
    int rc = cr_logger_new(x->loop, out_path, cap, &x->log_out, &out_fd, &err);
    if (rc == 0) {
        x->loggers_open++;
        rc = cr_logger_new(x->loop, err_path, cap, &x->log_err, &err_fd, &err);
        if (rc == 0)
            x->loggers_open++;
    }
    free(out_path);
    free(err_path);
    if (rc < 0) {
        if (out_fd >= 0)
            close(out_fd);
        loggers_abandon(x);
        cr_container_spec_ext_release(&ext);
        fail_launch(x, CR_TASK_FAILED, CR_REASON_CONTAINER_LAUNCH_FAILED,
                    "Failed to capture the task's output", &err);
        return;
    }
    const struct cr_command *cmd = &x->info.command;
    struct cr_launch_spec spec = {
        .container_id = x->o->container_id,
        .sandbox = x->o->sandbox,
        .program = cmd->shell ? "/bin/sh" : cmd->value,
        .argv = (const char *const *)ev->argv,
        .envp = (const char *const *)ev->envp,
        .use_stdio_fds = true,
        .stdout_fd = out_fd,
        .stderr_fd = err_fd,
        .user = ev->user,
        .resources = &ext.resources,
        .cpu_hard_limit = ext.cpu_hard_limit,
        .hostname = ext.hostname,
        .network = ext.network,
        .volumes = ext.volumes,
        .nvolumes = ext.nvolumes,
        .on_started = on_started,
        .on_exited = on_exited,
        .ud = x,
    };
    if (!spec.program)
        spec.program = ev->argv[0];
    rc = cr_containerizer_launch(x->cz, &spec, &x->c, &err);
    close(out_fd);
    close(err_fd);
    cr_container_spec_ext_release(&ext);
    if (rc < 0) {
        loggers_abandon(x);
        fail_launch(x, CR_TASK_FAILED, CR_REASON_CONTAINER_LAUNCH_FAILED,
                    "Failed to launch the container", &err);
        return;
    }
    CR_DEBUG("task launched task=%s container=%s pid=%d", x->task_id, x->o->container_id,
             (int)cr_container_pid(x->c));
    cr_logger_close(x->log_out, on_out_done, x); /* drains until the task's end closes it */
    cr_logger_close(x->log_err, on_err_done, x);
    emit(x, CR_TASK_STARTING, CR_REASON_NONE, NULL, NULL);
}

/* ------------------------------------------------------------------ agent events */

static void on_acknowledged(struct executor *x, const struct cr_exec_event *ev)
{
    struct pending **pp = &x->head, *prev = NULL;
    while (*pp) {
        struct pending *p = *pp;
        if (memcmp(p->status.uuid, ev->uuid, 16) == 0) {
            *pp = p->next;
            if (x->tail == p)
                x->tail = prev;
            if (cr_task_state_is_terminal(p->status.state))
                x->terminal_acked = true;
            cr_task_status_release(&p->status);
            free(p);
            maybe_exit(x);
            return;
        }
        prev = p;
        pp = &p->next;
    }
}

static void on_event(struct executor *x, const struct cr_exec_event *ev)
{
    switch (ev->type) {
    case CR_EXEC_EVENT_SUBSCRIBED:
        CR_DEBUG("subscribed to the agent agent=%s", ev->agent_id);
        break;
    case CR_EXEC_EVENT_LAUNCH:
        if (x->launched) {
            CR_WARN("ignoring a second LAUNCH task=%s", x->task_id);
            break;
        }
        launch(x, ev);
        break;
    case CR_EXEC_EVENT_KILL:
        if (!x->launched) {
            x->launched = true;
            finish(x, CR_TASK_KILLED, CR_REASON_NONE, "Task killed before it was launched", NULL);
            break;
        }
        if (x->ended || !x->c)
            break;
        if (ev->killing_state && !x->kill_requested &&
            (x->state == CR_TASK_STARTING || x->state == CR_TASK_RUNNING))
            emit(x, CR_TASK_KILLING, CR_REASON_NONE, NULL, NULL);
        kill_task(x, ev->grace_ms);
        break;
    case CR_EXEC_EVENT_ACKNOWLEDGED:
        on_acknowledged(x, ev);
        break;
    case CR_EXEC_EVENT_SHUTDOWN:
        CR_INFO("shutdown requested by the agent task=%s", x->task_id);
        x->shutdown = true;
        if (!x->launched) {
            x->launched = true;
            finish(x, CR_TASK_KILLED, CR_REASON_NONE, "Executor shut down before launch", NULL);
        } else if (x->c) {
            kill_task(x, ev->grace_ms);
        } else if (x->final_sent) {
            uv_timer_start(&x->exit_timer, on_exit_timer, ORPHAN_EXIT_MS, 0);
        }
        maybe_exit(x);
        break;
    }
}

/* ------------------------------------------------------------------ connection */

static void schedule_reconnect(struct executor *x);

static void on_pipe_closed(uv_handle_t *h)
{
    struct executor *x = h->data;
    x->pipe_open = false;
    if (!uv_is_closing((uv_handle_t *)&x->reconnect_timer))
        schedule_reconnect(x);
}

static void disconnect(struct executor *x, const char *why)
{
    if (x->connected)
        CR_WARN("lost the agent, will reconnect reason=\"%s\"", why);
    x->connected = false;
    if (x->disconnected_since_ms == 0)
        x->disconnected_since_ms = cr_now_ms();
    cr_recordio_reader_release(&x->reader);
    cr_recordio_reader_init(&x->reader, MAX_MESSAGE);
    if (x->pipe_open && !uv_is_closing((uv_handle_t *)&x->pipe))
        uv_close((uv_handle_t *)&x->pipe, on_pipe_closed);
    maybe_exit(x);
}

static int on_record(const char *rec, size_t len, void *ud)
{
    struct executor *x = ud;
    struct cr_exec_event ev;
    struct cr_err err;
    cr_err_clear(&err);
    if (cr_exec_event_parse(rec, len, &ev, &err) < 0) {
        CR_ERROR("ignoring a malformed message from the agent error=\"%s\"", err.msg);
        return 0;
    }
    on_event(x, &ev);
    cr_exec_event_release(&ev);
    return 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static char chunk[16384];
    *buf = uv_buf_init(chunk, sizeof(chunk));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct executor *x = s->data;
    if (n < 0) {
        disconnect(x, n == UV_EOF ? "the agent closed the connection" : uv_strerror((int)n));
        return;
    }
    struct cr_err err;
    cr_err_clear(&err);
    if (n > 0 && cr_recordio_feed(&x->reader, buf->base, (size_t)n, on_record, x, &err) < 0)
        disconnect(x, err.msg);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct executor *x = req->data;
    if (status < 0) {
        if (x->pipe_open && !uv_is_closing((uv_handle_t *)&x->pipe))
            uv_close((uv_handle_t *)&x->pipe, on_pipe_closed);
        return;
    }
    x->connected = true;
    if (x->ever_connected)
        CR_INFO("reconnected to the agent task=%s unacknowledged=%s", x->task_id,
                x->head ? "yes" : "no");
    x->disconnected_since_ms = 0;
    x->ever_connected = true;
    uv_read_start((uv_stream_t *)&x->pipe, on_alloc, on_read);
    send_subscribe(x);
}

static void try_connect(struct executor *x)
{
    if (x->pipe_open)
        return;
    uv_pipe_init(x->loop, &x->pipe, 0);
    x->pipe.data = x;
    x->pipe_open = true;
    x->connect_req.data = x;
    uv_pipe_connect(&x->connect_req, &x->pipe, x->o->agent_socket, on_connect);
}

static void on_reconnect_timer(uv_timer_t *t)
{
    struct executor *x = t->data;
    int64_t away = x->disconnected_since_ms ? cr_now_ms() - x->disconnected_since_ms : 0;
    if (!x->recovery_expired && away > x->o->recovery_timeout_ms) {
        CR_ERROR("the agent did not come back within the recovery timeout; killing the task "
                 "task=%s timeout_ms=%lld",
                 x->task_id, (long long)x->o->recovery_timeout_ms);
        x->recovery_expired = true;
        if (x->c)
            kill_task(x, 0);
        else if (!x->launched)
            uv_stop(x->loop);
        maybe_exit(x);
        return;
    }
    try_connect(x);
}

static void schedule_reconnect(struct executor *x)
{
    uv_timer_start(&x->reconnect_timer, on_reconnect_timer, RECONNECT_MS, 0);
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *out)
{
    fprintf(out, "usage: corral-executor --agent-socket PATH --framework-id F --executor-id E\n"
                 "                       --container-id C --sandbox DIR [flags]\n\n"
                 "Started by `corral agent`, one per task: holds the task in its container,\n"
                 "captures its logs, runs its health check and reports to the agent.\n\n"
                 "flags:\n");
    cr_flags_usage(out, exec_flags);
}

static int check_opts(const struct exec_opts *o, struct cr_err *err)
{
    const char *missing = !o->agent_socket   ? "agent-socket"
                          : !o->framework_id ? "framework-id"
                          : !o->executor_id  ? "executor-id"
                          : !o->container_id ? "container-id"
                          : !o->sandbox      ? "sandbox"
                                             : NULL;
    if (missing)
        return cr_err_set(err, -EINVAL, "flag --%s is required", missing);
    if (strlen(o->agent_socket) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return cr_err_set(err, -ENAMETOOLONG, "flag --agent-socket: path too long");
    return 0;
}

int cr_executor_main(int argc, char **argv)
{
    struct exec_opts o;
    memset(&o, 0, sizeof(o));
    struct cr_err err;
    cr_err_clear(&err);
    int help = 0;
    cr_log_init("executor");
    if (cr_flags_parse(exec_flags, &o, argc - 1, argv + 1, NULL, &help, &err) < 0 ||
        (!help && check_opts(&o, &err) < 0)) {
        fprintf(stderr, "corral-executor: %s\n", err.msg);
        cr_flags_release(exec_flags, &o);
        return 2;
    }
    if (help) {
        usage(stdout);
        cr_flags_release(exec_flags, &o);
        return 0;
    }
    enum cr_log_level lvl;
    if (cr_log_level_parse(o.log_level, &lvl) == 0)
        cr_log_set_level(lvl);
    signal(SIGPIPE, SIG_IGN);

    uv_loop_t loop;
    uv_loop_init(&loop);
    struct executor x;
    memset(&x, 0, sizeof(x));
    x.loop = &loop;
    x.o = &o;
    x.healthy = -1;
    x.task_id = cr_xstrdup(o.executor_id);
    x.state = CR_TASK_STAGING;
    cr_task_info_init(&x.info);
    cr_recordio_reader_init(&x.reader, MAX_MESSAGE);
    uv_timer_init(&loop, &x.reconnect_timer);
    x.reconnect_timer.data = &x;
    uv_timer_init(&loop, &x.drain_timer);
    x.drain_timer.data = &x;
    uv_timer_init(&loop, &x.exit_timer);
    x.exit_timer.data = &x;

    struct cr_isolation_opts iso = {
        .cgroups_mount = o.cgroups_mount,
        .cgroups_root = o.cgroups_root,
        .cpu_hard_limit = o.cgroups_cpu_hard_limit,
        .pids_limit = (uint64_t)o.pids_limit,
        .seccomp = o.seccomp,
    };
    int rc = 1;
    if (cr_containerizer_new(&loop, o.isolation, &iso, &x.cz, &err) < 0) {
        CR_ERROR("cannot set up isolation error=\"%s\"", err.msg);
        fprintf(stderr, "corral-executor: %s\n", err.msg);
        goto out;
    }
    CR_INFO("executor started task=%s container=%s isolation=%s", x.task_id, o.container_id,
            o.isolation);
    x.disconnected_since_ms = cr_now_ms(); /* not connected yet: the recovery timeout runs */
    try_connect(&x);
    uv_run(&loop, UV_RUN_DEFAULT);
    rc = x.exit_code;
out:
    if (x.c)
        CR_ERROR("exiting with the task still running task=%s", x.task_id);
    cr_health_checker_free(x.hc);
    loggers_abandon(&x);
    cr_containerizer_free(x.cz);
    uv_close((uv_handle_t *)&x.reconnect_timer, NULL);
    uv_close((uv_handle_t *)&x.drain_timer, NULL);
    uv_close((uv_handle_t *)&x.exit_timer, NULL);
    if (x.pipe_open && !uv_is_closing((uv_handle_t *)&x.pipe))
        uv_close((uv_handle_t *)&x.pipe, NULL);
    cr_loop_close_all(&loop);
    uv_loop_close(&loop);
    while (x.head) {
        struct pending *p = x.head;
        x.head = p->next;
        cr_task_status_release(&p->status);
        free(p);
    }
    if (x.final) {
        cr_task_status_release(x.final);
        free(x.final);
    }
    if (x.health_spec) {
        cr_health_spec_release(x.health_spec);
        free(x.health_spec);
    }
    free(x.health_message);
    cr_task_info_release(&x.info);
    free(x.task_id);
    free(x.user);
    cr_recordio_reader_release(&x.reader);
    cr_flags_release(exec_flags, &o);
    return rc;
}
