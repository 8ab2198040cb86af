/*
 * recover.c - the agent's checkpoint and its recovery after a restart (DESIGN.md §5).
 *
 * One journal, <work-dir>/meta/journal (agent/checkpoint.h: checksummed records, torn
 * tails cut, group-committed fdatasync), holds everything needed to pick up the work of
 * a previous agent process:
 *
 *   {"t":"task", "fw_id", "id", "framework": FrameworkInfo, "task": TaskInfo, "role",
 *    "cid", "dir", "user", "at", "state", "statuses": [TaskStatus...]}   a launched task
 *   {"t":"exec", "fw_id", "id", "pid"}                     its executor's pid
 *   {"t":"update", "fw_id", "id", "status": TaskStatus}    an update accepted from the
 *                                                          executor or made by the agent
 *   {"t":"ack", "fw_id", "id", "uuid"}                     the framework acknowledged it
 *   {"t":"done", "fw_id", "id"}                            the task left the active set
 *
 * Write rules: a task record is durable before its executor starts; an executor's update
 * is durable before the executor is told it may forget it (executors.c); acks and done
 * are written lazily (losing one re-sends an update: at least once, as Mesos promises).
 *
 * Replay rebuilds the active tasks with their status history, and re-queues every update
 * not yet acknowledged, in order, for the master. Then the journal is compacted to the
 * live state (one task record with its history, then its pending updates), and again
 * whenever it grows past COMPACT_BYTES while running. After the replay each task that
 * had not ended gets its executor re-adopted (executors.c: pidfd + re-subscription
 * deadline); a dead executor fails its task with REASON_EXECUTOR_TERMINATED.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "base/log.h"
#include "base/util.h"

#define COMPACT_BYTES (8u << 20)

/* ------------------------------------------------------------------ records */

static json_t *record(const char *type, const struct agent_task *t)
{
    return json_pack("{s:s, s:s, s:s}", "t", type, "fw_id", t->framework_id, "id", t->task_id);
}

static void append(struct cr_agent *a, json_t *rec)
{
    if (a->journal && !a->recovering)
        cr_journal_append(a->journal, rec);
    json_decref(rec);
}

static json_t *task_record(const struct agent_task *t, bool with_history)
{
    json_t *r = record("task", t);
    if (t->fw->has_info)
        json_object_set_new(r, "framework", cr_json_framework_info(&t->fw->info));
    json_object_set_new(r, "task", cr_json_task_info(&t->info, NULL));
    if (t->allocation_role)
        json_object_set_new(r, "role", json_string(t->allocation_role));
    if (t->container_id)
        json_object_set_new(r, "cid", json_string(t->container_id));
    if (t->directory)
        json_object_set_new(r, "dir", json_string(t->directory));
    if (t->user)
        json_object_set_new(r, "user", json_string(t->user));
    json_object_set_new(r, "at", json_real(t->launched_at));
    if (t->kill_requested)
        json_object_set_new(r, "killed", json_true());
    if (with_history) {
        json_t *arr = json_array();
        for (size_t i = 0; i < t->nstatuses; i++)
            json_array_append_new(arr, cr_json_task_status(&t->statuses[i]));
        json_object_set_new(r, "statuses", arr);
        pid_t pid = t->executor && t->executor->pid > 0 ? t->executor->pid : t->executor_pid;
        if (pid > 0)
            json_object_set_new(r, "pid", json_integer(pid));
    }
    return r;
}

void agent_ckpt_task(struct cr_agent *a, const struct agent_task *t)
{
    append(a, task_record(t, false));
}

void agent_ckpt_executor(struct cr_agent *a, const struct agent_task *t, pid_t pid)
{
    json_t *r = record("exec", t);
    json_object_set_new(r, "pid", json_integer(pid));
    append(a, r);
}

void agent_ckpt_update(struct cr_agent *a, const struct agent_task *t,
                       const struct cr_task_status *s)
{
    json_t *r = record("update", t);
    json_object_set_new(r, "status", cr_json_task_status(s));
    append(a, r);
}

