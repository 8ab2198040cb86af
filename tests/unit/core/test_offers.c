/*
 * test_offers.c - the offer book: ids, ownership hand-off, per-framework/agent listing,
 * expiry ordering, and a seeded random workload checked against a naive array model
 * (set CR_TEST_SEED to replay; the seed is printed on failure).
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

#include "core/offers.h"

static uint64_t add_offer(struct cr_offer_book *b, const char *fw, const char *agent,
                          const char *text, int64_t expires_ms)
{
    struct cr_resources rs;
    struct cr_err err;
    cr_resources_init(&rs);
    assert_int_equal(cr_resources_parse(&rs, text, NULL, &err), 0);
    uint64_t id = cr_offer_book_add(b, fw, agent, "*", &rs, expires_ms);
    assert_true(cr_resources_is_empty(&rs)); /* moved into the book */
    cr_resources_release(&rs);
    return id;
}

static void assert_ids(const struct cr_offer_ids *ids, const uint64_t *want, size_t n)
{
    if (ids->n != n)
        print_error("got %zu ids, want %zu\n", ids->n, n);
    assert_int_equal(ids->n, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ids->v[i], want[i]);
}

static void test_add_find_remove(void **state)
{
    (void)state;
    struct cr_offer_book *b = cr_offer_book_new();
    assert_int_equal(cr_offer_book_count(b), 0);
    assert_int_equal(cr_offer_book_next_expiry_ms(b), INT64_MAX);
    uint64_t o1 = add_offer(b, "F1", "S1", "cpus:1;mem:128", 10000);
    uint64_t o2 = add_offer(b, "F2", "S1", "cpus:2", 10000);
    assert_int_equal(o1, 1);
    assert_int_equal(o2, 2);
    assert_int_equal(cr_offer_book_count(b), 2);

    const struct cr_offer *f = cr_offer_book_find(b, o1);
    assert_non_null(f);
    assert_int_equal(f->id, o1);
    assert_string_equal(f->framework_id, "F1");
    assert_string_equal(f->agent_id, "S1");
    assert_string_equal(f->role, "*");
    assert_int_equal(cr_resources_scalar(&f->resources, "mem"), 128000);
    assert_int_equal(f->expires_ms, 10000);
    assert_null(cr_offer_book_find(b, 99));

    struct cr_offer out;
    assert_int_equal(cr_offer_book_remove(b, o1, &out), 0);
    assert_int_equal(out.id, o1);
    assert_string_equal(out.framework_id, "F1");
    assert_int_equal(cr_resources_scalar(&out.resources, "cpus"), 1000);
    cr_offer_release(&out);
    cr_offer_release(NULL);
    assert_int_equal(cr_offer_book_remove(b, o1, &out), -ENOENT);
    assert_null(cr_offer_book_find(b, o1));
    assert_int_equal(cr_offer_book_count(b), 1);

    /* ids never repeat, even when slots are reused */
    uint64_t o3 = add_offer(b, "F1", "S2", "cpus:1", 5000);
    assert_int_equal(o3, 3);
    assert_int_equal(cr_offer_book_remove(b, o2, NULL), 0);
    assert_int_equal(cr_offer_book_count(b), 1);
    cr_offer_book_free(b); /* frees o3 with it */
    cr_offer_book_free(NULL);
}

static void test_lists(void **state)
{
    (void)state;
    struct cr_offer_book *b = cr_offer_book_new();
    uint64_t a = add_offer(b, "F1", "S1", "cpus:1", 100);
    uint64_t c = add_offer(b, "F2", "S1", "cpus:1", 100);
    uint64_t d = add_offer(b, "F1", "S2", "cpus:1", 100);
    uint64_t e = add_offer(b, "F1", "S1", "cpus:1", 100);
    struct cr_offer_ids ids;
    cr_offer_ids_init(&ids);

    cr_offer_book_by_framework(b, "F1", &ids);
    assert_ids(&ids, (uint64_t[]){a, d, e}, 3);
    cr_offer_ids_release(&ids);
    cr_offer_book_by_agent(b, "S1", &ids);
    assert_ids(&ids, (uint64_t[]){a, c, e}, 3);
    cr_offer_ids_release(&ids);
    cr_offer_book_by_framework(b, "F3", &ids);
    assert_int_equal(ids.n, 0);
    cr_offer_book_all(b, &ids);
    assert_ids(&ids, (uint64_t[]){a, c, d, e}, 4);
    cr_offer_ids_release(&ids);

    /* removing from the middle, head and tail keeps the lists straight */
    assert_int_equal(cr_offer_book_remove(b, d, NULL), 0);
    assert_int_equal(cr_offer_book_remove(b, a, NULL), 0);
    cr_offer_book_by_framework(b, "F1", &ids);
    assert_ids(&ids, (uint64_t[]){e}, 1);
    cr_offer_ids_release(&ids);
    cr_offer_book_by_agent(b, "S2", &ids);
    assert_int_equal(ids.n, 0);
    cr_offer_book_all(b, &ids);
    assert_ids(&ids, (uint64_t[]){c, e}, 2);
    cr_offer_ids_release(&ids);
    assert_int_equal(cr_offer_book_remove(b, e, NULL), 0);
    cr_offer_book_by_framework(b, "F1", &ids);
    assert_int_equal(ids.n, 0);
    /* a framework's group comes back after it was emptied */
    uint64_t f = add_offer(b, "F1", "S2", "cpus:1", 100);
    cr_offer_book_by_framework(b, "F1", &ids);
    assert_ids(&ids, (uint64_t[]){f}, 1);
    cr_offer_ids_release(&ids);
    cr_offer_book_free(b);
}

