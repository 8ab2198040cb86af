/*
 * test_sched_call.c - cr_parse_sched_call(): every call type of API-COMPAT.md §1.4 from
 * its documented example, the bodies real clients send (tobilg/mesos-framework's
 * null-everywhere SUBSCRIBE and ByteBuffer uuid), every error path word for word, and a
 * seeded mutation fuzzer (byte-level and structural) that must never crash or leak
 * (run under ASan/UBSan).
 */
#include "test_helpers.h"

#include <math.h>
#include <stdio.h>

#include "base/util.h"

/* Parse a single-quoted body; fail the test on error. */
static void parse_ok(const char *sq, struct cr_sched_call *c)
{
    struct cr_err err = {0};
    char *body = dq(sq);
    int rc = cr_parse_sched_call(body, strlen(body), c, &err);
    if (rc != 0)
        fail_msg("parse failed: %s\nbody: %s", err.msg, body);
    free(body);
}

static void parse_err(const char *sq, const char *want)
{
    struct cr_err err = {0};
    struct cr_sched_call c;
    char *body = dq(sq);
    expect_err(cr_parse_sched_call(body, strlen(body), &c, &err), &err, want);
    /* A failed parse leaves the call empty. */
    assert_null(c.framework_id);
    assert_null(c.operations);
    assert_null(c.framework_info.user);
    cr_sched_call_release(&c);
    free(body);
}

/* ---------------------------------------------------------------- each call type */

/* API-COMPAT.md §7.1: tobilg/mesos-framework 0.7.0 sends every call field, mostly null. */
static const char *TOBILG_SUBSCRIBE =
    "{'framework_id':null,'type':'SUBSCRIBE','subscribe':{'framework_info':{'user':'root',"
    "'name':'probe-fw','id':null,'failover_timeout':604800,'checkpoint':null,'role':'*',"
    "'roles':[],'hostname':null,'principal':null,'webui_url':null,'capabilities':[],"
    "'labels':null},'suppressed_roles':[]},'accept':null,'decline':null,"
    "'accept_inverse_offers':null,'decline_inverse_offers':null,'revive':null,'kill':null,"
    "'shutdown':null,'acknowledge':null,'reconcile':null,'message':null,'request':null,"
    "'suppress':null,'acknowledge_operation_status':null,'reconcile_operations':null,"
    "'update_framework':null}";

static void test_subscribe(void **state)
{
    (void)state;
    struct cr_sched_call c;
    parse_ok(TOBILG_SUBSCRIBE, &c);
    assert_int_equal(c.type, CR_CALL_SUBSCRIBE);
    assert_null(c.framework_id);
    assert_string_equal(c.framework_info.user, "root");
    assert_string_equal(c.framework_info.name, "probe-fw");
    assert_true(c.framework_info.failover_timeout == 604800);
    assert_int_equal(c.framework_info.nroles, 1);
    assert_string_equal(c.framework_info.roles[0], "*");
    assert_int_equal(c.nsuppressed_roles, 0);
    cr_sched_call_release(&c);

    parse_ok("{'type':'SUBSCRIBE','subscribe':{'framework_info':{'user':'root','name':'demo',"
             "'failover_timeout':604800,'roles':['dev'],'capabilities':[{'type':'MULTI_ROLE'},"
             "{'type':'PARTITION_AWARE'},{'type':'TASK_KILLING_STATE'}]},"
             "'suppressed_roles':['dev'],'offer_constraints':{}}}",
             &c);
    assert_int_equal(c.framework_info.capabilities,
                     CR_FWCAP_MULTI_ROLE | CR_FWCAP_PARTITION_AWARE | CR_FWCAP_TASK_KILLING_STATE);
    assert_int_equal(c.framework_info.nroles, 1);
    assert_string_equal(c.framework_info.roles[0], "dev");
    assert_int_equal(c.nsuppressed_roles, 1);
    cr_sched_call_release(&c);

    /* Re-subscription: the top-level id may be given if it matches. */
    parse_ok("{'framework_id':{'value':'f-0001'},'type':'SUBSCRIBE','subscribe':{'framework_info':"
             "{'user':'u','name':'n','id':{'value':'f-0001'}}}}",
             &c);
    assert_string_equal(c.framework_id, "f-0001");
    assert_string_equal(c.framework_info.id, "f-0001");
    cr_sched_call_release(&c);
    parse_ok("{'type':'SUBSCRIBE','subscribe':{'framework_info':{'user':'u','name':'n','id':"
             "{'value':'f-0001'}}}}",
             &c);
    assert_null(c.framework_id);
    cr_sched_call_release(&c);

    parse_ok("{'framework_id':{'value':'f'},'type':'UPDATE_FRAMEWORK','update_framework':"
             "{'framework_info':{'user':'u','name':'n2','id':{'value':'f'}}}}",
             &c);
    assert_int_equal(c.type, CR_CALL_UPDATE_FRAMEWORK);
    assert_string_equal(c.framework_info.name, "n2");
    cr_sched_call_release(&c);
}

