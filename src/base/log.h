/*
 * log.h - one-line structured logs: "<time> <L> <component> <message> key=value ...".
 *
 * One macro, CR_LOG(level, fmt, ...), checks the level before any formatting.
 * Write the message first, then key=value fields:
 *   CR_LOG(CR_LOG_INFO, "task launched task=%s agent=%s", task_id, agent_id);
 * The sink (stderr by default) and the level are the only global state in Corral.
 */
#ifndef CR_BASE_LOG_H
#define CR_BASE_LOG_H

enum cr_log_level { CR_LOG_DEBUG = 0, CR_LOG_INFO = 1, CR_LOG_WARN = 2, CR_LOG_ERROR = 3 };

extern int cr_log_level_min;

/* Set the component name printed on every line ("master", "agent", ...). Borrowed: keep alive. */
void cr_log_init(const char *component);

/* Parse "debug|info|warn|error" into a level. Returns 0, or -EINVAL for an unknown name. */
int cr_log_level_parse(const char *name, enum cr_log_level *out);

/* Set the minimum level. */
void cr_log_set_level(enum cr_log_level level);

/* Write one line at level; use CR_LOG instead, which skips formatting below the level. */
void cr_log_write(enum cr_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define CR_LOG(level, ...)                                                                         \
    do {                                                                                           \
        if ((int)(level) >= cr_log_level_min)                                                      \
            cr_log_write((level), __VA_ARGS__);                                                    \
    } while (0)

#define CR_DEBUG(...) CR_LOG(CR_LOG_DEBUG, __VA_ARGS__)
#define CR_INFO(...) CR_LOG(CR_LOG_INFO, __VA_ARGS__)
#define CR_WARN(...) CR_LOG(CR_LOG_WARN, __VA_ARGS__)
#define CR_ERROR(...) CR_LOG(CR_LOG_ERROR, __VA_ARGS__)

#endif
