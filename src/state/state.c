/*
 * state.c - the master's registry as a raft state machine: lifecycle, the write path with
 * group commit, leadership tracking, and the FSM callbacks libraft drives.
 *
 * Write path. A write is validated and encoded at once into the "building" batch, which
 * becomes one raft log entry. Batches are proposed (raft_apply, one buffer) from a uv_check
 * callback, i.e. after the poll phase of the loop iteration in which the writes arrived, and
 * at most MAX_INFLIGHT entries are in flight: while they are being written, new writes
 * accumulate in the building batch, so under load each fsync carries many writes (group
 * commit). A batch is sealed early when it passes BATCH_TARGET_BYTES. One buffer per entry
 * (rather than one raft entry per write) matters: libraft fires a raft_apply callback when
 * the *first* entry of a multi-buffer request is applied, before the others are.
 *
 * Callbacks. Nothing user-supplied runs while libraft is mid-operation: raft callbacks only
 * record outcomes and queue batches on `done`; the check callback fires the user callbacks
 * (and, at close, finish_teardown fires the last ones once libraft has shut down). So a
 * user callback may submit writes or close the state, and libraft is never re-entered from
 * inside itself. A uv_idle handle is active exactly while there is queued work, which keeps
 * the loop from blocking in poll before the check callback has run.
 *
 * Leadership. libraft 0.15 has no state-change callback, so raft_state()/raft_leader() are
 * polled from uv_prepare and uv_check callbacks (every loop iteration, before and after
 * poll; raft changes state only in timer and I/O callbacks). On becoming raft leader a
 * barrier is proposed; when it is applied, every earlier entry is applied too, and only then
 * is the node "serving" (cr_state_is_leader). The generation counter `gen` ties a barrier to
 * the leadership term it was proposed in.
 *
 * Durability (libraft 0.15, libuv backend): log segments are preallocated, opened with
 * O_DSYNC (plus O_DIRECT where the file system allows) and the directory is fsynced before a
 * segment is used; on a single voter the commit index only moves past an entry once its
 * write has completed, and raft_apply's callback fires after our fsm_apply of that entry.
 * So an acknowledged write is on disk. Entry buffers must be multiples of 8 bytes
 * (state_codec.c pads them). With one voter, raft_start self-elects and applies the whole
 * log synchronously, so replay errors surface from cr_state_open.
 *
 * Invariants: a batch is on at most one of building / sealed / done, and independently on
 * the in-flight list while libraft holds its request (`in_raft`); it is freed once its user
 * callbacks have fired and libraft has released it. Every accepted write's callback fires
 * exactly once. The store is only mutated by fsm_apply and fsm_restore.
 */
#include "state/state.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <raft.h>
#include <raft/uv.h>

#include "base/log.h"
#include "state/state_internal.h"

/* Entries being written/replicated at once; more writes wait and coalesce. */
#define MAX_INFLIGHT 2
/*
 * Seal a batch once it reaches this size (a single write may make it larger). libraft keeps
 * every entry since the last snapshot in memory (threshold + trailing entries, 1152 by
 * default), so this also bounds that cache: ~290 MiB if every entry were full.
 */
#define BATCH_TARGET_BYTES (256 * 1024)

struct write_cb {
    cr_state_cb cb;
    void *ud;
};

/* The writes that go into one log entry, and their callbacks. */
struct batch {
    struct cr_state *st;
    struct batch *next;          /* building / sealed / done queue */
    struct batch *iprev, *inext; /* in-flight list */
    struct raft_apply req;
    struct cr_state__enc enc; /* encoded entry; handed to raft on submit */
    struct write_cb *cbs;     /* owned array, in submission order */
    size_t n_cbs, cap_cbs;
    uint32_t n_ops;
    int status; /* outcome, once completed */
    char msg[CR_ERR_MSG_MAX];
    bool in_raft;   /* libraft holds req: free only after apply_cb */
    bool completed; /* outcome decided and queued on done */
    bool fired;     /* user callbacks fired */
};

struct queue {
    struct batch *head, *tail;
};

struct barrier_req {
    struct raft_barrier req;
    struct cr_state *st;
    uint64_t gen;
};

struct cr_state {
    uv_loop_t *loop;
    char *dir;
    char *address;
    uint64_t id;
    cr_state_cb on_ready;
    cr_state_leader_cb on_leadership_change;
    void *ud;

    struct raft raft;
    struct raft_io io;
    struct raft_uv_transport transport;
    struct raft_fsm fsm;
    bool transport_inited, io_inited, raft_inited;

    uv_prepare_t prepare;
    uv_check_t check;
    uv_idle_t idle;
    int handles_open;
    bool handles_closing;

    struct cr_state__store store;

    struct batch *building;
    struct queue sealed, done;
    struct batch *inflight_head, *inflight_tail;
    size_t n_inflight;

