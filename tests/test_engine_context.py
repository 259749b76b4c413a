"""The context object, the process environment, the per-environment /tmp and the task root."""

from __future__ import annotations

import os
import re
import secrets
import stat
import tempfile

import pytest
from conftest import env_of, wait_for

import lambda_widget as lw

CONTEXT_SOURCE = """def lambda_handler(event, context):
    remaining = context.get_remaining_time_in_millis()
    return {
        'memory': context.memory_limit_in_mb,
        'remaining': remaining,
        'remaining_type': type(remaining).__name__,
        'arn': context.invoked_function_arn,
        'log_group': context.log_group_name,
        'log_stream': context.log_stream_name,
        'function_name': context.function_name,
        'function_version': context.function_version,
        'request_id': context.aws_request_id,
    }
"""

ENVIRON_SOURCE = """import os


def lambda_handler(event, context):
    return {
        'environ': dict(os.environ),
        'cwd': os.getcwd(),
        'files': sorted(os.listdir('.')),
        'module': open(__file__).read(),
        'module_file': __file__,
    }
"""

# Writes, reads and reports on a file in the environment's temporary directory.
TMP_SOURCE = """import os
import stat
import tempfile
import time


def lambda_handler(event, context):
    tmp = tempfile.gettempdir()
    path = os.path.join(tmp, 'note.txt')
    op = event['op']
    if op == 'write':
        with open(path, 'w') as f:
            f.write(event['text'])
    elif op == 'hang':
        while True:
            time.sleep(0.05)
    elif op == 'sleep':
        time.sleep(event['seconds'])
    text = None
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
    return {'tmp': tmp, 'TMPDIR': os.environ.get('TMPDIR'),
            'mode': stat.S_IMODE(os.stat(tmp).st_mode), 'text': text}
"""

LAMBDA_VARIABLES = {
    "_HANDLER", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR", "LANG", "PATH", "TZ", "_X_AMZN_TRACE_ID",
}
# Variables a Lambda environment may hold besides the reserved ones (reference §1.8), and
# LC_CTYPE, which the interpreter itself sets when it coerces a C locale (PEP 538).
ALLOWED_EXTRA = {"LD_LIBRARY_PATH", "PYTHONPATH", "AWS_XRAY_CONTEXT_MISSING", "AWS_XRAY_DAEMON_ADDRESS",
                 "TMPDIR", "PWD", "LC_CTYPE"}
STREAM = re.compile(r"^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$")


