/*
 * test_placement.c - placement: bin-packing order (fill in order, biggest empty machine first,
 * no stranding of lopsided apps), spread, each Marathon constraint, the
 * diagnosis counts, determinism, bad requests, and seeded random inputs checked against a
 * naive reference that scans every machine for every instance (set CR_TEST_SEED to replay;
 * the seed is printed on failure).
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

#include "core/placement.h"

#define K 1000 /* thousandths */

struct cluster {
    struct cr_place_machine m[64];
    struct cr_place_attr attrs[64][2];
    char ids[64][16];
    char hosts[64][16];
    size_t n;
};

/* Add a machine with cpus/mem totals (whole units), all free, rack attribute (or none). */
static size_t add(struct cluster *c, int64_t cpus, int64_t mem, const char *rack)
{
    size_t i = c->n++;
    snprintf(c->ids[i], sizeof(c->ids[i]), "m%02zu", i);
    snprintf(c->hosts[i], sizeof(c->hosts[i]), "h%02zu", i);
    struct cr_place_machine *m = &c->m[i];
    memset(m, 0, sizeof(*m));
    m->id = c->ids[i];
    m->hostname = c->hosts[i];
    m->total_cpus = m->free_cpus = cpus * K;
    m->total_mem = m->free_mem = mem * K;
    m->total_disk = m->free_disk = 1000 * K;
    m->free_ports = 100;
    if (rack) {
        c->attrs[i][0] = (struct cr_place_attr){"rack", rack};
        m->attrs = c->attrs[i];
        m->nattrs = 1;
    }
    return i;
}

static struct cr_place_request req_of(int64_t cpus, int64_t mem)
{
    struct cr_place_request r = {.app_id = "/web", .cpus = cpus, .mem = mem};
    return r;
}

static void place(struct cluster *c, const struct cr_place_request *r, size_t count,
                  enum cr_place_strategy s, struct cr_place_result *res)
{
    struct cr_err err;
    int rc = cr_place_batch(c->m, c->n, r, count, s, res, &err);
    if (rc != 0)
        print_error("place: %s\n", cr_err_msg(&err));
    assert_int_equal(rc, 0);
    assert_int_equal(res->nplaced + res->nunplaced, count);
}

static void assert_seq(const struct cr_place_result *res, const size_t *want, size_t n)
{
    assert_int_equal(res->nplaced, n);
    for (size_t i = 0; i < n; i++) {
        if (res->machine[i] != want[i])
            print_error("instance %zu on %zu, want %zu\n", i, res->machine[i], want[i]);
        assert_int_equal(res->machine[i], want[i]);
    }
}

static size_t diag_of(const struct cr_place_result *res, const char *req)
{
    for (size_t i = 0; i < res->diag.n; i++)
        if (strcmp(res->diag.v[i].requirement, req) == 0)
            return res->diag.v[i].failed;
    print_error("no requirement '%s' in the diagnosis\n", req);
    fail();
    return 0;
}

static void test_binpack_fills_one_machine_first(void **state)
{
    (void)state;
    struct cluster c = {.n = 0};
    add(&c, 4, 4096, NULL);
    add(&c, 4, 4096, NULL);
    add(&c, 4, 4096, NULL);
    struct cr_place_request r = req_of(1 * K, 512 * K);
    struct cr_place_result res;
    cr_place_result_init(&res);
    place(&c, &r, 6, CR_PLACE_BINPACK, &res);
    size_t want[] = {0, 0, 0, 0, 1, 1};
    assert_seq(&res, want, 6);
    assert_int_equal(c.m[0].free_cpus, 0);
    assert_int_equal(c.m[1].free_cpus, 2 * K);
    assert_int_equal(c.m[1].free_mem, 3072 * K);
    assert_int_equal(c.m[2].free_cpus, 4 * K);

    /* The partly used machine (1) is the most used that fits: it is filled before 2. */
    place(&c, &r, 3, CR_PLACE_BINPACK, &res);
    size_t want2[] = {1, 1, 2};
    assert_seq(&res, want2, 3);

    /* Best fit: a big instance skips the machine it does not fit on. */
    struct cr_place_request big = req_of(4 * K, 0);
    place(&c, &big, 2, CR_PLACE_BINPACK, &res);
    assert_int_equal(res.nplaced, 0);
    assert_int_equal(res.nunplaced, 2);
    assert_int_equal(res.diag.considered, 3);
    assert_int_equal(diag_of(&res, "cpus"), 3);
    assert_int_equal(diag_of(&res, "mem"), 0);
    cr_place_result_release(&res);
}

