/*
 * state.h - the master's durable registry: named tables mapping key strings to value
 * blobs, kept in memory and made durable through a raft log (libraft, libuv backend).
 *
 * The registry is generic: it knows tables ("agents", "frameworks", "apps", ...), keys
 * (NUL-free strings) and values (bytes; the master stores JSON it produced itself). It
 * knows nothing about Mesos types. Tables spring into existence on their first put.
 *
 * Durable before acknowledged (DESIGN.md §2): a write's callback fires only after the raft
 * entry carrying it is committed (on one voter: written with O_DSYNC to the local log) AND
 * applied to the in-memory tables, so a read in the callback already sees it. Writes
 * submitted in the same loop iteration, or while earlier entries are still being
 * written, are coalesced into one log entry (group commit), so thousands of writes per
 * second cost few fsyncs.
 *
 * Reads are synchronous and served from memory. Values are borrowed: valid until control
 * returns to the event loop (writes are only ever applied from loop callbacks).
 *
 * Threading: everything here runs on the thread that runs the loop given to
 * cr_state_open(); nothing is thread-safe. Callbacks are never invoked from inside the call
 * that registered them; they run from the loop (this module's libuv check/prepare handles,
 * or the end of cr_state_close), never while libraft is mid-operation, so a callback may
 * call any function here, including cr_state_close().
 *
 * Lifecycle: cr_state_open() loads the snapshot and the log (bootstrapping a configuration
 * on the first start of an empty directory) and starts raft; on_ready fires once this node
 * is the leader and every entry in the log has been applied; the master serves only after
 * that. cr_state_close() is asynchronous, like uv_close().
 *
 * Error codes handed to write callbacks (negative errno values):
 *   -EREMOTE       this node is not the leader; cr_state_leader() tells who is (redirect)
 *   -EAGAIN        this node was elected but has not finished replaying the log yet
 *   -ECONNABORTED  leadership was lost while the write was in flight: outcome unknown
 *   -ECANCELED     cr_state_close() was called: outcome unknown
 *   -EIO, -ENOSPC  the log could not be written (message names the directory)
 *   -EBADMSG       the registry halted on an entry it cannot apply (corrupt or newer format)
 *   -EINVAL        bad table name or key; -EMSGSIZE value or write too large
 * For the "outcome unknown" codes the write may still be committed (it was maybe written
 * to the log); only status 0 is a promise.
 */
#ifndef CR_STATE_STATE_H
#define CR_STATE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "base/err.h"

/* Limits, checked on every write (-EINVAL / -EMSGSIZE). */
#define CR_STATE_TABLE_MAX 64                 /* table name bytes: [A-Za-z0-9_.-]+ */
#define CR_STATE_KEY_MAX 4096                 /* key bytes, no NUL */
#define CR_STATE_WRITE_MAX (4u * 1024 * 1024) /* encoded size of one write (all its ops) */

/* Defaults used when a config field is 0 / NULL. */
#define CR_STATE_DEFAULT_ADDRESS "127.0.0.1:5070"
#define CR_STATE_DEFAULT_ELECTION_TIMEOUT_MS 1000
#define CR_STATE_DEFAULT_HEARTBEAT_TIMEOUT_MS 100
#define CR_STATE_DEFAULT_SNAPSHOT_THRESHOLD 1024
#define CR_STATE_DEFAULT_SNAPSHOT_TRAILING 128

struct cr_state;

/*
 * Completion of a write, and on_ready. status is 0 or a negative errno (see above); msg is
 * "" on success, otherwise a human-readable reason (borrowed, valid during the call).
 */
typedef void (*cr_state_cb)(struct cr_state *st, int status, const char *msg, void *ud);

/* Called whenever cr_state_is_leader() changes value. */
typedef void (*cr_state_leader_cb)(struct cr_state *st, bool is_leader, void *ud);

