/*
 * marathon_app.c - Marathon App JSON <-> struct cr_app (see marathon_app.h for the contract).
 *
 * Parsing never stops at the first problem: a struct pctx collects two lists of details,
 * shape errors (400) and validation errors (422), each {"path": JSON pointer, "errors": [..]}
 * with one entry per path. A field with the wrong type is recorded and skipped, so the rest
 * of the document is still read. The 400 list wins: Marathon rejects a body it cannot read
 * before it validates it. Paths use JSON pointers ("/constraints/0", "/env/A~1B").
 *
 * The TaskInfo of an instance is built in marathon_app_task.c.
 *
 * Amounts: cpus/mem/disk/gpus are thousandths in struct cr_app (mem 128 MiB = 128000), plain
 * numbers in JSON.
 */
#include "api/marathon_app.h"

#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/mesos_internal.h"
#include "base/util.h"

/* Amounts above this are refused: they would overflow thousandths. */
#define MAX_AMOUNT 1e12
#define PATH_MAX_LEN 256

void cr_marathon_err_init(struct cr_marathon_err *e)
{
    e->status = 0;
    e->body = NULL;
}

void cr_marathon_err_release(struct cr_marathon_err *e)
{
    if (!e)
        return;
    json_decref(e->body);
    cr_marathon_err_init(e);
}

/* ---------------------------------------------------------------- error collection */

struct pctx {
    json_t *shape;   /* 400 details */
    json_t *invalid; /* 422 details */
};

static void add_detail(json_t *list, const char *path, const char *msg)
{
    size_t i;
    json_t *d;
    json_array_foreach(list, i, d)
    {
        if (strcmp(json_string_value(json_object_get(d, "path")), path) == 0) {
            cr_mj_append(json_object_get(d, "errors"), cr_mj_str(msg));
            return;
        }
    }
    d = cr_mj_object_new();
    cr_mj_set(d, "path", cr_mj_str(path));
    json_t *errs = cr_mj_array_new();
    cr_mj_append(errs, cr_mj_str(msg));
    cr_mj_set(d, "errors", errs);
    cr_mj_append(list, d);
}

/* A 400: the field at path is not a js<what> ("jsstring", "jsnumber", ...). */
static void shape_err(struct pctx *c, const char *path, const char *what)
{
    char msg[64];
    snprintf(msg, sizeof(msg), "error.expected.%s", what);
    add_detail(c->shape, path, msg);
}

/* A 422 at path. */
__attribute__((format(printf, 3, 4))) static void invalid(struct pctx *c, const char *path,
                                                          const char *fmt, ...)
{
    char msg[CR_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    add_detail(c->invalid, path, msg);
}

/* path + "/" + key, with key escaped as a JSON pointer token (~ -> ~0, / -> ~1). */
static const char *jp(char *buf, size_t size, const char *path, const char *key)
{
    size_t n = (size_t)snprintf(buf, size, "%s/", path);
    for (const char *k = key; *k && n + 3 < size; k++) {
        if (*k == '~' || *k == '/') {
            buf[n++] = '~';
            buf[n++] = *k == '~' ? '0' : '1';
        } else {
            buf[n++] = *k;
        }
    }
    if (n >= size)
        n = size - 1;
    buf[n] = '\0';
    return buf;
}

static const char *jpi(char *buf, size_t size, const char *path, size_t i)
{
    if (snprintf(buf, size, "%s/%zu", path, i) >= (int)size)
        buf[size - 1] = '\0'; /* a truncated path still names the field */
    return buf;
}

/* obj[key], or NULL when absent or null (null = absent). */
static json_t *field(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return v && !json_is_null(v) ? v : NULL;
}

/* ---------------------------------------------------------------- typed readers */

/* Each returns true when v has the type (and fills out), else records a 400. */
static bool as_string(struct pctx *c, const json_t *v, const char *path, const char **out)
{
    if (!json_is_string(v)) {
        shape_err(c, path, "jsstring");
        return false;
    }
    *out = json_string_value(v);
    return true;
}

static bool as_number(struct pctx *c, const json_t *v, const char *path, double *out)
{
    if (!json_is_number(v)) {
        shape_err(c, path, "jsnumber");
        return false;
    }
    *out = json_number_value(v);
    return true;
}

static bool as_int(struct pctx *c, const json_t *v, const char *path, int64_t *out)
{
    double d;
    if (!as_number(c, v, path, &d))
        return false;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    if (d != floor(d) || fabs(d) > 9e15) {
        shape_err(c, path, "int");
        return false;
    }
    *out = (int64_t)d;
    return true;
}

static bool as_bool(struct pctx *c, const json_t *v, const char *path, bool *out)
{
    if (!json_is_boolean(v)) {
        shape_err(c, path, "jsboolean");
        return false;
    }
    *out = json_is_true(v);
    return true;
}

static bool as_array(struct pctx *c, const json_t *v, const char *path)
{
    if (!json_is_array(v)) {
        shape_err(c, path, "jsarray");
        return false;
    }
    return true;
}

static bool as_object(struct pctx *c, const json_t *v, const char *path)
{
    if (!json_is_object(v)) {
        shape_err(c, path, "jsobject");
        return false;
    }
    return true;
}

/* Optional members of a nested object: read when present, leave *out otherwise. */
static void opt_number(struct pctx *c, const json_t *obj, const char *key, const char *path,
                       double *out)
{
    char p[PATH_MAX_LEN];
    json_t *v = field(obj, key);
    if (v)
        as_number(c, v, jp(p, sizeof(p), path, key), out);
}

static void opt_int(struct pctx *c, const json_t *obj, const char *key, const char *path,
                    int64_t *out)
{
    char p[PATH_MAX_LEN];
    json_t *v = field(obj, key);
    if (v)
        as_int(c, v, jp(p, sizeof(p), path, key), out);
}

static void opt_string(struct pctx *c, const json_t *obj, const char *key, const char *path,
                       char **out)
{
    char p[PATH_MAX_LEN];
    const char *s;
    json_t *v = field(obj, key);
    if (v && as_string(c, v, jp(p, sizeof(p), path, key), &s)) {
        free(*out);
        *out = cr_xstrdup(s);
    }
}

/* An array that must be empty: a feature Corral does not run yet. */
static void unsupported_array(struct pctx *c, const json_t *obj, const char *key, const char *path,
                              const char *what)
{
    json_t *v = field(obj, key);
    char p[PATH_MAX_LEN];
    jp(p, sizeof(p), path, key);
    if (v && as_array(c, v, p) && json_array_size(v) > 0)
        invalid(c, p, "%s not supported yet", what);
}

/* ---------------------------------------------------------------- ids */

static bool segment_ok(const char *s, size_t n)
{
    if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'))
            return false;
    }
    return true;
}

