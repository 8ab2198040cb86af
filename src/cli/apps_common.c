/*
 * apps_common.c - the pure helpers of the app verbs (see apps_common.h): app ids, the
 * App JSON of `corral run`, the Server-Sent Events reader, the text of `corral apps` and
 * `corral why`, and deployment progress from events or polled deployment objects.
 *
 * No network, clock or environment here: tests/unit/cli/test_apps_common.c feeds
 * hand-written documents and compares the text.
 */
#include "cli/apps_common.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/util.h"
#include "cli/cli_util.h"

#define CMD_MAX_CHARS 40
#define SSE_DEFAULT_MAX (16u * 1024 * 1024)

/* ---- app ids ------------------------------------------------------------------------ */

char *cr_apps_id(const char *name)
{
    size_t len = strlen(name);
    while (len > 1 && name[len - 1] == '/')
        len--;
    if (name[0] == '/')
        return cr_xasprintf("%.*s", (int)len, name);
    return cr_xasprintf("/%.*s", (int)len, name);
}

const char *cr_apps_display_id(const char *id)
{
    if (!id)
        return "-";
    return id[0] == '/' && id[1] ? id + 1 : id;
}

void cr_apps_short_task(const char *task_id, const char *app_id, char *buf, size_t size)
{
    if (!task_id) {
        snprintf(buf, size, "-");
        return;
    }
    const char *base = app_id ? strrchr(app_id, '/') : NULL;
    base = base ? base + 1 : app_id;
    /* The task id starts with the app path, '/' written as '_', then '.'. */
    const char *id = app_id && app_id[0] == '/' ? app_id + 1 : app_id;
    size_t idlen = id ? strlen(id) : 0;
    bool prefixed = idlen > 0 && strlen(task_id) > idlen && task_id[idlen] == '.';
    for (size_t i = 0; prefixed && i < idlen; i++)
        if (task_id[i] != (id[i] == '/' ? '_' : id[i]))
            prefixed = false;
    if (!prefixed || !base || !*base) {
        snprintf(buf, size, "%s", task_id);
        return;
    }
    const char *rest = task_id + idlen + 1;
    if (strncmp(rest, "instance-", 9) == 0)
        rest += 9;
    size_t n = 0;
    while (n < 4 && isalnum((unsigned char)rest[n]))
        n++;
    if (n == 0) {
        snprintf(buf, size, "%s", task_id);
        return;
    }
    snprintf(buf, size, "%s.%.*s", base, (int)n, rest);
}

/* ---- corral run: flags -> App JSON -------------------------------------------------- */

/* "K=V" into obj; flag names the flag for errors. */
static int add_pairs(json_t *obj, const char *flag, const char *const *items, size_t n,
                     struct cr_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(items[i], '=');
        if (!eq || eq == items[i])
            return cr_err_set(err, -EINVAL, "flag --%s: '%s' is not NAME=VALUE", flag, items[i]);
        char *key = cr_xasprintf("%.*s", (int)(eq - items[i]), items[i]);
        json_object_set_new(obj, key, json_string(eq + 1));
        free(key);
    }
    return 0;
}

static const char *const operators[] = {"UNIQUE", "CLUSTER", "GROUP_BY", "LIKE",
                                        "UNLIKE", "MAX_PER", "IS"};

/* "field:OPERATOR[:value]" -> ["field", "OPERATOR"(, "value")]; the value may hold ':'. */
static int parse_constraint(const char *text, json_t **out, struct cr_err *err)
{
    const char *c1 = strchr(text, ':');
    if (!c1 || c1 == text || !c1[1])
        return cr_err_set(err, -EINVAL,
                          "flag --constraint: '%s' is not FIELD:OPERATOR[:VALUE] "
                          "(e.g. hostname:UNIQUE)",
                          text);
    const char *c2 = strchr(c1 + 1, ':');
    size_t oplen = c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1);
    char op[16];
    if (oplen >= sizeof(op))
        oplen = sizeof(op) - 1;
    for (size_t i = 0; i < oplen; i++)
        op[i] = (char)toupper((unsigned char)c1[1 + i]);
    op[oplen] = '\0';
    bool known = false;
    for (size_t i = 0; i < sizeof(operators) / sizeof(operators[0]); i++)
        known = known || strcmp(op, operators[i]) == 0;
    if (!known)
        return cr_err_set(err, -EINVAL,
                          "flag --constraint: unknown operator in '%s' (UNIQUE, CLUSTER, "
                          "GROUP_BY, LIKE, UNLIKE, MAX_PER, IS)",
                          text);
    bool needs_value = strcmp(op, "LIKE") == 0 || strcmp(op, "UNLIKE") == 0 ||
                       strcmp(op, "MAX_PER") == 0 || strcmp(op, "IS") == 0;
    if (needs_value && (!c2 || !c2[1]))
        return cr_err_set(err, -EINVAL, "flag --constraint: %s needs a value in '%s'", op, text);
    if (strcmp(op, "UNIQUE") == 0 && c2)
        return cr_err_set(err, -EINVAL, "flag --constraint: UNIQUE takes no value in '%s'", text);
    json_t *c = json_array();
    json_array_append_new(c, json_stringn(text, (size_t)(c1 - text)));
    json_array_append_new(c, json_string(op));
    if (c2 && c2[1])
        json_array_append_new(c, json_string(c2 + 1));
    *out = c;
    return 0;
}

