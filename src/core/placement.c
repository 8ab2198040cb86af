/*
 * placement.c - best-fit / spread placement with Marathon constraints (PURE).
 *
 * One batch: validate the request and compile its constraints into per-machine value ids
 * (one string sort per constraint), count the app's instances per value, then place
 * instances one at a time. Machines are ordered by better(); without GROUP_BY the candidates
 * live in a binary heap, with GROUP_BY (whose minimum moves as instances land) every instance
 * scans the machines. When an instance cannot be placed, every machine is evaluated against
 * every requirement to fill the diagnosis, and the batch stops (nothing would change for the
 * next instance).
 *
 * BINPACK scoring (see placement.h for the why): the cluster's demand direction w (the used
 * fraction per dimension of the usable machines with something free, this batch included) is fixed
 * for the batch, so a machine's key depends only on its own free amounts and is recomputed only for
 * the machine just placed on. A machine's strand is the fraction of the direction's scarcest
 * dimension it would leave unusable if it were filled further along w; used machines whose strand
 * after the placement stays within STRAND_OK (or does not grow) come first, then empty machines,
 * then used machines the placement would strand.
 *
 * Invariants: a machine's free amounts only go down, so a machine that stops fitting never
 * fits again within a batch; UNIQUE, MAX_PER, CLUSTER, IS, LIKE and UNLIKE never let a machine
 * pass again once it failed within a batch (counts only grow, the CLUSTER value only gets
 * fixed), which is why the heap may drop a machine that fails them for good.
 */
#include "core/placement.h"

#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* The dimensions scored: cpus, mem, disk (ports only have to fit). */
enum { NDIM = 3 };

/*
 * How much of a machine's scarce dimension a placement may leave stranded before an empty
 * machine is preferred: 0.2 of a machine. Smaller spreads lopsided apps over more machines
 * (more half-used machines when no complementary app follows), larger strands more; bench_place
 * measured 0.15-0.2 best on its generators.
 */
#define STRAND_OK 0.2

/* BINPACK tiers, best first. */
enum { TIER_STRANDS = 0, TIER_EMPTY = 1, TIER_FITS_WELL = 2 };

/* One compiled constraint. */
struct ccons {
    const struct cr_place_constraint *c;
    int64_t num;     /* MAX_PER limit, GROUP_BY expected values (0 = unknown) */
    int *vid;        /* per machine: value id, -1 when the field is missing */
    size_t nvals;    /* distinct values */
    bool *val_ok;    /* per value: passes the static part (IS, CLUSTER value, LIKE, UNLIKE) */
    bool *val_live;  /* per value: some reachable, non-draining machine has it */
    int64_t *cnt;    /* per value: the app's instances on machines with that value */
    int cluster_vid; /* CLUSTER without value: the value the instances sit on, -1 = none yet */
};

struct ctx {
    struct cr_place_machine *m;
    size_t nm;
    const struct cr_place_request *req;
    enum cr_place_strategy strategy;
    struct ccons *cc;
    size_t ncc;
    unsigned char *tier;  /* per machine: first key (higher is better under BINPACK) */
    double *score;        /* per machine: second key */
    double *sum;          /* per machine: third key */
    double w[NDIM];       /* BINPACK: the cluster's demand direction (used fraction per dim) */
    double cap_max[NDIM]; /* BINPACK: the largest total per dimension (sizes empty machines) */
};

const char *cr_place_op_name(enum cr_place_op op)
{
    switch (op) {
    case CR_PLACE_UNIQUE:
        return "UNIQUE";
    case CR_PLACE_CLUSTER:
        return "CLUSTER";
    case CR_PLACE_GROUP_BY:
        return "GROUP_BY";
    case CR_PLACE_LIKE:
        return "LIKE";
    case CR_PLACE_UNLIKE:
        return "UNLIKE";
    case CR_PLACE_MAX_PER:
        return "MAX_PER";
    case CR_PLACE_IS:
        return "IS";
    }
    return "?";
}

void cr_place_result_init(struct cr_place_result *res)
{
    memset(res, 0, sizeof(*res));
}

void cr_place_result_release(struct cr_place_result *res)
{
    if (!res)
        return;
    free(res->machine);
    for (size_t i = 0; i < res->diag.n; i++)
        free(res->diag.v[i].requirement);
    free(res->diag.v);
    memset(res, 0, sizeof(*res));
}

