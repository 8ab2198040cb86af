/*
 * http_server.c - HTTP/1.1 server: libmicrohttpd in external epoll mode, driven by
 * a libuv loop (see http_server.h).
 *
 * Driving MHD. A uv_poll watches MHD's epoll fd and a uv_timer covers MHD's own
 * timeouts; both call run_mhd(), which calls MHD_run() and then re-arms the timer from
 * MHD_get_timeout() (0 when MHD still has ready connections: its epoll set is
 * edge-triggered, so leftover work would otherwise wait for an unrelated event).
 * Anything that changes a connection from outside MHD_run (a resume, an answer) calls
 * kick(), which makes the next loop iteration run MHD again.
 *
 * Requests. MHD calls on_access() several times per request: headers, body pieces, end.
 * The body is buffered into req->body, bounded by max_body. Beyond it the request is
 * answered 413: at once when Content-Length says so, else at the body's end, since
 * libmicrohttpd 0.9.75 refuses an answer in mid-body (the rest is drained, up to
 * DRAIN_MIN or max_body more bytes, then the connection is dropped). At the end the
 * user's handler runs once. An answer given inside the
 * handler is queued on return; otherwise the connection is suspended and the answer,
 * when it comes, resumes it and MHD calls on_access() again, which queues it.
 * struct cr_http_req lives from the first on_access() to MHD's completion callback
 * (on_completed), or until answered if that comes later (only possible if MHD ends a
 * request that was never resumed, which the server avoids).
 *
 * Streams. MHD's own chunking gives each chunk at most the connection's free pool
 * space (a few KiB), which would split big records. So for streams MHD only sends the
 * status line and headers; at its first call for body data (stream_reader) the
 * connection is suspended and the stream writes its chunks straight to the socket
 * ("<hex size>\r\n<data>\r\n", one per cr_http_stream_write, any size), watching the
 * socket with its own uv_poll: writable while data is queued, peer hang-up always (a
 * suspended connection is invisible to MHD, so this is how a vanished client is
 * noticed with ~0% CPU while idle). To end, the stream resumes the connection and the
 * reader reports end of stream (MHD writes the final "0\r\n\r\n" and the connection
 * can be kept alive) or an error (MHD closes it). Invariant: the stream's uv_poll is
 * active only while the connection is suspended by the stream, so MHD and the stream
 * never touch the socket at the same time, and the poll is stopped before MHD can
 * close the fd. on_close is called exactly once unless the owner released first: from
 * on_completed when MHD ends the request, or from cr_http_server_free().
 *
 * Lifetimes. The server's two libuv handles live in a separate block freed by their
 * close callbacks, so cr_http_server_free() releases everything else at once. A stream
 * is freed when both its owner released it and MHD is done with it (and its poll has
 * closed); it may outlive the server.
 */
#include "net/http_server.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"

#define DEFAULT_MAX_BODY ((size_t)8 << 20)
#define IDLE_TIMEOUT_SECS 120u
#define MAX_IOV 64
#define HTTP_TOO_LARGE 413u
/* After the body limit, drain at most max(limit, this) more bytes before hanging up. */
#define DRAIN_MIN ((size_t)16 << 20)

/* A doubly linked list node; lists are circular with a sentinel head. */
struct link {
    struct link *prev, *next;
};

static void list_init(struct link *l)
{
    l->prev = l->next = l;
}

static bool list_empty(const struct link *l)
{
    return l->next == l;
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
    if (n->next == n || !n->next)
        return;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = n;
}

#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

struct loop_handles {
    struct cr_http_server *srv; /* NULL once the server is gone */
    uv_poll_t poll;             /* MHD's epoll fd */
    uv_timer_t timer;           /* MHD's timeouts, and kicks */
    int open;
};

struct cr_http_server {
    uv_loop_t *loop;
    struct MHD_Daemon *mhd;
    struct loop_handles *h;
    uint16_t port;
    size_t max_body;
    cr_http_handler_fn handler;
    void *ud;
    bool in_run;         /* inside MHD_run() */
    bool run_again;      /* kick() happened during MHD_run() */
    bool is_stopping;    /* cr_http_server_free() has started */
    bool free_deferred;  /* free was called inside MHD_run(): finish after it returns */
    struct link pending; /* cr_http_req: dispatched, not yet answered */
    struct link streams; /* cr_http_stream: MHD not done with them yet */
};

struct header {
    char *name, *value;
};

