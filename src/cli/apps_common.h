/*
 * apps_common.h - what the app verbs (apps.c, run.c, deploy.c) share: app ids, the App
 * JSON that `corral run` builds from its flags, a Server-Sent Events reader for the
 * master's /v2/events, the text of `corral apps` and `corral why`, deployment progress,
 * and (apps_wait.c) requests to the master's Marathon API and waiting for a deployment.
 *
 * The pure part (apps_common.c) touches no network, clock or environment: documents come
 * in, text goes to a FILE the caller passes, the time is a parameter. tests/unit/cli
 * checks it with hand-written documents. Times are shown in local time (HH:MM:SS).
 *
 * Waiting for a deployment (apps_wait.c): the event stream is opened BEFORE the change is
 * made (cr_apps_watch_open), so no event of the new deployment can be missed; then every
 * step of that deployment is printed until it succeeds or fails. When the stream cannot be
 * opened or drops, GET /v2/deployments/<id> is polled every 0.5 s instead (connection
 * errors are retried for up to a minute). While the stream runs, the deployment is also
 * polled every few seconds, so a lost event cannot make the wait hang.
 */
#ifndef CR_CLI_APPS_COMMON_H
#define CR_CLI_APPS_COMMON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/err.h"
#include "base/util.h"

/* ---- app ids ------------------------------------------------------------------------ */

/* The absolute app id for a name typed on the command line: "web" -> "/web", "/a/b" and
 * "a/b/" -> "/a/b". Owned. */
char *cr_apps_id(const char *name);

/* The app id as users read it, without the leading '/': "/a/web" -> "a/web". Borrowed. */
const char *cr_apps_display_id(const char *id);

/*
 * A short name for an instance: the last segment of its app id, '.', and the first four
 * characters of the task id's unique part, e.g. "web.3f2a" for task
 * "web.3f2a9c1e-..." or "group_web.instance-3f2a..._app.1" of app "/group/web". Task ids
 * of other shapes are used whole. Writes into buf.
 */
void cr_apps_short_task(const char *task_id, const char *app_id, char *buf, size_t size);

/* ---- corral run: flags -> App JSON -------------------------------------------------- */

/* Health check defaults of `corral run --health` (quick, for interactive use). */
#define CR_APPS_HC_GRACE_S 30
#define CR_APPS_HC_INTERVAL_S 2
#define CR_APPS_HC_TIMEOUT_S 2
#define CR_APPS_HC_DELAY_S 1
#define CR_APPS_HC_MAX_FAILURES 3

/* What `corral run` was given. Every pointer is borrowed. */
struct cr_apps_run_spec {
    const char *name;       /* app id ("web" or "/group/web") */
    long instances;         /* >= 0 */
    double cpus, mem, disk; /* per instance; mem and disk in MiB */
    const char *const *ports;
    size_t nports; /* --port N (0 = any free port), one portDefinition each */
    const char *const *env;
    size_t nenv; /* "K=V" */
    const char *const *labels;
    size_t nlabels; /* "K=V" */
    const char *const *constraints;
    size_t nconstraints; /* "field:OPERATOR[:value]", e.g. "hostname:UNIQUE" */
    const char *health;  /* "http[:/path]", "tcp", "cmd:<command line>", or NULL */
    bool is_spread;      /* label corral.placement=spread */
    const char *const *argv;
    size_t argc; /* the command: one word = "cmd" (run by /bin/sh -c), several = "args" */
};

/*
 * Build the Marathon App object for spec. --health http/tcp adds a portDefinition
 * {"port": 0} when no --port was given and checks portIndex 0 (MESOS_HTTP / MESOS_TCP);
 * cmd: adds a COMMAND check; each with the CR_APPS_HC_* timings. Returns 0 with *out
 * owned, or -EINVAL with err naming the flag and value that is wrong.
 */
int cr_apps_build_app(const struct cr_apps_run_spec *spec, json_t **out, struct cr_err *err);

/* ---- Server-Sent Events -------------------------------------------------------------- */

/*
 * One event: its type ("message" when the frame had no "event:" line) and its data (the
 * "data:" lines joined by '\n', NUL-terminated), both borrowed for the call. Return 0 to
 * go on, anything else to stop cr_sse_feed(), which then returns that value.
 */
typedef int cr_sse_event_fn(const char *type, const char *data, size_t len, void *ud);

/*
 * An incremental reader of a text/event-stream body. Bytes may arrive split anywhere
 * (inside a line, between '\r' and '\n'); lines end in CRLF, LF or CR; an empty line ends
 * a frame, and a frame without data (a heartbeat) is no event; ':' lines are comments;
 * "id:" and "retry:" are ignored. Zero-initialised storage is not valid: use cr_sse_init.
 */
