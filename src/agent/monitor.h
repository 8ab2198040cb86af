/*
 * monitor.h - what the agent reports about its containers and itself: the resource
 * statistics of each running container (GET /monitor/statistics, the operator call
 * GET_CONTAINERS) and the flat metrics of GET /metrics/snapshot (also GET_METRICS).
 *
 * The pure part (statistics and latency figures as JSON) takes plain values and is
 * unit-tested; the agent part reads the agent's tasks and asks the containerizer for
 * each container's usage (cr_containerizer_usage_of: cgroup files, or /proc of the
 * task's pid under posix isolation). Everything runs on the agent's loop thread.
 */
#ifndef CR_AGENT_MONITOR_H
#define CR_AGENT_MONITOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "isolate/isolator.h"

struct cr_agent;

/* ---- pure helpers ------------------------------------------------------------------ */

/*
 * Mesos' ResourceStatistics JSON of u (keys are the proto's field names). Always:
 * timestamp, processes, cpus_user_time_secs, cpus_system_time_secs, mem_rss_bytes.
 * cpus_limit, mem_limit_bytes, mem_total_bytes and threads only when non-zero (0 means
 * "unknown" or "unlimited", which Mesos expresses by leaving the field out). With
 * has_cgroups (the cgroups isolator sampled the container) also cpus_nr_periods,
 * cpus_nr_throttled, cpus_throttled_time_secs and the Corral extras mem_oom_kills and,
 * when the kernel reports it, mem_max_bytes (peak usage). Returns a new reference.
 */
json_t *cr_monitor_usage_json(const struct cr_usage *u, bool has_cgroups);

/*
 * The p-quantile (0 <= p <= 1) of samples[0..n) by linear interpolation between the two
 * nearest ranks of the sorted samples (p = 0.5 of {1, 2, 3, 4} is 2.5). scratch must
 * hold n doubles (sorted in place; samples is left alone). NAN when n == 0.
 */
double cr_monitor_percentile(const double *samples, size_t n, double p, double *scratch);

/*
 * Add a Mesos timer's figures for samples[0..n) (a ring in any order; latest = the most
 * recent sample) to the flat object metrics: "<name>" (latest), "<name>/count", and,
 * when n > 0, "/min", "/max", "/p50", "/p90", "/p95", "/p99", "/p999", "/p9999".
 */
void cr_monitor_add_timer(json_t *metrics, const char *name, const double *samples, size_t n,
                          double latest);

/* ---- the agent's reports (struct cr_agent is agent_internal.h's) -------------------- */

/*
 * GET /monitor/statistics: a JSON array with one entry per active task whose container
 * can be sampled: {"executor_id", "executor_name", "framework_id", "source",
 * "container_id" (a Corral extra), "statistics": ResourceStatistics}. A container whose
 * usage cannot be read (not created yet, already gone) is left out. cpus_limit is the
 * task's cpus (its allocation, as in Mesos); mem_limit_bytes the limit the isolator
 * enforces, else the task's mem.
 */
json_t *agent_monitor_statistics(struct cr_agent *a);

/*
 * The body of the operator call GET_CONTAINERS: {"containers": [{"framework_id":{value},
 * "executor_id":{value}, "executor_name", "container_id":{value}, "container_status":
 * {"container_id", "executor_pid"}, "resource_statistics": ResourceStatistics}]}. Every
 * container of an active task is listed; resource_statistics is left out when its usage
 * cannot be read.
 */
json_t *agent_monitor_containers(struct cr_agent *a);

/*
 * GET /metrics/snapshot: Mesos-style flat {"name": number} with slave/... (tasks by
 * state, executors, frameworks, registration, uptime, resources total/used/percent),
 * containerizer/launch_latency_ms (a timer over the agent's recent launches) and
 * system/... (cpus, load averages, memory) figures. Returns a new reference.
 */
json_t *agent_metrics_snapshot(struct cr_agent *a);

#endif
