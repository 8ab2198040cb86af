/*
 * test_deploy.c - the deployment planner, launch backoff and the health kill budget.
 *
 * Table-driven cases for goal validation and the limits' rounding, scale up and down (kill
 * order by phase, health, killSelection and index), replacing lost instances, rolling
 * restarts step by step; then seeded random simulations (set CR_TEST_SEED to replay; the seed
 * is printed on failure): a world that applies each step (launches go SCHEDULED -> STAGING ->
 * RUNNING with random delays and may fail, kills go KILLING and vanish), sometimes with a new
 * goal mid-way (new version and/or new count). Every step is checked against the rules written
 * out naively, the healthy count never drops below min(min_healthy, previous healthy), alive
 * never exceeds max(max_total, alive when the goal was set), and every deployment ends
 * (is_done) within a bounded number of rounds.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/deploy.h"

/* ---- helpers ---- */

static struct cr_deploy_goal goal(int64_t n, double min_hc, double max_oc)
{
    struct cr_deploy_goal g = {.instances = n,
                               .minimum_health_capacity = min_hc,
                               .maximum_over_capacity = max_oc,
                               .kill_selection = CR_APP_KILL_YOUNGEST_FIRST};
    return g;
}

/* Instance constructors: target/old, phase, healthy, staged_at. */
static struct cr_deploy_inst I(bool target, enum cr_inst_phase p, bool healthy, double t) {
    struct cr_deploy_inst x = {
        .is_target = target, .phase = p, .is_healthy = healthy, .staged_at_s = t};
    return x;
}
#define TH(t) I(true, CR_INST_RUNNING, true, t)    /* target, healthy */
#define TU(t) I(true, CR_INST_RUNNING, false, t)   /* target, running unhealthy */
#define TS(t) I(true, CR_INST_STAGING, false, t)   /* target, staging */
#define TQ(t) I(true, CR_INST_SCHEDULED, false, t) /* target, scheduled */
#define TK(t) I(true, CR_INST_KILLING, false, t)   /* target, killing */
#define OH(t) I(false, CR_INST_RUNNING, true, t)   /* old, healthy */
#define OU(t) I(false, CR_INST_RUNNING, false, t)
#define OS(t) I(false, CR_INST_STAGING, false, t)
#define OQ(t) I(false, CR_INST_SCHEDULED, false, t)
#define OK(t) I(false, CR_INST_KILLING, false, t)

/* Plan and expect success, launch and the exact kill list (in order, terminated by -1). */
static void
expect_step(const struct cr_deploy_goal *g, const struct cr_deploy_inst *v, size_t n, size_t launch,
            bool done, const int *kills)
{
    struct cr_deploy_step s;
    cr_deploy_step_init(&s);
    struct cr_err err = {0};
    assert_int_equal(cr_deploy_plan(g, v, n, &s, &err), 0);
    assert_int_equal(s.launch, launch);
    assert_int_equal(s.is_done, done);
    size_t nk = 0;
    while (kills[nk] >= 0)
        nk++;
    if (s.nkill != nk) {
        print_error("nkill %zu, want %zu:", s.nkill, nk);
        for (size_t i = 0; i < s.nkill; i++)
            print_error(" %zu", s.kill[i]);
        print_error("\n");
    }
    assert_int_equal(s.nkill, nk);
    for (size_t i = 0; i < nk; i++)
        assert_int_equal(s.kill[i], (size_t)kills[i]);
    cr_deploy_step_release(&s);
}

#define NV(a) (sizeof(a) / sizeof((a)[0]))
#define KILLS(...) ((const int[]){__VA_ARGS__, -1})
#define NOKILL ((const int[]){-1})

/* ---- validation and limits ---- */

static void expect_invalid(struct cr_deploy_goal g, const char *field)
{
    struct cr_err err = {0};
    assert_int_equal(cr_deploy_goal_validate(&g, &err), -EINVAL);
    assert_int_equal(err.code, -EINVAL);
    if (!strstr(err.msg, field))
        print_error("message '%s' does not name '%s'\n", err.msg, field);
    assert_non_null(strstr(err.msg, field));
    /* plan refuses it too, leaving an empty step */
    struct cr_deploy_step s;
    cr_deploy_step_init(&s);
    s.launch = 7;
    assert_int_equal(cr_deploy_plan(&g, NULL, 0, &s, &err), -EINVAL);
    assert_int_equal(s.launch, 0);
    assert_int_equal(s.nkill, 0);
    assert_null(s.kill);
    assert_false(s.is_done);
}

static void test_validate(void **state)
{
    (void)state;
    struct cr_err err = {0};
    struct cr_deploy_goal ok[] = {
        goal(0, 1, 0),    goal(1, 1, 1),         goal(3, 0, 0),     goal(3, 0.5, 0.5),
        goal(3, 1, 0.01), goal(INT32_MAX, 1, 1), goal(5, 0.999, 0),
    };
    for (size_t i = 0; i < NV(ok); i++)
        assert_int_equal(cr_deploy_goal_validate(&ok[i], &err), 0);

    expect_invalid(goal(-1, 1, 1), "instances");
    expect_invalid(goal((int64_t)INT32_MAX + 1, 1, 1), "instances");
    expect_invalid(goal(3, 1.5, 1), "minimumHealthCapacity");
    expect_invalid(goal(3, -0.1, 1), "minimumHealthCapacity");
    expect_invalid(goal(3, NAN, 1), "minimumHealthCapacity");
    expect_invalid(goal(3, 1, 1.01), "maximumOverCapacity");
    expect_invalid(goal(3, 1, -1), "maximumOverCapacity");
    expect_invalid(goal(3, 1, NAN), "maximumOverCapacity");
    expect_invalid(goal(1, 1, 0), "maximumOverCapacity");
    struct cr_deploy_goal bad = goal(3, 1, 1);
    bad.kill_selection = (enum cr_app_kill_selection)7;
    expect_invalid(bad, "killSelection");
}

