/*
 * cli_util.c - pure helpers for the command-line verbs (see cli_util.h).
 *
 * Everything here is deterministic and free of I/O besides the FILE the caller hands
 * in, so tests/unit/cli can check argument parsing, table layout, range arithmetic and
 * state lookups against hand-written documents.
 */
#include "cli/cli_util.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* ---- argument parsing ------------------------------------------------------------- */

void cr_cli_strlist_release(struct cr_cli_strlist *l)
{
    if (!l)
        return;
    free(l->items);
    l->items = NULL;
    l->len = 0;
}

void cr_cli_args_release(struct cr_cli_args *a)
{
    if (!a)
        return;
    free(a->pos);
    a->pos = NULL;
    a->npos = 0;
}

static void add_positional(struct cr_cli_args *a, const char *arg)
{
    a->pos = cr_xrealloc(a->pos, (a->npos + 2) * sizeof(*a->pos));
    a->pos[a->npos++] = arg;
    a->pos[a->npos] = NULL;
}

static const struct cr_cli_opt *find_long(const struct cr_cli_opt *opts, const char *name,
                                          size_t len)
{
    for (const struct cr_cli_opt *o = opts; o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

static const struct cr_cli_opt *find_short(const struct cr_cli_opt *opts, char c)
{
    for (const struct cr_cli_opt *o = opts; o->name; o++)
        if (o->short_name && o->short_name == c)
            return o;
    return NULL;
}

/* Store value into o's target; flag is how the user spelled it, for messages. */
static int store_value(const struct cr_cli_opt *o, const char *flag, const char *value,
                       struct cr_err *err)
{
    bool bounded = o->min != o->max;
    switch (o->type) {
    case CR_CLI_OPT_BOOL:
        *(bool *)o->out = true;
        return 0;
    case CR_CLI_OPT_STRING:
        *(const char **)o->out = value;
        return 0;
    case CR_CLI_OPT_LIST: {
        struct cr_cli_strlist *l = o->out;
        l->items = cr_xrealloc(l->items, (l->len + 2) * sizeof(*l->items));
        l->items[l->len++] = value;
        l->items[l->len] = NULL;
        return 0;
    }
    case CR_CLI_OPT_INT: {
        char *end = NULL;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (!*value || *end || errno)
            return cr_err_set(err, -EINVAL, "flag %s: '%s' is not a whole number", flag, value);
        if (bounded && (v < o->min || v > o->max))
            return cr_err_set(err, -EINVAL, "flag %s: %ld is outside %g..%g", flag, v, o->min,
                              o->max);
        *(long *)o->out = v;
        return 0;
    }
    case CR_CLI_OPT_DOUBLE: {
        char *end = NULL;
        errno = 0;
        double v = strtod(value, &end);
        if (!*value || *end || errno || !isfinite(v))
            return cr_err_set(err, -EINVAL, "flag %s: '%s' is not a number", flag, value);
        if (bounded && (v < o->min || v > o->max))
            return cr_err_set(err, -EINVAL, "flag %s: %g is outside %g..%g", flag, v, o->min,
                              o->max);
        *(double *)o->out = v;
        return 0;
    }
    }
    return cr_err_set(err, -EINVAL, "flag %s: unsupported type", flag);
}

int cr_cli_args_parse(const struct cr_cli_opt *opts, int argc, char **argv, unsigned flags,
                      struct cr_cli_args *out, struct cr_err *err)
{
    out->pos = NULL;
    out->npos = 0;
    bool only_positional = false;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (only_positional || arg[0] != '-' || arg[1] == '\0') {
            add_positional(out, arg);
            if (flags & CR_CLI_ARGS_STOP_AT_POSITIONAL)
                only_positional = true;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_positional = true;
            continue;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
            return 1;

        const struct cr_cli_opt *o;
        const char *inline_value = NULL;
        char flag[64];
        if (arg[1] == '-') {
            const char *name = arg + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            o = find_long(opts, name, len);
            snprintf(flag, sizeof(flag), "--%.*s", (int)(len > 40 ? 40 : len), name);
            if (!o)
                return cr_err_set(err, -EINVAL, "unknown flag %s", flag);
            if (eq)
                inline_value = eq + 1;
        } else {
            o = find_short(opts, arg[1]);
            snprintf(flag, sizeof(flag), "-%c", arg[1]);
            if (!o)
                return cr_err_set(err, -EINVAL, "unknown flag %s", flag);
            if (arg[2])
                inline_value = arg + 2;
        }
        if (o->type == CR_CLI_OPT_BOOL) {
            if (inline_value)
                return cr_err_set(err, -EINVAL, "flag %s takes no value", flag);
            *(bool *)o->out = true;
            continue;
        }
        const char *value = inline_value;
        if (!value) {
            if (i + 1 >= argc)
                return cr_err_set(err, -EINVAL, "flag %s needs a value", flag);
            value = argv[++i];
        }
        int rc = store_value(o, flag, value, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void cr_cli_opts_usage(FILE *out, const struct cr_cli_opt *opts)
{
    /* Left column: "-f, --name VALUE" or "    --name VALUE", so long names line up. */
    char left[96];
    int width = (int)strlen("-h, --help");
    for (const struct cr_cli_opt *o = opts; o->name; o++) {
        int w = snprintf(left, sizeof(left), "    --%s%s%s", o->name, o->metavar ? " " : "",
                         o->metavar ? o->metavar : "");
        if (w > width)
            width = w;
    }
    for (const struct cr_cli_opt *o = opts; o->name; o++) {
        if (o->short_name)
            snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->name,
                     o->metavar ? " " : "", o->metavar ? o->metavar : "");
        else
            snprintf(left, sizeof(left), "    --%s%s%s", o->name, o->metavar ? " " : "",
                     o->metavar ? o->metavar : "");
        fprintf(out, "  %-*s  %s\n", width, left, o->help ? o->help : "");
    }
    fprintf(out, "  %-*s  %s\n", width, "-h, --help", "show this help");
}

/* ---- aligned tables ------------------------------------------------------------------ */

void cr_cli_table_init(struct cr_cli_table *t, size_t ncols, const char *const *headers,
                       unsigned right_mask)
{
    t->ncols = ncols;
    t->headers = headers;
    t->right_mask = right_mask;
    t->cells = NULL;
    t->nrows = 0;
    t->cap_rows = 0;
}

static char *sanitized_copy(const char *s)
{
    char *c = cr_xstrdup(s ? s : "-");
    for (unsigned char *p = (unsigned char *)c; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = '?';
    return c;
}

void cr_cli_table_add(struct cr_cli_table *t, const char *const *cells)
{
    if (t->nrows == t->cap_rows) {
        t->cap_rows = t->cap_rows ? t->cap_rows * 2 : 16;
        t->cells = cr_xrealloc(t->cells, t->cap_rows * t->ncols * sizeof(*t->cells));
    }
    for (size_t c = 0; c < t->ncols; c++)
        t->cells[t->nrows * t->ncols + c] = sanitized_copy(cells[c]);
    t->nrows++;
}

/* Display width: UTF-8 continuation bytes take no column. */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xC0) != 0x80)
            w++;
    return w;
}

static void print_cell(FILE *out, const char *s, size_t width, bool right, bool last)
{
    size_t w = text_width(s);
    size_t pad = width > w ? width - w : 0;
    if (right)
        for (size_t i = 0; i < pad; i++)
            fputc(' ', out);
    fputs(s, out);
    if (!right && !last)
        for (size_t i = 0; i < pad; i++)
            fputc(' ', out);
}

void cr_cli_table_print(const struct cr_cli_table *t, FILE *out)
{
    size_t widths[32] = {0};
    size_t ncols = t->ncols < 32 ? t->ncols : 32;
    for (size_t c = 0; c < ncols; c++) {
        widths[c] = text_width(t->headers[c]);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t w = text_width(t->cells[r * t->ncols + c]);
            if (w > widths[c])
                widths[c] = w;
        }
    }
    for (size_t r = 0; r <= t->nrows; r++) {
        for (size_t c = 0; c < ncols; c++) {
            const char *s = r == 0 ? t->headers[c] : t->cells[(r - 1) * t->ncols + c];
            if (c > 0)
                fputs("  ", out);
            print_cell(out, s, widths[c], (t->right_mask >> c) & 1u, c + 1 == ncols);
        }
        fputc('\n', out);
    }
}

void cr_cli_table_release(struct cr_cli_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->nrows = 0;
    t->cap_rows = 0;
}

/* ---- JSON accessors ------------------------------------------------------------------- */

json_t *cr_cli_json_parse(const char *text, size_t len, struct cr_err *err)
{
    json_error_t jerr;
    json_t *j = json_loadb(text, len, JSON_ALLOW_NUL, &jerr);
    if (!j)
        cr_err_set(err, -EPROTO, "bad JSON at line %d column %d: %s", jerr.line, jerr.column,
                   jerr.text);
    return j;
}

const char *cr_cli_json_str(const json_t *obj, const char *key)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

double cr_cli_json_num(const json_t *obj, const char *key, double def)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    if (json_is_number(v))
        return json_number_value(v);
    if (json_is_string(v)) {
        char *end = NULL;
        double d = strtod(json_string_value(v), &end);
        if (end != json_string_value(v) && *end == '\0')
            return d;
    }
    return def;
}

