/*
 * mesos_json.c - the JSON plumbing under the Mesos codecs: compact ASCII dumping, object
 * parsing with positioned errors, path-naming field getters (null = absent, numbers as
 * strings, bytes as base64 or Node.js Buffer objects), call and event envelopes,
 * UTF-8-safe constructors, and the id and role name rules.
 *
 * Everything here is stateless. The getters are the only place that decides how lenient
 * input may be (API-COMPAT.md §0), so the rest of src/api reads like the proto.
 */
#include "api/mesos.h"
#include "api/mesos_internal.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* Mesos' scalars and times print with 15 significant digits (stout's jsonify uses
 * digits10), so 0.1 is "0.1" and 7000 is "7000.0". */
#define DUMP_FLAGS (JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15))

static void oom(void)
{
    fputs("corral: out of memory in JSON encoder\n", stderr);
    abort();
}

/* ---------------------------------------------------------------- UTF-8 */

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when it is not one. Rejects
 * overlong forms, surrogates and code points above U+10FFFF, as jansson does. */
static size_t utf8_seq_len(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        unsigned char lo = 0x80, hi = 0xbf;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
        if (s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80)
            return 0;
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        unsigned char lo = 0x80, hi = 0xbf;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
        if (s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
            return 0;
        return 4;
    }
    return 0;
}

static bool utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = utf8_seq_len(p);
        if (n == 0)
            return false;
        p += n;
    }
    return true;
}

