/*
 * apps_wait.c - the network half of the app verbs' helpers (see apps_common.h): blocking
 * requests to the master's Marathon API, and waiting for a deployment on /v2/events.
 *
 * Requests use libcurl directly rather than cr_http_fetch() because the answer's
 * Marathon-Deployment-Id header names the deployment a change started.
 *
 * The event stream is one curl easy handle on a curl multi handle, driven by hand
 * (curl_multi_perform + curl_multi_poll with a short timeout, so Ctrl-C and the periodic
 * deployment poll are noticed). cr_apps_watch_open() drives it only until the response
 * headers arrived; the body waits in the socket while the verb makes its change, and
 * cr_apps_watch_wait() reads it afterwards, once the deployment id is known. Events that
 * arrived before that cannot be of the new deployment.
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/util.h"
#include "cli/apps_common.h"
#include "cli/cli_common.h"
#include "cli/cli_util.h"

#define REQUEST_TIMEOUT_MS 15000L
#define CONNECT_TIMEOUT_MS 5000L
#define OPEN_TIMEOUT_MS 5000 /* how long opening the stream may take */
#define STREAM_TICK_MS 250   /* curl_multi_poll timeout */
#define SAFETY_POLL_MS 3000  /* poll the deployment this often while streaming */
#define POLL_MS 500          /* poll interval without a stream */
#define UNREACHABLE_GIVE_UP_MS 60000

/* The event types a wait needs (server-side filter). */
static const char *const event_types[] = {
    "deployment_info",
    "deployment_step_success",
    "deployment_step_failure",
    "deployment_success",
    "deployment_failed",
    "status_update_event",
    "instance_health_changed_event",
};

/* ---- requests --------------------------------------------------------------------------- */

void cr_apps_reply_release(struct cr_apps_reply *r)
{
    if (!r)
        return;
    json_decref(r->json);
    free(r->body);
    free(r->deployment_id);
    memset(r, 0, sizeof(*r));
}

char *cr_apps_path(const char *app_id, const char *suffix)
{
    char *escaped = cr_cli_url_escape(app_id);
    char *path =
        cr_xasprintf("/v2/apps%s%s%s", escaped[0] == '/' ? "" : "/", escaped, suffix ? suffix : "");
    free(escaped);
    return path;
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    cr_buf_append(ud, data, size * n);
    return size * n;
}

/* Keep the Marathon-Deployment-Id of the last response (redirects answer first). */
static size_t on_request_header(char *data, size_t size, size_t n, void *ud)
{
    char **id = ud;
    size_t len = size * n;
    static const char name[] = "Marathon-Deployment-Id:";
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        free(*id);
        *id = NULL;
    } else if (len > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0) {
        const char *v = data + sizeof(name) - 1;
        size_t vlen = len - (sizeof(name) - 1);
        while (vlen > 0 && (*v == ' ' || *v == '\t')) {
            v++;
            vlen--;
        }
        while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
            vlen--;
        free(*id);
        *id = vlen ? cr_xasprintf("%.*s", (int)vlen, v) : NULL;
    }
    return len;
}

/* A curl failure as a negative errno, as cr_cli_net_reason() understands them. */
static int curl_errno(CURLcode c)
{
    switch (c) {
    case CURLE_COULDNT_CONNECT:
        return -ECONNREFUSED;
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
        return -EHOSTUNREACH;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
        return -ECONNRESET;
    case CURLE_TOO_MANY_REDIRECTS:
        return -ELOOP;
    default:
        return -EIO;
    }
}

