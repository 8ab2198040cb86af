/*
 * test_app.c - struct cr_app lifetime, deep copy and cr_app_same_config (src/core/app.c).
 *
 * A full-featured app is built by hand, copied, and every field is changed in turn: a change
 * of instances, version or versionInfo keeps the same config (a scaling), any other field
 * makes it a config change (a rolling restart). Copies must be deep: releasing the source
 * must leave the copy intact (ASan checks that).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "core/app.h"

static struct cr_app_kv *kvs(size_t n, const char *const *pairs)
{
    struct cr_app_kv *kv = cr_xcalloc(n, sizeof(*kv));
    for (size_t i = 0; i < n; i++) {
        kv[i].name = cr_xstrdup(pairs[2 * i]);
        kv[i].value = cr_xstrdup(pairs[2 * i + 1]);
    }
    return kv;
}

/* An app with every kind of field set. */
static void full_app(struct cr_app *a)
{
    cr_app_init(a);
    a->id = cr_xstrdup("/prod/web");
    a->cmd = cr_xstrdup("python3 -m http.server $PORT0");
    a->cpus = 250;
    a->mem = 64000;
    a->disk = 10000;
    a->instances = 3;
    a->user = cr_xstrdup("nobody");
    a->env = kvs(2, (const char *const[]){"A", "1", "B", "2"});
    a->nenv = 2;
    a->labels = kvs(1, (const char *const[]){"team", "a"});
    a->nlabels = 1;
    a->constraints = cr_xcalloc(2, sizeof(*a->constraints));
    a->constraints[0].field = cr_xstrdup("hostname");
    a->constraints[0].op = CR_PLACE_UNIQUE;
    a->constraints[1].field = cr_xstrdup("rack");
    a->constraints[1].op = CR_PLACE_LIKE;
    a->constraints[1].value = cr_xstrdup("r[12]");
    a->nconstraints = 2;
    a->accepted_roles = cr_xcalloc(1, sizeof(char *));
    a->accepted_roles[0] = cr_xstrdup("*");
    a->naccepted_roles = 1;
    a->role = cr_xstrdup("web");
    a->ports = cr_xcalloc(1, sizeof(*a->ports));
    a->ports[0].name = cr_xstrdup("http");
    a->ports[0].protocol = cr_xstrdup("tcp");
    a->ports[0].labels = kvs(1, (const char *const[]){"vip", "x"});
    a->ports[0].nlabels = 1;
    a->nports = 1;
    a->health_checks = cr_xcalloc(1, sizeof(*a->health_checks));
    a->health_checks[0].protocol = CR_APP_HC_MESOS_HTTP;
    a->health_checks[0].path = cr_xstrdup("/health");
    a->health_checks[0].port = -1;
    a->health_checks[0].interval_s = 10;
    a->health_checks[0].max_consecutive_failures = 3;
    a->nhealth_checks = 1;
    a->minimum_health_capacity = 0.5;
    a->kill_grace_period_s = 5;
    a->container_type = cr_xstrdup("MESOS");
    a->volumes = cr_xcalloc(1, sizeof(*a->volumes));
    a->volumes[0].container_path = cr_xstrdup("data");
    a->volumes[0].host_path = cr_xstrdup("/srv/data");
    a->volumes[0].is_read_only = true;
    a->nvolumes = 1;
    a->placement = CR_PLACE_SPREAD;
    a->has_placement_label = true;
    a->version = cr_xstrdup("2026-01-01T00:00:00.000Z");
    a->last_scaling_at = cr_xstrdup("2026-01-01T00:00:00.000Z");
    a->last_config_change_at = cr_xstrdup("2026-01-01T00:00:00.000Z");
}

static void test_defaults(void **state)
{
    (void)state;
    struct cr_app a;
    cr_app_init(&a);
    assert_null(a.id);
    assert_null(a.cmd);
    assert_int_equal(a.cpus, 1000);
    assert_int_equal(a.mem, 128000);
    assert_int_equal(a.disk, 0);
    assert_int_equal(a.instances, 1);
    assert_true(a.minimum_health_capacity == 1.0 && a.maximum_over_capacity == 1.0);
    assert_true(a.progress_deadline_s == 600);
    assert_true(a.backoff_s == 1 && a.backoff_factor == 1.15 && a.max_launch_delay_s == 300);
    assert_true(a.inactive_after_s == 5 && a.expunge_after_s == 60);
    assert_false(a.unreachable_disabled);
    assert_int_equal(a.kill_selection, CR_APP_KILL_YOUNGEST_FIRST);
    assert_true(a.kill_grace_period_s == -1);
    cr_app_release(&a);
    cr_app_release(NULL);
}

