/*
 * top.c - `corral top`: cpu and memory of every running task, from each agent's
 * GET /monitor/statistics (Mesos' ResourceStatistics per container).
 *
 * One refresh = GET /master/slaves from the master (the agents and their addresses),
 * then /monitor/statistics from each active agent in turn (a slow or dead agent costs at
 * most its timeout and is named under the table), then framework names from
 * /master/frameworks when a framework id is new. CPU% needs two samples: it is the
 * growth of the container's user+system cpu time over the time between the agent's two
 * timestamps, so 100 = one cpu busy; the first refresh shows "-". --once takes two
 * samples a second apart (or --interval) and prints one table; without it the table is
 * redrawn every --interval seconds until Ctrl-C.
 *
 * The pure part (rows, cpu%, sort, rendering) is below the verb's I/O and declared in
 * top.h for the unit tests.
 */
#include "cli/top.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "cli/cli_common.h"
#include "cli/cli_util.h"
#include "cli/verbs.h"

static const char verb[] = "top";

#define AGENT_TIMEOUT_MS 5000
#define DEFAULT_INTERVAL_S 2.0
#define ONCE_GAP_S 1.0

/* ------------------------------------------------------------------ rows */

void cr_top_sample_init(struct cr_top_sample *s)
{
    memset(s, 0, sizeof(*s));
}

static void row_release(struct cr_top_row *r)
{
    free(r->task_id);
    free(r->framework_id);
    free(r->framework);
    free(r->agent);
    free(r->container_id);
}

void cr_top_sample_release(struct cr_top_sample *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        row_release(&s->rows[i]);
    free(s->rows);
    memset(s, 0, sizeof(*s));
}

/* A number field of statistics, or NAN when absent. */
static double stat_num(const json_t *st, const char *key)
{
    return cr_cli_json_num(st, key, NAN);
}

int cr_top_add_agent(struct cr_top_sample *s, const char *agent, const json_t *stats,
                     struct cr_err *err)
{
    if (!json_is_array(stats))
        return cr_err_set(err, -EPROTO, "the statistics are not a JSON list");
    size_t i;
    const json_t *e;
    json_array_foreach(stats, i, e)
    {
        const json_t *st = json_object_get(e, "statistics");
        const char *task = cr_cli_json_str(e, "source");
        if (!task || !*task)
            task = cr_cli_json_str(e, "executor_id");
        if (!task || !json_is_object(st))
            continue;
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 16;
            s->rows = cr_xrealloc(s->rows, s->cap * sizeof(*s->rows));
        }
        struct cr_top_row *r = &s->rows[s->n++];
        memset(r, 0, sizeof(*r));
        r->task_id = cr_xstrdup(task);
        const char *fw = cr_cli_json_str(e, "framework_id");
        r->framework_id = cr_xstrdup(fw ? fw : "");
        r->agent = cr_xstrdup(agent);
        r->container_id = cr_xstrdup(cr_cli_json_str(e, "container_id"));
        r->timestamp = stat_num(st, "timestamp");
        r->cpu_secs = cr_cli_json_num(st, "cpus_user_time_secs", 0) +
                      cr_cli_json_num(st, "cpus_system_time_secs", 0);
        r->cpu_percent = NAN;
        r->cpus_limit = stat_num(st, "cpus_limit");
        r->mem_rss_bytes = stat_num(st, "mem_rss_bytes");
        r->mem_limit_bytes = stat_num(st, "mem_limit_bytes");
        r->processes = stat_num(st, "processes");
    }
    return 0;
}

static bool str_eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static bool same_container(const struct cr_top_row *a, const struct cr_top_row *b)
{
    if (!str_eq(a->agent, b->agent))
        return false;
    if (a->container_id || b->container_id)
        return str_eq(a->container_id, b->container_id);
    return str_eq(a->framework_id, b->framework_id) && str_eq(a->task_id, b->task_id);
}

void cr_top_compute(struct cr_top_sample *cur, const struct cr_top_sample *prev)
{
    for (size_t i = 0; i < cur->n; i++) {
        struct cr_top_row *r = &cur->rows[i];
        r->cpu_percent = NAN;
        for (size_t j = 0; prev && j < prev->n; j++) {
            const struct cr_top_row *p = &prev->rows[j];
            if (!same_container(r, p))
                continue;
            double dt = r->timestamp - p->timestamp, dcpu = r->cpu_secs - p->cpu_secs;
            if (dt > 0 && dcpu >= 0 && isfinite(dt) && isfinite(dcpu))
                r->cpu_percent = 100.0 * dcpu / dt;
            break;
        }
    }
}

