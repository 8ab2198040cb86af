#!/usr/bin/env python3
"""The chaos soak of issue 5 (Part 6): a master and 4 agent hosts on the multi-host test bed
(hosts.py: every daemon in its own network namespace), 3 apps with health checks and a Mesos
v1 scheduler running alongside, while a seeded random loop crashes, freezes and cuts off hosts
and brings them back, for N minutes.

    python3 tests/system/chaos.py --minutes 10 [--seed S] [--corral build/asan/corral]
                                  [--actions crash,partition] [--tcp-expunge 600] [--keep]
    make chaos                        (CHAOS_MINUTES=10 CHAOS_SEED=... , build/asan)

The master runs with pings every 0.5 s (unreachable after 5 missed: a 2.5 s detection
window) and --agent-removal-timeout 20s, so that a 2-minute run sees every path.

What the loop does (at most --max-disturbed hosts out at a time, so that the apps always fit
on the others):

  crash       the host dies (hosts.Host.crash) and boots again on its work dir 2-12 s later
  freeze      every process of the host stopped, thawed again either before the detection
              window (ping interval x misses) ends or well after it (then its instances are
              replaced, and the surplus killed once it is back)
  partition   the host's link cut, healed 1-15 s later
  removal     a partition longer than the master's --agent-removal-timeout: the agent is
              removed, its tasks become TASK_GONE, and when it returns it must shut them
              down and register afresh

What is checked:

  every ~0.5 s   for each app, the task processes really alive on the hosts (found from
                 outside, hosts.Host.tasks_running) number at most
                     instances + those alive on disturbed hosts
                 where a host counts as disturbed from the moment the action starts until
                 its agent is active in the master again plus --settle seconds (the time the
                 orchestrator needs to kill a returning instance's surplus). Every sample
                 that breaks it is a violation, kept with its details; consecutive ones of
                 an app make an episode (from, to, the tasks seen, what happened before).
  at the end     everything healed, thawed and restarted; within --final-timeout: every app
                 at its count, every instance TASK_RUNNING and healthy, and exactly those
                 task processes alive (no double running). The scheduler's tasks: each one it
                 launched is accounted for by explicit reconciliation (TASK_RUNNING and
                 really alive, or the terminal state it received as an update), no task it
                 saw end still runs, and its event log never shows a state going backwards
                 (another state after a terminal one, STAGING/STARTING after RUNNING).

The scheduler is PARTITION_AWARE (it sees TASK_UNREACHABLE, then RUNNING again or a terminal
state) and keeps one task per agent host running: a task that ends is replaced from the next
offer, so launches happen during the chaos too. Every update is acknowledged.

Run as a script it prints a summary and exits 1 when something failed; tests/system/
test_chaos.py runs it for 2 minutes in CI. Needs root (namespaces, cgroups)."""

import argparse
import heapq
import json
import os
import queue
import random
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

PING_INTERVAL_S = 0.5
PING_MISSES = 5
REMOVAL_TIMEOUT_S = 20
INACTIVE_AFTER_S = 2
SAMPLE_S = 0.5
ACTIONS = [("crash", 3), ("freeze_short", 2), ("freeze_long", 2), ("partition", 4),
           ("removal", 1)]  # (kind, weight)
TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR",
            "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR"}
STARTING = {"TASK_STAGING", "TASK_STARTING"}


def master_flags():
    return ["--agent-ping-interval", f"{int(PING_INTERVAL_S * 1000)}ms",
            "--agent-ping-misses", str(PING_MISSES),
            "--agent-removal-timeout", f"{REMOVAL_TIMEOUT_S}secs"]


def detection_window_s():
    return PING_INTERVAL_S * PING_MISSES


def _health(protocol, **kw):
    hc = {"protocol": protocol, "delaySeconds": 0, "intervalSeconds": 1, "timeoutSeconds": 1,
          "gracePeriodSeconds": 15, "maxConsecutiveFailures": 3}
    hc.update(kw)
    return hc


