/*
 * test_loop.c - the libuv glue: SIGINT/SIGTERM reach the callback on the loop, SIGPIPE
 * is ignored, deferred calls run later (never synchronously), in order, once, and can be
 * cancelled, and cr_loop_close_all() leaves a loop that uv_loop_close() accepts.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"
#include "net/loop.h"

struct sig_seen {
    int signums[4];
    int n;
    bool got;
};

static void on_sig(int signum, void *ud)
{
    struct sig_seen *s = ud;
    if (s->n < 4)
        s->signums[s->n++] = signum;
    s->got = true;
}

static void test_signals(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct sig_seen seen = {0};
    struct cr_loop_signals *sig = NULL;
    assert_int_equal(cr_loop_on_signals(&loop, on_sig, &seen, &sig), 0);
    assert_non_null(sig);

    struct sigaction sa;
    sigaction(SIGPIPE, NULL, &sa);
    assert_ptr_equal(sa.sa_handler, SIG_IGN);

    /* The watchers alone do not keep the loop running. */
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);

    raise(SIGTERM);
    assert_true(th_run_until(&loop, &seen.got, 2000));
    seen.got = false;
    raise(SIGINT);
    assert_true(th_run_until(&loop, &seen.got, 2000));
    assert_int_equal(seen.n, 2);
    assert_int_equal(seen.signums[0], SIGTERM);
    assert_int_equal(seen.signums[1], SIGINT);

    cr_loop_signals_free(sig);
    cr_loop_signals_free(NULL);
    cr_loop_close_all(&loop);
    assert_int_equal(uv_loop_close(&loop), 0);
}

struct order {
    int seq[8];
    int n;
    uv_loop_t *loop;
    bool chained;
    struct cr_loop_defer *to_cancel;
};

static void deferred(void *ud);

static void deferred_a(void *ud)
{
    struct order *o = ud;
    o->seq[o->n++] = 1;
}

static void deferred_b(void *ud)
{
    struct order *o = ud;
    o->seq[o->n++] = 2;
    /* Deferring from a deferred call works too. */
    cr_loop_defer(o->loop, deferred, o);
}

static void deferred(void *ud)
{
    struct order *o = ud;
    o->seq[o->n++] = 3;
    o->chained = true;
}

static void never(void *ud)
{
    struct order *o = ud;
    o->seq[o->n++] = 99;
}

static void test_defer(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct order o = {.loop = &loop};
    cr_loop_defer(&loop, deferred_a, &o);
    struct cr_loop_defer *c = cr_loop_defer(&loop, never, &o);
    cr_loop_defer(&loop, deferred_b, &o);
    assert_int_equal(o.n, 0); /* never synchronously */
    cr_loop_defer_cancel(c);
    cr_loop_defer_cancel(NULL);
    assert_true(th_run_until(&loop, &o.chained, 2000));
    assert_int_equal(o.n, 3);
    assert_int_equal(o.seq[0], 1);
    assert_int_equal(o.seq[1], 2);
    assert_int_equal(o.seq[2], 3);
    /* The pending calls kept the loop alive; now it has nothing left. */
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    cr_loop_close_all(&loop);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void on_idle(uv_idle_t *h)
{
    (void)h;
}

static void on_timer(uv_timer_t *h)
{
    (void)h;
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    (void)h;
    (void)status;
    (void)events;
}

static void test_close_all(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    /* Handles whose owners forgot them: a running timer, an idle, a poll. */
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    uv_timer_start(&t, on_timer, 100000, 0);
    uv_idle_t idle;
    uv_idle_init(&loop, &idle);
    uv_idle_start(&idle, on_idle);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    uv_poll_t p;
    uv_poll_init(&loop, &p, fds[0]);
    uv_poll_start(&p, UV_READABLE, on_poll);
    assert_int_equal(uv_loop_close(&loop), UV_EBUSY);
    cr_loop_close_all(&loop);
    assert_int_equal(uv_loop_close(&loop), 0);
    close(fds[0]);
    close(fds[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signals),
        cmocka_unit_test(test_defer),
        cmocka_unit_test(test_close_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
