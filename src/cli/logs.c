/*
 * logs.c - `corral logs [--stderr] [-f] [--tail N] <task-id>`: print a task's stdout or
 * stderr from its sandbox, through the agent's public files API.
 *
 * The path: GET /master/state finds the task and its agent (slaves[].pid "slave(1)@ip:port"
 * or hostname:port); GET http://agent/state finds the sandbox (frameworks[] and
 * completed_frameworks[], executors[] and completed_executors[] with id, directory, tasks
 * and completed_tasks; a command task's executor id is its task id); then
 * GET /files/read?path=<dir>/stdout&offset=N&length=N answers {"data": "...", "offset": N},
 * and offset=-1 answers the file's size in "offset" (Mesos semantics).
 *
 * Rotation: the executor caps each stream and renames a full <dir>/stdout to stdout.1
 * before starting a new stdout. Answers carry the inode of the file read (Corral's
 * addition), so the reader keeps (inode, offset) of the file it follows: when "stdout"
 * answers another inode, the followed file is now stdout.1; what is left of it is read
 * from the old offset (checking that stdout.1 is indeed that inode), then the new stdout
 * from 0. More than one rotation between two polls loses the files in between, which is
 * said on stderr. Without inodes (an older agent) a size below the offset is taken as a
 * rotation. Plain `corral logs` prints stdout.1 then stdout; --tail N takes lines from
 * the end of stdout.1 when stdout has fewer than N.
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "cli/apps_common.h"
#include "cli/cli_common.h"
#include "cli/cli_util.h"
#include "cli/verbs.h"

static const char verb[] = "logs";

#define CHUNK_BYTES (1024 * 1024) /* most bytes asked for in one read */
#define OVERLAP_BYTES 64          /* re-read before each new read to recognize the file */
#define TAIL_WINDOW (64 * 1024)   /* first guess of how far back --tail N reaches */
#define TAIL_WINDOW_MAX (64 * 1024 * 1024)
#define FOLLOW_POLL_MS 500
#define FOLLOW_STATE_EVERY 4        /* check the task's state every 4 idle polls */
#define FOLLOW_ERROR_GRACE_MS 30000 /* ride out an agent restart this long */

static void usage(FILE *out, const struct cr_cli_opt *opts)
{
    fprintf(out,
            "usage: corral logs [--stderr] [-f] [--tail N] [--master HOST:PORT] <task-id|app>\n\n"
            "Print a task's stdout (or stderr) from its sandbox on its agent. With -f,\n"
            "keep printing new output until the task has ended (or Ctrl-C).\n"
            "Given an app ('web' or '/group/web'), print every instance's output with\n"
            "each line prefixed by the instance's short name ([web.3f2a]); with -f, follow\n"
            "them all, including instances started later, until Ctrl-C or the app is gone.\n\n"
            "flags:\n");
    cr_cli_opts_usage(out, opts);
}

/* The log of one task on one agent. */
struct log_file {
    char *agent;                     /* "ip:port" */
    char *path;                      /* absolute path on the agent: <sandbox>/stdout */
    char *path1;                     /* the rotated file: <sandbox>/stdout.1 */
    bool is_over;                    /* the task had ended when it was located */
    struct cr_apps_prefixer *prefix; /* app mode: output goes through it; borrowed */
};

static void log_file_release(struct log_file *f)
{
    free(f->agent);
    free(f->path);
    free(f->path1);
}

/* Does executor ex run task_id (by executor id or in its task lists)? */
static bool executor_has(const json_t *ex, const char *task_id, const char *executor_id)
{
    const char *id = cr_cli_json_id(ex, "id");
    if (id && strcmp(id, executor_id) == 0)
        return true;
    static const char *const lists[] = {"tasks", "completed_tasks", "queued_tasks"};
    for (size_t l = 0; l < 3; l++) {
        size_t i;
        json_t *task;
        json_array_foreach(cr_cli_json_array(ex, lists[l]), i, task)
        {
            const char *tid = cr_cli_json_id(task, "id");
            if (tid && strcmp(tid, task_id) == 0)
                return true;
        }
    }
    return false;
}

