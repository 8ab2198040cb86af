/*
 * containerizer.c - fork/exec of containers with isolator hooks, pidfd-based waiting,
 * group kills with a grace period (see containerizer.h for the protocol with the child;
 * the child itself is containerizer_child.c).
 *
 * Invariants:
 *  - a container is in cz's list from a successful launch until on_exited is called
 *    (or until cr_containerizer_free releases it);
 *  - its three handles (pidfd poll, sync-socket poll, kill timer) are closed together;
 *    the struct is freed by the last close callback, never earlier;
 *  - the leader is reaped only after the rest of its group got SIGKILL, so the group id
 *    (= the leader's pid, pinned by the zombie) always names our processes;
 *  - between fork and exec the child only calls async-signal-safe functions and touches
 *    only memory prepared before the fork (on the vfork-style path it shares the agent's
 *    memory, so it writes nothing but its own stack and, harmlessly, errno);
 *  - the vfork-style path is taken only when no isolator has an isolate() hook and the
 *    launch info asks for nothing (no namespaces, mounts, capabilities or seccomp),
 *    because the parent is suspended until the child's exec and could not run isolate.
 */
#include "isolate/containerizer.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "isolate/containerizer_child.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define MAX_GROUPS 256
#define CLONE_STACK_BYTES (256 * 1024) /* the vfork-style child's stack (ASan needs room) */
#define MB (UINT64_C(1024) * 1024)

struct isolator_inst {
    const struct cr_isolator_ops *ops;
    void *state;
};

struct cr_containerizer {
    uv_loop_t *loop;
    struct isolator_inst *isolators; /* owned array, in order */
    size_t nisolators;
    bool has_isolate_hook;     /* an isolator has an isolate() hook: fork + go-ahead */
    bool has_filesystem;       /* the "filesystem" isolator is on (volumes) */
    void *clone_stack;         /* mmap'd stack for the vfork-style child, or NULL */
    struct cr_container *head; /* live containers */
    size_t count;
};

struct cr_container {
    struct cr_containerizer *cz; /* NULL once released by cr_containerizer_free */
    struct cr_container *prev, *next;
    char *id;          /* owned */
    char *program;     /* owned: the executable as given, for messages */
    char *sandbox;     /* owned */
    char *stderr_path; /* owned, NULL when the task writes to a descriptor */
    int note_fd;       /* a duplicate of the task's stderr descriptor for launch-failure
                          notes, or -1; closed once the container ended */
    char *user;        /* owned or NULL */
    char **mount_what; /* owned: what each launch-info mount was, for messages */
    size_t nmounts;
    bool pid_ns; /* the leader is pid 1 of its own pid namespace */
    pid_t pid;
    int pidfd;
    int sync_fd;
    uv_poll_t pid_poll;
    uv_poll_t sync_poll;
    uv_timer_t kill_timer;
    int open_handles;
    bool sync_done; /* the child's sync socket said EOF or sent a report */
    bool exec_ok;   /* sync_done with EOF: the exec happened */
    struct cr_child_report report;
    bool started_called;
    bool exited;
    bool stopping;
    bool term_sent;
    uint64_t kill_deadline; /* loop time (ms) of the pending SIGKILL, 0 = none */
    cr_container_started_fn on_started;
    cr_container_exited_fn on_exited;
    void *ud;
};

/*
 * The launch stack is reused, and a child never returns from its frames (it execs or
 * exits), so under AddressSanitizer the redzones of the previous child's frames are still
 * marked in the shadow: clear them before each use.
 */
static void unpoison_stack(void *stack, size_t size)
{
#if defined(__SANITIZE_ADDRESS__)
    __asan_unpoison_memory_region(stack, size);
#else
    (void)stack;
    (void)size;
#endif
}

/* Entry point of the vfork-style child (clone with CLONE_VM | CLONE_VFORK). */
static int clone_entry(void *arg)
{
    cr_child_run(arg);
}

/* ------------------------------------------------------------------ helpers */

static void free_strv(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

/* Copy a NULL-terminated vector (NULL -> empty vector). */
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

/* The exec candidates for program, searching PATH from envp (or the default). */
static char **exec_candidates(const char *program, const char *const *envp)
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
    const char *start = path;
    for (;;) {
        const char *end = strchr(start, ':');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        if (len == 0)
            out[k++] = cr_xasprintf("./%s", program);
        else
            out[k++] = cr_xasprintf("%.*s/%s", (int)len, start, program);
        if (!end)
            break;
        start = end + 1;
    }
    return out;
}

