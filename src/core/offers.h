/*
 * offers.h - the book of outstanding offers (PURE: no I/O, no clock; time is a parameter).
 *
 * The master keeps every offer it has sent and not yet seen accepted, declined or
 * rescinded here. Each offer has a sequence number the book assigns (1, 2, 3, ...; the
 * master formats the wire id as "<masterid>-O<n>"), the framework, agent and role it was
 * made to, the resources (owned by the book until the offer is removed) and an expiry time
 * (offer timeout, default 10 s). When it expires the master RESCINDs it, removes it and
 * recovers its resources into the allocator.
 *
 * Lookups by id are O(1); listing by framework or agent walks only that framework's or
 * agent's offers; expiry is a min-heap, so the book stays cheap with 10k+ offers.
 * Lists come back in ascending id order (the order the offers were made), so callers are
 * deterministic.
 */
#ifndef CR_CORE_OFFERS_H
#define CR_CORE_OFFERS_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "core/resources.h"

struct cr_offer {
    uint64_t id;
    char *framework_id;            /* owned */
    char *agent_id;                /* owned */
    char *role;                    /* owned */
    struct cr_resources resources; /* owned */
    int64_t expires_ms;
};

/* Free what an offer owns (for an offer handed out by cr_offer_book_remove). Accepts NULL. */
void cr_offer_release(struct cr_offer *o);

/* A list of offer ids (caller-owned storage: _init before use, _release after). */
struct cr_offer_ids {
    uint64_t *v; /* owned */
    size_t n, cap;
};
void cr_offer_ids_init(struct cr_offer_ids *ids);
void cr_offer_ids_release(struct cr_offer_ids *ids);

struct cr_offer_book;

/* A new, empty book. Free with cr_offer_book_free (accepts NULL; frees remaining offers). */
struct cr_offer_book *cr_offer_book_new(void);
void cr_offer_book_free(struct cr_offer_book *b);

/*
 * Record an offer. The strings are copied; the book takes ownership of *resources, which
 * is moved out (left empty, still valid to release). Returns the offer's sequence number
 * (> 0). Aborts only on out-of-memory.
 */
uint64_t cr_offer_book_add(struct cr_offer_book *b, const char *framework_id, const char *agent_id,
                           const char *role, struct cr_resources *resources, int64_t expires_ms);

/* The offer with this id, or NULL. Borrowed: valid until the book next changes. */
const struct cr_offer *cr_offer_book_find(const struct cr_offer_book *b, uint64_t id);

/*
 * Remove an offer and hand it to the caller: *out receives the entry (its strings and
 * resources now owned by the caller; release with cr_offer_release). out may be NULL to
 * drop it. Returns 0 or -ENOENT.
 */
int cr_offer_book_remove(struct cr_offer_book *b, uint64_t id, struct cr_offer *out);

/* Append the ids of the framework's / agent's / all offers to out, ascending. */
void cr_offer_book_by_framework(const struct cr_offer_book *b, const char *framework_id,
                                struct cr_offer_ids *out);
void cr_offer_book_by_agent(const struct cr_offer_book *b, const char *agent_id,
                            struct cr_offer_ids *out);
void cr_offer_book_all(const struct cr_offer_book *b, struct cr_offer_ids *out);

/*
 * Append the ids of the offers whose expiry is <= now_ms, earliest expiry first (ties by
 * id). They stay in the book: the caller rescinds and removes each.
 */
void cr_offer_book_expired(const struct cr_offer_book *b, int64_t now_ms, struct cr_offer_ids *out);

/* Earliest expiry among the offers, or INT64_MAX when the book is empty. */
int64_t cr_offer_book_next_expiry_ms(const struct cr_offer_book *b);

/* Number of outstanding offers. */
size_t cr_offer_book_count(const struct cr_offer_book *b);

#endif
