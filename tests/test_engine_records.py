"""Records: every record serialises to JSON, history is ordered, and a seed reproduces request ids."""

from __future__ import annotations

import json
import uuid

from conftest import SEED_SOURCE, SLEEPER_SOURCE

import lambda_widget as lw

MIXED_SOURCE = """import os


def lambda_handler(event, context):
    kind = event['kind']
    if kind == 'raise':
        raise KeyError('missing')
    if kind == 'set':
        return {1}
    if kind == 'bytes':
        return b'raw bytes'
    if kind == 'exit':
        os._exit(2)
    if kind == 'loop':
        while True:
            pass
    return {'nested': [1, 2.5, None, 'text']}
"""


def test_every_record_passes_json_dumps(mgr):
    mgr.register("mixed", MIXED_SOURCE, timeout=1, track=["event['kind']"], idle_timeout=30)
    mgr.register("broken", "import nope\n", idle_timeout=30)
    mgr.register("capped", SLEEPER_SOURCE, reserved_concurrency=0)
    for kind in ("ok", "raise", "set", "bytes", "exit", "loop", "ok"):
        mgr.invoke("mixed", {"kind": kind})
    mgr.invoke("broken", {})
    mgr.invoke("capped", {})
    mgr.invoke("mixed", {"kind": "ok"}, invocation_type="DryRun")
    mgr.advance(30)

    statuses = {inv.status for inv in mgr.history}
    assert statuses == {"succeeded", "failed", "crashed", "timed-out", "throttled", "dry-run"}
    for inv in mgr.history:
        data = json.loads(json.dumps(inv.to_dict()))
        assert data["request_id"] == inv.request_id
        assert data["status"] == inv.status
        assert len(data["steps"]) == len(inv.steps)
        for step in inv.steps:
            json.dumps(step.to_dict())
    for env in mgr.all_containers:
        assert json.loads(json.dumps(env.to_dict()))["id"] == env.id
    for event in mgr.events:
        json.dumps(event.to_dict())
    for fn in mgr.functions.values():
        assert json.loads(json.dumps(fn.to_dict()))["name"] == fn.name
    whole = json.loads(json.dumps(mgr.to_dict()))
    assert len(whole["history"]) == len(mgr.history)
    assert len(whole["containers"]) == len(mgr.all_containers)
    bytes_inv = next(i for i in mgr.history if i.event.get("kind") == "bytes")
    assert bytes_inv.to_dict()["result"] == "raw bytes"


def test_history_is_oldest_first_and_numbered(mgr):
    mgr.register("seed", SEED_SOURCE)
    invs = [mgr.invoke("seed", {"value": n}) for n in range(3)]

    assert mgr.history == invs
    assert [i.number for i in invs] == [1, 2, 3]
    assert [i.result for i in invs] == [0, 2, 4]
    assert len({i.request_id for i in invs}) == 3
    assert all(uuid.UUID(i.request_id).version == 4 for i in invs)
    assert all(i.submitted_at <= i.started_at <= i.ended_at for i in invs)


def _request_ids(seed: int) -> list[str]:
    with lw.ContainerManager(seed=seed) as manager:
        manager.register("seed", SEED_SOURCE)
        manager.register("other", SLEEPER_SOURCE)
        return [manager.invoke(name, {"value": 1}).request_id for name in ("seed", "other", "seed")]


def test_seed_makes_request_ids_reproducible():
    first, second, other = _request_ids(7), _request_ids(7), _request_ids(8)

    assert first == second
    assert len(set(first)) == 3
    assert not set(first) & set(other)
