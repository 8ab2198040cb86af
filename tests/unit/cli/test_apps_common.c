/*
 * test_apps_common.c - the pure helpers of the app verbs (src/cli/apps_common.c): app ids
 * and short instance names, `corral run`'s flags -> App JSON, the Server-Sent Events
 * reader (split frames, CRLF/LF/CR, heartbeats, comments, bytes arriving one at a time),
 * the `corral apps` table, `corral why`, API error text, prefixed log lines of several
 * instances, and deployment progress from events and polled deployments.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cli/apps_common.h"

/* ---- helpers ---- */

struct capture {
    char *text;
    size_t len;
    FILE *f;
};

static void capture_open(struct capture *c)
{
    c->text = NULL;
    c->len = 0;
    c->f = open_memstream(&c->text, &c->len);
    assert_non_null(c->f);
}

/* Close and return the text (owned by c until capture_free). */
static const char *capture_close(struct capture *c)
{
    fclose(c->f);
    c->f = NULL;
    return c->text;
}

static void capture_free(struct capture *c)
{
    free(c->text);
    c->text = NULL;
}

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("bad test JSON: %s: %s", e.text, text);
    return j;
}

/* Is a equal to the JSON text b? */
static void assert_json_eq(const json_t *a, const char *b)
{
    json_t *jb = parse(b);
    if (!json_equal((json_t *)a, jb)) {
        char *ta = json_dumps(a, JSON_SORT_KEYS | JSON_COMPACT);
        char *tb = json_dumps(jb, JSON_SORT_KEYS | JSON_COMPACT);
        fail_msg("JSON differs:\n got  %s\n want %s", ta, tb);
    }
    json_decref(jb);
}

/* ---- ids ---- */

static void test_ids(void **state)
{
    (void)state;
    char *id = cr_apps_id("web");
    assert_string_equal(id, "/web");
    free(id);
    id = cr_apps_id("/a/b/");
    assert_string_equal(id, "/a/b");
    free(id);
    id = cr_apps_id("a/b");
    assert_string_equal(id, "/a/b");
    free(id);
    assert_string_equal(cr_apps_display_id("/a/web"), "a/web");
    assert_string_equal(cr_apps_display_id("/"), "/");

    char buf[64];
    cr_apps_short_task("web.3f2a9c1e-1111-2222-3333-444455556666", "/web", buf, sizeof(buf));
    assert_string_equal(buf, "web.3f2a");
    cr_apps_short_task("grp_web.instance-9b8c7d6e-0000._app.1", "/grp/web", buf, sizeof(buf));
    assert_string_equal(buf, "web.9b8c");
    cr_apps_short_task("other.1234", "/web", buf, sizeof(buf));
    assert_string_equal(buf, "other.1234");
    cr_apps_short_task("exec-12ab", NULL, buf, sizeof(buf));
    assert_string_equal(buf, "exec-12ab");
    cr_apps_short_task(NULL, "/web", buf, sizeof(buf));
    assert_string_equal(buf, "-");
}

/* ---- corral run: flags -> App JSON ---- */

static void test_build_minimal(void **state)
{
    (void)state;
    const char *argv[] = {"python3 -m http.server $PORT0"};
    struct cr_apps_run_spec spec = {
        .name = "web", .instances = 3, .cpus = 0.1, .mem = 64, .disk = 0, .argv = argv, .argc = 1};
    json_t *app = NULL;
    struct cr_err err = {0};
    assert_int_equal(cr_apps_build_app(&spec, &app, &err), 0);
    assert_json_eq(app, "{\"id\":\"/web\",\"cmd\":\"python3 -m http.server $PORT0\","
                        "\"instances\":3,\"cpus\":0.1,\"mem\":64.0,\"disk\":0.0,"
                        "\"portDefinitions\":[]}");
    json_decref(app);
}

