"""The tracer's fast paths print exactly what reprlib and the json module would."""

from __future__ import annotations

import io
import json
import math

import pytest

from lambda_widget.runtime import tracer


class Odd:
    def __lt__(self, other):
        raise ValueError("no order")

    def __repr__(self) -> str:
        return "Odd()"


class Broken:
    def __repr__(self) -> str:
        raise RuntimeError("boom")


VALUES = [
    0, -1, 10**39, 10**40, 10**41, 2**70, 3.5, -0.0, math.inf, math.nan, 1e300, True, False, None,
    "", "x", "é ünïcode", "a'b\"c", "line\nbreak", "x" * 38, "x" * 39, "x" * 60, "x" * 61, "x" * 200,
    [], [1], [1, 2, 3], list(range(8)), list(range(9)), [1, [2]], [[[[1]]]], ["x" * 70],
    (), (1,), (1, 2), tuple(range(9)), ("a", None, 2.5),
    {}, {"n": 1000}, {"b": 1, "a": 2}, {2: "x", 1: "y"}, {1: 1, "a": 2}, dict.fromkeys(range(8), 0),
    dict.fromkeys(range(9), 0), {"k": [1, 2]}, {"k": "v" * 70}, {Odd(): 1}, {True: None, 0.5: "f"},
    {1, 2, 3}, frozenset({1}), b"bytes", bytearray(b"x"), range(3), Odd(), object,
]


def reference(value) -> str:
    """safe_repr as it was: reprlib, then the MAX_REPR cut."""
    try:
        text = tracer._repr.repr(value)
    except Exception as exc:  # noqa: BLE001
        text = f"<repr failed: {type(exc).__name__}>"
    return text if len(text) <= tracer.MAX_REPR else text[: tracer.MAX_REPR - 1] + "…"


@pytest.mark.parametrize("value", VALUES, ids=[f"v{i}" for i in range(len(VALUES))])
def test_safe_repr_is_reprlib(value) -> None:
    assert tracer.safe_repr(value) == reference(value)


def test_safe_repr_never_raises() -> None:
    assert tracer.safe_repr(Broken()).startswith("<Broken instance at 0x")  # reprlib catches it
    assert tracer.safe_repr(10**5000) == "<repr failed: ValueError>"  # past int's digit limit


@pytest.mark.parametrize("record", [
    {"t": "step", "n": 3, "line": 7, "fn": "lambda_handler", "pv": {"event": "{'n': 1}", "é": "\"q\"\n"}, "po": "hi\u2028"},
    {"t": "entry", "rid": "r-1", "vars": {}},
    {"t": "truncated", "n": 500, "pv": {}, "po": ""},
    {"t": "x", "flag": True, "none": None, "f": 1.5, "nested": {"a": {"b": "c"}}, "list": [1, "2"]},
    {"t": "surrogate", "pv": {"s": "\ud800"}},
])
def test_dumps_is_json(record: dict) -> None:
    text = tracer._dumps(record)
    assert json.loads(text) == record
    assert json.loads(json.dumps(record, ensure_ascii=False)) == json.loads(text)


def test_files_and_default_reprs_are_short(tmp_path) -> None:
    path = tmp_path / "guestbook.txt"
    with open(path, "a") as handle:
        assert tracer.safe_repr(handle) == "<file guestbook.txt, mode 'a'>"
        assert tracer.safe_repr([handle]).startswith("[<_io.TextIOWrapper"), "inside containers: reprlib's"
    assert tracer.safe_repr(handle) == "<file guestbook.txt, mode 'a', closed>"
    with open(path, "rb") as raw:
        assert tracer.safe_repr(raw) == "<file guestbook.txt, mode 'rb'>"
    assert tracer.safe_repr(io.StringIO("x")) == "<StringIO object>"
    assert tracer.safe_repr(Plain()) == "<Plain object>"
    assert tracer.safe_repr([Plain(), 1]) == "[<Plain object>, 1]"


class Plain:
    pass


def test_globals_used_reads_writes_and_helpers() -> None:
    source = (
        "import os\nLIMIT = 3\ncount = 0\nspare = 1\n"
        "def helper():\n    global made\n    made = [c for c in range(LIMIT)]\n"
        "def lambda_handler(event, context):\n    global count\n    count += 1\n    helper()\n"
        "    return os.getpid(), len\n"
    )
    namespace: dict = {}
    exec(compile(source, "/var/task/m.py", "exec"), namespace)  # noqa: S102 - a test's own module
    assert tracer.globals_used(namespace["lambda_handler"], namespace) == ["count", "LIMIT", "made"]
    assert tracer.globals_used(len, namespace) == []


def test_large_containers_are_cheap_to_show() -> None:
    import collections

    big = {f"k{i}": i for i in reversed(range(100_000))}
    # The first eight inserted, not the eight smallest of a sorted copy of 100,000 keys (per traced line).
    assert tracer.safe_repr(big).startswith("{'k99992': 99992, 'k99993': 99993, ")
    assert tracer.safe_repr(set(range(5000))) == "{0, 1, 2, 3, 4, 5, 6, 7, ...}"
    assert tracer.safe_repr(collections.defaultdict(int, big)) == "<defaultdict of 100,000 items>"
    assert tracer.safe_repr(dict.fromkeys(range(1000), 0)) == reference(dict.fromkeys(range(1000), 0))
