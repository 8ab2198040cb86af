#!/usr/bin/env python3
"""Master at scale: a release master on loopback, then bench_scale's fake agents (agent
protocol) and declining frameworks (scheduler API). Prints admission time, offers and the
master's memory for each size. Prints figures; never fails on time."""

import argparse
import os
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corral", default="build/release/corral")
    ap.add_argument("--bench", default=None)
    ap.add_argument("--sizes", default="1000x100,5000x1000")
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--procs", type=int, default=4,
                    help="fake-peer processes (one process cannot drive thousands of streams)")
    args = ap.parse_args()
    corral = os.path.abspath(args.corral)
    bench = os.path.abspath(args.bench or os.path.join(os.path.dirname(corral), "bench",
                                                       "bench_scale"))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    for size in args.sizes.split(","):
        agents, fws = (int(x) for x in size.split("x"))
        if agents * 2 + fws * 2 + 200 > hard:
            print(f"scale: skipping {size}: needs more than {hard} open files")
            continue
        tmp = tempfile.mkdtemp(prefix="corral-scale-")
        port = free_port()
        log = open(os.path.join(tmp, "master.log"), "w")
        master = subprocess.Popen([corral, "master", "--ip", "127.0.0.1", "--port", str(port),
                                   "--raft-port", str(free_port()), "--work-dir", tmp,
                                   "--log-level", "warn", "--agent-ping-interval", "5secs",
                                   "--offer-timeout", "1hrs", "--apps-port", "0"],
                                  stdout=log, stderr=log)
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                    break
                except Exception:
                    time.sleep(0.1)
            print(f"--- {agents} agents x {fws} frameworks (agent ping every 5 s; "
                  f"{args.procs} fake-peer processes, each printing its share)", flush=True)
            peers = [subprocess.Popen([bench, "--master", f"127.0.0.1:{port}",
                                       "--pid", str(master.pid),
                                       "--agents", str(agents // args.procs),
                                       "--frameworks", str(fws // args.procs),
                                       "--seconds", str(args.seconds)])
                     for _ in range(args.procs)]
            for p in peers:
                p.wait(timeout=600)
        finally:
            master.send_signal(signal.SIGTERM)
            try:
                master.wait(30)
            except subprocess.TimeoutExpired:
                master.kill()
                master.wait()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
