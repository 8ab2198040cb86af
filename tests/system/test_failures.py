"""When machines die (issue 5), on the multi-host test bed of hosts.py: every daemon on its
own host (network namespace and IP), hosts crashed, frozen, partitioned and restarted for
real. Each test also runs a PARTITION_AWARE "probe" framework with one task per host, and
asks the master through explicit reconciliation what became of them (UNREACHABLE / RUNNING
/ GONE), because the orchestrator's own framework lives inside the master.

What really runs is counted from outside (bed.tasks_running(): task processes found by
their sandbox and environment), so a partitioned or frozen host's instances count too.

Timings are printed (pytest -s, or -ra shows them for failures)."""

import json
import threading
import time

import pytest
import requests

from cluster import EventStream, task_info, wait_for
from hosts import TestBed, unavailable

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))

SLEEP = "sleep 600"
FAST_PINGS = ["--agent-ping-interval", "500ms"]  # 5 misses: unreachable after 2.5 s
FAST_WINDOW_S = 2.5
DEFAULT_WINDOW_S = 5.0


@pytest.fixture
def make_bed(workdir):
    beds = []

    def make(**kw):
        b = TestBed(workdir, **kw)
        beds.append(b)
        return b
    yield make
    for b in beds:
        problems = b.close()
        if problems:
            for h in b.hosts:
                if h.daemon:
                    print(f"----- {h.name} -----\n{h.daemon.output()[-20000:]}")
        assert not problems, problems


# ---------------------------------------------------------------- helpers


def app_spec(app_id, instances, **extra):
    spec = {"id": app_id, "cmd": SLEEP, "cpus": 0.1, "mem": 16, "instances": instances,
            "constraints": [["hostname", "UNIQUE"]], "backoffSeconds": 1}
    spec.update(extra)
    return spec


def running_ids(api, app_id):
    """{task id: host} of the instances the orchestrator reports TASK_RUNNING."""
    return {t["id"]: t["host"] for t in api.app(app_id)["tasks"] if t["state"] == "TASK_RUNNING"}


def agent_unreachable(bed, host):
    st = bed.master.state()
    return (st["unreachable_slaves"] >= 1 and
            all(s["hostname"] != host.name for s in st["slaves"] + st["recovered_slaves"]))


def agent_active(bed, host):
    st = bed.master.state()
    return any(s["hostname"] == host.name and s["active"] for s in st["slaves"])


class Probe:
    """A PARTITION_AWARE framework with one sleeping task per agent host."""

    def __init__(self, bed, failover_timeout=60):
        self.bed = bed
        self.s = bed.scheduler(name="probe", capabilities=["PARTITION_AWARE"],
                               failover_timeout=failover_timeout)
        self.tasks = {}  # host name -> (task id, agent id)
        deadline = time.time() + 30
        while len(self.tasks) < len(bed.agents):
            assert time.time() < deadline, f"probe placed only {sorted(self.tasks)}"
            for offer in self.s.offers():
                host = offer["hostname"]
                if host in self.tasks:
                    self.s.call("DECLINE", {"offer_ids": [offer["id"]]})
                    continue
                tid = f"probe-{host}"
                self.s.launch(offer, [task_info(offer, tid, SLEEP, cpus=0.05, mem=8)])
                self.tasks[host] = (tid, offer["agent_id"]["value"])
        self.s.call("SUPPRESS")
        self.s.until_all([t for t, _ in self.tasks.values()], "TASK_RUNNING")

    def reconcile(self, timeout=10):
        """Explicit reconciliation of every probe task: {host name: status}."""
        by_task = {tid: host for host, (tid, _aid) in self.tasks.items()}
        body = {"tasks": [{"task_id": {"value": tid}, "agent_id": {"value": aid}}
                          for tid, aid in self.tasks.values()]}
        r = self.s.call("RECONCILE", body)
        assert r.status_code == 202, (r.status_code, r.text)
        got = {}
        deadline = time.time() + timeout

        def answer(ev):
            st = ev["update"]["status"]
            return (st["task_id"]["value"] in by_task and
                    st.get("reason") == "REASON_RECONCILIATION")
        while len(got) < len(by_task):
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError(f"reconciliation answered only {got}")
            st = self.s.expect("UPDATE", left, answer)["update"]["status"]
            got[by_task[st["task_id"]["value"]]] = st
        return got

    def states(self, timeout=10):
        return {h: st["state"] for h, st in self.reconcile(timeout).items()}

    def close(self):
        self.s.close()


