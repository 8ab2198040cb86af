/*
 * apps.c - the app verbs that act on existing apps, over the master's Marathon API
 * (shared/API-COMPAT.md §6): `corral apps` (list), `corral scale`, `corral restart`,
 * `corral rollback` and `corral why` (why instances are not placed).
 *
 * App ids typed as "web" mean "/web". Changes answer with a deployment; --wait follows it
 * on /v2/events (apps_wait.c) and exits 0 when it succeeded, 1 with the reason when not.
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

/*
 * Parse argv (argv[0] = the verb) against opts, wanting between min_pos and max_pos
 * positional arguments. Returns true when the verb goes on (release *args), false with
 * *code set after --help or a usage error.
 */
static bool parse(const char *verb, cr_cli_usage_fn *usage, const struct cr_cli_opt *opts, int argc,
                  char **argv, size_t min_pos, size_t max_pos, const char *what,
                  struct cr_cli_args *args, int *code)
{
    struct cr_err err = {0};
    int rc = cr_cli_args_parse(opts, argc - 1, argv + 1, 0, args, &err);
    if (rc == 1) {
        usage(stdout, opts);
        cr_cli_args_release(args);
        *code = CR_CLI_EXIT_OK;
        return false;
    }
    if (rc == 0 && args->npos < min_pos)
        rc = cr_err_set(&err, -EINVAL, "missing %s", what);
    if (rc == 0 && args->npos > max_pos)
        rc = cr_err_set(&err, -EINVAL, "unexpected argument '%s'", args->pos[max_pos]);
    if (rc < 0) {
        cr_cli_args_release(args);
        *code = cr_cli_usage_fail(verb, "%s", err.msg);
        return false;
    }
    return true;
}

/* GET path as JSON; NULL after reporting in verb's voice (or quietly when quiet). */
static json_t *get_json(const char *verb, const char *master, const char *path, bool quiet)
{
    struct cr_apps_reply r;
    struct cr_err err = {0};
    if (cr_apps_request(master, "GET", path, NULL, &r, &err) < 0) {
        if (!quiet)
            cr_cli_fail(verb, "%s", err.msg);
        return NULL;
    }
    json_t *j = NULL;
    if (r.status == 200 && r.json) {
        j = json_incref(r.json);
    } else if (!quiet) {
        char *what = cr_xasprintf("GET %s", path);
        cr_apps_fail_reply(verb, what, &r);
        free(what);
    }
    cr_apps_reply_release(&r);
    return j;
}

/* ---- corral apps ------------------------------------------------------------------------- */

static void apps_usage(FILE *out, const struct cr_cli_opt *opts)
{
    fprintf(out, "usage: corral apps [--json] [--master HOST:PORT]\n\n"
                 "List the apps: id, instances as running/healthy/staged/wanted (healthy is '-'\n"
                 "for an app without health checks), the running deployment's step or the\n"
                 "launch delay of a crash-looping app, and the command.\n\n"
                 "flags:\n");
    cr_cli_opts_usage(out, opts);
}

int cr_cli_apps_main(int argc, char **argv)
{
    static const char verb[] = "apps";
    const char *master_flag = NULL;
    bool as_json = false;
    struct cr_cli_opt opts[] = {
        {"json", 0, CR_CLI_OPT_BOOL, &as_json, NULL, "print the master's app objects as JSON", 0,
         0},
        CR_CLI_OPT_MASTER(&master_flag),
        CR_CLI_OPT_END,
    };
    struct cr_cli_args args;
    int code;
    if (!parse(verb, apps_usage, opts, argc, argv, 0, 0, NULL, &args, &code))
        return code;
    cr_cli_args_release(&args);

    char *master = cr_cli_master_resolve(master_flag);
    json_t *apps =
        get_json(verb, master, "/v2/apps?embed=apps.counts&embed=apps.deployments", false);
    if (!apps) {
        free(master);
        return CR_CLI_EXIT_FAIL;
    }
    if (as_json) {
        char *text = json_dumps(json_object_get(apps, "apps"), JSON_INDENT(2));
        puts(text ? text : "[]");
        free(text);
    } else {
        /* The deployments and the queue only add detail: do without them if they fail. */
        json_t *deployments = get_json(verb, master, "/v2/deployments", true);
        json_t *queue = get_json(verb, master, "/v2/queue", true);
        cr_apps_print_table(apps, json_is_array(deployments) ? deployments : NULL, queue,
                            cr_wall_seconds(), stdout);
        json_decref(deployments);
        json_decref(queue);
    }
    json_decref(apps);
    free(master);
    return CR_CLI_EXIT_OK;
}

/* ---- corral scale / restart / rollback ------------------------------------------------- */

#define OPT_WAIT(out)                                                                              \
    {                                                                                              \
        "wait", 'w', CR_CLI_OPT_BOOL, (out), NULL,                                                 \
            "follow the deployment; exit 1 with the reason if it fails", 0, 0                      \
    }