/* Open path for the child's stdio with fd >= 3 and close-on-exec (cleared in the child). */
static int open_stdio(const char *path, int flags, mode_t mode, struct cr_err *err)
{
    int fd = open(path, flags | O_CLOEXEC, mode);
    if (fd < 0)
        return cr_err_sys(err, -errno, "open '%s'", path);
    if (fd < 3) {
        int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        int saved = errno;
        close(fd);
        if (moved < 0)
            return cr_err_sys(err, -saved, "duplicate descriptor for '%s'", path);
        fd = moved;
    }
    return fd;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* Look user up (a name, or the agent's resolved "#uid:gid:groups"). */
static int lookup_user(const char *user, uid_t *uid, gid_t *gid, gid_t *groups, int *ngroups,
                       struct cr_err *err)
{
    *ngroups = MAX_GROUPS;
    return cr_user_lookup(user, uid, gid, groups, ngroups, err);
}

static void cleanup_isolators(struct cr_containerizer *cz, const char *id, size_t upto)
{
    for (size_t i = upto; i-- > 0;) {
        const struct isolator_inst *iso = &cz->isolators[i];
        if (!iso->ops->cleanup)
            continue;
        struct cr_err e;
        cr_err_clear(&e);
        if (iso->ops->cleanup(iso->state, id, &e) < 0)
            CR_WARN("isolator cleanup failed container=%s isolator=%s error=\"%s\"", id,
                    iso->ops->name, cr_err_msg(&e));
    }
}

static void list_unlink(struct cr_container *c)
{
    struct cr_containerizer *cz = c->cz;
    if (!cz)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        cz->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    cz->count--;
}

static void container_free_mem(struct cr_container *c)
{
    close_fd(&c->pidfd);
    close_fd(&c->sync_fd);
    close_fd(&c->note_fd);
    free(c->id);
    free(c->program);
    free(c->sandbox);
    free(c->stderr_path);
    free(c->user);
    for (size_t i = 0; i < c->nmounts; i++)
        free(c->mount_what[i]);
    free(c->mount_what);
    free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct cr_container *c = h->data;
    if (--c->open_handles == 0)
        container_free_mem(c);
}

static void close_handles(struct cr_container *c)
{
    uv_close((uv_handle_t *)&c->pid_poll, on_handle_closed);
    uv_close((uv_handle_t *)&c->sync_poll, on_handle_closed);
    uv_close((uv_handle_t *)&c->kill_timer, on_handle_closed);
}

/* Read the child's sync socket without blocking; sets sync_done/exec_ok when it knows. */
static void read_sync(struct cr_container *c)
{
    if (c->sync_done)
        return;
    struct cr_child_report rep;
    ssize_t n;
    do {
        n = recv(c->sync_fd, &rep, sizeof(rep), MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    c->sync_done = true;
    if (n == 0) {
        c->exec_ok = true;
        return;
    }
    c->exec_ok = false;
    if (n == (ssize_t)sizeof(rep)) {
        c->report = rep;
    } else {
        /* ECONNRESET: the child died with our go byte unread. */
        c->report.step = 0;
        c->report.err = n < 0 ? errno : EPROTO;
    }
}

/* Append a line about a failed launch to the task's stderr (best effort). */
static void note_in_stderr(const struct cr_container *c, const char *msg)
{
    int fd = c->note_fd;
    if (fd < 0 && c->stderr_path)
        fd = open(c->stderr_path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        return;
    char line[512];
    int len = snprintf(line, sizeof(line), "corral: %s\n", msg);
    if (len > 0) {
        size_t want = (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1;
        ssize_t w = write(fd, line, want);
        (void)w;
    }
    if (fd != c->note_fd)
        close(fd);
}

/* The message of a failed pre-exec step. */
static void describe_failure(const struct cr_container *c, char *buf, size_t size)
{
    enum cr_child_step step = (enum cr_child_step)c->report.step;
    const char *why = strerror(c->report.err);
    switch (step) {
    case CR_STEP_EXEC:
        snprintf(buf, size, "execute '%s': %s", c->program, why);
        break;
    case CR_STEP_CHDIR:
        snprintf(buf, size, "change to sandbox '%s': %s", c->sandbox, why);
        break;
    case CR_STEP_SETGROUPS:
    case CR_STEP_SETGID:
    case CR_STEP_SETUID:
        snprintf(buf, size, "switch to user '%s': %s: %s", c->user ? c->user : "?",
                 cr_child_step_text(step), why);
        break;
    case CR_STEP_MOUNT:
        if (c->report.index >= 0 && (size_t)c->report.index < c->nmounts)
            snprintf(buf, size, "%s: %s", c->mount_what[c->report.index], why);
        else
            snprintf(buf, size, "mount #%d: %s", (int)c->report.index, why);
        break;
    case CR_STEP_CAPBSET:
        snprintf(buf, size, "%s (capability %d): %s", cr_child_step_text(step),
                 (int)c->report.index, why);
        break;
    default:
        snprintf(buf, size, "%s: %s", cr_child_step_text(step), why);
        break;
    }
}

/*
 * Sample every isolator's usage once the leader is dead (errors ignored: the posix one
 * finds no process) and turn an OOM kill in the container into the exit's limitation.
 */
static void note_limitation(struct cr_container *c, struct cr_container_exit *ex)
{
    if (!c->cz)
        return;
    struct cr_usage u;
    memset(&u, 0, sizeof(u));
    for (size_t i = 0; i < c->cz->nisolators; i++) {
        const struct isolator_inst *iso = &c->cz->isolators[i];
        if (iso->ops->usage)
            iso->ops->usage(iso->state, c->id, c->pid, &u, NULL);
    }
    if (u.mem_oom_kills == 0)
        return;
    uint64_t used = u.mem_max_bytes ? u.mem_max_bytes : u.mem_total_bytes;
    ex->oom_killed = true;
    snprintf(ex->limitation, sizeof(ex->limitation),
             "Memory limit exceeded: Requested: %lluMB Maximum Used: %lluMB",
             (unsigned long long)(u.mem_limit_bytes / MB), (unsigned long long)(used / MB));
    CR_INFO("container hit its memory limit container=%s oom_kills=%llu", c->id,
            (unsigned long long)u.mem_oom_kills);
}

static void container_finish(struct cr_container *c, const siginfo_t *si, bool status_known,
                             const struct cr_container_exit *sampled)
{
    struct cr_container_exit ex = *sampled;
    /* No report but no exec either (the child was killed before it got there): the wait
     * status says how it ended. */
    if (!c->exec_ok && c->report.step != 0) {
        ex.launched = false;
        ex.error_code = c->report.err;
        describe_failure(c, ex.error, sizeof(ex.error));
        note_in_stderr(c, ex.error);
    } else {
        ex.launched = true;
        if (!status_known) {
            ex.signaled = false;
            ex.code = -1;
        } else if (si->si_code == CLD_EXITED) {
            ex.signaled = false;
            ex.code = si->si_status;
        } else {
            ex.signaled = true;
            ex.code = si->si_status;
        }
    }
    close_fd(&c->note_fd); /* the reader of a stderr pipe may be waiting for its EOF */
    if (c->cz)
        cleanup_isolators(c->cz, c->id, c->cz->nisolators);
    list_unlink(c);
    c->exited = true;
    uv_poll_stop(&c->pid_poll);
    uv_poll_stop(&c->sync_poll);
    uv_timer_stop(&c->kill_timer);
    if (c->exec_ok && !c->started_called) {
        c->started_called = true;
        if (c->on_started)
            c->on_started(c, c->ud);
    }
    c->on_exited(c, &ex, c->ud);
    close_handles(c);
}

static void on_pidfd(uv_poll_t *h, int status, int events)
{
    struct cr_container *c = h->data;
    if (c->exited)
        return;
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    int rc = waitid(P_PIDFD, (id_t)c->pidfd, &si, WEXITED | WNOHANG | WNOWAIT);
    if (rc == 0 && si.si_pid == 0)
        return; /* spurious wakeup: still running */
    bool status_known = rc == 0;
    if (!status_known)
        CR_WARN("exit status lost container=%s pid=%d error=\"%s\"", c->id, (int)c->pid,
                strerror(errno));
    read_sync(c); /* the child is dead: its end of the socket is closed, this cannot block */
    struct cr_container_exit sampled;
    memset(&sampled, 0, sizeof(sampled));
    note_limitation(c, &sampled);
    /* Leftovers of the group die with the leader; the zombie pins the group id. */
    if (kill(-c->pid, SIGKILL) < 0 && errno != ESRCH)
        CR_WARN("kill process group failed container=%s pgid=%d error=\"%s\"", c->id, (int)c->pid,
                strerror(errno));
    if (status_known) {
        siginfo_t reaped;
        memset(&reaped, 0, sizeof(reaped));
        if (waitid(P_PIDFD, (id_t)c->pidfd, &reaped, WEXITED | WNOHANG) < 0)
            CR_WARN("reap failed container=%s pid=%d error=\"%s\"", c->id, (int)c->pid,
                    strerror(errno));
    }
    container_finish(c, &si, status_known, &sampled);
}

static void on_sync(uv_poll_t *h, int status, int events)
{
    struct cr_container *c = h->data;
    if (c->exited)
        return;
    read_sync(c);
    if (!c->sync_done)
        return;
    uv_poll_stop(&c->sync_poll);
    if (c->exec_ok && !c->started_called) {
        c->started_called = true;
        if (c->on_started)
            c->on_started(c, c->ud);
    }
}

/* SIGKILL to the group and to every process the isolators know (the cgroup's members). */
static void kill_now(struct cr_container *c)
{
    cr_container_signal(c, SIGKILL);
    if (!c->cz)
        return;
    for (size_t i = 0; i < c->cz->nisolators; i++) {
        const struct isolator_inst *iso = &c->cz->isolators[i];
        struct cr_err e;
        cr_err_clear(&e);
        if (iso->ops->kill && iso->ops->kill(iso->state, c->id, SIGKILL, &e) < 0)
            CR_WARN("isolator kill failed container=%s isolator=%s error=\"%s\"", c->id,
                    iso->ops->name, cr_err_msg(&e));
    }
}

static void on_kill_timer(uv_timer_t *t)
{
    struct cr_container *c = t->data;
    c->kill_deadline = 0;
    if (c->exited)
        return;
    CR_INFO("grace period over, killing container=%s pgid=%d", c->id, (int)c->pid);
    kill_now(c);
}

/*
 * Whether pid catches or ignores signo, from the SigCgt/SigIgn masks of
 * /proc/<pid>/status. Unknown (unreadable) counts as handled: the caller then waits out
 * the grace period as for any task.
 */
static bool handles_signal(pid_t pid, int signo)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    char *text CR_AUTOFREE = NULL;
    if (cr_read_file(path, &text, NULL, NULL) < 0)
        return true;
    uint64_t bit = UINT64_C(1) << (signo - 1);
    bool handled = false, found = false;
    static const char *const keys[] = {"\nSigCgt:", "\nSigIgn:"};
    for (size_t i = 0; i < 2; i++) {
        const char *p = strstr(text, keys[i]);
        if (!p)
            continue;
        found = true;
        unsigned long long mask = strtoull(p + strlen(keys[i]), NULL, 16);
        handled |= (mask & bit) != 0;
    }
    return handled || !found;
}

/* ------------------------------------------------------------------ public */

int cr_containerizer_new_ops(uv_loop_t *loop, const struct cr_isolator_ops *const *ops, size_t n,
                             const struct cr_isolation_opts *opts, struct cr_containerizer **out,
                             struct cr_err *err)
{
    *out = NULL;
    struct cr_isolation_opts defaults;
    cr_isolation_opts_default(&defaults);
    if (!opts)
        opts = &defaults;
    for (size_t i = 0; i < n; i++) {
        if (!ops[i]->requires)
            continue;
        bool found = false;
        for (size_t k = 0; k < n && !found; k++)
            found = strcmp(ops[k]->name, ops[i]->requires) == 0;
        if (!found)
            return cr_err_set(err, -EINVAL, "isolator '%s' requires '%s'", ops[i]->name,
                              ops[i]->requires);
    }
    struct cr_containerizer *cz = cr_xcalloc(1, sizeof(*cz));
    cz->loop = loop;
    cz->isolators = cr_xcalloc(n + 1, sizeof(*cz->isolators));
    for (size_t i = 0; i < n; i++) {
        struct isolator_inst *iso = &cz->isolators[cz->nisolators];
        iso->ops = ops[i];
        int rc = ops[i]->create ? ops[i]->create(&iso->state, opts, err) : 0;
        if (rc < 0) {
            cr_err_wrap(err, "create isolator '%s'", ops[i]->name);
            cr_containerizer_free(cz);
            return rc;
        }
        cz->nisolators++;
        cz->has_isolate_hook |= ops[i]->isolate != NULL;
        cz->has_filesystem |= strcmp(ops[i]->name, "filesystem") == 0;
    }
    *out = cz;
    return 0;
}

int cr_containerizer_new(uv_loop_t *loop, const char *isolation,
                         const struct cr_isolation_opts *opts, struct cr_containerizer **out,
                         struct cr_err *err)
{
    *out = NULL;
    const char *names = isolation && *isolation ? isolation : "posix";
    size_t max = 1;
    for (const char *s = names; *s; s++)
        max += *s == ',';
    const struct cr_isolator_ops **ops = cr_xcalloc(max, sizeof(*ops));
    size_t n = 0;
    int rc = 0;
    const char *start = names;
    for (;;) {
        const char *end = strchr(start, ',');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        char name[64];
        if (len == 0 || len >= sizeof(name)) {
            rc = cr_err_set(err, -EINVAL, "isolation '%s': empty or overlong isolator name", names);
            break;
        }
        memcpy(name, start, len);
        name[len] = '\0';
        ops[n] = cr_isolator_find(name);
        if (!ops[n]) {
            char known[128];
            rc = cr_err_set(err, -EINVAL, "unknown isolator '%s' (known: %s)", name,
                            cr_isolator_names(known, sizeof(known)));
            break;
        }
        for (size_t k = 0; k < n && rc == 0; k++)
            if (ops[k] == ops[n])
                rc = cr_err_set(err, -EINVAL, "isolation '%s': isolator '%s' given twice", names,
                                name);
        if (rc < 0)
            break;
        n++;
        if (!end)
            break;
        start = end + 1;
    }
    if (rc == 0)
        rc = cr_containerizer_new_ops(loop, ops, n, opts, out, err);
    free(ops);
    return rc;
}

int cr_containerizer_recover(struct cr_containerizer *cz, const struct cr_container_ref *known,
                             size_t n, struct cr_err *err)
{
    for (size_t i = 0; i < cz->nisolators; i++) {
        const struct isolator_inst *iso = &cz->isolators[i];
        if (iso->ops->recover && iso->ops->recover(iso->state, known, n, err) < 0)
            return cr_err_wrap(err, "recover isolator '%s'", iso->ops->name);
    }
    return 0;
}

/* Kill and synchronously reap a child that never got its go-ahead (it is blocked in read). */
static void abort_child(pid_t pid)
{
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* Whether the child has work between clone and exec beyond the posix basics. */
static bool launch_info_empty(const struct cr_launch_info *li)
{
    return li->clone_flags == 0 && !li->hostname && li->nmounts == 0 && !li->mount_proc &&
           !li->loopback_up && !li->drop_caps && !li->no_new_privs && li->seccomp_len == 0;
}

/* A descriptor for the child's stdio: path opened, or fd duplicated (>= 3, cloexec). */
static int child_stdio(const char *path, int fd, bool use_fd, struct cr_err *err)
{
    if (!use_fd)
        return open_stdio(path, O_WRONLY | O_CREAT | O_APPEND, 0644, err);
    int dup = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (dup < 0)
        return cr_err_sys(err, -errno, "duplicate stdio descriptor %d", fd);
    return dup;
}

static struct cr_container *find_live(const struct cr_containerizer *cz, const char *id)
{
    for (struct cr_container *c = cz->head; c; c = c->next)
        if (strcmp(c->id, id) == 0)
            return c;
    return NULL;
}

/* Check what the spec asks of the isolators against the ones that are on. */
static int check_spec(const struct cr_containerizer *cz, const struct cr_launch_spec *spec,
                      struct cr_err *err)
{
    if (!spec->container_id || !spec->sandbox || !spec->argv || !spec->argv[0] || !spec->on_exited)
        return cr_err_set(err, -EINVAL, "launch: incomplete launch spec");
    if (spec->use_stdio_fds ? spec->stdout_fd < 0 || spec->stderr_fd < 0
                            : !spec->stdout_path || !spec->stderr_path)
        return cr_err_set(err, -EINVAL, "launch: incomplete launch spec (stdout/stderr)");
    if (spec->network && strcmp(spec->network, "host") != 0 && strcmp(spec->network, "none") != 0)
        return cr_err_set(err, -EINVAL, "unknown network mode '%s' (known: host, none)",
                          spec->network);
    if (spec->nvolumes > 0 && !cz->has_filesystem)
        return cr_err_set(err, -EINVAL, "volumes need the 'filesystem' isolator");
    if (find_live(cz, spec->container_id))
        return cr_err_set(err, -EEXIST, "launch: container '%s' is already running",
                          spec->container_id);
    return 0;
}

int cr_containerizer_launch(struct cr_containerizer *cz, const struct cr_launch_spec *spec,
                            struct cr_container **out, struct cr_err *err)
{
    *out = NULL;
    int rc = check_spec(cz, spec, err);
    if (rc < 0)
        return rc;
    const char *program = spec->program ? spec->program : spec->argv[0];
    if (!*program)
        return cr_err_set(err, -EINVAL, "launch: empty program name");

    struct cr_child_args a;
    memset(&a, 0, sizeof(a));
    a.sync_fd = a.stdin_fd = a.stdout_fd = a.stderr_fd = -1;
    gid_t groups[MAX_GROUPS];
    size_t prepared = 0;
    char **argv = NULL, **envp = NULL, **cands = NULL;
    int sv[2] = {-1, -1};
    int note_fd = -1;
    struct cr_launch_info li;
    cr_launch_info_init(&li);
    struct sock_fprog prog;

    if (spec->user) {
        rc = lookup_user(spec->user, &a.uid, &a.gid, groups, &a.ngroups, err);
        if (rc < 0)
            return rc;
        a.switch_user = true;
        a.groups = groups;
    }

    struct cr_container_config cfg = {
        .container_id = spec->container_id,
        .sandbox = spec->sandbox,
        .user = spec->user,
        .resources = spec->resources,
        .hostname = spec->hostname,
        .network = spec->network,
        .volumes = spec->volumes,
        .nvolumes = spec->nvolumes,
        .cpu_hard_limit = spec->cpu_hard_limit,
    };
    while (prepared < cz->nisolators) {
        const struct isolator_inst *iso = &cz->isolators[prepared++];
        if (iso->ops->prepare && (rc = iso->ops->prepare(iso->state, &cfg, &li, err)) < 0) {
            cr_err_wrap(err, "prepare isolator '%s'", iso->ops->name);
            goto fail; /* cleanup runs for it too: it may have made something half-way */
        }
    }
    if (spec->network && strcmp(spec->network, "none") == 0 && !(li.clone_flags & CLONE_NEWNET)) {
        rc = cr_err_set(err, -EINVAL, "network mode 'none' needs the 'namespaces' isolator");
        goto fail;
    }
    if (li.seccomp_len > BPF_MAXINSNS) {
        rc = cr_err_set(err, -E2BIG, "seccomp filter of %zu instructions is too long",
                        li.seccomp_len);
        goto fail;
    }

    if ((rc = open_stdio("/dev/null", O_RDONLY, 0, err)) < 0)
        goto fail;
    a.stdin_fd = rc;
    if ((rc = child_stdio(spec->stdout_path, spec->stdout_fd, spec->use_stdio_fds, err)) < 0)
        goto fail;
    a.stdout_fd = rc;
    if ((rc = child_stdio(spec->stderr_path, spec->stderr_fd, spec->use_stdio_fds, err)) < 0)
        goto fail;
    a.stderr_fd = rc;
    if (spec->use_stdio_fds && (note_fd = fcntl(a.stderr_fd, F_DUPFD_CLOEXEC, 3)) < 0) {
        rc = cr_err_sys(err, -errno, "duplicate stderr descriptor");
        goto fail;
    }
    if (a.switch_user) {
        if (chown(spec->sandbox, a.uid, a.gid) < 0) {
            rc = cr_err_sys(err, -errno, "chown sandbox '%s' to '%s'", spec->sandbox, spec->user);
            goto fail;
        }
        if (!spec->use_stdio_fds &&
            (fchown(a.stdout_fd, a.uid, a.gid) < 0 || fchown(a.stderr_fd, a.uid, a.gid) < 0)) {
            rc = cr_err_sys(err, -errno, "chown stdout/stderr to '%s'", spec->user);
            goto fail;
        }
    }

    argv = dup_strv(spec->argv);
    envp = dup_strv(spec->envp);
    cands = exec_candidates(program, spec->envp);
    a.sandbox = spec->sandbox;
    a.argv = argv;
    a.envp = envp;
    a.candidates = cands;
    long open_max = sysconf(_SC_OPEN_MAX);
    a.max_fd = open_max > 0 && open_max < 65536 ? (int)open_max : 65536;
    a.private_root = (li.clone_flags & CLONE_NEWNS) != 0;
    a.mounts = li.mounts;
    a.nmounts = li.nmounts;
    a.mount_proc = li.mount_proc;
    a.hostname = li.hostname;
    a.hostname_len = li.hostname ? strlen(li.hostname) : 0;
    a.loopback_up = li.loopback_up;
    a.drop_caps = li.drop_caps;
    a.cap_keep = li.cap_keep;
    a.cap_last = li.cap_last;
    a.reduce_cap_sets = li.drop_caps && (a.switch_user ? a.uid == 0 : geteuid() == 0);
    a.no_new_privs = li.no_new_privs;
    if (li.seccomp_len > 0) {
        prog.len = (unsigned short)li.seccomp_len;
        prog.filter = li.seccomp_filter;
        a.seccomp_prog = &prog;
    }
    /* The vfork-style path cannot wait for isolate() and must stay minimal. */
    bool use_fork = cz->has_isolate_hook || !launch_info_empty(&li);
    if (!use_fork && !cz->clone_stack) {
        void *stack = mmap(NULL, CLONE_STACK_BYTES, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (stack == MAP_FAILED) {
            rc = cr_err_sys(err, -errno, "allocate the launch stack");
            goto fail;
        }
        cz->clone_stack = stack;
    }

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        rc = cr_err_sys(err, -errno, "create sync socket");
        goto fail;
    }
    a.sync_fd = sv[1];

    /* Block signals across fork so no handler of ours runs in the child before it resets
     * them (libuv's handlers would write to the loop's pipe, shared with the parent). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid;
    if (use_fork) {
        a.wait_go = true;
        if (li.clone_flags) {
            /* fork() with namespaces: the raw system call returns twice like fork, on a
             * copy of our memory (no stack needed); the child uses no libc state. */
            pid = (pid_t)syscall(SYS_clone, (unsigned long)li.clone_flags | SIGCHLD, NULL, NULL,
                                 NULL, NULL);
        } else {
            pid = fork();
        }
        if (pid == 0)
            cr_child_run(&a);
    } else {
        /* Share the address space and wait until the child has exec'd (or failed): no page
         * tables to copy and no copy-on-write faults afterwards, which is what makes
         * launching cheap for a busy agent. The child only touches `a` and its own stack. */
        unpoison_stack(cz->clone_stack, CLONE_STACK_BYTES);
        pid = clone(clone_entry, (char *)cz->clone_stack + CLONE_STACK_BYTES,
                    CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
    }
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close_fd(&sv[1]);
    close_fd(&a.stdin_fd);
    close_fd(&a.stdout_fd);
    close_fd(&a.stderr_fd);
    free_strv(argv);
    free_strv(envp);
    free_strv(cands);
    argv = envp = cands = NULL;
    if (pid < 0) {
        rc = cr_err_sys(err, -fork_errno, "%s", li.clone_flags ? "clone" : "fork");
        goto fail;
    }

    int pidfd = pidfd_open(pid, 0);
    if (pidfd < 0) {
        rc = cr_err_sys(err, -errno, "pidfd_open (Linux >= 5.3 required)");
        abort_child(pid);
        goto fail;
    }
    for (size_t i = 0; i < cz->nisolators; i++) {
        const struct isolator_inst *iso = &cz->isolators[i];
        if (iso->ops->isolate &&
            (rc = iso->ops->isolate(iso->state, spec->container_id, pid, err)) < 0) {
            cr_err_wrap(err, "isolate with '%s'", iso->ops->name);
            abort_child(pid);
            close(pidfd);
            goto fail;
        }
    }
    if (use_fork) {
        /* Go. If the child is already gone the send fails; the pidfd reports what happened. */
        char go = 'g';
        ssize_t sent;
        do {
            sent = send(sv[0], &go, 1, MSG_NOSIGNAL);
        } while (sent < 0 && errno == EINTR);
    }

    struct cr_container *c = cr_xcalloc(1, sizeof(*c));
    c->cz = cz;
    c->id = cr_xstrdup(spec->container_id);
    c->program = cr_xstrdup(program);
    c->sandbox = cr_xstrdup(spec->sandbox);
    c->stderr_path = spec->use_stdio_fds ? NULL : cr_xstrdup(spec->stderr_path);
    c->note_fd = note_fd;
    note_fd = -1;
    c->user = cr_xstrdup(spec->user);
    c->pid_ns = (li.clone_flags & CLONE_NEWPID) != 0;
    c->nmounts = li.nmounts;
    c->mount_what = cr_xcalloc(li.nmounts + 1, sizeof(char *));
    for (size_t i = 0; i < li.nmounts; i++)
        c->mount_what[i] = cr_xstrdup(li.mounts[i].what);
    cr_launch_info_release(&li);
    c->pid = pid;
    c->pidfd = pidfd;
    c->sync_fd = sv[0];
    sv[0] = -1;
    c->on_started = spec->on_started;
    c->on_exited = spec->on_exited;
    c->ud = spec->ud;
    c->pid_poll.data = c->sync_poll.data = c->kill_timer.data = c;
    int uvrc = uv_poll_init(cz->loop, &c->pid_poll, c->pidfd);
    if (uvrc < 0) {
        rc = cr_err_set(err, uvrc, "watch pidfd: %s", uv_strerror(uvrc));
        abort_child(pid);
        container_free_mem(c);
        goto fail;
    }
    uvrc = uv_poll_init(cz->loop, &c->sync_poll, c->sync_fd);
    if (uvrc < 0) {
        rc = cr_err_set(err, uvrc, "watch sync socket: %s", uv_strerror(uvrc));
        abort_child(pid);
        c->open_handles = 1; /* the pid poll; its close callback frees c */
        uv_close((uv_handle_t *)&c->pid_poll, on_handle_closed);
        goto fail;
    }
    uv_timer_init(cz->loop, &c->kill_timer);
    c->open_handles = 3;
    uv_poll_start(&c->pid_poll, UV_READABLE, on_pidfd);
    uv_poll_start(&c->sync_poll, UV_READABLE, on_sync);

    c->next = cz->head;
    if (cz->head)
        cz->head->prev = c;
    cz->head = c;
    cz->count++;
    CR_DEBUG("container launched container=%s pid=%d program=%s", c->id, (int)pid, c->program);
    *out = c;
    return 0;

fail:
    cleanup_isolators(cz, spec->container_id, prepared);
    cr_launch_info_release(&li);
    close_fd(&a.stdin_fd);
    close_fd(&a.stdout_fd);
    close_fd(&a.stderr_fd);
    close_fd(&note_fd);
    close_fd(&sv[0]);
    close_fd(&sv[1]);
    free_strv(argv);
    free_strv(envp);
    free_strv(cands);
    return rc < 0 ? rc : -EIO;
}

pid_t cr_container_pid(const struct cr_container *c)
{
    return c->pid;
}

const char *cr_container_id(const struct cr_container *c)
{
    return c->id;
}

int cr_container_signal(struct cr_container *c, int signo)
{
    if (c->exited)
        return -ESRCH;
    if (kill(-c->pid, signo) == 0)
        return 0;
    if (errno != ESRCH)
        return -errno;
    /* No group yet: the child has not reached setsid(), so it has no children either. */
    return kill(c->pid, signo) == 0 ? 0 : -errno;
}

void cr_container_stop(struct cr_container *c, int64_t grace_ms)
{
    if (c->exited)
        return;
    c->stopping = true;
    /* pid 1 of a pid namespace never sees a signal it has no handler for: apply the
     * default action (terminate) ourselves. */
    if (grace_ms > 0 && !c->term_sent && c->pid_ns && !handles_signal(c->pid, SIGTERM)) {
        CR_DEBUG("pid 1 does not handle SIGTERM, killing container=%s pid=%d", c->id, (int)c->pid);
        c->term_sent = true;
        grace_ms = 0;
    }
    if (grace_ms <= 0) {
        uv_timer_stop(&c->kill_timer);
        c->kill_deadline = 0;
        kill_now(c);
        return;
    }
    if (!c->term_sent) {
        c->term_sent = true;
        cr_container_signal(c, SIGTERM);
    }
    uint64_t deadline = uv_now(c->kill_timer.loop) + (uint64_t)grace_ms;
    if (c->kill_deadline != 0 && c->kill_deadline <= deadline)
        return;
    c->kill_deadline = deadline;
    uv_timer_start(&c->kill_timer, on_kill_timer, (uint64_t)grace_ms, 0);
}

bool cr_container_is_stopping(const struct cr_container *c)
{
    return c->stopping;
}

/* Every isolator's usage, in order; *usage reset first. */
static int sample_usage(struct cr_containerizer *cz, const char *id, pid_t pid,
                        struct cr_usage *usage, struct cr_err *err)
{
    for (size_t i = 0; i < cz->nisolators; i++) {
        const struct isolator_inst *iso = &cz->isolators[i];
        if (iso->ops->usage && iso->ops->usage(iso->state, id, pid, usage, err) < 0)
            return cr_err_wrap(err, "isolator '%s'", iso->ops->name);
    }
    return 0;
}

int cr_container_usage(struct cr_container *c, struct cr_usage *usage, struct cr_err *err)
{
    memset(usage, 0, sizeof(*usage));
    usage->timestamp = cr_wall_seconds();
    if (c->exited || !c->cz)
        return cr_err_set(err, -ESRCH, "container '%s' is gone", c->id);
    return sample_usage(c->cz, c->id, c->pid, usage, err);
}

int cr_containerizer_usage_of(struct cr_containerizer *cz, const char *container_id, pid_t pid,
                              struct cr_usage *usage, struct cr_err *err)
{
    memset(usage, 0, sizeof(*usage));
    usage->timestamp = cr_wall_seconds();
    int rc = sample_usage(cz, container_id, pid, usage, err);
    if (rc < 0)
        return cr_err_wrap(err, "usage of container '%s'", container_id);
    return 0;
}

int cr_container_update(struct cr_container *c, const struct cr_resources *resources,
                        struct cr_err *err)
{
    if (c->exited || !c->cz)
        return cr_err_set(err, -ESRCH, "container '%s' is gone", c->id);
    for (size_t i = 0; i < c->cz->nisolators; i++) {
        const struct isolator_inst *iso = &c->cz->isolators[i];
        if (iso->ops->update && iso->ops->update(iso->state, c->id, resources, err) < 0)
            return cr_err_wrap(err, "update isolator '%s'", iso->ops->name);
    }
    return 0;
}

int cr_container_cgroup_procs(const struct cr_container *c, char ***paths, size_t *n)
{
    *paths = NULL;
    *n = 0;
    if (c->exited || !c->cz)
        return -ESRCH;
    for (size_t i = 0; i < c->cz->nisolators; i++) {
        const struct isolator_inst *iso = &c->cz->isolators[i];
        if (iso->ops->procs_files && iso->ops->procs_files(iso->state, c->id, paths, n) == 0)
            return 0;
    }
    return 0;
}

int cr_containerizer_destroy(struct cr_containerizer *cz, const char *container_id,
                             struct cr_err *err)
{
    struct cr_container *live = find_live(cz, container_id);
    if (live) {
        cr_container_stop(live, 0);
        return 0;
    }
    int rc = 0;
    for (size_t i = cz->nisolators; i-- > 0;) {
        const struct isolator_inst *iso = &cz->isolators[i];
        if (iso->ops->kill) {
            struct cr_err e;
            cr_err_clear(&e);
            iso->ops->kill(iso->state, container_id, SIGKILL, &e); /* -ENOENT: nothing left */
        }
        if (iso->ops->cleanup && rc == 0 &&
            (rc = iso->ops->cleanup(iso->state, container_id, err)) < 0)
            cr_err_wrap(err, "destroy container '%s': isolator '%s'", container_id, iso->ops->name);
    }
    return rc;
}

size_t cr_containerizer_count(const struct cr_containerizer *cz)
{
    return cz->count;
}

void cr_containerizer_free(struct cr_containerizer *cz)
{
    if (!cz)
        return;
    struct cr_container *c = cz->head;
    while (c) {
        struct cr_container *next = c->next;
        c->cz = NULL;
        c->prev = c->next = NULL;
        c->exited = true; /* no more callbacks; the processes keep running */
        close_handles(c);
        c = next;
    }
    cz->head = NULL;
    cz->count = 0;
    for (size_t i = 0; i < cz->nisolators; i++)
        if (cz->isolators[i].ops->destroy)
            cz->isolators[i].ops->destroy(cz->isolators[i].state);
    free(cz->isolators);
    if (cz->clone_stack)
        munmap(cz->clone_stack, CLONE_STACK_BYTES);
    free(cz);
}