/* The system test's cluster: 3 equal agents (2 cpus, 1 GB); an app fills agent 1, then 2. */
static void test_binpack_equal_agents_fill_in_order(void **state)
{
    (void)state;
    static const int64_t shapes[][2] = {{100, 64}, {100, 128}, {500, 32}, {100, 512}};
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        struct cluster c = {.n = 0};
        add(&c, 2, 1024, NULL);
        add(&c, 2, 1024, NULL);
        add(&c, 2, 1024, NULL);
        /* An agent whose offers someone else holds: nothing free, usage unknown. */
        size_t other = add(&c, 8, 1024, NULL);
        c.m[other].free_cpus = c.m[other].free_mem = c.m[other].free_disk = 0;
        struct cr_place_request r = req_of(shapes[s][0], shapes[s][1] * K);
        int64_t by_cpu = 2 * K / shapes[s][0], by_mem = 1024 / shapes[s][1];
        size_t per = (size_t)(by_cpu < by_mem ? by_cpu : by_mem);
        struct cr_place_result res;
        cr_place_result_init(&res);
        place(&c, &r, per + 1, CR_PLACE_BINPACK, &res);
        assert_int_equal(res.nplaced, per + 1);
        for (size_t i = 0; i < per + 1; i++)
            assert_int_equal(res.machine[i], i < per ? 0 : 1);
        /* One instance at a time (a cycle per instance) gives the same order. */
        for (size_t i = 0; i < per - 1; i++) {
            place(&c, &r, 1, CR_PLACE_BINPACK, &res);
            assert_int_equal(res.machine[0], 1);
        }
        place(&c, &r, 1, CR_PLACE_BINPACK, &res);
        assert_int_equal(res.machine[0], 2);
        cr_place_result_release(&res);
    }
}

/* Empty machines: the biggest first; used ones before any empty one. */
static void test_binpack_biggest_empty_first(void **state)
{
    (void)state;
    struct cluster c = {.n = 0};
    add(&c, 16, 65536, NULL);
    add(&c, 48, 196608, NULL);
    add(&c, 32, 131072, NULL);
    add(&c, 48, 196608, NULL);
    struct cr_place_request r = req_of(8 * K, 32768 * K);
    struct cr_place_result res;
    cr_place_result_init(&res);
    place(&c, &r, 8, CR_PLACE_BINPACK, &res);
    size_t want[] = {1, 1, 1, 1, 1, 1, 3, 3}; /* m01 and m03 tie on size: id order */
    assert_seq(&res, want, 8);
    /* A partly used small machine (half full) wins over the empty 32-cpu one, and over the
     * 48-cpu one it fills exactly (the tightest fit). */
    c.m[0].free_cpus -= 8 * K;
    c.m[0].free_mem -= 32768 * K;
    place(&c, &r, 1, CR_PLACE_BINPACK, &res);
    assert_int_equal(res.machine[0], 0);
    place(&c, &r, 5, CR_PLACE_BINPACK, &res);
    size_t want2[] = {3, 3, 3, 3, 2};
    assert_seq(&res, want2, 5);
    cr_place_result_release(&res);
}

/*
 * Lopsided apps: a cpu-heavy instance goes to the machine whose memory filled up first (it
 * evens it out), not onto the most used one, and a mem-heavy batch does not fill a machine's
 * memory while most of its cpus would be left to a cluster that mostly needs cpus.
 */
static void test_binpack_does_not_strand(void **state)
{
    (void)state;
    struct cluster c = {.n = 0};
    for (int i = 0; i < 6; i++)
        add(&c, 32, 131072, NULL);
    /* m00: 90% of its memory, 10% of its cpus; m01: 60% cpus, 10% mem. */
    c.m[0].free_cpus -= 3200;
    c.m[0].free_mem -= 117965 * K;
    c.m[1].free_cpus -= 19200;
    c.m[1].free_mem -= 13107 * K;
    /* The rest of the cluster is busy with cpu-heavy work (75% cpus, 25% mem). */
    for (int i = 2; i < 6; i++) {
        c.m[i].free_cpus = 8 * K;
        c.m[i].free_mem = 98304 * K;
    }
    struct cr_place_request cpu_heavy = req_of(2 * K, 1024 * K);
    struct cr_place_result res;
    cr_place_result_init(&res);
    place(&c, &cpu_heavy, 1, CR_PLACE_BINPACK, &res);
    assert_int_equal(res.machine[0], 0);
    /* Without m00's lopsided memory, the most used machine that fits wins again. */
    c.m[0].is_draining = true;
    place(&c, &cpu_heavy, 1, CR_PLACE_BINPACK, &res);
    assert_int_equal(res.machine[0], 2);

    struct cr_place_request mem_heavy = req_of(500, 8192 * K);
    /* A mem-heavy batch onto an empty machine among cpu-heavy ones: it stops before filling
     * the machine's memory (16 would) and moves on. */
    struct cluster e = {.n = 0};
    for (int i = 0; i < 4; i++)
        add(&e, 32, 131072, NULL);
    for (int i = 0; i < 2; i++) {
        e.m[i].free_cpus = 0;
        e.m[i].free_mem = 98304 * K; /* full cpus, a quarter of the memory */
    }
    place(&e, &mem_heavy, 16, CR_PLACE_BINPACK, &res);
    assert_int_equal(res.nplaced, 16);
    size_t on2 = 0;
    for (size_t i = 0; i < 16; i++) {
        assert_true(res.machine[i] == 2 || res.machine[i] == 3);
        on2 += res.machine[i] == 2;
    }
    assert_true(on2 < 16 && on2 >= 4);
    assert_int_equal(res.machine[0], 2); /* the first lands on the first empty machine */
    cr_place_result_release(&res);
}

