/*
 * test_http_client.c - the async client against a real server on the same loop:
 * responses and captured headers, redirects (307 keeps POST and body, protocol-relative
 * Location), errors mapped to errno, cancellation, RecordIO streams arriving record by
 * record, re-entrant use from callbacks (send, cancel, free), keep-alive reuse, and the
 * blocking cr_http_fetch() against a server on another thread.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/log.h"
#include "base/util.h"
#include "helpers.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/loop.h"
#include "net/recordio.h"

/* ---- the server side ---- */

struct srv_ctx {
    struct cr_http_server *srv;
    uint16_t port;
    struct cr_http_req *held[8];
    int n_held;
    struct cr_http_stream *stream;
    int stream_closes;
    int requests;
};

static void on_srv_stream_close(struct cr_http_stream *s, void *ud)
{
    struct srv_ctx *sc = ud;
    sc->stream_closes++;
    cr_http_stream_release(s);
    if (sc->stream == s)
        sc->stream = NULL;
}

static void srv_handler(struct cr_http_req *req, void *ud)
{
    struct srv_ctx *sc = ud;
    sc->requests++;
    const char *path = cr_http_req_path(req);
    size_t len;
    const char *body = cr_http_req_body(req, &len);
    if (strcmp(path, "/echo") == 0) {
        char *text = cr_xasprintf("%s %.*s", cr_http_req_method(req), (int)len, body);
        cr_http_req_add_header(req, "mesos-stream-id", "sid-1");
        cr_http_respond(req, 200, "text/plain", text, strlen(text));
        free(text);
    } else if (strcmp(path, "/redirect-rel") == 0) {
        char loc[64];
        snprintf(loc, sizeof(loc), "//127.0.0.1:%u/echo", (unsigned)sc->port);
        cr_http_req_add_header(req, "Location", loc);
        cr_http_respond(req, 307, NULL, NULL, 0);
    } else if (strcmp(path, "/redirect-abs") == 0) {
        char loc[64];
        snprintf(loc, sizeof(loc), "http://127.0.0.1:%u/echo", (unsigned)sc->port);
        cr_http_req_add_header(req, "Location", loc);
        cr_http_respondf(req, 307, "not the leader");
    } else if (strcmp(path, "/redirect-stream") == 0) {
        char loc[64];
        snprintf(loc, sizeof(loc), "//127.0.0.1:%u/stream", (unsigned)sc->port);
        cr_http_req_add_header(req, "Location", loc);
        cr_http_req_add_header(req, "Mesos-Stream-Id", "not-this-one");
        cr_http_respondf(req, 307, "go to the leader");
    } else if (strcmp(path, "/loop") == 0) {
        cr_http_req_add_header(req, "Location", "/loop");
        cr_http_respond(req, 307, NULL, NULL, 0);
    } else if (strcmp(path, "/never") == 0) {
        assert_true(sc->n_held < 8);
        sc->held[sc->n_held++] = req;
    } else if (strcmp(path, "/stream") == 0) {
        cr_http_req_add_header(req, "Mesos-Stream-Id", "stream-7");
        sc->stream = cr_http_stream_open(req, 200, "application/recordio", on_srv_stream_close, sc);
    } else if (strcmp(path, "/missing") == 0) {
        cr_http_respondf(req, 404, "no such thing");
    } else {
        cr_http_respondf(req, 400, "unknown path %s", path);
    }
}

struct fixture {
    uv_loop_t loop;
    struct srv_ctx sc;
    struct cr_http_client *client;
    char base[64];
};

static struct fixture *fx_new(void)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    struct cr_http_server_config cfg = {
        .bind_ip = "127.0.0.1", .handler = srv_handler, .ud = &f->sc};
    struct cr_err err;
    assert_int_equal(cr_http_server_start(&f->loop, &cfg, &f->sc.srv, &err), 0);
    f->sc.port = cr_http_server_port(f->sc.srv);
    snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%u", (unsigned)f->sc.port);
    assert_int_equal(cr_http_client_new(&f->loop, &f->client, &err), 0);
    return f;
}

