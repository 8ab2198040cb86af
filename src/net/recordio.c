/*
 * recordio.c - Mesos RecordIO framing (see recordio.h).
 *
 * The reader works in place on the caller's bytes whenever a record lies whole inside
 * one feed, and copies only records that straddle feeds. Invariant between feeds:
 * r->buf[0..r->len) holds the start of exactly one unfinished record (its length line,
 * possibly incomplete, then part of its payload), already validated as far as it goes.
 * Each byte is copied at most once.
 */
#include "net/recordio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

#define DEFAULT_MAX_RECORD ((size_t)64 << 20)
/* SIZE_MAX has 20 decimal digits; anything longer cannot be a valid length. */
#define MAX_LENGTH_DIGITS 20

char *cr_recordio_encode(const char *payload, size_t len, size_t *out_len)
{
    char head[MAX_LENGTH_DIGITS + 2];
    int hlen = snprintf(head, sizeof(head), "%zu\n", len);
    char *out = malloc((size_t)hlen + len + 1);
    if (!out)
        return NULL;
    memcpy(out, head, (size_t)hlen);
    if (len)
        memcpy(out + hlen, payload, len);
    out[(size_t)hlen + len] = '\0';
    *out_len = (size_t)hlen + len;
    return out;
}

void cr_recordio_reader_init(struct cr_recordio_reader *r, size_t max_record)
{
    r->buf = NULL;
    r->len = 0;
    r->cap = 0;
    r->max_record = max_record ? max_record : DEFAULT_MAX_RECORD;
}

void cr_recordio_reader_release(struct cr_recordio_reader *r)
{
    if (!r)
        return;
    free(r->buf);
    r->buf = NULL;
    r->len = 0;
    r->cap = 0;
}

/*
 * Parse the length line at p[0..n). Returns 1 with *head_len (digits + '\n') and
 * *rec_len set when the line is complete, 0 when more bytes are needed (everything seen
 * so far is valid), or -EPROTO with err filled.
 */
static int parse_head(const char *p, size_t n, size_t max_record, size_t *head_len, size_t *rec_len,
                      struct cr_err *err)
{
    size_t v = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '\n') {
            if (i == 0)
                return cr_err_set(err, -EPROTO, "recordio: empty length line");
            if (v == 0)
                return cr_err_set(err, -EPROTO, "recordio: zero-length record");
            if (v > max_record)
                return cr_err_set(err, -EPROTO,
                                  "recordio: record of %zu bytes exceeds the limit %zu", v,
                                  max_record);
            *head_len = i + 1;
            *rec_len = v;
            return 1;
        }
        if (c < '0' || c > '9')
            return cr_err_set(err, -EPROTO, "recordio: bad length line: byte 0x%02x is not a digit",
                              (unsigned char)c);
        if (i >= MAX_LENGTH_DIGITS)
            return cr_err_set(err, -EPROTO, "recordio: length line longer than %d digits",
                              MAX_LENGTH_DIGITS);
        size_t d = (size_t)(c - '0');
        /* Saturate instead of wrapping so an absurd length is reported as too big. */
        v = v > (SIZE_MAX - d) / 10 ? SIZE_MAX : v * 10 + d;
    }
    if (n > 0 && v > max_record)
        return cr_err_set(err, -EPROTO,
                          "recordio: record of at least %zu bytes exceeds the limit %zu", v,
                          max_record);
    return 0;
}

static void buf_append(struct cr_recordio_reader *r, const char *data, size_t len, size_t want_cap)
{
    if (want_cap < r->len + len)
        want_cap = r->len + len;
    if (want_cap > r->cap) {
        size_t cap = r->cap ? r->cap : 64;
        while (cap < want_cap)
            cap = cap > SIZE_MAX / 2 ? want_cap : cap * 2;
        r->buf = cr_xrealloc(r->buf, cap);
        r->cap = cap;
    }
    memcpy(r->buf + r->len, data, len);
    r->len += len;
}

static void reset(struct cr_recordio_reader *r)
{
    r->len = 0;
    /* Give back a buffer grown for one huge record. */
    if (r->cap > ((size_t)1 << 20)) {
        free(r->buf);
        r->buf = NULL;
        r->cap = 0;
    }
}

int cr_recordio_feed(struct cr_recordio_reader *r, const char *data, size_t len,
                     cr_recordio_record_fn on_record, void *ud, struct cr_err *err)
{
    size_t head_len = 0, rec_len = 0;
    int rc;

    /* First finish the record that straddles the previous feed, if any. */
    while (r->len > 0) {
        rc = parse_head(r->buf, r->len, r->max_record, &head_len, &rec_len, err);
        if (rc < 0) {
            reset(r);
            return rc;
        }
        if (len == 0)
            return 0;
        if (rc == 0) {
            /* Still in the length line: take bytes up to and including the newline. */
            const char *nl = memchr(data, '\n', len);
            size_t take = nl ? (size_t)(nl - data) + 1 : len;
            buf_append(r, data, take, 0);
            data += take;
            len -= take;
            continue;
        }
        size_t need = head_len + rec_len - r->len;
        size_t take = need < len ? need : len;
        buf_append(r, data, take, head_len + rec_len + 1);
        data += take;
        len -= take;
        if (take < need)
            return 0;
        r->buf[r->len] = '\0';
        rc = on_record(r->buf + head_len, rec_len, ud);
        reset(r);
        if (rc != 0)
            return rc;
    }
    /* Then work in place on whole records; keep the tail for the next feed. */
    while (len > 0) {
        rc = parse_head(data, len, r->max_record, &head_len, &rec_len, err);
        if (rc < 0) {
            reset(r);
            return rc;
        }
        if (rc == 0 || len - head_len < rec_len) {
            buf_append(r, data, len, rc ? head_len + rec_len + 1 : 0);
            return 0;
        }
        rc = on_record(data + head_len, rec_len, ud);
        if (rc != 0)
            return rc;
        data += head_len + rec_len;
        len -= head_len + rec_len;
    }
    return 0;
}