enum req_state {
    REQ_RECEIVING,  /* headers/body arriving */
    REQ_TOO_LARGE,  /* body over the limit: answer 413 */
    REQ_DISPATCHED, /* handler called, no answer yet */
    REQ_ANSWERED,   /* answer ready (resp), not yet handed to MHD */
    REQ_QUEUED,     /* MHD has the answer */
};

struct cr_http_req {
    struct cr_http_server *srv;
    struct MHD_Connection *conn; /* NULL once MHD is done with the request */
    const char *method;          /* MHD's strings, valid while conn is */
    const char *path;
    bool is_http11;
    bool in_handler;
    bool is_suspended;
    enum req_state state;
    char peer[INET6_ADDRSTRLEN];
    struct cr_buf body;
    size_t dropped;         /* body bytes drained after the limit was hit */
    struct header *headers; /* added for the answer */
    size_t n_headers;
    struct MHD_Response *resp;
    unsigned status;
    struct cr_http_stream *stream;
    struct link link; /* in srv->pending while REQ_DISPATCHED */
};

enum stream_phase {
    ST_WAITING,   /* MHD is sending the headers; reader not called yet */
    ST_OWNED,     /* connection suspended; the stream writes the socket */
    ST_FINISHING, /* resumed to end cleanly */
    ST_ABORTING,  /* resumed (or about to be) to end with an error; connection closes */
    ST_DONE,      /* MHD is done with the request */
};

struct chunk {
    struct chunk *next;
    size_t len, off;
    char data[];
};

struct cr_http_stream {
    struct cr_http_server *srv; /* NULL once ST_DONE */
    struct MHD_Connection *conn;
    cr_http_stream_close_fn on_close;
    void *ud;
    enum stream_phase phase;
    bool is_chunked;
    bool is_released;    /* the owner gave it up */
    bool is_closed;      /* peer gone or server stopping: writes fail */
    bool close_notified; /* on_close has run (or must never run) */
    bool in_close_cb;
    bool has_poll;
    int poll_events;
    int fd;
    uv_poll_t poll;
    struct chunk *head, *tail;
    size_t pending;
    struct link link; /* in srv->streams until ST_DONE */
};

/* ---- driving MHD from the loop ---- */

static void teardown(struct cr_http_server *srv);

static void on_handles_closed(uv_handle_t *h)
{
    struct loop_handles *lh = h->data;
    if (--lh->open == 0)
        free(lh);
}

static void on_mhd_timer(uv_timer_t *t);

/* Arm the timer from MHD's wishes: now, later, or not at all. */
static void schedule(struct cr_http_server *srv)
{
    MHD_UNSIGNED_LONG_LONG timeout_ms;
    if (srv->run_again) {
        srv->run_again = false;
        uv_timer_start(&srv->h->timer, on_mhd_timer, 0, 0);
    } else if (MHD_get_timeout(srv->mhd, &timeout_ms) == MHD_YES) {
        uv_timer_start(&srv->h->timer, on_mhd_timer, (uint64_t)timeout_ms, 0);
    } else {
        uv_timer_stop(&srv->h->timer);
    }
}

static void run_mhd(struct cr_http_server *srv)
{
    srv->in_run = true;
    srv->run_again = false;
    MHD_run(srv->mhd);
    srv->in_run = false;
    if (srv->free_deferred) {
        teardown(srv);
        return;
    }
    schedule(srv);
}

static void on_mhd_poll(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    struct loop_handles *lh = p->data;
    if (lh->srv)
        run_mhd(lh->srv);
}

static void on_mhd_timer(uv_timer_t *t)
{
    struct loop_handles *lh = t->data;
    if (lh->srv)
        run_mhd(lh->srv);
}

/* Make MHD run soon: after a resume or an answer given outside MHD_run(). */
static void kick(struct cr_http_server *srv)
{
    if (!srv || !srv->h)
        return;
    if (srv->in_run)
        srv->run_again = true;
    else
        uv_timer_start(&srv->h->timer, on_mhd_timer, 0, 0);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    if (CR_LOG_DEBUG < cr_log_level_min)
        return;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    CR_DEBUG("http mhd: %s", msg);
}

/* ---- streams: the socket writer ---- */

static void stream_free_mem(uv_handle_t *h)
{
    free(h->data);
}

static void stream_drop_queue(struct cr_http_stream *s)
{
    while (s->head) {
        struct chunk *c = s->head;
        s->head = c->next;
        free(c);
    }
    s->tail = NULL;
    s->pending = 0;
}

