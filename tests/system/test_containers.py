"""Tasks are real containers (issue 3): cgroup limits (memory, cpu, pids), pid/mount/uts
namespaces, a private /tmp, volumes, hardening, kills that leave nothing behind, health
checks, and impossible container specs answered with a message. Real kernel features:
these tests need root and cgroups, and are skipped with a message otherwise."""

import os
import time

import pytest

from cluster import (Cluster, Scheduler, cgroup_dirs, cgroup_parent, container_cgroups,
                     sandbox_file, task_directory, task_info, wait_for)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="containers need root")

CGROUP = "/sys/fs/cgroup"
V2 = os.path.exists(os.path.join(CGROUP, "cgroup.controllers"))


def cg_file(workdir, agent_index, container_id, controller, name):
    rel = f"{cgroup_parent(workdir)}/agent{agent_index}/{container_id}"
    if V2:
        return os.path.join(CGROUP, rel, name)
    for h in os.listdir(CGROUP):
        if controller in h.split(",") and not os.path.islink(os.path.join(CGROUP, h)):
            return os.path.join(CGROUP, h, rel, name)
    raise AssertionError(f"no {controller} hierarchy")


def cpu_seconds(workdir, agent_index, container_id):
    if V2:
        with open(cg_file(workdir, agent_index, container_id, "cpu", "cpu.stat")) as f:
            for line in f:
                k, v = line.split()
                if k == "usage_usec":
                    return int(v) / 1e6
    with open(cg_file(workdir, agent_index, container_id, "cpuacct", "cpuacct.usage")) as f:
        return int(f.read()) / 1e9


def procs_in(directory):
    """Pids whose working dir is inside directory (only looking, never killing)."""
    left = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if (os.readlink(f"/proc/{pid}/cwd") + "/").startswith(directory + "/"):
                    left.append(int(pid))
            except OSError:
                pass
    return left


def container_id(status):
    return status["container_status"]["container_id"]["value"]


@pytest.fixture
def env(workdir):
    c = Cluster(workdir, agents=1, agent_extra=["--pids-limit", "64"])
    s = Scheduler(c.master.url, capabilities=["TASK_KILLING_STATE"])
    yield c, s
    s.close()
    problems = c.close()
    if problems:
        for d in c.daemons():
            print(f"----- {d.name} -----\n{d.output()[-20000:]}")
    assert not problems, problems
    assert container_cgroups(workdir) == [], "the harness had to remove container cgroups"


def launch(s, tasks):
    offer = s.offers()[0]
    infos = [task_info(offer, tid, cmd, **kw) for tid, cmd, kw in tasks]
    s.launch(offer, infos)
    return offer


def test_inside_a_task_own_pid1_hostname_tmp_and_process_view(env, workdir):
    c, s = env
    open("/tmp/corral-host-marker", "w").close()
    try:
        launch(s, [("look", "echo pid=$$; echo host=$(hostname); ls /proc | grep -c '^[0-9]';"
                    " echo hi > /tmp/x; ls /tmp; test -e /tmp/corral-host-marker || echo private",
                    {})])
        st = s.until("look", "TASK_FINISHED")
    finally:
        os.unlink("/tmp/corral-host-marker")
    d = task_directory(c.agents[0], "look")
    out = sandbox_file(c.agents[0], d, "stdout").split("\n")
    assert out[0] == "pid=1", out
    assert out[1] == "host=look", out
    assert int(out[2]) <= 3, f"the task sees other processes: {out}"
    assert "x" in out[3:] and "private" in out, out
    assert open(os.path.join(d, "tmp", "x")).read() == "hi\n"
    assert st["message"] == "Command exited with status 0"


