/*
 * loop.h - small libuv glue every daemon needs: clean shutdown on SIGINT/SIGTERM,
 * closing whatever handles are left so LeakSanitizer sees no leak, and a one-shot
 * "call me soon, from the loop" for breaking out of callback stacks.
 *
 * All functions run on the loop's thread. None of them keeps global state except the
 * process-wide SIGPIPE disposition (ignored, so a peer closing a socket shows up as
 * EPIPE instead of killing the daemon).
 */
#ifndef CR_NET_LOOP_H
#define CR_NET_LOOP_H

#include <uv.h>

struct cr_loop_signals;
struct cr_loop_defer;

/*
 * Watch SIGINT and SIGTERM on loop and call cb(signum, ud) on the loop thread each time
 * one arrives (a daemon usually starts its shutdown on the first and exits hard on the
 * second). Also sets SIGPIPE to ignored for the whole process. The watchers do not keep
 * the loop alive on their own (uv_unref), so once a daemon has freed its servers and
 * clients uv_run() returns even if the watchers are still installed. On success *out is
 * owned by the caller: free with cr_loop_signals_free(). Returns 0 or a negative errno
 * (from uv_signal_start) with *out set to NULL.
 */
int cr_loop_on_signals(uv_loop_t *loop, void (*cb)(int signum, void *ud), void *ud,
                       struct cr_loop_signals **out);

/*
 * Stop watching and free. The handles close asynchronously: their memory is released
 * when the loop next runs (cr_loop_close_all() does that at shutdown). Accepts NULL.
 * Safe to call from inside the signal callback.
 */
void cr_loop_signals_free(struct cr_loop_signals *sig);

/*
 * Shutdown helper: close every handle still open on loop (uv_walk) and run the loop
 * until all close callbacks have run and nothing is left, so that uv_loop_close() then
 * succeeds. Call it after the owners of the handles have been freed (cr_http_server_free,
 * cr_http_client_free, ...): their close callbacks free their memory, whereas a handle
 * found here is closed with no callback, so memory that only its owner would have freed
 * is leaked. Must not be called from inside a loop callback.
 */
void cr_loop_close_all(uv_loop_t *loop);

/*
 * Call cb(ud) once, from the loop, soon (after the current callback returns and before
 * the loop next blocks waiting for I/O), never synchronously. Use it to
 * leave a callback stack before doing something that the stack's owner forbids (freeing
 * it, say). Returns a handle valid until cb has been called or the call was cancelled;
 * allocation failure aborts. The pending call keeps the loop alive.
 */
struct cr_loop_defer *cr_loop_defer(uv_loop_t *loop, void (*cb)(void *ud), void *ud);

/*
 * Cancel a pending deferred call (cb will not run). Must not be called after cb has
 * started. Accepts NULL.
 */
void cr_loop_defer_cancel(struct cr_loop_defer *d);

#endif
