/*
 * placement.h - where the apps orchestrator puts instances (PURE: no I/O, no clock, no logging).
 *
 * Input is a snapshot: the machines the orchestrator holds offers for (free and total amounts)
 * and one app's request (per-instance needs, Marathon constraints, the machines its instances
 * already run on). cr_place_batch() places K identical instances one after the other, each on
 * the best machine that passes every requirement, and subtracts what it took from that machine,
 * so the next call (another app) sees what is left.
 *
 * BINPACK (best fit) packs machines full, in three tiers:
 *   1. used machines that stay well-shaped after the placement: the one whose strand (below)
 *      the placement lowers most or raises least, then the tightest fit (the most used after
 *      the placement: the max over cpus/mem/disk of used / total);
 *   2. empty machines, the biggest first (in the dimensions the cluster asks for);
 *   3. used machines the placement would strand, least stranded first.
 * "Strand" is why best fit is more than "most used wins": an app that asks mostly for memory
 * can fill a machine's memory while most of its cpus are free, and when the cluster as a whole
 * asks mostly for cpus those cpus are lost. The cluster's demand direction w is its used
 * fraction per dimension (over the reachable, non-draining machines that have anything free:
 * one with no free cpus, mem nor disk is taken for one whose offers are not held, its usage
 * unknown; this batch included); a machine's strand is
 * what would be left of w's largest dimension if the machine were filled further along w until
 * a dimension is full. A placement is well-shaped when it leaves the machine's strand at most
 * 0.2 of a machine, or does not raise it; so the complementary app goes first to the machines
 * a lopsided one stranded. For one app on an empty or evenly used
 * cluster every machine lies on w, so the batch fills the most used machine that still fits,
 * then the next (machines fill one at a time, as the user sees it).
 * SPREAD takes the least-used machine (the max over cpus/mem/disk of used / total, then the
 * sum of the three). Ties break by machine id (strcmp), so the result is deterministic and
 * does not depend on the order of the machines array (w's sums are exact below 2^53).
 *
 * Speed: the machines that pass sit in a heap ordered as above (w is fixed for the batch, so
 * only the machine just placed on changes its key); a placement pops the best, takes from it
 * and pushes it back while it still fits, O(log machines) per instance. UNIQUE, MAX_PER,
 * CLUSTER, IS, LIKE and UNLIKE keep the heap (a machine that fails them stays failed for the
 * batch, so it is dropped when it surfaces); GROUP_BY's bar moves as instances land, so with it
 * each instance scans all machines (precomputed per-machine value ids keep the scan cheap).
 *
 * Unplaceable instances get a diagnosis: per requirement, how many machines failed it (all
 * requirements are evaluated on every machine, not only the first failure). Once one instance
 * cannot be placed nothing changes for the rest of the batch, so one diagnosis covers them all.
 *
 * Used by the apps orchestrator (one batch per app per cycle) and its dry-run endpoint.
 */
#ifndef CR_CORE_PLACEMENT_H
#define CR_CORE_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

enum cr_place_strategy { CR_PLACE_BINPACK = 0, CR_PLACE_SPREAD = 1 };

/* One machine attribute, e.g. ("rack", "r1"). Strings borrowed. */
struct cr_place_attr {
    const char *name;
    const char *text;
};

/*
 * One machine. Strings and attrs are borrowed (must outlive the call). Amounts are
 * thousandths as in core/resources.h (mem and disk in MB * 1000). cr_place_batch() lowers
 * the free_* fields of the machines it places on.
 */
struct cr_place_machine {
    const char *id;       /* unique among the machines of one call */
    const char *hostname; /* the "hostname" constraint field */
    const struct cr_place_attr *attrs;
    size_t nattrs;
    int64_t total_cpus, total_mem, total_disk;
    int64_t free_cpus, free_mem, free_disk;
    int64_t free_ports; /* how many ports are free */
    bool is_unreachable, is_draining;
};

