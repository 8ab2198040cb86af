/*
 * test_mesos.c - the Mesos v1 JSON codecs (src/api/mesos_*.c) except scheduler calls:
 * dumping rules, resources, attributes, FrameworkInfo, CommandInfo, TaskInfo,
 * TaskStatus, AgentInfo, MasterInfo, offers and events. Key outputs are compared byte
 * for byte with API-COMPAT.md §1.5; every message is round-tripped; error paths are
 * checked word for word.
 */
#include "test_helpers.h"

#include <math.h>

#include "api/mesos_internal.h"
#include "base/util.h"

/* ---------------------------------------------------------------- dumping */

/* Non-ASCII leaves as \uXXXX with lower-case hex (as Mesos' stout writes it); an escaped
 * backslash before a 'u' is left alone. */
static void test_dump_ascii_and_numbers(void **state)
{
    (void)state;
    json_t *o = json_object();
    json_object_set_new(o, "s", json_string("caf\xc3\xa9\nline\t\"q\" \xf0\x9f\x98\x80"));
    json_object_set_new(o, "a", json_real(0.1));
    json_object_set_new(o, "b", json_real(7000));
    json_object_set_new(o, "c", json_real(15));
    json_object_set_new(o, "d", json_real(1718000000.25));
    json_object_set_new(o, "e", json_integer(3));
    json_object_set_new(o, "f", json_real(0.30000000000000004));
    expect_json_raw(o, "{\"s\":\"caf\\u00e9\\nline\\t\\\"q\\\" \\ud83d\\ude00\",\"a\":0.1,"
                       "\"b\":7000.0,\"c\":15.0,\"d\":1718000000.25,\"e\":3,\"f\":0.3}");
    char *n = cr_json_dump(NULL);
    assert_string_equal(n, "null");
    free(n);
    expect_json(json_string("x"), "'x'");
    expect_json_raw(json_string("\\uABCD \x01"), "\"\\\\uABCD \\u0001\"");
}

static void test_invalid_utf8_is_sanitized(void **state)
{
    (void)state;
    json_t *o = cr_mj_object_new();
    cr_mj_set(o, "k\xff", cr_mj_str("a\xc3(b\xed\xa0\x80"));
    cr_mj_set(o, "skipped", NULL);
    cr_mj_set(o, "n", cr_mj_real(INFINITY));
    expect_json(o, "{'k?':'a?(b?\?\?','n':0.0}");
    assert_null(cr_mj_str(NULL));
}

static void test_parse_object_errors(void **state)
{
    (void)state;
    struct cr_err err = {0};
    assert_null(cr_json_parse_object("{\"a\":", 5, &err));
    assert_int_equal(err.code, -EINVAL);
    assert_true(strncmp(err.msg, "malformed JSON at line 1 column ", 32) == 0);
    assert_null(cr_json_parse_object("[1]", 3, &err));
    assert_string_equal(err.msg, "expected a JSON object, got array");
    assert_null(cr_json_parse_object("", 0, &err));
    assert_true(strncmp(err.msg, "malformed JSON", 14) == 0);
    assert_null(cr_json_parse_object(NULL, 0, &err));
    /* Embedded NUL in a string is refused (ids are C strings). */
    assert_null(cr_json_parse_object("{\"a\":\"x\\u0000y\"}", 16, &err));
    json_t *j = cr_json_parse_object("{\"a\":1} ", 8, &err);
    assert_non_null(j);
    json_decref(j);
}

static void test_ids(void **state)
{
    (void)state;
    struct cr_err err = {0};
    expect_json(cr_json_id("web.1"), "{'value':'web.1'}");
    assert_null(cr_json_id(NULL));

    json_t *j = load("{'a':{'value':'x'},'b':null,'c':'bare','d':{},'e':{'value':3}}");
    char *id = NULL;
    assert_int_equal(cr_parse_id(j, "a", "call", &id, &err), 0);
    assert_string_equal(id, "x");
    free(id);
    assert_int_equal(cr_parse_id(j, "b", "call", &id, &err), 0);
    assert_null(id);
    assert_int_equal(cr_parse_id(j, "missing", "", &id, &err), 0);
    assert_null(id);
    expect_err(cr_parse_id(j, "c", "call", &id, &err), &err,
               "call.c: expected an object, got string");
    expect_err(cr_parse_id(j, "d", "", &id, &err), &err, "d.value: required field missing");
    expect_err(cr_parse_id(j, "e", "x.y", &id, &err), &err,
               "x.y.e.value: expected a string, got number");
    assert_null(id);
    json_decref(j);
}

