"""serve() against what real AWS answered: every case of tests/data/aws_recorded/lambda.json.

Each case names the recording it comes from (LocalStack's snapshot files: the test, the snapshot
key, its recorded-date; or a public issue quoting AWS's text). The case is driven through boto3
(or urllib for function URLs) against ``mgr.serve()`` and compared: status, error code, message
(placeholders for the parts that vary), the members botocore copies from the body, payload
keys and values, and the log lines of the Tail and of the views' CloudWatch panel.
"""

from __future__ import annotations

import base64
import io
import json
import re
import socket
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

import lambda_widget as lw
from lambda_widget.views.html import log_lines

FIXTURE = json.loads((Path(__file__).parent / "data" / "aws_recorded" / "lambda.json").read_text(encoding="utf-8"))
CASES = FIXTURE["cases"]
ROLE = "arn:aws:iam::123456789012:role/lambda-role"

# The handlers of the recorded tests, written for these cases: (file, handler, source, configuration).
ECHO = "import json\n\n\ndef handler(event, context):\n    print(json.dumps(event))\n    return event\n"
HANDLERS: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "echo": ("handler.py", "handler.handler", ECHO, {}),
    "echo_env": ("handler.py", "handler.handler", ECHO, {"Environment": {"Variables": {"ENV_A": "a"}}}),
    "handler_error": ("lambda_handler_error.py", "lambda_handler_error.handler",
                      'def handler(event, context):\n    raise Exception("Handler fails")\n', {}),
    "unhandled_error": ("handler.py", "handler.handler",
                        'class CustomException(Exception):\n    pass\n\n\ndef handler(event, context):\n'
                        '    raise CustomException("some error occurred")\n', {}),
    "runtime_error": ("lambda_runtime_error.py", "lambda_runtime_error.handler",
                      'raise Exception("Runtime startup fails")\n\n\ndef handler(event, context):\n    return event\n', {}),
    "timeout": ("handler.py", "handler.handler",
                "import time\n\n\ndef handler(event, context):\n    time.sleep(30)\n", {"Timeout": 1}),
    "runtime_exit": ("handler.py", "handler.handler",
                     "import os\n\n\ndef handler(event, context):\n    os._exit(0)\n", {}),
    "large_response": ("handler.py", "handler.handler",
                       "def handler(event, context):\n    return 'a' * (6 * 1024 * 1024 + 100)\n", {"Timeout": 30}),
    "request_id": ("handler.py", "handler.handler",
                   "import logging\n\nLOGGER = logging.getLogger(__name__)\nLOGGER.setLevel(logging.INFO)\n\n\n"
                   "def handler(event, context):\n    LOGGER.info('RequestId log message')\n"
                   "    return context.aws_request_id\n", {}),
    "context": ("handler.py", "handler.handler",
                "import logging\n\nLOGGER = logging.getLogger()\nLOGGER.setLevel(logging.INFO)\n\n\n"
                "def handler(event, context):\n    print('Lambda log message - print function')\n"
                "    LOGGER.info('Lambda log message - logging module')\n"
                "    names = ['invoked_function_arn', 'function_version', 'function_name', 'memory_limit_in_mb',\n"
                "             'aws_request_id', 'log_group_name', 'log_stream_name']\n"
                "    found = {name: getattr(context, name) for name in names}\n"
                "    found['client_context'] = context.client_context\n"
                "    return {'event': event, 'context': found}\n", {}),
}
PLACEHOLDER = re.compile(r"<(region|account|function|request-id|uuid|duration|int|date|python|hex64|base64|url|any"
                         r"|a:len\((\d+)\))>")
PATTERNS = {"uuid": r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "duration": r"\d+\.\d{2}",
            "int": r"\d+", "date": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", "python": r"3\.\d+",
            "hex64": r"[0-9a-f]{64}", "base64": r"[A-Za-z0-9+/]+=*", "url": r"https?://\S+", "any": r".*"}
_FROZEN = re.compile(r'  File "<frozen importlib\._bootstrap(_external)?>", line \d+, in \w+\n')


