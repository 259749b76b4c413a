"""The step trace: one step per executed line, printed output per step, the step cap, trace=False."""

from __future__ import annotations

LOOP_SOURCE = """def lambda_handler(event, context):
    total = 0
    for i in range(1000):
        total += i
    return total
"""

PRINTER_SOURCE = """def lambda_handler(event, context):
    for i in range(3):
        print('line', i)
    x = 1
    print('done')
    return x
"""

HELPER_SOURCE = """import json


def double(x):
    y = x * 2
    print('doubled', y)
    return y


def lambda_handler(event, context):
    result = double(event['value'])
    text = json.dumps(result)
    return text
"""


def line_steps(inv) -> list:
    return [s for s in inv.steps if s.line is not None]


def test_step_cap_truncates_the_trace_but_not_the_run(module_mgr):
    module_mgr.register("loop", LOOP_SOURCE, max_steps=50)
    inv = module_mgr.invoke("loop", {})

    assert inv.status == "succeeded"
    assert inv.result == sum(range(1000))
    assert inv.trace_truncated is True
    assert 0 < len(line_steps(inv)) <= 51
    assert inv.steps[-1].kind == "warm"
    assert inv.steps[-2].action == "Return result"


def test_truncation_is_marked_in_the_step_table(module_mgr):
    module_mgr.register("loop-marked", LOOP_SOURCE, max_steps=50)
    inv = module_mgr.invoke("loop-marked", {})

    marked = [s for s in inv.steps
              if "truncated" in f"{s.kind} {s.action} {s.handler_execution} {s.output}".lower()]
    assert marked, [(s.kind, s.action, s.handler_execution) for s in inv.steps[-4:]]


def test_a_short_handler_is_not_truncated(module_mgr):
    module_mgr.register("loop-short", LOOP_SOURCE.replace("1000", "3"), max_steps=50)
    inv = module_mgr.invoke("loop-short", {})

    assert inv.trace_truncated is False
    assert [s.handler_execution for s in line_steps(inv)] == \
        ["total = 0"] + ["for i in range(3):", "total += i"] * 3 + ["for i in range(3):", "return total"]
    assert [s.variables["total"] for s in line_steps(inv)] == \
        ["0", "0", "0", "0", "1", "1", "3", "3", "3"]


def test_printed_output_belongs_to_the_step_that_printed_it(module_mgr):
    module_mgr.register("printer", PRINTER_SOURCE)
    inv = module_mgr.invoke("printer", {})

    pairs = [(s.handler_execution, s.output) for s in line_steps(inv)]
    assert pairs == [
        ("for i in range(3):", ""), ("print('line', i)", "line 0"),
        ("for i in range(3):", ""), ("print('line', i)", "line 1"),
        ("for i in range(3):", ""), ("print('line', i)", "line 2"),
        ("for i in range(3):", ""), ("x = 1", ""), ("print('done')", "done"), ("return x", "1"),
    ]
    assert [s.variables["i"] for s in line_steps(inv)][:3] == ["0", "0", "1"]  # values after each step
    assert inv.steps[1].variables["i"] == "undefined"


def test_functions_the_handler_calls_in_its_module_are_traced(module_mgr):
    module_mgr.register("helper", HELPER_SOURCE, track=["event['value']"])
    inv = module_mgr.invoke("helper", {"value": 21})

    assert inv.result == "42"
    steps = line_steps(inv)
    assert [(s.line, s.handler_execution) for s in steps] == [
        (11, "result = double(event['value'])"), (5, "y = x * 2"), (6, "print('doubled', y)"),
        (7, "return y"), (12, "text = json.dumps(result)"), (13, "return text"),
    ]
    assert steps[2].output == "doubled 42"
    assert steps[0].variables["result"] == "undefined"
    assert steps[-1].variables["result"] == "42"
    assert all(s.variables["event['value']"] == "21" for s in inv.steps)


