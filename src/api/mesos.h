/*
 * mesos.h - Corral's C types for the Mesos v1 messages it speaks, and their JSON codecs.
 *
 * JSON follows the mechanical proto2 mapping of API-COMPAT.md §0: snake_case keys,
 * {"value": ...} ids, enum names as strings (numbers rejected), bytes as base64, null =
 * absent, unknown keys ignored, missing required fields rejected with a message naming
 * the field path ("subscribe.framework_info.user: required field missing"). Output
 * emits set fields plus the proto defaults Mesos emits (CommandInfo.shell, Filters,
 * FrameworkInfo.failover_timeout/checkpoint, ...).
 *
 * Parsers fill caller-owned structs (_init/_release pairs; _release accepts a zeroed
 * struct); encoders return new jansson references (owned: json_decref). Fields of a
 * message Corral does not model yet are kept verbatim in an `extra` object so that
 * they reach the agent and are echoed in state (container, health_check, labels,
 * discovery, data, ...), never silently dropped.
 *
 * Used by the master's HTTP handlers, the agent and the CLI. The only place, with
 * those handlers, where JSON is read or written.
 */
#ifndef CR_API_MESOS_H
#define CR_API_MESOS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "core/resources.h"
#include "core/task.h"

/* ---------------------------------------------------------------- common */

/* Dump compact, ASCII-only JSON (non-ASCII as \uXXXX), no newlines. Owned: free(). */
char *cr_json_dump(const json_t *json);

/*
 * Parse text as a JSON object. Returns a new reference or NULL with err "malformed
 * JSON at line L column C: <jansson message>" (or "expected a JSON object").
 */
json_t *cr_json_parse_object(const char *text, size_t len, struct cr_err *err);

/* {"value": id} */
json_t *cr_json_id(const char *id);
/*
 * Read an optional id object at obj[key] ({"value": "..."}). Returns 0 and *out (owned,
 * NULL if absent/null), or -EINVAL with err naming path.key.
 */
int cr_parse_id(const json_t *obj, const char *key, const char *path, char **out,
                struct cr_err *err);

/* Mesos capability bits of FrameworkInfo.capabilities. */
enum cr_fw_capability {
    CR_FWCAP_REVOCABLE_RESOURCES = 1 << 0,
    CR_FWCAP_TASK_KILLING_STATE = 1 << 1,
    CR_FWCAP_GPU_RESOURCES = 1 << 2,
    CR_FWCAP_SHARED_RESOURCES = 1 << 3,
    CR_FWCAP_PARTITION_AWARE = 1 << 4,
    CR_FWCAP_MULTI_ROLE = 1 << 5,
    CR_FWCAP_RESERVATION_REFINEMENT = 1 << 6,
    CR_FWCAP_REGION_AWARE = 1 << 7,
};

/* ---------------------------------------------------------------- resources */

/*
 * Parse a JSON array of Resource into out (added). Role: "reservations" (last = most
 * refined) or "role", default "*". Rejects unknown types, negative or non-finite scalars,
 * ranges with begin > end, and names the element ("resources[2].scalar.value: ...").
 */
int cr_parse_resources(const json_t *array, const char *path, struct cr_resources *out,
                       struct cr_err *err);

/* How to label resources on output. */
struct cr_res_style {
    const char *allocation_role; /* emit allocation_info {role} on each, or NULL */
    bool refinement;             /* RESERVATION_REFINEMENT: "reservations" instead of "role" */
};
/* Encode as a JSON array of Resource. style may be NULL (plain: role only). */
json_t *cr_json_resources(const struct cr_resources *rs, const struct cr_res_style *style);

/* Legacy flattened form {"cpus":2.0,"gpus":0.0,"mem":..,"disk":..,"ports":"[a-b]"} (§4.3). */
json_t *cr_json_resources_flat(const struct cr_resources *rs);

/* ---------------------------------------------------------------- attributes */

struct cr_attribute {
    char *name;  /* owned */
    char *text;  /* owned: value as text (scalar/ranges/set rendered as in Mesos' text form) */
    int type;    /* 0 = TEXT, 1 = SCALAR, 2 = RANGES, 3 = SET */
};
struct cr_attributes {
    struct cr_attribute *v; /* owned */
    size_t n;
};
void cr_attributes_release(struct cr_attributes *a);
/* Parse "rack:r1;zone:a;cores:8" (numbers become SCALAR, [..] RANGES, {..} SET). */
int cr_attributes_parse_text(struct cr_attributes *out, const char *text, struct cr_err *err);
int cr_parse_attributes(const json_t *array, const char *path, struct cr_attributes *out,
                        struct cr_err *err);
json_t *cr_json_attributes(const struct cr_attributes *a);      /* v1 [Attribute] */
json_t *cr_json_attributes_flat(const struct cr_attributes *a); /* legacy {name: value} */
int cr_attributes_copy(struct cr_attributes *dst, const struct cr_attributes *src);

/* ---------------------------------------------------------------- FrameworkInfo */

