/*
 * http_state.c - JSON views of the master's registry: the legacy /master/state document
 * (API-COMPAT.md §4.3: flattened resources, slave_id, epoch-second times) and the v1
 * operator API's GET_STATE / GET_AGENTS / GET_FRAMEWORKS / GET_TASKS bodies (§4.1).
 *
 * Built on demand, on the loop thread; a 10k-task cluster makes a document of a few MB.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "master/master_impl.h"

static json_t *time_info(double secs)
{
    json_t *t = json_object();
    json_object_set_new(t, "nanoseconds", json_integer((json_int_t)llround(secs * 1e9)));
    return t;
}

/* Strings of FrameworkInfo.capabilities ("MULTI_ROLE", ...) from its v1 JSON. */
static json_t *capability_names(json_t *info)
{
    json_t *out = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(info, "capabilities"), i, c)
    {
        json_t *type = json_object_get(c, "type");
        if (json_is_string(type))
            json_array_append(out, type);
    }
    return out;
}

static void copy_extra(json_t *dst, json_t *extra, const char *const *keys)
{
    for (size_t i = 0; keys[i]; i++) {
        json_t *v = json_object_get(extra, keys[i]);
        if (v)
            json_object_set(dst, keys[i], v);
    }
}

/* ---------------------------------------------------------------- legacy */

static json_t *legacy_task(const struct task *t)
{
    json_t *j = json_object();
    json_object_set_new(j, "id", json_string(t->info.task_id));
    json_object_set_new(j, "name", json_string(t->info.name ? t->info.name : ""));
    json_object_set_new(j, "framework_id", json_string(t->framework_id));
    json_object_set_new(j, "executor_id", json_string(""));
    json_object_set_new(j, "slave_id", json_string(t->info.agent_id));
    json_object_set_new(j, "state", json_string(cr_task_state_name(t->state)));
    json_object_set_new(j, "resources", cr_json_resources_flat(&t->info.resources));
    json_object_set_new(j, "role", json_string(t->role));
    json_t *statuses = json_array();
    for (size_t i = 0; i < t->nstatuses; i++) {
        const struct cr_task_status *s =
            &t->statuses[(t->status_head + i) % CR_MASTER_TASK_STATUSES];
        json_t *js = json_object();
        json_object_set_new(js, "state", json_string(cr_task_state_name(s->state)));
        json_object_set_new(js, "timestamp", json_real(s->timestamp));
        if (s->healthy >= 0)
            json_object_set_new(js, "healthy", json_boolean(s->healthy));
        if (s->container_id) {
            json_t *cs = json_object();
            json_object_set_new(cs, "container_id", cr_json_id(s->container_id));
            json_object_set_new(js, "container_status", cs);
        }
        json_array_append_new(statuses, js);
    }
    json_object_set_new(j, "statuses", statuses);
    if (t->info.has_command && t->info.command.user)
        json_object_set_new(j, "user", json_string(t->info.command.user));
    static const char *const keys[] = {"labels", "discovery", "container", "health_check", NULL};
    copy_extra(j, t->info.extra, keys);
    return j;
}

