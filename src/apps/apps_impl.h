/*
 * apps_impl.h - the built-in apps orchestrator, shared by the files of src/apps.
 *
 * The orchestrator is an in-process framework of the leading master (DESIGN.md §6): it
 * subscribes through fw_subscribe_local(), receives the same events as any scheduler (queued,
 * then handled on the next loop pass) and uses the same calls (ACCEPT, DECLINE, KILL,
 * ACKNOWLEDGE, RECONCILE) through the master's functions. Everything runs on the master's loop
 * thread.
 *
 * Model: an app has a target spec (its newest version) and instances. Every cycle asks the pure
 * planner (core/deploy.h) what to launch and kill to move the instances towards the target;
 * the same question keeps the count (replacing lost instances), scales and rolls. Launches are
 * placed with the pure placement (core/placement.h) over every agent at once: agents with held
 * offers have free resources, the others count as full, so a waiting instance's diagnosis
 * covers every machine. A deployment is a record of one change (start, scale, restart, stop)
 * that ends when the planner says the target is reached, or fails at its progress deadline.
 *
 * Durable (raft registry, via master_persist): apps (target spec), app versions, running
 * deployments, instances (placement, version); the orchestrator's framework id. Runtime state
 * (task state, health) is re-learned by reconciliation after a master restart.
 *
 * Files:
 *   apps.c         life cycle, apps and deployments, the framework side (events in, calls out)
 *   apps_cycle.c   the cycle: plan, kill, place, launch; diagnoses, backoff, kill budget
 *   apps_store.c   registry records and recovery
 *   apps_http.c    /v2/apps, /v2/tasks, /v2/deployments, /v2/queue, /v2/info, /v2/leader, /ping
 *   apps_events.c  /v2/events (SSE) and the event payloads
 *   apps_json.c    JSON views (AppInfo, Task, deployment, queue entry)
 */
#ifndef CR_APPS_IMPL_H
#define CR_APPS_IMPL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "api/marathon_app.h"
#include "apps/apps.h"
#include "base/map.h"
#include "core/app.h"
#include "core/deploy.h"
#include "core/placement.h"
#include "core/resources.h"
#include "master/master_impl.h"

#define APPS_MAX_VERSIONS 50     /* kept per app (older ones are dropped) */
#define APPS_DONE_DEPLOYMENTS 50 /* finished deployments kept for GET /v2/deployments/<id> */

enum deploy_status {
    DEPLOY_RUNNING = 0,
    DEPLOY_SUCCEEDED,
    DEPLOY_FAILED,
    DEPLOY_CANCELLED,
    DEPLOY_ROLLED_BACK,
};

struct deployment {
    char id[40];
    char *app_id;
    char *version;                  /* the app version it deploys */
    char *action;                   /* StartApplication, ScaleApplication, RestartApplication,
                                       StopApplication */
    char *prev_version;             /* the version before (for a rollback), or NULL */
    double started_at, deadline_at; /* wall seconds */
    enum deploy_status status;
    char *reason; /* why it failed / was cancelled, or NULL */
    double finished_at;
};

struct app;

struct inst {
    char *id; /* the Mesos task id */
    struct app *app;
    char *version;        /* app version it was launched with */
    char *config_version; /* that version's lastConfigChangeAt: equal to the app's = target */
    char *agent_id, *hostname;
    uint64_t *ports;
    size_t nports;
    enum cr_inst_phase phase;
    enum cr_task_state state;
    int healthy; /* -1 unknown, 0, 1 */
    bool has_health;
    bool kill_for_health;                        /* the executor reported its failure threshold */
    double staged_at, started_at, healthy_since; /* wall seconds, 0 = not yet */
    char *message;                               /* latest status message, or NULL */
    bool is_persisted;
    bool is_unconfirmed; /* recovered from the registry; no state from the master yet */
    /* unreachableStrategy: since when the agent is unreachable (wall seconds, 0 = reachable);
     * after inactiveAfterSeconds the instance no longer counts (a replacement starts), after
     * expungeAfterSeconds it is forgotten (killed if it ever shows up again) */
    double unreachable_since;
    bool is_inactive;
    double kill_sent_at; /* wall seconds of the last KILL (retried until the task ends) */
};

