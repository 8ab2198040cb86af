/*
 * test_cli_util.c - the CLI's pure helpers: argument parsing (table-driven, including
 * every error), aligned tables, JSON accessors, number and age formatting, legacy port
 * ranges (against a naive bitmap reference with seeded random inputs; set CR_TEST_SEED to
 * replay), log tails, task states and lookups in a /master/state document.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "cli/cli_util.h"

/* ---- argument parsing ---- */

struct parsed {
    bool json, follow;
    const char *master;
    long n;
    double cpus;
    struct cr_cli_strlist env;
};

static int parse(struct parsed *p, unsigned flags, struct cr_cli_args *args, struct cr_err *err,
                 int argc, char **argv)
{
    struct cr_cli_opt opts[] = {
        {"json", 0, CR_CLI_OPT_BOOL, &p->json, NULL, "json", 0, 0},
        {"follow", 'f', CR_CLI_OPT_BOOL, &p->follow, NULL, "follow", 0, 0},
        {"master", 0, CR_CLI_OPT_STRING, &p->master, "HOST:PORT", "master", 0, 0},
        {"tail", 'n', CR_CLI_OPT_INT, &p->n, "N", "lines", 0, 100},
        {"cpus", 0, CR_CLI_OPT_DOUBLE, &p->cpus, "N", "cpus", 0.001, 64},
        {"env", 'e', CR_CLI_OPT_LIST, &p->env, "K=V", "env", 0, 0},
        CR_CLI_OPT_END,
    };
    memset(p, 0, sizeof(*p));
    cr_err_clear(err);
    return cr_cli_args_parse(opts, argc, argv, flags, args, err);
}

static void test_args_accepts_every_form(void **state)
{
    (void)state;
    char *argv[] = {"--json", "-f",  "--master",  "h:1",  "--tail=7", "-n8",    "--cpus", "0.5",
                    "-e",     "A=1", "--env=B=2", "pos1", "--",       "--json", "-x",     NULL};
    struct parsed p;
    struct cr_cli_args args;
    struct cr_err err;
    assert_int_equal(parse(&p, 0, &args, &err, 15, argv), 0);
    assert_true(p.json);
    assert_true(p.follow);
    assert_string_equal(p.master, "h:1");
    assert_int_equal(p.n, 8); /* the last one wins */
    assert_true(fabs(p.cpus - 0.5) < 1e-9);
    assert_int_equal(p.env.len, 2);
    assert_string_equal(p.env.items[0], "A=1");
    assert_string_equal(p.env.items[1], "B=2");
    assert_int_equal(args.npos, 3);
    assert_string_equal(args.pos[0], "pos1");
    assert_string_equal(args.pos[1], "--json");
    assert_string_equal(args.pos[2], "-x");
    assert_null(args.pos[3]);
    cr_cli_args_release(&args);
    cr_cli_strlist_release(&p.env);
}

static void test_args_stop_at_positional(void **state)
{
    (void)state;
    char *argv[] = {"--json", "ls", "-la", "--json", NULL};
    struct parsed p;
    struct cr_cli_args args;
    struct cr_err err;
    assert_int_equal(parse(&p, CR_CLI_ARGS_STOP_AT_POSITIONAL, &args, &err, 4, argv), 0);
    assert_true(p.json);
    assert_int_equal(args.npos, 3);
    assert_string_equal(args.pos[0], "ls");
    assert_string_equal(args.pos[1], "-la");
    assert_string_equal(args.pos[2], "--json");
    cr_cli_args_release(&args);
    /* A lone "-" is positional (stdin by convention). */
    char *argv2[] = {"-", NULL};
    assert_int_equal(parse(&p, 0, &args, &err, 1, argv2), 0);
    assert_int_equal(args.npos, 1);
    cr_cli_args_release(&args);
}

