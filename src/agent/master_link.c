/*
 * master_link.c - SUBSCRIBE stream, redirects, backoff, ping watchdog and the bounded
 * call queue of the agent's connection to the master (see master_link.h).
 *
 * Invariants:
 *  - at most one SUBSCRIBE call (`stream`) exists; when it is NULL either the retry timer
 *    is armed or the link is closing;
 *  - `connected` implies stream != NULL and stream_id is the one calls carry;
 *  - the stream is never cancelled from inside its own callbacks: they set
 *    abort_requested and return nonzero, which ends the call through its done callback;
 *  - each POST is in exactly one of the in-flight list or the FIFO until its done ran;
 *  - the struct is freed by the last timer close callback, after cr_master_link_free().
 */
#include "agent/master_link.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/mesos.h"
#include "base/log.h"
#include "base/util.h"
#include "net/recordio.h"

#define ERROR_BODY_MAX 2048
#define POST_TIMEOUT_MS 30000
#define CONNECT_TIMEOUT_MS 5000
#define DEFAULT_PING_INTERVAL_S 15.0
#define MAX_RECORD_BYTES (64u * 1024u * 1024u)

struct post {
    struct post *prev, *next;
    struct cr_master_link *link;
    struct cr_http_call *call; /* NULL while queued */
    char *body;                /* owned */
    size_t len;
    uint64_t generation; /* the stream it belongs to */
};

struct cr_master_link {
    uv_loop_t *loop;
    struct cr_http_client *client; /* borrowed */
    struct cr_master_link_callbacks cbs;
    void *ud;

    char **masters; /* owned "host:port" strings */
    size_t nmasters;
    size_t idx;
    char *redirect_url; /* owned: the leader we were sent to, or NULL */
    unsigned redirects; /* consecutive redirects followed */
    char *url;          /* owned: URL of the current attempt */
    char *master_addr;  /* owned: "host:port" of the current attempt */

    struct cr_http_call *stream;
    int stream_status;
    char *stream_location; /* owned or NULL */
    char *stream_id;       /* owned or NULL */
    struct cr_buf error_body;
    struct cr_recordio_reader reader;
    bool connected;
    bool in_stream_cb;
    bool abort_requested;
    char abort_reason[256];
    uint64_t generation; /* bumped per SUBSCRIBED */
    char *agent_id;      /* owned: from SUBSCRIBED, for PONG */

    uv_timer_t retry_timer;
    uv_timer_t watchdog;
    int64_t watchdog_due_ms; /* when it should fire (to see that it fired late) */
    bool watchdog_grace;     /* fired late once: one more second for unread input */
    int open_handles;
    int64_t backoff_ms;
    double ping_interval_s;

    struct post *inflight;
    size_t ninflight;
    struct post *queue_head, *queue_tail;
    size_t nqueued;
    bool closing;
};

static void attempt(struct cr_master_link *link);

/* ------------------------------------------------------------------ addresses */

static char *trim_dup(const char *b, const char *e)
{
    while (b < e && (*b == ' ' || *b == '\t'))
        b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    size_t n = (size_t)(e - b);
    char *s = cr_xmalloc(n + 1);
    memcpy(s, b, n);
    s[n] = '\0';
    return s;
}

/* Validate "host:port" (after an optional http:// and without a path). */
static int check_addr(const char *addr, struct cr_err *err)
{
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr)
        return cr_err_set(err, -EINVAL, "--master: '%s' is not HOST:PORT", addr);
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port <= 0 || port > 65535)
        return cr_err_set(err, -EINVAL, "--master: '%s' has no valid port", addr);
    if (strpbrk(addr, "/ ?#@"))
        return cr_err_set(err, -EINVAL, "--master: '%s' is not HOST:PORT", addr);
    return 0;
}

char *cr_master_link_resolve_location(const char *base_url, const char *location)
{
    if (!location || !*location)
        return NULL;
    if (strncmp(location, "//", 2) == 0)
        return cr_xasprintf("http:%s", location);
    if (strncmp(location, "http://", 7) == 0)
        return cr_xstrdup(location);
    if (location[0] == '/' && strncmp(base_url, "http://", 7) == 0) {
        const char *host_end = strchr(base_url + 7, '/');
        size_t n = host_end ? (size_t)(host_end - base_url) : strlen(base_url);
        return cr_xasprintf("%.*s%s", (int)n, base_url, location);
    }
    return NULL;
}

