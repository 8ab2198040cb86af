"""The app verbs of the CLI (issue 4) against a real cluster: corral run, apps, scale,
restart, rollback, why, deploy and logs <app>. Each verb once: exit code and key output."""

import json
import os
import re
import signal
import subprocess
import time

import pytest

from cluster import CORRAL, SAN_ENV, Apps, Cluster, Master, wait_for
from test_apps_health import http_app


@pytest.fixture
def c1(workdir):
    c = Cluster(workdir, agents=1)
    yield c
    problems = c.close()
    if problems:
        for d in c.daemons():
            print(f"----- {d.name} -----\n{d.output()[-20000:]}")
    assert not problems, problems


def env_of(cluster):
    return dict(os.environ, CORRAL_MASTER=f"127.0.0.1:{cluster.master.port}", **SAN_ENV)


def corral(cluster, *args, code=0, stdin=None, timeout=60):
    p = subprocess.run([CORRAL] + list(args), capture_output=True, text=True, timeout=timeout,
                       env=env_of(cluster), input=stdin)
    for out in (p.stdout, p.stderr):
        assert "ERROR: AddressSanitizer" not in out and "runtime error:" not in out, out
    assert p.returncode == code, (args, p.returncode, p.stdout, p.stderr)
    return p


def table(text):
    """Rows of a table printed with a header line: list of dicts by header name."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    head = lines[0].split()
    return [dict(zip(head, re.split(r"\s{2,}", ln.strip()))) for ln in lines[1:]]


def test_run_apps_scale_restart_rollback(c1):
    api = Apps(c1.master.apps_url)
    p = corral(c1, "run", "--name", "web", "-n", "2", "--cpus", "0.05", "--mem", "16",
               "--health", "http", "--", "exec python3 -m http.server --bind 127.0.0.1 $PORT0")
    out = p.stdout
    assert "creating web" in out
    assert re.search(r"deployment \S+ succeeded", out), out
    assert "web: 2 of 2 instances running" in out, out
    rows = table(out[out.index("INSTANCE"):])
    assert len(rows) == 2 and all(r["STATE"] == "RUNNING" and r["HEALTH"] == "healthy"
                                  for r in rows), rows
    assert all(re.fullmatch(r"localhost:310\d\d", r["ADDRESS"]) for r in rows), rows
    app = api.app("/web")
    assert app["tasksHealthy"] == 2 and app["healthChecks"][0]["protocol"] == "MESOS_HTTP"

    rows = table(corral(c1, "apps").stdout)
    assert rows == [{"ID": "web", "INSTANCES": "2/2/0/2", "DEPLOYMENT": "none",
                     "CMD": rows[0]["CMD"]}], rows
    listed = json.loads(corral(c1, "apps", "--json").stdout)
    assert [a["id"] for a in listed] == ["/web"]

    v_before = api.app("/web")["version"]
    p = corral(c1, "scale", "web", "3", "--wait")
    assert re.search(r"deployment \S+ succeeded", p.stdout), p.stdout
    api.wait_running("/web", 3, healthy=True)
    assert table(corral(c1, "apps").stdout)[0]["INSTANCES"] == "3/3/0/3"

    before = {t["id"] for t in api.app("/web")["tasks"]}
    p = corral(c1, "restart", "web", "--wait")
    assert re.search(r"deployment \S+ succeeded", p.stdout), p.stdout
    after = {t["id"] for t in api.wait_running("/web", 3, healthy=True)}
    assert not before & after

    # back to the version before the restart's (the scaled one), then to an explicit one
    p = corral(c1, "rollback", "web", "--wait")
    assert "rolling web back to version" in p.stdout, p.stdout
    assert re.search(r"deployment \S+ succeeded", p.stdout), p.stdout
    p = corral(c1, "rollback", "web", v_before, "--wait")
    assert api.app("/web")["instances"] == 2
    api.wait_running("/web", 2, healthy=True)

    # errors: unknown app, missing arguments
    p = corral(c1, "restart", "nope", code=1)
    assert "nope" in p.stderr, p.stderr
    corral(c1, "scale", "web", code=2)
    corral(c1, "run", "--name", "x", code=2)  # no command


def test_why_explains_waiting_instances(c1):
    corral(c1, "run", "--name", "big", "--cpus", "5", "--mem", "16", "--no-wait", "--",
           "sleep 300")
    api = Apps(c1.master.apps_url)
    wait_for(lambda: (api.queue_entry("/big") or {}).get("diagnosis"), 10, what="a diagnosis")
    out = corral(c1, "why", "big").stdout
    assert "big: 1 instance waiting" in out, out
    assert re.search(r"cpus\s+1 of 1 machine short", out), out
    assert "1 machine considered" in out, out

    corral(c1, "run", "--name", "ok", "--cpus", "0.01", "--mem", "8", "--", "sleep 300")
    out = corral(c1, "why", "ok").stdout
    assert "every instance is placed" in out, out
    corral(c1, "why", "nope", code=1)


def test_deploy_file_stdin_and_failure(c1, tmp_path):
    api = Apps(c1.master.apps_url)
    f = tmp_path / "app.json"
    f.write_text(json.dumps({"id": "dep", "cmd": "sleep 300", "cpus": 0.01, "mem": 8,
                             "instances": 1}))
    p = corral(c1, "deploy", "-f", str(f), "--wait")
    assert "deploying dep" in p.stdout and re.search(r"deployment \S+ succeeded", p.stdout)
    api.wait_running("/dep", 1)

    # an update from stdin, as a list (PUT /v2/apps)
    p = corral(c1, "deploy", "-f", "-", "--wait", stdin=json.dumps(
        [{"id": "dep", "cmd": "sleep 301", "cpus": 0.01, "mem": 8, "instances": 2}]))
    assert re.search(r"deployment \S+ succeeded", p.stdout), p.stdout
    tasks = api.wait_running("/dep", 2, version=api.app("/dep")["version"])
    assert api.app("/dep")["cmd"] == "sleep 301" and len(tasks) == 2

    # a deployment that fails: exit 1 with the reason
    f.write_text(json.dumps({"id": "dep2", "cmd": "sleep 300", "cpus": 9, "mem": 8,
                             "upgradeStrategy": {"progressDeadlineSeconds": 2}}))
    p = corral(c1, "deploy", "-f", str(f), "--wait", code=1)
    assert re.search(r"deployment \S+ failed: unplaceable", p.stderr), p.stderr

    # an invalid app: the field and the message, no deployment
    f.write_text(json.dumps({"id": "dep3", "cmd": "sleep 300", "cpus": -1}))
    p = corral(c1, "deploy", "-f", str(f), code=1)
    assert "422" in p.stderr and "/cpus" in p.stderr, p.stderr
    assert api.req("GET", "/v2/apps/dep3").status_code == 404
    corral(c1, "deploy", "-f", str(tmp_path / "missing.json"), code=1)


def test_logs_of_an_app(c1):
    corral(c1, "run", "--name", "talk", "-n", "2", "--cpus", "0.01", "--mem", "8", "--",
           "echo hello-$MESOS_TASK_ID; sleep 300")
    api = Apps(c1.master.apps_url)
    ids = [t["id"] for t in api.wait_running("/talk", 2)]

    def both():
        out = corral(c1, "logs", "talk").stdout
        return out if all(f"hello-{i}" in out for i in ids) else None
    out = wait_for(both, 10, what="both instances' output")
    for line in out.splitlines():
        assert re.fullmatch(r"\[talk\.[0-9a-f]{4}\] hello-talk\.instance-\S+", line), line

    # -f follows, including an instance started later; stopped by us (SIGINT)
    p = subprocess.Popen([CORRAL, "logs", "-f", "talk"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env_of(c1))
    try:
        time.sleep(1)
        corral(c1, "scale", "talk", "3", "--wait")
        new = [t["id"] for t in api.wait_running("/talk", 3) if t["id"] not in ids][0]
        seen = []
        deadline = time.time() + 15
        while time.time() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            seen.append(line)
            if f"hello-{new}" in line:
                break
        assert any(f"hello-{new}" in ln for ln in seen), seen
    finally:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    assert "runtime error:" not in p.stderr.read()
    corral(c1, "logs", "nope", code=1)


def test_deploy_wait_survives_a_master_restart(c1, tmp_path):
    f = tmp_path / "app.json"
    f.write_text(json.dumps(http_app("late", 1, cmd="sleep 4; exec python3 -m http.server "
                                     "--bind 127.0.0.1 $PORT0")))
    p = subprocess.Popen([CORRAL, "deploy", "-f", str(f), "--wait"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env_of(c1))
    try:
        api = Apps(c1.master.apps_url)
        wait_for(lambda: api.running("/late"), 10, interval=0.1, what="the instance running")
        assert c1.master.stop() == 0
        m = c1.master
        c1.master = Master(c1.workdir, port=m.port, raft_port=m.raft_port,
                           apps_port=m.apps_port).start().wait_ready()
        out, err = p.communicate(timeout=40)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, (out, err)
    assert re.search(r"deployment \S+ succeeded", out), (out, err)


def test_scale_unknown_app_says_so(c1):
    p = corral(c1, "scale", "nope", "2", code=1)
    assert re.search(r"does not exist|not found|no app", p.stderr, re.I), p.stderr