char *cr_marathon_app_id(const char *id)
{
    if (!id || !*id)
        return NULL;
    const char *s = id[0] == '/' ? id + 1 : id;
    size_t len = strlen(s);
    if (len > 0 && s[len - 1] == '/')
        len--;
    if (len == 0)
        return NULL;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && s[j] != '/')
            j++;
        if (!segment_ok(s + i, j - i))
            return NULL;
        i = j + 1;
        if (j < len && i >= len)
            return NULL; /* "a//": cannot happen after the strip, kept for safety */
    }
    return cr_xasprintf("/%.*s", (int)len, s);
}

/* ---------------------------------------------------------------- pieces of the app */

static int kv_cmp(const void *a, const void *b)
{
    return strcmp(((const struct cr_app_kv *)a)->name, ((const struct cr_app_kv *)b)->name);
}

static void kv_free(struct cr_app_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].name);
        free(kv[i].value);
    }
    free(kv);
}

/* env / labels: an object of strings, kept sorted by name so equal maps compare equal. */
static void parse_kv(struct pctx *c, const json_t *v, const char *path, bool is_env,
                     struct cr_app_kv **out, size_t *nout)
{
    if (!as_object(c, v, path))
        return;
    kv_free(*out, *nout);
    *out = NULL;
    *nout = 0;
    size_t n = json_object_size(v), k = 0;
    struct cr_app_kv *kv = n ? cr_xcalloc(n, sizeof(*kv)) : NULL;
    const char *key;
    json_t *val;
    char p[PATH_MAX_LEN];
    json_object_foreach((json_t *)v, key, val)
    {
        jp(p, sizeof(p), path, key);
        if (is_env && json_is_object(val) && json_object_get(val, "secret")) {
            invalid(c, p, "secrets are not supported");
            continue;
        }
        const char *s;
        if (json_is_null(val) || !as_string(c, val, p, &s))
            continue;
        if (is_env && !*key) {
            invalid(c, p, "an environment variable needs a name");
            continue;
        }
        kv[k].name = cr_xstrdup(key);
        kv[k].value = cr_xstrdup(s);
        k++;
    }
    if (k)
        qsort(kv, k, sizeof(*kv), kv_cmp);
    else {
        free(kv);
        kv = NULL;
    }
    *out = kv;
    *nout = k;
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* An array of strings; an empty array gives NULL. */
static void parse_strv(struct pctx *c, const json_t *v, const char *path, char ***out, size_t *nout)
{
    if (!as_array(c, v, path))
        return;
    strv_free(*out, *nout);
    *out = NULL;
    *nout = 0;
    size_t n = json_array_size(v), k = 0;
    if (!n)
        return;
    char **sv = cr_xcalloc(n + 1, sizeof(*sv));
    char p[PATH_MAX_LEN];
    for (size_t i = 0; i < n; i++) {
        const char *s;
        if (as_string(c, json_array_get(v, i), jpi(p, sizeof(p), path, i), &s))
            sv[k++] = cr_xstrdup(s);
    }
    *out = sv;
    *nout = k;
}

static const char *const OP_NAMES[] = {
    [CR_PLACE_UNIQUE] = "UNIQUE", [CR_PLACE_CLUSTER] = "CLUSTER", [CR_PLACE_GROUP_BY] = "GROUP_BY",
    [CR_PLACE_LIKE] = "LIKE",     [CR_PLACE_UNLIKE] = "UNLIKE",   [CR_PLACE_MAX_PER] = "MAX_PER",
    [CR_PLACE_IS] = "IS",
};
#define NOPS (sizeof(OP_NAMES) / sizeof(OP_NAMES[0]))

static bool positive_int_text(const char *s)
{
    if (!s || !*s || strlen(s) > 9)
        return false;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return atol(s) > 0;
}

static void free_constraints(struct cr_app *app)
{
    for (size_t i = 0; i < app->nconstraints; i++) {
        free((char *)app->constraints[i].field);
        free((char *)app->constraints[i].value);
    }
    free(app->constraints);
    app->constraints = NULL;
    app->nconstraints = 0;
}

/* One [field, OPERATOR(, value)]; true when it is valid (then *out is filled). */
static bool parse_constraint(struct pctx *c, const json_t *v, const char *path,
                             struct cr_place_constraint *out)
{
    if (!as_array(c, v, path))
        return false;
    size_t n = json_array_size(v);
    const char *parts[3] = {NULL, NULL, NULL};
    char p[PATH_MAX_LEN];
    bool ok = true;
    for (size_t i = 0; i < n && i < 3; i++)
        ok = as_string(c, json_array_get(v, i), jpi(p, sizeof(p), path, i), &parts[i]) && ok;
    if (!ok)
        return false;
    if (n < 2 || n > 3) {
        invalid(c, path,
                "a constraint is [field, OPERATOR] or [field, OPERATOR, value], got %zu "
                "elements",
                n);
        return false;
    }
    const char *fieldname = parts[0], *opname = parts[1], *value = parts[2];
    if (!*fieldname) {
        invalid(c, path, "constraint field must not be empty");
        return false;
    }
    size_t op = 0;
    while (op < NOPS && strcmp(OP_NAMES[op], opname) != 0)
        op++;
    if (op == NOPS) {
        invalid(c, path,
                "unknown constraint operator '%s' (UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, "
                "MAX_PER or IS)",
                opname);
        return false;
    }
    switch ((enum cr_place_op)op) {
    case CR_PLACE_UNIQUE:
        if (value) {
            invalid(c, path, "UNIQUE takes no value");
            return false;
        }
        break;
    case CR_PLACE_CLUSTER:
        break;
    case CR_PLACE_GROUP_BY:
        if (value && !positive_int_text(value)) {
            invalid(c, path, "GROUP_BY value '%s' must be a positive integer", value);
            return false;
        }
        break;
    case CR_PLACE_MAX_PER:
        if (!positive_int_text(value)) {
            invalid(c, path, "MAX_PER needs a positive integer value, got '%s'",
                    value ? value : "nothing");
            return false;
        }
        break;
    case CR_PLACE_LIKE:
    case CR_PLACE_UNLIKE: {
        if (!value) {
            invalid(c, path, "%s needs a regular expression value", opname);
            return false;
        }
        regex_t re;
        if (regcomp(&re, value, REG_EXTENDED | REG_NOSUB) != 0) {
            invalid(c, path, "%s value '%s' is not a valid regular expression", opname, value);
            return false;
        }
        regfree(&re);
        break;
    }
    case CR_PLACE_IS:
        if (!value) {
            invalid(c, path, "IS needs a value");
            return false;
        }
        break;
    }
    out->field = cr_xstrdup(strcmp(fieldname, "@hostname") == 0 ? "hostname" : fieldname);
    out->op = (enum cr_place_op)op;
    out->value = cr_xstrdup(value);
    return true;
}

static void parse_constraints(struct pctx *c, const json_t *v, struct cr_app *app)
{
    const char *path = "/constraints";
    if (!as_array(c, v, path))
        return;
    free_constraints(app);
    size_t n = json_array_size(v);
    if (!n)
        return;
    app->constraints = cr_xcalloc(n, sizeof(*app->constraints));
    char p[PATH_MAX_LEN];
    for (size_t i = 0; i < n; i++)
        if (parse_constraint(c, json_array_get(v, i), jpi(p, sizeof(p), path, i),
                             &app->constraints[app->nconstraints]))
            app->nconstraints++;
}

static void free_ports(struct cr_app *app)
{
    for (size_t i = 0; i < app->nports; i++) {
        free(app->ports[i].name);
        free(app->ports[i].protocol);
        kv_free(app->ports[i].labels, app->ports[i].nlabels);
    }
    free(app->ports);
    app->ports = NULL;
    app->nports = 0;
}

static void check_port_number(struct pctx *c, int64_t port, const char *path)
{
    if (port < 0 || port > 65535)
        invalid(c, path, "got %lld, expected 0 to 65535", (long long)port);
}

/* portDefinitions (pd) or the legacy ports (legacy), either may be NULL. */
static void parse_ports(struct pctx *c, const json_t *pd, const json_t *legacy, struct cr_app *app)
{
    bool pd_ok = !pd || as_array(c, pd, "/portDefinitions");
    bool legacy_ok = !legacy || as_array(c, legacy, "/ports");
    if (!pd_ok || !legacy_ok)
        return;
    if (pd && legacy && json_array_size(pd) && json_array_size(legacy)) {
        invalid(c, "/ports", "set either ports or portDefinitions, not both");
        return;
    }
    const json_t *use = pd && (json_array_size(pd) || !legacy) ? pd : legacy;
    const char *base = use == pd ? "/portDefinitions" : "/ports";
    free_ports(app);
    size_t n = json_array_size(use);
    if (!n)
        return;
    app->ports = cr_xcalloc(n, sizeof(*app->ports));
    char p[PATH_MAX_LEN], q[PATH_MAX_LEN];
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(use, i);
        struct cr_app_port *port = &app->ports[app->nports];
        jpi(p, sizeof(p), base, i);
        if (use == legacy) {
            if (!as_int(c, e, p, &port->port))
                continue;
            check_port_number(c, port->port, p);
            port->protocol = cr_xstrdup("tcp");
            app->nports++;
            continue;
        }
        if (!as_object(c, e, p))
            continue;
        opt_int(c, e, "port", p, &port->port);
        check_port_number(c, port->port, jp(q, sizeof(q), p, "port"));
        opt_string(c, e, "protocol", p, &port->protocol);
        if (!port->protocol)
            port->protocol = cr_xstrdup("tcp");
        else if (strcmp(port->protocol, "tcp") != 0 && strcmp(port->protocol, "udp") != 0 &&
                 strcmp(port->protocol, "udp,tcp") != 0)
            invalid(c, jp(q, sizeof(q), p, "protocol"), "protocol '%s' is not tcp, udp or udp,tcp",
                    port->protocol);
        opt_string(c, e, "name", p, &port->name);
        if (port->name) {
            if (!*port->name)
                invalid(c, jp(q, sizeof(q), p, "name"), "port name must not be empty");
            for (size_t j = 0; j < app->nports; j++)
                if (app->ports[j].name && strcmp(app->ports[j].name, port->name) == 0)
                    invalid(c, jp(q, sizeof(q), p, "name"), "port name '%s' is used twice",
                            port->name);
        }
        json_t *labels = field(e, "labels");
        if (labels)
            parse_kv(c, labels, jp(q, sizeof(q), p, "labels"), false, &port->labels,
                     &port->nlabels);
        app->nports++;
    }
}

