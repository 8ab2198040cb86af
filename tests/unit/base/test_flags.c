/*
 * test_flags.c - the flag table: every syntax, the precedence default < config file <
 * environment < command line, bounds and error messages that name the flag and the
 * source, --help, positional arguments, durations and sizes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/flags.h"
#include "base/util.h"

struct cfg {
    char *ip;
    int64_t port;
    bool checkpoint;
    double ratio;
    int64_t offer_timeout_ms;
    int64_t mem_bytes;
    char *hostname;
    bool verbose;
};

static const struct cr_flag table[] = {
    {"ip", CR_FLAG_STRING, offsetof(struct cfg, ip), "127.0.0.1", "address to bind", 0, 0},
    {"port", CR_FLAG_INT, offsetof(struct cfg, port), "5050", "port to listen on", 1, 65535},
    {"checkpoint", CR_FLAG_BOOL, offsetof(struct cfg, checkpoint), "true", "checkpoint tasks", 0,
     0},
    {"ratio", CR_FLAG_DOUBLE, offsetof(struct cfg, ratio), "0.5", "a fraction", 0, 1},
    {"offer-timeout", CR_FLAG_DURATION, offsetof(struct cfg, offer_timeout_ms), "10secs",
     "rescind offers after", 100, 86400000},
    {"mem", CR_FLAG_BYTES, offsetof(struct cfg, mem_bytes), "64MB", "memory", 0, 0},
    {"hostname", CR_FLAG_STRING, offsetof(struct cfg, hostname), NULL, "advertised name", 0, 0},
    {"verbose", CR_FLAG_BOOL, offsetof(struct cfg, verbose), NULL, "say more", 0, 0},
    CR_FLAG_END,
};

static const char *const our_env[] = {
    "CORRAL_IP",  "CORRAL_PORT",     "CORRAL_CHECKPOINT", "CORRAL_RATIO",  "CORRAL_OFFER_TIMEOUT",
    "CORRAL_MEM", "CORRAL_HOSTNAME", "CORRAL_VERBOSE",    "CORRAL_CONFIG", NULL};

static int clean_env(void **state)
{
    (void)state;
    for (int i = 0; our_env[i]; i++)
        unsetenv(our_env[i]);
    return 0;
}

/* Parse a NULL-terminated list of arguments. */
static int parse(struct cfg *c, char ***pos, int *help, struct cr_err *err, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, err);
    for (char *a; (a = va_arg(ap, char *)) != NULL;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    return cr_flags_parse(table, c, argc, argv, pos, help, err);
}

static void test_defaults(void **state)
{
    (void)state;
    struct cfg c;
    memset(&c, 0xAB, sizeof(c)); /* whatever was there is ignored */
    struct cr_err err;
    assert_int_equal(parse(&c, NULL, NULL, &err, NULL), 0);
    assert_string_equal(c.ip, "127.0.0.1");
    assert_int_equal(c.port, 5050);
    assert_true(c.checkpoint);
    assert_true(c.ratio == 0.5);
    assert_int_equal(c.offer_timeout_ms, 10000);
    assert_int_equal(c.mem_bytes, 64LL << 20);
    assert_null(c.hostname);
    assert_false(c.verbose);
    cr_flags_release(table, &c);
    assert_null(c.ip);
}

static void test_argv_syntax(void **state)
{
    (void)state;
    struct cfg c;
    struct cr_err err;
    char **pos = NULL;
    assert_int_equal(parse(&c, &pos, NULL, &err, "run", "--port=6000", "--ip", "10.0.0.1",
                           "--no-checkpoint", "--verbose", "web", "--hostname=", "--ratio", "0.25",
                           "--offer-timeout=500ms", "--mem", "1GB", "--", "--port=1", "-x", NULL),
                     0);
    assert_int_equal(c.port, 6000);
    assert_string_equal(c.ip, "10.0.0.1");
    assert_false(c.checkpoint);
    assert_true(c.verbose);
    assert_string_equal(c.hostname, "");
    assert_true(c.ratio == 0.25);
    assert_int_equal(c.offer_timeout_ms, 500);
    assert_int_equal(c.mem_bytes, 1LL << 30);
    assert_non_null(pos);
    assert_string_equal(pos[0], "run");
    assert_string_equal(pos[1], "web");
    assert_string_equal(pos[2], "--port=1");
    assert_string_equal(pos[3], "-x");
    assert_null(pos[4]);
    free(pos);
    cr_flags_release(table, &c);

    /* Booleans: explicit values; the last occurrence wins. */
    assert_int_equal(parse(&c, NULL, NULL, &err, "--checkpoint=no", "--verbose=yes", "--port=1",
                           "--port=2", NULL),
                     0);
    assert_false(c.checkpoint);
    assert_true(c.verbose);
    assert_int_equal(c.port, 2);
    cr_flags_release(table, &c);

    /* No positional arguments wanted, none given: an empty array. */
    assert_int_equal(parse(&c, &pos, NULL, &err, "--port=9", NULL), 0);
    assert_null(pos[0]);
    free(pos);
    cr_flags_release(table, &c);
}

