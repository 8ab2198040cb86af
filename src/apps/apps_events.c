/*
 * apps_events.c - Marathon's event stream, GET /v2/events (API-COMPAT.md §6.7).
 *
 * A subscriber sends `Accept: text/event-stream` (exactly; anything else is 405 as in
 * Marathon) and optional repeated `event_type=` filters. Each event is one frame
 * "event: <type>\r\ndata: <one-line JSON>\r\n\r\n"; a bare "\r\n" every 10 s keeps idle
 * connections alive. The first frame is event_stream_attached. A subscriber that stops
 * reading (more than 16 MiB queued) is dropped. As Marathon's (Jetty) stream, the body is not
 * chunked and ends when the connection closes (`Connection: close`). Events are written in the
 * order they happen on the loop thread, so every subscriber sees them in the same order.
 */
#include <stdlib.h>
#include <string.h>

#include "apps/apps_impl.h"
#include "base/log.h"
#include "base/util.h"

#define SSE_HEARTBEAT_MS 10000
#define SSE_MAX_PENDING (16u * 1024 * 1024)
#define SSE_MAX_FILTERS 32

struct sse_client {
    struct sse_client *next;
    struct cr_apps *a;
    struct cr_http_stream *stream;
    char *remote;
    char **types; /* filters, or none = every event */
    size_t ntypes;
};

static void client_free(struct sse_client *c)
{
    for (size_t k = 0; k < c->ntypes; k++)
        free(c->types[k]);
    free(c->types);
    free(c->remote);
    free(c);
}

static void client_unlink(struct cr_apps *a, struct sse_client *c)
{
    for (struct sse_client **p = &a->sse; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            return;
        }
    }
}

static void client_drop(struct sse_client *c)
{
    client_unlink(c->a, c);
    cr_http_stream_release(c->stream);
    client_free(c);
}

static void client_closed(struct cr_http_stream *stream, void *ud)
{
    struct sse_client *c = ud;
    (void)stream;
    CR_DEBUG("apps: event stream closed remote=%s", c->remote);
    client_drop(c);
}

static bool wants(const struct sse_client *c, const char *type)
{
    if (c->ntypes == 0)
        return true;
    for (size_t k = 0; k < c->ntypes; k++)
        if (strcmp(c->types[k], type) == 0)
            return true;
    return false;
}

static void send_frame(struct sse_client *c, const char *frame, size_t len)
{
    if (cr_http_stream_pending(c->stream) > SSE_MAX_PENDING) {
        CR_WARN("apps: event subscriber does not read; dropping it remote=%s", c->remote);
        client_drop(c);
        return;
    }
    if (cr_http_stream_write(c->stream, frame, len) < 0)
        client_drop(c);
}

void apps_event(struct cr_apps *a, const char *type, json_t *payload)
{
    if (!a->sse) {
        json_decref(payload);
        return;
    }
    char ts[40];
    json_object_set_new(payload, "eventType", json_string(type));
    json_object_set_new(payload, "timestamp",
                        json_string(apps_iso(cr_wall_seconds(), ts, sizeof(ts))));
    char *data = cr_json_dump(payload);
    json_decref(payload);
    if (!data)
        return;
    char *frame = cr_xasprintf("event: %s\r\ndata: %s\r\n\r\n", type, data);
    free(data);
    size_t len = strlen(frame);
    struct sse_client *c = a->sse;
    while (c) {
        struct sse_client *next = c->next;
        if (wants(c, type))
            send_frame(c, frame, len);
        c = next;
    }
    free(frame);
}

static void heartbeat(uv_timer_t *t)
{
    struct cr_apps *a = t->data;
    struct sse_client *c = a->sse;
    while (c) {
        struct sse_client *next = c->next;
        send_frame(c, "\r\n", 2);
        c = next;
    }
}

void apps_events_start(struct cr_apps *a)
{
    uv_timer_start(&a->sse_timer, heartbeat, SSE_HEARTBEAT_MS, SSE_HEARTBEAT_MS);
}

void apps_events_close(struct cr_apps *a)
{
    uv_timer_stop(&a->sse_timer);
    while (a->sse)
        client_drop(a->sse);
}

void apps_events_http(struct cr_apps *a, struct cr_http_req *req)
{
    if (strcmp(cr_http_req_method(req), "GET") != 0) {
        apps_http_error(req, 405, "Method not allowed");
        return;
    }
    const char *accept = cr_http_req_header(req, "Accept");
    if (!accept || strcmp(accept, "text/event-stream") != 0) {
        apps_http_error(req, 405, "The event stream needs the header 'Accept: text/event-stream'");
        return;
    }
    const char *types[SSE_MAX_FILTERS];
    size_t n = cr_http_req_query_all(req, "event_type", types, SSE_MAX_FILTERS);
    if (n > SSE_MAX_FILTERS)
        n = SSE_MAX_FILTERS;
    struct sse_client *c = cr_xcalloc(1, sizeof(*c));
    c->a = a;
    c->remote = cr_xstrdup(cr_http_req_peer(req));
    c->types = cr_xcalloc(n + 1, sizeof(char *));
    for (size_t k = 0; k < n; k++)
        c->types[c->ntypes++] = cr_xstrdup(types[k]);
    cr_http_req_add_header(req, "Cache-Control", "no-cache, no-store, must-revalidate");
    c->stream = cr_http_stream_open_until_close(req, 200, "text/event-stream;charset=utf-8",
                                                client_closed, c);
    if (!c->stream) {
        client_free(c);
        return;
    }
    c->next = a->sse;
    a->sse = c;
    CR_DEBUG("apps: event stream attached remote=%s filters=%zu", c->remote, c->ntypes);
    json_t *ev = json_object();
    json_object_set_new(ev, "remoteAddress", json_string(c->remote));
    /* Only this subscriber gets its own attach event. */
    struct sse_client *rest = c->next;
    c->next = NULL;
    struct sse_client *saved = a->sse;
    a->sse = c;
    apps_event(a, "event_stream_attached", ev);
    if (a->sse == c) {
        c->next = rest;
    } else {
        a->sse = rest; /* c was dropped while writing */
        return;
    }
    a->sse = saved;
}
