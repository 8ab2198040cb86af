/*
 * executors.c - the agent's side of its executors: one `corral-executor` process per
 * task, spawned here, talking over <work-dir>/executor.sock (api/executor_proto.h).
 *
 * Spawn: posix_spawn in a new session (setsid: a signal to the agent's process group or
 * the agent's death never reaches it), working in the sandbox, stdin /dev/null, stdout/stderr
 * appended to <sandbox>/executor.log, every other descriptor closed, the agent's environment minus
 * CORRAL_*. The executor's pid is watched through a pidfd (readable when it exits),
 * which works for children and, after an agent restart, for adopted executors that are
 * no longer our children (those are reaped by init, never by us).
 *
 * Connection: the executor SUBSCRIBEs naming its framework, task (= executor id) and
 * container. An executor whose task/container the agent does not know (no checkpoint:
 * an orphan) is told SHUTDOWN. Otherwise the agent answers SUBSCRIBED, then LAUNCH if
 * the executor does not have the task yet, then any KILL that waited for it; the
 * updates it re-sends are deduplicated by uuid. Every UPDATE is checkpointed and the
 * executor gets ACKNOWLEDGED only once the checkpoint is durable (a group-committed
 * fdatasync per loop turn), so an update is always either with the executor or on disk.
 *
 * Exit: when the pidfd fires, a child is reaped; if the task never reported an end,
 * the container's leftovers are destroyed (cgroups) and the task is failed with
 * REASON_EXECUTOR_TERMINATED. After an agent restart, a live executor that does not
 * re-subscribe within --executor-reregister-timeout is killed and its task failed with
 * REASON_EXECUTOR_REREGISTRATION_TIMEOUT.
 *
 * Releasing (agent shutdown) closes the socket and the watches and kills nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/agent_internal.h"
#include "api/executor_proto.h"
#include "base/log.h"
#include "base/util.h"
#include "net/recordio.h"

#define MAX_CALL (16u << 20)
#define SPAWN_SUBSCRIBE_MS 30000 /* a new executor must have subscribed by then */

struct agent_exec_conn {
    struct cr_agent *agent;
    struct agent_exec_conn *prev, *next;
    uv_pipe_t pipe;
    struct cr_recordio_reader reader;
    struct agent_executor *ex; /* after a valid SUBSCRIBE */
    bool closing;
};

/* ------------------------------------------------------------------ helpers */

static void ex_list_remove(struct cr_agent *a, struct agent_executor *ex)
{
    if (ex->prev)
        ex->prev->next = ex->next;
    else
        a->executors = ex->next;
    if (ex->next)
        ex->next->prev = ex->prev;
    ex->prev = ex->next = NULL;
}

static void ex_free_mem(struct agent_executor *ex)
{
    free(ex->key);
    free(ex->container_id);
    free(ex);
}

static void ex_maybe_free(struct agent_executor *ex);

static void on_ex_handle_closed(uv_handle_t *h)
{
    struct agent_executor *ex = h->data;
    if (h == (uv_handle_t *)&ex->poll) {
        ex->poll_open = false;
        close(ex->pidfd);
        ex->pidfd = -1;
    } else
        ex->timer_open = false;
    ex_maybe_free(ex);
}

/* Free once detached from task, connection and handles. */
static void ex_maybe_free(struct agent_executor *ex)
{
    if (ex->task || ex->conn || ex->poll_open || ex->timer_open)
        return;
    ex_free_mem(ex);
}

static void ex_close_handles(struct agent_executor *ex)
{
    if (ex->poll_open && !uv_is_closing((uv_handle_t *)&ex->poll))
        uv_close((uv_handle_t *)&ex->poll, on_ex_handle_closed);
    if (ex->timer_open && !uv_is_closing((uv_handle_t *)&ex->timer))
        uv_close((uv_handle_t *)&ex->timer, on_ex_handle_closed);
    if (ex->pidfd >= 0 && !ex->poll_open) {
        close(ex->pidfd);
        ex->pidfd = -1;
    }
}

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void conn_send(struct agent_exec_conn *c, json_t *msg)
{
    if (!c || c->closing) {
        json_decref(msg);
        return;
    }
    size_t len = 0;
    char *framed = cr_exec_frame(msg, &len);
    json_decref(msg);
    uv_buf_t buf = uv_buf_init(framed, (unsigned)len);
    /* Small messages usually go out at once; queue the rest. */
    int n = uv_try_write((uv_stream_t *)&c->pipe, &buf, 1);
    if (n == (int)len) {
        free(framed);
        return;
    }
    size_t off = n > 0 ? (size_t)n : 0;
    uv_write_t *w = cr_xcalloc(1, sizeof(*w) + len - off);
    memcpy((char *)(w + 1), framed + off, len - off);
    free(framed);
    w->data = w;
    buf = uv_buf_init((char *)(w + 1), (unsigned)(len - off));
    if (uv_write(w, (uv_stream_t *)&c->pipe, &buf, 1, on_written) < 0)
        free(w);
}