static void test_spread(void **state)
{
    (void)state;
    struct cluster c = {.n = 0};
    add(&c, 4, 4096, NULL);
    add(&c, 4, 4096, NULL);
    add(&c, 4, 4096, NULL);
    c.m[2].free_cpus = 3 * K; /* already a bit used: last in line */
    struct cr_place_request r = req_of(1 * K, 0);
    struct cr_place_result res;
    cr_place_result_init(&res);
    place(&c, &r, 5, CR_PLACE_SPREAD, &res);
    size_t want[] = {0, 1, 0, 1, 2};
    assert_seq(&res, want, 5);
    assert_int_equal(c.m[0].free_cpus, 2 * K);
    assert_int_equal(c.m[1].free_cpus, 2 * K);
    assert_int_equal(c.m[2].free_cpus, 2 * K);
    cr_place_result_release(&res);
}

static void test_unique_hostname(void **state)
{
    (void)state;
    struct cluster c = {.n = 0};
    add(&c, 8, 8192, "r1");
    add(&c, 8, 8192, "r1");
    add(&c, 8, 8192, "r2");
    struct cr_place_constraint cons[] = {{"hostname", CR_PLACE_UNIQUE, NULL}};
    struct cr_place_request r = req_of(1 * K, 0);
    r.constraints = cons;
    r.nconstraints = 1;
    const char *placed[] = {"m01"};
    r.placed = placed;
    r.nplaced = 1;
    struct cr_place_result res;
    cr_place_result_init(&res);
    place(&c, &r, 4, CR_PLACE_BINPACK, &res);
    size_t want[] = {0, 2};
    assert_seq(&res, want, 2);
    assert_int_equal(res.nunplaced, 2);
    assert_int_equal(diag_of(&res, "hostname:UNIQUE"), 3);
    assert_int_equal(diag_of(&res, "cpus"), 0);

    /* UNIQUE on an attribute: one per rack. */
    struct cluster d = {.n = 0};
    add(&d, 8, 8192, "r1");
    add(&d, 8, 8192, "r1");
    add(&d, 8, 8192, "r2");
    struct cr_place_constraint rack[] = {{"rack", CR_PLACE_UNIQUE, NULL}};
    struct cr_place_request q = req_of(1 * K, 0);
    q.constraints = rack;
    q.nconstraints = 1;
    place(&d, &q, 3, CR_PLACE_BINPACK, &res);
    size_t want2[] = {0, 2};
    assert_seq(&res, want2, 2);
    assert_int_equal(diag_of(&res, "rack:UNIQUE"), 3);
    cr_place_result_release(&res);
}

