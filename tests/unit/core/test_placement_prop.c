/*
 * test_placement_prop.c - seeded random properties of placement (core/placement.h), over
 * whole app sequences as the orchestrator runs them (one batch per app, apps scaled up again
 * later with their earlier instances as req->placed):
 *
 *   - no machine is over-committed: free amounts never go negative and every machine's free
 *     amounts are its starting ones less exactly the demands placed on it;
 *   - nothing lands on an unreachable or draining machine;
 *   - every constraint holds for every instance, checked by replaying the batch against a
 *     naive re-implementation of Marathon's operators (strings compared, regexes compiled
 *     here, counts recounted from the instance list every time);
 *   - a batch that stops short leaves no machine that would take the next instance, and its
 *     diagnosis counts what the naive check counts;
 *   - the same input gives the same placement, also with the machines in reverse order;
 *   - best-fit never uses more machines than first-fit on bench_place's kind of workload.
 *
 * Set CR_TEST_SEED to replay; the seed and round are printed on failure.
 */
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/placement.h"

#define K 1000
#define MAXM 160
#define MAXAPPS 48
#define MAXINST 1024

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static uint64_t base_seed(void)
{
    const char *env = getenv("CR_TEST_SEED");
    return env ? strtoull(env, NULL, 10) : 20261125;
}

/* ---- a random world ---- */

struct world {
    struct cr_place_machine m[MAXM];
    struct cr_place_attr attrs[MAXM][2];
    char ids[MAXM][16], hosts[MAXM][16], racks[MAXM][8], zones[MAXM][8];
    int64_t start[MAXM][4]; /* free cpus, mem, disk, ports before the first batch */
    size_t n;
};

/* Point the machines' borrowed strings at w's own storage (after a copy). */
static void world_fix(struct world *w)
{
    for (size_t i = 0; i < w->n; i++) {
        w->m[i].id = w->ids[i];
        w->m[i].hostname = w->hosts[i];
        w->attrs[i][0].text = w->racks[i];
        w->attrs[i][1].text = w->zones[i];
        w->m[i].attrs = w->m[i].nattrs ? w->attrs[i] : NULL;
    }
}

static void world_random(struct world *w, size_t n)
{
    memset(w, 0, sizeof(*w));
    w->n = n;
    for (size_t i = 0; i < n; i++) {
        struct cr_place_machine *m = &w->m[i];
        snprintf(w->ids[i], sizeof(w->ids[i]), "a%03u", (unsigned)((i * 61) % 211));
        snprintf(w->hosts[i], sizeof(w->hosts[i]), "h%03u", (unsigned)i);
        snprintf(w->racks[i], sizeof(w->racks[i]), "r%u", (unsigned)(rnd() % 6));
        snprintf(w->zones[i], sizeof(w->zones[i]), "z%u", (unsigned)(rnd() % 3));
        w->attrs[i][0].name = "rack";
        w->attrs[i][1].name = "zone";
        m->nattrs = rnd() % 8 == 0 ? 0 : 2;
        m->total_cpus = (int64_t)(2 + rnd() % 31) * K;
        m->total_mem = (int64_t)(1024 * (1 + rnd() % 128)) * K;
        m->total_disk = (int64_t)(1000 + rnd() % 100000) * K;
        m->free_cpus = m->total_cpus;
        m->free_mem = m->total_mem;
        m->free_disk = m->total_disk;
        if (rnd() % 4 == 0) { /* used by someone else */
            m->free_cpus -= (int64_t)(rnd() % (uint64_t)(m->total_cpus + 1));
            m->free_mem -= (int64_t)(rnd() % (uint64_t)(m->total_mem + 1));
        }
        m->free_ports = (int64_t)(rnd() % 40);
        m->is_unreachable = rnd() % 15 == 0;
        m->is_draining = rnd() % 15 == 0;
        w->start[i][0] = m->free_cpus;
        w->start[i][1] = m->free_mem;
        w->start[i][2] = m->free_disk;
        w->start[i][3] = m->free_ports;
    }
    world_fix(w);
}

