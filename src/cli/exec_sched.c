/*
 * exec_sched.c - scheduler calls, offer fitting and status reading for `corral exec`
 * (see exec_sched.h). Pure: no I/O, no clock, no randomness.
 *
 * Resources taken from an offer are deep copies of the offer's own resource objects cut
 * to size, so whatever the master put on them (role, allocation_info, reservations)
 * comes back unchanged and the master's ACCEPT validation sees exactly what it offered.
 */
#include "cli/exec_sched.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "cli/cli_util.h"

/* Scalars are compared in thousandths, as Mesos does. */
static long long milli(double v)
{
    return llround(v * 1000.0);
}

/* A resource the task may consume: not revocable, not a persistent volume or mount disk. */
static bool usable(const json_t *res, const char *name, const char *type)
{
    const char *n = cr_cli_json_str(res, "name");
    const char *t = cr_cli_json_str(res, "type");
    if (!n || strcmp(n, name) != 0 || !t || strcmp(t, type) != 0)
        return false;
    if (json_object_get(res, "revocable") || json_object_get(res, "shared"))
        return false;
    const json_t *disk = json_object_get(res, "disk");
    if (disk && (json_object_get(disk, "persistence") || json_object_get(disk, "source")))
        return false;
    return true;
}

static double offer_scalar(const json_t *offer, const char *name)
{
    double sum = 0;
    size_t i;
    json_t *res;
    json_array_foreach(cr_cli_json_array(offer, "resources"), i, res)
    {
        if (usable(res, name, "SCALAR"))
            sum += cr_cli_json_num(json_object_get(res, "scalar"), "value", 0);
    }
    return sum;
}

/* Visit each port range of the offer's usable "ports" resources. */
typedef bool (*range_fn)(json_t *res, uint64_t begin, uint64_t end, void *ud);

static void each_port_range(const json_t *offer, range_fn fn, void *ud)
{
    size_t i, k;
    json_t *res, *range;
    json_array_foreach(cr_cli_json_array(offer, "resources"), i, res)
    {
        if (!usable(res, "ports", "RANGES"))
            continue;
        json_array_foreach(cr_cli_json_array(json_object_get(res, "ranges"), "range"), k, range)
        {
            double b = cr_cli_json_num(range, "begin", -1), e = cr_cli_json_num(range, "end", -1);
            if (b < 0 || e < b || e > 65535)
                continue;
            if (!fn(res, (uint64_t)b, (uint64_t)e, ud))
                return;
        }
    }
}

static bool count_range(json_t *res, uint64_t begin, uint64_t end, void *ud)
{
    *(uint64_t *)ud += end - begin + 1;
    return true;
}

bool cr_cli_offer_fits(const json_t *offer, const struct cr_cli_task_spec *spec, char *why,
                       size_t why_len)
{
    struct {
        const char *name;
        double need;
    } scalars[] = {{"cpus", spec->cpus}, {"mem", spec->mem_mb}, {"disk", spec->disk_mb}};
    for (size_t i = 0; i < 3; i++) {
        if (scalars[i].need <= 0)
            continue;
        double have = offer_scalar(offer, scalars[i].name);
        if (milli(have) < milli(scalars[i].need)) {
            if (why) {
                char h[32], n[32];
                cr_cli_fmt_num(h, sizeof(h), have);
                cr_cli_fmt_num(n, sizeof(n), scalars[i].need);
                snprintf(why, why_len, "%s %s < %s", scalars[i].name, h, n);
            }
            return false;
        }
    }
    if (spec->ports > 0) {
        uint64_t have = 0;
        each_port_range(offer, count_range, &have);
        if (have < (uint64_t)spec->ports) {
            if (why)
                snprintf(why, why_len, "ports %llu < %ld", (unsigned long long)have, spec->ports);
            return false;
        }
    }
    return true;
}