static void fx_free(struct fixture *f)
{
    cr_http_client_free(f->client);
    cr_http_server_free(f->sc.srv);
    cr_loop_close_all(&f->loop);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
}

static char *url(struct fixture *f, const char *path)
{
    return cr_xasprintf("%s%s", f->base, path);
}

/* ---- the client side: recorded results ---- */

struct result {
    int calls;
    int rc;
    char msg[256];
    int status;
    char body[512];
    char location[128], stream_id[64], content_type[64];
    bool has_location;
    bool done;
};

static void on_done(int rc, const char *msg, const struct cr_http_response *resp, void *ud)
{
    struct result *r = ud;
    r->calls++;
    r->rc = rc;
    r->done = true;
    snprintf(r->msg, sizeof(r->msg), "%s", msg);
    if (rc == 0) {
        assert_non_null(resp);
        r->status = resp->status;
        snprintf(r->body, sizeof(r->body), "%.*s", (int)resp->len, resp->body);
        r->has_location = resp->location != NULL;
        snprintf(r->location, sizeof(r->location), "%s", resp->location ? resp->location : "");
        snprintf(r->stream_id, sizeof(r->stream_id), "%s", resp->stream_id ? resp->stream_id : "");
        snprintf(r->content_type, sizeof(r->content_type), "%s",
                 resp->content_type ? resp->content_type : "");
    } else {
        assert_null(resp);
        assert_true(msg[0] != '\0');
    }
}

static struct cr_http_call *send_simple(struct fixture *f, const char *method, const char *path,
                                        const char *body, bool follow, long timeout_ms,
                                        struct result *r)
{
    char *u = url(f, path);
    struct cr_http_request req = {.method = method,
                                  .url = u,
                                  .body = body,
                                  .body_len = body ? strlen(body) : 0,
                                  .timeout_ms = timeout_ms,
                                  .follow_redirects = follow};
    struct cr_err err;
    struct cr_http_call *call = cr_http_client_send(f->client, &req, on_done, r, &err);
    free(u); /* everything in req is copied */
    assert_non_null(call);
    return call;
}

static void test_get_post_and_headers(void **state)
{
    (void)state;
    struct fixture *f = fx_new();
    struct result r = {0};
    send_simple(f, "GET", "/echo", NULL, false, 5000, &r);
    assert_true(th_run_until(&f->loop, &r.done, 5000));
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "GET ");
    assert_string_equal(r.stream_id, "sid-1"); /* sent lower-case */
    assert_string_equal(r.content_type, "text/plain");
    assert_false(r.has_location);

    struct result p = {0};
    send_simple(f, "POST", "/echo", "{\"type\":\"SUBSCRIBE\"}", false, 5000, &p);
    assert_true(th_run_until(&f->loop, &p.done, 5000));
    assert_string_equal(p.body, "POST {\"type\":\"SUBSCRIBE\"}");

    struct result d = {0};
    send_simple(f, "DELETE", "/echo", NULL, false, 5000, &d);
    assert_true(th_run_until(&f->loop, &d.done, 5000));
    assert_string_equal(d.body, "DELETE ");

    struct result nf = {0};
    send_simple(f, "GET", "/missing", NULL, false, 5000, &nf);
    assert_true(th_run_until(&f->loop, &nf.done, 5000));
    assert_int_equal(nf.rc, 0); /* any HTTP status is a response */
    assert_int_equal(nf.status, 404);
    fx_free(f);
}

static void test_redirects(void **state)
{
    (void)state;
    struct fixture *f = fx_new();
    /* Not followed: the 307 and its Location come back. */
    struct result r = {0};
    send_simple(f, "POST", "/redirect-abs", "body", false, 5000, &r);
    assert_true(th_run_until(&f->loop, &r.done, 5000));
    assert_int_equal(r.status, 307);
    assert_true(r.has_location);
    assert_non_null(strstr(r.location, "/echo"));

    /* Followed, absolute and protocol-relative: still a POST with its body. */
    const char *paths[] = {"/redirect-abs", "/redirect-rel"};
    for (int i = 0; i < 2; i++) {
        struct result fr = {0};
        send_simple(f, "POST", paths[i], "{\"x\":1}", true, 5000, &fr);
        assert_true(th_run_until(&f->loop, &fr.done, 5000));
        assert_int_equal(fr.rc, 0);
        assert_int_equal(fr.status, 200);
        assert_string_equal(fr.body, "POST {\"x\":1}");
        assert_string_equal(fr.stream_id, "sid-1"); /* headers of the final response */
        assert_false(fr.has_location);
    }

    /* A redirect loop ends. */
    struct result lr = {0};
    send_simple(f, "GET", "/loop", NULL, true, 5000, &lr);
    assert_true(th_run_until(&f->loop, &lr.done, 5000));
    assert_int_equal(lr.rc, -ELOOP);
    fx_free(f);
}