struct app {
    char *id;
    struct cr_app spec;        /* target: the newest version */
    struct cr_map versions;    /* version -> struct cr_app * (owned), incl. the target's */
    struct cr_map insts;       /* task id -> struct inst (owned) */
    struct deployment *deploy; /* running deployment, or NULL (owned by apps->deployments) */
    bool is_deleting;          /* a StopApplication runs: goal 0, then the app goes */
    unsigned failures;         /* consecutive failed instances (launch backoff) */
    double delay_until;        /* wall seconds; launches wait until then */
    size_t waiting;            /* instances the last cycle wanted but could not place */
    double waiting_since;      /* wall seconds, 0 = nothing waits */
    bool has_diag;
    struct cr_place_diag diag; /* why the last placement failed */
    uint64_t offers_processed, offers_unused;
    double last_offer_used_at, last_offer_unused_at;
    struct cr_kill_budget kill_budget;
    bool kill_budget_warned;
    json_t *last_failure; /* lastTaskFailure, or NULL */
};

/* Offers the orchestrator holds, merged per agent. */
struct held_agent {
    char *agent_id;
    char *hostname;
    char **offer_ids;
    size_t noffer_ids;
    char *role;
    struct cr_resources free;
    struct cr_attributes attributes;
};

struct sse_client;

struct cr_apps {
    struct cr_master *m;
    struct cr_apps_config cfg;
    int nclosed;   /* timers closed (the struct goes with the last) */
    struct fw *fw; /* the orchestrator's framework once subscribed */
    bool is_subscribing;
    char *framework_id;        /* from the registry, or NULL before the first subscription */
    struct cr_map apps;        /* id -> struct app */
    struct cr_map insts;       /* task id -> struct inst (borrowed from their app) */
    struct cr_map deployments; /* id -> struct deployment (running; owned) */
    struct deployment *done[APPS_DONE_DEPLOYMENTS]; /* ring of finished ones (owned) */
    size_t ndone, done_head;
    struct held_agent *held;
    size_t nheld;
    json_t *events; /* queued framework events (array) */
    uv_timer_t kick_timer, tick_timer, sse_timer;
    bool is_kicked, is_started;
    bool is_suppressed;    /* no app wants offers: SUPPRESSed until apps_revive */
    bool is_holding;       /* most agents unreachable: no replacements (logged once) */
    double hold_until;     /* and a grace after they came back (wall seconds) */
    double hold_since;     /* when most agents became unreachable */
    double last_version_s; /* versions are unique: strictly increasing ms */
    double last_reconcile_s, last_full_reconcile_s;
    struct sse_client *sse;      /* list */
    struct cr_http_server *http; /* the apps port (8080), or NULL */
};

/* Every agent as a placement machine (apps.c). */
struct machine_set {
    struct cr_place_machine *ms;   /* free = the offers the orchestrator holds */
    struct cr_place_machine *real; /* free = what no task uses and no other framework holds */
    struct held_agent **held;      /* per machine, or NULL */
    struct agent **agents;
    struct cr_place_attr *attrs;
    size_t n;
};
void machine_set_build(struct cr_apps *a, struct machine_set *s);
void machine_set_release(struct machine_set *s);
/* What each instance of spec needs, for core/placement.h (everything borrowed). */
struct cr_place_request app_place_request(const struct cr_app *spec, const char *const *placed,
                                          size_t nplaced);

