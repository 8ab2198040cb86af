/*
 * task.c - task state, reason and source names, and the task state machine (see task.h).
 * PURE: tables and comparisons only.
 */
#include "core/task.h"

#include <errno.h>
#include <string.h>

static const char *const STATE_NAMES[CR_TASK_STATE_COUNT] = {
    [CR_TASK_STARTING] = "TASK_STARTING",
    [CR_TASK_RUNNING] = "TASK_RUNNING",
    [CR_TASK_FINISHED] = "TASK_FINISHED",
    [CR_TASK_FAILED] = "TASK_FAILED",
    [CR_TASK_KILLED] = "TASK_KILLED",
    [CR_TASK_LOST] = "TASK_LOST",
    [CR_TASK_STAGING] = "TASK_STAGING",
    [CR_TASK_ERROR] = "TASK_ERROR",
    [CR_TASK_KILLING] = "TASK_KILLING",
    [CR_TASK_DROPPED] = "TASK_DROPPED",
    [CR_TASK_UNREACHABLE] = "TASK_UNREACHABLE",
    [CR_TASK_GONE] = "TASK_GONE",
    [CR_TASK_GONE_BY_OPERATOR] = "TASK_GONE_BY_OPERATOR",
    [CR_TASK_UNKNOWN] = "TASK_UNKNOWN",
};

static const char *const REASON_NAMES[CR_REASON_COUNT] = {
    [CR_REASON_COMMAND_EXECUTOR_FAILED] = "REASON_COMMAND_EXECUTOR_FAILED",
    [CR_REASON_CONTAINER_LAUNCH_FAILED] = "REASON_CONTAINER_LAUNCH_FAILED",
    [CR_REASON_CONTAINER_LIMITATION] = "REASON_CONTAINER_LIMITATION",
    [CR_REASON_CONTAINER_LIMITATION_DISK] = "REASON_CONTAINER_LIMITATION_DISK",
    [CR_REASON_CONTAINER_LIMITATION_MEMORY] = "REASON_CONTAINER_LIMITATION_MEMORY",
    [CR_REASON_CONTAINER_PREEMPTED] = "REASON_CONTAINER_PREEMPTED",
    [CR_REASON_EXECUTOR_REGISTRATION_TIMEOUT] = "REASON_EXECUTOR_REGISTRATION_TIMEOUT",
    [CR_REASON_EXECUTOR_TERMINATED] = "REASON_EXECUTOR_TERMINATED",
    [CR_REASON_FRAMEWORK_REMOVED] = "REASON_FRAMEWORK_REMOVED",
    [CR_REASON_INVALID_FRAMEWORKID] = "REASON_INVALID_FRAMEWORKID",
    [CR_REASON_INVALID_OFFERS] = "REASON_INVALID_OFFERS",
    [CR_REASON_MASTER_DISCONNECTED] = "REASON_MASTER_DISCONNECTED",
    [CR_REASON_RECONCILIATION] = "REASON_RECONCILIATION",
    [CR_REASON_RESOURCES_UNKNOWN] = "REASON_RESOURCES_UNKNOWN",
    [CR_REASON_AGENT_DISCONNECTED] = "REASON_AGENT_DISCONNECTED",
    [CR_REASON_AGENT_REMOVED] = "REASON_AGENT_REMOVED",
    [CR_REASON_AGENT_REMOVED_BY_OPERATOR] = "REASON_AGENT_REMOVED_BY_OPERATOR",
    [CR_REASON_AGENT_REREGISTERED] = "REASON_AGENT_REREGISTERED",
    [CR_REASON_AGENT_RESTARTED] = "REASON_AGENT_RESTARTED",
    [CR_REASON_AGENT_UNKNOWN] = "REASON_AGENT_UNKNOWN",
    [CR_REASON_TASK_KILLED_DURING_LAUNCH] = "REASON_TASK_KILLED_DURING_LAUNCH",
    [CR_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED] = "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED",
    [CR_REASON_TASK_INVALID] = "REASON_TASK_INVALID",
    [CR_REASON_TASK_UNAUTHORIZED] = "REASON_TASK_UNAUTHORIZED",
    [CR_REASON_TASK_UNKNOWN] = "REASON_TASK_UNKNOWN",
    [CR_REASON_CONTAINER_UPDATE_FAILED] = "REASON_CONTAINER_UPDATE_FAILED",
    [CR_REASON_EXECUTOR_REREGISTRATION_TIMEOUT] = "REASON_EXECUTOR_REREGISTRATION_TIMEOUT",
    [CR_REASON_EXECUTOR_UNREGISTERED] = "REASON_EXECUTOR_UNREGISTERED",
    [CR_REASON_GC_ERROR] = "REASON_GC_ERROR",
    [CR_REASON_IO_SWITCHBOARD_EXITED] = "REASON_IO_SWITCHBOARD_EXITED",
    [CR_REASON_MAX_COMPLETION_TIME_REACHED] = "REASON_MAX_COMPLETION_TIME_REACHED",
    [CR_REASON_AGENT_DRAINING] = "REASON_AGENT_DRAINING",
    [CR_REASON_TASK_CHECK_STATUS_UPDATED] = "REASON_TASK_CHECK_STATUS_UPDATED",
    [CR_REASON_TASK_GROUP_INVALID] = "REASON_TASK_GROUP_INVALID",
    [CR_REASON_TASK_GROUP_UNAUTHORIZED] = "REASON_TASK_GROUP_UNAUTHORIZED",
};