static void test_errors(void **state)
{
    (void)state;
    struct fixture *f = fx_new();
    struct cr_err err;

    /* Nothing listening. */
    struct result r = {0};
    char *u = cr_xasprintf("http://127.0.0.1:%u/x", (unsigned)th_dead_port());
    struct cr_http_request req = {.url = u, .timeout_ms = 5000};
    assert_non_null(cr_http_client_send(f->client, &req, on_done, &r, &err));
    assert_true(th_run_until(&f->loop, &r.done, 5000));
    assert_int_equal(r.rc, -ECONNREFUSED);
    assert_non_null(strstr(r.msg, u));
    free(u);

    /* No answer in time. */
    struct result t = {0};
    int64_t t0 = cr_now_ms();
    send_simple(f, "GET", "/never", NULL, false, 300, &t);
    assert_true(th_run_until(&f->loop, &t.done, 5000));
    assert_int_equal(t.rc, -ETIMEDOUT);
    assert_true(cr_now_ms() - t0 >= 250);

    /* Bad URL: immediate failure or an error through done, never a crash. */
    struct result b = {0};
    struct cr_http_request bad = {.url = "ftp://127.0.0.1/x"};
    if (cr_http_client_send(f->client, &bad, on_done, &b, &err)) {
        assert_true(th_run_until(&f->loop, &b.done, 5000));
        assert_int_equal(b.rc, -EINVAL);
    }
    assert_null(
        cr_http_client_send(f->client, &(struct cr_http_request){.url = ""}, on_done, &b, &err));
    assert_int_equal(err.code, -EINVAL);
    fx_free(f);
}

static void test_cancel(void **state)
{
    (void)state;
    struct fixture *f = fx_new();
    struct result r = {0};
    struct cr_http_call *call = send_simple(f, "GET", "/never", NULL, false, 0, &r);
    bool never = false;
    th_run_until(&f->loop, &never, 50);
    assert_int_equal(f->sc.n_held, 1);
    cr_http_call_cancel(call);
    assert_int_equal(r.calls, 1); /* synchronously */
    assert_int_equal(r.rc, -ECANCELED);
    th_pump(&f->loop, 50);
    assert_int_equal(r.calls, 1);

    /* Cancel before the request even left. */
    struct result r2 = {0};
    call = send_simple(f, "GET", "/echo", NULL, false, 0, &r2);
    cr_http_call_cancel(call);
    assert_int_equal(r2.rc, -ECANCELED);
    th_pump(&f->loop, 50);
    assert_int_equal(r2.calls, 1);

    /* Freeing the client cancels what is left, synchronously. */
    struct result r3 = {0};
    send_simple(f, "GET", "/never", NULL, false, 0, &r3);
    th_run_until(&f->loop, &never, 50);
    cr_http_client_free(f->client);
    f->client = NULL;
    assert_int_equal(r3.calls, 1);
    assert_int_equal(r3.rc, -ECANCELED);
    fx_free(f);
}

/* ---- streams ---- */

struct stream_client {
    struct fixture *f;
    struct cr_recordio_reader reader;
    int header_calls;
    int status;
    char stream_id[64];
    char records[16][64];
    int n_records;
    struct result done;
    int stop_after; /* return nonzero from on_data after this many records (0 = never) */
    bool cancel_in_data;
    bool free_in_data;
    bool send_in_data;
    struct cr_http_call *call;
    struct result extra;
};

