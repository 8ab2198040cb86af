/*
 * test_allocator.c - the DRF allocator.
 *
 * Directed cases pin the policy down with exact expected offer sequences: DRF order and
 * fairness, weights, reserved vs unreserved, filters (block until expiry, lifted when the
 * agent has more than was declined, cleared by REVIVE), SUPPRESS/REVIVE per role, inactive
 * frameworks and agents, the minimum allocatable, fit checks, removals holding resources,
 * the dirty flag and the next event.
 *
 * Then a naive reference allocator written here (recomputes every share from scratch,
 * sorts with qsort at every step) is driven with the same random operation sequences as
 * the real one on small clusters; after every operation the offers, every agent's free
 * resources, every framework's allocation and share, the filter count and the next event
 * must agree, and the allocator's internal invariants (free + records == total, sums,
 * sorted orders, heap) are checked white-box. Seeded xorshift; set CR_TEST_SEED to
 * replay, the seed is printed on failure.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/allocator.h"
#include "core/allocator_int.h"

/* ---- helpers ---- */

static struct cr_resources res(const char *text)
{
    struct cr_resources rs;
    struct cr_err err;
    cr_resources_init(&rs);
    int rc = cr_resources_parse(&rs, text, NULL, &err);
    if (rc != 0)
        print_error("parse '%s': %s\n", text, err.msg);
    assert_int_equal(rc, 0);
    return rs;
}

static void add_agent(struct cr_alloc *a, const char *id, const char *text)
{
    struct cr_resources rs = res(text);
    struct cr_err err;
    assert_int_equal(cr_alloc_add_agent(a, id, &rs, &err), 0);
    cr_resources_release(&rs);
}

static void add_fw(struct cr_alloc *a, const char *id, const char *role)
{
    struct cr_err err;
    const char *roles[] = {role};
    assert_int_equal(cr_alloc_add_framework(a, id, roles, 1, &err), 0);
}

static void allocate(struct cr_alloc *a, const char *agent, const char *fw, const char *role,
                     const char *text)
{
    struct cr_resources rs = res(text);
    struct cr_err err;
    int rc = cr_alloc_allocate(a, agent, fw, role, &rs, &err);
    if (rc)
        print_error("allocate: %s\n", err.msg);
    assert_int_equal(rc, 0);
    cr_resources_release(&rs);
}

static void recover(struct cr_alloc *a, const char *agent, const char *fw, const char *role,
                    const char *text, int64_t refuse_ms, int64_t now)
{
    struct cr_resources rs = res(text);
    cr_alloc_recover(a, agent, fw, role, &rs, refuse_ms, now);
    cr_resources_release(&rs);
}

/* Offers as "fw agent role resources" lines, in order. */
struct lines {
    char v[256][320];
    size_t n;
};

static void describe(const struct cr_alloc_result *r, struct lines *out)
{
    out->n = 0;
    for (size_t i = 0; i < r->n && i < 256; i++) {
        char buf[200];
        cr_resources_format(&r->offers[i].resources, buf, sizeof(buf));
        snprintf(out->v[out->n++], sizeof(out->v[0]), "%s %s %s %s", r->offers[i].framework_id,
                 r->offers[i].agent_id, r->offers[i].role, buf);
    }
}

/* Run a cycle and compare with the expected lines. */
static void expect_cycle(struct cr_alloc *a, int64_t now, const char *const *want, size_t n)
{
    struct cr_alloc_result r;
    cr_alloc_result_init(&r);
    cr_alloc_cycle(a, now, &r);
    static struct lines got;
    describe(&r, &got);
    bool same = got.n == n;
    for (size_t i = 0; same && i < n; i++)
        same = !strcmp(got.v[i], want[i]);
    if (!same) {
        print_error("cycle at %lld: got %zu offers, want %zu\n", (long long)now, got.n, n);
        for (size_t i = 0; i < got.n; i++)
            print_error("  got:  %s\n", got.v[i]);
        for (size_t i = 0; i < n; i++)
            print_error("  want: %s\n", want[i]);
    }
    assert_true(same);
    assert_false(cr_alloc_is_dirty(a));
    cr_alloc_result_release(&r);
}

#define EXPECT(a, now, ...)                                                                        \
    do {                                                                                           \
        const char *const want_[] = {__VA_ARGS__};                                                 \
        expect_cycle((a), (now), want_, sizeof(want_) / sizeof(want_[0]));                         \
    } while (0)
#define EXPECT_NONE(a, now) expect_cycle((a), (now), NULL, 0)

static void assert_free(const struct cr_alloc *a, const char *agent, const char *want)
{
    struct cr_resources rs;
    cr_resources_init(&rs);
    assert_int_equal(cr_alloc_agent_free(a, agent, &rs), 0);
    char buf[256];
    cr_resources_format(&rs, buf, sizeof(buf));
    assert_string_equal(buf, want);
    cr_resources_release(&rs);
}

static void assert_allocated(const struct cr_alloc *a, const char *fw, const char *want)
{
    struct cr_resources rs;
    cr_resources_init(&rs);
    cr_alloc_framework_allocated(a, fw, &rs);
    char buf[256];
    cr_resources_format(&rs, buf, sizeof(buf));
    assert_string_equal(buf, want);
    cr_resources_release(&rs);
}

/* ---- white-box invariants ---- */

static void verify_internal(const struct cr_alloc *a)
{
    /* free + records == total on every agent */
    for (uint32_t i = 0; i < a->agents.n; i++) {
        const struct agent *ag = AGENT(a, i);
        if (!ag->hdr.live)
            continue;
        struct cr_resources sum;
        cr_resources_init(&sum);
        assert_int_equal(cr_resources_copy(&sum, &ag->free), 0);
        uint32_t nf = 0;
        for (uint32_t rec = ag->recs; rec != NIL; rec = RECORD(a, rec)->a_next) {
            assert_int_equal(RECORD(a, rec)->agent, i);
            assert_false(cr_resources_is_empty(&RECORD(a, rec)->res));
            assert_int_equal(cr_resources_add(&sum, &RECORD(a, rec)->res), 0);
        }
        assert_true(cr_resources_equal(&sum, &ag->total));
        cr_resources_release(&sum);
        for (uint32_t f = ag->filters; f != NIL; f = FILTER(a, f)->a_next)
            nf++;
        assert_int_equal(nf, ag->nfilters);
    }
    /* client sums, role and framework sums */
    for (uint32_t ci = 0; ci < a->clients.n; ci++) {
        const struct client *c = CLIENT(a, ci);
        if (!c->hdr.live)
            continue;
        assert_true(c->subscribed || c->recs != NIL);
        struct qty q = {{0}}, one;
        for (uint32_t rec = c->recs; rec != NIL; rec = RECORD(a, rec)->c_next) {
            cr_alloc__qty_of(&RECORD(a, rec)->res, &one);
            cr_alloc__qty_add(&q, &one, +1);
        }
        assert_memory_equal(&q, &c->alloc, sizeof(q));
    }
    for (uint32_t ri = 0; ri < a->roles.n; ri++) {
        const struct role *r = ROLE(a, ri);
        if (!r->hdr.live)
            continue;
        struct qty q = {{0}};
        for (uint32_t k = 0; k < r->nclients; k++) {
            assert_int_equal(CLIENT(a, r->clients[k])->role, ri);
            cr_alloc__qty_add(&q, &CLIENT(a, r->clients[k])->alloc, +1);
        }
        assert_memory_equal(&q, &r->alloc, sizeof(q));
        assert_int_equal(r->in_order, r->nclients > 0);
        if (a->sort_stale)
            continue;
        for (uint32_t k = 0; k < r->nclients; k++) {
            const struct client *c = CLIENT(a, r->clients[k]);
            assert_true(c->share == cr_alloc__dominant(&c->alloc, &a->sort_total));
            if (k == 0)
                continue;
            const struct client *p = CLIENT(a, r->clients[k - 1]);
            assert_true(p->share < c->share ||
                        (p->share == c->share &&
                         strcmp(FRAMEWORK(a, p->fw)->id, FRAMEWORK(a, c->fw)->id) < 0));
        }
    }
    for (uint32_t fi = 0; fi < a->frameworks.n; fi++) {
        const struct framework *fw = FRAMEWORK(a, fi);
        if (!fw->hdr.live)
            continue;
        struct qty q = {{0}};
        for (uint32_t k = 0; k < fw->nclients; k++)
            cr_alloc__qty_add(&q, &CLIENT(a, fw->clients[k])->alloc, +1);
        assert_memory_equal(&q, &fw->alloc, sizeof(q));
    }
    if (!a->sort_stale) {
        for (uint32_t i = 0; i < a->nrole_order; i++) {
            const struct role *r = ROLE(a, a->role_order[i]);
            assert_true(r->share == cr_alloc__dominant(&r->alloc, &a->sort_total) / r->weight);
            if (i == 0)
                continue;
            const struct role *p = ROLE(a, a->role_order[i - 1]);
            assert_true(p->share < r->share ||
                        (p->share == r->share && strcmp(p->name, r->name) < 0));
        }
    }
    /* shared filter bags: references add up */
    uint32_t refs = 0;
    for (uint32_t i = 0; i < a->fress.n; i++)
        if (FRES(a, i)->hdr.live) {
            assert_true(FRES(a, i)->refs > 0);
            refs += FRES(a, i)->refs;
        }
    assert_int_equal(refs, a->filters.live);
    /* the expiry heap */
    assert_int_equal(a->nheap, a->filters.live);
    for (uint32_t i = 0; i < a->nheap; i++) {
        assert_int_equal(FILTER(a, a->heap[i])->heap_idx, i);
        if (i)
            assert_true(FILTER(a, a->heap[(i - 1) / 2])->expires_ms <=
                        FILTER(a, a->heap[i])->expires_ms);
    }
}

