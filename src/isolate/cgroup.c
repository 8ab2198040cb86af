/*
 * cgroup.c - cgroup v1 and v2 behind one ops table (see cgroup.h).
 *
 * The public functions check arguments, call the version's op and add the context
 * "<operation> of cgroup '<name>'"; the ops name the file that failed. A v1 cgroup is
 * one directory per distinct hierarchy (a combined "cpu,cpuacct" mount counts once);
 * a v2 cgroup is one directory. All control-file I/O goes through write_file() and
 * read_file() so tests can point the root at an ordinary directory tree.
 */
#include "isolate/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"

enum ctrl { C_CPU, C_CPUACCT, C_MEMORY, C_PIDS, C_FREEZER, C_COUNT };

static const char *const ctrl_names[C_COUNT] = {"cpu", "cpuacct", "memory", "pids", "freezer"};

struct cgroup_ops;

struct cr_cgroup_system {
    const struct cgroup_ops *ops;
    char *root;
    bool has[C_COUNT];
    /* v1: the distinct hierarchy directories and, per controller, its index (-1 none). */
    char *hier[C_COUNT];
    size_t n_hier;
    int hier_of[C_COUNT];
};

struct cr_cgroup {
    struct cr_cgroup_system *sys; /* borrowed */
    char *name;
    char *dir[C_COUNT]; /* v1: per hierarchy (index as sys->hier); v2: dir[0] only */
    size_t n_dir;
};

struct cgroup_ops {
    enum cr_cgroup_version version;
    int (*create)(struct cr_cgroup *cg, bool may_create, struct cr_err *err);
    int (*set_cpu)(struct cr_cgroup *cg, uint64_t cpus_milli, bool hard, struct cr_err *err);
    int (*set_memory)(struct cr_cgroup *cg, uint64_t limit_bytes, struct cr_err *err);
    int (*set_pids)(struct cr_cgroup *cg, uint64_t max, struct cr_err *err);
    int (*usage)(struct cr_cgroup *cg, struct cr_cgroup_usage *u, struct cr_err *err);
    int (*kill_all)(struct cr_cgroup *cg, struct cr_err *err);
    /* The directory whose cgroup.procs lists the members. */
    const char *(*procs_dir)(const struct cr_cgroup *cg);
};

/* ---- file helpers ---------------------------------------------------------------- */

static bool path_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static int write_file(const char *path, const char *text, struct cr_err *err)
{
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0)
        return cr_err_sys(err, -errno, "write '%s'", path);
    size_t len = strlen(text);
    ssize_t w = write(fd, text, len);
    int rc = w < 0 ? -errno : (size_t)w != len ? -EIO : 0;
    close(fd);
    if (rc < 0)
        return cr_err_sys(err, rc, "write '%s'", path);
    return 0;
}

static int write_at(const char *dir, const char *file, const char *text, struct cr_err *err)
{
    char *path CR_AUTOFREE = cr_xasprintf("%s/%s", dir, file);
    return write_file(path, text, err);
}

/* *out owned, NUL-terminated. */
static int read_file(const char *path, char **out, struct cr_err *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cr_err_sys(err, -errno, "read '%s'", path);
    struct cr_buf b = {0};
    char chunk[4096];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int rc = -errno;
            close(fd);
            cr_buf_release(&b);
            return cr_err_sys(err, rc, "read '%s'", path);
        }
        if (r == 0)
            break;
        cr_buf_append(&b, chunk, (size_t)r);
    }
    close(fd);
    *out = cr_buf_steal(&b, NULL);
    return 0;
}

static int read_at(const char *dir, const char *file, char **out, struct cr_err *err)
{
    char *path CR_AUTOFREE = cr_xasprintf("%s/%s", dir, file);
    return read_file(path, out, err);
}

/* Parse a decimal u64 at s (leading blanks ok) up to whitespace/end. */
static bool parse_u64(const char *s, uint64_t *out)
{
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || (*end && *end != '\n' && *end != ' ' && *end != '\t'))
        return false;
    *out = v;
    return true;
}

/* In "key value\n" text, the value of key. */
static bool kv_find(const char *text, const char *key, uint64_t *out)
{
    size_t klen = strlen(key);
    for (const char *line = text; line && *line;) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ')
            return parse_u64(line + klen + 1, out);
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return false;
}

/* Read dir/file if it exists and look up keys; a missing file is not an error. */
static int read_kv(const char *dir, const char *file, char **text, struct cr_err *err)
{
    char *path CR_AUTOFREE = cr_xasprintf("%s/%s", dir, file);
    *text = NULL;
    if (!path_exists(path))
        return 0;
    return read_file(path, text, err);
}

/* A single number file; "max" reads as 0 (unlimited). */
static int read_u64_at(const char *dir, const char *file, uint64_t *out, struct cr_err *err)
{
    char *text CR_AUTOFREE = NULL;
    int rc = read_at(dir, file, &text, err);
    if (rc < 0)
        return rc;
    if (strncmp(text, "max", 3) == 0) {
        *out = 0;
        return 0;
    }
    if (!parse_u64(text, out))
        return cr_err_set(err, -EINVAL, "parse '%s/%s': not a number", dir, file);
    return 0;
}

