/*
 * flags.c - the declarative flag table (see flags.h): defaults, config file,
 * CORRAL_* environment, command line, in that order of precedence, plus --help.
 *
 * Every value, wherever it comes from, goes through set_value(), so parsing, bounds
 * and error messages are identical for all sources; only the origin in the message
 * differs ("flag --port (from CORRAL_PORT): ..."). A string field always holds either
 * NULL or a string the config owns, so overwriting one frees the previous value and
 * cr_flags_release() frees what is left.
 *
 * "--config FILE" (or CORRAL_CONFIG) and "--help"/"-h" are built in: they work
 * whether or not the table names them. argv is scanned for both before anything is
 * applied, so "--help" works even when the environment holds a bad value.
 */
#include "base/flags.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/util.h"

#define CONFIG_FLAG "config"

/* ---- durations and sizes ---- */

struct unit {
    const char *name;
    double factor;
};

static const struct unit duration_units[] = {
    {"ns", 1e-6},      {"us", 1e-3},     {"ms", 1},          {"s", 1e3},          {"sec", 1e3},
    {"secs", 1e3},     {"second", 1e3},  {"seconds", 1e3},   {"m", 60e3},         {"min", 60e3},
    {"mins", 60e3},    {"minute", 60e3}, {"minutes", 60e3},  {"h", 3600e3},       {"hr", 3600e3},
    {"hrs", 3600e3},   {"hour", 3600e3}, {"hours", 3600e3},  {"d", 86400e3},      {"day", 86400e3},
    {"days", 86400e3}, {"w", 604800e3},  {"week", 604800e3}, {"weeks", 604800e3}, {NULL, 0},
};

static const struct unit byte_units[] = {
    {"b", 1},
    {"k", 1024.0},
    {"kb", 1024.0},
    {"kib", 1024.0},
    {"m", 1048576.0},
    {"mb", 1048576.0},
    {"mib", 1048576.0},
    {"g", 1073741824.0},
    {"gb", 1073741824.0},
    {"gib", 1073741824.0},
    {"t", 1099511627776.0},
    {"tb", 1099511627776.0},
    {"tib", 1099511627776.0},
    {NULL, 0},
};

/*
 * Parse "<decimal number>[ ]<unit>" into number * factor(unit), rounded to an integer.
 * No unit means default_factor. Negative numbers, exponents and unknown units are
 * rejected, as is anything that does not fit an int64_t.
 */
static int parse_scaled(const char *text, const struct unit *units, double default_factor,
                        int64_t *out)
{
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    const char *num = p;
    bool has_digit = false;
    while (isdigit((unsigned char)*p)) {
        p++;
        has_digit = true;
    }
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) {
            p++;
            has_digit = true;
        }
    }
    if (!has_digit)
        return -EINVAL;
    char numbuf[64];
    size_t numlen = (size_t)(p - num);
    if (numlen >= sizeof(numbuf))
        return -EINVAL;
    memcpy(numbuf, num, numlen);
    numbuf[numlen] = '\0';
    double value = strtod(numbuf, NULL);

    while (isspace((unsigned char)*p))
        p++;
    const char *unit = p;
    size_t unitlen = strlen(unit);
    while (unitlen > 0 && isspace((unsigned char)unit[unitlen - 1]))
        unitlen--;
    double factor = default_factor;
    if (unitlen > 0) {
        factor = 0;
        for (const struct unit *u = units; u->name; u++) {
            if (strlen(u->name) == unitlen && strncasecmp(u->name, unit, unitlen) == 0) {
                factor = u->factor;
                break;
            }
        }
        if (factor == 0)
            return -EINVAL;
    }
    double scaled = value * factor;
    /* 2^63 is exactly representable; anything at or above it does not fit. */
    if (!isfinite(scaled) || scaled >= 9223372036854775808.0)
        return -EINVAL;
    *out = llround(scaled);
    return 0;
}

int cr_parse_duration_ms(const char *text, int64_t *out_ms)
{
    return parse_scaled(text, duration_units, 1e3, out_ms);
}

int cr_parse_bytes(const char *text, int64_t *out_bytes)
{
    return parse_scaled(text, byte_units, 1, out_bytes);
}