static void test_limits_rounding(void **state)
{
    (void)state;
    struct {
        int64_t n;
        double min_hc, max_oc;
        int64_t min_healthy, max_total;
    } t[] = {
        {0, 1, 1, 0, 0},
        {0, 0.5, 0.5, 0, 0},
        {1, 1, 1, 1, 2},
        {3, 1, 1, 3, 6},
        {10, 0.3, 0.3, 3, 13},      /* 10 * 0.3 = 3.0000000000000004 */
        {10, 0.7, 0.7, 7, 17},      /* 10 * 0.7 = 7.000000000000001 */
        {3, 0.1, 0.1, 1, 3},        /* ceil(0.3) = 1, floor(0.3) = 0 */
        {100, 0.29, 0.29, 29, 129}, /* 100 * 0.29 = 28.999999999999996 */
        {3, 0.5, 0.5, 2, 4},
        {4, 0.5, 0, 2, 4},
        {3, 0, 0, 0, 3},
        {5, 0, 1, 0, 10},
        {3, 0.9, 0.2, 3, 4}, /* no room between the two: max_total raised by one */
        {1, 1, 0.5, 1, 2},   /* same */
        {2, 0.6, 0.4, 2, 3}, /* same */
        {2, 0.4, 0.4, 1, 2}, /* room: unchanged */
        {INT32_MAX, 1, 1, INT32_MAX, 2 * (int64_t)INT32_MAX},
    };
    for (size_t i = 0; i < NV(t); i++) {
        struct cr_deploy_goal g = goal(t[i].n, t[i].min_hc, t[i].max_oc);
        int64_t lo = -1, hi = -1;
        cr_deploy_goal_limits(&g, &lo, &hi);
        if (lo != t[i].min_healthy || hi != t[i].max_total)
            print_error("case %zu: n=%lld min=%g max=%g -> %lld/%lld, want %lld/%lld\n", i,
                        (long long)t[i].n, t[i].min_hc, t[i].max_oc, (long long)lo, (long long)hi,
                        (long long)t[i].min_healthy, (long long)t[i].max_total);
        assert_int_equal(lo, t[i].min_healthy);
        assert_int_equal(hi, t[i].max_total);
        cr_deploy_goal_limits(&g, NULL, NULL); /* NULL outputs are fine */
    }
}

static void test_goal_of_app(void **state)
{
    (void)state;
    struct cr_app app;
    memset(&app, 0, sizeof(app));
    app.instances = 4;
    app.minimum_health_capacity = 0.25;
    app.maximum_over_capacity = 0.75;
    app.kill_selection = CR_APP_KILL_OLDEST_FIRST;
    struct cr_deploy_goal g = cr_deploy_goal_of_app(&app);
    assert_int_equal(g.instances, 4);
    assert_true(g.minimum_health_capacity == 0.25);
    assert_true(g.maximum_over_capacity == 0.75);
    assert_int_equal(g.kill_selection, CR_APP_KILL_OLDEST_FIRST);
}

/* ---- table-driven plans ---- */

static void test_empty_and_start(void **state)
{
    (void)state;
    struct cr_deploy_goal g = goal(0, 1, 1);
    expect_step(&g, NULL, 0, 0, true, NOKILL);
    g = goal(3, 1, 1);
    expect_step(&g, NULL, 0, 3, false, NOKILL);
    g = goal(3, 1, 0.1); /* max_total does not limit a start from nothing */
    expect_step(&g, NULL, 0, 3, false, NOKILL);
}

static void test_done_and_waiting(void **state)
{
    (void)state;
    struct cr_deploy_goal g = goal(3, 1, 1);
    struct cr_deploy_inst done[] = {TH(1), TH(2), TH(3)};
    expect_step(&g, done, NV(done), 0, true, NOKILL);

    /* a KILLING instance is still left: not done, nothing to do */
    struct cr_deploy_inst killing[] = {TH(1), TK(5), TH(2), TH(3)};
    expect_step(&g, killing, NV(killing), 0, false, NOKILL);
    struct cr_deploy_inst old_killing[] = {TH(1), OK(5), TH(2), TH(3)};
    expect_step(&g, old_killing, NV(old_killing), 0, false, NOKILL);

    /* target instances not healthy yet: wait */
    struct cr_deploy_inst waiting[] = {TH(1), TU(2), TS(3)};
    expect_step(&g, waiting, NV(waiting), 0, false, NOKILL);
    struct cr_deploy_inst sched[] = {TQ(1), TQ(2), TQ(3)};
    expect_step(&g, sched, NV(sched), 0, false, NOKILL);

    /* is_healthy is ignored outside RUNNING */
    struct cr_deploy_inst staging_flag[] = {TH(1), TH(2), I(true, CR_INST_STAGING, true, 3)};
    expect_step(&g, staging_flag, NV(staging_flag), 0, false, NOKILL);

    /* all gone: N = 0 with only KILLING instances left is not done yet */
    g = goal(0, 1, 1);
    struct cr_deploy_inst gone[] = {TK(1), OK(2)};
    expect_step(&g, gone, NV(gone), 0, false, NOKILL);
}

