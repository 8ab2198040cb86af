"""The Mesos v1 scheduler API end to end: real master, real agents, raw HTTP."""

import re
import time

import requests

from cluster import Scheduler, task_info, wait_for


def test_subscribe_offers_shape(cluster):
    s = Scheduler(cluster.master.url)
    try:
        assert s.subscribed["heartbeat_interval_seconds"] == 15.0
        mi = s.subscribed["master_info"]
        assert mi["port"] == cluster.master.port
        assert mi["ip"] == 16777343  # 127.0.0.1, Mesos' byte-order quirk
        assert mi["address"]["ip"] == "127.0.0.1"
        # Mesos' shape <master id>-<4 digits>; -0000 is the built-in apps orchestrator
        assert re.fullmatch(r"[0-9a-f-]{36}-\d{4}", s.framework_id), s.framework_id
        assert not s.framework_id.endswith("-0000")
        s.expect("HEARTBEAT", timeout=2)  # one right after SUBSCRIBED
        offers = s.offers()
        assert len(offers) == 2  # one per agent, each gets the whole free agent
        o = offers[0]
        assert o["framework_id"]["value"] == s.framework_id
        assert o["url"]["address"]["ip"] == "127.0.0.1"
        assert o["url"]["scheme"] == "http"
        assert o["hostname"] == "localhost"
        names = {r["name"]: r for r in o["resources"]}
        assert names["cpus"]["scalar"]["value"] == 2.0
        assert names["mem"]["scalar"]["value"] == 1024.0
        assert names["ports"]["ranges"]["range"] == [{"begin": 31000, "end": 31099}]
        assert names["cpus"]["role"] == "*"
        assert names["cpus"]["allocation_info"]["role"] == "*"
        # one RecordIO record per HTTP chunk: every chunk starts with "<len>\n"
        for chunk in s.chunks:
            head, _, rest = chunk.partition(b"\n")
            assert head.isdigit() and int(head) == len(rest), chunk[:80]
    finally:
        s.close()


def test_launch_runs_to_finished_with_acks(cluster):
    s = Scheduler(cluster.master.url)
    try:
        offer = s.offers()[0]
        s.launch(offer, [task_info(offer, "t1", "echo hello; exit 0")])
        seen = []
        for want in ("TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"):
            st = s.update("t1", want)
            assert st["source"] == "SOURCE_EXECUTOR"
            assert st["agent_id"] == offer["agent_id"]
            assert "uuid" in st
            seen.append(st["state"])
            s.ack(st)
        assert seen == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]
        # once acknowledged, the task is a completed task in the master's state
        def completed():
            fws = cluster.master.state()["frameworks"]
            fw = [f for f in fws if f["id"] == s.framework_id][0]
            return [t for t in fw["completed_tasks"] if t["id"] == "t1"]
        done = wait_for(completed, what="task t1 completed")
        assert done[0]["state"] == "TASK_FINISHED"
    finally:
        s.close()


def test_failed_task_reports_exit_code(cluster):
    s = Scheduler(cluster.master.url)
    try:
        offer = s.offers()[0]
        s.launch(offer, [task_info(offer, "bad", ["/bin/sh", "-c", "exit 3"])])
        st = s.until("bad", "TASK_FAILED")
        assert "3" in st.get("message", ""), st
    finally:
        s.close()


def test_unacknowledged_update_is_resent(cluster):
    s = Scheduler(cluster.master.url)
    try:
        offer = s.offers()[0]
        s.launch(offer, [task_info(offer, "noack", "sleep 60")])
        first = s.update("noack", "TASK_STARTING")
        # do not acknowledge: the agent must send the same update again (after ~10 s)
        again = s.update("noack", "TASK_STARTING", timeout=25)
        assert again["uuid"] == first["uuid"]
        s.ack(again)
        s.update("noack", "TASK_RUNNING")
    finally:
        s.close()


def test_kill(cluster):
    s = Scheduler(cluster.master.url)
    try:
        offer = s.offers()[0]
        s.launch(offer, [task_info(offer, "victim", "sleep 300")])
        s.ack(s.update("victim", "TASK_STARTING"))
        s.ack(s.update("victim", "TASK_RUNNING"))
        r = s.call("KILL", {"task_id": {"value": "victim"}, "agent_id": offer["agent_id"]})
        assert r.status_code == 202
        st = s.update("victim", "TASK_KILLED")
        s.ack(st)
    finally:
        s.close()


