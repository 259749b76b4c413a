"""Notifications: observers see every state change of a warm invoke, and a record's
``revision`` counts the same changes whether anybody observes it or not."""

from __future__ import annotations

from conftest import SEED_SOURCE

import lambda_widget as lw


def _warm_pair(mgr: lw.ContainerManager) -> tuple[lw.Invocation, lw.Invocation]:
    mgr.register("double", SEED_SOURCE, trace=False)
    return mgr.invoke("double", {"value": 1}), mgr.invoke("double", {"value": 2})


def test_observers_see_each_change_of_a_warm_invoke(mgr):
    mgr.register("double", SEED_SOURCE, trace=False)
    mgr.invoke("double", {"value": 1})
    env = mgr.containers[0]
    seen: list[tuple] = []
    env.observe(lambda c: seen.append(("env", c.name, c.new)), names=["state", "revision"])
    mgr.observe(lambda c: seen.append(("mgr", c.name, c.new)), names="revision")
    env_rev, mgr_rev = env.revision, mgr.revision

    hooked: list[int] = []

    def watch(change) -> None:  # the new invocation is in history once the manager says so
        inv = mgr.history[-1]
        if inv.number == 2 and not hooked:
            hooked.append(inv.number)
            inv.observe(lambda c: seen.append(("inv", c.name, c.new, inv.to_dict()["status"])),
                        names=["status", "revision"])

    mgr.observe(watch, names="revision")
    inv = mgr.invoke("double", {"value": 2})

    assert inv.status == "succeeded" and inv.cold is False
    statuses = [s[2] for s in seen if s[:2] == ("inv", "status")]
    assert statuses == ["running", "succeeded"]
    assert [s[2] for s in seen if s[:2] == ("env", "state")] == ["busy", "idle"]
    env_revs = [s[2] for s in seen if s[:2] == ("env", "revision")]
    mgr_revs = [s[2] for s in seen if s[:2] == ("mgr", "revision")]
    inv_revs = [s[2] for s in seen if s[:2] == ("inv", "revision")]
    # Every bump is seen, one at a time, continuing from the value before observation.
    assert env_revs == list(range(env_rev + 1, env.revision + 1)) and env_revs
    assert mgr_revs == list(range(mgr_rev + 1, mgr.revision + 1)) and mgr_revs
    assert inv_revs == list(range(inv_revs[0], inv.revision + 1)) and len(inv_revs) >= 2
    # The record is complete when its last notification fires.
    assert seen.index(("env", "state", "idle")) > seen.index(("env", "state", "busy"))
    assert [s for s in seen if s[0] == "inv"][-1][3] == "succeeded"


def test_revision_counts_the_same_changes_observed_or_not():
    with lw.ContainerManager(seed=3) as quiet, lw.ContainerManager(seed=3) as watched:
        counts: list[int] = []
        watched.observe(lambda c: counts.append(c.new), names="revision")
        a = _warm_pair(quiet)
        watched.register("double", SEED_SOURCE, trace=False)
        first = watched.invoke("double", {"value": 1})
        first.observe(lambda c: None, names="revision")
        b = (first, watched.invoke("double", {"value": 2}))
        assert [i.revision for i in a] == [i.revision for i in b]
        assert quiet.revision == watched.revision == counts[-1]
        assert quiet.containers[0].revision == watched.containers[0].revision
