/*
 * allocator_int.h - the allocator's internal state, shared by allocator.c (the API and
 * bookkeeping), allocator_sort.c (DRF ordering) and allocator_cycle.c (filters and the
 * allocation cycle). Nothing outside src/core includes this.
 *
 * Everything lives in index-addressed pools (slots reused through a free list), so the
 * structures never hold pointers into each other and a pool can grow by realloc. Never
 * keep a pointer to a slot across a call that may take a new slot from the same pool.
 *
 * Who is who:
 *  - agent: total and free resources (free = total - sum of its records) and a version
 *    of the free content: each version number stands for exactly one content, so filters
 *    can cache their verdict per version. A change gets a fresh number, except that
 *    returning to the content of the agent's snapshot (taken when a filter is installed)
 *    gets the snapshot's number back: an agent whose offer is declined and returned
 *    keeps its cached verdicts instead of re-checking every filter every cycle;
 *  - framework: active flag, the clients it has (one per role it is in);
 *  - role: weight, the clients in it sorted by DRF share, its place in role_order;
 *  - client: a (framework, role) pair: subscribed/suppressed flags and the scalar
 *    quantities allocated to it; kept while subscribed or holding any record;
 *  - record: what one client holds on one agent (linked into the agent's list and the
 *    client's list);
 *  - filter: a decline (agent, client, resources, expiry), chained per (agent, client) in
 *    filter_ix, linked per agent and per framework, and in a min-heap by expiry. Its
 *    resources are a shared, reference-counted bag (struct fres): filters installed on
 *    one agent nearly always hold the same bag (the same free content declined by one
 *    framework after another), so a filter costs a few dozen bytes, not a deep copy.
 *
 * Invariants (checked by the unit tests): for every agent free + sum(records) == total;
 * client/role/framework quantities are sums of their records; when sort_stale is false,
 * role_order and every role's clients are sorted by their cached shares, computed against
 * sort_total.
 */
#ifndef CR_CORE_ALLOCATOR_INT_H
#define CR_CORE_ALLOCATOR_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/allocator.h"
#include "core/idmap.h"

#define NIL UINT32_MAX

/* The scalar kinds that count towards dominant shares. */
enum { K_CPUS, K_MEM, K_DISK, K_GPUS, NKINDS };

struct qty {
    int64_t v[NKINDS]; /* thousandths */
};

/* First member of every pooled struct. */
struct slot_hdr {
    uint32_t next_free;
    bool live;
};

struct pool {
    void *v;
    uint32_t n; /* slots ever used (high-water mark) */
    uint32_t cap;
    uint32_t free_head;
    uint32_t live;
    size_t elem;
};

struct agent {
    struct slot_hdr hdr;
    char *id; /* owned */
    struct cr_resources total;
    struct cr_resources free;
    struct qty total_q;
    bool active;
    uint64_t version;         /* of the free content, see above */
    uint64_t version_seq;     /* last fresh version number handed out */
    struct cr_resources snap; /* a past free content ... */
    uint64_t snap_version;    /* ... and its version; 0 = no snapshot */
    uint32_t recs;            /* head of its records (record.a_next) */
    uint32_t filters;         /* head of its filters (filter.a_next) */
    uint32_t nfilters;
};

struct framework {
    struct slot_hdr hdr;
    char *id; /* owned */
    bool active;
    uint32_t *clients; /* owned, unsorted */
    uint32_t nclients, cap;
    struct qty alloc;
    uint32_t filters; /* head of its filters (filter.f_next) */
};

struct role {
    struct slot_hdr hdr;
    char *name; /* owned */
    double weight;
    uint32_t *clients; /* owned, sorted by (share, framework id) unless sort_stale */
    uint32_t nclients, cap;
    struct qty alloc;
    double share;   /* cached weighted dominant share against sort_total */
    bool in_order;  /* listed in role_order (has clients) */
    uint32_t stamp; /* cycle marker: reserved resources on the agent being walked */
    uint32_t pos;   /* cycle scratch: snapshot position in role_order */
};

struct client {
    struct slot_hdr hdr;
    uint32_t fw, role;
    bool subscribed, suppressed;
    struct qty alloc;
    double share;  /* cached dominant share against sort_total */
    uint32_t recs; /* head of its records (record.c_next) */
};

struct record {
    struct slot_hdr hdr;
    uint32_t agent, client;
    struct cr_resources res;
    uint32_t a_prev, a_next, c_prev, c_next;
};

struct fres {
    struct slot_hdr hdr;
    struct cr_resources res;
    uint32_t refs;
};

