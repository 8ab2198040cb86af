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
 * struct and leaves the struct initialized). A cr_parse_X() initializes its out itself
 * (any previous content is not freed) and, on failure, leaves it empty, so a caller
 * releases it only after success; releasing an empty struct again is harmless. Encoders
 * return new jansson references (owned: json_decref) and never fail (allocation failure
 * aborts, as cr_xmalloc; strings that are not UTF-8 are sanitized). Fields of a
 * message Corral does not model yet are kept verbatim in an `extra` object so that
 * they reach the agent and are echoed in state (container, health_check, labels,
 * discovery, data, ...), never silently dropped.
 *
 * Used by the master's HTTP handlers, the agent and the CLI; agent_proto.h builds
 * Corral's agent protocol on these codecs. The only place, with those handlers, where
 * JSON is read or written.
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

/*
 * Dump compact, ASCII-only JSON (non-ASCII as \uXXXX), never a raw newline, doubles with
 * Mesos' 15 significant digits (0.1 -> 0.1, 7000 -> 7000.0). Use it for every JSON
 * Corral sends. Owned: free(). A NULL json dumps as "null".
 */
char *cr_json_dump(const json_t *json);

/*
 * Parse text[0..len) as a JSON object. Returns a new reference or NULL with err
 * "malformed JSON at line L column C: <jansson message>" (or "expected a JSON object,
 * got array").
 */
json_t *cr_json_parse_object(const char *text, size_t len, struct cr_err *err);
/* "object", "array", "string", "number", "boolean" or "null": for error messages. */
const char *cr_mj_type_name(const json_t *v);

/* {"value": id}; NULL for a NULL id. */
json_t *cr_json_id(const char *id);
/*
 * Read an optional id object at obj[key] ({"value": "..."}). Returns 0 and *out (owned,
 * NULL if absent/null), or -EINVAL with err naming path.key. path "" = top level.
 */
int cr_parse_id(const json_t *obj, const char *key, const char *path, char **out,
                struct cr_err *err);

/*
 * Mesos' rules for task, executor, agent and framework ids: non-empty, at most 255
 * bytes, not "." or "..", no control characters, '/' or '\'. 0 or -EINVAL (err says why,
 * without a field path).
 */
int cr_validate_id(const char *id, struct cr_err *err);

/*
 * Role name rules (Mesos' roles::validate): "*" is valid; otherwise not empty, not "."
 * or "..", no leading '-', no whitespace or control characters, and no '/' (Corral does
 * not support Mesos' hierarchical roles). 0 or -EINVAL (err says why).
 */
int cr_validate_role(const char *role, struct cr_err *err);

/* Mesos capability bits of FrameworkInfo.capabilities (unknown names are dropped). */
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
/* "MULTI_ROLE" etc. for one capability bit (legacy /state lists names); NULL otherwise. */
const char *cr_fw_capability_name(unsigned capability);

/* ---------------------------------------------------------------- resources */

/*
 * Parse a JSON array of Resource into out (added; out must be initialized). A NULL or
 * null array adds nothing. Role: "reservations" (last = most refined) or "role", default
 * "*"; allocation_info and the legacy "reservation" are checked, not kept; disk,
 * revocable, shared and provider_id are ignored. Rejects unknown and TEXT types,
 * negative, non-finite or huge scalars, fractional gpus, ranges with begin > end, a name
 * used with two types, invalid role names, and names the element
 * ("resources[2].scalar.value: ..."). On failure out may hold the elements before the
 * bad one.
 */
int cr_parse_resources(const json_t *array, const char *path, struct cr_resources *out,
                       struct cr_err *err);

/* How to label resources on output. */
struct cr_res_style {
    const char *allocation_role; /* emit allocation_info {role} on each, or NULL */
    bool refinement;             /* RESERVATION_REFINEMENT: "reservations" instead of "role" */
};
/* Encode as a JSON array of Resource. style may be NULL (plain: "role" on each). With
 * refinement, unreserved resources carry no role field and reserved ones
 * "reservations":[{"type":"STATIC","role":..}]. */
