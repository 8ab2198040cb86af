/*
 * http_scheduler.c - POST /api/v1/scheduler (Mesos v1 scheduler API, API-COMPAT.md §1).
 *
 * Checks the envelope (method, content type, stream id, framework) exactly as Mesos
 * does, then dispatches the parsed call to frameworks.c / offers.c / tasks.c. Every
 * call but SUBSCRIBE and UPDATE_FRAMEWORK is answered 202 before it is processed.
 */
#include <string.h>

#include "base/log.h"
#include "master/master_impl.h"

/* Mesos compares the whole Content-Type; we also accept a charset parameter. */
static bool content_type_ok(const char *ct, bool *is_protobuf)
{
    *is_protobuf = false;
    if (!ct)
        return false;
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    if (n == strlen("application/json") && strncasecmp(ct, "application/json", n) == 0)
        return true;
    if (n == strlen("application/x-protobuf") && strncasecmp(ct, "application/x-protobuf", n) == 0)
        *is_protobuf = true;
    return false;
}

/* Does the Accept header allow JSON? Missing = anything. */
static bool accepts_json(const char *accept)
{
    if (!accept || !*accept)
        return true;
    return strstr(accept, "application/json") || strstr(accept, "*/*") ||
           strstr(accept, "application/*") || strstr(accept, "application/recordio");
}

bool http_check_post_json(struct cr_http_req *req)
{
    if (strcmp(cr_http_req_method(req), "POST") != 0) {
        cr_http_req_add_header(req, "Allow", "POST");
        cr_http_respondf(req, 405, "Expecting 'POST', received '%s'", cr_http_req_method(req));
        return false;
    }
    const char *ct = cr_http_req_header(req, "Content-Type");
    bool is_protobuf;
    if (!ct) {
        cr_http_respondf(req, 400, "Expecting 'Content-Type' to be present");
        return false;
    }
    if (!content_type_ok(ct, &is_protobuf)) {
        if (is_protobuf)
            cr_http_respondf(req, 415,
                             "Content-Type 'application/x-protobuf' is not supported "
                             "by Corral; use 'application/json'");
        else
            cr_http_respondf(req, 415,
                             "Expecting 'Content-Type' of application/json or "
                             "application/x-protobuf, received '%s'",
                             ct);
        return false;
    }
    if (!accepts_json(cr_http_req_header(req, "Accept"))) {
        cr_http_respondf(req, 406, "Expecting 'Accept' to allow 'application/json'");
        return false;
    }
    return true;
}

static void dispatch(struct cr_master *m, struct cr_http_req *req, struct cr_sched_call *call)
{
    if (call->type == CR_CALL_SUBSCRIBE) {
        if (cr_http_req_header(req, "Mesos-Stream-Id")) {
            cr_http_respondf(req, 400,
                             "Subscribe calls should not include the "
                             "'Mesos-Stream-Id' header");
            return;
        }
        const char *id = call->framework_info.id;
        if (call->framework_id && (!id || strcmp(id, call->framework_id) != 0)) {
            cr_http_respondf(req, 400,
                             "'framework_id' differs from "
                             "'subscribe.framework_info.id'");
            return;
        }
        fw_subscribe(m, req, call);
        return;
    }
    if (call->type == CR_CALL_UNKNOWN) {
        cr_http_respondf(req, 501, "Received an unknown call type");
        return;
    }
    if (!call->framework_id) {
        cr_http_respondf(req, 400, "Expecting 'framework_id' to be present");
        return;
    }
    struct fw *fw = fw_find(m, call->framework_id);
    if (!fw || fw->removed) {
        cr_http_respondf(req, 400, "Framework '%s' not found", call->framework_id);
        return;
    }
    if (fw->local) {
        cr_http_respondf(req, 403,
                         "Framework '%s' is the master's built-in apps orchestrator; it takes "
                         "no calls over HTTP",
                         fw->id);
        return;
    }
    if (!fw->connected) {
        cr_http_respondf(req, 403, "Framework is not subscribed");
        return;
    }
    const char *sid = cr_http_req_header(req, "Mesos-Stream-Id");
    if (!sid) {
        cr_http_respondf(req, 400,
                         "All non-subscribe calls should include the "
                         "'Mesos-Stream-Id' header");
        return;
    }
    if (strcmp(sid, fw->stream_id) != 0) {
        cr_http_respondf(req, 400,
                         "The stream ID '%s' included in this request didn't match "
                         "the stream ID currently associated with framework ID '%s'",
                         sid, fw->id);
        return;
    }
    if (call->type == CR_CALL_UPDATE_FRAMEWORK) {
        fw_update_framework(m, req, fw, call);
        return;
    }

    switch (call->type) {
    case CR_CALL_TEARDOWN:
    case CR_CALL_ACCEPT:
    case CR_CALL_DECLINE:
    case CR_CALL_REVIVE:
    case CR_CALL_SUPPRESS:
    case CR_CALL_KILL:
    case CR_CALL_ACKNOWLEDGE:
    case CR_CALL_RECONCILE:
    case CR_CALL_REQUEST:
    case CR_CALL_MESSAGE:
    case CR_CALL_SHUTDOWN:
    case CR_CALL_ACCEPT_INVERSE_OFFERS:
    case CR_CALL_DECLINE_INVERSE_OFFERS:
    case CR_CALL_ACKNOWLEDGE_OPERATION_STATUS:
    case CR_CALL_RECONCILE_OPERATIONS:
        cr_http_respond(req, 202, NULL, NULL, 0);
        break;
    default:
        cr_http_respondf(req, 501, "Received an unknown call type");
        return;
    }

    switch (call->type) {
    case CR_CALL_TEARDOWN:
        fw_teardown(m, fw, CR_TEARDOWN_BY_FRAMEWORK);
        break;
    case CR_CALL_ACCEPT:
        offers_accept(m, fw, call);
        break;
    case CR_CALL_DECLINE:
        offers_decline(m, fw, call);
        break;
    case CR_CALL_REVIVE:
        cr_alloc_revive(m->alloc, fw->id, (const char *const *)call->roles, call->nroles);
        offers_schedule(m);
        break;
    case CR_CALL_SUPPRESS:
        cr_alloc_suppress(m->alloc, fw->id, (const char *const *)call->roles, call->nroles);
        break;
    case CR_CALL_KILL:
        task_kill(m, fw, call->task_id, call->agent_id, call->kill_grace_ms);
        break;
    case CR_CALL_ACKNOWLEDGE:
        task_acknowledge(m, fw, call);
        break;
    case CR_CALL_RECONCILE:
        task_reconcile(m, fw, call);
        break;
    case CR_CALL_REQUEST:
        /* Like Mesos' default allocator: requests are accepted and ignored. */
        break;
    default:
        CR_WARN("call not supported yet framework=%s call=%s", fw->id,
                cr_sched_call_name(call->type));
        break;
    }
}

void http_scheduler(struct cr_master *m, struct cr_http_req *req)
{
    if (!http_check_post_json(req))
        return;
    size_t len;
    const char *body = cr_http_req_body(req, &len);
    struct cr_sched_call call;
    memset(&call, 0, sizeof(call));
    struct cr_err err;
    cr_err_clear(&err);
    if (cr_parse_sched_call(body, len, &call, &err) < 0) {
        cr_http_respondf(req, 400, "Failed to validate scheduler::Call: %s", err.msg);
        cr_sched_call_release(&call);
        return;
    }
    dispatch(m, req, &call);
    cr_sched_call_release(&call);
}
