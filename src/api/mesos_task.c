/*
 * mesos_task.c - JSON codecs for FrameworkInfo, CommandInfo, TaskInfo, TaskStatus and
 * AgentInfo, with Mesos' validation rules for each.
 *
 * Parsing is in two layers. The JSON layer (the parse_* functions) enforces what the
 * proto enforces: types, required fields, enum names; its failures make the whole
 * request a 400. The semantic layer (cr_task_info_validate) checks what Mesos' master
 * checks before launching (id characters, command vs executor, health checks); the
 * scheduler-call parser keeps tasks that fail it aside so the master can answer them
 * with TASK_ERROR as Mesos does, while cr_parse_task_info() applies both layers.
 *
 * Fields Corral does not model are kept, nulls stripped, in each struct's `extra`
 * object and written back in proto order, so they reach the agent and /state.
 *
 * The KillPolicy and task-state readers (cr_mj_kill_policy, cr_mj_task_state) are also
 * used by the call and agent protocol codecs, through mesos_internal.h.
 */
#include "api/mesos.h"
#include "api/mesos_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* Duration limits: stout Durations are int64 nanoseconds (about 292 years). */
#define MAX_SECONDS 9.2e9

static const char *const FW_CAPS[] = {
    "UNKNOWN",       "REVOCABLE_RESOURCES",    "TASK_KILLING_STATE",
    "GPU_RESOURCES", "SHARED_RESOURCES",       "PARTITION_AWARE",
    "MULTI_ROLE",    "RESERVATION_REFINEMENT", "REGION_AWARE",
};
#define N_FW_CAPS (sizeof(FW_CAPS) / sizeof(FW_CAPS[0]))

static const char *const ENV_TYPES[] = {"UNKNOWN", "VALUE", "SECRET"};
static const char *const SOURCES[] = {"SOURCE_MASTER", "SOURCE_AGENT", "SOURCE_EXECUTOR"};

/* Move a cleaned copy of obj[key] into extra (created on demand) when it is an object. */
static int keep_object(const json_t *obj, const char *key, const char *path, json_t **extra,
                       struct cr_err *err)
{
    json_t *v = NULL;
    int rc = cr_mj_object(obj, key, path, &v, err);
    if (rc <= 0)
        return rc;
    if (!*extra)
        *extra = cr_mj_object_new();
    cr_mj_set(*extra, key, cr_mj_copy_clean(v));
    return 1;
}

/* Keep a bytes field in extra as canonical base64. */
static int keep_bytes(const json_t *obj, const char *key, const char *path, json_t **extra,
                      struct cr_err *err)
{
    unsigned char *bytes = NULL;
    size_t len = 0;
    int rc = cr_mj_bytes(obj, key, path, &bytes, &len, err);
    if (rc <= 0)
        return rc;
    if (!*extra)
        *extra = cr_mj_object_new();
    cr_mj_set(*extra, key, cr_mj_base64(bytes, len));
    free(bytes);
    return 1;
}

/* out[key] = copy of extra[key], if there. */
static void emit_extra(json_t *out, const json_t *extra, const char *key)
{
    json_t *v = extra ? json_object_get(extra, key) : NULL;
    if (v)
        cr_mj_set(out, key, cr_mj_copy_clean(v));
}

static json_t *extra_copy(const json_t *extra)
{
    return extra ? cr_mj_copy_clean(extra) : NULL;
}

static json_t *strv_json(char *const *v, size_t n)
{
    json_t *arr = cr_mj_array_new();
    for (size_t i = 0; i < n; i++)
        cr_mj_append(arr, cr_mj_str(v[i]));
    return arr;
}

/* An id field that must also satisfy Mesos' id rules. */
static int valid_id(const json_t *obj, const char *key, const char *path, char **out,
                    struct cr_err *err)
{
    int rc = cr_mj_id(obj, key, path, out, err);
    if (rc <= 0)
        return rc;
    struct cr_err verr;
    if (cr_validate_id(*out, &verr) < 0) {
        char p[CR_MJ_PATH_MAX];
        cr_mj_path(p, sizeof(p), path, key);
        return cr_mj_err(err, p, "value", "%s", verr.msg);
    }
    return 1;
}

/* ---------------------------------------------------------------- FrameworkInfo */

const char *cr_fw_capability_name(unsigned capability)
{
    for (size_t i = 1; i < N_FW_CAPS; i++)
        if (capability == 1u << (i - 1))
            return FW_CAPS[i];
    return NULL;
}

void cr_framework_info_init(struct cr_framework_info *fi)
{
    memset(fi, 0, sizeof(*fi));
}

void cr_framework_info_release(struct cr_framework_info *fi)
{
    if (!fi)
        return;
    free(fi->id);
    free(fi->user);
    free(fi->name);
    cr_mj_strv_free(fi->roles, fi->nroles);
    free(fi->hostname);
    free(fi->principal);
    free(fi->webui_url);
    json_decref(fi->extra);
    cr_framework_info_init(fi);
}

int cr_framework_info_copy(struct cr_framework_info *dst, const struct cr_framework_info *src)
{
    cr_framework_info_release(dst);
    dst->id = cr_xstrdup(src->id);
    dst->user = cr_xstrdup(src->user);
    dst->name = cr_xstrdup(src->name);
    dst->failover_timeout = src->failover_timeout;
    dst->checkpoint = src->checkpoint;
    dst->roles = cr_mj_strv_copy(src->roles, src->nroles);
    dst->nroles = src->nroles;
    dst->role_was_legacy = src->role_was_legacy;
    dst->hostname = cr_xstrdup(src->hostname);
    dst->principal = cr_xstrdup(src->principal);
    dst->webui_url = cr_xstrdup(src->webui_url);
    dst->capabilities = src->capabilities;
    dst->extra = extra_copy(src->extra);
    return 0;
}

