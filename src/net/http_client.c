/*
 * http_client.c - asynchronous HTTP client: libcurl's multi interface driven by a libuv
 * loop (see http_client.h), plus the blocking cr_http_fetch() for CLI verbs.
 *
 * Driving curl. curl tells us which sockets to watch (on_curl_socket: one uv_poll per
 * socket, in a block freed by its close callback) and when to wake it
 * (on_curl_timer: one uv_timer). Every wake-up goes through drive(), which calls
 * curl_multi_socket_action() and then after_action(): finish cancelled calls, add calls
 * started from inside curl callbacks, and deliver completed calls.
 *
 * Re-entrancy. User code runs in three places: on_headers/on_data (inside curl, where
 * curl forbids multi API calls) and done (outside curl). So:
 *   - send() from inside curl parks the call and after_action() adds it;
 *   - cancel() calls done at once, but from inside curl it only marks the call (its
 *     curl callbacks then abort) and after_action() removes it;
 *   - free() from inside any callback (depth > 0) cancels every call at once and leaves
 *     the teardown to the outermost drive(), when nothing of ours is on the stack.
 * Invariant: done is called exactly once per call (call->is_done guards it), and a call
 * is freed only outside curl, after done.
 */
#include "net/http_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "base/util.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 5000L
#define MAX_REDIRECTS 10L

struct link {
    struct link *prev, *next;
};

static void list_init(struct link *l)
{
    l->prev = l->next = l;
}

static void list_add(struct link *head, struct link *n)
{
    n->next = head;
    n->prev = head->prev;
    head->prev->next = n;
    head->prev = n;
}

static void list_del(struct link *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = n;
}

#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    struct cr_http_client *client;
    struct link link; /* in client->socks */
};

struct timer_box {
    uv_timer_t timer;
    struct cr_http_client *client; /* NULL once the client is gone */
};

struct cr_http_client {
    uv_loop_t *loop;
    CURLM *multi;
    struct timer_box *tb;
    struct link calls;  /* every call not yet freed */
    struct link socks;  /* sock_ctx watched for curl */
    int depth;          /* our frames on the stack (drive, user callbacks) */
    int in_curl;        /* inside curl_multi_socket_action() */
    struct link parked; /* calls started from inside curl, for after_action() to add */
    bool has_swept;     /* a call was cancelled from inside curl: after_action() removes it */
    bool is_dying;      /* free requested; teardown when depth drops to 0 */
};

struct cr_http_call {
    struct cr_http_client *client;
    CURL *easy;
    struct curl_slist *headers;
    char *method;
    char *url;
    char *body;
    cr_http_done_fn done;
    void *ud;
    cr_http_headers_fn on_headers;
    cr_http_data_fn on_data;
    bool follow;
    bool in_multi; /* added to client->multi */
    bool is_done;  /* done has been called (or is being called) */
    bool is_final; /* the headers of the final response have been seen */
    int abort_rc;  /* set when a callback asked to stop */
    int status;    /* of the response whose headers are being read */
    char *location, *stream_id, *content_type;
    struct cr_buf resp_body;
    char errbuf[CURL_ERROR_SIZE];
    struct link link;  /* in client->calls */
    struct link plink; /* in client->parked while is_parked */
    bool is_parked;
};

/* ---- curl global init ---- */

static void curl_global(void)
{
    static bool done;
    if (!done) {
        /* Threads are not used; the first client or fetch initialises curl. */
        curl_global_init(CURL_GLOBAL_DEFAULT);
        done = true;
    }
}

/* ---- errors ---- */

static int map_curl_error(CURLcode res, CURL *easy)
{
    long os_errno = 0;
    switch (res) {
    case CURLE_OK:
        return 0;
    case CURLE_COULDNT_CONNECT:
        if (easy)
            curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
        return os_errno > 0 ? -(int)os_errno : -ECONNREFUSED;
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return -EHOSTUNREACH;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_FUNCTION_ARGUMENT:
        return -EINVAL;
    case CURLE_OUT_OF_MEMORY:
        return -ENOMEM;
    case CURLE_TOO_MANY_REDIRECTS:
        return -ELOOP;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
        return -ECONNRESET;
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_WRITE_ERROR:
        return -ECANCELED;
    default:
        return -EIO;
    }
}

/* "<METHOD> <url>: <what curl said>", cut to fit out. */
static void curl_message(char *out, size_t size, const char *method, const char *url, CURLcode res,
                         const char *errbuf)
{
    char *s = cr_xasprintf("%s %s: %s", method, url,
                           errbuf && errbuf[0] ? errbuf : curl_easy_strerror(res));
    size_t n = strlen(s);
    if (n >= size)
        n = size - 1;
    memcpy(out, s, n);
    out[n] = '\0';
    free(s);
}