    /* Leadership, as of the last poll. */
    bool raft_leader;       /* raft_state() == RAFT_LEADER */
    uint64_t gen;           /* bumped on every raft leadership gain or loss */
    uint64_t caught_up_gen; /* gen whose barrier has been applied */
    bool serving;           /* what cr_state_is_leader() says */
    bool ready_fired;
    int fatal_status; /* reported through on_ready if not ready yet */
    char fatal_msg[CR_ERR_MSG_MAX];
    uint64_t leader_id;
    char leader_addr[256];

    /* Set when an entry cannot be applied: the FSM stops there. */
    bool halted;
    char halt_reason[CR_ERR_MSG_MAX]; /* "cannot apply log entry N: why" */
    char halt_msg[CR_ERR_MSG_MAX];    /* the same, prefixed with the directory */
    /* Why fsm_restore failed (reported by cr_state_open). */
    char restore_err[CR_ERR_MSG_MAX];

    bool closing;
    cr_state_close_cb close_cb;
    void *close_ud;

    struct cr_state_stats stats;
};

static void kick(struct cr_state *st);

/* ---- batches --------------------------------------------------------------------------- */

static struct batch *batch_new(struct cr_state *st)
{
    struct batch *b = cr_state__xmalloc(sizeof(*b));
    memset(b, 0, sizeof(*b));
    b->st = st;
    return b;
}

static void batch_free(struct batch *b)
{
    cr_state__enc_release(&b->enc);
    free(b->cbs);
    free(b);
}

static void batch_add_cb(struct batch *b, cr_state_cb cb, void *ud)
{
    if (b->n_cbs == b->cap_cbs) {
        b->cap_cbs = b->cap_cbs ? 2 * b->cap_cbs : 8;
        b->cbs = cr_state__xrealloc(b->cbs, b->cap_cbs * sizeof(*b->cbs));
    }
    b->cbs[b->n_cbs++] = (struct write_cb){.cb = cb, .ud = ud};
    b->st->stats.writes_pending++;
}

static void queue_push(struct queue *q, struct batch *b)
{
    b->next = NULL;
    if (q->tail)
        q->tail->next = b;
    else
        q->head = b;
    q->tail = b;
}

static struct batch *queue_pop(struct queue *q)
{
    struct batch *b = q->head;
    if (b) {
        q->head = b->next;
        if (!q->head)
            q->tail = NULL;
        b->next = NULL;
    }
    return b;
}

static void inflight_push(struct cr_state *st, struct batch *b)
{
    b->inext = NULL;
    b->iprev = st->inflight_tail;
    if (st->inflight_tail)
        st->inflight_tail->inext = b;
    else
        st->inflight_head = b;
    st->inflight_tail = b;
    st->n_inflight++;
}

static void inflight_remove(struct cr_state *st, struct batch *b)
{
    if (b->iprev)
        b->iprev->inext = b->inext;
    else
        st->inflight_head = b->inext;
    if (b->inext)
        b->inext->iprev = b->iprev;
    else
        st->inflight_tail = b->iprev;
    b->iprev = b->inext = NULL;
    st->n_inflight--;
}

/* Decide the outcome of b and queue its callbacks; they fire from the check callback. */
static void complete(struct cr_state *st, struct batch *b, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void complete(struct cr_state *st, struct batch *b, int status, const char *fmt, ...)
{
    assert(!b->completed);
    b->completed = true;
    b->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->msg, sizeof(b->msg), fmt, ap);
    va_end(ap);
    queue_push(&st->done, b);
    kick(st);
}

/* Fire the callbacks of every completed batch, in completion order. */
static void dispatch_done(struct cr_state *st)
{
    struct batch *b;
    while ((b = queue_pop(&st->done))) {
        for (size_t i = 0; i < b->n_cbs; i++) {
            st->stats.writes_pending--;
            if (b->cbs[i].cb)
                b->cbs[i].cb(st, b->status, b->msg, b->cbs[i].ud);
        }
        b->fired = true;
        if (!b->in_raft)
            batch_free(b);
    }
}

/* ---- errors ---------------------------------------------------------------------------- */

/* A libraft error code as a negative errno. */
static int raft_to_errno(int rv)
{
    switch (rv) {
    case 0:
        return 0;
    case RAFT_NOMEM:
        return -ENOMEM;
    case RAFT_NOTLEADER:
        return -EREMOTE;
    case RAFT_LEADERSHIPLOST:
        return -ECONNABORTED;
    case RAFT_SHUTDOWN:
    case RAFT_CANCELED:
        return -ECANCELED;
    case RAFT_NOSPACE:
        return -ENOSPC;
    case RAFT_TOOBIG:
        return -EMSGSIZE;
    case RAFT_MALFORMED:
    case RAFT_CORRUPT:
        return -EBADMSG;
    case RAFT_NOTFOUND:
        return -ENOENT;
    case RAFT_UNAUTHORIZED:
        return -EACCES;
    case RAFT_INVALID:
    case RAFT_BADID:
    case RAFT_DUPLICATEID:
    case RAFT_DUPLICATEADDRESS:
    case RAFT_BADROLE:
        return -EINVAL;
    case RAFT_NAMETOOLONG:
        return -ENAMETOOLONG;
    case RAFT_BUSY:
        return -EBUSY;
    default:
        return -EIO;
    }
}