TCP_SERVER = ("import os,socket\n"
              "s=socket.socket()\n"
              "s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
              "s.bind(('0.0.0.0',int(os.environ['PORT0'])))\n"
              "s.listen(64)\n"
              "while True: s.accept()[0].close()\n")


def app_specs(tcp_expunge_s=10):
    """The three apps: an HTTP server (MESOS_HTTP check), a sleeper (COMMAND check `true`) and
    a bare TCP listener (MESOS_TCP check); spread over the hosts, replaced 2 s after their
    host became unreachable. The TCP app forgets an unreachable instance after 10 s, so that
    partitions longer than that exercise expunge-then-kill-on-return."""
    common = {"cpus": 0.1, "backoffSeconds": 1, "maxLaunchDelaySeconds": 5,
              "labels": {"corral.placement": "spread"}}
    web = dict(common, id="/chaos/web", cmd="exec python3 -m http.server $PORT0", mem=48,
               instances=3, healthChecks=[_health("MESOS_HTTP", path="/", portIndex=0)],
               unreachableStrategy={"inactiveAfterSeconds": INACTIVE_AFTER_S,
                                    "expungeAfterSeconds": 600})
    beat = dict(common, id="/chaos/beat", cmd="exec sleep 100000", mem=16, instances=3,
                healthChecks=[_health("COMMAND", command={"value": "true"})],
                unreachableStrategy={"inactiveAfterSeconds": INACTIVE_AFTER_S,
                                     "expungeAfterSeconds": 600})
    tcp = dict(common, id="/chaos/tcp", cmd="exec python3 -c \"$CHAOS_TCP\"", mem=32,
               instances=2, env={"CHAOS_TCP": TCP_SERVER},
               healthChecks=[_health("MESOS_TCP", portIndex=0)],
               unreachableStrategy={"inactiveAfterSeconds": INACTIVE_AFTER_S + 1,
                                    "expungeAfterSeconds": tcp_expunge_s})
    return [web, beat, tcp]


# ---------------------------------------------------------------- the scheduler alongside


