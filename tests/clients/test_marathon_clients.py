"""Marathon clients against Corral's apps port (issue 4, API-COMPAT.md §6 and §7.2).

* A third-party client, unchanged: npm marathon-event-bus-client@0.1.7 subscribes to the SSE
  event bus /v2/events (marathon_event_bus_client.js prints what it receives) while an app is
  created with a plain POST /v2/apps; it must see the POST, the deployment, the tasks running
  and the deployment's success, in that order. It must also idle across heartbeats without
  reconnecting, and reconnect by itself when the master restarts.
* Marathon's plain REST shapes that such tools read, with requests only: /v2/info, /ping,
  /v2/apps/{id} (tasks with host and ports), /v2/tasks.
Every test deletes its app and waits until it is gone (GET 404), so no task outlives it."""

import json
import os
import subprocess
import threading
import time

import requests
from cluster import Cluster, Master

HERE = os.path.dirname(os.path.abspath(__file__))
APP_ID = "/bus-test"
PORTS_ID = "/bus-test-ports"
APP = {"id": APP_ID, "cmd": "sleep 600", "cpus": 0.1, "mem": 16, "instances": 2}


def wait_until(pred, timeout, what):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = pred()
            if last:
                return last
        except (requests.RequestException, ValueError, KeyError) as e:
            last = e
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def post_app(apps_url):
    """POST the test app; returns (response, deployment id)."""
    r = requests.post(apps_url + "/v2/apps", json=APP, timeout=10)
    assert r.status_code == 201, (r.status_code, r.text)
    did = r.headers.get("Marathon-Deployment-Id")
    assert did, r.headers
    return r, did


def delete_app_and_wait(apps_url, app_id=APP_ID):
    """DELETE the app (if it exists) and wait until GET answers 404: its tasks are killed."""
    r = requests.delete(apps_url + "/v2/apps" + app_id, timeout=10)
    assert r.status_code in (200, 404), (r.status_code, r.text)
    wait_until(lambda: requests.get(apps_url + "/v2/apps" + app_id, timeout=5).status_code
               == 404, 30, f"{app_id} to be gone")


def wait_running(apps_url, n, app_id=APP_ID):
    def ok():
        app = requests.get(apps_url + "/v2/apps" + app_id, timeout=5).json()["app"]
        ts = app["tasks"]
        return ts if len(ts) == n and all(t["state"] == "TASK_RUNNING" for t in ts) else None
    return wait_until(ok, 30, f"{n} running tasks of {app_id}")


