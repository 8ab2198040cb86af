/*
 * mesos_resources.c - JSON codecs for Resource and Attribute lists, the legacy flattened
 * forms of /master/state, and the agent's attribute text ("rack:r1;zone:a;cores:8").
 *
 * Resources: the effective role of an input resource is the role of its last
 * reservation (post-refinement format), else its deprecated "role", else "*";
 * allocation_info and the legacy "reservation" are type-checked and otherwise ignored
 * (the master knows the allocation). Output follows API-COMPAT.md §1.6: "role" for
 * frameworks without RESERVATION_REFINEMENT, "reservations" (reserved resources only)
 * for those with it, allocation_info when the caller names the allocation role.
 *
 * Attributes keep their value as Mesos' text form (scalar "8", ranges "[1-2, 5-6]",
 * set "{a, b}", text as is) and are re-parsed from it when encoded.
 */
#include "api/mesos.h"
#include "api/mesos_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* Mesos' Value.Type names, indexed by proto number. */
static const char *const VALUE_TYPES[] = {"SCALAR", "RANGES", "SET", "TEXT"};
enum { VT_SCALAR = 0, VT_RANGES = 1, VT_SET = 2, VT_TEXT = 3 };

static const char *const RESERVATION_TYPES[] = {"UNKNOWN", "STATIC", "DYNAMIC"};

/* Largest scalar accepted: keeps thousandths far from int64 overflow. */
#define SCALAR_MAX 1e15

/* ---------------------------------------------------------------- resources: input */

/* The effective role of resource r at path p (owned copy in *role). */
static int resource_role(const json_t *r, const char *p, char **role, struct cr_err *err)
{
    struct cr_err verr;
    char ep[CR_MJ_PATH_MAX];
    const char *legacy = NULL;
    int rc = cr_mj_string(r, "role", p, &legacy, err);
    if (rc < 0)
        return rc;
    if (legacy && cr_validate_role(legacy, &verr) < 0)
        return cr_mj_err(err, p, "role", "%s", verr.msg);

    json_t *reservations = NULL;
    rc = cr_mj_array(r, "reservations", p, &reservations, err);
    if (rc < 0)
        return rc;
    const char *effective = NULL;
    size_t n = reservations ? json_array_size(reservations) : 0;
    char rp[CR_MJ_PATH_MAX];
    cr_mj_path(rp, sizeof(rp), p, "reservations");
    for (size_t i = 0; i < n; i++) {
        json_t *res = json_array_get(reservations, i);
        cr_mj_path_index(ep, sizeof(ep), rp, i);
        if (!json_is_object(res))
            return cr_mj_type_err(err, ep, NULL, "an object", res);
        int type = 0;
        if ((rc = cr_mj_enum(res, "type", ep, RESERVATION_TYPES, 3, &type, NULL, err)) < 0)
            return rc;
        const char *rrole = NULL;
        if ((rc = cr_mj_required_string(res, "role", ep, &rrole, err)) < 0)
            return rc;
        if (cr_validate_role(rrole, &verr) < 0)
            return cr_mj_err(err, ep, "role", "%s", verr.msg);
        if (strcmp(rrole, CR_ROLE_ANY) == 0)
            return cr_mj_err(err, ep, "role", "cannot reserve to role '*'");
        const char *principal = NULL;
        if ((rc = cr_mj_string(res, "principal", ep, &principal, err)) < 0)
            return rc;
        effective = rrole;
    }
    if (effective && legacy && strcmp(legacy, CR_ROLE_ANY) != 0 && strcmp(legacy, effective) != 0)
        return cr_mj_err(err, p, "role", "'%s' conflicts with the reservations (role '%s')", legacy,
                         effective);
    *role = cr_xstrdup(effective ? effective : legacy ? legacy : CR_ROLE_ANY);
    return 0;
}

