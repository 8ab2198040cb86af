/*
 * up.c - `corral up`: a whole cluster on this machine in one command, for trying Corral
 * and for development: one master, N agents and an example task, as child processes of
 * this one.
 *
 * Children are this same binary (/proc/self/exe) started as `corral master`, `corral
 * agent` and `corral exec`; each runs in its own process group (so a terminal's Ctrl-C
 * reaches only us and we can stop them in order) with PR_SET_PDEATHSIG (so they do not
 * outlive us if we are killed). Their stdout and stderr come back through pipes read on
 * a libuv loop and are printed line by line behind the child's name ("agent-1 | ...").
 *
 * Readiness is judged only through the public HTTP API: the master's /health, then its
 * /master/state listing our N agents. Then DIR/up.json names the master and the pids so
 * the other verbs find the cluster, and a second `corral up` on the same DIR refuses to
 * start (DIR/up.lock is held with flock for our whole life).
 *
 * Stopping (Ctrl-C, SIGTERM, SIGHUP, or a child dying): SIGTERM to the example, then to
 * the agents, then to the master, each stage waiting up to 10 s before SIGKILL; then
 * up.json is removed. The same DIR next time finds the same state: agents keep their work
 * dirs and the master its raft log. Stopping an agent never stops its tasks (each has its
 * own corral-executor): tasks other than the example keep running, and the next `corral
 * up` on the same DIR re-adopts them; left alone, their executors give up and kill them
 * after the agents' --executor-recovery-timeout (15 minutes).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "base/util.h"
#include "cli/cli_common.h"
#include "cli/cli_util.h"
#include "cli/verbs.h"
#include "net/http_client.h"
#include "net/loop.h"

static const char verb[] = "up";

#define TICK_MS 100
#define PROBE_EVERY_MS 250
#define READY_TIMEOUT_MS 30000
#define STOP_STAGE_MS 10000 /* SIGTERM -> SIGKILL */
#define KILL_REAP_MS 5000   /* after SIGKILL, how long to wait for the exit */
#define MAX_AGENTS 64
#define RAFT_PORT_OFFSET 20
#define APPS_PORT_OFFSET 3030 /* 5050 -> 8080, Marathon's port */
#define PORTS_BEGIN 31000
#define PORTS_END 32000
#define EXAMPLE_APP "example"
/* The example: a small HTTP service, 3 instances, health-checked, on the first agent (best-fit
 * packs them there). */
#define EXAMPLE_JSON                                                                               \
    "{\"id\": \"/" EXAMPLE_APP "\", \"cmd\": \"exec python3 -m http.server $PORT0\", "             \
    "\"instances\": 3, \"cpus\": 0.1, \"mem\": 32, \"portDefinitions\": [{\"port\": 0, "           \
    "\"name\": \"http\"}], \"healthChecks\": [{\"protocol\": \"MESOS_HTTP\", \"path\": \"/\", "    \
    "\"portIndex\": 0, \"gracePeriodSeconds\": 30, \"intervalSeconds\": 2, "                       \
    "\"timeoutSeconds\": 2, \"delaySeconds\": 1, \"maxConsecutiveFailures\": 3}]}\n"

enum role { ROLE_MASTER, ROLE_AGENT, ROLE_EXAMPLE };
enum phase { PHASE_STARTING, PHASE_READY, PHASE_STOPPING, PHASE_DONE };
/* Stop order: the example's deploy (if still running), the example app (deleted through the
 * master's /v2 API), the agents, the master. */
enum stage { STAGE_EXAMPLE, STAGE_APP, STAGE_AGENTS, STAGE_MASTER, STAGE_COUNT };

struct up;

struct child {
    struct up *up;
    char name[24];
    enum role role;
    int port;    /* HTTP port (0 for the example) */
    char **argv; /* owned, NULL-terminated */
    pid_t pid;   /* 0 before the start */
    bool has_exited;
    int wait_status;
    bool is_registered; /* agents: listed in /master/state */
    uv_pipe_t pipe;
    bool is_pipe_open;
    struct cr_buf partial; /* output after the last newline */
};

struct up {
    uv_loop_t loop;
    char *state_dir;
    char *self;
    int port;
    int nagents;
    bool has_example;
    char *example_file;                /* the app's JSON, in the state dir */
    bool is_app_removing, is_app_gone; /* stopping: DELETE sent / the app is gone */
    bool is_ready_once;
    struct cr_http_call *app_call;
    int64_t next_app_poll_ms;

    struct child *children; /* [0] master, [1..nagents] agents, then the example */
    size_t nchildren;
    int name_width;

    uv_signal_t sigint, sigterm, sighup, sigchld;
    uv_timer_t tick;
    struct cr_http_client *http;
    struct cr_http_call *probe;
    bool is_healthy;
    int64_t next_probe_ms;
    int64_t ready_deadline_ms;

    enum phase phase;
    int stage;
    int64_t stage_deadline_ms;
    bool stage_killed;
    int exit_code;

    int lock_fd;
    bool wrote_up_json;
};