/* An optional single-number file: *found false when it is missing or not a plain number
 * ("max", "-1"). */
static int read_opt_u64(const char *dir, const char *file, uint64_t *out, bool *found,
                        struct cr_err *err)
{
    char *text CR_AUTOFREE = NULL;
    *found = false;
    int rc = read_kv(dir, file, &text, err);
    if (rc < 0)
        return rc;
    if (text && parse_u64(text, out))
        *found = true;
    return 0;
}

static int parse_pids(const char *text, const char *path, pid_t **pids, size_t *n,
                      struct cr_err *err)
{
    size_t cap = 16, len = 0;
    pid_t *v = cr_xmalloc(cap * sizeof(*v));
    for (const char *p = text; *p;) {
        if (*p == '\n') {
            p++;
            continue;
        }
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (errno || end == p || x <= 0 || (*end && *end != '\n')) {
            free(v);
            return cr_err_set(err, -EINVAL, "parse '%s': bad pid", path);
        }
        if (len == cap) {
            cap *= 2;
            v = cr_xrealloc(v, cap * sizeof(*v));
        }
        v[len++] = (pid_t)x;
        p = end;
    }
    *pids = v;
    *n = len;
    return 0;
}

static int read_pids(const char *dir, const char *file, pid_t **pids, size_t *n, struct cr_err *err)
{
    char *path CR_AUTOFREE = cr_xasprintf("%s/%s", dir, file);
    char *text CR_AUTOFREE = NULL;
    *pids = NULL;
    *n = 0;
    int rc = read_file(path, &text, err);
    if (rc < 0)
        return rc;
    return parse_pids(text, path, pids, n, err);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

#define KILL_DEADLINE_MS 2000

/* Send signo to each pid listed in dir/file; *n_out = how many were listed. */
static int kill_listed(const char *dir, const char *file, int signo, size_t *n_out,
                       struct cr_err *err)
{
    pid_t *pids CR_AUTOFREE = NULL;
    size_t n;
    int rc = read_pids(dir, file, &pids, &n, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (kill(pids[i], signo) < 0 && errno != ESRCH)
            return cr_err_sys(err, -errno, "kill pid %d", (int)pids[i]);
    *n_out = n;
    return 0;
}

/* Wait until dir/file lists no pid, bounded by deadline_ms (monotonic). */
static int wait_empty(const char *dir, const char *file, int64_t deadline_ms, struct cr_err *err)
{
    for (;;) {
        pid_t *pids CR_AUTOFREE = NULL;
        size_t n;
        int rc = read_pids(dir, file, &pids, &n, err);
        if (rc < 0)
            return rc;
        if (n == 0)
            return 0;
        if (cr_now_ms() >= deadline_ms)
            return cr_err_set(err, -EBUSY, "%zu processes remain in '%s/%s' (first pid %d)", n, dir,
                              file, (int)pids[0]);
        sleep_ms(2);
    }
}

/* ---- conversions ----------------------------------------------------------------- */

uint64_t cr_cgroup_cpu_shares(uint64_t cpus_milli)
{
    uint64_t s = cpus_milli > UINT64_MAX / 1024 ? UINT64_MAX : cpus_milli * 1024 / 1000;
    return s < 2 ? 2 : s > 262144 ? 262144 : s;
}

uint64_t cr_cgroup_cpu_weight(uint64_t shares)
{
    /* The kernel: weight w <-> shares w * 1024 / 100 (DIV_ROUND_CLOSEST). */
    if (shares > 262144)
        shares = 262144;
    uint64_t w = (shares * 100 + 512) / 1024;
    return w < 1 ? 1 : w > 10000 ? 10000 : w;
}

uint64_t cr_cgroup_cpu_quota_us(uint64_t cpus_milli)
{
    uint64_t q = cpus_milli > UINT64_MAX / CR_CGROUP_CPU_PERIOD_US
                     ? UINT64_MAX / 1000
                     : cpus_milli * CR_CGROUP_CPU_PERIOD_US / 1000;
    return q < 1000 ? 1000 : q;
}

/* ---- v1 -------------------------------------------------------------------------- */

static const char *v1_dir(const struct cr_cgroup *cg, enum ctrl c)
{
    int h = cg->sys->hier_of[c];
    return h < 0 ? NULL : cg->dir[h];
}

static int need(const char *dir, enum ctrl c, struct cr_err *err)
{
    if (!dir)
        return cr_err_set(err, -ENOTSUP, "controller '%s' not available", ctrl_names[c]);
    return 0;
}

static int v1_create(struct cr_cgroup *cg, bool may_create, struct cr_err *err)
{
    for (size_t i = 0; i < cg->n_dir; i++) {
        if (may_create) {
            int rc = cr_mkdir_p(cg->dir[i], 0755, err);
            if (rc < 0)
                return rc;
        } else if (!path_exists(cg->dir[i])) {
            return cr_err_sys(err, -ENOENT, "open '%s'", cg->dir[i]);
        }
    }
    return 0;
}

static int v1_set_cpu(struct cr_cgroup *cg, uint64_t cpus_milli, bool hard, struct cr_err *err)
{
    const char *dir = v1_dir(cg, C_CPU);
    int rc = need(dir, C_CPU, err);
    if (rc < 0)
        return rc;
    char buf[32];
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)cr_cgroup_cpu_shares(cpus_milli));
    if ((rc = write_at(dir, "cpu.shares", buf, err)) < 0)
        return rc;
    if (hard) {
        snprintf(buf, sizeof(buf), "%u", CR_CGROUP_CPU_PERIOD_US);
        if ((rc = write_at(dir, "cpu.cfs_period_us", buf, err)) < 0)
            return rc;
        snprintf(buf, sizeof(buf), "%llu", (unsigned long long)cr_cgroup_cpu_quota_us(cpus_milli));
        return write_at(dir, "cpu.cfs_quota_us", buf, err);
    }
    return write_at(dir, "cpu.cfs_quota_us", "-1", err);
}

