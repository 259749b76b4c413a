"""Function URLs through urllib: payload-2.0 events in, Lambda's response mapping out."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

import pytest

import lambda_widget as lw
from lambda_widget import events
from lambda_widget.front import Route, sort_routes

# Answers with what it was given, or with the response the event asks for.
MIRROR = """import base64, json, time


def lambda_handler(event, context):
    query = event.get('queryStringParameters') or {}
    if 'respond' in query:
        return json.loads(base64.b64decode(query['respond']))
    if 'sleep' in query:
        time.sleep(float(query['sleep']))
    if 'fail' in query:
        raise RuntimeError('asked to fail')
    if 'bare' in query:
        return [1, 'two', None]
    if event.get('isBase64Encoded'):
        data = base64.b64decode(event['body'])
        return {'statusCode': 200, 'headers': {'content-type': 'application/octet-stream'},
                'body': base64.b64encode(data[::-1]).decode(), 'isBase64Encoded': True}
    return {'statusCode': 200, 'headers': {'content-type': 'application/json'},
            'body': json.dumps(event)}
"""


@pytest.fixture(scope="module")
def url():
    with lw.ContainerManager(seed=5) as mgr:
        mgr.register("mirror", MIRROR, timeout=1)
        yield mgr, mgr.function_url("mirror")


def fetch(request: urllib.request.Request | str):
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def event_of(url: str, path: str = "", **kwargs) -> dict:
    status, _, body = fetch(urllib.request.Request(url + path, **kwargs))
    assert status == 200, body
    return json.loads(body)


def respond(url: str, response) -> tuple:
    token = base64.urlsafe_b64encode(json.dumps(response).encode()).decode()
    return fetch(f"{url}?respond={token}")


def test_the_url_is_stable_and_every_request_is_an_invocation(url):
    mgr, u = url
    assert mgr.function_url("mirror") == u and u.startswith("http://127.0.0.1:")
    before = len(mgr.history)
    event_of(u, "a")
    assert len(mgr.history) == before + 1 and mgr.history[-1].function_name == "mirror"
    with pytest.raises(lw.ResourceNotFoundException):
        mgr.function_url("nope")


def test_query_strings(url):
    _, u = url
    event = event_of(u, "items/42?tag=a&tag=b&empty=&q=hello%20world")
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/items/42"
    assert event["rawQueryString"] == "tag=a&tag=b&empty=&q=hello%20world"
    assert event["queryStringParameters"] == {"tag": "a,b", "empty": "", "q": "hello world"}
    assert event["requestContext"]["http"]["method"] == "GET"
    assert event["requestContext"]["http"]["path"] == "/items/42"
    assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"
    assert "body" not in event and event["isBase64Encoded"] is False
    plain = event_of(u)
    assert plain["rawPath"] == "/" and plain["rawQueryString"] == ""
    assert "queryStringParameters" not in plain


def test_headers_are_lower_case_and_cookies_separate(url):
    _, u = url
    event = event_of(u, "c", headers={"X-Custom-Thing": "Value", "Cookie": "a=1; b=two"})
    assert event["headers"]["x-custom-thing"] == "Value"
    assert all(k == k.lower() for k in event["headers"])
    assert event["cookies"] == ["a=1", "b=two"]
    assert "cookie" not in event["headers"]


def test_text_and_binary_bodies(url):
    _, u = url
    event = event_of(u, "t", data=b'{"k": "v"}', headers={"Content-Type": "application/json"}, method="POST")
    assert event["body"] == '{"k": "v"}' and event["isBase64Encoded"] is False
    assert event["requestContext"]["http"]["method"] == "POST"
    payload = bytes(range(256))
    status, headers, body = fetch(urllib.request.Request(
        u + "bin", data=payload, headers={"Content-Type": "application/octet-stream"}, method="PUT"))
    assert status == 200 and headers["content-type"] == "application/octet-stream"
    assert body == payload[::-1]  # base64 both ways, and the bytes survive


def test_status_codes_headers_and_cookies_map_back(url):
    _, u = url
    status, headers, body = respond(u, {"statusCode": 418, "headers": {"X-Teapot": "yes"},
                                        "cookies": ["s=1; Path=/", "t=2"], "body": "short and stout"})
    assert status == 418 and body == b"short and stout"
    assert headers["X-Teapot"] == "yes"
    assert headers.get_all("Set-Cookie") == ["s=1; Path=/", "t=2"]
    status, _, body = respond(u, {"statusCode": 204})
    assert status == 204 and body == b""
    status, _, body = respond(u, {"statusCode": 201, "body": {"made": True}})
    assert status == 201 and json.loads(body) == {"made": True}


def test_a_bare_value_is_json_with_200(url):
    _, u = url
    status, headers, body = fetch(u + "?bare=1")
    assert status == 200 and headers["content-type"] == "application/json"
    assert json.loads(body) == [1, "two", None]
    status, _, body = respond(u, {"no": "statusCode"})
    assert status == 200 and json.loads(body) == {"no": "statusCode"}


def test_errors_timeouts_and_bad_responses_are_502(url):
    mgr, u = url
    for query, status_of_inv in (("?fail=1", "failed"), ("?sleep=3", "timed-out")):
        status, _, body = fetch(u + query)
        assert (status, body) == (502, b"Internal Server Error")
        assert mgr.history[-1].status == status_of_inv
    status, _, body = respond(u, {"statusCode": "teapot"})
    assert (status, body) == (502, b"Internal Server Error")


def test_throttled_function_url_is_429():
    with lw.ContainerManager() as mgr:
        mgr.register("none", MIRROR, reserved_concurrency=0)
        status, _, body = fetch(mgr.function_url("none"))
        assert status == 429 and b"Rate Exceeded" in body


def test_a_rebound_host_name_is_refused(url):
    mgr, u = url
    before = len(mgr.history)
    status, _, _ = fetch(urllib.request.Request(u, headers={"Host": "attacker.example"}))
    assert status == 403 and len(mgr.history) == before
    assert fetch(urllib.request.Request(u, headers={"Host": "localhost"}))[0] == 200


def test_too_large_body_is_413(url):
    _, u = url
    status, _, _ = fetch(urllib.request.Request(u, data=b"x" * (6 * 1024 * 1024 + 1), method="POST",
                                                headers={"Content-Type": "text/plain"}))
    assert status == 413


def test_the_front_and_the_apigateway_http_sample_agree(url):
    """The sample event ``lw.events.apigateway_http`` and a real request give the same shape."""
    _, u = url
    real = event_of(u, "hello?tag=a&tag=b&q=1", headers={"Cookie": "a=1; b=2", "User-Agent": "curl/8.5.0",
                                                           "Content-Type": "application/json"},
                    data=b'{"x": 1}', method="POST")
    sample = events.apigateway_http("POST", "/hello", body={"x": 1}, query={"tag": ["a", "b"], "q": "1"},
                                    cookies=["a=1", "b=2"], route_key="$default")
    assert list(real) == list(sample)  # the same keys, in the same order
    assert list(real["requestContext"]) == list(sample["requestContext"])
    assert list(real["requestContext"]["http"]) == list(sample["requestContext"]["http"])
    for key in ("version", "routeKey", "rawPath", "rawQueryString", "cookies", "queryStringParameters",
                "body", "isBase64Encoded"):
        assert real[key] == sample[key], key
    assert real["requestContext"]["routeKey"] == sample["requestContext"]["routeKey"] == "$default"
    assert real["requestContext"]["stage"] == sample["requestContext"]["stage"] == "$default"
    assert real["headers"]["content-type"] == sample["headers"]["content-type"] == "application/json"
    assert real["requestContext"]["http"]["userAgent"] == sample["requestContext"]["http"]["userAgent"]
    assert ".lambda-url.us-east-1.on.aws" in real["requestContext"]["domainName"]
    # A GET without a body or a query leaves the same keys out in both.
    bare = event_of(u, "hello")
    sample_bare = events.apigateway_http("GET", "/hello", route_key="$default")
    assert list(bare) == list(sample_bare)


def test_route_matching_as_sam_local_start_api():
    routes = sort_routes([Route("ANY", "/{proxy+}", "catch"), Route("GET", "/items/{id}", "item"),
                          Route("GET", "/items/new", "new"), Route("ANY", "$default", "default")])
    def first(method: str, path: str):
        for r in routes:
            params = r.match(method, path)
            if params is not None:
                return r.function, params
    assert first("GET", "/items/new") == ("new", {})
    assert first("GET", "/items/7") == ("item", {"id": "7"})
    assert first("POST", "/items/7") == ("catch", {"proxy": "items/7"})
    assert first("GET", "/a/b/c") == ("catch", {"proxy": "a/b/c"})
    assert routes[-1].route_key == "$default"
    assert Route("GET", "/items/{id}", "item").route_key == "GET /items/{id}"
