/*
 * bench_e2e.c - end-to-end task throughput: a Mesos v1 HTTP framework (raw JSON over our
 * libcurl/libuv client, as any framework would speak it) that launches N `/bin/true`
 * tasks on a running master and acknowledges every status update. Prints tasks/s from
 * the first ACCEPT to the last TASK_FINISHED acknowledged, and per-task latency.
 *
 * usage: bench_e2e --master HOST:PORT [--tasks N] [--cpus C] [--mem M] [--cmd SHELL-COMMAND]
 * It never fails on time; it exits non-zero only if tasks fail or the run breaks.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "base/util.h"
#include "net/http_client.h"
#include "net/loop.h"
#include "net/recordio.h"

struct bench {
    uv_loop_t *loop;
    struct cr_http_client *client;
    struct cr_recordio_reader reader;
    char url[256];
    char stream_id[128];
    char fwid[128];
    int total, launched, finished, failed, acked_finished, calls_inflight;
    double cpus, mem;
    const char *cmd; /* shell command, or NULL for /bin/true (argv form) */
    double t_start, t_end;
    double *launch_at; /* per task index */
    double *lat;       /* per task latency */
    int nlat;
    int failed_calls;
    struct cr_http_call *sub;
    int done;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void call_done(int rc, const char *msg, const struct cr_http_response *resp, void *ud);

#define TEARDOWN_CALL (-2)

struct call_ctx {
    struct bench *b;
    int finished_task; /* -1 or index of a task whose FINISHED ack this is */
};

static void post(struct bench *b, json_t *call, int finished_task)
{
    char *body = json_dumps(call, JSON_COMPACT);
    json_decref(call);
    char hdr[200];
    snprintf(hdr, sizeof(hdr), "Mesos-Stream-Id: %s", b->stream_id);
    const char *headers[] = {"Content-Type: application/json", hdr, NULL};
    struct cr_http_request req = {.method = "POST",
                                  .url = b->url,
                                  .headers = headers,
                                  .body = body,
                                  .body_len = strlen(body),
                                  .timeout_ms = 30000};
    struct call_ctx *c = cr_xcalloc(1, sizeof(*c));
    c->b = b;
    c->finished_task = finished_task;
    struct cr_err err;
    b->calls_inflight++;
    if (!cr_http_client_send(b->client, &req, call_done, c, &err)) {
        fprintf(stderr, "bench_e2e: send failed: %s\n", err.msg);
        b->calls_inflight--;
        b->failed_calls++;
        free(c);
    }
    free(body);
}

static json_t *envelope(struct bench *b, const char *type)
{
    json_t *j = json_object();
    json_t *id = json_object();
    json_object_set_new(id, "value", json_string(b->fwid));
    json_object_set_new(j, "framework_id", id);
    json_object_set_new(j, "type", json_string(type));
    return j;
}

static void finish(struct bench *b)
{
    if (b->done)
        return;
    b->done = 1;
    b->t_end = now_s();
    /* The subscription stays open until the TEARDOWN is answered (a framework without a
     * stream may not call), then call_done closes it. */
    post(b, envelope(b, "TEARDOWN"), TEARDOWN_CALL);
}

static void call_done(int rc, const char *msg, const struct cr_http_response *resp, void *ud)
{
    struct call_ctx *c = ud;
    struct bench *b = c->b;
    b->calls_inflight--;
    if (c->finished_task == TEARDOWN_CALL && b->sub)
        cr_http_call_cancel(b->sub);
    if (rc < 0 || resp->status != 202) {
        b->failed_calls++;
        if (b->failed_calls < 5)
            fprintf(stderr, "bench_e2e: call failed: %s %d %s\n", msg, resp ? resp->status : 0,
                    resp ? resp->body : "");
    } else if (c->finished_task >= 0) {
        b->acked_finished++;
        b->lat[b->nlat++] = now_s() - b->launch_at[c->finished_task];
        if (b->acked_finished + b->failed == b->total)
            finish(b);
    }
    free(c);
}

static json_t *scalar(const char *name, double v)
{
    json_t *r = json_object();
    json_object_set_new(r, "name", json_string(name));
    json_object_set_new(r, "type", json_string("SCALAR"));
    json_t *s = json_object();
    json_object_set_new(s, "value", json_real(v));
    json_object_set_new(r, "scalar", s);
    return r;
}

static double offer_scalar(json_t *offer, const char *name)
{
    size_t i;
    json_t *r;
    double sum = 0;
    json_array_foreach(json_object_get(offer, "resources"), i, r)
    {
        const char *n = json_string_value(json_object_get(r, "name"));
        if (n && strcmp(n, name) == 0)
            sum += json_number_value(json_object_get(json_object_get(r, "scalar"), "value"));
    }
    return sum;
}

