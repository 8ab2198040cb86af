"""A multi-host test bed: every Corral daemon on its own "machine", a network namespace with
its own IP on a private bridge, so that tests can crash, freeze, cut off and restart one
machine while the others go on (issue 5).

Layout (names carry a random tag, so parallel runs never meet):

    root namespace (the tests)            bridge crb<tag>  10.A.B.1/24
      |- netns crh<tag>0  "master"  eth0  10.A.B.10   corral master  :5050, apps :8080
      |- netns crh<tag>1  "host1"   eth0  10.A.B.11   corral agent   :5051
      |- ...                                           (veth crv<tag><i> on the bridge)

A.B is a random /24 in 10.200-250.x that no address or route of this machine uses yet and
no other live test bed holds (each bed leaves a note in /run/corral-testbed/<tag>.json; a
note whose owner process is dead is swept, with everything it names, by the next bed).

Processes enter a host's namespace with `nsenter --net=...`, not `ip netns exec`: the latter
remounts /sys for the namespace and so hides /sys/fs/cgroup from the agent. Each daemon starts
in the host's own cgroup (<test cgroup parent>/<host>/daemon) and an agent puts its
containers under <host>/cr, so the freezer cgroup <host> holds the whole machine: freeze()
stops every process of it at once, and crash() freezes, kills -9 every process found by
cgroup, network namespace or working directory, then thaws.

What each helper models:
  crash()      the machine is gone: link cut (silence, no FIN/RST), every process killed,
               its container cgroups removed as a reboot would; restart() boots it again
               on the same work dir.
  freeze()     a hung machine: every process SIGSTOPped (freezer), the kernel still answers.
  partition()  the machine is cut off: its veth is set down on the bridge; heal() undoes it.

TestBed.close() undoes everything even when a test failed (thaw, heal, stop daemons by pid,
kill leftovers of this bed, remove cgroups, namespaces, veths and the bridge) and returns the
problems found (non-zero exits, sanitizer reports, something left behind).
"""

import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import time

import requests

from cluster import (CGROUP_MOUNT, CORRAL, Apps, Daemon, Scheduler, cgroup_parent,
                     cleanup_cgroups, executor_reports, reap_strays, wait_for)

STATE_DIR = "/run/corral-testbed"
NETNS_DIR = "/run/netns"
MASTER_PORT = 5050
APPS_PORT = 8080
AGENT_PORT = 5051
DEFAULT_RESOURCES = "cpus:2;mem:1024;disk:1024;ports:[31000-31099]"


# ---------------------------------------------------------------- small tools


class BedError(RuntimeError):
    pass


def run_ip(*args, check=True):
    """Run `ip ARGS`; raises BedError naming the command and its stderr on failure."""
    r = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise BedError(f"ip {' '.join(args)}: {r.stderr.strip()}")
    return r


_why_unavailable = []


def unavailable():
    """Why a test bed cannot be built here (a message for pytest.skip), or None. Probed
    once per process."""
    if not _why_unavailable:
        _why_unavailable.append(_probe())
    return _why_unavailable[0]


def _probe():
    if os.geteuid() != 0:
        return "the multi-host test bed needs root (network namespaces, bridges, cgroups)"
    for tool in ("ip", "nsenter"):
        if not shutil.which(tool):
            return f"the multi-host test bed needs '{tool}'"
    probe = f"crprobe{os.getpid() % 100000}"
    r = run_ip("netns", "add", probe, check=False)
    if r.returncode != 0:
        return f"ip netns is not possible here: {r.stderr.strip()}"
    run_ip("netns", "del", probe, check=False)
    return None


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def netns_pids(ns):
    r = run_ip("netns", "pids", ns, check=False)
    return {int(p) for p in r.stdout.split()} if r.returncode == 0 else set()


def cwd_pids(directory):
    """Processes whose working directory is inside directory."""
    root = os.path.realpath(directory) + os.sep
    found = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if (cwd + os.sep).startswith(root):
            found.add(int(pid))
    return found