class Sampler:
    """Counts every 100 ms what really runs of an app (and what the API says runs)."""

    def __init__(self, bed, api, app_id):
        self.bed, self.api, self.app_id = bed, api, app_id
        self.samples = []  # (time, {task id: host} really running, n API running)
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop_ev.is_set():
            real = self.bed.tasks_running(self.app_id)
            try:
                n_api = len(running_ids(self.api, self.app_id))
            except (requests.RequestException, ValueError, KeyError):
                n_api = None
            self.samples.append((time.time(), real, n_api))
            self.stop_ev.wait(0.1)

    def stop(self):
        self.stop_ev.set()
        self.thread.join(5)

    def max_real(self):
        return max(len(s[1]) for s in self.samples)


def wait_replacement(api, app_id, old_ids, timeout):
    def new_running():
        run = running_ids(api, app_id)
        new = {t: h for t, h in run.items() if t not in old_ids}
        return new or None
    return wait_for(new_running, timeout, interval=0.05, what=f"a replacement of {app_id}")


def first_record(resp, timeout=10):
    """The first RecordIO record ("<length>\\n<json>") of a streaming response."""
    deadline = time.time() + timeout
    buf = b""
    while b"\n" not in buf:
        assert time.time() < deadline, f"no record within {timeout}s"
        c = resp.raw.read(1)
        assert c, f"stream closed after {buf!r}"
        buf += c
    n = int(buf)
    data = b""
    while len(data) < n:
        c = resp.raw.read(n - len(data))
        assert c, "stream closed inside a record"
        data += c
    return json.loads(data)


# ---------------------------------------------------------------- 1. crash a host


def test_crash_host_replaces_its_instance_elsewhere(make_bed):
    """At the defaults (pings 1 s x 5, inactiveAfterSeconds 5): the crashed host is marked
    unreachable within its window, the instance's task goes TASK_UNREACHABLE and a
    replacement runs on the spare host within 10 s of the crash (issue 5's figure)."""
    bed = make_bed(agents=4)
    api = bed.apps()
    ev = EventStream(bed.master.apps_url, types=["status_update_event"])
    probe = Probe(bed)
    try:
        api.create(app_spec("/crash", 3))
        tasks = api.wait_running("/crash", 3)
        old = {t["id"]: t["host"] for t in tasks}
        victim_task = tasks[0]["id"]
        victim = bed.host(tasks[0]["host"])
        spare = next(h for h in bed.agents if h.name not in old.values())
        assert set(bed.tasks_running("/crash")) == set(old)

        t0 = victim.crash()
        assert not victim.pids(), "the crashed host still has processes"
        wait_for(lambda: agent_unreachable(bed, victim), DEFAULT_WINDOW_S + 5, interval=0.05,
                 what=f"{victim.name} marked unreachable")
        t_unreachable = time.time() - t0
        ev.wait("status_update_event", lambda d: d["taskId"] == victim_task and
                d["taskStatus"] == "TASK_UNREACHABLE", timeout=5)
        new = wait_replacement(api, "/crash", old, 20)
        t_replaced = time.time() - t0
        print(f"\ncrash -> agent unreachable {t_unreachable:.2f}s, -> replacement RUNNING "
              f"{t_replaced:.2f}s (defaults: pings 1 s x 5, inactiveAfterSeconds 5)")
        assert list(new.values()) == [spare.name]
        assert DEFAULT_WINDOW_S - 1 <= t_unreachable <= DEFAULT_WINDOW_S + 1.5, t_unreachable
        assert t_replaced <= 10, t_replaced

        # the app is whole again, on distinct hosts, and really runs there; the lost
        # instance is listed as unreachable until expungeAfterSeconds (as Marathon does)
        time.sleep(1)
        run = running_ids(api, "/crash")
        assert len(run) == 3 and len(set(run.values())) == 3, run
        assert victim.name not in run.values()
        assert set(bed.tasks_running("/crash")) == set(run)
        lost = [t["state"] for t in api.app("/crash")["tasks"] if t["id"] == victim_task]
        assert lost in ([], ["TASK_UNREACHABLE"]), lost

        # reconcile: the crashed host's task is unreachable, the others run
        st = probe.reconcile()
        assert st[victim.name]["state"] == "TASK_UNREACHABLE", st[victim.name]
        assert "unreachable_time" in st[victim.name]
        assert all(s["state"] == "TASK_RUNNING" for h, s in st.items() if h != victim.name)
    finally:
        ev.close()
        probe.close()