/*
 * The sandbox directory of task_id in an agent's /state: a live executor wins over a
 * completed one, and one of the right framework over any other. Borrowed, or NULL.
 */
static const char *find_sandbox(const json_t *agent_state, const char *task_id,
                                const char *executor_id, const char *framework_id)
{
    static const char *const fw_lists[] = {"frameworks", "completed_frameworks"};
    static const char *const ex_lists[] = {"executors", "completed_executors"};
    const char *fallback = NULL;
    for (size_t pass = 0; pass < 2; pass++) { /* 0: live executors, 1: completed */
        for (size_t l = 0; l < 2; l++) {
            size_t i;
            json_t *fw;
            json_array_foreach(cr_cli_json_array(agent_state, fw_lists[l]), i, fw)
            {
                const char *fid = cr_cli_json_id(fw, "id");
                bool right_fw = !framework_id || (fid && strcmp(fid, framework_id) == 0);
                size_t k;
                json_t *ex;
                json_array_foreach(cr_cli_json_array(fw, ex_lists[pass]), k, ex)
                {
                    const char *dir = cr_cli_json_str(ex, "directory");
                    if (!dir || !*dir || !executor_has(ex, task_id, executor_id))
                        continue;
                    if (right_fw)
                        return dir;
                    if (!fallback)
                        fallback = dir;
                }
            }
        }
    }
    return fallback;
}

/*
 * Locate the task's log file. Returns 0; -EAGAIN when the task exists but has no sandbox
 * yet (not launched on its agent yet) and is not over; or another negative code. err says
 * why in every failure case.
 */
static int locate(const char *master, const char *task_id, bool use_stderr, struct log_file *f,
                  struct cr_err *err)
{
    json_t *state = NULL;
    int rc = cr_cli_master_state(master, &state, err);
    if (rc < 0)
        return rc;
    struct cr_cli_task_ref ref;
    if (cr_cli_find_task(state, task_id, &ref) < 0) {
        json_decref(state);
        return cr_err_set(err, -ENOENT, "no task '%s' (see 'corral tasks --all')", task_id);
    }
    bool is_over = cr_cli_state_is_terminal(cr_cli_json_str(ref.task, "state"));
    const char *agent_id = cr_cli_json_id(ref.task, "slave_id");
    if (!agent_id)
        agent_id = cr_cli_json_id(ref.task, "agent_id");
    const json_t *agent = cr_cli_find_agent(state, agent_id);
    char addr[300];
    if (!agent || cr_cli_agent_address(agent, addr, sizeof(addr)) < 0) {
        cr_err_set(err, -EHOSTUNREACH,
                   "task '%s' ran on agent %s, which is not registered with "
                   "the master now; its sandbox is out of reach",
                   task_id, agent_id ? agent_id : "(unknown)");
        json_decref(state);
        return -EHOSTUNREACH;
    }
    const char *executor_id = cr_cli_json_id(ref.task, "executor_id");
    if (!executor_id || !*executor_id)
        executor_id = task_id;
    char *executor = cr_xstrdup(executor_id);
    char *framework_id = cr_xstrdup(cr_cli_json_id(ref.task, "framework_id"));
    json_decref(state);

    json_t *agent_state = NULL;
    rc = cr_cli_get_json("the agent", addr, "/state", &agent_state, err);
    if (rc == 0) {
        const char *dir = find_sandbox(agent_state, task_id, executor, framework_id);
        if (dir) {
            log_file_release(f);
            f->agent = cr_xstrdup(addr);
            f->path = cr_xasprintf("%s/%s", dir, use_stderr ? "stderr" : "stdout");
            f->path1 = cr_xasprintf("%s.1", f->path);
            f->is_over = is_over;
        } else {
            rc = cr_err_set(err, is_over ? -ENOENT : -EAGAIN,
                            "agent %s has no sandbox for task '%s' (%s)", addr, task_id,
                            is_over ? "it was removed" : "the task has not started yet");
        }
        json_decref(agent_state);
    }
    free(executor);
    free(framework_id);
    return rc;
}