static double frac(int64_t total, int64_t free_amount)
{
    if (total <= 0)
        return 0.0;
    return (double)(total - free_amount) / (double)total;
}

double cr_place_usage(const struct cr_place_machine *m)
{
    double c = frac(m->total_cpus, m->free_cpus);
    double r = frac(m->total_mem, m->free_mem);
    double d = frac(m->total_disk, m->free_disk);
    double u = c > r ? c : r;
    return u > d ? u : d;
}

static void fractions(const struct cr_place_machine *m, int64_t less_cpus, int64_t less_mem,
                      int64_t less_disk, double *u)
{
    u[0] = frac(m->total_cpus, m->free_cpus - less_cpus);
    u[1] = frac(m->total_mem, m->free_mem - less_mem);
    u[2] = frac(m->total_disk, m->free_disk - less_disk);
}

/*
 * The strand of a machine with used fractions u under direction w: fill it along w until a
 * dimension is full; what is then left of w's largest dimension. 0 when u lies on w or leans
 * towards w's largest dimension (w all zero: 0).
 */
static double strand(const double *w, const double *u)
{
    double s = -1;
    size_t big = 0;
    for (size_t d = 0; d < NDIM; d++) {
        if (w[d] <= 0)
            continue;
        double t = (1 - u[d]) / w[d];
        if (s < 0 || t < s)
            s = t;
        if (w[d] > w[big])
            big = d;
    }
    if (w[big] <= 0)
        return 0;
    double left = (1 - u[big]) - s * w[big];
    return left < 1e-9 ? 0 : left; /* rounding on an exactly aligned machine */
}

static void rescore(struct ctx *x, size_t i)
{
    const struct cr_place_machine *m = &x->m[i];
    if (x->strategy == CR_PLACE_SPREAD) {
        double u[NDIM];
        fractions(m, 0, 0, 0, u);
        x->tier[i] = 0;
        x->score[i] = cr_place_usage(m);
        x->sum[i] = u[0] + u[1] + u[2];
        return;
    }
    bool is_used = m->free_cpus != m->total_cpus || m->free_mem != m->total_mem ||
                   m->free_disk != m->total_disk;
    if (!is_used) { /* the biggest in the demanded dimensions first */
        int64_t tot[NDIM] = {m->total_cpus, m->total_mem, m->total_disk};
        double size = 0;
        for (size_t d = 0; d < NDIM; d++)
            if (x->cap_max[d] > 0)
                size += x->w[d] * ((double)tot[d] / x->cap_max[d]);
        x->tier[i] = TIER_EMPTY;
        x->score[i] = size;
        x->sum[i] = 0;
        return;
    }
    double before[NDIM], after[NDIM];
    fractions(m, 0, 0, 0, before);
    fractions(m, x->req->cpus, x->req->mem, x->req->disk, after);
    double sb = strand(x->w, before), sa = strand(x->w, after);
    double most = after[0];
    for (size_t d = 1; d < NDIM; d++)
        most = after[d] > most ? after[d] : most;
    if (sa <= STRAND_OK || sa <= sb) {
        x->tier[i] = TIER_FITS_WELL;
        x->score[i] = sb - sa; /* repairs a stranded machine first */
    } else {
        x->tier[i] = TIER_STRANDS;
        x->score[i] = -sa;
    }
    x->sum[i] = most; /* then the most used after the placement */
}

/* True when machine a is a better home than b under the strategy (a total order). */
static bool better(const struct ctx *x, size_t a, size_t b)
{
    bool spread = x->strategy == CR_PLACE_SPREAD;
    if (x->tier[a] != x->tier[b])
        return x->tier[a] > x->tier[b];
    if (x->score[a] != x->score[b])
        return spread ? x->score[a] < x->score[b] : x->score[a] > x->score[b];
    if (x->sum[a] != x->sum[b])
        return spread ? x->sum[a] < x->sum[b] : x->sum[a] > x->sum[b];
    int c = strcmp(x->m[a].id, x->m[b].id);
    return c != 0 ? c < 0 : a < b;
}