/* "host:port" of an absolute http URL (owned). */
static char *url_hostport(const char *url)
{
    const char *s = strncmp(url, "http://", 7) == 0 ? url + 7 : url;
    const char *e = strchr(s, '/');
    return e ? trim_dup(s, e) : cr_xstrdup(s);
}

/* ------------------------------------------------------------------ posts */

static void post_free(struct post *p)
{
    free(p->body);
    free(p);
}

static void inflight_unlink(struct cr_master_link *link, struct post *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        link->inflight = p->next;
    if (p->next)
        p->next->prev = p->prev;
    p->prev = p->next = NULL;
    link->ninflight--;
}

static void drop_queue(struct cr_master_link *link)
{
    struct post *p = link->queue_head;
    while (p) {
        struct post *next = p->next;
        post_free(p);
        p = next;
    }
    link->queue_head = link->queue_tail = NULL;
    link->nqueued = 0;
}

static void pump(struct cr_master_link *link);

static void post_done(int rc, const char *msg, const struct cr_http_response *resp, void *ud)
{
    struct post *p = ud;
    struct cr_master_link *link = p->link;
    inflight_unlink(link, p);
    uint64_t gen = p->generation;
    post_free(p);
    if (link->closing)
        return;
    if (rc < 0) {
        CR_DEBUG("call to master failed master=%s error=\"%s\"", link->master_addr, msg);
    } else if (resp->status == 403 || resp->status == 307 ||
               (resp->status == 400 && resp->body && strstr(resp->body, "stream"))) {
        /* Not subscribed any more, not the leader, or a stale stream id: re-subscribe
         * (once per stream: answers to calls of an older stream are ignored). */
        if (gen == link->generation && link->connected) {
            char reason[160];
            snprintf(reason, sizeof(reason), "master refused a call with HTTP %d: %.100s",
                     resp->status, resp->body ? resp->body : "");
            cr_master_link_reconnect(link, reason);
        }
    } else if (resp->status < 200 || resp->status >= 300) {
        CR_WARN("call to master answered status=%d master=%s body=\"%.200s\"", resp->status,
                link->master_addr, resp->body ? resp->body : "");
    }
    pump(link);
}

static void post_send(struct cr_master_link *link, struct post *p)
{
    char sid[256];
    snprintf(sid, sizeof(sid), "Mesos-Stream-Id: %s", link->stream_id ? link->stream_id : "");
    const char *headers[] = {"Content-Type: application/json", "Accept: application/json", sid,
                             NULL};
    struct cr_http_request req = {
        .method = "POST",
        .url = link->url,
        .headers = headers,
        .body = p->body,
        .body_len = p->len,
        .timeout_ms = POST_TIMEOUT_MS,
        .connect_timeout_ms = CONNECT_TIMEOUT_MS,
    };
    p->link = link;
    p->next = link->inflight;
    p->prev = NULL;
    if (link->inflight)
        link->inflight->prev = p;
    link->inflight = p;
    link->ninflight++;
    struct cr_err err;
    cr_err_clear(&err);
    p->call = cr_http_client_send(link->client, &req, post_done, p, &err);
    if (!p->call) {
        CR_WARN("cannot send call to master master=%s error=\"%s\"", link->master_addr,
                cr_err_msg(&err));
        inflight_unlink(link, p);
        post_free(p);
    }
}

static void pump(struct cr_master_link *link)
{
    while (link->connected && link->queue_head && link->ninflight < CR_LINK_MAX_INFLIGHT) {
        struct post *p = link->queue_head;
        link->queue_head = p->next;
        if (!link->queue_head)
            link->queue_tail = NULL;
        link->nqueued--;
        p->next = NULL;
        post_send(link, p);
    }
}