static void test_replace_lost(void **state)
{
    (void)state;
    /* maxOverCapacity 0: replacing lost instances is not limited by max_total */
    struct cr_deploy_goal g = goal(3, 1, 0.1);
    struct cr_deploy_inst lost1[] = {TH(1), TH(2)};
    expect_step(&g, lost1, NV(lost1), 1, false, NOKILL);
    struct cr_deploy_inst killing[] = {TH(1), TK(2), TH(3)}; /* the KILLING one is replaced */
    expect_step(&g, killing, NV(killing), 1, false, NOKILL);
    struct cr_deploy_inst all_lost[] = {TK(1), TK(2), TK(3)};
    expect_step(&g, all_lost, NV(all_lost), 3, false, NOKILL);
    /* during an upgrade a lost target instance is replaced within max_total */
    g = goal(3, 0.5, 0.5);                                     /* min 2, max 4 */
    struct cr_deploy_inst upgrading[] = {OH(1), OH(2), TH(3)}; /* one target lost */
    /* healthy 3 >= 2: one old may go; launch min(2, 4 - 3) = 1 */
    expect_step(&g, upgrading, NV(upgrading), 1, false, KILLS(1));
}

static void test_scale_up(void **state)
{
    (void)state;
    struct cr_deploy_goal g = goal(5, 1, 0);
    g.minimum_health_capacity = 0.5; /* (1, 0) is invalid */
    struct cr_deploy_inst v[] = {TH(1), TH(2), TU(3)};
    expect_step(&g, v, NV(v), 2, false, NOKILL);
}

/* GROUP_BY: scale-down takes from the largest group, so the app stays spread. */
static void test_scale_down_by_group(void **state)
{
    (void)state;
    /* racks: a a a b c (the three in a are the oldest; youngest-first alone would kill 4, 3) */
    struct cr_deploy_inst v[] = {TH(1), TH(2), TH(3), TH(4), TH(5)};
    const char *rack[] = {"a", "a", "a", "b", "c"};
    for (size_t i = 0; i < NV(v); i++)
        v[i].group = rack[i];
    struct cr_deploy_goal g = goal(3, 1, 1);
    expect_step(&g, v, NV(v), 0, false, KILLS(2, 1)); /* a=3 -> 1; youngest of a first */
    g.instances = 2;                                  /* a a a b c -> one of each first */
    expect_step(&g, v, NV(v), 0, false, KILLS(2, 1, 4));
    /* a cheaper phase still goes first: a staging instance in the small group */
    struct cr_deploy_inst w[] = {TH(1), TH(2), TS(3)};
    const char *r2[] = {"a", "a", "b"};
    for (size_t i = 0; i < NV(w); i++)
        w[i].group = r2[i];
    g = goal(2, 1, 1);
    expect_step(&g, w, NV(w), 0, false, KILLS(2));
    /* without groups: unchanged order (youngest first) */
    struct cr_deploy_inst u[] = {TH(1), TH(2), TH(3)};
    g = goal(1, 1, 1);
    expect_step(&g, u, NV(u), 0, false, KILLS(2, 1));
}

static void test_scale_down_order(void **state)
{
    (void)state;
    /* 0 healthy t=1, 1 healthy t=5, 2 scheduled t=9, 3 staging t=3, 4 unhealthy t=2 */
    struct cr_deploy_inst v[] = {TH(1), TH(5), TQ(9), TS(3), TU(2)};
    struct cr_deploy_goal g = goal(2, 1, 1);
    expect_step(&g, v, NV(v), 0, false, KILLS(2, 3, 4));
    g.instances = 1;
    expect_step(&g, v, NV(v), 0, false, KILLS(2, 3, 4, 1)); /* youngest healthy */
    g.kill_selection = CR_APP_KILL_OLDEST_FIRST;
    expect_step(&g, v, NV(v), 0, false, KILLS(2, 3, 4, 0)); /* oldest healthy */
    g.instances = 0;
    expect_step(&g, v, NV(v), 0, false, KILLS(2, 3, 4, 0, 1));

    /* within a phase group kill_selection orders too, then the index */
    struct cr_deploy_inst q[] = {TQ(1), TQ(3), TQ(2), TH(0)};
    g = goal(2, 1, 1);
    expect_step(&g, q, NV(q), 0, false, KILLS(1, 2));
    g.kill_selection = CR_APP_KILL_OLDEST_FIRST;
    expect_step(&g, q, NV(q), 0, false, KILLS(0, 2));

    /* ties by index, under both selections */
    struct cr_deploy_inst same[] = {TH(4), TH(4), TH(4)};
    g = goal(1, 1, 1);
    expect_step(&g, same, NV(same), 0, false, KILLS(0, 1));
    g.kill_selection = CR_APP_KILL_OLDEST_FIRST;
    expect_step(&g, same, NV(same), 0, false, KILLS(0, 1));

    /* NaN staged_at counts as the oldest */
    struct cr_deploy_inst nan[] = {TH(4), TH(NAN), TH(2)};
    g = goal(2, 1, 1);
    expect_step(&g, nan, NV(nan), 0, false, KILLS(0));
    g.kill_selection = CR_APP_KILL_OLDEST_FIRST;
    expect_step(&g, nan, NV(nan), 0, false, KILLS(1));

    /* never a KILLING one, and KILLING ones do not count */
    struct cr_deploy_inst k[] = {TK(9), TH(1), TH(2)};
    g = goal(1, 1, 1);
    expect_step(&g, k, NV(k), 0, false, KILLS(2));

    /* scale-down does not wait for health capacity */
    struct cr_deploy_inst h[] = {TH(1), TH(2), TH(3), TH(4)};
    g = goal(1, 1, 1);
    expect_step(&g, h, NV(h), 0, false, KILLS(3, 2, 1));
}