static const char *const HC_NAMES[] = {
    [CR_APP_HC_HTTP] = "HTTP",
    [CR_APP_HC_HTTPS] = "HTTPS",
    [CR_APP_HC_TCP] = "TCP",
    [CR_APP_HC_COMMAND] = "COMMAND",
    [CR_APP_HC_MESOS_HTTP] = "MESOS_HTTP",
    [CR_APP_HC_MESOS_HTTPS] = "MESOS_HTTPS",
    [CR_APP_HC_MESOS_TCP] = "MESOS_TCP",
};
#define NHC (sizeof(HC_NAMES) / sizeof(HC_NAMES[0]))

static bool hc_is_http(enum cr_app_hc_protocol p)
{
    return p == CR_APP_HC_HTTP || p == CR_APP_HC_HTTPS || p == CR_APP_HC_MESOS_HTTP ||
           p == CR_APP_HC_MESOS_HTTPS;
}

static void health_defaults(struct cr_app_health *h)
{
    memset(h, 0, sizeof(*h));
    h->protocol = CR_APP_HC_HTTP;
    h->port = -1;
    h->port_index = 0;
    h->grace_period_s = 300;
    h->interval_s = 60;
    h->timeout_s = 20;
    h->delay_s = 15;
    h->max_consecutive_failures = 3;
}

static void free_health(struct cr_app *app)
{
    for (size_t i = 0; i < app->nhealth_checks; i++) {
        free(app->health_checks[i].path);
        free(app->health_checks[i].command);
    }
    free(app->health_checks);
    app->health_checks = NULL;
    app->nhealth_checks = 0;
}

