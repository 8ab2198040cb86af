/*
 * offers.c - the book of outstanding offers (see offers.h).
 *
 * Entries live in a slot array reused through a free list; an id -> slot hash finds them.
 * Each entry is linked into three doubly-linked lists kept in insertion order (which is id
 * order, since ids only grow): all offers, its framework's offers and its agent's offers.
 * The per-framework and per-agent list heads ("groups") are found by id through string
 * hashes and disappear with their last offer. A min-heap by (expiry, id) answers the next
 * expiry in O(1) and the expired set in O(k log k) for k expired offers.
 */
#include "core/offers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "core/idmap.h"

#define NIL UINT32_MAX

struct link {
    uint32_t prev, next;
};

struct entry {
    struct cr_offer o;
    bool live;
    uint32_t next_free;
    uint32_t group[2]; /* framework group, agent group */
    struct link by[2]; /* in the framework's / agent's list */
    struct link all;   /* in the list of all offers */
    uint32_t heap_idx;
};

struct group {
    char *key; /* owned: the framework or agent id */
    uint32_t head, tail;
    uint32_t next_free;
};

enum { BY_FRAMEWORK = 0, BY_AGENT = 1 };

struct cr_offer_book {
    struct entry *e;
    uint32_t ne, cap_e, free_e;
    struct group *g;
    uint32_t ng, cap_g, free_g;
    struct cr_strmap group_ix[2];
    struct cr_u64map id_ix;
    uint32_t all_head, all_tail;
    uint32_t *heap;
    uint32_t nheap, cap_heap;
    uint64_t next_id;
    size_t count;
};

void cr_offer_release(struct cr_offer *o)
{
    if (!o)
        return;
    free(o->framework_id);
    free(o->agent_id);
    free(o->role);
    cr_resources_release(&o->resources);
    memset(o, 0, sizeof(*o));
}

void cr_offer_ids_init(struct cr_offer_ids *ids)
{
    ids->v = NULL;
    ids->n = 0;
    ids->cap = 0;
}

void cr_offer_ids_release(struct cr_offer_ids *ids)
{
    if (!ids)
        return;
    free(ids->v);
    cr_offer_ids_init(ids);
}

static void ids_push(struct cr_offer_ids *ids, uint64_t id)
{
    if (ids->n == ids->cap) {
        ids->cap = ids->cap ? ids->cap * 2 : 16;
        ids->v = cr_xrealloc(ids->v, ids->cap * sizeof(*ids->v));
    }
    ids->v[ids->n++] = id;
}

struct cr_offer_book *cr_offer_book_new(void)
{
    struct cr_offer_book *b = cr_xcalloc(1, sizeof(*b));
    b->free_e = NIL;
    b->free_g = NIL;
    b->all_head = b->all_tail = NIL;
    b->next_id = 1;
    cr_strmap_init(&b->group_ix[BY_FRAMEWORK]);
    cr_strmap_init(&b->group_ix[BY_AGENT]);
    cr_u64map_init(&b->id_ix);
    return b;
}

void cr_offer_book_free(struct cr_offer_book *b)
{
    if (!b)
        return;
    for (uint32_t i = 0; i < b->ne; i++)
        if (b->e[i].live)
            cr_offer_release(&b->e[i].o);
    for (uint32_t i = 0; i < b->ng; i++)
        free(b->g[i].key);
    free(b->e);
    free(b->g);
    cr_strmap_release(&b->group_ix[BY_FRAMEWORK]);
    cr_strmap_release(&b->group_ix[BY_AGENT]);
    cr_u64map_release(&b->id_ix);
    free(b->heap);
    free(b);
}

/* ---- heap by (expires_ms, id) ---- */

static bool heap_less(const struct cr_offer_book *b, uint32_t x, uint32_t y)
{
    const struct cr_offer *p = &b->e[x].o, *q = &b->e[y].o;
    if (p->expires_ms != q->expires_ms)
        return p->expires_ms < q->expires_ms;
    return p->id < q->id;
}

static void heap_set(struct cr_offer_book *b, uint32_t pos, uint32_t ei)
{
    b->heap[pos] = ei;
    b->e[ei].heap_idx = pos;
}

static void heap_up(struct cr_offer_book *b, uint32_t pos)
{
    uint32_t ei = b->heap[pos];
    while (pos > 0) {
        uint32_t parent = (pos - 1) / 2;
        if (!heap_less(b, ei, b->heap[parent]))
            break;
        heap_set(b, pos, b->heap[parent]);
        pos = parent;
    }
    heap_set(b, pos, ei);
}