static void test_cluster_is_like_unlike(void **state)
{
    (void)state;
    struct cluster c = {.n = 0};
    add(&c, 2, 8192, "r1");
    add(&c, 2, 8192, "r2");
    add(&c, 2, 8192, "r10");
    add(&c, 2, 8192, NULL);
    struct cr_place_request r = req_of(1 * K, 0);
    struct cr_place_result res;
    cr_place_result_init(&res);

    struct cr_place_constraint cl[] = {{"rack", CR_PLACE_CLUSTER, "r2"}};
    r.constraints = cl;
    r.nconstraints = 1;
    place(&c, &r, 3, CR_PLACE_BINPACK, &res);
    size_t want[] = {1, 1};
    assert_seq(&res, want, 2);
    assert_int_equal(diag_of(&res, "rack:CLUSTER:r2"), 3);
    assert_int_equal(diag_of(&res, "cpus"), 1);

    /* CLUSTER without a value: where the app already is (r10, machine 2). */
    struct cr_place_constraint cl2[] = {{"rack", CR_PLACE_CLUSTER, NULL}};
    r.constraints = cl2;
    const char *placed[] = {"m02"};
    r.placed = placed;
    r.nplaced = 1;
    place(&c, &r, 3, CR_PLACE_SPREAD, &res);
    size_t want2[] = {2, 2};
    assert_seq(&res, want2, 2);
    r.placed = NULL;
    r.nplaced = 0;

    /* LIKE matches the whole value: r[12] takes r1 and r2 but not r10; no rack fails. */
    struct cluster d = {.n = 0};
    add(&d, 2, 8192, "r1");
    add(&d, 2, 8192, "r2");
    add(&d, 2, 8192, "r10");
    add(&d, 2, 8192, NULL);
    struct cr_place_constraint like[] = {{"rack", CR_PLACE_LIKE, "r[12]"}};
    r.constraints = like;
    place(&d, &r, 5, CR_PLACE_BINPACK, &res);
    size_t want3[] = {0, 0, 1, 1};
    assert_seq(&res, want3, 4);
    assert_int_equal(diag_of(&res, "rack:LIKE:r[12]"), 2);

    /* UNLIKE: r10 and the machine without a rack. */
    struct cluster e = {.n = 0};
    add(&e, 2, 8192, "r1");
    add(&e, 2, 8192, "r2");
    add(&e, 2, 8192, "r10");
    add(&e, 2, 8192, NULL);
    struct cr_place_constraint unlike[] = {{"rack", CR_PLACE_UNLIKE, "r[12]"}};
    r.constraints = unlike;
    place(&e, &r, 5, CR_PLACE_BINPACK, &res);
    size_t want4[] = {2, 2, 3, 3};
    assert_seq(&res, want4, 4);
    assert_int_equal(diag_of(&res, "rack:UNLIKE:r[12]"), 2);

    /* IS: exact equality, on hostname too. */
    struct cluster f = {.n = 0};
    add(&f, 2, 8192, "r1");
    add(&f, 2, 8192, "r1x");
    struct cr_place_constraint is[] = {{"rack", CR_PLACE_IS, "r1"},
                                       {"hostname", CR_PLACE_IS, "h00"}};
    r.constraints = is;
    r.nconstraints = 2;
    place(&f, &r, 3, CR_PLACE_BINPACK, &res);
    size_t want5[] = {0, 0};
    assert_seq(&res, want5, 2);
    assert_int_equal(diag_of(&res, "rack:IS:r1"), 1);
    assert_int_equal(diag_of(&res, "hostname:IS:h00"), 1);
    cr_place_result_release(&res);
}

static void test_group_by_and_max_per(void **state)
{
    (void)state;
    struct cluster c = {.n = 0};
    add(&c, 8, 8192, "a");
    add(&c, 8, 8192, "a");
    add(&c, 8, 8192, "b");
    add(&c, 8, 8192, "c");
    struct cr_place_constraint g[] = {{"rack", CR_PLACE_GROUP_BY, NULL}};
    struct cr_place_request r = req_of(1 * K, 0);
    r.constraints = g;
    r.nconstraints = 1;
    const char *placed[] = {"m02"}; /* one already in b */
    r.placed = placed;
    r.nplaced = 1;
    struct cr_place_result res;
    cr_place_result_init(&res);
    place(&c, &r, 5, CR_PLACE_BINPACK, &res);
    /* a and c first (b has one), then the best of each round: counts stay within one. */
    assert_int_equal(res.nplaced, 5);
    size_t per[3] = {0, 1, 0}; /* racks a, b, c */
    for (size_t i = 0; i < res.nplaced; i++) {
        size_t m = res.machine[i];
        per[m <= 1 ? 0 : m - 1]++;
        size_t lo = per[0], hi = per[0];
        for (size_t k = 1; k < 3; k++) {
            lo = per[k] < lo ? per[k] : lo;
            hi = per[k] > hi ? per[k] : hi;
        }
        assert_true(hi - lo <= 1);
    }
    assert_int_equal(per[0], 2);
    assert_int_equal(per[1], 2);
    assert_int_equal(per[2], 2);
    /* Within rack a, bin-packing: machine 0 both times. */
    assert_int_equal(c.m[0].free_cpus, 6 * K);
    assert_int_equal(c.m[1].free_cpus, 8 * K);

    /* GROUP_BY 4 with three racks: after one per rack, a fourth value is awaited. */
    struct cluster d = {.n = 0};
    add(&d, 8, 8192, "a");
    add(&d, 8, 8192, "b");
    add(&d, 8, 8192, "c");
    struct cr_place_constraint g4[] = {{"rack", CR_PLACE_GROUP_BY, "4"}};
    struct cr_place_request q = req_of(1 * K, 0);
    q.constraints = g4;
    q.nconstraints = 1;
    place(&d, &q, 5, CR_PLACE_BINPACK, &res);
    assert_int_equal(res.nplaced, 3);
    assert_int_equal(diag_of(&res, "rack:GROUP_BY:4"), 3);

    /* MAX_PER 2 per rack: two racks hold four. */
    struct cluster e = {.n = 0};
    add(&e, 8, 8192, "a");
    add(&e, 8, 8192, "a");
    add(&e, 8, 8192, "b");
    struct cr_place_constraint mp[] = {{"rack", CR_PLACE_MAX_PER, "2"}};
    q.constraints = mp;
    place(&e, &q, 6, CR_PLACE_BINPACK, &res);
    size_t want[] = {0, 0, 2, 2};
    assert_seq(&res, want, 4);
    assert_int_equal(diag_of(&res, "rack:MAX_PER:2"), 3);
    cr_place_result_release(&res);
}

