/*
 * state_codec.c - the registry's two on-disk formats: log entries and snapshots.
 *
 * Both are length-prefixed little-endian binary with a magic, a format version and a
 * CRC-32C over the payload (layouts in state_internal.h). libraft already checksums its
 * segments; ours also catches bugs and anything that bypassed libraft's framing, and the
 * version lets a newer master add op kinds while an older one refuses them loudly instead
 * of misreading them.
 *
 * Decoders never trust the input: every length is checked against the remaining bytes
 * before it is used, strings must be NUL-terminated where the format says and contain no
 * other NUL, names are re-validated. Errors are -EBADMSG with a message; nothing asserts on
 * input.
 */
#include "state/state_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <raft.h>

/* CRC-32C, reflected polynomial 0x82F63B78, one table lookup per byte. */
static const uint32_t crc32c_table[256] = {
    0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c, 0x26a1e7e8, 0xd4ca64eb,
    0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b, 0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24,
    0x105ec76f, 0xe235446c, 0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
    0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc, 0xbc267848, 0x4e4dfb4b,
    0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a, 0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35,
    0xaa64d611, 0x580f5512, 0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
    0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad, 0x1642ae59, 0xe4292d5a,
    0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a, 0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595,
    0x417b1dbc, 0xb3109ebf, 0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
    0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f, 0xed03a29b, 0x1f682198,
    0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927, 0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38,
    0xdbfc821c, 0x2997011f, 0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
    0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e, 0x4767748a, 0xb50cf789,
    0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859, 0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46,
    0x7198540d, 0x83f3d70e, 0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
    0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de, 0xdde0eb2a, 0x2f8b6829,
    0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c, 0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93,
    0x082f63b7, 0xfa44e0b4, 0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
    0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b, 0xb4091bff, 0x466298fc,
    0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c, 0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033,
    0xa24bb5a6, 0x502036a5, 0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
    0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975, 0x0e330a81, 0xfc588982,
    0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d, 0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622,
    0x38cc2a06, 0xcaa7a905, 0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
    0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8, 0xe52cc12c, 0x1747422f,
    0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff, 0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0,
    0xd3d3e1ab, 0x21b862a8, 0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
    0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78, 0x7fab5e8c, 0x8dc0dd8f,
    0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee, 0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1,
    0x69e9f0d5, 0x9b8273d6, 0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
    0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69, 0xd5cf889d, 0x27a40b9e,
    0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e, 0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};