static int parse_capabilities(const json_t *obj, const char *path, unsigned *caps,
                              struct cr_err *err)
{
    json_t *arr = NULL;
    int rc = cr_mj_array(obj, "capabilities", path, &arr, err);
    if (rc <= 0)
        return rc;
    char ap[CR_MJ_PATH_MAX], ep[CR_MJ_PATH_MAX];
    cr_mj_path(ap, sizeof(ap), path, "capabilities");
    size_t i;
    json_t *c;
    json_array_foreach(arr, i, c)
    {
        cr_mj_path_index(ep, sizeof(ep), ap, i);
        if (!json_is_object(c))
            return cr_mj_type_err(err, ep, NULL, "an object", c);
        int t = 0;
        if ((rc = cr_mj_enum(c, "type", ep, FW_CAPS, N_FW_CAPS, &t, NULL, err)) < 0)
            return rc;
        if (rc == 1 && t > 0)
            *caps |= 1u << (t - 1);
    }
    return 0;
}

/* The role rules of API-COMPAT.md §1.6 and Mesos' validateRoles. */
static int resolve_roles(const json_t *obj, const char *path, struct cr_framework_info *fi,
                         struct cr_err *err)
{
    const char *role = NULL;
    int rc = cr_mj_string(obj, "role", path, &role, err);
    if (rc < 0)
        return rc;
    if ((rc = cr_mj_string_array(obj, "roles", path, &fi->roles, &fi->nroles, err)) < 0)
        return rc;
    bool multi = fi->capabilities & CR_FWCAP_MULTI_ROLE;
    struct cr_err verr;
    char rp[CR_MJ_PATH_MAX], ep[CR_MJ_PATH_MAX];
    cr_mj_path(rp, sizeof(rp), path, "roles");

    if (multi) {
        if (role)
            return cr_mj_err(err, path, "role",
                             "must not be set when the framework has the MULTI_ROLE capability "
                             "(use roles)");
        for (size_t i = 0; i < fi->nroles; i++) {
            cr_mj_path_index(ep, sizeof(ep), rp, i);
            if (cr_validate_role(fi->roles[i], &verr) < 0)
                return cr_mj_err(err, ep, NULL, "%s", verr.msg);
            for (size_t j = 0; j < i; j++)
                if (strcmp(fi->roles[i], fi->roles[j]) == 0)
                    return cr_mj_err(err, rp, NULL, "contains duplicate role '%s'", fi->roles[i]);
        }
        fi->role_was_legacy = false;
        return 0;
    }

    /* Without MULTI_ROLE the role comes from "role"; old clients also send "roles": []
     * and some repeat the role there, which we accept. */
    if (fi->nroles > 1 || (fi->nroles == 1 && role && strcmp(role, fi->roles[0]) != 0))
        return cr_mj_err(err, rp, NULL,
                         "must be empty when the framework lacks the MULTI_ROLE capability "
                         "(use role)");
    const char *effective = role ? role : fi->nroles == 1 ? fi->roles[0] : CR_ROLE_ANY;
    if (cr_validate_role(effective, &verr) < 0)
        return cr_mj_err(err, path, role ? "role" : "roles[0]", "%s", verr.msg);
    char *copy = cr_xstrdup(effective);
    cr_mj_strv_free(fi->roles, fi->nroles);
    fi->roles = cr_xcalloc(1, sizeof(*fi->roles));
    fi->roles[0] = copy;
    fi->nroles = 1;
    fi->role_was_legacy = true;
    return 0;
}

static int parse_framework_info(const json_t *obj, const char *path, struct cr_framework_info *fi,
                                struct cr_err *err)
{
    if (!json_is_object(obj))
        return cr_mj_type_err(err, path, NULL, "an object", obj);
    int rc;
    if ((rc = cr_mj_required_string_dup(obj, "user", path, &fi->user, err)) < 0 ||
        (rc = cr_mj_required_string_dup(obj, "name", path, &fi->name, err)) < 0)
        return rc;
    if ((rc = valid_id(obj, "id", path, &fi->id, err)) < 0)
        return rc;
    double ft = 0;
    if ((rc = cr_mj_double(obj, "failover_timeout", path, &ft, err)) < 0)
        return rc;
    if (!isfinite(ft) || ft > MAX_SECONDS)
        return cr_mj_err(err, path, "failover_timeout", "%g seconds is out of range", ft);
    fi->failover_timeout = ft < 0 ? 0 : ft;
    if ((rc = cr_mj_bool(obj, "checkpoint", path, &fi->checkpoint, err)) < 0)
        return rc;
    if ((rc = parse_capabilities(obj, path, &fi->capabilities, err)) < 0)
        return rc;
    if ((rc = resolve_roles(obj, path, fi, err)) < 0)
        return rc;
    if ((rc = cr_mj_string_dup(obj, "hostname", path, &fi->hostname, err)) < 0 ||
        (rc = cr_mj_string_dup(obj, "principal", path, &fi->principal, err)) < 0 ||
        (rc = cr_mj_string_dup(obj, "webui_url", path, &fi->webui_url, err)) < 0)
        return rc;
    if ((rc = keep_object(obj, "labels", path, &fi->extra, err)) < 0 ||
        (rc = keep_object(obj, "offer_filters", path, &fi->extra, err)) < 0)
        return rc;
    return 0;
}

