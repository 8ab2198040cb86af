/*
 * offers.c - allocation cycles and the offers they produce: scheduling a cycle after
 * changes (coalescing bursts, DESIGN: never a fixed tick), sending OFFERS, ACCEPT with
 * LAUNCH, DECLINE with filters, rescinds and the offer timeout.
 *
 * Offered resources stay allocated to the framework in the allocator while the offer is
 * outstanding (as in Mesos); using them for tasks keeps them allocated, anything else
 * (decline, unused part of an accept, rescind, timeout) gives them back with
 * cr_alloc_recover().
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "master/master_impl.h"

/* ---------------------------------------------------------------- offer ids */

static void format_offer_id(const struct cr_master *m, uint64_t seq, char *buf, size_t size)
{
    snprintf(buf, size, "%s-O%" PRIu64, m->id, seq);
}

/* Offer ids this master made are "<master id>-O<n>"; anything else is unknown. */
static bool parse_offer_id(const struct cr_master *m, const char *id, uint64_t *seq)
{
    size_t n = strlen(m->id);
    if (strncmp(id, m->id, n) != 0 || id[n] != '-' || id[n + 1] != 'O' || !id[n + 2])
        return false;
    char *end;
    unsigned long long v = strtoull(id + n + 2, &end, 10);
    if (*end)
        return false;
    *seq = v;
    return true;
}

/* ---------------------------------------------------------------- scheduling */

static void cycle(struct cr_master *m);

static void alloc_tick(uv_timer_t *t)
{
    struct cr_master *m = t->data;
    m->alloc_scheduled = false;
    cycle(m);
}

static void arm_alloc_timer(struct cr_master *m, int64_t due_ms)
{
    int64_t now = cr_now_ms();
    if (m->alloc_scheduled && m->alloc_due_ms <= due_ms)
        return;
    m->alloc_scheduled = true;
    m->alloc_due_ms = due_ms;
    uv_timer_start(&m->alloc_timer, alloc_tick, (uint64_t)(due_ms > now ? due_ms - now : 0), 0);
}

void offers_schedule(struct cr_master *m)
{
    if (!m->ready || m->stopping)
        return;
    arm_alloc_timer(m, cr_now_ms() + m->cfg.allocation_batch_ms);
}

static void offer_tick(uv_timer_t *t)
{
    offers_expire(t->data);
}

void offers_arm_timer(struct cr_master *m)
{
    int64_t next = cr_offer_book_next_expiry_ms(m->offers);
    if (next == INT64_MAX) {
        uv_timer_stop(&m->offer_timer);
        return;
    }
    int64_t now = cr_now_ms();
    uv_timer_start(&m->offer_timer, offer_tick, (uint64_t)(next > now ? next - now : 0), 0);
}

void offers_init(struct cr_master *m)
{
    m->offers = cr_offer_book_new();
    uv_timer_init(m->loop, &m->alloc_timer);
    m->alloc_timer.data = m;
    uv_timer_init(m->loop, &m->offer_timer);
    m->offer_timer.data = m;
}

void offers_release(struct cr_master *m)
{
    cr_offer_book_free(m->offers);
    m->offers = NULL;
    uv_close((uv_handle_t *)&m->alloc_timer, NULL);
    uv_close((uv_handle_t *)&m->offer_timer, NULL);
}

/* ---------------------------------------------------------------- the cycle */

static json_t *offer_json(struct cr_master *m, const struct cr_offer *o, const struct fw *fw)
{
    struct agent *a = agent_find(m, o->agent_id);
    char id[96];
    format_offer_id(m, o->id, id, sizeof(id));
    struct cr_offer_view v = {
        .id = id,
        .framework_id = o->framework_id,
        .agent_id = o->agent_id,
        .hostname = a && a->info.hostname ? a->info.hostname : "",
        .agent_ip = a && a->ip ? a->ip : "",
        .agent_port = a ? a->port : 0,
        .role = o->role,
        .resources = &o->resources,
        .attributes = a ? &a->info.attributes : NULL,
        .refinement = fw && (fw->info.capabilities & CR_FWCAP_RESERVATION_REFINEMENT),
    };
    return cr_json_offer(&v);
}