static void test_args_errors(void **state)
{
    (void)state;
    static const struct {
        const char *arg1, *arg2;
        const char *msg;
    } cases[] = {
        {"--nope", NULL, "unknown flag --nope"},
        {"-z", NULL, "unknown flag -z"},
        {"--master", NULL, "flag --master needs a value"},
        {"--tail", "x", "flag --tail: 'x' is not a whole number"},
        {"--tail", "101", "flag --tail: 101 is outside 0..100"},
        {"--tail", "", "flag --tail: '' is not a whole number"},
        {"--cpus", "0", "flag --cpus: 0 is outside 0.001..64"},
        {"--cpus", "1x", "flag --cpus: '1x' is not a number"},
        {"--cpus", "nan", "flag --cpus: 'nan' is not a number"},
        {"--json=1", NULL, "flag --json takes no value"},
        {"-n", NULL, "flag -n needs a value"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *argv[] = {(char *)cases[i].arg1, (char *)cases[i].arg2, NULL};
        struct parsed p;
        struct cr_cli_args args;
        struct cr_err err;
        int rc = parse(&p, 0, &args, &err, cases[i].arg2 ? 2 : 1, argv);
        if (rc != -EINVAL || strcmp(err.msg, cases[i].msg) != 0)
            print_error("case %zu: rc %d msg '%s'\n", i, rc, err.msg);
        assert_int_equal(rc, -EINVAL);
        assert_string_equal(err.msg, cases[i].msg);
        cr_cli_args_release(&args);
        cr_cli_strlist_release(&p.env);
    }
}

static void test_args_help(void **state)
{
    (void)state;
    char *argv[] = {"--json", "-h", "--nope", NULL};
    struct parsed p;
    struct cr_cli_args args;
    struct cr_err err;
    assert_int_equal(parse(&p, 0, &args, &err, 3, argv), 1);
    cr_cli_args_release(&args);
    char *argv2[] = {"--help", NULL};
    assert_int_equal(parse(&p, 0, &args, &err, 1, argv2), 1);
    cr_cli_args_release(&args);
}

static char *capture_usage(void)
{
    bool b = false;
    const char *s = NULL;
    struct cr_cli_opt opts[] = {
        {"follow", 'f', CR_CLI_OPT_BOOL, &b, NULL, "keep going", 0, 0},
        {"master", 0, CR_CLI_OPT_STRING, &s, "HOST:PORT", "the master", 0, 0},
        CR_CLI_OPT_END,
    };
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_cli_opts_usage(f, opts);
    fclose(f);
    return text;
}

static void test_usage_aligned(void **state)
{
    (void)state;
    char *text = capture_usage();
    assert_string_equal(text, "  -f, --follow            keep going\n"
                              "      --master HOST:PORT  the master\n"
                              "  -h, --help              show this help\n");
    free(text);
}

/* ---- tables ---- */

static char *print_table(const struct cr_cli_table *t)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_cli_table_print(t, f);
    fclose(f);
    return text;
}

static void test_table_layout(void **state)
{
    (void)state;
    static const char *const headers[] = {"ID", "STATE", "CPUS"};
    struct cr_cli_table t;
    cr_cli_table_init(&t, 3, headers, 1u << 2);
    const char *r1[] = {"web.1", "RUNNING", "0.5"};
    const char *r2[] = {"a", NULL, "12"};
    const char *r3[] = {"caf\xc3\xa9", "bad\x1b[31m", "1"};
    cr_cli_table_add(&t, r1);
    cr_cli_table_add(&t, r2);
    cr_cli_table_add(&t, r3);
    char *text = print_table(&t);
    assert_string_equal(text, "ID     STATE     CPUS\n"
                              "web.1  RUNNING    0.5\n"
                              "a      -           12\n"
                              "caf\xc3\xa9   bad?[31m     1\n");
    free(text);
    cr_cli_table_release(&t);
    cr_cli_table_release(NULL);
}

static void test_table_empty_and_growth(void **state)
{
    (void)state;
    static const char *const headers[] = {"A", "B"};
    struct cr_cli_table t;
    cr_cli_table_init(&t, 2, headers, 0);
    char *text = print_table(&t);
    assert_string_equal(text, "A  B\n");
    free(text);
    for (int i = 0; i < 100; i++) {
        char a[16];
        snprintf(a, sizeof(a), "%d", i);
        const char *row[] = {a, "x"};
        cr_cli_table_add(&t, row);
    }
    assert_int_equal(t.nrows, 100);
    text = print_table(&t);
    assert_non_null(strstr(text, "99  x\n"));
    assert_non_null(strstr(text, "\n0   x\n")); /* left-aligned, padded to the widest */
    free(text);
    cr_cli_table_release(&t);
}

