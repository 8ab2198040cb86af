/*
 * test_files.c - the agent's files API: confinement to the work dir (.., symlinks out,
 * sibling-prefix tricks), parameter errors naming the parameter, Mesos read semantics
 * (offset -1 = size, windows, past the end), UTF-8 handling, browse listings, and the
 * inode in answers that tells a rotated log apart.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/files.h"
#include "base/util.h"

struct fixture {
    char root[PATH_MAX];         /* realpath of the temp work dir */
    char sibling[PATH_MAX + 16]; /* root + "-evil": shares the prefix, outside */
};

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    fclose(fp);
}

static char *p(const struct fixture *f, const char *rel)
{
    return cr_xasprintf("%s%s", f->root, rel);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char tmpl[] = "/tmp/cr-files-test-XXXXXX";
    if (!mkdtemp(tmpl) || !realpath(tmpl, f->root))
        return -1;
    snprintf(f->sibling, sizeof(f->sibling), "%s-evil", f->root);
    mkdir(f->sibling, 0755);
    char *s;
    s = cr_xasprintf("%s/secret", f->sibling);
    write_file(s, "secret", 6);
    free(s);
    s = p(f, "/sandbox/sub");
    cr_mkdir_p(s, 0755, NULL);
    free(s);
    s = p(f, "/sandbox/stdout");
    write_file(s, "hello world\n", 12);
    free(s);
    s = p(f, "/sandbox/bad.bin");
    write_file(s,
               "a\xff"
               "b\xc3\xa9"
               "c\xe2\x82",
               8); /* bad byte, é, then a cut euro sign */
    free(s);
    s = p(f, "/link_out");
    if (symlink("/etc", s) < 0)
        return -1;
    free(s);
    s = p(f, "/sandbox/latest");
    if (symlink("sub", s) < 0)
        return -1;
    free(s);
    s = p(f, "/sandbox/sub/fifo");
    if (mkfifo(s, 0644) < 0)
        return -1;
    free(s);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    cr_rm_rf(f->root, NULL);
    cr_rm_rf(f->sibling, NULL);
    free(f);
    return 0;
}

static void expect_resolve(const struct fixture *f, const char *path, int code,
                           const char *msg_part)
{
    char *out = NULL;
    struct cr_err err;
    cr_err_clear(&err);
    int rc = cr_files_resolve(f->root, path, &out, &err);
    if (rc != code)
        fail_msg("resolve '%s': got %d (%s), want %d", path ? path : "(null)", rc, err.msg, code);
    if (msg_part && !strstr(err.msg, msg_part))
        fail_msg("resolve '%s': message '%s' lacks '%s'", path ? path : "(null)", err.msg,
                 msg_part);
    free(out);
}

static void test_resolve_confinement(void **state)
{
    struct fixture *f = *state;
    expect_resolve(f, NULL, -EINVAL, "'path'");
    expect_resolve(f, "", -EINVAL, "'path'");
    expect_resolve(f, "relative/path", -EINVAL, "absolute");
    expect_resolve(f, "/etc/passwd", -EPERM, "outside");
    char *s = p(f, "/../../etc/passwd");
    expect_resolve(f, s, -EPERM, "outside");
    free(s);
    s = p(f, "/link_out/passwd"); /* symlink leading out */
    expect_resolve(f, s, -EPERM, "outside");
    free(s);
    s = cr_xasprintf("%s/secret", f->sibling); /* same prefix, other directory */
    expect_resolve(f, s, -EPERM, "outside");
    free(s);
    s = p(f, "-evil/secret");
    expect_resolve(f, s, -EPERM, "outside");
    free(s);
    s = p(f, "/sandbox/nope");
    expect_resolve(f, s, -ENOENT, "does not exist");
    free(s);
    s = p(f, "/sandbox/../sandbox/./stdout");
    expect_resolve(f, s, 0, NULL);
    free(s);
    expect_resolve(f, f->root, 0, NULL);
    s = p(f, "/sandbox/latest/fifo"); /* symlink inside stays inside */
    char *out = NULL;
    assert_int_equal(cr_files_resolve(f->root, s, &out, NULL), 0);
    char *want = p(f, "/sandbox/sub/fifo");
    assert_string_equal(out, want);
    free(want);
    free(out);
    free(s);
}

static void test_http_status(void **state)
{
    (void)state;
    assert_int_equal(cr_files_http_status(0), 200);
    assert_int_equal(cr_files_http_status(-EINVAL), 400);
    assert_int_equal(cr_files_http_status(-EISDIR), 400);
    assert_int_equal(cr_files_http_status(-EPERM), 403);
    assert_int_equal(cr_files_http_status(-EACCES), 403);
    assert_int_equal(cr_files_http_status(-ENOENT), 404);
    assert_int_equal(cr_files_http_status(-EIO), 500);
}

