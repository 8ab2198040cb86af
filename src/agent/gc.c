/*
 * gc.c - sandbox garbage collection: a min-heap of paths by due time, one timer for the
 * earliest, one removal at a time on the threadpool, and a periodic disk check that
 * pulls due times forward (see gc.h).
 *
 * Invariants: every waiting path is in both `heap` (ordered by due_ms, then by the
 * order it was scheduled) and `paths` (path -> entry); the path being removed is in
 * neither, only in `job`. Times are the loop's monotonic clock (uv_now). A disk check
 * sets prune_until: entries due before it are due now. The struct is freed when it has
 * been released (cr_gc_free), its two timers have closed and no job is in flight.
 */
#include "agent/gc.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include "base/log.h"
#include "base/map.h"
#include "base/util.h"

struct entry {
    char *path; /* owned; the key in gc->paths */
    int64_t due_ms;
    uint64_t seq; /* scheduling order: ties go to the oldest */
    size_t idx;   /* position in gc->heap */
};

/* One removal on the threadpool. The worker touches only this struct. */
struct job {
    uv_work_t req;
    struct cr_gc *gc;
    char *path; /* owned */
    const char *root;
    int rc;
    struct cr_err err;
};

struct cr_gc {
    uv_loop_t *loop;
    char *root; /* owned: realpath of the work dir */
    int64_t delay_ms;
    double headroom;
    int64_t check_interval_ms;
    int64_t prune_until; /* entries due at or before this are due now */
    struct entry **heap; /* owned array of owned entries */
    size_t n, cap;
    struct cr_map paths; /* path -> struct entry * */
    uint64_t next_seq;
    struct job *job; /* the removal in flight, or NULL */
    uv_timer_t due_timer, check_timer;
    int open_handles;
    bool is_freed;
    cr_gc_removed_fn on_removed;
    void *on_removed_ud;
    cr_gc_usage_fn usage_fn;
    void *usage_ud;
};

/* ------------------------------------------------------------------ paths */

/* Is path strictly below root (both normalized, absolute)? */
static bool strictly_under(const char *root, const char *path)
{
    size_t n = strlen(root);
    if (n == 1 && root[0] == '/')
        return path[1] != '\0';
    return strncmp(path, root, n) == 0 && path[n] == '/' && path[n + 1] != '\0';
}

/* ------------------------------------------------------------------ heap */

static bool before(const struct entry *a, const struct entry *b)
{
    return a->due_ms < b->due_ms || (a->due_ms == b->due_ms && a->seq < b->seq);
}

static void heap_set(struct cr_gc *gc, size_t i, struct entry *e)
{
    gc->heap[i] = e;
    e->idx = i;
}

static void sift_up(struct cr_gc *gc, size_t i)
{
    struct entry *e = gc->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(e, gc->heap[parent]))
            break;
        heap_set(gc, i, gc->heap[parent]);
        i = parent;
    }
    heap_set(gc, i, e);
}

static void sift_down(struct cr_gc *gc, size_t i)
{
    struct entry *e = gc->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= gc->n)
            break;
        if (c + 1 < gc->n && before(gc->heap[c + 1], gc->heap[c]))
            c++;
        if (!before(gc->heap[c], e))
            break;
        heap_set(gc, i, gc->heap[c]);
        i = c;
    }
    heap_set(gc, i, e);
}

static void heap_push(struct cr_gc *gc, struct entry *e)
{
    if (gc->n == gc->cap) {
        gc->cap = gc->cap ? gc->cap * 2 : 16;
        gc->heap = cr_xrealloc(gc->heap, gc->cap * sizeof(*gc->heap));
    }
    heap_set(gc, gc->n++, e);
    sift_up(gc, e->idx);
}

/* Take e out of the heap and the map; the caller owns it then. */
static void take(struct cr_gc *gc, struct entry *e)
{
    size_t i = e->idx;
    struct entry *last = gc->heap[--gc->n];
    if (i != gc->n) {
        heap_set(gc, i, last);
        sift_up(gc, i);
        sift_down(gc, last->idx);
    }
    cr_map_remove(&gc->paths, e->path);
}

static void entry_free(struct entry *e)
{
    if (e) {
        free(e->path);
        free(e);
    }
}

/* ------------------------------------------------------------------ removal */

static void maybe_release(struct cr_gc *gc)
{
    if (!gc->is_freed || gc->open_handles > 0 || gc->job)
        return;
    free(gc->root);
    free(gc);
}

/* On a worker thread: check the parent, then rm -rf. */
static void remove_work(uv_work_t *req)
{
    struct job *j = req->data;
    char *slash = strrchr(j->path, '/');
    char *parent = cr_xasprintf("%.*s", (int)(slash - j->path), j->path);
    char *real = realpath(parent, NULL);
    if (!real) {
        if (errno == ENOENT || errno == ENOTDIR)
            j->rc = 0; /* the parent is gone, so is the path */
        else
            j->rc = cr_err_sys(&j->err, -errno, "resolve '%s'", parent);
    } else if (strcmp(real, parent) != 0 ||
               (strcmp(real, j->root) != 0 && !strictly_under(j->root, real))) {
        j->rc =
            cr_err_set(&j->err, -EPERM, "'%s' leads outside the work dir (to '%s')", parent, real);
    } else {
        j->rc = cr_rm_rf(j->path, &j->err);
    }
    free(real);
    free(parent);
}