/*
 * Describe a libraft failure: the errno text, then libraft's most specific message if it
 * left one ("No space left on device (io: short write: 65536 bytes instead of 69632)").
 * Callers clear the errmsg buffers before synchronous calls, so a message is not stale.
 */
static const char *describe_raft_error(struct cr_state *st, int rv, char *buf, size_t size)
{
    const char *detail = "";
    if (st->raft_inited && raft_errmsg(&st->raft)[0])
        detail = raft_errmsg(&st->raft);
    else if (st->io_inited && st->io.errmsg[0])
        detail = st->io.errmsg;
    else if (st->transport_inited && st->transport.errmsg[0])
        detail = st->transport.errmsg;
    if (detail[0])
        snprintf(buf, size, "%s (%.200s)", strerror(-raft_to_errno(rv)), detail);
    else
        snprintf(buf, size, "%s", strerror(-raft_to_errno(rv)));
    return buf;
}

static void clear_raft_errmsg(struct cr_state *st)
{
    if (st->raft_inited)
        st->raft.errmsg[0] = '\0';
    if (st->io_inited)
        st->io.errmsg[0] = '\0';
    if (st->transport_inited)
        st->transport.errmsg[0] = '\0';
}

/* Outcome of a failed proposal, as status + message, into b. */
static void complete_raft_error(struct cr_state *st, struct batch *b, int rv)
{
    if (st->closing && (rv == RAFT_LEADERSHIPLOST || rv == RAFT_SHUTDOWN || rv == RAFT_CANCELED)) {
        complete(st, b, -ECANCELED, "state closing (outcome unknown)");
    } else if (rv == RAFT_LEADERSHIPLOST) {
        complete(st, b, -ECONNABORTED, "leadership lost (outcome unknown)");
    } else if (rv == RAFT_NOTLEADER) {
        complete(st, b, -EREMOTE, "not the leader");
    } else {
        char why[CR_ERR_MSG_MAX];
        complete(st, b, raft_to_errno(rv), "append to raft log in '%s': %.180s", st->dir,
                 describe_raft_error(st, rv, why, sizeof(why)));
    }
}

/* ---- the FSM (called by libraft, on the loop thread, inside raft callbacks) ------------ */

/* Stop applying: the entry at index cannot be applied. Fails every pending write. */
static void halt(struct cr_state *st, unsigned long long index, const struct cr_err *why)
{
    st->halted = true;
    snprintf(st->halt_reason, sizeof(st->halt_reason), "cannot apply log entry %llu: %s", index,
             cr_err_msg(why));
    snprintf(st->halt_msg, sizeof(st->halt_msg), "state dir '%s': %.200s", st->dir,
             st->halt_reason);
    CR_ERROR("state machine halted dir=%s index=%llu reason=\"%s\"", st->dir, index,
             cr_err_msg(why));
    if (!st->ready_fired && !st->fatal_status) {
        st->fatal_status = -EBADMSG;
        snprintf(st->fatal_msg, sizeof(st->fatal_msg), "%s", st->halt_msg);
    }
    for (struct batch *b = st->inflight_head; b; b = b->inext) {
        if (!b->completed)
            complete(st, b, -EBADMSG, "%s", st->halt_msg);
    }
    if (st->building) {
        complete(st, st->building, -EBADMSG, "%s", st->halt_msg);
        st->building = NULL;
    }
    struct batch *b;
    while ((b = queue_pop(&st->sealed)))
        complete(st, b, -EBADMSG, "%s", st->halt_msg);
}

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
    struct cr_state *st = fsm->data;
    *result = NULL;
    /* libraft retries the same entry after a failure; stay stopped without re-logging. */
    if (st->halted)
        return RAFT_MALFORMED;

    struct cr_err err;
    cr_err_clear(&err);
    uint32_t n_ops;
    if (cr_state__entry_check(buf->base, buf->len, &n_ops, &err) < 0) {
        /* libraft advances last_applied after each successful apply: this is the next. */
        halt(st, raft_last_applied(&st->raft) + 1, &err);
        return RAFT_MALFORMED;
    }
    size_t off = CR_STATE__ENTRY_HEADER;
    for (uint32_t i = 0; i < n_ops; i++) {
        struct cr_state__op_view op;
        cr_state__entry_op(buf->base, &off, &op);
        if (op.kind == CR_STATE_PUT)
            cr_state__store_put(&st->store, op.table, op.key, op.value, op.len);
        else
            cr_state__store_delete(&st->store, op.table, op.key);
    }
    st->stats.ops_applied += n_ops;
    return 0;
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    struct cr_state *st = fsm->data;
    struct raft_buffer *b = raft_malloc(sizeof(*b));
    if (!b)
        return RAFT_NOMEM;
    cr_state__snapshot_encode(&st->store, &b->base, &b->len);
    *bufs = b;
    *n_bufs = 1;
    st->stats.snapshots_taken++;
    CR_DEBUG("state snapshot taken dir=%s applied=%llu bytes=%zu", st->dir,
             (unsigned long long)raft_last_applied(&st->raft), b->len);
    return 0;
}

