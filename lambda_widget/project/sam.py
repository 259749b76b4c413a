"""SAM templates, loaded as ``sam local`` loads them, checked whole before anything is registered.

1. The YAML is read with its lines (``template.load_yaml``).
2. SAM's own transform (aws-sam-translator, AWS's package) applies ``Globals``, makes the
   implicit ``ServerlessRestApi`` / ``ServerlessHttpApi`` of events without an API, and checks
   each resource's property types, as ``sam local`` runs it (aws-sam-cli's ``SamTranslatorWrapper``).
3. Intrinsic functions resolve with ``sam local``'s values (``template.Resolver``).
4. Every function, layer, route, schedule and queue subscription is checked. Errors (a property a
   local run needs that is malformed or unresolvable, two functions with one name, a route that
   cannot work, code outside the project) are collected, all of them, with their lines; a property
   with no local effect that cannot be resolved is a warning. ``load`` registers nothing unless
   the whole template is sound.
"""
from __future__ import annotations

import hashlib
import inspect
import os
from pathlib import Path
from typing import Any

from lambda_widget.project.reader import Findings, read
from lambda_widget.project.specs import EventSourceSpec, FunctionSpec, LayerSpec, Project, ScheduleSpec
from lambda_widget.project.template import TemplateError

__all__ = ["EventSourceSpec", "FunctionSpec", "LayerSpec", "Project", "ScheduleSpec", "TemplateError", "load",
           "read"]


# ---------------------------------------------------------------------- loading
def load(mgr, path: str | os.PathLike, parameters: dict[str, Any] | None = None, *, logical_ids: bool = False,
         allow_outside_code: bool = False) -> Project:
    """Read ``path``, check it whole, prepare every function's code, then register them all in
    ``mgr`` (again: new versions). A failure anywhere leaves nothing registered."""
    from lambda_widget.engine import schedules
    from lambda_widget.engine.errors import LambdaApiError
    from lambda_widget.engine.validation import validate_config

    params = set(inspect.signature(mgr.register).parameters)
    project = read(path, parameters, mgr.region, mgr.account_id, params, logical_ids=logical_ids,
                   allow_outside_code=allow_outside_code)
    project.manager = mgr
    check = Findings(project.path)
    prepared: list[tuple[FunctionSpec, dict[str, Any]]] = []
    layer_dirs: dict[str, Path] = {}
    for spec in project.specs:
        kwargs: dict[str, Any] = dict(spec.config, handler=spec.handler)
        try:
            if spec.inline_code is not None:
                kwargs["source"] = spec.inline_code
                source = spec.inline_code
            else:
                from lambda_widget.engine.package import prepare_code_dir

                code_dir = spec.code_dir if spec.code_zip is None else _unzipped(spec.code_zip)
                code_dir, source = prepare_code_dir(code_dir, spec.handler,  # pip, once per hash and Python
                                                    python=_python_of(kwargs.get("runtime")))
                kwargs["path"] = str(code_dir)
            layers = []
            for layer in spec.layers:
                if layer.logical_id not in layer_dirs:
                    layer_dirs[layer.logical_id] = _layer_content(layer)
                layers.append(str(layer_dirs[layer.logical_id]))
            if layers:
                kwargs["layers"] = layers
            validate_config(spec.name, source, spec.handler, kwargs.get("timeout", 3.0),
                            kwargs.get("memory_mb", 128), 600.0, kwargs.get("env", {}),
                            kwargs.get("reserved_concurrency"), kwargs.get("provisioned_concurrency", 0),
                            "bundled", 500, architecture=kwargs.get("architecture", "x86_64"))
        except (LambdaApiError, OSError, ValueError) as exc:
            check.error(spec.line, f"{spec.logical_id}: {exc.args[0] if exc.args else exc}")
            continue
        prepared.append((spec, kwargs))
    check.raise_errors()
    before = set(mgr.functions)
    try:
        for spec, kwargs in prepared:
            source = kwargs.pop("source", None)
            project.functions[spec.name] = mgr.register(spec.name, source, **kwargs)
    except (LambdaApiError, OSError) as exc:
        for name in set(project.functions) - before:
            try:
                mgr.delete_function(name)
            except LambdaApiError:
                pass
        project.functions.clear()
        raise TemplateError(f"{project.path}, line {spec.line}: {spec.logical_id}: "
                            f"{exc.args[0] if exc.args else exc} (nothing was registered)") from None
    if project.event_sources:
        _map_queues(mgr, project, before)
    for s in project.schedules:
        if s.enabled:
            schedules.add(mgr, s.function, s.expression, s.input, name=s.name, kind=s.kind)
    return project


