/*
 * task_env.c - what a command task runs with: its argv and its environment.
 *
 * Environment, lowest precedence first: the agent's own environment (minus CORRAL_*,
 * the agent's configuration), then MESOS_FRAMEWORK_ID, MESOS_EXECUTOR_ID (= the task
 * id, as for Mesos' command executor), MESOS_TASK_ID, MESOS_AGENT_ID, MESOS_SANDBOX and
 * MESOS_DIRECTORY (both the sandbox: there is no container file system yet), HOST (the
 * agent's hostname), PORT0..PORTn, PORT (= PORT0) and PORTS (comma-separated) for the
 * task's ports resources in ascending order, then the command's own variables, which
 * win over everything.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "base/util.h"

extern char **environ;

struct env {
    char **v; /* owned "NAME=value" strings, NULL-terminated */
    size_t n, cap;
};

static void env_set(struct env *e, const char *name, const char *value)
{
    size_t nlen = strlen(name);
    char *entry = cr_xasprintf("%s=%s", name, value ? value : "");
    for (size_t i = 0; i < e->n; i++) {
        if (strncmp(e->v[i], name, nlen) == 0 && e->v[i][nlen] == '=') {
            free(e->v[i]);
            e->v[i] = entry;
            return;
        }
    }
    if (e->n + 2 > e->cap) {
        e->cap = e->cap ? e->cap * 2 : 64;
        e->v = cr_xrealloc(e->v, e->cap * sizeof(char *));
    }
    e->v[e->n++] = entry;
    e->v[e->n] = NULL;
}

void agent_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

char **agent_base_env(void)
{
    struct env e = {0};
    for (char **p = environ; p && *p; p++) {
        const char *eq = strchr(*p, '=');
        if (!eq || strncmp(*p, "CORRAL_", 7) == 0)
            continue;
        char *name = cr_xmalloc((size_t)(eq - *p) + 1);
        memcpy(name, *p, (size_t)(eq - *p));
        name[eq - *p] = '\0';
        env_set(&e, name, eq + 1);
        free(name);
    }
    if (!e.v)
        e.v = cr_xcalloc(1, sizeof(char *));
    return e.v;
}

static void add_ports(struct env *e, const struct cr_resources *rs)
{
    struct cr_buf all;
    cr_buf_init(&all);
    size_t k = 0;
    char name[32], value[32];
    for (size_t i = 0; i < rs->n; i++) {
        const struct cr_resource *r = &rs->v[i];
        if (r->type != CR_RES_RANGES || strcmp(r->name, "ports") != 0)
            continue;
        for (size_t j = 0; j < r->nranges; j++) {
            for (uint64_t p = r->ranges[j].begin;; p++) {
                snprintf(name, sizeof(name), "PORT%zu", k);
                snprintf(value, sizeof(value), "%llu", (unsigned long long)p);
                env_set(e, name, value);
                if (k == 0)
                    env_set(e, "PORT", value);
                cr_buf_printf(&all, "%s%s", k ? "," : "", value);
                k++;
                if (p == r->ranges[j].end)
                    break;
            }
        }
    }
    if (k > 0)
        env_set(e, "PORTS", all.data);
    cr_buf_release(&all);
}

int agent_task_command(const struct cr_agent *a, const struct agent_task *t, char ***argv_out,
                       char ***envp_out, struct cr_err *err)
{
    *argv_out = NULL;
    *envp_out = NULL;
    const struct cr_command *cmd = &t->info.command;
    if (!cmd->value || !*cmd->value)
        return cr_err_set(err, -EINVAL,
                          "command.value: required (container images and their "
                          "entrypoints are not supported yet)");

    char **argv;
    if (cmd->shell) {
        argv = cr_xcalloc(4, sizeof(char *));
        argv[0] = cr_xstrdup("/bin/sh");
        argv[1] = cr_xstrdup("-c");
        argv[2] = cr_xstrdup(cmd->value);
    } else if (cmd->narguments > 0) {
        argv = cr_xcalloc(cmd->narguments + 1, sizeof(char *));
        for (size_t i = 0; i < cmd->narguments; i++)
            argv[i] = cr_xstrdup(cmd->arguments[i]);
    } else {
        argv = cr_xcalloc(2, sizeof(char *));
        argv[0] = cr_xstrdup(cmd->value);
    }

    struct env e = {0};
    for (char **p = a->base_env; p && *p; p++) {
        const char *eq = strchr(*p, '=');
        char *name = cr_xmalloc((size_t)(eq - *p) + 1);
        memcpy(name, *p, (size_t)(eq - *p));
        name[eq - *p] = '\0';
        env_set(&e, name, eq + 1);
        free(name);
    }
    env_set(&e, "MESOS_FRAMEWORK_ID", t->framework_id);
    env_set(&e, "MESOS_EXECUTOR_ID", t->task_id);
    env_set(&e, "MESOS_TASK_ID", t->task_id);
    env_set(&e, "MESOS_AGENT_ID", a->agent_id);
    env_set(&e, "MESOS_SANDBOX", t->directory);
    env_set(&e, "MESOS_DIRECTORY", t->directory);
    env_set(&e, "HOST", a->hostname);
    add_ports(&e, &t->info.resources);
    for (size_t i = 0; i < cmd->nenv; i++)
        if (cmd->env[i].name && *cmd->env[i].name)
            env_set(&e, cmd->env[i].name, cmd->env[i].value);
    *argv_out = argv;
    *envp_out = e.v;
    return 0;
}
