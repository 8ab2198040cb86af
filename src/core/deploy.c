/*
 * deploy.c - the deployment planner, launch backoff and the health kill budget (PURE).
 *
 * The planner is a function from a snapshot (the goal and the instances that exist) to a step;
 * it keeps no state between calls, so the orchestrator can crash, fail over or re-plan at any
 * time. A step is computed in three passes over the instances, each choosing by a total order
 * (rank, then kill_selection on staged_at_s, then index), so equal inputs give equal steps:
 * surplus target instances, then the launch count, then old instances. Why the upgrade always
 * ends: while old instances are alive, either target ones can still be launched (alive <
 * max_total) or alive >= max_total > min_healthy, and once the target ones are healthy the
 * healthy count exceeds min_healthy, so at least one old instance can go. That is why
 * max_total is raised when rounding makes it equal to min_healthy (deploy.h).
 *
 * Rounding: N * capacity is computed in double; an epsilon relative to the product absorbs
 * representation error (3 * 0.1 = 0.30000000000000004), then the value is truncated by a cast
 * (the values are bounded, non-negative), so no libm is needed.
 */
#include "core/deploy.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

#define EPS 1e-12 /* relative: the product is off by about 1e-16 of itself */
#define INT64_LIMIT 9223372036854775808.0 /* 2^63: doubles at or above it do not fit */

/* floor(x) for x >= 0, x within EPS (relative) below an integer counting as that integer. */
static int64_t floor_eps(double x)
{
    if (!(x > 0))
        return 0;
    double y = x + EPS * (1.0 + x);
    if (y >= INT64_LIMIT)
        return INT64_MAX;
    return (int64_t)y;
}

/* ceil(x) for x >= 0, x within EPS (relative) above an integer counting as that integer. */
static int64_t ceil_eps(double x)
{
    if (!(x > 0))
        return 0;
    double y = x - EPS * (1.0 + x);
    if (y <= 0)
        return 0;
    if (y >= INT64_LIMIT)
        return INT64_MAX;
    int64_t f = (int64_t)y;
    return (double)f < y ? f + 1 : f;
}

static bool in_unit(double x)
{
    return x >= 0.0 && x <= 1.0; /* false for NaN */
}

static bool is_healthy(const struct cr_deploy_inst *x)
{
    return x->phase == CR_INST_RUNNING && x->is_healthy;
}

struct cr_deploy_goal cr_deploy_goal_of_app(const struct cr_app *app)
{
    struct cr_deploy_goal g = {.instances = app->instances,
                               .minimum_health_capacity = app->minimum_health_capacity,
                               .maximum_over_capacity = app->maximum_over_capacity,
                               .kill_selection = app->kill_selection};
    return g;
}

void cr_deploy_step_init(struct cr_deploy_step *s)
{
    memset(s, 0, sizeof(*s));
}

void cr_deploy_step_release(struct cr_deploy_step *s)
{
    if (!s)
        return;
    free(s->kill);
    memset(s, 0, sizeof(*s));
}

int cr_deploy_goal_validate(const struct cr_deploy_goal *g, struct cr_err *err)
{
    if (g->instances < 0)
        return cr_err_set(err, -EINVAL, "instances: %lld is negative", (long long)g->instances);
    if (g->instances > INT32_MAX)
        return cr_err_set(err, -EINVAL, "instances: %lld is above %d", (long long)g->instances,
                          INT32_MAX);
    if (!in_unit(g->minimum_health_capacity))
        return cr_err_set(err, -EINVAL,
                          "upgradeStrategy.minimumHealthCapacity: %g is outside [0, 1]",
                          g->minimum_health_capacity);
    if (!in_unit(g->maximum_over_capacity))
        return cr_err_set(err, -EINVAL, "upgradeStrategy.maximumOverCapacity: %g is outside [0, 1]",
                          g->maximum_over_capacity);
    if (g->kill_selection != CR_APP_KILL_YOUNGEST_FIRST &&
        g->kill_selection != CR_APP_KILL_OLDEST_FIRST)
        return cr_err_set(err, -EINVAL, "killSelection: unknown value %d", (int)g->kill_selection);
    if (g->instances > 0 && g->minimum_health_capacity == 1.0 && g->maximum_over_capacity == 0.0)
        return cr_err_set(
            err, -EINVAL,
            "upgradeStrategy: minimumHealthCapacity 1 with maximumOverCapacity 0 leaves no room to replace an instance");
    return 0;
}

