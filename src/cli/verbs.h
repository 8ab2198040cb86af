/*
 * verbs.h - the entry point of each verb, one per file (src/cli/<verb>.c).
 *
 * Each takes argv with argv[0] = the verb's name, as cr_cli_main() got it, and returns
 * the process exit code: 0 success, 1 failure, 2 usage error, 130 interrupted.
 */
#ifndef CR_CLI_VERBS_H
#define CR_CLI_VERBS_H

/* corral up: run a master and N agents on this machine (up.c). */
int cr_cli_up_main(int argc, char **argv);

/* corral agents: list agents and their resources (agents.c). */
int cr_cli_agents_main(int argc, char **argv);

/* corral tasks: list tasks (tasks.c). */
int cr_cli_tasks_main(int argc, char **argv);

/* corral exec: run one command as a task, as a Mesos v1 framework (exec.c). */
int cr_cli_exec_main(int argc, char **argv);

/* corral logs: print a task's stdout or stderr from its agent's sandbox (logs.c). */
int cr_cli_logs_main(int argc, char **argv);

/* corral kill: kill a task through the operator API (kill.c). */
int cr_cli_kill_main(int argc, char **argv);

/* corral top: per-task cpu and memory from the agents' /monitor/statistics (top.c). */
int cr_cli_top_main(int argc, char **argv);

/* corral run: create an app from flags and wait for its deployment (run.c). */
int cr_cli_run_main(int argc, char **argv);

/* corral apps: list the apps with their counts and deployments (apps.c). */
int cr_cli_apps_main(int argc, char **argv);

/* corral deploy: create or update apps from Marathon JSON (deploy.c). */
int cr_cli_deploy_main(int argc, char **argv);

/* corral scale: change an app's number of instances (apps.c). */
int cr_cli_scale_main(int argc, char **argv);

/* corral restart: rolling restart of an app (apps.c). */
int cr_cli_restart_main(int argc, char **argv);

/* corral rollback: roll back a running deployment or go to an earlier version (apps.c). */
int cr_cli_rollback_main(int argc, char **argv);

/* corral why: why an app's instances are not placed, from /v2/queue (apps.c). */
int cr_cli_why_main(int argc, char **argv);

#endif
