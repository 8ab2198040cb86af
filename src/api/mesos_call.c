/*
 * mesos_call.c - parsing of scheduler Calls (POST /api/v1/scheduler), API-COMPAT.md §1.4.
 *
 * One function, cr_parse_sched_call(), turns a request body into a cr_sched_call: the
 * envelope (type by name, framework_id), then the body of that type. JSON-level errors
 * (malformed text, wrong types, enum numbers, missing required fields, a missing body)
 * fail the whole call with a message naming the field path; the handler answers 400.
 * LAUNCH and LAUNCH_GROUP tasks that are well-formed JSON but fail Mesos' launch
 * validation do not fail the call: they are set aside in the operation's invalid_tasks
 * so the master can answer them with TASK_ERROR, as Mesos does.
 */
#include "api/mesos.h"
#include "api/mesos_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* Indexed by enum cr_sched_call_type (= Mesos' proto numbers). */
static const char *const CALL_TYPES[] = {
    "UNKNOWN",
    "SUBSCRIBE",
    "TEARDOWN",
    "ACCEPT",
    "DECLINE",
    "REVIVE",
    "KILL",
    "SHUTDOWN",
    "ACKNOWLEDGE",
    "RECONCILE",
    "MESSAGE",
    "REQUEST",
    "SUPPRESS",
    "ACCEPT_INVERSE_OFFERS",
    "DECLINE_INVERSE_OFFERS",
    "ACKNOWLEDGE_OPERATION_STATUS",
    "RECONCILE_OPERATIONS",
    "UPDATE_FRAMEWORK",
};
#define N_CALL_TYPES (sizeof(CALL_TYPES) / sizeof(CALL_TYPES[0]))

/* Indexed by enum cr_op_type (= Mesos' Offer.Operation.Type numbers up to 6). */
static const char *const OP_TYPES[] = {"UNKNOWN", "LAUNCH",  "RESERVE",     "UNRESERVE",
                                       "CREATE",  "DESTROY", "LAUNCH_GROUP"};
#define N_OP_TYPES (sizeof(OP_TYPES) / sizeof(OP_TYPES[0]))

/* Mesos caps filters at 365 days and uses the default for negative values. */
#define REFUSE_DEFAULT 5.0
#define REFUSE_MAX 31536000.0

const char *cr_sched_call_name(enum cr_sched_call_type t)
{
    if ((unsigned)t >= N_CALL_TYPES)
        return "UNKNOWN";
    return CALL_TYPES[t];
}

enum cr_sched_call_type cr_sched_call_type_parse(const char *name)
{
    for (size_t i = 0; name && i < N_CALL_TYPES; i++)
        if (strcmp(CALL_TYPES[i], name) == 0)
            return (enum cr_sched_call_type)i;
    return CR_CALL_UNKNOWN;
}

void cr_sched_call_init(struct cr_sched_call *c)
{
    memset(c, 0, sizeof(*c));
    c->type = CR_CALL_UNKNOWN;
    cr_framework_info_init(&c->framework_info);
    c->refuse_seconds = REFUSE_DEFAULT;
    c->kill_grace_ms = -1;
}

static void operation_release(struct cr_operation *op)
{
    for (size_t i = 0; i < op->ntasks; i++)
        cr_task_info_release(&op->tasks[i]);
    free(op->tasks);
    for (size_t i = 0; i < op->ninvalid; i++)
        cr_task_info_release(&op->invalid_tasks[i]);
    free(op->invalid_tasks);
    cr_mj_strv_free(op->invalid_reasons, op->ninvalid);
    json_decref(op->raw);
    memset(op, 0, sizeof(*op));
}

void cr_sched_call_release(struct cr_sched_call *c)
{
    if (!c)
        return;
    free(c->framework_id);
    cr_framework_info_release(&c->framework_info);
    cr_mj_strv_free(c->suppressed_roles, c->nsuppressed_roles);
    cr_mj_strv_free(c->offer_ids, c->noffer_ids);
    for (size_t i = 0; i < c->noperations; i++)
        operation_release(&c->operations[i]);
    free(c->operations);
    cr_mj_strv_free(c->roles, c->nroles);
    free(c->task_id);
    free(c->agent_id);
    free(c->executor_id);
    free(c->data_b64);
    for (size_t i = 0; i < c->nreconcile; i++) {
        free(c->reconcile[i].task_id);
        free(c->reconcile[i].agent_id);
    }
    free(c->reconcile);
    cr_sched_call_init(c);
}

/* ---------------------------------------------------------------- pieces */

