/*
 * http_agent.c - POST /corral/v1/agent, the master's end of the agent protocol
 * (docs/protocol.md). Envelope checks here; the work is in agents.c.
 */
#include <string.h>

#include "master/master_impl.h"

void http_agent(struct cr_master *m, struct cr_http_req *req)
{
    if (!http_check_post_json(req))
        return;
    size_t len;
    const char *body = cr_http_req_body(req, &len);
    struct cr_err err;
    cr_err_clear(&err);
    json_t *j = cr_json_parse_object(body, len, &err);
    if (!j) {
        cr_http_respondf(req, 400, "Failed to parse agent call: %s", err.msg);
        return;
    }
    const char *type = json_string_value(json_object_get(j, "type"));
    if (!type) {
        cr_http_respondf(req, 400, "Failed to validate agent call: type: required string field "
                                   "missing");
    } else if (strcmp(type, "SUBSCRIBE") == 0) {
        if (cr_http_req_header(req, "Mesos-Stream-Id"))
            cr_http_respondf(req, 400, "Subscribe calls should not include the "
                                       "'Mesos-Stream-Id' header");
        else
            agent_subscribe(m, req, j);
    } else if (strcmp(type, "UPDATE") == 0) {
        agent_update(m, req, j);
    } else if (strcmp(type, "PONG") == 0) {
        agent_pong(m, req, j);
    } else {
        cr_http_respondf(req, 501, "Received an unknown agent call type '%s'", type);
    }
    json_decref(j);
}