json_t *cr_json_resources(const struct cr_resources *rs, const struct cr_res_style *style);

/* Legacy flattened form {"cpus":2.0,"disk":..,"gpus":0.0,"mem":..,"ports":"[a-b, c-d]"}
 * (§4.3): all roles merged, cpus/gpus/mem/disk always present, sets as "{a, b}", keys in
 * byte order as Mesos' std::map prints them. rs may be NULL. */
json_t *cr_json_resources_flat(const struct cr_resources *rs);

/* ---------------------------------------------------------------- attributes */

/* Values of cr_attribute.type. */
enum cr_attr_type { CR_ATTR_TEXT = 0, CR_ATTR_SCALAR = 1, CR_ATTR_RANGES = 2, CR_ATTR_SET = 3 };

struct cr_attribute {
    char *name; /* owned */
    char *text; /* owned: value as text (scalar "8", ranges "[1-2, 5-6]", set "{a, b}") */
    int type;   /* enum cr_attr_type */
};
struct cr_attributes {
    struct cr_attribute *v; /* owned */
    size_t n;
};
void cr_attributes_init(struct cr_attributes *a);
void cr_attributes_release(struct cr_attributes *a);
/*
 * Parse the agent flag form "rack:r1;zone:a;cores:8" and append to out (initialized).
 * Decimal numbers become SCALAR, [a-b, ..] RANGES, {a, b} SET, anything else TEXT;
 * empty entries are skipped. On error (-EINVAL: no ':', empty name or value, malformed
 * ranges/set) out is unchanged and err names the entry.
 */
int cr_attributes_parse_text(struct cr_attributes *out, const char *text, struct cr_err *err);
/* Parse a JSON array of Attribute ({name, type, scalar|ranges|set|text}) and append to
 * out; on error out is unchanged and err names the element path. */
int cr_parse_attributes(const json_t *array, const char *path, struct cr_attributes *out,
                        struct cr_err *err);
json_t *cr_json_attributes(const struct cr_attributes *a);      /* v1 [Attribute] */
json_t *cr_json_attributes_flat(const struct cr_attributes *a); /* legacy {name: text|number} */
/* dst := deep copy of src (dst released first). Returns 0. */
int cr_attributes_copy(struct cr_attributes *dst, const struct cr_attributes *src);

/* ---------------------------------------------------------------- FrameworkInfo */

struct cr_framework_info {
    char *id;                /* owned or NULL */
    char *user;              /* owned, required */
    char *name;              /* owned, required */
    double failover_timeout; /* seconds, default 0 */
    bool checkpoint;
    char **roles; /* owned. Without MULTI_ROLE: exactly one, from "role" (or a
                     one-element "roles"), default "*". With MULTI_ROLE: the
                     "roles" list as given, possibly empty (no offers). */
    size_t nroles;
    bool role_was_legacy; /* true without MULTI_ROLE: the one role is the deprecated
                             "role" field's (given or defaulted), and encoders write
                             "role", not "roles" */
    char *hostname, *principal, *webui_url; /* owned or NULL */
    unsigned capabilities;                  /* enum cr_fw_capability bits */
    json_t *extra; /* other fields kept verbatim (labels, offer_filters), or NULL */
};
void cr_framework_info_init(struct cr_framework_info *fi);
void cr_framework_info_release(struct cr_framework_info *fi);
/* dst := deep copy of src (dst released first). Returns 0. */
int cr_framework_info_copy(struct cr_framework_info *dst, const struct cr_framework_info *src);
/* Validates per Mesos: user, name required; id a valid id; failover_timeout finite
 * (negative is taken as 0); MULTI_ROLE => roles (no duplicates), never role; no
 * MULTI_ROLE => roles empty (or ["role"]); role names per cr_validate_role(). */
int cr_parse_framework_info(const json_t *obj, const char *path, struct cr_framework_info *out,
                            struct cr_err *err);
/* Mesos' form: failover_timeout and checkpoint always; "role" without MULTI_ROLE,
 * "roles" with it; capabilities as [{"type":..}]; labels/offer_filters from extra. */