struct cr_sse {
    struct cr_buf line; /* the line being read */
    struct cr_buf data; /* data of the frame being read */
    char *type;         /* event type of that frame, or NULL; owned */
    bool has_data;
    bool skip_lf;     /* the last byte was a '\r': a '\n' right after it ends nothing */
    size_t max_bytes; /* longest line or frame accepted */
};

/* Set up a reader accepting lines and frames of up to max_bytes (0 = 16 MiB). */
void cr_sse_init(struct cr_sse *p, size_t max_bytes);

/* Free what the reader holds. Accepts NULL. */
void cr_sse_release(struct cr_sse *p);

/*
 * Feed bytes; fn is called for each complete event, in order. Returns 0, fn's non-zero
 * answer (the remaining bytes are dropped), or -E2BIG with err when a line or frame is
 * longer than max_bytes.
 */
int cr_sse_feed(struct cr_sse *p, const char *buf, size_t len, cr_sse_event_fn *fn, void *ud,
                struct cr_err *err);

/* ---- formatting ------------------------------------------------------------------------ */

/* An ISO-8601 UTC time ("2024-05-01T12:00:00.123Z", fraction optional) as epoch seconds;
 * NAN when text is NULL or malformed. */
double cr_apps_parse_time(const char *text);

/* epoch seconds as local "HH:MM:SS" (with "YYYY-MM-DD " in front when it is not the same
 * local day as now); "-" for NAN. */
void cr_apps_fmt_clock(char *buf, size_t size, double t, double now);

/*
 * The table of `corral apps`: ID, INSTANCES (running/healthy/staged/wanted; healthy is
 * "-" for an app without health checks), DEPLOYMENT ("none", the running deployment's
 * "step i/n Action", and/or "delayed until T"), CMD (cut to 40 characters).
 * apps: the answer of GET /v2/apps?embed=apps.counts&embed=apps.deployments;
 * deployments: GET /v2/deployments (array) or NULL; queue: GET /v2/queue or NULL; now:
 * epoch seconds. Prints "no apps" for an empty list.
 */
void cr_apps_print_table(const json_t *apps, const json_t *deployments, const json_t *queue,
                         double now, FILE *out);

/*
 * What `corral why` says about app_id (absolute) from a GET /v2/queue answer: how many
 * instances wait and since when, the launch delay, and for each requirement that some
 * machine failed the number of machines that failed it (else the diagnosis's message). Returns true
 * when the app is in the queue, false (printing nothing) when it is not.
 */
bool cr_apps_print_why(const char *app_id, const json_t *queue, double now, FILE *out);

/*
 * An error answer of the API: "<status>: <message>" then one "  <path>: <error>" line per
 * details entry (Marathon's 4xx bodies); the raw text when the body is not such JSON.
 * json may be NULL; raw may be NULL.
 */
void cr_apps_print_error(int status, const json_t *json, const char *raw, FILE *out);

/* ---- log lines of several instances ------------------------------------------------------ */

/* Writes one instance's output as whole lines, each prefixed "[<name>] ", so the output
 * of several instances interleaves line by line. */
struct cr_apps_prefixer {
    char prefix[128];
    struct cr_buf partial; /* the start of a line not ended yet */
};

/* Set up for instance name (e.g. "web.3f2a"). */
void cr_apps_prefixer_init(struct cr_apps_prefixer *p, const char *name);

/* Write the complete lines of what came so far to out; keep a last partial line. */
void cr_apps_prefixer_write(struct cr_apps_prefixer *p, const char *data, size_t len, FILE *out);

/* Write a kept partial line, ended by '\n' (the instance's output has ended). */
void cr_apps_prefixer_flush(struct cr_apps_prefixer *p, FILE *out);

/* Free what p holds. Accepts NULL. */
void cr_apps_prefixer_release(struct cr_apps_prefixer *p);

/* ---- deployment progress --------------------------------------------------------------- */

enum cr_apps_outcome {
    CR_APPS_RUNNING = 0, /* not over yet */
    CR_APPS_SUCCEEDED,
    CR_APPS_FAILED,
    CR_APPS_CANCELLED,
    CR_APPS_ROLLED_BACK,
};

/*
 * What one wait has seen of one deployment. apps is the set of affected app ids (a JSON
 * object used as a set), seeded by the caller and completed from the plan; status
 * updates and health changes of their instances are printed.
 */
struct cr_apps_progress {
    char *deployment_id; /* owned */
    json_t *apps;        /* owned object: app id -> true */
    json_t *task_states; /* owned object: task id -> last state printed */
    int last_step;       /* currentStep last printed from a polled deployment, or 0 */
    enum cr_apps_outcome outcome;
    char reason[512]; /* why it failed, when it did */
};

/* Start watching deployment_id (copied); app_ids (borrowed, NULL-terminated, may be NULL)
 * are the apps the change is about. */
void cr_apps_progress_init(struct cr_apps_progress *p, const char *deployment_id,
                           const char *const *app_ids);

/* Free what p holds. Accepts NULL. */
void cr_apps_progress_release(struct cr_apps_progress *p);

