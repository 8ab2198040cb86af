/*
 * master.c - `corral master`: flags, start-up and recovery, HTTP routing, shutdown.
 *
 * Start-up: open the raft-backed registry; serve HTTP at once but answer 503 until the
 * registry is replayed and this node leads; then recreate every framework (waiting for
 * it to re-subscribe within its failover timeout) and every agent (waiting for it to
 * re-register and report its tasks) from the registry, and start the timers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/flags.h"
#include "base/log.h"
#include "base/util.h"
#include "apps/apps.h"
#include "master/master.h"
#include "master/master_impl.h"
#include "net/loop.h"
#include "net/recordio.h"

#define OFF(f) offsetof(struct master_config, f)

static const struct cr_flag master_flags[] = {
    {"ip", CR_FLAG_STRING, OFF(ip), "127.0.0.1", "IPv4 address to listen on and advertise", 0, 0},
    {"port", CR_FLAG_INT, OFF(port), "5050", "HTTP port (Mesos and Marathon APIs)", 1, 65535},
    {"hostname", CR_FLAG_STRING, OFF(hostname), NULL,
     "hostname to advertise (default: the machine's)", 0, 0},
    {"work-dir", CR_FLAG_STRING, OFF(work_dir), "/var/lib/corral/master",
     "directory for the registry (raft log and snapshots)", 0, 0},
    {"raft-port", CR_FLAG_INT, OFF(raft_port), "5070", "port of the raft transport", 1, 65535},
    {"offer-timeout", CR_FLAG_DURATION, OFF(offer_timeout_ms), "10secs",
     "rescind offers not used within this time", 1, 86400000},
    {"heartbeat-interval", CR_FLAG_DURATION, OFF(heartbeat_ms), "5secs",
     "how often framework streams get a HEARTBEAT (15 s is advertised)", 100, 15000},
    {"agent-ping-interval", CR_FLAG_DURATION, OFF(agent_ping_ms), "1secs",
     "how often agents are pinged", 10, 600000},
    {"agent-ping-misses", CR_FLAG_INT, OFF(agent_ping_misses), "5",
     "missed pings before an agent is marked unreachable", 1, 1000},
    {"agent-reregister-timeout", CR_FLAG_DURATION, OFF(agent_reregister_timeout_ms), "10mins",
     "after a master restart, how long agents have to re-register (and frameworks at least "
     "this long to re-subscribe) before they are marked unreachable (removed)",
     1000, 604800000},
    {"agent-removal-timeout", CR_FLAG_DURATION, OFF(agent_removal_timeout_ms), "10mins",
     "an agent unreachable this long is removed: its tasks become TASK_GONE (TASK_LOST for "
     "frameworks that are not PARTITION_AWARE) and, if it comes back, it must shut them down "
     "and register as a new agent; 0 = never",
     0, 2592000000},
    {"allocation-batch", CR_FLAG_DURATION, OFF(allocation_batch_ms), "5ms",
     "how long a burst of changes is coalesced before an allocation cycle", 0, 10000},
    {"max-body", CR_FLAG_BYTES, OFF(max_body_bytes), "8MB", "largest request body accepted", 1024,
     1073741824},
    {"weights", CR_FLAG_STRING, OFF(weights), NULL,
     "initial role weights, e.g. dev=2,prod=3.5 (roles the registry already weights keep "
     "their stored weight)",
     0, 0},
    {"apps-port", CR_FLAG_INT, OFF(apps_port), "8080",
     "port of the Marathon-compatible apps API (also under /v2 on --port); 0 = none", 0, 65535},
    {"placement", CR_FLAG_STRING, OFF(placement), "binpack",
     "where app instances go: binpack (fill one machine before the next) or spread (an app's "
     "label corral.placement overrides it)",
     0, 0},
    {"health-kill-fraction", CR_FLAG_DOUBLE, OFF(health_kill_fraction), "0.5",
     "at most this fraction of an app's instances is killed for failing health checks per "
     "--health-kill-window (at least one)",
     0, 1},
    {"health-kill-window", CR_FLAG_DURATION, OFF(health_kill_window_ms), "1mins",
     "the window of the health kill budget", 1000, 86400000},
    {"backoff-reset", CR_FLAG_DURATION, OFF(backoff_reset_ms), "30secs",
     "an app whose instance stays healthy this long forgets its launch backoff", 0, 86400000},
    {"log-level", CR_FLAG_STRING, OFF(log_level), "info", "debug, info, warn or error", 0, 0},
    {"config", CR_FLAG_STRING, OFF(config), NULL, "read flags from this file (name = value)", 0, 0},
    CR_FLAG_END,
};

static void stop(struct cr_master *m);

/* ---------------------------------------------------------------- helpers */

