/*
 * allocator.c - the DRF allocator's API and bookkeeping: agents, frameworks, roles,
 * clients (framework x role) and the records of what each client holds on each agent.
 *
 * The ordering (allocator_sort.c) and the cycle with its filters (allocator_cycle.c) work
 * on the same state (allocator_int.h). Every change of an allocation goes through grant()
 * or ungrant() here, which keep the per-agent free cache, the scalar sums behind the shares
 * and the sorted orders in step.
 *
 * PURE: no I/O, no clock; out-of-memory aborts (cr_x* allocation, CR_ALLOC_CHECK).
 */
#include "core/allocator.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "core/allocator_int.h"

/* Mesos' defaults for the smallest offer worth making (MIN_CPUS, MIN_MEM). */
#define DEFAULT_MIN_CPUS 10         /* 0.01 cpus */
#define DEFAULT_MIN_MEM (32 * 1000) /* 32 MB */

static const char *const kind_names[NKINDS] = {"cpus", "mem", "disk", "gpus"};

/* ---- pools ---- */

void cr_alloc__pool_init(struct pool *p, size_t elem)
{
    memset(p, 0, sizeof(*p));
    p->elem = elem;
    p->free_head = NIL;
}

void cr_alloc__pool_release(struct pool *p)
{
    free(p->v);
    cr_alloc__pool_init(p, p->elem);
}

static struct slot_hdr *pool_hdr(struct pool *p, uint32_t idx)
{
    return (struct slot_hdr *)((char *)p->v + (size_t)idx * p->elem);
}

uint32_t cr_alloc__pool_take(struct pool *p)
{
    uint32_t idx;
    if (p->free_head != NIL) {
        idx = p->free_head;
        p->free_head = pool_hdr(p, idx)->next_free;
    } else {
        CR_ALLOC_CHECK(p->n < NIL - 1);
        if (p->n == p->cap) {
            p->cap = p->cap ? p->cap * 2 : 16;
            p->v = cr_xrealloc(p->v, (size_t)p->cap * p->elem);
        }
        idx = p->n++;
    }
    struct slot_hdr *h = pool_hdr(p, idx);
    memset(h, 0, p->elem);
    h->live = true;
    h->next_free = NIL;
    p->live++;
    return idx;
}

void cr_alloc__pool_put(struct pool *p, uint32_t idx)
{
    struct slot_hdr *h = pool_hdr(p, idx);
    CR_ALLOC_CHECK(h->live);
    h->live = false;
    h->next_free = p->free_head;
    p->free_head = idx;
    p->live--;
}

/* ---- quantities ---- */

void cr_alloc__qty_of(const struct cr_resources *rs, struct qty *q)
{
    memset(q, 0, sizeof(*q));
    for (size_t i = 0; i < rs->n; i++) {
        const struct cr_resource *e = &rs->v[i];
        if (e->type != CR_RES_SCALAR)
            continue;
        for (int k = 0; k < NKINDS; k++)
            if (!strcmp(e->name, kind_names[k]))
                q->v[k] += e->scalar;
    }
}

void cr_alloc__qty_add(struct qty *q, const struct qty *d, int sign)
{
    for (int k = 0; k < NKINDS; k++)
        q->v[k] += sign * d->v[k];
}

/* ---- results ---- */

void cr_alloc_result_init(struct cr_alloc_result *r)
{
    r->offers = NULL;
    r->n = 0;
    r->cap = 0;
}

void cr_alloc_result_release(struct cr_alloc_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        cr_resources_release(&r->offers[i].resources);
    free(r->offers);
    cr_alloc_result_init(r);
}

/* ---- lifecycle ---- */