/* The demand direction and the largest totals (BINPACK only). */
static void direction(struct ctx *x, size_t count)
{
    const struct cr_place_request *r = x->req;
    double used[NDIM] = {(double)r->cpus * (double)count, (double)r->mem * (double)count,
                         (double)r->disk * (double)count};
    double tot[NDIM] = {0, 0, 0};
    for (size_t i = 0; i < x->nm; i++) {
        const struct cr_place_machine *m = &x->m[i];
        int64_t t[NDIM] = {m->total_cpus, m->total_mem, m->total_disk};
        int64_t f[NDIM] = {m->free_cpus, m->free_mem, m->free_disk};
        for (size_t d = 0; d < NDIM; d++)
            if (t[d] > 0 && (double)t[d] > x->cap_max[d])
                x->cap_max[d] = (double)t[d];
        /* Unusable machines, and machines with nothing free at all (no offer held: what
         * runs there is unknown), say nothing about the demand. */
        if (m->is_unreachable || m->is_draining || (f[0] <= 0 && f[1] <= 0 && f[2] <= 0))
            continue;
        for (size_t d = 0; d < NDIM; d++) {
            if (t[d] <= 0)
                continue;
            used[d] += (double)(t[d] - f[d]);
            tot[d] += (double)t[d];
        }
    }
    for (size_t d = 0; d < NDIM; d++)
        x->w[d] = tot[d] > 0 && used[d] > 0 ? used[d] / tot[d] : 0;
}

static const char *field_of(const struct cr_place_machine *m, const char *field)
{
    if (strcmp(field, "hostname") == 0)
        return m->hostname;
    for (size_t i = 0; i < m->nattrs; i++)
        if (m->attrs[i].name && strcmp(m->attrs[i].name, field) == 0)
            return m->attrs[i].text;
    return NULL;
}

/* Requirement slots of the diagnosis, in order. */
enum { R_CPUS, R_MEM, R_DISK, R_PORTS, R_FIXED };

static bool fits(const struct cr_place_machine *m, const struct cr_place_request *r)
{
    return !m->is_unreachable && !m->is_draining && m->free_cpus >= r->cpus &&
           m->free_mem >= r->mem && m->free_disk >= r->disk && m->free_ports >= r->ports;
}

/* Minimum instance count over the live values of a GROUP_BY constraint. */
static int64_t group_min(const struct ccons *k)
{
    size_t live = 0;
    int64_t min = INT64_MAX;
    for (size_t v = 0; v < k->nvals; v++) {
        if (!k->val_live[v])
            continue;
        live++;
        if (k->cnt[v] < min)
            min = k->cnt[v];
    }
    if (live == 0 || (k->num > 0 && (int64_t)live < k->num))
        return 0; /* values not seen yet hold no instance */
    return min;
}

static bool cons_ok(const struct ccons *k, int vid, int64_t gmin)
{
    if (vid < 0)
        return k->c->op == CR_PLACE_UNLIKE;
    if (!k->val_ok[vid])
        return false;
    switch (k->c->op) {
    case CR_PLACE_UNIQUE:
        return k->cnt[vid] == 0;
    case CR_PLACE_CLUSTER:
        return k->cluster_vid < 0 || k->cluster_vid == vid;
    case CR_PLACE_GROUP_BY:
        return k->cnt[vid] <= gmin;
    case CR_PLACE_MAX_PER:
        return k->cnt[vid] < k->num;
    default:
        return true;
    }
}

/*
 * Evaluate machine i against every requirement. With fail (length R_FIXED + ncc + 2), count
 * each failed requirement there. gmin: per-constraint group minimum (GROUP_BY only).
 */
static bool evaluate(const struct ctx *x, size_t i, const int64_t *gmin, size_t *fail)
{
    const struct cr_place_machine *m = &x->m[i];
    const struct cr_place_request *r = x->req;
    bool ok = true;
    bool f[R_FIXED] = {m->free_cpus < r->cpus, m->free_mem < r->mem, m->free_disk < r->disk,
                       m->free_ports < r->ports};
    for (size_t j = 0; j < R_FIXED; j++) {
        if (f[j]) {
            ok = false;
            if (fail)
                fail[j]++;
        }
    }
    if (m->is_unreachable || m->is_draining) {
        ok = false;
        if (fail) {
            if (m->is_unreachable)
                fail[R_FIXED + x->ncc]++;
            if (m->is_draining)
                fail[R_FIXED + x->ncc + 1]++;
        }
    }
    if (!ok && !fail)
        return false;
    for (size_t j = 0; j < x->ncc; j++) {
        if (!cons_ok(&x->cc[j], x->cc[j].vid[i], gmin[j])) {
            ok = false;
            if (!fail)
                return false;
            fail[R_FIXED + j]++;
        }
    }
    return ok;
}