void master_master_info(const struct cr_master *m, struct cr_master_info *out)
{
    out->id = m->id;
    out->ip = m->advertised_ip;
    out->port = (int)m->cfg.port;
    out->hostname = m->cfg.hostname;
    out->version = CR_MESOS_VERSION;
}

char *master_record(json_t *event, size_t *len)
{
    char *text = cr_json_dump(event);
    json_decref(event);
    if (!text)
        return NULL;
    char *rec = cr_recordio_encode(text, strlen(text), len);
    free(text);
    return rec;
}

int master_stream_send_record(struct cr_http_stream *stream, const char *record, size_t len)
{
    if (cr_http_stream_pending(stream) > CR_MASTER_STREAM_MAX_PENDING)
        return -ENOBUFS;
    return cr_http_stream_write(stream, record, len);
}

int master_stream_send(struct cr_http_stream *stream, json_t *event)
{
    size_t len;
    char *rec = master_record(event, &len);
    if (!rec)
        return -ENOMEM;
    int rc = master_stream_send_record(stream, rec, len);
    free(rec);
    return rc;
}

struct persist_req {
    struct cr_master *m;
    master_persist_fn done;
    void *ud;
    char *table, *key;
};

static void persist_done(struct cr_state *st, int status, const char *msg, void *ud)
{
    struct persist_req *p = ud;
    if (status < 0)
        CR_ERROR("registry write failed table=%s key=%s error=\"%s\"", p->table, p->key, msg);
    if (p->done)
        p->done(p->m, status, msg, p->ud);
    free(p->table);
    free(p->key);
    free(p);
}

static struct persist_req *persist_req_new(struct cr_master *m, const char *table, const char *key,
                                           master_persist_fn done, void *ud)
{
    struct persist_req *p = cr_xcalloc(1, sizeof(*p));
    p->m = m;
    p->done = done;
    p->ud = ud;
    p->table = cr_xstrdup(table);
    p->key = cr_xstrdup(key);
    return p;
}

void master_persist(struct cr_master *m, const char *table, const char *key, json_t *value,
                    master_persist_fn done, void *ud)
{
    char *text = cr_json_dump(value);
    json_decref(value);
    struct persist_req *p = persist_req_new(m, table, key, done, ud);
    cr_state_put(m->state, table, key, text, text ? strlen(text) : 0, persist_done, p);
    free(text);
}

void master_persist_ops(struct cr_master *m, const struct cr_state_op *ops, size_t n,
                        master_persist_fn done, void *ud)
{
    struct persist_req *p = persist_req_new(m, n > 0 ? ops[0].table : "", "(batch)", done, ud);
    cr_state_write(m->state, ops, n, persist_done, p);
}

void master_unpersist(struct cr_master *m, const char *table, const char *key,
                      master_persist_fn done, void *ud)
{
    struct persist_req *p = persist_req_new(m, table, key, done, ud);
    cr_state_delete(m->state, table, key, persist_done, p);
}

/* ---------------------------------------------------------------- HTTP routing */

static bool path_is(const char *path, const char *a)
{
    return strcmp(path, a) == 0;
}

