/*
 * app.h - an app definition of the built-in orchestrator (PURE: no I/O, no clock).
 *
 * The in-memory form of a Marathon app (API-COMPAT.md §6.3): what to run, what each instance
 * needs, how many, where it may go, how it is checked and how it is upgraded. The JSON lives
 * in src/api/marathon_app.c (parse + validate, and the App JSON back); the orchestrator
 * (src/apps) keeps one struct cr_app per app version.
 *
 * Amounts are thousandths as in core/resources.h (cpus 0.1 = 100, mem 64 MiB = 64000).
 * Durations are seconds as doubles, as Marathon's JSON has them. Every string is owned.
 */
#ifndef CR_CORE_APP_H
#define CR_CORE_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/placement.h"

struct cr_app_kv {
    char *name;
    char *value;
};

struct cr_app_port {
    int64_t port;   /* portDefinitions[].port (0 = any); with requirePorts the host port */
    char *name;     /* or NULL */
    char *protocol; /* "tcp" (default), "udp", "udp,tcp" */
    struct cr_app_kv *labels;
    size_t nlabels;
};

enum cr_app_hc_protocol {
    CR_APP_HC_HTTP = 0, /* Marathon-level kinds are mapped to the agent-side check too */
    CR_APP_HC_HTTPS,
    CR_APP_HC_TCP,
    CR_APP_HC_COMMAND,
    CR_APP_HC_MESOS_HTTP,
    CR_APP_HC_MESOS_HTTPS,
    CR_APP_HC_MESOS_TCP,
};

struct cr_app_health {
    enum cr_app_hc_protocol protocol;
    char *path;                                            /* HTTP kinds, default "/" */
    int64_t port;                                          /* explicit port, -1 = use port_index */
    int64_t port_index;                                    /* into ports[], default 0 */
    char *command;                                         /* COMMAND: command.value */
    double grace_period_s, interval_s, timeout_s, delay_s; /* [300, 60, 20, 15] */
    int64_t max_consecutive_failures;                      /* [3] */
    bool ignore_http1xx;
};

struct cr_app_volume {
    char *container_path;
    char *host_path;
    bool is_read_only; /* mode "RO" */
};

enum cr_app_kill_selection { CR_APP_KILL_YOUNGEST_FIRST = 0, CR_APP_KILL_OLDEST_FIRST };

struct cr_app {
    char *id;    /* absolute path, "/group/app" */
    char *cmd;   /* shell form, or NULL */
    char **args; /* exec form (argv), or NULL */
    size_t nargs;
    int64_t cpus, mem, disk; /* thousandths; defaults 1, 128, 0 */
    int64_t gpus;
    int64_t instances; /* default 1 */
    char *user;        /* or NULL */
    struct cr_app_kv *env;
    size_t nenv;
    struct cr_app_kv *labels;
    size_t nlabels;
    struct cr_place_constraint *constraints; /* strings owned here (field, value) */
    size_t nconstraints;
    char **accepted_roles;
    size_t naccepted_roles;
    char *role; /* or NULL = "*" */

    struct cr_app_port *ports; /* portDefinitions (or legacy ports) */
    size_t nports;
    bool require_ports;

    struct cr_app_health *health_checks;
    size_t nhealth_checks;

    /* upgradeStrategy */
    double minimum_health_capacity; /* [1.0] */
    double maximum_over_capacity;   /* [1.0] */
    double progress_deadline_s;     /* Corral: upgradeStrategy.progressDeadlineSeconds [600] */

    double backoff_s;          /* backoffSeconds [1] */
    double backoff_factor;     /* [1.15] */
    double max_launch_delay_s; /* maxLaunchDelaySeconds [300] */
    bool unreachable_disabled; /* unreachableStrategy "disabled" */
    double inactive_after_s;   /* [5] (Corral's default; Marathon's is 0) */
    double expunge_after_s;    /* [60] */
    enum cr_app_kill_selection kill_selection;
    double kill_grace_period_s; /* taskKillGracePeriodSeconds, -1 = unset */

    /* container: only volumes and the network mode run today; an image is accepted and
     * refused at launch with a clear message (has_image). */
    char *container_type; /* "MESOS", "DOCKER" or NULL */
    char *image;          /* container.docker.image, or NULL */
    struct cr_app_volume *volumes;
    size_t nvolumes;

    enum cr_place_strategy placement; /* label "corral.placement" = "spread" | "binpack",
                                         else the cluster default (set by the orchestrator) */
    bool has_placement_label;

    char *version;               /* ISO-8601 ms UTC, set by the server */
    char *last_scaling_at;       /* versionInfo.lastScalingAt */
    char *last_config_change_at; /* versionInfo.lastConfigChangeAt */
};

/* Marathon's defaults, every pointer NULL. */
void cr_app_init(struct cr_app *app);
void cr_app_release(struct cr_app *app);
/* dst := deep copy of src (dst released first). Returns 0. */
int cr_app_copy(struct cr_app *dst, const struct cr_app *src);
/*
 * True when a and b run the same thing: equal in everything but instances, version and
 * versionInfo. A change that keeps this true is a scaling (no restart); anything else is a
 * configuration change (rolling restart).
 */
bool cr_app_same_config(const struct cr_app *a, const struct cr_app *b);

#endif