int cr_master_link_post(struct cr_master_link *link, const json_t *call)
{
    if (!link->connected)
        return -ENOTCONN;
    struct post *p = cr_xcalloc(1, sizeof(*p));
    p->body = cr_json_dump(call);
    p->len = strlen(p->body);
    p->generation = link->generation;
    p->link = link;
    if (link->ninflight < CR_LINK_MAX_INFLIGHT && !link->queue_head) {
        post_send(link, p);
        return 0;
    }
    if (link->queue_tail)
        link->queue_tail->next = p;
    else
        link->queue_head = p;
    link->queue_tail = p;
    link->nqueued++;
    return 0;
}

/* ------------------------------------------------------------------ the stream */

static void request_abort(struct cr_master_link *link, const char *reason)
{
    link->abort_requested = true;
    snprintf(link->abort_reason, sizeof(link->abort_reason), "%s", reason);
}

static void handle_event(struct cr_master_link *link, const struct cr_agent_event *ev);

/*
 * A LAUNCH that does not parse still names its framework and task (the master only sends
 * tasks it validated, so this is a version mismatch or a bug): tell the agent, which
 * answers TASK_ERROR rather than leaving the task in STAGING forever.
 */
static void invalid_launch(struct cr_master_link *link, const char *record, size_t len,
                           const char *why)
{
    json_t *root = json_loadb(record, len, 0, NULL);
    json_t *launch = json_object_get(root, "launch");
    const char *type = json_string_value(json_object_get(root, "type"));
    const char *fw = json_string_value(
        json_object_get(json_object_get(json_object_get(launch, "framework_info"), "id"), "value"));
    const char *task = json_string_value(
        json_object_get(json_object_get(json_object_get(launch, "task"), "task_id"), "value"));
    if (type && strcmp(type, "LAUNCH") == 0 && fw && *fw && task && *task &&
        link->cbs.on_invalid_launch)
        link->cbs.on_invalid_launch(fw, task, why, link->ud);
    json_decref(root);
}

static int on_record(const char *record, size_t len, void *ud)
{
    struct cr_master_link *link = ud;
    struct cr_agent_event ev;
    struct cr_err err;
    cr_err_clear(&err);
    if (cr_parse_agent_event(record, len, &ev, &err) < 0) {
        CR_ERROR("malformed event from master master=%s error=\"%s\"", link->master_addr,
                 cr_err_msg(&err));
        if (link->connected)
            invalid_launch(link, record, len, cr_err_msg(&err));
        return 0; /* skip it; the stream itself is fine */
    }
    handle_event(link, &ev);
    cr_agent_event_release(&ev);
    return link->abort_requested ? 1 : 0;
}

static int stream_headers(const struct cr_http_response *resp, void *ud)
{
    struct cr_master_link *link = ud;
    link->stream_status = resp->status;
    free(link->stream_location);
    link->stream_location = cr_xstrdup(resp->location);
    if (resp->status == 200) {
        free(link->stream_id);
        link->stream_id = cr_xstrdup(resp->stream_id);
        if (!resp->stream_id)
            CR_WARN("master answered SUBSCRIBE without Mesos-Stream-Id master=%s",
                    link->master_addr);
    }
    return 0;
}

static int stream_data(const char *data, size_t len, void *ud)
{
    struct cr_master_link *link = ud;
    if (link->stream_status != 200) {
        if (link->error_body.len < ERROR_BODY_MAX) {
            size_t room = ERROR_BODY_MAX - link->error_body.len;
            cr_buf_append(&link->error_body, data, len < room ? len : room);
        }
        return 0;
    }
    link->in_stream_cb = true;
    struct cr_err err;
    cr_err_clear(&err);
    int rc = cr_recordio_feed(&link->reader, data, len, on_record, link, &err);
    link->in_stream_cb = false;
    if (rc < 0) {
        char reason[200];
        snprintf(reason, sizeof(reason), "bad RecordIO stream: %s", cr_err_msg(&err));
        request_abort(link, reason);
    }
    return link->abort_requested ? 1 : 0;
}

static void on_retry(uv_timer_t *t);

