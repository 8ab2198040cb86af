/*
 * util.c - small pieces everyone needs (see util.h): allocation that aborts on
 * out-of-memory, growable buffers, clocks, random ids, base64 and file helpers.
 *
 * Invariants: a cr_buf with a non-NULL data always has data[len] == '\0' and
 * len < cap. The file helpers never follow symlinks when deleting (cr_rm_rf removes
 * the link, not its target) and cr_write_file_atomic leaves either the old or the
 * new content at path, never a mix, even across a crash.
 */
#include "base/util.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- allocation ---- */

static void oom(size_t n)
{
    /* Not CR_LOG: formatting may itself need memory. One write, then abort. */
    char msg[96];
    int len = snprintf(msg, sizeof(msg), "corral: out of memory allocating %zu bytes\n", n);
    if (len > 0) {
        ssize_t w = write(STDERR_FILENO, msg, (size_t)len);
        (void)w;
    }
    abort();
}

void cr_freep(void *pp)
{
    void **p = pp;
    free(*p);
    *p = NULL;
}

void *cr_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *cr_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *cr_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *cr_xstrdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = cr_xmalloc(n);
    memcpy(d, s, n);
    return d;
}

char *cr_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom(strlen(fmt));
    return s;
}

/* ---- growable buffer ---- */

void cr_buf_init(struct cr_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void cr_buf_release(struct cr_buf *b)
{
    if (!b)
        return;
    free(b->data);
    cr_buf_init(b);
}

/* Make room for extra more bytes plus the terminating NUL. */
static void buf_reserve(struct cr_buf *b, size_t extra)
{
    if (extra >= SIZE_MAX - b->len - 1)
        oom(SIZE_MAX);
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    b->data = cr_xrealloc(b->data, cap);
    b->cap = cap;
}

void cr_buf_append(struct cr_buf *b, const void *data, size_t len)
{
    buf_reserve(b, len);
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void cr_buf_puts(struct cr_buf *b, const char *s)
{
    cr_buf_append(b, s, strlen(s));
}

void cr_buf_printf(struct cr_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return; /* only for invalid formats, which the format attribute catches */
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *cr_buf_steal(struct cr_buf *b, size_t *len)
{
    if (!b->data) {
        buf_reserve(b, 0);
        b->data[0] = '\0';
    }
    char *data = b->data;
    if (len)
        *len = b->len;
    cr_buf_init(b);
    return data;
}

/* ---- clocks ---- */

int64_t cr_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double cr_wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- randomness and ids ---- */

void cr_random_bytes(void *out, size_t n)
{
    unsigned char *p = out;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            /* getrandom cannot fail on a supported kernel with a valid buffer. */
            abort();
        }
        p += got;
        n -= (size_t)got;
    }
}

void cr_uuid_text(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    cr_random_bytes(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 0xf];
    }
    out[o] = '\0';
}