static int on_record(const char *rec, size_t len, void *ud)
{
    struct stream_client *sc = ud;
    assert_true(sc->n_records < 16);
    snprintf(sc->records[sc->n_records++], 64, "%.*s", (int)len, rec);
    return 0;
}

static int on_stream_headers(const struct cr_http_response *resp, void *ud)
{
    struct stream_client *sc = ud;
    sc->header_calls++;
    sc->status = resp->status;
    snprintf(sc->stream_id, sizeof(sc->stream_id), "%s", resp->stream_id ? resp->stream_id : "");
    assert_int_equal(resp->len, 0);
    return 0;
}

static int on_stream_data(const char *data, size_t len, void *ud)
{
    struct stream_client *sc = ud;
    struct cr_err err;
    assert_int_equal(cr_recordio_feed(&sc->reader, data, len, on_record, sc, &err), 0);
    if (sc->stop_after && sc->n_records >= sc->stop_after)
        return 1;
    if (sc->cancel_in_data) {
        cr_http_call_cancel(sc->call);
        assert_int_equal(sc->done.calls, 1);
        return 0; /* ignored: the call is already over */
    }
    if (sc->free_in_data) {
        cr_http_client_free(sc->f->client);
        sc->f->client = NULL;
        assert_int_equal(sc->done.calls, 1);
        return 0;
    }
    if (sc->send_in_data) {
        sc->send_in_data = false;
        char *u = url(sc->f, "/echo");
        struct cr_http_request req = {.method = "POST", .url = u, .body = "inner", .body_len = 5};
        struct cr_err e;
        assert_non_null(cr_http_client_send(sc->f->client, &req, on_done, &sc->extra, &e));
        free(u);
    }
    return 0;
}

/* One ud serves all of a call's callbacks: record done into sc->done. */
static void on_stream_done(int rc, const char *msg, const struct cr_http_response *resp, void *ud)
{
    struct stream_client *sc = ud;
    on_done(rc, msg, resp, &sc->done);
}

static void start_stream_at(struct fixture *f, struct stream_client *sc, const char *path,
                            bool follow)
{
    sc->f = f;
    cr_recordio_reader_init(&sc->reader, 0);
    char *u = url(f, path);
    const char *headers[] = {"Content-Type: application/json", "Accept: application/recordio",
                             NULL};
    struct cr_http_request req = {.method = "POST",
                                  .url = u,
                                  .headers = headers,
                                  .body = "{\"type\":\"SUBSCRIBE\"}",
                                  .body_len = 20,
                                  .follow_redirects = follow,
                                  .on_headers = on_stream_headers,
                                  .on_data = on_stream_data};
    struct cr_err err;
    sc->call = cr_http_client_send(f->client, &req, on_stream_done, sc, &err);
    assert_non_null(sc->call);
    free(u);
}

static void start_stream(struct fixture *f, struct stream_client *sc)
{
    start_stream_at(f, sc, "/stream", false);
}

static void server_write_record(struct fixture *f, const char *text)
{
    size_t len;
    char *rec = cr_recordio_encode(text, strlen(text), &len);
    assert_int_equal(cr_http_stream_write(f->sc.stream, rec, len), 0);
    free(rec);
}

static bool want_records(struct stream_client *sc, int n, int timeout_ms)
{
    int64_t deadline = cr_now_ms() + timeout_ms;
    while (sc->n_records < n && cr_now_ms() < deadline)
        th_pump(&sc->f->loop, 5);
    return sc->n_records >= n;
}

static void test_stream_records_arrive_live(void **state)
{
    (void)state;
    struct fixture *f = fx_new();
    struct stream_client sc = {0};
    start_stream(f, &sc);
    int64_t deadline = cr_now_ms() + 5000;
    while ((!f->sc.stream || sc.header_calls == 0) && cr_now_ms() < deadline)
        th_pump(&f->loop, 5);
    /* Headers are delivered before any data exists. */
    assert_int_equal(sc.header_calls, 1);
    assert_int_equal(sc.status, 200);
    assert_string_equal(sc.stream_id, "stream-7");
    for (int i = 0; i < 5; i++) {
        char text[32];
        snprintf(text, sizeof(text), "{\"event\":%d}", i);
        server_write_record(f, text);
        /* Each record reaches the client while the stream is still open. */
        assert_true(want_records(&sc, i + 1, 5000));
        assert_string_equal(sc.records[i], text);
    }
    assert_false(sc.done.done);
    cr_http_stream_release(f->sc.stream);
    f->sc.stream = NULL;
    assert_true(th_run_until(&f->loop, &sc.done.done, 5000));
    assert_int_equal(sc.done.rc, 0);
    assert_int_equal(sc.done.status, 200);
    assert_string_equal(sc.done.body, ""); /* streams buffer nothing */
    assert_int_equal(sc.header_calls, 1);
    cr_recordio_reader_release(&sc.reader);
    fx_free(f);
}

