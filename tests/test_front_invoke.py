"""Lambda's Invoke API on loopback, driven by the real clients: boto3 and the AWS CLI."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from conftest import wait_for

import lambda_widget as lw
from lambda_widget.engine import package
from lambda_widget.front import FrontWarning

ECHO = """import json


def lambda_handler(event, context):
    print('event', json.dumps(event))
    custom = context.client_context.custom if context.client_context else None
    return {'event': event, 'custom': custom, 'request_id': context.aws_request_id}
"""

FAILS = """def lambda_handler(event, context):
    raise ValueError('no good: ' + str(event.get('why')))
"""

CHATTY = """def lambda_handler(event, context):
    for i in range(400):
        print(f'line {i:04d} ' + 'x' * 40)
    return 'done'
"""

AWS = Path(sys.executable).parent / "aws"
ROLE = "arn:aws:iam::123456789012:role/lambda-role"


@pytest.fixture(scope="module")
def served():
    with lw.ContainerManager(seed=3) as mgr:
        mgr.register("echo", ECHO)
        mgr.register("fails", FAILS)
        mgr.register("chatty", CHATTY)
        mgr.register("limited", ECHO, reserved_concurrency=0)  # every invocation is throttled
        with mgr.serve() as endpoint:
            yield mgr, endpoint


def client(endpoint):
    return boto3.client("lambda", endpoint_url=endpoint.url, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local",
                        config=Config(retries={"max_attempts": 0, "mode": "standard"},
                                      read_timeout=60))


def error_of(exc_info) -> tuple[str, int, str]:
    response = exc_info.value.response
    return (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"],
            response["Error"]["Message"])


def test_endpoint_url_is_loopback_and_closes():
    with lw.ContainerManager() as mgr:
        endpoint = mgr.serve(port=0)
        assert endpoint.url.startswith("http://127.0.0.1:") and endpoint.url.endswith("/")
        with endpoint:
            pass
        assert endpoint.closed
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", endpoint.port), timeout=2).recv(1)


def test_sync_invoke_returns_the_payload_and_is_in_the_history(served):
    mgr, endpoint = served
    before = len(mgr.history)
    response = client(endpoint).invoke(FunctionName="echo", Payload=json.dumps({"value": 5}))
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    body = json.loads(response["Payload"].read())
    assert body["event"] == {"value": 5}
    inv = mgr.history[-1]
    assert len(mgr.history) == before + 1
    assert inv.request_id == body["request_id"] == response["ResponseMetadata"]["RequestId"]
    assert inv.status == "succeeded" and inv.function_name == "echo"


def test_function_arn_and_qualifiers(served):
    mgr, endpoint = served
    c = client(endpoint)
    arn = f"arn:aws:lambda:us-east-1:{mgr.account_id}:function:echo"
    assert c.invoke(FunctionName=arn)["StatusCode"] == 200
    assert c.invoke(FunctionName="echo", Qualifier="$LATEST")["ExecutedVersion"] == "$LATEST"
    with pytest.raises(c.exceptions.ResourceNotFoundException) as exc:
        c.invoke(FunctionName="echo", Qualifier="live")
    assert error_of(exc)[:2] == ("ResourceNotFoundException", 404)


def test_empty_payload_is_an_empty_object(served):
    _, endpoint = served
    body = json.loads(client(endpoint).invoke(FunctionName="echo")["Payload"].read())
    assert body["event"] == {}


def test_event_invocation_is_accepted_and_runs(served):
    mgr, endpoint = served
    response = client(endpoint).invoke(FunctionName="echo", InvocationType="Event",
                                       Payload=b'{"async": true}')
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    rid = response["ResponseMetadata"]["RequestId"]
    inv = next(i for i in mgr.history if i.request_id == rid)
    assert inv.invocation_type == "Event"
    wait_for(lambda: inv.status == "succeeded", timeout=30)
    assert inv.result["event"] == {"async": True}


def test_dry_run_validates_only(served):
    mgr, endpoint = served
    response = client(endpoint).invoke(FunctionName="echo", InvocationType="DryRun", Payload=b"{}")
    assert response["StatusCode"] == 204
    assert mgr.history[-1].status == "dry-run"
    assert mgr.history[-1].container_id is None


def test_tail_gives_the_last_4_kb_of_the_logs(served):
    _, endpoint = served
    response = client(endpoint).invoke(FunctionName="chatty", LogType="Tail")
    log = base64.b64decode(response["LogResult"])
    assert len(log) == 4096  # the handler printed about 20 KB
    text = log.decode()
    assert "REPORT RequestId: " + response["ResponseMetadata"]["RequestId"] in text
    assert "line 0399" in text and "line 0000" not in text
    small = client(endpoint).invoke(FunctionName="echo", LogType="Tail", Payload=b'{"a": 1}')
    text = base64.b64decode(small["LogResult"]).decode()
    assert text.startswith("START RequestId:")  # no INIT_START in a tail, as AWS's
    assert text.splitlines()[-1].startswith("REPORT RequestId:") and text.endswith("\t\n")
    assert 'event {"a": 1}' in text
    assert "LogResult" not in client(endpoint).invoke(FunctionName="echo")


def test_client_context_reaches_the_handler(served):
    _, endpoint = served
    context = base64.b64encode(json.dumps({"custom": {"tenant": "t-1"}}).encode()).decode()
    response = client(endpoint).invoke(FunctionName="echo", ClientContext=context)
    assert json.loads(response["Payload"].read())["custom"] == {"tenant": "t-1"}
    with pytest.raises(client(endpoint).exceptions.ClientError) as exc:
        client(endpoint).invoke(FunctionName="echo", ClientContext="not base64 json!")
    assert error_of(exc)[:2] == ("InvalidRequestContentException", 400)


def test_a_function_error_is_unhandled_with_the_error_payload(served):
    mgr, endpoint = served
    response = client(endpoint).invoke(FunctionName="fails", Payload=b'{"why": "testing"}')
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "no good: testing"
    assert mgr.history[-1].status == "failed"


def test_unknown_function_is_resource_not_found(served):
    _, endpoint = served
    c = client(endpoint)
    with pytest.raises(c.exceptions.ResourceNotFoundException) as exc:
        c.invoke(FunctionName="nope", Payload=b"{}")
    code, status, message = error_of(exc)
    assert (code, status) == ("ResourceNotFoundException", 404)
    # AWS's text exactly: the ARN of $LATEST, no list of the registered functions
    assert message == "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope:$LATEST"
    assert exc.value.response["Message"] == message and exc.value.response["Type"] == "User"


def test_throttling_is_too_many_requests(served):
    mgr, endpoint = served
    c = client(endpoint)
    with pytest.raises(c.exceptions.TooManyRequestsException) as exc:
        c.invoke(FunctionName="limited", Payload=b"{}")
    code, status, message = error_of(exc)
    assert (code, status, message) == ("TooManyRequestsException", 429, "Rate Exceeded.")
    assert exc.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert mgr.history[-1].status == "throttled"


def test_too_large_payloads(served):
    mgr, endpoint = served
    c = client(endpoint)
    before = len(mgr.history)
    with pytest.raises(c.exceptions.ClientError) as exc:
        c.invoke(FunctionName="echo", Payload=b'"' + b"x" * (6 * 1024 * 1024) + b'"')
    assert error_of(exc) == ("RequestEntityTooLargeException", 413,
                             "Request must be smaller than 6291456 bytes for the InvokeFunction operation")
    with pytest.raises(c.exceptions.ClientError) as exc:
        c.invoke(FunctionName="echo", InvocationType="Event", Payload=b'"' + b"x" * (1024 * 1024) + b'"')
    assert error_of(exc) == ("RequestEntityTooLargeException", 413,
                             "1048578 byte payload is too large for the Event invocation type (limit 1048576 bytes)")
    assert len(mgr.history) == before  # nothing ran
    assert c.invoke(FunctionName="echo", Payload=b"{}")["StatusCode"] == 200  # the server carries on


def test_invalid_json_is_invalid_request_content(served):
    _, endpoint = served
    c = client(endpoint)
    with pytest.raises(c.exceptions.InvalidRequestContentException) as exc:
        c.invoke(FunctionName="echo", Payload=b"{not json")
    assert error_of(exc)[:2] == ("InvalidRequestContentException", 400)


def test_list_and_get_functions(served):
    mgr, endpoint = served
    c = client(endpoint)
    names = [f["FunctionName"] for f in c.list_functions()["Functions"]]
    assert names == sorted(mgr.functions)
    pages = list(c.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2}))
    assert [f["FunctionName"] for p in pages for f in p["Functions"]] == names and len(pages) > 1
    got = c.get_function(FunctionName="limited")
    assert got["Configuration"]["Handler"] == "lambda_function.lambda_handler"
    assert got["Configuration"]["Runtime"].startswith("python3")
    assert got["Concurrency"] == {"ReservedConcurrentExecutions": 0}
    assert c.get_function_configuration(FunctionName="echo")["MemorySize"] == 128
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_function(FunctionName="nope")


def test_unsigned_and_browser_requests_are_refused(served):
    _, endpoint = served
    url = endpoint.url + "2015-03-31/functions/echo/invocations"
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(urllib.request.Request(url, data=b"{}", method="POST"), timeout=10)
    assert exc.value.code == 403
    assert exc.value.headers["x-amzn-ErrorType"] == "UnrecognizedClientException"
    signed_looking = {"Authorization": "AWS4-HMAC-SHA256 Credential=x", "Origin": "https://evil.example"}
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(urllib.request.Request(url, data=b"{}", headers=signed_looking,
                                                      method="POST"), timeout=10)
    assert exc.value.code == 403
    assert exc.value.headers["x-amzn-ErrorType"] == "AccessDeniedException"


def test_unknown_operations_get_a_clear_error(served):
    _, endpoint = served
    c = client(endpoint)
    with pytest.raises(c.exceptions.ClientError) as exc:
        c.get_policy(FunctionName="echo")  # resource policies (IAM) are not served
    code, status, message = error_of(exc)
    assert (code, status) == ("UnknownOperationException", 404)
    assert "Invoke" in message and "CreateFunction" in message


def test_a_slow_client_is_cut_off_and_does_not_block_others(served):
    mgr, endpoint = served
    server = endpoint._server
    old = server.read_deadline
    server.read_deadline = 1.0
    try:
        slow = socket.create_connection(("127.0.0.1", endpoint.port), timeout=10)
        slow.sendall(b"POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: x\r\n")
        assert client(endpoint).invoke(FunctionName="echo")["StatusCode"] == 200
        t0 = time.monotonic()
        assert slow.recv(1024) == b""  # closed by the server, not by us
        assert time.monotonic() - t0 < 5
        slow.close()
    finally:
        server.read_deadline = old


def test_connections_over_the_cap_get_429_and_nothing_grows():
    with lw.ContainerManager() as mgr:
        mgr.register("echo", ECHO)
        from lambda_widget.front.lambda_api import LambdaApiHandler
        from lambda_widget.front.server import listen

        with listen(LambdaApiHandler, "127.0.0.1", 0, "Invoke API", {"manager": mgr},
                    max_connections=4) as endpoint:
            held = [socket.create_connection(("127.0.0.1", endpoint.port), timeout=10) for _ in range(4)]
            wait_for(lambda: endpoint._server._slots._value == 0, timeout=10)  # all four accepted
            extra = socket.create_connection(("127.0.0.1", endpoint.port), timeout=10)
            assert extra.recv(4096).startswith(b"HTTP/1.1 429")
            for s in held + [extra]:
                s.close()
            wait_for(lambda: endpoint._server._slots._value == 4, timeout=10)
            assert client(endpoint).invoke(FunctionName="echo")["StatusCode"] == 200


def _outbound_ip() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent
            ip = s.getsockname()[0]
    except OSError:
        return None
    return None if ip.startswith("127.") else ip


def test_other_hosts_warn_and_get_invoke_only():
    ip = _outbound_ip()
    if ip is None:
        pytest.skip("this machine has no non-loopback address")
    with lw.ContainerManager() as mgr:
        mgr.register("echo", ECHO)
        with pytest.warns(FrontWarning, match="other hosts"):
            endpoint = mgr.serve(host="0.0.0.0")
        with endpoint:
            remote = boto3.client("lambda", endpoint_url=f"http://{ip}:{endpoint.port}",
                                  region_name="us-east-1", aws_access_key_id="a",
                                  aws_secret_access_key="b", config=Config(retries={"max_attempts": 0}))
            assert remote.invoke(FunctionName="echo")["StatusCode"] == 200
            with pytest.raises(remote.exceptions.ClientError) as exc:
                remote.list_functions()
            assert error_of(exc)[:2] == ("AccessDeniedException", 403)


# ---------------------------------------------------------------------- deploying with a zip
APP = """from helpers import shout


