/*
 * exec.c - `corral exec [flags] -- CMD [ARGS...]`: run one command as a task and wait for
 * it to end, as a real framework over the Mesos v1 scheduler HTTP API (the job of
 * mesos-execute; shared/API-COMPAT.md §1-2).
 *
 * One libuv loop, two kinds of HTTP traffic (src/net/http_client.h):
 *  - the subscription: POST /api/v1/scheduler SUBSCRIBE, answered by a RecordIO stream of
 *    events (src/net/recordio.h) and a Mesos-Stream-Id header;
 *  - calls (ACCEPT, DECLINE, ACKNOWLEDGE, KILL, RECONCILE, TEARDOWN), sent one at a time
 *    in order on other connections, so the last ACKNOWLEDGE always precedes TEARDOWN.
 *
 * Life of a run: subscribe -> take the first offer that fits (exec_sched.c) and ACCEPT it
 * with one LAUNCH, decline the rest -> print and acknowledge every update -> on a terminal
 * state TEARDOWN and exit with the task's exit code. Ctrl-C kills the task first (exit
 * 130); --timeout kills it when it runs too long (exit 124). If the stream drops the
 * framework re-subscribes with its id; with failover_timeout 0 the master may already
 * have removed it, which is reported as such.
 */
#include <errno.h>
#include <jansson.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "base/util.h"
#include "cli/cli_common.h"
#include "cli/cli_util.h"
#include "cli/exec_sched.h"
#include "cli/verbs.h"
#include "net/http_client.h"
#include "net/loop.h"
#include "net/recordio.h"

static const char verb[] = "exec";

#define TICK_MS 250
#define CALL_TIMEOUT_MS 15000
#define DECLINE_SECONDS 5.0          /* before launch: see the agent again soon */
#define DECLINE_AFTER_LAUNCH 3600.0  /* after launch: nothing more is needed */
#define KILL_WAIT_MS 15000           /* how long a kill may take before TEARDOWN */
#define WIND_DOWN_MS 5000            /* how long TEARDOWN and the last calls may take */
#define RESUBSCRIBE_GIVE_UP_MS 60000 /* stop re-subscribing after this long without a stream */
#define RESUBSCRIBE_MAX_BACKOFF_MS 5000
#define HINT_FIRST_MS 5000 /* "still waiting for an offer" after this long */
#define HINT_EVERY_MS 15000
#define STREAM_ERROR_MAX 4096

enum call_kind {
    CALL_ACCEPT,
    CALL_DECLINE,
    CALL_ACKNOWLEDGE,
    CALL_KILL,
    CALL_RECONCILE,
    CALL_TEARDOWN
};

static const char *const call_names[] = {"ACCEPT", "DECLINE",   "ACKNOWLEDGE",
                                         "KILL",   "RECONCILE", "TEARDOWN"};

/* One queued scheduler call. */
struct call {
    struct call *next;
    enum call_kind kind;
    char *body; /* owned JSON text */
};

struct exec {
    uv_loop_t loop;
    struct cr_http_client *http;
    char *master; /* "host:port" */
    char *url;    /* http://master/api/v1/scheduler */
    char *user;
    char hostname[256];
    struct cr_cli_task_spec spec;
    double timeout_s; /* 0 = none */
    int64_t start_ms;

    /* The subscription stream. */
    struct cr_http_call *stream;
    struct cr_recordio_reader rio;
    int stream_status;          /* HTTP status of the stream's answer, 0 before headers */
    bool stream_subscribed;     /* SUBSCRIBED seen on the current stream */
    struct cr_buf stream_error; /* body of a non-200 answer */
    char stream_problem[CR_ERR_MSG_MAX + 64]; /* why we dropped the stream ourselves */
    char *stream_id;
    char *framework_id;
    double heartbeat_s;
    int64_t last_event_ms;
    bool ever_subscribed;
    bool warned_no_stream_id;
    int64_t lost_since_ms;     /* -1 while the stream is fine */
    int64_t resubscribe_at_ms; /* -1: none pending */
    int64_t backoff_ms;

    /* The task. */
    bool launch_sent;  /* ACCEPT queued */
    bool launched;     /* ACCEPT answered 202 */
    bool seen_started; /* an update past STAGING arrived */
    char *agent_id;
    char *agent_host;
    char *last_line;                    /* latest printed status line */
    char *last_state;                   /* latest state reported for the task */
    char why_not[CR_ERR_MSG_MAX + 160]; /* why the latest offer did not fit */
    int64_t next_hint_ms;