struct cr_alloc *cr_alloc_new(void)
{
    struct cr_alloc *a = cr_xcalloc(1, sizeof(*a));
    cr_alloc__pool_init(&a->agents, sizeof(struct agent));
    cr_alloc__pool_init(&a->frameworks, sizeof(struct framework));
    cr_alloc__pool_init(&a->roles, sizeof(struct role));
    cr_alloc__pool_init(&a->clients, sizeof(struct client));
    cr_alloc__pool_init(&a->records, sizeof(struct record));
    cr_alloc__pool_init(&a->filters, sizeof(struct filter));
    cr_alloc__pool_init(&a->fress, sizeof(struct fres));
    cr_strmap_init(&a->agent_ix);
    cr_strmap_init(&a->framework_ix);
    cr_strmap_init(&a->role_ix);
    cr_u64map_init(&a->filter_ix);
    a->min_cpus = DEFAULT_MIN_CPUS;
    a->min_mem = DEFAULT_MIN_MEM;
    return a;
}

void cr_alloc_free(struct cr_alloc *a)
{
    if (!a)
        return;
    for (uint32_t i = 0; i < a->agents.n; i++) {
        struct agent *ag = AGENT(a, i);
        if (!ag->hdr.live)
            continue;
        free(ag->id);
        cr_resources_release(&ag->total);
        cr_resources_release(&ag->free);
        cr_resources_release(&ag->snap);
    }
    for (uint32_t i = 0; i < a->frameworks.n; i++) {
        struct framework *fw = FRAMEWORK(a, i);
        if (fw->hdr.live) {
            free(fw->id);
            free(fw->clients);
        }
    }
    for (uint32_t i = 0; i < a->roles.n; i++) {
        struct role *r = ROLE(a, i);
        if (r->hdr.live) {
            free(r->name);
            free(r->clients);
        }
    }
    for (uint32_t i = 0; i < a->records.n; i++)
        if (RECORD(a, i)->hdr.live)
            cr_resources_release(&RECORD(a, i)->res);
    for (uint32_t i = 0; i < a->fress.n; i++)
        if (FRES(a, i)->hdr.live)
            cr_resources_release(&FRES(a, i)->res);
    cr_alloc__pool_release(&a->agents);
    cr_alloc__pool_release(&a->frameworks);
    cr_alloc__pool_release(&a->roles);
    cr_alloc__pool_release(&a->clients);
    cr_alloc__pool_release(&a->records);
    cr_alloc__pool_release(&a->filters);
    cr_alloc__pool_release(&a->fress);
    cr_strmap_release(&a->agent_ix);
    cr_strmap_release(&a->framework_ix);
    cr_strmap_release(&a->role_ix);
    cr_u64map_release(&a->filter_ix);
    free(a->agent_order);
    free(a->role_order);
    free(a->heap);
    free(a->scratch_u);
    free(a->scratch_r);
    free(a->resv);
    free(a);
}

/* ---- lookups ---- */

static uint32_t agent_find(const struct cr_alloc *a, const char *id)
{
    uint32_t v;
    return id && cr_strmap_get(&a->agent_ix, id, &v) ? v : NIL;
}

static uint32_t framework_find(const struct cr_alloc *a, const char *id)
{
    uint32_t v;
    return id && cr_strmap_get(&a->framework_ix, id, &v) ? v : NIL;
}

static uint32_t role_find(const struct cr_alloc *a, const char *name)
{
    uint32_t v;
    return name && cr_strmap_get(&a->role_ix, name, &v) ? v : NIL;
}

static uint32_t client_find(const struct cr_alloc *a, uint32_t fwi, uint32_t ri)
{
    const struct framework *fw = FRAMEWORK(a, fwi);
    for (uint32_t i = 0; i < fw->nclients; i++)
        if (CLIENT(a, fw->clients[i])->role == ri)
            return fw->clients[i];
    return NIL;
}

static bool valid_role(const char *role)
{
    return role && role[0] && !strpbrk(role, " \t\n\r");
}

/* ---- roles and clients ---- */

static uint32_t role_get(struct cr_alloc *a, const char *name)
{
    uint32_t ri = role_find(a, name);
    if (ri != NIL)
        return ri;
    ri = cr_alloc__pool_take(&a->roles);
    struct role *r = ROLE(a, ri);
    r->name = cr_xstrdup(name);
    r->weight = 1.0;
    cr_strmap_put(&a->role_ix, r->name, ri);
    return ri;
}

