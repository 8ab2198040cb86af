/*
 * test_monitor.c - the pure part of the agent's monitor (src/agent/monitor.h): the
 * ResourceStatistics JSON (Mesos field names, which fields are left out when unknown,
 * the cgroup-only ones), quantiles (known values, edge cases, and agreement with a naive
 * reference on seeded random data) and the Mesos timer figures.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/monitor.h"

static double num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    assert_non_null(v);
    assert_true(json_is_number(v));
    return json_number_value(v);
}

static void test_usage_json_posix(void **state)
{
    (void)state;
    struct cr_usage u = {
        .timestamp = 1700000000.5,
        .cpus_user_time_secs = 1.25,
        .cpus_system_time_secs = 0.5,
        .mem_rss_bytes = 4096,
        .processes = 3,
        .threads = 7,
    };
    json_t *j = cr_monitor_usage_json(&u, false);
    assert_true(num(j, "timestamp") == 1700000000.5);
    assert_true(num(j, "cpus_user_time_secs") == 1.25);
    assert_true(num(j, "cpus_system_time_secs") == 0.5);
    assert_true(num(j, "mem_rss_bytes") == 4096);
    assert_true(num(j, "processes") == 3);
    assert_true(num(j, "threads") == 7);
    /* unknown limits and cgroup-only figures are left out, not reported as 0 */
    static const char *const absent[] = {
        "cpus_limit",        "mem_limit_bytes",          "mem_total_bytes", "cpus_nr_periods",
        "cpus_nr_throttled", "cpus_throttled_time_secs", "mem_oom_kills",   "mem_max_bytes"};
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
        assert_null(json_object_get(j, absent[i]));
    json_decref(j);
}

static void test_usage_json_cgroups(void **state)
{
    (void)state;
    struct cr_usage u = {
        .timestamp = 10,
        .cpus_user_time_secs = 2,
        .cpus_system_time_secs = 1,
        .mem_rss_bytes = 1 << 20,
        .processes = 1,
        .cpus_limit = 0.5,
        .mem_limit_bytes = 64ull << 20,
        .mem_total_bytes = 3ull << 20,
        .cpus_nr_periods = 100,
        .cpus_nr_throttled = 40,
        .cpus_throttled_time_secs = 1.5,
        .mem_oom_kills = 0,
    };
    json_t *j = cr_monitor_usage_json(&u, true);
    assert_true(num(j, "cpus_limit") == 0.5);
    assert_true(num(j, "mem_limit_bytes") == (double)(64ull << 20));
    assert_true(num(j, "mem_total_bytes") == (double)(3ull << 20));
    assert_true(num(j, "cpus_nr_periods") == 100);
    assert_true(num(j, "cpus_nr_throttled") == 40);
    assert_true(num(j, "cpus_throttled_time_secs") == 1.5);
    /* known to be zero under cgroups: present */
    assert_true(num(j, "mem_oom_kills") == 0);
    /* no thread count and no peak from the kernel: absent */
    assert_null(json_object_get(j, "threads"));
    assert_null(json_object_get(j, "mem_max_bytes"));
    /* integers stay integers (clients parse uint64 fields) */
    assert_true(json_is_integer(json_object_get(j, "mem_limit_bytes")));
    assert_true(json_is_integer(json_object_get(j, "processes")));
    assert_true(json_is_real(json_object_get(j, "cpus_user_time_secs")));
    json_decref(j);

    u.mem_max_bytes = 5ull << 20;
    u.mem_oom_kills = 2;
    j = cr_monitor_usage_json(&u, true);
    assert_true(num(j, "mem_max_bytes") == (double)(5ull << 20));
    assert_true(num(j, "mem_oom_kills") == 2);
    json_decref(j);
}

static void test_percentile_known(void **state)
{
    (void)state;
    const double v[] = {4, 1, 3, 2};
    double scratch[4];
    assert_true(cr_monitor_percentile(v, 4, 0.5, scratch) == 2.5);
    assert_true(cr_monitor_percentile(v, 4, 0.0, scratch) == 1);
    assert_true(cr_monitor_percentile(v, 4, 1.0, scratch) == 4);
    assert_true(fabs(cr_monitor_percentile(v, 4, 0.9, scratch) - 3.7) < 1e-12);
    /* the samples are left alone */
    assert_true(v[0] == 4 && v[1] == 1 && v[2] == 3 && v[3] == 2);
    const double one[] = {7};
    assert_true(cr_monitor_percentile(one, 1, 0.99, scratch) == 7);
    assert_true(isnan(cr_monitor_percentile(one, 0, 0.5, scratch)));
}

/* Reference: insertion sort, then the rank interpolation written out differently. */
static double naive_quantile(const double *v, size_t n, double p)
{
    double *s = malloc(n * sizeof(*s));
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        while (j > 0 && s[j - 1] > v[i]) {
            s[j] = s[j - 1];
            j--;
        }
        s[j] = v[i];
    }
    double pos = p * (double)(n - 1);
    double lo = floor(pos), hi = ceil(pos);
    double r = s[(size_t)lo] * (hi - pos) + s[(size_t)hi] * (pos - lo);
    if (lo == hi)
        r = s[(size_t)lo];
    free(s);
    return r;
}

static void test_percentile_random(void **state)
{
    (void)state;
    srand(12345);
    for (int round = 0; round < 200; round++) {
        size_t n = 1 + (size_t)(rand() % 300);
        double *v = malloc(n * sizeof(*v)), *scratch = malloc(n * sizeof(*v));
        for (size_t i = 0; i < n; i++)
            v[i] = (double)(rand() % 10000) / 10.0;
        double prev = -INFINITY;
        static const double ps[] = {0, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 1};
        for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
            double q = cr_monitor_percentile(v, n, ps[k], scratch);
            assert_true(fabs(q - naive_quantile(v, n, ps[k])) < 1e-9);
            assert_true(q >= prev); /* monotone in p */
            prev = q;
        }
        free(v);
        free(scratch);
    }
}

static void test_timer(void **state)
{
    (void)state;
    json_t *m = json_object();
    cr_monitor_add_timer(m, "x/latency_ms", NULL, 0, 0);
    assert_true(num(m, "x/latency_ms/count") == 0);
    assert_null(json_object_get(m, "x/latency_ms/p50"));
    assert_null(json_object_get(m, "x/latency_ms"));
    json_decref(m);

    const double ring[] = {3, 1, 2, 10};
    m = json_object();
    cr_monitor_add_timer(m, "x/latency_ms", ring, 4, 2);
    assert_true(num(m, "x/latency_ms") == 2);
    assert_true(num(m, "x/latency_ms/count") == 4);
    assert_true(num(m, "x/latency_ms/min") == 1);
    assert_true(num(m, "x/latency_ms/max") == 10);
    assert_true(num(m, "x/latency_ms/p50") == 2.5);
    assert_true(num(m, "x/latency_ms/p99") <= 10 && num(m, "x/latency_ms/p99") > 9.5);
    assert_non_null(json_object_get(m, "x/latency_ms/p90"));
    assert_non_null(json_object_get(m, "x/latency_ms/p95"));
    assert_non_null(json_object_get(m, "x/latency_ms/p999"));
    assert_non_null(json_object_get(m, "x/latency_ms/p9999"));
    json_decref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage_json_posix),
        cmocka_unit_test(test_usage_json_cgroups),
        cmocka_unit_test(test_percentile_known),
        cmocka_unit_test(test_percentile_random),
        cmocka_unit_test(test_timer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