/* On success the FSM owns buf->base (libraft's contract); on failure libraft frees it. */
static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    struct cr_state *st = fsm->data;
    struct cr_state__store fresh;
    struct cr_err err;
    cr_err_clear(&err);
    cr_state__store_init(&fresh);
    if (cr_state__snapshot_decode(buf->base, buf->len, &fresh, &err) < 0) {
        cr_state__store_release(&fresh);
        snprintf(st->restore_err, sizeof(st->restore_err), "restore snapshot: %s",
                 cr_err_msg(&err));
        CR_ERROR("state snapshot rejected dir=%s reason=\"%s\"", st->dir, cr_err_msg(&err));
        return RAFT_MALFORMED;
    }
    cr_state__store_swap(&st->store, &fresh);
    cr_state__store_release(&fresh);
    raft_free(buf->base);
    st->stats.snapshots_restored++;
    CR_DEBUG("state snapshot restored dir=%s bytes=%zu", st->dir, buf->len);
    return 0;
}

/* ---- proposing entries ---------------------------------------------------------------- */

static void apply_cb(struct raft_apply *req, int status, void *result)
{
    (void)result;
    struct batch *b = req->data;
    struct cr_state *st = b->st;
    b->in_raft = false;
    inflight_remove(st, b);
    if (b->fired) {
        /* Failed early (halt); only libraft's reference was left. */
        batch_free(b);
    } else if (!b->completed) {
        if (status == 0)
            complete(st, b, 0, "%s", "");
        else
            complete_raft_error(st, b, status);
    }
    kick(st);
}

static void submit(struct cr_state *st, struct batch *b)
{
    if (st->halted) {
        complete(st, b, -EBADMSG, "%s", st->halt_msg);
        return;
    }
    if (!st->serving) {
        complete(st, b, -EREMOTE, "not the leader");
        return;
    }
    cr_state__entry_finish(&b->enc, b->n_ops);
    struct raft_buffer buf = {.base = b->enc.data, .len = b->enc.len};
    b->req.data = b;
    clear_raft_errmsg(st);
    int rv = raft_apply(&st->raft, &b->req, &buf, 1, apply_cb);
    if (rv != 0) {
        complete_raft_error(st, b, rv);
        return;
    }
    /* libraft owns the buffer now. */
    b->enc.data = NULL;
    b->enc.len = b->enc.cap = 0;
    b->in_raft = true;
    inflight_push(st, b);
    st->stats.entries_submitted++;
    st->stats.writes_submitted += b->n_cbs;
}

/* Propose sealed batches, then the building one, while there is room in flight. */
static void flush(struct cr_state *st)
{
    while (!st->closing && st->n_inflight < MAX_INFLIGHT) {
        struct batch *b = queue_pop(&st->sealed);
        if (!b) {
            b = st->building;
            if (!b)
                break;
            st->building = NULL;
        }
        submit(st, b);
    }
}

/* ---- leadership ------------------------------------------------------------------------ */

static bool benign_raft_failure(int rv)
{
    return rv == RAFT_LEADERSHIPLOST || rv == RAFT_NOTLEADER || rv == RAFT_SHUTDOWN ||
           rv == RAFT_CANCELED;
}

static void barrier_failed(struct cr_state *st, int rv)
{
    if (benign_raft_failure(rv)) {
        CR_DEBUG("state barrier abandoned dir=%s reason=\"%s\"", st->dir, raft_strerror(rv));
        return;
    }
    char why[CR_ERR_MSG_MAX];
    describe_raft_error(st, rv, why, sizeof(why));
    CR_ERROR("state log replay failed dir=%s reason=\"%s\"", st->dir, why);
    if (!st->ready_fired && !st->fatal_status) {
        st->fatal_status = raft_to_errno(rv);
        snprintf(st->fatal_msg, sizeof(st->fatal_msg), "state dir '%s': replay log: %.180s",
                 st->dir, why);
    }
    kick(st);
}

static void barrier_cb(struct raft_barrier *req, int status)
{
    struct barrier_req *br = req->data;
    struct cr_state *st = br->st;
    uint64_t gen = br->gen;
    free(br);
    if (st->closing)
        return;
    if (status != 0) {
        if (gen == st->gen)
            barrier_failed(st, status);
        return;
    }
    if (gen == st->gen)
        st->caught_up_gen = gen;
    kick(st);
}

