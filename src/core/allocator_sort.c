/*
 * allocator_sort.c - the DRF orders the cycle walks.
 *
 * role_order lists the roles that have clients, by (weighted dominant share, name);
 * each role lists its clients by (dominant share within the role, framework id). Shares
 * are cached per role and client and computed against sort_total, the cluster totals at
 * the last refresh, so each array stays exactly sorted by its cached keys and an element
 * can be found again by binary search on its own key.
 *
 * Incremental: a change to one client's allocation moves that client and its role
 * (two memmoves); nothing else is re-sorted. When the totals or a weight change every
 * share changes, so the orders are marked stale and rebuilt once, at the next refresh
 * (the start of the next cycle); while stale, inserts append and updates are skipped.
 */
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "core/allocator_int.h"

double cr_alloc__dominant(const struct qty *alloc, const struct qty *total)
{
    double share = 0;
    for (int k = 0; k < NKINDS; k++) {
        if (total->v[k] <= 0)
            continue;
        double s = (double)alloc->v[k] / (double)total->v[k];
        if (s > share)
            share = s;
    }
    return share;
}

static double client_share(const struct cr_alloc *a, uint32_t ci)
{
    return cr_alloc__dominant(&CLIENT(a, ci)->alloc, &a->sort_total);
}

static double role_share(const struct cr_alloc *a, uint32_t ri)
{
    const struct role *r = ROLE(a, ri);
    return cr_alloc__dominant(&r->alloc, &a->sort_total) / r->weight;
}

/* Order of a key (share, name) against an element's key. */
static int key_cmp(double share, const char *name, double other_share, const char *other_name)
{
    if (share < other_share)
        return -1;
    if (share > other_share)
        return 1;
    return strcmp(name, other_name);
}

static const char *client_name(const struct cr_alloc *a, uint32_t ci)
{
    return FRAMEWORK(a, CLIENT(a, ci)->fw)->id;
}