/* ---- directed cases ---- */

static void test_single_offer(void **state)
{
    (void)state;
    struct cr_alloc *a = cr_alloc_new();
    assert_false(cr_alloc_is_dirty(a));
    add_agent(a, "S1", "cpus:4;mem:1024;ports:[31000-32000]");
    assert_true(cr_alloc_is_dirty(a));
    add_fw(a, "F1", "*");
    EXPECT(a, 0, "F1 S1 * cpus:4;mem:1024;ports:[31000-32000]");
    EXPECT_NONE(a, 1);
    assert_free(a, "S1", "");
    assert_allocated(a, "F1", "cpus:4;mem:1024;ports:[31000-32000]");
    assert_true(cr_alloc_framework_share(a, "F1") == 1.0);
    assert_true(cr_alloc_framework_share(a, "nope") == -1);
    assert_true(cr_alloc_role_share(a, "*") == 1.0);
    assert_int_equal(cr_alloc_agent_count(a), 1);
    assert_int_equal(cr_alloc_framework_count(a), 1);
    struct cr_resources rs;
    cr_resources_init(&rs);
    assert_int_equal(cr_alloc_agent_free(a, "S9", &rs), -ENOENT);
    verify_internal(a);
    cr_alloc_free(a);
    cr_alloc_free(NULL);
}

static void test_drf_order(void **state)
{
    (void)state;
    struct cr_alloc *a = cr_alloc_new();
    for (int i = 1; i <= 4; i++) {
        char id[32];
        snprintf(id, sizeof(id), "S%d", i);
        add_agent(a, id, "cpus:4;mem:4096");
    }
    add_fw(a, "F1", "*");
    add_fw(a, "F2", "*");
    allocate(a, "S1", "F1", "*", "cpus:2;mem:512");
    /* S1: F2 (0) < F1 (.125); S2: F1 (.125) < F2 (.219); S3: F2 (.219) < F1 (.375);
     * S4: F1 (.375) < F2 (.469 on mem) */
    EXPECT(a, 0, "F2 S1 * cpus:2;mem:3584", "F1 S2 * cpus:4;mem:4096", "F2 S3 * cpus:4;mem:4096",
           "F1 S4 * cpus:4;mem:4096");
    assert_true(cr_alloc_framework_share(a, "F1") == 10.0 / 16.0);
    assert_true(cr_alloc_framework_share(a, "F2") == (3584.0 + 4096.0) / 16384.0);
    verify_internal(a);
    cr_alloc_free(a);
}

static void test_fairness(void **state)
{
    (void)state;
    struct cr_alloc *a = cr_alloc_new();
    char id[32];
    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof(id), "S%02d", i);
        add_agent(a, id, "cpus:2;mem:1024");
    }
    add_fw(a, "F3", "*");
    add_fw(a, "F1", "*");
    add_fw(a, "F2", "*");
    struct cr_alloc_result r;
    cr_alloc_result_init(&r);
    cr_alloc_cycle(a, 0, &r);
    assert_int_equal(r.n, 30);
    int count[3] = {0};
    for (size_t i = 0; i < r.n; i++) {
        /* equal shares at every step: ties go by id, so the offers rotate F1, F2, F3 */
        char want[32];
        snprintf(want, sizeof(want), "F%zu", i % 3 + 1);
        assert_string_equal(r.offers[i].framework_id, want);
        snprintf(id, sizeof(id), "S%02zu", i);
        assert_string_equal(r.offers[i].agent_id, id);
        count[r.offers[i].framework_id[1] - '1']++;
    }
    assert_int_equal(count[0], 10);
    assert_int_equal(count[1], 10);
    assert_int_equal(count[2], 10);
    cr_alloc_result_release(&r);
    verify_internal(a);
    cr_alloc_free(a);
}

static void test_weights(void **state)
{
    (void)state;
    struct cr_alloc *a = cr_alloc_new();
    struct cr_err err;
    char id[32];
    for (int i = 1; i <= 6; i++) {
        snprintf(id, sizeof(id), "S%d", i);
        add_agent(a, id, "cpus:1;mem:100");
    }
    add_fw(a, "A", "a");
    add_fw(a, "B", "b");
    assert_int_equal(cr_alloc_set_weight(a, "a", 2.0, &err), 0);
    assert_int_equal(cr_alloc_set_weight(a, "a", 0, &err), -EINVAL);
    assert_int_equal(cr_alloc_set_weight(a, "a", -1, &err), -EINVAL);
    assert_int_equal(cr_alloc_set_weight(a, "", 1, &err), -EINVAL);
    /* weighted shares: a = n_a/6/2, b = n_b/6; ties by role name */
    EXPECT(a, 0, "A S1 a cpus:1;mem:100", "B S2 b cpus:1;mem:100", "A S3 a cpus:1;mem:100",
           "A S4 a cpus:1;mem:100", "B S5 b cpus:1;mem:100", "A S6 a cpus:1;mem:100");
    assert_true(cr_alloc_role_share(a, "a") == (4.0 / 6.0) / 2.0);
    assert_true(cr_alloc_role_share(a, "b") == 2.0 / 6.0);
    /* a weight on a role with no frameworks is kept for when one arrives */
    assert_int_equal(cr_alloc_set_weight(a, "c", 3.0, &err), 0);
    assert_true(cr_alloc_role_share(a, "c") == 0);
    verify_internal(a);
    cr_alloc_free(a);
}

static void test_reserved_vs_unreserved(void **state)
{
    (void)state;
    struct cr_alloc *a = cr_alloc_new();
    add_agent(a, "S1", "cpus:2;mem:1024;cpus(a):2;mem(a):512");
    add_fw(a, "Fany", "*");
    add_fw(a, "Fa", "a");
    /* "*" sorts before "a": it takes the unreserved part, then "a" its reservation */
    EXPECT(a, 0, "Fany S1 * cpus:2;mem:1024", "Fa S1 a cpus(a):2;mem(a):512");
    /* reserved resources never go to another role: decline them, remove Fa, nothing */
    recover(a, "S1", "Fa", "a", "cpus(a):2;mem(a):512", 0, 0);
    cr_alloc_remove_framework(a, "Fa");
    EXPECT_NONE(a, 1);
    assert_free(a, "S1", "cpus(a):2;mem(a):512");
    /* when role a ranks first it receives unreserved and reserved together */
    add_agent(a, "S0", "cpus:4;mem:2048;cpus(a):1;mem(a):64");
    add_fw(a, "Fa", "a");
    EXPECT(a, 2, "Fa S0 a cpus:4;cpus(a):1;mem:2048;mem(a):64", "Fa S1 a cpus(a):2;mem(a):512");
    verify_internal(a);
    cr_alloc_free(a);
}

