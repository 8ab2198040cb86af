/*
 * state_internal.h - what the files of src/state share, and what its unit tests poke at:
 * the in-memory tables (state_store.c) and the on-disk formats (state_codec.c).
 *
 * Nothing here is for other components; they use state.h. Names are cr_state__* (double
 * underscore = internal to the module, as uv__ in libuv).
 */
#ifndef CR_STATE_STATE_INTERNAL_H
#define CR_STATE_STATE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "state/state.h"

/* ---- allocation: out-of-memory aborts (the project's OOM policy) ---------------------- */

void *cr_state__xmalloc(size_t n);
void *cr_state__xrealloc(void *p, size_t n);
char *cr_state__xstrdup(const char *s);

/* ---- in-memory tables (state_store.c) -------------------------------------------------- */

/* One key of a table. key and value are owned; value[len] == '\0'. */
struct cr_state__rec {
    char *key; /* points into the same allocation as the record */
    char *value;
    size_t len;
};

/* One table: a balanced search tree (tsearch) of records ordered by strcmp of keys. */
struct cr_state__table {
    char *name;     /* owned */
    void *root;     /* tsearch root */
    size_t count;   /* number of records */
    uint64_t bytes; /* sum of key and value lengths (sizes the snapshot) */
};

/* All tables, in creation order. Caller-owned storage: _init / _release. */
struct cr_state__store {
    struct cr_state__table *tables; /* owned array */
    size_t n, cap;
};

void cr_state__store_init(struct cr_state__store *s);
/* Free every table, record and value. */
void cr_state__store_release(struct cr_state__store *s);
/* Swap the contents of a and b (restore builds a new store, then swaps it in). */
void cr_state__store_swap(struct cr_state__store *a, struct cr_state__store *b);
/* The table named name, or NULL. */
struct cr_state__table *cr_state__store_table(const struct cr_state__store *s, const char *name);
/* The table named name, created empty if missing. name is copied. */
struct cr_state__table *cr_state__store_table_get_or_add(struct cr_state__store *s,
                                                         const char *name);
/* Set table[key] = value (copied, len bytes). */
void cr_state__store_put(struct cr_state__store *s, const char *table, const char *key,
                         const void *value, size_t len);
/* Remove table[key] if present. */
void cr_state__store_delete(struct cr_state__store *s, const char *table, const char *key);
/* The record for table[key], or NULL. Borrowed. */
const struct cr_state__rec *cr_state__store_get(const struct cr_state__store *s, const char *table,
                                                const char *key);
/* Visit the records of t in key order; fn returns non-zero to stop (that value returned). */
int cr_state__table_foreach(const struct cr_state__table *t,
                            int (*fn)(const struct cr_state__rec *rec, void *ud), void *ud);

/* ---- formats (state_codec.c) ----------------------------------------------------------- */

/* CRC-32C (Castagnoli), as used by iSCSI/ext4: crc = cr_state__crc32c(0, data, len). */
uint32_t cr_state__crc32c(uint32_t crc, const void *data, size_t len);

/*
 * Log entry, format version 1 (all integers little-endian):
 *   0  magic "CRLE"      4  u16 version (1)   6  u16 flags (0)
 *   8  u32 n_ops         12 u32 crc32c of bytes [16, end)
 *   16 n_ops times:  u8 kind (1 put, 2 delete), u8 table_len, u16 reserved (0),
 *                    u32 key_len, u32 value_len (0 for delete),
 *                    table bytes + NUL, key bytes + NUL, value bytes
 *   then 0-7 zero bytes, so that the size is a multiple of 8: libraft's libuv log writes
 *   entry buffers unpadded and reads them back padded (it asserts 8-byte sizes only in
 *   debug builds; a release libraft silently writes a log it cannot load).
 * Tables are named in every op, so new tables need no format change; a new op kind or
 * layout bumps the version, and a reader rejects versions it does not know.
 */
#define CR_STATE__ENTRY_MAGIC "CRLE"
#define CR_STATE__ENTRY_VERSION 1
#define CR_STATE__ENTRY_HEADER 16
#define CR_STATE__OP_HEADER 12

/* A growable byte buffer allocated with raft_malloc(), so it can be handed to raft_apply. */
struct cr_state__enc {
    uint8_t *data;
    size_t len, cap;
};

/* Start an entry in e (e must be zeroed): reserve the header. */
void cr_state__entry_begin(struct cr_state__enc *e);
/*
 * Validate ops (names, kinds, sizes) and compute the bytes they add to an entry. Returns 0
 * and sets *size, or -EINVAL / -EMSGSIZE with err naming the offending op.
 */
int cr_state__ops_size(const struct cr_state_op *ops, size_t n, size_t *size, struct cr_err *err);
/* Append ops (already validated by cr_state__ops_size) to the entry. */
void cr_state__entry_add(struct cr_state__enc *e, const struct cr_state_op *ops, size_t n);
/* Pad, write the header (n_ops, checksum). The entry is then e->data[0, e->len). */
void cr_state__entry_finish(struct cr_state__enc *e, uint32_t n_ops);
/* Free the buffer (raft_free) and zero e. */
void cr_state__enc_release(struct cr_state__enc *e);

/* One decoded op; strings point into the entry and are NUL-terminated there. */
struct cr_state__op_view {
    int kind;
    const char *table;
    const char *key;
    const void *value;
    size_t len;
};

/*
 * Check a whole entry: magic, version, checksum, every op. Returns 0 and sets *n_ops, or
 * -EBADMSG with err saying what is wrong ("unsupported entry format version 7 (this build
 * reads 1)"). Never reads outside [buf, buf + len).
 */
int cr_state__entry_check(const void *buf, size_t len, uint32_t *n_ops, struct cr_err *err);
/*
 * Decode op number i of a checked entry, starting at *offset (CR_STATE__ENTRY_HEADER for
 * the first) and advancing it.
 */
void cr_state__entry_op(const void *buf, size_t *offset, struct cr_state__op_view *op);

/*
 * Snapshot, format version 1 (little-endian):
 *   0  magic "CRSN"   4 u16 version (1)   6 u16 flags (0)   8 u32 n_tables
 *   12 u32 crc32c of bytes [24, end)      16 u64 length of bytes [24, end)
 *   24 n_tables times: u8 name_len, name bytes + NUL, u64 n_records,
 *                      n_records times: u32 key_len, u32 value_len, key bytes + NUL,
 *                                       value bytes
 * Records are written in key order; empty tables are omitted.
 */
#define CR_STATE__SNAPSHOT_MAGIC "CRSN"
#define CR_STATE__SNAPSHOT_VERSION 1
#define CR_STATE__SNAPSHOT_HEADER 24

/* Serialize s into a raft_malloc()ed buffer: *data (owned, raft_free), *len. */
void cr_state__snapshot_encode(const struct cr_state__store *s, void **data, size_t *len);
/*
 * Parse a snapshot into out (initialized, empty). Returns 0, or -EBADMSG with err filled;
 * out then holds whatever was decoded and must still be released.
 */
int cr_state__snapshot_decode(const void *data, size_t len, struct cr_state__store *out,
                              struct cr_err *err);

/* Check a table name and a key against the limits of state.h. -EINVAL with err. */
int cr_state__check_names(const char *table, const char *key, struct cr_err *err);

#endif