static json_t *health_check(const char *protocol)
{
    return json_pack("{s:s, s:i, s:i, s:i, s:i, s:i}", "protocol", protocol, "gracePeriodSeconds",
                     CR_APPS_HC_GRACE_S, "intervalSeconds", CR_APPS_HC_INTERVAL_S, "timeoutSeconds",
                     CR_APPS_HC_TIMEOUT_S, "delaySeconds", CR_APPS_HC_DELAY_S,
                     "maxConsecutiveFailures", CR_APPS_HC_MAX_FAILURES);
}

/* --health -> one check; *needs_port when it probes portIndex 0. */
static int parse_health(const char *text, json_t **out, bool *needs_port, struct cr_err *err)
{
    *needs_port = false;
    json_t *hc = NULL;
    if (strcmp(text, "http") == 0 || strncmp(text, "http:", 5) == 0) {
        const char *path = text[4] == ':' ? text + 5 : "/";
        if (path[0] != '/')
            return cr_err_set(err, -EINVAL, "flag --health: the path in '%s' must start with '/'",
                              text);
        hc = health_check("MESOS_HTTP");
        json_object_set_new(hc, "path", json_string(path));
        json_object_set_new(hc, "portIndex", json_integer(0));
        *needs_port = true;
    } else if (strcmp(text, "tcp") == 0) {
        hc = health_check("MESOS_TCP");
        json_object_set_new(hc, "portIndex", json_integer(0));
        *needs_port = true;
    } else if (strncmp(text, "cmd:", 4) == 0 && text[4]) {
        hc = health_check("COMMAND");
        json_object_set_new(hc, "command", json_pack("{s:s}", "value", text + 4));
    } else {
        return cr_err_set(err, -EINVAL,
                          "flag --health: '%s' is not http[:/PATH], tcp or cmd:COMMAND", text);
    }
    *out = hc;
    return 0;
}

int cr_apps_build_app(const struct cr_apps_run_spec *spec, json_t **out, struct cr_err *err)
{
    *out = NULL;
    if (!spec->name || !*spec->name)
        return cr_err_set(err, -EINVAL, "flag --name: the app needs a name");
    for (const char *p = spec->name; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' || *p == '.' ||
              *p == '/'))
            return cr_err_set(err, -EINVAL,
                              "flag --name: '%s' may hold only lowercase letters, digits, "
                              "'-', '.' and '/'",
                              spec->name);
    if (spec->argc == 0 || !spec->argv[0][0])
        return cr_err_set(err, -EINVAL, "what should run? give a command after '--'");

    json_t *app = json_object();
    char *id = cr_apps_id(spec->name);
    json_object_set_new(app, "id", json_string(id));
    free(id);
    /* The words after "--" form one shell command line (Marathon's "cmd"), so the task's
     * shell expands $PORT0 and friends: corral run ... -- python3 -m http.server '$PORT0' */
    struct cr_buf cmd = {0};
    for (size_t i = 0; i < spec->argc; i++)
        cr_buf_printf(&cmd, "%s%s", i ? " " : "", spec->argv[i]);
    json_object_set_new(app, "cmd", json_string(cmd.data));
    cr_buf_release(&cmd);
    json_object_set_new(app, "instances", json_integer(spec->instances));
    json_object_set_new(app, "cpus", json_real(spec->cpus));
    json_object_set_new(app, "mem", json_real(spec->mem));
    json_object_set_new(app, "disk", json_real(spec->disk));

    int rc = 0;
    json_t *ports = json_array();
    for (size_t i = 0; i < spec->nports; i++) {
        char *end = NULL;
        long port = strtol(spec->ports[i], &end, 10);
        if (!*spec->ports[i] || *end || port < 0 || port > 65535) {
            rc = cr_err_set(err, -EINVAL, "flag --port: '%s' is not a port number (0 = any)",
                            spec->ports[i]);
            break;
        }
        json_array_append_new(ports, json_pack("{s:i, s:s}", "port", (int)port, "protocol", "tcp"));
    }

    json_t *env = json_object(), *labels = json_object(), *constraints = json_array();
    if (rc == 0)
        rc = add_pairs(env, "env", spec->env, spec->nenv, err);
    if (rc == 0)
        rc = add_pairs(labels, "label", spec->labels, spec->nlabels, err);
    for (size_t i = 0; rc == 0 && i < spec->nconstraints; i++) {
        json_t *c = NULL;
        rc = parse_constraint(spec->constraints[i], &c, err);
        if (rc == 0)
            json_array_append_new(constraints, c);
    }
    if (rc == 0 && spec->is_spread)
        json_object_set_new(labels, "corral.placement", json_string("spread"));
    if (rc == 0 && spec->health) {
        json_t *hc = NULL;
        bool needs_port = false;
        rc = parse_health(spec->health, &hc, &needs_port, err);
        if (rc == 0) {
            if (needs_port && json_array_size(ports) == 0)
                json_array_append_new(ports, json_pack("{s:i, s:s}", "port", 0, "protocol", "tcp"));
            json_object_set_new(app, "healthChecks", json_pack("[o]", hc));
        }
    }
    if (rc < 0) {
        json_decref(ports);
        json_decref(env);
        json_decref(labels);
        json_decref(constraints);
        json_decref(app);
        return rc;
    }
    json_object_set_new(app, "portDefinitions", ports);
    if (json_object_size(env))
        json_object_set_new(app, "env", env);
    else
        json_decref(env);
    if (json_object_size(labels))
        json_object_set_new(app, "labels", labels);
    else
        json_decref(labels);
    if (json_array_size(constraints))
        json_object_set_new(app, "constraints", constraints);
    else
        json_decref(constraints);
    *out = app;
    return 0;
}