static void stream_destroy(struct cr_http_stream *s)
{
    list_del(&s->link);
    stream_drop_queue(s);
    if (s->has_poll) {
        s->poll.data = s;
        uv_close((uv_handle_t *)&s->poll, stream_free_mem);
    } else {
        free(s);
    }
}

static void stream_poll_stop(struct cr_http_stream *s)
{
    if (s->has_poll && s->poll_events) {
        uv_poll_stop(&s->poll);
        s->poll_events = 0;
    }
}

/* Give the socket back to MHD, to end the response in the given phase. */
static void stream_resume(struct cr_http_stream *s, enum stream_phase phase)
{
    stream_poll_stop(s);
    bool was_owned = s->phase == ST_OWNED;
    s->phase = phase;
    if (was_owned) {
        MHD_resume_connection(s->conn);
        kick(s->srv);
    }
}

/* The peer is gone (or the server stops): fail writes, make MHD close the connection. */
static void stream_abort(struct cr_http_stream *s)
{
    s->is_closed = true;
    stream_drop_queue(s);
    if (s->phase == ST_OWNED || s->phase == ST_WAITING)
        stream_resume(s, ST_ABORTING);
}

/* Write what is queued. Returns 0 (all sent or the socket is full) or -errno. */
static int stream_flush(struct cr_http_stream *s)
{
    while (s->head) {
        struct iovec iov[MAX_IOV];
        int n = 0;
        for (struct chunk *c = s->head; c && n < MAX_IOV; c = c->next, n++) {
            iov[n].iov_base = c->data + c->off;
            iov[n].iov_len = c->len - c->off;
        }
        struct msghdr msg = {0};
        msg.msg_iov = iov;
        msg.msg_iovlen = (size_t)n;
        ssize_t w = sendmsg(s->fd, &msg, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -errno;
        }
        size_t left = (size_t)w;
        s->pending -= left;
        while (left > 0) {
            struct chunk *c = s->head;
            size_t part = c->len - c->off;
            if (left < part) {
                c->off += left;
                break;
            }
            left -= part;
            s->head = c->next;
            free(c);
        }
        if (!s->head)
            s->tail = NULL;
    }
    return 0;
}

static void on_stream_poll(uv_poll_t *p, int status, int events);

/* Watch for hang-up always, and for writability while data waits. */
static void stream_poll_update(struct cr_http_stream *s)
{
    int want = UV_DISCONNECT | (s->head ? UV_WRITABLE : 0);
    if (want == s->poll_events)
        return;
    int rc = uv_poll_start(&s->poll, want, on_stream_poll);
    if (rc < 0) {
        CR_WARN("http stream: cannot watch socket fd=%d: %s", s->fd, uv_strerror(rc));
        stream_abort(s);
        return;
    }
    s->poll_events = want;
}

/* After progress: finish if released and drained, else keep watching. */
static void stream_after_flush(struct cr_http_stream *s)
{
    if (s->is_released && !s->head)
        stream_resume(s, ST_FINISHING);
    else
        stream_poll_update(s);
}

static void on_stream_poll(uv_poll_t *p, int status, int events)
{
    struct cr_http_stream *s = p->data;
    if (s->phase != ST_OWNED)
        return;
    /* Any error, hang-up or half-close of a stream's socket means the client left. */
    if (status < 0 || (events & UV_DISCONNECT) || !(events & UV_WRITABLE)) {
        CR_DEBUG("http stream: peer closed fd=%d", s->fd);
        stream_abort(s);
        return;
    }
    int rc = stream_flush(s);
    if (rc < 0) {
        CR_DEBUG("http stream: write failed fd=%d: %s", s->fd, strerror(-rc));
        stream_abort(s);
        return;
    }
    stream_after_flush(s);
}

/*
 * MHD wants body data. The first call, right after the headers went out, hands the
 * socket to the stream (suspending the connection); later calls come only after the
 * stream resumed the connection to end the response.
 */
