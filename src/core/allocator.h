/*
 * allocator.h - the DRF allocator (PURE: no I/O, no clock, no logging; time is a
 * parameter in milliseconds on any monotonic scale the caller chooses).
 *
 * Model (Mesos' hierarchical allocator): agents have total resources; frameworks
 * subscribe to one or more roles; a framework's allocation is everything offered to
 * it or in use by its tasks. A cycle walks the agents and gives each agent's free
 * resources to frameworks in dominant-resource-fairness order: roles sorted by
 * weighted dominant share, then frameworks within a role by dominant share. Resources
 * reserved to a role go only to that role's frameworks; unreserved ("*") to anyone.
 * A framework is skipped for an agent while it is inactive, suppressed for the role,
 * or has a filter covering what that agent has free (a decline with refuse_seconds).
 * Offers below the minimum allocatable (0.01 cpus or 32 MB mem) are not made.
 *
 * The shell (master) runs a cycle after changes, coalescing bursts: see
 * cr_alloc_is_dirty() and cr_alloc_next_event_ms().
 *
 * Exact policy (what the unit tests hold the implementation to):
 *  - agents are visited in ascending id order; inactive ones are skipped;
 *  - a framework's share within a role counts what it holds in that role; a role's share
 *    counts what all its frameworks hold in it, divided by the role's weight; shares are
 *    dominant shares over cpus, mem, disk and gpus against the cluster totals (all agents,
 *    active or not); ties go to the smaller role name / framework id (strcmp);
 *  - on each agent, roles are taken in the order they have when the agent's turn starts;
 *    a role gets everything free and usable by it (unreserved plus its reservations), in
 *    one offer, to its first framework in order that is active, subscribed to the role,
 *    not suppressed in it and not filtered; then the next role gets what is left (only
 *    reservations remain once the unreserved part is gone);
 *  - the same sequence of calls always yields the same offers in the same order.
 *
 * Out of memory aborts (the allocator has no partial states to unwind). Strings passed in
 * are borrowed and copied.
 */
#ifndef CR_CORE_ALLOCATOR_H
#define CR_CORE_ALLOCATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "core/resources.h"

struct cr_alloc;

/* One offer the cycle decided on. Strings are borrowed from the allocator until the next
 * call that changes it (copy them to keep them); resources are owned by the
 * cr_alloc_result (move them out, e.g. into the offer book, to keep them). */
struct cr_alloc_offer {
    const char *framework_id;
    const char *agent_id;
    const char *role; /* the role the offer is allocated to (allocation_info.role) */
    struct cr_resources resources;
};

struct cr_alloc_result {
    struct cr_alloc_offer *offers; /* owned */
    size_t n, cap;
};
/* Caller-owned storage: _init before use, _release after (releases every offer's resources;
 * accepts NULL). */
void cr_alloc_result_init(struct cr_alloc_result *r);
void cr_alloc_result_release(struct cr_alloc_result *r);

/* A new, empty allocator. Free with cr_alloc_free (accepts NULL). */
struct cr_alloc *cr_alloc_new(void);
void cr_alloc_free(struct cr_alloc *a);

/* ---- agents ---- */

/* Add an agent with its total resources (copied), active. What its running tasks already
 * hold is recorded afterwards with cr_alloc_allocate(). Returns 0, -EEXIST, or -EINVAL for
 * an empty id. */
int cr_alloc_add_agent(struct cr_alloc *a, const char *agent_id, const struct cr_resources *total,
                       struct cr_err *err);
/* Remove an agent, every allocation on it and its filters. No-op if unknown. */
void cr_alloc_remove_agent(struct cr_alloc *a, const char *agent_id);
/* Stop / resume offering an agent's resources (disconnected, draining); its allocations
 * stay. Unknown ids are ignored. */
void cr_alloc_set_agent_active(struct cr_alloc *a, const char *agent_id, bool active);
/* Replace an agent's total (re-registration with new resources). -ENOENT, -EINVAL if the
 * current allocation no longer fits. */
int cr_alloc_update_agent(struct cr_alloc *a, const char *agent_id,
                          const struct cr_resources *total, struct cr_err *err);

/* ---- frameworks ---- */

/* Add a framework subscribed to roles (borrowed, copied; n >= 1, duplicates fold). Starts
 * active. Returns 0, -EEXIST, or -EINVAL (empty id, no roles, an empty role). */
int cr_alloc_add_framework(struct cr_alloc *a, const char *framework_id, const char *const *roles,
                           size_t nroles, struct cr_err *err);
/* Remove a framework; its allocations go back to their agents' free resources and its
 * filters are dropped. No-op if unknown. */
void cr_alloc_remove_framework(struct cr_alloc *a, const char *framework_id);
/* Active frameworks get offers; inactive (disconnected) ones keep their allocations.
 * Unknown ids are ignored. */
