/*
 * bench_scale.c - the master under the allocator benchmark's load, for real: N fake agents
 * speak the agent protocol (SUBSCRIBE stream, PONG to every PING; each agent has
 * cpus:24;mem:4096;disk:4096;ports:[31000-32000]) and F frameworks speak the scheduler API
 * and decline every offer with a long filter (Mesos' DeclineOffers shape, without the 16
 * used cpus). Prints how long admission took, offers received, and the master's memory.
 *
 * usage: bench_scale --master HOST:PORT --pid MASTER_PID [--agents N] [--frameworks F]
 *                    [--seconds S]
 * Prints figures; never fails on time.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "base/util.h"
#include "net/http_client.h"
#include "net/loop.h"
#include "net/recordio.h"

struct bench;

struct peer {
    struct bench *b;
    bool is_agent;
    int index;
    struct cr_recordio_reader reader;
    char stream_id[64];
    char id[128];
    struct cr_http_call *stream;
};

struct bench {
    uv_loop_t *loop;
    struct cr_http_client *client;
    char base[200];
    int nagents, nfws;
    struct peer *peers;
    int agents_subscribed, fws_subscribed;
    long offers, declines, pongs, failed_calls;
    double t0, t_agents_done;
    uv_timer_t stop_timer;
    bool stopping;
    int pid;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void call_done(int rc, const char *msg, const struct cr_http_response *resp, void *ud)
{
    struct bench *b = ud;
    if ((rc < 0 || resp->status != 202) && !b->stopping) {
        if (b->failed_calls++ < 3)
            fprintf(stderr, "bench_scale: call failed: %s %d\n", msg, resp ? resp->status : 0);
    }
}

static void post(struct bench *b, const char *path, const char *sid, json_t *body)
{
    char url[300], hdr[120];
    snprintf(url, sizeof(url), "%s%s", b->base, path);
    snprintf(hdr, sizeof(hdr), "Mesos-Stream-Id: %s", sid);
    const char *headers[] = {"Content-Type: application/json", hdr, NULL};
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct cr_http_request req = {.method = "POST",
                                  .url = url,
                                  .headers = headers,
                                  .body = text,
                                  .body_len = strlen(text),
                                  .timeout_ms = 60000};
    struct cr_err err;
    if (!cr_http_client_send(b->client, &req, call_done, b, &err))
        b->failed_calls++;
    free(text);
}

static json_t *id_obj(const char *v)
{
    return json_pack("{s:s}", "value", v);
}

static int on_record(const char *rec, size_t len, void *ud)
{
    struct peer *p = ud;
    struct bench *b = p->b;
    json_t *ev = json_loadb(rec, len, 0, NULL);
    if (!ev)
        return 0;
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (!type) {
    } else if (strcmp(type, "SUBSCRIBED") == 0) {
        json_t *sub = json_object_get(ev, "subscribed");
        const char *id = json_string_value(json_object_get(
            json_object_get(sub, p->is_agent ? "agent_id" : "framework_id"), "value"));
        snprintf(p->id, sizeof(p->id), "%s", id ? id : "");
        if (p->is_agent && ++b->agents_subscribed == b->nagents)
            b->t_agents_done = now_s();
        if (!p->is_agent)
            b->fws_subscribed++;
    } else if (strcmp(type, "PING") == 0) {
        post(b, "/corral/v1/agent", p->stream_id,
             json_pack("{s:s,s:o}", "type", "PONG", "agent_id", id_obj(p->id)));
        b->pongs++;
    } else if (strcmp(type, "OFFERS") == 0) {
        json_t *ids = json_array();
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(json_object_get(ev, "offers"), "offers"), i, o)
        {
            json_array_append(ids, json_object_get(o, "id"));
            b->offers++;
        }
        post(b, "/api/v1/scheduler", p->stream_id,
             json_pack("{s:o,s:s,s:{s:o,s:{s:f}}}", "framework_id", id_obj(p->id), "type",
                       "DECLINE", "decline", "offer_ids", ids, "filters", "refuse_seconds", 1e6));
        b->declines++;
    }
    json_decref(ev);
    return 0;
}

static int on_headers(const struct cr_http_response *resp, void *ud)
{
    struct peer *p = ud;
    if (resp->status != 200 || !resp->stream_id)
        return 1;
    snprintf(p->stream_id, sizeof(p->stream_id), "%s", resp->stream_id);
    return 0;
}

static int on_data(const char *data, size_t len, void *ud)
{
    struct peer *p = ud;
    return cr_recordio_feed(&p->reader, data, len, on_record, p, NULL);
}

static void stream_done(int rc, const char *msg, const struct cr_http_response *resp, void *ud)
{
    struct peer *p = ud;
    p->stream = NULL;
}

static void subscribe(struct bench *b, struct peer *p)
{
    char url[300];
    json_t *body;
    if (p->is_agent) {
        snprintf(url, sizeof(url), "%s/corral/v1/agent", b->base);
        char host[64];
        snprintf(host, sizeof(host), "fake-%d", p->index);
        json_t *res = json_pack("[{s:s,s:s,s:{s:f}},{s:s,s:s,s:{s:f}},{s:s,s:s,s:{s:f}},"
                                "{s:s,s:s,s:{s:[{s:i,s:i}]}}]",
                                "name", "cpus", "type", "SCALAR", "scalar", "value", 24.0, "name",
                                "mem", "type", "SCALAR", "scalar", "value", 4096.0, "name", "disk",
                                "type", "SCALAR", "scalar", "value", 4096.0, "name", "ports",
                                "type", "RANGES", "ranges", "range", "begin", 31000, "end", 32000);
        body =
            json_pack("{s:s,s:{s:{s:s,s:i,s:o},s:{s:s,s:i},s:s}}", "type", "SUBSCRIBE", "subscribe",
                      "agent_info", "hostname", host, "port", 5051, "resources", res, "address",
                      "ip", "127.0.0.1", "port", 1 + p->index % 60000, "version", "bench");
    } else {
        snprintf(url, sizeof(url), "%s/api/v1/scheduler", b->base);
        char name[64];
        snprintf(name, sizeof(name), "fw-%d", p->index);
        body = json_pack("{s:s,s:{s:{s:s,s:s}}}", "type", "SUBSCRIBE", "subscribe",
                         "framework_info", "user", "root", "name", name);
    }
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    const char *headers[] = {"Content-Type: application/json", NULL};
    struct cr_http_request req = {.method = "POST",
                                  .url = url,
                                  .headers = headers,
                                  .body = text,
                                  .body_len = strlen(text),
                                  .on_headers = on_headers,
                                  .on_data = on_data};
    struct cr_err err;
    cr_recordio_reader_init(&p->reader, 0);
    p->stream = cr_http_client_send(b->client, &req, stream_done, p, &err);
    if (!p->stream)
        fprintf(stderr, "bench_scale: subscribe failed: %s\n", err.msg);
    free(text);
}

static long status_kb(int pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long v = -1;
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, field, strlen(field)) == 0 && line[strlen(field)] == ':')
            v = strtol(line + strlen(field) + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

static void stop_tick(uv_timer_t *t)
{
    struct bench *b = t->data;
    b->stopping = true;
    for (int i = 0; i < b->nagents + b->nfws; i++)
        if (b->peers[i].stream)
            cr_http_call_cancel(b->peers[i].stream);
    uv_close((uv_handle_t *)t, NULL);
}

static void frameworks_tick(uv_timer_t *t)
{
    struct bench *b = t->data;
    if (b->agents_subscribed < b->nagents && now_s() - b->t0 < 120)
        return;
    uv_timer_stop(t);
    printf("scale: %d agents admitted in %.2f s; master rss %ld kB\n", b->agents_subscribed,
           b->t_agents_done - b->t0, status_kb(b->pid, "VmRSS"));
    for (int i = b->nagents; i < b->nagents + b->nfws; i++)
        subscribe(b, &b->peers[i]);
}

int main(int argc, char **argv)
{
    struct bench b;
    memset(&b, 0, sizeof(b));
    const char *master = "127.0.0.1:5050";
    b.nagents = 1000;
    b.nfws = 100;
    double seconds = 10;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--master") == 0)
            master = argv[i + 1];
        else if (strcmp(argv[i], "--agents") == 0)
            b.nagents = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--frameworks") == 0)
            b.nfws = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--seconds") == 0)
            seconds = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--pid") == 0)
            b.pid = atoi(argv[i + 1]);
    }
    snprintf(b.base, sizeof(b.base), "http://%s", master);
    b.peers = cr_xcalloc((size_t)(b.nagents + b.nfws), sizeof(*b.peers));
    uv_loop_t loop;
    uv_loop_init(&loop);
    b.loop = &loop;
    struct cr_err err;
    if (cr_http_client_new(&loop, &b.client, &err) < 0) {
        fprintf(stderr, "bench_scale: %s\n", err.msg);
        return 1;
    }
    b.t0 = now_s();
    for (int i = 0; i < b.nagents + b.nfws; i++) {
        b.peers[i].b = &b;
        b.peers[i].is_agent = i < b.nagents;
        b.peers[i].index = i;
    }
    for (int i = 0; i < b.nagents; i++)
        subscribe(&b, &b.peers[i]);
    uv_timer_t fw_timer;
    uv_timer_init(&loop, &fw_timer);
    fw_timer.data = &b;
    uv_timer_start(&fw_timer, frameworks_tick, 50, 50);
    uv_timer_init(&loop, &b.stop_timer);
    b.stop_timer.data = &b;
    uv_timer_start(&b.stop_timer, stop_tick, (uint64_t)(seconds * 1000), 0);
    double t_run = now_s();
    uv_run(&loop, UV_RUN_DEFAULT);
    printf("scale: %d frameworks subscribed; %ld offers received and declined in %.1f s; "
           "%ld pongs; %ld failed calls\n",
           b.fws_subscribed, b.offers, now_s() - t_run, b.pongs, b.failed_calls);
    printf("scale: master rss %ld kB, peak %ld kB\n", status_kb(b.pid, "VmRSS"),
           status_kb(b.pid, "VmHWM"));
    uv_close((uv_handle_t *)&fw_timer, NULL);
    cr_http_client_free(b.client);
    for (int i = 0; i < b.nagents + b.nfws; i++)
        cr_recordio_reader_release(&b.peers[i].reader);
    free(b.peers);
    cr_loop_close_all(&loop);
    uv_loop_close(&loop);
    return 0;
}
