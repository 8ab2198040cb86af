/*
 * main.c - mode dispatch for the one corral binary. Nothing else lives here.
 *
 *   corral master ...     the control plane        (src/master)
 *   corral agent ...      one per machine          (src/agent)
 *   corral up ...         a local cluster          (src/cli)
 *   corral executor ...   runs corral-executor     (src/executor; normally the agent starts
 *                                                   that small binary itself, one per task)
 *   corral <verb> ...     the command-line client  (src/cli)
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "cli/cli.h"
#include "master/master.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: corral <mode|verb> [flags]\n\n"
                 "daemons:\n"
                 "  master      run a master (the control plane)\n"
                 "  agent       run an agent (one per machine)\n"
                 "  up          run a whole cluster on this machine (master + N agents)\n"
                 "  executor    the per-task executor (started by agents)\n\n");
    cr_cli_usage(out);
    fprintf(out, "\n'corral <mode|verb> --help' describes each one.\n");
}

/* `corral executor ...` = the corral-executor binary installed next to this one. */
static int run_executor(char **argv)
{
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 32);
    if (n <= 0) {
        fprintf(stderr, "corral: cannot find this program's path: %s\n", strerror(errno));
        return 1;
    }
    path[n] = '\0';
    char *slash = strrchr(path, '/');
    strcpy(slash ? slash + 1 : path, "corral-executor");
    argv[0] = path;
    execv(path, argv);
    fprintf(stderr, "corral: cannot run '%s': %s\n", path, strerror(errno));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *mode = argv[1];
    if (strcmp(mode, "--help") == 0 || strcmp(mode, "-h") == 0 || strcmp(mode, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(mode, "--version") == 0 || strcmp(mode, "version") == 0) {
        printf("corral %s\n", CR_VERSION);
        return 0;
    }
    if (strcmp(mode, "master") == 0)
        return cr_master_main(argc - 1, argv + 1);
    if (strcmp(mode, "agent") == 0)
        return cr_agent_main(argc - 1, argv + 1);
    if (strcmp(mode, "executor") == 0)
        return run_executor(argv + 1);
    return cr_cli_main(argc - 1, argv + 1);
}
