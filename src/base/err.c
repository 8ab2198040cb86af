/*
 * err.c - error struct helpers (see err.h).
 */
#include "base/err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void cr_err_clear(struct cr_err *err)
{
    if (!err)
        return;
    err->code = 0;
    err->msg[0] = '\0';
}

static void vset(struct cr_err *err, int code, const char *fmt, va_list ap)
{
    err->code = code;
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int cr_err_set(struct cr_err *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vset(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int cr_err_sys(struct cr_err *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vset(err, code, fmt, ap);
    va_end(ap);
    size_t len = strlen(err->msg);
    snprintf(err->msg + len, sizeof(err->msg) - len, ": %s", strerror(code < 0 ? -code : code));
    return code;
}

int cr_err_wrap(struct cr_err *err, const char *fmt, ...)
{
    if (!err)
        return -EIO;
    char prefix[CR_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    char old[CR_ERR_MSG_MAX];
    memcpy(old, err->msg, sizeof(old));
    old[sizeof(old) - 1] = '\0';

    /* "<prefix>: <old>", cut at the end when too long. */
    const size_t cap = sizeof(err->msg) - 1;
    size_t n = strlen(prefix);
    if (n > cap)
        n = cap;
    memcpy(err->msg, prefix, n);
    if (old[0] && n + 2 <= cap) {
        memcpy(err->msg + n, ": ", 2);
        n += 2;
        size_t olen = strlen(old);
        if (olen > cap - n)
            olen = cap - n;
        memcpy(err->msg + n, old, olen);
        n += olen;
    }
    err->msg[n] = '\0';
    if (err->code == 0)
        err->code = -EIO;
    return err->code;
}

const char *cr_err_msg(const struct cr_err *err)
{
    return err ? err->msg : "";
}