static void pump(struct cr_gc *gc);

static void remove_done(uv_work_t *req, int status)
{
    struct job *j = req->data;
    struct cr_gc *gc = j->gc;
    gc->job = NULL;
    if (status == UV_ECANCELED) {
        j->rc = -ECANCELED;
        cr_err_set(&j->err, -ECANCELED, "removal cancelled");
    }
    if (!gc->is_freed) {
        if (j->rc == 0)
            CR_INFO("sandbox removed path=%s", j->path);
        else
            CR_WARN("cannot remove a sandbox path=%s error=\"%s\"", j->path, j->err.msg);
        if (gc->on_removed)
            gc->on_removed(j->path, j->rc, j->rc == 0 ? "" : j->err.msg, gc->on_removed_ud);
    }
    free(j->path);
    free(j);
    if (gc->is_freed)
        maybe_release(gc);
    else
        pump(gc);
}

static void on_due(uv_timer_t *t)
{
    pump(t->data);
}

/* Start the next due removal, or arm the timer for the earliest entry. */
static void pump(struct cr_gc *gc)
{
    if (gc->is_freed || gc->job)
        return;
    if (gc->n == 0) {
        uv_timer_stop(&gc->due_timer);
        return;
    }
    struct entry *top = gc->heap[0];
    int64_t now = (int64_t)uv_now(gc->loop);
    if (top->due_ms > now && top->due_ms > gc->prune_until) {
        uv_timer_start(&gc->due_timer, on_due, (uint64_t)(top->due_ms - now), 0);
        return;
    }
    uv_timer_stop(&gc->due_timer);
    take(gc, top);
    struct job *j = cr_xcalloc(1, sizeof(*j));
    j->req.data = j;
    j->gc = gc;
    j->path = top->path; /* handed over */
    j->root = gc->root;
    free(top);
    int rc = uv_queue_work(gc->loop, &j->req, remove_work, remove_done);
    assert(rc == 0 && "uv_queue_work fails only without callbacks");
    (void)rc;
    gc->job = j;
}

/* ------------------------------------------------------------------ disk check */

static int statvfs_usage(const char *dir, double *usage, void *ud)
{
    struct statvfs st;
    if (statvfs(dir, &st) < 0)
        return -errno;
    if (st.f_blocks == 0) {
        *usage = 0;
        return 0;
    }
    *usage = (double)(st.f_blocks - st.f_bfree) / (double)st.f_blocks;
    return 0;
}

int64_t cr_gc_check_disk(struct cr_gc *gc)
{
    double usage = 0;
    int rc = gc->usage_fn ? gc->usage_fn(gc->root, &usage, gc->usage_ud)
                          : statvfs_usage(gc->root, &usage, NULL);
    if (rc < 0) {
        CR_WARN("cannot read the disk usage of the work dir dir=%s error=\"%s\"", gc->root,
                strerror(-rc));
        return rc;
    }
    double share = 1.0 - gc->headroom - usage;
    if (!(share > 0))
        share = 0;
    if (share > 1)
        share = 1;
    int64_t max_age = (int64_t)floor((double)gc->delay_ms * share);
    if (max_age >= gc->delay_ms) {
        gc->prune_until = INT64_MIN;
        return max_age;
    }
    int64_t now = (int64_t)uv_now(gc->loop);
    gc->prune_until = now + (gc->delay_ms - max_age);
    if (gc->n > 0 && gc->heap[0]->due_ms <= gc->prune_until)
        CR_INFO("disk filling up, removing sandboxes early usage=%.3f headroom=%.3f "
                "max_age_ms=%" PRId64,
                usage, gc->headroom, max_age);
    pump(gc);
    return max_age;
}

static void on_check(uv_timer_t *t)
{
    struct cr_gc *gc = t->data;
    uv_update_time(gc->loop);
    cr_gc_check_disk(gc);
}

/* ------------------------------------------------------------------ public */

int cr_gc_new(uv_loop_t *loop, int64_t gc_delay_ms, double headroom, const char *work_dir,
              struct cr_gc **out, struct cr_err *err)
{
    *out = NULL;
    if (gc_delay_ms < 0)
        return cr_err_set(err, -EINVAL, "gc delay %" PRId64 "ms is negative", gc_delay_ms);
    if (!(headroom >= 0 && headroom <= 1))
        return cr_err_set(err, -EINVAL, "gc disk headroom %g is not between 0 and 1", headroom);
    char *root = realpath(work_dir, NULL);
    if (!root)
        return cr_err_sys(err, -errno, "resolve work dir '%s'", work_dir);
    struct cr_gc *gc = cr_xcalloc(1, sizeof(*gc));
    gc->loop = loop;
    gc->root = root;
    gc->delay_ms = gc_delay_ms;
    gc->headroom = headroom;
    gc->check_interval_ms = CR_GC_CHECK_INTERVAL_MS;
    gc->prune_until = INT64_MIN;
    cr_map_init(&gc->paths);
    uv_timer_init(loop, &gc->due_timer);
    uv_timer_init(loop, &gc->check_timer);
    gc->due_timer.data = gc->check_timer.data = gc;
    gc->open_handles = 2;
    uv_timer_start(&gc->check_timer, on_check, (uint64_t)gc->check_interval_ms,
                   (uint64_t)gc->check_interval_ms);
    uv_unref((uv_handle_t *)&gc->check_timer);
    *out = gc;
    return 0;
}

