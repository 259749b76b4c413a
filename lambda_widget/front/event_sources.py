"""Lambda's event source mapping API on the Invoke API's endpoint: SQS mappings for boto3 and the AWS CLI.

``CreateEventSourceMapping``, ``UpdateEventSourceMapping``, ``GetEventSourceMapping``,
``ListEventSourceMappings`` and ``DeleteEventSourceMapping``, with the shapes, states and error messages
that LocalStack's recordings of AWS show (tests/aws/services/lambda_/event_source_mapping/ and
test_lambda_api.py there). The mappings run in the manager's queue service (``lambda_widget.queues``),
the same ones ``lw.event_source`` makes.
"""

from __future__ import annotations

import json
import re
import uuid as uuid_module
from typing import TYPE_CHECKING, Any

from lambda_widget.front.shapes import ApiError, parse_function_name
from lambda_widget.placement.esm import REPORT_BATCH_ITEM_FAILURES, MappingConfigError

if TYPE_CHECKING:
    from lambda_widget.queues import EventSourceMapping

ROUTES = [(method, re.compile(rf"^/2015-03-31/event-source-mappings{tail}/?$"), operation)
          for method, tail, operation in (
              ("POST", "", "CreateEventSourceMapping"),
              ("GET", "", "ListEventSourceMappings"),
              ("GET", "/(?P<uuid>[^/]+)", "GetEventSourceMapping"),
              ("PUT", "/(?P<uuid>[^/]+)", "UpdateEventSourceMapping"),
              ("DELETE", "/(?P<uuid>[^/]+)", "DeleteEventSourceMapping"))]
MAX_REQUEST = 256 * 1024
MAX_LIST = 100
STATUS = {"ValidationException": 400, "InvalidParameterValueException": 400, "ResourceConflictException": 409,
          "ResourceNotFoundException": 404}
# What only stream and Kafka sources take: AWS refuses them for a queue.
STREAM_ONLY = {"StartingPosition": "startingPosition", "StartingPositionTimestamp": "startingPositionTimestamp",
               "ParallelizationFactor": "parallelizationFactor",
               "MaximumRecordAgeInSeconds": "maximumRecordAgeInSeconds",
               "BisectBatchOnFunctionError": "bisectBatchOnFunctionError",
               "MaximumRetryAttempts": "maximumRetryAttempts", "TumblingWindowInSeconds": "tumblingWindowInSeconds",
               "Topics": "topics", "Queues": "queues", "SourceAccessConfigurations": "sourceAccessConfigurations",
               "SelfManagedEventSource": "selfManagedEventSource",
               "AmazonManagedKafkaEventSourceConfig": "amazonManagedKafkaEventSourceConfig",
               "SelfManagedKafkaEventSourceConfig": "selfManagedKafkaEventSourceConfig",
               "DocumentDBEventSourceConfig": "documentDBEventSourceConfig"}
NOT_MODELLED = ("KMSKeyArn", "MetricsConfig", "LoggingConfig", "ProvisionedPollerConfig")


def configuration(mapping: EventSourceMapping, region: str, account: str, state: str | None = None) -> dict[str, Any]:
    """The EventSourceMappingConfiguration shape of an SQS mapping."""
    data: dict[str, Any] = {
        "UUID": mapping.uuid,
        "BatchSize": mapping.batch_size,
        "MaximumBatchingWindowInSeconds": mapping.window,
        "EventSourceArn": mapping.queue_arn,
        "EventSourceMappingArn": f"arn:aws:lambda:{region}:{account}:event-source-mapping:{mapping.uuid}",
        "FunctionArn": mapping.function_arn,
        "LastModified": mapping.last_modified.timestamp(),
        "State": state or ("Enabled" if mapping.enabled else "Disabled"),
        "StateTransitionReason": "USER_INITIATED",
        "FunctionResponseTypes": [REPORT_BATCH_ITEM_FAILURES] if mapping.report_failures else [],
    }
    if mapping.filter_texts:
        data["FilterCriteria"] = {"Filters": [{"Pattern": text} for text in mapping.filter_texts]}
    if mapping.maximum_concurrency is not None:
        data["ScalingConfig"] = {"MaximumConcurrency": mapping.maximum_concurrency}
    return data


