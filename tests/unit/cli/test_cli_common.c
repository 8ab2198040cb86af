/*
 * test_cli_common.c - the verbs' shared shell in src/cli/cli_common.c: argument checks
 * (--help, positional arguments, flag errors, the task id handed out) and fetching the
 * master's state when no master answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/cli_common.h"
#include "cli/cli_util.h"

static int usage_calls;

static void usage(FILE *out, const struct cr_cli_opt *opts)
{
    (void)out;
    (void)opts;
    usage_calls++;
}

struct verb_case {
    const char *words[4]; /* after the verb; NULL-terminated */
    bool wants_task_id;   /* a verb taking one task id (kill, logs), else none (agents) */
    bool goes_on;
    int exit_code;       /* when !goes_on */
    const char *task_id; /* when goes_on and wants_task_id */
    bool prints_usage;
};

static void test_parse_verb_args(void **state)
{
    (void)state;
    static const struct verb_case cases[] = {
        {{NULL}, false, true, 0, NULL, false},
        {{"--json", NULL}, false, true, 0, NULL, false},
        {{"--help", NULL}, false, false, CR_CLI_EXIT_OK, NULL, true},
        {{"-h", "extra", NULL}, true, false, CR_CLI_EXIT_OK, NULL, true},
        {{"extra", NULL}, false, false, CR_CLI_EXIT_USAGE, NULL, false},
        {{"--bogus", NULL}, false, false, CR_CLI_EXIT_USAGE, NULL, false},
        {{"t1", NULL}, true, true, 0, "t1", false},
        {{"--json", "t2", NULL}, true, true, 0, "t2", false},
        {{NULL}, true, false, CR_CLI_EXIT_USAGE, NULL, false},
        {{"t1", "t2", NULL}, true, false, CR_CLI_EXIT_USAGE, NULL, false},
        {{"--bogus", "t1", NULL}, true, false, CR_CLI_EXIT_USAGE, NULL, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct verb_case *c = &cases[i];
        bool is_json = false;
        struct cr_cli_opt opts[] = {
            {"json", 0, CR_CLI_OPT_BOOL, &is_json, NULL, "json", 0, 0},
            CR_CLI_OPT_END,
        };
        char *argv[6] = {"verb"};
        int argc = 1;
        for (size_t w = 0; c->words[w]; w++)
            argv[argc++] = (char *)c->words[w];
        char *task_id = NULL;
        int code = -1;
        usage_calls = 0;
        bool goes_on = cr_cli_parse_verb_args("verb", usage, opts, argc, argv,
                                              c->wants_task_id ? &task_id : NULL, &code);
        if (goes_on != c->goes_on)
            print_error("case %zu\n", i);
        assert_int_equal(goes_on, c->goes_on);
        assert_int_equal(usage_calls, c->prints_usage ? 1 : 0);
        if (goes_on) {
            assert_int_equal(code, -1); /* left alone */
            if (c->task_id)
                assert_string_equal(task_id, c->task_id);
            else
                assert_null(task_id);
        } else {
            assert_int_equal(code, c->exit_code);
            assert_null(task_id);
        }
        free(task_id);
    }
}

static void test_fetch_master_state_unreachable(void **state)
{
    (void)state;
    /* Port 1 on loopback refuses at once: the failure is reported, not returned. */
    assert_null(cr_cli_fetch_master_state("verb", "127.0.0.1:1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_verb_args),
        cmocka_unit_test(test_fetch_master_state_unreachable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
