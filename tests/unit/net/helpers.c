/*
 * helpers.c - see helpers.h.
 */
#include "helpers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static void on_guard(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

static void on_guard_closed(uv_handle_t *h)
{
    (void)h;
}

bool th_run_until(uv_loop_t *loop, const bool *flag, int timeout_ms)
{
    bool expired = false;
    uv_timer_t guard;
    uv_timer_init(loop, &guard);
    guard.data = &expired;
    /* Repeating: UV_RUN_ONCE runs due timers before it polls, so a one-shot guard that
     * fires there would leave the poll with nothing to wake it. */
    uv_update_time(loop);
    uv_timer_start(&guard, on_guard, (uint64_t)timeout_ms, (uint64_t)timeout_ms);
    while (!*flag && !expired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&guard, on_guard_closed);
    uv_run(loop, UV_RUN_NOWAIT);
    return *flag;
}

void th_pump(uv_loop_t *loop, int ms)
{
    bool never = false;
    th_run_until(loop, &never, ms);
}

int th_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* The listen backlog accepts the connection without the loop running. */
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

uint16_t th_dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    return ntohs(sa.sin_port);
}

int th_send(uv_loop_t *loop, int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                th_pump(loop, 1);
                continue;
            }
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int th_sends(uv_loop_t *loop, int fd, const char *s)
{
    return th_send(loop, fd, s, strlen(s));
}

void th_resp_release(struct th_resp *r)
{
    free(r->head);
    cr_buf_release(&r->body);
    for (size_t i = 0; i < r->n_chunks; i++)
        free(r->chunks[i]);
    free(r->chunks);
    free(r->chunk_lens);
    memset(r, 0, sizeof(*r));
}

const char *th_header(const struct th_resp *r, const char *name, char *out, size_t size)
{
    if (!r->head)
        return NULL;
    size_t n = strlen(name);
    for (const char *line = strstr(r->head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        const char *h = line + 2;
        if (strncasecmp(h, name, n) == 0 && h[n] == ':') {
            const char *v = h + n + 1;
            while (*v == ' ')
                v++;
            const char *end = strstr(v, "\r\n");
            size_t vlen = end ? (size_t)(end - v) : strlen(v);
            if (vlen >= size)
                vlen = size - 1;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return out;
        }
    }
    return NULL;
}

static void add_chunk(struct th_resp *r, const char *p, size_t n)
{
    r->chunks = realloc(r->chunks, (r->n_chunks + 1) * sizeof(char *));
    r->chunk_lens = realloc(r->chunk_lens, (r->n_chunks + 1) * sizeof(size_t));
    char *c = malloc(n + 1);
    memcpy(c, p, n);
    c[n] = '\0';
    r->chunks[r->n_chunks] = c;
    r->chunk_lens[r->n_chunks] = n;
    r->n_chunks++;
}

int th_parse(const char *data, size_t len, struct th_resp *r)
{
    th_resp_release(r);
    cr_buf_init(&r->body);
    const char *end = memmem(data, len, "\r\n\r\n", 4);
    if (!end)
        return 0;
    size_t head_len = (size_t)(end - data) + 2;
    r->head = malloc(head_len + 1);
    memcpy(r->head, data, head_len);
    r->head[head_len] = '\0';
    if (strncmp(r->head, "HTTP/1.", 7) != 0)
        return -1;
    r->status = atoi(r->head + 9);
    char v[64];
    r->is_chunked =
        th_header(r, "Transfer-Encoding", v, sizeof(v)) && strcasecmp(v, "chunked") == 0;
    size_t pos = head_len + 2;
    if (!r->is_chunked) {
        if (th_header(r, "Content-Length", v, sizeof(v))) {
            size_t cl = strtoul(v, NULL, 10);
            size_t have = len - pos < cl ? len - pos : cl;
            cr_buf_append(&r->body, data + pos, have);
            if (have == cl) {
                r->is_complete = true;
                r->used = pos + cl;
            }
        } else {
            /* Close-delimited body (HTTP/1.0 stream): everything so far. */
            cr_buf_append(&r->body, data + pos, len - pos);
        }
        return 0;
    }
    for (;;) {
        const char *nl = memmem(data + pos, len - pos, "\r\n", 2);
        if (!nl)
            return 0;
        char *hex_end;
        size_t n = strtoul(data + pos, &hex_end, 16);
        if (hex_end == data + pos)
            return -1;
        size_t start = (size_t)(nl - data) + 2;
        if (n == 0) {
            if (len - start >= 2 && memcmp(data + start, "\r\n", 2) == 0) {
                r->is_complete = true;
                r->used = start + 2;
            }
            return 0;
        }
        if (len - start < n + 2)
            return 0;
        if (memcmp(data + start + n, "\r\n", 2) != 0)
            return -1;
        add_chunk(r, data + start, n);
        cr_buf_append(&r->body, data + start, n);
        pos = start + n + 2;
    }
}

bool th_want_complete(const struct th_resp *r, void *arg)
{
    (void)arg;
    return r->is_complete;
}

bool th_want_chunks(const struct th_resp *r, void *arg)
{
    return r->n_chunks >= *(size_t *)arg;
}

bool th_read_until(uv_loop_t *loop, int fd, struct cr_buf *acc, struct th_resp *r,
                   bool (*want)(const struct th_resp *r, void *arg), void *arg, int timeout_ms,
                   bool *eof)
{
    int64_t deadline = cr_now_ms() + timeout_ms;
    if (eof)
        *eof = false;
    for (;;) {
        if (acc->len && th_parse(acc->data, acc->len, r) == 0 && want(r, arg))
            return true;
        if (cr_now_ms() > deadline)
            return false;
        char buf[65536];
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0) {
            cr_buf_append(acc, buf, (size_t)n);
            continue;
        }
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            if (eof)
                *eof = true;
            if (acc->len)
                th_parse(acc->data, acc->len, r);
            return acc->len && want(r, arg);
        }
        th_pump(loop, 2);
    }
}

void th_buf_consume(struct cr_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        if (b->data)
            b->data[0] = '\0';
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

double th_cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
}
