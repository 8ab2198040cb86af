/*
 * test_state_codec.c - unit tests of the registry's in-memory tables and on-disk formats
 * (src/state/state_store.c, state_codec.c), without raft.
 *
 * The store is checked against a naive reference (a sorted array) under seeded random
 * operations; the log-entry and snapshot decoders are fed every truncation and every
 * single-byte corruption of valid input and must reject each one without crashing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <raft.h>

#include "state/state_internal.h"

/* ---- store vs. a naive reference ------------------------------------------------------ */

#define REF_MAX 512

struct ref_rec {
    char key[16];
    char value[32];
    bool live;
};

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

struct collect {
    const char *keys[REF_MAX];
    size_t n;
    int stop_after;
};

static int collect_rec(const struct cr_state__rec *rec, void *ud)
{
    struct collect *c = ud;
    assert_true(c->n < REF_MAX);
    assert_int_equal(rec->value[rec->len], '\0');
    c->keys[c->n++] = rec->key;
    return c->stop_after && (int)c->n == c->stop_after ? 42 : 0;
}

static void test_store_matches_reference(void **state)
{
    (void)state;
    struct cr_state__store s;
    cr_state__store_init(&s);
    static struct ref_rec ref[REF_MAX];
    memset(ref, 0, sizeof(ref));
    srand(1234);

    for (int step = 0; step < 20000; step++) {
        int i = rand() % 300;
        snprintf(ref[i].key, sizeof(ref[i].key), "k%03d", i);
        if (rand() % 3) {
            snprintf(ref[i].value, sizeof(ref[i].value), "v%d", step);
            ref[i].live = true;
            cr_state__store_put(&s, "apps", ref[i].key, ref[i].value, strlen(ref[i].value));
        } else {
            ref[i].live = false;
            cr_state__store_delete(&s, "apps", ref[i].key);
        }
    }

    const char *expect[REF_MAX];
    size_t n = 0;
    uint64_t bytes = 0;
    for (int i = 0; i < 300; i++) {
        if (!ref[i].live)
            continue;
        expect[n++] = ref[i].key;
        bytes += strlen(ref[i].key) + strlen(ref[i].value);
        const struct cr_state__rec *rec = cr_state__store_get(&s, "apps", ref[i].key);
        assert_non_null(rec);
        assert_string_equal(rec->value, ref[i].value);
        assert_int_equal(rec->len, strlen(ref[i].value));
    }
    qsort(expect, n, sizeof(expect[0]), cmp_keys);

    const struct cr_state__table *t = cr_state__store_table(&s, "apps");
    assert_non_null(t);
    assert_int_equal(t->count, n);
    assert_int_equal(t->bytes, bytes);

    struct collect c = {.n = 0};
    assert_int_equal(cr_state__table_foreach(t, collect_rec, &c), 0);
    assert_int_equal(c.n, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(c.keys[i], expect[i]);

    /* Early stop returns the callback's value. */
    struct collect c2 = {.n = 0, .stop_after = 3};
    assert_int_equal(cr_state__table_foreach(t, collect_rec, &c2), 42);
    assert_int_equal(c2.n, 3);

    assert_null(cr_state__store_get(&s, "nope", "k001"));
    cr_state__store_delete(&s, "nope", "k001"); /* unknown table: no-op */
    cr_state__store_release(&s);
}

/* ---- names ---------------------------------------------------------------------------- */

static void test_check_names(void **state)
{
    (void)state;
    struct cr_err err;
    assert_int_equal(cr_state__check_names("agents", "S1", &err), 0);
    assert_int_equal(cr_state__check_names("a.b-c_D9", "/x y/ü", &err), 0);
    assert_int_equal(cr_state__check_names("", "k", &err), -EINVAL);
    assert_int_equal(cr_state__check_names("bad name", "k", &err), -EINVAL);
    assert_non_null(strstr(err.msg, "invalid table name 'bad name'"));
    assert_int_equal(cr_state__check_names(NULL, "k", &err), -EINVAL);
    assert_int_equal(cr_state__check_names("t", "", &err), -EINVAL);
    assert_int_equal(cr_state__check_names("t", NULL, &err), -EINVAL);
    char long_table[CR_STATE_TABLE_MAX + 2];
    memset(long_table, 'a', sizeof(long_table) - 1);
    long_table[sizeof(long_table) - 1] = '\0';
    assert_int_equal(cr_state__check_names(long_table, "k", &err), -EINVAL);
    long_table[CR_STATE_TABLE_MAX] = '\0';
    assert_int_equal(cr_state__check_names(long_table, "k", &err), 0);
    char *long_key = malloc(CR_STATE_KEY_MAX + 2);
    memset(long_key, 'k', CR_STATE_KEY_MAX + 1);
    long_key[CR_STATE_KEY_MAX + 1] = '\0';
    assert_int_equal(cr_state__check_names("t", long_key, &err), -EINVAL);
    long_key[CR_STATE_KEY_MAX] = '\0';
    assert_int_equal(cr_state__check_names("t", long_key, &err), 0);
    free(long_key);
}

/* ---- log entries ---------------------------------------------------------------------- */

static const struct cr_state_op sample_ops[] = {
    {.kind = CR_STATE_PUT, .table = "agents", .key = "S1", .value = "{\"a\":1}", .len = 7},
    {.kind = CR_STATE_PUT, .table = "frameworks", .key = "F1", .value = NULL, .len = 0},
    {.kind = CR_STATE_DELETE, .table = "agents", .key = "S0"},
    {.kind = CR_STATE_PUT, .table = "apps", .key = "/web", .value = "bin\0ary", .len = 7},
};
#define N_SAMPLE (sizeof(sample_ops) / sizeof(sample_ops[0]))

static void build_sample(struct cr_state__enc *e)
{
    struct cr_err err;
    size_t size;
    memset(e, 0, sizeof(*e));
    assert_int_equal(cr_state__ops_size(sample_ops, N_SAMPLE, &size, &err), 0);
    cr_state__entry_begin(e);
    cr_state__entry_add(e, sample_ops, N_SAMPLE);
    cr_state__entry_finish(e, N_SAMPLE);
    /* Padded to a multiple of 8, as libraft's log needs. */
    assert_int_equal(e->len, (CR_STATE__ENTRY_HEADER + size + 7) / 8 * 8);
}

static void test_entry_roundtrip(void **state)
{
    (void)state;
    struct cr_state__enc e;
    build_sample(&e);
    struct cr_err err;
    uint32_t n;
    assert_int_equal(cr_state__entry_check(e.data, e.len, &n, &err), 0);
    assert_int_equal(n, N_SAMPLE);
    size_t off = CR_STATE__ENTRY_HEADER;
    for (uint32_t i = 0; i < n; i++) {
        struct cr_state__op_view op;
        cr_state__entry_op(e.data, &off, &op);
        assert_int_equal(op.kind, sample_ops[i].kind);
        assert_string_equal(op.table, sample_ops[i].table);
        assert_string_equal(op.key, sample_ops[i].key);
        size_t len = sample_ops[i].kind == CR_STATE_PUT ? sample_ops[i].len : 0;
        assert_int_equal(op.len, len);
        if (len)
            assert_memory_equal(op.value, sample_ops[i].value, len);
    }
    /* Then only the zero padding. */
    assert_true(off <= e.len && e.len - off < 8);

    /* Every payload size pads to a multiple of 8 and round-trips. */
    for (size_t vlen = 0; vlen < 24; vlen++) {
        struct cr_state_op op = {.kind = CR_STATE_PUT,
                                 .table = "t",
                                 .key = "k",
                                 .value = "0123456789abcdefghijklmn",
                                 .len = vlen};
        struct cr_state__enc p = {0};
        cr_state__entry_begin(&p);
        cr_state__entry_add(&p, &op, 1);
        cr_state__entry_finish(&p, 1);
        assert_int_equal(p.len % 8, 0);
        assert_int_equal(cr_state__entry_check(p.data, p.len, &n, &err), 0);
        size_t poff = CR_STATE__ENTRY_HEADER;
        struct cr_state__op_view v;
        cr_state__entry_op(p.data, &poff, &v);
        assert_int_equal(v.len, vlen);
        assert_memory_equal(v.value, op.value, vlen);
        /* Padding must be zero. */
        if (poff < p.len) {
            p.data[p.len - 1] = 1;
            uint32_t crc = cr_state__crc32c(0, p.data + CR_STATE__ENTRY_HEADER,
                                            p.len - CR_STATE__ENTRY_HEADER);
            for (int i = 0; i < 4; i++)
                p.data[12 + i] = (uint8_t)(crc >> (8 * i));
            assert_int_equal(cr_state__entry_check(p.data, p.len, &n, &err), -EBADMSG);
            assert_string_equal(err.msg, "non-zero padding after 1 ops");
        }
        cr_state__enc_release(&p);
    }

    /* An empty write is a valid entry. */
    struct cr_state__enc empty = {0};
    cr_state__entry_begin(&empty);
    cr_state__entry_finish(&empty, 0);
    assert_int_equal(cr_state__entry_check(empty.data, empty.len, &n, &err), 0);
    assert_int_equal(n, 0);
    cr_state__enc_release(&empty);
    cr_state__enc_release(&e);
}

static void test_entry_rejects_corruption(void **state)
{
    (void)state;
    struct cr_state__enc e;
    build_sample(&e);
    struct cr_err err;
    uint32_t n;

    /* Every truncation. */
    for (size_t len = 0; len < e.len; len++) {
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, e.data, len);
        assert_int_equal(cr_state__entry_check(copy, len, &n, &err), -EBADMSG);
        free(copy);
    }
    /* Every single-byte corruption, several patterns. */
    const uint8_t xors[] = {0x01, 0x80, 0xff};
    for (size_t i = 0; i < e.len; i++) {
        for (size_t x = 0; x < sizeof(xors); x++) {
            uint8_t *copy = malloc(e.len);
            memcpy(copy, e.data, e.len);
            copy[i] ^= xors[x];
            assert_int_equal(cr_state__entry_check(copy, e.len, &n, &err), -EBADMSG);
            free(copy);
        }
    }
    /* Seeded random garbage never crashes (and essentially never passes the checksum). */
    srand(99);
    for (int round = 0; round < 2000; round++) {
        size_t len = (size_t)(rand() % 200);
        uint8_t *junk = malloc(len ? len : 1);
        for (size_t i = 0; i < len; i++)
            junk[i] = (uint8_t)rand();
        if (len >= 4 && rand() % 2)
            memcpy(junk, CR_STATE__ENTRY_MAGIC, 4);
        if (len >= 8 && rand() % 2) {
            junk[4] = 1;
            junk[5] = 0;
            junk[6] = junk[7] = 0;
        }
        assert_int_equal(cr_state__entry_check(junk, len, &n, &err), -EBADMSG);
        free(junk);
    }
    cr_state__enc_release(&e);
}