static void begin_stop(struct up *u, int code);

/* A line of our own, in the CLI's voice, between the children's lines. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("corral up: ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    fflush(stdout);
    va_end(ap);
}

/* An error or warning: on stderr, after whatever stdout holds. */
static void complain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void complain(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fputs("corral up: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void describe_wait_status(int st, char *buf, size_t size)
{
    if (WIFEXITED(st))
        snprintf(buf, size, "exited with status %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        snprintf(buf, size, "ended (wait status %d)", st);
}

static bool is_running(const struct child *c)
{
    return c->pid > 0 && !c->has_exited;
}

static enum stage stage_of(const struct child *c)
{
    return c->role == ROLE_EXAMPLE ? STAGE_EXAMPLE
           : c->role == ROLE_AGENT ? STAGE_AGENTS
                                   : STAGE_MASTER;
}

/* ---- child output ---------------------------------------------------------------------- */

static void print_line(const struct child *c, const char *line, size_t len)
{
    printf("%-*s | %.*s\n", c->up->name_width, c->name, (int)len, line);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    buf->base = cr_xmalloc(suggested);
    buf->len = suggested;
}

static void on_pipe_closed(uv_handle_t *h)
{
    (void)h;
}

static void close_pipe(struct child *c)
{
    if (!c->is_pipe_open)
        return;
    if (c->partial.len > 0) {
        print_line(c, c->partial.data, c->partial.len);
        c->partial.len = 0;
    }
    fflush(stdout);
    c->is_pipe_open = false;
    uv_close((uv_handle_t *)&c->pipe, on_pipe_closed);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct child *c = s->data;
    if (n > 0) {
        cr_buf_append(&c->partial, buf->base, (size_t)n);
        size_t start = 0;
        for (size_t i = 0; i < c->partial.len; i++) {
            if (c->partial.data[i] != '\n')
                continue;
            print_line(c, c->partial.data + start, i - start);
            start = i + 1;
        }
        if (start > 0) {
            memmove(c->partial.data, c->partial.data + start, c->partial.len - start);
            c->partial.len -= start;
            c->partial.data[c->partial.len] = '\0';
        }
        fflush(stdout);
    } else if (n < 0) {
        close_pipe(c); /* end of output (or a read error): nothing more will come */
    }
    free(buf->base);
}

/* ---- starting children ------------------------------------------------------------------ */

/* fork + exec self with c->argv, output into a pipe we read. Returns 0 or negative errno. */
static int spawn(struct up *u, struct child *c)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0) {
        int e = -errno;
        close(fds[0]);
        close(fds[1]);
        return e;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = -errno;
        close(fds[0]);
        close(fds[1]);
        close(devnull);
        return e;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls until exec. */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        dup2(devnull, STDIN_FILENO);
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        execv(u->self, c->argv);
        static const char msg[] = "corral up: cannot execute the corral binary\n";
        ssize_t ignored = write(STDERR_FILENO, msg, sizeof(msg) - 1);
        (void)ignored;
        _exit(127);
    }
    close(fds[1]);
    close(devnull);
    c->pid = pid;
    uv_pipe_init(&u->loop, &c->pipe, 0);
    c->pipe.data = c;
    int rc = uv_pipe_open(&c->pipe, fds[0]);
    if (rc == 0)
        rc = uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
    c->is_pipe_open = true;
    if (rc < 0) {
        close_pipe(c);
        complain("cannot read the output of %s: %s", c->name, uv_strerror(rc));
    }
    return 0;
}

static char **make_argv(const char *first, ...)
{
    size_t n = 0, cap = 8;
    char **argv = cr_xmalloc(cap * sizeof(*argv));
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *)) {
        if (n + 1 >= cap) {
            cap *= 2;
            argv = cr_xrealloc(argv, cap * sizeof(*argv));
        }
        argv[n++] = cr_xstrdup(a);
    }
    va_end(ap);
    argv[n] = NULL;
    return argv;
}

static int agent_port(const struct up *u, int i)
{
    int p = u->port + 1 + i;
    return p >= u->port + RAFT_PORT_OFFSET ? p + 1 : p;
}

/* "cpus:X;mem:Y;disk:Z;ports:[a-b]": agent i's slice of this machine. */
static char *agent_resources(const struct up *u, int i)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    double cpus = (ncpu > 0 ? (double)ncpu : 1.0) / u->nagents;
    cpus = (double)(long)(cpus * 10) / 10; /* whole tenths */
    if (cpus < 1)
        cpus = 1;
    long long mem_mb = pages > 0 && page > 0 ? (long long)pages * page / (1024 * 1024) : 4096;
    mem_mb /= u->nagents;
    if (mem_mb < 512)
        mem_mb = 512;
    int span = (PORTS_END - PORTS_BEGIN + 1) / u->nagents;
    int first = PORTS_BEGIN + i * span;
    int last = i == u->nagents - 1 ? PORTS_END : first + span - 1;
    char cpu_text[32];
    cr_cli_fmt_num(cpu_text, sizeof(cpu_text), cpus);

    struct statvfs vfs;
    if (statvfs(u->state_dir, &vfs) == 0 && vfs.f_frsize > 0) {
        long long disk_mb = (long long)vfs.f_bavail * (long long)vfs.f_frsize / (1024 * 1024);
        disk_mb /= u->nagents;
        if (disk_mb < 1024)
            disk_mb = 1024;
        return cr_xasprintf("cpus:%s;mem:%lld;disk:%lld;ports:[%d-%d]", cpu_text, mem_mb, disk_mb,
                            first, last);
    }
    return cr_xasprintf("cpus:%s;mem:%lld;ports:[%d-%d]", cpu_text, mem_mb, first, last);
}

