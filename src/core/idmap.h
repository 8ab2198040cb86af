/*
 * idmap.h - open-addressing hash maps for the core's indexes (internal to src/core).
 *
 * Two small maps that the allocator and the offer book use to find slots by id:
 * cr_strmap (string key -> uint32 value) and cr_u64map (uint64 key -> uint32 value).
 * Linear probing with backward-shift deletion (no tombstones), power-of-two capacity,
 * load factor at most 1/2. Keys of a cr_strmap are borrowed: the caller keeps each key
 * string alive (normally the id stored in the slot the value points to) until it deletes
 * the entry. Memory comes from cr_xmalloc (aborts on out-of-memory).
 *
 * PURE: no I/O. Iteration order is never exposed, so callers stay deterministic.
 */
#ifndef CR_CORE_IDMAP_H
#define CR_CORE_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cr_strmap {
    const char **keys; /* borrowed; NULL = empty bucket */
    uint32_t *vals;
    size_t cap; /* 0 or a power of two */
    size_t n;
};

/* Caller-owned storage: _init before use, _release after (accepts NULL). */
void cr_strmap_init(struct cr_strmap *m);
void cr_strmap_release(struct cr_strmap *m);
/* Look key up; on a hit stores the value in *val (if val) and returns true. */
bool cr_strmap_get(const struct cr_strmap *m, const char *key, uint32_t *val);
/* Insert or replace key (borrowed, must stay alive while mapped). */
void cr_strmap_put(struct cr_strmap *m, const char *key, uint32_t val);
/* Remove key; returns whether it was there. */
bool cr_strmap_del(struct cr_strmap *m, const char *key);

struct cr_u64map {
    uint64_t *keys;
    uint32_t *vals;
    uint8_t *used;
    size_t cap; /* 0 or a power of two */
    size_t n;
};

/* Caller-owned storage: _init before use, _release after (accepts NULL). */
void cr_u64map_init(struct cr_u64map *m);
void cr_u64map_release(struct cr_u64map *m);
/* Look key up; on a hit stores the value in *val (if val) and returns true. */
bool cr_u64map_get(const struct cr_u64map *m, uint64_t key, uint32_t *val);
/* Insert or replace key. */
void cr_u64map_put(struct cr_u64map *m, uint64_t key, uint32_t val);
/* Remove key; returns whether it was there. */
bool cr_u64map_del(struct cr_u64map *m, uint64_t key);

/* The string hash the maps use (FNV-1a with a final mix); exposed for callers' own tables. */
uint64_t cr_idmap_hash_str(const char *s);

#endif