static void test_validate_id_and_role(void **state)
{
    (void)state;
    struct cr_err err = {0};
    const char *good_ids[] = {"web.1", "a b", "x-y_z", "...", "é"};
    for (size_t i = 0; i < sizeof(good_ids) / sizeof(good_ids[0]); i++)
        assert_int_equal(cr_validate_id(good_ids[i], &err), 0);
    expect_err(cr_validate_id("", &err), &err, "id must not be empty");
    expect_err(cr_validate_id(NULL, &err), &err, "id must not be empty");
    expect_err(cr_validate_id(".", &err), &err, "id '.' is not allowed");
    expect_err(cr_validate_id("..", &err), &err, "id '..' is not allowed");
    expect_err(cr_validate_id("a/b", &err), &err,
               "id 'a/b' contains invalid characters (control characters, '/' or '\\')");
    assert_int_equal(cr_validate_id("a\\b", &err), -EINVAL);
    assert_int_equal(cr_validate_id("a\tb", &err), -EINVAL);
    char longid[300];
    memset(longid, 'x', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    expect_err(cr_validate_id(longid, &err), &err, "id must not be longer than 255 bytes");
    longid[255] = '\0';
    assert_int_equal(cr_validate_id(longid, &err), 0);

    const char *good_roles[] = {"*", "dev", "a.b", "a-b", "x*", "..."};
    for (size_t i = 0; i < sizeof(good_roles) / sizeof(good_roles[0]); i++)
        assert_int_equal(cr_validate_role(good_roles[i], &err), 0);
    expect_err(cr_validate_role("", &err), &err, "role name must not be empty");
    expect_err(cr_validate_role(".", &err), &err, "role name '.' is invalid");
    expect_err(cr_validate_role("..", &err), &err, "role name '..' is invalid");
    expect_err(cr_validate_role("-dev", &err), &err,
               "role name '-dev' is invalid: it starts with a dash");
    expect_err(cr_validate_role("eng/web", &err), &err,
               "role name 'eng/web' is invalid: hierarchical roles ('/') are not supported");
    expect_err(cr_validate_role("a b", &err), &err,
               "role name 'a b' is invalid: it contains whitespace or control characters");
    assert_int_equal(cr_validate_role("a\x7f", &err), -EINVAL);
    assert_int_equal(cr_validate_role("a\nb", &err), -EINVAL);
}

/* ---------------------------------------------------------------- getters */

static void test_getters_leniency(void **state)
{
    (void)state;
    struct cr_err err = {0};
    json_t *j = load("{'d1':'2.5','d2':'Infinity','d3':'-Infinity','d4':3,'d5':'NaN','d6':'',"
                     "'i1':'10000000000','i2':1e3,'i3':1.5,'i4':'12x','i5':' 1','n':null,"
                     "'e1':'B','e2':2,'e3':'Z','b':'true'}");
    double d = 0;
    assert_int_equal(cr_mj_double(j, "d1", "", &d, &err), 1);
    assert_true(d == 2.5);
    assert_int_equal(cr_mj_double(j, "d2", "", &d, &err), 1);
    assert_true(d > 1e308);
    assert_int_equal(cr_mj_double(j, "d3", "", &d, &err), 1);
    assert_true(d < -1e308);
    assert_int_equal(cr_mj_double(j, "d4", "", &d, &err), 1);
    assert_true(d == 3);
    expect_err(cr_mj_double(j, "d5", "p", &d, &err), &err,
               "p.d5: expected a number, got string 'NaN'");
    expect_err(cr_mj_double(j, "d6", "p", &d, &err), &err,
               "p.d6: expected a number, got string ''");
    d = 42;
    assert_int_equal(cr_mj_double(j, "n", "", &d, &err), 0);
    assert_true(d == 42);

    int64_t i = 0;
    assert_int_equal(cr_mj_int64(j, "i1", "", &i, &err), 1);
    assert_true(i == 10000000000LL);
    assert_int_equal(cr_mj_int64(j, "i2", "", &i, &err), 1);
    assert_true(i == 1000);
    expect_err(cr_mj_int64(j, "i3", "", &i, &err), &err, "i3: expected an integer, got 1.5");
    expect_err(cr_mj_int64(j, "i4", "", &i, &err), &err,
               "i4: expected an integer, got string '12x'");
    assert_int_equal(cr_mj_int64(j, "i5", "", &i, &err), -EINVAL);

    static const char *const names[] = {"A", "B", NULL, "D"};
    int e = -1;
    bool unknown = true;
    assert_int_equal(cr_mj_enum(j, "e1", "", names, 4, &e, &unknown, &err), 1);
    assert_int_equal(e, 1);
    assert_false(unknown);
    expect_err(cr_mj_enum(j, "e2", "x", names, 4, &e, &unknown, &err), &err,
               "x.e2: expected an enum name, got number 2");
    assert_int_equal(cr_mj_enum(j, "e3", "", names, 4, &e, &unknown, &err), 0);
    assert_true(unknown);
    bool b = false;
    expect_err(cr_mj_bool(j, "b", "", &b, &err), &err, "b: expected a boolean, got string");
    json_decref(j);
}

static void test_bytes_forms(void **state)
{
    (void)state;
    struct cr_err err = {0};
    json_t *j = load("{'s':'aGk=','nopad':'aGk','empty':'',"
                     "'bb':{'buffer':{'type':'Buffer','data':[48,49,50,51,52]},'offset':1,"
                     "'markedOffset':-1,'limit':4,'littleEndian':false,'noAssert':false},"
                     "'buf':{'type':'Buffer','data':[104,105]},"
                     "'bad1':'!!!','bad2':{'buffer':{'type':'Buffer','data':[1,256]}},"
                     "'bad3':{'buffer':{'type':'Buffer','data':[1,2]},'offset':1,'limit':3},"
                     "'bad4':{'x':1},'bad5':7}");
    unsigned char *out = NULL;
    size_t len = 0;
    assert_int_equal(cr_mj_bytes(j, "s", "", &out, &len, &err), 1);
    assert_int_equal(len, 2);
    assert_memory_equal(out, "hi", 2);
    free(out);
    assert_int_equal(cr_mj_bytes(j, "nopad", "", &out, &len, &err), 1);
    assert_int_equal(len, 2);
    free(out);
    assert_int_equal(cr_mj_bytes(j, "empty", "", &out, &len, &err), 1);
    assert_int_equal(len, 0);
    free(out);
    assert_int_equal(cr_mj_bytes(j, "bb", "", &out, &len, &err), 1);
    assert_int_equal(len, 3);
    assert_memory_equal(out, "123", 3);
    free(out);
    assert_int_equal(cr_mj_bytes(j, "buf", "", &out, &len, &err), 1);
    assert_int_equal(len, 2);
    assert_memory_equal(out, "hi", 2);
    free(out);
    assert_int_equal(cr_mj_bytes(j, "absent", "", &out, &len, &err), 0);
    expect_err(cr_mj_bytes(j, "bad1", "m", &out, &len, &err), &err, "m.bad1: invalid base64");
    expect_err(cr_mj_bytes(j, "bad2", "m", &out, &len, &err), &err,
               "m.bad2.buffer.data: element 1 is not a byte (0-255)");
    expect_err(cr_mj_bytes(j, "bad3", "m", &out, &len, &err), &err,
               "m.bad3: offset 1 and limit 3 do not fit the 2 buffer bytes");
    expect_err(cr_mj_bytes(j, "bad4", "m", &out, &len, &err), &err,
               "m.bad4: expected base64 bytes (a string), got an object that is not a Buffer");
    expect_err(cr_mj_bytes(j, "bad5", "m", &out, &len, &err), &err,
               "m.bad5: expected base64 bytes (a string), got number");
    json_decref(j);
}

static void test_copy_clean_strips_nulls(void **state)
{
    (void)state;
    json_t *j = load("{'a':null,'b':{'c':null,'d':[null,{'e':null,'f':1}]},'g':'x'}");
    expect_json(cr_mj_copy_clean(j), "{'b':{'d':[null,{'f':1}]},'g':'x'}");
    json_decref(j);
}

/* ---------------------------------------------------------------- resources */

/* Parse, compare the plain encoding, and check the encoding parses back equal. */
static void resources_ok(const char *in_sq, const char *want_sq)
{
    struct cr_err err = {0};
    json_t *j = load(in_sq);
    struct cr_resources rs, back;
    cr_resources_init(&rs);
    cr_resources_init(&back);
    if (cr_parse_resources(j, "resources", &rs, &err) != 0)
        fail_msg("%s: %s", in_sq, err.msg);
    expect_json(cr_json_resources(&rs, NULL), want_sq);
    json_t *enc = cr_json_resources(&rs, NULL);
    assert_int_equal(cr_parse_resources(enc, "r", &back, &err), 0);
    assert_true(cr_resources_equal(&rs, &back));
    /* The refinement form round-trips too. */
    struct cr_res_style refined = {.allocation_role = "dev", .refinement = true};
    json_t *enc2 = cr_json_resources(&rs, &refined);
    cr_resources_release(&back);
    assert_int_equal(cr_parse_resources(enc2, "r", &back, &err), 0);
    assert_true(cr_resources_equal(&rs, &back));
    json_decref(enc);
    json_decref(enc2);
    json_decref(j);
    cr_resources_release(&rs);
    cr_resources_release(&back);
}

static void resources_err(const char *in_sq, const char *want)
{
    struct cr_err err = {0};
    json_t *j = load(in_sq);
    struct cr_resources rs;
    cr_resources_init(&rs);
    expect_err(cr_parse_resources(j, "resources", &rs, &err), &err, want);
    cr_resources_release(&rs);
    json_decref(j);
}

static void test_resources_parse(void **state)
{
    (void)state;
    resources_ok("[{'name':'cpus','type':'SCALAR','scalar':{'value':0.1}}]",
                 "[{'name':'cpus','type':'SCALAR','scalar':{'value':0.1},'role':'*'}]");
    resources_ok("[{'name':'ports','type':'RANGES','ranges':{'range':[{'begin':33000,'end':33001},"
                 "{'begin':31000,'end':32000}]}}]",
                 "[{'name':'ports','type':'RANGES','ranges':{'range':[{'begin':31000,'end':32000},"
                 "{'begin':33000,'end':33001}]},'role':'*'}]");
    resources_ok("[{'name':'zones','type':'SET','set':{'item':['b','a','b']}}]",
                 "[{'name':'zones','type':'SET','set':{'item':['a','b']},'role':'*'}]");
    resources_ok("[{'name':'mem','type':'SCALAR','scalar':{'value':'32'},"
                 "'reservations':[{'type':'STATIC','role':'a'},{'type':'DYNAMIC','role':'b',"
                 "'principal':'p'}],'allocation_info':{'role':'b'}},"
                 "{'name':'cpus','type':'SCALAR','scalar':{'value':1},'role':'dev'}]",
                 "[{'name':'cpus','type':'SCALAR','scalar':{'value':1.0},'role':'dev'},"
                 "{'name':'mem','type':'SCALAR','scalar':{'value':32.0},'role':'b'}]");
    /* tobilg/mesos-framework sends every field, nulls included. */
    resources_ok("[{'name':'cpus','type':'SCALAR','scalar':{'value':0.5},'ranges':null,'set':null,"
                 "'role':null,'reservation':null,'reservations':null,'disk':null,'revocable':null,"
                 "'allocation_info':null,'shared':null,'provider_id':null}]",
                 "[{'name':'cpus','type':'SCALAR','scalar':{'value':0.5},'role':'*'}]");
    /* Same name twice adds up; zero amounts vanish; the role '*' next to reservations is
     * the old-client default and accepted. */
    resources_ok("[{'name':'cpus','type':'SCALAR','scalar':{'value':1}},"
                 "{'name':'cpus','type':'SCALAR','scalar':{'value':0.5}},"
                 "{'name':'disk','type':'SCALAR','scalar':{'value':0}},"
                 "{'name':'gpus','type':'SCALAR','scalar':{'value':2},'role':'*',"
                 "'reservations':[{'role':'gpu'}]}]",
                 "[{'name':'cpus','type':'SCALAR','scalar':{'value':1.5},'role':'*'},"
                 "{'name':'gpus','type':'SCALAR','scalar':{'value':2.0},'role':'gpu'}]");
    resources_ok("[]", "[]");

    struct cr_err err = {0};
    struct cr_resources rs;
    cr_resources_init(&rs);
    assert_int_equal(cr_parse_resources(NULL, "r", &rs, &err), 0);
    json_t *null = json_null();
    assert_int_equal(cr_parse_resources(null, "r", &rs, &err), 0);
    assert_true(cr_resources_is_empty(&rs));
    cr_resources_release(&rs);
}

static void test_resources_errors(void **state)
{
    (void)state;
    resources_err("{}", "resources: expected an array, got object");
    resources_err("[1]", "resources[0]: expected an object, got number");
    resources_err("[{'type':'SCALAR','scalar':{'value':1}}]",
                  "resources[0].name: required field missing");
    resources_err("[{'name':'','type':'SCALAR','scalar':{'value':1}}]",
                  "resources[0].name: must not be empty");
    resources_err("[{'name':'cpus','scalar':{'value':1}}]",
                  "resources[0].type: required field missing");
    resources_err("[{'name':'cpus','type':0,'scalar':{'value':1}}]",
                  "resources[0].type: expected an enum name, got number 0");
    resources_err("[{'name':'cpus','type':'FLOAT','scalar':{'value':1}}]",
                  "resources[0].type: unknown value type 'FLOAT'");
    resources_err("[{'name':'cpus','type':'TEXT','text':{'value':'1'}}]",
                  "resources[0].type: TEXT is not a valid resource type");
    resources_err("[{'name':'cpus','type':'SCALAR'}]",
                  "resources[0].scalar: required for type SCALAR");
    resources_err("[{'name':'cpus','type':'SCALAR','scalar':{}}]",
                  "resources[0].scalar.value: required field missing");
    resources_err("[{'name':'cpus','type':'SCALAR','scalar':{'value':-1}}]",
                  "resources[0].scalar.value: must not be negative");
    resources_err("[{'name':'cpus','type':'SCALAR','scalar':{'value':'Infinity'}}]",
                  "resources[0].scalar.value: inf is out of range");
    resources_err("[{'name':'cpus','type':'SCALAR','scalar':{'value':1e300}}]",
                  "resources[0].scalar.value: 1e+300 is out of range");
    resources_err("[{'name':'cpus','type':'SCALAR','scalar':{'value':'NaN'}}]",
                  "resources[0].scalar.value: expected a number, got string 'NaN'");
    resources_err("[{'name':'gpus','type':'SCALAR','scalar':{'value':1.5}}]",
                  "resources[0].scalar.value: gpus must be a whole number");
    resources_err("[{'name':'ports','type':'RANGES'}]",
                  "resources[0].ranges: required for type RANGES");
    resources_err("[{'name':'ports','type':'RANGES','ranges':{'range':[{'begin':5,'end':4}]}}]",
                  "resources[0].ranges.range[0]: begin 5 is greater than end 4");
    resources_err(
        "[{'name':'ports','type':'RANGES','ranges':{'range':[{'begin':1,'end':2},{'begin':5}]}}]",
        "resources[0].ranges.range[1].end: required field missing");
    resources_err("[{'name':'ports','type':'RANGES','ranges':{'range':[{'end':5}]}}]",
                  "resources[0].ranges.range[0].begin: required field missing");
    resources_err("[{'name':'ports','type':'RANGES','ranges':{'range':[{'begin':-1,'end':5}]}}]",
                  "resources[0].ranges.range[0]: range bounds must not be negative");
    resources_err("[{'name':'ports','type':'RANGES','ranges':{'range':[7]}}]",
                  "resources[0].ranges.range[0]: expected an object, got number");
    resources_err("[{'name':'s','type':'SET'}]", "resources[0].set: required for type SET");
    resources_err("[{'name':'s','type':'SET','set':{'item':[1]}}]",
                  "resources[0].set.item[0]: expected a string, got number");
    resources_err("[{'name':'cpus','type':'SCALAR','scalar':{'value':1}},"
                  "{'name':'mem','type':'SCALAR','scalar':{'value':'x'}}]",
                  "resources[1].scalar.value: expected a number, got string 'x'");
    resources_err(
        "[{'name':'cpus','type':'SCALAR','scalar':{'value':1},'role':'a b'}]",
        "resources[0].role: role name 'a b' is invalid: it contains whitespace or control "
        "characters");
    resources_err("[{'name':'cpus','type':'SCALAR','scalar':{'value':1},'role':'x',"
                  "'reservations':[{'role':'y'}]}]",
                  "resources[0].role: 'x' conflicts with the reservations (role 'y')");
    resources_err(
        "[{'name':'cpus','type':'SCALAR','scalar':{'value':1},'reservations':[{'type':'STATIC'}]}]",
        "resources[0].reservations[0].role: required field missing");
    resources_err(
        "[{'name':'cpus','type':'SCALAR','scalar':{'value':1},'reservations':[{'role':'*'}]}]",
        "resources[0].reservations[0].role: cannot reserve to role '*'");
    resources_err(
        "[{'name':'cpus','type':'SCALAR','scalar':{'value':1},'reservations':[{'role':'a','type':1}]}]",
        "resources[0].reservations[0].type: expected an enum name, got number 1");
    resources_err(
        "[{'name':'cpus','type':'SCALAR','scalar':{'value':1},'allocation_info':{'role':'.'}}]",
        "resources[0].allocation_info.role: role name '.' is invalid");
    resources_err("[{'name':'cpus','type':'SCALAR','scalar':{'value':1},'allocation_info':'dev'}]",
                  "resources[0].allocation_info: expected an object, got string");
    resources_err("[{'name':'cpus','type':'SCALAR','scalar':{'value':1}},"
                  "{'name':'cpus','type':'SET','set':{'item':['a']}}]",
                  "resources[1]: 'cpus' appears with two different types");
}

static void test_resources_styles(void **state)
{
    (void)state;
    struct cr_err err = {0};
    json_t *j = load("[{'name':'cpus','type':'SCALAR','scalar':{'value':1}},"
                     "{'name':'cpus','type':'SCALAR','scalar':{'value':2},'role':'dev'}]");
    struct cr_resources rs;
    cr_resources_init(&rs);
    assert_int_equal(cr_parse_resources(j, "r", &rs, &err), 0);
    struct cr_res_style alloc = {.allocation_role = "dev", .refinement = false};
    expect_json(cr_json_resources(&rs, &alloc),
                "[{'name':'cpus','type':'SCALAR','scalar':{'value':1.0},'role':'*',"
                "'allocation_info':{'role':'dev'}},"
                "{'name':'cpus','type':'SCALAR','scalar':{'value':2.0},'role':'dev',"
                "'allocation_info':{'role':'dev'}}]");
    struct cr_res_style refined = {.allocation_role = NULL, .refinement = true};
    expect_json(cr_json_resources(&rs, &refined),
                "[{'name':'cpus','type':'SCALAR','scalar':{'value':1.0}},"
                "{'name':'cpus','type':'SCALAR','scalar':{'value':2.0},"
                "'reservations':[{'type':'STATIC','role':'dev'}]}]");
    expect_json(cr_json_resources(NULL, NULL), "[]");
    cr_resources_release(&rs);
    json_decref(j);
}

static void test_resources_flat(void **state)
{
    (void)state;
    struct cr_err err = {0};
    json_t *j =
        load("[{'name':'cpus','type':'SCALAR','scalar':{'value':2}},"
             "{'name':'cpus','type':'SCALAR','scalar':{'value':0.5},'role':'dev'},"
             "{'name':'mem','type':'SCALAR','scalar':{'value':1024}},"
             "{'name':'ports','type':'RANGES','ranges':{'range':[{'begin':31000,'end':32000}]}},"
             "{'name':'ports','type':'RANGES','ranges':{'range':[{'begin':33000,'end':33000}]},"
             "'role':'dev'},"
             "{'name':'zones','type':'SET','set':{'item':['b','a']}}]");
    struct cr_resources rs;
    cr_resources_init(&rs);
    assert_int_equal(cr_parse_resources(j, "r", &rs, &err), 0);
    expect_json(cr_json_resources_flat(&rs),
                "{'cpus':2.5,'disk':0.0,'gpus':0.0,'mem':1024.0,"
                "'ports':'[31000-32000, 33000-33000]','zones':'{a, b}'}");
    expect_json(cr_json_resources_flat(NULL), "{'cpus':0.0,'disk':0.0,'gpus':0.0,'mem':0.0}");
    cr_resources_release(&rs);
    json_decref(j);
}

/* ---------------------------------------------------------------- attributes */

static void test_attributes_text(void **state)
{
    (void)state;
    struct cr_err err = {0};
    struct cr_attributes a;
    cr_attributes_init(&a);
    assert_int_equal(cr_attributes_parse_text(&a,
                                              "rack:r1; zone : a ;cores:8;weight:1.50;"
                                              "ports:[1-2,5-6];disks:{b, a};host:x:y;neg:-3;"
                                              "ver:1.2.3;hex:0x10;inf:inf;;",
                                              &err),
                     0);
    assert_int_equal(a.n, 11);
    assert_int_equal(a.v[2].type, CR_ATTR_SCALAR);
    assert_string_equal(a.v[3].text, "1.5");
    assert_int_equal(a.v[4].type, CR_ATTR_RANGES);
    assert_string_equal(a.v[4].text, "[1-2, 5-6]");
    assert_int_equal(a.v[5].type, CR_ATTR_SET);
    assert_string_equal(a.v[6].text, "x:y");
    expect_json(cr_json_attributes(&a),
                "[{'name':'rack','type':'TEXT','text':{'value':'r1'}},"
                "{'name':'zone','type':'TEXT','text':{'value':'a'}},"
                "{'name':'cores','type':'SCALAR','scalar':{'value':8.0}},"
                "{'name':'weight','type':'SCALAR','scalar':{'value':1.5}},"
                "{'name':'ports','type':'RANGES','ranges':{'range':[{'begin':1,'end':2},"
                "{'begin':5,'end':6}]}},"
                "{'name':'disks','type':'SET','set':{'item':['b','a']}},"
                "{'name':'host','type':'TEXT','text':{'value':'x:y'}},"
                "{'name':'neg','type':'SCALAR','scalar':{'value':-3.0}},"
                "{'name':'ver','type':'TEXT','text':{'value':'1.2.3'}},"
                "{'name':'hex','type':'TEXT','text':{'value':'0x10'}},"
                "{'name':'inf','type':'TEXT','text':{'value':'inf'}}]");
    expect_json(cr_json_attributes_flat(&a),
                "{'cores':8.0,'disks':'{b, a}','hex':'0x10','host':'x:y','inf':'inf','neg':-3.0,"
                "'ports':'[1-2, 5-6]','rack':'r1','ver':'1.2.3','weight':1.5,'zone':'a'}");

    /* JSON round trip and copy. */
    json_t *enc = cr_json_attributes(&a);
    struct cr_attributes back, copy;
    cr_attributes_init(&back);
    cr_attributes_init(&copy);
    assert_int_equal(cr_parse_attributes(enc, "attributes", &back, &err), 0);
    char *s1 = cr_json_dump(enc);
    json_t *enc2 = cr_json_attributes(&back);
    char *s2 = cr_json_dump(enc2);
    assert_string_equal(s1, s2);
    assert_int_equal(cr_attributes_copy(&copy, &back), 0);
    json_t *enc3 = cr_json_attributes(&copy);
    char *s3 = cr_json_dump(enc3);
    assert_string_equal(s1, s3);
    free(s1);
    free(s2);
    free(s3);
    json_decref(enc);
    json_decref(enc2);
    json_decref(enc3);
    cr_attributes_release(&back);
    cr_attributes_release(&copy);

    /* Errors leave the list as it was. */
    size_t before = a.n;
    expect_err(cr_attributes_parse_text(&a, "ok:1;rack", &err), &err,
               "attribute 'rack': expected name:value");
    expect_err(cr_attributes_parse_text(&a, ":x", &err), &err, "attribute ':x': the name is empty");
    expect_err(cr_attributes_parse_text(&a, "a: ", &err), &err,
               "attribute 'a:': the value is empty");
    expect_err(cr_attributes_parse_text(&a, "p:[1-", &err), &err,
               "attribute 'p': malformed ranges value '[1-'");
    expect_err(cr_attributes_parse_text(&a, "p:[5-1]", &err), &err,
               "attribute 'p': malformed ranges value '[5-1]'");
    expect_err(cr_attributes_parse_text(&a, "s:{a", &err), &err,
               "attribute 's': malformed set value '{a'");
    assert_int_equal(a.n, before);
    assert_int_equal(cr_attributes_parse_text(&a, "", &err), 0);
    assert_int_equal(cr_attributes_parse_text(&a, NULL, &err), 0);
    assert_int_equal(a.n, before);
    cr_attributes_release(&a);
    cr_attributes_release(NULL);
}

static void test_attributes_json_errors(void **state)
{
    (void)state;
    struct cr_err err = {0};
    struct cr_attributes a;
    cr_attributes_init(&a);
    const struct {
        const char *in;
        const char *want;
    } cases[] = {
        {"{}", "attributes: expected an array, got object"},
        {"[{'type':'TEXT','text':{'value':'x'}}]", "attributes[0].name: required field missing"},
        {"[{'name':'a','type':'TEXT'}]", "attributes[0].text: required for type TEXT"},
        {"[{'name':'a','type':'TEXT','text':{}}]",
         "attributes[0].text.value: required field missing"},
        {"[{'name':'a','type':'SCALAR','scalar':{'value':'x'}}]",
         "attributes[0].scalar.value: expected a number, got string 'x'"},
        {"[{'name':'a','type':'RANGES','ranges':{'range':[{'begin':3,'end':1}]}}]",
         "attributes[0].ranges.range[0]: begin 3 is greater than end 1"},
        {"[{'name':'a','type':'NUMBER'}]", "attributes[0].type: unknown value type 'NUMBER'"},
        {"[{'name':'a','type':'TEXT','text':{'value':'x'}},{'name':'b'}]",
         "attributes[1].type: required field missing"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *j = load(cases[i].in);
        expect_err(cr_parse_attributes(j, "attributes", &a, &err), &err, cases[i].want);
        assert_int_equal(a.n, 0);
        json_decref(j);
    }
    cr_attributes_release(&a);
}

/* ---------------------------------------------------------------- FrameworkInfo */

static void framework_err(const char *in_sq, const char *want)
{
    struct cr_err err = {0};
    struct cr_framework_info fi;
    json_t *j = load(in_sq);
    expect_err(cr_parse_framework_info(j, "framework_info", &fi, &err), &err, want);
    assert_null(fi.user);
    assert_null(fi.roles);
    cr_framework_info_release(&fi);
    json_decref(j);
}

static void test_framework_info(void **state)
{
    (void)state;
    struct cr_err err = {0};
    struct cr_framework_info fi, copy;
    cr_framework_info_init(&copy);

    /* The shape tobilg/mesos-framework 0.7 sends (API-COMPAT.md §7.1). */
    json_t *j = load("{'user':'root','name':'probe-fw','id':null,'failover_timeout':604800,"
                     "'checkpoint':null,'role':'*','roles':[],'hostname':null,'principal':null,"
                     "'webui_url':null,'capabilities':[],'labels':null}");
    assert_int_equal(cr_parse_framework_info(j, "framework_info", &fi, &err), 0);
    assert_int_equal(fi.nroles, 1);
    assert_string_equal(fi.roles[0], "*");
    assert_true(fi.role_was_legacy);
    assert_null(fi.id);
    assert_null(fi.extra);
    expect_json(cr_json_framework_info(&fi),
                "{'user':'root','name':'probe-fw','failover_timeout':604800.0,'checkpoint':false,"
                "'role':'*'}");
    cr_framework_info_release(&fi);
    json_decref(j);

    j = load("{'user':'u','name':'n','id':{'value':'b1e5-0000'},'roles':['dev','ops'],"
             "'checkpoint':true,'failover_timeout':'1.5','hostname':'h','principal':'p',"
             "'capabilities':[{'type':'MULTI_ROLE'},{'type':'PARTITION_AWARE'},"
             "{'type':'FUTURE_THING'},{}],'labels':{'labels':[{'key':'k','value':'v'}]},"
             "'webui_url':'http://x','offer_filters':{'dev':{'min_allocatable_resources':{}}},"
             "'unknown_field':42}");
    assert_int_equal(cr_parse_framework_info(j, "fi", &fi, &err), 0);
    assert_int_equal(fi.capabilities, CR_FWCAP_MULTI_ROLE | CR_FWCAP_PARTITION_AWARE);
    assert_false(fi.role_was_legacy);
    const char *want = "{'user':'u','name':'n','id':{'value':'b1e5-0000'},'failover_timeout':1.5,"
                       "'checkpoint':true,'roles':['dev','ops'],'hostname':'h','principal':'p',"
                       "'webui_url':'http://x','capabilities':[{'type':'PARTITION_AWARE'},"
                       "{'type':'MULTI_ROLE'}],'labels':{'labels':[{'key':'k','value':'v'}]},"
                       "'offer_filters':{'dev':{'min_allocatable_resources':{}}}}";
    expect_json(cr_json_framework_info(&fi), want);
    assert_int_equal(cr_framework_info_copy(&copy, &fi), 0);
    expect_json(cr_json_framework_info(&copy), want);
    /* Round trip through JSON. */
    json_t *enc = cr_json_framework_info(&fi);
    struct cr_framework_info back;
    assert_int_equal(cr_parse_framework_info(enc, "fi", &back, &err), 0);
    expect_json(cr_json_framework_info(&back), want);
    cr_framework_info_release(&back);
    json_decref(enc);
    cr_framework_info_release(&fi);
    cr_framework_info_release(&copy);
    json_decref(j);

    /* Without MULTI_ROLE a one-element roles list is taken as the role; a negative
     * failover timeout as 0. */
    j = load("{'user':'u','name':'n','roles':['dev'],'failover_timeout':-5}");
    assert_int_equal(cr_parse_framework_info(j, "fi", &fi, &err), 0);
    assert_string_equal(fi.roles[0], "dev");
    assert_true(fi.failover_timeout == 0);
    expect_json(cr_json_framework_info(&fi),
                "{'user':'u','name':'n','failover_timeout':0.0,'checkpoint':false,'role':'dev'}");
    cr_framework_info_release(&fi);
    json_decref(j);

    /* MULTI_ROLE with no roles: subscribed to none. */
    j = load("{'user':'u','name':'n','capabilities':[{'type':'MULTI_ROLE'}]}");
    assert_int_equal(cr_parse_framework_info(j, "fi", &fi, &err), 0);
    assert_int_equal(fi.nroles, 0);
    expect_json(cr_json_framework_info(&fi),
                "{'user':'u','name':'n','failover_timeout':0.0,'checkpoint':false,"
                "'capabilities':[{'type':'MULTI_ROLE'}]}");
    cr_framework_info_release(&fi);
    json_decref(j);

    assert_string_equal(cr_fw_capability_name(CR_FWCAP_REGION_AWARE), "REGION_AWARE");
    assert_string_equal(cr_fw_capability_name(CR_FWCAP_REVOCABLE_RESOURCES), "REVOCABLE_RESOURCES");
    assert_null(cr_fw_capability_name(3));
    assert_null(cr_fw_capability_name(0));
}

static void test_framework_info_errors(void **state)
{
    (void)state;
    framework_err("[]", "framework_info: expected an object, got array");
    framework_err("{'name':'n'}", "framework_info.user: required field missing");
    framework_err("{'user':1,'name':'n'}", "framework_info.user: expected a string, got number");
    framework_err("{'user':'u'}", "framework_info.name: required field missing");
    framework_err("{'user':'u','name':'n','role':'dev','capabilities':[{'type':'MULTI_ROLE'}]}",
                  "framework_info.role: must not be set when the framework has the MULTI_ROLE "
                  "capability (use roles)");
    framework_err("{'user':'u','name':'n','roles':['a','b']}",
                  "framework_info.roles: must be empty when the framework lacks the MULTI_ROLE "
                  "capability (use role)");
    framework_err("{'user':'u','name':'n','role':'a','roles':['b']}",
                  "framework_info.roles: must be empty when the framework lacks the MULTI_ROLE "
                  "capability (use role)");
    framework_err(
        "{'user':'u','name':'n','roles':['a','a'],'capabilities':[{'type':'MULTI_ROLE'}]}",
        "framework_info.roles: contains duplicate role 'a'");
    framework_err("{'user':'u','name':'n','roles':['-x'],'capabilities':[{'type':'MULTI_ROLE'}]}",
                  "framework_info.roles[0]: role name '-x' is invalid: it starts with a dash");
    framework_err("{'user':'u','name':'n','role':'.'}",
                  "framework_info.role: role name '.' is invalid");
    framework_err("{'user':'u','name':'n','roles':['a/b']}",
                  "framework_info.roles[0]: role name 'a/b' is invalid: hierarchical roles ('/') "
                  "are not supported");
    framework_err("{'user':'u','name':'n','roles':[1]}",
                  "framework_info.roles[0]: expected a string, got number");
    framework_err("{'user':'u','name':'n','failover_timeout':'Infinity'}",
                  "framework_info.failover_timeout: inf seconds is out of range");
    framework_err("{'user':'u','name':'n','failover_timeout':true}",
                  "framework_info.failover_timeout: expected a number, got boolean");
    framework_err("{'user':'u','name':'n','capabilities':[{'type':6}]}",
                  "framework_info.capabilities[0].type: expected an enum name, got number 6");
    framework_err("{'user':'u','name':'n','capabilities':['MULTI_ROLE']}",
                  "framework_info.capabilities[0]: expected an object, got string");
    framework_err("{'user':'u','name':'n','id':{'value':'a/b'}}",
                  "framework_info.id.value: id 'a/b' contains invalid characters (control "
                  "characters, '/' or '\\')");
    framework_err("{'user':'u','name':'n','labels':[]}",
                  "framework_info.labels: expected an object, got array");
    framework_err("{'user':'u','name':'n','checkpoint':1}",
                  "framework_info.checkpoint: expected a boolean, got number");
}

/* ---------------------------------------------------------------- CommandInfo */

static void test_command(void **state)
{
    (void)state;
    struct cr_err err = {0};
    struct cr_command c, copy;
    cr_command_init(&c);
    cr_command_init(&copy);
    expect_json(cr_json_command(&c), "{'shell':true}");

    const char *full =
        "{'uris':[{'value':'http://x/a.tgz','extract':true},{'value':'http://x/b',"
        "'executable':true,'extract':false,'cache':true,'output_file':'b.bin'}],"
        "'environment':{'variables':[{'name':'A','type':'VALUE','value':'1'}]},"
        "'shell':false,'value':'/bin/echo','arguments':['echo','hi'],'user':'nobody'}";
    json_t *j = load(full);
    assert_int_equal(cr_parse_command(j, "command", &c, &err), 0);
    assert_false(c.shell);
    assert_int_equal(c.narguments, 2);
    expect_json(cr_json_command(&c), full);
    assert_int_equal(cr_command_copy(&copy, &c), 0);
    expect_json(cr_json_command(&copy), full);
    cr_command_release(&c);
    cr_command_release(&copy);
    json_decref(j);

    /* Defaults filled in: env type VALUE, uri extract true, shell true. */
    j = load(
        "{'value':'echo hi','environment':{'variables':[{'name':'A','value':'x','secret':null}]},"
        "'uris':[{'value':'u'}],'shell':null}");
    assert_int_equal(cr_parse_command(j, "command", &c, &err), 0);
    expect_json(cr_json_command(&c), "{'uris':[{'value':'u','extract':true}],'environment':"
                                     "{'variables':[{'name':'A','type':'VALUE','value':'x'}]},"
                                     "'shell':true,'value':'echo hi'}");
    cr_command_release(&c);
    json_decref(j);

    const struct {
        const char *in;
        const char *want;
    } cases[] = {
        {"{'environment':{'variables':[{'name':'A'}]}}",
         "command.environment.variables[0].value: environment variable 'A' of type VALUE must "
         "have a value"},
        {"{'environment':{'variables':[{'name':'S','type':'SECRET','secret':{}}]}}",
         "command.environment.variables[0].type: environment variable 'S': secrets are not "
         "supported"},
        {"{'environment':{'variables':[{'name':'S','type':'OTHER','value':'v'}]}}",
         "command.environment.variables[0].type: environment variable 'S' has an unknown type"},
        {"{'environment':{'variables':[{'value':'v'}]}}",
         "command.environment.variables[0].name: required field missing"},
        {"{'environment':[]}", "command.environment: expected an object, got array"},
        {"{'uris':[{'extract':true}]}", "command.uris[0].value: required field missing"},
        {"{'uris':['x']}", "command.uris[0]: expected an object, got string"},
        {"{'arguments':[1]}", "command.arguments[0]: expected a string, got number"},
        {"{'shell':'false'}", "command.shell: expected a boolean, got string"},
        {"'x'", "command: expected an object, got string"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        j = load(cases[i].in);
        expect_err(cr_parse_command(j, "command", &c, &err), &err, cases[i].want);
        assert_null(c.env);
        json_decref(j);
    }
}

/* ---------------------------------------------------------------- TaskInfo */

static const char *HELLO_TASK =
    "{'name':'hello','task_id':{'value':'hello.1'},'agent_id':{'value':'b1e5-S0'},"
    "'resources':[{'name':'cpus','type':'SCALAR','scalar':{'value':0.1},'role':'*',"
    "'allocation_info':{'role':'dev'}},{'name':'mem','type':'SCALAR','scalar':{'value':32},"
    "'role':'*','allocation_info':{'role':'dev'}}],"
    "'command':{'shell':true,'value':'echo hi && sleep 60',"
    "'environment':{'variables':[{'name':'GREETING','value':'hi'}]}}}";

static const char *NGINX_TASK =
    "{'name':'nginx','task_id':{'value':'nginx.1'},'agent_id':{'value':'b1e5-S0'},"
    "'resources':[{'name':'cpus','type':'SCALAR','scalar':{'value':0.5}},"
    "{'name':'mem','type':'SCALAR','scalar':{'value':128}},"
    "{'name':'ports','type':'RANGES','ranges':{'range':[{'begin':31005,'end':31005}]}}],"
    "'command':{'shell':false},"
    "'container':{'type':'DOCKER','docker':{'image':'nginx:1.25','network':'BRIDGE',"
    "'force_pull_image':false,'port_mappings':[{'host_port':31005,'container_port':80,"
    "'protocol':'tcp'}]}},"
    "'health_check':{'type':'HTTP','http':{'port':80,'path':'/'},'grace_period_seconds':30,"
    "'interval_seconds':10,'consecutive_failures':3}}";

static void task_round_trip(const struct cr_task_info *t, const char *want)
{
    struct cr_err err = {0};
    struct cr_task_info back, copy;
    cr_task_info_init(&copy);
    json_t *enc = cr_json_task_info(t, NULL);
    assert_int_equal(cr_parse_task_info(enc, "t", &back, &err), 0);
    expect_json(cr_json_task_info(&back, NULL), want);
    assert_int_equal(cr_task_info_copy(&copy, &back), 0);
    expect_json(cr_json_task_info(&copy, NULL), want);
    assert_true(cr_resources_equal(&copy.resources, &t->resources));
    json_decref(enc);
    cr_task_info_release(&back);
    cr_task_info_release(&copy);
}

static void test_task_info(void **state)
{
    (void)state;
    struct cr_err err = {0};
    struct cr_task_info t;

    json_t *j = load(HELLO_TASK);
    assert_int_equal(cr_parse_task_info(j, "task", &t, &err), 0);
    assert_true(t.has_command);
    assert_null(t.executor);
    assert_int_equal(t.kill_grace_ms, -1);
    assert_int_equal(cr_resources_scalar(&t.resources, "cpus"), 100);
    const char *want_hello =
        "{'name':'hello','task_id':{'value':'hello.1'},'agent_id':{'value':'b1e5-S0'},"
        "'resources':[{'name':'cpus','type':'SCALAR','scalar':{'value':0.1},'role':'*'},"
        "{'name':'mem','type':'SCALAR','scalar':{'value':32.0},'role':'*'}],"
        "'command':{'environment':{'variables':[{'name':'GREETING','type':'VALUE','value':'hi'}]},"
        "'shell':true,'value':'echo hi && sleep 60'}}";
    expect_json(cr_json_task_info(&t, NULL), want_hello);
    task_round_trip(&t, want_hello);
    struct cr_res_style alloc = {.allocation_role = "dev"};
    json_t *with_alloc = cr_json_task_info(&t, &alloc);
    char *s = cr_json_dump(json_object_get(with_alloc, "resources"));
    char *want_res = dq("[{'name':'cpus','type':'SCALAR','scalar':{'value':0.1},'role':'*',"
                        "'allocation_info':{'role':'dev'}},{'name':'mem','type':'SCALAR',"
                        "'scalar':{'value':32.0},'role':'*','allocation_info':{'role':'dev'}}]");
    assert_string_equal(s, want_res);
    free(s);
    free(want_res);
    json_decref(with_alloc);
    cr_task_info_release(&t);
    json_decref(j);

    j = load(NGINX_TASK);
    assert_int_equal(cr_parse_task_info(j, "task", &t, &err), 0);
    const char *want_nginx =
        "{'name':'nginx','task_id':{'value':'nginx.1'},'agent_id':{'value':'b1e5-S0'},"
        "'resources':[{'name':'cpus','type':'SCALAR','scalar':{'value':0.5},'role':'*'},"
        "{'name':'mem','type':'SCALAR','scalar':{'value':128.0},'role':'*'},"
        "{'name':'ports','type':'RANGES','ranges':{'range':[{'begin':31005,'end':31005}]},"
        "'role':'*'}],'command':{'shell':false},"
        "'container':{'type':'DOCKER','docker':{'image':'nginx:1.25','network':'BRIDGE',"
        "'force_pull_image':false,'port_mappings':[{'host_port':31005,'container_port':80,"
        "'protocol':'tcp'}]}},"
        "'health_check':{'type':'HTTP','http':{'port':80,'path':'/'},'grace_period_seconds':30,"
        "'interval_seconds':10,'consecutive_failures':3}}";
    expect_json(cr_json_task_info(&t, NULL), want_nginx);
    task_round_trip(&t, want_nginx);
    cr_task_info_release(&t);
    json_decref(j);

    /* Executor task, kill policy, data as a Buffer, other kept fields, unknown dropped. */
    j = load("{'name':'e','task_id':{'value':'e.1'},'agent_id':{'value':'a'},'executor':"
             "{'executor_id':{'value':'ex'},'command':{'value':'run'},'data':null},"
             "'kill_policy':{'grace_period':{'nanoseconds':'10000000000'}},"
             "'data':{'type':'Buffer','data':[104,105]},'labels':{'labels':[{'key':'k'}]},"
             "'discovery':{'visibility':'FRAMEWORK'},'max_completion_time':{'nanoseconds':5},"
             "'limits':{'cpus':{'value':2}},'check':{'type':'TCP','tcp':{'port':1}},"
             "'no_such_field':{'x':1},'container':null}");
    assert_int_equal(cr_parse_task_info(j, "task", &t, &err), 0);
    assert_int_equal(t.kill_grace_ms, 10000);
    assert_false(t.has_command);
    const char *want_exec =
        "{'name':'e','task_id':{'value':'e.1'},'agent_id':{'value':'a'},"
        "'executor':{'executor_id':{'value':'ex'},'command':{'value':'run'}},"
        "'check':{'type':'TCP','tcp':{'port':1}},"
        "'kill_policy':{'grace_period':{'nanoseconds':10000000000}},'data':'aGk=',"
        "'labels':{'labels':[{'key':'k'}]},'discovery':{'visibility':'FRAMEWORK'},"
        "'max_completion_time':{'nanoseconds':5},'limits':{'cpus':{'value':2}}}";
    expect_json(cr_json_task_info(&t, NULL), want_exec);
    task_round_trip(&t, want_exec);
    cr_task_info_release(&t);
    cr_task_info_release(NULL);
    json_decref(j);
}

static void task_invalid(const char *in_sq, const char *want)
{
    struct cr_err err = {0};
    struct cr_task_info t;
    json_t *j = load(in_sq);
    expect_err(cr_parse_task_info(j, "", &t, &err), &err, want);
    assert_null(t.name);
    json_decref(j);
}

static void test_task_info_errors(void **state)
{
    (void)state;
    /* JSON layer. */
    task_invalid("{'task_id':{'value':'x'},'agent_id':{'value':'a'}}",
                 "name: required field missing");
    task_invalid("{'name':'x','agent_id':{'value':'a'}}", "task_id: required field missing");
    task_invalid("{'name':'x','task_id':{'value':'x'}}", "agent_id: required field missing");
    task_invalid("{'name':'x','task_id':'x','agent_id':{'value':'a'}}",
                 "task_id: expected an object, got string");
    task_invalid("{'name':'x','task_id':{'value':'x'},'agent_id':{'value':'a'},"
                 "'executor':{'command':{}}}",
                 "executor.executor_id: required field missing");
    task_invalid("{'name':'x','task_id':{'value':'x'},'agent_id':{'value':'a'},"
                 "'command':{'value':'v'},'kill_policy':{'grace_period':{'nanoseconds':-1}}}",
                 "kill_policy.grace_period: must not be negative");
    task_invalid("{'name':'x','task_id':{'value':'x'},'agent_id':{'value':'a'},"
                 "'command':{'value':'v'},'kill_policy':{'grace_period':{}}}",
                 "kill_policy.grace_period.nanoseconds: required field missing");
    task_invalid("{'name':'x','task_id':{'value':'x'},'agent_id':{'value':'a'},"
                 "'command':{'value':'v'},'max_completion_time':{'nanoseconds':-3}}",
                 "max_completion_time: must not be negative");
    task_invalid("{'name':'x','task_id':{'value':'x'},'agent_id':{'value':'a'},"
                 "'command':{'value':'v'},'container':'docker'}",
                 "container: expected an object, got string");
    task_invalid("{'name':'x','task_id':{'value':'x'},'agent_id':{'value':'a'},"
                 "'command':{'value':'v'},'data':'%%%'}",
                 "data: invalid base64");
    task_invalid("{'name':'x','task_id':{'value':'x'},'agent_id':{'value':'a'},"
                 "'resources':[{'name':'cpus','type':'SCALAR'}]}",
                 "resources[0].scalar: required for type SCALAR");
    /* Validation layer. */
    task_invalid("{'name':'x','task_id':{'value':'x'},'agent_id':{'value':'a'}}",
                 "task 'x': exactly one of command or executor must be set");
    task_invalid("{'name':'x','task_id':{'value':'x'},'agent_id':{'value':'a'},"
                 "'command':{'value':'v'},'executor':{'executor_id':{'value':'e'}}}",
                 "task 'x': exactly one of command or executor must be set");
    task_invalid("{'name':'x','task_id':{'value':'a/b'},'agent_id':{'value':'a'},"
                 "'command':{'value':'v'}}",
                 "task 'a/b': invalid task id: id 'a/b' contains invalid characters (control "
                 "characters, '/' or '\\')");
    task_invalid("{'name':'x','task_id':{'value':''},'agent_id':{'value':'a'},"
                 "'command':{'value':'v'}}",
                 "task '': invalid task id: id must not be empty");
    task_invalid("{'name':'x','task_id':{'value':'x'},'agent_id':{'value':'a'},"
                 "'command':{'shell':false}}",
                 "task 'x': command.value is required without a container image");
    task_invalid("{'name':'x','task_id':{'value':'x'},'agent_id':{'value':'a'},'command':{},"
                 "'container':{'type':'DOCKER','docker':{'image':'i'}}}",
                 "task 'x': command.value is required when command.shell is true");
    task_invalid("{'name':'x','task_id':{'value':'x'},'agent_id':{'value':'a'},"
                 "'executor':{'executor_id':{'value':'..'}}}",
                 "task 'x': invalid executor id: id '..' is not allowed");
    task_invalid("{'name':'x','task_id':{'value':'x'},'agent_id':{'value':'a'},"
                 "'command':{'value':'v'},'health_check':{'http':{'port':80}}}",
                 "task 'x': health_check.type must be COMMAND, HTTP or TCP");
    task_invalid(
        "{'name':'x','task_id':{'value':'x'},'agent_id':{'value':'a'},"
        "'command':{'value':'v'},'health_check':{'type':'HTTP','http':{'port':80,'path':'x'}}}",
        "task 'x': health_check.http.path 'x' must start with '/'");
    task_invalid("{'name':'x','task_id':{'value':'x'},'agent_id':{'value':'a'},"
                 "'command':{'value':'v'},'health_check':{'type':'HTTP','http':{'port':80,"
                 "'scheme':'ftp'}}}",
                 "task 'x': health_check.http.scheme 'ftp' is not supported");
    task_invalid("{'name':'x','task_id':{'value':'x'},'agent_id':{'value':'a'},"
                 "'command':{'value':'v'},'health_check':{'type':'TCP'}}",
                 "task 'x': health_check.tcp is required for a TCP health check");
    task_invalid("{'name':'x','task_id':{'value':'x'},'agent_id':{'value':'a'},"
                 "'command':{'value':'v'},'health_check':{'type':'TCP','tcp':{}}}",
                 "task 'x': health_check.tcp.port is required");
    task_invalid("{'name':'x','task_id':{'value':'x'},'agent_id':{'value':'a'},"
                 "'command':{'value':'v'},'health_check':{'type':'COMMAND','command':{}}}",
                 "task 'x': health_check.command.value is required");
    task_invalid("{'name':'x','task_id':{'value':'x'},'agent_id':{'value':'a'},"
                 "'command':{'value':'v'},'health_check':{'type':'TCP','tcp':{'port':1},"
                 "'delay_seconds':-1}}",
                 "task 'x': health_check.delay_seconds must be a non-negative number");
    task_invalid("{'name':'x','task_id':{'value':'x'},'agent_id':{'value':'a'},"
                 "'command':{'value':'v'},'health_check':{'type':2}}",
                 "task 'x': health_check.type: expected an enum name, got number 2");

    /* With a path, both layers name it. */
    struct cr_err err = {0};
    struct cr_task_info t;
    json_t *j = load("{'name':'x','task_id':{'value':'x'},'agent_id':{'value':'a'}}");
    expect_err(cr_parse_task_info(j, "launch.task_infos[3]", &t, &err), &err,
               "launch.task_infos[3]: task 'x': exactly one of command or executor must be set");
    json_decref(j);
}

/* ---------------------------------------------------------------- TaskStatus */

static void test_task_status_update_event(void **state)
{
    (void)state;
    struct cr_err err = {0};
    struct cr_task_status s, copy;
    cr_task_status_init(&copy);
    /* The UPDATE example of API-COMPAT.md §1.5, byte for byte. */
    const char *status =
        "{'task_id':{'value':'web.1'},'state':'TASK_RUNNING','source':'SOURCE_EXECUTOR',"
        "'agent_id':{'value':'b1e5-S0'},'executor_id':{'value':'web.1'},'timestamp':1718000000.25,"
        "'uuid':'3q2+7wAAQAGAAAAAAAAAAQ==','healthy':true,"
        "'container_status':{'container_id':{'value':'c0ffee'},'network_infos':[{'ip_addresses':"
        "[{'ip_address':'10.0.0.5'}]}]}}";
    json_t *j = load(status);
    assert_int_equal(cr_parse_task_status(j, "status", &s, &err), 0);
    assert_int_equal(s.state, CR_TASK_RUNNING);
    assert_int_equal(s.source, CR_SOURCE_EXECUTOR);
    assert_int_equal(s.reason, CR_REASON_NONE);
    assert_true(s.has_uuid);
    assert_int_equal(s.uuid[0], 0xde);
    assert_int_equal(s.healthy, 1);
    assert_string_equal(s.container_id, "c0ffee");
    expect_json(cr_event_update(&s),
                "{'type':'UPDATE','update':{'status':{'task_id':{'value':'web.1'},"
                "'state':'TASK_RUNNING','source':'SOURCE_EXECUTOR','agent_id':{'value':'b1e5-S0'},"
                "'executor_id':{'value':'web.1'},'timestamp':1718000000.25,"
                "'uuid':'3q2+7wAAQAGAAAAAAAAAAQ==','healthy':true,'container_status':"
                "{'container_id':{'value':'c0ffee'},'network_infos':[{'ip_addresses':"
                "[{'ip_address':'10.0.0.5'}]}]}}}}");
    assert_int_equal(cr_task_status_copy(&copy, &s), 0);
    expect_json(cr_json_task_status(&copy), status);
    /* The modelled container id wins over the kept one. */
    free(copy.container_id);
    copy.container_id = strdup("beef");
    json_t *enc = cr_json_task_status(&copy);
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(enc, "container_status"), "container_id"), "value")),
        "beef");
    json_decref(enc);
    cr_task_status_release(&copy);
    cr_task_status_release(&s);
    json_decref(j);
}