static void expect_error(const char *want, ...)
{
    char *argv[16];
    int argc = 0;
    va_list ap;
    va_start(ap, want);
    for (char *a; (a = va_arg(ap, char *)) != NULL;)
        argv[argc++] = a;
    va_end(ap);
    struct cfg c;
    struct cr_err err;
    cr_err_clear(&err);
    assert_int_equal(cr_flags_parse(table, &c, argc, argv, NULL, NULL, &err), -EINVAL);
    assert_int_equal(err.code, -EINVAL);
    if (strcmp(err.msg, want) != 0)
        fail_msg("got '%s', want '%s'", err.msg, want);
    /* Nothing is left allocated after a failure. */
    assert_null(c.ip);
    assert_null(c.hostname);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("flag --port: 70000 is above the maximum 65535", "--port=70000", NULL);
    expect_error("flag --port: 0 is below the minimum 1", "--port", "0", NULL);
    expect_error("flag --port: 'http' is not an integer", "--port=http", NULL);
    expect_error("flag --port: '99999999999999999999999' is not an integer",
                 "--port=99999999999999999999999", NULL);
    expect_error("unknown flag --bogus", "--bogus=1", NULL);
    expect_error("unknown flag --no-port", "--no-port", NULL);
    expect_error("unknown flag '-p' (flags are spelled --name)", "-p", "1", NULL);
    expect_error("flag --ip: missing value", "--ip", NULL);
    expect_error("flag --no-verbose takes no value", "--no-verbose=1", NULL);
    expect_error("unexpected argument 'extra'", "extra", NULL);
    expect_error("flag --checkpoint: 'maybe' is not a boolean (use true/false, yes/no, 1/0)",
                 "--checkpoint=maybe", NULL);
    expect_error("flag --ratio: 1.5 is above the maximum 1", "--ratio=1.5", NULL);
    expect_error("flag --offer-timeout: 50ms is below the minimum 100ms", "--offer-timeout=50ms",
                 NULL);
    expect_error("flag --offer-timeout: 2days is above the maximum 1days", "--offer-timeout=2days",
                 NULL);
    expect_error("flag --offer-timeout: '10 parsecs' is not a duration (e.g. 500ms, 10secs, 5mins, "
                 "2hrs, 1days)",
                 "--offer-timeout=10 parsecs", NULL);
    expect_error("flag --mem: '1XB' is not a size (e.g. 512B, 10KB, 10MB, 1GB)", "--mem=1XB", NULL);
}