/* Copy of s with every byte that does not start a valid sequence replaced by '?'. */
static char *utf8_sanitize(const char *s)
{
    char *out = cr_xstrdup(s);
    unsigned char *p = (unsigned char *)out;
    while (*p) {
        size_t n = utf8_seq_len(p);
        if (n == 0) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
    return out;
}

/* ---------------------------------------------------------------- dump / parse */

char *cr_json_dump(const json_t *json)
{
    if (!json)
        return cr_xstrdup("null");
    char *s = json_dumps(json, DUMP_FLAGS);
    if (!s)
        oom();
    /* jansson writes \u00E9; Mesos (stout) and most writers use lower-case hex. */
    for (char *p = s; *p; p++) {
        if (*p != '\\')
            continue;
        p++;
        if (*p == 'u') {
            for (int i = 1; i <= 4 && p[i]; i++)
                p[i] = (char)tolower((unsigned char)p[i]);
            p += 4;
        }
    }
    return s;
}

json_t *cr_json_parse_object(const char *text, size_t len, struct cr_err *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(text ? text : "", text ? len : 0, 0, &jerr);
    if (!root) {
        cr_err_set(err, -EINVAL, "malformed JSON at line %d column %d: %s", jerr.line, jerr.column,
                   jerr.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        cr_err_set(err, -EINVAL, "expected a JSON object, got %s", cr_mj_type_name(root));
        json_decref(root);
        return NULL;
    }
    return root;
}

/* ---------------------------------------------------------------- paths and errors */

const char *cr_mj_path(char *buf, size_t size, const char *path, const char *key)
{
    if (!key)
        snprintf(buf, size, "%s", path ? path : "");
    else if (!path || !path[0])
        snprintf(buf, size, "%s", key);
    else
        snprintf(buf, size, "%s.%s", path, key);
    return buf;
}

const char *cr_mj_path_index(char *buf, size_t size, const char *path, size_t i)
{
    snprintf(buf, size, "%s[%zu]", path ? path : "", i);
    return buf;
}

int cr_mj_err(struct cr_err *err, const char *path, const char *key, const char *fmt, ...)
{
    char p[CR_MJ_PATH_MAX];
    char msg[CR_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cr_mj_path(p, sizeof(p), path, key);
    if (p[0])
        return cr_err_set(err, -EINVAL, "%s: %s", p, msg);
    return cr_err_set(err, -EINVAL, "%s", msg);
}

int cr_mj_missing(struct cr_err *err, const char *path, const char *key)
{
    return cr_mj_err(err, path, key, "required field missing");
}

const char *cr_mj_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "value";
}

int cr_mj_type_err(struct cr_err *err, const char *path, const char *key, const char *want,
                   const json_t *got)
{
    return cr_mj_err(err, path, key, "expected %s, got %s", want, cr_mj_type_name(got));
}

/* ---------------------------------------------------------------- getters */

json_t *cr_mj_field(const json_t *obj, const char *key)
{
    if (!obj || !json_is_object(obj))
        return NULL;
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return NULL;
    return v;
}

int cr_mj_string(const json_t *obj, const char *key, const char *path, const char **out,
                 struct cr_err *err)
{
    json_t *v = cr_mj_field(obj, key);
    if (!v)
        return 0;
    if (!json_is_string(v))
        return cr_mj_type_err(err, path, key, "a string", v);
    *out = json_string_value(v);
    return 1;
}

int cr_mj_string_dup(const json_t *obj, const char *key, const char *path, char **out,
                     struct cr_err *err)
{
    const char *s = NULL;
    int rc = cr_mj_string(obj, key, path, &s, err);
    if (rc <= 0)
        return rc;
    free(*out);
    *out = cr_xstrdup(s);
    return 1;
}

int cr_mj_bool(const json_t *obj, const char *key, const char *path, bool *out, struct cr_err *err)
{
    json_t *v = cr_mj_field(obj, key);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return cr_mj_type_err(err, path, key, "a boolean", v);
    *out = json_is_true(v);
    return 1;
}

/* Parse a whole string as a double ("Infinity" and "-Infinity" included). */
static bool parse_double_text(const char *s, double *out)
{
    if (!s[0] || isspace((unsigned char)s[0]))
        return false;
    char *end = NULL;
    errno = 0;
    double d = strtod(s, &end);
    if (*end != '\0' || isnan(d))
        return false;
    if (errno == ERANGE && isfinite(d) && d != 0)
        return false;
    *out = d;
    return true;
}

int cr_mj_double(const json_t *obj, const char *key, const char *path, double *out,
                 struct cr_err *err)
{
    json_t *v = cr_mj_field(obj, key);
    if (!v)
        return 0;
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 1;
    }
    if (json_is_string(v)) {
        double d;
        if (!parse_double_text(json_string_value(v), &d))
            return cr_mj_err(err, path, key, "expected a number, got string '%s'",
                             json_string_value(v));
        *out = d;
        return 1;
    }
    return cr_mj_type_err(err, path, key, "a number", v);
}

int cr_mj_int64(const json_t *obj, const char *key, const char *path, int64_t *out,
                struct cr_err *err)
{
    json_t *v = cr_mj_field(obj, key);
    if (!v)
        return 0;
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return 1;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        /* 2^63 is exactly representable; anything at or above it does not fit. */
        if (d != floor(d) || d < -9223372036854775808.0 || d >= 9223372036854775808.0)
            return cr_mj_err(err, path, key, "expected an integer, got %g", d);
        *out = (int64_t)d;
        return 1;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end = NULL;
        errno = 0;
        long long n = s[0] && !isspace((unsigned char)s[0]) ? strtoll(s, &end, 10) : 0;
        if (!end || *end != '\0' || errno == ERANGE)
            return cr_mj_err(err, path, key, "expected an integer, got string '%s'", s);
        *out = (int64_t)n;
        return 1;
    }
    return cr_mj_type_err(err, path, key, "an integer", v);
}

int cr_mj_object(const json_t *obj, const char *key, const char *path, json_t **out,
                 struct cr_err *err)
{
    json_t *v = cr_mj_field(obj, key);
    if (!v)
        return 0;
    if (!json_is_object(v))
        return cr_mj_type_err(err, path, key, "an object", v);
    *out = v;
    return 1;
}

int cr_mj_array(const json_t *obj, const char *key, const char *path, json_t **out,
                struct cr_err *err)
{
    json_t *v = cr_mj_field(obj, key);
    if (!v)
        return 0;
    if (!json_is_array(v))
        return cr_mj_type_err(err, path, key, "an array", v);
    *out = v;
    return 1;
}

