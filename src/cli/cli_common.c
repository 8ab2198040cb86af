/*
 * cli_common.c - a verb's argument checks, master address resolution, blocking HTTP+JSON
 * helpers, errors in the CLI's voice, `corral up`'s state file and Ctrl-C handling (see
 * cli_common.h).
 *
 * Requests go through cr_http_fetch() (src/net), the blocking one-shot meant for
 * command-line verbs; it follows the masters' 307 redirects to the leader.
 */
#include "cli/cli_common.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/util.h"
#include "cli/cli_util.h"
#include "net/http_client.h"

volatile sig_atomic_t cr_cli_signal;

static void vfail(const char *verb, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    fflush(stdout);
    fprintf(stderr, "corral %s: %s\n", verb, msg);
}

int cr_cli_fail(const char *verb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(verb, fmt, ap);
    va_end(ap);
    return CR_CLI_EXIT_FAIL;
}

int cr_cli_usage_fail(const char *verb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(verb, fmt, ap);
    va_end(ap);
    fprintf(stderr, "see 'corral %s --help'\n", verb);
    return CR_CLI_EXIT_USAGE;
}

bool cr_cli_parse_verb_args(const char *verb, cr_cli_usage_fn *usage, const struct cr_cli_opt *opts,
                            int argc, char **argv, char **task_id, int *exit_code)
{
    struct cr_cli_args args;
    struct cr_err err = {0};
    int rc = cr_cli_args_parse(opts, argc - 1, argv + 1, 0, &args, &err);
    if (rc == 1) {
        usage(stdout, opts);
        cr_cli_args_release(&args);
        *exit_code = CR_CLI_EXIT_OK;
        return false;
    }
    if (rc == 0 && !task_id && args.npos > 0)
        rc = cr_err_set(&err, -EINVAL, "unexpected argument '%s'", args.pos[0]);
    if (rc == 0 && task_id && args.npos != 1)
        rc = cr_err_set(&err, -EINVAL,
                        args.npos == 0 ? "which task? give its id" : "give exactly one task id");
    if (rc == 0 && task_id)
        *task_id = cr_xstrdup(args.pos[0]);
    cr_cli_args_release(&args);
    if (rc < 0) {
        *exit_code = cr_cli_usage_fail(verb, "%s", err.msg);
        return false;
    }
    return true;
}

char *cr_cli_state_dir_default(void)
{
    const char *dir = getenv("CORRAL_STATE_DIR");
    if (dir && *dir)
        return cr_xstrdup(dir);
    const char *xdg = getenv("XDG_STATE_HOME");
    if (xdg && xdg[0] == '/')
        return cr_xasprintf("%s/corral", xdg);
    const char *home = getenv("HOME");
    if (home && *home)
        return cr_xasprintf("%s/.local/state/corral", home);
    return NULL;
}

char *cr_cli_up_file(const char *state_dir)
{
    return cr_xasprintf("%s/up.json", state_dir);
}

int cr_cli_up_read(const char *state_dir, json_t **out, struct cr_err *err)
{
    char *path = cr_cli_up_file(state_dir);
    char *text = NULL;
    size_t len = 0;
    struct cr_err ferr = {0};
    int rc = cr_read_file(path, &text, &len, &ferr);
    if (rc == -ENOENT) {
        free(path);
        return rc;
    }
    if (rc < 0) {
        cr_err_set(err, rc, "read '%s': %s", path, ferr.msg);
        free(path);
        return rc;
    }
    *out = cr_cli_json_parse(text, len, err);
    free(text);
    if (!*out) {
        cr_err_wrap(err, "read '%s'", path);
        free(path);
        return -EPROTO;
    }
    free(path);
    return 0;
}

bool cr_cli_pid_alive(long pid)
{
    if (pid <= 0)
        return false;
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* "http://h:p/" -> "h:p"; "h" -> "h:5050". Owned. */
static char *normalize_address(const char *text, size_t len)
{
    while (len > 0 && (*text == ' ' || *text == '\t')) {
        text++;
        len--;
    }
    if (len >= 7 && strncmp(text, "http://", 7) == 0) {
        text += 7;
        len -= 7;
    }
    while (len > 0 && (text[len - 1] == '/' || text[len - 1] == ' ' || text[len - 1] == '\t'))
        len--;
    bool has_port = memchr(text, ':', len) != NULL;
    return cr_xasprintf("%.*s%s", (int)len, text, has_port ? "" : ":5050");
}

/* The master named by a running `corral up` in the default state dir, or NULL. */
static char *master_from_up(void)
{
    char *dir = cr_cli_state_dir_default();
    if (!dir)
        return NULL;
    json_t *up = NULL;
    char *addr = NULL;
    if (cr_cli_up_read(dir, &up, NULL) == 0) {
        const char *master = cr_cli_json_str(up, "master");
        long pid = (long)cr_cli_json_num(up, "pid", 0);
        long master_pid = (long)cr_cli_json_num(up, "master_pid", 0);
        if (master && *master && (cr_cli_pid_alive(pid) || cr_cli_pid_alive(master_pid)))
            addr = normalize_address(master, strlen(master));
        json_decref(up);
    }
    free(dir);
    return addr;
}

char *cr_cli_master_resolve(const char *flag_value)
{
    const char *text = flag_value && *flag_value ? flag_value : getenv("CORRAL_MASTER");
    if (!text || !*text) {
        char *up = master_from_up();
        return up ? up : cr_xstrdup(CR_CLI_DEFAULT_MASTER);
    }
    if (!strchr(text, ','))
        return normalize_address(text, strlen(text));

    /* Several masters: take the first that answers; errors later name the first one. */
    char *first = NULL;
    const char *p = text;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len > 0) {
            char *addr = normalize_address(p, len);
            int status = 0;
            if (cr_cli_http("the master", addr, "GET", "/health", NULL, 2000, &status, NULL, NULL,
                            NULL) == 0 &&
                status >= 200 && status < 300) {
                free(first);
                return addr;
            }
            if (!first)
                first = addr;
            else
                free(addr);
        }
        p += comma ? len + 1 : len;
    }
    return first ? first : cr_xstrdup(CR_CLI_DEFAULT_MASTER);
}

