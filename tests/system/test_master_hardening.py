"""What a misbehaving agent, a paused master or an unusual framework must not break."""

import os
import signal
import time

import requests

from cluster import Cluster, Master, Scheduler, task_info, wait_for
from fake_agent import FakeAgent, scalar


def launched_task(agent, task_id):
    ev = agent.expect("LAUNCH", pred=lambda e: e["launch"]["task"]["task_id"]["value"] == task_id)
    return ev["launch"]["task"]


def test_agent_cannot_speak_for_another_agents_task(workdir):
    m = Master(workdir).start().wait_ready()
    a1 = a2 = s = None
    try:
        a1 = FakeAgent(m.url, hostname="one")
        s = Scheduler(m.url)
        offer = [o for o in s.offers() if o["agent_id"]["value"] == a1.id][0]
        s.launch(offer, [task_info(offer, "mine", "sleep 300")])
        task = launched_task(a1, "mine")
        a1.update(s.framework_id, "mine", "TASK_RUNNING")
        s.ack(s.update("mine", "TASK_RUNNING"))
        # a second agent claims the task and reports it finished
        a2 = FakeAgent(m.url, hostname="two", tasks=[
            {"framework_id": {"value": s.framework_id}, "task": task, "state": "TASK_RUNNING"}])
        assert a2.update(s.framework_id, "mine", "TASK_FINISHED").status_code == 202
        time.sleep(0.5)
        fw = [f for f in m.state()["frameworks"] if f["id"] == s.framework_id][0]
        assert [(t["id"], t["state"], t["slave_id"]) for t in fw["tasks"]] == \
            [("mine", "TASK_RUNNING", a1.id)]
        assert not any(e["type"] == "UPDATE" and e["update"]["status"]["state"] ==
                       "TASK_FINISHED" for e in s.all_events)
        metrics = requests.get(m.url + "/metrics/snapshot", timeout=5).json()
        assert metrics["master/invalid_status_updates"] >= 1
    finally:
        for x in (s, a2, a1):
            if x:
                x.close()
        assert m.stop() == 0 and not m.sanitizer_reports()


def test_same_task_id_in_two_frameworks_on_one_agent(workdir):
    c = Cluster(workdir, agents=1, master_extra=["--agent-ping-interval", "200ms",
                                                   "--agent-ping-misses", "3"])
    try:
        s1 = Scheduler(c.master.url, name="one", capabilities=["PARTITION_AWARE"])
        o1 = s1.offers()[0]
        s1.launch(o1, [task_info(o1, "t1", "sleep 300", cpus=0.5)], refuse_seconds=0)
        s1.until("t1", "TASK_RUNNING")
        s2 = Scheduler(c.master.url, name="two", capabilities=["PARTITION_AWARE"])
        o2 = s2.offers()[0]
        s2.launch(o2, [task_info(o2, "t1", "sleep 300", cpus=0.5)])
        s2.until("t1", "TASK_RUNNING")
        metrics = requests.get(c.master.url + "/metrics/snapshot", timeout=5).json()
        assert metrics["master/cpus_used"] == 1.0
        c.agents.pop().kill9()
        # both frameworks hear about their own t1, although the ids are the same
        s1.update("t1", "TASK_UNREACHABLE", timeout=10)
        s2.update("t1", "TASK_UNREACHABLE", timeout=10)
        s1.close()
        s2.close()
    finally:
        assert not c.close()


def test_master_restart_does_not_remove_frameworks_with_zero_failover(workdir):
    c = Cluster(workdir, agents=1)
    try:
        s = Scheduler(c.master.url, failover_timeout=0)
        fwid = s.framework_id
        offer = s.offers()[0]
        s.launch(offer, [task_info(offer, "keep0", "sleep 300")])
        s.until("keep0", "TASK_RUNNING")
        old = c.master
        assert old.stop() == 0
        s.close()
        c.master = Master(workdir, port=old.port, raft_port=old.raft_port).start().wait_ready()
        s2 = Scheduler(c.master.url, failover_timeout=0, framework_id=fwid)
        c.wait_agents(1)
        s2.call("RECONCILE", {"tasks": [{"task_id": {"value": "keep0"},
                                         "agent_id": offer["agent_id"]}]})
        assert s2.update("keep0", timeout=10)["state"] == "TASK_RUNNING"
        s2.close()
    finally:
        assert not c.close()