static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    (void)buf;
    (void)max;
    struct cr_http_stream *s = cls;
    switch (s->phase) {
    case ST_WAITING:
        break;
    case ST_FINISHING:
        return MHD_CONTENT_READER_END_OF_STREAM;
    case ST_OWNED:
        /* Not reachable while suspended; answer "nothing yet" defensively. */
        return 0;
    case ST_ABORTING:
    case ST_DONE:
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (s->is_closed)
        return MHD_CONTENT_READER_END_WITH_ERROR;

    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(s->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) {
        s->is_closed = true;
        s->phase = ST_ABORTING;
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    s->fd = ci->connect_fd;
    /* MHD sent the headers with MSG_MORE/cork expecting a body: push them out now and
     * send every chunk as soon as it is written. */
    int one = 1, zero = 0;
    setsockopt(s->fd, IPPROTO_TCP, TCP_CORK, &zero, sizeof(zero));
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    int rc = stream_flush(s);
    if (rc < 0) {
        s->is_closed = true;
        stream_drop_queue(s);
        s->phase = ST_ABORTING;
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (s->is_released && !s->head) {
        s->phase = ST_FINISHING;
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    if (!s->has_poll) {
        rc = uv_poll_init(s->srv->loop, &s->poll, s->fd);
        if (rc < 0) {
            CR_WARN("http stream: cannot poll socket fd=%d: %s", s->fd, uv_strerror(rc));
            s->is_closed = true;
            stream_drop_queue(s);
            s->phase = ST_ABORTING;
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        s->poll.data = s;
        s->has_poll = true;
    }
    MHD_suspend_connection(s->conn);
    s->phase = ST_OWNED;
    stream_poll_update(s);
    return 0;
}

/* Run on_close once, allowing the owner to release the stream from inside it. */
static void stream_notify_close(struct cr_http_stream *s)
{
    if (s->close_notified || s->is_released)
        return;
    s->close_notified = true;
    s->is_closed = true;
    if (s->on_close) {
        s->in_close_cb = true;
        s->on_close(s, s->ud);
        s->in_close_cb = false;
    }
}

/* MHD finished the request (cleanly or not). */
static void stream_mhd_done(struct cr_http_stream *s)
{
    stream_poll_stop(s);
    list_del(&s->link);
    s->phase = ST_DONE;
    s->srv = NULL;
    s->conn = NULL;
    stream_drop_queue(s);
    stream_notify_close(s);
    if (s->is_released)
        stream_destroy(s);
}

/* ---- requests ---- */

static void req_free(struct cr_http_req *req)
{
    list_del(&req->link);
    if (req->resp)
        MHD_destroy_response(req->resp);
    for (size_t i = 0; i < req->n_headers; i++) {
        free(req->headers[i].name);
        free(req->headers[i].value);
    }
    free(req->headers);
    cr_buf_release(&req->body);
    free(req);
}

static void add_headers(struct cr_http_req *req, struct MHD_Response *resp,
                        const char *content_type)
{
    if (content_type &&
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) == MHD_NO)
        CR_WARN("http: bad content type '%s'", content_type);
    for (size_t i = 0; i < req->n_headers; i++) {
        if (MHD_add_response_header(resp, req->headers[i].name, req->headers[i].value) == MHD_NO)
            CR_WARN("http: cannot add response header name=%s", req->headers[i].name);
        free(req->headers[i].name);
        free(req->headers[i].value);
    }
    free(req->headers);
    req->headers = NULL;
    req->n_headers = 0;
}

static struct MHD_Response *make_response(const char *body, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)(len ? body : ""), MHD_RESPMEM_MUST_COPY);
    if (!resp)
        abort(); /* only on out-of-memory: the same policy as cr_xmalloc */
    return resp;
}

static enum MHD_Result queue_answer(struct cr_http_req *req)
{
    enum MHD_Result rc = MHD_queue_response(req->conn, req->status, req->resp);
    MHD_destroy_response(req->resp);
    req->resp = NULL;
    req->state = REQ_QUEUED;
    if (rc == MHD_NO)
        CR_WARN("http: cannot queue response status=%u path=%s", req->status, req->path);
    return rc;
}

/* Store the answer; hand it to MHD now if MHD is waiting for it. */
static void answer(struct cr_http_req *req, unsigned status, struct MHD_Response *resp)
{
    assert(req->state == REQ_DISPATCHED && "cr_http_req answered twice");
    list_del(&req->link);
    req->resp = resp;
    req->status = status;
    req->state = REQ_ANSWERED;
    if (!req->conn) {
        /* MHD already dropped the request (its client is gone): nothing to send. */
        req_free(req);
        return;
    }
    if (req->is_suspended) {
        req->is_suspended = false;
        MHD_resume_connection(req->conn);
        kick(req->srv);
    }
}

static struct MHD_Response *text_response(const char *text)
{
    return make_response(text, strlen(text));
}

static void fill_peer(struct cr_http_req *req, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    req->peer[0] = '\0';
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, req->peer,
                  sizeof(req->peer));
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, req->peer,
                  sizeof(req->peer));
}

