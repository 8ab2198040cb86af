/*
 * agent.c - `corral agent`: flags, start-up, shutdown, the agent id, the glue between
 * the master link, the tasks and the status-update queues.
 *
 * Start-up: create the work dir (and <work-dir>/meta), read the agent id a previous run
 * persisted in <work-dir>/meta/agent_id, detect resources, start the containerizer,
 * serve HTTP, then subscribe to the master. The id the master confirms in SUBSCRIBED is
 * written back (atomically) when it changed, so a restarted agent re-registers as itself.
 * A master that removed this agent answers its SUBSCRIBE 410: the agent then kills every
 * task, acknowledges their updates itself, deletes the id and subscribes as a new agent
 * once nothing of the old one runs (removal_step).
 *
 * Shutdown (SIGINT/SIGTERM): stop every task (TERM, its grace period, KILL of its process
 * group), then leave the loop and free everything outside any callback. A second signal
 * leaves at once. Agent restarts are meant never to kill work (DESIGN.md §2.6), but until
 * tasks are checkpointed and re-adopted by a restarted agent (the next issue), a task left
 * behind would run on unmanaged and invisible to the master, so for now stopping the agent
 * stops its tasks; the master reports them gone when the agent comes back.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent_internal.h"
#include "agent/resources_detect.h"
#include "base/flags.h"
#include "isolate/cgroup.h"
#include "base/log.h"
#include "base/util.h"
#include "net/loop.h"

#define OFF(f) offsetof(struct cr_agent_options, f)

static const struct cr_flag agent_flags[] = {
    {"master", CR_FLAG_STRING, OFF(master), NULL,
     "master(s) to register with: HOST:PORT[,HOST:PORT...] (required)", 0, 0},
    {"ip", CR_FLAG_STRING, OFF(ip), "127.0.0.1", "IPv4 address to listen on and advertise", 0, 0},
    {"port", CR_FLAG_INT, OFF(port), "5051", "HTTP port (0 = any free port)", 0, 65535},
    {"hostname", CR_FLAG_STRING, OFF(hostname), NULL,
     "hostname to advertise (default: the machine's)", 0, 0},
    {"work-dir", CR_FLAG_STRING, OFF(work_dir), "/var/lib/corral/agent",
     "directory for sandboxes and the agent's metadata", 0, 0},
    {"resources", CR_FLAG_STRING, OFF(resources), NULL,
     "resources in Mesos text form (cpus:4;mem:4096;ports:[31000-32000]); each one given "
     "replaces the detected one",
     0, 0},
    {"attributes", CR_FLAG_STRING, OFF(attributes), NULL, "attributes, e.g. rack:r1;zone:a", 0, 0},
    {"isolation", CR_FLAG_STRING, OFF(isolation), "auto",
     "isolators, comma-separated, in order (known: posix)", 0, 0},
    {"executor-path", CR_FLAG_STRING, OFF(executor_path), NULL,
     "the corral-executor program (default: next to this binary)", 0, 0},
    {"executor-reregister-timeout", CR_FLAG_DURATION, OFF(executor_reregister_ms), "2secs",
     "after a restart, a live executor that has not re-subscribed by then is killed", 0, 0},
    {"executor-recovery-timeout", CR_FLAG_DURATION, OFF(executor_recovery_ms), "15mins",
     "executors kill their task and exit when the agent is gone this long", 0, 0},
    {"cgroups-mount", CR_FLAG_STRING, OFF(cgroups_mount), "/sys/fs/cgroup",
     "where the cgroup hierarchies are mounted", 0, 0},
    {"cgroups-root", CR_FLAG_STRING, OFF(cgroups_root), NULL,
     "parent cgroup of this agent's containers (default: corral/agent-<hash of work dir>)", 0, 0},
    {"cgroups-enable-cfs", CR_FLAG_BOOL, OFF(cgroups_enable_cfs), "false",
     "cap every task's cpu time at its cpus (CFS quota), not only tasks with limits.cpus", 0, 0},
    {"cgroups-favor-dynmods", CR_FLAG_BOOL, OFF(cgroups_favor_dynmods), "true",
     "while the agent runs, make moving tasks into v1 cgroups cheap (no RCU wait per launch; "
     "slightly slower fork/exit system-wide)",
     0, 0},
    {"pids-limit", CR_FLAG_INT, OFF(pids_limit), "4096",
     "most processes and threads per container (0 = unlimited)", 0, 1e9},
    {"seccomp", CR_FLAG_BOOL, OFF(seccomp), "true",
     "apply the default seccomp filter (Docker's default list) to tasks", 0, 0},
    {"log-max-size", CR_FLAG_BYTES, OFF(log_max_size), "10MB",
     "cap of each task's stdout and stderr; the older half is kept as stdout.1 (0 = no cap)", 0, 0},
    {"gc-delay", CR_FLAG_DURATION, OFF(gc_delay_ms), "1weeks",
     "keep a finished task's sandbox this long at most (less as the disk fills)", 0, 0},
    {"gc-disk-headroom", CR_FLAG_DOUBLE, OFF(gc_disk_headroom), "0.1",
     "share of the work dir's disk to keep free: sandboxes are removed sooner as usage nears "
     "1 - headroom (age limit = gc-delay * max(0, 1 - headroom - usage))",
     0, 1},
    {"log-level", CR_FLAG_STRING, OFF(log_level), "info", "debug, info, warn or error", 0, 0},
    {"config", CR_FLAG_STRING, OFF(config), NULL, "read flags from this file (name = value)", 0, 0},
    CR_FLAG_END,
};

/* ------------------------------------------------------------------ options */

