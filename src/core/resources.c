/*
 * resources.c - the resource algebra (see resources.h for the model).
 *
 * Every function keeps the bag normalized: entries sorted by (name, role), one entry
 * per (name, role), one type per name, no empty entries; ranges sorted and coalesced
 * (touching ranges merge); set items sorted and unique. Because of that, equality is
 * structural and containment can be checked with merge walks.
 *
 * Memory: plain malloc with -ENOMEM returns, so callers choose their own policy.
 * Functions that promise to leave their target unchanged on failure (subtract, parse,
 * take_ranges, move_allocatable) compute into fresh storage before committing.
 *
 * PURE: libc string/memory/math only.
 */
#include "core/resources.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest amount a scalar can hold in text form: 2^53 / 1000 keeps doubles exact. */
#define MAX_SCALAR_DOUBLE 9007199254740.0

/* ---- small helpers ---- */

int64_t cr_milli_from_double(double value)
{
    return (int64_t)llround(value * 1000.0);
}

double cr_milli_to_double(int64_t milli)
{
    return (double)milli / 1000.0;
}

static char *dup_str(const char *s)
{
    size_t len = strlen(s) + 1;
    char *p = malloc(len);
    if (p)
        memcpy(p, s, len);
    return p;
}

static const char *type_name(enum cr_res_type t)
{
    switch (t) {
    case CR_RES_SCALAR:
        return "scalar";
    case CR_RES_RANGES:
        return "ranges";
    case CR_RES_SET:
        return "set";
    }
    return "unknown";
}

static int key_cmp(const char *name_a, const char *role_a, const char *name_b, const char *role_b)
{
    int c = strcmp(name_a, name_b);
    return c ? c : strcmp(role_a, role_b);
}

static int str_ptr_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int range_cmp(const void *a, const void *b)
{
    const struct cr_range *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return 0;
}

/* Number of values in one range, saturating at UINT64_MAX. */
static uint64_t range_width(const struct cr_range *r)
{
    uint64_t w = r->end - r->begin;
    return w == UINT64_MAX ? UINT64_MAX : w + 1;
}

static uint64_t sat_add_u64(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* ---- entries ---- */

static void entry_release(struct cr_resource *e)
{
    free(e->name);
    free(e->role);
    free(e->ranges);
    for (size_t i = 0; i < e->nitems; i++)
        free(e->items[i]);
    free(e->items);
    memset(e, 0, sizeof(*e));
}

static bool entry_is_empty(const struct cr_resource *e)
{
    switch (e->type) {
    case CR_RES_SCALAR:
        return e->scalar == 0;
    case CR_RES_RANGES:
        return e->nranges == 0;
    case CR_RES_SET:
        return e->nitems == 0;
    }
    return true;
}

static int entry_copy(struct cr_resource *dst, const struct cr_resource *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->type = src->type;
    dst->scalar = src->scalar;
    dst->name = dup_str(src->name);
    dst->role = dup_str(src->role);
    if (!dst->name || !dst->role)
        goto oom;
    if (src->nranges) {
        dst->ranges = malloc(src->nranges * sizeof(*dst->ranges));
        if (!dst->ranges)
            goto oom;
        memcpy(dst->ranges, src->ranges, src->nranges * sizeof(*dst->ranges));
        dst->nranges = src->nranges;
    }
    if (src->nitems) {
        dst->items = calloc(src->nitems, sizeof(*dst->items));
        if (!dst->items)
            goto oom;
        dst->nitems = src->nitems;
        for (size_t i = 0; i < src->nitems; i++) {
            dst->items[i] = dup_str(src->items[i]);
            if (!dst->items[i])
                goto oom;
        }
    }
    return 0;
oom:
    entry_release(dst);
    return -ENOMEM;
}

/* ---- the bag ---- */

void cr_resources_init(struct cr_resources *rs)
{
    rs->v = NULL;
    rs->n = 0;
    rs->cap = 0;
}

void cr_resources_release(struct cr_resources *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < rs->n; i++)
        entry_release(&rs->v[i]);
    free(rs->v);
    cr_resources_init(rs);
}

static int reserve(struct cr_resources *rs, size_t need)
{
    if (need <= rs->cap)
        return 0;
    size_t cap = rs->cap ? rs->cap * 2 : 4;
    while (cap < need)
        cap *= 2;
    struct cr_resource *v = realloc(rs->v, cap * sizeof(*v));
    if (!v)
        return -ENOMEM;
    rs->v = v;
    rs->cap = cap;
    return 0;
}

int cr_resources_copy(struct cr_resources *dst, const struct cr_resources *src)
{
    struct cr_resources tmp;
    cr_resources_init(&tmp);
    if (reserve(&tmp, src->n) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < src->n; i++) {
        if (entry_copy(&tmp.v[i], &src->v[i]) < 0) {
            cr_resources_release(&tmp);
            return -ENOMEM;
        }
        tmp.n = i + 1;
    }
    cr_resources_release(dst);
    *dst = tmp;
    return 0;
}

bool cr_resources_is_empty(const struct cr_resources *rs)
{
    return rs->n == 0;
}