static void start_barrier(struct cr_state *st)
{
    struct barrier_req *br = cr_state__xmalloc(sizeof(*br));
    memset(br, 0, sizeof(*br));
    br->st = st;
    br->gen = st->gen;
    br->req.data = br;
    clear_raft_errmsg(st);
    int rv = raft_barrier(&st->raft, &br->req, barrier_cb);
    if (rv != 0) {
        free(br);
        barrier_failed(st, rv);
    }
}

/* Track raft's role and leader; fire on_ready / on_leadership_change on changes. */
static void poll_leadership(struct cr_state *st)
{
    if (st->closing)
        return;

    raft_id id = 0;
    const char *addr = NULL;
    raft_leader(&st->raft, &id, &addr);
    st->leader_id = id;
    snprintf(st->leader_addr, sizeof(st->leader_addr), "%s", id && addr ? addr : "");

    bool raft_leader_now = raft_state(&st->raft) == RAFT_LEADER;
    if (raft_leader_now != st->raft_leader) {
        st->raft_leader = raft_leader_now;
        st->gen++;
        CR_INFO("raft %s dir=%s id=%llu term=%llu", raft_leader_now ? "leader" : "follower",
                st->dir, (unsigned long long)st->id, (unsigned long long)st->raft.current_term);
        if (raft_leader_now)
            start_barrier(st);
    }

    bool serving = st->raft_leader && st->caught_up_gen == st->gen && !st->halted;
    if (serving != st->serving) {
        st->serving = serving;
        CR_INFO("state %s dir=%s applied=%llu", serving ? "serving as leader" : "not leader",
                st->dir, (unsigned long long)raft_last_applied(&st->raft));
        if (serving && !st->ready_fired) {
            st->ready_fired = true;
            if (st->on_ready)
                st->on_ready(st, 0, "", st->ud);
            if (st->closing)
                return;
        }
        if (st->on_leadership_change) {
            st->on_leadership_change(st, serving, st->ud);
            if (st->closing)
                return;
        }
    }

    if (!st->ready_fired && st->fatal_status) {
        st->ready_fired = true;
        if (st->on_ready)
            st->on_ready(st, st->fatal_status, st->fatal_msg, st->ud);
    }
}

/* ---- loop handles ---------------------------------------------------------------------- */

static bool has_queued_work(const struct cr_state *st)
{
    if (st->done.head)
        return true;
    if (st->closing || st->n_inflight >= MAX_INFLIGHT)
        return false;
    return st->sealed.head || st->building;
}

/* Keep the loop from blocking in poll while there is queued work. */
static void on_idle(uv_idle_t *h)
{
    (void)h; /* only here so that poll does not block; the check callback does the work */
}

static void kick(struct cr_state *st)
{
    if (!st->handles_closing)
        uv_idle_start(&st->idle, on_idle);
}

static void on_prepare(uv_prepare_t *h)
{
    struct cr_state *st = h->data;
    poll_leadership(st);
}

static void on_check(uv_check_t *h)
{
    struct cr_state *st = h->data;
    poll_leadership(st);
    dispatch_done(st);
    flush(st);
    dispatch_done(st);
    if (!st->handles_closing && !has_queued_work(st))
        uv_idle_stop(&st->idle);
}

/* ---- open / close ---------------------------------------------------------------------- */

static void free_state(struct cr_state *st)
{
    cr_state_close_cb cb = st->close_cb;
    void *ud = st->close_ud;
    assert(!st->building && !st->sealed.head && !st->done.head && !st->inflight_head);
    cr_state__store_release(&st->store);
    free(st->dir);
    free(st->address);
    free(st);
    if (cb)
        cb(ud);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct cr_state *st = h->data;
    if (--st->handles_open == 0)
        free_state(st);
}

/* Raft and its I/O are gone: fire what is left, then close our handles. */
static void finish_teardown(struct cr_state *st)
{
    if (st->io_inited) {
        raft_uv_close(&st->io);
        st->io_inited = false;
    }
    if (st->transport_inited) {
        raft_uv_tcp_close(&st->transport);
        st->transport_inited = false;
    }
    dispatch_done(st);
    st->handles_closing = true;
    uv_close((uv_handle_t *)&st->prepare, on_handle_closed);
    uv_close((uv_handle_t *)&st->check, on_handle_closed);
    uv_close((uv_handle_t *)&st->idle, on_handle_closed);
}

static void raft_closed_cb(struct raft *r)
{
    struct cr_state *st = r->data;
    st->raft_inited = false;
    finish_teardown(st);
}

/* Cancel unsubmitted writes, close raft (which fails in-flight ones), then the rest. */
static void teardown(struct cr_state *st)
{
    st->closing = true;
    if (st->building) {
        complete(st, st->building, -ECANCELED, "state closing");
        st->building = NULL;
    }
    struct batch *b;
    while ((b = queue_pop(&st->sealed)))
        complete(st, b, -ECANCELED, "state closing");
    if (st->raft_inited)
        raft_close(&st->raft, raft_closed_cb);
    else
        finish_teardown(st);
}

