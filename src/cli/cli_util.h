/*
 * cli_util.h - pure helpers shared by the command-line verbs: argument parsing, aligned
 * tables, JSON accessors for the master's and agents' state documents, legacy resource
 * text ("[31000-32000, 33000-33010]"), log tails and task states.
 *
 * Nothing here touches the network, the clock or the environment; output goes only to a
 * FILE the caller passes. The verbs (src/cli/<verb>.c) call these, and the unit tests in
 * tests/unit/cli exercise them without a cluster.
 */
#ifndef CR_CLI_CLI_UTIL_H
#define CR_CLI_CLI_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"

/* ---- argument parsing ------------------------------------------------------------- */

enum cr_cli_opt_type {
    CR_CLI_OPT_BOOL,   /* out: bool *; "--json" (no value) */
    CR_CLI_OPT_STRING, /* out: const char ** (borrowed from argv) */
    CR_CLI_OPT_INT,    /* out: long *, bounded by [min, max] */
    CR_CLI_OPT_DOUBLE, /* out: double *, bounded by [min, max] */
    CR_CLI_OPT_LIST,   /* out: struct cr_cli_strlist *; the flag may repeat */
};

/* Values of a repeatable flag, in order. items is owned (free with cr_cli_strlist_release);
 * the strings are borrowed from argv. */
struct cr_cli_strlist {
    const char **items;
    size_t len;
};

/* Free the array of l (not the strings) and reset it. Accepts NULL. */
void cr_cli_strlist_release(struct cr_cli_strlist *l);

/* One flag of a verb. A table of them ends with CR_CLI_OPT_END. */
struct cr_cli_opt {
    const char *name; /* long name without dashes: "cpus" */
    char short_name;  /* 'f' for "-f", or 0 */
    enum cr_cli_opt_type type;
    void *out;           /* see enum cr_cli_opt_type; left untouched when the flag is absent */
    const char *metavar; /* "N", "HOST:PORT"; NULL for booleans */
    const char *help;    /* one line, lowercase */
    double min, max;     /* numeric bounds; ignored when min == max */
};

#define CR_CLI_OPT_END                                                                             \
    {                                                                                              \
        NULL, 0, CR_CLI_OPT_BOOL, NULL, NULL, NULL, 0, 0                                           \
    }

/* Stop flag parsing at the first positional argument (for "corral exec CMD ARGS..."). */
#define CR_CLI_ARGS_STOP_AT_POSITIONAL 1u

/* Positional arguments, in order. pos is owned (cr_cli_args_release); strings borrowed. */
struct cr_cli_args {
    const char **pos;
    size_t npos;
};

/*
 * Parse argv[0..argc) (the words after the verb) against opts. Accepts "--name value",
 * "--name=value", "-x value", "-xvalue" and "--" (everything after it is positional).
 * Returns 0; 1 when --help or -h was given (parsing stops there); or -EINVAL with err
 * naming the flag ("flag --cpus: 'x' is not a number"). out is filled in every case and
 * must be released.
 */
int cr_cli_args_parse(const struct cr_cli_opt *opts, int argc, char **argv, unsigned flags,
                      struct cr_cli_args *out, struct cr_err *err);

/* Free out->pos and reset it. Accepts NULL. */
void cr_cli_args_release(struct cr_cli_args *a);

/* Print one "  -f, --name VALUE   help" line per flag, aligned, plus --help. */
void cr_cli_opts_usage(FILE *out, const struct cr_cli_opt *opts);

/* ---- aligned tables ------------------------------------------------------------------ */

/* A table of text cells printed with columns aligned by two spaces. */
struct cr_cli_table {
    size_t ncols;
    const char *const *headers; /* borrowed: ncols strings that outlive the table */
    unsigned right_mask;        /* bit i set: column i is right-aligned (numbers) */
    char **cells;               /* owned: nrows * ncols sanitized copies */
    size_t nrows, cap_rows;
};

/* Set up an empty table. headers is borrowed; ncols must be 1..32. */
void cr_cli_table_init(struct cr_cli_table *t, size_t ncols, const char *const *headers,
                       unsigned right_mask);

/* Append a row of t->ncols cells (copied; NULL prints as "-"). Control characters are
 * replaced by '?' so server-provided text cannot drive the terminal. */
void cr_cli_table_add(struct cr_cli_table *t, const char *const *cells);

/* Print the header and rows. No trailing spaces; widths count UTF-8 characters. */
void cr_cli_table_print(const struct cr_cli_table *t, FILE *out);

/* Free the cells. Accepts NULL. */
void cr_cli_table_release(struct cr_cli_table *t);

/* ---- JSON accessors (all borrow from obj; tolerate obj == NULL or a wrong type) ------- */

/* Parse text as JSON (embedded NULs allowed in strings). Returns an owned reference, or
 * NULL with err saying where the document is broken. */