bool cr_cli_json_bool(const json_t *obj, const char *key, bool def)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_boolean(v) ? json_is_true(v) : def;
}

const char *cr_cli_json_id(const json_t *obj, const char *key)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    if (json_is_string(v))
        return json_string_value(v);
    return cr_cli_json_str(v, "value");
}

json_t *cr_cli_json_array(const json_t *obj, const char *key)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_array(v) ? v : NULL;
}

/* ---- numbers, durations and legacy resources ------------------------------------------ */

void cr_cli_fmt_num(char *buf, size_t size, double v)
{
    if (isnan(v)) {
        snprintf(buf, size, "-");
        return;
    }
    snprintf(buf, size, "%.3f", v);
    char *dot = strchr(buf, '.');
    if (!dot)
        return;
    char *end = buf + strlen(buf) - 1;
    while (end > dot && *end == '0')
        *end-- = '\0';
    if (end == dot)
        *end = '\0';
    if (strcmp(buf, "-0") == 0)
        snprintf(buf, size, "0");
}

void cr_cli_fmt_age(char *buf, size_t size, double seconds)
{
    if (isnan(seconds) || seconds < 0) {
        snprintf(buf, size, "-");
        return;
    }
    uint64_t s = (uint64_t)seconds;
    if (s < 120)
        snprintf(buf, size, "%" PRIu64 "s", s);
    else if (s < 2 * 3600)
        snprintf(buf, size, "%" PRIu64 "m", s / 60);
    else if (s < 2 * 86400)
        snprintf(buf, size, "%" PRIu64 "h", s / 3600);
    else
        snprintf(buf, size, "%" PRIu64 "d", s / 86400);
}