static void schedule_retry(struct cr_master_link *link, bool immediately)
{
    uint64_t delay = 0;
    if (!immediately) {
        unsigned char r;
        cr_random_bytes(&r, 1);
        /* uniform in [backoff/2, backoff]: agents restarting together spread out */
        delay = (uint64_t)(link->backoff_ms / 2 + (link->backoff_ms / 2) * r / 255);
        link->backoff_ms *= 2;
        if (link->backoff_ms > CR_LINK_BACKOFF_MAX_MS)
            link->backoff_ms = CR_LINK_BACKOFF_MAX_MS;
    }
    uv_timer_stop(&link->watchdog);
    uv_timer_start(&link->retry_timer, on_retry, delay, 0);
}

static void stream_done(int rc, const char *msg, const struct cr_http_response *resp, void *ud)
{
    struct cr_master_link *link = ud;
    link->stream = NULL;
    if (link->closing)
        return;
    bool was_connected = link->connected;
    link->connected = false;
    free(link->stream_id);
    link->stream_id = NULL;
    cr_recordio_reader_release(&link->reader);
    cr_recordio_reader_init(&link->reader, MAX_RECORD_BYTES);
    drop_queue(link);
    uv_timer_stop(&link->watchdog);

    int status = link->stream_status;
    char *location = link->stream_location;
    link->stream_location = NULL;
    bool redirected = false;
    if (rc == 0 && (status == 307 || status == 302 || status == 301) && location) {
        char *target = cr_master_link_resolve_location(link->url, location);
        if (target && link->redirects < CR_LINK_MAX_REDIRECTS) {
            CR_INFO("master redirected to the leader from=%s to=%s", link->master_addr, target);
            free(link->redirect_url);
            link->redirect_url = target;
            link->redirects++;
            redirected = true;
        } else {
            CR_WARN("not following redirect master=%s location=\"%s\" redirects=%u",
                    link->master_addr, location, link->redirects);
            free(target);
        }
    }
    if (!redirected) {
        if (link->abort_requested)
            CR_WARN("dropped master stream master=%s reason=\"%s\"", link->master_addr,
                    link->abort_reason);
        else if (rc < 0)
            CR_WARN("master stream failed master=%s error=\"%s\"", link->master_addr, msg);
        else if (status != 200)
            CR_WARN("master refused SUBSCRIBE master=%s status=%d body=\"%.300s\"",
                    link->master_addr, status, link->error_body.data ? link->error_body.data : "");
        else
            CR_WARN("master closed the stream master=%s", link->master_addr);
        link->redirects = 0;
        if (link->redirect_url) {
            free(link->redirect_url);
            link->redirect_url = NULL;
        } else if (!was_connected) {
            link->idx = (link->idx + 1) % link->nmasters;
        }
    }
    free(location);
    (void)resp;
    char *refusal = cr_xstrdup(link->error_body.data ? link->error_body.data : "");
    link->abort_requested = false;
    cr_buf_release(&link->error_body);
    cr_buf_init(&link->error_body);
    if (was_connected && link->cbs.on_disconnected)
        link->cbs.on_disconnected(link->ud);
    if (!redirected && rc >= 0 && status == 409 && link->cbs.on_refused) {
        link->cbs.on_refused(refusal, link->ud);
        free(refusal);
        return;
    }
    if (!redirected && rc >= 0 && status == 410 && link->cbs.on_removed) {
        link->backoff_ms = CR_LINK_BACKOFF_MIN_MS;
        link->cbs.on_removed(refusal, link->ud);
        free(refusal);
        return;
    }
    free(refusal);
    if (!link->closing && !link->stream)
        schedule_retry(link, redirected);
}

static void on_watchdog(uv_timer_t *t)
{
    struct cr_master_link *link = t->data;
    if (!link->stream)
        return;
    /* Fired late (this process was stopped or starved): libuv runs due timers before it reads
     * the sockets, so PINGs and KILLs the master sent meanwhile may sit unread. Give them one
     * more second to arrive before calling the stream dead. */
    if (!link->watchdog_grace && cr_now_ms() - link->watchdog_due_ms > 500) {
        link->watchdog_grace = true;
        uv_timer_start(&link->watchdog, on_watchdog, 1000, 0);
        return;
    }
    char reason[128];
    if (link->connected)
        snprintf(reason, sizeof(reason), "no PING for %d intervals of %.1fs", CR_LINK_PING_MISSES,
                 link->ping_interval_s);
    else
        snprintf(reason, sizeof(reason), "no SUBSCRIBED within %ds",
                 CR_LINK_SUBSCRIBE_TIMEOUT_MS / 1000);
    cr_master_link_reconnect(link, reason);
}

