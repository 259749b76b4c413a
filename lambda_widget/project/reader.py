"""Reading a SAM template as ``sam local`` reads it, checked whole (see ``lambda_widget.project.sam``)."""

from __future__ import annotations

import copy
import json
import os
import re
import sys
import zipfile
from pathlib import Path
from typing import Any

from lambda_widget.engine import interpreters
from lambda_widget.front.urls import Route
from lambda_widget.project.specs import (
    EventSourceSpec,
    FunctionSpec,
    LayerSpec,
    Project,
    ScheduleSpec,
    short_repr,
)
from lambda_widget.project.template import (
    FUNCTION_TYPES,
    LAYER_TYPES,
    Map,
    Problem,
    Resolver,
    TemplateError,
    line_of,
    load_yaml,
    parameter_values,
)

FUNCTION = "AWS::Serverless::Function"
LAMBDA_FUNCTION = "AWS::Lambda::Function"
REST_API = "AWS::Serverless::Api"
HTTP_API = "AWS::Serverless::HttpApi"
APIS = (REST_API, HTTP_API)
# Properties that change what a local run does: an unresolved value there is an error.
LOCAL = ("CodeUri", "InlineCode", "Code", "Handler", "Runtime", "Timeout", "MemorySize", "Layers",
         "ReservedConcurrentExecutions", "ProvisionedConcurrencyConfig", "Architectures", "PackageType",
         "FunctionUrlConfig", "Events", "ContentUri", "Content", "SnapStart")
USED = LOCAL + ("Environment", "FunctionName", "Description", "Metadata")
EVENT_FIELDS = {"Api": ("Path", "Method"), "HttpApi": ("Path", "Method", "PayloadFormatVersion"),
                "Schedule": ("Schedule", "Input", "Enabled", "State", "Name"),
                "ScheduleV2": ("ScheduleExpression", "Input", "State", "Name", "ScheduleExpressionTimezone"),
                "SQS": ("Queue", "BatchSize", "Enabled", "MaximumBatchingWindowInSeconds", "FilterCriteria",
                        "FunctionResponseTypes", "ScalingConfig")}
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "ANY")
# EventBridge Scheduler schedules and EventBridge rules: served when they invoke a function of the template
SCHEDULE_RESOURCES = {"AWS::Scheduler::Schedule": "ScheduleV2", "AWS::Events::Rule": "Schedule"}

_SAM_MESSAGES = ("Resource with id [", "Event with id [", "Structure of the SAM template", "'Globals' section")


