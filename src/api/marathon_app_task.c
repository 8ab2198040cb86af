/*
 * marathon_app_task.c - the Mesos TaskInfo one instance of an app runs as (see
 * cr_marathon_task_info() in marathon_app.h).
 *
 * The output is read by three parties, so its field names follow them exactly: the master
 * (cr_parse_task_info + cr_task_info_validate in mesos_task.c), the executor's health checker
 * (src/executor/health.c: type, http{port,path,scheme}, tcp{port}, command{value},
 * *_seconds, consecutive_failures) and its container spec (src/executor/container_spec.c:
 * container{type,volumes[{container_path,host_path,mode}]}). The environment is Marathon's
 * (API-COMPAT.md §6.3), with the app's own env applied last so that it wins.
 */
#include "api/marathon_app.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/mesos_internal.h"
#include "base/util.h"

static bool hc_is_tcp(enum cr_app_hc_protocol p)
{
    return p == CR_APP_HC_TCP || p == CR_APP_HC_MESOS_TCP;
}

struct envb {
    struct cr_env_var *v;
    size_t n, cap;
};

/* Set name=value, replacing an earlier value of the same name. Takes ownership of value. */
static void env_put(struct envb *b, const char *name, char *value)
{
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->v[i].name, name) == 0) {
            free(b->v[i].value);
            b->v[i].value = value;
            return;
        }
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 16;
        b->v = cr_xrealloc(b->v, b->cap * sizeof(*b->v));
    }
    b->v[b->n].name = cr_xstrdup(name);
    b->v[b->n].value = value;
    b->n++;
}

/* Upper case, every character other than A-Z 0-9 _ becomes '_'. Owned. */
static char *env_name(const char *prefix, const char *s)
{
    char *out = cr_xasprintf("%s%s", prefix, s);
    for (char *p = out + strlen(prefix); *p; p++) {
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
        else if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
            *p = '_';
    }
    return out;
}

/* Java's Double.toString for the amounts Marathon puts in env: "1.0", "0.25", "128.0". */
static char *amount_text(int64_t milli)
{
    if (milli % 1000 == 0)
        return cr_xasprintf("%lld.0", (long long)(milli / 1000));
    char *s = cr_xasprintf("%lld.%03lld", (long long)(milli / 1000), (long long)(milli % 1000));
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '0')
        s[--n] = '\0';
    return s;
}

static json_t *health_check_json(const struct cr_app *app, const struct cr_app_health *h,
                                 const struct cr_marathon_launch *l, struct cr_err *err)
{
    json_t *o = cr_mj_object_new();
    if (h->protocol == CR_APP_HC_COMMAND) {
        cr_mj_set(o, "type", cr_mj_str("COMMAND"));
        json_t *cmd = cr_mj_object_new();
        cr_mj_set(cmd, "shell", cr_mj_bool_new(true));
        cr_mj_set(cmd, "value", cr_mj_str(h->command ? h->command : ""));
        cr_mj_set(o, "command", cmd);
    } else {
        int64_t port = h->port;
        if (port < 0) {
            if (h->port_index < 0 || (uint64_t)h->port_index >= app->nports) {
                json_decref(o);
                cr_err_set(err, -EINVAL, "health check portIndex %lld: the app has %zu port(s)",
                           (long long)h->port_index, app->nports);
                return NULL;
            }
            port = (int64_t)l->host_ports[h->port_index];
        }
        if (port < 1 || port > 65535) {
            json_decref(o);
            cr_err_set(err, -EINVAL, "health check port %lld is not 1 to 65535", (long long)port);
            return NULL;
        }
        json_t *body = cr_mj_object_new();
        cr_mj_set(body, "port", cr_mj_int(port));
        if (hc_is_tcp(h->protocol)) {
            cr_mj_set(o, "type", cr_mj_str("TCP"));
            cr_mj_set(o, "tcp", body);
        } else {
            bool tls = h->protocol == CR_APP_HC_HTTPS || h->protocol == CR_APP_HC_MESOS_HTTPS;
            cr_mj_set(body, "path", cr_mj_str(h->path ? h->path : "/"));
            cr_mj_set(body, "scheme", cr_mj_str(tls ? "https" : "http"));
            cr_mj_set(o, "type", cr_mj_str("HTTP"));
            cr_mj_set(o, "http", body);
        }
    }
    cr_mj_set(o, "delay_seconds", cr_mj_real(h->delay_s));
    cr_mj_set(o, "interval_seconds", cr_mj_real(h->interval_s));
    cr_mj_set(o, "timeout_seconds", cr_mj_real(h->timeout_s));
    /* Marathon-level checks (HTTP, TCP) never kill with 0; Mesos-level ones (and the
     * executor) kill on the first failure with 0: keep each kind's meaning. */
    int64_t failures = h->max_consecutive_failures < 0 ? 0 : h->max_consecutive_failures;
    if (failures == 0 && (h->protocol == CR_APP_HC_HTTP || h->protocol == CR_APP_HC_TCP))
        failures = UINT32_MAX;
    if (failures > UINT32_MAX)
        failures = UINT32_MAX;
    cr_mj_set(o, "consecutive_failures", cr_mj_int(failures));
    cr_mj_set(o, "grace_period_seconds", cr_mj_real(h->grace_period_s));
    return o;
}