void cr_state_close(struct cr_state *st, cr_state_close_cb cb, void *ud)
{
    if (!st)
        return;
    assert(!st->closing && "cr_state_close called twice");
    CR_INFO("state closing dir=%s pending=%llu", st->dir,
            (unsigned long long)st->stats.writes_pending);
    st->close_cb = cb;
    st->close_ud = ud;
    teardown(st);
}

/* mkdir -p path (mode 0700 for what it creates), then check it is a writable directory. */
static int prepare_dir(const char *dir, struct cr_err *err)
{
    char *path = cr_state__xstrdup(dir);
    int rc = 0;
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            rc = cr_err_sys(err, -errno, "create '%s'", path);
            free(path);
            return rc;
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
    free(path);

    struct stat sb;
    if (stat(dir, &sb) != 0)
        return cr_err_sys(err, -errno, "stat");
    if (!S_ISDIR(sb.st_mode))
        return cr_err_set(err, -ENOTDIR, "not a directory");
    if (access(dir, W_OK | X_OK) != 0)
        return cr_err_sys(err, -errno, "not writable");
    return 0;
}

static int check_config(const struct cr_state_config *cfg, uint64_t id, const char **address,
                        struct cr_err *err)
{
    if (!cfg->dir || !cfg->dir[0])
        return cr_err_set(err, -EINVAL, "open state: no directory given");
    unsigned election =
        cfg->election_timeout_ms ? cfg->election_timeout_ms : CR_STATE_DEFAULT_ELECTION_TIMEOUT_MS;
    unsigned heartbeat = cfg->heartbeat_timeout_ms ? cfg->heartbeat_timeout_ms
                                                   : CR_STATE_DEFAULT_HEARTBEAT_TIMEOUT_MS;
    if (heartbeat >= election)
        return cr_err_set(err, -EINVAL,
                          "open state: heartbeat timeout %u ms must be below "
                          "election timeout %u ms",
                          heartbeat, election);
    const char *self = NULL;
    for (size_t i = 0; i < cfg->n_peers; i++) {
        const struct cr_state_peer *p = &cfg->peers[i];
        if (p->id == 0 || !p->address || !p->address[0])
            return cr_err_set(err, -EINVAL, "open state: peer %zu: id and address required", i);
        for (size_t j = 0; j < i; j++) {
            if (cfg->peers[j].id == p->id || strcmp(cfg->peers[j].address, p->address) == 0)
                return cr_err_set(err, -EINVAL, "open state: peer %zu duplicates peer %zu", i, j);
        }
        if (p->id == id)
            self = p->address;
    }
    if (cfg->n_peers && !self)
        return cr_err_set(err, -EINVAL, "open state: own id %llu is not among the peers",
                          (unsigned long long)id);
    if (self && cfg->address && strcmp(self, cfg->address) != 0)
        return cr_err_set(err, -EINVAL,
                          "open state: own address '%s' differs from peer "
                          "entry '%s'",
                          cfg->address, self);
    *address = cfg->address ? cfg->address : self ? self : CR_STATE_DEFAULT_ADDRESS;
    return 0;
}

/*
 * libraft reports a failed listen() as a bare I/O error; find out whether the raft address
 * is taken, to say so. Returns true and fills buf when it cannot be bound.
 */
static bool listen_error(const char *address, char *buf, size_t size)
{
    char host[64];
    const char *colon = strrchr(address, ':');
    if (!colon || (size_t)(colon - address) >= sizeof(host))
        return false;
    memcpy(host, address, (size_t)(colon - address));
    host[colon - address] = '\0';
    struct sockaddr_in sa;
    if (uv_ip4_addr(host, atoi(colon + 1), &sa) != 0)
        return false;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    bool taken = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0;
    if (taken)
        snprintf(buf, size, "listen on raft address %s: %s", address, strerror(errno));
    close(fd);
    return taken;
}

static int bootstrap(struct cr_state *st, const struct cr_state_config *cfg)
{
    struct raft_configuration conf;
    raft_configuration_init(&conf);
    int rv = 0;
    if (cfg->n_peers == 0) {
        rv = raft_configuration_add(&conf, st->id, st->address, RAFT_VOTER);
    } else {
        for (size_t i = 0; i < cfg->n_peers && rv == 0; i++)
            rv = raft_configuration_add(&conf, cfg->peers[i].id, cfg->peers[i].address, RAFT_VOTER);
    }
    if (rv == 0) {
        rv = raft_bootstrap(&st->raft, &conf);
        if (rv == 0)
            CR_INFO("state bootstrapped dir=%s voters=%u", st->dir, conf.n);
        else if (rv == RAFT_CANTBOOTSTRAP)
            rv = 0; /* not the first start: the configuration is in the log */
    }
    raft_configuration_close(&conf);
    return rv;
}