/* First index in the role's clients whose key is >= (share, name). */
static uint32_t client_lower_bound(const struct cr_alloc *a, const struct role *r, double share,
                                   const char *name)
{
    uint32_t lo = 0, hi = r->nclients;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        uint32_t cj = r->clients[mid];
        if (key_cmp(CLIENT(a, cj)->share, client_name(a, cj), share, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static uint32_t role_lower_bound(const struct cr_alloc *a, double share, const char *name)
{
    uint32_t lo = 0, hi = a->nrole_order;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const struct role *r = ROLE(a, a->role_order[mid]);
        if (key_cmp(r->share, r->name, share, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void arr_insert(uint32_t *v, uint32_t *n, uint32_t pos, uint32_t x)
{
    memmove(&v[pos + 1], &v[pos], (size_t)(*n - pos) * sizeof(*v));
    v[pos] = x;
    (*n)++;
}

static void arr_remove(uint32_t *v, uint32_t *n, uint32_t pos)
{
    memmove(&v[pos], &v[pos + 1], (size_t)(*n - pos - 1) * sizeof(*v));
    (*n)--;
}

static uint32_t arr_linear_find(const uint32_t *v, uint32_t n, uint32_t x)
{
    for (uint32_t i = 0; i < n; i++)
        if (v[i] == x)
            return i;
    return NIL;
}

/* Position of client ci in its role (binary search on its cached key). */
static uint32_t client_pos(const struct cr_alloc *a, uint32_t ci)
{
    const struct client *c = CLIENT(a, ci);
    const struct role *r = ROLE(a, c->role);
    if (a->sort_stale)
        return arr_linear_find(r->clients, r->nclients, ci);
    uint32_t pos = client_lower_bound(a, r, c->share, client_name(a, ci));
    CR_ALLOC_CHECK(pos < r->nclients && r->clients[pos] == ci);
    return pos;
}

uint32_t cr_alloc__sort_role_pos(const struct cr_alloc *a, uint32_t ri)
{
    if (a->sort_stale)
        return arr_linear_find(a->role_order, a->nrole_order, ri);
    const struct role *r = ROLE(a, ri);
    uint32_t pos = role_lower_bound(a, r->share, r->name);
    CR_ALLOC_CHECK(pos < a->nrole_order && a->role_order[pos] == ri);
    return pos;
}

void cr_alloc__sort_client_insert(struct cr_alloc *a, uint32_t ci)
{
    struct client *c = CLIENT(a, ci);
    struct role *r = ROLE(a, c->role);
    if (r->nclients == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 4;
        r->clients = cr_xrealloc(r->clients, r->cap * sizeof(*r->clients));
    }
    c->share = client_share(a, ci);
    uint32_t pos =
        a->sort_stale ? r->nclients : client_lower_bound(a, r, c->share, client_name(a, ci));
    arr_insert(r->clients, &r->nclients, pos, ci);
}

void cr_alloc__sort_client_remove(struct cr_alloc *a, uint32_t ci)
{
    struct role *r = ROLE(a, CLIENT(a, ci)->role);
    uint32_t pos = client_pos(a, ci);
    CR_ALLOC_CHECK(pos != NIL);
    arr_remove(r->clients, &r->nclients, pos);
}

void cr_alloc__sort_client_update(struct cr_alloc *a, uint32_t ci)
{
    if (a->sort_stale)
        return;
    struct client *c = CLIENT(a, ci);
    double share = client_share(a, ci);
    if (share == c->share)
        return;
    struct role *r = ROLE(a, c->role);
    uint32_t pos = client_pos(a, ci);
    arr_remove(r->clients, &r->nclients, pos);
    c->share = share;
    arr_insert(r->clients, &r->nclients, client_lower_bound(a, r, share, client_name(a, ci)), ci);
}

void cr_alloc__sort_role_insert(struct cr_alloc *a, uint32_t ri)
{
    struct role *r = ROLE(a, ri);
    if (a->nrole_order == a->role_order_cap) {
        a->role_order_cap = a->role_order_cap ? a->role_order_cap * 2 : 16;
        a->role_order = cr_xrealloc(a->role_order, a->role_order_cap * sizeof(*a->role_order));
    }
    r->share = role_share(a, ri);
    uint32_t pos = a->sort_stale ? a->nrole_order : role_lower_bound(a, r->share, r->name);
    arr_insert(a->role_order, &a->nrole_order, pos, ri);
    r->in_order = true;
}

void cr_alloc__sort_role_remove(struct cr_alloc *a, uint32_t ri)
{
    uint32_t pos = cr_alloc__sort_role_pos(a, ri);
    CR_ALLOC_CHECK(pos != NIL);
    arr_remove(a->role_order, &a->nrole_order, pos);
    ROLE(a, ri)->in_order = false;
}

void cr_alloc__sort_role_update(struct cr_alloc *a, uint32_t ri)
{
    struct role *r = ROLE(a, ri);
    if (a->sort_stale || !r->in_order)
        return;
    double share = role_share(a, ri);
    if (share == r->share)
        return;
    uint32_t pos = cr_alloc__sort_role_pos(a, ri);
    arr_remove(a->role_order, &a->nrole_order, pos);
    r->share = share;
    arr_insert(a->role_order, &a->nrole_order, role_lower_bound(a, share, r->name), ri);
}

/* ---- full rebuilds ---- */

struct sort_key {
    double share;
    const char *name;
    uint32_t idx;
};

static int sort_key_cmp(const void *x, const void *y)
{
    const struct sort_key *p = x, *q = y;
    return key_cmp(p->share, p->name, q->share, q->name);
}

/* Sort v[0..n) by the keys make_key gives; keys is scratch with room for n. */
static void sort_by_keys(uint32_t *v, uint32_t n, struct sort_key *keys)
{
    qsort(keys, n, sizeof(*keys), sort_key_cmp);
    for (uint32_t i = 0; i < n; i++)
        v[i] = keys[i].idx;
}

void cr_alloc__sort_refresh(struct cr_alloc *a)
{
    if (!a->sort_stale)
        return;
    a->sort_total = a->total;
    size_t most = a->nrole_order;
    for (uint32_t i = 0; i < a->nrole_order; i++)
        if (ROLE(a, a->role_order[i])->nclients > most)
            most = ROLE(a, a->role_order[i])->nclients;
    struct sort_key *keys = cr_xmalloc((most ? most : 1) * sizeof(*keys));
    for (uint32_t i = 0; i < a->nrole_order; i++) {
        uint32_t ri = a->role_order[i];
        struct role *r = ROLE(a, ri);
        r->share = role_share(a, ri);
        keys[i] = (struct sort_key){r->share, r->name, ri};
        for (uint32_t k = 0; k < r->nclients; k++) {
            uint32_t ci = r->clients[k];
            CLIENT(a, ci)->share = client_share(a, ci);
        }
    }
    sort_by_keys(a->role_order, a->nrole_order, keys);
    for (uint32_t i = 0; i < a->nrole_order; i++) {
        struct role *r = ROLE(a, a->role_order[i]);
        for (uint32_t k = 0; k < r->nclients; k++) {
            uint32_t ci = r->clients[k];
            keys[k] = (struct sort_key){CLIENT(a, ci)->share, client_name(a, ci), ci};
        }
        sort_by_keys(r->clients, r->nclients, keys);
    }
    free(keys);
    a->sort_stale = false;
}

void cr_alloc__sort_agents(struct cr_alloc *a)
{
    if (!a->agent_order_stale)
        return;
    uint32_t n = a->agents.live;
    if (n > a->agent_order_cap) {
        a->agent_order_cap = n;
        a->agent_order = cr_xrealloc(a->agent_order, (size_t)n * sizeof(*a->agent_order));
    }
    struct sort_key *keys = cr_xmalloc((n ? n : 1) * sizeof(*keys));
    uint32_t k = 0;
    for (uint32_t i = 0; i < a->agents.n; i++)
        if (AGENT(a, i)->hdr.live)
            keys[k++] = (struct sort_key){0, AGENT(a, i)->id, i};
    sort_by_keys(a->agent_order, k, keys);
    free(keys);
    a->nagent_order = k;
    a->agent_order_stale = false;
}