/*
 * Write a limit file: value 0 means unlimited, written as the hierarchy spells it ("-1"
 * in v1, "max" in v2). dir NULL means the controller is missing (need() says so).
 */
static int write_limit(const char *dir, int controller, const char *file, uint64_t value,
                       const char *unlimited, struct cr_err *err)
{
    int rc = need(dir, controller, err);
    if (rc < 0)
        return rc;
    char buf[32];
    if (value == 0)
        snprintf(buf, sizeof(buf), "%s", unlimited);
    else
        snprintf(buf, sizeof(buf), "%llu", (unsigned long long)value);
    return write_at(dir, file, buf, err);
}

static int v1_set_memory(struct cr_cgroup *cg, uint64_t limit_bytes, struct cr_err *err)
{
    return write_limit(v1_dir(cg, C_MEMORY), C_MEMORY, "memory.limit_in_bytes", limit_bytes, "-1",
                       err);
}

static int v1_set_pids(struct cr_cgroup *cg, uint64_t max, struct cr_err *err)
{
    return write_limit(v1_dir(cg, C_PIDS), C_PIDS, "pids.max", max, "max", err);
}

/* The v1 "unlimited" is PAGE_COUNTER_MAX pages, a huge number; report it as 0. */
#define V1_UNLIMITED_FLOOR (UINT64_C(1) << 62)

static int v1_usage(struct cr_cgroup *cg, struct cr_cgroup_usage *u, struct cr_err *err)
{
    int rc;
    const char *dir = v1_dir(cg, C_CPUACCT);
    if (dir) {
        char *text CR_AUTOFREE = NULL;
        if ((rc = read_at(dir, "cpuacct.stat", &text, err)) < 0)
            return rc;
        long hz = sysconf(_SC_CLK_TCK);
        uint64_t ticks;
        if (hz <= 0)
            hz = 100;
        if (kv_find(text, "user", &ticks))
            u->cpu_user_secs = (double)ticks / (double)hz;
        if (kv_find(text, "system", &ticks))
            u->cpu_system_secs = (double)ticks / (double)hz;
    }
    if ((dir = v1_dir(cg, C_CPU))) {
        char *text CR_AUTOFREE = NULL;
        if ((rc = read_kv(dir, "cpu.stat", &text, err)) < 0)
            return rc;
        uint64_t ns = 0;
        if (text) {
            kv_find(text, "nr_periods", &u->cpu_nr_periods);
            kv_find(text, "nr_throttled", &u->cpu_nr_throttled);
            if (kv_find(text, "throttled_time", &ns))
                u->cpu_throttled_secs = (double)ns / 1e9;
        }
        /* A quota of -1 (no cap) does not parse as a number: fall back to the shares. */
        uint64_t quota = 0, period = 0, shares = 0;
        bool has_quota, has_period, has_shares;
        if ((rc = read_opt_u64(dir, "cpu.cfs_quota_us", &quota, &has_quota, err)) < 0 ||
            (rc = read_opt_u64(dir, "cpu.cfs_period_us", &period, &has_period, err)) < 0 ||
            (rc = read_opt_u64(dir, "cpu.shares", &shares, &has_shares, err)) < 0)
            return rc;
        if (has_quota && has_period && period > 0)
            u->cpu_limit = (double)quota / (double)period;
        else if (has_shares)
            u->cpu_limit = (double)shares / 1024.0;
    }
    if ((dir = v1_dir(cg, C_MEMORY))) {
        if ((rc = read_u64_at(dir, "memory.usage_in_bytes", &u->mem_current_bytes, err)) < 0)
            return rc;
        if ((rc = read_u64_at(dir, "memory.limit_in_bytes", &u->mem_limit_bytes, err)) < 0)
            return rc;
        if (u->mem_limit_bytes >= V1_UNLIMITED_FLOOR)
            u->mem_limit_bytes = 0;
        char *text CR_AUTOFREE = NULL;
        if ((rc = read_at(dir, "memory.stat", &text, err)) < 0)
            return rc;
        if (!kv_find(text, "total_rss", &u->mem_rss_bytes))
            kv_find(text, "rss", &u->mem_rss_bytes);
        char *oom CR_AUTOFREE = NULL;
        if ((rc = read_kv(dir, "memory.oom_control", &oom, err)) < 0)
            return rc;
        if (oom)
            kv_find(oom, "oom_kill", &u->oom_kills); /* kernel >= 4.13 */
        bool found;
        if ((rc = read_opt_u64(dir, "memory.max_usage_in_bytes", &u->mem_max_bytes, &found, err)) <
            0)
            return rc;
    }
    return 0;
}