/* Forget a role that has no clients and the default weight. */
static void role_maybe_drop(struct cr_alloc *a, uint32_t ri)
{
    struct role *r = ROLE(a, ri);
    if (r->nclients || r->weight != 1.0)
        return;
    CR_ALLOC_CHECK(!r->in_order);
    cr_strmap_del(&a->role_ix, r->name);
    free(r->name);
    free(r->clients);
    cr_alloc__pool_put(&a->roles, ri);
}

static uint32_t client_new(struct cr_alloc *a, uint32_t fwi, uint32_t ri, bool subscribed)
{
    uint32_t ci = cr_alloc__pool_take(&a->clients);
    struct client *c = CLIENT(a, ci);
    c->fw = fwi;
    c->role = ri;
    c->subscribed = subscribed;
    c->recs = NIL;
    c->share = 0;
    struct framework *fw = FRAMEWORK(a, fwi);
    if (fw->nclients == fw->cap) {
        fw->cap = fw->cap ? fw->cap * 2 : 4;
        fw->clients = cr_xrealloc(fw->clients, fw->cap * sizeof(*fw->clients));
    }
    fw->clients[fw->nclients++] = ci;
    cr_alloc__sort_client_insert(a, ci);
    if (!ROLE(a, ri)->in_order)
        cr_alloc__sort_role_insert(a, ri);
    return ci;
}

/* Delete a client: its filters, its place in the role and framework. Holds no records. */
static void client_drop(struct cr_alloc *a, uint32_t ci)
{
    struct client *c = CLIENT(a, ci);
    CR_ALLOC_CHECK(c->recs == NIL);
    uint32_t fwi = c->fw, ri = c->role;
    cr_alloc__filters_clear_client(a, ci);
    cr_alloc__sort_client_remove(a, ci);
    struct framework *fw = FRAMEWORK(a, fwi);
    for (uint32_t i = 0; i < fw->nclients; i++) {
        if (fw->clients[i] == ci) {
            fw->clients[i] = fw->clients[--fw->nclients];
            break;
        }
    }
    cr_alloc__pool_put(&a->clients, ci);
    if (ROLE(a, ri)->nclients == 0) {
        cr_alloc__sort_role_remove(a, ri);
        role_maybe_drop(a, ri);
    }
}

static void client_maybe_drop(struct cr_alloc *a, uint32_t ci)
{
    struct client *c = CLIENT(a, ci);
    if (!c->subscribed && c->recs == NIL)
        client_drop(a, ci);
}

/* ---- free content versions ---- */

void cr_alloc__free_changed(struct agent *ag)
{
    if (ag->snap_version && cr_resources_equal(&ag->free, &ag->snap))
        ag->version = ag->snap_version;
    else
        ag->version = ++ag->version_seq;
}

void cr_alloc__snapshot_free(struct agent *ag)
{
    if (ag->snap_version == ag->version)
        return;
    CR_ALLOC_CHECK(cr_resources_copy(&ag->snap, &ag->free) == 0);
    ag->snap_version = ag->version;
}

/* ---- records ---- */

static uint32_t record_find(const struct cr_alloc *a, uint32_t agi, uint32_t ci)
{
    for (uint32_t ri = AGENT(a, agi)->recs; ri != NIL; ri = RECORD(a, ri)->a_next)
        if (RECORD(a, ri)->client == ci)
            return ri;
    return NIL;
}

static uint32_t record_new(struct cr_alloc *a, uint32_t agi, uint32_t ci)
{
    uint32_t rec = cr_alloc__pool_take(&a->records);
    struct record *r = RECORD(a, rec);
    r->agent = agi;
    r->client = ci;
    r->a_prev = r->c_prev = NIL;
    struct agent *ag = AGENT(a, agi);
    struct client *c = CLIENT(a, ci);
    r->a_next = ag->recs;
    r->c_next = c->recs;
    if (ag->recs != NIL)
        RECORD(a, ag->recs)->a_prev = rec;
    if (c->recs != NIL)
        RECORD(a, c->recs)->c_prev = rec;
    ag->recs = rec;
    c->recs = rec;
    return rec;
}