void cr_deploy_goal_limits(const struct cr_deploy_goal *g, int64_t *min_healthy, int64_t *max_total)
{
    int64_t n = g->instances;
    int64_t lo = ceil_eps((double)n * g->minimum_health_capacity);
    if (lo > n)
        lo = n;
    int64_t hi = n + floor_eps((double)n * g->maximum_over_capacity);
    if (hi == lo && n > 0)
        hi++;
    if (min_healthy)
        *min_healthy = lo;
    if (max_total)
        *max_total = hi;
}

/* One candidate for killing, ordered by rank, then t, then index (all ascending). */
struct cand {
    int rank; /* 0 SCHEDULED, 1 STAGING, 2 unhealthy RUNNING, 3 healthy RUNNING */
    double t; /* staged_at_s, negated for YOUNGEST_FIRST; NaN counts as the oldest */
    size_t i;
};

static int cand_cmp(const void *pa, const void *pb)
{
    const struct cand *a = pa, *b = pb;
    if (a->rank != b->rank)
        return a->rank < b->rank ? -1 : 1;
    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    return a->i < b->i ? -1 : (a->i > b->i ? 1 : 0);
}

static struct cand cand_of(const struct cr_deploy_inst *v, size_t i, enum cr_app_kill_selection ks)
{
    struct cand c = {.i = i};
    switch (v[i].phase) {
    case CR_INST_SCHEDULED:
        c.rank = 0;
        break;
    case CR_INST_STAGING:
        c.rank = 1;
        break;
    default:
        c.rank = v[i].is_healthy ? 3 : 2;
        break;
    }
    double t = v[i].staged_at_s;
    if (isnan(t)) /* unknown creation time: the oldest */
        t = -INFINITY;
    c.t = ks == CR_APP_KILL_YOUNGEST_FIRST ? -t : t;
    return c;
}

/* The alive instances with is_target == target, sorted in kill order. Returns the count. */
static size_t collect(const struct cr_deploy_goal *g, const struct cr_deploy_inst *v, size_t n,
                      bool target, struct cand *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i].phase != CR_INST_KILLING && v[i].is_target == target)
            out[k++] = cand_of(v, i, g->kill_selection);
    qsort(out, k, sizeof(*out), cand_cmp);
    return k;
}

/* How many of c[from..k) share group. */
static size_t group_count(const struct cr_deploy_inst *v, const struct cand *c, size_t from,
                          size_t k, const char *group)
{
    size_t n = 0;
    for (size_t j = from; j < k; j++)
        n += v[c[j].i].group && strcmp(v[c[j].i].group, group) == 0;
    return n;
}

/*
 * Among the candidates c[from..k) of the best rank present, the first (in kill order) whose
 * group is the largest of the remaining ones: scaling down an app spread with GROUP_BY keeps
 * it spread. Quadratic in the candidates, which is fine for one app's surplus.
 */
static size_t largest_group_first(const struct cr_deploy_inst *v, const struct cand *c, size_t from,
                                  size_t k)
{
    size_t best = from, best_n = 0;
    for (size_t j = from; j < k && c[j].rank == c[from].rank; j++) {
        if (!v[c[j].i].group)
            continue;
        size_t gn = group_count(v, c, from, k, v[c[j].i].group);
        if (gn > best_n) {
            best = j;
            best_n = gn;
        }
    }
    return best;
}

