"""The Lambda API's version, alias and provisioned-concurrency operations, for ``LambdaApiHandler``.

PublishVersion, ListVersionsByFunction, CreateAlias, GetAlias, UpdateAlias, DeleteAlias,
ListAliases, DeleteFunction (a version, or the whole function), UpdateFunctionConfiguration,
and Put/Get/Delete/ListProvisionedConcurrencyConfig(s). The engine (``engine/versions.py``) decides
and raises Lambda's errors; this module maps requests and answers the shapes AWS answers, as
LocalStack's snapshots of real AWS record them (TestLambdaVersions, TestLambdaAlias,
TestLambdaProvisionedConcurrency in ``tests/aws/services/lambda_/test_lambda_api.snapshot.json``).
"""

from __future__ import annotations

import datetime
import re
import uuid
from typing import Any

from lambda_widget.front.shapes import (
    ApiError,
    check_runtime,
    facts,
    function_configuration,
    parse_function_name,
    runtime_name,
)

MAX_LIST = 50
_FN = r"^/(?:2015-03-31|2019-09-30)/functions/(?P<name>[^/]+)"
_PATHS = {  # under /functions/{name}: method -> operation
    "/versions": {"POST": "PublishVersion", "GET": "ListVersionsByFunction"},
    "/aliases": {"POST": "CreateAlias", "GET": "ListAliases"},
    "/aliases/(?P<alias>[^/]+)": {"GET": "GetAlias", "PUT": "UpdateAlias", "DELETE": "DeleteAlias"},
    "": {"DELETE": "DeleteFunction"},
    "/configuration": {"PUT": "UpdateFunctionConfiguration"},
    "/provisioned-concurrency": {"PUT": "PutProvisionedConcurrencyConfig", "GET": "GetProvisionedConcurrencyConfig",
                                 "DELETE": "DeleteProvisionedConcurrencyConfig"},  # GET ?List=ALL: the list
}
ROUTES = [(verb, re.compile(_FN + path + r"/?$"), op) for path, ops in _PATHS.items() for verb, op in ops.items()]
#: Listing shapes carry no state fields (ListFunctions / ListVersionsByFunction, as recorded).
_NOT_LISTED = ("State", "StateReason", "StateReasonCode", "LastUpdateStatus", "LastUpdateStatusReason",
               "LastUpdateStatusReasonCode", "RuntimeVersionConfig")


def qualified(name: str, qualifier: str | None) -> tuple[str, str | None]:
    """The function name and qualifier of a request: ``FunctionName`` may be a name, ``name:qualifier``
    or an ARN; a ``Qualifier`` parameter as well must agree with it (as Lambda checks)."""
    name, derived = parse_function_name(name)
    if qualifier and derived and qualifier != derived:
        raise ApiError("InvalidParameterValueException",
                       "The derived qualifier from the function name does not match the specified qualifier.")
    return name, qualifier or derived or None


def version_configuration(mgr: Any, name: str, qualifier: str | None) -> dict[str, Any]:
    """FunctionConfiguration of the version ``qualifier`` names (an alias: its version), with the
    ARN the caller used: unqualified, or ending in ``:$LATEST``, ``:1`` or ``:alias``."""
    fn = mgr.function(name, qualifier)
    config = function_configuration(fn, mgr.region, mgr.account_id, fn.version, code=facts(fn).code)
    config["FunctionArn"] = fn.arn(mgr.region, mgr.account_id, qualifier)
    config["Version"] = fn.version
    config["Description"] = fn.description
    config["RevisionId"] = fn.revision_id
    return config


def published_on_deploy(mgr: Any, name: str, created: bool) -> dict[str, Any]:
    """``Publish: true`` on CreateFunction or UpdateFunctionCode: the new version's configuration.
    AWS answers CreateFunction with the unqualified ARN, UpdateFunctionCode with the qualified one."""
    fn = mgr.publish(name)
    config = version_configuration(mgr, name, fn.version)
    if created:
        config["FunctionArn"] = fn.arn(mgr.region, mgr.account_id)
    return config


def alias_shape(alias: Any, region: str, account: str) -> dict[str, Any]:
    data: dict[str, Any] = {"AliasArn": alias.arn(region, account), "Name": alias.name,
                            "FunctionVersion": alias.function_version, "Description": alias.description,
                            "RevisionId": alias.revision_id}
    if alias.routing:
        data["RoutingConfig"] = {"AdditionalVersionWeights": dict(alias.routing)}
    return data