def _map_queues(mgr, project: Project, before: set[str]) -> None:
    """Create the template's queues and the event source mapping of every ``SQS`` event, as a deploy
    does; a failure undoes the queues, the mappings and the functions: nothing stays registered."""
    from botocore.exceptions import ClientError

    from lambda_widget.engine.errors import LambdaApiError
    from lambda_widget.front.sqs import delete_queue, event_source_from_sam, queue_from_sam, queue_service
    from lambda_widget.placement.esm import MappingConfigError

    made: list = []
    arns: dict[str, str] = {}
    m = None
    try:
        # Dead-letter queues first: a redrive policy names a queue that must exist.
        for logical_id in sorted(project.queues, key=lambda q: "RedrivePolicy" in project.queues[q]):
            arns[logical_id] = queue_from_sam(mgr, logical_id, project.queues[logical_id])
        for m in project.event_sources:
            props = m.to_dict()
            function = props.pop("function")
            props.pop("queue_properties", None)
            props.pop("queue")
            props["Queue"] = arns.get(m.queue, m.queue)
            made.append(event_source_from_sam(mgr, function, props))
    except (MappingConfigError, LambdaApiError, ValueError, ClientError) as exc:
        for mapping in made:
            queue_service(mgr).remove(mapping.uuid)
        for arn in arns.values():
            delete_queue(mgr, arn)
        for name in set(project.functions) - before:
            try:
                mgr.delete_function(name)
            except LambdaApiError:
                pass
        project.functions.clear()
        where = f"line {m.line}: {m.function}'s SQS event {m.event_id}" if m is not None else "its queues"
        raise TemplateError(f"{project.path}, {where}: {exc.args[0] if exc.args else exc} "
                            f"(nothing was registered)") from None
    project.mappings = made


def _cache() -> Path:
    from lambda_widget.engine.package import cache_dir

    return cache_dir().parent / "code"


def _unzipped(archive: Path) -> Path:
    """A zip ``CodeUri`` unpacked once per content hash, as Lambda unpacks a deployment package."""
    from lambda_widget.engine.package import unzip

    data = archive.read_bytes()
    target = _cache() / hashlib.sha256(data).hexdigest()[:32]
    if not target.is_dir():
        staging = target.with_name(target.name + f".{os.getpid()}")
        staging.mkdir(parents=True, exist_ok=True)
        unzip(data, staging)
        try:
            staging.rename(target)  # complete, or not there at all
        except OSError:
            import shutil

            shutil.rmtree(staging, ignore_errors=True)
    return target


def _python_of(runtime: str | None) -> dict | None:
    """The interpreter facts of Lambda runtime ``runtime`` (the kernel's when the machine lacks it)."""
    from lambda_widget.engine import interpreters

    if runtime not in interpreters.LAMBDA_PYTHONS:
        return None
    return interpreters.choose(runtime, warn=False)[0].to_dict()


def _layer_content(layer: LayerSpec) -> Path:
    """What the layer puts at /opt: its content, or (``BuildMethod: python3.x``, as ``sam build``
    does) its content and its requirements under ``python/``."""
    content = layer.content if layer.content.is_dir() else _unzipped(layer.content)
    if not (layer.build_method or "").startswith("python"):
        return content
    import shutil

    from lambda_widget.engine.package import IGNORED, install_requirements

    python = _python_of(layer.build_method)  # BuildMethod: python3.12 builds with that Python's pip
    digest = hashlib.sha256(f"{content}|{(python or {}).get('version', '')}".encode())
    for file in sorted(content.rglob("*")):
        if file.is_file() and not any(part in IGNORED for part in file.parts):
            digest.update(f"{file.relative_to(content)}|{file.stat().st_mtime_ns}|{file.stat().st_size}".encode())
    target = _cache() / f"layer-{digest.hexdigest()[:32]}"
    if target.is_dir():
        return target
    staging = target.with_name(target.name + f".{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(content, staging / "python", ignore=shutil.ignore_patterns(*IGNORED))
    requirements = content / "requirements.txt"
    if requirements.is_file():
        deps = install_requirements(requirements, python=python)
        shutil.copytree(deps, staging / "python", ignore=shutil.ignore_patterns(".complete", *IGNORED),
                        dirs_exist_ok=True)
    try:
        staging.rename(target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    return target
