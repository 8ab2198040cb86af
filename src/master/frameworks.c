/*
 * frameworks.c - framework subscriptions: SUBSCRIBE (new and re-subscription),
 * disconnection and the failover timeout, TEARDOWN/removal, UPDATE_FRAMEWORK, and the
 * events written to a framework's stream (API-COMPAT.md §1.3).
 *
 * A framework's FrameworkInfo is committed to the registry before SUBSCRIBED is sent,
 * so a master restart knows every framework it acknowledged; the framework then has
 * its failover_timeout to re-subscribe before it is removed and its tasks killed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "master/master_impl.h"

#define TABLE "frameworks"

struct fw *fw_find(struct cr_master *m, const char *id)
{
    return id ? cr_map_get(&m->frameworks, id) : NULL;
}

static struct fw *completed_find(struct cr_master *m, const char *id)
{
    for (size_t i = 0; i < m->ncompleted_frameworks; i++) {
        struct fw *fw = m->completed_frameworks[i];
        if (fw && strcmp(fw->id, id) == 0)
            return fw;
    }
    return NULL;
}

bool fw_partition_aware(const struct fw *fw)
{
    return (fw->info.capabilities & CR_FWCAP_PARTITION_AWARE) != 0;
}

static void stream_closed(struct cr_http_stream *stream, void *ud);

/* A scheduler that does not read its stream loses its subscription (it may re-subscribe). */
static void check_send(struct fw *fw, int rc)
{
    if (rc == -ENOBUFS) {
        CR_WARN("framework does not read its event stream; dropping the subscription "
                "framework=%s pending_bytes=%zu",
                fw->id, cr_http_stream_pending(fw->stream));
        stream_closed(fw->stream, fw);
    } else if (rc < 0) {
        CR_DEBUG("event to a closed stream dropped framework=%s", fw->id);
    }
}

void fw_send(struct fw *fw, json_t *event)
{
    if (fw->connected && fw->local) {
        fw->local(fw, event, fw->local_ud);
        json_decref(event);
        return;
    }
    if (!fw->connected || !fw->stream) {
        json_decref(event);
        return;
    }
    check_send(fw, master_stream_send(fw->stream, event));
}

void fw_send_record(struct fw *fw, const char *record, size_t len)
{
    if (fw->connected && fw->stream)
        check_send(fw, master_stream_send_record(fw->stream, record, len));
}

void fw_heartbeat_all(struct cr_master *m)
{
    size_t len;
    char *rec = master_record(cr_event_heartbeat(), &len);
    if (!rec)
        return;
    size_t it = 0;
    void *v;
    while (cr_map_next(&m->frameworks, &it, NULL, &v))
        fw_send_record(v, rec, len);
    free(rec);
}

static struct fw *fw_new(struct cr_master *m, const char *id)
{
    struct fw *fw = cr_xcalloc(1, sizeof(*fw));
    fw->id = cr_xstrdup(id);
    fw->m = m;
    cr_map_init(&fw->tasks);
    cr_map_init(&fw->completed_by_id);
    fw->completed = cr_xcalloc(CR_MASTER_COMPLETED_TASKS, sizeof(*fw->completed));
    uv_timer_init(m->loop, &fw->failover_timer);
    fw->failover_timer.data = fw;
    return fw;
}

static void fw_close_cb(uv_handle_t *h)
{
    struct fw *fw = h->data;
    free(fw->id);
    free(fw);
}

void fw_free(struct fw *fw)
{
    if (!fw)
        return;
    size_t it = 0;
    void *v;
    while (cr_map_next(&fw->tasks, &it, NULL, &v))
        task_free(v);
    cr_map_release(&fw->tasks);
    cr_map_release(&fw->completed_by_id);
    for (size_t i = 0; i < CR_MASTER_COMPLETED_TASKS; i++)
        task_free(fw->completed[i]);
    free(fw->completed);
    cr_framework_info_release(&fw->info);
    if (fw->stream) {
        cr_http_stream_release(fw->stream);
        fw->stream = NULL;
    }
    uv_close((uv_handle_t *)&fw->failover_timer, fw_close_cb);
}

static void allocator_roles(const struct fw *fw, const char *const **roles, size_t *n)
{
    *roles = (const char *const *)fw->info.roles;
    *n = fw->info.nroles;
}