static json_t *legacy_framework(struct cr_master *m, struct fw *fw, bool completed)
{
    json_t *info = cr_json_framework_info(&fw->info);
    json_t *j = json_object();
    json_object_set_new(j, "id", json_string(fw->id));
    json_object_set_new(j, "name", json_string(fw->info.name ? fw->info.name : ""));
    json_object_set_new(j, "hostname", json_string(fw->info.hostname ? fw->info.hostname : ""));
    json_object_set_new(j, "webui_url", json_string(fw->info.webui_url ? fw->info.webui_url : ""));
    json_object_set_new(j, "user", json_string(fw->info.user ? fw->info.user : ""));
    if (fw->info.principal)
        json_object_set_new(j, "principal", json_string(fw->info.principal));
    json_object_set_new(j, "capabilities", capability_names(info));
    json_object_set_new(j, "active", json_boolean(fw->connected && !completed));
    json_object_set_new(j, "connected", json_boolean(fw->connected && !completed));
    json_object_set_new(j, "recovered", json_boolean(fw->recovered));
    json_object_set_new(j, "failover_timeout", json_real(fw->info.failover_timeout));
    json_object_set_new(j, "checkpoint", json_boolean(fw->info.checkpoint));
    json_object_set_new(j, "registered_time", json_real(fw->registered_time));
    json_object_set_new(j, "unregistered_time", json_real(fw->unregistered_time));
    if (fw->reregistered_time > 0)
        json_object_set_new(j, "reregistered_time", json_real(fw->reregistered_time));
    if (fw->info.capabilities & CR_FWCAP_MULTI_ROLE) {
        json_t *roles = json_array();
        for (size_t i = 0; i < fw->info.nroles; i++)
            json_array_append_new(roles, json_string(fw->info.roles[i]));
        json_object_set_new(j, "roles", roles);
    } else {
        json_object_set_new(j, "role",
                            json_string(fw->info.nroles ? fw->info.roles[0] : CR_ROLE_ANY));
    }
    json_t *labels = json_object_get(info, "labels");
    if (labels)
        json_object_set(j, "labels", labels);
    json_decref(info);

    struct cr_resources used, offered, total;
    cr_resources_init(&used);
    cr_resources_init(&offered);
    cr_resources_init(&total);
    tasks_sum_held(&fw->tasks, NULL, &used);
    if (!completed)
        offers_sum_framework(m, fw->id, &offered);
    cr_resources_add(&total, &used);
    cr_resources_add(&total, &offered);
    json_object_set_new(j, "used_resources", cr_json_resources_flat(&used));
    json_object_set_new(j, "offered_resources", cr_json_resources_flat(&offered));
    json_object_set_new(j, "resources", cr_json_resources_flat(&total));
    cr_resources_release(&used);
    cr_resources_release(&offered);
    cr_resources_release(&total);

    json_t *tasks = json_array(), *unreachable = json_array(), *done = json_array();
    size_t it = 0;
    void *v;
    while (cr_map_next(&fw->tasks, &it, NULL, &v)) {
        const struct task *t = v;
        if (t->state == CR_TASK_UNREACHABLE)
            json_array_append_new(unreachable, legacy_task(t));
        else if (cr_task_state_is_terminal(t->state))
            json_array_append_new(done, legacy_task(t));
        else
            json_array_append_new(tasks, legacy_task(t));
    }
    for (size_t i = 0; i < fw->ncompleted; i++) {
        const struct task *t = fw->completed[(fw->completed_head + i) % CR_MASTER_COMPLETED_TASKS];
        if (t)
            json_array_append_new(done, legacy_task(t));
    }
    json_object_set_new(j, "tasks", tasks);
    json_object_set_new(j, "unreachable_tasks", unreachable);
    json_object_set_new(j, "completed_tasks", done);
    json_object_set_new(j, "offers", completed ? json_array() : offers_json_framework(m, fw, true));
    json_object_set_new(j, "executors", json_array());
    return j;
}

static json_t *legacy_agent(struct cr_master *m, struct agent *a)
{
    json_t *j = json_object();
    json_object_set_new(j, "id", json_string(a->id));
    json_object_set_new(j, "hostname", json_string(a->info.hostname ? a->info.hostname : ""));
    json_object_set_new(j, "port", json_integer(a->port));
    json_object_set_new(j, "pid", json_string(a->pid ? a->pid : ""));
    json_object_set_new(j, "attributes", cr_json_attributes_flat(&a->info.attributes));
    json_object_set_new(j, "registered_time", json_real(a->registered_time));
    if (a->reregistered_time > 0)
        json_object_set_new(j, "reregistered_time", json_real(a->reregistered_time));
    json_object_set_new(j, "resources", cr_json_resources_flat(&a->info.resources));
    struct cr_resources used, offered, unreserved;
    cr_resources_init(&used);
    cr_resources_init(&offered);
    cr_resources_init(&unreserved);
    tasks_sum_held(&a->tasks, NULL, &used);
    offers_sum_agent(m, a->id, &offered);
    cr_resources_filter_role(&unreserved, &a->info.resources, CR_ROLE_ANY);
    json_object_set_new(j, "used_resources", cr_json_resources_flat(&used));
    json_object_set_new(j, "offered_resources", cr_json_resources_flat(&offered));
    json_object_set_new(j, "unreserved_resources", cr_json_resources_flat(&unreserved));
    json_t *reserved = json_object();
    for (size_t i = 0; i < a->info.resources.n; i++) {
        const char *role = a->info.resources.v[i].role;
        if (strcmp(role, CR_ROLE_ANY) == 0 || json_object_get(reserved, role))
            continue;
        struct cr_resources r;
        cr_resources_init(&r);
        cr_resources_filter_role(&r, &a->info.resources, role);
        json_object_set_new(reserved, role, cr_json_resources_flat(&r));
        cr_resources_release(&r);
    }
    json_object_set_new(j, "reserved_resources", reserved);
    cr_resources_release(&used);
    cr_resources_release(&offered);
    cr_resources_release(&unreserved);
    json_object_set_new(j, "active", json_boolean(a->connected));
    json_object_set_new(j, "deactivated", json_false());
    json_object_set_new(j, "version", json_string(a->version ? a->version : ""));
    json_object_set_new(j, "capabilities", json_array());
    return j;
}

