/*
 * health.h - a task's health check as Mesos runs it: a COMMAND run inside the task's
 * container, an HTTP GET or a TCP connect to 127.0.0.1:<port> in the task's network
 * namespace. The executor owns one checker per task and turns its results into
 * TASK_RUNNING updates with `healthy` set, and kills the task when told to.
 *
 * Timing and counting follow Mesos' health checker:
 *  - the first check runs delay_seconds after cr_health_checker_start(), the next one
 *    interval_seconds after the previous one finished (checks never overlap);
 *  - a check that takes longer than timeout_seconds is a failure (0 = no timeout); a
 *    COMMAND check's processes are killed;
 *  - failures within grace_period_seconds of the first start are ignored until a check
 *    has succeeded once;
 *  - every other failure adds to consecutive_failures, a success resets it; once it
 *    reaches spec.consecutive_failures the result carries kill = true (the executor
 *    kills the task with REASON_TASK_HEALTH_CHECK_STATUS_UPDATED; checks go on until
 *    it pauses or frees the checker).
 *
 * Results are reported only when they matter: the first success, a success after
 * failures, the first counted failure (healthy -> unhealthy) and the failure that
 * reaches the kill threshold. Failures in between (2 of 3) are only logged.
 *
 * What a check does:
 *  - COMMAND: `/bin/sh -c value` (or value + arguments when shell is false) in a child
 *    that joins the task's cgroups and enters its ipc, uts, net, pid and mnt namespaces,
 *    runs in the sandbox as the task's user with stdin from /dev/null and stdout/stderr
 *    to the executor's stderr; exit status 0 is healthy;
 *  - HTTP: `GET <path> HTTP/1.1` with Host and Connection: close to 127.0.0.1:<port>
 *    from a socket created in the task's network namespace; a 2xx or 3xx status line is
 *    healthy (redirects are not followed);
 *  - TCP: a connect to 127.0.0.1:<port> there that succeeds is healthy.
 *
 * Everything runs on the loop's thread (call these functions from it; a COMMAND check's
 * first process dies with that thread, PR_SET_PDEATHSIG). A COMMAND check is reaped
 * through a pidfd watched by a uv_poll: no SIGCHLD handler, no waitpid(-1). A check
 * that escapes its process group (setsid) is not killed on timeout: killing the task's
 * cgroup at the end is the executor's job.
 */
#ifndef CR_EXECUTOR_HEALTH_H
#define CR_EXECUTOR_HEALTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "api/mesos.h"
#include "base/err.h"

enum cr_health_type {
    CR_HEALTH_COMMAND = 1,
    CR_HEALTH_HTTP = 2,
    CR_HEALTH_TCP = 3,
};

/* A parsed Mesos HealthCheck. Durations are seconds with fractions, as in the proto. */
struct cr_health_spec {
    enum cr_health_type type;
    double delay_seconds;          /* default 15 */
    double interval_seconds;       /* default 10 */
    double timeout_seconds;        /* default 20; 0 = no timeout */
    double grace_period_seconds;   /* default 10 */
    uint32_t consecutive_failures; /* default 3 */
    /* HTTP and TCP */
    uint16_t port;   /* 1..65535 */
    bool is_ipv6;    /* protocol IPv6: connect to [::1] instead of 127.0.0.1 */
    char *http_path; /* owned; HTTP only: starts with '/', default "/" */
    /* COMMAND: value (+ arguments when shell = false) and environment.variables; uris
     * and user are parsed but not used (the check runs as the task's user) */
    struct cr_command command;
};

/* Defaults as above, type 0 (none yet). */
void cr_health_spec_init(struct cr_health_spec *spec);
/* Free what spec owns and reset it with cr_health_spec_init(). Accepts NULL. */
void cr_health_spec_release(struct cr_health_spec *spec);

/*
 * Parse a Mesos HealthCheck (the task's "health_check" object, borrowed) into spec,
 * which is initialised first. Accepts the typed shape ({"type": "HTTP", "http": {..}})
 * and the pre-1.2 one without type where exactly one of command/http/tcp is set.
 * Returns 0, or -EINVAL with spec released and err naming the field:
 * "health_check.http.port: must be 1..65535", "health_check.http.scheme: 'https' is not
 * supported (only 'http')", "health_check.type: unknown type 'GRPC'".
 */
int cr_health_parse(const json_t *obj, struct cr_health_spec *spec, struct cr_err *err);

/* What the checker needs to know about the task. Everything is borrowed and copied by
 * cr_health_checker_new(). */
struct cr_health_target {
    pid_t pid;               /* the task's leader (host pid): /proc/<pid>/ns/<ns> are entered */
    const char *sandbox;     /* working dir of a COMMAND check, as the task sees it (resolved
                                after entering its mount namespace); NULL = "/" */
    const char *const *envp; /* NULL-terminated base environment of a COMMAND check (the
                                check's variables override it); NULL = the executor's */
    const char *user;        /* run COMMAND checks as this user (looked up on the host);
                                NULL = as the executor */
    const char *const *cgroup_procs; /* cgroup.procs files a COMMAND check joins */
    size_t ncgroup_procs;
    bool enter_namespaces; /* false: the task shares the executor's namespaces */
};

/*
 * One reported result; valid during the callback only. message is borrowed and never
 * NULL: "HTTP health check passed: 200 OK", "HTTP health check failed: 503 Service
 * Unavailable", "TCP connection to 127.0.0.1:8080 failed: Connection refused", "Command
 * health check failed: exited with status 1", "Command health check timed out after 20
 * seconds".
 */
struct cr_health_result {
    bool healthy;
    uint32_t consecutive_failures; /* counted failures in a row, 0 when healthy */
    bool kill;                     /* consecutive_failures reached the spec's threshold */
    const char *message;
};

/*
 * Called on the loop thread for each reported result (see the file comment). The
 * callback may call cr_health_checker_pause(), cr_health_checker_start() or
 * cr_health_checker_free() on the checker.
 */
typedef void (*cr_health_result_fn)(void *ud, const struct cr_health_result *r);

struct cr_health_checker;

/*
 * Create a checker on loop for spec (copied) and target (copied). Nothing runs until
 * cr_health_checker_start(). On success *out is owned: free with cr_health_checker_free().
 * Returns 0, or -EINVAL (no type, no target pid while enter_namespaces, COMMAND without
 * a value) or -ENOENT (unknown user) with err filled.
 */
int cr_health_checker_new(uv_loop_t *loop, const struct cr_health_spec *spec,
                          const struct cr_health_target *target, cr_health_result_fn on_result,
                          void *ud, struct cr_health_checker **out, struct cr_err *err);

/*
 * Start checking: the first time, the first check runs after delay_seconds and the grace
 * period starts now; after a pause, the next check runs after interval_seconds. No-op
 * while running.
 */
void cr_health_checker_start(struct cr_health_checker *hc);

/*
 * Stop checking until the next start: the timer is stopped and a check in flight is
 * abandoned (a COMMAND check's processes are killed; they are reaped in the background).
 * Counters are kept. No-op when not running.
 */
void cr_health_checker_pause(struct cr_health_checker *hc);

/*
 * Stop, kill any running check's processes and reap them (blocking until they are
 * gone, which SIGKILL makes prompt), close the handles and free. The memory goes when
 * the loop next runs its close callbacks. No callback is made after this. Accepts NULL.
 */
void cr_health_checker_free(struct cr_health_checker *hc);

#endif
