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


CGROUP_MOUNT = "/sys/fs/cgroup"


def cgroup_parent(workdir):
    """The cgroup (relative name) under which this test's agents put their containers."""
    return "corral-test/" + os.path.basename(os.path.realpath(workdir))


def cgroup_dirs(workdir):
    """Every directory of the test's cgroup parent, in each hierarchy (v1) or the unified
    one (v2), deepest first."""
    rel = cgroup_parent(workdir)
    roots = []
    if os.path.exists(os.path.join(CGROUP_MOUNT, "cgroup.controllers")):
        roots.append(os.path.join(CGROUP_MOUNT, rel))
    else:
        for h in sorted(os.listdir(CGROUP_MOUNT)):
            d = os.path.join(CGROUP_MOUNT, h, rel)
            if not os.path.islink(os.path.join(CGROUP_MOUNT, h)) and os.path.isdir(d):
                roots.append(d)
    found = []
    for r in roots:
        if os.path.isdir(r):
            for dirpath, _dirs, _files in os.walk(r, topdown=False):
                found.append(dirpath)
    return found


def container_cgroups(workdir):
    """Container cgroups (leaves) that still exist under the test's cgroup parent."""
    rel = cgroup_parent(workdir)
    out = set()
    for d in cgroup_dirs(workdir):
        tail = d.split(rel, 1)[1].strip("/")
        if tail.count("/") >= 1:  # agent-root/container-id
            out.add(tail)
    return sorted(out)


def cleanup_cgroups(workdir):
    """Kill what is left in the test's cgroups (only processes of this test: they are in
    its own cgroup subtree) and remove the directories. Returns the leaves that existed."""
    leftovers = container_cgroups(workdir)
    for _ in range(50):
        dirs = cgroup_dirs(workdir)
        if not dirs:
            break
        for d in dirs:
            try:
                with open(os.path.join(d, "cgroup.procs")) as f:
                    for pid in f.read().split():
                        try:
                            os.kill(int(pid), signal.SIGKILL)
                        except OSError:
                            pass
            except OSError:
                pass
            try:
                os.rmdir(d)
            except OSError:
                pass
        time.sleep(0.05)
    for parent in {os.path.dirname(d.rstrip("/")) for d in cgroup_dirs_parent(workdir)}:
        try:
            os.rmdir(parent)  # "corral-test" itself, once no other test uses it
        except OSError:
            pass
    return leftovers


def cgroup_dirs_parent(workdir):
    """The test's cgroup parent directory in each hierarchy (whether or not it exists)."""
    rel = cgroup_parent(workdir)
    if os.path.exists(os.path.join(CGROUP_MOUNT, "cgroup.controllers")):
        return [os.path.join(CGROUP_MOUNT, rel)]
    return [os.path.join(CGROUP_MOUNT, h, rel) for h in sorted(os.listdir(CGROUP_MOUNT))
            if not os.path.islink(os.path.join(CGROUP_MOUNT, h))]


def sandbox_file(agent, directory, name, offset=0):
    """A file of a sandbox, through the agent's files API (text)."""
    r = requests.get(agent.url + "/files/read",
                     params={"path": os.path.join(directory, name), "offset": offset,
                             "length": 1 << 20}, timeout=5)
    r.raise_for_status()
    return r.json()["data"]


