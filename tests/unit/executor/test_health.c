/*
 * test_health.c - health checks (src/executor/health.c) against real processes and
 * sockets on 127.0.0.1.
 *
 * Part 1 parses HealthCheck JSON: defaults, the old shape without type, and errors that
 * name the field. Part 2 runs checkers on a uv loop against a tiny HTTP/TCP server living
 * on the same loop (its status, or silence, set by the test), and against commands:
 * healthy, failing, timing out (the check's whole process group must die), environment,
 * exec form, user switch, cgroup join. The counting rules are checked through what gets
 * reported: the first success, the first counted failure, the kill at the threshold and
 * nothing in between; failures inside the grace period are not counted unless a check
 * has passed. Part 3 makes a "task" of its own in new uts+mount+pid namespaces (and one
 * in a new network namespace) and checks that the check runs inside them.
 *
 * Every process started here is killed and reaped by pid, every cgroup and temp dir
 * removed. Intervals are tens of milliseconds, so the suite takes a few seconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/util.h"
#include "executor/health.h"

/* ================================================================== part 1: parsing */

static void parse_ok(const char *text, struct cr_health_spec *spec)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    assert_non_null(j);
    struct cr_err err;
    cr_err_clear(&err);
    int rc = cr_health_parse(j, spec, &err);
    if (rc != 0)
        fail_msg("parse '%s': %s", text, err.msg);
    json_decref(j);
}

static void parse_fails(const char *text, const char *want)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);
    assert_non_null(j);
    struct cr_health_spec spec;
    struct cr_err err;
    cr_err_clear(&err);
    int rc = cr_health_parse(j, &spec, &err);
    json_decref(j);
    if (rc != -EINVAL)
        fail_msg("parse '%s': want -EINVAL, got %d", text, rc);
    if (!strstr(err.msg, want))
        fail_msg("parse '%s': want message containing '%s', got '%s'", text, want, err.msg);
    assert_null(spec.http_path);
    assert_null(spec.command.value);
}

static void test_parse_http_full(void **state)
{
    struct cr_health_spec s;
    parse_ok("{\"type\":\"HTTP\",\"http\":{\"port\":8080,\"path\":\"/health\",\"scheme\":\"http\","
             "\"protocol\":\"IPv6\"},\"delay_seconds\":0.5,\"interval_seconds\":1.5,"
             "\"timeout_seconds\":\"2\",\"consecutive_failures\":5,\"grace_period_seconds\":0}",
             &s);
    assert_int_equal(s.type, CR_HEALTH_HTTP);
    assert_int_equal(s.port, 8080);
    assert_true(s.is_ipv6);
    assert_string_equal(s.http_path, "/health");
    assert_true(s.delay_seconds == 0.5);
    assert_true(s.interval_seconds == 1.5);
    assert_true(s.timeout_seconds == 2);
    assert_true(s.grace_period_seconds == 0);
    assert_int_equal(s.consecutive_failures, 5);
    cr_health_spec_release(&s);
    cr_health_spec_release(NULL);
}

static void test_parse_defaults_and_old_shape(void **state)
{
    struct cr_health_spec s;
    parse_ok("{\"type\":\"TCP\",\"tcp\":{\"port\":22}}", &s);
    assert_int_equal(s.type, CR_HEALTH_TCP);
    assert_int_equal(s.port, 22);
    assert_false(s.is_ipv6);
    assert_true(s.delay_seconds == 15);
    assert_true(s.interval_seconds == 10);
    assert_true(s.timeout_seconds == 20);
    assert_true(s.grace_period_seconds == 10);
    assert_int_equal(s.consecutive_failures, 3);
    cr_health_spec_release(&s);

    parse_ok("{\"http\":{\"port\":80}}", &s);
    assert_int_equal(s.type, CR_HEALTH_HTTP);
    assert_string_equal(s.http_path, "/");
    cr_health_spec_release(&s);

    parse_ok("{\"command\":{\"value\":\"true\"},\"consecutive_failures\":0}", &s);
    assert_int_equal(s.type, CR_HEALTH_COMMAND);
    assert_true(s.command.shell);
    assert_string_equal(s.command.value, "true");
    assert_int_equal(s.consecutive_failures, 0);
    cr_health_spec_release(&s);

    parse_ok("{\"type\":\"COMMAND\",\"command\":{\"shell\":false,\"value\":\"/bin/true\","
             "\"arguments\":[\"true\",\"x\"],\"environment\":{\"variables\":[{\"name\":\"A\","
             "\"value\":\"1\"}]}}}",
             &s);
    assert_false(s.command.shell);
    assert_int_equal(s.command.narguments, 2);
    assert_string_equal(s.command.arguments[1], "x");
    assert_int_equal(s.command.nenv, 1);
    assert_string_equal(s.command.env[0].name, "A");
    cr_health_spec_release(&s);
}