def test_memory_limit_oom_kill_reported_and_neighbour_unaffected(env, workdir):
    c, s = env
    launch(s, [("hog", ["python3", "-c", "import time; a = b'x' * (256 << 20); time.sleep(30)"],
                {"mem": 64, "shell": False}),
               ("calm", "sleep 60", {"mem": 32})])
    st = s.until("hog", "TASK_FAILED", timeout=30)
    assert st["reason"] == "REASON_CONTAINER_LIMITATION_MEMORY", st
    assert "Memory limit exceeded" in st["message"], st
    calm = s.until("calm", "TASK_RUNNING")
    time.sleep(0.5)
    r = s.call("RECONCILE", {"tasks": [{"task_id": {"value": "calm"},
                                        "agent_id": calm["agent_id"]}]})
    assert r.status_code == 202
    assert s.update("calm")["state"] == "TASK_RUNNING"
    s.call("KILL", {"task_id": {"value": "calm"}, "agent_id": calm["agent_id"]})
    s.until("calm", "TASK_KILLED")


def test_cpu_hard_limit_half_a_cpu_neighbour_unaffected(env, workdir):
    c, s = env
    hog = "while :; do :; done"
    launch(s, [("capped", hog, {"cpus": 0.5, "extra": {"limits": {"cpus": {"value": 0.5}}}}),
               ("free", hog, {"cpus": 0.5})])
    capped = s.until("capped", "TASK_RUNNING")
    free = s.until("free", "TASK_RUNNING")
    time.sleep(0.5)
    a0 = cpu_seconds(workdir, 0, container_id(capped))
    b0 = cpu_seconds(workdir, 0, container_id(free))
    t0 = time.time()
    time.sleep(3)
    dt = time.time() - t0
    a = (cpu_seconds(workdir, 0, container_id(capped)) - a0) / dt
    b = (cpu_seconds(workdir, 0, container_id(free)) - b0) / dt
    assert 0.35 <= a <= 0.6, f"capped task used {a:.2f} cpus"
    assert b >= 0.75, f"the uncapped neighbour only got {b:.2f} cpus"
    for tid, st in (("capped", capped), ("free", free)):
        s.call("KILL", {"task_id": {"value": tid}, "agent_id": st["agent_id"]})
        s.until(tid, "TASK_KILLED")


BOMB = """
import os, time
n = 0
for i in range(300):
    try:
        pid = os.fork()
    except OSError as e:
        print("fork failed:", e.strerror, flush=True)
        break
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    n += 1
print("forked", n, flush=True)
time.sleep(60)
"""


def test_fork_bomb_stops_at_the_pids_limit(env, workdir):
    c, s = env
    launch(s, [("bomb", ["python3", "-c", BOMB], {"shell": False, "mem": 512})])
    st = s.until("bomb", "TASK_RUNNING")
    cid = container_id(st)
    pids_file = cg_file(workdir, 0, cid, "pids", "pids.current")
    d = task_directory(c.agents[0], "bomb")
    out = wait_for(lambda: "forked" in sandbox_file(c.agents[0], d, "stdout") and
                   sandbox_file(c.agents[0], d, "stdout"), 20, what="the fork loop")
    assert "fork failed: Resource temporarily unavailable" in out, out
    forked = int(out.split("forked ")[1].split()[0])
    assert 10 < forked < 64, out
    with open(pids_file) as f:
        assert int(f.read()) <= 64
    s.call("KILL", {"task_id": {"value": "bomb"}, "agent_id": st["agent_id"]})
    s.until("bomb", "TASK_KILLED")
    wait_for(lambda: not os.path.exists(os.path.dirname(pids_file)), 10,
             what="the container's cgroup to go")


def test_kill_of_a_task_with_a_detached_daemon_leaves_nothing(env, workdir):
    c, s = env
    launch(s, [("daemon", "setsid sh -c 'sleep 1000 & sleep 1000' & sleep 1000", {})])
    st = s.until("daemon", "TASK_RUNNING")
    cid = container_id(st)
    d = task_directory(c.agents[0], "daemon")
    procs_file = cg_file(workdir, 0, cid, "pids", "cgroup.procs")
    wait_for(lambda: len(open(procs_file).read().split()) >= 4, 10, what="the daemon to start")
    s.call("KILL", {"task_id": {"value": "daemon"}, "agent_id": st["agent_id"]})
    done = s.until("daemon", "TASK_KILLED")
    assert done["source"] == "SOURCE_EXECUTOR"
    wait_for(lambda: not os.path.exists(os.path.dirname(procs_file)), 10,
             what="the container's cgroup to go")
    # Nothing with the sandbox as its working dir survives, the executor included.
    wait_for(lambda: procs_in(d) == [], 10, what="every process of the task to end")


