"""The command-line verbs against a real cluster, and `corral up`."""

import json
import re
import os
import signal
import subprocess
import time

import requests

from cluster import CORRAL, SAN_ENV, free_port, reap_strays, wait_for


def corral(cluster, *args, timeout=60, check=True):
    env = dict(os.environ, CORRAL_MASTER=f"127.0.0.1:{cluster.master.port}", **SAN_ENV)
    p = subprocess.run([CORRAL] + list(args), capture_output=True, text=True, timeout=timeout,
                       env=env)
    assert "ERROR: AddressSanitizer" not in p.stderr and "runtime error:" not in p.stderr, \
        p.stderr
    if check:
        assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    return p


def test_help_on_every_mode_and_verb(tmp_path):
    for mode in ("master", "agent", "up", "agents", "tasks", "exec", "logs", "kill", "top",
                 "executor"):
        p = subprocess.run([CORRAL, mode, "--help"], capture_output=True, text=True, timeout=10,
                           env=dict(os.environ, **SAN_ENV))
        assert p.returncode == 0, (mode, p.stderr)
        assert "usage" in p.stdout.lower(), (mode, p.stdout)
    p = subprocess.run([CORRAL, "frobnicate"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2


def test_agents_table(cluster):
    out = corral(cluster, "agents").stdout
    lines = out.strip().splitlines()
    assert len(lines) == 3, out  # header + 2 agents
    assert "CPUS" in lines[0]
    js = json.loads(corral(cluster, "agents", "--json").stdout)
    assert len(js) == 2


def test_exec_runs_and_returns_exit_code(cluster):
    p = corral(cluster, "exec", "--cpus", "0.1", "--mem", "32", "--", "sh", "-c",
               "echo hi; exit 0")
    assert "FINISHED" in p.stdout, p.stdout
    p = corral(cluster, "exec", "--", "sh", "-c", "exit 4", check=False)
    assert p.returncode == 4, (p.stdout, p.stderr)
    assert "FAILED" in p.stdout


def test_exec_tasks_logs_kill(cluster):
    env = dict(os.environ, CORRAL_MASTER=f"127.0.0.1:{cluster.master.port}", **SAN_ENV)
    ex = subprocess.Popen([CORRAL, "exec", "--task-id", "cli-1", "--", "sh", "-c",
                           "echo line-one; echo oops >&2; sleep 300"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        def running():
            return "RUNNING" in corral(cluster, "tasks").stdout
        wait_for(running, timeout=20, what="task running in `corral tasks`")
        out = corral(cluster, "tasks").stdout
        assert "cli-1" in out
        wait_for(lambda: "line-one" in corral(cluster, "logs", "cli-1").stdout, timeout=10,
                 what="stdout through the files API")
        assert "oops" in corral(cluster, "logs", "--stderr", "cli-1").stdout
        k = corral(cluster, "kill", "cli-1")
        assert "KILLED" in k.stdout + k.stderr
        out, err = ex.communicate(timeout=20)
        assert ex.returncode != 0
        assert "KILLED" in out, out
        assert "cli-1" in corral(cluster, "tasks", "--all").stdout
    finally:
        if ex.poll() is None:
            ex.kill()
            ex.wait()


def test_logs_follow(cluster):
    env = dict(os.environ, CORRAL_MASTER=f"127.0.0.1:{cluster.master.port}", **SAN_ENV)
    ex = subprocess.Popen([CORRAL, "exec", "--task-id", "fol", "--", "sh", "-c",
                           "for i in 1 2 3; do echo tick-$i; sleep 0.3; done"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        wait_for(lambda: "fol" in corral(cluster, "tasks", "--all").stdout, timeout=20,
                 what="task launched")
        p = corral(cluster, "logs", "-f", "fol", timeout=30)
        assert "tick-1" in p.stdout and "tick-3" in p.stdout, p.stdout
        ex.wait(timeout=20)
    finally:
        if ex.poll() is None:
            ex.kill()
            ex.wait()


def test_cli_errors_are_clear(cluster):
    p = corral(cluster, "logs", "no-such-task", check=False)
    assert p.returncode == 1
    assert "no-such-task" in p.stderr
    p = corral(cluster, "kill", "no-such-task", check=False)
    assert p.returncode == 1
    env = dict(os.environ, CORRAL_MASTER=f"127.0.0.1:{free_port()}", **SAN_ENV)
    p = subprocess.run([CORRAL, "agents"], capture_output=True, text=True, timeout=20, env=env)
    assert p.returncode == 1
    assert "cannot reach" in p.stderr or "refused" in p.stderr.lower(), p.stderr


def test_agent_files_api(cluster):
    a = cluster.agents[0]
    r = requests.get(a.url + "/files/read", params={"path": "/etc/passwd", "offset": 0},
                     timeout=5)
    assert r.status_code == 403
    r = requests.get(a.url + "/files/read", params={"path": a.dir, "offset": "x"}, timeout=5)
    assert r.status_code == 400
    r = requests.get(a.url + "/files/browse", params={"path": a.dir}, timeout=5)
    assert r.status_code == 200 and isinstance(r.json(), list)


def up_base_port():
    """A base port P such that P, P+1, P+2 (agents), P+20 (raft) and P+3030 (apps) are free,
    below the ephemeral range so that no client connection of another test holds one of them."""
    import random
    import socket
    for _ in range(200):
        base = random.randrange(20000, 30000)
        socks = []
        try:
            for p in (base, base + 1, base + 2, base + 20, base + 3030):
                s = socket.socket()
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no free port block for corral up")


def test_corral_up(tmp_path):
    state = tmp_path / "state"
    port = up_base_port()
    env = dict(os.environ, CORRAL_STATE_DIR=str(state), **SAN_ENV)
    env.pop("CORRAL_MASTER", None)
    up = subprocess.Popen([CORRAL, "up", "--agents", "2", "--port", str(port)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                          start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"

        def ready():
            st = requests.get(url + "/master/state", timeout=2).json()
            return len([s for s in st["slaves"] if s["active"]]) == 2 and any(
                t["state"] == "TASK_RUNNING" for f in st["frameworks"] for t in f["tasks"])
        try:
            wait_for(ready, timeout=60, what="corral up: 2 agents and the example task running")
        except AssertionError:
            if up.poll() is not None:
                raise AssertionError(f"corral up exited {up.returncode}: {up.stdout.read()}")
            raise
        # the verbs find the cluster through the state dir
        p = subprocess.run([CORRAL, "agents"], capture_output=True, text=True, timeout=20,
                           env=env)
        assert p.returncode == 0 and len(p.stdout.strip().splitlines()) == 3, p.stdout + p.stderr
        # a second `up` on the same state dir refuses
        p = subprocess.run([CORRAL, "up", "--port", str(free_port())], capture_output=True,
                           text=True, timeout=20, env=env)
        assert p.returncode != 0 and "already running" in p.stderr, p.stderr
        up.send_signal(signal.SIGINT)
        out, _ = up.communicate(timeout=40)
        assert up.returncode == 0, out
        assert re.search(r"^master +\| ", out, re.M), out
        assert "ERROR: AddressSanitizer" not in out and "runtime error:" not in out, out
        # everything is gone
        time.sleep(0.5)
        try:
            requests.get(url + "/health", timeout=1)
            raise AssertionError("master still answering after Ctrl-C")
        except requests.ConnectionError:
            pass
        assert not reap_strays(str(tmp_path)), "processes left behind by corral up"
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait()
        reap_strays(str(tmp_path))
