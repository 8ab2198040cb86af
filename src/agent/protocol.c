/*
 * protocol.c - the agent's calls, encoded by api/agent_proto (see protocol.h).
 *
 * The cr_agent_call filled here only borrows: its arrays are ours (freed here) and every
 * struct in them is a shallow copy of the caller's, so cr_agent_call_release() must not
 * be called on it.
 */
#include "agent/protocol.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"

json_t *cr_agent_msg_subscribe(const struct cr_agent_subscribe_view *v)
{
    struct cr_agent_call c;
    memset(&c, 0, sizeof(c));
    c.type = CR_AGENT_CALL_SUBSCRIBE;
    c.agent_info = *v->info;
    c.address_ip = (char *)v->ip;
    c.address_port = v->port;
    c.version = (char *)v->version;
    c.nframeworks = v->nframeworks;
    c.frameworks = cr_xcalloc(v->nframeworks + 1, sizeof(*c.frameworks));
    for (size_t i = 0; i < v->nframeworks; i++)
        c.frameworks[i] = *v->frameworks[i];
    c.ntasks = v->ntasks;
    c.tasks = cr_xcalloc(v->ntasks + 1, sizeof(*c.tasks));
    for (size_t i = 0; i < v->ntasks; i++) {
        const struct cr_agent_subscribe_task *t = &v->tasks[i];
        c.tasks[i].framework_id = (char *)t->framework_id;
        c.tasks[i].task = *t->task;
        c.tasks[i].state = t->state;
        if (t->latest_status) {
            c.tasks[i].has_latest_status = true;
            c.tasks[i].latest_status = *t->latest_status;
        }
    }
    json_t *out = cr_json_agent_call(&c);
    free(c.frameworks);
    free(c.tasks);
    return out;
}

json_t *cr_agent_msg_update(const char *agent_id, const char *framework_id,
                            const struct cr_task_status *status)
{
    struct cr_agent_call c;
    memset(&c, 0, sizeof(c));
    c.type = CR_AGENT_CALL_UPDATE;
    c.agent_id = (char *)agent_id;
    c.framework_id = (char *)framework_id;
    c.status = *status;
    return cr_json_agent_call(&c);
}

json_t *cr_agent_msg_pong(const char *agent_id)
{
    struct cr_agent_call c;
    memset(&c, 0, sizeof(c));
    c.type = CR_AGENT_CALL_PONG;
    c.agent_id = (char *)agent_id;
    return cr_json_agent_call(&c);
}
