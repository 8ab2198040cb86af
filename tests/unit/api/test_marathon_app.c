/*
 * test_marathon_app.c - Marathon App JSON <-> struct cr_app and the TaskInfo of an instance
 * (src/api/marathon_app.c).
 *
 * Errors are checked by status, JSON pointer path and a word of the message; the validation
 * rules are a table, one bad document each. The TaskInfo built for an instance is fed to
 * the same parsers the master and the executor run (cr_parse_task_info +
 * cr_task_info_validate, cr_health_parse, cr_container_spec_parse), so a field name that
 * drifts from what the agent side reads fails here.
 */
#include "test_helpers.h"

#include "api/marathon_app.h"
#include "base/util.h"
#include "executor/container_spec.h"
#include "executor/health.h"

/* Parse single-quoted JSON as an app. */
static int parse_sq(const char *sq, const char *path_id, const struct cr_app *base,
                    struct cr_app *out, struct cr_marathon_err *merr)
{
    json_t *j = load(sq);
    int rc = cr_marathon_parse_app(j, path_id, base, out, merr);
    json_decref(j);
    return rc;
}

static void parse_ok(const char *sq, const char *path_id, const struct cr_app *base,
                     struct cr_app *out)
{
    struct cr_marathon_err merr;
    cr_marathon_err_init(&merr);
    int rc = parse_sq(sq, path_id, base, out, &merr);
    if (rc != 0) {
        char *d = cr_json_dump(merr.body);
        fail_msg("parse failed (%d): %s\n  input: %s", merr.status, d, sq);
    }
    assert_null(merr.body);
}

/* The errors listed for path in an error body, or NULL. */
static json_t *errors_at(const json_t *body, const char *path)
{
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(body, "details"), i, d)
    {
        if (strcmp(json_string_value(json_object_get(d, "path")), path) == 0)
            return json_object_get(d, "errors");
    }
    return NULL;
}

/* Some error at path contains word. */
static void assert_detail(const struct cr_marathon_err *merr, const char *path, const char *word)
{
    json_t *errs = errors_at(merr->body, path);
    char *d = cr_json_dump(merr->body);
    if (!errs) {
        fail_msg("no error at %s in %s", path, d);
    }
    size_t i;
    json_t *e;
    json_array_foreach(errs, i, e)
    {
        if (strstr(json_string_value(e), word)) {
            free(d);
            return;
        }
    }
    fail_msg("no error at %s mentions '%s': %s", path, word, d);
}

static void parse_fails(const char *sq, int status, const char *path, const char *word)
{
    struct cr_app app;
    struct cr_marathon_err merr;
    cr_app_init(&app);
    cr_marathon_err_init(&merr);
    int rc = parse_sq(sq, NULL, NULL, &app, &merr);
    if (rc != -EINVAL)
        fail_msg("parse of %s succeeded", sq);
    if (merr.status != status)
        fail_msg("want status %d, got %d for %s", status, merr.status, sq);
    assert_string_equal(json_string_value(json_object_get(merr.body, "message")),
                        status == 400 ? "Invalid JSON" : "Object is not valid");
    assert_detail(&merr, path, word);
    assert_null(app.id); /* out is left empty */
    cr_marathon_err_release(&merr);
    cr_app_release(&app);
}

/* ---------------------------------------------------------------- ids */

static void test_app_id(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"web", "/web"},   {"/web", "/web"}, {"/a/b/", "/a/b"}, {"a/b-c/d.e", "/a/b-c/d.e"},
        {"/", NULL},       {"", NULL},       {"/a//b", NULL},   {"/Web", NULL},
        {"/a/../b", NULL}, {"/a/./b", NULL}, {"/a b", NULL},    {"//", NULL},
        {"/a_b", NULL},    {"/a/b//", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = cr_marathon_app_id(cases[i].in);
        if (!cases[i].want) {
            if (got)
                fail_msg("'%s' gave '%s', want invalid", cases[i].in, got);
        } else if (!got || strcmp(got, cases[i].want) != 0) {
            fail_msg("'%s' gave '%s', want '%s'", cases[i].in, got ? got : "NULL", cases[i].want);
        }
        free(got);
    }
    assert_null(cr_marathon_app_id(NULL));
}

/* ---------------------------------------------------------------- defaults */

static void test_minimal_defaults(void **state)
{
    (void)state;
    struct cr_app app;
    cr_app_init(&app);
    parse_ok("{'id':'web','cmd':'sleep 100'}", NULL, NULL, &app);
    assert_string_equal(app.id, "/web");
    assert_string_equal(app.cmd, "sleep 100");
    assert_null(app.args);
    assert_int_equal(app.cpus, 1000);
    assert_int_equal(app.mem, 128000);
    assert_int_equal(app.disk, 0);
    assert_int_equal(app.gpus, 0);
    assert_int_equal(app.instances, 1);
    /* Marathon's default: one port named "default", so $PORT0 exists */
    assert_int_equal(app.nports, 1);
    assert_int_equal(app.ports[0].port, 0);
    assert_string_equal(app.ports[0].name, "default");
    assert_int_equal(app.nhealth_checks, 0);
    assert_int_equal(app.nconstraints, 0);
    assert_null(app.role);
    assert_null(app.container_type);
    assert_null(app.version);
    assert_true(app.minimum_health_capacity == 1.0 && app.maximum_over_capacity == 1.0);
    assert_true(app.progress_deadline_s == 600);
    assert_true(app.backoff_s == 1 && app.backoff_factor == 1.15);
    assert_true(app.max_launch_delay_s == 300);
    assert_true(app.inactive_after_s == 5 && app.expunge_after_s == 60);
    assert_true(app.kill_grace_period_s == -1);
    assert_false(app.has_placement_label);

    /* GET shows every field with its default */
    json_t *j = cr_marathon_app_json(&app);
    assert_string_equal(json_string_value(json_object_get(j, "executor")), "");
    assert_int_equal(json_integer_value(json_object_get(j, "cpus")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "mem")), 128);
    assert_true(json_is_null(json_object_get(j, "container")));
    assert_true(json_is_array(json_object_get(j, "fetch")));
    assert_true(json_is_array(json_object_get(j, "storeUrls")));
    assert_true(json_is_array(json_object_get(j, "readinessChecks")));
    assert_true(json_is_array(json_object_get(j, "dependencies")));
    assert_true(json_is_object(json_object_get(j, "versionInfo")));
    assert_string_equal(json_string_value(json_object_get(j, "killSelection")), "YOUNGEST_FIRST");
    assert_string_equal(json_string_value(json_object_get(j, "role")), "*");
    assert_null(json_object_get(j, "taskKillGracePeriodSeconds"));
    json_t *us = json_object_get(j, "upgradeStrategy");
    assert_int_equal(json_integer_value(json_object_get(us, "progressDeadlineSeconds")), 600);
    json_t *nets = json_object_get(j, "networks");
    assert_string_equal(json_string_value(json_object_get(json_array_get(nets, 0), "mode")),
                        "host");
    json_t *ur = json_object_get(j, "unreachableStrategy");
    assert_int_equal(json_integer_value(json_object_get(ur, "expungeAfterSeconds")), 60);
    json_decref(j);
    cr_app_release(&app);
}