struct filter {
    struct slot_hdr hdr;
    uint32_t agent, client;
    uint32_t fres; /* the declined resources (shared) */
    int64_t expires_ms;
    uint32_t heap_idx;
    uint32_t key_next; /* next filter with the same (agent, client) */
    uint32_t a_prev, a_next, f_prev, f_next;
    uint64_t checked_version; /* agent version the cached verdict belongs to */
    bool blocks;
};

struct cr_alloc {
    struct pool agents, frameworks, roles, clients, records, filters, fress;
    struct cr_strmap agent_ix, framework_ix, role_ix;
    struct cr_u64map filter_ix; /* (agent << 32 | client) -> first filter */

    uint32_t *agent_order; /* agents sorted by id, rebuilt lazily */
    uint32_t nagent_order, agent_order_cap;
    bool agent_order_stale;

    uint32_t *role_order; /* roles with clients, sorted by (share, name) unless sort_stale */
    uint32_t nrole_order, role_order_cap;
    bool sort_stale;
    struct qty total;      /* sum of agent totals */
    struct qty sort_total; /* the totals the cached shares were computed with */

    uint32_t *heap; /* filters by (expires_ms, index) */
    uint32_t nheap, heap_cap;

    bool dirty;
    int64_t min_cpus, min_mem;
    uint32_t stamp;

    struct cr_resource *scratch_u, *scratch_r; /* views for the cycle */
    size_t scratch_cap;
    uint32_t *resv;
    size_t resv_cap;
};

#define AGENT(a, i) (&((struct agent *)(a)->agents.v)[i])
#define FRAMEWORK(a, i) (&((struct framework *)(a)->frameworks.v)[i])
#define ROLE(a, i) (&((struct role *)(a)->roles.v)[i])
#define CLIENT(a, i) (&((struct client *)(a)->clients.v)[i])
#define RECORD(a, i) (&((struct record *)(a)->records.v)[i])
#define FILTER(a, i) (&((struct filter *)(a)->filters.v)[i])
#define FRES(a, i) (&((struct fres *)(a)->fress.v)[i])
/* The resources a filter holds. */
#define FILTER_RES(a, i) (&FRES((a), FILTER((a), (i))->fres)->res)

/* Abort unless cond holds: for broken internal invariants and out-of-memory only (the core
 * does no I/O, so there is no message; the stack of the abort tells where). */
#define CR_ALLOC_CHECK(cond)                                                                       \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

/* pools (allocator.c) */
void cr_alloc__pool_init(struct pool *p, size_t elem);
void cr_alloc__pool_release(struct pool *p);
uint32_t cr_alloc__pool_take(struct pool *p);
void cr_alloc__pool_put(struct pool *p, uint32_t idx);

/* quantities (allocator.c) */
void cr_alloc__qty_of(const struct cr_resources *rs, struct qty *q);
void cr_alloc__qty_add(struct qty *q, const struct qty *d, int sign);

/* ordering (allocator_sort.c) */
double cr_alloc__dominant(const struct qty *alloc, const struct qty *total);
void cr_alloc__sort_client_insert(struct cr_alloc *a, uint32_t ci);
void cr_alloc__sort_client_remove(struct cr_alloc *a, uint32_t ci);
void cr_alloc__sort_client_update(struct cr_alloc *a, uint32_t ci);
void cr_alloc__sort_role_insert(struct cr_alloc *a, uint32_t ri);
void cr_alloc__sort_role_remove(struct cr_alloc *a, uint32_t ri);
void cr_alloc__sort_role_update(struct cr_alloc *a, uint32_t ri);
uint32_t cr_alloc__sort_role_pos(const struct cr_alloc *a, uint32_t ri);
void cr_alloc__sort_refresh(struct cr_alloc *a);
void cr_alloc__sort_agents(struct cr_alloc *a);

/* free content versions (allocator.c): call after every change of an agent's free */
void cr_alloc__free_changed(struct agent *ag);
/* Remember the agent's current free content and version (before installing a filter). */
void cr_alloc__snapshot_free(struct agent *ag);

/* records (allocator.c): add res (copied) to what client ci holds on agent agi */
void cr_alloc__grant(struct cr_alloc *a, uint32_t agi, uint32_t ci, const struct cr_resources *res);

/* filters (allocator_cycle.c) */
void cr_alloc__filter_add(struct cr_alloc *a, uint32_t agi, uint32_t ci,
                          const struct cr_resources *res, int64_t expires_ms);
void cr_alloc__filter_del(struct cr_alloc *a, uint32_t fi);
void cr_alloc__filters_clear_agent(struct cr_alloc *a, uint32_t agi);
void cr_alloc__filters_clear_framework(struct cr_alloc *a, uint32_t fwi);
void cr_alloc__filters_clear_client(struct cr_alloc *a, uint32_t ci);

#endif
