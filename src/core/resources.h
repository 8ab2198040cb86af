/*
 * resources.h - the resource algebra (PURE: no I/O, no clock, no logging).
 *
 * A cr_resources is a normalized bag of resources: at most one entry per
 * (name, type, role); scalars are fixed-point thousandths (Mesos compares
 * scalars with 3 decimal places, so 0.1 cpus is exactly 100); ranges are sorted
 * and coalesced; set items are sorted and unique; entries with nothing in them
 * (scalar 0, no ranges, no items) are dropped. Every operation keeps these
 * invariants, so equality is structural.
 *
 * Roles: "*" is unreserved; any other string is a static reservation to that
 * role. Amounts never go negative: subtraction of something not contained fails.
 *
 * Used by api/ (JSON codecs), the allocator, the master (offer checks) and the
 * agent (its total resources).
 */
#ifndef CR_CORE_RESOURCES_H
#define CR_CORE_RESOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define CR_ROLE_ANY "*"

enum cr_res_type { CR_RES_SCALAR = 0, CR_RES_RANGES = 1, CR_RES_SET = 2 };

struct cr_range {
    uint64_t begin; /* inclusive */
    uint64_t end;   /* inclusive, >= begin */
};

struct cr_resource {
    char *name;                /* owned, e.g. "cpus", "mem", "disk", "ports" */
    char *role;                /* owned, "*" = unreserved */
    enum cr_res_type type;
    int64_t scalar;            /* CR_RES_SCALAR: thousandths, > 0 */
    struct cr_range *ranges;   /* CR_RES_RANGES: owned, sorted, coalesced, non-empty */
    size_t nranges;
    char **items;              /* CR_RES_SET: owned strings, sorted, unique, non-empty */
    size_t nitems;
};

struct cr_resources {
    struct cr_resource *v; /* owned array, sorted by (name, role) */
    size_t n;
    size_t cap;
};

/* Convert a double amount (e.g. 0.1 cpus) to thousandths, rounding to nearest. */
int64_t cr_milli_from_double(double value);
/* Convert thousandths back to a double. */
double cr_milli_to_double(int64_t milli);

/* Caller-owned storage: _init before use, _release after (accepts NULL). */
void cr_resources_init(struct cr_resources *rs);
void cr_resources_release(struct cr_resources *rs);

/* dst := copy of src (dst is released first). Returns 0 or -ENOMEM. */
int cr_resources_copy(struct cr_resources *dst, const struct cr_resources *src);

bool cr_resources_is_empty(const struct cr_resources *rs);
bool cr_resources_equal(const struct cr_resources *a, const struct cr_resources *b);

/* Add one scalar (milli > 0) of name/role. Returns 0, -EINVAL (type clash), -ENOMEM. */
int cr_resources_add_scalar(struct cr_resources *rs, const char *name, const char *role,
                            int64_t milli);
/* Add ranges (borrowed, any order, may overlap each other and rs). */
int cr_resources_add_ranges(struct cr_resources *rs, const char *name, const char *role,
                            const struct cr_range *ranges, size_t n);
/* Add set items (borrowed). */
int cr_resources_add_set(struct cr_resources *rs, const char *name, const char *role,
                         const char *const *items, size_t n);

/* rs += other. Returns 0, -EINVAL (same name with different types), -ENOMEM. */
int cr_resources_add(struct cr_resources *rs, const struct cr_resources *other);

/* True when every amount in b is in a (same name, type and role). */
bool cr_resources_contains(const struct cr_resources *a, const struct cr_resources *b);

/*
 * rs -= other. Fails with -ERANGE (and leaves rs unchanged) unless rs contains other;
 * err then names the first resource that is short, e.g. "cpus(*): need 2, have 1.5".
 */
int cr_resources_subtract(struct cr_resources *rs, const struct cr_resources *other,
                          struct cr_err *err);

/* Sum of scalar name over all roles, in thousandths (0 if absent). */
int64_t cr_resources_scalar(const struct cr_resources *rs, const char *name);

/* Number of values in ranges resource name over all roles (e.g. how many ports). */
uint64_t cr_resources_range_count(const struct cr_resources *rs, const char *name);

/* Lookup of the entry name/role, or NULL. Borrowed. */
const struct cr_resource *cr_resources_find(const struct cr_resources *rs, const char *name,
                                            const char *role);

/* dst := the entries of src whose role is role (dst released first). */
int cr_resources_filter_role(struct cr_resources *dst, const struct cr_resources *src,
                             const char *role);

/*
 * Parse Mesos' text form, e.g. "cpus:4;mem:1024;disk(dev):10;ports:[31000-32000,33000-33001];
 * zones:{a,b}". Entries are separated by ';' and a name may carry "(role)"; default_role
 * applies otherwise. Adds to out. Returns 0 or -EINVAL with err naming the bad entry.
 */
int cr_resources_parse(struct cr_resources *out, const char *text, const char *default_role,
                       struct cr_err *err);

/*
 * Format as the same text form ("cpus:4;mem:1024;ports:[31000-32000]"). Always
 * NUL-terminates; returns the length it needed (like snprintf).
 */
size_t cr_resources_format(const struct cr_resources *rs, char *buf, size_t size);

/* Format ranges as Mesos' legacy string "[31000-32000, 33000-33000]" (like snprintf). */
size_t cr_ranges_format(const struct cr_range *ranges, size_t n, char *buf, size_t size);

#endif