def proc_environ(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            raw = f.read()
    except OSError:
        return {}
    env = {}
    for item in raw.split(b"\0"):
        k, sep, v = item.partition(b"=")
        if sep:
            env[k.decode("utf-8", "replace")] = v.decode("utf-8", "replace")
    return env


def proc_comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def kill_all(pids, sig=signal.SIGKILL):
    for p in pids:
        if p == os.getpid():
            continue
        try:
            os.kill(p, sig)
        except OSError:
            pass


def wait_gone(pids, timeout=10.0):
    """Wait until none of pids is alive; returns those still alive."""
    deadline = time.time() + timeout
    left = {p for p in pids if pid_alive(p)}
    while left and time.time() < deadline:
        time.sleep(0.02)
        left = {p for p in left if pid_alive(p)}
    return left


# ---------------------------------------------------------------- cgroups of a host


def _v2():
    return os.path.exists(os.path.join(CGROUP_MOUNT, "cgroup.controllers"))


def _hierarchies():
    """The mounted cgroup hierarchies (v1: one dir per controller mount; v2: the mount)."""
    if _v2():
        return [CGROUP_MOUNT]
    out = []
    for h in sorted(os.listdir(CGROUP_MOUNT)):
        d = os.path.join(CGROUP_MOUNT, h)
        if not os.path.islink(d) and os.path.isfile(os.path.join(d, "cgroup.procs")):
            out.append(d)
    return out


def _freezer_root():
    """The hierarchy whose freezer we use, and whether it is v2 (cgroup.freeze)."""
    if _v2():
        return CGROUP_MOUNT, True
    d = os.path.join(CGROUP_MOUNT, "freezer")
    if os.path.isfile(os.path.join(d, "cgroup.procs")):
        return d, False
    return None, False


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def _read(path):
    with open(path) as f:
        return f.read()


# ---------------------------------------------------------------- daemons in a namespace


class NsDaemon(Daemon):
    """A corral process started inside a host's network namespace and cgroup."""

    def __init__(self, host, name, args):
        super().__init__(name, args, host.bed.workdir)
        self.host = host

    def start(self):
        procs = self.host.daemon_cgroup_procs()
        self.log = open(self.log_path, "ab")
        # sh joins the cgroup, then becomes nsenter, which becomes corral: one pid throughout.
        cmd = ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', procs,
               "nsenter", f"--net={NETNS_DIR}/{self.host.ns}", CORRAL] + self.args
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=self.env, start_new_session=True)
        return self

    def pid(self):
        return self.proc.pid if self.proc else None

    def reap_killed(self, how="crash"):
        """After the process was killed from outside: collect it and close the log."""
        if self.proc is not None:
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.exits.append((how, self.proc.returncode))
            self.proc = None
            self.log.close()


class MasterDaemon(NsDaemon):
    def __init__(self, host, extra):
        self.port = MASTER_PORT
        self.apps_port = APPS_PORT
        args = ["master", "--ip", host.ip, "--port", str(MASTER_PORT),
                "--apps-port", str(APPS_PORT), "--work-dir", host.dir,
                "--hostname", host.name] + list(extra)
        super().__init__(host, host.name, args)
        self.url = f"http://{host.ip}:{MASTER_PORT}"
        self.apps_url = f"http://{host.ip}:{APPS_PORT}"

    def wait_ready(self, timeout=20):
        def ready():
            if not self.alive():
                raise AssertionError(f"{self.name} exited:\n{self.output()[-3000:]}")
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


class AgentDaemon(NsDaemon):
    def __init__(self, host, master_ip, resources, extra):
        self.port = AGENT_PORT
        self.resources = resources
        args = ["agent", "--master", f"{master_ip}:{MASTER_PORT}", "--ip", host.ip,
                "--port", str(AGENT_PORT), "--work-dir", host.dir, "--hostname", host.name,
                "--resources", resources, "--cgroups-root", host.cgroup + "/cr"] + list(extra)
        super().__init__(host, host.name, args)
        self.url = f"http://{host.ip}:{AGENT_PORT}"

    def state(self):
        return requests.get(self.url + "/state", timeout=5).json()


# ---------------------------------------------------------------- one machine