static void test_parse_errors(void **state)
{
    parse_fails("{\"type\":\"HTTP\",\"http\":{\"port\":70000}}",
                "health_check.http.port: must be 1..65535");
    parse_fails("{\"type\":\"HTTP\",\"http\":{\"port\":0}}",
                "health_check.http.port: must be 1..65535");
    parse_fails("{\"type\":\"TCP\",\"tcp\":{\"port\":1.5}}",
                "health_check.tcp.port: must be 1..65535");
    parse_fails("{\"type\":\"TCP\",\"tcp\":{\"port\":\"ssh\"}}",
                "health_check.tcp.port: expected a number, got string");
    parse_fails("{\"type\":\"HTTP\",\"http\":{\"path\":\"/\"}}",
                "health_check.http.port: required field missing");
    parse_fails("{\"type\":\"HTTP\",\"http\":{\"port\":80,\"scheme\":\"https\"}}",
                "health_check.http.scheme: 'https' is not supported (only 'http')");
    parse_fails("{\"type\":\"HTTP\",\"http\":{\"port\":80,\"path\":\"health\"}}",
                "health_check.http.path: must start with '/'");
    parse_fails("{\"type\":\"HTTP\",\"http\":{\"port\":80,\"path\":\"/a b\"}}",
                "health_check.http.path: must not contain spaces");
    parse_fails("{\"type\":\"TCP\",\"tcp\":{\"port\":80,\"protocol\":\"IPv5\"}}",
                "health_check.tcp.protocol: unknown protocol 'IPv5'");
    parse_fails("{\"type\":\"GRPC\",\"grpc\":{\"port\":80}}",
                "health_check.type: unknown type 'GRPC'");
    parse_fails("{\"type\":3}", "health_check.type: expected a string, got number");
    parse_fails("{\"type\":\"HTTP\"}", "health_check.http: required for an HTTP health check");
    parse_fails("{\"type\":\"TCP\",\"http\":{\"port\":1}}",
                "health_check.tcp: required for a TCP health check");
    parse_fails("{\"type\":\"HTTP\",\"http\":[]}",
                "health_check.http: expected an object, got array");
    parse_fails("{\"type\":\"TCP\",\"tcp\":{\"port\":1},\"interval_seconds\":-1}",
                "health_check.interval_seconds: must be a non-negative number of seconds");
    parse_fails("{\"type\":\"TCP\",\"tcp\":{\"port\":1},\"delay_seconds\":true}",
                "health_check.delay_seconds: expected a number, got boolean");
    parse_fails("{\"type\":\"TCP\",\"tcp\":{\"port\":1},\"timeout_seconds\":\"soon\"}",
                "health_check.timeout_seconds: expected a number, got string");
    parse_fails("{\"type\":\"TCP\",\"tcp\":{\"port\":1},\"consecutive_failures\":-1}",
                "health_check.consecutive_failures: must be 0..4294967295");
    parse_fails("{\"type\":\"COMMAND\",\"command\":{}}",
                "health_check.command.value: required field missing");
    parse_fails("{\"type\":\"COMMAND\",\"command\":{\"value\":1}}", "health_check.command.value");
    parse_fails("{\"type\":\"COMMAND\",\"command\":{\"value\":\"x\",\"environment\":"
                "{\"variables\":[{\"name\":\"A\",\"value\":\"1\"},{}]}}}",
                "health_check.command.environment.variables[1]");
    parse_fails("{}", "health_check.type: required field missing");
    parse_fails("{\"command\":{\"value\":\"x\"},\"http\":{\"port\":1}}",
                "health_check: both 'command' and 'http' are set");
    parse_fails("[]", "health_check: expected an object, got array");
}

/* ================================================================== harness */

#define MAX_RESULTS 32

struct got {
    bool healthy;
    uint32_t failures;
    bool kill;
    char message[256];
    int64_t at_ms; /* since ctx->t0 */
};

struct ctx {
    uv_loop_t loop;
    struct cr_health_checker *hc;
    struct got results[MAX_RESULTS];
    size_t n;
    int64_t t0;
    bool free_on_kill;
    char dir[PATH_MAX]; /* a temp dir for files the checks write */
};

static void on_result(void *ud, const struct cr_health_result *r)
{
    struct ctx *c = ud;
    assert_true(c->n < MAX_RESULTS);
    struct got *g = &c->results[c->n++];
    g->healthy = r->healthy;
    g->failures = r->consecutive_failures;
    g->kill = r->kill;
    assert_non_null(r->message);
    snprintf(g->message, sizeof(g->message), "%s", r->message);
    g->at_ms = cr_now_ms() - c->t0;
    if (r->kill && c->free_on_kill) {
        cr_health_checker_free(c->hc); /* from inside the callback, as an executor might */
        c->hc = NULL;
    }
}

static void on_wake(uv_timer_t *t)
{
    (void)t;
}

/* Run the loop until pred(arg) or timeout_ms pass. */
static bool run_while(struct ctx *c, bool (*done)(struct ctx *c, void *arg), void *arg,
                      int timeout_ms)
{
    uv_timer_t wake;
    uv_timer_init(&c->loop, &wake);
    uv_timer_start(&wake, on_wake, 5, 5);
    int64_t end = cr_now_ms() + timeout_ms;
    while (!done(c, arg) && cr_now_ms() < end)
        uv_run(&c->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&wake, NULL);
    uv_run(&c->loop, UV_RUN_NOWAIT);
    return done(c, arg);
}

static bool have_n(struct ctx *c, void *arg)
{
    return c->n >= *(size_t *)arg;
}

static bool never(struct ctx *c, void *arg)
{
    return false;
}

static bool wait_results(struct ctx *c, size_t n, int timeout_ms)
{
    return run_while(c, have_n, &n, timeout_ms);
}

static void run_for(struct ctx *c, int ms)
{
    run_while(c, never, NULL, ms);
}

static int ctx_setup(void **state)
{
    struct ctx *c = cr_xcalloc(1, sizeof(*c));
    assert_int_equal(uv_loop_init(&c->loop), 0);
    snprintf(c->dir, sizeof(c->dir), "/tmp/cr-health-test-XXXXXX");
    assert_non_null(mkdtemp(c->dir));
    c->t0 = cr_now_ms();
    *state = c;
    return 0;
}

