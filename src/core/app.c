/*
 * app.c - lifetime, copy and comparison of struct cr_app (see app.h). PURE: no I/O.
 *
 * Every string and array in a cr_app is owned, so copy is deep and release frees all of it.
 * cr_app_same_config() compares field by field everything except instances, version and
 * versionInfo: the orchestrator uses it to tell a scaling from a configuration change, so a
 * field added to struct cr_app must be added to release, copy and same_config here.
 */
#include "core/app.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"

void cr_app_init(struct cr_app *app)
{
    memset(app, 0, sizeof(*app));
    app->cpus = 1000;
    app->mem = 128000;
    app->disk = 0;
    app->gpus = 0;
    app->instances = 1;
    app->minimum_health_capacity = 1.0;
    app->maximum_over_capacity = 1.0;
    app->progress_deadline_s = 600;
    app->backoff_s = 1;
    app->backoff_factor = 1.15;
    app->max_launch_delay_s = 300;
    app->unreachable_disabled = false;
    app->inactive_after_s = 5;
    app->expunge_after_s = 60;
    app->kill_selection = CR_APP_KILL_YOUNGEST_FIRST;
    app->kill_grace_period_s = -1;
    app->placement = CR_PLACE_BINPACK;
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static char **strv_copy(char *const *v, size_t n)
{
    if (!v)
        return NULL;
    char **out = cr_xcalloc(n + 1, sizeof(*out));
    for (size_t i = 0; i < n; i++)
        out[i] = cr_xstrdup(v[i]);
    return out;
}

static void kv_free(struct cr_app_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].name);
        free(kv[i].value);
    }
    free(kv);
}

static struct cr_app_kv *kv_copy(const struct cr_app_kv *kv, size_t n)
{
    if (!n)
        return NULL;
    struct cr_app_kv *out = cr_xcalloc(n, sizeof(*out));
    for (size_t i = 0; i < n; i++) {
        out[i].name = cr_xstrdup(kv[i].name);
        out[i].value = cr_xstrdup(kv[i].value);
    }
    return out;
}

static void health_release(struct cr_app_health *h)
{
    free(h->path);
    free(h->command);
}

void cr_app_release(struct cr_app *app)
{
    if (!app)
        return;
    free(app->id);
    free(app->cmd);
    strv_free(app->args, app->nargs);
    free(app->user);
    kv_free(app->env, app->nenv);
    kv_free(app->labels, app->nlabels);
    for (size_t i = 0; i < app->nconstraints; i++) {
        free((char *)app->constraints[i].field);
        free((char *)app->constraints[i].value);
    }
    free(app->constraints);
    strv_free(app->accepted_roles, app->naccepted_roles);
    free(app->role);
    for (size_t i = 0; i < app->nports; i++) {
        free(app->ports[i].name);
        free(app->ports[i].protocol);
        kv_free(app->ports[i].labels, app->ports[i].nlabels);
    }
    free(app->ports);
    for (size_t i = 0; i < app->nhealth_checks; i++)
        health_release(&app->health_checks[i]);
    free(app->health_checks);
    free(app->container_type);
    free(app->image);
    for (size_t i = 0; i < app->nvolumes; i++) {
        free(app->volumes[i].container_path);
        free(app->volumes[i].host_path);
    }
    free(app->volumes);
    free(app->version);
    free(app->last_scaling_at);
    free(app->last_config_change_at);
    cr_app_init(app);
}

int cr_app_copy(struct cr_app *dst, const struct cr_app *src)
{
    if (dst == src)
        return 0;
    cr_app_release(dst);
    *dst = *src; /* scalars; every pointer is replaced below */
    dst->id = cr_xstrdup(src->id);
    dst->cmd = cr_xstrdup(src->cmd);
    dst->args = strv_copy(src->args, src->nargs);
    dst->user = cr_xstrdup(src->user);
    dst->env = kv_copy(src->env, src->nenv);
    dst->labels = kv_copy(src->labels, src->nlabels);
    dst->constraints = NULL;
    if (src->nconstraints) {
        dst->constraints = cr_xcalloc(src->nconstraints, sizeof(*dst->constraints));
        for (size_t i = 0; i < src->nconstraints; i++) {
            dst->constraints[i].field = cr_xstrdup(src->constraints[i].field);
            dst->constraints[i].op = src->constraints[i].op;
            dst->constraints[i].value = cr_xstrdup(src->constraints[i].value);
        }
    }
    dst->accepted_roles = strv_copy(src->accepted_roles, src->naccepted_roles);
    dst->role = cr_xstrdup(src->role);
    dst->ports = NULL;
    if (src->nports) {
        dst->ports = cr_xcalloc(src->nports, sizeof(*dst->ports));
        for (size_t i = 0; i < src->nports; i++) {
            dst->ports[i].port = src->ports[i].port;
            dst->ports[i].name = cr_xstrdup(src->ports[i].name);
            dst->ports[i].protocol = cr_xstrdup(src->ports[i].protocol);
            dst->ports[i].labels = kv_copy(src->ports[i].labels, src->ports[i].nlabels);
            dst->ports[i].nlabels = src->ports[i].nlabels;
        }
    }
    dst->health_checks = NULL;
    if (src->nhealth_checks) {
        dst->health_checks = cr_xcalloc(src->nhealth_checks, sizeof(*dst->health_checks));
        for (size_t i = 0; i < src->nhealth_checks; i++) {
            dst->health_checks[i] = src->health_checks[i];
            dst->health_checks[i].path = cr_xstrdup(src->health_checks[i].path);
            dst->health_checks[i].command = cr_xstrdup(src->health_checks[i].command);
        }
    }
    dst->container_type = cr_xstrdup(src->container_type);
    dst->image = cr_xstrdup(src->image);
    dst->volumes = NULL;
    if (src->nvolumes) {
        dst->volumes = cr_xcalloc(src->nvolumes, sizeof(*dst->volumes));
        for (size_t i = 0; i < src->nvolumes; i++) {
            dst->volumes[i].container_path = cr_xstrdup(src->volumes[i].container_path);
            dst->volumes[i].host_path = cr_xstrdup(src->volumes[i].host_path);
            dst->volumes[i].is_read_only = src->volumes[i].is_read_only;
        }
    }
    dst->version = cr_xstrdup(src->version);
    dst->last_scaling_at = cr_xstrdup(src->last_scaling_at);
    dst->last_config_change_at = cr_xstrdup(src->last_config_change_at);
    return 0;
}