static bool entry_equal(const struct cr_resource *a, const struct cr_resource *b)
{
    if (a->type != b->type || strcmp(a->name, b->name) || strcmp(a->role, b->role))
        return false;
    switch (a->type) {
    case CR_RES_SCALAR:
        return a->scalar == b->scalar;
    case CR_RES_RANGES:
        return a->nranges == b->nranges &&
               memcmp(a->ranges, b->ranges, a->nranges * sizeof(*a->ranges)) == 0;
    case CR_RES_SET:
        if (a->nitems != b->nitems)
            return false;
        for (size_t i = 0; i < a->nitems; i++)
            if (strcmp(a->items[i], b->items[i]))
                return false;
        return true;
    }
    return false;
}

bool cr_resources_equal(const struct cr_resources *a, const struct cr_resources *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (!entry_equal(&a->v[i], &b->v[i]))
            return false;
    return true;
}

/* Index of (name, role), or -1 with *ins set to the insertion point. */
static long find_idx(const struct cr_resources *rs, const char *name, const char *role, size_t *ins)
{
    size_t lo = 0, hi = rs->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(rs->v[mid].name, rs->v[mid].role, name, role);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (ins)
        *ins = lo;
    return -1;
}

/* First index whose name is >= name. */
static size_t lower_bound_name(const struct cr_resources *rs, const char *name)
{
    size_t lo = 0, hi = rs->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(rs->v[mid].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* -EINVAL when rs already holds name with another type. */
static int check_type(const struct cr_resources *rs, const char *name, enum cr_res_type type)
{
    size_t i = lower_bound_name(rs, name);
    if (i < rs->n && strcmp(rs->v[i].name, name) == 0 && rs->v[i].type != type)
        return -EINVAL;
    return 0;
}

static void remove_at(struct cr_resources *rs, size_t idx)
{
    entry_release(&rs->v[idx]);
    memmove(&rs->v[idx], &rs->v[idx + 1], (rs->n - idx - 1) * sizeof(*rs->v));
    rs->n--;
}

/* Find or insert an empty (name, role, type) entry; *created tells which. */
static int get_entry(struct cr_resources *rs, const char *name, const char *role,
                     enum cr_res_type type, size_t *idx, bool *created)
{
    if (check_type(rs, name, type) < 0)
        return -EINVAL;
    size_t ins = 0;
    long at = find_idx(rs, name, role, &ins);
    if (at >= 0) {
        *idx = (size_t)at;
        *created = false;
        return 0;
    }
    if (reserve(rs, rs->n + 1) < 0)
        return -ENOMEM;
    struct cr_resource e;
    memset(&e, 0, sizeof(e));
    e.type = type;
    e.name = dup_str(name);
    e.role = dup_str(role);
    if (!e.name || !e.role) {
        entry_release(&e);
        return -ENOMEM;
    }
    memmove(&rs->v[ins + 1], &rs->v[ins], (rs->n - ins) * sizeof(*rs->v));
    rs->v[ins] = e;
    rs->n++;
    *idx = ins;
    *created = true;
    return 0;
}

/* ---- ranges ---- */

/* Sort and coalesce in place (touching or overlapping ranges merge); returns the new count. */
static size_t ranges_normalize(struct cr_range *r, size_t n)
{
    if (n == 0)
        return 0;
    qsort(r, n, sizeof(*r), range_cmp);
    size_t out = 0;
    for (size_t i = 1; i < n; i++) {
        struct cr_range *cur = &r[out];
        bool touches = cur->end == UINT64_MAX || r[i].begin <= cur->end + 1;
        if (touches) {
            if (r[i].end > cur->end)
                cur->end = r[i].end;
        } else {
            r[++out] = r[i];
        }
    }
    return out + 1;
}

/* True when every range of b lies inside one range of a (both normalized). */
static bool ranges_contain(const struct cr_range *a, size_t na, const struct cr_range *b, size_t nb)
{
    size_t i = 0;
    for (size_t j = 0; j < nb; j++) {
        while (i < na && a[i].end < b[j].begin)
            i++;
        if (i == na || a[i].begin > b[j].begin || a[i].end < b[j].end)
            return false;
    }
    return true;
}

/* out := a - b (both normalized); out needs room for na + nb ranges. Returns the count. */
static size_t ranges_subtract(const struct cr_range *a, size_t na, const struct cr_range *b,
                              size_t nb, struct cr_range *out)
{
    size_t n = 0, j = 0;
    for (size_t i = 0; i < na; i++) {
        uint64_t begin = a[i].begin, end = a[i].end;
        bool alive = true;
        while (j < nb && b[j].end < begin)
            j++;
        for (size_t k = j; alive && k < nb && b[k].begin <= end; k++) {
            if (b[k].begin > begin)
                out[n++] = (struct cr_range){begin, b[k].begin - 1};
            if (b[k].end >= end)
                alive = false;
            else
                begin = b[k].end + 1;
        }
        if (alive)
            out[n++] = (struct cr_range){begin, end};
    }
    return n;
}

/* out := a ∩ b (both normalized); out needs room for na + nb ranges. Returns the count. */
static size_t ranges_intersect(const struct cr_range *a, size_t na, const struct cr_range *b,
                               size_t nb, struct cr_range *out)
{
    size_t n = 0, i = 0, j = 0;
    while (i < na && j < nb) {
        uint64_t lo = a[i].begin > b[j].begin ? a[i].begin : b[j].begin;
        uint64_t hi = a[i].end < b[j].end ? a[i].end : b[j].end;
        if (lo <= hi)
            out[n++] = (struct cr_range){lo, hi};
        if (a[i].end < b[j].end)
            i++;
        else
            j++;
    }
    return n;
}

/* ---- sets (sorted unique arrays of owned strings) ---- */

static bool set_contains(char *const *a, size_t na, char *const *b, size_t nb)
{
    size_t i = 0;
    for (size_t j = 0; j < nb; j++) {
        int c = -1;
        while (i < na && (c = strcmp(a[i], b[j])) < 0)
            i++;
        if (i == na || c != 0)
            return false;
        i++;
    }
    return true;
}

enum set_op { SET_UNION, SET_MINUS, SET_AND };

/* *out := op(a, b) as new owned strings; returns the count or -ENOMEM. */
static long set_combine(char *const *a, size_t na, char *const *b, size_t nb, enum set_op op,
                        char ***out)
{
    char **v = malloc((na + nb + 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    size_t n = 0, i = 0, j = 0;
    while (i < na || j < nb) {
        int c = i == na ? 1 : j == nb ? -1 : strcmp(a[i], b[j]);
        const char *pick = NULL;
        if (c < 0) {
            if (op != SET_AND)
                pick = a[i];
            i++;
        } else if (c > 0) {
            if (op == SET_UNION)
                pick = b[j];
            j++;
        } else {
            if (op != SET_MINUS)
                pick = a[i];
            i++;
            j++;
        }
        if (pick) {
            v[n] = dup_str(pick);
            if (!v[n]) {
                while (n)
                    free(v[--n]);
                free(v);
                return -ENOMEM;
            }
            n++;
        }
    }
    *out = v;
    return (long)n;
}

static void set_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* ---- adding ---- */

static int add_scalar_at(struct cr_resource *e, int64_t milli)
{
    if (milli > INT64_MAX - e->scalar)
        return -ERANGE;
    e->scalar += milli;
    return 0;
}

int cr_resources_add_scalar(struct cr_resources *rs, const char *name, const char *role,
                            int64_t milli)
{
    if (milli < 0)
        return -EINVAL;
    if (milli == 0)
        return check_type(rs, name, CR_RES_SCALAR);
    size_t idx;
    bool created;
    int rc = get_entry(rs, name, role, CR_RES_SCALAR, &idx, &created);
    if (rc < 0)
        return rc;
    rc = add_scalar_at(&rs->v[idx], milli);
    if (rc < 0 && created)
        remove_at(rs, idx);
    return rc;
}

/* Merge ranges into an entry (empty or not); the entry is untouched on failure. */
static int add_ranges_at(struct cr_resource *e, const struct cr_range *ranges, size_t n)
{
    struct cr_range *v = malloc((e->nranges + n) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    if (e->nranges)
        memcpy(v, e->ranges, e->nranges * sizeof(*v));
    memcpy(v + e->nranges, ranges, n * sizeof(*v));
    size_t total = ranges_normalize(v, e->nranges + n);
    free(e->ranges);
    e->ranges = v;
    e->nranges = total;
    return 0;
}

int cr_resources_add_ranges(struct cr_resources *rs, const char *name, const char *role,
                            const struct cr_range *ranges, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ranges[i].begin > ranges[i].end)
            return -EINVAL;
    if (n == 0)
        return check_type(rs, name, CR_RES_RANGES);
    size_t idx;
    bool created;
    int rc = get_entry(rs, name, role, CR_RES_RANGES, &idx, &created);
    if (rc < 0)
        return rc;
    rc = add_ranges_at(&rs->v[idx], ranges, n);
    if (rc < 0 && created)
        remove_at(rs, idx);
    return rc;
}

/* Union items (sorted unique owned strings) into an entry; untouched on failure. */
static int add_items_at(struct cr_resource *e, char *const *items, size_t n)
{
    char **v;
    long got = set_combine(e->items, e->nitems, items, n, SET_UNION, &v);
    if (got < 0)
        return (int)got;
    set_free(e->items, e->nitems);
    e->items = v;
    e->nitems = (size_t)got;
    return 0;
}

int cr_resources_add_set(struct cr_resources *rs, const char *name, const char *role,
                         const char *const *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!items[i] || !items[i][0])
            return -EINVAL;
    if (n == 0)
        return check_type(rs, name, CR_RES_SET);
    /* Sort and deduplicate a borrowed view first; set_combine copies the strings. */
    char **sorted = malloc(n * sizeof(*sorted));
    if (!sorted)
        return -ENOMEM;
    memcpy(sorted, items, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), str_ptr_cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || strcmp(sorted[m - 1], sorted[i]))
            sorted[m++] = sorted[i];
    size_t idx;
    bool created;
    int rc = get_entry(rs, name, role, CR_RES_SET, &idx, &created);
    if (rc == 0) {
        rc = add_items_at(&rs->v[idx], sorted, m);
        if (rc < 0 && created)
            remove_at(rs, idx);
    }
    free(sorted);
    return rc;
}

/* Add one normalized entry to rs. */
static int add_entry(struct cr_resources *rs, const struct cr_resource *e)
{
    switch (e->type) {
    case CR_RES_SCALAR:
        return cr_resources_add_scalar(rs, e->name, e->role, e->scalar);
    case CR_RES_RANGES:
        return cr_resources_add_ranges(rs, e->name, e->role, e->ranges, e->nranges);
    case CR_RES_SET: {
        size_t idx;
        bool created;
        int rc = get_entry(rs, e->name, e->role, CR_RES_SET, &idx, &created);
        if (rc < 0)
            return rc;
        rc = add_items_at(&rs->v[idx], e->items, e->nitems);
        if (rc < 0 && created)
            remove_at(rs, idx);
        return rc;
    }
    }
    return -EINVAL;
}

int cr_resources_add(struct cr_resources *rs, const struct cr_resources *other)
{
    /* Check every type first, so a clash never leaves a half-added bag. */
    for (size_t i = 0; i < other->n; i++)
        if (check_type(rs, other->v[i].name, other->v[i].type) < 0)
            return -EINVAL;
    for (size_t i = 0; i < other->n; i++) {
        int rc = add_entry(rs, &other->v[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- containment and subtraction ---- */

static bool entry_contains(const struct cr_resource *a, const struct cr_resource *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case CR_RES_SCALAR:
        return a->scalar >= b->scalar;
    case CR_RES_RANGES:
        return ranges_contain(a->ranges, a->nranges, b->ranges, b->nranges);
    case CR_RES_SET:
        return set_contains(a->items, a->nitems, b->items, b->nitems);
    }
    return false;
}

bool cr_resources_contains(const struct cr_resources *a, const struct cr_resources *b)
{
    /* Both sorted by (name, role): one merge walk. */
    size_t i = 0;
    for (size_t j = 0; j < b->n; j++) {
        const struct cr_resource *want = &b->v[j];
        int c = -1;
        while (i < a->n && (c = key_cmp(a->v[i].name, a->v[i].role, want->name, want->role)) < 0)
            i++;
        if (i == a->n || c != 0 || !entry_contains(&a->v[i], want))
            return false;
    }
    return true;
}

/* ---- text output ---- */

/* snprintf-style writer: counts what it needs, writes what fits, keeps NUL termination. */
struct writer {
    char *buf;
    size_t size;
    size_t len;
};

static void w_mem(struct writer *w, const char *s, size_t n)
{
    if (w->size && w->len < w->size - 1) {
        size_t room = w->size - 1 - w->len;
        memcpy(w->buf + w->len, s, n < room ? n : room);
    }
    w->len += n;
    if (w->size)
        w->buf[w->len < w->size ? w->len : w->size - 1] = '\0';
}

static void w_str(struct writer *w, const char *s)
{
    w_mem(w, s, strlen(s));
}

static void w_u64(struct writer *w, uint64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v);
    w_mem(w, tmp, (size_t)n);
}

static void w_milli(struct writer *w, int64_t milli)
{
    char tmp[40];
    uint64_t mag = milli < 0 ? (uint64_t)0 - (uint64_t)milli : (uint64_t)milli;
    unsigned frac = (unsigned)(mag % 1000);
    int n;
    if (frac == 0)
        n = snprintf(tmp, sizeof(tmp), "%s%llu", milli < 0 ? "-" : "",
                     (unsigned long long)(mag / 1000));
    else {
        n = snprintf(tmp, sizeof(tmp), "%s%llu.%03u", milli < 0 ? "-" : "",
                     (unsigned long long)(mag / 1000), frac);
        while (tmp[n - 1] == '0')
            tmp[--n] = '\0';
    }
    w_mem(w, tmp, (size_t)n);
}

static void w_ranges(struct writer *w, const struct cr_range *r, size_t n, const char *sep)
{
    w_str(w, "[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            w_str(w, sep);
        w_u64(w, r[i].begin);
        w_str(w, "-");
        w_u64(w, r[i].end);
    }
    w_str(w, "]");
}

static void w_items(struct writer *w, char *const *items, size_t n)
{
    w_str(w, "{");
    for (size_t i = 0; i < n; i++) {
        if (i)
            w_str(w, ",");
        w_str(w, items[i]);
    }
    w_str(w, "}");
}

static void w_value(struct writer *w, const struct cr_resource *e)
{
    switch (e->type) {
    case CR_RES_SCALAR:
        w_milli(w, e->scalar);
        break;
    case CR_RES_RANGES:
        w_ranges(w, e->ranges, e->nranges, ",");
        break;
    case CR_RES_SET:
        w_items(w, e->items, e->nitems);
        break;
    }
}

size_t cr_resources_format(const struct cr_resources *rs, char *buf, size_t size)
{
    struct writer w = {buf, size, 0};
    if (size)
        buf[0] = '\0';
    for (size_t i = 0; i < rs->n; i++) {
        const struct cr_resource *e = &rs->v[i];
        if (i)
            w_str(&w, ";");
        w_str(&w, e->name);
        if (strcmp(e->role, CR_ROLE_ANY)) {
            w_str(&w, "(");
            w_str(&w, e->role);
            w_str(&w, ")");
        }
        w_str(&w, ":");
        w_value(&w, e);
    }
    return w.len;
}

char *cr_resources_to_string(const struct cr_resources *rs)
{
    size_t need = cr_resources_format(rs, NULL, 0);
    char *s = malloc(need + 1);
    if (s)
        cr_resources_format(rs, s, need + 1);
    return s;
}

size_t cr_ranges_format(const struct cr_range *ranges, size_t n, char *buf, size_t size)
{
    struct writer w = {buf, size, 0};
    if (size)
        buf[0] = '\0';
    w_ranges(&w, ranges, n, ", ");
    return w.len;
}

/* "need 2, have 1.5" for the entry want, given what rs holds (have may be NULL). */
static void describe_short(const struct cr_resource *want, const struct cr_resource *have,
                           struct cr_err *err)
{
    char need_buf[96], have_buf[96];
    struct writer wn = {need_buf, sizeof(need_buf), 0};
    struct writer wh = {have_buf, sizeof(have_buf), 0};
    need_buf[0] = have_buf[0] = '\0';
    w_value(&wn, want);
    if (!have) {
        struct cr_resource none;
        memset(&none, 0, sizeof(none));
        none.type = want->type;
        w_value(&wh, &none);
    } else if (have->type != want->type) {
        w_str(&wh, type_name(have->type));
    } else {
        w_value(&wh, have);
    }
    cr_err_set(err, -ERANGE, "%s(%s): need %s, have %s", want->name, want->role, need_buf,
               have_buf);
}

/* Fill err about the first entry of b that a does not contain. */
static void explain_not_contained(const struct cr_resources *a, const struct cr_resources *b,
                                  struct cr_err *err)
{
    for (size_t j = 0; j < b->n; j++) {
        const struct cr_resource *want = &b->v[j];
        long at = find_idx(a, want->name, want->role, NULL);
        if (at < 0) {
            describe_short(want, NULL, err);
            return;
        }
        if (!entry_contains(&a->v[at], want)) {
            describe_short(want, &a->v[at], err);
            return;
        }
    }
}

/* Replacement arrays computed before subtract commits. */
struct pending {
    struct cr_range *ranges;
    size_t nranges;
    char **items;
    long nitems;
};

int cr_resources_subtract(struct cr_resources *rs, const struct cr_resources *other,
                          struct cr_err *err)
{
    if (!cr_resources_contains(rs, other)) {
        explain_not_contained(rs, other, err);
        return -ERANGE;
    }
    if (other->n == 0)
        return 0;
    struct pending *p = calloc(other->n, sizeof(*p));
    if (!p)
        return cr_err_set(err, -ENOMEM, "subtract resources: out of memory");
    size_t *at = malloc(other->n * sizeof(*at));
    if (!at) {
        free(p);
        return cr_err_set(err, -ENOMEM, "subtract resources: out of memory");
    }
    int rc = 0;
    /* Phase 1: compute every new range/set array (may fail, rs untouched). */
    for (size_t j = 0; j < other->n && rc == 0; j++) {
        const struct cr_resource *b = &other->v[j];
        at[j] = (size_t)find_idx(rs, b->name, b->role, NULL);
        const struct cr_resource *a = &rs->v[at[j]];
        if (b->type == CR_RES_RANGES) {
            p[j].ranges = malloc((a->nranges + b->nranges) * sizeof(*p[j].ranges));
            if (!p[j].ranges)
                rc = -ENOMEM;
            else
                p[j].nranges =
                    ranges_subtract(a->ranges, a->nranges, b->ranges, b->nranges, p[j].ranges);
        } else if (b->type == CR_RES_SET) {
            p[j].nitems =
                set_combine(a->items, a->nitems, b->items, b->nitems, SET_MINUS, &p[j].items);
            if (p[j].nitems < 0) {
                p[j].items = NULL;
                rc = -ENOMEM;
            }
        }
    }
    if (rc < 0) {
        for (size_t j = 0; j < other->n; j++) {
            free(p[j].ranges);
            if (p[j].items)
                set_free(p[j].items, (size_t)p[j].nitems);
        }
        free(p);
        free(at);
        return cr_err_set(err, -ENOMEM, "subtract resources: out of memory");
    }
    /* Phase 2: commit (cannot fail), then drop entries that became empty. */
    for (size_t j = 0; j < other->n; j++) {
        struct cr_resource *a = &rs->v[at[j]];
        const struct cr_resource *b = &other->v[j];
        if (b->type == CR_RES_SCALAR) {
            a->scalar -= b->scalar;
        } else if (b->type == CR_RES_RANGES) {
            free(a->ranges);
            a->ranges = p[j].ranges;
            a->nranges = p[j].nranges;
        } else {
            set_free(a->items, a->nitems);
            a->items = p[j].items;
            a->nitems = (size_t)p[j].nitems;
        }
    }
    free(p);
    free(at);
    size_t out = 0;
    for (size_t i = 0; i < rs->n; i++) {
        if (entry_is_empty(&rs->v[i]))
            entry_release(&rs->v[i]);
        else
            rs->v[out++] = rs->v[i];
    }
    rs->n = out;
    return 0;
}

int cr_resources_intersect(struct cr_resources *dst, const struct cr_resources *a,
                           const struct cr_resources *b)
{
    struct cr_resources tmp;
    cr_resources_init(&tmp);
    size_t i = 0;
    for (size_t j = 0; j < b->n; j++) {
        const struct cr_resource *y = &b->v[j];
        int c = -1;
        while (i < a->n && (c = key_cmp(a->v[i].name, a->v[i].role, y->name, y->role)) < 0)
            i++;
        if (i == a->n)
            break;
        const struct cr_resource *x = &a->v[i];
        if (c != 0 || x->type != y->type)
            continue;
        int rc = 0;
        if (x->type == CR_RES_SCALAR) {
            rc = cr_resources_add_scalar(&tmp, x->name, x->role,
                                         x->scalar < y->scalar ? x->scalar : y->scalar);
        } else if (x->type == CR_RES_RANGES) {
            struct cr_range *r = malloc((x->nranges + y->nranges) * sizeof(*r));
            if (!r) {
                rc = -ENOMEM;
            } else {
                size_t n = ranges_intersect(x->ranges, x->nranges, y->ranges, y->nranges, r);
                rc = cr_resources_add_ranges(&tmp, x->name, x->role, r, n);
                free(r);
            }
        } else {
            char **items;
            long n = set_combine(x->items, x->nitems, y->items, y->nitems, SET_AND, &items);
            if (n < 0) {
                rc = -ENOMEM;
            } else {
                rc = cr_resources_add_set(&tmp, x->name, x->role, (const char *const *)items,
                                          (size_t)n);
                set_free(items, (size_t)n);
            }
        }
        if (rc < 0) {
            cr_resources_release(&tmp);
            return rc;
        }
    }
    cr_resources_release(dst);
    *dst = tmp;
    return 0;
}

/* ---- queries ---- */

int64_t cr_resources_scalar(const struct cr_resources *rs, const char *name)
{
    int64_t sum = 0;
    for (size_t i = lower_bound_name(rs, name); i < rs->n && !strcmp(rs->v[i].name, name); i++)
        if (rs->v[i].type == CR_RES_SCALAR)
            sum += rs->v[i].scalar;
    return sum;
}

uint64_t cr_resources_range_count(const struct cr_resources *rs, const char *name)
{
    uint64_t sum = 0;
    for (size_t i = lower_bound_name(rs, name); i < rs->n && !strcmp(rs->v[i].name, name); i++)
        for (size_t k = 0; rs->v[i].type == CR_RES_RANGES && k < rs->v[i].nranges; k++)
            sum = sat_add_u64(sum, range_width(&rs->v[i].ranges[k]));
    return sum;
}

const struct cr_resource *cr_resources_find(const struct cr_resources *rs, const char *name,
                                            const char *role)
{
    long at = find_idx(rs, name, role, NULL);
    return at < 0 ? NULL : &rs->v[at];
}

int cr_resources_filter_role(struct cr_resources *dst, const struct cr_resources *src,
                             const char *role)
{
    struct cr_resources tmp;
    cr_resources_init(&tmp);
    for (size_t i = 0; i < src->n; i++) {
        if (strcmp(src->v[i].role, role))
            continue;
        if (reserve(&tmp, tmp.n + 1) < 0 || entry_copy(&tmp.v[tmp.n], &src->v[i]) < 0) {
            cr_resources_release(&tmp);
            return -ENOMEM;
        }
        tmp.n++;
    }
    cr_resources_release(dst);
    *dst = tmp;
    return 0;
}

static bool usable_by(const struct cr_resource *e, const char *role)
{
    return !strcmp(e->role, CR_ROLE_ANY) || (role && !strcmp(e->role, role));
}

int cr_resources_move_allocatable(struct cr_resources *from, const char *role,
                                  struct cr_resources *out)
{
    if (out->n != 0)
        return -EINVAL;
    size_t count = 0;
    for (size_t i = 0; i < from->n; i++)
        count += usable_by(&from->v[i], role);
    if (reserve(out, count) < 0)
        return -ENOMEM;
    size_t keep = 0;
    for (size_t i = 0; i < from->n; i++) {
        if (usable_by(&from->v[i], role))
            out->v[out->n++] = from->v[i];
        else
            from->v[keep++] = from->v[i];
    }
    from->n = keep;
    return 0;
}

size_t cr_resources_view_allocatable(const struct cr_resources *from, const char *role,
                                     struct cr_resource *scratch, size_t cap,
                                     struct cr_resources *view)
{
    size_t n = 0;
    for (size_t i = 0; i < from->n; i++) {
        if (!usable_by(&from->v[i], role))
            continue;
        if (n < cap)
            scratch[n] = from->v[i];
        n++;
    }
    if (n <= cap) {
        view->v = scratch;
        view->n = n;
        view->cap = cap;
    }
    return n;
}

int cr_resources_take_ranges(const struct cr_resources *from, const char *name, uint64_t count,
                             struct cr_resources *out, struct cr_err *err)
{
    size_t first = lower_bound_name(from, name);
    if (first < from->n && !strcmp(from->v[first].name, name) &&
        from->v[first].type != CR_RES_RANGES)
        return cr_err_set(err, -EINVAL, "%s: is a %s resource, not ranges", name,
                          type_name(from->v[first].type));
    uint64_t have = cr_resources_range_count(from, name);
    if (have < count)
        return cr_err_set(err, -ERANGE, "%s: need %llu, have %llu", name, (unsigned long long)count,
                          (unsigned long long)have);
    struct cr_resources tmp;
    cr_resources_init(&tmp);
    uint64_t left = count;
    int rc = 0;
    for (size_t i = first; left && i < from->n && !strcmp(from->v[i].name, name); i++) {
        const struct cr_resource *e = &from->v[i];
        for (size_t k = 0; left && k < e->nranges && rc == 0; k++) {
            uint64_t w = range_width(&e->ranges[k]);
            struct cr_range r = e->ranges[k];
            if (w > left)
                r.end = r.begin + (left - 1);
            left -= w > left ? left : w;
            rc = cr_resources_add_ranges(&tmp, e->name, e->role, &r, 1);
        }
    }
    if (rc == 0)
        rc = cr_resources_add(out, &tmp);
    cr_resources_release(&tmp);
    if (rc < 0)
        return cr_err_set(err, rc, "%s: take %llu values: %s", name, (unsigned long long)count,
                          rc == -ENOMEM ? "out of memory" : "type clash in the target");
    return 0;
}

/* ---- text input ---- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static char *trim(char *s)
{
    while (is_space(*s))
        s++;
    size_t n = strlen(s);
    while (n && is_space(s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Names and roles: non-empty, no whitespace and none of the syntax characters. */
static bool valid_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (is_space(*s) || strchr("():;[]{},", *s))
            return false;
    return true;
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (!is_digit(*s))
        return -EINVAL;
    uint64_t v = 0;
    for (; *s; s++) {
        if (!is_digit(*s))
            return -EINVAL;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Parse error about entry (the whole "name(role):value" text). */
static int bad_entry(struct cr_err *err, const char *entry, const char *why)
{
    return cr_err_set(err, -EINVAL, "resource '%.80s': %s", entry, why);
}

static int parse_scalar(char *v, int64_t *milli, const char **why)
{
    if (*v == '-') {
        *why = "negative amount";
        return -EINVAL;
    }
    if (!is_digit(*v) && !(*v == '.' && is_digit(v[1]))) {
        *why = "not a number";
        return -EINVAL;
    }
    if (v[strspn(v, "0123456789.eE+-")] != '\0') {
        *why = "not a number";
        return -EINVAL;
    }
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (*end || errno == ERANGE || !isfinite(d)) {
        *why = "not a number";
        return -EINVAL;
    }
    if (d > MAX_SCALAR_DOUBLE) {
        *why = "amount too large";
        return -EINVAL;
    }
    *milli = cr_milli_from_double(d);
    return 0;
}

/* "[a-b, c, d-e]" (brackets included in v). */
static int parse_ranges(char *v, struct cr_range **out, size_t *nout, const char **why)
{
    size_t len = strlen(v);
    if (len < 2 || v[len - 1] != ']') {
        *why = "ranges must end with ']'";
        return -EINVAL;
    }
    v[len - 1] = '\0';
    char *body = trim(v + 1);
    size_t cap = 1;
    for (char *c = body; *c; c++)
        cap += *c == ',';
    struct cr_range *r = malloc(cap * sizeof(*r));
    if (!r) {
        *why = "out of memory";
        return -ENOMEM;
    }
    size_t n = 0;
    if (*body) {
        char *save = NULL;
        for (char *tok = body;; tok = NULL) {
            char *item = strtok_r(tok, ",", &save);
            if (!item)
                break;
            item = trim(item);
            char *dash = strchr(item, '-');
            uint64_t b, e;
            int rc;
            if (dash) {
                *dash = '\0';
                rc = parse_u64(trim(item), &b);
                if (rc == 0)
                    rc = parse_u64(trim(dash + 1), &e);
            } else {
                rc = parse_u64(item, &b);
                e = b;
            }
            if (rc < 0 || b > e) {
                free(r);
                *why = rc == -ERANGE ? "range bound too large"
                       : rc < 0      ? "bad range (want begin-end)"
                                     : "range begin > end";
                return -EINVAL;
            }
            r[n++] = (struct cr_range){b, e};
        }
        /* strtok_r skips empty tokens: count the separators to catch "[1-2,,3-4]". */
        if (n != cap) {
            free(r);
            *why = "empty range item";
            return -EINVAL;
        }
    }
    *out = r;
    *nout = n;
    return 0;
}

/* "{a, b}" (braces included in v); items are borrowed pointers into v. */
static int parse_set(char *v, char ***out, size_t *nout, const char **why)
{
    size_t len = strlen(v);
    if (len < 2 || v[len - 1] != '}') {
        *why = "set must end with '}'";
        return -EINVAL;
    }
    v[len - 1] = '\0';
    char *body = trim(v + 1);
    size_t cap = 1;
    for (char *c = body; *c; c++)
        cap += *c == ',';
    char **items = malloc(cap * sizeof(*items));
    if (!items) {
        *why = "out of memory";
        return -ENOMEM;
    }
    size_t n = 0;
    if (*body) {
        char *p = body;
        for (;;) {
            char *comma = strchr(p, ',');
            if (comma)
                *comma = '\0';
            char *item = trim(p);
            if (!*item || strpbrk(item, "{}[]();:")) {
                free(items);
                *why = *item ? "bad character in set item" : "empty set item";
                return -EINVAL;
            }
            items[n++] = item;
            if (!comma)
                break;
            p = comma + 1;
        }
    }
    *out = items;
    *nout = n;
    return 0;
}

/* Parse one trimmed, non-empty entry into acc. */
static int parse_entry(struct cr_resources *acc, char *entry, const char *default_role,
                       struct cr_err *err)
{
    char shown[128];
    snprintf(shown, sizeof(shown), "%s", entry);
    char *colon = strchr(entry, ':');
    if (!colon)
        return bad_entry(err, shown, "missing ':'");
    *colon = '\0';
    char *name = trim(entry), *value = trim(colon + 1);
    const char *role = default_role;
    char *open = strchr(name, '(');
    if (open) {
        size_t nlen = strlen(name);
        if (name[nlen - 1] != ')')
            return bad_entry(err, shown, "role must end with ')'");
        name[nlen - 1] = '\0';
        *open = '\0';
        role = trim(open + 1);
        name = trim(name);
        if (!valid_token(role))
            return bad_entry(err, shown, "bad role");
    }
    if (!valid_token(name))
        return bad_entry(err, shown, "bad name");
    if (!*value)
        return bad_entry(err, shown, "missing value");

    const char *why = NULL;
    int rc;
    if (*value == '[') {
        struct cr_range *r = NULL;
        size_t n = 0;
        rc = parse_ranges(value, &r, &n, &why);
        if (rc == 0) {
            rc = cr_resources_add_ranges(acc, name, role, r, n);
            free(r);
        }
    } else if (*value == '{') {
        char **items = NULL;
        size_t n = 0;
        rc = parse_set(value, &items, &n, &why);
        if (rc == 0) {
            rc = cr_resources_add_set(acc, name, role, (const char *const *)items, n);
            free(items);
        }
    } else {
        int64_t milli = 0;
        rc = parse_scalar(value, &milli, &why);
        if (rc == 0)
            rc = cr_resources_add_scalar(acc, name, role, milli);
    }
    if (rc == 0)
        return 0;
    if (!why)
        why = rc == -ENOMEM   ? "out of memory"
              : rc == -ERANGE ? "amount too large"
                              : "name already used with another type";
    return rc == -ENOMEM ? cr_err_set(err, -ENOMEM, "resource '%.80s': out of memory", shown)
                         : bad_entry(err, shown, why);
}

int cr_resources_parse(struct cr_resources *out, const char *text, const char *default_role,
                       struct cr_err *err)
{
    if (!default_role)
        default_role = CR_ROLE_ANY;
    char *copy = dup_str(text ? text : "");
    if (!copy)
        return cr_err_set(err, -ENOMEM, "parse resources: out of memory");
    struct cr_resources acc;
    cr_resources_init(&acc);
    int rc = 0;
    char *p = copy;
    while (rc == 0) {
        char *semi = strchr(p, ';');
        if (semi)
            *semi = '\0';
        char *entry = trim(p);
        if (*entry)
            rc = parse_entry(&acc, entry, default_role, err);
        if (!semi)
            break;
        p = semi + 1;
    }
    free(copy);
    if (rc == 0) {
        /* Add into a copy so out is untouched on any failure. */
        struct cr_resources merged;
        cr_resources_init(&merged);
        rc = cr_resources_copy(&merged, out);
        if (rc == 0)
            rc = cr_resources_add(&merged, &acc);
        if (rc == 0) {
            cr_resources_release(out);
            *out = merged;
        } else {
            cr_resources_release(&merged);
            rc = rc == -ENOMEM
                     ? cr_err_set(err, -ENOMEM, "parse resources: out of memory")
                     : cr_err_set(err, -EINVAL, "parse resources: a name clashes with the target");
        }
    }
    cr_resources_release(&acc);
    return rc;
}
