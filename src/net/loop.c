/*
 * loop.c - libuv glue shared by the daemons (see loop.h).
 *
 * Every handle created here lives in a heap block that its close callback frees, so
 * freeing an object only starts the close and the loop finishes it; nothing here
 * blocks or runs the loop except cr_loop_close_all(), which is meant for the very end.
 */
#include "net/loop.h"

#include <signal.h>
#include <stdlib.h>

#include "base/util.h"

struct cr_loop_signals {
    uv_signal_t sigint, sigterm;
    void (*cb)(int signum, void *ud);
    void *ud;
    int open_handles; /* freed when the last close callback has run */
};

static void on_signal(uv_signal_t *h, int signum)
{
    struct cr_loop_signals *s = h->data;
    s->cb(signum, s->ud);
}

static void on_signal_closed(uv_handle_t *h)
{
    struct cr_loop_signals *s = h->data;
    if (--s->open_handles == 0)
        free(s);
}

int cr_loop_on_signals(uv_loop_t *loop, void (*cb)(int signum, void *ud), void *ud,
                       struct cr_loop_signals **out)
{
    *out = NULL;
    /* A peer closing a socket must be an EPIPE, not the end of the daemon. */
    struct sigaction sa = {0};
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);

    struct cr_loop_signals *s = cr_xcalloc(1, sizeof(*s));
    s->cb = cb;
    s->ud = ud;
    uv_signal_t *handles[2] = {&s->sigint, &s->sigterm};
    const int signums[2] = {SIGINT, SIGTERM};
    int rc = 0, opened = 0;
    for (; opened < 2; opened++) {
        rc = uv_signal_init(loop, handles[opened]);
        if (rc < 0)
            break;
        handles[opened]->data = s;
        rc = uv_signal_start(handles[opened], on_signal, signums[opened]);
        if (rc < 0) {
            opened++; /* initialised: it must be closed */
            break;
        }
        uv_unref((uv_handle_t *)handles[opened]);
    }
    s->open_handles = opened;
    if (rc < 0) {
        /* Close what was initialised; the last close callback frees s. */
        for (int i = 0; i < opened; i++)
            uv_close((uv_handle_t *)handles[i], on_signal_closed);
        if (opened == 0)
            free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void cr_loop_signals_free(struct cr_loop_signals *s)
{
    if (!s)
        return;
    uv_close((uv_handle_t *)&s->sigint, on_signal_closed);
    uv_close((uv_handle_t *)&s->sigterm, on_signal_closed);
}

static void close_one(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

void cr_loop_close_all(uv_loop_t *loop)
{
    /* Close callbacks may start new work (or new handles); go until nothing is left. */
    for (int round = 0; round < 100; round++) {
        uv_run(loop, UV_RUN_NOWAIT);
        uv_walk(loop, close_one, NULL);
        uv_run(loop, UV_RUN_DEFAULT);
        if (!uv_loop_alive(loop))
            break;
    }
}

struct cr_loop_defer {
    uv_timer_t timer;
    void (*cb)(void *ud);
    void *ud;
};

static void on_defer_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_defer_timer(uv_timer_t *t)
{
    struct cr_loop_defer *d = t->data;
    uv_close((uv_handle_t *)&d->timer, on_defer_closed);
    /* The block stays valid until the close callback, after cb returns. */
    d->cb(d->ud);
}

struct cr_loop_defer *cr_loop_defer(uv_loop_t *loop, void (*cb)(void *ud), void *ud)
{
    struct cr_loop_defer *d = cr_xcalloc(1, sizeof(*d));
    d->cb = cb;
    d->ud = ud;
    /* uv_timer_init and uv_timer_start cannot fail for a valid loop and callback. */
    uv_timer_init(loop, &d->timer);
    d->timer.data = d;
    uv_timer_start(&d->timer, on_defer_timer, 0, 0);
    return d;
}

void cr_loop_defer_cancel(struct cr_loop_defer *d)
{
    if (!d || uv_is_closing((uv_handle_t *)&d->timer))
        return;
    uv_close((uv_handle_t *)&d->timer, on_defer_closed);
}
