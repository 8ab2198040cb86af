/*
 * isolator.c - the registry of isolators by name. Adding an isolator = adding its ops
 * table to `registry` below.
 */
#include "isolate/isolator.h"

#include <stdio.h>
#include <string.h>

#include "isolate/posix.h"

static const struct cr_isolator_ops *const registry[] = {
    &cr_isolator_posix,
};

const struct cr_isolator_ops *cr_isolator_find(const char *name)
{
    for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++)
        if (strcmp(registry[i]->name, name) == 0)
            return registry[i];
    return NULL;
}

char *cr_isolator_names(char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]) && used < size; i++) {
        int n = snprintf(buf + used, size - used, "%s%s", i ? "," : "", registry[i]->name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return buf;
}
