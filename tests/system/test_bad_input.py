"""Every bad request gets a clear 4xx naming what is wrong; nothing crashes."""

import socket

import requests

from cluster import Scheduler, task_info


def post(url, data, ctype="application/json", headers=None):
    h = {"Content-Type": ctype} if ctype else {}
    if headers:
        h.update(headers)
    return requests.post(url, data=data, headers=h, timeout=5)


def test_wrong_method_405(cluster):
    r = requests.get(cluster.master.url + "/api/v1/scheduler", timeout=5)
    assert r.status_code == 405
    assert "POST" in r.text
    r = requests.put(cluster.master.url + "/api/v1", data="{}", timeout=5)
    assert r.status_code == 405


def test_content_type_415_and_missing_400(cluster):
    url = cluster.master.url + "/api/v1/scheduler"
    assert post(url, "{}", ctype="text/plain").status_code == 415
    assert post(url, "{}", ctype=None).status_code == 400


def test_accept_406(cluster):
    r = post(cluster.master.url + "/api/v1", '{"type":"GET_HEALTH"}',
             headers={"Accept": "text/html"})
    assert r.status_code == 406


def test_malformed_json_400(cluster):
    r = post(cluster.master.url + "/api/v1/scheduler", '{"type": "SUBSCRIBE", ')
    assert r.status_code == 400
    assert "JSON" in r.text or "json" in r.text


def test_missing_required_field_named(cluster):
    r = post(cluster.master.url + "/api/v1/scheduler",
             '{"type":"SUBSCRIBE","subscribe":{"framework_info":{"name":"x"}}}')
    assert r.status_code == 400
    assert "user" in r.text


def test_wrong_type_named(cluster):
    r = post(cluster.master.url + "/api/v1/scheduler",
             '{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":7}}}')
    assert r.status_code == 400
    assert "name" in r.text


def test_enum_as_number_rejected(cluster):
    r = post(cluster.master.url + "/api/v1/scheduler",
             '{"type":1,"subscribe":{"framework_info":{"user":"u","name":"n"}}}')
    assert r.status_code == 400


def test_unknown_framework_400_and_stream_id_rules(cluster):
    url = cluster.master.url + "/api/v1/scheduler"
    r = post(url, '{"type":"DECLINE","framework_id":{"value":"nope"},'
                  '"decline":{"offer_ids":[]}}', headers={"Mesos-Stream-Id": "x"})
    assert r.status_code == 400
    s = Scheduler(cluster.master.url)
    try:
        r = s.call("REVIVE", {}, headers={"Mesos-Stream-Id": "not-the-stream"})
        assert r.status_code == 400
        r = requests.post(url, json={"type": "REVIVE", "framework_id": {"value": s.framework_id}},
                          timeout=5)
        assert r.status_code == 400  # no stream id header
        r = requests.post(url, json={"type": "REVIVE"}, headers={"Mesos-Stream-Id": s.stream_id},
                          timeout=5)
        assert r.status_code == 400  # no framework id
        # SUBSCRIBE must not carry a stream id
        r = post(url, '{"type":"SUBSCRIBE","subscribe":{"framework_info":'
                      '{"user":"u","name":"n"}}}', headers={"Mesos-Stream-Id": s.stream_id})
        assert r.status_code == 400
    finally:
        s.close()


def test_disconnected_framework_403(cluster):
    s = Scheduler(cluster.master.url, failover_timeout=30)
    fwid, sid = s.framework_id, s.stream_id
    s.close()
    import time
    time.sleep(0.5)
    r = requests.post(cluster.master.url + "/api/v1/scheduler",
                      json={"type": "REVIVE", "framework_id": {"value": fwid}},
                      headers={"Mesos-Stream-Id": sid}, timeout=5)
    assert r.status_code == 403


def test_unknown_call_501(cluster):
    s = Scheduler(cluster.master.url)
    try:
        r = s.call("FROBNICATE", {})
        assert r.status_code == 501
    finally:
        s.close()


def test_oversized_body_413(cluster):
    body = b'{"type":"SUBSCRIBE","pad":"' + b"x" * (9 * 1024 * 1024) + b'"}'
    r = post(cluster.master.url + "/api/v1/scheduler", body)
    assert r.status_code == 413
    # and the master is still fine
    assert requests.get(cluster.master.url + "/health", timeout=5).status_code == 200


def test_chunked_request_body_accepted(cluster):
    def gen():
        yield b'{"type":"GET_'
        yield b'HEALTH"}'
    r = requests.post(cluster.master.url + "/api/v1", data=gen(),
                      headers={"Content-Type": "application/json"}, timeout=5)
    assert r.status_code == 200
    assert r.json()["get_health"]["healthy"] is True


def test_truncated_request_does_not_crash(cluster):
    s = socket.create_connection(("127.0.0.1", cluster.master.port))
    s.sendall(b"POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: 1000\r\n\r\n{\"type\":")
    s.close()
    assert requests.get(cluster.master.url + "/health", timeout=5).status_code == 200


def test_invalid_offer_drops_task(cluster):
    s = Scheduler(cluster.master.url, capabilities=["PARTITION_AWARE"])
    try:
        offer = s.offers()[0]
        bogus = dict(offer, id={"value": "no-such-offer"})
        s.launch(bogus, [task_info(offer, "lost1", "true")])
        st = s.update("lost1")
        assert st["state"] == "TASK_DROPPED"
        assert st["reason"] == "REASON_INVALID_OFFERS"
    finally:
        s.close()


def test_invalid_offer_non_partition_aware_is_lost(cluster):
    s = Scheduler(cluster.master.url)
    try:
        offer = s.offers()[0]
        bogus = dict(offer, id={"value": "no-such-offer"})
        s.launch(bogus, [task_info(offer, "lost2", "true")])
        st = s.update("lost2")
        assert st["state"] == "TASK_LOST"
        assert st["reason"] == "REASON_INVALID_OFFERS"
    finally:
        s.close()


def test_resources_exceeding_offer_is_task_error(cluster):
    s = Scheduler(cluster.master.url)
    try:
        offer = s.offers()[0]
        s.launch(offer, [task_info(offer, "greedy", "true", cpus=64)])
        st = s.update("greedy")
        assert st["state"] == "TASK_ERROR"
        assert st["reason"] == "REASON_TASK_INVALID"
        assert "cpus" in st["message"]
    finally:
        s.close()


def test_duplicate_task_id_is_task_error(cluster):
    s = Scheduler(cluster.master.url)
    try:
        offer = s.offers()[0]
        s.launch(offer, [task_info(offer, "dup", "sleep 30"), task_info(offer, "dup", "true")])
        states = {s.update("dup")["state"], s.update("dup")["state"]}
        assert "TASK_ERROR" in states
    finally:
        s.close()


def test_offer_used_twice(cluster):
    s = Scheduler(cluster.master.url, capabilities=["PARTITION_AWARE"])
    try:
        offer = s.offers()[0]
        s.launch(offer, [task_info(offer, "once", "sleep 30")])
        s.launch(offer, [task_info(offer, "twice", "true")])
        st = s.update("twice")
        assert st["state"] == "TASK_DROPPED"
    finally:
        s.close()


def test_bad_agent_protocol_calls(cluster):
    url = cluster.master.url + "/corral/v1/agent"
    assert post(url, '{"type":"PONG","agent_id":{"value":"x"}}').status_code == 403
    assert post(url, '{"type":"SUBSCRIBE"}').status_code == 400
    assert post(url, '{"type":"WHAT"}').status_code == 501
    assert post(url, '[1,2]').status_code == 400