/* Called once the state is fully closed; st has been freed by then. */
typedef void (*cr_state_close_cb)(void *ud);

/* One voter of the raft cluster. */
struct cr_state_peer {
    uint64_t id;         /* > 0, unique */
    const char *address; /* "ip:port" (IPv4), borrowed */
};

struct cr_state_config {
    /* Raft data directory (log segments, metadata, snapshots); created (mode 0700) if
     * missing. Required. Borrowed. */
    const char *dir;
    /* This node's raft id; 0 means 1. */
    uint64_t id;
    /* This node's raft address "ip:port"; the transport listens on it even with one voter,
     * so tests must pass a free port. NULL means CR_STATE_DEFAULT_ADDRESS. Borrowed.
     * Bootstrapping records it in the log: a single voter may later restart on another
     * port, but with several voters it must not change (that needs a membership change). */
    const char *address;
    /* Optional address to listen on instead of `address` ("0.0.0.0:5070"); its port must
     * equal address's. NULL listens on `address`. Borrowed. */
    const char *bind_address;
    /* All voters including this node, the same list in the same order on every node.
     * NULL/0 means a single voter: {id, address}. Only used to bootstrap an empty dir. */
    const struct cr_state_peer *peers;
    size_t n_peers;
    /* Raft timing; 0 means the defaults above. heartbeat must be < election. */
    unsigned election_timeout_ms;
    unsigned heartbeat_timeout_ms;
    /* Take a snapshot every `snapshot_threshold` applied entries, keeping
     * `snapshot_trailing` entries in the log behind it; 0 means the defaults above. */
    unsigned snapshot_threshold;
    unsigned snapshot_trailing;
    /* Fired exactly once: status 0 when this node first becomes the leader with the whole
     * log applied (cr_state_is_leader() is then true), or a negative errno if the registry
     * cannot get there (log unreadable, entry in a newer format, disk error). Not fired if
     * cr_state_close() comes first. May be NULL. */
    cr_state_cb on_ready;
    /* Fired on every change of cr_state_is_leader(), including the first gain (right after
     * on_ready). On loss the master must stop serving and redirect. Not fired once
     * cr_state_close() has been called. May be NULL. */
    cr_state_leader_cb on_leadership_change;
    /* Passed to on_ready and on_leadership_change. */
    void *ud;
};

/* One operation of an atomic multi-operation write (cr_state_write). */
enum cr_state_op_kind {
    CR_STATE_PUT = 1,    /* set table[key] = value (creating or replacing) */
    CR_STATE_DELETE = 2, /* remove table[key]; deleting a missing key succeeds */
};

struct cr_state_op {
    enum cr_state_op_kind kind;
    const char *table; /* borrowed for the duration of the call */
    const char *key;   /* borrowed for the duration of the call */
    const void *value; /* PUT only; borrowed for the duration of the call (NULL if len 0) */
    size_t len;        /* PUT only */
};

/* Counters for tests and metrics. */
struct cr_state_stats {
    uint64_t last_index;         /* last raft index in the local log */
    uint64_t last_applied;       /* last raft index applied to the tables */
    uint64_t entries_submitted;  /* log entries this node proposed as leader */
    uint64_t writes_submitted;   /* writes accepted into proposed entries */
    uint64_t ops_applied;        /* put/delete operations applied (all nodes) */
    uint64_t snapshots_taken;    /* snapshots serialized since open */
    uint64_t snapshots_restored; /* snapshots loaded since open (start or install) */
    uint64_t writes_pending;     /* writes accepted whose callback has not fired yet */
};