static void route(struct cr_http_req *req, void *ud)
{
    struct cr_master *m = ud;
    const char *path = cr_http_req_path(req);
    CR_DEBUG("http request method=%s path=%s peer=%s", cr_http_req_method(req), path,
             cr_http_req_peer(req));

    if (path_is(path, "/health") || path_is(path, "/master/health")) {
        cr_http_respond(req, 200, NULL, NULL, 0);
        return;
    }
    if (m->stopping) {
        cr_http_respondf(req, 503, "Master is shutting down");
        return;
    }
    bool is_api = path_is(path, "/api/v1/scheduler") || path_is(path, "/master/api/v1/scheduler") ||
                  path_is(path, "/api/v1") || path_is(path, "/master/api/v1") ||
                  path_is(path, "/mesos/api/v1") || path_is(path, "/corral/v1/agent");
    if (!m->ready) {
        if (is_api || !path_is(path, "/version")) {
            cr_http_respondf(req, 503, "Master is recovering its registry; retry shortly");
            return;
        }
    }
    if (m->ready && !cr_state_is_leader(m->state) && is_api) {
        uint64_t lid;
        const char *leader = cr_state_leader(m->state, &lid);
        if (!leader) {
            cr_http_respondf(req, 503, "No leading master is known; retry shortly");
            return;
        }
        /* Raft addresses are ip:raft-port; masters share the HTTP port convention. */
        char host[256];
        snprintf(host, sizeof(host), "%s", leader);
        char *colon = strrchr(host, ':');
        if (colon)
            *colon = '\0';
        char loc[512];
        snprintf(loc, sizeof(loc), "//%s:%lld%s", host, (long long)m->cfg.port, path);
        cr_http_req_add_header(req, "Location", loc);
        cr_http_respond(req, 307, NULL, NULL, 0);
        return;
    }
    if (path_is(path, "/api/v1/scheduler") || path_is(path, "/master/api/v1/scheduler")) {
        http_scheduler(m, req);
        return;
    }
    if (path_is(path, "/api/v1") || path_is(path, "/master/api/v1") ||
        path_is(path, "/mesos/api/v1")) {
        http_operator(m, req);
        return;
    }
    if (path_is(path, "/corral/v1/agent")) {
        http_agent(m, req);
        return;
    }
    if (http_legacy(m, req))
        return;
    if (m->apps && cr_apps_route(m->apps, req))
        return;
    cr_http_respondf(req, 404, "No such endpoint: %s", path);
}

/* ---------------------------------------------------------------- timers */

static void heartbeat_tick(uv_timer_t *t)
{
    fw_heartbeat_all(t->data);
}

static void ping_tick(uv_timer_t *t)
{
    agents_ping_all(t->data);
}

/* ---------------------------------------------------------------- recovery */

static int recover_framework(const char *key, const void *value, size_t len, void *ud)
{
    fw_recover(ud, key, value);
    return 0;
}

static int recover_agent(const char *key, const void *value, size_t len, void *ud)
{
    agent_recover(ud, key, value);
    return 0;
}

static void on_ready(struct cr_state *st, int status, const char *msg, void *ud)
{
    struct cr_master *m = ud;
    if (status < 0) {
        CR_ERROR("registry could not be recovered error=\"%s\"", msg);
        m->failed = true;
        stop(m);
        return;
    }
    weights_recover(m);
    cr_state_foreach(st, "frameworks", recover_framework, m);
    cr_state_foreach(st, "agents", recover_agent, m);
    agents_recover_removed(m);
    m->ready = true;
    m->elected_time = cr_wall_seconds();
    uv_timer_start(&m->heartbeat_timer, heartbeat_tick, (uint64_t)m->cfg.heartbeat_ms,
                   (uint64_t)m->cfg.heartbeat_ms);
    m->last_ping_tick_ms = cr_now_ms();
    uv_timer_start(&m->ping_timer, ping_tick, (uint64_t)m->cfg.agent_ping_ms,
                   (uint64_t)m->cfg.agent_ping_ms);
    cr_apps_start(m->apps);
    CR_INFO("master ready id=%s frameworks=%zu agents=%zu", m->id, cr_map_count(&m->frameworks),
            cr_map_count(&m->agents));
    offers_schedule(m);
}

static void on_leadership(struct cr_state *st, bool is_leader, void *ud)
{
    CR_INFO("leadership changed leader=%s", is_leader ? "self" : "other");
}

/* ---------------------------------------------------------------- shutdown */

static void state_closed(void *ud)
{
    struct cr_master *m = ud;
    m->state = NULL;
}