static void test_filters(void **state)
{
    (void)state;
    struct cr_alloc *a = cr_alloc_new();
    add_agent(a, "S1", "cpus:4;mem:1024");
    add_fw(a, "F1", "*");
    EXPECT(a, 0, "F1 S1 * cpus:4;mem:1024");
    assert_int_equal(cr_alloc_next_event_ms(a), INT64_MAX);
    recover(a, "S1", "F1", "*", "cpus:4;mem:1024", 5000, 0);
    assert_true(cr_alloc_is_dirty(a));
    assert_int_equal(cr_alloc_filter_count(a), 1);
    assert_int_equal(cr_alloc_next_event_ms(a), 5000);
    EXPECT_NONE(a, 1000);
    EXPECT_NONE(a, 4999);
    assert_int_equal(cr_alloc_filter_count(a), 1);
    EXPECT(a, 5000, "F1 S1 * cpus:4;mem:1024");
    assert_int_equal(cr_alloc_filter_count(a), 0);
    assert_int_equal(cr_alloc_next_event_ms(a), INT64_MAX);

    /* a declined agent goes to the next framework */
    add_fw(a, "F2", "*");
    recover(a, "S1", "F1", "*", "cpus:4;mem:1024", 5000, 6000);
    EXPECT(a, 6000, "F2 S1 * cpus:4;mem:1024");
    verify_internal(a);
    cr_alloc_free(a);
}

static void test_filter_lifted_by_more_resources(void **state)
{
    (void)state;
    struct cr_alloc *a = cr_alloc_new();
    add_agent(a, "S1", "cpus:4;mem:1024");
    add_fw(a, "F1", "*");
    add_fw(a, "F2", "*");
    allocate(a, "S1", "F2", "*", "cpus:2");
    cr_alloc_set_framework_active(a, "F2", false);
    EXPECT(a, 0, "F1 S1 * cpus:2;mem:1024");
    recover(a, "S1", "F1", "*", "cpus:2;mem:1024", 60000, 0);
    EXPECT_NONE(a, 10);
    /* F2's task ends: S1 now has more than F1 declined, so the filter does not apply */
    recover(a, "S1", "F2", "*", "cpus:2", 0, 20);
    EXPECT(a, 20, "F1 S1 * cpus:4;mem:1024");
    /* the filter is still there for when S1 is back to what was declined */
    assert_int_equal(cr_alloc_filter_count(a), 1);
    recover(a, "S1", "F1", "*", "cpus:2", 0, 30);
    EXPECT_NONE(a, 30);
    assert_free(a, "S1", "cpus:2");
    /* a filter with a huge refuse time saturates instead of overflowing */
    recover(a, "S1", "F1", "*", "cpus:2;mem:1024", INT64_MAX, 40);
    assert_int_equal(cr_alloc_next_event_ms(a), INT64_MAX);
    /* ...and it replaced the older filter it covers */
    assert_int_equal(cr_alloc_filter_count(a), 1);
    /* S1 has cpus:4 free again, more than the new filter covers */
    EXPECT(a, 100000, "F1 S1 * cpus:4;mem:1024");
    verify_internal(a);
    cr_alloc_free(a);
}

static void test_revive_clears_filters(void **state)
{
    (void)state;
    struct cr_alloc *a = cr_alloc_new();
    add_agent(a, "S1", "cpus:1;mem:64");
    add_agent(a, "S2", "cpus:1;mem:64");
    add_fw(a, "F1", "*");
    EXPECT(a, 0, "F1 S1 * cpus:1;mem:64", "F1 S2 * cpus:1;mem:64");
    recover(a, "S1", "F1", "*", "cpus:1;mem:64", 100000, 0);
    recover(a, "S2", "F1", "*", "cpus:1;mem:64", 100000, 0);
    EXPECT_NONE(a, 1);
    assert_int_equal(cr_alloc_filter_count(a), 2);
    cr_alloc_revive(a, "F1", NULL, 0);
    assert_true(cr_alloc_is_dirty(a));
    assert_int_equal(cr_alloc_filter_count(a), 0);
    assert_int_equal(cr_alloc_next_event_ms(a), INT64_MAX);
    EXPECT(a, 2, "F1 S1 * cpus:1;mem:64", "F1 S2 * cpus:1;mem:64");
    cr_alloc_revive(a, "nope", NULL, 0);
    verify_internal(a);
    cr_alloc_free(a);
}

static void test_suppress_revive_per_role(void **state)
{
    (void)state;
    struct cr_alloc *a = cr_alloc_new();
    struct cr_err err;
    add_agent(a, "S1", "cpus(a):1;mem(a):64;cpus(b):1;mem(b):64");
    const char *roles[] = {"a", "b"};
    assert_int_equal(cr_alloc_add_framework(a, "F1", roles, 2, &err), 0);
    const char *ra[] = {"a"};
    cr_alloc_suppress(a, "F1", ra, 1);
    EXPECT(a, 0, "F1 S1 b cpus(b):1;mem(b):64");
    cr_alloc_revive(a, "F1", ra, 1);
    EXPECT(a, 1, "F1 S1 a cpus(a):1;mem(a):64");
    recover(a, "S1", "F1", "a", "cpus(a):1;mem(a):64", 0, 2);
    recover(a, "S1", "F1", "b", "cpus(b):1;mem(b):64", 0, 2);
    cr_alloc_suppress(a, "F1", NULL, 0);
    EXPECT_NONE(a, 3);
    const char *rb[] = {"b"};
    cr_alloc_revive(a, "F1", rb, 1);
    EXPECT(a, 4, "F1 S1 b cpus(b):1;mem(b):64");
    cr_alloc_revive(a, "F1", NULL, 0);
    EXPECT(a, 5, "F1 S1 a cpus(a):1;mem(a):64");
    /* suppressing a role the framework is not in changes nothing */
    const char *rc[] = {"c"};
    cr_alloc_suppress(a, "F1", rc, 1);
    cr_alloc_suppress(a, "nope", NULL, 0);
    verify_internal(a);
    cr_alloc_free(a);
}

static void test_inactive(void **state)
{
    (void)state;
    struct cr_alloc *a = cr_alloc_new();
    add_agent(a, "S1", "cpus:1;mem:64");
    add_agent(a, "S2", "cpus:1;mem:64");
    add_fw(a, "F1", "*");
    add_fw(a, "F2", "*");
    cr_alloc_set_framework_active(a, "F1", false);
    cr_alloc_set_agent_active(a, "S2", false);
    EXPECT(a, 0, "F2 S1 * cpus:1;mem:64");
    cr_alloc_set_agent_active(a, "S2", true);
    assert_true(cr_alloc_is_dirty(a));
    EXPECT(a, 1, "F2 S2 * cpus:1;mem:64");
    /* inactive frameworks keep what they hold */
    cr_alloc_set_framework_active(a, "F2", false);
    assert_false(cr_alloc_is_dirty(a));
    assert_allocated(a, "F2", "cpus:2;mem:128");
    recover(a, "S1", "F2", "*", "cpus:1;mem:64", 0, 2);
    EXPECT_NONE(a, 2);
    cr_alloc_set_framework_active(a, "F1", true);
    assert_true(cr_alloc_is_dirty(a));
    EXPECT(a, 3, "F1 S1 * cpus:1;mem:64");
    cr_alloc_set_agent_active(a, "nope", true);
    cr_alloc_set_framework_active(a, "nope", true);
    verify_internal(a);
    cr_alloc_free(a);
}

static void test_min_allocatable(void **state)
{
    (void)state;
    struct cr_alloc *a = cr_alloc_new();
    struct cr_err err;
    add_agent(a, "S1", "cpus:0.009;mem:31.999;disk:100;ports:[1-10]");
    add_agent(a, "S2", "cpus:0.01");
    add_agent(a, "S3", "mem:32");
    add_agent(a, "S4", "disk:1000;ports:[1-1000]");
    add_fw(a, "F1", "*");
    EXPECT(a, 0, "F1 S2 * cpus:0.01", "F1 S3 * mem:32");
    assert_int_equal(cr_alloc_set_min_allocatable(a, -1, 0, &err), -EINVAL);
    assert_int_equal(cr_alloc_set_min_allocatable(a, 0, 0, &err), 0);
    EXPECT(a, 1, "F1 S1 * cpus:0.009;disk:100;mem:31.999;ports:[1-10]",
           "F1 S4 * disk:1000;ports:[1-1000]");
    verify_internal(a);
    cr_alloc_free(a);
}