int cr_parse_framework_info(const json_t *obj, const char *path, struct cr_framework_info *out,
                            struct cr_err *err)
{
    cr_framework_info_init(out);
    int rc = parse_framework_info(obj, path, out, err);
    if (rc < 0)
        cr_framework_info_release(out);
    return rc;
}

json_t *cr_json_framework_info(const struct cr_framework_info *fi)
{
    json_t *o = cr_mj_object_new();
    cr_mj_set(o, "user", cr_mj_str(fi->user ? fi->user : ""));
    cr_mj_set(o, "name", cr_mj_str(fi->name ? fi->name : ""));
    cr_mj_set(o, "id", cr_json_id(fi->id));
    cr_mj_set(o, "failover_timeout", cr_mj_real(fi->failover_timeout));
    cr_mj_set(o, "checkpoint", cr_mj_bool_new(fi->checkpoint));
    if (!(fi->capabilities & CR_FWCAP_MULTI_ROLE))
        cr_mj_set(o, "role", cr_mj_str(fi->nroles ? fi->roles[0] : CR_ROLE_ANY));
    else if (fi->nroles)
        cr_mj_set(o, "roles", strv_json(fi->roles, fi->nroles));
    cr_mj_set(o, "hostname", cr_mj_str(fi->hostname));
    cr_mj_set(o, "principal", cr_mj_str(fi->principal));
    cr_mj_set(o, "webui_url", cr_mj_str(fi->webui_url));
    if (fi->capabilities) {
        json_t *caps = cr_mj_array_new();
        for (size_t i = 1; i < N_FW_CAPS; i++) {
            if (fi->capabilities & (1u << (i - 1))) {
                json_t *c = cr_mj_object_new();
                cr_mj_set(c, "type", cr_mj_str(FW_CAPS[i]));
                cr_mj_append(caps, c);
            }
        }
        cr_mj_set(o, "capabilities", caps);
    }
    emit_extra(o, fi->extra, "labels");
    emit_extra(o, fi->extra, "offer_filters");
    return o;
}

/* ---------------------------------------------------------------- CommandInfo */

void cr_command_init(struct cr_command *c)
{
    memset(c, 0, sizeof(*c));
    c->shell = true;
}

void cr_command_release(struct cr_command *c)
{
    if (!c)
        return;
    free(c->value);
    cr_mj_strv_free(c->arguments, c->narguments);
    for (size_t i = 0; i < c->nenv; i++) {
        free(c->env[i].name);
        free(c->env[i].value);
    }
    free(c->env);
    for (size_t i = 0; i < c->nuris; i++) {
        free(c->uris[i].value);
        free(c->uris[i].output_file);
    }
    free(c->uris);
    free(c->user);
    cr_command_init(c);
}

int cr_command_copy(struct cr_command *dst, const struct cr_command *src)
{
    cr_command_release(dst);
    dst->shell = src->shell;
    dst->value = cr_xstrdup(src->value);
    dst->arguments = cr_mj_strv_copy(src->arguments, src->narguments);
    dst->narguments = src->narguments;
    if (src->nenv) {
        dst->env = cr_xcalloc(src->nenv, sizeof(*dst->env));
        for (size_t i = 0; i < src->nenv; i++) {
            dst->env[i].name = cr_xstrdup(src->env[i].name);
            dst->env[i].value = cr_xstrdup(src->env[i].value);
        }
        dst->nenv = src->nenv;
    }
    if (src->nuris) {
        dst->uris = cr_xcalloc(src->nuris, sizeof(*dst->uris));
        for (size_t i = 0; i < src->nuris; i++) {
            dst->uris[i] = src->uris[i];
            dst->uris[i].value = cr_xstrdup(src->uris[i].value);
            dst->uris[i].output_file = cr_xstrdup(src->uris[i].output_file);
        }
        dst->nuris = src->nuris;
    }
    dst->user = cr_xstrdup(src->user);
    return 0;
}

static int parse_uris(const json_t *obj, const char *path, struct cr_command *c, struct cr_err *err)
{
    json_t *arr = NULL;
    int rc = cr_mj_array(obj, "uris", path, &arr, err);
    if (rc <= 0)
        return rc;
    char ap[CR_MJ_PATH_MAX], ep[CR_MJ_PATH_MAX];
    cr_mj_path(ap, sizeof(ap), path, "uris");
    size_t n = json_array_size(arr);
    c->uris = n ? cr_xcalloc(n, sizeof(*c->uris)) : NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *u = json_array_get(arr, i);
        struct cr_uri *uri = &c->uris[i];
        c->nuris = i + 1;
        uri->extract = true;
        cr_mj_path_index(ep, sizeof(ep), ap, i);
        if (!json_is_object(u))
            return cr_mj_type_err(err, ep, NULL, "an object", u);
        if ((rc = cr_mj_required_string_dup(u, "value", ep, &uri->value, err)) < 0 ||
            (rc = cr_mj_bool(u, "executable", ep, &uri->executable, err)) < 0 ||
            (rc = cr_mj_bool(u, "extract", ep, &uri->extract, err)) < 0 ||
            (rc = cr_mj_bool(u, "cache", ep, &uri->cache, err)) < 0 ||
            (rc = cr_mj_string_dup(u, "output_file", ep, &uri->output_file, err)) < 0)
            return rc;
    }
    return 0;
}

