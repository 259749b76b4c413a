"""SAM templates: every ``AWS::Serverless::Function`` registered, its ``Api``/``HttpApi`` events as routes.

The YAML (with CloudFormation's ``!Ref``/``!Sub``/... tags) is read by cfn-lint's decoder,
which keeps each node's line. ``Ref``/``Sub`` resolve to parameters (their defaults, or
``parameters=`` overrides) and pseudo parameters; anything else that a used property needs
is an error that names the template line. What is not served is listed, never dropped silently.
"""

from __future__ import annotations

import inspect
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambda_widget.front.urls import Route

_ABSENT = object()  # AWS::NoValue
FUNCTION = "AWS::Serverless::Function"
APIS = ("AWS::Serverless::Api", "AWS::Serverless::HttpApi")
_PROPERTIES = ("CodeUri", "InlineCode", "Handler", "Runtime", "Timeout", "MemorySize", "Environment",
               "ReservedConcurrentExecutions", "ProvisionedConcurrencyConfig", "Architectures",
               "FunctionName", "Events", "FunctionUrlConfig", "PackageType", "Description", "SnapStart")


class TemplateError(ValueError):
    """The template cannot be loaded as it is; the message names the file and line."""


@dataclass
class FunctionSpec:
    """One function as the template describes it, resolved."""

    logical_id: str
    name: str
    line: int
    handler: str
    code_dir: Path | None = None
    inline_code: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    architecture: str | None = None
    function_url: bool = False
    cors: dict[str, Any] | None = None  # FunctionUrlConfig.Cors