/* ------------------------------------------------------------------ exits */

static void on_conn_closed(uv_handle_t *h);

static void conn_close(struct agent_exec_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    struct cr_agent *a = c->agent;
    if (c->prev)
        c->prev->next = c->next;
    else
        a->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    if (c->ex) {
        c->ex->conn = NULL;
        struct agent_executor *ex = c->ex;
        c->ex = NULL;
        ex_maybe_free(ex);
    }
    uv_close((uv_handle_t *)&c->pipe, on_conn_closed);
}

static void on_conn_closed(uv_handle_t *h)
{
    struct agent_exec_conn *c = h->data;
    cr_recordio_reader_release(&c->reader);
    free(c);
}

/* The executor process is gone (reaped if ours). */
static void executor_exited(struct agent_executor *ex, const char *how)
{
    struct cr_agent *a = ex->agent;
    ex->exited = true;
    ex_close_handles(ex);
    ex_list_remove(a, ex);
    struct agent_task *t = ex->task;
    if (ex->conn)
        conn_close(ex->conn);
    if (!t) {
        ex_maybe_free(ex);
        return;
    }
    ex->task = NULL;
    t->executor = NULL;
    char msg[256];
    snprintf(msg, sizeof(msg), "Executor terminated: %s", how);
    agent_on_executor_gone(a, t, CR_REASON_EXECUTOR_TERMINATED, msg);
    ex_maybe_free(ex);
}

static void on_pidfd(uv_poll_t *h, int status, int events)
{
    struct agent_executor *ex = h->data;
    (void)status;
    (void)events;
    char how[96] = "the process ended";
    if (ex->is_child) {
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        if (waitid(P_PIDFD, (id_t)ex->pidfd, &si, WEXITED | WNOHANG) == 0 && si.si_pid != 0) {
            if (si.si_code == CLD_EXITED)
                snprintf(how, sizeof(how), "exit status %d", si.si_status);
            else
                snprintf(how, sizeof(how), "signal %d", si.si_status);
        }
    }
    uv_poll_stop(h);
    if (ex->exited)
        return;
    CR_DEBUG("executor exited pid=%d task=%s how=\"%s\"", (int)ex->pid,
             ex->task ? ex->task->task_id : "-", how);
    executor_exited(ex, how);
}

static void on_reregister_timeout(uv_timer_t *timer)
{
    struct agent_executor *ex = timer->data;
    if (ex->conn || ex->exited)
        return;
    CR_WARN("executor did not subscribe in time; killing it pid=%d task=%s", (int)ex->pid,
            ex->task ? ex->task->task_id : "-");
    if (ex->pidfd >= 0)
        pidfd_send_signal(ex->pidfd, SIGKILL, NULL, 0);
    struct agent_task *t = ex->task;
    ex->exited = true;
    ex_close_handles(ex);
    ex_list_remove(ex->agent, ex);
    if (t) {
        ex->task = NULL;
        t->executor = NULL;
        if (ex->is_child)
            agent_on_executor_gone(ex->agent, t, CR_REASON_EXECUTOR_REGISTRATION_TIMEOUT,
                                   "Executor did not register with the agent in time");
        else
            agent_on_executor_gone(ex->agent, t, CR_REASON_EXECUTOR_REREGISTRATION_TIMEOUT,
                                   "Executor did not re-register after the agent restarted");
    }
    ex_maybe_free(ex);
}

/* The executor must subscribe within ms, or it is killed and its task failed. */
static void ex_arm_deadline(struct cr_agent *a, struct agent_executor *ex, int64_t ms)
{
    uv_timer_init(a->loop, &ex->timer);
    ex->timer.data = ex;
    ex->timer_open = true;
    uv_timer_start(&ex->timer, on_reregister_timeout, (uint64_t)ms, 0);
}

static struct agent_executor *ex_new(struct cr_agent *a, struct agent_task *t, pid_t pid, int pidfd,
                                     bool is_child)
{
    struct agent_executor *ex = cr_xcalloc(1, sizeof(*ex));
    ex->agent = a;
    ex->task = t;
    ex->key = cr_xstrdup(t->key);
    ex->container_id = cr_xstrdup(t->container_id);
    ex->pid = pid;
    ex->pidfd = pidfd;
    ex->is_child = is_child;
    ex->next = a->executors;
    if (a->executors)
        a->executors->prev = ex;
    a->executors = ex;
    t->executor = ex;
    if (pidfd >= 0 && uv_poll_init(a->loop, &ex->poll, pidfd) == 0) {
        ex->poll.data = ex;
        ex->poll_open = true;
        uv_poll_start(&ex->poll, UV_READABLE, on_pidfd);
    }
    return ex;
}

