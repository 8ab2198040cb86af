/*
 * mesos_internal.h - helpers shared by the mesos_*.c codecs; not for use outside src/api/.
 *
 * Reading: every getter takes the containing object, the key and the path of the
 * container ("" at the top level), so errors name the full field path
 * ("accept.operations[0].launch.task_infos[1].task_id: required field missing").
 * Getters return 1 when the field is present, 0 when it is absent or null (the output
 * is then left untouched, so callers set defaults first), or -EINVAL with err filled
 * when it has the wrong shape. The cr_mj_required_* getters return 0 when the field is
 * present and treat absence as an error.
 *
 * Writing: the constructors abort on allocation failure (the project's OOM policy, as
 * cr_xmalloc), strings that are not valid UTF-8 are sanitized ('?' per bad byte) rather
 * than dropped, and a NULL value given to cr_mj_set() is skipped, so encoders can be
 * written as straight-line code.
 */
#ifndef CR_API_MESOS_INTERNAL_H
#define CR_API_MESOS_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "core/task.h"

/* Room for a field path in error messages; longer paths are truncated. */
#define CR_MJ_PATH_MAX 192

/* ---- paths and errors ---- */

/* "path.key", or "key" when path is empty. Returns buf. */
const char *cr_mj_path(char *buf, size_t size, const char *path, const char *key);
/* "path[i]". Returns buf. */
const char *cr_mj_path_index(char *buf, size_t size, const char *path, size_t i);
/* Set err to "<path.key>: <message>" (key may be NULL: "<path>: <message>"). */
int cr_mj_err(struct cr_err *err, const char *path, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "<path.key>: required field missing". */
int cr_mj_missing(struct cr_err *err, const char *path, const char *key);
/* "<path.key>: expected <want>, got <json type of got>". */
int cr_mj_type_err(struct cr_err *err, const char *path, const char *key, const char *want,
                   const json_t *got);

/* ---- getters ---- */

/* obj[key], or NULL when obj is not an object, the key is absent or its value is null. */
json_t *cr_mj_field(const json_t *obj, const char *key);
/* A string (borrowed from obj). */
int cr_mj_string(const json_t *obj, const char *key, const char *path, const char **out,
                 struct cr_err *err);
/* A string, copied (owned; *out is freed first if set). */
int cr_mj_string_dup(const json_t *obj, const char *key, const char *path, char **out,
                     struct cr_err *err);
int cr_mj_bool(const json_t *obj, const char *key, const char *path, bool *out, struct cr_err *err);
/* A double: a JSON number, or a string holding one ("Infinity", "-Infinity" too). NaN is
 * rejected. */
int cr_mj_double(const json_t *obj, const char *key, const char *path, double *out,
                 struct cr_err *err);
/* An int64: a JSON integer, an integral real, or a decimal string. */
int cr_mj_int64(const json_t *obj, const char *key, const char *path, int64_t *out,
                struct cr_err *err);
/* A JSON object (borrowed). */
int cr_mj_object(const json_t *obj, const char *key, const char *path, json_t **out,
                 struct cr_err *err);
/* A JSON array (borrowed). */
int cr_mj_array(const json_t *obj, const char *key, const char *path, json_t **out,
                struct cr_err *err);
/*
 * An enum given by name: *out = the index of the name in names[0..n) (NULL entries are
 * holes). A JSON number is rejected ("expected an enum name, got number"); an unknown
 * name counts as absent (Mesos drops unknown enum names), and *unknown, if given, is
 * set to true so callers of required fields can say which name it was.
 */
int cr_mj_enum(const json_t *obj, const char *key, const char *path, const char *const *names,
               size_t n, int *out, bool *unknown, struct cr_err *err);
/* An id message {"value": "..."}, copied (owned; *out freed first). */
int cr_mj_id(const json_t *obj, const char *key, const char *path, char **out, struct cr_err *err);
/*
 * A bytes field: a base64 string, or a Node.js Buffer ({"type":"Buffer","data":[..]}) or
 * ByteBuffer ({"buffer":<Buffer>,"offset":o,"limit":l}) object as tobilg/mesos-framework
 * sends (bytes = data[offset:limit]). *out owned (malloc'd, NUL-terminated for safety).
 */
int cr_mj_bytes(const json_t *obj, const char *key, const char *path, unsigned char **out,
                size_t *len, struct cr_err *err);
/* An array of strings, copied (owned vector of owned strings; released first). */
int cr_mj_string_array(const json_t *obj, const char *key, const char *path, char ***out, size_t *n,
                       struct cr_err *err);
/* An array of id messages [{"value": ..}], copied like cr_mj_string_array. */
int cr_mj_id_array(const json_t *obj, const char *key, const char *path, char ***out, size_t *n,
                   struct cr_err *err);
/* A DurationInfo/TimeInfo {"nanoseconds": int64*}. */
int cr_mj_nanos(const json_t *obj, const char *key, const char *path, int64_t *out,
                struct cr_err *err);
/* A UUID: bytes (as cr_mj_bytes) that must be exactly 16 long, copied into out. */
int cr_mj_uuid(const json_t *obj, const char *key, const char *path, unsigned char out[16],
               struct cr_err *err);

/*
 * Required fields: as cr_mj_id, cr_mj_object, cr_mj_string and cr_mj_string_dup, but
 * returning 0 when the field is present and -EINVAL with "<path.key>: required field
 * missing" when it is absent or null.
 */
int cr_mj_required_id(const json_t *obj, const char *key, const char *path, char **out,
                      struct cr_err *err);
int cr_mj_required_object(const json_t *obj, const char *key, const char *path, json_t **out,
                          struct cr_err *err);
int cr_mj_required_string(const json_t *obj, const char *key, const char *path, const char **out,
                          struct cr_err *err);
int cr_mj_required_string_dup(const json_t *obj, const char *key, const char *path, char **out,
                              struct cr_err *err);
/* A required enum (as cr_mj_enum): a name not in names is an error too, "<path.key>:
 * unknown <what> '<name>'". */
int cr_mj_required_enum(const json_t *obj, const char *key, const char *path,
                        const char *const *names, size_t n, const char *what, int *out,
                        struct cr_err *err);

/* ---- envelopes: {"type": NAME, "<name in lower case>": body}, calls and events ---- */

/* The body key of a type name: the name in lower case, truncated to fit. Returns buf. */
const char *cr_mj_body_key(char *buf, size_t size, const char *name);
/*
 * The type of an envelope: *type = the index of root's "type" in names[0..n), or 0 (the
 * UNKNOWN entry) for a name not there. Returns 0, or -EINVAL with err filled when "type"
 * is absent or not a name.
 */
int cr_mj_envelope_type(const json_t *root, const char *const *names, size_t n, int *type,
                        struct cr_err *err);

/*
 * A deep copy of v with every null object member removed (recursively), for keeping
 * fields Corral does not model. Never NULL for a non-NULL v.
 */
json_t *cr_mj_copy_clean(const json_t *v);

/* Free a vector of n owned strings (accepts NULL). */
void cr_mj_strv_free(char **v, size_t n);
/* Deep copy of a vector of n strings (NULL for n == 0). */
char **cr_mj_strv_copy(char *const *v, size_t n);

/* ---- constructors (abort on allocation failure) ---- */

json_t *cr_mj_object_new(void);
json_t *cr_mj_array_new(void);
/* A JSON string; invalid UTF-8 bytes become '?'. NULL s gives NULL. */
json_t *cr_mj_str(const char *s);
json_t *cr_mj_int(int64_t v);
/* A JSON real; a non-finite value becomes 0.0 (JSON has no NaN/Infinity). */
json_t *cr_mj_real(double v);
json_t *cr_mj_bool_new(bool v);
/* obj[key] = v (reference stolen); a NULL v is skipped; an invalid UTF-8 key is
 * sanitized. */
void cr_mj_set(json_t *obj, const char *key, json_t *v);
/* Append v (stolen; NULL skipped). */
void cr_mj_append(json_t *arr, json_t *v);
/* Base64 of bytes as a JSON string. */
json_t *cr_mj_base64(const void *data, size_t len);

/* ---- TaskInfo and TaskStatus pieces (mesos_task.c), for the call and agent codecs ---- */

struct cr_task_info;
/* The JSON layer of cr_parse_task_info() only (no cr_task_info_validate()). */
int cr_mj_parse_task_info_lenient(const json_t *obj, const char *path, struct cr_task_info *out,
                                  struct cr_err *err);
/* Validation of a task inside a LAUNCH_GROUP: no executor of its own, a command. */
int cr_mj_validate_group_task(const struct cr_task_info *t, struct cr_err *err);
/*
 * A KillPolicy at obj.kill_policy (optional): *grace_ms = its grace_period in
 * milliseconds, left untouched when either is absent. Returns 0, or -EINVAL with err
 * filled for a wrong shape or a negative grace period.
 */
int cr_mj_kill_policy(const json_t *obj, const char *path, int64_t *grace_ms, struct cr_err *err);
/* {"grace_period": {"nanoseconds": ..}} for grace_ms >= 0; NULL (skipped by cr_mj_set)
 * for a negative grace_ms, which means unset. */
json_t *cr_mj_kill_policy_new(int64_t grace_ms);
/* The required task state name at obj.state; an unknown name is an error naming it. */
int cr_mj_task_state(const json_t *obj, const char *path, enum cr_task_state *out,
                     struct cr_err *err);

#endif
