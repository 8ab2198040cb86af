/*
 * master_impl.h - the master's in-memory registry, shared by the files of src/master.
 *
 * One libuv loop thread owns everything here (DESIGN.md §2). The structures mirror
 * Mesos' master: frameworks (with their subscription stream), agents (with theirs),
 * tasks (owned by their framework, indexed by their agent too) and offers (in the
 * pure offer book; resources stay allocated to the framework in the allocator until
 * they are used, declined, rescinded or expire).
 *
 * Durable facts (admitted agents, frameworks and their FrameworkInfo) go through the
 * raft-backed state before they are acknowledged; tasks and offers are re-learned
 * from agents after a restart, as in Mesos.
 *
 * Files:
 *   master.c          flags, start-up, recovery, shutdown, HTTP routing
 *   frameworks.c      subscribe, failover, teardown, events to schedulers
 *   offers.c          allocation cycles, offers, rescinds, accept/decline
 *   tasks.c           launch, status updates, acknowledgements, kill, reconcile
 *   agents.c          the agent protocol: subscribe, updates, pings, unreachable
 *   http_scheduler.c  POST /api/v1/scheduler
 *   http_operator.c   POST /api/v1 and the legacy GETs (/state, /health, ...)
 *   http_agent.c      POST /corral/v1/agent
 */
#ifndef CR_MASTER_IMPL_H
#define CR_MASTER_IMPL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "api/agent_proto.h"
#include "api/mesos.h"
#include "base/map.h"
#include "core/allocator.h"
#include "core/offers.h"
#include "core/resources.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "state/state.h"

#define CR_MASTER_COMPLETED_FRAMEWORKS 50
#define CR_MASTER_COMPLETED_TASKS 1000
#define CR_MASTER_TASK_STATUSES 16
#define CR_HEARTBEAT_ADVERTISED_S 15.0
/* The Mesos API version Corral speaks (MasterInfo.version, /version). */
#define CR_MESOS_VERSION "1.11.0"

struct master_config {
    char *ip;
    int64_t port;
    char *hostname;
    char *work_dir;
    int64_t raft_port;
    int64_t offer_timeout_ms;
    int64_t heartbeat_ms;
    int64_t agent_ping_ms;
    int64_t agent_ping_misses;
    int64_t agent_reregister_timeout_ms;
    int64_t agent_removal_timeout_ms; /* unreachable this long: removed (0 = never) */
    int64_t allocation_batch_ms;
    int64_t max_body_bytes;
    char *weights;
    char *log_level;
    char *config;
    int64_t apps_port;
    char *placement;
    double health_kill_fraction;
    int64_t health_kill_window_ms;
    int64_t backoff_reset_ms;
};

struct cr_master;
struct fw;
struct agent;

struct task {
    struct cr_task_info info; /* as launched (task_id, name, agent_id, resources...) */
    struct fw *fw;            /* owner (borrowed) */
    char *framework_id;       /* owned copy (the fw may be re-created on recovery) */
    char *agent_key;          /* owned: "<framework id>\n<task id>", the key in
                                 agent->tasks (task ids are unique per framework only) */
    bool kill_pending;        /* a KILL waits for the agent to come back */
    int64_t kill_grace_ms;    /* for that KILL, -1 = the task's own policy */
    char *role;               /* allocation role */
    enum cr_task_state state; /* latest state known to the master */
    bool has_pending;         /* an update sent to the framework awaits its ACK */
    enum cr_task_state pending_state;
    unsigned char pending_uuid[16];
    bool resources_released; /* terminal: given back to the allocator */
    struct cr_task_status statuses[CR_MASTER_TASK_STATUSES]; /* ring of recent statuses */
    size_t nstatuses, status_head;
};

/* An in-process framework (the apps orchestrator) gets its events through this function
 * instead of a stream: event is borrowed for the call. Called synchronously from wherever
 * the master sends the event, so the receiver must only queue it (never call back into
 * the master from inside). */
typedef void (*fw_local_fn)(struct fw *fw, json_t *event, void *ud);

struct fw {
    char *id;
    struct cr_framework_info info;
    struct cr_master *m;
    struct cr_http_stream *stream; /* subscription stream, or NULL when disconnected */
    fw_local_fn local;             /* set for an in-process framework (then no stream) */
    void *local_ud;
    char stream_id[40];
    bool connected;
    bool recovered; /* known from the registry, not yet re-subscribed */
    bool removed;
    double registered_time, reregistered_time, unregistered_time;
    uv_timer_t failover_timer;
    struct cr_map tasks;     /* task id -> struct task (non-terminal or unacked) */
    struct task **completed; /* ring of finished tasks */
    size_t ncompleted, completed_head;
    struct cr_map completed_by_id; /* task id -> its newest entry in the ring */
};