static void test_allocate_checks_fit(void **state)
{
    (void)state;
    struct cr_alloc *a = cr_alloc_new();
    struct cr_err err;
    add_agent(a, "S1", "cpus:4;mem:1024;ports:[31000-31010];cpus(r):1");
    add_fw(a, "F1", "*");
    struct cr_resources big = res("cpus:5"), ok = res("cpus:1;ports:[31005-31005]"),
                        resv = res("cpus(r):1");
    assert_int_equal(cr_alloc_allocate(a, "S9", "F1", "*", &ok, &err), -ENOENT);
    assert_int_equal(cr_alloc_allocate(a, "S1", "F9", "*", &ok, &err), -ENOENT);
    assert_int_equal(cr_alloc_allocate(a, "S1", "F1", "*", &big, &err), -ERANGE);
    assert_string_equal(err.msg, "allocate on agent 'S1': cpus(*): need 5, have 4");
    assert_int_equal(cr_alloc_allocate(a, "S1", "F1", "*", &resv, &err), -EINVAL);
    assert_int_equal(cr_alloc_allocate(a, "S1", "F1", "", &ok, &err), -EINVAL);
    assert_free(a, "S1", "cpus:4;cpus(r):1;mem:1024;ports:[31000-31010]");
    assert_int_equal(cr_alloc_allocate(a, "S1", "F1", "*", &ok, &err), 0);
    assert_free(a, "S1", "cpus:3;cpus(r):1;mem:1024;ports:[31000-31004,31006-31010]");
    assert_int_equal(cr_alloc_allocate(a, "S1", "F1", "*", &ok, &err), -ERANGE);
    assert_string_equal(err.msg, "allocate on agent 'S1': ports(*): need [31005-31005], have "
                                 "[31000-31004,31006-31010]");
    /* a role the framework is not subscribed to (tasks found running) is accepted */
    assert_int_equal(cr_alloc_allocate(a, "S1", "F1", "r", &resv, &err), 0);
    assert_allocated(a, "F1", "cpus:1;cpus(r):1;ports:[31005-31005]");
    EXPECT(a, 0, "F1 S1 * cpus:3;mem:1024;ports:[31000-31004,31006-31010]");
    assert_free(a, "S1", "");
    verify_internal(a);
    cr_resources_release(&big);
    cr_resources_release(&ok);
    cr_resources_release(&resv);
    cr_alloc_free(a);
}

static void test_update_agent(void **state)
{
    (void)state;
    struct cr_alloc *a = cr_alloc_new();
    struct cr_err err;
    add_agent(a, "S1", "cpus:4;mem:1024");
    add_fw(a, "F1", "*");
    allocate(a, "S1", "F1", "*", "cpus:2;mem:100");
    struct cr_resources small = res("cpus:1;mem:1024"), large = res("cpus:8;mem:2048;disk:10");
    assert_int_equal(cr_alloc_update_agent(a, "S1", &small, &err), -EINVAL);
    assert_string_equal(err.msg,
                        "update agent 'S1': allocation does not fit: cpus(*): need 2, have 1");
    assert_free(a, "S1", "cpus:2;mem:924");
    assert_int_equal(cr_alloc_update_agent(a, "S9", &large, &err), -ENOENT);
    assert_int_equal(cr_alloc_update_agent(a, "S1", &large, &err), 0);
    assert_free(a, "S1", "cpus:6;disk:10;mem:1948");
    assert_true(cr_alloc_framework_share(a, "F1") == 2.0 / 8.0);
    EXPECT(a, 0, "F1 S1 * cpus:6;disk:10;mem:1948");
    verify_internal(a);
    cr_resources_release(&small);
    cr_resources_release(&large);
    cr_alloc_free(a);
}

static void test_remove_agent_with_allocations(void **state)
{
    (void)state;
    struct cr_alloc *a = cr_alloc_new();
    add_agent(a, "S1", "cpus:2;mem:100");
    add_agent(a, "S2", "cpus:2;mem:100");
    add_fw(a, "F1", "*");
    EXPECT(a, 0, "F1 S1 * cpus:2;mem:100", "F1 S2 * cpus:2;mem:100");
    recover(a, "S2", "F1", "*", "cpus:2;mem:100", 1000, 0);
    assert_int_equal(cr_alloc_filter_count(a), 1);
    cr_alloc_remove_agent(a, "S2");
    assert_int_equal(cr_alloc_filter_count(a), 0);
    assert_allocated(a, "F1", "cpus:2;mem:100");
    assert_true(cr_alloc_framework_share(a, "F1") == 1.0);
    cr_alloc_remove_agent(a, "S1");
    assert_allocated(a, "F1", "");
    assert_true(cr_alloc_framework_share(a, "F1") == 0);
    cr_alloc_remove_agent(a, "S1");
    assert_int_equal(cr_alloc_agent_count(a), 0);
    /* a removed agent can come back */
    add_agent(a, "S1", "cpus:1;mem:50");
    EXPECT(a, 1, "F1 S1 * cpus:1;mem:50");
    verify_internal(a);
    cr_alloc_free(a);
}

static void test_remove_framework_with_allocations(void **state)
{
    (void)state;
    struct cr_alloc *a = cr_alloc_new();
    struct cr_err err;
    add_agent(a, "S1", "cpus:2;mem:100;cpus(r):1;mem(r):10");
    const char *roles[] = {"*", "r"};
    assert_int_equal(cr_alloc_add_framework(a, "F1", roles, 2, &err), 0);
    assert_int_equal(cr_alloc_add_framework(a, "F1", roles, 2, &err), -EEXIST);
    assert_int_equal(cr_alloc_add_framework(a, "F0", roles, 0, &err), -EINVAL);
    const char *bad[] = {""};
    assert_int_equal(cr_alloc_add_framework(a, "F0", bad, 1, &err), -EINVAL);
    add_fw(a, "F2", "r");
    /* roles "*" and "r" tie at 0 and "*" sorts first; in "r" F1 and F2 tie, F1 first */
    EXPECT(a, 0, "F1 S1 * cpus:2;mem:100", "F1 S1 r cpus(r):1;mem(r):10");
    recover(a, "S1", "F1", "*", "cpus:1", 100000, 0);
    cr_alloc_remove_framework(a, "F1");
    assert_int_equal(cr_alloc_filter_count(a), 0);
    assert_free(a, "S1", "cpus:2;cpus(r):1;mem:100;mem(r):10");
    assert_int_equal(cr_alloc_framework_count(a), 1);
    cr_alloc_remove_framework(a, "F1");
    EXPECT(a, 1, "F2 S1 r cpus:2;cpus(r):1;mem:100;mem(r):10");
    /* the role "*" went away with its last framework; "r" stays */
    assert_true(cr_alloc_role_share(a, "*") == -1);
    assert_true(cr_alloc_role_share(a, "r") > 0);
    verify_internal(a);
    cr_alloc_free(a);
}

static void test_recover_edges(void **state)
{
    (void)state;
    struct cr_alloc *a = cr_alloc_new();
    add_agent(a, "S1", "cpus:4;mem:100;ports:[1-10]");
    add_fw(a, "F1", "*");
    allocate(a, "S1", "F1", "*", "cpus:2;ports:[1-5]");
    /* unknown ids are ignored */
    recover(a, "S9", "F1", "*", "cpus:2", 0, 0);
    recover(a, "S1", "F9", "*", "cpus:2", 0, 0);
    recover(a, "S1", "F1", "zz", "cpus:2", 0, 0);
    assert_free(a, "S1", "cpus:2;mem:100;ports:[6-10]");
    /* more than held: only what is held comes back, never minted resources */
    recover(a, "S1", "F1", "*", "cpus:3;mem:5;ports:[4-7]", 0, 0);
    assert_free(a, "S1", "cpus:4;mem:100;ports:[4-10]");
    assert_allocated(a, "F1", "ports:[1-3]");
    recover(a, "S1", "F1", "*", "ports:[1-3]", 0, 0);
    assert_allocated(a, "F1", "");
    assert_free(a, "S1", "cpus:4;mem:100;ports:[1-10]");
    recover(a, "S1", "F1", "*", "cpus:1", 0, 0);
    assert_free(a, "S1", "cpus:4;mem:100;ports:[1-10]");
    verify_internal(a);
    cr_alloc_free(a);
}