static void parse_health(struct pctx *c, const json_t *e, const char *p, struct cr_app_health *h)
{
    char q[PATH_MAX_LEN];
    health_defaults(h);
    char *proto = NULL;
    opt_string(c, e, "protocol", p, &proto);
    if (proto) {
        size_t k = 0;
        while (k < NHC && strcmp(HC_NAMES[k], proto) != 0)
            k++;
        if (k == NHC)
            invalid(c, jp(q, sizeof(q), p, "protocol"),
                    "unknown health check protocol '%s' (HTTP, HTTPS, TCP, COMMAND, MESOS_HTTP, "
                    "MESOS_HTTPS or MESOS_TCP)",
                    proto);
        else if (k == CR_APP_HC_HTTPS || k == CR_APP_HC_MESOS_HTTPS)
            invalid(c, jp(q, sizeof(q), p, "protocol"),
                    "%s health checks are not supported yet (the executor probes plain HTTP)",
                    proto);
        else
            h->protocol = (enum cr_app_hc_protocol)k;
        free(proto);
    }
    opt_string(c, e, "path", p, &h->path);
    if (!h->path && hc_is_http(h->protocol))
        h->path = cr_xstrdup("/");
    opt_int(c, e, "port", p, &h->port);
    opt_int(c, e, "portIndex", p, &h->port_index);
    json_t *cmd = field(e, "command");
    if (cmd && as_object(c, cmd, jp(q, sizeof(q), p, "command")))
        opt_string(c, cmd, "value", q, &h->command);
    opt_number(c, e, "gracePeriodSeconds", p, &h->grace_period_s);
    opt_number(c, e, "intervalSeconds", p, &h->interval_s);
    opt_number(c, e, "timeoutSeconds", p, &h->timeout_s);
    opt_number(c, e, "delaySeconds", p, &h->delay_s);
    opt_int(c, e, "maxConsecutiveFailures", p, &h->max_consecutive_failures);
    json_t *b = field(e, "ignoreHttp1xx");
    if (b)
        as_bool(c, b, jp(q, sizeof(q), p, "ignoreHttp1xx"), &h->ignore_http1xx);
}

static void parse_health_checks(struct pctx *c, const json_t *v, struct cr_app *app)
{
    const char *path = "/healthChecks";
    if (!as_array(c, v, path))
        return;
    free_health(app);
    size_t n = json_array_size(v);
    if (!n)
        return;
    app->health_checks = cr_xcalloc(n, sizeof(*app->health_checks));
    char p[PATH_MAX_LEN];
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        if (!as_object(c, e, jpi(p, sizeof(p), path, i)))
            continue;
        parse_health(c, e, p, &app->health_checks[app->nhealth_checks++]);
    }
}

static void free_container(struct cr_app *app)
{
    free(app->container_type);
    free(app->image);
    for (size_t i = 0; i < app->nvolumes; i++) {
        free(app->volumes[i].container_path);
        free(app->volumes[i].host_path);
    }
    free(app->volumes);
    app->container_type = NULL;
    app->image = NULL;
    app->volumes = NULL;
    app->nvolumes = 0;
}

static void parse_volume(struct pctx *c, const json_t *e, const char *p, struct cr_app *app)
{
    char q[PATH_MAX_LEN];
    if (!as_object(c, e, p))
        return;
    if (field(e, "persistent")) {
        invalid(c, jp(q, sizeof(q), p, "persistent"), "persistent volumes are not supported yet");
        return;
    }
    if (field(e, "external")) {
        invalid(c, jp(q, sizeof(q), p, "external"), "external volumes are not supported yet");
        return;
    }
    char *cp = NULL, *hp = NULL, *mode = NULL;
    opt_string(c, e, "containerPath", p, &cp);
    opt_string(c, e, "hostPath", p, &hp);
    opt_string(c, e, "mode", p, &mode);
    bool ok = true;
    if (!cp || !*cp) {
        invalid(c, jp(q, sizeof(q), p, "containerPath"), "containerPath is required");
        ok = false;
    }
    if (!hp || !*hp) {
        invalid(c, jp(q, sizeof(q), p, "hostPath"), "hostPath is required");
        ok = false;
    } else if (hp[0] != '/') {
        invalid(c, jp(q, sizeof(q), p, "hostPath"), "hostPath '%s' is not an absolute path", hp);
        ok = false;
    }
    if (!mode || (strcmp(mode, "RO") != 0 && strcmp(mode, "RW") != 0)) {
        invalid(c, jp(q, sizeof(q), p, "mode"), "mode must be RO or RW");
        ok = false;
    }
    if (ok) {
        struct cr_app_volume *vol = &app->volumes[app->nvolumes++];
        vol->container_path = cp;
        vol->host_path = hp;
        vol->is_read_only = strcmp(mode, "RO") == 0;
        cp = hp = NULL;
    }
    free(cp);
    free(hp);
    free(mode);
}

static void parse_container(struct pctx *c, const json_t *v, struct cr_app *app)
{
    const char *path = "/container";
    if (!as_object(c, v, path))
        return;
    free_container(app);
    char q[PATH_MAX_LEN];
    opt_string(c, v, "type", path, &app->container_type);
    if (app->container_type && strcmp(app->container_type, "MESOS") != 0 &&
        strcmp(app->container_type, "DOCKER") != 0)
        invalid(c, "/container/type", "container type '%s' is not MESOS or DOCKER",
                app->container_type);
    json_t *docker = field(v, "docker");
    if (docker && as_object(c, docker, "/container/docker")) {
        opt_string(c, docker, "image", "/container/docker", &app->image);
        if (app->image && !*app->image) {
            free(app->image);
            app->image = NULL;
        }
        unsupported_array(c, docker, "portMappings", "/container/docker",
                          "port mappings are"); /* host networking only */
        const char *net = NULL;
        json_t *nv = field(docker, "network");
        if (nv && as_string(c, nv, "/container/docker/network", &net) && strcmp(net, "HOST") != 0)
            invalid(c, "/container/docker/network",
                    "network '%s' is not supported yet (host networking only)", net);
    }
    unsupported_array(c, v, "portMappings", path, "port mappings are (host networking only)");
    json_t *vols = field(v, "volumes");
    if (vols && as_array(c, vols, "/container/volumes")) {
        size_t n = json_array_size(vols);
        if (n)
            app->volumes = cr_xcalloc(n, sizeof(*app->volumes));
        for (size_t i = 0; i < n; i++)
            parse_volume(c, json_array_get(vols, i), jpi(q, sizeof(q), "/container/volumes", i),
                         app);
        if (!app->nvolumes) {
            free(app->volumes);
            app->volumes = NULL;
        }
    }
    if (!app->container_type)
        app->container_type = cr_xstrdup(app->image ? "DOCKER" : "MESOS");
}