const char *cr_cli_net_reason(int rc, const char *msg)
{
    switch (-rc) {
    case ECONNREFUSED:
    case ECONNRESET:
    case ECONNABORTED:
    case ETIMEDOUT:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EPIPE:
        return strerror(-rc);
    default:
        return msg && msg[0] ? msg : strerror(-rc);
    }
}

int cr_cli_http(const char *who, const char *addr, const char *method, const char *path,
                const char *body, long timeout_ms, int *status, char **body_out, size_t *len_out,
                struct cr_err *err)
{
    static const char *const get_headers[] = {"Accept: application/json", NULL};
    static const char *const post_headers[] = {"Accept: application/json",
                                               "Content-Type: application/json", NULL};
    char *url = cr_xasprintf("http://%s%s", addr, path);
    char *resp = NULL;
    size_t resp_len = 0;
    struct cr_err nerr = {0};
    int rc = cr_http_fetch(method, url, body ? post_headers : get_headers, body,
                           body ? strlen(body) : 0, timeout_ms, status, &resp, &resp_len, &nerr);
    free(url);
    if (rc < 0) {
        cr_err_set(err, rc, "cannot reach %s at %s: %s", who, addr,
                   cr_cli_net_reason(rc, nerr.msg));
        return rc;
    }
    if (body_out)
        *body_out = resp ? resp : cr_xstrdup("");
    else
        free(resp);
    if (len_out)
        *len_out = resp_len;
    return 0;
}

/* First line of an error body, shortened, for messages. */
static void body_excerpt(const char *body, char *buf, size_t size)
{
    size_t n = 0;
    while (body && body[n] && body[n] != '\n' && n + 1 < size && n < 200)
        n++;
    memcpy(buf, body ? body : "", n);
    buf[n] = '\0';
    for (char *p = buf; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
}

int cr_cli_get_json(const char *who, const char *addr, const char *path, json_t **out,
                    struct cr_err *err)
{
    int status = 0;
    char *body = NULL;
    size_t len = 0;
    int rc = cr_cli_http(who, addr, "GET", path, NULL, 15000, &status, &body, &len, err);
    if (rc < 0)
        return rc;
    if (status != 200) {
        char excerpt[256];
        body_excerpt(body, excerpt, sizeof(excerpt));
        cr_err_set(err, -EPROTO, "%s at %s answered %d to GET %s%s%s", who, addr, status, path,
                   excerpt[0] ? ": " : "", excerpt);
        free(body);
        return -EPROTO;
    }
    *out = cr_cli_json_parse(body, len, err);
    free(body);
    if (!*out)
        return cr_err_wrap(err, "%s at %s answered GET %s with", who, addr, path);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return cr_err_set(err, -EPROTO, "%s at %s answered GET %s with JSON that is not an object",
                          who, addr, path);
    }
    return 0;
}

int cr_cli_master_state(const char *addr, json_t **out, struct cr_err *err)
{
    return cr_cli_get_json("the master", addr, "/master/state", out, err);
}

json_t *cr_cli_fetch_master_state(const char *verb, const char *master_flag)
{
    char *master = cr_cli_master_resolve(master_flag);
    json_t *state = NULL;
    struct cr_err err = {0};
    int rc = cr_cli_master_state(master, &state, &err);
    free(master);
    if (rc < 0) {
        cr_cli_fail(verb, "%s", err.msg);
        return NULL;
    }
    return state;
}

char *cr_cli_url_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    struct cr_buf b;
    cr_buf_init(&b);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~' || *p == '/') {
            char c = (char)*p;
            cr_buf_append(&b, &c, 1);
        } else {
            char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            cr_buf_append(&b, enc, 3);
        }
    }
    char *out = cr_buf_steal(&b, NULL);
    return out ? out : cr_xstrdup("");
}

static void on_signal(int signo)
{
    cr_cli_signal = signo;
}

void cr_cli_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a sleep or a read returns EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

bool cr_cli_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (!cr_cli_signal && nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    return !cr_cli_signal;
}