static int v1_freeze(const char *dir, const char *state, struct cr_err *err)
{
    int rc = write_at(dir, "freezer.state", state, err);
    if (rc < 0 || strcmp(state, "FROZEN") != 0)
        return rc;
    /* FREEZING until every task is stopped; bounded wait, then go on anyway. */
    for (int i = 0; i < 500; i++) {
        char *text CR_AUTOFREE = NULL;
        if ((rc = read_at(dir, "freezer.state", &text, err)) < 0)
            return rc;
        if (strncmp(text, "FROZEN", 6) == 0)
            return 0;
        sleep_ms(1);
    }
    return 0;
}

static int v1_kill_all(struct cr_cgroup *cg, struct cr_err *err)
{
    const char *fz = v1_dir(cg, C_FREEZER);
    const char *list = cg->sys->ops->procs_dir(cg);
    int64_t deadline = cr_now_ms() + KILL_DEADLINE_MS;
    int rc;
    {
        /* Usually already empty (the pid namespace died with its init): an empty cgroup
         * cannot gain a process by itself, so skip the freeze/thaw round trip. */
        pid_t *pids CR_AUTOFREE = NULL;
        size_t left = 0;
        if (read_pids(list, "cgroup.procs", &pids, &left, NULL) == 0 && left == 0)
            return 0;
    }
    for (;;) {
        size_t n = 0;
        if (fz && (rc = v1_freeze(fz, "FROZEN", err)) < 0)
            return rc;
        /* With the group frozen nothing can fork between the read and the kills. */
        rc = kill_listed(fz ? fz : list, fz ? "tasks" : "cgroup.procs", SIGKILL, &n, err);
        int trc = fz ? v1_freeze(fz, "THAWED", rc < 0 ? NULL : err) : 0;
        if (rc < 0)
            return rc;
        if (trc < 0)
            return trc;
        if (n == 0)
            return 0;
        /* Killed tasks leave once they run again (thawed); anything forked meanwhile is
         * caught by the next round. */
        for (int i = 0; i < 50; i++) {
            pid_t *pids CR_AUTOFREE = NULL;
            size_t left;
            if ((rc = read_pids(list, "cgroup.procs", &pids, &left, err)) < 0)
                return rc;
            if (left == 0)
                return 0;
            sleep_ms(2);
        }
        if (cr_now_ms() >= deadline)
            return wait_empty(list, "cgroup.procs", deadline, err);
    }
}

static const char *v1_procs_dir(const struct cr_cgroup *cg)
{
    /* Any hierarchy lists the same processes; prefer the ones always present. */
    static const enum ctrl order[] = {C_PIDS, C_MEMORY, C_FREEZER, C_CPU, C_CPUACCT};
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
        if (v1_dir(cg, order[i]))
            return v1_dir(cg, order[i]);
    return cg->dir[0];
}

static const struct cgroup_ops v1_ops = {
    .version = CR_CGROUP_V1,
    .create = v1_create,
    .set_cpu = v1_set_cpu,
    .set_memory = v1_set_memory,
    .set_pids = v1_set_pids,
    .usage = v1_usage,
    .kill_all = v1_kill_all,
    .procs_dir = v1_procs_dir,
};

/* ---- v2 -------------------------------------------------------------------------- */

