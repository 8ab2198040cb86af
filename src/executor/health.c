/*
 * health.c - Mesos-style health checks run by the executor (see health.h for the
 * semantics). Three parts: the HealthCheck parser, the probes (one check in flight:
 * a COMMAND child process, or a non-blocking HTTP/TCP socket) and the scheduler that
 * counts results.
 *
 * A COMMAND check is two processes when the task has its own pid namespace:
 *
 *   executor --fork--> check (setsid, joins the task's cgroups, setns ipc/uts/net/pid/mnt)
 *                        --fork--> command (now inside the pid ns: chdir, user, exec)
 *
 * setns(CLONE_NEWPID) only moves the children of the caller, hence the second fork; the
 * first process waits for it and exits with its status. Without a new pid namespace the
 * first process execs the command itself. Both are in the process group the first one
 * created, so a timeout kills the whole check with one kill(-pgid). The executor watches
 * the first process through a pidfd (no SIGCHLD handler, never waitpid(-1)); when it has
 * exited, the rest of its group is killed while the zombie pins the group id, then it
 * is reaped. A pipe (close-on-exec) carries a small report when a step before the exec
 * fails, so the result can say which one ("enter the task's mnt namespace: ...").
 *
 * Invariants:
 *  - between fork and exec the children call only async-signal-safe functions on memory
 *    prepared before the fork (argv, envp, exec candidates, descriptors, user ids);
 *  - at most one probe is current; an abandoned COMMAND probe (timeout, pause) stays in
 *    the checker's list until its process is reaped, so free can kill and reap it;
 *  - a probe is closed exactly once (its poll handle's close callback frees it), and the
 *    checker's memory goes with the last of its two timers' close callbacks;
 *  - the result callback is the last thing each code path does, so it may free the
 *    checker.
 */
#include "executor/health.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <math.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"

#define MAX_SECONDS 9.2e9 /* as the API's duration checks */
#define MAX_PATH_LEN 1024 /* HTTP path */
#define MAX_GROUPS 256
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* ================================================================== parsing */

void cr_health_spec_init(struct cr_health_spec *spec)
{
    memset(spec, 0, sizeof(*spec));
    spec->delay_seconds = 15;
    spec->interval_seconds = 10;
    spec->timeout_seconds = 20;
    spec->grace_period_seconds = 10;
    spec->consecutive_failures = 3;
    cr_command_init(&spec->command);
}

void cr_health_spec_release(struct cr_health_spec *spec)
{
    if (!spec)
        return;
    free(spec->http_path);
    cr_command_release(&spec->command);
    cr_health_spec_init(spec);
}

/* obj[key], NULL when absent or null. */
static json_t *field(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return v && !json_is_null(v) ? v : NULL;
}

/* A number, or a string holding one (proto3's JSON mapping allows both). 1 = present. */
static int get_number(const json_t *obj, const char *key, const char *path, double *out,
                      struct cr_err *err)
{
    json_t *v = field(obj, key);
    if (!v)
        return 0;
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 1;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end = NULL;
        errno = 0;
        double d = strtod(s, &end);
        if (*s && end && *end == '\0' && errno == 0) {
            *out = d;
            return 1;
        }
    }
    return cr_err_set(err, -EINVAL, "%s.%s: expected a number, got %s", path, key,
                      cr_mj_type_name(v));
}

static int get_seconds(const json_t *obj, const char *key, double *out, struct cr_err *err)
{
    double d = 0;
    int rc = get_number(obj, key, "health_check", &d, err);
    if (rc <= 0)
        return rc;
    if (!(d >= 0 && d <= MAX_SECONDS))
        return cr_err_set(err, -EINVAL, "health_check.%s: must be a non-negative number of seconds",
                          key);
    *out = d;
    return 0;
}

/* An integer in [lo, hi]; 1 = present. */
static int get_uint(const json_t *obj, const char *key, const char *path, double lo, double hi,
                    uint32_t *out, struct cr_err *err)
{
    double d = 0;
    int rc = get_number(obj, key, path, &d, err);
    if (rc <= 0)
        return rc;
    if (!(d >= lo && d <= hi) || d != floor(d))
        return cr_err_set(err, -EINVAL, "%s.%s: must be %.0f..%.0f", path, key, lo, hi);
    *out = (uint32_t)d;
    return 1;
}

static int get_string(const json_t *obj, const char *key, const char *path, const char **out,
                      struct cr_err *err)
{
    json_t *v = field(obj, key);
    if (!v)
        return 0;
    if (!json_is_string(v))
        return cr_err_set(err, -EINVAL, "%s.%s: expected a string, got %s", path, key,
                          cr_mj_type_name(v));
    *out = json_string_value(v);
    return 1;
}

static int get_object(const json_t *obj, const char *key, const char *path, json_t **out,
                      struct cr_err *err)
{
    json_t *v = field(obj, key);
    *out = NULL;
    if (!v)
        return 0;
    if (!json_is_object(v))
        return cr_err_set(err, -EINVAL, "%s.%s: expected an object, got %s", path, key,
                          cr_mj_type_name(v));
    *out = v;
    return 1;
}