int cr_deploy_plan(const struct cr_deploy_goal *g, const struct cr_deploy_inst *v, size_t n,
                   struct cr_deploy_step *out, struct cr_err *err)
{
    cr_deploy_step_release(out);
    int rc = cr_deploy_goal_validate(g, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        if ((unsigned)v[i].phase > (unsigned)CR_INST_KILLING)
            return cr_err_set(err, -EINVAL, "instance %zu: unknown phase %d", i, (int)v[i].phase);

    int64_t N = g->instances, min_healthy, max_total;
    cr_deploy_goal_limits(g, &min_healthy, &max_total);

    int64_t alive = 0, target_alive = 0, healthy = 0;
    bool all_target_healthy = true;
    for (size_t i = 0; i < n; i++) {
        bool h = is_healthy(&v[i]);
        all_target_healthy = all_target_healthy && v[i].is_target && h;
        if (v[i].phase == CR_INST_KILLING)
            continue;
        alive++;
        target_alive += v[i].is_target;
        healthy += h;
    }
    if ((uint64_t)N == n && all_target_healthy) {
        out->is_done = true;
        return 0;
    }

    struct cand *c CR_AUTOFREE = cr_xmalloc(n * sizeof(*c));
    out->kill = cr_xmalloc(n * sizeof(*out->kill));

    /* 1. Surplus target instances: scale-down does not wait for health capacity. */
    if (target_alive > N) {
        size_t k = collect(g, v, n, true, c);
        size_t want = (size_t)(target_alive - N);
        if (want > k)
            want = k;
        for (size_t j = 0; j < want; j++) {
            size_t pick = j;
            if (v[c[j].i].group)
                pick = largest_group_first(v, c, j, k);
            struct cand chosen = c[pick];
            memmove(&c[j + 1], &c[j], (pick - j) * sizeof(*c));
            c[j] = chosen;
            healthy -= chosen.rank == 3;
            out->kill[out->nkill++] = chosen.i;
        }
    }

    /* 2. Launch (uses alive before this step's kills: killed instances free their room once
     * they are KILLING, from the next step on). */
    int64_t launch = N - target_alive;
    if (max_total - alive < launch)
        launch = max_total - alive;
    out->launch = launch > 0 ? (size_t)launch : 0;

    /* 3. Old instances: the ones not healthy always go (rank < 3 sorts them first), healthy
     * ones while the healthy count stays at min_healthy or above. */
    size_t k = collect(g, v, n, false, c);
    for (size_t j = 0; j < k; j++) {
        if (c[j].rank == 3) {
            if (healthy - 1 < min_healthy)
                break;
            healthy--;
        }
        out->kill[out->nkill++] = c[j].i;
    }
    return 0;
}

double cr_backoff_delay_s(double backoff_s, double factor, double max_s, unsigned failures)
{
    if (failures == 0 || !(backoff_s > 0) || !(max_s > 0))
        return 0;
    if (backoff_s >= max_s)
        return max_s;
    if (isnan(factor)) /* no growth */
        factor = 1;
    if (factor < 0)
        factor = 0;
    /* backoff_s * factor^(failures-1) by squaring. With factor >= 1 every multiplication grows
     * d, so stopping at max_s is exact (and overflow to infinity is harmless); with factor < 1
     * d only shrinks and never reaches max_s. */
    double d = backoff_s, base = factor;
    for (unsigned e = failures - 1; e; e >>= 1) {
        if (e & 1) {
            d *= base;
            if (d >= max_s)
                return max_s;
        }
        base *= base;
    }
    return d;
}

void cr_kill_budget_init(struct cr_kill_budget *b)
{
    memset(b, 0, sizeof(*b));
}

void cr_kill_budget_release(struct cr_kill_budget *b)
{
    if (!b)
        return;
    free(b->times);
    memset(b, 0, sizeof(*b));
}

int64_t cr_kill_budget_limit(double fraction, int64_t instances)
{
    if (!(fraction > 0) || instances <= 0)
        return 1;
    int64_t k = floor_eps(fraction * (double)instances);
    return k > 1 ? k : 1;
}

static bool in_window(double t, double now_s, double window_s)
{
    return now_s - t < window_s; /* false when anything is NaN */
}

bool cr_kill_budget_allows(const struct cr_kill_budget *b, double now_s, double window_s,
                           double fraction, int64_t instances)
{
    int64_t used = 0;
    for (size_t i = 0; i < b->n; i++)
        used += in_window(b->times[i], now_s, window_s);
    return used < cr_kill_budget_limit(fraction, instances);
}

void cr_kill_budget_record(struct cr_kill_budget *b, double now_s, double window_s)
{
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++)
        if (in_window(b->times[i], now_s, window_s))
            b->times[k++] = b->times[i];
    b->n = k;
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 8;
        b->times = cr_xrealloc(b->times, b->cap * sizeof(*b->times));
    }
    b->times[b->n++] = now_s;
}