void agent_ckpt_ack(struct cr_agent *a, const struct agent_task *t, const unsigned char uuid[16])
{
    json_t *r = record("ack", t);
    char *b64 = cr_base64_encode(uuid, 16);
    json_object_set_new(r, "uuid", json_string(b64));
    free(b64);
    append(a, r);
}

void agent_ckpt_done(struct cr_agent *a, const struct agent_task *t)
{
    append(a, record("done", t));
}

static json_t **live_records(struct cr_agent *a, size_t *n);

static void maybe_compact(struct cr_agent *a)
{
    if (!a->journal || cr_journal_size(a->journal) < COMPACT_BYTES || cr_journal_dirty(a->journal))
        return;
    size_t n = 0;
    json_t **recs = live_records(a, &n);
    struct cr_err err;
    cr_err_clear(&err);
    if (cr_journal_compact(a->journal, recs, n, &err) < 0)
        CR_WARN("cannot compact the checkpoint journal error=\"%s\"", err.msg);
    for (size_t i = 0; i < n; i++)
        json_decref(recs[i]);
    free(recs);
}

int agent_ckpt_sync(struct cr_agent *a)
{
    if (!a->journal)
        return 0;
    struct cr_err err;
    cr_err_clear(&err);
    int rc = cr_journal_sync(a->journal, &err);
    if (rc < 0)
        CR_ERROR("cannot write the checkpoint journal error=\"%s\"", err.msg);
    else
        maybe_compact(a);
    return rc;
}

struct later {
    struct cr_agent *a;
    cr_journal_done_fn done;
    void *ud;
};

static void on_synced(void *ud, int rc)
{
    struct later *l = ud;
    if (rc == 0 && l->a) {
        maybe_compact(l->a);
        if (l->a->failed_acks)
            agent_acks_retry(l->a);
    }
    if (l->done)
        l->done(l->ud, rc);
    free(l);
}

void agent_ckpt_sync_later(struct cr_agent *a, cr_journal_done_fn done, void *ud)
{
    if (!a->journal || a->recovering) {
        if (done)
            done(ud, a->recovering ? 0 : -EIO);
        return;
    }
    struct later *l = cr_xcalloc(1, sizeof(*l));
    l->a = a;
    l->done = done;
    l->ud = ud;
    if (cr_journal_sync_deferred(a->journal, a->loop, on_synced, l) < 0) {
        free(l);
        if (done)
            done(ud, -EIO);
    }
}

/* ------------------------------------------------------------------ live state */

static json_t **live_records(struct cr_agent *a, size_t *n)
{
    size_t cap = 16, k = 0;
    json_t **v = cr_xcalloc(cap, sizeof(*v));
    for (const struct agent_task *t = a->tasks_head; t; t = t->next) {
        const struct cr_su_stream *st = cr_su_stream_find(&a->su, t->framework_id, t->task_id);
        size_t need = 1 + (st ? st->n : 0);
        if (k + need >= cap) {
            cap = (k + need) * 2;
            v = cr_xrealloc(v, cap * sizeof(*v));
        }
        /* History without the pending updates, which follow as update records. */
        json_t *r = task_record(t, true);
        json_t *hist = json_object_get(r, "statuses");
        size_t pending = st ? st->n : 0;
        for (size_t i = 0; i < pending && json_array_size(hist) > 0; i++)
            json_array_remove(hist, json_array_size(hist) - 1);
        v[k++] = r;
        for (const struct cr_su_update *u = st ? st->head : NULL; u; u = u->next) {
            json_t *ur = record("update", t);
            json_object_set_new(ur, "status", cr_json_task_status(&u->status));
            v[k++] = ur;
        }
    }
    *n = k;
    return v;
}

/* ------------------------------------------------------------------ replay */

struct replay {
    struct cr_agent *a;
    size_t records, skipped;
};