/* ---- JSON accessors ---- */

static void test_json_accessors(void **state)
{
    (void)state;
    struct cr_err err;
    static const char text[] = "{\"a\":\"x\",\"n\":2,\"r\":1.5,\"s\":\"3.25\",\"bad\":\"3x\","
                               "\"b\":true,\"id\":{\"value\":\"I\"},\"legacy\":\"L\","
                               "\"arr\":[1],\"obj\":{}}";
    json_t *j = cr_cli_json_parse(text, strlen(text), &err);
    assert_non_null(j);
    assert_string_equal(cr_cli_json_str(j, "a"), "x");
    assert_null(cr_cli_json_str(j, "n"));
    assert_null(cr_cli_json_str(j, "missing"));
    assert_null(cr_cli_json_str(NULL, "a"));
    assert_true(cr_cli_json_num(j, "n", -1) == 2);
    assert_true(cr_cli_json_num(j, "r", -1) == 1.5);
    assert_true(cr_cli_json_num(j, "s", -1) == 3.25);
    assert_true(cr_cli_json_num(j, "bad", -1) == -1);
    assert_true(cr_cli_json_num(j, "a", -1) == -1);
    assert_true(cr_cli_json_bool(j, "b", false));
    assert_false(cr_cli_json_bool(j, "n", false));
    assert_string_equal(cr_cli_json_id(j, "id"), "I");
    assert_string_equal(cr_cli_json_id(j, "legacy"), "L");
    assert_null(cr_cli_json_id(j, "obj"));
    assert_non_null(cr_cli_json_array(j, "arr"));
    assert_null(cr_cli_json_array(j, "obj"));
    json_decref(j);

    j = cr_cli_json_parse("{\"a\":", 5, &err);
    assert_null(j);
    assert_non_null(strstr(err.msg, "bad JSON at line 1"));
    j = cr_cli_json_parse("{\"a\":\"x\\u0000y\"}", 16, &err);
    assert_non_null(j); /* NULs inside strings are allowed */
    json_decref(j);
}

/* ---- numbers ---- */

static void test_fmt_num_and_age(void **state)
{
    (void)state;
    static const struct {
        double v;
        const char *want;
    } nums[] = {{0.1, "0.1"},     {2, "2"},        {1024, "1024"}, {1.0 / 3, "0.333"},
                {1.5, "1.5"},     {0, "0"},        {-0.0001, "0"}, {0.0005, "0.001"},
                {-2.25, "-2.25"}, {1e6, "1000000"}};
    char buf[32];
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        cr_cli_fmt_num(buf, sizeof(buf), nums[i].v);
        assert_string_equal(buf, nums[i].want);
    }
    cr_cli_fmt_num(buf, sizeof(buf), NAN);
    assert_string_equal(buf, "-");

    static const struct {
        double s;
        const char *want;
    } ages[] = {{0, "0s"},    {59.9, "59s"},   {119, "119s"},  {120, "2m"}, {7199, "119m"},
                {7200, "2h"}, {172799, "47h"}, {172800, "2d"}, {-1, "-"}};
    for (size_t i = 0; i < sizeof(ages) / sizeof(ages[0]); i++) {
        cr_cli_fmt_age(buf, sizeof(buf), ages[i].s);
        assert_string_equal(buf, ages[i].want);
    }
    cr_cli_fmt_age(buf, sizeof(buf), NAN);
    assert_string_equal(buf, "-");
}

/* ---- ranges ---- */

static void fmt_ranges(const char *text, const char *want)
{
    struct cr_cli_ranges r = {0};
    char buf[256];
    assert_int_equal(cr_cli_ranges_parse(text, &r), 0);
    cr_cli_ranges_format(&r, buf, sizeof(buf));
    if (strcmp(buf, want) != 0)
        print_error("'%s' -> '%s', want '%s'\n", text, buf, want);
    assert_string_equal(buf, want);
    cr_cli_ranges_release(&r);
}