/* One /files/read answer. */
struct answer {
    char *data; /* owned, NUL-terminated; NULL when only the size was asked for */
    size_t len;
    int64_t offset; /* the offset read from, or the size for offset -1 */
    int64_t inode;  /* of the file read, or -1 if the agent did not say */
};

static void answer_release(struct answer *a)
{
    free(a->data);
    memset(a, 0, sizeof(*a));
}

/*
 * GET /files/read of path on f's agent: offset -1 asks for the size (in a->offset).
 * Returns 0 with *a filled (release it), -ENOENT when the agent has no such file, or
 * another negative code with err filled.
 */
static int read_file(const struct log_file *f, const char *file, int64_t offset, int64_t length,
                     struct answer *a, struct cr_err *err)
{
    memset(a, 0, sizeof(*a));
    a->inode = -1;
    char *escaped = cr_cli_url_escape(file);
    char *path = cr_xasprintf("/files/read?path=%s&offset=%lld&length=%lld", escaped,
                              (long long)offset, (long long)length);
    free(escaped);
    int status = 0;
    char *body = NULL;
    size_t body_len = 0;
    int rc = cr_cli_http("the agent", f->agent, "GET", path, NULL, 15000, &status, &body, &body_len,
                         err);
    free(path);
    if (rc < 0)
        return rc;
    if (status == 404) {
        free(body);
        return cr_err_set(err, -ENOENT, "agent %s has no file '%s'", f->agent, file);
    }
    if (status != 200) {
        size_t n = strcspn(body, "\n");
        cr_err_set(err, -EPROTO, "agent %s answered %d to reading '%s': %.*s", f->agent, status,
                   file, (int)(n > 200 ? 200 : n), body);
        free(body);
        return -EPROTO;
    }
    json_t *j = cr_cli_json_parse(body, body_len, err);
    free(body);
    if (!j)
        return cr_err_wrap(err, "agent %s answered reading '%s' with", f->agent, file);
    json_t *jdata = json_object_get(j, "data");
    json_t *joff = json_object_get(j, "offset");
    if (!json_is_string(jdata) || !json_is_integer(joff)) {
        json_decref(j);
        return cr_err_set(err, -EPROTO,
                          "agent %s answered reading '%s' without \"data\" and "
                          "\"offset\"",
                          f->agent, file);
    }
    a->offset = json_integer_value(joff);
    json_t *jino = json_object_get(j, "inode");
    if (json_is_integer(jino))
        a->inode = json_integer_value(jino);
    if (offset >= 0) {
        a->len = json_string_length(jdata);
        a->data = cr_xmalloc(a->len + 1);
        memcpy(a->data, json_string_value(jdata), a->len);
        a->data[a->len] = '\0';
    }
    json_decref(j);
    return 0;
}

static void print_bytes(const struct log_file *f, const char *data, size_t len)
{
    if (len > 0) {
        if (f->prefix)
            cr_apps_prefixer_write(f->prefix, data, len, stdout);
        else
            fwrite(data, 1, len, stdout);
        fflush(stdout);
    }
}

/*
 * Where the reader is: a file known by its inode (-1: not known yet) and the last bytes
 * printed from it (up to OVERLAP_BYTES, ending at offset). Each read starts ntail bytes
 * early and must find them again: file systems hand a freed inode number to the next new
 * file, so after two quick rotations "stdout" can be a different file with the same
 * inode, and only its content tells.
 */
struct cursor {
    int64_t inode;
    int64_t offset;
    char tail[OVERLAP_BYTES];
    size_t ntail;
};

/* Start following the file with inode at offset, having printed nothing of it yet. */
static void cursor_reset(struct cursor *c, int64_t inode, int64_t offset)
{
    c->inode = inode;
    c->offset = offset;
    c->ntail = 0;
}