/* Largest unit that divides v exactly, for bounds in messages ("1secs", "10MB"). */
static void format_scaled(char *out, size_t size, int64_t v, const struct unit *units,
                          const char *const *names)
{
    int best = 0;
    for (int i = 0; names[i] && v != 0; i++) {
        int64_t f = (int64_t)units[i].factor;
        if (f > 0 && v % f == 0)
            best = i;
    }
    snprintf(out, size, "%lld%s", (long long)(v / (int64_t)units[best].factor), names[best]);
}

static void format_duration(char *out, size_t size, int64_t ms)
{
    static const struct unit u[] = {{"", 1},      {"", 1e3},     {"", 60e3},
                                    {"", 3600e3}, {"", 86400e3}, {"", 604800e3}};
    static const char *const names[] = {"ms", "secs", "mins", "hrs", "days", "weeks", NULL};
    format_scaled(out, size, ms, u, names);
}

static void format_bytes(char *out, size_t size, int64_t bytes)
{
    static const struct unit u[] = {
        {"", 1}, {"", 1024.0}, {"", 1048576.0}, {"", 1073741824.0}, {"", 1099511627776.0}};
    static const char *const names[] = {"B", "KB", "MB", "GB", "TB", NULL};
    format_scaled(out, size, bytes, u, names);
}

/* ---- single values ---- */

static int parse_int64(const char *text, int64_t *out)
{
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    if (!*p)
        return -EINVAL;
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (errno == ERANGE)
        return -ERANGE;
    while (isspace((unsigned char)*end))
        end++;
    if (end == p || *end)
        return -EINVAL;
    *out = v;
    return 0;
}

static int parse_double(const char *text, double *out)
{
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    if (!*p)
        return -EINVAL;
    char *end;
    errno = 0;
    double v = strtod(p, &end);
    while (isspace((unsigned char)*end))
        end++;
    if (end == p || *end || errno == ERANGE || !isfinite(v))
        return -EINVAL;
    *out = v;
    return 0;
}

