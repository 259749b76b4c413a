"""Sample events shaped like the ones AWS services send to Lambda.

Each function takes the fields a lesson would change as keyword arguments and
returns a fresh, JSON-serialisable dict. Ids and timestamps are fixed (derived
from the arguments) unless given, so a lesson shows the same event every run::

    lw.events.s3_put(bucket="photos", key="cat.jpg", size=2048)
    lw.events.sqs(messages=["a", {"order": 7}])

``SAMPLES`` maps the short names used by ``%lambda invoke NAME --sample s3-put``
and ``lw.invoke(name, sample="s3-put")`` to these functions.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote_plus, urlencode

__all__ = [
    "DEFAULT_TIME",
    "SAMPLES",
    "apigateway_http",
    "apigateway_rest",
    "dynamodb_stream",
    "eventbridge_schedule",
    "s3_put",
    "sample",
    "sns",
    "sqs",
    "to_dynamodb_json",
]

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
DEFAULT_TIME = datetime.datetime(2024, 1, 15, 12, 0, 0, tzinfo=datetime.timezone.utc)
SOURCE_IP = "203.0.113.10"  # TEST-NET-3: documentation addresses only
USER_AGENT = "curl/8.5.0"
_NAMESPACE = uuid.UUID("5a3c4f2e-2b7d-4c89-9a51-6f0e1d2c3b4a")

Time = datetime.datetime | str | None


# ---------------------------------------------------------------------- helpers
def _time(value: Time) -> datetime.datetime:
    if value is None:
        return DEFAULT_TIME
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc)


def _iso_ms(t: datetime.datetime) -> str:
    """``2024-01-15T12:00:00.000Z`` (S3, SNS)."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _iso_s(t: datetime.datetime) -> str:
    """``2024-01-15T12:00:00Z`` (EventBridge)."""
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _clf(t: datetime.datetime) -> str:
    """API Gateway's request time: ``15/Jan/2024:12:00:00 +0000``."""
    return t.strftime("%d/%b/%Y:%H:%M:%S +0000")


def _epoch_ms(t: datetime.datetime) -> int:
    return int(t.timestamp() * 1000)


def _uuid(*parts: Any) -> str:
    """A stable id for the same inputs (AWS ids are random; lessons need repeatable ones)."""
    return str(uuid.uuid5(_NAMESPACE, json.dumps(parts, sort_keys=True, default=str)))


def _hex(n: int, *parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:n]


def _body(body: Any) -> tuple[str | None, bool, str | None]:
    """(body text, isBase64Encoded, content type to add) for an HTTP request body."""
    if body is None:
        return None, False, None
    if isinstance(body, (bytes, bytearray)):
        return base64.b64encode(bytes(body)).decode("ascii"), True, "application/octet-stream"
    if isinstance(body, str):
        return body, False, "text/plain"
    return json.dumps(body), False, "application/json"


