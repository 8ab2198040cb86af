/*
 * test_util.c - buffers, base64 (RFC 4648 vectors and random round trips), UUIDs,
 * clocks, and the file helpers on a scratch directory (mkdir -p, rm -rf that does not
 * follow symlinks, atomic writes that leave no temporary behind).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/util.h"

static void test_buf(void **state)
{
    (void)state;
    struct cr_buf b;
    cr_buf_init(&b);
    assert_null(b.data);
    for (int i = 0; i < 1000; i++)
        cr_buf_printf(&b, "%d,", i);
    cr_buf_puts(&b, "end");
    cr_buf_append(&b, "\0x", 2);
    assert_true(b.len > 3000);
    assert_int_equal(b.data[b.len], '\0');
    assert_memory_equal(b.data, "0,1,2,", 6);
    assert_memory_equal(b.data + b.len - 5, "end\0x", 5);
    size_t len;
    char *s = cr_buf_steal(&b, &len);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_true(len > 3000);
    free(s);
    s = cr_buf_steal(&b, &len); /* empty: still a string */
    assert_string_equal(s, "");
    assert_int_equal(len, 0);
    free(s);
    cr_buf_release(&b);
    cr_buf_release(NULL);

    char *a = cr_xasprintf("%s-%d", "x", 7);
    assert_string_equal(a, "x-7");
    free(a);
    assert_null(cr_xstrdup(NULL));
    char *p CR_AUTOFREE = cr_xstrdup("freed on scope exit");
    (void)p;
}

static void test_base64(void **state)
{
    (void)state;
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char *e = cr_base64_encode(plain[i], strlen(plain[i]));
        assert_string_equal(e, enc[i]);
        free(e);
        unsigned char *d;
        size_t n;
        assert_int_equal(cr_base64_decode(enc[i], strlen(enc[i]), &d, &n), 0);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(d, plain[i], n);
        free(d);
    }
    unsigned char *d;
    size_t n;
    assert_int_equal(cr_base64_decode("Zm9vYg", 6, &d, &n), 0); /* padding optional */
    assert_memory_equal(d, "foob", 4);
    free(d);
    static const char *const bad[] = {"Zg=", "Z", "Zm9v!", "Zm 9v", "Zh==", "Zm9=v", "====", NULL};
    for (int i = 0; bad[i]; i++) {
        if (cr_base64_decode(bad[i], strlen(bad[i]), &d, &n) != -EINVAL)
            fail_msg("'%s' should be rejected", bad[i]);
        assert_null(d);
    }
    unsigned char raw[300];
    for (size_t len = 0; len < sizeof(raw); len++) {
        cr_random_bytes(raw, len);
        char *e = cr_base64_encode(raw, len);
        assert_int_equal(strlen(e), (len + 2) / 3 * 4);
        assert_int_equal(cr_base64_decode(e, strlen(e), &d, &n), 0);
        assert_int_equal(n, len);
        assert_memory_equal(d, raw, len);
        free(d);
        free(e);
    }
}

static void test_uuid_and_clocks(void **state)
{
    (void)state;
    enum { N = 500 };
    char(*ids)[37] = calloc(N, 37);
    for (int i = 0; i < N; i++) {
        cr_uuid_text(ids[i]);
        assert_int_equal(strlen(ids[i]), 36);
        for (int j = 0; j < 36; j++) {
            char ch = ids[i][j];
            if (j == 8 || j == 13 || j == 18 || j == 23)
                assert_int_equal(ch, '-');
            else
                assert_non_null(strchr("0123456789abcdef", ch));
        }
        assert_int_equal(ids[i][14], '4');
        assert_non_null(strchr("89ab", ids[i][19]));
        for (int k = 0; k < i; k++)
            assert_string_not_equal(ids[i], ids[k]);
    }
    free(ids);
    int64_t t0 = cr_now_ms();
    usleep(20000);
    int64_t t1 = cr_now_ms();
    assert_true(t1 - t0 >= 19 && t1 - t0 < 2000);
    assert_true(cr_wall_seconds() > 1.6e9);
}