/* ---- Server-Sent Events -------------------------------------------------------------- */

void cr_sse_init(struct cr_sse *p, size_t max_bytes)
{
    memset(p, 0, sizeof(*p));
    p->max_bytes = max_bytes ? max_bytes : SSE_DEFAULT_MAX;
}

void cr_sse_release(struct cr_sse *p)
{
    if (!p)
        return;
    cr_buf_release(&p->line);
    cr_buf_release(&p->data);
    free(p->type);
    p->type = NULL;
    p->has_data = false;
}

/* A complete line (without its end) of len bytes: act on it. */
static int sse_line(struct cr_sse *p, const char *line, size_t len, cr_sse_event_fn *fn, void *ud,
                    struct cr_err *err)
{
    if (len == 0) { /* end of a frame */
        int rc = 0;
        if (p->has_data) {
            const char *data = p->data.data ? p->data.data : "";
            size_t dlen = p->data.len;
            if (dlen > 0 && data[dlen - 1] == '\n')
                dlen--;
            if (p->data.data)
                p->data.data[dlen] = '\0';
            rc = fn(p->type ? p->type : "message", data, dlen, ud);
        }
        p->data.len = 0;
        if (p->data.data)
            p->data.data[0] = '\0';
        p->has_data = false;
        free(p->type);
        p->type = NULL;
        return rc;
    }
    if (line[0] == ':')
        return 0; /* comment */
    const char *colon = memchr(line, ':', len);
    size_t nlen = colon ? (size_t)(colon - line) : len;
    const char *value = colon ? colon + 1 : line + len;
    size_t vlen = colon ? len - nlen - 1 : 0;
    if (vlen > 0 && value[0] == ' ') {
        value++;
        vlen--;
    }
    if (nlen == 5 && memcmp(line, "event", 5) == 0) {
        free(p->type);
        p->type = cr_xasprintf("%.*s", (int)vlen, value);
    } else if (nlen == 4 && memcmp(line, "data", 4) == 0) {
        if (p->data.len + vlen + 1 > p->max_bytes)
            return cr_err_set(err, -E2BIG, "event stream frame longer than %zu bytes",
                              p->max_bytes);
        cr_buf_append(&p->data, value, vlen);
        cr_buf_append(&p->data, "\n", 1);
        p->has_data = true;
    }
    return 0; /* id, retry and unknown fields are ignored */
}

