"""The apps orchestrator over Marathon's /v2 API (issue 4): life cycle of an app, placement
(bin-packing, spread, constraints), diagnosis of unplaceable instances, validation errors,
progress deadlines. Health checks, crash loops, rolling updates, master restarts and the
event stream are in test_apps_health.py; the CLI verbs in test_apps_cli.py."""

import collections
import time

import pytest
import requests

from cluster import Apps, Cluster, EventStream, wait_for

SMALL = "cpus:1;mem:1024;disk:1024;ports:[31000-31099]"


def apps_cluster(workdir, n=3, resources=SMALL, racks=None, master_extra=None):
    """A master and n agents with hostnames h0..h{n-1} (and attribute rack:<racks[i]>)."""
    c = Cluster(workdir, agents=0, master_extra=master_extra)
    for i in range(n):
        extra = ["--attributes", f"rack:{racks[i]}"] if racks else None
        c.add_agent(resources=resources, extra=extra, hostname=f"h{i}")
    c.wait_agents(n)
    return c


@pytest.fixture
def c3(workdir):
    c = apps_cluster(workdir)
    yield c
    problems = c.close()
    if problems:
        for d in c.daemons():
            print(f"----- {d.name} -----\n{d.output()[-20000:]}")
    assert not problems, problems


def hosts(tasks):
    return collections.Counter(t["host"] for t in tasks)