static int parse_environment(const json_t *obj, const char *path, struct cr_command *c,
                             struct cr_err *err)
{
    json_t *env = NULL, *vars = NULL;
    int rc = cr_mj_object(obj, "environment", path, &env, err);
    if (rc <= 0)
        return rc;
    char envp[CR_MJ_PATH_MAX], ap[CR_MJ_PATH_MAX], ep[CR_MJ_PATH_MAX];
    cr_mj_path(envp, sizeof(envp), path, "environment");
    if ((rc = cr_mj_array(env, "variables", envp, &vars, err)) <= 0)
        return rc;
    cr_mj_path(ap, sizeof(ap), envp, "variables");
    size_t n = json_array_size(vars);
    c->env = n ? cr_xcalloc(n, sizeof(*c->env)) : NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(vars, i);
        struct cr_env_var *var = &c->env[i];
        c->nenv = i + 1;
        cr_mj_path_index(ep, sizeof(ep), ap, i);
        if (!json_is_object(v))
            return cr_mj_type_err(err, ep, NULL, "an object", v);
        if ((rc = cr_mj_required_string_dup(v, "name", ep, &var->name, err)) < 0)
            return rc;
        int type = 1; /* VALUE */
        bool unknown = false;
        if ((rc = cr_mj_enum(v, "type", ep, ENV_TYPES, 3, &type, &unknown, err)) < 0)
            return rc;
        if (unknown || type == 0)
            return cr_mj_err(err, ep, "type", "environment variable '%s' has an unknown type",
                             var->name);
        if (type == 2)
            return cr_mj_err(err, ep, "type",
                             "environment variable '%s': secrets are not supported", var->name);
        if ((rc = cr_mj_string_dup(v, "value", ep, &var->value, err)) < 0)
            return rc;
        if (rc == 0)
            return cr_mj_err(err, ep, "value",
                             "environment variable '%s' of type VALUE must have a value",
                             var->name);
    }
    return 0;
}

static int parse_command(const json_t *obj, const char *path, struct cr_command *c,
                         struct cr_err *err)
{
    if (!json_is_object(obj))
        return cr_mj_type_err(err, path, NULL, "an object", obj);
    int rc;
    if ((rc = parse_uris(obj, path, c, err)) < 0 ||
        (rc = parse_environment(obj, path, c, err)) < 0 ||
        (rc = cr_mj_bool(obj, "shell", path, &c->shell, err)) < 0 ||
        (rc = cr_mj_string_dup(obj, "value", path, &c->value, err)) < 0 ||
        (rc = cr_mj_string_array(obj, "arguments", path, &c->arguments, &c->narguments, err)) < 0 ||
        (rc = cr_mj_string_dup(obj, "user", path, &c->user, err)) < 0)
        return rc;
    return 0;
}

int cr_parse_command(const json_t *obj, const char *path, struct cr_command *out,
                     struct cr_err *err)
{
    cr_command_init(out);
    int rc = parse_command(obj, path, out, err);
    if (rc < 0)
        cr_command_release(out);
    return rc;
}

json_t *cr_json_command(const struct cr_command *c)
{
    json_t *o = cr_mj_object_new();
    if (c->nuris) {
        json_t *arr = cr_mj_array_new();
        for (size_t i = 0; i < c->nuris; i++) {
            const struct cr_uri *u = &c->uris[i];
            json_t *e = cr_mj_object_new();
            cr_mj_set(e, "value", cr_mj_str(u->value ? u->value : ""));
            if (u->executable)
                cr_mj_set(e, "executable", cr_mj_bool_new(true));
            cr_mj_set(e, "extract", cr_mj_bool_new(u->extract));
            if (u->cache)
                cr_mj_set(e, "cache", cr_mj_bool_new(true));
            cr_mj_set(e, "output_file", cr_mj_str(u->output_file));
            cr_mj_append(arr, e);
        }
        cr_mj_set(o, "uris", arr);
    }
    if (c->nenv) {
        json_t *vars = cr_mj_array_new();
        for (size_t i = 0; i < c->nenv; i++) {
            json_t *e = cr_mj_object_new();
            cr_mj_set(e, "name", cr_mj_str(c->env[i].name ? c->env[i].name : ""));
            cr_mj_set(e, "type", cr_mj_str("VALUE"));
            cr_mj_set(e, "value", cr_mj_str(c->env[i].value ? c->env[i].value : ""));
            cr_mj_append(vars, e);
        }
        json_t *env = cr_mj_object_new();
        cr_mj_set(env, "variables", vars);
        cr_mj_set(o, "environment", env);
    }
    cr_mj_set(o, "shell", cr_mj_bool_new(c->shell));
    cr_mj_set(o, "value", cr_mj_str(c->value));
    if (c->narguments)
        cr_mj_set(o, "arguments", strv_json(c->arguments, c->narguments));
    cr_mj_set(o, "user", cr_mj_str(c->user));
    return o;
}

/* ---------------------------------------------------------------- TaskInfo */

void cr_task_info_init(struct cr_task_info *t)
{
    memset(t, 0, sizeof(*t));
    cr_resources_init(&t->resources);
    cr_command_init(&t->command);
    t->kill_grace_ms = -1;
}

void cr_task_info_release(struct cr_task_info *t)
{
    if (!t)
        return;
    free(t->name);
    free(t->task_id);
    free(t->agent_id);
    cr_resources_release(&t->resources);
    cr_command_release(&t->command);
    json_decref(t->executor);
    json_decref(t->extra);
    cr_task_info_init(t);
}

int cr_task_info_copy(struct cr_task_info *dst, const struct cr_task_info *src)
{
    cr_task_info_release(dst);
    dst->name = cr_xstrdup(src->name);
    dst->task_id = cr_xstrdup(src->task_id);
    dst->agent_id = cr_xstrdup(src->agent_id);
    int rc = cr_resources_copy(&dst->resources, &src->resources);
    if (rc < 0)
        return rc;
    dst->has_command = src->has_command;
    cr_command_copy(&dst->command, &src->command);
    dst->executor = extra_copy(src->executor);
    dst->kill_grace_ms = src->kill_grace_ms;
    dst->extra = extra_copy(src->extra);
    return 0;
}

