/*
 * test_protocol.c - the calls the agent sends (SUBSCRIBE, UPDATE, PONG): their exact JSON,
 * and that the master's own parser (cr_parse_agent_call) accepts them with every field
 * intact. Event parsing is api/agent_proto's and tested there.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/protocol.h"
#include "base/util.h"

static char *dump(json_t *j)
{
    char *s = cr_json_dump(j);
    json_decref(j);
    return s;
}

static void make_status(struct cr_task_status *s)
{
    cr_task_status_init(s);
    s->task_id = "t.1";
    s->state = CR_TASK_RUNNING;
    s->source = CR_SOURCE_EXECUTOR;
    s->reason = CR_REASON_NONE;
    s->agent_id = "M-S1";
    s->executor_id = "t.1";
    s->timestamp = 1718000000.25;
    s->has_uuid = true;
    memset(s->uuid, 0xab, 16);
    s->healthy = -1;
    s->container_id = "c0ffee";
}

static void test_pong(void **state)
{
    (void)state;
    char *pong = dump(cr_agent_msg_pong("M-S1"));
    assert_string_equal(pong, "{\"type\":\"PONG\",\"agent_id\":{\"value\":\"M-S1\"}}");
    struct cr_agent_call c;
    assert_int_equal(cr_parse_agent_call(pong, strlen(pong), &c, NULL), 0);
    assert_int_equal(c.type, CR_AGENT_CALL_PONG);
    assert_string_equal(c.agent_id, "M-S1");
    cr_agent_call_release(&c);
    free(pong);
}

static void test_update(void **state)
{
    (void)state;
    struct cr_task_status s;
    make_status(&s);
    char *text = dump(cr_agent_msg_update("M-S1", "M-0000", &s));
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "UPDATE");
    json_t *st = json_object_get(json_object_get(j, "update"), "status");
    assert_string_equal(json_string_value(json_object_get(st, "state")), "TASK_RUNNING");
    assert_string_equal(json_string_value(json_object_get(st, "source")), "SOURCE_EXECUTOR");
    assert_string_equal(json_string_value(json_object_get(st, "uuid")), "q6urq6urq6urq6urq6urqw==");
    json_decref(j);

    struct cr_agent_call c;
    struct cr_err err;
    cr_err_clear(&err);
    if (cr_parse_agent_call(text, strlen(text), &c, &err) < 0)
        fail_msg("master rejects UPDATE: %s\n%s", err.msg, text);
    assert_int_equal(c.type, CR_AGENT_CALL_UPDATE);
    assert_string_equal(c.agent_id, "M-S1");
    assert_string_equal(c.framework_id, "M-0000");
    assert_string_equal(c.status.task_id, "t.1");
    assert_int_equal(c.status.state, CR_TASK_RUNNING);
    assert_int_equal(c.status.source, CR_SOURCE_EXECUTOR);
    assert_true(c.status.has_uuid);
    assert_memory_equal(c.status.uuid, s.uuid, 16);
    assert_string_equal(c.status.container_id, "c0ffee");
    assert_string_equal(c.status.executor_id, "t.1");
    cr_agent_call_release(&c);
    free(text);
}

static void test_subscribe_new_agent(void **state)
{
    (void)state;
    struct cr_agent_info info;
    cr_agent_info_init(&info);
    info.hostname = "node1";
    info.port = 5051;
    assert_int_equal(
        cr_resources_parse(&info.resources, "cpus:2;mem:1024;ports:[31000-32000]", "*", NULL), 0);
    struct cr_agent_subscribe_view v = {
        .info = &info,
        .ip = "127.0.0.1",
        .port = 5051,
        .version = "0.1.0",
    };
    char *text = dump(cr_agent_msg_subscribe(&v));
    json_t *j = json_loads(text, 0, NULL);
    json_t *ai = json_object_get(json_object_get(j, "subscribe"), "agent_info");
    assert_null(json_object_get(ai, "id")); /* a new agent sends no id */
    assert_null(json_object_get(j, "agent_id"));
    json_decref(j);
    struct cr_agent_call c;
    struct cr_err err;
    cr_err_clear(&err);
    if (cr_parse_agent_call(text, strlen(text), &c, &err) < 0)
        fail_msg("master rejects SUBSCRIBE: %s\n%s", err.msg, text);
    assert_int_equal(c.type, CR_AGENT_CALL_SUBSCRIBE);
    assert_null(c.agent_info.id);
    assert_string_equal(c.agent_info.hostname, "node1");
    assert_true(cr_resources_equal(&c.agent_info.resources, &info.resources));
    assert_string_equal(c.address_ip, "127.0.0.1");
    assert_int_equal(c.address_port, 5051);
    assert_string_equal(c.version, "0.1.0");
    assert_int_equal(c.ntasks, 0);
    cr_agent_call_release(&c);
    free(text);
    cr_resources_release(&info.resources);
}

