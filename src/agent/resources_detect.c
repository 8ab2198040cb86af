/*
 * resources_detect.c - machine probing and the agent's total resources (see
 * resources_detect.h). Called once at agent start.
 */
#include "agent/resources_detect.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/util.h"

#define MIB (1024ULL * 1024ULL)
#define GIB (1024ULL * MIB)
#define PORTS_BEGIN 31000
#define PORTS_END 32000

int cr_meminfo_parse(const char *text, uint64_t *mem_bytes, struct cr_err *err)
{
    const char *line = text;
    while (line && *line) {
        if (strncmp(line, "MemTotal:", 9) == 0) {
            const char *p = line + 9;
            while (*p == ' ' || *p == '\t')
                p++;
            char *end;
            errno = 0;
            unsigned long long kb = strtoull(p, &end, 10);
            if (end == p || errno != 0)
                return cr_err_set(err, -EINVAL, "meminfo: malformed MemTotal line");
            while (*end == ' ' || *end == '\t')
                end++;
            if (strncmp(end, "kB", 2) != 0)
                return cr_err_set(err, -EINVAL, "meminfo: MemTotal is not in kB");
            *mem_bytes = (uint64_t)kb * 1024ULL;
            return 0;
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return cr_err_set(err, -EINVAL, "meminfo: no MemTotal line");
}

int cr_agent_probe_machine(const char *work_dir, struct cr_machine_facts *out, struct cr_err *err)
{
    memset(out, 0, sizeof(*out));
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        out->cpus = CPU_COUNT(&set);
    if (out->cpus <= 0)
        out->cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (out->cpus <= 0)
        out->cpus = 1;

    char *text = NULL;
    size_t len = 0;
    int rc = cr_read_file("/proc/meminfo", &text, &len, err);
    if (rc < 0)
        return cr_err_wrap(err, "detect memory");
    rc = cr_meminfo_parse(text, &out->mem_bytes, err);
    free(text);
    if (rc < 0)
        return cr_err_wrap(err, "detect memory");

    struct statvfs vfs;
    if (statvfs(work_dir, &vfs) < 0)
        return cr_err_sys(err, -errno, "detect disk: statvfs '%s'", work_dir);
    out->disk_bytes = (uint64_t)vfs.f_blocks * (uint64_t)vfs.f_frsize;
    return 0;
}

/* Bytes to whole MB, as Mesos counts mem and disk. */
static int64_t milli_mb(uint64_t bytes)
{
    return (int64_t)(bytes / MIB) * 1000;
}

int cr_agent_compute_resources(const struct cr_machine_facts *facts, const char *override_text,
                               struct cr_resources *out, struct cr_err *err)
{
    cr_resources_release(out);
    cr_resources_init(out);
    struct cr_resources override;
    cr_resources_init(&override);
    if (override_text && *override_text) {
        int rc = cr_resources_parse(&override, override_text, CR_ROLE_ANY, err);
        if (rc < 0) {
            cr_resources_release(&override);
            return cr_err_wrap(err, "--resources");
        }
    }

    uint64_t mem = facts->mem_bytes >= 2 * GIB ? facts->mem_bytes - GIB : facts->mem_bytes / 2;
    uint64_t disk =
        facts->disk_bytes >= 10 * GIB ? facts->disk_bytes - 5 * GIB : facts->disk_bytes / 2;
    struct cr_range ports = {PORTS_BEGIN, PORTS_END};

    int rc = cr_resources_add(out, &override);
    bool has_cpus = false, has_mem = false, has_disk = false, has_ports = false;
    for (size_t i = 0; i < override.n; i++) {
        const char *name = override.v[i].name;
        has_cpus |= strcmp(name, "cpus") == 0;
        has_mem |= strcmp(name, "mem") == 0;
        has_disk |= strcmp(name, "disk") == 0;
        has_ports |= strcmp(name, "ports") == 0;
    }
    if (rc == 0 && !has_cpus)
        rc = cr_resources_add_scalar(out, "cpus", CR_ROLE_ANY, (int64_t)facts->cpus * 1000);
    if (rc == 0 && !has_mem)
        rc = cr_resources_add_scalar(out, "mem", CR_ROLE_ANY, milli_mb(mem));
    if (rc == 0 && !has_disk)
        rc = cr_resources_add_scalar(out, "disk", CR_ROLE_ANY, milli_mb(disk));
    if (rc == 0 && !has_ports)
        rc = cr_resources_add_ranges(out, "ports", CR_ROLE_ANY, &ports, 1);
    cr_resources_release(&override);
    if (rc < 0)
        return cr_err_set(err, rc, "compute agent resources: %s",
                          rc == -EINVAL ? "a resource has two types" : strerror(-rc));
    return 0;
}
