/*
 * bench_place.c - the placement core alone (src/core/placement.c): how well it packs and
 * how fast it places. Prints figures; never passes or fails on them.
 *
 * Packing: a seeded mix of app shapes (cpu-heavy, mem-heavy, balanced; small to large), each
 * app a batch of 1..N identical instances, apps in arrival order, one cr_place_batch() per app
 * as the orchestrator calls it (nothing is sorted across apps). Fleets: identical machines
 * (32 cpus, 128 GB) and mixed sizes (16/64, 32/128, 48/192 in turn), half again as many as
 * the demand needs so every strategy places everything. Compared: best-fit (BINPACK), first-fit
 * (machines in the given order, the first that fits) and random (a seeded uniformly random
 * machine among those that fit: what offer-order placement gives Mesos+Marathon users).
 *
 * The figure is machines used (holding at least one instance) / lower bound. The lower bound
 * is, per dimension, the fewest machines whose capacities, largest first, add up to the total
 * demand, maxed over cpus and mem: any set of machines holding every instance has at least
 * that many (it even lets instances split across machines, so the ratio overstates the gap to
 * the best packing).
 *
 * Throughput: 1,000,000 instances onto 5,000 machines, as one batch, as 1,000 apps of 1,000,
 * and as 1,000 apps of 1,000 where a third have hostname:UNIQUE and a third rack:MAX_PER:25.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/placement.h"

#define K 1000

static uint64_t rng = 42;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct app {
    int64_t cpus, mem;
    size_t instances;
};

struct fleet {
    struct cr_place_machine *m;
    char (*ids)[16];
    struct cr_place_attr *attrs;
    char (*racks)[16];
    size_t n;
};

static void fleet_make(struct fleet *f, size_t n, bool mixed)
{
    f->n = n;
    f->m = calloc(n, sizeof(*f->m));
    f->ids = calloc(n, sizeof(*f->ids));
    f->attrs = calloc(n, sizeof(*f->attrs));
    f->racks = calloc(n, sizeof(*f->racks));
    if (!f->m || !f->ids || !f->attrs || !f->racks)
        abort();
    for (size_t i = 0; i < n; i++) {
        snprintf(f->ids[i], sizeof(f->ids[i]), "m%05u", (unsigned)i);
        snprintf(f->racks[i], sizeof(f->racks[i]), "r%03u", (unsigned)(i / 100));
        f->attrs[i] = (struct cr_place_attr){"rack", f->racks[i]};
        struct cr_place_machine *m = &f->m[i];
        int64_t scale = mixed ? (int64_t)(1 + i % 3) : 2; /* mixed: 16, 32 or 48 cpus */
        m->id = f->ids[i];
        m->hostname = f->ids[i];
        m->attrs = &f->attrs[i];
        m->nattrs = 1;
        m->total_cpus = m->free_cpus = 16 * scale * K;
        m->total_mem = m->free_mem = 65536 * scale * K;
        m->total_disk = m->free_disk = 1000000 * K;
        m->free_ports = 1000;
    }
}

static void fleet_free(struct fleet *f)
{
    free(f->m);
    free(f->ids);
    free(f->attrs);
    free(f->racks);
}

static bool fits(const struct cr_place_machine *m, const struct app *a)
{
    return m->free_cpus >= a->cpus && m->free_mem >= a->mem;
}

static void take(struct cr_place_machine *m, const struct app *a)
{
    m->free_cpus -= a->cpus;
    m->free_mem -= a->mem;
}

static int cmp_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Fewest machines whose capacity (largest first) holds demand. */
static size_t fewest(const struct fleet *f, bool cpus, int64_t demand)
{
    int64_t *cap = calloc(f->n, sizeof(int64_t));
    if (!cap)
        abort();
    for (size_t i = 0; i < f->n; i++)
        cap[i] = cpus ? f->m[i].total_cpus : f->m[i].total_mem;
    qsort(cap, f->n, sizeof(int64_t), cmp_desc);
    size_t k = 0;
    for (int64_t sum = 0; k < f->n && sum < demand; k++)
        sum += cap[k];
    free(cap);
    return k;
}

enum how { BINPACK, FIRST_FIT, RANDOM, NHOW };
static const char *const how_name[NHOW] = {"best-fit", "first-fit", "random"};

