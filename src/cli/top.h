/*
 * top.h - the pure part of `corral top` (top.c): a sample of every agent's
 * /monitor/statistics turned into rows, cpu percentages from two samples, the sort
 * order, and the table and JSON renderings.
 *
 * Nothing here touches the network or the clock; the verb fetches the documents and the
 * unit tests (tests/unit/cli/test_top.c) feed hand-made ones.
 */
#ifndef CR_CLI_TOP_H
#define CR_CLI_TOP_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "base/err.h"

/* One container (task) of one agent. Numbers are NAN when unknown. */
struct cr_top_row {
    char *task_id;      /* owned: the entry's source, else its executor_id */
    char *framework_id; /* owned, "" if absent */
    char *framework;    /* owned or NULL: display name (set by cr_top_name_frameworks) */
    char *agent;        /* owned: the agent's label ("host:port") */
    char *container_id; /* owned or NULL */
    double timestamp;   /* statistics.timestamp (epoch seconds) */
    double cpu_secs;    /* cpus_user_time_secs + cpus_system_time_secs */
    double cpu_percent; /* 100 = one cpu busy over the interval; NAN until two samples */
    double cpus_limit;
    double mem_rss_bytes;
    double mem_limit_bytes;
    double processes;
};

/* Rows of one refresh. Caller-owned storage: zero it or cr_top_sample_init. */
struct cr_top_sample {
    struct cr_top_row *rows; /* owned */
    size_t n, cap;
};

void cr_top_sample_init(struct cr_top_sample *s);
/* Free the rows and reset s. Accepts NULL. */
void cr_top_sample_release(struct cr_top_sample *s);

/*
 * Append one row per entry of an agent's /monitor/statistics document stats (borrowed;
 * a JSON array of {executor_id, framework_id, source, container_id?, statistics}) with
 * agent as its label (copied). Entries without an id or a statistics object are
 * skipped. Returns 0, or -EPROTO with err when stats is not an array.
 */
int cr_top_add_agent(struct cr_top_sample *s, const char *agent, const json_t *stats,
                     struct cr_err *err);

/*
 * Set each row's cpu_percent from the row of prev (may be NULL) with the same agent and
 * container (or, without a container id, the same framework and task): 100 * the growth
 * of cpu_secs / the time between the two timestamps. Rows with no earlier match, a
 * timestamp that did not advance or cpu time that went back keep NAN.
 */
void cr_top_compute(struct cr_top_sample *cur, const struct cr_top_sample *prev);

/*
 * Fill each row's framework from names (borrowed; an object framework id -> name), else
 * the framework id. Returns how many rows had an id names does not know.
 */
size_t cr_top_name_frameworks(struct cr_top_sample *s, const json_t *names);

/* Sort: cpu_percent descending (unknown last), then mem_rss_bytes descending, then agent
 * and task id ascending (a stable, deterministic order). */
void cr_top_sort(struct cr_top_sample *s);

/* Bytes as "512B", "12.3K", "64M", "1.5G" (1024-based; at most one decimal; "-" for
 * NAN). */
void cr_top_fmt_bytes(char *buf, size_t size, double bytes);

/* Print the table: TASK, FRAMEWORK, AGENT, CPU%, CPUS, MEM/LIMIT, PROCS. */
void cr_top_print(const struct cr_top_sample *s, FILE *out);

/* The rows as a JSON array of {task_id, framework_id, framework, agent, container_id,
 * cpu_percent (null when unknown), cpu_secs, cpus_limit, mem_rss_bytes, mem_limit_bytes,
 * processes, timestamp}; unknown numbers are null. New reference. */
json_t *cr_top_json(const struct cr_top_sample *s);

#endif