int cr_state_open(uv_loop_t *loop, const struct cr_state_config *cfg, struct cr_state **out,
                  struct cr_err *err)
{
    uint64_t id = cfg->id ? cfg->id : 1;
    const char *address = NULL;
    int rc = check_config(cfg, id, &address, err);
    if (rc < 0)
        return rc;
    rc = prepare_dir(cfg->dir, err);
    if (rc < 0)
        return cr_err_wrap(err, "open state dir '%s'", cfg->dir);

    struct cr_state *st = cr_state__xmalloc(sizeof(*st));
    memset(st, 0, sizeof(*st));
    st->loop = loop;
    st->dir = cr_state__xstrdup(cfg->dir);
    st->address = cr_state__xstrdup(address);
    st->id = id;
    st->on_ready = cfg->on_ready;
    st->on_leadership_change = cfg->on_leadership_change;
    st->ud = cfg->ud;
    cr_state__store_init(&st->store);

    uv_prepare_init(loop, &st->prepare);
    uv_check_init(loop, &st->check);
    uv_idle_init(loop, &st->idle);
    st->prepare.data = st->check.data = st->idle.data = st;
    st->handles_open = 3;
    uv_prepare_start(&st->prepare, on_prepare);
    uv_check_start(&st->check, on_check);
    /* Raft's own handles keep the loop alive; ours must not outlive it on their own. */
    uv_unref((uv_handle_t *)&st->prepare);
    uv_unref((uv_handle_t *)&st->check);
    uv_unref((uv_handle_t *)&st->idle);

    const char *step;
    char why[CR_ERR_MSG_MAX];
    int rv = raft_uv_tcp_init(&st->transport, loop);
    step = "init raft transport";
    if (rv != 0)
        goto fail;
    st->transport_inited = true;
    if (cfg->bind_address) {
        step = "set raft bind address";
        rv = raft_uv_tcp_set_bind_address(&st->transport, cfg->bind_address);
        if (rv != 0)
            goto fail;
    }
    step = "init raft log";
    rv = raft_uv_init(&st->io, loop, st->dir, &st->transport);
    if (rv != 0)
        goto fail;
    st->io_inited = true;
    /* Uncompressed snapshots: our format carries its own checksum, so corruption is reported
     * by fsm_restore with a clear message; libraft 0.15 leaks on its LZ4 error path. */
    raft_uv_set_snapshot_compression(&st->io, false);

    st->fsm.version = 1;
    st->fsm.data = st;
    st->fsm.apply = fsm_apply;
    st->fsm.snapshot = fsm_snapshot;
    st->fsm.restore = fsm_restore;

    step = "init raft";
    rv = raft_init(&st->raft, &st->io, &st->fsm, st->id, st->address);
    if (rv != 0)
        goto fail;
    st->raft_inited = true;
    st->raft.data = st;
    raft_set_election_timeout(&st->raft, cfg->election_timeout_ms
                                             ? cfg->election_timeout_ms
                                             : CR_STATE_DEFAULT_ELECTION_TIMEOUT_MS);
    raft_set_heartbeat_timeout(&st->raft, cfg->heartbeat_timeout_ms
                                              ? cfg->heartbeat_timeout_ms
                                              : CR_STATE_DEFAULT_HEARTBEAT_TIMEOUT_MS);
    raft_set_snapshot_threshold(&st->raft, cfg->snapshot_threshold
                                               ? cfg->snapshot_threshold
                                               : CR_STATE_DEFAULT_SNAPSHOT_THRESHOLD);
    raft_set_snapshot_trailing(&st->raft, cfg->snapshot_trailing
                                              ? cfg->snapshot_trailing
                                              : CR_STATE_DEFAULT_SNAPSHOT_TRAILING);
    /* Pre-vote keeps a partitioned voter from forcing elections when it rejoins. */
    raft_set_pre_vote(&st->raft, true);

    step = "bootstrap raft configuration";
    rv = bootstrap(st, cfg);
    if (rv != 0)
        goto fail;
    step = "start raft";
    clear_raft_errmsg(st);
    rv = raft_start(&st->raft);
    if (rv != 0)
        goto fail;

    CR_INFO("state opened dir=%s id=%llu address=%s voters=%zu", st->dir,
            (unsigned long long)st->id, st->address, cfg->n_peers ? cfg->n_peers : 1);
    *out = st;
    return 0;

fail:
    if (st->halted)
        rc = cr_err_set(err, -EBADMSG, "open state dir '%s': %s: %s", st->dir, step,
                        st->halt_reason);
    else if (st->restore_err[0])
        rc = cr_err_set(err, -EBADMSG, "open state dir '%s': %s: %s", st->dir, step,
                        st->restore_err);
    else if (rv == RAFT_IOERR &&
             listen_error(cfg->bind_address ? cfg->bind_address : st->address, why, sizeof(why)))
        rc = cr_err_set(err, -EADDRINUSE, "open state dir '%s': %s: %s", st->dir, step, why);
    else
        rc = cr_err_set(err, raft_to_errno(rv), "open state dir '%s': %s: %s", st->dir, step,
                        describe_raft_error(st, rv, why, sizeof(why)));
    CR_ERROR("state open failed dir=%s reason=\"%s\"", st->dir, cr_err_msg(err));
    teardown(st);
    return rc;
}