int cr_mj_enum(const json_t *obj, const char *key, const char *path, const char *const *names,
               size_t n, int *out, bool *unknown, struct cr_err *err)
{
    if (unknown)
        *unknown = false;
    json_t *v = cr_mj_field(obj, key);
    if (!v)
        return 0;
    if (json_is_number(v))
        return cr_mj_err(err, path, key, "expected an enum name, got number %g",
                         json_number_value(v));
    if (!json_is_string(v))
        return cr_mj_type_err(err, path, key, "an enum name", v);
    const char *s = json_string_value(v);
    for (size_t i = 0; i < n; i++) {
        if (names[i] && strcmp(names[i], s) == 0) {
            *out = (int)i;
            return 1;
        }
    }
    if (unknown)
        *unknown = true;
    return 0;
}

/* The value of an id message v found at path p. */
static int id_from_value(const json_t *v, const char *p, char **out, struct cr_err *err)
{
    if (!json_is_object(v))
        return cr_mj_type_err(err, p, NULL, "an object", v);
    char *value = NULL;
    int rc = cr_mj_required_string_dup(v, "value", p, &value, err);
    if (rc < 0)
        return rc;
    free(*out);
    *out = value;
    return 1;
}

int cr_mj_id(const json_t *obj, const char *key, const char *path, char **out, struct cr_err *err)
{
    json_t *v = cr_mj_field(obj, key);
    if (!v)
        return 0;
    char p[CR_MJ_PATH_MAX];
    cr_mj_path(p, sizeof(p), path, key);
    return id_from_value(v, p, out, err);
}

/* Bytes of a Node.js Buffer's "data" array. */
static int buffer_data(const json_t *buf, const char *path, unsigned char **out, size_t *len,
                       struct cr_err *err)
{
    json_t *data = NULL;
    int rc = cr_mj_array(buf, "data", path, &data, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return cr_mj_missing(err, path, "data");
    size_t n = json_array_size(data);
    unsigned char *bytes = cr_xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        json_t *b = json_array_get(data, i);
        if (!json_is_integer(b) || json_integer_value(b) < 0 || json_integer_value(b) > 255) {
            free(bytes);
            char p[CR_MJ_PATH_MAX];
            cr_mj_path(p, sizeof(p), path, "data");
            return cr_mj_err(err, p, NULL, "element %zu is not a byte (0-255)", i);
        }
        bytes[i] = (unsigned char)json_integer_value(b);
    }
    bytes[n] = '\0';
    *out = bytes;
    *len = n;
    return 1;
}

/* A ByteBuffer ({"buffer": Buffer, "offset": o, "limit": l}) or a bare Buffer. */
static int bytes_from_object(const json_t *v, const char *path, unsigned char **out, size_t *len,
                             struct cr_err *err)
{
    json_t *inner = NULL;
    int rc = cr_mj_object(v, "buffer", path, &inner, err);
    if (rc < 0)
        return rc;
    bool is_bytebuffer = rc == 1;
    if (!is_bytebuffer) {
        const char *type = NULL;
        if (cr_mj_string(v, "type", path, &type, NULL) != 1 || strcmp(type, "Buffer") != 0)
            return cr_mj_err(err, path, NULL,
                             "expected base64 bytes (a string), got an object that is not a "
                             "Buffer");
        inner = (json_t *)v;
    }
    char p[CR_MJ_PATH_MAX];
    if (is_bytebuffer)
        cr_mj_path(p, sizeof(p), path, "buffer");
    else
        cr_mj_path(p, sizeof(p), path, NULL);
    unsigned char *data = NULL;
    size_t n = 0;
    rc = buffer_data(inner, p, &data, &n, err);
    if (rc < 0)
        return rc;
    int64_t offset = 0, limit = (int64_t)n;
    if (is_bytebuffer) {
        if ((rc = cr_mj_int64(v, "offset", path, &offset, err)) < 0 ||
            (rc = cr_mj_int64(v, "limit", path, &limit, err)) < 0) {
            free(data);
            return rc;
        }
        if (offset < 0 || limit < offset || limit > (int64_t)n) {
            free(data);
            return cr_mj_err(err, path, NULL,
                             "offset %lld and limit %lld do not fit the %zu buffer bytes",
                             (long long)offset, (long long)limit, n);
        }
    }
    size_t m = (size_t)(limit - offset);
    memmove(data, data + offset, m);
    data[m] = '\0';
    *out = data;
    *len = m;
    return 1;
}