#define OPT_FORCE(out)                                                                             \
    {                                                                                              \
        "force", 0, CR_CLI_OPT_BOOL, (out), NULL,                                                  \
            "go ahead even if a deployment holds the app (it is cancelled)", 0, 0                  \
    }

static void scale_usage(FILE *out, const struct cr_cli_opt *opts)
{
    fprintf(out, "usage: corral scale [--wait] [--force] [--master HOST:PORT] <app> <instances>\n\n"
                 "Change how many instances of an app run (PUT /v2/apps/<app>).\n\n"
                 "flags:\n");
    cr_cli_opts_usage(out, opts);
}

int cr_cli_scale_main(int argc, char **argv)
{
    static const char verb[] = "scale";
    const char *master_flag = NULL;
    bool is_wait = false, is_force = false;
    struct cr_cli_opt opts[] = {
        OPT_WAIT(&is_wait),
        OPT_FORCE(&is_force),
        CR_CLI_OPT_MASTER(&master_flag),
        CR_CLI_OPT_END,
    };
    struct cr_cli_args args;
    int code;
    if (!parse(verb, scale_usage, opts, argc, argv, 2, 2, "the app and the number of instances",
               &args, &code))
        return code;
    char *end = NULL;
    long n = strtol(args.pos[1], &end, 10);
    if (!*args.pos[1] || *end || n < 0 || n > 1000000) {
        code = cr_cli_usage_fail(verb, "'%s' is not a number of instances", args.pos[1]);
        cr_cli_args_release(&args);
        return code;
    }
    char *id = cr_apps_id(args.pos[0]);
    cr_cli_args_release(&args);
    char *master = cr_cli_master_resolve(master_flag);
    /* PUT would create an app that does not exist (and fail for want of a command). */
    char *get = cr_apps_path(id, NULL);
    struct cr_apps_reply r;
    struct cr_err err = {0};
    int rc = cr_apps_request(master, "GET", get, NULL, &r, &err);
    free(get);
    if (rc == 0 && r.status == 404)
        code = cr_cli_fail(verb, "app '%s' does not exist", cr_apps_display_id(id));
    else if (rc < 0)
        code = cr_cli_fail(verb, "%s", err.msg);
    if (rc == 0)
        cr_apps_reply_release(&r);
    if (rc < 0 || r.status == 404) {
        free(master);
        free(id);
        return code;
    }
    char *path = cr_apps_path(id, is_force ? "?force=true" : NULL);
    char *body = cr_xasprintf("{\"instances\": %ld}", n);
    const char *const app_ids[] = {id, NULL};
    code = cr_apps_change(verb, master, "PUT", path, body, app_ids, is_wait);
    free(body);
    free(path);
    free(master);
    free(id);
    return code;
}

static void restart_usage(FILE *out, const struct cr_cli_opt *opts)
{
    fprintf(out, "usage: corral restart [--wait] [--force] [--master HOST:PORT] <app>\n\n"
                 "Replace every instance of an app with a new one, rolling as the app's\n"
                 "upgradeStrategy allows (POST /v2/apps/<app>/restart).\n\n"
                 "flags:\n");
    cr_cli_opts_usage(out, opts);
}

int cr_cli_restart_main(int argc, char **argv)
{
    static const char verb[] = "restart";
    const char *master_flag = NULL;
    bool is_wait = false, is_force = false;
    struct cr_cli_opt opts[] = {
        OPT_WAIT(&is_wait),
        OPT_FORCE(&is_force),
        CR_CLI_OPT_MASTER(&master_flag),
        CR_CLI_OPT_END,
    };
    struct cr_cli_args args;
    int code;
    if (!parse(verb, restart_usage, opts, argc, argv, 1, 1, "the app", &args, &code))
        return code;
    char *id = cr_apps_id(args.pos[0]);
    cr_cli_args_release(&args);
    char *master = cr_cli_master_resolve(master_flag);
    char *path = cr_apps_path(id, is_force ? "/restart?force=true" : "/restart");
    const char *const app_ids[] = {id, NULL};
    code = cr_apps_change(verb, master, "POST", path, NULL, app_ids, is_wait);
    free(path);
    free(master);
    free(id);
    return code;
}

static void rollback_usage(FILE *out, const struct cr_cli_opt *opts)
{
    fprintf(out,
            "usage: corral rollback [--wait] [--force] [--master HOST:PORT] <app> [version]\n\n"
            "Without a version: if a deployment of the app is running, roll it back\n"
            "(DELETE /v2/deployments/<id>); else go back to the version before the current\n"
            "one. With a version (see GET /v2/apps/<app>/versions): go to that version.\n\n"
            "flags:\n");
    cr_cli_opts_usage(out, opts);
}

