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
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "cli/cli_common.h"
#include "cli/cli_util.h"
#include "cli/verbs.h"

static const char verb[] = "logs";

#define CHUNK_BYTES (1024 * 1024) /* most bytes asked for in one read */
#define TAIL_WINDOW (64 * 1024)   /* first guess of how far back --tail N reaches */
#define TAIL_WINDOW_MAX (64 * 1024 * 1024)
#define FOLLOW_POLL_MS 500
#define FOLLOW_STATE_EVERY 4        /* check the task's state every 4 idle polls */
#define FOLLOW_ERROR_GRACE_MS 30000 /* ride out an agent restart this long */

static void usage(FILE *out, const struct cr_cli_opt *opts)
{
    fprintf(out, "usage: corral logs [--stderr] [-f] [--tail N] [--master HOST:PORT] <task-id>\n\n"
                 "Print a task's stdout (or stderr) from its sandbox on its agent. With -f,\n"
                 "keep printing new output until the task has ended (or Ctrl-C).\n\n"
                 "flags:\n");
    cr_cli_opts_usage(out, opts);
}

/* The file of one task on one agent. */
struct log_file {
    char *agent; /* "ip:port" */
    char *path;  /* absolute path on the agent */
};

static void log_file_release(struct log_file *f)
{
    free(f->agent);
    free(f->path);
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
            free(f->agent);
            free(f->path);
            f->agent = cr_xstrdup(addr);
            f->path = cr_xasprintf("%s/%s", dir, use_stderr ? "stderr" : "stdout");
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

/*
 * GET /files/read: offset -1 asks for the size (in *size_out). Otherwise the bytes go to
 * *data (owned) and *len. Returns 0, -ENOENT when the agent has no such file, or another
 * negative code with err filled.
 */
static int read_file(const struct log_file *f, int64_t offset, int64_t length, char **data,
                     size_t *len, int64_t *size_out, struct cr_err *err)
{
    char *escaped = cr_cli_url_escape(f->path);
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
        return cr_err_set(err, -ENOENT, "agent %s has no file '%s'", f->agent, f->path);
    }
    if (status != 200) {
        size_t n = strcspn(body, "\n");
        cr_err_set(err, -EPROTO, "agent %s answered %d to reading '%s': %.*s", f->agent, status,
                   f->path, (int)(n > 200 ? 200 : n), body);
        free(body);
        return -EPROTO;
    }
    json_t *j = cr_cli_json_parse(body, body_len, err);
    free(body);
    if (!j)
        return cr_err_wrap(err, "agent %s answered reading '%s' with", f->agent, f->path);
    json_t *jdata = json_object_get(j, "data");
    json_t *joff = json_object_get(j, "offset");
    if (!json_is_string(jdata) || !json_is_integer(joff)) {
        json_decref(j);
        return cr_err_set(err, -EPROTO,
                          "agent %s answered reading '%s' without \"data\" and "
                          "\"offset\"",
                          f->agent, f->path);
    }
    if (size_out)
        *size_out = json_integer_value(joff);
    if (data) {
        *len = json_string_length(jdata);
        *data = cr_xmalloc(*len + 1);
        memcpy(*data, json_string_value(jdata), *len);
        (*data)[*len] = '\0';
    }
    json_decref(j);
    return 0;
}

/* Read [start, end) into buf. Returns 0 or negative with err. Stops early at a short file. */
static int read_range(const struct log_file *f, int64_t start, int64_t end, struct cr_buf *buf,
                      struct cr_err *err)
{
    int64_t pos = start;
    while (pos < end) {
        int64_t want = end - pos < CHUNK_BYTES ? end - pos : CHUNK_BYTES;
        char *data = NULL;
        size_t len = 0;
        int rc = read_file(f, pos, want, &data, &len, NULL, err);
        if (rc < 0)
            return rc;
        cr_buf_append(buf, data, len);
        free(data);
        if (len == 0)
            break;
        pos += (int64_t)len;
    }
    return 0;
}

/* Print the last n lines; *offset becomes the size at that time. */
static int print_tail(const struct log_file *f, size_t n, int64_t *offset, struct cr_err *err)
{
    int64_t size = 0;
    int rc = read_file(f, -1, -1, NULL, NULL, &size, err);
    if (rc < 0)
        return rc;
    for (int64_t window = TAIL_WINDOW;; window *= 4) {
        int64_t start = size > window ? size - window : 0;
        struct cr_buf buf;
        cr_buf_init(&buf);
        rc = read_range(f, start, size, &buf, err);
        if (rc < 0) {
            cr_buf_release(&buf);
            return rc;
        }
        bool found = false;
        size_t from = cr_cli_tail_start(buf.data ? buf.data : "", buf.len, n, &found);
        if (found || start == 0 || window >= TAIL_WINDOW_MAX) {
            fwrite(buf.data ? buf.data + from : "", 1, buf.len - from, stdout);
            fflush(stdout);
            *offset = start + (int64_t)buf.len;
            cr_buf_release(&buf);
            return 0;
        }
        cr_buf_release(&buf);
    }
}

/* Print everything from *offset on, advancing it. Sets *got when anything was printed. */
static int print_from(const struct log_file *f, int64_t *offset, bool *got, struct cr_err *err)
{
    *got = false;
    for (;;) {
        char *data = NULL;
        size_t len = 0;
        int rc = read_file(f, *offset, CHUNK_BYTES, &data, &len, NULL, err);
        if (rc < 0)
            return rc;
        if (len > 0) {
            fwrite(data, 1, len, stdout);
            fflush(stdout);
            *got = true;
        }
        free(data);
        if (len == 0)
            return 0;
        *offset += (int64_t)len;
        if (cr_cli_signal)
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

static int follow(const char *master, const char *task_id, const struct log_file *f, int64_t offset)
{
    unsigned idle = FOLLOW_STATE_EVERY - 1; /* the first idle poll asks for the state */
    bool over = false;
    int64_t failing_since = -1;
    for (;;) {
        if (!cr_cli_sleep_ms(FOLLOW_POLL_MS))
            return CR_CLI_EXIT_INTERRUPTED;
        struct cr_err err = {0};
        bool got = false;
        int rc = print_from(f, &offset, &got, &err);
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
        /* A file smaller than what was read has been rotated: start over. */
        int64_t size = 0;
        if (read_file(f, -1, -1, NULL, NULL, &size, &err) == 0 && size < offset) {
            fflush(stdout);
            fprintf(stderr, "corral logs: '%s' was rotated; reading it from the start\n", f->path);
            offset = 0;
        }
    }
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

    int64_t offset = 0;
    if (tail >= 0)
        rc = print_tail(&f, (size_t)tail, &offset, &err);
    else {
        bool got = false;
        rc = print_from(&f, &offset, &got, &err);
    }
    if (rc == -ENOENT && is_follow) {
        rc = 0; /* not written yet: follow waits for it */
    } else if (rc == -ENOENT) {
        code =
            cr_cli_fail(verb, "task '%s' has no %s yet", task_id, use_stderr ? "stderr" : "stdout");
        goto out;
    }
    if (rc < 0) {
        code = cr_cli_fail(verb, "%s", err.msg);
        goto out;
    }
    if (cr_cli_signal)
        code = CR_CLI_EXIT_INTERRUPTED;
    else if (is_follow)
        code = follow(master, task_id, &f, offset);
out:
    fflush(stdout);
    log_file_release(&f);
    free(master);
    free(task_id);
    return code;
}