static enum MHD_Result answer_now(struct cr_http_req *req, unsigned status, const char *text)
{
    req->state = REQ_ANSWERED;
    req->status = status;
    req->resp = text_response(text);
    return queue_answer(req);
}

static void too_large_text(const struct cr_http_req *req, char *buf, size_t size)
{
    snprintf(buf, size, "request body exceeds the limit of %zu bytes\n", req->srv->max_body);
}

/*
 * Answer 413 in the middle of a body if MHD allows it (it then closes the connection
 * instead of reading the rest); otherwise the rest is read, dropped, and answered 413
 * at the end.
 */
static void try_early_413(struct cr_http_req *req)
{
    char msg[128];
    too_large_text(req, msg, sizeof(msg));
    struct MHD_Response *resp = text_response(msg);
    bool is_early = MHD_queue_response(req->conn, HTTP_TOO_LARGE, resp) == MHD_YES;
    if (is_early)
        req->state = REQ_QUEUED;
    MHD_destroy_response(resp);
    CR_DEBUG("http request body over the limit path=%s peer=%s limit=%zu early=%d", req->path,
             req->peer, req->srv->max_body, (int)is_early);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    struct cr_http_server *srv = cls;
    struct cr_http_req *req = *con_cls;

    if (!req) {
        req = cr_xcalloc(1, sizeof(*req));
        req->srv = srv;
        req->conn = conn;
        req->method = method;
        req->path = url;
        req->is_http11 = strncmp(version, "HTTP/1.", 7) == 0 && strcmp(version, "HTTP/1.0") != 0;
        req->state = REQ_RECEIVING;
        list_init(&req->link);
        cr_buf_init(&req->body);
        fill_peer(req, conn);
        *con_cls = req;
        if (srv->is_stopping)
            return answer_now(req, MHD_HTTP_SERVICE_UNAVAILABLE, "server shutting down\n");
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno == 0 && end != cl && n > srv->max_body) {
                req->state = REQ_TOO_LARGE;
                char msg[128];
                snprintf(msg, sizeof(msg), "request body of %llu bytes exceeds the limit of %zu\n",
                         n, srv->max_body);
                return answer_now(req, HTTP_TOO_LARGE, msg);
            }
        }
        return MHD_YES;
    }

    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (req->state == REQ_TOO_LARGE) {
            /* Drain (so the 413 can be read) up to a bound, then just hang up. */
            req->dropped += n;
            if (req->dropped > (srv->max_body > DRAIN_MIN ? srv->max_body : DRAIN_MIN)) {
                CR_DEBUG("http request body far over the limit, closing path=%s peer=%s", req->path,
                         req->peer);
                return MHD_NO;
            }
        } else if (req->state == REQ_RECEIVING) {
            if (req->body.len + n > srv->max_body) {
                /* Chunked bodies announce no size: the limit is found while reading. */
                req->state = REQ_TOO_LARGE;
                cr_buf_release(&req->body);
                try_early_413(req);
            } else {
                cr_buf_append(&req->body, upload_data, n);
            }
        }
        return MHD_YES;
    }

    switch (req->state) {
    case REQ_RECEIVING:
        break;
    case REQ_TOO_LARGE: {
        char msg[128];
        too_large_text(req, msg, sizeof(msg));
        return answer_now(req, HTTP_TOO_LARGE, msg);
    }
    case REQ_DISPATCHED:
        return MHD_YES; /* woken without an answer: stay put */
    case REQ_ANSWERED:
        return queue_answer(req);
    case REQ_QUEUED:
        return MHD_YES;
    }

    if (!req->body.data)
        cr_buf_append(&req->body, "", 0);
    req->state = REQ_DISPATCHED;
    list_add(&srv->pending, &req->link);
    if (srv->is_stopping || !srv->handler) {
        answer(req, MHD_HTTP_SERVICE_UNAVAILABLE, text_response("server shutting down\n"));
        return queue_answer(req);
    }
    CR_DEBUG("http request method=%s path=%s peer=%s bytes=%zu", method, url, req->peer,
             req->body.len);
    req->in_handler = true;
    srv->handler(req, srv->ud);
    req->in_handler = false;
    if (req->state == REQ_ANSWERED)
        return queue_answer(req);
    MHD_suspend_connection(conn);
    req->is_suspended = true;
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    struct cr_http_req *req = *con_cls;
    if (!req)
        return;
    *con_cls = NULL;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        CR_DEBUG("http request ended early path=%s peer=%s code=%d", req->path, req->peer,
                 (int)toe);
    if (req->stream) {
        struct cr_http_stream *s = req->stream;
        req->stream = NULL;
        stream_mhd_done(s);
    }
    req->conn = NULL;
    if (req->state == REQ_DISPATCHED) {
        /* The owner still holds req and will answer it; free it then. */
        list_del(&req->link);
        return;
    }
    req_free(req);
}

