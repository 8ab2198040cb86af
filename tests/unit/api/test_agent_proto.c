/*
 * test_agent_proto.c - the agent protocol codecs (src/api/agent_proto.c): the shapes of
 * docs/protocol.md byte for byte, encode/parse round trips on both sides, error paths,
 * and a small structural fuzz of both parsers.
 */
#include "test_helpers.h"

#include "api/agent_proto.h"

static const char *SUBSCRIBE =
    "{'type':'SUBSCRIBE','agent_id':{'value':'m-S1'},'subscribe':{"
    "'agent_info':{'hostname':'node1','port':5051,'resources':[{'name':'cpus','type':'SCALAR',"
    "'scalar':{'value':4.0},'role':'*'}],'attributes':[{'name':'rack','type':'TEXT','text':"
    "{'value':'r1'}}],'id':{'value':'m-S1'}},"
    "'address':{'ip':'127.0.0.1','port':5051},'version':'0.1.0',"
    "'frameworks':[{'user':'u','name':'n','id':{'value':'f'},'failover_timeout':0.0,"
    "'checkpoint':false,'role':'*'}],"
    "'tasks':[{'framework_id':{'value':'f'},'task':{'name':'t','task_id':{'value':'t.1'},"
    "'agent_id':{'value':'m-S1'},'command':{'shell':true,'value':'sleep 1'}},"
    "'state':'TASK_RUNNING','latest_status':{'task_id':{'value':'t.1'},'state':'TASK_RUNNING',"
    "'source':'SOURCE_EXECUTOR','uuid':'3q2+7wAAQAGAAAAAAAAAAQ=='}}]}}";

static void test_calls_round_trip(void **state)
{
    (void)state;
    struct cr_err err = {0};
    struct cr_agent_call c;
    char *body = dq(SUBSCRIBE);
    assert_int_equal(cr_parse_agent_call(body, strlen(body), &c, &err), 0);
    free(body);
    assert_int_equal(c.type, CR_AGENT_CALL_SUBSCRIBE);
    assert_string_equal(c.agent_info.id, "m-S1");
    assert_string_equal(c.address_ip, "127.0.0.1");
    assert_int_equal(c.nframeworks, 1);
    assert_int_equal(c.ntasks, 1);
    assert_int_equal(c.tasks[0].state, CR_TASK_RUNNING);
    assert_true(c.tasks[0].has_latest_status);
    assert_string_equal(c.tasks[0].task.task_id, "t.1");
    expect_json(cr_json_agent_call(&c), SUBSCRIBE);
    cr_agent_call_release(&c);

    /* A first subscription: no ids, no tasks, default address port. */
    const char *first = "{'type':'SUBSCRIBE','subscribe':{'agent_info':{'hostname':'h'},"
                        "'address':{'ip':'10.0.0.2'}}}";
    body = dq(first);
    assert_int_equal(cr_parse_agent_call(body, strlen(body), &c, &err), 0);
    free(body);
    assert_null(c.agent_id);
    assert_null(c.agent_info.id);
    assert_int_equal(c.address_port, 5051);
    expect_json(cr_json_agent_call(&c), "{'type':'SUBSCRIBE','subscribe':{'agent_info':"
                                        "{'hostname':'h','port':5051},'address':{'ip':'10.0.0.2',"
                                        "'port':5051}}}");
    cr_agent_call_release(&c);

    const char *update = "{'type':'UPDATE','agent_id':{'value':'a'},'update':{'framework_id':"
                         "{'value':'f'},'status':{'task_id':{'value':'t'},'state':'TASK_FINISHED',"
                         "'source':'SOURCE_EXECUTOR','uuid':'3q2+7wAAQAGAAAAAAAAAAQ=='}}}";
    body = dq(update);
    assert_int_equal(cr_parse_agent_call(body, strlen(body), &c, &err), 0);
    free(body);
    assert_int_equal(c.type, CR_AGENT_CALL_UPDATE);
    assert_string_equal(c.framework_id, "f");
    assert_int_equal(c.status.state, CR_TASK_FINISHED);
    expect_json(cr_json_agent_call(&c), update);
    cr_agent_call_release(&c);

    const char *pong = "{'type':'PONG','agent_id':{'value':'a'}}";
    body = dq(pong);
    assert_int_equal(cr_parse_agent_call(body, strlen(body), &c, &err), 0);
    free(body);
    assert_int_equal(c.type, CR_AGENT_CALL_PONG);
    expect_json(cr_json_agent_call(&c), pong);
    cr_agent_call_release(&c);

    body = dq("{'type':'TELEPORT'}");
    assert_int_equal(cr_parse_agent_call(body, strlen(body), &c, &err), 0);
    assert_int_equal(c.type, CR_AGENT_CALL_UNKNOWN);
    free(body);
    cr_agent_call_release(&c);
    assert_string_equal(cr_agent_call_name(CR_AGENT_CALL_PONG), "PONG");
    assert_string_equal(cr_agent_call_name((enum cr_agent_call_type)9), "UNKNOWN");
}