class Context:
    """What the placeholders stand for in one case."""

    def __init__(self, mgr: lw.ContainerManager, function: str) -> None:
        self.values = {"region": mgr.region, "account": mgr.account_id, "function": function}
        self.isolation = mgr.isolation

    def fill(self, text: str) -> str:
        """``text`` with the literal placeholders filled in (for the request)."""
        def one(m: re.Match) -> str:
            if m[2]:
                return "a" * int(m[2])
            return self.values.get(m[1], m[0])
        return PLACEHOLDER.sub(one, text)

    def regex(self, text: str) -> re.Pattern:
        """``text`` as a pattern: literal, with each placeholder standing for what it names."""
        out, last = [], 0
        for m in PLACEHOLDER.finditer(text):
            out.append(re.escape(text[last:m.start()]))
            if m[2]:
                out.append("a" * int(m[2]))
            elif m[1] in self.values:
                out.append(re.escape(self.values[m[1]]))
            else:
                out.append(PATTERNS[m[1]])
            last = m.end()
        out.append(re.escape(text[last:]))
        return re.compile("".join(out), re.DOTALL)

    def local(self, text: str) -> str:
        """In the process fallback the task root is a temporary copy, not /var/task (a known,
        documented difference): say /var/task, to compare the rest."""
        if self.isolation != "process":
            return text
        return re.sub(r'"[^"]*/(?:envs/env-\d+/task\d+|functions/[^/"]+/v\d+)/', '"/var/task/', text)


def assert_matches(expected: Any, actual: Any, ctx: Context, where: str = "") -> None:
    if isinstance(expected, str):
        assert isinstance(actual, str), f"{where}: {actual!r} is not text"
        actual = ctx.local(actual)
        assert ctx.regex(expected).fullmatch(actual), f"{where}: {actual!r} does not match {expected!r}"
    elif isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r} is not an object"
        assert sorted(actual) == sorted(expected), f"{where}: keys {sorted(actual)} != {sorted(expected)}"
        for key, value in expected.items():
            assert_matches(value, actual[key], ctx, f"{where}.{key}")
    elif isinstance(expected, list) and "<frozen-frames>" in expected:
        cut = expected.index("<frozen-frames>")
        head, tail = expected[:cut], expected[cut + 1:]
        assert len(actual) >= len(head) + len(tail), f"{where}: {actual!r}"
        middle = actual[len(head):len(actual) - len(tail)]
        assert all(_FROZEN.fullmatch(frame) for frame in middle), f"{where}: {middle!r}"
        assert_matches(head, actual[:len(head)], ctx, where)
        assert_matches(tail, actual[len(actual) - len(tail):], ctx, where)
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{where}: {actual!r} != {expected!r}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            assert_matches(e, a, ctx, f"{where}[{i}]")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


# ---------------------------------------------------------------------- the served manager
@pytest.fixture(scope="module")
def served():
    with lw.ContainerManager(seed=18) as mgr, mgr.serve() as endpoint:
        yield mgr, endpoint


def client(endpoint):
    return boto3.client("lambda", endpoint_url=endpoint.url, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local",
                        config=Config(retries={"max_attempts": 0, "mode": "standard"}, read_timeout=120))


def zip_of(file: str, source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo(file), source)
    return buf.getvalue()


def create(c, name: str, kind: str) -> None:
    file, handler, source, config = HANDLERS[kind]
    c.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler=handler,
                      Code={"ZipFile": zip_of(file, source)}, **config)


def value(spec: Any, ctx: Context) -> Any:
    """A request value of the fixture: text (placeholders filled), bytes given as hex, or a JSON
    string payload of a given size."""
    if isinstance(spec, dict) and "hex" in spec:
        return bytes.fromhex(spec["hex"])
    if isinstance(spec, dict) and "json_string_of_bytes" in spec:
        return b'"' + b"x" * (spec["json_string_of_bytes"] - 2) + b'"'
    return ctx.fill(spec) if isinstance(spec, str) else spec