static void test_task_status_build_and_parse(void **state)
{
    (void)state;
    struct cr_err err = {0};
    struct cr_task_status s, back;
    cr_task_status_init(&s);
    /* A master-generated reconciliation answer: no uuid, no healthy. */
    s.task_id = strdup("t");
    s.state = CR_TASK_LOST;
    s.message = strdup("Reconciliation: Latest task state");
    s.source = CR_SOURCE_MASTER;
    s.reason = CR_REASON_RECONCILIATION;
    s.agent_id = strdup("a");
    s.timestamp = 1.5;
    s.unreachable_time = 1718000000.5;
    const char *want =
        "{'task_id':{'value':'t'},'state':'TASK_LOST','message':'Reconciliation: "
        "Latest task state','source':'SOURCE_MASTER','reason':'REASON_RECONCILIATION',"
        "'agent_id':{'value':'a'},'timestamp':1.5,"
        "'unreachable_time':{'nanoseconds':1718000000500000000}}";
    expect_json(cr_json_task_status(&s), want);
    json_t *enc = cr_json_task_status(&s);
    assert_int_equal(cr_parse_task_status(enc, "s", &back, &err), 0);
    expect_json(cr_json_task_status(&back), want);
    json_decref(enc);
    cr_task_status_release(&back);

    cr_task_status_set_uuid_random(&s);
    assert_true(s.has_uuid);
    assert_int_equal(s.uuid[6] >> 4, 4);
    assert_int_equal(s.uuid[8] >> 6, 2);
    unsigned char first[16];
    memcpy(first, s.uuid, 16);
    cr_task_status_set_uuid_random(&s);
    assert_memory_not_equal(first, s.uuid, 16);
    s.healthy = 0;
    enc = cr_json_task_status(&s);
    assert_true(json_is_false(json_object_get(enc, "healthy")));
    assert_int_equal(json_string_length(json_object_get(enc, "uuid")), 24);
    assert_int_equal(cr_parse_task_status(enc, "s", &back, &err), 0);
    assert_memory_equal(back.uuid, s.uuid, 16);
    assert_int_equal(back.healthy, 0);
    json_decref(enc);
    cr_task_status_release(&back);

    json_t *list = cr_json_task_status_list(&s, 1);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    cr_task_status_release(&s);

    /* A minimal status; tobilg's ByteBuffer uuid; unknown reason and source dropped;
     * data and labels kept. */
    json_t *j =
        load("{'task_id':{'value':'t'},'state':'TASK_FINISHED','reason':'REASON_FROM_FUTURE',"
             "'source':'SOURCE_ALIEN','uuid':{'buffer':{'type':'Buffer','data':"
             "[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]},'offset':1,'limit':17},"
             "'data':'aGk=','labels':{'labels':[]},'message':null,'healthy':null}");
    assert_int_equal(cr_parse_task_status(j, "status", &s, &err), 0);
    assert_int_equal(s.reason, CR_REASON_NONE);
    assert_int_equal(s.source, CR_SOURCE_NONE);
    assert_int_equal(s.healthy, -1);
    assert_int_equal(s.uuid[0], 1);
    assert_int_equal(s.uuid[15], 16);
    expect_json(cr_json_task_status(&s),
                "{'task_id':{'value':'t'},'state':'TASK_FINISHED','data':'aGk=',"
                "'uuid':'AQIDBAUGBwgJCgsMDQ4PEA==','labels':{'labels':[]}}");
    cr_task_status_release(&s);
    json_decref(j);
}