/* ---- public: requests ---- */

const char *cr_http_req_method(const struct cr_http_req *req)
{
    return req->method;
}

const char *cr_http_req_path(const struct cr_http_req *req)
{
    return req->path;
}

const char *cr_http_req_query(const struct cr_http_req *req, const char *name)
{
    if (!req->conn)
        return NULL;
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct query_all {
    const char *name;
    const char **out;
    size_t max, n;
};

static enum MHD_Result query_all_it(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    struct query_all *q = cls;
    (void)kind;
    if (key && strcmp(key, q->name) == 0) {
        if (q->n < q->max)
            q->out[q->n] = value ? value : "";
        q->n++;
    }
    return MHD_YES;
}

size_t cr_http_req_query_all(const struct cr_http_req *req, const char *name, const char **out,
                             size_t max)
{
    if (!req->conn)
        return 0;
    struct query_all q = {name, out, max, 0};
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_all_it, &q);
    return q.n;
}

const char *cr_http_req_header(const struct cr_http_req *req, const char *name)
{
    if (!req->conn)
        return NULL;
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *cr_http_req_body(const struct cr_http_req *req, size_t *len)
{
    if (len)
        *len = req->body.len;
    return req->body.data ? req->body.data : "";
}

const char *cr_http_req_peer(const struct cr_http_req *req)
{
    return req->peer;
}

void cr_http_req_add_header(struct cr_http_req *req, const char *name, const char *value)
{
    assert(req->state == REQ_DISPATCHED);
    req->headers = cr_xrealloc(req->headers, (req->n_headers + 1) * sizeof(*req->headers));
    req->headers[req->n_headers].name = cr_xstrdup(name);
    req->headers[req->n_headers].value = cr_xstrdup(value);
    req->n_headers++;
}

void cr_http_respond(struct cr_http_req *req, int status, const char *content_type,
                     const char *body, size_t len)
{
    struct MHD_Response *resp = make_response(body, body ? len : 0);
    add_headers(req, resp, content_type);
    answer(req, (unsigned)status, resp);
}

void cr_http_respondf(struct cr_http_req *req, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = NULL;
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    cr_http_respond(req, status, "text/plain; charset=utf-8", text, (size_t)n);
    free(text);
}

/* ---- public: streams ---- */

static struct cr_http_stream *stream_open(struct cr_http_req *req, int status,
                                          const char *content_type, bool is_until_close,
                                          cr_http_stream_close_fn on_close, void *ud)
{
    struct cr_http_stream *s = calloc(1, sizeof(*s));
    if (!s) {
        cr_http_respondf(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory opening a stream\n");
        return NULL;
    }
    s->on_close = on_close;
    s->ud = ud;
    s->fd = -1;
    list_init(&s->link);
    if (!req->conn || req->srv->is_stopping) {
        /* Nobody to stream to: the stream starts closed (on_close runs now) and MHD never
         * sees it, so the owner may release it whenever. */
        s->phase = ST_DONE;
        s->is_closed = true;
        cr_http_respondf(req, MHD_HTTP_SERVICE_UNAVAILABLE, "server shutting down\n");
        stream_notify_close(s);
        return s;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_reader, s, NULL);
    if (!resp) {
        free(s);
        cr_http_respondf(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory opening a stream\n");
        return NULL;
    }
    s->srv = req->srv;
    s->conn = req->conn;
    s->phase = ST_WAITING;
    s->is_chunked = req->is_http11 && !is_until_close;
    if (is_until_close) /* no chunked encoding; MHD closes the connection at the end */
        MHD_set_response_options(resp, MHD_RF_HTTP_1_0_COMPATIBLE_STRICT, MHD_RO_END);
    add_headers(req, resp, content_type);
    list_add(&req->srv->streams, &s->link);
    req->stream = s;
    answer(req, (unsigned)status, resp);
    return s;
}

struct cr_http_stream *cr_http_stream_open(struct cr_http_req *req, int status,
                                           const char *content_type,
                                           cr_http_stream_close_fn on_close, void *ud)
{
    return stream_open(req, status, content_type, false, on_close, ud);
}

struct cr_http_stream *cr_http_stream_open_until_close(struct cr_http_req *req, int status,
                                                       const char *content_type,
                                                       cr_http_stream_close_fn on_close, void *ud)
{
    return stream_open(req, status, content_type, true, on_close, ud);
}

int cr_http_stream_write(struct cr_http_stream *s, const void *data, size_t len)
{
    assert(!s->is_released && "cr_http_stream_write after release");
    if (s->is_closed || s->phase == ST_ABORTING || s->phase == ST_DONE)
        return -EPIPE;
    if (len == 0)
        return 0; /* an empty chunk would end the body */
    char head[24];
    int hlen = s->is_chunked ? snprintf(head, sizeof(head), "%zx\r\n", len) : 0;
    size_t total = (size_t)hlen + len + (s->is_chunked ? 2 : 0);
    struct chunk *c = cr_xmalloc(sizeof(*c) + total);
    c->next = NULL;
    c->len = total;
    c->off = 0;
    memcpy(c->data, head, (size_t)hlen);
    memcpy(c->data + hlen, data, len);
    if (s->is_chunked)
        memcpy(c->data + hlen + len, "\r\n", 2);
    if (s->tail)
        s->tail->next = c;
    else
        s->head = c;
    s->tail = c;
    s->pending += total;
    if (s->phase != ST_OWNED)
        return 0;
    int rc = stream_flush(s);
    if (rc < 0) {
        CR_DEBUG("http stream: write failed fd=%d: %s", s->fd, strerror(-rc));
        stream_abort(s);
        return -EPIPE;
    }
    stream_poll_update(s);
    return s->is_closed ? -EPIPE : 0;
}

size_t cr_http_stream_pending(const struct cr_http_stream *s)
{
    return s->pending;
}

void cr_http_stream_release(struct cr_http_stream *s)
{
    if (!s)
        return;
    assert(!s->is_released && "cr_http_stream_release called twice");
    s->is_released = true;
    if (s->in_close_cb)
        return; /* stream_mhd_done() or the server's free finishes the job */
    if (s->phase == ST_DONE) {
        stream_destroy(s);
        return;
    }
    if (s->phase == ST_OWNED && !s->is_closed)
        stream_after_flush(s);
    /* ST_WAITING: the reader ends the body when MHD first asks for it.
     * ST_FINISHING/ST_ABORTING: MHD is already ending the response. */
}

/* ---- public: server ---- */

static int listen_socket(const char *ip, uint16_t port, int *out_fd, uint16_t *out_port,
                         struct cr_err *err)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t sslen;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        sslen = sizeof(*sin);
    } else if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        sslen = sizeof(*sin6);
    } else {
        return cr_err_set(err, -EINVAL, "bad bind address '%s' (want an IPv4 or IPv6 address)", ip);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return cr_err_sys(err, -errno, "socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sslen) < 0) {
        int e = errno;
        close(fd);
        return cr_err_sys(err, -e, "bind %s:%u", ip, (unsigned)port);
    }
    if (listen(fd, 1024) < 0) {
        int e = errno;
        close(fd);
        return cr_err_sys(err, -e, "listen %s:%u", ip, (unsigned)port);
    }
    sslen = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0) {
        int e = errno;
        close(fd);
        return cr_err_sys(err, -e, "getsockname");
    }
    *out_port = ntohs(ss.ss_family == AF_INET ? sin->sin_port : sin6->sin6_port);
    *out_fd = fd;
    return 0;
}

