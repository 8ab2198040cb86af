/*
 * bench_place.c - the placement core alone (src/core/placement.c): how well it packs and
 * how fast it places. Prints figures; never passes or fails on them.
 *
 * Packing: a seeded mix of app shapes (arriving in random order, as apps do) onto identical
 * and onto mixed machines, placed by BINPACK, by first-fit (machines in id order: what a
 * fixed offer order gives) and by random choice among the machines that fit (what offer-order
 * placement gives Mesos+Marathon users), and "binpack*": BINPACK with the apps of one cycle
 * sorted biggest first (what an orchestrator holding a whole cycle's queue can do). Shown: machines
 * used / lower bound, where the lower bound is, per dimension, the fewest machines whose capacities
 * (largest first) hold the whole demand, maxed over cpus and mem.
 *
 * Throughput: 1,000,000 instances onto 5,000 machines, as one batch and as 1,000 apps of
 * 1,000 instances.
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
    size_t n;
};

static void fleet_make(struct fleet *f, size_t n, bool mixed)
{
    f->n = n;
    f->m = calloc(n, sizeof(*f->m));
    f->ids = calloc(n, sizeof(*f->ids));
    for (size_t i = 0; i < n; i++) {
        snprintf(f->ids[i], sizeof(f->ids[i]), "m%05u", (unsigned)i);
        struct cr_place_machine *m = &f->m[i];
        int64_t scale = mixed ? (int64_t)(1 + i % 3) : 2; /* mixed: 16, 32 or 48 cpus */
        m->id = f->ids[i];
        m->hostname = f->ids[i];
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
    for (size_t i = 0; i < f->n; i++)
        cap[i] = cpus ? f->m[i].total_cpus : f->m[i].total_mem;
    qsort(cap, f->n, sizeof(int64_t), cmp_desc);
    size_t k = 0;
    for (int64_t sum = 0; k < f->n && sum < demand; k++)
        sum += cap[k];
    free(cap);
    return k;
}

enum how { BINPACK, FIRST_FIT, RANDOM, BINPACK_SORTED };

/* Bigger instances first (the share of a 32-cpu 128 GB machine, larger dimension). */
static int cmp_app_desc(const void *a, const void *b)
{
    const struct app *x = a, *y = b;
    int64_t sx = x->cpus * 4096 > x->mem / K ? x->cpus * 4096 : x->mem / K;
    int64_t sy = y->cpus * 4096 > y->mem / K ? y->cpus * 4096 : y->mem / K;
    return sx < sy ? 1 : sx > sy ? -1 : 0;
}

static void packing(const char *label, size_t nmachines, bool mixed, const struct app *apps,
                    size_t napps, enum how how)
{
    struct fleet f;
    fleet_make(&f, nmachines, mixed);
    size_t unplaced = 0;
    struct app *sorted = NULL;
    if (how == BINPACK_SORTED) {
        sorted = calloc(napps, sizeof(*sorted));
        memcpy(sorted, apps, napps * sizeof(*apps));
        qsort(sorted, napps, sizeof(*sorted), cmp_app_desc);
        apps = sorted;
    }
    size_t *cand = calloc(nmachines, sizeof(size_t));
    struct cr_place_result res;
    cr_place_result_init(&res);
    for (size_t a = 0; a < napps; a++) {
        if (how == BINPACK || how == BINPACK_SORTED) {
            struct cr_place_request r = {.app_id = "app", .cpus = apps[a].cpus, .mem = apps[a].mem};
            if (cr_place_batch(f.m, f.n, &r, apps[a].instances, CR_PLACE_BINPACK, &res, NULL))
                abort();
            unplaced += res.nunplaced;
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
                unplaced++;
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
    size_t lbc = fewest(&f, true, dcpus), lbm = fewest(&f, false, dmem);
    size_t lb = lbm > lbc ? lbm : lbc;
    size_t used = 0;
    for (size_t i = 0; i < f.n; i++)
        used += f.m[i].free_cpus != f.m[i].total_cpus || f.m[i].free_mem != f.m[i].total_mem;
    static const char *const names[] = {"binpack", "first-fit", "random", "binpack*"};
    printf("packing %-9s %-10s machines used %4zu / lower bound %4zu = %.3f  (cpus bound %zu, "
           "mem bound %zu, unplaced %zu)\n",
           label, names[how], used, lb, (double)used / (double)lb, lbc, lbm, unplaced);
    free(cand);
    free(sorted);
    fleet_free(&f);
}

static void throughput(size_t napps, size_t per_app)
{
    struct fleet f;
    fleet_make(&f, 5000, true);
    struct cr_place_result res;
    cr_place_result_init(&res);
    size_t placed = 0;
    double t0 = now_s();
    for (size_t a = 0; a < napps; a++) {
        struct cr_place_request r = {.app_id = "app", .cpus = 100, .mem = 128 * K};
        if (cr_place_batch(f.m, f.n, &r, per_app, CR_PLACE_BINPACK, &res, NULL))
            abort();
        placed += res.nplaced;
    }
    double dt = now_s() - t0;
    cr_place_result_release(&res);
    printf("throughput %zu instances (%zu apps x %zu) onto 5000 machines: %.3f s, %.0f "
           "placements/s\n",
           placed, napps, per_app, dt, (double)placed / dt);
    fleet_free(&f);
}

int main(void)
{
    /* App shapes: small services up to big batch-like apps. */
    static const int64_t shapes[][2] = {{100, 128},    {250, 256},   {500, 512},   {1000, 1024},
                                        {1000, 4096},  {2000, 2048}, {4000, 8192}, {2000, 16384},
                                        {8000, 16384}, {500, 8192}};
    size_t napps = 600;
    struct app *apps = calloc(napps, sizeof(*apps));
    for (size_t a = 0; a < napps; a++) {
        const int64_t *s = shapes[rnd() % (sizeof(shapes) / sizeof(shapes[0]))];
        apps[a] = (struct app){s[0], s[1] * K, 1 + rnd() % 20};
    }
    /* A fleet half again as large as the demand needs, so every strategy places everything. */
    int64_t dcpus = 0, dmem = 0;
    for (size_t a = 0; a < napps; a++) {
        dcpus += apps[a].cpus * (int64_t)apps[a].instances;
        dmem += apps[a].mem * (int64_t)apps[a].instances;
    }
    int64_t need = dcpus / (32 * K) > dmem / (131072 * K) ? dcpus / (32 * K) : dmem / (131072 * K);
    size_t nmachines = (size_t)need * 3 / 2 + 10;
    for (int mixed = 0; mixed < 2; mixed++)
        for (int how = 0; how < 4; how++)
            packing(mixed ? "mixed" : "identical", nmachines, mixed, apps, napps, (enum how)how);
    free(apps);
    throughput(1, 1000000);
    throughput(1000, 1000);
    return 0;
}
