/*
 * status_updates.h - the agent's reliable status-update queues (API-COMPAT §2.2).
 *
 * One ordered stream per task (keyed by framework id + task id). Only the head of a
 * stream is in flight: it is sent when it becomes the head (if the agent is online),
 * re-sent 10 s later, then after 20 s, 40 s, ... capped at 10 min, until the master
 * relays the framework's acknowledgement with the head's uuid. Then the head is popped
 * and the next update is sent at once. Going online (a new subscription) re-sends every
 * head immediately and restarts its schedule at 10 s. An acknowledgement whose uuid is
 * not the head's is ignored (a late duplicate).
 *
 * No I/O and no clock: the caller passes the time (monotonic ms) and a send callback,
 * and calls cr_su_tick() periodically (the agent: every second while anything is
 * pending). The checkpointing issue adds write-ahead persistence around add and ack.
 */
#ifndef CR_AGENT_STATUS_UPDATES_H
#define CR_AGENT_STATUS_UPDATES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/mesos.h"
#include "base/map.h"

#define CR_SU_RETRY_MIN_MS 10000
#define CR_SU_RETRY_MAX_MS 600000

/*
 * Send one update to the master (fire and forget; a lost send is covered by the retry).
 * Both arguments are borrowed for the call. Must not call back into the manager.
 */
typedef void (*cr_su_send_fn)(const char *framework_id, const struct cr_task_status *status,
                              void *ud);

struct cr_su_update {
    struct cr_su_update *next;
    struct cr_task_status status; /* owned copy, has_uuid */
};

struct cr_su_stream {
    char *key;          /* owned: cr_agent_task_key(framework_id, task_id) */
    char *framework_id; /* owned */
    char *task_id;      /* owned */
    struct cr_su_update *head, *tail;
    size_t n;
    bool sent;            /* the head has been sent since it became head / since online */
    int64_t next_send_ms; /* when the head is due again (valid if sent) */
    int64_t backoff_ms;   /* the current retry interval */
};

struct cr_status_updates {
    struct cr_map streams; /* key -> struct cr_su_stream * */
    bool online;
    size_t pending; /* updates queued over all streams */
    cr_su_send_fn send;
    void *ud;
};

/*
 * The map key of a task: "<len(framework_id)>:<framework_id><task_id>", unambiguous for
 * any ids. Owned: free().
 */
char *cr_agent_task_key(const char *framework_id, const char *task_id);

/* Caller-owned storage. Starts offline. */
void cr_su_init(struct cr_status_updates *su, cr_su_send_fn send, void *ud);
/* Drop everything (unsent updates are lost: checkpoints will keep them). Accepts NULL. */
void cr_su_release(struct cr_status_updates *su);

/*
 * Queue a copy of status (which must carry a uuid and a task id) for the task's stream.
 * If it becomes the head and the manager is online it is sent at once.
 * Returns 0, or -EINVAL if status has no uuid or task id.
 */
int cr_su_add(struct cr_status_updates *su, const char *framework_id,
              const struct cr_task_status *status, int64_t now_ms);

/*
 * The master relayed an acknowledgement. If uuid is the head's: pop it, store its state
 * in *acked_state (if non-NULL), send the next head (if any and online) and return 0.
 * Returns -ENOENT if the task has no pending updates, -ESTALE if uuid is not the head's
 * (both ignored by the agent apart from a log line).
 */
int cr_su_ack(struct cr_status_updates *su, const char *framework_id, const char *task_id,
              const unsigned char uuid[16], int64_t now_ms, enum cr_task_state *acked_state);

/* Online (subscribed) or not. Going online re-sends every head now. */
void cr_su_set_online(struct cr_status_updates *su, bool online, int64_t now_ms);

/* Re-send every head that is due at now_ms (online only). */
void cr_su_tick(struct cr_status_updates *su, int64_t now_ms);

/* Earliest time a head is due, or -1 when nothing is in flight (or offline). */
int64_t cr_su_next_due(const struct cr_status_updates *su);

/* Updates queued over all streams. */
size_t cr_su_pending(const struct cr_status_updates *su);

/* The stream of a task, or NULL. Borrowed. */
const struct cr_su_stream *cr_su_stream_find(const struct cr_status_updates *su,
                                             const char *framework_id, const char *task_id);

#endif