/* Remember the last bytes printed (data[0..len) just followed the current tail). */
static void cursor_advance(struct cursor *c, const char *data, size_t len)
{
    c->offset += (int64_t)len;
    if (len >= OVERLAP_BYTES) {
        memcpy(c->tail, data + len - OVERLAP_BYTES, OVERLAP_BYTES);
        c->ntail = OVERLAP_BYTES;
        return;
    }
    size_t keep = c->ntail + len > OVERLAP_BYTES ? OVERLAP_BYTES - len : c->ntail;
    memmove(c->tail, c->tail + c->ntail - keep, keep);
    memcpy(c->tail + keep, data, len);
    c->ntail = keep + len;
}

/*
 * Do the first bytes of an answer read from offset - ntail repeat the cursor's tail? A
 * '?' may stand for a byte >= 0x80: a read starting inside a UTF-8 character answers
 * '?' for its first bytes (see /files/read).
 */
static bool overlap_matches(const struct cursor *c, const char *data, size_t len)
{
    if (len < c->ntail)
        return false;
    for (size_t i = 0; i < c->ntail; i++)
        if (data[i] != c->tail[i] && !(data[i] == '?' && (unsigned char)c->tail[i] >= 0x80))
            return false;
    return true;
}

/*
 * Print file from c's offset to its end, as long as it is c's file (an unknown inode is
 * taken from the first answer). Returns 0 at its end, 1 when file is another one now
 * (its inode in *other; nothing of it is printed), or a negative code with err. Sets
 * *got when anything was printed.
 */
static int drain(const struct log_file *f, const char *file, struct cursor *c, int64_t *other,
                 bool *got, struct cr_err *err)
{
    for (;;) {
        struct answer a;
        int64_t back = (int64_t)c->ntail;
        int rc = read_file(f, file, c->offset - back, CHUNK_BYTES + back, &a, err);
        if (rc < 0)
            return rc;
        if (c->inode < 0 && c->ntail == 0)
            c->inode = a.inode;
        if ((c->inode >= 0 && a.inode >= 0 && a.inode != c->inode) ||
            !overlap_matches(c, a.data, a.len)) {
            *other = a.inode;
            answer_release(&a);
            return 1;
        }
        size_t len = a.len - c->ntail;
        print_bytes(f, a.data + c->ntail, len);
        cursor_advance(c, a.data + c->ntail, len);
        answer_release(&a);
        if (len == 0)
            return 0;
        *got = true;
        if (cr_cli_signal)
            return 0;
    }
}

/*
 * c's file has been rotated to path1: print the rest of it, if path1 is indeed that file
 * (else say that output was skipped). Returns 0, or a negative code with err for a
 * failure to reach the agent.
 */
static int finish_rotated(const struct log_file *f, const struct cursor *c, bool *got,
                          struct cr_err *err)
{
    struct cursor old = *c;
    int64_t other = -1;
    int rc = drain(f, f->path1, &old, &other, got, err);
    if (rc == 1 || rc == -ENOENT) {
        fflush(stdout);
        fprintf(stderr,
                "corral logs: '%s' was rotated more than once between two reads; some output "
                "was skipped\n",
                f->path);
        return 0;
    }
    return rc;
}

/*
 * Print what is new in the followed file, following rotations. Sets *got when anything
 * was printed. Returns 0, -ENOENT when there is no file yet, or another negative code.
 */
static int catch_up(const struct log_file *f, struct cursor *c, bool *got, struct cr_err *err)
{
    *got = false;
    for (int rotations = 0;; rotations++) {
        int64_t other = -1;
        int rc = drain(f, f->path, c, &other, got, err);
        if (rc <= 0)
            return rc;
        /* "stdout" is another file: the one followed is stdout.1 now (or gone). */
        if ((rc = finish_rotated(f, c, got, err)) < 0)
            return rc;
        cursor_reset(c, other, 0);
        if (cr_cli_signal || rotations > 100)
            return 0;
    }
}

/* The size and inode of file (-ENOENT when absent). */
static int stat_file(const struct log_file *f, const char *file, int64_t *size, int64_t *inode,
                     struct cr_err *err)
{
    struct answer a;
    int rc = read_file(f, file, -1, -1, &a, err);
    if (rc < 0)
        return rc;
    *size = a.offset;
    *inode = a.inode;
    answer_release(&a);
    return 0;
}