/* ---- random apps ---- */

struct app {
    struct cr_place_request req;
    struct cr_place_constraint cons[2];
    enum cr_place_strategy strategy;
    size_t count;
    const char *placed[MAXINST]; /* machine ids of its instances so far */
    size_t nplaced;
};

static const struct cr_place_constraint pool[] = {
    {"hostname", CR_PLACE_UNIQUE, NULL}, {"rack", CR_PLACE_UNIQUE, NULL},
    {"rack", CR_PLACE_MAX_PER, "2"},     {"zone", CR_PLACE_MAX_PER, "5"},
    {"rack", CR_PLACE_GROUP_BY, NULL},   {"zone", CR_PLACE_GROUP_BY, "3"},
    {"zone", CR_PLACE_CLUSTER, NULL},    {"zone", CR_PLACE_CLUSTER, "z1"},
    {"rack", CR_PLACE_IS, "r2"},         {"rack", CR_PLACE_LIKE, "r[0-2]"},
    {"rack", CR_PLACE_UNLIKE, "r[34]"},  {"hostname", CR_PLACE_LIKE, "h0[0-9]+"},
    {"missing", CR_PLACE_UNLIKE, "x"},   {"zone", CR_PLACE_MAX_PER, "0"},
};
#define NPOOL (sizeof(pool) / sizeof(pool[0]))

static void app_random(struct app *a, size_t idx, char (*names)[16])
{
    memset(a, 0, sizeof(*a));
    snprintf(names[idx], 16, "/app%u", (unsigned)idx);
    a->req.app_id = names[idx];
    a->req.cpus = (int64_t)(rnd() % 40) * 100;
    a->req.mem = (int64_t)(rnd() % 64) * 256 * K;
    a->req.disk = rnd() % 3 == 0 ? (int64_t)(rnd() % 2000) * K : 0;
    a->req.ports = (int64_t)(rnd() % 3);
    size_t nc = rnd() % 3;
    for (size_t j = 0; j < nc; j++)
        a->cons[j] = pool[rnd() % NPOOL];
    a->req.constraints = a->cons;
    a->req.nconstraints = nc;
    a->strategy = rnd() % 4 == 0 ? CR_PLACE_SPREAD : CR_PLACE_BINPACK;
    a->count = 1 + rnd() % 30;
}

/* ---- the naive constraint check ---- */

static const char *field(const struct cr_place_machine *m, const char *f)
{
    if (strcmp(f, "hostname") == 0)
        return m->hostname;
    for (size_t i = 0; i < m->nattrs; i++)
        if (strcmp(m->attrs[i].name, f) == 0)
            return m->attrs[i].text;
    return NULL;
}

static const struct cr_place_machine *by_id(const struct world *w, const char *id)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->m[i].id, id) == 0)
            return &w->m[i];
    return NULL;
}

/* Instances (ids in inst[0..ni)) on machines whose field f equals v. */
static int64_t count_on(const struct world *w, const char **inst, size_t ni, const char *f,
                        const char *v)
{
    int64_t n = 0;
    for (size_t p = 0; p < ni; p++) {
        const struct cr_place_machine *m = by_id(w, inst[p]);
        const char *x = m ? field(m, f) : NULL;
        n += x && strcmp(x, v) == 0;
    }
    return n;
}

static bool full_match(const char *pattern, const char *s)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "^(%s)$", pattern);
    regex_t re;
    assert_int_equal(regcomp(&re, buf, REG_EXTENDED | REG_NOSUB), 0);
    bool ok = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