int cr_mj_bytes(const json_t *obj, const char *key, const char *path, unsigned char **out,
                size_t *len, struct cr_err *err)
{
    json_t *v = cr_mj_field(obj, key);
    if (!v)
        return 0;
    char p[CR_MJ_PATH_MAX];
    cr_mj_path(p, sizeof(p), path, key);
    if (json_is_object(v))
        return bytes_from_object(v, p, out, len, err);
    if (!json_is_string(v))
        return cr_mj_type_err(err, path, key, "base64 bytes (a string)", v);
    size_t n = json_string_length(v);
    if (n == 0) {
        *out = cr_xcalloc(1, 1);
        *len = 0;
        return 1;
    }
    unsigned char *raw = NULL;
    size_t raw_len = 0;
    if (cr_base64_decode(json_string_value(v), n, &raw, &raw_len) < 0)
        return cr_mj_err(err, path, key, "invalid base64");
    /* Keep the documented NUL terminator without trusting the decoder's allocation. */
    unsigned char *bytes = cr_xmalloc(raw_len + 1);
    if (raw_len)
        memcpy(bytes, raw, raw_len);
    bytes[raw_len] = '\0';
    free(raw);
    *out = bytes;
    *len = raw_len;
    return 1;
}

void cr_mj_strv_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

char **cr_mj_strv_copy(char *const *v, size_t n)
{
    if (n == 0)
        return NULL;
    char **out = cr_xcalloc(n, sizeof(*out));
    for (size_t i = 0; i < n; i++)
        out[i] = cr_xstrdup(v[i]);
    return out;
}

/* Shared body of the two array readers: strings, or id messages when ids. */
static int read_strv(const json_t *obj, const char *key, const char *path, char ***out, size_t *n,
                     bool ids, struct cr_err *err)
{
    json_t *arr = NULL;
    int rc = cr_mj_array(obj, key, path, &arr, err);
    if (rc <= 0)
        return rc;
    char p[CR_MJ_PATH_MAX];
    cr_mj_path(p, sizeof(p), path, key);
    size_t len = json_array_size(arr);
    char **v = len ? cr_xcalloc(len, sizeof(*v)) : NULL;
    for (size_t i = 0; i < len; i++) {
        json_t *e = json_array_get(arr, i);
        char ep[CR_MJ_PATH_MAX];
        cr_mj_path_index(ep, sizeof(ep), p, i);
        if (ids) {
            rc = id_from_value(e, ep, &v[i], err);
        } else if (!json_is_string(e)) {
            rc = cr_mj_type_err(err, ep, NULL, "a string", e);
        } else {
            v[i] = cr_xstrdup(json_string_value(e));
            rc = 1;
        }
        if (rc < 0) {
            cr_mj_strv_free(v, len);
            return rc;
        }
    }
    cr_mj_strv_free(*out, *n);
    *out = v;
    *n = len;
    return 1;
}

int cr_mj_string_array(const json_t *obj, const char *key, const char *path, char ***out, size_t *n,
                       struct cr_err *err)
{
    return read_strv(obj, key, path, out, n, false, err);
}

int cr_mj_id_array(const json_t *obj, const char *key, const char *path, char ***out, size_t *n,
                   struct cr_err *err)
{
    return read_strv(obj, key, path, out, n, true, err);
}