/*
 * Print everything the task's stream still has: stdout.1 (unless it is the file stdout
 * was a moment ago), then stdout. c ends at the end of stdout.
 */
static int print_all(const struct log_file *f, struct cursor *c, struct cr_err *err)
{
    int64_t size = 0, inode = -1;
    int rc = stat_file(f, f->path, &size, &inode, err);
    if (rc < 0)
        return rc;
    cursor_reset(c, inode, 0);
    int64_t size1 = 0, inode1 = -1, other = -1;
    struct cr_err err1 = {0};
    bool got = false;
    if (stat_file(f, f->path1, &size1, &inode1, &err1) == 0 && (inode1 < 0 || inode1 != inode)) {
        struct cursor c1;
        cursor_reset(&c1, inode1, 0);
        drain(f, f->path1, &c1, &other, &got, &err1);
    }
    return catch_up(f, c, &got, err);
}

/*
 * Read the last window bytes (or all) of file ending at size into buf; *start gets where
 * it begins. Returns 0, 1 when file is no longer the one with inode, or negative.
 */
static int read_window(const struct log_file *f, const char *file, int64_t inode, int64_t size,
                       int64_t window, struct cr_buf *buf, int64_t *start, struct cr_err *err)
{
    *start = size > window ? size - window : 0;
    int64_t pos = *start;
    cr_buf_release(buf);
    while (pos < size) {
        int64_t want = size - pos < CHUNK_BYTES ? size - pos : CHUNK_BYTES;
        struct answer a;
        int rc = read_file(f, file, pos, want, &a, err);
        if (rc < 0)
            return rc;
        if (inode >= 0 && a.inode >= 0 && a.inode != inode) {
            answer_release(&a);
            return 1;
        }
        cr_buf_append(buf, a.data, a.len);
        size_t len = a.len;
        answer_release(&a);
        if (len == 0)
            break; /* shorter than it said (or a character cut at the end) */
        pos += (int64_t)len;
    }
    return 0;
}

/*
 * Print the last n lines of the stream: of stdout, preceded by the end of stdout.1 when
 * stdout alone has fewer lines. c ends at the end of what was read of stdout.
 */
static int print_tail(const struct log_file *f, size_t n, struct cursor *c, struct cr_err *err)
{
    for (int attempt = 0;; attempt++) {
        int64_t size = 0, inode = -1;
        int rc = stat_file(f, f->path, &size, &inode, err);
        if (rc < 0)
            return rc;
        cursor_reset(c, inode, 0);
        struct cr_buf buf = {0};
        int64_t start = 0;
        bool found = false;
        size_t from = 0;
        for (int64_t window = TAIL_WINDOW;; window *= 4) {
            if ((rc = read_window(f, f->path, c->inode, size, window, &buf, &start, err)) != 0)
                break;
            from = cr_cli_tail_start(buf.data ? buf.data : "", buf.len, n, &found);
            if (found || start == 0 || window >= TAIL_WINDOW_MAX)
                break;
        }
        if (rc == 1 && attempt < 3) { /* rotated meanwhile: start over */
            cr_buf_release(&buf);
            continue;
        }
        if (rc < 0 || rc == 1) {
            cr_buf_release(&buf);
            return rc < 0 ? rc : cr_err_set(err, -EAGAIN, "'%s' keeps rotating", f->path);
        }
        c->offset = start;
        cursor_advance(c, buf.data ? buf.data : "", buf.len);
        int64_t size1 = 0, inode1 = -1;
        struct cr_err err1 = {0};
        if (!found && start == 0 && n > 0 && stat_file(f, f->path1, &size1, &inode1, &err1) == 0 &&
            (inode1 < 0 || inode1 != c->inode)) {
            /* stdout has fewer than n lines: the rest comes from the end of stdout.1. */
            struct cr_buf older = {0};
            int64_t start1 = 0;
            for (int64_t window = TAIL_WINDOW;; window *= 4) {
                if (read_window(f, f->path1, inode1, size1, window, &older, &start1, &err1) != 0)
                    break;
                cr_buf_append(&older, buf.data ? buf.data : "", buf.len);
                const char *text = older.data ? older.data : "";
                size_t from1 = cr_cli_tail_start(text, older.len, n, &found);
                if (found || start1 == 0 || window >= TAIL_WINDOW_MAX) {
                    print_bytes(f, text + from1, older.len - from1);
                    cr_buf_release(&older);
                    cr_buf_release(&buf);
                    return 0;
                }
            }
            cr_buf_release(&older);
            /* stdout.1 could not be read: stdout alone it is */
        }
        print_bytes(f, buf.data ? buf.data + from : "", buf.len - from);
        cr_buf_release(&buf);
        return 0;
    }
}

