/*
 * run.c - `corral run --name NAME [flags] -- CMD [ARGS...]`: create an app (a long-running
 * service kept at N instances) from flags, wait for its deployment and show where its
 * instances run.
 *
 * The flags become a Marathon App (cr_apps_build_app, apps_common.c) sent as
 * POST /v2/apps; the deployment is followed on /v2/events (apps_wait.c) unless --no-wait;
 * then GET /v2/apps/<id> lists the instances with their host:ports.
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "cli/apps_common.h"
#include "cli/cli_common.h"
#include "cli/cli_util.h"
#include "cli/verbs.h"

static const char verb[] = "run";

static void usage(FILE *out, const struct cr_cli_opt *opts)
{
    fprintf(out,
            "usage: corral run --name NAME [--instances N] [--cpus N] [--mem MB] [--disk MB]\n"
            "                  [--port N]... [--env K=V]... [--label K=V]...\n"
            "                  [--constraint FIELD:OP[:VALUE]]... [--health CHECK] [--spread]\n"
            "                  [--no-wait] [--master HOST:PORT] -- CMD [ARGS...]\n\n"
            "Create an app: Corral keeps --instances copies of the command running, replaces\n"
            "those that fail, and places them filling one machine before the next (--spread:\n"
            "the opposite). One word after '--' runs with /bin/sh -c (quote it:\n"
            "'python3 -m http.server $PORT0'); several run as they are. Each --port takes a\n"
            "host port (0 = any free one) that the command sees as $PORT0, $PORT1, ...\n"
            "Constraints: hostname:UNIQUE, rack:CLUSTER:r1, rack:GROUP_BY, hostname:LIKE:a.*,\n"
            "hostname:UNLIKE:b.*, rack:MAX_PER:2, rack:IS:r1.\n"
            "Health checks run on the agent (first after %d s, every %d s, timeout %d s;\n"
            "failures in the first %d s are ignored; %d in a row replace the instance):\n"
            "  http[:/PATH]  HTTP GET on the first port answers 2xx/3xx (adds a port if none)\n"
            "  tcp           the first port accepts a connection (adds a port if none)\n"
            "  cmd:COMMAND   the command exits 0\n"
            "Then waits for the deployment and prints where the instances run.\n\n"
            "flags:\n",
            CR_APPS_HC_DELAY_S, CR_APPS_HC_INTERVAL_S, CR_APPS_HC_TIMEOUT_S, CR_APPS_HC_GRACE_S,
            CR_APPS_HC_MAX_FAILURES);
    cr_cli_opts_usage(out, opts);
}

int cr_cli_run_main(int argc, char **argv)
{
    const char *master_flag = NULL, *name = NULL, *health = NULL;
    long instances = 1;
    double cpus = 0.1, mem = 64, disk = 0;
    bool is_spread = false, is_no_wait = false;
    struct cr_cli_strlist ports = {0}, env = {0}, labels = {0}, constraints = {0};
    struct cr_cli_opt opts[] = {
        {"name", 0, CR_CLI_OPT_STRING, &name, "NAME", "the app id ('web' is '/web'); required", 0,
         0},
        {"instances", 'n', CR_CLI_OPT_INT, &instances, "N", "how many instances (default 1)", 0,
         1000000},
        {"cpus", 0, CR_CLI_OPT_DOUBLE, &cpus, "N", "cpus per instance (default 0.1)", 0.001, 1e6},
        {"mem", 0, CR_CLI_OPT_DOUBLE, &mem, "MB", "memory per instance in MB (default 64)", 1, 1e9},
        {"disk", 0, CR_CLI_OPT_DOUBLE, &disk, "MB", "disk per instance in MB (default 0)", 0, 1e12},
        {"port", 'p', CR_CLI_OPT_LIST, &ports, "N",
         "a host port per instance, 0 = any; seen as $PORT0.. (repeatable)", 0, 0},
        {"env", 'e', CR_CLI_OPT_LIST, &env, "K=V", "set an environment variable (repeatable)", 0,
         0},
        {"label", 'l', CR_CLI_OPT_LIST, &labels, "K=V", "add a label (repeatable)", 0, 0},
        {"constraint", 'c', CR_CLI_OPT_LIST, &constraints, "FIELD:OP[:VALUE]",
         "a placement constraint, e.g. hostname:UNIQUE (repeatable)", 0, 0},
        {"health", 0, CR_CLI_OPT_STRING, &health, "CHECK",
         "http[:/PATH], tcp or cmd:COMMAND (see above)", 0, 0},
        {"spread", 0, CR_CLI_OPT_BOOL, &is_spread, NULL,
         "spread instances over machines instead of filling one first", 0, 0},
        {"no-wait", 0, CR_CLI_OPT_BOOL, &is_no_wait, NULL,
         "return once the app is created, without waiting for its deployment", 0, 0},
        CR_CLI_OPT_MASTER(&master_flag),
        CR_CLI_OPT_END,
    };
    struct cr_cli_args args;
    struct cr_err err = {0};
    int code;
    int rc =
        cr_cli_args_parse(opts, argc - 1, argv + 1, CR_CLI_ARGS_STOP_AT_POSITIONAL, &args, &err);
    json_t *app = NULL;
    if (rc == 1) {
        usage(stdout, opts);
        code = CR_CLI_EXIT_OK;
        goto out;
    }
    if (rc == 0 && !name)
        rc = cr_err_set(&err, -EINVAL, "give the app a name with --name");
    if (rc == 0) {
        struct cr_apps_run_spec spec = {
            .name = name,
            .instances = instances,
            .cpus = cpus,
            .mem = mem,
            .disk = disk,
            .ports = ports.items,
            .nports = ports.len,
            .env = env.items,
            .nenv = env.len,
            .labels = labels.items,
            .nlabels = labels.len,
            .constraints = constraints.items,
            .nconstraints = constraints.len,
            .health = health,
            .is_spread = is_spread,
            .argv = args.pos,
            .argc = args.npos,
        };
        rc = cr_apps_build_app(&spec, &app, &err);
    }
    if (rc < 0) {
        code = cr_cli_usage_fail(verb, "%s", err.msg);
        goto out;
    }

    char *master = cr_cli_master_resolve(master_flag);
    char *id = cr_xstrdup(cr_cli_json_str(app, "id"));
    char *body = json_dumps(app, JSON_COMPACT);
    const char *const app_ids[] = {id, NULL};
    printf("creating %s\n", cr_apps_display_id(id));
    code = cr_apps_change(verb, master, "POST", "/v2/apps", body, app_ids, !is_no_wait);
    if (code == CR_CLI_EXIT_OK && !is_no_wait)
        code = cr_apps_print_instances(verb, master, id);
    free(body);
    free(id);
    free(master);
out:
    json_decref(app);
    cr_cli_args_release(&args);
    cr_cli_strlist_release(&ports);
    cr_cli_strlist_release(&env);
    cr_cli_strlist_release(&labels);
    cr_cli_strlist_release(&constraints);
    return code;
}
