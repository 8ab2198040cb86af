/*
 * map.c - string-keyed open-addressing hash map (see map.h).
 *
 * Invariants: cap is 0 or a power of two; used (live + tombstones) stays below 3/4 of
 * cap, so every probe sequence ends at an empty slot.
 */
#include "base/map.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"

static const char tomb_marker;
#define TOMB (&tomb_marker)

static size_t hash_str(const char *s)
{
    /* FNV-1a, 64-bit. */
    size_t h = (size_t)1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= (size_t)1099511628211ULL;
    }
    return h;
}

void cr_map_init(struct cr_map *m)
{
    memset(m, 0, sizeof(*m));
}

void cr_map_release(struct cr_map *m)
{
    if (!m)
        return;
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

static struct cr_map_slot *find(const struct cr_map *m, const char *key, size_t h)
{
    if (m->cap == 0)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct cr_map_slot *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->key != TOMB && s->hash == h && strcmp(s->key, key) == 0)
            return s;
    }
}

static void grow(struct cr_map *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    /* Only tombstones made us full: rehash at the same size. */
    if (m->n * 2 < m->cap)
        ncap = m->cap;
    struct cr_map_slot *old = m->slots;
    size_t ocap = m->cap;
    m->slots = cr_xcalloc(ncap, sizeof(*m->slots));
    m->cap = ncap;
    m->used = m->n;
    for (size_t i = 0; i < ocap; i++) {
        if (!old[i].key || old[i].key == TOMB)
            continue;
        size_t mask = ncap - 1;
        size_t j = old[i].hash & mask;
        while (m->slots[j].key)
            j = (j + 1) & mask;
        m->slots[j] = old[i];
    }
    free(old);
}

void *cr_map_get(const struct cr_map *m, const char *key)
{
    struct cr_map_slot *s = find(m, key, hash_str(key));
    return s ? s->value : NULL;
}

void *cr_map_put(struct cr_map *m, const char *key, void *value)
{
    size_t h = hash_str(key);
    struct cr_map_slot *s = find(m, key, h);
    if (s) {
        void *prev = s->value;
        s->value = value;
        s->key = key;
        return prev;
    }
    if ((m->used + 1) * 4 > m->cap * 3)
        grow(m);
    size_t mask = m->cap - 1;
    size_t i = h & mask;
    while (m->slots[i].key && m->slots[i].key != TOMB)
        i = (i + 1) & mask;
    if (!m->slots[i].key)
        m->used++;
    m->slots[i].key = key;
    m->slots[i].value = value;
    m->slots[i].hash = h;
    m->n++;
    return NULL;
}

void *cr_map_remove(struct cr_map *m, const char *key)
{
    struct cr_map_slot *s = find(m, key, hash_str(key));
    if (!s)
        return NULL;
    void *v = s->value;
    s->key = TOMB;
    s->value = NULL;
    m->n--;
    return v;
}

int cr_map_next(const struct cr_map *m, size_t *it, const char **key, void **value)
{
    while (*it < m->cap) {
        struct cr_map_slot *s = &m->slots[(*it)++];
        if (s->key && s->key != TOMB) {
            if (key)
                *key = s->key;
            if (value)
                *value = s->value;
            return 1;
        }
    }
    return 0;
}