size_t cr_top_name_frameworks(struct cr_top_sample *s, const json_t *names)
{
    size_t unknown = 0;
    for (size_t i = 0; i < s->n; i++) {
        struct cr_top_row *r = &s->rows[i];
        const char *name = cr_cli_json_str(names, r->framework_id);
        if (!name || !*name) {
            name = r->framework_id;
            unknown++;
        }
        free(r->framework);
        r->framework = cr_xstrdup(name);
    }
    return unknown;
}

/* NAN-last descending comparison: <0 when a comes first. */
static int cmp_desc(double a, double b)
{
    bool na = isnan(a), nb = isnan(b);
    if (na || nb)
        return na == nb ? 0 : na ? 1 : -1;
    return a > b ? -1 : a < b ? 1 : 0;
}

static int cmp_rows(const void *pa, const void *pb)
{
    const struct cr_top_row *a = pa, *b = pb;
    int c = cmp_desc(a->cpu_percent, b->cpu_percent);
    if (c == 0)
        c = cmp_desc(a->mem_rss_bytes, b->mem_rss_bytes);
    if (c == 0)
        c = strcmp(a->agent, b->agent);
    if (c == 0)
        c = strcmp(a->task_id, b->task_id);
    if (c == 0)
        c = strcmp(a->framework_id, b->framework_id);
    return c;
}

void cr_top_sort(struct cr_top_sample *s)
{
    if (s->n > 1)
        qsort(s->rows, s->n, sizeof(*s->rows), cmp_rows);
}

void cr_top_fmt_bytes(char *buf, size_t size, double bytes)
{
    if (isnan(bytes) || bytes < 0) {
        snprintf(buf, size, "-");
        return;
    }
    static const char units[] = "BKMGTP";
    size_t u = 0;
    while (bytes >= 1024.0 && u + 1 < sizeof(units) - 1) {
        bytes /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, size, "%.0fB", bytes);
    else if (bytes < 9.95 && fabs(bytes - round(bytes)) >= 0.05)
        snprintf(buf, size, "%.1f%c", bytes, units[u]);
    else
        snprintf(buf, size, "%.0f%c", bytes, units[u]);
}

void cr_top_print(const struct cr_top_sample *s, FILE *out)
{
    static const char *const headers[] = {"TASK", "FRAMEWORK", "AGENT", "CPU%",
                                          "CPUS", "MEM/LIMIT", "PROCS"};
    struct cr_cli_table t;
    cr_cli_table_init(&t, 7, headers, (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6));
    for (size_t i = 0; i < s->n; i++) {
        const struct cr_top_row *r = &s->rows[i];
        char pct[32], cpus[32], mem[32], limit[32], memcell[80], procs[32];
        if (isnan(r->cpu_percent))
            snprintf(pct, sizeof(pct), "-");
        else
            snprintf(pct, sizeof(pct), "%.1f", r->cpu_percent);
        cr_cli_fmt_num(cpus, sizeof(cpus), r->cpus_limit);
        cr_top_fmt_bytes(mem, sizeof(mem), r->mem_rss_bytes);
        cr_top_fmt_bytes(limit, sizeof(limit), r->mem_limit_bytes);
        snprintf(memcell, sizeof(memcell), "%s/%s", mem, limit);
        cr_cli_fmt_num(procs, sizeof(procs), r->processes);
        const char *cells[] = {
            r->task_id, r->framework ? r->framework : r->framework_id, r->agent, pct, cpus, memcell,
            procs};
        cr_cli_table_add(&t, cells);
    }
    cr_cli_table_print(&t, out);
    cr_cli_table_release(&t);
}

/* A number, or null when unknown. */
static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

json_t *cr_top_json(const struct cr_top_sample *s)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < s->n; i++) {
        const struct cr_top_row *r = &s->rows[i];
        json_t *o = json_object();
        json_object_set_new(o, "task_id", json_string(r->task_id));
        json_object_set_new(o, "framework_id", json_string(r->framework_id));
        json_object_set_new(o, "framework",
                            json_string(r->framework ? r->framework : r->framework_id));
        json_object_set_new(o, "agent", json_string(r->agent));
        json_object_set_new(o, "container_id",
                            r->container_id ? json_string(r->container_id) : json_null());
        json_object_set_new(o, "cpu_percent", num_or_null(r->cpu_percent));
        json_object_set_new(o, "cpu_secs", num_or_null(r->cpu_secs));
        json_object_set_new(o, "cpus_limit", num_or_null(r->cpus_limit));
        json_object_set_new(o, "mem_rss_bytes", num_or_null(r->mem_rss_bytes));
        json_object_set_new(o, "mem_limit_bytes", num_or_null(r->mem_limit_bytes));
        json_object_set_new(o, "processes", num_or_null(r->processes));
        json_object_set_new(o, "timestamp", num_or_null(r->timestamp));
        json_array_append_new(arr, o);
    }
    return arr;
}