static void record_unlink(struct cr_alloc *a, uint32_t rec)
{
    struct record *r = RECORD(a, rec);
    if (r->a_prev != NIL)
        RECORD(a, r->a_prev)->a_next = r->a_next;
    else
        AGENT(a, r->agent)->recs = r->a_next;
    if (r->a_next != NIL)
        RECORD(a, r->a_next)->a_prev = r->a_prev;
    if (r->c_prev != NIL)
        RECORD(a, r->c_prev)->c_next = r->c_next;
    else
        CLIENT(a, r->client)->recs = r->c_next;
    if (r->c_next != NIL)
        RECORD(a, r->c_next)->c_prev = r->c_prev;
    cr_resources_release(&r->res);
    cr_alloc__pool_put(&a->records, rec);
}

/* Move the scalar sums of client ci (and its role and framework) by q. */
static void charge(struct cr_alloc *a, uint32_t ci, const struct qty *q, int sign)
{
    struct client *c = CLIENT(a, ci);
    cr_alloc__qty_add(&c->alloc, q, sign);
    cr_alloc__qty_add(&ROLE(a, c->role)->alloc, q, sign);
    cr_alloc__qty_add(&FRAMEWORK(a, c->fw)->alloc, q, sign);
    uint32_t ri = c->role;
    cr_alloc__sort_client_update(a, ci);
    cr_alloc__sort_role_update(a, ri);
}

void cr_alloc__grant(struct cr_alloc *a, uint32_t agi, uint32_t ci, const struct cr_resources *res)
{
    uint32_t rec = record_find(a, agi, ci);
    if (rec == NIL)
        rec = record_new(a, agi, ci);
    CR_ALLOC_CHECK(cr_resources_add(&RECORD(a, rec)->res, res) == 0);
    struct qty q;
    cr_alloc__qty_of(res, &q);
    charge(a, ci, &q, +1);
}

/* Take res (contained in the record) out of record rec; the caller returns it to free. */
static void ungrant(struct cr_alloc *a, uint32_t rec, const struct cr_resources *res)
{
    struct record *r = RECORD(a, rec);
    uint32_t ci = r->client;
    CR_ALLOC_CHECK(cr_resources_subtract(&r->res, res, NULL) == 0);
    bool now_empty = cr_resources_is_empty(&r->res);
    if (now_empty)
        record_unlink(a, rec);
    struct qty q;
    cr_alloc__qty_of(res, &q);
    charge(a, ci, &q, -1);
}

/* Drop a whole record, returning its resources to the agent's free pool. */
static void record_release_to_agent(struct cr_alloc *a, uint32_t rec)
{
    struct record *r = RECORD(a, rec);
    struct agent *ag = AGENT(a, r->agent);
    CR_ALLOC_CHECK(cr_resources_add(&ag->free, &r->res) == 0);
    cr_alloc__free_changed(ag);
    uint32_t ci = r->client;
    struct qty q;
    cr_alloc__qty_of(&r->res, &q);
    record_unlink(a, rec);
    charge(a, ci, &q, -1);
}

/* ---- agents ---- */

int cr_alloc_add_agent(struct cr_alloc *a, const char *agent_id, const struct cr_resources *total,
                       struct cr_err *err)
{
    if (!agent_id || !agent_id[0])
        return cr_err_set(err, -EINVAL, "add agent: empty id");
    if (agent_find(a, agent_id) != NIL)
        return cr_err_set(err, -EEXIST, "add agent '%s': already known", agent_id);
    uint32_t agi = cr_alloc__pool_take(&a->agents);
    struct agent *ag = AGENT(a, agi);
    ag->id = cr_xstrdup(agent_id);
    cr_resources_init(&ag->total);
    cr_resources_init(&ag->free);
    cr_resources_init(&ag->snap);
    ag->version = ag->version_seq = 1;
    CR_ALLOC_CHECK(cr_resources_copy(&ag->total, total) == 0);
    CR_ALLOC_CHECK(cr_resources_copy(&ag->free, total) == 0);
    cr_alloc__qty_of(total, &ag->total_q);
    ag->active = true;
    ag->recs = NIL;
    ag->filters = NIL;
    cr_strmap_put(&a->agent_ix, ag->id, agi);
    cr_alloc__qty_add(&a->total, &ag->total_q, +1);
    a->sort_stale = true;
    a->agent_order_stale = true;
    a->dirty = true;
    return 0;
}