/* port (required, 1..65535) and protocol (IPv4|IPv6) of an http or tcp body. */
static int parse_endpoint(const json_t *body, const char *path, struct cr_health_spec *spec,
                          struct cr_err *err)
{
    uint32_t port = 0;
    int rc = get_uint(body, "port", path, 1, 65535, &port, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return cr_err_set(err, -EINVAL, "%s.port: required field missing", path);
    spec->port = (uint16_t)port;
    const char *proto = NULL;
    if ((rc = get_string(body, "protocol", path, &proto, err)) < 0)
        return rc;
    if (proto && strcmp(proto, "IPv4") != 0 && strcmp(proto, "IPv6") != 0)
        return cr_err_set(err, -EINVAL, "%s.protocol: unknown protocol '%s' (IPv4 or IPv6)", path,
                          proto);
    spec->is_ipv6 = proto && strcmp(proto, "IPv6") == 0;
    return 0;
}

static int parse_http(const json_t *body, struct cr_health_spec *spec, struct cr_err *err)
{
    const char *path = "health_check.http";
    int rc = parse_endpoint(body, path, spec, err);
    if (rc < 0)
        return rc;
    const char *scheme = NULL, *hpath = NULL;
    if ((rc = get_string(body, "scheme", path, &scheme, err)) < 0)
        return rc;
    if (scheme && strcmp(scheme, "http") != 0)
        return cr_err_set(err, -EINVAL, "%s.scheme: '%s' is not supported (only 'http')", path,
                          scheme);
    if ((rc = get_string(body, "path", path, &hpath, err)) < 0)
        return rc;
    if (!hpath || !*hpath)
        hpath = "/";
    if (hpath[0] != '/')
        return cr_err_set(err, -EINVAL, "%s.path: must start with '/'", path);
    if (strlen(hpath) > MAX_PATH_LEN)
        return cr_err_set(err, -EINVAL, "%s.path: longer than %d characters", path, MAX_PATH_LEN);
    for (const unsigned char *s = (const unsigned char *)hpath; *s; s++)
        if (*s <= ' ' || *s == 0x7f)
            return cr_err_set(err, -EINVAL,
                              "%s.path: must not contain spaces or control characters", path);
    spec->http_path = cr_xstrdup(hpath);
    return 0;
}

static int parse_body(const json_t *obj, struct cr_health_spec *spec, struct cr_err *err)
{
    json_t *body = NULL;
    int rc;
    switch (spec->type) {
    case CR_HEALTH_COMMAND:
        if ((rc = get_object(obj, "command", "health_check", &body, err)) < 0)
            return rc;
        if (!body)
            return cr_err_set(err, -EINVAL,
                              "health_check.command: required for a COMMAND health check");
        if ((rc = cr_parse_command(body, "health_check.command", &spec->command, err)) < 0)
            return rc;
        if (!spec->command.value || !*spec->command.value)
            return cr_err_set(err, -EINVAL, "health_check.command.value: required field missing");
        return 0;
    case CR_HEALTH_HTTP:
        if ((rc = get_object(obj, "http", "health_check", &body, err)) < 0)
            return rc;
        if (!body)
            return cr_err_set(err, -EINVAL, "health_check.http: required for an HTTP health check");
        return parse_http(body, spec, err);
    case CR_HEALTH_TCP:
        if ((rc = get_object(obj, "tcp", "health_check", &body, err)) < 0)
            return rc;
        if (!body)
            return cr_err_set(err, -EINVAL, "health_check.tcp: required for a TCP health check");
        return parse_endpoint(body, "health_check.tcp", spec, err);
    }
    return cr_err_set(err, -EINVAL, "health_check.type: required field missing");
}

static int parse_type(const json_t *obj, struct cr_health_spec *spec, struct cr_err *err)
{
    const char *type = NULL;
    int rc = get_string(obj, "type", "health_check", &type, err);
    if (rc < 0)
        return rc;
    if (type) {
        if (strcmp(type, "COMMAND") == 0)
            spec->type = CR_HEALTH_COMMAND;
        else if (strcmp(type, "HTTP") == 0)
            spec->type = CR_HEALTH_HTTP;
        else if (strcmp(type, "TCP") == 0)
            spec->type = CR_HEALTH_TCP;
        else
            return cr_err_set(err, -EINVAL,
                              "health_check.type: unknown type '%s' (COMMAND, HTTP or TCP)", type);
        return 0;
    }
    /* The shape before types existed: the body that is set says what to run. */
    static const char *const bodies[] = {"command", "http", "tcp"};
    int found = 0;
    for (int i = 0; i < 3; i++) {
        if (!field(obj, bodies[i]))
            continue;
        if (found)
            return cr_err_set(err, -EINVAL,
                              "health_check: both '%s' and '%s' are set; set type to choose",
                              bodies[found - 1], bodies[i]);
        found = i + 1;
    }
    if (!found)
        return cr_err_set(err, -EINVAL, "health_check.type: required field missing");
    spec->type = (enum cr_health_type)found;
    return 0;
}

static int parse_spec(const json_t *obj, struct cr_health_spec *spec, struct cr_err *err)
{
    if (!json_is_object(obj))
        return cr_err_set(err, -EINVAL, "health_check: expected an object, got %s",
                          obj ? cr_mj_type_name(obj) : "nothing");
    int rc;
    if ((rc = parse_type(obj, spec, err)) < 0 || (rc = parse_body(obj, spec, err)) < 0 ||
        (rc = get_seconds(obj, "delay_seconds", &spec->delay_seconds, err)) < 0 ||
        (rc = get_seconds(obj, "interval_seconds", &spec->interval_seconds, err)) < 0 ||
        (rc = get_seconds(obj, "timeout_seconds", &spec->timeout_seconds, err)) < 0 ||
        (rc = get_seconds(obj, "grace_period_seconds", &spec->grace_period_seconds, err)) < 0)
        return rc;
    rc = get_uint(obj, "consecutive_failures", "health_check", 0, 4294967295.0,
                  &spec->consecutive_failures, err);
    return rc < 0 ? rc : 0;
}

int cr_health_parse(const json_t *obj, struct cr_health_spec *spec, struct cr_err *err)
{
    cr_health_spec_init(spec);
    int rc = parse_spec(obj, spec, err);
    if (rc < 0)
        cr_health_spec_release(spec);
    return rc;
}

/* ================================================================== the checker */

struct probe;

struct cr_health_checker {
    uv_loop_t *loop;
    struct cr_health_spec spec; /* owned copy */
    uint64_t delay_ms, interval_ms, timeout_ms, grace_ms;

    /* the target */
    pid_t pid;
    bool enter_namespaces;
    char *sandbox;       /* owned */
    char *user;          /* owned or NULL */
    char **cgroup_procs; /* owned vector */
    size_t ncgroup_procs;

    /* a COMMAND check's exec, prepared once */
    char **argv;       /* owned, NULL-terminated */
    char **envp;       /* owned: target env + the check's variables */
    char **candidates; /* owned: paths to try, NULL-terminated */
    bool switch_user;
    uid_t uid;
    gid_t gid;
    gid_t groups[MAX_GROUPS];
    int ngroups;

    cr_health_result_fn on_result;
    void *ud;

