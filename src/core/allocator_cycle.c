/*
 * allocator_cycle.c - decline filters and the allocation cycle.
 *
 * Filters (Mesos semantics): a framework that gives resources back with refuse_ms > 0
 * is not offered that agent again, in that role, while what the agent has available to
 * the role is contained in the declined resources, until the filter expires. Filters are
 * found by (agent, client) in a hash chain; each caches its verdict for the agent's free
 * content version, so an agent whose free resources are what they were when the verdict
 * was taken (typically: offered, declined, back) costs one lookup per filtered framework. A
 * min-heap by expiry drops them at the start of a cycle and gives cr_alloc_next_event_ms().
 *
 * The cycle, for each active agent in id order:
 *   roles are taken in the order they have when the agent's turn starts (weighted
 *   dominant share, then name); each role gets what is free and usable by it (unreserved
 *   plus its own reservations) if that is at least the minimum allocatable, and offers
 *   all of it to its first framework (by dominant share, then id) that is active,
 *   subscribed, not suppressed and not filtered. The whole unreserved part goes with the
 *   first offer, so after it only roles holding reservations on the agent can receive
 *   anything: the walk jumps to them instead of visiting every role.
 */
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "core/allocator_int.h"

/* ---- the expiry heap ---- */

static bool heap_less(const struct cr_alloc *a, uint32_t x, uint32_t y)
{
    const struct filter *fx = FILTER(a, x), *fy = FILTER(a, y);
    if (fx->expires_ms != fy->expires_ms)
        return fx->expires_ms < fy->expires_ms;
    return x < y;
}

static void heap_set(struct cr_alloc *a, uint32_t pos, uint32_t fi)
{
    a->heap[pos] = fi;
    FILTER(a, fi)->heap_idx = pos;
}

static void heap_up(struct cr_alloc *a, uint32_t pos)
{
    uint32_t fi = a->heap[pos];
    while (pos > 0) {
        uint32_t parent = (pos - 1) / 2;
        if (!heap_less(a, fi, a->heap[parent]))
            break;
        heap_set(a, pos, a->heap[parent]);
        pos = parent;
    }
    heap_set(a, pos, fi);
}

static void heap_down(struct cr_alloc *a, uint32_t pos)
{
    uint32_t fi = a->heap[pos];
    for (;;) {
        uint32_t child = 2 * pos + 1;
        if (child >= a->nheap)
            break;
        if (child + 1 < a->nheap && heap_less(a, a->heap[child + 1], a->heap[child]))
            child++;
        if (!heap_less(a, a->heap[child], fi))
            break;
        heap_set(a, pos, a->heap[child]);
        pos = child;
    }
    heap_set(a, pos, fi);
}

static void heap_push(struct cr_alloc *a, uint32_t fi)
{
    if (a->nheap == a->heap_cap) {
        a->heap_cap = a->heap_cap ? a->heap_cap * 2 : 64;
        a->heap = cr_xrealloc(a->heap, (size_t)a->heap_cap * sizeof(*a->heap));
    }
    a->heap[a->nheap] = fi;
    FILTER(a, fi)->heap_idx = a->nheap;
    a->nheap++;
    heap_up(a, a->nheap - 1);
}

static void heap_remove(struct cr_alloc *a, uint32_t fi)
{
    uint32_t pos = FILTER(a, fi)->heap_idx;
    CR_ALLOC_CHECK(pos < a->nheap && a->heap[pos] == fi);
    a->nheap--;
    if (pos == a->nheap)
        return;
    uint32_t moved = a->heap[a->nheap];
    heap_set(a, pos, moved);
    heap_up(a, pos);
    heap_down(a, FILTER(a, moved)->heap_idx);
}

/* ---- filters ---- */

static uint64_t filter_key(uint32_t agi, uint32_t ci)
{
    return (uint64_t)agi << 32 | ci;
}

