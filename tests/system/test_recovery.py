"""Durability and failure handling: master restarts, agent loss."""

import time

from cluster import Cluster, Master, Scheduler, task_info, wait_for


def test_master_restart_keeps_framework_registry_and_adopts_tasks(workdir):
    c = Cluster(workdir, agents=1)
    try:
        s = Scheduler(c.master.url, name="durable", failover_timeout=120)
        fwid = s.framework_id
        offer = s.offers()[0]
        s.launch(offer, [task_info(offer, "survivor", "sleep 300")])
        s.ack(s.update("survivor", "TASK_STARTING"))
        s.ack(s.update("survivor", "TASK_RUNNING"))
        s.close()

        assert c.master.stop() == 0
        old = c.master
        c.master = Master(workdir, port=old.port, raft_port=old.raft_port,
                          apps_port=old.apps_port).start().wait_ready()

        # the framework is known (recovered), and the agent comes back with its task
        fws = c.master.operator({"type": "GET_FRAMEWORKS"})["get_frameworks"]["frameworks"]
        fws = [f for f in fws if f["framework_info"]["name"] != "marathon"]  # the built-in one
        assert [f["framework_info"]["id"]["value"] for f in fws] == [fwid]
        assert fws[0]["recovered"] is True
        c.wait_agents(1)

        def adopted():
            st = c.master.state()
            fw = [f for f in st["frameworks"] if f["id"] == fwid][0]
            return [t for t in fw["tasks"] if t["id"] == "survivor"]
        t = wait_for(adopted, what="task adopted after master restart")[0]
        assert t["state"] == "TASK_RUNNING"

        s2 = Scheduler(c.master.url, name="durable", failover_timeout=120, framework_id=fwid)
        s2.call("RECONCILE", {"tasks": []})
        assert s2.update("survivor")["state"] == "TASK_RUNNING"
        s2.call("KILL", {"task_id": {"value": "survivor"}})
        s2.update("survivor", "TASK_KILLED")
        s2.close()
    finally:
        assert not c.close()


def test_master_restart_admits_same_agent_id(workdir):
    c = Cluster(workdir, agents=1)
    try:
        aid = c.master.state()["slaves"][0]["id"]
        old = c.master
        assert old.stop() == 0
        c.master = Master(workdir, port=old.port, raft_port=old.raft_port).start().wait_ready()
        st = c.master.state()
        assert [a["id"] for a in st["recovered_slaves"]] == [aid] or \
            [a["id"] for a in st["slaves"]] == [aid]
        c.wait_agents(1)
        assert [a["id"] for a in c.master.state()["slaves"]] == [aid]
    finally:
        assert not c.close()


def test_agent_loss_marks_tasks_unreachable(workdir):
    c = Cluster(workdir, agents=1, master_extra=["--agent-ping-interval", "200ms",
                                                   "--agent-ping-misses", "3"])
    try:
        s = Scheduler(c.master.url, capabilities=["PARTITION_AWARE"])
        offer = s.offers()[0]
        s.launch(offer, [task_info(offer, "far", "sleep 300")])
        s.ack(s.update("far", "TASK_STARTING"))
        s.ack(s.update("far", "TASK_RUNNING"))
        agent = c.agents[0]
        agent.kill9()
        t0 = time.time()
        st = s.update("far", "TASK_UNREACHABLE", timeout=10)
        assert time.time() - t0 < 5
        assert "unreachable_time" in st
        s.expect("FAILURE", timeout=5)
        s.close()
        c.agents.remove(agent)
    finally:
        assert not c.close()


def test_agent_reregisters_after_master_restart_with_new_resources(workdir):
    c = Cluster(workdir, agents=1)
    try:
        a = c.agents[0]
        assert a.stop() == 0
        a.args[a.args.index("--resources") + 1] = "cpus:3;mem:2048;disk:1024;ports:[31000-31099]"
        a.start()

        def three_cpus():
            sl = c.master.state()["slaves"]
            return len(sl) == 1 and sl[0]["resources"]["cpus"] == 3.0 and sl[0]["active"]
        wait_for(three_cpus, what="agent re-registered with 3 cpus")
    finally:
        assert not c.close()