static void call_err(const char *sq, const char *want)
{
    struct cr_err err = {0};
    struct cr_agent_call c;
    char *body = dq(sq);
    expect_err(cr_parse_agent_call(body, strlen(body), &c, &err), &err, want);
    assert_null(c.agent_id);
    assert_null(c.tasks);
    free(body);
}

static void test_call_errors(void **state)
{
    (void)state;
    call_err("{}", "type: required field missing");
    call_err("{'type':2}", "type: expected an enum name, got number 2");
    call_err("{'type':'SUBSCRIBE'}", "subscribe: required for type SUBSCRIBE");
    call_err("{'type':'SUBSCRIBE','subscribe':{}}", "subscribe.agent_info: required field missing");
    call_err("{'type':'SUBSCRIBE','subscribe':{'agent_info':{'port':1}}}",
             "subscribe.agent_info.hostname: required field missing");
    call_err("{'type':'SUBSCRIBE','subscribe':{'agent_info':{'hostname':'h'},'address':"
             "{'port':99999}}}",
             "subscribe.address.port: 99999 is not a port");
    call_err("{'type':'SUBSCRIBE','subscribe':{'agent_info':{'hostname':'h'},'frameworks':[{}]}}",
             "subscribe.frameworks[0].user: required field missing");
    call_err(
        "{'type':'SUBSCRIBE','subscribe':{'agent_info':{'hostname':'h'},'tasks':[{'task':{}}]}}",
        "subscribe.tasks[0].framework_id: required field missing");
    call_err("{'type':'SUBSCRIBE','subscribe':{'agent_info':{'hostname':'h'},'tasks':["
             "{'framework_id':{'value':'f'},'task':{'name':'t','task_id':{'value':'t'},"
             "'agent_id':{'value':'a'}},'state':'TASK_NAPPING'}]}}",
             "subscribe.tasks[0].state: unknown task state 'TASK_NAPPING'");
    call_err("{'type':'SUBSCRIBE','subscribe':{'agent_info':{'hostname':'h'},'tasks':["
             "{'framework_id':{'value':'f'},'task':{'name':'t','agent_id':{'value':'a'}},"
             "'state':'TASK_RUNNING'}]}}",
             "subscribe.tasks[0].task.task_id: required field missing");
    call_err("{'type':'UPDATE','update':{}}", "agent_id: required for type UPDATE");
    call_err("{'type':'UPDATE','agent_id':{'value':'a'}}", "update: required for type UPDATE");
    call_err("{'type':'UPDATE','agent_id':{'value':'a'},'update':{'status':{}}}",
             "update.framework_id: required field missing");
    call_err("{'type':'UPDATE','agent_id':{'value':'a'},'update':{'framework_id':{'value':'f'}}}",
             "update.status: required field missing");
    call_err("{'type':'UPDATE','agent_id':{'value':'a'},'update':{'framework_id':{'value':'f'},"
             "'status':{'task_id':{'value':'t'},'state':'TASK_RUNNING'}}}",
             "update.status.uuid: required: agent status updates are acknowledged by uuid");
    call_err("{'type':'PONG'}", "agent_id: required for type PONG");
}

static const struct cr_master_info MASTER = {
    .id = "m", .ip = "127.0.0.1", .port = 5050, .hostname = "localhost", .version = "0.1.0"};

/* Encode with the master's builder, check the text, parse with the agent's parser. */
static void event_round(json_t *ev, const char *want_sq, struct cr_agent_event *out)
{
    char *text = cr_json_dump(ev);
    expect_json(ev, want_sq);
    struct cr_err err = {0};
    if (cr_parse_agent_event(text, strlen(text), out, &err) != 0)
        fail_msg("%s: %s", text, err.msg);
    free(text);
}

