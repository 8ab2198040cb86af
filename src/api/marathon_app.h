/*
 * marathon_app.h - Marathon's App JSON <-> struct cr_app, and the Mesos TaskInfo an instance
 * of an app runs as (API-COMPAT.md §6.3, §6.4).
 *
 * Parsing is two passes. The JSON pass reads every field it knows into the app (starting
 * from Marathon's defaults, or from a base app for a partial update) and records shape
 * errors (a string where a number is: 400, Marathon's "error.expected.js*" names) and the
 * problems that are visible in the JSON alone (an operator that does not exist, a feature
 * Corral does not run yet: 422). The validation pass then checks the merged app (one of
 * cmd/args, ranges, a health check port that exists). Every problem found is reported, each
 * under the JSON pointer of its field, grouped per path as Marathon does. Unknown fields are
 * ignored and null means absent.
 *
 * Partial updates work per top-level field: a field present in the JSON replaces the base's
 * field as a whole (an "upgradeStrategy" with one member gets the default for the other),
 * an absent one keeps it. Setting "cmd" clears the base's "args" and the other way round.
 *
 * Honest limits, refused with 422 rather than silently dropped: container images, persistent
 * and external volumes, port mappings and non-host networks, fetch/uris, readiness checks,
 * dependencies, env secrets, custom executors, more than one health check.
 *
 * Used by the apps orchestrator (src/apps) and the Marathon HTTP routes.
 */
#ifndef CR_API_MARATHON_APP_H
#define CR_API_MARATHON_APP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "api/mesos.h"
#include "base/err.h"
#include "core/app.h"

/*
 * A Marathon error answer: status 400 (JSON shape/type errors, body {"message":"Invalid JSON",
 * "details":[{"path":"/cpus","errors":["error.expected.jsnumber"]}]}) or 422 (validation,
 * {"message":"Object is not valid","details":[{"path":"/upgradeStrategy/minimumHealthCapacity",
 * "errors":["is greater than 1"]}]}). body owned (json_decref); NULL when there is no error.
 */
struct cr_marathon_err {
    int status;
    json_t *body;
};
/* status 0, body NULL. */
void cr_marathon_err_init(struct cr_marathon_err *e);
/* Drop the body and init again. Accepts NULL. */
void cr_marathon_err_release(struct cr_marathon_err *e);

/*
 * Parse an App JSON object (obj borrowed).
 * path_id: the id from the URL (PUT /v2/apps/{id}), or NULL (POST): used when the body has no
 *          id (then, for a partial update, base's id); relative ids are made absolute under "/".
 * base:    NULL, or the existing app for a partial update (PATCH, PUT with partialUpdate):
 *          fields absent from obj keep base's values; fields present replace them.
 * out is released and filled (version/versionInfo are not taken from input: they are copied
 * from base, or NULL; the server sets them). base and out may not be the same app.
 * Returns 0 (merr untouched), or -EINVAL with merr released and filled (ALL problems found
 * listed in details, not only the first) and out left initialized (defaults).
 */
int cr_marathon_parse_app(const json_t *obj, const char *path_id, const struct cr_app *base,
                          struct cr_app *out, struct cr_marathon_err *merr);

/*
 * Normalise an id: "web" -> "/web", "/a/b/" -> "/a/b". Returns owned (free()) or NULL when
 * invalid (segments: lowercase letters, digits, '-', '.'; no empty segment, no "." or ".."
 * segment, not "/" alone).
 */
char *cr_marathon_app_id(const char *id);

/*
 * The App JSON as Marathon's GET /v2/apps/{id} shows it, every field with its value or
 * default: id, cmd, args, user, env, instances, cpus, mem, disk, gpus, executor "",
 * constraints, uris [], fetch [], storeUrls [], backoffSeconds, backoffFactor,
 * maxLaunchDelaySeconds, container (null or object), healthChecks, readinessChecks [],
 * dependencies [], upgradeStrategy {minimumHealthCapacity, maximumOverCapacity,
 * progressDeadlineSeconds}, labels, acceptedResourceRoles, version, versionInfo
 * {lastScalingAt, lastConfigChangeAt}, killSelection, unreachableStrategy ("disabled" or
 * {inactiveAfterSeconds, expungeAfterSeconds}), portDefinitions, requirePorts, networks
 * [{"mode":"host"}], role, taskKillGracePeriodSeconds (when set).
 * cr_marathon_parse_app() of the result gives back an equal app (cr_app_same_config, plus
 * instances). Returns a new reference.
 */
json_t *cr_marathon_app_json(const struct cr_app *app);

/*
 * TaskInfo label that tells Corral's executor to leave the kill after too many failed health
 * checks to the scheduler: it then sends one RUNNING update, healthy false, whose message
 * starts with CR_MARATHON_HEALTH_KILL_PREFIX, and keeps the task running.
 */
#define CR_MARATHON_HEALTH_KILL_LABEL "corral.health.kill"
#define CR_MARATHON_HEALTH_KILL_PREFIX "health check: consecutive failures reached"

/* What one instance launch needs besides the app. Strings borrowed. */
struct cr_marathon_launch {
    const char *task_id, *agent_id, *hostname;
    const char *role;           /* role of every resource; NULL = "*" */
    const uint64_t *host_ports; /* one per app port, assigned from the offer */
    size_t nhost_ports;
};

/*
 * The Mesos TaskInfo for an instance:
 *  - name: app id segments reversed, joined by '.' ("/prod/web" -> "web.prod");
 *  - task_id, agent_id from l;
 *  - resources in l->role: cpus, mem, disk and gpus when > 0, ports as ranges covering
 *    exactly l->host_ports;
 *  - command: cmd -> shell form; args -> shell=false, value=args[0], arguments=args; user;
 *  - environment: Marathon's PORT0..n, PORT, PORTS, PORT_<NAME>, HOST, MARATHON_APP_ID,
 *    MARATHON_APP_VERSION, MARATHON_APP_RESOURCE_CPUS/MEM/DISK/GPUS, MARATHON_APP_LABELS +
 *    MARATHON_APP_LABEL_<NAME>, MESOS_TASK_ID, then the app's env (which wins on a clash, as
 *    in Marathon);
 *  - kill_grace_ms from taskKillGracePeriodSeconds (-1 when unset);
 *  - extra "health_check": the first health check as the executor reads it
 *    (src/executor/health.c): HTTP kinds -> {"type":"HTTP","http":{port, path, scheme}},
 *    TCP kinds -> {"type":"TCP","tcp":{port}}, COMMAND -> {"type":"COMMAND","command":
 *    {"value"}}, plus delay_seconds, interval_seconds, timeout_seconds, consecutive_failures
 *    (maxConsecutiveFailures; 0 on a Marathon-level HTTP/TCP check means "never kill" and
 *    becomes 4294967295), grace_period_seconds; the port is the explicit one or the host port
 *    at portIndex;
 *  - extra "container": {"type":"MESOS","volumes":[{container_path, host_path, mode}]} only
 *    when the app has volumes; extra "labels": {"labels":[{key, value}]} when it has labels.
 * The result passes cr_task_info_validate(). out is released and filled.
 * Returns 0, or -EINVAL with err filled (host ports not one per app port, a required port
 * that differs from its host port, an app without cmd or args, missing task/agent id).
 */
int cr_marathon_task_info(const struct cr_app *app, const struct cr_marathon_launch *l,
                          struct cr_task_info *out, struct cr_err *err);

#endif