/* The JSON layer of TaskInfo (see the file comment). */
static int parse_task_info(const json_t *obj, const char *path, struct cr_task_info *t,
                           struct cr_err *err)
{
    if (!json_is_object(obj))
        return cr_mj_type_err(err, path, NULL, "an object", obj);
    int rc;
    if ((rc = cr_mj_required_string_dup(obj, "name", path, &t->name, err)) < 0 ||
        (rc = cr_mj_required_id(obj, "task_id", path, &t->task_id, err)) < 0 ||
        (rc = cr_mj_required_id(obj, "agent_id", path, &t->agent_id, err)) < 0)
        return rc;

    char p[CR_MJ_PATH_MAX];
    json_t *v = NULL;
    if ((rc = cr_mj_array(obj, "resources", path, &v, err)) < 0)
        return rc;
    if (v && (rc = cr_parse_resources(v, cr_mj_path(p, sizeof(p), path, "resources"), &t->resources,
                                      err)) < 0)
        return rc;

    if ((rc = cr_mj_object(obj, "executor", path, &v, err)) < 0)
        return rc;
    if (rc == 1) {
        char *eid = NULL;
        cr_mj_path(p, sizeof(p), path, "executor");
        rc = cr_mj_required_id(v, "executor_id", p, &eid, err);
        free(eid);
        if (rc < 0)
            return rc;
        t->executor = cr_mj_copy_clean(v);
    }

    if ((rc = cr_mj_object(obj, "command", path, &v, err)) < 0)
        return rc;
    if (rc == 1) {
        if ((rc = parse_command(v, cr_mj_path(p, sizeof(p), path, "command"), &t->command, err)) <
            0)
            return rc;
        t->has_command = true;
    }

    if ((rc = cr_mj_kill_policy(obj, path, &t->kill_grace_ms, err)) < 0)
        return rc;

    static const char *const kept[] = {"container", "health_check",        "check", "labels",
                                       "discovery", "max_completion_time", "limits"};
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
        if ((rc = keep_object(obj, kept[i], path, &t->extra, err)) < 0)
            return rc;
    if ((rc = keep_bytes(obj, "data", path, &t->extra, err)) < 0)
        return rc;
    json_t *mct = t->extra ? json_object_get(t->extra, "max_completion_time") : NULL;
    if (mct) {
        int64_t ns = 0;
        if ((rc = cr_mj_nanos(t->extra, "max_completion_time", path, &ns, err)) < 0)
            return rc;
        if (ns < 0)
            return cr_mj_err(err, path, "max_completion_time", "must not be negative");
    }
    return 0;
}

/* Whether the task's container brings its own image (so its entrypoint can run). */
static bool container_has_image(const json_t *extra)
{
    json_t *c = cr_mj_field(extra, "container");
    if (!c)
        return false;
    json_t *docker = cr_mj_field(c, "docker");
    json_t *mesos = cr_mj_field(c, "mesos");
    return (docker && cr_mj_field(docker, "image")) || (mesos && cr_mj_field(mesos, "image"));
}

static int validate_health_check(const json_t *hc, struct cr_err *err)
{
    static const char *const types[] = {"UNKNOWN", "COMMAND", "HTTP", "TCP"};
    static const char *const bodies[] = {NULL, "command", "http", "tcp"};
    int type = 0;
    bool unknown = false;
    if (cr_mj_enum(hc, "type", "health_check", types, 4, &type, &unknown, err) < 0)
        return -EINVAL;
    if (type == 0)
        return cr_err_set(err, -EINVAL, "health_check.type must be COMMAND, HTTP or TCP");
    json_t *body = NULL;
    if (cr_mj_object(hc, bodies[type], "health_check", &body, err) < 0)
        return -EINVAL;
    if (!body)
        return cr_err_set(err, -EINVAL, "health_check.%s is required for a %s health check",
                          bodies[type], types[type]);
    if (type == 1 && !cr_mj_field(body, "value"))
        return cr_err_set(err, -EINVAL, "health_check.command.value is required");
    if (type == 2) {
        const char *scheme = NULL, *hpath = NULL;
        if (cr_mj_string(body, "scheme", "health_check.http", &scheme, err) < 0 ||
            cr_mj_string(body, "path", "health_check.http", &hpath, err) < 0)
            return -EINVAL;
        if (scheme && strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
            return cr_err_set(err, -EINVAL, "health_check.http.scheme '%s' is not supported",
                              scheme);
        if (hpath && hpath[0] != '/')
            return cr_err_set(err, -EINVAL, "health_check.http.path '%s' must start with '/'",
                              hpath);
    }
    if ((type == 2 || type == 3) && !cr_mj_field(body, "port"))
        return cr_err_set(err, -EINVAL, "health_check.%s.port is required", bodies[type]);
    static const char *const durations[] = {"delay_seconds", "interval_seconds", "timeout_seconds",
                                            "grace_period_seconds"};
    for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
        double d = 0;
        int rc = cr_mj_double(hc, durations[i], "health_check", &d, err);
        if (rc < 0)
            return rc;
        if (rc == 1 && !(d >= 0 && d <= MAX_SECONDS))
            return cr_err_set(err, -EINVAL, "health_check.%s must be a non-negative number",
                              durations[i]);
    }
    return 0;
}

