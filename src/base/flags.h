/*
 * flags.h - one declarative flag/config table per daemon.
 *
 * Each daemon describes its settings once, as an array of cr_flag pointing into its
 * config struct. The same table serves the command line ("--work-dir=/x",
 * "--work-dir /x", "--no-checkpoint" / "--checkpoint" / "--checkpoint=false" for
 * booleans), the environment (CORRAL_WORK_DIR; name upper-cased, '-' -> '_'), a config
 * file, defaults, bounds and --help. Precedence, lowest first: default, config file,
 * environment, command line; within one source the last setting wins.
 *
 * Config file (--config FILE, or CORRAL_CONFIG): one "name = value" per line, names as
 * on the command line; blank lines and '#' comments (a '#' at the start of a line or
 * after whitespace) are ignored; a value may be quoted ("a # b"); a bare boolean name
 * means true. Unknown names are errors in the file and on the command line, but unknown
 * CORRAL_* variables are ignored (other modes' flags share the environment).
 * "--config" and "--help"/"-h" are built in, whether or not the table names them.
 *
 * Example:
 *   static const struct cr_flag flags[] = {
 *       {"port", CR_FLAG_INT, offsetof(struct cfg, port), "5050", "port to listen on", 1, 65535},
 *       {"offer-timeout", CR_FLAG_DURATION, offsetof(struct cfg, offer_timeout_ms), "10secs",
 *        "rescind offers after this long", 0, 0},
 *       CR_FLAG_END,
 *   };
 *   rc = cr_flags_parse(flags, &cfg, argc - 1, argv + 1, NULL, &help, &err);
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
    CR_FLAG_DURATION, /* int64_t milliseconds; text "500ms", "10s", "5mins", "2hrs", "1days"; plain
                         number = seconds */
    CR_FLAG_BYTES,    /* int64_t bytes; text "512B", "10KB", "10MB", "1GB" (powers of 1024); plain
                         number = bytes */
};

struct cr_flag {
    const char *name; /* "work-dir" */
    enum cr_flag_type type;
    size_t offset;    /* offsetof(struct my_config, field) */
    const char *def;  /* default as text, or NULL for none */
    const char *help; /* one line */
    double min, max;  /* inclusive bounds in the field's unit (ms for durations, bytes for
                         sizes); ignored when min == max == 0 */
};

#define CR_FLAG_END                                                                                \
    {                                                                                              \
        NULL, CR_FLAG_STRING, 0, NULL, NULL, 0, 0                                                  \
    }

/*
 * Apply defaults, then the config file named by --config (or CORRAL_CONFIG), then
 * CORRAL_* environment variables, then argv[0..argc). Every element of argv is parsed,
 * argv[0] included: skip a program or mode name by passing argc - 1, argv + 1.
 * Every field the table names is first reset (strings to NULL without freeing), so
 * start from a zeroed config or one released with cr_flags_release().
 * Arguments that are not flags ("-" included) are collected in order into *positional
 * (a malloc'd NULL-terminated array of borrowed argv pointers, possibly empty; free()
 * it), unless positional is NULL, in which case they are an error. "--" ends flag
 * parsing. "--help" or "-h" anywhere before "--" (and not as another flag's value) sets
 * *help_requested (if non-NULL) and returns 0 with only the defaults applied.
 * Returns 0, or -EINVAL with err naming the flag, the source if not the command line,
 * and the problem ("flag --port: 70000 is above the maximum 65535",
 * "flag --port (from CORRAL_PORT): 'x' is not an integer",
 * "flag --ratio (from /etc/corral.conf:3): 7 is above the maximum 1"), or the errno of
 * reading the config file (e.g. -ENOENT). On failure the config holds no strings.
 */
int cr_flags_parse(const struct cr_flag *table, void *config, int argc, char **argv,
                   char ***positional, int *help_requested, struct cr_err *err);

/* Free the strings the table owns in config and set them to NULL. Accepts NULL. */
void cr_flags_release(const struct cr_flag *table, void *config);

/* Print "  --name=VALUE   help (default: x)" lines for the table, then the built-in
 * --config and --help and a note on CORRAL_* variables. */
void cr_flags_usage(FILE *out, const struct cr_flag *table);

/*
 * Parse durations/bytes as the table does (for other callers). Return 0 or -EINVAL.
 * Durations: a non-negative decimal number (fraction allowed), optional spaces, then ns,
 * us, ms, s/sec/secs, m/min/mins, h/hr/hrs, d/day/days or w/week/weeks (any case); no
 * unit means seconds. Sizes: a number then B, KB/KiB/K, MB, GB or TB (1024-based, any
 * case); no unit means bytes. Results are rounded to whole ms / bytes.
 */
int cr_parse_duration_ms(const char *text, int64_t *out_ms);
int cr_parse_bytes(const char *text, int64_t *out_bytes);

#endif