class Host:
    """One machine of the bed: a network namespace, its link to the bridge, a work dir, a
    cgroup, and the daemon running there (.daemon, None while the machine is down)."""

    def __init__(self, bed, index, name, ip):
        self.bed = bed
        self.index = index
        self.name = name
        self.ip = ip
        self.ns = f"crh{bed.tag}{index}"
        self.veth = f"crv{bed.tag}{index}"  # the end on the bridge
        self.dir = os.path.join(bed.workdir, name)
        self.cgroup = f"{cgroup_parent(bed.workdir)}/{name}"
        self.daemon = None
        self.is_frozen = False
        self.is_partitioned = False
        self.is_crashed = False
        os.makedirs(self.dir, exist_ok=True)

    def __repr__(self):
        return f"<Host {self.name} {self.ip}>"

    # -- network
    def create_link(self):
        peer = f"crp{self.bed.tag}{self.index}"
        run_ip("netns", "add", self.ns)
        self.bed.note_changed()
        run_ip("link", "add", self.veth, "type", "veth", "peer", "name", peer)
        run_ip("link", "set", peer, "netns", self.ns)
        run_ip("link", "set", self.veth, "master", self.bed.bridge)
        run_ip("link", "set", self.veth, "up")
        run_ip("-n", self.ns, "link", "set", peer, "name", "eth0")
        run_ip("-n", self.ns, "addr", "add", f"{self.ip}/24", "dev", "eth0")
        run_ip("-n", self.ns, "link", "set", "eth0", "up")
        run_ip("-n", self.ns, "link", "set", "lo", "up")

    def _set_link(self, up):
        run_ip("link", "set", self.veth, "up" if up else "down")

    def partition(self):
        """Cut the machine off the network (its veth goes down on the bridge): packets to
        and from it are dropped, connections stay open on both ends."""
        self._set_link(False)
        self.is_partitioned = True

    def heal(self):
        """Undo partition()."""
        self._set_link(True)
        self.is_partitioned = False

    def reachable(self, port, timeout=0.5):
        """Can the root namespace open a TCP connection to this host's port?"""
        try:
            socket.create_connection((self.ip, port), timeout=timeout).close()
            return True
        except OSError:
            return False

    def run(self, argv, **kw):
        """Run a command inside this host's network namespace (subprocess.run)."""
        return subprocess.run(["nsenter", f"--net={NETNS_DIR}/{self.ns}"] + list(argv), **kw)

    # -- cgroups
    def cgroup_dirs(self):
        """Every directory of this host's cgroup in every hierarchy, deepest first."""
        found = []
        for h in _hierarchies():
            root = os.path.join(h, self.cgroup)
            if os.path.isdir(root):
                for dirpath, _dirs, _files in os.walk(root, topdown=False):
                    found.append(dirpath)
        return found

    def daemon_cgroup_procs(self):
        """The cgroup.procs file a daemon of this host joins (created on demand)."""
        root, _ = _freezer_root()
        if root is None:  # no freezer: any hierarchy keeps the processes findable
            root = _hierarchies()[0]
        d = os.path.join(root, self.cgroup, "daemon")
        os.makedirs(d, exist_ok=True)
        return os.path.join(d, "cgroup.procs")

    def _freeze(self, frozen, timeout=5.0):
        root, is_v2 = _freezer_root()
        if root is None:
            raise BedError("no cgroup freezer on this machine")
        d = os.path.join(root, self.cgroup)
        if is_v2:
            _write(os.path.join(d, "cgroup.freeze"), "1" if frozen else "0")
            want = "frozen 1" if frozen else "frozen 0"
            wait_for(lambda: want in _read(os.path.join(d, "cgroup.events")), timeout,
                     interval=0.01, what=f"{self.name} {'frozen' if frozen else 'thawed'}")
            return
        want = "FROZEN" if frozen else "THAWED"
        deadline = time.time() + timeout
        while True:
            _write(os.path.join(d, "freezer.state"), want)
            if _read(os.path.join(d, "freezer.state")).strip() == want:
                return
            if time.time() > deadline:
                raise BedError(f"freeze {self.name}: freezer.state stays "
                               f"{_read(os.path.join(d, 'freezer.state')).strip()}")
            time.sleep(0.01)

    def freeze(self):
        """Stop every process of the machine at once (daemon, executors, tasks)."""
        self._freeze(True)
        self.is_frozen = True

    def thaw(self):
        """Undo freeze()."""
        self._freeze(False)
        self.is_frozen = False

    # -- processes
    def pids(self):
        """Every live process of this machine: its cgroups, its network namespace, its work
        dir, and the daemon's pid."""
        pids = set()
        for d in self.cgroup_dirs():
            try:
                pids.update(int(p) for p in _read(os.path.join(d, "cgroup.procs")).split())
            except OSError:
                pass
        pids |= netns_pids(self.ns)
        pids |= cwd_pids(self.dir)
        if self.daemon and self.daemon.proc:
            pids.add(self.daemon.proc.pid)
        pids.discard(os.getpid())
        return {p for p in pids if pid_alive(p)}

    def start(self):
        """Start the machine's daemon (a new process on the same work dir)."""
        assert self.daemon is not None
        assert not self.daemon.alive(), f"{self.name} is already running"
        self.daemon.start()
        return self

    def crash(self):
        """The machine dies: its link goes silent, every process of it is killed -9, its
        container cgroups vanish as on a reboot. Returns the time of the kill."""
        if not self.is_partitioned:
            self._set_link(False)
        self.is_crashed = True
        frozen = False
        try:
            self._freeze(True)  # nothing forks or reacts while we collect
            frozen = True
        except (BedError, OSError, AssertionError):
            pass
        pids = self.pids()
        kill_all(pids)
        t = time.time()
        if frozen:
            self._freeze(False)
        self.is_frozen = False
        if self.daemon:
            self.daemon.reap_killed("crash")
        for _ in range(3):  # something forked while we were killing
            left = wait_gone(pids, 10)
            more = self.pids() - left
            if not more and not left:
                break
            kill_all(left | more)
            pids = left | more
        self._remove_container_cgroups()
        return t

    def _remove_container_cgroups(self):
        for d in self.cgroup_dirs():
            rel = os.path.relpath(d, d[:d.index(self.cgroup)] + self.cgroup)
            if rel in (".", "daemon"):
                continue
            try:
                os.rmdir(d)
            except OSError:
                pass

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Stop the daemon gracefully; returns its exit code (None if it was not running)."""
        if self.daemon is None or self.daemon.proc is None:
            return None
        return self.daemon.stop(sig, timeout)

    def restart(self):
        """Boot the machine again: stop the daemon if it runs, bring a crashed machine's link
        back, start the daemon on the same work dir. Returns the stop's exit code."""
        rc = self.stop() if self.daemon and self.daemon.alive() else None
        if self.is_crashed:
            self.is_crashed = False
            if not self.is_partitioned:
                self._set_link(True)
        self.start()
        return rc

    def task_pids(self):
        """Processes of this machine's tasks and executors: in its container cgroups or
        working inside its work dir (the sandboxes)."""
        pids = cwd_pids(self.dir)
        for d in self.cgroup_dirs():
            if f"{self.cgroup}/cr/" in d + "/" and not d.endswith(f"{self.cgroup}/cr"):
                try:
                    pids.update(int(p) for p in _read(os.path.join(d, "cgroup.procs")).split())
                except OSError:
                    pass
        return pids

    def tasks_running(self):
        """{task id: app id or None} of the task processes alive on this machine (executors
        excepted): what really runs here, whatever the master thinks."""
        out = {}
        for p in self.task_pids():
            if not pid_alive(p) or proc_comm(p).startswith("corral"):
                continue
            env = proc_environ(p)
            tid = env.get("MESOS_TASK_ID")
            if tid:
                out[tid] = env.get("MARATHON_APP_ID")
        return out


