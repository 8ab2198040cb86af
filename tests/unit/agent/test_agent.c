/*
 * test_agent.c - a whole agent in-process against a fake master on the same loop:
 * registration and the persisted agent id, a task's STARTING/RUNNING/FINISHED with only
 * the head of its queue in flight, re-subscription after the stream drops (the task
 * reported in SUBSCRIBE, its unacknowledged update re-sent), KILL with TASK_KILLING,
 * custom executors, unknown users and unknown tasks, PING/PONG, following a 307 to the
 * leader, a restart keeping the id, and the HTTP endpoints (/state, /health, /files).
 *
 * Only 127.0.0.1 and ephemeral ports; each test has its own work dir (removed after) and
 * kills what it launched through the agent.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "agent/agent.h"
#include "api/agent_proto.h"
#include "base/util.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/loop.h"
#include "net/recordio.h"

#define MAX_UPDATES 64
#define FW "M-0000"

struct update {
    char task[64];
    enum cr_task_state state;
    enum cr_task_source source;
    enum cr_task_reason reason;
    char message[256];
    unsigned char uuid[16];
    bool has_container;
};

struct fake_master {
    struct cr_http_server *srv;
    uint16_t port;
    uint16_t redirect_to; /* answer SUBSCRIBE with 307 to this port when set */
    struct cr_http_stream *stream;
    int subscribes;
    int redirects;
    char last_sub_id[64]; /* agent id the last SUBSCRIBE carried ("" if none) */
    size_t last_sub_tasks;
    char last_sub_state[32]; /* state of the first task reported */
    int pongs;
    bool auto_ack;
    struct update updates[MAX_UPDATES];
    size_t nupdates;
    int bad_calls;
};

struct env {
    uv_loop_t loop;
    char dir[64];
    struct fake_master m, m2;
    struct cr_agent *agent;
    struct cr_http_client *client;
};

/* ------------------------------------------------------------------ fake master */

static void send_event(struct fake_master *m, json_t *ev)
{
    char *text = cr_json_dump(ev);
    json_decref(ev);
    size_t len;
    char *rec = cr_recordio_encode(text, strlen(text), &len);
    if (m->stream)
        cr_http_stream_write(m->stream, rec, len);
    free(rec);
    free(text);
}

static void on_stream_closed(struct cr_http_stream *s, void *ud)
{
    struct fake_master *m = ud;
    if (m->stream == s) {
        cr_http_stream_release(s);
        m->stream = NULL;
    }
}

static void drop_stream(struct fake_master *m)
{
    cr_http_stream_release(m->stream);
    m->stream = NULL;
}

static void master_handle(struct cr_http_req *req, void *ud)
{
    struct fake_master *m = ud;
    size_t len;
    const char *body = cr_http_req_body(req, &len);
    struct cr_agent_call c;
    struct cr_err err;
    cr_err_clear(&err);
    if (strcmp(cr_http_req_path(req), "/corral/v1/agent") != 0 ||
        cr_parse_agent_call(body, len, &c, &err) < 0) {
        m->bad_calls++;
        cr_http_respondf(req, 400, "bad call: %s", err.msg);
        return;
    }
    if (c.type == CR_AGENT_CALL_SUBSCRIBE) {
        if (m->redirect_to) {
            m->redirects++;
            char loc[128];
            snprintf(loc, sizeof(loc), "//127.0.0.1:%u/corral/v1/agent", m->redirect_to);
            cr_http_req_add_header(req, "Location", loc);
            cr_http_respond(req, 307, NULL, NULL, 0);
            cr_agent_call_release(&c);
            return;
        }
        m->subscribes++;
        snprintf(m->last_sub_id, sizeof(m->last_sub_id), "%s",
                 c.agent_info.id ? c.agent_info.id : "");
        m->last_sub_tasks = c.ntasks;
        snprintf(m->last_sub_state, sizeof(m->last_sub_state), "%s",
                 c.ntasks ? cr_task_state_name(c.tasks[0].state) : "");
        if (m->stream)
            drop_stream(m);
        cr_http_req_add_header(req, "Mesos-Stream-Id", "stream-1");
        m->stream = cr_http_stream_open(req, 200, "application/json", on_stream_closed, m);
        struct cr_master_info mi = {.id = "M",
                                    .ip = "127.0.0.1",
                                    .port = m->port,
                                    .hostname = "fake-master",
                                    .version = "1.11.0"};
        send_event(m,
                   cr_agent_event_subscribed(c.agent_info.id ? c.agent_info.id : "M-S1", 1.0, &mi));
    } else if (c.type == CR_AGENT_CALL_UPDATE) {
        const char *sid = cr_http_req_header(req, "Mesos-Stream-Id");
        if (!sid || strcmp(sid, "stream-1") != 0 || strcmp(c.agent_id, "M-S1") != 0) {
            m->bad_calls++;
            cr_http_respondf(req, 400, "stream mismatch");
            cr_agent_call_release(&c);
            return;
        }
        assert_true(m->nupdates < MAX_UPDATES);
        struct update *u = &m->updates[m->nupdates++];
        snprintf(u->task, sizeof(u->task), "%s", c.status.task_id);
        u->state = c.status.state;
        u->source = c.status.source;
        u->reason = c.status.reason;
        snprintf(u->message, sizeof(u->message), "%s", c.status.message ? c.status.message : "");
        memcpy(u->uuid, c.status.uuid, 16);
        u->has_container = c.status.container_id != NULL;
        cr_http_respond(req, 202, NULL, NULL, 0);
        if (m->auto_ack)
            send_event(
                m, cr_agent_event_acknowledged(c.framework_id, c.status.task_id, c.status.uuid));
    } else if (c.type == CR_AGENT_CALL_PONG) {
        m->pongs++;
        cr_http_respond(req, 202, NULL, NULL, 0);
    } else {
        cr_http_respondf(req, 501, "unknown call");
    }
    cr_agent_call_release(&c);
}

