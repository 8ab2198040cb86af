"""Role weights: --weights, UPDATE_WEIGHTS / GET_WEIGHTS / GET_ROLES, durable across restarts."""

import requests

from cluster import Cluster, Master, Scheduler


def test_weights_update_persist_and_roles(workdir):
    c = Cluster(workdir, agents=1, master_extra=["--weights", "dev=2,ops=0.5"])
    try:
        got = c.master.operator({"type": "GET_WEIGHTS"})["get_weights"]["weight_infos"]
        assert {w["role"]: w["weight"] for w in got} == {"dev": 2.0, "ops": 0.5}
        r = requests.post(c.master.url + "/api/v1", timeout=5, json={
            "type": "UPDATE_WEIGHTS",
            "update_weights": {"weight_infos": [{"role": "dev", "weight": 5}]}})
        assert r.status_code == 200, r.text
        r = requests.put(c.master.url + "/weights", timeout=5,
                         json=[{"role": "qa", "weight": 1.5}])
        assert r.status_code == 200, r.text
        for bad in ([{"role": "dev", "weight": -1}], [{"role": "a/b", "weight": 1}],
                    [{"role": "*", "weight": 2}], {"role": "x"}):
            r = requests.put(c.master.url + "/weights", timeout=5, json=bad)
            assert r.status_code == 400, (bad, r.text)
        s = Scheduler(c.master.url, capabilities=["MULTI_ROLE"], roles=["dev"])
        roles = c.master.operator({"type": "GET_ROLES"})["get_roles"]["roles"]
        dev = [x for x in roles if x["name"] == "dev"][0]
        assert dev["weight"] == 5.0
        assert dev["frameworks"] == [{"value": s.framework_id}]
        s.close()

        old = c.master
        assert old.stop() == 0
        # the registry wins over the flag after a restart
        c.master = Master(workdir, port=old.port, raft_port=old.raft_port,
                          extra=["--weights", "dev=9"]).start().wait_ready()
        got = {w["role"]: w["weight"] for w in requests.get(c.master.url + "/weights",
                                                            timeout=5).json()}
        assert got == {"dev": 5.0, "ops": 0.5, "qa": 1.5}
    finally:
        assert not c.close()


def test_bad_weights_flag_refused(workdir):
    m = Master(workdir, extra=["--weights", "dev=zero"]).start()
    m.proc.wait(20)
    assert m.proc.returncode == 2
    assert "--weights" in m.output()
    m.stop()