/* The instance-count bookkeeping after placing one instance on machine i. */
static void note_placed(struct ctx *x, size_t i)
{
    for (size_t j = 0; j < x->ncc; j++) {
        struct ccons *k = &x->cc[j];
        int v = k->vid[i];
        if (v < 0)
            continue;
        k->cnt[v]++;
        if (k->cluster_vid < 0 && k->c->op == CR_PLACE_CLUSTER)
            k->cluster_vid = v;
    }
}

static void take(struct ctx *x, size_t i)
{
    struct cr_place_machine *m = &x->m[i];
    m->free_cpus -= x->req->cpus;
    m->free_mem -= x->req->mem;
    m->free_disk -= x->req->disk;
    m->free_ports -= x->req->ports;
    rescore(x, i);
    note_placed(x, i);
}

/* ---- compiling constraints ---- */

struct sort_item {
    const char *s;
    size_t i;
};

static int cmp_sort_item(const void *a, const void *b)
{
    const struct sort_item *x = a, *y = b;
    int c = strcmp(x->s, y->s);
    if (c != 0)
        return c;
    return x->i < y->i ? -1 : x->i > y->i;
}

static bool parse_count(const char *s, int64_t *out)
{
    if (!s || !*s)
        return false;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0)
        return false;
    *out = v;
    return true;
}

static void ccons_release(struct ccons *k)
{
    free(k->vid);
    free(k->val_ok);
    free(k->val_live);
    free(k->cnt);
}

static int compile_one(struct ctx *x, struct ccons *k, const struct cr_place_constraint *c,
                       struct cr_err *err)
{
    memset(k, 0, sizeof(*k));
    k->c = c;
    k->cluster_vid = -1;
    if (!c->field || !*c->field)
        return cr_err_set(err, -EINVAL, "constraint without a field");
    const char *op = cr_place_op_name(c->op);
    if (strcmp(op, "?") == 0)
        return cr_err_set(err, -EINVAL, "constraint on '%s': unknown operator", c->field);
    bool has_value = c->value && *c->value;
    if ((c->op == CR_PLACE_IS || c->op == CR_PLACE_LIKE || c->op == CR_PLACE_UNLIKE) && !c->value)
        return cr_err_set(err, -EINVAL, "constraint '%s:%s': missing value", c->field, op);
    if (c->op == CR_PLACE_MAX_PER && !parse_count(c->value, &k->num))
        return cr_err_set(err, -EINVAL, "constraint '%s:MAX_PER': value '%s' is not a count",
                          c->field, c->value ? c->value : "");
    if (c->op == CR_PLACE_GROUP_BY && has_value && !parse_count(c->value, &k->num))
        return cr_err_set(err, -EINVAL, "constraint '%s:GROUP_BY': value '%s' is not a count",
                          c->field, c->value);

    regex_t re;
    bool has_re = c->op == CR_PLACE_LIKE || c->op == CR_PLACE_UNLIKE;
    if (has_re) {
        char *pat = cr_xasprintf("^(%s)$", c->value);
        int rc = regcomp(&re, pat, REG_EXTENDED | REG_NOSUB);
        free(pat);
        if (rc != 0) {
            char buf[128];
            regerror(rc, &re, buf, sizeof(buf));
            return cr_err_set(err, -EINVAL, "constraint '%s:%s:%s': bad regex: %s", c->field, op,
                              c->value, buf);
        }
    }