static void test_ranges_parse_format(void **state)
{
    (void)state;
    fmt_ranges("[31000-32000]", "31000-32000");
    fmt_ranges("[31000-32000, 33000-33000]", "31000-32000,33000");
    fmt_ranges("[5-6, 1-2, 3-4]", "1-6");
    fmt_ranges("[1-10, 3-4]", "1-10");
    fmt_ranges(" 7 , 9-9 ", "7,9");
    fmt_ranges("", "-");
    fmt_ranges("[]", "-");
    fmt_ranges("[ 1 - 3 ]", "1-3");

    static const char *const bad[] = {"[a-b]", "[5-3]", "[1-2", "1-2]x", "[-1]", "[1-]", "1 2 3 x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cr_cli_ranges r = {0};
        if (cr_cli_ranges_parse(bad[i], &r) != -EINVAL)
            print_error("'%s' parsed\n", bad[i]);
        assert_int_equal(cr_cli_ranges_parse(bad[i], &r), -EINVAL);
        cr_cli_ranges_release(&r);
    }

    /* Truncation never overruns. */
    struct cr_cli_ranges r = {0};
    assert_int_equal(cr_cli_ranges_parse("[1-2, 4-5, 7-8, 10-11]", &r), 0);
    char small[6];
    cr_cli_ranges_format(&r, small, sizeof(small));
    assert_true(strlen(small) < sizeof(small));
    assert_int_equal(cr_cli_ranges_count(&r), 8);
    cr_cli_ranges_release(&r);
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

#define UNIVERSE 160

static void random_ranges(uint64_t *seed, struct cr_cli_ranges *r, bool bits[UNIVERSE])
{
    memset(bits, 0, UNIVERSE);
    int n = (int)(xorshift(seed) % 6);
    for (int i = 0; i < n; i++) {
        uint64_t a = xorshift(seed) % UNIVERSE, len = xorshift(seed) % 30;
        uint64_t b = a + len < UNIVERSE ? a + len : UNIVERSE - 1;
        cr_cli_ranges_add(r, a, b);
        for (uint64_t k = a; k <= b; k++)
            bits[k] = true;
    }
}

static void check_against(const struct cr_cli_ranges *r, const bool bits[UNIVERSE])
{
    uint64_t count = 0;
    for (int k = 0; k < UNIVERSE; k++)
        count += bits[k];
    assert_int_equal(cr_cli_ranges_count(r), count);
    for (size_t i = 0; i < r->len; i++) {
        assert_true(r->v[i].begin <= r->v[i].end);
        if (i > 0) /* sorted, merged: a gap of at least one number */
            assert_true(r->v[i].begin > r->v[i - 1].end + 1);
        for (uint64_t k = r->v[i].begin; k <= r->v[i].end; k++)
            assert_true(bits[k]);
    }
}

static void test_ranges_match_naive_reference(void **state)
{
    (void)state;
    const char *env = getenv("CR_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : 0x5eed1234abcdULL;
    uint64_t start = seed;
    for (int iter = 0; iter < 2000; iter++) {
        struct cr_cli_ranges a = {0}, b = {0};
        bool abits[UNIVERSE], bbits[UNIVERSE];
        random_ranges(&seed, &a, abits);
        random_ranges(&seed, &b, bbits);
        check_against(&a, abits);
        check_against(&b, bbits);

        /* format -> parse round-trips */
        char text[1024];
        cr_cli_ranges_format(&a, text, sizeof(text));
        struct cr_cli_ranges again = {0};
        if (a.len > 0) {
            char bracketed[1100];
            snprintf(bracketed, sizeof(bracketed), "[%s]", text);
            assert_int_equal(cr_cli_ranges_parse(bracketed, &again), 0);
            check_against(&again, abits);
        }
        cr_cli_ranges_release(&again);

        cr_cli_ranges_subtract(&a, &b);
        for (int k = 0; k < UNIVERSE; k++)
            abits[k] = abits[k] && !bbits[k];
        if (iter == 0)
            print_message("seed %llu\n", (unsigned long long)start);
        check_against(&a, abits);
        cr_cli_ranges_release(&a);
        cr_cli_ranges_release(&b);
    }
}

/* ---- tails ---- */

static void test_tail_start(void **state)
{
    (void)state;
    static const struct {
        const char *buf;
        size_t n;
        size_t want;
        bool found;
    } cases[] = {
        {"a\nb\nc\n", 1, 4, true},  {"a\nb\nc\n", 2, 2, true}, {"a\nb\nc\n", 3, 0, false},
        {"a\nb\nc\n", 9, 0, false}, {"a\nb\nc", 1, 4, true},   {"a\nb\nc", 2, 2, true},
        {"", 3, 0, false},          {"\n\n\n", 1, 2, true},    {"abc", 1, 0, false},
        {"x\n", 1, 0, false},       {"a\nb\n", 0, 4, true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool found = !cases[i].found;
        size_t at = cr_cli_tail_start(cases[i].buf, strlen(cases[i].buf), cases[i].n, &found);
        if (at != cases[i].want || found != cases[i].found)
            print_error("case %zu: at %zu found %d\n", i, at, found);
        assert_int_equal(at, cases[i].want);
        assert_int_equal(found, cases[i].found);
    }
}

/* ---- tasks in /master/state ---- */

static const char state_doc[] =
    "{\"slaves\":[{\"id\":\"S1\",\"hostname\":\"node1\",\"port\":5052,"
    "\"pid\":\"slave(1)@10.0.0.1:5052\"},{\"id\":\"S2\",\"hostname\":\"node2\",\"port\":5053}],"
    "\"frameworks\":[{\"id\":\"F1\",\"name\":\"one\","
    "  \"tasks\":[{\"id\":\"t1\",\"state\":\"TASK_RUNNING\",\"slave_id\":\"S1\","
    "             \"statuses\":[{\"state\":\"TASK_RUNNING\",\"timestamp\":10.5}]}],"
    "  \"completed_tasks\":[{\"id\":\"t2\",\"state\":\"TASK_FINISHED\",\"slave_id\":\"S2\","
    "             \"statuses\":[{\"timestamp\":5},{\"timestamp\":7}]},"
    "             {\"id\":\"dup\",\"state\":\"TASK_FAILED\",\"statuses\":[{\"timestamp\":3}]}]},"
    " {\"id\":\"F2\",\"name\":\"two\",\"tasks\":[{\"id\":\"dup\",\"state\":\"TASK_STAGING\"}],"
    "  \"unreachable_tasks\":[{\"id\":\"u1\",\"state\":\"TASK_UNREACHABLE\"}]}],"
    "\"completed_frameworks\":[{\"id\":\"F0\",\"completed_tasks\":["
    "  {\"id\":\"old\",\"state\":\"TASK_KILLED\",\"statuses\":[{\"timestamp\":1}]},"
    "  {\"id\":\"old\",\"state\":\"TASK_FAILED\",\"statuses\":[{\"timestamp\":2}]}]}],"
    "\"orphan_tasks\":[{\"id\":\"orph\",\"state\":\"TASK_RUNNING\"}]}";

static void test_find_task(void **state)
{
    (void)state;
    struct cr_err err;
    json_t *doc = cr_cli_json_parse(state_doc, strlen(state_doc), &err);
    if (!doc)
        print_error("%s\n", err.msg);
    assert_non_null(doc);
    struct cr_cli_task_ref ref;

    assert_int_equal(cr_cli_find_task(doc, "t1", &ref), 0);
    assert_string_equal(cr_cli_json_str(ref.framework, "name"), "one");
    assert_false(ref.is_completed);
    assert_true(cr_cli_task_updated(ref.task) == 10.5);

    assert_int_equal(cr_cli_find_task(doc, "t2", &ref), 0);
    assert_true(ref.is_completed);
    assert_true(cr_cli_task_updated(ref.task) == 7);

    /* A live task wins over a finished one of the same id in another framework. */
    assert_int_equal(cr_cli_find_task(doc, "dup", &ref), 0);
    assert_string_equal(cr_cli_json_str(ref.framework, "name"), "two");
    assert_string_equal(cr_cli_json_str(ref.task, "state"), "TASK_STAGING");
    assert_true(isnan(cr_cli_task_updated(ref.task)));

    /* Among finished ones, the latest. */
    assert_int_equal(cr_cli_find_task(doc, "old", &ref), 0);
    assert_string_equal(cr_cli_json_str(ref.task, "state"), "TASK_FAILED");
    assert_true(ref.is_completed);

    assert_int_equal(cr_cli_find_task(doc, "u1", &ref), 0);
    assert_int_equal(cr_cli_find_task(doc, "orph", &ref), 0);
    assert_null(ref.framework);
    assert_int_equal(cr_cli_find_task(doc, "nope", &ref), -ENOENT);
    assert_null(ref.task);

    /* Broken documents answer "not found", never crash. */
    json_t *junk = json_pack("{s:i,s:[i,s]}", "frameworks", 3, "completed_frameworks", 1, "x");
    assert_int_equal(cr_cli_find_task(junk, "t1", &ref), -ENOENT);
    json_decref(junk);
    json_decref(doc);
}

static void test_agents(void **state)
{
    (void)state;
    struct cr_err err;
    json_t *doc = cr_cli_json_parse(state_doc, strlen(state_doc), &err);
    assert_non_null(doc);
    char addr[64];
    const json_t *s1 = cr_cli_find_agent(doc, "S1");
    assert_non_null(s1);
    assert_int_equal(cr_cli_agent_address(s1, addr, sizeof(addr)), 0);
    assert_string_equal(addr, "10.0.0.1:5052"); /* from the pid */
    const json_t *s2 = cr_cli_find_agent(doc, "S2");
    assert_int_equal(cr_cli_agent_address(s2, addr, sizeof(addr)), 0);
    assert_string_equal(addr, "node2:5053"); /* no pid: hostname:port */
    assert_null(cr_cli_find_agent(doc, "S9"));
    assert_null(cr_cli_find_agent(doc, NULL));
    json_t *bad = json_pack("{s:s}", "pid", "slave(1)@");
    assert_int_equal(cr_cli_agent_address(bad, addr, sizeof(addr)), -EINVAL);
    json_decref(bad);
    json_decref(doc);
}

static void test_states(void **state)
{
    (void)state;
    assert_string_equal(cr_cli_state_short("TASK_RUNNING"), "RUNNING");
    assert_string_equal(cr_cli_state_short("RUNNING"), "RUNNING");
    assert_null(cr_cli_state_short(NULL));
    static const char *const terminal[] = {
        "TASK_FINISHED", "TASK_FAILED",  "KILLED",    "TASK_LOST",
        "TASK_ERROR",    "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR",
        "TASK_UNKNOWN"};
    static const char *const live[] = {"TASK_STAGING", "TASK_STARTING",    "TASK_RUNNING",
                                       "TASK_KILLING", "TASK_UNREACHABLE", "",
                                       "FINISHEDX"};
    for (size_t i = 0; i < sizeof(terminal) / sizeof(terminal[0]); i++)
        assert_true(cr_cli_state_is_terminal(terminal[i]));
    for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
        assert_false(cr_cli_state_is_terminal(live[i]));
    assert_false(cr_cli_state_is_terminal(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_args_accepts_every_form),
        cmocka_unit_test(test_args_stop_at_positional),
        cmocka_unit_test(test_args_errors),
        cmocka_unit_test(test_args_help),
        cmocka_unit_test(test_usage_aligned),
        cmocka_unit_test(test_table_layout),
        cmocka_unit_test(test_table_empty_and_growth),
        cmocka_unit_test(test_json_accessors),
        cmocka_unit_test(test_fmt_num_and_age),
        cmocka_unit_test(test_ranges_parse_format),
        cmocka_unit_test(test_ranges_match_naive_reference),
        cmocka_unit_test(test_tail_start),
        cmocka_unit_test(test_find_task),
        cmocka_unit_test(test_agents),
        cmocka_unit_test(test_states),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