static void failover_expired(uv_timer_t *t)
{
    struct fw *fw = t->data;
    CR_INFO("framework failover timeout expired framework=%s name=%s", fw->id,
            fw->info.name ? fw->info.name : "");
    fw_teardown(fw->m, fw, "failover timeout expired");
}

/* min_ms: a floor (after a master restart frameworks get at least the agents' window). */
static void start_failover_timer(struct fw *fw, int64_t min_ms)
{
    double secs = fw->info.failover_timeout;
    if (secs < 0)
        secs = 0;
    uint64_t ms = secs > 1e9 ? (uint64_t)1e12 : (uint64_t)(secs * 1000.0);
    if (min_ms > 0 && ms < (uint64_t)min_ms)
        ms = (uint64_t)min_ms;
    uv_timer_start(&fw->failover_timer, failover_expired, ms, 0);
}

/* The stream of a framework went away (client closed, network broke). */
static void stream_closed(struct cr_http_stream *stream, void *ud)
{
    struct fw *fw = ud;
    if (fw->stream != stream) {
        cr_http_stream_release(stream);
        return;
    }
    struct cr_master *m = fw->m;
    cr_http_stream_release(stream);
    fw->stream = NULL;
    fw->connected = false;
    fw->unregistered_time = cr_wall_seconds();
    cr_alloc_set_framework_active(m->alloc, fw->id, false);
    offers_recover_framework(m, fw, false);
    if (m->stopping)
        return;
    CR_INFO("framework disconnected framework=%s failover_timeout=%.3fs", fw->id,
            fw->info.failover_timeout);
    start_failover_timer(fw, 0);
}

/* ---------------------------------------------------------------- SUBSCRIBE */

struct pending_sub {
    struct cr_http_req *req; /* NULL for an in-process framework */
    fw_local_fn local;
    void *local_ud;
    fw_local_done_fn local_done;
    void *local_done_ud;
    struct cr_framework_info info;
    char **suppressed_roles; /* owned */
    size_t nsuppressed;
    bool is_new;
};

static void pending_sub_free(struct pending_sub *p)
{
    cr_framework_info_release(&p->info);
    for (size_t i = 0; i < p->nsuppressed; i++)
        free(p->suppressed_roles[i]);
    free(p->suppressed_roles);
    free(p);
}

static void removed_error_stream(struct cr_http_req *req)
{
    /* Mesos answers a removed framework with an ERROR event on a fresh stream. */
    struct cr_http_stream *s = cr_http_stream_open(req, 200, "application/json", NULL, NULL);
    if (s) {
        master_stream_send(s, cr_event_error("Framework has been removed"));
        cr_http_stream_release(s);
    }
}

static void open_stream(struct cr_master *m, struct fw *fw, struct cr_http_req *req)
{
    if (m->stopping) {
        cr_http_respondf(req, 503, "Master is shutting down");
        return;
    }
    char sid[37];
    cr_uuid_text(sid);
    cr_http_req_add_header(req, "Mesos-Stream-Id", sid);
    cr_http_req_add_header(req, "Cache-Control", "no-cache");
    struct cr_http_stream *s = cr_http_stream_open(req, 200, "application/json", stream_closed, fw);
    if (!s)
        return;
    if (fw->stream) {
        /* A newer subscription replaces the old one (failover). */
        master_stream_send(fw->stream, cr_event_error("Framework failed over"));
        cr_http_stream_release(fw->stream);
    }
    fw->stream = s;
    snprintf(fw->stream_id, sizeof(fw->stream_id), "%s", sid);
    fw->connected = true;
    fw->recovered = false;

    struct cr_master_info mi;
    master_master_info(m, &mi);
    fw_send(fw, cr_event_subscribed(fw->id, CR_HEARTBEAT_ADVERTISED_S, &mi));
    fw_send(fw, cr_event_heartbeat());
}

/* An in-process framework has no stream: it is connected and its events go to p->local. */
static void connect_local(struct cr_master *m, struct fw *fw, struct pending_sub *p)
{
    if (fw->stream) {
        cr_http_stream_release(fw->stream);
        fw->stream = NULL;
    }
    fw->local = p->local;
    fw->local_ud = p->local_ud;
    fw->connected = true;
    fw->recovered = false;
    struct cr_master_info mi;
    master_master_info(m, &mi);
    fw_send(fw, cr_event_subscribed(fw->id, CR_HEARTBEAT_ADVERTISED_S, &mi));
    if (p->local_done)
        p->local_done(m, fw, 0, NULL, p->local_done_ud);
}