/* The semantic layer; in_group: a task of a LAUNCH_GROUP (no executor of its own). */
static int validate_task(const struct cr_task_info *t, bool in_group, struct cr_err *err)
{
    struct cr_err e;
    const char *id = t->task_id ? t->task_id : "";
    if (cr_validate_id(t->task_id, &e) < 0)
        return cr_err_set(err, -EINVAL, "task '%s': invalid task id: %s", id, e.msg);
    if (in_group) {
        if (t->executor)
            return cr_err_set(err, -EINVAL,
                              "task '%s': a task in a task group must not set executor", id);
        if (!t->has_command)
            return cr_err_set(err, -EINVAL, "task '%s': a task in a task group needs a command",
                              id);
    } else if (t->has_command == (t->executor != NULL)) {
        return cr_err_set(err, -EINVAL, "task '%s': exactly one of command or executor must be set",
                          id);
    }
    if (t->has_command && !t->command.value) {
        if (!container_has_image(t->extra))
            return cr_err_set(err, -EINVAL,
                              "task '%s': command.value is required without a container image", id);
        if (t->command.shell)
            return cr_err_set(err, -EINVAL,
                              "task '%s': command.value is required when command.shell is true",
                              id);
    }
    if (t->executor) {
        json_t *eid = cr_mj_field(t->executor, "executor_id");
        const char *value = eid ? json_string_value(cr_mj_field(eid, "value")) : NULL;
        if (cr_validate_id(value, &e) < 0)
            return cr_err_set(err, -EINVAL, "task '%s': invalid executor id: %s", id, e.msg);
    }
    json_t *hc = cr_mj_field(t->extra, "health_check");
    if (hc && validate_health_check(hc, &e) < 0)
        return cr_err_set(err, -EINVAL, "task '%s': %s", id, e.msg);
    return 0;
}

int cr_task_info_validate(const struct cr_task_info *t, struct cr_err *err)
{
    return validate_task(t, false, err);
}

int cr_mj_validate_group_task(const struct cr_task_info *t, struct cr_err *err)
{
    return validate_task(t, true, err);
}

int cr_mj_parse_task_info_lenient(const json_t *obj, const char *path, struct cr_task_info *out,
                                  struct cr_err *err)
{
    cr_task_info_init(out);
    int rc = parse_task_info(obj, path, out, err);
    if (rc < 0)
        cr_task_info_release(out);
    return rc;
}

int cr_parse_task_info(const json_t *obj, const char *path, struct cr_task_info *out,
                       struct cr_err *err)
{
    int rc = cr_mj_parse_task_info_lenient(obj, path, out, err);
    if (rc < 0)
        return rc;
    struct cr_err verr;
    if (validate_task(out, false, &verr) < 0) {
        cr_task_info_release(out);
        if (path && path[0])
            return cr_err_set(err, -EINVAL, "%s: %s", path, verr.msg);
        return cr_err_set(err, -EINVAL, "%s", verr.msg);
    }
    return 0;
}

json_t *cr_json_task_info(const struct cr_task_info *t, const struct cr_res_style *style)
{
    json_t *o = cr_mj_object_new();
    cr_mj_set(o, "name", cr_mj_str(t->name ? t->name : ""));
    cr_mj_set(o, "task_id", cr_json_id(t->task_id ? t->task_id : ""));
    cr_mj_set(o, "agent_id", cr_json_id(t->agent_id ? t->agent_id : ""));
    if (!cr_resources_is_empty(&t->resources))
        cr_mj_set(o, "resources", cr_json_resources(&t->resources, style));
    if (t->executor)
        cr_mj_set(o, "executor", cr_mj_copy_clean(t->executor));
    if (t->has_command)
        cr_mj_set(o, "command", cr_json_command(&t->command));
    emit_extra(o, t->extra, "container");
    emit_extra(o, t->extra, "health_check");
    emit_extra(o, t->extra, "check");
    cr_mj_set(o, "kill_policy", cr_mj_kill_policy_new(t->kill_grace_ms));
    emit_extra(o, t->extra, "data");
    emit_extra(o, t->extra, "labels");
    emit_extra(o, t->extra, "discovery");
    emit_extra(o, t->extra, "max_completion_time");
    emit_extra(o, t->extra, "limits");
    return o;
}

int cr_mj_kill_policy(const json_t *obj, const char *path, int64_t *grace_ms, struct cr_err *err)
{
    json_t *kp = NULL;
    int rc = cr_mj_object(obj, "kill_policy", path, &kp, err);
    if (rc <= 0)
        return rc;
    char p[CR_MJ_PATH_MAX];
    cr_mj_path(p, sizeof(p), path, "kill_policy");
    int64_t ns = 0;
    if ((rc = cr_mj_nanos(kp, "grace_period", p, &ns, err)) <= 0)
        return rc;
    if (ns < 0)
        return cr_mj_err(err, p, "grace_period", "must not be negative");
    *grace_ms = ns / 1000000;
    return 0;
}

json_t *cr_mj_kill_policy_new(int64_t grace_ms)
{
    if (grace_ms < 0)
        return NULL;
    json_t *gp = cr_mj_object_new();
    cr_mj_set(gp, "nanoseconds", cr_mj_int(grace_ms * 1000000));
    json_t *kp = cr_mj_object_new();
    cr_mj_set(kp, "grace_period", gp);
    return kp;
}

/* ---------------------------------------------------------------- TaskStatus */