static void setup_children(struct up *u)
{
    u->nchildren = 1 + (size_t)u->nagents + (u->has_example ? 1 : 0);
    u->children = cr_xcalloc(u->nchildren, sizeof(*u->children));
    char port[16], raft_port[16], apps_port[16], master_addr[64], work_dir[PATH_MAX];

    struct child *m = &u->children[0];
    snprintf(port, sizeof(port), "%d", u->port);
    snprintf(raft_port, sizeof(raft_port), "%d", u->port + RAFT_PORT_OFFSET);
    snprintf(apps_port, sizeof(apps_port), "%d", u->port + APPS_PORT_OFFSET);
    snprintf(work_dir, sizeof(work_dir), "%s/master", u->state_dir);
    snprintf(m->name, sizeof(m->name), "master");
    m->role = ROLE_MASTER;
    m->port = u->port;
    m->argv =
        make_argv("corral", "master", "--ip", "127.0.0.1", "--port", port, "--raft-port", raft_port,
                  "--apps-port", apps_port, "--work-dir", work_dir, (const char *)NULL);

    snprintf(master_addr, sizeof(master_addr), "127.0.0.1:%d", u->port);
    for (int i = 0; i < u->nagents; i++) {
        struct child *a = &u->children[1 + i];
        snprintf(a->name, sizeof(a->name), "agent-%d", i + 1);
        a->role = ROLE_AGENT;
        a->port = agent_port(u, i);
        snprintf(port, sizeof(port), "%d", a->port);
        snprintf(work_dir, sizeof(work_dir), "%s/agent-%d", u->state_dir, i + 1);
        char *resources = agent_resources(u, i);
        a->argv =
            make_argv("corral", "agent", "--master", master_addr, "--ip", "127.0.0.1", "--port",
                      port, "--work-dir", work_dir, "--resources", resources, (const char *)NULL);
        free(resources);
    }
    if (u->has_example) {
        struct child *e = &u->children[u->nchildren - 1];
        snprintf(e->name, sizeof(e->name), "example");
        e->role = ROLE_EXAMPLE;
        u->example_file = cr_xasprintf("%s/example.json", u->state_dir);
        e->argv = make_argv("corral", "deploy", "--master", master_addr, "-f", u->example_file,
                            "--wait", (const char *)NULL);
    }
    for (size_t i = 0; i < u->nchildren; i++) {
        u->children[i].up = u;
        cr_buf_init(&u->children[i].partial);
        int w = (int)strlen(u->children[i].name);
        if (w > u->name_width)
            u->name_width = w;
    }
}

/* ---- up.json ------------------------------------------------------------------------------ */

static int write_up_json(struct up *u, struct cr_err *err)
{
    json_t *doc = json_object();
    json_object_set_new(doc, "master", json_sprintf("127.0.0.1:%d", u->port));
    json_object_set_new(doc, "pid", json_integer((json_int_t)getpid()));
    json_object_set_new(doc, "master_pid", json_integer((json_int_t)u->children[0].pid));
    json_object_set_new(doc, "state_dir", json_string(u->state_dir));
    json_t *agents = json_array();
    for (size_t i = 0; i < u->nchildren; i++) {
        const struct child *c = &u->children[i];
        if (c->role != ROLE_AGENT)
            continue;
        json_t *a = json_object();
        json_object_set_new(a, "name", json_string(c->name));
        json_object_set_new(a, "address", json_sprintf("127.0.0.1:%d", c->port));
        json_object_set_new(a, "pid", json_integer((json_int_t)c->pid));
        json_array_append_new(agents, a);
    }
    json_object_set_new(doc, "agents", agents);
    json_object_set_new(doc, "example_app",
                        u->has_example ? json_string("/" EXAMPLE_APP) : json_null());
    json_object_set_new(doc, "started", json_real(cr_wall_seconds()));
    char *text = json_dumps(doc, JSON_INDENT(2));
    json_decref(doc);
    char *path = cr_cli_up_file(u->state_dir);
    size_t len = strlen(text);
    text = cr_xrealloc(text, len + 2);
    text[len++] = '\n';
    text[len] = '\0';
    int rc = cr_write_file_atomic(path, text, len, err);
    free(text);
    free(path);
    if (rc == 0)
        u->wrote_up_json = true;
    return rc;
}