/*
 * Open the registry in cfg->dir on `loop` and start raft. On first start of an empty dir a
 * configuration with cfg->peers (or this node alone) is bootstrapped; otherwise the
 * snapshot and the log are loaded (entries are applied once leadership is established).
 *
 * loop: borrowed, must outlive the state. cfg: borrowed for the call (strings are copied).
 * On success *out is the new state (owned: release with cr_state_close()) and returns 0.
 * On failure returns a negative errno and fills err with a message naming the directory,
 * e.g. "open state dir '/var/lib/corral': start raft: listen on raft address
 * 127.0.0.1:5070: Address already in use". With a single voter the whole log is replayed
 * inside this call, so an entry that cannot be applied fails it (-EBADMSG). Resources already
 * handed to the loop are then released by the loop itself: keep running the loop until
 * uv_run() returns before uv_loop_close().
 */
int cr_state_open(uv_loop_t *loop, const struct cr_state_config *cfg, struct cr_state **out,
                  struct cr_err *err);

/*
 * Close asynchronously: stop raft, close the log and the transport, fail every write whose
 * callback has not fired with -ECANCELED, free everything, then call cb(ud) (cb may be
 * NULL). After the call no write may be submitted and no other callback fires except those
 * cancellations. Calling it twice is a programmer error. Safe to call from any callback of
 * this module. st may be NULL (cb is then not called).
 */
void cr_state_close(struct cr_state *st, cr_state_close_cb cb, void *ud);

/*
 * Put table[key] = value (len bytes, copied; value may be NULL when len is 0). cb(st, status,
 * msg, ud) fires exactly once, never from inside this call, after the write is committed
 * and applied (status 0) or with a negative errno (see the top of this file). Successful
 * writes complete in submission order; a write refused at once (bad name, not leader) may
 * complete before earlier ones. cb may be NULL. Must be called on the loop thread.
 */
void cr_state_put(struct cr_state *st, const char *table, const char *key, const void *value,
                  size_t len, cr_state_cb cb, void *ud);

/* Delete table[key]. Same contract as cr_state_put(). */
void cr_state_delete(struct cr_state *st, const char *table, const char *key, cr_state_cb cb,
                     void *ud);

/*
 * Apply n operations atomically (all or none, in order, as one log entry). ops and their
 * strings and values are copied before the call returns. n == 0 is a valid no-op write
 * that completes once everything submitted before it is durable. Same callback contract
 * as cr_state_put().
 */
void cr_state_write(struct cr_state *st, const struct cr_state_op *ops, size_t n, cr_state_cb cb,
                    void *ud);

/*
 * Look up table[key]. Returns the value (borrowed; valid until control returns to the loop)
 * and sets *len (if len is not NULL), or returns NULL if absent. The value is followed by
 * a NUL byte not counted in *len, so JSON text can be used as a C string.
 */
const void *cr_state_get(const struct cr_state *st, const char *table, const char *key,
                         size_t *len);

/* Number of keys in table (0 for an unknown table). */
size_t cr_state_count(const struct cr_state *st, const char *table);

/*
 * Visit every key of table in ascending byte order of the keys (strcmp order), calling
 * fn(key, value, len, ud); value is NUL-terminated as for cr_state_get(). fn returns 0 to
 * continue or non-zero to stop. Returns the non-zero value that stopped the walk, else 0.
 * fn may submit writes: they are applied later, never during the walk.
 */
typedef int (*cr_state_iter_fn)(const char *key, const void *value, size_t len, void *ud);
int cr_state_foreach(const struct cr_state *st, const char *table, cr_state_iter_fn fn, void *ud);

/* True when this node is the raft leader AND has applied the whole log: writes accepted. */
bool cr_state_is_leader(const struct cr_state *st);

/*
 * The current leader as known by this node: returns its raft address (borrowed; valid until
 * control returns to the loop) and sets *id (if id is not NULL), or returns NULL and sets
 * *id to 0 when no leader is known (election in progress). On the leader returns its own
 * address. The master turns it into a 307 redirect.
 */
const char *cr_state_leader(const struct cr_state *st, uint64_t *id);

/* Fill *out with the current counters. */
void cr_state_get_stats(const struct cr_state *st, struct cr_state_stats *out);

#endif