void cr_alloc_remove_agent(struct cr_alloc *a, const char *agent_id)
{
    uint32_t agi = agent_find(a, agent_id);
    if (agi == NIL)
        return;
    while (AGENT(a, agi)->recs != NIL) {
        uint32_t rec = AGENT(a, agi)->recs;
        uint32_t ci = RECORD(a, rec)->client;
        struct qty q;
        cr_alloc__qty_of(&RECORD(a, rec)->res, &q);
        record_unlink(a, rec);
        charge(a, ci, &q, -1);
        client_maybe_drop(a, ci);
    }
    cr_alloc__filters_clear_agent(a, agi);
    struct agent *ag = AGENT(a, agi);
    cr_alloc__qty_add(&a->total, &ag->total_q, -1);
    cr_strmap_del(&a->agent_ix, ag->id);
    free(ag->id);
    cr_resources_release(&ag->total);
    cr_resources_release(&ag->free);
    cr_resources_release(&ag->snap);
    cr_alloc__pool_put(&a->agents, agi);
    a->sort_stale = true;
    a->agent_order_stale = true;
    /* Frameworks that held resources there may now rank earlier elsewhere. */
    a->dirty = true;
}

void cr_alloc_set_agent_active(struct cr_alloc *a, const char *agent_id, bool active)
{
    uint32_t agi = agent_find(a, agent_id);
    if (agi == NIL)
        return;
    struct agent *ag = AGENT(a, agi);
    if (active && !ag->active)
        a->dirty = true;
    ag->active = active;
}

int cr_alloc_update_agent(struct cr_alloc *a, const char *agent_id,
                          const struct cr_resources *total, struct cr_err *err)
{
    uint32_t agi = agent_find(a, agent_id);
    if (agi == NIL)
        return cr_err_set(err, -ENOENT, "update agent '%s': unknown agent", agent_id);
    struct agent *ag = AGENT(a, agi);
    /* allocated = total - free; the new free is new total - allocated, if that fits. */
    struct cr_resources allocated, new_free;
    cr_resources_init(&allocated);
    cr_resources_init(&new_free);
    CR_ALLOC_CHECK(cr_resources_copy(&allocated, &ag->total) == 0);
    CR_ALLOC_CHECK(cr_resources_subtract(&allocated, &ag->free, NULL) == 0);
    CR_ALLOC_CHECK(cr_resources_copy(&new_free, total) == 0);
    struct cr_err sub;
    cr_err_clear(&sub);
    if (cr_resources_subtract(&new_free, &allocated, &sub) < 0) {
        cr_resources_release(&allocated);
        cr_resources_release(&new_free);
        return cr_err_set(err, -EINVAL, "update agent '%s': allocation does not fit: %s", agent_id,
                          sub.msg);
    }
    cr_resources_release(&allocated);
    CR_ALLOC_CHECK(cr_resources_copy(&ag->total, total) == 0);
    cr_resources_release(&ag->free);
    ag->free = new_free;
    cr_alloc__free_changed(ag);
    cr_alloc__qty_add(&a->total, &ag->total_q, -1);
    cr_alloc__qty_of(total, &ag->total_q);
    cr_alloc__qty_add(&a->total, &ag->total_q, +1);
    a->sort_stale = true;
    a->dirty = true;
    return 0;
}

/* ---- frameworks ---- */

/* Check a role list: every role valid. */
static int check_roles(const char *what, const char *framework_id, const char *const *roles,
                       size_t nroles, struct cr_err *err)
{
    if (nroles == 0 || !roles)
        return cr_err_set(err, -EINVAL, "%s '%s': no roles", what, framework_id);
    for (size_t i = 0; i < nroles; i++)
        if (!valid_role(roles[i]))
            return cr_err_set(err, -EINVAL, "%s '%s': bad role '%s'", what, framework_id,
                              roles[i] ? roles[i] : "(null)");
    return 0;
}