/* Machines failing different requirements are all counted, each for all it fails. */
static void test_diagnosis_counts(void **state)
{
    (void)state;
    struct cluster c = {.n = 0};
    add(&c, 1, 8192, "r1"); /* 0: too few cpus */
    add(&c, 8, 100, "r1");  /* 1: too little mem, and draining */
    add(&c, 8, 8192, "r1"); /* 2: unreachable, nothing else */
    add(&c, 1, 100, "r2");  /* 3: cpus, mem, and the constraint */
    add(&c, 8, 8192, NULL); /* 4: no rack: constraint; no ports */
    add(&c, 8, 8192, "r1"); /* 5: disk */
    c.m[1].is_draining = true;
    c.m[2].is_unreachable = true;
    c.m[4].free_ports = 0;
    c.m[5].free_disk = 0;
    struct cr_place_constraint cons[] = {{"rack", CR_PLACE_CLUSTER, "r1"}};
    struct cr_place_request r = req_of(2 * K, 1024 * K);
    r.disk = 10 * K;
    r.ports = 2;
    r.constraints = cons;
    r.nconstraints = 1;
    struct cr_place_result res;
    cr_place_result_init(&res);
    place(&c, &r, 3, CR_PLACE_BINPACK, &res);
    assert_int_equal(res.nplaced, 0);
    assert_int_equal(res.nunplaced, 3);
    assert_int_equal(res.diag.considered, 6);
    assert_int_equal(res.diag.n, 7);
    assert_int_equal(diag_of(&res, "cpus"), 2);
    assert_int_equal(diag_of(&res, "mem"), 2);
    assert_int_equal(diag_of(&res, "disk"), 1);
    assert_int_equal(diag_of(&res, "ports"), 1);
    assert_int_equal(diag_of(&res, "rack:CLUSTER:r1"), 2);
    assert_int_equal(diag_of(&res, "unreachable"), 1);
    assert_int_equal(diag_of(&res, "draining"), 1);
    /* Nothing placed: nothing taken. */
    assert_int_equal(c.m[2].free_cpus, 8 * K);

    /* The same without constraints (the heap path) diagnoses the same way. */
    r.nconstraints = 0;
    place(&c, &r, 1, CR_PLACE_SPREAD, &res);
    assert_int_equal(res.nplaced, 0);
    assert_int_equal(res.diag.n, 6);
    assert_int_equal(diag_of(&res, "cpus"), 2);
    assert_int_equal(diag_of(&res, "unreachable"), 1);
    cr_place_result_release(&res);
}

static void test_bad_requests(void **state)
{
    (void)state;
    struct cluster c = {.n = 0};
    add(&c, 8, 8192, "r1");
    struct cr_place_request r = req_of(1 * K, 0);
    struct cr_place_result res;
    cr_place_result_init(&res);
    struct cr_err err;
    struct cr_place_constraint bad_re[] = {{"rack", CR_PLACE_UNIQUE, NULL},
                                           {"rack", CR_PLACE_LIKE, "r[1"}};
    r.constraints = bad_re;
    r.nconstraints = 2;
    assert_int_equal(cr_place_batch(c.m, c.n, &r, 1, CR_PLACE_BINPACK, &res, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "rack:LIKE:r[1"));
    struct cr_place_constraint bad_max[] = {{"rack", CR_PLACE_MAX_PER, "x"}};
    r.constraints = bad_max;
    r.nconstraints = 1;
    assert_int_equal(cr_place_batch(c.m, c.n, &r, 1, CR_PLACE_BINPACK, &res, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "MAX_PER"));
    struct cr_place_constraint no_field[] = {{"", CR_PLACE_UNIQUE, NULL}};
    r.constraints = no_field;
    assert_int_equal(cr_place_batch(c.m, c.n, &r, 1, CR_PLACE_BINPACK, &res, &err), -EINVAL);
    r.nconstraints = 0;
    r.cpus = -1;
    assert_int_equal(cr_place_batch(c.m, c.n, &r, 1, CR_PLACE_BINPACK, &res, &err), -EINVAL);
    assert_int_equal(c.m[0].free_cpus, 8 * K);
    cr_place_result_release(&res);
}

/* ---- seeded random inputs against a naive reference ---- */

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static const char *const racks[] = {"r0", "r1", "r2", "r3"};

static void random_cluster(struct cluster *c, size_t n)
{
    c->n = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = add(c, 1 + (int64_t)(rnd() % 16), 1024 * (1 + (int64_t)(rnd() % 16)),
                       rnd() % 5 == 0 ? NULL : racks[rnd() % 4]);
        struct cr_place_machine *m = &c->m[k];
        m->free_cpus -= (int64_t)(rnd() % (uint64_t)(m->total_cpus + 1));
        m->free_mem -= (int64_t)(rnd() % (uint64_t)(m->total_mem + 1));
        m->free_ports = (int64_t)(rnd() % 8);
        m->is_draining = rnd() % 10 == 0;
        m->is_unreachable = rnd() % 10 == 0;
    }
    /* Machine ids out of index order, so ties break by id, not by position. */
    for (size_t i = 0; i < n; i++)
        snprintf(c->ids[i], sizeof(c->ids[i]), "x%03u", (unsigned)((i * 37) % 101));
}