static void options_copy(struct cr_agent_options *dst, const struct cr_agent_options *src)
{
    dst->master = cr_xstrdup(src->master);
    dst->ip = cr_xstrdup(src->ip ? src->ip : "127.0.0.1");
    dst->port = src->port;
    dst->hostname = cr_xstrdup(src->hostname);
    dst->work_dir = cr_xstrdup(src->work_dir ? src->work_dir : "/var/lib/corral/agent");
    dst->resources = cr_xstrdup(src->resources);
    dst->attributes = cr_xstrdup(src->attributes);
    dst->log_level = cr_xstrdup(src->log_level);
    dst->isolation = cr_xstrdup(src->isolation ? src->isolation : "auto");
    dst->executor_path = cr_xstrdup(src->executor_path);
    dst->executor_reregister_ms = src->executor_reregister_ms;
    dst->executor_recovery_ms = src->executor_recovery_ms;
    dst->cgroups_mount = cr_xstrdup(src->cgroups_mount ? src->cgroups_mount : "/sys/fs/cgroup");
    dst->cgroups_root = cr_xstrdup(src->cgroups_root);
    dst->cgroups_enable_cfs = src->cgroups_enable_cfs;
    dst->cgroups_favor_dynmods = src->cgroups_favor_dynmods;
    dst->pids_limit = src->pids_limit;
    dst->seccomp = src->seccomp;
    dst->log_max_size = src->log_max_size;
    dst->gc_delay_ms = src->gc_delay_ms;
    dst->gc_disk_headroom = src->gc_disk_headroom;
    dst->config = cr_xstrdup(src->config);
}

static void options_release(struct cr_agent_options *o)
{
    free(o->master);
    free(o->ip);
    free(o->hostname);
    free(o->work_dir);
    free(o->resources);
    free(o->attributes);
    free(o->log_level);
    free(o->isolation);
    free(o->executor_path);
    free(o->cgroups_mount);
    free(o->cgroups_root);
    free(o->config);
    memset(o, 0, sizeof(*o));
}

/* ------------------------------------------------------------------ agent id */

static char *agent_id_path(const struct cr_agent *a)
{
    return cr_xasprintf("%s/meta/agent_id", a->work_dir);
}

/* The id a previous run persisted, or NULL. */
static char *read_agent_id(const struct cr_agent *a)
{
    char *path = agent_id_path(a);
    char *text = NULL;
    size_t len = 0;
    struct cr_err err;
    cr_err_clear(&err);
    int rc = cr_read_file(path, &text, &len, &err);
    if (rc < 0) {
        if (rc != -ENOENT)
            CR_WARN("cannot read the agent id, registering as a new agent error=\"%s\"", err.msg);
        free(path);
        return NULL;
    }
    free(path);
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' ' || text[len - 1] == '\r'))
        text[--len] = '\0';
    if (len == 0 || strchr(text, '/') || strchr(text, '\n') || strlen(text) != len) {
        CR_WARN("ignoring a malformed agent id file, registering as a new agent");
        free(text);
        return NULL;
    }
    return text;
}