/* Is the task terminal now? -1 on failure to ask. */
static int task_is_over(const char *master, const char *task_id)
{
    json_t *state = NULL;
    if (cr_cli_master_state(master, &state, NULL) < 0)
        return -1;
    struct cr_cli_task_ref ref;
    int over = cr_cli_find_task(state, task_id, &ref) < 0 ||
               cr_cli_state_is_terminal(cr_cli_json_str(ref.task, "state"));
    json_decref(state);
    return over;
}

static int follow(const char *master, const char *task_id, const struct log_file *f,
                  struct cursor *c)
{
    unsigned idle = FOLLOW_STATE_EVERY - 1; /* the first idle poll asks for the state */
    bool over = false;
    int64_t failing_since = -1;
    for (;;) {
        if (!cr_cli_sleep_ms(FOLLOW_POLL_MS))
            return CR_CLI_EXIT_INTERRUPTED;
        struct cr_err err = {0};
        bool got = false;
        int rc = catch_up(f, c, &got, &err);
        if (cr_cli_signal)
            return CR_CLI_EXIT_INTERRUPTED;
        if (rc < 0 && rc != -ENOENT) {
            if (failing_since < 0)
                failing_since = cr_now_ms();
            if (cr_now_ms() - failing_since > FOLLOW_ERROR_GRACE_MS)
                return cr_cli_fail(verb, "%s", err.msg);
            continue;
        }
        failing_since = -1;
        if (got) {
            idle = 0;
            continue;
        }
        if (over)
            return CR_CLI_EXIT_OK; /* ended, and nothing came after that was seen */
        if (++idle % FOLLOW_STATE_EVERY != 0)
            continue;
        over = task_is_over(master, task_id) == 1;
    }
}

/* ---- an app: all its instances ------------------------------------------------------- */

#define APP_REFRESH_EVERY 4 /* polls between two looks at the app's task list */

/* One instance of an app being printed. */
struct instance {
    char *task_id;
    struct log_file f;
    struct cursor c;
    struct cr_apps_prefixer px;
    bool is_located; /* f is set and the start of the output has been printed */
    bool is_seen;    /* in the latest task list */
};

struct app_logs {
    const char *master;
    char *app_id;
    bool use_stderr;
    long tail;
    struct instance **v;
    size_t n;
};

/*
 * GET /v2/apps/<id>/tasks. Returns 1 with *tasks (owned), 0 when the master knows no such
 * app (404: a task id then, or the app is gone), -1 when it could not answer.
 */
static int app_tasks(const char *master, const char *app_id, json_t **tasks)
{
    char *path = cr_apps_path(app_id, "/tasks");
    struct cr_apps_reply r;
    struct cr_err err = {0};
    int rc = cr_apps_request(master, "GET", path, NULL, &r, &err);
    free(path);
    if (rc < 0)
        return -1;
    rc = -1;
    if (r.status == 404) {
        rc = 0;
    } else if (r.status == 200 && cr_cli_json_array(r.json, "tasks")) {
        *tasks = json_incref(cr_cli_json_array(r.json, "tasks"));
        rc = 1;
    }
    cr_apps_reply_release(&r);
    return rc;
}

static struct instance *instance_find(struct app_logs *a, const char *task_id)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i]->task_id, task_id) == 0)
            return a->v[i];
    return NULL;
}