static char *scratch(void)
{
    char *dir = cr_xstrdup("/tmp/corral-util-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return dir;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    }
    closedir(d);
    return n;
}

static void test_files(void **state)
{
    (void)state;
    char *root = scratch();
    struct cr_err err;
    char *deep = cr_xasprintf("%s/a/b/c/", root);
    assert_int_equal(cr_mkdir_p(deep, 0755, &err), 0);
    assert_int_equal(cr_mkdir_p(deep, 0755, &err), 0); /* already there */
    struct stat st;
    assert_int_equal(stat(deep, &st), 0);
    assert_true(S_ISDIR(st.st_mode));

    char *file = cr_xasprintf("%s/a/b/state.json", root);
    assert_int_equal(cr_write_file_atomic(file, "{\"v\":1}", 7, &err), 0);
    assert_int_equal(cr_write_file_atomic(file, "{\"v\":22}", 8, &err), 0);
    char *text;
    size_t len;
    assert_int_equal(cr_read_file(file, &text, &len, &err), 0);
    assert_int_equal(len, 8);
    assert_string_equal(text, "{\"v\":22}");
    free(text);
    char *bdir = cr_xasprintf("%s/a/b", root);
    assert_int_equal(count_entries(bdir), 2); /* c/ and state.json: no temporaries left */
    free(bdir);

    /* A file where a directory should be. */
    char *blocked = cr_xasprintf("%s/a/b/state.json/x", root);
    assert_int_equal(cr_mkdir_p(blocked, 0755, &err), -ENOTDIR);
    assert_non_null(strstr(err.msg, "state.json"));
    free(blocked);

    /* Errors carry the path. */
    char *missing = cr_xasprintf("%s/nope/file", root);
    assert_int_equal(cr_read_file(missing, &text, &len, &err), -ENOENT);
    assert_null(text);
    assert_non_null(strstr(err.msg, "nope/file"));
    assert_int_equal(cr_write_file_atomic(missing, "x", 1, &err), -ENOENT);
    free(missing);

    /* Files that report size 0 are read anyway. */
    assert_int_equal(cr_read_file("/proc/self/status", &text, &len, &err), 0);
    assert_true(len > 0);
    assert_non_null(strstr(text, "Name:"));
    free(text);

    /* rm -rf removes a symlink, not what it points to. */
    char *outside = scratch();
    char *keep = cr_xasprintf("%s/keep", outside);
    assert_int_equal(cr_write_file_atomic(keep, "k", 1, &err), 0);
    char *link = cr_xasprintf("%s/a/link", root);
    assert_int_equal(symlink(outside, link), 0);
    assert_int_equal(cr_rm_rf(root, &err), 0);
    assert_int_equal(stat(root, &st), -1);
    assert_int_equal(stat(keep, &st), 0);
    assert_int_equal(cr_rm_rf(root, &err), 0); /* already gone: fine */
    assert_int_equal(cr_rm_rf("/", &err), -EPERM);
    assert_int_equal(cr_rm_rf(outside, &err), 0);

    free(keep);
    free(link);
    free(outside);
    free(file);
    free(deep);
    free(root);
}

static void test_user_lookup(void **state)
{
    (void)state;
    struct cr_err err;
    cr_err_clear(&err);
    unsigned uid = 9, gid = 9, groups[4];
    int n = 4;
    assert_int_equal(cr_user_lookup("#1000:100:5,6", &uid, &gid, groups, &n, &err), 0);
    assert_int_equal(uid, 1000);
    assert_int_equal(gid, 100);
    assert_int_equal(n, 2);
    assert_int_equal(groups[0], 5);
    assert_int_equal(groups[1], 6);
    n = 1; /* more groups than room: the first ones */
    assert_int_equal(cr_user_lookup("#1:2:3,4,5", &uid, &gid, groups, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(groups[0], 3);
    n = 4;
    assert_int_equal(cr_user_lookup("#7:8", &uid, &gid, groups, &n, &err), 0);
    assert_int_equal(n, 0);
    static const char *const bad[] = {"#", "#x:1", "#1", "#1:2:", "#1:2:3,", "#1:2x", "#1:2:3;4"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = 4;
        assert_int_equal(cr_user_lookup(bad[i], &uid, &gid, groups, &n, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "malformed resolved user"));
    }
    n = 4;
    assert_int_equal(cr_user_lookup("no-such-user-corral", &uid, &gid, groups, &n, &err), -ENOENT);
    assert_string_equal(err.msg, "user 'no-such-user-corral' does not exist");
    char *root = cr_user_resolve("root", &err);
    assert_non_null(root);
    assert_int_equal(strncmp(root, "#0:0", 4), 0);
    n = 4;
    assert_int_equal(cr_user_lookup(root, &uid, &gid, groups, &n, &err), 0);
    assert_int_equal(uid, 0);
    free(root);
    assert_null(cr_user_resolve("no-such-user-corral", &err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_uuid_and_clocks),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_user_lookup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