json_t *cr_cli_json_parse(const char *text, size_t len, struct cr_err *err);

/* obj[key] as a string, or NULL if absent or not a string. */
const char *cr_cli_json_str(const json_t *obj, const char *key);

/* obj[key] as a number (integer, real or numeric string), or def. */
double cr_cli_json_num(const json_t *obj, const char *key, double def);

/* obj[key] as a boolean, or def. */
bool cr_cli_json_bool(const json_t *obj, const char *key, bool def);

/* An id field: obj[key] as {"value": "x"} (v1 form) or "x" (legacy form); NULL if absent. */
const char *cr_cli_json_id(const json_t *obj, const char *key);

/* obj[key] if it is an array, else NULL. */
json_t *cr_cli_json_array(const json_t *obj, const char *key);

/* ---- numbers, durations and legacy resources ------------------------------------------ */

/* Format v with up to 3 decimals and no trailing zeros ("0.1", "2", "1024"); "-" for NaN. */
void cr_cli_fmt_num(char *buf, size_t size, double v);

/* Format a duration compactly: "45s", "12m", "3h", "5d"; "-" if negative or NaN. */
void cr_cli_fmt_age(char *buf, size_t size, double seconds);

/* An inclusive range of port numbers. */
struct cr_cli_range {
    uint64_t begin, end;
};

/* A set of ranges, kept sorted and merged. v is owned (cr_cli_ranges_release). */
struct cr_cli_ranges {
    struct cr_cli_range *v;
    size_t len, cap;
};

/* Parse the legacy text form "[31000-32000, 33000-33000]" (brackets optional, "" = empty)
 * into out, which must be zero-initialised or released. Returns 0 or -EINVAL. */
int cr_cli_ranges_parse(const char *text, struct cr_cli_ranges *out);

/* Add [begin, end] to r, keeping it sorted and merged. begin <= end. */
void cr_cli_ranges_add(struct cr_cli_ranges *r, uint64_t begin, uint64_t end);

/* Remove every number in b from a. */
void cr_cli_ranges_subtract(struct cr_cli_ranges *a, const struct cr_cli_ranges *b);

/* How many numbers r holds. */
uint64_t cr_cli_ranges_count(const struct cr_cli_ranges *r);

/* Write "31000-31004,31006,31008-32000" ("-" when empty); truncated to fit size. */
void cr_cli_ranges_format(const struct cr_cli_ranges *r, char *buf, size_t size);

/* Free r's array and reset it. Accepts NULL. */
void cr_cli_ranges_release(struct cr_cli_ranges *r);

/* ---- logs ----------------------------------------------------------------------------- */

/*
 * Where the last n lines of buf[0..len) start. A final line without '\n' counts as a line.
 * Sets *found to true when the line before them ends inside buf (so the answer is exact);
 * false when buf holds n or fewer lines, in which case the answer is 0 and the caller may
 * need earlier bytes unless buf starts at the beginning of the file. n == 0 answers len.
 */
size_t cr_cli_tail_start(const char *buf, size_t len, size_t n, bool *found);

/* ---- tasks in /master/state ------------------------------------------------------------ */

/* "TASK_RUNNING" -> "RUNNING"; other text unchanged. Borrows from state. */
const char *cr_cli_state_short(const char *state);

/* True for states after which the task never runs again (FINISHED, FAILED, KILLED, LOST,
 * ERROR, DROPPED, GONE, GONE_BY_OPERATOR, UNKNOWN), with or without the "TASK_" prefix. */
bool cr_cli_state_is_terminal(const char *state);

/* Timestamp (epoch seconds) of a legacy task's latest status, or NAN if it has none. */
double cr_cli_task_updated(const json_t *task);

/* A task found in a master's legacy state document; pointers borrow from that document. */
struct cr_cli_task_ref {
    const json_t *task;      /* the legacy task object */
    const json_t *framework; /* the framework holding it, or NULL (orphan task) */
    bool is_completed;       /* found in completed_tasks (or a completed framework) */
};

/*
 * Find task_id in a /master/state document: frameworks[] and completed_frameworks[]
 * (tasks, unreachable_tasks, completed_tasks) and orphan_tasks. Task ids are unique only
 * within a framework: a non-terminal match wins, then the most recently updated one.
 * Returns 0, or -ENOENT when no framework has such a task.
 */
int cr_cli_find_task(const json_t *state, const char *task_id, struct cr_cli_task_ref *out);

/* The slaves[] entry with id agent_id, or NULL. Borrowed from state. */
const json_t *cr_cli_find_agent(const json_t *state, const char *agent_id);

/*
 * An agent's HTTP address "ip:port": taken from its pid "slave(1)@ip:port" when present
 * (the address the agent bound), else "hostname:port". Returns 0 or -EINVAL if neither
 * is usable.
 */
int cr_cli_agent_address(const json_t *agent, char *buf, size_t size);

#endif
