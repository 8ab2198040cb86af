/*
 * agent_internal.h - the agent's state, shared by the files of src/agent.
 *
 * One libuv loop thread owns everything here (DESIGN.md §2). A task is "active" from
 * its LAUNCH until its terminal status update is acknowledged; then it moves to a
 * bounded ring of completed tasks (for /state and `corral logs`). Frameworks are known
 * while any active or completed task refers to them.
 *
 * Files:
 *   agent.c             flags, start-up, shutdown, agent id, master-link glue, status sends
 *   master_link.c       SUBSCRIBE stream, redirects, backoff, pings, calls to the master
 *   protocol.c          the calls to the master (codecs: api/agent_proto.h)
 *   status_updates.c    per-task reliable status-update queues
 *   tasks.c             launch, kill, executor updates -> status updates, completion
 *   executors.c         one `corral-executor` per task: spawn, unix socket, supervision
 *   recover.c           the checkpoint journal: records, replay at start, re-adoption
 *   checkpoint.c        the journal itself (checksummed records, group commit, compaction)
 *   gc.c                removal of finished tasks' sandboxes (age and disk headroom)
 *   monitor.c           /monitor/statistics, /metrics/snapshot, the v1 agent operator API
 *   task_env.c          a task's argv and environment
 *   http.c              /state, /health and routing of the agent's HTTP endpoints
 *   files.c             /files/browse and /files/read, confined to the work dir
 *   resources_detect.c  the machine's resources and --resources overrides
 */
#ifndef CR_AGENT_INTERNAL_H
#define CR_AGENT_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "agent/agent.h"
#include "agent/checkpoint.h"
#include "agent/gc.h"
#include "agent/master_link.h"
#include "agent/protocol.h"
#include "agent/status_updates.h"
#include "api/mesos.h"
#include "base/map.h"
#include "isolate/containerizer.h"
#include "net/http_client.h"
#include "net/http_server.h"

#define CR_AGENT_MAX_COMPLETED 1000    /* completed tasks kept for /state */
#define CR_AGENT_MAX_STATUSES 16       /* statuses kept per task (the latest ones) */
#define CR_AGENT_DEFAULT_GRACE_MS 3000 /* kill grace period without a kill policy */
#define CR_AGENT_SU_TICK_MS 1000       /* status-update retry granularity */
#define CR_AGENT_LAUNCH_SAMPLES 4096   /* launch latencies kept for /metrics/snapshot */

struct exec_ack; /* tasks.c: an executor acknowledgement waiting for a durable checkpoint */

struct agent_framework {
    char *id; /* owned; the map key */
    bool has_info;
    struct cr_framework_info info; /* latest seen in a LAUNCH */
    size_t nactive;                /* active tasks referring to it */
    size_t ncompleted;             /* completed tasks in the ring referring to it */
};

struct agent_task {
    struct cr_agent *agent;         /* borrowed: the owner (the containerizer's callbacks
                                       get the task alone) */
    struct agent_task *prev, *next; /* active list, in launch order */
    char *key;                      /* owned: cr_agent_task_key(framework_id, task_id) */
    char *framework_id;             /* owned */
    char *task_id;                  /* owned */
    struct agent_framework *fw;     /* borrowed, counted in fw->nactive/ncompleted */
    bool has_info;                  /* info came from a valid LAUNCH; otherwise it only
                                       holds name, task_id and agent_id */
    struct cr_task_info info;
    char *allocation_role;           /* owned or NULL: the role the resources came from */
    char *container_id;              /* owned or NULL (never containerized) */
    char *directory;                 /* owned: the sandbox (run dir), or NULL */
    char *user;                      /* owned or NULL */
    char *user_ids;                  /* owned: user resolved as "#uid:gid:groups", or NULL */
    struct agent_executor *executor; /* while the executor process may live, else NULL */
    pid_t task_pid;                  /* the task's host pid as its executor reported, or 0 */
    pid_t executor_pid;              /* from the checkpoint, until re-adopted */
    bool launch_sent;                /* the executor has been given the task */
    bool kill_pending;               /* KILL to forward once the executor subscribes */
    int64_t kill_pending_grace_ms;
    enum cr_task_state state;        /* latest state generated */
    struct cr_task_status *statuses; /* owned; oldest first, at most CR_AGENT_MAX_STATUSES */
    size_t nstatuses;
    bool kill_requested;
    int64_t kill_grace_ms; /* from the KILL, or -1 */
    double launched_at;    /* epoch seconds (the agent received LAUNCH) */
};