class ChaosScheduler:
    """A PARTITION_AWARE Mesos v1 scheduler (cluster.Scheduler for the stream) that keeps
    `keep` sleeping tasks running, acknowledges every update and logs every status it gets:
    log[task id] = [(time, state, reason, source)]."""

    def __init__(self, bed, keep):
        self.bed = bed
        self.keep = keep
        self.lock = threading.Lock()
        self.log = {}        # task id -> [(t, state, reason, source)]
        self.last = {}       # task id -> last state from an update (not a reconciliation)
        self.agent_of = {}   # task id -> agent id
        self.launched = []   # task ids in launch order
        self.recon = {}      # task id -> state, answers of the current reconciliation
        self.problems = []   # stream errors, failed acks
        self.n = 0
        self.stop_ev = threading.Event()
        self.s = bed.scheduler(name="chaos", capabilities=["PARTITION_AWARE"],
                               failover_timeout=3600)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _live(self):
        """Tasks neither ended nor forgotten (UNREACHABLE ones count: they may come back)."""
        return [t for t in self.launched
                if self.last.get(t, "TASK_STAGING") not in TERMINAL | {"TASK_UNKNOWN"}]

    def _resubscribe(self):
        from cluster import Scheduler
        fwid = self.s.framework_id
        self.s.close()
        for _ in range(30):
            if self.stop_ev.is_set():
                return False
            try:
                self.s = Scheduler(self.bed.master.url, name="chaos",
                                   capabilities=["PARTITION_AWARE"], failover_timeout=3600,
                                   framework_id=fwid)
                return True
            except Exception as e:  # the master is busy: try again
                last = e
                time.sleep(1)
        self.problems.append(f"scheduler could not re-subscribe: {last}")
        return False

    def _run(self):
        while not self.stop_ev.is_set():
            try:
                ev = self.s.events.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self._handle(ev)
            except Exception as e:  # an ack or an accept that failed: keep going
                self.problems.append(f"scheduler: {ev.get('type')}: {e!r}")

    def _handle(self, ev):
        et = ev["type"]
        if et == "__CLOSED__":
            if not self.stop_ev.is_set():
                self.problems.append(f"scheduler stream closed at {time.time():.1f}")
                self._resubscribe()
        elif et == "UPDATE":
            st = ev["update"]["status"]
            tid = st["task_id"]["value"]
            reason = st.get("reason", "")
            with self.lock:
                self.log.setdefault(tid, []).append((time.time(), st["state"], reason,
                                                     st.get("source", "")))
                if reason == "REASON_RECONCILIATION":
                    self.recon[tid] = st["state"]
                else:
                    self.last[tid] = st["state"]
            if "uuid" in st:
                self.s.ack(st)
        elif et == "OFFERS":
            for offer in ev["offers"]["offers"]:
                with self.lock:
                    need = self.keep - len(self._live())
                    tid = None
                    if need > 0:
                        self.n += 1
                        tid = f"sched-{self.n}"
                        self.launched.append(tid)
                        self.agent_of[tid] = offer["agent_id"]["value"]
                if tid:
                    from cluster import task_info
                    try:
                        self.s.launch(offer, [task_info(offer, tid, "exec sleep 100000",
                                                        cpus=0.05, mem=8)], refuse_seconds=1)
                    except Exception:  # never launched: nothing to account for
                        with self.lock:
                            self.launched.remove(tid)
                        raise
                else:
                    self.s.call("DECLINE", {"offer_ids": [offer["id"]],
                                            "filters": {"refuse_seconds": 2}})
        elif et == "ERROR":
            self.problems.append(f"scheduler ERROR event: {ev}")

    def reconcile(self, timeout=15):
        """Explicit reconciliation of every task launched: {task id: state}; tasks the master
        does not answer for (an agent not re-registered yet) are asked again until timeout."""
        with self.lock:
            self.recon = {}
            tasks = list(self.launched)
        deadline = time.time() + timeout
        while True:
            with self.lock:
                left = [t for t in tasks if t not in self.recon]
            if not left or time.time() > deadline:
                break
            body = {"tasks": [{"task_id": {"value": t}, "agent_id": {"value": self.agent_of[t]}}
                              for t in left]}
            r = self.s.call("RECONCILE", body)
            if r.status_code != 202:
                self.problems.append(f"RECONCILE answered {r.status_code}: {r.text}")
            t_ask = time.time()
            while time.time() < min(deadline, t_ask + 2):
                with self.lock:
                    if all(t in self.recon for t in left):
                        break
                time.sleep(0.05)
        with self.lock:
            return {t: self.recon.get(t) for t in tasks}

    def close(self):
        self.stop_ev.set()
        self.thread.join(5)
        self.s.close()


def backwards(log):
    """The steps of one task's status log that go backwards: another state after a terminal
    one (TASK_UNKNOWN excepted: a reconciliation answer about a forgotten task), or STAGING /
    STARTING after RUNNING. Returns [(from, to, time)]."""
    out = []
    prev = None
    ran = False
    for t, state, _reason, _source in log:
        if prev in TERMINAL and state != prev and state != "TASK_UNKNOWN":
            out.append((prev, state, t))
        elif ran and state in STARTING:
            out.append(("TASK_RUNNING", state, t))
        if state == "TASK_RUNNING":
            ran = True
        if state != "TASK_UNKNOWN" and prev not in TERMINAL:
            prev = state
    return out


# ---------------------------------------------------------------- the soak