int cr_http_server_start(uv_loop_t *loop, const struct cr_http_server_config *cfg,
                         struct cr_http_server **out, struct cr_err *err)
{
    *out = NULL;
    if (!cfg->handler)
        return cr_err_set(err, -EINVAL, "http server: no handler");
    const char *ip = cfg->bind_ip ? cfg->bind_ip : "127.0.0.1";
    int fd = -1;
    uint16_t port = 0;
    int rc = listen_socket(ip, cfg->port, &fd, &port, err);
    if (rc < 0)
        return cr_err_wrap(err, "http server");

    struct cr_http_server *srv = cr_xcalloc(1, sizeof(*srv));
    srv->loop = loop;
    srv->port = port;
    srv->max_body = cfg->max_body_bytes ? cfg->max_body_bytes : DEFAULT_MAX_BODY;
    srv->handler = cfg->handler;
    srv->ud = cfg->ud;
    list_init(&srv->pending);
    list_init(&srv->streams);

    /* epoll is not bounded by FD_SETSIZE: allow as many connections as fds. */
    unsigned conn_limit = 1020;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 1100)
        conn_limit = (unsigned)(rl.rlim_cur > 65536 ? 65536 - 64 : rl.rlim_cur - 64);

    /* The logger goes first so MHD routes even option errors through it. */
    srv->mhd = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_access, srv,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_CONNECTION_TIMEOUT,
        IDLE_TIMEOUT_SECS, MHD_OPTION_CONNECTION_LIMIT, conn_limit, MHD_OPTION_END);
    if (!srv->mhd) {
        close(fd);
        free(srv);
        return cr_err_set(err, -EIO, "http server: libmicrohttpd failed to start on %s:%u", ip,
                          (unsigned)port);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    srv->h = cr_xcalloc(1, sizeof(*srv->h));
    srv->h->srv = srv;
    srv->h->poll.data = srv->h;
    srv->h->timer.data = srv->h;
    rc = di ? uv_poll_init(loop, &srv->h->poll, di->epoll_fd) : UV_EINVAL;
    if (rc == 0) {
        srv->h->open++;
        rc = uv_poll_start(&srv->h->poll, UV_READABLE, on_mhd_poll);
    }
    if (rc == 0) {
        uv_timer_init(loop, &srv->h->timer);
        srv->h->open++;
    }
    if (rc < 0) {
        if (srv->h->open)
            uv_close((uv_handle_t *)&srv->h->poll, on_handles_closed);
        else
            free(srv->h);
        MHD_stop_daemon(srv->mhd);
        free(srv);
        return cr_err_set(err, rc, "http server: watch libmicrohttpd: %s", uv_strerror(rc));
    }
    CR_DEBUG("http server listening ip=%s port=%u", ip, (unsigned)port);
    schedule(srv);
    *out = srv;
    return 0;
}