def crash_and_reboot(bed, api, probe, app_id):
    """Crash the host of an instance of app_id (3 instances), wait for the replacement,
    boot the host again; returns (host, the probe's reconciliation once the host's task is
    no longer unreachable)."""
    api.create(app_spec(app_id, 3, unreachableStrategy={"inactiveAfterSeconds": 0,
                                                        "expungeAfterSeconds": 60}))
    tasks = api.wait_running(app_id, 3)
    old = {t["id"]: t["host"] for t in tasks}
    victim = bed.host(tasks[0]["host"])
    victim.crash()
    wait_for(lambda: agent_unreachable(bed, victim), FAST_WINDOW_S + 5, interval=0.05,
             what=f"{victim.name} marked unreachable")
    wait_replacement(api, app_id, old, FAST_WINDOW_S + 15)
    t0 = time.time()
    victim.restart()
    wait_for(lambda: agent_active(bed, victim), 20, what=f"{victim.name} back")
    print(f"\nrebooted host re-registered in {time.time() - t0:.2f}s")
    st = wait_for(lambda: (lambda s: s if s[victim.name]["state"] != "TASK_UNREACHABLE"
                           else None)(probe.reconcile()), 15, interval=0.5,
                  what="the rebooted host's task no longer unreachable")
    return victim, st


def test_crashed_host_coming_back_has_lost_its_tasks(make_bed):
    """The machine reboots on its work dir: what ran there is over (not running, not
    unreachable), the other hosts' tasks run, and the app does not grow past its count."""
    bed = make_bed(agents=4, master_extra=FAST_PINGS)
    api = bed.apps()
    probe = Probe(bed)
    try:
        victim, st = crash_and_reboot(bed, api, probe, "/reboot")
        assert st[victim.name]["state"] in ("TASK_GONE", "TASK_FAILED", "TASK_LOST"), st
        assert all(s["state"] == "TASK_RUNNING" for h, s in st.items() if h != victim.name), st
        time.sleep(2)
        tasks = api.wait_running("/reboot", 3, timeout=10)
        assert set(bed.tasks_running("/reboot")) == {t["id"] for t in tasks}
        assert probe.tasks[victim.name][0] not in bed.tasks_running()
    finally:
        probe.close()


def test_crashed_host_coming_back_reports_its_tasks_gone(make_bed):
    bed = make_bed(agents=4, master_extra=FAST_PINGS)
    api = bed.apps()
    probe = Probe(bed)
    try:
        victim, st = crash_and_reboot(bed, api, probe, "/gone")
        assert st[victim.name]["state"] == "TASK_GONE", st[victim.name]
    finally:
        probe.close()


def test_replacement_waits_for_inactive_after_seconds(make_bed):
    """unreachableStrategy.inactiveAfterSeconds: an unreachable instance is replaced only
    once it has been unreachable that long."""
    bed = make_bed(agents=4, master_extra=FAST_PINGS)
    api = bed.apps()
    inactive_s = 4
    api.create(app_spec("/patient", 3, unreachableStrategy={"inactiveAfterSeconds": inactive_s,
                                                            "expungeAfterSeconds": 60}))
    tasks = api.wait_running("/patient", 3)
    old = {t["id"]: t["host"] for t in tasks}
    victim = bed.host(tasks[0]["host"])
    t0 = victim.crash()
    wait_for(lambda: agent_unreachable(bed, victim), FAST_WINDOW_S + 5, interval=0.05,
             what=f"{victim.name} marked unreachable")
    t_unreachable = time.time() - t0
    new = wait_replacement(api, "/patient", old, inactive_s + 15)
    t_new = time.time() - t0
    print(f"\ncrash -> unreachable {t_unreachable:.2f}s, -> replacement RUNNING "
          f"{t_new:.2f}s (inactiveAfterSeconds {inactive_s}, pings 500ms x 5)")
    assert victim.name not in new.values()
    # The instance is unreachable since its host's last sign of life (at most the crash):
    # no replacement before inactiveAfterSeconds from there, and not much after it.
    assert t_new >= inactive_s - 0.3, f"replaced {t_new:.2f}s after the crash"
    assert t_new <= max(inactive_s, FAST_WINDOW_S) + 3, t_new