static json_t *read_ok(const struct fixture *f, const char *rel, const char *offset,
                       const char *length)
{
    char *path = p(f, rel);
    json_t *out = NULL;
    struct cr_err err;
    cr_err_clear(&err);
    int rc = cr_files_read(f->root, path, offset, length, &out, &err);
    free(path);
    if (rc != 0)
        fail_msg("read %s: %s", rel, err.msg);
    return out;
}

static void expect_data(json_t *o, const char *data, long long offset)
{
    json_t *d = json_object_get(o, "data");
    assert_true(json_is_string(d));
    assert_string_equal(json_string_value(d), data);
    assert_int_equal(json_integer_value(json_object_get(o, "offset")), offset);
    json_decref(o);
}

static void test_read_semantics(void **state)
{
    struct fixture *f = *state;
    expect_data(read_ok(f, "/sandbox/stdout", "-1", NULL), "", 12);
    expect_data(read_ok(f, "/sandbox/stdout", NULL, NULL), "", 12); /* offset absent = -1 */
    expect_data(read_ok(f, "/sandbox/stdout", "0", NULL), "hello world\n", 0);
    expect_data(read_ok(f, "/sandbox/stdout", "0", "-1"), "hello world\n", 0);
    expect_data(read_ok(f, "/sandbox/stdout", "6", "5"), "world", 6);
    expect_data(read_ok(f, "/sandbox/stdout", "12", "5"), "", 12);
    expect_data(read_ok(f, "/sandbox/stdout", "100", "5"), "", 100);
    expect_data(read_ok(f, "/sandbox/stdout", "0", "0"), "", 0);
    expect_data(read_ok(f, "/sandbox/latest/../stdout", "0", "5"), "hello", 0);
}

static void test_read_utf8(void **state)
{
    struct fixture *f = *state;
    /* bad byte -> '?', é kept, the cut euro sign left for the next read */
    expect_data(read_ok(f, "/sandbox/bad.bin", "0", NULL),
                "a?b\xc3\xa9"
                "c",
                0);
    /* a window ending inside é leaves it for the next read */
    expect_data(read_ok(f, "/sandbox/bad.bin", "0", "4"), "a?b", 0);
    expect_data(read_ok(f, "/sandbox/bad.bin", "3", "2"), "\xc3\xa9", 3);
}

static void expect_read_error(const struct fixture *f, const char *rel, const char *offset,
                              const char *length, int code, const char *msg_part)
{
    char *path = rel[0] == '/' && strncmp(rel, "/etc", 4) == 0 ? cr_xstrdup(rel) : p(f, rel);
    json_t *out = NULL;
    struct cr_err err;
    cr_err_clear(&err);
    int rc = cr_files_read(f->root, path, offset, length, &out, &err);
    free(path);
    assert_null(out);
    if (rc != code)
        fail_msg("read %s: got %d (%s), want %d", rel, rc, err.msg, code);
    if (msg_part && !strstr(err.msg, msg_part))
        fail_msg("read %s: message '%s' lacks '%s'", rel, err.msg, msg_part);
}

static void test_read_errors(void **state)
{
    struct fixture *f = *state;
    expect_read_error(f, "/sandbox/stdout", "abc", NULL, -EINVAL, "'offset'");
    expect_read_error(f, "/sandbox/stdout", "1x", NULL, -EINVAL, "'offset'");
    expect_read_error(f, "/sandbox/stdout", "", NULL, -EINVAL, "'offset'");
    expect_read_error(f, "/sandbox/stdout", "-5", NULL, -EINVAL, "offset");
    expect_read_error(f, "/sandbox/stdout", "0", "many", -EINVAL, "'length'");
    expect_read_error(f, "/sandbox/stdout", "0", "-2", -EINVAL, "length");
    expect_read_error(f, "/sandbox", "0", NULL, -EISDIR, "directory");
    expect_read_error(f, "/sandbox/missing", "0", NULL, -ENOENT, "does not exist");
    expect_read_error(f, "/etc/passwd", "0", NULL, -EPERM, "outside");
    expect_read_error(f, "/link_out/hostname", "0", NULL, -EPERM, "outside");
    /* a FIFO is refused at once, never read (which would block) */
    expect_read_error(f, "/sandbox/sub/fifo", "0", NULL, -EINVAL, "regular file");
    json_t *out = NULL;
    assert_int_equal(cr_files_read(f->root, NULL, "0", NULL, &out, NULL), -EINVAL);
}

static json_int_t inode_of(json_t *answer)
{
    json_t *ino = json_object_get(answer, "inode");
    assert_true(json_is_integer(ino));
    json_int_t v = json_integer_value(ino);
    json_decref(answer);
    return v;
}