static void test_decline_revive_suppress_teardown(void **state)
{
    (void)state;
    struct cr_sched_call c;
    parse_ok("{'framework_id':{'value':'b1e5-0000'},'type':'DECLINE',"
             "'decline':{'offer_ids':[{'value':'b1e5-O7'}],'filters':{'refuse_seconds':30}}}",
             &c);
    assert_int_equal(c.type, CR_CALL_DECLINE);
    assert_string_equal(c.framework_id, "b1e5-0000");
    assert_int_equal(c.noffer_ids, 1);
    assert_string_equal(c.offer_ids[0], "b1e5-O7");
    assert_true(c.refuse_seconds == 30);
    cr_sched_call_release(&c);

    parse_ok("{'framework_id':{'value':'f'},'type':'REVIVE','revive':{'roles':['dev']}}", &c);
    assert_int_equal(c.type, CR_CALL_REVIVE);
    assert_int_equal(c.nroles, 1);
    assert_string_equal(c.roles[0], "dev");
    cr_sched_call_release(&c);
    parse_ok("{'framework_id':{'value':'f'},'type':'REVIVE'}", &c);
    assert_int_equal(c.nroles, 0);
    cr_sched_call_release(&c);
    parse_ok("{'framework_id':{'value':'f'},'type':'SUPPRESS','suppress':{}}", &c);
    assert_int_equal(c.type, CR_CALL_SUPPRESS);
    assert_int_equal(c.nroles, 0);
    cr_sched_call_release(&c);
    parse_ok("{'framework_id':{'value':'f'},'type':'TEARDOWN'}", &c);
    assert_int_equal(c.type, CR_CALL_TEARDOWN);
    cr_sched_call_release(&c);
    parse_ok("{'framework_id':{'value':'f'},'type':'DECLINE_INVERSE_OFFERS',"
             "'decline_inverse_offers':{'inverse_offer_ids':[{'value':'i1'}]}}",
             &c);
    assert_int_equal(c.noffer_ids, 1);
    assert_string_equal(c.offer_ids[0], "i1");
    cr_sched_call_release(&c);
}

static void test_refuse_seconds(void **state)
{
    (void)state;
    const struct {
        const char *filters;
        double want;
    } cases[] = {
        {"", 5},
        {",'filters':{}", 5},
        {",'filters':null", 5},
        {",'filters':{'refuse_seconds':0}", 0},
        {",'filters':{'refuse_seconds':-1}", 5},
        {",'filters':{'refuse_seconds':'30'}", 30},
        {",'filters':{'refuse_seconds':1e12}", 31536000},
        {",'filters':{'refuse_seconds':'Infinity'}", 31536000},
        {",'filters':{'refuse_seconds':'-Infinity'}", 5},
        {",'filters':{'refuse_seconds':0.25}", 0.25},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char body[256];
        snprintf(body, sizeof(body),
                 "{'framework_id':{'value':'f'},'type':'DECLINE','decline':{'offer_ids':[]%s}}",
                 cases[i].filters);
        struct cr_sched_call c;
        parse_ok(body, &c);
        if (c.refuse_seconds != cases[i].want)
            fail_msg("%s: want %g got %g", cases[i].filters, cases[i].want, c.refuse_seconds);
        cr_sched_call_release(&c);
    }
}

static void test_kill_shutdown_message(void **state)
{
    (void)state;
    struct cr_sched_call c;
    parse_ok("{'framework_id':{'value':'b1e5-0000'},'type':'KILL','kill':{'task_id':{'value':"
             "'web.1'},'agent_id':{'value':'b1e5-S0'},'kill_policy':{'grace_period':"
             "{'nanoseconds':10000000000}}}}",
             &c);
    assert_int_equal(c.type, CR_CALL_KILL);
    assert_string_equal(c.task_id, "web.1");
    assert_string_equal(c.agent_id, "b1e5-S0");
    assert_true(c.kill_grace_ms == 10000);
    cr_sched_call_release(&c);
    parse_ok("{'framework_id':{'value':'f'},'type':'KILL','kill':{'task_id':{'value':'t'}}}", &c);
    assert_null(c.agent_id);
    assert_true(c.kill_grace_ms == -1);
    cr_sched_call_release(&c);

    parse_ok("{'framework_id':{'value':'f'},'type':'SHUTDOWN','shutdown':{'executor_id':"
             "{'value':'e'},'agent_id':{'value':'a'}}}",
             &c);
    assert_string_equal(c.executor_id, "e");
    assert_string_equal(c.agent_id, "a");
    cr_sched_call_release(&c);

    parse_ok("{'framework_id':{'value':'f'},'type':'MESSAGE','message':{'agent_id':{'value':'a'},"
             "'executor_id':{'value':'e'},'data':'aGk'}}",
             &c);
    assert_string_equal(c.data_b64, "aGk=");
    cr_sched_call_release(&c);
    parse_ok("{'framework_id':{'value':'f'},'type':'MESSAGE','message':{'agent_id':{'value':'a'},"
             "'executor_id':{'value':'e'},'data':''}}",
             &c);
    assert_string_equal(c.data_b64, "");
    cr_sched_call_release(&c);
    parse_ok("{'framework_id':{'value':'f'},'type':'REQUEST','request':{'requests':[{}]}}", &c);
    assert_int_equal(c.type, CR_CALL_REQUEST);
    cr_sched_call_release(&c);
    /* tobilg/mesos-framework's shape (top-level "requests"). */
    parse_ok("{'framework_id':{'value':'f'},'type':'REQUEST','requests':[{}]}", &c);
    assert_int_equal(c.type, CR_CALL_REQUEST);
    cr_sched_call_release(&c);
}