def test_volumes_read_only_and_read_write(env, workdir):
    c, s = env
    ro = os.path.join(workdir, "ro")
    rw = os.path.join(workdir, "rw")
    os.makedirs(ro)
    os.makedirs(rw)
    with open(os.path.join(ro, "data"), "w") as f:
        f.write("from the host\n")
    container = {"type": "MESOS", "volumes": [
        {"container_path": "in", "host_path": ro, "mode": "RO"},
        {"container_path": "out", "host_path": rw, "mode": "RW"}]}
    launch(s, [("vol", "cat in/data; echo written > out/result; "
                       "echo no > in/data 2>/dev/null || echo ro-refused", {"extra": {
                           "container": container}})])
    s.until("vol", "TASK_FINISHED")
    out = sandbox_file(c.agents[0], task_directory(c.agents[0], "vol"), "stdout")
    assert out == "from the host\nro-refused\n", out
    assert open(os.path.join(rw, "result")).read() == "written\n"
    assert open(os.path.join(ro, "data")).read() == "from the host\n"


def test_hardening_capabilities_seccomp_no_new_privs(env, workdir):
    c, s = env
    launch(s, [("hard", "grep -E '^(CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; "
                        "unshare -m true 2>/dev/null && echo unshare-ok || echo unshare-refused; "
                        "mount -t tmpfs none /mnt 2>/dev/null && echo mount-ok || "
                        "echo mount-refused", {})])
    s.until("hard", "TASK_FINISHED")
    out = sandbox_file(c.agents[0], task_directory(c.agents[0], "hard"), "stdout")
    fields = dict(line.split(":\t") for line in out.splitlines() if ":\t" in line)
    assert fields["NoNewPrivs"] == "1", out
    assert fields["Seccomp"] == "2", out
    bnd = int(fields["CapBnd"], 16)
    assert bnd & (1 << 21) == 0, f"CAP_SYS_ADMIN still in the bounding set: {out}"
    assert bin(bnd).count("1") == 14, out
    assert "unshare-refused" in out and "mount-refused" in out, out


def test_network_none_has_only_loopback(env, workdir):
    c, s = env
    ifaces = "tail -n +3 /proc/net/dev | cut -d: -f1"
    launch(s, [("nonet", ifaces, {"extra": {"container": {
        "type": "MESOS", "network_infos": [{"name": "none"}]}}}),
               ("hostnet", ifaces, {})])
    s.until("nonet", "TASK_FINISHED")
    s.until("hostnet", "TASK_FINISHED")
    a = c.agents[0]
    assert sandbox_file(a, task_directory(a, "nonet"), "stdout").split() == ["lo"]
    assert len(sandbox_file(a, task_directory(a, "hostnet"), "stdout").split()) >= 2


@pytest.mark.parametrize("extra,words", [
    ({"container": {"type": "MESOS", "network_infos": [{"name": "bridge9"}]}},
     ["unknown network", "bridge9"]),
    ({"container": {"type": "MESOS", "volumes": [
        {"container_path": "v", "host_path": "/nonexistent/corral-test", "mode": "RO"}]}},
     ["/nonexistent/corral-test"]),
    ({"container": {"type": "DOCKER", "docker": {"image": "busybox"}}},
     ["not supported yet"]),
])
def test_impossible_container_specs_fail_with_a_message(env, workdir, extra, words):
    c, s = env
    launch(s, [("bad", "true", {"extra": extra})])
    st = s.update("bad")
    while st["state"] not in ("TASK_FAILED", "TASK_ERROR"):
        s.ack(st)
        st = s.update("bad")
    for w in words:
        assert w in st["message"], st
    assert c.agents[0].alive()


def test_unknown_user_fails_the_task(env, workdir):
    c, s = env
    offer = s.offers()[0]
    t = task_info(offer, "nouser", "true")
    t["command"]["user"] = "no-such-user-corral"
    s.launch(offer, [t])
    st = s.update("nouser")
    while st["state"] not in ("TASK_FAILED", "TASK_ERROR"):
        s.ack(st)
        st = s.update("nouser")
    assert "no-such-user-corral" in st["message"], st