/* Enable our controllers in dir/cgroup.subtree_control unless already on. */
static int v2_enable(const struct cr_cgroup_system *sys, const char *dir, struct cr_err *err)
{
    char *cur CR_AUTOFREE = NULL;
    int rc = read_at(dir, "cgroup.subtree_control", &cur, err);
    if (rc < 0)
        return rc;
    struct cr_buf want = {0};
    static const enum ctrl ctrls[] = {C_CPU, C_MEMORY, C_PIDS};
    for (size_t i = 0; i < sizeof(ctrls) / sizeof(ctrls[0]); i++) {
        enum ctrl c = ctrls[i];
        if (!sys->has[c])
            continue;
        bool on = false;
        size_t len = strlen(ctrl_names[c]);
        for (const char *p = cur; (p = strstr(p, ctrl_names[c])); p += len)
            if ((p == cur || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\n' || !p[len]))
                on = true;
        if (!on)
            cr_buf_printf(&want, "%s+%s", want.len ? " " : "", ctrl_names[c]);
    }
    rc = want.len ? write_at(dir, "cgroup.subtree_control", want.data, err) : 0;
    cr_buf_release(&want);
    return rc;
}

static int v2_create(struct cr_cgroup *cg, bool may_create, struct cr_err *err)
{
    const struct cr_cgroup_system *sys = cg->sys;
    if (!may_create) {
        if (!path_exists(cg->dir[0]))
            return cr_err_sys(err, -ENOENT, "open '%s'", cg->dir[0]);
        return 0;
    }
    /* Walk root -> leaf: enable controllers in each parent, then make the child. */
    char *path CR_AUTOFREE = cr_xstrdup(cg->dir[0]);
    size_t root_len = strlen(sys->root);
    for (char *p = path + root_len + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        char *parent CR_AUTOFREE = cr_xstrdup(path);
        char *slash = strrchr(parent, '/');
        *slash = '\0';
        int rc = v2_enable(sys, parent, err);
        if (rc < 0)
            return rc;
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            return cr_err_sys(err, -errno, "mkdir '%s'", path);
        *p = saved;
        if (!saved)
            return 0;
    }
}

static int v2_set_cpu(struct cr_cgroup *cg, uint64_t cpus_milli, bool hard, struct cr_err *err)
{
    int rc = need(cg->sys->has[C_CPU] ? cg->dir[0] : NULL, C_CPU, err);
    if (rc < 0)
        return rc;
    char buf[64];
    uint64_t w = cr_cgroup_cpu_weight(cr_cgroup_cpu_shares(cpus_milli));
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)w);
    if ((rc = write_at(cg->dir[0], "cpu.weight", buf, err)) < 0)
        return rc;
    if (hard)
        snprintf(buf, sizeof(buf), "%llu %u",
                 (unsigned long long)cr_cgroup_cpu_quota_us(cpus_milli), CR_CGROUP_CPU_PERIOD_US);
    else
        snprintf(buf, sizeof(buf), "max %u", CR_CGROUP_CPU_PERIOD_US);
    return write_at(cg->dir[0], "cpu.max", buf, err);
}

static int v2_set_memory(struct cr_cgroup *cg, uint64_t limit_bytes, struct cr_err *err)
{
    return write_limit(cg->sys->has[C_MEMORY] ? cg->dir[0] : NULL, C_MEMORY, "memory.max",
                       limit_bytes, "max", err);
}

static int v2_set_pids(struct cr_cgroup *cg, uint64_t max, struct cr_err *err)
{
    return write_limit(cg->sys->has[C_PIDS] ? cg->dir[0] : NULL, C_PIDS, "pids.max", max, "max",
                       err);
}

static int v2_usage(struct cr_cgroup *cg, struct cr_cgroup_usage *u, struct cr_err *err)
{
    const char *dir = cg->dir[0];
    char *text CR_AUTOFREE = NULL;
    int rc = read_at(dir, "cpu.stat", &text, err); /* always there (core) */
    if (rc < 0)
        return rc;
    uint64_t us;
    if (kv_find(text, "user_usec", &us))
        u->cpu_user_secs = (double)us / 1e6;
    if (kv_find(text, "system_usec", &us))
        u->cpu_system_secs = (double)us / 1e6;
    kv_find(text, "nr_periods", &u->cpu_nr_periods);
    kv_find(text, "nr_throttled", &u->cpu_nr_throttled);
    if (kv_find(text, "throttled_usec", &us))
        u->cpu_throttled_secs = (double)us / 1e6;
    if (cg->sys->has[C_CPU]) {
        /* cpu.max is "<quota> <period>" or "max <period>" (no cap: the weight says). */
        char *max CR_AUTOFREE = NULL;
        uint64_t quota, period, weight;
        bool has_weight;
        if ((rc = read_kv(dir, "cpu.max", &max, err)) < 0 ||
            (rc = read_opt_u64(dir, "cpu.weight", &weight, &has_weight, err)) < 0)
            return rc;
        const char *space = max ? strchr(max, ' ') : NULL;
        if (space && parse_u64(max, &quota) && parse_u64(space + 1, &period) && period > 0)
            u->cpu_limit = (double)quota / (double)period;
        else if (has_weight)
            u->cpu_limit = (double)weight * 1024.0 / 100.0 / 1024.0;
    }
    if (cg->sys->has[C_MEMORY]) {
        if ((rc = read_u64_at(dir, "memory.current", &u->mem_current_bytes, err)) < 0)
            return rc;
        if ((rc = read_u64_at(dir, "memory.max", &u->mem_limit_bytes, err)) < 0)
            return rc;
        char *stat CR_AUTOFREE = NULL;
        if ((rc = read_at(dir, "memory.stat", &stat, err)) < 0)
            return rc;
        kv_find(stat, "anon", &u->mem_rss_bytes);
        char *ev CR_AUTOFREE = NULL;
        if ((rc = read_kv(dir, "memory.events", &ev, err)) < 0)
            return rc;
        if (ev)
            kv_find(ev, "oom_kill", &u->oom_kills);
        bool found;
        if ((rc = read_opt_u64(dir, "memory.peak", &u->mem_max_bytes, &found, err)) < 0)
            return rc;
    }
    return 0;
}

