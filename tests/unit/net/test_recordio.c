/*
 * test_recordio.c - RecordIO framing: encoding, decoding across every split point and
 * seeded-random splits (checked against the list of records that were encoded), and
 * rejection of malformed length lines.
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

#include "base/util.h"
#include "net/recordio.h"

struct collected {
    char **recs;
    size_t *lens;
    size_t n;
    int stop_at; /* return 7 from the callback for record number stop_at (1-based) */
};

static int collect(const char *rec, size_t len, void *ud)
{
    struct collected *c = ud;
    c->recs = cr_xrealloc(c->recs, (c->n + 1) * sizeof(char *));
    c->lens = cr_xrealloc(c->lens, (c->n + 1) * sizeof(size_t));
    c->recs[c->n] = cr_xmalloc(len ? len : 1);
    memcpy(c->recs[c->n], rec, len);
    c->lens[c->n] = len;
    c->n++;
    return c->stop_at && (int)c->n == c->stop_at ? 7 : 0;
}

static void collected_release(struct collected *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->recs[i]);
    free(c->recs);
    free(c->lens);
    memset(c, 0, sizeof(*c));
}

static void test_encode(void **state)
{
    (void)state;
    size_t len;
    char *out = cr_recordio_encode("hello", 5, &len);
    assert_int_equal(len, 7);
    assert_memory_equal(out, "5\nhello", 7);
    free(out);
    char big[1234];
    memset(big, '\n', sizeof(big));
    out = cr_recordio_encode(big, sizeof(big), &len);
    assert_int_equal(len, 5 + sizeof(big));
    assert_memory_equal(out, "1234\n", 5);
    free(out);
}

static void test_every_split_point(void **state)
{
    (void)state;
    /* Payloads with newlines and digits, which a sloppy parser would trip on. */
    const char *payloads[] = {"{\"type\":\"HEARTBEAT\"}", "1\n2\n3", "x", "0123456789\n\n"};
    struct cr_buf stream;
    cr_buf_init(&stream);
    for (size_t i = 0; i < 4; i++) {
        size_t len;
        char *rec = cr_recordio_encode(payloads[i], strlen(payloads[i]), &len);
        cr_buf_append(&stream, rec, len);
        free(rec);
    }
    for (size_t a = 0; a <= stream.len; a++) {
        for (size_t b = a; b <= stream.len; b++) {
            struct cr_recordio_reader r;
            cr_recordio_reader_init(&r, 0);
            struct collected c = {0};
            struct cr_err err;
            assert_int_equal(cr_recordio_feed(&r, stream.data, a, collect, &c, &err), 0);
            assert_int_equal(cr_recordio_feed(&r, stream.data + a, b - a, collect, &c, &err), 0);
            assert_int_equal(
                cr_recordio_feed(&r, stream.data + b, stream.len - b, collect, &c, &err), 0);
            assert_int_equal(c.n, 4);
            for (size_t i = 0; i < 4; i++) {
                assert_int_equal(c.lens[i], strlen(payloads[i]));
                assert_memory_equal(c.recs[i], payloads[i], c.lens[i]);
            }
            assert_int_equal(r.len, 0); /* nothing left over */
            collected_release(&c);
            cr_recordio_reader_release(&r);
        }
    }
    cr_buf_release(&stream);
}

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64*: reproducible from the seed printed on failure. */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static void test_random_splits(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        uint64_t s = seed * 0x9E3779B97F4A7C15ULL;
        size_t n = 1 + rng_next(&s) % 60;
        struct collected want = {0};
        struct cr_buf stream;
        cr_buf_init(&stream);
        for (size_t i = 0; i < n; i++) {
            /* Mostly small, sometimes large records. */
            size_t len = 1 + (rng_next(&s) % 8 == 0 ? rng_next(&s) % 70000 : rng_next(&s) % 200);
            char *p = cr_xmalloc(len);
            for (size_t j = 0; j < len; j++)
                p[j] = (char)rng_next(&s);
            collect(p, len, &want);
            size_t elen;
            char *rec = cr_recordio_encode(p, len, &elen);
            cr_buf_append(&stream, rec, elen);
            free(rec);
            free(p);
        }
        struct cr_recordio_reader r;
        cr_recordio_reader_init(&r, 0);
        struct collected got = {0};
        struct cr_err err;
        for (size_t off = 0; off < stream.len;) {
            size_t step = 1 + rng_next(&s) % (rng_next(&s) % 2 ? 7 : 9000);
            if (step > stream.len - off)
                step = stream.len - off;
            assert_int_equal(cr_recordio_feed(&r, stream.data + off, step, collect, &got, &err), 0);
            off += step;
        }
        if (got.n != want.n)
            fail_msg("seed %llu: %zu records, want %zu", (unsigned long long)seed, got.n, want.n);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(got.lens[i], want.lens[i]);
            assert_memory_equal(got.recs[i], want.recs[i], want.lens[i]);
        }
        collected_release(&got);
        collected_release(&want);
        cr_recordio_reader_release(&r);
        cr_buf_release(&stream);
    }
}