/* Append to out copies of the offer's name resources totalling amount. */
static void take_scalar(const json_t *offer, const char *name, double amount, json_t *out)
{
    long long left = milli(amount);
    size_t i;
    json_t *res;
    json_array_foreach(cr_cli_json_array(offer, "resources"), i, res)
    {
        if (left <= 0)
            return;
        if (!usable(res, name, "SCALAR"))
            continue;
        long long have = milli(cr_cli_json_num(json_object_get(res, "scalar"), "value", 0));
        long long take = have < left ? have : left;
        if (take <= 0)
            continue;
        json_t *copy = json_deep_copy(res);
        json_object_set_new(copy, "scalar", json_pack("{s:f}", "value", (double)take / 1000.0));
        json_array_append_new(out, copy);
        left -= take;
    }
}

struct port_take {
    long left;
    json_t *out;         /* resources array */
    json_t *last_src;    /* the offer resource the current copy came from */
    json_t *last_ranges; /* its "range" array */
    json_t *picked;      /* array of port numbers, for the environment */
};

static bool take_range(json_t *res, uint64_t begin, uint64_t end, void *ud)
{
    struct port_take *pt = ud;
    if (pt->left <= 0)
        return false;
    uint64_t n = end - begin + 1;
    if (n > (uint64_t)pt->left)
        n = (uint64_t)pt->left;
    if (pt->last_src != res) {
        json_t *copy = json_deep_copy(res);
        pt->last_ranges = json_array();
        json_object_set_new(copy, "ranges", json_pack("{s:o}", "range", pt->last_ranges));
        json_array_append_new(pt->out, copy);
        pt->last_src = res;
    }
    json_array_append_new(pt->last_ranges, json_pack("{s:I,s:I}", "begin", (json_int_t)begin, "end",
                                                     (json_int_t)(begin + n - 1)));
    for (uint64_t p = begin; p < begin + n; p++)
        json_array_append_new(pt->picked, json_integer((json_int_t)p));
    pt->left -= (long)n;
    return pt->left > 0;
}

static bool env_has(const struct cr_cli_task_spec *spec, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < spec->nenv; i++)
        if (strncmp(spec->env[i], name, len) == 0 && spec->env[i][len] == '=')
            return true;
    return false;
}

static void add_var(json_t *vars, const char *name, const char *value)
{
    json_array_append_new(vars, json_pack("{s:s,s:s}", "name", name, "value", value));
}

json_t *cr_cli_task_info(const json_t *offer, const struct cr_cli_task_spec *spec,
                         struct cr_err *err)
{
    char why[128];
    if (!cr_cli_offer_fits(offer, spec, why, sizeof(why))) {
        cr_err_set(err, -ENOSPC, "offer too small: %s", why);
        return NULL;
    }
    const char *agent_id = cr_cli_json_id(offer, "agent_id");
    if (!agent_id) {
        cr_err_set(err, -EPROTO, "offer without agent_id");
        return NULL;
    }

    json_t *resources = json_array();
    take_scalar(offer, "cpus", spec->cpus, resources);
    take_scalar(offer, "mem", spec->mem_mb, resources);
    if (spec->disk_mb > 0)
        take_scalar(offer, "disk", spec->disk_mb, resources);
    json_t *picked = json_array();
    if (spec->ports > 0) {
        struct port_take pt = {spec->ports, resources, NULL, NULL, picked};
        each_port_range(offer, take_range, &pt);
    }

    json_t *vars = json_array();
    if (json_array_size(picked) > 0) {
        struct cr_buf all;
        cr_buf_init(&all);
        size_t i;
        json_t *port;
        json_array_foreach(picked, i, port)
        {
            char name[32], value[32];
            snprintf(name, sizeof(name), "PORT%zu", i);
            snprintf(value, sizeof(value), "%lld", (long long)json_integer_value(port));
            if (!env_has(spec, name))
                add_var(vars, name, value);
            if (i == 0 && !env_has(spec, "PORT"))
                add_var(vars, "PORT", value);
            cr_buf_printf(&all, "%s%s", i ? "," : "", value);
        }
        if (!env_has(spec, "PORTS"))
            add_var(vars, "PORTS", all.data);
        cr_buf_release(&all);
    }
    json_decref(picked);
    for (size_t i = 0; i < spec->nenv; i++) {
        const char *eq = strchr(spec->env[i], '=');
        if (!eq)
            continue;
        char *name = cr_xasprintf("%.*s", (int)(eq - spec->env[i]), spec->env[i]);
        add_var(vars, name, eq + 1);
        free(name);
    }

