/*
 * files.c - /files/browse and /files/read, confined to the work dir (see files.h).
 *
 * Called on the loop thread for each request. Reads are bounded (CR_FILES_READ_MAX)
 * and opens are non-blocking (a FIFO in a sandbox cannot stall the agent). Answers carry
 * the file's inode besides Mesos' fields, so a reader can tell that a task log was
 * rotated (renamed to stdout.1, a new stdout created) between two reads.
 */
#include "agent/files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"

int cr_files_http_status(int rc)
{
    switch (rc) {
    case 0:
        return 200;
    case -EINVAL:
    case -EISDIR:
    case -ENOTDIR:
        return 400;
    case -EPERM:
    case -EACCES:
        return 403;
    case -ENOENT:
        return 404;
    default:
        return 500;
    }
}

char *cr_files_mode_string(unsigned mode, char *buf)
{
    char type = '-';
    if (S_ISDIR(mode))
        type = 'd';
    else if (S_ISLNK(mode))
        type = 'l';
    else if (S_ISCHR(mode))
        type = 'c';
    else if (S_ISBLK(mode))
        type = 'b';
    else if (S_ISFIFO(mode))
        type = 'p';
    else if (S_ISSOCK(mode))
        type = 's';
    buf[0] = type;
    static const char rwx[] = "rwxrwxrwx";
    for (int i = 0; i < 9; i++)
        buf[1 + i] = (mode & (1u << (8 - i))) ? rwx[i] : '-';
    if (mode & S_ISUID)
        buf[3] = (mode & S_IXUSR) ? 's' : 'S';
    if (mode & S_ISGID)
        buf[6] = (mode & S_IXGRP) ? 's' : 'S';
    if (mode & S_ISVTX)
        buf[9] = (mode & S_IXOTH) ? 't' : 'T';
    buf[10] = '\0';
    return buf;
}

static bool under_root(const char *root, const char *path)
{
    size_t n = strlen(root);
    if (n == 1 && root[0] == '/')
        return true;
    return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int cr_files_resolve(const char *root, const char *path, char **out, struct cr_err *err)
{
    *out = NULL;
    if (!path || !*path)
        return cr_err_set(err, -EINVAL, "Expecting 'path' to be set");
    if (path[0] != '/')
        return cr_err_set(err, -EINVAL, "path: '%s' is not an absolute path", path);
    if (strlen(path) >= PATH_MAX)
        return cr_err_set(err, -EINVAL, "path: longer than %d bytes", PATH_MAX);
    char *norm = cr_path_normalize(path);
    bool inside = under_root(root, norm);
    free(norm);
    if (!inside)
        return cr_err_set(err, -EPERM, "path '%s' is outside the agent's work dir", path);
    char *real = realpath(path, NULL);
    if (!real) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR)
            return cr_err_set(err, -ENOENT, "path '%s' does not exist", path);
        if (e == EACCES)
            return cr_err_set(err, -EACCES, "path '%s': permission denied", path);
        return cr_err_sys(err, -e, "resolve '%s'", path);
    }
    if (!under_root(root, real)) {
        free(real);
        return cr_err_set(err, -EPERM, "path '%s' leads outside the agent's work dir", path);
    }
    *out = real;
    return 0;
}

/* Open a resolved path and make sure what was opened is still under root. */
static int open_confined(const char *root, const char *real, int flags, const char *shown,
                         struct cr_err *err)
{
    int fd = open(real, flags | O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return cr_err_set(err, -ENOENT, "path '%s' does not exist", shown);
        if (e == ENOTDIR)
            return cr_err_set(err, -ENOTDIR, "path '%s' is not a directory", shown);
        if (e == EACCES || e == EPERM)
            return cr_err_set(err, -EACCES, "path '%s': permission denied", shown);
        return cr_err_sys(err, -e, "open '%s'", shown);
    }
    char link[64], target[PATH_MAX + 1];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    if (n < 0) {
        int e = errno;
        close(fd);
        return cr_err_sys(err, -e, "check '%s'", shown);
    }
    target[n] = '\0';
    if (!under_root(root, target)) {
        close(fd);
        return cr_err_set(err, -EPERM, "path '%s' leads outside the agent's work dir", shown);
    }
    return fd;
}