static void remove_up_json(struct up *u)
{
    if (!u->wrote_up_json)
        return;
    char *path = cr_cli_up_file(u->state_dir);
    unlink(path);
    free(path);
    u->wrote_up_json = false;
}

/* ---- readiness ---------------------------------------------------------------------------- */

static void print_banner(struct up *u)
{
    printf("\ncorral is up: a master and %d agent%s, state in %s\n\n", u->nagents,
           u->nagents == 1 ? "" : "s", u->state_dir);
    printf("  master     http://127.0.0.1:%d/   (state: http://127.0.0.1:%d/master/state)\n",
           u->port, u->port);
    for (size_t i = 0; i < u->nchildren; i++)
        if (u->children[i].role == ROLE_AGENT)
            printf("  %-9s  http://127.0.0.1:%d/state\n", u->children[i].name, u->children[i].port);
    if (u->has_example)
        printf(
            "  example    app /%s: 3 instances of a small HTTP service (python3 -m http.server),\n"
            "             deployed now; its addresses follow below\n",
            EXAMPLE_APP);
    printf("  apps API   http://127.0.0.1:%d/v2/apps   (Marathon clients: port %d)\n", u->port,
           u->port + APPS_PORT_OFFSET);
    printf("\nfrom another shell:\n");
    char *default_dir = cr_cli_state_dir_default();
    bool found = default_dir && strcmp(default_dir, u->state_dir) == 0;
    free(default_dir);
    char *lines[8][2];
    size_t n = 0;
    if (!found) {
        lines[n][0] = cr_xasprintf("export CORRAL_MASTER=127.0.0.1:%d", u->port);
        lines[n++][1] = cr_xstrdup("so the verbs find this cluster");
    }
    lines[n][0] = cr_xstrdup("corral agents");
    lines[n++][1] = cr_xstrdup("agents and their resources");
    lines[n][0] = cr_xstrdup("corral tasks");
    lines[n++][1] = cr_xstrdup("running tasks");
    if (u->has_example) {
        lines[n][0] = cr_xstrdup("corral apps");
        lines[n++][1] = cr_xstrdup("the apps, their instances and deployments");
        lines[n][0] = cr_xasprintf("corral logs %s -f", EXAMPLE_APP);
        lines[n++][1] = cr_xstrdup("the example's output, every instance");
        lines[n][0] = cr_xasprintf("corral scale %s 5", EXAMPLE_APP);
        lines[n++][1] = cr_xstrdup("two more instances, same machine first");
    }
    lines[n][0] = cr_xstrdup("corral exec -- echo hello");
    lines[n++][1] = cr_xstrdup("run a command as a task");
    int width = 0;
    for (size_t i = 0; i < n; i++)
        if ((int)strlen(lines[i][0]) > width)
            width = (int)strlen(lines[i][0]);
    for (size_t i = 0; i < n; i++) {
        printf("  %-*s   # %s\n", width, lines[i][0], lines[i][1]);
        free(lines[i][0]);
        free(lines[i][1]);
    }
    printf("\npress Ctrl-C to stop the cluster\n\n");
    fflush(stdout);
}

static void become_ready(struct up *u)
{
    u->phase = PHASE_READY;
    u->is_ready_once = true;
    if (u->has_example) {
        struct child *e = &u->children[u->nchildren - 1];
        struct cr_err werr = {0};
        int rc = cr_write_file_atomic(u->example_file, EXAMPLE_JSON, strlen(EXAMPLE_JSON), &werr);
        if (rc == 0)
            rc = spawn(u, e);
        else
            complain("cannot write %s: %s", u->example_file, werr.msg);
        if (rc < 0)
            complain("cannot start the example: %s", strerror(-rc));
    }
    struct cr_err err = {0};
    if (write_up_json(u, &err) < 0)
        complain("cannot write up.json (the other verbs will not find this cluster): %s", err.msg);
    print_banner(u);
}

/* Mark the agents /master/state lists (by port); returns how many of ours are there. */
static int count_registered(struct up *u, const json_t *state)
{
    int n = 0;
    for (size_t i = 0; i < u->nchildren; i++) {
        struct child *c = &u->children[i];
        if (c->role != ROLE_AGENT)
            continue;
        c->is_registered = false;
        size_t k;
        json_t *slave;
        json_array_foreach(cr_cli_json_array(state, "slaves"), k, slave)
        {
            char addr[300];
            int port = (int)cr_cli_json_num(slave, "port", 0);
            if (cr_cli_agent_address(slave, addr, sizeof(addr)) == 0) {
                const char *colon = strrchr(addr, ':');
                if (colon)
                    port = atoi(colon + 1);
            }
            if (port == c->port && cr_cli_json_bool(slave, "active", true)) {
                c->is_registered = true;
                n++;
                break;
            }
        }
    }
    return n;
}