def test_kill_honours_grace_then_sigkill(cluster):
    s = Scheduler(cluster.master.url)
    try:
        offer = s.offers()[0]
        s.launch(offer, [task_info(offer, "stubborn", "trap '' TERM; sleep 300")])
        s.ack(s.update("stubborn", "TASK_STARTING"))
        s.ack(s.update("stubborn", "TASK_RUNNING"))
        t0 = time.time()
        s.call("KILL", {"task_id": {"value": "stubborn"}, "agent_id": offer["agent_id"],
                        "kill_policy": {"grace_period": {"nanoseconds": 1_000_000_000}}})
        s.update("stubborn", "TASK_KILLED", timeout=10)
        took = time.time() - t0
        assert 0.9 <= took < 5, took
    finally:
        s.close()


def test_reconcile_implicit_and_explicit(cluster):
    s = Scheduler(cluster.master.url, capabilities=["PARTITION_AWARE"])
    try:
        offer = s.offers()[0]
        s.launch(offer, [task_info(offer, "r1", "sleep 300")])
        s.ack(s.update("r1", "TASK_STARTING"))
        s.ack(s.update("r1", "TASK_RUNNING"))
        s.call("RECONCILE", {"tasks": []})
        st = s.update("r1")
        assert st["state"] == "TASK_RUNNING"
        assert st["reason"] == "REASON_RECONCILIATION"
        assert st["source"] == "SOURCE_MASTER"
        assert "uuid" not in st
        s.call("RECONCILE", {"tasks": [{"task_id": {"value": "r1"}},
                                       {"task_id": {"value": "nope"},
                                        "agent_id": offer["agent_id"]}]})
        assert s.update("r1")["state"] == "TASK_RUNNING"
        assert s.update("nope")["state"] == "TASK_GONE"
    finally:
        s.close()


def test_explicit_reconcile_unknown_task_non_partition_aware_is_lost(cluster):
    s = Scheduler(cluster.master.url)
    try:
        aid = s.offers()[0]["agent_id"]
        s.call("RECONCILE", {"tasks": [{"task_id": {"value": "ghost"}, "agent_id": aid}]})
        assert s.update("ghost")["state"] == "TASK_LOST"
    finally:
        s.close()


def test_decline_filter_and_revive(cluster):
    s = Scheduler(cluster.master.url)
    try:
        offers = s.offers()
        r = s.call("DECLINE", {"offer_ids": [o["id"] for o in offers],
                               "filters": {"refuse_seconds": 60}})
        assert r.status_code == 202
        s.expect_none("OFFERS", 1.5)  # filtered: no offers for a while
        s.call("REVIVE", {})
        assert len(s.offers(timeout=5)) == 2
    finally:
        s.close()


def test_suppress_stops_offers(cluster):
    s = Scheduler(cluster.master.url)
    try:
        offers = s.offers()
        s.call("SUPPRESS", {})
        s.call("DECLINE", {"offer_ids": [o["id"] for o in offers],
                           "filters": {"refuse_seconds": 0}})
        s.expect_none("OFFERS", 1.5)
        s.call("REVIVE", {})
        s.offers(timeout=5)
    finally:
        s.close()


def test_resubscribe_after_dropped_stream_keeps_tasks(cluster):
    s = Scheduler(cluster.master.url, failover_timeout=60)
    offer = s.offers()[0]
    s.launch(offer, [task_info(offer, "keep", "sleep 300")])
    s.ack(s.update("keep", "TASK_STARTING"))
    s.ack(s.update("keep", "TASK_RUNNING"))
    fwid = s.framework_id
    s.close()
    time.sleep(0.5)
    st = cluster.master.state()
    fw = [f for f in st["frameworks"] if f["id"] == fwid][0]
    assert fw["connected"] is False
    assert [t["state"] for t in fw["tasks"]] == ["TASK_RUNNING"]
    s2 = Scheduler(cluster.master.url, failover_timeout=60, framework_id=fwid)
    try:
        assert s2.framework_id == fwid
        s2.call("RECONCILE", {"tasks": []})
        assert s2.update("keep")["state"] == "TASK_RUNNING"
    finally:
        s2.close()