static int ctx_teardown(void **state)
{
    struct ctx *c = *state;
    cr_health_checker_free(c->hc);
    uv_run(&c->loop, UV_RUN_DEFAULT); /* close callbacks */
    assert_int_equal(uv_loop_close(&c->loop), 0);
    assert_int_equal(cr_rm_rf(c->dir, NULL), 0);
    free(c);
    return 0;
}

/* Parse spec_json and start a checker on c. */
static void start_checker(struct ctx *c, const char *spec_json, const struct cr_health_target *t)
{
    struct cr_health_spec spec;
    parse_ok(spec_json, &spec);
    struct cr_health_target none = {.pid = 0};
    struct cr_err err;
    cr_err_clear(&err);
    int rc = cr_health_checker_new(&c->loop, &spec, t ? t : &none, on_result, c, &c->hc, &err);
    cr_health_spec_release(&spec);
    if (rc != 0)
        fail_msg("checker: %s", err.msg);
    c->t0 = cr_now_ms();
    cr_health_checker_start(c->hc);
}

static void expect(const struct ctx *c, size_t i, bool healthy, uint32_t failures, bool kill,
                   const char *msg_part)
{
    assert_true(i < c->n);
    const struct got *g = &c->results[i];
    if (g->healthy != healthy || g->failures != failures || g->kill != kill ||
        !strstr(g->message, msg_part))
        fail_msg("result %zu: got healthy=%d failures=%u kill=%d '%s', want healthy=%d "
                 "failures=%u kill=%d '%s'",
                 i, g->healthy, g->failures, g->kill, g->message, healthy, failures, kill,
                 msg_part);
}

/* ---------------------------------------------------------------- a server on the loop */

struct conn;

struct server {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    bool is_open;
    int port;
    const char *response; /* what to answer after the request headers; NULL = hang */
    char request[1024];   /* the last request's head */
    int nrequests;
    struct conn *conns;
};

struct conn {
    uv_tcp_t tcp;
    struct server *srv;
    struct conn *next;
    char buf[2048];
    size_t len;
    bool answered;
    uv_write_t wr;
};

static void conn_closed(uv_handle_t *h)
{
    struct conn *k = h->data;
    for (struct conn **pp = &k->srv->conns; *pp; pp = &(*pp)->next)
        if (*pp == k) {
            *pp = k->next;
            break;
        }
    free(k);
}

static void conn_close(struct conn *k)
{
    if (!uv_is_closing((uv_handle_t *)&k->tcp))
        uv_close((uv_handle_t *)&k->tcp, conn_closed);
}

static void conn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct conn *k = h->data;
    b->base = k->buf + k->len;
    b->len = sizeof(k->buf) - 1 - k->len;
}

static void conn_written(uv_write_t *w, int status)
{
    conn_close(w->data);
}

static void conn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct conn *k = s->data;
    if (n < 0) {
        conn_close(k);
        return;
    }
    k->len += (size_t)n;
    k->buf[k->len] = '\0';
    char *end = strstr(k->buf, "\r\n\r\n");
    if (!end || k->answered)
        return;
    k->answered = true;
    struct server *srv = k->srv;
    srv->nrequests++;
    snprintf(srv->request, sizeof(srv->request), "%.*s", (int)(end - k->buf), k->buf);
    if (!srv->response)
        return; /* hang */
    uv_buf_t out = uv_buf_init((char *)srv->response, (unsigned)strlen(srv->response));
    k->wr.data = k;
    uv_write(&k->wr, s, &out, 1, conn_written);
}

static void on_connection(uv_stream_t *s, int status)
{
    struct server *srv = s->data;
    if (status < 0)
        return;
    struct conn *k = cr_xcalloc(1, sizeof(*k));
    k->srv = srv;
    k->tcp.data = k;
    uv_tcp_init(srv->loop, &k->tcp);
    k->next = srv->conns;
    srv->conns = k;
    if (uv_accept(s, (uv_stream_t *)&k->tcp) < 0) {
        conn_close(k);
        return;
    }
    uv_read_start((uv_stream_t *)&k->tcp, conn_alloc, conn_read);
}

/* Listen on 127.0.0.1:port (0 = any free port; srv->port tells). */
static int server_open_at(struct server *srv, uv_loop_t *loop, const char *ip, int port)
{
    srv->loop = loop;
    uv_tcp_init(loop, &srv->tcp);
    srv->tcp.data = srv;
    srv->is_open = true;
    struct sockaddr_storage ss;
    if (strchr(ip, ':'))
        uv_ip6_addr(ip, port, (struct sockaddr_in6 *)&ss);
    else
        uv_ip4_addr(ip, port, (struct sockaddr_in *)&ss);
    int rc = uv_tcp_bind(&srv->tcp, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv->tcp, 16, on_connection);
    if (rc < 0)
        return rc;
    int len = sizeof(ss);
    uv_tcp_getsockname(&srv->tcp, (struct sockaddr *)&ss, &len);
    srv->port = ntohs(((struct sockaddr_in *)&ss)->sin_port); /* same offset for v6 */
    return 0;
}

static void server_open(struct server *srv, uv_loop_t *loop, int port)
{
    assert_int_equal(server_open_at(srv, loop, "127.0.0.1", port), 0);
}

static void server_close(struct server *srv)
{
    if (!srv->is_open)
        return;
    srv->is_open = false;
    uv_close((uv_handle_t *)&srv->tcp, NULL);
    for (struct conn *k = srv->conns; k; k = k->next)
        conn_close(k);
}

#define OK_200 "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
#define FOUND_302 "HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n"
#define UNAVAILABLE_503 "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"

/* ================================================================== part 2: HTTP / TCP */