/* Recompute the checksum after editing a field, to reach the checks behind it. */
static void reseal(struct cr_state__enc *e)
{
    uint32_t crc =
        cr_state__crc32c(0, e->data + CR_STATE__ENTRY_HEADER, e->len - CR_STATE__ENTRY_HEADER);
    for (int i = 0; i < 4; i++)
        e->data[12 + i] = (uint8_t)(crc >> (8 * i));
}

static void test_entry_messages(void **state)
{
    (void)state;
    struct cr_state__enc e;
    struct cr_err err;
    uint32_t n;

    build_sample(&e);
    e.data[4] = 99; /* version 99 */
    assert_int_equal(cr_state__entry_check(e.data, e.len, &n, &err), -EBADMSG);
    assert_string_equal(err.msg, "unsupported entry format version 99 (this build reads 1)");
    cr_state__enc_release(&e);

    build_sample(&e);
    e.data[0] = 'X';
    assert_int_equal(cr_state__entry_check(e.data, e.len, &n, &err), -EBADMSG);
    assert_non_null(strstr(err.msg, "bad magic"));
    cr_state__enc_release(&e);

    build_sample(&e);
    e.data[CR_STATE__ENTRY_HEADER] = 7; /* op 0: kind 7 */
    reseal(&e);
    assert_int_equal(cr_state__entry_check(e.data, e.len, &n, &err), -EBADMSG);
    assert_string_equal(err.msg, "op 0: unknown operation kind 7");
    cr_state__enc_release(&e);

    build_sample(&e);
    e.data[8] = 200; /* claims 200 ops */
    assert_int_equal(cr_state__entry_check(e.data, e.len, &n, &err), -EBADMSG);
    assert_string_equal(err.msg, "op 4: truncated header");
    cr_state__enc_release(&e);

    build_sample(&e);
    e.data[CR_STATE__ENTRY_HEADER + CR_STATE__OP_HEADER] = ' '; /* table name "agents" */
    reseal(&e);
    assert_int_equal(cr_state__entry_check(e.data, e.len, &n, &err), -EBADMSG);
    assert_string_equal(err.msg, "op 0: bad table name");
    cr_state__enc_release(&e);
}