/* Subscribe framework fwi to role name (no-op if already subscribed). */
static void subscribe(struct cr_alloc *a, uint32_t fwi, const char *name)
{
    uint32_t ri = role_get(a, name);
    uint32_t ci = client_find(a, fwi, ri);
    if (ci == NIL) {
        client_new(a, fwi, ri, true);
        return;
    }
    CLIENT(a, ci)->subscribed = true;
}

int cr_alloc_add_framework(struct cr_alloc *a, const char *framework_id, const char *const *roles,
                           size_t nroles, struct cr_err *err)
{
    if (!framework_id || !framework_id[0])
        return cr_err_set(err, -EINVAL, "add framework: empty id");
    int rc = check_roles("add framework", framework_id, roles, nroles, err);
    if (rc < 0)
        return rc;
    if (framework_find(a, framework_id) != NIL)
        return cr_err_set(err, -EEXIST, "add framework '%s': already known", framework_id);
    uint32_t fwi = cr_alloc__pool_take(&a->frameworks);
    struct framework *fw = FRAMEWORK(a, fwi);
    fw->id = cr_xstrdup(framework_id);
    fw->active = true;
    fw->filters = NIL;
    cr_strmap_put(&a->framework_ix, fw->id, fwi);
    for (size_t i = 0; i < nroles; i++)
        subscribe(a, fwi, roles[i]);
    a->dirty = true;
    return 0;
}

void cr_alloc_remove_framework(struct cr_alloc *a, const char *framework_id)
{
    uint32_t fwi = framework_find(a, framework_id);
    if (fwi == NIL)
        return;
    cr_alloc__filters_clear_framework(a, fwi);
    while (FRAMEWORK(a, fwi)->nclients) {
        struct framework *fw = FRAMEWORK(a, fwi);
        uint32_t ci = fw->clients[fw->nclients - 1];
        while (CLIENT(a, ci)->recs != NIL)
            record_release_to_agent(a, CLIENT(a, ci)->recs);
        CLIENT(a, ci)->subscribed = false;
        client_drop(a, ci);
    }
    struct framework *fw = FRAMEWORK(a, fwi);
    cr_strmap_del(&a->framework_ix, fw->id);
    free(fw->id);
    free(fw->clients);
    cr_alloc__pool_put(&a->frameworks, fwi);
    a->dirty = true;
}

void cr_alloc_set_framework_active(struct cr_alloc *a, const char *framework_id, bool active)
{
    uint32_t fwi = framework_find(a, framework_id);
    if (fwi == NIL)
        return;
    struct framework *fw = FRAMEWORK(a, fwi);
    if (active && !fw->active)
        a->dirty = true;
    fw->active = active;
}

static bool in_list(const char *const *roles, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(roles[i], name))
            return true;
    return false;
}

int cr_alloc_update_framework(struct cr_alloc *a, const char *framework_id,
                              const char *const *roles, size_t nroles, struct cr_err *err)
{
    uint32_t fwi = framework_find(a, framework_id);
    if (fwi == NIL)
        return cr_err_set(err, -ENOENT, "update framework '%s': unknown framework",
                          framework_id ? framework_id : "(null)");
    int rc = check_roles("update framework", framework_id, roles, nroles, err);
    if (rc < 0)
        return rc;
    /* Unsubscribe roles no longer listed (the client stays while it holds resources). */
    for (uint32_t i = FRAMEWORK(a, fwi)->nclients; i-- > 0;) {
        uint32_t ci = FRAMEWORK(a, fwi)->clients[i];
        struct client *c = CLIENT(a, ci);
        if (c->subscribed && !in_list(roles, nroles, ROLE(a, c->role)->name)) {
            c->subscribed = false;
            c->suppressed = false;
            client_maybe_drop(a, ci);
        }
    }
    for (size_t i = 0; i < nroles; i++)
        subscribe(a, fwi, roles[i]);
    a->dirty = true;
    return 0;
}