/* ------------------------------------------------------------------ spawn */

static char *flag(const char *name, const char *value)
{
    return cr_xasprintf("--%s=%s", name, value);
}

int agent_executor_spawn(struct cr_agent *a, struct agent_task *t, struct cr_err *err)
{
    char *log_path = cr_xasprintf("%s/executor.log", t->directory);
    char num[3][32];
    snprintf(num[0], sizeof(num[0]), "%lld", (long long)a->opts.pids_limit);
    snprintf(num[1], sizeof(num[1]), "%lldB", (long long)(a->opts.log_max_size));
    snprintf(num[2], sizeof(num[2]), "%lldms", (long long)a->opts.executor_recovery_ms);
    char *argv[] = {
        a->executor_path,
        flag("agent-socket", a->socket_path),
        flag("framework-id", t->framework_id),
        flag("executor-id", t->task_id),
        flag("container-id", t->container_id),
        flag("sandbox", t->directory),
        flag("isolation", a->isolation),
        flag("cgroups-mount", a->opts.cgroups_mount),
        flag("cgroups-root", a->cgroups_root),
        flag("cgroups-cpu-hard-limit", a->opts.cgroups_enable_cfs ? "true" : "false"),
        flag("pids-limit", num[0]),
        flag("seccomp", a->opts.seccomp ? "true" : "false"),
        flag("log-max-size", num[1]),
        flag("recovery-timeout", num[2]),
        flag("log-level", a->opts.log_level ? a->opts.log_level : "info"),
        NULL,
    };
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addchdir_np(&fa, t->directory);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr,
                             POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, a->executor_path, &fa, &attr, argv, a->base_env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    for (size_t i = 1; argv[i]; i++)
        free(argv[i]);
    free(log_path);
    if (rc != 0)
        return cr_err_sys(err, -rc, "start executor '%s'", a->executor_path);
    int pidfd = pidfd_open(pid, 0);
    if (pidfd < 0)
        CR_WARN("cannot watch the executor through a pidfd pid=%d error=\"%s\"", (int)pid,
                strerror(errno));
    struct agent_executor *ex = ex_new(a, t, pid, pidfd, true);
    agent_ckpt_executor(a, t, pid);
    ex_arm_deadline(a, ex, SPAWN_SUBSCRIBE_MS);
    CR_DEBUG("executor started task=%s pid=%d", t->task_id, (int)pid);
    return 0;
}

/* Whether pid is still the executor of container cid (pids get reused). */
static bool executor_is_ours(pid_t pid, const char *cid)
{
    char path[64], buf[8192];
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char want[128];
    snprintf(want, sizeof(want), "--container-id=%s", cid ? cid : "");
    for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
        if (strcmp(buf + i, want) == 0)
            return true;
    return false;
}

void agent_executor_adopt(struct cr_agent *a, struct agent_task *t, pid_t pid)
{
    int pidfd = pid > 0 ? pidfd_open(pid, 0) : -1;
    if (pidfd >= 0 && !executor_is_ours(pid, t->container_id)) {
        close(pidfd);
        pidfd = -1;
    }
    if (pid > 0 && pidfd < 0) {
        /* Gone while the agent was away, without reporting its task's end to us. */
        agent_on_executor_lost_while_down(a, t);
        return;
    }
    struct agent_executor *ex = ex_new(a, t, pid, pidfd, false);
    uv_timer_init(a->loop, &ex->timer);
    ex->timer.data = ex;
    ex->timer_open = true;
    uv_timer_start(&ex->timer, on_reregister_timeout, (uint64_t)a->opts.executor_reregister_ms, 0);
    CR_INFO("waiting for the executor to re-subscribe task=%s pid=%d", t->task_id, (int)pid);
}

/* ------------------------------------------------------------------ calls */

