/*
 * exec_sched.h - the pure half of `corral exec`: Mesos v1 scheduler calls as JSON,
 * fitting a task into an offer, and reading status updates.
 *
 * exec.c owns the loop, the HTTP stream and the timers; everything that decides what to
 * send is here, free of I/O, so tests/unit/cli can check it against hand-written offers.
 * JSON follows shared/API-COMPAT.md §0 and §1 (snake_case keys, {"value": ...} ids,
 * enum names as strings). All json_t results are owned references (json_decref).
 */
#ifndef CR_CLI_EXEC_SCHED_H
#define CR_CLI_EXEC_SCHED_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

/* What `corral exec` runs; all pointers borrowed. */
struct cr_cli_task_spec {
    const char *task_id;
    const char *name;
    const char *role; /* NULL or "*" = unreserved */
    double cpus;
    double mem_mb;
    double disk_mb;          /* 0 = no disk resource */
    long ports;              /* how many ports to take from the offer */
    const char *shell;       /* non-NULL: run "/bin/sh -c shell" */
    const char *const *argv; /* otherwise: argv[0..argc) run without a shell */
    size_t argc;
    const char *const *env; /* "K=V" strings */
    size_t nenv;
};

/*
 * Does offer (a v1 Offer) hold enough cpus, mem, disk and ports for spec? Scalars are
 * compared to 3 decimals, like Mesos. When it does not, writes what is short into why
 * ("cpus 0.5 < 1") if why is non-NULL.
 */
bool cr_cli_offer_fits(const json_t *offer, const struct cr_cli_task_spec *spec, char *why,
                       size_t why_len);

/*
 * Build the TaskInfo launching spec on offer: the resources are copies of the offer's
 * resource objects (so role, allocation_info and reservations match) cut to the amounts
 * asked for; ports are the lowest free ones, exported as PORT, PORT0.. and PORTS unless
 * spec->env sets them. Returns NULL with err filled when the offer does not fit.
 */
json_t *cr_cli_task_info(const json_t *offer, const struct cr_cli_task_spec *spec,
                         struct cr_err *err);

/* SUBSCRIBE: framework "corral-exec" for user, failover_timeout 0, no capabilities; with
 * framework_id set (re-subscription) the call carries it at both levels. role may be NULL. */
json_t *cr_cli_call_subscribe(const char *user, const char *hostname, const char *role,
                              const char *framework_id);

/* ACCEPT offer_id with one LAUNCH of task_info (reference taken over), refuse_seconds 3600
 * for whatever the offer had left. */
json_t *cr_cli_call_accept(const char *framework_id, const char *offer_id, json_t *task_info);

/* DECLINE offer_ids (a json array of {"value":..} objects; reference taken over). */
json_t *cr_cli_call_decline(const char *framework_id, json_t *offer_ids, double refuse_seconds);

/* ACKNOWLEDGE one update; uuid is the base64 text from the status. */
json_t *cr_cli_call_acknowledge(const char *framework_id, const char *agent_id, const char *task_id,
                                const char *uuid);

/* KILL task_id (agent_id may be NULL). */
json_t *cr_cli_call_kill(const char *framework_id, const char *task_id, const char *agent_id);

/* RECONCILE one task (agent_id may be NULL). */
json_t *cr_cli_call_reconcile(const char *framework_id, const char *task_id, const char *agent_id);

/* TEARDOWN the framework. */
json_t *cr_cli_call_teardown(const char *framework_id);

/*
 * Exit code for a terminal task state: FINISHED 0; FAILED the exit status named in
 * message ("exited with status 3", "exit code 3") or 128+N for "signal N", else 1; every
 * other terminal state 1.
 */
int cr_cli_status_exit_code(const char *state, const char *message);

/*
 * One human line for a TaskStatus: "task web.1 FAILED exit 3: Command exited with status 3
 * (command executor failed)". Returns owned text (free()).
 */
char *cr_cli_status_line(const json_t *status);

#endif