static int resource_scalar(const json_t *r, const char *p, const char *name, const char *role,
                           struct cr_resources *out, struct cr_err *err)
{
    json_t *scalar = NULL;
    int rc = cr_mj_object(r, "scalar", p, &scalar, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return cr_mj_err(err, p, "scalar", "required for type SCALAR");
    char sp[CR_MJ_PATH_MAX];
    cr_mj_path(sp, sizeof(sp), p, "scalar");
    double value = 0;
    if ((rc = cr_mj_double(scalar, "value", sp, &value, err)) < 0)
        return rc;
    if (rc == 0)
        return cr_mj_missing(err, sp, "value");
    if (!isfinite(value) || value > SCALAR_MAX)
        return cr_mj_err(err, sp, "value", "%g is out of range", value);
    if (value < 0)
        return cr_mj_err(err, sp, "value", "must not be negative");
    int64_t milli = cr_milli_from_double(value);
    if (strcmp(name, "gpus") == 0 && milli % 1000 != 0)
        return cr_mj_err(err, sp, "value", "gpus must be a whole number");
    if (milli == 0)
        return 0;
    if (cr_resources_add_scalar(out, name, role, milli) < 0)
        return cr_mj_err(err, p, NULL, "'%s' appears with two different types", name);
    return 0;
}

static int resource_ranges(const json_t *r, const char *p, const char *name, const char *role,
                           struct cr_resources *out, struct cr_err *err)
{
    json_t *ranges = NULL;
    int rc = cr_mj_object(r, "ranges", p, &ranges, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return cr_mj_err(err, p, "ranges", "required for type RANGES");
    char rp[CR_MJ_PATH_MAX], ap[CR_MJ_PATH_MAX], ep[CR_MJ_PATH_MAX];
    cr_mj_path(rp, sizeof(rp), p, "ranges");
    json_t *arr = NULL;
    if ((rc = cr_mj_array(ranges, "range", rp, &arr, err)) < 0)
        return rc;
    size_t n = arr ? json_array_size(arr) : 0;
    if (n == 0)
        return 0;
    cr_mj_path(ap, sizeof(ap), rp, "range");
    struct cr_range *v = cr_xcalloc(n, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        cr_mj_path_index(ep, sizeof(ep), ap, i);
        int64_t begin = 0, end = 0;
        if (!json_is_object(e)) {
            rc = cr_mj_type_err(err, ep, NULL, "an object", e);
        } else if ((rc = cr_mj_int64(e, "begin", ep, &begin, err)) == 0) {
            rc = cr_mj_missing(err, ep, "begin");
        } else if (rc > 0 && (rc = cr_mj_int64(e, "end", ep, &end, err)) == 0) {
            rc = cr_mj_missing(err, ep, "end");
        } else if (rc > 0 && (begin < 0 || end < 0)) {
            rc = cr_mj_err(err, ep, NULL, "range bounds must not be negative");
        } else if (rc > 0 && begin > end) {
            rc = cr_mj_err(err, ep, NULL, "begin %lld is greater than end %lld", (long long)begin,
                           (long long)end);
        }
        if (rc < 0) {
            free(v);
            return rc;
        }
        v[i].begin = (uint64_t)begin;
        v[i].end = (uint64_t)end;
    }
    rc = cr_resources_add_ranges(out, name, role, v, n);
    free(v);
    if (rc < 0)
        return cr_mj_err(err, p, NULL, "'%s' appears with two different types", name);
    return 0;
}

static int resource_set(const json_t *r, const char *p, const char *name, const char *role,
                        struct cr_resources *out, struct cr_err *err)
{
    json_t *set = NULL;
    int rc = cr_mj_object(r, "set", p, &set, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return cr_mj_err(err, p, "set", "required for type SET");
    char sp[CR_MJ_PATH_MAX];
    cr_mj_path(sp, sizeof(sp), p, "set");
    char **items = NULL;
    size_t n = 0;
    if ((rc = cr_mj_string_array(set, "item", sp, &items, &n, err)) < 0)
        return rc;
    rc = n ? cr_resources_add_set(out, name, role, (const char *const *)items, n) : 0;
    cr_mj_strv_free(items, n);
    if (rc < 0)
        return cr_mj_err(err, p, NULL, "'%s' appears with two different types", name);
    return 0;
}

static int parse_resource(const json_t *r, const char *p, struct cr_resources *out,
                          struct cr_err *err)
{
    if (!json_is_object(r))
        return cr_mj_type_err(err, p, NULL, "an object", r);
    const char *name = NULL;
    int rc = cr_mj_required_string(r, "name", p, &name, err);
    if (rc < 0)
        return rc;
    if (!name[0])
        return cr_mj_err(err, p, "name", "must not be empty");

    int type = -1;
    if ((rc = cr_mj_required_enum(r, "type", p, VALUE_TYPES, 4, "value type", &type, err)) < 0)
        return rc;
    if (type == VT_TEXT)
        return cr_mj_err(err, p, "type", "TEXT is not a valid resource type");

