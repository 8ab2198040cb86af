/*
 * http_client.h - an asynchronous HTTP client on libcurl's multi interface,
 * driven by the same libuv loop as everything else (curl's socket callbacks map to
 * uv_poll handles, its timer to a uv_timer). Connections are kept alive and reused.
 *
 * Each request calls its done callback exactly once on the loop thread: with rc 0
 * and the response (any HTTP status, the caller judges it), or with a negative rc
 * (-ECONNREFUSED, -ETIMEDOUT, -ECANCELED, -EIO, ...) and msg naming what failed.
 * A request with on_data set is a stream: body bytes go to on_data as they arrive
 * (nothing is buffered) and done is called when the stream ends.
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

struct cr_http_response {
    int status;           /* HTTP status code */
    const char *body;     /* whole body, NUL-terminated (empty for streams); borrowed */
    size_t len;
    const char *location; /* Location header or NULL; borrowed */
    const char *stream_id; /* Mesos-Stream-Id header or NULL; borrowed */
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
    const char *method;          /* "GET", "POST", ...; default "GET" */
    const char *url;             /* absolute "http://127.0.0.1:5050/api/v1/scheduler" */
    const char *const *headers;  /* "Name: value" strings, NULL-terminated; may be NULL */
    const char *body;            /* may be NULL */
    size_t body_len;
    long timeout_ms;             /* whole-request timeout; 0 = none (streams) */
    long connect_timeout_ms;     /* 0 = 5000 */
    bool follow_redirects;       /* follow 307 etc., keeping method and body */
    cr_http_headers_fn on_headers; /* optional, streams */
    cr_http_data_fn on_data;     /* set => streaming */
};

/* One client per loop. Returns 0 or negative errno with err filled. */
int cr_http_client_new(uv_loop_t *loop, struct cr_http_client **out, struct cr_err *err);

/*
 * Cancel everything outstanding (each done gets -ECANCELED, synchronously) and free.
 * Accepts NULL.
 */
void cr_http_client_free(struct cr_http_client *client);

/*
 * Start a request; everything in req is copied. Returns a handle valid until done has
 * been called (use it only to cancel), or NULL on immediate failure, in which case
 * done has NOT been called and err says why.
 */
struct cr_http_call *cr_http_client_send(struct cr_http_client *client,
                                         const struct cr_http_request *req, cr_http_done_fn done,
                                         void *ud, struct cr_err *err);

/* Abort a call; its done is called synchronously with -ECANCELED. */
void cr_http_call_cancel(struct cr_http_call *call);

/*
 * Blocking request for CLI verbs (no loop needed). On success returns 0 and fills
 * *status and *body (owned: free()), *body_len; follows redirects.
 */
int cr_http_fetch(const char *method, const char *url, const char *const *headers,
                  const char *body, size_t body_len, long timeout_ms, int *status, char **body_out,
                  size_t *body_len_out, struct cr_err *err);

#endif