static void on_probe_done(int rc, const char *msg, const struct cr_http_response *resp, void *ud)
{
    struct up *u = ud;
    u->probe = NULL;
    if (u->phase != PHASE_STARTING || rc < 0 || !resp)
        return;
    if (!u->is_healthy) {
        if (resp->status == 200) {
            u->is_healthy = true;
            u->next_probe_ms = 0;
        }
        return;
    }
    if (resp->status != 200)
        return;
    json_t *state = cr_cli_json_parse(resp->body, resp->len, NULL);
    if (!state)
        return;
    int n = count_registered(u, state);
    json_decref(state);
    if (n == u->nagents)
        become_ready(u);
}

static void start_probe(struct up *u)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", u->port,
             u->is_healthy ? "/master/state" : "/health");
    struct cr_http_request req = {
        .method = "GET",
        .url = url,
        .timeout_ms = 2000,
        .connect_timeout_ms = 1000,
        .follow_redirects = true,
    };
    u->probe = cr_http_client_send(u->http, &req, on_probe_done, u, NULL);
}

static void readiness_failed(struct up *u)
{
    if (!u->is_healthy) {
        complain("the master did not answer on http://127.0.0.1:%d/health within %ds", u->port,
                 READY_TIMEOUT_MS / 1000);
    } else {
        struct cr_buf missing;
        cr_buf_init(&missing);
        int n = 0;
        for (size_t i = 0; i < u->nchildren; i++) {
            const struct child *c = &u->children[i];
            if (c->role != ROLE_AGENT)
                continue;
            if (c->is_registered)
                n++;
            else
                cr_buf_printf(&missing, "%s%s (127.0.0.1:%d)", missing.len ? ", " : "", c->name,
                              c->port);
        }
        complain("only %d of %d agents registered with the master within %ds; missing: %s", n,
                 u->nagents, READY_TIMEOUT_MS / 1000, missing.data ? missing.data : "?");
        cr_buf_release(&missing);
    }
    begin_stop(u, CR_CLI_EXIT_FAIL);
}

/* ---- stopping ------------------------------------------------------------------------------ */

static void close_cb(uv_handle_t *h)
{
    (void)h;
}

static void all_done(struct up *u)
{
    u->phase = PHASE_DONE;
    remove_up_json(u);
    if (u->probe)
        cr_http_call_cancel(u->probe);
    cr_http_client_free(u->http);
    u->http = NULL;
    for (size_t i = 0; i < u->nchildren; i++)
        close_pipe(&u->children[i]); /* grandchildren may hold the write end open */
    uv_close((uv_handle_t *)&u->tick, close_cb);
    uv_close((uv_handle_t *)&u->sigint, close_cb);
    uv_close((uv_handle_t *)&u->sigterm, close_cb);
    uv_close((uv_handle_t *)&u->sighup, close_cb);
    uv_close((uv_handle_t *)&u->sigchld, close_cb);
    if (u->exit_code == 0)
        say("stopped");
}

static void on_app_call_done(int rc, const char *msg, const struct cr_http_response *resp, void *ud)
{
    struct up *u = ud;
    (void)msg;
    u->app_call = NULL;
    if (rc < 0 || !resp)
        return;
    if (resp->status == 404)
        u->is_app_gone = true;
}

/* DELETE the example app (the master kills its instances), then poll until it is gone. */
static void app_request(struct up *u, const char *method)
{
    char url[160];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v2/apps/%s%s", u->port, EXAMPLE_APP,
             strcmp(method, "DELETE") == 0 ? "?force=true" : "");
    struct cr_http_request req = {
        .method = method,
        .url = url,
        .timeout_ms = 2000,
        .connect_timeout_ms = 1000,
    };
    u->app_call = cr_http_client_send(u->http, &req, on_app_call_done, u, NULL);
}

/* Move to the next stage that has running children and SIGTERM them. */
static void next_stage(struct up *u)
{
    for (;;) {
        u->stage++;
        if (u->stage >= STAGE_COUNT) {
            all_done(u);
            return;
        }
        if (u->stage == STAGE_APP) {
            if (!u->has_example || !u->is_ready_once || !u->http)
                continue;
            u->is_app_removing = true;
            u->next_app_poll_ms = cr_now_ms() + 200;
            u->stage_deadline_ms = cr_now_ms() + STOP_STAGE_MS;
            app_request(u, "DELETE");
            return;
        }
        int n = 0;
        for (size_t i = 0; i < u->nchildren; i++) {
            struct child *c = &u->children[i];
            if (stage_of(c) == (enum stage)u->stage && is_running(c)) {
                kill(c->pid, SIGTERM);
                n++;
            }
        }
        if (n > 0) {
            u->stage_deadline_ms = cr_now_ms() + STOP_STAGE_MS;
            u->stage_killed = false;
            return;
        }
    }
}

static void begin_stop(struct up *u, int code)
{
    if (u->phase == PHASE_STOPPING || u->phase == PHASE_DONE)
        return;
    u->phase = PHASE_STOPPING;
    u->exit_code = code;
    if (u->probe)
        cr_http_call_cancel(u->probe);
    say("stopping");
    u->stage = -1;
    next_stage(u);
}