static void test_acknowledge(void **state)
{
    (void)state;
    struct cr_sched_call c;
    static const unsigned char want[16] = {0xde, 0xad, 0xbe, 0xef, 0, 0, 0x40, 1,
                                           0x80, 0,    0,    0,    0, 0, 0,    1};
    parse_ok("{'framework_id':{'value':'b1e5-0000'},'type':'ACKNOWLEDGE','acknowledge':"
             "{'agent_id':{'value':'b1e5-S0'},'task_id':{'value':'web.1'},"
             "'uuid':'3q2+7wAAQAGAAAAAAAAAAQ=='}}",
             &c);
    assert_int_equal(c.type, CR_CALL_ACKNOWLEDGE);
    assert_int_equal(c.uuid_len, 16);
    assert_memory_equal(c.uuid, want, 16);
    assert_string_equal(c.task_id, "web.1");
    assert_string_equal(c.agent_id, "b1e5-S0");
    cr_sched_call_release(&c);

    /* tobilg/mesos-framework 0.7.0 serializes the uuid as a ByteBuffer (§7.1). */
    parse_ok("{'framework_id':{'value':'f'},'type':'ACKNOWLEDGE','acknowledge':{'agent_id':"
             "{'value':'a'},'task_id':{'value':'t'},'uuid':{'buffer':{'type':'Buffer','data':"
             "[222,173,190,239,0,0,64,1,128,0,0,0,0,0,0,1,99,99]},'offset':0,'markedOffset':-1,"
             "'limit':16,'littleEndian':false,'noAssert':false}}}",
             &c);
    assert_int_equal(c.uuid_len, 16);
    assert_memory_equal(c.uuid, want, 16);
    cr_sched_call_release(&c);
}

static void test_reconcile(void **state)
{
    (void)state;
    struct cr_sched_call c;
    parse_ok("{'framework_id':{'value':'b1e5-0000'},'type':'RECONCILE','reconcile':{'tasks':[]}}",
             &c);
    assert_int_equal(c.type, CR_CALL_RECONCILE);
    assert_int_equal(c.nreconcile, 0);
    cr_sched_call_release(&c);
    parse_ok("{'framework_id':{'value':'f'},'type':'RECONCILE','reconcile':{'tasks':["
             "{'task_id':{'value':'t1'},'agent_id':{'value':'a'}},{'task_id':{'value':'t2'},"
             "'agent_id':null}]}}",
             &c);
    assert_int_equal(c.nreconcile, 2);
    assert_string_equal(c.reconcile[0].task_id, "t1");
    assert_string_equal(c.reconcile[0].agent_id, "a");
    assert_string_equal(c.reconcile[1].task_id, "t2");
    assert_null(c.reconcile[1].agent_id);
    cr_sched_call_release(&c);
}

/* API-COMPAT.md §1.7. */
static const char *FULL_ACCEPT =
    "{'framework_id':{'value':'b1e5-0000'},'type':'ACCEPT','accept':{"
    "'offer_ids':[{'value':'b1e5-O7'}],"
    "'operations':[{'type':'LAUNCH','launch':{'task_infos':["
    "{'name':'hello','task_id':{'value':'hello.1'},'agent_id':{'value':'b1e5-S0'},"
    "'resources':[{'name':'cpus','type':'SCALAR','scalar':{'value':0.1},'role':'*',"
    "'allocation_info':{'role':'dev'}},{'name':'mem','type':'SCALAR','scalar':{'value':32},"
    "'role':'*','allocation_info':{'role':'dev'}}],"
    "'command':{'shell':true,'value':'echo hi && sleep 60',"
    "'environment':{'variables':[{'name':'GREETING','value':'hi'}]}}},"
    "{'name':'nginx','task_id':{'value':'nginx.1'},'agent_id':{'value':'b1e5-S0'},"
    "'resources':[{'name':'cpus','type':'SCALAR','scalar':{'value':0.5}},"
    "{'name':'mem','type':'SCALAR','scalar':{'value':128}},"
    "{'name':'ports','type':'RANGES','ranges':{'range':[{'begin':31005,'end':31005}]}}],"
    "'command':{'shell':false},"
    "'container':{'type':'DOCKER','docker':{'image':'nginx:1.25','network':'BRIDGE',"
    "'force_pull_image':false,'port_mappings':[{'host_port':31005,'container_port':80,"
    "'protocol':'tcp'}]}},"
    "'health_check':{'type':'HTTP','http':{'port':80,'path':'/'},'grace_period_seconds':30,"
    "'interval_seconds':10,'consecutive_failures':3}}]}}],"
    "'filters':{'refuse_seconds':10}}}";

static void test_accept_full(void **state)
{
    (void)state;
    struct cr_sched_call c;
    parse_ok(FULL_ACCEPT, &c);
    assert_int_equal(c.type, CR_CALL_ACCEPT);
    assert_int_equal(c.noffer_ids, 1);
    assert_true(c.refuse_seconds == 10);
    assert_int_equal(c.noperations, 1);
    const struct cr_operation *op = &c.operations[0];
    assert_int_equal(op->type, CR_OP_LAUNCH);
    assert_int_equal(op->ntasks, 2);
    assert_int_equal(op->ninvalid, 0);
    assert_non_null(op->raw);
    assert_string_equal(op->tasks[0].task_id, "hello.1");
    assert_string_equal(op->tasks[0].command.value, "echo hi && sleep 60");
    assert_int_equal(op->tasks[0].command.nenv, 1);
    assert_int_equal(cr_resources_scalar(&op->tasks[1].resources, "mem"), 128000);
    assert_int_equal(cr_resources_range_count(&op->tasks[1].resources, "ports"), 1);
    assert_false(op->tasks[1].command.shell);
    json_t *docker = json_object_get(json_object_get(op->tasks[1].extra, "container"), "docker");
    assert_string_equal(json_string_value(json_object_get(docker, "image")), "nginx:1.25");
    assert_non_null(json_object_get(op->tasks[1].extra, "health_check"));
    cr_sched_call_release(&c);
}