/* Apply fn to the framework's subscribed clients in roles (NULL/0 = all). */
static void set_suppressed(struct cr_alloc *a, uint32_t fwi, const char *const *roles,
                           size_t nroles, bool suppressed)
{
    struct framework *fw = FRAMEWORK(a, fwi);
    for (uint32_t i = 0; i < fw->nclients; i++) {
        struct client *c = CLIENT(a, fw->clients[i]);
        if (!c->subscribed)
            continue;
        if (roles && nroles && !in_list(roles, nroles, ROLE(a, c->role)->name))
            continue;
        c->suppressed = suppressed;
    }
}

void cr_alloc_suppress(struct cr_alloc *a, const char *framework_id, const char *const *roles,
                       size_t nroles)
{
    uint32_t fwi = framework_find(a, framework_id);
    if (fwi != NIL)
        set_suppressed(a, fwi, roles, nroles, true);
}

void cr_alloc_revive(struct cr_alloc *a, const char *framework_id, const char *const *roles,
                     size_t nroles)
{
    uint32_t fwi = framework_find(a, framework_id);
    if (fwi == NIL)
        return;
    set_suppressed(a, fwi, roles, nroles, false);
    cr_alloc__filters_clear_framework(a, fwi);
    a->dirty = true;
}

int cr_alloc_set_weight(struct cr_alloc *a, const char *role, double weight, struct cr_err *err)
{
    if (!valid_role(role))
        return cr_err_set(err, -EINVAL, "set weight: bad role '%s'", role ? role : "(null)");
    if (!(weight > 0) || !isfinite(weight))
        return cr_err_set(err, -EINVAL, "set weight of role '%s': weight must be > 0", role);
    uint32_t ri = role_get(a, role);
    ROLE(a, ri)->weight = weight;
    a->sort_stale = true;
    a->dirty = true;
    if (!ROLE(a, ri)->in_order)
        role_maybe_drop(a, ri);
    return 0;
}

int cr_alloc_set_min_allocatable(struct cr_alloc *a, int64_t cpus_milli, int64_t mem_milli,
                                 struct cr_err *err)
{
    if (cpus_milli < 0 || mem_milli < 0)
        return cr_err_set(err, -EINVAL, "min allocatable: amounts must be >= 0");
    a->min_cpus = cpus_milli;
    a->min_mem = mem_milli;
    a->dirty = true;
    return 0;
}

/* ---- allocations ---- */

int cr_alloc_allocate(struct cr_alloc *a, const char *agent_id, const char *framework_id,
                      const char *role, const struct cr_resources *res, struct cr_err *err)
{
    uint32_t agi = agent_find(a, agent_id);
    if (agi == NIL)
        return cr_err_set(err, -ENOENT, "allocate on agent '%s': unknown agent",
                          agent_id ? agent_id : "(null)");
    uint32_t fwi = framework_find(a, framework_id);
    if (fwi == NIL)
        return cr_err_set(err, -ENOENT, "allocate to framework '%s': unknown framework",
                          framework_id ? framework_id : "(null)");
    if (!valid_role(role))
        return cr_err_set(err, -EINVAL, "allocate to framework '%s': bad role '%s'", framework_id,
                          role ? role : "(null)");
    for (size_t i = 0; i < res->n; i++)
        if (strcmp(res->v[i].role, CR_ROLE_ANY) && strcmp(res->v[i].role, role))
            return cr_err_set(err, -EINVAL,
                              "allocate to framework '%s' in role '%s': %s is reserved to '%s'",
                              framework_id, role, res->v[i].name, res->v[i].role);
    if (cr_resources_is_empty(res))
        return 0;
    struct agent *ag = AGENT(a, agi);
    int rc = cr_resources_subtract(&ag->free, res, err);
    if (rc < 0) {
        CR_ALLOC_CHECK(rc != -ENOMEM);
        return cr_err_wrap(err, "allocate on agent '%s'", agent_id);
    }
    cr_alloc__free_changed(ag);
    uint32_t ri = role_get(a, role);
    uint32_t ci = client_find(a, fwi, ri);
    if (ci == NIL)
        ci = client_new(a, fwi, ri, false);
    cr_alloc__grant(a, agi, ci, res);
    return 0;
}