def _query_lists(query: Mapping[str, Any] | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in (query or {}).items():
        values = value if isinstance(value, (list, tuple)) else [value]
        out[str(key)] = [str(v) for v in values]
    return out


def _message_text(message: Any) -> str:
    return message if isinstance(message, str) else json.dumps(message)


# ---------------------------------------------------------------------- API Gateway
def apigateway_rest(method: str = "GET", path: str = "/hello", *, body: Any = None,
                    headers: Mapping[str, str] | None = None,
                    query: Mapping[str, Any] | None = None,
                    path_parameters: Mapping[str, str] | None = None,
                    resource: str | None = None, stage: str = "prod",
                    stage_variables: Mapping[str, str] | None = None,
                    source_ip: str = SOURCE_IP, time: Time = None,
                    request_id: str | None = None, api_id: str = "a1b2c3d4e5",
                    account_id: str = ACCOUNT_ID, region: str = REGION) -> dict[str, Any]:
    """A REST API (API Gateway v1) Lambda proxy integration event, payload format 1.0.

    ``query`` values may be lists (``{"tag": ["a", "b"]}``): ``queryStringParameters``
    keeps the last value, ``multiValueQueryStringParameters`` all of them, as AWS does.
    A dict or list ``body`` is sent as JSON text; ``bytes`` as base64.
    """
    t = _time(time)
    method = method.upper()
    text, b64, ctype = _body(body)
    domain = f"{api_id}.execute-api.{region}.amazonaws.com"
    trace = f"Root=1-{int(t.timestamp()):08x}-{_hex(24, 'trace', method, path)}"
    head = {
        "Accept": "*/*",
        "Host": domain,
        "User-Agent": USER_AGENT,
        "X-Amzn-Trace-Id": trace,
        "X-Forwarded-For": source_ip,
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    if ctype:
        head["Content-Type"] = ctype
    head.update(headers or {})
    queries = _query_lists(query)
    rid = request_id or _uuid("apigw-rest", method, path, t.isoformat())
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": head,
        "multiValueHeaders": {k: [v] for k, v in head.items()},
        "queryStringParameters": {k: v[-1] for k, v in queries.items()} or None,
        "multiValueQueryStringParameters": queries or None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": dict(stage_variables) if stage_variables else None,
        "requestContext": {
            "accountId": account_id,
            "apiId": api_id,
            "domainName": domain,
            "domainPrefix": api_id,
            "extendedRequestId": _hex(16, "ext", rid).upper(),
            "httpMethod": method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": source_ip,
                "user": None,
                "userAgent": head.get("User-Agent", USER_AGENT),
                "userArn": None,
            },
            "path": f"/{stage}{path}",
            "protocol": "HTTP/1.1",
            "requestId": rid,
            "requestTime": _clf(t),
            "requestTimeEpoch": _epoch_ms(t),
            "resourceId": _hex(6, "resource", resource or path),
            "resourcePath": resource or path,
            "stage": stage,
        },
        "body": text,
        "isBase64Encoded": b64,
    }