    json_t *command;
    if (spec->shell) {
        command = json_pack("{s:b,s:s}", "shell", 1, "value", spec->shell);
    } else {
        json_t *args = json_array();
        for (size_t i = 0; i < spec->argc; i++)
            json_array_append_new(args, json_string(spec->argv[i]));
        command = json_pack("{s:b,s:s,s:o}", "shell", 0, "value", spec->argv[0], "arguments", args);
    }
    if (json_array_size(vars) > 0)
        json_object_set_new(command, "environment", json_pack("{s:o}", "variables", vars));
    else
        json_decref(vars);

    return json_pack("{s:s,s:{s:s},s:{s:s},s:o,s:o}", "name", spec->name, "task_id", "value",
                     spec->task_id, "agent_id", "value", agent_id, "resources", resources,
                     "command", command);
}

/* {"framework_id":{"value":id},"type":type} (framework_id left out when id is NULL). */
static json_t *envelope(const char *framework_id, const char *type)
{
    json_t *call = json_pack("{s:s}", "type", type);
    if (framework_id)
        json_object_set_new(call, "framework_id", json_pack("{s:s}", "value", framework_id));
    return call;
}

json_t *cr_cli_call_subscribe(const char *user, const char *hostname, const char *role,
                              const char *framework_id)
{
    json_t *info = json_pack("{s:s,s:s,s:f,s:[]}", "user", user, "name", "corral-exec",
                             "failover_timeout", 0.0, "capabilities");
    if (hostname && *hostname)
        json_object_set_new(info, "hostname", json_string(hostname));
    if (role && *role && strcmp(role, "*") != 0)
        json_object_set_new(info, "role", json_string(role));
    if (framework_id)
        json_object_set_new(info, "id", json_pack("{s:s}", "value", framework_id));
    json_t *call = envelope(framework_id, "SUBSCRIBE");
    json_object_set_new(call, "subscribe", json_pack("{s:o}", "framework_info", info));
    return call;
}

json_t *cr_cli_call_accept(const char *framework_id, const char *offer_id, json_t *task_info)
{
    json_t *call = envelope(framework_id, "ACCEPT");
    json_object_set_new(call, "accept",
                        json_pack("{s:[{s:s}],s:[{s:s,s:{s:[o]}}],s:{s:f}}", "offer_ids", "value",
                                  offer_id, "operations", "type", "LAUNCH", "launch", "task_infos",
                                  task_info, "filters", "refuse_seconds", 3600.0));
    return call;
}

json_t *cr_cli_call_decline(const char *framework_id, json_t *offer_ids, double refuse_seconds)
{
    json_t *call = envelope(framework_id, "DECLINE");
    json_object_set_new(call, "decline",
                        json_pack("{s:o,s:{s:f}}", "offer_ids", offer_ids, "filters",
                                  "refuse_seconds", refuse_seconds));
    return call;
}

json_t *cr_cli_call_acknowledge(const char *framework_id, const char *agent_id, const char *task_id,
                                const char *uuid)
{
    json_t *call = envelope(framework_id, "ACKNOWLEDGE");
    json_object_set_new(call, "acknowledge",
                        json_pack("{s:{s:s},s:{s:s},s:s}", "agent_id", "value", agent_id, "task_id",
                                  "value", task_id, "uuid", uuid));
    return call;
}

/* {"task_id":{"value":task_id},"agent_id":{"value":agent_id}} (agent_id left out when NULL),
 * the body of KILL and an entry of RECONCILE's tasks. */
static json_t *task_and_agent(const char *task_id, const char *agent_id)
{
    json_t *o = json_pack("{s:{s:s}}", "task_id", "value", task_id);
    if (agent_id)
        json_object_set_new(o, "agent_id", json_pack("{s:s}", "value", agent_id));
    return o;
}