int cr_sse_feed(struct cr_sse *p, const char *buf, size_t len, cr_sse_event_fn *fn, void *ud,
                struct cr_err *err)
{
    size_t i = 0;
    while (i < len) {
        if (p->skip_lf) {
            p->skip_lf = false;
            if (buf[i] == '\n') {
                i++;
                continue;
            }
        }
        size_t j = i;
        while (j < len && buf[j] != '\r' && buf[j] != '\n')
            j++;
        if (p->line.len + (j - i) > p->max_bytes)
            return cr_err_set(err, -E2BIG, "event stream line longer than %zu bytes", p->max_bytes);
        if (j == len) { /* no line end yet: keep the piece */
            cr_buf_append(&p->line, buf + i, j - i);
            return 0;
        }
        int rc;
        if (p->line.len > 0) {
            cr_buf_append(&p->line, buf + i, j - i);
            rc = sse_line(p, p->line.data, p->line.len, fn, ud, err);
            p->line.len = 0;
            p->line.data[0] = '\0';
        } else {
            rc = sse_line(p, buf + i, j - i, fn, ud, err);
        }
        if (buf[j] == '\r')
            p->skip_lf = true;
        i = j + 1;
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- formatting ------------------------------------------------------------------------ */

double cr_apps_parse_time(const char *text)
{
    if (!text)
        return NAN;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *rest = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        return NAN;
    double frac = 0;
    if (*rest == '.') {
        char *end = NULL;
        frac = strtod(rest, &end);
        rest = end;
    }
    if (*rest != 'Z' && strcmp(rest, "+00:00") != 0)
        return NAN;
    return (double)timegm(&tm) + frac;
}

void cr_apps_fmt_clock(char *buf, size_t size, double t, double now)
{
    if (isnan(t)) {
        snprintf(buf, size, "-");
        return;
    }
    time_t a = (time_t)t, b = (time_t)now;
    struct tm ta, tb;
    localtime_r(&a, &ta);
    localtime_r(&b, &tb);
    if (ta.tm_year == tb.tm_year && ta.tm_yday == tb.tm_yday)
        strftime(buf, size, "%H:%M:%S", &ta);
    else
        strftime(buf, size, "%Y-%m-%d %H:%M:%S", &ta);
}

/* The queue entry of app_id, or NULL. */
static const json_t *queue_entry(const json_t *queue, const char *app_id)
{
    size_t i;
    json_t *e;
    json_array_foreach(cr_cli_json_array(queue, "queue"), i, e)
    {
        const char *id = cr_cli_json_str(json_object_get(e, "app"), "id");
        if (id && strcmp(id, app_id) == 0)
            return e;
    }
    return NULL;
}

/* The deployment object with id in a GET /v2/deployments array, or NULL. */
static const json_t *find_deployment(const json_t *deployments, const char *id)
{
    size_t i;
    json_t *d;
    json_array_foreach(deployments, i, d)
    {
        const char *did = cr_cli_json_str(d, "id");
        if (did && id && strcmp(did, id) == 0)
            return d;
    }
    return NULL;
}

/* "Action /app, Action /other" of a list of actions, into b; only_app limits to one app. */
static void actions_text(struct cr_buf *b, const json_t *actions, const char *only_app)
{
    size_t i, n = 0;
    json_t *a;
    json_array_foreach(actions, i, a)
    {
        const char *app = cr_cli_json_str(a, "app");
        if (only_app && app && strcmp(app, only_app) != 0)
            continue;
        const char *action = cr_cli_json_str(a, "action");
        cr_buf_printf(b, "%s%s", n++ ? ", " : "", action ? action : "?");
        if (!only_app && app)
            cr_buf_printf(b, " %s", app);
    }
}

/* Time left of a queue entry's launch delay, or 0. */
static double delay_left(const json_t *entry)
{
    const json_t *delay = json_object_get(entry, "delay");
    double left = cr_cli_json_num(delay, "timeLeftSeconds", 0);
    if (cr_cli_json_bool(delay, "overdue", false) || !(left > 0))
        return 0;
    return left;
}

/* The DEPLOYMENT cell of one app. */
static char *deployment_cell(const json_t *app, const json_t *deployments, const json_t *queue,
                             double now)
{
    struct cr_buf b = {0};
    const char *id = cr_cli_json_str(app, "id");
    size_t i;
    json_t *d;
    json_array_foreach(cr_cli_json_array(app, "deployments"), i, d)
    {
        const char *did = cr_cli_json_str(d, "id");
        const json_t *dep = find_deployment(deployments, did);
        if (b.len)
            cr_buf_puts(&b, "; ");
        if (!dep) {
            cr_buf_printf(&b, "deployment %.8s", did ? did : "?");
            continue;
        }
        cr_buf_printf(&b, "step %d/%d", (int)cr_cli_json_num(dep, "currentStep", 0),
                      (int)cr_cli_json_num(dep, "totalSteps", 0));
        struct cr_buf acts = {0};
        actions_text(&acts, cr_cli_json_array(dep, "currentActions"), id);
        if (acts.len)
            cr_buf_printf(&b, " %s", acts.data);
        cr_buf_release(&acts);
    }
    const json_t *entry = id ? queue_entry(queue, id) : NULL;
    double left = entry ? delay_left(entry) : 0;
    if (left > 0) {
        char clock[64];
        cr_apps_fmt_clock(clock, sizeof(clock), now + left, now);
        cr_buf_printf(&b, "%sdelayed until %s", b.len ? ", " : "", clock);
    }
    if (!b.len)
        cr_buf_puts(&b, "none");
    return cr_buf_steal(&b, NULL);
}

/* The command of an app, cut to CMD_MAX_CHARS characters. */
static char *cmd_cell(const json_t *app)
{
    struct cr_buf b = {0};
    const char *cmd = cr_cli_json_str(app, "cmd");
    if (cmd) {
        cr_buf_puts(&b, cmd);
    } else {
        size_t i;
        json_t *a;
        json_array_foreach(cr_cli_json_array(app, "args"), i, a)
            cr_buf_printf(&b, "%s%s", i ? " " : "", json_is_string(a) ? json_string_value(a) : "?");
    }
    if (!b.len) {
        cr_buf_release(&b);
        return cr_xstrdup("-");
    }
    /* Cut at a character boundary (UTF-8 continuation bytes do not start one). */
    size_t chars = 0, cut = b.len;
    for (size_t i = 0; i < b.len; i++) {
        if (((unsigned char)b.data[i] & 0xC0) == 0x80)
            continue;
        if (chars == CMD_MAX_CHARS - 3)
            cut = i;
        chars++;
    }
    if (chars > CMD_MAX_CHARS) {
        b.len = cut;
        b.data[cut] = '\0';
        cr_buf_puts(&b, "...");
    }
    return cr_buf_steal(&b, NULL);
}

void cr_apps_print_table(const json_t *apps, const json_t *deployments, const json_t *queue,
                         double now, FILE *out)
{
    json_t *list = cr_cli_json_array(apps, "apps");
    if (json_array_size(list) == 0) {
        fprintf(out, "no apps\n");
        return;
    }
    static const char *const headers[] = {"ID", "INSTANCES", "DEPLOYMENT", "CMD"};
    struct cr_cli_table t;
    cr_cli_table_init(&t, 4, headers, 0);
    size_t i;
    json_t *app;
    json_array_foreach(list, i, app)
    {
        char counts[128], healthy[32];
        if (json_array_size(cr_cli_json_array(app, "healthChecks")) > 0)
            snprintf(healthy, sizeof(healthy), "%d", (int)cr_cli_json_num(app, "tasksHealthy", 0));
        else
            snprintf(healthy, sizeof(healthy), "-");
        snprintf(counts, sizeof(counts), "%d/%s/%d/%d",
                 (int)cr_cli_json_num(app, "tasksRunning", 0), healthy,
                 (int)cr_cli_json_num(app, "tasksStaged", 0),
                 (int)cr_cli_json_num(app, "instances", 0));
        char *dep = deployment_cell(app, deployments, queue, now);
        char *cmd = cmd_cell(app);
        const char *cells[] = {cr_apps_display_id(cr_cli_json_str(app, "id")), counts, dep, cmd};
        cr_cli_table_add(&t, cells);
        free(dep);
        free(cmd);
    }
    cr_cli_table_print(&t, out);
    cr_cli_table_release(&t);
}

/* Requirements that are amounts of a resource: a machine fails them by being short. */
static bool is_resource(const char *req)
{
    static const char *const resources[] = {"cpus", "mem", "disk", "gpus", "ports"};
    for (size_t i = 0; i < sizeof(resources) / sizeof(resources[0]); i++)
        if (strcmp(req, resources[i]) == 0)
            return true;
    return false;
}

/* Print s with control characters shown as '?' (the text comes from the server). */
static void put_clean(const char *s, FILE *out)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, out);
}