static void test_http_unhealthy_and_back(void **state)
{
    struct ctx *c = *state;
    struct server srv = {.response = OK_200};
    server_open(&srv, &c->loop, 0);
    char spec[512];
    snprintf(spec, sizeof(spec),
             "{\"type\":\"HTTP\",\"http\":{\"port\":%d,\"path\":\"/health?x=1\"},"
             "\"delay_seconds\":0,\"interval_seconds\":0.03,\"timeout_seconds\":1,"
             "\"grace_period_seconds\":0,\"consecutive_failures\":3}",
             srv.port);
    start_checker(c, spec, NULL);

    assert_true(wait_results(c, 1, 2000));
    expect(c, 0, true, 0, false, "HTTP health check passed: 200 OK");
    char want[128];
    snprintf(want, sizeof(want),
             "GET /health?x=1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
             "Connection: close",
             srv.port);
    assert_string_equal(srv.request, want);

    /* Healthy stays unreported: several checks, one result. */
    int before = srv.nrequests;
    run_for(c, 150);
    assert_true(srv.nrequests >= before + 2);
    assert_int_equal(c->n, 1);

    srv.response = UNAVAILABLE_503;
    assert_true(wait_results(c, 3, 2000));
    expect(c, 1, false, 1, false, "HTTP health check failed: 503 Service Unavailable");
    expect(c, 2, false, 3, true, "HTTP health check failed: 503 Service Unavailable");

    srv.response = OK_200;
    assert_true(wait_results(c, 4, 2000));
    expect(c, 3, true, 0, false, "passed");

    server_close(&srv);
    assert_true(wait_results(c, 5, 2000));
    snprintf(want, sizeof(want), "HTTP connection to 127.0.0.1:%d failed: Connection refused",
             srv.port);
    expect(c, 4, false, 1, false, want);

    int port = srv.port;
    memset(&srv, 0, sizeof(srv));
    srv.response = OK_200;
    server_open(&srv, &c->loop, port);
    assert_true(wait_results(c, 6, 2000));
    expect(c, 5, true, 0, false, "passed");

    cr_health_checker_free(c->hc);
    c->hc = NULL;
    server_close(&srv);
}

static void test_http_redirect_is_healthy_and_timeout(void **state)
{
    struct ctx *c = *state;
    struct server srv = {.response = FOUND_302};
    server_open(&srv, &c->loop, 0);
    char spec[512];
    snprintf(spec, sizeof(spec),
             "{\"type\":\"HTTP\",\"http\":{\"port\":%d},\"delay_seconds\":0,"
             "\"interval_seconds\":0.02,\"timeout_seconds\":0.2,\"grace_period_seconds\":0}",
             srv.port);
    start_checker(c, spec, NULL);
    assert_true(wait_results(c, 1, 2000));
    expect(c, 0, true, 0, false, "302 Found");
    assert_non_null(strstr(srv.request, "GET / HTTP/1.1\r\n"));

    srv.response = NULL; /* accept, read, never answer */
    assert_true(wait_results(c, 2, 2000));
    expect(c, 1, false, 1, false, "HTTP health check timed out after 0.2 seconds");
    assert_true(c->results[1].at_ms - c->results[0].at_ms >= 200);

    srv.response = "SMTP ready\r\n";
    assert_true(wait_results(c, 3, 3000)); /* the third failure: the kill */
    expect(c, 2, false, 3, true, "HTTP health check failed: malformed status line 'SMTP ready'");
    server_close(&srv);
}

static void test_tcp_and_kill_threshold(void **state)
{
    struct ctx *c = *state;
    struct server srv = {.response = NULL};
    server_open(&srv, &c->loop, 0);
    char spec[512];
    snprintf(spec, sizeof(spec),
             "{\"type\":\"TCP\",\"tcp\":{\"port\":%d},\"delay_seconds\":0,"
             "\"interval_seconds\":0.02,\"timeout_seconds\":1,\"grace_period_seconds\":0,"
             "\"consecutive_failures\":2}",
             srv.port);
    start_checker(c, spec, NULL);
    assert_true(wait_results(c, 1, 2000));
    expect(c, 0, true, 0, false, "TCP health check passed");

    server_close(&srv);
    assert_true(wait_results(c, 3, 2000));
    char want[128];
    snprintf(want, sizeof(want), "TCP connection to 127.0.0.1:%d failed: Connection refused",
             srv.port);
    expect(c, 1, false, 1, false, want);
    expect(c, 2, false, 2, true, want);
    /* Failures go on (one every 20 ms) but the kill is reported once. */
    run_for(c, 200);
    assert_int_equal(c->n, 3);
}

static void test_kill_with_free_in_callback(void **state)
{
    struct ctx *c = *state;
    struct server srv = {.response = NULL};
    server_open(&srv, &c->loop, 0);
    int port = srv.port;
    server_close(&srv);
    run_for(c, 10);
    char spec[512];
    snprintf(spec, sizeof(spec),
             "{\"type\":\"TCP\",\"tcp\":{\"port\":%d},\"delay_seconds\":0,"
             "\"interval_seconds\":0.01,\"grace_period_seconds\":0,\"consecutive_failures\":1}",
             port);
    c->free_on_kill = true;
    start_checker(c, spec, NULL);
    assert_true(wait_results(c, 1, 2000));
    expect(c, 0, false, 1, true, "Connection refused");
    assert_null(c->hc);
    run_for(c, 100);
    assert_int_equal(c->n, 1);
}