void cr_cli_ranges_release(struct cr_cli_ranges *r)
{
    if (!r)
        return;
    free(r->v);
    r->v = NULL;
    r->len = 0;
    r->cap = 0;
}

void cr_cli_ranges_add(struct cr_cli_ranges *r, uint64_t begin, uint64_t end)
{
    /* Insert in order, then merge neighbours that touch or overlap. */
    if (r->len == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 8;
        r->v = cr_xrealloc(r->v, r->cap * sizeof(*r->v));
    }
    size_t i = 0;
    while (i < r->len && r->v[i].begin < begin)
        i++;
    memmove(&r->v[i + 1], &r->v[i], (r->len - i) * sizeof(*r->v));
    r->v[i].begin = begin;
    r->v[i].end = end;
    r->len++;
    size_t w = 0;
    for (size_t k = 1; k < r->len; k++) {
        struct cr_cli_range *last = &r->v[w];
        if (r->v[k].begin <= last->end ||
            (last->end != UINT64_MAX && r->v[k].begin == last->end + 1)) {
            if (r->v[k].end > last->end)
                last->end = r->v[k].end;
        } else {
            r->v[++w] = r->v[k];
        }
    }
    r->len = w + 1;
}

int cr_cli_ranges_parse(const char *text, struct cr_cli_ranges *out)
{
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    bool bracket = *p == '[';
    if (bracket)
        p++;
    for (;;) {
        while (isspace((unsigned char)*p) || *p == ',')
            p++;
        if (*p == '\0' || *p == ']')
            break;
        if (!isdigit((unsigned char)*p))
            return -EINVAL;
        char *end = NULL;
        errno = 0;
        unsigned long long a = strtoull(p, &end, 10);
        unsigned long long b = a;
        if (errno)
            return -EINVAL;
        p = end;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '-') {
            p++;
            while (isspace((unsigned char)*p))
                p++;
            if (!isdigit((unsigned char)*p))
                return -EINVAL;
            b = strtoull(p, &end, 10);
            if (errno)
                return -EINVAL;
            p = end;
        }
        if (b < a)
            return -EINVAL;
        cr_cli_ranges_add(out, a, b);
    }
    if (bracket && *p != ']')
        return -EINVAL;
    if (*p == ']')
        p++;
    while (isspace((unsigned char)*p))
        p++;
    return *p ? -EINVAL : 0;
}