static char *write_temp(const char *text)
{
    char *path = cr_xstrdup("/tmp/corral-flags-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_precedence(void **state)
{
    (void)state;
    char *file = write_temp("# a comment\n"
                            "\n"
                            "port = 1000\n"
                            "  ip=10.1.1.1   # trailing comment\n"
                            "hostname = \"a # b\"\n"
                            "verbose\n"
                            "offer-timeout = 5mins\n");
    char *cfg_arg = cr_xasprintf("--config=%s", file);
    struct cfg c;
    struct cr_err err;

    assert_int_equal(parse(&c, NULL, NULL, &err, cfg_arg, NULL), 0);
    assert_int_equal(c.port, 1000);
    assert_string_equal(c.ip, "10.1.1.1");
    assert_string_equal(c.hostname, "a # b");
    assert_true(c.verbose);
    assert_int_equal(c.offer_timeout_ms, 300000);
    cr_flags_release(table, &c);

    setenv("CORRAL_PORT", "2000", 1);
    setenv("CORRAL_OFFER_TIMEOUT", "1hrs", 1);
    assert_int_equal(parse(&c, NULL, NULL, &err, "--config", file, NULL), 0);
    assert_int_equal(c.port, 2000);                /* env beats the file */
    assert_int_equal(c.offer_timeout_ms, 3600000); /* name upper-cased, '-' -> '_' */
    assert_string_equal(c.ip, "10.1.1.1");         /* the file still applies */
    cr_flags_release(table, &c);

    assert_int_equal(parse(&c, NULL, NULL, &err, cfg_arg, "--port=3000", NULL), 0);
    assert_int_equal(c.port, 3000); /* argv beats everything */
    cr_flags_release(table, &c);

    /* The file can also come from CORRAL_CONFIG. */
    unsetenv("CORRAL_PORT");
    setenv("CORRAL_CONFIG", file, 1);
    assert_int_equal(parse(&c, NULL, NULL, &err, NULL), 0);
    assert_int_equal(c.port, 1000);
    cr_flags_release(table, &c);
    clean_env(NULL);

    /* Errors name where the value came from. */
    setenv("CORRAL_PORT", "70000", 1);
    assert_int_equal(parse(&c, NULL, NULL, &err, NULL), -EINVAL);
    assert_string_equal(err.msg,
                        "flag --port (from CORRAL_PORT): 70000 is above the maximum 65535");
    clean_env(NULL);

    char *bad = write_temp("port = 1\nratio = 7\n");
    char *bad_arg = cr_xasprintf("--config=%s", bad);
    assert_int_equal(parse(&c, NULL, NULL, &err, bad_arg, NULL), -EINVAL);
    char *want = cr_xasprintf("flag --ratio (from %s:2): 7 is above the maximum 1", bad);
    assert_string_equal(err.msg, want);
    free(want);
    unlink(bad);
    free(bad);
    free(bad_arg);

    char *unknown = write_temp("colour = blue\n");
    char *unknown_arg = cr_xasprintf("--config=%s", unknown);
    assert_int_equal(parse(&c, NULL, NULL, &err, unknown_arg, NULL), -EINVAL);
    assert_non_null(strstr(err.msg, "line 1: unknown flag 'colour'"));
    unlink(unknown);
    free(unknown);
    free(unknown_arg);

    assert_int_equal(parse(&c, NULL, NULL, &err, "--config=/nonexistent/corral.conf", NULL),
                     -ENOENT);
    assert_non_null(strstr(err.msg, "/nonexistent/corral.conf"));

    unlink(file);
    free(file);
    free(cfg_arg);
}

static void test_help(void **state)
{
    (void)state;
    struct cfg c;
    struct cr_err err;
    int help = 0;
    char **pos = NULL;
    /* --help wins even over a bad environment and bad flags. */
    setenv("CORRAL_PORT", "nope", 1);
    assert_int_equal(parse(&c, &pos, &help, &err, "--port=x", "--help", NULL), 0);
    assert_int_equal(help, 1);
    assert_int_equal(c.port, 5050);
    free(pos);
    cr_flags_release(table, &c);
    clean_env(NULL);
    /* ...but not when it is another flag's value or after "--". */
    assert_int_equal(parse(&c, &pos, &help, &err, "--hostname", "--help", "--", "-h", NULL), 0);
    assert_int_equal(help, 0);
    assert_string_equal(c.hostname, "--help");
    assert_string_equal(pos[0], "-h");
    free(pos);
    cr_flags_release(table, &c);

    char *out = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&out, &len);
    cr_flags_usage(fp, table);
    fclose(fp);
    assert_non_null(strstr(out, "--port=N"));
    assert_non_null(strstr(out, "port to listen on (default: 5050)"));
    assert_non_null(strstr(out, "--[no-]checkpoint"));
    assert_non_null(strstr(out, "--offer-timeout=DURATION"));
    assert_non_null(strstr(out, "--config=FILE"));
    assert_non_null(strstr(out, "CORRAL_"));
    free(out);
}

static void test_durations(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t ms;
    } ok[] = {
        {"500ms", 500},      {"10secs", 10000},     {"10s", 10000},
        {"10sec", 10000},    {"5mins", 300000},     {"5m", 300000},
        {"2hrs", 7200000},   {"2h", 7200000},       {"1days", 86400000},
        {"1d", 86400000},    {"1weeks", 604800000}, {"1.5", 1500},
        {"0.25s", 250},      {" 3 secs ", 3000},    {"0", 0},
        {"10", 10000},       {"1500us", 2},         {"2000000ns", 2},
        {"1.5hrs", 5400000}, {"10SECS", 10000},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int64_t ms = -1;
        if (cr_parse_duration_ms(ok[i].text, &ms) != 0 || ms != ok[i].ms)
            fail_msg("'%s': got %lld, want %lld", ok[i].text, (long long)ms, (long long)ok[i].ms);
    }
    static const char *const bad[] = {"",    "abc", "10x", "-5s",   "1e3",
                                      "5 5", "s",   ".",   "1..5s", "99999999999999999999weeks",
                                      NULL};
    for (int i = 0; bad[i]; i++) {
        int64_t ms;
        if (cr_parse_duration_ms(bad[i], &ms) != -EINVAL)
            fail_msg("'%s' should be rejected", bad[i]);
    }
}

static void test_bytes(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t bytes;
    } ok[] = {
        {"512B", 512},       {"10KB", 10240},          {"10MB", 10485760},
        {"1GB", 1073741824}, {"1TB", 1099511627776LL}, {"1.5KB", 1536},
        {"100", 100},        {"4096mb", 4294967296LL}, {"2 GiB", 2147483648LL},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int64_t b = -1;
        if (cr_parse_bytes(ok[i].text, &b) != 0 || b != ok[i].bytes)
            fail_msg("'%s': got %lld, want %lld", ok[i].text, (long long)b, (long long)ok[i].bytes);
    }
    static const char *const bad[] = {"", "10XB", "-1", "MB", "1 2", "9999999999TB", NULL};
    for (int i = 0; bad[i]; i++) {
        int64_t b;
        if (cr_parse_bytes(bad[i], &b) != -EINVAL)
            fail_msg("'%s' should be rejected", bad[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, clean_env),
        cmocka_unit_test_setup(test_argv_syntax, clean_env),
        cmocka_unit_test_setup(test_errors, clean_env),
        cmocka_unit_test_setup(test_precedence, clean_env),
        cmocka_unit_test_setup(test_help, clean_env),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