json_t *state_json_legacy(struct cr_master *m)
{
    json_t *j = json_object();
    json_object_set_new(j, "version", json_string(CR_MESOS_VERSION));
    json_object_set_new(j, "corral_version", json_string(CR_VERSION));
    json_object_set_new(j, "build_date", json_string(__DATE__));
    json_object_set_new(j, "build_time", json_real(m->start_time));
    json_object_set_new(j, "build_user", json_string("corral"));
    json_object_set_new(j, "start_time", json_real(m->start_time));
    json_object_set_new(j, "elected_time", json_real(m->elected_time));
    json_object_set_new(j, "id", json_string(m->id));
    char *pid = cr_xasprintf("master@%s:%lld", m->advertised_ip, (long long)m->cfg.port);
    json_object_set_new(j, "pid", json_string(pid));
    json_object_set_new(j, "leader", json_string(pid));
    json_t *li = json_object();
    json_object_set_new(li, "id", json_string(m->id));
    json_object_set_new(li, "pid", json_string(pid));
    json_object_set_new(li, "port", json_integer(m->cfg.port));
    json_object_set_new(li, "hostname", json_string(m->cfg.hostname));
    json_object_set_new(j, "leader_info", li);
    free(pid);
    json_object_set_new(j, "hostname", json_string(m->cfg.hostname));
    json_t *caps = json_array();
    json_array_append_new(caps, json_string("AGENT_UPDATE"));
    json_object_set_new(j, "capabilities", caps);

    json_t *slaves = json_array(), *recovered = json_array();
    size_t activated = 0, deactivated = 0, unreachable = 0;
    size_t it = 0;
    void *v;
    while (cr_map_next(&m->agents, &it, NULL, &v)) {
        struct agent *a = v;
        if (a->unreachable) {
            unreachable++;
            continue;
        }
        if (a->recovered) {
            json_array_append_new(recovered, legacy_agent(m, a));
            continue;
        }
        if (a->connected)
            activated++;
        else
            deactivated++;
        json_array_append_new(slaves, legacy_agent(m, a));
    }
    json_object_set_new(j, "activated_slaves", json_integer((json_int_t)activated));
    json_object_set_new(j, "deactivated_slaves", json_integer((json_int_t)deactivated));
    json_object_set_new(j, "unreachable_slaves", json_integer((json_int_t)unreachable));
    json_object_set_new(j, "slaves", slaves);
    json_object_set_new(j, "recovered_slaves", recovered);

    json_t *fws = json_array(), *done = json_array();
    it = 0;
    while (cr_map_next(&m->frameworks, &it, NULL, &v))
        json_array_append_new(fws, legacy_framework(m, v, false));
    for (size_t i = 0; i < m->ncompleted_frameworks; i++)
        json_array_append_new(done, legacy_framework(m, m->completed_frameworks[i], true));
    json_object_set_new(j, "frameworks", fws);
    json_object_set_new(j, "completed_frameworks", done);
    json_object_set_new(j, "orphan_tasks", json_array());
    json_object_set_new(j, "unregistered_frameworks", json_array());

    json_t *flags = json_object();
    json_object_set_new(flags, "port", json_sprintf("%lld", (long long)m->cfg.port));
    json_object_set_new(flags, "ip", json_string(m->cfg.ip));
    json_object_set_new(flags, "work_dir", json_string(m->cfg.work_dir));
    json_object_set_new(flags, "hostname", json_string(m->cfg.hostname));
    json_object_set_new(flags, "offer_timeout",
                        json_sprintf("%lldms", (long long)m->cfg.offer_timeout_ms));
    json_object_set_new(j, "flags", flags);
    return j;
}