json_t *cr_json_framework_info(const struct cr_framework_info *fi);

/* ---------------------------------------------------------------- CommandInfo / TaskInfo */

struct cr_env_var {
    char *name;  /* owned */
    char *value; /* owned; required on input (type VALUE; SECRET variables are rejected) */
};

struct cr_uri {
    char *value; /* owned */
    bool executable, extract, cache;
    char *output_file; /* owned or NULL */
};

struct cr_command {
    bool shell;       /* default true: run "/bin/sh -c value" */
    char *value;      /* owned or NULL */
    char **arguments; /* owned argv (incl. argv[0]) for shell=false */
    size_t narguments;
    struct cr_env_var *env;
    size_t nenv;
    struct cr_uri *uris;
    size_t nuris;
    char *user; /* owned or NULL */
};
/* Empty command with shell = true. */
void cr_command_init(struct cr_command *c);
void cr_command_release(struct cr_command *c);
/* dst := deep copy of src (dst released first). Returns 0. */
int cr_command_copy(struct cr_command *dst, const struct cr_command *src);
int cr_parse_command(const json_t *obj, const char *path, struct cr_command *out,
                     struct cr_err *err);
/* shell always, uris[].extract always, environment variables with type "VALUE". */
json_t *cr_json_command(const struct cr_command *c);

struct cr_task_info {
    char *name;     /* owned, required */
    char *task_id;  /* owned, required */
    char *agent_id; /* owned, required */
    struct cr_resources resources;
    bool has_command; /* exactly one of command / executor */
    struct cr_command command;
    json_t *executor;      /* ExecutorInfo verbatim (nulls stripped), or NULL */
    int64_t kill_grace_ms; /* kill_policy.grace_period, -1 = unset */
    json_t *extra;         /* other fields verbatim (container, health_check, labels,
                              discovery, data, check, max_completion_time, limits) */
};
/* Empty task: no command (command.shell = true), kill_grace_ms = -1. */
void cr_task_info_init(struct cr_task_info *t);
void cr_task_info_release(struct cr_task_info *t);
/* dst := deep copy of src (dst released first). Returns 0 or -ENOMEM. */
int cr_task_info_copy(struct cr_task_info *dst, const struct cr_task_info *src);
/* Parse + validation: the JSON rules (types, required name/task_id/agent_id, executor
 * with executor_id, non-negative kill_policy and max_completion_time) and then
 * cr_task_info_validate(). Resource checks against offers are the master's job. */
int cr_parse_task_info(const json_t *obj, const char *path, struct cr_task_info *out,
                       struct cr_err *err);
/*
 * Mesos' launch validation of a parsed task (what Mesos answers with TASK_ERROR /
 * REASON_TASK_INVALID rather than 400): task id per cr_validate_id(); exactly one of
 * command or executor; a command without value only with a container image and
 * shell=false (the image's entrypoint); a valid executor id; a well-formed health_check.
 * err reads "task 'web.1': exactly one of command or executor must be set".
 */
int cr_task_info_validate(const struct cr_task_info *t, struct cr_err *err);
/* style applies to the task's resources. */
json_t *cr_json_task_info(const struct cr_task_info *t, const struct cr_res_style *style);

/* ---------------------------------------------------------------- TaskStatus */

struct cr_task_status {
    char *task_id; /* owned, required */
    enum cr_task_state state;
    char *message;              /* owned or NULL */
    enum cr_task_source source; /* CR_SOURCE_NONE if absent */
    enum cr_task_reason reason; /* CR_REASON_NONE if absent */
    char *agent_id;             /* owned or NULL */
    char *executor_id;          /* owned or NULL */
    double timestamp;           /* epoch seconds, 0 = absent */
    bool has_uuid;
    unsigned char uuid[16];
    int healthy;             /* -1 absent, 0 false, 1 true */
    char *container_id;      /* owned or NULL */
    double unreachable_time; /* epoch seconds, 0 = absent */
    json_t *extra;           /* other fields verbatim (data as base64, labels,
                                check_status, container_status, limitation) */
};
/* Empty status: state STAGING, source NONE, reason NONE, healthy -1. */
void cr_task_status_init(struct cr_task_status *s);
void cr_task_status_release(struct cr_task_status *s);
/* dst := deep copy of src (dst released first). Returns 0. */
int cr_task_status_copy(struct cr_task_status *dst, const struct cr_task_status *src);
/* Give s a fresh random (version 4) uuid: an update that must be acknowledged. */
void cr_task_status_set_uuid_random(struct cr_task_status *s);
/* task_id and state required; uuid must be 16 bytes (base64 or a Buffer object); an
 * unknown reason or source name counts as absent. */