static const char *ref_field(const struct cr_place_machine *m, const char *f)
{
    if (strcmp(f, "hostname") == 0)
        return m->hostname;
    return m->nattrs ? m->attrs[0].text : NULL;
}

/* How many of the app's instances (placed ids) sit on machines whose field equals v. */
static int64_t ref_count(const struct cluster *c, const char **placed, size_t np, const char *f,
                         const char *v)
{
    int64_t n = 0;
    for (size_t p = 0; p < np; p++)
        for (size_t i = 0; i < c->n; i++)
            if (strcmp(c->m[i].id, placed[p]) == 0) {
                const char *w = ref_field(&c->m[i], f);
                n += w && strcmp(w, v) == 0;
            }
    return n;
}

static bool ref_ok(const struct cluster *c, size_t i, const struct cr_place_request *r,
                   const char **placed, size_t np)
{
    const struct cr_place_machine *m = &c->m[i];
    if (m->is_draining || m->is_unreachable || m->free_cpus < r->cpus || m->free_mem < r->mem ||
        m->free_disk < r->disk || m->free_ports < r->ports)
        return false;
    for (size_t j = 0; j < r->nconstraints; j++) {
        const struct cr_place_constraint *k = &r->constraints[j];
        const char *v = ref_field(m, k->field);
        if (!v)
            return false;
        int64_t cnt = ref_count(c, placed, np, k->field, v);
        if (k->op == CR_PLACE_UNIQUE && cnt > 0)
            return false;
        if (k->op == CR_PLACE_MAX_PER && cnt >= atoi(k->value))
            return false;
        if (k->op == CR_PLACE_IS && strcmp(v, k->value) != 0)
            return false;
    }
    return true;
}

static double ref_sum(const struct cr_place_machine *m)
{
    double s = 0;
    if (m->total_cpus > 0)
        s += (double)(m->total_cpus - m->free_cpus) / (double)m->total_cpus;
    if (m->total_mem > 0)
        s += (double)(m->total_mem - m->free_mem) / (double)m->total_mem;
    if (m->total_disk > 0)
        s += (double)(m->total_disk - m->free_disk) / (double)m->total_disk;
    return s;
}

/* The BINPACK order as placement.h states it, recomputed from scratch for every comparison. */
struct ref_dir {
    double w[3];   /* the cluster's used fraction per dimension, the batch included */
    double max[3]; /* the largest total per dimension */
};

static void ref_totals(const struct cr_place_machine *m, int64_t *t, int64_t *f)
{
    t[0] = m->total_cpus, t[1] = m->total_mem, t[2] = m->total_disk;
    f[0] = m->free_cpus, f[1] = m->free_mem, f[2] = m->free_disk;
}

static struct ref_dir ref_direction(const struct cluster *c, const struct cr_place_request *r,
                                    size_t count)
{
    struct ref_dir d = {{0, 0, 0}, {0, 0, 0}};
    double used[3] = {(double)r->cpus * (double)count, (double)r->mem * (double)count,
                      (double)r->disk * (double)count};
    double tot[3] = {0, 0, 0};
    for (size_t i = 0; i < c->n; i++) {
        const struct cr_place_machine *m = &c->m[i];
        int64_t t[3], f[3];
        ref_totals(m, t, f);
        bool counts = !m->is_unreachable && !m->is_draining && (f[0] > 0 || f[1] > 0 || f[2] > 0);
        for (int k = 0; k < 3; k++) {
            if (t[k] > 0 && (double)t[k] > d.max[k])
                d.max[k] = (double)t[k];
            if (t[k] <= 0 || !counts)
                continue;
            used[k] += (double)(t[k] - f[k]);
            tot[k] += (double)t[k];
        }
    }
    for (int k = 0; k < 3; k++)
        d.w[k] = tot[k] > 0 && used[k] > 0 ? used[k] / tot[k] : 0;
    return d;
}

/* Left of the direction's largest dimension when the machine is filled along it. */
static double ref_strand(const double *w, const double *u)
{
    int big = 0;
    for (int k = 1; k < 3; k++)
        if (w[k] > w[big])
            big = k;
    if (w[big] <= 0)
        return 0;
    double s = -1;
    for (int k = 0; k < 3; k++)
        if (w[k] > 0 && (s < 0 || (1 - u[k]) / w[k] < s))
            s = (1 - u[k]) / w[k];
    double left = (1 - u[big]) - s * w[big];
    return left < 1e-9 ? 0 : left;
}