static void on_offers(struct bench *b, json_t *offers)
{
    size_t i;
    json_t *o;
    json_array_foreach(offers, i, o)
    {
        json_t *ids = json_array();
        json_array_append(ids, json_object_get(o, "id"));
        int fit = (int)fmin(floor(offer_scalar(o, "cpus") / b->cpus + 1e-9),
                            floor(offer_scalar(o, "mem") / b->mem + 1e-9));
        int n = b->total - b->launched;
        if (fit < n)
            n = fit;
        if (n <= 0) {
            json_t *call = envelope(b, "DECLINE");
            json_t *d = json_object();
            json_object_set_new(d, "offer_ids", ids);
            json_t *f = json_object();
            json_object_set_new(f, "refuse_seconds",
                                json_real(b->launched >= b->total ? 3600 : 0.05));
            json_object_set_new(d, "filters", f);
            json_object_set_new(call, "decline", d);
            post(b, call, -1);
            continue;
        }
        json_t *tasks = json_array();
        double t = now_s();
        if (b->launched == 0)
            b->t_start = t;
        for (int k = 0; k < n; k++) {
            int idx = b->launched++;
            b->launch_at[idx] = t;
            char tid[64];
            snprintf(tid, sizeof(tid), "bench-%d", idx);
            json_t *ti = json_object();
            json_object_set_new(ti, "name", json_string(tid));
            json_t *tidj = json_object();
            json_object_set_new(tidj, "value", json_string(tid));
            json_object_set_new(ti, "task_id", tidj);
            json_object_set(ti, "agent_id", json_object_get(o, "agent_id"));
            json_t *res = json_array();
            json_array_append_new(res, scalar("cpus", b->cpus));
            json_array_append_new(res, scalar("mem", b->mem));
            json_object_set_new(ti, "resources", res);
            json_t *cmd = json_object();
            if (b->cmd) {
                json_object_set_new(cmd, "shell", json_true());
                json_object_set_new(cmd, "value", json_string(b->cmd));
            } else {
                json_object_set_new(cmd, "shell", json_false());
                json_object_set_new(cmd, "value", json_string("/bin/true"));
            }
            json_t *args = json_array();
            json_array_append_new(args, json_string("true"));
            json_object_set_new(cmd, "arguments", args);
            json_object_set_new(ti, "command", cmd);
            json_array_append_new(tasks, ti);
        }
        json_t *call = envelope(b, "ACCEPT");
        json_t *acc = json_object();
        json_object_set_new(acc, "offer_ids", ids);
        json_t *op = json_object();
        json_object_set_new(op, "type", json_string("LAUNCH"));
        json_t *launch = json_object();
        json_object_set_new(launch, "task_infos", tasks);
        json_object_set_new(op, "launch", launch);
        json_t *ops = json_array();
        json_array_append_new(ops, op);
        json_object_set_new(acc, "operations", ops);
        json_t *f = json_object();
        json_object_set_new(f, "refuse_seconds", json_real(0.05));
        json_object_set_new(acc, "filters", f);
        json_object_set_new(call, "accept", acc);
        post(b, call, -1);
    }
}

static void on_update(struct bench *b, json_t *status)
{
    const char *state = json_string_value(json_object_get(status, "state"));
    const char *tid =
        json_string_value(json_object_get(json_object_get(status, "task_id"), "value"));
    json_t *uuid = json_object_get(status, "uuid");
    int idx = tid && strncmp(tid, "bench-", 6) == 0 ? atoi(tid + 6) : -1;
    bool is_finished = state && strcmp(state, "TASK_FINISHED") == 0;
    bool terminal_bad =
        state && (strcmp(state, "TASK_FAILED") == 0 || strcmp(state, "TASK_ERROR") == 0 ||
                  strcmp(state, "TASK_LOST") == 0 || strcmp(state, "TASK_DROPPED") == 0 ||
                  strcmp(state, "TASK_KILLED") == 0);
    if (terminal_bad) {
        b->failed++;
        if (b->failed < 5)
            fprintf(stderr, "bench_e2e: task %s %s: %s\n", tid, state,
                    json_string_value(json_object_get(status, "message")));
    }
    if (uuid) {
        json_t *call = envelope(b, "ACKNOWLEDGE");
        json_t *a = json_object();
        json_object_set(a, "agent_id", json_object_get(status, "agent_id"));
        json_object_set(a, "task_id", json_object_get(status, "task_id"));
        json_object_set(a, "uuid", uuid);
        json_object_set_new(call, "acknowledge", a);
        post(b, call, is_finished && idx >= 0 ? idx : -1);
    }
    if (terminal_bad && b->acked_finished + b->failed == b->total)
        finish(b);
}