int cr_cli_rollback_main(int argc, char **argv)
{
    static const char verb[] = "rollback";
    const char *master_flag = NULL;
    bool is_wait = false, is_force = false;
    struct cr_cli_opt opts[] = {
        OPT_WAIT(&is_wait),
        OPT_FORCE(&is_force),
        CR_CLI_OPT_MASTER(&master_flag),
        CR_CLI_OPT_END,
    };
    struct cr_cli_args args;
    int code;
    if (!parse(verb, rollback_usage, opts, argc, argv, 1, 2, "the app", &args, &code))
        return code;
    char *id = cr_apps_id(args.pos[0]);
    char *version = cr_xstrdup(args.npos > 1 ? args.pos[1] : NULL);
    cr_cli_args_release(&args);
    char *master = cr_cli_master_resolve(master_flag);
    const char *const app_ids[] = {id, NULL};
    char *app_path = cr_apps_path(id, NULL);
    json_t *app = NULL;
    code = CR_CLI_EXIT_FAIL;

    if (!version) {
        json_t *doc = get_json(verb, master, app_path, false);
        if (!doc)
            goto out;
        app = json_incref(json_object_get(doc, "app"));
        json_decref(doc);
        const char *dep =
            cr_cli_json_str(json_array_get(cr_cli_json_array(app, "deployments"), 0), "id");
        if (dep) {
            printf("rolling back deployment %s of %s\n", dep, cr_apps_display_id(id));
            char *escaped = cr_cli_url_escape(dep);
            char *path = cr_xasprintf("/v2/deployments/%s", escaped);
            free(escaped);
            code = cr_apps_change(verb, master, "DELETE", path, NULL, app_ids, is_wait);
            free(path);
            goto out;
        }
        char *vpath = cr_apps_path(id, "/versions");
        json_t *versions = get_json(verb, master, vpath, false);
        free(vpath);
        if (!versions)
            goto out;
        const char *prev = cr_apps_previous_version(versions, cr_cli_json_str(app, "version"));
        version = cr_xstrdup(prev);
        json_decref(versions);
        if (!version) {
            code = cr_cli_fail(verb, "%s has no version before the current one",
                               cr_apps_display_id(id));
            goto out;
        }
    }
    printf("rolling %s back to version %s\n", cr_apps_display_id(id), version);
    json_t *body = json_pack("{s:s}", "version", version);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    char *path = cr_apps_path(id, is_force ? "?force=true" : NULL);
    code = cr_apps_change(verb, master, "PUT", path, text, app_ids, is_wait);
    free(path);
    free(text);
out:
    json_decref(app);
    free(app_path);
    free(version);
    free(master);
    free(id);
    return code;
}

/* ---- corral why --------------------------------------------------------------------------- */

static void why_usage(FILE *out, const struct cr_cli_opt *opts)
{
    fprintf(out, "usage: corral why [--master HOST:PORT] <app>\n\n"
                 "Say why instances of an app are not running: how many wait and since when,\n"
                 "the launch delay of a crash-looping app, and for each requirement (cpus, mem,\n"
                 "disk, ports, each constraint) how many machines failed it (GET /v2/queue).\n\n"
                 "flags:\n");
    cr_cli_opts_usage(out, opts);
}

int cr_cli_why_main(int argc, char **argv)
{
    static const char verb[] = "why";
    const char *master_flag = NULL;
    struct cr_cli_opt opts[] = {
        CR_CLI_OPT_MASTER(&master_flag),
        CR_CLI_OPT_END,
    };
    struct cr_cli_args args;
    int code;
    if (!parse(verb, why_usage, opts, argc, argv, 1, 1, "the app", &args, &code))
        return code;
    char *id = cr_apps_id(args.pos[0]);
    cr_cli_args_release(&args);
    char *master = cr_cli_master_resolve(master_flag);
    code = CR_CLI_EXIT_FAIL;
    json_t *queue = get_json(verb, master, "/v2/queue", false);
    if (queue && cr_apps_print_why(id, queue, cr_wall_seconds(), stdout)) {
        code = CR_CLI_EXIT_OK;
    } else if (queue) {
        /* Not waiting: every instance is placed, or there is no such app. */
        char *path = cr_apps_path(id, NULL);
        struct cr_apps_reply r;
        struct cr_err err = {0};
        if (cr_apps_request(master, "GET", path, NULL, &r, &err) < 0) {
            cr_cli_fail(verb, "%s", err.msg);
        } else if (r.status == 404) {
            cr_cli_fail(verb, "no app '%s' (see 'corral apps')", cr_apps_display_id(id));
        } else if (r.status != 200) {
            char *what = cr_xasprintf("GET %s", path);
            cr_apps_fail_reply(verb, what, &r);
            free(what);
        } else {
            const json_t *app = json_object_get(r.json, "app");
            printf("%s: every instance is placed (%d running, %d wanted)\n", cr_apps_display_id(id),
                   (int)cr_cli_json_num(app, "tasksRunning", 0),
                   (int)cr_cli_json_num(app, "instances", 0));
            code = CR_CLI_EXIT_OK;
        }
        cr_apps_reply_release(&r);
        free(path);
    }
    json_decref(queue);
    free(master);
    free(id);
    return code;
}
