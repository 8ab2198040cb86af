/*
 * bench_alloc.c - allocation cycle cost of the DRF allocator (src/core/allocator.c).
 *
 * The scenario follows Mesos' HierarchicalAllocator_BENCHMARK_Test.DeclineOffers: every
 * agent has "cpus:24;mem:4096;disk:4096;ports:[31000-32000]" of which
 * "cpus:16;mem:2014;disk:1024" and 16 ports are already used by tasks of framework
 * i % frameworks; all frameworks are in role "*" and decline every offer with a very long
 * filter (refuse_seconds = INT_MAX, as in Mesos). We time the first cycle (every agent is
 * offered), then repeat "decline everything offered, run a cycle" and report the median
 * and p95 cycle time, the offers per cycle, the time to decline a round, and the peak RSS.
 * Each configuration runs in a child process so its peak RSS is its own.
 *
 * Columns: setup_ms (add frameworks, agents and their tasks), first_ms / offers (the first
 * cycle, every agent offered), p50_ms / p95_ms / offers/c (the cycles after each decline
 * round; offers/c is the median offer count), decline_ms (recovering one round of offers
 * with filters), filters (in force at the end), rss_MB (peak resident set of the run),
 * free_ms (cr_alloc_free at the end).
 *
 * usage: bench_alloc [--rounds N] [--quick]
 * It prints figures and exits 0; it never fails on time.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/allocator.h"
#include "core/resources.h"

#define AGENT_TOTAL "cpus:24;mem:4096;disk:4096;ports:[31000-32000]"
#define AGENT_USED "cpus:16;mem:2014;disk:1024"
#define USED_PORTS 16
#define REFUSE_MS ((int64_t)INT_MAX * 1000) /* Mesos: filters.set_refuse_seconds(INT_MAX) */