def _service(handler: Any):
    from lambda_widget.front.sqs import queue_service

    return queue_service(handler.server.manager)


def _fail(handler: Any, exc: MappingConfigError) -> None:
    """An error as AWS answers it (the recordings: ``Message`` for a 404, ``message`` otherwise)."""
    key = "Message" if exc.code == "ResourceNotFoundException" else "message"
    body = json.dumps({"Type": "User", key: exc.message}).encode()
    handler.answer(STATUS.get(exc.code, 400), body,
                   {"x-amzn-ErrorType": exc.code, "x-amzn-RequestId": str(uuid_module.uuid4())})


def _answering(op):
    def run(handler: Any, **params: str) -> None:
        try:
            op(handler, **params)
        except MappingConfigError as exc:
            _fail(handler, exc)
    run.__name__ = op.__name__
    run.__doc__ = op.__doc__
    return run


def _function(handler: Any, text: Any) -> tuple[str, str]:
    """(function name, FunctionArn as the mapping shows it) from a name, a qualified name or an ARN."""
    if not isinstance(text, str) or not text:
        raise MappingConfigError("InvalidParameterValueException", "Function does not exist")
    mgr = handler.server.manager
    name, qualifier = parse_function_name(text)
    fn = mgr.functions.get(name)
    if fn is None:
        raise MappingConfigError("InvalidParameterValueException", "Function does not exist")
    arn = fn.arn(mgr.region, mgr.account_id)
    if qualifier is not None:
        try:
            handler.resolve_qualifier(fn, qualifier)
        except ApiError as exc:
            raise MappingConfigError("InvalidParameterValueException", exc.args[0]) from None
        arn = f"{arn}:{qualifier}"
    return name, arn


def _config(req: dict[str, Any], creating: bool) -> dict[str, Any]:
    """The request's fields as ``QueueService`` options; what a queue cannot take is refused as AWS does."""
    if req.get("DestinationConfig"):
        raise MappingConfigError("InvalidParameterValueException",
                                 "Unsupported DestinationConfig parameter for given event source mapping type.")
    for key, camel in STREAM_ONLY.items():
        if req.get(key) is not None:
            raise MappingConfigError("InvalidParameterValueException",
                                     f"Unsupported '{camel}' parameter for given event source mapping type.")
    for key in NOT_MODELLED:
        if req.get(key):
            raise MappingConfigError("InvalidParameterValueException",
                                     f"lambda_widget does not model {key} for SQS event source mappings")
    options: dict[str, Any] = {}
    if "BatchSize" in req:
        options["batch_size"] = req["BatchSize"]
    if "MaximumBatchingWindowInSeconds" in req:
        options["window"] = req["MaximumBatchingWindowInSeconds"]
    if "ScalingConfig" in req:
        scaling = req["ScalingConfig"] or {}
        options["maximum_concurrency"] = scaling.get("MaximumConcurrency") if isinstance(scaling, dict) else scaling
    if "FilterCriteria" in req:
        options["filters"] = req["FilterCriteria"] or None
    if "FunctionResponseTypes" in req:
        types = req["FunctionResponseTypes"] or []
        if not isinstance(types, list) or any(t != REPORT_BATCH_ITEM_FAILURES for t in types):
            raise MappingConfigError(
                "ValidationException",
                f"1 validation error detected: Value '{types}' at 'functionResponseTypes' failed to satisfy "
                f"constraint: Member must satisfy constraint: [Member must satisfy enum value set: "
                f"[{REPORT_BATCH_ITEM_FAILURES}]]")
        options["report_failures"] = bool(types)
    if "Enabled" in req:
        options["enabled"] = bool(req["Enabled"])
    elif creating:
        options["enabled"] = True
    return options