static void stopping_tick(struct up *u, int64_t now)
{
    if (u->stage == STAGE_APP) {
        if (u->is_app_gone || now >= u->stage_deadline_ms) {
            if (!u->is_app_gone)
                complain("the example app was not removed within %ds", STOP_STAGE_MS / 1000);
            if (u->app_call)
                cr_http_call_cancel(u->app_call);
            u->app_call = NULL;
            next_stage(u);
        } else if (!u->app_call && now >= u->next_app_poll_ms) {
            u->next_app_poll_ms = now + 200;
            app_request(u, "GET");
        }
        return;
    }
    bool any = false;
    for (size_t i = 0; i < u->nchildren; i++)
        if (stage_of(&u->children[i]) == (enum stage)u->stage && is_running(&u->children[i]))
            any = true;
    if (!any) {
        next_stage(u);
        return;
    }
    if (now < u->stage_deadline_ms)
        return;
    if (u->stage_killed) {
        /* SIGKILLed and still not reaped: do not hang on it. */
        next_stage(u);
        return;
    }
    for (size_t i = 0; i < u->nchildren; i++) {
        struct child *c = &u->children[i];
        if (stage_of(c) == (enum stage)u->stage && is_running(c)) {
            complain("%s did not stop within %ds; killing it", c->name, STOP_STAGE_MS / 1000);
            kill(c->pid, SIGKILL);
        }
    }
    u->stage_killed = true;
    u->stage_deadline_ms = now + KILL_REAP_MS;
}

static void on_tick(uv_timer_t *t)
{
    struct up *u = t->data;
    int64_t now = cr_now_ms();
    switch (u->phase) {
    case PHASE_STARTING:
        if (now >= u->ready_deadline_ms) {
            readiness_failed(u);
        } else if (!u->probe && now >= u->next_probe_ms) {
            u->next_probe_ms = now + PROBE_EVERY_MS;
            start_probe(u);
        }
        break;
    case PHASE_STOPPING:
        stopping_tick(u, now);
        break;
    default:
        break;
    }
}

static void child_exited(struct up *u, struct child *c)
{
    char how[128];
    describe_wait_status(c->wait_status, how, sizeof(how));
    if (u->phase == PHASE_STOPPING) {
        bool clean = (WIFEXITED(c->wait_status) &&
                      (WEXITSTATUS(c->wait_status) == 0 || c->role == ROLE_EXAMPLE)) ||
                     (WIFSIGNALED(c->wait_status) && WTERMSIG(c->wait_status) == SIGTERM);
        if (!clean)
            complain("%s stopped: %s", c->name, how);
        return;
    }
    if (u->phase == PHASE_DONE)
        return;
    if (c->role == ROLE_EXAMPLE) {
        if (WIFEXITED(c->wait_status) && WEXITSTATUS(c->wait_status) == 0)
            say("the example app is deployed (corral apps; curl the addresses above)");
        else
            say("the example's deployment did not succeed (%s); the cluster keeps running", how);
        return;
    }
    complain("%s stopped unexpectedly (%s); stopping the cluster", c->name, how);
    begin_stop(u, CR_CLI_EXIT_FAIL);
}

static void on_sigchld(uv_signal_t *s, int signo)
{
    struct up *u = s->data;
    (void)signo;
    for (size_t i = 0; i < u->nchildren; i++) {
        struct child *c = &u->children[i];
        if (!is_running(c))
            continue;
        int st = 0;
        pid_t r = waitpid(c->pid, &st, WNOHANG);
        if (r == c->pid) {
            c->has_exited = true;
            c->wait_status = st;
            child_exited(u, c);
        }
    }
    if (u->phase == PHASE_STOPPING)
        stopping_tick(u, cr_now_ms());
}

static void on_stop_signal(uv_signal_t *s, int signo)
{
    struct up *u = s->data;
    if (u->phase == PHASE_DONE)
        return;
    (void)signo;
    if (u->phase != PHASE_STOPPING) {
        begin_stop(u, CR_CLI_EXIT_OK);
        return;
    }
    /* Asked again while stopping: do not wait any longer. */
    say("stopping now");
    for (size_t i = 0; i < u->nchildren; i++)
        if (is_running(&u->children[i]))
            kill(u->children[i].pid, SIGKILL);
    u->stage_killed = true;
    u->stage_deadline_ms = cr_now_ms() + KILL_REAP_MS;
}

/* ---- checks before starting ------------------------------------------------------------- */

/* 0 if port can be bound on 127.0.0.1, else negative errno. */
static int port_is_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