/* ---- easy handle setup shared by the async client and cr_http_fetch ---- */

static bool has_header(const char *const *headers, const char *name)
{
    size_t n = strlen(name);
    for (; headers && *headers; headers++) {
        if (strncasecmp(*headers, name, n) == 0 && (*headers)[n] == ':')
            return true;
    }
    return false;
}

/*
 * Configure easy for method/url/body. body must stay valid during the transfer (curl
 * does not copy it). Returns the header list to free after the transfer.
 */
static struct curl_slist *setup_easy(CURL *easy, const char *method, const char *url,
                                     const char *const *headers, const char *body, size_t body_len,
                                     long timeout_ms, long connect_timeout_ms, bool follow,
                                     char *errbuf)
{
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 0L);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     connect_timeout_ms > 0 ? connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, 10L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    if (follow) {
        curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(easy, CURLOPT_MAXREDIRS, MAX_REDIRECTS);
        /* Keep POST a POST (with its body) on 301/302/303 too; 307/308 always do. */
        curl_easy_setopt(easy, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
    }

    if (!method || strcmp(method, "GET") == 0) {
        curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    } else {
        if (strcmp(method, "POST") == 0)
            curl_easy_setopt(easy, CURLOPT_POST, 1L);
        else
            curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
        if (body || strcmp(method, "POST") == 0) {
            curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
            curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body ? body : "");
        }
    }

    struct curl_slist *list = NULL;
    for (const char *const *h = headers; h && *h; h++)
        list = curl_slist_append(list, *h);
    /* "Expect: 100-continue" costs a round trip per large POST; our servers never refuse
     * early in a way that would save it. */
    if (!has_header(headers, "Expect"))
        list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, list);
    return list;
}

/* ---- calls ---- */

static void call_reset_headers(struct cr_http_call *call)
{
    free(call->location);
    free(call->stream_id);
    free(call->content_type);
    call->location = call->stream_id = call->content_type = NULL;
}

static void call_free(struct cr_http_call *call)
{
    list_del(&call->link);
    if (call->is_parked)
        list_del(&call->plink);
    if (call->easy)
        curl_easy_cleanup(call->easy);
    curl_slist_free_all(call->headers);
    call_reset_headers(call);
    cr_buf_release(&call->resp_body);
    free(call->method);
    free(call->url);
    free(call->body);
    free(call);
}

/* Take call out of curl (outside curl callbacks only) and free it. */
static void call_remove(struct cr_http_call *call)
{
    if (call->in_multi) {
        curl_multi_remove_handle(call->client->multi, call->easy);
        call->in_multi = false;
    }
    call_free(call);
}

static void fill_response(struct cr_http_call *call, struct cr_http_response *resp, int status)
{
    memset(resp, 0, sizeof(*resp));
    resp->status = status;
    resp->body = call->resp_body.data ? call->resp_body.data : "";
    resp->len = call->resp_body.len;
    resp->location = call->location;
    resp->stream_id = call->stream_id;
    resp->content_type = call->content_type;
}

/* Call done exactly once. */
static void call_done(struct cr_http_call *call, int rc, const char *msg,
                      const struct cr_http_response *resp)
{
    if (call->is_done)
        return;
    call->is_done = true;
    struct cr_http_client *c = call->client;
    c->depth++;
    call->done(rc, msg, resp, call->ud);
    c->depth--;
}

static void call_cancel_now(struct cr_http_call *call, const char *why)
{
    char msg[CR_ERR_MSG_MAX];
    snprintf(msg, sizeof(msg), "%s %s: %s", call->method, call->url, why);
    call->abort_rc = -ECANCELED;
    call_done(call, -ECANCELED, msg, NULL);
}

static bool is_followed_redirect(const struct cr_http_call *call)
{
    if (!call->follow || !call->location)
        return false;
    switch (call->status) {
    case 301:
    case 302:
    case 303:
    case 307:
    case 308:
        return true;
    default:
        return false;
    }
}

