/*
 * fuzz_parsers.c - libFuzzer target for every parser of outside input in src/api: the
 * first input byte picks the parser (scheduler call, agent call, agent event, and the
 * message parsers behind them), the rest is the body. Built only with clang
 * (CC=clang meson setup ...; ninja tests/unit/api/fuzz_api_parsers), then e.g.
 *   ./fuzz_api_parsers -max_total_time=60
 * The unit tests run a seeded mutation loop over the same parsers under any compiler.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "api/agent_proto.h"
#include "api/mesos.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parse body as a JSON object and run one message parser over it. */
static void message(int which, const char *body, size_t len)
{
    struct cr_err err;
    json_t *j = cr_json_parse_object(body, len, &err);
    if (!j)
        return;
    switch (which) {
    case 0: {
        struct cr_task_info t;
        if (cr_parse_task_info(j, "t", &t, &err) == 0) {
            json_decref(cr_json_task_info(&t, NULL));
            cr_task_info_release(&t);
        }
        break;
    }
    case 1: {
        struct cr_task_status s;
        if (cr_parse_task_status(j, "s", &s, &err) == 0) {
            json_decref(cr_json_task_status(&s));
            cr_task_status_release(&s);
        }
        break;
    }
    case 2: {
        struct cr_framework_info fi;
        if (cr_parse_framework_info(j, "f", &fi, &err) == 0) {
            json_decref(cr_json_framework_info(&fi));
            cr_framework_info_release(&fi);
        }
        break;
    }
    default: {
        struct cr_agent_info a;
        if (cr_parse_agent_info(j, "a", &a, &err) == 0) {
            json_decref(cr_json_agent_info(&a));
            cr_agent_info_release(&a);
        }
        break;
    }
    }
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    struct cr_err err;
    switch (data[0] % 8) {
    case 0: {
        struct cr_sched_call c;
        if (cr_parse_sched_call(body, len, &c, &err) == 0)
            cr_sched_call_release(&c);
        break;
    }
    case 1: {
        struct cr_agent_call c;
        if (cr_parse_agent_call(body, len, &c, &err) == 0) {
            json_decref(cr_json_agent_call(&c));
            cr_agent_call_release(&c);
        }
        break;
    }
    case 2: {
        struct cr_agent_event e;
        if (cr_parse_agent_event(body, len, &e, &err) == 0)
            cr_agent_event_release(&e);
        break;
    }
    case 3: {
        struct cr_attributes a;
        char *text = malloc(len + 1);
        if (!text)
            return 0;
        for (size_t i = 0; i < len; i++)
            text[i] = body[i] ? body[i] : ' ';
        text[len] = '\0';
        cr_attributes_init(&a);
        if (cr_attributes_parse_text(&a, text, &err) == 0)
            json_decref(cr_json_attributes(&a));
        cr_attributes_release(&a);
        free(text);
        break;
    }
    default:
        message(data[0] % 8 - 4, body, len);
    }
    return 0;
}