def handler(event, context):
    return shout(event.get('word', 'hi'))
"""
HELPERS = "def shout(word):\n    return word.upper() + '!'\n"


def make_zip(files: dict[str, str | bytes], mode: dict[str, int] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (mode or {}).get(name, 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return buf.getvalue()


def run_aws(endpoint, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local", AWS_DEFAULT_REGION="us-east-1",
               AWS_MAX_ATTEMPTS="1", AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    done = subprocess.run([str(AWS), "--endpoint-url", endpoint.url.rstrip("/"), "lambda", *args],
                          capture_output=True, text=True, env=env, timeout=120)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def test_aws_cli_create_function_from_a_zip_then_invoke(tmp_path):
    assert AWS.exists(), "awscli is in the test extra"
    with lw.ContainerManager(seed=4) as mgr, mgr.serve() as endpoint:
        zpath = tmp_path / "function.zip"
        zpath.write_bytes(make_zip({"app.py": APP, "helpers.py": HELPERS}))
        created = json.loads(run_aws(endpoint, "create-function", "--function-name", "shouter",
                                     "--runtime", "python3.11", "--role", "arn:aws:iam::123456789012:role/x",
                                     "--handler", "app.handler", "--timeout", "7", "--memory-size", "256",
                                     "--environment", "Variables={MODE=test}",
                                     "--zip-file", f"fileb://{zpath}").stdout)
        assert created["FunctionName"] == "shouter" and created["Handler"] == "app.handler"
        assert created["Timeout"] == 7 and created["MemorySize"] == 256
        fn = mgr.function("shouter")
        assert (fn.timeout, fn.memory_mb, fn.env) == (7.0, 256, {"MODE": "test"})

        out = tmp_path / "out.json"
        done = run_aws(endpoint, "invoke", "--function-name", "shouter", "--payload", '{"word": "hey"}',
                       str(out))
        assert json.loads(done.stdout)["StatusCode"] == 200
        assert json.loads(out.read_text()) == "HEY!"
        inv = mgr.history[-1]
        assert inv.cold and inv.cold_reason == "first-invocation"
        # the tracer followed the handler into the package's other module
        assert any(s.handler_execution.startswith("helpers.py:2") for s in inv.steps)

        listed = json.loads(run_aws(endpoint, "list-functions").stdout)
        assert [f["FunctionName"] for f in listed["Functions"]] == ["shouter"]

        again = run_aws(endpoint, "create-function", "--function-name", "shouter", "--runtime", "python3.11",
                        "--role", ROLE, "--handler", "app.handler", "--zip-file", f"fileb://{zpath}",
                        check=False)
        assert again.returncode != 0 and "ResourceConflictException" in again.stderr

        zpath.write_bytes(make_zip({"app.py": APP.replace("shout(", "str.lower("), "helpers.py": HELPERS}))
        run_aws(endpoint, "update-function-code", "--function-name", "shouter", "--zip-file", f"fileb://{zpath}")
        assert (mgr.function("shouter").version, mgr.function("shouter").revision) == ("$LATEST", 2)
        assert mgr.function("shouter").timeout == 7.0  # the configuration is kept
        run_aws(endpoint, "invoke", "--function-name", "shouter", "--payload", '{"word": "HEY"}', str(out))
        assert json.loads(out.read_text()) == "hey"
        assert mgr.history[-1].cold_reason == "function-updated"


@pytest.mark.parametrize("files, mode, expected", [
    ({"../evil.py": "x = 1"}, None, "outside the package"),
    ({"/etc/evil.py": "x = 1"}, None, "outside the package"),
    ({"app.py": APP, "link": "/etc/passwd"}, {"link": 0o120777}, "symbolic link"),
])
def test_create_function_refuses_unsafe_zips(served, files, mode, expected):
    _, endpoint = served
    c = client(endpoint)
    with pytest.raises(c.exceptions.InvalidParameterValueException) as exc:
        c.create_function(FunctionName="unsafe", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                          Code={"ZipFile": make_zip(files, mode)})
    assert expected in error_of(exc)[2]
    assert "unsafe" not in served[0].functions


def test_create_function_stops_a_zip_bomb_at_the_limit(served, monkeypatch):
    mgr, endpoint = served
    monkeypatch.setattr(package, "MAX_UNZIPPED", 1_000_000)
    bomb = make_zip({"app.py": APP, "zeros.bin": b"\0" * 5_000_000})
    assert len(bomb) < 20_000
    c = client(endpoint)
    with pytest.raises(c.exceptions.InvalidParameterValueException) as exc:
        c.create_function(FunctionName="bomb", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                          Code={"ZipFile": bomb})
    assert "Unzipped size must be smaller than 1000000 bytes" in error_of(exc)[2]
    assert "bomb" not in mgr.functions
    with pytest.raises(c.exceptions.InvalidParameterValueException) as exc:
        c.create_function(FunctionName="garbage", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                          Code={"ZipFile": b"not a zip"})
    assert "Could not unzip" in error_of(exc)[2]
    with pytest.raises(c.exceptions.InvalidParameterValueException) as exc:
        c.create_function(FunctionName="node", Runtime="nodejs20.x", Role=ROLE, Handler="index.handler",
                          Code={"ZipFile": make_zip({"index.js": ""})})
    assert "Python" in error_of(exc)[2]


def test_endpoints_close_when_the_manager_shuts_down():
    mgr = lw.ContainerManager()
    mgr.register("echo", ECHO)
    endpoint = mgr.serve()
    url = mgr.function_url("echo")
    mgr.shutdown()
    assert endpoint.closed
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=5)


def test_aws_cli_is_on_path_of_this_venv():
    assert shutil.which("aws", path=str(AWS.parent)) is not None


def test_lambda_widget_serve_a_handler_file(tmp_path):
    handler = tmp_path / "hello_world.py"
    handler.write_text(ECHO)
    proc = subprocess.Popen([sys.executable, "-m", "lambda_widget.cli", "serve", str(handler), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        while not lines or not lines[-1].startswith("Ctrl-C stops."):
            line = proc.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        url = next(line.split()[2] for line in lines if line.startswith("Invoke API:"))
        furl = next(line.split()[-1] for line in lines if line.startswith("Function URL of hello_world:"))
        out = tmp_path / "out.json"
        run_aws(type("E", (), {"url": url})(), "invoke", "--function-name", "hello_world",
                "--payload", '{"n": 1}', str(out))
        assert json.loads(out.read_text())["event"] == {"n": 1}
        assert "#1 hello_world $LATEST RequestResponse cold (first-invocation)" in proc.stdout.readline()
        with urllib.request.urlopen(furl + "x?y=1", timeout=30) as r:
            assert json.loads(r.read())["event"]["rawPath"] == "/x"
        assert "#2 hello_world $LATEST RequestResponse warm" in proc.stdout.readline()
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    missing = subprocess.run([sys.executable, "-m", "lambda_widget.cli", "serve", str(tmp_path / "nope.yaml")],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "nope.yaml not found" in missing.stderr


def test_update_function_code_of_a_notebook_function(served):
    mgr, endpoint = served
    mgr.register("inline", "def lambda_handler(event, context):\n    return 'v1'\n", timeout=9)
    c = client(endpoint)
    assert c.invoke(FunctionName="inline")["Payload"].read() == b'"v1"'
    zipped = make_zip({"lambda_function.py": "def lambda_handler(event, context):\n    return 'v2'\n"})
    updated = c.update_function_code(FunctionName="inline", ZipFile=zipped)
    assert updated["Handler"] == "lambda_function.lambda_handler" and updated["Timeout"] == 9
    assert c.invoke(FunctionName="inline")["Payload"].read() == b'"v2"'
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.update_function_code(FunctionName="nope", ZipFile=zipped)


def test_the_client_end_of_a_loopback_connection_is_owned_by_us(served):
    from lambda_widget.front.server import peer_uid

    _, endpoint = served
    with socket.create_connection(("127.0.0.1", endpoint.port), timeout=10) as conn:
        assert peer_uid(conn.getsockname(), conn.getpeername()) == os.getuid()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another user")
def test_another_users_process_is_refused(served):
    mgr, endpoint = served
    request = (b"GET /2015-03-31/functions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               b"Authorization: AWS4-HMAC-SHA256 Credential=x\r\nConnection: close\r\n\r\n")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: become nobody, then call the endpoint
        try:
            os.close(read_end)
            os.setgid(65534)
            os.setuid(65534)
            with socket.create_connection(("127.0.0.1", endpoint.port), timeout=10) as conn:
                conn.sendall(request)
                answer = b""
                while chunk := conn.recv(65536):
                    answer += chunk
            os.write(write_end, answer[:4096])
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        answer = pipe.read()
    os.waitpid(pid, 0)
    assert answer.startswith(b"HTTP/1.1 403"), answer
    assert b"x-amzn-ErrorType: AccessDeniedException" in answer
    assert b"its own user" in answer


def test_aws_cli_invoke_types_logs_and_errors(served, tmp_path):
    _, endpoint = served
    out = str(tmp_path / "out.json")

    def invoke(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run_aws(endpoint, "invoke", *args, out, check=check)

    sync = json.loads(invoke("--function-name", "echo", "--payload", '{"cli": 1}').stdout)
    assert sync == {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
    assert json.loads(Path(out).read_text())["event"] == {"cli": 1}
    assert json.loads(invoke("--function-name", "echo", "--invocation-type", "Event").stdout)["StatusCode"] == 202
    assert json.loads(invoke("--function-name", "echo", "--invocation-type", "DryRun").stdout)["StatusCode"] == 204
    tail = json.loads(invoke("--function-name", "echo", "--log-type", "Tail").stdout)
    assert "REPORT RequestId:" in base64.b64decode(tail["LogResult"]).decode()
    failed = json.loads(invoke("--function-name", "fails", "--payload", '{"why": "cli"}').stdout)
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(Path(out).read_text())["errorMessage"] == "no good: cli"
    for args, code in ((("--function-name", "nope"), "ResourceNotFoundException"),
                       (("--function-name", "limited"), "TooManyRequestsException"),
                       (("--function-name", "echo", "--payload", "{nope"), "InvalidRequestContentException")):
        done = invoke(*args, check=False)
        assert done.returncode != 0 and f"({code})" in done.stderr, done.stderr
    big = tmp_path / "big.json"
    big.write_text('"' + "x" * (6 * 1024 * 1024) + '"')
    done = invoke("--function-name", "echo", "--payload", f"file://{big}", check=False)
    assert done.returncode != 0 and "(RequestEntityTooLargeException)" in done.stderr, done.stderr