static void test_rolling_defaults(void **state)
{
    (void)state;
    /* minimumHealthCapacity 1, maximumOverCapacity 1: start all, then stop all */
    struct cr_deploy_goal g = goal(3, 1, 1);
    struct cr_deploy_inst s1[] = {OH(1), OH(2), OH(3)};
    expect_step(&g, s1, NV(s1), 3, false, NOKILL);
    struct cr_deploy_inst s2[] = {OH(1), OH(2), OH(3), TS(10), TQ(10), TU(10)};
    expect_step(&g, s2, NV(s2), 0, false, NOKILL);
    struct cr_deploy_inst s3[] = {OH(1), OH(2), OH(3), TH(10), TU(10), TH(10)};
    /* healthy 5, min 3: two old may go, youngest first */
    expect_step(&g, s3, NV(s3), 0, false, KILLS(2, 1));
    g.kill_selection = CR_APP_KILL_OLDEST_FIRST;
    expect_step(&g, s3, NV(s3), 0, false, KILLS(0, 1));
    struct cr_deploy_inst s4[] = {OH(1), OK(2), OK(3), TH(10), TH(10), TH(10)};
    expect_step(&g, s4, NV(s4), 0, false, KILLS(0));
    struct cr_deploy_inst s5[] = {OK(1), TH(10), TH(10), TH(10)};
    expect_step(&g, s5, NV(s5), 0, false, NOKILL);
    struct cr_deploy_inst s6[] = {TH(10), TH(10), TH(10)};
    expect_step(&g, s6, NV(s6), 0, true, NOKILL);
}

static void test_rolling_stop_first(void **state)
{
    (void)state;
    /* 0.5 / 0: min 2, max 4, so half are stopped first */
    struct cr_deploy_goal g = goal(4, 0.5, 0);
    struct cr_deploy_inst s1[] = {OH(1), OH(2), OH(3), OH(4)};
    expect_step(&g, s1, NV(s1), 0, false, KILLS(3, 2));
    struct cr_deploy_inst s2[] = {OH(1), OH(2), OK(3), OK(4)};
    expect_step(&g, s2, NV(s2), 2, false, NOKILL);
    struct cr_deploy_inst s3[] = {OH(1), OH(2), TH(5), TS(5)};
    expect_step(&g, s3, NV(s3), 0, false, KILLS(1));
    /* minimumHealthCapacity 0: everything old goes at once */
    g = goal(3, 0, 0);
    expect_step(&g, s1, NV(s1), 0, false, KILLS(3, 2, 1, 0));
}

static void test_old_not_healthy_always_killed(void **state)
{
    (void)state;
    struct cr_deploy_goal g = goal(3, 1, 1);
    struct cr_deploy_inst v[] = {OS(1), OU(2), OH(3), OH(4), OQ(5), OK(6)};
    /* alive 5, max 6: launch 1; scheduled, staging, unhealthy old go now */
    expect_step(&g, v, NV(v), 1, false, KILLS(4, 0, 1));
}

static void test_no_room_surge(void **state)
{
    (void)state;
    /* N = 3, 0.9 / 0.2: min 3 and max 3 would deadlock; one extra instance is allowed */
    struct cr_deploy_goal g = goal(3, 0.9, 0.2);
    struct cr_deploy_inst s1[] = {OH(1), OH(2), OH(3)};
    expect_step(&g, s1, NV(s1), 1, false, NOKILL);
    struct cr_deploy_inst s2[] = {OH(1), OH(2), OH(3), TS(4)};
    expect_step(&g, s2, NV(s2), 0, false, NOKILL);
    struct cr_deploy_inst s3[] = {OH(1), OH(2), OH(3), TH(4)};
    expect_step(&g, s3, NV(s3), 0, false, KILLS(2));
    struct cr_deploy_inst s4[] = {OH(1), OH(2), OK(3), TH(4)};
    expect_step(&g, s4, NV(s4), 1, false, NOKILL);
    /* more old than N: stop down to min_healthy first */
    struct cr_deploy_inst many[] = {OH(1), OH(2), OH(3), OH(4), OH(5)};
    expect_step(&g, many, NV(many), 0, false, KILLS(4, 3));
}

static void test_surplus_and_old(void **state)
{
    (void)state;
    /* N = 2: one surplus target and two old, min 2 */
    struct cr_deploy_goal g = goal(2, 1, 1);
    struct cr_deploy_inst v[] = {TH(1), OH(0), TH(2), OH(0), TH(3)};
    expect_step(&g, v, NV(v), 0, false, KILLS(4, 1, 3));
    /* scale to 0 during an upgrade: everything goes */
    g.instances = 0;
    expect_step(&g, v, NV(v), 0, false, KILLS(4, 2, 0, 1, 3));
    /* surplus kills of healthy target ones count against the old ones' budget */
    g = goal(1, 1, 1);
    struct cr_deploy_inst w[] = {TH(1), TH(2), OH(0)};
    expect_step(&g, w, NV(w), 0, false, KILLS(1, 2));
    struct cr_deploy_inst x[] = {TH(1), TS(2), OH(0)}; /* target 1 healthy, min 1 */
    expect_step(&g, x, NV(x), 0, false, KILLS(1, 2));
    struct cr_deploy_inst y[] = {TS(1), TS(2), OH(0)}; /* no healthy target: old stays */
    expect_step(&g, y, NV(y), 0, false, KILLS(1));
}

static void test_bad_phase_and_reuse(void **state)
{
    (void)state;
    struct cr_deploy_goal g = goal(2, 1, 1);
    struct cr_deploy_inst v[] = {TH(1), TH(2), TH(3)};
    v[1].phase = (enum cr_inst_phase)9;
    struct cr_deploy_step s;
    cr_deploy_step_init(&s);
    struct cr_err err = {0};
    assert_int_equal(cr_deploy_plan(&g, v, NV(v), &s, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "instance 1"));
    assert_int_equal(s.nkill, 0);
    v[1].phase = CR_INST_RUNNING;
    /* one step reused: refilled each time (ASan catches a leak) */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cr_deploy_plan(&g, v, NV(v), &s, &err), 0);
        assert_int_equal(s.nkill, 1);
        assert_int_equal(s.kill[0], 2);
    }
    cr_deploy_step_release(&s);
    cr_deploy_step_release(&s);
    cr_deploy_step_release(NULL);
}