static void expect_error(const char *data, size_t max_record, const char *fragment)
{
    struct cr_recordio_reader r;
    cr_recordio_reader_init(&r, max_record);
    struct collected c = {0};
    struct cr_err err;
    cr_err_clear(&err);
    /* Fed byte by byte: the error must be found without waiting for more. */
    int rc = 0;
    for (size_t i = 0; data[i] && rc == 0; i++)
        rc = cr_recordio_feed(&r, data + i, 1, collect, &c, &err);
    assert_int_equal(rc, -EPROTO);
    assert_int_equal(err.code, -EPROTO);
    if (!strstr(err.msg, fragment))
        fail_msg("error '%s' does not mention '%s'", err.msg, fragment);
    assert_int_equal(c.n, 0);
    collected_release(&c);
    cr_recordio_reader_release(&r);

    /* And fed whole. */
    cr_recordio_reader_init(&r, max_record);
    assert_int_equal(cr_recordio_feed(&r, data, strlen(data), collect, &c, &err), -EPROTO);
    collected_release(&c);
    cr_recordio_reader_release(&r);
}

static void test_bad_length_lines(void **state)
{
    (void)state;
    expect_error("abc\nxyz", 0, "not a digit");
    expect_error("12a\n", 0, "not a digit");
    expect_error("-5\nhello", 0, "not a digit");
    expect_error(" 5\nhello", 0, "not a digit");
    expect_error("5\r\nhello", 0, "not a digit");
    expect_error("\nhello", 0, "empty length line");
    expect_error("0\n", 0, "zero-length");
    expect_error("000\n", 0, "zero-length");
    expect_error("123456789012345678901234567890\n", 0, "exceeds the limit");
    expect_error("123456789012345678901234567890\n", SIZE_MAX, "digits");
    expect_error("11\nhello world", 10, "exceeds the limit");
    /* Known to be too big before the newline arrives. */
    expect_error("99999", 10, "exceeds the limit");
    /* A good record, then garbage: the good one is delivered first. */
    struct cr_recordio_reader r;
    cr_recordio_reader_init(&r, 0);
    struct collected c = {0};
    struct cr_err err;
    assert_int_equal(cr_recordio_feed(&r, "2\nokX\n", 6, collect, &c, &err), -EPROTO);
    assert_int_equal(c.n, 1);
    collected_release(&c);
    cr_recordio_reader_release(&r);
}

static void test_callback_stops(void **state)
{
    (void)state;
    struct cr_recordio_reader r;
    cr_recordio_reader_init(&r, 0);
    struct collected c = {.stop_at = 2};
    struct cr_err err;
    const char *data = "1\na1\nb1\nc";
    assert_int_equal(cr_recordio_feed(&r, data, strlen(data), collect, &c, &err), 7);
    assert_int_equal(c.n, 2);
    collected_release(&c);
    /* Also when the stopping record was buffered across feeds. */
    c.stop_at = 1;
    assert_int_equal(cr_recordio_feed(&r, "3\nab", 4, collect, &c, &err), 0);
    assert_int_equal(cr_recordio_feed(&r, "c1\nd", 4, collect, &c, &err), 7);
    assert_int_equal(c.n, 1);
    assert_memory_equal(c.recs[0], "abc", 3);
    collected_release(&c);
    cr_recordio_reader_release(&r);
    cr_recordio_reader_release(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),         cmocka_unit_test(test_every_split_point),
        cmocka_unit_test(test_random_splits),  cmocka_unit_test(test_bad_length_lines),
        cmocka_unit_test(test_callback_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