static void persist_agent_id(const struct cr_agent *a)
{
    char *path = agent_id_path(a);
    char *text = cr_xasprintf("%s\n", a->agent_id);
    struct cr_err err;
    cr_err_clear(&err);
    if (cr_write_file_atomic(path, text, strlen(text), &err) < 0)
        CR_ERROR("cannot persist the agent id; a restart will register a new agent error=\"%s\"",
                 err.msg);
    free(text);
    free(path);
}

/* ------------------------------------------------------------------ status updates */

static void su_send(const char *framework_id, const struct cr_task_status *status, void *ud)
{
    struct cr_agent *a = ud;
    if (!a->agent_id || !a->link)
        return;
    json_t *call = cr_agent_msg_update(a->agent_id, framework_id, status);
    cr_master_link_post(a->link, call);
    json_decref(call);
}

static void removal_step(struct cr_agent *a);

static void on_su_tick(uv_timer_t *t)
{
    struct cr_agent *a = t->data;
    if (a->removed)
        removal_step(a);
    cr_su_tick(&a->su, cr_now_ms());
    if (a->failed_acks)
        agent_ckpt_sync_later(a, NULL, NULL); /* retries the journal; success sends them */
    if (cr_su_pending(&a->su) == 0 && !a->failed_acks && !a->removed)
        uv_timer_stop(&a->su_timer);
}

void agent_tick_ensure(struct cr_agent *a)
{
    if (!a->stopping && (cr_su_pending(&a->su) > 0 || a->failed_acks || a->removed) &&
        !uv_is_active((uv_handle_t *)&a->su_timer))
        uv_timer_start(&a->su_timer, on_su_tick, CR_AGENT_SU_TICK_MS, CR_AGENT_SU_TICK_MS);
}

void agent_send_status(struct cr_agent *a, const char *framework_id,
                       const struct cr_task_status *status)
{
    if (cr_su_add(&a->su, framework_id, status, cr_now_ms()) < 0) {
        CR_ERROR("cannot queue a status update task=%s", status->task_id);
        return;
    }
    agent_tick_ensure(a);
}

/* ------------------------------------------------------------------ master link */

static json_t *build_subscribe(void *ud)
{
    struct cr_agent *a = ud;
    struct cr_agent_info info; /* shallow: borrows the agent's strings and resources */
    memset(&info, 0, sizeof(info));
    info.id = a->agent_id;
    info.hostname = a->hostname;
    info.port = a->port;
    info.resources = a->resources;
    info.attributes = a->attributes;

    size_t nfw = 0;
    const struct cr_framework_info **fws =
        cr_xcalloc(cr_map_count(&a->frameworks) + 1, sizeof(*fws));
    size_t it = 0;
    const char *key;
    void *value;
    while (cr_map_next(&a->frameworks, &it, &key, &value)) {
        const struct agent_framework *fw = value;
        if (fw->has_info && fw->nactive > 0)
            fws[nfw++] = &fw->info;
    }
    struct cr_agent_subscribe_task *tasks = cr_xcalloc(a->ntasks + 1, sizeof(*tasks));
    size_t nt = 0;
    for (const struct agent_task *t = a->tasks_head; t; t = t->next) {
        tasks[nt].framework_id = t->framework_id;
        tasks[nt].task = &t->info;
        tasks[nt].state = t->state;
        tasks[nt].latest_status = agent_task_latest(t);
        nt++;
    }
    struct cr_agent_subscribe_view v = {
        .info = &info,
        .ip = a->advertise_ip,
        .port = a->port,
        .version = CR_VERSION,
        .frameworks = fws,
        .nframeworks = nfw,
        .tasks = tasks,
        .ntasks = nt,
    };
    json_t *call = cr_agent_msg_subscribe(&v);
    free(fws);
    free(tasks);
    return call;
}