static int v2_kill_all(struct cr_cgroup *cg, struct cr_err *err)
{
    const char *dir = cg->dir[0];
    int64_t deadline = cr_now_ms() + KILL_DEADLINE_MS;
    int rc;
    char *kill_path CR_AUTOFREE = cr_xasprintf("%s/cgroup.kill", dir);
    if (path_exists(kill_path)) { /* Linux >= 5.14: one write, atomic against forks */
        if ((rc = write_file(kill_path, "1", err)) < 0)
            return rc;
        return wait_empty(dir, "cgroup.procs", deadline, err);
    }
    /* Frozen tasks still die of SIGKILL on v2, and cannot fork while frozen. */
    if ((rc = write_at(dir, "cgroup.freeze", "1", err)) < 0)
        return rc;
    for (;;) {
        size_t n = 0;
        rc = kill_listed(dir, "cgroup.procs", SIGKILL, &n, err);
        if (rc < 0 || n == 0)
            break;
        sleep_ms(2);
        if (cr_now_ms() >= deadline) {
            rc = wait_empty(dir, "cgroup.procs", deadline, err);
            break;
        }
    }
    int trc = write_at(dir, "cgroup.freeze", "0", rc < 0 ? NULL : err);
    return rc < 0 ? rc : trc;
}

static const char *v2_procs_dir(const struct cr_cgroup *cg)
{
    return cg->dir[0];
}

static const struct cgroup_ops v2_ops = {
    .version = CR_CGROUP_V2,
    .create = v2_create,
    .set_cpu = v2_set_cpu,
    .set_memory = v2_set_memory,
    .set_pids = v2_set_pids,
    .usage = v2_usage,
    .kill_all = v2_kill_all,
    .procs_dir = v2_procs_dir,
};

/* ---- detection ------------------------------------------------------------------- */

/* Is c one of the comma-separated names in list ("cpu,cpuacct")? */
static bool list_has(const char *list, const char *c)
{
    size_t len = strlen(c);
    for (const char *p = list; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == len && strncmp(p, c, len) == 0)
            return true;
        p = comma ? comma + 1 : NULL;
    }
    return false;
}

static int detect_v2(struct cr_cgroup_system *sys, const char *controllers_path, struct cr_err *err)
{
    char *text CR_AUTOFREE = NULL;
    int rc = read_file(controllers_path, &text, err);
    if (rc < 0)
        return rc;
    for (char *tok = strtok(text, " \n"); tok; tok = strtok(NULL, " \n"))
        for (int c = 0; c < C_COUNT; c++)
            if (strcmp(tok, ctrl_names[c]) == 0)
                sys->has[c] = true;
    sys->ops = &v2_ops;
    return 0;
}

static int detect_v1(struct cr_cgroup_system *sys, struct cr_err *err)
{
    DIR *d = opendir(sys->root);
    if (!d)
        return cr_err_sys(err, -errno, "open '%s'", sys->root);
    for (int c = 0; c < C_COUNT; c++)
        sys->hier_of[c] = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *dir = cr_xasprintf("%s/%s", sys->root, e->d_name);
        char *procs CR_AUTOFREE = cr_xasprintf("%s/cgroup.procs", dir);
        struct stat st;
        bool used = false;
        /* A symlink such as "cpu -> cpu,cpuacct" names the same hierarchy: skip it. */
        if (lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && path_exists(procs)) {
            for (int c = 0; c < C_COUNT; c++) {
                if (sys->hier_of[c] >= 0 || !list_has(e->d_name, ctrl_names[c]))
                    continue;
                sys->hier_of[c] = (int)sys->n_hier;
                sys->has[c] = true;
                used = true;
            }
        }
        if (used)
            sys->hier[sys->n_hier++] = dir;
        else
            free(dir);
    }
    closedir(d);
    if (sys->n_hier == 0)
        return cr_err_set(err, -ENOENT,
                          "no cgroup hierarchy under '%s' (no cgroup.controllers, no v1 "
                          "cpu/cpuacct/memory/pids/freezer mounts)",
                          sys->root);
    sys->ops = &v1_ops;
    return 0;
}

int cr_cgroup_detect(const char *root, struct cr_cgroup_system **out, struct cr_err *err)
{
    *out = NULL;
    struct cr_cgroup_system *sys = cr_xcalloc(1, sizeof(*sys));
    sys->root = cr_xstrdup(root);
    size_t len = strlen(sys->root);
    while (len > 1 && sys->root[len - 1] == '/')
        sys->root[--len] = '\0';
    char *controllers CR_AUTOFREE = cr_xasprintf("%s/cgroup.controllers", sys->root);
    int rc = path_exists(controllers) ? detect_v2(sys, controllers, err) : detect_v1(sys, err);
    if (rc < 0) {
        cr_cgroup_system_free(sys);
        cr_err_wrap(err, "detect cgroups at '%s'", root);
        return rc;
    }
    *out = sys;
    return 0;
}

void cr_cgroup_system_free(struct cr_cgroup_system *sys)
{
    if (!sys)
        return;
    for (size_t i = 0; i < sys->n_hier; i++)
        free(sys->hier[i]);
    free(sys->root);
    free(sys);
}

enum cr_cgroup_version cr_cgroup_system_version(const struct cr_cgroup_system *sys)
{
    return sys->ops->version;
}

bool cr_cgroup_system_has(const struct cr_cgroup_system *sys, const char *controller)
{
    for (int c = 0; c < C_COUNT; c++)
        if (strcmp(controller, ctrl_names[c]) == 0)
            return sys->has[c];
    return false;
}