class Findings:
    """Errors and warnings, each with the template's name and a line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.errors: list[tuple[int, str]] = []
        self.warnings: list[tuple[int, str]] = []

    def error(self, line: int, message: str) -> None:
        self.errors.append((line, message))

    def warn(self, line: int, message: str) -> None:
        self.warnings.append((line, message))

    def raise_errors(self) -> None:
        """One line per template line: our message, and sam local's (SAM's transform) beside it."""
        if not self.errors:
            return
        by_line: dict[int, list[str]] = {}
        for line, msg in self.errors:
            if msg not in by_line.setdefault(line, []):
                by_line[line].append(msg)
        out = []
        for line in sorted(by_line):
            ours = [m for m in by_line[line] if not m.startswith(_SAM_MESSAGES)]
            sams = [m for m in by_line[line] if m.startswith(_SAM_MESSAGES)]
            text = "; ".join(ours) if ours else "; ".join(sams)
            if ours and sams:
                text += f" (sam local: {' '.join(sams)})"
            out.append(f"{self.path}, line {line}: {text}")
        raise TemplateError("\n".join(out))

    def warning_lines(self) -> list[str]:
        return [f"line {line}: {msg}" for line, msg in sorted(set(self.warnings), key=lambda w: w[0])]


# ---------------------------------------------------------------------- SAM's transform
def _sam_plugins(template: dict, check: Findings, broken: set[str]) -> dict:
    """``template`` after SAM's plugins (Globals, implicit APIs), as aws-sam-cli runs them, with its
    property-type checks as errors. Needs aws-sam-translator (``lambda_widget[serve]``)."""
    try:
        from samtranslator.model import ResourceTypeResolver, sam_resources
        from samtranslator.model.exceptions import (
            ExceptionWithMessage,
            InvalidDocumentException,
            InvalidEventException,
            InvalidResourceException,
        )
        from samtranslator.plugins import LifeCycleEvents
        from samtranslator.plugins.api.default_definition_body_plugin import DefaultDefinitionBodyPlugin
        from samtranslator.plugins.api.implicit_http_api_plugin import ImplicitHttpApiPlugin
        from samtranslator.plugins.api.implicit_rest_api_plugin import ImplicitRestApiPlugin
        from samtranslator.plugins.globals.globals_plugin import GlobalsPlugin
        from samtranslator.plugins.sam_plugins import SamPlugins
    except ImportError:
        raise TemplateError("reading SAM templates needs aws-sam-translator: pip install "
                            "'lambda_widget[serve]'") from None
    # Policy templates and serverless applications (SAR) have no local effect, and the latter
    # would call AWS: those two plugins of sam local's are left out.
    work = copy.deepcopy(template)
    resources = work["Resources"]
    for logical_id in [k for k, r in resources.items() if k in broken or (isinstance(r, dict)
                       and r.get("Type") == "AWS::Serverless::Application")]:
        del resources[logical_id]
    plugins = SamPlugins([DefaultDefinitionBodyPlugin(), ImplicitRestApiPlugin(), ImplicitHttpApiPlugin(),
                          GlobalsPlugin()])
    original = template["Resources"]

    def report(exc: Exception) -> None:
        message = exc.message if isinstance(exc, ExceptionWithMessage) else str(exc)
        logical_id = getattr(exc, "_logical_id", None)
        line = 0
        if isinstance(logical_id, str) and logical_id in original:
            node = original[logical_id]
            line = original.line_of(logical_id) if isinstance(original, Map) else 0
            prop = re.search(r"property '([A-Za-z0-9]+)", message)
            props = node.get("Properties") if isinstance(node, dict) else None
            if prop and isinstance(props, Map) and prop[1] in props:
                line = props.line_of(prop[1])
        elif isinstance(exc, InvalidEventException):
            line = _event_line(original, getattr(exc, "_event_id", None))
        elif "Globals" in message:
            line = template.line_of("Globals", 0) if isinstance(template, Map) else 0
        check.error(line or 1, message)

    try:
        plugins.act(LifeCycleEvents.before_transform_template, work)
    except InvalidDocumentException as exc:
        for cause in exc.causes:
            report(cause)
        return work
    except (InvalidResourceException, InvalidEventException, ExceptionWithMessage) as exc:
        report(exc)
        return work
    except Exception as exc:  # noqa: BLE001 - SAM's transform met a shape it did not foresee
        check.error(1, f"SAM's transform could not read the template ({type(exc).__name__}: {exc})")
        return work
    finally:
        _forget_metrics()
    resolver = ResourceTypeResolver(sam_resources)
    for logical_id, resource in work["Resources"].items():
        if not isinstance(resource, dict):
            continue
        try:
            if resolver.can_resolve(resource):
                resolver.resolve_resource_type(resource).from_dict(logical_id, resource, sam_plugins=plugins)
        except (InvalidResourceException, InvalidEventException) as exc:
            report(exc)
        except Exception as exc:  # noqa: BLE001 - as above
            line = original.line_of(logical_id) if isinstance(original, Map) else 1
            check.error(line, f"{logical_id}: SAM's transform could not read it ({type(exc).__name__}: {exc})")
    _forget_metrics()
    return work


def _forget_metrics() -> None:
    """SAM's transform times itself into a process-wide cache it never publishes here (and
    complains about at exit): empty it."""
    try:
        from samtranslator.metrics.method_decorator import MetricsMethodWrapperSingleton

        MetricsMethodWrapperSingleton.get_instance().metrics_cache.clear()
    except (ImportError, AttributeError):
        pass


def _event_line(resources: dict, event_id: str | None) -> int:
    for resource in resources.values():
        props = resource.get("Properties") if isinstance(resource, dict) else None
        events = props.get("Events") if isinstance(props, dict) else None
        if isinstance(events, Map) and event_id in events:
            return events.line_of(event_id)
    return 0

# ---------------------------------------------------------------------- reading
def read(path: str | os.PathLike, parameters: dict[str, Any] | None = None, region: str = "us-east-1",
         account: str = "123456789012", register_params: set[str] | None = None, *,
         logical_ids: bool = False, allow_outside_code: bool = False) -> Project:
    """Read and check a template into a Project (nothing registered). ``TemplateError`` lists
    every error with its line.

    ``logical_ids``: name functions by their logical IDs (as ``sam local invoke`` does) instead of
    their ``FunctionName``. ``allow_outside_code``: accept a ``CodeUri``/``ContentUri`` outside the
    template's directory."""
    p = Path(path).expanduser().resolve()
    template = load_yaml(p)
    check = Findings(p)
    values, parameter_warnings = parameter_values(template, p, dict(parameters or {}), region, account)
    notes: list[str] = list(parameter_warnings)
    unsupported: list[str] = []
    original = template["Resources"]
    for logical_id, resource in original.items():
        line = original.line_of(logical_id) if isinstance(original, Map) else 0
        if not isinstance(resource, dict):
            check.error(line, f"{logical_id}: a resource is a mapping with a Type, not {short_repr(resource)}")
        elif not isinstance(resource.get("Type"), str):
            check.error(line, f"{logical_id}: the resource has no Type")
        elif "Properties" in resource and not isinstance(resource["Properties"], dict):
            check.error(resource.line_of("Properties", line) if isinstance(resource, Map) else line,
                        f"{logical_id}: Properties must be a mapping, not {short_repr(resource['Properties'])}")
    glob = template.get("Globals", {})
    if not isinstance(glob, dict):
        check.error(template.line_of("Globals"), "Globals must be a mapping")
        check.raise_errors()
    for section, value in glob.items():
        if not isinstance(value, dict):
            check.error(glob.line_of(section) if isinstance(glob, Map) else 1,
                        f"Globals.{section} must be a mapping of properties, not {short_repr(value)}")
    check.raise_errors()
    broken = {logical_id for line, msg in check.errors for logical_id in original if msg.startswith(f"{logical_id}:")}
    transformed = _sam_plugins(template, check, broken)

    resolver = Resolver(transformed, values)
    resolver.conditions = template.get("Conditions") or {}
    resolver.mappings = template.get("Mappings") or {}
    reader = _Reader(p, check, resolver, logical_ids, allow_outside_code, register_params or set())
    reader.original = original
    reader.globals = template.get("Globals") or {}
    project = Project(p, [], [], unsupported, notes)
    resources = transformed["Resources"]
    later: list[tuple[str, dict]] = []
    # Layers and APIs first: functions and events refer to them.
    for logical_id, resource in resources.items():
        if isinstance(resource, dict) and resource.get("Type") in LAYER_TYPES and reader.included(logical_id, resource):
            layer = reader.guarded(reader.layer, logical_id, resource)
            if layer is not None:
                project.layers.append(layer)
                reader.layers[logical_id] = layer
        elif isinstance(resource, dict) and resource.get("Type") in APIS and reader.included(logical_id, resource):
            reader.guarded(reader.api, logical_id, resource)
    for logical_id, resource in resources.items():
        rtype = resource.get("Type") if isinstance(resource, dict) else None
        line = reader.line(logical_id)
        if rtype in LAYER_TYPES or rtype in APIS:
            continue
        if not reader.included(logical_id, resource):
            continue
        if rtype in FUNCTION_TYPES:
            spec = reader.guarded(reader.function, logical_id, resource, project)
            if spec is not None:
                project.specs.append(spec)
        elif rtype in SCHEDULE_RESOURCES:
            later.append((logical_id, resource))
        else:
            unsupported.append(f"{logical_id} ({rtype}, line {line})")
    for logical_id, resource in later:  # schedules that target the template's functions
        if not reader.guarded(reader.schedule_resource, logical_id, resource, project):
            unsupported.append(f"{logical_id} ({resource['Type']}, line {reader.line(logical_id)})")
    for logical_id in original:
        if isinstance(original[logical_id], dict) and original[logical_id].get("Type") == "AWS::Serverless::Application":
            unsupported.append(f"{logical_id} (AWS::Serverless::Application, line {reader.line(logical_id)})")
    reader.definition_routes(project)
    reader.check_names(project)
    reader.check_routes(project)
    for problem in resolver.problems:
        reader.problem(problem)
    check.raise_errors()
    project.warnings = check.warning_lines()
    project.notes.extend(reader.notes)
    for runtime, names in reader.runtimes.items():
        which = names[0] if len(names) == 1 else f"{len(names)} functions"
        found = interpreters.find(runtime) if runtime in interpreters.LAMBDA_PYTHONS else None
        if found is not None:
            project.notes.append(f"Runtime {runtime} ({which}) runs on Python {found.version_text} "
                                 f"({found.source}: {found.executable})")
    queues = {m.queue for m in project.event_sources}
    if project.event_sources:  # every queue of the template is made with the mappings: a DLQ is a queue too
        for logical_id, resource in resources.items():
            if isinstance(resource, dict) and resource.get("Type") == "AWS::SQS::Queue" \
                    and reader.included(logical_id, resource):
                props = resolver.resolve(dict(resource.get("Properties") or {}), f"{logical_id}.Properties",
                                         reader.line(logical_id))
                project.queues[logical_id] = props if isinstance(props, dict) else {}
                queues.add(logical_id)
    project.unsupported = [u for u in project.unsupported if u.split(" ", 1)[0] not in queues]
    for m in project.event_sources:
        if m.queue in resources:
            project.notes.append(f"{m.queue} (AWS::SQS::Queue, line {reader.line(m.queue)}): the queue of "
                                 f"{m.function}'s SQS event; the event source mapping creates it")
    return project


