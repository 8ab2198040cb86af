/*
 * protocol.h - the calls the agent sends over the agent protocol (docs/protocol.md),
 * built from the agent's own state with the codecs of api/agent_proto.h.
 *
 * The api codecs take a struct cr_agent_call that owns its fields; these builders fill
 * one with borrowed (shallow) copies of the caller's data, encode it and let go without
 * releasing, so nothing is duplicated per call. Events are parsed with
 * cr_parse_agent_event() directly (master_link.c). Used by agent.c and master_link.c.
 */
#ifndef CR_AGENT_PROTOCOL_H
#define CR_AGENT_PROTOCOL_H

#include <jansson.h>
#include <stddef.h>

#include "api/agent_proto.h"
#include "api/mesos.h"

#define CR_AGENT_API_PATH "/corral/v1/agent"

/* One task as reported in SUBSCRIBE. All borrowed. */
struct cr_agent_subscribe_task {
    const char *framework_id;
    const struct cr_task_info *task;
    enum cr_task_state state;                   /* latest state */
    const struct cr_task_status *latest_status; /* may be NULL */
};

/* What the agent says about itself in SUBSCRIBE. All borrowed. */
struct cr_agent_subscribe_view {
    const struct cr_agent_info *info; /* id NULL the first time */
    const char *ip;
    int port;
    const char *version;
    const struct cr_framework_info *const *frameworks;
    size_t nframeworks;
    const struct cr_agent_subscribe_task *tasks;
    size_t ntasks;
};

/* {"type":"SUBSCRIBE","subscribe":{...}} (owned reference). */
json_t *cr_agent_msg_subscribe(const struct cr_agent_subscribe_view *v);

/* {"type":"UPDATE","agent_id":{..},"update":{"framework_id":{..},"status":{..}}}. */
json_t *cr_agent_msg_update(const char *agent_id, const char *framework_id,
                            const struct cr_task_status *status);

/* {"type":"PONG","agent_id":{..}}. */
json_t *cr_agent_msg_pong(const char *agent_id);

#endif