/* ---- seeded random simulations ---- */

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static unsigned rn(unsigned n) /* 0..n-1 */
{
    return (unsigned)(rnd() % n);
}

struct sinst {
    struct cr_deploy_inst x;
    int wait; /* rounds left in the current phase */
};

struct world {
    struct sinst v[256];
    size_t n;
};

static bool healthy(const struct cr_deploy_inst *x)
{
    return x->phase == CR_INST_RUNNING && x->is_healthy;
}

static int rank_of(const struct cr_deploy_inst *x)
{
    if (x->phase == CR_INST_SCHEDULED)
        return 0;
    if (x->phase == CR_INST_STAGING)
        return 1;
    return x->is_healthy ? 3 : 2;
}

/* Naive kill order: true when a should be killed before b. */
static bool before(const struct cr_deploy_inst *v, size_t a, size_t b,
                   enum cr_app_kill_selection ks)
{
    int ra = rank_of(&v[a]), rb = rank_of(&v[b]);
    if (ra != rb)
        return ra < rb;
    double ta = v[a].staged_at_s, tb = v[b].staged_at_s;
    if (ta != tb)
        return ks == CR_APP_KILL_YOUNGEST_FIRST ? ta > tb : ta < tb;
    return a < b;
}

struct ctx {
    uint64_t seed;
    int sim, round;
};

#define CHECK(c, cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            print_error("seed %llu sim %d round %d: ", (unsigned long long)(c)->seed, (c)->sim,    \
                        (c)->round);                                                               \
            print_error(__VA_ARGS__);                                                              \
            print_error("\n");                                                                     \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/* Check one step against the rules written out naively. */
static void check_step(const struct ctx *c, const struct cr_deploy_goal *g,
                       const struct cr_deploy_inst *v, size_t n, const struct cr_deploy_step *s)
{
    int64_t N = g->instances, min_h, max_t;
    cr_deploy_goal_limits(g, &min_h, &max_t);
    int64_t alive = 0, ta = 0, h = 0, old_h = 0;
    bool all_th = true;
    for (size_t i = 0; i < n; i++) {
        all_th = all_th && v[i].is_target && healthy(&v[i]);
        if (v[i].phase == CR_INST_KILLING)
            continue;
        alive++;
        ta += v[i].is_target;
        h += healthy(&v[i]);
        old_h += !v[i].is_target && healthy(&v[i]);
    }
    bool done = (int64_t)n == N && all_th;
    CHECK(c, s->is_done == done, "is_done %d, want %d", s->is_done, done);
    if (done) {
        CHECK(c, s->launch == 0 && s->nkill == 0, "a done step acts");
        return;
    }
    bool killed[256] = {false};
    int64_t tkills = 0, hkills_t = 0, hkills_o = 0;
    for (size_t j = 0; j < s->nkill; j++) {
        size_t i = s->kill[j];
        CHECK(c, i < n, "kill index %zu out of range", i);
        CHECK(c, !killed[i], "index %zu killed twice", i);
        CHECK(c, v[i].phase != CR_INST_KILLING, "index %zu is already KILLING", i);
        killed[i] = true;
        tkills += v[i].is_target;
        hkills_t += v[i].is_target && healthy(&v[i]);
        hkills_o += !v[i].is_target && healthy(&v[i]);
    }
    int64_t want_t = ta > N ? ta - N : 0;
    CHECK(c, tkills == want_t, "target kills %lld, want %lld", (long long)tkills,
          (long long)want_t);
    int64_t want_launch = N - ta < max_t - alive ? N - ta : max_t - alive;
    if (want_launch < 0)
        want_launch = 0;
    CHECK(c, (int64_t)s->launch == want_launch, "launch %zu, want %lld", s->launch,
          (long long)want_launch);
    int64_t room = h - hkills_t - min_h;
    int64_t want_o = room < 0 ? 0 : (room < old_h ? room : old_h);
    CHECK(c, hkills_o == want_o, "healthy old kills %lld, want %lld", (long long)hkills_o,
          (long long)want_o);
    int64_t h_after = h - hkills_t - hkills_o;
    CHECK(c, h_after >= (min_h < h ? min_h : h), "healthy %lld -> %lld below min %lld",
          (long long)h, (long long)h_after, (long long)min_h);
    for (size_t a = 0; a < n; a++) {
        if (v[a].phase == CR_INST_KILLING)
            continue;
        if (!v[a].is_target && !healthy(&v[a]))
            CHECK(c, killed[a], "old unhealthy %zu kept", a);
        if (!killed[a])
            continue;
        /* every kept alive instance of the same kind (target / old) comes later in order */
        for (size_t b = 0; b < n; b++)
            if (b != a && !killed[b] && v[b].phase != CR_INST_KILLING &&
                v[b].is_target == v[a].is_target)
                CHECK(c, before(v, a, b, g->kill_selection), "killed %zu before kept %zu", a, b);
    }
}

static void add(struct world *w, bool target, enum cr_inst_phase p, bool h, double t, int wait)
{
    assert_true(w->n < NV(w->v));
    w->v[w->n++] = (struct sinst){.x = I(target, p, h, t), .wait = wait};
}

