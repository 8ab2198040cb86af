/*
 * bench_http_rps.c - small request/response pairs per second over loopback with
 * keep-alive, using our client against our server. Prints figures; never fails on time.
 *
 *   two loops:  server on its own thread and loop, client on the main loop (a daemon
 *               talking to another daemon);
 *   one loop:   server and client sharing one loop and one core.
 *
 * Usage: bench_http_rps [seconds] [in-flight]   (defaults: 2, 16)
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/loop.h"

static void handler(struct cr_http_req *req, void *ud)
{
    (void)ud;
    size_t len;
    const char *body = cr_http_req_body(req, &len);
    cr_http_respond(req, 200, "application/json", body, len);
}

struct server_thread {
    uv_loop_t loop;
    uv_async_t stop;
    struct cr_http_server *srv;
    uint16_t port;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool ready;
};

static void on_stop(uv_async_t *a)
{
    struct server_thread *st = a->data;
    cr_http_server_free(st->srv);
    uv_close((uv_handle_t *)&st->stop, NULL);
}

static void *server_main(void *arg)
{
    struct server_thread *st = arg;
    uv_loop_init(&st->loop);
    struct cr_http_server_config cfg = {.bind_ip = "127.0.0.1", .handler = handler};
    struct cr_err err;
    if (cr_http_server_start(&st->loop, &cfg, &st->srv, &err) != 0) {
        fprintf(stderr, "bench: %s\n", err.msg);
        exit(1);
    }
    st->port = cr_http_server_port(st->srv);
    uv_async_init(&st->loop, &st->stop, on_stop);
    st->stop.data = st;
    pthread_mutex_lock(&st->mu);
    st->ready = true;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
    uv_run(&st->loop, UV_RUN_DEFAULT);
    cr_loop_close_all(&st->loop);
    uv_loop_close(&st->loop);
    return NULL;
}

struct run {
    uv_loop_t *loop;
    struct cr_http_client *client;
    char url[64];
    int64_t deadline_ms;
    long completed;
    long failed;
    int in_flight;
};

static void send_one(struct run *r);

static void on_done(int rc, const char *msg, const struct cr_http_response *resp, void *ud)
{
    struct run *r = ud;
    r->in_flight--;
    if (rc == 0 && resp->status == 200) {
        r->completed++;
    } else {
        if (r->failed++ == 0)
            fprintf(stderr, "bench: request failed: %s\n", rc ? msg : "bad status");
    }
    if (cr_now_ms() < r->deadline_ms)
        send_one(r);
}

static void send_one(struct run *r)
{
    static const char body[] = "{\"type\":\"PONG\",\"agent_id\":{\"value\":\"S1\"}}";
    const char *headers[] = {"Content-Type: application/json", NULL};
    struct cr_http_request req = {.method = "POST",
                                  .url = r->url,
                                  .headers = headers,
                                  .body = body,
                                  .body_len = sizeof(body) - 1,
                                  .timeout_ms = 10000};
    struct cr_err err;
    if (cr_http_client_send(r->client, &req, on_done, r, &err))
        r->in_flight++;
    else
        r->failed++;
}

static double measure(uv_loop_t *loop, uint16_t port, double seconds, int in_flight)
{
    struct run r = {.loop = loop};
    snprintf(r.url, sizeof(r.url), "http://127.0.0.1:%u/api/v1", (unsigned)port);
    struct cr_err err;
    if (cr_http_client_new(loop, &r.client, &err) != 0) {
        fprintf(stderr, "bench: %s\n", err.msg);
        exit(1);
    }
    /* Warm up: open the connections. */
    r.deadline_ms = cr_now_ms() + 300;
    for (int i = 0; i < in_flight; i++)
        send_one(&r);
    while (r.in_flight > 0)
        uv_run(loop, UV_RUN_ONCE);
    r.completed = 0;
    int64_t t0 = cr_now_ms();
    r.deadline_ms = t0 + (int64_t)(seconds * 1000);
    for (int i = 0; i < in_flight; i++)
        send_one(&r);
    while (r.in_flight > 0)
        uv_run(loop, UV_RUN_ONCE);
    double elapsed = (double)(cr_now_ms() - t0) / 1000.0;
    cr_http_client_free(r.client);
    if (r.failed)
        fprintf(stderr, "bench: %ld failed requests\n", r.failed);
    return (double)r.completed / elapsed;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    int in_flight = argc > 2 ? atoi(argv[2]) : 16;

    struct server_thread st = {0};
    pthread_mutex_init(&st.mu, NULL);
    pthread_cond_init(&st.cv, NULL);
    pthread_create(&st.thread, NULL, server_main, &st);
    pthread_mutex_lock(&st.mu);
    while (!st.ready)
        pthread_cond_wait(&st.cv, &st.mu);
    pthread_mutex_unlock(&st.mu);

    uv_loop_t loop;
    uv_loop_init(&loop);
    for (int k = 1; k <= in_flight; k *= 4) {
        double rps = measure(&loop, st.port, seconds, k);
        printf("two loops (server thread + client), %2d in flight: %8.0f requests/s\n", k, rps);
    }
    uv_async_send(&st.stop);
    pthread_join(st.thread, NULL);

    /* Both ends on one loop. */
    struct cr_http_server *srv;
    struct cr_http_server_config cfg = {.bind_ip = "127.0.0.1", .handler = handler};
    struct cr_err err;
    if (cr_http_server_start(&loop, &cfg, &srv, &err) != 0) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return 1;
    }
    double rps = measure(&loop, cr_http_server_port(srv), seconds, in_flight);
    printf("one loop (server + client),          %2d in flight: %8.0f requests/s\n", in_flight,
           rps);
    cr_http_server_free(srv);
    cr_loop_close_all(&loop);
    uv_loop_close(&loop);
    pthread_mutex_destroy(&st.mu);
    pthread_cond_destroy(&st.cv);
    return 0;
}
