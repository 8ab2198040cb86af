/*
 * http_server.h - an HTTP/1.1 server on libmicrohttpd, driven by a libuv loop.
 *
 * MHD runs without threads of its own (external epoll mode): the libuv loop polls
 * MHD's epoll fd and calls MHD_run(), so every handler runs on the loop thread
 * that owns the daemon's state. Request bodies (plain or chunked) are buffered up
 * to max_body_bytes (refused with 413 beyond that) and the handler is called once,
 * with the whole body.
 *
 * A handler answers exactly once, either before it returns or later (after a raft
 * commit, say): a request not answered on return is suspended in MHD and resumed
 * when the answer comes. The cr_http_req stays valid until it is answered, whether
 * or not the client is still there; every request must be answered eventually.
 *
 * Streaming answers (RecordIO event streams, SSE) use cr_http_stream: each write is
 * sent as exactly one HTTP chunk, in order; the stream's close callback tells the
 * owner when the client went away (or the server stopped), after which writes
 * fail with -EPIPE and the owner must call cr_http_stream_release().
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
 * Stop listening and close every connection: open streams get their close callback,
 * unanswered requests are answered 503. Frees srv. Accepts NULL. Must be called
 * while the loop is still usable (it runs the loop briefly if needed to release handles).
 */
void cr_http_server_free(struct cr_http_server *srv);

/* ---- request accessors (all returned strings are borrowed from req) ---- */

const char *cr_http_req_method(const struct cr_http_req *req); /* "GET", "POST", ... */
const char *cr_http_req_path(const struct cr_http_req *req);   /* decoded path, no query */
/* Value of query argument name (decoded), or NULL if absent. */
const char *cr_http_req_query(const struct cr_http_req *req, const char *name);
/* Value of header name (case-insensitive), or NULL. */
const char *cr_http_req_header(const struct cr_http_req *req, const char *name);
/* Whole body (NUL-terminated for convenience; may contain NULs). */
const char *cr_http_req_body(const struct cr_http_req *req, size_t *len);
/* Peer address as text ("127.0.0.1"), "" if unknown. */
const char *cr_http_req_peer(const struct cr_http_req *req);

/* ---- answering ---- */

/* Add a response header for the coming answer (copied). Call before respond/stream_open. */
void cr_http_req_add_header(struct cr_http_req *req, const char *name, const char *value);

/*
 * Answer with status and body (copied; NULL body = empty). content_type NULL = none.
 * req is released: do not touch it afterwards.
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
 * is called once, on the loop thread, when the client disconnects or the server stops.
 * Returns NULL only on allocation failure (req is then answered 500).
 */
struct cr_http_stream *cr_http_stream_open(struct cr_http_req *req, int status,
                                           const char *content_type, cr_http_stream_close_fn on_close,
                                           void *ud);

/* Queue data (copied) as one HTTP chunk. Returns 0, or -EPIPE once the peer is gone. */
int cr_http_stream_write(struct cr_http_stream *stream, const void *data, size_t len);

/* Bytes queued but not yet handed to the socket (for back-pressure decisions). */
size_t cr_http_stream_pending(const struct cr_http_stream *stream);

/*
 * Finish the response (after queued chunks are sent) and give up ownership. on_close
 * is not called after this. Safe to call after the close callback fired. Accepts NULL.
 */
void cr_http_stream_release(struct cr_http_stream *stream);

#endif