    json_t *alloc = NULL;
    if ((rc = cr_mj_object(r, "allocation_info", p, &alloc, err)) < 0)
        return rc;
    if (alloc) {
        char ap[CR_MJ_PATH_MAX];
        cr_mj_path(ap, sizeof(ap), p, "allocation_info");
        const char *arole = NULL;
        struct cr_err verr;
        if ((rc = cr_mj_string(alloc, "role", ap, &arole, err)) < 0)
            return rc;
        if (arole && cr_validate_role(arole, &verr) < 0)
            return cr_mj_err(err, ap, "role", "%s", verr.msg);
    }
    json_t *legacy = NULL;
    if ((rc = cr_mj_object(r, "reservation", p, &legacy, err)) < 0)
        return rc;

    char *role = NULL;
    if ((rc = resource_role(r, p, &role, err)) < 0)
        return rc;
    if (type == VT_SCALAR)
        rc = resource_scalar(r, p, name, role, out, err);
    else if (type == VT_RANGES)
        rc = resource_ranges(r, p, name, role, out, err);
    else
        rc = resource_set(r, p, name, role, out, err);
    free(role);
    return rc;
}

int cr_parse_resources(const json_t *array, const char *path, struct cr_resources *out,
                       struct cr_err *err)
{
    if (!array || json_is_null(array))
        return 0;
    if (!json_is_array(array))
        return cr_mj_type_err(err, path, NULL, "an array", array);
    char p[CR_MJ_PATH_MAX];
    size_t i;
    json_t *r;
    json_array_foreach(array, i, r)
    {
        cr_mj_path_index(p, sizeof(p), path, i);
        int rc = parse_resource(r, p, out, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---------------------------------------------------------------- resources: output */

static json_t *ranges_json(const struct cr_range *v, size_t n)
{
    json_t *arr = cr_mj_array_new();
    for (size_t i = 0; i < n; i++) {
        json_t *e = cr_mj_object_new();
        cr_mj_set(e, "begin", cr_mj_int((int64_t)v[i].begin));
        cr_mj_set(e, "end", cr_mj_int((int64_t)v[i].end));
        cr_mj_append(arr, e);
    }
    json_t *o = cr_mj_object_new();
    cr_mj_set(o, "range", arr);
    return o;
}

static json_t *set_json(char *const *items, size_t n)
{
    json_t *arr = cr_mj_array_new();
    for (size_t i = 0; i < n; i++)
        cr_mj_append(arr, cr_mj_str(items[i]));
    json_t *o = cr_mj_object_new();
    cr_mj_set(o, "item", arr);
    return o;
}

static json_t *scalar_json(double value)
{
    json_t *o = cr_mj_object_new();
    cr_mj_set(o, "value", cr_mj_real(value));
    return o;
}

json_t *cr_json_resources(const struct cr_resources *rs, const struct cr_res_style *style)
{
    json_t *arr = cr_mj_array_new();
    if (!rs)
        return arr;
    for (size_t i = 0; i < rs->n; i++) {
        const struct cr_resource *r = &rs->v[i];
        const char *role = r->role ? r->role : CR_ROLE_ANY;
        json_t *o = cr_mj_object_new();
        cr_mj_set(o, "name", cr_mj_str(r->name));
        switch (r->type) {
        case CR_RES_SCALAR:
            cr_mj_set(o, "type", cr_mj_str("SCALAR"));
            cr_mj_set(o, "scalar", scalar_json(cr_milli_to_double(r->scalar)));
            break;
        case CR_RES_RANGES:
            cr_mj_set(o, "type", cr_mj_str("RANGES"));
            cr_mj_set(o, "ranges", ranges_json(r->ranges, r->nranges));
            break;
        case CR_RES_SET:
            cr_mj_set(o, "type", cr_mj_str("SET"));
            cr_mj_set(o, "set", set_json(r->items, r->nitems));
            break;
        }
        if (!style || !style->refinement) {
            cr_mj_set(o, "role", cr_mj_str(role));
        } else if (strcmp(role, CR_ROLE_ANY) != 0) {
            json_t *res = cr_mj_object_new();
            cr_mj_set(res, "type", cr_mj_str("STATIC"));
            cr_mj_set(res, "role", cr_mj_str(role));
            json_t *list = cr_mj_array_new();
            cr_mj_append(list, res);
            cr_mj_set(o, "reservations", list);
        }
        if (style && style->allocation_role) {
            json_t *ai = cr_mj_object_new();
            cr_mj_set(ai, "role", cr_mj_str(style->allocation_role));
            cr_mj_set(o, "allocation_info", ai);
        }
        cr_mj_append(arr, o);
    }
    return arr;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A copy of obj with its keys in byte order (stout's JSON::Object is a std::map). */
static json_t *sorted_object(json_t *obj)
{
    size_t n = json_object_size(obj), i = 0;
    const char **keys = cr_xcalloc(n ? n : 1, sizeof(*keys));
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) keys[i++] = k;
    qsort(keys, n, sizeof(*keys), cmp_str);
    json_t *out = cr_mj_object_new();
    for (i = 0; i < n; i++)
        cr_mj_set(out, keys[i], json_incref(json_object_get(obj, keys[i])));
    free(keys);
    json_decref(obj);
    return out;
}

/* "{a, b}" (Mesos' Value::Set text form). */
static char *set_text(char *const *items, size_t n)
{
    struct cr_buf b;
    cr_buf_init(&b);
    cr_buf_puts(&b, "{");
    for (size_t i = 0; i < n; i++)
        cr_buf_printf(&b, "%s%s", i ? ", " : "", items[i]);
    cr_buf_puts(&b, "}");
    size_t len = 0;
    return cr_buf_steal(&b, &len);
}

/* "[a-b, c-d]" (Mesos' Value::Ranges text form). */
static char *ranges_text(const struct cr_range *v, size_t n)
{
    struct cr_buf b;
    cr_buf_init(&b);
    cr_buf_puts(&b, "[");
    for (size_t i = 0; i < n; i++)
        cr_buf_printf(&b, "%s%llu-%llu", i ? ", " : "", (unsigned long long)v[i].begin,
                      (unsigned long long)v[i].end);
    cr_buf_puts(&b, "]");
    size_t len = 0;
    return cr_buf_steal(&b, &len);
}

json_t *cr_json_resources_flat(const struct cr_resources *rs)
{
    /* Merge every role first: the legacy form has one value per name. */
    struct cr_resources merged;
    cr_resources_init(&merged);
    for (size_t i = 0; rs && i < rs->n; i++) {
        const struct cr_resource *r = &rs->v[i];
        int rc = 0;
        if (r->type == CR_RES_SCALAR)
            rc = cr_resources_add_scalar(&merged, r->name, CR_ROLE_ANY, r->scalar);
        else if (r->type == CR_RES_RANGES)
            rc = cr_resources_add_ranges(&merged, r->name, CR_ROLE_ANY, r->ranges, r->nranges);
        else
            rc = cr_resources_add_set(&merged, r->name, CR_ROLE_ANY, (const char *const *)r->items,
                                      r->nitems);
        (void)rc; /* a type clash across roles keeps the first type's value */
    }
    json_t *o = cr_mj_object_new();
    static const char *const always[] = {"cpus", "gpus", "mem", "disk"};
    for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++)
        cr_mj_set(o, always[i], cr_mj_real(0.0));
    for (size_t i = 0; i < merged.n; i++) {
        const struct cr_resource *r = &merged.v[i];
        if (r->type == CR_RES_SCALAR) {
            cr_mj_set(o, r->name, cr_mj_real(cr_milli_to_double(r->scalar)));
        } else {
            char *text = r->type == CR_RES_RANGES ? ranges_text(r->ranges, r->nranges)
                                                  : set_text(r->items, r->nitems);
            cr_mj_set(o, r->name, cr_mj_str(text));
            free(text);
        }
    }
    cr_resources_release(&merged);
    return sorted_object(o);
}

/* ---------------------------------------------------------------- attribute text forms */

static void skip_spaces(const char **p)
{
    while (isspace((unsigned char)**p))
        (*p)++;
}

/* Parse "[a-b, c-d]" (spaces optional). *out owned. */
static int parse_ranges_text(const char *s, struct cr_range **out, size_t *n)
{
    const char *p = s;
    size_t cap = 0, len = 0;
    struct cr_range *v = NULL;
    skip_spaces(&p);
    if (*p++ != '[')
        return -EINVAL;
    skip_spaces(&p);
    if (*p == ']') {
        p++;
        goto done;
    }
    for (;;) {
        uint64_t bounds[2];
        for (int k = 0; k < 2; k++) {
            skip_spaces(&p);
            if (!isdigit((unsigned char)*p))
                goto fail;
            char *end = NULL;
            errno = 0;
            unsigned long long x = strtoull(p, &end, 10);
            if (errno == ERANGE)
                goto fail;
            bounds[k] = x;
            p = end;
            skip_spaces(&p);
            if (k == 0 && *p++ != '-')
                goto fail;
        }
        if (bounds[0] > bounds[1])
            goto fail;
        if (len == cap) {
            cap = cap ? cap * 2 : 4;
            v = cr_xrealloc(v, cap * sizeof(*v));
        }
        v[len].begin = bounds[0];
        v[len].end = bounds[1];
        len++;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p++ != ']')
            goto fail;
        break;
    }
done:
    skip_spaces(&p);
    if (*p)
        goto fail;
    *out = v;
    *n = len;
    return 0;
fail:
    free(v);
    return -EINVAL;
}

/* Parse "{a, b}" into trimmed items. *out owned. */
static int parse_set_text(const char *s, char ***out, size_t *n)
{
    const char *p = s;
    skip_spaces(&p);
    if (*p++ != '{')
        return -EINVAL;
    const char *close = strrchr(p, '}');
    if (!close)
        return -EINVAL;
    for (const char *q = close + 1; *q; q++)
        if (!isspace((unsigned char)*q))
            return -EINVAL;
    char **v = NULL;
    size_t len = 0;
    while (p < close) {
        const char *comma = memchr(p, ',', (size_t)(close - p));
        const char *end = comma ? comma : close;
        const char *b = p, *e = end;
        while (b < e && isspace((unsigned char)*b))
            b++;
        while (e > b && isspace((unsigned char)e[-1]))
            e--;
        if (e > b) {
            v = cr_xrealloc(v, (len + 1) * sizeof(*v));
            v[len] = cr_xmalloc((size_t)(e - b) + 1);
            memcpy(v[len], b, (size_t)(e - b));
            v[len][e - b] = '\0';
            len++;
        }
        p = comma ? comma + 1 : close;
    }
    *out = v;
    *n = len;
    return 0;
}

/* Whether s is a plain decimal number (no hex, inf or nan) and its value. */
static bool parse_scalar_text(const char *s, double *out)
{
    if (!s[0])
        return false;
    bool digit = false;
    for (const char *p = s; *p; p++) {
        if (isdigit((unsigned char)*p))
            digit = true;
        else if (!strchr("+-.eE", *p))
            return false;
    }
    if (!digit)
        return false;
    char *end = NULL;
    double d = strtod(s, &end);
    if (*end || !isfinite(d))
        return false;
    *out = d;
    return true;
}

/* Shortest faithful text of a scalar ("8", "1.5"). */
static char *scalar_text(double d)
{
    return cr_xasprintf("%.15g", d);
}

/* ---------------------------------------------------------------- attributes */

void cr_attributes_init(struct cr_attributes *a)
{
    a->v = NULL;
    a->n = 0;
}

void cr_attributes_release(struct cr_attributes *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++) {
        free(a->v[i].name);
        free(a->v[i].text);
    }
    free(a->v);
    a->v = NULL;
    a->n = 0;
}

/* Append (takes ownership of name and text). */
static void attributes_push(struct cr_attributes *a, char *name, char *text, int type)
{
    a->v = cr_xrealloc(a->v, (a->n + 1) * sizeof(*a->v));
    a->v[a->n].name = name;
    a->v[a->n].text = text;
    a->v[a->n].type = type;
    a->n++;
}

int cr_attributes_copy(struct cr_attributes *dst, const struct cr_attributes *src)
{
    cr_attributes_release(dst);
    for (size_t i = 0; src && i < src->n; i++)
        attributes_push(dst, cr_xstrdup(src->v[i].name), cr_xstrdup(src->v[i].text),
                        src->v[i].type);
    return 0;
}

/* Classify and normalize one attribute value text. *text owned. */
static int classify_value(const char *value, char **text, int *type)
{
    double d;
    if (value[0] == '[') {
        struct cr_range *v = NULL;
        size_t n = 0;
        if (parse_ranges_text(value, &v, &n) < 0)
            return -EINVAL;
        *text = ranges_text(v, n);
        *type = CR_ATTR_RANGES;
        free(v);
    } else if (value[0] == '{') {
        char **items = NULL;
        size_t n = 0;
        if (parse_set_text(value, &items, &n) < 0)
            return -EINVAL;
        *text = set_text(items, n);
        *type = CR_ATTR_SET;
        cr_mj_strv_free(items, n);
    } else if (parse_scalar_text(value, &d)) {
        *text = scalar_text(d);
        *type = CR_ATTR_SCALAR;
    } else {
        *text = cr_xstrdup(value);
        *type = CR_ATTR_TEXT;
    }
    return 0;
}

/* A trimmed copy of [b, e). */
static char *trimmed(const char *b, const char *e)
{
    while (b < e && isspace((unsigned char)*b))
        b++;
    while (e > b && isspace((unsigned char)e[-1]))
        e--;
    char *s = cr_xmalloc((size_t)(e - b) + 1);
    memcpy(s, b, (size_t)(e - b));
    s[e - b] = '\0';
    return s;
}

int cr_attributes_parse_text(struct cr_attributes *out, const char *text, struct cr_err *err)
{
    const char *p = text ? text : "";
    size_t before = out->n;
    while (*p) {
        const char *end = strchr(p, ';');
        if (!end)
            end = p + strlen(p);
        char *entry = trimmed(p, end);
        p = *end ? end + 1 : end;
        if (!entry[0]) {
            free(entry);
            continue;
        }
        char *colon = strchr(entry, ':');
        if (!colon) {
            cr_err_set(err, -EINVAL, "attribute '%s': expected name:value", entry);
            free(entry);
            goto fail;
        }
        char *name = trimmed(entry, colon);
        char *value = trimmed(colon + 1, colon + 1 + strlen(colon + 1));
        char *norm = NULL;
        int type = CR_ATTR_TEXT;
        int rc = 0;
        if (!name[0])
            rc = cr_err_set(err, -EINVAL, "attribute '%s': the name is empty", entry);
        else if (!value[0])
            rc = cr_err_set(err, -EINVAL, "attribute '%s': the value is empty", entry);
        else if (classify_value(value, &norm, &type) < 0)
            rc = cr_err_set(err, -EINVAL, "attribute '%s': malformed %s value '%s'", name,
                            value[0] == '[' ? "ranges" : "set", value);
        free(entry);
        free(value);
        if (rc < 0) {
            free(name);
            goto fail;
        }
        attributes_push(out, name, norm, type);
    }
    return 0;
fail:
    /* Leave out as it was before the call. */
    for (size_t i = before; i < out->n; i++) {
        free(out->v[i].name);
        free(out->v[i].text);
    }
    out->n = before;
    return -EINVAL;
}

/* One JSON Attribute into its text form. */
static int parse_attribute(const json_t *a, const char *p, char **name_out, char **text_out,
                           int *type_out, struct cr_err *err)
{
    if (!json_is_object(a))
        return cr_mj_type_err(err, p, NULL, "an object", a);
    const char *name = NULL;
    int vt = -1;
    int rc;
    if ((rc = cr_mj_required_string(a, "name", p, &name, err)) < 0 ||
        (rc = cr_mj_required_enum(a, "type", p, VALUE_TYPES, 4, "value type", &vt, err)) < 0)
        return rc;

    static const char *const field[] = {"scalar", "ranges", "set", "text"};
    json_t *body = NULL;
    if ((rc = cr_mj_object(a, field[vt], p, &body, err)) < 0)
        return rc;
    if (rc == 0)
        return cr_mj_err(err, p, field[vt], "required for type %s", VALUE_TYPES[vt]);
    char bp[CR_MJ_PATH_MAX];
    cr_mj_path(bp, sizeof(bp), p, field[vt]);
    char *text = NULL;
    int type = CR_ATTR_TEXT;
    if (vt == VT_SCALAR) {
        double d = 0;
        if ((rc = cr_mj_double(body, "value", bp, &d, err)) < 0)
            return rc;
        if (rc == 0)
            return cr_mj_missing(err, bp, "value");
        if (!isfinite(d))
            return cr_mj_err(err, bp, "value", "must be finite");
        text = scalar_text(d);
        type = CR_ATTR_SCALAR;
    } else if (vt == VT_RANGES) {
        /* Reuse the resource range reader through a scratch resource list. */
        struct cr_resources tmp;
        cr_resources_init(&tmp);
        json_t *scratch = json_pack("{s:O}", "ranges", body);
        if (!scratch)
            abort();
        rc = resource_ranges(scratch, p, "r", CR_ROLE_ANY, &tmp, err);
        json_decref(scratch);
        if (rc < 0) {
            cr_resources_release(&tmp);
            return rc;
        }
        const struct cr_resource *r = cr_resources_find(&tmp, "r", CR_ROLE_ANY);
        text = r ? ranges_text(r->ranges, r->nranges) : cr_xstrdup("[]");
        type = CR_ATTR_RANGES;
        cr_resources_release(&tmp);
    } else if (vt == VT_SET) {
        char **items = NULL;
        size_t n = 0;
        if ((rc = cr_mj_string_array(body, "item", bp, &items, &n, err)) < 0)
            return rc;
        text = set_text(items, n);
        type = CR_ATTR_SET;
        cr_mj_strv_free(items, n);
    } else {
        const char *value = NULL;
        if ((rc = cr_mj_required_string(body, "value", bp, &value, err)) < 0)
            return rc;
        text = cr_xstrdup(value);
    }
    *name_out = cr_xstrdup(name);
    *text_out = text;
    *type_out = type;
    return 0;
}

int cr_parse_attributes(const json_t *array, const char *path, struct cr_attributes *out,
                        struct cr_err *err)
{
    if (!array || json_is_null(array))
        return 0;
    if (!json_is_array(array))
        return cr_mj_type_err(err, path, NULL, "an array", array);
    size_t before = out->n;
    char p[CR_MJ_PATH_MAX];
    size_t i;
    json_t *a;
    json_array_foreach(array, i, a)
    {
        cr_mj_path_index(p, sizeof(p), path, i);
        char *name = NULL, *text = NULL;
        int type = CR_ATTR_TEXT;
        int rc = parse_attribute(a, p, &name, &text, &type, err);
        if (rc < 0) {
            for (size_t k = before; k < out->n; k++) {
                free(out->v[k].name);
                free(out->v[k].text);
            }
            out->n = before;
            return rc;
        }
        attributes_push(out, name, text, type);
    }
    return 0;
}

json_t *cr_json_attributes(const struct cr_attributes *a)
{
    json_t *arr = cr_mj_array_new();
    for (size_t i = 0; a && i < a->n; i++) {
        const struct cr_attribute *at = &a->v[i];
        json_t *o = cr_mj_object_new();
        cr_mj_set(o, "name", cr_mj_str(at->name));
        double d = 0;
        struct cr_range *ranges = NULL;
        size_t n = 0;
        char **items = NULL;
        if (at->type == CR_ATTR_SCALAR && parse_scalar_text(at->text, &d)) {
            cr_mj_set(o, "type", cr_mj_str("SCALAR"));
            cr_mj_set(o, "scalar", scalar_json(d));
        } else if (at->type == CR_ATTR_RANGES && parse_ranges_text(at->text, &ranges, &n) == 0) {
            cr_mj_set(o, "type", cr_mj_str("RANGES"));
            cr_mj_set(o, "ranges", ranges_json(ranges, n));
            free(ranges);
        } else if (at->type == CR_ATTR_SET && parse_set_text(at->text, &items, &n) == 0) {
            cr_mj_set(o, "type", cr_mj_str("SET"));
            cr_mj_set(o, "set", set_json(items, n));
            cr_mj_strv_free(items, n);
        } else {
            /* TEXT, or a typed value whose text does not parse: say it as text. */
            json_t *t = cr_mj_object_new();
            cr_mj_set(t, "value", cr_mj_str(at->text ? at->text : ""));
            cr_mj_set(o, "type", cr_mj_str("TEXT"));
            cr_mj_set(o, "text", t);
        }
        cr_mj_append(arr, o);
    }
    return arr;
}

json_t *cr_json_attributes_flat(const struct cr_attributes *a)
{
    json_t *o = cr_mj_object_new();
    for (size_t i = 0; a && i < a->n; i++) {
        const struct cr_attribute *at = &a->v[i];
        double d = 0;
        if (at->type == CR_ATTR_SCALAR && parse_scalar_text(at->text, &d))
            cr_mj_set(o, at->name, cr_mj_real(d));
        else
            cr_mj_set(o, at->name, cr_mj_str(at->text ? at->text : ""));
    }
    return sorted_object(o);
}