static void test_grace_period(void **state)
{
    struct ctx *c = *state;
    struct server srv = {.response = NULL};
    server_open(&srv, &c->loop, 0);
    int port = srv.port;
    server_close(&srv);
    run_for(c, 10);
    char spec[512];
    snprintf(spec, sizeof(spec),
             "{\"type\":\"TCP\",\"tcp\":{\"port\":%d},\"delay_seconds\":0,"
             "\"interval_seconds\":0.03,\"grace_period_seconds\":0.4,\"consecutive_failures\":3}",
             port);
    start_checker(c, spec, NULL);
    /* ~13 failures inside the grace period count for nothing. */
    assert_true(wait_results(c, 1, 2000));
    expect(c, 0, false, 1, false, "Connection refused");
    assert_true(c->results[0].at_ms >= 400);

    memset(&srv, 0, sizeof(srv));
    server_open(&srv, &c->loop, port);
    assert_true(wait_results(c, 2, 2000));
    expect(c, 1, true, 0, false, "passed");
    server_close(&srv);
}

static void test_grace_ends_with_first_success(void **state)
{
    struct ctx *c = *state;
    struct server srv = {.response = NULL};
    server_open(&srv, &c->loop, 0);
    char spec[512];
    snprintf(spec, sizeof(spec),
             "{\"type\":\"TCP\",\"tcp\":{\"port\":%d},\"delay_seconds\":0,"
             "\"interval_seconds\":0.03,\"grace_period_seconds\":30}",
             srv.port);
    start_checker(c, spec, NULL);
    assert_true(wait_results(c, 1, 2000));
    expect(c, 0, true, 0, false, "passed");
    server_close(&srv);
    /* Deep inside the grace period, but a check has passed: this failure counts. */
    assert_true(wait_results(c, 2, 2000));
    expect(c, 1, false, 1, false, "Connection refused");
}

static void test_delay_pause_and_resume(void **state)
{
    struct ctx *c = *state;
    struct server srv = {.response = NULL};
    server_open(&srv, &c->loop, 0);
    char spec[512];
    snprintf(spec, sizeof(spec),
             "{\"type\":\"TCP\",\"tcp\":{\"port\":%d},\"delay_seconds\":0.25,"
             "\"interval_seconds\":0.02,\"grace_period_seconds\":0}",
             srv.port);
    start_checker(c, spec, NULL);
    assert_true(wait_results(c, 1, 2000));
    assert_true(c->results[0].at_ms >= 250);
    expect(c, 0, true, 0, false, "passed");

    cr_health_checker_pause(c->hc);
    cr_health_checker_pause(c->hc);
    server_close(&srv);
    run_for(c, 150);
    assert_int_equal(c->n, 1); /* nothing checked while paused */

    cr_health_checker_start(c->hc);
    cr_health_checker_start(c->hc);
    assert_true(wait_results(c, 2, 2000));
    expect(c, 1, false, 1, false, "Connection refused");
}

static void test_tcp_ipv6(void **state)
{
    struct ctx *c = *state;
    struct server srv = {.response = NULL};
    if (server_open_at(&srv, &c->loop, "::1", 0) < 0) {
        server_close(&srv);
        skip();
    }
    char spec[512];
    snprintf(spec, sizeof(spec),
             "{\"type\":\"TCP\",\"tcp\":{\"port\":%d,\"protocol\":\"IPv6\"},"
             "\"delay_seconds\":0,\"interval_seconds\":0.02,\"grace_period_seconds\":0}",
             srv.port);
    start_checker(c, spec, NULL);
    assert_true(wait_results(c, 1, 2000));
    expect(c, 0, true, 0, false, "passed");
    server_close(&srv);
    assert_true(wait_results(c, 2, 2000));
    char want[128];
    snprintf(want, sizeof(want), "TCP connection to [::1]:%d failed", srv.port);
    expect(c, 1, false, 1, false, want);
}

/* ================================================================== part 2: COMMAND */

/* A JSON string literal's body for s (quotes and backslashes escaped). */
static char *json_quote(const char *s)
{
    json_t *j = json_string(s);
    char *out = json_dumps(j, JSON_ENCODE_ANY);
    json_decref(j);
    return out;
}

static char *command_spec(const char *cmd, double timeout, double interval)
{
    char *q CR_AUTOFREE = json_quote(cmd);
    return cr_xasprintf("{\"type\":\"COMMAND\",\"command\":{\"value\":%s},\"delay_seconds\":0,"
                        "\"interval_seconds\":%g,\"timeout_seconds\":%g,"
                        "\"grace_period_seconds\":0,\"consecutive_failures\":3}",
                        q, interval, timeout);
}

/* The pid written in dir/name by a check, or 0 when not (fully) there yet. */
static pid_t read_pid(const struct ctx *c, const char *name)
{
    char *path CR_AUTOFREE = cr_xasprintf("%s/%s", c->dir, name);
    char *text CR_AUTOFREE = NULL;
    if (cr_read_file(path, &text, NULL, NULL) < 0 || !strchr(text, '\n'))
        return 0;
    return (pid_t)atoi(text);
}

static bool pid_files_there(struct ctx *c, void *arg)
{
    return read_pid(c, "sh") > 0 && read_pid(c, "bg") > 0;
}

