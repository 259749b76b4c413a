"""The front tried as a hostile client would (issue 18's findings), one regression test each:
function URLs own their framing, what AWS would refuse gets AWS's 502, malformed requests get
AWS-shaped 4xx (never a 500 with an exception's text, an HTML page or a host path), IPv4-mapped
loopback is loopback, bad ports are one line, and code deployed through the API lasts."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import urllib.request
import zipfile

import boto3
import pytest
from botocore.config import Config

import lambda_widget as lw
from lambda_widget.front.server import host_name, is_loopback

ROLE = "arn:aws:iam::123456789012:role/lambda-role"
# The function URL's handler answers with the response the request's body describes.
RESPONDER = "import json\n\n\ndef handler(event, context):\n    return json.loads(event['body'])\n"


@pytest.fixture(scope="module")
def served():
    with lw.ContainerManager(seed=5) as mgr, mgr.serve() as endpoint:
        mgr.register("responder", RESPONDER, handler="handler")
        url = mgr.function_url("responder")
        yield mgr, endpoint, int(url.rsplit(":", 1)[1].strip("/"))


def client(endpoint):
    return boto3.client("lambda", endpoint_url=endpoint.url, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local",
                        config=Config(retries={"max_attempts": 0, "mode": "standard"}, read_timeout=120))


def exchange(port: int, *requests: bytes, host: str = "127.0.0.1") -> bytes:
    """Send ``requests`` on one connection (pipelined) and read until the server closes it."""
    with socket.create_connection((host, port), timeout=60) as conn:
        conn.sendall(b"".join(requests))
        conn.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    return data


def url_request(response: dict, close: bool = False, method: str = "POST") -> bytes:
    body = json.dumps(response).encode()
    return (f"{method} / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{'Connection: close' + chr(13) + chr(10) if close else ''}\r\n"
            ).encode() + body


def responses(data: bytes) -> list[tuple[int, list[tuple[str, str]], bytes]]:
    """Split a connection's bytes into responses, framed by their Content-Length (none: no body)."""
    out = []
    while data:
        head, sep, data = data.partition(b"\r\n\r\n")
        assert sep, f"a response without the end of its headers: {head!r}"
        lines = head.decode("latin-1").split("\r\n")
        assert lines[0].startswith("HTTP/1.1 "), f"not a status line: {lines[0]!r}"
        headers = [tuple(line.split(": ", 1)) for line in lines[1:]]
        length = int(next((v for k, v in headers if k.lower() == "content-length"), 0))
        out.append((int(lines[0].split()[1]), headers, data[:length]))
        data = data[length:]
    return out


def names(headers) -> list[str]:
    return [k.lower() for k, _ in headers]


# ---------------------------------------------------------------------- function URL framing
def test_the_handlers_framing_headers_are_dropped_and_nothing_is_smuggled(served):
    _, _, port = served
    smuggler = {"statusCode": 200, "body": "hello",
                "headers": {"Content-Length": "0", "Transfer-Encoding": "chunked", "Connection": "keep-alive",
                            "X-Kept": "yes"}}
    data = exchange(port, url_request(smuggler), url_request({"statusCode": 201, "body": "second"}, close=True))
    (s1, h1, b1), (s2, h2, b2) = responses(data)
    assert (s1, b1, s2, b2) == (200, b"hello", 201, b"second")
    assert names(h1).count("content-length") == 1 and dict(h1)["Content-Length"] == "5"
    assert "transfer-encoding" not in names(h1) and "connection" not in names(h1)
    assert dict(h1)["X-Kept"] == "yes"


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_after_204_or_304(served, status):
    _, _, port = served
    data = exchange(port, url_request({"statusCode": status, "body": "HTTP/1.1 200 OK\r\n\r\nsmuggled"}),
                    url_request({"statusCode": 200, "body": "next"}, close=True))
    (s1, h1, b1), (s2, _, b2) = responses(data)
    assert (s1, b1, s2, b2) == (status, b"", 200, b"next")
    assert "content-length" not in names(h1) and "transfer-encoding" not in names(h1)
    assert data.count(b"HTTP/1.1 ") == 2


def test_a_1xx_status_has_no_body_and_ends_the_connection(served):
    _, _, port = served
    data = exchange(port, url_request({"statusCode": 103, "body": "early"}),
                    url_request({"statusCode": 200, "body": "never read"}))
    assert data.startswith(b"HTTP/1.1 103 ") and data.endswith(b"\r\n\r\n") and b"early" not in data
    assert data.count(b"HTTP/1.1 ") == 1


