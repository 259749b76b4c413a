"""Routes answer as ``sam local start-api`` answers them: aws-sam-cli's own start_api templates
(tests/data/sam/sam-cli-start-api, copied from aws/aws-sam-cli with their handlers), requested as
its integration tests (tests/integration/local/start_api/test_start_api.py) request them, with the
status and body those tests expect. Where lambda_widget answers otherwise on purpose, the test
says so and why (``DIFFERENCES``)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import lambda_widget as lw
from lambda_widget.front import serve_api
from lambda_widget.project.sam import load

DATA = Path(__file__).parent / "data" / "sam" / "sam-cli-start-api"
GIF = (DATA / "binarydata.gif").read_bytes()
HELLO = {"hello": "world"}


def call(base: str, method: str, path: str, data: bytes | None = None, headers: dict | None = None):
    """(status, headers as {lower name: [values]}, body) of one request; HTTP errors are answers too."""
    headers = {"Accept": "*/*", **(headers or {})}  # what python-requests sends, as the sam-cli tests do
    req = urllib.request.Request(base.rstrip("/") + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            status, head, body = r.status, r.headers, r.read()
    except urllib.error.HTTPError as exc:
        status, head, body = exc.code, exc.headers, exc.read()
    out: dict[str, list[str]] = {}
    for key, value in head.items():
        out.setdefault(key.lower(), []).append(value)
    return status, out, body


@pytest.fixture(scope="module")
def apis():
    with lw.ContainerManager(seed=19) as mgr:
        rest = load(mgr, DATA / "template.yaml", logical_ids=True)
        rest_api = serve_api(mgr, rest.routes)
        # a second manager-free port per template: each sam local run serves one template
        http = load(mgr, DATA / "template-http-api.yaml", logical_ids=True)
        http_api = serve_api(mgr, http.routes)
        both = load(mgr, DATA / "template-rest-and-http-apis.yaml")
        both_api = serve_api(mgr, both.routes)
        swagger = load(mgr, DATA / "swagger-template.yaml")
        swagger_api = serve_api(mgr, swagger.routes)
        swagger_http = load(mgr, DATA / "swagger-template-http-api.yaml")
        swagger_http_api = serve_api(mgr, swagger_http.routes)
        yield {"rest": rest_api.url, "http": http_api.url, "both": both_api.url, "swagger": swagger_api.url,
               "swagger-http": swagger_http_api.url, "mgr": mgr, "port": rest_api.url.rsplit(":", 1)[1].strip("/")}


def json_of(body: bytes):
    return json.loads(body)


# (test in test_start_api.py, api, method, path, request body, request headers, status, check of the answer)
CASES = [
    # TestService (template.yaml)
    ("test_calling_proxy_endpoint", "rest", "GET", "/proxypath/this/is/some/path", None, {}, 200,
     lambda h, b: json_of(b) == HELLO),
    ("test_get_call_with_path_setup_with_any_implicit_api", "rest", "GET", "/anyandall", None, {}, 200,
     lambda h, b: json_of(b) == HELLO),
    ("test_post_call_with_path_setup_with_any_implicit_api", "rest", "POST", "/anyandall", b"{}",
     {"Content-Type": "application/json"}, 200, lambda h, b: json_of(b) == HELLO),
    ("test_put_call_with_path_setup_with_any_implicit_api", "rest", "PUT", "/anyandall", b"{}",
     {"Content-Type": "application/json"}, 200, lambda h, b: json_of(b) == HELLO),
    ("test_head_call_with_path_setup_with_any_implicit_api", "rest", "HEAD", "/anyandall", None, {}, 200, None),
    ("test_delete_call_with_path_setup_with_any_implicit_api", "rest", "DELETE", "/anyandall", None, {}, 200,
     lambda h, b: json_of(b) == HELLO),
    ("test_options_call_with_path_setup_with_any_implicit_api", "rest", "OPTIONS", "/anyandall", None, {}, 200,
     None),
    ("test_patch_call_with_path_setup_with_any_implicit_api", "rest", "PATCH", "/anyandall", None, {}, 200,
     lambda h, b: json_of(b) == HELLO),
    # TestServiceErrorResponses
    ("test_invalid_http_verb_for_endpoint", "rest", "GET", "/id", None, {}, 403,
     lambda h, b: json_of(b) == {"message": "Missing Authentication Token"}),
    ("test_invalid_response_from_lambda", "rest", "GET", "/invalidresponsereturned", None, {}, 502,
     lambda h, b: json_of(b) == {"message": "Internal server error"}),
    ("test_invalid_json_response_from_lambda", "rest", "GET", "/invalidresponsehash", None, {}, 502,
     lambda h, b: json_of(b) == {"message": "Internal server error"}),
    # TestServiceResponses
    ("test_multiple_headers_response", "rest", "GET", "/multipleheaders", None, {}, 200,
     lambda h, b: h["content-type"] == ["text/plain"] and ", ".join(h["mycustomheader"]) == "Value1, Value2"),
    ("test_multiple_headers_overrides_headers_response", "rest", "GET", "/multipleheadersoverridesheaders", None,
     {}, 200, lambda h, b: h["content-type"] == ["text/plain"]
     and ", ".join(h["mycustomheader"]) == "Value1, Value2, Custom"),
    ("test_binary_response", "rest", "GET", "/base64response", None, {}, 200,
     lambda h, b: h["content-type"] == ["image/gif"] and b == GIF),
    ("test_default_header_content_type", "rest", "GET", "/onlysetstatuscode", None, {}, 200,
     lambda h, b: b == b"" and h["content-type"] == ["application/json"]),
    ("test_default_status_code", "rest", "GET", "/onlysetbody", None, {}, 200, lambda h, b: json_of(b) == HELLO),
    ("test_slash_after_url_path", "rest", "GET", "/onlysetbody/", None, {}, 200, lambda h, b: json_of(b) == HELLO),
    ("test_string_status_code", "rest", "GET", "/stringstatuscode", None, {}, 200, None),
    ("test_function_writing_to_stdout", "rest", "GET", "/writetostdout", None, {}, 200,
     lambda h, b: json_of(b) == HELLO),
    ("test_function_writing_to_stderr", "rest", "GET", "/writetostderr", None, {}, 200,
     lambda h, b: json_of(b) == HELLO),
    ("test_integer_body", "rest", "GET", "/echo_integer_body", None, {}, 200, lambda h, b: b == b"42"),
    # TestServiceRequests
    ("test_binary_request", "rest", "POST", "/echobase64eventbody", GIF, {"Content-Type": "image/gif"}, 200,
     lambda h, b: h["content-type"] == ["image/gif"] and b == GIF),
    ("test_request_with_form_data", "rest", "POST", "/echoeventbody", b"key=value",
     {"Content-Type": "application/x-www-form-urlencoded"}, 200,
     lambda h, b: json_of(b)["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
     and json_of(b)["body"] == "key=value"),
    ("test_request_to_an_endpoint_with_two_different_handlers", "rest", "GET", "/echoeventbody", None, {}, 200,
     lambda h, b: json_of(b)["handler"] == "echo_event_handler_2"),
    ("test_request_with_multi_value_headers", "rest", "GET", "/echoeventbody", None,
     {"Content-Type": "application/x-www-form-urlencoded, image/gif"}, 200,
     lambda h, b: json_of(b)["multiValueHeaders"]["Content-Type"] == ["application/x-www-form-urlencoded, image/gif"]
     and json_of(b)["headers"]["Content-Type"] == "application/x-www-form-urlencoded, image/gif"),
    ("test_request_with_query_params", "rest", "GET", "/id/4?key=value", None, {}, 200,
     lambda h, b: json_of(b)["queryStringParameters"] == {"key": "value"}
     and json_of(b)["multiValueQueryStringParameters"] == {"key": ["value"]}),
    ("test_request_with_list_of_query_params", "rest", "GET", "/id/4?key=value&key=value2", None, {}, 200,
     lambda h, b: json_of(b)["queryStringParameters"] == {"key": "value2"}
     and json_of(b)["multiValueQueryStringParameters"] == {"key": ["value", "value2"]}),
    ("test_request_with_path_params", "rest", "GET", "/id/4", None, {}, 200,
     lambda h, b: json_of(b)["pathParameters"] == {"id": "4"}),
    ("test_request_with_many_path_params", "rest", "GET", "/id/4/user/jacob", None, {}, 200,
     lambda h, b: json_of(b)["pathParameters"] == {"id": "4", "user": "jacob"}),
    # TestStartApiWithStage
    ("test_default_stage_name", "rest", "GET", "/echoeventbody", None, {}, 200,
     lambda h, b: json_of(b)["requestContext"]["stage"] == "Prod"),
    ("test_global_stage_variables", "rest", "GET", "/echoeventbody", None, {}, 200,
     lambda h, b: json_of(b)["stageVariables"] == {"VarName": "varValue"}),
    # TestServiceCorsGlobalRequests: Globals.Api.Cors "'*''" answers OPTIONS itself, with or without Origin
    ("test_cors_global[https://abc]", "rest", "OPTIONS", "/echobase64eventbody", None, {"Origin": "https://abc"},
     200, lambda h, b: h["access-control-allow-origin"] == ["*"] and "access-control-allow-headers" not in h
     and h["access-control-allow-methods"] == ["DELETE,GET,HEAD,OPTIONS,PATCH,POST,PUT"]
     and "access-control-allow-credentials" not in h and "access-control-max-age" not in h),
    ("test_cors_global[None]", "rest", "OPTIONS", "/echobase64eventbody", None, {}, 200,
     lambda h, b: h["access-control-allow-origin"] == ["*"]
     and h["access-control-allow-methods"] == ["DELETE,GET,HEAD,OPTIONS,PATCH,POST,PUT"]),
    # TestServiceHTTP10LMI (a capacity-provider function runs as any other here)
    ("test_capacity_provider_api_http10", "rest", "GET", "/capacity-provider/anyandall", None, {}, 200,
     lambda h, b: json_of(b)["message"] == "Hello world capacity provider" and "max_concurrency" in json_of(b)),
    # TestServiceWithHttpApi (template-http-api.yaml)
    ("http: test_calling_proxy_endpoint", "http", "GET", "/proxypath/this/is/some/path", None, {}, 200,
     lambda h, b: json_of(b) == HELLO),
    ("http: test_get_call_with_path_setup_with_any_implicit_api", "http", "GET", "/anyandall", None, {}, 200,
     lambda h, b: json_of(b) == HELLO),
    ("http: test_post_call_with_path_setup_with_any_implicit_api", "http", "POST", "/anyandall", b"{}",
     {"Content-Type": "application/json"}, 200, lambda h, b: json_of(b) == HELLO),
    ("http: test_head_call_with_path_setup_with_any_implicit_api", "http", "HEAD", "/anyandall", None, {}, 200,
     None),
    ("http: test_delete_call_with_path_setup_with_any_implicit_api", "http", "DELETE", "/anyandall", None, {},
     200, lambda h, b: json_of(b) == HELLO),
    ("http: test_capacity_provider_http_api", "http", "GET", "/capacity-provider/anyandall", None, {}, 200,
     lambda h, b: json_of(b)["message"] == "Hello world capacity provider"),
    ("test_valid_v2_lambda_json_response", "http", "GET", "/validv2responsehash", None, {}, 200,
     lambda h, b: json_of(b) == {"foo": "bar"}),
    ("test_invalid_v1_lambda_json_response", "http", "GET", "/invalidv1responsehash", None, {}, 502,
     lambda h, b: json_of(b) == {"message": "Internal server error"}),
    ("test_valid_v2_lambda_string_response", "http", "GET", "/validv2responsestring", None, {}, 200,
     lambda h, b: b == b"This is invalid"),
    ("test_valid_v2_lambda_integer_response", "http", "GET", "/validv2responseinteger", None, {}, 200,
     lambda h, b: b == b"2"),
    ("test_v2_lambda_response_skip_unexpected_fields", "http", "GET", "/invalidv2response", None, {}, 200,
     lambda h, b: json_of(b) == HELLO),
    ("test_invalid_v1_lambda_string_response", "http", "GET", "/invalidv1responsestring", None, {}, 502,
     lambda h, b: json_of(b) == {"message": "Internal server error"}),
    # TestStartApiWithSwaggerApis (swagger-template.yaml: routes of a DefinitionBody)
    ("swagger: test_get_call_with_path_setup_with_any_swagger", "swagger", "GET", "/anyandall", None, {}, 200,
     lambda h, b: json_of(b) == HELLO),
    ("test_parse_swagger_body_with_non_case_sensitive_integration_type", "swagger", "GET", "/nonsensitiveanyandall",
     None, {}, 200, lambda h, b: json_of(b) == HELLO),
    ("swagger: test_post_call_with_path_setup_with_any_swagger", "swagger", "POST", "/anyandall", b"{}",
     {"Content-Type": "application/json"}, 200, lambda h, b: json_of(b) == HELLO),
    ("swagger: test_delete_call_with_path_setup_with_any_swagger", "swagger", "DELETE", "/anyandall", None, {}, 200,
     lambda h, b: json_of(b) == HELLO),
    ("swagger: test_options_call_with_path_setup_with_any_swagger", "swagger", "OPTIONS", "/anyandall", None, {}, 200,
     None),
    ("test_function_not_defined_in_template", "swagger", "GET", "/nofunctionfound", None, {}, 502,
     lambda h, b: json_of(b) == {"message": "No function defined for resource method"}),
    ("test_function_with_no_api_event_is_reachable", "swagger", "GET", "/functionwithnoapievent", None, {}, 200,
     lambda h, b: json_of(b) == HELLO),
    ("test_lambda_function_resource_is_reachable", "swagger", "GET", "/nonserverlessfunction", None, {}, 200,
     lambda h, b: json_of(b) == HELLO),
    ("swagger: test_binary_request", "swagger", "POST", "/echobase64eventbody", GIF, {"Content-Type": "image/gif"},
     200, lambda h, b: h["content-type"] == ["image/gif"] and b == GIF),
    ("swagger: test_binary_response", "swagger", "GET", "/base64response", None, {}, 200,
     lambda h, b: h["content-type"] == ["image/gif"] and b == GIF),
    ("test_non_decoded_binary_response", "swagger", "GET", "/nondecodedbase64response", None, {}, 200,
     lambda h, b: h["content-type"] == ["image/gif"] and b == base64.b64encode(GIF)),
    ("test_decoded_binary_response_base64encoded_field", "swagger", "GET", "/decodedbase64responsebas64encoded",
     None, {}, 200, lambda h, b: h["content-type"] == ["image/gif"] and b == GIF),
    ("test_decoded_binary_response_base64encoded_field_is_priority", "swagger", "GET",
     "/decodedbase64responsebas64encodedpriority", None, {}, 200,
     lambda h, b: h["content-type"] == ["image/gif"] and b == base64.b64encode(GIF)),
    # TestStartApiWithSwaggerHttpApis (swagger-template-http-api.yaml)
    ("swagger-http: test_get_call_with_path_setup_with_any_swagger", "swagger-http", "GET", "/httpapi-anyandall",
     None, {}, 200, lambda h, b: json_of(b) == HELLO),
    ("swagger-http: test_patch_call_with_path_setup_with_any_swagger", "swagger-http", "PATCH",
     "/httpapi-anyandall", None, {}, 200, lambda h, b: json_of(b) == HELLO),
    ("test_http_api_payload_v1_should_not_have_operation_id", "swagger-http", "GET", "/httpapi-operation-id-v1",
     None, {}, 200, lambda h, b: json_of(b)["version"] == "1.0"
     and not {"operationid", "operationname"} & {k.lower() for k in json_of(b)["requestContext"]}),
    ("test_http_api_payload_v2_should_not_have_operation_id", "swagger-http", "GET", "/httpapi-operation-id-v2",
     None, {}, 200, lambda h, b: json_of(b)["version"] == "2.0"
     and not {"operationid", "operationname"} & {k.lower() for k in json_of(b)["requestContext"]}),
    # TestServerlessTemplateWithRestApiAndHttpApiGateways (template-rest-and-http-apis.yaml)
    ("test_http_api_is_reachable", "both", "GET", "/http-api", None, {}, 200, lambda h, b: json_of(b) == HELLO),
    ("test_rest_api_is_reachable", "both", "GET", "/rest-api", None, {}, 200, lambda h, b: json_of(b) == HELLO),
]


@pytest.mark.parametrize("name, api, method, path, data, headers, status, check", CASES,
                         ids=[c[0] for c in CASES])
def test_route_answers_as_sam_local(apis, name, api, method, path, data, headers, status, check):
    got, head, body = call(apis[api], method, path, data, headers)
    assert got == status, body[:300]
    if check is not None:
        assert check(head, body), (head, body[:500])


def test_at_least_thirty_routes_match():
    assert len(CASES) >= 30


def test_forward_headers_are_added_to_event(apis):
    status, _, body = call(apis["rest"], "GET", "/id/4")
    event = json_of(body)
    assert event["headers"]["X-Forwarded-Proto"] == "http"
    assert event["multiValueHeaders"]["X-Forwarded-Proto"] == ["http"]
    assert event["headers"]["X-Forwarded-Port"] == apis["port"]
    assert event["multiValueHeaders"]["X-Forwarded-Port"] == [apis["port"]]


def test_path_parameters_arrive_decoded_and_the_rest_path_as_sent(apis):
    # pathParameters decoded (sam local, API Gateway); a REST API's `path` keeps the client's
    # encoding, an HTTP API's path arrives decoded (live captures of API Gateway).
    _, _, body = call(apis["rest"], "GET", "/id/ada%20lovelace/user/b%2Fc")
    event = json_of(body)
    assert event["pathParameters"] == {"id": "ada lovelace", "user": "b/c"}
    assert event["path"] == "/id/ada%20lovelace/user/b%2Fc"
    _, _, body = call(apis["http"], "GET", "/id/ada%20lovelace")
    event = json_of(body)
    assert event["pathParameters"] == {"id": "ada lovelace"}
    assert event["rawPath"] == "/id/ada lovelace"
    assert event["requestContext"]["authentication"] is None


def test_a_large_request_reaches_the_function(apis):
    data = b"a" * (6 * 1024 * 1024 - 4 * 1024)  # under 6 MB with the event around it
    status, _, body = call(apis["rest"], "POST", "/echoeventbody", data)
    assert status == 200 and json_of(body)["body"] == data.decode()


def test_an_http_api_route_with_payload_1_0_gets_a_1_0_event(apis):
    mgr = apis["mgr"]
    status, _, _ = call(apis["http"], "GET", "/invalidv1responsehash")
    assert status == 502
    event = mgr.history[-1].event
    assert event["version"] == "1.0" and event["httpMethod"] == "GET" and "multiValueHeaders" in event


# Where lambda_widget answers otherwise than sam local, on purpose.
DIFFERENCES = {
    # sam local takes a returned dict shaped like an error ({"errorType", "errorMessage"}) for a function
    # error (500); API Gateway (and lambda_widget) see a successful result: a payload-2.0 dict without
    # statusCode is the JSON body, with status 200.
    "test_invalid_lambda_json_body_response": ("http", "/invalidresponsebody", 200),
    # sam local refuses InlineCode (501); lambda_widget runs it. Its handler returns a string, which
    # a REST API cannot map: 502.
    "test_function_with_inline_code_endpoint": ("inline", "/inlinecode", 502),
}


def test_the_documented_differences(apis, tmp_path):
    status, _, body = call(apis["http"], "GET", "/invalidresponsebody")
    assert (status, json_of(body)) == (200, {"errorType": "Error", "errorMessage": ""})
    with lw.ContainerManager() as mgr:
        project = load(mgr, DATA / "template-inlinecode.yaml")
        with serve_api(mgr, project.routes) as api:
            assert call(api.url, "GET", "/no_inlinecode")[0] == 200
            status, _, body = call(api.url, "GET", "/inlinecode")
            assert status == 502 and json_of(body) == {"message": "Internal server error"}
            assert mgr.history[-1].result == "do nothing"


def test_binary_body_is_not_decoded_without_a_binary_accept(apis):
    # A REST API decodes a base64 body only if the client accepts a binary media type of the API.
    status, head, body = call(apis["rest"], "GET", "/base64response", headers={"Accept": "text/html"})
    assert status == 200 and base64.b64decode(body) == GIF


def test_cors_preflight_is_answered_without_an_invocation(apis):
    mgr = apis["mgr"]
    before = len(mgr.history)
    status, head, _ = call(apis["rest"], "OPTIONS", "/id/4")
    assert status == 200 and head["access-control-allow-origin"] == ["*"]
    assert len(mgr.history) == before
    status, head, _ = call(apis["rest"], "GET", "/id/4")  # and every response carries the API's CORS headers
    assert status == 200 and head["access-control-allow-origin"] == ["*"]


HTTP_CORS = """\
Transform: AWS::Serverless-2016-10-31
Description: aws-sam-cli's template-cors.yaml, with a handler of its own and stage variables
Resources:
  MyHttpApi:
    Type: AWS::Serverless::HttpApi
    Properties:
      StageName: foo
      StageVariables:
        Color: blue
      CorsConfiguration:
        AllowCredentials: true
        AllowHeaders: [Accept, My-Custom-Header]
        AllowMethods: [GET, POST, PUT, DELETE, PATCH]
        AllowOrigins: [https://abc, http://xyz:3000]
        MaxAge: 3600
  TestFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: .
      InlineCode: |
        def handler(event, context):
            return {"stage": event["requestContext"]["stage"], "vars": event.get("stageVariables")}
      Events:
        Post:
          Type: HttpApi
          Properties: {ApiId: !Ref MyHttpApi, Path: /test, Method: post}
"""


def test_an_http_api_answers_cors_to_its_origins_only(tmp_path):
    # as aws-sam-cli's TestServiceCorsComplexHttpApi expects of its template-cors.yaml
    (tmp_path / "template.yaml").write_text(HTTP_CORS)
    with lw.ContainerManager() as mgr:
        project = load(mgr, tmp_path / "template.yaml")
        with serve_api(mgr, project.routes) as api:
            for method in ("OPTIONS", "POST"):
                for origin in ("https://abc", "http://xyz:3000"):
                    status, head, body = call(api.url, method, "/test", b"" if method == "POST" else None,
                                              {"Origin": origin})
                    assert status == 200
                    assert head["access-control-allow-origin"] == [origin]
                    assert head["access-control-allow-headers"] == ["Accept,My-Custom-Header"]
                    assert head["access-control-allow-methods"] == ["DELETE,GET,OPTIONS,PATCH,POST,PUT"]
                    assert head["access-control-allow-credentials"] == ["true"]
                    assert head["access-control-max-age"] == ["3600"]
                for headers in ({"Origin": "https://unknown"}, {}):
                    status, head, _ = call(api.url, method, "/test", b"" if method == "POST" else None, headers)
                    assert status == 200 and not any(k.startswith("access-control-") for k in head)
            status, _, body = call(api.url, "POST", "/test", b"")
            assert json_of(body) == {"stage": "foo", "vars": {"Color": "blue"}}
