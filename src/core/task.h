/*
 * task.h - task states and reasons (Mesos' TaskState / TaskStatus.Reason) and the task
 * state machine. PURE.
 *
 * Task state values equal Mesos' TaskState proto numbers. Reason and source values are
 * Corral's own (Mesos' reason numbers are not contiguous): on the wire and on disk they
 * are always written by name. See API-COMPAT.md §2.1 for the machine.
 *
 * Used by api/ (codecs), the master (task bookkeeping, what frameworks see) and the agent.
 */
#ifndef CR_CORE_TASK_H
#define CR_CORE_TASK_H

#include <stdbool.h>

enum cr_task_state {
    CR_TASK_STARTING = 0,
    CR_TASK_RUNNING = 1,
    CR_TASK_FINISHED = 2,
    CR_TASK_FAILED = 3,
    CR_TASK_KILLED = 4,
    CR_TASK_LOST = 5,
    CR_TASK_STAGING = 6,
    CR_TASK_ERROR = 7,
    CR_TASK_KILLING = 8,
    CR_TASK_DROPPED = 9,
    CR_TASK_UNREACHABLE = 10,
    CR_TASK_GONE = 11,
    CR_TASK_GONE_BY_OPERATOR = 12,
    CR_TASK_UNKNOWN = 13,
};
#define CR_TASK_STATE_COUNT 14

/* Who generated a status update; CR_SOURCE_NONE = no source field. */
enum cr_task_source {
    CR_SOURCE_NONE = -1,
    CR_SOURCE_MASTER = 0,
    CR_SOURCE_AGENT = 1,
    CR_SOURCE_EXECUTOR = 2,
};

/* Reasons (Mesos' TaskStatus.Reason; new ones are appended before CR_REASON_COUNT so
 * existing values never change); CR_REASON_NONE = no reason field. */
enum cr_task_reason {
    CR_REASON_NONE = -1,
    CR_REASON_COMMAND_EXECUTOR_FAILED = 0,
    CR_REASON_CONTAINER_LAUNCH_FAILED,
    CR_REASON_CONTAINER_LIMITATION,
    CR_REASON_CONTAINER_LIMITATION_DISK,
    CR_REASON_CONTAINER_LIMITATION_MEMORY,
    CR_REASON_CONTAINER_PREEMPTED,
    CR_REASON_EXECUTOR_REGISTRATION_TIMEOUT,
    CR_REASON_EXECUTOR_TERMINATED,
    CR_REASON_FRAMEWORK_REMOVED,
    CR_REASON_INVALID_FRAMEWORKID,
    CR_REASON_INVALID_OFFERS,
    CR_REASON_MASTER_DISCONNECTED,
    CR_REASON_RECONCILIATION,
    CR_REASON_RESOURCES_UNKNOWN,
    CR_REASON_AGENT_DISCONNECTED,
    CR_REASON_AGENT_REMOVED,
    CR_REASON_AGENT_REMOVED_BY_OPERATOR,
    CR_REASON_AGENT_REREGISTERED,
    CR_REASON_AGENT_RESTARTED,
    CR_REASON_AGENT_UNKNOWN,
    CR_REASON_TASK_KILLED_DURING_LAUNCH,
    CR_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED,
    CR_REASON_TASK_INVALID,
    CR_REASON_TASK_UNAUTHORIZED,
    CR_REASON_TASK_UNKNOWN,
    CR_REASON_CONTAINER_UPDATE_FAILED,
    CR_REASON_EXECUTOR_REREGISTRATION_TIMEOUT,
    CR_REASON_EXECUTOR_UNREGISTERED,
    CR_REASON_GC_ERROR,
    CR_REASON_IO_SWITCHBOARD_EXITED,
    CR_REASON_MAX_COMPLETION_TIME_REACHED,
    CR_REASON_AGENT_DRAINING,
    CR_REASON_TASK_CHECK_STATUS_UPDATED,
    CR_REASON_TASK_GROUP_INVALID,
    CR_REASON_TASK_GROUP_UNAUTHORIZED,
    CR_REASON_COUNT
};

/* "TASK_RUNNING" etc.; "TASK_UNKNOWN" for out-of-range values. */
const char *cr_task_state_name(enum cr_task_state state);
/* Parse a state name. Returns 0 or -EINVAL. */
int cr_task_state_parse(const char *name, enum cr_task_state *out);

/* "REASON_INVALID_OFFERS" etc.; NULL for CR_REASON_NONE or out of range. */
const char *cr_task_reason_name(enum cr_task_reason reason);
/* Parse a reason name. Returns 0 or -EINVAL. */
int cr_task_reason_parse(const char *name, enum cr_task_reason *out);

/* "SOURCE_MASTER" etc.; NULL for CR_SOURCE_NONE or out of range. */
const char *cr_task_source_name(enum cr_task_source source);
/* Parse a source name. Returns 0 or -EINVAL. */
int cr_task_source_parse(const char *name, enum cr_task_source *out);

/*
 * FINISHED, FAILED, KILLED, ERROR, DROPPED, GONE, GONE_BY_OPERATOR: the task's resources
 * are free. (Mesos also counts LOST as terminal; Corral never produces LOST internally -
 * agents that vanish make tasks UNREACHABLE - so LOST stays "uncertain" here.)
 */
bool cr_task_state_is_terminal(enum cr_task_state state);

/*
 * Whether a task that is in from may move to to. Any state may repeat (health updates
 * re-send RUNNING; a retried terminal update changes nothing). Otherwise terminal states
 * are final; the uncertain states (LOST, UNREACHABLE, UNKNOWN) may go to any state when
 * the agent comes back; live states only move forward along STAGING -> STARTING ->
 * RUNNING -> KILLING, or to a terminal or uncertain state.
 */
bool cr_task_transition_ok(enum cr_task_state from, enum cr_task_state to);

/*
 * The state a framework sees: without PARTITION_AWARE, DROPPED, UNREACHABLE, GONE,
 * GONE_BY_OPERATOR and UNKNOWN are all reported as LOST.
 */
enum cr_task_state cr_task_state_for_framework(enum cr_task_state state, bool partition_aware);

#endif
