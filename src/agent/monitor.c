/*
 * monitor.c - the agent's usage and metrics reports (see monitor.h): GET
 * /monitor/statistics, the body of the operator call GET_CONTAINERS, and GET
 * /metrics/snapshot.
 *
 * Sampling is synchronous on the loop thread, so it must stay cheap: one
 * cr_containerizer_usage_of() per running container and nothing else. When the cgroups
 * isolator is in use the task's pid is NOT passed, so the posix isolator does not scan
 * all of /proc once per container (the cgroup already has the container's cpu time,
 * memory and process count); under posix isolation alone the pid is the only way in.
 * A container whose usage cannot be read is skipped (GET_CONTAINERS lists it without
 * statistics), as Mesos does.
 *
 * The latency timer sorts a copy of the launch-latency ring (at most
 * CR_AGENT_LAUNCH_SAMPLES doubles) per snapshot; the system figures come from one
 * sysinfo(2) call.
 */
#include "agent/monitor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "agent/agent_internal.h"
#include "base/log.h"
#include "base/util.h"

/* ------------------------------------------------------------------ pure helpers */

json_t *cr_monitor_usage_json(const struct cr_usage *u, bool has_cgroups)
{
    json_t *s = json_object();
    json_object_set_new(s, "timestamp", json_real(u->timestamp));
    json_object_set_new(s, "processes", json_integer(u->processes));
    if (u->threads > 0)
        json_object_set_new(s, "threads", json_integer(u->threads));
    json_object_set_new(s, "cpus_user_time_secs", json_real(u->cpus_user_time_secs));
    json_object_set_new(s, "cpus_system_time_secs", json_real(u->cpus_system_time_secs));
    if (u->cpus_limit > 0)
        json_object_set_new(s, "cpus_limit", json_real(u->cpus_limit));
    if (has_cgroups) {
        json_object_set_new(s, "cpus_nr_periods", json_integer((json_int_t)u->cpus_nr_periods));
        json_object_set_new(s, "cpus_nr_throttled", json_integer((json_int_t)u->cpus_nr_throttled));
        json_object_set_new(s, "cpus_throttled_time_secs", json_real(u->cpus_throttled_time_secs));
    }
    if (u->mem_total_bytes > 0)
        json_object_set_new(s, "mem_total_bytes", json_integer((json_int_t)u->mem_total_bytes));
    if (u->mem_limit_bytes > 0)
        json_object_set_new(s, "mem_limit_bytes", json_integer((json_int_t)u->mem_limit_bytes));
    json_object_set_new(s, "mem_rss_bytes", json_integer((json_int_t)u->mem_rss_bytes));
    if (has_cgroups) {
        if (u->mem_max_bytes > 0)
            json_object_set_new(s, "mem_max_bytes", json_integer((json_int_t)u->mem_max_bytes));
        json_object_set_new(s, "mem_oom_kills", json_integer((json_int_t)u->mem_oom_kills));
    }
    return s;
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return a < b ? -1 : a > b ? 1 : 0;
}

/* The p-quantile of sorted[0..n), n > 0. */
static double quantile_sorted(const double *sorted, size_t n, double p)
{
    if (p <= 0 || n == 1)
        return sorted[0];
    if (p >= 1)
        return sorted[n - 1];
    double pos = p * (double)(n - 1);
    size_t lo = (size_t)pos;
    if (lo + 1 >= n)
        return sorted[n - 1];
    double frac = pos - (double)lo;
    return sorted[lo] + (sorted[lo + 1] - sorted[lo]) * frac;
}

double cr_monitor_percentile(const double *samples, size_t n, double p, double *scratch)
{
    if (n == 0)
        return NAN;
    memcpy(scratch, samples, n * sizeof(*samples));
    qsort(scratch, n, sizeof(*scratch), cmp_double);
    return quantile_sorted(scratch, n, p);
}

static void set_metric(json_t *metrics, const char *name, const char *suffix, double v)
{
    char key[256];
    snprintf(key, sizeof(key), "%s%s", name, suffix);
    json_object_set_new(metrics, key, json_real(v));
}

void cr_monitor_add_timer(json_t *metrics, const char *name, const double *samples, size_t n,
                          double latest)
{
    set_metric(metrics, name, "/count", (double)n);
    if (n == 0)
        return;
    set_metric(metrics, name, "", latest);
    double *sorted = cr_xmalloc(n * sizeof(*sorted));
    memcpy(sorted, samples, n * sizeof(*samples));
    qsort(sorted, n, sizeof(*sorted), cmp_double);
    set_metric(metrics, name, "/min", sorted[0]);
    set_metric(metrics, name, "/max", sorted[n - 1]);
    static const struct {
        const char *suffix;
        double p;
    } qs[] = {{"/p50", 0.5},  {"/p90", 0.9},    {"/p95", 0.95},
              {"/p99", 0.99}, {"/p999", 0.999}, {"/p9999", 0.9999}};
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
        set_metric(metrics, name, qs[i].suffix, quantile_sorted(sorted, n, qs[i].p));
    free(sorted);
}