/* One executor process (its task's keeper); see executors.c. */
struct agent_executor {
    struct cr_agent *agent;
    struct agent_executor *prev, *next; /* a->executors */
    struct agent_task *task;            /* NULL once the task record is gone */
    char *key;                          /* owned: the task key */
    char *container_id;                 /* owned */
    pid_t pid;
    bool is_child;                /* spawned by this agent process (it must reap it) */
    int pidfd;                    /* -1 if none */
    uv_poll_t poll;               /* readable when the process exits */
    bool poll_open;               /* the poll handle is initialised and not yet closed */
    bool exited;                  /* the process is gone */
    struct agent_exec_conn *conn; /* the subscribed connection, or NULL */
    uv_timer_t timer;             /* re-subscription deadline after an agent restart */
    bool timer_open;
};

struct cr_agent {
    uv_loop_t *loop;
    struct cr_agent_options opts; /* owned copies */
    char *work_dir;               /* owned: realpath of --work-dir */
    char *agent_id;               /* owned or NULL before the first SUBSCRIBED */
    char *hostname;               /* owned */
    char *advertise_ip;           /* owned: --ip, or for 0.0.0.0 the hostname's address */
    uint16_t port;                /* bound HTTP port */
    struct cr_resources resources;
    struct cr_attributes attributes;
    char *master_hostname; /* owned or NULL */
    double start_time;
    char **base_env; /* owned: the agent's environment minus CORRAL_* */

    struct cr_http_server *http;
    struct cr_http_client *client;
    struct cr_containerizer *cz;      /* the isolators, for recovery, usage and cleanup */
    char *isolation;                  /* resolved --isolation (owned) */
    char *cgroups_root;               /* resolved --cgroups-root (owned) */
    int dynmods_fd;                   /* holds the favordynmods hierarchy (cgroup.h), or -1 */
    char *executor_path;              /* owned */
    char *socket_path;                /* owned: <work-dir>/executor.sock */
    uv_pipe_t *exec_server;           /* owned (closed with free) */
    struct agent_executor *executors; /* every executor process known */
    struct agent_exec_conn *conns;    /* every executor connection */
    struct cr_journal *journal;       /* the checkpoint */
    struct exec_ack *failed_acks;     /* executor acks waiting for a successful sync */
    struct cr_gc *gc;                 /* sandboxes of completed tasks, removed when due */
    bool recovering;                  /* replaying the journal */
    double *launch_ms;                /* ring of recent launch latencies (ms) */
    size_t nlaunch_ms, launch_ms_next;
    struct cr_master_link *link;
    struct cr_status_updates su;
    uv_timer_t su_timer;
    bool su_timer_open;

    struct cr_map tasks; /* key -> struct agent_task * (active) */
    struct agent_task *tasks_head, *tasks_tail;
    size_t ntasks;
    struct cr_map frameworks;      /* id -> struct agent_framework * */
    struct agent_task **completed; /* ring of CR_AGENT_MAX_COMPLETED */
    size_t completed_start, ncompleted;
    bool stopping;
    bool refused; /* the master refused this agent for good: exit non-zero */
    bool removed; /* the master removed this agent: shutting its tasks down, then it
                     registers anew without an id (agent.c) */
};

/* ---- agent.c ---- */

/* Keep the 1 s tick running (status-update retries, checkpoint sync retries). */
void agent_tick_ensure(struct cr_agent *a);
/* Queue a status update for reliable delivery (status copied). */
void agent_send_status(struct cr_agent *a, const char *framework_id,
                       const struct cr_task_status *status);

/* ---- tasks.c ---- */

void agent_tasks_init(struct cr_agent *a);
/* Free every task record (processes are left running). */
void agent_tasks_release(struct cr_agent *a);
void agent_on_launch(struct cr_agent *a, const struct cr_agent_event *ev);
/* A LAUNCH the link could not parse: answer TASK_ERROR for it. */
void agent_on_invalid_launch(struct cr_agent *a, const char *framework_id, const char *task_id,
                             const char *why);
void agent_on_kill(struct cr_agent *a, const struct cr_agent_event *ev);
void agent_on_shutdown_framework(struct cr_agent *a, const struct cr_agent_event *ev);
/* The master relayed an acknowledgement: pop the update, complete the task if terminal. */
void agent_on_acknowledged(struct cr_agent *a, const struct cr_agent_event *ev);
/* Latest status of a task, or NULL. Borrowed. */
const struct cr_task_status *agent_task_latest(const struct agent_task *t);
/* The i-th completed task, oldest first (i < a->ncompleted). */
struct agent_task *agent_completed_at(const struct cr_agent *a, size_t i);

/* Replay: an active task from its checkpoint record (NULL if already active). */
struct agent_task *agent_task_restore(struct cr_agent *a, const char *framework_id,
                                      const char *task_id, const struct cr_framework_info *fi,
                                      const struct cr_task_info *info);
/* Replay: a status of t; pending = not yet acknowledged (queued for the master again). */
void agent_task_restore_status(struct cr_agent *a, struct agent_task *t,
                               const struct cr_task_status *s, bool pending);