static void test_ops_validation(void **state)
{
    (void)state;
    struct cr_err err;
    size_t size;
    struct cr_state_op bad_kind = {.kind = 9, .table = "t", .key = "k"};
    assert_int_equal(cr_state__ops_size(&bad_kind, 1, &size, &err), -EINVAL);
    assert_string_equal(err.msg, "op 0: unknown operation kind 9");

    struct cr_state_op ops[2] = {
        {.kind = CR_STATE_PUT, .table = "t", .key = "k", .value = "v", .len = 1},
        {.kind = CR_STATE_PUT, .table = "t t", .key = "k", .value = "v", .len = 1},
    };
    assert_int_equal(cr_state__ops_size(ops, 2, &size, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "op 1: invalid table name"));

    struct cr_state_op null_value = {.kind = CR_STATE_PUT, .table = "t", .key = "k", .len = 3};
    assert_int_equal(cr_state__ops_size(&null_value, 1, &size, &err), -EINVAL);

    struct cr_state_op big = {.kind = CR_STATE_PUT,
                              .table = "t",
                              .key = "k",
                              .value = "x",
                              .len = (size_t)CR_STATE_WRITE_MAX + 1};
    assert_int_equal(cr_state__ops_size(&big, 1, &size, &err), -EMSGSIZE);

    /* Many ops that together pass the limit. */
    static char chunk[1024 * 1024];
    struct cr_state_op many[5];
    for (int i = 0; i < 5; i++)
        many[i] = (struct cr_state_op){
            .kind = CR_STATE_PUT, .table = "t", .key = "k", .value = chunk, .len = sizeof(chunk)};
    assert_int_equal(cr_state__ops_size(many, 3, &size, &err), 0);
    assert_int_equal(cr_state__ops_size(many, 5, &size, &err), -EMSGSIZE);
    assert_non_null(strstr(err.msg, "write of 5 operations exceeds"));
}

