"""A third-party client, unchanged: npm mesos-framework@0.5.3 runs a task on Corral."""

import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))


def test_npm_mesos_framework_runs_task(cluster, workdir):
    assert os.path.isdir(os.path.join(HERE, "node_modules", "mesos-framework")), \
        "run scripts/setup.sh --test (npm install) first"
    env = dict(os.environ, MASTER_PORT=str(cluster.master.port), LOG_DIR=workdir)
    p = subprocess.run(["node", "mesos_framework_client.js"], cwd=HERE, env=env,
                       capture_output=True, text=True, timeout=60)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert "SUBSCRIBED" in out, out
    assert "UPDATE TASK_RUNNING" in out, out
    before_running = out.split("UPDATE TASK_RUNNING")[0]
    assert "ERROR" not in before_running, out
    # the task really ran on an agent and the framework is gone after TEARDOWN
    st = cluster.master.state()
    done = [f for f in st["completed_frameworks"] if f["name"] == "npm-mesos-framework"]
    assert done, st["frameworks"]
