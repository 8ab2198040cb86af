/*
 * gc.h - garbage collection of sandboxes (Mesos' GarbageCollector and disk check).
 *
 * The agent keeps a finished task's sandbox (its logs) for --gc-delay, then removes it.
 * Each scheduled path has a due time; one timer fires for the earliest. A disk check
 * (statvfs of the work dir, every CR_GC_CHECK_INTERVAL_MS) shortens the wait when the
 * disk fills, as Mesos does: a sandbox may live at most
 *
 *     max_age = gc_delay * max(0, 1 - headroom - disk_usage)
 *
 * so every path scheduled at least max_age ago (due within gc_delay - max_age) is
 * removed now, oldest first; at max_age 0 that is every path scheduled with the default
 * delay. disk_usage is (blocks - free blocks) / blocks.
 *
 * Removal is rm -rf on libuv's threadpool, one path at a time, so a huge sandbox never
 * stalls the loop. Safety: a path must be absolute and strictly under the work dir
 * (checked lexically when scheduled); just before removal its parent directory must
 * resolve (realpath) to itself, under the work dir, so a symlink in the way cannot lead
 * the removal elsewhere; inside the path symlinks are removed, never followed.
 *
 * Everything runs on the loop thread. Used by the agent (agent.c, tasks.c).
 */
#ifndef CR_AGENT_GC_H
#define CR_AGENT_GC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/err.h"

#define CR_GC_CHECK_INTERVAL_MS 60000 /* the periodic disk check */
#define CR_GC_DEFAULT_DELAY (-1)      /* for cr_gc_schedule: the gc's own --gc-delay */

struct cr_gc;

/*
 * Called after each removal attempt with the path, 0 or a negative errno, and an error
 * message ("" on success). Borrowed arguments, valid during the call.
 */
typedef void (*cr_gc_removed_fn)(const char *path, int rc, const char *error, void *ud);

/*
 * Test hook replacing statvfs: set *usage (0..1) for dir and return 0, or a negative
 * errno (the check is then skipped).
 */
typedef int (*cr_gc_usage_fn)(const char *dir, double *usage, void *ud);

/*
 * Create a collector on loop. gc_delay_ms (>= 0) is the default delay, headroom (0..1)
 * the share of the disk to keep free (--gc-disk-headroom), work_dir an existing
 * directory: paths must lie under it (its realpath is used) and its file system is the
 * one checked. The disk check starts at once (first check after one interval) and does
 * not keep the loop alive by itself; a scheduled removal does. On success *out is owned
 * (cr_gc_free). Returns 0 or a negative errno with err.
 */
int cr_gc_new(uv_loop_t *loop, int64_t gc_delay_ms, double headroom, const char *work_dir,
              struct cr_gc **out, struct cr_err *err);

/*
 * Remove path (recursively) in delay_ms (0: as soon as possible; CR_GC_DEFAULT_DELAY:
 * the gc delay). A path already scheduled is rescheduled. path is copied. Returns 0, or
 * -EINVAL (not absolute, or delay_ms below -1) / -EPERM (not strictly under the work dir)
 * with err.
 */
int cr_gc_schedule(struct cr_gc *gc, const char *path, int64_t delay_ms, struct cr_err *err);

/*
 * For recovery: schedule path with the gc delay counted from its last modification
 * (lstat mtime), as if it had been scheduled when it last changed; overdue paths are
 * due now. Returns 0, -ENOENT if path does not exist, or what cr_gc_schedule returns.
 */
int cr_gc_schedule_by_mtime(struct cr_gc *gc, const char *path, struct cr_err *err);

/*
 * Keep path after all (a task reuses it). Returns true if it was scheduled and is not
 * being removed right now; false otherwise (then it may be gone soon or already).
 */
bool cr_gc_unschedule(struct cr_gc *gc, const char *path);

/* Whether path is waiting for removal (not counting one being removed now). */
bool cr_gc_is_scheduled(const struct cr_gc *gc, const char *path);

/* Paths waiting, plus the one being removed now if any. */
size_t cr_gc_count(const struct cr_gc *gc);

/* Call fn after each removal (NULL: no callback). */
void cr_gc_set_on_removed(struct cr_gc *gc, cr_gc_removed_fn fn, void *ud);

/* Check the disk every interval_ms (> 0) from now on instead of every minute. */
void cr_gc_set_check_interval(struct cr_gc *gc, int64_t interval_ms);

/* Replace statvfs in the disk check (tests). fn NULL restores statvfs. */
void cr_gc_set_usage_fn(struct cr_gc *gc, cr_gc_usage_fn fn, void *ud);

/*
 * Check the disk now and start pruning if it is too full. Returns the max age (ms) the
 * check settled on (gc_delay when the disk has room), or a negative errno if usage could
 * not be read (nothing changes then).
 */
int64_t cr_gc_check_disk(struct cr_gc *gc);

/*
 * Stop: nothing more is removed (paths waiting stay on disk: a restarted agent
 * schedules them again by mtime); a removal in progress finishes on its thread. Memory
 * is released once the timers have closed and that removal has returned: run the loop
 * afterwards. No callback is made after this. Accepts NULL.
 */
void cr_gc_free(struct cr_gc *gc);

#endif