struct cr_framework_info {
    char *id;                /* owned or NULL */
    char *user;              /* owned, required */
    char *name;              /* owned, required */
    double failover_timeout; /* seconds, default 0 */
    bool checkpoint;
    char **roles;            /* owned; with neither roles nor role: ["*"] */
    size_t nroles;
    bool role_was_legacy;    /* came from the deprecated "role" field */
    char *hostname, *principal, *webui_url; /* owned or NULL */
    unsigned capabilities;   /* enum cr_fw_capability bits */
    json_t *extra;           /* other fields kept verbatim (labels, offer_filters), or NULL */
};
void cr_framework_info_release(struct cr_framework_info *fi);
int cr_framework_info_copy(struct cr_framework_info *dst, const struct cr_framework_info *src);
/* Validates per Mesos: user, name required; MULTI_ROLE ⇒ roles not role; no MULTI_ROLE ⇒
 * roles empty (or ["role"]); role names valid (no '/', not "." or "..", no spaces). */
int cr_parse_framework_info(const json_t *obj, const char *path, struct cr_framework_info *out,
                            struct cr_err *err);
json_t *cr_json_framework_info(const struct cr_framework_info *fi);

/* ---------------------------------------------------------------- CommandInfo / TaskInfo */

struct cr_env_var {
    char *name;  /* owned */
    char *value; /* owned ("" if absent) */
};

struct cr_uri {
    char *value; /* owned */
    bool executable, extract, cache;
    char *output_file; /* owned or NULL */
};

struct cr_command {
    bool shell;         /* default true: run "/bin/sh -c value" */
    char *value;        /* owned or NULL */
    char **arguments;   /* owned argv (incl. argv[0]) for shell=false */
    size_t narguments;
    struct cr_env_var *env;
    size_t nenv;
    struct cr_uri *uris;
    size_t nuris;
    char *user;         /* owned or NULL */
};
void cr_command_release(struct cr_command *c);
int cr_parse_command(const json_t *obj, const char *path, struct cr_command *out,
                     struct cr_err *err);
json_t *cr_json_command(const struct cr_command *c);

struct cr_task_info {
    char *name;                   /* owned, required */
    char *task_id;                /* owned, required */
    char *agent_id;               /* owned, required */
    struct cr_resources resources;
    bool has_command;             /* exactly one of command / executor */
    struct cr_command command;
    json_t *executor;             /* ExecutorInfo verbatim, or NULL */
    int64_t kill_grace_ms;        /* kill_policy.grace_period, -1 = unset */
    json_t *extra;                /* other fields verbatim (container, health_check, labels,
                                     discovery, data, check, max_completion_time, limits) */
};
void cr_task_info_release(struct cr_task_info *t);
int cr_task_info_copy(struct cr_task_info *dst, const struct cr_task_info *src);
/* Parse + structural validation (required fields, exactly one of command/executor,
 * task id characters). Resource checks against offers are the master's job. */
int cr_parse_task_info(const json_t *obj, const char *path, struct cr_task_info *out,
                       struct cr_err *err);
/* style applies to the task's resources. */
json_t *cr_json_task_info(const struct cr_task_info *t, const struct cr_res_style *style);

/* ---------------------------------------------------------------- TaskStatus */

struct cr_task_status {
    char *task_id;              /* owned, required */
    enum cr_task_state state;
    char *message;              /* owned or NULL */
    enum cr_task_source source;
    enum cr_task_reason reason; /* CR_REASON_NONE if absent */
    char *agent_id;             /* owned or NULL */
    char *executor_id;          /* owned or NULL */
    double timestamp;           /* epoch seconds, 0 = absent */
    bool has_uuid;
    unsigned char uuid[16];
    int healthy;                /* -1 absent, 0 false, 1 true */
    char *container_id;         /* owned or NULL */
    double unreachable_time;    /* epoch seconds, 0 = absent */
    json_t *extra;              /* other fields verbatim (data, labels, check_status, ...) */
};
void cr_task_status_release(struct cr_task_status *s);
int cr_task_status_copy(struct cr_task_status *dst, const struct cr_task_status *src);
int cr_parse_task_status(const json_t *obj, const char *path, struct cr_task_status *out,
                         struct cr_err *err);
json_t *cr_json_task_status(const struct cr_task_status *s);

/* ---------------------------------------------------------------- AgentInfo */

struct cr_agent_info {
    char *id;                      /* owned or NULL (new agent) */
    char *hostname;                /* owned, required */
    int port;                      /* default 5051 */
    struct cr_resources resources;
    struct cr_attributes attributes;
};
void cr_agent_info_release(struct cr_agent_info *a);
int cr_agent_info_copy(struct cr_agent_info *dst, const struct cr_agent_info *src);
int cr_parse_agent_info(const json_t *obj, const char *path, struct cr_agent_info *out,
                        struct cr_err *err);
json_t *cr_json_agent_info(const struct cr_agent_info *a);

/* ---------------------------------------------------------------- scheduler calls */