static void test_task_status_errors(void **state)
{
    (void)state;
    struct cr_err err = {0};
    struct cr_task_status s;
    const struct {
        const char *in;
        const char *want;
    } cases[] = {
        {"{'state':'TASK_RUNNING'}", "status.task_id: required field missing"},
        {"{'task_id':{'value':'t'}}", "status.state: required field missing"},
        {"{'task_id':{'value':'t'},'state':1}",
         "status.state: expected an enum name, got number 1"},
        {"{'task_id':{'value':'t'},'state':'TASK_FOO'}",
         "status.state: unknown task state 'TASK_FOO'"},
        {"{'task_id':{'value':'t'},'state':'TASK_RUNNING','uuid':'aGk='}",
         "status.uuid: expected 16 bytes, got 2"},
        {"{'task_id':{'value':'t'},'state':'TASK_RUNNING','uuid':'!!!'}",
         "status.uuid: invalid base64"},
        {"{'task_id':{'value':'t'},'state':'TASK_RUNNING','healthy':'yes'}",
         "status.healthy: expected a boolean, got string"},
        {"{'task_id':{'value':'t'},'state':'TASK_RUNNING','reason':3}",
         "status.reason: expected an enum name, got number 3"},
        {"{'task_id':{'value':'t'},'state':'TASK_RUNNING','timestamp':'-Infinity'}",
         "status.timestamp: must be finite"},
        {"{'task_id':{'value':'t'},'state':'TASK_RUNNING','container_status':{'container_id':{}}}",
         "status.container_status.container_id.value: required field missing"},
        {"{'task_id':{'value':'t'},'state':'TASK_RUNNING','unreachable_time':{'nanoseconds':'x'}}",
         "status.unreachable_time.nanoseconds: expected an integer, got string 'x'"},
        {"{'task_id':{'value':'t'},'state':'TASK_RUNNING','check_status':7}",
         "status.check_status: expected an object, got number"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *j = load(cases[i].in);
        expect_err(cr_parse_task_status(j, "status", &s, &err), &err, cases[i].want);
        assert_null(s.task_id);
        json_decref(j);
    }
}

/* ---------------------------------------------------------------- AgentInfo */

static void test_agent_info(void **state)
{
    (void)state;
    struct cr_err err = {0};
    struct cr_agent_info a, copy;
    cr_agent_info_init(&copy);
    json_t *j = load("{'hostname':'node1','resources':[{'name':'cpus','type':'SCALAR',"
                     "'scalar':{'value':4}}],'attributes':[{'name':'rack','type':'TEXT',"
                     "'text':{'value':'r1'}}],'id':{'value':'m-S1'},'domain':{}}");
    assert_int_equal(cr_parse_agent_info(j, "agent_info", &a, &err), 0);
    assert_int_equal(a.port, 5051);
    const char *want =
        "{'hostname':'node1','port':5051,'resources':[{'name':'cpus','type':'SCALAR',"
        "'scalar':{'value':4.0},'role':'*'}],'attributes':[{'name':'rack',"
        "'type':'TEXT','text':{'value':'r1'}}],'id':{'value':'m-S1'}}";
    expect_json(cr_json_agent_info(&a), want);
    assert_int_equal(cr_agent_info_copy(&copy, &a), 0);
    expect_json(cr_json_agent_info(&copy), want);
    json_t *enc = cr_json_agent_info(&copy);
    cr_agent_info_release(&a);
    assert_int_equal(cr_parse_agent_info(enc, "agent_info", &a, &err), 0);
    expect_json(cr_json_agent_info(&a), want);
    json_decref(enc);
    cr_agent_info_release(&a);
    cr_agent_info_release(&copy);
    json_decref(j);

    j = load("{'hostname':'h','port':'5052'}");
    assert_int_equal(cr_parse_agent_info(j, "agent_info", &a, &err), 0);
    expect_json(cr_json_agent_info(&a), "{'hostname':'h','port':5052}");
    cr_agent_info_release(&a);
    json_decref(j);

    const struct {
        const char *in;
        const char *want;
    } cases[] = {
        {"{'port':1}", "agent_info.hostname: required field missing"},
        {"{'hostname':'h','port':70000}", "agent_info.port: 70000 is not a port"},
        {"{'hostname':'h','id':{'value':'a/b'}}",
         "agent_info.id.value: id 'a/b' contains invalid characters (control characters, '/' or "
         "'\\')"},
        {"{'hostname':'h','resources':{}}", "agent_info.resources: expected an array, got object"},
        {"{'hostname':'h','attributes':[{'name':'a'}]}",
         "agent_info.attributes[0].type: required field missing"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        j = load(cases[i].in);
        expect_err(cr_parse_agent_info(j, "agent_info", &a, &err), &err, cases[i].want);
        assert_null(a.hostname);
        json_decref(j);
    }
}

/* ---------------------------------------------------------------- events */

static const struct cr_master_info MASTER = {
    .id = "b1e5", .ip = "127.0.0.1", .port = 5050, .hostname = "localhost", .version = "1.11.0"};

static void test_master_info_and_subscribed(void **state)
{
    (void)state;
    const char *mi = "{'id':'b1e5','ip':16777343,'port':5050,'pid':'master@127.0.0.1:5050',"
                     "'hostname':'localhost','version':'1.11.0','address':{'hostname':'localhost',"
                     "'ip':'127.0.0.1','port':5050}}";
    expect_json(cr_json_master_info(&MASTER), mi);
    struct cr_master_info other = {.id = "m", .ip = "10.0.0.1", .port = 0, .hostname = "m1"};
    expect_json(cr_json_master_info(&other),
                "{'id':'m','ip':16777226,'port':5050,'pid':'master@10.0.0.1:5050',"
                "'hostname':'m1','address':{'hostname':'m1','ip':'10.0.0.1','port':5050}}");
    struct cr_master_info v6 = {.id = "m", .ip = "::1", .port = 5000};
    expect_json(cr_json_master_info(&v6), "{'id':'m','ip':0,'port':5000,'pid':'master@::1:5000',"
                                          "'address':{'ip':'::1','port':5000}}");
    expect_json(cr_event_subscribed("b1e5-0000", 15, &MASTER),
                "{'type':'SUBSCRIBED','subscribed':{'framework_id':{'value':'b1e5-0000'},"
                "'heartbeat_interval_seconds':15.0,'master_info':{'id':'b1e5','ip':16777343,"
                "'port':5050,'pid':'master@127.0.0.1:5050','hostname':'localhost',"
                "'version':'1.11.0','address':{'hostname':'localhost','ip':'127.0.0.1',"
                "'port':5050}}}}");
}

static void test_offer_and_offers_event(void **state)
{
    (void)state;
    struct cr_err err = {0};
    struct cr_resources rs;
    struct cr_attributes attrs;
    cr_resources_init(&rs);
    cr_attributes_init(&attrs);
    json_t *j =
        load("[{'name':'cpus','type':'SCALAR','scalar':{'value':3.5}},"
             "{'name':'mem','type':'SCALAR','scalar':{'value':7000}},"
             "{'name':'disk','type':'SCALAR','scalar':{'value':20000}},"
             "{'name':'ports','type':'RANGES','ranges':{'range':[{'begin':31000,'end':32000}]}}]");
    assert_int_equal(cr_parse_resources(j, "r", &rs, &err), 0);
    assert_int_equal(cr_attributes_parse_text(&attrs, "rack:r1", &err), 0);
    struct cr_offer_view ov = {
        .id = "b1e5-O7",
        .framework_id = "b1e5-0000",
        .agent_id = "b1e5-S0",
        .hostname = "node1",
        .agent_ip = "10.0.0.5",
        .agent_port = 5051,
        .role = "dev",
        .resources = &rs,
        .attributes = &attrs,
        .refinement = false,
    };
    /* API-COMPAT.md §1.5 (resources in Corral's sorted order; executor_ids omitted when
     * empty, as Mesos does). */
    const char *offer =
        "{'id':{'value':'b1e5-O7'},'framework_id':{'value':'b1e5-0000'},"
        "'agent_id':{'value':'b1e5-S0'},'hostname':'node1',"
        "'url':{'scheme':'http','address':{'hostname':'node1','ip':'10.0.0.5','port':5051},"
        "'path':'/slave(1)'},'allocation_info':{'role':'dev'},'resources':["
        "{'name':'cpus','type':'SCALAR','scalar':{'value':3.5},'role':'*','allocation_info':{'role':'dev'}},"
        "{'name':'disk','type':'SCALAR','scalar':{'value':20000.0},'role':'*','allocation_info':{'role':'dev'}},"
        "{'name':'mem','type':'SCALAR','scalar':{'value':7000.0},'role':'*','allocation_info':{'role':'dev'}},"
        "{'name':'ports','type':'RANGES','ranges':{'range':[{'begin':31000,'end':32000}]},'role':'*',"
        "'allocation_info':{'role':'dev'}}],"
        "'attributes':[{'name':'rack','type':'TEXT','text':{'value':'r1'}}]}";
    expect_json(cr_json_offer(&ov), offer);
    json_t *arr = json_array();
    json_array_append_new(arr, cr_json_offer(&ov));
    char *want = cr_xasprintf("{'type':'OFFERS','offers':{'offers':[%s]}}", offer);
    expect_json(cr_event_offers(arr), want);
    free(want);
    expect_json(cr_event_offers(NULL), "{'type':'OFFERS','offers':{'offers':[]}}");

    /* Refinement, executors, no role, no attributes, empty resources, defaults. */
    const char *execs[] = {"e1", "e2"};
    struct cr_resources empty;
    cr_resources_init(&empty);
    struct cr_offer_view ov2 = {.id = "o",
                                .framework_id = "f",
                                .agent_id = "a",
                                .hostname = "h",
                                .agent_ip = "1.2.3.4",
                                .resources = &empty,
                                .refinement = true,
                                .executor_ids = execs,
                                .nexecutor_ids = 2};
    expect_json(cr_json_offer(&ov2),
                "{'id':{'value':'o'},'framework_id':{'value':'f'},'agent_id':{'value':'a'},"
                "'hostname':'h','url':{'scheme':'http','address':{'hostname':'h','ip':'1.2.3.4',"
                "'port':5051},'path':'/slave(1)'},'resources':[],"
                "'executor_ids':[{'value':'e1'},{'value':'e2'}]}");
    cr_resources_release(&rs);
    cr_attributes_release(&attrs);
    json_decref(j);
}

static void test_small_events(void **state)
{
    (void)state;
    expect_json(cr_event_heartbeat(), "{'type':'HEARTBEAT'}");
    expect_json(cr_event_error("Framework has been removed"),
                "{'type':'ERROR','error':{'message':'Framework has been removed'}}");
    expect_json_raw(cr_event_error("bad\nthing \xc3\xa9 \"x\""),
                    "{\"type\":\"ERROR\",\"error\":{\"message\":\"bad\\nthing \\u00e9 "
                    "\\\"x\\\"\"}}");
    expect_json(cr_event_rescind("b1e5-O7"),
                "{'type':'RESCIND','rescind':{'offer_id':{'value':'b1e5-O7'}}}");
    expect_json(cr_event_failure("a", "e", 137, true),
                "{'type':'FAILURE','failure':{'agent_id':{'value':'a'},'executor_id':{'value':'e'},"
                "'status':137}}");
    expect_json(cr_event_failure("a", NULL, 0, false),
                "{'type':'FAILURE','failure':{'agent_id':{'value':'a'}}}");
    expect_json(cr_event_message("a", "e", "aGk="),
                "{'type':'MESSAGE','message':{'agent_id':{'value':'a'},'executor_id':{'value':'e'},"
                "'data':'aGk='}}");
    expect_json(cr_event("INVERSE_OFFERS", json_object()),
                "{'type':'INVERSE_OFFERS','inverse_offers':{}}");
    expect_json(cr_event("PING", NULL), "{'type':'PING'}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dump_ascii_and_numbers),
        cmocka_unit_test(test_invalid_utf8_is_sanitized),
        cmocka_unit_test(test_parse_object_errors),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_validate_id_and_role),
        cmocka_unit_test(test_getters_leniency),
        cmocka_unit_test(test_bytes_forms),
        cmocka_unit_test(test_copy_clean_strips_nulls),
        cmocka_unit_test(test_resources_parse),
        cmocka_unit_test(test_resources_errors),
        cmocka_unit_test(test_resources_styles),
        cmocka_unit_test(test_resources_flat),
        cmocka_unit_test(test_attributes_text),
        cmocka_unit_test(test_attributes_json_errors),
        cmocka_unit_test(test_framework_info),
        cmocka_unit_test(test_framework_info_errors),
        cmocka_unit_test(test_command),
        cmocka_unit_test(test_task_info),
        cmocka_unit_test(test_task_info_errors),
        cmocka_unit_test(test_task_status_update_event),
        cmocka_unit_test(test_task_status_build_and_parse),
        cmocka_unit_test(test_task_status_errors),
        cmocka_unit_test(test_agent_info),
        cmocka_unit_test(test_master_info_and_subscribed),
        cmocka_unit_test(test_offer_and_offers_event),
        cmocka_unit_test(test_small_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