static void on_subscribed(const struct cr_agent_event *ev, void *ud)
{
    struct cr_agent *a = ud;
    struct cr_err err;
    cr_err_clear(&err);
    if (cr_validate_id(ev->agent_id, &err) < 0) {
        /* It names directories under the work dir: never use a malformed one. */
        CR_ERROR("master assigned an unusable agent id id=\"%s\" error=\"%s\"", ev->agent_id,
                 err.msg);
        cr_master_link_reconnect(a->link, "master assigned an unusable agent id");
        return;
    }
    if (!a->agent_id || strcmp(a->agent_id, ev->agent_id) != 0) {
        if (a->agent_id)
            CR_WARN("master assigned a new agent id old=%s new=%s", a->agent_id, ev->agent_id);
        free(a->agent_id);
        a->agent_id = cr_xstrdup(ev->agent_id);
        persist_agent_id(a);
    }
    free(a->master_hostname);
    a->master_hostname =
        cr_xstrdup(json_string_value(json_object_get(ev->master_info, "hostname")));
    cr_su_set_online(&a->su, true, cr_now_ms());
    agent_tick_ensure(a);
}

static void on_invalid_launch(const char *framework_id, const char *task_id, const char *why,
                              void *ud)
{
    agent_on_invalid_launch(ud, framework_id, task_id, why);
}

static void on_refused(const char *body, void *ud)
{
    struct cr_agent *a = ud;
    CR_ERROR("the master refused this agent; fix --resources or remove the tasks named "
             "error=\"%s\"",
             body);
    fprintf(stderr, "corral agent: %s\n", body);
    a->refused = true;
    uv_stop(a->loop);
}

/* ------------------------------------------------------------------ removal */

/* Acknowledge every pending update ourselves (nobody will: the master reported the
 * tasks gone). Returns how many were acknowledged. */
static size_t ack_pending_locally(struct cr_agent *a)
{
    size_t n = cr_map_count(&a->su.streams), k = 0;
    struct cr_agent_event *acks = cr_xcalloc(n + 1, sizeof(*acks));
    size_t it = 0;
    void *v;
    while (cr_map_next(&a->su.streams, &it, NULL, &v)) {
        const struct cr_su_stream *st = v;
        if (!st->head)
            continue;
        cr_agent_event_init(&acks[k]);
        acks[k].type = CR_AGENT_EVENT_ACKNOWLEDGED;
        acks[k].framework_id = cr_xstrdup(st->framework_id);
        acks[k].task_id = cr_xstrdup(st->task_id);
        memcpy(acks[k].uuid, st->head->status.uuid, sizeof(acks[k].uuid));
        k++;
    }
    for (size_t i = 0; i < k; i++) {
        agent_on_acknowledged(a, &acks[i]);
        cr_agent_event_release(&acks[i]);
    }
    free(acks);
    return k;
}

/*
 * One step of leaving a removal behind (every tick while a->removed): kill every task,
 * acknowledge their updates locally, and once none is left forget the old id and
 * subscribe again as a new agent. The old tasks never run next to the new agent.
 */
static void removal_step(struct cr_agent *a)
{
    struct agent_task *next;
    for (struct agent_task *t = a->tasks_head; t; t = next) {
        next = t->next;
        if (cr_task_state_is_terminal(t->state) || t->kill_requested)
            continue;
        struct cr_agent_event ev;
        cr_agent_event_init(&ev);
        ev.type = CR_AGENT_EVENT_KILL;
        ev.framework_id = t->framework_id;
        ev.task_id = t->task_id;
        ev.kill_grace_ms = -1;
        agent_on_kill(a, &ev); /* borrowed strings: not released */
    }
    for (int round = 0; round < 64 && ack_pending_locally(a) > 0; round++)
        ;
    if (a->ntasks > 0 || cr_su_pending(&a->su) > 0) {
        CR_DEBUG("removed agent still shutting down tasks=%zu pending_updates=%zu", a->ntasks,
                 cr_su_pending(&a->su));
        return;
    }
    CR_WARN("every task of the removed agent is shut down; registering as a new agent old=%s",
            a->agent_id ? a->agent_id : "-");
    char *path = agent_id_path(a);
    if (unlink(path) < 0 && errno != ENOENT)
        CR_ERROR("cannot remove the old agent id file path=%s error=\"%s\"", path, strerror(errno));
    free(path);
    free(a->agent_id);
    a->agent_id = NULL;
    a->removed = false;
    cr_master_link_start(a->link);
}