/* ------------------------------------------------------------------ the verb */

static void usage(FILE *out, const struct cr_cli_opt *opts)
{
    fprintf(out, "usage: corral top [--master HOST:PORT] [--once] [--interval SECS] [--json]\n\n"
                 "Show the cpu and memory of every running task, busiest first, from each\n"
                 "agent's /monitor/statistics. CPU%% is the task's cpu time over the last\n"
                 "interval (100 = one cpu); CPUS is its cpu allocation; MEM/LIMIT its resident\n"
                 "memory and memory limit. The table is redrawn every interval until Ctrl-C;\n"
                 "--once prints a single table from two samples a second apart.\n\n"
                 "flags:\n");
    cr_cli_opts_usage(out, opts);
}

struct top {
    char *master;           /* owned: resolved address */
    json_t *fw_names;       /* owned: framework id -> name */
    size_t nagents;         /* agents asked in the latest refresh */
    struct cr_buf problems; /* agents that did not answer, one line each */
};

/* GET path from the master as a JSON object (*out owned). */
static int master_get(struct top *t, const char *path, json_t **out, struct cr_err *err)
{
    return cr_cli_get_json("the master", t->master, path, out, err);
}

/* Learn the names of the master's frameworks (active and completed). */
static void refresh_names(struct top *t)
{
    json_t *doc = NULL;
    struct cr_err err = {0};
    if (master_get(t, "/master/frameworks", &doc, &err) < 0)
        return; /* ids are shown instead */
    static const char *const lists[] = {"frameworks", "completed_frameworks"};
    for (size_t l = 0; l < 2; l++) {
        size_t i;
        json_t *fw;
        json_array_foreach(cr_cli_json_array(doc, lists[l]), i, fw)
        {
            const char *id = cr_cli_json_id(fw, "id");
            const char *name = cr_cli_json_str(fw, "name");
            if (id && name && *name)
                json_object_set_new(t->fw_names, id, json_string(name));
        }
    }
    json_decref(doc);
}

/* One agent's /monitor/statistics into s; a failure is noted in t->problems. */
static void sample_agent(struct top *t, const json_t *slave, struct cr_top_sample *s)
{
    char addr[300], label[300];
    if (cr_cli_agent_address(slave, addr, sizeof(addr)) < 0) {
        cr_buf_printf(&t->problems, "agent %s: no usable address\n",
                      cr_cli_json_id(slave, "id") ? cr_cli_json_id(slave, "id") : "?");
        return;
    }
    const char *host = cr_cli_json_str(slave, "hostname");
    snprintf(label, sizeof(label), "%s:%d", host ? host : "?",
             (int)cr_cli_json_num(slave, "port", 5051));
    t->nagents++;
    int status = 0;
    char *body = NULL;
    size_t len = 0;
    struct cr_err err = {0};
    int rc = cr_cli_http("the agent", addr, "GET", "/monitor/statistics", NULL, AGENT_TIMEOUT_MS,
                         &status, &body, &len, &err);
    if (rc == 0 && status != 200)
        rc = cr_err_set(&err, -EPROTO, "the agent at %s answered %d to GET /monitor/statistics",
                        addr, status);
    json_t *doc = NULL;
    if (rc == 0 && !(doc = cr_cli_json_parse(body, len, &err)))
        rc = cr_err_wrap(&err, "the agent at %s answered GET /monitor/statistics with", addr);
    if (rc == 0 && (rc = cr_top_add_agent(s, label, doc, &err)) < 0)
        cr_err_wrap(&err, "the agent at %s", addr);
    if (rc < 0)
        cr_buf_printf(&t->problems, "%s\n", err.msg);
    json_decref(doc);
    free(body);
}

/* One refresh into s (initialised by the caller). Returns 0, or a negative code with err
 * when the master cannot be asked. */
static int take_sample(struct top *t, struct cr_top_sample *s, struct cr_err *err)
{
    t->nagents = 0;
    cr_buf_release(&t->problems);
    cr_buf_init(&t->problems);
    json_t *doc = NULL;
    int rc = master_get(t, "/master/slaves", &doc, err);
    if (rc < 0)
        return rc;
    size_t i;
    json_t *slave;
    json_array_foreach(cr_cli_json_array(doc, "slaves"), i, slave)
    {
        if (cr_cli_json_bool(slave, "active", true))
            sample_agent(t, slave, s);
    }
    json_decref(doc);
    if (cr_top_name_frameworks(s, t->fw_names) > 0) {
        refresh_names(t);
        cr_top_name_frameworks(s, t->fw_names);
    }
    return 0;
}