static int parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on", NULL};
    static const char *const no[] = {"false", "0", "no", "off", NULL};
    for (int i = 0; yes[i]; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

static bool is_bounded(const struct cr_flag *f)
{
    return !(f->min == 0 && f->max == 0);
}

/* The field for f inside config. */
static void *field(const struct cr_flag *f, void *config)
{
    return (char *)config + f->offset;
}

/*
 * Check an integer-valued flag against its bounds. text is what the user wrote (quoted
 * back in the message); fmt renders bounds in the flag's unit.
 */
static int check_int_bounds(const struct cr_flag *f, int64_t v, const char *text,
                            void (*fmt)(char *, size_t, int64_t), const char *origin,
                            struct cr_err *err)
{
    if (!is_bounded(f))
        return 0;
    char bound[64];
    if ((double)v < f->min) {
        if (fmt)
            fmt(bound, sizeof(bound), (int64_t)f->min);
        else
            snprintf(bound, sizeof(bound), "%lld", (long long)f->min);
        return cr_err_set(err, -EINVAL, "flag --%s%s: %s is below the minimum %s", f->name, origin,
                          text, bound);
    }
    if ((double)v > f->max) {
        if (fmt)
            fmt(bound, sizeof(bound), (int64_t)f->max);
        else
            snprintf(bound, sizeof(bound), "%lld", (long long)f->max);
        return cr_err_set(err, -EINVAL, "flag --%s%s: %s is above the maximum %s", f->name, origin,
                          text, bound);
    }
    return 0;
}

/*
 * Parse text for f and store it in config. origin is "" for the command line or
 * " (from X)" for other sources; it goes into the message after the flag name.
 */
static int set_value(const struct cr_flag *f, void *config, const char *text, const char *origin,
                     struct cr_err *err)
{
    int64_t iv;
    double dv;
    bool bv;
    switch (f->type) {
    case CR_FLAG_STRING: {
        char **slot = field(f, config);
        free(*slot);
        *slot = cr_xstrdup(text);
        return 0;
    }
    case CR_FLAG_INT:
        if (parse_int64(text, &iv) < 0)
            return cr_err_set(err, -EINVAL, "flag --%s%s: '%s' is not an integer", f->name, origin,
                              text);
        if (check_int_bounds(f, iv, text, NULL, origin, err) < 0)
            return -EINVAL;
        *(int64_t *)field(f, config) = iv;
        return 0;
    case CR_FLAG_BOOL:
        if (parse_bool(text, &bv) < 0)
            return cr_err_set(err, -EINVAL,
                              "flag --%s%s: '%s' is not a boolean (use true/false, yes/no, 1/0)",
                              f->name, origin, text);
        *(bool *)field(f, config) = bv;
        return 0;
    case CR_FLAG_DOUBLE:
        if (parse_double(text, &dv) < 0)
            return cr_err_set(err, -EINVAL, "flag --%s%s: '%s' is not a number", f->name, origin,
                              text);
        if (is_bounded(f) && dv < f->min)
            return cr_err_set(err, -EINVAL, "flag --%s%s: %s is below the minimum %g", f->name,
                              origin, text, f->min);
        if (is_bounded(f) && dv > f->max)
            return cr_err_set(err, -EINVAL, "flag --%s%s: %s is above the maximum %g", f->name,
                              origin, text, f->max);
        *(double *)field(f, config) = dv;
        return 0;
    case CR_FLAG_DURATION:
        if (cr_parse_duration_ms(text, &iv) < 0)
            return cr_err_set(err, -EINVAL,
                              "flag --%s%s: '%s' is not a duration (e.g. 500ms, 10secs, 5mins, "
                              "2hrs, 1days)",
                              f->name, origin, text);
        if (check_int_bounds(f, iv, text, format_duration, origin, err) < 0)
            return -EINVAL;
        *(int64_t *)field(f, config) = iv;
        return 0;
    case CR_FLAG_BYTES:
        if (cr_parse_bytes(text, &iv) < 0)
            return cr_err_set(err, -EINVAL,
                              "flag --%s%s: '%s' is not a size (e.g. 512B, 10KB, 10MB, 1GB)",
                              f->name, origin, text);
        if (check_int_bounds(f, iv, text, format_bytes, origin, err) < 0)
            return -EINVAL;
        *(int64_t *)field(f, config) = iv;
        return 0;
    }
    return cr_err_set(err, -EINVAL, "flag --%s: unknown type %d", f->name, (int)f->type);
}

/* Reset the field to its zero value without freeing (the caller's struct may be fresh). */
static void zero_value(const struct cr_flag *f, void *config)
{
    switch (f->type) {
    case CR_FLAG_STRING:
        *(char **)field(f, config) = NULL;
        break;
    case CR_FLAG_BOOL:
        *(bool *)field(f, config) = false;
        break;
    case CR_FLAG_DOUBLE:
        *(double *)field(f, config) = 0;
        break;
    case CR_FLAG_INT:
    case CR_FLAG_DURATION:
    case CR_FLAG_BYTES:
        *(int64_t *)field(f, config) = 0;
        break;
    }
}

static const struct cr_flag *find_flag(const struct cr_flag *table, const char *name, size_t len)
{
    for (const struct cr_flag *f = table; f->name; f++) {
        if (strlen(f->name) == len && strncmp(f->name, name, len) == 0)
            return f;
    }
    return NULL;
}

/* ---- argv scanning ---- */

/*
 * Find --help/-h and the last --config value in argv without applying anything.
 * Values of table flags are skipped so "--work-dir --help" is not mistaken for help.
 */
static void prescan(const struct cr_flag *table, int argc, char **argv, bool *help,
                    const char **config_path)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            return;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *help = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0)
            continue;
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        if (len == strlen(CONFIG_FLAG) && strncmp(name, CONFIG_FLAG, len) == 0) {
            if (eq)
                *config_path = eq + 1;
            else if (i + 1 < argc)
                *config_path = argv[++i];
            continue;
        }
        const struct cr_flag *f = find_flag(table, name, len);
        if (f && f->type != CR_FLAG_BOOL && !eq)
            i++;
    }
}

/* ---- config file ---- */

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Cut a comment: '#' at the start of the value or after whitespace, outside quotes. */
static void strip_comment(char *s)
{
    char quote = 0;
    for (char *p = s; *p; p++) {
        if (quote) {
            if (*p == quote)
                quote = 0;
        } else if (*p == '"' || *p == '\'') {
            quote = *p;
        } else if (*p == '#' && (p == s || isspace((unsigned char)p[-1]))) {
            *p = '\0';
            return;
        }
    }
}

