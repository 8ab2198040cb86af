/*
 * deploy.c - `corral deploy -f app.json [--wait] [--force]`: create or update apps from
 * Marathon JSON (shared/API-COMPAT.md §6.3).
 *
 * A file holding one App object is sent as PUT /v2/apps/<id> (creates it or updates it
 * with a rolling deployment); an array of them as PUT /v2/apps. With --wait the
 * deployment's steps are streamed (apps_wait.c) and the exit code says how it ended.
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

static const char verb[] = "deploy";

static void usage(FILE *out, const struct cr_cli_opt *opts)
{
    fprintf(out, "usage: corral deploy -f FILE [--wait] [--force] [--master HOST:PORT]\n\n"
                 "Create or update apps from Marathon JSON: FILE ('-' = stdin) holds one app\n"
                 "object (PUT /v2/apps/<id>) or a list of them (PUT /v2/apps). An update rolls\n"
                 "out as the app's upgradeStrategy says. With --wait, print the deployment's\n"
                 "steps and exit 0 when it succeeded, 1 with the reason when it failed.\n\n"
                 "flags:\n");
    cr_cli_opts_usage(out, opts);
}

/* Read FILE or stdin ("-"). Returns 0 with *out owned, or negative with err. */
static int read_input(const char *file, char **out, size_t *len, struct cr_err *err)
{
    if (strcmp(file, "-") != 0)
        return cr_read_file(file, out, len, err);
    struct cr_buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
        cr_buf_append(&b, chunk, n);
    if (ferror(stdin)) {
        cr_buf_release(&b);
        return cr_err_set(err, -EIO, "read stdin: input error");
    }
    *out = cr_buf_steal(&b, len);
    return 0;
}

/* Check one app object and add its absolute id to ids. */
static int check_app(const json_t *app, size_t index, json_t *ids, struct cr_err *err)
{
    if (!json_is_object(app))
        return cr_err_set(err, -EINVAL, "app %zu is not a JSON object", index);
    const char *id = cr_cli_json_str(app, "id");
    if (!id || !*id)
        return cr_err_set(err, -EINVAL, "app %zu has no \"id\"", index);
    char *abs = cr_apps_id(id);
    json_array_append_new(ids, json_string(abs));
    free(abs);
    return 0;
}

int cr_cli_deploy_main(int argc, char **argv)
{
    const char *master_flag = NULL, *file = NULL;
    bool is_wait = false, is_force = false;
    struct cr_cli_opt opts[] = {
        {"file", 'f', CR_CLI_OPT_STRING, &file, "FILE",
         "Marathon app JSON: one app or a list ('-' = stdin); required", 0, 0},
        {"wait", 'w', CR_CLI_OPT_BOOL, &is_wait, NULL,
         "follow the deployment; exit 1 with the reason if it fails", 0, 0},
        {"force", 0, CR_CLI_OPT_BOOL, &is_force, NULL,
         "go ahead even if a deployment holds the app (it is cancelled)", 0, 0},
        CR_CLI_OPT_MASTER(&master_flag),
        CR_CLI_OPT_END,
    };
    int code;
    if (!cr_cli_parse_verb_args(verb, usage, opts, argc, argv, NULL, &code))
        return code;
    if (!file)
        return cr_cli_usage_fail(verb, "which file? give it with -f");

    char *text = NULL;
    size_t len = 0;
    struct cr_err err = {0};
    if (read_input(file, &text, &len, &err) < 0)
        return cr_cli_fail(verb, "%s", err.msg);
    json_t *doc = cr_cli_json_parse(text, len, &err);
    free(text);
    if (!doc)
        return cr_cli_fail(verb, "'%s': %s", file, err.msg);

    json_t *ids = json_array();
    int rc = 0;
    if (json_is_array(doc)) {
        size_t i;
        json_t *app;
        if (json_array_size(doc) == 0)
            rc = cr_err_set(&err, -EINVAL, "the list of apps is empty");
        json_array_foreach(doc, i, app) if (rc == 0) rc = check_app(app, i, ids, &err);
    } else if (json_is_object(doc)) {
        rc = check_app(doc, 0, ids, &err);
    } else {
        rc = cr_err_set(&err, -EINVAL, "expected an app object or a list of them");
    }
    if (rc < 0) {
        json_decref(ids);
        json_decref(doc);
        return cr_cli_fail(verb, "'%s': %s", file, err.msg);
    }

    size_t n = json_array_size(ids);
    const char **app_ids = cr_xcalloc(n + 1, sizeof(*app_ids));
    for (size_t i = 0; i < n; i++)
        app_ids[i] = json_string_value(json_array_get(ids, i));
    char *path = json_is_array(doc) ? cr_xstrdup(is_force ? "/v2/apps?force=true" : "/v2/apps")
                                    : cr_apps_path(app_ids[0], is_force ? "?force=true" : NULL);
    char *body = json_dumps(doc, JSON_COMPACT);
    char *master = cr_cli_master_resolve(master_flag);
    for (size_t i = 0; i < n; i++)
        printf("deploying %s\n", cr_apps_display_id(app_ids[i]));
    code = cr_apps_change(verb, master, "PUT", path, body, app_ids, is_wait);
    for (size_t i = 0; code == CR_CLI_EXIT_OK && is_wait && i < n; i++)
        code = cr_apps_print_instances(verb, master, app_ids[i]);
    free(master);
    free(body);
    free(path);
    free(app_ids);
    json_decref(ids);
    json_decref(doc);
    return code;
}
