"""The apps orchestrator keeping instances alive (issue 4): rolling updates that never lose
health, crash-loop backoff, health-check replacement and its kill budget, a master restart in
the middle of a deployment, and the /v2/events stream."""

import os
import time

import pytest

from cluster import Apps, Cluster, EventStream, Master, wait_for


def http_app(app_id, instances, **extra):
    """An app serving HTTP on $PORT0 with a quick MESOS_HTTP health check."""
    spec = {"id": app_id, "cmd": "exec python3 -m http.server --bind 127.0.0.1 $PORT0",
            "cpus": 0.05, "mem": 32, "instances": instances, "portDefinitions": [{"port": 0}],
            "healthChecks": [{"protocol": "MESOS_HTTP", "path": "/", "portIndex": 0,
                              "intervalSeconds": 1, "timeoutSeconds": 1, "delaySeconds": 0,
                              "gracePeriodSeconds": 15, "maxConsecutiveFailures": 3}]}
    spec.update(extra)
    return spec


@pytest.fixture
def c1(workdir):
    c = Cluster(workdir, agents=1)
    yield c
    problems = c.close()
    if problems:
        for d in c.daemons():
            print(f"----- {d.name} -----\n{d.output()[-20000:]}")
    assert not problems, problems


# ---------------------------------------------------------------- rolling update


@pytest.mark.parametrize("over", [0.5, 1])
def test_rolling_update_never_loses_health(c1, over):
    api = Apps(c1.master.apps_url)
    strategy = {"minimumHealthCapacity": 1, "maximumOverCapacity": over}
    r = api.create(http_app("roll", 3, upgradeStrategy=strategy))
    api.wait_deployment(r.headers["Marathon-Deployment-Id"], timeout=30)
    old = {t["id"] for t in api.wait_running("/roll", 3, healthy=True)}
    for t in api.app("/roll")["tasks"]:
        assert t["healthCheckResults"][0]["alive"] is True, t

    did = api.change("PUT", "/v2/apps/roll", {"env": {"V": "2"}})
    samples = []
    while True:
        app = api.app("/roll")
        samples.append((app["tasksHealthy"], len(app["tasks"])))
        d = api.deployment(did)
        if d["status"] != "running":
            break
        assert len(samples) < 600, "deployment did not end within a minute"
        time.sleep(0.1)
    assert d["status"] == "succeeded", d
    assert min(h for h, _ in samples) >= 3, samples
    # never above instances * (1 + maximumOverCapacity)
    assert max(n for _, n in samples) <= int(3 * (1 + over)), samples
    assert max(n for _, n in samples) > 3, samples  # it did start new ones first
    tasks = api.wait_running("/roll", 3, version=api.app("/roll")["version"], healthy=True)
    assert not {t["id"] for t in tasks} & old


# ---------------------------------------------------------------- crash loop


def test_crash_loop_backs_off_and_delay_reset(c1):
    api = Apps(c1.master.apps_url)
    ev = EventStream(c1.master.apps_url, types=["status_update_event"])
    try:
        api.create({"id": "crash", "cmd": "exit 1", "cpus": 0.01, "mem": 8, "instances": 1,
                    "backoffSeconds": 1, "backoffFactor": 2, "maxLaunchDelaySeconds": 60})

        def failures():
            return [e for e in ev.of("status_update_event") if e["appId"] == "/crash"
                    and e["taskStatus"] == "TASK_FAILED"]
        delays = []

        def fourth():
            q = api.queue_entry("/crash")
            if q:
                delays.append(q["delay"]["timeLeftSeconds"])
            return len(failures()) >= 4
        wait_for(fourth, 30, interval=0.1, what="four failed launches")
        times = [time.mktime(time.strptime(e["timestamp"][:19], "%Y-%m-%dT%H:%M:%S")) +
                 float("0" + e["timestamp"][19:23]) for e in failures()[:4]]
        gaps = [b - a for a, b in zip(times, times[1:])]
        # delays 1, 2, 4 s (plus the launch): each gap longer than the one before
        assert gaps[0] >= 0.9 and gaps[1] >= 1.9 and gaps[2] >= 3.9, gaps
        assert gaps[0] < gaps[1] < gaps[2], gaps
        assert max(delays) >= 4, delays  # the queue shows the growing delay

        # the queue shows the delay now (8 s after the fourth failure)
        q = api.queue_entry("/crash")
        assert q is not None and q["delay"]["timeLeftSeconds"] >= 5, q
        assert q["delay"]["overdue"] is False
        app = api.req("GET", "/v2/apps/crash").json()["app"]
        assert app["lastTaskFailure"]["state"] == "TASK_FAILED"

        # resetting the delay launches again at once
        n = len(failures())
        r = api.req("DELETE", "/v2/queue/crash/delay")
        assert r.status_code == 204, r.text
        t0 = time.time()
        wait_for(lambda: len(failures()) > n, 5, interval=0.05, what="a launch after the reset")
        assert time.time() - t0 < 3
        # the failure count started over: the next delay is the first one again
        q = api.queue_entry("/crash")
        assert q is None or q["delay"]["timeLeftSeconds"] <= 1, q
        assert api.req("DELETE", "/v2/queue/nope/delay").status_code == 404
        assert not ev.bad
    finally:
        ev.close()