def marathon_tasks_in_master(cluster):
    """Non-terminal tasks of the orchestrator's framework as the master sees them."""
    fws = cluster.master.state()["frameworks"]
    return [t["id"] for f in fws if f["name"] == "marathon" for t in f["tasks"]
            if t["state"] in ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING")]


# ---------------------------------------------------------------- life cycle


def test_create_scale_update_restart_rollback_delete(c3):
    api = Apps(c3.master.apps_url)
    ev = EventStream(c3.master.apps_url, types=["app_terminated_event"])
    try:
        spec = {"id": "/grp/web", "cmd": "sleep 300", "cpus": 0.1, "mem": 16, "instances": 2}
        r = api.create(spec)
        assert r.headers["Location"] == "/v2/apps/grp/web"
        body = r.json()
        did = r.headers["Marathon-Deployment-Id"]
        assert body["id"] == "/grp/web" and body["instances"] == 2
        assert [d["id"] for d in body["deployments"]] == [did]
        v1 = body["version"]
        tasks = api.wait_running("/grp/web", 2)
        for t in tasks:
            assert t["id"].startswith("grp_web.instance-") and t["id"].endswith("._app.1"), t
            assert t["version"] == v1
        d = api.wait_deployment(did)
        assert d["steps"][0]["actions"][0]["action"] == "StartApplication"
        assert api.app("/grp/web")["tasksRunning"] == 2
        ids1 = {t["id"] for t in tasks}

        # scale: the two instances stay, a third starts
        did = api.change("PUT", "/v2/apps/grp/web", {"instances": 3})
        d = api.wait_deployment(did)
        assert d["steps"][0]["actions"][0]["action"] == "ScaleApplication"
        tasks = api.wait_running("/grp/web", 3)
        assert ids1 < {t["id"] for t in tasks}
        app = api.app("/grp/web")
        v2 = app["version"]
        assert app["versionInfo"]["lastConfigChangeAt"] == v1  # scaling is not a new config
        ids2 = {t["id"] for t in tasks}

        # a new command replaces every instance
        did = api.change("PUT", "/v2/apps/grp/web", {"cmd": "sleep 301"})
        d = api.wait_deployment(did)
        assert d["steps"][0]["actions"][0]["action"] == "RestartApplication"
        app = api.app("/grp/web")
        v3 = app["version"]
        assert app["cmd"] == "sleep 301" and app["versionInfo"]["lastConfigChangeAt"] == v3
        tasks = api.wait_running("/grp/web", 3, version=v3)
        ids3 = {t["id"] for t in tasks}
        assert not ids3 & ids2

        # restart: same spec, every instance replaced, a new version
        did = api.change("POST", "/v2/apps/grp/web/restart")
        api.wait_deployment(did)
        v4 = api.app("/grp/web")["version"]
        assert v4 > v3
        tasks = api.wait_running("/grp/web", 3, version=v4)
        assert not {t["id"] for t in tasks} & ids3

        # versions, newest first
        vs = api.req("GET", "/v2/apps/grp/web/versions").json()["versions"]
        assert vs == sorted(vs, reverse=True)
        assert vs[:4] == [v4, v3, v2, v1]
        old = api.req("GET", f"/v2/apps/grp/web/versions/{v1}").json()
        assert old["instances"] == 2 and old["cmd"] == "sleep 300"

        # roll back to the first version: its command and count come back
        did = api.change("PUT", "/v2/apps/grp/web", {"version": v1})
        api.wait_deployment(did)
        app = api.app("/grp/web")
        assert app["cmd"] == "sleep 300" and app["instances"] == 2
        tasks = api.wait_running("/grp/web", 2, version=app["version"])
        assert app["version"] > v4

        # delete: the instances go, then the app, with app_terminated_event
        api.change("DELETE", "/v2/apps/grp/web")
        wait_for(lambda: api.req("GET", "/v2/apps/grp/web").status_code == 404, 20,
                 what="app gone")
        assert [t for t in api.req("GET", "/v2/tasks").json()["tasks"]
                if t["appId"] == "/grp/web"] == []
        wait_for(lambda: not marathon_tasks_in_master(c3), 20, what="tasks gone in the master")
        ev.wait("app_terminated_event", lambda e: e["appId"] == "/grp/web", timeout=10)
        assert api.req("GET", "/v2/apps").json()["apps"] == []
        assert not ev.bad
    finally:
        ev.close()


def test_unknown_app_and_routes_404(c3):
    api = Apps(c3.master.apps_url)
    assert api.req("GET", "/v2/apps/nope").status_code == 404
    assert api.req("DELETE", "/v2/apps/nope").status_code == 404
    assert api.req("GET", "/v2/deployments/00000000-0000-0000-0000-000000000000") \
        .status_code == 404
    assert "message" in api.req("GET", "/v2/apps/nope").json()
    assert api.req("GET", "/v2/apps/nope/versions").status_code == 404
    # the same API under /v2 on the master's own port
    r = requests.get(c3.master.url + "/v2/apps", timeout=5)
    assert r.status_code == 200 and r.json() == {"apps": []}


def test_restart_of_unknown_app_is_404(c3):
    api = Apps(c3.master.apps_url)
    r = api.req("POST", "/v2/apps/nope/restart")
    assert r.status_code == 404, (r.status_code, r.text)


# ---------------------------------------------------------------- placement


def test_binpack_fills_one_machine_before_the_next(c3):
    api = Apps(c3.master.apps_url)
    api.create({"id": "pack", "cmd": "sleep 300", "cpus": 0.25, "mem": 16, "instances": 4})
    tasks = api.wait_running("/pack", 4)
    counts = hosts(tasks)
    assert list(counts.values()) == [4], counts
    first = next(iter(counts))
    api.wait_deployment(api.change("PUT", "/v2/apps/pack", {"instances": 6}))
    tasks = api.wait_running("/pack", 6)
    counts = hosts(tasks)
    assert sorted(counts.values()) == [2, 4], counts
    assert counts[first] == 4


def test_spread_label_puts_one_instance_per_machine(c3):
    api = Apps(c3.master.apps_url)
    api.create({"id": "wide", "cmd": "sleep 300", "cpus": 0.1, "mem": 16, "instances": 3,
                "labels": {"corral.placement": "spread"}})
    tasks = api.wait_running("/wide", 3)
    assert sorted(hosts(tasks).values()) == [1, 1, 1], hosts(tasks)
    # the default stays bin-packing for another app
    api.create({"id": "narrow", "cmd": "sleep 300", "cpus": 0.1, "mem": 16, "instances": 3})
    assert len(hosts(api.wait_running("/narrow", 3))) == 1


def test_spread_master_flag(workdir):
    c = apps_cluster(workdir, master_extra=["--placement", "spread"])
    try:
        api = Apps(c.master.apps_url)
        assert api.req("GET", "/v2/info").json()["marathon_config"]["placement"] == "spread"
        api.create({"id": "wide", "cmd": "sleep 300", "cpus": 0.1, "mem": 16, "instances": 3})
        tasks = api.wait_running("/wide", 3)
        assert sorted(hosts(tasks).values()) == [1, 1, 1], hosts(tasks)
    finally:
        assert not c.close()


# ---------------------------------------------------------------- constraints

# agents h0 (rack ra), h1 (rack ra), h2 (rack rb); 1 cpu each
RACKS = ["ra", "ra", "rb"]
RACK_OF = {"h0": "ra", "h1": "ra", "h2": "rb"}

# (constraint, instances, cpus, check of the placement: host -> count)
CONSTRAINTS = {
    "UNIQUE": (["hostname", "UNIQUE"], 3, 0.1,
               lambda h: sorted(h.values()) == [1, 1, 1]),
    "CLUSTER": (["rack", "CLUSTER", "rb"], 3, 0.1,
                lambda h: set(h) == {"h2"}),
    "GROUP_BY": (["rack", "GROUP_BY"], 4, 0.1,
                 lambda h: h["h0"] + h["h1"] == 2 and h["h2"] == 2),
    "LIKE": (["hostname", "LIKE", "h[12]"], 6, 0.25,
             lambda h: set(h) == {"h1", "h2"} and sorted(h.values()) == [2, 4]),
    "UNLIKE": (["hostname", "UNLIKE", "h0"], 6, 0.25,
               lambda h: set(h) == {"h1", "h2"}),
    "MAX_PER": (["rack", "MAX_PER", "2"], 4, 0.1,
                lambda h: h["h0"] + h["h1"] == 2 and h["h2"] == 2),
    "IS": (["rack", "IS", "rb"], 3, 0.1,
           lambda h: set(h) == {"h2"}),
}

# an unsatisfiable version of each: (constraint, instances, placed, machines failing it)
UNSATISFIABLE = {
    "UNIQUE": (["hostname", "UNIQUE"], 4, 3, 3),
    "CLUSTER": (["rack", "CLUSTER", "rz"], 2, 0, 3),
    "GROUP_BY": (["rack", "GROUP_BY", "3"], 4, 2, 3),  # 3 racks expected, 2 exist
    "LIKE": (["hostname", "LIKE", "x.*"], 2, 0, 3),
    "UNLIKE": (["hostname", "UNLIKE", "h.*"], 2, 0, 3),
    "MAX_PER": (["rack", "MAX_PER", "1"], 3, 2, 3),
    "IS": (["rack", "IS", "rz"], 2, 0, 3),
}


@pytest.mark.parametrize("op", list(CONSTRAINTS))
def test_constraint_is_obeyed(workdir, op):
    c = apps_cluster(workdir, racks=RACKS)
    try:
        api = Apps(c.master.apps_url)
        con, n, cpus, check = CONSTRAINTS[op]
        api.create({"id": "con", "cmd": "sleep 300", "cpus": cpus, "mem": 16, "instances": n,
                    "constraints": [con]})
        tasks = api.wait_running("/con", n)
        h = hosts(tasks)
        assert check(collections.defaultdict(int, h)), (op, dict(h))
        assert api.queue_entry("/con") is None

        con, n, placed, failing = UNSATISFIABLE[op]
        api.create({"id": "bad", "cmd": "sleep 300", "cpus": 0.01, "mem": 8, "instances": n,
                    "constraints": [con]})
        requirement = ":".join(con)

        def waiting():
            q = api.queue_entry("/bad")
            return q if q and q["count"] == n - placed and "diagnosis" in q else None
        q = wait_for(waiting, 15, interval=0.2, what="the unplaceable instances in /v2/queue")
        reqs = {r["requirement"]: r["failed"] for r in q["diagnosis"]["requirements"]}
        assert q["diagnosis"]["considered"] == 3, q
        assert reqs[requirement] == failing, (requirement, q["diagnosis"])
        assert requirement in q["diagnosis"]["message"]
        wait_for(lambda: len(api.running("/bad")) == placed, 10,
                 what=f"{placed} instances of /bad running")
        q = api.queue_entry("/bad")
        assert q["count"] == n - placed
    finally:
        assert not c.close()


# ---------------------------------------------------------------- unplaceable + dry run


def test_unplaceable_app_diagnosis_and_dry_run(workdir):
    c = apps_cluster(workdir, resources=None)  # cpus:2 each
    try:
        api = Apps(c.master.apps_url)
        spec = {"id": "huge", "cmd": "sleep 300", "cpus": 5, "mem": 16, "instances": 2}
        r = api.req("POST", "/v2/apps", json=spec, params={"dry_run": "1"})
        assert r.status_code == 200, r.text
        dry = r.json()
        assert dry["dryRun"] is True and dry["placements"] == [] and dry["unplaced"] == 2
        reqs = {x["requirement"]: x["failed"] for x in dry["diagnosis"]["requirements"]}
        assert dry["diagnosis"]["considered"] == 3
        assert reqs["cpus"] == 3 and reqs["mem"] == 0 and reqs["disk"] == 0, reqs
        assert api.req("GET", "/v2/apps/huge").status_code == 404  # not created

        r = api.req("POST", "/v2/apps", json=dict(spec, cpus=0.5), params={"dry_run": "true"})
        assert r.status_code == 200 and r.json()["unplaced"] == 0
        assert len(r.json()["placements"]) == 2 and "diagnosis" not in r.json()
        assert api.req("GET", "/v2/apps").json()["apps"] == []

        api.create(spec)

        def waiting():
            q = api.queue_entry("/huge")
            return q if q and "diagnosis" in q else None
        q = wait_for(waiting, 15, interval=0.2, what="/huge in /v2/queue")
        assert q["count"] == 2
        qreqs = {x["requirement"]: x["failed"] for x in q["diagnosis"]["requirements"]}
        assert q["diagnosis"]["considered"] == 3
        assert qreqs["cpus"] == 3, qreqs
        assert "cpus failed on 3" in q["diagnosis"]["message"]
        assert api.app("/huge")["tasks"] == []
    finally:
        assert not c.close()


def test_unplaceable_diagnosis_stays_accurate(workdir):
    c = apps_cluster(workdir, resources=None)  # cpus:2, mem:1024 each
    try:
        api = Apps(c.master.apps_url)
        api.create({"id": "huge", "cmd": "sleep 300", "cpus": 5, "mem": 16, "instances": 2})
        seen = []
        deadline = time.time() + 6.5  # longer than one decline filter (5 s)
        while time.time() < deadline:
            q = api.queue_entry("/huge")
            if q and "diagnosis" in q:
                seen.append({x["requirement"]: x["failed"]
                             for x in q["diagnosis"]["requirements"]})
            time.sleep(0.25)
        assert seen
        wrong = [s for s in seen if s["cpus"] != 3 or s["mem"] != 0 or s["disk"] != 0]
        assert not wrong, f"{len(wrong)} of {len(seen)} samples wrong, e.g. {wrong[0]}"
    finally:
        assert not c.close()


# ---------------------------------------------------------------- validation


def details(r):
    return {d["path"]: d["errors"] for d in r.json().get("details", [])}


def test_bad_specs(c3):
    api = Apps(c3.master.apps_url)
    r = api.req("POST", "/v2/apps", json={"id": "x", "cmd": "y", "cpus": -1})
    assert r.status_code == 422, r.text
    assert "/cpus" in details(r), r.text

    r = api.req("POST", "/v2/apps", json={
        "id": "x", "cmd": "y",
        "upgradeStrategy": {"minimumHealthCapacity": 1, "maximumOverCapacity": 0}})
    assert r.status_code == 422 and "/upgradeStrategy" in details(r), r.text

    r = api.req("POST", "/v2/apps", json={
        "id": "x", "cmd": "y", "upgradeStrategy": {"minimumHealthCapacity": 1.5}})
    assert r.status_code == 422
    assert "/upgradeStrategy/minimumHealthCapacity" in details(r), r.text

    r = api.req("POST", "/v2/apps", json={"id": "x", "cmd": "y", "cpus": "lots"})
    assert r.status_code == 400 and "/cpus" in details(r), r.text

    r = api.req("POST", "/v2/apps", data="{not json", headers={
        "Content-Type": "application/json"})
    assert r.status_code == 400, r.text

    r = api.req("POST", "/v2/apps", json={"id": "x", "cmd": "y",
                                          "constraints": [["hostname", "SOMETIMES"]]})
    assert r.status_code == 422 and any(p.startswith("/constraints") for p in details(r)), r.text

    r = api.req("POST", "/v2/apps", json={"id": "x"})  # neither cmd nor args
    assert r.status_code == 422, r.text

    r = api.req("POST", "/v2/apps", json={"id": "Bad_Id", "cmd": "y"})
    assert r.status_code == 422 and "/id" in details(r), r.text

    # every problem is reported, not the first
    r = api.req("POST", "/v2/apps", json={"id": "x", "cmd": "y", "cpus": -1, "mem": -5,
                                          "instances": -2})
    assert r.status_code == 422
    assert {"/cpus", "/mem", "/instances"} <= set(details(r)), r.text
    assert api.req("GET", "/v2/apps").json()["apps"] == []

    spec = {"id": "dup", "cmd": "sleep 300", "cpus": 0.01, "mem": 8, "instances": 1}
    api.wait_deployment(api.create(spec).headers["Marathon-Deployment-Id"])
    r = api.req("POST", "/v2/apps", json=spec)
    assert r.status_code == 409, r.text

    r = api.req("PUT", "/v2/apps/dup", json={"cpus": -1})
    assert r.status_code == 422 and "/cpus" in details(r), r.text
    r = api.req("PUT", "/v2/apps/dup", json={"version": "1999-01-01T00:00:00.000Z"})
    assert r.status_code == 404, r.text


def test_locked_app_needs_force(c3):
    api = Apps(c3.master.apps_url)
    r = api.create({"id": "stuck", "cmd": "sleep 300", "cpus": 5, "mem": 8, "instances": 1})
    did = r.headers["Marathon-Deployment-Id"]
    assert [d["id"] for d in api.req("GET", "/v2/deployments").json()] == [did]
    r = api.req("PUT", "/v2/apps/stuck", json={"cpus": 0.01})
    assert r.status_code == 409, r.text
    assert r.json()["deployments"] == [{"id": did}]
    assert api.req("POST", "/v2/apps/stuck/restart").status_code == 409
    new = api.change("PUT", "/v2/apps/stuck", {"cpus": 0.01}, force="true")
    assert api.deployment(did)["status"] == "cancelled"
    api.wait_deployment(new)
    api.wait_running("/stuck", 1)


# ---------------------------------------------------------------- progress deadline


def test_progress_deadline_unplaceable(c3):
    api = Apps(c3.master.apps_url)
    r = api.create({"id": "big", "cmd": "sleep 300", "cpus": 5, "mem": 8, "instances": 1,
                    "upgradeStrategy": {"progressDeadlineSeconds": 3}})
    d = api.wait_deployment(r.headers["Marathon-Deployment-Id"], "failed", timeout=15)
    assert d["reason"].startswith("unplaceable"), d
    assert "cpus failed on 3" in d["reason"], d


def test_progress_deadline_crash_loop(c3):
    api = Apps(c3.master.apps_url)
    # the instance reaches RUNNING before it exits, so a health check that would pass but
    # first runs after the instance died keeps the deployment from succeeding
    r = api.create({"id": "crash", "cmd": "sleep 0.3; exit 1", "cpus": 0.01, "mem": 8,
                    "instances": 1, "backoffSeconds": 0.2, "backoffFactor": 1,
                    "healthChecks": [{"protocol": "COMMAND", "command": {"value": "true"},
                                      "intervalSeconds": 1, "delaySeconds": 2,
                                      "gracePeriodSeconds": 0}],
                    "upgradeStrategy": {"progressDeadlineSeconds": 3}})
    d = api.wait_deployment(r.headers["Marathon-Deployment-Id"], "failed", timeout=15)
    assert d["reason"].startswith("crash loop"), d


# ---------------------------------------------------------------- deployments, tasks, info


def test_deployment_delete_rolls_back_and_force_cancels(c3):
    api = Apps(c3.master.apps_url)
    api.wait_deployment(api.create({"id": "rb", "cmd": "sleep 300", "cpus": 0.01, "mem": 8,
                                    "instances": 1}).headers["Marathon-Deployment-Id"])
    api.wait_running("/rb", 1)
    v1 = api.app("/rb")["version"]
    stuck = api.change("PUT", "/v2/apps/rb", {"cpus": 5})  # cannot be placed
    assert api.deployment(stuck)["status"] == "running"
    back = api.change("DELETE", f"/v2/deployments/{stuck}")
    assert api.deployment(stuck)["status"] == "rolled_back"
    api.wait_deployment(back)
    app = api.app("/rb")
    assert app["cpus"] == 0.01 and app["version"] > v1
    api.wait_running("/rb", 1)  # the instance of the restored config is kept (its version: v1)
    assert api.req("DELETE", f"/v2/deployments/{stuck}").status_code == 404  # ended

    stuck = api.change("PUT", "/v2/apps/rb", {"cpus": 5})
    r = api.req("DELETE", f"/v2/deployments/{stuck}", params={"force": "true"})
    assert r.status_code == 202, r.text
    assert api.deployment(stuck)["status"] == "cancelled"
    assert api.app("/rb")["cpus"] == 5  # cancelled, not rolled back
    assert api.req("GET", "/v2/deployments").json() == []


def test_rollback_keeps_instances_of_the_restored_config(c3):
    api = Apps(c3.master.apps_url)
    api.wait_deployment(api.create({"id": "rb", "cmd": "sleep 300", "cpus": 0.01, "mem": 8,
                                    "instances": 1}).headers["Marathon-Deployment-Id"])
    first = {t["id"] for t in api.wait_running("/rb", 1)}
    stuck = api.change("PUT", "/v2/apps/rb", {"cpus": 5})  # cannot be placed
    api.wait_deployment(api.change("DELETE", f"/v2/deployments/{stuck}"))
    assert {t["id"] for t in api.wait_running("/rb", 1)} == first


def test_kill_tasks_with_and_without_scale(c3):
    api = Apps(c3.master.apps_url)
    api.create({"id": "k", "cmd": "sleep 300", "cpus": 0.01, "mem": 8, "instances": 3})
    ids = [t["id"] for t in api.wait_running("/k", 3)]

    # without scale: the instance is replaced
    r = api.req("DELETE", f"/v2/apps/k/tasks/{ids[0]}")
    assert r.status_code == 200 and r.json()["task"]["id"] == ids[0], r.text
    wait_for(lambda: ids[0] not in {t["id"] for t in api.app("/k")["tasks"]}, 10,
             what="the killed instance gone")
    now = {t["id"] for t in api.wait_running("/k", 3)}
    assert set(ids[1:]) <= now

    # with scale: the count goes down, a ScaleApplication deployment
    did = api.change("POST", "/v2/tasks/delete", {"ids": [ids[1]]}, scale="true")
    api.wait_deployment(did)
    assert api.app("/k")["instances"] == 2
    wait_for(lambda: ids[1] not in {t["id"] for t in api.app("/k")["tasks"]}, 10,
             what="the killed instance gone")
    api.wait_running("/k", 2)
    r = api.req("POST", "/v2/tasks/delete", json={"ids": ["no-such-task"]})
    assert r.status_code == 400, r.text
    assert len(api.req("GET", "/v2/tasks", params={"status": "running"}).json()["tasks"]) == 2


def test_info_leader_ping(c3):
    api = Apps(c3.master.apps_url)
    info = api.req("GET", "/v2/info").json()
    assert info["name"] == "marathon" and info["elected"] is True
    assert info["marathon_config"]["placement"] == "binpack"
    assert api.req("GET", "/v2/leader").json()["leader"].endswith(f":{c3.master.apps_port}")
    r = api.req("GET", "/ping")
    assert r.status_code == 200 and r.text.strip() == "pong"
    assert r.headers["X-Marathon-Leader"].endswith(f":{c3.master.apps_port}")


def test_progress_deadline_health_never_passes(c3):
    api = Apps(c3.master.apps_url)
    # nothing listens on the port; failures are ignored during the grace period, so the
    # instance is not killed: it runs, unhealthy, past the deadline
    r = api.create({"id": "mute", "cmd": "sleep 300", "cpus": 0.01, "mem": 8, "instances": 1,
                    "portDefinitions": [{"port": 0}],
                    "healthChecks": [{"protocol": "MESOS_TCP", "portIndex": 0,
                                      "intervalSeconds": 1, "delaySeconds": 0,
                                      "timeoutSeconds": 1, "gracePeriodSeconds": 60}],
                    "upgradeStrategy": {"progressDeadlineSeconds": 3}})
    d = api.wait_deployment(r.headers["Marathon-Deployment-Id"], "failed", timeout=15)
    assert d["reason"].startswith("health checks never passed"), d
    assert len(api.running("/mute")) == 1


def test_the_orchestrator_framework_is_not_for_outsiders(c3):
    """The built-in orchestrator shows as a framework, but nobody can act as it or remove it."""
    api = Apps(c3.master.apps_url)
    fid = api.req("GET", "/v2/info").json()["frameworkId"]
    st = c3.master.state()
    assert [f["name"] for f in st["frameworks"] if f["id"] == fid] == ["marathon"]
    r = requests.post(c3.master.url + "/api/v1",
                      json={"type": "TEARDOWN", "teardown": {"framework_id": {"value": fid}}})
    assert r.status_code == 400 and "built-in apps orchestrator" in r.text, r.text
    r = requests.post(c3.master.url + "/api/v1/scheduler",
                      headers={"Mesos-Stream-Id": ""},
                      json={"type": "REVIVE", "framework_id": {"value": fid}})
    assert r.status_code == 403, r.text
    r = requests.post(c3.master.url + "/api/v1/scheduler",
                      json={"type": "SUBSCRIBE", "subscribe": {"framework_info": {
                          "user": "x", "name": "x", "id": {"value": fid}}}}, stream=True)
    assert r.status_code == 403, r.text
    assert fid in [f["id"] for f in c3.master.state()["frameworks"]]


def test_list_apps_filters(c3):
    api = Apps(c3.master.apps_url)
    for name, labels in (("a", {"team": "x", "tier": "web"}), ("b", {"team": "y"}),
                         ("c", {})):
        api.create({"id": f"/f/{name}", "cmd": "sleep 300", "cpus": 0.01, "mem": 8,
                    "instances": 0, "labels": labels})

    def ids(**params):
        r = api.req("GET", "/v2/apps", params=params)
        assert r.status_code == 200, r.text
        return sorted(a["id"] for a in r.json()["apps"])
    assert ids(label="team") == ["/f/a", "/f/b"]
    assert ids(label="team==x") == ["/f/a"]
    assert ids(label="team!=x") == ["/f/b", "/f/c"]
    assert ids(label="team in (x, y),tier") == ["/f/a"]
    assert ids(label="team notin (x)") == ["/f/b", "/f/c"]
    assert ids(id="F/B") == ["/f/b"]
    assert ids(cmd="sleep") == ["/f/a", "/f/b", "/f/c"]