/* Does machine m pass constraint c, given the app's instances inst[0..ni)? */
static bool naive_cons(const struct world *w, const struct cr_place_machine *m,
                       const struct cr_place_constraint *c, const char **inst, size_t ni)
{
    const char *v = field(m, c->field);
    if (!v)
        return c->op == CR_PLACE_UNLIKE;
    switch (c->op) {
    case CR_PLACE_UNIQUE:
        return count_on(w, inst, ni, c->field, v) == 0;
    case CR_PLACE_MAX_PER:
        return count_on(w, inst, ni, c->field, v) < atoll(c->value);
    case CR_PLACE_IS:
        return strcmp(v, c->value) == 0;
    case CR_PLACE_LIKE:
        return full_match(c->value, v);
    case CR_PLACE_UNLIKE:
        return !full_match(c->value, v);
    case CR_PLACE_CLUSTER:
        if (c->value && *c->value)
            return strcmp(v, c->value) == 0;
        for (size_t p = 0; p < ni; p++) { /* the value of the first instance that has one */
            const struct cr_place_machine *o = by_id(w, inst[p]);
            const char *x = o ? field(o, c->field) : NULL;
            if (x)
                return strcmp(x, v) == 0;
        }
        return true;
    case CR_PLACE_GROUP_BY: {
        /* Evenly: not more than on the emptiest value that a live machine has (values not
         * seen yet, when "n" expects more, hold none). */
        int64_t min = INT64_MAX;
        size_t live = 0;
        for (size_t i = 0; i < w->n; i++) {
            const struct cr_place_machine *o = &w->m[i];
            const char *x = field(o, c->field);
            if (!x || o->is_unreachable || o->is_draining)
                continue;
            bool seen = false;
            for (size_t j = 0; j < i && !seen; j++) {
                const char *y = field(&w->m[j], c->field);
                seen = y && strcmp(x, y) == 0 && !w->m[j].is_unreachable && !w->m[j].is_draining;
            }
            if (seen)
                continue;
            live++;
            int64_t n = count_on(w, inst, ni, c->field, x);
            min = n < min ? n : min;
        }
        if (live == 0 || (c->value && (int64_t)live < atoll(c->value)))
            min = 0;
        return count_on(w, inst, ni, c->field, v) <= min;
    }
    }
    return false;
}

static bool naive_fits(const struct cr_place_machine *m, const struct cr_place_request *r)
{
    return !m->is_unreachable && !m->is_draining && m->free_cpus >= r->cpus &&
           m->free_mem >= r->mem && m->free_disk >= r->disk && m->free_ports >= r->ports;
}

static bool naive_ok(const struct world *w, const struct cr_place_machine *m,
                     const struct cr_place_request *r, const char **inst, size_t ni)
{
    if (!naive_fits(m, r))
        return false;
    for (size_t j = 0; j < r->nconstraints; j++)
        if (!naive_cons(w, m, &r->constraints[j], inst, ni))
            return false;
    return true;
}

/* ---- one scenario ---- */

struct trace {
    size_t machine[MAXAPPS * 2][64]; /* per batch: machine index of each placed instance */
    size_t nplaced[MAXAPPS * 2];
    size_t nbatches;
};

static uint64_t cur_seed;
static int cur_round;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            print_error("seed %llu round %d: ", (unsigned long long)cur_seed, cur_round);          \
            print_error(__VA_ARGS__);                                                              \
            print_error("\n");                                                                     \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/* Place one batch of a (count instances) on w and check every property of it. */
static void batch_checked(struct world *w, struct app *a, size_t count, int64_t (*ledger)[4],
                          struct trace *t)
{
    struct cr_place_machine before[MAXM];
    memcpy(before, w->m, sizeof(before));
    a->req.placed = a->placed;
    a->req.nplaced = a->nplaced;
    struct cr_place_result res;
    cr_place_result_init(&res);
    struct cr_err err;
    int rc = cr_place_batch(w->m, w->n, &a->req, count, a->strategy, &res, &err);
    CHECK(rc == 0, "place %s: %s", a->req.app_id, cr_err_msg(&err));
    CHECK(res.nplaced + res.nunplaced == count, "placed %zu + unplaced %zu != %zu", res.nplaced,
          res.nunplaced, count);