static int check_ports(const struct up *u)
{
    int last = agent_port(u, u->nagents - 1);
    if (last < u->port + APPS_PORT_OFFSET)
        last = u->port + APPS_PORT_OFFSET;
    if (last > 65535)
        return cr_cli_fail(verb, "ports %d..%d do not fit below 65536; pick a lower --port",
                           u->port, last);
    struct {
        int port;
        const char *what;
    } checks[MAX_AGENTS + 3];
    size_t n = 0;
    checks[n].port = u->port;
    checks[n++].what = "the master's HTTP port";
    checks[n].port = u->port + RAFT_PORT_OFFSET;
    checks[n++].what = "the master's raft port";
    checks[n].port = u->port + APPS_PORT_OFFSET;
    checks[n++].what = "the master's apps (Marathon) port";
    for (int i = 0; i < u->nagents; i++) {
        checks[n].port = agent_port(u, i);
        checks[n++].what = "an agent's port";
    }
    for (size_t i = 0; i < n; i++) {
        int rc = port_is_free(checks[i].port);
        if (rc == -EADDRINUSE)
            return cr_cli_fail(verb,
                               "port %d (%s) on 127.0.0.1 is in use; is another cluster "
                               "running? pick other ports with --port",
                               checks[i].port, checks[i].what);
        if (rc < 0)
            return cr_cli_fail(verb, "cannot check port %d on 127.0.0.1: %s", checks[i].port,
                               strerror(-rc));
    }
    return 0;
}

/* Is pid a live process running the same binary as we do? */
static bool is_our_binary(long pid, const char *self)
{
    if (!cr_cli_pid_alive(pid))
        return false;
    char link[64], target[PATH_MAX];
    snprintf(link, sizeof(link), "/proc/%ld/exe", pid);
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    if (n < 0)
        return errno == EACCES || errno == EPERM; /* cannot tell: assume it is */
    target[n] = '\0';
    const char *deleted = strstr(target, " (deleted)");
    size_t len = deleted ? (size_t)(deleted - target) : (size_t)n;
    return strlen(self) == len && strncmp(target, self, len) == 0;
}

/* Take DIR/up.lock and deal with a stale up.json. Returns 0 or an exit code (printed). */
static int claim_state_dir(struct up *u)
{
    char *lock_path = cr_xasprintf("%s/up.lock", u->state_dir);
    u->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (u->lock_fd < 0) {
        int code = cr_cli_fail(verb, "cannot open '%s': %s", lock_path, strerror(errno));
        free(lock_path);
        return code;
    }
    free(lock_path);
    if (flock(u->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        char text[32] = "";
        ssize_t n = pread(u->lock_fd, text, sizeof(text) - 1, 0);
        long pid = n > 0 ? strtol(text, NULL, 10) : 0;
        if (n > 0)
            text[n] = '\0';
        close(u->lock_fd);
        u->lock_fd = -1;
        if (pid > 0)
            return cr_cli_fail(verb,
                               "a cluster is already running from %s (pid %ld); stop it "
                               "first",
                               u->state_dir, pid);
        return cr_cli_fail(verb, "a cluster is already running from %s; stop it first",
                           u->state_dir);
    }
    char pid_text[32];
    int len = snprintf(pid_text, sizeof(pid_text), "%ld\n", (long)getpid());
    if (ftruncate(u->lock_fd, 0) < 0 || pwrite(u->lock_fd, pid_text, (size_t)len, 0) < 0) {
        /* Only the refusal message of another `corral up` uses the pid. */
    }

    /* up.json without a lock holder: a `corral up` that was killed. Its children got
     * SIGTERM through PR_SET_PDEATHSIG, but check before reusing the ports and dirs. */
    json_t *old = NULL;
    if (cr_cli_up_read(u->state_dir, &old, NULL) == 0) {
        long pids[MAX_AGENTS + 1];
        size_t n = 0;
        pids[n++] = (long)cr_cli_json_num(old, "master_pid", 0);
        size_t i;
        json_t *a;
        json_array_foreach(cr_cli_json_array(old, "agents"), i, a)
        {
            if (n < MAX_AGENTS + 1)
                pids[n++] = (long)cr_cli_json_num(a, "pid", 0);
        }
        json_decref(old);
        for (size_t k = 0; k < n; k++)
            if (is_our_binary(pids[k], u->self))
                return cr_cli_fail(verb,
                                   "a cluster is already running from %s (pid %ld); stop "
                                   "it first",
                                   u->state_dir, pids[k]);
        char *path = cr_cli_up_file(u->state_dir);
        unlink(path);
        free(path);
    }
    return 0;
}

/* ---- the verb ------------------------------------------------------------------------------- */

static void usage(FILE *out, const struct cr_cli_opt *opts)
{
    fprintf(out,
            "usage: corral up [--agents N] [--state-dir DIR] [--port PORT] [--no-example]\n\n"
            "Run a whole cluster on this machine: a master on 127.0.0.1:PORT and N agents on\n"
            "the next ports, each given an equal slice of the machine's cpus and memory, plus\n"
            "an example task. Their output is shown here, one line per line, behind each\n"
            "process's name. Ctrl-C stops everything. Starting again with the same state dir\n"
            "finds the same cluster (agents and the master keep their state there).\n\n"
            "flags:\n");
    cr_cli_opts_usage(out, opts);
}

static void release(struct up *u)
{
    for (size_t i = 0; i < u->nchildren; i++) {
        struct child *c = &u->children[i];
        for (char **a = c->argv; a && *a; a++)
            free(*a);
        free(c->argv);
        cr_buf_release(&c->partial);
    }
    free(u->children);
    free(u->example_file);
    free(u->state_dir);
    free(u->self);
    if (u->lock_fd >= 0)
        close(u->lock_fd);
}

static int run(struct up *u)
{
    struct cr_err err = {0};
    int rc = uv_loop_init(&u->loop);
    if (rc < 0)
        return cr_cli_fail(verb, "cannot start an event loop: %s", uv_strerror(rc));
    if (cr_http_client_new(&u->loop, &u->http, &err) < 0) {
        uv_loop_close(&u->loop);
        return cr_cli_fail(verb, "%s", err.msg);
    }
    uv_signal_init(&u->loop, &u->sigint);
    uv_signal_init(&u->loop, &u->sigterm);
    uv_signal_init(&u->loop, &u->sighup);
    uv_signal_init(&u->loop, &u->sigchld);
    uv_timer_init(&u->loop, &u->tick);
    u->sigint.data = u->sigterm.data = u->sighup.data = u->sigchld.data = u->tick.data = u;
    uv_signal_start(&u->sigint, on_stop_signal, SIGINT);
    uv_signal_start(&u->sigterm, on_stop_signal, SIGTERM);
    uv_signal_start(&u->sighup, on_stop_signal, SIGHUP);
    uv_signal_start(&u->sigchld, on_sigchld, SIGCHLD);
    uv_timer_start(&u->tick, on_tick, TICK_MS, TICK_MS);

    say("starting a master on 127.0.0.1:%d and %d agent%s; state in %s", u->port, u->nagents,
        u->nagents == 1 ? "" : "s", u->state_dir);
    u->phase = PHASE_STARTING;
    u->ready_deadline_ms = cr_now_ms() + READY_TIMEOUT_MS;
    size_t nstart = 1 + (size_t)u->nagents; /* the example waits for readiness */
    for (size_t i = 0; i < nstart; i++) {
        rc = spawn(u, &u->children[i]);
        if (rc < 0) {
            complain("cannot start %s: %s", u->children[i].name, strerror(-rc));
            begin_stop(u, CR_CLI_EXIT_FAIL);
            break;
        }
    }
    uv_run(&u->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&u->loop) == UV_EBUSY) {
        cr_loop_close_all(&u->loop);
        uv_loop_close(&u->loop);
    }
    return u->exit_code;
}

