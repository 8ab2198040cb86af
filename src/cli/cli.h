/*
 * cli.h - the command-line verbs and `corral up`, a thin shell over the masters' and
 * agents' public HTTP APIs (src/cli/<verb>.c, one file per verb).
 *
 * main.c sends every mode other than `master` and `agent` here.
 */
#ifndef CR_CLI_CLI_H
#define CR_CLI_CLI_H

#include <stdio.h>

/*
 * Run verb argv[0] ("up", "agents", "tasks", "exec", "logs", "kill", "top") with its flags.
 * Returns the process exit code: 0 success, 1 failure, 2 usage error (including an
 * unknown verb), 130 interrupted.
 */
int cr_cli_main(int argc, char **argv);

/* Print the list of verbs with one line each. */
void cr_cli_usage(FILE *out);

#endif