static void test_path_id_and_args(void **state)
{
    (void)state;
    struct cr_app app;
    cr_app_init(&app);
    parse_ok("{'args':['/bin/sleep','100'],'cpus':0.25,'mem':64.5}", "/grp/app", NULL, &app);
    assert_string_equal(app.id, "/grp/app");
    assert_null(app.cmd);
    assert_int_equal(app.nargs, 2);
    assert_string_equal(app.args[1], "100");
    assert_int_equal(app.cpus, 250);
    assert_int_equal(app.mem, 64500);
    /* a body id wins over the path id */
    parse_ok("{'id':'other','cmd':'x'}", "/grp/app", NULL, &app);
    assert_string_equal(app.id, "/other");
    cr_app_release(&app);
}

/* ---------------------------------------------------------------- errors */

static void test_type_errors(void **state)
{
    (void)state;
    parse_fails("{'id':'a','cmd':'x','cpus':'1'}", 400, "/cpus", "error.expected.jsnumber");
    parse_fails("{'id':5,'cmd':'x'}", 400, "/id", "error.expected.jsstring");
    parse_fails("{'id':'a','args':'x'}", 400, "/args", "error.expected.jsarray");
    parse_fails("{'id':'a','args':['x',1]}", 400, "/args/1", "error.expected.jsstring");
    parse_fails("{'id':'a','cmd':'x','env':[]}", 400, "/env", "error.expected.jsobject");
    parse_fails("{'id':'a','cmd':'x','env':{'A':1}}", 400, "/env/A", "error.expected.jsstring");
    parse_fails("{'id':'a','cmd':'x','requirePorts':'yes'}", 400, "/requirePorts",
                "error.expected.jsboolean");
    parse_fails("{'id':'a','cmd':'x','instances':1.5}", 400, "/instances", "error.expected.int");
    parse_fails("{'id':'a','cmd':'x','constraints':[['hostname',1]]}", 400, "/constraints/0/1",
                "error.expected.jsstring");
    parse_fails("{'id':'a','cmd':'x','healthChecks':[{'portIndex':'0'}]}", 400,
                "/healthChecks/0/portIndex", "error.expected.jsnumber");
    parse_fails("{'id':'a','cmd':'x','upgradeStrategy':{'minimumHealthCapacity':'1'}}", 400,
                "/upgradeStrategy/minimumHealthCapacity", "error.expected.jsnumber");
    parse_fails("{'id':'a','cmd':'x','labels':{'a/b':true}}", 400, "/labels/a~1b",
                "error.expected.jsstring");
    parse_fails("[1]", 400, "/", "error.expected.jsobject");
}

static void test_shape_errors_win_over_validation(void **state)
{
    (void)state;
    /* cpus -1 is a 422, but the type error makes the whole answer a 400 */
    struct cr_app app;
    struct cr_marathon_err merr;
    cr_app_init(&app);
    cr_marathon_err_init(&merr);
    assert_int_equal(parse_sq("{'id':'a','cmd':'x','cpus':-1,'mem':'x'}", NULL, NULL, &app, &merr),
                     -EINVAL);
    assert_int_equal(merr.status, 400);
    assert_detail(&merr, "/mem", "jsnumber");
    assert_null(errors_at(merr.body, "/cpus"));
    cr_marathon_err_release(&merr);
    cr_app_release(&app);
}