json_t *cr_cli_call_kill(const char *framework_id, const char *task_id, const char *agent_id)
{
    json_t *call = envelope(framework_id, "KILL");
    json_object_set_new(call, "kill", task_and_agent(task_id, agent_id));
    return call;
}

json_t *cr_cli_call_reconcile(const char *framework_id, const char *task_id, const char *agent_id)
{
    json_t *call = envelope(framework_id, "RECONCILE");
    json_object_set_new(call, "reconcile",
                        json_pack("{s:[o]}", "tasks", task_and_agent(task_id, agent_id)));
    return call;
}

json_t *cr_cli_call_teardown(const char *framework_id)
{
    return envelope(framework_id, "TEARDOWN");
}

/* The number after the first occurrence of word (case-insensitive) in text, or -1. */
static long number_after(const char *text, const char *word)
{
    size_t wl = strlen(word);
    for (const char *p = text; *p; p++) {
        if (strncasecmp(p, word, wl) != 0)
            continue;
        const char *q = p + wl;
        while (*q == ' ' || *q == ':' || *q == '=')
            q++;
        if (isdigit((unsigned char)*q))
            return strtol(q, NULL, 10);
    }
    return -1;
}

static int signal_number(const char *text)
{
    static const struct {
        const char *name;
        int signo;
    } names[] = {{"SIGHUP", 1},   {"SIGINT", 2},   {"SIGQUIT", 3},  {"SIGILL", 4},
                 {"SIGABRT", 6},  {"SIGBUS", 7},   {"SIGFPE", 8},   {"SIGKILL", 9},
                 {"SIGSEGV", 11}, {"SIGPIPE", 13}, {"SIGALRM", 14}, {"SIGTERM", 15}};
    long n = number_after(text, "signal");
    if (n > 0 && n < 128)
        return (int)n;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strstr(text, names[i].name))
            return names[i].signo;
    return -1;
}

int cr_cli_status_exit_code(const char *state, const char *message)
{
    const char *s = cr_cli_state_short(state);
    if (s && strcmp(s, "FINISHED") == 0)
        return 0;
    if (!s || strcmp(s, "FAILED") != 0 || !message)
        return 1;
    long code = number_after(message, "status");
    if (code < 0)
        code = number_after(message, "exit code");
    if (code < 0)
        code = number_after(message, "code");
    if (code > 0 && code < 256)
        return (int)code;
    int signo = signal_number(message);
    if (signo > 0)
        return 128 + signo;
    return 1;
}

char *cr_cli_status_line(const json_t *status)
{
    const char *task_id = cr_cli_json_id(status, "task_id");
    const char *state = cr_cli_state_short(cr_cli_json_str(status, "state"));
    const char *message = cr_cli_json_str(status, "message");
    const char *reason = cr_cli_json_str(status, "reason");
    json_t *healthy = json_object_get(status, "healthy");

    struct cr_buf b;
    cr_buf_init(&b);
    cr_buf_printf(&b, "task %s %s", task_id ? task_id : "?", state ? state : "UNKNOWN");
    if (state && (strcmp(state, "FINISHED") == 0 || strcmp(state, "FAILED") == 0)) {
        int code = cr_cli_status_exit_code(state, message);
        bool known =
            strcmp(state, "FINISHED") == 0 ||
            (message && (number_after(message, "status") > 0 || number_after(message, "code") > 0));
        if (known)
            cr_buf_printf(&b, " exit %d", code);
    }
    if (message && *message)
        cr_buf_printf(&b, ": %s", message);
    if (reason && *reason) {
        char *r = cr_xstrdup(strncmp(reason, "REASON_", 7) == 0 ? reason + 7 : reason);
        for (char *p = r; *p; p++)
            *p = *p == '_' ? ' ' : (char)tolower((unsigned char)*p);
        cr_buf_printf(&b, " (%s)", r);
        free(r);
    }
    if (json_is_boolean(healthy))
        cr_buf_puts(&b, json_is_true(healthy) ? " [healthy]" : " [unhealthy]");
    for (unsigned char *p = (unsigned char *)b.data; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = ' ';
    return cr_buf_steal(&b, NULL);
}