static struct agent_task *replay_find(struct cr_agent *a, const json_t *rec)
{
    const char *fw = json_string_value(json_object_get(rec, "fw_id"));
    const char *id = json_string_value(json_object_get(rec, "id"));
    if (!fw || !id)
        return NULL;
    char *key = cr_agent_task_key(fw, id);
    struct agent_task *t = agent_task_find(a, key);
    free(key);
    return t;
}

static int replay_task(struct cr_agent *a, const json_t *rec, struct cr_err *err)
{
    const char *fw_id = json_string_value(json_object_get(rec, "fw_id"));
    const char *id = json_string_value(json_object_get(rec, "id"));
    json_t *task = json_object_get(rec, "task");
    if (!fw_id || !id || !json_is_object(task))
        return cr_err_set(err, -EINVAL, "task record without fw_id, id or task");
    struct cr_framework_info fi;
    cr_framework_info_init(&fi);
    json_t *fwj = json_object_get(rec, "framework");
    bool has_fi = fwj && cr_parse_framework_info(fwj, "framework", &fi, err) == 0;
    struct cr_task_info info;
    cr_task_info_init(&info);
    int rc = cr_parse_task_info(task, "task", &info, err);
    if (rc < 0) {
        cr_framework_info_release(&fi);
        return rc;
    }
    struct agent_task *t = agent_task_restore(a, fw_id, id, has_fi ? &fi : NULL, &info);
    cr_framework_info_release(&fi);
    cr_task_info_release(&info);
    if (!t)
        return 0; /* a duplicate: the later record wins nothing */
    t->allocation_role = cr_xstrdup(json_string_value(json_object_get(rec, "role")));
    t->container_id = cr_xstrdup(json_string_value(json_object_get(rec, "cid")));
    t->directory = cr_xstrdup(json_string_value(json_object_get(rec, "dir")));
    t->user = cr_xstrdup(json_string_value(json_object_get(rec, "user")));
    t->launched_at = json_number_value(json_object_get(rec, "at"));
    t->kill_requested = json_is_true(json_object_get(rec, "killed"));
    json_int_t pid = json_integer_value(json_object_get(rec, "pid"));
    t->executor_pid = pid > 0 ? (pid_t)pid : 0;
    json_t *hist = json_object_get(rec, "statuses");
    size_t i;
    json_t *sj;
    json_array_foreach(hist, i, sj)
    {
        struct cr_task_status s;
        cr_task_status_init(&s);
        if (cr_parse_task_status(sj, "statuses", &s, err) == 0)
            agent_task_restore_status(a, t, &s, false);
        cr_task_status_release(&s);
    }
    return 0;
}

static int on_replay(void *ud, const json_t *rec, struct cr_err *err)
{
    struct replay *r = ud;
    struct cr_agent *a = r->a;
    r->records++;
    const char *type = json_string_value(json_object_get(rec, "t"));
    if (!type) {
        r->skipped++;
        return 0;
    }
    if (strcmp(type, "task") == 0) {
        struct cr_err e2;
        cr_err_clear(&e2);
        if (replay_task(a, rec, &e2) < 0) {
            CR_WARN("skipping a task record that does not parse error=\"%s\"", e2.msg);
            r->skipped++;
        }
        return 0;
    }
    (void)err;
    struct agent_task *t = replay_find(a, rec);
    if (!t) {
        r->skipped++;
        return 0;
    }
    if (strcmp(type, "exec") == 0) {
        json_int_t pid = json_integer_value(json_object_get(rec, "pid"));
        t->executor_pid = pid > 0 ? (pid_t)pid : 0;
    } else if (strcmp(type, "update") == 0) {
        struct cr_task_status s;
        cr_task_status_init(&s);
        struct cr_err e2;
        cr_err_clear(&e2);
        if (cr_parse_task_status(json_object_get(rec, "status"), "status", &s, &e2) == 0 &&
            s.has_uuid && strcmp(s.task_id, t->task_id) == 0)
            agent_task_restore_status(a, t, &s, true);
        else
            r->skipped++;
        cr_task_status_release(&s);
    } else if (strcmp(type, "ack") == 0) {
        const char *b64 = json_string_value(json_object_get(rec, "uuid"));
        unsigned char *uuid = NULL;
        size_t len = 0;
        if (b64 && cr_base64_decode(b64, strlen(b64), &uuid, &len) == 0 && len == 16)
            cr_su_ack(&a->su, t->framework_id, t->task_id, uuid, cr_now_ms(), NULL);
        free(uuid);
    } else if (strcmp(type, "done") == 0) {
        agent_task_forget(a, t);
    } else {
        r->skipped++;
    }
    return 0;
}