static void test_accept_operations(void **state)
{
    (void)state;
    struct cr_sched_call c;
    /* Invalid tasks are set aside for TASK_ERROR, the call still parses. */
    parse_ok(
        "{'framework_id':{'value':'f'},'type':'ACCEPT','accept':{'offer_ids':[{'value':'o'}],"
        "'operations':[{'type':'LAUNCH','launch':{'task_infos':["
        "{'name':'a','task_id':{'value':'a'},'agent_id':{'value':'s'},'command':{'value':'x'}},"
        "{'name':'b','task_id':{'value':'b'},'agent_id':{'value':'s'}},"
        "{'name':'c','task_id':{'value':'c/1'},'agent_id':{'value':'s'},'command':{'value':'x'}},"
        "{'name':'d','task_id':{'value':'d'},'agent_id':{'value':'s'},'command':{'value':'x'}}]}},"
        "{'type':'RESERVE','reserve':{'resources':[]}},"
        "{'type':'GROW_VOLUME','grow_volume':{}},"
        "{'launch':null},"
        "{'type':'LAUNCH_GROUP','launch_group':{'executor':{'type':'DEFAULT','executor_id':"
        "{'value':'ex'},'resources':[]},'task_group':{'tasks':["
        "{'name':'g1','task_id':{'value':'g1'},'agent_id':{'value':'s'},'command':{'value':'x'}},"
        "{'name':'g2','task_id':{'value':'g2'},'agent_id':{'value':'s'},'command':{'value':'x'},"
        "'executor':{'executor_id':{'value':'other'}}}]}}}]}}",
        &c);
    assert_int_equal(c.noperations, 5);
    const struct cr_operation *op = &c.operations[0];
    assert_int_equal(op->ntasks, 2);
    assert_string_equal(op->tasks[0].task_id, "a");
    assert_string_equal(op->tasks[1].task_id, "d");
    assert_int_equal(op->ninvalid, 2);
    assert_string_equal(op->invalid_tasks[0].task_id, "b");
    assert_string_equal(op->invalid_reasons[0],
                        "task 'b': exactly one of command or executor must be set");
    assert_string_equal(op->invalid_tasks[1].task_id, "c/1");
    assert_string_equal(op->invalid_reasons[1],
                        "task 'c/1': invalid task id: id 'c/1' contains invalid characters "
                        "(control characters, '/' or '\\')");
    assert_int_equal(c.operations[1].type, CR_OP_RESERVE);
    assert_non_null(json_object_get(c.operations[1].raw, "reserve"));
    assert_int_equal(c.operations[2].type, CR_OP_UNKNOWN);
    assert_non_null(json_object_get(c.operations[2].raw, "grow_volume"));
    assert_int_equal(c.operations[3].type, CR_OP_UNKNOWN);
    assert_int_equal(json_object_size(c.operations[3].raw), 0);
    op = &c.operations[4];
    assert_int_equal(op->type, CR_OP_LAUNCH_GROUP);
    assert_int_equal(op->ntasks, 1);
    assert_string_equal(op->tasks[0].task_id, "g1");
    assert_int_equal(op->ninvalid, 1);
    assert_string_equal(op->invalid_reasons[0],
                        "task 'g2': a task in a task group must not set executor");
    json_t *ex = json_object_get(json_object_get(op->raw, "launch_group"), "executor");
    assert_string_equal(json_string_value(json_object_get(ex, "type")), "DEFAULT");
    cr_sched_call_release(&c);

    /* A bad group executor id makes the whole group invalid. */
    parse_ok("{'framework_id':{'value':'f'},'type':'ACCEPT','accept':{'operations':["
             "{'type':'LAUNCH_GROUP','launch_group':{'executor':{'executor_id':{'value':'a/b'}},"
             "'task_group':{'tasks':[{'name':'g1','task_id':{'value':'g1'},'agent_id':"
             "{'value':'s'},'command':{'value':'x'}}]}}}]}}",
             &c);
    assert_int_equal(c.operations[0].ntasks, 0);
    assert_int_equal(c.operations[0].ninvalid, 1);
    assert_string_equal(c.operations[0].invalid_reasons[0],
                        "task 'g1': invalid executor id: id 'a/b' contains invalid characters "
                        "(control characters, '/' or '\\')");
    cr_sched_call_release(&c);
}

