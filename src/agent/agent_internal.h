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
 *   tasks.c             launch, kill, exit -> status updates, completion
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
    struct cr_container *container;  /* while the process lives, else NULL */
    enum cr_task_state state;        /* latest state generated */
    struct cr_task_status *statuses; /* owned; oldest first, at most CR_AGENT_MAX_STATUSES */
    size_t nstatuses;
    bool kill_requested;
    int64_t kill_grace_ms; /* from the KILL, or -1 */
    double launched_at;    /* epoch seconds */
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
    struct cr_containerizer *cz;
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
};

/* ---- agent.c ---- */

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
