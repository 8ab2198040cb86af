/*
 * master_link.h - the agent's connection to the leading master (docs/protocol.md).
 *
 * Keeps one SUBSCRIBE stream open: tries the --master addresses in turn, follows 307
 * answers to the leader (protocol-relative Location), decodes the RecordIO stream into
 * events, answers PING with PONG itself and re-subscribes when the stream breaks, the
 * master answers an error, a call is refused with 400/403, or no PING came for
 * CR_LINK_PING_MISSES intervals. Retries wait 1 s doubling to 30 s (with jitter),
 * reset by a successful SUBSCRIBED; following a redirect does not wait.
 *
 * Calls (UPDATE, PONG) are POSTed on separate keep-alive connections with the stream's
 * Mesos-Stream-Id, at most CR_LINK_MAX_INFLIGHT at a time (the rest wait in a FIFO), and
 * are fire-and-forget: the status-update retry covers losses. Queued calls are dropped
 * when the stream goes down.
 *
 * Everything runs on the loop thread; callbacks may call back into the link except
 * cr_master_link_free().
 */
#ifndef CR_AGENT_MASTER_LINK_H
#define CR_AGENT_MASTER_LINK_H

#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

#include "agent/protocol.h"
#include "base/err.h"
#include "net/http_client.h"

#define CR_LINK_BACKOFF_MIN_MS 1000
#define CR_LINK_BACKOFF_MAX_MS 30000
#define CR_LINK_PING_MISSES 5
#define CR_LINK_SUBSCRIBE_TIMEOUT_MS 30000
#define CR_LINK_MAX_INFLIGHT 64
#define CR_LINK_MAX_REDIRECTS 8

struct cr_master_link;

struct cr_master_link_callbacks {
    /* The SUBSCRIBE body for the next attempt (owned reference handed to the link). */
    json_t *(*build_subscribe)(void *ud);
    /* SUBSCRIBED arrived (ev borrowed): the link is connected. */
    void (*on_subscribed)(const struct cr_agent_event *ev, void *ud);
    /* The stream went down (only after an on_subscribed). */
    void (*on_disconnected)(void *ud);
    /* LAUNCH, KILL, SHUTDOWN_FRAMEWORK, ACKNOWLEDGED (ev borrowed for the call). */
    void (*on_event)(const struct cr_agent_event *ev, void *ud);
    /* A LAUNCH that failed to parse but names its framework and task (all borrowed). */
    void (*on_invalid_launch)(const char *framework_id, const char *task_id, const char *why,
                              void *ud);
    /* The master refused this agent for good (409: its new resources no longer hold its
     * running tasks); body borrowed. The link stops retrying. May be NULL (retry). */
    void (*on_refused)(const char *body, void *ud);
    /* The master removed this agent (410: unreachable too long, or marked gone); body
     * borrowed. The link stops retrying until cr_master_link_start(): the agent must
     * shut every task down and forget its id first. May be NULL (retry). */
    void (*on_removed)(const char *body, void *ud);
};

/*
 * Create a link for the comma-separated "host:port[,host:port...]" masters (an optional
 * "http://" prefix is accepted), using client (borrowed, must outlive the link).
 * Callbacks are copied. Does not connect yet. Returns 0 or -EINVAL naming the bad
 * address.
 */
int cr_master_link_new(uv_loop_t *loop, struct cr_http_client *client, const char *masters,
                       const struct cr_master_link_callbacks *cbs, void *ud,
                       struct cr_master_link **out, struct cr_err *err);

/* Start subscribing (now); also after on_refused/on_removed stopped the retries. */
void cr_master_link_start(struct cr_master_link *link);

/* Whether SUBSCRIBED was received on the current stream. */
bool cr_master_link_is_connected(const struct cr_master_link *link);

/* The "host:port" of the master currently (or last) talked to. Borrowed. */
const char *cr_master_link_master(const struct cr_master_link *link);

/*
 * POST call (borrowed; dumped at once) to the master with the current stream id.
 * Returns 0, or -ENOTCONN when not subscribed (the call is not sent).
 */
int cr_master_link_post(struct cr_master_link *link, const json_t *call);

/* Drop the current stream (if any) and re-subscribe after the backoff. reason is logged. */
void cr_master_link_reconnect(struct cr_master_link *link, const char *reason);

/* Cancel everything (no callbacks are made) and free. Accepts NULL. */
void cr_master_link_free(struct cr_master_link *link);

/*
 * Resolve a Location header against base_url ("http://h:p/path"): "//h:p/x" (Mesos'
 * protocol-relative form), "http://h:p/x" or "/x". Returns an owned absolute URL or NULL
 * if location is not one of those forms.
 */
char *cr_master_link_resolve_location(const char *base_url, const char *location);

#endif