/* Marathon's constraint operators. */
enum cr_place_op {
    CR_PLACE_UNIQUE = 0, /* no two instances share the field's value */
    CR_PLACE_CLUSTER,    /* field == value; no value: the value of the instances already placed */
    CR_PLACE_GROUP_BY,   /* spread evenly over the field's values; value "n" = expect n values */
    CR_PLACE_LIKE,       /* the whole field matches the extended regex value */
    CR_PLACE_UNLIKE,     /* the whole field does not match value (a missing field passes) */
    CR_PLACE_MAX_PER,    /* at most value (a number) instances per field value */
    CR_PLACE_IS,         /* field == value */
};

/* One constraint: field is "hostname" or an attribute name. Strings borrowed; value may be
 * NULL for UNIQUE, CLUSTER and GROUP_BY. A machine without the attribute fails every operator
 * except UNLIKE. */
struct cr_place_constraint {
    const char *field;
    enum cr_place_op op;
    const char *value;
};

/* What each instance of one app needs. Everything borrowed. */
struct cr_place_request {
    const char *app_id;
    int64_t cpus, mem, disk; /* thousandths, >= 0 */
    int64_t ports;           /* number of ports, >= 0 */
    const struct cr_place_constraint *constraints;
    size_t nconstraints;
    /* Machine ids of the app's instances already running (one entry per instance, repeats
     * allowed). Ids not among the machines of the call are ignored: their attributes are
     * unknown, so pass every machine the app runs on, even full ones. */
    const char *const *placed;
    size_t nplaced;
};

/* How many machines failed one requirement. */
struct cr_place_diag_item {
    char *requirement; /* owned: "cpus", "mem", "disk", "ports", "unreachable", "draining",
                          or a constraint as Marathon writes it: "hostname:UNIQUE",
                          "rack:LIKE:r[12]", "rack:GROUP_BY:3" */
    size_t failed;
};

/*
 * Why instances could not be placed. v holds one item per requirement, in this order: cpus,
 * mem, disk, ports, each constraint of the request (in request order), unreachable, draining.
 * A machine failing several requirements is counted under each of them.
 */
struct cr_place_diag {
    size_t considered;            /* machines looked at (all machines of the call) */
    struct cr_place_diag_item *v; /* owned (freed by cr_place_result_release) */
    size_t n;
};

/* The outcome of one batch. Caller-owned: _init before use, _release after (accepts NULL). */
struct cr_place_result {
    size_t *machine;  /* owned: machine[i] = index (into the machines array) of instance i */
    size_t nplaced;   /* instances placed (the first nplaced of the batch) */
    size_t nunplaced; /* count - nplaced */
    struct cr_place_diag diag; /* filled when nunplaced > 0, for the first unplaced instance;
                                  the same holds for every later one */
};

void cr_place_result_init(struct cr_place_result *res);
void cr_place_result_release(struct cr_place_result *res);

/*
 * The used fraction of a machine: max over cpus/mem/disk of (total - free) / total, dimensions
 * with total <= 0 counting as 0. SPREAD orders machines by it (see the file comment).
 */
double cr_place_usage(const struct cr_place_machine *m);

/*
 * Place count instances of req onto machines[0..nmachines), updating the machines' free
 * amounts. res is released and refilled. A machine is a candidate when it is reachable, not
 * draining, has the free cpus/mem/disk/ports and passes every constraint given the instances
 * already placed (req->placed plus this batch's). Returns 0 (even when some or all instances
 * could not be placed: see res->nunplaced and res->diag), or -EINVAL with err filled for a bad
 * request (negative amounts, a constraint without a field, an invalid regex, a non-numeric
 * MAX_PER/GROUP_BY value, an IS/LIKE/UNLIKE without a value). On error the machines are
 * untouched.
 */
int cr_place_batch(struct cr_place_machine *machines, size_t nmachines,
                   const struct cr_place_request *req, size_t count,
                   enum cr_place_strategy strategy, struct cr_place_result *res,
                   struct cr_err *err);

/* Text of an operator: "UNIQUE", "CLUSTER", ... */
const char *cr_place_op_name(enum cr_place_op op);

#endif
