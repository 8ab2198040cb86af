/*
 * deploy.h - the deployment planner, launch backoff and the health kill budget (PURE: no I/O,
 * no clock, no logging; times are parameters).
 *
 * Every cycle the apps orchestrator (src/apps) asks, for every app: "given the goal and the
 * instances that exist, what do I launch and what do I kill now?". One call, cr_deploy_plan(),
 * answers it for every situation: keeping the count (replacing lost instances), scaling up and
 * down, and rolling restarts from an old configuration to the target one. The orchestrator
 * applies the step, waits for the world to move (launches become STAGING then RUNNING, kills
 * become terminal) and asks again; the deployment is over when the step says is_done.
 *
 * The rolling restart is Marathon's start-before-stop upgrade (upgradeStrategy, API-COMPAT.md
 * §6.3). With N = goal.instances:
 *   min_healthy = ceil(N * minimum_health_capacity)  healthy instances (old or target) that
 *                                                    must stay up while old ones are killed;
 *   max_total   = N + floor(N * maximum_over_capacity)  alive instances the upgrade may reach.
 * Rounding uses a small relative epsilon, so 10 * 0.3 is 3, not 3.0000000000000004 -> 4.
 * When rounding leaves no room between the two (min_healthy == max_total, e.g. N = 3 with
 * 0.9 / 0.2), no new instance could start and no old one could stop, and the upgrade would
 * never end: as Marathon does, max_total is then raised by one (one extra instance). The
 * limits in force are what cr_deploy_goal_limits() returns.
 *
 * Guarantees, for a valid goal (the tests check them on seeded random upgrades):
 *   - kills of healthy instances never take the healthy count below min_healthy, except that a
 *     scale-down (more target instances than N) does not wait for health capacity;
 *   - the alive instances after a step (alive + launch - kills) never exceed max_total unless
 *     they already did before it (then the step only kills);
 *   - the plan always makes progress while the instances it launched become healthy: with no
 *     failures, every upgrade reaches is_done in a bounded number of steps.
 */
#ifndef CR_CORE_DEPLOY_H
#define CR_CORE_DEPLOY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "core/app.h"

/* Where one instance of the app is in its life. Terminal instances are not passed at all. */
enum cr_inst_phase {
    CR_INST_SCHEDULED = 0, /* wanted, not yet placed (waiting for offers or for its launch delay) */
    CR_INST_STAGING,       /* launched, not yet RUNNING */
    CR_INST_RUNNING,
    CR_INST_KILLING, /* kill sent, not yet terminal */
};

/* One existing instance, as the orchestrator sees it now. */
struct cr_deploy_inst {
    bool is_target; /* runs the target configuration (the app version being deployed) */
    enum cr_inst_phase phase;
    bool is_healthy;    /* RUNNING and (no health check, or its check passes); ignored
                           unless phase is CR_INST_RUNNING */
    double staged_at_s; /* when it was created (for killSelection); any clock; NaN
                           counts as the oldest */
    const char *group;  /* borrowed: the value of the app's GROUP_BY field where it runs, or
                           NULL; scale-down takes surplus instances from the largest group
                           first (Marathon: GROUP_BY guides which instances to kill) */
};

/* What the app should look like: its instances and upgradeStrategy / killSelection. */
struct cr_deploy_goal {
    int64_t instances;
    double minimum_health_capacity, maximum_over_capacity; /* 0..1 */
    enum cr_app_kill_selection kill_selection;
};

/* What to do now. Caller-owned: _init before use, _release after (accepts NULL). */
struct cr_deploy_step {
    size_t launch; /* new target instances to create now */
    size_t *kill;  /* owned: indexes into the instance array to kill now (never a KILLING one),
                      each at most once, in the order they were chosen (surplus target ones
                      first, then old ones) */
    size_t nkill;
    bool is_done; /* goal reached: exactly goal.instances target instances, all RUNNING and
                     healthy, and no other instance left (KILLING ones count as left) */
};

/* The goal of one app version: its instances, upgradeStrategy and killSelection (app borrowed
 * for the call only). */
struct cr_deploy_goal cr_deploy_goal_of_app(const struct cr_app *app);