static void test_stream_through_redirect(void **state)
{
    (void)state;
    struct fixture *f = fx_new();
    struct stream_client sc = {0};
    start_stream_at(f, &sc, "/redirect-stream", true);
    int64_t deadline = cr_now_ms() + 5000;
    while ((!f->sc.stream || sc.header_calls == 0) && cr_now_ms() < deadline)
        th_pump(&f->loop, 5);
    /* Only the final response's headers are reported, and the 307's body is not data. */
    assert_int_equal(sc.header_calls, 1);
    assert_int_equal(sc.status, 200);
    assert_string_equal(sc.stream_id, "stream-7");
    server_write_record(f, "{\"type\":\"SUBSCRIBED\"}");
    assert_true(want_records(&sc, 1, 5000));
    assert_string_equal(sc.records[0], "{\"type\":\"SUBSCRIBED\"}");
    assert_int_equal(f->sc.requests, 2);
    cr_http_call_cancel(sc.call);
    assert_int_equal(sc.done.rc, -ECANCELED);
    th_pump(&f->loop, 20);
    assert_int_equal(f->sc.stream_closes, 1); /* the server saw the client leave */
    cr_recordio_reader_release(&sc.reader);
    fx_free(f);
}

static void test_stream_broken_by_server(void **state)
{
    (void)state;
    struct fixture *f = fx_new();
    struct stream_client sc = {0};
    start_stream(f, &sc);
    int64_t deadline = cr_now_ms() + 5000;
    while (sc.header_calls == 0 && cr_now_ms() < deadline)
        th_pump(&f->loop, 5);
    server_write_record(f, "one");
    assert_true(want_records(&sc, 1, 5000));
    cr_http_server_free(f->sc.srv);
    f->sc.srv = NULL;
    assert_int_equal(f->sc.stream_closes, 1);
    assert_true(th_run_until(&f->loop, &sc.done.done, 5000));
    assert_true(sc.done.rc < 0);
    assert_int_equal(sc.done.calls, 1);
    cr_recordio_reader_release(&sc.reader);
    fx_free(f);
}

static void test_stream_callbacks_reentrant(void **state)
{
    (void)state;
    for (int variant = 0; variant < 4; variant++) {
        struct fixture *f = fx_new();
        struct stream_client sc = {0};
        sc.stop_after = variant == 0 ? 2 : 0;
        sc.cancel_in_data = variant == 1;
        sc.free_in_data = variant == 2;
        sc.send_in_data = variant == 3;
        struct result other = {0};
        if (variant == 2)
            send_simple(f, "GET", "/never", NULL, false, 0, &other);
        start_stream(f, &sc);
        int64_t deadline = cr_now_ms() + 5000;
        while (sc.header_calls == 0 && cr_now_ms() < deadline)
            th_pump(&f->loop, 5);
        server_write_record(f, "r1");
        server_write_record(f, "r2");
        server_write_record(f, "r3");
        th_run_until(&f->loop, &sc.done.done, variant == 3 ? 300 : 5000);
        switch (variant) {
        case 0: /* on_data returned nonzero */
        case 1: /* cancelled from inside on_data */
            assert_int_equal(sc.done.calls, 1);
            assert_int_equal(sc.done.rc, -ECANCELED);
            break;
        case 2: /* client freed from inside on_data */
            assert_int_equal(sc.done.calls, 1);
            assert_int_equal(sc.done.rc, -ECANCELED);
            assert_int_equal(other.calls, 1);
            assert_int_equal(other.rc, -ECANCELED);
            break;
        case 3: /* a new request sent from inside on_data completes */
            assert_true(th_run_until(&f->loop, &sc.extra.done, 5000));
            assert_string_equal(sc.extra.body, "POST inner");
            assert_false(sc.done.done);
            break;
        }
        th_pump(&f->loop, 20);
        assert_true(sc.done.calls <= 1);
        cr_recordio_reader_release(&sc.reader);
        fx_free(f);
    }
}