static void cycle(struct cr_master *m)
{
    if (!m->ready || m->stopping)
        return;
    int64_t now = cr_now_ms();
    struct cr_alloc_result res;
    cr_alloc_result_init(&res);
    cr_alloc_cycle(m->alloc, now, &res);

    /* One OFFERS event per framework, carrying all of its new offers. */
    struct cr_map batches;
    cr_map_init(&batches);
    for (size_t i = 0; i < res.n; i++) {
        struct cr_alloc_offer *ao = &res.offers[i];
        struct fw *fw = fw_find(m, ao->framework_id);
        struct agent *a = agent_find(m, ao->agent_id);
        if (!fw || !fw->connected || !a || !a->connected) {
            /* Raced with a disconnection: give it straight back. */
            cr_alloc_recover(m->alloc, ao->agent_id, ao->framework_id, ao->role, &ao->resources, 0,
                             now);
            continue;
        }
        uint64_t seq = cr_offer_book_add(m->offers, ao->framework_id, ao->agent_id, ao->role,
                                         &ao->resources, now + m->cfg.offer_timeout_ms);
        const struct cr_offer *o = cr_offer_book_find(m->offers, seq);
        json_t *arr = cr_map_get(&batches, fw->id);
        if (!arr) {
            arr = json_array();
            cr_map_put(&batches, fw->id, arr);
        }
        json_array_append_new(arr, offer_json(m, o, fw));
    }
    size_t it = 0;
    const char *fwid;
    void *v;
    while (cr_map_next(&batches, &it, &fwid, &v)) {
        struct fw *fw = fw_find(m, fwid);
        CR_DEBUG("offers sent framework=%s count=%zu", fwid, json_array_size(v));
        fw_send(fw, cr_event_offers(v));
    }
    cr_map_release(&batches);
    cr_alloc_result_release(&res);
    offers_arm_timer(m);

    /* Filters that expire later may allow more offers then. */
    int64_t next = cr_alloc_next_event_ms(m->alloc);
    if (next != INT64_MAX)
        arm_alloc_timer(m, next);
}

/* ---------------------------------------------------------------- giving back */

/* Remove offer seq from the book and give its resources back. */
static void recover_offer(struct cr_master *m, uint64_t seq, int64_t refuse_ms, bool rescind)
{
    struct cr_offer o;
    if (cr_offer_book_remove(m->offers, seq, &o) < 0)
        return;
    cr_alloc_recover(m->alloc, o.agent_id, o.framework_id, o.role, &o.resources, refuse_ms,
                     cr_now_ms());
    if (rescind) {
        struct fw *fw = fw_find(m, o.framework_id);
        if (fw) {
            char id[96];
            format_offer_id(m, seq, id, sizeof(id));
            fw_send(fw, cr_event_rescind(id));
        }
    }
    cr_offer_release(&o);
}

void offers_recover_framework(struct cr_master *m, struct fw *fw, bool rescind)
{
    struct cr_offer_ids ids;
    cr_offer_ids_init(&ids);
    cr_offer_book_by_framework(m->offers, fw->id, &ids);
    for (size_t i = 0; i < ids.n; i++)
        recover_offer(m, ids.v[i], 0, rescind);
    size_t n = ids.n;
    cr_offer_ids_release(&ids);
    if (n > 0) {
        offers_arm_timer(m);
        offers_schedule(m);
    }
}

void offers_recover_agent(struct cr_master *m, struct agent *a)
{
    struct cr_offer_ids ids;
    cr_offer_ids_init(&ids);
    cr_offer_book_by_agent(m->offers, a->id, &ids);
    for (size_t i = 0; i < ids.n; i++)
        recover_offer(m, ids.v[i], 0, true);
    size_t n = ids.n;
    cr_offer_ids_release(&ids);
    if (n > 0) {
        offers_arm_timer(m);
        offers_schedule(m);
    }
}

void offers_expire(struct cr_master *m)
{
    struct cr_offer_ids ids;
    cr_offer_ids_init(&ids);
    cr_offer_book_expired(m->offers, cr_now_ms(), &ids);
    for (size_t i = 0; i < ids.n; i++)
        recover_offer(m, ids.v[i], 0, true);
    size_t n = ids.n;
    cr_offer_ids_release(&ids);
    if (n > 0) {
        CR_DEBUG("offers expired and rescinded count=%zu", n);
        offers_schedule(m);
    }
    offers_arm_timer(m);
}