def test_backoff_resets_after_a_healthy_period(workdir):
    # tasks have a private /tmp; /dev/shm is shared
    counter = f"/dev/shm/{os.path.basename(workdir)}-attempts"
    c = Cluster(workdir, agents=1, master_extra=["--backoff-reset", "2secs"])
    ev = EventStream(c.master.apps_url, types=["status_update_event"])
    try:
        api = Apps(c.master.apps_url)
        # attempts 1-3 fail at once, attempt 4 runs 4 s (past --backoff-reset) then fails,
        # later ones run
        cmd = (f"n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; "
               "if [ $n -le 3 ]; then exit 1; fi; if [ $n -eq 4 ]; then sleep 4; exit 1; fi; "
               "exec sleep 300")
        api.create({"id": "flaky", "cmd": cmd, "cpus": 0.01, "mem": 8, "instances": 1,
                    "backoffSeconds": 0.5, "backoffFactor": 2})

        def failed():
            return [e for e in ev.of("status_update_event")
                    if e["appId"] == "/flaky" and e["taskStatus"] == "TASK_FAILED"]
        wait_for(lambda: len(failed()) >= 4, 30, interval=0.1, what="the fourth failure")
        t_fail = time.time()
        fourth = failed()[3]["taskId"]

        def relaunched():
            return [e for e in ev.of("status_update_event")
                    if e["appId"] == "/flaky" and e["taskStatus"] == "TASK_RUNNING"
                    and e["taskId"] != fourth and e["taskId"] not in
                    {f["taskId"] for f in failed()}]
        wait_for(relaunched, 10, interval=0.05, what="a fifth launch")
        # after the reset the delay is the first one again (0.5 s), not 0.5 * 2^3 = 4 s
        assert time.time() - t_fail < 2.5
        api.wait_running("/flaky", 1)
        assert not ev.bad
    finally:
        ev.close()
        problems = c.close()
        if os.path.exists(counter):
            os.unlink(counter)
        assert not problems, problems


# ---------------------------------------------------------------- health-check kills


def failing_check(**extra):
    hc = {"protocol": "COMMAND", "command": {"value": "exit 1"}, "intervalSeconds": 1,
          "timeoutSeconds": 1, "delaySeconds": 0, "gracePeriodSeconds": 0,
          "maxConsecutiveFailures": 2}
    hc.update(extra)
    return hc


def test_failing_health_check_replaces_instance(c1):
    api = Apps(c1.master.apps_url)
    ev = EventStream(c1.master.apps_url, types=["unhealthy_instance_kill_event",
                                                "health_status_changed_event"])
    try:
        api.create({"id": "sick", "cmd": "sleep 300", "cpus": 0.01, "mem": 8, "instances": 1,
                    "healthChecks": [failing_check()]})
        first = wait_for(lambda: api.app("/sick")["tasks"], 10, what="an instance")[0]["id"]
        k = ev.wait("unhealthy_instance_kill_event", lambda e: e["taskId"] == first, timeout=15)
        kill = ev.events[k][1]
        assert kill["appId"] == "/sick" and kill["instanceId"] == first
        ev.wait("health_status_changed_event",
                lambda e: e["instanceId"] == first and e["alive"] is False, timeout=1)

        def replaced():
            ts = api.app("/sick")["tasks"]
            return [t for t in ts if t["id"] != first and t["state"] == "TASK_RUNNING"]
        wait_for(replaced, 15, what="a replacement instance")
        wait_for(lambda: first not in {t["id"] for t in api.app("/sick")["tasks"]}, 10,
                 what="the unhealthy instance gone")
    finally:
        ev.close()


def test_health_kill_budget(workdir):
    c = Cluster(workdir, agents=1, master_extra=["--health-kill-fraction", "0.34",
                                                 "--health-kill-window", "60secs"])
    ev = EventStream(c.master.apps_url, types=["unhealthy_instance_kill_event",
                                               "health_kill_budget_exhausted_event"])
    try:
        api = Apps(c.master.apps_url)
        api.create({"id": "sick", "cmd": "sleep 300", "cpus": 0.01, "mem": 8, "instances": 3,
                    "healthChecks": [failing_check()]})
        ev.wait("health_kill_budget_exhausted_event", lambda e: e["appId"] == "/sick",
                timeout=15)
        time.sleep(4)  # several more failed checks on every instance
        kills = ev.of("unhealthy_instance_kill_event")
        assert len(kills) == 1, kills
        assert len(ev.of("health_kill_budget_exhausted_event")) == 1
        # the two others are kept (running, unhealthy)
        app = api.app("/sick")
        assert app["tasksUnhealthy"] >= 2, app
        assert kills[0]["taskId"] not in {t["id"] for t in app["tasks"]
                                          if t["state"] == "TASK_RUNNING"}
        assert not ev.bad
    finally:
        ev.close()
        problems = c.close()
        assert not problems, problems