int cr_parse_task_status(const json_t *obj, const char *path, struct cr_task_status *out,
                         struct cr_err *err);
/* Fields in proto order; timestamp as epoch seconds (double), uuid base64, healthy only
 * when known, container_status {container_id{value}} merged with the kept one. */
json_t *cr_json_task_status(const struct cr_task_status *s);
/* A JSON array of n statuses. */
json_t *cr_json_task_status_list(const struct cr_task_status *v, size_t n);

/* ---------------------------------------------------------------- AgentInfo */

struct cr_agent_info {
    char *id;       /* owned or NULL (new agent) */
    char *hostname; /* owned, required */
    int port;       /* default 5051 */
    struct cr_resources resources;
    struct cr_attributes attributes;
};
/* Empty agent info with port 5051. */
void cr_agent_info_init(struct cr_agent_info *a);
void cr_agent_info_release(struct cr_agent_info *a);
/* dst := deep copy of src (dst released first). Returns 0 or -ENOMEM. */
int cr_agent_info_copy(struct cr_agent_info *dst, const struct cr_agent_info *src);
/* hostname required; port 0-65535 (default 5051); id a valid id when present. */
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
/* "ACCEPT" etc.; "UNKNOWN" out of range. */
const char *cr_sched_call_name(enum cr_sched_call_type t);
/* The type of a call name; CR_CALL_UNKNOWN for unknown names. */
enum cr_sched_call_type cr_sched_call_type_parse(const char *name);

/* Offer.Operation types Corral names (other types parse as CR_OP_UNKNOWN with raw). */
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
    struct cr_task_info *tasks; /* LAUNCH / LAUNCH_GROUP (task_group.tasks): owned array
                                   of tasks that passed cr_task_info_validate() */
    size_t ntasks;
    /*
     * LAUNCH / LAUNCH_GROUP: tasks that are well-formed JSON but fail Mesos' launch
     * validation, with the reason for each (owned). Mesos does not reject the call for
     * these: the master answers each with TASK_ERROR, source SOURCE_MASTER, reason
     * REASON_TASK_INVALID (REASON_TASK_GROUP_INVALID, and the whole group, for
     * LAUNCH_GROUP) and message invalid_reasons[i].
     */
    struct cr_task_info *invalid_tasks;
    char **invalid_reasons;
    size_t ninvalid;
    json_t *raw; /* the operation verbatim, nulls stripped (always set; the
                    only content for types not modelled; LAUNCH_GROUP's
                    executor is in raw.launch_group.executor) */
};

struct cr_reconcile_task {
    char *task_id;  /* owned */
    char *agent_id; /* owned or NULL */
};

