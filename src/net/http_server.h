/*
 * http_server.h - an HTTP/1.1 server on libmicrohttpd, driven by a libuv loop.
 *
 * MHD runs without threads of its own (external epoll mode): the libuv loop polls
 * MHD's epoll fd and calls MHD_run(), so every handler runs on the loop thread
 * that owns the daemon's state. Request bodies (plain or chunked) are buffered up
 * to max_body_bytes and the handler is called once, with the whole body. A body over
 * the limit is answered 413 with a plain-text reason and never reaches the handler
 * (announced by Content-Length: refused at once; chunked: refused at its end, or the
 * connection is dropped if it goes on far past the limit). Connections are kept alive;
 * idle ones are closed after 120 s.
 *
 * A handler answers exactly once, either before it returns or later (after a raft
 * commit, say): a request not answered on return is suspended in MHD and resumed
 * when the answer comes, and MHD runs again on the next loop iteration (no wait for
 * unrelated traffic). The cr_http_req stays valid until it is answered, whether
 * or not the client is still there; every request must be answered eventually (or
 * the server freed, which answers the rest with 503).
 *
 * Streaming answers (RecordIO event streams, SSE) use cr_http_stream: the status and
 * headers go out at once, then each write is sent as exactly one HTTP chunk, in order,
 * of any size (the stream writes the socket itself, see http_server.c). An idle stream
 * costs no CPU, and a client that goes away is noticed without writing. The stream's
 * close callback tells the owner when the client went away (or the server stopped),
 * after which writes fail with -EPIPE and the owner must call cr_http_stream_release().
 * To an HTTP/1.0 client the stream is sent unframed and ends by closing the connection.
 *
 * Callbacks (handler, on_close) may call anything in this file, including
 * cr_http_server_free(); they must not block.
 */
#ifndef CR_NET_HTTP_SERVER_H
#define CR_NET_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/err.h"

struct cr_http_server;
struct cr_http_req;
struct cr_http_stream;

/* Called on the loop thread with a complete request. req is borrowed until answered. */
typedef void (*cr_http_handler_fn)(struct cr_http_req *req, void *ud);

struct cr_http_server_config {
    const char *bind_ip;   /* "127.0.0.1", "0.0.0.0"; borrowed during start only */
    uint16_t port;         /* 0 = pick a free port (see cr_http_server_port) */
    size_t max_body_bytes; /* 0 = 8 MiB */
    cr_http_handler_fn handler;
    void *ud;
};

/*
 * Start listening on cfg->bind_ip:cfg->port and serving on loop. On success *out is
 * owned by the caller (free with cr_http_server_free). Returns 0 or a negative errno
 * (e.g. -EADDRINUSE) with err filled.
 */
int cr_http_server_start(uv_loop_t *loop, const struct cr_http_server_config *cfg,
                         struct cr_http_server **out, struct cr_err *err);

/* The port actually bound. */
uint16_t cr_http_server_port(const struct cr_http_server *srv);

/*
 * Stop listening and close every connection. Open streams get their close callback
 * before this returns (writes then fail with -EPIPE; the owner still releases them,
 * now or later, and a stream may outlive its server). Unanswered requests are answered
 * 503 and every cr_http_req pointer the caller still holds becomes invalid. Pending
 * answers and stream ends are flushed where the sockets allow, then MHD is stopped.
 * Called from inside one of this server's callbacks, the MHD part of the teardown
 * finishes right after that callback returns; no callback of the caller runs after
 * this returns. The server's two libuv handles finish closing on the next loop pass:
 * run the loop (or cr_loop_close_all) before uv_loop_close(). Accepts NULL.
 */
void cr_http_server_free(struct cr_http_server *srv);

/* ---- request accessors (all returned strings are borrowed from req: valid until it is
 * answered, so copy what you keep) ---- */

const char *cr_http_req_method(const struct cr_http_req *req); /* "GET", "POST", ... */
const char *cr_http_req_path(const struct cr_http_req *req);   /* decoded path, no query */
/* Value of query argument name (decoded), or NULL if absent. */
const char *cr_http_req_query(const struct cr_http_req *req, const char *name);
/* Every value of a repeated query argument (?x=a&x=b), in order: fills out[0..max) and
 * returns how many there are (may exceed max). */
size_t cr_http_req_query_all(const struct cr_http_req *req, const char *name, const char **out,
                             size_t max);
/* Value of header name (case-insensitive), or NULL. */
const char *cr_http_req_header(const struct cr_http_req *req, const char *name);
/* Whole body (NUL-terminated for convenience; may contain NULs). */
const char *cr_http_req_body(const struct cr_http_req *req, size_t *len);
/* Peer address as text ("127.0.0.1"), "" if unknown. */
const char *cr_http_req_peer(const struct cr_http_req *req);

/* ---- answering ---- */

/*
 * Add a response header for the coming answer (both strings copied): Location,
 * Mesos-Stream-Id, Cache-Control... Call before respond/stream_open. Do not add
 * Content-Length or Transfer-Encoding: libmicrohttpd sets those (a header it refuses is
 * dropped with a warning in the log).
 */
void cr_http_req_add_header(struct cr_http_req *req, const char *name, const char *value);

/*
 * Answer with status and body (copied; NULL body = empty). content_type NULL = none.
 * req is released: do not touch it afterwards. Answering twice is a programmer error
 * (assert).
 */
void cr_http_respond(struct cr_http_req *req, int status, const char *content_type,
                     const char *body, size_t len);

/* printf-style text/plain answer (for errors: "Failed to parse body: ..."). */
void cr_http_respondf(struct cr_http_req *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

typedef void (*cr_http_stream_close_fn)(struct cr_http_stream *stream, void *ud);

/*
 * Answer with a streaming body of unknown length (chunked). req is released; the
 * stream is owned by the caller until cr_http_stream_release(). on_close (may be NULL)
 * is called once, on the loop thread, when the client disconnects or the server stops,
 * unless the stream was released first; the owner may release the stream (or write,
 * getting -EPIPE) from inside on_close. If the server is already stopping, the client
 * gets 503 and on_close runs before this returns. Returns NULL only on allocation
 * failure (req is then answered 500).
 */
struct cr_http_stream *cr_http_stream_open(struct cr_http_req *req, int status,
                                           const char *content_type,
                                           cr_http_stream_close_fn on_close, void *ud);

/*
 * The same, but the body is not chunked: it is the bytes written, until the connection closes
 * (`Connection: close`, as Marathon's event stream and other HTTP/1.0-style streams do).
 */
struct cr_http_stream *cr_http_stream_open_until_close(struct cr_http_req *req, int status,
                                                       const char *content_type,
                                                       cr_http_stream_close_fn on_close, void *ud);

/*
 * Send data (copied) as one HTTP chunk, however large: it is written to the socket at
 * once as far as the socket takes it, the rest is queued (see cr_http_stream_pending).
 * An empty write does nothing (an empty chunk would end the body). Returns 0, or -EPIPE
 * once the peer is gone or the server stopped. Writing after release is a programmer
 * error (assert).
 */
int cr_http_stream_write(struct cr_http_stream *stream, const void *data, size_t len);

/* Bytes queued but not yet handed to the socket (for back-pressure decisions). */
size_t cr_http_stream_pending(const struct cr_http_stream *stream);

/*
 * Finish the response (after queued chunks are sent, the terminating chunk follows and
 * the connection stays open for the client's next request) and give up ownership.
 * on_close is not called after this. Safe to call after the close callback fired, from
 * inside it, and after the server was freed. Accepts NULL.
 */
void cr_http_stream_release(struct cr_http_stream *stream);

#endif