static void parse_networks(struct pctx *c, const json_t *v)
{
    if (!as_array(c, v, "/networks"))
        return;
    char p[PATH_MAX_LEN], q[PATH_MAX_LEN];
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *e = json_array_get(v, i);
        if (!as_object(c, e, jpi(p, sizeof(p), "/networks", i)))
            continue;
        char *mode = NULL;
        opt_string(c, e, "mode", p, &mode);
        if (mode && strcmp(mode, "host") != 0)
            invalid(c, jp(q, sizeof(q), p, "mode"),
                    "network mode '%s' is not supported yet (host networking only)", mode);
        free(mode);
    }
}

static void parse_unreachable(struct pctx *c, const json_t *v, struct cr_app *app)
{
    const char *path = "/unreachableStrategy";
    app->inactive_after_s = 5;
    app->expunge_after_s = 60;
    if (json_is_string(v)) {
        if (strcmp(json_string_value(v), "disabled") == 0)
            app->unreachable_disabled = true;
        else
            invalid(c, path, "unreachableStrategy must be \"disabled\" or an object");
        return;
    }
    if (!as_object(c, v, path))
        return;
    app->unreachable_disabled = false;
    opt_number(c, v, "inactiveAfterSeconds", path, &app->inactive_after_s);
    opt_number(c, v, "expungeAfterSeconds", path, &app->expunge_after_s);
}

/* A number that replaces *out when present. */
static void top_number(struct pctx *c, const json_t *obj, const char *key, double *out)
{
    opt_number(c, obj, key, "", out);
}

/* An amount in thousandths (cpus, mem, disk). */
static void top_amount(struct pctx *c, const json_t *obj, const char *key, int64_t *out)
{
    char p[PATH_MAX_LEN];
    double d;
    json_t *v = field(obj, key);
    if (!v || !as_number(c, v, jp(p, sizeof(p), "", key), &d))
        return;
    if (d < 0)
        invalid(c, p, "got %g, expected 0 or more", d);
    else if (d > MAX_AMOUNT)
        invalid(c, p, "got %g, which is too large", d);
    else
        *out = cr_milli_from_double(d);
}

/* Read every known top-level field of obj into app (which holds the defaults or the base). */
static void apply_json(struct pctx *c, const json_t *obj, struct cr_app *app, char **raw_id)
{
    json_t *v;
    const char *s;
    char p[PATH_MAX_LEN];

    if ((v = field(obj, "id")) && as_string(c, v, "/id", &s)) {
        free(*raw_id);
        *raw_id = cr_xstrdup(s);
    }
    /* cmd and args: setting one form drops the other (a PATCH that switches forms). */
    json_t *cmd = field(obj, "cmd"), *args = field(obj, "args");
    bool cmd_ok = cmd && as_string(c, cmd, "/cmd", &s);
    if (cmd_ok) {
        free(app->cmd);
        app->cmd = cr_xstrdup(s);
    }
    if (args)
        parse_strv(c, args, "/args", &app->args, &app->nargs);
    if (cmd_ok && !(args && json_array_size(args))) {
        strv_free(app->args, app->nargs);
        app->args = NULL;
        app->nargs = 0;
    }
    if (args && json_array_size(args) && !cmd) {
        free(app->cmd);
        app->cmd = NULL;
    }
    opt_string(c, obj, "user", "", &app->user);
    if ((v = field(obj, "env")))
        parse_kv(c, v, "/env", true, &app->env, &app->nenv);
    if ((v = field(obj, "labels")))
        parse_kv(c, v, "/labels", false, &app->labels, &app->nlabels);

    int64_t n;
    if ((v = field(obj, "instances")) && as_int(c, v, "/instances", &n)) {
        if (n < 0)
            invalid(c, "/instances", "got %lld, expected 0 or more", (long long)n);
        else
            app->instances = n;
    }
    top_amount(c, obj, "cpus", &app->cpus);
    top_amount(c, obj, "mem", &app->mem);
    top_amount(c, obj, "disk", &app->disk);
    if ((v = field(obj, "gpus")) && as_int(c, v, "/gpus", &n)) {
        if (n < 0)
            invalid(c, "/gpus", "got %lld, expected 0 or more", (long long)n);
        else if (n > 1000000)
            invalid(c, "/gpus", "got %lld, which is too large", (long long)n);
        else
            app->gpus = n * 1000;
    }
    if ((v = field(obj, "executor")) && as_string(c, v, "/executor", &s) && *s &&
        strcmp(s, "//cmd") != 0)
        invalid(c, "/executor", "custom executors are not supported (use \"\" or \"//cmd\")");
    if ((v = field(obj, "constraints")))
        parse_constraints(c, v, app);
    json_t *pd = field(obj, "portDefinitions"), *legacy = field(obj, "ports");
    if (pd || legacy)
        parse_ports(c, pd, legacy, app);
    if ((v = field(obj, "requirePorts")))
        as_bool(c, v, "/requirePorts", &app->require_ports);
    if ((v = field(obj, "healthChecks")))
        parse_health_checks(c, v, app);

    unsupported_array(c, obj, "uris", "", "fetching URIs is");
    unsupported_array(c, obj, "fetch", "", "fetching URIs is");
    unsupported_array(c, obj, "readinessChecks", "", "readiness checks are");
    unsupported_array(c, obj, "dependencies", "", "dependencies are");
    if ((v = field(obj, "secrets")) && as_object(c, v, "/secrets") && json_object_size(v))
        invalid(c, "/secrets", "secrets are not supported");

    if ((v = field(obj, "upgradeStrategy")) && as_object(c, v, "/upgradeStrategy")) {
        app->minimum_health_capacity = 1.0;
        app->maximum_over_capacity = 1.0;
        app->progress_deadline_s = 600;
        opt_number(c, v, "minimumHealthCapacity", "/upgradeStrategy",
                   &app->minimum_health_capacity);
        opt_number(c, v, "maximumOverCapacity", "/upgradeStrategy", &app->maximum_over_capacity);
        opt_number(c, v, "progressDeadlineSeconds", "/upgradeStrategy", &app->progress_deadline_s);
    }
    top_number(c, obj, "backoffSeconds", &app->backoff_s);
    top_number(c, obj, "backoffFactor", &app->backoff_factor);
    top_number(c, obj, "maxLaunchDelaySeconds", &app->max_launch_delay_s);
    if ((v = field(obj, "unreachableStrategy")))
        parse_unreachable(c, v, app);
    if ((v = field(obj, "killSelection")) && as_string(c, v, "/killSelection", &s)) {
        if (strcmp(s, "YOUNGEST_FIRST") == 0)
            app->kill_selection = CR_APP_KILL_YOUNGEST_FIRST;
        else if (strcmp(s, "OLDEST_FIRST") == 0)
            app->kill_selection = CR_APP_KILL_OLDEST_FIRST;
        else
            invalid(c, "/killSelection", "killSelection '%s' is not YOUNGEST_FIRST or OLDEST_FIRST",
                    s);
    }
    double grace = 0;
    if ((v = field(obj, "taskKillGracePeriodSeconds")) &&
        as_number(c, v, "/taskKillGracePeriodSeconds", &grace)) {
        if (grace < 0)
            invalid(c, "/taskKillGracePeriodSeconds", "got %g, expected 0 or more", grace);
        else
            app->kill_grace_period_s = grace;
    }
    if ((v = field(obj, "container")))
        parse_container(c, v, app);
    else if (json_is_null(json_object_get(obj, "container")))
        free_container(app);
    if ((v = field(obj, "networks")))
        parse_networks(c, v);
    if ((v = field(obj, "acceptedResourceRoles"))) {
        parse_strv(c, v, "/acceptedResourceRoles", &app->accepted_roles, &app->naccepted_roles);
        struct cr_err e;
        for (size_t i = 0; i < app->naccepted_roles; i++)
            if (cr_validate_role(app->accepted_roles[i], &e) < 0)
                invalid(c, jpi(p, sizeof(p), "/acceptedResourceRoles", i), "invalid role '%s': %s",
                        app->accepted_roles[i], e.msg);
    }
    if ((v = field(obj, "role")) && as_string(c, v, "/role", &s)) {
        struct cr_err e;
        free(app->role);
        app->role = NULL;
        if (cr_validate_role(s, &e) < 0)
            invalid(c, "/role", "invalid role '%s': %s", s, e.msg);
        else if (strcmp(s, "*") != 0)
            app->role = cr_xstrdup(s);
    }
}