def _page(items: list, key, query: dict[str, str]) -> tuple[list, str | None]:
    """One page of ``items`` after ``Marker`` (a key), at most ``MaxItems``; and the next marker."""
    try:
        size = max(1, min(int(query.get("MaxItems") or MAX_LIST), MAX_LIST))
    except ValueError:
        raise ApiError("InvalidParameterValueException", "MaxItems must be a number") from None
    keys = [key(i) for i in items]
    marker = query.get("Marker")
    start = keys.index(marker) if marker in keys else 0
    page = items[start:start + size]
    return page, keys[start + size] if start + size < len(items) else None


def _when(stamp: float) -> str:
    return datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _string(req: dict, key: str) -> str | None:
    value = req.get(key)
    if value is not None and not isinstance(value, str):
        raise ApiError("InvalidParameterValueException", f"{key} must be a string")
    return value


def _routing(req: dict) -> dict[str, float] | None:
    config = req.get("RoutingConfig")
    if config is None:
        return None
    weights = config.get("AdditionalVersionWeights", {}) if isinstance(config, dict) else config
    if not isinstance(weights, dict):
        raise ApiError("InvalidParameterValueException", "RoutingConfig.AdditionalVersionWeights must be a map")
    return weights


class VersionOps:
    """Operations of ``LambdaApiHandler`` (a mixin: it reads the handler's manager, query and body)."""

    # -- versions ------------------------------------------------------------------
    def _op_PublishVersion(self, name: str) -> None:
        mgr = self.server.manager
        name, _ = qualified(name, None)
        req = self._json_body(1 << 20, "PublishVersion")
        sha = _string(req, "CodeSha256")
        if sha:
            current = version_configuration(mgr, name, None)["CodeSha256"]
            if sha != current:
                raise ApiError("InvalidParameterValueException",
                               f"CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST ({current}). "
                               f"Please try again with the CodeSHA256 in $LATEST.")
        fn = mgr.publish(name, _string(req, "Description") or None, revision_id=_string(req, "RevisionId"))
        self._send_json(201, version_configuration(mgr, name, fn.version))

    def _op_ListVersionsByFunction(self, name: str) -> None:
        mgr = self.server.manager
        name, _ = qualified(name, None)
        page, marker = _page(mgr.versions(name), lambda f: f.version, self.query)
        listed = []
        for fn in page:
            config = version_configuration(mgr, name, fn.version)  # ARNs end in :$LATEST, :1, ...
            listed.append({k: v for k, v in config.items() if k not in _NOT_LISTED})
        data: dict[str, Any] = {"Versions": listed}
        if marker is not None:
            data["NextMarker"] = marker
        self._send_json(200, data)

    def _op_DeleteFunction(self, name: str) -> None:
        name, qualifier = qualified(name, self.query.get("Qualifier"))
        self.server.manager.delete_function(name, qualifier)
        self.answer(204, b"", {"x-amzn-RequestId": self._request_id()})

    def _op_UpdateFunctionConfiguration(self, name: str) -> None:
        mgr = self.server.manager
        name, _ = qualified(name, None)
        req = self._json_body(1 << 20, "UpdateFunctionConfiguration")
        runtime = check_runtime(req.get("Runtime"))
        changes: dict[str, Any] = {}
        if runtime is not None and runtime != runtime_name(mgr.function(name)):
            changes["runtime"] = runtime  # the bundled runtime on that Python, if the machine has it
        for key, field in (("Description", "description"), ("Timeout", "timeout"), ("MemorySize", "memory_mb"),
                           ("Handler", "handler")):
            if key in req:
                changes[field] = req[key]
        if "Environment" in req:
            environment = req["Environment"]
            if not isinstance(environment, dict):
                raise ApiError("InvalidParameterValueException", "Environment must be an object with Variables")
            changes["env"] = environment.get("Variables") or {}
        fn = mgr.update_configuration(name, revision_id=_string(req, "RevisionId"), **changes)
        self._send_json(200, version_configuration(mgr, fn.name, None))

    # -- aliases -------------------------------------------------------------------
    def _alias_answer(self, status: int, alias: Any) -> None:
        mgr = self.server.manager
        self._send_json(status, alias_shape(alias, mgr.region, mgr.account_id))

    def _op_CreateAlias(self, name: str) -> None:
        name, _ = qualified(name, None)
        req = self._json_body(1 << 20, "CreateAlias")
        for key, field in (("Name", "name"), ("FunctionVersion", "functionVersion")):
            if not isinstance(req.get(key), str):
                raise ApiError("ValidationException", f"1 validation error detected: Value null at '{field}' failed "
                                                      f"to satisfy constraint: Member must not be null")
        alias = self.server.manager.create_alias(name, req["Name"], req["FunctionVersion"],
                                                 description=_string(req, "Description") or "",
                                                 routing=_routing(req))
        self._alias_answer(201, alias)

    def _op_GetAlias(self, name: str, alias: str) -> None:
        name, _ = qualified(name, None)
        self._alias_answer(200, self.server.manager.get_alias(name, alias))

    def _op_UpdateAlias(self, name: str, alias: str) -> None:
        name, _ = qualified(name, None)
        req = self._json_body(1 << 20, "UpdateAlias")
        updated = self.server.manager.update_alias(
            name, alias, _string(req, "FunctionVersion"), description=_string(req, "Description"),
            routing=_routing(req), revision_id=_string(req, "RevisionId"))
        self._alias_answer(200, updated)

    def _op_DeleteAlias(self, name: str, alias: str) -> None:
        name, _ = qualified(name, None)
        self.server.manager.delete_alias(name, alias)
        self.answer(204, b"", {"x-amzn-RequestId": self._request_id()})

    def _op_ListAliases(self, name: str) -> None:
        mgr = self.server.manager
        name, _ = qualified(name, None)
        found = mgr.aliases(name, self.query.get("FunctionVersion") or None)
        page, marker = _page(found, lambda a: a.name, self.query)
        data: dict[str, Any] = {"Aliases": [alias_shape(a, mgr.region, mgr.account_id) for a in page]}
        if marker is not None:
            data["NextMarker"] = marker
        self._send_json(200, data)

    # -- provisioned concurrency -----------------------------------------------------------
    def _provisioned_shape(self, config: dict[str, Any], listed_name: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if listed_name is not None:
            mgr = self.server.manager
            data["FunctionArn"] = f"arn:aws:lambda:{mgr.region}:{mgr.account_id}:function:{listed_name}:" \
                                  f"{config['qualifier']}"
        data.update({"RequestedProvisionedConcurrentExecutions": config["requested"],
                     "AvailableProvisionedConcurrentExecutions": config["available"],
                     "AllocatedProvisionedConcurrentExecutions": config["allocated"],
                     "Status": config["status"], "LastModified": _when(config["modified_at"])})
        return data

    def _op_PutProvisionedConcurrencyConfig(self, name: str) -> None:
        name, qualifier = qualified(name, self.query.get("Qualifier"))
        req = self._json_body(1 << 20, "PutProvisionedConcurrencyConfig")
        count = req.get("ProvisionedConcurrentExecutions")
        config = self.server.manager.provision(name, count, qualifier)
        # AWS answers before the environments are ready (recorded: IN_PROGRESS, 0 allocated); a Get
        # then finds them ready, as they are here already.
        self._send_json(202, self._provisioned_shape({**config, "allocated": 0, "available": 0,
                                                      "status": "IN_PROGRESS"}))

    def _op_GetProvisionedConcurrencyConfig(self, name: str) -> None:
        mgr = self.server.manager
        if "List" in self.query:  # ListProvisionedConcurrencyConfigs: the same path, ?List=ALL
            name, _ = qualified(name, None)
            page, marker = _page(mgr.provisioned_configs(name), lambda c: c["qualifier"], self.query)
            data: dict[str, Any] = {"ProvisionedConcurrencyConfigs": [self._provisioned_shape(c, name)
                                                                      for c in page]}
            if marker is not None:
                data["NextMarker"] = marker
            self._send_json(200, data)
            return
        name, qualifier = qualified(name, self.query.get("Qualifier"))
        self._send_json(200, self._provisioned_shape(mgr.provisioned_config(name, qualifier)))

    def _op_DeleteProvisionedConcurrencyConfig(self, name: str) -> None:
        name, qualifier = qualified(name, self.query.get("Qualifier"))
        self.server.manager.deprovision(name, qualifier)
        self.answer(204, b"", {"x-amzn-RequestId": self._request_id()})

    @staticmethod
    def _request_id() -> str:
        return str(uuid.uuid4())
