/*
 * map.h - a string-keyed hash map (open addressing, linear probing, tombstones).
 *
 * Keys are borrowed: each entry's key must stay valid and unchanged while it is in the
 * map (typically it points at the id inside the value). Values are opaque pointers the
 * map never frees. Iteration order is unspecified and changes when the map grows.
 *
 * This is the general map of the daemons (master, agent). The pure core keeps its own
 * compact id -> slot-index maps (core/idmap.h: 32-bit values, no tombstones, never
 * iterated) because the allocator's cycle is dominated by those lookups.
 */
#ifndef CR_BASE_MAP_H
#define CR_BASE_MAP_H

#include <stddef.h>

struct cr_map_slot {
    const char *key; /* NULL = empty; CR_MAP_TOMB = deleted */
    void *value;
    size_t hash;
};

struct cr_map {
    struct cr_map_slot *slots; /* owned */
    size_t cap;                /* power of two or 0 */
    size_t n;                  /* live entries */
    size_t used;               /* live + tombstones */
};

void cr_map_init(struct cr_map *m);
/* Free the table (not the values). Accepts a zeroed map. */
void cr_map_release(struct cr_map *m);

/* Value stored under key, or NULL. */
void *cr_map_get(const struct cr_map *m, const char *key);

/* Insert or replace; returns the previous value or NULL. key borrowed (see above). */
void *cr_map_put(struct cr_map *m, const char *key, void *value);

/* Remove key; returns its value or NULL if absent. */
void *cr_map_remove(struct cr_map *m, const char *key);

static inline size_t cr_map_count(const struct cr_map *m)
{
    return m->n;
}

/*
 * Iterate: size_t it = 0; const char *k; void *v; while (cr_map_next(m, &it, &k, &v)) ...
 * Removing the current entry during iteration is allowed; inserting is not.
 */
int cr_map_next(const struct cr_map *m, size_t *it, const char **key, void **value);

#endif