void cr_alloc__filter_del(struct cr_alloc *a, uint32_t fi)
{
    struct filter *f = FILTER(a, fi);
    uint64_t key = filter_key(f->agent, f->client);
    uint32_t head = NIL;
    CR_ALLOC_CHECK(cr_u64map_get(&a->filter_ix, key, &head));
    if (head == fi) {
        if (f->key_next == NIL)
            cr_u64map_del(&a->filter_ix, key);
        else
            cr_u64map_put(&a->filter_ix, key, f->key_next);
    } else {
        uint32_t prev = head;
        while (FILTER(a, prev)->key_next != fi)
            prev = FILTER(a, prev)->key_next;
        FILTER(a, prev)->key_next = f->key_next;
    }
    struct agent *ag = AGENT(a, f->agent);
    if (f->a_prev != NIL)
        FILTER(a, f->a_prev)->a_next = f->a_next;
    else
        ag->filters = f->a_next;
    if (f->a_next != NIL)
        FILTER(a, f->a_next)->a_prev = f->a_prev;
    ag->nfilters--;
    struct framework *fw = FRAMEWORK(a, CLIENT(a, f->client)->fw);
    if (f->f_prev != NIL)
        FILTER(a, f->f_prev)->f_next = f->f_next;
    else
        fw->filters = f->f_next;
    if (f->f_next != NIL)
        FILTER(a, f->f_next)->f_prev = f->f_prev;
    heap_remove(a, fi);
    struct fres *fr = FRES(a, FILTER(a, fi)->fres);
    if (--fr->refs == 0) {
        cr_resources_release(&fr->res);
        cr_alloc__pool_put(&a->fress, FILTER(a, fi)->fres);
    }
    cr_alloc__pool_put(&a->filters, fi);
}

void cr_alloc__filter_add(struct cr_alloc *a, uint32_t agi, uint32_t ci,
                          const struct cr_resources *res, int64_t expires_ms)
{
    uint64_t key = filter_key(agi, ci);
    /* A new filter makes older ones it covers for no longer redundant: drop them. */
    uint32_t head;
    while (cr_u64map_get(&a->filter_ix, key, &head)) {
        uint32_t victim = NIL;
        for (uint32_t f = head; f != NIL; f = FILTER(a, f)->key_next) {
            if (FILTER(a, f)->expires_ms <= expires_ms &&
                cr_resources_contains(res, FILTER_RES(a, f))) {
                victim = f;
                break;
            }
        }
        if (victim == NIL)
            break;
        cr_alloc__filter_del(a, victim);
    }
    /* Share the bag of the agent's latest filter when it is the same. */
    uint32_t latest = AGENT(a, agi)->filters, bag;
    if (latest != NIL && cr_resources_equal(FILTER_RES(a, latest), res)) {
        bag = FILTER(a, latest)->fres;
    } else {
        bag = cr_alloc__pool_take(&a->fress);
        cr_resources_init(&FRES(a, bag)->res);
        CR_ALLOC_CHECK(cr_resources_copy(&FRES(a, bag)->res, res) == 0);
    }
    FRES(a, bag)->refs++;
    uint32_t fi = cr_alloc__pool_take(&a->filters);
    struct filter *f = FILTER(a, fi);
    f->agent = agi;
    f->client = ci;
    f->fres = bag;
    f->expires_ms = expires_ms;
    f->checked_version = UINT64_MAX;
    f->key_next = cr_u64map_get(&a->filter_ix, key, &head) ? head : NIL;
    cr_u64map_put(&a->filter_ix, key, fi);

    struct agent *ag = AGENT(a, agi);
    cr_alloc__snapshot_free(ag);
    f->a_prev = NIL;
    f->a_next = ag->filters;
    if (ag->filters != NIL)
        FILTER(a, ag->filters)->a_prev = fi;
    ag->filters = fi;
    ag->nfilters++;

    struct framework *fw = FRAMEWORK(a, CLIENT(a, ci)->fw);
    f->f_prev = NIL;
    f->f_next = fw->filters;
    if (fw->filters != NIL)
        FILTER(a, fw->filters)->f_prev = fi;
    fw->filters = fi;
    heap_push(a, fi);
}

void cr_alloc__filters_clear_agent(struct cr_alloc *a, uint32_t agi)
{
    while (AGENT(a, agi)->filters != NIL)
        cr_alloc__filter_del(a, AGENT(a, agi)->filters);
}

void cr_alloc__filters_clear_framework(struct cr_alloc *a, uint32_t fwi)
{
    while (FRAMEWORK(a, fwi)->filters != NIL)
        cr_alloc__filter_del(a, FRAMEWORK(a, fwi)->filters);
}