/* ---------------------------------------------------------------- v1 operator */

json_t *state_json_task_v1(const struct task *t)
{
    json_t *j = json_object();
    json_object_set_new(j, "name", json_string(t->info.name ? t->info.name : ""));
    json_object_set_new(j, "task_id", cr_json_id(t->info.task_id));
    json_object_set_new(j, "framework_id", cr_json_id(t->framework_id));
    json_object_set_new(j, "agent_id", cr_json_id(t->info.agent_id));
    json_object_set_new(j, "state", json_string(cr_task_state_name(t->state)));
    struct cr_res_style style = {.allocation_role = t->role};
    json_object_set_new(j, "resources", cr_json_resources(&t->info.resources, &style));
    json_t *statuses = json_array();
    for (size_t i = 0; i < t->nstatuses; i++)
        json_array_append_new(
            statuses,
            cr_json_task_status(&t->statuses[(t->status_head + i) % CR_MASTER_TASK_STATUSES]));
    json_object_set_new(j, "statuses", statuses);
    if (t->has_pending) {
        json_object_set_new(j, "status_update_state",
                            json_string(cr_task_state_name(t->pending_state)));
        char *b64 = cr_base64_encode(t->pending_uuid, 16);
        json_object_set_new(j, "status_update_uuid", json_string(b64));
        free(b64);
    }
    if (t->info.has_command && t->info.command.user)
        json_object_set_new(j, "user", json_string(t->info.command.user));
    if (t->info.kill_grace_ms >= 0) {
        json_t *kp = json_object();
        json_t *gp = json_object();
        json_object_set_new(gp, "nanoseconds",
                            json_integer((json_int_t)t->info.kill_grace_ms * 1000000));
        json_object_set_new(kp, "grace_period", gp);
        json_object_set_new(j, "kill_policy", kp);
    }
    static const char *const keys[] = {"labels",       "discovery", "container",
                                       "health_check", "limits",    NULL};
    copy_extra(j, t->info.extra, keys);
    return j;
}

static json_t *v1_framework(struct cr_master *m, struct fw *fw, bool completed)
{
    json_t *j = json_object();
    json_object_set_new(j, "framework_info", cr_json_framework_info(&fw->info));
    json_object_set_new(j, "active", json_boolean(fw->connected && !completed));
    json_object_set_new(j, "connected", json_boolean(fw->connected && !completed));
    json_object_set_new(j, "recovered", json_boolean(fw->recovered));
    json_object_set_new(j, "registered_time", time_info(fw->registered_time));
    if (fw->reregistered_time > 0)
        json_object_set_new(j, "reregistered_time", time_info(fw->reregistered_time));
    if (fw->unregistered_time > 0)
        json_object_set_new(j, "unregistered_time", time_info(fw->unregistered_time));
    if (!completed) {
        json_t *offers = offers_json_framework(m, fw, false);
        if (json_array_size(offers) > 0)
            json_object_set_new(j, "offers", offers);
        else
            json_decref(offers);
        struct cr_resources used, offered;
        cr_resources_init(&used);
        cr_resources_init(&offered);
        tasks_sum_held(&fw->tasks, NULL, &used);
        offers_sum_framework(m, fw->id, &offered);
        if (!cr_resources_is_empty(&used))
            json_object_set_new(j, "allocated_resources", cr_json_resources(&used, NULL));
        if (!cr_resources_is_empty(&offered))
            json_object_set_new(j, "offered_resources", cr_json_resources(&offered, NULL));
        cr_resources_release(&used);
        cr_resources_release(&offered);
    }
    return j;
}