/* The world moves one round: KILLING vanish after their wait, launches progress (or fail). */
static void advance(struct world *w, int *failures_left)
{
    size_t k = 0;
    for (size_t i = 0; i < w->n; i++) {
        struct sinst *s = &w->v[i];
        bool keep = true;
        switch (s->x.phase) {
        case CR_INST_KILLING:
            keep = s->wait-- > 0;
            break;
        case CR_INST_SCHEDULED:
        case CR_INST_STAGING:
            if (*failures_left > 0 && rn(12) == 0) {
                (*failures_left)--;
                keep = false;
            } else if (s->wait-- <= 0) {
                s->x.phase = s->x.phase == CR_INST_SCHEDULED ? CR_INST_STAGING : CR_INST_RUNNING;
                s->x.is_healthy = s->x.phase == CR_INST_RUNNING && rn(3) != 0;
                s->wait = (int)rn(3);
            }
            break;
        case CR_INST_RUNNING:
            if (!s->x.is_healthy && s->wait-- <= 0)
                s->x.is_healthy = true; /* the health check's grace: healthy soon */
            break;
        }
        if (keep)
            w->v[k++] = *s;
    }
    w->n = k;
}

static double pick_capacity(void)
{
    static const double fixed[] = {0, 0.1, 0.2, 0.25, 0.3, 0.5, 0.7, 0.9, 0.95, 1};
    return rn(3) == 0 ? (double)rn(1001) / 1000.0 : fixed[rn(NV(fixed))];
}

static struct cr_deploy_goal random_goal(void)
{
    for (;;) {
        struct cr_deploy_goal g = goal((int64_t)rn(13), pick_capacity(), pick_capacity());
        g.kill_selection = rn(2) ? CR_APP_KILL_YOUNGEST_FIRST : CR_APP_KILL_OLDEST_FIRST;
        if (cr_deploy_goal_validate(&g, NULL) == 0)
            return g;
    }
}

static int64_t count_alive(const struct world *w)
{
    int64_t a = 0;
    for (size_t i = 0; i < w->n; i++)
        a += w->v[i].x.phase != CR_INST_KILLING;
    return a;
}

static int64_t count_healthy(const struct world *w)
{
    int64_t h = 0;
    for (size_t i = 0; i < w->n; i++)
        h += healthy(&w->v[i].x);
    return h;
}

static void run_sim(struct ctx *c, int64_t *max_rounds_seen)
{
    struct world w = {.n = 0};
    struct cr_deploy_goal g = random_goal();
    /* k old instances, mostly healthy; some target ones from an earlier deployment */
    unsigned k = rn(16), t0 = rn(4) == 0 ? rn(16) : 0;
    for (unsigned i = 0; i < k + t0; i++) {
        bool target = i >= k;
        enum cr_inst_phase p = CR_INST_RUNNING;
        bool h = true;
        if (rn(5) == 0) {
            p = (enum cr_inst_phase)rn(4);
            h = false;
        }
        add(&w, target, p, h, (double)rn(100) - 100.0, (int)rn(3));
    }
    int failures_left = (int)rn(4);
    bool change_pending = rn(3) == 0;
    int change_at = (int)rn(20) + 1;

    int64_t alive_bound_base = count_alive(&w), min_h, max_t;
    cr_deploy_goal_limits(&g, &min_h, &max_t);
    int64_t bound = 16 * (alive_bound_base + g.instances + failures_left + 4);
    int64_t since = 0, prev_h = -1, prev_min_h = 0;

    struct cr_deploy_step s;
    cr_deploy_step_init(&s);
    for (c->round = 0;; c->round++, since++) {
        if (change_pending && c->round == change_at) {
            /* a new deployment mid-way: a new version (everything becomes old) and/or count */
            change_pending = false;
            struct cr_deploy_goal ng = random_goal();
            if (rn(2)) { /* same count, new strategy */
                ng.instances = g.instances;
                if (cr_deploy_goal_validate(&ng, NULL) != 0)
                    ng.maximum_over_capacity = 0.5;
            }
            if (rn(3) != 0)
                for (size_t i = 0; i < w.n; i++)
                    w.v[i].x.is_target = false;
            g = ng;
            cr_deploy_goal_limits(&g, &min_h, &max_t);
            alive_bound_base = count_alive(&w);
            bound = 16 * (alive_bound_base + g.instances + failures_left + 4);
            since = 0;
        }
        int64_t alive = count_alive(&w), h = count_healthy(&w);
        int64_t alive_max = max_t > alive_bound_base ? max_t : alive_bound_base;
        CHECK(c, alive <= alive_max, "alive %lld above max(max_total %lld, start %lld)",
              (long long)alive, (long long)max_t, (long long)alive_bound_base);
        if (prev_h >= 0)
            CHECK(c, h >= (prev_min_h < prev_h ? prev_min_h : prev_h),
                  "healthy %lld after %lld (min_healthy %lld)", (long long)h, (long long)prev_h,
                  (long long)prev_min_h);
        CHECK(c, since <= bound, "not done after %lld rounds (N=%lld min %g max %g)",
              (long long)since, (long long)g.instances, g.minimum_health_capacity,
              g.maximum_over_capacity);

        struct cr_deploy_inst snap[256];
        for (size_t i = 0; i < w.n; i++)
            snap[i] = w.v[i].x;
        struct cr_err err = {0};
        int rc = cr_deploy_plan(&g, snap, w.n, &s, &err);
        CHECK(c, rc == 0, "plan failed: %s", err.msg);
        check_step(c, &g, snap, w.n, &s);
        if (s.is_done && !change_pending)
            break;

        /* apply: kills first (indexes refer to the snapshot), then launches */
        for (size_t j = 0; j < s.nkill; j++) {
            struct sinst *x = &w.v[s.kill[j]];
            x->x.phase = CR_INST_KILLING;
            x->x.is_healthy = false;
            x->wait = (int)rn(2);
        }
        for (size_t j = 0; j < s.launch; j++)
            add(&w, true, CR_INST_SCHEDULED, false, (double)c->round + (double)rn(10) / 10.0,
                (int)rn(3));
        prev_h = count_healthy(&w);
        prev_min_h = min_h;
        advance(&w, &failures_left);
    }
    if (since > *max_rounds_seen)
        *max_rounds_seen = since;
    cr_deploy_step_release(&s);
}

