/*
 * weights.c - role weights for the DRF sort (Mesos' weights): the --weights flag,
 * the operator calls GET_WEIGHTS / UPDATE_WEIGHTS / GET_ROLES and the legacy
 * GET|PUT /weights and GET /roles.
 *
 * Weights are durable: the registry's "weights" table (key = role, value = the weight as
 * text) is the truth once it holds a role; --weights only seeds roles the registry does
 * not know yet (as Mesos does since 0.29). Updates are committed before they are
 * answered and then applied to the allocator.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "master/master_impl.h"

#define TABLE "weights"

struct weight_info {
    char *role;
    double weight;
};

static void infos_free(struct weight_info *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].role);
    free(v);
}

static int check_weight(const char *role, double w, struct cr_err *err)
{
    struct cr_err rerr;
    cr_err_clear(&rerr);
    if (cr_validate_role(role, &rerr) < 0)
        return cr_err_set(err, -EINVAL, "role '%s': %s", role, rerr.msg);
    if (strcmp(role, CR_ROLE_ANY) == 0)
        return cr_err_set(err, -EINVAL, "role '*' cannot be weighted");
    if (!isfinite(w) || w <= 0)
        return cr_err_set(err, -EINVAL, "role '%s': weight must be a positive number", role);
    return 0;
}

/* Parse "dev=2,prod=3.5" into a list (owned). */
static int parse_flag(const char *text, struct weight_info **out, size_t *n, struct cr_err *err)
{
    *out = NULL;
    *n = 0;
    char *copy = cr_xstrdup(text), *save = NULL;
    int rc = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        char *end = NULL;
        double w = eq ? strtod(eq + 1, &end) : 0;
        if (!eq || end == eq + 1 || *end) {
            rc = cr_err_set(err, -EINVAL, "'%s' is not role=weight", tok);
            break;
        }
        *eq = '\0';
        if ((rc = check_weight(tok, w, err)) < 0)
            break;
        *out = cr_xrealloc(*out, (*n + 1) * sizeof(**out));
        (*out)[*n].role = cr_xstrdup(tok);
        (*out)[(*n)++].weight = w;
    }
    free(copy);
    if (rc < 0) {
        infos_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

static int apply_one(const char *key, const void *value, size_t len, void *ud)
{
    struct cr_master *m = ud;
    struct cr_err err;
    cr_err_clear(&err);
    double w = strtod(value, NULL);
    if (cr_alloc_set_weight(m->alloc, key, w, &err) < 0)
        CR_WARN("ignoring a stored weight role=%s error=\"%s\"", key, err.msg);
    return 0;
}

int weights_validate_flag(const char *text, struct cr_err *err)
{
    struct weight_info *v;
    size_t n;
    int rc = parse_flag(text, &v, &n, err);
    infos_free(v, n);
    return rc;
}

void weights_recover(struct cr_master *m)
{
    cr_state_foreach(m->state, TABLE, apply_one, m);
    if (!m->cfg.weights)
        return;
    struct cr_err err;
    cr_err_clear(&err);
    struct weight_info *v;
    size_t n;
    if (parse_flag(m->cfg.weights, &v, &n, &err) < 0)
        return; /* validated at start-up */
    for (size_t i = 0; i < n; i++) {
        if (cr_state_get(m->state, TABLE, v[i].role, NULL)) {
            CR_WARN("--weights ignored for a role the registry already weights role=%s", v[i].role);
            continue;
        }
        char text[64];
        snprintf(text, sizeof(text), "%.17g", v[i].weight);
        cr_state_put(m->state, TABLE, v[i].role, text, strlen(text), NULL, NULL);
        cr_alloc_set_weight(m->alloc, v[i].role, v[i].weight, &err);
    }
    infos_free(v, n);
}

static int add_info(const char *key, const void *value, size_t len, void *ud)
{
    json_t *arr = ud;
    json_t *j = json_object();
    json_object_set_new(j, "role", json_string(key));
    json_object_set_new(j, "weight", json_real(strtod(value, NULL)));
    json_array_append_new(arr, j);
    return 0;
}

json_t *weights_json(struct cr_master *m)
{
    json_t *arr = json_array();
    cr_state_foreach(m->state, TABLE, add_info, arr);
    return arr;
}

/* ---------------------------------------------------------------- updates */

struct pending_weights {
    struct cr_http_req *req;
    struct weight_info *v;
    size_t n;
    struct cr_master *m;
};

static void update_committed(struct cr_state *st, int status, const char *msg, void *ud)
{
    struct pending_weights *p = ud;
    if (status < 0) {
        cr_http_respondf(p->req, 503, "Failed to store the weights in the registry: %s", msg);
    } else {
        struct cr_err err;
        cr_err_clear(&err);
        for (size_t i = 0; i < p->n; i++) {
            cr_alloc_set_weight(p->m->alloc, p->v[i].role, p->v[i].weight, &err);
            CR_INFO("role weight updated role=%s weight=%g", p->v[i].role, p->v[i].weight);
        }
        offers_schedule(p->m);
        cr_http_respond(p->req, 200, NULL, NULL, 0);
    }
    infos_free(p->v, p->n);
    free(p);
}

void weights_update(struct cr_master *m, struct cr_http_req *req, json_t *infos, const char *path)
{
    if (!json_is_array(infos)) {
        cr_http_respondf(req, 400, "%s: expected an array of {role, weight}", path);
        return;
    }
    struct pending_weights *p = cr_xcalloc(1, sizeof(*p));
    p->req = req;
    p->m = m;
    p->n = json_array_size(infos);
    p->v = cr_xcalloc(p->n + 1, sizeof(*p->v));
    struct cr_state_op *ops = cr_xcalloc(p->n + 1, sizeof(*ops));
    char(*texts)[64] = cr_xcalloc(p->n + 1, sizeof(*texts));
    size_t i;
    json_t *e;
    json_array_foreach(infos, i, e)
    {
        const char *role = json_string_value(json_object_get(e, "role"));
        json_t *jw = json_object_get(e, "weight");
        struct cr_err err;
        cr_err_clear(&err);
        if (!role || !json_is_number(jw) || check_weight(role, json_number_value(jw), &err) < 0) {
            cr_http_respondf(req, 400, "%s[%zu]: %s", path, i,
                             err.msg[0] ? err.msg
                                        : "expected {\"role\": string, \"weight\": "
                                          "number}");
            p->n = i;
            infos_free(p->v, p->n);
            free(p);
            free(ops);
            free(texts);
            return;
        }
        p->v[i].role = cr_xstrdup(role);
        p->v[i].weight = json_number_value(jw);
        snprintf(texts[i], sizeof(texts[i]), "%.17g", p->v[i].weight);
        ops[i] = (struct cr_state_op){.kind = CR_STATE_PUT,
                                      .table = TABLE,
                                      .key = p->v[i].role,
                                      .value = texts[i],
                                      .len = strlen(texts[i])};
    }
    cr_state_write(m->state, ops, p->n, update_committed, p);
    free(ops);
    free(texts);
}

/* ---------------------------------------------------------------- roles */

static double weight_of(struct cr_master *m, const char *role)
{
    const char *v = cr_state_get(m->state, TABLE, role, NULL);
    return v ? strtod(v, NULL) : 1.0;
}

json_t *roles_json(struct cr_master *m, bool legacy)
{
    json_t *byname = json_object();
    /* Every role with a weight, or with a framework subscribed to it. */
    json_t *weights = weights_json(m);
    size_t i;
    json_t *e;
    json_array_foreach(weights, i, e)
    {
        json_object_set_new(byname, json_string_value(json_object_get(e, "role")), json_array());
    }
    json_decref(weights);
    size_t it = 0;
    void *v;
    while (cr_map_next(&m->frameworks, &it, NULL, &v)) {
        struct fw *fw = v;
        for (size_t r = 0; r < fw->info.nroles; r++) {
            json_t *ids = json_object_get(byname, fw->info.roles[r]);
            if (!ids) {
                ids = json_array();
                json_object_set_new(byname, fw->info.roles[r], ids);
            }
            json_array_append_new(ids, legacy ? json_string(fw->id) : cr_json_id(fw->id));
        }
    }
    json_t *roles = json_array();
    const char *name;
    json_t *ids;
    json_object_foreach(byname, name, ids)
    {
        struct cr_resources used;
        cr_resources_init(&used);
        it = 0;
        while (cr_map_next(&m->frameworks, &it, NULL, &v))
            tasks_sum_held(&((struct fw *)v)->tasks, name, &used);
        json_t *r = json_object();
        json_object_set_new(r, "name", json_string(name));
        json_object_set_new(r, "weight", json_real(weight_of(m, name)));
        json_object_set(r, "frameworks", ids);
        json_object_set_new(r, "resources",
                            legacy ? cr_json_resources_flat(&used)
                                   : cr_json_resources(&used, NULL));
        cr_resources_release(&used);
        json_array_append_new(roles, r);
    }
    json_decref(byname);
    return roles;
}