int cr_mj_task_state(const json_t *obj, const char *path, enum cr_task_state *out,
                     struct cr_err *err)
{
    const char *names[CR_TASK_STATE_COUNT];
    for (int i = 0; i < CR_TASK_STATE_COUNT; i++)
        names[i] = cr_task_state_name((enum cr_task_state)i);
    int state = 0;
    int rc = cr_mj_required_enum(obj, "state", path, names, CR_TASK_STATE_COUNT, "task state",
                                 &state, err);
    if (rc < 0)
        return rc;
    *out = (enum cr_task_state)state;
    return 0;
}

void cr_task_status_init(struct cr_task_status *s)
{
    memset(s, 0, sizeof(*s));
    s->state = CR_TASK_STAGING;
    s->source = CR_SOURCE_NONE;
    s->reason = CR_REASON_NONE;
    s->healthy = -1;
}

void cr_task_status_release(struct cr_task_status *s)
{
    if (!s)
        return;
    free(s->task_id);
    free(s->message);
    free(s->agent_id);
    free(s->executor_id);
    free(s->container_id);
    json_decref(s->extra);
    cr_task_status_init(s);
}

int cr_task_status_copy(struct cr_task_status *dst, const struct cr_task_status *src)
{
    cr_task_status_release(dst);
    *dst = *src;
    dst->task_id = cr_xstrdup(src->task_id);
    dst->message = cr_xstrdup(src->message);
    dst->agent_id = cr_xstrdup(src->agent_id);
    dst->executor_id = cr_xstrdup(src->executor_id);
    dst->container_id = cr_xstrdup(src->container_id);
    dst->extra = extra_copy(src->extra);
    return 0;
}

void cr_task_status_set_uuid_random(struct cr_task_status *s)
{
    cr_random_bytes(s->uuid, sizeof(s->uuid));
    /* Make it a well-formed version 4 UUID, as Mesos' UUID::random() is. */
    s->uuid[6] = (unsigned char)((s->uuid[6] & 0x0f) | 0x40);
    s->uuid[8] = (unsigned char)((s->uuid[8] & 0x3f) | 0x80);
    s->has_uuid = true;
}

static int parse_task_status(const json_t *obj, const char *path, struct cr_task_status *s,
                             struct cr_err *err)
{
    if (!json_is_object(obj))
        return cr_mj_type_err(err, path, NULL, "an object", obj);
    int rc;
    if ((rc = cr_mj_required_id(obj, "task_id", path, &s->task_id, err)) < 0 ||
        (rc = cr_mj_task_state(obj, path, &s->state, err)) < 0)
        return rc;

    if ((rc = cr_mj_string_dup(obj, "message", path, &s->message, err)) < 0)
        return rc;
    int source = 0;
    if ((rc = cr_mj_enum(obj, "source", path, SOURCES, 3, &source, NULL, err)) < 0)
        return rc;
    if (rc == 1)
        s->source = (enum cr_task_source)source;

    const char *reasons[CR_REASON_COUNT];
    for (int i = 0; i < CR_REASON_COUNT; i++)
        reasons[i] = cr_task_reason_name((enum cr_task_reason)i);
    int reason = 0;
    if ((rc = cr_mj_enum(obj, "reason", path, reasons, CR_REASON_COUNT, &reason, NULL, err)) < 0)
        return rc;
    if (rc == 1)
        s->reason = (enum cr_task_reason)reason;

    if ((rc = cr_mj_id(obj, "agent_id", path, &s->agent_id, err)) < 0 ||
        (rc = cr_mj_id(obj, "executor_id", path, &s->executor_id, err)) < 0)
        return rc;
    double ts = 0;
    if ((rc = cr_mj_double(obj, "timestamp", path, &ts, err)) < 0)
        return rc;
    if (!isfinite(ts))
        return cr_mj_err(err, path, "timestamp", "must be finite");
    s->timestamp = ts;

    if ((rc = cr_mj_uuid(obj, "uuid", path, s->uuid, err)) < 0)
        return rc;
    if (rc == 1)
        s->has_uuid = true;
    bool healthy = false;
    if ((rc = cr_mj_bool(obj, "healthy", path, &healthy, err)) < 0)
        return rc;
    if (rc == 1)
        s->healthy = healthy ? 1 : 0;

    json_t *cs = NULL;
    if ((rc = cr_mj_object(obj, "container_status", path, &cs, err)) < 0)
        return rc;
    if (cs) {
        char p[CR_MJ_PATH_MAX];
        cr_mj_path(p, sizeof(p), path, "container_status");
        if ((rc = cr_mj_id(cs, "container_id", p, &s->container_id, err)) < 0)
            return rc;
    }
    int64_t ns = 0;
    if ((rc = cr_mj_nanos(obj, "unreachable_time", path, &ns, err)) < 0)
        return rc;
    if (rc == 1)
        s->unreachable_time = (double)ns / 1e9;

    static const char *const kept[] = {"labels", "check_status", "container_status", "limitation"};
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
        if ((rc = keep_object(obj, kept[i], path, &s->extra, err)) < 0)
            return rc;
    if ((rc = keep_bytes(obj, "data", path, &s->extra, err)) < 0)
        return rc;
    return 0;
}

int cr_parse_task_status(const json_t *obj, const char *path, struct cr_task_status *out,
                         struct cr_err *err)
{
    cr_task_status_init(out);
    int rc = parse_task_status(obj, path, out, err);
    if (rc < 0)
        cr_task_status_release(out);
    return rc;
}