static void subscribe_failed(struct pending_sub *p, int status, const char *fmt, const char *msg)
{
    if (p->req) {
        cr_http_respondf(p->req, status, fmt, msg);
    } else if (p->local_done) {
        char buf[512];
        snprintf(buf, sizeof(buf), fmt, msg);
        p->local_done(NULL, NULL, -EIO, buf, p->local_done_ud);
    }
}

static void subscribe_committed(struct cr_master *m, int rc, const char *msg, void *ud)
{
    struct pending_sub *p = ud;
    if (rc < 0) {
        subscribe_failed(p, 503, "Failed to store the framework in the registry: %s", msg);
        struct fw *known = fw_find(m, p->info.id);
        if (known && !known->connected && !uv_is_active((uv_handle_t *)&known->failover_timer) &&
            !m->stopping)
            start_failover_timer(known, 0);
        pending_sub_free(p);
        return;
    }
    const char *id = p->info.id;
    struct fw *fw = fw_find(m, id);
    if (!fw && completed_find(m, id)) {
        /* Torn down (or its failover expired) while this subscription was committed: the
         * removal stands (its registry delete follows this write). */
        if (p->req)
            removed_error_stream(p->req);
        else
            subscribe_failed(p, 0, "%s", "framework has been removed");
        pending_sub_free(p);
        return;
    }
    struct cr_err err;
    cr_err_clear(&err);
    if (!fw) {
        fw = fw_new(m, id);
        cr_map_put(&m->frameworks, fw->id, fw);
        fw->info = p->info;
        memset(&p->info, 0, sizeof(p->info));
        fw->registered_time = cr_wall_seconds();
        const char *const *roles;
        size_t n;
        allocator_roles(fw, &roles, &n);
        if (cr_alloc_add_framework(m->alloc, fw->id, roles, n, &err) < 0)
            CR_ERROR("allocator refused framework framework=%s error=\"%s\"", fw->id, err.msg);
        CR_INFO("framework subscribed framework=%s name=%s user=%s", fw->id, fw->info.name,
                fw->info.user);
    } else {
        cr_framework_info_release(&fw->info);
        fw->info = p->info;
        memset(&p->info, 0, sizeof(p->info));
        fw->reregistered_time = cr_wall_seconds();
        uv_timer_stop(&fw->failover_timer);
        /* Offers made to the old subscription are void; new ones follow. */
        offers_recover_framework(m, fw, false);
        const char *const *roles;
        size_t n;
        allocator_roles(fw, &roles, &n);
        if (cr_alloc_update_framework(m->alloc, fw->id, roles, n, &err) < 0)
            CR_ERROR("allocator refused framework roles framework=%s error=\"%s\"", fw->id,
                     err.msg);
        cr_alloc_set_framework_active(m->alloc, fw->id, true);
        cr_alloc_revive(m->alloc, fw->id, NULL, 0);
        CR_INFO("framework re-subscribed framework=%s name=%s", fw->id, fw->info.name);
    }
    /* SUBSCRIBE says which roles start suppressed. */
    if (p->nsuppressed > 0)
        cr_alloc_suppress(m->alloc, fw->id, (const char *const *)p->suppressed_roles,
                          p->nsuppressed);
    if (p->req)
        open_stream(m, fw, p->req);
    else
        connect_local(m, fw, p);
    pending_sub_free(p);
    offers_schedule(m);
}

void fw_subscribe_local(struct cr_master *m, const struct cr_framework_info *info, fw_local_fn fn,
                        void *fn_ud, fw_local_done_fn done, void *done_ud)
{
    struct fw *known = fw_find(m, info->id);
    if (known)
        uv_timer_stop(&known->failover_timer);
    struct pending_sub *p = cr_xcalloc(1, sizeof(*p));
    p->local = fn;
    p->local_ud = fn_ud;
    p->local_done = done;
    p->local_done_ud = done_ud;
    p->suppressed_roles = cr_xcalloc(1, sizeof(char *));
    cr_framework_info_copy(&p->info, info);
    if (!p->info.id) {
        char buf[80];
        snprintf(buf, sizeof(buf), "%s-%04llu", m->id, (unsigned long long)m->next_fw_seq++);
        p->info.id = cr_xstrdup(buf);
        p->is_new = true;
    }
    master_persist(m, TABLE, p->info.id, cr_json_framework_info(&p->info), subscribe_committed, p);
}