/* Gone, or a zombie left to whoever inherited it. */
static bool is_dead(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    char *text CR_AUTOFREE = NULL;
    if (cr_read_file(path, &text, NULL, NULL) < 0)
        return true;
    const char *rp = strrchr(text, ')');
    return rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

static bool wait_dead(pid_t pid, int timeout_ms)
{
    int64_t end = cr_now_ms() + timeout_ms;
    while (!is_dead(pid) && cr_now_ms() < end)
        usleep(5000);
    return is_dead(pid);
}

static void test_command_healthy_unhealthy(void **state)
{
    struct ctx *c = *state;
    char *flag CR_AUTOFREE = cr_xasprintf("%s/fail", c->dir);
    char *cmd CR_AUTOFREE = cr_xasprintf("test ! -e %s || exit 3", flag);
    char *spec CR_AUTOFREE = command_spec(cmd, 2, 0.02);
    start_checker(c, spec, NULL);
    assert_true(wait_results(c, 1, 3000));
    expect(c, 0, true, 0, false, "Command health check passed");

    FILE *fp = fopen(flag, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_true(wait_results(c, 3, 3000));
    expect(c, 1, false, 1, false, "Command health check failed: exited with status 3");
    expect(c, 2, false, 3, true, "exited with status 3");

    unlink(flag);
    assert_true(wait_results(c, 4, 3000));
    expect(c, 3, true, 0, false, "passed");
}

static void test_command_timeout_kills_the_check(void **state)
{
    struct ctx *c = *state;
    char *cmd CR_AUTOFREE =
        cr_xasprintf("echo $$ > %s/sh; sleep 5 & echo $! > %s/bg; wait", c->dir, c->dir);
    char *spec CR_AUTOFREE = command_spec(cmd, 1, 10);
    start_checker(c, spec, NULL);
    assert_true(wait_results(c, 1, 4000));
    expect(c, 0, false, 1, false, "Command health check timed out after 1 seconds");
    assert_true(c->results[0].at_ms >= 1000 && c->results[0].at_ms < 3000);
    pid_t sh = read_pid(c, "sh"), bg = read_pid(c, "bg");
    assert_true(sh > 0 && bg > 0);
    /* Both the shell and its background sleep die; the shell is reaped by the checker. */
    assert_true(wait_dead(bg, 2000));
    run_for(c, 100);
    assert_int_equal(kill(sh, 0), -1);
    assert_int_equal(errno, ESRCH);
}

static void test_command_free_kills_and_reaps(void **state)
{
    struct ctx *c = *state;
    char *cmd CR_AUTOFREE =
        cr_xasprintf("echo $$ > %s/sh; sleep 5 & echo $! > %s/bg; wait", c->dir, c->dir);
    char *spec CR_AUTOFREE = command_spec(cmd, 0, 10); /* no timeout */
    start_checker(c, spec, NULL);
    assert_true(run_while(c, pid_files_there, NULL, 3000));
    pid_t sh = read_pid(c, "sh"), bg = read_pid(c, "bg");
    cr_health_checker_free(c->hc);
    c->hc = NULL;
    /* Reaped before free returned: not even a zombie is left. */
    assert_int_equal(kill(sh, 0), -1);
    assert_int_equal(errno, ESRCH);
    assert_true(wait_dead(bg, 2000));
    assert_int_equal(c->n, 0);
}

static void test_command_env_sandbox_exec_form(void **state)
{
    struct ctx *c = *state;
    const char *envp[] = {"PATH=/usr/bin:/bin", "BASE=1", "FOO=old", NULL};
    struct cr_health_target t = {.sandbox = c->dir, .envp = envp};
    char *spec CR_AUTOFREE = cr_xasprintf(
        "{\"type\":\"COMMAND\",\"command\":{\"value\":\"test \\\"$FOO\\\" = bar && test "
        "\\\"$BASE\\\" = 1 && test \\\"$(pwd)\\\" = %s && ! read x\","
        "\"environment\":{\"variables\":[{\"name\":\"FOO\",\"value\":\"bar\"}]}},"
        "\"delay_seconds\":0,\"interval_seconds\":10,\"grace_period_seconds\":0}",
        c->dir);
    start_checker(c, spec, &t);
    assert_true(wait_results(c, 1, 3000));
    expect(c, 0, true, 0, false, "passed");
    cr_health_checker_free(c->hc);
    c->hc = NULL;

    /* shell = false: value is the program (searched in PATH), arguments the argv. */
    c->n = 0;
    start_checker(c,
                  "{\"type\":\"COMMAND\",\"command\":{\"shell\":false,\"value\":\"sh\","
                  "\"arguments\":[\"sh\",\"-c\",\"exit 7\"]},\"delay_seconds\":0,"
                  "\"interval_seconds\":10,\"grace_period_seconds\":0}",
                  &t);
    assert_true(wait_results(c, 1, 3000));
    expect(c, 0, false, 1, false, "exited with status 7");
    cr_health_checker_free(c->hc);
    c->hc = NULL;

    c->n = 0;
    start_checker(c,
                  "{\"type\":\"COMMAND\",\"command\":{\"shell\":false,\"value\":"
                  "\"no-such-program-xyz\"},\"delay_seconds\":0,\"interval_seconds\":10,"
                  "\"grace_period_seconds\":0}",
                  &t);
    assert_true(wait_results(c, 1, 3000));
    expect(c, 0, false, 1, false,
           "Command health check failed: execute 'no-such-program-xyz': No such file or "
           "directory");
    cr_health_checker_free(c->hc);
    c->hc = NULL;

    /* A sandbox that does not exist is named. */
    c->n = 0;
    struct cr_health_target bad = {.sandbox = "/nonexistent-sandbox"};
    start_checker(c,
                  "{\"type\":\"COMMAND\",\"command\":{\"value\":\"true\"},\"delay_seconds\":0,"
                  "\"grace_period_seconds\":0}",
                  &bad);
    assert_true(wait_results(c, 1, 3000));
    expect(c, 0, false, 1, false,
           "change to the sandbox '/nonexistent-sandbox': No such file or directory");
}

static void test_command_user_and_cgroup(void **state)
{
    struct ctx *c = *state;
    struct passwd *pw = getpwnam("nobody");
    if (geteuid() != 0 || !pw)
        skip();
    char *cmd CR_AUTOFREE = cr_xasprintf("test \"$(id -u)\" = %d", (int)pw->pw_uid);
    char *spec CR_AUTOFREE = command_spec(cmd, 2, 10);
    struct cr_health_target t = {.user = "nobody"};

    /* Join a cgroup of our own in a v1 hierarchy when there is one. */
    char *cg CR_AUTOFREE = cr_xasprintf("/sys/fs/cgroup/pids/corral-hc-test-%d", (int)getpid());
    char *procs CR_AUTOFREE = cr_xasprintf("%s/cgroup.procs", cg);
    bool has_cgroup = mkdir(cg, 0755) == 0;
    const char *procs_v[] = {procs};
    char *full CR_AUTOFREE = NULL;
    if (has_cgroup) {
        t.cgroup_procs = procs_v;
        t.ncgroup_procs = 1;
        full = cr_xasprintf("%s && grep -q ':pids:/corral-hc-test-%d$' /proc/self/cgroup", cmd,
                            (int)getpid());
        free(spec);
        spec = command_spec(full, 2, 10);
    }
    start_checker(c, spec, &t);
    assert_true(wait_results(c, 1, 3000));
    expect(c, 0, true, 0, false, "passed");
    cr_health_checker_free(c->hc);
    c->hc = NULL;
    if (has_cgroup) {
        int rc = -1;
        for (int i = 0; i < 100 && (rc = rmdir(cg)) < 0 && errno == EBUSY; i++)
            usleep(10000);
        assert_int_equal(rc, 0);
    }

    /* An unknown user fails at creation. */
    struct cr_health_spec s;
    parse_ok("{\"command\":{\"value\":\"true\"}}", &s);
    struct cr_health_target bad = {.user = "no-such-user-xyz"};
    struct cr_health_checker *hc = NULL;
    struct cr_err err;
    assert_int_equal(cr_health_checker_new(&c->loop, &s, &bad, on_result, c, &hc, &err), -ENOENT);
    assert_null(hc);
    assert_non_null(strstr(err.msg, "user 'no-such-user-xyz' does not exist"));
    cr_health_spec_release(&s);
}

/* ================================================================== part 3: namespaces */

/*
 * A "task" in new uts+mount+pid namespaces: pid 1 there, hostname hc-test, a tmpfs on
 * dir holding a file "marker" that only its mount namespace sees. Returns its host pid.
 */
static pid_t start_ns_task(const char *dir)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    char *marker CR_AUTOFREE = cr_xasprintf("%s/marker", dir);
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUTS | CLONE_NEWNS | CLONE_NEWPID | SIGCHLD, NULL,
                               NULL, NULL, NULL);
    if (pid == 0) {
        char ok = 'y';
        int fd = -1;
        if (sethostname("hc-test", 7) < 0 ||
            mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("tmpfs", dir, "tmpfs", 0, "size=64k") < 0 ||
            (fd = open(marker, O_CREAT | O_WRONLY | O_CLOEXEC, 0644)) < 0)
            ok = 'n';
        if (fd >= 0)
            close(fd);
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
        if (write(p[1], &ok, 1) != 1)
            _exit(1);
        /* As an init: reap whatever is reparented here. */
        for (;;)
            if (waitpid(-1, NULL, 0) < 0)
                usleep(5000);
    }
    assert_true(pid > 0);
    close(p[1]);
    char ok = 0;
    assert_int_equal(read(p[0], &ok, 1), 1);
    close(p[0]);
    if (ok != 'y') {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fail_msg("could not set up the namespaced task");
    }
    return pid;
}