static void test_validation_rules(void **state)
{
    (void)state;
    static const struct {
        const char *json, *path, *word;
    } cases[] = {
        /* id */
        {"{'cmd':'x'}", "/id", "required"},
        {"{'id':'/','cmd':'x'}", "/id", "not a valid app id"},
        {"{'id':'/Bad_Id','cmd':'x'}", "/id", "not a valid app id"},
        /* cmd / args */
        {"{'id':'a'}", "/cmd", "one of cmd or args"},
        {"{'id':'a','cmd':'x','args':['y']}", "/cmd", "not both"},
        {"{'id':'a','cmd':''}", "/cmd", "empty"},
        /* amounts */
        {"{'id':'a','cmd':'x','cpus':-0.1}", "/cpus", "0 or more"},
        {"{'id':'a','cmd':'x','mem':-1}", "/mem", "0 or more"},
        {"{'id':'a','cmd':'x','disk':-1}", "/disk", "0 or more"},
        {"{'id':'a','cmd':'x','gpus':-1}", "/gpus", "0 or more"},
        {"{'id':'a','cmd':'x','instances':-1}", "/instances", "0 or more"},
        {"{'id':'a','cmd':'x','cpus':1e300}", "/cpus", "too large"},
        /* env and labels */
        {"{'id':'a','cmd':'x','env':{'PW':{'secret':'pw'}}}", "/env/PW",
         "secrets are not supported"},
        {"{'id':'a','cmd':'x','secrets':{'pw':{'source':'x'}}}", "/secrets", "not supported"},
        {"{'id':'a','cmd':'x','labels':{'corral.placement':'random'}}", "/labels/corral.placement",
         "spread or binpack"},
        /* constraints */
        {"{'id':'a','cmd':'x','constraints':[['hostname','unique']]}", "/constraints/0",
         "unknown constraint operator 'unique'"},
        {"{'id':'a','cmd':'x','constraints':[['hostname','NEAR']]}", "/constraints/0",
         "unknown constraint operator"},
        {"{'id':'a','cmd':'x','constraints':[['hostname']]}", "/constraints/0", "[field, OPERATOR"},
        {"{'id':'a','cmd':'x','constraints':[['a','UNIQUE'],['rack','LIKE']]}", "/constraints/1",
         "LIKE needs a regular expression"},
        {"{'id':'a','cmd':'x','constraints':[['rack','UNLIKE','r[']]}", "/constraints/0",
         "not a valid regular expression"},
        {"{'id':'a','cmd':'x','constraints':[['rack','IS']]}", "/constraints/0",
         "IS needs a value"},
        {"{'id':'a','cmd':'x','constraints':[['rack','MAX_PER']]}", "/constraints/0",
         "MAX_PER needs a positive integer"},
        {"{'id':'a','cmd':'x','constraints':[['rack','MAX_PER','0']]}", "/constraints/0",
         "MAX_PER needs a positive integer"},
        {"{'id':'a','cmd':'x','constraints':[['rack','GROUP_BY','two']]}", "/constraints/0",
         "GROUP_BY value 'two'"},
        {"{'id':'a','cmd':'x','constraints':[['hostname','UNIQUE','x']]}", "/constraints/0",
         "UNIQUE takes no value"},
        /* ports */
        {"{'id':'a','cmd':'x','portDefinitions':[{'port':70000}]}", "/portDefinitions/0/port",
         "0 to 65535"},
        {"{'id':'a','cmd':'x','portDefinitions':[{'port':1,'protocol':'sctp'}]}",
         "/portDefinitions/0/protocol", "tcp, udp or udp,tcp"},
        {"{'id':'a','cmd':'x','portDefinitions':[{'name':'http'},{'name':'http'}]}",
         "/portDefinitions/1/name", "used twice"},
        {"{'id':'a','cmd':'x','ports':[-1]}", "/ports/0", "0 to 65535"},
        {"{'id':'a','cmd':'x','ports':[1],'portDefinitions':[{'port':2}]}", "/ports", "not both"},
        {"{'id':'a','cmd':'x','ports':[8080, 0],'requirePorts':true}", "/requirePorts",
         "port 1 is 0"},
        /* health checks */
        {"{'id':'a','cmd':'x','healthChecks':[{'protocol':'GRPC'}]}", "/healthChecks/0/protocol",
         "unknown health check protocol"},
        {"{'id':'a','cmd':'x','healthChecks':[{'protocol':'COMMAND'}]}", "/healthChecks/0/command",
         "command.value"},
        {"{'id':'a','cmd':'x','portDefinitions':[],'healthChecks':[{'protocol':'MESOS_HTTP'}]}",
         "/healthChecks/0/portIndex", "out of range"},
        {"{'id':'a','cmd':'x','ports':[0],'healthChecks':[{'protocol':'TCP','portIndex':1}]}",
         "/healthChecks/0/portIndex", "has 1 port"},
        {"{'id':'a','cmd':'x','healthChecks':[{'protocol':'TCP','port':70000}]}",
         "/healthChecks/0/port", "1 to 65535"},
        {"{'id':'a','cmd':'x','ports':[0],'healthChecks':[{'path':'health'}]}",
         "/healthChecks/0/path", "start with '/'"},
        {"{'id':'a','cmd':'x','ports':[0],'healthChecks':[{'intervalSeconds':-1}]}",
         "/healthChecks/0/intervalSeconds", "0 or more"},
        {"{'id':'a','cmd':'x','ports':[0],'healthChecks':[{},{'protocol':'TCP'}]}", "/healthChecks",
         "one health check per app"},
        {"{'id':'a','cmd':'x','ports':[0],'healthChecks':[{'protocol':'MESOS_HTTPS'}]}",
         "/healthChecks/0/protocol", "not supported yet"},
        /* upgrade strategy */
        {"{'id':'a','cmd':'x','upgradeStrategy':{'minimumHealthCapacity':1.5}}",
         "/upgradeStrategy/minimumHealthCapacity", "is greater than 1"},
        {"{'id':'a','cmd':'x','upgradeStrategy':{'maximumOverCapacity':-0.5}}",
         "/upgradeStrategy/maximumOverCapacity", "is less than 0"},
        {"{'id':'a','cmd':'x','upgradeStrategy':{'minimumHealthCapacity':1,"
         "'maximumOverCapacity':0}}",
         "/upgradeStrategy", "rolling restart"},
        {"{'id':'a','cmd':'x','upgradeStrategy':{'progressDeadlineSeconds':0}}",
         "/upgradeStrategy/progressDeadlineSeconds", "more than 0"},
        /* backoff, unreachable, kill */
        {"{'id':'a','cmd':'x','backoffSeconds':-1}", "/backoffSeconds", "0 or more"},
        {"{'id':'a','cmd':'x','backoffFactor':0.5}", "/backoffFactor", "1 or more"},
        {"{'id':'a','cmd':'x','maxLaunchDelaySeconds':-1}", "/maxLaunchDelaySeconds", "0 or more"},
        {"{'id':'a','cmd':'x','unreachableStrategy':{'inactiveAfterSeconds':100,"
         "'expungeAfterSeconds':50}}",
         "/unreachableStrategy", "must not be greater than expungeAfterSeconds"},
        {"{'id':'a','cmd':'x','unreachableStrategy':{'inactiveAfterSeconds':-1}}",
         "/unreachableStrategy/inactiveAfterSeconds", "0 or more"},
        {"{'id':'a','cmd':'x','unreachableStrategy':'never'}", "/unreachableStrategy", "disabled"},
        {"{'id':'a','cmd':'x','killSelection':'RANDOM'}", "/killSelection", "YOUNGEST_FIRST"},
        {"{'id':'a','cmd':'x','taskKillGracePeriodSeconds':-2}", "/taskKillGracePeriodSeconds",
         "0 or more"},
        /* container */
        {"{'id':'a','container':{'docker':{'image':'nginx'}}}", "/container/docker/image",
         "container images are not supported yet"},
        {"{'id':'a','cmd':'x','container':{'type':'DOCKER'}}", "/container/docker/image",
         "needs docker.image"},
        {"{'id':'a','cmd':'x','container':{'type':'RKT'}}", "/container/type", "MESOS or DOCKER"},
        {"{'id':'a','cmd':'x','container':{'volumes':[{'containerPath':'d','mode':'RW'}]}}",
         "/container/volumes/0/hostPath", "required"},
        {"{'id':'a','cmd':'x','container':{'volumes':[{'hostPath':'/d','mode':'RW'}]}}",
         "/container/volumes/0/containerPath", "required"},
        {"{'id':'a','cmd':'x','container':{'volumes':[{'containerPath':'d','hostPath':'/d'}]}}",
         "/container/volumes/0/mode", "RO or RW"},
        {"{'id':'a','cmd':'x','container':{'volumes':[{'containerPath':'d','hostPath':'rel',"
         "'mode':'RO'}]}}",
         "/container/volumes/0/hostPath", "absolute"},
        {"{'id':'a','cmd':'x','container':{'volumes':[{'containerPath':'d','mode':'RW',"
         "'persistent':{'size':10}}]}}",
         "/container/volumes/0/persistent", "not supported yet"},
        {"{'id':'a','cmd':'x','container':{'volumes':[{'containerPath':'d','mode':'RW',"
         "'external':{'name':'v'}}]}}",
         "/container/volumes/0/external", "not supported yet"},
        {"{'id':'a','cmd':'x','container':{'type':'MESOS','portMappings':[{'containerPort':80}]}}",
         "/container/portMappings", "not supported yet"},
        /* networks, fetch, readiness, dependencies, executor, roles */
        {"{'id':'a','cmd':'x','networks':[{'mode':'container/bridge'}]}", "/networks/0/mode",
         "not supported yet"},
        {"{'id':'a','cmd':'x','fetch':[{'uri':'http://x/y'}]}", "/fetch",
         "fetching URIs is not supported yet"},
        {"{'id':'a','cmd':'x','uris':['http://x/y']}", "/uris", "fetching URIs is not supported"},
        {"{'id':'a','cmd':'x','readinessChecks':[{'name':'r'}]}", "/readinessChecks",
         "not supported yet"},
        {"{'id':'a','cmd':'x','dependencies':['/b']}", "/dependencies", "not supported yet"},
        {"{'id':'a','cmd':'x','executor':'/opt/my-executor'}", "/executor", "custom executors"},
        {"{'id':'a','cmd':'x','role':'-bad'}", "/role", "invalid role"},
        {"{'id':'a','cmd':'x','acceptedResourceRoles':['ok','a b']}", "/acceptedResourceRoles/1",
         "invalid role"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        parse_fails(cases[i].json, 422, cases[i].path, cases[i].word);
}

static void test_all_errors_listed(void **state)
{
    (void)state;
    struct cr_app app;
    struct cr_marathon_err merr;
    cr_app_init(&app);
    cr_marathon_err_init(&merr);
    int rc = parse_sq("{'id':'a','cmd':'x','cpus':-1,'mem':-2,'backoffFactor':0,"
                      "'upgradeStrategy':{'minimumHealthCapacity':2,'maximumOverCapacity':-1},"
                      "'constraints':[['h','NOPE'],['h','UNIQUE'],['h','IS']]}",
                      NULL, NULL, &app, &merr);
    assert_int_equal(rc, -EINVAL);
    assert_int_equal(merr.status, 422);
    assert_detail(&merr, "/cpus", "0 or more");
    assert_detail(&merr, "/mem", "0 or more");
    assert_detail(&merr, "/backoffFactor", "1 or more");
    assert_detail(&merr, "/upgradeStrategy/minimumHealthCapacity", "is greater than 1");
    assert_detail(&merr, "/upgradeStrategy/maximumOverCapacity", "is less than 0");
    assert_detail(&merr, "/constraints/0", "NOPE");
    assert_detail(&merr, "/constraints/2", "IS needs a value");
    assert_null(errors_at(merr.body, "/constraints/1"));
    assert_int_equal(json_array_size(json_object_get(merr.body, "details")), 7);
    /* two problems on one path are grouped under it */
    cr_marathon_err_release(&merr);
    rc = parse_sq("{'id':'a','cmd':'x','ports':[0,0],"
                  "'healthChecks':[{'protocol':'HTTP','intervalSeconds':-1,'timeoutSeconds':-1},"
                  "{'protocol':'TCP'}]}",
                  NULL, NULL, &app, &merr);
    assert_int_equal(rc, -EINVAL);
    assert_detail(&merr, "/healthChecks/0/intervalSeconds", "0 or more");
    assert_detail(&merr, "/healthChecks/0/timeoutSeconds", "0 or more");
    assert_detail(&merr, "/healthChecks", "one health check");
    cr_marathon_err_release(&merr);
    rc = parse_sq("{'id':'a','env':{'A':{'secret':'s'},'B':{'secret':'t'}}}", NULL, NULL, &app,
                  &merr);
    assert_int_equal(rc, -EINVAL);
    assert_detail(&merr, "/env/A", "secrets");
    assert_detail(&merr, "/env/B", "secrets");
    assert_detail(&merr, "/cmd", "one of cmd or args");
    cr_marathon_err_release(&merr);
    cr_marathon_err_release(&merr); /* twice is harmless */
    cr_app_release(&app);
}

/* ---------------------------------------------------------------- accepted forms */

static void test_accepted_forms(void **state)
{
    (void)state;
    struct cr_app app;
    cr_app_init(&app);
    parse_ok("{'id':'a','cmd':'x','unknownField':{'x':1},'cpus':null,"
             "'constraints':[['@hostname','UNIQUE'],['rack','GROUP_BY'],['rack','GROUP_BY','3'],"
             "['rack','LIKE','r[0-9]+'],['rack','CLUSTER'],['rack','MAX_PER','2']],"
             "'networks':[{'mode':'host'}],'executor':'//cmd','fetch':[],'dependencies':[],"
             "'labels':{'corral.placement':'spread','team':'a'},'unreachableStrategy':'disabled',"
             "'killSelection':'OLDEST_FIRST','role':'*','container':{'type':'MESOS',"
             "'docker':{'network':'HOST'},'volumes':[{'containerPath':'d','hostPath':'/srv',"
             "'mode':'RO'}]}}",
             NULL, NULL, &app);
    assert_int_equal(app.cpus, 1000); /* null = absent */
    assert_int_equal(app.nconstraints, 6);
    assert_string_equal(app.constraints[0].field, "hostname");
    assert_int_equal(app.constraints[0].op, CR_PLACE_UNIQUE);
    assert_null(app.constraints[1].value);
    assert_string_equal(app.constraints[2].value, "3");
    assert_int_equal(app.constraints[3].op, CR_PLACE_LIKE);
    assert_int_equal(app.constraints[5].op, CR_PLACE_MAX_PER);
    assert_true(app.has_placement_label);
    assert_int_equal(app.placement, CR_PLACE_SPREAD);
    assert_true(app.unreachable_disabled);
    assert_int_equal(app.kill_selection, CR_APP_KILL_OLDEST_FIRST);
    assert_null(app.role);
    assert_string_equal(app.container_type, "MESOS");
    assert_int_equal(app.nvolumes, 1);
    assert_true(app.volumes[0].is_read_only);
    /* legacy ports */
    parse_ok("{'id':'a','cmd':'x','ports':[0,8080],'labels':{'corral.placement':'binpack'}}", NULL,
             NULL, &app);
    assert_int_equal(app.nports, 2);
    assert_int_equal(app.ports[1].port, 8080);
    assert_string_equal(app.ports[1].protocol, "tcp");
    assert_null(app.ports[1].name);
    assert_int_equal(app.placement, CR_PLACE_BINPACK);
    assert_true(app.has_placement_label);
    /* env is kept sorted by name: the same map in another order is the same config */
    struct cr_app other;
    cr_app_init(&other);
    parse_ok("{'id':'a','cmd':'x','ports':[0,8080],'labels':{'corral.placement':'binpack'},"
             "'env':{'B':'2','A':'1'}}",
             NULL, NULL, &app);
    parse_ok("{'id':'a','cmd':'x','ports':[0,8080],'labels':{'corral.placement':'binpack'},"
             "'env':{'A':'1','B':'2'}}",
             NULL, NULL, &other);
    assert_string_equal(app.env[0].name, "A");
    assert_true(cr_app_same_config(&app, &other));
    cr_app_release(&other);
    cr_app_release(&app);
}

/* ---------------------------------------------------------------- partial update */

static void test_partial_update(void **state)
{
    (void)state;
    struct cr_app base, app;
    cr_app_init(&base);
    cr_app_init(&app);
    parse_ok("{'id':'/web','cmd':'run','cpus':0.5,'instances':3,'env':{'A':'1'},"
             "'ports':[0],'healthChecks':[{'protocol':'MESOS_TCP'}],"
             "'upgradeStrategy':{'minimumHealthCapacity':0.5,'maximumOverCapacity':0.25},"
             "'labels':{'corral.placement':'spread'}}",
             NULL, NULL, &base);
    base.version = cr_xstrdup("2026-01-01T00:00:00.000Z");

    /* instances only: every other field kept, same config */
    parse_ok("{'instances':5}", "/web", &base, &app);
    assert_int_equal(app.instances, 5);
    assert_string_equal(app.cmd, "run");
    assert_int_equal(app.cpus, 500);
    assert_int_equal(app.nenv, 1);
    assert_int_equal(app.nhealth_checks, 1);
    assert_true(app.minimum_health_capacity == 0.5);
    assert_true(app.has_placement_label);
    assert_string_equal(app.version, "2026-01-01T00:00:00.000Z");
    assert_true(cr_app_same_config(&base, &app));

    /* a changed field replaces; a nested object is replaced as a whole */
    parse_ok("{'env':{'B':'2'},'upgradeStrategy':{'minimumHealthCapacity':0.75}}", "/web", &base,
             &app);
    assert_int_equal(app.nenv, 1);
    assert_string_equal(app.env[0].name, "B");
    assert_true(app.minimum_health_capacity == 0.75);
    assert_true(app.maximum_over_capacity == 1.0);
    assert_int_equal(app.instances, 3);
    assert_false(cr_app_same_config(&base, &app));

    /* switching the command form drops the other one */
    parse_ok("{'args':['/bin/true']}", NULL, &base, &app);
    assert_string_equal(app.id, "/web");
    assert_null(app.cmd);
    assert_int_equal(app.nargs, 1);

    /* a partial update is validated as a whole: the base has one port */
    struct cr_marathon_err merr;
    cr_marathon_err_init(&merr);
    assert_int_equal(parse_sq("{'ports':[]}", "/web", &base, &app, &merr), -EINVAL);
    assert_int_equal(merr.status, 422);
    assert_detail(&merr, "/healthChecks/0/portIndex", "out of range");
    cr_marathon_err_release(&merr);

    /* container null removes it */
    struct cr_app with_vol;
    cr_app_init(&with_vol);
    parse_ok("{'container':{'volumes':[{'containerPath':'d','hostPath':'/x','mode':'RW'}]}}", NULL,
             &base, &with_vol);
    assert_int_equal(with_vol.nvolumes, 1);
    parse_ok("{'container':null}", NULL, &with_vol, &app);
    assert_int_equal(app.nvolumes, 0);
    assert_null(app.container_type);
    cr_app_release(&with_vol);
    cr_app_release(&base);
    cr_app_release(&app);
}

/* ---------------------------------------------------------------- round trip */

static const char *FULL_APP =
    "{'id':'/prod/web','args':['/usr/bin/python3','-m','http.server'],'user':'nobody',"
    "'env':{'MODE':'demo','Z':'last'},'instances':4,'cpus':0.2,'mem':64,'disk':10.5,'gpus':1,"
    "'constraints':[['hostname','UNIQUE'],['rack','GROUP_BY','2'],['rack','LIKE','r[12]'],"
    "['zone','IS','a']],"
    "'portDefinitions':[{'port':0,'name':'http','labels':{'vip':'x'}},"
    "{'port':9000,'protocol':'udp,tcp','name':'admin'}],"
    "'healthChecks':[{'protocol':'MESOS_HTTP','path':'/health','portIndex':1,"
    "'gracePeriodSeconds':30,'intervalSeconds':10,'timeoutSeconds':5.5,'delaySeconds':2,"
    "'maxConsecutiveFailures':4,'ignoreHttp1xx':true}],"
    "'upgradeStrategy':{'minimumHealthCapacity':0.5,'maximumOverCapacity':0.25,"
    "'progressDeadlineSeconds':120},"
    "'backoffSeconds':2,'backoffFactor':1.5,'maxLaunchDelaySeconds':60,"
    "'unreachableStrategy':{'inactiveAfterSeconds':10,'expungeAfterSeconds':20},"
    "'killSelection':'OLDEST_FIRST','taskKillGracePeriodSeconds':7,"
    "'labels':{'team':'a','corral.placement':'spread'},"
    "'acceptedResourceRoles':['*','web'],'role':'web',"
    "'container':{'type':'MESOS','volumes':[{'containerPath':'data','hostPath':'/srv/data',"
    "'mode':'RW'},{'containerPath':'conf','hostPath':'/etc/web','mode':'RO'}]},"
    "'version':'ignored','versionInfo':{'lastScalingAt':'ignored'}}";

static void test_round_trip(void **state)
{
    (void)state;
    struct cr_app a, b, c;
    cr_app_init(&a);
    cr_app_init(&b);
    cr_app_init(&c);
    parse_ok(FULL_APP, NULL, NULL, &a);
    assert_null(a.version); /* never taken from input */
    assert_null(a.last_scaling_at);
    assert_int_equal(a.gpus, 1000);
    assert_int_equal(a.disk, 10500);
    assert_int_equal(a.nports, 2);
    assert_int_equal(a.health_checks[0].port_index, 1);
    assert_true(a.health_checks[0].timeout_s == 5.5);
    assert_int_equal(a.nvolumes, 2);
    assert_int_equal(a.naccepted_roles, 2);

    json_t *j = cr_marathon_app_json(&a);
    char *text = cr_json_dump(j);
    assert_wire_safe(text);
    parse_ok(text, NULL, NULL, &b); /* text has double quotes already: load() keeps them */
    assert_true(cr_app_same_config(&a, &b));
    assert_int_equal(a.instances, b.instances);
    /* and once more through a copy */
    cr_app_copy(&c, &b);
    assert_true(cr_app_same_config(&a, &c));
    /* the JSON of the reparsed app is byte for byte the same */
    json_t *j2 = cr_marathon_app_json(&c);
    char *text2 = cr_json_dump(j2);
    assert_string_equal(text, text2);
    free(text);
    free(text2);
    json_decref(j);
    json_decref(j2);

    /* versions are the server's: they survive a partial update and show in the JSON */
    a.version = cr_xstrdup("2026-05-01T12:00:00.123Z");
    a.last_scaling_at = cr_xstrdup("2026-05-01T12:00:00.123Z");
    a.last_config_change_at = cr_xstrdup("2026-04-01T12:00:00.123Z");
    j = cr_marathon_app_json(&a);
    assert_string_equal(json_string_value(json_object_get(j, "version")),
                        "2026-05-01T12:00:00.123Z");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "versionInfo"), "lastConfigChangeAt")),
        "2026-04-01T12:00:00.123Z");
    assert_int_equal(json_integer_value(json_object_get(j, "taskKillGracePeriodSeconds")), 7);
    json_decref(j);

    /* the disabled unreachable strategy and a cmd app round-trip too */
    parse_ok(
        "{'id':'x','cmd':'sleep 1','unreachableStrategy':'disabled','ports':[80],"
        "'requirePorts':true,'healthChecks':[{'protocol':'COMMAND','command':{'value':'true'}}]}",
        NULL, NULL, &a);
    j = cr_marathon_app_json(&a);
    text = cr_json_dump(j);
    parse_ok(text, NULL, NULL, &b);
    assert_true(cr_app_same_config(&a, &b));
    assert_true(b.unreachable_disabled);
    assert_true(b.require_ports);
    assert_string_equal(b.health_checks[0].command, "true");
    free(text);
    json_decref(j);
    cr_app_release(&a);
    cr_app_release(&b);
    cr_app_release(&c);
}

