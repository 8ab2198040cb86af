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
 * call that changes it; resources are owned by the cr_alloc_result. */
struct cr_alloc_offer {
    const char *framework_id;
    const char *agent_id;
    const char *role;            /* the role the offer is allocated to (allocation_info.role) */
    struct cr_resources resources;
};

struct cr_alloc_result {
    struct cr_alloc_offer *offers; /* owned */
    size_t n, cap;
};
void cr_alloc_result_init(struct cr_alloc_result *r);
void cr_alloc_result_release(struct cr_alloc_result *r);

/* A new, empty allocator. Free with cr_alloc_free (accepts NULL). */
struct cr_alloc *cr_alloc_new(void);
void cr_alloc_free(struct cr_alloc *a);

/* ---- agents ---- */

/* Add an agent with its total resources (copied), active. What its running tasks already
 * hold is recorded afterwards with cr_alloc_allocate(). Returns 0 or -EEXIST. */
int cr_alloc_add_agent(struct cr_alloc *a, const char *agent_id, const struct cr_resources *total,
                       struct cr_err *err);
/* Remove an agent and every allocation on it. No-op if unknown. */
void cr_alloc_remove_agent(struct cr_alloc *a, const char *agent_id);
/* Stop / resume offering an agent's resources (disconnected, draining). */
void cr_alloc_set_agent_active(struct cr_alloc *a, const char *agent_id, bool active);
/* Replace an agent's total (re-registration with new resources). -ENOENT, -EINVAL if the
 * current allocation no longer fits. */
int cr_alloc_update_agent(struct cr_alloc *a, const char *agent_id,
                          const struct cr_resources *total, struct cr_err *err);

/* ---- frameworks ---- */

/* Add a framework subscribed to roles (borrowed, copied; n >= 1). Starts active. */
int cr_alloc_add_framework(struct cr_alloc *a, const char *framework_id,
                           const char *const *roles, size_t nroles, struct cr_err *err);
/* Remove a framework; its allocations are released. No-op if unknown. */
void cr_alloc_remove_framework(struct cr_alloc *a, const char *framework_id);
/* Active frameworks get offers; inactive (disconnected) ones keep their allocations. */
void cr_alloc_set_framework_active(struct cr_alloc *a, const char *framework_id, bool active);
/* Replace the roles of a framework (re-subscription). */
int cr_alloc_update_framework(struct cr_alloc *a, const char *framework_id,
                              const char *const *roles, size_t nroles, struct cr_err *err);
/* SUPPRESS: stop offers for roles (NULL/0 = all its roles). */
void cr_alloc_suppress(struct cr_alloc *a, const char *framework_id, const char *const *roles,
                       size_t nroles);
/* REVIVE: resume offers for roles (NULL/0 = all) and clear the framework's filters. */
void cr_alloc_revive(struct cr_alloc *a, const char *framework_id, const char *const *roles,
                     size_t nroles);

/* Weight of a role (default 1.0, must be > 0). */
int cr_alloc_set_weight(struct cr_alloc *a, const char *role, double weight, struct cr_err *err);

/* ---- allocations ---- */

/*
 * Record that framework holds res on agent in role (a task found running when an agent
 * re-registers, or an allocation made outside a cycle). -ENOENT for unknown ids,
 * -ERANGE if the agent lacks the free resources.
 */
int cr_alloc_allocate(struct cr_alloc *a, const char *agent_id, const char *framework_id,
                      const char *role, const struct cr_resources *res, struct cr_err *err);

/*
 * Give back resources the framework held on agent (declined or unused part of an offer,
 * rescinded offer, finished task). If refuse_ms > 0, install a filter: until now_ms +
 * refuse_ms the framework is not offered that agent's resources when what is free there is
 * contained in res. Unknown ids are ignored (the agent or framework may be gone).
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

/* Resources allocated (offered or used) to framework on agent, summed over roles; added to out. */
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
