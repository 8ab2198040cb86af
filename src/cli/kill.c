/*
 * kill.c - `corral kill <task-id>`: kill a task through the operator API and wait until
 * it has stopped.
 *
 * Finds the task in GET /master/state (for a clear "no task" error and its framework),
 * sends the Corral extension POST /api/v1 {"type":"KILL_TASK","kill_task":{"task_id":..,
 * "framework_id":..}} (answered 202), then polls /master/state until the task reaches a
 * terminal state or the kill grace period plus a margin has passed.
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "cli/cli_common.h"
#include "cli/cli_util.h"
#include "cli/verbs.h"

static const char verb[] = "kill";

/* Poll period while waiting for the terminal state. */
#define POLL_MS 250
/* Grace period assumed when the task carries no kill_policy. */
#define DEFAULT_GRACE_S 10.0
/* Added to the grace period: the agent's SIGKILL and the status update's trip. */
#define MARGIN_S 5.0

static void usage(FILE *out, const struct cr_cli_opt *opts)
{
    fprintf(out, "usage: corral kill [--master HOST:PORT] [--wait SECS] <task-id>\n\n"
                 "Kill a task: the agent sends it SIGTERM, then SIGKILL after the grace\n"
                 "period. Waits until the task has stopped and prints its final state.\n\n"
                 "flags:\n");
    cr_cli_opts_usage(out, opts);
}

/* Grace period of a legacy task object in seconds (kill_policy.grace_period). */
static double grace_seconds(const json_t *task)
{
    const json_t *policy = json_object_get(task, "kill_policy");
    const json_t *grace = json_object_get(policy, "grace_period");
    double ns = cr_cli_json_num(grace, "nanoseconds", -1);
    return ns >= 0 ? ns / 1e9 : DEFAULT_GRACE_S;
}

static int send_kill(const char *master, const char *task_id, const char *framework_id,
                     struct cr_err *err)
{
    json_t *call = json_pack("{s:s,s:{s:{s:s}}}", "type", "KILL_TASK", "kill_task", "task_id",
                             "value", task_id);
    if (framework_id)
        json_object_set_new(json_object_get(call, "kill_task"), "framework_id",
                            json_pack("{s:s}", "value", framework_id));
    char *body = json_dumps(call, JSON_COMPACT);
    json_decref(call);
    int status = 0;
    char *answer = NULL;
    int rc = cr_cli_http("the master", master, "POST", "/api/v1", body, 15000, &status, &answer,
                         NULL, err);
    free(body);
    if (rc < 0)
        return rc;
    if (status == 409) {
        rc = -EALREADY; /* ended meanwhile: the wait below reports how */
    } else if (status != 202 && status != 200) {
        size_t n = strcspn(answer, "\n");
        cr_err_set(err, -EPROTO, "the master refused to kill task '%s': %d %.*s", task_id, status,
                   (int)(n > 200 ? 200 : n), answer);
        rc = -EPROTO;
    }
    free(answer);
    return rc;
}

/* Wait for task_id to end. Returns the exit code of the verb. */
static int wait_for_end(const char *master, const char *task_id, double wait_s)
{
    int64_t deadline = cr_now_ms() + (int64_t)(wait_s * 1000);
    char last_state[64] = "";
    bool seen = true;
    for (;;) {
        struct cr_err err = {0};
        json_t *state = NULL;
        if (cr_cli_master_state(master, &state, &err) == 0) {
            struct cr_cli_task_ref ref;
            seen = cr_cli_find_task(state, task_id, &ref) == 0;
            if (seen) {
                const char *st = cr_cli_state_short(cr_cli_json_str(ref.task, "state"));
                snprintf(last_state, sizeof(last_state), "%s", st ? st : "UNKNOWN");
                if (cr_cli_state_is_terminal(st)) {
                    printf("task %s %s\n", task_id, last_state);
                    json_decref(state);
                    return CR_CLI_EXIT_OK;
                }
            }
            json_decref(state);
        } else if (cr_now_ms() >= deadline) {
            return cr_cli_fail(verb, "%s", err.msg);
        }
        if (cr_now_ms() >= deadline)
            break;
        if (!cr_cli_sleep_ms(POLL_MS)) {
            fprintf(stderr, "corral kill: stopped waiting; the master goes on killing task '%s'\n",
                    task_id);
            return CR_CLI_EXIT_INTERRUPTED;
        }
    }
    if (!seen)
        return cr_cli_fail(verb,
                           "task '%s' is no longer in the master's state; its final state "
                           "is unknown",
                           task_id);
    return cr_cli_fail(verb,
                       "task '%s' is still %s after %.0fs; is its agent reachable? "
                       "(see 'corral agents')",
                       task_id, last_state[0] ? last_state : "running", wait_s);
}

int cr_cli_kill_main(int argc, char **argv)
{
    const char *master_flag = NULL;
    double wait_s = -1;
    struct cr_cli_opt opts[] = {
        CR_CLI_OPT_MASTER(&master_flag),
        {"wait", 0, CR_CLI_OPT_DOUBLE, &wait_s, "SECS",
         "how long to wait for the task to stop (default: its grace period + 5s)", 0, 86400},
        CR_CLI_OPT_END,
    };
    char *task_id = NULL;
    int code;
    if (!cr_cli_parse_verb_args(verb, usage, opts, argc, argv, &task_id, &code))
        return code;

    cr_cli_catch_signals();
    char *master = cr_cli_master_resolve(master_flag);
    json_t *state = NULL;
    struct cr_err err = {0};
    if (cr_cli_master_state(master, &state, &err) < 0) {
        code = cr_cli_fail(verb, "%s", err.msg);
        goto out;
    }
    struct cr_cli_task_ref ref;
    if (cr_cli_find_task(state, task_id, &ref) < 0) {
        code = cr_cli_fail(verb, "no task '%s' (see 'corral tasks --all')", task_id);
        goto out;
    }
    const char *st = cr_cli_state_short(cr_cli_json_str(ref.task, "state"));
    if (cr_cli_state_is_terminal(st)) {
        printf("task %s has already ended: %s\n", task_id, st);
        code = CR_CLI_EXIT_OK;
        goto out;
    }
    const char *framework_id = cr_cli_json_id(ref.task, "framework_id");
    if (!framework_id)
        framework_id = cr_cli_json_id(ref.framework, "id");
    if (wait_s < 0)
        wait_s = grace_seconds(ref.task) + MARGIN_S;
    int rc = send_kill(master, task_id, framework_id, &err);
    if (rc < 0 && rc != -EALREADY) {
        code = cr_cli_fail(verb, "%s", err.msg);
        goto out;
    }
    code = wait_for_end(master, task_id, wait_s);
out:
    json_decref(state);
    free(master);
    free(task_id);
    return code;
}