/* The reversed id segments joined by '.': "/prod/web" -> "web.prod". Owned. */
static char *task_name(const char *id)
{
    struct cr_buf b;
    cr_buf_init(&b);
    const char *end = id + strlen(id);
    while (end > id) {
        const char *start = end;
        while (start > id && start[-1] != '/')
            start--;
        if (end > start) {
            if (b.len)
                cr_buf_puts(&b, ".");
            cr_buf_append(&b, start, (size_t)(end - start));
        }
        end = start > id ? start - 1 : id;
    }
    char *name = cr_buf_steal(&b, NULL);
    if (!name || !*name) {
        free(name);
        name = cr_xstrdup("app");
    }
    return name;
}

static int build_task(const struct cr_app *app, const struct cr_marathon_launch *l,
                      struct cr_task_info *t, struct cr_err *err)
{
    if (!app->id || !l->task_id || !l->agent_id)
        return cr_err_set(err, -EINVAL, "app id, task id and agent id are required");
    if (l->nhost_ports != app->nports)
        return cr_err_set(err, -EINVAL, "app '%s' has %zu port(s) but %zu host port(s) were given",
                          app->id, app->nports, l->nhost_ports);
    for (size_t i = 0; i < app->nports; i++) {
        if (l->host_ports[i] < 1 || l->host_ports[i] > 65535)
            return cr_err_set(err, -EINVAL, "host port %llu is not 1 to 65535",
                              (unsigned long long)l->host_ports[i]);
        if (app->require_ports && app->ports[i].port != 0 &&
            (uint64_t)app->ports[i].port != l->host_ports[i])
            return cr_err_set(err, -EINVAL,
                              "app '%s' requires port %lld but host port %llu was given", app->id,
                              (long long)app->ports[i].port, (unsigned long long)l->host_ports[i]);
    }
    if (!app->cmd && !app->args)
        return cr_err_set(err, -EINVAL, "app '%s' has neither cmd nor args", app->id);

    t->name = task_name(app->id);
    t->task_id = cr_xstrdup(l->task_id);
    t->agent_id = cr_xstrdup(l->agent_id);
    const char *role = l->role ? l->role : CR_ROLE_ANY;
    int rc;
    if ((rc = cr_resources_add_scalar(&t->resources, "cpus", role, app->cpus)) < 0 ||
        (rc = cr_resources_add_scalar(&t->resources, "mem", role, app->mem)) < 0 ||
        (rc = cr_resources_add_scalar(&t->resources, "disk", role, app->disk)) < 0 ||
        (rc = cr_resources_add_scalar(&t->resources, "gpus", role, app->gpus)) < 0)
        return cr_err_set(err, rc, "resources of app '%s' (role '%s')", app->id, role);
    if (app->nports) {
        struct cr_range *r = cr_xcalloc(app->nports, sizeof(*r));
        for (size_t i = 0; i < app->nports; i++)
            r[i].begin = r[i].end = l->host_ports[i];
        rc = cr_resources_add_ranges(&t->resources, "ports", role, r, app->nports);
        free(r);
        if (rc < 0)
            return cr_err_set(err, rc, "ports of app '%s'", app->id);
    }

    struct cr_command *cmd = &t->command;
    t->has_command = true;
    if (app->cmd) {
        cmd->shell = true;
        cmd->value = cr_xstrdup(app->cmd);
    } else {
        cmd->shell = false;
        cmd->value = cr_xstrdup(app->args[0]);
        cmd->arguments = cr_mj_strv_copy(app->args, app->nargs);
        cmd->narguments = app->nargs;
    }
    cmd->user = cr_xstrdup(app->user);