static void on_removed(const char *body, void *ud)
{
    struct cr_agent *a = ud;
    CR_WARN("the master removed this agent; shutting down its tasks, then registering as a "
            "new agent agent=%s tasks=%zu reason=\"%s\"",
            a->agent_id ? a->agent_id : "-", a->ntasks, body);
    a->removed = true;
    removal_step(a);
    agent_tick_ensure(a);
}

static void on_disconnected(void *ud)
{
    struct cr_agent *a = ud;
    cr_su_set_online(&a->su, false, cr_now_ms());
}

static void on_event(const struct cr_agent_event *ev, void *ud)
{
    struct cr_agent *a = ud;
    switch (ev->type) {
    case CR_AGENT_EVENT_LAUNCH:
        agent_on_launch(a, ev);
        break;
    case CR_AGENT_EVENT_KILL:
        agent_on_kill(a, ev);
        break;
    case CR_AGENT_EVENT_SHUTDOWN_FRAMEWORK:
        agent_on_shutdown_framework(a, ev);
        break;
    case CR_AGENT_EVENT_ACKNOWLEDGED:
        agent_on_acknowledged(a, ev);
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------ lifecycle */

static char *machine_hostname(void)
{
    char buf[256];
    if (gethostname(buf, sizeof(buf)) != 0)
        return cr_xstrdup("localhost");
    buf[sizeof(buf) - 1] = '\0';
    return cr_xstrdup(buf);
}

/*
 * The address to advertise: --ip itself, or when bound to every interface (0.0.0.0) the
 * first IPv4 address of the hostname (127.0.0.1 if it has none). Owned.
 */
static char *advertised_ip(const char *ip, const char *hostname)
{
    if (strcmp(ip, "0.0.0.0") != 0)
        return cr_xstrdup(ip);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    char buf[INET_ADDRSTRLEN] = "127.0.0.1";
    if (getaddrinfo(hostname, NULL, &hints, &res) == 0 && res) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)res->ai_addr;
        inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
    }
    if (res)
        freeaddrinfo(res);
    return cr_xstrdup(buf);
}

static void on_agent_closed(uv_handle_t *h)
{
    struct cr_agent *a = h->data;
    free(a->work_dir);
    free(a->agent_id);
    free(a->hostname);
    free(a->advertise_ip);
    free(a->master_hostname);
    cr_resources_release(&a->resources);
    cr_attributes_release(&a->attributes);
    agent_strv_free(a->base_env);
    if (a->dynmods_fd >= 0)
        close(a->dynmods_fd);
    free(a->launch_ms);
    free(a->isolation);
    free(a->cgroups_root);
    free(a->executor_path);
    options_release(&a->opts);
    free(a);
}

/* "auto": every isolator this machine supports (all of them as root with cgroups). */
static int resolve_isolation(struct cr_agent *a, struct cr_err *err)
{
    (void)err;
    if (!a->opts.cgroups_root) {
        uint32_t h = 2166136261u; /* FNV-1a of the work dir: one parent cgroup per agent */
        for (const char *p = a->work_dir; *p; p++)
            h = (h ^ (unsigned char)*p) * 16777619u;
        a->cgroups_root = cr_xasprintf("corral/agent-%08x", h);
    } else {
        a->cgroups_root = cr_xstrdup(a->opts.cgroups_root);
    }
    struct cr_cgroup_system *sys = NULL;
    struct cr_err cerr;
    cr_err_clear(&cerr);
    bool root = geteuid() == 0;
    bool cgroups = root && cr_cgroup_detect(a->opts.cgroups_mount, &sys, &cerr) == 0;
    bool v1 = cgroups && cr_cgroup_system_version(sys) == CR_CGROUP_V1;
    cr_cgroup_system_free(sys);
    if (strcmp(a->opts.isolation, "auto") != 0) {
        a->isolation = cr_xstrdup(a->opts.isolation);
    } else if (!root) {
        CR_WARN("not running as root: tasks get no cgroups, namespaces or seccomp (posix "
                "isolation only)");
        a->isolation = cr_xstrdup("posix");
    } else if (!cgroups) {
        CR_WARN("no usable cgroups, tasks run without resource limits error=\"%s\"", cerr.msg);
        a->isolation = cr_xstrdup("posix,namespaces,filesystem,hardening");
    } else {
        a->isolation = cr_xstrdup("cgroups,namespaces,filesystem,hardening");
    }
    if (v1 && a->opts.cgroups_favor_dynmods && strstr(a->isolation, "cgroups")) {
        a->dynmods_fd = cr_cgroup_favor_dynmods(a->work_dir, &cerr);
        if (a->dynmods_fd < 0)
            CR_WARN("cannot make cgroup moves cheap; each launch waits for an RCU grace period "
                    "error=\"%s\"",
                    cerr.msg);
    }
    return 0;
}

