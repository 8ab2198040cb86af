/*
 * test_helpers.h - small helpers shared by the api unit tests.
 *
 * JSON in the tests is written with single quotes ('{'type':'HEARTBEAT'}') to keep the
 * C literals readable; load() and expect_json() turn them into double quotes. Expected
 * outputs are compared byte for byte with cr_json_dump(), which is also checked to be
 * single-line ASCII every time.
 */
#ifndef CR_TEST_API_HELPERS_H
#define CR_TEST_API_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/mesos.h"

/* Copy of s with every ' turned into ". Owned. */
static inline char *dq(const char *s)
{
    char *out = strdup(s);
    assert_non_null(out);
    for (char *p = out; *p; p++)
        if (*p == '\'')
            *p = '"';
    return out;
}

/* Parse single-quoted JSON; fails the test on a syntax error. New reference. */
static inline json_t *load(const char *sq)
{
    char *text = dq(sq);
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    if (!j)
        fail_msg("bad test JSON (%s): %s", e.text, text);
    free(text);
    return j;
}

/* The dump is one ASCII line. */
static inline void assert_wire_safe(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n' || *p == '\r' || *p >= 0x80)
            fail_msg("not single-line ASCII at offset %td: %s", (const char *)p - s, s);
    }
}

/* Dump j (reference stolen), compare with the expectation given verbatim (for outputs
 * holding a single quote). */
static inline void expect_json_raw(json_t *j, const char *want)
{
    assert_non_null(j);
    char *got = cr_json_dump(j);
    assert_wire_safe(got);
    if (strcmp(got, want) != 0)
        fail_msg("JSON differs\n got: %s\nwant: %s", got, want);
    free(got);
    json_decref(j);
}

/* Same, with a single-quoted expectation. */
static inline void expect_json(json_t *j, const char *want_sq)
{
    char *want = dq(want_sq);
    expect_json_raw(j, want);
    free(want);
}

static inline void expect_err(int rc, const struct cr_err *err, const char *want)
{
    if (rc != -EINVAL)
        fail_msg("want -EINVAL (%s), got %d", want, rc);
    if (strcmp(err->msg, want) != 0)
        fail_msg("error differs\n got: %s\nwant: %s", err->msg, want);
}

#endif