/* The checks that need the merged app. */
static void validate(struct pctx *c, struct cr_app *app, const char *raw_id)
{
    char p[PATH_MAX_LEN];
    if (!raw_id) {
        invalid(c, "/id", "id is required");
    } else {
        char *id = cr_marathon_app_id(raw_id);
        if (!id)
            invalid(c, "/id",
                    "'%s' is not a valid app id: path segments are lowercase letters, digits, "
                    "'-' and '.', and the id is not '/'",
                    raw_id);
        free(app->id);
        app->id = id;
    }
    if (app->cmd && app->args)
        invalid(c, "/cmd", "set either cmd or args, not both");
    else if (!app->cmd && !app->args && !app->image)
        invalid(c, "/cmd", "one of cmd or args is required (or a container image)");
    else if (app->cmd && !*app->cmd)
        invalid(c, "/cmd", "cmd must not be empty");

    if (app->image)
        invalid(c, "/container/docker/image",
                "container images are not supported yet (Corral runs commands on the host "
                "filesystem)");
    else if (app->container_type && strcmp(app->container_type, "DOCKER") == 0)
        invalid(c, "/container/docker/image", "a DOCKER container needs docker.image");

    for (size_t i = 0; app->require_ports && i < app->nports; i++)
        if (app->ports[i].port == 0) {
            invalid(c, "/requirePorts", "requirePorts needs every port to be given (port %zu is 0)",
                    i);
            break;
        }

    if (app->nhealth_checks > 1)
        invalid(c, "/healthChecks", "Corral runs one health check per app, got %zu",
                app->nhealth_checks);
    for (size_t i = 0; i < app->nhealth_checks; i++) {
        const struct cr_app_health *h = &app->health_checks[i];
        char base[64];
        jpi(base, sizeof(base), "/healthChecks", i);
        if (h->protocol == CR_APP_HC_COMMAND) {
            if (!h->command || !*h->command)
                invalid(c, jp(p, sizeof(p), base, "command"),
                        "a COMMAND health check needs command.value");
        } else if (h->port >= 0) {
            if (h->port < 1 || h->port > 65535)
                invalid(c, jp(p, sizeof(p), base, "port"), "got %lld, expected 1 to 65535",
                        (long long)h->port);
        } else if (h->port_index < 0 || (uint64_t)h->port_index >= app->nports) {
            invalid(c, jp(p, sizeof(p), base, "portIndex"),
                    "portIndex %lld is out of range: the app has %zu port(s)",
                    (long long)h->port_index, app->nports);
        }
        if (hc_is_http(h->protocol) && h->path && h->path[0] != '/')
            invalid(c, jp(p, sizeof(p), base, "path"), "path '%s' must start with '/'", h->path);
        const struct {
            const char *name;
            double v;
        } secs[] = {{"gracePeriodSeconds", h->grace_period_s},
                    {"intervalSeconds", h->interval_s},
                    {"timeoutSeconds", h->timeout_s},
                    {"delaySeconds", h->delay_s},
                    {"maxConsecutiveFailures", (double)h->max_consecutive_failures}};
        for (size_t k = 0; k < sizeof(secs) / sizeof(secs[0]); k++)
            if (secs[k].v < 0)
                invalid(c, jp(p, sizeof(p), base, secs[k].name), "got %g, expected 0 or more",
                        secs[k].v);
    }

    const struct {
        const char *path;
        double v;
    } fractions[] = {{"/upgradeStrategy/minimumHealthCapacity", app->minimum_health_capacity},
                     {"/upgradeStrategy/maximumOverCapacity", app->maximum_over_capacity}};
    bool fractions_ok = true;
    for (size_t k = 0; k < 2; k++) {
        if (fractions[k].v > 1) {
            invalid(c, fractions[k].path, "is greater than 1");
            fractions_ok = false;
        } else if (fractions[k].v < 0) {
            invalid(c, fractions[k].path, "is less than 0");
            fractions_ok = false;
        }
    }
    if (fractions_ok && app->minimum_health_capacity == 1 && app->maximum_over_capacity == 0)
        invalid(c, "/upgradeStrategy",
                "minimumHealthCapacity 1 with maximumOverCapacity 0 leaves no room for a rolling "
                "restart: lower minimumHealthCapacity or raise maximumOverCapacity");
    if (!(app->progress_deadline_s > 0))
        invalid(c, "/upgradeStrategy/progressDeadlineSeconds", "got %g, expected more than 0",
                app->progress_deadline_s);

    if (app->backoff_s < 0)
        invalid(c, "/backoffSeconds", "got %g, expected 0 or more", app->backoff_s);
    if (app->backoff_factor < 1)
        invalid(c, "/backoffFactor", "got %g, expected 1 or more", app->backoff_factor);
    if (app->max_launch_delay_s < 0)
        invalid(c, "/maxLaunchDelaySeconds", "got %g, expected 0 or more", app->max_launch_delay_s);
    if (!app->unreachable_disabled) {
        if (app->inactive_after_s < 0)
            invalid(c, "/unreachableStrategy/inactiveAfterSeconds", "got %g, expected 0 or more",
                    app->inactive_after_s);
        if (app->expunge_after_s < 0)
            invalid(c, "/unreachableStrategy/expungeAfterSeconds", "got %g, expected 0 or more",
                    app->expunge_after_s);
        if (app->inactive_after_s > app->expunge_after_s)
            invalid(c, "/unreachableStrategy",
                    "inactiveAfterSeconds (%g) must not be greater than expungeAfterSeconds (%g)",
                    app->inactive_after_s, app->expunge_after_s);
    }

    app->has_placement_label = false;
    for (size_t i = 0; i < app->nlabels; i++) {
        if (strcmp(app->labels[i].name, "corral.placement") != 0)
            continue;
        const char *val = app->labels[i].value;
        if (strcmp(val, "spread") == 0) {
            app->placement = CR_PLACE_SPREAD;
            app->has_placement_label = true;
        } else if (strcmp(val, "binpack") == 0) {
            app->placement = CR_PLACE_BINPACK;
            app->has_placement_label = true;
        } else {
            invalid(c, "/labels/corral.placement", "corral.placement '%s' is not spread or binpack",
                    val);
        }
    }
}

