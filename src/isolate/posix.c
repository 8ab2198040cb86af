/*
 * posix.c - the "posix" isolator (see posix.h): process sessions only, usage from /proc.
 *
 * Stateless: the containerizer hands it the leader's pid, which is also the session id
 * of every process the task started (unless one called setsid() itself).
 */
#include "isolate/posix.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"

/* Parse one unsigned decimal field starting at *p; advances past it and one space. */
static int next_field(const char **p, uint64_t *out)
{
    const char *s = *p;
    while (*s == ' ')
        s++;
    if (*s == '-') /* signed fields we skip over may be negative; we only keep unsigned ones */
        s++;
    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    uint64_t v = 0;
    while (isdigit((unsigned char)*s)) {
        v = v * 10 + (uint64_t)(*s - '0');
        s++;
    }
    *out = v;
    *p = s;
    return 0;
}

/* Skip one space-separated token (state is a letter, not a number). */
static void skip_token(const char **p)
{
    const char *s = *p;
    while (*s == ' ')
        s++;
    while (*s && *s != ' ')
        s++;
    *p = s;
}

int cr_proc_stat_parse(const char *text, struct cr_proc_stat *out, struct cr_err *err)
{
    memset(out, 0, sizeof(*out));
    char *end;
    errno = 0;
    long pid = strtol(text, &end, 10);
    if (end == text || pid <= 0 || errno != 0)
        return cr_err_set(err, -EINVAL, "proc stat: bad pid field");
    const char *close = strrchr(text, ')');
    if (!close || close < end)
        return cr_err_set(err, -EINVAL, "proc stat: no command name");
    const char *p = close + 1;
    skip_token(&p); /* field 3: state */
    /* Fields 4..24, 1-based as in proc(5): 4 ppid, 5 pgrp, 6 session, ..., 14 utime,
     * 15 stime, ..., 20 num_threads, ..., 24 rss. */
    uint64_t v[25] = {0};
    for (int field = 4; field <= 24; field++) {
        if (next_field(&p, &v[field]) < 0)
            return cr_err_set(err, -EINVAL, "proc stat: bad field %d", field);
    }
    out->pid = (pid_t)pid;
    out->session = (pid_t)v[6];
    out->utime_ticks = v[14];
    out->stime_ticks = v[15];
    out->num_threads = v[20];
    out->rss_pages = v[24];
    return 0;
}

static bool is_pid_name(const char *name)
{
    if (!*name)
        return false;
    for (const char *s = name; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

/* Read a small file into buf (NUL-terminated). Returns bytes read or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n;
    do {
        n = read(fd, buf, size - 1);
    } while (n < 0 && errno == EINTR);
    int saved = errno;
    close(fd);
    if (n < 0)
        return -saved;
    buf[n] = '\0';
    return n;
}

int cr_posix_usage_scan(const char *proc_root, pid_t sid, long ticks_per_sec, long page_size,
                        struct cr_usage *usage, struct cr_err *err)
{
    DIR *dir = opendir(proc_root);
    if (!dir)
        return cr_err_sys(err, -errno, "open '%s'", proc_root);
    uint64_t utime = 0, stime = 0, rss = 0, threads = 0;
    uint32_t procs = 0;
    struct dirent *de;
    char path[512];
    char text[1024];
    while ((de = readdir(dir)) != NULL) {
        if (!is_pid_name(de->d_name))
            continue;
        snprintf(path, sizeof(path), "%s/%s/stat", proc_root, de->d_name);
        if (read_small(path, text, sizeof(text)) <= 0)
            continue; /* the process went away between readdir and open */
        struct cr_proc_stat st;
        if (cr_proc_stat_parse(text, &st, NULL) < 0 || st.session != sid)
            continue;
        utime += st.utime_ticks;
        stime += st.stime_ticks;
        rss += st.rss_pages;
        threads += st.num_threads;
        procs++;
    }
    closedir(dir);
    if (procs == 0)
        return cr_err_set(err, -ESRCH, "no process in session %d", (int)sid);
    if (ticks_per_sec <= 0)
        ticks_per_sec = 100;
    usage->cpus_user_time_secs = (double)utime / (double)ticks_per_sec;
    usage->cpus_system_time_secs = (double)stime / (double)ticks_per_sec;
    usage->mem_rss_bytes = rss * (uint64_t)(page_size > 0 ? page_size : 4096);
    usage->processes = procs;
    usage->threads = (uint32_t)threads;
    return 0;
}

static int posix_usage(void *state, const char *container_id, pid_t pid, struct cr_usage *usage,
                       struct cr_err *err)
{
    (void)state;
    if (pid <= 0)
        return 0; /* a container of another process, leader unknown: nothing to add */
    int rc =
        cr_posix_usage_scan("/proc", pid, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE), usage, err);
    if (rc < 0)
        return cr_err_wrap(err, "usage of container '%s'", container_id);
    return 0;
}

const struct cr_isolator_ops cr_isolator_posix = {
    .name = "posix",
    .usage = posix_usage,
};