def test_context_has_lambdas_attributes_and_types(module_mgr):
    module_mgr.register("ctx", CONTEXT_SOURCE, timeout=3)
    inv = module_mgr.invoke("ctx", {})
    ctx = inv.result

    assert ctx["memory"] == "128"
    assert ctx["remaining_type"] == "int"
    assert 0 < ctx["remaining"] <= 3000
    assert ctx["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:ctx"
    assert ctx["log_group"] == "/aws/lambda/ctx"
    assert STREAM.match(ctx["log_stream"])
    assert ctx["function_name"] == "ctx"
    assert ctx["function_version"] == "$LATEST"
    assert ctx["request_id"] == inv.request_id


def test_context_memory_follows_the_configuration(module_mgr):
    module_mgr.register("ctx-big", CONTEXT_SOURCE, memory_mb=256, timeout=7)
    ctx = module_mgr.invoke("ctx-big", {}).result

    assert ctx["memory"] == "256"
    assert 0 < ctx["remaining"] <= 7000


def test_process_environment_holds_lambdas_variables_and_the_functions_env(module_mgr):
    module_mgr.register("environ", ENVIRON_SOURCE, env={"GREETING": "hello", "STAGE": "test"})
    inv = module_mgr.invoke("environ", {})
    environ = inv.result["environ"]

    assert LAMBDA_VARIABLES <= set(environ)
    assert environ["AWS_LAMBDA_FUNCTION_NAME"] == "environ"
    assert environ["AWS_REGION"] == environ["AWS_DEFAULT_REGION"] == "us-east-1"
    assert environ["_HANDLER"] == "lambda_function.lambda_handler"
    assert environ["TZ"] == ":UTC"
    assert environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert environ["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert environ["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert environ["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/environ"
    assert STREAM.match(environ["AWS_LAMBDA_LOG_STREAM_NAME"])
    assert environ["AWS_EXECUTION_ENV"].startswith("AWS_Lambda_python3.")
    assert re.fullmatch(r"127\.0\.0\.1:\d+", environ["AWS_LAMBDA_RUNTIME_API"])
    assert environ["AWS_LAMBDA_RUNTIME_API"] == module_mgr.runtime_api
    assert environ["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    assert (environ["GREETING"], environ["STAGE"]) == ("hello", "test")


def test_kernel_environment_is_not_visible_to_handlers(mgr, monkeypatch):
    token, secret = secrets.token_hex(16), secrets.token_hex(16)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", token)
    monkeypatch.setenv("LW_TEST_SECRET", secret)
    mgr.register("leak", ENVIRON_SOURCE, env={"MINE": "yes"})
    environ = mgr.invoke("leak", {}).result["environ"]

    assert "JUPYTERHUB_API_TOKEN" not in environ
    assert "LW_TEST_SECRET" not in environ
    assert not [k for k, v in environ.items() if token in v or secret in v]
    assert set(environ) <= LAMBDA_VARIABLES | ALLOWED_EXTRA | {"MINE"}
    leaked = {k for k in os.environ if k in environ and k not in LAMBDA_VARIABLES | ALLOWED_EXTRA}
    assert leaked == set()


@pytest.mark.parametrize("key", ["AWS_REGION", "_HANDLER", "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT",
                                 "AWS_SECRET_ACCESS_KEY"])
def test_reserved_keys_in_env_are_rejected(mgr, key):
    with pytest.raises(lw.InvalidParameterValueException) as caught:
        mgr.register("reserved", ENVIRON_SOURCE, env={key: "x"})

    assert key in str(caught.value)
    assert "reserved" not in mgr.functions


def test_working_directory_is_the_task_root_holding_the_module(module_mgr):
    module_mgr.register("taskroot", ENVIRON_SOURCE)
    facts = module_mgr.invoke("taskroot", {}).result

    assert facts["cwd"] == facts["environ"]["LAMBDA_TASK_ROOT"] == facts["environ"]["PWD"]
    assert "lambda_function.py" in facts["files"]
    assert facts["module_file"] == os.path.join(facts["cwd"], "lambda_function.py")
    assert facts["module"] == ENVIRON_SOURCE


def test_module_handler_names_the_file_in_the_task_root(module_mgr):
    module_mgr.register("apphandler", ENVIRON_SOURCE, handler="app.lambda_handler")
    facts = module_mgr.invoke("apphandler", {}).result

    assert facts["environ"]["_HANDLER"] == "app.lambda_handler"
    assert "app.py" in facts["files"]


def test_tmpdir_is_private_and_survives_warm_invocations_and_a_timeout_reset(module_mgr):
    module_mgr.register("tmp", TMP_SOURCE, timeout=1, idle_timeout=600)
    wrote = module_mgr.invoke("tmp", {"op": "write", "text": "kept"})
    tmp = wrote.result["tmp"]
    host_tmp = str(env_of(module_mgr, wrote).tmp)  # in a sandbox, the handler sees it as /tmp

    assert wrote.result["TMPDIR"] == tmp
    assert wrote.result["mode"] == 0o700
    assert tmp in ("/tmp", host_tmp) and os.path.exists(os.path.join(host_tmp, "note.txt"))
    assert stat.S_IMODE(os.stat(host_tmp).st_mode) == 0o700
    assert host_tmp != tempfile.gettempdir()  # not the kernel's shared temporary directory

    warm = module_mgr.invoke("tmp", {"op": "read"})
    assert (warm.cold, warm.result["text"]) == (False, "kept")

    hung = module_mgr.invoke("tmp", {"op": "hang"})
    assert hung.status == "timed-out"

    reset = module_mgr.invoke("tmp", {"op": "read"})
    assert (reset.cold, reset.cold_reason) == (True, "reset-after-timeout")
    assert reset.container_id == wrote.container_id
    assert (reset.result["tmp"], reset.result["text"]) == (tmp, "kept")


def test_each_environment_has_its_own_tmpdir_removed_when_reaped(mgr):
    mgr.register("tmps", TMP_SOURCE, timeout=5, idle_timeout=30)
    first = mgr.submit("tmps", {"op": "sleep", "seconds": 1.0})
    second = mgr.submit("tmps", {"op": "sleep", "seconds": 1.0})
    a, b = first.result(), second.result()
    assert a.container_id != b.container_id
    tmp_a, tmp_b = str(env_of(mgr, a).tmp), str(env_of(mgr, b).tmp)  # as this machine sees them
    assert tmp_a != tmp_b

    wrote = mgr.invoke("tmps", {"op": "write", "text": "only here"})
    other = a if wrote.container_id == b.container_id else b
    assert wrote.container_id != other.container_id
    assert os.path.exists(os.path.join(env_of(mgr, wrote).tmp, "note.txt"))
    assert not os.path.exists(os.path.join(env_of(mgr, other).tmp, "note.txt"))

    reaped = mgr.advance(30)
    assert {e.id for e in reaped} == {a.container_id, b.container_id}
    assert wait_for(lambda: not os.path.exists(tmp_a) and not os.path.exists(tmp_b))
    assert env_of(mgr, a).state == "terminated"
