/*
 * test_agent_removal.c - a whole agent in-process against a fake master that removes it:
 * the agent runs two tasks, the master drops its stream and answers the re-subscription
 * with 410 Gone (docs/protocol.md, Liveness); the agent must kill both tasks, send none
 * of their updates to the master, forget its id (also on disk) and subscribe again
 * without an id and without tasks, taking the new id the master gives it.
 *
 * Only 127.0.0.1 and ephemeral ports; the work dir is removed after; the tasks are
 * killed by the agent under test (the test checks their pids are gone).
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
#include "net/http_server.h"
#include "net/loop.h"
#include "net/recordio.h"

#define FW "M-0000"

struct fake_master {
    struct cr_http_server *srv;
    uint16_t port;
    struct cr_http_stream *stream;
    char stream_id[32];
    int subscribes, refused;
    char removed_id[32]; /* SUBSCRIBEs with this id are answered 410 */
    char next_id[32];    /* the id given to an agent that comes without one */
    char last_sub_id[32];
    size_t last_sub_tasks;
    int running, updates_after_removal;
};

struct env {
    uv_loop_t loop;
    char dir[64];
    struct fake_master m;
    struct cr_agent *agent;
};

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

static void subscribe(struct fake_master *m, struct cr_http_req *req, struct cr_agent_call *c)
{
    const char *id = c->agent_info.id;
    if (id && strcmp(id, m->removed_id) == 0) {
        m->refused++;
        cr_http_respondf(req, 410, "Agent '%s' was removed", id);
        return;
    }
    m->subscribes++;
    snprintf(m->last_sub_id, sizeof(m->last_sub_id), "%s", id ? id : "");
    m->last_sub_tasks = c->ntasks;
    if (m->stream) {
        cr_http_stream_release(m->stream);
        m->stream = NULL;
    }
    snprintf(m->stream_id, sizeof(m->stream_id), "stream-%d", m->subscribes);
    cr_http_req_add_header(req, "Mesos-Stream-Id", m->stream_id);
    m->stream = cr_http_stream_open(req, 200, "application/json", on_stream_closed, m);
    struct cr_master_info mi = {.id = "M",
                                .ip = "127.0.0.1",
                                .port = m->port,
                                .hostname = "fake-master",
                                .version = "1.11.0"};
    send_event(m, cr_agent_event_subscribed(id ? id : m->next_id, 1.0, &mi));
}

static void master_handle(struct cr_http_req *req, void *ud)
{
    struct fake_master *m = ud;
    size_t len;
    const char *body = cr_http_req_body(req, &len);
    struct cr_agent_call c;
    struct cr_err err;
    cr_err_clear(&err);
    if (cr_parse_agent_call(body, len, &c, &err) < 0) {
        cr_http_respondf(req, 400, "bad call: %s", err.msg);
        return;
    }
    if (c.type == CR_AGENT_CALL_SUBSCRIBE) {
        subscribe(m, req, &c);
    } else if (c.type == CR_AGENT_CALL_UPDATE) {
        const char *sid = cr_http_req_header(req, "Mesos-Stream-Id");
        if (!sid || strcmp(sid, m->stream_id) != 0) {
            cr_http_respondf(req, 400, "stream mismatch");
        } else {
            cr_http_respond(req, 202, NULL, NULL, 0);
            if (m->removed_id[0])
                m->updates_after_removal++;
            if (c.status.state == CR_TASK_RUNNING)
                m->running++;
            send_event(
                m, cr_agent_event_acknowledged(c.framework_id, c.status.task_id, c.status.uuid));
        }
    } else {
        cr_http_respond(req, 202, NULL, NULL, 0);
    }
    cr_agent_call_release(&c);
}