static void watchdog_restart(struct cr_master_link *link)
{
    uint64_t ms;
    if (link->connected) {
        double interval =
            link->ping_interval_s > 0 ? link->ping_interval_s : DEFAULT_PING_INTERVAL_S;
        ms = (uint64_t)(interval * 1000.0 * CR_LINK_PING_MISSES);
        if (ms < 1000)
            ms = 1000;
    } else {
        ms = CR_LINK_SUBSCRIBE_TIMEOUT_MS;
    }
    link->watchdog_due_ms = cr_now_ms() + (int64_t)ms;
    link->watchdog_grace = false;
    uv_timer_start(&link->watchdog, on_watchdog, ms, 0);
}

static void handle_event(struct cr_master_link *link, const struct cr_agent_event *ev)
{
    switch (ev->type) {
    case CR_AGENT_EVENT_SUBSCRIBED:
        link->connected = true;
        link->generation++;
        link->backoff_ms = CR_LINK_BACKOFF_MIN_MS;
        link->redirects = 0;
        link->ping_interval_s = ev->ping_interval_seconds;
        free(link->agent_id);
        link->agent_id = cr_xstrdup(ev->agent_id);
        watchdog_restart(link);
        CR_INFO("subscribed to master master=%s agent=%s ping_interval=%.1fs", link->master_addr,
                ev->agent_id, ev->ping_interval_seconds);
        if (link->cbs.on_subscribed)
            link->cbs.on_subscribed(ev, link->ud);
        return;
    case CR_AGENT_EVENT_PING: {
        if (!link->connected)
            return;
        watchdog_restart(link);
        json_t *pong = cr_agent_msg_pong(link->agent_id);
        cr_master_link_post(link, pong);
        json_decref(pong);
        return;
    }
    case CR_AGENT_EVENT_ERROR: {
        char reason[200];
        snprintf(reason, sizeof(reason), "master sent ERROR: %s", ev->message);
        request_abort(link, reason);
        return;
    }
    case CR_AGENT_EVENT_UNKNOWN:
        CR_WARN("ignoring an event of unknown type from master master=%s", link->master_addr);
        return;
    default:
        if (!link->connected) {
            CR_WARN("ignoring event before SUBSCRIBED type=%s", cr_agent_event_name(ev->type));
            return;
        }
        if (link->cbs.on_event)
            link->cbs.on_event(ev, link->ud);
        return;
    }
}

static void attempt(struct cr_master_link *link)
{
    free(link->url);
    free(link->master_addr);
    if (link->redirect_url) {
        link->url = cr_xstrdup(link->redirect_url);
    } else {
        link->url = cr_xasprintf("http://%s%s", link->masters[link->idx], CR_AGENT_API_PATH);
    }
    link->master_addr = url_hostport(link->url);
    link->stream_status = 0;
    link->abort_requested = false;

    json_t *body_json = link->cbs.build_subscribe(link->ud);
    char *body = cr_json_dump(body_json);
    json_decref(body_json);
    const char *headers[] = {"Content-Type: application/json", "Accept: application/json", NULL};
    struct cr_http_request req = {
        .method = "POST",
        .url = link->url,
        .headers = headers,
        .body = body,
        .body_len = strlen(body),
        .connect_timeout_ms = CONNECT_TIMEOUT_MS,
        .on_headers = stream_headers,
        .on_data = stream_data,
    };
    CR_INFO("subscribing to master master=%s", link->master_addr);
    struct cr_err err;
    cr_err_clear(&err);
    link->stream = cr_http_client_send(link->client, &req, stream_done, link, &err);
    free(body);
    if (!link->stream) {
        CR_WARN("cannot reach master master=%s error=\"%s\"", link->master_addr, cr_err_msg(&err));
        link->idx = (link->idx + 1) % link->nmasters;
        free(link->redirect_url);
        link->redirect_url = NULL;
        schedule_retry(link, false);
        return;
    }
    watchdog_restart(link);
}