static void test_dirty_and_next_event(void **state)
{
    (void)state;
    struct cr_alloc *a = cr_alloc_new();
    struct cr_err err;
    add_fw(a, "F1", "*");
    assert_true(cr_alloc_is_dirty(a));
    EXPECT_NONE(a, 0);
    assert_int_equal(cr_alloc_add_agent(a, "S1", &(struct cr_resources){0}, &err), 0);
    assert_int_equal(cr_alloc_add_agent(a, "S1", &(struct cr_resources){0}, &err), -EEXIST);
    assert_true(cr_alloc_is_dirty(a));
    EXPECT_NONE(a, 0);
    cr_alloc_set_agent_active(a, "S1", false);
    assert_false(cr_alloc_is_dirty(a));
    cr_alloc_set_agent_active(a, "S1", true);
    assert_true(cr_alloc_is_dirty(a));
    EXPECT_NONE(a, 0);
    assert_int_equal(cr_alloc_set_weight(a, "*", 2, &err), 0);
    assert_true(cr_alloc_is_dirty(a));
    EXPECT_NONE(a, 0);
    add_agent(a, "S2", "cpus:1;mem:64");
    EXPECT(a, 0, "F1 S2 * cpus:1;mem:64");
    recover(a, "S2", "F1", "*", "cpus:1;mem:64", 300, 100);
    recover(a, "S2", "F1", "*", "", 50, 100); /* nothing: no filter, no change */
    assert_int_equal(cr_alloc_filter_count(a), 1);
    assert_int_equal(cr_alloc_next_event_ms(a), 400);
    EXPECT_NONE(a, 200);
    assert_false(cr_alloc_is_dirty(a));
    EXPECT(a, 400, "F1 S2 * cpus:1;mem:64");
    verify_internal(a);
    cr_alloc_free(a);
}

static void test_update_framework_roles(void **state)
{
    (void)state;
    struct cr_alloc *a = cr_alloc_new();
    struct cr_err err;
    add_agent(a, "S1", "cpus(a):1;mem(a):64;cpus(b):1;mem(b):64");
    add_fw(a, "F1", "a");
    EXPECT(a, 0, "F1 S1 a cpus(a):1;mem(a):64");
    const char *rb[] = {"b"};
    assert_int_equal(cr_alloc_update_framework(a, "F1", rb, 1, &err), 0);
    assert_int_equal(cr_alloc_update_framework(a, "F9", rb, 1, &err), -ENOENT);
    assert_int_equal(cr_alloc_update_framework(a, "F1", rb, 0, &err), -EINVAL);
    EXPECT(a, 1, "F1 S1 b cpus(b):1;mem(b):64");
    /* what it holds in the old role stays allocated until recovered */
    assert_allocated(a, "F1", "cpus(a):1;cpus(b):1;mem(a):64;mem(b):64");
    recover(a, "S1", "F1", "a", "cpus(a):1;mem(a):64", 0, 2);
    assert_free(a, "S1", "cpus(a):1;mem(a):64");
    EXPECT_NONE(a, 2);
    assert_true(cr_alloc_role_share(a, "a") == -1);
    const char *rab[] = {"a", "b", "a"};
    assert_int_equal(cr_alloc_update_framework(a, "F1", rab, 3, &err), 0);
    EXPECT(a, 3, "F1 S1 a cpus(a):1;mem(a):64");
    verify_internal(a);
    cr_alloc_free(a);
}

static void test_order_independent_of_insertion(void **state)
{
    (void)state;
    struct lines x, y;
    for (int pass = 0; pass < 2; pass++) {
        struct cr_alloc *a = cr_alloc_new();
        char id[32];
        for (int i = 0; i < 20; i++) {
            int k = pass ? 19 - i : i;
            snprintf(id, sizeof(id), "S%02d", k);
            add_agent(a, id, k % 2 ? "cpus:2;mem:512" : "cpus:1;mem:2048");
        }
        add_fw(a, pass ? "F2" : "F1", "*");
        add_fw(a, pass ? "F1" : "F2", "*");
        struct cr_alloc_result r;
        cr_alloc_result_init(&r);
        cr_alloc_cycle(a, 0, &r);
        describe(&r, pass ? &y : &x);
        cr_alloc_result_release(&r);
        cr_alloc_free(a);
    }
    assert_int_equal(x.n, 20);
    assert_int_equal(x.n, y.n);
    for (size_t i = 0; i < x.n; i++)
        assert_string_equal(x.v[i], y.v[i]);
}

/* ---- the naive reference ---- */

#define R_AGENTS 10
#define R_FWS 6
#define R_ROLES 4

static const char *const r_roles[R_ROLES] = {"*", "a", "b", "c"};

struct r_filter {
    int ag, fw, role;
    struct cr_resources res;
    int64_t expires;
};

struct ref {
    struct {
        bool live, active;
        char id[32];
        struct cr_resources total, free;
    } ag[R_AGENTS];
    struct {
        bool live, active;
        char id[32];
        bool sub[R_ROLES], supp[R_ROLES];
    } fw[R_FWS];
    struct cr_resources hold[R_AGENTS][R_FWS][R_ROLES];
    double weight[R_ROLES];
    struct r_filter *filters;
    size_t nfilters, capfilters;
};

static void ref_init(struct ref *r)
{
    memset(r, 0, sizeof(*r));
    for (int k = 0; k < R_ROLES; k++)
        r->weight[k] = 1.0;
}

static void ref_release(struct ref *r)
{
    for (int i = 0; i < R_AGENTS; i++) {
        cr_resources_release(&r->ag[i].total);
        cr_resources_release(&r->ag[i].free);
        for (int f = 0; f < R_FWS; f++)
            for (int k = 0; k < R_ROLES; k++)
                cr_resources_release(&r->hold[i][f][k]);
    }
    for (size_t i = 0; i < r->nfilters; i++)
        cr_resources_release(&r->filters[i].res);
    free(r->filters);
}

static void ref_filter_drop(struct ref *r, size_t i)
{
    cr_resources_release(&r->filters[i].res);
    r->filters[i] = r->filters[--r->nfilters];
}

static void ref_qty(const struct cr_resources *rs, double q[NKINDS])
{
    static const char *const kinds[NKINDS] = {"cpus", "mem", "disk", "gpus"};
    for (int k = 0; k < NKINDS; k++)
        q[k] = (double)cr_resources_scalar(rs, kinds[k]);
}

static double ref_dominant(const double alloc[NKINDS], const double total[NKINDS])
{
    double share = 0;
    for (int k = 0; k < NKINDS; k++) {
        if (total[k] <= 0)
            continue;
        double s = alloc[k] / total[k];
        if (s > share)
            share = s;
    }
    return share;
}

static void ref_total(const struct ref *r, double total[NKINDS])
{
    double q[NKINDS];
    memset(total, 0, sizeof(double) * NKINDS);
    for (int i = 0; i < R_AGENTS; i++) {
        if (!r->ag[i].live)
            continue;
        ref_qty(&r->ag[i].total, q);
        for (int k = 0; k < NKINDS; k++)
            total[k] += q[k];
    }
}

/* Allocation of framework fw in role (role < 0: all roles). */
static void ref_alloc_of(const struct ref *r, int fw, int role, double out[NKINDS])
{
    double q[NKINDS];
    memset(out, 0, sizeof(double) * NKINDS);
    for (int i = 0; i < R_AGENTS; i++)
        for (int f = 0; f < R_FWS; f++)
            for (int k = 0; k < R_ROLES; k++) {
                if ((fw >= 0 && f != fw) || (role >= 0 && k != role))
                    continue;
                ref_qty(&r->hold[i][f][k], q);
                for (int j = 0; j < NKINDS; j++)
                    out[j] += q[j];
            }
}