bool cr_apps_print_why(const char *app_id, const json_t *queue, double now, FILE *out)
{
    const json_t *e = queue_entry(queue, app_id);
    if (!e)
        return false;
    int count = (int)cr_cli_json_num(e, "count", 0);
    char clock[64];
    put_clean(cr_apps_display_id(app_id), out);
    fprintf(out, ": %d instance%s waiting", count, count == 1 ? "" : "s");
    double since = cr_apps_parse_time(cr_cli_json_str(e, "since"));
    if (!isnan(since)) {
        cr_apps_fmt_clock(clock, sizeof(clock), since, now);
        fprintf(out, " since %s", clock);
    }
    fputc('\n', out);
    double left = delay_left(e);
    if (left > 0) {
        cr_apps_fmt_clock(clock, sizeof(clock), now + left, now);
        fprintf(out, "  delayed until %s (crash loop backoff)\n", clock);
    }
    const json_t *diag = json_object_get(e, "diagnosis");
    if (!json_is_object(diag)) {
        fprintf(out, "  no offer considered yet\n");
        return true;
    }
    int considered = (int)cr_cli_json_num(diag, "considered", 0);
    fprintf(out, "  %d machine%s considered\n", considered, considered == 1 ? "" : "s");
    json_t *reqs = cr_cli_json_array(diag, "requirements");
    int width = 0, shown = 0;
    size_t i;
    json_t *r;
    json_array_foreach(reqs, i, r)
    {
        const char *name = cr_cli_json_str(r, "requirement");
        int w = name ? (int)strlen(name) : 1;
        if (cr_cli_json_num(r, "failed", 0) > 0 && w > width)
            width = w;
    }
    json_array_foreach(reqs, i, r)
    {
        const char *name = cr_cli_json_str(r, "requirement");
        int failed = (int)cr_cli_json_num(r, "failed", 0);
        if (failed <= 0)
            continue; /* every machine met it */
        shown++;
        fputs("  ", out);
        put_clean(name ? name : "?", out);
        fprintf(out, "%*s  %d of %d machine%s%s\n", width - (name ? (int)strlen(name) : 1), "",
                failed, considered, considered == 1 ? "" : "s",
                name && is_resource(name) ? " short" : "");
    }
    /* The server's own summary, when the table says nothing. */
    const char *msg = cr_cli_json_str(diag, "message");
    if (shown == 0 && msg && *msg) {
        fputs("  ", out);
        put_clean(msg, out);
        fputc('\n', out);
    }
    return true;
}