void cr_deploy_step_init(struct cr_deploy_step *s);
void cr_deploy_step_release(struct cr_deploy_step *s);

/*
 * Impossible settings: instances < 0 or above INT32_MAX (Marathon's instances is a 32-bit
 * int), capacities outside [0,1] (NaN included), an unknown kill_selection, or minimum 1 with
 * maximum 0 when a rolling replacement would be needed (instances > 0). Returns 0, or -EINVAL
 * with err naming the field by its Marathon JSON name
 * ("upgradeStrategy.minimumHealthCapacity: 1.5 is outside [0, 1]").
 */
int cr_deploy_goal_validate(const struct cr_deploy_goal *g, struct cr_err *err);

/*
 * The limits in force for a valid goal (see the file comment): *min_healthy =
 * ceil(N * minimum_health_capacity), *max_total = N + floor(N * maximum_over_capacity), plus
 * one when the two are equal and N > 0. Either pointer may be NULL. The goal must be valid.
 */
void cr_deploy_goal_limits(const struct cr_deploy_goal *g, int64_t *min_healthy,
                           int64_t *max_total);

/*
 * One step towards g from the n instances v (borrowed; n may be 0 with v NULL). out is
 * released and refilled. With N = g->instances, alive = the instances not KILLING,
 * target_alive = the alive target ones, old = the alive non-target ones, healthy = the
 * RUNNING healthy ones:
 *   1. Surplus: when target_alive > N, kill target_alive - N target instances, SCHEDULED ones
 *      first, then STAGING, then unhealthy RUNNING, then healthy RUNNING; within each group by
 *      kill_selection (YOUNGEST_FIRST: largest staged_at_s first; OLDEST_FIRST: smallest),
 *      ties by index.
 *   2. Launch max(0, min(N - target_alive, max_total - alive)) (no old instances: simply
 *      N - target_alive, replacing lost instances is never limited by max_total).
 *   3. Old: kill every old instance that is not healthy (SCHEDULED, STAGING, unhealthy
 *      RUNNING), then as many healthy old ones as keep the healthy count (old and target,
 *      after every kill of this step) >= min_healthy, by kill_selection, ties by index.
 * is_done is documented at struct cr_deploy_step; a done step has launch 0 and no kills.
 * Returns 0, or -EINVAL with err filled for an invalid goal (see cr_deploy_goal_validate) or
 * an instance with an unknown phase; out is then empty.
 */
int cr_deploy_plan(const struct cr_deploy_goal *g, const struct cr_deploy_inst *v, size_t n,
                   struct cr_deploy_step *out, struct cr_err *err);

/*
 * Marathon's launch delay after the failures-th consecutive failure (failures >= 1):
 * min(backoff_s * factor^(failures-1), max_s); 0 when failures == 0. Never negative (a
 * negative backoff_s or max_s gives 0) and never overflows (huge failure counts give max_s).
 */
double cr_backoff_delay_s(double backoff_s, double factor, double max_s, unsigned failures);

/*
 * The health kill budget: at most max(1, floor(fraction * instances)) instances of one app
 * killed for failing health checks within window_s, so a check that fails everywhere (a broken
 * dependency) does not take the whole app down at once. A kill recorded at t counts while
 * now_s - t < window_s. Caller-owned (one per app): _init before use, _release after (accepts
 * NULL). Times are seconds on any clock.
 */
struct cr_kill_budget {
    double *times; /* owned: the recorded kills still in the window (as of the last record) */
    size_t n, cap;
};

void cr_kill_budget_init(struct cr_kill_budget *b);
void cr_kill_budget_release(struct cr_kill_budget *b);
/* How many kills one window allows: max(1, floor(fraction * instances)); a NaN or negative
 * fraction, or negative instances, counts as 0. */
int64_t cr_kill_budget_limit(double fraction, int64_t instances);
/* True when one more kill at now_s is allowed (does not record it). */
bool cr_kill_budget_allows(const struct cr_kill_budget *b, double now_s, double window_s,
                           double fraction, int64_t instances);
/* Record a kill at now_s; drops the entries that left the window (now_s - t >= window_s). */
void cr_kill_budget_record(struct cr_kill_budget *b, double now_s, double window_s);

#endif