static void test_events_round_trip(void **state)
{
    (void)state;
    struct cr_agent_event e;
    event_round(cr_agent_event_subscribed("m-S1", 1, &MASTER),
                "{'type':'SUBSCRIBED','subscribed':{'agent_id':{'value':'m-S1'},"
                "'ping_interval_seconds':1.0,'master_info':{'id':'m','ip':16777343,'port':5050,"
                "'pid':'master@127.0.0.1:5050','hostname':'localhost','version':'0.1.0',"
                "'address':{'hostname':'localhost','ip':'127.0.0.1','port':5050}}}}",
                &e);
    assert_int_equal(e.type, CR_AGENT_EVENT_SUBSCRIBED);
    assert_string_equal(e.agent_id, "m-S1");
    assert_true(e.ping_interval_seconds == 1);
    assert_non_null(e.master_info);
    cr_agent_event_release(&e);

    struct cr_err err = {0};
    struct cr_framework_info fi;
    struct cr_task_info t;
    json_t *j = load("{'user':'u','name':'n','id':{'value':'f'}}");
    assert_int_equal(cr_parse_framework_info(j, "fi", &fi, &err), 0);
    json_decref(j);
    j = load("{'name':'t','task_id':{'value':'t.1'},'agent_id':{'value':'a'},'resources':"
             "[{'name':'cpus','type':'SCALAR','scalar':{'value':0.5}}],'command':{'value':'x'}}");
    assert_int_equal(cr_parse_task_info(j, "t", &t, &err), 0);
    json_decref(j);
    event_round(cr_agent_event_launch(&fi, &t, "dev"),
                "{'type':'LAUNCH','launch':{'framework_info':{'user':'u','name':'n','id':"
                "{'value':'f'},'failover_timeout':0.0,'checkpoint':false,'role':'*'},'task':"
                "{'name':'t','task_id':{'value':'t.1'},'agent_id':{'value':'a'},'resources':"
                "[{'name':'cpus','type':'SCALAR','scalar':{'value':0.5},'role':'*',"
                "'allocation_info':{'role':'dev'}}],'command':{'shell':true,'value':'x'}}}}",
                &e);
    assert_int_equal(e.type, CR_AGENT_EVENT_LAUNCH);
    assert_string_equal(e.framework_info.id, "f");
    assert_string_equal(e.task.task_id, "t.1");
    assert_string_equal(e.allocation_role, "dev");
    assert_true(cr_resources_equal(&e.task.resources, &t.resources));
    cr_agent_event_release(&e);
    cr_framework_info_release(&fi);
    cr_task_info_release(&t);

    event_round(cr_agent_event_kill("f", "t.1", 3000),
                "{'type':'KILL','kill':{'framework_id':{'value':'f'},'task_id':{'value':'t.1'},"
                "'kill_policy':{'grace_period':{'nanoseconds':3000000000}}}}",
                &e);
    assert_int_equal(e.kill_grace_ms, 3000);
    cr_agent_event_release(&e);
    event_round(cr_agent_event_kill("f", "t.1", -1),
                "{'type':'KILL','kill':{'framework_id':{'value':'f'},'task_id':{'value':'t.1'}}}",
                &e);
    assert_int_equal(e.kill_grace_ms, -1);
    cr_agent_event_release(&e);

    event_round(cr_agent_event_shutdown_framework("f"),
                "{'type':'SHUTDOWN_FRAMEWORK','shutdown_framework':{'framework_id':{'value':'f'}}}",
                &e);
    assert_string_equal(e.framework_id, "f");
    cr_agent_event_release(&e);

    const unsigned char uuid[16] = {0xde, 0xad, 0xbe, 0xef, 0, 0, 0x40, 1,
                                    0x80, 0,    0,    0,    0, 0, 0,    1};
    event_round(cr_agent_event_acknowledged("f", "t.1", uuid),
                "{'type':'ACKNOWLEDGED','acknowledged':{'framework_id':{'value':'f'},'task_id':"
                "{'value':'t.1'},'uuid':'3q2+7wAAQAGAAAAAAAAAAQ=='}}",
                &e);
    assert_memory_equal(e.uuid, uuid, 16);
    cr_agent_event_release(&e);

    event_round(cr_agent_event_ping(), "{'type':'PING'}", &e);
    assert_int_equal(e.type, CR_AGENT_EVENT_PING);
    cr_agent_event_release(&e);
    event_round(cr_agent_event_error("agent removed"),
                "{'type':'ERROR','error':{'message':'agent removed'}}", &e);
    assert_string_equal(e.message, "agent removed");
    cr_agent_event_release(&e);
    assert_string_equal(cr_agent_event_name(CR_AGENT_EVENT_SHUTDOWN_FRAMEWORK),
                        "SHUTDOWN_FRAMEWORK");
}