@_answering
def _create(handler: Any) -> None:
    """CreateEventSourceMapping: 202 and the new mapping, ``State: Creating`` (``Disabled`` if not enabled)."""
    mgr = handler.server.manager
    req = handler._json_body(MAX_REQUEST, "CreateEventSourceMapping")
    source = req.get("EventSourceArn")
    if not source:
        raise MappingConfigError("InvalidParameterValueException", "Unrecognized event source.")
    if not str(source).startswith("arn:aws:sqs:"):
        raise MappingConfigError("InvalidParameterValueException",
                                 f"lambda_widget serves SQS event sources (arn:aws:sqs:...), not {source}")
    options = _config(req, creating=True)
    name, arn = _function(handler, req.get("FunctionName"))
    mapping = _service(handler).create(source, name, function_arn=arn, **options)
    state = "Creating" if mapping.enabled else "Disabled"
    handler._send_json(202, configuration(mapping, mgr.region, mgr.account_id, state))


@_answering
def _get(handler: Any, uuid: str) -> None:
    """GetEventSourceMapping."""
    mgr = handler.server.manager
    handler._send_json(200, configuration(_service(handler).get(uuid), mgr.region, mgr.account_id))


@_answering
def _update(handler: Any, uuid: str) -> None:
    """UpdateEventSourceMapping: 202, ``State: Updating`` (``Enabling`` / ``Disabling`` when that changes)."""
    mgr = handler.server.manager
    req = handler._json_body(MAX_REQUEST, "UpdateEventSourceMapping")  # read first: the connection goes on
    service = _service(handler)
    mapping = service.get(uuid)
    options = _config(req, creating=False)
    if "maximum_concurrency" in options and options["maximum_concurrency"] is None:
        options["maximum_concurrency"] = 0  # an empty ScalingConfig removes the cap
    if req.get("FunctionName"):
        options["function"], options["function_arn"] = _function(handler, req["FunctionName"])
    was = mapping.enabled
    mapping = service.update(uuid, **options)
    state = "Updating" if mapping.enabled == was else ("Enabling" if mapping.enabled else "Disabling")
    handler._send_json(202, configuration(mapping, mgr.region, mgr.account_id, state))


@_answering
def _delete(handler: Any, uuid: str) -> None:
    """DeleteEventSourceMapping: 202 and the mapping as it was, ``State: Deleting``."""
    mgr = handler.server.manager
    mapping = _service(handler).remove(uuid)
    handler._send_json(202, configuration(mapping, mgr.region, mgr.account_id, "Deleting"))


@_answering
def _list(handler: Any) -> None:
    """ListEventSourceMappings, by ``EventSourceArn`` and ``FunctionName``, ``MaxItems`` a page."""
    mgr = handler.server.manager
    function = handler.query.get("FunctionName")
    if function:
        function, _ = parse_function_name(function)
    found = _service(handler).list(queue=handler.query.get("EventSourceArn") or None, function=function or None)
    try:
        max_items = int(handler.query.get("MaxItems") or MAX_LIST)
    except ValueError:
        raise MappingConfigError("InvalidParameterValueException", "MaxItems must be a number") from None
    max_items = max(1, min(max_items, 10_000))
    ids = [m.uuid for m in found]
    marker = handler.query.get("Marker")
    start = ids.index(marker) if marker in ids else 0
    page = found[start:start + max_items]
    data: dict[str, Any] = {"EventSourceMappings": [configuration(m, mgr.region, mgr.account_id) for m in page]}
    if start + max_items < len(found):
        data["NextMarker"] = ids[start + max_items]
    handler._send_json(200, data)



class EventSourceOps:
    """Part of ``LambdaApiHandler``: the SQS event source mapping operations (``ROUTES``)."""

    _op_CreateEventSourceMapping = _create
    _op_GetEventSourceMapping = _get
    _op_UpdateEventSourceMapping = _update
    _op_DeleteEventSourceMapping = _delete
    _op_ListEventSourceMappings = _list