/* One packing run: used machines / lower bound (unplaced instances are printed, not hidden). */
struct pack {
    size_t used, lb, lbc, lbm, unplaced;
};

static struct pack packing(size_t nmachines, bool mixed, const struct app *apps, size_t napps,
                           enum how how)
{
    struct fleet f;
    fleet_make(&f, nmachines, mixed);
    struct pack p = {0, 0, 0, 0, 0};
    size_t *cand = calloc(nmachines, sizeof(size_t));
    if (!cand)
        abort();
    struct cr_place_result res;
    cr_place_result_init(&res);
    for (size_t a = 0; a < napps; a++) {
        if (how == BINPACK) {
            struct cr_place_request r = {.app_id = "app", .cpus = apps[a].cpus, .mem = apps[a].mem};
            if (cr_place_batch(f.m, f.n, &r, apps[a].instances, CR_PLACE_BINPACK, &res, NULL))
                abort();
            p.unplaced += res.nunplaced;
            continue;
        }
        for (size_t k = 0; k < apps[a].instances; k++) {
            size_t nc = 0;
            for (size_t i = 0; i < f.n; i++) {
                if (fits(&f.m[i], &apps[a])) {
                    cand[nc++] = i;
                    if (how == FIRST_FIT)
                        break;
                }
            }
            if (nc == 0) {
                p.unplaced++;
                continue;
            }
            take(&f.m[how == FIRST_FIT ? cand[0] : cand[rnd() % nc]], &apps[a]);
        }
    }
    cr_place_result_release(&res);
    int64_t dcpus = 0, dmem = 0;
    for (size_t a = 0; a < napps; a++) {
        dcpus += apps[a].cpus * (int64_t)apps[a].instances;
        dmem += apps[a].mem * (int64_t)apps[a].instances;
    }
    p.lbc = fewest(&f, true, dcpus);
    p.lbm = fewest(&f, false, dmem);
    p.lb = p.lbm > p.lbc ? p.lbm : p.lbc;
    for (size_t i = 0; i < f.n; i++)
        p.used += f.m[i].free_cpus != f.m[i].total_cpus || f.m[i].free_mem != f.m[i].total_mem;
    free(cand);
    fleet_free(&f);
    return p;
}

/* App shapes (cpus in thousandths, mem in MB): small services up to big batch-like apps;
 * cpu-heavy, balanced and mem-heavy against the machines' 1 cpu : 4 GB. */
static const int64_t shapes[][2] = {{100, 128},    {250, 256},   {500, 512},   {1000, 1024},
                                    {1000, 4096},  {2000, 2048}, {4000, 8192}, {2000, 16384},
                                    {8000, 16384}, {500, 8192}};

/* napps apps of 1..max_inst instances, in arrival order; *nmachines: a fleet half again as
 * large as the demand needs. Returns owned apps (free()). */
static struct app *generate(uint64_t seed, size_t napps, size_t max_inst, size_t *nmachines)
{
    rng = seed * 2654435761u + 1;
    struct app *apps = calloc(napps, sizeof(*apps));
    if (!apps)
        abort();
    int64_t dcpus = 0, dmem = 0;
    for (size_t a = 0; a < napps; a++) {
        const int64_t *s = shapes[rnd() % (sizeof(shapes) / sizeof(shapes[0]))];
        apps[a] = (struct app){s[0], s[1] * K, 1 + (size_t)(rnd() % max_inst)};
        dcpus += apps[a].cpus * (int64_t)apps[a].instances;
        dmem += apps[a].mem * (int64_t)apps[a].instances;
    }
    int64_t need = dcpus / (32 * K) > dmem / (131072 * K) ? dcpus / (32 * K) : dmem / (131072 * K);
    *nmachines = (size_t)need * 3 / 2 + 10;
    return apps;
}