uint16_t cr_http_server_port(const struct cr_http_server *srv)
{
    return srv->port;
}

/* Release MHD and the loop handles once no MHD callback is on the stack. */
static void teardown(struct cr_http_server *srv)
{
    srv->free_deferred = false;
    MHD_socket lfd = MHD_quiesce_daemon(srv->mhd);
    /* A few passes let resumed connections send their 503s and stream terminators. */
    for (int i = 0; i < 8; i++) {
        srv->in_run = true;
        srv->run_again = false;
        MHD_run(srv->mhd);
        srv->in_run = false;
        MHD_UNSIGNED_LONG_LONG t;
        if (!srv->run_again && !(MHD_get_timeout(srv->mhd, &t) == MHD_YES && t == 0))
            break;
    }
    /* Stop watching MHD's epoll fd before MHD closes it. */
    srv->h->srv = NULL;
    uv_close((uv_handle_t *)&srv->h->poll, on_handles_closed);
    uv_close((uv_handle_t *)&srv->h->timer, on_handles_closed);
    srv->h = NULL;
    MHD_stop_daemon(srv->mhd); /* on_completed for every remaining request */
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
    /* Streams whose connections MHD had already closed are detached by now. */
    while (!list_empty(&srv->streams)) {
        struct cr_http_stream *s = container_of(srv->streams.next, struct cr_http_stream, link);
        stream_mhd_done(s);
    }
    while (!list_empty(&srv->pending)) {
        struct cr_http_req *req = container_of(srv->pending.next, struct cr_http_req, link);
        list_del(&req->link);
        req->conn = NULL;
    }
    free(srv);
}

void cr_http_server_free(struct cr_http_server *srv)
{
    if (!srv || srv->is_stopping)
        return;
    srv->is_stopping = true;
    srv->handler = NULL;

    /* Streams: tell each owner once, then make MHD end the connection. The owner may
     * release (or write, and get -EPIPE) from inside on_close. */
    struct link *l = srv->streams.next;
    while (l != &srv->streams) {
        struct cr_http_stream *s = container_of(l, struct cr_http_stream, link);
        l = l->next;
        stream_abort(s);
        /* A release inside on_close only marks s: MHD still refers to it. */
        stream_notify_close(s);
    }
    /* Requests nobody answered get 503 (owners must not touch them after this). */
    while (!list_empty(&srv->pending)) {
        struct cr_http_req *req = container_of(srv->pending.next, struct cr_http_req, link);
        answer(req, MHD_HTTP_SERVICE_UNAVAILABLE, text_response("server shutting down\n"));
    }
    if (srv->in_run) {
        srv->free_deferred = true;
        return;
    }
    teardown(srv);
}
