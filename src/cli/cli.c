/*
 * cli.c - verb dispatch for the command-line client (see cli.h).
 *
 * Each verb lives in its own file and is listed once in the table below, which also
 * feeds `corral --help`.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "cli/verbs.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} verbs[] = {
    {"agents", cr_cli_agents_main, "list agents with their total, used and free resources"},
    {"tasks", cr_cli_tasks_main, "list running tasks (--all: finished ones too)"},
    {"exec", cr_cli_exec_main, "run a command as a task and wait for it to end"},
    {"logs", cr_cli_logs_main, "print a task's or an app's stdout or stderr (-f to follow)"},
    {"kill", cr_cli_kill_main, "kill a task and wait until it has stopped"},
    {"top", cr_cli_top_main, "show the cpu and memory of running tasks (--once: one table)"},
    {"run", cr_cli_run_main, "create an app: keep N instances of a command running"},
    {"apps", cr_cli_apps_main, "list apps: instances running/healthy/staged/wanted, deployments"},
    {"deploy", cr_cli_deploy_main, "create or update apps from Marathon JSON (-f FILE)"},
    {"scale", cr_cli_scale_main, "change how many instances of an app run"},
    {"restart", cr_cli_restart_main, "replace every instance of an app, rolling"},
    {"rollback", cr_cli_rollback_main, "roll back an app's deployment or go to an earlier version"},
    {"why", cr_cli_why_main, "say why an app's instances are not running"},
};

void cr_cli_usage(FILE *out)
{
    fprintf(out, "verbs (talk to the master given by --master, $CORRAL_MASTER, a running\n"
                 "'corral up', or 127.0.0.1:5050):\n");
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        fprintf(out, "  %-10s  %s\n", verbs[i].name, verbs[i].summary);
}

int cr_cli_main(int argc, char **argv)
{
    if (argc < 1 || !argv[0])
        return 2;
    if (strcmp(argv[0], "up") == 0)
        return cr_cli_up_main(argc, argv);
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (strcmp(argv[0], verbs[i].name) == 0)
            return verbs[i].run(argc, argv);
    fprintf(stderr, "corral: unknown command '%s'\n", argv[0]);
    fprintf(stderr, "see 'corral --help'\n");
    return 2;
}