/* ---------------------------------------------------------------- TaskInfo */

static const char *env_get(const struct cr_task_info *t, const char *name)
{
    for (size_t i = 0; i < t->command.nenv; i++)
        if (strcmp(t->command.env[i].name, name) == 0)
            return t->command.env[i].value;
    return NULL;
}

/* t goes through JSON and back through the master's parser, which validates it. */
static void assert_agent_accepts(const struct cr_task_info *t)
{
    json_t *j = cr_json_task_info(t, NULL);
    struct cr_task_info back;
    struct cr_err err;
    cr_err_clear(&err);
    if (cr_parse_task_info(j, "task_info", &back, &err) < 0) {
        char *d = cr_json_dump(j);
        fail_msg("agent side refuses the task: %s\n%s", err.msg, d);
    }
    assert_int_equal(cr_task_info_validate(&back, &err), 0);
    assert_true(cr_resources_equal(&back.resources, &t->resources));
    cr_task_info_release(&back);
    json_decref(j);
}

static void test_task_info_cmd(void **state)
{
    (void)state;
    struct cr_app app;
    cr_app_init(&app);
    parse_ok("{'id':'/prod/web','cmd':'python3 -m http.server $PORT0','cpus':0.2,'mem':64,"
             "'disk':0,'user':'nobody','env':{'MODE':'demo','PORT':'override'},"
             "'labels':{'team':'a','tier-name':'front','corral.placement':'spread'},"
             "'portDefinitions':[{'port':0,'name':'http'},{'port':0,'name':'admin-ui'},"
             "{'port':0}],'taskKillGracePeriodSeconds':2.5}",
             NULL, NULL, &app);
    app.version = cr_xstrdup("2026-05-01T12:00:00.123Z");
    uint64_t host_ports[] = {31001, 31002, 31005};
    struct cr_marathon_launch l = {.task_id = "prod_web.1234",
                                   .agent_id = "S1",
                                   .hostname = "node1",
                                   .role = "web",
                                   .host_ports = host_ports,
                                   .nhost_ports = 3};
    struct cr_task_info t;
    struct cr_err err;
    cr_task_info_init(&t);
    assert_int_equal(cr_marathon_task_info(&app, &l, &t, &err), 0);
    assert_string_equal(t.name, "web.prod");
    assert_string_equal(t.task_id, "prod_web.1234");
    assert_string_equal(t.agent_id, "S1");
    assert_true(t.has_command);
    assert_true(t.command.shell);
    assert_string_equal(t.command.value, "python3 -m http.server $PORT0");
    assert_string_equal(t.command.user, "nobody");
    assert_int_equal(t.kill_grace_ms, 2500);

    /* resources: all in the launch role; disk 0 left out; ports exactly the host ports */
    char *res = cr_resources_to_string(&t.resources);
    assert_string_equal(res, "cpus(web):0.2;mem(web):64;ports(web):[31001-31002,31005-31005]");
    free(res);

    assert_string_equal(env_get(&t, "PORT0"), "31001");
    assert_string_equal(env_get(&t, "PORT1"), "31002");
    assert_string_equal(env_get(&t, "PORT2"), "31005");
    assert_string_equal(env_get(&t, "PORTS"), "31001,31002,31005");
    assert_string_equal(env_get(&t, "PORT"), "override"); /* the app's env wins */
    assert_string_equal(env_get(&t, "PORT_HTTP"), "31001");
    assert_string_equal(env_get(&t, "PORT_ADMIN_UI"), "31002");
    assert_string_equal(env_get(&t, "HOST"), "node1");
    assert_string_equal(env_get(&t, "MODE"), "demo");
    assert_string_equal(env_get(&t, "MARATHON_APP_ID"), "/prod/web");
    assert_string_equal(env_get(&t, "MARATHON_APP_VERSION"), "2026-05-01T12:00:00.123Z");
    assert_string_equal(env_get(&t, "MARATHON_APP_RESOURCE_CPUS"), "0.2");
    assert_string_equal(env_get(&t, "MARATHON_APP_RESOURCE_MEM"), "64.0");
    assert_string_equal(env_get(&t, "MARATHON_APP_RESOURCE_DISK"), "0.0");
    assert_string_equal(env_get(&t, "MARATHON_APP_LABEL_TEAM"), "a");
    assert_string_equal(env_get(&t, "MARATHON_APP_LABEL_TIER_NAME"), "front");
    assert_string_equal(env_get(&t, "MARATHON_APP_LABEL_CORRAL_PLACEMENT"), "spread");
    assert_string_equal(env_get(&t, "MARATHON_APP_LABELS"), "CORRAL_PLACEMENT TEAM TIER_NAME");
    assert_string_equal(env_get(&t, "MESOS_TASK_ID"), "prod_web.1234");
    size_t nports_env = 0;
    for (size_t i = 0; i < t.command.nenv; i++)
        if (strcmp(t.command.env[i].name, "PORT") == 0)
            nports_env++;
    assert_int_equal(nports_env, 1);

    /* labels as Mesos Labels; no container without volumes; no health check */
    json_t *labels = json_object_get(json_object_get(t.extra, "labels"), "labels");
    assert_int_equal(json_array_size(labels), 3);
    assert_null(json_object_get(t.extra, "container"));
    assert_null(json_object_get(t.extra, "health_check"));
    assert_agent_accepts(&t);
    cr_task_info_release(&t);
    cr_app_release(&app);
}