/* Print one refresh: the table (or JSON), then the agents that did not answer. */
static void show(struct top *t, const struct cr_top_sample *s, bool as_json, bool once, bool is_tty,
                 double interval)
{
    if (as_json) {
        json_t *j = cr_top_json(s);
        char *text = json_dumps(j, once ? JSON_INDENT(2) : JSON_COMPACT);
        puts(text ? text : "[]");
        free(text);
        json_decref(j);
    } else {
        if (!once) {
            if (is_tty)
                fputs("\033[H\033[2J", stdout);
            time_t now = time(NULL);
            char clock[16];
            strftime(clock, sizeof(clock), "%H:%M:%S", localtime(&now));
            printf("corral top - %s, %zu task%s on %zu agent%s, every %gs (Ctrl-C to quit)\n\n",
                   clock, s->n, s->n == 1 ? "" : "s", t->nagents, t->nagents == 1 ? "" : "s",
                   interval);
        }
        if (s->n == 0)
            printf("no running tasks on %zu agent%s\n", t->nagents, t->nagents == 1 ? "" : "s");
        else
            cr_top_print(s, stdout);
        if (!once && !is_tty)
            putchar('\n');
    }
    if (t->problems.len > 0) {
        fflush(stdout);
        fprintf(stderr, "%.*s", (int)t->problems.len, t->problems.data);
    }
    fflush(stdout);
}

int cr_cli_top_main(int argc, char **argv)
{
    const char *master_flag = NULL;
    bool as_json = false, once = false;
    double interval = NAN;
    struct cr_cli_opt opts[] = {
        CR_CLI_OPT_MASTER(&master_flag),
        {"once", 0, CR_CLI_OPT_BOOL, &once, NULL, "print one table (two samples) and exit", 0, 0},
        {"interval", 'n', CR_CLI_OPT_DOUBLE, &interval, "SECS",
         "seconds between refreshes (default 2; with --once between the two samples, "
         "default 1)",
         0.1, 3600},
        {"json", 0, CR_CLI_OPT_BOOL, &as_json, NULL,
         "print JSON (one array per refresh, one line each without --once)", 0, 0},
        CR_CLI_OPT_END,
    };
    int code;
    if (!cr_cli_parse_verb_args(verb, usage, opts, argc, argv, NULL, &code))
        return code;
    if (isnan(interval))
        interval = once ? ONCE_GAP_S : DEFAULT_INTERVAL_S;

    struct top t = {.master = cr_cli_master_resolve(master_flag), .fw_names = json_object()};
    cr_buf_init(&t.problems);
    cr_cli_catch_signals();
    bool is_tty = isatty(STDOUT_FILENO);
    struct cr_top_sample prev, cur;
    cr_top_sample_init(&prev);
    cr_top_sample_init(&cur);
    struct cr_err err = {0};
    code = CR_CLI_EXIT_OK;

    if (once) {
        if (take_sample(&t, &prev, &err) < 0 ||
            (cr_cli_sleep_ms((long)(interval * 1000)) && take_sample(&t, &cur, &err) < 0)) {
            code = cr_cli_fail(verb, "%s", err.msg);
        } else if (cr_cli_signal) {
            code = CR_CLI_EXIT_INTERRUPTED;
        } else {
            cr_top_compute(&cur, &prev);
            cr_top_sort(&cur);
            show(&t, &cur, as_json, true, is_tty, interval);
        }
    } else {
        while (!cr_cli_signal) {
            cr_top_sample_init(&cur);
            if (take_sample(&t, &cur, &err) < 0) {
                /* the master may come back (a new leader): say so and keep trying */
                if (is_tty && !as_json)
                    fputs("\033[H\033[2J", stdout);
                fflush(stdout);
                fprintf(stderr, "corral %s: %s\n", verb, err.msg);
            } else {
                cr_top_compute(&cur, &prev);
                cr_top_sort(&cur);
                show(&t, &cur, as_json, false, is_tty, interval);
            }
            cr_top_sample_release(&prev);
            prev = cur;
            cr_top_sample_init(&cur);
            if (!cr_cli_sleep_ms((long)(interval * 1000)))
                break;
        }
        code = CR_CLI_EXIT_INTERRUPTED;
    }
    cr_top_sample_release(&prev);
    cr_top_sample_release(&cur);
    cr_buf_release(&t.problems);
    json_decref(t.fw_names);
    free(t.master);
    return code;
}