static json_t *v1_agent(struct cr_master *m, struct agent *a)
{
    json_t *j = json_object();
    json_t *info = cr_json_agent_info(&a->info);
    json_object_set_new(j, "agent_info", info);
    json_object_set_new(j, "active", json_boolean(a->connected));
    json_object_set_new(j, "deactivated", json_false());
    json_object_set_new(j, "version", json_string(a->version ? a->version : ""));
    json_object_set_new(j, "pid", json_string(a->pid ? a->pid : ""));
    json_object_set_new(j, "registered_time", time_info(a->registered_time));
    if (a->reregistered_time > 0)
        json_object_set_new(j, "reregistered_time", time_info(a->reregistered_time));
    json_object_set_new(j, "total_resources", cr_json_resources(&a->info.resources, NULL));
    struct cr_resources used, offered;
    cr_resources_init(&used);
    cr_resources_init(&offered);
    tasks_sum_held(&a->tasks, NULL, &used);
    offers_sum_agent(m, a->id, &offered);
    if (!cr_resources_is_empty(&used))
        json_object_set_new(j, "allocated_resources", cr_json_resources(&used, NULL));
    if (!cr_resources_is_empty(&offered))
        json_object_set_new(j, "offered_resources", cr_json_resources(&offered, NULL));
    cr_resources_release(&used);
    cr_resources_release(&offered);
    return j;
}

json_t *state_json_get_agents(struct cr_master *m)
{
    json_t *agents = json_array(), *recovered = json_array();
    size_t it = 0;
    void *v;
    while (cr_map_next(&m->agents, &it, NULL, &v)) {
        struct agent *a = v;
        if (a->unreachable)
            continue;
        if (a->recovered)
            json_array_append_new(recovered, cr_json_agent_info(&a->info));
        else
            json_array_append_new(agents, v1_agent(m, a));
    }
    json_t *j = json_object();
    json_object_set_new(j, "agents", agents);
    if (json_array_size(recovered) > 0)
        json_object_set_new(j, "recovered_agents", recovered);
    else
        json_decref(recovered);
    return j;
}

json_t *state_json_get_frameworks(struct cr_master *m)
{
    json_t *fws = json_array(), *done = json_array();
    size_t it = 0;
    void *v;
    while (cr_map_next(&m->frameworks, &it, NULL, &v))
        json_array_append_new(fws, v1_framework(m, v, false));
    for (size_t i = 0; i < m->ncompleted_frameworks; i++)
        json_array_append_new(done, v1_framework(m, m->completed_frameworks[i], true));
    json_t *j = json_object();
    json_object_set_new(j, "frameworks", fws);
    if (json_array_size(done) > 0)
        json_object_set_new(j, "completed_frameworks", done);
    else
        json_decref(done);
    return j;
}

static void add_fw_tasks(struct fw *fw, json_t *tasks, json_t *unreachable, json_t *done)
{
    size_t it = 0;
    void *v;
    while (cr_map_next(&fw->tasks, &it, NULL, &v)) {
        const struct task *t = v;
        json_t *target = t->state == CR_TASK_UNREACHABLE       ? unreachable
                         : cr_task_state_is_terminal(t->state) ? done
                                                               : tasks;
        json_array_append_new(target, state_json_task_v1(t));
    }
    for (size_t i = 0; i < fw->ncompleted; i++) {
        const struct task *t = fw->completed[(fw->completed_head + i) % CR_MASTER_COMPLETED_TASKS];
        if (t)
            json_array_append_new(done, state_json_task_v1(t));
    }
}

static void set_nonempty(json_t *obj, const char *key, json_t *array)
{
    if (json_array_size(array) > 0)
        json_object_set_new(obj, key, array);
    else
        json_decref(array);
}

json_t *state_json_get_tasks(struct cr_master *m)
{
    json_t *tasks = json_array(), *unreachable = json_array(), *done = json_array();
    size_t it = 0;
    void *v;
    while (cr_map_next(&m->frameworks, &it, NULL, &v))
        add_fw_tasks(v, tasks, unreachable, done);
    for (size_t i = 0; i < m->ncompleted_frameworks; i++)
        add_fw_tasks(m->completed_frameworks[i], done, done, done);
    json_t *j = json_object();
    set_nonempty(j, "tasks", tasks);
    set_nonempty(j, "unreachable_tasks", unreachable);
    set_nonempty(j, "completed_tasks", done);
    return j;
}

json_t *state_json_get_state(struct cr_master *m)
{
    json_t *j = json_object();
    json_object_set_new(j, "get_tasks", state_json_get_tasks(m));
    json_object_set_new(j, "get_executors", json_object());
    json_object_set_new(j, "get_frameworks", state_json_get_frameworks(m));
    json_object_set_new(j, "get_agents", state_json_get_agents(m));
    return j;
}
