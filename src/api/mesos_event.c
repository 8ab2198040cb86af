/*
 * mesos_event.c - encoders for scheduler Events (stream records), Offers and MasterInfo,
 * exactly as API-COMPAT.md §1.5 shows them (OFFERS nests "offers":{"offers":[..]},
 * ERROR nests "error":{"message":..}; offers always carry url.address).
 *
 * Every function returns a new reference; dump it with cr_json_dump() so the record is
 * one compact ASCII line.
 */
#include "api/mesos.h"
#include "api/mesos_internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

#define MASTER_PORT_DEFAULT 5050
#define AGENT_PORT_DEFAULT 5051

/* MasterInfo.ip: the IPv4 address in network byte order read as a little-endian
 * integer (127.0.0.1 -> 16777343), Mesos' historical encoding. 0 if not IPv4. */
static int64_t master_ip_number(const char *ip)
{
    unsigned char b[4];
    if (!ip || inet_pton(AF_INET, ip, b) != 1)
        return 0;
    return (int64_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                     (uint32_t)b[3] << 24);
}

json_t *cr_json_master_info(const struct cr_master_info *mi)
{
    int port = mi->port > 0 ? mi->port : MASTER_PORT_DEFAULT;
    json_t *o = cr_mj_object_new();
    cr_mj_set(o, "id", cr_mj_str(mi->id ? mi->id : ""));
    cr_mj_set(o, "ip", cr_mj_int(master_ip_number(mi->ip)));
    cr_mj_set(o, "port", cr_mj_int(port));
    if (mi->ip) {
        char *pid = cr_xasprintf("master@%s:%d", mi->ip, port);
        cr_mj_set(o, "pid", cr_mj_str(pid));
        free(pid);
    }
    cr_mj_set(o, "hostname", cr_mj_str(mi->hostname));
    cr_mj_set(o, "version", cr_mj_str(mi->version));
    json_t *addr = cr_mj_object_new();
    cr_mj_set(addr, "hostname", cr_mj_str(mi->hostname));
    cr_mj_set(addr, "ip", cr_mj_str(mi->ip));
    cr_mj_set(addr, "port", cr_mj_int(port));
    cr_mj_set(o, "address", addr);
    return o;
}

json_t *cr_json_offer(const struct cr_offer_view *ov)
{
    json_t *o = cr_mj_object_new();
    cr_mj_set(o, "id", cr_json_id(ov->id ? ov->id : ""));
    cr_mj_set(o, "framework_id", cr_json_id(ov->framework_id ? ov->framework_id : ""));
    cr_mj_set(o, "agent_id", cr_json_id(ov->agent_id ? ov->agent_id : ""));
    cr_mj_set(o, "hostname", cr_mj_str(ov->hostname ? ov->hostname : ""));

    json_t *addr = cr_mj_object_new();
    cr_mj_set(addr, "hostname", cr_mj_str(ov->hostname ? ov->hostname : ""));
    cr_mj_set(addr, "ip", cr_mj_str(ov->agent_ip));
    cr_mj_set(addr, "port", cr_mj_int(ov->agent_port > 0 ? ov->agent_port : AGENT_PORT_DEFAULT));
    json_t *url = cr_mj_object_new();
    cr_mj_set(url, "scheme", cr_mj_str("http"));
    cr_mj_set(url, "address", addr);
    cr_mj_set(url, "path", cr_mj_str("/slave(1)"));
    cr_mj_set(o, "url", url);

    if (ov->role) {
        json_t *ai = cr_mj_object_new();
        cr_mj_set(ai, "role", cr_mj_str(ov->role));
        cr_mj_set(o, "allocation_info", ai);
    }
    /* Always present, even empty: tobilg/mesos-framework iterates it unconditionally. */
    struct cr_res_style style = {.allocation_role = ov->role, .refinement = ov->refinement};
    cr_mj_set(o, "resources", cr_json_resources(ov->resources, &style));
    if (ov->attributes && ov->attributes->n)
        cr_mj_set(o, "attributes", cr_json_attributes(ov->attributes));
    /* Repeated fields only when non-empty, as Mesos (stout) emits them. */
    if (ov->nexecutor_ids) {
        json_t *ids = cr_mj_array_new();
        for (size_t i = 0; i < ov->nexecutor_ids; i++)
            cr_mj_append(ids, cr_json_id(ov->executor_ids[i]));
        cr_mj_set(o, "executor_ids", ids);
    }
    return o;
}

json_t *cr_event(const char *type, json_t *body)
{
    json_t *o = cr_mj_object_new();
    cr_mj_set(o, "type", cr_mj_str(type));
    if (body) {
        char key[64];
        cr_mj_set(o, cr_mj_body_key(key, sizeof(key), type), body);
    }
    return o;
}

json_t *cr_event_subscribed(const char *framework_id, double heartbeat_interval_seconds,
                            const struct cr_master_info *mi)
{
    json_t *b = cr_mj_object_new();
    cr_mj_set(b, "framework_id", cr_json_id(framework_id ? framework_id : ""));
    cr_mj_set(b, "heartbeat_interval_seconds", cr_mj_real(heartbeat_interval_seconds));
    if (mi)
        cr_mj_set(b, "master_info", cr_json_master_info(mi));
    return cr_event("SUBSCRIBED", b);
}

json_t *cr_event_offers(json_t *offers_array)
{
    json_t *b = cr_mj_object_new();
    cr_mj_set(b, "offers", offers_array ? offers_array : cr_mj_array_new());
    return cr_event("OFFERS", b);
}

json_t *cr_event_rescind(const char *offer_id)
{
    json_t *b = cr_mj_object_new();
    cr_mj_set(b, "offer_id", cr_json_id(offer_id ? offer_id : ""));
    return cr_event("RESCIND", b);
}

json_t *cr_event_update(const struct cr_task_status *status)
{
    json_t *b = cr_mj_object_new();
    cr_mj_set(b, "status", cr_json_task_status(status));
    return cr_event("UPDATE", b);
}

json_t *cr_event_failure(const char *agent_id, const char *executor_id, int status, bool has_status)
{
    json_t *b = cr_mj_object_new();
    cr_mj_set(b, "agent_id", cr_json_id(agent_id));
    cr_mj_set(b, "executor_id", cr_json_id(executor_id));
    if (has_status)
        cr_mj_set(b, "status", cr_mj_int(status));
    return cr_event("FAILURE", b);
}

json_t *cr_event_message(const char *agent_id, const char *executor_id, const char *data_b64)
{
    json_t *b = cr_mj_object_new();
    cr_mj_set(b, "agent_id", cr_json_id(agent_id ? agent_id : ""));
    cr_mj_set(b, "executor_id", cr_json_id(executor_id ? executor_id : ""));
    cr_mj_set(b, "data", cr_mj_str(data_b64 ? data_b64 : ""));
    return cr_event("MESSAGE", b);
}

json_t *cr_event_error(const char *message)
{
    json_t *b = cr_mj_object_new();
    cr_mj_set(b, "message", cr_mj_str(message ? message : ""));
    return cr_event("ERROR", b);
}

json_t *cr_event_heartbeat(void)
{
    return cr_event("HEARTBEAT", NULL);
}