static int on_record(const char *rec, size_t len, void *ud)
{
    struct bench *b = ud;
    json_error_t jerr;
    json_t *ev = json_loadb(rec, len, 0, &jerr);
    if (!ev)
        return 0;
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (!type) {
    } else if (strcmp(type, "SUBSCRIBED") == 0) {
        snprintf(b->fwid, sizeof(b->fwid), "%s",
                 json_string_value(json_object_get(
                     json_object_get(json_object_get(ev, "subscribed"), "framework_id"), "value")));
    } else if (strcmp(type, "OFFERS") == 0 && !b->done) {
        on_offers(b, json_object_get(json_object_get(ev, "offers"), "offers"));
    } else if (strcmp(type, "UPDATE") == 0) {
        on_update(b, json_object_get(json_object_get(ev, "update"), "status"));
    } else if (strcmp(type, "ERROR") == 0) {
        fprintf(stderr, "bench_e2e: ERROR event: %s\n", rec);
    }
    json_decref(ev);
    return 0;
}

static int sub_headers(const struct cr_http_response *resp, void *ud)
{
    struct bench *b = ud;
    if (resp->status != 200 || !resp->stream_id) {
        fprintf(stderr, "bench_e2e: SUBSCRIBE answered %d\n", resp->status);
        return 1;
    }
    snprintf(b->stream_id, sizeof(b->stream_id), "%s", resp->stream_id);
    return 0;
}

static int sub_data(const char *data, size_t len, void *ud)
{
    struct bench *b = ud;
    return cr_recordio_feed(&b->reader, data, len, on_record, b, NULL);
}

static void sub_done(int rc, const char *msg, const struct cr_http_response *resp, void *ud)
{
    struct bench *b = ud;
    b->sub = NULL;
    if (!b->done) {
        fprintf(stderr, "bench_e2e: subscription ended early: %s\n", msg);
        b->done = 1;
        b->t_end = now_s();
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    struct bench b;
    memset(&b, 0, sizeof(b));
    const char *master = "127.0.0.1:5050";
    b.total = 1000;
    b.cpus = 0.01;
    b.mem = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--master") == 0)
            master = argv[i + 1];
        else if (strcmp(argv[i], "--tasks") == 0)
            b.total = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--cpus") == 0)
            b.cpus = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--mem") == 0)
            b.mem = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--cmd") == 0)
            b.cmd = argv[i + 1];
    }
    if (b.total <= 0)
        b.total = 1;
    snprintf(b.url, sizeof(b.url), "http://%s/api/v1/scheduler", master);
    b.launch_at = cr_xcalloc((size_t)b.total, sizeof(double));
    b.lat = cr_xcalloc((size_t)b.total, sizeof(double));
    uv_loop_t loop;
    uv_loop_init(&loop);
    b.loop = &loop;
    struct cr_err err;
    if (cr_http_client_new(&loop, &b.client, &err) < 0) {
        fprintf(stderr, "bench_e2e: %s\n", err.msg);
        return 1;
    }
    cr_recordio_reader_init(&b.reader, 0);
    const char *body =
        "{\"type\":\"SUBSCRIBE\",\"subscribe\":{\"framework_info\":{\"user\":\"root\","
        "\"name\":\"bench-e2e\",\"failover_timeout\":0}}}";
    const char *headers[] = {"Content-Type: application/json", NULL};
    struct cr_http_request req = {.method = "POST",
                                  .url = b.url,
                                  .headers = headers,
                                  .body = body,
                                  .body_len = strlen(body),
                                  .on_headers = sub_headers,
                                  .on_data = sub_data};
    b.sub = cr_http_client_send(b.client, &req, sub_done, &b, &err);
    if (!b.sub) {
        fprintf(stderr, "bench_e2e: %s\n", err.msg);
        return 1;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_http_client_free(b.client);
    cr_recordio_reader_release(&b.reader);
    cr_loop_close_all(&loop);
    uv_loop_close(&loop);

    double secs = b.t_end - b.t_start;
    qsort(b.lat, (size_t)b.nlat, sizeof(double), cmp_double);
    printf("e2e: tasks=%d finished_acked=%d failed=%d failed_calls=%d\n", b.total, b.acked_finished,
           b.failed, b.failed_calls);
    if (b.nlat > 0 && secs > 0) {
        printf("e2e: %.3f s from first ACCEPT to last TASK_FINISHED acknowledged\n", secs);
        printf("e2e: throughput %.0f tasks/s\n", b.acked_finished / secs);
        printf("e2e: latency submit->finished-acked p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
               1000 * b.lat[b.nlat / 2], 1000 * b.lat[(size_t)(b.nlat * 0.99)],
               1000 * b.lat[b.nlat - 1]);
    }
    free(b.launch_at);
    free(b.lat);
    return b.acked_finished == b.total ? 0 : 1;
}