/* ---------------------------------------------------------------- DECLINE / ACCEPT */

static int64_t refuse_ms(double seconds)
{
    if (seconds <= 0)
        return 0;
    return (int64_t)(seconds * 1000.0);
}

void offers_decline(struct cr_master *m, struct fw *fw, struct cr_sched_call *call)
{
    for (size_t i = 0; i < call->noffer_ids; i++) {
        uint64_t seq;
        const struct cr_offer *o;
        if (!parse_offer_id(m, call->offer_ids[i], &seq) ||
            !(o = cr_offer_book_find(m->offers, seq)) || strcmp(o->framework_id, fw->id) != 0) {
            CR_DEBUG("decline of an unknown offer ignored framework=%s offer=%s", fw->id,
                     call->offer_ids[i]);
            continue;
        }
        recover_offer(m, seq, refuse_ms(call->refuse_seconds), false);
    }
    offers_arm_timer(m);
    offers_schedule(m);
}

/* Tasks the parser found invalid (Mesos' launch validation) end in TASK_ERROR. */
static void refuse_invalid_tasks(struct fw *fw, const struct cr_operation *op)
{
    for (size_t k = 0; k < op->ninvalid; k++) {
        CR_INFO("task refused task=%s framework=%s reason=\"%s\"", op->invalid_tasks[k].task_id,
                fw->id, op->invalid_reasons[k]);
        task_send_orphan_status(fw, op->invalid_tasks[k].task_id, op->invalid_tasks[k].agent_id,
                                CR_TASK_ERROR, CR_REASON_TASK_INVALID, op->invalid_reasons[k]);
    }
}

/* Every task of every LAUNCH in call gets the same master-generated terminal state. */
static void fail_all_launches(struct fw *fw, struct cr_sched_call *call, enum cr_task_state st,
                              enum cr_task_reason reason, const char *msg)
{
    for (size_t i = 0; i < call->noperations; i++) {
        const struct cr_operation *op = &call->operations[i];
        if (op->type != CR_OP_LAUNCH && op->type != CR_OP_LAUNCH_GROUP)
            continue;
        for (size_t k = 0; k < op->ntasks; k++)
            task_send_orphan_status(fw, op->tasks[k].task_id, op->tasks[k].agent_id, st, reason,
                                    msg);
        refuse_invalid_tasks(fw, op);
    }
}

/* What is left of the accepted offers, per allocation role (a MULTI_ROLE framework may
 * accept offers made to several of its roles at once). */
struct role_left {
    char *role; /* owned */
    struct cr_resources res;
};

static struct role_left *bucket_for(struct role_left **v, size_t *n, const char *role)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i].role, role) == 0)
            return &(*v)[i];
    *v = cr_xrealloc(*v, (*n + 1) * sizeof(**v));
    struct role_left *b = &(*v)[(*n)++];
    b->role = cr_xstrdup(role);
    cr_resources_init(&b->res);
    return b;
}

/*
 * Check one task against what is left of the offers; on success subtract its resources
 * from the first role's remainder that holds them all and return that role's bucket.
 */
static struct role_left *validate_task(struct fw *fw, const struct cr_task_info *t,
                                       const char *agent_id, struct role_left *left, size_t nleft,
                                       struct cr_err *err)
{
    if (strcmp(t->agent_id, agent_id) != 0) {
        cr_err_set(err, -EINVAL, "Task uses agent '%s' but the offers are for agent '%s'",
                   t->agent_id, agent_id);
        return NULL;
    }
    if (cr_map_get(&fw->tasks, t->task_id)) {
        cr_err_set(err, -EEXIST, "Task has duplicate ID: %s", t->task_id);
        return NULL;
    }
    if (!t->has_command) {
        cr_err_set(err, -ENOTSUP,
                   "Task '%s' uses a custom executor, which Corral does not support yet",
                   t->task_id);
        return NULL;
    }
    if (cr_resources_scalar(&t->resources, "cpus") <= 0 &&
        cr_resources_scalar(&t->resources, "mem") <= 0) {
        cr_err_set(err, -EINVAL, "Task '%s' must use some cpus or mem", t->task_id);
        return NULL;
    }
    for (size_t i = 0; i < nleft; i++) {
        if (cr_resources_contains(&left[i].res, &t->resources))
            return cr_resources_subtract(&left[i].res, &t->resources, err) == 0 ? &left[i] : NULL;
    }
    struct cr_resources all;
    cr_resources_init(&all);
    for (size_t i = 0; i < nleft; i++)
        cr_resources_add(&all, &left[i].res);
    char have[512], need[512];
    cr_resources_format(&t->resources, need, sizeof(need));
    cr_resources_format(&all, have, sizeof(have));
    cr_resources_release(&all);
    cr_err_set(err, -ERANGE,
               "Task '%s' uses resources %s that are not in the offers' remaining resources%s %s",
               t->task_id, need, nleft > 1 ? " of any one role" : "", have);
    return NULL;
}