def test_trace_off_still_runs_and_logs(module_mgr):
    module_mgr.register("untraced", PRINTER_SOURCE, trace=False)
    inv = module_mgr.invoke("untraced", {})

    assert inv.status == "succeeded" and inv.result == 1
    assert inv.traced is False
    assert line_steps(inv) == []
    assert len(inv.steps) <= 5
    assert [s.number for s in inv.steps] == list(range(1, len(inv.steps) + 1))
    assert inv.steps[-1].kind == "warm"
    assert ["line 0", "line 1", "line 2", "done"] == \
        [line for line in inv.logs if line.startswith(("line", "done"))]
    warm = module_mgr.invoke("untraced", {})
    assert warm.cold is False and line_steps(warm) == []


def test_every_step_has_every_variable(module_mgr):
    module_mgr.register("vars", PRINTER_SOURCE, track=["i * 10"])
    inv = module_mgr.invoke("vars", {})

    names = set(inv.variable_names())
    assert {"event", "i", "x", "i * 10", "container_state"} <= names
    assert all(set(s.variables) == names for s in inv.steps)
    assert inv.steps[0].variables["x"] == "undefined"
    assert inv.steps[0].variables["i * 10"] == "undefined"
    assert line_steps(inv)[-1].variables["i * 10"] == "20"


def test_long_values_are_bounded(module_mgr):
    source = "def lambda_handler(event, context):\n    big = 'x' * 100000\n    return len(big)\n"
    module_mgr.register("bounded", source)
    inv = module_mgr.invoke("bounded", {})

    assert inv.result == 100000
    assert 0 < len(line_steps(inv)[-1].variables["big"]) <= 200


GLOBALS_SOURCE = """import tempfile

count = 0
LIMIT = 3
unused = "never read"


class Client:
    pass


client = Client()


def bump():
    global count, made
    count += 1
    made = True


def lambda_handler(event, context):
    bump()
    with open(tempfile.gettempdir() + "/book.txt", "a") as book:
        for i in range(2):
            book.write(str(i))
    if count > LIMIT:
        return client
    return count
"""


def test_the_global_frame_follows_the_globals_the_handler_uses(module_mgr):
    module_mgr.register("globals_frame", GLOBALS_SOURCE)
    cold = module_mgr.invoke("globals_frame", {})
    warm = module_mgr.invoke("globals_frame", {})
    for inv, before, after in ((cold, "0", "1"), (warm, "1", "2")):
        names = list(inv.steps[0].globals)
        assert names == ["count", "LIMIT", "client", "made"], "read or written, also through bump(); not unused"
        values = [s.globals["count"] for s in inv.steps]
        assert values[0] == before and values[-1] == after
        assert all(set(s.globals) == set(names) for s in inv.steps)
    assert cold.steps[0].globals["made"] == "undefined" and cold.steps[-1].globals["made"] == "True"
    assert warm.steps[0].globals["made"] == "True", "a warm invocation starts with what the last one left"
    assert cold.steps[0].globals["client"] == "<Client object>"
    assert "count" not in cold.steps[-1].variables, "globals are not handler locals"


def test_leaving_a_with_block_is_its_own_step(module_mgr):
    module_mgr.register("with_exit", GLOBALS_SOURCE)
    inv = module_mgr.invoke("with_exit", {})
    rows = [(s.action, s.handler_execution) for s in inv.steps if s.kind in ("line", "return")]
    with_line = 'with open(tempfile.gettempdir() + "/book.txt", "a") as book:'
    entered = [i for i, (_a, text) in enumerate(rows) if text == with_line]
    left = [i for i, (action, _t) in enumerate(rows) if action == "Leave the with block"]
    assert len(entered) == 1 and len(left) == 1 and entered[0] < left[0]
    assert rows[left[0]][1] == 'with open(tempfile.gettempdir() + "/book.txt", "a") as book → __exit__()'
    assert rows[left[0] - 1][1] == "for i in range(2):", "the loop ends, then the block"
    book = [s.variables.get("book") for s in inv.steps]
    assert "<file book.txt, mode 'a'>" in book and book[-1] == "<file book.txt, mode 'a', closed>"
