"""A scripted agent speaking Corral's agent protocol (docs/protocol.md), for tests that
need an agent to misbehave or to report exactly what the test says."""

import base64
import json
import queue
import threading
import time
import uuid

import requests


def scalar(name, value, role=None):
    r = {"name": name, "type": "SCALAR", "scalar": {"value": value}}
    if role:
        r["role"] = role
    return r


class FakeAgent:
    def __init__(self, master_url, agent_id=None, hostname="fake", resources=None, tasks=(),
                 auto_pong=True, port=5051):
        self.url = master_url + "/corral/v1/agent"
        info = {"hostname": hostname, "port": port,
                "resources": resources or [scalar("cpus", 4), scalar("mem", 4096)]}
        if agent_id:
            info["id"] = {"value": agent_id}
        self.body = {"type": "SUBSCRIBE", "subscribe": {
            "agent_info": info, "address": {"ip": "127.0.0.1", "port": port},
            "version": "test", "tasks": list(tasks)}}
        self.auto_pong = auto_pong
        self.events = queue.Queue()
        self.all = []
        self.resp = requests.post(self.url, json=self.body, stream=True, timeout=(5, None))
        if self.resp.status_code != 200:
            raise AssertionError(f"agent SUBSCRIBE answered {self.resp.status_code}: "
                                 f"{self.resp.text}")
        self.sid = self.resp.headers["Mesos-Stream-Id"]
        threading.Thread(target=self._read, daemon=True).start()
        self.id = self.expect("SUBSCRIBED")["subscribed"]["agent_id"]["value"]

    def _read(self):
        buf = b""
        try:
            for chunk in self.resp.raw.stream(65536, decode_content=False):
                buf += chunk
                while True:
                    nl = buf.find(b"\n")
                    if nl < 0:
                        break
                    n = int(buf[:nl])
                    if len(buf) < nl + 1 + n:
                        break
                    ev = json.loads(buf[nl + 1:nl + 1 + n])
                    buf = buf[nl + 1 + n:]
                    self.all.append(ev)
                    if ev["type"] == "PING" and self.auto_pong:
                        try:
                            self.post({"type": "PONG", "agent_id": {"value": self.id}})
                        except requests.RequestException:
                            pass
                        continue
                    self.events.put(ev)
        except Exception:
            pass
        self.events.put({"type": "__CLOSED__"})

    def expect(self, etype, timeout=10, pred=None):
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError(f"agent: no {etype} within {timeout}s")
            try:
                ev = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if ev["type"] == etype and (pred is None or pred(ev)):
                return ev

    def post(self, body):
        return requests.post(self.url, json=body, headers={"Mesos-Stream-Id": self.sid},
                             timeout=10)

    def update(self, framework_id, task_id, state, agent_id=None):
        st = {"task_id": {"value": task_id}, "state": state, "source": "SOURCE_EXECUTOR",
              "uuid": base64.b64encode(uuid.uuid4().bytes).decode(), "timestamp": time.time()}
        if agent_id:
            st["agent_id"] = {"value": agent_id}
        return self.post({"type": "UPDATE", "agent_id": {"value": self.id},
                          "update": {"framework_id": {"value": framework_id}, "status": st}})

    def close(self):
        try:
            self.resp.close()
        except Exception:
            pass