static void test_event_errors(void **state)
{
    (void)state;
    const struct {
        const char *in;
        const char *want;
    } cases[] = {
        {"{'type':'SUBSCRIBED'}", "subscribed: required for type SUBSCRIBED"},
        {"{'type':'SUBSCRIBED','subscribed':{}}", "subscribed.agent_id: required field missing"},
        {"{'type':'SUBSCRIBED','subscribed':{'agent_id':{'value':'a'},'ping_interval_seconds':-1}}",
         "subscribed.ping_interval_seconds: must be a non-negative number"},
        {"{'type':'LAUNCH','launch':{'task':{}}}", "launch.framework_info: required field missing"},
        {"{'type':'LAUNCH','launch':{'framework_info':{'user':'u','name':'n'}}}",
         "launch.task: required field missing"},
        {"{'type':'LAUNCH','launch':{'framework_info':{'user':'u','name':'n'},'task':{'name':'t'}}}",
         "launch.task.task_id: required field missing"},
        {"{'type':'KILL','kill':{'framework_id':{'value':'f'}}}",
         "kill.task_id: required field missing"},
        {"{'type':'KILL','kill':{'framework_id':{'value':'f'},'task_id':{'value':'t'},"
         "'kill_policy':{'grace_period':{'nanoseconds':-1}}}}",
         "kill.kill_policy.grace_period: must not be negative"},
        {"{'type':'SHUTDOWN_FRAMEWORK','shutdown_framework':{}}",
         "shutdown_framework.framework_id: required field missing"},
        {"{'type':'ACKNOWLEDGED','acknowledged':{'framework_id':{'value':'f'},'task_id':"
         "{'value':'t'},'uuid':'aGk='}}",
         "acknowledged.uuid: expected 16 bytes, got 2"},
        {"{'type':'ERROR','error':{}}", "error.message: required field missing"},
        {"{'type':7}", "type: expected an enum name, got number 7"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cr_err err = {0};
        struct cr_agent_event e;
        char *body = dq(cases[i].in);
        expect_err(cr_parse_agent_event(body, strlen(body), &e, &err), &err, cases[i].want);
        assert_null(e.framework_id);
        free(body);
    }
    struct cr_err err = {0};
    struct cr_agent_event e;
    assert_int_equal(cr_parse_agent_event("{\"type\":\"FUTURE\"}", 17, &e, &err), 0);
    assert_int_equal(e.type, CR_AGENT_EVENT_UNKNOWN);
    cr_agent_event_release(&e);
}

/* Structural fuzz: replace every value in turn by each of a few odd values; the parsers
 * must answer 0 or -EINVAL with a message, never crash or leak. */
static void replace_each(json_t *root, json_t *node, int is_call)
{
    static const char *const odd[] = {
        "null", "1", "-1", "\"\"", "{}", "[]", "true", "\"Infinity\"", "{\"value\":\"x\"}",
        "1e400"};
    if (json_is_object(node)) {
        const char *k;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(node, tmp, k, v)
        {
            json_t *saved = json_incref(v);
            for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
                json_t *r = json_loads(odd[i], JSON_DECODE_ANY, NULL);
                if (!r)
                    r = json_real(1e300);
                json_object_set_new(node, k, r);
                char *text = json_dumps(root, JSON_COMPACT);
                struct cr_err err = {0};
                if (is_call) {
                    struct cr_agent_call c;
                    if (cr_parse_agent_call(text, strlen(text), &c, &err) == 0)
                        json_decref(cr_json_agent_call(&c));
                    else
                        assert_true(err.msg[0] != '\0');
                    cr_agent_call_release(&c);
                } else {
                    struct cr_agent_event e;
                    if (cr_parse_agent_event(text, strlen(text), &e, &err) != 0)
                        assert_true(err.msg[0] != '\0');
                    cr_agent_event_release(&e);
                }
                free(text);
            }
            json_object_set_new(node, k, saved);
            replace_each(root, saved, is_call);
        }
    } else if (json_is_array(node)) {
        size_t i;
        json_t *v;
        json_array_foreach(node, i, v) replace_each(root, v, is_call);
    }
}

static void test_fuzz_fields(void **state)
{
    (void)state;
    json_t *root = load(SUBSCRIBE);
    replace_each(root, root, 1);
    json_decref(root);
    struct cr_framework_info fi;
    struct cr_task_info t;
    struct cr_err err = {0};
    json_t *j =
        load("{'user':'u','name':'n','roles':['a'],'capabilities':[{'type':'MULTI_ROLE'}]}");
    assert_int_equal(cr_parse_framework_info(j, "fi", &fi, &err), 0);
    json_decref(j);
    j = load("{'name':'t','task_id':{'value':'t.1'},'agent_id':{'value':'a'},'resources':"
             "[{'name':'ports','type':'RANGES','ranges':{'range':[{'begin':1,'end':2}]}}],"
             "'command':{'value':'x'},'kill_policy':{'grace_period':{'nanoseconds':5}}}");
    assert_int_equal(cr_parse_task_info(j, "t", &t, &err), 0);
    json_decref(j);
    root = cr_agent_event_launch(&fi, &t, "a");
    replace_each(root, root, 0);
    json_decref(root);
    cr_framework_info_release(&fi);
    cr_task_info_release(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calls_round_trip),  cmocka_unit_test(test_call_errors),
        cmocka_unit_test(test_events_round_trip), cmocka_unit_test(test_event_errors),
        cmocka_unit_test(test_fuzz_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