/* ---- writes ---------------------------------------------------------------------------- */

/* Queue an immediate failure; the callback still fires from the loop, never from here. */
static void reject(struct cr_state *st, cr_state_cb cb, void *ud, int status, const char *msg)
{
    struct batch *b = batch_new(st);
    batch_add_cb(b, cb, ud);
    complete(st, b, status, "%s", msg);
}

void cr_state_write(struct cr_state *st, const struct cr_state_op *ops, size_t n, cr_state_cb cb,
                    void *ud)
{
    assert(st && (ops || n == 0));
    if (st->closing) {
        reject(st, cb, ud, -ECANCELED, "state closing");
        return;
    }
    if (st->halted) {
        reject(st, cb, ud, -EBADMSG, st->halt_msg);
        return;
    }
    if (!st->serving) {
        char msg[CR_ERR_MSG_MAX];
        if (st->raft_leader)
            snprintf(msg, sizeof(msg), "not ready: replaying the log");
        else if (st->leader_id)
            snprintf(msg, sizeof(msg), "not the leader (leader is %.200s)", st->leader_addr);
        else
            snprintf(msg, sizeof(msg), "not the leader (no leader elected)");
        reject(st, cb, ud, st->raft_leader ? -EAGAIN : -EREMOTE, msg);
        return;
    }
    struct cr_err err;
    cr_err_clear(&err);
    size_t size;
    if (cr_state__ops_size(ops, n, &size, &err) < 0) {
        reject(st, cb, ud, err.code, err.msg);
        return;
    }

    struct batch *b = st->building;
    if (b && b->enc.len + size > BATCH_TARGET_BYTES) {
        queue_push(&st->sealed, b);
        b = NULL;
    }
    if (!b) {
        b = st->building = batch_new(st);
        cr_state__entry_begin(&b->enc);
    }
    cr_state__entry_add(&b->enc, ops, n);
    b->n_ops += (uint32_t)n;
    batch_add_cb(b, cb, ud);
    kick(st);
}

void cr_state_put(struct cr_state *st, const char *table, const char *key, const void *value,
                  size_t len, cr_state_cb cb, void *ud)
{
    struct cr_state_op op = {
        .kind = CR_STATE_PUT, .table = table, .key = key, .value = value, .len = len};
    cr_state_write(st, &op, 1, cb, ud);
}

void cr_state_delete(struct cr_state *st, const char *table, const char *key, cr_state_cb cb,
                     void *ud)
{
    struct cr_state_op op = {.kind = CR_STATE_DELETE, .table = table, .key = key};
    cr_state_write(st, &op, 1, cb, ud);
}

/* ---- reads ----------------------------------------------------------------------------- */

const void *cr_state_get(const struct cr_state *st, const char *table, const char *key, size_t *len)
{
    const struct cr_state__rec *rec =
        table && key ? cr_state__store_get(&st->store, table, key) : NULL;
    if (len)
        *len = rec ? rec->len : 0;
    return rec ? rec->value : NULL;
}

size_t cr_state_count(const struct cr_state *st, const char *table)
{
    const struct cr_state__table *t = table ? cr_state__store_table(&st->store, table) : NULL;
    return t ? t->count : 0;
}

struct foreach_ctx {
    cr_state_iter_fn fn;
    void *ud;
};

static int foreach_rec(const struct cr_state__rec *rec, void *ud)
{
    struct foreach_ctx *c = ud;
    return c->fn(rec->key, rec->value, rec->len, c->ud);
}

int cr_state_foreach(const struct cr_state *st, const char *table, cr_state_iter_fn fn, void *ud)
{
    struct foreach_ctx c = {.fn = fn, .ud = ud};
    const struct cr_state__table *t = table ? cr_state__store_table(&st->store, table) : NULL;
    return t ? cr_state__table_foreach(t, foreach_rec, &c) : 0;
}

bool cr_state_is_leader(const struct cr_state *st)
{
    return st->serving && !st->closing;
}

const char *cr_state_leader(const struct cr_state *st, uint64_t *id)
{
    if (id)
        *id = st->leader_id;
    return st->leader_id ? st->leader_addr : NULL;
}

void cr_state_get_stats(const struct cr_state *st, struct cr_state_stats *out)
{
    *out = st->stats;
    /* raft_last_index/applied only read; libraft's getters are not const-qualified. */
    struct raft *r = (struct raft *)&st->raft;
    out->last_index = st->raft_inited ? raft_last_index(r) : 0;
    out->last_applied = st->raft_inited ? raft_last_applied(r) : 0;
}
