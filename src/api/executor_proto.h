/*
 * executor_proto.h - the agent <-> executor protocol (codecs only; docs/protocol.md).
 *
 * Each task's `corral-executor` connects to the agent's unix socket
 * (<work-dir>/executor.sock) and both sides write RecordIO-framed JSON messages shaped
 * like the Mesos v1 executor API. Executor -> agent ("calls"):
 *
 *   {"type":"SUBSCRIBE","framework_id":{"value":F},"executor_id":{"value":E},
 *    "subscribe":{"container_id":{"value":C},"pid":P,"launched":true,"task_pid":T,
 *                 "unacknowledged_updates":[{"framework_id":..,"status":TaskStatus},..]}}
 *   {"type":"UPDATE","framework_id":..,"executor_id":..,
 *    "update":{"status":TaskStatus,"task_pid":T}}
 *
 * Agent -> executor ("events"):
 *
 *   {"type":"SUBSCRIBED","subscribed":{"agent_info":{"id":{"value":A}},
 *                                      "container_id":{"value":C}}}
 *   {"type":"LAUNCH","launch":{"task":TaskInfo,
 *                              "command":{"argv":[..],"environment":["K=V",..],"user":U}}}
 *   {"type":"KILL","kill":{"task_id":{"value":T},"grace_period_ms":G,"killing_state":B}}
 *   {"type":"ACKNOWLEDGED","acknowledged":{"task_id":{"value":T},"uuid":"<base64>"}}
 *   {"type":"SHUTDOWN","shutdown":{"grace_period_ms":G}}
 *
 * Corral extensions to Mesos' shape: "pid"/"task_pid"/"launched"/"container_id" in
 * SUBSCRIBE (the agent re-adopts a running executor after its own restart), the task's
 * resolved argv/environment in LAUNCH (the agent computes MESOS_* variables, ports...),
 * "killing_state" (the framework's TASK_KILLING_STATE capability) and grace periods in
 * milliseconds.
 *
 * Parsers never crash on bad input: a wrong type or a missing required field is -EINVAL
 * with err naming the field ("executor message: subscribe.container_id: missing").
 */
#ifndef CR_API_EXECUTOR_PROTO_H
#define CR_API_EXECUTOR_PROTO_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "api/mesos.h"
#include "base/err.h"

enum cr_exec_call_type {
    CR_EXEC_CALL_SUBSCRIBE = 1,
    CR_EXEC_CALL_UPDATE,
};

struct cr_exec_call {
    enum cr_exec_call_type type;
    char *framework_id; /* owned */
    char *executor_id;  /* owned */
    /* SUBSCRIBE */
    char *container_id;             /* owned */
    pid_t pid;                      /* the executor's pid */
    bool launched;                  /* the executor already has the task (re-subscription) */
    struct cr_task_status *updates; /* owned: unacknowledged updates, oldest first */
    size_t nupdates;
    /* SUBSCRIBE (if launched) and UPDATE */
    pid_t task_pid; /* the task's host pid, 0 if unknown */
    /* UPDATE */
    struct cr_task_status status;
};

void cr_exec_call_release(struct cr_exec_call *c);
int cr_exec_call_parse(const char *text, size_t len, struct cr_exec_call *out, struct cr_err *err);

/* Builders of the executor's calls (owned references). updates may be NULL when n = 0. */
json_t *cr_exec_call_subscribe(const char *framework_id, const char *executor_id,
                               const char *container_id, pid_t pid, bool launched, pid_t task_pid,
                               const struct cr_task_status *const *updates, size_t n);
json_t *cr_exec_call_update(const char *framework_id, const char *executor_id,
                            const struct cr_task_status *status, pid_t task_pid);

enum cr_exec_event_type {
    CR_EXEC_EVENT_SUBSCRIBED = 1,
    CR_EXEC_EVENT_LAUNCH,
    CR_EXEC_EVENT_KILL,
    CR_EXEC_EVENT_ACKNOWLEDGED,
    CR_EXEC_EVENT_SHUTDOWN,
};

struct cr_exec_event {
    enum cr_exec_event_type type;
    /* SUBSCRIBED */
    char *agent_id;     /* owned */
    char *container_id; /* owned */
    /* LAUNCH */
    json_t *task; /* owned reference: the TaskInfo as sent */
    char **argv;  /* owned, NULL-terminated */
    char **envp;  /* owned, NULL-terminated */
    char *user;   /* owned or NULL */
    /* KILL, ACKNOWLEDGED */
    char *task_id; /* owned */
    /* KILL, SHUTDOWN */
    int64_t grace_ms; /* -1 = the task's kill policy or the default */
    bool killing_state;
    /* ACKNOWLEDGED */
    unsigned char uuid[16];
};

void cr_exec_event_release(struct cr_exec_event *e);
int cr_exec_event_parse(const char *text, size_t len, struct cr_exec_event *out,
                        struct cr_err *err);

json_t *cr_exec_event_subscribed(const char *agent_id, const char *container_id);
/* task is borrowed (incref'd into the message); envp/user may be NULL. */
json_t *cr_exec_event_launch(json_t *task, const char *const *argv, const char *const *envp,
                             const char *user);
json_t *cr_exec_event_kill(const char *task_id, int64_t grace_ms, bool killing_state);
json_t *cr_exec_event_acknowledged(const char *task_id, const unsigned char uuid[16]);
json_t *cr_exec_event_shutdown(int64_t grace_ms);

/* Serialize msg compactly and frame it as one RecordIO record. Owned; *len set. */
char *cr_exec_frame(const json_t *msg, size_t *len);

#endif