void offers_accept(struct cr_master *m, struct fw *fw, struct cr_sched_call *call)
{
    bool pa = fw_partition_aware(fw);
    enum cr_task_state dropped = pa ? CR_TASK_DROPPED : CR_TASK_LOST;

    /* Offers: all must be known, this framework's, and on one agent. */
    struct role_left *left = NULL;
    size_t nleft = 0;
    char *agent_id = NULL;
    const char *invalid = NULL;
    char why[256] = "";
    uint64_t *seqs = cr_xcalloc(call->noffer_ids + 1, sizeof(*seqs));
    size_t nseqs = 0;
    for (size_t i = 0; i < call->noffer_ids; i++) {
        uint64_t seq;
        const struct cr_offer *o;
        if (!parse_offer_id(m, call->offer_ids[i], &seq) ||
            !(o = cr_offer_book_find(m->offers, seq))) {
            invalid = call->offer_ids[i];
            snprintf(why, sizeof(why), "Offer %s is no longer valid", invalid);
            continue;
        }
        if (strcmp(o->framework_id, fw->id) != 0) {
            invalid = call->offer_ids[i];
            snprintf(why, sizeof(why), "Offer %s belongs to another framework", invalid);
            continue;
        }
        bool dup = false;
        for (size_t k = 0; k < nseqs; k++)
            dup |= seqs[k] == seq;
        if (dup) {
            invalid = call->offer_ids[i];
            snprintf(why, sizeof(why), "Offer %s appears more than once", invalid);
            continue;
        }
        if (agent_id && strcmp(agent_id, o->agent_id) != 0) {
            invalid = call->offer_ids[i];
            snprintf(why, sizeof(why), "Offers span more than one agent (%s and %s)", agent_id,
                     o->agent_id);
        }
        if (!agent_id)
            agent_id = cr_xstrdup(o->agent_id);
        seqs[nseqs++] = seq;
        cr_resources_add(&bucket_for(&left, &nleft, o->role)->res, &o->resources);
    }
    if (call->noffer_ids == 0) {
        invalid = "";
        snprintf(why, sizeof(why), "No offers were given");
    }

    if (invalid) {
        CR_INFO("accept with invalid offers framework=%s reason=\"%s\"", fw->id, why);
        fail_all_launches(fw, call, dropped, CR_REASON_INVALID_OFFERS, why);
        for (size_t k = 0; k < nseqs; k++)
            recover_offer(m, seqs[k], 0, false);
        goto out;
    }

    /* The offers are used up now, whatever happens to the operations. */
    for (size_t k = 0; k < nseqs; k++)
        cr_offer_book_remove(m->offers, seqs[k], NULL);

    struct agent *a = agent_find(m, agent_id);
    for (size_t i = 0; i < call->noperations; i++) {
        struct cr_operation *op = &call->operations[i];
        refuse_invalid_tasks(fw, op);
        if (op->type == CR_OP_LAUNCH_GROUP) {
            for (size_t k = 0; k < op->ntasks; k++)
                task_send_orphan_status(fw, op->tasks[k].task_id, op->tasks[k].agent_id,
                                        CR_TASK_ERROR, CR_REASON_TASK_GROUP_INVALID,
                                        "LAUNCH_GROUP (task groups) is not supported by Corral "
                                        "yet");
            continue;
        }
        if (op->type != CR_OP_LAUNCH) {
            CR_WARN("offer operation not supported yet; ignored framework=%s type=%d", fw->id,
                    op->type);
            continue;
        }
        for (size_t k = 0; k < op->ntasks; k++) {
            struct cr_task_info *ti = &op->tasks[k];
            struct cr_err err;
            cr_err_clear(&err);
            struct role_left *b = validate_task(fw, ti, agent_id, left, nleft, &err);
            if (!b) {
                CR_INFO("task refused task=%s framework=%s reason=\"%s\"", ti->task_id, fw->id,
                        err.msg);
                task_send_orphan_status(fw, ti->task_id, ti->agent_id, CR_TASK_ERROR,
                                        CR_REASON_TASK_INVALID, err.msg);
                continue;
            }
            struct task *t = task_new(fw, ti, b->role);
            if (!t) {
                task_send_orphan_status(fw, ti->task_id, ti->agent_id, CR_TASK_ERROR,
                                        CR_REASON_TASK_INVALID, "out of memory");
                cr_resources_add(&b->res, &ti->resources);
                continue;
            }
            task_launch(m, fw, a, t);
        }
    }
    /* Whatever the operations did not use counts as declined, in the role it was offered. */
    for (size_t i = 0; i < nleft; i++)
        if (!cr_resources_is_empty(&left[i].res))
            cr_alloc_recover(m->alloc, agent_id, fw->id, left[i].role, &left[i].res,
                             refuse_ms(call->refuse_seconds), cr_now_ms());
out:
    for (size_t i = 0; i < nleft; i++) {
        free(left[i].role);
        cr_resources_release(&left[i].res);
    }
    free(left);
    free(seqs);
    free(agent_id);
    offers_arm_timer(m);
    offers_schedule(m);
}

