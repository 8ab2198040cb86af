/*
 * helpers.h - shared by the net unit tests: run a loop until something happens, talk
 * raw HTTP/1.1 over a loopback socket, and parse what comes back chunk by chunk, so
 * tests see the exact bytes a client would (chunk boundaries included).
 *
 * The server under test runs on the same loop as the test, so raw sockets are
 * non-blocking and every wait pumps the loop. Only 127.0.0.1 and ephemeral ports.
 */
#ifndef CR_TEST_NET_HELPERS_H
#define CR_TEST_NET_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "base/util.h"

/* Run loop until *flag is true or timeout_ms passed. Returns *flag. */
bool th_run_until(uv_loop_t *loop, const bool *flag, int timeout_ms);

/* Run loop for about ms milliseconds. */
void th_pump(uv_loop_t *loop, int ms);

/* Blocking-connect a socket to 127.0.0.1:port, then make it non-blocking. -1 on error. */
int th_connect(uint16_t port);

/* A port on 127.0.0.1 that nothing listens on (bound, then closed). */
uint16_t th_dead_port(void);

/* Send all of s (loops on EAGAIN while pumping loop). Returns 0 or -errno. */
int th_send(uv_loop_t *loop, int fd, const void *data, size_t len);
int th_sends(uv_loop_t *loop, int fd, const char *s);

/* One HTTP response as parsed from raw bytes. */
struct th_resp {
    int status;
    char *head; /* status line + headers, NUL-terminated */
    bool is_chunked;
    bool is_complete; /* whole body (or terminating chunk) seen */
    struct cr_buf body;
    char **chunks; /* each chunk's payload, NUL-terminated */
    size_t *chunk_lens;
    size_t n_chunks;
    size_t used; /* bytes of the input this response spans (when complete) */
};

/* Parse raw bytes (from the start of a response). Returns 0, or -1 if malformed. */
int th_parse(const char *data, size_t len, struct th_resp *r);
void th_resp_release(struct th_resp *r);
/* Header value (case-insensitive name), copied into out; NULL if absent. */
const char *th_header(const struct th_resp *r, const char *name, char *out, size_t size);

/*
 * Read from fd into acc (appending) while pumping the loop, until the response at the
 * start of acc satisfies want(r) or timeout_ms passes. r is parsed fresh each time.
 * Returns true if want was satisfied. *eof is set if the peer closed.
 */
bool th_read_until(uv_loop_t *loop, int fd, struct cr_buf *acc, struct th_resp *r,
                   bool (*want)(const struct th_resp *r, void *arg), void *arg, int timeout_ms,
                   bool *eof);

bool th_want_complete(const struct th_resp *r, void *arg);
/* arg: size_t * — at least that many chunks. */
bool th_want_chunks(const struct th_resp *r, void *arg);

/* Drop the first n bytes of b (used bytes of a complete response). */
void th_buf_consume(struct cr_buf *b, size_t n);

/* CPU time (user + system) of this process in milliseconds. */
double th_cpu_ms(void);

#endif