    /* The constraints, instance by instance, against the state before the batch's own
     * resources were taken (constraints do not look at resources). */
    struct world snap = *w;
    memcpy(snap.m, before, sizeof(before));
    world_fix(&snap);
    for (size_t k = 0; k < res.nplaced; k++) {
        size_t i = res.machine[k];
        CHECK(i < w->n, "instance %zu on machine %zu of %zu", k, i, w->n);
        const struct cr_place_machine *m = &snap.m[i];
        CHECK(!m->is_unreachable && !m->is_draining, "instance %zu on unusable %s", k, m->id);
        for (size_t j = 0; j < a->req.nconstraints; j++) {
            const struct cr_place_constraint *c = &a->req.constraints[j];
            CHECK(naive_cons(&snap, m, c, a->placed, a->nplaced),
                  "%s instance %zu on %s breaks %s:%s:%s", a->req.app_id, k, m->id, c->field,
                  cr_place_op_name(c->op), c->value ? c->value : "");
        }
        /* the ledger: what this machine has given away so far */
        ledger[i][0] += a->req.cpus;
        ledger[i][1] += a->req.mem;
        ledger[i][2] += a->req.disk;
        ledger[i][3] += a->req.ports;
        CHECK(a->nplaced < MAXINST, "too many instances");
        a->placed[a->nplaced++] = w->m[i].id;
        t->machine[t->nbatches][k] = i;
    }
    t->nplaced[t->nbatches++] = res.nplaced;

    /* No over-commit: free >= 0 and free = start - everything placed there. */
    for (size_t i = 0; i < w->n; i++) {
        const struct cr_place_machine *m = &w->m[i];
        CHECK(m->free_cpus >= 0 && m->free_mem >= 0 && m->free_disk >= 0 && m->free_ports >= 0,
              "%s over-committed", m->id);
        CHECK(m->free_cpus == w->start[i][0] - ledger[i][0] &&
                  m->free_mem == w->start[i][1] - ledger[i][1] &&
                  m->free_disk == w->start[i][2] - ledger[i][2] &&
                  m->free_ports == w->start[i][3] - ledger[i][3],
              "%s: free amounts do not match what was placed on it", m->id);
    }

    /* Stopping short means nothing takes the next instance; the diagnosis says why. */
    if (res.nunplaced > 0) {
        size_t nfail[4 + 2 + 2] = {0};
        for (size_t i = 0; i < w->n; i++) {
            const struct cr_place_machine *m = &w->m[i];
            CHECK(!naive_ok(w, m, &a->req, a->placed, a->nplaced),
                  "%s stopped at %zu of %zu but %s would take one", a->req.app_id, res.nplaced,
                  count, m->id);
            nfail[0] += m->free_cpus < a->req.cpus;
            nfail[1] += m->free_mem < a->req.mem;
            nfail[2] += m->free_disk < a->req.disk;
            nfail[3] += m->free_ports < a->req.ports;
            for (size_t j = 0; j < a->req.nconstraints; j++)
                nfail[4 + j] += !naive_cons(w, m, &a->req.constraints[j], a->placed, a->nplaced);
            nfail[4 + a->req.nconstraints] += m->is_unreachable;
            nfail[5 + a->req.nconstraints] += m->is_draining;
        }
        CHECK(res.diag.considered == w->n && res.diag.n == 6 + a->req.nconstraints,
              "diagnosis shape");
        for (size_t j = 0; j < res.diag.n; j++)
            CHECK(res.diag.v[j].failed == nfail[j], "%s: diagnosis '%s' %zu, naive %zu",
                  a->req.app_id, res.diag.v[j].requirement, res.diag.v[j].failed, nfail[j]);
    }
    cr_place_result_release(&res);
}