    /* Intern the field's values: sort (value, machine) pairs, equal runs share an id. */
    k->vid = cr_xcalloc(x->nm ? x->nm : 1, sizeof(int));
    struct sort_item *items = cr_xcalloc(x->nm ? x->nm : 1, sizeof(*items));
    size_t n = 0;
    for (size_t i = 0; i < x->nm; i++) {
        const char *v = field_of(&x->m[i], c->field);
        k->vid[i] = -1;
        if (v)
            items[n++] = (struct sort_item){v, i};
    }
    qsort(items, n, sizeof(*items), cmp_sort_item);
    k->val_ok = cr_xcalloc(n ? n : 1, sizeof(bool));
    k->val_live = cr_xcalloc(n ? n : 1, sizeof(bool));
    k->cnt = cr_xcalloc(n ? n : 1, sizeof(int64_t));
    for (size_t j = 0; j < n; j++) {
        if (j == 0 || strcmp(items[j].s, items[j - 1].s) != 0) {
            size_t v = k->nvals++;
            const char *s = items[j].s;
            bool ok = true;
            if (c->op == CR_PLACE_IS || (c->op == CR_PLACE_CLUSTER && has_value))
                ok = strcmp(s, c->value) == 0;
            else if (has_re)
                ok = (regexec(&re, s, 0, NULL, 0) == 0) == (c->op == CR_PLACE_LIKE);
            k->val_ok[v] = ok;
        }
        size_t mi = items[j].i;
        k->vid[mi] = (int)(k->nvals - 1);
        if (!x->m[mi].is_unreachable && !x->m[mi].is_draining)
            k->val_live[k->nvals - 1] = true;
    }
    free(items);
    if (has_re)
        regfree(&re);
    return 0;
}

static int cmp_id_index(const void *a, const void *b)
{
    return cmp_sort_item(a, b);
}

/* Count req->placed per value of every constraint (and seed CLUSTER's value). */
static void count_placed(struct ctx *x)
{
    if (x->ncc == 0 || x->req->nplaced == 0)
        return;
    struct sort_item *ids = cr_xcalloc(x->nm ? x->nm : 1, sizeof(*ids));
    for (size_t i = 0; i < x->nm; i++)
        ids[i] = (struct sort_item){x->m[i].id, i};
    qsort(ids, x->nm, sizeof(*ids), cmp_id_index);
    for (size_t p = 0; p < x->req->nplaced; p++) {
        const char *want = x->req->placed[p];
        if (!want)
            continue;
        size_t lo = 0, hi = x->nm;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (strcmp(ids[mid].s, want) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < x->nm && strcmp(ids[lo].s, want) == 0)
            note_placed(x, ids[lo].i);
    }
    free(ids);
}

/* ---- the heap (no constraints) ---- */

struct heap {
    size_t *v;
    size_t n;
};

static void sift_down(const struct ctx *x, struct heap *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        if (l < h->n && better(x, h->v[l], h->v[best]))
            best = l;
        if (r < h->n && better(x, h->v[r], h->v[best]))
            best = r;
        if (best == i)
            return;
        size_t t = h->v[i];
        h->v[i] = h->v[best];
        h->v[best] = t;
        i = best;
    }
}

/*
 * The heap path: every machine that passes now is in the heap; the top is the best of them
 * unless a constraint turned against it since (another instance landed on its value), and
 * such a machine never passes again this batch (no GROUP_BY here), so it is dropped.
 */
static void place_heap(struct ctx *x, size_t count, struct cr_place_result *res,
                       const int64_t *gmin)
{
    struct heap h = {cr_xcalloc(x->nm ? x->nm : 1, sizeof(size_t)), 0};
    for (size_t i = 0; i < x->nm; i++)
        if (evaluate(x, i, gmin, NULL))
            h.v[h.n++] = i;
    for (size_t i = h.n; i-- > 0;)
        sift_down(x, &h, i);
    while (res->nplaced < count && h.n > 0) {
        size_t top = h.v[0];
        if (x->ncc > 0 && !evaluate(x, top, gmin, NULL)) {
            h.v[0] = h.v[--h.n];
            sift_down(x, &h, 0);
            continue;
        }
        take(x, top);
        res->machine[res->nplaced++] = top;
        if (!fits(&x->m[top], x->req))
            h.v[0] = h.v[--h.n];
        sift_down(x, &h, 0);
    }
    free(h.v);
}

static void place_scan(struct ctx *x, size_t count, struct cr_place_result *res, int64_t *gmin)
{
    while (res->nplaced < count) {
        for (size_t j = 0; j < x->ncc; j++)
            gmin[j] = x->cc[j].c->op == CR_PLACE_GROUP_BY ? group_min(&x->cc[j]) : 0;
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < x->nm; i++)
            if (evaluate(x, i, gmin, NULL) && (best == SIZE_MAX || better(x, i, best)))
                best = i;
        if (best == SIZE_MAX)
            return;
        take(x, best);
        res->machine[res->nplaced++] = best;
    }
}

