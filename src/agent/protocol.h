/*
 * protocol.h - the agent side of Corral's agent protocol v1 (docs/protocol.md): parse the
 * master's event records, build the agent's calls (SUBSCRIBE, UPDATE, PONG).
 *
 * Messages inside (TaskInfo, TaskStatus, FrameworkInfo, AgentInfo, Resources) go
 * through the codecs of api/mesos.h; this file only knows the envelopes. Used by
 * master_link.c (events) and the agent (calls); tested alone.
 */
#ifndef CR_AGENT_PROTOCOL_H
#define CR_AGENT_PROTOCOL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/mesos.h"

#define CR_AGENT_API_PATH "/corral/v1/agent"

enum cr_agent_event_type {
    CR_AGENT_EV_UNKNOWN = 0,
    CR_AGENT_EV_SUBSCRIBED,
    CR_AGENT_EV_LAUNCH,
    CR_AGENT_EV_KILL,
    CR_AGENT_EV_SHUTDOWN_FRAMEWORK,
    CR_AGENT_EV_ACKNOWLEDGED,
    CR_AGENT_EV_PING,
    CR_AGENT_EV_ERROR,
};

/* One event from the master. Caller-owned; cr_agent_event_release() frees the fields. */
struct cr_agent_event {
    enum cr_agent_event_type type;
    char *type_name;              /* owned: the "type" as received (for logs) */

    /* SUBSCRIBED */
    char *agent_id;               /* owned */
    double ping_interval_seconds; /* 0 if absent */
    char *master_hostname;        /* owned or NULL */

    /* LAUNCH, KILL, SHUTDOWN_FRAMEWORK, ACKNOWLEDGED */
    char *framework_id;           /* owned (LAUNCH: framework_info.id) */
    char *task_id;                /* owned (LAUNCH: task.task_id, even if the task is invalid) */

    /* LAUNCH */
    bool has_framework_info;      /* framework_info parsed (it may be invalid and skipped) */
    struct cr_framework_info framework_info;
    bool has_task;                /* task parsed and valid */
    struct cr_task_info task;
    json_t *task_json;            /* owned reference: the task as received, echoed back in
                                     SUBSCRIBE so the master sees its own allocation_info */
    char *launch_error;           /* owned or NULL: why the task is invalid */

    /* KILL */
    int64_t kill_grace_ms;        /* kill_policy.grace_period, -1 = absent */

    /* ACKNOWLEDGED */
    unsigned char uuid[16];

    /* ERROR */
    char *message;                /* owned */
};

void cr_agent_event_release(struct cr_agent_event *ev);

/*
 * Parse one event record. Returns 0 with *ev filled (release it even on failure), or
 * -EINVAL with err naming the field ("kill.task_id: required field missing"). A LAUNCH
 * whose task is invalid but whose framework and task ids are readable parses
 * successfully with has_task false and launch_error set, so the agent can answer
 * TASK_ERROR. An unknown type parses as CR_AGENT_EV_UNKNOWN.
 */
int cr_agent_event_parse(const char *text, size_t len, struct cr_agent_event *ev,
                         struct cr_err *err);

/* One task as reported in SUBSCRIBE. All borrowed. */
struct cr_agent_subscribe_task {
    const char *framework_id;
    const json_t *task_json;                 /* the TaskInfo as received, or NULL to encode */
    const struct cr_task_info *task;         /* used when task_json is NULL */
    enum cr_task_state state;                /* latest state */
    const struct cr_task_status *latest_status; /* may be NULL */
};

/* What the agent says about itself in SUBSCRIBE. All borrowed. */
struct cr_agent_subscribe_view {
    const struct cr_agent_info *info;        /* id NULL the first time */
    const char *ip;
    int port;
    const char *version;
    const struct cr_framework_info *const *frameworks;
    size_t nframeworks;
    const struct cr_agent_subscribe_task *tasks;
    size_t ntasks;
};

/* {"type":"SUBSCRIBE","subscribe":{...}} (owned reference). */
json_t *cr_agent_call_subscribe(const struct cr_agent_subscribe_view *v);

/* {"type":"UPDATE","agent_id":{..},"update":{"framework_id":{..},"status":{..}}}. */
json_t *cr_agent_call_update(const char *agent_id, const char *framework_id,
                             const struct cr_task_status *status);

/* {"type":"PONG","agent_id":{..}}. */
json_t *cr_agent_call_pong(const char *agent_id);

#endif
