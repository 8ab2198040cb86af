/*
 * cli.h - the command-line verbs and `corral up`.
 */
#ifndef CR_CLI_CLI_H
#define CR_CLI_CLI_H

#include <stdio.h>

/* Run verb argv[0] ("up", "agents", "exec", ...). Returns the process exit code. */
int cr_cli_main(int argc, char **argv);

/* Print the list of verbs with one line each. */
void cr_cli_usage(FILE *out);

#endif