static void test_unknown_and_names(void **state)
{
    (void)state;
    struct cr_sched_call c;
    parse_ok("{'type':'FUTURE_CALL','future_call':{'x':1}}", &c);
    assert_int_equal(c.type, CR_CALL_UNKNOWN);
    cr_sched_call_release(&c);
    parse_ok("{'type':'UNKNOWN'}", &c);
    assert_int_equal(c.type, CR_CALL_UNKNOWN);
    cr_sched_call_release(&c);
    for (int t = 0; t <= CR_CALL_UPDATE_FRAMEWORK; t++)
        assert_int_equal(cr_sched_call_type_parse(cr_sched_call_name((enum cr_sched_call_type)t)),
                         t);
    assert_string_equal(cr_sched_call_name(CR_CALL_ACKNOWLEDGE_OPERATION_STATUS),
                        "ACKNOWLEDGE_OPERATION_STATUS");
    assert_string_equal(cr_sched_call_name((enum cr_sched_call_type)99), "UNKNOWN");
    assert_int_equal(cr_sched_call_type_parse("accept"), CR_CALL_UNKNOWN);
    assert_int_equal(cr_sched_call_type_parse(NULL), CR_CALL_UNKNOWN);

    /* Release is idempotent and accepts a zeroed struct and NULL. */
    memset(&c, 0, sizeof(c));
    cr_sched_call_release(&c);
    cr_sched_call_release(&c);
    cr_sched_call_release(NULL);
}

static void test_operation_feedback_calls(void **state)
{
    (void)state;
    struct cr_sched_call c;
    parse_ok("{'framework_id':{'value':'f'},'type':'ACKNOWLEDGE_OPERATION_STATUS',"
             "'acknowledge_operation_status':{'agent_id':{'value':'a'},'uuid':'aGk=',"
             "'operation_id':{'value':'op'}}}",
             &c);
    assert_int_equal(c.uuid_len, 2);
    cr_sched_call_release(&c);
    parse_ok("{'framework_id':{'value':'f'},'type':'RECONCILE_OPERATIONS','reconcile_operations':"
             "{'operations':[{'operation_id':{'value':'op'}}]}}",
             &c);
    cr_sched_call_release(&c);
    parse_err("{'framework_id':{'value':'f'},'type':'ACKNOWLEDGE_OPERATION_STATUS',"
              "'acknowledge_operation_status':{'uuid':'aGk='}}",
              "acknowledge_operation_status.operation_id: required field missing");
    parse_err("{'framework_id':{'value':'f'},'type':'RECONCILE_OPERATIONS','reconcile_operations':"
              "{'operations':[{}]}}",
              "reconcile_operations.operations[0].operation_id: required field missing");
}