@pytest.mark.parametrize("response", [
    {"statusCode": "201", "body": "x"},
    {"statusCode": 200.7, "body": "x"},
    {"statusCode": True, "body": "x"},
    {"statusCode": 99, "body": "x"},
    {"statusCode": 200, "body": "eA==", "isBase64Encoded": "false"},
    {"statusCode": 200, "cookies": "abc"},
    {"statusCode": 200, "cookies": ["a=1", 2]},
    {"statusCode": 200, "headers": {"X-Bad:Name": "v"}},
    {"statusCode": 200, "headers": {"X-Nul\u0000": "v"}},
    {"statusCode": 200, "headers": {"X-Split": "a\r\nSet-Cookie: evil=1"}},
    {"statusCode": 200, "headers": {"X-Snow": "\u2603"}},
    {"statusCode": 200, "headers": "x"},
], ids=["status-text", "status-float", "status-bool", "status-99", "base64-text", "cookies-text",
        "cookies-number", "header-colon", "header-nul", "header-crlf", "header-not-latin1", "headers-text"])
def test_a_response_aws_would_refuse_is_its_502(served, response):
    _, _, port = served
    data = exchange(port, url_request(response), url_request({"statusCode": 200, "body": "next"}, close=True))
    (s1, h1, b1), (s2, _, b2) = responses(data)
    assert (s1, b1) == (502, b"Internal Server Error")
    assert dict(h1)["Content-Type"] == "text/plain"
    assert (s2, b2) == (200, b"next")  # the connection is still in step
    assert data.count(b"HTTP/1.1 ") == 2 and b"evil" not in data


def test_a_valid_response_keeps_its_cookies_and_base64_body(served):
    _, _, port = served
    data = exchange(port, url_request({"statusCode": 200, "isBase64Encoded": True, "body": "AAEC",
                                       "cookies": ["a=1", "b=2; Path=/"],
                                       "headers": {"Content-Type": "application/octet-stream"}}, close=True))
    [(status, headers, body)] = responses(data)
    assert (status, body) == (200, b"\x00\x01\x02")
    assert [v for k, v in headers if k == "Set-Cookie"] == ["a=1", "b=2; Path=/"]


# ---------------------------------------------------------------------- malformed requests
@pytest.mark.parametrize("length", ["-1", "abc", "5, 7"])
def test_a_bad_content_length_is_400_not_413(served, length):
    _, endpoint, port = served
    for p in (endpoint.port, port):
        data = exchange(p, (f"POST /2015-03-31/functions/responder/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            f"Authorization: AWS4-HMAC-SHA256 Credential=x\r\nContent-Length: {length}\r\n\r\n{{}}"
                            ).encode())
        [(status, headers, body)] = responses(data)
        assert status == 400, data
        assert dict(headers).get("Connection") == "close"
        assert b"Traceback" not in body and b"/" not in body.replace(b"/2015", b"")


def test_patch_head_and_a_garbled_request_line_get_aws_shaped_json(served):
    _, endpoint, _ = served
    auth = "Authorization: AWS4-HMAC-SHA256 Credential=x\r\n"
    data = exchange(endpoint.port, f"PATCH /2015-03-31/functions/responder HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}"
                                   f"Content-Length: 0\r\nConnection: close\r\n\r\n".encode())
    [(status, headers, body)] = responses(data)
    assert status == 404 and dict(headers)["x-amzn-ErrorType"] == "UnknownOperationException"
    assert json.loads(body)["Type"] == "User" if "Type" in json.loads(body) else True
    assert b"<html" not in body.lower() and b"<!doctype" not in body.lower()
    data = exchange(endpoint.port, f"HEAD /2015-03-31/functions HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}"
                                   f"Connection: close\r\n\r\n".encode())
    assert data.startswith(b"HTTP/1.1 ") and data.endswith(b"\r\n\r\n")  # no body after HEAD
    data = exchange(endpoint.port, b"GARBAGE\r\n\r\n")
    [(status, headers, body)] = responses(data)
    assert status == 400 and dict(headers)["Content-Type"] == "application/json"
    assert "message" in json.loads(body) and b"<html" not in body.lower()


