/*
 * agent_proto.h - codecs for Corral's own agent protocol, version 1 (docs/protocol.md):
 * the calls an agent POSTs to /corral/v1/agent (SUBSCRIBE, UPDATE, PONG) and the events
 * the master streams back on the SUBSCRIBE response (SUBSCRIBED, LAUNCH, KILL,
 * SHUTDOWN_FRAMEWORK, ACKNOWLEDGED, PING, ERROR).
 *
 * The JSON follows the same mechanical proto mapping as the Mesos v1 API and reuses its
 * message codecs (mesos.h), so the same leniency and error paths apply. The master
 * parses calls and encodes events; the agent encodes calls and parses events. Ownership
 * and conventions as in mesos.h: parsers initialize their out and leave it empty on
 * failure; encoders return new references (json_decref), never NULL.
 */
#ifndef CR_API_AGENT_PROTO_H
#define CR_API_AGENT_PROTO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/mesos.h"
#include "base/err.h"
#include "core/task.h"

#define CR_AGENT_PROTO_VERSION 1

/* ---------------------------------------------------------------- agent -> master */

enum cr_agent_call_type {
    CR_AGENT_CALL_UNKNOWN = 0,
    CR_AGENT_CALL_SUBSCRIBE = 1,
    CR_AGENT_CALL_UPDATE = 2,
    CR_AGENT_CALL_PONG = 3,
};
/* "SUBSCRIBE" etc.; "UNKNOWN" out of range. */
const char *cr_agent_call_name(enum cr_agent_call_type t);

/* A task the agent is running, reported in SUBSCRIBE. */
struct cr_agent_task {
    char *framework_id;       /* owned, required */
    struct cr_task_info task; /* JSON-checked only (it was validated at launch) */
    enum cr_task_state state; /* required */
    bool has_latest_status;
    struct cr_task_status latest_status;
};

struct cr_agent_call {
    enum cr_agent_call_type type;
    char *agent_id; /* owned; required for UPDATE and PONG */
    /* SUBSCRIBE */
    struct cr_agent_info agent_info;      /* agent_info.id = the id to re-subscribe with */
    char *address_ip;                     /* owned: where the agent's HTTP server listens */
    int address_port;                     /* default 5051 */
    char *version;                        /* owned or NULL: the agent's Corral version */
    struct cr_framework_info *frameworks; /* owned: frameworks of the running tasks */
    size_t nframeworks;
    struct cr_agent_task *tasks; /* owned */
    size_t ntasks;
    /* UPDATE */
    char *framework_id;           /* owned, required for UPDATE */
    struct cr_task_status status; /* required for UPDATE (status.uuid must be set) */
};

void cr_agent_call_init(struct cr_agent_call *c);
void cr_agent_call_release(struct cr_agent_call *c);
/*
 * Parse an agent call body. -EINVAL with err naming the field path for malformed JSON,
 * wrong types, a missing body or required field ("subscribe.agent_info.hostname:
 * required field missing"), an UPDATE without a uuid. An unknown type name parses as
 * CR_AGENT_CALL_UNKNOWN.
 */
int cr_parse_agent_call(const char *body, size_t len, struct cr_agent_call *out,
                        struct cr_err *err);
/* Encode a call (the agent's side). Tasks' resources carry no role style (plain). */
json_t *cr_json_agent_call(const struct cr_agent_call *c);

/* ---------------------------------------------------------------- master -> agent */

enum cr_agent_event_type {
    CR_AGENT_EVENT_UNKNOWN = 0,
    CR_AGENT_EVENT_SUBSCRIBED = 1,
    CR_AGENT_EVENT_LAUNCH = 2,
    CR_AGENT_EVENT_KILL = 3,
    CR_AGENT_EVENT_SHUTDOWN_FRAMEWORK = 4,
    CR_AGENT_EVENT_ACKNOWLEDGED = 5,
    CR_AGENT_EVENT_PING = 6,
    CR_AGENT_EVENT_ERROR = 7,
};
const char *cr_agent_event_name(enum cr_agent_event_type t);

struct cr_agent_event {
    enum cr_agent_event_type type;
    /* SUBSCRIBED */
    char *agent_id; /* owned */
    double ping_interval_seconds;
    json_t *master_info; /* MasterInfo verbatim, or NULL */
    /* LAUNCH */
    struct cr_framework_info framework_info;
    struct cr_task_info task; /* JSON-checked only (the master validated it) */
    char *allocation_role;    /* owned: allocation_info.role of the task's
                                 resources, or NULL */
    /* KILL / SHUTDOWN_FRAMEWORK / ACKNOWLEDGED */
    char *framework_id;     /* owned */
    char *task_id;          /* owned (KILL, ACKNOWLEDGED) */
    int64_t kill_grace_ms;  /* KILL: kill_policy.grace_period, -1 = unset */
    unsigned char uuid[16]; /* ACKNOWLEDGED */
    /* ERROR */
    char *message; /* owned */
};

void cr_agent_event_init(struct cr_agent_event *e);
void cr_agent_event_release(struct cr_agent_event *e);
/* Parse one event record (the agent's side). Errors as cr_parse_agent_call(). */
int cr_parse_agent_event(const char *body, size_t len, struct cr_agent_event *out,
                         struct cr_err *err);

/* Event encoders (the master's side). Borrowed arguments. */
json_t *cr_agent_event_subscribed(const char *agent_id, double ping_interval_seconds,
                                  const struct cr_master_info *mi);
/* The task's resources carry allocation_info {role: allocation_role} when it is set. */
json_t *cr_agent_event_launch(const struct cr_framework_info *fi, const struct cr_task_info *task,
                              const char *allocation_role);
/* kill_grace_ms < 0: no kill_policy. */
json_t *cr_agent_event_kill(const char *framework_id, const char *task_id, int64_t kill_grace_ms);
json_t *cr_agent_event_shutdown_framework(const char *framework_id);
json_t *cr_agent_event_acknowledged(const char *framework_id, const char *task_id,
                                    const unsigned char uuid[16]);
json_t *cr_agent_event_ping(void);
json_t *cr_agent_event_error(const char *message);

#endif
