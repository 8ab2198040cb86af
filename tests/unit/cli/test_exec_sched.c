/*
 * test_exec_sched.c - the pure half of `corral exec`: whether an offer fits, the TaskInfo
 * cut from an offer (resource copies keep role/allocation_info, scalars split across
 * resources, ports and their environment), the JSON of every scheduler call (compared
 * with shared/API-COMPAT.md §1.4 shapes), exit codes and status lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/cli_util.h"
#include "cli/exec_sched.h"

static json_t *parse(const char *text)
{
    struct cr_err err;
    json_t *j = cr_cli_json_parse(text, strlen(text), &err);
    if (!j)
        print_error("%s in %s\n", err.msg, text);
    assert_non_null(j);
    return j;
}

/* j must equal the JSON in want (object key order ignored). */
static void assert_json(json_t *j, const char *want)
{
    json_t *w = parse(want);
    if (!json_equal(j, w)) {
        char *got = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        char *exp = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS);
        print_error("got  %s\nwant %s\n", got, exp);
        free(got);
        free(exp);
    }
    assert_true(json_equal(j, w));
    json_decref(w);
}

static const char offer_text[] =
    "{\"id\":{\"value\":\"O1\"},\"framework_id\":{\"value\":\"F\"},\"agent_id\":{\"value\":\"S1\"},"
    "\"hostname\":\"node1\",\"url\":{\"scheme\":\"http\",\"address\":{\"ip\":\"10.0.0.1\","
    "\"port\":5051}},\"resources\":["
    "{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":0.25},\"role\":\"dev\","
    " \"allocation_info\":{\"role\":\"dev\"},\"reservation\":{\"principal\":\"p\"}},"
    "{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":2},\"role\":\"*\","
    " \"allocation_info\":{\"role\":\"dev\"}},"
    "{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":8},\"revocable\":{}},"
    "{\"name\":\"mem\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1024},\"role\":\"*\"},"
    "{\"name\":\"disk\",\"type\":\"SCALAR\",\"scalar\":{\"value\":500},\"role\":\"dev\","
    " \"disk\":{\"persistence\":{\"id\":\"v\"}}},"
    "{\"name\":\"disk\",\"type\":\"SCALAR\",\"scalar\":{\"value\":100},\"role\":\"*\"},"
    "{\"name\":\"ports\",\"type\":\"RANGES\",\"role\":\"*\",\"ranges\":{\"range\":["
    " {\"begin\":31000,\"end\":31001},{\"begin\":31005,\"end\":31010}]}}]}";

static struct cr_cli_task_spec spec_default(void)
{
    static const char *const argv[] = {"echo", "hi there"};
    struct cr_cli_task_spec s = {
        .task_id = "t1", .name = "hello", .cpus = 0.1, .mem_mb = 32, .argv = argv, .argc = 2};
    return s;
}

static void test_offer_fits(void **state)
{
    (void)state;
    json_t *offer = parse(offer_text);
    struct cr_cli_task_spec s = spec_default();
    char why[128];
    assert_true(cr_cli_offer_fits(offer, &s, why, sizeof(why)));

    static const struct {
        double cpus, mem, disk;
        long ports;
        bool fits;
        const char *why;
    } cases[] = {
        {2.25, 32, 0, 0, true, ""}, /* both cpus resources, not the revocable one */
        {2.251, 32, 0, 0, false, "cpus 2.25 < 2.251"},
        {2.2504, 32, 0, 0, true, ""}, /* thousandths, like Mesos */
        {0.1, 1024, 0, 0, true, ""},
        {0.1, 1025, 0, 0, false, "mem 1024 < 1025"},
        {0.1, 32, 100, 0, true, ""}, /* the persistent volume does not count */
        {0.1, 32, 101, 0, false, "disk 100 < 101"},
        {0.1, 32, 0, 8, true, ""},
        {0.1, 32, 0, 9, false, "ports 8 < 9"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        s.cpus = cases[i].cpus;
        s.mem_mb = cases[i].mem;
        s.disk_mb = cases[i].disk;
        s.ports = cases[i].ports;
        why[0] = '\0';
        bool fits = cr_cli_offer_fits(offer, &s, why, sizeof(why));
        if (fits != cases[i].fits || strcmp(why, cases[i].why) != 0)
            print_error("case %zu: fits %d why '%s'\n", i, fits, why);
        assert_int_equal(fits, cases[i].fits);
        assert_string_equal(why, cases[i].why);
    }
    json_t *empty = parse("{\"resources\":[]}");
    s = spec_default();
    assert_false(cr_cli_offer_fits(empty, &s, NULL, 0));
    json_decref(empty);
    json_decref(offer);
}

static void test_task_info_argv(void **state)
{
    (void)state;
    json_t *offer = parse(offer_text);
    struct cr_cli_task_spec s = spec_default();
    s.cpus = 1;
    struct cr_err err;
    json_t *task = cr_cli_task_info(offer, &s, &err);
    assert_non_null(task);
    assert_json(
        task,
        "{\"name\":\"hello\",\"task_id\":{\"value\":\"t1\"},\"agent_id\":{\"value\":\"S1\"},"
        "\"resources\":["
        "{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":0.25},\"role\":\"dev\","
        " \"allocation_info\":{\"role\":\"dev\"},\"reservation\":{\"principal\":\"p\"}},"
        "{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":0.75},\"role\":\"*\","
        " \"allocation_info\":{\"role\":\"dev\"}},"
        "{\"name\":\"mem\",\"type\":\"SCALAR\",\"scalar\":{\"value\":32.0},\"role\":\"*\"}],"
        "\"command\":{\"shell\":false,\"value\":\"echo\",\"arguments\":[\"echo\",\"hi there\"]}}");
    json_decref(task);
    json_decref(offer);
}