static void stop(struct cr_master *m)
{
    CR_INFO("master stopping");
    m->stopping = true;
    m->ready = false;
    uv_timer_stop(&m->heartbeat_timer);
    uv_timer_stop(&m->ping_timer);
    uv_timer_stop(&m->alloc_timer);
    uv_timer_stop(&m->offer_timer);
    uv_stop(m->loop);
}

static void on_signal(int signum, void *ud)
{
    stop(ud);
}

static void free_registry(struct cr_master *m)
{
    size_t it = 0;
    void *v;
    /* Agents first: they only borrow tasks. */
    while (cr_map_next(&m->agents, &it, NULL, &v))
        agent_free(v);
    cr_map_release(&m->agents);
    agents_removed_release(m);
    it = 0;
    while (cr_map_next(&m->frameworks, &it, NULL, &v))
        fw_free(v);
    cr_map_release(&m->frameworks);
    for (size_t i = 0; i < m->ncompleted_frameworks; i++)
        fw_free(m->completed_frameworks[i]);
    free(m->completed_frameworks);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: corral master [flags]\n\n"
                 "Runs a master: the control plane that admits agents, offers their resources\n"
                 "to frameworks (Mesos v1 scheduler API) and records what must survive a\n"
                 "restart in a raft log under --work-dir.\n\nflags:\n");
    cr_flags_usage(out, master_flags);
}

static char *machine_hostname(void)
{
    char buf[256];
    if (gethostname(buf, sizeof(buf)) != 0)
        return cr_xstrdup("localhost");
    buf[sizeof(buf) - 1] = '\0';
    return cr_xstrdup(buf);
}