class Soak:
    """One soak run; run() returns the summary (a dict, see summary())."""

    def __init__(self, workdir, minutes, seed, max_disturbed=2, settle_s=3.0,
                 final_timeout_s=60.0, sched_tasks=4, tcp_expunge_s=10, kinds=None,
                 log=print):
        self.workdir = workdir
        self.duration_s = minutes * 60.0
        self.seed = seed
        self.rng = random.Random(seed)
        self.max_disturbed = max_disturbed
        self.settle_s = settle_s
        self.final_timeout_s = final_timeout_s
        self.sched_tasks = sched_tasks
        self.say = log
        self.kinds = set(kinds or [k for k, _ in ACTIONS])
        self.apps = app_specs(tcp_expunge_s)
        self.wanted = {a["id"]: a["instances"] for a in self.apps}
        self.lock = threading.Lock()
        # host name -> {"kind", "since", "back": None | time the agent was active again}
        self.disturbed = {}
        self.pending = []    # heap of (time, seq, host name, undo kind)
        self.seq = 0
        self.actions = []    # (t, host, kind, duration)
        self.events = []     # (t, text) of the loop, for violation context
        self.max_disturbed_seen = 0
        self.samples = 0
        self.violations = []
        self.n_violations = 0
        self.episodes = []   # runs of consecutive violating samples of one app
        self.open_episode = {a: None for a in self.wanted}
        self.max_excess = {a: 0 for a in self.wanted}  # max real - wanted seen per app
        self.max_real = {a: 0 for a in self.wanted}
        self.problems = []   # anything else that went wrong (host not back, bed problems)
        self.t0 = None

    def now(self):
        return time.time() - self.t0

    def note(self, text):
        with self.lock:
            self.events.append((round(self.now(), 2), text))
        self.say(f"chaos: [{self.now():7.1f}s] {text}")

    # -- actions
    def choose(self):
        """(kind, duration) of the next action, from the seeded generator."""
        w = detection_window_s()
        kinds = [(k, n) for k, n in ACTIONS if k in self.kinds]
        kind = self.rng.choices([k for k, _ in kinds], [n for _, n in kinds])[0]
        if kind == "crash":
            return kind, self.rng.uniform(2, 12)
        if kind == "freeze_short":
            return kind, self.rng.uniform(0.3, 0.6 * w)
        if kind == "freeze_long":
            return kind, self.rng.uniform(w + INACTIVE_AFTER_S + 1, w + INACTIVE_AFTER_S + 10)
        if kind == "partition":
            return kind, self.rng.uniform(1, 15)
        return kind, REMOVAL_TIMEOUT_S + self.rng.uniform(2, 6)

    def start_action(self, host, kind, duration):
        with self.lock:
            self.disturbed[host.name] = {"kind": kind, "since": time.time(), "back": None}
            self.max_disturbed_seen = max(self.max_disturbed_seen, len(self.disturbed))
        self.note(f"{kind} {host.name} for {duration:.1f}s")
        if kind == "crash":
            host.crash()
        elif kind.startswith("freeze"):
            host.freeze()
        else:
            host.partition()
        self.actions.append((round(self.now(), 2), host.name, kind, round(duration, 2)))
        self.seq += 1
        heapq.heappush(self.pending, (time.time() + duration, self.seq, host.name, kind))

    def undo(self, host, kind):
        if kind == "crash":
            host.restart()
            what = "restart"
        elif kind.startswith("freeze"):
            host.thaw()
            what = "thaw"
        else:
            host.heal()
            what = "heal"
        with self.lock:
            self.disturbed[host.name]["undone"] = time.time()
        self.note(f"{what} {host.name}")

    def track_returns(self):
        """Mark returned hosts whose agent is active again; forget them after settle_s.
        Complain about a host whose agent is not back 60 s after it was undone."""
        with self.lock:
            returning = {n: d for n, d in self.disturbed.items() if "undone" in d}
        if not returning:
            return
        try:
            active = {s["hostname"] for s in self.bed.master.state()["slaves"] if s["active"]}
        except Exception:
            return
        now = time.time()
        for name, d in returning.items():
            if d["back"] is None and name in active:
                d["back"] = now
                self.note(f"{name} active again {now - d['undone']:.1f}s after it returned")
            elif d["back"] is None and now - d["undone"] > 60 and not d.get("late"):
                d["late"] = True
                self.problems.append(f"{name}: agent not active 60s after {d['kind']} was undone")
            if d["back"] is not None and now - d["back"] >= self.settle_s:
                with self.lock:
                    del self.disturbed[name]

    # -- sampling
    def sample(self):
        with self.lock:
            dist = {n: d["kind"] + ("/returning" if "undone" in d else "")
                    for n, d in self.disturbed.items()}
        real = {h.name: h.tasks_running() for h in self.bed.agents}
        self.samples += 1
        for app, wanted in self.wanted.items():
            running = {tid: host for host, ts in real.items() for tid, a in ts.items() if a == app}
            on_disturbed = sum(1 for host in running.values() if host in dist)
            allowed = wanted + on_disturbed
            self.max_real[app] = max(self.max_real[app], len(running))
            self.max_excess[app] = max(self.max_excess[app], len(running) - wanted)
            if len(running) <= allowed:
                self.open_episode[app] = None
                continue
            self.n_violations += 1
            now = round(self.now(), 2)
            with self.lock:
                recent = self.events[-6:]
            if len(self.violations) < 50:
                self.violations.append({"t": now, "app": app, "wanted": wanted,
                                        "allowed": allowed, "running": running,
                                        "disturbed": dist, "recent": recent})
            ep = self.open_episode[app]
            if ep is None:
                ep = {"app": app, "from": now, "to": now, "samples": 0, "over": 0,
                      "running": {}, "disturbed": dist, "recent": recent}
                self.episodes.append(ep)
                self.open_episode[app] = ep
                self.say(f"chaos: VIOLATION at {now:.1f}s: {app} runs {len(running)} > "
                         f"{allowed} allowed: {running} (disturbed {dist})")
            ep["to"] = now
            ep["samples"] += 1
            ep["over"] = max(ep["over"], len(running) - allowed)
            ep["running"].update(running)

    def _sampler(self):
        while not self.sample_stop.is_set():
            t = time.time()
            try:
                self.sample()
            except Exception as e:
                self.problems.append(f"sampler: {e!r}")
            self.sample_stop.wait(max(0.0, SAMPLE_S - (time.time() - t)))

    # -- the run
    def run(self):
        from hosts import TestBed
        self.bed = TestBed(self.workdir, agents=4, master_extra=master_flags())
        self.sched = None
        self.sample_stop = threading.Event()
        sampler = None
        summary = None
        try:
            self.t0 = time.time()
            api = self.bed.apps()
            for spec in self.apps:
                api.create(spec)
            self.sched = ChaosScheduler(self.bed, self.sched_tasks)
            for spec in self.apps:
                api.wait_running(spec["id"], spec["instances"], timeout=60, healthy=True)
            self.note("apps running and healthy; chaos starts")
            sampler = threading.Thread(target=self._sampler, daemon=True)
            sampler.start()
            self.loop()
            self.note("chaos over: bringing every host back")
            self.undo_all()
            final = self.final_checks(api)
            summary = self.summary(final)
        finally:
            self.sample_stop.set()
            if sampler:
                sampler.join(10)
            if self.sched:
                self.sched.close()
            problems = self.bed.close()
            if problems:
                self.problems += [f"test bed: {p}" for p in problems]
            if summary is not None:
                summary["problems"] = self.problems
                summary["ok"] = summary["ok"] and not self.problems
        return summary

    def loop(self):
        end = time.time() + self.duration_s
        next_action = time.time() + self.rng.uniform(0.5, 2)
        while time.time() < end:
            now = time.time()
            while self.pending and self.pending[0][0] <= now:
                _t, _s, name, kind = heapq.heappop(self.pending)
                self.undo(self.bed.host(name), kind)
            self.track_returns()
            if now >= next_action:
                with self.lock:
                    out = set(self.disturbed)
                if len(out) < self.max_disturbed:
                    kind, duration = self.choose()
                    host = self.rng.choice([h for h in self.bed.agents if h.name not in out])
                    self.start_action(host, kind, min(duration, max(0.3, end - now + 5)))
                next_action = now + self.rng.uniform(1, 4)
            time.sleep(0.05)

    def undo_all(self):
        while self.pending:
            _t, _s, name, kind = heapq.heappop(self.pending)
            self.undo(self.bed.host(name), kind)
        deadline = time.time() + 60
        while time.time() < deadline:
            self.track_returns()
            with self.lock:
                if not self.disturbed:
                    break
            time.sleep(0.1)
        with self.lock:
            if self.disturbed:
                self.problems.append(f"hosts not back 60s after the end: {self.disturbed}")

    # -- the end
    def final_checks(self, api):
        t_end = time.time()
        deadline = t_end + self.final_timeout_s
        apps_ok = False
        while time.time() < deadline:
            state = self.app_state(api)
            if all(s["ok"] for s in state.values()):
                apps_ok = True
                break
            time.sleep(0.5)
        settle_apps_s = time.time() - t_end
        self.note(f"apps {'settled' if apps_ok else 'NOT settled'} after {settle_apps_s:.1f}s")
        time.sleep(2)  # and they stay so
        state = self.app_state(api)
        apps_ok = apps_ok and all(s["ok"] for s in state.values())

        # The scheduler: a task back from a partition gets no update (as in Mesos: the
        # framework learns it by reconciliation), so ask until no answer is in between.
        settled = TERMINAL | {"TASK_RUNNING", "TASK_UNKNOWN"}
        while True:
            recon = self.sched.reconcile()
            if all(v in settled for v in recon.values()) or time.time() > deadline:
                break
            time.sleep(1)
        real = self.bed.tasks_running()
        with self.sched.lock:
            last = dict(self.sched.last)
            log = {t: list(v) for t, v in self.sched.log.items()}
            launched = list(self.sched.launched)
        unaccounted = {}
        for tid in launched:
            got, ans = last.get(tid), recon.get(tid)
            if ans == "TASK_RUNNING":
                if tid not in real:
                    unaccounted[tid] = f"reconciled RUNNING but no process (last update {got})"
            elif ans in TERMINAL or ans == "TASK_UNKNOWN":
                if got not in TERMINAL:
                    unaccounted[tid] = (f"reconciled {ans} but the last update it got was {got}"
                                        f" (a terminal update lost)")
                elif ans != "TASK_UNKNOWN" and ans != got:
                    unaccounted[tid] = f"reconciled {ans} but it received {got}"
                elif tid in real:
                    unaccounted[tid] = f"{got} received but its process still runs"
            else:
                unaccounted[tid] = f"reconciled {ans} at the end (last update {got})"
        back = {t: backwards(v) for t, v in log.items()}
        back = {t: v for t, v in back.items() if v}
        sched = {"launched": len(launched),
                 "running": sorted(t for t in launched if recon.get(t) == "TASK_RUNNING"),
                 "ended": {t: last.get(t) for t in launched if last.get(t) in TERMINAL},
                 "unaccounted": unaccounted, "backwards": back,
                 "logs": {t: [(round(x[0] - self.t0, 2),) + x[1:] for x in log[t]]
                          for t in set(unaccounted) | set(back) if t in log},
                 "problems": list(self.sched.problems)}
        return {"apps": state, "apps_ok": apps_ok, "apps_settled_s": round(settle_apps_s, 1),
                "scheduler": sched}

    def app_state(self, api):
        """Per app: what the API says and which task processes really run."""
        out = {}
        for app, wanted in self.wanted.items():
            try:
                a = api.app(app)
            except Exception as e:
                out[app] = {"ok": False, "error": repr(e)}
                continue
            ids = {t["id"] for t in a["tasks"]}
            running = [t for t in a["tasks"] if t["state"] == "TASK_RUNNING"]
            procs = sorted(self.bed.tasks_running(app))
            out[app] = {"wanted": wanted, "tasks": len(a["tasks"]), "running": len(running),
                        "healthy": a.get("tasksHealthy"), "processes": procs,
                        "ok": (len(a["tasks"]) == wanted and len(running) == wanted and
                               a.get("tasksHealthy") == wanted and set(procs) == ids)}
        return out

    def summary(self, final):
        kinds = {}
        for _t, _h, k, _d in self.actions:
            kinds[k] = kinds.get(k, 0) + 1
        sched = final["scheduler"]
        ok = (self.n_violations == 0 and final["apps_ok"] and not sched["unaccounted"] and
              not sched["backwards"])
        return {"ok": ok, "seed": self.seed, "minutes": self.duration_s / 60,
                "run_s": round(self.now(), 1), "actions": len(self.actions),
                "action_kinds": kinds, "action_list": self.actions,
                "max_disturbed": self.max_disturbed_seen, "samples": self.samples,
                "violations": self.n_violations, "violation_details": self.violations,
                "episodes": self.episodes,
                "max_real": self.max_real, "max_excess": self.max_excess, "final": final}