/* ---- handles --------------------------------------------------------------------- */

static bool name_ok(const char *name)
{
    if (!name || !*name || name[0] == '/' || strlen(name) > 1024)
        return false;
    for (const char *p = name; *p;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        if (!slash)
            break;
        p = slash + 1;
        if (!*p)
            return false;
    }
    return true;
}

static int open_cg(struct cr_cgroup_system *sys, const char *name, bool may_create,
                   struct cr_cgroup **out, struct cr_err *err)
{
    *out = NULL;
    if (!name_ok(name))
        return cr_err_set(err, -EINVAL, "%s cgroup '%s': bad name", may_create ? "create" : "open",
                          name ? name : "(null)");
    struct cr_cgroup *cg = cr_xcalloc(1, sizeof(*cg));
    cg->sys = sys;
    cg->name = cr_xstrdup(name);
    if (sys->ops->version == CR_CGROUP_V2) {
        cg->dir[0] = cr_xasprintf("%s/%s", sys->root, name);
        cg->n_dir = 1;
    } else {
        for (size_t i = 0; i < sys->n_hier; i++)
            cg->dir[i] = cr_xasprintf("%s/%s", sys->hier[i], name);
        cg->n_dir = sys->n_hier;
    }
    int rc = sys->ops->create(cg, may_create, err);
    if (rc < 0) {
        cr_cgroup_free(cg);
        cr_err_wrap(err, "%s cgroup '%s'", may_create ? "create" : "open", name);
        return rc;
    }
    *out = cg;
    return 0;
}

int cr_cgroup_create(struct cr_cgroup_system *sys, const char *name, struct cr_cgroup **out,
                     struct cr_err *err)
{
    return open_cg(sys, name, true, out, err);
}

int cr_cgroup_open(struct cr_cgroup_system *sys, const char *name, struct cr_cgroup **out,
                   struct cr_err *err)
{
    return open_cg(sys, name, false, out, err);
}

void cr_cgroup_free(struct cr_cgroup *cg)
{
    if (!cg)
        return;
    for (size_t i = 0; i < cg->n_dir; i++)
        free(cg->dir[i]);
    free(cg->name);
    free(cg);
}

const char *cr_cgroup_name(const struct cr_cgroup *cg)
{
    return cg->name;
}

int cr_cgroup_destroy(struct cr_cgroup *cg, struct cr_err *err)
{
    for (size_t i = 0; i < cg->n_dir; i++) {
        /* A just-emptied cgroup can stay busy for a moment while its css goes offline. */
        int rc = 0;
        for (int tries = 0; tries < 100; tries++) {
            rc = rmdir(cg->dir[i]) == 0 || errno == ENOENT ? 0 : -errno;
            if (rc != -EBUSY)
                break;
            sleep_ms(5);
        }
        if (rc < 0) {
            cr_err_sys(err, rc, "rmdir '%s'", cg->dir[i]);
            cr_err_wrap(err, "destroy cgroup '%s'", cg->name);
            return rc;
        }
    }
    return 0;
}

int cr_cgroup_add_pid(struct cr_cgroup *cg, pid_t pid, struct cr_err *err)
{
    if (pid <= 0)
        return cr_err_set(err, -EINVAL, "add pid %d to cgroup '%s': bad pid", (int)pid, cg->name);
    char buf[24];
    snprintf(buf, sizeof(buf), "%d", (int)pid);
    for (size_t i = 0; i < cg->n_dir; i++) {
        int rc = write_at(cg->dir[i], "cgroup.procs", buf, err);
        if (rc < 0) {
            cr_err_wrap(err, "add pid %d to cgroup '%s'", (int)pid, cg->name);
            return rc;
        }
    }
    return 0;
}

int cr_cgroup_set_cpu(struct cr_cgroup *cg, uint64_t cpus_milli, bool hard_limit,
                      struct cr_err *err)
{
    int rc = cg->sys->ops->set_cpu(cg, cpus_milli, hard_limit, err);
    if (rc < 0)
        cr_err_wrap(err, "set cpu of cgroup '%s'", cg->name);
    return rc < 0 ? rc : 0;
}

int cr_cgroup_set_memory(struct cr_cgroup *cg, uint64_t limit_bytes, struct cr_err *err)
{
    int rc = cg->sys->ops->set_memory(cg, limit_bytes, err);
    if (rc < 0)
        cr_err_wrap(err, "set memory limit of cgroup '%s'", cg->name);
    return rc < 0 ? rc : 0;
}

int cr_cgroup_set_pids(struct cr_cgroup *cg, uint64_t max, struct cr_err *err)
{
    int rc = cg->sys->ops->set_pids(cg, max, err);
    if (rc < 0)
        cr_err_wrap(err, "set pids limit of cgroup '%s'", cg->name);
    return rc < 0 ? rc : 0;
}

int cr_cgroup_pids(struct cr_cgroup *cg, pid_t **pids, size_t *n, struct cr_err *err)
{
    int rc = read_pids(cg->sys->ops->procs_dir(cg), "cgroup.procs", pids, n, err);
    if (rc < 0)
        cr_err_wrap(err, "list processes of cgroup '%s'", cg->name);
    return rc < 0 ? rc : 0;
}