static json_t *error_body(const char *message, json_t *details)
{
    json_t *b = cr_mj_object_new();
    cr_mj_set(b, "message", cr_mj_str(message));
    cr_mj_set(b, "details", json_incref(details));
    return b;
}

int cr_marathon_parse_app(const json_t *obj, const char *path_id, const struct cr_app *base,
                          struct cr_app *out, struct cr_marathon_err *merr)
{
    struct pctx c = {cr_mj_array_new(), cr_mj_array_new()};
    struct cr_app app;
    cr_app_init(&app);
    if (base)
        cr_app_copy(&app, base);
    char *raw_id = NULL;
    if (!json_is_object(obj)) {
        shape_err(&c, "/", "jsobject");
    } else {
        apply_json(&c, obj, &app, &raw_id);
        /* Marathon gives a new app without ports or portDefinitions one port ("default"),
         * so $PORT0 always exists; an explicit [] means none. */
        if (!base && !field(obj, "portDefinitions") && !field(obj, "ports")) {
            app.ports = cr_xcalloc(1, sizeof(*app.ports));
            app.ports[0].name = cr_xstrdup("default");
            app.ports[0].protocol = cr_xstrdup("tcp");
            app.nports = 1;
        }
        if (!raw_id && path_id)
            raw_id = cr_xstrdup(path_id);
        if (!raw_id && base && base->id)
            raw_id = cr_xstrdup(base->id);
    }
    int status = 0;
    json_t *details = NULL;
    if (json_array_size(c.shape)) {
        status = 400;
        details = c.shape;
    } else {
        validate(&c, &app, raw_id);
        if (json_array_size(c.invalid)) {
            status = 422;
            details = c.invalid;
        }
    }
    free(raw_id);
    cr_app_release(out);
    if (status) {
        cr_marathon_err_release(merr);
        merr->status = status;
        merr->body = error_body(status == 400 ? "Invalid JSON" : "Object is not valid", details);
        cr_app_release(&app);
    } else {
        *out = app;
    }
    json_decref(c.shape);
    json_decref(c.invalid);
    return status ? -EINVAL : 0;
}

/* ---------------------------------------------------------------- App JSON out */

/* An integral value as a JSON integer (Marathon prints 1, not 1.0), else a real. */
static json_t *num(double d)
{
    if (d == floor(d) && fabs(d) < 9e15)
        return cr_mj_int((int64_t)d);
    return cr_mj_real(d);
}

static json_t *milli_json(int64_t milli)
{
    return num(cr_milli_to_double(milli));
}

static json_t *kv_json(const struct cr_app_kv *kv, size_t n)
{
    json_t *o = cr_mj_object_new();
    for (size_t i = 0; i < n; i++)
        cr_mj_set(o, kv[i].name, cr_mj_str(kv[i].value));
    return o;
}

static json_t *strv_json(char *const *v, size_t n)
{
    json_t *a = cr_mj_array_new();
    for (size_t i = 0; i < n; i++)
        cr_mj_append(a, cr_mj_str(v[i]));
    return a;
}

static json_t *health_json(const struct cr_app_health *h)
{
    json_t *o = cr_mj_object_new();
    cr_mj_set(o, "protocol", cr_mj_str(HC_NAMES[h->protocol]));
    if (h->path)
        cr_mj_set(o, "path", cr_mj_str(h->path));
    cr_mj_set(o, "portIndex", cr_mj_int(h->port_index));
    if (h->port >= 0)
        cr_mj_set(o, "port", cr_mj_int(h->port));
    if (h->command) {
        json_t *cmd = cr_mj_object_new();
        cr_mj_set(cmd, "value", cr_mj_str(h->command));
        cr_mj_set(o, "command", cmd);
    }
    cr_mj_set(o, "gracePeriodSeconds", num(h->grace_period_s));
    cr_mj_set(o, "intervalSeconds", num(h->interval_s));
    cr_mj_set(o, "timeoutSeconds", num(h->timeout_s));
    cr_mj_set(o, "delaySeconds", num(h->delay_s));
    cr_mj_set(o, "maxConsecutiveFailures", cr_mj_int(h->max_consecutive_failures));
    cr_mj_set(o, "ignoreHttp1xx", cr_mj_bool_new(h->ignore_http1xx));
    return o;
}