static const char *user_name(uid_t uid, char *buf, size_t size)
{
    struct passwd pw, *res = NULL;
    char tmp[1024];
    if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) == 0 && res)
        snprintf(buf, size, "%s", pw.pw_name);
    else
        snprintf(buf, size, "%u", (unsigned)uid);
    return buf;
}

static const char *group_name(gid_t gid, char *buf, size_t size)
{
    struct group gr, *res = NULL;
    char tmp[1024];
    if (getgrgid_r(gid, &gr, tmp, sizeof(tmp), &res) == 0 && res)
        snprintf(buf, size, "%s", gr.gr_name);
    else
        snprintf(buf, size, "%u", (unsigned)gid);
    return buf;
}

/* Remembers the last uid/gid looked up: a sandbox's files mostly share one owner. */
struct owner_cache {
    bool has_uid, has_gid;
    uid_t uid;
    gid_t gid;
    char uname[256], gname[256];
};

static json_t *file_info(const char *path, const struct stat *st, struct owner_cache *oc)
{
    char mode[11];
    if (!oc->has_uid || oc->uid != st->st_uid) {
        user_name(st->st_uid, oc->uname, sizeof(oc->uname));
        oc->uid = st->st_uid;
        oc->has_uid = true;
    }
    if (!oc->has_gid || oc->gid != st->st_gid) {
        group_name(st->st_gid, oc->gname, sizeof(oc->gname));
        oc->gid = st->st_gid;
        oc->has_gid = true;
    }
    json_t *o = json_object();
    json_object_set_new(o, "path", json_string(path));
    json_object_set_new(o, "nlink", json_integer((json_int_t)st->st_nlink));
    json_object_set_new(o, "size", json_integer((json_int_t)st->st_size));
    json_object_set_new(o, "mtime", json_integer((json_int_t)st->st_mtime));
    json_object_set_new(o, "mode", json_string(cr_files_mode_string(st->st_mode, mode)));
    json_object_set_new(o, "uid", json_string(oc->uname));
    json_object_set_new(o, "gid", json_string(oc->gname));
    json_object_set_new(o, "inode", json_integer((json_int_t)st->st_ino));
    return o;
}

/* Entries sort by name so listings are stable. */
static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int cr_files_browse(const char *root, const char *path, json_t **out, struct cr_err *err)
{
    *out = NULL;
    char *real = NULL;
    int rc = cr_files_resolve(root, path, &real, err);
    if (rc < 0)
        return rc;
    int fd = open_confined(root, real, 0, path, err);
    free(real);
    if (fd < 0)
        return fd;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        rc = cr_err_sys(err, -errno, "stat '%s'", path);
        close(fd);
        return rc;
    }
    /* Paths in the answer extend the one asked for (without a trailing '/'). */
    size_t plen = strlen(path);
    while (plen > 1 && path[plen - 1] == '/')
        plen--;
    struct owner_cache oc;
    memset(&oc, 0, sizeof(oc));
    json_t *arr = json_array();
    if (!S_ISDIR(st.st_mode)) {
        char *shown = cr_xasprintf("%.*s", (int)plen, path);
        json_array_append_new(arr, file_info(shown, &st, &oc));
        free(shown);
        close(fd);
        *out = arr;
        return 0;
    }
    DIR *dir = fdopendir(fd);
    if (!dir) {
        rc = cr_err_sys(err, -errno, "list '%s'", path);
        close(fd);
        json_decref(arr);
        return rc;
    }
    size_t n = 0, cap = 0;
    char **names = NULL;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            names = cr_xrealloc(names, cap * sizeof(char *));
        }
        names[n++] = cr_xstrdup(de->d_name);
    }
    if (n > 1)
        qsort(names, n, sizeof(char *), cmp_names);
    for (size_t i = 0; i < n; i++) {
        struct stat est;
        if (fstatat(dirfd(dir), names[i], &est, AT_SYMLINK_NOFOLLOW) == 0) {
            char *shown = plen == 1 ? cr_xasprintf("/%s", names[i])
                                    : cr_xasprintf("%.*s/%s", (int)plen, path, names[i]);
            json_array_append_new(arr, file_info(shown, &est, &oc));
            free(shown);
        }
        free(names[i]);
    }
    free(names);
    closedir(dir);
    *out = arr;
    return 0;
}