struct agent {
    char *id;
    struct cr_agent_info info;
    struct cr_master *m;
    char *ip;
    int port;
    char *pid; /* "slave(1)@ip:port" */
    char *version;
    struct cr_http_stream *stream;
    char stream_id[40];
    bool connected;
    bool unreachable;
    bool recovered;    /* in the registry, not yet re-subscribed */
    bool in_allocator; /* admitted and reachable: its resources are known */
    double registered_time, reregistered_time, unreachable_time;
    int64_t last_seen_ms; /* last PONG or subscription */
    struct cr_map tasks;  /* task->agent_key -> struct task (borrowed; owned by fw) */
};

/*
 * An agent removed from the cluster (unreachable past --agent-removal-timeout, or marked
 * gone by the operator). Kept (and in the registry's "removed_agents" table) so that the
 * agent is told to shut its old tasks down if it ever comes back, and so reconciliation
 * answers for its tasks.
 */
struct removed_agent {
    char *id;       /* owned; the key in m->removed_agents */
    char *hostname; /* owned, may be "" */
    double removed_time;
    bool is_gone; /* MARK_AGENT_GONE (TASK_GONE_BY_OPERATOR) rather than the timeout */
};

struct cr_master {
    uv_loop_t *loop;
    struct master_config cfg;
    char id[40];
    double start_time, elected_time;
    bool ready;
    bool stopping;
    bool failed; /* the registry could not be recovered */
    char *advertised_ip;

    struct cr_state *state;
    struct cr_http_server *http;
    struct cr_alloc *alloc;
    struct cr_offer_book *offers;
    struct cr_apps *apps; /* the built-in orchestrator */

    struct cr_map frameworks;     /* id -> struct fw */
    struct cr_map agents;         /* id -> struct agent */
    size_t nrecovered_agents;     /* agents known from the registry, not yet back */
    struct cr_map removed_agents; /* id -> struct removed_agent (owned) */
    uint64_t agent_removals;      /* since start, for /metrics/snapshot */
    struct fw **completed_frameworks;
    size_t ncompleted_frameworks;
    uint64_t next_fw_seq, next_agent_seq;

    uv_timer_t alloc_timer; /* coalesces allocation bursts; filter expiry */
    bool alloc_scheduled;
    int64_t alloc_due_ms;
    uv_timer_t offer_timer;     /* offer timeouts */
    uv_timer_t heartbeat_timer; /* HEARTBEAT to framework streams */
    uv_timer_t ping_timer;      /* PING to agents, unreachable detection */
    int64_t last_ping_tick_ms;  /* when ping_timer last ran (to see loop stalls) */

    /* counters for /metrics/snapshot */
    uint64_t valid_status_updates, invalid_status_updates;
    uint64_t tasks_by_state[CR_TASK_STATE_COUNT];
};

/* master.c */
void master_master_info(const struct cr_master *m, struct cr_master_info *out);
/* Called once the registry write finished: rc 0 = durable, else msg says why not. */
typedef void (*master_persist_fn)(struct cr_master *m, int rc, const char *msg, void *ud);
/* Durably store value (reference stolen) under table/key; done may be NULL. */
void master_persist(struct cr_master *m, const char *table, const char *key, json_t *value,
                    master_persist_fn done, void *ud);
/* Durably apply several puts/deletes as one registry entry (ops borrowed for the call). */
void master_persist_ops(struct cr_master *m, const struct cr_state_op *ops, size_t n,
                        master_persist_fn done, void *ud);
/* Durably delete table/key; done may be NULL. */
void master_unpersist(struct cr_master *m, const char *table, const char *key,
                      master_persist_fn done, void *ud);
/* A stream holding more unsent bytes than this is dropped (its peer does not read). */
#define CR_MASTER_STREAM_MAX_PENDING (64u * 1024 * 1024)
/*
 * Write one RecordIO record (the JSON event; reference stolen) to a stream. Returns 0,
 * -EPIPE (peer gone) or -ENOBUFS (peer too slow: the caller drops the subscription).
 */