/* ------------------------------------------------------------------ sampling */

/* Is name one of the comma-separated isolators in list (blanks around names ignored)? */
static bool has_isolator(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; p && *p;) {
        size_t n = strcspn(p, ",");
        const char *w = p;
        size_t wn = n;
        while (wn > 0 && (*w == ' ' || *w == '\t'))
            w++, wn--;
        while (wn > 0 && (w[wn - 1] == ' ' || w[wn - 1] == '\t'))
            wn--;
        if (wn == len && strncmp(w, name, len) == 0)
            return true;
        p += n;
        if (*p == ',')
            p++;
    }
    return false;
}

static bool agent_has_cgroups(const struct cr_agent *a)
{
    return has_isolator(a->isolation, "cgroups");
}

/* Does t have a container that may be running (launched, not ended)? */
static bool task_has_live_container(const struct agent_task *t)
{
    return t->container_id && t->executor && !cr_task_state_is_terminal(t->state);
}

/*
 * Sample t's container into *u. cpus_limit is the task's cpus ("number of CPUs
 * allocated" in Mesos' proto; the cgroup's shares / 1024 is only its rounded image);
 * mem_limit_bytes is the enforced limit the isolator read, else the task's mem. Returns
 * false when the usage cannot be read.
 */
static bool sample_task(struct cr_agent *a, const struct agent_task *t, bool has_cgroups,
                        struct cr_usage *u)
{
    memset(u, 0, sizeof(*u));
    if (!a->cz || !task_has_live_container(t))
        return false;
    pid_t pid = has_cgroups ? 0 : t->task_pid;
    if (!has_cgroups && pid <= 0)
        return false; /* posix isolation needs the pid the executor reports */
    struct cr_err err;
    cr_err_clear(&err);
    if (cr_containerizer_usage_of(a->cz, t->container_id, pid, u, &err) < 0) {
        CR_DEBUG("usage unavailable task=%s container=%s error=\"%s\"", t->task_id, t->container_id,
                 cr_err_msg(&err));
        return false;
    }
    if (u->timestamp <= 0)
        u->timestamp = cr_wall_seconds();
    if (t->has_info) {
        int64_t cpus_milli = cr_resources_scalar(&t->info.resources, "cpus");
        int64_t mem_milli = cr_resources_scalar(&t->info.resources, "mem");
        if (cpus_milli > 0)
            u->cpus_limit = cr_milli_to_double(cpus_milli);
        if (u->mem_limit_bytes == 0 && mem_milli > 0)
            u->mem_limit_bytes = (uint64_t)(cr_milli_to_double(mem_milli) * 1024.0 * 1024.0);
    }
    return true;
}

/* Mesos' name of a command task's executor (as in /state). Owned. */
static char *executor_name(const struct agent_task *t)
{
    return cr_xasprintf("Command Executor (Task: %s) (Command: %s)", t->task_id,
                        t->has_info && t->info.command.value ? t->info.command.value : "");
}

json_t *agent_monitor_statistics(struct cr_agent *a)
{
    bool has_cgroups = agent_has_cgroups(a);
    json_t *arr = json_array();
    for (struct agent_task *t = a->tasks_head; t; t = t->next) {
        struct cr_usage u;
        if (!sample_task(a, t, has_cgroups, &u))
            continue;
        json_t *e = json_object();
        json_object_set_new(e, "executor_id", json_string(t->task_id));
        char *name = executor_name(t);
        json_object_set_new(e, "executor_name", json_string(name));
        free(name);
        json_object_set_new(e, "framework_id", json_string(t->framework_id));
        json_object_set_new(e, "source", json_string(t->task_id));
        json_object_set_new(e, "container_id", json_string(t->container_id));
        json_object_set_new(e, "statistics", cr_monitor_usage_json(&u, has_cgroups));
        json_array_append_new(arr, e);
    }
    return arr;
}