int cr_cli_up_main(int argc, char **argv)
{
    long nagents = 3, port = 5050;
    const char *state_dir = NULL;
    bool no_example = false;
    struct cr_cli_opt opts[] = {
        {"agents", 'n', CR_CLI_OPT_INT, &nagents, "N", "how many agents (default 3)", 1,
         MAX_AGENTS},
        {"state-dir", 0, CR_CLI_OPT_STRING, &state_dir, "DIR",
         "where the cluster keeps its state (default: $CORRAL_STATE_DIR, "
         "$XDG_STATE_HOME/corral or ~/.local/state/corral)",
         0, 0},
        {"port", 'p', CR_CLI_OPT_INT, &port, "PORT",
         "the master's port (default 5050); agents use the next ones, raft PORT+20", 1, 65535},
        {"no-example", 0, CR_CLI_OPT_BOOL, &no_example, NULL, "do not start the example task", 0,
         0},
        CR_CLI_OPT_END,
    };
    int code;
    if (!cr_cli_parse_verb_args(verb, usage, opts, argc, argv, NULL, &code))
        return code;

    struct up *u = cr_xcalloc(1, sizeof(*u));
    u->lock_fd = -1;
    u->port = (int)port;
    u->nagents = (int)nagents;
    u->has_example = !no_example;
    u->state_dir = state_dir && *state_dir ? cr_xstrdup(state_dir) : cr_cli_state_dir_default();
    struct cr_err err = {0};
    code = 0;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (!u->state_dir) {
        code = cr_cli_fail(verb, "no state dir: give --state-dir or set $HOME");
        goto out;
    }
    if (n < 0) {
        code = cr_cli_fail(verb, "cannot find the corral binary (/proc/self/exe): %s",
                           strerror(errno));
        goto out;
    }
    self[n] = '\0';
    u->self = cr_xstrdup(self);
    if (cr_mkdir_p(u->state_dir, 0755, &err) < 0) {
        code = cr_cli_fail(verb, "cannot create the state dir: %s", err.msg);
        goto out;
    }
    /* Absolute, so the children's work dirs do not depend on their cwd. */
    char *real = realpath(u->state_dir, NULL);
    if (real) {
        free(u->state_dir);
        u->state_dir = real;
    }
    if ((code = claim_state_dir(u)) != 0 || (code = check_ports(u)) != 0)
        goto out;

    setvbuf(stdout, NULL, _IOLBF, 0);
    setup_children(u);
    code = run(u);
out:
    release(u);
    free(u);
    return code;
}