/* Options shared by requests and the stream. */
static void setup_common(CURL *easy, const char *url, char *errbuf)
{
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(easy, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(easy, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
}

int cr_apps_request(const char *master, const char *method, const char *path, const char *body,
                    struct cr_apps_reply *out, struct cr_err *err)
{
    memset(out, 0, sizeof(out[0]));
    CURL *easy = curl_easy_init();
    if (!easy)
        return cr_err_set(err, -ENOMEM, "cannot start a request to the master");
    char *url = cr_xasprintf("http://%s%s", master, path);
    char errbuf[CURL_ERROR_SIZE] = "";
    setup_common(easy, url, errbuf);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, REQUEST_TIMEOUT_MS);
    struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
    if (body) {
        headers = curl_slist_append(headers, "Content-Type: application/json");
        headers = curl_slist_append(headers, "Expect:");
    }
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    } else {
        if (strcmp(method, "POST") == 0)
            curl_easy_setopt(easy, CURLOPT_POST, 1L);
        else
            curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
        if (body || strcmp(method, "POST") == 0) {
            curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t)(body ? strlen(body) : 0));
            curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body ? body : "");
        }
    }
    struct cr_buf resp = {0};
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_request_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, &out->deployment_id);
    CURLcode c = curl_easy_perform(easy);
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(easy);
    curl_slist_free_all(headers);
    free(url);
    if (c != CURLE_OK) {
        int rc = curl_errno(c);
        cr_err_set(err, rc, "cannot reach the master at %s: %s", master,
                   cr_cli_net_reason(rc, errbuf[0] ? errbuf : curl_easy_strerror(c)));
        cr_buf_release(&resp);
        free(out->deployment_id);
        out->deployment_id = NULL;
        return rc;
    }
    out->status = (int)status;
    out->body = cr_buf_steal(&resp, NULL);
    out->json = json_loads(out->body, 0, NULL);
    if (!out->deployment_id) {
        const char *id = cr_cli_json_str(out->json, "deploymentId");
        if (!id)
            id = cr_cli_json_str(json_array_get(cr_cli_json_array(out->json, "deployments"), 0),
                                 "id");
        out->deployment_id = cr_xstrdup(id);
    }
    return 0;
}

int cr_apps_fail_reply(const char *verb, const char *what, const struct cr_apps_reply *r)
{
    fflush(stdout);
    fprintf(stderr, "corral %s: %s: ", verb, what);
    cr_apps_print_error(r->status, r->json, r->body, stderr);
    return CR_CLI_EXIT_FAIL;
}

/* ---- the event stream -------------------------------------------------------------------- */

struct cr_apps_watch {
    const char *verb;
    char *master;
    CURLM *multi;
    CURL *easy;
    struct curl_slist *headers;
    char *url;
    char errbuf[CURL_ERROR_SIZE];
    long status;       /* of the final response, once its headers are complete */
    bool is_attached;  /* easy is on multi */
    bool headers_done; /* a non-redirect response's headers are complete */
    bool is_streaming; /* 200 and the stream has not ended */
    struct cr_sse sse;
    struct cr_apps_progress *progress; /* set during cr_apps_watch_wait() */
    FILE *out;
    char note[512]; /* why there is no stream, said once the change was made */
};

static int on_event(const char *type, const char *data, size_t len, void *ud)
{
    struct cr_apps_watch *w = ud;
    if (!w->progress)
        return 0; /* before the change: not ours */
    json_t *ev = json_loadb(data, len, 0, NULL);
    if (!ev)
        return 0;
    enum cr_apps_outcome o = cr_apps_progress_event(w->progress, type, ev, w->out);
    json_decref(ev);
    fflush(w->out);
    return o == CR_APPS_RUNNING ? 0 : 1;
}

static size_t on_stream_body(char *data, size_t size, size_t n, void *ud)
{
    struct cr_apps_watch *w = ud;
    if (!w->headers_done || w->status != 200)
        return 0; /* not an event stream: abort */
    struct cr_err err = {0};
    int rc = cr_sse_feed(&w->sse, data, size * n, on_event, w, &err);
    if (rc < 0)
        return 0;
    return size * n;
}

static size_t on_stream_header(char *data, size_t size, size_t n, void *ud)
{
    struct cr_apps_watch *w = ud;
    size_t len = size * n;
    if (len <= 2 && (data[0] == '\r' || data[0] == '\n')) {
        long status = 0;
        curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status < 300 || status >= 400) { /* not a redirect curl follows */
            w->status = status;
            w->headers_done = true;
            w->is_streaming = status == 200;
        }
    }
    return len;
}