static double ref_role_share(const struct ref *r, int role, const double total[NKINDS])
{
    double q[NKINDS];
    ref_alloc_of(r, -1, role, q);
    return ref_dominant(q, total) / r->weight[role];
}

static double ref_client_share(const struct ref *r, int fw, int role, const double total[NKINDS])
{
    double q[NKINDS];
    ref_alloc_of(r, fw, role, q);
    return ref_dominant(q, total);
}

struct keyed {
    double share;
    const char *name;
    int idx;
};

static int keyed_cmp(const void *x, const void *y)
{
    const struct keyed *p = x, *q = y;
    if (p->share != q->share)
        return p->share < q->share ? -1 : 1;
    return strcmp(p->name, q->name);
}

static bool ref_allocatable(const struct cr_resources *avail)
{
    return !cr_resources_is_empty(avail) &&
           (cr_resources_scalar(avail, "cpus") >= 10 || cr_resources_scalar(avail, "mem") >= 32000);
}

static bool ref_filtered(const struct ref *r, int ag, int fw, int role,
                         const struct cr_resources *avail)
{
    for (size_t i = 0; i < r->nfilters; i++) {
        const struct r_filter *f = &r->filters[i];
        if (f->ag == ag && f->fw == fw && f->role == role && cr_resources_contains(&f->res, avail))
            return true;
    }
    return false;
}

/* Drop filters of (framework, role) pairs that are neither subscribed nor holding anything. */
static void ref_gc_filters(struct ref *r)
{
    for (size_t i = 0; i < r->nfilters;) {
        struct r_filter *f = &r->filters[i];
        bool holds = false;
        for (int g = 0; g < R_AGENTS && !holds; g++)
            holds = !cr_resources_is_empty(&r->hold[g][f->fw][f->role]);
        if (!r->fw[f->fw].sub[f->role] && !holds)
            ref_filter_drop(r, i);
        else
            i++;
    }
}

static void ref_cycle(struct ref *r, int64_t now, struct lines *out)
{
    out->n = 0;
    for (size_t i = 0; i < r->nfilters;) {
        if (r->filters[i].expires <= now)
            ref_filter_drop(r, i);
        else
            i++;
    }
    double total[NKINDS];
    ref_total(r, total);
    struct keyed agents[R_AGENTS];
    int nag = 0;
    for (int i = 0; i < R_AGENTS; i++)
        if (r->ag[i].live)
            agents[nag++] = (struct keyed){0, r->ag[i].id, i};
    qsort(agents, (size_t)nag, sizeof(agents[0]), keyed_cmp);
    for (int x = 0; x < nag; x++) {
        int ag = agents[x].idx;
        if (!r->ag[ag].active)
            continue;
        struct keyed order[R_ROLES];
        int nroles = 0;
        for (int k = 0; k < R_ROLES; k++) {
            bool any = false;
            for (int f = 0; f < R_FWS; f++)
                any |= r->fw[f].live && r->fw[f].sub[k];
            if (any)
                order[nroles++] = (struct keyed){ref_role_share(r, k, total), r_roles[k], k};
        }
        qsort(order, (size_t)nroles, sizeof(order[0]), keyed_cmp);
        for (int y = 0; y < nroles; y++) {
            int role = order[y].idx;
            struct cr_resources avail, part;
            cr_resources_init(&avail);
            cr_resources_init(&part);
            assert_int_equal(cr_resources_filter_role(&avail, &r->ag[ag].free, "*"), 0);
            if (role != 0) {
                assert_int_equal(cr_resources_filter_role(&part, &r->ag[ag].free, r_roles[role]),
                                 0);
                assert_int_equal(cr_resources_add(&avail, &part), 0);
            }
            cr_resources_release(&part);
            if (!ref_allocatable(&avail)) {
                cr_resources_release(&avail);
                continue;
            }
            struct keyed fws[R_FWS];
            int nfw = 0;
            for (int f = 0; f < R_FWS; f++)
                if (r->fw[f].live && r->fw[f].sub[role])
                    fws[nfw++] =
                        (struct keyed){ref_client_share(r, f, role, total), r->fw[f].id, f};
            qsort(fws, (size_t)nfw, sizeof(fws[0]), keyed_cmp);
            for (int z = 0; z < nfw; z++) {
                int f = fws[z].idx;
                if (!r->fw[f].active || r->fw[f].supp[role] || ref_filtered(r, ag, f, role, &avail))
                    continue;
                char buf[200];
                cr_resources_format(&avail, buf, sizeof(buf));
                snprintf(out->v[out->n++], sizeof(out->v[0]), "%s %s %s %s", r->fw[f].id,
                         r->ag[ag].id, r_roles[role], buf);
                assert_int_equal(cr_resources_subtract(&r->ag[ag].free, &avail, NULL), 0);
                assert_int_equal(cr_resources_add(&r->hold[ag][f][role], &avail), 0);
                break;
            }
            cr_resources_release(&avail);
        }
    }
}

/* ---- random operations applied to both ---- */

static uint64_t rng;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static uint64_t below(uint64_t n)
{
    return rnd() % n;
}

struct harness {
    struct cr_alloc *a;
    struct ref r;
    int64_t now;
    uint64_t seed;
    int step;
    size_t offers;
};

#define CHECK(h, cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            print_error("mismatch: %s (seed=%llu step=%d)\n", #cond,                               \
                        (unsigned long long)(h)->seed, (h)->step);                                 \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

static void random_agent_resources(struct cr_resources *rs)
{
    char text[256];
    static const char *const cpus[] = {"1", "2", "4", "0.5", "0.005", "8"};
    static const char *const mem[] = {"64", "1024", "4096", "16", "512"};
    int n = snprintf(text, sizeof(text), "cpus:%s;mem:%s", cpus[below(6)], mem[below(5)]);
    if (below(2))
        n += snprintf(text + n, sizeof(text) - (size_t)n, ";disk:%d", (int)(1 + below(1000)));
    if (below(2))
        n += snprintf(text + n, sizeof(text) - (size_t)n, ";ports:[31000-%d]",
                      31000 + (int)below(20));
    if (below(3) == 0)
        n += snprintf(text + n, sizeof(text) - (size_t)n, ";cpus(%s):%d;mem(%s):256",
                      r_roles[1 + below(3)], (int)(1 + below(3)), r_roles[1 + below(3)]);
    if (below(8) == 0)
        snprintf(text + n, sizeof(text) - (size_t)n, ";gpus:%d", (int)(1 + below(2)));
    struct cr_err err;
    cr_resources_init(rs);
    assert_int_equal(cr_resources_parse(rs, text, NULL, &err), 0);
}

/* Some of held (each entry with probability 1/2, scalars sometimes halved), maybe plus
 * something not held. */
static void random_part(const struct cr_resources *held, struct cr_resources *out)
{
    cr_resources_init(out);
    for (size_t i = 0; i < held->n; i++) {
        const struct cr_resource *e = &held->v[i];
        if (below(2))
            continue;
        if (e->type == CR_RES_SCALAR) {
            int64_t v = below(2) ? e->scalar : e->scalar / 2;
            assert_int_equal(cr_resources_add_scalar(out, e->name, e->role, v), 0);
        } else if (e->type == CR_RES_RANGES) {
            struct cr_range one = {e->ranges[0].begin, e->ranges[0].begin};
            assert_int_equal(cr_resources_add_ranges(out, e->name, e->role, &one, 1), 0);
        }
    }
    if (below(6) == 0)
        assert_int_equal(cr_resources_add_scalar(out, "cpus", "*", 1000), 0);
}