static int parse_filters(const json_t *body, const char *path, double *out, struct cr_err *err)
{
    json_t *f = NULL;
    int rc = cr_mj_object(body, "filters", path, &f, err);
    if (rc <= 0)
        return rc;
    char p[CR_MJ_PATH_MAX];
    cr_mj_path(p, sizeof(p), path, "filters");
    double d = REFUSE_DEFAULT;
    if ((rc = cr_mj_double(f, "refuse_seconds", p, &d, err)) < 0)
        return rc;
    if (d < 0)
        d = REFUSE_DEFAULT;
    else if (d > REFUSE_MAX)
        d = REFUSE_MAX;
    *out = d;
    return 0;
}

static int parse_role_list(const json_t *body, const char *key, const char *path, char ***out,
                           size_t *n, struct cr_err *err)
{
    int rc = cr_mj_string_array(body, key, path, out, n, err);
    if (rc <= 0)
        return rc;
    char p[CR_MJ_PATH_MAX], ep[CR_MJ_PATH_MAX];
    cr_mj_path(p, sizeof(p), path, key);
    struct cr_err verr;
    for (size_t i = 0; i < *n; i++) {
        if (cr_validate_role((*out)[i], &verr) < 0)
            return cr_mj_err(err, cr_mj_path_index(ep, sizeof(ep), p, i), NULL, "%s", verr.msg);
    }
    return 0;
}

/* Append t (moved) to the invalid tasks with reason (owned), for a TASK_ERROR. */
static void set_aside(struct cr_operation *op, const struct cr_task_info *t, char *reason)
{
    op->invalid_tasks =
        cr_xrealloc(op->invalid_tasks, (op->ninvalid + 1) * sizeof(*op->invalid_tasks));
    op->invalid_reasons =
        cr_xrealloc(op->invalid_reasons, (op->ninvalid + 1) * sizeof(*op->invalid_reasons));
    op->invalid_tasks[op->ninvalid] = *t;
    op->invalid_reasons[op->ninvalid] = reason;
    op->ninvalid++;
}

/* Append a task to the valid list, or to the invalid one with the reason. */
static void keep_task(struct cr_operation *op, struct cr_task_info *t, bool in_group)
{
    struct cr_err verr;
    int rc = in_group ? cr_mj_validate_group_task(t, &verr) : cr_task_info_validate(t, &verr);
    if (rc == 0) {
        op->tasks = cr_xrealloc(op->tasks, (op->ntasks + 1) * sizeof(*op->tasks));
        op->tasks[op->ntasks++] = *t;
        return;
    }
    set_aside(op, t, cr_xstrdup(verr.msg));
}

static int parse_task_list(const json_t *arr, const char *path, struct cr_operation *op,
                           bool in_group, struct cr_err *err)
{
    char ep[CR_MJ_PATH_MAX];
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        struct cr_task_info t;
        int rc =
            cr_mj_parse_task_info_lenient(e, cr_mj_path_index(ep, sizeof(ep), path, i), &t, err);
        if (rc < 0)
            return rc;
        keep_task(op, &t, in_group);
    }
    return 0;
}