int cr_mj_nanos(const json_t *obj, const char *key, const char *path, int64_t *out,
                struct cr_err *err)
{
    json_t *v = NULL;
    int rc = cr_mj_object(obj, key, path, &v, err);
    if (rc <= 0)
        return rc;
    char p[CR_MJ_PATH_MAX];
    cr_mj_path(p, sizeof(p), path, key);
    int64_t ns = 0;
    rc = cr_mj_int64(v, "nanoseconds", p, &ns, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return cr_mj_missing(err, p, "nanoseconds");
    *out = ns;
    return 1;
}

int cr_mj_uuid(const json_t *obj, const char *key, const char *path, unsigned char out[16],
               struct cr_err *err)
{
    unsigned char *bytes = NULL;
    size_t len = 0;
    int rc = cr_mj_bytes(obj, key, path, &bytes, &len, err);
    if (rc <= 0)
        return rc;
    if (len != 16) {
        free(bytes);
        return cr_mj_err(err, path, key, "expected %zu bytes, got %zu", (size_t)16, len);
    }
    memcpy(out, bytes, 16);
    free(bytes);
    return 1;
}

/* A getter's answer for a required field: 0 when present, "required field missing" when
 * absent, errors as they are. */
static int required(int rc, struct cr_err *err, const char *path, const char *key)
{
    if (rc == 0)
        return cr_mj_missing(err, path, key);
    return rc < 0 ? rc : 0;
}

int cr_mj_required_id(const json_t *obj, const char *key, const char *path, char **out,
                      struct cr_err *err)
{
    return required(cr_mj_id(obj, key, path, out, err), err, path, key);
}

int cr_mj_required_object(const json_t *obj, const char *key, const char *path, json_t **out,
                          struct cr_err *err)
{
    return required(cr_mj_object(obj, key, path, out, err), err, path, key);
}

int cr_mj_required_string(const json_t *obj, const char *key, const char *path, const char **out,
                          struct cr_err *err)
{
    return required(cr_mj_string(obj, key, path, out, err), err, path, key);
}

int cr_mj_required_string_dup(const json_t *obj, const char *key, const char *path, char **out,
                              struct cr_err *err)
{
    return required(cr_mj_string_dup(obj, key, path, out, err), err, path, key);
}

int cr_mj_required_enum(const json_t *obj, const char *key, const char *path,
                        const char *const *names, size_t n, const char *what, int *out,
                        struct cr_err *err)
{
    bool unknown = false;
    int rc = cr_mj_enum(obj, key, path, names, n, out, &unknown, err);
    if (unknown)
        return cr_mj_err(err, path, key, "unknown %s '%s'", what,
                         json_string_value(json_object_get(obj, key)));
    return required(rc, err, path, key);
}

/* ---------------------------------------------------------------- envelopes */

const char *cr_mj_body_key(char *buf, size_t size, const char *name)
{
    size_t i;
    for (i = 0; name[i] && i + 1 < size; i++)
        buf[i] = (char)tolower((unsigned char)name[i]);
    buf[i] = '\0';
    return buf;
}

int cr_mj_envelope_type(const json_t *root, const char *const *names, size_t n, int *type,
                        struct cr_err *err)
{
    bool unknown = false;
    *type = 0;
    int rc = cr_mj_enum(root, "type", "", names, n, type, &unknown, err);
    if (rc < 0)
        return rc;
    if (rc == 0 && !unknown)
        return cr_mj_missing(err, "", "type");
    return 0;
}

json_t *cr_mj_copy_clean(const json_t *v)
{
    if (!v)
        return NULL;
    json_t *out;
    if (json_is_object(v)) {
        out = cr_mj_object_new();
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)v, k, e)
        {
            if (!json_is_null(e))
                cr_mj_set(out, k, cr_mj_copy_clean(e));
        }
        return out;
    }
    if (json_is_array(v)) {
        out = cr_mj_array_new();
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) cr_mj_append(out, cr_mj_copy_clean(e));
        return out;
    }
    out = json_copy((json_t *)v);
    if (!out)
        oom();
    return out;
}

/* ---------------------------------------------------------------- constructors */