static void send_launch(struct cr_agent *a, struct agent_task *t, struct agent_exec_conn *c)
{
    struct cr_err err;
    cr_err_clear(&err);
    if (t->user && !t->user_ids && !(t->user_ids = cr_user_resolve(t->user, &err))) {
        conn_send(c, cr_exec_event_shutdown(0));
        char msg[320];
        snprintf(msg, sizeof(msg), "Failed to launch the container: %s", cr_err_msg(&err));
        agent_task_emit(a, t, CR_TASK_FAILED, CR_SOURCE_AGENT, CR_REASON_CONTAINER_LAUNCH_FAILED,
                        msg);
        return;
    }
    char **argv = NULL, **envp = NULL;
    if (agent_task_command(a, t, &argv, &envp, &err) < 0) {
        /* Validated at LAUNCH; only a changed agent could get here. */
        conn_send(c, cr_exec_event_shutdown(0));
        char msg[320];
        snprintf(msg, sizeof(msg), "Task is invalid: %s", cr_err_msg(&err));
        agent_task_emit(a, t, CR_TASK_ERROR, CR_SOURCE_AGENT, CR_REASON_TASK_INVALID, msg);
        return;
    }
    json_t *task = cr_json_task_info(&t->info, NULL);
    /* The user goes resolved: executors are static binaries without NSS. */
    conn_send(c, cr_exec_event_launch(task, (const char *const *)argv, (const char *const *)envp,
                                      t->user_ids));
    json_decref(task);
    agent_strv_free(argv);
    agent_strv_free(envp);
    t->launch_sent = true;
}

static bool fw_killing_state(const struct agent_task *t)
{
    return t->fw->has_info && (t->fw->info.capabilities & CR_FWCAP_TASK_KILLING_STATE);
}

/* Start watching ex's process (pid from a SUBSCRIBE, when the checkpoint had none). */
static void ex_watch(struct cr_agent *a, struct agent_executor *ex, struct agent_task *t, pid_t pid)
{
    int pidfd = pidfd_open(pid, 0);
    if (pidfd < 0)
        return;
    if (!executor_is_ours(pid, t->container_id) || uv_poll_init(a->loop, &ex->poll, pidfd) < 0) {
        close(pidfd);
        return;
    }
    ex->pid = pid;
    ex->pidfd = pidfd;
    ex->poll.data = ex;
    ex->poll_open = true;
    uv_poll_start(&ex->poll, UV_READABLE, on_pidfd);
    agent_ckpt_executor(a, t, pid);
}

static void on_subscribe(struct agent_exec_conn *c, struct cr_exec_call *call)
{
    struct cr_agent *a = c->agent;
    char *key = cr_agent_task_key(call->framework_id, call->executor_id);
    struct agent_task *t = agent_task_find(a, key);
    free(key);
    if (!t || !t->container_id || strcmp(t->container_id, call->container_id) != 0 ||
        (t->executor && t->executor->conn && t->executor->conn != c)) {
        CR_WARN("shutting down an executor the agent does not know task=%s container=%s pid=%d",
                call->executor_id, call->container_id, (int)call->pid);
        conn_send(c, cr_exec_event_shutdown(0));
        return;
    }
    struct agent_executor *ex = t->executor;
    if (!ex)
        ex = ex_new(a, t, 0, -1, false); /* its pid comes from this connection, below */
    if (ex->pidfd < 0 && call->pid > 0)
        ex_watch(a, ex, t, call->pid);
    if (ex->timer_open)
        uv_timer_stop(&ex->timer);
    ex->conn = c;
    c->ex = ex;
    if (call->task_pid > 0)
        t->task_pid = call->task_pid;
    CR_DEBUG("executor subscribed task=%s pid=%d launched=%d updates=%zu", t->task_id,
             (int)call->pid, call->launched, call->nupdates);
    conn_send(c, cr_exec_event_subscribed(a->agent_id ? a->agent_id : "", t->container_id));
    if (call->launched) {
        t->launch_sent = true;
    } else if (t->kill_pending) {
        t->launch_sent = true; /* killed before it ran: the executor reports TASK_KILLED */
    } else if (!cr_task_state_is_terminal(t->state)) {
        send_launch(a, t, c);
    }
    for (size_t i = 0; i < call->nupdates; i++) {
        if (strcmp(call->updates[i].task_id, t->task_id) != 0) {
            CR_WARN("ignoring a re-sent update for another task task=%s other=%s", t->task_id,
                    call->updates[i].task_id);
            continue;
        }
        agent_on_executor_update(a, t, &call->updates[i], call->task_pid);
    }
    if (t->kill_pending && t->executor == ex) {
        t->kill_pending = false;
        conn_send(c, cr_exec_event_kill(t->task_id, t->kill_pending_grace_ms, fw_killing_state(t)));
    }
}