/* A world and an app sequence from seed; the batches' placements go to t. */
static void scenario(uint64_t seed, bool reversed, struct trace *t, struct world *out)
{
    rng_state = seed;
    static struct world w;
    world_random(&w, 1 + rnd() % MAXM);
    if (reversed) { /* the same machines in reverse order (strings follow their machine) */
        static struct world r;
        r = w;
        for (size_t i = 0; i < w.n; i++) {
            size_t j = w.n - 1 - i;
            r.m[i] = w.m[j];
            memcpy(r.attrs[i], w.attrs[j], sizeof(r.attrs[i]));
            memcpy(r.ids[i], w.ids[j], sizeof(r.ids[i]));
            memcpy(r.hosts[i], w.hosts[j], sizeof(r.hosts[i]));
            memcpy(r.racks[i], w.racks[j], sizeof(r.racks[i]));
            memcpy(r.zones[i], w.zones[j], sizeof(r.zones[i]));
            memcpy(r.start[i], w.start[j], sizeof(r.start[i]));
        }
        w = r;
        world_fix(&w);
    }
    static struct app apps[MAXAPPS];
    static char names[MAXAPPS][16];
    static int64_t ledger[MAXM][4];
    memset(ledger, 0, sizeof(ledger));
    memset(t, 0, sizeof(*t));
    size_t napps = 1 + rnd() % MAXAPPS;
    for (size_t a = 0; a < napps; a++) {
        app_random(&apps[a], a, names);
        batch_checked(&w, &apps[a], apps[a].count, ledger, t);
        if (a > 0 && rnd() % 3 == 0) { /* scale an earlier app up */
            size_t b = rnd() % a;
            batch_checked(&w, &apps[b], 1 + rnd() % 20, ledger, t);
        }
    }
    if (out) {
        *out = w;
        world_fix(out);
    }
}

static void test_properties_hold(void **state)
{
    (void)state;
    cur_seed = base_seed();
    static struct trace t;
    for (cur_round = 0; cur_round < 120; cur_round++)
        scenario(cur_seed * 7919u + (uint64_t)cur_round + 1, false, &t, NULL);
}

static void test_deterministic(void **state)
{
    (void)state;
    cur_seed = base_seed();
    static struct trace t1, t2, t3;
    static struct world w1, w3;
    for (cur_round = 0; cur_round < 30; cur_round++) {
        uint64_t s = cur_seed * 104729u + (uint64_t)cur_round + 1;
        scenario(s, false, &t1, &w1);
        scenario(s, false, &t2, NULL);
        scenario(s, true, &t3, &w3);
        CHECK(t1.nbatches == t2.nbatches && t1.nbatches == t3.nbatches, "batch counts differ");
        for (size_t b = 0; b < t1.nbatches; b++) {
            CHECK(t1.nplaced[b] == t2.nplaced[b] && t1.nplaced[b] == t3.nplaced[b],
                  "batch %zu placed %zu / %zu / %zu", b, t1.nplaced[b], t2.nplaced[b],
                  t3.nplaced[b]);
            for (size_t k = 0; k < t1.nplaced[b]; k++) {
                CHECK(t1.machine[b][k] == t2.machine[b][k], "batch %zu instance %zu differs", b, k);
                CHECK(strcmp(w1.m[t1.machine[b][k]].id, w3.m[t3.machine[b][k]].id) == 0,
                      "batch %zu instance %zu: %s, reversed %s", b, k, w1.m[t1.machine[b][k]].id,
                      w3.m[t3.machine[b][k]].id);
            }
        }
    }
}

/*
 * Best-fit against first-fit on bench_place's kind of workload: app shapes from small
 * services to big batch apps (cpu-heavy, balanced, mem-heavy), 100-160 apps of 1-50 instances
 * each, onto identical or mixed-size machines. Asserted: over the runs, best-fit uses fewer
 * machines in total, and in no run more than 10% more than first-fit.
 *
 * Not asserted: "never more machines in any run". Best-fit spreads a lopsided app (say
 * mem-heavy while the cluster mostly asks for cpus) over fresh machines instead of filling one
 * machine's memory and stranding its cpus, betting that later apps fill those cpus. Over long
 * app sequences the bet wins (bench_place: 1.02 of the lower bound against first-fit's 1.12 on
 * identical machines, 1.49 on mixed ones); when the sequence ends on a streak of lopsided
 * apps the bet is lost, and on these inputs a few runs in a thousand use up to ~8% more
 * machines than first-fit (on 20-50-app sequences about one run in twelve, up to ~11%).
 */