/* ---------------------------------------------------------------- views */

void offers_sum_agent(struct cr_master *m, const char *agent_id, struct cr_resources *out)
{
    struct cr_offer_ids ids;
    cr_offer_ids_init(&ids);
    cr_offer_book_by_agent(m->offers, agent_id, &ids);
    for (size_t i = 0; i < ids.n; i++) {
        const struct cr_offer *o = cr_offer_book_find(m->offers, ids.v[i]);
        if (o)
            cr_resources_add(out, &o->resources);
    }
    cr_offer_ids_release(&ids);
}

void offers_sum_framework(struct cr_master *m, const char *framework_id, struct cr_resources *out)
{
    struct cr_offer_ids ids;
    cr_offer_ids_init(&ids);
    cr_offer_book_by_framework(m->offers, framework_id, &ids);
    for (size_t i = 0; i < ids.n; i++) {
        const struct cr_offer *o = cr_offer_book_find(m->offers, ids.v[i]);
        if (o)
            cr_resources_add(out, &o->resources);
    }
    cr_offer_ids_release(&ids);
}

json_t *offers_json_framework(struct cr_master *m, struct fw *fw, bool legacy)
{
    json_t *arr = json_array();
    struct cr_offer_ids ids;
    cr_offer_ids_init(&ids);
    cr_offer_book_by_framework(m->offers, fw->id, &ids);
    for (size_t i = 0; i < ids.n; i++) {
        const struct cr_offer *o = cr_offer_book_find(m->offers, ids.v[i]);
        if (!o)
            continue;
        if (!legacy) {
            json_array_append_new(arr, offer_json(m, o, fw));
            continue;
        }
        char id[96];
        format_offer_id(m, o->id, id, sizeof(id));
        json_t *j = json_object();
        json_object_set_new(j, "id", json_string(id));
        json_object_set_new(j, "framework_id", json_string(o->framework_id));
        json_object_set_new(j, "slave_id", json_string(o->agent_id));
        json_t *ai = json_object();
        json_object_set_new(ai, "role", json_string(o->role));
        json_object_set_new(j, "allocation_info", ai);
        json_object_set_new(j, "resources", cr_json_resources_flat(&o->resources));
        json_array_append_new(arr, j);
    }
    cr_offer_ids_release(&ids);
    return arr;
}

size_t offers_count(struct cr_master *m)
{
    return cr_offer_book_count(m->offers);
}