static void stop_pid(pid_t pid)
{
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

static void test_command_enters_namespaces(void **state)
{
    struct ctx *c = *state;
    if (geteuid() != 0)
        skip();
    char *nsdir CR_AUTOFREE = cr_xasprintf("%s/ns", c->dir);
    assert_int_equal(mkdir(nsdir, 0755), 0);
    pid_t task = start_ns_task(nsdir);

    /* hostname from the uts ns, the marker from the mount ns, $$ small in the pid ns. */
    char *cmd CR_AUTOFREE = cr_xasprintf(
        "test \"$(hostname)\" = hc-test && test -f %s/marker && test $$ -lt 10", nsdir);
    char *spec CR_AUTOFREE = command_spec(cmd, 3, 10);
    struct cr_health_target t = {.pid = task, .sandbox = "/", .enter_namespaces = true};
    start_checker(c, spec, &t);
    bool got = wait_results(c, 1, 4000);
    if (got && !c->results[0].healthy)
        fprintf(stderr, "check said: %s\n", c->results[0].message);
    assert_true(got);
    expect(c, 0, true, 0, false, "passed");
    cr_health_checker_free(c->hc);
    c->hc = NULL;

    /* The same check outside the namespaces fails: the test can tell. */
    c->n = 0;
    t.enter_namespaces = false;
    start_checker(c, spec, &t);
    assert_true(wait_results(c, 1, 4000));
    expect(c, 0, false, 1, false, "exited with status 1");
    cr_health_checker_free(c->hc);
    c->hc = NULL;

    /* The command's processes are gone with the check (timeout path, double fork). */
    c->n = 0;
    t.enter_namespaces = true;
    char *slow_spec CR_AUTOFREE = command_spec("sleep 5", 0.3, 10);
    start_checker(c, slow_spec, &t);
    assert_true(wait_results(c, 1, 3000));
    expect(c, 0, false, 1, false, "timed out after 0.3 seconds");
    cr_health_checker_free(c->hc);
    c->hc = NULL;
    /* Only the task (pid 1 there) is left in its pid namespace. */
    char *children CR_AUTOFREE = NULL;
    char *path CR_AUTOFREE = cr_xasprintf("/proc/%d/task/%d/children", (int)task, (int)task);
    int64_t end = cr_now_ms() + 2000;
    do {
        free(children);
        children = NULL;
        assert_int_equal(cr_read_file(path, &children, NULL, NULL), 0);
        if (!*children)
            break;
        usleep(10000);
    } while (cr_now_ms() < end);
    assert_string_equal(children, "");

    /* A task that is gone: the namespace files cannot be opened. */
    stop_pid(task);
    c->n = 0;
    start_checker(c, spec, &t);
    assert_true(wait_results(c, 1, 3000));
    char *want CR_AUTOFREE = cr_xasprintf("open '/proc/%d/ns/ipc'", (int)task);
    expect(c, 0, false, 1, false, want);
}

/* A forked HTTP server alone in a new network namespace, on 127.0.0.1:port there. */
static pid_t start_netns_server(int port)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        char ok = 'n';
        int s = -1, ctl = -1;
        struct ifreq ifr;
        memset(&ifr, 0, sizeof(ifr));
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (unshare(CLONE_NEWNET) == 0 && (ctl = socket(AF_INET, SOCK_DGRAM, 0)) >= 0 &&
            ioctl(ctl, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags |= IFF_UP) &&
            ioctl(ctl, SIOCSIFFLAGS, &ifr) == 0 && (s = socket(AF_INET, SOCK_STREAM, 0)) >= 0 &&
            bind(s, (struct sockaddr *)&sin, sizeof(sin)) == 0 && listen(s, 8) == 0)
            ok = 'y';
        if (write(p[1], &ok, 1) != 1 || ok != 'y')
            _exit(1);
        for (;;) {
            int k = accept(s, NULL, NULL);
            if (k < 0)
                continue;
            char buf[1024];
            ssize_t n = read(k, buf, sizeof(buf));
            (void)n;
            const char *resp = "HTTP/1.1 204 No Content\r\n\r\n";
            n = write(k, resp, strlen(resp));
            close(k);
        }
    }
    close(p[1]);
    char ok = 0;
    assert_int_equal(read(p[0], &ok, 1), 1);
    close(p[0]);
    if (ok != 'y') {
        stop_pid(pid);
        fail_msg("could not start the server in a network namespace");
    }
    return pid;
}

