/*
 * containerizer.c - fork/exec of containers with isolator hooks, pidfd-based waiting,
 * group kills with a grace period (see containerizer.h for the protocol with the child).
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
 *  - the vfork-style path is taken only when no isolator has an isolate() hook, because
 *    the parent is suspended until the child's exec and could not run it.
 */
#include "isolate/containerizer.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
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
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define MAX_GROUPS 256
#define CLONE_STACK_BYTES (256 * 1024) /* the vfork-style child's stack (ASan needs room) */

struct isolator_inst {
    const struct cr_isolator_ops *ops;
    void *state;
};

struct cr_containerizer {
    uv_loop_t *loop;
    struct isolator_inst *isolators; /* owned array, in order */
    size_t nisolators;
    bool needs_handshake;      /* an isolator has an isolate() hook: fork + go-ahead */
    void *clone_stack;         /* mmap'd stack for the vfork-style child, or NULL */
    struct cr_container *head; /* live containers */
    size_t count;
};

/* The step of the child's setup that failed, sent to the parent with its errno. */
enum child_step {
    STEP_SETSID = 1,
    STEP_STDIO,
    STEP_CHDIR,
    STEP_SETGROUPS,
    STEP_SETGID,
    STEP_SETUID,
    STEP_EXEC,
};

struct child_report {
    int32_t step;
    int32_t err;
};

struct cr_container {
    struct cr_containerizer *cz; /* NULL once released by cr_containerizer_free */
    struct cr_container *prev, *next;
    char *id;          /* owned */
    char *program;     /* owned: the executable as given, for messages */
    char *sandbox;     /* owned */
    char *stderr_path; /* owned */
    char *user;        /* owned or NULL */
    pid_t pid;
    int pidfd;
    int sync_fd;
    uv_poll_t pid_poll;
    uv_poll_t sync_poll;
    uv_timer_t kill_timer;
    int open_handles;
    bool sync_done; /* the child's sync socket said EOF or sent a report */
    bool exec_ok;   /* sync_done with EOF: the exec happened */
    struct child_report report;
    bool started_called;
    bool exited;
    bool stopping;
    bool term_sent;
    uint64_t kill_deadline; /* loop time (ms) of the pending SIGKILL, 0 = none */
    cr_container_started_fn on_started;
    cr_container_exited_fn on_exited;
    void *ud;
};

/* Everything the child needs, prepared before the fork (the child must not allocate). */
struct child_args {
    bool wait_go; /* block until the parent's go byte (fork path) */
    int sync_fd;
    int stdin_fd, stdout_fd, stderr_fd;
    const char *sandbox;
    char *const *argv;
    char *const *envp;
    char **candidates; /* exec paths to try, NULL-terminated */
    bool switch_user;
    uid_t uid;
    gid_t gid;
    gid_t *groups;
    int ngroups;
    int max_fd; /* for the close-on-exec fallback */
};

/* ------------------------------------------------------------------ the child */

static void __attribute__((noreturn)) child_fail(int sync_fd, enum child_step step, int err)
{
    struct child_report rep = {.step = (int32_t)step, .err = (int32_t)err};
    ssize_t n;
    do {
        n = send(sync_fd, &rep, sizeof(rep), MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    _exit(127);
}

/* Make fd become target, clearing close-on-exec (dup2 keeps the flag if fd == target). */
static int move_fd(int fd, int target)
{
    if (fd == target)
        return fcntl(fd, F_SETFD, 0);
    return dup2(fd, target) < 0 ? -1 : 0;
}

static void __attribute__((noreturn)) child_run(const struct child_args *a)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &sa, NULL); /* reserved real-time signals fail harmlessly */
    if (setsid() < 0)
        child_fail(a->sync_fd, STEP_SETSID, errno);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    if (a->wait_go) {
        /* Wait for the parent's go-ahead: it runs the isolators' isolate() meanwhile. */
        char go;
        ssize_t n;
        do {
            n = read(a->sync_fd, &go, 1);
        } while (n < 0 && errno == EINTR);
        if (n != 1)
            _exit(127); /* the parent gave up on this launch */
    }

    if (move_fd(a->stdin_fd, 0) < 0 || move_fd(a->stdout_fd, 1) < 0 || move_fd(a->stderr_fd, 2) < 0)
        child_fail(a->sync_fd, STEP_STDIO, errno);
    if (chdir(a->sandbox) < 0)
        child_fail(a->sync_fd, STEP_CHDIR, errno);
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
        for (int fd = 3; fd < a->max_fd; fd++)
            fcntl(fd, F_SETFD, FD_CLOEXEC); /* EBADF for closed ones is fine */
    }
    if (a->switch_user) {
        if (setgroups((size_t)a->ngroups, a->groups) < 0)
            child_fail(a->sync_fd, STEP_SETGROUPS, errno);
        if (setgid(a->gid) < 0)
            child_fail(a->sync_fd, STEP_SETGID, errno);
        if (setuid(a->uid) < 0)
            child_fail(a->sync_fd, STEP_SETUID, errno);
    }
    /* Like execvp: remember EACCES, keep looking past ENOENT/ENOTDIR, stop on others. */
    int err = ENOENT;
    bool saw_eacces = false;
    for (char **cand = a->candidates; *cand; cand++) {
        execve(*cand, a->argv, a->envp);
        err = errno;
        if (err == EACCES) {
            saw_eacces = true;
            continue;
        }
        if (err != ENOENT && err != ENOTDIR && err != ESTALE && err != ENODEV && err != ETIMEDOUT)
            break;
    }
    if (saw_eacces && (err == ENOENT || err == ENOTDIR))
        err = EACCES;
    child_fail(a->sync_fd, STEP_EXEC, err);
}

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
    child_run(arg);
}

