/*
 * http_agent.c - POST /corral/v1/agent, the master's end of the agent protocol
 * (docs/protocol.md). The envelope is decoded by api/agent_proto; the work is in agents.c.
 */
#include <string.h>

#include "api/agent_proto.h"
#include "master/master_impl.h"

void http_agent(struct cr_master *m, struct cr_http_req *req)
{
    if (!http_check_post_json(req))
        return;
    size_t len;
    const char *body = cr_http_req_body(req, &len);
    struct cr_err err;
    cr_err_clear(&err);
    struct cr_agent_call call;
    cr_agent_call_init(&call);
    if (cr_parse_agent_call(body, len, &call, &err) < 0) {
        cr_http_respondf(req, 400, "Failed to validate agent call: %s", err.msg);
        cr_agent_call_release(&call);
        return;
    }
    switch (call.type) {
    case CR_AGENT_CALL_SUBSCRIBE:
        if (cr_http_req_header(req, "Mesos-Stream-Id"))
            cr_http_respondf(req, 400,
                             "Subscribe calls should not include the "
                             "'Mesos-Stream-Id' header");
        else
            agent_subscribe(m, req, &call);
        break;
    case CR_AGENT_CALL_UPDATE:
        agent_update(m, req, &call);
        break;
    case CR_AGENT_CALL_PONG:
        agent_pong(m, req, &call);
        break;
    default:
        cr_http_respondf(req, 501, "Received an unknown agent call type");
        break;
    }
    cr_agent_call_release(&call);
}