uint32_t cr_state__crc32c(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    crc = ~crc;
    while (len--)
        crc = crc32c_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* ---- little-endian helpers ------------------------------------------------------------ */

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* ---- names ---------------------------------------------------------------------------- */

static bool table_name_ok(const char *name, size_t len)
{
    if (len == 0 || len > CR_STATE_TABLE_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

int cr_state__check_names(const char *table, const char *key, struct cr_err *err)
{
    if (!table || !table_name_ok(table, strnlen(table, CR_STATE_TABLE_MAX + 1)))
        return cr_err_set(err, -EINVAL, "invalid table name '%.80s' (1-%d of [A-Za-z0-9_.-])",
                          table ? table : "(null)", CR_STATE_TABLE_MAX);
    if (!key || key[0] == '\0')
        return cr_err_set(err, -EINVAL, "empty key in table '%s'", table);
    if (strnlen(key, CR_STATE_KEY_MAX + 1) > CR_STATE_KEY_MAX)
        return cr_err_set(err, -EINVAL, "key longer than %d bytes in table '%s'", CR_STATE_KEY_MAX,
                          table);
    return 0;
}

/* ---- growable raft_malloc buffer ------------------------------------------------------ */

static uint8_t *enc_reserve(struct cr_state__enc *e, size_t n)
{
    if (e->cap - e->len < n) {
        size_t cap = e->cap ? e->cap : 4096;
        while (cap - e->len < n)
            cap *= 2;
        uint8_t *p = raft_realloc(e->data, cap);
        if (!p)
            abort();
        e->data = p;
        e->cap = cap;
    }
    uint8_t *p = e->data + e->len;
    e->len += n;
    return p;
}

static void enc_bytes(struct cr_state__enc *e, const void *data, size_t n)
{
    if (n)
        memcpy(enc_reserve(e, n), data, n);
}

void cr_state__enc_release(struct cr_state__enc *e)
{
    raft_free(e->data);
    e->data = NULL;
    e->len = e->cap = 0;
}

/* ---- log entries ---------------------------------------------------------------------- */

void cr_state__entry_begin(struct cr_state__enc *e)
{
    e->len = 0;
    memset(enc_reserve(e, CR_STATE__ENTRY_HEADER), 0, CR_STATE__ENTRY_HEADER);
}

int cr_state__ops_size(const struct cr_state_op *ops, size_t n, size_t *size, struct cr_err *err)
{
    size_t total = 0;
    if (n > UINT32_MAX)
        return cr_err_set(err, -EMSGSIZE, "too many operations in one write (%zu)", n);
    for (size_t i = 0; i < n; i++) {
        const struct cr_state_op *op = &ops[i];
        int rc = cr_state__check_names(op->table, op->key, err);
        if (rc < 0)
            return cr_err_wrap(err, "op %zu", i);
        size_t len = 0;
        if (op->kind == CR_STATE_PUT) {
            if (op->len > CR_STATE_WRITE_MAX)
                return cr_err_set(err, -EMSGSIZE,
                                  "op %zu: value of %zu bytes for '%s/%.64s' "
                                  "exceeds %u bytes",
                                  i, op->len, op->table, op->key, CR_STATE_WRITE_MAX);
            if (op->len && !op->value)
                return cr_err_set(err, -EINVAL, "op %zu: NULL value of %zu bytes", i, op->len);
            len = op->len;
        } else if (op->kind != CR_STATE_DELETE) {
            return cr_err_set(err, -EINVAL, "op %zu: unknown operation kind %d", i, (int)op->kind);
        }
        total += CR_STATE__OP_HEADER + strlen(op->table) + 1 + strlen(op->key) + 1 + len;
        if (total > CR_STATE_WRITE_MAX)
            return cr_err_set(err, -EMSGSIZE, "write of %zu operations exceeds %u bytes", n,
                              CR_STATE_WRITE_MAX);
    }
    *size = total;
    return 0;
}

void cr_state__entry_add(struct cr_state__enc *e, const struct cr_state_op *ops, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct cr_state_op *op = &ops[i];
        size_t tlen = strlen(op->table), klen = strlen(op->key);
        size_t vlen = op->kind == CR_STATE_PUT ? op->len : 0;
        uint8_t *h = enc_reserve(e, CR_STATE__OP_HEADER);
        h[0] = (uint8_t)op->kind;
        h[1] = (uint8_t)tlen;
        put_u16(h + 2, 0);
        put_u32(h + 4, (uint32_t)klen);
        put_u32(h + 8, (uint32_t)vlen);
        enc_bytes(e, op->table, tlen + 1);
        enc_bytes(e, op->key, klen + 1);
        enc_bytes(e, op->value, vlen);
    }
}

void cr_state__entry_finish(struct cr_state__enc *e, uint32_t n_ops)
{
    size_t pad = (8 - e->len % 8) % 8;
    if (pad)
        memset(enc_reserve(e, pad), 0, pad);
    uint8_t *h = e->data;
    memcpy(h, CR_STATE__ENTRY_MAGIC, 4);
    put_u16(h + 4, CR_STATE__ENTRY_VERSION);
    put_u16(h + 6, 0);
    put_u32(h + 8, n_ops);
    put_u32(h + 12,
            cr_state__crc32c(0, h + CR_STATE__ENTRY_HEADER, e->len - CR_STATE__ENTRY_HEADER));
}

/* A NUL-terminated string of exactly len bytes at p (len + 1 bytes available). */
static bool cstr_ok(const uint8_t *p, size_t len)
{
    return p[len] == '\0' && memchr(p, '\0', len) == NULL;
}

int cr_state__entry_check(const void *buf, size_t len, uint32_t *n_ops, struct cr_err *err)
{
    const uint8_t *p = buf;
    if (len < CR_STATE__ENTRY_HEADER)
        return cr_err_set(err, -EBADMSG, "entry too short (%zu bytes)", len);
    if (memcmp(p, CR_STATE__ENTRY_MAGIC, 4) != 0)
        return cr_err_set(err, -EBADMSG, "not a corral state entry (bad magic)");
    uint16_t version = get_u16(p + 4), flags = get_u16(p + 6);
    if (version != CR_STATE__ENTRY_VERSION)
        return cr_err_set(err, -EBADMSG,
                          "unsupported entry format version %u (this build "
                          "reads %d)",
                          version, CR_STATE__ENTRY_VERSION);
    if (flags != 0)
        return cr_err_set(err, -EBADMSG, "unsupported entry flags 0x%x", flags);
    uint32_t n = get_u32(p + 8);
    uint32_t crc = cr_state__crc32c(0, p + CR_STATE__ENTRY_HEADER, len - CR_STATE__ENTRY_HEADER);
    if (crc != get_u32(p + 12))
        return cr_err_set(err, -EBADMSG, "entry checksum mismatch");

    size_t off = CR_STATE__ENTRY_HEADER;
    for (uint32_t i = 0; i < n; i++) {
        if (len - off < CR_STATE__OP_HEADER)
            return cr_err_set(err, -EBADMSG, "op %u: truncated header", i);
        const uint8_t *h = p + off;
        unsigned kind = h[0];
        size_t tlen = h[1];
        size_t klen = get_u32(h + 4), vlen = get_u32(h + 8);
        if (kind != CR_STATE_PUT && kind != CR_STATE_DELETE)
            return cr_err_set(err, -EBADMSG, "op %u: unknown operation kind %u", i, kind);
        if (get_u16(h + 2) != 0)
            return cr_err_set(err, -EBADMSG, "op %u: reserved bits set", i);
        if (kind == CR_STATE_DELETE && vlen != 0)
            return cr_err_set(err, -EBADMSG, "op %u: delete with a value", i);
        if (klen == 0 || klen > CR_STATE_KEY_MAX)
            return cr_err_set(err, -EBADMSG, "op %u: bad key length %zu", i, klen);
        off += CR_STATE__OP_HEADER;
        if (len - off < tlen + 1 + klen + 1 || len - off - (tlen + 1 + klen + 1) < vlen)
            return cr_err_set(err, -EBADMSG, "op %u: truncated", i);
        if (!cstr_ok(p + off, tlen) || !table_name_ok((const char *)p + off, tlen))
            return cr_err_set(err, -EBADMSG, "op %u: bad table name", i);
        off += tlen + 1;
        if (!cstr_ok(p + off, klen))
            return cr_err_set(err, -EBADMSG, "op %u: bad key", i);
        off += klen + 1 + vlen;
    }
    /* Only the zero padding to a multiple of 8 may follow the last op. */
    if (len - off >= 8 || len % 8 != 0)
        return cr_err_set(err, -EBADMSG, "%zu trailing bytes after %u ops", len - off, n);
    for (size_t i = off; i < len; i++) {
        if (p[i] != 0)
            return cr_err_set(err, -EBADMSG, "non-zero padding after %u ops", n);
    }
    *n_ops = n;
    return 0;
}

void cr_state__entry_op(const void *buf, size_t *offset, struct cr_state__op_view *op)
{
    const uint8_t *h = (const uint8_t *)buf + *offset;
    size_t tlen = h[1], klen = get_u32(h + 4), vlen = get_u32(h + 8);
    const uint8_t *s = h + CR_STATE__OP_HEADER;
    op->kind = h[0];
    op->table = (const char *)s;
    op->key = (const char *)s + tlen + 1;
    op->value = s + tlen + 1 + klen + 1;
    op->len = vlen;
    *offset += CR_STATE__OP_HEADER + tlen + 1 + klen + 1 + vlen;
}

/* ---- snapshots ------------------------------------------------------------------------ */

struct snap_writer {
    uint8_t *p;
};

static int snap_put_rec(const struct cr_state__rec *rec, void *ud)
{
    struct snap_writer *w = ud;
    size_t klen = strlen(rec->key);
    put_u32(w->p, (uint32_t)klen);
    put_u32(w->p + 4, (uint32_t)rec->len);
    memcpy(w->p + 8, rec->key, klen + 1);
    w->p += 8 + klen + 1;
    if (rec->len)
        memcpy(w->p, rec->value, rec->len);
    w->p += rec->len;
    return 0;
}

void cr_state__snapshot_encode(const struct cr_state__store *s, void **data, size_t *len)
{
    size_t size = CR_STATE__SNAPSHOT_HEADER;
    uint32_t n_tables = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct cr_state__table *t = &s->tables[i];
        if (t->count == 0)
            continue;
        n_tables++;
        /* t->bytes counts key and value bytes; add lengths and the key NULs. */
        size += 1 + strlen(t->name) + 1 + 8 + t->count * (8 + 1) + t->bytes;
    }
    uint8_t *buf = raft_malloc(size);
    if (!buf)
        abort();
    struct snap_writer w = {.p = buf + CR_STATE__SNAPSHOT_HEADER};
    for (size_t i = 0; i < s->n; i++) {
        const struct cr_state__table *t = &s->tables[i];
        if (t->count == 0)
            continue;
        size_t nlen = strlen(t->name);
        *w.p = (uint8_t)nlen;
        memcpy(w.p + 1, t->name, nlen + 1);
        put_u64(w.p + 1 + nlen + 1, t->count);
        w.p += 1 + nlen + 1 + 8;
        cr_state__table_foreach(t, snap_put_rec, &w);
    }
    if ((size_t)(w.p - buf) != size)
        abort(); /* count/bytes out of sync with the tree: a bug, not an input error */
    memcpy(buf, CR_STATE__SNAPSHOT_MAGIC, 4);
    put_u16(buf + 4, CR_STATE__SNAPSHOT_VERSION);
    put_u16(buf + 6, 0);
    put_u32(buf + 8, n_tables);
    put_u32(buf + 12,
            cr_state__crc32c(0, buf + CR_STATE__SNAPSHOT_HEADER, size - CR_STATE__SNAPSHOT_HEADER));
    put_u64(buf + 16, size - CR_STATE__SNAPSHOT_HEADER);
    *data = buf;
    *len = size;
}

int cr_state__snapshot_decode(const void *data, size_t len, struct cr_state__store *out,
                              struct cr_err *err)
{
    const uint8_t *p = data;
    if (len < CR_STATE__SNAPSHOT_HEADER)
        return cr_err_set(err, -EBADMSG, "snapshot too short (%zu bytes)", len);
    if (memcmp(p, CR_STATE__SNAPSHOT_MAGIC, 4) != 0)
        return cr_err_set(err, -EBADMSG, "not a corral state snapshot (bad magic)");
    uint16_t version = get_u16(p + 4), flags = get_u16(p + 6);
    if (version != CR_STATE__SNAPSHOT_VERSION)
        return cr_err_set(err, -EBADMSG,
                          "unsupported snapshot format version %u (this build "
                          "reads %d)",
                          version, CR_STATE__SNAPSHOT_VERSION);
    if (flags != 0)
        return cr_err_set(err, -EBADMSG, "unsupported snapshot flags 0x%x", flags);
    if (get_u64(p + 16) != len - CR_STATE__SNAPSHOT_HEADER)
        return cr_err_set(err, -EBADMSG,
                          "snapshot length mismatch (header says %llu, have "
                          "%zu)",
                          (unsigned long long)get_u64(p + 16), len - CR_STATE__SNAPSHOT_HEADER);
    if (cr_state__crc32c(0, p + CR_STATE__SNAPSHOT_HEADER, len - CR_STATE__SNAPSHOT_HEADER) !=
        get_u32(p + 12))
        return cr_err_set(err, -EBADMSG, "snapshot checksum mismatch");

    uint32_t n_tables = get_u32(p + 8);
    size_t off = CR_STATE__SNAPSHOT_HEADER;
    for (uint32_t i = 0; i < n_tables; i++) {
        if (len - off < 1)
            return cr_err_set(err, -EBADMSG, "table %u: truncated", i);
        size_t nlen = p[off];
        if (len - off - 1 < nlen + 1 + 8)
            return cr_err_set(err, -EBADMSG, "table %u: truncated", i);
        const char *name = (const char *)p + off + 1;
        if (!cstr_ok(p + off + 1, nlen) || !table_name_ok(name, nlen))
            return cr_err_set(err, -EBADMSG, "table %u: bad name", i);
        if (cr_state__store_table(out, name))
            return cr_err_set(err, -EBADMSG, "table '%s' appears twice", name);
        uint64_t n_recs = get_u64(p + off + 1 + nlen + 1);
        off += 1 + nlen + 1 + 8;
        struct cr_state__table *t = cr_state__store_table_get_or_add(out, name);
        for (uint64_t j = 0; j < n_recs; j++) {
            if (len - off < 8)
                return cr_err_set(err, -EBADMSG, "table '%s' record %llu: truncated", name,
                                  (unsigned long long)j);
            size_t klen = get_u32(p + off), vlen = get_u32(p + off + 4);
            off += 8;
            if (klen == 0 || klen > CR_STATE_KEY_MAX || len - off < klen + 1 ||
                len - off - (klen + 1) < vlen || !cstr_ok(p + off, klen))
                return cr_err_set(err, -EBADMSG, "table '%s' record %llu: bad key or length", name,
                                  (unsigned long long)j);
            const char *key = (const char *)p + off;
            size_t before = t->count;
            /* t stays valid: putting into an existing table never grows the array. */
            cr_state__store_put(out, name, key, p + off + klen + 1, vlen);
            if (t->count == before)
                return cr_err_set(err, -EBADMSG, "table '%s': duplicate key '%.64s'", name, key);
            off += klen + 1 + vlen;
        }
    }
    if (off != len)
        return cr_err_set(err, -EBADMSG, "%zu trailing bytes in snapshot", len - off);
    return 0;
}