def health_task(offer, tid, cmd, check, **kw):
    return task_info(offer, tid, cmd, extra={"health_check": check}, **kw)


def test_command_health_check_turns_healthy_then_unhealthy_then_kills(env, workdir):
    c, s = env
    offer = s.offers()[0]
    check = {"type": "COMMAND", "command": {"value": "test -e flag"}, "delay_seconds": 0,
             "interval_seconds": 0.2, "timeout_seconds": 2, "consecutive_failures": 3,
             "grace_period_seconds": 0}
    s.launch(offer, [health_task(offer, "hc", "touch flag; sleep 2; rm flag; sleep 60", check)])
    s.until("hc", "TASK_RUNNING")
    st = s.update("hc", "TASK_RUNNING")
    while st.get("healthy") is not True:
        s.ack(st)
        st = s.update("hc", "TASK_RUNNING")
    s.ack(st)
    st = s.update("hc")
    while st.get("healthy") is not False:
        s.ack(st)
        st = s.update("hc")
    s.ack(st)
    end = s.until("hc", "TASK_KILLED", timeout=20)
    assert end["reason"] == "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED", end
    assert end.get("healthy") is False, end


def test_tcp_and_http_health_checks(env, workdir):
    c, s = env
    offer = s.offers()[0]
    ports = [r for r in offer["resources"] if r["name"] == "ports"][0]["ranges"]["range"][0]
    p1, p2 = ports["begin"], ports["begin"] + 1
    res = lambda p: [{"name": "ports", "type": "RANGES",  # noqa: E731
                      "ranges": {"range": [{"begin": p, "end": p}]}}]
    tcp = health_task(offer, "tcp", f"sleep 1; exec python3 -m http.server {p1} --bind 127.0.0.1",
                      {"type": "TCP", "tcp": {"port": p1}, "delay_seconds": 0,
                       "interval_seconds": 0.3, "grace_period_seconds": 5})
    tcp["resources"] += res(p1)
    http = health_task(offer, "http",
                       f"mkdir www; cd www; echo ok > index.html; "
                       f"exec python3 -m http.server {p2} --bind 127.0.0.1",
                       {"type": "HTTP", "http": {"port": p2, "path": "/index.html"},
                        "delay_seconds": 0, "interval_seconds": 0.3, "grace_period_seconds": 5})
    http["resources"] += res(p2)
    s.launch(offer, [tcp, http])
    for tid in ("tcp", "http"):
        st = s.update(tid)
        while not (st["state"] == "TASK_RUNNING" and st.get("healthy") is True):
            s.ack(st)
            st = s.update(tid)
        s.ack(st)
        s.call("KILL", {"task_id": {"value": tid}, "agent_id": st["agent_id"]})
        s.until(tid, "TASK_KILLED")


def test_no_cgroups_or_processes_left_after_tasks_end(env, workdir):
    c, s = env
    launch(s, [(f"t{i}", "sleep 0.2", {}) for i in range(5)])
    s.until_all([f"t{i}" for i in range(5)], "TASK_FINISHED")
    wait_for(lambda: container_cgroups(workdir) == [], 10, what="container cgroups to go")
    # The agent's own parent cgroup is the only thing left under the test's.
    assert all(d.endswith(("agent0", os.path.basename(workdir), "corral-test"))
               for d in cgroup_dirs(workdir)), cgroup_dirs(workdir)
    wait_for(lambda: procs_in(os.path.join(workdir, "agent0", "slaves")) == [], 10,
             what="every executor and task to end")


def test_task_runs_as_command_user(env, workdir):
    c, s = env
    offer = s.offers()[0]
    t = task_info(offer, "asnobody", "id -u; id -g; touch mine")
    t["command"]["user"] = "nobody"
    s.launch(offer, [t])
    s.until("asnobody", "TASK_FINISHED")
    d = task_directory(c.agents[0], "asnobody")
    out = sandbox_file(c.agents[0], d, "stdout").split()
    assert out[0] == "65534", out
    assert os.stat(os.path.join(d, "mine")).st_uid == 65534