/* ------------------------------------------------------------------ helpers */

static const char *step_text(enum child_step step)
{
    switch (step) {
    case STEP_SETSID:
        return "create a session";
    case STEP_STDIO:
        return "redirect stdin/stdout/stderr";
    case STEP_CHDIR:
        return "change to the sandbox";
    case STEP_SETGROUPS:
        return "set supplementary groups";
    case STEP_SETGID:
        return "set group id";
    case STEP_SETUID:
        return "set user id";
    case STEP_EXEC:
        return "execute";
    }
    return "set up the process";
}

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

/* Look user up: uid, primary gid and supplementary groups. */
static int lookup_user(const char *user, uid_t *uid, gid_t *gid, gid_t *groups, int *ngroups,
                       struct cr_err *err)
{
    struct passwd pw, *res = NULL;
    char buf[4096];
    int rc = getpwnam_r(user, &pw, buf, sizeof(buf), &res);
    if (rc != 0)
        return cr_err_sys(err, -rc, "look up user '%s'", user);
    if (!res)
        return cr_err_set(err, -ENOENT, "user '%s' does not exist", user);
    *uid = pw.pw_uid;
    *gid = pw.pw_gid;
    int n = MAX_GROUPS;
    if (getgrouplist(user, pw.pw_gid, groups, &n) < 0) {
        /* More than MAX_GROUPS: keep the first ones rather than failing the task. */
        n = MAX_GROUPS;
    }
    *ngroups = n;
    return 0;
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
    free(c->id);
    free(c->program);
    free(c->sandbox);
    free(c->stderr_path);
    free(c->user);
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
    struct child_report rep;
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

/* Append a line about a failed launch to the task's stderr file (best effort). */
static void note_in_stderr(const struct cr_container *c, const char *msg)
{
    int fd = open(c->stderr_path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        return;
    char line[512];
    int len = snprintf(line, sizeof(line), "corral: %s\n", msg);
    if (len > 0) {
        size_t want = (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1;
        ssize_t w = write(fd, line, want);
        (void)w;
    }
    close(fd);
}

static void container_finish(struct cr_container *c, const siginfo_t *si, bool status_known)
{
    struct cr_container_exit ex;
    memset(&ex, 0, sizeof(ex));
    /* No report but no exec either (the child was killed before it got there): the wait
     * status says how it ended. */
    if (!c->exec_ok && c->report.step != 0) {
        ex.launched = false;
        ex.error_code = c->report.err;
        if (c->report.step == STEP_EXEC)
            snprintf(ex.error, sizeof(ex.error), "execute '%s': %s", c->program,
                     strerror(c->report.err));
        else if (c->report.step == STEP_CHDIR)
            snprintf(ex.error, sizeof(ex.error), "change to sandbox '%s': %s", c->sandbox,
                     strerror(c->report.err));
        else if (c->report.step == STEP_SETGROUPS || c->report.step == STEP_SETGID ||
                 c->report.step == STEP_SETUID)
            snprintf(ex.error, sizeof(ex.error), "switch to user '%s': %s: %s",
                     c->user ? c->user : "?", step_text((enum child_step)c->report.step),
                     strerror(c->report.err));
        else
            snprintf(ex.error, sizeof(ex.error), "%s: %s",
                     step_text((enum child_step)c->report.step), strerror(c->report.err));
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
    container_finish(c, &si, status_known);
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

static void on_kill_timer(uv_timer_t *t)
{
    struct cr_container *c = t->data;
    c->kill_deadline = 0;
    if (c->exited)
        return;
    CR_INFO("grace period over, killing container=%s pgid=%d", c->id, (int)c->pid);
    cr_container_signal(c, SIGKILL);
}

/* ------------------------------------------------------------------ public */

int cr_containerizer_new_ops(uv_loop_t *loop, const struct cr_isolator_ops *const *ops, size_t n,
                             struct cr_containerizer **out, struct cr_err *err)
{
    *out = NULL;
    struct cr_containerizer *cz = cr_xcalloc(1, sizeof(*cz));
    cz->loop = loop;
    cz->isolators = cr_xcalloc(n + 1, sizeof(*cz->isolators));
    for (size_t i = 0; i < n; i++) {
        struct isolator_inst *iso = &cz->isolators[cz->nisolators];
        iso->ops = ops[i];
        int rc = ops[i]->create ? ops[i]->create(&iso->state, err) : 0;
        if (rc < 0) {
            cr_err_wrap(err, "create isolator '%s'", ops[i]->name);
            cr_containerizer_free(cz);
            return rc;
        }
        cz->nisolators++;
        cz->needs_handshake |= ops[i]->isolate != NULL;
    }
    if (!cz->needs_handshake) {
        cz->clone_stack = mmap(NULL, CLONE_STACK_BYTES, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (cz->clone_stack == MAP_FAILED) {
            int rc = cr_err_sys(err, -errno, "allocate the launch stack");
            cz->clone_stack = NULL;
            cr_containerizer_free(cz);
            return rc;
        }
    }
    *out = cz;
    return 0;
}

int cr_containerizer_new(uv_loop_t *loop, const char *isolation, struct cr_containerizer **out,
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
        n++;
        if (!end)
            break;
        start = end + 1;
    }
    if (rc == 0)
        rc = cr_containerizer_new_ops(loop, ops, n, out, err);
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

int cr_containerizer_launch(struct cr_containerizer *cz, const struct cr_launch_spec *spec,
                            struct cr_container **out, struct cr_err *err)
{
    *out = NULL;
    if (!spec->container_id || !spec->sandbox || !spec->argv || !spec->argv[0] ||
        !spec->stdout_path || !spec->stderr_path || !spec->on_exited)
        return cr_err_set(err, -EINVAL, "launch: incomplete launch spec");
    const char *program = spec->program ? spec->program : spec->argv[0];
    if (!*program)
        return cr_err_set(err, -EINVAL, "launch: empty program name");

    struct child_args a;
    memset(&a, 0, sizeof(a));
    a.sync_fd = a.stdin_fd = a.stdout_fd = a.stderr_fd = -1;
    gid_t groups[MAX_GROUPS];
    int rc = 0;
    size_t prepared = 0;
    char **argv = NULL, **envp = NULL, **cands = NULL;
    int sv[2] = {-1, -1};

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
    };
    for (; prepared < cz->nisolators; prepared++) {
        const struct isolator_inst *iso = &cz->isolators[prepared];
        if (iso->ops->prepare && (rc = iso->ops->prepare(iso->state, &cfg, err)) < 0) {
            cr_err_wrap(err, "prepare isolator '%s'", iso->ops->name);
            goto fail;
        }
    }

    if ((rc = open_stdio("/dev/null", O_RDONLY, 0, err)) < 0)
        goto fail;
    a.stdin_fd = rc;
    if ((rc = open_stdio(spec->stdout_path, O_WRONLY | O_CREAT | O_APPEND, 0644, err)) < 0)
        goto fail;
    a.stdout_fd = rc;
    if ((rc = open_stdio(spec->stderr_path, O_WRONLY | O_CREAT | O_APPEND, 0644, err)) < 0)
        goto fail;
    a.stderr_fd = rc;
    if (a.switch_user) {
        if (chown(spec->sandbox, a.uid, a.gid) < 0) {
            rc = cr_err_sys(err, -errno, "chown sandbox '%s' to '%s'", spec->sandbox, spec->user);
            goto fail;
        }
        if (fchown(a.stdout_fd, a.uid, a.gid) < 0 || fchown(a.stderr_fd, a.uid, a.gid) < 0) {
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
    if (cz->needs_handshake) {
        a.wait_go = true;
        pid = fork();
        if (pid == 0)
            child_run(&a);
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
        rc = cr_err_sys(err, -fork_errno, "fork");
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
    if (cz->needs_handshake) {
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
    c->stderr_path = cr_xstrdup(spec->stderr_path);
    c->user = cr_xstrdup(spec->user);
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
    close_fd(&a.stdin_fd);
    close_fd(&a.stdout_fd);
    close_fd(&a.stderr_fd);
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
    if (grace_ms <= 0) {
        uv_timer_stop(&c->kill_timer);
        c->kill_deadline = 0;
        cr_container_signal(c, SIGKILL);
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

int cr_container_usage(struct cr_container *c, struct cr_usage *usage, struct cr_err *err)
{
    memset(usage, 0, sizeof(*usage));
    usage->timestamp = cr_wall_seconds();
    if (c->exited || !c->cz)
        return cr_err_set(err, -ESRCH, "container '%s' is gone", c->id);
    for (size_t i = 0; i < c->cz->nisolators; i++) {
        const struct isolator_inst *iso = &c->cz->isolators[i];
        if (iso->ops->usage && iso->ops->usage(iso->state, c->id, c->pid, usage, err) < 0)
            return cr_err_wrap(err, "isolator '%s'", iso->ops->name);
    }
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