void cr_apps_print_error(int status, const json_t *json, const char *raw, FILE *out)
{
    const char *msg = cr_cli_json_str(json, "message");
    fprintf(out, "%d: ", status);
    if (msg) {
        put_clean(msg, out);
    } else {
        size_t n = raw ? strcspn(raw, "\n") : 0;
        char *line = cr_xasprintf("%.*s", (int)(n > 300 ? 300 : n), raw ? raw : "");
        put_clean(*line ? line : "(no message)", out);
        free(line);
    }
    fputc('\n', out);
    size_t i, k;
    json_t *d, *e;
    json_array_foreach(cr_cli_json_array(json, "details"), i, d)
    {
        const char *path = cr_cli_json_str(d, "path");
        json_array_foreach(cr_cli_json_array(d, "errors"), k, e)
        {
            fputs("  ", out);
            put_clean(path && *path ? path : "/", out);
            fputs(": ", out);
            put_clean(json_is_string(e) ? json_string_value(e) : "?", out);
            fputc('\n', out);
        }
    }
}

/* ---- log lines of several instances ------------------------------------------------------ */

void cr_apps_prefixer_init(struct cr_apps_prefixer *p, const char *name)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->prefix, sizeof(p->prefix), "[%s] ", name);
}

void cr_apps_prefixer_write(struct cr_apps_prefixer *p, const char *data, size_t len, FILE *out)
{
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        if (!nl) {
            cr_buf_append(&p->partial, data, len);
            return;
        }
        size_t n = (size_t)(nl - data) + 1;
        fputs(p->prefix, out);
        if (p->partial.len) {
            fwrite(p->partial.data, 1, p->partial.len, out);
            p->partial.len = 0;
        }
        fwrite(data, 1, n, out);
        data += n;
        len -= n;
    }
}

void cr_apps_prefixer_flush(struct cr_apps_prefixer *p, FILE *out)
{
    if (p->partial.len == 0)
        return;
    fputs(p->prefix, out);
    fwrite(p->partial.data, 1, p->partial.len, out);
    fputc('\n', out);
    p->partial.len = 0;
}

void cr_apps_prefixer_release(struct cr_apps_prefixer *p)
{
    if (p)
        cr_buf_release(&p->partial);
}

/* ---- deployment progress --------------------------------------------------------------- */

void cr_apps_progress_init(struct cr_apps_progress *p, const char *deployment_id,
                           const char *const *app_ids)
{
    memset(p, 0, sizeof(*p));
    p->deployment_id = cr_xstrdup(deployment_id);
    p->apps = json_object();
    p->task_states = json_object();
    for (const char *const *a = app_ids; a && *a; a++)
        json_object_set_new(p->apps, *a, json_true());
}

void cr_apps_progress_release(struct cr_apps_progress *p)
{
    if (!p)
        return;
    free(p->deployment_id);
    json_decref(p->apps);
    json_decref(p->task_states);
    p->deployment_id = NULL;
    p->apps = NULL;
    p->task_states = NULL;
}