enum cr_sched_call_type {
    CR_CALL_UNKNOWN = 0,
    CR_CALL_SUBSCRIBE = 1,
    CR_CALL_TEARDOWN = 2,
    CR_CALL_ACCEPT = 3,
    CR_CALL_DECLINE = 4,
    CR_CALL_REVIVE = 5,
    CR_CALL_KILL = 6,
    CR_CALL_SHUTDOWN = 7,
    CR_CALL_ACKNOWLEDGE = 8,
    CR_CALL_RECONCILE = 9,
    CR_CALL_MESSAGE = 10,
    CR_CALL_REQUEST = 11,
    CR_CALL_SUPPRESS = 12,
    CR_CALL_ACCEPT_INVERSE_OFFERS = 13,
    CR_CALL_DECLINE_INVERSE_OFFERS = 14,
    CR_CALL_ACKNOWLEDGE_OPERATION_STATUS = 15,
    CR_CALL_RECONCILE_OPERATIONS = 16,
    CR_CALL_UPDATE_FRAMEWORK = 17,
};
const char *cr_sched_call_name(enum cr_sched_call_type t);

enum cr_op_type {
    CR_OP_UNKNOWN = 0,
    CR_OP_LAUNCH = 1,
    CR_OP_RESERVE = 2,
    CR_OP_UNRESERVE = 3,
    CR_OP_CREATE = 4,
    CR_OP_DESTROY = 5,
    CR_OP_LAUNCH_GROUP = 6,
};

struct cr_operation {
    enum cr_op_type type;
    struct cr_task_info *tasks; /* LAUNCH: owned array */
    size_t ntasks;
    json_t *raw;                /* the operation verbatim (for types not modelled) */
};

struct cr_reconcile_task {
    char *task_id;  /* owned */
    char *agent_id; /* owned or NULL */
};

struct cr_sched_call {
    enum cr_sched_call_type type;
    char *framework_id;                    /* owned or NULL */
    /* SUBSCRIBE / UPDATE_FRAMEWORK */
    struct cr_framework_info framework_info;
    char **suppressed_roles;
    size_t nsuppressed_roles;
    /* ACCEPT / DECLINE */
    char **offer_ids;
    size_t noffer_ids;
    struct cr_operation *operations;
    size_t noperations;
    double refuse_seconds;                 /* filters.refuse_seconds, default 5, capped 31536000 */
    /* REVIVE / SUPPRESS */
    char **roles;
    size_t nroles;
    /* KILL / ACKNOWLEDGE / SHUTDOWN / MESSAGE */
    char *task_id;
    char *agent_id;
    char *executor_id;
    int64_t kill_grace_ms;                 /* -1 unset */
    unsigned char uuid[16];                /* ACKNOWLEDGE */
    size_t uuid_len;
    char *data_b64;                        /* MESSAGE data as received */
    /* RECONCILE */
    struct cr_reconcile_task *reconcile;
    size_t nreconcile;
};
void cr_sched_call_release(struct cr_sched_call *c);
/*
 * Parse a scheduler Call. Errors (all -EINVAL with err): malformed JSON, wrong types,
 * missing required fields, an enum given as a number, a body missing for its type.
 * An unknown "type" name parses as CR_CALL_UNKNOWN (the handler answers 501).
 */
int cr_parse_sched_call(const char *body, size_t len, struct cr_sched_call *out,
                        struct cr_err *err);

/* ---------------------------------------------------------------- events */

/* A Mesos MasterInfo as the master describes itself. */
struct cr_master_info {
    const char *id;
    const char *ip;       /* dotted IPv4 */
    int port;
    const char *hostname;
    const char *version;
};
json_t *cr_json_master_info(const struct cr_master_info *mi);

/* One offer, borrowed fields, for encoding. */
struct cr_offer_view {
    const char *id;
    const char *framework_id;
    const char *agent_id;
    const char *hostname;
    const char *agent_ip;
    int agent_port;
    const char *role;                       /* allocation role */
    const struct cr_resources *resources;
    const struct cr_attributes *attributes;
    bool refinement;                        /* framework has RESERVATION_REFINEMENT */
    const char *const *executor_ids;
    size_t nexecutor_ids;
};
json_t *cr_json_offer(const struct cr_offer_view *o);

/* Event records (compact JSON objects): {"type":"X","x":{...}}. Owned references. */
json_t *cr_event_subscribed(const char *framework_id, double heartbeat_interval_seconds,
                            const struct cr_master_info *mi);
json_t *cr_event_offers(json_t *offers_array /* reference stolen */);
json_t *cr_event_rescind(const char *offer_id);
json_t *cr_event_update(const struct cr_task_status *status);
json_t *cr_event_failure(const char *agent_id, const char *executor_id, int status,
                         bool has_status);
json_t *cr_event_error(const char *message);
json_t *cr_event_heartbeat(void);
/* Generic {"type": type, lower(type): body} (body reference stolen; NULL = no body). */
json_t *cr_event(const char *type, json_t *body);

#endif
