/*
 * test_status_updates.c - the agent's reliable status-update queues with a fake clock:
 * per-task order, one in flight, 10 s doubling to 10 min, acks by uuid, re-send of every
 * head on (re-)subscription, nothing sent while offline.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/status_updates.h"

#define MAX_SENT 256

struct sent {
    char fw[32];
    char task[32];
    enum cr_task_state state;
    unsigned char uuid[16];
};

struct recorder {
    struct sent v[MAX_SENT];
    size_t n;
};

static void record(const char *framework_id, const struct cr_task_status *s, void *ud)
{
    struct recorder *r = ud;
    assert_true(r->n < MAX_SENT);
    struct sent *x = &r->v[r->n++];
    snprintf(x->fw, sizeof(x->fw), "%s", framework_id);
    snprintf(x->task, sizeof(x->task), "%s", s->task_id);
    x->state = s->state;
    memcpy(x->uuid, s->uuid, 16);
}

/* A status with a uuid derived from (task, seq) so tests can name it. */
static void make_status(struct cr_task_status *s, const char *task, enum cr_task_state state,
                        unsigned char seq)
{
    memset(s, 0, sizeof(*s));
    s->task_id = (char *)task;
    s->state = state;
    s->reason = CR_REASON_NONE;
    s->healthy = -1;
    s->has_uuid = true;
    for (int i = 0; i < 16; i++)
        s->uuid[i] = (unsigned char)(seq * 16 + i + task[0]);
}

static void add(struct cr_status_updates *su, const char *fw, const char *task,
                enum cr_task_state state, unsigned char seq, int64_t now)
{
    struct cr_task_status s;
    make_status(&s, task, state, seq);
    assert_int_equal(cr_su_add(su, fw, &s, now), 0);
}

static void uuid_of(const char *task, unsigned char seq, unsigned char out[16])
{
    struct cr_task_status s;
    make_status(&s, task, CR_TASK_RUNNING, seq);
    memcpy(out, s.uuid, 16);
}

static void test_task_key_unambiguous(void **state)
{
    (void)state;
    char *a = cr_agent_task_key("ab", "c");
    char *b = cr_agent_task_key("a", "bc");
    assert_string_not_equal(a, b);
    free(a);
    free(b);
}

static void test_order_and_one_in_flight(void **state)
{
    (void)state;
    struct recorder r = {0};
    struct cr_status_updates su;
    cr_su_init(&su, record, &r);
    cr_su_set_online(&su, true, 0);
    add(&su, "fw", "t1", CR_TASK_STARTING, 1, 0);
    add(&su, "fw", "t1", CR_TASK_RUNNING, 2, 0);
    add(&su, "fw", "t1", CR_TASK_FINISHED, 3, 0);
    assert_int_equal(cr_su_pending(&su), 3);
    /* only the head went out */
    assert_int_equal(r.n, 1);
    assert_int_equal(r.v[0].state, CR_TASK_STARTING);
    assert_string_equal(r.v[0].fw, "fw");

    unsigned char u[16];
    enum cr_task_state acked;
    uuid_of("t1", 1, u);
    assert_int_equal(cr_su_ack(&su, "fw", "t1", u, 5, &acked), 0);
    assert_int_equal(acked, CR_TASK_STARTING);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.v[1].state, CR_TASK_RUNNING);
    uuid_of("t1", 2, u);
    assert_int_equal(cr_su_ack(&su, "fw", "t1", u, 6, &acked), 0);
    assert_int_equal(r.v[2].state, CR_TASK_FINISHED);
    uuid_of("t1", 3, u);
    assert_int_equal(cr_su_ack(&su, "fw", "t1", u, 7, &acked), 0);
    assert_int_equal(acked, CR_TASK_FINISHED);
    assert_int_equal(cr_su_pending(&su), 0);
    assert_null(cr_su_stream_find(&su, "fw", "t1"));
    assert_int_equal(cr_su_next_due(&su), -1);
    /* ack after the stream is gone */
    assert_int_equal(cr_su_ack(&su, "fw", "t1", u, 8, NULL), -ENOENT);
    cr_su_release(&su);
}

static void test_wrong_uuid_ignored(void **state)
{
    (void)state;
    struct recorder r = {0};
    struct cr_status_updates su;
    cr_su_init(&su, record, &r);
    cr_su_set_online(&su, true, 0);
    add(&su, "fw", "t1", CR_TASK_STARTING, 1, 0);
    add(&su, "fw", "t1", CR_TASK_RUNNING, 2, 0);
    unsigned char u[16];
    uuid_of("t1", 2, u); /* the second update's uuid: not the head */
    assert_int_equal(cr_su_ack(&su, "fw", "t1", u, 1, NULL), -ESTALE);
    assert_int_equal(cr_su_pending(&su), 2);
    assert_int_equal(r.n, 1);
    /* a different task with the same uuid bytes is a different stream */
    assert_int_equal(cr_su_ack(&su, "fw", "t2", u, 1, NULL), -ENOENT);
    assert_int_equal(cr_su_ack(&su, "other", "t1", u, 1, NULL), -ENOENT);
    cr_su_release(&su);
}