/*
 * Take one event of /v2/events (type, parsed data): print what it says about p's
 * deployment or its apps' instances to out (a task's state only when it changed), and set
 * p->outcome on deployment_success
 * (SUCCEEDED) or deployment_failed (FAILED, reason copied). Other deployments' events are
 * ignored. Step events may have Marathon's form {"plan": {id, steps}, "currentStep":
 * {actions}} or carry the deployment object itself {id, steps, currentActions, currentStep:
 * N, totalSteps} (Corral's master). Returns p->outcome.
 */
enum cr_apps_outcome cr_apps_progress_event(struct cr_apps_progress *p, const char *type,
                                            const json_t *ev, FILE *out);

/*
 * Take a polled GET /v2/deployments/<id> object: print the current step when it changed
 * (to out; NULL prints nothing) and set p->outcome from "status" (a missing status counts as
 * running). Returns p->outcome.
 */
enum cr_apps_outcome cr_apps_progress_poll(struct cr_apps_progress *p, const json_t *dep,
                                           FILE *out);

/* The closing line for p's outcome: "deployment <id> succeeded", "deployment <id> failed:
 * <reason>", "... was cancelled", "... was rolled back". */
void cr_apps_outcome_text(const struct cr_apps_progress *p, char *buf, size_t size);

/*
 * The version to roll back to from GET /v2/apps/<id>/versions (newest first): the one
 * right after current in the list (or the second newest when current is NULL or not
 * listed). Borrowed from versions, or NULL when there is none older.
 */
const char *cr_apps_previous_version(const json_t *versions, const char *current);

/* ---- requests (apps_wait.c) ---------------------------------------------------------- */

/* An answer of the master's Marathon API. */
struct cr_apps_reply {
    int status;
    json_t *json;        /* the parsed body, or NULL when it is not JSON; owned */
    char *body;          /* the raw body, NUL-terminated; owned */
    char *deployment_id; /* Marathon-Deployment-Id header, else the body's deploymentId
                            or deployments[0].id, else NULL; owned */
};

/* Free r's fields. Accepts NULL. */
void cr_apps_reply_release(struct cr_apps_reply *r);

/*
 * One blocking request to http://<master><path> (following redirects to the leader)
 * with body (JSON text or NULL). Returns 0 with *out filled whatever the HTTP status
 * (release it), or a negative code with err "cannot reach the master at <addr>: <why>".
 */
int cr_apps_request(const char *master, const char *method, const char *path, const char *body,
                    struct cr_apps_reply *out, struct cr_err *err);

/*
 * Report a failed request in verb's voice: "corral <verb>: <what>: <status>: <message>"
 * and the details (cr_apps_print_error) on stderr. Returns CR_CLI_EXIT_FAIL.
 */
int cr_apps_fail_reply(const char *verb, const char *what, const struct cr_apps_reply *r);

/* The master's /v2 path for an app id: "/v2/apps" + the escaped id + suffix. Owned. */
char *cr_apps_path(const char *app_id, const char *suffix);

/* ---- waiting for a deployment (apps_wait.c) -------------------------------------------- */

struct cr_apps_watch;

/*
 * Open the event stream of master (deployment and instance events only) before making a
 * change. Always returns a watch (free it): when the stream cannot be opened, the wait
 * polls instead, after a note on stderr in verb's voice saying why.
 */
struct cr_apps_watch *cr_apps_watch_open(const char *verb, const char *master);

/*
 * Follow deployment_id until it ends, printing its steps and its apps' instance changes
 * to out. app_ids: the apps the change is about (NULL-terminated, may be NULL). Returns
 * CR_CLI_EXIT_OK when it succeeded; CR_CLI_EXIT_FAIL after printing "corral <verb>:
 * deployment <id> failed: <reason>" (or cancelled, rolled back, or the master could not
 * be reached for a minute); CR_CLI_EXIT_INTERRUPTED on Ctrl-C (the deployment goes on).
 */
int cr_apps_watch_wait(struct cr_apps_watch *w, const char *deployment_id,
                       const char *const *app_ids, FILE *out);

/* Close the stream and free. Accepts NULL. */
void cr_apps_watch_free(struct cr_apps_watch *w);

/* Print an app's instances (short name, host:ports, state, health) after a
 * "<app>: N of M instances running" line. Returns the exit code. */
int cr_apps_print_instances(const char *verb, const char *master, const char *id);

/*
 * Make one change and report it in verb's voice: with is_wait, open the event stream
 * first; send method path body (JSON text or NULL); on an answer other than 2xx print the
 * API's message and details; else print "deployment <id> started" and, with is_wait,
 * follow it (cr_apps_watch_wait). app_ids as there. Returns the exit code.
 */
int cr_apps_change(const char *verb, const char *master, const char *method, const char *path,
                   const char *body, const char *const *app_ids, bool is_wait);

#endif