static void test_build_full(void **state)
{
    (void)state;
    const char *argv[] = {"/bin/sleep", "1000"};
    const char *ports[] = {"0", "8080"};
    const char *env[] = {"MODE=demo", "EMPTY=", "EQ=a=b"};
    const char *labels[] = {"team=a"};
    const char *constraints[] = {"hostname:unique", "rack:LIKE:r[12]:x", "rack:GROUP_BY"};
    struct cr_apps_run_spec spec = {
        .name = "/grp/web",
        .instances = 2,
        .cpus = 0.5,
        .mem = 128,
        .disk = 10,
        .ports = ports,
        .nports = 2,
        .env = env,
        .nenv = 3,
        .labels = labels,
        .nlabels = 1,
        .constraints = constraints,
        .nconstraints = 3,
        .health = "http:/healthz",
        .is_spread = true,
        .argv = argv,
        .argc = 2,
    };
    json_t *app = NULL;
    struct cr_err err = {0};
    assert_int_equal(cr_apps_build_app(&spec, &app, &err), 0);
    assert_json_eq(app,
                   "{\"id\":\"/grp/web\",\"cmd\":\"/bin/sleep 1000\",\"instances\":2,"
                   "\"cpus\":0.5,\"mem\":128.0,\"disk\":10.0,"
                   "\"portDefinitions\":[{\"port\":0,\"protocol\":\"tcp\"},"
                   "{\"port\":8080,\"protocol\":\"tcp\"}],"
                   "\"env\":{\"MODE\":\"demo\",\"EMPTY\":\"\",\"EQ\":\"a=b\"},"
                   "\"labels\":{\"team\":\"a\",\"corral.placement\":\"spread\"},"
                   "\"constraints\":[[\"hostname\",\"UNIQUE\"],[\"rack\",\"LIKE\",\"r[12]:x\"],"
                   "[\"rack\",\"GROUP_BY\"]],"
                   "\"healthChecks\":[{\"protocol\":\"MESOS_HTTP\",\"path\":\"/healthz\","
                   "\"portIndex\":0,\"gracePeriodSeconds\":30,\"intervalSeconds\":2,"
                   "\"timeoutSeconds\":2,\"delaySeconds\":1,\"maxConsecutiveFailures\":3}]}");
    json_decref(app);
}

static void test_build_health(void **state)
{
    (void)state;
    const char *argv[] = {"x"};
    struct cr_apps_run_spec spec = {.name = "h", .instances = 1, .argv = argv, .argc = 1};
    json_t *app = NULL;
    struct cr_err err = {0};

    /* tcp without a port adds one */
    spec.health = "tcp";
    assert_int_equal(cr_apps_build_app(&spec, &app, &err), 0);
    assert_json_eq(json_object_get(app, "portDefinitions"), "[{\"port\":0,\"protocol\":\"tcp\"}]");
    json_t *hc = json_array_get(json_object_get(app, "healthChecks"), 0);
    assert_string_equal(json_string_value(json_object_get(hc, "protocol")), "MESOS_TCP");
    assert_int_equal(json_integer_value(json_object_get(hc, "portIndex")), 0);
    json_decref(app);

    /* plain http checks "/" */
    spec.health = "http";
    assert_int_equal(cr_apps_build_app(&spec, &app, &err), 0);
    hc = json_array_get(json_object_get(app, "healthChecks"), 0);
    assert_string_equal(json_string_value(json_object_get(hc, "path")), "/");
    json_decref(app);

    /* a command check needs no port */
    spec.health = "cmd:test -f /tmp/ok";
    assert_int_equal(cr_apps_build_app(&spec, &app, &err), 0);
    assert_json_eq(json_object_get(app, "portDefinitions"), "[]");
    hc = json_array_get(json_object_get(app, "healthChecks"), 0);
    assert_string_equal(json_string_value(json_object_get(hc, "protocol")), "COMMAND");
    assert_json_eq(json_object_get(hc, "command"), "{\"value\":\"test -f /tmp/ok\"}");
    assert_null(json_object_get(hc, "portIndex"));
    json_decref(app);
}