static void test_errors(void **state)
{
    (void)state;
    struct cr_err err = {0};
    struct cr_sched_call c;
    assert_int_equal(cr_parse_sched_call("{\"type\":", 8, &c, &err), -EINVAL);
    assert_true(strncmp(err.msg, "malformed JSON at line 1 column ", 32) == 0);
    assert_int_equal(cr_parse_sched_call("[]", 2, &c, &err), -EINVAL);
    assert_string_equal(err.msg, "expected a JSON object, got array");
    assert_int_equal(cr_parse_sched_call(NULL, 0, &c, &err), -EINVAL);
    /* Body length is honoured: trailing garbage after len is not read. */
    assert_int_equal(
        cr_parse_sched_call("{\"type\":\"TEARDOWN\",\"framework_id\":{\"value\":\"f\"}}xx", 48, &c,
                            &err),
        0);
    cr_sched_call_release(&c);

    parse_err("{}", "type: required field missing");
    parse_err("{'type':3}", "type: expected an enum name, got number 3");
    parse_err("{'type':['ACCEPT']}", "type: expected an enum name, got array");
    parse_err("{'type':'ACCEPT','framework_id':'f'}",
              "framework_id: expected an object, got string");
    parse_err("{'type':'DECLINE','decline':{}}", "framework_id: required for type DECLINE");
    parse_err("{'type':'ACCEPT','framework_id':{'value':'f'}}", "accept: required for type ACCEPT");
    parse_err("{'type':'ACCEPT','framework_id':{'value':'f'},'accept':null}",
              "accept: required for type ACCEPT");
    parse_err("{'type':'SUBSCRIBE'}", "subscribe: required for type SUBSCRIBE");
    parse_err("{'type':'KILL','framework_id':{'value':'f'},'kill':[]}",
              "kill: expected an object, got array");
    parse_err("{'type':'SUBSCRIBE','subscribe':{}}",
              "subscribe.framework_info: required field missing");
    parse_err("{'type':'SUBSCRIBE','subscribe':{'framework_info':{'user':0,'name':'n'}}}",
              "subscribe.framework_info.user: expected a string, got number");
    parse_err("{'type':'SUBSCRIBE','framework_id':{'value':'f'},'subscribe':{'framework_info':"
              "{'user':'u','name':'n','id':{'value':'g'}}}}",
              "framework_id: differs from subscribe.framework_info.id");
    parse_err("{'type':'SUBSCRIBE','framework_id':{'value':'f'},'subscribe':{'framework_info':"
              "{'user':'u','name':'n'}}}",
              "framework_id: differs from subscribe.framework_info.id");
    parse_err("{'type':'SUBSCRIBE','subscribe':{'framework_info':{'user':'u','name':'n',"
              "'roles':['a'],'capabilities':[{'type':'MULTI_ROLE'}]},'suppressed_roles':['b']}}",
              "subscribe.suppressed_roles[0]: role 'b' is not one of the framework's roles");
    parse_err("{'type':'UPDATE_FRAMEWORK','framework_id':{'value':'f'},'update_framework':"
              "{'framework_info':{'user':'u','name':'n'}}}",
              "update_framework.framework_info.id: required field missing");
    parse_err("{'type':'ACCEPT','framework_id':{'value':'f'},'accept':{'offer_ids':['o']}}",
              "accept.offer_ids[0]: expected an object, got string");
    parse_err("{'type':'ACCEPT','framework_id':{'value':'f'},'accept':{'offer_ids':[{}]}}",
              "accept.offer_ids[0].value: required field missing");
    parse_err("{'type':'ACCEPT','framework_id':{'value':'f'},'accept':{'operations':[{'type':1}]}}",
              "accept.operations[0].type: expected an enum name, got number 1");
    parse_err(
        "{'type':'ACCEPT','framework_id':{'value':'f'},'accept':{'operations':[{'type':'LAUNCH'}]}}",
        "accept.operations[0].launch: required for type LAUNCH");
    parse_err("{'type':'ACCEPT','framework_id':{'value':'f'},'accept':{'operations':["
              "{'type':'LAUNCH','launch':{'task_infos':[{'name':'a','task_id':{'value':'a'},"
              "'agent_id':{'value':'s'},'command':{'value':'x'}},{'name':'b','agent_id':"
              "{'value':'s'}}]}}]}}",
              "accept.operations[0].launch.task_infos[1].task_id: required field missing");
    parse_err("{'type':'ACCEPT','framework_id':{'value':'f'},'accept':{'operations':["
              "{'type':'LAUNCH','launch':{'task_infos':[{'name':'a','task_id':{'value':'a'},"
              "'agent_id':{'value':'s'},'resources':[{'name':'cpus','type':'SCALAR',"
              "'scalar':{'value':-1}}]}]}}]}}",
              "accept.operations[0].launch.task_infos[0].resources[0].scalar.value: must not be "
              "negative");
    parse_err("{'type':'ACCEPT','framework_id':{'value':'f'},'accept':{'operations':["
              "{'type':'LAUNCH_GROUP','launch_group':{'task_group':{}}}]}}",
              "accept.operations[0].launch_group.executor: required field missing");
    parse_err(
        "{'type':'ACCEPT','framework_id':{'value':'f'},'accept':{'operations':["
        "{'type':'LAUNCH_GROUP','launch_group':{'executor':{'executor_id':{'value':'e'}}}}]}}",
        "accept.operations[0].launch_group.task_group: required field missing");
    parse_err("{'type':'ACCEPT','framework_id':{'value':'f'},'accept':{'operations':["
              "{'type':'LAUNCH_GROUP','launch_group':{'executor':{}}}]}}",
              "accept.operations[0].launch_group.executor.executor_id: required field missing");
    parse_err("{'type':'ACCEPT','framework_id':{'value':'f'},'accept':{'operations':{}}}",
              "accept.operations: expected an array, got object");
    parse_err("{'type':'ACCEPT','framework_id':{'value':'f'},'accept':{'filters':{'refuse_seconds':"
              "'soon'}}}",
              "accept.filters.refuse_seconds: expected a number, got string 'soon'");
    parse_err("{'type':'KILL','framework_id':{'value':'f'},'kill':{}}",
              "kill.task_id: required field missing");
    parse_err("{'type':'KILL','framework_id':{'value':'f'},'kill':{'task_id':{'value':'t'},"
              "'kill_policy':{'grace_period':{'nanoseconds':-5}}}}",
              "kill.kill_policy.grace_period: must not be negative");
    parse_err("{'type':'KILL','framework_id':{'value':'f'},'kill':{'task_id':{'value':'t'},"
              "'kill_policy':{'grace_period':{'nanoseconds':1.5}}}}",
              "kill.kill_policy.grace_period.nanoseconds: expected an integer, got 1.5");
    parse_err(
        "{'type':'SHUTDOWN','framework_id':{'value':'f'},'shutdown':{'executor_id':{'value':'e'}}}",
        "shutdown.agent_id: required field missing");
    parse_err("{'type':'ACKNOWLEDGE','framework_id':{'value':'f'},'acknowledge':{'agent_id':"
              "{'value':'a'},'task_id':{'value':'t'}}}",
              "acknowledge.uuid: required field missing");
    parse_err("{'type':'ACKNOWLEDGE','framework_id':{'value':'f'},'acknowledge':{'task_id':"
              "{'value':'t'},'uuid':'aGk='}}",
              "acknowledge.agent_id: required field missing");
    parse_err("{'type':'ACKNOWLEDGE','framework_id':{'value':'f'},'acknowledge':{'agent_id':"
              "{'value':'a'},'task_id':{'value':'t'},'uuid':'aGk='}}",
              "acknowledge.uuid: expected 16 bytes, got 2");
    parse_err("{'type':'ACKNOWLEDGE','framework_id':{'value':'f'},'acknowledge':{'agent_id':"
              "{'value':'a'},'task_id':{'value':'t'},'uuid':12}}",
              "acknowledge.uuid: expected base64 bytes (a string), got number");
    parse_err("{'type':'RECONCILE','framework_id':{'value':'f'},'reconcile':{'tasks':[{}]}}",
              "reconcile.tasks[0].task_id: required field missing");
    parse_err("{'type':'RECONCILE','framework_id':{'value':'f'},'reconcile':{'tasks':[1]}}",
              "reconcile.tasks[0]: expected an object, got number");
    parse_err("{'type':'MESSAGE','framework_id':{'value':'f'},'message':{'agent_id':{'value':'a'},"
              "'executor_id':{'value':'e'}}}",
              "message.data: required field missing");
    parse_err("{'type':'REVIVE','framework_id':{'value':'f'},'revive':{'roles':['a b']}}",
              "revive.roles[0]: role name 'a b' is invalid: it contains whitespace or control "
              "characters");
    parse_err("{'type':'SUPPRESS','framework_id':{'value':'f'},'suppress':{'roles':'dev'}}",
              "suppress.roles: expected an array, got string");
    parse_err("{'type':'REQUEST','framework_id':{'value':'f'},'request':{'requests':{}}}",
              "request.requests: expected an array, got object");
}