    /* Ending. */
    bool killing;
    int kill_exit;
    int64_t kill_deadline_ms;
    bool finishing;
    int64_t finish_deadline_ms;
    bool stopped;
    int exit_code;
    int signals;

    /* Calls, one in flight at a time. */
    struct call *q_head, *q_tail;
    struct call *inflight_call;
    struct cr_http_call *inflight;
    char *stream_header; /* "Mesos-Stream-Id: ..." */

    uv_timer_t tick;
    uv_timer_t stopper;
    uv_signal_t sigint, sigterm;
};

static void subscribe(struct exec *x);
static void pump(struct exec *x);
static void on_stop(uv_timer_t *t);
static void finish(struct exec *x, int code);

static void info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A progress or warning line on stderr, in the CLI's voice. */
static void info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fputs("corral exec: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void replace(char **slot, const char *value)
{
    char *copy = value ? cr_xstrdup(value) : NULL;
    free(*slot);
    *slot = copy;
}

/* ---- calls ------------------------------------------------------------------------- */

static void enqueue(struct exec *x, enum call_kind kind, json_t *call)
{
    struct call *c = cr_xcalloc(1, sizeof(*c));
    c->kind = kind;
    c->body = json_dumps(call, JSON_COMPACT);
    json_decref(call);
    if (!c->body) {
        free(c);
        info("cannot encode a %s call", call_names[kind]);
        return;
    }
    if (x->q_tail)
        x->q_tail->next = c;
    else
        x->q_head = c;
    x->q_tail = c;
    pump(x);
}

static void call_free(struct call *c)
{
    if (!c)
        return;
    free(c->body);
    free(c);
}

/* Stop on the next loop iteration (outside whatever callback is running). */
static void schedule_stop(struct exec *x)
{
    if (!x->stopped)
        uv_timer_start(&x->stopper, on_stop, 0, 0);
}

/*
 * While finishing: stop once nothing is in flight and nothing more can be sent (the queue
 * is empty, or the stream is gone so calls would be refused anyway).
 */
static void stop_if_idle(struct exec *x)
{
    if (x->finishing && !x->inflight && (!x->q_head || !x->stream_subscribed))
        schedule_stop(x);
}

/* What a failed call looked like, for messages. */
static void describe_failure(int rc, const char *msg, const struct cr_http_response *resp,
                             char *buf, size_t size)
{
    if (rc < 0) {
        snprintf(buf, size, "%s", cr_cli_net_reason(rc, msg));
        return;
    }
    const char *body = resp->body ? resp->body : "";
    size_t n = strcspn(body, "\n");
    snprintf(buf, size, "%d%s%.*s", resp->status, n ? " " : "", (int)(n > 200 ? 200 : n), body);
}

static void on_call_done(int rc, const char *msg, const struct cr_http_response *resp, void *ud)
{
    struct exec *x = ud;
    struct call *c = x->inflight_call;
    x->inflight = NULL;
    x->inflight_call = NULL;
    if (x->stopped) {
        call_free(c);
        return;
    }
    bool ok = rc == 0 && (resp->status == 202 || resp->status == 200);
    char why[300] = "";
    if (!ok)
        describe_failure(rc, msg, resp, why, sizeof(why));
    switch (c->kind) {
    case CALL_ACCEPT:
        if (ok) {
            x->launched = true;
            printf("task %s launched on agent %s (%s); 'corral logs -f %s' shows its output\n",
                   x->spec.task_id, x->agent_host ? x->agent_host : "?",
                   x->agent_id ? x->agent_id : "?", x->spec.task_id);
            fflush(stdout);
        } else if (!x->finishing) {
            info("the master refused to launch task %s: %s", x->spec.task_id, why);
            finish(x, CR_CLI_EXIT_FAIL);
        }
        break;
    case CALL_TEARDOWN:
        schedule_stop(x);
        break;
    default:
        if (!ok && !x->finishing)
            info("%s failed: %s", call_names[c->kind], why);
        break;
    }
    call_free(c);
    pump(x);
    stop_if_idle(x);
}

/* Send the next queued call when none is in flight and a stream id is known. */
static void pump(struct exec *x)
{
    while (!x->stopped && !x->inflight && x->q_head && x->stream_subscribed) {
        struct call *c = x->q_head;
        x->q_head = c->next;
        if (!x->q_head)
            x->q_tail = NULL;
        c->next = NULL;

        free(x->stream_header);
        x->stream_header = cr_xasprintf("Mesos-Stream-Id: %s", x->stream_id ? x->stream_id : "");
        const char *headers[] = {"Content-Type: application/json", "Accept: application/json",
                                 x->stream_id ? x->stream_header : NULL, NULL};
        struct cr_http_request req = {
            .method = "POST",
            .url = x->url,
            .headers = headers,
            .body = c->body,
            .body_len = strlen(c->body),
            .timeout_ms = CALL_TIMEOUT_MS,
            .follow_redirects = true,
        };
        struct cr_err err = {0};
        x->inflight_call = c;
        x->inflight = cr_http_client_send(x->http, &req, on_call_done, x, &err);
        if (!x->inflight) {
            x->inflight_call = NULL;
            if (!x->finishing)
                info("%s failed: %s", call_names[c->kind], err.msg);
            if (c->kind == CALL_TEARDOWN)
                schedule_stop(x);
            call_free(c);
        }
    }
}

/* ---- ending -------------------------------------------------------------------------- */

/* Wind down with exit code code: TEARDOWN if the master still listens, then stop. */
static void finish(struct exec *x, int code)
{
    if (x->finishing)
        return;
    x->finishing = true;
    x->exit_code = code;
    x->finish_deadline_ms = cr_now_ms() + WIND_DOWN_MS;
    if (x->stream && x->stream_subscribed && x->framework_id)
        enqueue(x, CALL_TEARDOWN, cr_cli_call_teardown(x->framework_id));
    else
        stop_if_idle(x);
}

/* Kill the task; once it is reported dead (or KILL_WAIT_MS passed), exit with code. */
static void kill_task(struct exec *x, int code)
{
    x->killing = true;
    x->kill_exit = code;
    x->kill_deadline_ms = cr_now_ms() + KILL_WAIT_MS;
    enqueue(x, CALL_KILL, cr_cli_call_kill(x->framework_id, x->spec.task_id, x->agent_id));
}

static void close_cb(uv_handle_t *h)
{
    (void)h;
}

/* Close everything; the loop then runs dry. Runs from the stopper timer, never inside an
 * HTTP callback, because freeing the client cancels the calls whose callbacks we are in. */
static void on_stop(uv_timer_t *t)
{
    struct exec *x = t->data;
    if (x->stopped)
        return;
    x->stopped = true;
    cr_http_client_free(x->http);
    x->http = NULL;
    x->stream = NULL;
    x->inflight = NULL;
    uv_close((uv_handle_t *)&x->tick, close_cb);
    uv_close((uv_handle_t *)&x->stopper, close_cb);
    uv_close((uv_handle_t *)&x->sigint, close_cb);
    uv_close((uv_handle_t *)&x->sigterm, close_cb);
}

/* ---- events ------------------------------------------------------------------------- */

static void handle_offers(struct exec *x, const json_t *event)
{
    json_t *offers = cr_cli_json_array(json_object_get(event, "offers"), "offers");
    json_t *decline = json_array();
    size_t i;
    json_t *offer;
    json_array_foreach(offers, i, offer)
    {
        const char *offer_id = cr_cli_json_id(offer, "id");
        if (!offer_id)
            continue;
        if (!x->launch_sent && !x->finishing && !x->killing) {
            struct cr_err err = {0};
            json_t *task = cr_cli_task_info(offer, &x->spec, &err);
            if (task) {
                replace(&x->agent_id, cr_cli_json_id(offer, "agent_id"));
                const char *host = cr_cli_json_str(offer, "hostname");
                const json_t *address = json_object_get(json_object_get(offer, "url"), "address");
                double port = cr_cli_json_num(address, "port", 0);
                free(x->agent_host);
                x->agent_host = port > 0 ? cr_xasprintf("%s:%d", host ? host : "?", (int)port)
                                         : cr_xstrdup(host ? host : "?");
                x->launch_sent = true;
                enqueue(x, CALL_ACCEPT, cr_cli_call_accept(x->framework_id, offer_id, task));
                continue;
            }
            const char *host = cr_cli_json_str(offer, "hostname");
            snprintf(x->why_not, sizeof(x->why_not), "the last offer (agent %.100s) had %s",
                     host ? host : "?",
                     err.msg + (strncmp(err.msg, "offer too small: ", 17) == 0 ? 17 : 0));
        }
        json_array_append_new(decline, json_pack("{s:s}", "value", offer_id));
    }
    if (json_array_size(decline) > 0 && !x->finishing)
        enqueue(x, CALL_DECLINE,
                cr_cli_call_decline(x->framework_id, decline,
                                    x->launch_sent ? DECLINE_AFTER_LAUNCH : DECLINE_SECONDS));
    else
        json_decref(decline);
}

static void handle_update(struct exec *x, const json_t *event)
{
    const json_t *status = json_object_get(json_object_get(event, "update"), "status");
    const char *task_id = cr_cli_json_id(status, "task_id");
    const char *state = cr_cli_json_str(status, "state");
    const char *uuid = cr_cli_json_str(status, "uuid");
    const char *agent_id = cr_cli_json_id(status, "agent_id");
    if (!agent_id)
        agent_id = x->agent_id;
    if (!task_id || !state)
        return;
    if (uuid && *uuid && agent_id && x->framework_id)
        enqueue(x, CALL_ACKNOWLEDGE,
                cr_cli_call_acknowledge(x->framework_id, agent_id, task_id, uuid));
    if (strcmp(task_id, x->spec.task_id) != 0)
        return;

    /* Reconciliation answers repeat what we know; print only news. */
    const char *reason = cr_cli_json_str(status, "reason");
    bool is_echo = reason && strcmp(reason, "REASON_RECONCILIATION") == 0 && x->last_state &&
                   strcmp(x->last_state, state) == 0;
    replace(&x->last_state, state);
    char *line = cr_cli_status_line(status);
    if (!is_echo && (!x->last_line || strcmp(line, x->last_line) != 0)) {
        puts(line);
        fflush(stdout);
    }
    free(x->last_line);
    x->last_line = line;

    const char *s = cr_cli_state_short(state);
    if (strcmp(s, "STAGING") != 0)
        x->seen_started = true;
    if (!cr_cli_state_is_terminal(s))
        return;
    /* A launch on an offer that vanished never ran: try the next offer instead. */
    if (!x->killing && !x->finishing && reason && strcmp(reason, "REASON_INVALID_OFFERS") == 0 &&
        (strcmp(s, "LOST") == 0 || strcmp(s, "DROPPED") == 0)) {
        info("the offer for task %s was no longer valid; waiting for another", x->spec.task_id);
        x->launch_sent = false;
        x->launched = false;
        x->seen_started = false;
        free(x->last_line);
        x->last_line = NULL;
        replace(&x->last_state, NULL);
        return;
    }
    finish(x, x->killing ? x->kill_exit
                         : cr_cli_status_exit_code(s, cr_cli_json_str(status, "message")));
}

static void handle_event(struct exec *x, const json_t *event)
{
    const char *type = cr_cli_json_str(event, "type");
    x->last_event_ms = cr_now_ms();
    if (!type)
        return;
    if (strcmp(type, "SUBSCRIBED") == 0) {
        const json_t *sub = json_object_get(event, "subscribed");
        const char *id = cr_cli_json_id(sub, "framework_id");
        if (!id) {
            snprintf(x->stream_problem, sizeof(x->stream_problem),
                     "SUBSCRIBED without a framework_id");
            return;
        }
        if (x->framework_id && strcmp(id, x->framework_id) != 0)
            info("the master gave a new framework id %s (was %s)", id, x->framework_id);
        replace(&x->framework_id, id);
        x->heartbeat_s = cr_cli_json_num(sub, "heartbeat_interval_seconds", 15);
        if (x->heartbeat_s <= 0)
            x->heartbeat_s = 15;
        x->stream_subscribed = true;
        if (!x->stream_id && !x->warned_no_stream_id) {
            info("the master sent no Mesos-Stream-Id header; calls may be refused");
            x->warned_no_stream_id = true;
        }
        if (x->lost_since_ms >= 0)
            info("re-subscribed as framework %s", x->framework_id);
        x->lost_since_ms = -1;
        x->backoff_ms = 0;
        if (!x->ever_subscribed) {
            x->ever_subscribed = true;
            x->next_hint_ms = cr_now_ms() + HINT_FIRST_MS;
        } else if (x->launch_sent) {
            enqueue(x, CALL_RECONCILE,
                    cr_cli_call_reconcile(x->framework_id, x->spec.task_id, x->agent_id));
        }
        pump(x);
    } else if (strcmp(type, "OFFERS") == 0) {
        handle_offers(x, event);
    } else if (strcmp(type, "UPDATE") == 0) {
        handle_update(x, event);
    } else if (strcmp(type, "ERROR") == 0) {
        const char *msg = cr_cli_json_str(json_object_get(event, "error"), "message");
        x->stream_subscribed = false; /* the stream is closing: no TEARDOWN on it */
        if (x->finishing) {
            stop_if_idle(x); /* the answer to our own TEARDOWN */
            return;
        }
        info("the master ended the subscription: %s", msg ? msg : "(no message)");
        finish(x, CR_CLI_EXIT_FAIL);
    }
    /* HEARTBEAT only refreshes last_event_ms; RESCIND, FAILURE, MESSAGE and the inverse
     * offer events need nothing from a one-task framework. */
}

static int on_record(const char *record, size_t len, void *ud)
{
    struct exec *x = ud;
    struct cr_err err = {0};
    json_t *event = cr_cli_json_parse(record, len, &err);
    if (!event) {
        snprintf(x->stream_problem, sizeof(x->stream_problem), "bad event from the master: %s",
                 err.msg);
        return 1;
    }
    handle_event(x, event);
    json_decref(event);
    return x->stopped ? 1 : 0;
}

/* ---- the stream ---------------------------------------------------------------------- */

static int on_stream_headers(const struct cr_http_response *resp, void *ud)
{
    struct exec *x = ud;
    x->stream_status = resp->status;
    if (resp->status == 200) {
        replace(&x->stream_id, resp->stream_id);
        x->last_event_ms = cr_now_ms();
    }
    return 0;
}

static int on_stream_data(const char *data, size_t len, void *ud)
{
    struct exec *x = ud;
    if (x->stream_status >= 300 && x->stream_status < 400)
        return 0; /* a redirect's body; the followed request's headers come next */
    if (x->stream_status != 200) {
        size_t room = STREAM_ERROR_MAX - x->stream_error.len;
        cr_buf_append(&x->stream_error, data, len < room ? len : room);
        return 0;
    }
    struct cr_err err = {0};
    int rc = cr_recordio_feed(&x->rio, data, len, on_record, x, &err);
    if (rc < 0)
        snprintf(x->stream_problem, sizeof(x->stream_problem), "bad stream from the master: %s",
                 err.msg);
    return rc != 0;
}

static void stream_lost(struct exec *x, const char *why)
{
    x->stream_subscribed = false;
    if (x->lost_since_ms < 0) {
        x->lost_since_ms = cr_now_ms();
        info("lost the event stream from the master (%s); re-subscribing as framework %s", why,
             x->framework_id);
    }
    x->backoff_ms = x->backoff_ms ? x->backoff_ms * 2 : 500;
    if (x->backoff_ms > RESUBSCRIBE_MAX_BACKOFF_MS)
        x->backoff_ms = RESUBSCRIBE_MAX_BACKOFF_MS;
    x->resubscribe_at_ms = cr_now_ms() + x->backoff_ms;
}

static void on_stream_done(int rc, const char *msg, const struct cr_http_response *resp, void *ud)
{
    struct exec *x = ud;
    x->stream = NULL;
    bool was_subscribed = x->stream_subscribed;
    x->stream_subscribed = false;
    if (x->stopped || x->finishing) {
        stop_if_idle(x); /* let an answer in flight (TEARDOWN's) arrive first */
        return;
    }

    if (rc == 0 && x->stream_status != 200) {
        if (x->stream_error.len == 0 && resp && resp->len)
            cr_buf_append(&x->stream_error, resp->body, resp->len);
        const char *body = x->stream_error.data ? x->stream_error.data : "";
        size_t n = strcspn(body, "\n");
        if (x->ever_subscribed)
            info("the master refused to re-subscribe framework %s (%d %.*s): with failover "
                 "timeout 0 a framework is removed with its tasks as soon as its stream drops; "
                 "task %s is gone",
                 x->framework_id, x->stream_status, (int)(n > 300 ? 300 : n), body,
                 x->spec.task_id);
        else
            info("the master refused the subscription: %d %.*s", x->stream_status,
                 (int)(n > 300 ? 300 : n), body);
        finish(x, CR_CLI_EXIT_FAIL);
        return;
    }
    if (!x->ever_subscribed) {
        if (rc < 0)
            info("cannot reach the master at %s: %s", x->master, cr_cli_net_reason(rc, msg));
        else
            info("the master at %s closed the subscription before accepting it%s%s", x->master,
                 x->stream_problem[0] ? ": " : "", x->stream_problem);
        finish(x, CR_CLI_EXIT_FAIL);
        return;
    }
    char why[CR_ERR_MSG_MAX + 128];
    if (x->stream_problem[0])
        snprintf(why, sizeof(why), "%s", x->stream_problem);
    else if (rc < 0)
        snprintf(why, sizeof(why), "%s", cr_cli_net_reason(rc, msg));
    else
        snprintf(why, sizeof(why), was_subscribed ? "the master closed it" : "closed early");
    stream_lost(x, why);
}

static void subscribe(struct exec *x)
{
    cr_recordio_reader_release(&x->rio);
    cr_recordio_reader_init(&x->rio, 0);
    cr_buf_release(&x->stream_error);
    cr_buf_init(&x->stream_error);
    x->stream_problem[0] = '\0';
    x->stream_status = 0;
    x->stream_subscribed = false;

    json_t *call = cr_cli_call_subscribe(x->user, x->hostname, x->spec.role, x->framework_id);
    char *body = json_dumps(call, JSON_COMPACT);
    json_decref(call);
    static const char *const headers[] = {"Content-Type: application/json",
                                          "Accept: application/json", NULL};
    struct cr_http_request req = {
        .method = "POST",
        .url = x->url,
        .headers = headers,
        .body = body,
        .body_len = strlen(body),
        .timeout_ms = 0,
        .follow_redirects = true,
        .on_headers = on_stream_headers,
        .on_data = on_stream_data,
    };
    struct cr_err err = {0};
    x->stream = cr_http_client_send(x->http, &req, on_stream_done, x, &err);
    free(body);
    if (!x->stream) {
        if (!x->ever_subscribed) {
            info("cannot reach the master at %s: %s", x->master, err.msg);
            finish(x, CR_CLI_EXIT_FAIL);
        } else {
            stream_lost(x, err.msg);
        }
    }
}

/* ---- timers and signals --------------------------------------------------------------- */

static void print_hint(struct exec *x)
{
    char cpus[32], mem[32], disk[64] = "", ports[64] = "";
    cr_cli_fmt_num(cpus, sizeof(cpus), x->spec.cpus);
    cr_cli_fmt_num(mem, sizeof(mem), x->spec.mem_mb);
    if (x->spec.disk_mb > 0) {
        char d[32];
        cr_cli_fmt_num(d, sizeof(d), x->spec.disk_mb);
        snprintf(disk, sizeof(disk), ", disk %s MB", d);
    }
    if (x->spec.ports > 0)
        snprintf(ports, sizeof(ports), ", %ld ports", x->spec.ports);
    info("still waiting for an offer with cpus %s, mem %s MB%s%s; %s", cpus, mem, disk, ports,
         x->why_not[0] ? x->why_not : "no offers yet (are agents registered? see 'corral agents')");
}

static void on_tick(uv_timer_t *t)
{
    struct exec *x = t->data;
    int64_t now = cr_now_ms();
    if (x->stopped)
        return;
    if (x->finishing) {
        if (now >= x->finish_deadline_ms)
            schedule_stop(x);
        return;
    }
    if (x->lost_since_ms >= 0 && now - x->lost_since_ms > RESUBSCRIBE_GIVE_UP_MS) {
        info("gave up re-subscribing after %ds; task %s is most likely gone with the framework",
             RESUBSCRIBE_GIVE_UP_MS / 1000, x->spec.task_id);
        finish(x, CR_CLI_EXIT_FAIL);
        return;
    }
    if (!x->stream && x->resubscribe_at_ms >= 0 && now >= x->resubscribe_at_ms) {
        x->resubscribe_at_ms = -1;
        subscribe(x);
        return;
    }
    double silence_limit_ms = 2 * x->heartbeat_s * 1000 + 5000;
    if (x->stream && x->stream_subscribed && now - x->last_event_ms > silence_limit_ms) {
        snprintf(x->stream_problem, sizeof(x->stream_problem), "no heartbeat for %llds",
                 (long long)(now - x->last_event_ms) / 1000);
        cr_http_call_cancel(x->stream); /* on_stream_done re-subscribes */
        return;
    }
    if (x->timeout_s > 0 && now - x->start_ms > (int64_t)(x->timeout_s * 1000) && !x->killing) {
        if (x->launched) {
            info("task %s ran longer than %gs; killing it", x->spec.task_id, x->timeout_s);
            kill_task(x, 124);
        } else if (!x->launch_sent) {
            info("no offer fitted task %s within %gs; %s", x->spec.task_id, x->timeout_s,
                 x->why_not[0] ? x->why_not : "no offers came");
            finish(x, CR_CLI_EXIT_FAIL);
        }
        return;
    }
    if (x->killing && now >= x->kill_deadline_ms) {
        info("task %s was not reported killed within %ds; tearing down the framework, which "
             "kills it",
             x->spec.task_id, KILL_WAIT_MS / 1000);
        finish(x, x->kill_exit);
        return;
    }
    if (x->ever_subscribed && !x->launch_sent && now >= x->next_hint_ms) {
        print_hint(x);
        x->next_hint_ms = now + HINT_EVERY_MS;
    }
}

static void on_signal(uv_signal_t *s, int signo)
{
    struct exec *x = s->data;
    x->signals++;
    if (x->finishing) {
        if (x->signals >= 2)
            schedule_stop(x);
        return;
    }
    if (x->launched && !x->killing) {
        info("interrupted: killing task %s (interrupt again to stop waiting)", x->spec.task_id);
        kill_task(x, CR_CLI_EXIT_INTERRUPTED);
        return;
    }
    info("interrupted%s",
         x->launch_sent ? ": tearing down the framework, which kills the task" : "");
    finish(x, CR_CLI_EXIT_INTERRUPTED);
}

/* ---- the verb ----------------------------------------------------------------------- */

static void usage(FILE *out, const struct cr_cli_opt *opts)
{
    fprintf(out, "usage: corral exec [flags] -- CMD [ARGS...]\n"
                 "       corral exec [flags] --shell 'COMMAND LINE'\n\n"
                 "Run one command as a task on the cluster and wait for it to end, printing its\n"
                 "state changes. Its output stays in its sandbox: see 'corral logs'. Exits with\n"
                 "the task's exit code (1 if it was killed or lost, 124 after --timeout, 130\n"
                 "when interrupted; an interrupt kills the task).\n\n"
                 "flags:\n");
    cr_cli_opts_usage(out, opts);
}

static char *current_user(void)
{
    struct passwd *pw = getpwuid(geteuid());
    if (pw && pw->pw_name && *pw->pw_name)
        return cr_xstrdup(pw->pw_name);
    const char *env = getenv("USER");
    return cr_xstrdup(env && *env ? env : "root");
}

static void release(struct exec *x)
{
    while (x->q_head) {
        struct call *c = x->q_head;
        x->q_head = c->next;
        call_free(c);
    }
    call_free(x->inflight_call);
    cr_recordio_reader_release(&x->rio);
    cr_buf_release(&x->stream_error);
    free(x->master);
    free(x->url);
    free(x->user);
    free(x->stream_id);
    free(x->framework_id);
    free(x->agent_id);
    free(x->agent_host);
    free(x->last_line);
    free(x->last_state);
    free(x->stream_header);
}

/* Close the loop, first closing any handle still open (none, when on_stop ran). */
static void drain_loop(uv_loop_t *loop)
{
    if (uv_loop_close(loop) == UV_EBUSY) {
        cr_loop_close_all(loop);
        uv_loop_close(loop);
    }
}

static int run(struct exec *x)
{
    struct cr_err err = {0};
    int rc = uv_loop_init(&x->loop);
    if (rc < 0)
        return cr_cli_fail(verb, "cannot start an event loop: %s", uv_strerror(rc));
    if (cr_http_client_new(&x->loop, &x->http, &err) < 0) {
        uv_loop_close(&x->loop);
        return cr_cli_fail(verb, "%s", err.msg);
    }
    uv_timer_init(&x->loop, &x->tick);
    uv_timer_init(&x->loop, &x->stopper);
    uv_signal_init(&x->loop, &x->sigint);
    uv_signal_init(&x->loop, &x->sigterm);
    x->tick.data = x->stopper.data = x->sigint.data = x->sigterm.data = x;
    uv_timer_start(&x->tick, on_tick, TICK_MS, TICK_MS);
    uv_signal_start(&x->sigint, on_signal, SIGINT);
    uv_signal_start(&x->sigterm, on_signal, SIGTERM);

    subscribe(x);
    uv_run(&x->loop, UV_RUN_DEFAULT);
    drain_loop(&x->loop);
    return x->exit_code;
}

int cr_cli_exec_main(int argc, char **argv)
{
    const char *master_flag = NULL, *name = NULL, *task_id = NULL, *role = NULL, *shell = NULL;
    double cpus = 0.1, mem = 32, disk = 0, timeout_s = 0;
    long ports = 0;
    struct cr_cli_strlist env = {0};
    struct cr_cli_opt opts[] = {
        {"name", 0, CR_CLI_OPT_STRING, &name, "NAME", "task name (default: the task id)", 0, 0},
        {"task-id", 0, CR_CLI_OPT_STRING, &task_id, "ID", "task id (default: exec-<8 hex digits>)",
         0, 0},
        {"cpus", 0, CR_CLI_OPT_DOUBLE, &cpus, "N", "cpus for the task (default 0.1)", 0.001, 1e6},
        {"mem", 0, CR_CLI_OPT_DOUBLE, &mem, "MB", "memory for the task in MB (default 32)", 1, 1e9},
        {"disk", 0, CR_CLI_OPT_DOUBLE, &disk, "MB", "disk for the task in MB (default 0)", 0, 1e12},
        {"ports", 0, CR_CLI_OPT_INT, &ports, "N",
         "take N ports from the offer; the task sees them as $PORT0.. and $PORTS", 0, 1000},
        {"env", 'e', CR_CLI_OPT_LIST, &env, "K=V", "set an environment variable (repeatable)", 0,
         0},
        {"role", 0, CR_CLI_OPT_STRING, &role, "ROLE", "subscribe with this role (default *)", 0, 0},
        {"shell", 0, CR_CLI_OPT_STRING, &shell, "'CMD'", "run a command line with /bin/sh -c", 0,
         0},
        {"timeout", 0, CR_CLI_OPT_DOUBLE, &timeout_s, "SECS",
         "give up after SECS: stop waiting for an offer, or kill the task (exit 124)", 0, 1e9},
        CR_CLI_OPT_MASTER(&master_flag),
        CR_CLI_OPT_END,
    };
    struct cr_cli_args args;
    struct cr_err err = {0};
    int rc =
        cr_cli_args_parse(opts, argc - 1, argv + 1, CR_CLI_ARGS_STOP_AT_POSITIONAL, &args, &err);
    if (rc == 1) {
        usage(stdout, opts);
        cr_cli_args_release(&args);
        cr_cli_strlist_release(&env);
        return CR_CLI_EXIT_OK;
    }
    if (rc == 0 && shell && args.npos > 0)
        rc = cr_err_set(&err, -EINVAL, "give either --shell or a command after '--', not both");
    if (rc == 0 && !shell && args.npos == 0)
        rc = cr_err_set(&err, -EINVAL, "what should run? give a command after '--' or --shell");
    if (rc == 0 && shell && !*shell)
        rc = cr_err_set(&err, -EINVAL, "--shell needs a command line");
    if (rc == 0 && args.npos > 0 && !*args.pos[0])
        rc = cr_err_set(&err, -EINVAL, "the command is empty");
    for (size_t i = 0; rc == 0 && i < env.len; i++) {
        const char *eq = strchr(env.items[i], '=');
        if (!eq || eq == env.items[i])
            rc = cr_err_set(&err, -EINVAL, "flag --env: '%s' is not NAME=VALUE", env.items[i]);
    }
    if (rc == 0 && task_id && !*task_id)
        rc = cr_err_set(&err, -EINVAL, "flag --task-id: the id is empty");
    if (rc < 0) {
        cr_cli_args_release(&args);
        cr_cli_strlist_release(&env);
        return cr_cli_usage_fail(verb, "%s", err.msg);
    }

    char generated_id[32];
    if (!task_id) {
        unsigned char r[4];
        cr_random_bytes(r, sizeof(r));
        snprintf(generated_id, sizeof(generated_id), "exec-%02x%02x%02x%02x", r[0], r[1], r[2],
                 r[3]);
        task_id = generated_id;
    }

    /* Line-buffered so a parent (corral up) sees each state change as it happens. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    struct exec *x = cr_xcalloc(1, sizeof(*x));
    x->master = cr_cli_master_resolve(master_flag);
    x->url = cr_xasprintf("http://%s/api/v1/scheduler", x->master);
    x->user = current_user();
    if (gethostname(x->hostname, sizeof(x->hostname) - 1) < 0)
        x->hostname[0] = '\0';
    x->spec = (struct cr_cli_task_spec){
        .task_id = task_id,
        .name = name && *name ? name : task_id,
        .role = role,
        .cpus = cpus,
        .mem_mb = mem,
        .disk_mb = disk,
        .ports = ports,
        .shell = shell,
        .argv = args.pos,
        .argc = args.npos,
        .env = env.items,
        .nenv = env.len,
    };
    x->timeout_s = timeout_s;
    x->start_ms = cr_now_ms();
    x->lost_since_ms = -1;
    x->resubscribe_at_ms = -1;
    x->heartbeat_s = 15;
    cr_recordio_reader_init(&x->rio, 0);
    cr_buf_init(&x->stream_error);

    int code = run(x);
    release(x);
    free(x);
    cr_cli_args_release(&args);
    cr_cli_strlist_release(&env);
    fflush(stdout);
    return code;
}
