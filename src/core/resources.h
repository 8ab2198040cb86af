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
    char *name; /* owned, e.g. "cpus", "mem", "disk", "ports" */
    char *role; /* owned, "*" = unreserved */
    enum cr_res_type type;
    int64_t scalar;          /* CR_RES_SCALAR: thousandths, > 0 */
    struct cr_range *ranges; /* CR_RES_RANGES: owned, sorted, coalesced, non-empty */
    size_t nranges;
    char **items; /* CR_RES_SET: owned strings, sorted, unique, non-empty */
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

/* True when rs holds nothing (no entries: empty entries are never kept). */
bool cr_resources_is_empty(const struct cr_resources *rs);
/* Structural equality (both normalized, so equal amounts mean equal bags). */
bool cr_resources_equal(const struct cr_resources *a, const struct cr_resources *b);

/* Add one scalar (milli >= 0; 0 adds nothing) of name/role. Returns 0, -EINVAL (type clash or
 * milli < 0), -ERANGE (the sum would overflow), -ENOMEM. */
int cr_resources_add_scalar(struct cr_resources *rs, const char *name, const char *role,
                            int64_t milli);
/* Add ranges (borrowed, any order, may overlap each other and rs). Returns 0, -EINVAL (type
 * clash or a range with begin > end), -ENOMEM. */
int cr_resources_add_ranges(struct cr_resources *rs, const char *name, const char *role,
                            const struct cr_range *ranges, size_t n);
/* Add set items (borrowed, copied; duplicates fold). Returns 0, -EINVAL (type clash or an
 * empty/NULL item), -ENOMEM. */
int cr_resources_add_set(struct cr_resources *rs, const char *name, const char *role,
                         const char *const *items, size_t n);

/* rs += other. Returns 0, -EINVAL (same name with different types; rs unchanged), -ERANGE
 * (a scalar would overflow), -ENOMEM (rs then holds a valid partial sum). */
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
 * applies otherwise. Whitespace around tokens is ignored; empty entries are skipped; a range
 * item may be a single value ("[80,443]"); scalars are non-negative decimals. Adds to out.
 * Returns 0, or -EINVAL with err naming the bad entry ("resource 'ports:[5-1]': range begin >
 * end"), or -ENOMEM; out is unchanged on failure.
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

/* ---- additions ---- */

/* Format as cr_resources_format() into a new string. Returns owned (free with free()) or NULL
 * when out of memory. */
char *cr_resources_to_string(const struct cr_resources *rs);

/*
 * dst := a ∩ b entry by entry (same name, role and type): the smaller scalar, the common
 * ranges, the common set items. dst is released first (it may not alias a or b).
 * Returns 0 or -ENOMEM (dst unchanged).
 */
int cr_resources_intersect(struct cr_resources *dst, const struct cr_resources *a,
                           const struct cr_resources *b);

/*
 * Pick count values of the ranges resource name (e.g. 2 ports), lowest first, walking the
 * roles in bag order ("*" first), and add them to out as ranges of the same name and role.
 * from is not changed. Returns 0; -ERANGE with "ports: need 2, have 1" when from holds fewer;
 * -EINVAL when name is not a ranges resource or clashes with a type in out; -ENOMEM.
 * out is unchanged on failure.
 */
int cr_resources_take_ranges(const struct cr_resources *from, const char *name, uint64_t count,
                             struct cr_resources *out, struct cr_err *err);

/*
 * Allocation fast path: move every entry usable by role (unreserved "*" entries and those
 * reserved to role; role may be NULL for unreserved only) from `from` into out, which must be
 * empty. No entry is copied. Returns 0, -EINVAL if out is not empty, -ENOMEM (from unchanged).
 */
int cr_resources_move_allocatable(struct cr_resources *from, const char *role,
                                  struct cr_resources *out);

/*
 * Allocation-free view of the entries of `from` usable by role (as above): shallow copies of
 * them go to scratch (cap entries) and view is pointed at scratch. The view borrows all of its
 * strings and arrays from `from`: only read it, never release it, and drop it before `from`
 * changes. Returns the number of entries; if that exceeds cap, view is left untouched and the
 * caller retries with a larger scratch.
 */
size_t cr_resources_view_allocatable(const struct cr_resources *from, const char *role,
                                     struct cr_resource *scratch, size_t cap,
                                     struct cr_resources *view);

#endif