/* A rotated log (stdout -> stdout.1, a new stdout) answers another inode for "stdout",
 * and "stdout.1" the inode that "stdout" had, with or without an offset. */
static void test_read_inode_tells_rotation(void **state)
{
    struct fixture *f = *state;
    char *out = p(f, "/sandbox/stdout"), *out1 = p(f, "/sandbox/stdout.1");
    struct stat st;
    assert_int_equal(stat(out, &st), 0);
    json_int_t before = inode_of(read_ok(f, "/sandbox/stdout", "-1", NULL));
    assert_int_equal(before, (json_int_t)st.st_ino);
    assert_int_equal(inode_of(read_ok(f, "/sandbox/stdout", "3", "2")), before);
    assert_int_equal(rename(out, out1), 0);
    write_file(out, "a much longer new file than the first one\n", 42);
    json_int_t after = inode_of(read_ok(f, "/sandbox/stdout", "3", "2"));
    assert_true(after != before);
    assert_int_equal(inode_of(read_ok(f, "/sandbox/stdout.1", "0", NULL)), before);
    assert_int_equal(inode_of(read_ok(f, "/sandbox/stdout.1", NULL, NULL)), before);
    free(out);
    free(out1);
}

static void test_browse_dir(void **state)
{
    struct fixture *f = *state;
    char *dir = p(f, "/sandbox/");
    json_t *out = NULL;
    struct cr_err err;
    cr_err_clear(&err);
    assert_int_equal(cr_files_browse(f->root, dir, &out, &err), 0);
    free(dir);
    assert_true(json_is_array(out));
    assert_int_equal(json_array_size(out), 4);
    /* sorted by name: bad.bin, latest, stdout, sub */
    const char *names[] = {"bad.bin", "latest", "stdout", "sub"};
    const char *modes[] = {"-rw-r--r--", "lrwxrwxrwx", "-rw-r--r--", "drwxr-xr-x"};
    for (size_t i = 0; i < 4; i++) {
        json_t *e = json_array_get(out, i);
        char *want = cr_xasprintf("%s/sandbox/%s", f->root, names[i]);
        assert_string_equal(json_string_value(json_object_get(e, "path")), want);
        free(want);
        const char *mode = json_string_value(json_object_get(e, "mode"));
        assert_non_null(mode);
        assert_int_equal(mode[0], modes[i][0]);
        assert_true(json_is_integer(json_object_get(e, "size")));
        assert_true(json_is_integer(json_object_get(e, "mtime")));
        assert_true(json_is_integer(json_object_get(e, "nlink")));
        assert_true(json_is_string(json_object_get(e, "uid")));
        assert_true(json_is_string(json_object_get(e, "gid")));
        struct stat st;
        char *full = cr_xasprintf("%s/sandbox/%s", f->root, names[i]);
        assert_int_equal(lstat(full, &st), 0);
        free(full);
        assert_int_equal(json_integer_value(json_object_get(e, "inode")), (json_int_t)st.st_ino);
    }
    assert_int_equal(json_integer_value(json_object_get(json_array_get(out, 2), "size")), 12);
    json_decref(out);
}

static void test_browse_file_and_errors(void **state)
{
    struct fixture *f = *state;
    char *file = p(f, "/sandbox/stdout");
    json_t *out = NULL;
    assert_int_equal(cr_files_browse(f->root, file, &out, NULL), 0);
    assert_int_equal(json_array_size(out), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(out, 0), "path")), file);
    json_decref(out);
    free(file);
    out = NULL;
    assert_int_equal(cr_files_browse(f->root, "/etc", &out, NULL), -EPERM);
    assert_null(out);
    char *missing = p(f, "/nothing");
    assert_int_equal(cr_files_browse(f->root, missing, &out, NULL), -ENOENT);
    free(missing);
    assert_int_equal(cr_files_browse(f->root, "", &out, NULL), -EINVAL);
}

static void test_mode_string(void **state)
{
    (void)state;
    char buf[11];
    assert_string_equal(cr_files_mode_string(S_IFREG | 0644, buf), "-rw-r--r--");
    assert_string_equal(cr_files_mode_string(S_IFDIR | 0755, buf), "drwxr-xr-x");
    assert_string_equal(cr_files_mode_string(S_IFDIR | 01777, buf), "drwxrwxrwt");
    assert_string_equal(cr_files_mode_string(S_IFREG | 04755, buf), "-rwsr-xr-x");
    assert_string_equal(cr_files_mode_string(S_IFIFO | 0600, buf), "prw-------");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_resolve_confinement),
        cmocka_unit_test(test_http_status),
        T(test_read_semantics),
        T(test_read_utf8),
        T(test_read_errors),
        T(test_read_inode_tells_rotation),
        T(test_browse_dir),
        T(test_browse_file_and_errors),
        cmocka_unit_test(test_mode_string),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