/* (tier, key, key2) of machine m for request r: larger is better, compared in that order. */
static void ref_key(const struct ref_dir *d, const struct cr_place_machine *m,
                    const struct cr_place_request *r, double *key)
{
    int64_t t[3], f[3], q[3] = {r->cpus, r->mem, r->disk};
    ref_totals(m, t, f);
    if (f[0] == t[0] && f[1] == t[1] && f[2] == t[2]) { /* empty: the biggest first */
        key[0] = 1;
        key[1] = 0;
        for (int k = 0; k < 3; k++)
            if (d->max[k] > 0)
                key[1] += d->w[k] * ((double)t[k] / d->max[k]);
        key[2] = 0;
        return;
    }
    double before[3], after[3], most = 0;
    for (int k = 0; k < 3; k++) {
        before[k] = t[k] > 0 ? (double)(t[k] - f[k]) / (double)t[k] : 0;
        after[k] = t[k] > 0 ? (double)(t[k] - (f[k] - q[k])) / (double)t[k] : 0;
        most = k == 0 || after[k] > most ? after[k] : most;
    }
    double sb = ref_strand(d->w, before), sa = ref_strand(d->w, after);
    bool well = sa <= 0.2 || sa <= sb;
    key[0] = well ? 2 : 0;
    key[1] = well ? sb - sa : -sa;
    key[2] = most;
}

static bool ref_better(const struct cluster *c, size_t a, size_t b, enum cr_place_strategy s,
                       const struct ref_dir *d, const struct cr_place_request *r)
{
    if (s == CR_PLACE_BINPACK) {
        double ka[3], kb[3];
        ref_key(d, &c->m[a], r, ka);
        ref_key(d, &c->m[b], r, kb);
        for (int k = 0; k < 3; k++)
            if (ka[k] != kb[k])
                return ka[k] > kb[k];
        return strcmp(c->m[a].id, c->m[b].id) < 0;
    }
    double ua = cr_place_usage(&c->m[a]), ub = cr_place_usage(&c->m[b]);
    if (ua != ub)
        return ua < ub;
    double sa = ref_sum(&c->m[a]), sb = ref_sum(&c->m[b]);
    if (sa != sb)
        return sa < sb;
    return strcmp(c->m[a].id, c->m[b].id) < 0;
}

/* The reference: for every instance, scan every machine. Returns how many were placed. */
static size_t ref_place(struct cluster *c, const struct cr_place_request *r, size_t count,
                        enum cr_place_strategy s, size_t *out)
{
    const char *placed[512];
    size_t np = 0;
    for (size_t p = 0; p < r->nplaced; p++)
        placed[np++] = r->placed[p];
    size_t n = 0;
    struct ref_dir d = ref_direction(c, r, count);
    for (; n < count; n++) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < c->n; i++)
            if (ref_ok(c, i, r, placed, np) &&
                (best == SIZE_MAX || ref_better(c, i, best, s, &d, r)))
                best = i;
        if (best == SIZE_MAX)
            break;
        struct cr_place_machine *m = &c->m[best];
        m->free_cpus -= r->cpus;
        m->free_mem -= r->mem;
        m->free_disk -= r->disk;
        m->free_ports -= r->ports;
        placed[np++] = m->id;
        out[n] = best;
    }
    return n;
}