/* Learn the apps of a plan (steps[].actions[].app) or deployment (affectedApps). */
static void learn_apps(struct cr_apps_progress *p, const json_t *plan)
{
    size_t i, k;
    json_t *s, *a;
    json_array_foreach(cr_cli_json_array(plan, "steps"), i, s)
        json_array_foreach(cr_cli_json_array(s, "actions"), k, a)
    {
        const char *app = cr_cli_json_str(a, "app");
        if (app)
            json_object_set_new(p->apps, app, json_true());
    }
    json_array_foreach(cr_cli_json_array(plan, "affectedApps"), i, a) if (json_is_string(a))
        json_object_set_new(p->apps, json_string_value(a), json_true());
}

static bool is_ours(const struct cr_apps_progress *p, const char *id)
{
    return id && p->deployment_id && strcmp(id, p->deployment_id) == 0;
}

/* Print "<what>: <actions>" for a step object {actions: [...]}. */
static void print_step(const char *what, const json_t *step, FILE *out)
{
    if (!out)
        return;
    struct cr_buf b = {0};
    actions_text(&b, cr_cli_json_array(step, "actions"), NULL);
    fprintf(out, "%s", what);
    if (b.len) {
        fputs(": ", out);
        put_clean(b.data, out);
    }
    fputc('\n', out);
    cr_buf_release(&b);
}

enum cr_apps_outcome cr_apps_progress_event(struct cr_apps_progress *p, const char *type,
                                            const json_t *ev, FILE *out)
{
    if (p->outcome != CR_APPS_RUNNING)
        return p->outcome;
    /* Marathon's form {"plan": {id, steps}, "currentStep": {actions}}, or a deployment
     * object {id, steps, currentActions, currentStep: N, totalSteps}. */
    const json_t *plan = json_object_get(ev, "plan");
    bool is_flat = !json_is_object(plan);
    if (is_flat)
        plan = ev;
    const char *plan_id = cr_cli_json_str(plan, "id");
    if (strcmp(type, "deployment_info") == 0 || strcmp(type, "deployment_step_success") == 0 ||
        strcmp(type, "deployment_step_failure") == 0) {
        if (!is_ours(p, plan_id))
            return p->outcome;
        learn_apps(p, plan);
        const char *suffix = strcmp(type, "deployment_info") == 0           ? ""
                             : strcmp(type, "deployment_step_success") == 0 ? " done"
                                                                            : " failed";
        char what[64];
        if (!is_flat) {
            snprintf(what, sizeof(what), "step%s", suffix);
            print_step(what, json_object_get(ev, "currentStep"), out);
            return p->outcome;
        }
        int step = (int)cr_cli_json_num(ev, "currentStep", 0);
        snprintf(what, sizeof(what), "step %d/%d%s", step,
                 (int)cr_cli_json_num(ev, "totalSteps", 0), suffix);
        const json_t *s =
            step > 0 ? json_array_get(cr_cli_json_array(ev, "steps"), (size_t)step - 1) : NULL;
        json_t *current = json_pack("{s:O?}", "actions", json_object_get(ev, "currentActions"));
        print_step(what, s ? s : current, out);
        json_decref(current);
        if (step > 0)
            p->last_step = step; /* a poll after this need not say it again */
        return p->outcome;
    }
    if (strcmp(type, "deployment_success") == 0 || strcmp(type, "deployment_failed") == 0) {
        const char *id = cr_cli_json_str(ev, "id");
        if (!is_ours(p, id ? id : plan_id))
            return p->outcome;
        if (strcmp(type, "deployment_success") == 0) {
            p->outcome = CR_APPS_SUCCEEDED;
        } else {
            const char *reason = cr_cli_json_str(ev, "reason");
            snprintf(p->reason, sizeof(p->reason), "%s", reason ? reason : "no reason given");
            p->outcome = CR_APPS_FAILED;
        }
        return p->outcome;
    }
    if (strcmp(type, "status_update_event") == 0) {
        const char *app = cr_cli_json_str(ev, "appId");
        if (!app || !json_object_get(p->apps, app))
            return p->outcome;
        const char *task = cr_cli_json_str(ev, "taskId");
        const char *state = cr_cli_state_short(cr_cli_json_str(ev, "taskStatus"));
        const char *before = task ? cr_cli_json_str(p->task_states, task) : NULL;
        if (before && state && strcmp(before, state) == 0)
            return p->outcome; /* the same state again (a health check's update) */
        if (task && state)
            json_object_set_new(p->task_states, task, json_string(state));
        char name[128];
        cr_apps_short_task(task, app, name, sizeof(name));
        const char *host = cr_cli_json_str(ev, "host");
        fputs("  ", out);
        put_clean(name, out);
        fputc(' ', out);
        put_clean(state ? state : "?", out);
        if (host) {
            fputs(" on ", out);
            put_clean(host, out);
            json_t *ports = cr_cli_json_array(ev, "ports");
            size_t i;
            json_t *port;
            json_array_foreach(ports, i, port)
                fprintf(out, "%s%lld", i ? "," : ":", (long long)json_number_value(port));
        }
        const char *msg = cr_cli_json_str(ev, "message");
        if (msg && *msg && cr_cli_state_is_terminal(state)) {
            fputs(" (", out);
            put_clean(msg, out);
            fputc(')', out);
        }
        fputc('\n', out);
        return p->outcome;
    }
    if (strcmp(type, "instance_health_changed_event") == 0 ||
        strcmp(type, "health_status_changed_event") == 0) {
        const char *app = cr_cli_json_str(ev, "runSpecId");
        if (!app)
            app = cr_cli_json_str(ev, "appId");
        if (!app || !json_object_get(p->apps, app))
            return p->outcome;
        const char *inst = cr_cli_json_str(ev, "instanceId");
        if (!inst)
            inst = cr_cli_json_str(ev, "taskId");
        json_t *h = json_object_get(ev, "healthy");
        if (!h)
            h = json_object_get(ev, "alive");
        char name[128];
        cr_apps_short_task(inst, app, name, sizeof(name));
        fputs("  ", out);
        put_clean(name, out);
        fprintf(out, " %s\n",
                json_is_true(h)    ? "healthy"
                : json_is_false(h) ? "unhealthy"
                                   : "health unknown");
    }
    return p->outcome;
}