static void test_subscribe_with_tasks(void **state)
{
    (void)state;
    struct cr_agent_info info;
    cr_agent_info_init(&info);
    info.id = "M-S1";
    info.hostname = "node1";
    info.port = 5051;
    assert_int_equal(cr_attributes_parse_text(&info.attributes, "rack:r1", NULL), 0);

    struct cr_task_info task;
    cr_task_info_init(&task);
    task.name = "web";
    task.task_id = "web.1";
    task.agent_id = "M-S1";
    task.has_command = true;
    task.command.value = "sleep 100";
    task.kill_grace_ms = 5000;
    assert_int_equal(cr_resources_parse(&task.resources, "cpus:0.5;ports:[31000-31000]", "*", NULL),
                     0);
    struct cr_task_status s;
    make_status(&s);
    s.task_id = "web.1";
    struct cr_agent_subscribe_task t = {
        .framework_id = "M-0000",
        .task = &task,
        .state = CR_TASK_RUNNING,
        .latest_status = &s,
    };
    struct cr_framework_info fi;
    cr_framework_info_init(&fi);
    fi.id = "M-0000";
    fi.user = "root";
    fi.name = "demo";
    const struct cr_framework_info *fis[] = {&fi};
    struct cr_agent_subscribe_view v = {
        .info = &info,
        .ip = "127.0.0.1",
        .port = 5051,
        .version = "0.1.0",
        .frameworks = fis,
        .nframeworks = 1,
        .tasks = &t,
        .ntasks = 1,
    };
    char *text = dump(cr_agent_msg_subscribe(&v));
    struct cr_agent_call c;
    struct cr_err err;
    cr_err_clear(&err);
    if (cr_parse_agent_call(text, strlen(text), &c, &err) < 0)
        fail_msg("master rejects SUBSCRIBE: %s\n%s", err.msg, text);
    assert_string_equal(c.agent_info.id, "M-S1");
    assert_int_equal(c.agent_info.attributes.n, 1);
    assert_int_equal(c.nframeworks, 1);
    assert_string_equal(c.frameworks[0].id, "M-0000");
    assert_int_equal(c.ntasks, 1);
    assert_string_equal(c.tasks[0].framework_id, "M-0000");
    assert_string_equal(c.tasks[0].task.task_id, "web.1");
    assert_string_equal(c.tasks[0].task.command.value, "sleep 100");
    assert_int_equal(c.tasks[0].task.kill_grace_ms, 5000);
    assert_true(cr_resources_equal(&c.tasks[0].task.resources, &task.resources));
    assert_int_equal(c.tasks[0].state, CR_TASK_RUNNING);
    assert_true(c.tasks[0].has_latest_status);
    assert_memory_equal(c.tasks[0].latest_status.uuid, s.uuid, 16);
    cr_agent_call_release(&c);
    free(text);
    cr_resources_release(&task.resources);
    cr_attributes_release(&info.attributes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pong),
        cmocka_unit_test(test_update),
        cmocka_unit_test(test_subscribe_new_agent),
        cmocka_unit_test(test_subscribe_with_tasks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