void cr_alloc__filters_clear_client(struct cr_alloc *a, uint32_t ci)
{
    uint32_t f = FRAMEWORK(a, CLIENT(a, ci)->fw)->filters;
    while (f != NIL) {
        uint32_t next = FILTER(a, f)->f_next;
        if (FILTER(a, f)->client == ci)
            cr_alloc__filter_del(a, f);
        f = next;
    }
}

static void filters_expire(struct cr_alloc *a, int64_t now_ms)
{
    while (a->nheap && FILTER(a, a->heap[0])->expires_ms <= now_ms)
        cr_alloc__filter_del(a, a->heap[0]);
}

/* Is client ci filtered on agent agi, given what the agent has available to its role? */
static bool is_filtered(struct cr_alloc *a, uint32_t agi, uint32_t ci,
                        const struct cr_resources *avail)
{
    struct agent *ag = AGENT(a, agi);
    uint32_t fi;
    if (ag->nfilters == 0 || !cr_u64map_get(&a->filter_ix, filter_key(agi, ci), &fi))
        return false;
    for (; fi != NIL; fi = FILTER(a, fi)->key_next) {
        struct filter *f = FILTER(a, fi);
        if (f->checked_version != ag->version) {
            f->blocks = cr_resources_contains(FILTER_RES(a, fi), avail);
            f->checked_version = ag->version;
        }
        if (f->blocks)
            return true;
    }
    return false;
}

/* ---- the cycle ---- */

static bool allocatable(const struct cr_alloc *a, const struct cr_resources *avail)
{
    if (avail->n == 0)
        return false;
    int64_t cpus = 0, mem = 0;
    for (size_t i = 0; i < avail->n; i++) {
        const struct cr_resource *e = &avail->v[i];
        if (e->type != CR_RES_SCALAR)
            continue;
        if (!strcmp(e->name, "cpus"))
            cpus += e->scalar;
        else if (!strcmp(e->name, "mem"))
            mem += e->scalar;
    }
    return cpus >= a->min_cpus || mem >= a->min_mem;
}

/* The first client of role ri that may take avail on agent agi, or NIL. */
static uint32_t pick_client(struct cr_alloc *a, uint32_t agi, uint32_t ri,
                            const struct cr_resources *avail)
{
    const struct role *r = ROLE(a, ri);
    for (uint32_t k = 0; k < r->nclients; k++) {
        uint32_t ci = r->clients[k];
        const struct client *c = CLIENT(a, ci);
        if (!c->subscribed || c->suppressed || !FRAMEWORK(a, c->fw)->active)
            continue;
        if (is_filtered(a, agi, ci, avail))
            continue;
        return ci;
    }
    return NIL;
}

static struct cr_alloc_offer *result_push(struct cr_alloc_result *out)
{
    if (out->n == out->cap) {
        out->cap = out->cap ? out->cap * 2 : 64;
        out->offers = cr_xrealloc(out->offers, out->cap * sizeof(*out->offers));
    }
    struct cr_alloc_offer *o = &out->offers[out->n++];
    memset(o, 0, sizeof(*o));
    cr_resources_init(&o->resources);
    return o;
}

/* Offer everything on agi usable by ci's role to ci. */
static void make_offer(struct cr_alloc *a, uint32_t agi, uint32_t ci, struct cr_alloc_result *out)
{
    struct cr_alloc_offer *o = result_push(out);
    const struct client *c = CLIENT(a, ci);
    struct agent *ag = AGENT(a, agi);
    o->framework_id = FRAMEWORK(a, c->fw)->id;
    o->agent_id = ag->id;
    o->role = ROLE(a, c->role)->name;
    CR_ALLOC_CHECK(cr_resources_move_allocatable(&ag->free, o->role, &o->resources) == 0);
    cr_alloc__free_changed(ag);
    cr_alloc__grant(a, agi, ci, &o->resources);
}