static void test_expiry_order(void **state)
{
    (void)state;
    struct cr_offer_book *b = cr_offer_book_new();
    uint64_t o1 = add_offer(b, "F1", "S1", "cpus:1", 300);
    uint64_t o2 = add_offer(b, "F1", "S2", "cpus:1", 100);
    uint64_t o3 = add_offer(b, "F2", "S1", "cpus:1", 200);
    uint64_t o4 = add_offer(b, "F2", "S2", "cpus:1", 100);
    uint64_t o5 = add_offer(b, "F3", "S3", "cpus:1", 1000);
    assert_int_equal(cr_offer_book_next_expiry_ms(b), 100);

    struct cr_offer_ids ids;
    cr_offer_ids_init(&ids);
    cr_offer_book_expired(b, 99, &ids);
    assert_int_equal(ids.n, 0);
    cr_offer_book_expired(b, 100, &ids);
    assert_ids(&ids, (uint64_t[]){o2, o4}, 2);
    cr_offer_ids_release(&ids);
    cr_offer_book_expired(b, 300, &ids);
    assert_ids(&ids, (uint64_t[]){o2, o4, o3, o1}, 4);
    /* expired() does not remove: the caller rescinds each */
    assert_int_equal(cr_offer_book_count(b), 5);
    for (size_t i = 0; i < ids.n; i++)
        assert_int_equal(cr_offer_book_remove(b, ids.v[i], NULL), 0);
    cr_offer_ids_release(&ids);
    assert_int_equal(cr_offer_book_next_expiry_ms(b), 1000);
    cr_offer_book_expired(b, INT64_MAX, &ids);
    assert_ids(&ids, (uint64_t[]){o5}, 1);
    cr_offer_ids_release(&ids);
    assert_int_equal(cr_offer_book_remove(b, o5, NULL), 0);
    assert_int_equal(cr_offer_book_next_expiry_ms(b), INT64_MAX);
    cr_offer_book_free(b);
}

/* ---- random workload against a naive model ---- */

struct model_offer {
    uint64_t id;
    int fw, agent;
    int64_t expires;
    bool live;
};

static uint64_t rng;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int cmp_expiry(const void *x, const void *y)
{
    const struct model_offer *p = *(struct model_offer *const *)x;
    const struct model_offer *q = *(struct model_offer *const *)y;
    if (p->expires != q->expires)
        return p->expires < q->expires ? -1 : 1;
    return p->id < q->id ? -1 : p->id > q->id;
}

#define MODEL_MAX 6000