int cr_gc_schedule(struct cr_gc *gc, const char *path, int64_t delay_ms, struct cr_err *err)
{
    if (!path || path[0] != '/')
        return cr_err_set(err, -EINVAL, "gc: '%s' is not an absolute path", path ? path : "");
    if (delay_ms < CR_GC_DEFAULT_DELAY)
        return cr_err_set(err, -EINVAL, "gc: delay %" PRId64 "ms for '%s' is negative", delay_ms,
                          path);
    char *norm = cr_path_normalize(path);
    if (!strictly_under(gc->root, norm)) {
        cr_err_set(err, -EPERM, "gc: '%s' is not under the work dir '%s'", path, gc->root);
        free(norm);
        return -EPERM;
    }
    if (delay_ms == CR_GC_DEFAULT_DELAY)
        delay_ms = gc->delay_ms;
    uv_update_time(gc->loop); /* the delay counts from now, not from the loop's last wake-up */
    int64_t now = (int64_t)uv_now(gc->loop);
    int64_t due = delay_ms > INT64_MAX - now ? INT64_MAX : now + delay_ms;
    struct entry *e = cr_map_get(&gc->paths, norm);
    if (e) {
        free(norm);
        e->due_ms = due;
        e->seq = gc->next_seq++;
        sift_up(gc, e->idx);
        sift_down(gc, e->idx);
    } else {
        e = cr_xcalloc(1, sizeof(*e));
        e->path = norm;
        e->due_ms = due;
        e->seq = gc->next_seq++;
        cr_map_put(&gc->paths, e->path, e);
        heap_push(gc, e);
    }
    CR_DEBUG("sandbox scheduled for removal path=%s delay_ms=%" PRId64, e->path, delay_ms);
    pump(gc);
    return 0;
}

int cr_gc_schedule_by_mtime(struct cr_gc *gc, const char *path, struct cr_err *err)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return cr_err_sys(err, -errno, "gc: stat '%s'", path);
    double mtime = (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec / 1e9;
    double age_ms = (cr_wall_seconds() - mtime) * 1000.0;
    int64_t delay = gc->delay_ms;
    if (age_ms >= (double)delay)
        delay = 0;
    else if (age_ms > 0)
        delay -= (int64_t)age_ms;
    return cr_gc_schedule(gc, path, delay, err);
}

bool cr_gc_unschedule(struct cr_gc *gc, const char *path)
{
    if (!path)
        return false;
    char *norm = cr_path_normalize(path);
    struct entry *e = cr_map_get(&gc->paths, norm);
    free(norm);
    if (!e)
        return false;
    take(gc, e);
    entry_free(e);
    pump(gc);
    return true;
}

bool cr_gc_is_scheduled(const struct cr_gc *gc, const char *path)
{
    char *norm = cr_path_normalize(path);
    bool found = cr_map_get(&gc->paths, norm) != NULL;
    free(norm);
    return found;
}

size_t cr_gc_count(const struct cr_gc *gc)
{
    return gc->n + (gc->job ? 1 : 0);
}

void cr_gc_set_on_removed(struct cr_gc *gc, cr_gc_removed_fn fn, void *ud)
{
    gc->on_removed = fn;
    gc->on_removed_ud = ud;
}

void cr_gc_set_check_interval(struct cr_gc *gc, int64_t interval_ms)
{
    if (interval_ms <= 0)
        return;
    gc->check_interval_ms = interval_ms;
    uv_timer_start(&gc->check_timer, on_check, (uint64_t)interval_ms, (uint64_t)interval_ms);
}

void cr_gc_set_usage_fn(struct cr_gc *gc, cr_gc_usage_fn fn, void *ud)
{
    gc->usage_fn = fn;
    gc->usage_ud = ud;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct cr_gc *gc = h->data;
    gc->open_handles--;
    maybe_release(gc);
}

void cr_gc_free(struct cr_gc *gc)
{
    if (!gc || gc->is_freed)
        return;
    gc->is_freed = true;
    for (size_t i = 0; i < gc->n; i++)
        entry_free(gc->heap[i]);
    free(gc->heap);
    gc->heap = NULL;
    gc->n = gc->cap = 0;
    cr_map_release(&gc->paths);
    if (gc->job)
        uv_cancel((uv_req_t *)&gc->job->req); /* fails harmlessly once running */
    uv_close((uv_handle_t *)&gc->due_timer, on_timer_closed);
    uv_close((uv_handle_t *)&gc->check_timer, on_timer_closed);
}
