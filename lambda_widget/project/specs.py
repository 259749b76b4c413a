"""What a SAM template holds, as ``read`` finds it: functions, layers, schedules, queue
subscriptions, and the Project that gathers them (and serves its routes once loaded)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambda_widget.front.urls import Route


@dataclass
class LayerSpec:
    """A layer of the template: its local content (a directory or a zip)."""

    logical_id: str
    line: int
    content: Path
    name: str
    build_method: str | None = None  # Metadata.BuildMethod: python3.x puts the content under python/


@dataclass
class FunctionSpec:
    """One function as the template describes it, resolved."""

    logical_id: str
    name: str
    line: int
    handler: str
    code_dir: Path | None = None
    inline_code: str | None = None
    code_zip: Path | None = None
    config: dict[str, Any] = field(default_factory=dict)
    architecture: str | None = None
    function_url: bool = False
    cors: dict[str, Any] | None = None  # FunctionUrlConfig.Cors
    runtime: str = ""
    layers: list[LayerSpec | Path] = field(default_factory=list)


@dataclass
class ScheduleSpec:
    """A ``Schedule`` (EventBridge rule) or ``ScheduleV2`` (EventBridge Scheduler) event of a function."""

    function: str
    event_id: str
    line: int
    kind: str
    expression: str
    input: Any = None
    enabled: bool = True
    name: str = ""
    timezone: str = "UTC"


@dataclass
class EventSourceSpec:
    """An ``SQS`` event: the event source mapping the template asks for (the ``queues`` work serves it)."""

    function: str
    event_id: str
    line: int
    queue: str  # the queue's logical ID in this template, or its ARN
    batch_size: int = 10
    maximum_batching_window: int = 0
    enabled: bool = True
    filter_criteria: dict | None = None
    function_response_types: list[str] = field(default_factory=list)
    scaling_config: dict | None = None
    queue_properties: dict = field(default_factory=dict)  # the AWS::SQS::Queue's own, if it is in the template

    def to_dict(self) -> dict[str, Any]:
        """The mapping as keyword arguments of ``lw.event_source(...)`` (CreateEventSourceMapping's names)."""
        out: dict[str, Any] = {"function": self.function, "queue": self.queue, "BatchSize": self.batch_size,
                               "MaximumBatchingWindowInSeconds": self.maximum_batching_window,
                               "Enabled": self.enabled}
        if self.filter_criteria:
            out["FilterCriteria"] = self.filter_criteria
        if self.function_response_types:
            out["FunctionResponseTypes"] = list(self.function_response_types)
        if self.scaling_config:
            out["ScalingConfig"] = self.scaling_config
        if self.queue_properties:
            out["queue_properties"] = self.queue_properties
        return out


@dataclass
class Project:
    """What ``read`` found (and ``load`` registered)."""

    path: Path
    specs: list[FunctionSpec]
    routes: list[Route]
    unsupported: list[str]
    notes: list[str]
    warnings: list[str] = field(default_factory=list)
    layers: list[LayerSpec] = field(default_factory=list)
    schedules: list[ScheduleSpec] = field(default_factory=list)
    event_sources: list[EventSourceSpec] = field(default_factory=list)
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
            version = f" {fn.version}" if fn is not None else ""
            if spec.code_zip is not None:
                where = f"CodeUri {os.path.relpath(spec.code_zip, self.path.parent)}"
            elif spec.code_dir is not None:
                where = f"CodeUri {os.path.relpath(spec.code_dir, self.path.parent)}/"
            else:
                where = "InlineCode"
            layers = f", {len(spec.layers)} layer(s)" if spec.layers else ""
            out.append(f"  {spec.name}{version}: {spec.handler} ({where}, timeout "
                       f"{_num(spec.config.get('timeout', 3))} s, {spec.config.get('memory_mb', 128)} MB{layers})")
        for layer in self.layers:
            out.append(f"  layer {layer.name}: {os.path.relpath(layer.content, self.path.parent)}")
        for route in self.routes:
            out.append(f"  route {route.route_key} -> {route.function} ({route.kind}, payload {route.payload})")
        for s in self.schedules:
            state = "" if s.enabled else ", disabled"
            out.append(f"  schedule {s.expression} -> {s.function} ({s.kind} {s.event_id}{state})")
        for m in self.event_sources:
            out.append(f"  event source SQS {m.queue} -> {m.function} (BatchSize {m.batch_size}): "
                       f"lw.event_source(**mapping.to_dict()) serves it")
        for item in self.unsupported:
            out.append(f"  not served: {item}")
        for warning in self.warnings:
            out.append(f"  warning: {warning}")
        for note in self.notes:
            out.append(f"  note: {note}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(str(self))


def _num(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"