# ---------------------------------------------------------------------- the cases
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_recorded_case(served, case):
    mgr, endpoint = served
    c = client(endpoint)
    name = f"rec-{case['id']}"[:64]
    ctx = Context(mgr, name)
    call, expect = case["call"], case["expect"]
    kind = case.get("function")
    if isinstance(kind, str):
        create(c, name, kind)
    if call.get("publish"):
        c.publish_version(FunctionName=name)
    if call["op"] == "url":
        run_url(mgr, name, kind, call, expect, ctx)
        return
    if call["op"] == "raw":
        run_raw(endpoint, call, expect, ctx)
        return
    args = {key: value(v, ctx) for key, v in call["args"].items()}
    args.setdefault("FunctionName", name) if call["op"] != "list_functions" else None
    if call["op"] == "create_function":
        zipped = args.pop("ZipFile", zip_of("handler.py", ECHO))
        args = {"Runtime": "python3.12", "Role": ROLE, "Handler": "handler.handler", **args,
                "Code": {"ZipFile": zipped}}
    if "error" in expect:
        with pytest.raises(botocore.exceptions.ClientError) as raised:
            getattr(c, call["op"])(**args)
        check_error(raised.value.response, expect, ctx)
        return
    response = getattr(c, call["op"])(**args)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == expect["status"]
    if call["op"] == "invoke":
        check_invoke(mgr, response, expect, ctx)
    elif call["op"] == "get_function":
        check_get_function(endpoint, response, expect, ctx)
    else:
        check_list(response, expect, ctx, name)