def task_directory(agent, task_id):
    """The sandbox of a task (active or completed) from the agent's /state."""
    st = requests.get(agent.url + "/state", timeout=5).json()
    for fw in st.get("frameworks", []) + st.get("completed_frameworks", []):
        for ex in fw.get("executors", []) + fw.get("completed_executors", []):
            if ex.get("id") == task_id:
                return ex["directory"]
    raise KeyError(task_id)


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
    def __init__(self, workdir, port=None, raft_port=None, extra=None, name="master",
                 apps_port=None):
        self.port = port or free_port()
        self.raft_port = raft_port or free_port()
        self.apps_port = apps_port or free_port()
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        args = ["master", "--ip", "127.0.0.1", "--port", str(self.port),
                "--raft-port", str(self.raft_port), "--work-dir", self.dir,
                "--apps-port", str(self.apps_port),
                "--hostname", "localhost"] + (extra or [])
        super().__init__(name, args, workdir)
        self.url = f"http://127.0.0.1:{self.port}"
        self.apps_url = f"http://127.0.0.1:{self.apps_port}"

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
    def __init__(self, workdir, master, index=0, resources=None, extra=None,
                 hostname="localhost"):
        self.port = free_port()
        self.hostname = hostname
        self.dir = os.path.join(workdir, f"agent{index}")
        os.makedirs(self.dir, exist_ok=True)
        self.resources = resources or "cpus:2;mem:1024;disk:1024;ports:[31000-31099]"
        args = ["agent", "--master", f"127.0.0.1:{master.port}", "--ip", "127.0.0.1",
                "--port", str(self.port), "--work-dir", self.dir, "--hostname", hostname,
                "--resources", self.resources,
                "--cgroups-root", f"{cgroup_parent(workdir)}/agent{index}"] + (extra or [])
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
        try:
            self.wait_agents(agents)
        except AssertionError:
            for d in self.daemons():  # say why before the fixture gives up
                print(f"----- {d.name} (alive: {d.alive()}) -----\n{d.output()[-5000:]}")
            self.close()
            raise

    def add_agent(self, resources=None, extra=None, hostname="localhost"):
        a = Agent(self.workdir, self.master, len(self.agents), resources, extra,
                  hostname).start()
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
        cleanup_cgroups(self.workdir)
        problems += executor_reports(self.workdir)
        return problems


def executor_reports(workdir):
    """Sanitizer reports written by executors into their sandboxes' executor.log."""
    found = []
    for dirpath, _dirs, files in os.walk(workdir):
        if "executor.log" in files:
            try:
                with open(os.path.join(dirpath, "executor.log"), "rb") as f:
                    text = f.read().decode("utf-8", "replace")
            except OSError:
                continue
            for m in SAN_MARKERS:
                if m in text:
                    found.append(f"executor in {dirpath}: {m}")
    return found


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
        self.skipped_updates = []
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
            if ev["type"] == "UPDATE":
                self.skipped_updates.append(ev)  # update() of another task finds it

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
        for i, ev in enumerate(self.skipped_updates):
            if match(ev):
                del self.skipped_updates[i]
                return ev["update"]["status"]
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

    def until_all(self, task_ids, state, timeout=60):
        """Acknowledge updates of any of task_ids until each has reached state (updates of
        several tasks interleave, so waiting for them one by one would skip some)."""
        left = set(task_ids)
        deadline = time.time() + timeout
        while left:
            if self.skipped_updates:
                st = self.skipped_updates.pop(0)["update"]["status"]
            else:
                st = self.expect("UPDATE", max(0.1, deadline - time.time()))["update"]["status"]
            if "uuid" in st:
                self.ack(st)
            if st["state"] == state:
                left.discard(st["task_id"]["value"])

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


class Apps:
    """A client of the master's Marathon API (/v2 on the apps port) for system tests."""

    def __init__(self, url):
        self.url = url

    def req(self, method, path, **kw):
        kw.setdefault("timeout", 10)
        return requests.request(method, self.url + path, **kw)

    def create(self, spec, **params):
        r = self.req("POST", "/v2/apps", json=spec, params=params)
        assert r.status_code == 201, (r.status_code, r.text)
        return r

    def change(self, method, path, body=None, **params):
        """A change answered {"version", "deploymentId"}: returns the deployment id."""
        r = self.req(method, path, json=body, params=params)
        assert r.status_code == 200, (method, path, r.status_code, r.text)
        did = r.json()["deploymentId"]
        assert r.headers["Marathon-Deployment-Id"] == did
        return did

    def app(self, app_id):
        r = self.req("GET", "/v2/apps" + app_id)
        r.raise_for_status()
        return r.json()["app"]

    def running(self, app_id):
        return [t for t in self.app(app_id)["tasks"] if t["state"] == "TASK_RUNNING"]

    def wait_running(self, app_id, n, timeout=30, version=None, healthy=False):
        """Wait until exactly n instances run (all of version when given; all healthy when
        asked) and no others exist; returns the tasks."""
        def ok():
            app = self.app(app_id)
            ts = app["tasks"]
            if len(ts) != n or any(t["state"] != "TASK_RUNNING" for t in ts):
                return False
            if version and any(t["version"] != version for t in ts):
                return False
            if healthy and app["tasksHealthy"] != n:
                return False
            return ts
        return wait_for(ok, timeout, interval=0.1, what=f"{n} instances of {app_id} running")

    def deployment(self, did):
        r = self.req("GET", "/v2/deployments/" + did)
        r.raise_for_status()
        return r.json()

    def wait_deployment(self, did, status="succeeded", timeout=30):
        d = wait_for(lambda: (lambda d: d if d["status"] != "running" else None)(
            self.deployment(did)), timeout, interval=0.1, what=f"deployment {did} to end")
        assert d["status"] == status, d
        return d

    def queue_entry(self, app_id):
        for q in self.req("GET", "/v2/queue").json()["queue"]:
            if q["app"]["id"] == app_id:
                return q
        return None

    def delete_and_wait(self, app_id, timeout=30):
        self.change("DELETE", "/v2/apps" + app_id)
        wait_for(lambda: self.req("GET", "/v2/apps" + app_id).status_code == 404, timeout,
                 interval=0.1, what=f"{app_id} deleted")