class NodeClient:
    """marathon_event_bus_client.js running in the background; a thread keeps its lines."""

    def __init__(self, apps_port, timeout_ms=60000):
        env = dict(os.environ, MARATHON_PORT=str(apps_port), APP_ID=APP_ID,
                   TIMEOUT_MS=str(timeout_ms))
        self.proc = subprocess.Popen(["node", "marathon_event_bus_client.js"], cwd=HERE,
                                     env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def output(self):
        with self.cond:
            return "\n".join(self.lines)

    def wait_line(self, word, timeout, count=1):
        """Wait until the client printed count lines starting with word."""
        deadline = time.time() + timeout
        with self.cond:
            while sum(ln.split(" ", 1)[0] == word for ln in self.lines) < count:
                left = deadline - time.time()
                if left <= 0 or (self.proc.poll() is not None and not self.thread.is_alive()):
                    raise AssertionError(f"the client printed no {word}:\n" + "\n".join(
                        self.lines))
                self.cond.wait(min(left, 0.2))

    def wait_exit(self, timeout):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError("the client did not exit:\n" + self.output())
        self.thread.join(5)
        return rc

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()  # our own child, by its pid
            self.proc.wait()
        self.thread.join(5)


def parse_events(lines):
    """The EVENT lines as (type, {key: value}) in the order the client printed them."""
    events = []
    for ln in lines:
        parts = ln.split(" ")
        if parts[0] != "EVENT":
            continue
        events.append((parts[1], dict(p.split("=", 1) for p in parts[2:] if "=" in p)))
    return events


def first(events, pred, what, out):
    for k, (t, f) in enumerate(events):
        if pred(t, f):
            return k
    raise AssertionError(f"the client saw no {what}:\n{out}")


def test_npm_marathon_event_bus_client_follows_a_deployment(cluster):
    assert os.path.isdir(os.path.join(HERE, "node_modules", "marathon-event-bus-client")), \
        "run scripts/setup.sh --test (npm install) first"
    apps_url = cluster.master.apps_url
    wait_until(lambda: requests.get(apps_url + "/ping", timeout=5).status_code == 200, 20,
               "the apps port")
    client = NodeClient(cluster.master.apps_port)
    try:
        client.wait_line("SUBSCRIBED", 20)
        _, did = post_app(apps_url)
        rc = client.wait_exit(60)
        out = client.output()
        assert rc == 0, out
        lines = out.split("\n")
        assert lines.count("SUBSCRIBED") == 1, out  # no reconnection
        done = lines.index("DONE")
        assert not [ln for ln in lines[:done] if ln.startswith("ERROR")], out

        events = parse_events(lines)
        for t, f in events:  # every payload carries its type and an ISO-8601 timestamp
            assert f["eventType"] == t, out
            assert f["timestamp"].endswith("Z") and "T" in f["timestamp"], out
        post = first(events, lambda t, f: t == "api_post_event" and f.get("app") == APP_ID,
                     "api_post_event", out)
        assert events[post][1]["uri"] == "/v2/apps", out
        # (Marathon names the app in plan.steps, Corral in affectedApps: either will do here;
        # the payload's shape is the next test's business)
        info = first(events, lambda t, f: t == "deployment_info" and APP_ID in (
            json.loads(f.get("planApps", "[]")) + json.loads(f.get("affectedApps", "[]"))),
            f"deployment_info for {APP_ID}", out)
        running = first(events, lambda t, f: t == "status_update_event" and
                        f.get("appId") == APP_ID and f.get("taskStatus") == "TASK_RUNNING",
                        f"status_update_event TASK_RUNNING for {APP_ID}", out)
        success = first(events, lambda t, f: t == "deployment_success" and f.get("id") == did,
                        f"deployment_success id={did}", out)
        assert post < info < running < success, out
        run = events[running][1]
        assert run["host"] not in ("", "''") and run["slaveId"] not in ("", "''"), out
        assert run["taskId"].startswith("bus-test."), out
        # both instances ran before the deployment succeeded
        ran = {f["taskId"] for t, f in events[:success]
               if t == "status_update_event" and f.get("taskStatus") == "TASK_RUNNING"}
        assert len(ran) == 2, out
    finally:
        client.stop()
        delete_app_and_wait(apps_url)


def test_npm_marathon_event_bus_client_deployment_payloads(cluster):
    """Marathon's deployment events carry the plan: deployment_info has plan {id, steps,
    version} and currentStep {actions: [{action, app}]}; deployment_success has id and
    plan (API-COMPAT.md §6.7). Clients of the event bus read plan.id and the step's
    actions from there."""
    apps_url = cluster.master.apps_url
    wait_until(lambda: requests.get(apps_url + "/ping", timeout=5).status_code == 200, 20,
               "the apps port")
    client = NodeClient(cluster.master.apps_port)
    try:
        client.wait_line("SUBSCRIBED", 20)
        _, did = post_app(apps_url)
        rc = client.wait_exit(60)
        out = client.output()
        assert rc == 0, out
        events = parse_events(out.split("\n"))
        info = [f for t, f in events if t == "deployment_info"]
        assert info, out
        assert info[0].get("planId") == did, out
        assert info[0].get("planApps") == f'["{APP_ID}"]', out
        assert info[0].get("currentStep") == f"StartApplication:{APP_ID}", out
        ok = [f for t, f in events if t == "deployment_success" and f.get("id") == did]
        assert ok and ok[0].get("planId") == did, out
        assert ok[0].get("planApps") == f'["{APP_ID}"]', out
    finally:
        client.stop()
        delete_app_and_wait(apps_url)


def test_marathon_rest_shapes(cluster):
    apps_url = cluster.master.apps_url
    wait_until(lambda: requests.get(apps_url + "/ping", timeout=5).status_code == 200, 20,
               "the apps port")

    r = requests.get(apps_url + "/ping", timeout=5)
    assert r.status_code == 200 and r.text.strip() == "pong", (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("text/plain"), r.headers

    try:
        _, did = post_app(apps_url)
        tasks = wait_running(apps_url, 2)

        r = requests.get(apps_url + "/v2/info", timeout=5)
        assert r.status_code == 200, r.text
        info = r.json()
        assert info["name"] == "marathon", info
        assert isinstance(info["frameworkId"], str) and info["frameworkId"], info
        fws = [f["id"] for f in cluster.master.state()["frameworks"] if f["name"] == "marathon"]
        assert fws == [info["frameworkId"]], (fws, info)
        assert info["elected"] is True, info
        assert info["leader"] == f"127.0.0.1:{cluster.master.apps_port}", info
        assert r.headers["X-Marathon-Leader"] == apps_url, r.headers
        assert isinstance(info["marathon_config"], dict), info
        assert info["http_config"]["http_port"] == cluster.master.apps_port, info

        r = requests.get(apps_url + "/v2/apps" + APP_ID, timeout=5)
        assert r.status_code == 200, r.text
        app = r.json()["app"]
        assert app["id"] == APP_ID and app["instances"] == 2, app
        assert app["tasksRunning"] == 2, app
        assert len(app["tasks"]) == 2, app
        agent_ids = {s["id"] for s in cluster.master.state()["slaves"]}
        for t in app["tasks"]:
            assert t["appId"] == APP_ID and t["state"] == "TASK_RUNNING", t
            assert t["host"] == "localhost", t
            assert t["slaveId"] in agent_ids, t
            assert isinstance(t["ports"], list), t
            assert all(isinstance(p, int) for p in t["ports"]), t
            assert t["id"].startswith("bus-test."), t
            assert t["startedAt"].endswith("Z") and t["version"] == app["version"], t

        r = requests.get(apps_url + "/v2/tasks", timeout=5)
        assert r.status_code == 200, r.text
        listed = {t["id"]: t for t in r.json()["tasks"] if t["appId"] == APP_ID}
        assert set(listed) == {t["id"] for t in tasks}, (listed, tasks)
        for t in listed.values():
            assert t["host"] == "localhost" and isinstance(t["ports"], list), t
            assert t["state"] == "TASK_RUNNING", t

        r = requests.get(apps_url + "/v2/deployments", timeout=5)
        assert r.status_code == 200 and did not in [d["id"] for d in r.json()], r.text

        # an app that asks for a port: its task gets one host port from the agent's range,
        # in /v2/apps/{id} and in /v2/tasks alike
        r = requests.post(apps_url + "/v2/apps", timeout=10, json={
            "id": PORTS_ID, "cmd": "sleep 600", "cpus": 0.1, "mem": 16, "instances": 1,
            "portDefinitions": [{"port": 0, "name": "http"}]})
        assert r.status_code == 201, r.text
        (task,) = wait_running(apps_url, 1, PORTS_ID)
        assert task["host"] == "localhost", task
        assert len(task["ports"]) == 1 and 31000 <= task["ports"][0] <= 31099, task
        r = requests.get(apps_url + "/v2/tasks", timeout=5)
        (listed,) = [t for t in r.json()["tasks"] if t["appId"] == PORTS_ID]
        assert listed["id"] == task["id"] and listed["ports"] == task["ports"], listed
    finally:
        delete_app_and_wait(apps_url, PORTS_ID)
        delete_app_and_wait(apps_url)
    r = requests.get(apps_url + "/v2/tasks", timeout=5)
    assert not [t for t in r.json()["tasks"] if t["appId"] in (APP_ID, PORTS_ID)], r.text


def test_app_without_port_definitions_gets_marathons_default_port(cluster):
    apps_url = cluster.master.apps_url
    wait_until(lambda: requests.get(apps_url + "/ping", timeout=5).status_code == 200, 20,
               "the apps port")
    try:
        post_app(apps_url)
        tasks = wait_running(apps_url, 2)
        app = requests.get(apps_url + "/v2/apps" + APP_ID, timeout=5).json()["app"]
        assert len(app["portDefinitions"]) == 1, app
        for t in tasks:
            assert len(t["ports"]) == 1 and 31000 <= t["ports"][0] <= 31099, t
    finally:
        delete_app_and_wait(apps_url)


def test_npm_marathon_event_bus_client_survives_heartbeats_and_a_master_restart(workdir):
    """The stream idles past a heartbeat (a bare CRLF every 10 s) without the library
    reconnecting; when the master restarts, the library reconnects by itself (1 s retry;
    503 while the orchestrator starts) and follows a deployment made afterwards."""
    c = Cluster(workdir, agents=1)
    client = None
    try:
        apps_url = c.master.apps_url
        wait_until(lambda: requests.get(apps_url + "/ping", timeout=5).status_code == 200, 20,
                   "the apps port")
        client = NodeClient(c.master.apps_port, timeout_ms=120000)
        client.wait_line("SUBSCRIBED", 20)
        time.sleep(11.5)  # one heartbeat at least
        assert client.output().split("\n").count("SUBSCRIBED") == 1, client.output()
        assert "ERROR" not in client.output(), client.output()

        assert c.master.stop() == 0
        client.wait_line("ERROR", 10)  # the library saw the stream end
        m = c.master
        c.master = Master(workdir, port=m.port, raft_port=m.raft_port, apps_port=m.apps_port)
        c.master.start().wait_ready()
        c.wait_agents(1)
        client.wait_line("SUBSCRIBED", 30, count=2)

        _, did = post_app(apps_url)
        rc = client.wait_exit(60)
        out = client.output()
        assert rc == 0, out
        lines = out.split("\n")
        second = [k for k, ln in enumerate(lines) if ln == "SUBSCRIBED"][1]
        assert not [ln for ln in lines[second:] if ln.startswith("ERROR")], out
        events = parse_events(lines[second:])
        first(events, lambda t, f: t == "deployment_success" and f.get("id") == did,
              f"deployment_success id={did} after the reconnection", out)
        delete_app_and_wait(apps_url)
    finally:
        if client:
            client.stop()
        problems = c.close()
        assert not problems, problems
