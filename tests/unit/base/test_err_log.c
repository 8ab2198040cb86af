/*
 * test_err_log.c - error chains read as "outer: inner: strerror", survive NULL and
 * overlong text; log level names parse.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/log.h"

static int inner(struct cr_err *err)
{
    errno = EACCES;
    return cr_err_sys(err, -errno, "create sandbox '%s'", "/x");
}

static int outer(struct cr_err *err)
{
    int rc = inner(err);
    if (rc < 0)
        return cr_err_wrap(err, "launch task '%s'", "web.3");
    return 0;
}

static void test_chain(void **state)
{
    (void)state;
    struct cr_err err;
    cr_err_clear(&err);
    assert_string_equal(cr_err_msg(&err), "");
    assert_int_equal(outer(&err), -EACCES);
    assert_int_equal(err.code, -EACCES);
    assert_string_equal(err.msg, "launch task 'web.3': create sandbox '/x': Permission denied");
    /* Without an err there is no code to carry up: wrap reports -EIO (see err.h). */
    assert_int_equal(inner(NULL), -EACCES);
    assert_int_equal(outer(NULL), -EIO);
    assert_string_equal(cr_err_msg(NULL), "");

    /* Wrapping an empty error gives it a code and a message. */
    cr_err_clear(&err);
    assert_int_equal(cr_err_wrap(&err, "context"), -EIO);
    assert_string_equal(err.msg, "context");

    /* Too long: cut, still terminated, code kept. */
    char big[400];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(cr_err_set(&err, -EINVAL, "%s", big), -EINVAL);
    assert_int_equal(strlen(err.msg), CR_ERR_MSG_MAX - 1);
    assert_int_equal(cr_err_wrap(&err, "%s", big), -EINVAL);
    assert_int_equal(strlen(err.msg), CR_ERR_MSG_MAX - 1);
    cr_err_clear(NULL);
}

static void test_log_levels(void **state)
{
    (void)state;
    enum cr_log_level l;
    assert_int_equal(cr_log_level_parse("debug", &l), 0);
    assert_int_equal(l, CR_LOG_DEBUG);
    assert_int_equal(cr_log_level_parse("WARNING", &l), 0);
    assert_int_equal(l, CR_LOG_WARN);
    assert_int_equal(cr_log_level_parse("loud", &l), -EINVAL);
    cr_log_set_level(CR_LOG_ERROR);
    CR_INFO("not printed: below the level value=%d", 1);
    cr_log_set_level(CR_LOG_INFO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_log_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