struct cr_sched_call {
    enum cr_sched_call_type type;
    char *framework_id; /* owned or NULL */
    /* SUBSCRIBE / UPDATE_FRAMEWORK */
    struct cr_framework_info framework_info;
    char **suppressed_roles;
    size_t nsuppressed_roles;
    /* ACCEPT / DECLINE (and the *_INVERSE_OFFERS calls: inverse_offer_ids) */
    char **offer_ids;
    size_t noffer_ids;
    struct cr_operation *operations;
    size_t noperations;
    double refuse_seconds; /* filters.refuse_seconds: default 5, negative
                              -> 5, capped at 31536000 (as Mesos) */
    /* REVIVE / SUPPRESS */
    char **roles;
    size_t nroles;
    /* KILL / ACKNOWLEDGE / SHUTDOWN / MESSAGE */
    char *task_id;
    char *agent_id;
    char *executor_id;
    int64_t kill_grace_ms;  /* -1 unset */
    unsigned char uuid[16]; /* ACKNOWLEDGE (always 16 bytes), or
                               ACKNOWLEDGE_OPERATION_STATUS */
    size_t uuid_len;
    char *data_b64; /* MESSAGE data, re-encoded as base64 */
    /* RECONCILE */
    struct cr_reconcile_task *reconcile;
    size_t nreconcile;
};
/* Empty call: type UNKNOWN, refuse_seconds 5, kill_grace_ms -1. */
void cr_sched_call_init(struct cr_sched_call *c);
void cr_sched_call_release(struct cr_sched_call *c);
/*
 * Parse a scheduler Call (out initialized by the call; release it after success).
 * Errors (all -EINVAL with err naming the field path): malformed JSON, wrong types,
 * missing required fields, an enum given as a number, a body missing for its type
 * ("accept: required for type ACCEPT"; optional for TEARDOWN, REVIVE, SUPPRESS and the
 * ignored REQUEST), a missing framework_id on any call but
 * SUBSCRIBE, a framework_id that differs from subscribe.framework_info.id, suppressed
 * roles outside the framework's roles, an ACKNOWLEDGE uuid that is not 16 bytes.
 * An unknown "type" name parses as CR_CALL_UNKNOWN (the handler answers 501). Invalid
 * tasks in LAUNCH operations do not fail the call (see cr_operation.invalid_tasks).
 */
int cr_parse_sched_call(const char *body, size_t len, struct cr_sched_call *out,
                        struct cr_err *err);

/* ---------------------------------------------------------------- events */

/* A Mesos MasterInfo as the master describes itself (borrowed strings). */
struct cr_master_info {
    const char *id;
    const char *ip; /* dotted IPv4 */
    int port;       /* <= 0: 5050 */
    const char *hostname;
    const char *version;
};
/* {id, ip (uint32: 127.0.0.1 -> 16777343), port, pid "master@ip:port", hostname,
 * version, address {hostname, ip, port}} */
json_t *cr_json_master_info(const struct cr_master_info *mi);

/* One offer, borrowed fields, for encoding. */
struct cr_offer_view {
    const char *id;
    const char *framework_id;
    const char *agent_id;
    const char *hostname;
    const char *agent_ip; /* dotted; url.address.ip (clients need it) */
    int agent_port;       /* <= 0: 5051 */
    const char *role;     /* allocation role, or NULL */
    const struct cr_resources *resources;
    const struct cr_attributes *attributes;
    bool refinement; /* framework has RESERVATION_REFINEMENT */
    const char *const *executor_ids;
    size_t nexecutor_ids;
};
/* Offer per API-COMPAT.md §1.5: url always, allocation_info (offer and each resource)
 * when role is set, resources always (even empty), attributes and executor_ids only when
 * non-empty (Mesos emits repeated fields only when non-empty). */
json_t *cr_json_offer(const struct cr_offer_view *o);

/* Event records (compact JSON objects): {"type":"X","x":{...}}. Owned references. */
json_t *cr_event_subscribed(const char *framework_id, double heartbeat_interval_seconds,
                            const struct cr_master_info *mi);
json_t *cr_event_offers(json_t *offers_array /* reference stolen */);
json_t *cr_event_rescind(const char *offer_id);
/* UPDATE {status}, the status as given: map its state with cr_task_state_for_framework()
 * first for frameworks without PARTITION_AWARE. */
json_t *cr_event_update(const struct cr_task_status *status);
json_t *cr_event_failure(const char *agent_id, const char *executor_id, int status,
                         bool has_status);
json_t *cr_event_error(const char *message);
/* MESSAGE {agent_id, executor_id, data} with data already base64. */
json_t *cr_event_message(const char *agent_id, const char *executor_id, const char *data_b64);
json_t *cr_event_heartbeat(void);
/* Generic {"type": type, lower(type): body} (body reference stolen; NULL = no body). */
json_t *cr_event(const char *type, json_t *body);

#endif