void cr_alloc_recover(struct cr_alloc *a, const char *agent_id, const char *framework_id,
                      const char *role, const struct cr_resources *res, int64_t refuse_ms,
                      int64_t now_ms)
{
    uint32_t agi = agent_find(a, agent_id);
    uint32_t fwi = framework_find(a, framework_id);
    uint32_t ri = role_find(a, role);
    if (agi == NIL || fwi == NIL || ri == NIL)
        return;
    uint32_t ci = client_find(a, fwi, ri);
    if (ci == NIL)
        return;
    uint32_t rec = record_find(a, agi, ci);
    if (rec != NIL && !cr_resources_is_empty(res)) {
        /* Give back only what the client holds there: a duplicate or stale recover must
         * never mint resources. */
        struct cr_resources back;
        cr_resources_init(&back);
        const struct cr_resources *give = res;
        if (!cr_resources_contains(&RECORD(a, rec)->res, res)) {
            CR_ALLOC_CHECK(cr_resources_intersect(&back, &RECORD(a, rec)->res, res) == 0);
            give = &back;
        }
        if (!cr_resources_is_empty(give)) {
            struct agent *ag = AGENT(a, agi);
            CR_ALLOC_CHECK(cr_resources_add(&ag->free, give) == 0);
            cr_alloc__free_changed(ag);
            ungrant(a, rec, give);
            a->dirty = true;
        }
        cr_resources_release(&back);
    }
    if (refuse_ms > 0 && !cr_resources_is_empty(res)) {
        int64_t expires = now_ms > INT64_MAX - refuse_ms ? INT64_MAX : now_ms + refuse_ms;
        cr_alloc__filter_add(a, agi, ci, res, expires);
    }
    client_maybe_drop(a, ci);
}

/* ---- reading ---- */

bool cr_alloc_is_dirty(const struct cr_alloc *a)
{
    return a->dirty;
}

int64_t cr_alloc_next_event_ms(const struct cr_alloc *a)
{
    return a->nheap ? FILTER(a, a->heap[0])->expires_ms : INT64_MAX;
}

void cr_alloc_framework_allocated(const struct cr_alloc *a, const char *framework_id,
                                  struct cr_resources *out)
{
    uint32_t fwi = framework_find(a, framework_id);
    if (fwi == NIL)
        return;
    const struct framework *fw = FRAMEWORK(a, fwi);
    for (uint32_t i = 0; i < fw->nclients; i++)
        for (uint32_t rec = CLIENT(a, fw->clients[i])->recs; rec != NIL;
             rec = RECORD(a, rec)->c_next)
            CR_ALLOC_CHECK(cr_resources_add(out, &RECORD(a, rec)->res) == 0);
}

double cr_alloc_framework_share(const struct cr_alloc *a, const char *framework_id)
{
    uint32_t fwi = framework_find(a, framework_id);
    if (fwi == NIL)
        return -1;
    return cr_alloc__dominant(&FRAMEWORK(a, fwi)->alloc, &a->total);
}

double cr_alloc_role_share(const struct cr_alloc *a, const char *role)
{
    uint32_t ri = role_find(a, role);
    if (ri == NIL)
        return -1;
    const struct role *r = ROLE(a, ri);
    return cr_alloc__dominant(&r->alloc, &a->total) / r->weight;
}

int cr_alloc_agent_free(const struct cr_alloc *a, const char *agent_id, struct cr_resources *out)
{
    uint32_t agi = agent_find(a, agent_id);
    if (agi == NIL)
        return -ENOENT;
    CR_ALLOC_CHECK(cr_resources_add(out, &AGENT(a, agi)->free) == 0);
    return 0;
}

size_t cr_alloc_filter_count(const struct cr_alloc *a)
{
    return a->filters.live;
}

size_t cr_alloc_agent_count(const struct cr_alloc *a)
{
    return a->agents.live;
}

size_t cr_alloc_framework_count(const struct cr_alloc *a)
{
    return a->frameworks.live;
}
