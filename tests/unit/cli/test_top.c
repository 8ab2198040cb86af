/*
 * test_top.c - the pure part of `corral top` (src/cli/top.h): rows from
 * /monitor/statistics documents, cpu% from two samples (matching by agent and
 * container), framework names, the sort order, byte formatting, and the table and JSON
 * renderings.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/top.h"

/* A /monitor/statistics entry. */
static json_t *entry(const char *task, const char *fw, const char *container, double ts,
                     double user, double sys, double rss)
{
    json_t *st =
        json_pack("{s:f, s:f, s:f, s:f, s:f, s:I, s:I}", "timestamp", ts, "cpus_user_time_secs",
                  user, "cpus_system_time_secs", sys, "cpus_limit", 0.5, "mem_rss_bytes", rss,
                  "mem_limit_bytes", (json_int_t)(64 << 20), "processes", (json_int_t)2);
    json_t *e = json_pack("{s:s, s:s, s:s, s:o}", "executor_id", task, "framework_id", fw, "source",
                          task, "statistics", st);
    if (container)
        json_object_set_new(e, "container_id", json_string(container));
    return e;
}

static const struct cr_top_row *find(const struct cr_top_sample *s, const char *agent,
                                     const char *task)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->rows[i].agent, agent) == 0 && strcmp(s->rows[i].task_id, task) == 0)
            return &s->rows[i];
    return NULL;
}

static void test_rows_and_errors(void **state)
{
    (void)state;
    struct cr_top_sample s;
    cr_top_sample_init(&s);
    struct cr_err err = {0};
    json_t *obj = json_object();
    assert_int_equal(cr_top_add_agent(&s, "a:1", obj, &err), -EPROTO);
    assert_non_null(strstr(err.msg, "not a JSON list"));
    json_decref(obj);

    json_t *doc = json_array();
    json_array_append_new(doc, entry("t1", "fw1", "c1", 100, 1, 0.5, 1000));
    json_array_append_new(doc, json_pack("{s:s}", "executor_id", "no-stats")); /* skipped */
    json_array_append_new(doc, json_pack("{s:{}}", "statistics"));             /* no id */
    json_t *legacy = entry("t2", "fw1", NULL, 100, 0, 0, 0);
    json_object_del(legacy, "source"); /* executor_id is used instead */
    json_array_append_new(doc, legacy);
    assert_int_equal(cr_top_add_agent(&s, "a:1", doc, &err), 0);
    json_decref(doc);
    assert_int_equal(s.n, 2);
    const struct cr_top_row *r = find(&s, "a:1", "t1");
    assert_non_null(r);
    assert_true(r->cpu_secs == 1.5);
    assert_true(r->cpus_limit == 0.5);
    assert_true(r->mem_rss_bytes == 1000);
    assert_true(r->mem_limit_bytes == (double)(64 << 20));
    assert_true(r->processes == 2);
    assert_true(isnan(r->cpu_percent));
    assert_string_equal(r->container_id, "c1");
    assert_non_null(find(&s, "a:1", "t2"));
    assert_null(find(&s, "a:1", "t2")->container_id);
    cr_top_sample_release(&s);
    cr_top_sample_release(NULL);
}

static void test_cpu_percent(void **state)
{
    (void)state;
    struct cr_top_sample prev, cur;
    cr_top_sample_init(&prev);
    cr_top_sample_init(&cur);
    struct cr_err err = {0};
    json_t *d1 = json_array(), *d2 = json_array(), *other = json_array();
    json_array_append_new(d1, entry("busy", "fw", "c1", 100, 10, 1, 10));
    json_array_append_new(d1, entry("idle", "fw", "c2", 100, 3, 0, 20));
    json_array_append_new(d1, entry("noid", "fw", NULL, 100, 1, 0, 30));
    json_array_append_new(d1, entry("reset", "fw", "c4", 100, 50, 0, 40));
    /* same container on another agent: must not be matched */
    json_array_append_new(other, entry("busy", "fw", "c1", 99, 0, 0, 10));
    json_array_append_new(d2, entry("busy", "fw", "c1", 102, 10.5, 1.5, 10)); /* +1s / 2s */
    json_array_append_new(d2, entry("idle", "fw", "c2", 102, 3, 0, 20));      /* 0% */
    json_array_append_new(d2, entry("noid", "fw", NULL, 101, 1.25, 0, 30));   /* 25% */
    json_array_append_new(d2, entry("reset", "fw", "c4", 102, 1, 0, 40));     /* went back */
    json_array_append_new(d2, entry("new", "fw", "c5", 102, 9, 0, 50));       /* no prev */
    json_array_append_new(d2, entry("stale", "fw", "c2x", 100, 9, 0, 50));
    assert_int_equal(cr_top_add_agent(&prev, "a:1", d1, &err), 0);
    assert_int_equal(cr_top_add_agent(&prev, "b:2", other, &err), 0);
    assert_int_equal(cr_top_add_agent(&cur, "a:1", d2, &err), 0);
    cr_top_compute(&cur, &prev);
    assert_true(fabs(find(&cur, "a:1", "busy")->cpu_percent - 50.0) < 1e-9);
    assert_true(find(&cur, "a:1", "idle")->cpu_percent == 0.0);
    assert_true(fabs(find(&cur, "a:1", "noid")->cpu_percent - 25.0) < 1e-9);
    assert_true(isnan(find(&cur, "a:1", "reset")->cpu_percent));
    assert_true(isnan(find(&cur, "a:1", "new")->cpu_percent));
    assert_true(isnan(find(&cur, "a:1", "stale")->cpu_percent));
    /* without a previous sample everything is unknown */
    cr_top_compute(&cur, NULL);
    assert_true(isnan(find(&cur, "a:1", "busy")->cpu_percent));
    json_decref(d1);
    json_decref(d2);
    json_decref(other);
    cr_top_sample_release(&prev);
    cr_top_sample_release(&cur);
}