static void h_compare(struct harness *h)
{
    struct cr_alloc *a = h->a;
    struct ref *r = &h->r;
    double total[NKINDS];
    ref_total(r, total);
    for (int i = 0; i < R_AGENTS; i++) {
        struct cr_resources got;
        cr_resources_init(&got);
        int rc = cr_alloc_agent_free(a, r->ag[i].id[0] ? r->ag[i].id : "none", &got);
        CHECK(h, (rc == 0) == r->ag[i].live);
        if (r->ag[i].live)
            CHECK(h, cr_resources_equal(&got, &r->ag[i].free));
        cr_resources_release(&got);
    }
    for (int f = 0; f < R_FWS; f++) {
        if (!r->fw[f].live) {
            CHECK(h, !r->fw[f].id[0] || cr_alloc_framework_share(a, r->fw[f].id) == -1);
            continue;
        }
        struct cr_resources got, want;
        cr_resources_init(&got);
        cr_resources_init(&want);
        cr_alloc_framework_allocated(a, r->fw[f].id, &got);
        for (int i = 0; i < R_AGENTS; i++)
            for (int k = 0; k < R_ROLES; k++)
                assert_int_equal(cr_resources_add(&want, &r->hold[i][f][k]), 0);
        CHECK(h, cr_resources_equal(&got, &want));
        double q[NKINDS];
        ref_alloc_of(r, f, -1, q);
        CHECK(h, cr_alloc_framework_share(a, r->fw[f].id) == ref_dominant(q, total));
        cr_resources_release(&got);
        cr_resources_release(&want);
    }
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < r->nfilters; i++)
        if (r->filters[i].expires < next)
            next = r->filters[i].expires;
    CHECK(h, cr_alloc_filter_count(a) == r->nfilters);
    CHECK(h, cr_alloc_next_event_ms(a) == next);
    verify_internal(a);
}

static int pick_live_agent(const struct ref *r)
{
    int start = (int)below(R_AGENTS);
    for (int i = 0; i < R_AGENTS; i++)
        if (r->ag[(start + i) % R_AGENTS].live)
            return (start + i) % R_AGENTS;
    return -1;
}

static int pick_live_fw(const struct ref *r)
{
    int start = (int)below(R_FWS);
    for (int i = 0; i < R_FWS; i++)
        if (r->fw[(start + i) % R_FWS].live)
            return (start + i) % R_FWS;
    return -1;
}

/* A random non-empty role subset as names; returns how many. */
static size_t random_roles(const char **names, bool *mask)
{
    size_t n = 0;
    memset(mask, 0, sizeof(bool) * R_ROLES);
    while (n == 0)
        for (int k = 0; k < R_ROLES; k++)
            if (below(3) == 0 && !mask[k]) {
                mask[k] = true;
                names[n++] = r_roles[k];
            }
    return n;
}

static void h_step(struct harness *h)
{
    struct cr_alloc *a = h->a;
    struct ref *r = &h->r;
    struct cr_err err;
    uint64_t op = below(100);
    if (op < 8) { /* add agent */
        int i = (int)below(R_AGENTS);
        if (r->ag[i].live)
            return;
        snprintf(r->ag[i].id, sizeof(r->ag[i].id), "S%d", i);
        struct cr_resources t;
        random_agent_resources(&t);
        CHECK(h, cr_alloc_add_agent(a, r->ag[i].id, &t, &err) == 0);
        r->ag[i].live = r->ag[i].active = true;
        cr_resources_release(&r->ag[i].total);
        cr_resources_release(&r->ag[i].free);
        r->ag[i].total = t;
        cr_resources_init(&r->ag[i].free);
        assert_int_equal(cr_resources_copy(&r->ag[i].free, &t), 0);
    } else if (op < 10) { /* remove agent */
        int i = pick_live_agent(r);
        if (i < 0)
            return;
        cr_alloc_remove_agent(a, r->ag[i].id);
        r->ag[i].live = false;
        for (int f = 0; f < R_FWS; f++)
            for (int k = 0; k < R_ROLES; k++)
                cr_resources_release(&r->hold[i][f][k]);
        for (size_t x = 0; x < r->nfilters;) {
            if (r->filters[x].ag == i)
                ref_filter_drop(r, x);
            else
                x++;
        }
        ref_gc_filters(r);
    } else if (op < 14) { /* agent (in)active */
        int i = pick_live_agent(r);
        if (i < 0)
            return;
        bool on = below(3) != 0;
        cr_alloc_set_agent_active(a, r->ag[i].id, on);
        r->ag[i].active = on;
    } else if (op < 20) { /* add framework */
        int f = (int)below(R_FWS);
        if (r->fw[f].live)
            return;
        snprintf(r->fw[f].id, sizeof(r->fw[f].id), "F%d", f);
        const char *names[R_ROLES];
        bool mask[R_ROLES];
        size_t n = random_roles(names, mask);
        CHECK(h, cr_alloc_add_framework(a, r->fw[f].id, names, n, &err) == 0);
        r->fw[f].live = r->fw[f].active = true;
        memcpy(r->fw[f].sub, mask, sizeof(mask));
        memset(r->fw[f].supp, 0, sizeof(r->fw[f].supp));
    } else if (op < 22) { /* remove framework */
        int f = pick_live_fw(r);
        if (f < 0)
            return;
        cr_alloc_remove_framework(a, r->fw[f].id);
        r->fw[f].live = false;
        memset(r->fw[f].sub, 0, sizeof(r->fw[f].sub));
        for (int i = 0; i < R_AGENTS; i++)
            for (int k = 0; k < R_ROLES; k++) {
                assert_int_equal(cr_resources_add(&r->ag[i].free, &r->hold[i][f][k]), 0);
                cr_resources_release(&r->hold[i][f][k]);
            }
        for (size_t x = 0; x < r->nfilters;) {
            if (r->filters[x].fw == f)
                ref_filter_drop(r, x);
            else
                x++;
        }
    } else if (op < 26) { /* framework (in)active */
        int f = pick_live_fw(r);
        if (f < 0)
            return;
        bool on = below(3) != 0;
        cr_alloc_set_framework_active(a, r->fw[f].id, on);
        r->fw[f].active = on;
    } else if (op < 29) { /* update roles */
        int f = pick_live_fw(r);
        if (f < 0)
            return;
        const char *names[R_ROLES];
        bool mask[R_ROLES];
        size_t n = random_roles(names, mask);
        CHECK(h, cr_alloc_update_framework(a, r->fw[f].id, names, n, &err) == 0);
        for (int k = 0; k < R_ROLES; k++) {
            if (r->fw[f].sub[k] && !mask[k])
                r->fw[f].supp[k] = false;
            r->fw[f].sub[k] = mask[k];
        }
        ref_gc_filters(r);
    } else if (op < 33) { /* suppress */
        int f = pick_live_fw(r);
        if (f < 0)
            return;
        const char *names[R_ROLES];
        bool mask[R_ROLES];
        size_t n = below(3) ? random_roles(names, mask) : 0;
        cr_alloc_suppress(a, r->fw[f].id, n ? names : NULL, n);
        for (int k = 0; k < R_ROLES; k++)
            if (r->fw[f].sub[k] && (n == 0 || mask[k]))
                r->fw[f].supp[k] = true;
    } else if (op < 36) { /* revive */
        int f = pick_live_fw(r);
        if (f < 0)
            return;
        const char *names[R_ROLES];
        bool mask[R_ROLES];
        size_t n = below(3) ? random_roles(names, mask) : 0;
        cr_alloc_revive(a, r->fw[f].id, n ? names : NULL, n);
        for (int k = 0; k < R_ROLES; k++)
            if (r->fw[f].sub[k] && (n == 0 || mask[k]))
                r->fw[f].supp[k] = false;
        for (size_t x = 0; x < r->nfilters;) {
            if (r->filters[x].fw == f)
                ref_filter_drop(r, x);
            else
                x++;
        }
    } else if (op < 38) { /* weight */
        static const double weights[] = {0.5, 1.0, 2.0, 3.0};
        int k = (int)below(R_ROLES);
        double w = weights[below(4)];
        CHECK(h, cr_alloc_set_weight(a, r_roles[k], w, &err) == 0);
        r->weight[k] = w;
    } else if (op < 62) { /* recover (decline, task end, rescind) */
        int start = (int)below(R_AGENTS * R_FWS * R_ROLES), i = -1, f = 0, k = 0;
        for (int x = 0; x < R_AGENTS * R_FWS * R_ROLES && i < 0; x++) {
            int c = (start + x) % (R_AGENTS * R_FWS * R_ROLES);
            if (!cr_resources_is_empty(
                    &r->hold[c / (R_FWS * R_ROLES)][c / R_ROLES % R_FWS][c % R_ROLES])) {
                i = c / (R_FWS * R_ROLES);
                f = c / R_ROLES % R_FWS;
                k = c % R_ROLES;
            }
        }
        if (i < 0)
            return;
        struct cr_resources part, back;
        if (below(2))
            random_part(&r->hold[i][f][k], &part);
        else {
            cr_resources_init(&part);
            assert_int_equal(cr_resources_copy(&part, &r->hold[i][f][k]), 0);
        }
        static const int64_t refuse[] = {0, 0, 1000, 5000, 60000, INT64_MAX};
        int64_t refuse_ms = refuse[below(6)];
        cr_alloc_recover(a, r->ag[i].id, r->fw[f].id, r_roles[k], &part, refuse_ms, h->now);
        cr_resources_init(&back);
        assert_int_equal(cr_resources_intersect(&back, &r->hold[i][f][k], &part), 0);
        assert_int_equal(cr_resources_subtract(&r->hold[i][f][k], &back, NULL), 0);
        assert_int_equal(cr_resources_add(&r->ag[i].free, &back), 0);
        cr_resources_release(&back);
        if (refuse_ms > 0 && !cr_resources_is_empty(&part)) {
            int64_t exp = h->now > INT64_MAX - refuse_ms ? INT64_MAX : h->now + refuse_ms;
            for (size_t x = 0; x < r->nfilters;) {
                struct r_filter *old = &r->filters[x];
                if (old->ag == i && old->fw == f && old->role == k && old->expires <= exp &&
                    cr_resources_contains(&part, &old->res))
                    ref_filter_drop(r, x);
                else
                    x++;
            }
            if (r->nfilters == r->capfilters) {
                r->capfilters = r->capfilters ? r->capfilters * 2 : 16;
                r->filters = realloc(r->filters, r->capfilters * sizeof(*r->filters));
            }
            r->filters[r->nfilters++] = (struct r_filter){i, f, k, part, exp};
        } else {
            cr_resources_release(&part);
        }
        ref_gc_filters(r);
    } else if (op < 68) { /* allocate (tasks found running) */
        int i = pick_live_agent(r), f = pick_live_fw(r), k = (int)below(R_ROLES);
        if (i < 0 || f < 0)
            return;
        struct cr_resources usable, part, other;
        cr_resources_init(&usable);
        cr_resources_init(&other);
        assert_int_equal(cr_resources_filter_role(&usable, &r->ag[i].free, "*"), 0);
        if (k) {
            assert_int_equal(cr_resources_filter_role(&other, &r->ag[i].free, r_roles[k]), 0);
            assert_int_equal(cr_resources_add(&usable, &other), 0);
        }
        cr_resources_release(&other);
        random_part(&usable, &part);
        int rc = cr_alloc_allocate(a, r->ag[i].id, r->fw[f].id, r_roles[k], &part, &err);
        bool fits = cr_resources_contains(&r->ag[i].free, &part);
        CHECK(h, rc == (fits ? 0 : -ERANGE));
        if (fits) {
            assert_int_equal(cr_resources_subtract(&r->ag[i].free, &part, NULL), 0);
            assert_int_equal(cr_resources_add(&r->hold[i][f][k], &part), 0);
        }
        cr_resources_release(&usable);
        cr_resources_release(&part);
    } else if (op < 80) { /* time passes */
        h->now += (int64_t)below(3000);
    } else { /* a cycle */
        struct cr_alloc_result res_;
        cr_alloc_result_init(&res_);
        cr_alloc_cycle(a, h->now, &res_);
        static struct lines got, want;
        describe(&res_, &got);
        ref_cycle(r, h->now, &want);
        bool same = got.n == want.n;
        for (size_t x = 0; same && x < got.n; x++)
            same = !strcmp(got.v[x], want.v[x]);
        if (!same) {
            for (size_t x = 0; x < got.n; x++)
                print_error("  got:  %s\n", got.v[x]);
            for (size_t x = 0; x < want.n; x++)
                print_error("  want: %s\n", want.v[x]);
        }
        CHECK(h, same);
        h->offers += got.n;
        cr_alloc_result_release(&res_);
    }
}