/* apps.c */
void app_diag_clear(struct app *app);
struct held_agent *held_find(struct cr_apps *a, const char *agent_id);
void held_release(struct held_agent *h);
/* Run a cycle soon (coalesced). */
void apps_kick(struct cr_apps *a);
/* New demand (app created/scaled, instance lost, delay over): ask for offers again. */
void apps_revive(struct cr_apps *a);
struct app *apps_find(struct cr_apps *a, const char *id);
struct app *app_new(struct cr_apps *a, const struct cr_app *spec);
void app_free(struct app *app);
void inst_free(struct inst *i);
/* Remove an instance from its app and the index, delete its record, free it. */
void inst_forget(struct cr_apps *a, struct inst *i);
/* A fresh version string (ISO-8601 ms UTC, strictly increasing). Owned. */
char *apps_new_version(struct cr_apps *a);
/* ISO-8601 ms UTC of wall seconds t into buf (>= 32 bytes). */
const char *apps_iso(double t, char *buf, size_t size);
/* Store spec as a version of app (copied) and make it the target. */
void app_add_version(struct cr_apps *a, struct app *app, const struct cr_app *spec);
const struct cr_app *app_version(const struct app *app, const char *version);
/* Start a deployment of app to its target (the action says what changed). Owned by a. */
struct deployment *deploy_start(struct cr_apps *a, struct app *app, const char *action,
                                const char *prev_version);
/* End a running deployment: status, reason (copied, may be NULL). */
void deploy_finish(struct cr_apps *a, struct deployment *d, enum deploy_status status,
                   const char *reason);
struct deployment *deploy_find(struct cr_apps *a, const char *id); /* running or done */
const char *deploy_status_name(enum deploy_status s);
/* Kill one instance (KILL through the master) unless a kill was already sent. */
void inst_kill(struct cr_apps *a, struct inst *i);
/* Send (again) the KILL of an instance: phase KILLING, kill_sent_at now. */
void inst_send_kill(struct cr_apps *a, struct inst *i);
/* Remove an app whose last instance ended (after StopApplication). */
void app_remove(struct cr_apps *a, struct app *app);

/* apps_cycle.c: one pass over every app (run from the kick timer). */
void apps_cycle(struct cr_apps *a);
/* Move unreachable instances along their app's unreachableStrategy (inactive, expunged);
 * hold: no new inactive instances (most agents are unreachable at once). */
void apps_unreachable_tick(struct cr_apps *a, struct app *app, double now, bool hold);

/* apps_store.c */
void store_app(struct cr_apps *a, struct app *app, master_persist_fn done, void *ud);
void store_version(struct cr_apps *a, const struct app *app, const struct cr_app *spec);
void store_unapp(struct cr_apps *a, struct app *app);
void store_deployment(struct cr_apps *a, const struct deployment *d);
void store_undeployment(struct cr_apps *a, const struct deployment *d);
json_t *store_inst_json(const struct inst *i);
void store_uninst(struct cr_apps *a, const struct inst *i);
void store_framework_id(struct cr_apps *a, const char *id);
/* Load everything from the registry (at start). */
void store_recover(struct cr_apps *a);

/* apps_json.c */
json_t *json_app_info(struct cr_apps *a, struct app *app, bool embed_tasks, bool embed_counts,
                      bool embed_deployments, bool embed_failure);
json_t *json_task(struct cr_apps *a, const struct inst *i);
json_t *json_deployment(struct cr_apps *a, const struct deployment *d, bool with_status);
json_t *json_queue_entry(struct cr_apps *a, struct app *app);
/* Marathon's deployment event payloads: {plan: {id, steps, version, affectedApps},
 * currentStep: {actions}} (deployment_info, deployment_step_*), or {id, plan}
 * (deployment_success, deployment_failed). */
json_t *json_deployment_event(struct cr_apps *a, const struct deployment *d, bool with_step);
/* "/prod/web" -> "prod_web.instance-<uuid>._app.1" (owned) */
char *apps_task_id(const char *app_id);

/* apps_events.c */
/* Publish a Marathon event: payload gets eventType and timestamp (reference stolen). */
void apps_event(struct cr_apps *a, const char *type, json_t *payload);
void apps_events_http(struct cr_apps *a, struct cr_http_req *req);
void apps_events_start(struct cr_apps *a); /* heartbeats */
void apps_events_close(struct cr_apps *a);
void apps_events_heartbeat(struct cr_apps *a);

/* apps_http.c */
bool apps_http(struct cr_apps *a, struct cr_http_req *req);
/* A Marathon error answer {"message": msg}. */
void apps_http_error(struct cr_http_req *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