int master_stream_send(struct cr_http_stream *stream, json_t *event);
/* The same with an already framed record (to send one encoding to many streams). */
int master_stream_send_record(struct cr_http_stream *stream, const char *record, size_t len);
/* Frame an event once (reference stolen); owned, free(). NULL on allocation failure. */
char *master_record(json_t *event, size_t *len);

/* frameworks.c */
struct fw *fw_find(struct cr_master *m, const char *id);
void fw_subscribe(struct cr_master *m, struct cr_http_req *req, struct cr_sched_call *call);
/* Remove a framework: kill its tasks, forget its offers, delete it from the registry.
 * why is logged; CR_TEARDOWN_BY_FRAMEWORK means the framework asked (no ERROR event). */
#define CR_TEARDOWN_BY_FRAMEWORK "teardown requested by the framework"
void fw_teardown(struct cr_master *m, struct fw *fw, const char *why);
void fw_send(struct fw *fw, json_t *event);
void fw_send_record(struct fw *fw, const char *record, size_t len);
void fw_recover(struct cr_master *m, const char *id, const char *info_json);
void fw_free(struct fw *fw);
void fw_heartbeat_all(struct cr_master *m);
bool fw_partition_aware(const struct fw *fw);
/*
 * Subscribe an in-process framework: info is committed to the registry like any
 * SUBSCRIBE (info->id NULL = new framework, the id is chosen here), then the framework is
 * connected with events going to fn (SUBSCRIBED first). done(m, fw, rc, msg, ud) reports
 * the outcome (fw NULL on failure). The framework uses the same calls as HTTP
 * frameworks: offers_accept/offers_decline/task_acknowledge/task_kill/task_reconcile.
 */
typedef void (*fw_local_done_fn)(struct cr_master *m, struct fw *fw, int rc, const char *msg,
                                 void *ud);
void fw_subscribe_local(struct cr_master *m, const struct cr_framework_info *info, fw_local_fn fn,
                        void *fn_ud, fw_local_done_fn done, void *done_ud);
void fw_update_framework(struct cr_master *m, struct cr_http_req *req, struct fw *fw,
                         struct cr_sched_call *call);

/* offers.c */
void offers_schedule(struct cr_master *m);
void offers_init(struct cr_master *m);
void offers_release(struct cr_master *m);
void offers_accept(struct cr_master *m, struct fw *fw, struct cr_sched_call *call);
void offers_decline(struct cr_master *m, struct fw *fw, struct cr_sched_call *call);
/* Give every offer of fw back (no filter). If rescind, tell the framework. */
void offers_recover_framework(struct cr_master *m, struct fw *fw, bool rescind);
/* Rescind every offer on agent (agent disconnected/removed). */
void offers_recover_agent(struct cr_master *m, struct agent *a);
void offers_expire(struct cr_master *m);
/* Sum of outstanding offers on an agent / to a framework (added to out). */
void offers_sum_agent(struct cr_master *m, const char *agent_id, struct cr_resources *out);
void offers_sum_framework(struct cr_master *m, const char *framework_id, struct cr_resources *out);
/* The framework's outstanding offers as JSON: v1 Offer objects, or legacy ones. */
json_t *offers_json_framework(struct cr_master *m, struct fw *fw, bool legacy);
size_t offers_count(struct cr_master *m);
void offers_arm_timer(struct cr_master *m);

/* tasks.c */
struct task *task_new(struct fw *fw, const struct cr_task_info *info, const char *role);
void task_free(struct task *t);
void task_launch(struct cr_master *m, struct fw *fw, struct agent *a, struct task *t);
/* A status from an agent (copied). */
void task_status_update(struct cr_master *m, struct agent *a, const char *framework_id,
                        const struct cr_task_status *status);
/* Master-generated status for a task it knows (copied into the task). */
void task_master_update(struct cr_master *m, struct task *t, enum cr_task_state state,
                        enum cr_task_reason reason, const char *message);
/* Master-generated status for a task the master does not hold (e.g. invalid launch). */
void task_send_orphan_status(struct fw *fw, const char *task_id, const char *agent_id,
                             enum cr_task_state state, enum cr_task_reason reason,
                             const char *message);
void task_acknowledge(struct cr_master *m, struct fw *fw, struct cr_sched_call *call);
void task_kill(struct cr_master *m, struct fw *fw, const char *task_id, const char *agent_id,
               int64_t grace_ms);
