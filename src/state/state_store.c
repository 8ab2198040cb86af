/*
 * state_store.c - the registry's in-memory tables.
 *
 * A store is a short array of named tables (a handful: agents, frameworks, apps, ...);
 * each table is a balanced binary search tree (glibc tsearch, a red-black tree) of records
 * ordered by strcmp of their keys, so lookups are O(log n) and walks come out in key
 * order, which keeps /state dumps and snapshots deterministic.
 *
 * Invariants: every record's value is NUL-terminated (value[len] == '\0') so JSON text can
 * be used as a C string; t->count and t->bytes always match the tree. Only the FSM of
 * state.c (log apply, snapshot restore) mutates a store; readers borrow records.
 */
#include "state/state_internal.h"

#include <search.h>
#include <stdlib.h>
#include <string.h>

void *cr_state__xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        abort();
    return p;
}

void *cr_state__xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        abort();
    return q;
}

char *cr_state__xstrdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = cr_state__xmalloc(n);
    memcpy(p, s, n);
    return p;
}

static int rec_cmp(const void *a, const void *b)
{
    const struct cr_state__rec *ra = a, *rb = b;
    return strcmp(ra->key, rb->key);
}

static void rec_free(void *p)
{
    struct cr_state__rec *rec = p;
    free(rec->value);
    free(rec);
}

void cr_state__store_init(struct cr_state__store *s)
{
    s->tables = NULL;
    s->n = s->cap = 0;
}

void cr_state__store_release(struct cr_state__store *s)
{
    for (size_t i = 0; i < s->n; i++) {
        tdestroy(s->tables[i].root, rec_free);
        free(s->tables[i].name);
    }
    free(s->tables);
    cr_state__store_init(s);
}

void cr_state__store_swap(struct cr_state__store *a, struct cr_state__store *b)
{
    struct cr_state__store tmp = *a;
    *a = *b;
    *b = tmp;
}

struct cr_state__table *cr_state__store_table(const struct cr_state__store *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->tables[i].name, name) == 0)
            return &s->tables[i];
    }
    return NULL;
}

struct cr_state__table *cr_state__store_table_get_or_add(struct cr_state__store *s,
                                                         const char *name)
{
    struct cr_state__table *t = cr_state__store_table(s, name);
    if (t)
        return t;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 8;
        s->tables = cr_state__xrealloc(s->tables, s->cap * sizeof(*s->tables));
    }
    t = &s->tables[s->n++];
    t->name = cr_state__xstrdup(name);
    t->root = NULL;
    t->count = 0;
    t->bytes = 0;
    return t;
}

void cr_state__store_put(struct cr_state__store *s, const char *table, const char *key,
                         const void *value, size_t len)
{
    struct cr_state__table *t = cr_state__store_table_get_or_add(s, table);
    char *copy = cr_state__xmalloc(len + 1);
    if (len)
        memcpy(copy, value, len);
    copy[len] = '\0';

    struct cr_state__rec probe = {.key = (char *)key};
    void *found = tfind(&probe, &t->root, rec_cmp);
    if (found) {
        struct cr_state__rec *rec = *(struct cr_state__rec **)found;
        t->bytes -= rec->len;
        free(rec->value);
        rec->value = copy;
        rec->len = len;
        t->bytes += len;
        return;
    }

    size_t klen = strlen(key);
    struct cr_state__rec *rec = cr_state__xmalloc(sizeof(*rec) + klen + 1);
    rec->key = (char *)(rec + 1);
    memcpy(rec->key, key, klen + 1);
    rec->value = copy;
    rec->len = len;
    if (!tsearch(rec, &t->root, rec_cmp))
        abort(); /* tsearch fails only when out of memory */
    t->count++;
    t->bytes += klen + len;
}

void cr_state__store_delete(struct cr_state__store *s, const char *table, const char *key)
{
    struct cr_state__table *t = cr_state__store_table(s, table);
    if (!t)
        return;
    struct cr_state__rec probe = {.key = (char *)key};
    void *found = tfind(&probe, &t->root, rec_cmp);
    if (!found)
        return;
    struct cr_state__rec *rec = *(struct cr_state__rec **)found;
    tdelete(&probe, &t->root, rec_cmp);
    t->count--;
    t->bytes -= strlen(rec->key) + rec->len;
    rec_free(rec);
}

const struct cr_state__rec *cr_state__store_get(const struct cr_state__store *s, const char *table,
                                                const char *key)
{
    const struct cr_state__table *t = cr_state__store_table(s, table);
    if (!t)
        return NULL;
    struct cr_state__rec probe = {.key = (char *)key};
    void *found = tfind(&probe, &t->root, rec_cmp);
    return found ? *(struct cr_state__rec **)found : NULL;
}

struct walk {
    int (*fn)(const struct cr_state__rec *rec, void *ud);
    void *ud;
    int rc;
};

static void walk_action(const void *node, VISIT which, void *closure)
{
    struct walk *w = closure;
    /* In-order visit: an inner node after its left subtree (postorder), or a leaf. */
    if (w->rc != 0 || (which != postorder && which != leaf))
        return;
    w->rc = w->fn(*(struct cr_state__rec *const *)node, w->ud);
}

int cr_state__table_foreach(const struct cr_state__table *t,
                            int (*fn)(const struct cr_state__rec *rec, void *ud), void *ud)
{
    struct walk w = {.fn = fn, .ud = ud, .rc = 0};
    if (t && t->root)
        twalk_r(t->root, walk_action, &w);
    return w.rc;
}