/* NULL equals only NULL. */
static bool str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

static bool strv_eq(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb || (a == NULL) != (b == NULL))
        return false;
    for (size_t i = 0; i < na; i++)
        if (!str_eq(a[i], b[i]))
            return false;
    return true;
}

/* Ordered comparison: env, labels and ports keep the order they were given in. */
static bool kv_eq(const struct cr_app_kv *a, size_t na, const struct cr_app_kv *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (!str_eq(a[i].name, b[i].name) || !str_eq(a[i].value, b[i].value))
            return false;
    return true;
}

static bool health_eq(const struct cr_app_health *a, const struct cr_app_health *b)
{
    return a->protocol == b->protocol && str_eq(a->path, b->path) && a->port == b->port &&
           a->port_index == b->port_index && str_eq(a->command, b->command) &&
           a->grace_period_s == b->grace_period_s && a->interval_s == b->interval_s &&
           a->timeout_s == b->timeout_s && a->delay_s == b->delay_s &&
           a->max_consecutive_failures == b->max_consecutive_failures &&
           a->ignore_http1xx == b->ignore_http1xx;
}

bool cr_app_same_config(const struct cr_app *a, const struct cr_app *b)
{
    if (!str_eq(a->id, b->id) || !str_eq(a->cmd, b->cmd) ||
        !strv_eq(a->args, a->nargs, b->args, b->nargs) || a->cpus != b->cpus || a->mem != b->mem ||
        a->disk != b->disk || a->gpus != b->gpus || !str_eq(a->user, b->user) ||
        !kv_eq(a->env, a->nenv, b->env, b->nenv) ||
        !kv_eq(a->labels, a->nlabels, b->labels, b->nlabels) ||
        !strv_eq(a->accepted_roles, a->naccepted_roles, b->accepted_roles, b->naccepted_roles) ||
        !str_eq(a->role, b->role))
        return false;
    if (a->nconstraints != b->nconstraints)
        return false;
    for (size_t i = 0; i < a->nconstraints; i++)
        if (a->constraints[i].op != b->constraints[i].op ||
            !str_eq(a->constraints[i].field, b->constraints[i].field) ||
            !str_eq(a->constraints[i].value, b->constraints[i].value))
            return false;
    if (a->nports != b->nports || a->require_ports != b->require_ports)
        return false;
    for (size_t i = 0; i < a->nports; i++)
        if (a->ports[i].port != b->ports[i].port || !str_eq(a->ports[i].name, b->ports[i].name) ||
            !str_eq(a->ports[i].protocol, b->ports[i].protocol) ||
            !kv_eq(a->ports[i].labels, a->ports[i].nlabels, b->ports[i].labels,
                   b->ports[i].nlabels))
            return false;
    if (a->nhealth_checks != b->nhealth_checks)
        return false;
    for (size_t i = 0; i < a->nhealth_checks; i++)
        if (!health_eq(&a->health_checks[i], &b->health_checks[i]))
            return false;
    if (a->minimum_health_capacity != b->minimum_health_capacity ||
        a->maximum_over_capacity != b->maximum_over_capacity ||
        a->progress_deadline_s != b->progress_deadline_s || a->backoff_s != b->backoff_s ||
        a->backoff_factor != b->backoff_factor || a->max_launch_delay_s != b->max_launch_delay_s ||
        a->unreachable_disabled != b->unreachable_disabled ||
        a->inactive_after_s != b->inactive_after_s || a->expunge_after_s != b->expunge_after_s ||
        a->kill_selection != b->kill_selection || a->kill_grace_period_s != b->kill_grace_period_s)
        return false;
    if (!str_eq(a->container_type, b->container_type) || !str_eq(a->image, b->image) ||
        a->nvolumes != b->nvolumes)
        return false;
    for (size_t i = 0; i < a->nvolumes; i++)
        if (!str_eq(a->volumes[i].container_path, b->volumes[i].container_path) ||
            !str_eq(a->volumes[i].host_path, b->volumes[i].host_path) ||
            a->volumes[i].is_read_only != b->volumes[i].is_read_only)
            return false;
    /* Without the label, placement is the cluster default the orchestrator fills in. */
    if (a->has_placement_label != b->has_placement_label)
        return false;
    return !a->has_placement_label || a->placement == b->placement;
}