static size_t run_random(uint64_t seed, int steps)
{
    struct harness h;
    memset(&h, 0, sizeof(h));
    h.seed = seed;
    rng = seed ? seed : 1;
    h.a = cr_alloc_new();
    ref_init(&h.r);
    for (h.step = 0; h.step < steps; h.step++) {
        h_step(&h);
        h_compare(&h);
    }
    cr_alloc_free(h.a);
    ref_release(&h.r);
    return h.offers;
}

static void test_reference_random(void **state)
{
    (void)state;
    const char *env = getenv("CR_TEST_SEED");
    uint64_t base = env ? strtoull(env, NULL, 0) : 0x5eed0001ULL;
    size_t offers = 0;
    for (uint64_t s = 0; s < 60; s++)
        offers += run_random(base + s * 0x9e3779b97f4a7c15ULL, 400);
    /* the workload must actually exercise offers */
    assert_true(offers > 1000);
}

/* The same input sequence gives the same output: two allocators, one random stream. */
static void test_determinism(void **state)
{
    (void)state;
    for (int round = 0; round < 2; round++) {
        static struct lines out[2][40];
        for (int copy = 0; copy < 2; copy++) {
            rng = 0xd1ce + (uint64_t)round;
            struct cr_alloc *a = cr_alloc_new();
            char id[32];
            for (int i = 0; i < 30; i++) {
                struct cr_resources t;
                random_agent_resources(&t);
                snprintf(id, sizeof(id), "agent-%03d", (int)below(1000));
                struct cr_err err;
                cr_alloc_add_agent(a, id, &t, &err); /* duplicates fail the same way */
                cr_resources_release(&t);
            }
            for (int f = 0; f < 8; f++) {
                const char *names[R_ROLES];
                bool mask[R_ROLES];
                size_t n = random_roles(names, mask);
                snprintf(id, sizeof(id), "fw-%d", f);
                struct cr_err err;
                assert_int_equal(cr_alloc_add_framework(a, id, names, n, &err), 0);
            }
            for (int c = 0; c < 40; c++) {
                struct cr_alloc_result r;
                cr_alloc_result_init(&r);
                cr_alloc_cycle(a, c * 1000, &r);
                describe(&r, &out[copy][c]);
                /* decline about half of every offer with a random filter */
                for (size_t o = 0; o < r.n; o++)
                    if (below(2))
                        cr_alloc_recover(a, r.offers[o].agent_id, r.offers[o].framework_id,
                                         r.offers[o].role, &r.offers[o].resources,
                                         (int64_t)below(5000), c * 1000);
                cr_alloc_result_release(&r);
            }
            cr_alloc_free(a);
        }
        size_t total = 0;
        for (int c = 0; c < 40; c++) {
            assert_int_equal(out[0][c].n, out[1][c].n);
            total += out[0][c].n;
            for (size_t i = 0; i < out[0][c].n; i++)
                assert_string_equal(out[0][c].v[i], out[1][c].v[i]);
        }
        assert_true(total > 30);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_offer),
        cmocka_unit_test(test_drf_order),
        cmocka_unit_test(test_fairness),
        cmocka_unit_test(test_weights),
        cmocka_unit_test(test_reserved_vs_unreserved),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_filter_lifted_by_more_resources),
        cmocka_unit_test(test_revive_clears_filters),
        cmocka_unit_test(test_suppress_revive_per_role),
        cmocka_unit_test(test_inactive),
        cmocka_unit_test(test_min_allocatable),
        cmocka_unit_test(test_allocate_checks_fit),
        cmocka_unit_test(test_update_agent),
        cmocka_unit_test(test_remove_agent_with_allocations),
        cmocka_unit_test(test_remove_framework_with_allocations),
        cmocka_unit_test(test_recover_edges),
        cmocka_unit_test(test_dirty_and_next_event),
        cmocka_unit_test(test_update_framework_roles),
        cmocka_unit_test(test_order_independent_of_insertion),
        cmocka_unit_test(test_reference_random),
        cmocka_unit_test(test_determinism),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