static void test_task_info_shell_ports_env(void **state)
{
    (void)state;
    json_t *offer = parse(offer_text);
    static const char *const env[] = {"GREETING=hi=you", "PORT1=9"};
    struct cr_cli_task_spec s = spec_default();
    s.shell = "echo $PORT0";
    s.disk_mb = 10;
    s.ports = 3;
    s.env = env;
    s.nenv = 2;
    struct cr_err err;
    json_t *task = cr_cli_task_info(offer, &s, &err);
    assert_non_null(task);
    assert_json(
        task,
        "{\"name\":\"hello\",\"task_id\":{\"value\":\"t1\"},\"agent_id\":{\"value\":\"S1\"},"
        "\"resources\":["
        "{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":0.1},\"role\":\"dev\","
        " \"allocation_info\":{\"role\":\"dev\"},\"reservation\":{\"principal\":\"p\"}},"
        "{\"name\":\"mem\",\"type\":\"SCALAR\",\"scalar\":{\"value\":32.0},\"role\":\"*\"},"
        "{\"name\":\"disk\",\"type\":\"SCALAR\",\"scalar\":{\"value\":10.0},\"role\":\"*\"},"
        "{\"name\":\"ports\",\"type\":\"RANGES\",\"role\":\"*\",\"ranges\":{\"range\":["
        " {\"begin\":31000,\"end\":31001},{\"begin\":31005,\"end\":31005}]}}],"
        "\"command\":{\"shell\":true,\"value\":\"echo $PORT0\",\"environment\":{\"variables\":["
        " {\"name\":\"PORT0\",\"value\":\"31000\"},{\"name\":\"PORT\",\"value\":\"31000\"},"
        " {\"name\":\"PORT2\",\"value\":\"31005\"},"
        " {\"name\":\"PORTS\",\"value\":\"31000,31001,31005\"},"
        " {\"name\":\"GREETING\",\"value\":\"hi=you\"},{\"name\":\"PORT1\",\"value\":\"9\"}]}}}");
    json_decref(task);

    s.ports = 100;
    task = cr_cli_task_info(offer, &s, &err);
    assert_null(task);
    assert_string_equal(err.msg, "offer too small: ports 8 < 100");
    json_t *no_agent = parse("{\"resources\":[{\"name\":\"cpus\",\"type\":\"SCALAR\","
                             "\"scalar\":{\"value\":1}},{\"name\":\"mem\",\"type\":\"SCALAR\","
                             "\"scalar\":{\"value\":64}}]}");
    s = spec_default();
    assert_null(cr_cli_task_info(no_agent, &s, &err));
    assert_string_equal(err.msg, "offer without agent_id");
    json_decref(no_agent);
    json_decref(offer);
}