static int on_record(const char *rec, size_t len, void *ud)
{
    struct agent_exec_conn *c = ud;
    struct cr_exec_call call;
    struct cr_err err;
    cr_err_clear(&err);
    if (cr_exec_call_parse(rec, len, &call, &err) < 0) {
        CR_ERROR("closing an executor connection that sent a malformed message error=\"%s\"",
                 err.msg);
        conn_close(c);
        return 1;
    }
    if (call.type == CR_EXEC_CALL_SUBSCRIBE) {
        if (c->ex)
            CR_WARN("ignoring a second SUBSCRIBE on one executor connection task=%s",
                    call.executor_id);
        else
            on_subscribe(c, &call);
    } else if (!c->ex || !c->ex->task) {
        CR_WARN("ignoring an executor UPDATE before SUBSCRIBE task=%s", call.executor_id);
    } else if (strcmp(call.status.task_id, c->ex->task->task_id) != 0) {
        CR_WARN("ignoring an executor UPDATE for another task task=%s", call.status.task_id);
    } else {
        agent_on_executor_update(c->agent, c->ex->task, &call.status, call.task_pid);
    }
    cr_exec_call_release(&call);
    return c->closing ? 1 : 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static char chunk[65536];
    *buf = uv_buf_init(chunk, sizeof(chunk));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct agent_exec_conn *c = s->data;
    if (n < 0) {
        conn_close(c);
        return;
    }
    struct cr_err err;
    cr_err_clear(&err);
    if (n > 0 && cr_recordio_feed(&c->reader, buf->base, (size_t)n, on_record, c, &err) < 0) {
        CR_ERROR("closing an executor connection with bad framing error=\"%s\"", err.msg);
        conn_close(c);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    struct cr_agent *a = server->data;
    if (status < 0)
        return;
    struct agent_exec_conn *c = cr_xcalloc(1, sizeof(*c));
    c->agent = a;
    uv_pipe_init(a->loop, &c->pipe, 0);
    c->pipe.data = c;
    cr_recordio_reader_init(&c->reader, MAX_CALL);
    c->next = a->conns;
    if (a->conns)
        a->conns->prev = c;
    a->conns = c;
    if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0) {
        conn_close(c);
        return;
    }
    uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

int agent_executors_listen(struct cr_agent *a, struct cr_err *err)
{
    a->socket_path = cr_xasprintf("%s/executor.sock", a->work_dir);
    if (strlen(a->socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return cr_err_set(err, -ENAMETOOLONG,
                          "executor socket path '%s' is too long for a unix socket (use a "
                          "shorter --work-dir)",
                          a->socket_path);
    unlink(a->socket_path);
    a->exec_server = cr_xcalloc(1, sizeof(*a->exec_server));
    uv_pipe_init(a->loop, a->exec_server, 0);
    a->exec_server->data = a;
    int rc = uv_pipe_bind(a->exec_server, a->socket_path);
    if (rc == 0) {
        chmod(a->socket_path, 0600);
        rc = uv_listen((uv_stream_t *)a->exec_server, 256, on_connection);
    }
    if (rc < 0)
        return cr_err_set(err, rc, "listen on '%s': %s", a->socket_path, uv_strerror(rc));
    return 0;
}

/* ------------------------------------------------------------------ to the executor */

void agent_executor_kill(struct cr_agent *a, struct agent_task *t, int64_t grace_ms)
{
    (void)a;
    struct agent_executor *ex = t->executor;
    if (ex && ex->conn && t->launch_sent) {
        conn_send(ex->conn, cr_exec_event_kill(t->task_id, grace_ms, fw_killing_state(t)));
        return;
    }
    t->kill_pending = true;
    t->kill_pending_grace_ms = grace_ms;
}

void agent_executor_ack(struct cr_agent *a, const char *key, const char *task_id,
                        const unsigned char uuid[16])
{
    struct agent_task *t = agent_task_find(a, key);
    if (t && t->executor && t->executor->conn)
        conn_send(t->executor->conn, cr_exec_event_acknowledged(task_id, uuid));
}

static void free_handle(uv_handle_t *h)
{
    free(h);
}

void agent_executors_release(struct cr_agent *a)
{
    if (a->exec_server) {
        uv_close((uv_handle_t *)a->exec_server, free_handle);
        a->exec_server = NULL;
        if (a->socket_path)
            unlink(a->socket_path);
    }
    while (a->conns)
        conn_close(a->conns);
    struct agent_executor *ex = a->executors;
    while (ex) {
        struct agent_executor *next = ex->next;
        if (ex->task)
            ex->task->executor = NULL;
        ex->task = NULL;
        ex->exited = true;
        ex_close_handles(ex);
        ex->prev = ex->next = NULL;
        ex_maybe_free(ex);
        ex = next;
    }
    a->executors = NULL;
    free(a->socket_path);
    a->socket_path = NULL;
}