int cr_cgroup_usage(struct cr_cgroup *cg, struct cr_cgroup_usage *u, struct cr_err *err)
{
    memset(u, 0, sizeof(*u));
    pid_t *pids CR_AUTOFREE = NULL;
    size_t n = 0;
    int rc = read_pids(cg->sys->ops->procs_dir(cg), "cgroup.procs", &pids, &n, err);
    if (rc >= 0)
        rc = cg->sys->ops->usage(cg, u, err);
    if (rc < 0) {
        cr_err_wrap(err, "read usage of cgroup '%s'", cg->name);
        return rc;
    }
    u->processes = (uint32_t)n;
    char *path CR_AUTOFREE = cr_xasprintf("%s/pids.current", cg->sys->ops->procs_dir(cg));
    char *text CR_AUTOFREE = NULL;
    if (cr_read_file(path, &text, NULL, NULL) == 0)
        u->threads = (uint32_t)strtoul(text, NULL, 10);
    return 0;
}

int cr_cgroup_kill_all(struct cr_cgroup *cg, struct cr_err *err)
{
    int rc = cg->sys->ops->kill_all(cg, err);
    if (rc < 0)
        cr_err_wrap(err, "kill processes of cgroup '%s'", cg->name);
    return rc < 0 ? rc : 0;
}

int cr_cgroup_signal(struct cr_cgroup *cg, int signo, struct cr_err *err)
{
    int rc;
    const char *dir = cg->sys->ops->procs_dir(cg);
    char *kill_path CR_AUTOFREE = cr_xasprintf("%s/cgroup.kill", dir);
    size_t n = 0;
    if (signo == SIGKILL && cg->sys->ops->version == CR_CGROUP_V2 && path_exists(kill_path))
        rc = write_file(kill_path, "1", err);
    else
        rc = kill_listed(dir, "cgroup.procs", signo, &n, err);
    if (rc < 0)
        cr_err_wrap(err, "signal processes of cgroup '%s'", cg->name);
    return rc < 0 ? rc : 0;
}

void cr_cgroup_procs_paths(const struct cr_cgroup *cg, char ***paths, size_t *n)
{
    *paths = cr_xcalloc(cg->n_dir + 1, sizeof(char *));
    for (size_t i = 0; i < cg->n_dir; i++)
        (*paths)[i] = cr_xasprintf("%s/cgroup.procs", cg->dir[i]);
    *n = cg->n_dir;
}

int cr_cgroup_children(struct cr_cgroup_system *sys, const char *name, char ***names, size_t *n,
                       struct cr_err *err)
{
    *names = NULL;
    *n = 0;
    if (!name_ok(name))
        return cr_err_set(err, -EINVAL, "list children of cgroup '%s': bad name",
                          name ? name : "(null)");
    size_t ndirs = sys->ops->version == CR_CGROUP_V2 ? 1 : sys->n_hier;
    size_t len = 0, cap = 8;
    char **out = cr_xcalloc(cap, sizeof(char *));
    for (size_t h = 0; h < ndirs; h++) {
        const char *base = sys->ops->version == CR_CGROUP_V2 ? sys->root : sys->hier[h];
        char *dir CR_AUTOFREE = cr_xasprintf("%s/%s", base, name);
        DIR *d = opendir(dir);
        if (!d) {
            if (errno == ENOENT)
                continue;
            int rc = -errno;
            for (size_t i = 0; i < len; i++)
                free(out[i]);
            free(out);
            return cr_err_sys(err, rc, "list children of cgroup '%s': open '%s'", name, dir);
        }
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char *sub CR_AUTOFREE = cr_xasprintf("%s/%s", dir, e->d_name);
            struct stat st;
            if (lstat(sub, &st) < 0 || !S_ISDIR(st.st_mode))
                continue;
            bool seen = false;
            for (size_t i = 0; i < len && !seen; i++)
                seen = strcmp(out[i], e->d_name) == 0;
            if (seen)
                continue;
            if (len + 1 >= cap) {
                cap *= 2;
                out = cr_xrealloc(out, cap * sizeof(char *));
            }
            out[len++] = cr_xstrdup(e->d_name);
            out[len] = NULL;
        }
        closedir(d);
    }
    *names = out;
    *n = len;
    return 0;
}

int cr_cgroup_favor_dynmods(const char *scratch_dir, struct cr_err *err)
{
    char *dir = cr_xasprintf("%s/.cgroup-dynmods-%d", scratch_dir, (int)getpid());
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        int rc = cr_err_sys(err, -errno, "create '%s'", dir);
        free(dir);
        return rc;
    }
    int rc;
    if (mount("cgroup", dir, "cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "none,name=corral-dynmods,favordynmods") < 0) {
        rc = cr_err_sys(err, -errno, "mount a favordynmods cgroup hierarchy on '%s'", dir);
        rmdir(dir);
        free(dir);
        return rc;
    }
    int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    rc = fd < 0 ? cr_err_sys(err, -errno, "open '%s'", dir) : fd;
    umount2(dir, MNT_DETACH);
    rmdir(dir);
    free(dir);
    return rc;
}