static struct cr_top_row row(const char *agent, const char *task, double pct, double rss)
{
    struct cr_top_row r = {0};
    r.agent = strdup(agent);
    r.task_id = strdup(task);
    r.framework_id = strdup("fw");
    r.cpu_percent = pct;
    r.mem_rss_bytes = rss;
    r.cpus_limit = r.mem_limit_bytes = r.processes = r.timestamp = r.cpu_secs = NAN;
    return r;
}

static void test_sort(void **state)
{
    (void)state;
    struct cr_top_sample s;
    cr_top_sample_init(&s);
    s.cap = 8;
    s.rows = calloc(s.cap, sizeof(*s.rows));
    s.rows[s.n++] = row("a", "unknown-big", NAN, 1e9);
    s.rows[s.n++] = row("a", "low", 5, 1);
    s.rows[s.n++] = row("a", "high", 90, 1);
    s.rows[s.n++] = row("b", "tie-more-mem", 5, 100);
    s.rows[s.n++] = row("a", "unknown-small", NAN, 1);
    s.rows[s.n++] = row("b", "low", 5, 1);
    cr_top_sort(&s);
    static const char *const order[][2] = {{"a", "high"},        {"b", "tie-more-mem"},
                                           {"a", "low"},         {"b", "low"},
                                           {"a", "unknown-big"}, {"a", "unknown-small"}};
    for (size_t i = 0; i < s.n; i++) {
        assert_string_equal(s.rows[i].agent, order[i][0]);
        assert_string_equal(s.rows[i].task_id, order[i][1]);
    }
    cr_top_sample_release(&s);
}

static void test_names_bytes_render(void **state)
{
    (void)state;
    char b[32];
    cr_top_fmt_bytes(b, sizeof(b), 512);
    assert_string_equal(b, "512B");
    cr_top_fmt_bytes(b, sizeof(b), 1536);
    assert_string_equal(b, "1.5K");
    cr_top_fmt_bytes(b, sizeof(b), 64.0 * 1024 * 1024);
    assert_string_equal(b, "64M");
    cr_top_fmt_bytes(b, sizeof(b), 12.3 * 1024 * 1024);
    assert_string_equal(b, "12M");
    cr_top_fmt_bytes(b, sizeof(b), 2.0 * 1024 * 1024 * 1024);
    assert_string_equal(b, "2G");
    cr_top_fmt_bytes(b, sizeof(b), NAN);
    assert_string_equal(b, "-");

    struct cr_top_sample s;
    cr_top_sample_init(&s);
    struct cr_err err = {0};
    json_t *doc = json_array();
    json_array_append_new(doc, entry("web.1", "fw-a", "c1", 1, 0, 0, 2 << 20));
    json_array_append_new(doc, entry("job\x1b[2J", "fw-b", "c2", 1, 0, 0, 1 << 20));
    assert_int_equal(cr_top_add_agent(&s, "h:5051", doc, &err), 0);
    json_decref(doc);
    json_t *names = json_pack("{s:s}", "fw-a", "marathon");
    assert_int_equal(cr_top_name_frameworks(&s, names), 1);
    json_decref(names);
    assert_string_equal(find(&s, "h:5051", "web.1")->framework, "marathon");

    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    cr_top_print(&s, out);
    fclose(out);
    assert_non_null(strstr(text, "TASK"));
    assert_non_null(strstr(text, "CPU%"));
    assert_non_null(strstr(text, "MEM/LIMIT"));
    assert_non_null(strstr(text, "marathon"));
    assert_non_null(strstr(text, "fw-b")); /* unknown name: the id */
    assert_non_null(strstr(text, "2M/64M"));
    assert_null(strchr(text, '\x1b')); /* no terminal control from the server */
    free(text);

    json_t *j = cr_top_json(&s);
    assert_int_equal(json_array_size(j), 2);
    json_t *first = json_array_get(j, 0);
    assert_true(json_is_null(json_object_get(first, "cpu_percent")));
    assert_string_equal(json_string_value(json_object_get(first, "agent")), "h:5051");
    assert_true(json_number_value(json_object_get(first, "mem_limit_bytes")) == (double)(64 << 20));
    json_decref(j);
    cr_top_sample_release(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_and_errors),
        cmocka_unit_test(test_cpu_percent),
        cmocka_unit_test(test_sort),
        cmocka_unit_test(test_names_bytes_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