# ---------------------------------------------------------------- master restart


def test_master_restart_mid_deployment(workdir):
    c = Cluster(workdir, agents=1)
    try:
        api = Apps(c.master.apps_url)
        spec = {"id": "slow", "cmd": "sleep 300", "cpus": 0.05, "mem": 16, "instances": 2,
                "upgradeStrategy": {"minimumHealthCapacity": 1, "maximumOverCapacity": 1}}
        api.wait_deployment(api.create(spec).headers["Marathon-Deployment-Id"])
        old = {t["id"] for t in api.wait_running("/slow", 2)}

        # the new version serves HTTP only after 6 s: its instances turn healthy late, and
        # the old ones must stay until then
        new = http_app("slow", 2, cmd="sleep 6; exec python3 -m http.server --bind 127.0.0.1 "
                       "$PORT0", upgradeStrategy=spec["upgradeStrategy"])
        did = api.change("PUT", "/v2/apps/slow", new)
        wait_for(lambda: len(api.running("/slow")) == 4, 10, interval=0.1,
                 what="the new instances running (not healthy yet)")
        launched = {t["id"] for t in api.app("/slow")["tasks"]} - old

        assert c.master.stop() == 0
        m = c.master
        c.master = Master(workdir, port=m.port, raft_port=m.raft_port, apps_port=m.apps_port)
        c.master.start().wait_ready()
        wait_for(lambda: api.req("GET", "/v2/apps/slow").status_code == 200, 15,
                 what="the orchestrator back")
        assert [d["id"] for d in api.req("GET", "/v2/deployments").json()] == [did]
        assert {t["id"] for t in api.app("/slow")["tasks"]} == old | launched
        c.wait_agents(1)
        # reconciliation confirms what the agent re-registered with: nothing was killed
        wait_for(lambda: all(t["state"] == "TASK_RUNNING" for t in api.app("/slow")["tasks"]
                             if t["id"] in old), 10, what="the old instances confirmed running")

        # until a new instance is healthy, both old ones keep running
        t0 = time.time()
        while time.time() - t0 < 3:
            app = api.app("/slow")
            if app["tasksHealthy"] > 0:
                break
            states = {t["id"]: t["state"] for t in app["tasks"]}
            assert all(states.get(i) == "TASK_RUNNING" for i in old), states
            time.sleep(0.2)

        api.wait_deployment(did, timeout=30)
        app = api.app("/slow")
        final = {t["id"] for t in api.wait_running("/slow", 2, healthy=True,
                                                   version=app["version"])}
        assert final == launched, (final, launched)  # adopted, not launched again
        assert api.req("GET", "/v2/deployments").json() == []
        wait_for(lambda: not [t for f in c.master.state()["frameworks"] for t in f["tasks"]
                              if t["id"] in old], 10, what="the old tasks gone")
    finally:
        problems = c.close()
        assert not problems, problems


# ---------------------------------------------------------------- event stream


def test_event_stream_order_filters_and_accept(c1):
    api = Apps(c1.master.apps_url)
    every = EventStream(c1.master.apps_url)
    only = EventStream(c1.master.apps_url, types=["deployment_success"])
    two = EventStream(c1.master.apps_url, types=["deployment_info", "deployment_success"])
    try:
        assert every.status == 200
        assert every.headers["content-type"].startswith("text/event-stream")
        every.wait("event_stream_attached", timeout=5)
        assert every.types()[0] == "event_stream_attached"

        r = api.create({"id": "sse", "cmd": "sleep 300", "cpus": 0.01, "mem": 8,
                        "instances": 2})
        did = r.headers["Marathon-Deployment-Id"]
        done = every.wait("deployment_success", lambda e: e["id"] == did, timeout=20)
        post = every.wait("api_post_event", lambda e: e["appDefinition"]["id"] == "/sse")
        info = every.wait("deployment_info", lambda e: e["plan"]["id"] == did)
        running = [k for k, (t, d, _) in enumerate(every.events)
                   if t == "status_update_event" and d["appId"] == "/sse"
                   and d["taskStatus"] == "TASK_RUNNING"]
        assert len(running) == 2, every.types()
        assert post < info < min(running) and max(running) < done, every.types()
        assert every.events[post][1]["uri"] == "/v2/apps"

        only.wait("deployment_success", lambda e: e["id"] == did, timeout=5)
        two.wait("deployment_success", lambda e: e["id"] == did, timeout=5)
        assert set(only.types()) == {"deployment_success"}, only.types()
        assert set(two.types()) == {"deployment_info", "deployment_success"}, two.types()
        assert two.types().index("deployment_info") < two.types().index("deployment_success")
        for s in (every, only, two):
            assert not s.bad, s.bad

        wrong = EventStream(c1.master.apps_url, accept="application/json")
        assert wrong.status == 405
        wrong.close()
    finally:
        for s in (every, only, two):
            s.close()