/* Parse a query integer; NULL text -> def. */
static int parse_int_param(const char *name, const char *text, int64_t def, int64_t *out,
                           struct cr_err *err)
{
    if (!text) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (!*text || *end || errno != 0)
        return cr_err_set(err, -EINVAL, "Failed to parse '%s': '%s' is not an integer", name, text);
    *out = v;
    return 0;
}

/* Length of the UTF-8 sequence starting at s (n bytes available): >0 valid, 0 invalid,
 * -1 incomplete (a valid prefix cut by the end of the buffer). */
static int utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    int need;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    unsigned cp = c & (0x7F >> need);
    for (int i = 1; i < need; i++) {
        if ((size_t)i >= n)
            return -1;
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return need;
}

/* Replace invalid bytes with '?' in place; returns the length to keep (an incomplete
 * trailing sequence is cut off so the next read starts with it). */
static size_t sanitize_utf8(char *buf, size_t n)
{
    size_t i = 0;
    while (i < n) {
        int l = utf8_len((const unsigned char *)buf + i, n - i);
        if (l > 0) {
            i += (size_t)l;
        } else if (l < 0) {
            return i;
        } else {
            buf[i++] = '?';
        }
    }
    return n;
}

int cr_files_read(const char *root, const char *path, const char *offset_text,
                  const char *length_text, json_t **out, struct cr_err *err)
{
    *out = NULL;
    int64_t offset, length;
    int rc = parse_int_param("offset", offset_text, -1, &offset, err);
    if (rc < 0)
        return rc;
    if (offset < -1)
        return cr_err_set(err, -EINVAL, "Negative offset provided: %lld", (long long)offset);
    if ((rc = parse_int_param("length", length_text, -1, &length, err)) < 0)
        return rc;
    if (length < -1)
        return cr_err_set(err, -EINVAL, "Negative length provided: %lld", (long long)length);
    if (length == -1 || length > CR_FILES_READ_MAX)
        length = CR_FILES_READ_MAX;

    char *real = NULL;
    if ((rc = cr_files_resolve(root, path, &real, err)) < 0)
        return rc;
    int fd = open_confined(root, real, 0, path, err);
    free(real);
    if (fd < 0)
        return fd;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        rc = cr_err_sys(err, -errno, "stat '%s'", path);
        close(fd);
        return rc;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return cr_err_set(err, -EISDIR, "Cannot read a directory: '%s'", path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return cr_err_set(err, -EINVAL, "path '%s' is not a regular file", path);
    }
    int64_t size = (int64_t)st.st_size;
    json_t *o = json_object();
    /* The file actually read: a reader following a rotated log tells files apart by it. */
    json_object_set_new(o, "inode", json_integer((json_int_t)st.st_ino));
    if (offset == -1) {
        json_object_set_new(o, "data", json_string(""));
        json_object_set_new(o, "offset", json_integer((json_int_t)size));
        close(fd);
        *out = o;
        return 0;
    }
    size_t want = offset >= size ? 0 : (size_t)(size - offset < length ? size - offset : length);
    char *buf = cr_xmalloc(want + 1);
    size_t got = 0;
    while (got < want) {
        ssize_t n = pread(fd, buf + got, want - got, (off_t)(offset + (int64_t)got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = cr_err_sys(err, -errno, "read '%s'", path);
            free(buf);
            json_decref(o);
            close(fd);
            return rc;
        }
        if (n == 0)
            break; /* truncated meanwhile */
        got += (size_t)n;
    }
    close(fd);
    size_t keep = sanitize_utf8(buf, got);
    json_object_set_new(o, "data", json_stringn(buf, keep));
    json_object_set_new(o, "offset", json_integer((json_int_t)offset));
    free(buf);
    *out = o;
    return 0;
}