int cr_master_main(int argc, char **argv)
{
    struct cr_master m;
    memset(&m, 0, sizeof(m));
    struct cr_err err;
    cr_err_clear(&err);
    int help = 0;
    cr_log_init("master");
    if (cr_flags_parse(master_flags, &m.cfg, argc - 1, argv + 1, NULL, &help, &err) < 0) {
        fprintf(stderr, "corral master: %s\n", err.msg);
        cr_flags_release(master_flags, &m.cfg);
        return 2;
    }
    if (help) {
        usage(stdout);
        cr_flags_release(master_flags, &m.cfg);
        return 0;
    }
    enum cr_log_level lvl;
    if (cr_log_level_parse(m.cfg.log_level, &lvl) < 0) {
        fprintf(stderr, "corral master: flag --log-level: unknown level '%s'\n", m.cfg.log_level);
        cr_flags_release(master_flags, &m.cfg);
        return 2;
    }
    cr_log_set_level(lvl);
    struct cr_apps_config acfg = {
        .port = m.cfg.apps_port,
        .placement = CR_PLACE_BINPACK,
        .health_kill_fraction = m.cfg.health_kill_fraction,
        .health_kill_window_s = (double)m.cfg.health_kill_window_ms / 1000.0,
        .backoff_reset_s = (double)m.cfg.backoff_reset_ms / 1000.0,
    };
    if (strcmp(m.cfg.placement, "spread") == 0) {
        acfg.placement = CR_PLACE_SPREAD;
    } else if (strcmp(m.cfg.placement, "binpack") != 0) {
        fprintf(stderr, "corral master: flag --placement: '%s' is not binpack or spread\n",
                m.cfg.placement);
        cr_flags_release(master_flags, &m.cfg);
        return 2;
    }
    if (m.cfg.weights && weights_validate_flag(m.cfg.weights, &err) < 0) {
        fprintf(stderr, "corral master: flag --weights: %s\n", err.msg);
        cr_flags_release(master_flags, &m.cfg);
        return 2;
    }
    struct in_addr addr;
    if (inet_pton(AF_INET, m.cfg.ip, &addr) != 1) {
        fprintf(stderr, "corral master: flag --ip: '%s' is not an IPv4 address\n", m.cfg.ip);
        cr_flags_release(master_flags, &m.cfg);
        return 2;
    }
    if (!m.cfg.hostname)
        m.cfg.hostname = machine_hostname();
    m.advertised_ip = cr_xstrdup(strcmp(m.cfg.ip, "0.0.0.0") == 0 ? "127.0.0.1" : m.cfg.ip);

    uv_loop_t loop;
    uv_loop_init(&loop);
    m.loop = &loop;
    cr_uuid_text(m.id);
    m.start_time = cr_wall_seconds();
    cr_map_init(&m.frameworks);
    cr_map_init(&m.agents);
    cr_map_init(&m.removed_agents);
    m.alloc = cr_alloc_new();
    offers_init(&m);
    uv_timer_init(&loop, &m.heartbeat_timer);
    m.heartbeat_timer.data = &m;
    uv_timer_init(&loop, &m.ping_timer);
    m.ping_timer.data = &m;

    int rc = 1;
    struct cr_loop_signals *sigs = NULL;
    char *raft_dir = cr_xasprintf("%s/registry", m.cfg.work_dir);
    char *raft_addr = cr_xasprintf("%s:%lld", m.advertised_ip, (long long)m.cfg.raft_port);
    char *bind_addr = cr_xasprintf("%s:%lld", m.cfg.ip, (long long)m.cfg.raft_port);
    if (cr_mkdir_p(m.cfg.work_dir, 0755, &err) < 0) {
        CR_ERROR("cannot create the work dir error=\"%s\"", err.msg);
        goto out;
    }
    struct cr_state_config scfg = {
        .dir = raft_dir,
        .id = 1,
        .address = raft_addr,
        .bind_address = strcmp(raft_addr, bind_addr) == 0 ? NULL : bind_addr,
        .election_timeout_ms = 150,
        .heartbeat_timeout_ms = 30,
        .on_ready = on_ready,
        .on_leadership_change = on_leadership,
        .ud = &m,
    };
    if (cr_state_open(&loop, &scfg, &m.state, &err) < 0) {
        CR_ERROR("cannot open the registry error=\"%s\"", err.msg);
        goto out;
    }
    struct cr_http_server_config hcfg = {
        .bind_ip = m.cfg.ip,
        .port = (uint16_t)m.cfg.port,
        .max_body_bytes = (size_t)m.cfg.max_body_bytes,
        .handler = route,
        .ud = &m,
    };
    if (cr_http_server_start(&loop, &hcfg, &m.http, &err) < 0) {
        CR_ERROR("cannot serve HTTP error=\"%s\"", err.msg);
        goto out;
    }
    m.apps = cr_apps_new(&m, &acfg, &err);
    if (!m.apps) {
        CR_ERROR("cannot start the apps orchestrator error=\"%s\"", err.msg);
        goto out;
    }
    if (cr_loop_on_signals(&loop, on_signal, &m, &sigs) < 0) {
        CR_ERROR("cannot install signal handlers");
        goto out;
    }
    CR_INFO("master listening id=%s address=%s:%u hostname=%s work_dir=%s", m.id, m.cfg.ip,
            cr_http_server_port(m.http), m.cfg.hostname, m.cfg.work_dir);
    uv_run(&loop, UV_RUN_DEFAULT);
    rc = m.failed ? 1 : 0;

out:
    m.stopping = true;
    m.ready = false;
    /* The registry closes first: writes still in flight fail (-ECANCELED) and their
     * requests are answered 503 while the server still exists; new requests already get
     * 503 (stopping). Then the server closes every connection and stream. */
    if (m.state) {
        cr_state_close(m.state, state_closed, &m);
        while (m.state)
            uv_run(&loop, UV_RUN_ONCE);
    }
    cr_apps_stop(m.apps);
    cr_http_server_free(m.http);
    m.http = NULL;
    cr_loop_signals_free(sigs);
    offers_release(&m);
    cr_apps_free(m.apps);
    m.apps = NULL;
    free_registry(&m);
    cr_alloc_free(m.alloc);
    uv_close((uv_handle_t *)&m.heartbeat_timer, NULL);
    uv_close((uv_handle_t *)&m.ping_timer, NULL);
    cr_loop_close_all(&loop);
    uv_loop_close(&loop);
    free(raft_dir);
    free(raft_addr);
    free(bind_addr);
    free(m.advertised_ip);
    cr_flags_release(master_flags, &m.cfg);
    CR_INFO("master stopped");
    return rc;
}
