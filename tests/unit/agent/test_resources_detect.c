/*
 * test_resources_detect.c - the agent's total resources from machine facts and
 * --resources overrides, and /proc/meminfo parsing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/resources_detect.h"

#define MIB (1024ULL * 1024ULL)
#define GIB (1024ULL * MIB)

static const char meminfo[] = "MemTotal:       16318008 kB\n"
                              "MemFree:         1234567 kB\n"
                              "MemAvailable:    9999999 kB\n";

static void test_meminfo_parse(void **state)
{
    (void)state;
    uint64_t mem = 0;
    assert_int_equal(cr_meminfo_parse(meminfo, &mem, NULL), 0);
    assert_int_equal(mem, 16318008ULL * 1024);
    /* MemTotal not first */
    assert_int_equal(cr_meminfo_parse("MemFree: 1 kB\nMemTotal: 2048 kB\n", &mem, NULL), 0);
    assert_int_equal(mem, 2048ULL * 1024);
}

static void test_meminfo_bad(void **state)
{
    (void)state;
    uint64_t mem = 0;
    struct cr_err err;
    cr_err_clear(&err);
    assert_int_equal(cr_meminfo_parse("MemFree: 1 kB\n", &mem, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "MemTotal"));
    assert_int_equal(cr_meminfo_parse("MemTotal: lots\n", &mem, NULL), -EINVAL);
    assert_int_equal(cr_meminfo_parse("MemTotal: 12 MB\n", &mem, NULL), -EINVAL);
    assert_int_equal(cr_meminfo_parse("", &mem, NULL), -EINVAL);
}

static double scalar(const struct cr_resources *rs, const char *name)
{
    return cr_milli_to_double(cr_resources_scalar(rs, name));
}

static void test_detected_defaults(void **state)
{
    (void)state;
    struct cr_machine_facts f = {.cpus = 8, .mem_bytes = 16 * GIB, .disk_bytes = 100 * GIB};
    struct cr_resources rs;
    cr_resources_init(&rs);
    assert_int_equal(cr_agent_compute_resources(&f, NULL, &rs, NULL), 0);
    assert_true(scalar(&rs, "cpus") == 8.0);
    assert_true(scalar(&rs, "mem") == 15.0 * 1024);  /* 1 GiB kept for the system */
    assert_true(scalar(&rs, "disk") == 95.0 * 1024); /* 5 GiB kept */
    const struct cr_resource *ports = cr_resources_find(&rs, "ports", "*");
    assert_non_null(ports);
    assert_int_equal(ports->nranges, 1);
    assert_int_equal(ports->ranges[0].begin, 31000);
    assert_int_equal(ports->ranges[0].end, 32000);
    cr_resources_release(&rs);
}

static void test_small_machine_halves(void **state)
{
    (void)state;
    struct cr_machine_facts f = {.cpus = 1, .mem_bytes = 1 * GIB, .disk_bytes = 8 * GIB};
    struct cr_resources rs;
    cr_resources_init(&rs);
    assert_int_equal(cr_agent_compute_resources(&f, "", &rs, NULL), 0);
    assert_true(scalar(&rs, "mem") == 512.0);
    assert_true(scalar(&rs, "disk") == 4096.0);
    cr_resources_release(&rs);
}

static void test_override_per_resource(void **state)
{
    (void)state;
    struct cr_machine_facts f = {.cpus = 8, .mem_bytes = 16 * GIB, .disk_bytes = 100 * GIB};
    struct cr_resources rs;
    cr_resources_init(&rs);
    assert_int_equal(cr_agent_compute_resources(
                         &f, "cpus:2;mem(dev):512;mem:100;ports:[5000-5001];gpus:1", &rs, NULL),
                     0);
    assert_true(scalar(&rs, "cpus") == 2.0);
    assert_true(scalar(&rs, "mem") == 612.0);        /* both roles, no detected mem */
    assert_true(scalar(&rs, "disk") == 95.0 * 1024); /* still detected */
    assert_true(scalar(&rs, "gpus") == 1.0);
    assert_int_equal(cr_resources_range_count(&rs, "ports"), 2);
    const struct cr_resource *dev = cr_resources_find(&rs, "mem", "dev");
    assert_non_null(dev);
    cr_resources_release(&rs);
}

static void test_override_bad_text(void **state)
{
    (void)state;
    struct cr_machine_facts f = {.cpus = 8, .mem_bytes = 16 * GIB, .disk_bytes = 100 * GIB};
    struct cr_resources rs;
    cr_resources_init(&rs);
    struct cr_err err;
    cr_err_clear(&err);
    assert_int_equal(cr_agent_compute_resources(&f, "cpus:lots", &rs, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "--resources"));
    cr_resources_release(&rs);
}

static void test_probe_this_machine(void **state)
{
    (void)state;
    struct cr_machine_facts f;
    assert_int_equal(cr_agent_probe_machine("/tmp", &f, NULL), 0);
    assert_true(f.cpus >= 1);
    assert_true(f.mem_bytes > 64 * MIB);
    assert_true(f.disk_bytes > 0);
    struct cr_err err;
    cr_err_clear(&err);
    assert_true(cr_agent_probe_machine("/nonexistent/corral-dir", &f, &err) < 0);
    assert_non_null(strstr(err.msg, "/nonexistent/corral-dir"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meminfo_parse),         cmocka_unit_test(test_meminfo_bad),
        cmocka_unit_test(test_detected_defaults),     cmocka_unit_test(test_small_machine_halves),
        cmocka_unit_test(test_override_per_resource), cmocka_unit_test(test_override_bad_text),
        cmocka_unit_test(test_probe_this_machine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