enum cr_apps_outcome cr_apps_progress_poll(struct cr_apps_progress *p, const json_t *dep, FILE *out)
{
    if (p->outcome != CR_APPS_RUNNING)
        return p->outcome;
    learn_apps(p, dep);
    int step = (int)cr_cli_json_num(dep, "currentStep", 0);
    if (step > 0 && step != p->last_step) {
        p->last_step = step;
        char what[64];
        snprintf(what, sizeof(what), "step %d/%d", step,
                 (int)cr_cli_json_num(dep, "totalSteps", 0));
        const json_t *s = json_array_get(cr_cli_json_array(dep, "steps"), (size_t)step - 1);
        json_t *current = json_pack("{s:O?}", "actions", json_object_get(dep, "currentActions"));
        print_step(what, s ? s : current, out);
        json_decref(current);
    }
    const char *status = cr_cli_json_str(dep, "status");
    if (!status || strcmp(status, "running") == 0)
        return p->outcome;
    if (strcmp(status, "succeeded") == 0) {
        p->outcome = CR_APPS_SUCCEEDED;
    } else if (strcmp(status, "cancelled") == 0) {
        p->outcome = CR_APPS_CANCELLED;
    } else if (strcmp(status, "rolled_back") == 0) {
        p->outcome = CR_APPS_ROLLED_BACK;
    } else {
        const char *reason = cr_cli_json_str(dep, "reason");
        snprintf(p->reason, sizeof(p->reason), "%s",
                 reason                          ? reason
                 : strcmp(status, "failed") == 0 ? "no reason given"
                                                 : status);
        p->outcome = CR_APPS_FAILED;
    }
    return p->outcome;
}

void cr_apps_outcome_text(const struct cr_apps_progress *p, char *buf, size_t size)
{
    const char *id = p->deployment_id ? p->deployment_id : "?";
    switch (p->outcome) {
    case CR_APPS_RUNNING:
        snprintf(buf, size, "deployment %s is still running", id);
        break;
    case CR_APPS_SUCCEEDED:
        snprintf(buf, size, "deployment %s succeeded", id);
        break;
    case CR_APPS_FAILED:
        snprintf(buf, size, "deployment %s failed: %s", id, p->reason);
        break;
    case CR_APPS_CANCELLED:
        snprintf(buf, size, "deployment %s was cancelled", id);
        break;
    case CR_APPS_ROLLED_BACK:
        snprintf(buf, size, "deployment %s was rolled back", id);
        break;
    }
    for (char *c = buf; *c; c++)
        if ((unsigned char)*c < 0x20)
            *c = '?';
}

const char *cr_apps_previous_version(const json_t *versions, const char *current)
{
    json_t *list = cr_cli_json_array(versions, "versions");
    size_t n = json_array_size(list);
    size_t at = 0; /* index of the current version */
    for (size_t i = 0; current && i < n; i++) {
        json_t *v = json_array_get(list, i);
        if (json_is_string(v) && strcmp(json_string_value(v), current) == 0) {
            at = i;
            break;
        }
    }
    json_t *prev = json_array_get(list, at + 1);
    return json_is_string(prev) ? json_string_value(prev) : NULL;
}