/* Mark the instances in tasks as seen, adding the new ones. */
static void instances_update(struct app_logs *a, const json_t *tasks)
{
    for (size_t i = 0; i < a->n; i++)
        a->v[i]->is_seen = false;
    size_t k;
    json_t *task;
    json_array_foreach(tasks, k, task)
    {
        const char *id = cr_cli_json_str(task, "id");
        if (!id)
            continue;
        struct instance *in = instance_find(a, id);
        if (!in) {
            in = cr_xcalloc(1, sizeof(*in));
            in->task_id = cr_xstrdup(id);
            char name[128];
            cr_apps_short_task(id, a->app_id, name, sizeof(name));
            cr_apps_prefixer_init(&in->px, name);
            cursor_reset(&in->c, -1, 0);
            a->v = cr_xrealloc(a->v, (a->n + 1) * sizeof(*a->v));
            a->v[a->n++] = in;
        }
        in->is_seen = true;
    }
}

static void instance_free(struct instance *in)
{
    cr_apps_prefixer_flush(&in->px, stdout);
    cr_apps_prefixer_release(&in->px);
    log_file_release(&in->f);
    free(in->task_id);
    free(in);
}

/*
 * Find an instance's log and print what it has: its last --tail lines, or all of it (always
 * all for an instance that started after `logs -f` did, is_late). Returns 0, -EAGAIN when
 * it has no sandbox yet, or another negative code with err.
 */
static int instance_start(struct app_logs *a, struct instance *in, bool is_late, struct cr_err *err)
{
    int rc = locate(a->master, in->task_id, a->use_stderr, &in->f, err);
    if (rc < 0)
        return rc;
    in->f.prefix = &in->px;
    in->is_located = true;
    rc = a->tail >= 0 && !is_late ? print_tail(&in->f, (size_t)a->tail, &in->c, err)
                                  : print_all(&in->f, &in->c, err);
    return rc == -ENOENT ? 0 : rc; /* no file yet: following picks it up */
}

/* Print every instance once (no -f). */
static int app_print(struct app_logs *a)
{
    size_t failed = 0;
    for (size_t i = 0; i < a->n && !cr_cli_signal; i++) {
        struct instance *in = a->v[i];
        struct cr_err err = {0};
        if (instance_start(a, in, false, &err) < 0) {
            fflush(stdout);
            fprintf(stderr, "corral logs: %s%s\n", in->px.prefix, err.msg);
            failed++;
        }
        cr_apps_prefixer_flush(&in->px, stdout);
    }
    fflush(stdout);
    if (cr_cli_signal)
        return CR_CLI_EXIT_INTERRUPTED;
    return failed > 0 && failed == a->n ? CR_CLI_EXIT_FAIL : CR_CLI_EXIT_OK;
}

/* Follow every instance, old and new, until Ctrl-C or the app is gone. */
static int app_follow(struct app_logs *a)
{
    for (unsigned tick = 0;; tick++) {
        if (tick > 0 && !cr_cli_sleep_ms(FOLLOW_POLL_MS))
            return CR_CLI_EXIT_INTERRUPTED;
        bool is_refresh = tick % APP_REFRESH_EVERY == 0;
        if (tick > 0 && is_refresh) {
            json_t *tasks = NULL;
            int rc = app_tasks(a->master, a->app_id, &tasks);
            if (rc == 0) {
                fflush(stdout);
                fprintf(stderr, "corral logs: app '%s' is gone\n", cr_apps_display_id(a->app_id));
                return CR_CLI_EXIT_OK;
            }
            if (rc == 1) {
                instances_update(a, tasks);
                json_decref(tasks);
            }
        }
        size_t w = 0;
        for (size_t i = 0; i < a->n; i++) {
            struct instance *in = a->v[i];
            struct cr_err err = {0};
            bool got = false;
            if (!in->is_located && is_refresh)
                instance_start(a, in, tick > 0, &err); /* not launched yet: tried later */
            else if (in->is_located)
                catch_up(&in->f, &in->c, &got, &err); /* errors: ride them out */
            if (cr_cli_signal)
                return CR_CLI_EXIT_INTERRUPTED;
            if (!in->is_seen) { /* no longer an instance of the app: what it printed is out */
                instance_free(in);
                continue;
            }
            a->v[w++] = in;
        }
        a->n = w;
    }
}