static size_t used_machines(const struct cr_place_machine *m, size_t n)
{
    size_t used = 0;
    for (size_t i = 0; i < n; i++)
        used += m[i].free_cpus != m[i].total_cpus || m[i].free_mem != m[i].total_mem;
    return used;
}

static void test_best_fit_beats_first_fit(void **state)
{
    (void)state;
    static const int64_t shapes[][2] = {{100, 128},    {250, 256},   {500, 512},   {1000, 1024},
                                        {1000, 4096},  {2000, 2048}, {4000, 8192}, {2000, 16384},
                                        {8000, 16384}, {500, 8192}};
    enum { NM = 400 };
    static struct cr_place_machine bf[NM], ff[NM];
    static char ids[NM][16];
    cur_seed = base_seed();
    size_t total_bf = 0, total_ff = 0;
    for (cur_round = 0; cur_round < 24; cur_round++) {
        rng_state = cur_seed * 31337u + (uint64_t)cur_round + 1;
        bool mixed = cur_round % 2;
        size_t napps = 100 + rnd() % 61;
        for (size_t i = 0; i < NM; i++) {
            snprintf(ids[i], sizeof(ids[i]), "m%03u", (unsigned)i);
            int64_t scale = mixed ? (int64_t)(1 + i % 3) : 2;
            bf[i] = (struct cr_place_machine){.id = ids[i], .hostname = ids[i]};
            bf[i].total_cpus = bf[i].free_cpus = 16 * scale * K;
            bf[i].total_mem = bf[i].free_mem = 65536 * scale * K;
            bf[i].total_disk = bf[i].free_disk = 1000000 * K;
            bf[i].free_ports = 1000;
            ff[i] = bf[i];
        }
        struct cr_place_result res;
        cr_place_result_init(&res);
        for (size_t a = 0; a < napps; a++) {
            const int64_t *s = shapes[rnd() % (sizeof(shapes) / sizeof(shapes[0]))];
            struct cr_place_request r = {.app_id = "/a", .cpus = s[0], .mem = s[1] * K};
            size_t count = 1 + rnd() % 50;
            struct cr_err err;
            assert_int_equal(cr_place_batch(bf, NM, &r, count, CR_PLACE_BINPACK, &res, &err), 0);
            CHECK(res.nunplaced == 0, "best-fit left %zu unplaced", res.nunplaced);
            for (size_t k = 0; k < count; k++) {
                size_t i = 0;
                while (i < NM && (ff[i].free_cpus < r.cpus || ff[i].free_mem < r.mem))
                    i++;
                CHECK(i < NM, "first-fit ran out of machines");
                ff[i].free_cpus -= r.cpus;
                ff[i].free_mem -= r.mem;
            }
        }
        cr_place_result_release(&res);
        size_t ub = used_machines(bf, NM), uf = used_machines(ff, NM);
        CHECK(ub * 10 <= uf * 11, "%s machines, %zu apps: best-fit used %zu, first-fit %zu",
              mixed ? "mixed" : "identical", napps, ub, uf);
        if (getenv("CR_TEST_VERBOSE"))
            printf("round %d %s: best-fit %zu first-fit %zu\n", cur_round,
                   mixed ? "mixed" : "identical", ub, uf);
        total_bf += ub;
        total_ff += uf;
    }
    CHECK(total_bf < total_ff, "best-fit used %zu machines in all, first-fit %zu", total_bf,
          total_ff);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_properties_hold),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_best_fit_beats_first_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