@dataclass
class Project:
    """What ``load_template`` found and registered."""

    path: Path
    specs: list[FunctionSpec]
    routes: list[Route]
    unsupported: list[str]
    notes: list[str]
    functions: dict[str, Any] = field(default_factory=dict)  # name -> registered Function
    manager: Any = field(default=None, repr=False)
    api: Any = field(default=None, repr=False)  # the Endpoint of the routes, once started

    def start_api(self, port: int = 0, host: str = "127.0.0.1"):
        """Serve the template's ``Api``/``HttpApi`` routes (as ``sam local start-api``); returns the Endpoint."""
        from lambda_widget.front import serve_api

        if self.manager is None:
            raise RuntimeError("this project was read, not loaded into a manager")
        if not self.routes:
            raise ValueError(f"{self.path.name} has no Api or HttpApi events")
        if self.api is None or self.api.closed:
            self.api = serve_api(self.manager, self.routes, port=port, host=host)
        return self.api

    def function_url(self, name: str) -> str:
        """The function URL of one of the project's functions (with its ``FunctionUrlConfig.Cors``)."""
        from lambda_widget.front import function_url

        spec = next((s for s in self.specs if s.name == name), None)
        return function_url(self.manager, name, cors=spec.cors if spec else None).url

    def lines(self) -> list[str]:
        out = [f"{self.path.name}: {len(self.specs)} function(s)"]
        for spec in self.specs:
            fn = self.functions.get(spec.name)
            version = f" v{fn.version}" if fn is not None else ""
            where = (f"CodeUri {os.path.relpath(spec.code_dir, self.path.parent)}/" if spec.code_dir
                     else "InlineCode")
            out.append(f"  {spec.name}{version}: {spec.handler} ({where}, timeout {spec.config.get('timeout', 3)} s, "
                       f"{spec.config.get('memory_mb', 128)} MB)")
        for route in self.routes:
            out.append(f"  route {route.route_key} -> {route.function} (payload {route.payload})")
        for item in self.unsupported:
            out.append(f"  not served: {item}")
        for note in self.notes:
            out.append(f"  note: {note}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(str(self))


def parse(path: str | os.PathLike) -> Any:
    """The template as nested dicts (intrinsics as ``{"Ref": ...}``), nodes carrying their lines."""
    try:
        from cfnlint.decode import cfn_yaml  # a maintained CloudFormation YAML reader
        from yaml import YAMLError
    except ImportError:
        raise TemplateError("reading SAM templates needs cfn-lint: pip install 'lambda_widget[serve]'") from None

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(f"cannot read {p}: {exc.strerror}") from None
    try:
        data = cfn_yaml.loads(text, str(p))
    except YAMLError as exc:
        raise TemplateError(f"{p} is not valid YAML: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - cfn-lint raises its own decode errors
        raise TemplateError(f"{p} could not be read: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise TemplateError(f"{p} has no Resources section")
    return data


def _line(node: Any, default: int = 0) -> int:
    mark = getattr(node, "start_mark", None)
    return mark.line + 1 if mark is not None else default


class _Resolver:
    """Resolves the intrinsics a local run can know: parameters and pseudo parameters."""

    def __init__(self, path: Path, template: dict, overrides: dict[str, Any], region: str, account: str) -> None:
        self.path = path
        self.values: dict[str, Any] = {
            "AWS::Region": region, "AWS::AccountId": account, "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": path.parent.name or "lambda-widget",
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account}:stack/lambda-widget/local",
            "AWS::NoValue": _ABSENT,
        }
        self.missing: dict[str, int] = {}
        for name, spec in (template.get("Parameters") or {}).items():
            if name in overrides:
                self.values[name] = overrides[name]
            elif isinstance(spec, dict) and "Default" in spec:
                self.values[name] = spec["Default"]
            else:
                self.missing[name] = _line(spec)
        self.resources = set(template.get("Resources") or {})
        # A resource's value (``Table``) or attribute (``Table.Arn``) may be given too.
        for name, value in overrides.items():
            if name.split(".", 1)[0] in self.resources:
                self.values[name] = value
        unknown = sorted(n for n in overrides
                         if n not in (template.get("Parameters") or {}) and n.split(".", 1)[0] not in self.resources)
        if unknown:
            raise TemplateError(f"{path}: no such parameter(s) or resource(s): {', '.join(unknown)}")

    def fail(self, node: Any, what: str, line: int) -> TemplateError:
        return TemplateError(f"{self.path}, line {_line(node, line)}: {what}")

    def __call__(self, node: Any, line: int = 0) -> Any:
        line = _line(node, line)
        if isinstance(node, dict):
            if len(node) == 1:
                key, arg = next(iter(node.items()))
                if key == "Ref":
                    return self._ref(node, arg, line)
                if key == "Fn::Sub":
                    return self._sub(node, arg, line)
                if key == "Fn::Join":
                    if not (isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], list)):
                        raise self.fail(node, "Fn::Join takes [delimiter, [values]]", line)
                    parts = [self(v, line) for v in arg[1]]
                    return str(self(arg[0], line)).join(str(p) for p in parts if p is not _ABSENT)
                if key == "Fn::Select":
                    if not (isinstance(arg, list) and len(arg) == 2):
                        raise self.fail(node, "Fn::Select takes [index, [values]]", line)
                    index, values = self(arg[0], line), self(arg[1], line)
                    try:
                        return values[int(index)]
                    except (IndexError, ValueError, TypeError):
                        raise self.fail(node, f"Fn::Select index {index!r} is out of range", line) from None
                if key == "Fn::GetAtt":
                    attr = ".".join(arg) if isinstance(arg, list) else str(arg)
                    if attr in self.values:
                        return self.values[attr]
                    raise self.fail(node, f"Fn::GetAtt {attr} cannot be resolved locally; pass "
                                    f"parameters={{'{attr}': ...}} or give the value directly", line)
                if key.startswith("Fn::") or key == "Condition":
                    raise self.fail(node, f"{key} cannot be resolved locally ({_short(arg)}); give the value "
                                    f"directly or through a parameter", line)
            out = {}
            for k, v in node.items():
                value = self(v, line)
                if value is not _ABSENT:
                    out[k] = value
            return out
        if isinstance(node, list):
            return [x for x in (self(v, line) for v in node) if x is not _ABSENT]
        return node

    def _ref(self, node: Any, name: Any, line: int) -> Any:
        if name in self.values:
            return self.values[name]
        if name in self.missing:
            raise self.fail(node, f"!Ref {name}: the parameter has no Default; pass parameters={{'{name}': ...}}",
                            line)
        if name in self.resources:
            raise self.fail(node, f"!Ref {name} names a resource, which has no value in a local run; "
                            f"pass parameters={{'{name}': ...}}", line)
        raise self.fail(node, f"!Ref {name}: no such parameter or resource", line)

    def _sub(self, node: Any, arg: Any, line: int) -> str:
        if isinstance(arg, list):
            if len(arg) != 2 or not isinstance(arg[1], dict):
                raise self.fail(node, "Fn::Sub takes a string or [string, {variables}]", line)
            text, extra = arg[0], {k: self(v, line) for k, v in arg[1].items()}
        else:
            text, extra = arg, {}
        if not isinstance(text, str):
            raise self.fail(node, "Fn::Sub needs a string", line)

        def one(match: re.Match) -> str:
            name = match[1]
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in extra:
                return str(extra[name])
            if name in self.values:
                return str(self.values[name])
            return str(self._ref(node, name, line)) if "." not in name else _raise(
                self.fail(node, f"!Sub ${{{name}}}: attributes of resources cannot be resolved locally; "
                          f"pass parameters={{'{name}': ...}}", line))

        return re.sub(r"\$\{([^}]+)\}", one, text)


