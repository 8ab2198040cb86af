/*
 * filesystem.c - the "filesystem" isolator (see filesystem.h): validates volumes and
 * prepares their mount points before the fork, and describes the binds in the launch
 * info for the child. Stateless.
 */
#include "isolate/filesystem.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/util.h"

/* A relative container path may not climb out of the sandbox. */
static bool relative_ok(const char *path)
{
    if (!*path)
        return false;
    for (const char *p = path; *p;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return false;
        if (!slash)
            break;
        p = slash + 1;
    }
    /* "." or "./" alone would cover the sandbox itself */
    return strcmp(path, ".") != 0 && strcmp(path, "./") != 0;
}

/* Create target (a directory, or an empty file when is_dir is false) and its parents. */
static int make_target(const char *target, bool is_dir, struct cr_err *err)
{
    if (is_dir)
        return cr_mkdir_p(target, 0755, err);
    char *parent CR_AUTOFREE = cr_xstrdup(target);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
        int rc = cr_mkdir_p(parent, 0755, err);
        if (rc < 0)
            return rc;
    }
    int fd = open(target, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return cr_err_sys(err, -errno, "create '%s'", target);
    close(fd);
    return 0;
}

/* The per-mount flags of the mount holding path, as mount(2) flags for a remount. */
static unsigned long mount_flags_of(const char *path)
{
    struct statvfs sv;
    if (statvfs(path, &sv) < 0)
        return 0;
    unsigned long f = 0;
    if (sv.f_flag & ST_NOSUID)
        f |= MS_NOSUID;
    if (sv.f_flag & ST_NODEV)
        f |= MS_NODEV;
    if (sv.f_flag & ST_NOEXEC)
        f |= MS_NOEXEC;
    if (sv.f_flag & ST_NOATIME)
        f |= MS_NOATIME;
    if (sv.f_flag & ST_NODIRATIME)
        f |= MS_NODIRATIME;
    if (sv.f_flag & ST_RELATIME)
        f |= MS_RELATIME;
    return f;
}

static int add_volume(const struct cr_container_config *cfg, const struct cr_volume *v,
                      struct cr_launch_info *launch, struct cr_err *err)
{
    if (!v->host_path || v->host_path[0] != '/')
        return cr_err_set(err, -EINVAL, "volume host path '%s' is not absolute",
                          v->host_path ? v->host_path : "(null)");
    struct stat st;
    if (stat(v->host_path, &st) < 0) {
        if (errno == ENOENT)
            return cr_err_set(err, -ENOENT, "volume host path '%s' does not exist", v->host_path);
        return cr_err_sys(err, -errno, "volume host path '%s'", v->host_path);
    }
    const char *cpath = v->container_path;
    if (!cpath || !*cpath)
        return cr_err_set(err, -EINVAL, "volume '%s' has no container path", v->host_path);
    char *target CR_AUTOFREE = NULL;
    if (cpath[0] == '/') {
        struct stat tst;
        if (stat(cpath, &tst) < 0) {
            if (errno == ENOENT)
                return cr_err_set(err, -ENOENT, "volume container path '%s' does not exist", cpath);
            return cr_err_sys(err, -errno, "volume container path '%s'", cpath);
        }
        target = cr_xstrdup(cpath);
    } else {
        if (!relative_ok(cpath))
            return cr_err_set(err, -EINVAL, "volume container path '%s' leaves the sandbox", cpath);
        target = cr_xasprintf("%s/%s", cfg->sandbox, cpath);
        int rc = make_target(target, S_ISDIR(st.st_mode), err);
        if (rc < 0)
            return cr_err_wrap(err, "volume container path '%s'", cpath);
    }
    char *what CR_AUTOFREE = cr_xasprintf("bind volume '%s' on '%s'%s", v->host_path, target,
                                          v->read_only ? " read-only" : "");
    /* A read-only bind is not recursive: a writable submount would show through. */
    cr_launch_info_add_mount(launch, v->host_path, target, NULL,
                             MS_BIND | (v->read_only ? 0 : MS_REC), what);
    if (v->read_only)
        cr_launch_info_add_mount(launch, NULL, target, NULL,
                                 MS_REMOUNT | MS_BIND | MS_RDONLY | mount_flags_of(v->host_path),
                                 what);
    return 0;
}

static int private_tmp(const struct cr_container_config *cfg, struct cr_launch_info *launch,
                       struct cr_err *err)
{
    char *tmp CR_AUTOFREE = cr_xasprintf("%s/tmp", cfg->sandbox);
    if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
        return cr_err_sys(err, -errno, "create private /tmp '%s'", tmp);
    /* Never follow a link the task may have left in its sandbox. */
    int fd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return cr_err_sys(err, -errno, "open private /tmp '%s'", tmp);
    int rc = fchmod(fd, 01777) < 0 ? -errno : 0;
    close(fd);
    if (rc < 0)
        return cr_err_sys(err, rc, "chmod private /tmp '%s'", tmp);
    /*
     * A sandbox under /tmp (a work dir there) would vanish behind the private /tmp: bind
     * it, with its volumes, at its own path inside the new /tmp first, so the task's
     * working dir and every path in its environment keep working.
     */
    if (strncmp(cfg->sandbox, "/tmp/", 5) == 0) {
        char *inner CR_AUTOFREE = cr_xasprintf("%s/%s", tmp, cfg->sandbox + 5);
        rc = cr_mkdir_p(inner, 0755, err);
        if (rc < 0)
            return cr_err_wrap(err, "keep the sandbox visible under the private /tmp");
        char *what CR_AUTOFREE = cr_xasprintf("bind the sandbox on '%s'", inner);
        cr_launch_info_add_mount(launch, cfg->sandbox, inner, NULL, MS_BIND | MS_REC, what);
    }
    char *what CR_AUTOFREE = cr_xasprintf("bind private /tmp '%s' on '/tmp'", tmp);
    cr_launch_info_add_mount(launch, tmp, "/tmp", NULL, MS_BIND | MS_REC, what);
    return 0;
}

static int fs_prepare(void *state, const struct cr_container_config *cfg,
                      struct cr_launch_info *launch, struct cr_err *err)
{
    (void)state;
    if (!cfg->sandbox || cfg->sandbox[0] != '/')
        return cr_err_set(err, -EINVAL, "sandbox '%s' is not absolute",
                          cfg->sandbox ? cfg->sandbox : "(null)");
    for (size_t i = 0; i < cfg->nvolumes; i++) {
        int rc = add_volume(cfg, &cfg->volumes[i], launch, err);
        if (rc < 0)
            return rc;
    }
    return private_tmp(cfg, launch, err);
}

const struct cr_isolator_ops cr_isolator_filesystem = {
    .name = "filesystem",
    .requires = "namespaces",
    .prepare = fs_prepare,
};
