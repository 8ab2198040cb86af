/*
 * container_spec.c - TaskInfo.container / limits -> launch settings (container_spec.h).
 */
#include "executor/container_spec.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

void cr_container_spec_ext_release(struct cr_container_spec_ext *s)
{
    cr_resources_release(&s->resources);
    free(s->hostname);
    for (size_t i = 0; i < s->nvolumes; i++) {
        free((char *)s->volumes[i].host_path);
        free((char *)s->volumes[i].container_path);
    }
    free(s->volumes);
    memset(s, 0, sizeof(*s));
}

static int string_field(const json_t *obj, const char *key, const char *path, const char **out,
                        struct cr_err *err)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return cr_err_set(err, -EINVAL, "%s.%s: expected a string", path, key);
    *out = json_string_value(v);
    return 1;
}

static int parse_volume(const json_t *v, const char *path, struct cr_volume *out,
                        struct cr_err *err)
{
    if (!json_is_object(v))
        return cr_err_set(err, -EINVAL, "%s: expected an object", path);
    const char *cp = NULL, *hp = NULL, *mode = NULL;
    int rc;
    if ((rc = string_field(v, "container_path", path, &cp, err)) < 0 ||
        (rc = string_field(v, "host_path", path, &hp, err)) < 0 ||
        (rc = string_field(v, "mode", path, &mode, err)) < 0)
        return rc;
    json_t *source = json_object_get(v, "source");
    if (source && !json_is_null(source))
        return cr_err_set(err, -EINVAL,
                          "%s.source: volume sources are not supported yet (use host_path)", path);
    if (json_object_get(v, "image") && !json_is_null(json_object_get(v, "image")))
        return cr_err_set(err, -EINVAL, "%s.image: image volumes are not supported yet", path);
    if (!cp || !*cp)
        return cr_err_set(err, -EINVAL, "%s.container_path: required", path);
    if (!hp || !*hp)
        return cr_err_set(err, -EINVAL, "%s.host_path: required", path);
    if (hp[0] != '/')
        return cr_err_set(err, -EINVAL, "%s.host_path: '%s' is not an absolute path", path, hp);
    if (strstr(cp, "..") && (strcmp(cp, "..") == 0 || strncmp(cp, "../", 3) == 0 ||
                             strstr(cp, "/../") || strstr(cp, "/..") == cp + strlen(cp) - 3))
        return cr_err_set(err, -EINVAL, "%s.container_path: '%s' must not contain '..'", path, cp);
    bool ro = false;
    if (mode && strcmp(mode, "RO") == 0)
        ro = true;
    else if (mode && strcmp(mode, "RW") != 0)
        return cr_err_set(err, -EINVAL, "%s.mode: '%s' is not RW or RO", path, mode);
    out->host_path = cr_xstrdup(hp);
    out->container_path = cr_xstrdup(cp);
    out->read_only = ro;
    return 0;
}