static void master_start(struct env *e, struct fake_master *m)
{
    memset(m, 0, sizeof(*m));
    struct cr_http_server_config cfg = {
        .bind_ip = "127.0.0.1", .port = 0, .handler = master_handle, .ud = m};
    struct cr_err err;
    cr_err_clear(&err);
    if (cr_http_server_start(&e->loop, &cfg, &m->srv, &err) < 0)
        fail_msg("fake master: %s", err.msg);
    m->port = cr_http_server_port(m->srv);
}

static void master_stop(struct fake_master *m)
{
    if (m->stream)
        drop_stream(m);
    cr_http_server_free(m->srv);
    m->srv = NULL;
}

static void ack(struct fake_master *m, size_t i)
{
    send_event(m, cr_agent_event_acknowledged(FW, m->updates[i].task, m->updates[i].uuid));
}

/* ------------------------------------------------------------------ helpers */

static void on_deadline(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

/* Run the loop until pred(e, arg) or ms pass. */
static bool run_until(struct env *e, bool (*pred)(struct env *, const void *), const void *arg,
                      int ms)
{
    uv_timer_t t;
    bool expired = false;
    uv_timer_init(&e->loop, &t);
    t.data = &expired;
    uv_timer_start(&t, on_deadline, (uint64_t)ms, 0);
    while (!(pred && pred(e, arg)) && !expired)
        uv_run(&e->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&e->loop, UV_RUN_NOWAIT);
    return pred ? pred(e, arg) : true;
}

static bool has_updates(struct env *e, const void *arg)
{
    return e->m.nupdates >= *(const size_t *)arg;
}

static bool is_subscribed(struct env *e, const void *arg)
{
    return e->m.subscribes >= *(const int *)arg && e->m.stream != NULL;
}

static bool wait_updates(struct env *e, size_t n, int ms)
{
    return run_until(e, has_updates, &n, ms);
}

static bool wait_subscribes(struct env *e, int n, int ms)
{
    return run_until(e, is_subscribed, &n, ms);
}

static void start_agent(struct env *e, uint16_t master_port)
{
    char master[64];
    snprintf(master, sizeof(master), "127.0.0.1:%u", master_port);
    struct cr_agent_options o = {
        .master = master,
        .ip = "127.0.0.1",
        .port = 0,
        .hostname = "test-agent",
        .work_dir = e->dir,
        .resources = "cpus:2;mem:1024;disk:1024",
        .attributes = "rack:r1",
        .isolation = "posix",
        .executor_path = CR_TEST_EXECUTOR,
        .log_max_size = 1 << 20,
        .gc_delay_ms = 3600 * 1000,
        .gc_disk_headroom = 0.1,
    };
    struct cr_err err;
    cr_err_clear(&err);
    if (cr_agent_new(&e->loop, &o, &e->agent, &err) < 0)
        fail_msg("agent: %s", err.msg);
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    uv_loop_init(&e->loop);
    snprintf(e->dir, sizeof(e->dir), "/tmp/cr-agent-test-XXXXXX");
    if (!mkdtemp(e->dir))
        return -1;
    master_start(e, &e->m);
    struct cr_err err;
    cr_err_clear(&err);
    if (cr_http_client_new(&e->loop, &e->client, &err) < 0)
        return -1;
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    cr_agent_free(e->agent);
    master_stop(&e->m);
    if (e->m2.srv)
        master_stop(&e->m2);
    cr_http_client_free(e->client);
    cr_loop_close_all(&e->loop);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    cr_rm_rf(e->dir, NULL);
    free(e);
    return 0;
}

static void launch(struct env *e, const char *task_id, const char *command, const char *extra)
{
    char *text = cr_xasprintf(
        "{\"type\":\"LAUNCH\",\"launch\":{\"framework_info\":{\"id\":{\"value\":\"" FW "\"},"
        "\"user\":\"root\",\"name\":\"test-fw\",\"capabilities\":[{\"type\":"
        "\"TASK_KILLING_STATE\"}]},\"task\":{\"name\":\"%s\",\"task_id\":{\"value\":\"%s\"},"
        "\"agent_id\":{\"value\":\"M-S1\"},\"resources\":[{\"name\":\"cpus\",\"type\":\"SCALAR\","
        "\"scalar\":{\"value\":0.1},\"allocation_info\":{\"role\":\"dev\"}},{\"name\":\"ports\","
        "\"type\":\"RANGES\",\"ranges\":{\"range\":[{\"begin\":31000,\"end\":31001}]},"
        "\"allocation_info\":{\"role\":\"dev\"}}]%s%s%s}}}",
        task_id, task_id, command ? ",\"command\":" : "", command ? command : "",
        extra ? extra : "");
    json_t *ev = json_loads(text, 0, NULL);
    if (!ev)
        fail_msg("bad test JSON: %s", text);
    free(text);
    send_event(&e->m, ev);
}

struct get_result {
    bool done;
    int rc;
    int status;
    char *body;
};

static void on_get(int rc, const char *msg, const struct cr_http_response *resp, void *ud)
{
    struct get_result *r = ud;
    (void)msg;
    r->done = true;
    r->rc = rc;
    if (rc == 0) {
        r->status = resp->status;
        r->body = cr_xstrdup(resp->body);
    }
}

static bool get_done(struct env *e, const void *arg)
{
    (void)e;
    return ((const struct get_result *)arg)->done;
}

/* GET path on the agent (async client, pumping the shared loop). Body owned. */
static int http_get(struct env *e, const char *method, const char *path, char **body)
{
    char *url = cr_xasprintf("http://127.0.0.1:%u%s", cr_agent_port(e->agent), path);
    struct cr_http_request req = {.method = method, .url = url, .timeout_ms = 5000};
    struct get_result r = {0};
    struct cr_err err;
    cr_err_clear(&err);
    struct cr_http_call *call = cr_http_client_send(e->client, &req, on_get, &r, &err);
    free(url);
    assert_non_null(call);
    assert_true(run_until(e, get_done, &r, 5000));
    assert_int_equal(r.rc, 0);
    if (body)
        *body = r.body;
    else
        free(r.body);
    return r.status;
}

static json_t *get_state(struct env *e)
{
    char *body = NULL;
    assert_int_equal(http_get(e, "GET", "/state", &body), 200);
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    assert_non_null(j);
    return j;
}

/* The sandbox directory of task_id in /state (active or completed), owned or NULL. */
static char *sandbox_of(json_t *state, const char *task_id)
{
    const char *lists[] = {"frameworks", "completed_frameworks"};
    const char *execs[] = {"executors", "completed_executors"};
    for (size_t l = 0; l < 2; l++) {
        size_t i, k;
        json_t *fw, *ex;
        json_array_foreach(json_object_get(state, lists[l]), i, fw)
        {
            for (size_t x = 0; x < 2; x++) {
                json_array_foreach(json_object_get(fw, execs[x]), k, ex)
                {
                    if (strcmp(json_string_value(json_object_get(ex, "id")), task_id) == 0)
                        return cr_xstrdup(json_string_value(json_object_get(ex, "directory")));
                }
            }
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ tests */

static void test_register_persists_id(void **state)
{
    struct env *e = *state;
    start_agent(e, e->m.port);
    assert_true(wait_subscribes(e, 1, 5000));
    assert_string_equal(e->m.last_sub_id, ""); /* first time: no id */
    assert_string_equal(cr_agent_id(e->agent), "M-S1");
    char *path = cr_xasprintf("%s/meta/agent_id", e->dir);
    char *text = NULL;
    size_t len;
    assert_int_equal(cr_read_file(path, &text, &len, NULL), 0);
    assert_string_equal(text, "M-S1\n");
    free(text);
    free(path);

    /* PING -> PONG */
    send_event(&e->m, cr_agent_event_ping());
    for (int i = 0; i < 200 && e->m.pongs == 0; i++)
        run_until(e, NULL, NULL, 10);
    assert_int_equal(e->m.pongs, 1);

    /* restart: the same id comes back in SUBSCRIBE */
    cr_agent_free(e->agent);
    e->agent = NULL;
    run_until(e, NULL, NULL, 50);
    start_agent(e, e->m.port);
    assert_true(wait_subscribes(e, 2, 5000));
    assert_string_equal(e->m.last_sub_id, "M-S1");
    assert_int_equal(e->m.bad_calls, 0);
}

static void test_task_runs_to_finished(void **state)
{
    struct env *e = *state;
    e->m.auto_ack = true;
    start_agent(e, e->m.port);
    assert_true(wait_subscribes(e, 1, 5000));
    launch(e, "t1",
           "{\"value\":\"echo hi $GREETING $PORTS $MESOS_TASK_ID; exit 0\",\"environment\":{"
           "\"variables\":[{\"name\":\"GREETING\",\"value\":\"hello\"}]}}",
           NULL);
    assert_true(wait_updates(e, 3, 10000));
    assert_int_equal(e->m.updates[0].state, CR_TASK_STARTING);
    assert_int_equal(e->m.updates[1].state, CR_TASK_RUNNING);
    assert_int_equal(e->m.updates[2].state, CR_TASK_FINISHED);
    assert_int_equal(e->m.updates[2].source, CR_SOURCE_EXECUTOR);
    assert_string_equal(e->m.updates[2].message, "Command exited with status 0");
    assert_true(e->m.updates[2].has_container);
    assert_memory_not_equal(e->m.updates[0].uuid, e->m.updates[1].uuid, 16);
    run_until(e, NULL, NULL, 100); /* let the last ack arrive */

    json_t *st = get_state(e);
    assert_string_equal(json_string_value(json_object_get(st, "id")), "M-S1");
    assert_string_equal(json_string_value(json_object_get(st, "hostname")), "test-agent");
    assert_true(json_real_value(json_object_get(json_object_get(st, "resources"), "cpus")) == 2.0);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(st, "attributes"), "rack")), "r1");
    assert_int_equal(json_array_size(json_object_get(st, "frameworks")), 0);
    assert_int_equal(json_array_size(json_object_get(st, "completed_frameworks")), 1);
    char *dir = sandbox_of(st, "t1");
    json_decref(st);
    assert_non_null(dir);
    assert_non_null(strstr(dir, "/slaves/M-S1/frameworks/" FW "/executors/t1/runs/"));

    char *path = cr_xasprintf("/files/read?path=%s/stdout&offset=0", dir);
    char *body = NULL;
    assert_int_equal(http_get(e, "GET", path, &body), 200);
    free(path);
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    assert_string_equal(json_string_value(json_object_get(j, "data")), "hi hello 31000,31001 t1\n");
    json_decref(j);
    /* runs/latest points at the run */
    char *latest = cr_xasprintf("/files/browse?path=%s/..", dir);
    assert_int_equal(http_get(e, "GET", latest, &body), 200);
    assert_non_null(strstr(body, "latest"));
    free(body);
    free(latest);
    free(dir);
}

static void test_head_only_and_resend_on_resubscribe(void **state)
{
    struct env *e = *state;
    start_agent(e, e->m.port);
    assert_true(wait_subscribes(e, 1, 5000));
    launch(e, "t2", "{\"value\":\"exit 0\"}", NULL);
    assert_true(wait_updates(e, 1, 5000));
    assert_int_equal(e->m.updates[0].state, CR_TASK_STARTING);
    /* the process is long gone, but nothing follows until STARTING is acknowledged */
    run_until(e, NULL, NULL, 500);
    assert_int_equal(e->m.nupdates, 1);
    /* a wrong uuid changes nothing */
    struct update wrong = e->m.updates[0];
    wrong.uuid[0] ^= 0xff;
    send_event(&e->m, cr_agent_event_acknowledged(FW, "t2", wrong.uuid));
    run_until(e, NULL, NULL, 200);
    assert_int_equal(e->m.nupdates, 1);
    ack(&e->m, 0);
    assert_true(wait_updates(e, 2, 5000));
    assert_int_equal(e->m.updates[1].state, CR_TASK_RUNNING);
    ack(&e->m, 1);
    assert_true(wait_updates(e, 3, 5000));
    assert_int_equal(e->m.updates[2].state, CR_TASK_FINISHED);

    /* the stream breaks before FINISHED is acknowledged: the agent re-subscribes (after
     * its 1 s backoff), reports the task, and re-sends the same update */
    drop_stream(&e->m);
    assert_true(wait_subscribes(e, 2, 5000));
    assert_string_equal(e->m.last_sub_id, "M-S1");
    assert_int_equal(e->m.last_sub_tasks, 1);
    assert_string_equal(e->m.last_sub_state, "TASK_FINISHED");
    assert_true(wait_updates(e, 4, 5000));
    assert_int_equal(e->m.updates[3].state, CR_TASK_FINISHED);
    assert_memory_equal(e->m.updates[3].uuid, e->m.updates[2].uuid, 16);
    ack(&e->m, 3);
    run_until(e, NULL, NULL, 100);
    json_t *st = get_state(e);
    assert_int_equal(json_array_size(json_object_get(st, "completed_frameworks")), 1);
    json_decref(st);
    assert_int_equal(e->m.bad_calls, 0);
}

static void test_kill_and_errors(void **state)
{
    struct env *e = *state;
    e->m.auto_ack = true;
    start_agent(e, e->m.port);
    assert_true(wait_subscribes(e, 1, 5000));

    /* KILL: TASK_KILLING (the framework has TASK_KILLING_STATE), then TASK_KILLED */
    launch(e, "k1", "{\"value\":\"exec sleep 30\"}",
           ",\"kill_policy\":{\"grace_period\":{\"nanoseconds\":5000000000}}");
    assert_true(wait_updates(e, 2, 5000));
    assert_int_equal(e->m.updates[1].state, CR_TASK_RUNNING);
    send_event(&e->m, cr_agent_event_kill(FW, "k1", -1));
    assert_true(wait_updates(e, 4, 5000));
    assert_int_equal(e->m.updates[2].state, CR_TASK_KILLING);
    assert_int_equal(e->m.updates[3].state, CR_TASK_KILLED);
    assert_string_equal(e->m.updates[3].message, "Command terminated with signal SIGTERM");

    /* a custom executor is refused with a clear message */
    launch(e, "x1", NULL,
           ",\"executor\":{\"executor_id\":{\"value\":\"ex\"},\"command\":{\"value\":\"x\"}}");
    assert_true(wait_updates(e, 5, 5000));
    assert_int_equal(e->m.updates[4].state, CR_TASK_ERROR);
    assert_int_equal(e->m.updates[4].source, CR_SOURCE_AGENT);
    assert_int_equal(e->m.updates[4].reason, CR_REASON_TASK_INVALID);
    assert_non_null(strstr(e->m.updates[4].message, "custom executors are not supported yet"));

    /* an unknown user fails the launch, naming the user */
    launch(e, "u1", "{\"value\":\"true\",\"user\":\"no-such-user-corral\"}", NULL);
    assert_true(wait_updates(e, 6, 5000));
    assert_int_equal(e->m.updates[5].state, CR_TASK_FAILED);
    assert_int_equal(e->m.updates[5].reason, CR_REASON_CONTAINER_LAUNCH_FAILED);
    assert_non_null(strstr(e->m.updates[5].message, "user 'no-such-user-corral' does not exist"));

    /* exec failure: STARTING then FAILED naming the command and the error */
    launch(e, "f1", "{\"shell\":false,\"value\":\"/nonexistent/prog\",\"arguments\":[\"prog\"]}",
           NULL);
    assert_true(wait_updates(e, 8, 5000));
    assert_int_equal(e->m.updates[6].state, CR_TASK_STARTING);
    assert_int_equal(e->m.updates[7].state, CR_TASK_FAILED);
    assert_string_equal(e->m.updates[7].message,
                        "Failed to execute '/nonexistent/prog': No such file or directory");

    /* KILL of a task the agent never had: TASK_LOST (not partition aware) */
    send_event(&e->m, cr_agent_event_kill(FW, "ghost", -1));
    assert_true(wait_updates(e, 9, 5000));
    assert_string_equal(e->m.updates[8].task, "ghost");
    assert_int_equal(e->m.updates[8].state, CR_TASK_LOST);
    assert_int_equal(e->m.updates[8].reason, CR_REASON_TASK_UNKNOWN);

    /* KILL of a completed task says its terminal state again */
    run_until(e, NULL, NULL, 100);
    send_event(&e->m, cr_agent_event_kill(FW, "k1", -1));
    assert_true(wait_updates(e, 10, 5000));
    assert_string_equal(e->m.updates[9].task, "k1");
    assert_int_equal(e->m.updates[9].state, CR_TASK_KILLED);

    /* SHUTDOWN_FRAMEWORK kills everything of the framework */
    launch(e, "s1", "{\"value\":\"exec sleep 30\"}", NULL);
    launch(e, "s2", "{\"value\":\"exec sleep 30\"}", NULL);
    assert_true(wait_updates(e, 14, 5000));
    send_event(&e->m, cr_agent_event_shutdown_framework(FW));
    assert_true(wait_updates(e, 18, 10000)); /* KILLING + KILLED each */
    int killed = 0;
    for (size_t i = 14; i < 18; i++)
        killed += e->m.updates[i].state == CR_TASK_KILLED;
    assert_int_equal(killed, 2);
    assert_int_equal(e->m.bad_calls, 0);
}

static void test_follows_redirect(void **state)
{
    struct env *e = *state;
    master_start(e, &e->m2);
    e->m2.redirect_to = e->m.port; /* m2 is a follower pointing at the leader m */
    start_agent(e, e->m2.port);
    assert_true(wait_subscribes(e, 1, 5000));
    assert_int_equal(e->m2.redirects, 1);
    assert_int_equal(e->m2.subscribes, 0);
    assert_string_equal(cr_agent_id(e->agent), "M-S1");
}

static void test_http_endpoints(void **state)
{
    struct env *e = *state;
    start_agent(e, e->m.port);
    assert_true(wait_subscribes(e, 1, 5000));
    assert_int_equal(http_get(e, "GET", "/health", NULL), 200);
    assert_int_equal(http_get(e, "GET", "/slave(1)/health", NULL), 200);
    assert_int_equal(http_get(e, "GET", "/nope", NULL), 404);
    assert_int_equal(http_get(e, "POST", "/state", NULL), 405);
    char *body = NULL;
    assert_int_equal(http_get(e, "GET", "/state.json?jsonp=cb", &body), 200);
    assert_true(strncmp(body, "cb({", 4) == 0);
    free(body);
    assert_int_equal(http_get(e, "GET", "/state?jsonp=a%3Bb", &body), 400);
    free(body);
    json_t *st = get_state(e);
    char pid[64];
    snprintf(pid, sizeof(pid), "slave(1)@127.0.0.1:%u", cr_agent_port(e->agent));
    assert_string_equal(json_string_value(json_object_get(st, "pid")), pid);
    assert_string_equal(json_string_value(json_object_get(st, "master_hostname")), "fake-master");
    json_decref(st);
    assert_int_equal(http_get(e, "GET", "/files/read?path=/etc/passwd&offset=0", &body), 403);
    assert_non_null(strstr(body, "outside"));
    free(body);
    assert_int_equal(http_get(e, "GET", "/files/read?offset=0", &body), 400);
    assert_non_null(strstr(body, "'path'"));
    free(body);
    char *path = cr_xasprintf("/files/read?path=%s/meta/agent_id&offset=zz", e->dir);
    assert_int_equal(http_get(e, "GET", path, &body), 400);
    assert_non_null(strstr(body, "'offset'"));
    free(body);
    free(path);
    path = cr_xasprintf("/files/read?path=%s/meta/missing&offset=0", e->dir);
    assert_int_equal(http_get(e, "GET", path, NULL), 404);
    free(path);
    path = cr_xasprintf("/files/browse?path=%s", e->dir);
    assert_int_equal(http_get(e, "GET", path, &body), 200);
    assert_non_null(strstr(body, "\"mode\":\"drwx"));
    free(body);
    free(path);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_register_persists_id),
        T(test_task_runs_to_finished),
        T(test_head_only_and_resend_on_resubscribe),
        T(test_kill_and_errors),
        T(test_follows_redirect),
        T(test_http_endpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