    uv_timer_t tick;     /* the next check */
    uv_timer_t deadline; /* the timeout of the current check */
    int open_handles;
    bool started; /* start was called once: start_ms is set */
    bool running; /* between start and pause/free */
    bool freed;
    uint64_t start_ms;

    struct probe *current; /* the check in flight, or NULL */
    struct probe *probes;  /* every probe not yet closed (current or abandoned) */
    uint32_t failures;     /* counted consecutive failures */
    bool has_succeeded;
    bool kill_reported;
};

enum net_stage { NET_CONNECTING, NET_SENDING, NET_READING };

struct probe {
    struct cr_health_checker *hc; /* NULL once the checker is freed */
    struct probe *next;           /* in hc->probes */
    enum cr_health_type type;
    uv_poll_t poll;
    bool closing;
    /* COMMAND */
    pid_t pid;
    int pidfd;
    int report_fd;
    bool reaped;
    /* HTTP / TCP */
    int fd;
    enum net_stage stage;
    char *request; /* owned */
    size_t request_len, request_off;
    char response[512];
    size_t response_len;
};

static const char *kind_name(enum cr_health_type type)
{
    switch (type) {
    case CR_HEALTH_COMMAND:
        return "Command";
    case CR_HEALTH_HTTP:
        return "HTTP";
    case CR_HEALTH_TCP:
        return "TCP";
    }
    return "Health";
}

static uint64_t seconds_to_ms(double s)
{
    return s > 0 ? (uint64_t)ceil(s * 1000.0) : 0;
}

static void free_strv(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

static void finish(struct cr_health_checker *hc, bool ok, const char *msg);

/* ------------------------------------------------------------------ probes */

static void probe_unlink(struct probe *p)
{
    struct cr_health_checker *hc = p->hc;
    if (!hc)
        return;
    for (struct probe **pp = &hc->probes; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    if (hc->current == p)
        hc->current = NULL;
    p->hc = NULL;
}

static void probe_free_mem(struct probe *p)
{
    if (p->pidfd >= 0)
        close(p->pidfd);
    if (p->report_fd >= 0)
        close(p->report_fd);
    if (p->fd >= 0)
        close(p->fd);
    free(p->request);
    free(p);
}

static void on_probe_closed(uv_handle_t *h)
{
    struct probe *p = h->data;
    probe_unlink(p);
    probe_free_mem(p);
}

/* Close the probe's handle; its memory goes in the close callback. Idempotent. */
static void probe_close(struct probe *p)
{
    if (p->closing)
        return;
    p->closing = true;
    uv_close((uv_handle_t *)&p->poll, on_probe_closed);
}

static struct probe *probe_new(struct cr_health_checker *hc)
{
    struct probe *p = cr_xcalloc(1, sizeof(*p));
    p->hc = hc;
    p->type = hc->spec.type;
    p->pidfd = p->report_fd = p->fd = -1;
    p->poll.data = p;
    return p;
}

/* Put a probe whose handle is initialised on the checker's list as the current check. */
static void probe_attach(struct cr_health_checker *hc, struct probe *p)
{
    p->next = hc->probes;
    hc->probes = p;
    hc->current = p;
}

/* The current probe p ended with a result: close it, then count the result. */
static void probe_done(struct probe *p, bool ok, const char *msg)
{
    struct cr_health_checker *hc = p->hc;
    bool is_current = hc && hc->current == p;
    if (is_current)
        hc->current = NULL;
    probe_close(p);
    if (!is_current)
        return;
    uv_timer_stop(&hc->deadline);
    finish(hc, ok, msg);
}

/* Kill what is left of a COMMAND check: its process group, and the first process in
 * case it was killed before it made the group. */
static void command_kill(struct probe *p)
{
    if (p->reaped)
        return;
    if (kill(-p->pid, SIGKILL) < 0 && errno != ESRCH)
        CR_WARN("kill health check process group failed pgid=%d error=\"%s\"", (int)p->pid,
                strerror(errno));
    kill(p->pid, SIGKILL);
}

/* Give up on the current check (timeout, pause): it no longer counts. A COMMAND check is
 * killed and stays listed until it is reaped; a socket is just closed. */
static void probe_abandon(struct cr_health_checker *hc)
{
    struct probe *p = hc->current;
    if (!p)
        return;
    hc->current = NULL;
    uv_timer_stop(&hc->deadline);
    if (p->type == CR_HEALTH_COMMAND)
        command_kill(p);
    else
        probe_close(p);
}

/* ------------------------------------------------------------------ COMMAND: the child */

enum child_step {
    STEP_SETSID = 1,
    STEP_CGROUP,
    STEP_SETNS,
    STEP_FORK,
    STEP_WAIT,
    STEP_SIGNALED,
    STEP_STDIO,
    STEP_CHDIR,
    STEP_SETGROUPS,
    STEP_SETGID,
    STEP_SETUID,
    STEP_EXEC,
};

struct child_report {
    int32_t step;
    int32_t err;   /* errno, or the signal for STEP_SIGNALED */
    int32_t index; /* which cgroup file / namespace / candidate */
};

/* The namespaces entered, in this order (mnt last: it changes what paths mean). */
static const struct {
    const char *name;
    int type;
} NAMESPACES[] = {
    {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS}, {"net", CLONE_NEWNET},
    {"pid", CLONE_NEWPID}, {"mnt", CLONE_NEWNS},
};
#define NNAMESPACES (sizeof(NAMESPACES) / sizeof(NAMESPACES[0]))

/* Everything the check's processes need, prepared before the fork. */
struct child_args {
    pid_t parent;
    int report_fd;
    int stdin_fd;
    const int *cgroup_fds;
    size_t ncgroup_fds;
    int ns_fds[NNAMESPACES]; /* -1 = stay in ours */
    bool new_pidns;          /* fork once more after setns */
    const char *sandbox;
    char *const *argv;
    char *const *envp;
    char *const *candidates;
    bool switch_user;
    uid_t uid;
    gid_t gid;
    const gid_t *groups;
    int ngroups;
    int max_fd;
};

static void child_report(int fd, enum child_step step, int err, int index)
{
    struct child_report r = {.step = (int32_t)step, .err = (int32_t)err, .index = (int32_t)index};
    ssize_t n;
    do {
        n = write(fd, &r, sizeof(r));
    } while (n < 0 && errno == EINTR);
}

static void __attribute__((noreturn))
child_fail(const struct child_args *a, enum child_step step, int err, int index)
{
    child_report(a->report_fd, step, err, index);
    _exit(127);
}

/* The command itself: stdio, sandbox, user, exec. */
static void __attribute__((noreturn)) child_exec(const struct child_args *a)
{
    /* stdin from /dev/null, stdout to the executor's stderr (as Mesos does). */
    if (dup2(a->stdin_fd, 0) < 0 || dup2(2, 1) < 0)
        child_fail(a, STEP_STDIO, errno, 0);
    if (chdir(a->sandbox) < 0)
        child_fail(a, STEP_CHDIR, errno, 0);
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
        for (int fd = 3; fd < a->max_fd; fd++)
            fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    if (a->switch_user) {
        if (setgroups((size_t)a->ngroups, a->groups) < 0)
            child_fail(a, STEP_SETGROUPS, errno, 0);
        if (setgid(a->gid) < 0)
            child_fail(a, STEP_SETGID, errno, 0);
        if (setuid(a->uid) < 0)
            child_fail(a, STEP_SETUID, errno, 0);
    }
    /* As execvp: keep looking past ENOENT and friends, remember EACCES. */
    int err = ENOENT, index = 0;
    bool saw_eacces = false;
    for (int i = 0; a->candidates[i]; i++) {
        execve(a->candidates[i], a->argv, a->envp);
        err = errno;
        index = i;
        if (err == EACCES) {
            saw_eacces = true;
            continue;
        }
        if (err != ENOENT && err != ENOTDIR && err != ESTALE && err != ENODEV && err != ETIMEDOUT)
            break;
    }
    if (saw_eacces && (err == ENOENT || err == ENOTDIR))
        err = EACCES;
    child_fail(a, STEP_EXEC, err, index);
}

static void __attribute__((noreturn)) child_run(const struct child_args *a)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* Die with the executor; if it is already gone, do not start. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != a->parent)
        _exit(127);
    if (setsid() < 0)
        child_fail(a, STEP_SETSID, errno, 0);

    for (size_t i = 0; i < a->ncgroup_fds; i++) {
        ssize_t n;
        do {
            n = write(a->cgroup_fds[i], "0", 1);
        } while (n < 0 && errno == EINTR);
        if (n != 1)
            child_fail(a, STEP_CGROUP, n < 0 ? errno : EIO, (int)i);
    }
    for (size_t i = 0; i < NNAMESPACES; i++)
        if (a->ns_fds[i] >= 0 && setns(a->ns_fds[i], NAMESPACES[i].type) < 0)
            child_fail(a, STEP_SETNS, errno, (int)i);
    if (!a->new_pidns)
        child_exec(a);

    pid_t pid = fork();
    if (pid < 0)
        child_fail(a, STEP_FORK, errno, 0);
    if (pid == 0)
        child_exec(a);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            kill(pid, SIGKILL);
            child_fail(a, STEP_WAIT, errno, 0);
        }
    }
    if (WIFSIGNALED(status)) {
        child_report(a->report_fd, STEP_SIGNALED, WTERMSIG(status), 0);
        _exit(128 + WTERMSIG(status));
    }
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 127);
}

