#!/usr/bin/env python3
"""End-to-end benchmark: start a release master + one agent on loopback, run bench_e2e
(N /bin/true tasks through the scheduler API, every update acknowledged), then print
throughput, latency and the master's memory. Prints figures; never fails on time."""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rss_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def wait_http(url, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                return r.read()
        except Exception:
            time.sleep(0.1)
    raise SystemExit(f"e2e: {url} did not answer")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corral", default="build/release/corral")
    ap.add_argument("--bench", default=None, help="bench_e2e binary")
    ap.add_argument("--tasks", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    corral = os.path.abspath(args.corral)
    bench = os.path.abspath(args.bench or os.path.join(os.path.dirname(corral), "bench_e2e"))
    tmp = tempfile.mkdtemp(prefix="corral-bench-")
    procs = []
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
                                  "--resources",
                                  "cpus:64;mem:65536;disk:10000;ports:[31000-32000]"],
                                 stdout=loga, stderr=loga)
        procs.append(agent)
        deadline = time.time() + 20
        while time.time() < deadline:
            body = wait_http(f"http://127.0.0.1:{port}/master/state")
            if b'"activated_slaves":1' in body:
                break
            time.sleep(0.1)
        print(f"e2e: master rss at start {rss_kb(master.pid, 'VmRSS')} kB")
        for run in range(args.runs):
            print(f"--- run {run + 1}/{args.runs}: {args.tasks} tasks on one agent")
            sys.stdout.flush()
            r = subprocess.run([bench, "--master", f"127.0.0.1:{port}", "--tasks",
                                str(args.tasks)], timeout=300)
            if r.returncode != 0:
                print(f"e2e: bench_e2e exited {r.returncode} (see {tmp})")
        print(f"e2e: master rss after runs {rss_kb(master.pid, 'VmRSS')} kB, "
              f"peak {rss_kb(master.pid, 'VmHWM')} kB")
        print(f"e2e: agent rss peak {rss_kb(agent.pid, 'VmHWM')} kB")
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