/* ---- re-entrancy from done ---- */

struct chain {
    struct fixture *f;
    int remaining;
    int completed;
    bool finished;
    bool free_client_at_end;
    struct result others[3];
};

static void chain_send(struct chain *ch);

static void on_chain_done(int rc, const char *msg, const struct cr_http_response *resp, void *ud)
{
    (void)msg;
    struct chain *ch = ud;
    assert_int_equal(rc, 0);
    assert_int_equal(resp->status, 200);
    ch->completed++;
    if (--ch->remaining > 0) {
        chain_send(ch); /* the re-subscribe pattern: send from done */
        return;
    }
    ch->finished = true;
    if (ch->free_client_at_end) {
        cr_http_client_free(ch->f->client); /* free from inside done */
        ch->f->client = NULL;
    }
}

static void chain_send(struct chain *ch)
{
    char *u = url(ch->f, "/echo");
    struct cr_http_request req = {.method = "POST", .url = u, .body = "x", .body_len = 1};
    struct cr_err err;
    assert_non_null(cr_http_client_send(ch->f->client, &req, on_chain_done, ch, &err));
    free(u);
}

/* Established TCP connections in this network namespace whose remote port is port. */
static int count_connections_to(uint16_t port)
{
    FILE *fp = fopen("/proc/net/tcp", "r");
    assert_non_null(fp);
    char line[512];
    int n = 0;
    fgets(line, sizeof(line), fp);
    while (fgets(line, sizeof(line), fp)) {
        unsigned lport, rport, st;
        if (sscanf(line, " %*d: %*8s:%x %*8s:%x %x", &lport, &rport, &st) == 3 && rport == port &&
            st == 1)
            n++;
    }
    fclose(fp);
    return n;
}

static void test_send_and_free_from_done_keepalive(void **state)
{
    (void)state;
    struct fixture *f = fx_new();
    struct chain ch = {.f = f, .remaining = 50, .free_client_at_end = false};
    chain_send(&ch);
    assert_true(th_run_until(&f->loop, &ch.finished, 10000));
    assert_int_equal(ch.completed, 50);
    assert_int_equal(f->sc.requests, 50);
    /* 50 sequential requests went over one kept-alive connection. */
    assert_int_equal(count_connections_to(f->sc.port), 1);

    struct chain ch2 = {.f = f, .remaining = 3, .free_client_at_end = true};
    for (int i = 0; i < 3; i++)
        send_simple(f, "GET", "/never", NULL, false, 0, &ch2.others[i]);
    chain_send(&ch2);
    assert_true(th_run_until(&f->loop, &ch2.finished, 10000));
    assert_null(f->client);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ch2.others[i].calls, 1);
        assert_int_equal(ch2.others[i].rc, -ECANCELED);
    }
    fx_free(f);
}

static void test_many_parallel(void **state)
{
    (void)state;
    struct fixture *f = fx_new();
    enum { N = 200 };
    struct result *rs = calloc(N, sizeof(*rs));
    for (int i = 0; i < N; i++) {
        char body[16];
        snprintf(body, sizeof(body), "%d", i);
        send_simple(f, "POST", "/echo", body, false, 10000, &rs[i]);
    }
    int64_t deadline = cr_now_ms() + 15000;
    int done = 0;
    while (done < N && cr_now_ms() < deadline) {
        th_pump(&f->loop, 5);
        done = 0;
        for (int i = 0; i < N; i++)
            done += rs[i].done;
    }
    assert_int_equal(done, N);
    for (int i = 0; i < N; i++) {
        char want[32];
        snprintf(want, sizeof(want), "POST %d", i);
        assert_int_equal(rs[i].calls, 1);
        assert_string_equal(rs[i].body, want);
    }
    free(rs);
    fx_free(f);
}