json_t *cr_json_task_status(const struct cr_task_status *s)
{
    json_t *o = cr_mj_object_new();
    cr_mj_set(o, "task_id", cr_json_id(s->task_id ? s->task_id : ""));
    cr_mj_set(o, "state", cr_mj_str(cr_task_state_name(s->state)));
    cr_mj_set(o, "message", cr_mj_str(s->message));
    cr_mj_set(o, "source", cr_mj_str(cr_task_source_name(s->source)));
    cr_mj_set(o, "reason", cr_mj_str(cr_task_reason_name(s->reason)));
    emit_extra(o, s->extra, "data");
    cr_mj_set(o, "agent_id", cr_json_id(s->agent_id));
    cr_mj_set(o, "executor_id", cr_json_id(s->executor_id));
    if (s->timestamp != 0)
        cr_mj_set(o, "timestamp", cr_mj_real(s->timestamp));
    if (s->has_uuid)
        cr_mj_set(o, "uuid", cr_mj_base64(s->uuid, sizeof(s->uuid)));
    if (s->healthy >= 0)
        cr_mj_set(o, "healthy", cr_mj_bool_new(s->healthy == 1));
    emit_extra(o, s->extra, "check_status");
    emit_extra(o, s->extra, "labels");
    json_t *cs = cr_mj_field(s->extra, "container_status");
    if (cs || s->container_id) {
        json_t *out = cs ? cr_mj_copy_clean(cs) : cr_mj_object_new();
        if (s->container_id) {
            /* The modelled id wins; keep a parent the agent may have reported. */
            json_t *cid = cr_mj_field(out, "container_id");
            if (cid && json_is_object(cid))
                cr_mj_set(cid, "value", cr_mj_str(s->container_id));
            else
                cr_mj_set(out, "container_id", cr_json_id(s->container_id));
        }
        cr_mj_set(o, "container_status", out);
    }
    if (s->unreachable_time != 0) {
        json_t *t = cr_mj_object_new();
        cr_mj_set(t, "nanoseconds", cr_mj_int((int64_t)llround(s->unreachable_time * 1e9)));
        cr_mj_set(o, "unreachable_time", t);
    }
    emit_extra(o, s->extra, "limitation");
    return o;
}

json_t *cr_json_task_status_list(const struct cr_task_status *v, size_t n)
{
    json_t *arr = cr_mj_array_new();
    for (size_t i = 0; i < n; i++)
        cr_mj_append(arr, cr_json_task_status(&v[i]));
    return arr;
}

/* ---------------------------------------------------------------- AgentInfo */

void cr_agent_info_init(struct cr_agent_info *a)
{
    memset(a, 0, sizeof(*a));
    a->port = 5051;
    cr_resources_init(&a->resources);
    cr_attributes_init(&a->attributes);
}

void cr_agent_info_release(struct cr_agent_info *a)
{
    if (!a)
        return;
    free(a->id);
    free(a->hostname);
    cr_resources_release(&a->resources);
    cr_attributes_release(&a->attributes);
    cr_agent_info_init(a);
}

int cr_agent_info_copy(struct cr_agent_info *dst, const struct cr_agent_info *src)
{
    cr_agent_info_release(dst);
    dst->id = cr_xstrdup(src->id);
    dst->hostname = cr_xstrdup(src->hostname);
    dst->port = src->port;
    int rc = cr_resources_copy(&dst->resources, &src->resources);
    if (rc < 0)
        return rc;
    return cr_attributes_copy(&dst->attributes, &src->attributes);
}

static int parse_agent_info(const json_t *obj, const char *path, struct cr_agent_info *a,
                            struct cr_err *err)
{
    if (!json_is_object(obj))
        return cr_mj_type_err(err, path, NULL, "an object", obj);
    int rc;
    if ((rc = cr_mj_required_string_dup(obj, "hostname", path, &a->hostname, err)) < 0)
        return rc;
    int64_t port = a->port;
    if ((rc = cr_mj_int64(obj, "port", path, &port, err)) < 0)
        return rc;
    if (port < 0 || port > 65535)
        return cr_mj_err(err, path, "port", "%lld is not a port", (long long)port);
    a->port = (int)port;
    char p[CR_MJ_PATH_MAX];
    json_t *v = NULL;
    if ((rc = cr_mj_array(obj, "resources", path, &v, err)) < 0)
        return rc;
    if (v && (rc = cr_parse_resources(v, cr_mj_path(p, sizeof(p), path, "resources"), &a->resources,
                                      err)) < 0)
        return rc;
    if ((rc = cr_mj_array(obj, "attributes", path, &v, err)) < 0)
        return rc;
    if (rc == 1 && (rc = cr_parse_attributes(v, cr_mj_path(p, sizeof(p), path, "attributes"),
                                             &a->attributes, err)) < 0)
        return rc;
    if ((rc = valid_id(obj, "id", path, &a->id, err)) < 0)
        return rc;
    return 0;
}

int cr_parse_agent_info(const json_t *obj, const char *path, struct cr_agent_info *out,
                        struct cr_err *err)
{
    cr_agent_info_init(out);
    int rc = parse_agent_info(obj, path, out, err);
    if (rc < 0)
        cr_agent_info_release(out);
    return rc;
}

json_t *cr_json_agent_info(const struct cr_agent_info *a)
{
    json_t *o = cr_mj_object_new();
    cr_mj_set(o, "hostname", cr_mj_str(a->hostname ? a->hostname : ""));
    cr_mj_set(o, "port", cr_mj_int(a->port));
    if (!cr_resources_is_empty(&a->resources))
        cr_mj_set(o, "resources", cr_json_resources(&a->resources, NULL));
    if (a->attributes.n)
        cr_mj_set(o, "attributes", cr_json_attributes(&a->attributes));
    cr_mj_set(o, "id", cr_json_id(a->id));
    return o;
}
