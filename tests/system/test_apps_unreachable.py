"""The orchestrator and unreachable agents (issue 5, unreachableStrategy): an instance on an
agent that stops answering is kept for inactiveAfterSeconds, then replaced elsewhere; when the
agent comes back the surplus (the younger replacement, killSelection YOUNGEST_FIRST) is killed,
and at no moment do more than instances + 1 run. With unreachableStrategy "disabled" the
replacement starts at once; after expungeAfterSeconds the old instance is forgotten and killed
when it shows up again. The agent is made unreachable with SIGSTOP (its executors and tasks keep
running, as on a partitioned machine)."""

import os
import signal
import time

import pytest

from cluster import Apps, wait_for
from test_apps import apps_cluster

FAST = ["--agent-ping-interval", "200ms", "--agent-ping-misses", "3"]


@pytest.fixture
def c2(workdir):
    c = apps_cluster(workdir, n=2, master_extra=FAST)
    yield c
    for a in c.agents:  # never leave an agent stopped
        if a.alive():
            os.kill(a.proc.pid, signal.SIGCONT)
    problems = c.close()
    if problems:
        for d in c.daemons():
            print(f"----- {d.name} -----\n{d.output()[-20000:]}")
    assert not problems, problems


def agent_of(c, host):
    return [a for a in c.agents if a.hostname == host][0]


def running(api, app_id):
    return [t for t in api.app(app_id)["tasks"] if t["state"] == "TASK_RUNNING"]


def test_unreachable_instance_replaced_then_surplus_killed(c2):
    api = Apps(c2.master.apps_url)
    api.create({"id": "/part", "cmd": "sleep 600", "cpus": 0.1, "mem": 16, "instances": 1,
                "unreachableStrategy": {"inactiveAfterSeconds": 1, "expungeAfterSeconds": 60}})
    first = api.wait_running("/part", 1)[0]
    victim = agent_of(c2, first["host"])
    os.kill(victim.proc.pid, signal.SIGSTOP)
    t0 = time.time()
    most = 0

    def replaced():
        nonlocal most
        ts = running(api, "/part")
        most = max(most, len(ts))
        return [t for t in ts if t["id"] != first["id"]]
    repl = wait_for(replaced, 20, interval=0.1, what="a replacement on the other agent")[0]
    took = time.time() - t0
    assert repl["host"] != first["host"]
    # kept, not forgotten: the old instance is listed as unreachable meanwhile
    states = {t["id"]: t["state"] for t in api.app("/part")["tasks"]}
    assert states[first["id"]] == "TASK_UNREACHABLE", states
    print(f"agent stopped -> replacement running: {took:.1f} s")

    os.kill(victim.proc.pid, signal.SIGCONT)

    def healed():
        nonlocal most
        ts = api.app("/part")["tasks"]
        live = [t for t in ts if t["state"] == "TASK_RUNNING"]
        most = max(most, len(live))
        return len(ts) == 1 and len(live) == 1 and live
    final = wait_for(healed, 30, interval=0.1, what="back to exactly one instance")
    # YOUNGEST_FIRST: the replacement goes, the original (back from its partition) stays
    assert final[0]["id"] == first["id"], final
    assert most <= 2, most


def test_unreachable_disabled_replaces_at_once_and_kills_the_returning_one(c2):
    api = Apps(c2.master.apps_url)
    api.create({"id": "/now", "cmd": "sleep 600", "cpus": 0.1, "mem": 16, "instances": 1,
                "unreachableStrategy": "disabled"})
    first = api.wait_running("/now", 1)[0]
    victim = agent_of(c2, first["host"])
    os.kill(victim.proc.pid, signal.SIGSTOP)
    wait_for(lambda: [t for t in running(api, "/now") if t["id"] != first["id"]], 20,
             interval=0.1, what="an immediate replacement")
    assert first["id"] not in {t["id"] for t in api.app("/now")["tasks"]}  # forgotten
    os.kill(victim.proc.pid, signal.SIGCONT)
    # the old task shows up again with its agent and is killed as unknown
    final = wait_for(lambda: (lambda ts: ts if len(ts) == 1 and ts[0]["id"] != first["id"]
                              else None)(running(api, "/now")), 30, interval=0.2,
                     what="only the replacement")

    def old_gone():
        st = c2.master.state()
        return all(t["id"] != first["id"] or t["state"] != "TASK_RUNNING"
                   for f in st["frameworks"] for t in f["tasks"])
    wait_for(old_gone, 30, what="the returning instance killed")
    assert final[0]["host"] != first["host"]


def test_expunged_instance_is_killed_when_it_returns(c2):
    api = Apps(c2.master.apps_url)
    api.create({"id": "/exp", "cmd": "sleep 600", "cpus": 0.1, "mem": 16, "instances": 1,
                "unreachableStrategy": {"inactiveAfterSeconds": 1, "expungeAfterSeconds": 2}})
    first = api.wait_running("/exp", 1)[0]
    victim = agent_of(c2, first["host"])
    os.kill(victim.proc.pid, signal.SIGSTOP)
    wait_for(lambda: first["id"] not in {t["id"] for t in api.app("/exp")["tasks"]}, 20,
             interval=0.1, what="the unreachable instance expunged")
    api.wait_running("/exp", 1)
    os.kill(victim.proc.pid, signal.SIGCONT)

    def old_gone():
        st = c2.master.state()
        return all(t["id"] != first["id"] or t["state"] != "TASK_RUNNING"
                   for f in st["frameworks"] for t in f["tasks"])
    wait_for(old_gone, 30, what="the expunged instance killed when its agent came back")
    ts = api.wait_running("/exp", 1)
    assert ts[0]["id"] != first["id"]