/* corral logs <app>: tasks is the app's task list (borrowed). */
static int logs_app(const char *master, char *app_id, const json_t *tasks, bool use_stderr,
                    bool is_follow, long tail)
{
    struct app_logs a = {
        .master = master, .app_id = app_id, .use_stderr = use_stderr, .tail = tail};
    instances_update(&a, tasks);
    if (a.n == 0 && !is_follow)
        fprintf(stderr, "corral logs: app '%s' has no instances\n", cr_apps_display_id(app_id));
    int code = is_follow ? app_follow(&a) : app_print(&a);
    for (size_t i = 0; i < a.n; i++)
        instance_free(a.v[i]);
    free(a.v);
    fflush(stdout);
    return code;
}

int cr_cli_logs_main(int argc, char **argv)
{
    const char *master_flag = NULL;
    bool use_stderr = false, is_follow = false;
    long tail = -1;
    struct cr_cli_opt opts[] = {
        {"stderr", 0, CR_CLI_OPT_BOOL, &use_stderr, NULL, "print stderr instead of stdout", 0, 0},
        {"follow", 'f', CR_CLI_OPT_BOOL, &is_follow, NULL,
         "keep printing new output until the task has ended", 0, 0},
        {"tail", 'n', CR_CLI_OPT_INT, &tail, "N", "print only the last N lines (then follow)", 0,
         100000000},
        CR_CLI_OPT_MASTER(&master_flag),
        CR_CLI_OPT_END,
    };
    char *task_id = NULL;
    int code;
    if (!cr_cli_parse_verb_args(verb, usage, opts, argc, argv, &task_id, &code))
        return code;

    cr_cli_catch_signals();
    char *master = cr_cli_master_resolve(master_flag);
    struct log_file f = {0};
    struct cr_err err = {0};
    int rc;
    code = CR_CLI_EXIT_OK;

    /* An app's name rather than a task id: every instance, prefixed. */
    char *app_id = cr_apps_id(task_id);
    json_t *tasks = NULL;
    if (app_tasks(master, app_id, &tasks) == 1) {
        code = logs_app(master, app_id, tasks, use_stderr, is_follow, tail);
        json_decref(tasks);
        free(app_id);
        goto out;
    }
    free(app_id);

    /* With -f, a task that has not reached its agent yet is waited for. */
    while ((rc = locate(master, task_id, use_stderr, &f, &err)) == -EAGAIN && is_follow) {
        if (!cr_cli_sleep_ms(FOLLOW_POLL_MS)) {
            code = CR_CLI_EXIT_INTERRUPTED;
            goto out;
        }
    }
    if (rc < 0) {
        code = cr_cli_fail(verb, "%s", err.msg);
        goto out;
    }

    struct cursor c;
    cursor_reset(&c, -1, 0);
    if (tail >= 0)
        rc = print_tail(&f, (size_t)tail, &c, &err);
    else
        rc = print_all(&f, &c, &err);
    if (rc == -ENOENT && is_follow) {
        rc = 0; /* not written yet: follow waits for it */
    } else if (rc == -ENOENT) {
        const char *name = use_stderr ? "stderr" : "stdout";
        code = f.is_over ? cr_cli_fail(verb,
                                       "task '%s' has ended and its %s is gone (its sandbox "
                                       "was garbage-collected, see the agent's --gc-delay)",
                                       task_id, name)
                         : cr_cli_fail(verb, "task '%s' has no %s yet", task_id, name);
        goto out;
    }
    if (rc < 0) {
        code = cr_cli_fail(verb, "%s", err.msg);
        goto out;
    }
    if (cr_cli_signal)
        code = CR_CLI_EXIT_INTERRUPTED;
    else if (is_follow)
        code = follow(master, task_id, &f, &c);
out:
    fflush(stdout);
    log_file_release(&f);
    free(master);
    free(task_id);
    return code;
}