static void test_crc32c_known_vector(void **state)
{
    (void)state;
    /* The standard check value of CRC-32C. */
    assert_int_equal(cr_state__crc32c(0, "123456789", 9), 0xe3069283);
    /* Incremental use equals one pass. */
    uint32_t c = cr_state__crc32c(0, "1234", 4);
    assert_int_equal(cr_state__crc32c(c, "56789", 5), 0xe3069283);
}

/* ---- snapshots ------------------------------------------------------------------------ */

static void fill_store(struct cr_state__store *s)
{
    char key[32], value[64];
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "agent-%03d", (i * 7) % 200);
        snprintf(value, sizeof(value), "{\"id\":%d}", i);
        cr_state__store_put(s, "agents", key, value, strlen(value));
    }
    cr_state__store_put(s, "frameworks", "F1", "", 0);
    cr_state__store_put(s, "bin", "blob", "a\0b\0c", 5);
    cr_state__store_put(s, "emptied", "gone", "x", 1);
    cr_state__store_delete(s, "emptied", "gone");
}

struct pair_walk {
    const struct cr_state__store *other;
    const char *table;
    size_t n;
};

static int compare_rec(const struct cr_state__rec *rec, void *ud)
{
    struct pair_walk *w = ud;
    const struct cr_state__rec *o = cr_state__store_get(w->other, w->table, rec->key);
    assert_non_null(o);
    assert_int_equal(o->len, rec->len);
    assert_memory_equal(o->value, rec->value, rec->len);
    w->n++;
    return 0;
}

