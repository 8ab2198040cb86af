/*
 * tasks.c - `corral tasks [--all]`: tasks known to the master, from GET /master/state
 * (legacy JSON, shared/API-COMPAT.md §4.3): frameworks[].tasks and unreachable_tasks,
 * plus with --all completed_tasks and the tasks of completed frameworks.
 *
 * Agents are shown as hostname:port (a `corral up` cluster has several agents on one
 * host); the age is the time since the task's latest status update.
 */
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "cli/cli_common.h"
#include "cli/cli_util.h"
#include "cli/verbs.h"

static const char verb[] = "tasks";

static void usage(FILE *out, const struct cr_cli_opt *opts)
{
    fprintf(out, "usage: corral tasks [--all] [--master HOST:PORT] [--json]\n\n"
                 "List the tasks the master knows: id, framework, state, agent, resources\n"
                 "and the time since the latest status update. Without --all only tasks that\n"
                 "have not ended are shown.\n\n"
                 "flags:\n");
    cr_cli_opts_usage(out, opts);
}

struct listing {
    const json_t *state;
    struct cr_cli_table table;
    json_t *as_json; /* non-NULL with --json: tasks are collected here instead */
    double now;
};

static void add_task(struct listing *l, const json_t *task, const json_t *framework)
{
    if (l->as_json) {
        json_array_append(l->as_json, (json_t *)task);
        return;
    }
    const char *agent_id = cr_cli_json_id(task, "slave_id");
    if (!agent_id)
        agent_id = cr_cli_json_id(task, "agent_id");
    const json_t *agent = cr_cli_find_agent(l->state, agent_id);
    char agent_text[300];
    if (agent)
        snprintf(agent_text, sizeof(agent_text), "%s:%d",
                 cr_cli_json_str(agent, "hostname") ? cr_cli_json_str(agent, "hostname") : "?",
                 (int)cr_cli_json_num(agent, "port", 5051));
    else
        snprintf(agent_text, sizeof(agent_text), "%s", agent_id ? agent_id : "-");

    const json_t *res = json_object_get(task, "resources");
    char cpus[32], mem[32], age[32];
    cr_cli_fmt_num(cpus, sizeof(cpus), cr_cli_json_num(res, "cpus", NAN));
    cr_cli_fmt_num(mem, sizeof(mem), cr_cli_json_num(res, "mem", NAN));
    double updated = cr_cli_task_updated(task);
    cr_cli_fmt_age(age, sizeof(age), isnan(updated) ? NAN : l->now - updated);
    if (!isnan(updated) && l->now - updated < 0)
        snprintf(age, sizeof(age), "0s");

    const char *fw_name = cr_cli_json_str(framework, "name");
    const char *cells[] = {cr_cli_json_id(task, "id"),
                           fw_name ? fw_name : cr_cli_json_id(task, "framework_id"),
                           cr_cli_state_short(cr_cli_json_str(task, "state")),
                           agent_text,
                           cpus,
                           mem,
                           age};
    cr_cli_table_add(&l->table, cells);
}

/* Add the tasks in container[key]; framework is the framework they belong to or NULL. */
static void add_list(struct listing *l, const json_t *container, const char *key,
                     const json_t *framework)
{
    size_t i;
    json_t *task;
    json_array_foreach(cr_cli_json_array(container, key), i, task) add_task(l, task, framework);
}

int cr_cli_tasks_main(int argc, char **argv)
{
    const char *master_flag = NULL;
    bool as_json = false, all = false;
    struct cr_cli_opt opts[] = {
        {"all", 'a', CR_CLI_OPT_BOOL, &all, NULL, "include tasks that have ended", 0, 0},
        CR_CLI_OPT_MASTER(&master_flag),
        {"json", 0, CR_CLI_OPT_BOOL, &as_json, NULL,
         "print the master's task objects as a JSON list", 0, 0},
        CR_CLI_OPT_END,
    };
    int code;
    if (!cr_cli_parse_verb_args(verb, usage, opts, argc, argv, NULL, &code))
        return code;

    json_t *state = cr_cli_fetch_master_state(verb, master_flag);
    if (!state)
        return CR_CLI_EXIT_FAIL;
    if (!cr_cli_json_array(state, "frameworks") && json_object_get(state, "frameworks")) {
        json_decref(state);
        return cr_cli_fail(verb, "the master's state has a 'frameworks' field that is not a list");
    }

    static const char *const headers[] = {"TASK ID", "FRAMEWORK", "STATE",  "AGENT",
                                          "CPUS",    "MEM MB",    "UPDATED"};
    struct listing l = {.state = state, .now = cr_wall_seconds()};
    cr_cli_table_init(&l.table, 7, headers, (1u << 4) | (1u << 5) | (1u << 6));
    if (as_json)
        l.as_json = json_array();

    size_t i;
    json_t *fw;
    json_array_foreach(cr_cli_json_array(state, "frameworks"), i, fw)
    {
        add_list(&l, fw, "tasks", fw);
        add_list(&l, fw, "unreachable_tasks", fw);
    }
    add_list(&l, state, "orphan_tasks", NULL);
    if (all) {
        json_array_foreach(cr_cli_json_array(state, "frameworks"), i, fw)
            add_list(&l, fw, "completed_tasks", fw);
        json_array_foreach(cr_cli_json_array(state, "completed_frameworks"), i, fw)
        {
            add_list(&l, fw, "tasks", fw);
            add_list(&l, fw, "unreachable_tasks", fw);
            add_list(&l, fw, "completed_tasks", fw);
        }
    }

    if (as_json) {
        char *text = json_dumps(l.as_json, JSON_INDENT(2));
        puts(text ? text : "[]");
        free(text);
        json_decref(l.as_json);
    } else if (l.table.nrows == 0) {
        printf(all ? "no tasks\n" : "no running tasks (see 'corral tasks --all')\n");
    } else {
        cr_cli_table_print(&l.table, stdout);
    }
    cr_cli_table_release(&l.table);
    json_decref(state);
    return CR_CLI_EXIT_OK;
}