    struct envb b = {0};
    struct cr_buf ports;
    cr_buf_init(&ports);
    for (size_t i = 0; i < app->nports; i++) {
        char name[32];
        snprintf(name, sizeof(name), "PORT%zu", i);
        env_put(&b, name, cr_xasprintf("%llu", (unsigned long long)l->host_ports[i]));
        cr_buf_printf(&ports, "%s%llu", i ? "," : "", (unsigned long long)l->host_ports[i]);
        if (app->ports[i].name) {
            char *n = env_name("PORT_", app->ports[i].name);
            env_put(&b, n, cr_xasprintf("%llu", (unsigned long long)l->host_ports[i]));
            free(n);
        }
    }
    if (app->nports) {
        env_put(&b, "PORT", cr_xasprintf("%llu", (unsigned long long)l->host_ports[0]));
        env_put(&b, "PORTS", cr_buf_steal(&ports, NULL));
    }
    cr_buf_release(&ports);
    if (l->hostname)
        env_put(&b, "HOST", cr_xstrdup(l->hostname));
    env_put(&b, "MARATHON_APP_ID", cr_xstrdup(app->id));
    env_put(&b, "MARATHON_APP_VERSION", cr_xstrdup(app->version ? app->version : ""));
    if (app->image)
        env_put(&b, "MARATHON_APP_DOCKER_IMAGE", cr_xstrdup(app->image));
    env_put(&b, "MARATHON_APP_RESOURCE_CPUS", amount_text(app->cpus));
    env_put(&b, "MARATHON_APP_RESOURCE_MEM", amount_text(app->mem));
    env_put(&b, "MARATHON_APP_RESOURCE_DISK", amount_text(app->disk));
    env_put(&b, "MARATHON_APP_RESOURCE_GPUS", cr_xasprintf("%lld", (long long)(app->gpus / 1000)));
    struct cr_buf names;
    cr_buf_init(&names);
    for (size_t i = 0; i < app->nlabels; i++) {
        if (strlen(app->labels[i].value) >= 512) /* as Marathon: long values stay out */
            continue;
        char *n = env_name("", app->labels[i].name);
        char *full = cr_xasprintf("MARATHON_APP_LABEL_%s", n);
        env_put(&b, full, cr_xstrdup(app->labels[i].value));
        cr_buf_printf(&names, "%s%s", names.len ? " " : "", n);
        free(full);
        free(n);
    }
    char *label_names = cr_buf_steal(&names, NULL);
    env_put(&b, "MARATHON_APP_LABELS", label_names ? label_names : cr_xstrdup(""));
    cr_buf_release(&names);
    env_put(&b, "MESOS_TASK_ID", cr_xstrdup(l->task_id));
    for (size_t i = 0; i < app->nenv; i++)
        env_put(&b, app->env[i].name, cr_xstrdup(app->env[i].value));
    cmd->env = b.v;
    cmd->nenv = b.n;

    t->kill_grace_ms =
        app->kill_grace_period_s >= 0 ? (int64_t)llround(app->kill_grace_period_s * 1000.0) : -1;

    json_t *extra = cr_mj_object_new();
    t->extra = extra;
    if (app->nhealth_checks) {
        json_t *hc = health_check_json(app, &app->health_checks[0], l, err);
        if (!hc)
            return cr_err_wrap(err, "app '%s'", app->id);
        cr_mj_set(extra, "health_check", hc);
    }
    if (app->nvolumes) {
        json_t *c = cr_mj_object_new();
        cr_mj_set(c, "type", cr_mj_str("MESOS"));
        json_t *vols = cr_mj_array_new();
        for (size_t i = 0; i < app->nvolumes; i++) {
            json_t *v = cr_mj_object_new();
            cr_mj_set(v, "container_path", cr_mj_str(app->volumes[i].container_path));
            cr_mj_set(v, "host_path", cr_mj_str(app->volumes[i].host_path));
            cr_mj_set(v, "mode", cr_mj_str(app->volumes[i].is_read_only ? "RO" : "RW"));
            cr_mj_append(vols, v);
        }
        cr_mj_set(c, "volumes", vols);
        cr_mj_set(extra, "container", c);
    }
    if (app->nlabels || app->nhealth_checks) {
        json_t *ls = cr_mj_array_new();
        for (size_t i = 0; i < app->nlabels; i++) {
            json_t *kv = cr_mj_object_new();
            cr_mj_set(kv, "key", cr_mj_str(app->labels[i].name));
            cr_mj_set(kv, "value", cr_mj_str(app->labels[i].value));
            cr_mj_append(ls, kv);
        }
        if (app->nhealth_checks) {
            /* Our executor then reports the failure threshold instead of killing: the
             * orchestrator kills within its health kill budget. */
            json_t *kv = cr_mj_object_new();
            cr_mj_set(kv, "key", cr_mj_str(CR_MARATHON_HEALTH_KILL_LABEL));
            cr_mj_set(kv, "value", cr_mj_str("scheduler"));
            cr_mj_append(ls, kv);
        }
        json_t *lo = cr_mj_object_new();
        cr_mj_set(lo, "labels", ls);
        cr_mj_set(extra, "labels", lo);
    }
    if (!json_object_size(extra)) {
        json_decref(extra);
        t->extra = NULL;
    }
    return 0;
}

int cr_marathon_task_info(const struct cr_app *app, const struct cr_marathon_launch *l,
                          struct cr_task_info *out, struct cr_err *err)
{
    cr_task_info_release(out);
    int rc = build_task(app, l, out, err);
    if (rc == 0 && (rc = cr_task_info_validate(out, err)) < 0)
        cr_err_wrap(err, "app '%s'", app->id);
    if (rc < 0)
        cr_task_info_release(out);
    return rc;
}