static void on_retry(uv_timer_t *t)
{
    struct cr_master_link *link = t->data;
    if (link->closing || link->stream)
        return;
    attempt(link);
}

/* ------------------------------------------------------------------ public */

int cr_master_link_new(uv_loop_t *loop, struct cr_http_client *client, const char *masters,
                       const struct cr_master_link_callbacks *cbs, void *ud,
                       struct cr_master_link **out, struct cr_err *err)
{
    *out = NULL;
    if (!masters || !*masters)
        return cr_err_set(err, -EINVAL, "--master is required (HOST:PORT[,HOST:PORT...])");
    size_t cap = 1;
    for (const char *s = masters; *s; s++)
        cap += *s == ',';
    char **list = cr_xcalloc(cap, sizeof(char *));
    size_t n = 0;
    const char *start = masters;
    for (;;) {
        const char *end = strchr(start, ',');
        if (!end)
            end = start + strlen(start);
        char *addr = trim_dup(start, end);
        char *plain = addr;
        if (strncmp(plain, "http://", 7) == 0)
            plain += 7;
        size_t plen = strlen(plain);
        if (plen > 0 && plain[plen - 1] == '/')
            plain[plen - 1] = '\0';
        if (*plain) {
            int rc = check_addr(plain, err);
            if (rc < 0) {
                free(addr);
                for (size_t i = 0; i < n; i++)
                    free(list[i]);
                free(list);
                return rc;
            }
            list[n++] = cr_xstrdup(plain);
        }
        free(addr);
        if (!*end)
            break;
        start = end + 1;
    }
    if (n == 0) {
        free(list);
        return cr_err_set(err, -EINVAL, "--master: no address in '%s'", masters);
    }
    struct cr_master_link *link = cr_xcalloc(1, sizeof(*link));
    link->loop = loop;
    link->client = client;
    link->cbs = *cbs;
    link->ud = ud;
    link->masters = list;
    link->nmasters = n;
    link->backoff_ms = CR_LINK_BACKOFF_MIN_MS;
    link->master_addr = cr_xstrdup(list[0]);
    cr_buf_init(&link->error_body);
    cr_recordio_reader_init(&link->reader, MAX_RECORD_BYTES);
    uv_timer_init(loop, &link->retry_timer);
    uv_timer_init(loop, &link->watchdog);
    link->retry_timer.data = link->watchdog.data = link;
    link->open_handles = 2;
    *out = link;
    return 0;
}

void cr_master_link_start(struct cr_master_link *link)
{
    if (!link->stream)
        uv_timer_start(&link->retry_timer, on_retry, 0, 0);
}

bool cr_master_link_is_connected(const struct cr_master_link *link)
{
    return link->connected;
}

const char *cr_master_link_master(const struct cr_master_link *link)
{
    return link->master_addr;
}

void cr_master_link_reconnect(struct cr_master_link *link, const char *reason)
{
    if (link->closing)
        return;
    if (link->in_stream_cb) {
        request_abort(link, reason);
        return;
    }
    if (link->stream) {
        request_abort(link, reason);
        cr_http_call_cancel(link->stream); /* stream_done schedules the retry */
        return;
    }
    CR_INFO("re-subscribing to master reason=\"%s\"", reason);
}

static void on_link_closed(uv_handle_t *h)
{
    struct cr_master_link *link = h->data;
    if (--link->open_handles > 0)
        return;
    for (size_t i = 0; i < link->nmasters; i++)
        free(link->masters[i]);
    free(link->masters);
    free(link->redirect_url);
    free(link->url);
    free(link->master_addr);
    free(link->stream_location);
    free(link->stream_id);
    free(link->agent_id);
    cr_buf_release(&link->error_body);
    cr_recordio_reader_release(&link->reader);
    free(link);
}

void cr_master_link_free(struct cr_master_link *link)
{
    if (!link)
        return;
    link->closing = true;
    link->connected = false;
    if (link->stream)
        cr_http_call_cancel(link->stream);
    while (link->inflight)
        cr_http_call_cancel(link->inflight->call);
    drop_queue(link);
    uv_close((uv_handle_t *)&link->retry_timer, on_link_closed);
    uv_close((uv_handle_t *)&link->watchdog, on_link_closed);
}