static void test_task_info_args_and_volumes(void **state)
{
    (void)state;
    struct cr_app app;
    cr_app_init(&app);
    parse_ok("{'id':'/batch','args':['/bin/echo','hi there'],'cpus':1,'mem':32,'disk':100,"
             "'portDefinitions':[],"
             "'container':{'type':'MESOS','volumes':[{'containerPath':'/data',"
             "'hostPath':'/srv/data','mode':'RO'},{'containerPath':'scratch',"
             "'hostPath':'/tmp/s','mode':'RW'}]}}",
             NULL, NULL, &app);
    struct cr_marathon_launch l = {.task_id = "batch.1", .agent_id = "S2", .hostname = "n2"};
    struct cr_task_info t;
    struct cr_err err;
    cr_task_info_init(&t);
    assert_int_equal(cr_marathon_task_info(&app, &l, &t, &err), 0);
    assert_string_equal(t.name, "batch");
    assert_false(t.command.shell);
    assert_string_equal(t.command.value, "/bin/echo");
    assert_int_equal(t.command.narguments, 2);
    assert_string_equal(t.command.arguments[0], "/bin/echo");
    assert_string_equal(t.command.arguments[1], "hi there");
    assert_int_equal(t.kill_grace_ms, -1);
    assert_null(env_get(&t, "PORT"));
    assert_null(env_get(&t, "PORTS"));
    assert_string_equal(env_get(&t, "MARATHON_APP_LABELS"), "");
    char *res = cr_resources_to_string(&t.resources);
    assert_string_equal(res, "cpus:1;disk:100;mem:32");
    free(res);
    expect_json(json_incref(json_object_get(t.extra, "container")),
                "{'type':'MESOS','volumes':[{'container_path':'/data','host_path':'/srv/data',"
                "'mode':'RO'},{'container_path':'scratch','host_path':'/tmp/s','mode':'RW'}]}");
    assert_agent_accepts(&t);

    /* the executor reads the same volumes */
    struct cr_container_spec_ext spec;
    memset(&spec, 0, sizeof(spec));
    assert_int_equal(cr_container_spec_parse(&t, &spec, &err), 0);
    assert_int_equal(spec.nvolumes, 2);
    assert_string_equal(spec.volumes[0].host_path, "/srv/data");
    assert_string_equal(spec.volumes[0].container_path, "/data");
    assert_true(spec.volumes[0].read_only);
    assert_false(spec.volumes[1].read_only);
    cr_container_spec_ext_release(&spec);
    cr_task_info_release(&t);
    cr_app_release(&app);
}

