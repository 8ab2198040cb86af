"""Real Corral daemons for system tests: start masters and agents on 127.0.0.1 with
free ports and private work dirs, talk to them over HTTP, stop them and check that they
exit cleanly (a sanitizer report or a non-zero exit is a test failure)."""

import json
import os
import queue
import signal
import socket
import subprocess
import threading
import time

import requests

CORRAL = os.environ.get("CORRAL_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "asan", "corral")
CORRAL = os.path.abspath(CORRAL)

SAN_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=66",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1:exitcode=67",
    "LSAN_OPTIONS": "exitcode=68",
}
SAN_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(pred, timeout=15.0, interval=0.05, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = pred()
            if last:
                return last
        except (requests.RequestException, OSError, ValueError, KeyError) as e:
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def reap_strays(workdir):
    """Kill processes a test left behind: those whose working directory is inside the
    test's own work dir (task sandboxes). Returns their pids. Only ever our processes."""
    killed = []
    root = os.path.realpath(workdir) + os.sep
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if (cwd + os.sep).startswith(root):
            try:
                os.kill(int(pid), signal.SIGKILL)
                killed.append(int(pid))
            except OSError:
                pass
    return killed


class Daemon:
    """One corral process; its output goes to a log file."""

    def __init__(self, name, args, workdir, env=None):
        self.name = name
        self.args = args
        self.workdir = workdir
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.env = dict(os.environ)
        self.env.update(SAN_ENV)
        if env:
            self.env.update(env)
        self.proc = None
        self.exits = []

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([CORRAL] + self.args, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=self.env,
                                     start_new_session=True)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Stop and return the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.exits.append(("timeout", self.proc.returncode))
                self.proc = None
                self.log.close()
                return "timeout"
        rc = self.proc.returncode
        self.exits.append((sig, rc))
        self.proc = None
        self.log.close()
        return rc

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        self.log.close()

    def output(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def sanitizer_reports(self):
        out = self.output()
        return [m for m in SAN_MARKERS if m in out]


class Master(Daemon):
    def __init__(self, workdir, port=None, raft_port=None, extra=None, name="master"):
        self.port = port or free_port()
        self.raft_port = raft_port or free_port()
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        args = ["master", "--ip", "127.0.0.1", "--port", str(self.port),
                "--raft-port", str(self.raft_port), "--work-dir", self.dir,
                "--hostname", "localhost"] + (extra or [])
        super().__init__(name, args, workdir)
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout=20):
        def ready():
            r = requests.post(self.url + "/api/v1", json={"type": "GET_HEALTH"}, timeout=2)
            return r.status_code == 200
        wait_for(ready, timeout, what=f"{self.name} ready")
        return self

    def state(self):
        return requests.get(self.url + "/master/state", timeout=5).json()

    def operator(self, call):
        r = requests.post(self.url + "/api/v1", json=call, timeout=5)
        r.raise_for_status()
        return r.json()


class Agent(Daemon):
    def __init__(self, workdir, master, index=0, resources=None, extra=None):
        self.port = free_port()
        self.dir = os.path.join(workdir, f"agent{index}")
        os.makedirs(self.dir, exist_ok=True)
        self.resources = resources or "cpus:2;mem:1024;disk:1024;ports:[31000-31099]"
        args = ["agent", "--master", f"127.0.0.1:{master.port}", "--ip", "127.0.0.1",
                "--port", str(self.port), "--work-dir", self.dir, "--hostname", "localhost",
                "--resources", self.resources] + (extra or [])
        super().__init__(f"agent{index}", args, workdir)
        self.url = f"http://127.0.0.1:{self.port}"


class Cluster:
    """A master and N agents; every process is stopped (and checked) by close()."""

    def __init__(self, workdir, agents=2, master_extra=None, agent_extra=None):
        self.workdir = workdir
        self.master = Master(workdir, extra=master_extra).start().wait_ready()
        self.agents = []
        for i in range(agents):
            self.add_agent(extra=agent_extra)
        self.wait_agents(agents)

    def add_agent(self, resources=None, extra=None):
        a = Agent(self.workdir, self.master, len(self.agents), resources, extra).start()
        self.agents.append(a)
        return a

    def wait_agents(self, n, timeout=20):
        def enough():
            st = self.master.state()
            return len([s for s in st["slaves"] if s["active"]]) >= n
        wait_for(enough, timeout, what=f"{n} active agents")

    def daemons(self):
        return [self.master] + self.agents

    def close(self):
        problems = []
        for d in reversed(self.daemons()):
            rc = d.stop()
            if rc not in (0, None):
                problems.append(f"{d.name} exited with {rc}")
            for rep in d.sanitizer_reports():
                problems.append(f"{d.name}: {rep}")
        reap_strays(self.workdir)
        return problems


class Scheduler:
    """A Mesos v1 HTTP scheduler speaking raw HTTP (what a framework does)."""

    def __init__(self, master_url, name="test-fw", failover_timeout=0, capabilities=(),
                 framework_id=None, roles=None, extra_info=None):
        self.url = master_url + "/api/v1/scheduler"
        info = {"user": "root", "name": name, "failover_timeout": failover_timeout,
                "capabilities": [{"type": c} for c in capabilities]}
        if roles is not None:
            info["roles"] = roles
        if framework_id:
            info["id"] = {"value": framework_id}
        if extra_info:
            info.update(extra_info)
        body = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
        if framework_id:
            body["framework_id"] = {"value": framework_id}
        self.events = queue.Queue()
        self.all_events = []
        self.resp = requests.post(self.url, json=body, stream=True, timeout=(5, None))
        if self.resp.status_code != 200:
            raise AssertionError(f"SUBSCRIBE answered {self.resp.status_code}: {self.resp.text}")
        self.stream_id = self.resp.headers["Mesos-Stream-Id"]
        self.chunks = []
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        sub = self.expect("SUBSCRIBED")
        self.framework_id = sub["subscribed"]["framework_id"]["value"]
        self.subscribed = sub["subscribed"]

    def _read(self):
        buf = b""
        try:
            for chunk in self.resp.raw.stream(65536, decode_content=False):
                self.chunks.append(chunk)
                buf += chunk
                while True:
                    nl = buf.find(b"\n")
                    if nl < 0:
                        break
                    n = int(buf[:nl])
                    if len(buf) < nl + 1 + n:
                        break
                    rec = buf[nl + 1:nl + 1 + n]
                    buf = buf[nl + 1 + n:]
                    ev = json.loads(rec)
                    self.all_events.append(ev)
                    self.events.put(ev)
        except Exception:  # connection closed
            pass
        finally:
            self.closed.set()
            self.events.put({"type": "__CLOSED__"})

    def expect(self, etype, timeout=15, pred=None):
        """Next event of type etype (others are skipped but kept in all_events)."""
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError(f"no {etype} event within {timeout}s; saw "
                                     f"{[e['type'] for e in self.all_events[-20:]]}")
            try:
                ev = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if ev["type"] == "__CLOSED__":
                if etype == "__CLOSED__":
                    return ev
                self.events.put(ev)
                raise AssertionError(f"stream closed while waiting for {etype}")
            if ev["type"] == etype and (pred is None or pred(ev)):
                return ev

    def expect_none(self, etype, seconds):
        """Fail if an etype event arrives (or the stream closes) within seconds."""
        deadline = time.time() + seconds
        while True:
            left = deadline - time.time()
            if left <= 0:
                return
            try:
                ev = self.events.get(timeout=left)
            except queue.Empty:
                return
            if ev["type"] == "__CLOSED__":
                self.events.put(ev)
                raise AssertionError(f"stream closed while checking that no {etype} comes")
            if ev["type"] == etype:
                raise AssertionError(f"unexpected {etype} event: {ev}")

    def update(self, task_id, state=None, timeout=15):
        def match(ev):
            st = ev["update"]["status"]
            return st["task_id"]["value"] == task_id and (state is None or st["state"] == state)
        return self.expect("UPDATE", timeout, match)["update"]["status"]

    def until(self, task_id, state, timeout=20):
        """Acknowledge each update of task_id until one in state arrives (also acked)."""
        deadline = time.time() + timeout
        while True:
            st = self.update(task_id, timeout=max(0.1, deadline - time.time()))
            if "uuid" in st:
                self.ack(st)
            if st["state"] == state:
                return st

    def call(self, ctype, body=None, headers=None, raw=None):
        msg = {"framework_id": {"value": self.framework_id}, "type": ctype}
        if body is not None:
            msg[ctype.lower()] = body
        h = {"Mesos-Stream-Id": self.stream_id}
        if headers:
            h.update(headers)
        return requests.post(self.url, json=msg if raw is None else None,
                             data=raw, headers=h, timeout=10)

    def offers(self, timeout=15):
        return self.expect("OFFERS", timeout)["offers"]["offers"]

    def launch(self, offer, tasks, refuse_seconds=None):
        body = {"offer_ids": [offer["id"]],
                "operations": [{"type": "LAUNCH", "launch": {"task_infos": tasks}}]}
        if refuse_seconds is not None:
            body["filters"] = {"refuse_seconds": refuse_seconds}
        r = self.call("ACCEPT", body)
        assert r.status_code == 202, (r.status_code, r.text)
        return r

    def ack(self, status):
        r = self.call("ACKNOWLEDGE", {"agent_id": status["agent_id"],
                                      "task_id": status["task_id"], "uuid": status["uuid"]})
        assert r.status_code == 202, (r.status_code, r.text)

    def close(self):
        try:
            self.resp.close()
        except Exception:
            pass


def task_info(offer, task_id, cmd, cpus=0.1, mem=32, shell=True, extra=None):
    t = {"name": task_id, "task_id": {"value": task_id}, "agent_id": offer["agent_id"],
         "resources": [
             {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
             {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}}],
         "command": {"shell": shell, "value": cmd} if isinstance(cmd, str) else
                    {"shell": False, "value": cmd[0], "arguments": cmd}}
    if extra:
        t.update(extra)
    return t
