/*
 * status_updates.c - per-task ordered status-update streams with acknowledgement and
 * exponential re-send (see status_updates.h).
 *
 * Invariants: a stream exists iff it holds at least one update; `pending` is the sum of
 * the streams' lengths; `sent` is false for a head that has not gone out since it
 * became head or since the manager last came online.
 */
#include "agent/status_updates.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

char *cr_agent_task_key(const char *framework_id, const char *task_id)
{
    return cr_xasprintf("%zu:%s%s", strlen(framework_id), framework_id, task_id);
}

void cr_su_init(struct cr_status_updates *su, cr_su_send_fn send, void *ud)
{
    memset(su, 0, sizeof(*su));
    cr_map_init(&su->streams);
    su->send = send;
    su->ud = ud;
}

static void stream_free(struct cr_su_stream *s)
{
    struct cr_su_update *u = s->head;
    while (u) {
        struct cr_su_update *next = u->next;
        cr_task_status_release(&u->status);
        free(u);
        u = next;
    }
    free(s->key);
    free(s->framework_id);
    free(s->task_id);
    free(s);
}

void cr_su_release(struct cr_status_updates *su)
{
    if (!su)
        return;
    size_t it = 0;
    const char *key;
    void *value;
    while (cr_map_next(&su->streams, &it, &key, &value))
        stream_free(value);
    cr_map_release(&su->streams);
    su->pending = 0;
}

/* Send the head now and schedule its first re-send. */
static void send_head(struct cr_status_updates *su, struct cr_su_stream *s, int64_t now_ms)
{
    s->sent = true;
    s->backoff_ms = CR_SU_RETRY_MIN_MS;
    s->next_send_ms = now_ms + s->backoff_ms;
    su->send(s->framework_id, &s->head->status, su->ud);
}

int cr_su_add(struct cr_status_updates *su, const char *framework_id,
              const struct cr_task_status *status, int64_t now_ms)
{
    if (!status->has_uuid || !status->task_id)
        return -EINVAL;
    char *key = cr_agent_task_key(framework_id, status->task_id);
    struct cr_su_stream *s = cr_map_get(&su->streams, key);
    if (!s) {
        s = cr_xcalloc(1, sizeof(*s));
        s->key = key;
        s->framework_id = cr_xstrdup(framework_id);
        s->task_id = cr_xstrdup(status->task_id);
        cr_map_put(&su->streams, s->key, s);
    } else {
        free(key);
    }
    struct cr_su_update *u = cr_xcalloc(1, sizeof(*u));
    if (cr_task_status_copy(&u->status, status) < 0) {
        free(u);
        if (s->n == 0) {
            cr_map_remove(&su->streams, s->key);
            stream_free(s);
        }
        return -ENOMEM;
    }
    if (s->tail)
        s->tail->next = u;
    else
        s->head = u;
    s->tail = u;
    s->n++;
    su->pending++;
    if (s->n == 1 && su->online)
        send_head(su, s, now_ms);
    return 0;
}

int cr_su_ack(struct cr_status_updates *su, const char *framework_id, const char *task_id,
              const unsigned char uuid[16], int64_t now_ms, enum cr_task_state *acked_state)
{
    char *key = cr_agent_task_key(framework_id, task_id);
    struct cr_su_stream *s = cr_map_get(&su->streams, key);
    free(key);
    if (!s)
        return -ENOENT;
    struct cr_su_update *u = s->head;
    if (memcmp(u->status.uuid, uuid, 16) != 0)
        return -ESTALE;
    if (acked_state)
        *acked_state = u->status.state;
    s->head = u->next;
    if (!s->head)
        s->tail = NULL;
    s->n--;
    su->pending--;
    cr_task_status_release(&u->status);
    free(u);
    if (s->n == 0) {
        cr_map_remove(&su->streams, s->key);
        stream_free(s);
        return 0;
    }
    s->sent = false;
    if (su->online)
        send_head(su, s, now_ms);
    return 0;
}

void cr_su_set_online(struct cr_status_updates *su, bool online, int64_t now_ms)
{
    su->online = online;
    size_t it = 0;
    const char *key;
    void *value;
    while (cr_map_next(&su->streams, &it, &key, &value)) {
        struct cr_su_stream *s = value;
        s->sent = false;
        if (online)
            send_head(su, s, now_ms);
    }
}

void cr_su_tick(struct cr_status_updates *su, int64_t now_ms)
{
    if (!su->online)
        return;
    size_t it = 0;
    const char *key;
    void *value;
    while (cr_map_next(&su->streams, &it, &key, &value)) {
        struct cr_su_stream *s = value;
        if (!s->sent) {
            send_head(su, s, now_ms);
            continue;
        }
        if (now_ms < s->next_send_ms)
            continue;
        s->backoff_ms *= 2;
        if (s->backoff_ms > CR_SU_RETRY_MAX_MS)
            s->backoff_ms = CR_SU_RETRY_MAX_MS;
        s->next_send_ms = now_ms + s->backoff_ms;
        su->send(s->framework_id, &s->head->status, su->ud);
    }
}

int64_t cr_su_next_due(const struct cr_status_updates *su)
{
    if (!su->online)
        return -1;
    int64_t best = -1;
    size_t it = 0;
    const char *key;
    void *value;
    while (cr_map_next(&su->streams, &it, &key, &value)) {
        const struct cr_su_stream *s = value;
        int64_t due = s->sent ? s->next_send_ms : 0;
        if (best < 0 || due < best)
            best = due;
    }
    return best;
}

size_t cr_su_pending(const struct cr_status_updates *su)
{
    return su->pending;
}

const struct cr_su_stream *cr_su_stream_find(const struct cr_status_updates *su,
                                             const char *framework_id, const char *task_id)
{
    char *key = cr_agent_task_key(framework_id, task_id);
    const struct cr_su_stream *s = cr_map_get(&su->streams, key);
    free(key);
    return s;
}
