/*
 * test_task_state.c - the task state machine and the state/reason/source names
 * (src/core/task.c), checked against tables written out by hand from API-COMPAT.md §2.1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "core/task.h"

static void test_state_names_round_trip(void **state)
{
    (void)state;
    for (int i = 0; i < CR_TASK_STATE_COUNT; i++) {
        const char *name = cr_task_state_name((enum cr_task_state)i);
        assert_non_null(name);
        assert_true(strncmp(name, "TASK_", 5) == 0);
        enum cr_task_state back = CR_TASK_STAGING;
        assert_int_equal(cr_task_state_parse(name, &back), 0);
        assert_int_equal(back, i);
    }
    /* Values are Mesos' proto numbers. */
    assert_string_equal(cr_task_state_name(CR_TASK_STARTING), "TASK_STARTING");
    assert_string_equal(cr_task_state_name((enum cr_task_state)6), "TASK_STAGING");
    assert_string_equal(cr_task_state_name((enum cr_task_state)13), "TASK_UNKNOWN");
    assert_string_equal(cr_task_state_name((enum cr_task_state)99), "TASK_UNKNOWN");
    assert_string_equal(cr_task_state_name((enum cr_task_state) - 1), "TASK_UNKNOWN");
    enum cr_task_state s;
    assert_int_equal(cr_task_state_parse("RUNNING", &s), -EINVAL);
    assert_int_equal(cr_task_state_parse("task_running", &s), -EINVAL);
    assert_int_equal(cr_task_state_parse(NULL, &s), -EINVAL);
}

static void test_reason_names_round_trip(void **state)
{
    (void)state;
    for (int i = 0; i < CR_REASON_COUNT; i++) {
        const char *name = cr_task_reason_name((enum cr_task_reason)i);
        assert_non_null(name);
        assert_true(strncmp(name, "REASON_", 7) == 0);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(name, cr_task_reason_name((enum cr_task_reason)j));
        enum cr_task_reason back = CR_REASON_NONE;
        assert_int_equal(cr_task_reason_parse(name, &back), 0);
        assert_int_equal(back, i);
    }
    assert_string_equal(cr_task_reason_name(CR_REASON_INVALID_OFFERS), "REASON_INVALID_OFFERS");
    assert_string_equal(cr_task_reason_name(CR_REASON_TASK_GROUP_INVALID),
                        "REASON_TASK_GROUP_INVALID");
    assert_null(cr_task_reason_name(CR_REASON_NONE));
    assert_null(cr_task_reason_name(CR_REASON_COUNT));
    enum cr_task_reason r;
    assert_int_equal(cr_task_reason_parse("INVALID_OFFERS", &r), -EINVAL);
}

static void test_source_names(void **state)
{
    (void)state;
    assert_string_equal(cr_task_source_name(CR_SOURCE_MASTER), "SOURCE_MASTER");
    assert_string_equal(cr_task_source_name(CR_SOURCE_AGENT), "SOURCE_AGENT");
    assert_string_equal(cr_task_source_name(CR_SOURCE_EXECUTOR), "SOURCE_EXECUTOR");
    assert_null(cr_task_source_name(CR_SOURCE_NONE));
    enum cr_task_source s = CR_SOURCE_NONE;
    assert_int_equal(cr_task_source_parse("SOURCE_EXECUTOR", &s), 0);
    assert_int_equal(s, CR_SOURCE_EXECUTOR);
    assert_int_equal(cr_task_source_parse("SOURCE_SLAVE", &s), -EINVAL);
}

static void test_terminal_set(void **state)
{
    (void)state;
    const bool terminal[CR_TASK_STATE_COUNT] = {
        [CR_TASK_FINISHED] = true,         [CR_TASK_FAILED] = true,
        [CR_TASK_KILLED] = true,           [CR_TASK_ERROR] = true,
        [CR_TASK_DROPPED] = true,          [CR_TASK_GONE] = true,
        [CR_TASK_GONE_BY_OPERATOR] = true,
    };
    for (int i = 0; i < CR_TASK_STATE_COUNT; i++)
        assert_int_equal(cr_task_state_is_terminal((enum cr_task_state)i), terminal[i]);
}

/* The whole transition relation, written out: rows = from, columns = to. */
static void test_transition_table(void **state)
{
    (void)state;
    const enum cr_task_state S = CR_TASK_STAGING, ST = CR_TASK_STARTING, R = CR_TASK_RUNNING,
                             K = CR_TASK_KILLING;
    /* Columns in enum order: STARTING RUNNING FINISHED FAILED KILLED LOST STAGING ERROR
     * KILLING DROPPED UNREACHABLE GONE GONE_BY_OPERATOR UNKNOWN */
    static const char *const table[CR_TASK_STATE_COUNT] = {
        [CR_TASK_STARTING] = "11111101111111",         [CR_TASK_RUNNING] = "01111101111111",
        [CR_TASK_FINISHED] = "00100000000000",         [CR_TASK_FAILED] = "00010000000000",
        [CR_TASK_KILLED] = "00001000000000",           [CR_TASK_LOST] = "11111111111111",
        [CR_TASK_STAGING] = "11111111111111",          [CR_TASK_ERROR] = "00000001000000",
        [CR_TASK_KILLING] = "00111101111111",          [CR_TASK_DROPPED] = "00000000010000",
        [CR_TASK_UNREACHABLE] = "11111111111111",      [CR_TASK_GONE] = "00000000000100",
        [CR_TASK_GONE_BY_OPERATOR] = "00000000000010", [CR_TASK_UNKNOWN] = "11111111111111",
    };
    for (int from = 0; from < CR_TASK_STATE_COUNT; from++) {
        for (int to = 0; to < CR_TASK_STATE_COUNT; to++) {
            bool want = table[from][to] == '1';
            bool got = cr_task_transition_ok((enum cr_task_state)from, (enum cr_task_state)to);
            if (want != got)
                fail_msg("transition %s -> %s: want %d got %d",
                         cr_task_state_name((enum cr_task_state)from),
                         cr_task_state_name((enum cr_task_state)to), want, got);
        }
    }
    /* The happy path, spelled out. */
    assert_true(cr_task_transition_ok(S, ST));
    assert_true(cr_task_transition_ok(ST, R));
    assert_true(cr_task_transition_ok(R, K));
    assert_true(cr_task_transition_ok(K, CR_TASK_KILLED));
    assert_false(cr_task_transition_ok(R, S));
    assert_false(cr_task_transition_ok(K, R));
    assert_false(cr_task_transition_ok((enum cr_task_state) - 1, R));
    assert_false(cr_task_transition_ok(R, (enum cr_task_state)CR_TASK_STATE_COUNT));
}

static void test_state_for_framework(void **state)
{
    (void)state;
    for (int i = 0; i < CR_TASK_STATE_COUNT; i++) {
        enum cr_task_state s = (enum cr_task_state)i;
        assert_int_equal(cr_task_state_for_framework(s, true), s);
        bool lost = s == CR_TASK_DROPPED || s == CR_TASK_UNREACHABLE || s == CR_TASK_GONE ||
                    s == CR_TASK_GONE_BY_OPERATOR || s == CR_TASK_UNKNOWN || s == CR_TASK_LOST;
        assert_int_equal(cr_task_state_for_framework(s, false), lost ? CR_TASK_LOST : s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_names_round_trip),
        cmocka_unit_test(test_reason_names_round_trip),
        cmocka_unit_test(test_source_names),
        cmocka_unit_test(test_terminal_set),
        cmocka_unit_test(test_transition_table),
        cmocka_unit_test(test_state_for_framework),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
