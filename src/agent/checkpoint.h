/*
 * checkpoint.h - the agent's durable storage: atomic checkpoint files and a group-committed,
 * crash-safe journal of JSON records (DESIGN.md §5, issue 3 "agent recovery").
 *
 * This module knows nothing of what the records mean (the agent decides that); it only
 * promises that what it said was durable survives `kill -9` and power loss, and that a
 * crash mid-write never makes it invent or half-deliver a record.
 *
 * (Small single-value checkpoints, such as meta/agent_id, use cr_write_file_atomic() and
 * cr_read_file() from base/util.h: temp file, fsync, rename, fsync of the directory.)
 *
 * The journal. An append-only file of records, each one JSON value framed as
 *
 *     <len> <crc>\n<json>\n
 *
 * where <len> is the decimal byte length of <json> (1 to 7 digits, no leading zero, at
 * most CR_JOURNAL_RECORD_MAX), <crc> is the CRC-32C (Castagnoli) of the <json> bytes as 8
 * lowercase hex digits, and <json> is the record serialized compactly by jansson (it holds
 * no raw newline, so `cat` shows one header line and one JSON line per record). Example:
 *
 *     7 cff7d56a\n{"a":1}\n
 *
 * Appends are buffered in memory and written by cr_journal_sync() with one pwrite run and
 * one fdatasync (group commit): a caller appends everything one loop turn produced, then
 * syncs once (cr_journal_sync_deferred() does that from the loop). Only after the sync
 * returns 0 are the records durable. The file only ever holds whole records on a clean
 * path: a failed write (ENOSPC, EIO) or fdatasync is cut back to the last whole record and
 * the records stay buffered for the next sync.
 *
 * Recovery. cr_journal_open() replays every intact record in order. A record cut short by
 * a crash (a torn tail) and anything after the first damaged record (checksum mismatch,
 * bad header, invalid JSON) are cut off: the file is truncated at the end of the last good
 * record, fsynced, and one warning names the offset and how many bytes were dropped. That
 * never fails the open: losing an unsynced tail is what a crash means, and a journal that
 * refused to open would keep the agent down. A zero-filled tail (left by some filesystems
 * after a crash) counts as torn.
 *
 * Compaction. The journal grows until the caller replaces it with the live state
 * (cr_journal_compact()): a new file with just those records is written, fsynced and
 * renamed over the old one, so a crash leaves either the old journal or the new.
 *
 * One process owns a journal at a time: open takes an exclusive flock(2) on the file and
 * fails with -EBUSY if another process (or another open in this one) holds it. Open also
 * removes "<path>.tmp.*" files left by a compaction that crashed.
 *
 * Everything here runs on the caller's thread and blocks on the disk (fdatasync can take
 * milliseconds); the journal is not thread-safe.
 */
#ifndef CR_AGENT_CHECKPOINT_H
#define CR_AGENT_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "base/err.h"

/* The largest serialized record (the <json> part) the journal accepts: 4 MiB. */
#define CR_JOURNAL_RECORD_MAX (4u * 1024 * 1024)

struct cr_journal;

/*
 * Called once per intact record during cr_journal_open(), in file order. record is
 * borrowed for the call (json_incref it to keep it). Return 0 to go on, or a negative errno
 * (with err filled) to abort the open.
 */
typedef int (*cr_journal_replay_fn)(void *ud, const json_t *record, struct cr_err *err);

/*
 * Open the journal at path, creating it (mode 0644; the directory must exist) if missing,
 * and replay every intact record through fn (which may be NULL to only check and repair).
 * A torn or damaged tail is truncated as described above, with a warning. On success *out
 * is owned by the caller (cr_journal_free()). Returns 0, or a negative errno with err
 * filled and *out NULL: -EBUSY if another owner holds the journal, the replay function's
 * code (the file is then left untouched), or an I/O error.
 */
int cr_journal_open(const char *path, cr_journal_replay_fn fn, void *ud, struct cr_journal **out,
                    struct cr_err *err);

/*
 * Buffer one record (serialized compactly at once, so record may change or be freed right
 * after; borrowed). No I/O. Returns 0, -EMSGSIZE if the serialized record is over
 * CR_JOURNAL_RECORD_MAX, or -EINVAL if jansson cannot serialize it (a NaN, say); a rejected
 * record is not buffered and an error is logged. Callers that can only produce small
 * records may ignore the result.
 */
int cr_journal_append(struct cr_journal *j, const json_t *record);

/*
 * Write the buffered records and fdatasync once. Returns 0 (the records are durable and
 * no longer buffered; nothing buffered is a no-op without I/O), or a negative errno with
 * err filled (-ENOSPC, -EIO, ...): the records stay buffered, the file has been cut back to
 * the last whole record, and a later sync retries them.
 */
int cr_journal_sync(struct cr_journal *j, struct cr_err *err);

/* True while records are buffered and not yet durable. */
bool cr_journal_dirty(const struct cr_journal *j);

/* Bytes of whole, synced records in the file (to decide when to compact). */
uint64_t cr_journal_size(const struct cr_journal *j);

/* Records in the file: replayed at open or since the last compaction, plus synced since. */
uint64_t cr_journal_records(const struct cr_journal *j);

/* Bytes the open cut off as torn or damaged (0 after a clean shutdown). */
uint64_t cr_journal_dropped_bytes(const struct cr_journal *j);

/* How many times the journal called fdatasync since open (for metrics and tests). */
uint64_t cr_journal_sync_count(const struct cr_journal *j);

/*
 * Replace the whole journal with records[0..n) (the live state, borrowed): write
 * "<path>.tmp.<pid>", fsync, rename over path, fsync the directory, then continue
 * appending to the new file. The buffered records are dropped (the caller's snapshot
 * includes them). Returns 0, or a negative errno with err filled (-EMSGSIZE/-EINVAL for a
 * record append would reject): then the old journal and the buffered records are kept
 * as they were and the temp file is removed.
 */
int cr_journal_compact(struct cr_journal *j, json_t *const *records, size_t n, struct cr_err *err);

/* Called after a deferred sync with its result (0 or a negative errno), on the loop. */
typedef void (*cr_journal_done_fn)(void *ud, int rc);

/*
 * Group commit per loop turn: schedule one cr_journal_sync() at the end of the current
 * iteration of loop (a uv_check handle, which runs after the loop's I/O callbacks; a
 * uv_idle handle keeps the loop from blocking meanwhile). Calls made before it runs
 * coalesce into that one sync, and then every done(ud, rc) (done may be NULL) is called
 * in call order with its result, from the loop, never from this call. A failed deferred
 * sync is also logged (the callback only sees the code). A done callback may append,
 * schedule again (that runs in a later iteration) or free the journal. The first call
 * ties the journal to loop; a different loop later is -EINVAL. Returns 0 or -EINVAL.
 */
int cr_journal_sync_deferred(struct cr_journal *j, uv_loop_t *loop, cr_journal_done_fn done,
                             void *ud);

/*
 * Close the journal without syncing (buffered records are lost, as in a crash). Accepts
 * NULL. If cr_journal_sync_deferred() was ever called, its libuv handles close
 * asynchronously: the memory is released, and still-pending done callbacks are called with
 * -ECANCELED, from their close callbacks, so the loop must run afterwards (uv_run, or
 * cr_loop_close_all() at shutdown). The journal must not be used after this call.
 */
void cr_journal_free(struct cr_journal *j);

#endif
