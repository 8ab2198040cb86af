"""Container usage: the agent's /monitor/statistics, the v1 agent operator API
(GET_CONTAINERS and friends, and its answers to bad input), /metrics/snapshot, and
`corral top`, against a real master and agent running a busy task and a sleeper."""

import json
import os
import signal
import subprocess
import time

import pytest
import requests

from cluster import CORRAL, SAN_ENV, Cluster, Scheduler, free_port, task_info, wait_for

MiB = 1024 * 1024

# Agent flags of each variant: cgroups with cpu shares only (the default), cgroups with a
# hard cpu limit for every task (CFS quota: throttling figures move), posix alone (usage
# from /proc of the task's pid; limits from the task's resources).
VARIANTS = {"cgroups": [], "cfs": ["--cgroups-enable-cfs"], "posix": ["--isolation", "posix"]}


@pytest.fixture(params=sorted(VARIANTS))
def one_agent(workdir, request):
    """A master and one agent started with the variant's flags; closed and checked as the
    shared fixture does."""
    c = Cluster(workdir, agents=1, agent_extra=VARIANTS[request.param])
    c.variant = request.param
    yield c
    problems = c.close()
    if problems:
        for d in c.daemons():
            print(f"----- {d.name} -----\n{d.output()[-20000:]}")
    assert not problems, problems


def corral(cluster, *args, timeout=60, check=True):
    env = dict(os.environ, CORRAL_MASTER=f"127.0.0.1:{cluster.master.port}", **SAN_ENV)
    p = subprocess.run([CORRAL] + list(args), capture_output=True, text=True, timeout=timeout,
                       env=env)
    assert "ERROR: AddressSanitizer" not in p.stderr and "runtime error:" not in p.stderr, \
        p.stderr
    if check:
        assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    return p


def launch_running(sched, tasks_for_offer, timeout=30):
    """Launch the tasks on the first offer and acknowledge updates until all run."""
    offer = sched.offers()[0]
    tasks = tasks_for_offer(offer)
    sched.launch(offer, tasks)
    want = {t["task_id"]["value"] for t in tasks}
    running = set()
    deadline = time.time() + timeout
    while running != want:
        ev = sched.expect("UPDATE", timeout=max(0.1, deadline - time.time()))
        st = ev["update"]["status"]
        if "uuid" in st:
            sched.ack(st)
        tid = st["task_id"]["value"]
        assert st["state"] in ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING"), st
        if st["state"] == "TASK_RUNNING":
            running.add(tid)
    return offer


def kill_all(sched, task_ids, timeout=30):
    for tid in task_ids:
        sched.call("KILL", {"task_id": {"value": tid}})
    left = set(task_ids)
    deadline = time.time() + timeout
    while left and time.time() < deadline:
        try:
            ev = sched.expect("UPDATE", timeout=max(0.1, deadline - time.time()))
        except AssertionError:
            break
        st = ev["update"]["status"]
        if "uuid" in st:
            sched.ack(st)
        if st["state"] in ("TASK_KILLED", "TASK_FAILED", "TASK_FINISHED"):
            left.discard(st["task_id"]["value"])


def statistics(agent):
    r = requests.get(agent.url + "/monitor/statistics", timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    return {e["executor_id"]: e for e in r.json()}


def containers_in_state(agent):
    """task id -> container id, from the agent's /state."""
    st = requests.get(agent.url + "/state", timeout=5).json()
    out = {}
    for fw in st["frameworks"]:
        for ex in fw["executors"]:
            out[ex["id"]] = ex["container"]
    return out


def cpu(entry):
    s = entry["statistics"]
    return s["cpus_user_time_secs"] + s["cpus_system_time_secs"]


def api(agent, body, content_type="application/json", method="POST"):
    data = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body)
    headers = {"Content-Type": content_type} if content_type else {}
    return requests.request(method, agent.url + "/api/v1", data=data, headers=headers,
                            timeout=10)