static const char *const SOURCE_NAMES[] = {
    [CR_SOURCE_MASTER] = "SOURCE_MASTER",
    [CR_SOURCE_AGENT] = "SOURCE_AGENT",
    [CR_SOURCE_EXECUTOR] = "SOURCE_EXECUTOR",
};
#define SOURCE_COUNT ((int)(sizeof(SOURCE_NAMES) / sizeof(SOURCE_NAMES[0])))

const char *cr_task_state_name(enum cr_task_state state)
{
    if ((int)state < 0 || (int)state >= CR_TASK_STATE_COUNT)
        return STATE_NAMES[CR_TASK_UNKNOWN];
    return STATE_NAMES[state];
}

int cr_task_state_parse(const char *name, enum cr_task_state *out)
{
    for (int i = 0; name && i < CR_TASK_STATE_COUNT; i++) {
        if (strcmp(STATE_NAMES[i], name) == 0) {
            *out = (enum cr_task_state)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *cr_task_reason_name(enum cr_task_reason reason)
{
    if ((int)reason < 0 || (int)reason >= CR_REASON_COUNT)
        return NULL;
    return REASON_NAMES[reason];
}

int cr_task_reason_parse(const char *name, enum cr_task_reason *out)
{
    for (int i = 0; name && i < CR_REASON_COUNT; i++) {
        if (strcmp(REASON_NAMES[i], name) == 0) {
            *out = (enum cr_task_reason)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *cr_task_source_name(enum cr_task_source source)
{
    if ((int)source < 0 || (int)source >= SOURCE_COUNT)
        return NULL;
    return SOURCE_NAMES[source];
}

int cr_task_source_parse(const char *name, enum cr_task_source *out)
{
    for (int i = 0; name && i < SOURCE_COUNT; i++) {
        if (strcmp(SOURCE_NAMES[i], name) == 0) {
            *out = (enum cr_task_source)i;
            return 0;
        }
    }
    return -EINVAL;
}

bool cr_task_state_is_terminal(enum cr_task_state state)
{
    switch (state) {
    case CR_TASK_FINISHED:
    case CR_TASK_FAILED:
    case CR_TASK_KILLED:
    case CR_TASK_ERROR:
    case CR_TASK_DROPPED:
    case CR_TASK_GONE:
    case CR_TASK_GONE_BY_OPERATOR:
        return true;
    default:
        return false;
    }
}

/* Whether the master has lost track of the task (it may still be running). */
static bool is_uncertain(enum cr_task_state state)
{
    return state == CR_TASK_LOST || state == CR_TASK_UNREACHABLE || state == CR_TASK_UNKNOWN;
}

/* Position of a live state on the forward path; -1 for the others. */
static int live_rank(enum cr_task_state state)
{
    switch (state) {
    case CR_TASK_STAGING:
        return 0;
    case CR_TASK_STARTING:
        return 1;
    case CR_TASK_RUNNING:
        return 2;
    case CR_TASK_KILLING:
        return 3;
    default:
        return -1;
    }
}

bool cr_task_transition_ok(enum cr_task_state from, enum cr_task_state to)
{
    if ((int)from < 0 || (int)from >= CR_TASK_STATE_COUNT || (int)to < 0 ||
        (int)to >= CR_TASK_STATE_COUNT)
        return false;
    if (from == to)
        return true;
    if (cr_task_state_is_terminal(from))
        return false;
    if (is_uncertain(from))
        return true;
    /* from is live: forward along the path, or out to a terminal/uncertain state. */
    if (cr_task_state_is_terminal(to) || is_uncertain(to))
        return true;
    return live_rank(to) > live_rank(from);
}

enum cr_task_state cr_task_state_for_framework(enum cr_task_state state, bool partition_aware)
{
    if (partition_aware)
        return state;
    switch (state) {
    case CR_TASK_DROPPED:
    case CR_TASK_UNREACHABLE:
    case CR_TASK_GONE:
    case CR_TASK_GONE_BY_OPERATOR:
    case CR_TASK_UNKNOWN:
        return CR_TASK_LOST;
    default:
        return state;
    }
}