static void test_build_errors(void **state)
{
    (void)state;
    static const struct {
        const char *name, *health, *env, *label, *constraint, *port;
        size_t argc;
        const char *want;
    } cases[] = {
        {NULL, NULL, NULL, NULL, NULL, NULL, 1, "needs a name"},
        {"Web", NULL, NULL, NULL, NULL, NULL, 1, "lowercase"},
        {"web", NULL, NULL, NULL, NULL, NULL, 0, "give a command"},
        {"web", "udp", NULL, NULL, NULL, NULL, 1, "flag --health: 'udp'"},
        {"web", "http:x", NULL, NULL, NULL, NULL, 1, "must start with '/'"},
        {"web", "cmd:", NULL, NULL, NULL, NULL, 1, "flag --health"},
        {"web", NULL, "NOEQ", NULL, NULL, NULL, 1, "flag --env: 'NOEQ' is not NAME=VALUE"},
        {"web", NULL, "=v", NULL, NULL, NULL, 1, "flag --env"},
        {"web", NULL, NULL, "k", NULL, NULL, 1, "flag --label: 'k'"},
        {"web", NULL, NULL, NULL, "hostname", NULL, 1, "FIELD:OPERATOR"},
        {"web", NULL, NULL, NULL, "hostname:SOMETIMES", NULL, 1, "unknown operator"},
        {"web", NULL, NULL, NULL, "rack:LIKE", NULL, 1, "LIKE needs a value"},
        {"web", NULL, NULL, NULL, "hostname:UNIQUE:x", NULL, 1, "UNIQUE takes no value"},
        {"web", NULL, NULL, NULL, NULL, "70000", 1, "flag --port: '70000'"},
        {"web", NULL, NULL, NULL, NULL, "x", 1, "flag --port"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *argv[] = {"cmd"};
        struct cr_apps_run_spec spec = {
            .name = cases[i].name,
            .instances = 1,
            .health = cases[i].health,
            .env = &cases[i].env,
            .nenv = cases[i].env ? 1 : 0,
            .labels = &cases[i].label,
            .nlabels = cases[i].label ? 1 : 0,
            .constraints = &cases[i].constraint,
            .nconstraints = cases[i].constraint ? 1 : 0,
            .ports = &cases[i].port,
            .nports = cases[i].port ? 1 : 0,
            .argv = argv,
            .argc = cases[i].argc,
        };
        json_t *app = NULL;
        struct cr_err err = {0};
        assert_int_equal(cr_apps_build_app(&spec, &app, &err), -EINVAL);
        assert_null(app);
        if (!strstr(err.msg, cases[i].want))
            fail_msg("case %zu: '%s' does not say '%s'", i, err.msg, cases[i].want);
    }
}

/* ---- SSE ---- */

struct events {
    char log[4096];
    int n;
    int stop_after; /* answer 7 after this many events; 0 = never */
};

static int on_event(const char *type, const char *data, size_t len, void *ud)
{
    struct events *e = ud;
    assert_int_equal(strlen(data), len); /* NUL-terminated, no embedded NULs here */
    size_t used = strlen(e->log);
    snprintf(e->log + used, sizeof(e->log) - used, "[%s|%s]", type, data);
    e->n++;
    return e->stop_after && e->n == e->stop_after ? 7 : 0;
}

static const char stream[] =
    "\r\n" /* heartbeat before anything */
    "event: event_stream_attached\r\ndata: {\"remoteAddress\":\"1.2.3.4\"}\r\n\r\n"
    "\r\n" /* heartbeat */
    ": a comment\r\n"
    "event: deployment_info\r\n"
    "id: 5\r\nretry: 100\r\n"
    "data: {\"plan\":{\"id\":\"d1\"}}\r\n\r\n"
    "\r\n\r\n"
    "event:deployment_success\ndata:{\"id\":\"d1\"}\n\n" /* LF only, no space after ':' */
    "data: line1\rdata: line2\r\r"                       /* CR only, two data lines */
    "event: no_data\r\n\r\n";                            /* a frame without data: no event */

static const char want[] = "[event_stream_attached|{\"remoteAddress\":\"1.2.3.4\"}]"
                           "[deployment_info|{\"plan\":{\"id\":\"d1\"}}]"
                           "[deployment_success|{\"id\":\"d1\"}]"
                           "[message|line1\nline2]";

static void test_sse_whole_and_split(void **state)
{
    (void)state;
    size_t len = strlen(stream);
    /* Whole, then every split into two chunks, then one byte at a time. */
    for (size_t split = 0; split <= len + 1; split++) {
        struct cr_sse p;
        cr_sse_init(&p, 0);
        struct events e = {{0}, 0, 0};
        struct cr_err err = {0};
        if (split == len + 1) {
            for (size_t i = 0; i < len; i++)
                assert_int_equal(cr_sse_feed(&p, stream + i, 1, on_event, &e, &err), 0);
        } else {
            assert_int_equal(cr_sse_feed(&p, stream, split, on_event, &e, &err), 0);
            assert_int_equal(cr_sse_feed(&p, stream + split, len - split, on_event, &e, &err), 0);
        }
        if (strcmp(e.log, want) != 0)
            fail_msg("split %zu: got %s", split, e.log);
        cr_sse_release(&p);
    }
}

static void test_sse_partial_and_limits(void **state)
{
    (void)state;
    struct cr_sse p;
    cr_sse_init(&p, 0);
    struct events e = {{0}, 0, 0};
    struct cr_err err = {0};
    /* A frame is delivered only when its empty line arrives. */
    assert_int_equal(cr_sse_feed(&p, "event: a\r\ndata: 1\r\n", 19, on_event, &e, &err), 0);
    assert_int_equal(e.n, 0);
    assert_int_equal(cr_sse_feed(&p, "\r", 1, on_event, &e, &err), 0);
    assert_int_equal(e.n, 1);
    /* The '\n' of that CRLF comes in the next chunk and must not end another frame. */
    assert_int_equal(cr_sse_feed(&p, "\ndata: 2\r\n\r\n", 12, on_event, &e, &err), 0);
    assert_string_equal(e.log, "[a|1][message|2]");
    cr_sse_release(&p);

    /* The callback can stop the reader: its answer comes back. */
    cr_sse_init(&p, 0);
    struct events s = {{0}, 0, 1};
    assert_int_equal(cr_sse_feed(&p, "data: x\n\ndata: y\n\n", 18, on_event, &s, &err), 7);
    assert_int_equal(s.n, 1);
    cr_sse_release(&p);

    /* Over-long lines and frames are refused. */
    cr_sse_init(&p, 16);
    assert_int_equal(cr_sse_feed(&p, "data: 0123456789abcdef", 22, on_event, &e, &err), -E2BIG);
    assert_non_null(strstr(err.msg, "longer than 16 bytes"));
    cr_sse_release(&p);
    cr_sse_init(&p, 16);
    assert_int_equal(
        cr_sse_feed(&p, "data: 0123456789\ndata: 0123456789\n", 34, on_event, &e, &err), -E2BIG);
    cr_sse_release(&p);
}

/* ---- formatting ---- */

static void test_time(void **state)
{
    (void)state;
    assert_true(fabs(cr_apps_parse_time("2024-05-01T12:00:03.250Z") - 1714564803.25) < 1e-6);
    assert_true(cr_apps_parse_time("2024-05-01T12:00:03Z") == 1714564803.0);
    assert_true(isnan(cr_apps_parse_time("2024-05-01 12:00")));
    assert_true(isnan(cr_apps_parse_time("2024-05-01T12:00:03+02:00")));
    assert_true(isnan(cr_apps_parse_time(NULL)));
    char buf[64];
    cr_apps_fmt_clock(buf, sizeof(buf), 1714564803.25, 1714564900);
    assert_string_equal(buf, "12:00:03");
    cr_apps_fmt_clock(buf, sizeof(buf), 1714564803.25, 1714564803 + 86400);
    assert_string_equal(buf, "2024-05-01 12:00:03");
    cr_apps_fmt_clock(buf, sizeof(buf), NAN, 0);
    assert_string_equal(buf, "-");
}

#define NOW 1714564803.0 /* 2024-05-01T12:00:03Z */

static void test_apps_table(void **state)
{
    (void)state;
    json_t *apps =
        parse("{\"apps\":["
              "{\"id\":\"/web\",\"cmd\":\"python3 -m http.server $PORT0\",\"instances\":3,"
              " \"tasksRunning\":2,\"tasksHealthy\":2,\"tasksStaged\":1,\"healthChecks\":[{}],"
              " \"deployments\":[{\"id\":\"d1\"}]},"
              "{\"id\":\"/grp/crash\",\"cmd\":\"/bin/false x\",\"instances\":1,"
              " \"tasksRunning\":0,\"tasksHealthy\":0,\"tasksStaged\":0,\"deployments\":[]},"
              "{\"id\":\"/long\",\"cmd\":\"0123456789012345678901234567890123456789XYZ\","
              " \"instances\":0,\"deployments\":[{\"id\":\"abcdef0123456789\"}]}"
              "]}");
    json_t *deps = parse("[{\"id\":\"d1\",\"currentStep\":1,\"totalSteps\":2,"
                         "\"currentActions\":[{\"action\":\"RestartApplication\",\"app\":\"/web\"},"
                         "{\"action\":\"ScaleApplication\",\"app\":\"/other\"}]}]");
    json_t *queue = parse("{\"queue\":[{\"app\":{\"id\":\"/grp/crash\"},\"count\":1,"
                          "\"delay\":{\"timeLeftSeconds\":30,\"overdue\":false}}]}");
    struct capture c;
    capture_open(&c);
    cr_apps_print_table(apps, deps, queue, NOW, c.f);
    const char *text = capture_close(&c);
    assert_string_equal(text, "ID         INSTANCES  DEPLOYMENT                   CMD\n"
                              "web        2/2/1/3    step 1/2 RestartApplication  python3 -m "
                              "http.server $PORT0\n"
                              "grp/crash  0/-/0/1    delayed until 12:00:33       /bin/false x\n"
                              "long       0/-/0/0    deployment abcdef01          "
                              "0123456789012345678901234567890123456...\n");
    capture_free(&c);

    /* Without deployments and queue, and with no apps. */
    capture_open(&c);
    cr_apps_print_table(apps, NULL, NULL, NOW, c.f);
    text = capture_close(&c);
    assert_non_null(strstr(text, "web        2/2/1/3    deployment d1"));
    assert_non_null(strstr(text, "grp/crash  0/-/0/1    none"));
    capture_free(&c);
    json_t *empty = parse("{\"apps\":[]}");
    capture_open(&c);
    cr_apps_print_table(empty, NULL, NULL, NOW, c.f);
    assert_string_equal(capture_close(&c), "no apps\n");
    capture_free(&c);
    json_decref(empty);
    json_decref(apps);
    json_decref(deps);
    json_decref(queue);
}

static void test_why(void **state)
{
    (void)state;
    json_t *queue =
        parse("{\"queue\":["
              "{\"app\":{\"id\":\"/web\"},\"count\":2,\"since\":\"2024-05-01T12:00:03.000Z\","
              " \"delay\":{\"timeLeftSeconds\":0,\"overdue\":true},"
              " \"diagnosis\":{\"considered\":3,\"requirements\":["
              "  {\"requirement\":\"cpus\",\"failed\":3},"
              "  {\"requirement\":\"hostname:UNIQUE\",\"failed\":1},"
              "  {\"requirement\":\"a_very_long_requirement\",\"failed\":0}],"
              "  \"message\":\"no machine has 4 cpus free\"}},"
              "{\"app\":{\"id\":\"/crash\"},\"count\":1,\"since\":\"2024-05-01T11:59:00Z\","
              " \"delay\":{\"timeLeftSeconds\":57,\"overdue\":false}},"
              "{\"app\":{\"id\":\"/odd\"},\"count\":3,"
              " \"diagnosis\":{\"considered\":1,\"requirements\":[{\"requirement\":\"cpus\","
              "  \"failed\":0}],\"message\":\"agent\\u001b is draining\"}}"
              "]}");
    struct capture c;
    capture_open(&c);
    assert_true(cr_apps_print_why("/web", queue, NOW + 60, c.f));
    assert_string_equal(capture_close(&c), "web: 2 instances waiting since 12:00:03\n"
                                           "  3 machines considered\n"
                                           "  cpus             3 of 3 machines short\n"
                                           "  hostname:UNIQUE  1 of 3 machines\n");
    capture_free(&c);

    capture_open(&c);
    assert_true(cr_apps_print_why("/crash", queue, NOW, c.f));
    assert_string_equal(capture_close(&c), "crash: 1 instance waiting since 11:59:00\n"
                                           "  delayed until 12:01:00 (crash loop backoff)\n"
                                           "  no offer considered yet\n");
    capture_free(&c);

    /* Nothing failed: the server's message (cleaned of control characters) instead. */
    capture_open(&c);
    assert_true(cr_apps_print_why("/odd", queue, NOW, c.f));
    assert_string_equal(capture_close(&c), "odd: 3 instances waiting\n"
                                           "  1 machine considered\n"
                                           "  agent? is draining\n");
    capture_free(&c);

    capture_open(&c);
    assert_false(cr_apps_print_why("/missing", queue, NOW, c.f));
    assert_string_equal(capture_close(&c), "");
    capture_free(&c);
    json_decref(queue);
}

static void test_error_text(void **state)
{
    (void)state;
    json_t *body = parse("{\"message\":\"Object is not valid\",\"details\":["
                         "{\"path\":\"/upgradeStrategy/minimumHealthCapacity\","
                         "\"errors\":[\"is greater than 1\"]},"
                         "{\"path\":\"/id\",\"errors\":[\"a\",\"b\\nc\"]}]}");
    struct capture c;
    capture_open(&c);
    cr_apps_print_error(422, body, NULL, c.f);
    assert_string_equal(capture_close(&c),
                        "422: Object is not valid\n"
                        "  /upgradeStrategy/minimumHealthCapacity: is greater than 1\n"
                        "  /id: a\n"
                        "  /id: b?c\n");
    capture_free(&c);
    capture_open(&c);
    cr_apps_print_error(502, NULL, "Bad gateway\nmore", c.f);
    assert_string_equal(capture_close(&c), "502: Bad gateway\n");
    capture_free(&c);
    json_decref(body);
}

/* ---- deployment progress ---- */

static enum cr_apps_outcome feed(struct cr_apps_progress *p, const char *type, const char *data,
                                 FILE *out)
{
    json_t *ev = parse(data);
    enum cr_apps_outcome o = cr_apps_progress_event(p, type, ev, out);
    json_decref(ev);
    return o;
}

static void test_progress_events(void **state)
{
    (void)state;
    const char *const apps[] = {"/web", NULL};
    struct cr_apps_progress p;
    cr_apps_progress_init(&p, "d1", apps);
    struct capture c;
    capture_open(&c);
    /* Another deployment's events are ignored. */
    assert_int_equal(
        feed(&p, "deployment_info", "{\"plan\":{\"id\":\"d0\"},\"currentStep\":{}}", c.f),
        CR_APPS_RUNNING);
    assert_int_equal(feed(&p, "deployment_success", "{\"id\":\"d0\"}", c.f), CR_APPS_RUNNING);
    assert_int_equal(feed(&p, "deployment_info",
                          "{\"plan\":{\"id\":\"d1\",\"steps\":[{\"actions\":["
                          "{\"action\":\"StartApplication\",\"app\":\"/web\"},"
                          "{\"action\":\"StartApplication\",\"app\":\"/db\"}]}]},"
                          "\"currentStep\":{\"actions\":[{\"action\":\"StartApplication\","
                          "\"app\":\"/web\"},{\"action\":\"StartApplication\",\"app\":\"/db\"}]}}",
                          c.f),
                     CR_APPS_RUNNING);
    /* /db was learnt from the plan; /other is not ours. */
    feed(&p, "status_update_event",
         "{\"appId\":\"/db\",\"taskId\":\"db.77aa-1\",\"taskStatus\":\"TASK_RUNNING\","
         "\"host\":\"h1\",\"ports\":[31000,31001]}",
         c.f);
    feed(&p, "status_update_event",
         "{\"appId\":\"/other\",\"taskId\":\"other.1\",\"taskStatus\":\"TASK_RUNNING\"}", c.f);
    feed(&p, "status_update_event",
         "{\"appId\":\"/web\",\"taskId\":\"web.12cd-2\",\"taskStatus\":\"TASK_FAILED\","
         "\"host\":\"h2\",\"message\":\"exit 1\"}",
         c.f);
    feed(&p, "instance_health_changed_event",
         "{\"runSpecId\":\"/web\",\"instanceId\":\"web.instance-12cd\",\"healthy\":true}", c.f);
    feed(&p, "deployment_step_success",
         "{\"plan\":{\"id\":\"d1\"},\"currentStep\":{\"actions\":[{\"action\":"
         "\"StartApplication\",\"app\":\"/web\"}]}}",
         c.f);
    assert_int_equal(feed(&p, "deployment_failed",
                          "{\"id\":\"d1\",\"reason\":\"health checks never passed\"}", c.f),
                     CR_APPS_FAILED);
    /* Once over, nothing more is printed. */
    feed(&p, "deployment_info", "{\"plan\":{\"id\":\"d1\"},\"currentStep\":{}}", c.f);
    assert_string_equal(capture_close(&c), "step: StartApplication /web, StartApplication /db\n"
                                           "  db.77aa RUNNING on h1:31000,31001\n"
                                           "  web.12cd FAILED on h2 (exit 1)\n"
                                           "  web.12cd healthy\n"
                                           "step done: StartApplication /web\n");
    capture_free(&c);
    char text[256];
    cr_apps_outcome_text(&p, text, sizeof(text));
    assert_string_equal(text, "deployment d1 failed: health checks never passed");
    cr_apps_progress_release(&p);

    cr_apps_progress_init(&p, "d2", NULL);
    assert_int_equal(feed(&p, "deployment_success", "{\"id\":\"d2\"}", NULL), CR_APPS_SUCCEEDED);
    cr_apps_outcome_text(&p, text, sizeof(text));
    assert_string_equal(text, "deployment d2 succeeded");
    cr_apps_progress_release(&p);
}

/* Step events that carry the deployment object, and repeated states, as Corral's master
 * sends them. */
static void test_progress_flat_events(void **state)
{
    (void)state;
    const char *const apps[] = {"/web", NULL};
    struct cr_apps_progress p;
    cr_apps_progress_init(&p, "d1", apps);
    struct capture c;
    capture_open(&c);
    feed(&p, "deployment_info",
         "{\"id\":\"d1\",\"affectedApps\":[\"/web\"],\"steps\":[{\"actions\":[{\"action\":"
         "\"ScaleApplication\",\"app\":\"/web\"}]}],\"currentActions\":[{\"action\":"
         "\"ScaleApplication\",\"app\":\"/web\"}],\"currentStep\":1,\"totalSteps\":1}",
         c.f);
    const char *running = "{\"appId\":\"/web\",\"taskId\":\"web.instance-0974ef3b._app.1\","
                          "\"taskStatus\":\"TASK_RUNNING\",\"host\":\"vm\",\"ports\":[32002]}";
    feed(&p, "status_update_event", running, c.f);
    feed(&p, "status_update_event", running, c.f); /* a health check's update: not again */
    feed(&p, "deployment_step_success",
         "{\"id\":\"d1\",\"steps\":[{\"actions\":[{\"action\":\"ScaleApplication\","
         "\"app\":\"/web\"}]}],\"currentActions\":[],\"currentStep\":1,\"totalSteps\":1}",
         c.f);
    assert_int_equal(feed(&p, "deployment_success", "{\"id\":\"d1\",\"currentStep\":1}", c.f),
                     CR_APPS_SUCCEEDED);
    assert_string_equal(capture_close(&c), "step 1/1: ScaleApplication /web\n"
                                           "  web.0974 RUNNING on vm:32002\n"
                                           "step 1/1 done: ScaleApplication /web\n");
    capture_free(&c);
    assert_int_equal(p.last_step, 1);
    cr_apps_progress_release(&p);
}

static void test_progress_poll(void **state)
{
    (void)state;
    struct cr_apps_progress p;
    cr_apps_progress_init(&p, "d1", NULL);
    struct capture c;
    capture_open(&c);
    json_t *d = parse("{\"id\":\"d1\",\"status\":\"running\",\"currentStep\":1,\"totalSteps\":2,"
                      "\"steps\":[{\"actions\":[{\"action\":\"StartApplication\",\"app\":\"/a\"}]},"
                      "{\"actions\":[{\"action\":\"ScaleApplication\",\"app\":\"/a\"}]}]}");
    assert_int_equal(cr_apps_progress_poll(&p, d, c.f), CR_APPS_RUNNING);
    assert_int_equal(cr_apps_progress_poll(&p, d, c.f), CR_APPS_RUNNING); /* same step: quiet */
    json_object_set_new(d, "currentStep", json_integer(2));
    assert_int_equal(cr_apps_progress_poll(&p, d, NULL), CR_APPS_RUNNING); /* NULL: quiet */
    json_object_set_new(d, "currentStep", json_integer(1));
    json_object_set_new(d, "status", json_string("failed"));
    json_object_set_new(d, "reason", json_string("unplaceable: cpus"));
    assert_int_equal(cr_apps_progress_poll(&p, d, c.f), CR_APPS_FAILED);
    assert_string_equal(capture_close(&c), "step 1/2: StartApplication /a\n"
                                           "step 1/2: StartApplication /a\n");
    capture_free(&c);
    assert_string_equal(p.reason, "unplaceable: cpus");
    cr_apps_progress_release(&p);

    static const struct {
        const char *status;
        enum cr_apps_outcome want;
        const char *text;
    } cases[] = {
        {"succeeded", CR_APPS_SUCCEEDED, "deployment d1 succeeded"},
        {"cancelled", CR_APPS_CANCELLED, "deployment d1 was cancelled"},
        {"rolled_back", CR_APPS_ROLLED_BACK, "deployment d1 was rolled back"},
        {"failed", CR_APPS_FAILED, "deployment d1 failed: no reason given"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cr_apps_progress_init(&p, "d1", NULL);
        json_t *dep = json_pack("{s:s, s:s}", "id", "d1", "status", cases[i].status);
        assert_int_equal(cr_apps_progress_poll(&p, dep, NULL), cases[i].want);
        char text[256];
        cr_apps_outcome_text(&p, text, sizeof(text));
        assert_string_equal(text, cases[i].text);
        json_decref(dep);
        cr_apps_progress_release(&p);
    }
    json_decref(d);
}

static void test_prefixer(void **state)
{
    (void)state;
    struct cr_apps_prefixer a, b;
    cr_apps_prefixer_init(&a, "web.3f2a");
    cr_apps_prefixer_init(&b, "web.9b8c");
    struct capture c;
    capture_open(&c);
    cr_apps_prefixer_write(&a, "one\ntw", 6, c.f);
    cr_apps_prefixer_write(&b, "x", 1, c.f);
    cr_apps_prefixer_write(&a, "o\n\nthree", 8, c.f);
    cr_apps_prefixer_write(&b, "y\n", 2, c.f);
    cr_apps_prefixer_flush(&a, c.f);
    cr_apps_prefixer_flush(&b, c.f); /* nothing kept: nothing written */
    assert_string_equal(capture_close(&c), "[web.3f2a] one\n"
                                           "[web.3f2a] two\n"
                                           "[web.3f2a] \n"
                                           "[web.9b8c] xy\n"
                                           "[web.3f2a] three\n");
    capture_free(&c);
    cr_apps_prefixer_release(&a);
    cr_apps_prefixer_release(&b);
}

static void test_previous_version(void **state)
{
    (void)state;
    json_t *v = parse("{\"versions\":[\"v3\",\"v2\",\"v1\"]}");
    assert_string_equal(cr_apps_previous_version(v, "v3"), "v2");
    assert_string_equal(cr_apps_previous_version(v, "v2"), "v1");
    assert_null(cr_apps_previous_version(v, "v1"));
    assert_string_equal(cr_apps_previous_version(v, NULL), "v2");
    assert_string_equal(cr_apps_previous_version(v, "unknown"), "v2");
    json_decref(v);
    v = parse("{\"versions\":[\"v1\"]}");
    assert_null(cr_apps_previous_version(v, "v1"));
    json_decref(v);
}

int main(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_build_minimal),
        cmocka_unit_test(test_build_full),
        cmocka_unit_test(test_build_health),
        cmocka_unit_test(test_build_errors),
        cmocka_unit_test(test_sse_whole_and_split),
        cmocka_unit_test(test_sse_partial_and_limits),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_apps_table),
        cmocka_unit_test(test_why),
        cmocka_unit_test(test_error_text),
        cmocka_unit_test(test_progress_events),
        cmocka_unit_test(test_progress_flat_events),
        cmocka_unit_test(test_progress_poll),
        cmocka_unit_test(test_prefixer),
        cmocka_unit_test(test_previous_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