/* Run curl for up to timeout_ms (0: once, without waiting). Returns false when the
 * transfer has ended (w->errbuf may say why). */
static bool drive(struct cr_apps_watch *w, int timeout_ms)
{
    int running = 0;
    if (timeout_ms > 0) {
        int numfds = 0;
        curl_multi_poll(w->multi, NULL, 0, timeout_ms, &numfds);
    }
    curl_multi_perform(w->multi, &running);
    CURLMsg *msg;
    int left = 0;
    bool ended = running == 0;
    while ((msg = curl_multi_info_read(w->multi, &left)))
        if (msg->msg == CURLMSG_DONE)
            ended = true;
    if (ended)
        w->is_streaming = false;
    return !ended;
}

/* Take the stream down (it is not used any more). */
static void detach(struct cr_apps_watch *w)
{
    if (w->is_attached) {
        curl_multi_remove_handle(w->multi, w->easy);
        w->is_attached = false;
    }
    w->is_streaming = false;
}

struct cr_apps_watch *cr_apps_watch_open(const char *verb, const char *master)
{
    cr_cli_catch_signals();
    struct cr_apps_watch *w = cr_xcalloc(1, sizeof(*w));
    w->verb = verb;
    w->master = cr_xstrdup(master);
    w->out = stdout;
    cr_sse_init(&w->sse, 0);
    struct cr_buf url = {0};
    cr_buf_printf(&url, "http://%s/v2/events", master);
    for (size_t i = 0; i < sizeof(event_types) / sizeof(event_types[0]); i++)
        cr_buf_printf(&url, "%cevent_type=%s", i ? '&' : '?', event_types[i]);
    w->url = cr_buf_steal(&url, NULL);