static void test_random_against_model(void **state)
{
    (void)state;
    const char *env = getenv("CR_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 0) : 0x2545f4914f6cdd1dULL;
    rng = seed;
    struct model_offer *m = calloc(MODEL_MAX, sizeof(*m));
    struct model_offer **sorted = calloc(MODEL_MAX, sizeof(*sorted));
    size_t nm = 0;
    struct cr_offer_book *b = cr_offer_book_new();
    int64_t now = 0;
    char fw[32], agent[32];
    struct cr_offer_ids ids;
    cr_offer_ids_init(&ids);
    for (int step = 0; step < 20000; step++) {
        uint64_t op = rnd() % 10;
        if (op < 5 && nm < MODEL_MAX) {
            int f = (int)(rnd() % 20), s = (int)(rnd() % 50);
            snprintf(fw, sizeof(fw), "F%d", f);
            snprintf(agent, sizeof(agent), "S%d", s);
            int64_t exp = now + (int64_t)(rnd() % 10000);
            uint64_t id = add_offer(b, fw, agent, "cpus:1", exp);
            m[nm] = (struct model_offer){id, f, s, exp, true};
            nm++;
        } else if (op < 8 && nm) {
            struct model_offer *o = &m[rnd() % nm];
            int rc = cr_offer_book_remove(b, o->id, NULL);
            if (rc != (o->live ? 0 : -ENOENT))
                print_error("seed=%llu step=%d remove %llu rc=%d\n", (unsigned long long)seed, step,
                            (unsigned long long)o->id, rc);
            assert_int_equal(rc, o->live ? 0 : -ENOENT);
            o->live = false;
        } else if (op == 8) {
            now += (int64_t)(rnd() % 500);
            size_t k = 0;
            for (size_t i = 0; i < nm; i++)
                if (m[i].live && m[i].expires <= now)
                    sorted[k++] = &m[i];
            qsort(sorted, k, sizeof(*sorted), cmp_expiry);
            cr_offer_book_expired(b, now, &ids);
            if (ids.n != k)
                print_error("seed=%llu step=%d: %zu expired, want %zu\n", (unsigned long long)seed,
                            step, ids.n, k);
            assert_int_equal(ids.n, k);
            for (size_t i = 0; i < k; i++) {
                assert_int_equal(ids.v[i], sorted[i]->id);
                assert_int_equal(cr_offer_book_remove(b, ids.v[i], NULL), 0);
                sorted[i]->live = false;
            }
            cr_offer_ids_release(&ids);
        } else {
            int f = (int)(rnd() % 20);
            snprintf(fw, sizeof(fw), "F%d", f);
            cr_offer_book_by_framework(b, fw, &ids);
            size_t k = 0;
            for (size_t i = 0; i < nm; i++) {
                if (!m[i].live || m[i].fw != f)
                    continue;
                assert_true(k < ids.n);
                assert_int_equal(ids.v[k], m[i].id);
                k++;
            }
            assert_int_equal(ids.n, k);
            cr_offer_ids_release(&ids);
        }
        /* count and next expiry always agree with the model */
        size_t live = 0;
        int64_t next = INT64_MAX;
        if (step % 64 == 0 || step > 19900) {
            for (size_t i = 0; i < nm; i++) {
                if (!m[i].live)
                    continue;
                live++;
                if (m[i].expires < next)
                    next = m[i].expires;
            }
            assert_int_equal(cr_offer_book_count(b), live);
            assert_int_equal(cr_offer_book_next_expiry_ms(b), next);
        }
    }
    /* per agent listing at the end */
    for (int s = 0; s < 50; s++) {
        snprintf(agent, sizeof(agent), "S%d", s);
        cr_offer_book_by_agent(b, agent, &ids);
        size_t k = 0;
        for (size_t i = 0; i < nm; i++)
            if (m[i].live && m[i].agent == s)
                assert_int_equal(ids.v[k++], m[i].id);
        assert_int_equal(ids.n, k);
        cr_offer_ids_release(&ids);
    }
    cr_offer_book_free(b);
    free(m);
    free(sorted);
}

static void test_many_offers(void **state)
{
    (void)state;
    /* 20k outstanding offers on 1000 agents: expire half, remove the rest by agent. */
    struct cr_offer_book *b = cr_offer_book_new();
    char agent[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(agent, sizeof(agent), "S%d", i % 1000);
        add_offer(b, "F", agent, "cpus:1;mem:32", (i / 1000) % 2 ? 10000 : 20000);
    }
    assert_int_equal(cr_offer_book_count(b), 20000);
    struct cr_offer_ids ids;
    cr_offer_ids_init(&ids);
    cr_offer_book_expired(b, 10000, &ids);
    assert_int_equal(ids.n, 10000);
    for (size_t i = 0; i < ids.n; i++) {
        const struct cr_offer *o = cr_offer_book_find(b, ids.v[i]);
        assert_non_null(o);
        assert_int_equal(o->expires_ms, 10000);
        if (i)
            assert_true(ids.v[i] > ids.v[i - 1]);
        assert_int_equal(cr_offer_book_remove(b, ids.v[i], NULL), 0);
    }
    cr_offer_ids_release(&ids);
    assert_int_equal(cr_offer_book_next_expiry_ms(b), 20000);
    for (int s = 0; s < 1000; s++) {
        snprintf(agent, sizeof(agent), "S%d", s);
        cr_offer_book_by_agent(b, agent, &ids);
        assert_int_equal(ids.n, 10);
        for (size_t i = 0; i < ids.n; i++)
            assert_int_equal(cr_offer_book_remove(b, ids.v[i], NULL), 0);
        cr_offer_ids_release(&ids);
    }
    assert_int_equal(cr_offer_book_count(b), 0);
    assert_int_equal(cr_offer_book_next_expiry_ms(b), INT64_MAX);
    cr_offer_book_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_find_remove), cmocka_unit_test(test_lists),
        cmocka_unit_test(test_expiry_order),    cmocka_unit_test(test_random_against_model),
        cmocka_unit_test(test_many_offers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
