/*
 * test_http_server.c - the HTTP server seen from raw loopback sockets: request parsing
 * and bodies (plain, chunked, too large), late answers, keep-alive, and streams checked
 * byte for byte (one chunk per write, headers before the first write, idle CPU, client
 * disconnect, release, server shutdown).
 */
#include <errno.h>
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
#include "net/http_server.h"
#include "net/loop.h"
#include "net/recordio.h"

enum mode {
    M_ECHO,       /* answer at once with what was received */
    M_LATER,      /* keep the request; the test answers it */
    M_STREAM,     /* open a stream; the test writes */
    M_STREAM_END, /* open a stream, write two records, release at once */
    M_FREE_SRV,   /* free the server from inside the handler */
};

struct ctx {
    uv_loop_t loop;
    struct cr_http_server *srv;
    enum mode mode;
    int calls;
    struct cr_http_req *held;
    struct cr_http_stream *stream;
    int closes;
    bool closed;
    bool release_in_close;
    char seen_method[16], seen_path[128], seen_query[64], seen_header[64], seen_peer[64];
    char *seen_body;
    size_t seen_len;
};

static void on_stream_close(struct cr_http_stream *s, void *ud)
{
    struct ctx *c = ud;
    assert_ptr_equal(s, c->stream);
    c->closes++;
    c->closed = true;
    /* Writes after close fail; the owner may release right here. */
    assert_int_equal(cr_http_stream_write(s, "x", 1), -EPIPE);
    if (c->release_in_close) {
        cr_http_stream_release(s);
        c->stream = NULL;
    }
}

static void handler(struct cr_http_req *req, void *ud)
{
    struct ctx *c = ud;
    c->calls++;
    snprintf(c->seen_method, sizeof(c->seen_method), "%s", cr_http_req_method(req));
    snprintf(c->seen_path, sizeof(c->seen_path), "%s", cr_http_req_path(req));
    const char *q = cr_http_req_query(req, "name");
    snprintf(c->seen_query, sizeof(c->seen_query), "%s", q ? q : "(none)");
    const char *h = cr_http_req_header(req, "x-CUSTOM");
    snprintf(c->seen_header, sizeof(c->seen_header), "%s", h ? h : "(none)");
    snprintf(c->seen_peer, sizeof(c->seen_peer), "%s", cr_http_req_peer(req));
    size_t len;
    const char *body = cr_http_req_body(req, &len);
    free(c->seen_body);
    c->seen_body = malloc(len + 1);
    memcpy(c->seen_body, body, len + 1);
    c->seen_len = len;

    switch (c->mode) {
    case M_ECHO:
        cr_http_req_add_header(req, "Location", "//127.0.0.1:1/x");
        cr_http_req_add_header(req, "Mesos-Stream-Id", "abc-123");
        cr_http_respond(req, 200, "application/json", body, len);
        return;
    case M_LATER:
        c->held = req;
        return;
    case M_STREAM:
        cr_http_req_add_header(req, "Mesos-Stream-Id", "s-1");
        c->stream = cr_http_stream_open(req, 200, "application/recordio", on_stream_close, c);
        assert_non_null(c->stream);
        return;
    case M_STREAM_END: {
        struct cr_http_stream *s = cr_http_stream_open(req, 200, "text/plain", on_stream_close, c);
        assert_int_equal(cr_http_stream_write(s, "first", 5), 0);
        assert_int_equal(cr_http_stream_write(s, "second", 6), 0);
        assert_true(cr_http_stream_pending(s) > 0);
        cr_http_stream_release(s);
        return;
    }
    case M_FREE_SRV:
        cr_http_server_free(c->srv);
        c->srv = NULL;
        return;
    }
}

static struct ctx *setup_ctx(enum mode mode, size_t max_body)
{
    struct ctx *c = calloc(1, sizeof(*c));
    assert_int_equal(uv_loop_init(&c->loop), 0);
    c->mode = mode;
    struct cr_http_server_config cfg = {
        .bind_ip = "127.0.0.1", .port = 0, .max_body_bytes = max_body, .handler = handler, .ud = c};
    struct cr_err err;
    int rc = cr_http_server_start(&c->loop, &cfg, &c->srv, &err);
    if (rc != 0)
        fail_msg("start: %s", err.msg);
    assert_true(cr_http_server_port(c->srv) > 0);
    return c;
}