def _raise(exc: Exception):
    raise exc


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _merge(globals_: dict, props: dict) -> dict:
    merged = dict(globals_)
    for key, value in props.items():
        if key == "Environment" and isinstance(value, dict) and isinstance(merged.get(key), dict):
            variables = dict((merged[key] or {}).get("Variables") or {})
            variables.update(value.get("Variables") or {})
            merged[key] = {**merged[key], **value, "Variables": variables}
        else:
            merged[key] = value
    return merged


def read(path: str | os.PathLike, parameters: dict[str, Any] | None = None, region: str = "us-east-1",
         account: str = "123456789012", register_params: set[str] | None = None) -> Project:
    """Read a template into a Project (nothing registered yet)."""
    p = Path(path).expanduser().resolve()
    template = parse(p)
    resolve = _Resolver(p, template, dict(parameters or {}), region, account)
    globals_raw = ((template.get("Globals") or {}).get("Function")) or {}
    specs: list[FunctionSpec] = []
    routes: list[Route] = []
    unsupported: list[str] = []
    notes: list[str] = []
    register_params = register_params or set()
    for logical_id, resource in template["Resources"].items():
        line = _line(logical_id) or _line(resource)  # the line that names the resource
        rtype = resource.get("Type") if isinstance(resource, dict) else None
        if rtype in APIS:
            continue  # served through the routes of the functions' events
        if rtype != FUNCTION:
            unsupported.append(f"{logical_id} ({rtype}, line {line})")
            continue
        props = _merge(globals_raw, resource.get("Properties") or {})
        # Events and FunctionUrlConfig: only the fields a local run uses are resolved below.
        get = {k: resolve(v, line) if k not in ("Events", "FunctionUrlConfig") else v
               for k, v in props.items() if k in _PROPERTIES}
        ignored = sorted(k for k in props if k not in _PROPERTIES)
        if ignored:
            notes.append(f"{logical_id}: not used locally: {', '.join(ignored)}")
        if get.get("PackageType", "Zip") != "Zip":
            unsupported.append(f"{logical_id} (PackageType {get['PackageType']}, line {line})")
            continue
        runtime = str(get.get("Runtime", "python3"))
        if not runtime.startswith("python3"):
            unsupported.append(f"{logical_id} (Runtime {runtime}: lambda_widget runs Python, line {line})")
            continue
        handler = get.get("Handler")
        if not isinstance(handler, str) or not handler:
            raise TemplateError(f"{p}, line {line}: {logical_id} has no Handler")
        spec = FunctionSpec(logical_id, str(get.get("FunctionName") or logical_id), line, handler)
        if "InlineCode" in get:
            spec.inline_code = str(get["InlineCode"])
        else:
            code_uri = get.get("CodeUri", ".")
            if not isinstance(code_uri, str) or code_uri.startswith("s3://"):
                raise TemplateError(f"{p}, line {line}: {logical_id}: CodeUri must be a local directory "
                                    f"(not {_short(code_uri)})")
            spec.code_dir = (p.parent / code_uri).resolve()
            if not spec.code_dir.is_dir():
                raise TemplateError(f"{p}, line {line}: {logical_id}: CodeUri {code_uri!r} is not a directory "
                                    f"({spec.code_dir})")
        cfg = spec.config
        if "Timeout" in get:
            cfg["timeout"] = _number(get["Timeout"], p, line, logical_id, "Timeout", float)
        if "MemorySize" in get:
            cfg["memory_mb"] = _number(get["MemorySize"], p, line, logical_id, "MemorySize", int)
        variables = (get.get("Environment") or {}).get("Variables") or {}
        if variables:
            cfg["env"] = {str(k): _env_value(v) for k, v in variables.items()}
        if "ReservedConcurrentExecutions" in get:
            cfg["reserved_concurrency"] = _number(get["ReservedConcurrentExecutions"], p, line, logical_id,
                                                  "ReservedConcurrentExecutions", int)
        provisioned = (get.get("ProvisionedConcurrencyConfig") or {}).get("ProvisionedConcurrentExecutions")
        if provisioned is not None:
            cfg["provisioned_concurrency"] = _number(provisioned, p, line, logical_id,
                                                     "ProvisionedConcurrentExecutions", int)
        architectures = get.get("Architectures")
        if architectures:
            spec.architecture = str(architectures[0])
            if "architecture" in register_params:
                cfg["architecture"] = spec.architecture
            else:
                notes.append(f"{spec.name}: Architectures {spec.architecture} recorded; this engine "
                             f"runs every function on the machine's own CPU")
        apply_on = (get.get("SnapStart") or {}).get("ApplyOn", "None")
        if apply_on not in ("PublishedVersions", "None"):
            raise TemplateError(f"{p}, line {line}: {logical_id}: SnapStart ApplyOn must be "
                                f"PublishedVersions or None, not {_short(apply_on)}")
        if apply_on == "PublishedVersions":  # Init at publish, restores at cold starts
            cfg["snap_start"] = True
        spec.function_url = "FunctionUrlConfig" in get
        cors = (get.get("FunctionUrlConfig") or {}).get("Cors") if spec.function_url else None
        if cors is not None:
            spec.cors = resolve(cors, line)
        for event_id, event in (get.get("Events") or {}).items():
            etype = resolve((event or {}).get("Type"), line)
            raw = (event or {}).get("Properties") or {}
            eprops = {k: resolve(raw[k], line) for k in ("Path", "Method") if k in raw}
            if etype in ("Api", "HttpApi"):
                method = str(eprops.get("Method", "ANY" if etype == "HttpApi" else "")).upper()
                path = eprops.get("Path")
                if etype == "Api" and (not method or not path):
                    raise TemplateError(f"{p}, line {line}: {logical_id} event {event_id}: an Api event needs "
                                        f"Path and Method")
                if etype == "HttpApi" and path is None:
                    path, method = "$default", "ANY"
                routes.append(Route("ANY" if method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD") else method,
                                    str(path), spec.name, "1.0" if etype == "Api" else "2.0"))
            else:
                unsupported.append(f"{logical_id} event {event_id} ({etype}): invoke it with a sample "
                                   f"event from lw.events instead")
        specs.append(spec)
    return Project(p, specs, routes, unsupported, notes)


def _number(value: Any, path: Path, line: int, logical_id: str, what: str, kind: type):
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise TemplateError(f"{path}, line {line}: {logical_id}: {what} must be a number, "
                            f"not {_short(value)}") from None
    return number


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def load(mgr, path: str | os.PathLike, parameters: dict[str, Any] | None = None) -> Project:
    """Read ``path`` and register every function in ``mgr`` (again: new versions)."""
    from lambda_widget.engine.errors import LambdaApiError

    params = set(inspect.signature(mgr.register).parameters)
    project = read(path, parameters, mgr.region, mgr.account_id, params)
    project.manager = mgr
    for spec in project.specs:
        try:
            if spec.inline_code is not None:
                fn = mgr.register(spec.name, spec.inline_code, handler=spec.handler, **spec.config)
            else:
                fn = mgr.register(spec.name, path=str(spec.code_dir), handler=spec.handler, **spec.config)
        except LambdaApiError as exc:
            raise TemplateError(f"{project.path}, line {spec.line}: {spec.logical_id}: "
                                f"{exc.args[0] if exc.args else exc}") from None
        project.functions[spec.name] = fn
    return project