/* ------------------------------------------------------------------ COMMAND: the parent */

static void describe_report(const struct cr_health_checker *hc, const struct child_report *r,
                            char *out, size_t size)
{
    const char *what = strerror(r->err);
    switch ((enum child_step)r->step) {
    case STEP_SETSID:
        snprintf(out, size, "create a session: %s", what);
        return;
    case STEP_CGROUP:
        snprintf(out, size, "join cgroup '%s': %s",
                 r->index >= 0 && (size_t)r->index < hc->ncgroup_procs ? hc->cgroup_procs[r->index]
                                                                       : "?",
                 what);
        return;
    case STEP_SETNS:
        snprintf(out, size, "enter the task's %s namespace: %s",
                 r->index >= 0 && (size_t)r->index < NNAMESPACES ? NAMESPACES[r->index].name : "?",
                 what);
        return;
    case STEP_FORK:
        snprintf(out, size, "fork in the task's pid namespace: %s", what);
        return;
    case STEP_WAIT:
        snprintf(out, size, "wait for the command: %s", what);
        return;
    case STEP_SIGNALED:
        snprintf(out, size, "killed by signal %d (%s)", r->err, strsignal(r->err));
        return;
    case STEP_STDIO:
        snprintf(out, size, "redirect stdin/stdout: %s", what);
        return;
    case STEP_CHDIR:
        snprintf(out, size, "change to the sandbox '%s': %s", hc->sandbox, what);
        return;
    case STEP_SETGROUPS:
    case STEP_SETGID:
    case STEP_SETUID:
        snprintf(out, size, "switch to user '%s': %s", hc->user ? hc->user : "?", what);
        return;
    case STEP_EXEC:
        snprintf(out, size, "execute '%s': %s",
                 hc->spec.command.shell ? "/bin/sh" : hc->spec.command.value, what);
        return;
    }
    snprintf(out, size, "step %d failed: %s", (int)r->step, what);
}

static void on_command_exit(uv_poll_t *h, int status, int events)
{
    struct probe *p = h->data;
    if (p->closing || p->reaped)
        return;
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    if (waitid(P_PIDFD, (id_t)p->pidfd, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == 0)
        return; /* still running */
    /* Whatever the check left in its group goes too; the zombie pins the group id. */
    kill(-p->pid, SIGKILL);
    siginfo_t reaped;
    memset(&reaped, 0, sizeof(reaped));
    int rc = waitid(P_PIDFD, (id_t)p->pidfd, &reaped, WEXITED | WNOHANG);
    int wait_errno = errno;
    p->reaped = true;

    struct cr_health_checker *hc = p->hc;
    if (!hc || hc->current != p) {
        probe_close(p); /* abandoned: nobody waits for the result */
        return;
    }
    char msg[256], why[200];
    bool ok = false;
    struct child_report rep;
    ssize_t n = read(p->report_fd, &rep, sizeof(rep));
    if (n == (ssize_t)sizeof(rep)) {
        describe_report(hc, &rep, why, sizeof(why));
        snprintf(msg, sizeof(msg), "Command health check failed: %s", why);
    } else if (rc < 0 || reaped.si_pid == 0) {
        snprintf(msg, sizeof(msg), "Command health check failed: reap the check: %s",
                 rc < 0 ? strerror(wait_errno) : "no status");
    } else if (reaped.si_code == CLD_EXITED && reaped.si_status == 0) {
        ok = true;
        snprintf(msg, sizeof(msg), "Command health check passed");
    } else if (reaped.si_code == CLD_EXITED) {
        snprintf(msg, sizeof(msg), "Command health check failed: exited with status %d",
                 reaped.si_status);
    } else {
        snprintf(msg, sizeof(msg), "Command health check failed: killed by signal %d (%s)",
                 reaped.si_status, strsignal(reaped.si_status));
    }
    probe_done(p, ok, msg);
}

static void close_fds(int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fds[i] >= 0) {
            close(fds[i]);
            fds[i] = -1;
        }
}