void cr_cli_ranges_subtract(struct cr_cli_ranges *a, const struct cr_cli_ranges *b)
{
    for (size_t k = 0; k < b->len; k++) {
        struct cr_cli_range cut = b->v[k];
        struct cr_cli_ranges next = {0};
        for (size_t i = 0; i < a->len; i++) {
            struct cr_cli_range r = a->v[i];
            if (cut.end < r.begin || cut.begin > r.end) {
                cr_cli_ranges_add(&next, r.begin, r.end);
                continue;
            }
            if (cut.begin > r.begin)
                cr_cli_ranges_add(&next, r.begin, cut.begin - 1);
            if (cut.end < r.end)
                cr_cli_ranges_add(&next, cut.end + 1, r.end);
        }
        cr_cli_ranges_release(a);
        *a = next;
    }
}

uint64_t cr_cli_ranges_count(const struct cr_cli_ranges *r)
{
    uint64_t n = 0;
    for (size_t i = 0; i < r->len; i++)
        n += r->v[i].end - r->v[i].begin + 1;
    return n;
}

void cr_cli_ranges_format(const struct cr_cli_ranges *r, char *buf, size_t size)
{
    if (size == 0)
        return;
    if (r->len == 0) {
        snprintf(buf, size, "-");
        return;
    }
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < r->len && used < size; i++) {
        int n;
        if (r->v[i].begin == r->v[i].end)
            n = snprintf(buf + used, size - used, "%s%" PRIu64, i ? "," : "", r->v[i].begin);
        else
            n = snprintf(buf + used, size - used, "%s%" PRIu64 "-%" PRIu64, i ? "," : "",
                         r->v[i].begin, r->v[i].end);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

/* ---- logs ----------------------------------------------------------------------------- */

size_t cr_cli_tail_start(const char *buf, size_t len, size_t n, bool *found)
{
    *found = true;
    if (n == 0)
        return len;
    size_t end = len;
    /* A trailing newline terminates the last line; it does not start a new one. */
    if (end > 0 && buf[end - 1] == '\n')
        end--;
    size_t lines = 0;
    for (size_t i = end; i > 0; i--) {
        if (buf[i - 1] == '\n' && ++lines == n)
            return i;
    }
    *found = false;
    return 0;
}

/* ---- tasks in /master/state ------------------------------------------------------------ */

const char *cr_cli_state_short(const char *state)
{
    if (state && strncmp(state, "TASK_", 5) == 0)
        return state + 5;
    return state;
}

bool cr_cli_state_is_terminal(const char *state)
{
    static const char *const terminal[] = {"FINISHED", "FAILED",  "KILLED", "LOST",
                                           "ERROR",    "DROPPED", "GONE",   "GONE_BY_OPERATOR",
                                           "UNKNOWN"};
    const char *s = cr_cli_state_short(state);
    if (!s)
        return false;
    for (size_t i = 0; i < sizeof(terminal) / sizeof(terminal[0]); i++)
        if (strcmp(s, terminal[i]) == 0)
            return true;
    return false;
}

double cr_cli_task_updated(const json_t *task)
{
    json_t *statuses = cr_cli_json_array(task, "statuses");
    double latest = NAN;
    size_t i;
    json_t *st;
    json_array_foreach(statuses, i, st)
    {
        double ts = cr_cli_json_num(st, "timestamp", NAN);
        if (!isnan(ts) && (isnan(latest) || ts > latest))
            latest = ts;
    }
    return latest;
}

/* Is candidate a better match than best (non-terminal first, then most recent)? */
static bool better_match(const struct cr_cli_task_ref *best, const json_t *task)
{
    if (!best->task)
        return true;
    bool best_live = !cr_cli_state_is_terminal(cr_cli_json_str(best->task, "state"));
    bool live = !cr_cli_state_is_terminal(cr_cli_json_str(task, "state"));
    if (live != best_live)
        return live;
    double a = cr_cli_task_updated(best->task), b = cr_cli_task_updated(task);
    return !isnan(b) && (isnan(a) || b > a);
}

static void scan_list(const json_t *list, const json_t *framework, bool is_completed,
                      const char *task_id, struct cr_cli_task_ref *best)
{
    size_t i;
    json_t *task;
    json_array_foreach(list, i, task)
    {
        const char *id = cr_cli_json_id(task, "id");
        if (!id || strcmp(id, task_id) != 0 || !better_match(best, task))
            continue;
        best->task = task;
        best->framework = framework;
        best->is_completed = is_completed;
    }
}

int cr_cli_find_task(const json_t *state, const char *task_id, struct cr_cli_task_ref *out)
{
    static const char *const fw_lists[] = {"frameworks", "completed_frameworks"};
    out->task = NULL;
    out->framework = NULL;
    out->is_completed = false;
    for (size_t l = 0; l < 2; l++) {
        size_t i;
        json_t *fw;
        json_array_foreach(cr_cli_json_array(state, fw_lists[l]), i, fw)
        {
            scan_list(cr_cli_json_array(fw, "tasks"), fw, l == 1, task_id, out);
            scan_list(cr_cli_json_array(fw, "unreachable_tasks"), fw, l == 1, task_id, out);
            scan_list(cr_cli_json_array(fw, "completed_tasks"), fw, true, task_id, out);
        }
    }
    scan_list(cr_cli_json_array(state, "orphan_tasks"), NULL, false, task_id, out);
    return out->task ? 0 : -ENOENT;
}

const json_t *cr_cli_find_agent(const json_t *state, const char *agent_id)
{
    size_t i;
    json_t *slave;
    if (!agent_id)
        return NULL;
    json_array_foreach(cr_cli_json_array(state, "slaves"), i, slave)
    {
        const char *id = cr_cli_json_id(slave, "id");
        if (id && strcmp(id, agent_id) == 0)
            return slave;
    }
    return NULL;
}

int cr_cli_agent_address(const json_t *agent, char *buf, size_t size)
{
    const char *pid = cr_cli_json_str(agent, "pid");
    const char *at = pid ? strrchr(pid, '@') : NULL;
    if (at && at[1] && strchr(at + 1, ':')) {
        snprintf(buf, size, "%s", at + 1);
        return 0;
    }
    const char *host = cr_cli_json_str(agent, "hostname");
    double port = cr_cli_json_num(agent, "port", 5051);
    if (!host || !*host || port < 1 || port > 65535)
        return -EINVAL;
    snprintf(buf, size, "%s:%d", host, (int)port);
    return 0;
}