def apigateway_http(method: str = "GET", path: str = "/hello", *, body: Any = None,
                    headers: Mapping[str, str] | None = None,
                    query: Mapping[str, Any] | None = None,
                    cookies: Iterable[str] | None = None,
                    path_parameters: Mapping[str, str] | None = None,
                    route_key: str | None = None, stage: str = "$default",
                    stage_variables: Mapping[str, str] | None = None,
                    source_ip: str = SOURCE_IP, time: Time = None,
                    request_id: str | None = None, api_id: str = "f6g7h8i9j0",
                    account_id: str = ACCOUNT_ID, region: str = REGION) -> dict[str, Any]:
    """An HTTP API Lambda proxy integration event, payload format 2.0.

    Header names are lower case; repeated query values are joined with commas; optional
    keys (``cookies``, ``queryStringParameters``, ``pathParameters``, ``stageVariables``,
    ``body``) are left out when empty, as API Gateway does.
    """
    t = _time(time)
    method = method.upper()
    text, b64, ctype = _body(body)
    domain = f"{api_id}.execute-api.{region}.amazonaws.com"
    raw_path = path if stage == "$default" else f"/{stage}{path}"
    head = {
        "accept": "*/*",
        "host": domain,
        "user-agent": USER_AGENT,
        "x-amzn-trace-id": f"Root=1-{int(t.timestamp()):08x}-{_hex(24, 'trace2', method, path)}",
        "x-forwarded-for": source_ip,
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    if ctype:
        head["content-length"] = str(len(bytes(body)) if b64 else len(text.encode()))
        head["content-type"] = ctype
    head.update({k.lower(): v for k, v in (headers or {}).items()})
    queries = _query_lists(query)
    route = route_key or f"{method} {path}"
    return http_event_v2(
        route_key=route, raw_path=raw_path,
        raw_query=urlencode([(k, v) for k, vs in queries.items() for v in vs]), headers=head,
        queries=queries, cookies=list(cookies or ()), method=method, protocol="HTTP/1.1",
        source_ip=source_ip, domain=domain, api_id=api_id, account_id=account_id,
        request_id=request_id or _hex(16, "apigw-http", method, path, t.isoformat()) + "=",
        stage=stage, time=t, path_parameters=path_parameters, stage_variables=stage_variables,
        body=text, is_base64=b64, user_agent=head.get("user-agent", USER_AGENT))


_OMIT: Any = object()


def http_event_v2(*, route_key: str, raw_path: str, raw_query: str, headers: dict[str, str],
                  queries: Mapping[str, list[str]], cookies: list[str], method: str, protocol: str,
                  source_ip: str, domain: str, api_id: str, account_id: str, request_id: str,
                  stage: str, time: datetime.datetime, path_parameters: Mapping[str, str] | None,
                  stage_variables: Mapping[str, str] | None, body: str | None,
                  is_base64: bool, user_agent: str, authentication: Any = _OMIT) -> dict[str, Any]:
    """Assemble a payload-2.0 event, key by key in API Gateway's order; optional keys left out when empty.

    Both the ``apigateway_http`` sample and the HTTP front (function URLs, HttpApi routes) build their
    events here, so the two cannot disagree on the shape.
    """
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = list(cookies)
    event["headers"] = headers
    if queries:
        event["queryStringParameters"] = {k: ",".join(v) for k, v in queries.items()}
    event["requestContext"] = {
        "accountId": account_id,
        "apiId": api_id,
    }
    if authentication is not _OMIT:  # an HTTP API route's event carries it (null without mTLS)
        event["requestContext"]["authentication"] = authentication
    event["requestContext"].update({
        "domainName": domain,
        "domainPrefix": api_id,
        "http": {
            "method": method,
            "path": raw_path,
            "protocol": protocol,
            "sourceIp": source_ip,
            "userAgent": user_agent,
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": stage,
        "time": _clf(time),
        "timeEpoch": _epoch_ms(time),
    })
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if stage_variables:
        event["stageVariables"] = dict(stage_variables)
    if body is not None:
        event["body"] = body
    event["isBase64Encoded"] = is_base64
    return event


# ---------------------------------------------------------------------- S3
def s3_put(bucket: str = "amzn-s3-demo-bucket", key: str = "uploads/photo.jpg", size: int = 1024,
           *, etag: str | None = None, version_id: str | None = None, time: Time = None,
           event_name: str = "ObjectCreated:Put", configuration_id: str = "lambda-trigger",
           region: str = REGION, source_ip: str = SOURCE_IP) -> dict[str, Any]:
    """An S3 event notification for one new object (``Records[0].s3.bucket/object``).

    The key is URL-encoded as S3 sends it (a space becomes ``+``): decode it with
    ``urllib.parse.unquote_plus`` in the handler, as real code must.
    """
    t = _time(time)
    record: dict[str, Any] = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": _iso_ms(t),
        "eventName": event_name,
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLEPRINCIPAL"},
        "requestParameters": {"sourceIPAddress": source_ip},
        "responseElements": {
            "x-amz-request-id": _hex(16, "s3-request", bucket, key, t.isoformat()).upper(),
            "x-amz-id-2": base64.b64encode(bytes.fromhex(_hex(64, "s3-id2", bucket, key))).decode(),
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "A3EXAMPLEOWNER"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": {
                "key": quote_plus(key, safe="/"),
                "size": int(size),
                "eTag": etag or _hex(32, "etag", bucket, key, size),
                "sequencer": _hex(18, "sequencer", bucket, key, t.isoformat()).upper(),
            },
        },
    }
    if version_id is not None:
        record["s3"]["object"]["versionId"] = version_id
    return {"Records": [record]}