static void test_retry_schedule(void **state)
{
    (void)state;
    struct recorder r = {0};
    struct cr_status_updates su;
    cr_su_init(&su, record, &r);
    cr_su_set_online(&su, true, 0);
    add(&su, "fw", "t1", CR_TASK_RUNNING, 1, 1000);
    assert_int_equal(r.n, 1);
    assert_int_equal(cr_su_next_due(&su), 1000 + 10000);

    /* Walk the clock second by second and record when re-sends happen. */
    int64_t expected_gaps[] = {10000, 20000, 40000, 80000, 160000, 320000, 600000, 600000, 600000};
    size_t ngaps = sizeof(expected_gaps) / sizeof(expected_gaps[0]);
    int64_t last = 1000;
    size_t seen = 0;
    for (int64_t now = 1000; seen < ngaps; now += 1000) {
        size_t before = r.n;
        cr_su_tick(&su, now);
        if (r.n > before) {
            assert_int_equal(r.n, before + 1);
            assert_int_equal(now - last, expected_gaps[seen]);
            last = now;
            seen++;
        }
        assert_true(now < 10LL * 3600 * 1000);
    }
    cr_su_release(&su);
}

static void test_ack_resets_schedule_for_next(void **state)
{
    (void)state;
    struct recorder r = {0};
    struct cr_status_updates su;
    cr_su_init(&su, record, &r);
    cr_su_set_online(&su, true, 0);
    add(&su, "fw", "t1", CR_TASK_STARTING, 1, 0);
    add(&su, "fw", "t1", CR_TASK_RUNNING, 2, 0);
    cr_su_tick(&su, 10000); /* resend #1 -> backoff 20 s */
    cr_su_tick(&su, 30000); /* resend #2 -> backoff 40 s */
    assert_int_equal(r.n, 3);
    unsigned char u[16];
    uuid_of("t1", 1, u);
    assert_int_equal(cr_su_ack(&su, "fw", "t1", u, 31000, NULL), 0);
    assert_int_equal(r.n, 4);
    assert_int_equal(r.v[3].state, CR_TASK_RUNNING);
    assert_int_equal(cr_su_next_due(&su), 31000 + 10000);
    cr_su_release(&su);
}

static void test_offline_then_online(void **state)
{
    (void)state;
    struct recorder r = {0};
    struct cr_status_updates su;
    cr_su_init(&su, record, &r);
    /* starts offline: nothing is sent, ticks do nothing */
    add(&su, "fw", "a", CR_TASK_STARTING, 1, 0);
    add(&su, "fw", "a", CR_TASK_RUNNING, 2, 0);
    add(&su, "fw", "b", CR_TASK_STARTING, 1, 0);
    cr_su_tick(&su, 100000);
    assert_int_equal(r.n, 0);
    assert_int_equal(cr_su_next_due(&su), -1);
    /* online: every head goes out at once, not the queued ones behind them */
    cr_su_set_online(&su, true, 200000);
    assert_int_equal(r.n, 2);
    for (size_t i = 0; i < r.n; i++)
        assert_int_equal(r.v[i].state, CR_TASK_STARTING);
    /* drop and come back: heads re-sent immediately with the schedule restarted */
    cr_su_tick(&su, 210000);
    assert_int_equal(r.n, 4);
    cr_su_set_online(&su, false, 215000);
    cr_su_tick(&su, 300000);
    assert_int_equal(r.n, 4);
    cr_su_set_online(&su, true, 400000);
    assert_int_equal(r.n, 6);
    assert_int_equal(cr_su_next_due(&su), 400000 + 10000);
    cr_su_release(&su);
}

static void test_streams_independent(void **state)
{
    (void)state;
    struct recorder r = {0};
    struct cr_status_updates su;
    cr_su_init(&su, record, &r);
    cr_su_set_online(&su, true, 0);
    add(&su, "fw", "a", CR_TASK_STARTING, 1, 0);
    add(&su, "fw", "b", CR_TASK_STARTING, 1, 0);
    add(&su, "fw2", "a", CR_TASK_STARTING, 3, 0);
    assert_int_equal(r.n, 3);
    unsigned char u[16];
    uuid_of("b", 1, u);
    assert_int_equal(cr_su_ack(&su, "fw", "b", u, 1, NULL), 0);
    assert_int_equal(cr_su_pending(&su), 2);
    assert_non_null(cr_su_stream_find(&su, "fw", "a"));
    assert_non_null(cr_su_stream_find(&su, "fw2", "a"));
    assert_null(cr_su_stream_find(&su, "fw", "b"));
    cr_su_release(&su);
}

static void test_add_requires_uuid(void **state)
{
    (void)state;
    struct recorder r = {0};
    struct cr_status_updates su;
    cr_su_init(&su, record, &r);
    struct cr_task_status s;
    make_status(&s, "t", CR_TASK_RUNNING, 1);
    s.has_uuid = false;
    assert_int_equal(cr_su_add(&su, "fw", &s, 0), -EINVAL);
    assert_int_equal(cr_su_pending(&su), 0);
    cr_su_release(&su);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_task_key_unambiguous),
        cmocka_unit_test(test_order_and_one_in_flight),
        cmocka_unit_test(test_wrong_uuid_ignored),
        cmocka_unit_test(test_retry_schedule),
        cmocka_unit_test(test_ack_resets_schedule_for_next),
        cmocka_unit_test(test_offline_then_online),
        cmocka_unit_test(test_streams_independent),
        cmocka_unit_test(test_add_requires_uuid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