def test_usage_containers_metrics_and_top(one_agent):
    cluster = one_agent
    agent = cluster.agents[0]
    sched = Scheduler(cluster.master.url, name="monitor-fw")
    ids = ["busy", "sleeper"]
    try:
        launch_running(sched, lambda o: [
            task_info(o, "busy", "while :; do :; done", cpus=0.5, mem=64),
            task_info(o, "sleeper", "sleep 300", cpus=0.1, mem=32)])

        # /monitor/statistics lists both, with the containers of /state
        stats = wait_for(lambda: (lambda s: s if set(ids) <= set(s) else None)(
            statistics(agent)), timeout=15, what="both containers in /monitor/statistics")
        in_state = containers_in_state(agent)
        for tid in ids:
            e = stats[tid]
            assert e["framework_id"] == sched.framework_id
            assert e["source"] == tid
            assert "Command Executor" in e["executor_name"]
            assert e["container_id"] and e["container_id"] == in_state[tid], (e, in_state)
            s = e["statistics"]
            for key in ("timestamp", "cpus_user_time_secs", "cpus_system_time_secs",
                        "mem_rss_bytes", "processes", "cpus_limit", "mem_limit_bytes"):
                assert key in s, (key, s)
            assert s["processes"] >= 1
            assert abs(s["timestamp"] - time.time()) < 60
        assert stats["busy"]["statistics"]["mem_limit_bytes"] == 64 * MiB
        assert stats["sleeper"]["statistics"]["mem_limit_bytes"] == 32 * MiB
        assert abs(stats["busy"]["statistics"]["cpus_limit"] - 0.5) < 1e-6
        assert abs(stats["sleeper"]["statistics"]["cpus_limit"] - 0.1) < 1e-6
        # legacy aliases
        for path in ("/monitor/statistics.json", "/slave(1)/monitor/statistics"):
            r = requests.get(agent.url + path, timeout=10)
            assert r.status_code == 200 and len(r.json()) == 2, (path, r.text)

        # the busy task's cpu time grows, the sleeper's barely moves
        first = statistics(agent)
        time.sleep(1.5)
        second = statistics(agent)
        busy_growth = cpu(second["busy"]) - cpu(first["busy"])
        sleeper_growth = cpu(second["sleeper"]) - cpu(first["sleeper"])
        elapsed = (second["busy"]["statistics"]["timestamp"]
                   - first["busy"]["statistics"]["timestamp"])
        assert elapsed > 1.0, elapsed
        assert busy_growth > 0.2 * elapsed, (busy_growth, elapsed)
        assert sleeper_growth < 0.1 * elapsed, sleeper_growth
        busy = second["busy"]["statistics"]
        if cluster.variant == "cfs":
            # capped at 0.5 cpu: throttled, and about half a cpu
            assert busy["cpus_nr_periods"] > 0 and busy["cpus_nr_throttled"] > 0, busy
            assert busy["cpus_throttled_time_secs"] > 0, busy
            assert busy_growth < 0.75 * elapsed, (busy_growth, elapsed)
        if cluster.variant == "posix":
            assert "cpus_nr_periods" not in busy and "mem_oom_kills" not in busy, busy
            assert busy["threads"] >= 1
        else:
            assert busy["mem_oom_kills"] == 0 and busy["mem_total_bytes"] > 0, busy
            assert busy["threads"] >= 1, busy  # pids.current of the container's cgroup

        # GET_CONTAINERS: the same containers, statistics, the executor's pid
        r = api(agent, {"type": "GET_CONTAINERS"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["type"] == "GET_CONTAINERS"
        conts = {c["executor_id"]["value"]: c for c in body["get_containers"]["containers"]}
        assert set(conts) == set(ids), conts
        for tid in ids:
            c = conts[tid]
            assert c["container_id"]["value"] == in_state[tid]
            assert c["framework_id"]["value"] == sched.framework_id
            assert c["executor_name"] == stats[tid]["executor_name"]
            assert c["container_status"]["executor_pid"] > 0
            rs = c["resource_statistics"]
            assert rs["mem_limit_bytes"] == stats[tid]["statistics"]["mem_limit_bytes"]
            assert rs["cpus_user_time_secs"] >= 0

        # other calls of the agent API
        r = api(agent, {"type": "GET_HEALTH"})
        assert r.status_code == 200 and r.json()["get_health"]["healthy"] is True
        r = api(agent, {"type": "GET_VERSION"})
        assert r.status_code == 200 and r.json()["get_version"]["version_info"]["version"]
        r = api(agent, {"type": "GET_STATE"})
        assert r.status_code == 200, r.text
        gs = r.json()["get_state"]
        launched = {t["task_id"]["value"]: t for t in gs["get_tasks"]["launched_tasks"]}
        assert set(launched) == set(ids)
        assert launched["busy"]["state"] == "TASK_RUNNING"
        assert gs["get_frameworks"]["frameworks"][0]["framework_info"]["id"]["value"] == \
            sched.framework_id
        assert len(gs["get_executors"]["executors"]) == 2
        r = api(agent, {"type": "GET_AGENT"})
        assert r.status_code == 200 and r.json()["get_agent"]["agent_info"]["hostname"]
        r = api(agent, {"type": "GET_METRICS"})
        assert r.status_code == 200
        names = {m["name"] for m in r.json()["get_metrics"]["metrics"]}
        assert "slave/tasks_running" in names

        # /metrics/snapshot
        m = requests.get(agent.url + "/metrics/snapshot", timeout=10).json()
        assert m["slave/tasks_running"] == 2
        assert m["slave/executors_running"] == 2
        assert m["slave/registered"] == 1
        assert m["slave/cpus_used"] == pytest.approx(0.6)
        assert m["slave/mem_used"] == 96
        assert m["containerizer/launch_latency_ms/count"] >= 2
        assert 0 < m["containerizer/launch_latency_ms/p50"] <= \
            m["containerizer/launch_latency_ms/p99"] <= m["containerizer/launch_latency_ms/max"]
        assert m["system/mem_total_bytes"] > 0 and m["system/cpus_total"] >= 1

        # corral top --once --json: both tasks, the busy one on top and busy
        p = corral(cluster, "top", "--once", "--json", timeout=60)
        rows = json.loads(p.stdout)
        by_task = {row["task_id"]: row for row in rows}
        assert set(by_task) == set(ids), rows
        assert rows[0]["task_id"] == "busy", rows
        assert by_task["busy"]["cpu_percent"] > 20, rows
        if cluster.variant == "cfs":
            assert by_task["busy"]["cpu_percent"] < 75, rows
        assert by_task["sleeper"]["cpu_percent"] < 10, rows
        assert by_task["busy"]["framework"] == "monitor-fw"
        assert by_task["busy"]["mem_limit_bytes"] == 64 * MiB
        assert by_task["busy"]["container_id"] == in_state["busy"]
        assert by_task["busy"]["agent"] == f"localhost:{agent.port}"

        # the table
        p = corral(cluster, "top", "--once", timeout=60)
        lines = p.stdout.strip().splitlines()
        assert lines[0].split()[:4] == ["TASK", "FRAMEWORK", "AGENT", "CPU%"], p.stdout
        assert len(lines) == 3, p.stdout
        assert lines[1].split()[0] == "busy" and lines[2].split()[0] == "sleeper", p.stdout
        assert "/64M" in lines[1] and "/32M" in lines[2], p.stdout

        # refreshing mode until Ctrl-C
        env = dict(os.environ, CORRAL_MASTER=f"127.0.0.1:{cluster.master.port}", **SAN_ENV)
        top = subprocess.Popen([CORRAL, "top", "--interval", "0.5"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
        time.sleep(2.5)
        top.send_signal(signal.SIGINT)
        out, err = top.communicate(timeout=20)
        assert top.returncode == 130, (top.returncode, out, err)
        assert out.count("corral top - ") >= 2, out
        assert "busy" in out and "sleeper" in out, out
        assert "runtime error:" not in err and "AddressSanitizer" not in err, err
    finally:
        kill_all(sched, ids)
        sched.close()

    # once the tasks have ended their containers are no longer listed
    wait_for(lambda: statistics(agent) == {}, timeout=15, what="no containers listed")
    r = api(agent, {"type": "GET_CONTAINERS"})
    assert r.json()["get_containers"]["containers"] == []
    p = corral(cluster, "top", "--once")
    assert "no running tasks on 1 agent" in p.stdout, p.stdout


@pytest.mark.parametrize("cluster", [1], indirect=True)
def test_agent_api_bad_input(cluster):
    agent = cluster.agents[0]
    r = api(agent, None, method="GET")
    assert r.status_code == 405 and "POST" in r.text and r.headers.get("Allow") == "POST"
    r = api(agent, {"type": "GET_HEALTH"}, content_type="text/plain")
    assert r.status_code == 415 and "Content-Type" in r.text, r.text
    r = api(agent, {"type": "GET_HEALTH"}, content_type="application/x-protobuf")
    assert r.status_code == 415 and "protobuf" in r.text, r.text
    r = api(agent, {"type": "GET_HEALTH"}, content_type=None)
    assert r.status_code == 400 and "Content-Type" in r.text, r.text
    r = api(agent, '{"type": ')
    assert r.status_code == 400 and "Failed to parse body into JSON" in r.text, r.text
    r = api(agent, "[1, 2]")
    assert r.status_code == 400, r.text
    r = api(agent, {})
    assert r.status_code == 400 and "type" in r.text, r.text
    r = api(agent, {"type": 7})
    assert r.status_code == 400 and "type" in r.text, r.text
    r = api(agent, {"type": "FROBNICATE"})
    assert r.status_code == 400 and "FROBNICATE" in r.text, r.text
    r = api(agent, {"type": "LAUNCH_NESTED_CONTAINER"})
    assert r.status_code == 501 and "LAUNCH_NESTED_CONTAINER" in r.text, r.text
    r = requests.post(agent.url + "/api/v1", data='{"type":"GET_HEALTH"}', timeout=5,
                      headers={"Content-Type": "application/json", "Accept": "text/html"})
    assert r.status_code == 406, r.text
    # the charset parameter is accepted, as by the master
    r = api(agent, {"type": "GET_HEALTH"}, content_type="application/json; charset=utf-8")
    assert r.status_code == 200, r.text
    # the GET endpoints refuse other methods
    r = requests.post(agent.url + "/monitor/statistics", timeout=5)
    assert r.status_code == 405
    r = requests.delete(agent.url + "/metrics/snapshot", timeout=5)
    assert r.status_code == 405
    # no tasks: empty lists, zero counters
    assert requests.get(agent.url + "/monitor/statistics", timeout=5).json() == []
    m = requests.get(agent.url + "/metrics/snapshot", timeout=5).json()
    assert m["slave/tasks_running"] == 0
    assert m["containerizer/launch_latency_ms/count"] == 0
    assert "containerizer/launch_latency_ms/p50" not in m
    v = requests.get(agent.url + "/version", timeout=5).json()
    assert v["version"] and v["corral_version"]
    # the agent is still healthy after all this
    assert requests.get(agent.url + "/health", timeout=5).status_code == 200


def test_top_usage_and_errors():
    env = dict(os.environ, **SAN_ENV)
    p = subprocess.run([CORRAL, "top", "--help"], capture_output=True, text=True, timeout=10,
                       env=env)
    assert p.returncode == 0 and "usage: corral top" in p.stdout, p.stdout + p.stderr
    p = subprocess.run([CORRAL, "top", "--interval", "0"], capture_output=True, text=True,
                       timeout=10, env=env)
    assert p.returncode == 2 and "interval" in p.stderr, p.stderr
    p = subprocess.run([CORRAL, "top", "extra"], capture_output=True, text=True, timeout=10,
                       env=env)
    assert p.returncode == 2, p.stderr
    # no master there: a clear error, exit 1
    p = subprocess.run([CORRAL, "top", "--once", "--master", f"127.0.0.1:{free_port()}"],
                       capture_output=True, text=True, timeout=30, env=env)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert "cannot reach the master" in p.stderr, p.stderr
    assert "runtime error:" not in p.stderr and "AddressSanitizer" not in p.stderr