/* The executor program: --executor-path, or corral-executor next to this binary. */
static char *executor_program(const struct cr_agent *a)
{
    if (a->opts.executor_path)
        return cr_xstrdup(a->opts.executor_path);
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return cr_xstrdup("corral-executor");
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    return cr_xasprintf("%s/corral-executor", self);
}

/* Containers of recovered tasks stay; every other container of this agent is an orphan. */
static int recover_containers(struct cr_agent *a, struct cr_err *err)
{
    struct cr_container_ref *known = cr_xcalloc(a->ntasks + 1, sizeof(*known));
    size_t n = 0;
    for (const struct agent_task *t = a->tasks_head; t; t = t->next)
        if (t->container_id && t->executor)
            known[n++] =
                (struct cr_container_ref){.container_id = t->container_id, .pid = t->task_pid};
    int rc = cr_containerizer_recover(a->cz, known, n, err);
    free(known);
    if (rc < 0)
        cr_err_wrap(err, "recover containers");
    return rc;
}

int cr_agent_new(uv_loop_t *loop, const struct cr_agent_options *opts, struct cr_agent **out,
                 struct cr_err *err)
{
    *out = NULL;
    struct in_addr addr;
    if (!opts->ip || inet_pton(AF_INET, opts->ip, &addr) != 1)
        return cr_err_set(err, -EINVAL, "--ip: '%s' is not an IPv4 address",
                          opts->ip ? opts->ip : "");
    if (!opts->master || !*opts->master)
        return cr_err_set(err, -EINVAL, "--master is required (HOST:PORT[,HOST:PORT...])");
    if (opts->port < 0 || opts->port > 65535)
        return cr_err_set(err, -EINVAL, "--port: %lld is not a port", (long long)opts->port);

    struct cr_agent *a = cr_xcalloc(1, sizeof(*a));
    a->loop = loop;
    options_copy(&a->opts, opts);
    a->hostname = opts->hostname ? cr_xstrdup(opts->hostname) : machine_hostname();
    a->advertise_ip = advertised_ip(a->opts.ip, a->hostname);
    a->start_time = cr_wall_seconds();
    cr_resources_init(&a->resources);
    cr_attributes_init(&a->attributes);
    agent_tasks_init(a);
    cr_su_init(&a->su, su_send, a);
    uv_timer_init(loop, &a->su_timer);
    a->su_timer.data = a;
    a->su_timer_open = true;
    a->base_env = agent_base_env();
    a->launch_ms = cr_xcalloc(CR_AGENT_LAUNCH_SAMPLES, sizeof(*a->launch_ms));
    a->dynmods_fd = -1;
    if (a->opts.executor_reregister_ms <= 0)
        a->opts.executor_reregister_ms = 2000;
    if (a->opts.executor_recovery_ms <= 0)
        a->opts.executor_recovery_ms = 15 * 60 * 1000;

    int rc;
    char *meta = NULL;
    if ((rc = cr_mkdir_p(a->opts.work_dir, 0755, err)) < 0) {
        cr_err_wrap(err, "create work dir");
        goto fail;
    }
    a->work_dir = realpath(a->opts.work_dir, NULL);
    if (!a->work_dir) {
        rc = cr_err_sys(err, -errno, "resolve work dir '%s'", a->opts.work_dir);
        goto fail;
    }
    if ((rc = cr_gc_new(loop, a->opts.gc_delay_ms, a->opts.gc_disk_headroom, a->work_dir, &a->gc,
                        err)) < 0)
        goto fail;
    meta = cr_xasprintf("%s/meta", a->work_dir);
    rc = cr_mkdir_p(meta, 0755, err);
    free(meta);
    if (rc < 0) {
        cr_err_wrap(err, "create the agent's metadata dir");
        goto fail;
    }
    a->agent_id = read_agent_id(a);
    a->executor_path = executor_program(a);