static void diagnose(struct ctx *x, struct cr_place_result *res, int64_t *gmin)
{
    size_t n = R_FIXED + x->ncc + 2;
    size_t *fail = cr_xcalloc(n, sizeof(size_t));
    for (size_t j = 0; j < x->ncc; j++)
        gmin[j] = x->cc[j].c->op == CR_PLACE_GROUP_BY ? group_min(&x->cc[j]) : 0;
    for (size_t i = 0; i < x->nm; i++)
        evaluate(x, i, gmin, fail);
    struct cr_place_diag *d = &res->diag;
    d->considered = x->nm;
    d->n = n;
    d->v = cr_xcalloc(n, sizeof(*d->v));
    static const char *const fixed[R_FIXED] = {"cpus", "mem", "disk", "ports"};
    for (size_t j = 0; j < R_FIXED; j++)
        d->v[j].requirement = cr_xstrdup(fixed[j]);
    for (size_t j = 0; j < x->ncc; j++) {
        const struct cr_place_constraint *c = x->cc[j].c;
        const char *op = cr_place_op_name(c->op);
        d->v[R_FIXED + j].requirement = c->value ? cr_xasprintf("%s:%s:%s", c->field, op, c->value)
                                                 : cr_xasprintf("%s:%s", c->field, op);
    }
    d->v[n - 2].requirement = cr_xstrdup("unreachable");
    d->v[n - 1].requirement = cr_xstrdup("draining");
    for (size_t j = 0; j < n; j++)
        d->v[j].failed = fail[j];
    free(fail);
}

int cr_place_batch(struct cr_place_machine *machines, size_t nmachines,
                   const struct cr_place_request *req, size_t count,
                   enum cr_place_strategy strategy, struct cr_place_result *res, struct cr_err *err)
{
    cr_place_result_release(res);
    if (req->cpus < 0 || req->mem < 0 || req->disk < 0 || req->ports < 0)
        return cr_err_set(err, -EINVAL, "place '%s': negative resource amount",
                          req->app_id ? req->app_id : "");
    if (strategy != CR_PLACE_BINPACK && strategy != CR_PLACE_SPREAD)
        return cr_err_set(err, -EINVAL, "place '%s': unknown strategy",
                          req->app_id ? req->app_id : "");
    struct ctx x = {.m = machines, .nm = nmachines, .req = req, .strategy = strategy, .ncc = 0};
    x.cc = cr_xcalloc(req->nconstraints ? req->nconstraints : 1, sizeof(*x.cc));
    int rc = 0;
    for (size_t j = 0; j < req->nconstraints; j++) {
        rc = compile_one(&x, &x.cc[j], &req->constraints[j], err);
        if (rc < 0) {
            ccons_release(&x.cc[j]);
            goto out;
        }
        x.ncc++;
    }
    count_placed(&x);
    if (strategy == CR_PLACE_BINPACK)
        direction(&x, count);
    x.tier = cr_xcalloc(nmachines ? nmachines : 1, sizeof(*x.tier));
    x.score = cr_xcalloc(nmachines ? nmachines : 1, sizeof(double));
    x.sum = cr_xcalloc(nmachines ? nmachines : 1, sizeof(double));
    for (size_t i = 0; i < nmachines; i++)
        rescore(&x, i);
    res->machine = cr_xcalloc(count ? count : 1, sizeof(size_t));
    int64_t *gmin = cr_xcalloc(x.ncc ? x.ncc : 1, sizeof(int64_t));
    bool has_group_by = false;
    for (size_t j = 0; j < x.ncc; j++)
        has_group_by |= x.cc[j].c->op == CR_PLACE_GROUP_BY;
    if (has_group_by)
        place_scan(&x, count, res, gmin);
    else
        place_heap(&x, count, res, gmin);
    res->nunplaced = count - res->nplaced;
    if (res->nunplaced > 0)
        diagnose(&x, res, gmin);
    free(gmin);
out:
    for (size_t j = 0; j < x.ncc; j++)
        ccons_release(&x.cc[j]);
    free(x.cc);
    free(x.tier);
    free(x.score);
    free(x.sum);
    return rc;
}
