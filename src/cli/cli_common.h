/*
 * cli_common.h - what every verb needs besides pure helpers: checking its arguments,
 * finding the master, blocking HTTP+JSON requests to it and to agents, error reporting
 * in the CLI's voice, `corral up`'s state file, and Ctrl-C as a flag for polling loops.
 *
 * The verbs are thin shells over public HTTP APIs; nothing here reads daemon files
 * other than the up.json that `corral up` writes for exactly this purpose.
 */
#ifndef CR_CLI_CLI_COMMON_H
#define CR_CLI_CLI_COMMON_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/err.h"
#include "cli/cli_util.h"

/* Master address used when nothing else names one. */
#define CR_CLI_DEFAULT_MASTER "127.0.0.1:5050"

/* The --master flag (a struct cr_cli_opt) of the verbs that talk to the master; out is
 * a const char ** for cr_cli_master_resolve(). */
#define CR_CLI_OPT_MASTER(out)                                                                     \
    {                                                                                              \
        "master", 0, CR_CLI_OPT_STRING, (out), "HOST:PORT",                                        \
            "the master (default: $CORRAL_MASTER, a running 'corral up', 127.0.0.1:5050)", 0, 0    \
    }

/* Exit codes. */
#define CR_CLI_EXIT_OK 0
#define CR_CLI_EXIT_FAIL 1
#define CR_CLI_EXIT_USAGE 2
#define CR_CLI_EXIT_INTERRUPTED 130

/* Print "corral <verb>: <message>" to stderr; returns CR_CLI_EXIT_FAIL. */
int cr_cli_fail(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print "corral <verb>: <message>" and a pointer to --help to stderr; returns
 * CR_CLI_EXIT_USAGE. */
int cr_cli_usage_fail(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A verb's help: its synopsis and description, then cr_cli_opts_usage(out, opts). */
typedef void cr_cli_usage_fn(FILE *out, const struct cr_cli_opt *opts);

/*
 * Parse the words after the verb (argv[1..argc)) against opts, for a verb that takes no
 * positional argument (task_id NULL) or exactly one task id (task_id non-NULL). Returns
 * true when the verb goes on, with *task_id set to an owned copy of the id (free it).
 * Returns false when the verb is done, with *exit_code set: CR_CLI_EXIT_OK after --help
 * printed usage() to stdout, CR_CLI_EXIT_USAGE after a usage error on stderr.
 */
bool cr_cli_parse_verb_args(const char *verb, cr_cli_usage_fn *usage, const struct cr_cli_opt *opts,
                            int argc, char **argv, char **task_id, int *exit_code);

/*
 * The state directory of `corral up`: env CORRAL_STATE_DIR, else $XDG_STATE_HOME/corral,
 * else ~/.local/state/corral. Returns owned text, or NULL when no home is known.
 */
char *cr_cli_state_dir_default(void);

/* Path of the up.json file in state_dir. Owned. */
char *cr_cli_up_file(const char *state_dir);

/*
 * Read state_dir/up.json. Returns 0 with *out owned, -ENOENT when there is none, or
 * another negative code with err filled.
 */
int cr_cli_up_read(const char *state_dir, json_t **out, struct cr_err *err);

/* Does process pid exist (kill(pid, 0) succeeds or fails with EPERM)? */
bool cr_cli_pid_alive(long pid);

/*
 * Resolve the master address: flag_value (--master), else env CORRAL_MASTER, else the
 * master of a running `corral up` (up.json in the default state dir), else 127.0.0.1:5050.
 * A comma-separated list names several masters: the first whose /health answers is used
 * (redirects then lead to the leader). "http://" and a trailing "/" are accepted and
 * dropped. Returns owned "host:port".
 */
char *cr_cli_master_resolve(const char *flag_value);

/*
 * One blocking HTTP request to http://<addr><path> (path starts with '/'), following
 * redirects. who names the other side in errors ("the master", "agent 127.0.0.1:5051").
 * Returns 0 with *status and the owned *body (NUL-terminated; may be NULL if body_out is
 * NULL), or a negative code with err reading "cannot reach <who> at <addr>: <reason>".
 */
int cr_cli_http(const char *who, const char *addr, const char *method, const char *path,
                const char *body, long timeout_ms, int *status, char **body_out, size_t *len_out,
                struct cr_err *err);

/*
 * GET path from addr and parse the JSON answer. Anything but 200 and a JSON document is
 * an error naming who, the path and the status or parse problem. *out is owned.
 */
int cr_cli_get_json(const char *who, const char *addr, const char *path, json_t **out,
                    struct cr_err *err);

/* GET /master/state from the master at addr. *out is owned. */
int cr_cli_master_state(const char *addr, json_t **out, struct cr_err *err);

/*
 * Resolve the master from master_flag (cr_cli_master_resolve) and GET its /master/state.
 * Returns the owned document, or NULL after reporting the failure in verb's voice
 * (cr_cli_fail: the verb then exits with CR_CLI_EXIT_FAIL).
 */
json_t *cr_cli_fetch_master_state(const char *verb, const char *master_flag);

/*
 * The part of a failed request worth showing a user: strerror(-rc) for plain network
 * errors (refused, reset, timed out, unreachable), else msg when non-empty. Borrowed.
 */
const char *cr_cli_net_reason(int rc, const char *msg);

/* Percent-encode s for a URL query value. Owned. */
char *cr_cli_url_escape(const char *s);

/* Set by SIGINT/SIGTERM once cr_cli_catch_signals() ran: the signal number, else 0. */
extern volatile sig_atomic_t cr_cli_signal;

/* Make SIGINT and SIGTERM set cr_cli_signal instead of killing the process, and make
 * them interrupt sleeps (no SA_RESTART). For blocking polling verbs. */
void cr_cli_catch_signals(void);

/* Sleep ms milliseconds, returning early (false) when a caught signal arrives. */
bool cr_cli_sleep_ms(long ms);

#endif