# ---------------------------------------------------------------------- SQS, SNS, EventBridge
def sqs(messages: Iterable[Any] | None = None, *, queue: str = "orders-queue",
        time: Time = None, attributes: Mapping[str, Any] | None = None,
        region: str = REGION, account_id: str = ACCOUNT_ID) -> dict[str, Any]:
    """A batch of SQS messages (``Records``), one record per message body.

    Non-string messages are sent as JSON text, as a producer calling
    ``json.dumps`` would; ``attributes`` become ``messageAttributes`` of every record.
    """
    t = _time(time)
    bodies = [_message_text(m) for m in (messages if messages is not None else ["Hello from SQS!"])]
    sent = _epoch_ms(t)
    message_attributes = {
        name: ({"stringValue": str(v), "stringListValues": [], "binaryListValues": [],
                "dataType": "Number" if isinstance(v, (int, float)) and not isinstance(v, bool)
                else "String"})
        for name, v in (attributes or {}).items()
    }
    records = []
    for i, text in enumerate(bodies):
        mid = _uuid("sqs", queue, i, text)
        records.append({
            "messageId": mid,
            "receiptHandle": base64.b64encode(f"{queue}:{mid}:{i}".encode()).decode(),
            "body": text,
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": str(sent + i),
                "SenderId": "AIDAEXAMPLESENDER",
                "ApproximateFirstReceiveTimestamp": str(sent + i + 5),
            },
            "messageAttributes": dict(message_attributes),
            "md5OfBody": hashlib.md5(text.encode()).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:{region}:{account_id}:{queue}",
            "awsRegion": region,
        })
    return {"Records": records}


def sns(message: Any = "Hello from SNS!", subject: str | None = None, *, topic: str = "notifications",
        time: Time = None, attributes: Mapping[str, Any] | None = None,
        region: str = REGION, account_id: str = ACCOUNT_ID) -> dict[str, Any]:
    """One SNS notification delivered to a Lambda subscription (``Records[0].Sns``)."""
    t = _time(time)
    text = _message_text(message)
    topic_arn = f"arn:aws:sns:{region}:{account_id}:{topic}"
    mid = _uuid("sns", topic, text, subject)
    return {"Records": [{
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": f"{topic_arn}:{_uuid('subscription', topic)}",
        "Sns": {
            "Type": "Notification",
            "MessageId": mid,
            "TopicArn": topic_arn,
            "Subject": subject,
            "Message": text,
            "Timestamp": _iso_ms(t),
            "SignatureVersion": "1",
            "Signature": base64.b64encode(bytes.fromhex(_hex(64, "signature", mid))).decode(),
            "SigningCertUrl": f"https://sns.{region}.amazonaws.com/SimpleNotificationService-EXAMPLE.pem",
            "UnsubscribeUrl": (f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe"
                               f"&SubscriptionArn={topic_arn}:{_uuid('subscription', topic)}"),
            "MessageAttributes": {
                name: {"Type": "Number" if isinstance(v, (int, float)) and not isinstance(v, bool)
                       else "String", "Value": str(v)}
                for name, v in (attributes or {}).items()
            },
        },
    }]}


def eventbridge_schedule(rule: str = "every-5-minutes", *, time: Time = None,
                         detail: Mapping[str, Any] | None = None,
                         region: str = REGION, account_id: str = ACCOUNT_ID) -> dict[str, Any]:
    """The event an EventBridge schedule rule sends (``"detail-type": "Scheduled Event"``)."""
    t = _time(time)
    return {
        "version": "0",
        "id": _uuid("eventbridge", rule, t.isoformat()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": _iso_s(t),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{account_id}:rule/{rule}"],
        "detail": dict(detail or {}),
    }