void task_reconcile(struct cr_master *m, struct fw *fw, struct cr_sched_call *call);
void task_release_resources(struct cr_master *m, struct task *t);
/* Add to out the resources still held by the tasks of a task map (fw->tasks or
 * agent->tasks), only those allocated to role when role is not NULL. */
void tasks_sum_held(const struct cr_map *tasks, const char *role, struct cr_resources *out);
/* Move a finished task out of the active maps into the framework's completed ring. */
void task_complete(struct cr_master *m, struct task *t);
const struct cr_task_status *task_latest_status(const struct task *t);
struct task *task_find_any(struct cr_master *m, const char *task_id, struct fw **fw_out);

/* agents.c */
struct agent *agent_find(struct cr_master *m, const char *id);
/* Agent protocol calls; subscribe takes over *call's contents (leaving it empty). */
void agent_subscribe(struct cr_master *m, struct cr_http_req *req, struct cr_agent_call *call);
void agent_update(struct cr_master *m, struct cr_http_req *req, struct cr_agent_call *call);
void agent_pong(struct cr_master *m, struct cr_http_req *req, struct cr_agent_call *call);
void agent_send(struct agent *a, json_t *event);
/* Send every KILL that waited for the agent to come back. */
void agent_send_pending_kills(struct agent *a);
void agent_recover(struct cr_master *m, const char *id, const char *info_json);
void agent_free(struct agent *a);
/*
 * Liveness, called every --agent-ping-interval: PING every connected agent, mark those
 * silent for --agent-ping-misses intervals unreachable, remove those unreachable longer
 * than --agent-removal-timeout. A tick that comes late (the loop stalled) checks nothing.
 */
void agents_ping_all(struct cr_master *m);
/*
 * Remove agent a (unreachable too long, or is_gone: MARK_AGENT_GONE): its stream is
 * closed, it leaves the allocator and m->agents (a is freed), its tasks become TASK_GONE
 * (TASK_GONE_BY_OPERATOR when is_gone; TASK_LOST for frameworks without PARTITION_AWARE)
 * and move to their frameworks' completed tasks. The removal is committed to the registry
 * (agents/<id> deleted, removed_agents/<id> written as one entry); done (may be NULL)
 * reports the commit.
 */
void agent_remove(struct cr_master *m, struct agent *a, bool is_gone, master_persist_fn done,
                  void *ud);
/* The record of a removed agent, or NULL. Borrowed. */
const struct removed_agent *agent_find_removed(struct cr_master *m, const char *id);
/* Load the registry's removed_agents table (at start, after the registry is ready). */
void agents_recover_removed(struct cr_master *m);
/* Free m->removed_agents (at shutdown). */
void agents_removed_release(struct cr_master *m);
void agent_shutdown_framework(struct cr_master *m, const char *framework_id);

/* http_*.c */
void http_scheduler(struct cr_master *m, struct cr_http_req *req);
void http_operator(struct cr_master *m, struct cr_http_req *req);
void http_agent(struct cr_master *m, struct cr_http_req *req);
/* Legacy GETs; returns false when the path is not one of them. */
bool http_legacy(struct cr_master *m, struct cr_http_req *req);
/* Common checks for POST JSON APIs (method, content type, accept). false = answered. */
bool http_check_post_json(struct cr_http_req *req);
/* Answer with a JSON object (reference stolen), honouring ?jsonp=. */
void http_respond_json(struct cr_http_req *req, int status, json_t *body);

/* weights.c */
int weights_validate_flag(const char *text, struct cr_err *err);
/* Apply the registry's weights to the allocator, then seed roles only --weights names. */
void weights_recover(struct cr_master *m);
/* [{role, weight}] */
json_t *weights_json(struct cr_master *m);
/* Validate infos (path names it in errors), commit, apply, answer 200. */
void weights_update(struct cr_master *m, struct cr_http_req *req, json_t *infos, const char *path);
/* Roles with weights or frameworks: v1 Role objects, or the legacy /roles form. */
json_t *roles_json(struct cr_master *m, bool legacy);

/* JSON views of the registry (http_state.c) */
json_t *state_json_legacy(struct cr_master *m);
json_t *state_json_get_state(struct cr_master *m);
json_t *state_json_get_agents(struct cr_master *m);
json_t *state_json_get_frameworks(struct cr_master *m);
json_t *state_json_get_tasks(struct cr_master *m);
json_t *state_json_task_v1(const struct task *t);

#endif