void cr_alloc_set_framework_active(struct cr_alloc *a, const char *framework_id, bool active);
/*
 * Replace the roles of a framework (re-subscription). What it holds in a role it leaves
 * stays allocated in that role until recovered; suppression of roles it keeps is kept.
 * Returns 0, -ENOENT, or -EINVAL (as for add).
 */
int cr_alloc_update_framework(struct cr_alloc *a, const char *framework_id,
                              const char *const *roles, size_t nroles, struct cr_err *err);
/* SUPPRESS: stop offers for roles (NULL/0 = all its roles); roles the framework is not
 * subscribed to and unknown frameworks are ignored. */
void cr_alloc_suppress(struct cr_alloc *a, const char *framework_id, const char *const *roles,
                       size_t nroles);
/* REVIVE: resume offers for roles (NULL/0 = all) and clear all of the framework's filters
 * (in every role). Unknown frameworks are ignored. */
void cr_alloc_revive(struct cr_alloc *a, const char *framework_id, const char *const *roles,
                     size_t nroles);

/* Weight of a role (default 1.0, must be > 0 and finite; -EINVAL otherwise or for an empty
 * role). May be set before any framework is in the role. */
int cr_alloc_set_weight(struct cr_alloc *a, const char *role, double weight, struct cr_err *err);

/* ---- allocations ---- */

/*
 * Record that framework holds res on agent in role (a task found running when an agent
 * re-registers, or an allocation made outside a cycle). The role need not be one the
 * framework is subscribed to. -ENOENT for unknown ids, -ERANGE if the agent lacks the free
 * resources (err: "allocate on agent 'S1': cpus(*): need 2, have 1.5"), -EINVAL for an
 * empty role or resources reserved to another role. Nothing changes on failure.
 */
int cr_alloc_allocate(struct cr_alloc *a, const char *agent_id, const char *framework_id,
                      const char *role, const struct cr_resources *res, struct cr_err *err);

/*
 * Give back resources the framework held on agent (declined or unused part of an offer,
 * rescinded offer, finished task). If refuse_ms > 0, install a filter: until now_ms +
 * refuse_ms the framework is not offered that agent's resources when what is free there is
 * contained in res. Unknown ids are ignored (the agent or framework may be gone). Only what
 * the framework holds there in that role comes back: a stale or duplicate recover never
 * creates resources. A newer filter replaces older ones it covers.
 */
void cr_alloc_recover(struct cr_alloc *a, const char *agent_id, const char *framework_id,
                      const char *role, const struct cr_resources *res, int64_t refuse_ms,
                      int64_t now_ms);

/* ---- cycles ---- */

/* True when something changed since the last cycle that may allow new offers. */
bool cr_alloc_is_dirty(const struct cr_alloc *a);

/*
 * Earliest time (ms) at which a filter expires and a cycle could offer more, or INT64_MAX.
 */
int64_t cr_alloc_next_event_ms(const struct cr_alloc *a);

/*
 * Run one allocation cycle at now_ms (expired filters are dropped first). Appends the
 * offers to out (the caller initialises and releases it); each offered resource is now
 * allocated to its framework until recovered. Clears the dirty flag.
 */
void cr_alloc_cycle(struct cr_alloc *a, int64_t now_ms, struct cr_alloc_result *out);

/* ---- reading (for state endpoints and tests) ---- */

/* Resources allocated (offered or used) to framework, summed over agents and roles; added
 * to out. Nothing is added for an unknown framework. */
void cr_alloc_framework_allocated(const struct cr_alloc *a, const char *framework_id,
                                  struct cr_resources *out);
/* Dominant share of a framework within the cluster (0..1), or -1 if unknown. */
double cr_alloc_framework_share(const struct cr_alloc *a, const char *framework_id);
/* Free (total - allocated) resources of an agent; added to out. -ENOENT if unknown. */
int cr_alloc_agent_free(const struct cr_alloc *a, const char *agent_id, struct cr_resources *out);

/* ---- additions ---- */

/*
 * Smallest offer worth making (Mesos --min_allocatable_resources): an offer needs at least
 * cpus_milli cpus or mem_milli mem (thousandths; defaults 10 = 0.01 cpus and 32000 = 32 MB).
 * 0 for either makes any non-empty offer allocatable. Returns 0 or -EINVAL (negative).
 */
int cr_alloc_set_min_allocatable(struct cr_alloc *a, int64_t cpus_milli, int64_t mem_milli,
                                 struct cr_err *err);

/* Weighted dominant share of a role (its allocation over the cluster, divided by its
 * weight), as used to order roles; -1 if the role is unknown. */
double cr_alloc_role_share(const struct cr_alloc *a, const char *role);

/* Number of decline filters in force (expired ones go at the next cycle). */
size_t cr_alloc_filter_count(const struct cr_alloc *a);
/* Number of agents / frameworks known. */
size_t cr_alloc_agent_count(const struct cr_alloc *a);
size_t cr_alloc_framework_count(const struct cr_alloc *a);

#endif