json_t *cr_mj_object_new(void)
{
    json_t *o = json_object();
    if (!o)
        oom();
    return o;
}

json_t *cr_mj_array_new(void)
{
    json_t *a = json_array();
    if (!a)
        oom();
    return a;
}

json_t *cr_mj_str(const char *s)
{
    if (!s)
        return NULL;
    json_t *v;
    if (utf8_valid(s)) {
        v = json_string_nocheck(s);
    } else {
        char *clean = utf8_sanitize(s);
        v = json_string_nocheck(clean);
        free(clean);
    }
    if (!v)
        oom();
    return v;
}

json_t *cr_mj_int(int64_t n)
{
    json_t *v = json_integer((json_int_t)n);
    if (!v)
        oom();
    return v;
}

json_t *cr_mj_real(double d)
{
    json_t *v = json_real(isfinite(d) ? d : 0.0);
    if (!v)
        oom();
    return v;
}

json_t *cr_mj_bool_new(bool b)
{
    return json_boolean(b); /* the boolean singletons never fail */
}

void cr_mj_set(json_t *obj, const char *key, json_t *v)
{
    if (!v)
        return;
    int rc;
    if (utf8_valid(key)) {
        rc = json_object_set_new_nocheck(obj, key, v);
    } else {
        char *clean = utf8_sanitize(key);
        rc = json_object_set_new_nocheck(obj, clean, v);
        free(clean);
    }
    if (rc != 0)
        oom();
}

void cr_mj_append(json_t *arr, json_t *v)
{
    if (!v)
        return;
    if (json_array_append_new(arr, v) != 0)
        oom();
}

json_t *cr_mj_base64(const void *data, size_t len)
{
    char *b64 = cr_base64_encode(data, len);
    json_t *v = cr_mj_str(b64);
    free(b64);
    return v;
}

/* ---------------------------------------------------------------- ids and roles */

json_t *cr_json_id(const char *id)
{
    if (!id)
        return NULL;
    json_t *o = cr_mj_object_new();
    cr_mj_set(o, "value", cr_mj_str(id));
    return o;
}

int cr_parse_id(const json_t *obj, const char *key, const char *path, char **out,
                struct cr_err *err)
{
    *out = NULL;
    int rc = cr_mj_id(obj, key, path, out, err);
    return rc < 0 ? rc : 0;
}

int cr_validate_id(const char *id, struct cr_err *err)
{
    if (!id || !id[0])
        return cr_err_set(err, -EINVAL, "id must not be empty");
    size_t len = strlen(id);
    if (len > 255)
        return cr_err_set(err, -EINVAL, "id must not be longer than 255 bytes");
    if (strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
        return cr_err_set(err, -EINVAL, "id '%s' is not allowed", id);
    for (const char *p = id; *p; p++) {
        if (iscntrl((unsigned char)*p) || *p == '/' || *p == '\\')
            return cr_err_set(err, -EINVAL,
                              "id '%s' contains invalid characters (control characters, '/' "
                              "or '\\')",
                              id);
    }
    return 0;
}

int cr_validate_role(const char *role, struct cr_err *err)
{
    if (!role || !role[0])
        return cr_err_set(err, -EINVAL, "role name must not be empty");
    if (strcmp(role, "*") == 0)
        return 0;
    if (strcmp(role, ".") == 0 || strcmp(role, "..") == 0)
        return cr_err_set(err, -EINVAL, "role name '%s' is invalid", role);
    if (role[0] == '-')
        return cr_err_set(err, -EINVAL, "role name '%s' is invalid: it starts with a dash", role);
    for (const char *p = role; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '/')
            return cr_err_set(err, -EINVAL,
                              "role name '%s' is invalid: hierarchical roles ('/') are not "
                              "supported",
                              role);
        if (isspace(c) || iscntrl(c))
            return cr_err_set(err, -EINVAL,
                              "role name '%s' is invalid: it contains whitespace or control "
                              "characters",
                              role);
    }
    return 0;
}
