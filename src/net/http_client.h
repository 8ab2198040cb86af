/*
 * http_client.h - an asynchronous HTTP client on libcurl's multi interface,
 * driven by the same libuv loop as everything else (curl's socket callbacks map to
 * uv_poll handles, its timer to a uv_timer). Connections are kept alive and reused.
 *
 * Each request calls its done callback exactly once on the loop thread: with rc 0
 * and the response (any HTTP status, the caller judges it), or with a negative rc
 * and msg naming what failed ("POST http://...: Failed to connect to ..."):
 *   -ECONNREFUSED (or the connect errno)  nobody listening / connect failed
 *   -ETIMEDOUT       timeout_ms or connect_timeout_ms passed
 *   -ECONNRESET      the connection broke (also a stream cut short)
 *   -ECANCELED       cancelled, a callback asked to stop, or the client was freed
 *   -ELOOP           too many redirects (10)
 *   -EHOSTUNREACH    name resolution failed
 *   -EINVAL          bad URL or unsupported scheme (only http and https)
 *   -EIO             anything else
 * A request with on_data set is a stream: body bytes go to on_data as they arrive
 * (nothing is buffered) and done is called when the stream ends.
 *
 * Re-entrancy: from inside any callback of this client (done, on_headers, on_data) it
 * is safe to send new requests (the re-subscribe pattern), cancel any call (including
 * the current one), and free the client.
 *
 * Also a blocking one-shot for command-line verbs: cr_http_fetch().
 */
#ifndef CR_NET_HTTP_CLIENT_H
#define CR_NET_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "base/err.h"

struct cr_http_client;
struct cr_http_call;

/* Valid during the callback it is passed to. Headers are those of the final response
 * (after followed redirects), matched case-insensitively. */
struct cr_http_response {
    int status;       /* HTTP status code */
    const char *body; /* whole body, NUL-terminated (empty for streams); borrowed */
    size_t len;
    const char *location;     /* Location header or NULL; borrowed */
    const char *stream_id;    /* Mesos-Stream-Id header or NULL; borrowed */
    const char *content_type; /* or NULL; borrowed */
};

/* rc: 0 or negative errno; msg: what failed ("" on success); resp: NULL when rc < 0. */
typedef void (*cr_http_done_fn)(int rc, const char *msg, const struct cr_http_response *resp,
                                void *ud);
/*
 * Streaming: headers arrived (status and headers in resp; body empty). Return 0 to go on,
 * nonzero to abort the call (done then gets -ECANCELED).
 */
typedef int (*cr_http_headers_fn)(const struct cr_http_response *resp, void *ud);
/* Streaming: body bytes (borrowed during the call). Return 0 to go on, nonzero to abort. */
typedef int (*cr_http_data_fn)(const char *data, size_t len, void *ud);

struct cr_http_request {
    const char *method;         /* "GET", "POST", ...; default "GET" */
    const char *url;            /* absolute "http://127.0.0.1:5050/api/v1/scheduler" */
    const char *const *headers; /* "Name: value" strings, NULL-terminated; may be NULL */
    const char *body;           /* may be NULL */
    size_t body_len;
    long timeout_ms;               /* whole-request timeout; 0 = none (streams) */
    long connect_timeout_ms;       /* 0 = 5000 */
    bool follow_redirects;         /* follow 301/302/303/307/308 (also protocol-relative
                                      "//host:port/path"), keeping method and body */
    cr_http_headers_fn on_headers; /* optional, streams */
    cr_http_data_fn on_data;       /* set => streaming */
};

/*
 * One client per loop (it pools connections per host). On success *out is owned by the
 * caller: free with cr_http_client_free(). Returns 0 or negative errno with err filled.
 */
int cr_http_client_new(uv_loop_t *loop, struct cr_http_client **out, struct cr_err *err);

/*
 * Cancel everything outstanding (each done gets -ECANCELED, synchronously, before this
 * returns) and free. Safe from inside the client's own callbacks: the rest of the
 * teardown then happens when that callback returns, and no callback runs after this
 * returns. The socket and timer handles finish closing on the next loop pass: run the
 * loop (or cr_loop_close_all) before uv_loop_close(). Accepts NULL.
 */
void cr_http_client_free(struct cr_http_client *client);

/*
 * Start a request; everything in req is copied (req may be freed on return). Returns a
 * handle valid until done has been called (use it only to cancel), or NULL on immediate
 * failure (no URL, or the client is being freed: -ECANCELED), in which case done has
 * NOT been called and err says why. done is never called before this returns.
 */
struct cr_http_call *cr_http_client_send(struct cr_http_client *client,
                                         const struct cr_http_request *req, cr_http_done_fn done,
                                         void *ud, struct cr_err *err);

/*
 * Abort a call; its done is called synchronously with -ECANCELED. Does nothing if done
 * has already been called (or is running). Accepts NULL.
 */
void cr_http_call_cancel(struct cr_http_call *call);

/*
 * Blocking request for CLI verbs (no loop needed; do not call it on a daemon's loop
 * thread). method NULL = "GET"; timeout_ms 0 = none. On success returns 0 and fills
 * *status (any HTTP status) and *body_out (owned, NUL-terminated: free(); body_out may
 * be NULL), *body_len_out (may be NULL); follows redirects keeping method and body.
 * On failure returns a negative errno as listed above, with err filled.
 */
int cr_http_fetch(const char *method, const char *url, const char *const *headers, const char *body,
                  size_t body_len, long timeout_ms, int *status, char **body_out,
                  size_t *body_len_out, struct cr_err *err);

#endif