/* Open /proc/<pid>/ns/<name> unless the task shares ours (then *fd = -1). */
static int open_task_ns(pid_t pid, const char *name, int *fd, char *msg, size_t size)
{
    *fd = -1;
    char path[64], self[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, name);
    snprintf(self, sizeof(self), "/proc/self/ns/%s", name);
    int nsfd = open(path, O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) {
        snprintf(msg, size, "open '%s': %s", path, strerror(errno));
        return -errno;
    }
    struct stat theirs, ours;
    if (fstat(nsfd, &theirs) == 0 && stat(self, &ours) == 0 && theirs.st_ino == ours.st_ino &&
        theirs.st_dev == ours.st_dev) {
        close(nsfd);
        return 0;
    }
    *fd = nsfd;
    return 0;
}

/* Start a COMMAND check. Returns 0 with the probe attached, or -1 with msg set. */
static int command_start(struct cr_health_checker *hc, char *msg, size_t size)
{
    struct child_args a;
    memset(&a, 0, sizeof(a));
    int *cgroup_fds = cr_xcalloc(hc->ncgroup_procs + 1, sizeof(int));
    int report[2] = {-1, -1};
    int stdin_fd = -1;
    char why[200] = "";
    for (size_t i = 0; i < NNAMESPACES; i++)
        a.ns_fds[i] = -1;
    for (size_t i = 0; i < hc->ncgroup_procs + 1; i++)
        cgroup_fds[i] = -1;

    if (hc->enter_namespaces) {
        for (size_t i = 0; i < NNAMESPACES; i++)
            if (open_task_ns(hc->pid, NAMESPACES[i].name, &a.ns_fds[i], why, sizeof(why)) < 0)
                goto fail;
        for (size_t i = 0; i < NNAMESPACES; i++)
            a.new_pidns |= NAMESPACES[i].type == CLONE_NEWPID && a.ns_fds[i] >= 0;
    }
    for (size_t i = 0; i < hc->ncgroup_procs; i++) {
        cgroup_fds[i] = open(hc->cgroup_procs[i], O_WRONLY | O_CLOEXEC);
        if (cgroup_fds[i] < 0) {
            snprintf(why, sizeof(why), "open '%s': %s", hc->cgroup_procs[i], strerror(errno));
            goto fail;
        }
    }
    stdin_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (stdin_fd < 0 || pipe2(report, O_CLOEXEC) < 0) {
        snprintf(why, sizeof(why), "%s: %s", stdin_fd < 0 ? "open '/dev/null'" : "create a pipe",
                 strerror(errno));
        goto fail;
    }
    fcntl(report[0], F_SETFL, O_NONBLOCK);

    a.parent = getpid();
    a.report_fd = report[1];
    a.stdin_fd = stdin_fd;
    a.cgroup_fds = cgroup_fds;
    a.ncgroup_fds = hc->ncgroup_procs;
    a.sandbox = hc->sandbox;
    a.argv = hc->argv;
    a.envp = hc->envp;
    a.candidates = hc->candidates;
    a.switch_user = hc->switch_user;
    a.uid = hc->uid;
    a.gid = hc->gid;
    a.groups = hc->groups;
    a.ngroups = hc->ngroups;
    long open_max = sysconf(_SC_OPEN_MAX);
    a.max_fd = open_max > 0 && open_max < 65536 ? (int)open_max : 65536;

    /* No handler of ours may run in the child before it resets them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0)
        child_run(&a);
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(report[1]);
    report[1] = -1;
    close(stdin_fd);
    stdin_fd = -1;
    close_fds(a.ns_fds, NNAMESPACES);
    close_fds(cgroup_fds, hc->ncgroup_procs);
    free(cgroup_fds);
    cgroup_fds = NULL;
    if (pid < 0) {
        snprintf(why, sizeof(why), "fork: %s", strerror(fork_errno));
        goto fail;
    }

    struct probe *p = probe_new(hc);
    p->pid = pid;
    p->report_fd = report[0];
    report[0] = -1;
    p->pidfd = pidfd_open(pid, 0);
    int uvrc = p->pidfd < 0 ? -errno : uv_poll_init(hc->loop, &p->poll, p->pidfd);
    if (uvrc < 0) {
        snprintf(why, sizeof(why), "watch the check process: %s", strerror(-uvrc));
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        probe_free_mem(p);
        goto fail;
    }
    probe_attach(hc, p);
    uv_poll_start(&p->poll, UV_READABLE, on_command_exit);
    CR_DEBUG("command health check started task_pid=%d pid=%d", (int)hc->pid, (int)pid);
    return 0;

fail:
    close_fds(a.ns_fds, NNAMESPACES);
    if (cgroup_fds)
        close_fds(cgroup_fds, hc->ncgroup_procs);
    free(cgroup_fds);
    close_fds(report, 2);
    if (stdin_fd >= 0)
        close(stdin_fd);
    snprintf(msg, size, "Command health check failed: %s", why);
    return -1;
}

/* ------------------------------------------------------------------ HTTP and TCP */

static void endpoint_text(const struct cr_health_checker *hc, char *out, size_t size)
{
    if (hc->spec.is_ipv6)
        snprintf(out, size, "[::1]:%u", (unsigned)hc->spec.port);
    else
        snprintf(out, size, "127.0.0.1:%u", (unsigned)hc->spec.port);
}

static void net_fail_connect(struct probe *p, int errnum)
{
    char ep[64], msg[256];
    endpoint_text(p->hc, ep, sizeof(ep));
    snprintf(msg, sizeof(msg), "%s connection to %s failed: %s", kind_name(p->type), ep,
             strerror(errnum));
    probe_done(p, false, msg);
}

/* Judge the status line in p->response ("HTTP/1.1 503 Service Unavailable"). */
static void http_judge(struct probe *p, bool eof)
{
    char msg[256];
    char *nl = memchr(p->response, '\n', p->response_len);
    if (!nl) {
        snprintf(msg, sizeof(msg), "HTTP health check failed: %s",
                 eof ? "connection closed before a status line" : "status line too long");
        probe_done(p, false, msg);
        return;
    }
    *nl = '\0';
    if (nl > p->response && nl[-1] == '\r')
        nl[-1] = '\0';
    const char *line = p->response;
    const char *sp = strchr(line, ' ');
    int code = 0;
    if (strncmp(line, "HTTP/", 5) != 0 || !sp || sscanf(sp + 1, "%3d", &code) != 1 || code < 100 ||
        code > 999) {
        snprintf(msg, sizeof(msg), "HTTP health check failed: malformed status line '%.80s'", line);
        probe_done(p, false, msg);
        return;
    }
    /* "503 Service Unavailable", printable characters only. */
    char status[96];
    size_t k = 0;
    for (const char *s = sp + 1; *s && k + 1 < sizeof(status); s++)
        status[k++] = (*s >= ' ' && *s < 0x7f) ? *s : '?';
    status[k] = '\0';
    bool ok = code >= 200 && code < 400;
    snprintf(msg, sizeof(msg), "HTTP health check %s: %s", ok ? "passed" : "failed", status);
    probe_done(p, ok, msg);
}

static void on_net_io(uv_poll_t *h, int status, int events)
{
    struct probe *p = h->data;
    if (p->closing || !p->hc)
        return;
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    if (status < 0 || p->stage == NET_CONNECTING) {
        if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
            soerr = errno;
        if (!soerr && status < 0)
            soerr = -status;
    }
    char msg[256];
    if (soerr) {
        if (p->stage == NET_CONNECTING) {
            net_fail_connect(p, soerr);
        } else {
            snprintf(msg, sizeof(msg), "HTTP health check failed: %s: %s",
                     p->stage == NET_SENDING ? "send the request" : "read the response",
                     strerror(soerr));
            probe_done(p, false, msg);
        }
        return;
    }
    if (p->stage == NET_CONNECTING) {
        if (p->type == CR_HEALTH_TCP) {
            probe_done(p, true, "TCP health check passed");
            return;
        }
        p->stage = NET_SENDING;
    }
    if (p->stage == NET_SENDING) {
        ssize_t n =
            send(p->fd, p->request + p->request_off, p->request_len - p->request_off, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        if (n < 0) {
            snprintf(msg, sizeof(msg), "HTTP health check failed: send the request: %s",
                     strerror(errno));
            probe_done(p, false, msg);
            return;
        }
        p->request_off += (size_t)n;
        if (p->request_off < p->request_len)
            return;
        p->stage = NET_READING;
        uv_poll_start(&p->poll, UV_READABLE, on_net_io);
        return;
    }
    /* NET_READING: until the first line is complete. */
    ssize_t n =
        recv(p->fd, p->response + p->response_len, sizeof(p->response) - 1 - p->response_len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n < 0) {
        snprintf(msg, sizeof(msg), "HTTP health check failed: read the response: %s",
                 strerror(errno));
        probe_done(p, false, msg);
        return;
    }
    p->response_len += (size_t)n;
    p->response[p->response_len] = '\0';
    if (n == 0 || memchr(p->response, '\n', p->response_len) ||
        p->response_len == sizeof(p->response) - 1)
        http_judge(p, n == 0);
}

/*
 * A socket in the task's network namespace: enter it (this thread only), create the
 * socket, come back. Sockets keep the namespace they were created in. Returns the fd or
 * -1 with why set.
 */
static int task_socket(struct cr_health_checker *hc, int family, char *why, size_t size)
{
    int type = SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC;
    int theirs = -1;
    if (hc->enter_namespaces &&
        open_task_ns(hc->pid, "net", &theirs, why, size) < 0) /* -1 = shared */
        return -1;
    if (theirs < 0) {
        int fd = socket(family, type, 0);
        if (fd < 0)
            snprintf(why, size, "create a socket: %s", strerror(errno));
        return fd;
    }
    int ours = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (ours < 0) {
        snprintf(why, size, "open '/proc/thread-self/ns/net': %s", strerror(errno));
        close(theirs);
        return -1;
    }
    if (setns(theirs, CLONE_NEWNET) < 0) {
        snprintf(why, size, "enter the task's network namespace: %s", strerror(errno));
        close(theirs);
        close(ours);
        return -1;
    }
    int fd = socket(family, type, 0);
    int saved = errno;
    if (setns(ours, CLONE_NEWNET) < 0) {
        /* The executor's own sockets would now go to the task's namespace. */
        CR_ERROR("cannot return to the executor's network namespace error=\"%s\"", strerror(errno));
        abort();
    }
    close(theirs);
    close(ours);
    if (fd < 0)
        snprintf(why, size, "create a socket in the task's network namespace: %s", strerror(saved));
    return fd;
}

/* Start an HTTP or TCP check. Returns 0 with the probe attached, or -1 with msg set. */
static int net_start(struct cr_health_checker *hc, char *msg, size_t size)
{
    const char *kind = kind_name(hc->spec.type);
    char why[200];
    int family = hc->spec.is_ipv6 ? AF_INET6 : AF_INET;
    int fd = task_socket(hc, family, why, sizeof(why));
    if (fd < 0) {
        snprintf(msg, size, "%s health check failed: %s", kind, why);
        return -1;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t slen;
    if (hc->spec.is_ipv6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(hc->spec.port);
        sin6->sin6_addr = in6addr_loopback;
        slen = sizeof(*sin6);
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(hc->spec.port);
        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        slen = sizeof(*sin);
    }
    int rc;
    do {
        rc = connect(fd, (struct sockaddr *)&ss, slen);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0 && errno != EINPROGRESS) {
        char ep[64];
        endpoint_text(hc, ep, sizeof(ep));
        snprintf(msg, size, "%s connection to %s failed: %s", kind, ep, strerror(errno));
        close(fd);
        return -1;
    }
    struct probe *p = probe_new(hc);
    p->fd = fd;
    p->stage = NET_CONNECTING;
    if (hc->spec.type == CR_HEALTH_HTTP) {
        char ep[64];
        endpoint_text(hc, ep, sizeof(ep));
        p->request = cr_xasprintf("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
                                  hc->spec.http_path, ep);
        p->request_len = strlen(p->request);
    }
    int uvrc = uv_poll_init_socket(hc->loop, &p->poll, fd);
    if (uvrc < 0) {
        snprintf(msg, size, "%s health check failed: watch the socket: %s", kind,
                 uv_strerror(uvrc));
        probe_free_mem(p);
        return -1;
    }
    probe_attach(hc, p);
    uv_poll_start(&p->poll, UV_WRITABLE, on_net_io);
    return 0;
}

/* ------------------------------------------------------------------ scheduling */

static void on_tick(uv_timer_t *t);

static void schedule(struct cr_health_checker *hc, uint64_t after_ms)
{
    if (hc->running && !hc->freed)
        uv_timer_start(&hc->tick, on_tick, after_ms, 0);
}

/* Count a result, schedule the next check and report if it matters (last: the callback
 * may free hc). */
static void finish(struct cr_health_checker *hc, bool ok, const char *msg)
{
    struct cr_health_result r;
    memset(&r, 0, sizeof(r));
    r.message = msg;
    bool report = false;
    uv_update_time(hc->loop);
    uint64_t elapsed = uv_now(hc->loop) - hc->start_ms;
    if (ok) {
        report = !hc->has_succeeded || hc->failures > 0;
        hc->has_succeeded = true;
        hc->failures = 0;
        hc->kill_reported = false;
        r.healthy = true;
        CR_DEBUG("health check passed task_pid=%d", (int)hc->pid);
    } else if (!hc->has_succeeded && hc->grace_ms > 0 && elapsed <= hc->grace_ms) {
        CR_INFO("health check failure ignored in the grace period task_pid=%d error=\"%s\"",
                (int)hc->pid, msg);
    } else {
        hc->failures++;
        r.consecutive_failures = hc->failures;
        r.kill = hc->failures >= hc->spec.consecutive_failures;
        report = hc->failures == 1 || (r.kill && !hc->kill_reported);
        if (r.kill)
            hc->kill_reported = true;
        CR_WARN("health check failed task_pid=%d failures=%u kill=%s error=\"%s\"", (int)hc->pid,
                (unsigned)hc->failures, r.kill ? "true" : "false", msg);
    }
    schedule(hc, hc->interval_ms);
    if (report)
        hc->on_result(hc->ud, &r);
}

static void on_deadline(uv_timer_t *t)
{
    struct cr_health_checker *hc = t->data;
    if (!hc->current)
        return;
    probe_abandon(hc);
    char msg[256];
    snprintf(msg, sizeof(msg), "%s health check timed out after %g seconds",
             kind_name(hc->spec.type), hc->spec.timeout_seconds);
    finish(hc, false, msg);
}

static void on_tick(uv_timer_t *t)
{
    struct cr_health_checker *hc = t->data;
    if (!hc->running || hc->current)
        return;
    char msg[256];
    int rc = hc->spec.type == CR_HEALTH_COMMAND ? command_start(hc, msg, sizeof(msg))
                                                : net_start(hc, msg, sizeof(msg));
    if (rc < 0) {
        finish(hc, false, msg);
        return;
    }
    if (hc->timeout_ms > 0)
        uv_timer_start(&hc->deadline, on_deadline, hc->timeout_ms, 0);
}

/* ------------------------------------------------------------------ setup */

static char **dup_strv(const char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    char **out = cr_xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        out[i] = cr_xstrdup(v[i]);
    return out;
}

/* base minus the names the check sets, then the check's variables. */
static char **merge_env(const char *const *base, const struct cr_command *cmd)
{
    size_t nbase = 0;
    while (base && base[nbase])
        nbase++;
    char **out = cr_xcalloc(nbase + cmd->nenv + 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < nbase; i++) {
        bool overridden = false;
        for (size_t j = 0; j < cmd->nenv && !overridden; j++) {
            size_t len = strlen(cmd->env[j].name);
            overridden = strncmp(base[i], cmd->env[j].name, len) == 0 && base[i][len] == '=';
        }
        if (!overridden)
            out[k++] = cr_xstrdup(base[i]);
    }
    for (size_t j = 0; j < cmd->nenv; j++)
        out[k++] =
            cr_xasprintf("%s=%s", cmd->env[j].name, cmd->env[j].value ? cmd->env[j].value : "");
    return out;
}

/* Paths to try for program: as is with a '/', else each PATH entry of envp. */
static char **exec_candidates(const char *program, char *const *envp)
{
    if (strchr(program, '/')) {
        char **out = cr_xcalloc(2, sizeof(char *));
        out[0] = cr_xstrdup(program);
        return out;
    }
    const char *path = DEFAULT_PATH;
    for (size_t i = 0; envp && envp[i]; i++)
        if (strncmp(envp[i], "PATH=", 5) == 0)
            path = envp[i] + 5;
    size_t n = 1;
    for (const char *s = path; *s; s++)
        n += *s == ':';
    char **out = cr_xcalloc(n + 1, sizeof(char *));
    size_t k = 0;
    for (const char *start = path;;) {
        const char *end = strchr(start, ':');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        out[k++] =
            len ? cr_xasprintf("%.*s/%s", (int)len, start, program) : cr_xasprintf("./%s", program);
        if (!end)
            break;
        start = end + 1;
    }
    return out;
}

static int lookup_user(struct cr_health_checker *hc, const char *user, struct cr_err *err)
{
    int n = MAX_GROUPS;
    int rc = cr_user_lookup(user, &hc->uid, &hc->gid, hc->groups, &n, err);
    if (rc < 0)
        return rc;
    hc->ngroups = n;
    hc->switch_user = true;
    return 0;
}

static void spec_copy(struct cr_health_spec *dst, const struct cr_health_spec *src)
{
    cr_health_spec_init(dst);
    *dst = *src;
    dst->http_path = cr_xstrdup(src->http_path);
    cr_command_init(&dst->command);
    cr_command_copy(&dst->command, &src->command);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct cr_health_checker *hc = h->data;
    if (--hc->open_handles == 0)
        free(hc);
}

/* Free what hc owns besides its handles and probes. */
static void release_fields(struct cr_health_checker *hc)
{
    cr_health_spec_release(&hc->spec);
    free(hc->sandbox);
    free(hc->user);
    free_strv(hc->cgroup_procs);
    free_strv(hc->argv);
    free_strv(hc->envp);
    free_strv(hc->candidates);
    hc->sandbox = hc->user = NULL;
    hc->cgroup_procs = hc->argv = hc->envp = hc->candidates = NULL;
}

/* ================================================================== public */

int cr_health_checker_new(uv_loop_t *loop, const struct cr_health_spec *spec,
                          const struct cr_health_target *target, cr_health_result_fn on_result,
                          void *ud, struct cr_health_checker **out, struct cr_err *err)
{
    *out = NULL;
    if (spec->type != CR_HEALTH_COMMAND && spec->type != CR_HEALTH_HTTP &&
        spec->type != CR_HEALTH_TCP)
        return cr_err_set(err, -EINVAL, "health check: no type");
    if (!on_result)
        return cr_err_set(err, -EINVAL, "health check: no result callback");
    if (target->enter_namespaces && target->pid <= 0)
        return cr_err_set(err, -EINVAL, "health check: entering namespaces needs the task's pid");
    if (spec->type == CR_HEALTH_COMMAND && (!spec->command.value || !*spec->command.value))
        return cr_err_set(err, -EINVAL, "health check: command without a value");
    if (spec->type != CR_HEALTH_COMMAND && spec->port == 0)
        return cr_err_set(err, -EINVAL, "health check: no port");

    struct cr_health_checker *hc = cr_xcalloc(1, sizeof(*hc));
    hc->loop = loop;
    spec_copy(&hc->spec, spec);
    if (hc->spec.type == CR_HEALTH_HTTP && !hc->spec.http_path)
        hc->spec.http_path = cr_xstrdup("/");
    hc->delay_ms = seconds_to_ms(spec->delay_seconds);
    hc->interval_ms = seconds_to_ms(spec->interval_seconds);
    hc->timeout_ms = seconds_to_ms(spec->timeout_seconds);
    hc->grace_ms = seconds_to_ms(spec->grace_period_seconds);
    hc->pid = target->pid;
    hc->enter_namespaces = target->enter_namespaces;
    hc->sandbox = cr_xstrdup(target->sandbox ? target->sandbox : "/");
    hc->user = cr_xstrdup(target->user);
    hc->cgroup_procs = cr_xcalloc(target->ncgroup_procs + 1, sizeof(char *));
    for (size_t i = 0; i < target->ncgroup_procs; i++)
        hc->cgroup_procs[i] = cr_xstrdup(target->cgroup_procs[i]);
    hc->ncgroup_procs = target->ncgroup_procs;
    hc->on_result = on_result;
    hc->ud = ud;

    if (spec->type == CR_HEALTH_COMMAND) {
        const struct cr_command *cmd = &hc->spec.command;
        hc->envp = merge_env(target->envp ? target->envp : (const char *const *)environ, cmd);
        if (cmd->shell) {
            const char *argv[] = {"sh", "-c", cmd->value, NULL};
            hc->argv = dup_strv(argv);
            const char *sh[] = {"/bin/sh", NULL};
            hc->candidates = dup_strv(sh);
        } else {
            if (cmd->narguments) {
                hc->argv = cr_xcalloc(cmd->narguments + 1, sizeof(char *));
                for (size_t i = 0; i < cmd->narguments; i++)
                    hc->argv[i] = cr_xstrdup(cmd->arguments[i]);
            } else {
                const char *argv[] = {cmd->value, NULL};
                hc->argv = dup_strv(argv);
            }
            hc->candidates = exec_candidates(cmd->value, hc->envp);
        }
        int rc = hc->user ? lookup_user(hc, hc->user, err) : 0;
        if (rc < 0) {
            release_fields(hc);
            free(hc);
            return cr_err_wrap(err, "health check");
        }
    }

    uv_timer_init(loop, &hc->tick);
    uv_timer_init(loop, &hc->deadline);
    hc->tick.data = hc->deadline.data = hc;
    hc->open_handles = 2;
    *out = hc;
    return 0;
}

void cr_health_checker_start(struct cr_health_checker *hc)
{
    if (hc->running || hc->freed)
        return;
    hc->running = true;
    if (!hc->started) {
        hc->started = true;
        uv_update_time(hc->loop);
        hc->start_ms = uv_now(hc->loop);
        schedule(hc, hc->delay_ms);
    } else {
        schedule(hc, hc->interval_ms);
    }
}

void cr_health_checker_pause(struct cr_health_checker *hc)
{
    if (!hc->running || hc->freed)
        return;
    hc->running = false;
    uv_timer_stop(&hc->tick);
    probe_abandon(hc);
}

void cr_health_checker_free(struct cr_health_checker *hc)
{
    if (!hc || hc->freed)
        return;
    hc->freed = true;
    hc->running = false;
    hc->current = NULL;
    struct probe *p = hc->probes;
    hc->probes = NULL;
    while (p) {
        struct probe *next = p->next;
        p->hc = NULL;
        p->next = NULL;
        if (p->type == CR_HEALTH_COMMAND && !p->reaped) {
            command_kill(p);
            /* By pid: libuv made the pidfd non-blocking, so waitid on it would not wait.
             * The pid is ours and unreaped, so it cannot name another process. */
            while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
                ;
            p->reaped = true;
        }
        probe_close(p);
        p = next;
    }
    release_fields(hc);
    uv_close((uv_handle_t *)&hc->tick, on_timer_closed);
    uv_close((uv_handle_t *)&hc->deadline, on_timer_closed);
}
