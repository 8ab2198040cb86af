"""The operator API and the legacy state endpoints."""

import requests

from cluster import Scheduler, task_info


def op(cluster, call):
    return cluster.master.operator(call)


def test_health_version(cluster):
    assert op(cluster, {"type": "GET_HEALTH"}) == {"type": "GET_HEALTH",
                                                    "get_health": {"healthy": True}}
    v = op(cluster, {"type": "GET_VERSION"})["get_version"]["version_info"]
    assert v["version"]
    assert requests.get(cluster.master.url + "/health", timeout=5).status_code == 200
    assert requests.get(cluster.master.url + "/version", timeout=5).json()["version"]


def test_get_agents_frameworks_tasks_state(cluster):
    s = Scheduler(cluster.master.url, name="opfw")
    try:
        offer = s.offers()[0]
        s.launch(offer, [task_info(offer, "op1", "sleep 300")])
        s.ack(s.update("op1", "TASK_STARTING"))
        s.ack(s.update("op1", "TASK_RUNNING"))
        agents = op(cluster, {"type": "GET_AGENTS"})["get_agents"]["agents"]
        assert len(agents) == 2
        assert all(a["active"] for a in agents)
        assert {r["name"] for r in agents[0]["total_resources"]} >= {"cpus", "mem", "ports"}
        fws = op(cluster, {"type": "GET_FRAMEWORKS"})["get_frameworks"]["frameworks"]
        # the master's built-in apps orchestrator ("marathon") is a framework too
        assert sorted(f["framework_info"]["name"] for f in fws) == ["marathon", "opfw"]
        tasks = op(cluster, {"type": "GET_TASKS"})["get_tasks"]["tasks"]
        assert [(t["task_id"]["value"], t["state"]) for t in tasks] == [("op1", "TASK_RUNNING")]
        state = op(cluster, {"type": "GET_STATE"})["get_state"]
        assert set(state) >= {"get_tasks", "get_frameworks", "get_agents", "get_executors"}
    finally:
        s.close()


def test_legacy_state_shapes(cluster):
    for path in ("/state", "/master/state", "/master/state.json"):
        st = requests.get(cluster.master.url + path, timeout=5).json()
        assert len(st["slaves"]) == 2
        sl = st["slaves"][0]
        assert sl["resources"]["ports"] == "[31000-31099]"
        assert sl["resources"]["cpus"] == 2.0
        assert sl["pid"].startswith("slave(1)@127.0.0.1:")
        assert st["leader"].startswith("master@127.0.0.1:")
    r = requests.get(cluster.master.url + "/master/state?jsonp=cb", timeout=5)
    assert r.headers["Content-Type"].startswith("text/javascript")
    assert r.text.startswith("cb(")


def test_used_resources_visible(cluster):
    s = Scheduler(cluster.master.url)
    try:
        offer = s.offers()[0]
        s.launch(offer, [task_info(offer, "u1", "sleep 300", cpus=0.5, mem=100)])
        s.ack(s.update("u1", "TASK_STARTING"))
        st = cluster.master.state()
        sl = [a for a in st["slaves"] if a["id"] == offer["agent_id"]["value"]][0]
        assert sl["used_resources"]["cpus"] == 0.5
        assert sl["used_resources"]["mem"] == 100.0
    finally:
        s.close()


def test_operator_kill_task(cluster):
    s = Scheduler(cluster.master.url)
    try:
        offer = s.offers()[0]
        s.launch(offer, [task_info(offer, "opk", "sleep 300")])
        s.ack(s.update("opk", "TASK_STARTING"))
        s.ack(s.update("opk", "TASK_RUNNING"))
        r = requests.post(cluster.master.url + "/api/v1",
                          json={"type": "KILL_TASK", "kill_task": {"task_id": {"value": "opk"}}},
                          timeout=5)
        assert r.status_code == 202
        s.update("opk", "TASK_KILLED")
        r = requests.post(cluster.master.url + "/api/v1",
                          json={"type": "KILL_TASK", "kill_task": {"task_id": {"value": "zz"}}},
                          timeout=5)
        assert r.status_code == 404
    finally:
        s.close()


def test_unknown_operator_call(cluster):
    r = requests.post(cluster.master.url + "/api/v1", json={"type": "NOPE"}, timeout=5)
    assert r.status_code == 501
    r = requests.post(cluster.master.url + "/api/v1", json={"kind": "x"}, timeout=5)
    assert r.status_code == 400


def test_metrics_snapshot(cluster):
    m = requests.get(cluster.master.url + "/metrics/snapshot", timeout=5).json()
    assert m["master/slaves_active"] == 2.0
    assert m["master/cpus_total"] == 4.0