    struct cr_machine_facts facts;
    if ((rc = cr_agent_probe_machine(a->work_dir, &facts, err)) < 0)
        goto fail;
    if ((rc = cr_agent_compute_resources(&facts, a->opts.resources, &a->resources, err)) < 0)
        goto fail;
    if (a->opts.attributes && *a->opts.attributes &&
        (rc = cr_attributes_parse_text(&a->attributes, a->opts.attributes, err)) < 0) {
        cr_err_wrap(err, "--attributes");
        goto fail;
    }
    if ((rc = resolve_isolation(a, err)) < 0)
        goto fail;
    struct cr_isolation_opts iso = {
        .cgroups_mount = a->opts.cgroups_mount,
        .cgroups_root = a->cgroups_root,
        .cpu_hard_limit = a->opts.cgroups_enable_cfs,
        .pids_limit = (uint64_t)a->opts.pids_limit,
        .seccomp = a->opts.seccomp,
    };
    if ((rc = cr_containerizer_new(loop, a->isolation, &iso, &a->cz, err)) < 0) {
        cr_err_wrap(err, "--isolation");
        goto fail;
    }
    if ((rc = agent_ckpt_recover(a, err)) < 0)
        goto fail;
    agent_tasks_recovered(a);
    agent_ckpt_gc_old_sandboxes(a);
    if ((rc = recover_containers(a, err)) < 0)
        goto fail;
    if ((rc = agent_executors_listen(a, err)) < 0)
        goto fail;
    if ((rc = cr_http_client_new(loop, &a->client, err)) < 0)
        goto fail;
    struct cr_http_server_config hcfg = {
        .bind_ip = a->opts.ip,
        .port = (uint16_t)a->opts.port,
        .max_body_bytes = 1024 * 1024,
        .handler = agent_http_handle,
        .ud = a,
    };
    if ((rc = cr_http_server_start(loop, &hcfg, &a->http, err)) < 0) {
        cr_err_wrap(err, "serve HTTP on %s:%lld", a->opts.ip, (long long)a->opts.port);
        goto fail;
    }
    a->port = cr_http_server_port(a->http);
    struct cr_master_link_callbacks cbs = {
        .build_subscribe = build_subscribe,
        .on_subscribed = on_subscribed,
        .on_disconnected = on_disconnected,
        .on_event = on_event,
        .on_invalid_launch = on_invalid_launch,
        .on_refused = on_refused,
        .on_removed = on_removed,
    };
    if ((rc = cr_master_link_new(loop, a->client, a->opts.master, &cbs, a, &a->link, err)) < 0)
        goto fail;

    char res_text[512];
    cr_resources_format(&a->resources, res_text, sizeof(res_text));
    CR_INFO("agent started address=%s:%u advertised=%s hostname=%s work_dir=%s id=%s "
            "resources=\"%s\"",
            a->opts.ip, a->port, a->advertise_ip, a->hostname, a->work_dir,
            a->agent_id ? a->agent_id : "(new)", res_text);
    cr_master_link_start(a->link);
    *out = a;
    return 0;

fail:
    cr_agent_free(a);
    return rc < 0 ? rc : -EINVAL;
}

uint16_t cr_agent_port(const struct cr_agent *a)
{
    return a->port;
}

const char *cr_agent_id(const struct cr_agent *a)
{
    return a->agent_id;
}

/* Remove this agent's (empty) parent cgroup and its parents up to the mount, so a
 * stopped agent with no tasks leaves no cgroup behind; busy ones stay. */
static void remove_cgroups_root(struct cr_agent *a)
{
    if (!a->isolation || !strstr(a->isolation, "cgroups") || !a->cgroups_root || a->ntasks > 0)
        return;
    struct cr_cgroup_system *sys = NULL;
    struct cr_err err;
    cr_err_clear(&err);
    if (cr_cgroup_detect(a->opts.cgroups_mount, &sys, &err) < 0)
        return;
    char *name = cr_xstrdup(a->cgroups_root);
    for (;;) {
        struct cr_cgroup *cg = NULL;
        bool gone = cr_cgroup_open(sys, name, &cg, &err) == 0 && cr_cgroup_destroy(cg, &err) == 0;
        cr_cgroup_free(cg);
        char *slash = strrchr(name, '/');
        if (!gone || !slash)
            break;
        *slash = '\0';
    }
    free(name);
    cr_cgroup_system_free(sys);
}