static void teardown_ctx(struct ctx *c)
{
    cr_http_server_free(c->srv);
    cr_http_stream_release(c->stream);
    cr_loop_close_all(&c->loop);
    assert_int_equal(uv_loop_close(&c->loop), 0);
    free(c->seen_body);
    free(c);
}

/* Send a request on fd and read one complete response into r (acc keeps leftovers). */
static void roundtrip(struct ctx *c, int fd, const char *request, struct cr_buf *acc,
                      struct th_resp *r)
{
    assert_int_equal(th_sends(&c->loop, fd, request), 0);
    assert_true(th_read_until(&c->loop, fd, acc, r, th_want_complete, NULL, 5000, NULL));
}

static void test_get_query_headers(void **state)
{
    (void)state;
    struct ctx *c = setup_ctx(M_ECHO, 0);
    int fd = th_connect(cr_http_server_port(c->srv));
    assert_true(fd >= 0);
    struct cr_buf acc;
    cr_buf_init(&acc);
    struct th_resp r = {0};
    roundtrip(c, fd, "GET /a%20b/c?name=x%20y&other=1 HTTP/1.1\r\nHost: t\r\nX-Custom: Foo\r\n\r\n",
              &acc, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(c->calls, 1);
    assert_string_equal(c->seen_method, "GET");
    assert_string_equal(c->seen_path, "/a b/c");
    assert_string_equal(c->seen_query, "x y");
    assert_string_equal(c->seen_header, "Foo");
    assert_string_equal(c->seen_peer, "127.0.0.1");
    assert_int_equal(c->seen_len, 0);
    char v[128];
    assert_non_null(th_header(&r, "content-type", v, sizeof(v)));
    assert_string_equal(v, "application/json");
    assert_non_null(th_header(&r, "Location", v, sizeof(v)));
    assert_string_equal(v, "//127.0.0.1:1/x");
    assert_non_null(th_header(&r, "mesos-stream-id", v, sizeof(v)));
    assert_string_equal(v, "abc-123");
    th_resp_release(&r);
    cr_buf_release(&acc);
    close(fd);
    teardown_ctx(c);
}

static void test_post_bodies(void **state)
{
    (void)state;
    struct ctx *c = setup_ctx(M_ECHO, 0);
    int fd = th_connect(cr_http_server_port(c->srv));
    struct cr_buf acc;
    cr_buf_init(&acc);
    struct th_resp r = {0};

    /* Content-Length body. */
    roundtrip(c, fd,
              "POST /api HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
              "Content-Length: 13\r\n\r\n{\"a\": \"b c\"}\n",
              &acc, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(c->seen_method, "POST");
    assert_int_equal(c->seen_len, 13);
    assert_memory_equal(c->seen_body, "{\"a\": \"b c\"}\n", 13);
    assert_int_equal(r.body.len, 13);
    th_buf_consume(&acc, r.used);

    /* Chunked body with no Content-Length, sent in pieces with pauses (as Node does). */
    assert_int_equal(
        th_sends(&c->loop, fd,
                 "POST /api HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"),
        0);
    th_pump(&c->loop, 20);
    assert_int_equal(th_sends(&c->loop, fd, "5\r\nhello\r\n"), 0);
    th_pump(&c->loop, 20);
    assert_int_equal(c->calls, 1); /* not yet: the body is incomplete */
    assert_int_equal(th_sends(&c->loop, fd, "6\r\n world\r\n0\r\n\r\n"), 0);
    assert_true(th_read_until(&c->loop, fd, &acc, &r, th_want_complete, NULL, 5000, NULL));
    assert_int_equal(c->calls, 2);
    assert_int_equal(c->seen_len, 11);
    assert_string_equal(c->seen_body, "hello world");
    assert_int_equal(r.body.len, 11);

    th_resp_release(&r);
    cr_buf_release(&acc);
    close(fd);
    teardown_ctx(c);
}

static void test_body_too_large(void **state)
{
    (void)state;
    struct ctx *c = setup_ctx(M_ECHO, 1000);
    struct cr_buf acc;
    cr_buf_init(&acc);
    struct th_resp r = {0};

    /* Announced by Content-Length: refused before the body is read. */
    int fd = th_connect(cr_http_server_port(c->srv));
    roundtrip(c, fd, "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n", &acc, &r);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.body.data, "limit"));
    assert_int_equal(c->calls, 0);
    close(fd);
    acc.len = 0;

    /* Found while reading a chunked body. */
    fd = th_connect(cr_http_server_port(c->srv));
    assert_int_equal(
        th_sends(&c->loop, fd, "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"),
        0);
    char piece[600];
    memset(piece, 'a', sizeof(piece));
    for (int i = 0; i < 3; i++) {
        char head[16];
        snprintf(head, sizeof(head), "%zx\r\n", sizeof(piece));
        th_sends(&c->loop, fd, head);
        th_send(&c->loop, fd, piece, sizeof(piece));
        th_sends(&c->loop, fd, "\r\n");
    }
    th_sends(&c->loop, fd, "0\r\n\r\n");
    assert_true(th_read_until(&c->loop, fd, &acc, &r, th_want_complete, NULL, 5000, NULL));
    assert_int_equal(r.status, 413);
    assert_int_equal(c->calls, 0);
    close(fd);

    /* An endless chunked body is not drained forever: the server hangs up. */
    fd = th_connect(cr_http_server_port(c->srv));
    assert_int_equal(
        th_sends(&c->loop, fd, "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"),
        0);
    char *big = malloc(65536 + 16);
    int n = snprintf(big, 16, "%x\r\n", 65536);
    memset(big + n, 'b', 65536);
    memcpy(big + n + 65536, "\r\n", 2);
    size_t sent = 0;
    int rc = 0;
    while (rc == 0 && sent < ((size_t)40 << 20)) {
        rc = th_send(&c->loop, fd, big, (size_t)n + 65536 + 2);
        sent += 65536;
    }
    free(big);
    assert_true(rc == -EPIPE || rc == -ECONNRESET);
    assert_true(sent < ((size_t)40 << 20));
    assert_int_equal(c->calls, 0);
    close(fd);

    /* The server is unharmed. */
    acc.len = 0;
    fd = th_connect(cr_http_server_port(c->srv));
    roundtrip(c, fd, "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc", &acc, &r);
    assert_int_equal(r.status, 200);
    close(fd);
    th_resp_release(&r);
    cr_buf_release(&acc);
    teardown_ctx(c);
}

