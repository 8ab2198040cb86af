/*
 * err.h - the error struct every fallible function fills.
 *
 * A function that can fail returns 0 or a negative errno-style code and fills a
 * caller-owned struct cr_err given as its last argument. Callers add context as the
 * error travels up with cr_err_wrap(), so the final message reads as a chain:
 *   "launch task 'web.3': create sandbox '/x': Permission denied"
 * Messages are lowercase, without a trailing period. A NULL err is allowed
 * everywhere and means "the caller does not want the message".
 */
#ifndef CR_BASE_ERR_H
#define CR_BASE_ERR_H

#include <stdarg.h>

#define CR_ERR_MSG_MAX 256

struct cr_err {
    int code;                 /* negative errno-style code, 0 = no error */
    char msg[CR_ERR_MSG_MAX]; /* human-readable chain, NUL-terminated */
};

/* Reset err to "no error". Accepts NULL. */
void cr_err_clear(struct cr_err *err);

/*
 * Set err to code (negative errno) with a printf-style message, replacing what was
 * there. Returns code, so "return cr_err_set(err, -EINVAL, "bad %s", x);" reads well.
 */
int cr_err_set(struct cr_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Like cr_err_set(), then appends ": <strerror(-code)>". For failed syscalls:
 * "return cr_err_sys(err, -errno, "open '%s'", path);".
 */
int cr_err_sys(struct cr_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Prefix the existing message with a printf-style context and ": ", keeping the code.
 * Returns err->code (or -EIO if err is NULL). Truncates the tail when too long.
 */
int cr_err_wrap(struct cr_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Message of err, or "" if none. Borrowed; valid while err lives. */
const char *cr_err_msg(const struct cr_err *err);

#endif