/* The headline: one seeded workload, every strategy, both fleets. */
static void headline(size_t napps, size_t max_inst)
{
    size_t nm = 0;
    struct app *apps = generate(42, napps, max_inst, &nm);
    size_t inst = 0;
    for (size_t a = 0; a < napps; a++)
        inst += apps[a].instances;
    printf("packing: %zu apps of 1-%zu instances (%zu instances, seed 42) onto %zu machines\n",
           napps, max_inst, inst, nm);
    for (int mixed = 0; mixed < 2; mixed++) {
        for (int how = 0; how < NHOW; how++) {
            rng = 7; /* the random strategy's own seed */
            struct pack p = packing(nm, mixed, apps, napps, (enum how)how);
            printf("packing %-9s %-9s machines used %4zu / lower bound %4zu = %.3f  (cpus bound "
                   "%zu, mem bound %zu, unplaced %zu)\n",
                   mixed ? "mixed" : "identical", how_name[how], p.used, p.lb,
                   (double)p.used / (double)p.lb, p.lbc, p.lbm, p.unplaced);
        }
    }
    free(apps);
}

/* Many seeds and sizes: mean and worst ratio per strategy and fleet. */
static void sweep(void)
{
    static const size_t sizes[][2] = {{200, 20}, {300, 50}, {600, 20}, {1000, 50}};
    const uint64_t nseeds = 8;
    size_t lo = SIZE_MAX, hi = 0;
    for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
        for (uint64_t seed = 1; seed <= nseeds; seed++) {
            size_t nm = 0;
            free(generate(seed, sizes[z][0], sizes[z][1], &nm));
            lo = nm < lo ? nm : lo;
            hi = nm > hi ? nm : hi;
        }
    }
    printf("packing sweep: apps x max instances {200x20, 300x50, 600x20, 1000x50} x %llu seeds, "
           "fleets of %zu-%zu machines\n",
           (unsigned long long)nseeds, lo, hi);
    for (int mixed = 0; mixed < 2; mixed++) {
        for (int how = 0; how < NHOW; how++) {
            double sum = 0, worst = 0;
            size_t runs = 0, unplaced = 0;
            for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
                for (uint64_t seed = 1; seed <= nseeds; seed++) {
                    size_t nm = 0;
                    struct app *apps = generate(seed, sizes[z][0], sizes[z][1], &nm);
                    rng = seed + 7;
                    struct pack p = packing(nm, mixed, apps, sizes[z][0], (enum how)how);
                    double r = (double)p.used / (double)p.lb;
                    sum += r;
                    worst = r > worst ? r : worst;
                    unplaced += p.unplaced;
                    runs++;
                    free(apps);
                }
            }
            printf("packing sweep %-9s %-9s mean %.3f worst %.3f over %zu runs (unplaced %zu)\n",
                   mixed ? "mixed" : "identical", how_name[how], sum / (double)runs, worst, runs,
                   unplaced);
        }
    }
}

/* kind 0: no constraints; 1: a third hostname:UNIQUE, a third rack:MAX_PER:25. */
static void throughput(size_t napps, size_t per_app, int kind)
{
    struct fleet f;
    fleet_make(&f, 5000, true);
    struct cr_place_result res;
    cr_place_result_init(&res);
    static const struct cr_place_constraint unique = {"hostname", CR_PLACE_UNIQUE, NULL};
    static const struct cr_place_constraint max_per = {"rack", CR_PLACE_MAX_PER, "25"};
    size_t placed = 0;
    double t0 = now_s();
    for (size_t a = 0; a < napps; a++) {
        struct cr_place_request r = {.app_id = "app", .cpus = 100, .mem = 128 * K};
        if (kind == 1 && a % 3 == 1)
            r.constraints = &unique, r.nconstraints = 1;
        if (kind == 1 && a % 3 == 2)
            r.constraints = &max_per, r.nconstraints = 1;
        if (cr_place_batch(f.m, f.n, &r, per_app, CR_PLACE_BINPACK, &res, NULL))
            abort();
        placed += res.nplaced;
    }
    double dt = now_s() - t0;
    cr_place_result_release(&res);
    printf("throughput %zu instances (%zu apps x %zu%s) onto 5000 machines: %.3f s, %.0f "
           "placements/s\n",
           placed, napps, per_app, kind ? ", 1/3 UNIQUE, 1/3 MAX_PER" : "", dt,
           (double)placed / dt);
    fleet_free(&f);
}

int main(void)
{
    headline(600, 20);
    headline(400, 50);
    sweep();
    throughput(1, 1000000, 0);
    throughput(1000, 1000, 0);
    throughput(1000, 1000, 1);
    return 0;
}