static void test_http_in_task_netns(void **state)
{
    struct ctx *c = *state;
    if (geteuid() != 0)
        skip();
    /* A port nobody listens on here (bound and released), used inside the netns. */
    struct server probe = {.response = NULL};
    server_open(&probe, &c->loop, 0);
    int port = probe.port;
    server_close(&probe);
    run_for(c, 10);
    pid_t task = start_netns_server(port);

    char spec[512];
    snprintf(spec, sizeof(spec),
             "{\"type\":\"HTTP\",\"http\":{\"port\":%d,\"path\":\"/ping\"},\"delay_seconds\":0,"
             "\"interval_seconds\":10,\"timeout_seconds\":2,\"grace_period_seconds\":0}",
             port);
    struct cr_health_target t = {.pid = task, .enter_namespaces = true};
    start_checker(c, spec, &t);
    assert_true(wait_results(c, 1, 3000));
    expect(c, 0, true, 0, false, "HTTP health check passed: 204 No Content");
    cr_health_checker_free(c->hc);
    c->hc = NULL;

    /* From the executor's own namespace the port is closed: the socket really was in the
     * task's namespace, and the executor is back in its own (this connect proves it). */
    c->n = 0;
    t.enter_namespaces = false;
    start_checker(c, spec, &t);
    assert_true(wait_results(c, 1, 3000));
    expect(c, 0, false, 1, false, "Connection refused");
    stop_pid(task);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_http_full),
        cmocka_unit_test(test_parse_defaults_and_old_shape),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test_setup_teardown(test_http_unhealthy_and_back, ctx_setup, ctx_teardown),
        cmocka_unit_test_setup_teardown(test_http_redirect_is_healthy_and_timeout, ctx_setup,
                                        ctx_teardown),
        cmocka_unit_test_setup_teardown(test_tcp_and_kill_threshold, ctx_setup, ctx_teardown),
        cmocka_unit_test_setup_teardown(test_kill_with_free_in_callback, ctx_setup, ctx_teardown),
        cmocka_unit_test_setup_teardown(test_grace_period, ctx_setup, ctx_teardown),
        cmocka_unit_test_setup_teardown(test_grace_ends_with_first_success, ctx_setup,
                                        ctx_teardown),
        cmocka_unit_test_setup_teardown(test_delay_pause_and_resume, ctx_setup, ctx_teardown),
        cmocka_unit_test_setup_teardown(test_tcp_ipv6, ctx_setup, ctx_teardown),
        cmocka_unit_test_setup_teardown(test_command_healthy_unhealthy, ctx_setup, ctx_teardown),
        cmocka_unit_test_setup_teardown(test_command_timeout_kills_the_check, ctx_setup,
                                        ctx_teardown),
        cmocka_unit_test_setup_teardown(test_command_free_kills_and_reaps, ctx_setup, ctx_teardown),
        cmocka_unit_test_setup_teardown(test_command_env_sandbox_exec_form, ctx_setup,
                                        ctx_teardown),
        cmocka_unit_test_setup_teardown(test_command_user_and_cgroup, ctx_setup, ctx_teardown),
        cmocka_unit_test_setup_teardown(test_command_enters_namespaces, ctx_setup, ctx_teardown),
        cmocka_unit_test_setup_teardown(test_http_in_task_netns, ctx_setup, ctx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