def test_accept_of_offers_in_two_roles_returns_each_roles_remainder(workdir):
    c = Cluster(workdir, agents=0)
    try:
        c.add_agent(resources="cpus:2;mem:512;cpus(b):1;mem(b):256;disk:100")
        c.wait_agents(1)
        s = Scheduler(c.master.url, capabilities=["MULTI_ROLE"], roles=["a", "b"])
        offers = {}
        deadline = time.time() + 10
        while len(offers) < 2 and time.time() < deadline:
            for o in s.offers(timeout=5):
                offers[o["allocation_info"]["role"]] = o
        assert set(offers) == {"a", "b"}, offers
        r = s.call("ACCEPT", {
            "offer_ids": [offers["a"]["id"], offers["b"]["id"]],
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": [
                task_info(offers["a"], "small", "sleep 300", cpus=0.5)]}}],
            "filters": {"refuse_seconds": 0}})
        assert r.status_code == 202
        # role b's reserved cpu comes back in an offer to role b
        def reserved_back():
            for o in s.offers(timeout=5):
                if o["allocation_info"]["role"] == "b" and any(
                        x["name"] == "cpus" and x.get("role") == "b" for x in o["resources"]):
                    return True
            return False
        wait_for(reserved_back, timeout=15, what="role b's reserved cpus offered again")
        s.close()
    finally:
        assert not c.close()


def test_kill_while_agent_disconnected_is_sent_when_it_returns(workdir):
    m = Master(workdir).start().wait_ready()
    a = s = a2 = None
    try:
        a = FakeAgent(m.url)
        s = Scheduler(m.url)
        offer = s.offers()[0]
        s.launch(offer, [task_info(offer, "later", "sleep 300")])
        task = launched_task(a, "later")
        a.update(s.framework_id, "later", "TASK_RUNNING")
        s.ack(s.update("later", "TASK_RUNNING"))
        a.close()
        time.sleep(0.3)
        r = s.call("KILL", {"task_id": {"value": "later"}, "agent_id": offer["agent_id"]})
        assert r.status_code == 202
        a2 = FakeAgent(m.url, agent_id=a.id, tasks=[
            {"framework_id": {"value": s.framework_id}, "task": task, "state": "TASK_RUNNING"}])
        kill = a2.expect("KILL", timeout=5)
        assert kill["kill"]["task_id"]["value"] == "later"
    finally:
        for x in (s, a2, a):
            if x:
                x.close()
        assert m.stop() == 0 and not m.sanitizer_reports()


def test_launch_group_is_refused_with_task_error(cluster):
    s = Scheduler(cluster.master.url)
    try:
        offer = s.offers()[0]
        t = task_info(offer, "grouped", "true")
        r = s.call("ACCEPT", {"offer_ids": [offer["id"]], "operations": [{
            "type": "LAUNCH_GROUP", "launch_group": {
                "executor": {"type": "DEFAULT", "executor_id": {"value": "e1"},
                             "framework_id": {"value": s.framework_id},
                             "resources": [scalar("cpus", 0.1), scalar("mem", 32)]},
                "task_group": {"tasks": [t]}}}]})
        assert r.status_code == 202
        st = s.update("grouped")
        assert st["state"] == "TASK_ERROR"
        assert "LAUNCH_GROUP" in st["message"]
    finally:
        s.close()


def test_paused_master_does_not_mark_live_agents_unreachable(workdir):
    c = Cluster(workdir, agents=1, master_extra=["--agent-ping-interval", "200ms",
                                                   "--agent-ping-misses", "3"])
    try:
        s = Scheduler(c.master.url, capabilities=["PARTITION_AWARE"])
        offer = s.offers()[0]
        s.launch(offer, [task_info(offer, "steady", "sleep 300")])
        s.until("steady", "TASK_RUNNING")
        os.kill(c.master.proc.pid, signal.SIGSTOP)
        time.sleep(2)
        os.kill(c.master.proc.pid, signal.SIGCONT)
        time.sleep(1.5)
        assert not any(e["type"] == "UPDATE" and e["update"]["status"]["state"] ==
                       "TASK_UNREACHABLE" for e in s.all_events), s.all_events[-5:]
        assert "agent unreachable" not in c.master.output()
        s.close()
    finally:
        assert not c.close()


def test_agent_reregistering_with_too_few_resources_is_refused(workdir):
    m = Master(workdir).start().wait_ready()
    a = s = None
    try:
        a = FakeAgent(m.url)
        s = Scheduler(m.url)
        offer = s.offers()[0]
        s.launch(offer, [task_info(offer, "big", "sleep 300", cpus=3)])
        task = launched_task(a, "big")
        a.close()
        time.sleep(0.3)
        body = {"type": "SUBSCRIBE", "subscribe": {
            "agent_info": {"id": {"value": a.id}, "hostname": "fake", "port": 5051,
                           "resources": [scalar("cpus", 1), scalar("mem", 4096)]},
            "address": {"ip": "127.0.0.1", "port": 5051},
            "tasks": [{"framework_id": {"value": s.framework_id}, "task": task,
                       "state": "TASK_RUNNING"}]}}
        r = requests.post(m.url + "/corral/v1/agent", json=body, timeout=5)
        assert r.status_code == 409
        assert "big" in r.text
    finally:
        for x in (s, a):
            if x:
                x.close()
        assert m.stop() == 0 and not m.sanitizer_reports()