static int parse_launch(const json_t *opj, const char *path, struct cr_operation *op,
                        struct cr_err *err)
{
    json_t *launch = NULL, *infos = NULL;
    int rc = cr_mj_object(opj, "launch", path, &launch, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return cr_mj_err(err, path, "launch", "required for type LAUNCH");
    char lp[CR_MJ_PATH_MAX], tp[CR_MJ_PATH_MAX];
    cr_mj_path(lp, sizeof(lp), path, "launch");
    if ((rc = cr_mj_array(launch, "task_infos", lp, &infos, err)) <= 0)
        return rc;
    return parse_task_list(infos, cr_mj_path(tp, sizeof(tp), lp, "task_infos"), op, false, err);
}

static int parse_launch_group(const json_t *opj, const char *path, struct cr_operation *op,
                              struct cr_err *err)
{
    json_t *lg = NULL, *executor = NULL, *group = NULL, *tasks = NULL;
    int rc = cr_mj_object(opj, "launch_group", path, &lg, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return cr_mj_err(err, path, "launch_group", "required for type LAUNCH_GROUP");
    char lp[CR_MJ_PATH_MAX], ep[CR_MJ_PATH_MAX], gp[CR_MJ_PATH_MAX], tp[CR_MJ_PATH_MAX];
    cr_mj_path(lp, sizeof(lp), path, "launch_group");
    if ((rc = cr_mj_required_object(lg, "executor", lp, &executor, err)) < 0)
        return rc;
    char *eid = NULL;
    rc = cr_mj_required_id(executor, "executor_id", cr_mj_path(ep, sizeof(ep), lp, "executor"),
                           &eid, err);
    if (rc < 0)
        return rc;
    if ((rc = cr_mj_required_object(lg, "task_group", lp, &group, err)) < 0) {
        free(eid);
        return rc;
    }
    cr_mj_path(gp, sizeof(gp), lp, "task_group");
    if ((rc = cr_mj_array(group, "tasks", gp, &tasks, err)) > 0)
        rc = parse_task_list(tasks, cr_mj_path(tp, sizeof(tp), gp, "tasks"), op, true, err);
    if (rc >= 0) {
        /* A bad executor id makes every task of the group invalid. */
        struct cr_err verr;
        if (cr_validate_id(eid, &verr) < 0) {
            for (size_t i = 0; i < op->ntasks; i++)
                set_aside(op, &op->tasks[i],
                          cr_xasprintf("task '%s': invalid executor id: %s", op->tasks[i].task_id,
                                       verr.msg));
            free(op->tasks);
            op->tasks = NULL;
            op->ntasks = 0;
        }
    }
    free(eid);
    return rc < 0 ? rc : 0;
}

static int parse_operation(const json_t *opj, const char *path, struct cr_operation *op,
                           struct cr_err *err)
{
    if (!json_is_object(opj))
        return cr_mj_type_err(err, path, NULL, "an object", opj);
    int type = CR_OP_UNKNOWN;
    int rc = cr_mj_enum(opj, "type", path, OP_TYPES, N_OP_TYPES, &type, NULL, err);
    if (rc < 0)
        return rc;
    op->type = (enum cr_op_type)type;
    op->raw = cr_mj_copy_clean(opj);
    if (op->type == CR_OP_LAUNCH)
        return parse_launch(opj, path, op, err);
    if (op->type == CR_OP_LAUNCH_GROUP)
        return parse_launch_group(opj, path, op, err);
    return 0;
}

static int parse_operations(const json_t *body, const char *path, struct cr_sched_call *c,
                            struct cr_err *err)
{
    json_t *arr = NULL;
    int rc = cr_mj_array(body, "operations", path, &arr, err);
    if (rc <= 0)
        return rc;
    char ap[CR_MJ_PATH_MAX], ep[CR_MJ_PATH_MAX];
    cr_mj_path(ap, sizeof(ap), path, "operations");
    size_t n = json_array_size(arr);
    c->operations = n ? cr_xcalloc(n, sizeof(*c->operations)) : NULL;
    for (size_t i = 0; i < n; i++) {
        c->noperations = i + 1;
        rc = parse_operation(json_array_get(arr, i), cr_mj_path_index(ep, sizeof(ep), ap, i),
                             &c->operations[i], err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---------------------------------------------------------------- bodies */

static int body_subscribe(const json_t *body, const char *p, struct cr_sched_call *c,
                          struct cr_err *err)
{
    json_t *fij = NULL;
    int rc = cr_mj_required_object(body, "framework_info", p, &fij, err);
    if (rc < 0)
        return rc;
    char fp[CR_MJ_PATH_MAX];
    cr_mj_path(fp, sizeof(fp), p, "framework_info");
    if ((rc = cr_parse_framework_info(fij, fp, &c->framework_info, err)) < 0)
        return rc;
    const struct cr_framework_info *fi = &c->framework_info;
    if (c->type == CR_CALL_UPDATE_FRAMEWORK && !fi->id)
        return cr_mj_missing(err, fp, "id");
    if (c->framework_id && (!fi->id || strcmp(fi->id, c->framework_id) != 0))
        return cr_mj_err(err, "", "framework_id", "differs from %s.id", fp);

    if ((rc = parse_role_list(body, "suppressed_roles", p, &c->suppressed_roles,
                              &c->nsuppressed_roles, err)) < 0)
        return rc;
    char sp[CR_MJ_PATH_MAX], ep[CR_MJ_PATH_MAX];
    cr_mj_path(sp, sizeof(sp), p, "suppressed_roles");
    for (size_t i = 0; i < c->nsuppressed_roles; i++) {
        bool found = false;
        for (size_t j = 0; j < fi->nroles && !found; j++)
            found = strcmp(fi->roles[j], c->suppressed_roles[i]) == 0;
        if (!found)
            return cr_mj_err(err, cr_mj_path_index(ep, sizeof(ep), sp, i), NULL,
                             "role '%s' is not one of the framework's roles",
                             c->suppressed_roles[i]);
    }
    return 0;
}

static int body_accept(const json_t *body, const char *p, struct cr_sched_call *c,
                       struct cr_err *err)
{
    const char *ids_key =
        c->type == CR_CALL_ACCEPT || c->type == CR_CALL_DECLINE ? "offer_ids" : "inverse_offer_ids";
    int rc = cr_mj_id_array(body, ids_key, p, &c->offer_ids, &c->noffer_ids, err);
    if (rc < 0)
        return rc;
    if (c->type == CR_CALL_ACCEPT && (rc = parse_operations(body, p, c, err)) < 0)
        return rc;
    return parse_filters(body, p, &c->refuse_seconds, err);
}

static int body_kill(const json_t *body, const char *p, struct cr_sched_call *c, struct cr_err *err)
{
    int rc;
    if ((rc = cr_mj_required_id(body, "task_id", p, &c->task_id, err)) < 0 ||
        (rc = cr_mj_id(body, "agent_id", p, &c->agent_id, err)) < 0)
        return rc;
    return cr_mj_kill_policy(body, p, &c->kill_grace_ms, err);
}

static int body_acknowledge(const json_t *body, const char *p, struct cr_sched_call *c,
                            struct cr_err *err)
{
    int rc;
    if ((rc = cr_mj_required_id(body, "agent_id", p, &c->agent_id, err)) < 0 ||
        (rc = cr_mj_required_id(body, "task_id", p, &c->task_id, err)) < 0)
        return rc;
    if ((rc = cr_mj_uuid(body, "uuid", p, c->uuid, err)) < 0)
        return rc;
    if (rc == 0)
        return cr_mj_missing(err, p, "uuid");
    c->uuid_len = sizeof(c->uuid);
    return 0;
}

static int body_reconcile(const json_t *body, const char *p, struct cr_sched_call *c,
                          struct cr_err *err)
{
    json_t *arr = NULL;
    int rc = cr_mj_array(body, "tasks", p, &arr, err);
    if (rc <= 0)
        return rc;
    char ap[CR_MJ_PATH_MAX], ep[CR_MJ_PATH_MAX];
    cr_mj_path(ap, sizeof(ap), p, "tasks");
    size_t n = json_array_size(arr);
    c->reconcile = n ? cr_xcalloc(n, sizeof(*c->reconcile)) : NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(arr, i);
        c->nreconcile = i + 1;
        cr_mj_path_index(ep, sizeof(ep), ap, i);
        if (!json_is_object(t))
            return cr_mj_type_err(err, ep, NULL, "an object", t);
        if ((rc = cr_mj_required_id(t, "task_id", ep, &c->reconcile[i].task_id, err)) < 0 ||
            (rc = cr_mj_id(t, "agent_id", ep, &c->reconcile[i].agent_id, err)) < 0)
            return rc;
    }
    return 0;
}

static int body_message(const json_t *body, const char *p, struct cr_sched_call *c,
                        struct cr_err *err)
{
    int rc;
    if ((rc = cr_mj_required_id(body, "agent_id", p, &c->agent_id, err)) < 0 ||
        (rc = cr_mj_required_id(body, "executor_id", p, &c->executor_id, err)) < 0)
        return rc;
    unsigned char *data = NULL;
    size_t len = 0;
    if ((rc = cr_mj_bytes(body, "data", p, &data, &len, err)) < 0)
        return rc;
    if (rc == 0)
        return cr_mj_missing(err, p, "data");
    c->data_b64 = cr_base64_encode(data, len);
    free(data);
    return 0;
}

/* Operation-feedback calls: Corral offers no operation feedback, so these are checked
 * for shape only (the handler decides how to answer). */
static int body_operation_status(const json_t *body, const char *p, struct cr_sched_call *c,
                                 struct cr_err *err)
{
    char *opid = NULL;
    int rc = cr_mj_id(body, "agent_id", p, &c->agent_id, err);
    if (rc < 0)
        return rc;
    unsigned char *uuid = NULL;
    size_t len = 0;
    if ((rc = cr_mj_bytes(body, "uuid", p, &uuid, &len, err)) < 0)
        return rc;
    if (rc == 0)
        return cr_mj_missing(err, p, "uuid");
    if (len <= sizeof(c->uuid)) {
        memcpy(c->uuid, uuid, len);
        c->uuid_len = len;
    }
    free(uuid);
    rc = cr_mj_required_id(body, "operation_id", p, &opid, err);
    free(opid);
    return rc;
}

static int body_reconcile_operations(const json_t *body, const char *p, struct cr_err *err)
{
    json_t *arr = NULL;
    int rc = cr_mj_array(body, "operations", p, &arr, err);
    if (rc <= 0)
        return rc;
    char ap[CR_MJ_PATH_MAX], ep[CR_MJ_PATH_MAX];
    cr_mj_path(ap, sizeof(ap), p, "operations");
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        cr_mj_path_index(ep, sizeof(ep), ap, i);
        if (!json_is_object(o))
            return cr_mj_type_err(err, ep, NULL, "an object", o);
        char *id = NULL;
        rc = cr_mj_required_id(o, "operation_id", ep, &id, err);
        free(id);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Whether a call type must carry its body object. REQUEST is ignored (as by Mesos'
 * allocator), so its body is optional: tobilg/mesos-framework puts "requests" at the top
 * level, following a mistake in Mesos' docs. */
static bool body_required(enum cr_sched_call_type t)
{
    switch (t) {
    case CR_CALL_TEARDOWN:
    case CR_CALL_REVIVE:
    case CR_CALL_SUPPRESS:
    case CR_CALL_REQUEST:
    case CR_CALL_UNKNOWN:
        return false;
    default:
        return true;
    }
}

static int parse_call(const json_t *root, struct cr_sched_call *c, struct cr_err *err)
{
    int type = 0;
    int rc = cr_mj_envelope_type(root, CALL_TYPES, N_CALL_TYPES, &type, err);
    if (rc < 0)
        return rc;
    if ((rc = cr_mj_id(root, "framework_id", "", &c->framework_id, err)) < 0)
        return rc;
    c->type = (enum cr_sched_call_type)type;
    if (c->type == CR_CALL_UNKNOWN)
        return 0;
    const char *name = CALL_TYPES[c->type];
    if (c->type != CR_CALL_SUBSCRIBE && !c->framework_id)
        return cr_mj_err(err, "", "framework_id", "required for type %s", name);

    char key[64];
    cr_mj_body_key(key, sizeof(key), name);
    json_t *body = NULL;
    if ((rc = cr_mj_object(root, key, "", &body, err)) < 0)
        return rc;
    if (!body && body_required(c->type))
        return cr_mj_err(err, "", key, "required for type %s", name);

    switch (c->type) {
    case CR_CALL_SUBSCRIBE:
    case CR_CALL_UPDATE_FRAMEWORK:
        return body_subscribe(body, key, c, err);
    case CR_CALL_ACCEPT:
    case CR_CALL_DECLINE:
    case CR_CALL_ACCEPT_INVERSE_OFFERS:
    case CR_CALL_DECLINE_INVERSE_OFFERS:
        return body_accept(body, key, c, err);
    case CR_CALL_REVIVE:
    case CR_CALL_SUPPRESS:
        return body ? parse_role_list(body, "roles", key, &c->roles, &c->nroles, err) : 0;
    case CR_CALL_KILL:
        return body_kill(body, key, c, err);
    case CR_CALL_SHUTDOWN:
        if ((rc = cr_mj_required_id(body, "executor_id", key, &c->executor_id, err)) < 0)
            return rc;
        return cr_mj_required_id(body, "agent_id", key, &c->agent_id, err);
    case CR_CALL_ACKNOWLEDGE:
        return body_acknowledge(body, key, c, err);
    case CR_CALL_RECONCILE:
        return body_reconcile(body, key, c, err);
    case CR_CALL_MESSAGE:
        return body_message(body, key, c, err);
    case CR_CALL_REQUEST: {
        json_t *requests = NULL;
        rc = body ? cr_mj_array(body, "requests", key, &requests, err) : 0;
        return rc < 0 ? rc : 0;
    }
    case CR_CALL_ACKNOWLEDGE_OPERATION_STATUS:
        return body_operation_status(body, key, c, err);
    case CR_CALL_RECONCILE_OPERATIONS:
        return body_reconcile_operations(body, key, err);
    case CR_CALL_TEARDOWN:
    case CR_CALL_UNKNOWN:
        return 0;
    }
    return 0;
}

int cr_parse_sched_call(const char *body, size_t len, struct cr_sched_call *out, struct cr_err *err)
{
    cr_sched_call_init(out);
    json_t *root = cr_json_parse_object(body, len, err);
    if (!root)
        return -EINVAL;
    int rc = parse_call(root, out, err);
    json_decref(root);
    if (rc < 0) {
        cr_sched_call_release(out);
        return -EINVAL;
    }
    return 0;
}