def check_error(response: dict, expect: dict, ctx: Context) -> None:
    error = expect["error"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == expect["status"]
    assert response["Error"]["Code"] == error["code"]
    message = response["Error"]["Message"]
    if "errors" in error:  # as LocalStack's test keeps them: the constraint parts, sorted
        parts = re.findall(r"(Value '.*?' at '.*?' failed to satisfy constraint: .+?(?=; Value|$))", message)
        assert len(error["errors"]) == len(parts), message
        expected = sorted(ctx.fill(e) for e in error["errors"])
        assert sorted(parts) == expected, message
        assert message.startswith(f"{len(parts)} validation error{'s' if len(parts) > 1 else ''} detected: ")
    elif error["message"] is None:
        assert message in (None, "")  # botocore: the body's Message is null
    else:
        assert_matches(error["message"], message, ctx, "Error.Message")
    if "members" in expect:
        members = {k: v for k, v in response.items() if k not in ("Error", "ResponseMetadata")}
        assert_matches(expect["members"], members, ctx, "members")
    else:
        assert set(response) <= {"Error", "ResponseMetadata", "Type", "message", "Message"}


def check_invoke(mgr, response: dict, expect: dict, ctx: Context) -> None:
    rid = response["ResponseMetadata"]["RequestId"]
    ctx.values["request-id"] = rid
    for key, wanted in expect.get("response", {}).items():
        assert response.get(key) == wanted, (key, response.get(key))
    for key in expect.get("absent", []):
        assert key not in response, key
    raw = response["Payload"].read()
    if "raw_payload" in expect:
        assert raw == expect["raw_payload"].encode()
    if "payload" in expect:
        assert_matches(expect["payload"], json.loads(raw), ctx, "Payload")
    inv = next(i for i in reversed(mgr.history) if i.request_id == rid)
    tail = base64.b64decode(response["LogResult"]).decode() if "LogResult" in response else None
    if "tail" in expect:
        assert_matches(expect["tail"], tail.splitlines(keepends=True), ctx, "Tail")
    if "tail_without_report" in expect:
        lines = [line for line in tail.splitlines() if not line.startswith("REPORT")]
        assert_matches(expect["tail_without_report"], lines, ctx, "Tail")
    if "cloudwatch" in expect:  # CloudWatch's events, as lines; the panel shows inv.logs the same way
        recorded = [line for message in expect["cloudwatch"] for line in message.splitlines()]
        assert_matches(recorded, log_lines(inv.logs), ctx, "CloudWatch panel")
        assert_matches([r for r in recorded if not r.startswith("INIT_START")], tail.splitlines(), ctx, "Tail")
    if "cloudwatch_rstrip" in expect:  # the recording kept lines naming the RequestId, rstripped
        for where, lines in (("CloudWatch panel", log_lines(inv.logs)), ("Tail", tail.splitlines())):
            kept = [line.rstrip() for line in lines if "RequestId" in line]
            assert_matches(expect["cloudwatch_rstrip"], kept, ctx, where)


def check_get_function(endpoint, response: dict, expect: dict, ctx: Context) -> None:
    assert sorted(k for k in response if k != "ResponseMetadata") == expect["keys"]
    assert_matches(expect["code"], response["Code"], ctx, "Code")
    config = response["Configuration"]
    assert sorted(config) == expect["configuration_keys"]
    for key, wanted in expect["configuration"].items():
        assert_matches(wanted, config[key], ctx, f"Configuration.{key}")


def check_list(response: dict, expect: dict, ctx: Context, name: str) -> None:
    assert sorted(k for k in response if k != "ResponseMetadata") == expect["keys"]
    mine = [f for f in response["Functions"] if f["FunctionName"] == name]
    for entry in mine:
        assert sorted(entry) == expect["listed_keys"]
    if "listed" in expect:
        assert len(mine) == 1
        for key, wanted in expect["listed"].items():
            assert_matches(wanted, mine[0][key], ctx, key)
    if "listed_versions" in expect:
        got = [{k: f[k] for k in ("FunctionArn", "Version")} for f in mine]
        assert_matches(expect["listed_versions"], got, ctx, "versions")


def run_url(mgr, name: str, kind: Any, call: dict, expect: dict, ctx: Context) -> None:
    if isinstance(kind, dict):
        mgr.register(name, f"def handler(event, context):\n    return {kind['url_returns']}\n", handler="handler")
    url = mgr.function_url(name) + call["path"]
    request = urllib.request.Request(url, data=call["body"].encode(), method=call["method"])
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            status, headers, body = answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as exc:
        status, headers, body = exc.code, exc.headers, exc.read()
    assert status == expect["status"]
    for key, wanted in expect.get("headers", {}).items():
        assert headers.get_all(key) == [wanted], (key, headers.get_all(key))
    assert body.decode() == expect["body"]


def run_raw(endpoint, call: dict, expect: dict, ctx: Context) -> None:
    head = (f"{call['method']} {call['path']} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: AWS4-HMAC-SHA256 Credential=local/20250101/us-east-1/lambda/aws4_request\r\n"
            f"Content-Type: application/json\r\nContent-Length: {call['content_length']}\r\n\r\n")
    with socket.create_connection(("127.0.0.1", endpoint.port), timeout=60) as conn:
        conn.sendall(head.encode())
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    headers_text, _, body = rest.partition(b"\r\n\r\n")
    assert int(status_line.split()[1]) == expect["status"]
    headers = dict(line.split(": ", 1) for line in headers_text.decode().split("\r\n"))
    assert headers["x-amzn-ErrorType"] == expect["error"]["code"]
    data = json.loads(body)
    assert (data.get("message") or data.get("Message")) == expect["error"]["message"]


def test_the_fixture_covers_every_row_of_the_issue():
    rows = {c["row"] for c in CASES}
    for row in ("unknown function", "init error", "Event / DryRun", "LogType=Tail", "Qualifier = a published version",
                "sync payload > 6 MB", "Event payload too large", "response > 6 MB", "invalid payload bytes",
                "malformed function name", "ListFunctions / GetFunction"):
        assert row in rows, row
    assert len(CASES) >= 25
    for c in CASES:
        source = c["source"]
        assert source.get("recorded") and (source.get("test") and source.get("commit") or source.get("issue")), c["id"]


def test_error_members_are_spelled_as_botocore_models_them():
    """The body member holding the message is the one botocore's model names (and copies into
    the response): ResourceNotFoundException has "Message", InvalidParameterValueException "message"."""
    from lambda_widget.front.shapes import ERRORS

    model = boto3.session.Session().client("lambda", region_name="us-east-1").meta.service_model
    for shape in model.error_shapes:
        if shape.name in ERRORS:
            status, key, typed = ERRORS[shape.name]
            assert key in shape.members, (shape.name, list(shape.members))
            assert typed == ("Type" in shape.members)
            assert status == shape.metadata["error"]["httpStatusCode"], shape.name
