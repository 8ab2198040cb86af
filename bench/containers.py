#!/usr/bin/env python3
"""Container benchmark (issue 3): a release master + one agent with isolation on (cgroups
cpu/memory/pids, pid/mount/uts/ipc namespaces, private /tmp, seccomp, capabilities).

  launch latency   the agent receiving LAUNCH -> the task's exec, from the agent's own
                   measurement (/metrics/snapshot containerizer/launch_latency_ms), over
                   tasks launched one at a time (no queueing);
  sustained rate   N /bin/true tasks through the scheduler API, end to end, every update
                   acknowledged (bench_e2e);
  memory           RSS of each corral-executor and of the agent with 100 tasks running.

Prints figures; never fails on time. Needs root (cgroups and namespaces)."""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e import free_port, rss_kb, wait_http  # noqa: E402


def get_json(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def executors_of(work):
    """Pids of corral-executor processes working inside work (this benchmark's own)."""
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm == "corral-executor" and cwd.startswith(work):
            pids.append(int(pid))
    return pids


def cleanup(procs, tmp, cg_root):
    """Stop our daemons, kill the tasks they left (by design) and remove our cgroups."""
    for p in reversed(procs):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    for pid in executors_of(tmp):  # the agent leaves tasks running by design
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    roots = [os.path.join("/sys/fs/cgroup", cg_root)]
    roots += [os.path.join("/sys/fs/cgroup", h, cg_root) for h in os.listdir("/sys/fs/cgroup")]
    for d in roots:
        if os.path.isdir(d):
            for dirpath, _dirs, _files in os.walk(d, topdown=False):
                try:
                    with open(os.path.join(dirpath, "cgroup.procs")) as f:
                        for pid in f.read().split():
                            os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
                for _ in range(20):
                    try:
                        os.rmdir(dirpath)
                        break
                    except OSError:
                        time.sleep(0.05)
        try:
            os.rmdir(os.path.dirname(d))  # "corral-bench" once empty
        except OSError:
            pass
    shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corral", default="build/release/corral")
    ap.add_argument("--bench", default=None, help="bench_e2e binary")
    ap.add_argument("--latency-tasks", type=int, default=100)
    ap.add_argument("--tasks", type=int, default=1000)
    ap.add_argument("--isolation", default="auto")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("containers: skipped (needs root for cgroups and namespaces)")
        return
    corral = os.path.abspath(args.corral)
    bench = os.path.abspath(args.bench or os.path.join(os.path.dirname(corral), "bench_e2e"))
    tmp = tempfile.mkdtemp(prefix="corral-bench-", dir="/var/tmp")
    procs = []
    cg_root = "corral-bench/" + os.path.basename(tmp)
    try:
        port, raft, aport = free_port(), free_port(), free_port()
        logm = open(os.path.join(tmp, "master.log"), "w")
        master = subprocess.Popen([corral, "master", "--ip", "127.0.0.1", "--port", str(port),
                                   "--raft-port", str(raft), "--work-dir", tmp + "/m",
                                   "--log-level", "warn", "--apps-port", "0"],
                                  stdout=logm, stderr=logm)
        procs.append(master)
        wait_http(f"http://127.0.0.1:{port}/health")
        loga = open(os.path.join(tmp, "agent.log"), "w")
        agent = subprocess.Popen([corral, "agent", "--master", f"127.0.0.1:{port}",
                                  "--ip", "127.0.0.1", "--port", str(aport),
                                  "--work-dir", tmp + "/a", "--log-level", "warn",
                                  "--isolation", args.isolation, "--cgroups-root", cg_root,
                                  "--resources",
                                  "cpus:64;mem:65536;disk:100000;ports:[31000-32000]"],
                                 stdout=loga, stderr=loga)
        procs.append(agent)
        deadline = time.time() + 20
        while time.time() < deadline:
            if b'"activated_slaves":1' in wait_http(f"http://127.0.0.1:{port}/master/state"):
                break
            time.sleep(0.1)
        m = f"127.0.0.1:{port}"
        metrics = f"http://127.0.0.1:{aport}/metrics/snapshot"

        for _ in range(args.latency_tasks):
            subprocess.run([bench, "--master", m, "--tasks", "1"], timeout=60,
                           stdout=subprocess.DEVNULL)
        snap = get_json(metrics)
        k = "containerizer/launch_latency_ms"
        print(f"containers: launch latency (LAUNCH at the agent -> exec), isolation "
              f"{args.isolation}, {int(snap.get(k + '/count', 0))} tasks one at a time: "
              f"p50 {snap.get(k + '/p50', 0):.2f} ms, p90 {snap.get(k + '/p90', 0):.2f} ms, "
              f"p99 {snap.get(k + '/p99', 0):.2f} ms, max {snap.get(k + '/max', 0):.2f} ms")
        sys.stdout.flush()

        print(f"containers: sustained launches, {args.tasks} /bin/true on one agent:")
        sys.stdout.flush()
        subprocess.run([bench, "--master", m, "--tasks", str(args.tasks)], timeout=600)
        snap = get_json(metrics)
        print(f"containers: launch latency under that load: p50 {snap.get(k + '/p50', 0):.2f} ms,"
              f" p99 {snap.get(k + '/p99', 0):.2f} ms")

        hold = subprocess.Popen([bench, "--master", m, "--tasks", "100", "--cmd", "sleep 8"],
                                stdout=subprocess.DEVNULL)
        deadline = time.time() + 30
        ex = []
        while time.time() < deadline:
            ex = executors_of(tmp)
            if len(ex) >= 100:
                break
            time.sleep(0.2)
        time.sleep(1)
        rss = sorted(rss_kb(p, "VmRSS") for p in executors_of(tmp))
        if rss:
            print(f"containers: executor RSS with {len(rss)} tasks running: "
                  f"median {rss[len(rss) // 2]} kB, max {rss[-1]} kB")
        print(f"containers: agent RSS with {len(rss)} tasks running: "
              f"{rss_kb(agent.pid, 'VmRSS')} kB (peak {rss_kb(agent.pid, 'VmHWM')} kB)")
        hold.wait(60)
    finally:
        cleanup(procs, tmp, cg_root)


if __name__ == "__main__":
    main()