/* The health check as JSON, and what the executor makes of it. */
static void check_health(const char *app_sq, const uint64_t *ports, size_t nports,
                         const char *want_sq, enum cr_health_type want_type, unsigned want_port)
{
    struct cr_app app;
    cr_app_init(&app);
    parse_ok(app_sq, NULL, NULL, &app);
    struct cr_marathon_launch l = {.task_id = "hc.1",
                                   .agent_id = "S1",
                                   .hostname = "h",
                                   .host_ports = ports,
                                   .nhost_ports = nports};
    struct cr_task_info t;
    struct cr_err err;
    cr_task_info_init(&t);
    if (cr_marathon_task_info(&app, &l, &t, &err) < 0)
        fail_msg("task info: %s", err.msg);
    json_t *hc = json_object_get(t.extra, "health_check");
    assert_non_null(hc);
    expect_json(json_incref(hc), want_sq);
    assert_agent_accepts(&t);
    struct cr_health_spec spec;
    if (cr_health_parse(hc, &spec, &err) < 0)
        fail_msg("the executor refuses the health check: %s", err.msg);
    assert_int_equal(spec.type, want_type);
    if (want_port)
        assert_int_equal(spec.port, want_port);
    cr_health_spec_release(&spec);
    cr_task_info_release(&t);
    cr_app_release(&app);
}

