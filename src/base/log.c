/*
 * log.c - the log sink (see log.h). Lines are written with one write(2) each so
 * that several processes sharing a terminal (corral up) do not interleave mid-line.
 */
#include "base/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int cr_log_level_min = CR_LOG_INFO;
static const char *log_component = "corral";

void cr_log_init(const char *component)
{
    log_component = component ? component : "corral";
}

int cr_log_level_parse(const char *name, enum cr_log_level *out)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(name, names[i]) == 0) {
            *out = (enum cr_log_level)i;
            return 0;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        *out = CR_LOG_WARN;
        return 0;
    }
    return -EINVAL;
}

void cr_log_set_level(enum cr_log_level level)
{
    cr_log_level_min = (int)level;
}

void cr_log_write(enum cr_log_level level, const char *fmt, ...)
{
    static const char letters[] = "DIWE";
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %c %s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(tv.tv_usec / 1000), letters[level & 3], log_component);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