/* ---------------------------------------------------------------- fuzzing */

static uint64_t rng_state;

static uint64_t rng(void)
{
    /* xorshift64*: deterministic for a given seed. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static size_t rnd(size_t n)
{
    return n ? (size_t)(rng() % n) : 0;
}

static const char *SEEDS[] = {
    NULL, /* FULL_ACCEPT */
    NULL, /* TOBILG_SUBSCRIBE */
    "{'framework_id':{'value':'f'},'type':'DECLINE','decline':{'offer_ids':[{'value':'o'}],"
    "'filters':{'refuse_seconds':30}}}",
    "{'framework_id':{'value':'f'},'type':'KILL','kill':{'task_id':{'value':'t'},'agent_id':"
    "{'value':'a'},'kill_policy':{'grace_period':{'nanoseconds':10000000000}}}}",
    "{'framework_id':{'value':'f'},'type':'ACKNOWLEDGE','acknowledge':{'agent_id':{'value':'a'},"
    "'task_id':{'value':'t'},'uuid':{'buffer':{'type':'Buffer','data':[1,2,3,4,5,6,7,8,9,10,"
    "11,12,13,14,15,16]},'offset':0,'limit':16}}}",
    "{'framework_id':{'value':'f'},'type':'RECONCILE','reconcile':{'tasks':[{'task_id':"
    "{'value':'t'},'agent_id':{'value':'a'}}]}}",
    "{'framework_id':{'value':'f'},'type':'MESSAGE','message':{'agent_id':{'value':'a'},"
    "'executor_id':{'value':'e'},'data':'aGVsbG8='}}",
    "{'framework_id':{'value':'f'},'type':'ACCEPT','accept':{'operations':[{'type':"
    "'LAUNCH_GROUP','launch_group':{'executor':{'executor_id':{'value':'e'}},'task_group':"
    "{'tasks':[{'name':'g','task_id':{'value':'g'},'agent_id':{'value':'s'},'command':"
    "{'value':'x','uris':[{'value':'u'}]},'kill_policy':{'grace_period':{'nanoseconds':1}},"
    "'data':'aGk='}]}}}]}}",
    "{'type':'SUBSCRIBE','subscribe':{'framework_info':{'user':'u','name':'n','roles':['a','b'],"
    "'capabilities':[{'type':'MULTI_ROLE'}],'labels':{'labels':[{'key':'k','value':'v'}]}},"
    "'suppressed_roles':['a']}}",
};
#define N_SEEDS (sizeof(SEEDS) / sizeof(SEEDS[0]))

/* Replacement values for structural mutations. */
static json_t *random_value(void)
{
    static const char *const strings[] = {"",         "Infinity",     "-1",     "1e309",
                                          "NaN",      "TASK_RUNNING", "LAUNCH", "a/b",
                                          "\xc3\xa9", "aGk=",         "SCALAR", "*"};
    switch (rnd(12)) {
    case 0:
        return json_null();
    case 1:
        return json_true();
    case 2:
        return json_integer((json_int_t)(rng() >> rnd(64)) * (rnd(2) ? -1 : 1));
    case 3:
        return json_real((double)(int64_t)rng() / (double)(1 + rnd(1000)));
    case 4:
        return json_string(strings[rnd(sizeof(strings) / sizeof(strings[0]))]);
    case 5:
        return json_object();
    case 6:
        return json_array();
    case 7:
        return json_pack("{s:s}", "value", strings[rnd(sizeof(strings) / sizeof(strings[0]))]);
    case 8:
        return json_pack("[{s:s}]", "value", "x");
    case 9:
        return json_integer(rnd(3) - 1);
    case 10:
        return json_pack("{s:i}", "nanoseconds", (int)rnd(1000) - 500);
    default:
        return json_false();
    }
}

/* Pick a random container node (object or array) of root, depth-first reservoir. */
static void pick_container(json_t *v, json_t **out, size_t *seen)
{
    if (!json_is_object(v) && !json_is_array(v))
        return;
    (*seen)++;
    if (rnd(*seen) == 0)
        *out = v;
    if (json_is_object(v)) {
        const char *k;
        json_t *e;
        json_object_foreach(v, k, e) pick_container(e, out, seen);
    } else {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) pick_container(e, out, seen);
    }
}

static void mutate_structure(json_t *root)
{
    int rounds = 1 + (int)rnd(3);
    for (int r = 0; r < rounds; r++) {
        json_t *node = NULL;
        size_t seen = 0;
        pick_container(root, &node, &seen);
        if (!node)
            return;
        if (json_is_object(node) && json_object_size(node)) {
            size_t idx = rnd(json_object_size(node)), i = 0;
            const char *k;
            json_t *e;
            const char *key = NULL;
            json_object_foreach(node, k, e)
            {
                if (i++ == idx)
                    key = k;
            }
            char *kcopy = strdup(key);
            if (rnd(4) == 0)
                json_object_del(node, kcopy);
            else
                json_object_set_new(node, kcopy, random_value());
            free(kcopy);
        } else if (json_is_array(node) && json_array_size(node)) {
            size_t idx = rnd(json_array_size(node));
            switch (rnd(3)) {
            case 0:
                json_array_remove(node, idx);
                break;
            case 1:
                json_array_append(node, json_array_get(node, idx));
                break;
            default:
                json_array_set_new(node, idx, random_value());
            }
        } else if (json_is_array(node)) {
            json_array_append_new(node, random_value());
        } else {
            json_object_set_new(node, "type", random_value());
        }
    }
}