# ---------------------------------------------------------------- 2. freeze a host


def test_short_freeze_replaces_nothing(make_bed):
    """A host hung for 2 s, less than the 5 s detection window (defaults: 1 s x 5): not
    marked unreachable, nothing replaced, the same task ids."""
    bed = make_bed(agents=4)
    api = bed.apps()
    ev = EventStream(bed.master.apps_url, types=["status_update_event"])
    probe = Probe(bed)
    try:
        api.create(app_spec("/hung", 3))
        before = {t["id"] for t in api.wait_running("/hung", 3)}
        victim = bed.host(api.app("/hung")["tasks"][0]["host"])
        victim.freeze()
        assert victim.pids() and all(_stopped(p) for p in victim.pids())
        time.sleep(2)
        victim.thaw()
        time.sleep(DEFAULT_WINDOW_S + 1)  # anything wrongly started would have shown by now
        assert bed.master.state()["unreachable_slaves"] == 0
        assert agent_active(bed, victim)
        assert {t["id"] for t in api.wait_running("/hung", 3, timeout=5)} == before
        assert set(bed.tasks_running("/hung")) == before
        bad = [d for d in ev.of("status_update_event")
               if d["taskStatus"] not in ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING")]
        assert not bad, bad
        st = probe.states()
        assert set(st.values()) == {"TASK_RUNNING"}, st
    finally:
        ev.close()
        probe.close()


def _stopped(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("D", "T", "t")
    except OSError:
        return True


# ---------------------------------------------------------------- 3. partition, heal


def test_partition_then_heal_kills_the_surplus(make_bed):
    bed = make_bed(agents=4, master_extra=FAST_PINGS)
    api = bed.apps()
    probe = Probe(bed)
    sampler = None
    try:
        api.create(app_spec("/split", 3, unreachableStrategy={"inactiveAfterSeconds": 1,
                                                              "expungeAfterSeconds": 60}))
        tasks = api.wait_running("/split", 3)
        old = {t["id"]: t["host"] for t in tasks}
        cut_task = tasks[0]["id"]
        victim = bed.host(tasks[0]["host"])
        sampler = Sampler(bed, api, "/split")

        t0 = time.time()
        victim.partition()
        assert not victim.reachable(5051)
        wait_for(lambda: agent_unreachable(bed, victim), FAST_WINDOW_S + 5, interval=0.05,
                 what=f"{victim.name} marked unreachable")
        t_unreachable = time.time() - t0
        new = wait_replacement(api, "/split", old, FAST_WINDOW_S + 15)
        t_replaced = time.time() - t0
        assert victim.name not in new.values()
        assert cut_task in bed.tasks_running("/split"), "the cut-off instance still runs"
        st = probe.states()
        assert st[victim.name] == "TASK_UNREACHABLE", st

        t1 = time.time()
        victim.heal()
        wait_for(lambda: agent_active(bed, victim), 20, what=f"{victim.name} back")
        t_back = time.time() - t1

        def settled():
            real = bed.tasks_running("/split")
            return real if len(real) == 3 and len(running_ids(api, "/split")) == 3 else None
        wait_for(settled, 20, interval=0.1, what="the app back at 3 instances")
        t_settled = time.time() - t1
        time.sleep(2)  # and it stays there
        sampler.stop()
        real = bed.tasks_running("/split")
        print(f"\npartition -> unreachable {t_unreachable:.2f}s, -> replacement RUNNING "
              f"{t_replaced:.2f}s; heal -> agent back {t_back:.2f}s, -> 3 instances "
              f"{t_settled:.2f}s; max really running {sampler.max_real()}")
        assert len(real) == 3 and set(running_ids(api, "/split")) == set(real)
        assert len({bed_host for bed_host in real.values()}) == 3
        assert sampler.max_real() <= 4, [len(s[1]) for s in sampler.samples]
        st = probe.states()
        assert st[victim.name] == "TASK_RUNNING", st
    finally:
        if sampler:
            sampler.stop()
        probe.close()


def test_master_partitioned_then_healed_keeps_the_same_instances(make_bed):
    """The master's host is cut off longer than the window: every agent goes unreachable
    for the master (and every agent misses the master's pings). Nowhere to move the work
    to; once healed the agents come back with the same tasks and the app ends with exactly
    its instances of before, none running twice."""
    bed = make_bed(agents=4, master_extra=FAST_PINGS)
    api = bed.apps()
    probe = Probe(bed)
    sampler = None
    try:
        api.create(app_spec("/calm", 3, unreachableStrategy={"inactiveAfterSeconds": 1,
                                                             "expungeAfterSeconds": 60}))
        before = {t["id"] for t in api.wait_running("/calm", 3)}
        sampler = Sampler(bed, api, "/calm")
        bed.master_host.partition()
        time.sleep(FAST_WINDOW_S + 3)
        t1 = time.time()
        bed.master_host.heal()
        wait_for(lambda: bed.master.state()["unreachable_slaves"] == 0 and
                 len([a for a in bed.master.state()["slaves"] if a["active"]]) == 4, 20,
                 what="every agent back")
        t_back = time.time() - t1

        def settled():
            return set(running_ids(api, "/calm")) == before
        wait_for(settled, 15, what="the same 3 instances running")
        t_settled = time.time() - t1
        time.sleep(2)
        sampler.stop()
        print(f"\nmaster partition healed -> agents back {t_back:.2f}s, -> app settled "
              f"{t_settled:.2f}s; max really running {sampler.max_real()}")
        assert set(bed.tasks_running("/calm")) == before
        assert {t["id"] for t in api.app("/calm")["tasks"]} == before
        # Every instance was unreachable for the master, but with most agents unreachable at
        # once the orchestrator holds replacements (the master is the one cut off), and gives
        # the last agents a grace to follow: nothing ever runs twice.
        assert sampler.max_real() <= 3, [len(x[1]) for x in sampler.samples]
        st = wait_for(lambda: (lambda s: s if set(s.values()) == {"TASK_RUNNING"} else None)(
            _reconcile_resubscribed(bed, probe)), 15, interval=0.5,
            what="probe tasks RUNNING after the heal")
        assert len(st) == 4
    finally:
        if sampler:
            sampler.stop()
        probe.close()


# ---------------------------------------------------------------- 4. master restart


def test_master_restart_with_30_tasks_kills_nothing(make_bed):
    bed = make_bed(agents=4)
    api = bed.apps()
    probe = Probe(bed)
    ev = EventStream(bed.master.apps_url, types=["status_update_event"])
    ev2 = None
    try:
        api.create({"id": "/many", "cmd": SLEEP, "cpus": 0.05, "mem": 8, "instances": 30,
                    "labels": {"corral.placement": "spread"}})
        tasks = api.wait_running("/many", 30, timeout=50)
        before = {t["id"]: t["host"] for t in tasks}
        assert len(set(before.values())) == 4, "not spread over the hosts"
        assert set(bed.tasks_running("/many")) == set(before)

        t0 = time.time()
        rc = bed.master_host.restart()
        assert rc == 0, f"master exited with {rc}"
        bed.master.wait_ready()
        bed.wait_agents(4)
        t_agents = time.time() - t0
        ev2 = EventStream(bed.master.apps_url, types=["status_update_event"])
        after = {t["id"]: t["host"] for t in api.wait_running("/many", 30, timeout=20)}
        t_all = time.time() - t0
        print(f"\nmaster restart -> 4 agents back {t_agents:.2f}s, -> 30 tasks running in "
              f"/v2 {t_all:.2f}s")
        assert after == before
        time.sleep(3)
        assert set(bed.tasks_running("/many")) == set(before)
        killed = [d for e in (ev, ev2) for d in e.of("status_update_event")
                  if d["taskStatus"] not in ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING")]
        assert not killed, killed
        done = [t for f in bed.master.state()["frameworks"] for t in f.get("completed_tasks", [])]
        assert not done, done
        st = wait_for(lambda: (lambda s: s if set(s.values()) == {"TASK_RUNNING"} else None)(
            _reconcile_resubscribed(bed, probe)), 15, interval=0.5,
            what="probe tasks RUNNING after the master restart")
        assert len(st) == 4
    finally:
        ev.close()
        if ev2:
            ev2.close()
        probe.close()


def _reconcile_resubscribed(bed, probe):
    """After a master restart the probe's old stream is gone: re-subscribe with its id."""
    if probe.s.closed.is_set():
        fwid = probe.s.framework_id
        probe.s = bed.scheduler(name="probe", capabilities=["PARTITION_AWARE"],
                                failover_timeout=60, framework_id=fwid)
    return probe.states()


# ---------------------------------------------------------------- 5. framework failover


def test_framework_failover_within_and_beyond_its_timeout(make_bed):
    bed = make_bed(agents=2)
    # within the timeout: the task is kept and found again
    s = bed.scheduler(name="fo-in", capabilities=["PARTITION_AWARE"], failover_timeout=5)
    fwid = s.framework_id
    offer = s.offers()[0]
    s.launch(offer, [task_info(offer, "kept", SLEEP, cpus=0.05, mem=8)])
    s.until("kept", "TASK_RUNNING")
    aid = offer["agent_id"]["value"]
    s.close()
    time.sleep(2)
    s2 = bed.scheduler(name="fo-in", capabilities=["PARTITION_AWARE"], failover_timeout=5,
                       framework_id=fwid)
    try:
        assert s2.framework_id == fwid
        s2.call("RECONCILE", {"tasks": [{"task_id": {"value": "kept"},
                                         "agent_id": {"value": aid}}]})
        st = s2.update("kept")
        assert st["state"] == "TASK_RUNNING", st
        time.sleep(4)  # past the first disconnection's 5 s: re-subscribing stopped the clock
        assert "kept" in bed.tasks_running()
    finally:
        s2.call("TEARDOWN")
        s2.close()
    wait_for(lambda: "kept" not in bed.tasks_running(), 10, what="torn-down task gone")

    # beyond the timeout: the framework is removed and its task killed
    s = bed.scheduler(name="fo-out", capabilities=["PARTITION_AWARE"], failover_timeout=5)
    fwid = s.framework_id
    offer = s.offers()[0]
    s.launch(offer, [task_info(offer, "dropped", SLEEP, cpus=0.05, mem=8)])
    s.until("dropped", "TASK_RUNNING")
    s.close()
    t0 = time.time()
    wait_for(lambda: "dropped" not in bed.tasks_running(), 20, interval=0.1,
             what="the task of a framework past its failover timeout killed")
    t_killed = time.time() - t0
    print(f"\nframework disconnected -> its task killed {t_killed:.2f}s (failover_timeout 5)")
    assert 5 - 0.5 <= t_killed <= 5 + 3, t_killed
    fws = bed.master.operator({"type": "GET_FRAMEWORKS"})["get_frameworks"]
    assert fwid not in [f["framework_info"]["id"]["value"] for f in fws.get("frameworks", [])]
    assert fwid in [f["framework_info"]["id"]["value"]
                    for f in fws.get("completed_frameworks", [])]
    done = [t for f in bed.master.state()["completed_frameworks"] if f["id"] == fwid
            for t in f["completed_tasks"]]
    assert [(t["id"], t["state"]) for t in done] == [("dropped", "TASK_KILLED")], done

    # and it cannot come back
    r = requests.post(bed.master.url + "/api/v1/scheduler", stream=True, timeout=5, json={
        "type": "SUBSCRIBE", "framework_id": {"value": fwid},
        "subscribe": {"framework_info": {"user": "root", "name": "fo-out", "id": {"value": fwid},
                                         "failover_timeout": 5}}})
    try:
        if r.status_code == 200:
            ev = first_record(r)
            assert ev["type"] == "ERROR", ev
            assert "removed" in ev["error"]["message"], ev
        else:
            assert r.status_code in (400, 403), (r.status_code, r.text)
    finally:
        r.close()