void cr_agent_free(struct cr_agent *a)
{
    if (!a)
        return;
    a->stopping = true;
    /* Nothing may call back into the tasks or the queues once they start going away. */
    cr_master_link_free(a->link);
    a->link = NULL;
    cr_http_server_free(a->http);
    a->http = NULL;
    cr_http_client_free(a->client);
    a->client = NULL;
    if (a->ntasks > 0)
        CR_INFO("leaving tasks running tasks=%zu", a->ntasks);
    agent_executors_release(a); /* stops watching executors; never kills them */
    if (a->journal) {
        agent_ckpt_sync(a);
        cr_journal_free(a->journal);
        a->journal = NULL;
    }
    cr_containerizer_free(a->cz);
    a->cz = NULL;
    remove_cgroups_root(a);
    cr_gc_free(a->gc);
    a->gc = NULL;
    agent_tasks_release(a);
    agent_acks_release(a);
    cr_su_release(&a->su);
    uv_timer_stop(&a->su_timer);
    uv_close((uv_handle_t *)&a->su_timer, on_agent_closed);
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *out)
{
    fprintf(out, "usage: corral agent --master HOST:PORT [flags]\n\n"
                 "Runs an agent: offers this machine's resources to the master, runs tasks in\n"
                 "sandboxes under --work-dir and reports their status until acknowledged.\n"
                 "Each task runs in its own container under its own corral-executor, so stopping\n"
                 "or restarting the agent (SIGINT/SIGTERM, or a crash) leaves tasks running: the\n"
                 "next agent on the same --work-dir re-adopts them from its checkpoint.\n\n"
                 "flags:\n");
    cr_flags_usage(out, agent_flags);
}

struct shutdown {
    uv_loop_t *loop;
};

/* Stop at once: tasks stay with their executors and are re-adopted by the next agent. */
static void on_signal(int signum, void *ud)
{
    struct shutdown *sd = ud;
    CR_INFO("stopping, leaving tasks running signal=%d", signum);
    uv_stop(sd->loop);
}

int cr_agent_main(int argc, char **argv)
{
    struct cr_agent_options opts;
    memset(&opts, 0, sizeof(opts));
    struct cr_err err;
    cr_err_clear(&err);
    int help = 0;
    cr_log_init("agent");
    if (cr_flags_parse(agent_flags, &opts, argc - 1, argv + 1, NULL, &help, &err) < 0) {
        fprintf(stderr, "corral agent: %s\n", err.msg);
        cr_flags_release(agent_flags, &opts);
        return 2;
    }
    if (help) {
        usage(stdout);
        cr_flags_release(agent_flags, &opts);
        return 0;
    }
    enum cr_log_level lvl;
    if (cr_log_level_parse(opts.log_level, &lvl) < 0) {
        fprintf(stderr, "corral agent: flag --log-level: unknown level '%s'\n", opts.log_level);
        cr_flags_release(agent_flags, &opts);
        return 2;
    }
    cr_log_set_level(lvl);
    if (!opts.master) {
        fprintf(stderr, "corral agent: flag --master is required (HOST:PORT[,HOST:PORT...])\n");
        cr_flags_release(agent_flags, &opts);
        return 2;
    }

    uv_loop_t loop;
    uv_loop_init(&loop);
    int rc = 1;
    struct cr_agent *agent = NULL;
    struct cr_loop_signals *sigs = NULL;
    struct shutdown sd = {.loop = &loop};
    if (cr_loop_on_signals(&loop, on_signal, &sd, &sigs) < 0) {
        CR_ERROR("cannot install signal handlers");
        goto out;
    }
    if (cr_agent_new(&loop, &opts, &agent, &err) < 0) {
        CR_ERROR("cannot start the agent error=\"%s\"", err.msg);
        fprintf(stderr, "corral agent: %s\n", err.msg);
        goto out;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    rc = agent->refused ? 1 : 0;
out:
    cr_agent_free(agent);
    cr_loop_signals_free(sigs);
    cr_loop_close_all(&loop);
    uv_loop_close(&loop);
    cr_flags_release(agent_flags, &opts);
    CR_INFO("agent stopped");
    return rc;
}