def make_zip(entries: list[tuple[str, str]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in entries:
            z.writestr(zipfile.ZipInfo(name), data)
    return buf.getvalue()


@pytest.mark.parametrize("entries", [
    [("a", "x"), ("a/b.py", "x = 1")],
    [("/".join(["d"] * 3000) + "/app.py", "x = 1"), ("app.py", "def handler(e, c):\n    return 1\n")],
    [("x" * 300 + ".py", "x = 1")],
], ids=["file-and-directory", "3000-levels", "name-too-long"])
def test_zips_that_cannot_be_unpacked_are_400(served, entries):
    mgr, endpoint, _ = served
    c = client(endpoint)
    with pytest.raises(c.exceptions.InvalidParameterValueException) as exc:
        c.create_function(FunctionName="unpackable", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                          Code={"ZipFile": make_zip(entries)})
    response = exc.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Message"] == ("Could not unzip uploaded file. Please check your file, then try to "
                                            "upload again.")
    assert str(mgr._root) not in json.dumps(response)  # no host path
    assert "unpackable" not in mgr.functions
    assert not list((mgr._root / "uploads").glob("unpackable-*"))  # nothing left behind


def signed_post(port: int, path: str, body: bytes) -> tuple[int, dict, bytes]:
    data = exchange(port, (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: AWS4-HMAC-SHA256 "
                           f"Credential=x\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body)
    [(status, headers, answer)] = responses(data)
    return status, dict(headers), answer


@pytest.mark.parametrize("field, value", [("Environment", "x"), ("Timeout", "3"), ("MemorySize", True),
                                          ("Environment", {"Variables": {"A": 1}}), ("Code", [])])
def test_wrongly_typed_members_are_400(served, field, value):
    _, endpoint, _ = served
    request = {"FunctionName": "typed", "Runtime": "python3.12", "Role": ROLE, "Handler": "app.handler",
               "Code": {"ZipFile": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="}, field: value}
    status, headers, body = signed_post(endpoint.port, "/2015-03-31/functions", json.dumps(request).encode())
    assert status == 400 and headers["x-amzn-ErrorType"] == "InvalidRequestContentException"
    assert json.loads(body)["message"].startswith("Could not parse request body into json: ")


def test_an_internal_failure_is_a_service_exception_without_its_text(served, monkeypatch):
    mgr, endpoint, _ = served
    from lambda_widget.front.lambda_api import LambdaApiHandler

    def broken(self):
        raise RuntimeError(f"secret detail at {mgr._root}")

    monkeypatch.setattr(LambdaApiHandler, "_op_ListFunctions", broken)
    c = client(endpoint)
    with pytest.raises(c.exceptions.ServiceException) as exc:
        c.list_functions()
    text = json.dumps(exc.value.response)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert "secret" not in text and str(mgr._root) not in text and "RuntimeError" not in text


def test_arns_of_another_region_or_account_are_refused_as_aws_refuses_them(served):
    mgr, endpoint, _ = served
    c = client(endpoint)
    with pytest.raises(c.exceptions.ResourceNotFoundException) as exc:
        c.invoke(FunctionName=f"arn:aws:lambda:eu-west-1:{mgr.account_id}:function:responder")
    assert exc.value.response["Error"]["Message"] == \
        "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"
    for call in (lambda: c.invoke(FunctionName="arn:aws:lambda:us-east-1:999999999999:function:responder"),
                 lambda: c.get_function(FunctionName="999999999999:function:responder")):
        with pytest.raises(c.exceptions.ClientError) as exc:
            call()
        assert exc.value.response["Error"]["Code"] == "AccessDeniedException"
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    own = f"arn:aws:lambda:us-east-1:{mgr.account_id}:function:responder"
    assert c.get_function(FunctionName=own)["Configuration"]["FunctionName"] == "responder"


# ---------------------------------------------------------------------- loopback and ports
def test_ipv4_mapped_loopback_is_loopback():
    assert is_loopback("::ffff:127.0.0.1") and is_loopback("::1") and is_loopback("127.0.0.2")
    assert not is_loopback("::ffff:10.0.0.1") and not is_loopback("10.0.0.1")
    assert host_name("[::1]:3001") == "::1" and host_name("[::1]") == "::1"
    assert host_name("localhost:3001") == "localhost" and host_name("::1") == "::1"


def _dual_stack() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            s.bind(("::", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _dual_stack(), reason="no dual-stack IPv6 on this machine")
def test_serve_on_all_ipv6_addresses_treats_127_0_0_1_as_local():
    with lw.ContainerManager() as mgr:
        with pytest.warns(lw.front.FrontWarning):
            endpoint = mgr.serve(host="::")
        run_dual_stack(mgr, endpoint)


def run_dual_stack(mgr, endpoint) -> None:
    with endpoint:
        mgr.register("echo", "def lambda_handler(event, context):\n    return 1\n")
        local = boto3.client("lambda", endpoint_url=f"http://127.0.0.1:{endpoint.port}", region_name="us-east-1",
                             aws_access_key_id="a", aws_secret_access_key="b",
                             config=Config(retries={"max_attempts": 0}))
        assert [f["FunctionName"] for f in local.list_functions()["Functions"]] == ["echo"]  # not 403


@pytest.mark.parametrize("args", [["--port", "-1"], ["--port", "70000"], ["--api-port", "65536"]])
def test_serve_refuses_a_bad_port_in_one_line(tmp_path, args):
    handler = tmp_path / "h.py"
    handler.write_text("def lambda_handler(event, context):\n    return 1\n")
    done = subprocess.run([sys.executable, "-m", "lambda_widget.cli", "serve", str(handler), *args],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "65535" in done.stderr and args[1] in done.stderr


def test_serve_from_python_refuses_a_bad_port():
    with lw.ContainerManager() as mgr:
        with pytest.raises(ValueError, match="65535"):
            mgr.serve(port=70000)


# ---------------------------------------------------------------------- code deployed through the API
PACKAGE = {
    "app.py": "from helpers import shout\n\n\ndef handler(event, context):\n    return shout(event.get('w', 'hi'))\n",
    "helpers.py": "def shout(word):\n    return word.upper() + '!'\n",
}


def test_code_created_through_the_api_can_be_tuned_simulated_and_downloaded(served):
    mgr, endpoint, _ = served
    c = client(endpoint)
    zipped = make_zip(list(PACKAGE.items()))
    c.create_function(FunctionName="packaged", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                      Code={"ZipFile": zipped})
    tuned = mgr.power_tune("packaged", {"w": "a"}, memory_sizes=[128, 256], num=5)
    assert [row.memory_mb for row in tuned.rows] == [128, 256]
    result = lw.traffic.simulate(lw.traffic.poisson(1.0), 60, function="packaged", manager=mgr, seed=1)
    assert result.config["measured"]["failed"] == 0 and len(result.config["measured"]["warm_ms"]) == 10
    got = c.get_function(FunctionName="packaged")
    with urllib.request.urlopen(got["Code"]["Location"], timeout=30) as answer:
        assert answer.read() == zipped
    assert got["Configuration"]["CodeSize"] == len(zipped)
    assert got["Configuration"]["Role"] == ROLE


def test_simulate_refuses_when_the_measured_runs_fail(served):
    mgr, _, _ = served
    mgr.register("broken-package", "import nothing_here\n\n\ndef lambda_handler(event, context):\n    return 1\n")
    with pytest.raises(lw.traffic.MeasurementFailed, match="run 1 of 13 .cold. failed: Runtime.ImportModuleError"):
        lw.traffic.simulate(lw.traffic.poisson(1.0), 60, function="broken-package", manager=mgr)


def test_the_code_location_needs_its_token_and_a_local_client(served):
    mgr, endpoint, _ = served
    location = client(endpoint).get_function(FunctionName="responder")["Code"]["Location"]
    with urllib.request.urlopen(location, timeout=30) as answer:
        files = zipfile.ZipFile(io.BytesIO(answer.read())).namelist()
    assert files == ["lambda_function.py"]  # a notebook function's module
    forged = location.split("?token=")[0] + "?token=guess"
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(forged, timeout=30)
    assert exc.value.code == 403


def test_the_upload_directory_lives_with_the_manager(tmp_path):
    with lw.ContainerManager() as mgr, mgr.serve() as endpoint:
        client(endpoint).create_function(FunctionName="kept", Runtime="python3.12", Role=ROLE,
                                         Handler="app.handler", Code={"ZipFile": make_zip(list(PACKAGE.items()))})
        path = mgr.function("kept").path
        assert path and os.path.isfile(os.path.join(path, "helpers.py"))
    assert not os.path.exists(path)
