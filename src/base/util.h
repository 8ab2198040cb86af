/*
 * util.h - small pieces everyone needs: growable buffers, ids, clocks, base64, files.
 */
#ifndef CR_BASE_UTIL_H
#define CR_BASE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Free a local on scope exit: char *s __attribute__((cleanup(cr_freep))) = ...; */
void cr_freep(void *pp);
#define CR_AUTOFREE __attribute__((cleanup(cr_freep)))

/* malloc/calloc/realloc/strdup that abort on out-of-memory (a programmer-visible OOM policy). */
void *cr_xmalloc(size_t n);
void *cr_xcalloc(size_t n, size_t size);
void *cr_xrealloc(void *p, size_t n);
char *cr_xstrdup(const char *s);          /* NULL -> NULL */
char *cr_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable byte buffer; always NUL-terminated after data[len]. */
struct cr_buf {
    char *data; /* owned */
    size_t len, cap;
};
void cr_buf_init(struct cr_buf *b);
void cr_buf_release(struct cr_buf *b);
void cr_buf_append(struct cr_buf *b, const void *data, size_t len);
void cr_buf_puts(struct cr_buf *b, const char *s);
void cr_buf_printf(struct cr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hand the data out (owned by the caller) and reset b. */
char *cr_buf_steal(struct cr_buf *b, size_t *len);

/* Monotonic clock in milliseconds (for timers and deadlines). */
int64_t cr_now_ms(void);
/* Wall clock as seconds since the epoch, with fraction. */
double cr_wall_seconds(void);

/* 16 random bytes (getrandom). */
void cr_random_bytes(void *out, size_t n);
/* A random UUID v4 as text, "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" (37 bytes with NUL). */
void cr_uuid_text(char out[37]);

/* Standard base64 with padding. Encode returns owned NUL-terminated text. */
char *cr_base64_encode(const void *data, size_t len);
/* Decode (padding optional, whitespace rejected). Returns 0 or -EINVAL. *out owned. */
int cr_base64_decode(const char *text, size_t text_len, unsigned char **out, size_t *out_len);

/* mkdir -p with mode. Returns 0 or negative errno with err filled. */
int cr_mkdir_p(const char *path, unsigned mode, struct cr_err *err);
/* rm -rf. Returns 0 or negative errno with err filled. */
int cr_rm_rf(const char *path, struct cr_err *err);
/* Read a whole file (owned, NUL-terminated). Returns 0 or negative errno. */
int cr_read_file(const char *path, char **out, size_t *out_len, struct cr_err *err);
/* Write a file atomically: temp file in the same dir, fsync, rename, fsync the dir. */
int cr_write_file_atomic(const char *path, const void *data, size_t len, struct cr_err *err);

#endif