_OWN_RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"


class _Reader:
    def __init__(self, path: Path, check: Findings, resolver: Resolver, logical_ids: bool,
                 allow_outside: bool, register_params: set[str]) -> None:
        self.path = path
        self.check = check
        self.resolver = resolver
        self.logical_ids = logical_ids
        self.allow_outside = allow_outside
        self.register_params = register_params
        self.original = resolver.template["Resources"]
        self.globals: dict = {}
        self.layers: dict[str, LayerSpec] = {}
        self.apis: dict[str, dict[str, Any]] = {}
        self.notes: list[str] = []
        self.names: dict[str, tuple[str, int]] = {}
        self.runtimes: dict[str, list[str]] = {}  # other Pythons named by Runtime -> functions

    def line(self, logical_id: str) -> int:
        resources = self.resolver.template["Resources"]
        line = resources.line_of(logical_id, 0) if isinstance(resources, Map) else 0
        return line or line_of(resources.get(logical_id), 0) or 1  # an implicit API: the template's start

    def guarded(self, method, logical_id: str, *args):
        """``method(logical_id, *args)``; a shape of template it did not foresee is an error naming
        the resource, never a traceback."""
        try:
            return method(logical_id, *args)
        except Exception as exc:  # noqa: BLE001 - a template can be anything
            self.check.error(self.line(logical_id), f"{logical_id}: could not be read "
                                                    f"({type(exc).__name__}: {exc})")
            return None

    def included(self, logical_id: str, resource: Any) -> bool:
        """A resource whose ``Condition`` is false is not created (as CloudFormation skips it)."""
        if not isinstance(resource, dict) or "Condition" not in resource:
            return True
        name = resource["Condition"]
        from lambda_widget.project.template import Unresolved

        try:
            if self.resolver.condition(name, self.line(logical_id)):
                return True
        except Unresolved as exc:
            self.check.warn(self.line(logical_id), f"{logical_id}: Condition {name}: {exc.message}; created")
            return True
        self.notes.append(f"{logical_id}: not created (Condition {name} is false)")
        return False

    def props(self, logical_id: str, resource: dict) -> Map:
        raw = resource.get("Properties") or Map()
        props = self.resolver.resolve(raw, f"{logical_id}.Properties", self.line(logical_id))
        if not isinstance(props, Map):
            props = Map()
            props.lines = {}
        # SAM's Globals merge rebuilds the mapping: the lines are those of the template's own.
        own = self.original.get(logical_id, {}).get("Properties") if isinstance(self.original.get(logical_id), dict) else None
        section = {"AWS::Serverless::Function": "Function", "AWS::Serverless::Api": "Api",
                   "AWS::Serverless::HttpApi": "HttpApi", "AWS::Serverless::LayerVersion": "LayerVersion"}
        glob = (self.globals or {}).get(section.get(resource.get("Type"), ""))
        props.sources = [n for n in (own, glob) if isinstance(n, Map)]
        return props

    def where(self, props: Map, key: str, default: int) -> int:
        """The line of property ``key``: where the resource sets it, or where ``Globals`` does."""
        if isinstance(props, Map) and key in props.lines:
            return props.lines[key]
        for node in getattr(props, "sources", ()):
            if isinstance(node, Map) and key in node.lines:
                return node.lines[key]
        return default

    # -- a path inside the project ------------------------------------------------
    def local_path(self, value: Any, line: int, what: str, owner: str) -> Path | None:
        if not isinstance(value, str):
            self.check.error(line, f"{owner}: {what} must be a local path, not {short_repr(value)}")
            return None
        target = (self.path.parent / value).resolve()
        if not target.exists():
            self.check.error(line, f"{owner}: {what} {value!r} does not exist ({target})")
            return None
        home = self.path.parent
        if not self.allow_outside and target != home and home not in target.parents:
            self.check.error(line, f"{owner}: {what} {value!r} is outside the template's directory ({target}); "
                                   f"pass allow_outside_code=True (--allow-outside-code) to use it")
            return None
        if target.is_file() and not zipfile.is_zipfile(target):
            self.check.error(line, f"{owner}: {what} {value!r} is a file but not a zip file")
            return None
        return target

    # -- layers ----------------------------------------------------------------------
    def layer(self, logical_id: str, resource: dict) -> LayerSpec | None:
        line = self.line(logical_id)
        props = self.props(logical_id, resource)
        key = "ContentUri" if resource["Type"] == "AWS::Serverless::LayerVersion" else "Content"
        content = props.get(key)
        if isinstance(content, dict) or (isinstance(content, str) and content.startswith("s3://")):
            if isinstance(content, dict) and "S3Bucket" not in content and "Bucket" not in content:
                self.check.error(self.where(props, key, line), f"{logical_id}: {key} must be a local path")
            else:
                self.check.warn(self.where(props, key, line), f"{logical_id}: {key} is in S3, which a local run "
                                                                f"cannot fetch; functions run without this layer")
            return None
        target = self.local_path(content, self.where(props, key, line), key, logical_id)
        if target is None:
            return None
        metadata = resource.get("Metadata") or {}
        build = metadata.get("BuildMethod") if isinstance(metadata, dict) else None
        name = props.get("LayerName") if isinstance(props.get("LayerName"), str) else logical_id
        return LayerSpec(logical_id, line, target, name, build if isinstance(build, str) else None)

    # -- APIs ------------------------------------------------------------------------
    def api(self, logical_id: str, resource: dict) -> None:
        props = self.props(logical_id, resource)
        rest = resource["Type"] == REST_API
        variables = props.get("Variables" if rest else "StageVariables") or {}
        types = props.get("BinaryMediaTypes")
        binary = [t.replace("~1", "/") for t in types if isinstance(t, str)] if isinstance(types, list) else []
        stage = props.get("StageName", "Prod" if rest else "$default")
        if not isinstance(stage, str):
            self.check.warn(self.where(props, "StageName", self.line(logical_id)),
                            f"{logical_id}: StageName {short_repr(stage)} is not a name; 'Prod' used")
            stage = "Prod"
        self.apis[logical_id] = {
            "kind": "Api" if rest else "HttpApi", "stage": stage,
            "cors": _api_cors(props.get("Cors") if rest else props.get("CorsConfiguration"), rest),
            "variables": tuple((str(k), str(v)) for k, v in variables.items()) if isinstance(variables, dict) else (),
            "binary": tuple(binary),
        }
        body = props.get("DefinitionBody")
        if isinstance(body, dict) and not props.get("__MANAGE_SWAGGER"):
            self.apis[logical_id]["body"] = body
            extra = body.get("x-amazon-apigateway-binary-media-types")
            if isinstance(extra, list):
                self.apis[logical_id]["binary"] += tuple(str(t).replace("~1", "/") for t in extra)
            self.apis[logical_id]["line"] = self.where(props, "DefinitionBody", self.line(logical_id))
        elif props.get("DefinitionUri") is not None:
            self.notes.append(f"{logical_id}: routes of its DefinitionUri are not served; routes of "
                              f"functions' events are")

    # -- functions -------------------------------------------------------------------
    def function(self, logical_id: str, resource: dict, project: Project) -> FunctionSpec | None:
        line = self.line(logical_id)
        props = self.props(logical_id, resource)
        serverless = resource["Type"] == FUNCTION
        ignored = sorted(k for k in props if k not in USED and not k.startswith("__"))
        if ignored:
            self.notes.append(f"{logical_id}: not used locally: {', '.join(ignored)}")
        package = props.get("PackageType", "Zip")
        if package != "Zip":
            project.unsupported.append(f"{logical_id} (PackageType {package}, line {line})")
            return None
        runtime = props.get("Runtime")
        if runtime is not None and not (isinstance(runtime, str) and runtime.startswith("python3")):
            project.unsupported.append(f"{logical_id} (Runtime {runtime}: lambda_widget runs Python, line {line})")
            return None
        handler = props.get("Handler")
        if not isinstance(handler, str) or not handler:
            self.check.error(self.where(props, "Handler", line),
                             f"{logical_id}: Handler must be module.function, not {short_repr(handler)}")
            return None
        name = logical_id
        fname = props.get("FunctionName")
        if not self.logical_ids and fname is not None:
            if isinstance(fname, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", fname):
                name = fname
            elif isinstance(fname, str):
                self.check.error(self.where(props, "FunctionName", line),
                                 f"{logical_id}: FunctionName {fname!r} is not a valid function name "
                                 f"(1-64 letters, digits, hyphens or underscores)")
        spec = FunctionSpec(logical_id, name, line, handler, runtime=runtime or "")
        if not self.code(spec, props, serverless, line, project):
            return None
        self.config(spec, props, line)
        self.function_layers(spec, props, line)
        spec.function_url = isinstance(props.get("FunctionUrlConfig"), dict)
        if "FunctionUrlConfig" in props and not spec.function_url:
            self.check.error(self.where(props, "FunctionUrlConfig", line),
                             f"{logical_id}: FunctionUrlConfig must be a mapping (AuthType, Cors)")
        cors = props.get("FunctionUrlConfig", {}).get("Cors") if spec.function_url else None
        if isinstance(cors, dict):
            spec.cors = dict(cors)
        raw_events = (resource.get("Properties") or {}).get("Events")
        self.events(spec, props.get("Events"), raw_events, self.where(props, "Events", line), project)
        return spec

    def code(self, spec: FunctionSpec, props: Map, serverless: bool, line: int, project: Project) -> bool:
        logical_id = spec.logical_id
        if serverless and "InlineCode" in props:
            if not isinstance(props["InlineCode"], str):
                self.check.error(self.where(props, "InlineCode", line), f"{logical_id}: InlineCode must be text")
                return False
            spec.inline_code = props["InlineCode"]
            return True
        key = "CodeUri" if serverless else "Code"
        code = props.get(key, ".")  # sam local's default for both
        if not serverless and isinstance(code, dict) and "ZipFile" in code:
            spec.inline_code = str(code["ZipFile"])
            return True
        if isinstance(code, dict) or (isinstance(code, str) and code.startswith("s3://")):
            if isinstance(code, dict) and not ({"Bucket", "S3Bucket"} & set(code)):
                self.check.error(self.where(props, key, line), f"{logical_id}: {key} must be a local path, "
                                                                 f"not {short_repr(code)}")
                return False
            project.unsupported.append(f"{logical_id} ({key} is in S3, which a local run cannot fetch, line {line})")
            return False
        target = self.local_path(code, self.where(props, key, line), key, logical_id)
        if target is None:
            return False
        if target.is_file():
            spec.code_zip = target
        else:
            spec.code_dir = target
        if "." not in spec.handler:
            self.check.error(self.where(props, "Handler", line),
                             f"{logical_id}: Handler {spec.handler!r} must be module.function (e.g. app.handler)")
        return True

    def config(self, spec: FunctionSpec, props: Map, line: int) -> None:
        cfg = spec.config
        logical_id = spec.logical_id
        for key, name, kind in (("Timeout", "timeout", float), ("MemorySize", "memory_mb", int),
                                ("ReservedConcurrentExecutions", "reserved_concurrency", int)):
            if key in props:
                number = self.number(props[key], kind, self.where(props, key, line), logical_id, key)
                if number is not None:
                    cfg[name] = number
        provisioned = props.get("ProvisionedConcurrencyConfig")
        if provisioned is not None:
            where = self.where(props, "ProvisionedConcurrencyConfig", line)
            if not isinstance(provisioned, dict):
                self.check.error(where, f"{logical_id}: ProvisionedConcurrencyConfig must be a mapping with "
                                        f"ProvisionedConcurrentExecutions, not {short_repr(provisioned)}")
            elif "ProvisionedConcurrentExecutions" in provisioned:
                number = self.number(provisioned["ProvisionedConcurrentExecutions"], int, where, logical_id,
                                     "ProvisionedConcurrentExecutions")
                if number is not None:
                    cfg["provisioned_concurrency"] = number
        environment = props.get("Environment")
        if environment is not None:
            where = self.where(props, "Environment", line)
            variables = environment.get("Variables") if isinstance(environment, dict) else None
            if not isinstance(environment, dict) or not isinstance(variables, (dict, type(None))):
                self.check.error(where, f"{logical_id}: Environment must be a mapping with Variables, "
                                        f"not {short_repr(environment)}")
            elif variables:
                cfg["env"] = {str(k): _env_value(v) for k, v in variables.items()}
        architectures = props.get("Architectures")
        if architectures is not None:
            where = self.where(props, "Architectures", line)
            if not (isinstance(architectures, list) and len(architectures) == 1
                    and architectures[0] in ("x86_64", "arm64")):
                self.check.error(where, f"{logical_id}: Architectures must be [x86_64] or [arm64], "
                                        f"not {short_repr(architectures)}")
            else:
                spec.architecture = architectures[0]
                if "architecture" in self.register_params:
                    cfg["architecture"] = spec.architecture
        snap_start = props.get("SnapStart")
        if snap_start is not None:  # ApplyOn: PublishedVersions: Init at publish, restores after
            apply_on = snap_start.get("ApplyOn") if isinstance(snap_start, dict) else None
            if apply_on not in ("PublishedVersions", "None"):
                self.check.error(self.where(props, "SnapStart", line),
                                 f"{logical_id}: SnapStart ApplyOn must be PublishedVersions or None, "
                                 f"not {short_repr(apply_on if isinstance(snap_start, dict) else snap_start)}")
            elif apply_on == "PublishedVersions" and "snap_start" in self.register_params:
                cfg["snap_start"] = True
        runtime = spec.runtime
        if runtime in interpreters.LAMBDA_PYTHONS and "runtime" in self.register_params:
            cfg["runtime"] = runtime  # the bundled runtime on that Python, if this machine has it
        if runtime and runtime != _OWN_RUNTIME:
            self.runtimes.setdefault(runtime, []).append(spec.name)
            where = self.where(props, "Runtime", line)
            if runtime not in interpreters.LAMBDA_PYTHONS:
                own = interpreters.kernel().version
                self.check.warn(where, f"{logical_id}: {runtime} is not one of Lambda's Python runtimes "
                                          f"({', '.join(interpreters.LAMBDA_PYTHONS)}): runs on Python "
                                          f"{own[0]}.{own[1]}")
            elif interpreters.find(runtime) is None:
                self.check.warn(where, f"{logical_id}: {interpreters.missing_words(runtime)}")

    def number(self, value: Any, kind: type, line: int, logical_id: str, what: str):
        if isinstance(value, bool) or isinstance(value, (dict, list)):
            self.check.error(line, f"{logical_id}: {what} must be a number, not {short_repr(value)}")
            return None
        try:
            return kind(value)
        except (TypeError, ValueError):
            self.check.error(line, f"{logical_id}: {what} must be a number, not {short_repr(value)}")
            return None

    def function_layers(self, spec: FunctionSpec, props: Map, line: int) -> None:
        layers = props.get("Layers")
        if layers is None:
            return
        where = self.where(props, "Layers", line)
        if not isinstance(layers, list):
            self.check.error(where, f"{spec.logical_id}: Layers must be a list, not {short_repr(layers)}")
            return
        if len(layers) > 5:
            self.check.error(where, f"{spec.logical_id}: Cannot reference more than 5 layers.")
        for i, layer in enumerate(layers):
            item_line = layers.line_of(i, where) if hasattr(layers, "line_of") else where
            if isinstance(layer, dict) and set(layer) == {"Ref"} and layer["Ref"] in self.layers:
                spec.layers.append(self.layers[layer["Ref"]])
            elif isinstance(layer, dict) and set(layer) == {"Ref"} and layer["Ref"] in self.resolver.resources:
                continue  # a layer of this template that cannot be used: its own message says why
            elif isinstance(layer, str) and layer.startswith("arn:"):
                self.check.warn(item_line, f"{spec.logical_id}: layer {layer} is published in AWS, which a local "
                                           f"run cannot fetch (sam local downloads it); the function runs without it")
            else:
                self.check.error(item_line, f"{spec.logical_id}: Layers[{i}] must be a layer of this template "
                                            f"(!Ref) or a layer ARN, not {short_repr(layer)}")

    # -- events ------------------------------------------------------------------------
    def events(self, spec: FunctionSpec, events: Any, raw_events: Any, line: int, project: Project) -> None:
        logical_id = spec.logical_id
        if events is None:
            return
        if not isinstance(events, dict):
            self.check.error(line, f"{logical_id}: Events must be a mapping of event names to events, "
                                   f"not {short_repr(events)}")
            return
        for event_id, event in events.items():
            eline = events.line_of(event_id, line) if isinstance(events, Map) else line
            if not isinstance(event, dict) or not isinstance(event.get("Type"), str):
                self.check.error(eline, f"{logical_id} event {event_id}: an event is a mapping with a Type and "
                                        f"Properties, not {short_repr(event)}")
                continue
            etype = event["Type"]
            eprops = event.get("Properties", {})
            if not isinstance(eprops, dict):
                self.check.error(eline, f"{logical_id} event {event_id}: Properties must be a mapping, "
                                        f"not {short_repr(eprops)}")
                continue
            raw = (raw_events or {}).get(event_id, {}) if isinstance(raw_events, dict) else {}
            raw_props = raw.get("Properties", {}) if isinstance(raw, dict) else {}
            if etype in ("Api", "HttpApi"):
                self.route(spec, event_id, etype, eprops, raw_props, eline, project)
            elif etype in ("Schedule", "ScheduleV2"):
                self.schedule(spec, event_id, etype, eprops, eline, project)
            elif etype == "SQS":
                self.sqs(spec, event_id, eprops, raw_props, eline, project)
            else:
                project.unsupported.append(f"{logical_id} event {event_id} ({etype}, line {eline}): invoke it "
                                           f"with a sample event from lw.events instead")

    def route(self, spec: FunctionSpec, event_id: str, etype: str, props: dict, raw: dict, line: int,
              project: Project) -> None:
        where = f"{spec.logical_id} event {event_id}"
        api_key = "RestApiId" if etype == "Api" else "ApiId"
        api_ref = raw.get(api_key) if isinstance(raw, dict) else None
        api_id = api_ref.get("Ref") if isinstance(api_ref, dict) else None
        api_id = api_id if isinstance(api_id, str) else None
        api = self.apis.get(api_id or "", {})
        path = props.get("Path")
        method = props.get("Method")
        if etype == "HttpApi" and path is None and method is None:
            path, method = "$default", "ANY"
        if not isinstance(path, str) or not isinstance(method, str):
            self.check.error(line, f"{where}: an {etype} event needs Path and Method (text), not "
                                   f"{short_repr(path)} and {short_repr(method)}")
            return
        method = method.upper()
        if method == "X-AMAZON-APIGATEWAY-ANY-METHOD":
            method = "ANY"
        if method not in METHODS:
            self.check.error(line, f"{where}: Method {method!r} is not an HTTP method ({', '.join(METHODS)})")
            return
        problem = _bad_path(path) if path != "$default" else None
        if problem:
            self.check.error(line, f"{where}: Path {path!r} cannot work: {problem}")
            return
        payload = "1.0" if etype == "Api" else str(props.get("PayloadFormatVersion", "2.0"))
        if payload not in ("1.0", "2.0"):
            self.check.error(line, f'{where}: PayloadFormatVersion {payload!r} is not "1.0" or "2.0"')
            return
        project.routes.append(Route(method, path, spec.name, payload, event_type=etype,
                                    api=api_id or "", stage=api.get("stage", "Prod" if etype == "Api" else "$default"),
                                    stage_variables=api.get("variables", ()), binary_types=api.get("binary", ()),
                                    cors=api.get("cors", ()), line=line))

    def schedule(self, spec: FunctionSpec, event_id: str, etype: str, props: dict, line: int,
                 project: Project) -> None:
        from lambda_widget.engine.schedules import parse_expression

        where = f"{spec.logical_id} event {event_id}"
        key = "Schedule" if etype == "Schedule" else "ScheduleExpression"
        expression = props.get(key)
        try:
            parse_expression(expression)
        except ValueError as exc:
            self.check.error(line, f"{where}: {key} {short_repr(expression)}: {exc}")
            return
        raw_input = props.get("Input")
        event_input = None
        if raw_input is not None:
            try:
                event_input = json.loads(raw_input) if isinstance(raw_input, str) else None
            except ValueError:
                event_input = None
            if event_input is None:
                self.check.error(line, f"{where}: Input must be a JSON text, not {short_repr(raw_input)}")
                return
        enabled = props.get("Enabled", True) is not False and str(props.get("State", "ENABLED")).upper() != "DISABLED"
        timezone = props.get("ScheduleExpressionTimezone", "UTC")
        if timezone not in ("UTC", "Etc/UTC"):
            self.notes.append(f"{where}: ScheduleExpressionTimezone {timezone} is taken as UTC")
        name = props.get("Name") if isinstance(props.get("Name"), str) else f"{spec.logical_id}{event_id}"
        project.schedules.append(ScheduleSpec(spec.name, event_id, line, etype, expression, event_input,
                                              enabled, name))

    def schedule_resource(self, logical_id: str, resource: dict, project: Project) -> bool:
        """An ``AWS::Scheduler::Schedule`` or a scheduled ``AWS::Events::Rule`` whose targets are
        functions of this template: served as their ``ScheduleV2`` / ``Schedule`` events are."""
        raw = resource.get("Properties") or {}
        if not isinstance(raw, dict) or "ScheduleExpression" not in raw:
            return False
        targets = [raw.get("Target")] if resource["Type"] == "AWS::Scheduler::Schedule" else raw.get("Targets")
        functions = {s.logical_id: s for s in project.specs}
        served = False
        for i, target in enumerate(targets if isinstance(targets, list) else []):
            arn = target.get("Arn") if isinstance(target, dict) else None
            ref = arn.get("Fn::GetAtt") if isinstance(arn, dict) else None
            ref = ref.split(".")[0] if isinstance(ref, str) else (ref[0] if isinstance(ref, list) and ref else None)
            spec = functions.get(ref) if isinstance(ref, str) else None
            if spec is None:
                continue
            props = self.props(logical_id, resource)
            kind = SCHEDULE_RESOURCES[resource["Type"]]
            resolved = props.get("Target") if kind == "ScheduleV2" else props.get("Targets", [{}])[i]
            fields = {"Schedule" if kind == "Schedule" else "ScheduleExpression": props.get("ScheduleExpression"),
                      "Input": (resolved or {}).get("Input"), "State": props.get("State"),
                      "Name": props.get("Name") if isinstance(props.get("Name"), str) else logical_id}
            self.schedule(spec, logical_id, kind, {k: v for k, v in fields.items() if v is not None},
                          self.line(logical_id), project)
            served = True
        return served

    def sqs(self, spec: FunctionSpec, event_id: str, props: dict, raw: dict, line: int, project: Project) -> None:
        where = f"{spec.logical_id} event {event_id}"
        queue_raw = raw.get("Queue") if isinstance(raw, dict) else None
        queue = None
        if isinstance(queue_raw, dict) and "Fn::GetAtt" in queue_raw:
            target = queue_raw["Fn::GetAtt"]
            if isinstance(target, str):
                queue = target.split(".")[0]
            elif isinstance(target, list) and target and isinstance(target[0], str):
                queue = target[0]
        elif isinstance(queue_raw, dict) and "Ref" in queue_raw:
            queue = queue_raw["Ref"]
        elif isinstance(props.get("Queue"), str):
            queue = props["Queue"]
        if not isinstance(queue, str):
            self.check.error(line, f"{where}: Queue must be a queue ARN (e.g. !GetAtt MyQueue.Arn)")
            return
        batch = self.number(props.get("BatchSize", 10), int, line, where, "BatchSize")
        window = self.number(props.get("MaximumBatchingWindowInSeconds", 0), int, line, where,
                             "MaximumBatchingWindowInSeconds")
        if batch is None or window is None:
            return
        types = props.get("FunctionResponseTypes") or []
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            self.check.error(line, f"{where}: FunctionResponseTypes must be a list, e.g. [ReportBatchItemFailures]")
            return
        queue_props = {}
        resource = self.resolver.resources.get(queue)
        if isinstance(resource, dict):
            queue_props = {k: v for k, v in (resource.get("Properties") or {}).items()}
            queue_props = self.resolver.resolve(queue_props, f"{queue}.Properties", self.line(queue))
        project.event_sources.append(EventSourceSpec(
            spec.name, event_id, line, queue, batch, window, props.get("Enabled", True) is not False,
            props.get("FilterCriteria"), list(types),
            props.get("ScalingConfig"), dict(queue_props)))

    def definition_routes(self, project: Project) -> None:
        """Routes of an API's OpenAPI / Swagger ``DefinitionBody`` whose ``aws_proxy`` integration
        invokes a function of the template (as sam local serves them)."""
        by_name = {s.name: s for s in project.specs} | {s.logical_id: s for s in project.specs}
        for api_id, api in self.apis.items():
            body = api.get("body")
            paths = body.get("paths") if isinstance(body, dict) else None
            line = api.get("line", self.line(api_id))
            for path, operations in (paths.items() if isinstance(paths, dict) else ()):
                if not isinstance(operations, dict) or not isinstance(path, str):
                    continue
                for verb, operation in operations.items():
                    method = "ANY" if verb == "x-amazon-apigateway-any-method" else str(verb).upper()
                    integration = operation.get("x-amazon-apigateway-integration") \
                        if isinstance(operation, dict) else None
                    if method not in METHODS or not isinstance(integration, dict) \
                            or str(integration.get("type", "")).lower() != "aws_proxy":
                        continue
                    uri = integration.get("uri")
                    m = re.search(r":function:([A-Za-z0-9_-]+)(?::[^/]*)?/invocations", uri) \
                        if isinstance(uri, str) else None
                    spec = by_name.get(m[1]) if m else None
                    where = f"{api_id} DefinitionBody {method} {path}"
                    if spec is None:  # served as sam local serves it: 502, no function defined
                        self.check.warn(line, f"{where}: its integration {short_repr(uri)} is no function of this "
                                              f"template")
                    problem = _bad_path(path)
                    if problem:
                        self.check.error(line, f"{where}: cannot work: {problem}")
                        continue
                    payload = str(integration.get("payloadFormatVersion", "1.0" if api["kind"] == "Api" else "2.0"))
                    project.routes.append(Route(method, path, spec.name if spec else "",
                                                "1.0" if api["kind"] == "Api" else payload,
                                                event_type=api["kind"], api=api_id, stage=api["stage"],
                                                stage_variables=api["variables"], binary_types=api["binary"],
                                                cors=api["cors"], line=line))

    # -- the whole template ------------------------------------------------------------
    def check_names(self, project: Project) -> None:
        seen: dict[str, FunctionSpec] = {}
        for spec in project.specs:
            other = seen.get(spec.name)
            if other is not None:
                self.check.error(spec.line, f"{spec.logical_id}: FunctionName {spec.name!r} is also "
                                            f"{other.logical_id}'s (line {other.line}): a function name is "
                                            f"unique, so one would replace the other (rename one, or load "
                                            f"with logical_ids=True to name functions by logical ID, as sam "
                                            f"local does)")
            else:
                seen[spec.name] = spec

    def check_routes(self, project: Project) -> None:
        seen: dict[tuple, Route] = {}
        for route in project.routes:
            key = (route.api, route.method, _shape(route.path))
            other = seen.get(key)
            if other is not None:
                self.check.error(route.line, f"route {route.route_key} of {route.function} is also "
                                             f"{other.function}'s (line {other.line}) in the same API")
            else:
                seen[key] = route

    def problem(self, problem: Problem) -> None:
        parts = problem.where.split(".")
        prop = parts[2] if len(parts) > 2 and parts[1] == "Properties" else ""
        resource = self.resolver.resources.get(parts[0]) if parts and parts[0] else None
        rtype = resource.get("Type") if isinstance(resource, dict) else None
        local = rtype in FUNCTION_TYPES + LAYER_TYPES and prop in LOCAL
        if local and prop == "Events":
            etype = None
            events = resource.get("Properties", {}).get("Events") if resource else None
            if isinstance(events, dict) and len(parts) > 3 and isinstance(events.get(parts[3]), dict):
                etype = events[parts[3]].get("Type")
                etype = etype if isinstance(etype, str) else None
            field_name = parts[5] if len(parts) > 5 else ""
            local = field_name.split("[")[0] in EVENT_FIELDS.get(etype, ())
        if problem.kind == "standin":
            # Only where the stand-in changes what runs (an environment variable, say).
            if (local or prop == "Environment") and not (prop == "Events" and parts[-1] == "Queue"):
                self.check.warn(problem.line, f"{problem.where}: {problem.message}")
        elif (problem.kind == "unknown" and prop != "DefinitionBody") or (
                problem.kind == "parameter" and rtype in FUNCTION_TYPES and prop in LOCAL + ("Environment",)):
            self.check.error(problem.line, f"{problem.where}: {problem.message}")
        elif local:
            self.check.error(problem.line, f"{problem.where}: {problem.message}")
        elif rtype in FUNCTION_TYPES and prop == "Environment":
            self.check.warn(problem.line, f"{problem.where}: {problem.message}; the variable is empty, as "
                                          f"in sam local")
        elif rtype in FUNCTION_TYPES + LAYER_TYPES + APIS:
            self.check.warn(problem.line, f"{problem.where}: {problem.message} (no local effect)")


_ALL_METHODS = "DELETE,GET,HEAD,OPTIONS,PATCH,POST,PUT"


def _api_cors(cors: Any, rest: bool) -> tuple:
    """An API's ``Cors`` (REST: a quoted origin, or AllowOrigin/AllowMethods/... quoted strings) or
    ``CorsConfiguration`` (HTTP: lists, or true), as sam local reads them; () without one."""
    def unquote(value: Any) -> Any:
        return value.strip("'") if isinstance(value, str) else value

    def methods(value: Any) -> str:
        items = value if isinstance(value, list) else unquote(str(value)).split(",")
        items = [unquote(str(m)).strip().upper() for m in items if str(m).strip()]
        if "*" in items:
            return _ALL_METHODS
        if "OPTIONS" not in items:
            items.append("OPTIONS")
        return ",".join(sorted(set(items)))

    if rest and isinstance(cors, str) and cors:
        out = {"origin": unquote(cors), "methods": _ALL_METHODS}
    elif not rest and cors is True:
        out = {"origin": "*", "methods": _ALL_METHODS}
    elif isinstance(cors, dict) and rest:
        out = {"origin": unquote(cors.get("AllowOrigin")),
               "methods": methods(cors["AllowMethods"]) if cors.get("AllowMethods") else _ALL_METHODS,
               "headers": unquote(cors.get("AllowHeaders")), "max_age": unquote(cors.get("MaxAge")),
               "credentials": "true" if cors.get("AllowCredentials") is True else None}
    elif isinstance(cors, dict):
        def listed(key: str) -> str | None:
            value = cors.get(key)
            return ",".join(str(v) for v in value) if isinstance(value, list) else None
        out = {"origin": listed("AllowOrigins"),
               "methods": methods(cors["AllowMethods"]) if isinstance(cors.get("AllowMethods"), list) else _ALL_METHODS,
               "headers": listed("AllowHeaders"), "max_age": cors.get("MaxAge") if isinstance(cors.get("MaxAge"), int) else None,
               "credentials": "true" if cors.get("AllowCredentials") is True else None}
    else:
        return ()
    return tuple((k, v) for k, v in out.items() if v is not None)


def _env_value(value: Any) -> str:
    """As sam local: true/false for booleans, '' for what stayed unresolved."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or isinstance(value, (dict, list)):
        return ""
    return str(value)


def _bad_path(path: str) -> str | None:
    """Why an API route path cannot work (None if it can)."""
    if not path.startswith("/"):
        return "it must start with /"
    segments = path.strip("/").split("/") if path != "/" else []
    names = []
    for i, seg in enumerate(segments):
        if seg == "" and path != "/":
            return "it has an empty segment (//)"
        if "{" in seg or "}" in seg:
            m = re.fullmatch(r"\{([A-Za-z0-9._-]+)(\+?)\}", seg)
            if m is None:
                return f"segment {seg!r}: a path parameter is a whole segment, {{name}} or {{name+}}"
            if m[2] and i != len(segments) - 1:
                return f"greedy parameter {seg} must be the last segment"
            if m[1] in names:
                return f"path parameter {{{m[1]}}} appears twice"
            names.append(m[1])
    return None


def _shape(path: str) -> str:
    """A path with its parameter names blanked: /a/{x} and /a/{y} are the same route."""
    return re.sub(r"\{[^}/]+?(\+?)\}", r"{\1}", path.rstrip("/") or "/")