static void test_task_info_health_checks(void **state)
{
    (void)state;
    uint64_t two[] = {31000, 31007};
    check_health("{'id':'a','cmd':'x','ports':[0,0],'healthChecks':[{'protocol':'MESOS_HTTP',"
                 "'path':'/ok','portIndex':1,'gracePeriodSeconds':30,'intervalSeconds':10,"
                 "'timeoutSeconds':5,'maxConsecutiveFailures':3}]}",
                 two, 2,
                 "{'type':'HTTP','http':{'port':31007,'path':'/ok','scheme':'http'},"
                 "'delay_seconds':15.0,'interval_seconds':10.0,'timeout_seconds':5.0,"
                 "'consecutive_failures':3,'grace_period_seconds':30.0}",
                 CR_HEALTH_HTTP, 31007);
    /* Marathon-level HTTP: run by the executor too; default path "/" */
    check_health("{'id':'a','cmd':'x','ports':[0],'healthChecks':[{}]}", two, 1,
                 "{'type':'HTTP','http':{'port':31000,'path':'/','scheme':'http'},"
                 "'delay_seconds':15.0,'interval_seconds':60.0,'timeout_seconds':20.0,"
                 "'consecutive_failures':3,'grace_period_seconds':300.0}",
                 CR_HEALTH_HTTP, 31000);
    /* explicit port wins over portIndex, and needs no app port */
    check_health("{'id':'a','cmd':'x','ports':[],'healthChecks':[{'protocol':'TCP','port':8080,"
                 "'delaySeconds':1}]}",
                 NULL, 0,
                 "{'type':'TCP','tcp':{'port':8080},'delay_seconds':1.0,'interval_seconds':60.0,"
                 "'timeout_seconds':20.0,'consecutive_failures':3,'grace_period_seconds':300.0}",
                 CR_HEALTH_TCP, 8080);
    check_health("{'id':'a','cmd':'x','ports':[0,0],'healthChecks':[{'protocol':'MESOS_TCP',"
                 "'portIndex':1}]}",
                 two, 2,
                 "{'type':'TCP','tcp':{'port':31007},'delay_seconds':15.0,"
                 "'interval_seconds':60.0,'timeout_seconds':20.0,'consecutive_failures':3,"
                 "'grace_period_seconds':300.0}",
                 CR_HEALTH_TCP, 31007);
    check_health("{'id':'a','cmd':'x','ports':[],'healthChecks':[{'protocol':'COMMAND',"
                 "'command':{'value':'test -f /tmp/ok'},'maxConsecutiveFailures':0}]}",
                 NULL, 0,
                 "{'type':'COMMAND','command':{'shell':true,'value':'test -f /tmp/ok'},"
                 "'delay_seconds':15.0,'interval_seconds':60.0,'timeout_seconds':20.0,"
                 "'consecutive_failures':0,'grace_period_seconds':300.0}",
                 CR_HEALTH_COMMAND, 0);
    /* Marathon-level 0 = never kill; the executor kills at the threshold, so it gets the max */
    check_health("{'id':'a','cmd':'x','ports':[0],'healthChecks':[{'protocol':'TCP',"
                 "'maxConsecutiveFailures':0}]}",
                 two, 1,
                 "{'type':'TCP','tcp':{'port':31000},'delay_seconds':15.0,"
                 "'interval_seconds':60.0,'timeout_seconds':20.0,"
                 "'consecutive_failures':4294967295,'grace_period_seconds':300.0}",
                 CR_HEALTH_TCP, 31000);
}