/* ---- base64 ---- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *cr_base64_encode(const void *data, size_t len)
{
    const unsigned char *in = data;
    size_t out_len = (len + 2) / 3 * 4;
    char *out = cr_xmalloc(out_len + 1);
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64_alphabet[v >> 18];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = b64_alphabet[(v >> 6) & 63];
        out[o++] = b64_alphabet[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        out[o++] = b64_alphabet[v >> 18];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = (char)(i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=');
        out[o++] = '=';
    }
    out[o] = '\0';
    return out;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int cr_base64_decode(const char *text, size_t text_len, unsigned char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    /* Padding is optional, but when present it completes a 4-character group. */
    size_t pad = 0;
    while (pad < 2 && text_len > 0 && text[text_len - 1] == '=') {
        text_len--;
        pad++;
    }
    if (pad && (text_len + pad) % 4 != 0)
        return -EINVAL;
    if (text_len % 4 == 1)
        return -EINVAL;
    size_t cap = text_len / 4 * 3 + 3;
    unsigned char *buf = cr_xmalloc(cap);
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < text_len; i++) {
        int v = b64_value((unsigned char)text[i]);
        if (v < 0) {
            free(buf);
            return -EINVAL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* Leftover bits must be zero in canonical encodings; reject the rest. */
    if (acc != 0) {
        free(buf);
        return -EINVAL;
    }
    *out = buf;
    *out_len = o;
    return 0;
}

/* ---- files ---- */

int cr_mkdir_p(const char *path, unsigned mode, struct cr_err *err)
{
    if (!path || !*path)
        return cr_err_set(err, -EINVAL, "mkdir: empty path");
    char *p CR_AUTOFREE = cr_xstrdup(path);
    size_t len = strlen(p);
    while (len > 1 && p[len - 1] == '/')
        p[--len] = '\0';
    /* Walk forward creating each component; an existing directory is fine. */
    for (char *s = p + 1;; s++) {
        bool at_end = *s == '\0';
        if (*s != '/' && !at_end)
            continue;
        *s = '\0';
        if (mkdir(p, (mode_t)mode) < 0) {
            int e = errno;
            struct stat st;
            if (e != EEXIST || stat(p, &st) < 0)
                return cr_err_sys(err, -e, "mkdir '%s'", p);
            if (!S_ISDIR(st.st_mode))
                return cr_err_set(err, -ENOTDIR, "mkdir '%s': exists and is not a directory", p);
        }
        if (at_end)
            break;
        *s = '/';
    }
    return 0;
}

/*
 * Remove name (relative to parent_fd) and everything under it. display is the path used in
 * error messages. Symlinks are removed, never followed.
 */
static int rm_at(int parent_fd, const char *name, const char *display, struct cr_err *err)
{
    if (unlinkat(parent_fd, name, 0) == 0)
        return 0;
    int e = errno;
    if (e == ENOENT)
        return 0;
    if (e != EISDIR && e != EPERM)
        return cr_err_sys(err, -e, "remove '%s'", display);
    int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        e = errno;
        if (e == ENOENT)
            return 0;
        /* EPERM from unlinkat on a non-directory stays the real error. */
        return cr_err_sys(err, -(e == ENOTDIR ? EPERM : e), "remove '%s'", display);
    }
    DIR *dir = fdopendir(fd);
    if (!dir) {
        e = errno;
        close(fd);
        return cr_err_sys(err, -e, "open directory '%s'", display);
    }
    int rc = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *child CR_AUTOFREE = cr_xasprintf("%s/%s", display, de->d_name);
        rc = rm_at(dirfd(dir), de->d_name, child, err);
        if (rc < 0)
            break;
        errno = 0;
    }
    if (rc == 0 && errno != 0)
        rc = cr_err_sys(err, -errno, "read directory '%s'", display);
    closedir(dir);
    if (rc < 0)
        return rc;
    if (unlinkat(parent_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return cr_err_sys(err, -errno, "remove directory '%s'", display);
    return 0;
}

int cr_rm_rf(const char *path, struct cr_err *err)
{
    if (!path || !*path)
        return cr_err_set(err, -EINVAL, "rm -rf: empty path");
    if (strcmp(path, "/") == 0)
        return cr_err_set(err, -EPERM, "rm -rf: refusing to remove '/'");
    return rm_at(AT_FDCWD, path, path, err);
}

int cr_read_file(const char *path, char **out, size_t *out_len, struct cr_err *err)
{
    *out = NULL;
    if (out_len)
        *out_len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cr_err_sys(err, -errno, "open '%s'", path);
    struct cr_buf b;
    cr_buf_init(&b);
    struct stat st;
    /* Files in /proc and /sys report size 0; the loop below reads them anyway. */
    buf_reserve(&b, fstat(fd, &st) == 0 && st.st_size > 0 ? (size_t)st.st_size + 1 : 4096);
    for (;;) {
        if (b.cap - b.len < 2)
            buf_reserve(&b, b.cap);
        ssize_t n = read(fd, b.data + b.len, b.cap - b.len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            cr_buf_release(&b);
            return cr_err_sys(err, -e, "read '%s'", path);
        }
        if (n == 0)
            break;
        b.len += (size_t)n;
    }
    b.data[b.len] = '\0';
    close(fd);
    *out = cr_buf_steal(&b, out_len);
    return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int cr_write_file_atomic(const char *path, const void *data, size_t len, struct cr_err *err)
{
    if (!path || !*path)
        return cr_err_set(err, -EINVAL, "write file: empty path");
    const char *slash = strrchr(path, '/');
    char *dir CR_AUTOFREE =
        slash ? cr_xasprintf("%.*s", (int)(slash - path), path) : cr_xstrdup(".");
    if (!*dir) {
        free(dir);
        dir = cr_xstrdup("/");
    }
    const char *base = slash ? slash + 1 : path;
    char *tmp CR_AUTOFREE = cr_xasprintf("%s/.%s.tmp.XXXXXX", dir, base);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return cr_err_sys(err, -errno, "create temporary file in '%s'", dir);
    int rc = write_all(fd, data, len);
    if (rc < 0) {
        cr_err_sys(err, rc, "write '%s'", tmp);
        goto fail;
    }
    /* mkostemp creates 0600; checkpoints and state files read like ordinary files. */
    if (fchmod(fd, 0644) < 0) {
        rc = cr_err_sys(err, -errno, "chmod '%s'", tmp);
        goto fail;
    }
    if (fsync(fd) < 0) {
        rc = cr_err_sys(err, -errno, "fsync '%s'", tmp);
        goto fail;
    }
    if (close(fd) < 0) {
        fd = -1;
        rc = cr_err_sys(err, -errno, "close '%s'", tmp);
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        rc = cr_err_sys(err, -errno, "rename '%s' to '%s'", tmp, path);
        goto fail;
    }
    /* The rename is durable only once the directory entry is on disk. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return cr_err_sys(err, -errno, "open directory '%s'", dir);
    if (fsync(dfd) < 0) {
        rc = cr_err_sys(err, -errno, "fsync directory '%s'", dir);
        close(dfd);
        return rc;
    }
    close(dfd);
    return 0;

fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return rc;
}

char *cr_path_normalize(const char *path)
{
    size_t len = strlen(path);
    char *out = cr_xmalloc(len + 2);
    size_t o = 0;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--; /* drop the '/' too */
        } else if (!(n == 1 && p[0] == '.')) {
            out[o++] = '/';
            memcpy(out + o, p, n);
            o += n;
        }
        p += n;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
    return out;
}

static int parse_id(const char *s, char **end, unsigned *out)
{
    errno = 0;
    unsigned long v = strtoul(s, end, 10);
    if (*end == s || errno || v > 0xfffffffeUL)
        return -EINVAL;
    *out = (unsigned)v;
    return 0;
}

int cr_user_lookup(const char *user, unsigned *uid, unsigned *gid, unsigned *groups, int *ngroups,
                   struct cr_err *err)
{
    int cap = *ngroups;
    *ngroups = 0;
    if (user[0] == '#') {
        char *p = (char *)user + 1;
        if (parse_id(p, &p, uid) < 0 || *p++ != ':' || parse_id(p, &p, gid) < 0)
            return cr_err_set(err, -EINVAL, "malformed resolved user '%s'", user);
        if (*p == ':') {
            if (!*++p)
                return cr_err_set(err, -EINVAL, "malformed resolved user '%s'", user);
            while (*p) {
                unsigned g;
                if (parse_id(p, &p, &g) < 0 || (*p && *p != ','))
                    return cr_err_set(err, -EINVAL, "malformed resolved user '%s'", user);
                if (*ngroups < cap)
                    groups[(*ngroups)++] = g;
                if (*p == ',' && !*++p)
                    return cr_err_set(err, -EINVAL, "malformed resolved user '%s'", user);
            }
        } else if (*p) {
            return cr_err_set(err, -EINVAL, "malformed resolved user '%s'", user);
        }
        return 0;
    }
    struct passwd pw, *res = NULL;
    char buf[4096];
    int rc = getpwnam_r(user, &pw, buf, sizeof(buf), &res);
    if (rc != 0)
        return cr_err_sys(err, -rc, "look up user '%s'", user);
    if (!res)
        return cr_err_set(err, -ENOENT, "user '%s' does not exist", user);
    *uid = pw.pw_uid;
    *gid = pw.pw_gid;
    int n = cap;
    if (getgrouplist(user, pw.pw_gid, (gid_t *)groups, &n) < 0)
        n = cap; /* more than the caller keeps: the first ones will do */
    *ngroups = n;
    return 0;
}

char *cr_user_resolve(const char *user, struct cr_err *err)
{
    unsigned uid, gid, groups[256];
    int n = 256;
    if (cr_user_lookup(user, &uid, &gid, groups, &n, err) < 0)
        return NULL;
    struct cr_buf b;
    cr_buf_init(&b);
    cr_buf_printf(&b, "#%u:%u", uid, gid);
    for (int i = 0; i < n; i++)
        cr_buf_printf(&b, "%c%u", i == 0 ? ':' : ',', groups[i]);
    return cr_buf_steal(&b, NULL);
}