static void on_deadline(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

static bool run_until(struct env *e, bool (*pred)(struct env *), int ms)
{
    uv_timer_t t;
    bool expired = false;
    uv_timer_init(&e->loop, &t);
    t.data = &expired;
    uv_timer_start(&t, on_deadline, (uint64_t)ms, 0);
    while (!(pred && pred(e)) && !expired)
        uv_run(&e->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&e->loop, UV_RUN_NOWAIT);
    return pred ? pred(e) : true;
}

static bool first_subscribed(struct env *e)
{
    return e->m.subscribes >= 1 && e->m.stream;
}

static bool both_running(struct env *e)
{
    return e->m.running >= 2;
}

static bool back_as_new(struct env *e)
{
    return e->m.subscribes >= 2 && e->m.stream;
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    uv_loop_init(&e->loop);
    snprintf(e->dir, sizeof(e->dir), "/tmp/cr-agent-removal-XXXXXX");
    if (!mkdtemp(e->dir))
        return -1;
    struct cr_http_server_config cfg = {
        .bind_ip = "127.0.0.1", .port = 0, .handler = master_handle, .ud = &e->m};
    struct cr_err err;
    cr_err_clear(&err);
    if (cr_http_server_start(&e->loop, &cfg, &e->m.srv, &err) < 0)
        return -1;
    e->m.port = cr_http_server_port(e->m.srv);
    snprintf(e->m.next_id, sizeof(e->m.next_id), "M-S1");
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    cr_agent_free(e->agent);
    if (e->m.stream)
        cr_http_stream_release(e->m.stream);
    cr_http_server_free(e->m.srv);
    cr_loop_close_all(&e->loop);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    cr_rm_rf(e->dir, NULL);
    free(e);
    return 0;
}

static void launch(struct env *e, const char *task_id)
{
    char *text = cr_xasprintf(
        "{\"type\":\"LAUNCH\",\"launch\":{\"framework_info\":{\"id\":{\"value\":\"" FW "\"},"
        "\"user\":\"root\",\"name\":\"test-fw\"},\"task\":{\"name\":\"%s\",\"task_id\":{"
        "\"value\":\"%s\"},\"agent_id\":{\"value\":\"M-S1\"},\"resources\":[{\"name\":\"cpus\","
        "\"type\":\"SCALAR\",\"scalar\":{\"value\":0.1}}],\"command\":{\"value\":\"echo $$ > "
        "%s/%s.pid; exec sleep 600\"}}}}",
        task_id, task_id, e->dir, task_id);
    json_t *ev = json_loads(text, 0, NULL);
    if (!ev)
        fail_msg("bad test JSON: %s", text);
    free(text);
    send_event(&e->m, ev);
}

/* The pid a task wrote, or 0. */
static pid_t task_pid(struct env *e, const char *task_id)
{
    char *path = cr_xasprintf("%s/%s.pid", e->dir, task_id);
    char *text = NULL;
    size_t len = 0;
    pid_t pid = 0;
    if (cr_read_file(path, &text, &len, NULL) == 0)
        pid = (pid_t)strtol(text, NULL, 10);
    free(text);
    free(path);
    return pid;
}

/* Gone, or a zombie nobody will run again. */
static bool pid_gone(pid_t pid)
{
    char *path = cr_xasprintf("/proc/%d/stat", (int)pid);
    char *text = NULL;
    size_t len = 0;
    bool gone = true;
    if (cr_read_file(path, &text, &len, NULL) == 0) {
        const char *p = strrchr(text, ')');
        gone = p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
    }
    free(text);
    free(path);
    return gone;
}

static void test_removed_agent_kills_its_tasks_and_registers_anew(void **state)
{
    struct env *e = *state;
    char master[64];
    snprintf(master, sizeof(master), "127.0.0.1:%u", e->m.port);
    struct cr_agent_options o = {
        .master = master,
        .ip = "127.0.0.1",
        .port = 0,
        .hostname = "test-agent",
        .work_dir = e->dir,
        .resources = "cpus:2;mem:1024;disk:1024",
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
    assert_true(run_until(e, first_subscribed, 5000));
    assert_string_equal(cr_agent_id(e->agent), "M-S1");
    launch(e, "t1");
    launch(e, "t2");
    assert_true(run_until(e, both_running, 10000));
    pid_t p1 = task_pid(e, "t1"), p2 = task_pid(e, "t2");
    assert_true(p1 > 0 && p2 > 0);
    assert_false(pid_gone(p1));
    assert_false(pid_gone(p2));

    /* The master removes the agent: its stream ends, its id is refused from now on. */
    snprintf(e->m.removed_id, sizeof(e->m.removed_id), "M-S1");
    snprintf(e->m.next_id, sizeof(e->m.next_id), "M-S2");
    cr_http_stream_release(e->m.stream);
    e->m.stream = NULL;
    assert_true(run_until(e, back_as_new, 20000));
    assert_true(e->m.refused >= 1);
    assert_string_equal(e->m.last_sub_id, ""); /* fresh: no id ... */
    assert_int_equal(e->m.last_sub_tasks, 0);  /* ... and no task */
    assert_string_equal(cr_agent_id(e->agent), "M-S2");
    assert_int_equal(e->m.updates_after_removal, 0); /* the kills stayed local */
    assert_true(pid_gone(p1));
    assert_true(pid_gone(p2));
    char *path = cr_xasprintf("%s/meta/agent_id", e->dir);
    char *text = NULL;
    size_t len;
    assert_int_equal(cr_read_file(path, &text, &len, NULL), 0);
    assert_string_equal(text, "M-S2\n");
    free(text);
    free(path);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_removed_agent_kills_its_tasks_and_registers_anew,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