static char *trimmed_dup(const char *p, size_t n)
{
    while (n > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r' || p[n - 1] == '\n'))
        n--;
    char *s = cr_xmalloc(n + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static void store_header(char **slot, const char *value, size_t n)
{
    free(*slot);
    *slot = trimmed_dup(value, n);
}

/* curl gives one header line per call, for every response (redirects, 100 Continue). */
static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
    struct cr_http_call *call = ud;
    size_t len = size * nitems;
    if (call->is_done)
        return 0;
    if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        /* A new response begins: forget the previous one's headers. */
        call_reset_headers(call);
        call->is_final = false;
        const char *sp = memchr(buf, ' ', len);
        call->status = sp ? atoi(sp + 1) : 0;
        return len;
    }
    if (len <= 2 && (buf[0] == '\r' || buf[0] == '\n')) {
        if (call->status < 200 || is_followed_redirect(call))
            return len;
        call->is_final = true;
        if (call->on_headers) {
            struct cr_http_response resp;
            fill_response(call, &resp, call->status);
            call->client->depth++;
            int rc = call->on_headers(&resp, call->ud);
            call->client->depth--;
            if (call->is_done)
                return 0;
            if (rc != 0) {
                call->abort_rc = -ECANCELED;
                return 0;
            }
        }
        return len;
    }
    const char *colon = memchr(buf, ':', len);
    if (!colon)
        return len;
    size_t nlen = (size_t)(colon - buf);
    const char *value = colon + 1;
    size_t vlen = len - nlen - 1;
    if (nlen == 8 && strncasecmp(buf, "Location", 8) == 0)
        store_header(&call->location, value, vlen);
    else if (nlen == 15 && strncasecmp(buf, "Mesos-Stream-Id", 15) == 0)
        store_header(&call->stream_id, value, vlen);
    else if (nlen == 12 && strncasecmp(buf, "Content-Type", 12) == 0)
        store_header(&call->content_type, value, vlen);
    return len;
}

static size_t on_write(char *buf, size_t size, size_t nitems, void *ud)
{
    struct cr_http_call *call = ud;
    size_t len = size * nitems;
    if (call->is_done || call->abort_rc)
        return 0; /* anything but len aborts the transfer */
    if (!call->is_final)
        return len; /* body of a redirect or interim response */
    if (call->on_data) {
        call->client->depth++;
        int rc = call->on_data(buf, len, call->ud);
        call->client->depth--;
        if (call->is_done)
            return 0;
        if (rc != 0) {
            call->abort_rc = -ECANCELED;
            return 0;
        }
        return len;
    }
    cr_buf_append(&call->resp_body, buf, len);
    return len;
}

/* curl finished call (any outcome): deliver it and free it. Outside curl only. */
static void call_finish(struct cr_http_call *call, CURLcode res)
{
    if (call->in_multi) {
        curl_multi_remove_handle(call->client->multi, call->easy);
        call->in_multi = false;
    }
    if (!call->is_done) {
        if (res == CURLE_OK) {
            long status = 0;
            curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
            struct cr_http_response resp;
            fill_response(call, &resp, (int)status);
            if (!call->is_final)
                resp.location = resp.stream_id = resp.content_type = NULL;
            call_done(call, 0, "", &resp);
        } else if (call->abort_rc) {
            char msg[CR_ERR_MSG_MAX];
            snprintf(msg, sizeof(msg), "%s %s: stopped by the caller", call->method, call->url);
            call_done(call, call->abort_rc, msg, NULL);
        } else {
            char msg[CR_ERR_MSG_MAX];
            curl_message(msg, sizeof(msg), call->method, call->url, res, call->errbuf);
            call_done(call, map_curl_error(res, call->easy), msg, NULL);
        }
    }
    call_free(call);
}

/* ---- driving curl from the loop ---- */

static void client_destroy(struct cr_http_client *c);

static void on_sock_closed(uv_handle_t *h)
{
    free(h->data);
}

static void sock_close(struct sock_ctx *ctx)
{
    list_del(&ctx->link);
    ctx->poll.data = ctx;
    uv_close((uv_handle_t *)&ctx->poll, on_sock_closed);
}

static void after_action(struct cr_http_client *c)
{
    /* Calls cancelled from inside curl: take them out now. (The flags keep this O(1) per
     * wake-up when nothing was parked or cancelled, which is nearly always.) */
    struct link *l;
    if (c->has_swept) {
        c->has_swept = false;
        l = c->calls.next;
        while (l != &c->calls) {
            struct cr_http_call *call = container_of(l, struct cr_http_call, link);
            l = l->next;
            if (call->is_done && !c->is_dying)
                call_remove(call);
        }
    }
    if (c->is_dying)
        return;
    /* Calls started from inside curl callbacks, taken one at a time from the head: a
     * failure runs done, which may change the lists in any way. */
    while (!c->is_dying && c->parked.next != &c->parked) {
        struct cr_http_call *call = container_of(c->parked.next, struct cr_http_call, plink);
        list_del(&call->plink);
        call->is_parked = false;
        if (call->in_multi || call->is_done)
            continue;
        CURLMcode mc = curl_multi_add_handle(c->multi, call->easy);
        if (mc == CURLM_OK) {
            call->in_multi = true;
            continue;
        }
        char msg[CR_ERR_MSG_MAX];
        snprintf(msg, sizeof(msg), "%s %s: %s", call->method, call->url, curl_multi_strerror(mc));
        call_done(call, -EIO, msg, NULL);
        if (!c->is_dying)
            call_remove(call);
    }
    /* Completed transfers. done may free the client or start/cancel other calls. */
    CURLMsg *m;
    int left;
    while (!c->is_dying && (m = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct cr_http_call *call = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&call);
        CURLcode res = m->data.result;
        call_finish(call, res);
    }
}

static void drive(struct cr_http_client *c, curl_socket_t fd, int flags)
{
    int running;
    c->depth++;
    c->in_curl++;
    curl_multi_socket_action(c->multi, fd, flags, &running);
    c->in_curl--;
    after_action(c);
    if (--c->depth == 0 && c->is_dying)
        client_destroy(c);
}

static void on_sock_poll(uv_poll_t *p, int status, int events)
{
    struct sock_ctx *ctx = p->data;
    int flags = 0;
    if (status < 0)
        flags |= CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    drive(ctx->client, ctx->fd, flags);
}

static void on_timer(uv_timer_t *t)
{
    struct timer_box *tb = t->data;
    if (tb->client)
        drive(tb->client, CURL_SOCKET_TIMEOUT, 0);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    struct cr_http_client *c = userp;
    struct sock_ctx *ctx = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (ctx) {
            curl_multi_assign(c->multi, fd, NULL);
            sock_close(ctx);
        }
        return 0;
    }
    if (!ctx) {
        ctx = cr_xcalloc(1, sizeof(*ctx));
        int rc = uv_poll_init_socket(c->loop, &ctx->poll, fd);
        if (rc < 0) {
            CR_WARN("http client: cannot watch socket fd=%d: %s", (int)fd, uv_strerror(rc));
            free(ctx);
            return -1;
        }
        ctx->fd = fd;
        ctx->client = c;
        ctx->poll.data = ctx;
        list_add(&c->socks, &ctx->link);
        curl_multi_assign(c->multi, fd, ctx);
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    uv_poll_start(&ctx->poll, events, on_sock_poll);
    return 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct cr_http_client *c = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&c->tb->timer);
    else
        uv_timer_start(&c->tb->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ---- public ---- */

static void on_timer_closed(uv_handle_t *h)
{
    free(h->data);
}

int cr_http_client_new(uv_loop_t *loop, struct cr_http_client **out, struct cr_err *err)
{
    *out = NULL;
    curl_global();
    struct cr_http_client *c = cr_xcalloc(1, sizeof(*c));
    c->loop = loop;
    list_init(&c->calls);
    list_init(&c->parked);
    list_init(&c->socks);
    c->multi = curl_multi_init();
    if (!c->multi) {
        free(c);
        return cr_err_set(err, -ENOMEM, "http client: curl_multi_init failed");
    }
    c->tb = cr_xcalloc(1, sizeof(*c->tb));
    c->tb->client = c;
    uv_timer_init(loop, &c->tb->timer);
    c->tb->timer.data = c->tb;
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    *out = c;
    return 0;
}

static void client_destroy(struct cr_http_client *c)
{
    while (c->calls.next != &c->calls)
        call_remove(container_of(c->calls.next, struct cr_http_call, link));
    curl_multi_cleanup(c->multi); /* may report CURL_POLL_REMOVE for cached connections */
    while (c->socks.next != &c->socks)
        sock_close(container_of(c->socks.next, struct sock_ctx, link));
    c->tb->client = NULL;
    uv_close((uv_handle_t *)&c->tb->timer, on_timer_closed);
    free(c);
}

void cr_http_client_free(struct cr_http_client *c)
{
    if (!c || c->is_dying)
        return;
    c->is_dying = true;
    /* done callbacks may cancel or free other calls' owners; rescan after each. */
    for (;;) {
        struct cr_http_call *next = NULL;
        for (struct link *l = c->calls.next; l != &c->calls; l = l->next) {
            struct cr_http_call *call = container_of(l, struct cr_http_call, link);
            if (!call->is_done) {
                next = call;
                break;
            }
        }
        if (!next)
            break;
        call_cancel_now(next, "client shut down");
    }
    if (c->depth == 0)
        client_destroy(c);
}

struct cr_http_call *cr_http_client_send(struct cr_http_client *c,
                                         const struct cr_http_request *req, cr_http_done_fn done,
                                         void *ud, struct cr_err *err)
{
    if (c->is_dying) {
        cr_err_set(err, -ECANCELED, "http client: shutting down");
        return NULL;
    }
    if (!req->url || !*req->url) {
        cr_err_set(err, -EINVAL, "http client: no url");
        return NULL;
    }
    struct cr_http_call *call = cr_xcalloc(1, sizeof(*call));
    call->easy = curl_easy_init();
    if (!call->easy) {
        free(call);
        cr_err_set(err, -ENOMEM, "http client: curl_easy_init failed");
        return NULL;
    }
    call->client = c;
    call->method = cr_xstrdup(req->method ? req->method : "GET");
    call->url = cr_xstrdup(req->url);
    if (req->body) {
        call->body = cr_xmalloc(req->body_len + 1);
        memcpy(call->body, req->body, req->body_len);
        call->body[req->body_len] = '\0';
    }
    call->done = done;
    call->ud = ud;
    call->on_headers = req->on_headers;
    call->on_data = req->on_data;
    call->follow = req->follow_redirects;
    cr_buf_init(&call->resp_body);
    list_init(&call->link);
    call->headers =
        setup_easy(call->easy, call->method, call->url, req->headers, call->body, req->body_len,
                   req->timeout_ms, req->connect_timeout_ms, req->follow_redirects, call->errbuf);
    curl_easy_setopt(call->easy, CURLOPT_PRIVATE, (char *)call);
    curl_easy_setopt(call->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(call->easy, CURLOPT_HEADERDATA, call);
    curl_easy_setopt(call->easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(call->easy, CURLOPT_WRITEDATA, call);
    list_add(&c->calls, &call->link);
    if (c->in_curl) {
        /* curl forbids adding from its callbacks: after_action() adds it */
        list_add(&c->parked, &call->plink);
        call->is_parked = true;
        return call;
    }
    CURLMcode mc = curl_multi_add_handle(c->multi, call->easy);
    if (mc != CURLM_OK) {
        cr_err_set(err, -EIO, "http client: %s %s: %s", call->method, call->url,
                   curl_multi_strerror(mc));
        call_free(call);
        return NULL;
    }
    call->in_multi = true;
    return call;
}

void cr_http_call_cancel(struct cr_http_call *call)
{
    if (!call || call->is_done)
        return;
    struct cr_http_client *c = call->client;
    call_cancel_now(call, "cancelled");
    /* From inside curl (or while dying) the call is removed later, by after_action() or
     * the teardown; its curl callbacks abort meanwhile. */
    if (!c->in_curl && !c->is_dying)
        call_remove(call);
    else
        c->has_swept = true;
}

/* ---- blocking fetch ---- */

static size_t fetch_write(char *buf, size_t size, size_t nitems, void *ud)
{
    cr_buf_append(ud, buf, size * nitems);
    return size * nitems;
}

int cr_http_fetch(const char *method, const char *url, const char *const *headers, const char *body,
                  size_t body_len, long timeout_ms, int *status, char **body_out,
                  size_t *body_len_out, struct cr_err *err)
{
    *status = 0;
    if (body_out)
        *body_out = NULL;
    if (body_len_out)
        *body_len_out = 0;
    curl_global();
    CURL *easy = curl_easy_init();
    if (!easy)
        return cr_err_set(err, -ENOMEM, "curl_easy_init failed");
    char errbuf[CURL_ERROR_SIZE] = "";
    struct cr_buf buf;
    cr_buf_init(&buf);
    const char *m = method ? method : "GET";
    struct curl_slist *list =
        setup_easy(easy, m, url, headers, body, body_len, timeout_ms, 0, true, errbuf);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, fetch_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &buf);
    CURLcode res = curl_easy_perform(easy);
    int rc = 0;
    if (res != CURLE_OK) {
        char msg[CR_ERR_MSG_MAX];
        curl_message(msg, sizeof(msg), m, url, res, errbuf);
        rc = cr_err_set(err, map_curl_error(res, easy), "%s", msg);
        cr_buf_release(&buf);
    } else {
        long code = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
        *status = (int)code;
        size_t len;
        char *data = cr_buf_steal(&buf, &len);
        if (body_out)
            *body_out = data;
        else
            free(data);
        if (body_len_out)
            *body_len_out = len;
    }
    curl_slist_free_all(list);
    curl_easy_cleanup(easy);
    return rc;
}