static void heap_down(struct cr_offer_book *b, uint32_t pos)
{
    uint32_t ei = b->heap[pos];
    for (;;) {
        uint32_t child = 2 * pos + 1;
        if (child >= b->nheap)
            break;
        if (child + 1 < b->nheap && heap_less(b, b->heap[child + 1], b->heap[child]))
            child++;
        if (!heap_less(b, b->heap[child], ei))
            break;
        heap_set(b, pos, b->heap[child]);
        pos = child;
    }
    heap_set(b, pos, ei);
}

static void heap_push(struct cr_offer_book *b, uint32_t ei)
{
    if (b->nheap == b->cap_heap) {
        b->cap_heap = b->cap_heap ? b->cap_heap * 2 : 64;
        b->heap = cr_xrealloc(b->heap, (size_t)b->cap_heap * sizeof(*b->heap));
    }
    b->nheap++;
    heap_set(b, b->nheap - 1, ei);
    heap_up(b, b->nheap - 1);
}

static void heap_remove(struct cr_offer_book *b, uint32_t ei)
{
    uint32_t pos = b->e[ei].heap_idx;
    b->nheap--;
    if (pos == b->nheap)
        return;
    uint32_t moved = b->heap[b->nheap];
    heap_set(b, pos, moved);
    heap_up(b, pos);
    heap_down(b, b->e[moved].heap_idx);
}

/* ---- groups ---- */

static uint32_t group_get(struct cr_offer_book *b, int kind, const char *key)
{
    uint32_t gi;
    if (cr_strmap_get(&b->group_ix[kind], key, &gi))
        return gi;
    if (b->free_g != NIL) {
        gi = b->free_g;
        b->free_g = b->g[gi].next_free;
    } else {
        if (b->ng == b->cap_g) {
            b->cap_g = b->cap_g ? b->cap_g * 2 : 16;
            b->g = cr_xrealloc(b->g, (size_t)b->cap_g * sizeof(*b->g));
        }
        gi = b->ng++;
    }
    b->g[gi] = (struct group){cr_xstrdup(key), NIL, NIL, NIL};
    cr_strmap_put(&b->group_ix[kind], b->g[gi].key, gi);
    return gi;
}

static void group_drop(struct cr_offer_book *b, int kind, uint32_t gi)
{
    cr_strmap_del(&b->group_ix[kind], b->g[gi].key);
    free(b->g[gi].key);
    b->g[gi].key = NULL;
    b->g[gi].next_free = b->free_g;
    b->free_g = gi;
}

/* ---- add / find / remove ---- */

uint64_t cr_offer_book_add(struct cr_offer_book *b, const char *framework_id, const char *agent_id,
                           const char *role, struct cr_resources *resources, int64_t expires_ms)
{
    uint32_t ei;
    if (b->free_e != NIL) {
        ei = b->free_e;
        b->free_e = b->e[ei].next_free;
    } else {
        if (b->ne == b->cap_e) {
            b->cap_e = b->cap_e ? b->cap_e * 2 : 64;
            b->e = cr_xrealloc(b->e, (size_t)b->cap_e * sizeof(*b->e));
        }
        ei = b->ne++;
    }
    struct entry *e = &b->e[ei];
    memset(e, 0, sizeof(*e));
    e->live = true;
    e->o.id = b->next_id++;
    e->o.framework_id = cr_xstrdup(framework_id);
    e->o.agent_id = cr_xstrdup(agent_id);
    e->o.role = cr_xstrdup(role);
    e->o.resources = *resources;
    cr_resources_init(resources);
    e->o.expires_ms = expires_ms;

    const char *keys[2] = {e->o.framework_id, e->o.agent_id};
    for (int k = 0; k < 2; k++) {
        uint32_t gi = group_get(b, k, keys[k]);
        e = &b->e[ei];
        e->group[k] = gi;
        e->by[k].prev = b->g[gi].tail;
        e->by[k].next = NIL;
        if (b->g[gi].tail != NIL)
            b->e[b->g[gi].tail].by[k].next = ei;
        else
            b->g[gi].head = ei;
        b->g[gi].tail = ei;
    }
    e->all.prev = b->all_tail;
    e->all.next = NIL;
    if (b->all_tail != NIL)
        b->e[b->all_tail].all.next = ei;
    else
        b->all_head = ei;
    b->all_tail = ei;
    cr_u64map_put(&b->id_ix, e->o.id, ei);
    heap_push(b, ei);
    b->count++;
    return b->e[ei].o.id;
}

const struct cr_offer *cr_offer_book_find(const struct cr_offer_book *b, uint64_t id)
{
    uint32_t ei;
    return cr_u64map_get(&b->id_ix, id, &ei) ? &b->e[ei].o : NULL;
}