void fw_subscribe(struct cr_master *m, struct cr_http_req *req, struct cr_sched_call *call)
{
    const char *id = call->framework_info.id;
    if (id && completed_find(m, id) && !fw_find(m, id)) {
        removed_error_stream(req);
        return;
    }
    struct fw *known = fw_find(m, id);
    if (known && known->local) {
        cr_http_respondf(req, 403,
                         "Framework '%s' is the master's built-in apps orchestrator; it cannot "
                         "be subscribed to over HTTP",
                         id);
        return;
    }
    if (known) /* it is coming back: the failover timeout no longer runs */
        uv_timer_stop(&known->failover_timer);
    struct pending_sub *p = cr_xcalloc(1, sizeof(*p));
    p->req = req;
    if (cr_framework_info_copy(&p->info, &call->framework_info) < 0) {
        free(p);
        cr_http_respondf(req, 500, "out of memory");
        return;
    }
    p->nsuppressed = call->nsuppressed_roles;
    p->suppressed_roles = cr_xcalloc(p->nsuppressed + 1, sizeof(char *));
    for (size_t i = 0; i < p->nsuppressed; i++)
        p->suppressed_roles[i] = cr_xstrdup(call->suppressed_roles[i]);
    if (!p->info.id) {
        char buf[80];
        snprintf(buf, sizeof(buf), "%s-%04llu", m->id, (unsigned long long)m->next_fw_seq++);
        p->info.id = cr_xstrdup(buf);
        p->is_new = true;
    }
    master_persist(m, TABLE, p->info.id, cr_json_framework_info(&p->info), subscribe_committed, p);
}

/* ---------------------------------------------------------------- UPDATE_FRAMEWORK */

struct pending_update {
    struct cr_http_req *req;
    char *id;
    struct cr_framework_info info;
};