/* Replay: t left the active set ("done"). */
void agent_task_forget(struct cr_agent *a, struct agent_task *t);
/* Tasks that were running when the agent (re)started: called after the journal replay. */
void agent_tasks_recovered(struct cr_agent *a);
/* An executor sent a status update for t (status borrowed; uuid set). */
void agent_on_executor_update(struct cr_agent *a, struct agent_task *t,
                              const struct cr_task_status *status, pid_t task_pid);
/* t's executor vanished while the agent was down (found dead at recovery, its end never
 * reported): TASK_GONE for PARTITION_AWARE frameworks, TASK_LOST for others. */
void agent_on_executor_lost_while_down(struct cr_agent *a, struct agent_task *t);
/* t's executor is gone; if the task had not ended it is failed with reason/message. */
void agent_on_executor_gone(struct cr_agent *a, struct agent_task *t, enum cr_task_reason reason,
                            const char *message);
/* Find an active task by key. */
struct agent_task *agent_task_find(struct cr_agent *a, const char *key);
/* A task with its latest update acknowledged and no executor leaves the active set. */
void agent_task_maybe_complete(struct cr_agent *a, struct agent_task *t);
/* Generate an update from the agent itself for t (SOURCE_AGENT). */
void agent_task_emit(struct cr_agent *a, struct agent_task *t, enum cr_task_state state,
                     enum cr_task_source source, enum cr_task_reason reason, const char *message);

/* Send the executor acks whose sync failed, now that one succeeded. */
void agent_acks_retry(struct cr_agent *a);
void agent_acks_release(struct cr_agent *a);

/* ---- executors.c ---- */

/* Listen on <work-dir>/executor.sock. Returns 0 or -errno with err. */
int agent_executors_listen(struct cr_agent *a, struct cr_err *err);
/* Start t's executor (t->directory and t->container_id set). Returns 0 or -errno. */
int agent_executor_spawn(struct cr_agent *a, struct agent_task *t, struct cr_err *err);
/* Re-adopt a live executor of a recovered task (pid from the checkpoint; 0 = unknown). */
void agent_executor_adopt(struct cr_agent *a, struct agent_task *t, pid_t pid);
/* Ask t's executor to kill the task (now, or when it subscribes). */
void agent_executor_kill(struct cr_agent *a, struct agent_task *t, int64_t grace_ms);
/* The executor may forget an update: it is in the checkpoint. */
void agent_executor_ack(struct cr_agent *a, const char *key, const char *task_id,
                        const unsigned char uuid[16]);
/* Close the server and connections and stop watching executors (never kills them). */
void agent_executors_release(struct cr_agent *a);

/* ---- recover.c ---- */

/* Open the journal, replay it into tasks and frameworks, compact it. Returns 0 or -errno. */
int agent_ckpt_recover(struct cr_agent *a, struct cr_err *err);
/* Checkpoint records (buffered; agent_ckpt_sync / the deferred sync make them durable). */
void agent_ckpt_task(struct cr_agent *a, const struct agent_task *t);
void agent_ckpt_executor(struct cr_agent *a, const struct agent_task *t, pid_t pid);
void agent_ckpt_update(struct cr_agent *a, const struct agent_task *t,
                       const struct cr_task_status *s);
void agent_ckpt_ack(struct cr_agent *a, const struct agent_task *t, const unsigned char uuid[16]);
void agent_ckpt_done(struct cr_agent *a, const struct agent_task *t);
/* Schedule every sandbox on disk that no active task owns for removal (by its age). */
void agent_ckpt_gc_old_sandboxes(struct cr_agent *a);
/* Make the buffered records durable now. Returns 0 or -errno (logged). */
int agent_ckpt_sync(struct cr_agent *a);
/* ... or at the end of this loop turn, then call done(ud, rc). */
void agent_ckpt_sync_later(struct cr_agent *a, cr_journal_done_fn done, void *ud);

/* ---- task_env.c ---- */

/*
 * argv for the task's command (shell form: /bin/sh -c value; argv form: arguments, or
 * just value) and its environment (agent environment, MESOS_*, HOST, PORT*, then the
 * command's own variables). Owned NULL-terminated vectors (free with
 * agent_strv_free). Returns 0 or -EINVAL with err (no command value).
 */
int agent_task_command(const struct cr_agent *a, const struct agent_task *t, char ***argv,
                       char ***envp, struct cr_err *err);
void agent_strv_free(char **v);
/* The agent's environment minus CORRAL_* variables (owned vector). */
char **agent_base_env(void);

/* ---- http.c ---- */

void agent_http_handle(struct cr_http_req *req, void *ud);
/* The Mesos-style /state document (owned reference). */
json_t *agent_state_json(const struct cr_agent *a);

#endif