class EventStream:
    """A subscriber of /v2/events (Server-Sent Events) over a plain socket (so that close()
    wakes the reader at once): a thread parses the frames "event: X\\r\\ndata: {json}\\r\\n\\r\\n"
    into (type, data, time) in .events; a frame of another shape is kept in .bad."""

    def __init__(self, url, types=(), accept="text/event-stream"):
        host, port = url.split("//", 1)[1].split(":")
        query = "&".join(f"event_type={t}" for t in types)
        self.sock = socket.create_connection((host, int(port)), timeout=5)
        self.sock.sendall((f"GET /v2/events{'?' + query if query else ''} HTTP/1.1\r\n"
                           f"Host: {host}:{port}\r\nAccept: {accept}\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise AssertionError(f"/v2/events closed before its headers: {self.buf!r}")
            self.buf += data
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {k.strip().lower(): v.strip() for k, v in
                        (ln.split(":", 1) for ln in lines[1:] if ":" in ln)}
        self.events = []
        self.bad = []
        self.cond = threading.Condition()
        self.sock.settimeout(None)
        if self.status == 200:
            # as Marathon (Jetty): not chunked, the body runs until the connection closes
            assert "transfer-encoding" not in self.headers, self.headers
            assert self.headers.get("connection") == "close", self.headers
            self.thread = threading.Thread(target=self._read, daemon=True)
            self.thread.start()
        else:
            self.close()

    def _chunks(self):
        """The body's bytes as they arrive (not chunked: until the socket closes)."""
        if self.buf:
            yield self.buf
        while True:
            data = self.sock.recv(65536)
            if not data:
                return
            yield data

    def _read(self):
        buf = b""
        try:
            for chunk in self._chunks():
                buf += chunk
                while True:
                    while buf.startswith(b"\r\n"):  # heartbeat
                        buf = buf[2:]
                    end = buf.find(b"\r\n\r\n")
                    if end < 0:
                        break
                    frame, buf = buf[:end].decode(), buf[end + 4:]
                    lines = frame.split("\r\n")
                    if (len(lines) != 2 or not lines[0].startswith("event: ")
                            or not lines[1].startswith("data: ")):
                        self.bad.append(frame)
                        continue
                    etype = lines[0][len("event: "):]
                    data = json.loads(lines[1][len("data: "):])
                    if data.get("eventType") != etype:
                        self.bad.append(frame)
                    with self.cond:
                        self.events.append((etype, data, time.time()))
                        self.cond.notify_all()
        except (OSError, ValueError):  # closed
            pass

    def types(self):
        with self.cond:
            return [e[0] for e in self.events]

    def wait(self, etype, pred=None, timeout=20, start=0):
        """The first event of etype (matching pred) at index >= start; returns its index."""
        deadline = time.time() + timeout
        with self.cond:
            while True:
                for k in range(start, len(self.events)):
                    t, d, _ = self.events[k]
                    if t == etype and (pred is None or pred(d)):
                        return k
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError(f"no {etype} event within {timeout}s; saw "
                                         f"{[e[0] for e in self.events[-30:]]}")
                self.cond.wait(left)

    def of(self, etype, pred=None):
        with self.cond:
            return [e[1] for e in self.events if e[0] == etype and (pred is None or pred(e[1]))]

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