int agent_ckpt_recover(struct cr_agent *a, struct cr_err *err)
{
    char *path = cr_xasprintf("%s/meta/journal", a->work_dir);
    struct replay r = {.a = a};
    a->recovering = true;
    int rc = cr_journal_open(path, on_replay, &r, &a->journal, err);
    a->recovering = false;
    free(path);
    if (rc < 0) {
        cr_err_wrap(err, "open the checkpoint journal");
        return rc;
    }
    if (r.skipped)
        CR_WARN("checkpoint records skipped records=%zu skipped=%zu", r.records, r.skipped);
    /* Compact to the live state so the journal never grows across restarts. */
    size_t n = 0;
    json_t **recs = live_records(a, &n);
    rc = cr_journal_compact(a->journal, recs, n, err);
    for (size_t i = 0; i < n; i++)
        json_decref(recs[i]);
    free(recs);
    if (rc < 0) {
        cr_err_wrap(err, "compact the checkpoint journal");
        return rc;
    }
    if (a->ntasks > 0)
        CR_INFO("recovered tasks from the checkpoint tasks=%zu pending_updates=%zu", a->ntasks,
                cr_su_pending(&a->su));
    return 0;
}

/* ------------------------------------------------------------------ old sandboxes */

/* Call fn for each subdirectory name of dir (not "." / ".." / symlinks). */
static void each_subdir(const char *dir, void (*fn)(struct cr_agent *a, const char *path),
                        struct cr_agent *a)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || e->d_type != DT_DIR)
            continue;
        char *path = cr_xasprintf("%s/%s", dir, e->d_name);
        fn(a, path);
        free(path);
    }
    closedir(d);
}

static bool run_is_active(const struct cr_agent *a, const char *path)
{
    for (const struct agent_task *t = a->tasks_head; t; t = t->next)
        if (t->directory && strcmp(t->directory, path) == 0)
            return true;
    return false;
}

static void gc_run(struct cr_agent *a, const char *run)
{
    if (run_is_active(a, run))
        return;
    struct cr_err err;
    cr_err_clear(&err);
    if (cr_gc_schedule_by_mtime(a->gc, run, &err) < 0)
        CR_WARN("cannot schedule an old sandbox for removal path=%s error=\"%s\"", run, err.msg);
}

static void gc_executor(struct cr_agent *a, const char *executor)
{
    char *runs = cr_xasprintf("%s/runs", executor);
    each_subdir(runs, gc_run, a);
    free(runs);
}

static void gc_framework(struct cr_agent *a, const char *framework)
{
    char *executors = cr_xasprintf("%s/executors", framework);
    each_subdir(executors, gc_executor, a);
    free(executors);
}

static void gc_slave(struct cr_agent *a, const char *slave)
{
    char *frameworks = cr_xasprintf("%s/frameworks", slave);
    each_subdir(frameworks, gc_framework, a);
    free(frameworks);
}

void agent_ckpt_gc_old_sandboxes(struct cr_agent *a)
{
    if (!a->gc)
        return;
    char *slaves = cr_xasprintf("%s/slaves", a->work_dir);
    each_subdir(slaves, gc_slave, a);
    free(slaves);
}