static void answer_held(uv_timer_t *t)
{
    struct ctx *c = t->data;
    struct cr_http_req *req = c->held;
    c->held = NULL;
    cr_http_req_add_header(req, "X-Late", "yes");
    cr_http_respondf(req, 202, "late answer %d", 42);
}

static void test_late_answer_and_keepalive(void **state)
{
    (void)state;
    struct ctx *c = setup_ctx(M_LATER, 0);
    int fd = th_connect(cr_http_server_port(c->srv));
    struct cr_buf acc;
    cr_buf_init(&acc);
    struct th_resp r = {0};
    uv_timer_t t;
    uv_timer_init(&c->loop, &t);
    t.data = c;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(th_sends(&c->loop, fd, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
        bool have = false;
        th_run_until(&c->loop, &have, 50);
        assert_non_null(c->held); /* suspended, waiting for the answer */
        uv_timer_start(&t, answer_held, 30, 0);
        int64_t t0 = cr_now_ms();
        assert_true(th_read_until(&c->loop, fd, &acc, &r, th_want_complete, NULL, 5000, NULL));
        /* Answered promptly once the answer exists (no wait for an unrelated event). */
        assert_true(cr_now_ms() - t0 < 500);
        assert_int_equal(r.status, 202);
        assert_string_equal(r.body.data, "late answer 42");
        char v[32];
        assert_non_null(th_header(&r, "X-Late", v, sizeof(v)));
        th_buf_consume(&acc, r.used);
    }
    assert_int_equal(c->calls, 3);
    uv_close((uv_handle_t *)&t, NULL);
    th_resp_release(&r);
    cr_buf_release(&acc);
    close(fd);
    teardown_ctx(c);
}

static void test_keepalive_many(void **state)
{
    (void)state;
    struct ctx *c = setup_ctx(M_ECHO, 0);
    int fd = th_connect(cr_http_server_port(c->srv));
    struct cr_buf acc;
    cr_buf_init(&acc);
    struct th_resp r = {0};
    for (int i = 0; i < 200; i++) {
        char req[128];
        snprintf(req, sizeof(req), "POST /n HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%d",
                 i < 10 ? 1 : (i < 100 ? 2 : 3), i);
        roundtrip(c, fd, req, &acc, &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(atoi(r.body.data), i);
        th_buf_consume(&acc, r.used);
    }
    assert_int_equal(c->calls, 200);
    th_resp_release(&r);
    cr_buf_release(&acc);
    close(fd);
    teardown_ctx(c);
}

static bool want_head(const struct th_resp *r, void *arg)
{
    (void)arg;
    return r->head != NULL;
}

/* Open a stream on a fresh socket and wait for its headers. */
static int open_stream(struct ctx *c, struct cr_buf *acc, struct th_resp *r)
{
    int fd = th_connect(cr_http_server_port(c->srv));
    assert_int_equal(th_sends(&c->loop, fd,
                              "POST /api/v1/scheduler HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
                              "\r\n{}"),
                     0);
    /* Headers must arrive before anything is written to the stream. */
    assert_true(th_read_until(&c->loop, fd, acc, r, want_head, NULL, 5000, NULL));
    assert_non_null(c->stream);
    assert_int_equal(r->status, 200);
    assert_true(r->is_chunked);
    char v[64];
    assert_non_null(th_header(r, "Mesos-Stream-Id", v, sizeof(v)));
    assert_string_equal(v, "s-1");
    assert_int_equal(r->n_chunks, 0);
    return fd;
}

static void test_stream_one_chunk_per_write(void **state)
{
    (void)state;
    struct ctx *c = setup_ctx(M_STREAM, 0);
    struct cr_buf acc;
    cr_buf_init(&acc);
    struct th_resp r = {0};
    int fd = open_stream(c, &acc, &r);

    /* Sizes around MHD's internal buffers, and far beyond them. */
    static const size_t sizes[] = {1,     2,     100,    4000,    4096, 16383, 16384,
                                   32768, 65536, 200000, 1 << 20, 7,    3};
    size_t n = sizeof(sizes) / sizeof(sizes[0]);
    char **records = calloc(n, sizeof(char *));
    size_t *lens = calloc(n, sizeof(size_t));
    for (size_t i = 0; i < n; i++) {
        char *payload = malloc(sizes[i]);
        for (size_t j = 0; j < sizes[i]; j++)
            payload[j] = (char)('a' + (i + j) % 26);
        records[i] = cr_recordio_encode(payload, sizes[i], &lens[i]);
        free(payload);
        /* Several writes back to back, without running the loop in between. */
        assert_int_equal(cr_http_stream_write(c->stream, records[i], lens[i]), 0);
    }
    assert_true(th_read_until(&c->loop, fd, &acc, &r, th_want_chunks, &n, 10000, NULL));
    assert_int_equal(r.n_chunks, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(r.chunk_lens[i], lens[i]);
        assert_memory_equal(r.chunks[i], records[i], lens[i]);
        free(records[i]);
    }
    assert_int_equal(cr_http_stream_pending(c->stream), 0);
    free(records);
    free(lens);

    /* Later writes, one loop turn apart, are still one chunk each. */
    for (int i = 0; i < 5; i++) {
        th_pump(&c->loop, 5);
        assert_int_equal(cr_http_stream_write(c->stream, "tick", 4), 0);
    }
    size_t want = n + 5;
    assert_true(th_read_until(&c->loop, fd, &acc, &r, th_want_chunks, &want, 5000, NULL));
    for (size_t i = n; i < want; i++)
        assert_string_equal(r.chunks[i], "tick");
    assert_false(r.is_complete);

    th_resp_release(&r);
    cr_buf_release(&acc);
    close(fd);
    teardown_ctx(c);
}

static void test_stream_idle_cpu(void **state)
{
    (void)state;
    struct ctx *c = setup_ctx(M_STREAM, 0);
    struct cr_buf acc;
    cr_buf_init(&acc);
    struct th_resp r = {0};
    int fd = open_stream(c, &acc, &r);
    assert_int_equal(cr_http_stream_write(c->stream, "one", 3), 0);
    size_t one = 1;
    assert_true(th_read_until(&c->loop, fd, &acc, &r, th_want_chunks, &one, 5000, NULL));

    /* An idle stream with a connected client: the loop should sleep. */
    double cpu0 = th_cpu_ms();
    int64_t t0 = cr_now_ms();
    th_pump(&c->loop, 1000);
    double cpu = th_cpu_ms() - cpu0;
    int64_t wall = cr_now_ms() - t0;
    print_message("idle stream: %.1f ms CPU over %lld ms\n", cpu, (long long)wall);
    assert_true(cpu < 50.0);

    /* Still alive afterwards. */
    assert_int_equal(cr_http_stream_write(c->stream, "two", 3), 0);
    size_t two = 2;
    assert_true(th_read_until(&c->loop, fd, &acc, &r, th_want_chunks, &two, 5000, NULL));
    assert_string_equal(r.chunks[1], "two");
    assert_int_equal(c->closes, 0);

    th_resp_release(&r);
    cr_buf_release(&acc);
    close(fd);
    teardown_ctx(c);
}

static void test_stream_client_disconnect(void **state)
{
    (void)state;
    for (int variant = 0; variant < 2; variant++) {
        struct ctx *c = setup_ctx(M_STREAM, 0);
        c->release_in_close = variant == 1;
        struct cr_buf acc;
        cr_buf_init(&acc);
        struct th_resp r = {0};
        int fd = open_stream(c, &acc, &r);
        assert_int_equal(cr_http_stream_write(c->stream, "a", 1), 0);
        size_t one = 1;
        assert_true(th_read_until(&c->loop, fd, &acc, &r, th_want_chunks, &one, 5000, NULL));
        close(fd);
        /* Noticed while idle: no write is needed to find out. */
        assert_true(th_run_until(&c->loop, &c->closed, 2000));
        th_pump(&c->loop, 50);
        assert_int_equal(c->closes, 1);
        if (c->stream) {
            assert_int_equal(cr_http_stream_write(c->stream, "late", 4), -EPIPE);
            cr_http_stream_release(c->stream); /* release after close is safe */
            c->stream = NULL;
        }
        /* The server keeps serving. */
        c->mode = M_ECHO;
        fd = th_connect(cr_http_server_port(c->srv));
        acc.len = 0;
        roundtrip(c, fd, "GET /after HTTP/1.1\r\nHost: t\r\n\r\n", &acc, &r);
        assert_int_equal(r.status, 200);
        close(fd);
        th_resp_release(&r);
        cr_buf_release(&acc);
        teardown_ctx(c);
    }
}

static void test_stream_release_ends_and_keeps_alive(void **state)
{
    (void)state;
    struct ctx *c = setup_ctx(M_STREAM, 0);
    struct cr_buf acc;
    cr_buf_init(&acc);
    struct th_resp r = {0};
    int fd = open_stream(c, &acc, &r);
    assert_int_equal(cr_http_stream_write(c->stream, "r1", 2), 0);
    th_pump(&c->loop, 10);
    assert_int_equal(cr_http_stream_write(c->stream, "r2", 2), 0);
    cr_http_stream_release(c->stream);
    c->stream = NULL;
    assert_true(th_read_until(&c->loop, fd, &acc, &r, th_want_complete, NULL, 5000, NULL));
    assert_int_equal(r.n_chunks, 2);
    assert_string_equal(r.chunks[0], "r1");
    assert_string_equal(r.chunks[1], "r2");
    assert_int_equal(c->closes, 0); /* released: no close callback */
    th_buf_consume(&acc, r.used);

    /* The same connection serves the next request. */
    c->mode = M_ECHO;
    roundtrip(c, fd, "GET /next HTTP/1.1\r\nHost: t\r\n\r\n", &acc, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(c->seen_path, "/next");

    /* A stream released inside the handler, before MHD ever asked for data. */
    c->mode = M_STREAM_END;
    th_buf_consume(&acc, r.used);
    roundtrip(c, fd, "GET /short HTTP/1.1\r\nHost: t\r\n\r\n", &acc, &r);
    assert_int_equal(r.n_chunks, 2);
    assert_string_equal(r.chunks[0], "first");
    assert_string_equal(r.chunks[1], "second");
    assert_int_equal(c->closes, 0);

    th_resp_release(&r);
    cr_buf_release(&acc);
    close(fd);
    teardown_ctx(c);
}

static void test_stream_backpressure(void **state)
{
    (void)state;
    struct ctx *c = setup_ctx(M_STREAM, 0);
    struct cr_buf acc;
    cr_buf_init(&acc);
    struct th_resp r = {0};
    int fd = open_stream(c, &acc, &r);
    /* The client does not read: the kernel buffers fill and the stream queues. */
    char *big = malloc(256 * 1024);
    size_t n = 40;
    for (size_t i = 0; i < n; i++) {
        memset(big, (int)('A' + i % 26), 256 * 1024);
        assert_int_equal(cr_http_stream_write(c->stream, big, 256 * 1024), 0);
    }
    th_pump(&c->loop, 20);
    assert_true(cr_http_stream_pending(c->stream) > 0);
    free(big);
    assert_true(th_read_until(&c->loop, fd, &acc, &r, th_want_chunks, &n, 20000, NULL));
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(r.chunk_lens[i], 256 * 1024);
        assert_int_equal(r.chunks[i][0], (char)('A' + i % 26));
        assert_int_equal(r.chunks[i][256 * 1024 - 1], (char)('A' + i % 26));
    }
    assert_int_equal(cr_http_stream_pending(c->stream), 0);
    th_resp_release(&r);
    cr_buf_release(&acc);
    close(fd);
    teardown_ctx(c);
}

static void test_http10_stream(void **state)
{
    (void)state;
    struct ctx *c = setup_ctx(M_STREAM, 0);
    int fd = th_connect(cr_http_server_port(c->srv));
    assert_int_equal(th_sends(&c->loop, fd, "GET /events HTTP/1.0\r\n\r\n"), 0);
    struct cr_buf acc;
    cr_buf_init(&acc);
    struct th_resp r = {0};
    assert_true(th_read_until(&c->loop, fd, &acc, &r, want_head, NULL, 5000, NULL));
    assert_false(r.is_chunked);
    assert_int_equal(cr_http_stream_write(c->stream, "raw1", 4), 0);
    assert_int_equal(cr_http_stream_write(c->stream, "raw2", 4), 0);
    cr_http_stream_release(c->stream);
    c->stream = NULL;
    bool eof = false;
    th_read_until(&c->loop, fd, &acc, &r, th_want_complete, NULL, 3000, &eof);
    assert_true(eof); /* HTTP/1.0: the body ends with the connection */
    assert_string_equal(r.body.data, "raw1raw2");
    th_resp_release(&r);
    cr_buf_release(&acc);
    close(fd);
    teardown_ctx(c);
}

static void test_free_with_stream_and_pending(void **state)
{
    (void)state;
    struct ctx *c = setup_ctx(M_STREAM, 0);
    struct cr_buf acc, acc2;
    cr_buf_init(&acc);
    cr_buf_init(&acc2);
    struct th_resp r = {0}, r2 = {0};
    int fd = open_stream(c, &acc, &r);
    assert_int_equal(cr_http_stream_write(c->stream, "x", 1), 0);

    c->mode = M_LATER;
    int fd2 = th_connect(cr_http_server_port(c->srv));
    assert_int_equal(th_sends(&c->loop, fd2, "GET /pending HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    bool never = false;
    th_run_until(&c->loop, &never, 50);
    assert_non_null(c->held);

    cr_http_server_free(c->srv);
    c->srv = NULL;
    c->held = NULL; /* answered 503 by the server; no longer ours */
    assert_int_equal(c->closes, 1);
    assert_int_equal(cr_http_stream_write(c->stream, "y", 1), -EPIPE);

    bool eof = false;
    assert_true(th_read_until(&c->loop, fd2, &acc2, &r2, th_want_complete, NULL, 3000, &eof));
    assert_int_equal(r2.status, 503);
    th_read_until(&c->loop, fd, &acc, &r, th_want_complete, NULL, 1000, &eof);
    assert_true(eof);
    assert_int_equal(r.n_chunks, 1);

    cr_http_stream_release(c->stream); /* after the server is gone: still fine */
    c->stream = NULL;
    assert_int_equal(c->closes, 1);
    th_resp_release(&r);
    th_resp_release(&r2);
    cr_buf_release(&acc);
    cr_buf_release(&acc2);
    close(fd);
    close(fd2);
    teardown_ctx(c);
}

static void test_free_inside_handler(void **state)
{
    (void)state;
    struct ctx *c = setup_ctx(M_FREE_SRV, 0);
    int fd = th_connect(cr_http_server_port(c->srv));
    struct cr_buf acc;
    cr_buf_init(&acc);
    struct th_resp r = {0};
    assert_int_equal(th_sends(&c->loop, fd, "GET /quit HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    bool eof = false;
    th_read_until(&c->loop, fd, &acc, &r, th_want_complete, NULL, 3000, &eof);
    assert_null(c->srv);
    assert_int_equal(c->calls, 1);
    if (r.head)
        assert_int_equal(r.status, 503);
    th_resp_release(&r);
    cr_buf_release(&acc);
    close(fd);
    teardown_ctx(c);
}

static void test_bind_errors(void **state)
{
    (void)state;
    struct ctx *c = setup_ctx(M_ECHO, 0);
    struct cr_http_server_config cfg = {
        .bind_ip = "127.0.0.1", .port = cr_http_server_port(c->srv), .handler = handler, .ud = c};
    struct cr_http_server *other = NULL;
    struct cr_err err;
    assert_int_equal(cr_http_server_start(&c->loop, &cfg, &other, &err), -EADDRINUSE);
    assert_null(other);
    assert_non_null(strstr(err.msg, "bind 127.0.0.1:"));
    cfg.bind_ip = "not-an-ip";
    cfg.port = 0;
    assert_int_equal(cr_http_server_start(&c->loop, &cfg, &other, &err), -EINVAL);
    teardown_ctx(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_query_headers),
        cmocka_unit_test(test_post_bodies),
        cmocka_unit_test(test_body_too_large),
        cmocka_unit_test(test_late_answer_and_keepalive),
        cmocka_unit_test(test_keepalive_many),
        cmocka_unit_test(test_stream_one_chunk_per_write),
        cmocka_unit_test(test_stream_idle_cpu),
        cmocka_unit_test(test_stream_client_disconnect),
        cmocka_unit_test(test_stream_release_ends_and_keeps_alive),
        cmocka_unit_test(test_stream_backpressure),
        cmocka_unit_test(test_http10_stream),
        cmocka_unit_test(test_free_with_stream_and_pending),
        cmocka_unit_test(test_free_inside_handler),
        cmocka_unit_test(test_bind_errors),
    };
    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    if (getenv("TEST_DEBUG"))
        cr_log_set_level(CR_LOG_DEBUG);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
