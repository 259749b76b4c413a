"""The Python API (``lw.register``, ``lw.invoke``...): same behaviour as the magics, views that fall through."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import GATED_SOURCE, wait_for
from conftest import SEED_SOURCE as SEED

import lambda_widget as lw
from lambda_widget.api import WaitResult
from lambda_widget.views import BurstView, FunctionCard, HistoryView, InvocationView, PoolView

ECHO = "def lambda_handler(event, context):\n    return event\n"


@pytest.fixture(scope="module", autouse=True)
def kernel_manager() -> Iterator[None]:
    yield
    lw.get_manager().shutdown()


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    lw.get_manager().reset()
    yield
    lw.get_manager().reset()


def test_lazy_exports() -> None:
    from lambda_widget import api

    for name in ("register", "invoke", "burst", "wait", "containers", "history", "reset", "quiz"):
        assert getattr(lw, name) is getattr(api, name)


def test_register_returns_a_function_card_that_falls_through() -> None:
    card = lw.register("double", SEED, timeout=5, track=["event['value']"])
    assert isinstance(card, FunctionCard)
    assert card.function is lw.get_manager().function("double")
    assert (card.name, card.version, card.timeout, card.track) == ("double", "$LATEST", 5.0, ("event['value']",))
    again = lw.register("double", SEED)
    assert (again.version, again.revision, card.revision) == ("$LATEST", 2, 1)
    assert "version" in dir(card) and "function" in dir(card)
    with pytest.raises(AttributeError, match="has an attribute 'nonsense'"):
        card.nonsense  # noqa: B018


def test_register_rejects_bad_config_without_changing_anything() -> None:
    with pytest.raises(lw.InvalidParameterValueException, match="timeout"):
        lw.register("double", SEED, timeout=0)
    assert lw.get_manager().functions == {}


def test_invoke_returns_the_invocation_view() -> None:
    lw.register("double", SEED, track=["event['value']"])
    view = lw.invoke("double", {"value": 5})
    assert isinstance(view, InvocationView)
    assert view.invocation is lw.get_manager().history[-1]
    assert (view.result, view.status, view.cold, view.cold_reason) == (10, "succeeded", True, "first-invocation")
    assert [s.action for s in view.steps][:2] == ["Event triggers Lambda", "Create new container (init)"]
    assert view.steps[3].variables["result"] == "10"
    bundle = view._repr_mimebundle_()
    assert "Result: 10" in bundle["text/plain"] and "lw-invocation" in bundle["text/html"]
    warm = lw.invoke("double", {"value": 6})
    assert warm.cold is False and warm.result == 12 and warm.container_id == view.container_id


def test_invoke_events_default_none_and_samples() -> None:
    lw.register("echo", ECHO)
    assert lw.invoke("echo").result == {}
    assert lw.invoke("echo", None).result is None
    sqs = lw.invoke("echo", sample="sqs").result
    assert sqs == lw.events.sqs() and sqs["Records"][0]["eventSource"] == "aws:sqs"
    with pytest.raises(ValueError, match="not both"):
        lw.invoke("echo", {}, sample="sqs")
    with pytest.raises(ValueError, match="choose one of: apigw-rest"):
        lw.invoke("echo", sample="kinesis")
    assert len(lw.get_manager().history) == 3


def test_invoke_unknown_function_names_the_registered_ones() -> None:
    lw.register("echo", ECHO)
    with pytest.raises(lw.ResourceNotFoundException, match=r"registered: echo"):
        lw.invoke("ehco", {})
    assert lw.get_manager().history == []


def test_invoke_failure_is_a_record_not_an_exception() -> None:
    lw.register("boom", "def lambda_handler(event, context):\n    return 1 / 0\n")
    view = lw.invoke("boom")
    assert view.status == "failed" and view.error["errorType"] == "ZeroDivisionError"


def test_burst_scales_out_and_iterates_as_invocations(gate) -> None:
    lw.register("slow", GATED_SOURCE)
    together = gate(3)  # each waits until all three run: they overlap for certain
    view = lw.burst("slow", 3, {"gate": together.port})
    assert isinstance(view, BurstView) and len(view) == 3
    assert all(inv.status == "succeeded" for inv in view)
    assert len({inv.container_id for inv in view}) == 3
    assert view[0] is lw.get_manager().history[0]
    assert "Burst: 3 of 3 done" in view._repr_mimebundle_()["text/plain"]


def test_burst_without_waiting_fills_in_later(gate) -> None:
    lw.register("slow", GATED_SOURCE)
    held = gate()  # nothing ends before the test opens it
    view = lw.burst("slow", 2, {"gate": held.port}, wait=False)
    assert not any(inv.done for inv in view)
    held.open()
    assert wait_for(lambda: all(inv.done for inv in view))
    assert wait_for(lambda: view.flush() or view.progress.value == 2)


def test_burst_rejects_bad_input_before_queueing() -> None:
    lw.register("echo", ECHO)
    for n in (0, -1, 1001, 2.5, True):
        with pytest.raises(ValueError, match="from 1 to 1000"):
            lw.burst("echo", n)
    with pytest.raises(lw.ResourceNotFoundException):
        lw.burst("nope", 2)
    with pytest.raises(ValueError, match="not both"):
        lw.burst("echo", 2, {}, sample="sns")
    assert lw.get_manager().history == []


def test_wait_reaps_and_reports() -> None:
    lw.register("echo", ECHO, idle_timeout=60)
    inv = lw.invoke("echo")
    nothing = lw.wait(5)
    assert isinstance(nothing, WaitResult) and len(nothing) == 0
    assert "No environment was reaped." in str(nothing) and f"{inv.container_id} (echo $LATEST) stays: idle" in str(nothing)
    reaped = lw.wait(60)
    assert [env.id for env in reaped] == [inv.container_id] and reaped.reaped[0].state == "terminated"
    assert "Reaped 1 environment:" in str(reaped) and "idle timeout 60 s -> terminated" in str(reaped)
    assert inv.steps[-1].action == "No new event arrives"
    assert lw.get_manager().containers == []
    with pytest.raises(ValueError, match=">= 0"):
        lw.wait(-1)


def test_containers_history_reset() -> None:
    lw.register("echo", ECHO)
    lw.invoke("echo")
    pool = lw.containers()
    assert isinstance(pool, PoolView) and [e.id for e in pool] == [e.id for e in lw.get_manager().containers]
    assert pool.containers == lw.get_manager().containers
    hist = lw.history()
    assert isinstance(hist, HistoryView) and len(hist) == 1 and hist.invocations[0].result == {}
    lw.invoke("echo")
    assert len(hist) == 2  # the history view is live
    assert lw.reset() is None
    assert lw.get_manager().functions == {} and len(pool) == 0 and len(hist) == 0