static int parse_container(const json_t *c, struct cr_container_spec_ext *out, struct cr_err *err)
{
    if (!json_is_object(c))
        return cr_err_set(err, -EINVAL, "container: expected an object");
    const char *type = NULL, *hostname = NULL;
    int rc;
    if ((rc = string_field(c, "type", "container", &type, err)) < 0 ||
        (rc = string_field(c, "hostname", "container", &hostname, err)) < 0)
        return rc;
    if (type && strcmp(type, "MESOS") != 0)
        return cr_err_set(err, -EINVAL,
                          "container.type: '%s' is not supported yet (only MESOS without an "
                          "image)",
                          type);
    json_t *mesos = json_object_get(c, "mesos");
    if (mesos && json_is_object(mesos) && json_object_get(mesos, "image"))
        return cr_err_set(err, -EINVAL, "container.mesos.image: images are not supported yet");
    if (json_object_get(c, "docker") && !json_is_null(json_object_get(c, "docker")))
        return cr_err_set(err, -EINVAL, "container.docker: images are not supported yet");
    if (hostname) {
        if (!*hostname || strlen(hostname) > 63)
            return cr_err_set(err, -EINVAL, "container.hostname: must be 1..63 bytes");
        free(out->hostname);
        out->hostname = cr_xstrdup(hostname);
    }
    json_t *nets = json_object_get(c, "network_infos");
    if (nets && !json_is_null(nets)) {
        if (!json_is_array(nets))
            return cr_err_set(err, -EINVAL, "container.network_infos: expected an array");
        if (json_array_size(nets) > 1)
            return cr_err_set(err, -EINVAL,
                              "container.network_infos: only one network is supported");
        if (json_array_size(nets) == 1) {
            const char *name = NULL;
            json_t *n0 = json_array_get(nets, 0);
            if (!json_is_object(n0))
                return cr_err_set(err, -EINVAL, "container.network_infos[0]: expected an object");
            if ((rc = string_field(n0, "name", "container.network_infos[0]", &name, err)) < 0)
                return rc;
            if (!name || strcmp(name, "host") == 0)
                out->network = "host";
            else if (strcmp(name, "none") == 0)
                out->network = "none";
            else
                return cr_err_set(err, -EINVAL,
                                  "container.network_infos[0].name: unknown network '%s' (host "
                                  "or none)",
                                  name);
        }
    }
    json_t *vols = json_object_get(c, "volumes");
    if (vols && !json_is_null(vols)) {
        if (!json_is_array(vols))
            return cr_err_set(err, -EINVAL, "container.volumes: expected an array");
        size_t n = json_array_size(vols);
        out->volumes = cr_xcalloc(n + 1, sizeof(*out->volumes));
        char path[64];
        for (size_t i = 0; i < n; i++) {
            snprintf(path, sizeof(path), "container.volumes[%zu]", i);
            if ((rc = parse_volume(json_array_get(vols, i), path, &out->volumes[i], err)) < 0)
                return rc;
            out->nvolumes = i + 1;
        }
    }
    return 0;
}

/* limits.<name>: a positive number (or {"value": n}) in the resource's unit, or 0 if absent. */
static int limit_milli(const json_t *limits, const char *name, int64_t *out, struct cr_err *err)
{
    *out = 0;
    json_t *v = json_object_get(limits, name);
    if (!v || json_is_null(v))
        return 0;
    if (json_is_object(v))
        v = json_object_get(v, "value");
    if (!json_is_number(v) || !(json_number_value(v) > 0) || !isfinite(json_number_value(v)))
        return cr_err_set(err, -EINVAL, "limits.%s: expected a positive number", name);
    *out = (int64_t)llround(json_number_value(v) * 1000.0);
    return 1;
}

int cr_container_spec_parse(const struct cr_task_info *info, struct cr_container_spec_ext *out,
                            struct cr_err *err)
{
    memset(out, 0, sizeof(*out));
    cr_resources_init(&out->resources);
    out->network = "host";
    const char *id = info->task_id ? info->task_id : "task";
    out->hostname = cr_xstrdup(id);
    if (strlen(out->hostname) > 63)
        out->hostname[63] = '\0';
    int64_t cpus = cr_resources_scalar(&info->resources, "cpus");
    int64_t mem = cr_resources_scalar(&info->resources, "mem");
    int rc = 0;
    const json_t *extra = info->extra;
    json_t *c = extra ? json_object_get(extra, "container") : NULL;
    if (c && !json_is_null(c) && (rc = parse_container(c, out, err)) < 0)
        goto fail;
    json_t *limits = extra ? json_object_get(extra, "limits") : NULL;
    if (limits && !json_is_null(limits)) {
        if (!json_is_object(limits)) {
            rc = cr_err_set(err, -EINVAL, "limits: expected an object");
            goto fail;
        }
        int64_t v = 0;
        if ((rc = limit_milli(limits, "cpus", &v, err)) < 0)
            goto fail;
        if (rc == 1) {
            out->cpu_hard_limit = true;
            cpus = v;
        }
        if ((rc = limit_milli(limits, "mem", &v, err)) < 0)
            goto fail;
        if (rc == 1 && v > mem)
            mem = v;
    }
    if ((cpus > 0 && cr_resources_add_scalar(&out->resources, "cpus", "*", cpus) < 0) ||
        (mem > 0 && cr_resources_add_scalar(&out->resources, "mem", "*", mem) < 0)) {
        rc = cr_err_set(err, -EINVAL, "resources: cpus or mem out of range");
        goto fail;
    }
    return 0;
fail:
    cr_container_spec_ext_release(out);
    return rc < 0 ? rc : -EINVAL;
}