static json_t *container_json(const struct cr_app *app)
{
    if (!app->container_type && !app->image && !app->nvolumes)
        return json_null();
    json_t *o = cr_mj_object_new();
    cr_mj_set(o, "type", cr_mj_str(app->container_type ? app->container_type : "MESOS"));
    if (app->image) {
        json_t *d = cr_mj_object_new();
        cr_mj_set(d, "image", cr_mj_str(app->image));
        cr_mj_set(o, "docker", d);
    }
    json_t *vols = cr_mj_array_new();
    for (size_t i = 0; i < app->nvolumes; i++) {
        json_t *v = cr_mj_object_new();
        cr_mj_set(v, "containerPath", cr_mj_str(app->volumes[i].container_path));
        cr_mj_set(v, "hostPath", cr_mj_str(app->volumes[i].host_path));
        cr_mj_set(v, "mode", cr_mj_str(app->volumes[i].is_read_only ? "RO" : "RW"));
        cr_mj_append(vols, v);
    }
    cr_mj_set(o, "volumes", vols);
    return o;
}

static json_t *str_or_null(const char *s)
{
    return s ? cr_mj_str(s) : json_null();
}

json_t *cr_marathon_app_json(const struct cr_app *app)
{
    json_t *o = cr_mj_object_new();
    cr_mj_set(o, "id", str_or_null(app->id));
    cr_mj_set(o, "cmd", str_or_null(app->cmd));
    cr_mj_set(o, "args", strv_json(app->args, app->nargs));
    cr_mj_set(o, "user", str_or_null(app->user));
    cr_mj_set(o, "env", kv_json(app->env, app->nenv));
    cr_mj_set(o, "instances", cr_mj_int(app->instances));
    cr_mj_set(o, "cpus", milli_json(app->cpus));
    cr_mj_set(o, "mem", milli_json(app->mem));
    cr_mj_set(o, "disk", milli_json(app->disk));
    cr_mj_set(o, "gpus", milli_json(app->gpus));
    cr_mj_set(o, "executor", cr_mj_str(""));
    json_t *cons = cr_mj_array_new();
    for (size_t i = 0; i < app->nconstraints; i++) {
        json_t *c = cr_mj_array_new();
        cr_mj_append(c, cr_mj_str(app->constraints[i].field));
        cr_mj_append(c, cr_mj_str(OP_NAMES[app->constraints[i].op]));
        if (app->constraints[i].value)
            cr_mj_append(c, cr_mj_str(app->constraints[i].value));
        cr_mj_append(cons, c);
    }
    cr_mj_set(o, "constraints", cons);
    cr_mj_set(o, "uris", cr_mj_array_new());
    cr_mj_set(o, "fetch", cr_mj_array_new());
    cr_mj_set(o, "storeUrls", cr_mj_array_new());
    cr_mj_set(o, "backoffSeconds", num(app->backoff_s));
    cr_mj_set(o, "backoffFactor", num(app->backoff_factor));
    cr_mj_set(o, "maxLaunchDelaySeconds", num(app->max_launch_delay_s));
    cr_mj_set(o, "container", container_json(app));
    json_t *hcs = cr_mj_array_new();
    for (size_t i = 0; i < app->nhealth_checks; i++)
        cr_mj_append(hcs, health_json(&app->health_checks[i]));
    cr_mj_set(o, "healthChecks", hcs);
    cr_mj_set(o, "readinessChecks", cr_mj_array_new());
    cr_mj_set(o, "dependencies", cr_mj_array_new());
    json_t *us = cr_mj_object_new();
    cr_mj_set(us, "minimumHealthCapacity", num(app->minimum_health_capacity));
    cr_mj_set(us, "maximumOverCapacity", num(app->maximum_over_capacity));
    cr_mj_set(us, "progressDeadlineSeconds", num(app->progress_deadline_s));
    cr_mj_set(o, "upgradeStrategy", us);
    cr_mj_set(o, "labels", kv_json(app->labels, app->nlabels));
    cr_mj_set(o, "acceptedResourceRoles", strv_json(app->accepted_roles, app->naccepted_roles));
    cr_mj_set(o, "version", str_or_null(app->version));
    json_t *vi = cr_mj_object_new();
    cr_mj_set(vi, "lastScalingAt", str_or_null(app->last_scaling_at));
    cr_mj_set(vi, "lastConfigChangeAt", str_or_null(app->last_config_change_at));
    cr_mj_set(o, "versionInfo", vi);
    cr_mj_set(o, "killSelection",
              cr_mj_str(app->kill_selection == CR_APP_KILL_OLDEST_FIRST ? "OLDEST_FIRST"
                                                                        : "YOUNGEST_FIRST"));
    if (app->unreachable_disabled) {
        cr_mj_set(o, "unreachableStrategy", cr_mj_str("disabled"));
    } else {
        json_t *u = cr_mj_object_new();
        cr_mj_set(u, "inactiveAfterSeconds", num(app->inactive_after_s));
        cr_mj_set(u, "expungeAfterSeconds", num(app->expunge_after_s));
        cr_mj_set(o, "unreachableStrategy", u);
    }
    json_t *pds = cr_mj_array_new();
    for (size_t i = 0; i < app->nports; i++) {
        json_t *pd = cr_mj_object_new();
        cr_mj_set(pd, "port", cr_mj_int(app->ports[i].port));
        cr_mj_set(pd, "protocol",
                  cr_mj_str(app->ports[i].protocol ? app->ports[i].protocol : "tcp"));
        if (app->ports[i].name)
            cr_mj_set(pd, "name", cr_mj_str(app->ports[i].name));
        cr_mj_set(pd, "labels", kv_json(app->ports[i].labels, app->ports[i].nlabels));
        cr_mj_append(pds, pd);
    }
    cr_mj_set(o, "portDefinitions", pds);
    cr_mj_set(o, "requirePorts", cr_mj_bool_new(app->require_ports));
    json_t *nets = cr_mj_array_new();
    json_t *host = cr_mj_object_new();
    cr_mj_set(host, "mode", cr_mj_str("host"));
    cr_mj_append(nets, host);
    cr_mj_set(o, "networks", nets);
    cr_mj_set(o, "role", cr_mj_str(app->role ? app->role : "*"));
    if (app->kill_grace_period_s >= 0)
        cr_mj_set(o, "taskKillGracePeriodSeconds", num(app->kill_grace_period_s));
    return o;
}