static void ensure_scratch(struct cr_alloc *a, size_t n)
{
    if (n <= a->scratch_cap)
        return;
    size_t cap = a->scratch_cap ? a->scratch_cap : 8;
    while (cap < n)
        cap *= 2;
    a->scratch_u = cr_xrealloc(a->scratch_u, cap * sizeof(*a->scratch_u));
    a->scratch_r = cr_xrealloc(a->scratch_r, cap * sizeof(*a->scratch_r));
    a->scratch_cap = cap;
}

/* Try role ri on agent agi with what is free for it now; true if it got an offer. */
static bool offer_role(struct cr_alloc *a, uint32_t agi, uint32_t ri, struct cr_alloc_result *out)
{
    struct cr_resources view;
    cr_resources_view_allocatable(&AGENT(a, agi)->free, ROLE(a, ri)->name, a->scratch_r,
                                  a->scratch_cap, &view);
    if (!allocatable(a, &view))
        return false;
    uint32_t ci = pick_client(a, agi, ri, &view);
    if (ci == NIL)
        return false;
    make_offer(a, agi, ci, out);
    return true;
}

/* Sort the reserved roles by their snapshot position (insertion sort: there are few). */
static void sort_resv(struct cr_alloc *a, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++) {
        uint32_t ri = a->resv[i];
        uint32_t j = i;
        while (j > 0 && ROLE(a, a->resv[j - 1])->pos > ROLE(a, ri)->pos) {
            a->resv[j] = a->resv[j - 1];
            j--;
        }
        a->resv[j] = ri;
    }
}

static void allocate_agent(struct cr_alloc *a, uint32_t agi, struct cr_alloc_result *out)
{
    struct agent *ag = AGENT(a, agi);
    ensure_scratch(a, ag->free.n);
    if (a->resv_cap < ag->free.n) {
        a->resv_cap = ag->free.n;
        a->resv = cr_xrealloc(a->resv, a->resv_cap * sizeof(*a->resv));
    }

    /* Roles with clients that hold reservations here, with their place in the order now. */
    uint32_t stamp = ++a->stamp;
    uint32_t nresv = 0;
    for (size_t i = 0; i < ag->free.n; i++) {
        const char *role = ag->free.v[i].role;
        uint32_t ri;
        if (!strcmp(role, CR_ROLE_ANY) || !cr_strmap_get(&a->role_ix, role, &ri))
            continue;
        struct role *r = ROLE(a, ri);
        if (!r->in_order || r->stamp == stamp)
            continue;
        r->stamp = stamp;
        r->pos = cr_alloc__sort_role_pos(a, ri);
        a->resv[nresv++] = ri;
    }
    sort_resv(a, nresv);

    struct cr_resources unreserved;
    cr_resources_view_allocatable(&ag->free, NULL, a->scratch_u, a->scratch_cap, &unreserved);
    bool unreserved_ok = allocatable(a, &unreserved);
    if (!unreserved_ok && nresv == 0)
        return;

    uint32_t first = 0; /* reserved roles before this snapshot position are done */
    if (unreserved_ok) {
        uint32_t offered_at = NIL;
        for (uint32_t i = 0; i < a->nrole_order && offered_at == NIL; i++) {
            uint32_t ri = a->role_order[i];
            if (ROLE(a, ri)->stamp == stamp) {
                if (offer_role(a, agi, ri, out))
                    offered_at = i;
                continue;
            }
            uint32_t ci = pick_client(a, agi, ri, &unreserved);
            if (ci != NIL) {
                make_offer(a, agi, ci, out);
                offered_at = i;
            }
        }
        if (offered_at == NIL)
            return; /* every role has had its turn */
        first = offered_at + 1;
    }
    for (uint32_t k = 0; k < nresv; k++) {
        uint32_t ri = a->resv[k];
        if (ROLE(a, ri)->pos >= first)
            offer_role(a, agi, ri, out);
    }
}

void cr_alloc_cycle(struct cr_alloc *a, int64_t now_ms, struct cr_alloc_result *out)
{
    filters_expire(a, now_ms);
    a->dirty = false;
    cr_alloc__sort_refresh(a);
    cr_alloc__sort_agents(a);
    for (uint32_t i = 0; i < a->nagent_order; i++) {
        uint32_t agi = a->agent_order[i];
        struct agent *ag = AGENT(a, agi);
        if (ag->active && ag->free.n)
            allocate_agent(a, agi, out);
    }
}