static void update_committed(struct cr_master *m, int rc, const char *msg, void *ud)
{
    struct pending_update *p = ud;
    struct fw *fw = fw_find(m, p->id);
    if (rc < 0) {
        cr_http_respondf(p->req, 503, "Failed to store the framework in the registry: %s", msg);
    } else if (!fw || fw->removed) {
        cr_http_respondf(p->req, 400, "Framework '%s' not found", p->id);
    } else {
        cr_framework_info_release(&fw->info);
        fw->info = p->info;
        memset(&p->info, 0, sizeof(p->info));
        struct cr_err err;
        cr_err_clear(&err);
        const char *const *roles;
        size_t n;
        allocator_roles(fw, &roles, &n);
        if (cr_alloc_update_framework(m->alloc, fw->id, roles, n, &err) < 0)
            CR_ERROR("allocator refused framework roles framework=%s error=\"%s\"", fw->id,
                     err.msg);
        offers_recover_framework(m, fw, true);
        offers_schedule(m);
        cr_http_respond(p->req, 200, NULL, NULL, 0);
    }
    cr_framework_info_release(&p->info);
    free(p->id);
    free(p);
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

void fw_update_framework(struct cr_master *m, struct cr_http_req *req, struct fw *fw,
                         struct cr_sched_call *call)
{
    const struct cr_framework_info *ni = &call->framework_info;
    if (!ni->id || strcmp(ni->id, fw->id) != 0) {
        cr_http_respondf(req, 400,
                         "'update_framework.framework_info.id' must equal "
                         "'framework_id'");
        return;
    }
    if (!same_str(ni->user, fw->info.user) || !same_str(ni->principal, fw->info.principal) ||
        ni->checkpoint != fw->info.checkpoint) {
        cr_http_respondf(req, 400,
                         "Updating 'FrameworkInfo.user', 'principal' or "
                         "'checkpoint' is unsupported");
        return;
    }
    struct pending_update *p = cr_xcalloc(1, sizeof(*p));
    p->req = req;
    p->id = cr_xstrdup(fw->id);
    if (cr_framework_info_copy(&p->info, ni) < 0) {
        free(p->id);
        free(p);
        cr_http_respondf(req, 500, "out of memory");
        return;
    }
    master_persist(m, TABLE, fw->id, cr_json_framework_info(&p->info), update_committed, p);
}

/* ---------------------------------------------------------------- removal */

static void remember_completed(struct cr_master *m, struct fw *fw)
{
    if (!m->completed_frameworks)
        m->completed_frameworks =
            cr_xcalloc(CR_MASTER_COMPLETED_FRAMEWORKS, sizeof(*m->completed_frameworks));
    if (m->ncompleted_frameworks == CR_MASTER_COMPLETED_FRAMEWORKS) {
        fw_free(m->completed_frameworks[0]);
        memmove(m->completed_frameworks, m->completed_frameworks + 1,
                (CR_MASTER_COMPLETED_FRAMEWORKS - 1) * sizeof(*m->completed_frameworks));
        m->ncompleted_frameworks--;
    }
    m->completed_frameworks[m->ncompleted_frameworks++] = fw;
}

void fw_teardown(struct cr_master *m, struct fw *fw, const char *why)
{
    if (fw->removed)
        return;
    CR_INFO("removing framework framework=%s reason=\"%s\"", fw->id, why);
    fw->removed = true;
    uv_timer_stop(&fw->failover_timer);
    offers_recover_framework(m, fw, false);
    agent_shutdown_framework(m, fw->id);

    /* Every task of the framework ends; its resources go back. */
    size_t it = 0;
    void *v;
    struct task **list = cr_xcalloc(cr_map_count(&fw->tasks) + 1, sizeof(*list));
    size_t n = 0;
    while (cr_map_next(&fw->tasks, &it, NULL, &v))
        list[n++] = v;
    for (size_t i = 0; i < n; i++) {
        struct task *t = list[i];
        if (!cr_task_state_is_terminal(t->state))
            task_master_update(m, t, CR_TASK_KILLED, CR_REASON_FRAMEWORK_REMOVED,
                               "Framework removed");
        t->has_pending = false;
        task_complete(m, t);
    }
    free(list);

    cr_alloc_remove_framework(m->alloc, fw->id);
    master_unpersist(m, TABLE, fw->id, NULL, NULL);
    fw->unregistered_time = cr_wall_seconds();
    if (fw->stream) {
        /* A framework that asked for its own teardown just sees its stream end. */
        if (strcmp(why, CR_TEARDOWN_BY_FRAMEWORK) != 0)
            master_stream_send(fw->stream, cr_event_error("Framework has been removed"));
        cr_http_stream_release(fw->stream);
        fw->stream = NULL;
    }
    fw->connected = false;
    cr_map_remove(&m->frameworks, fw->id);
    remember_completed(m, fw);
    offers_schedule(m);
}

/* ---------------------------------------------------------------- recovery */

void fw_recover(struct cr_master *m, const char *id, const char *info_json)
{
    struct cr_err err;
    cr_err_clear(&err);
    json_t *j = cr_json_parse_object(info_json, strlen(info_json), &err);
    struct cr_framework_info info;
    memset(&info, 0, sizeof(info));
    if (!j || cr_parse_framework_info(j, "framework_info", &info, &err) < 0) {
        CR_ERROR("skipping unreadable framework in the registry framework=%s error=\"%s\"", id,
                 err.msg);
        json_decref(j);
        cr_framework_info_release(&info);
        return;
    }
    json_decref(j);
    if (!info.id)
        info.id = cr_xstrdup(id);
    struct fw *fw = fw_new(m, id);
    fw->info = info;
    fw->recovered = true;
    fw->registered_time = cr_wall_seconds();
    cr_map_put(&m->frameworks, fw->id, fw);
    const char *const *roles;
    size_t n;
    allocator_roles(fw, &roles, &n);
    if (cr_alloc_add_framework(m->alloc, fw->id, roles, n, &err) < 0)
        CR_ERROR("allocator refused framework framework=%s error=\"%s\"", fw->id, err.msg);
    cr_alloc_set_framework_active(m->alloc, fw->id, false);
    /* A master restart is not a framework failover: give the scheduler at least as long
     * to come back as the agents get to re-register. */
    start_failover_timer(fw, m->cfg.agent_reregister_timeout_ms);
    CR_INFO("framework recovered from the registry framework=%s name=%s failover_timeout=%.3fs",
            fw->id, fw->info.name, fw->info.failover_timeout);
}
