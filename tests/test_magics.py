"""The %%lambda and %lambda magics through IPython's test shell, on the kernel's real manager."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import GATED_SOURCE, wait_for
from conftest import SEED_SOURCE as SEED
from IPython.core.error import UsageError
from IPython.testing import globalipapp
from IPython.utils.capture import capture_output

import lambda_widget as lw
from lambda_widget.api import WaitResult
from lambda_widget.magics import LambdaMagics
from lambda_widget.magics.parsing import split_line
from lambda_widget.magics.source import transform_cell

SLEEPER = """import time


def lambda_handler(event, context):
    time.sleep(event.get('sleep', 0))
    return context.aws_request_id
"""

BUCKET = """from urllib.parse import unquote_plus


def lambda_handler(event, context):
    record = event['Records'][0]['s3']
    return record['bucket']['name'] + '/' + unquote_plus(record['object']['key'])
"""


@pytest.fixture(scope="module")
def ip() -> Iterator[Any]:
    shell = globalipapp.get_ipython()  # looked up now: whichever module starts the shell first replaces it
    shell.run_line_magic("load_ext", "lambda_widget")
    yield shell
    lw.get_manager().shutdown()


@pytest.fixture(autouse=True)
def fresh(ip) -> Iterator[None]:
    """An empty kernel manager and terminal output for every test."""
    lw.get_manager().reset()
    magics(ip).display = "auto"
    yield
    magics(ip).display = "auto"
    lw.get_manager().reset()


@pytest.fixture
def shown(ip, monkeypatch) -> list[Any]:
    """Widget mode: the objects the magics display, in order."""
    objects: list[Any] = []
    monkeypatch.setattr("lambda_widget.magics.output.display", lambda obj, **kw: objects.append(obj))
    magics(ip).display = "widget"
    return objects


def magics(ip) -> LambdaMagics:
    return ip.magics_manager.registry["LambdaMagics"]


def usage(call, *args) -> str:
    with pytest.raises(UsageError) as info:
        call(*args)
    return str(info.value)


# ---------------------------------------------------------------------- the extension
def test_loading_twice_is_harmless(ip) -> None:
    first = magics(ip)
    ip.run_line_magic("load_ext", "lambda_widget")
    lw.load_ipython_extension(ip)
    assert magics(ip) is first
    assert ip.find_line_magic("lambda").__self__ is first
    assert ip.find_cell_magic("lambda").__self__ is first


def test_unload_and_load_again(ip) -> None:
    ip.run_line_magic("unload_ext", "lambda_widget")
    try:
        assert ip.find_line_magic("lambda") is None and ip.find_cell_magic("lambda") is None
        assert "LambdaMagics" not in ip.magics_manager.registry
    finally:
        ip.run_line_magic("load_ext", "lambda_widget")
    assert ip.find_line_magic("lambda") is not None


def test_reload_ext(ip) -> None:
    ip.run_line_magic("reload_ext", "lambda_widget")
    assert isinstance(ip.find_line_magic("lambda").__self__, LambdaMagics)
    ip.run_cell_magic("lambda", "double --invoke '{\"value\": 1}'", SEED)
    assert lw.get_manager().history[-1].result == 2


def test_extension_loads_from_config(tmp_path) -> None:
    env = dict(os.environ, IPYTHONDIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-m", "IPython", "--no-banner", "--HistoryManager.enabled=False",
         "--InteractiveShellApp.extensions=['lambda_widget']", "-c", "%lambda help wait"],
        capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "%lambda wait SECONDS" in done.stdout


def test_help_comes_from_docstrings(ip) -> None:
    with capture_output() as cell_help:
        ip.run_cell("%%lambda?")
    assert "%%lambda [--handler HANDLER]" in cell_help.stdout
    assert "--idle-timeout SECONDS" in cell_help.stdout and "Register the cell" in cell_help.stdout
    with capture_output() as line_help:
        ip.run_cell("%lambda?")
    for sub in ("invoke", "burst", "wait", "containers", "history", "reset", "quiz", "help"):
        assert f"%lambda {sub}" in line_help.stdout


def test_help_subcommand_and_dash_h(ip, capsys) -> None:
    ip.run_line_magic("lambda", "help burst")
    assert "%lambda burst [--sample SAMPLE] [--live] NAME N [EVENT ...]" in capsys.readouterr().out
    ip.run_line_magic("lambda", "invoke --help")
    assert "%lambda invoke" in capsys.readouterr().out
    ip.run_line_magic("lambda", "")
    assert "Subcommands" in capsys.readouterr().out


# ---------------------------------------------------------------------- reading the line
def test_split_line_keeps_brackets_and_strips_whole_quotes() -> None:
    assert split_line('invoke f {"value": 5, "s": "a b"}') == ["invoke", "f", '{"value": 5, "s": "a b"}']
    assert split_line("--track event['value'] --track \"event['x'] * 2\"") == \
        ["--track", "event['value']", "--track", "event['x'] * 2"]
    assert split_line("f '{\"value\": 5}'  make(1, [2, 3])") == ["f", '{"value": 5}', "make(1, [2, 3])"]
    assert split_line('f {"a": "}"} x') == ["f", '{"a": "}"}', "x"]
    assert split_line("  ") == []


# ---------------------------------------------------------------------- %%lambda
def test_cell_registers_and_invokes_the_seed(ip, capsys) -> None:
    ip.run_cell_magic("lambda", "double --invoke '{\"value\": 5}' --track \"event['value']\"", SEED)
    out = capsys.readouterr().out
    mgr = lw.get_manager()
    fn = mgr.function("double")
    assert fn.version == "$LATEST" and fn.track == ("event['value']",)
    (inv,) = mgr.history
    assert inv.result == 10 and inv.cold is True and inv.event == {"value": 5}
    assert [s.action for s in inv.steps[:2]] == ["Event triggers Lambda", "Create new container (init)"]
    assert "Function double $LATEST" in out and "Create new container (init)" in out
    assert "result = event['value'] * 2" in out


def test_running_the_cell_again_updates_latest(ip) -> None:
    ip.run_cell_magic("lambda", "double --invoke {\"value\":1}", SEED)
    ip.run_cell_magic("lambda", "double", SEED.replace("* 2", "* 3"))
    mgr = lw.get_manager()
    assert (mgr.function("double").version, mgr.function("double").revision) == ("$LATEST", 2)
    assert [f.version for f in mgr.versions("double")] == ["$LATEST"]
    ip.run_line_magic("lambda", 'invoke double {"value": 5}')
    assert mgr.history[-1].result == 15 and mgr.history[-1].version == "$LATEST"
    assert mgr.history[-1].cold_reason == "function-updated"


def test_publish_alias_and_qualified_invokes(ip, capsys) -> None:
    ip.run_cell_magic("lambda", "double", SEED)
    ip.run_line_magic("lambda", "publish double --description first")
    ip.run_cell_magic("lambda", "double", SEED.replace("* 2", "* 3"))
    ip.run_line_magic("lambda", "publish double")
    mgr = lw.get_manager()
    assert [(f.version, f.description) for f in mgr.versions("double")] == [
        ("$LATEST", ""), ("1", "first"), ("2", "")]
    ip.run_line_magic("lambda", "alias double live 1 --weight 2=0.25 --description canary")
    alias = mgr.get_alias("double", "live")
    assert (alias.function_version, alias.routing, alias.description) == ("1", {"2": 0.25}, "canary")
    out = capsys.readouterr().out
    assert "Function double v1: first" in out and "Versions and aliases:" in out
    assert "double v1: 0 environments; aliases: live 75 %" in out
    ip.run_line_magic("lambda", 'invoke double:1 {"value": 5}')
    assert (mgr.history[-1].result, mgr.history[-1].version) == (10, "1")
    ip.run_line_magic("lambda", 'invoke double {"value": 5} --qualifier 2')
    assert (mgr.history[-1].result, mgr.history[-1].version) == (15, "2")
    ip.run_line_magic("lambda", 'invoke double:live {"value": 5}')
    assert mgr.history[-1].version in ("1", "2") and mgr.history[-1].qualifier == "live"
    assert "via alias live" in capsys.readouterr().out
    assert "Function version 2 is already included in routing configuration" in usage(
        ip.run_line_magic, "lambda", "alias double live 2")  # as UpdateAlias: the weights stay unless given
    ip.run_line_magic("lambda", "alias double live 2 --weight 1=0.5")
    assert (mgr.get_alias("double", "live").function_version, mgr.get_alias("double", "live").routing) == (
        "2", {"1": 0.5})
    message = usage(ip.run_line_magic, "lambda", "invoke double:9 {}")
    assert "Function not found: arn:aws:lambda:us-east-1:123456789012:function:double:9" in message
    assert "(versions: $LATEST, 1, 2; aliases: live)" in message
    assert "does not exist yet: give the version" in usage(ip.run_line_magic, "lambda", "alias double beta")
    assert "--weight expects VERSION=WEIGHT" in usage(ip.run_line_magic, "lambda", "alias double beta 1 --weight 2")
    assert "Number of items in AdditionalVersionWeights" in usage(
        ip.run_line_magic, "lambda", "alias double beta 1 --weight 2=0.1 --weight 3=0.1")
    ip.run_line_magic("lambda", "alias double live --delete")
    assert mgr.aliases("double") == []
    assert "Cannot find alias arn" in usage(ip.run_line_magic, "lambda", "alias double live --delete")


def test_cell_options_configure_the_function(ip) -> None:
    source = "def main(event, context):\n    import os\n    return os.environ['TABLE']\n"
    ip.run_cell_magic("lambda", "cfg --handler app.main --timeout 5 --memory 256 --idle-timeout 60 "
                                "--track event --track \"len(event)\" --env TABLE=orders --env MODE=a=b "
                                "--reserved 2 --provisioned 1 --no-trace --invoke {}", source)
    fn = lw.get_manager().function("cfg")
    assert (fn.handler, fn.timeout, fn.memory_mb, fn.idle_timeout) == ("app.main", 5.0, 256, 60.0)
    assert fn.track == ("event", "len(event)") and fn.env == {"TABLE": "orders", "MODE": "a=b"}
    assert (fn.reserved_concurrency, fn.provisioned_concurrency, fn.trace) == (2, 1, False)
    inv = lw.get_manager().history[-1]
    assert inv.result == "orders" and inv.traced is False
    assert any(e.provisioned for e in lw.get_manager().containers)


def test_no_cpu_scaling_option(ip) -> None:
    ip.run_cell_magic("lambda", "scaled --memory 256", SEED)
    ip.run_cell_magic("lambda", "unscaled --memory 256 --no-cpu-scaling", SEED)
    mgr = lw.get_manager()
    assert mgr.function("scaled").cpu_scaling is True
    assert mgr.function("scaled").to_dict()["cpu_share"] == round(256 / 1769, 4)
    assert (mgr.function("unscaled").cpu_scaling, mgr.function("unscaled").cpu_mode) == (False, "off")


def test_awslambdaric_runtime_option(ip) -> None:
    ip.run_cell_magic("lambda", 'ric --runtime awslambdaric --invoke {"value": 2}', SEED)
    fn = lw.get_manager().function("ric")
    assert fn.runtime == "awslambdaric" and lw.get_manager().history[-1].result == 4


def test_ipython_syntax_is_transformed_and_lines_are_kept(ip, capsys) -> None:
    cell = ("\n"
            "\n"
            "def lambda_handler(event, context):\n"
            "    if event.get('magic'):\n"
            "        %time x = 1\n"
            "    return 1 / 0\n")
    ip.run_cell_magic("lambda", "boom --invoke {}", cell)
    err = capsys.readouterr().err
    fn = lw.get_manager().function("boom")
    assert fn.source.splitlines()[4] == "        get_ipython().run_line_magic('time', 'x = 1')"
    assert fn.source.splitlines()[5] == "    return 1 / 0"
    assert "line 5: '%time x = 1' is IPython syntax" in err
    inv = lw.get_manager().history[-1]
    assert inv.error["errorType"] == "ZeroDivisionError"
    assert "line 6, in lambda_handler" in "".join(inv.error["stackTrace"])  # the cell's own line 6


def test_transform_keeps_line_numbers_of_continued_magics(ip) -> None:
    cell = "import os\n!ls \\\n   -la\nx = 1\n"
    source = transform_cell(ip.input_transformer_manager, cell)
    assert source.splitlines()[1].startswith("get_ipython().system(")
    assert source.splitlines()[3] == "x = 1" and len(source.splitlines()) == 4


def test_syntax_error_is_reported_at_init_like_lambda(ip, capsys) -> None:
    ip.run_cell_magic("lambda", "broken --invoke {}", "def lambda_handler(event, context:\n    return 1\n")
    err = capsys.readouterr().err
    assert "SyntaxError" in err and "Runtime.UserCodeSyntaxError" in err
    assert lw.get_manager().function("broken").version == "$LATEST"  # registered all the same
    inv = lw.get_manager().history[-1]
    assert inv.status == "failed" and inv.error["errorType"] == "Runtime.UserCodeSyntaxError"


def test_missing_handler_warns(ip, capsys) -> None:
    ip.run_cell_magic("lambda", "nohandler", "def main(event, context):\n    return 1\n")
    assert "no top-level 'lambda_handler'" in capsys.readouterr().err


# ---------------------------------------------------------------------- %lambda invoke
def test_invoke_with_json_python_and_default_events(ip) -> None:
    ip.run_cell_magic("lambda", "echo", "def lambda_handler(event, context):\n    return event\n")
    ip.user_ns["ev"] = {"from": "namespace"}
    ip.run_line_magic("lambda", 'invoke echo {"a": [1, 2]}')
    ip.run_line_magic("lambda", "invoke echo ev")
    ip.run_line_magic("lambda", "invoke echo {'py': True,}")
    ip.run_line_magic("lambda", "invoke echo")
    ip.run_line_magic("lambda", "invoke echo '\"text\"'")
    results = [inv.result for inv in lw.get_manager().history]
    assert results == [{"a": [1, 2]}, {"from": "namespace"}, {"py": True}, {}, "text"]


def test_invoke_and_burst_with_a_sample_event(ip) -> None:
    ip.run_cell_magic("lambda", "bucket", BUCKET)
    ip.run_line_magic("lambda", "invoke bucket --sample s3-put")
    ip.user_ns["lw"] = lw
    ip.run_line_magic("lambda", "invoke bucket lw.events.s3_put(bucket='pics', key='a b.png')")
    ip.run_line_magic("lambda", "burst bucket 2 --sample s3-put")
    results = [inv.result for inv in lw.get_manager().history]
    assert results == ["amzn-s3-demo-bucket/uploads/photo.jpg", "pics/a b.png"] + \
        ["amzn-s3-demo-bucket/uploads/photo.jpg"] * 2


def test_terminal_output_is_the_text_rendering(ip, capsys) -> None:
    ip.run_cell_magic("lambda", "double", SEED)
    capsys.readouterr()
    ip.run_line_magic("lambda", 'invoke double {"value": 4}')
    out = capsys.readouterr().out
    assert "Result: 8" in out and "| Step |" in out and "REPORT RequestId:" in out


def test_invoke_never_hangs_on_a_slow_handler(ip) -> None:
    ip.run_cell_magic("lambda", "slow --timeout 1", SLEEPER)
    ip.run_line_magic("lambda", 'invoke slow {"sleep": 30}')
    inv = lw.get_manager().history[-1]
    assert inv.status == "timed-out" and inv.error["errorType"] == "Sandbox.Timedout"


def test_ctrl_c_cancels_the_invocation(ip) -> None:
    ip.run_cell_magic("lambda", "slow --timeout 60", SLEEPER)
    ip.run_line_magic("lambda", "invoke slow")  # warm it up, so the interrupt lands mid-handler
    # A real SIGINT at the main thread, as a kernel interrupt sends (interrupt_main only sets a flag).
    timer = threading.Timer(1.0, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            ip.run_line_magic("lambda", 'invoke slow {"sleep": 30}')
    finally:
        timer.cancel()
    inv = lw.get_manager().history[-1]
    assert wait_for(lambda: inv.done)
    assert inv.status == "cancelled"


# ---------------------------------------------------------------------- usage errors: clear, and nothing changes
def test_wrong_option_shows_the_usage_line(ip) -> None:
    message = usage(ip.run_cell_magic, "lambda", "double --memroy 256", SEED)
    assert "unrecognized arguments: --memroy 256" in message
    assert "usage: %%lambda [--handler HANDLER]" in message
    message = usage(ip.run_cell_magic, "lambda", "double --timeout soon", SEED)
    assert "invalid float value: 'soon'" in message and "usage: %%lambda" in message
    assert "--env expects KEY=VALUE" in usage(ip.run_cell_magic, "lambda", "double --env NOVALUE", SEED)
    assert "invalid choice: 'node'" in usage(ip.run_cell_magic, "lambda", "double --runtime node", SEED)
    assert lw.get_manager().functions == {}


def test_engine_rejections_become_usage_errors(ip) -> None:
    message = usage(ip.run_cell_magic, "lambda", "double --timeout 901", SEED)
    assert "Invalid timeout" in message and "usage: %%lambda" in message
    assert "reserved keys" in usage(ip.run_cell_magic, "lambda", "double --env AWS_REGION=x", SEED)
    assert "Invalid function name" in usage(ip.run_cell_magic, "lambda", "'bad name'", SEED)
    assert lw.get_manager().functions == {}


def test_unknown_function_lists_the_registered_names(ip) -> None:
    assert "none registered yet" in usage(ip.run_line_magic, "lambda", "invoke nope {}")
    ip.run_cell_magic("lambda", "double", SEED)
    ip.run_cell_magic("lambda", "triple", SEED)
    message = usage(ip.run_line_magic, "lambda", "invoke dobule {}")
    assert "no function named 'dobule' (registered: double, triple)" in message
    assert "usage: %lambda invoke" in message
    assert "registered: double, triple" in usage(ip.run_line_magic, "lambda", "burst nope 2 {}")
    assert lw.get_manager().history == []


def test_invalid_json_says_where_it_broke(ip) -> None:
    ip.run_cell_magic("lambda", "double", SEED)
    message = usage(ip.run_line_magic, "lambda", 'invoke double {"value": 5 "x": 1}')
    assert "EVENT is not valid JSON: Expecting ',' delimiter (line 1, column 13)" in message
    assert '  {"value": 5 "x": 1}\n' + " " * 14 + "^" in message
    message = usage(ip.run_line_magic, "lambda", "invoke double evnt")
    assert "(line 1, column 1)" in message and "NameError: name 'evnt' is not defined" in message
    message = usage(ip.run_cell_magic, "lambda", "double --invoke {value: 5}", SEED)
    assert "Expecting property name enclosed in double quotes (line 1, column 2)" in message
    assert lw.get_manager().history == [] and lw.get_manager().function("double").revision == 1


def test_event_that_is_not_json_serialisable(ip) -> None:
    ip.run_cell_magic("lambda", "double", SEED)
    assert "Could not parse request body into json" in usage(ip.run_line_magic, "lambda",
                                                             "invoke double object()")
    assert "Could not parse request body" in usage(ip.run_cell_magic, "lambda", "double --invoke {1, 2}", SEED)
    assert lw.get_manager().history == [] and lw.get_manager().function("double").revision == 1


def test_unknown_subcommand_lists_the_subcommands(ip) -> None:
    message = usage(ip.run_line_magic, "lambda", "invok double")
    assert "unknown subcommand 'invok'. Did you mean 'invoke'?" in message
    assert "invoke, burst, publish, alias, wait, containers, history, reset, quiz, traffic, help" in message
    assert "no subcommand 'nope'" in usage(ip.run_line_magic, "lambda", "help nope")


def test_bad_subcommand_arguments(ip) -> None:
    ip.run_cell_magic("lambda", "double", SEED)
    assert "required: NAME" in usage(ip.run_line_magic, "lambda", "invoke")
    assert "invalid int value: 'many'" in usage(ip.run_line_magic, "lambda", "burst double many {}")
    assert "from 1 to 1000" in usage(ip.run_line_magic, "lambda", "burst double 0 {}")
    assert "invalid float value: 'x'" in usage(ip.run_line_magic, "lambda", "wait x")
    assert ">= 0" in usage(ip.run_line_magic, "lambda", "wait -5")
    assert "not both" in usage(ip.run_line_magic, "lambda", "invoke double {} --sample sqs")
    assert "no sample event 's3-get'" in usage(ip.run_line_magic, "lambda", "invoke double --sample s3-get")
    assert "unrecognized arguments: extra" in usage(ip.run_line_magic, "lambda", "containers extra")
    assert lw.get_manager().history == []


# ---------------------------------------------------------------------- burst, wait, containers, history, reset
def test_burst_scales_the_pool_out(ip, capsys, gate) -> None:
    ip.run_cell_magic("lambda", "slow", GATED_SOURCE)
    capsys.readouterr()
    together = gate(3)  # each waits until all three run: they overlap for certain
    ip.run_line_magic("lambda", f'burst slow 3 {{"gate": {together.port}}}')
    out = capsys.readouterr().out
    mgr = lw.get_manager()
    assert len(mgr.history) == 3 and all(inv.status == "succeeded" for inv in mgr.history)
    assert len({inv.container_id for inv in mgr.history}) == 3  # all busy at once: three environments
    assert "Burst: 3 of 3 done" in out and "Pool: 3 live environments" in out


def test_wait_reaps_idle_environments(ip, capsys) -> None:
    ip.run_cell_magic("lambda", "double --idle-timeout 60 --invoke '{\"value\": 1}'", SEED)
    capsys.readouterr()
    ip.run_line_magic("lambda", "wait 10")
    out = capsys.readouterr().out
    assert "No environment was reaped." in out and "env-" in out and "stays: idle" in out
    assert len(lw.get_manager().containers) == 1
    ip.run_line_magic("lambda", "wait 60")
    out = capsys.readouterr().out
    assert "Reaped 1 environment:" in out and "-> terminated" in out
    assert lw.get_manager().containers == []
    assert lw.get_manager().history[-1].steps[-1].action == "No new event arrives"


def test_containers_history_and_reset(ip, capsys) -> None:
    ip.run_cell_magic("lambda", "double --invoke '{\"value\": 1}'", SEED)
    capsys.readouterr()
    ip.run_line_magic("lambda", "containers")
    assert "Pool: 1 live environment" in capsys.readouterr().out
    ip.run_line_magic("lambda", "history")
    assert "cold (first invocation)" in capsys.readouterr().out
    ip.run_line_magic("lambda", "reset")
    assert "Reset: terminated 1 environment; forgot 1 function and 1 invocation." in capsys.readouterr().out
    mgr = lw.get_manager()
    assert mgr.functions == {} and mgr.history == [] and mgr.containers == []


# ---------------------------------------------------------------------- widgets
def test_display_mode_follows_the_kernel(ip, monkeypatch) -> None:
    assert magics(ip)._output().widgets is False  # the test shell is a terminal shell
    monkeypatch.setattr(ip, "kernel", object(), raising=False)
    assert magics(ip)._output().widgets is True
    ip.run_line_magic("config", "LambdaMagics.display = 'text'")
    assert magics(ip)._output().widgets is False


def test_widget_mode_shows_card_and_invocation(ip, shown) -> None:
    from lambda_widget.views import FunctionCard, InvocationView

    ip.run_cell_magic("lambda", "double --invoke '{\"value\": 5}'", SEED)
    card, view = shown
    assert isinstance(card, FunctionCard) and card.version == "$LATEST" and card.function.name == "double"
    assert isinstance(view, InvocationView) and view.result == 10 and view.invocation.cold is True


def test_widget_output_is_updated_with_the_outcome(ip) -> None:
    """Shown while queued, then the same display is replaced: saved notebooks show the result.

    Replaced through a bundle without the widget, so the front end renders the widget afresh
    instead of adding a second view of it to the output (two views of one Play stop it).
    """
    magics(ip).display = "widget"
    ip.run_cell_magic("lambda", "double", SEED)
    with capture_output() as captured:
        ip.run_line_magic("lambda", 'invoke double {"value": 2}')
    first, static, final = captured.outputs
    assert first.update is False and static.update is True and final.update is True
    assert first.transient["display_id"] == static.transient["display_id"] == final.transient["display_id"]
    widget = "application/vnd.jupyter.widget-view+json"
    assert widget not in static.data and "Result: 4" in static.data["text/plain"]
    assert first.data[widget]["model_id"] == final.data[widget]["model_id"]
    assert "Result: 4" in final.data["text/plain"] and "lw-invocation" in final.data["text/html"]


def test_widget_burst_is_shown_before_it_finishes(ip, monkeypatch, gate) -> None:
    from lambda_widget.views import BurstView

    ip.run_cell_magic("lambda", "slow", GATED_SOURCE)
    shown: list[Any] = []
    done_when_shown: list[bool] = []
    held = gate()  # the invocations wait there until the view is shown

    def record(obj: Any, **kwargs: Any) -> None:
        shown.append(obj)
        done_when_shown.extend(inv.done for inv in obj)
        held.open()

    monkeypatch.setattr("lambda_widget.magics.output.display", record)
    magics(ip).display = "widget"
    ip.run_line_magic("lambda", f'burst slow 3 {{"gate": {held.port}}}')
    (burst,) = shown
    assert isinstance(burst, BurstView) and len(burst) == 3
    assert done_when_shown == [False, False, False]  # on screen while the invocations still ran
    assert all(inv.done for inv in burst)


def test_widget_mode_pool_history_and_wait(ip, shown) -> None:
    from lambda_widget.views import HistoryView, PoolView

    ip.run_cell_magic("lambda", "double --invoke '{\"value\": 1}'", SEED)
    ip.run_line_magic("lambda", "containers")
    ip.run_line_magic("lambda", "history")
    ip.run_line_magic("lambda", "wait 601")
    pool, hist, waited = shown[2:]
    assert isinstance(pool, PoolView) and isinstance(hist, HistoryView)
    assert isinstance(waited, WaitResult) and len(waited) == 1
    assert 'class="lw-wait"' in waited._repr_html_()




def test_quiz_on_the_last_invocation(ip, capsys) -> None:
    assert "No invocation to quiz on yet" in usage(ip.run_line_magic, "lambda", "quiz")
    ip.run_cell_magic("lambda", "double --invoke '{\"value\": 5}'", SEED)
    capsys.readouterr()
    ip.run_line_magic("lambda", "quiz")
    out = capsys.readouterr().out
    quiz = lw.quiz()
    assert out.startswith(quiz.title) and "1. " in out and "   A. " in out
    key = ", ".join(f"{n} {'ABCD'[q.answer]}" for n, q in enumerate(quiz, start=1))
    assert out.rstrip().endswith(f"Answers: {key}")
    assert "invalid int value" in usage(ip.run_line_magic, "lambda", "quiz --seed x")


def test_widget_quiz(ip, shown) -> None:
    ip.run_cell_magic("lambda", "double --invoke '{\"value\": 5}'", SEED)
    ip.run_line_magic("lambda", "quiz --seed 3")
    view = shown[-1]
    assert type(view).__name__ == "QuizView"
    quiz = view.quiz
    assert type(quiz).__name__ == "Quiz" and len(quiz) >= 1
    assert quiz.to_dict() == lw.quiz(seed=3).to_dict()