static void test_calls(void **state)
{
    (void)state;
    json_t *c = cr_cli_call_subscribe("alice", "box", NULL, NULL);
    assert_json(c, "{\"type\":\"SUBSCRIBE\",\"subscribe\":{\"framework_info\":{\"user\":\"alice\","
                   "\"name\":\"corral-exec\",\"failover_timeout\":0.0,\"capabilities\":[],"
                   "\"hostname\":\"box\"}}}");
    json_decref(c);
    c = cr_cli_call_subscribe("alice", "", "dev", "F1");
    assert_json(c, "{\"type\":\"SUBSCRIBE\",\"framework_id\":{\"value\":\"F1\"},"
                   "\"subscribe\":{\"framework_info\":{\"user\":\"alice\",\"name\":\"corral-exec\","
                   "\"failover_timeout\":0.0,\"capabilities\":[],\"role\":\"dev\","
                   "\"id\":{\"value\":\"F1\"}}}}");
    json_decref(c);
    c = cr_cli_call_subscribe("alice", NULL, "*", NULL);
    assert_null(json_object_get(json_object_get(json_object_get(c, "subscribe"), "framework_info"),
                                "role"));
    json_decref(c);

    c = cr_cli_call_accept("F1", "O7", json_pack("{s:s}", "name", "x"));
    assert_json(c, "{\"framework_id\":{\"value\":\"F1\"},\"type\":\"ACCEPT\",\"accept\":{"
                   "\"offer_ids\":[{\"value\":\"O7\"}],\"operations\":[{\"type\":\"LAUNCH\","
                   "\"launch\":{\"task_infos\":[{\"name\":\"x\"}]}}],"
                   "\"filters\":{\"refuse_seconds\":3600.0}}}");
    json_decref(c);
    c = cr_cli_call_decline("F1", json_pack("[{s:s},{s:s}]", "value", "O1", "value", "O2"), 5);
    assert_json(c, "{\"framework_id\":{\"value\":\"F1\"},\"type\":\"DECLINE\",\"decline\":{"
                   "\"offer_ids\":[{\"value\":\"O1\"},{\"value\":\"O2\"}],"
                   "\"filters\":{\"refuse_seconds\":5.0}}}");
    json_decref(c);
    c = cr_cli_call_acknowledge("F1", "S1", "t1", "3q2+7w==");
    assert_json(c, "{\"framework_id\":{\"value\":\"F1\"},\"type\":\"ACKNOWLEDGE\",\"acknowledge\":{"
                   "\"agent_id\":{\"value\":\"S1\"},\"task_id\":{\"value\":\"t1\"},"
                   "\"uuid\":\"3q2+7w==\"}}");
    json_decref(c);
    c = cr_cli_call_kill("F1", "t1", "S1");
    assert_json(c, "{\"framework_id\":{\"value\":\"F1\"},\"type\":\"KILL\",\"kill\":{"
                   "\"task_id\":{\"value\":\"t1\"},\"agent_id\":{\"value\":\"S1\"}}}");
    json_decref(c);
    c = cr_cli_call_kill("F1", "t1", NULL);
    assert_json(c, "{\"framework_id\":{\"value\":\"F1\"},\"type\":\"KILL\",\"kill\":{"
                   "\"task_id\":{\"value\":\"t1\"}}}");
    json_decref(c);
    c = cr_cli_call_reconcile("F1", "t1", "S1");
    assert_json(c,
                "{\"framework_id\":{\"value\":\"F1\"},\"type\":\"RECONCILE\",\"reconcile\":{"
                "\"tasks\":[{\"task_id\":{\"value\":\"t1\"},\"agent_id\":{\"value\":\"S1\"}}]}}");
    json_decref(c);
    c = cr_cli_call_teardown("F1");
    assert_json(c, "{\"framework_id\":{\"value\":\"F1\"},\"type\":\"TEARDOWN\"}");
    json_decref(c);
}

static void test_exit_codes(void **state)
{
    (void)state;
    static const struct {
        const char *state, *message;
        int code;
    } cases[] = {
        {"TASK_FINISHED", NULL, 0},
        {"TASK_FINISHED", "Command exited with status 0", 0},
        {"TASK_FAILED", "Command exited with status 3", 3},
        {"TASK_FAILED", "exit code 7", 7},
        {"TASK_FAILED", "Command exited with status 0", 1}, /* failed, whatever it says */
        {"TASK_FAILED", "Command terminated with signal SIGKILL", 137},
        {"TASK_FAILED", "killed by signal 15", 143},
        {"TASK_FAILED", "oom", 1},
        {"TASK_FAILED", NULL, 1},
        {"TASK_FAILED", "Command exited with status 300", 1},
        {"TASK_KILLED", "Command exited with status 3", 1},
        {"TASK_LOST", NULL, 1},
        {"TASK_ERROR", "bad", 1},
        {"TASK_DROPPED", NULL, 1},
        {"FINISHED", NULL, 0},
        {NULL, NULL, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int code = cr_cli_status_exit_code(cases[i].state, cases[i].message);
        if (code != cases[i].code)
            print_error("case %zu: %d\n", i, code);
        assert_int_equal(code, cases[i].code);
    }
}

static void status_line_is(const char *status_json, const char *want)
{
    json_t *st = parse(status_json);
    char *line = cr_cli_status_line(st);
    assert_string_equal(line, want);
    free(line);
    json_decref(st);
}

static void test_status_lines(void **state)
{
    (void)state;
    status_line_is("{\"task_id\":{\"value\":\"exec-1a2b\"},\"state\":\"TASK_RUNNING\"}",
                   "task exec-1a2b RUNNING");
    status_line_is("{\"task_id\":{\"value\":\"t\"},\"state\":\"TASK_FINISHED\"}",
                   "task t FINISHED exit 0");
    status_line_is("{\"task_id\":{\"value\":\"t\"},\"state\":\"TASK_FAILED\","
                   "\"message\":\"Command exited with status 3\","
                   "\"reason\":\"REASON_COMMAND_EXECUTOR_FAILED\"}",
                   "task t FAILED exit 3: Command exited with status 3 (command executor failed)");
    status_line_is("{\"task_id\":{\"value\":\"t\"},\"state\":\"TASK_FAILED\","
                   "\"message\":\"Memory limit exceeded\"}",
                   "task t FAILED: Memory limit exceeded");
    status_line_is("{\"task_id\":{\"value\":\"t\"},\"state\":\"TASK_RUNNING\",\"healthy\":false,"
                   "\"message\":\"two\\nlines\\u001b[2J\"}",
                   "task t RUNNING: two lines [2J [unhealthy]");
    status_line_is("{}", "task ? UNKNOWN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offer_fits),
        cmocka_unit_test(test_task_info_argv),
        cmocka_unit_test(test_task_info_shell_ports_env),
        cmocka_unit_test(test_calls),
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_status_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