static void test_random_against_reference(void **state)
{
    (void)state;
    const char *env = getenv("CR_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : 20261125;
    for (int round = 0; round < 300; round++) {
        rng_state = seed * 1000003u + (uint64_t)round + 1;
        size_t n = 1 + rnd() % 40;
        struct cluster a, b;
        random_cluster(&a, n);
        memcpy(&b, &a, sizeof(a));
        for (size_t i = 0; i < n; i++) { /* repoint b's borrowed strings at b's storage */
            b.m[i].id = b.ids[i];
            b.m[i].hostname = b.hosts[i];
            b.m[i].attrs = b.m[i].nattrs ? b.attrs[i] : NULL;
        }
        struct cr_place_constraint pool[] = {{"hostname", CR_PLACE_UNIQUE, NULL},
                                             {"rack", CR_PLACE_MAX_PER, "3"},
                                             {"rack", CR_PLACE_IS, "r1"},
                                             {"rack", CR_PLACE_UNIQUE, NULL}};
        struct cr_place_constraint cons[2];
        size_t ncons = rnd() % 3;
        for (size_t j = 0; j < ncons; j++)
            cons[j] = pool[rnd() % 4];
        const char *placed[4];
        size_t nplaced = rnd() % 3;
        for (size_t p = 0; p < nplaced; p++)
            placed[p] = a.ids[rnd() % n];
        struct cr_place_request r = req_of((int64_t)(rnd() % 4) * K + 500, 512 * K);
        r.ports = (int64_t)(rnd() % 2);
        r.constraints = cons;
        r.nconstraints = ncons;
        r.placed = placed;
        r.nplaced = nplaced;
        enum cr_place_strategy s = rnd() % 2 ? CR_PLACE_SPREAD : CR_PLACE_BINPACK;
        size_t count = 1 + rnd() % 60;
        struct cr_place_result res;
        cr_place_result_init(&res);
        place(&a, &r, count, s, &res);
        size_t want[64];
        r.placed = placed;
        size_t nwant = ref_place(&b, &r, count, s, want);
        if (res.nplaced != nwant)
            print_error("seed %llu round %d: placed %zu, reference %zu\n", (unsigned long long)seed,
                        round, res.nplaced, nwant);
        assert_int_equal(res.nplaced, nwant);
        for (size_t i = 0; i < nwant; i++) {
            if (res.machine[i] != want[i])
                print_error("seed %llu round %d: instance %zu on %zu, reference %zu\n",
                            (unsigned long long)seed, round, i, res.machine[i], want[i]);
            assert_int_equal(res.machine[i], want[i]);
        }
        for (size_t i = 0; i < n; i++) { /* no overcommit, same bookkeeping */
            assert_true(a.m[i].free_cpus >= 0 && a.m[i].free_mem >= 0 && a.m[i].free_ports >= 0);
            assert_int_equal(a.m[i].free_cpus, b.m[i].free_cpus);
            assert_int_equal(a.m[i].free_ports, b.m[i].free_ports);
        }
        cr_place_result_release(&res);
    }
}

/* The same input gives the same placement, whatever order the machines come in. */
static void test_determinism(void **state)
{
    (void)state;
    rng_state = 77;
    struct cluster a;
    random_cluster(&a, 30);
    for (size_t i = 0; i < a.n; i++)
        a.m[i].is_draining = a.m[i].is_unreachable = false;
    struct cluster b;
    memcpy(&b, &a, sizeof(a));
    /* b: the machines reversed (strings stay in a's storage, which outlives both runs). */
    for (size_t i = 0; i < a.n; i++)
        b.m[i] = a.m[a.n - 1 - i];
    struct cr_place_request r = req_of(500, 256 * K);
    struct cr_place_result ra, rb;
    cr_place_result_init(&ra);
    cr_place_result_init(&rb);
    for (int s = 0; s < 2; s++) {
        struct cluster a2 = a, b2 = b;
        place(&a2, &r, 40, (enum cr_place_strategy)s, &ra);
        place(&b2, &r, 40, (enum cr_place_strategy)s, &rb);
        assert_int_equal(ra.nplaced, rb.nplaced);
        for (size_t i = 0; i < ra.nplaced; i++)
            assert_string_equal(a2.m[ra.machine[i]].id, b2.m[rb.machine[i]].id);
    }
    cr_place_result_release(&ra);
    cr_place_result_release(&rb);
}

/* A big batch on the heap path: machines fill strictly one after another, none overcommitted. */
static void test_many_instances(void **state)
{
    (void)state;
    size_t n = 2000, count = 200000;
    struct cr_place_machine *m = calloc(n, sizeof(*m));
    char(*ids)[16] = calloc(n, sizeof(*ids));
    assert_non_null(m);
    assert_non_null(ids);
    for (size_t i = 0; i < n; i++) {
        snprintf(ids[i], sizeof(ids[i]), "m%05u", (unsigned)i);
        m[i].id = m[i].hostname = ids[i];
        m[i].total_cpus = m[i].free_cpus = 12 * K;
        m[i].total_mem = m[i].free_mem = 65536 * K;
        m[i].free_ports = 1000;
    }
    struct cr_place_request r = req_of(100, 256 * K); /* 120 per machine by cpus */
    struct cr_place_result res;
    cr_place_result_init(&res);
    struct cr_err err;
    assert_int_equal(cr_place_batch(m, n, &r, count, CR_PLACE_BINPACK, &res, &err), 0);
    assert_int_equal(res.nplaced, count);
    for (size_t i = 0; i < count; i++)
        assert_int_equal(res.machine[i], i / 120);
    for (size_t i = 0; i < n; i++)
        assert_true(m[i].free_cpus >= 0 && m[i].free_mem >= 0);
    assert_int_equal(m[count / 120].free_cpus, 12 * K - (int64_t)(count % 120) * 100);
    cr_place_result_release(&res);
    free(m);
    free(ids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binpack_fills_one_machine_first),
        cmocka_unit_test(test_binpack_equal_agents_fill_in_order),
        cmocka_unit_test(test_binpack_biggest_empty_first),
        cmocka_unit_test(test_binpack_does_not_strand),
        cmocka_unit_test(test_spread),
        cmocka_unit_test(test_unique_hostname),
        cmocka_unit_test(test_cluster_is_like_unlike),
        cmocka_unit_test(test_group_by_and_max_per),
        cmocka_unit_test(test_diagnosis_counts),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_random_against_reference),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_many_instances),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
