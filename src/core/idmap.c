/*
 * idmap.c - open-addressing hash maps (see idmap.h).
 *
 * Linear probing keeps a lookup to one or two cache lines; deletion shifts the following
 * run of entries back instead of leaving tombstones, so long-running daemons that add and
 * remove ids forever never degrade.
 */
#include "core/idmap.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

uint64_t cr_idmap_hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return mix64(h);
}

/* ---- string keys ---- */

void cr_strmap_init(struct cr_strmap *m)
{
    memset(m, 0, sizeof(*m));
}

void cr_strmap_release(struct cr_strmap *m)
{
    if (!m)
        return;
    free(m->keys);
    free(m->vals);
    cr_strmap_init(m);
}

/* Bucket holding key, or the empty bucket where it would go. */
static size_t str_slot(const struct cr_strmap *m, const char *key)
{
    size_t mask = m->cap - 1;
    size_t i = (size_t)cr_idmap_hash_str(key) & mask;
    while (m->keys[i] && strcmp(m->keys[i], key))
        i = (i + 1) & mask;
    return i;
}

bool cr_strmap_get(const struct cr_strmap *m, const char *key, uint32_t *val)
{
    if (m->n == 0)
        return false;
    size_t i = str_slot(m, key);
    if (!m->keys[i])
        return false;
    if (val)
        *val = m->vals[i];
    return true;
}

static void str_grow(struct cr_strmap *m)
{
    struct cr_strmap old = *m;
    m->cap = old.cap ? old.cap * 2 : 16;
    m->keys = cr_xcalloc(m->cap, sizeof(*m->keys));
    m->vals = cr_xcalloc(m->cap, sizeof(*m->vals));
    for (size_t i = 0; i < old.cap; i++) {
        if (!old.keys[i])
            continue;
        size_t j = str_slot(m, old.keys[i]);
        m->keys[j] = old.keys[i];
        m->vals[j] = old.vals[i];
    }
    free(old.keys);
    free(old.vals);
}

void cr_strmap_put(struct cr_strmap *m, const char *key, uint32_t val)
{
    if ((m->n + 1) * 2 > m->cap)
        str_grow(m);
    size_t i = str_slot(m, key);
    if (!m->keys[i])
        m->n++;
    m->keys[i] = key;
    m->vals[i] = val;
}

bool cr_strmap_del(struct cr_strmap *m, const char *key)
{
    if (m->n == 0)
        return false;
    size_t mask = m->cap - 1;
    size_t i = str_slot(m, key);
    if (!m->keys[i])
        return false;
    /* Backward-shift: move later members of the probe run into the hole when allowed. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!m->keys[j])
            break;
        size_t home = (size_t)cr_idmap_hash_str(m->keys[j]) & mask;
        /* j may move to i if its home is not cyclically within (i, j]. */
        bool in_between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (in_between)
            continue;
        m->keys[i] = m->keys[j];
        m->vals[i] = m->vals[j];
        i = j;
    }
    m->keys[i] = NULL;
    m->n--;
    return true;
}

/* ---- 64-bit keys ---- */

void cr_u64map_init(struct cr_u64map *m)
{
    memset(m, 0, sizeof(*m));
}

void cr_u64map_release(struct cr_u64map *m)
{
    if (!m)
        return;
    free(m->keys);
    free(m->vals);
    free(m->used);
    cr_u64map_init(m);
}

static size_t u64_slot(const struct cr_u64map *m, uint64_t key)
{
    size_t mask = m->cap - 1;
    size_t i = (size_t)mix64(key) & mask;
    while (m->used[i] && m->keys[i] != key)
        i = (i + 1) & mask;
    return i;
}

bool cr_u64map_get(const struct cr_u64map *m, uint64_t key, uint32_t *val)
{
    if (m->n == 0)
        return false;
    size_t i = u64_slot(m, key);
    if (!m->used[i])
        return false;
    if (val)
        *val = m->vals[i];
    return true;
}

static void u64_grow(struct cr_u64map *m)
{
    struct cr_u64map old = *m;
    m->cap = old.cap ? old.cap * 2 : 16;
    m->keys = cr_xcalloc(m->cap, sizeof(*m->keys));
    m->vals = cr_xcalloc(m->cap, sizeof(*m->vals));
    m->used = cr_xcalloc(m->cap, sizeof(*m->used));
    for (size_t i = 0; i < old.cap; i++) {
        if (!old.used[i])
            continue;
        size_t j = u64_slot(m, old.keys[i]);
        m->keys[j] = old.keys[i];
        m->vals[j] = old.vals[i];
        m->used[j] = 1;
    }
    free(old.keys);
    free(old.vals);
    free(old.used);
}

void cr_u64map_put(struct cr_u64map *m, uint64_t key, uint32_t val)
{
    if ((m->n + 1) * 2 > m->cap)
        u64_grow(m);
    size_t i = u64_slot(m, key);
    if (!m->used[i]) {
        m->n++;
        m->used[i] = 1;
        m->keys[i] = key;
    }
    m->vals[i] = val;
}

bool cr_u64map_del(struct cr_u64map *m, uint64_t key)
{
    if (m->n == 0)
        return false;
    size_t mask = m->cap - 1;
    size_t i = u64_slot(m, key);
    if (!m->used[i])
        return false;
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!m->used[j])
            break;
        size_t home = (size_t)mix64(m->keys[j]) & mask;
        bool in_between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (in_between)
            continue;
        m->keys[i] = m->keys[j];
        m->vals[i] = m->vals[j];
        i = j;
    }
    m->used[i] = 0;
    m->n--;
    return true;
}