struct config {
    int agents;
    int frameworks;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint64_t rng = 0x853c49e6748fea9bULL;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void die(const char *what, const struct cr_err *err)
{
    fprintf(stderr, "bench_alloc: %s: %s\n", what, err ? err->msg : "failed");
    exit(1);
}

static struct cr_resources parse(const char *text)
{
    struct cr_resources rs;
    struct cr_err err;
    cr_resources_init(&rs);
    if (cr_resources_parse(&rs, text, NULL, &err) < 0)
        die("parse", &err);
    return rs;
}

/* What tasks use on one agent: the fixed scalars plus 16 distinct random ports. */
static struct cr_resources used_on_agent(void)
{
    struct cr_resources rs = parse(AGENT_USED);
    struct cr_range ports[USED_PORTS];
    int n = 0;
    while (n < USED_PORTS) {
        uint64_t p = 31000 + rnd() % 1001;
        int dup = 0;
        for (int k = 0; k < n; k++)
            dup |= ports[k].begin == p;
        if (!dup)
            ports[n++] = (struct cr_range){p, p};
    }
    if (cr_resources_add_ranges(&rs, "ports", CR_ROLE_ANY, ports, USED_PORTS) < 0)
        die("add ports", NULL);
    return rs;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(double *v, int n, double p)
{
    if (n == 0)
        return 0;
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    int idx = (int)(p * (n - 1) + 0.5);
    return v[idx];
}

static void run_config(const struct config *c, int rounds)
{
    struct cr_err err;
    struct cr_alloc *a = cr_alloc_new();
    char id[64];
    char **fw_ids = calloc((size_t)c->frameworks, sizeof(*fw_ids));
    double t0 = now_ms();
    for (int f = 0; f < c->frameworks; f++) {
        snprintf(id, sizeof(id), "framework-%04d", f);
        fw_ids[f] = strdup(id);
        const char *roles[] = {CR_ROLE_ANY};
        if (cr_alloc_add_framework(a, id, roles, 1, &err) < 0)
            die("add framework", &err);
    }
    struct cr_resources total = parse(AGENT_TOTAL);
    for (int i = 0; i < c->agents; i++) {
        snprintf(id, sizeof(id), "agent-%05d", i);
        if (cr_alloc_add_agent(a, id, &total, &err) < 0)
            die("add agent", &err);
        struct cr_resources used = used_on_agent();
        if (cr_alloc_allocate(a, id, fw_ids[i % c->frameworks], CR_ROLE_ANY, &used, &err) < 0)
            die("allocate used", &err);
        cr_resources_release(&used);
    }
    cr_resources_release(&total);
    double setup_ms = now_ms() - t0;

    int64_t clock_ms = 0;
    struct cr_alloc_result res;
    cr_alloc_result_init(&res);
    t0 = now_ms();
    cr_alloc_cycle(a, clock_ms, &res);
    double first_ms = now_ms() - t0;
    size_t first_offers = res.n;

    double *cycle_ms = calloc((size_t)rounds, sizeof(double));
    double *offers = calloc((size_t)rounds, sizeof(double));
    double decline_total = 0;
    for (int r = 0; r < rounds; r++) {
        /* Permanently decline everything offered. */
        t0 = now_ms();
        for (size_t o = 0; o < res.n; o++)
            cr_alloc_recover(a, res.offers[o].agent_id, res.offers[o].framework_id,
                             res.offers[o].role, &res.offers[o].resources, REFUSE_MS, clock_ms);
        decline_total += now_ms() - t0;
        cr_alloc_result_release(&res);
        cr_alloc_result_init(&res);
        clock_ms += 1000;
        t0 = now_ms();
        cr_alloc_cycle(a, clock_ms, &res);
        cycle_ms[r] = now_ms() - t0;
        offers[r] = (double)res.n;
    }
    size_t filters = cr_alloc_filter_count(a);
    double p50 = percentile(cycle_ms, rounds, 0.5), p95 = percentile(cycle_ms, rounds, 0.95);
    double offers_p50 = percentile(offers, rounds, 0.5);

    cr_alloc_result_release(&res);
    double t_free = now_ms();
    cr_alloc_free(a);
    double free_ms = now_ms() - t_free;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%7d %10d %9.0f %9.2f %8zu %9.2f %9.2f %9.0f %11.2f %9zu %8.1f %8.0f\n", c->agents,
           c->frameworks, setup_ms, first_ms, first_offers, p50, p95, offers_p50,
           decline_total / rounds, filters, (double)ru.ru_maxrss / 1024.0, free_ms);
    fflush(stdout);
    for (int f = 0; f < c->frameworks; f++)
        free(fw_ids[f]);
    free(fw_ids);
    free(cycle_ms);
    free(offers);
}

int main(int argc, char **argv)
{
    int rounds = 50;
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else {
            fprintf(stderr, "usage: %s [--rounds N] [--quick]\n", argv[0]);
            return 2;
        }
    }
    if (rounds < 1)
        rounds = 1;
    static const struct config configs[] = {
        {1000, 100},
        {1000, 1000},
        {10000, 100},
        {10000, 1000},
    };
    size_t nconfigs = quick ? 2 : sizeof(configs) / sizeof(configs[0]);

    printf("bench_alloc: Mesos HierarchicalAllocator_BENCHMARK_Test.DeclineOffers shape\n");
    printf("  agent total %s, in use by tasks of framework i%%F: %s + %d ports\n", AGENT_TOTAL,
           AGENT_USED, USED_PORTS);
    printf("  all frameworks in role \"*\"; every offer declined with refuse = INT_MAX s;\n");
    printf("  %d decline+cycle rounds after the first cycle; times are wall ms\n\n", rounds);
    printf("%7s %10s %9s %9s %8s %9s %9s %9s %11s %9s %8s %8s\n", "agents", "frameworks",
           "setup_ms", "first_ms", "offers", "p50_ms", "p95_ms", "offers/c", "decline_ms",
           "filters", "rss_MB", "free_ms");
    fflush(stdout);
    double t0 = now_ms();
    for (size_t i = 0; i < nconfigs; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("bench_alloc: fork");
            run_config(&configs[i], rounds);
            continue;
        }
        if (pid == 0) {
            run_config(&configs[i], rounds);
            _exit(0);
        }
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            printf("%7d %10d   (run failed, status %d)\n", configs[i].agents, configs[i].frameworks,
                   status);
    }
    printf("\ntotal %.1f s; Mesos reports ~1.06 s per cycle at 10k agents x 1k frameworks\n",
           (now_ms() - t0) / 1000.0);
    return 0;
}