static void test_random_rolling(void **state)
{
    (void)state;
    const char *env = getenv("CR_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : 20261125;
    struct ctx c = {.seed = seed};
    int64_t max_rounds = 0;
    for (c.sim = 0; c.sim < 3000; c.sim++) {
        rng_state = seed * 1000003u + (uint64_t)c.sim + 1;
        run_sim(&c, &max_rounds);
    }
    print_message("3000 simulated deployments, the longest took %lld rounds\n",
                  (long long)max_rounds);
}

/* A plain upgrade as the brief states it: k old healthy to N new, launches become STAGING then
 * RUNNING healthy, killed ones vanish next round; checks the exact round count stays small. */
static void test_every_small_goal_converges(void **state)
{
    (void)state;
    static const double caps[] = {0, 0.1, 0.25, 0.34, 0.5, 0.66, 0.9, 1};
    for (int64_t N = 0; N <= 7; N++)
        for (unsigned k = 0; k <= 9; k++)
            for (size_t a = 0; a < NV(caps); a++)
                for (size_t b = 0; b < NV(caps); b++) {
                    struct cr_deploy_goal g = goal(N, caps[a], caps[b]);
                    if (cr_deploy_goal_validate(&g, NULL) != 0)
                        continue;
                    int64_t min_h, max_t;
                    cr_deploy_goal_limits(&g, &min_h, &max_t);
                    struct world w = {.n = 0};
                    for (unsigned i = 0; i < k; i++)
                        add(&w, false, CR_INST_RUNNING, true, (double)i, 0);
                    struct cr_deploy_step s;
                    cr_deploy_step_init(&s);
                    int round = 0;
                    int64_t prev_h = (int64_t)k;
                    for (;; round++) {
                        assert_true(round <= 4 * (int)(N + k) + 4);
                        int64_t h = count_healthy(&w), alive = count_alive(&w);
                        assert_true(h >= (min_h < prev_h ? min_h : prev_h));
                        assert_true(alive <= (max_t > (int64_t)k ? max_t : (int64_t)k));
                        prev_h = h;
                        struct cr_deploy_inst snap[256];
                        for (size_t i = 0; i < w.n; i++)
                            snap[i] = w.v[i].x;
                        assert_int_equal(cr_deploy_plan(&g, snap, w.n, &s, NULL), 0);
                        if (s.is_done)
                            break;
                        /* the world: STAGING -> RUNNING healthy, KILLING vanish */
                        size_t m = 0;
                        bool killed[256] = {false};
                        for (size_t j = 0; j < s.nkill; j++)
                            killed[s.kill[j]] = true;
                        for (size_t i = 0; i < w.n; i++) {
                            if (killed[i] || w.v[i].x.phase == CR_INST_KILLING)
                                continue;
                            if (w.v[i].x.phase == CR_INST_STAGING) {
                                w.v[i].x.phase = CR_INST_RUNNING;
                                w.v[i].x.is_healthy = true;
                            }
                            w.v[m++] = w.v[i];
                        }
                        w.n = m;
                        for (size_t j = 0; j < s.launch; j++)
                            add(&w, true, CR_INST_STAGING, false, 100.0 + round, 0);
                    }
                    assert_int_equal((int64_t)w.n, N);
                    cr_deploy_step_release(&s);
                }
}

/* ---- backoff ---- */

static void test_backoff(void **state)
{
    (void)state;
    assert_true(cr_backoff_delay_s(1, 1.15, 300, 0) == 0);
    assert_true(cr_backoff_delay_s(1, 1.15, 300, 1) == 1);
    assert_true(fabs(cr_backoff_delay_s(1, 1.15, 300, 2) - 1.15) < 1e-12);
    assert_true(fabs(cr_backoff_delay_s(1, 1.15, 300, 3) - 1.3225) < 1e-12);
    assert_true(fabs(cr_backoff_delay_s(2, 2, 300, 5) - 32) < 1e-12);
    assert_true(cr_backoff_delay_s(2, 2, 300, 9) == 300); /* 512 capped */
    assert_true(cr_backoff_delay_s(1, 1.15, 300, 1000) == 300);
    assert_true(cr_backoff_delay_s(1, 1.15, 300, UINT_MAX) == 300);
    assert_true(cr_backoff_delay_s(1, 1e300, 1e308, UINT_MAX) == 1e308); /* overflow -> cap */
    assert_true(cr_backoff_delay_s(1, 1, 300, UINT_MAX) == 1); /* factor 1: constant, fast */
    assert_true(cr_backoff_delay_s(500, 1.15, 300, 1) == 300);
    assert_true(cr_backoff_delay_s(0, 1.15, 300, 7) == 0);
    assert_true(cr_backoff_delay_s(-1, 1.15, 300, 7) == 0);
    assert_true(cr_backoff_delay_s(1, 1.15, 0, 7) == 0);
    assert_true(cr_backoff_delay_s(1, NAN, 300, 7) == 1);
    assert_true(cr_backoff_delay_s(NAN, 2, 300, 7) == 0);

    /* against repeated multiplication, and never decreasing */
    static const double factors[] = {1, 1.01, 1.15, 1.5, 2, 3.7};
    for (size_t f = 0; f < NV(factors); f++) {
        double naive = 1.5, prev = 0;
        for (unsigned n = 1; n <= 400; n++) {
            double want = naive < 3600 ? naive : 3600;
            double got = cr_backoff_delay_s(1.5, factors[f], 3600, n);
            if (fabs(got - want) > 1e-9 * want)
                print_error("factor %g failures %u: %.17g, want %.17g\n", factors[f], n, got, want);
            assert_true(fabs(got - want) <= 1e-9 * want);
            assert_true(got >= prev);
            prev = got;
            naive *= factors[f];
        }
    }
}

/* ---- kill budget ---- */

static void test_kill_budget_limit(void **state)
{
    (void)state;
    assert_int_equal(cr_kill_budget_limit(0.1, 10), 1);
    assert_int_equal(cr_kill_budget_limit(0.1, 5), 1); /* at least one */
    assert_int_equal(cr_kill_budget_limit(0.5, 10), 5);
    assert_int_equal(cr_kill_budget_limit(0.3, 10), 3);
    assert_int_equal(cr_kill_budget_limit(0.7, 10), 7); /* 6.999999999999999 */
    assert_int_equal(cr_kill_budget_limit(0.29, 100), 29);
    assert_int_equal(cr_kill_budget_limit(1, 3), 3);
    assert_int_equal(cr_kill_budget_limit(0.25, 7), 1);
    assert_int_equal(cr_kill_budget_limit(0, 10), 1);
    assert_int_equal(cr_kill_budget_limit(-1, 10), 1);
    assert_int_equal(cr_kill_budget_limit(NAN, 10), 1);
    assert_int_equal(cr_kill_budget_limit(0.5, 0), 1);
    assert_int_equal(cr_kill_budget_limit(0.5, -4), 1);
    assert_int_equal(cr_kill_budget_limit(1e300, INT64_MAX), INT64_MAX);
}

static void test_kill_budget_window(void **state)
{
    (void)state;
    struct cr_kill_budget b;
    cr_kill_budget_init(&b);
    /* 10 instances, fraction 0.2: two kills per 60 s */
    assert_true(cr_kill_budget_allows(&b, 0, 60, 0.2, 10));
    cr_kill_budget_record(&b, 0, 60);
    assert_true(cr_kill_budget_allows(&b, 1, 60, 0.2, 10));
    cr_kill_budget_record(&b, 1, 60);
    for (int i = 0; i < 5; i++) /* asking does not record */
        assert_false(cr_kill_budget_allows(&b, 2, 60, 0.2, 10));
    assert_int_equal(b.n, 2);
    assert_false(cr_kill_budget_allows(&b, 59.9, 60, 0.2, 10));
    assert_true(cr_kill_budget_allows(&b, 59.9, 60, 0.3, 10)); /* a bigger budget */
    assert_true(cr_kill_budget_allows(&b, 60, 60, 0.2, 10));   /* the kill at 0 left */
    cr_kill_budget_record(&b, 60, 60);
    assert_int_equal(b.n, 2); /* the one at 0 dropped */
    assert_false(cr_kill_budget_allows(&b, 60.5, 60, 0.2, 10));
    assert_true(cr_kill_budget_allows(&b, 61, 60, 0.2, 10));
    /* a tiny app gets one kill per window */
    assert_false(cr_kill_budget_allows(&b, 61, 60, 0.2, 2));
    assert_true(cr_kill_budget_allows(&b, 200, 60, 0.2, 2));

    /* steady kills: the stored entries stay within the window */
    for (int t = 100; t < 5100; t++) {
        cr_kill_budget_record(&b, t, 10);
        assert_true(b.n <= 10);
    }
    /* at 5100 the kills at 5091..5099 are in the window (5090 is not): 9 */
    assert_true(cr_kill_budget_allows(&b, 5100, 10, 0.5, 20));   /* limit 10 */
    assert_false(cr_kill_budget_allows(&b, 5100, 10, 0.45, 20)); /* limit 9 */
    cr_kill_budget_release(&b);
    assert_null(b.times);
    cr_kill_budget_release(&b);
    cr_kill_budget_release(NULL);

    /* against a naive count over every kill ever recorded */
    rng_state = 99;
    double all[4000];
    size_t nall = 0;
    cr_kill_budget_init(&b);
    double now = 0;
    for (int i = 0; i < 4000; i++) {
        now += (double)rn(100) / 10.0;
        double window = 30, fraction = (double)rn(11) / 10.0;
        int64_t inst = (int64_t)rn(20);
        int64_t used = 0;
        for (size_t j = 0; j < nall; j++)
            used += now - all[j] < window;
        bool want = used < cr_kill_budget_limit(fraction, inst);
        assert_int_equal(cr_kill_budget_allows(&b, now, window, fraction, inst), want);
        if (want) {
            cr_kill_budget_record(&b, now, window);
            all[nall++] = now;
        }
    }
    assert_true(nall > 100);
    cr_kill_budget_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_scale_down_by_group),
        cmocka_unit_test(test_limits_rounding),
        cmocka_unit_test(test_goal_of_app),
        cmocka_unit_test(test_empty_and_start),
        cmocka_unit_test(test_done_and_waiting),
        cmocka_unit_test(test_replace_lost),
        cmocka_unit_test(test_scale_up),
        cmocka_unit_test(test_scale_down_order),
        cmocka_unit_test(test_rolling_defaults),
        cmocka_unit_test(test_rolling_stop_first),
        cmocka_unit_test(test_old_not_healthy_always_killed),
        cmocka_unit_test(test_no_room_surge),
        cmocka_unit_test(test_surplus_and_old),
        cmocka_unit_test(test_bad_phase_and_reuse),
        cmocka_unit_test(test_random_rolling),
        cmocka_unit_test(test_every_small_goal_converges),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_kill_budget_limit),
        cmocka_unit_test(test_kill_budget_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