    w->multi = curl_multi_init();
    w->easy = curl_easy_init();
    if (!w->multi || !w->easy) {
        snprintf(w->note, sizeof(w->note), "cannot open the event stream; polling the deployment");
        return w;
    }
    setup_common(w->easy, w->url, w->errbuf);
    w->headers = curl_slist_append(NULL, "Accept: text/event-stream");
    curl_easy_setopt(w->easy, CURLOPT_HTTPHEADER, w->headers);
    curl_easy_setopt(w->easy, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(w->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(w->easy, CURLOPT_WRITEFUNCTION, on_stream_body);
    curl_easy_setopt(w->easy, CURLOPT_WRITEDATA, w);
    curl_easy_setopt(w->easy, CURLOPT_HEADERFUNCTION, on_stream_header);
    curl_easy_setopt(w->easy, CURLOPT_HEADERDATA, w);
    curl_multi_add_handle(w->multi, w->easy);
    w->is_attached = true;

    int64_t deadline = cr_now_ms() + OPEN_TIMEOUT_MS;
    while (!w->headers_done && cr_now_ms() < deadline && !cr_cli_signal)
        if (!drive(w, 50))
            break;
    if (!w->is_streaming) {
        if (w->headers_done)
            snprintf(w->note, sizeof(w->note),
                     "the master answered %ld to GET /v2/events; polling the deployment instead",
                     w->status);
        else
            snprintf(w->note, sizeof(w->note),
                     "no event stream from the master at %s (%s); polling the deployment instead",
                     master, w->errbuf[0] ? w->errbuf : "no answer");
        detach(w);
    }
    return w;
}

void cr_apps_watch_free(struct cr_apps_watch *w)
{
    if (!w)
        return;
    detach(w);
    if (w->easy)
        curl_easy_cleanup(w->easy);
    if (w->multi)
        curl_multi_cleanup(w->multi);
    curl_slist_free_all(w->headers);
    cr_sse_release(&w->sse);
    free(w->url);
    free(w->master);
    free(w);
}

/*
 * GET /v2/deployments/<id> once. Returns 1 with p updated from a 200 answer, 0 for 404
 * (the master does not know the deployment), or -1 when the master could not answer
 * (err says why).
 */
static int poll_once(struct cr_apps_watch *w, struct cr_apps_progress *p, FILE *out,
                     struct cr_err *err)
{
    char *escaped = cr_cli_url_escape(p->deployment_id);
    char *path = cr_xasprintf("/v2/deployments/%s", escaped);
    free(escaped);
    struct cr_apps_reply r;
    int rc = cr_apps_request(w->master, "GET", path, NULL, &r, err);
    free(path);
    if (rc < 0)
        return -1;
    if (r.status == 200 && json_is_object(r.json)) {
        cr_apps_progress_poll(p, r.json, out);
        rc = 1;
    } else if (r.status == 404) {
        rc = 0;
    } else {
        cr_err_set(err, -EPROTO, "the master answered %d to GET /v2/deployments/%s", r.status,
                   p->deployment_id);
        rc = -1;
    }
    cr_apps_reply_release(&r);
    return rc;
}

/* Stream until the outcome is known, Ctrl-C, or the stream ends. */
static void stream(struct cr_apps_watch *w, struct cr_apps_progress *p)
{
    int64_t next_poll = cr_now_ms() + SAFETY_POLL_MS;
    drive(w, 0); /* what arrived while the change was made */
    while (w->is_streaming && p->outcome == CR_APPS_RUNNING && !cr_cli_signal) {
        if (cr_now_ms() >= next_poll) {
            struct cr_err err = {0};
            poll_once(w, p, NULL, &err); /* quietly: the stream prints the steps */
            next_poll = cr_now_ms() + SAFETY_POLL_MS;
            if (p->outcome != CR_APPS_RUNNING)
                break;
        }
        drive(w, STREAM_TICK_MS);
    }
    detach(w);
}

int cr_apps_watch_wait(struct cr_apps_watch *w, const char *deployment_id,
                       const char *const *app_ids, FILE *out)
{
    struct cr_apps_progress p;
    cr_apps_progress_init(&p, deployment_id, app_ids);
    w->out = out;
    w->progress = &p;
    bool had_stream = w->is_streaming;
    if (w->is_streaming) {
        stream(w, &p);
    } else if (w->note[0]) {
        fflush(out);
        fprintf(stderr, "corral %s: %s\n", w->verb, w->note);
    }
    w->progress = NULL;
    if (had_stream && p.outcome == CR_APPS_RUNNING && !cr_cli_signal) {
        fflush(out);
        fprintf(stderr, "corral %s: the event stream ended; polling the deployment\n", w->verb);
    }

    int64_t failing_since = -1;
    struct cr_err err = {0};
    bool is_unknown = false;
    while (p.outcome == CR_APPS_RUNNING && !cr_cli_signal) {
        int rc = poll_once(w, &p, out, &err);
        fflush(out);
        if (rc == 0) {
            is_unknown = true;
            break;
        }
        if (rc < 0) {
            if (failing_since < 0)
                failing_since = cr_now_ms();
            if (cr_now_ms() - failing_since > UNREACHABLE_GIVE_UP_MS)
                break;
        } else {
            failing_since = -1;
        }
        if (p.outcome == CR_APPS_RUNNING && !cr_cli_sleep_ms(POLL_MS))
            break;
    }

    int code;
    char text[1024];
    fflush(out);
    if (cr_cli_signal) {
        fprintf(stderr, "corral %s: stopped waiting; deployment %s goes on (see 'corral apps')\n",
                w->verb, deployment_id);
        code = CR_CLI_EXIT_INTERRUPTED;
    } else if (is_unknown) {
        /* Finished deployments are kept only for a while: it ended, we cannot say how. */
        fprintf(out, "deployment %s is over (the master no longer knows its outcome)\n",
                deployment_id);
        code = CR_CLI_EXIT_OK;
    } else if (p.outcome == CR_APPS_RUNNING) {
        code =
            cr_cli_fail(w->verb, "gave up waiting for deployment %s: %s", deployment_id, err.msg);
    } else if (p.outcome == CR_APPS_SUCCEEDED) {
        cr_apps_outcome_text(&p, text, sizeof(text));
        fprintf(out, "%s\n", text);
        code = CR_CLI_EXIT_OK;
    } else {
        cr_apps_outcome_text(&p, text, sizeof(text));
        code = cr_cli_fail(w->verb, "%s", text);
    }
    fflush(out);
    cr_apps_progress_release(&p);
    return code;
}

int cr_apps_change(const char *verb, const char *master, const char *method, const char *path,
                   const char *body, const char *const *app_ids, bool is_wait)
{
    struct cr_apps_watch *w = is_wait ? cr_apps_watch_open(verb, master) : NULL;
    if (cr_cli_signal) {
        cr_apps_watch_free(w);
        return CR_CLI_EXIT_INTERRUPTED;
    }
    struct cr_apps_reply r;
    struct cr_err err = {0};
    int code;
    if (cr_apps_request(master, method, path, body, &r, &err) < 0) {
        cr_apps_watch_free(w);
        return cr_cli_fail(verb, "%s", err.msg);
    }
    if (r.status < 200 || r.status >= 300) {
        char *what = cr_xasprintf("%s %s", method, path);
        code = cr_apps_fail_reply(verb, what, &r);
        free(what);
        if (r.status == 409 && cr_cli_json_array(r.json, "deployments") && strcmp(verb, "run") != 0)
            fprintf(stderr, "corral %s: --force cancels the deployment that holds the app\n", verb);
    } else if (!r.deployment_id) {
        printf("done (no deployment was needed)\n");
        code = CR_CLI_EXIT_OK;
    } else {
        printf("deployment %s started\n", r.deployment_id);
        fflush(stdout);
        code = w ? cr_apps_watch_wait(w, r.deployment_id, app_ids, stdout) : CR_CLI_EXIT_OK;
    }
    cr_apps_reply_release(&r);
    cr_apps_watch_free(w);
    return code;
}

int cr_apps_print_instances(const char *verb, const char *master, const char *id)
{
    char *path = cr_apps_path(id, NULL);
    struct cr_apps_reply r;
    struct cr_err err = {0};
    int rc = cr_apps_request(master, "GET", path, NULL, &r, &err);
    free(path);
    if (rc < 0)
        return cr_cli_fail(verb, "%s", err.msg);
    if (r.status != 200) {
        rc = cr_apps_fail_reply(verb, "GET the app", &r);
        cr_apps_reply_release(&r);
        return rc;
    }
    const json_t *app = json_object_get(r.json, "app");
    json_t *tasks = cr_cli_json_array(app, "tasks");
    static const char *const headers[] = {"INSTANCE", "ADDRESS", "STATE", "HEALTH"};
    struct cr_cli_table t;
    cr_cli_table_init(&t, 4, headers, 0);
    size_t i;
    json_t *task;
    json_array_foreach(tasks, i, task)
    {
        char name[128];
        cr_apps_short_task(cr_cli_json_str(task, "id"), id, name, sizeof(name));
        struct cr_buf addr = {0};
        const char *host = cr_cli_json_str(task, "host");
        cr_buf_puts(&addr, host ? host : "-");
        size_t k;
        json_t *port;
        json_array_foreach(cr_cli_json_array(task, "ports"), k, port)
            cr_buf_printf(&addr, "%c%lld", k ? ',' : ':', (long long)json_number_value(port));
        const char *health = "-";
        json_t *results = cr_cli_json_array(task, "healthCheckResults");
        if (json_array_size(results) > 0)
            health = cr_cli_json_bool(json_array_get(results, 0), "alive", false) ? "healthy"
                                                                                  : "unhealthy";
        const char *cells[] = {name, addr.data, cr_cli_state_short(cr_cli_json_str(task, "state")),
                               health};
        cr_cli_table_add(&t, cells);
        cr_buf_release(&addr);
    }
    printf("%s: %d of %d instances running\n", cr_apps_display_id(id),
           (int)cr_cli_json_num(app, "tasksRunning", 0), (int)cr_cli_json_num(app, "instances", 0));
    if (t.nrows > 0)
        cr_cli_table_print(&t, stdout);
    cr_cli_table_release(&t);
    cr_apps_reply_release(&r);
    return CR_CLI_EXIT_OK;
}