static void test_task_info_errors(void **state)
{
    (void)state;
    struct cr_app app;
    cr_app_init(&app);
    parse_ok("{'id':'/a','cmd':'x','ports':[0,0]}", NULL, NULL, &app);
    uint64_t one[] = {31000};
    struct cr_marathon_launch l = {
        .task_id = "a.1", .agent_id = "S1", .hostname = "h", .host_ports = one, .nhost_ports = 1};
    struct cr_task_info t;
    struct cr_err err;
    cr_task_info_init(&t);
    assert_int_equal(cr_marathon_task_info(&app, &l, &t, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "2 port(s) but 1 host port(s)"));
    assert_null(t.name);

    /* requirePorts: the host port must be the declared one */
    parse_ok("{'id':'/a','cmd':'x','ports':[8080],'requirePorts':true}", NULL, NULL, &app);
    assert_int_equal(cr_marathon_task_info(&app, &l, &t, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "requires port 8080"));
    uint64_t right[] = {8080};
    l.host_ports = right;
    assert_int_equal(cr_marathon_task_info(&app, &l, &t, &err), 0);
    assert_string_equal(env_get(&t, "PORT0"), "8080");

    /* a task id the agent would refuse */
    l.task_id = "a/1";
    assert_int_equal(cr_marathon_task_info(&app, &l, &t, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "invalid task id"));
    cr_task_info_release(&t);
    cr_app_release(&app);
}

/* ---------------------------------------------------------------- robustness */

/* A value of a random JSON type (a small deterministic generator, seeded per case). */
static json_t *random_value(unsigned *seed)
{
    switch (rand_r(seed) % 9) {
    case 0:
        return json_null();
    case 1:
        return json_integer((json_int_t)(rand_r(seed) % 200000) - 100000);
    case 2:
        return json_real((double)(rand_r(seed) % 2000) / 7.0 - 100.0);
    case 3:
        return json_string("");
    case 4:
        return json_string("UNIQUE");
    case 5:
        return json_true();
    case 6:
        return json_pack("[s,s]", "hostname", "LIKE");
    case 7:
        return json_pack("{s:i,s:s}", "port", rand_r(seed) % 70000, "protocol", "MESOS_TCP");
    default:
        return json_array();
    }
}

/* Replace one random member somewhere in j (objects and arrays, up to two levels down). */
static void mutate(json_t *j, unsigned *seed)
{
    for (int depth = 0; depth < 3; depth++) {
        size_t n = json_is_object(j) ? json_object_size(j) : json_array_size(j);
        if (n == 0)
            break;
        size_t k = (size_t)rand_r(seed) % n;
        json_t *child;
        const char *key = NULL;
        if (json_is_object(j)) {
            void *it = json_object_iter(j);
            for (size_t i = 0; i < k; i++)
                it = json_object_iter_next(j, it);
            key = json_object_iter_key(it);
            child = json_object_iter_value(it);
        } else {
            child = json_array_get(j, k);
        }
        if ((json_is_object(child) || json_is_array(child)) && rand_r(seed) % 2) {
            j = child;
            continue;
        }
        if (key)
            json_object_set_new(j, key, random_value(seed));
        else
            json_array_set_new(j, k, random_value(seed));
        return;
    }
}

/*
 * Seeded random damage to a full app: every outcome is either an app that survives the
 * JSON round trip (and builds a task or refuses with a message), or a 400/422 with details.
 */
static void test_random_mutations(void **state)
{
    (void)state;
    json_t *full = load(FULL_APP);
    uint64_t ports[] = {31000, 31001};
    size_t accepted = 0, refused = 0;
    for (unsigned round = 0; round < 3000; round++) {
        unsigned seed = round * 2654435761u + 1;
        json_t *j = json_deep_copy(full);
        int nmut = 1 + (int)(rand_r(&seed) % 3);
        for (int m = 0; m < nmut; m++)
            mutate(j, &seed);
        struct cr_app app, back;
        struct cr_marathon_err merr;
        cr_app_init(&app);
        cr_app_init(&back);
        cr_marathon_err_init(&merr);
        if (cr_marathon_parse_app(j, "/fallback", NULL, &app, &merr) < 0) {
            assert_true(merr.status == 400 || merr.status == 422);
            assert_true(json_array_size(json_object_get(merr.body, "details")) > 0);
            refused++;
        } else {
            accepted++;
            json_t *out = cr_marathon_app_json(&app);
            if (cr_marathon_parse_app(out, NULL, NULL, &back, &merr) < 0) {
                char *d = cr_json_dump(merr.body);
                fail_msg("round %u: the JSON of an accepted app is refused: %s", round, d);
            }
            assert_true(cr_app_same_config(&app, &back));
            json_decref(out);
            struct cr_marathon_launch l = {.task_id = "t.1",
                                           .agent_id = "S1",
                                           .hostname = "h",
                                           .host_ports = ports,
                                           .nhost_ports = app.nports};
            struct cr_task_info t;
            struct cr_err err;
            cr_task_info_init(&t);
            cr_err_clear(&err);
            if (app.nports <= 2 && cr_marathon_task_info(&app, &l, &t, &err) == 0)
                assert_agent_accepts(&t);
            cr_task_info_release(&t);
        }
        cr_marathon_err_release(&merr);
        cr_app_release(&app);
        cr_app_release(&back);
        json_decref(j);
    }
    assert_true(accepted > 0 && refused > 0);
    json_decref(full);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_app_id),
        cmocka_unit_test(test_minimal_defaults),
        cmocka_unit_test(test_path_id_and_args),
        cmocka_unit_test(test_type_errors),
        cmocka_unit_test(test_shape_errors_win_over_validation),
        cmocka_unit_test(test_validation_rules),
        cmocka_unit_test(test_all_errors_listed),
        cmocka_unit_test(test_accepted_forms),
        cmocka_unit_test(test_partial_update),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_task_info_cmd),
        cmocka_unit_test(test_task_info_args_and_volumes),
        cmocka_unit_test(test_task_info_health_checks),
        cmocka_unit_test(test_task_info_errors),
        cmocka_unit_test(test_random_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