static char *mutate_bytes(const char *text, size_t *len)
{
    static const char alphabet[] = "{}[]\":,0123456789.-eE\\ntfu\xff\xc3";
    size_t n = strlen(text);
    char *buf = malloc(n * 2 + 64);
    assert_non_null(buf);
    memcpy(buf, text, n);
    int rounds = 1 + (int)rnd(4);
    for (int r = 0; r < rounds && n > 0; r++) {
        size_t at = rnd(n);
        switch (rnd(4)) {
        case 0: /* replace */
            buf[at] = alphabet[rnd(sizeof(alphabet) - 1)];
            break;
        case 1: { /* delete a span */
            size_t span = 1 + rnd(8);
            if (at + span > n)
                span = n - at;
            memmove(buf + at, buf + at + span, n - at - span);
            n -= span;
            break;
        }
        case 2: { /* duplicate a span elsewhere */
            size_t span = 1 + rnd(16);
            if (at + span > n)
                span = n - at;
            if (n + span > strlen(text) * 2 + 32)
                break;
            size_t to = rnd(n);
            char tmp[32];
            memcpy(tmp, buf + at, span);
            memmove(buf + to + span, buf + to, n - to);
            memcpy(buf + to, tmp, span);
            n += span;
            break;
        }
        default: /* truncate */
            n = at;
        }
    }
    *len = n;
    return buf;
}

/* Exercise the encoders on whatever parsed. */
static void encode_everything(const struct cr_sched_call *c)
{
    json_t *fi = cr_json_framework_info(&c->framework_info);
    char *s = cr_json_dump(fi);
    assert_wire_safe(s);
    free(s);
    json_decref(fi);
    for (size_t i = 0; i < c->noperations; i++) {
        const struct cr_operation *op = &c->operations[i];
        for (size_t k = 0; k < op->ntasks + op->ninvalid; k++) {
            const struct cr_task_info *t =
                k < op->ntasks ? &op->tasks[k] : &op->invalid_tasks[k - op->ntasks];
            struct cr_res_style style = {.allocation_role = "r", .refinement = (k & 1) != 0};
            json_t *j = cr_json_task_info(t, &style);
            s = cr_json_dump(j);
            assert_wire_safe(s);
            free(s);
            json_decref(j);
        }
    }
}

static void test_fuzz_mutations(void **state)
{
    (void)state;
    SEEDS[0] = FULL_ACCEPT;
    SEEDS[1] = TOBILG_SUBSCRIBE;
    char *seeds[N_SEEDS];
    for (size_t i = 0; i < N_SEEDS; i++) {
        seeds[i] = dq(SEEDS[i]);
        /* Every seed is valid to begin with. */
        struct cr_sched_call c;
        struct cr_err err = {0};
        if (cr_parse_sched_call(seeds[i], strlen(seeds[i]), &c, &err) != 0)
            fail_msg("seed %zu does not parse: %s", i, err.msg);
        cr_sched_call_release(&c);
    }
    rng_state = 0x9e3779b97f4a7c15ULL;
    int ok = 0, failed = 0;
    for (int iter = 0; iter < 30000; iter++) {
        const char *seed = seeds[rnd(N_SEEDS)];
        char *body;
        size_t len;
        if (iter % 2 == 0) {
            body = mutate_bytes(seed, &len);
        } else {
            json_t *root = json_loads(seed, 0, NULL);
            assert_non_null(root);
            mutate_structure(root);
            body = json_dumps(root, JSON_COMPACT);
            assert_non_null(body);
            len = strlen(body);
            json_decref(root);
        }
        struct cr_sched_call c;
        struct cr_err err = {0};
        int rc = cr_parse_sched_call(body, len, &c, &err);
        if (rc == 0) {
            ok++;
            encode_everything(&c);
            cr_sched_call_release(&c);
        } else {
            failed++;
            assert_int_equal(rc, -EINVAL);
            assert_true(err.msg[0] != '\0');
            assert_non_null(memchr(err.msg, '\0', sizeof(err.msg)));
            assert_null(c.framework_id);
        }
        free(body);
    }
    /* Both outcomes must be well represented, or the fuzzer is not exploring. */
    if (ok < 1000 || failed < 1000)
        fail_msg("fuzzer not exploring: %d parsed, %d rejected", ok, failed);
    for (size_t i = 0; i < N_SEEDS; i++)
        free(seeds[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subscribe),
        cmocka_unit_test(test_decline_revive_suppress_teardown),
        cmocka_unit_test(test_refuse_seconds),
        cmocka_unit_test(test_kill_shutdown_message),
        cmocka_unit_test(test_acknowledge),
        cmocka_unit_test(test_reconcile),
        cmocka_unit_test(test_accept_full),
        cmocka_unit_test(test_accept_operations),
        cmocka_unit_test(test_unknown_and_names),
        cmocka_unit_test(test_operation_feedback_calls),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_fuzz_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
