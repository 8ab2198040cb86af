#!/usr/bin/env python3
"""Apps benchmark (issue 4): one Marathon app of N instances of a sleep command, on real agents
with isolation on, from the POST /v2/apps to every instance TASK_RUNNING (Marathon took 14.2 s
for 500 instances on 189 agents).

  POST -> all placed    every instance launched (staged or running), from /v2/apps counts
  POST -> all running   tasksRunning == N
  machines used         how many agents hold instances (best-fit packs them)

Prints figures; never fails on time. Needs root (cgroups and namespaces)."""

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.request
import subprocess

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from containers import cleanup  # noqa: E402
from e2e import free_port, wait_http  # noqa: E402


def request(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corral", default="build/release/corral")
    ap.add_argument("--instances", type=int, default=500)
    ap.add_argument("--agents", type=int, default=5)
    ap.add_argument("--isolation", default="auto")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("apps: skipped (needs root for cgroups and namespaces)")
        return
    corral = os.path.abspath(args.corral)
    tmp = tempfile.mkdtemp(prefix="corral-bench-apps-", dir="/var/tmp")
    cg_root = "corral-bench/" + os.path.basename(tmp)
    procs = []
    n = args.instances
    per_agent_cpus = max(1, (n * 40 + 999) // 1000 // args.agents + 1)
    try:
        port, raft, apps_port = free_port(), free_port(), free_port()
        logm = open(os.path.join(tmp, "master.log"), "w")
        procs.append(subprocess.Popen(
            [corral, "master", "--ip", "127.0.0.1", "--port", str(port), "--raft-port", str(raft),
             "--apps-port", str(apps_port), "--work-dir", tmp + "/m", "--log-level", "warn"],
            stdout=logm, stderr=logm))
        wait_http(f"http://127.0.0.1:{port}/health")
        for i in range(args.agents):
            log = open(os.path.join(tmp, f"agent{i}.log"), "w")
            procs.append(subprocess.Popen(
                [corral, "agent", "--master", f"127.0.0.1:{port}", "--ip", "127.0.0.1",
                 "--port", str(free_port()), "--work-dir", f"{tmp}/a{i}", "--log-level", "warn",
                 "--isolation", args.isolation, "--cgroups-root", f"{cg_root}/a{i}",
                 "--hostname", f"host{i}",
                 "--resources", f"cpus:{per_agent_cpus};mem:{n * 8};disk:1024;ports:[31000-31999]"],
                stdout=log, stderr=log))
        base = f"http://127.0.0.1:{apps_port}"
        deadline = time.time() + 30
        while True:
            st = request("GET", f"http://127.0.0.1:{port}/master/state")
            if len([s for s in st["slaves"] if s["active"]]) == args.agents:
                break
            if time.time() > deadline:
                raise SystemExit("apps: agents did not register")
            time.sleep(0.1)
        app = {"id": "/bench/sleep", "cmd": "sleep 3600", "cpus": 0.04, "mem": 4,
               "instances": n}
        t0 = time.monotonic()
        request("POST", base + "/v2/apps", app)
        placed_at = None
        while True:
            a = request("GET", base + "/v2/apps/bench/sleep?embed=apps.counts")["app"]
            now = time.monotonic()
            if placed_at is None and a["tasksStaged"] + a["tasksRunning"] >= n:
                placed_at = now
            if a["tasksRunning"] >= n:
                break
            if now - t0 > 300:
                raise SystemExit(f"apps: only {a['tasksRunning']} of {n} running after 300 s")
            time.sleep(0.02)
        t_run = time.monotonic() - t0
        tasks = request("GET", base + "/v2/apps/bench/sleep/tasks")["tasks"]
        hosts = {}
        for t in tasks:
            hosts[t["host"]] = hosts.get(t["host"], 0) + 1
        print(f"apps: {n} instances POST -> all placed {placed_at - t0:.2f} s, "
              f"all TASK_RUNNING {t_run:.2f} s ({n / t_run:.0f} instances/s) on "
              f"{args.agents} agents (Marathon: 14.2 s for 500 on 189 agents)")
        print("apps: instances per agent (best-fit fills one before the next): " +
              ", ".join(f"{h}={c}" for h, c in sorted(hosts.items())))
        t0 = time.monotonic()
        request("DELETE", base + "/v2/apps/bench/sleep")
        while True:
            try:
                request("GET", base + "/v2/apps/bench/sleep")
            except urllib.error.HTTPError as e:
                if e.code == 404:
                    break
            if time.monotonic() - t0 > 120:
                break
            time.sleep(0.05)
        print(f"apps: DELETE -> app gone (all {n} killed) {time.monotonic() - t0:.2f} s")
    finally:
        cleanup(procs, tmp, cg_root)


if __name__ == "__main__":
    main()