# ---------------------------------------------------------------------- DynamoDB Streams
def to_dynamodb_json(value: Any) -> dict[str, Any]:
    """One Python value as a DynamoDB AttributeValue: ``5`` -> ``{"N": "5"}``, ``"a"`` -> ``{"S": "a"}``."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float, Decimal)):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (bytes, bytearray)):
        return {"B": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, Mapping):
        return {"M": {str(k): to_dynamodb_json(v) for k, v in value.items()}}
    if isinstance(value, (set, frozenset)):
        items = sorted(value, key=str)
        if items and all(isinstance(v, str) for v in items):
            return {"SS": items}
        if items and all(isinstance(v, (int, float, Decimal)) and not isinstance(v, bool) for v in items):
            return {"NS": [str(v) for v in items]}
        raise TypeError("a set must hold only strings or only numbers, and not be empty")
    if isinstance(value, (list, tuple)):
        return {"L": [to_dynamodb_json(v) for v in value]}
    raise TypeError(f"cannot store a {type(value).__name__} in DynamoDB")


_DEFAULT_STREAM = (
    {"eventName": "INSERT", "new": {"Id": 101, "Message": "New item!"}},
    {"eventName": "MODIFY", "old": {"Id": 101, "Message": "New item!"},
     "new": {"Id": 101, "Message": "This item has changed"}},
    {"eventName": "REMOVE", "old": {"Id": 101, "Message": "This item has changed"}},
)


def dynamodb_stream(records: Iterable[Mapping[str, Any]] | None = None, *, table: str = "Messages",
                    key: str | Iterable[str] = "Id", view_type: str = "NEW_AND_OLD_IMAGES",
                    time: Time = None, region: str = REGION,
                    account_id: str = ACCOUNT_ID) -> dict[str, Any]:
    """A batch of DynamoDB Streams records with ``Keys``/``NewImage``/``OldImage`` in DynamoDB JSON.

    Each record is ``{"eventName": "INSERT" | "MODIFY" | "REMOVE", "new": {...}, "old": {...}}``
    with plain Python items; ``key`` names the key attribute(s) copied into ``Keys``.
    The default batch inserts, modifies and removes one item.
    """
    t = _time(time)
    keys = [key] if isinstance(key, str) else list(key)
    stream_arn = (f"arn:aws:dynamodb:{region}:{account_id}:table/{table}/stream/"
                  f"{t.strftime('%Y-%m-%dT%H:%M:%S.000')}")
    out = []
    for i, spec in enumerate(records if records is not None else _DEFAULT_STREAM):
        name = spec.get("eventName", "INSERT")
        if name not in ("INSERT", "MODIFY", "REMOVE"):
            raise ValueError(f"eventName must be INSERT, MODIFY or REMOVE, not {name!r}")
        new, old = spec.get("new"), spec.get("old")
        item = new if new is not None else old
        if item is None:
            raise ValueError(f"record {i} needs a 'new' or an 'old' item")
        missing = [k for k in keys if k not in item]
        if missing:
            raise ValueError(f"record {i} lacks the key attribute(s) {missing}")
        ddb: dict[str, Any] = {
            "ApproximateCreationDateTime": int(t.timestamp()) + i,
            "Keys": {k: to_dynamodb_json(item[k]) for k in keys},
        }
        if new is not None and name != "REMOVE" and view_type in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
            ddb["NewImage"] = to_dynamodb_json(new)["M"]
        if old is not None and name != "INSERT" and view_type in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
            ddb["OldImage"] = to_dynamodb_json(old)["M"]
        ddb["SequenceNumber"] = str(111_000_000_000_000_000_000 + i * 100)
        ddb["SizeBytes"] = len(json.dumps([ddb.get("Keys"), ddb.get("NewImage"), ddb.get("OldImage")]))
        ddb["StreamViewType"] = view_type
        out.append({
            "eventID": _hex(32, "ddb", table, i, name),
            "eventName": name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": region,
            "dynamodb": ddb,
            "eventSourceARN": stream_arn,
        })
    return {"Records": out}


# ---------------------------------------------------------------------- registry
SAMPLES: dict[str, Callable[..., dict[str, Any]]] = {
    "apigw-rest": apigateway_rest,
    "apigw-http": apigateway_http,
    "s3-put": s3_put,
    "sqs": sqs,
    "sns": sns,
    "eventbridge-schedule": eventbridge_schedule,
    "dynamodb-stream": dynamodb_stream,
}


def sample(name: str, **fields: Any) -> dict[str, Any]:
    """The sample event called ``name`` (a key of ``SAMPLES``), with ``fields`` changed."""
    try:
        make = SAMPLES[name]
    except KeyError:
        raise KeyError(f"no sample event {name!r}; choose one of: {', '.join(SAMPLES)}") from None
    return make(**fields)