static void test_copy_is_deep(void **state)
{
    (void)state;
    struct cr_app a, b;
    full_app(&a);
    cr_app_init(&b);
    b.id = cr_xstrdup("/old"); /* released by the copy */
    assert_int_equal(cr_app_copy(&b, &a), 0);
    assert_true(cr_app_same_config(&a, &b));
    assert_ptr_not_equal(a.id, b.id);
    assert_ptr_not_equal(a.env, b.env);
    assert_ptr_not_equal(a.constraints[1].value, b.constraints[1].value);
    cr_app_release(&a);
    /* b stands alone */
    assert_string_equal(b.id, "/prod/web");
    assert_string_equal(b.env[1].value, "2");
    assert_string_equal(b.constraints[1].value, "r[12]");
    assert_string_equal(b.ports[0].labels[0].value, "x");
    assert_string_equal(b.health_checks[0].path, "/health");
    assert_string_equal(b.volumes[0].host_path, "/srv/data");
    assert_string_equal(b.version, "2026-01-01T00:00:00.000Z");
    assert_int_equal(b.instances, 3);
    /* copying onto itself is a no-op */
    assert_int_equal(cr_app_copy(&b, &b), 0);
    assert_string_equal(b.id, "/prod/web");
    cr_app_release(&b);
}

static void test_scaling_is_same_config(void **state)
{
    (void)state;
    struct cr_app a, b;
    full_app(&a);
    cr_app_init(&b);
    cr_app_copy(&b, &a);
    b.instances = 10;
    free(b.version);
    b.version = cr_xstrdup("2026-02-02T00:00:00.000Z");
    free(b.last_scaling_at);
    b.last_scaling_at = NULL;
    assert_true(cr_app_same_config(&a, &b));
    assert_true(cr_app_same_config(&b, &a));
    cr_app_release(&a);
    cr_app_release(&b);
}

/* Each mutation must turn same_config false. */
typedef void (*mutate_fn)(struct cr_app *);
static void m_cmd(struct cr_app *a)
{
    free(a->cmd);
    a->cmd = cr_xstrdup("sleep 1");
}
static void m_cmd_null(struct cr_app *a)
{
    free(a->cmd);
    a->cmd = NULL;
}
static void m_env_value(struct cr_app *a)
{
    free(a->env[0].value);
    a->env[0].value = cr_xstrdup("changed");
}
static void m_env_count(struct cr_app *a)
{
    a->nenv = 1; /* the second entry is still owned: restore before release */
}
static void m_constraint_op(struct cr_app *a)
{
    a->constraints[1].op = CR_PLACE_UNLIKE;
}
static void m_constraint_value(struct cr_app *a)
{
    free((char *)a->constraints[1].value);
    a->constraints[1].value = cr_xstrdup("r3");
}
static void m_cpus(struct cr_app *a)
{
    a->cpus++;
}
static void m_mem(struct cr_app *a)
{
    a->mem++;
}
static void m_label(struct cr_app *a)
{
    free(a->labels[0].value);
    a->labels[0].value = cr_xstrdup("b");
}
static void m_port(struct cr_app *a)
{
    a->ports[0].port = 8080;
}
static void m_hc(struct cr_app *a)
{
    a->health_checks[0].interval_s = 11;
}
static void m_upgrade(struct cr_app *a)
{
    a->maximum_over_capacity = 0.5;
}
static void m_volume(struct cr_app *a)
{
    a->volumes[0].is_read_only = false;
}
static void m_user(struct cr_app *a)
{
    free(a->user);
    a->user = NULL;
}
static void m_placement(struct cr_app *a)
{
    a->placement = CR_PLACE_BINPACK;
}
static void m_kill_grace(struct cr_app *a)
{
    a->kill_grace_period_s = -1;
}
static void m_role(struct cr_app *a)
{
    free(a->role);
    a->role = cr_xstrdup("other");
}

static void test_config_changes(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        mutate_fn fn;
    } cases[] = {
        {"cmd", m_cmd},
        {"cmd null", m_cmd_null},
        {"env value", m_env_value},
        {"env count", m_env_count},
        {"constraint op", m_constraint_op},
        {"constraint value", m_constraint_value},
        {"cpus", m_cpus},
        {"mem", m_mem},
        {"label", m_label},
        {"port", m_port},
        {"health check", m_hc},
        {"upgrade strategy", m_upgrade},
        {"volume", m_volume},
        {"user", m_user},
        {"placement", m_placement},
        {"kill grace", m_kill_grace},
        {"role", m_role},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cr_app a, b;
        full_app(&a);
        cr_app_init(&b);
        cr_app_copy(&b, &a);
        cases[i].fn(&b);
        if (cr_app_same_config(&a, &b) || cr_app_same_config(&b, &a))
            fail_msg("changing %s kept the same config", cases[i].name);
        b.nenv = a.nenv;
        cr_app_release(&a);
        cr_app_release(&b);
    }
}

/* Without the placement label the placement field is the orchestrator's to fill. */
static void test_placement_without_label(void **state)
{
    (void)state;
    struct cr_app a, b;
    full_app(&a);
    a.has_placement_label = false;
    cr_app_init(&b);
    cr_app_copy(&b, &a);
    b.placement = a.placement == CR_PLACE_SPREAD ? CR_PLACE_BINPACK : CR_PLACE_SPREAD;
    assert_true(cr_app_same_config(&a, &b));
    b.has_placement_label = true;
    assert_false(cr_app_same_config(&a, &b));
    cr_app_release(&a);
    cr_app_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_copy_is_deep),
        cmocka_unit_test(test_scaling_is_same_config),
        cmocka_unit_test(test_config_changes),
        cmocka_unit_test(test_placement_without_label),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