def print_summary(s, out=print):
    out(f"chaos: seed {s['seed']}, {s['minutes']:g} min of chaos, {s['run_s']}s in all")
    out(f"chaos: {s['actions']} actions {s['action_kinds']}, at most {s['max_disturbed']} "
        f"hosts disturbed at once")
    out(f"chaos: {s['samples']} samples, {s['violations']} invariant violations in "
        f"{len(s['episodes'])} episodes; max really "
        f"running {s['max_real']} (most above wanted {s['max_excess']})")
    for e in s["episodes"]:
        out(f"chaos:   violation {e['app']} from {e['from']}s to {e['to']}s ({e['samples']} "
            f"samples, up to {e['over']} too many): running {e['running']}; disturbed "
            f"{e['disturbed']}; before: {e['recent']}")
    f = s["final"]
    out(f"chaos: apps {'OK' if f['apps_ok'] else 'NOT OK'} (settled in {f['apps_settled_s']}s):")
    for app, st in f["apps"].items():
        out(f"chaos:   {app}: {json.dumps(st)}")
    sc = f["scheduler"]
    out(f"chaos: scheduler launched {sc['launched']}, {len(sc['running'])} running, "
        f"{len(sc['ended'])} ended, {len(sc['unaccounted'])} unaccounted, "
        f"{len(sc['backwards'])} with states going backwards")
    for t, why in sc["unaccounted"].items():
        out(f"chaos:   unaccounted {t}: {why}; log {sc['logs'].get(t)}")
    for t, steps in sc["backwards"].items():
        out(f"chaos:   backwards {t}: {steps}; log {sc['logs'].get(t)}")
    for p in sc["problems"] + s.get("problems", []):
        out(f"chaos:   problem: {p}")
    out(f"chaos: {'PASS' if s['ok'] else 'FAIL'}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--seed", type=int, default=None, help="default: random (printed)")
    ap.add_argument("--corral", default=None, help="the corral binary (default: $CORRAL_BIN "
                    "or build/asan/corral)")
    ap.add_argument("--max-disturbed", type=int, default=2)
    ap.add_argument("--settle", type=float, default=3.0,
                    help="seconds a returned host still counts as disturbed once its agent "
                    "is active again")
    ap.add_argument("--final-timeout", type=float, default=60.0)
    ap.add_argument("--tcp-expunge", type=int, default=10,
                    help="expungeAfterSeconds of the TCP app (the others keep 600)")
    ap.add_argument("--actions", default=",".join(k for k, _ in ACTIONS),
                    help="the kinds of action to draw from (comma-separated)")
    ap.add_argument("--json", help="also write the summary to this file")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (logs)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("chaos: needs root (network namespaces, cgroups)")
        return 2
    kinds = args.actions.split(",")
    unknown = set(kinds) - {k for k, _ in ACTIONS}
    if unknown:
        ap.error(f"unknown actions {sorted(unknown)} (known: {[k for k, _ in ACTIONS]})")
    if args.corral:
        os.environ["CORRAL_BIN"] = os.path.abspath(args.corral)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    work = tempfile.mkdtemp(prefix="corral-chaos-", dir="/var/tmp")
    print(f"chaos: seed {seed}, work dir {work}")
    soak = Soak(work, args.minutes, seed, max_disturbed=args.max_disturbed,
                settle_s=args.settle, final_timeout_s=args.final_timeout,
                tcp_expunge_s=args.tcp_expunge, kinds=kinds)
    s = soak.run()
    print_summary(s)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(s, f, indent=1)
    if s["ok"] and not args.keep:
        import shutil
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"chaos: logs kept in {work}")
    return 0 if s["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