/* ---- blocking fetch against a server on another thread ---- */

struct thread_srv {
    uv_loop_t loop;
    uv_async_t stop;
    struct srv_ctx sc;
    pthread_t thread;
    bool ready;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static void on_stop(uv_async_t *a)
{
    struct thread_srv *ts = a->data;
    cr_http_server_free(ts->sc.srv);
    ts->sc.srv = NULL;
    uv_close((uv_handle_t *)&ts->stop, NULL);
}

static void *srv_thread(void *arg)
{
    struct thread_srv *ts = arg;
    uv_loop_init(&ts->loop);
    struct cr_http_server_config cfg = {
        .bind_ip = "127.0.0.1", .handler = srv_handler, .ud = &ts->sc};
    struct cr_err err;
    if (cr_http_server_start(&ts->loop, &cfg, &ts->sc.srv, &err) != 0)
        abort();
    ts->sc.port = cr_http_server_port(ts->sc.srv);
    uv_async_init(&ts->loop, &ts->stop, on_stop);
    ts->stop.data = ts;
    pthread_mutex_lock(&ts->mu);
    ts->ready = true;
    pthread_cond_signal(&ts->cv);
    pthread_mutex_unlock(&ts->mu);
    uv_run(&ts->loop, UV_RUN_DEFAULT);
    cr_loop_close_all(&ts->loop);
    uv_loop_close(&ts->loop);
    return NULL;
}

static void test_fetch_blocking(void **state)
{
    (void)state;
    struct thread_srv *ts = calloc(1, sizeof(*ts));
    pthread_mutex_init(&ts->mu, NULL);
    pthread_cond_init(&ts->cv, NULL);
    pthread_create(&ts->thread, NULL, srv_thread, ts);
    pthread_mutex_lock(&ts->mu);
    while (!ts->ready)
        pthread_cond_wait(&ts->cv, &ts->mu);
    pthread_mutex_unlock(&ts->mu);

    char u[96];
    int status;
    char *body;
    size_t len;
    struct cr_err err;
    snprintf(u, sizeof(u), "http://127.0.0.1:%u/echo", (unsigned)ts->sc.port);
    assert_int_equal(cr_http_fetch("GET", u, NULL, NULL, 0, 5000, &status, &body, &len, &err), 0);
    assert_int_equal(status, 200);
    assert_string_equal(body, "GET ");
    free(body);

    const char *hdrs[] = {"Content-Type: application/json", NULL};
    snprintf(u, sizeof(u), "http://127.0.0.1:%u/redirect-rel", (unsigned)ts->sc.port);
    assert_int_equal(
        cr_http_fetch("POST", u, hdrs, "{\"k\":2}", 7, 5000, &status, &body, &len, &err), 0);
    assert_int_equal(status, 200);
    assert_int_equal(len, 12);
    assert_string_equal(body, "POST {\"k\":2}");
    free(body);

    snprintf(u, sizeof(u), "http://127.0.0.1:%u/x", (unsigned)th_dead_port());
    assert_int_equal(cr_http_fetch("GET", u, NULL, NULL, 0, 5000, &status, &body, &len, &err),
                     -ECONNREFUSED);
    assert_null(body);
    assert_non_null(strstr(err.msg, "127.0.0.1"));

    uv_async_send(&ts->stop);
    pthread_join(ts->thread, NULL);
    pthread_mutex_destroy(&ts->mu);
    pthread_cond_destroy(&ts->cv);
    free(ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_post_and_headers),
        cmocka_unit_test(test_redirects),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_stream_records_arrive_live),
        cmocka_unit_test(test_stream_through_redirect),
        cmocka_unit_test(test_stream_broken_by_server),
        cmocka_unit_test(test_stream_callbacks_reentrant),
        cmocka_unit_test(test_send_and_free_from_done_keepalive),
        cmocka_unit_test(test_many_parallel),
        cmocka_unit_test(test_fetch_blocking),
    };
    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    if (getenv("TEST_DEBUG"))
        cr_log_set_level(CR_LOG_DEBUG);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
