/*
 * flags.h - one declarative flag/config table per daemon.
 *
 * Each daemon describes its settings once, as an array of cr_flag pointing into its
 * config struct. The same table serves the command line ("--work-dir=/x",
 * "--work-dir /x", "--no-checkpoint" for booleans), the environment (CORRAL_WORK_DIR;
 * name upper-cased, '-' -> '_'), a config file (--config FILE: "name = value" lines,
 * '#' comments, names as on the command line), defaults, bounds and --help.
 * Precedence, lowest first: default, config file, environment, command line.
 */
#ifndef CR_BASE_FLAGS_H
#define CR_BASE_FLAGS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"

enum cr_flag_type {
    CR_FLAG_STRING,   /* char * (owned by the config; freed by cr_flags_release), NULL if unset */
    CR_FLAG_INT,      /* int64_t, bounded by [min, max] */
    CR_FLAG_BOOL,     /* bool: true/false/1/0/yes/no */
    CR_FLAG_DOUBLE,   /* double, bounded by [min, max] */
    CR_FLAG_DURATION, /* int64_t milliseconds; text "500ms", "10s", "5mins", "2hrs", "1days"; plain number = seconds */
    CR_FLAG_BYTES,    /* int64_t bytes; text "512B", "10KB", "10MB", "1GB" (powers of 1024); plain number = bytes */
};

struct cr_flag {
    const char *name;  /* "work-dir" */
    enum cr_flag_type type;
    size_t offset;     /* offsetof(struct my_config, field) */
    const char *def;   /* default as text, or NULL for none */
    const char *help;  /* one line */
    double min, max;   /* numeric bounds (ignored when min == max == 0) */
};

#define CR_FLAG_END {NULL, CR_FLAG_STRING, 0, NULL, NULL, 0, 0}

/*
 * Apply defaults, then the config file named by --config (or CORRAL_CONFIG), then
 * CORRAL_* environment variables, then argv[0..argc). Arguments that are not flags are
 * collected in order into *positional (a malloc'd NULL-terminated array of borrowed
 * argv pointers; free() it), unless positional is NULL, in which case they are an
 * error. "--" ends flag parsing. "--help" sets *help_requested (if non-NULL) and stops.
 * Returns 0 or -EINVAL with err naming the flag and the problem
 * ("flag --port: 70000 is above the maximum 65535").
 */
int cr_flags_parse(const struct cr_flag *table, void *config, int argc, char **argv,
                   char ***positional, int *help_requested, struct cr_err *err);

/* Free the strings the table owns in config. */
void cr_flags_release(const struct cr_flag *table, void *config);

/* Print "  --name=VALUE   help (default: x)" lines for the table. */
void cr_flags_usage(FILE *out, const struct cr_flag *table);

/* Parse durations/bytes as the table does (for other callers). Return 0 or -EINVAL. */
int cr_parse_duration_ms(const char *text, int64_t *out_ms);
int cr_parse_bytes(const char *text, int64_t *out_bytes);

#endif