json_t *agent_monitor_containers(struct cr_agent *a)
{
    bool has_cgroups = agent_has_cgroups(a);
    json_t *arr = json_array();
    for (struct agent_task *t = a->tasks_head; t; t = t->next) {
        if (!task_has_live_container(t))
            continue;
        json_t *c = json_object();
        json_object_set_new(c, "framework_id", cr_json_id(t->framework_id));
        json_object_set_new(c, "executor_id", cr_json_id(t->task_id));
        char *name = executor_name(t);
        json_object_set_new(c, "executor_name", json_string(name));
        free(name);
        json_object_set_new(c, "container_id", cr_json_id(t->container_id));
        json_t *cs = json_object();
        json_object_set_new(cs, "container_id", cr_json_id(t->container_id));
        if (t->executor->pid > 0)
            json_object_set_new(cs, "executor_pid", json_integer(t->executor->pid));
        json_object_set_new(c, "container_status", cs);
        struct cr_usage u;
        if (sample_task(a, t, has_cgroups, &u))
            json_object_set_new(c, "resource_statistics", cr_monitor_usage_json(&u, has_cgroups));
        json_array_append_new(arr, c);
    }
    json_t *body = json_object();
    json_object_set_new(body, "containers", arr);
    return body;
}

/* ------------------------------------------------------------------ metrics */

static void set_num(json_t *m, const char *key, double v)
{
    json_object_set_new(m, key, json_real(v));
}

/* slave/<res>_total, _used, _percent for the scalar resources (Mesos units: MB). */
static void resource_metrics(struct cr_agent *a, json_t *m)
{
    struct cr_resources used;
    cr_resources_init(&used);
    for (const struct agent_task *t = a->tasks_head; t; t = t->next)
        if (t->has_info && !cr_task_state_is_terminal(t->state))
            cr_resources_add(&used, &t->info.resources);
    static const char *const names[] = {"cpus", "mem", "disk", "gpus"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        double total = cr_milli_to_double(cr_resources_scalar(&a->resources, names[i]));
        double use = cr_milli_to_double(cr_resources_scalar(&used, names[i]));
        char key[64];
        snprintf(key, sizeof(key), "slave/%s_total", names[i]);
        set_num(m, key, total);
        snprintf(key, sizeof(key), "slave/%s_used", names[i]);
        set_num(m, key, use);
        snprintf(key, sizeof(key), "slave/%s_percent", names[i]);
        set_num(m, key, total > 0 ? use / total : 0.0);
    }
    cr_resources_release(&used);
}

static void system_metrics(json_t *m)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu > 0)
        set_num(m, "system/cpus_total", (double)ncpu);
    struct sysinfo si;
    if (sysinfo(&si) == 0) {
        double unit = si.mem_unit ? (double)si.mem_unit : 1.0;
        const double scale = (double)(1 << SI_LOAD_SHIFT);
        set_num(m, "system/load_1min", (double)si.loads[0] / scale);
        set_num(m, "system/load_5min", (double)si.loads[1] / scale);
        set_num(m, "system/load_15min", (double)si.loads[2] / scale);
        set_num(m, "system/mem_total_bytes", (double)si.totalram * unit);
        set_num(m, "system/mem_free_bytes", (double)si.freeram * unit);
    }
}

json_t *agent_metrics_snapshot(struct cr_agent *a)
{
    json_t *m = json_object();
    set_num(m, "slave/uptime_secs", cr_wall_seconds() - a->start_time);
    bool registered = a->agent_id && a->link && cr_master_link_is_connected(a->link);
    set_num(m, "slave/registered", registered ? 1.0 : 0.0);

    size_t by_state[CR_TASK_STATE_COUNT] = {0};
    size_t executors = 0;
    for (const struct agent_task *t = a->tasks_head; t; t = t->next) {
        if ((int)t->state >= 0 && (int)t->state < CR_TASK_STATE_COUNT)
            by_state[t->state]++;
        if (t->executor && !t->executor->exited)
            executors++;
    }
    set_num(m, "slave/tasks_staging", (double)by_state[CR_TASK_STAGING]);
    set_num(m, "slave/tasks_starting", (double)by_state[CR_TASK_STARTING]);
    set_num(m, "slave/tasks_running", (double)by_state[CR_TASK_RUNNING]);
    set_num(m, "slave/tasks_killing", (double)by_state[CR_TASK_KILLING]);
    set_num(m, "slave/executors_running", (double)executors);
    size_t frameworks = 0;
    size_t it = 0;
    void *value;
    while (cr_map_next(&a->frameworks, &it, NULL, &value))
        if (((const struct agent_framework *)value)->nactive > 0)
            frameworks++;
    set_num(m, "slave/frameworks_active", (double)frameworks);
    resource_metrics(a, m);

    size_t n = a->launch_ms ? a->nlaunch_ms : 0;
    double latest = 0;
    if (n > 0)
        latest = a->launch_ms[(a->launch_ms_next + CR_AGENT_LAUNCH_SAMPLES - 1) %
                              CR_AGENT_LAUNCH_SAMPLES];
    /* the ring's first n slots are the valid ones until it wraps, then all of them are */
    cr_monitor_add_timer(m, "containerizer/launch_latency_ms", a->launch_ms, n, latest);
    system_metrics(m);
    return m;
}
