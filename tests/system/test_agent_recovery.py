"""Agent restarts never kill work (issue 3, part 6): the agent checkpoints its tasks and
their pending updates; kill -9 it and start it again and every task still runs, is
reported RUNNING, tasks that ended meanwhile are reported with their real exit status,
nothing acknowledged is lost; containers nobody checkpointed are removed."""

import os
import time

import pytest
import requests

from cluster import Agent, Cluster, Scheduler, container_cgroups, task_info, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="containers need root")


def task_pids(agent_dir, marker):
    """Pids of processes running `sleep <marker>` inside the agent's sandboxes."""
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            continue
        if cwd.startswith(agent_dir) and cmd[:2] == [b"sleep", marker.encode()]:
            found[int(pid)] = cwd
    return found


def restart(c, agent, resources=None, extra=None, keep=True):
    """A new agent process on the same work dir and port (and resources unless given)."""
    new = Agent(c.workdir, c.master, 0, resources or agent.resources, extra)
    new.port, new.url = agent.port, agent.url
    new.args[new.args.index("--port") + 1] = str(agent.port)
    new.start()
    if keep:
        c.agents[0] = new
    return new


def reconcile(s, agent_id, ids):
    r = s.call("RECONCILE", {"tasks": [{"task_id": {"value": t}, "agent_id": {"value": agent_id}}
                                       for t in ids]})
    assert r.status_code == 202
    got = {}
    deadline = time.time() + 15
    while len(got) < len(ids) and time.time() < deadline:
        st = s.expect("UPDATE")["update"]["status"]
        got[st["task_id"]["value"]] = st
    return got


@pytest.mark.parametrize("how", ["kill9", "sigterm"])
def test_agent_restart_keeps_20_tasks_and_reports_one_that_ended(workdir, how):
    c = Cluster(workdir, agents=1)
    s = None
    try:
        s = Scheduler(c.master.url, name="recovery", failover_timeout=300)
        offer = s.offers()[0]
        ids = [f"keep{i}" for i in range(20)]
        tasks = [task_info(offer, t, "sleep 3001", cpus=0.05, mem=16) for t in ids]
        tasks.append(task_info(offer, "ender", "sleep 3009 & while [ ! -e ender-go ]; do sleep 0.1; done; exit 7",
                               cpus=0.05, mem=16))
        s.launch(offer, tasks)
        agent_id = offer["agent_id"]["value"]
        s.until_all(ids + ["ender"], "TASK_RUNNING")
        agent = c.agents[0]
        before = wait_for(lambda: len(task_pids(agent.dir, "3001")) == 20 and
                          task_pids(agent.dir, "3001"), 20, what="20 sleeping tasks")
        if how == "kill9":
            agent.kill9()
        else:
            assert agent.stop() == 0
        # "ender" exits while the agent is away: its executor keeps the update.
        ender_dir = list(wait_for(lambda: task_pids(agent.dir, "3009"), 10).values())[0]
        with open(os.path.join(ender_dir, "ender-go"), "w") as f:
            f.write("go\n")
        wait_for(lambda: not task_pids(agent.dir, "3009"), 10, what="ender to exit")
        assert task_pids(agent.dir, "3001") == before, "tasks died with the agent"
        restart(c, agent)
        end = s.until("ender", "TASK_FAILED", timeout=30)
        assert end["message"] == "Command exited with status 7", end
        got = reconcile(s, agent_id, ids)
        assert sorted(got) == sorted(ids)
        assert {st["state"] for st in got.values()} == {"TASK_RUNNING"}, got
        assert task_pids(agent.dir, "3001") == before, "tasks were restarted"
        # A second restart (the checkpoint was compacted by the first) changes nothing.
        c.agents[0].kill9()
        restart(c, agent)
        got = reconcile(s, agent_id, ids)
        assert {st["state"] for st in got.values()} == {"TASK_RUNNING"}, got
        # The re-adopted executors still obey: kill one, it ends KILLED, nothing else moves,
        # and the agent sees its executor go (the task completes).
        s.call("KILL", {"task_id": {"value": "keep0"}, "agent_id": {"value": agent_id}})
        s.until("keep0", "TASK_KILLED")
        wait_for(lambda: len(task_pids(agent.dir, "3001")) == 19, 10, what="keep0 to end")

        def completed():
            st = requests.get(c.agents[0].url + "/state", timeout=5).json()
            return any(ex["id"] == "keep0" for fw in st["frameworks"] + st["completed_frameworks"]
                       for ex in fw.get("completed_executors", []))
        wait_for(completed, 10, what="keep0 to complete on the agent")
    finally:
        if s:
            s.close()
        problems = c.close()
    assert not problems, problems


def test_orphan_containers_without_checkpoint_are_removed(workdir):
    c = Cluster(workdir, agents=1)
    s = None
    try:
        s = Scheduler(c.master.url, name="orphans", failover_timeout=300)
        offer = s.offers()[0]
        s.launch(offer, [task_info(offer, "orphan", "sleep 3002")])
        s.until("orphan", "TASK_RUNNING")
        agent = c.agents[0]
        assert len(task_pids(agent.dir, "3002")) == 1
        assert len(container_cgroups(workdir)) == 1
        agent.kill9()
        os.unlink(os.path.join(agent.dir, "meta", "journal"))  # the checkpoint is lost
        restart(c, agent)
        wait_for(lambda: not task_pids(agent.dir, "3002"), 15, what="the orphan to be killed")
        wait_for(lambda: container_cgroups(workdir) == [], 15, what="the orphan's cgroup to go")
        # The master learns the task is gone when the agent re-registers without it.
        st = s.update("orphan", timeout=20)
        assert st["state"] in ("TASK_LOST", "TASK_GONE"), st
    finally:
        if s:
            s.close()
        problems = c.close()
    assert not problems, problems


def test_changed_resources_across_a_restart(workdir):
    c = Cluster(workdir, agents=1)
    s = None
    try:
        s = Scheduler(c.master.url, name="resize", failover_timeout=300)
        offer = s.offers()[0]
        s.launch(offer, [task_info(offer, "big", "sleep 3003", cpus=1, mem=512)])
        s.until("big", "TASK_RUNNING")
        agent = c.agents[0]
        assert agent.stop() == 0
        # More memory and an attribute: re-registers with the new values, task kept.
        bigger = agent.resources.replace("mem:1024", "mem:2048")
        new = restart(c, agent, bigger, ["--attributes", "rack:r9"])

        def updated():
            sl = c.master.state()["slaves"][0]
            return sl["resources"]["mem"] == 2048 and sl["attributes"].get("rack") == "r9"
        wait_for(updated, 20, what="the new resources and attributes")
        assert len(task_pids(agent.dir, "3003")) == 1
        # Too small for the running task: the agent refuses to start, naming the task.
        assert new.stop() == 0
        small = restart(c, new, "cpus:0.5;mem:128;disk:1024;ports:[31000-31099]", keep=False)
        wait_for(lambda: not small.alive(), 20, what="the agent to give up")
        assert small.proc.returncode == 1, small.proc.returncode
        small.log.close()
        assert "big" in small.output(), small.output()[-2000:]
        assert len(task_pids(agent.dir, "3003")) == 1, "the refused agent killed its task"
        restart(c, new)
    finally:
        if s:
            s.close()
        problems = c.close()
    assert not problems, problems