static int apply_config_file(const struct cr_flag *table, void *config, const char *path,
                             struct cr_err *err)
{
    char *text CR_AUTOFREE = NULL;
    int rc = cr_read_file(path, &text, NULL, err);
    if (rc < 0)
        return cr_err_wrap(err, "flag --%s", CONFIG_FLAG);
    int lineno = 0;
    char *save = NULL;
    /* strtok_r would merge empty lines and break line numbers; split by hand. */
    for (char *line = text; line; line = save) {
        lineno++;
        char *nl = strchr(line, '\n');
        save = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        char *name = s, *value = NULL;
        if (eq) {
            *eq = '\0';
            value = eq + 1;
            strip_comment(value);
            value = trim(value);
            size_t vlen = strlen(value);
            if (vlen >= 2 && (value[0] == '"' || value[0] == '\'') && value[vlen - 1] == value[0]) {
                value[vlen - 1] = '\0';
                value++;
            }
        } else {
            strip_comment(s);
        }
        name = trim(name);
        if (strncmp(name, "--", 2) == 0)
            name += 2;
        const struct cr_flag *f = find_flag(table, name, strlen(name));
        if (!f)
            return cr_err_set(err, -EINVAL, "config '%s' line %d: unknown flag '%s'", path, lineno,
                              name);
        if (!value) {
            if (f->type != CR_FLAG_BOOL)
                return cr_err_set(err, -EINVAL, "config '%s' line %d: expected '%s = value'", path,
                                  lineno, name);
            value = "true";
        }
        char origin[CR_ERR_MSG_MAX];
        snprintf(origin, sizeof(origin), " (from %s:%d)", path, lineno);
        rc = set_value(f, config, value, origin, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- environment ---- */

static void env_name(const char *flag, char *out, size_t size)
{
    size_t o = (size_t)snprintf(out, size, "CORRAL_");
    for (const char *p = flag; *p && o + 1 < size; p++)
        out[o++] = (char)(*p == '-' ? '_' : toupper((unsigned char)*p));
    out[o] = '\0';
}

static int apply_env(const struct cr_flag *table, void *config, struct cr_err *err)
{
    for (const struct cr_flag *f = table; f->name; f++) {
        char name[128];
        env_name(f->name, name, sizeof(name));
        const char *v = getenv(name);
        if (!v)
            continue;
        char origin[160];
        snprintf(origin, sizeof(origin), " (from %s)", name);
        int rc = set_value(f, config, v, origin, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- command line ---- */

struct argv_list {
    char **items;
    size_t len, cap;
};

static void list_push(struct argv_list *l, char *s)
{
    if (l->len + 1 >= l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->items = cr_xrealloc(l->items, l->cap * sizeof(char *));
    }
    l->items[l->len++] = s;
    l->items[l->len] = NULL;
}

static int apply_argv(const struct cr_flag *table, void *config, int argc, char **argv,
                      struct argv_list *pos, bool keep_positional, struct cr_err *err)
{
    bool flags_done = false;
    for (int i = 0; i < argc; i++) {
        char *a = argv[i];
        if (!flags_done && strcmp(a, "--") == 0) {
            flags_done = true;
            continue;
        }
        if (flags_done || a[0] != '-' || strcmp(a, "-") == 0) {
            if (!keep_positional)
                return cr_err_set(err, -EINVAL, "unexpected argument '%s'", a);
            list_push(pos, a);
            continue;
        }
        if (a[1] != '-')
            return cr_err_set(err, -EINVAL, "unknown flag '%s' (flags are spelled --name)", a);
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        if (len == 0)
            return cr_err_set(err, -EINVAL, "unknown flag '%s'", a);
        const struct cr_flag *f = find_flag(table, name, len);
        if (!f && len > 3 && strncmp(name, "no-", 3) == 0) {
            const struct cr_flag *neg = find_flag(table, name + 3, len - 3);
            if (neg && neg->type == CR_FLAG_BOOL) {
                if (eq)
                    return cr_err_set(err, -EINVAL, "flag --%.*s takes no value", (int)len, name);
                *(bool *)field(neg, config) = false;
                continue;
            }
        }
        if (!f && len == strlen(CONFIG_FLAG) && strncmp(name, CONFIG_FLAG, len) == 0) {
            /* Built in and already applied; just step over its value. */
            if (!eq && ++i >= argc)
                return cr_err_set(err, -EINVAL, "flag --%s: missing value", CONFIG_FLAG);
            continue;
        }
        if (!f)
            return cr_err_set(err, -EINVAL, "unknown flag --%.*s", (int)len, name);
        const char *value;
        if (eq)
            value = eq + 1;
        else if (f->type == CR_FLAG_BOOL)
            value = "true";
        else if (i + 1 < argc)
            value = argv[++i];
        else
            return cr_err_set(err, -EINVAL, "flag --%s: missing value", f->name);
        int rc = set_value(f, config, value, "", err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int cr_flags_parse(const struct cr_flag *table, void *config, int argc, char **argv,
                   char ***positional, int *help_requested, struct cr_err *err)
{
    cr_err_clear(err);
    if (positional)
        *positional = NULL;
    if (help_requested)
        *help_requested = 0;

    for (const struct cr_flag *f = table; f->name; f++)
        zero_value(f, config);
    int rc = 0;
    for (const struct cr_flag *f = table; f->name; f++) {
        if (f->def && (rc = set_value(f, config, f->def, " (default)", err)) < 0)
            goto fail;
    }

    bool help = false;
    const char *config_path = NULL;
    prescan(table, argc, argv, &help, &config_path);
    struct argv_list pos = {NULL, 0, 0};
    if (help) {
        if (help_requested)
            *help_requested = 1;
        if (positional)
            *positional = cr_xcalloc(1, sizeof(char *));
        return 0;
    }

    if (!config_path) {
        const char *env = getenv("CORRAL_CONFIG");
        if (env && *env)
            config_path = env;
    }
    if (config_path && (rc = apply_config_file(table, config, config_path, err)) < 0)
        goto fail;
    if ((rc = apply_env(table, config, err)) < 0)
        goto fail;
    if ((rc = apply_argv(table, config, argc, argv, &pos, positional != NULL, err)) < 0) {
        free(pos.items);
        goto fail;
    }
    if (positional)
        *positional = pos.items ? pos.items : cr_xcalloc(1, sizeof(char *));
    return 0;

fail:
    cr_flags_release(table, config);
    return rc;
}

void cr_flags_release(const struct cr_flag *table, void *config)
{
    if (!table || !config)
        return;
    for (const struct cr_flag *f = table; f->name; f++) {
        if (f->type == CR_FLAG_STRING) {
            char **slot = field(f, config);
            free(*slot);
            *slot = NULL;
        }
    }
}

static const char *value_hint(enum cr_flag_type type)
{
    switch (type) {
    case CR_FLAG_INT:
        return "=N";
    case CR_FLAG_DOUBLE:
        return "=X";
    case CR_FLAG_DURATION:
        return "=DURATION";
    case CR_FLAG_BYTES:
        return "=BYTES";
    case CR_FLAG_BOOL:
        return "";
    case CR_FLAG_STRING:
        break;
    }
    return "=VALUE";
}

static void usage_line(FILE *out, int width, const char *left, const char *help, const char *def)
{
    fprintf(out, "  %-*s  %s", width, left, help ? help : "");
    if (def && *def)
        fprintf(out, " (default: %s)", def);
    fputc('\n', out);
}

void cr_flags_usage(FILE *out, const struct cr_flag *table)
{
    char left[128];
    int width = (int)strlen("--config=FILE");
    for (const struct cr_flag *f = table; f->name; f++) {
        int n = f->type == CR_FLAG_BOOL
                    ? snprintf(left, sizeof(left), "--[no-]%s", f->name)
                    : snprintf(left, sizeof(left), "--%s%s", f->name, value_hint(f->type));
        if (n > width)
            width = n;
    }
    if (width > 32)
        width = 32;
    bool has_config = false;
    for (const struct cr_flag *f = table; f->name; f++) {
        if (strcmp(f->name, CONFIG_FLAG) == 0)
            has_config = true;
        if (f->type == CR_FLAG_BOOL)
            snprintf(left, sizeof(left), "--[no-]%s", f->name);
        else
            snprintf(left, sizeof(left), "--%s%s", f->name, value_hint(f->type));
        usage_line(out, width, left, f->help, f->def);
    }
    if (!has_config)
        usage_line(out, width, "--config=FILE",
                   "read 'name = value' lines from FILE "
                   "(also CORRAL_CONFIG)",
                   NULL);
    usage_line(out, width, "--help", "print this help", NULL);
    fprintf(out, "\nEvery flag can also be set as CORRAL_<NAME> in the environment "
                 "(upper case, '-' as '_').\n");
}