# ---------------------------------------------------------------- the bed


def _used_subnets():
    used = set()
    for args in (("-4", "-o", "addr"), ("-4", "route")):
        for word in run_ip(*args, check=False).stdout.split():
            parts = word.split("/")[0].split(".")
            if len(parts) == 4 and parts[0] == "10":
                used.add(f"10.{parts[1]}.{parts[2]}")
    return used


def _read_notes():
    notes = []
    try:
        names = os.listdir(STATE_DIR)
    except OSError:
        return notes
    for n in names:
        if not n.endswith(".json"):
            continue
        try:
            with open(os.path.join(STATE_DIR, n)) as f:
                notes.append((os.path.join(STATE_DIR, n), json.load(f)))
        except (OSError, ValueError):
            continue
    return notes


def _owner_alive(note):
    try:
        os.kill(int(note["pid"]), 0)
        return True
    except ProcessLookupError:
        return False
    except (OSError, ValueError, KeyError):
        return True


def sweep_stale():
    """Remove what test beds of dead test runs left behind (processes in their
    namespaces, namespaces, veths, bridges, cgroups): their notes name all of it. Returns
    the tags swept."""
    swept = []
    for path, note in _read_notes():
        if _owner_alive(note):
            continue
        workdir = note.get("workdir")
        pids = set()
        for ns in note.get("netns", []):
            pids |= netns_pids(ns)
        if workdir:
            _thaw_all(workdir)  # a frozen process dies only once thawed
            pids |= cwd_pids(workdir)
        kill_all(pids)
        wait_gone(pids, 10)
        for ns in note.get("netns", []):
            run_ip("netns", "del", ns, check=False)
        for link in note.get("links", []):
            run_ip("link", "del", link, check=False)
        if workdir:
            cleanup_cgroups(workdir)
        for p in (path, os.path.join(STATE_DIR, f"{note.get('subnet')}.lock")):
            try:
                os.unlink(p)
            except OSError:
                pass
        swept.append(note.get("tag"))
    return swept