int cr_offer_book_remove(struct cr_offer_book *b, uint64_t id, struct cr_offer *out)
{
    uint32_t ei;
    if (!cr_u64map_get(&b->id_ix, id, &ei))
        return -ENOENT;
    struct entry *e = &b->e[ei];
    for (int k = 0; k < 2; k++) {
        struct group *g = &b->g[e->group[k]];
        if (e->by[k].prev != NIL)
            b->e[e->by[k].prev].by[k].next = e->by[k].next;
        else
            g->head = e->by[k].next;
        if (e->by[k].next != NIL)
            b->e[e->by[k].next].by[k].prev = e->by[k].prev;
        else
            g->tail = e->by[k].prev;
        if (g->head == NIL)
            group_drop(b, k, e->group[k]);
    }
    if (e->all.prev != NIL)
        b->e[e->all.prev].all.next = e->all.next;
    else
        b->all_head = e->all.next;
    if (e->all.next != NIL)
        b->e[e->all.next].all.prev = e->all.prev;
    else
        b->all_tail = e->all.prev;
    heap_remove(b, ei);
    cr_u64map_del(&b->id_ix, id);
    if (out)
        *out = e->o;
    else
        cr_offer_release(&e->o);
    memset(&e->o, 0, sizeof(e->o));
    e->live = false;
    e->next_free = b->free_e;
    b->free_e = ei;
    b->count--;
    return 0;
}

/* ---- listing ---- */

static void list_group(const struct cr_offer_book *b, int kind, const char *key,
                       struct cr_offer_ids *out)
{
    uint32_t gi;
    if (!key || !cr_strmap_get(&b->group_ix[kind], key, &gi))
        return;
    for (uint32_t ei = b->g[gi].head; ei != NIL; ei = b->e[ei].by[kind].next)
        ids_push(out, b->e[ei].o.id);
}

void cr_offer_book_by_framework(const struct cr_offer_book *b, const char *framework_id,
                                struct cr_offer_ids *out)
{
    list_group(b, BY_FRAMEWORK, framework_id, out);
}

void cr_offer_book_by_agent(const struct cr_offer_book *b, const char *agent_id,
                            struct cr_offer_ids *out)
{
    list_group(b, BY_AGENT, agent_id, out);
}

void cr_offer_book_all(const struct cr_offer_book *b, struct cr_offer_ids *out)
{
    for (uint32_t ei = b->all_head; ei != NIL; ei = b->e[ei].all.next)
        ids_push(out, b->e[ei].o.id);
}

struct expired_key {
    int64_t expires_ms;
    uint64_t id;
};

static int expired_cmp(const void *x, const void *y)
{
    const struct expired_key *p = x, *q = y;
    if (p->expires_ms != q->expires_ms)
        return p->expires_ms < q->expires_ms ? -1 : 1;
    return p->id < q->id ? -1 : p->id > q->id;
}

void cr_offer_book_expired(const struct cr_offer_book *b, int64_t now_ms, struct cr_offer_ids *out)
{
    if (b->nheap == 0 || b->e[b->heap[0]].o.expires_ms > now_ms)
        return;
    /* Walk the heap from the root, descending only below expired nodes. */
    size_t nkeys = 0, capkeys = 16, nstack = 0, capstack = 16;
    struct expired_key *keys = cr_xmalloc(capkeys * sizeof(*keys));
    uint32_t *stack = cr_xmalloc(capstack * sizeof(*stack));
    stack[nstack++] = 0;
    while (nstack) {
        uint32_t pos = stack[--nstack];
        const struct cr_offer *o = &b->e[b->heap[pos]].o;
        if (o->expires_ms > now_ms)
            continue;
        if (nkeys == capkeys) {
            capkeys *= 2;
            keys = cr_xrealloc(keys, capkeys * sizeof(*keys));
        }
        keys[nkeys++] = (struct expired_key){o->expires_ms, o->id};
        for (uint32_t child = 2 * pos + 1; child <= 2 * pos + 2 && child < b->nheap; child++) {
            if (nstack == capstack) {
                capstack *= 2;
                stack = cr_xrealloc(stack, capstack * sizeof(*stack));
            }
            stack[nstack++] = child;
        }
    }
    qsort(keys, nkeys, sizeof(*keys), expired_cmp);
    for (size_t i = 0; i < nkeys; i++)
        ids_push(out, keys[i].id);
    free(keys);
    free(stack);
}

int64_t cr_offer_book_next_expiry_ms(const struct cr_offer_book *b)
{
    return b->nheap ? b->e[b->heap[0]].o.expires_ms : INT64_MAX;
}

size_t cr_offer_book_count(const struct cr_offer_book *b)
{
    return b->count;
}