def test_failover_timeout_expiry_kills_tasks(cluster):
    s = Scheduler(cluster.master.url, failover_timeout=1)
    offer = s.offers()[0]
    s.launch(offer, [task_info(offer, "doomed", "sleep 300")])
    s.ack(s.update("doomed", "TASK_STARTING"))
    s.ack(s.update("doomed", "TASK_RUNNING"))
    fwid = s.framework_id
    s.close()

    def removed():
        st = cluster.master.state()
        return [f for f in st["completed_frameworks"] if f["id"] == fwid]
    fw = wait_for(removed, timeout=10, what="framework removed")[0]
    assert [t["state"] for t in fw["completed_tasks"]] == ["TASK_KILLED"]

    # and the process is really gone from the agent
    def gone():
        agent = [a for a in cluster.agents if a.url.endswith(
            str(offer["url"]["address"]["port"]))][0]
        ast = requests.get(agent.url + "/state", timeout=5).json()
        return all(not e["tasks"] for f in ast["frameworks"] for e in f["executors"])
    wait_for(gone, timeout=10, what="task gone from the agent")
    # a removed framework cannot come back
    r = requests.post(cluster.master.url + "/api/v1/scheduler", stream=True, timeout=5, json={
        "type": "SUBSCRIBE", "framework_id": {"value": fwid},
        "subscribe": {"framework_info": {"user": "root", "name": "x", "id": {"value": fwid}}}})
    body = r.raw.read(200)
    assert b"Framework has been removed" in body


def test_teardown(cluster):
    s = Scheduler(cluster.master.url, failover_timeout=100)
    offer = s.offers()[0]
    s.launch(offer, [task_info(offer, "td", "sleep 300")])
    s.ack(s.update("td", "TASK_STARTING"))
    r = s.call("TEARDOWN")
    assert r.status_code == 202
    s.expect("__CLOSED__", timeout=5)
    st = cluster.master.state()
    assert s.framework_id in [f["id"] for f in st["completed_frameworks"]]
    s.close()


def test_two_frameworks_share_by_drf(cluster):
    a = Scheduler(cluster.master.url, name="a")
    try:
        offers = a.offers()
        assert len(offers) == 2
        # a holds everything; b gets offers only once a gives some back
        b = Scheduler(cluster.master.url, name="b")
        try:
            a.call("DECLINE", {"offer_ids": [offers[0]["id"]],
                               "filters": {"refuse_seconds": 60}})
            got = b.offers(timeout=5)
            assert got[0]["agent_id"] == offers[0]["agent_id"]
        finally:
            b.close()
    finally:
        a.close()


def test_offer_timeout_rescinds(workdir):
    from cluster import Cluster
    c = Cluster(workdir, agents=1, master_extra=["--offer-timeout", "1secs"])
    try:
        s = Scheduler(c.master.url)
        o = s.offers()[0]
        r = s.expect("RESCIND", timeout=5)
        assert r["rescind"]["offer_id"] == o["id"]
        s.offers(timeout=5)  # and offered again
        s.close()
    finally:
        assert not c.close()


def test_ports_resource_launch_sets_env(cluster):
    s = Scheduler(cluster.master.url)
    try:
        offer = s.offers()[0]
        t = task_info(offer, "porty", 'test "$PORT0" = 31005 && test "$PORTS" = 31005,31006')
        t["resources"].append({"name": "ports", "type": "RANGES",
                               "ranges": {"range": [{"begin": 31005, "end": 31006}]}})
        s.launch(offer, [t])
        st = s.until("porty", "TASK_FINISHED")
        assert st["state"] == "TASK_FINISHED"
    finally:
        s.close()


def test_environment_and_argv(cluster):
    s = Scheduler(cluster.master.url)
    try:
        offer = s.offers()[0]
        t = task_info(offer, "envy", ["/bin/sh", "-c", 'test "$GREETING" = "hi there"'])
        t["command"]["environment"] = {"variables": [{"name": "GREETING", "value": "hi there"}]}
        s.launch(offer, [t])
        s.until("envy", "TASK_FINISHED")
    finally:
        s.close()
