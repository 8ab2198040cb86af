/*
 * agents.c - `corral agents`: the agents registered with the master and their
 * resources, from GET /master/state (legacy JSON, shared/API-COMPAT.md §4.3).
 *
 * Each slaves[] entry carries flattened resource objects ({"cpus":2.0,"mem":1024.0,
 * "disk":..,"ports":"[31000-32000]"}) for resources and used_resources; free is their
 * difference. --json prints the slaves[] array as the master sent it.
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

static const char verb[] = "agents";

static void usage(FILE *out, const struct cr_cli_opt *opts)
{
    fprintf(out, "usage: corral agents [--master HOST:PORT] [--json]\n\n"
                 "List the agents registered with the master: address, whether they are\n"
                 "active, and their cpus, memory and disk as total/used/free, plus free ports.\n\n"
                 "flags:\n");
    cr_cli_opts_usage(out, opts);
}

/* "total/used/free" of one scalar resource. */
static void triple(char *buf, size_t size, const json_t *total, const json_t *used,
                   const char *name)
{
    double t = cr_cli_json_num(total, name, 0), u = cr_cli_json_num(used, name, 0);
    double f = t - u > 0 ? t - u : 0;
    char ts[32], us[32], fs[32];
    cr_cli_fmt_num(ts, sizeof(ts), t);
    cr_cli_fmt_num(us, sizeof(us), u);
    cr_cli_fmt_num(fs, sizeof(fs), f);
    snprintf(buf, size, "%s/%s/%s", ts, us, fs);
}

/* Free ports of an agent: its ports minus the used ones, as ranges or a count. */
static void free_ports(char *buf, size_t size, const json_t *total, const json_t *used)
{
    struct cr_cli_ranges all = {0}, taken = {0};
    const char *t = cr_cli_json_str(total, "ports");
    const char *u = cr_cli_json_str(used, "ports");
    if (!t || cr_cli_ranges_parse(t, &all) < 0) {
        snprintf(buf, size, "-");
        cr_cli_ranges_release(&all);
        return;
    }
    if (u && cr_cli_ranges_parse(u, &taken) == 0)
        cr_cli_ranges_subtract(&all, &taken);
    if (all.len <= 2)
        cr_cli_ranges_format(&all, buf, size);
    else
        snprintf(buf, size, "%llu in %zu ranges", (unsigned long long)cr_cli_ranges_count(&all),
                 all.len);
    cr_cli_ranges_release(&all);
    cr_cli_ranges_release(&taken);
}

static void print_table(const json_t *slaves)
{
    static const char *const headers[] = {
        "ID", "ADDRESS", "ACTIVE", "CPUS T/U/F", "MEM MB T/U/F", "DISK MB T/U/F", "FREE PORTS"};
    struct cr_cli_table t;
    cr_cli_table_init(&t, 7, headers, 0);
    size_t i;
    json_t *slave;
    json_array_foreach(slaves, i, slave)
    {
        const json_t *total = json_object_get(slave, "resources");
        const json_t *used = json_object_get(slave, "used_resources");
        char addr[300], cpus[100], mem[100], disk[100], ports[200];
        const char *host = cr_cli_json_str(slave, "hostname");
        snprintf(addr, sizeof(addr), "%s:%d", host ? host : "?",
                 (int)cr_cli_json_num(slave, "port", 5051));
        triple(cpus, sizeof(cpus), total, used, "cpus");
        triple(mem, sizeof(mem), total, used, "mem");
        triple(disk, sizeof(disk), total, used, "disk");
        free_ports(ports, sizeof(ports), total, used);
        bool active = cr_cli_json_bool(slave, "active", true);
        bool deactivated = cr_cli_json_bool(slave, "deactivated", false);
        const char *cells[] = {cr_cli_json_id(slave, "id"),
                               addr,
                               !active       ? "no"
                               : deactivated ? "draining"
                                             : "yes",
                               cpus,
                               mem,
                               disk,
                               ports};
        cr_cli_table_add(&t, cells);
    }
    cr_cli_table_print(&t, stdout);
    cr_cli_table_release(&t);
}

int cr_cli_agents_main(int argc, char **argv)
{
    const char *master_flag = NULL;
    bool as_json = false;
    struct cr_cli_opt opts[] = {
        CR_CLI_OPT_MASTER(&master_flag),
        {"json", 0, CR_CLI_OPT_BOOL, &as_json, NULL, "print the master's slaves[] list as JSON", 0,
         0},
        CR_CLI_OPT_END,
    };
    int code;
    if (!cr_cli_parse_verb_args(verb, usage, opts, argc, argv, NULL, &code))
        return code;

    json_t *state = cr_cli_fetch_master_state(verb, master_flag);
    if (!state)
        return CR_CLI_EXIT_FAIL;

    json_t *slaves = json_object_get(state, "slaves");
    if (slaves && !json_is_array(slaves)) {
        json_decref(state);
        return cr_cli_fail(verb, "the master's state has a 'slaves' field that is not a list");
    }
    if (as_json) {
        char *text = slaves ? json_dumps(slaves, JSON_INDENT(2)) : NULL;
        puts(text ? text : "[]");
        free(text);
    } else if (json_array_size(slaves) == 0) {
        printf("no agents (start some with 'corral up', or 'corral agent --master ...')\n");
    } else {
        print_table(slaves);
    }
    json_decref(state);
    return CR_CLI_EXIT_OK;
}