def _thaw_all(workdir):
    root, is_v2 = _freezer_root()
    if root is None:
        return
    base = os.path.join(root, cgroup_parent(workdir))
    if not os.path.isdir(base):
        return
    for dirpath, _dirs, files in os.walk(base):
        try:
            if is_v2 and "cgroup.freeze" in files:
                _write(os.path.join(dirpath, "cgroup.freeze"), "0")
            elif "freezer.state" in files:
                _write(os.path.join(dirpath, "freezer.state"), "THAWED")
        except OSError:
            pass


class TestBed:
    """A master and N agents, each on its own host (see the file's comment). Use as a
    context manager or call close(); close() returns a list of problems (empty when all
    went well).

        with TestBed(workdir, agents=4) as bed:
            api = bed.apps()                   # Apps client of http://<master ip>:8080
            h = bed.agents[1]                  # Host "host2" (ip 10.A.B.12)
            t = h.crash(); ...; h.restart()
    """

    __test__ = False  # not a pytest test class

    def __init__(self, workdir, agents=4, master_extra=(), agent_extra=(), resources=None,
                 wait=True):
        why = unavailable()
        if why:
            raise BedError(why)
        sweep_stale()
        self.workdir = workdir
        self.tag = secrets.token_hex(3)
        self.bridge = f"crb{self.tag}"
        self.hosts = []
        self.closed = False
        self.note_path = None
        os.makedirs(STATE_DIR, exist_ok=True)
        try:
            self.subnet = self._claim_subnet()
            self.bridge_ip = f"{self.subnet}.1"
            run_ip("link", "add", self.bridge, "type", "bridge")
            self.note_changed()
            run_ip("addr", "add", f"{self.bridge_ip}/24", "dev", self.bridge)
            run_ip("link", "set", self.bridge, "up")
            self.master_host = self._add_host(0, "master")
            self.agents = [self._add_host(i, f"host{i}") for i in range(1, agents + 1)]
            self.master_host.daemon = MasterDaemon(self.master_host, master_extra)
            self.master = self.master_host.daemon
            res = resources or DEFAULT_RESOURCES
            for h in self.agents:
                h.daemon = AgentDaemon(h, self.master_host.ip, res, agent_extra)
            self.master_host.start()
            self.master.wait_ready()
            for h in self.agents:
                h.start()
            if wait:
                self.wait_agents(agents)
        except BaseException:
            for h in self.hosts:
                if h.daemon:
                    print(f"----- {h.name} (alive: {h.daemon.alive()}) -----\n"
                          f"{h.daemon.output()[-5000:]}")
            self.close()
            raise

    # -- set-up
    def _claim_subnet(self):
        taken = _used_subnets() | {n.get("subnet") for _p, n in _read_notes()}
        for _ in range(200):
            s = f"10.{random.randint(200, 250)}.{random.randint(0, 255)}"
            if s in taken:
                continue
            path = os.path.join(STATE_DIR, f"{s}.lock")
            try:  # two beds picking the same /24 at once: only one gets the lock
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                continue
            os.close(fd)
            self._subnet_lock = path
            self.subnet = s
            self.note_changed()
            return s
        raise BedError("no free /24 in 10.200-250.x")

    def note_changed(self):
        """Write the note naming everything this bed made (for sweep_stale)."""
        self.note_path = os.path.join(STATE_DIR, f"{self.tag}.json")
        note = {"tag": self.tag, "pid": os.getpid(), "subnet": getattr(self, "subnet", None),
                "workdir": self.workdir, "netns": [h.ns for h in self.hosts],
                "links": [h.veth for h in self.hosts] + [self.bridge]}
        tmp = self.note_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(note, f)
        os.replace(tmp, self.note_path)

    def _add_host(self, index, name):
        h = Host(self, index, name, f"{self.subnet}.{10 + index}")
        self.hosts.append(h)
        h.create_link()
        return h

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        problems = self.close()
        if problems and exc[0] is None:
            raise AssertionError(problems)
        return False

    # -- use
    def host(self, name):
        return next(h for h in self.hosts if h.name == name)

    def apps(self):
        """A /v2 client of the master."""
        return Apps(self.master.apps_url)

    def scheduler(self, **kw):
        """A Mesos v1 scheduler (cluster.Scheduler) subscribed to the master."""
        return Scheduler(self.master.url, **kw)

    def wait_agents(self, n, timeout=30):
        def enough():
            st = self.master.state()
            return len([s for s in st["slaves"] if s["active"]]) >= n
        wait_for(enough, timeout, what=f"{n} active agents")

    def agent_info(self, host):
        """The master's /master/state entry of host's agent (by hostname), or None."""
        for s in self.master.state()["slaves"]:
            if s["hostname"] == host.name:
                return s
        return None

    def tasks_running(self, app_id=None):
        """{task id: host name} of task processes really alive on the agent hosts (of app_id
        when given) - seen from outside, so partitioned and frozen hosts count too."""
        out = {}
        for h in self.agents:
            for tid, app in h.tasks_running().items():
                if app_id is None or app == app_id:
                    out[tid] = h.name
        return out

    # -- tear-down
    def close(self):
        """Undo everything; returns the problems found."""
        if self.closed:
            return []
        self.closed = True
        problems = []
        for h in self.hosts:
            try:
                if h.is_partitioned or h.is_crashed:
                    h._set_link(True)
            except BedError:
                pass
            try:
                if h.is_frozen:
                    h.thaw()
            except (BedError, OSError, AssertionError):
                pass
        _thaw_all(self.workdir)
        for h in reversed(self.hosts):  # agents first, the master last
            d = h.daemon
            if d is None:
                continue
            if d.proc is not None:
                rc = d.stop()
                if rc not in (0, None):
                    problems.append(f"{d.name} exited with {rc}")
            for rep in d.sanitizer_reports():
                problems.append(f"{d.name}: {rep}")
        for h in self.hosts:
            left = h.pids()
            kill_all(left)
            wait_gone(left, 5)
        reap_strays(self.workdir)
        cleanup_cgroups(self.workdir)
        problems += executor_reports(self.workdir)
        for h in self.hosts:
            kill_all(netns_pids(h.ns))
            run_ip("netns", "del", h.ns, check=False)
            run_ip("link", "del", h.veth, check=False)
        run_ip("link", "del", self.bridge, check=False)
        names = run_ip("netns", "list", check=False).stdout + run_ip("-o", "link",
                                                                      check=False).stdout
        if self.tag in names:
            problems.append(f"test bed {self.tag}: namespaces or links left behind")
        for path in (self.note_path, getattr(self, "_subnet_lock", None)):
            if path:
                try:
                    os.unlink(path)
                except OSError:
                    pass
        return problems