static void assert_stores_equal(const struct cr_state__store *a, const struct cr_state__store *b)
{
    for (size_t i = 0; i < a->n; i++) {
        const struct cr_state__table *ta = &a->tables[i];
        const struct cr_state__table *tb = cr_state__store_table(b, ta->name);
        if (ta->count == 0) {
            assert_true(!tb || tb->count == 0);
            continue;
        }
        assert_non_null(tb);
        assert_int_equal(ta->count, tb->count);
        assert_int_equal(ta->bytes, tb->bytes);
        struct pair_walk w = {.other = b, .table = ta->name};
        cr_state__table_foreach(ta, compare_rec, &w);
        assert_int_equal(w.n, ta->count);
    }
}

static void test_snapshot_roundtrip(void **state)
{
    (void)state;
    struct cr_state__store s, back;
    cr_state__store_init(&s);
    cr_state__store_init(&back);
    fill_store(&s);
    void *data;
    size_t len;
    cr_state__snapshot_encode(&s, &data, &len);
    struct cr_err err;
    assert_int_equal(cr_state__snapshot_decode(data, len, &back, &err), 0);
    assert_stores_equal(&s, &back);
    assert_stores_equal(&back, &s);
    assert_null(cr_state__store_table(&back, "emptied")); /* empty tables are not written */
    raft_free(data);
    cr_state__store_release(&back);

    /* An empty store round-trips too. */
    struct cr_state__store none;
    cr_state__store_init(&none);
    cr_state__snapshot_encode(&none, &data, &len);
    assert_int_equal(len, CR_STATE__SNAPSHOT_HEADER);
    assert_int_equal(cr_state__snapshot_decode(data, len, &back, &err), 0);
    assert_int_equal(back.n, 0);
    raft_free(data);
    cr_state__store_release(&back);
    cr_state__store_release(&s);
}

static void test_snapshot_rejects_corruption(void **state)
{
    (void)state;
    struct cr_state__store s;
    cr_state__store_init(&s);
    fill_store(&s);
    void *data;
    size_t len;
    cr_state__snapshot_encode(&s, &data, &len);
    struct cr_err err;

    for (size_t cut = 0; cut < len; cut += (cut < 64 ? 1 : 97)) {
        struct cr_state__store out;
        cr_state__store_init(&out);
        assert_int_equal(cr_state__snapshot_decode(data, cut, &out, &err), -EBADMSG);
        cr_state__store_release(&out);
    }
    uint8_t *copy = malloc(len);
    for (size_t i = 0; i < len; i++) {
        memcpy(copy, data, len);
        copy[i] ^= 0x5a;
        struct cr_state__store out;
        cr_state__store_init(&out);
        assert_int_equal(cr_state__snapshot_decode(copy, len, &out, &err), -EBADMSG);
        cr_state__store_release(&out);
    }
    memcpy(copy, data, len);
    copy[4] = 3;
    struct cr_state__store out;
    cr_state__store_init(&out);
    assert_int_equal(cr_state__snapshot_decode(copy, len, &out, &err), -EBADMSG);
    assert_string_equal(err.msg, "unsupported snapshot format version 3 (this build reads 1)");
    cr_state__store_release(&out);
    free(copy);
    raft_free(data);
    cr_state__store_release(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_matches_reference),
        cmocka_unit_test(test_check_names),
        cmocka_unit_test(test_entry_roundtrip),
        cmocka_unit_test(test_entry_rejects_corruption),
        cmocka_unit_test(test_entry_messages),
        cmocka_unit_test(test_ops_validation),
        cmocka_unit_test(test_crc32c_known_vector),
        cmocka_unit_test(test_snapshot_roundtrip),
        cmocka_unit_test(test_snapshot_rejects_corruption),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
