"""The Python API: what the magics do, as functions on the kernel's manager (``lw.get_manager()``).

Each function returns an object that displays as the same widget the magic shows
and otherwise behaves like the record behind it::

    inv = lw.invoke("double", {"value": 5})
    inv            # the InvocationView
    inv.result     # 10: attribute access falls through to the Invocation
    inv.invocation # the Invocation record itself
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from concurrent.futures import Future, as_completed
from typing import Any

from lambda_widget import events as _events
from lambda_widget.engine.validation import check_seconds
from lambda_widget.manager import get_manager

__all__ = ["alias", "burst", "containers", "event_source", "function_url", "history", "invoke", "keep_alive_sweep",
           "load_template", "monitor", "power_tune", "publish", "queue", "quiz", "register", "reset", "serve",
           "simulate", "simulate_queue", "sqs_url", "wait"]

MAX_BURST = 1000
_DEFAULT: Any = object()  # no event given: send ``{}``, as the Lambda console's empty test event


# ---------------------------------------------------------------------- the functions
def register(name: str, source: str | None = None, **config: Any):
    """Register ``source`` as function ``name``'s ``$LATEST`` (again: update it; its warm environments
    retire); returns its FunctionCard. ``lw.publish(name)`` makes an immutable numbered version.

    ``path="src/"`` (with ``handler="app.handlers.main"``) instead of ``source`` runs a code directory.

    ``config`` takes the engine's options: ``handler``, ``timeout``, ``memory_mb``,
    ``idle_timeout``, ``env``, ``track``, ``trace``, ``reserved_concurrency``,
    ``provisioned_concurrency``, ``runtime``, ``max_steps``, ``architecture`` (``"x86_64"`` or
    ``"arm64"``: it only sets the price here), ``layers`` (up to 5 directories or zip files, at ``/opt``),
    ``snap_start`` (SnapStart) and ``extensions`` (a directory of external extensions).
    """
    mgr = get_manager()
    fn = mgr.register(name, source, **config)
    return function_card(fn, mgr)


def invoke(name: str, event: Any = _DEFAULT, *, sample: str | None = None, qualifier: str | None = None):
    """Invoke ``name`` once and wait; returns the InvocationView (``.result``, ``.status``, ``.steps``...).

    ``sample`` names a sample event (``lw.events.SAMPLES``) instead of ``event``;
    with neither, the event is ``{}``. ``qualifier`` (or ``"name:qualifier"``) runs a published
    version (``"1"``) or an alias (``"live"``) instead of ``$LATEST``. Ctrl-C cancels the invocation.
    """
    future = submit(name, event, sample=sample, qualifier=qualifier)
    wait_for([future])
    return settle(invocation_view(future.invocation, get_manager()))


def burst(name: str, n: int, event: Any = _DEFAULT, *, sample: str | None = None, wait: bool = True,
          live: bool = False, qualifier: str | None = None):
    """Submit ``n`` concurrent invocations of ``name`` (or of a version or alias: ``qualifier``);
    returns the BurstView.

    The view keeps the pool as it stood when the burst ended (``live=True``: it keeps
    following the pool). With ``wait=False`` it returns at once and the view fills in
    as invocations finish; iterate it for the Invocation records.
    """
    futures = submit_many(name, n, event, sample=sample, qualifier=qualifier)
    view = burst_view([f.invocation for f in futures], get_manager(), live=live)
    if wait:
        wait_for(futures)
        settle(view)
    return view


def publish(name: str, description: str | None = None):
    """Publish ``name``'s ``$LATEST`` as an immutable numbered version ("1", "2", ...); returns its
    FunctionCard (``.version``). Publishing an unchanged ``$LATEST`` again returns the same version,
    as on Lambda. Each version then runs side by side, with environments of its own."""
    mgr = get_manager()
    return function_card(mgr.publish(name, description), mgr)


def alias(name: str, alias_name: str, version: str | int | None = None, *,
          weights: dict[str, float] | None = None, description: str | None = None):
    """Create or update alias ``alias_name`` of ``name``, pointing at ``version`` (a published
    version's number, or ``"$LATEST"``). ``weights={"2": 0.1}`` sends 10 % of the alias's events to
    version 2 (a canary; the pick uses the manager's seeded random numbers). Returns the function's
    card, whose attributes fall through to the Alias record (``.function_version``, ``.routing``)."""
    mgr = get_manager()
    record = mgr.alias(name, alias_name, None if version is None else str(version), description=description,
                       routing=None if weights is None else {str(k): v for k, v in weights.items()})
    return _make(_record_handle(_function_card_class(), "alias"), record, mgr.function(name, alias_name),
                 manager=mgr, alias=record)


def wait(seconds: float) -> WaitResult:
    """Move the manager's clock ``seconds`` forward and reap idle environments; returns what was reaped."""
    seconds = check_seconds(seconds)  # NaN or infinity would stop the reaper for ever
    mgr = get_manager()
    reaped = mgr.advance(seconds)
    return WaitResult(reaped, seconds, mgr.clock.now(), mgr.containers)


def containers(live: bool = False):
    """The container pool as it is now (PoolView); iterate it for the live ExecutionEnvironments.

    Later cells do not change the view; ``live=True`` (or ``lw.monitor()``) follows the pool.
    """
    return pool_view(get_manager(), live=live)


def monitor(function_name: str | None = None):
    """A live panel of the container pool (of one function, if named), updated as it changes."""
    return pool_view(get_manager(), live=True, function_name=function_name)


def history(live: bool = False):
    """Every invocation so far (HistoryView); iterate it for the Invocation records.

    ``live=True`` keeps adding invocations as they happen.
    """
    return history_view(get_manager(), live=live)


def reset(seed: int | None = None, virtual_clock: bool | None = None) -> None:
    """Terminate every environment, forget all functions and history, restart numbering and the clock.

    ``seed`` makes request ids reproducible; ``virtual_clock=True`` lets only ``lw.wait`` move time.
    """
    get_manager().reset(seed=seed, virtual_clock=virtual_clock)


def quiz(seed: int | None = None, **kwargs: Any):
    """A quiz on the last invocation that ran (``lw.quiz_from`` for any other); displays as its widget.

    ``seed`` orders the options (default: the manager's seed, or 0 without one)."""
    from lambda_widget.quizzes import quiz_for_last

    mgr = get_manager()
    if seed is None:
        seed = mgr.seed if mgr.seed is not None else 0
    return quiz_for_last(mgr, seed=seed, **kwargs)


def serve(port: int = 0, host: str = "127.0.0.1"):
    """Serve Lambda's Invoke API for the kernel's manager; returns the Endpoint (``.url``, ``.close()``).

    ``boto3.client("lambda", endpoint_url=endpoint.url, region_name="us-east-1",
    aws_access_key_id="local", aws_secret_access_key="local")`` then invokes, lists and deploys here.
    """
    return get_manager().serve(port=port, host=host)


def function_url(name: str) -> str:
    """The function URL of ``name``: any HTTP request to it is an event in payload format 2.0."""
    return get_manager().function_url(name)


def sqs_url() -> str:
    """The URL of the kernel's SQS endpoint (moto's SQS server on the manager's clock), started on first use:
    ``boto3.client("sqs", endpoint_url=lw.sqs_url(), region_name="us-east-1", aws_access_key_id="local",
    aws_secret_access_key="local")``. Handlers reach it through ``AWS_ENDPOINT_URL_SQS``."""
    return get_manager().sqs_url


def event_source(queue: str, function: str, batch_size: int = 10, batching_window: int = 0,
                 maximum_concurrency: int | None = None, report_batch_item_failures: bool = False,
                 filters: Any = None, *, enabled: bool = True, live: bool = False, **template: Any):
    """Wire an SQS queue (name, URL or ARN) to ``function``, as CreateEventSourceMapping does; returns the
    queue panel (QueueView), whose attributes fall through to the mapping (``.uuid``, ``.batches``,
    ``.counters``, ``.update(...)``, ``.delete()``).

    ``batch_size`` 1-10,000 (10 for FIFO queues; over 10 needs ``batching_window``), ``batching_window``
    0-300 s, ``maximum_concurrency`` 2-1,000 concurrent batches, ``report_batch_item_failures`` for partial
    batch responses, ``filters`` a list of event patterns (dicts) or ``{"Filters": [{"Pattern": "..."}]}``.
    Bad input is refused with AWS's message before anything is polled. On a virtual clock the pollers work
    when the clock moves (``lw.wait``) and once now, before this returns; ``live=True`` keeps the panel current.

    ``**template``: a SAM template's SQS event as the template loader describes it (``BatchSize``,
    ``MaximumBatchingWindowInSeconds``, ``Enabled``, ``FilterCriteria``, ``FunctionResponseTypes``,
    ``ScalingConfig``, and ``queue_properties``), so ``lw.event_source(**spec.to_dict())`` works; ``queue``
    is then the template's queue (created first) or an ARN.
    """
    from lambda_widget.front.sqs import queue_service, template_options

    mgr = get_manager()
    service = queue_service(mgr)
    if template:
        queue, options = template_options(mgr, queue, template)
    else:
        options = {"batch_size": batch_size, "window": batching_window, "maximum_concurrency": maximum_concurrency,
                   "report_failures": report_batch_item_failures, "filters": filters, "enabled": enabled}
    mapping = service.create(queue, function, **options)
    service.settle_if_virtual()
    return queue_view(mapping, live=live)


def queue(name: str, live: bool = False):
    """The panel of the event source mapping that polls queue ``name`` (its name, URL, ARN, or the
    mapping's UUID): a snapshot of now, or ``live=True``."""
    from lambda_widget.front.sqs import queue_service

    service = queue_service(get_manager())
    found = [m for m in service.list() if name == m.uuid] or service.list(queue=name)
    if not found:
        known = ", ".join(sorted({m.queue_name for m in service.list()})) or "none yet"
        raise ValueError(f"no event source mapping polls {name!r} (mapped queues: {known})")
    return queue_view(found[0], live=live)


def simulate_queue(workload: Any, duration: float | str | None = None, **options: Any):
    """Simulate a queue drained by an event source mapping (arrivals, pollers, batches, visibility timeouts,
    retries, the dead-letter queue) by the same rules as the engine's pollers; see
    :func:`lambda_widget.traffic.simulate_queue`. Returns a QueueSimulation that displays with charts."""
    from lambda_widget.traffic import simulate_queue as run

    return run(workload, duration, **options)


def load_template(path: str, parameters: dict[str, Any] | None = None, *, logical_ids: bool = False,
                  allow_outside_code: bool = False):
    """Check a SAM template whole, as ``sam local`` loads it, then register its functions (with their
    layers and schedules); returns the Project (``.functions``, ``.routes``, ``.schedules``,
    ``.event_sources``, ``.warnings``, ``.unsupported``, ``.start_api()``, ``.function_url(name)``).

    ``parameters`` override the template's defaults and sam local's pseudo parameters;
    ``logical_ids=True`` names functions by logical ID; ``allow_outside_code=True`` accepts code
    outside the template's directory. A ``TemplateError`` lists every problem with its line."""
    from lambda_widget.project.sam import load

    return load(get_manager(), path, parameters, logical_ids=logical_ids, allow_outside_code=allow_outside_code)


def power_tune(name: str, event: Any = _DEFAULT, *, memory_sizes=(128, 256, 512, 1024, 1769, 3008),
               num: int = 10, strategy: str = "cost", balanced_weight: float = 0.5,
               architecture: str | None = None):
    """Run ``name`` ``num`` times at each of ``memory_sizes`` and price each size, as AWS Lambda Power
    Tuning does; returns the TuningView (a chart and a table).

    ``.rows`` has one row per size (``memory_mb``, ``durations``, ``duration_ms`` (20 % trimmed mean),
    ``cost_usd`` per invocation), ``.best`` the one ``strategy`` picks: ``"cost"``, ``"speed"`` or
    ``"balanced"`` (``balanced_weight`` 0 = fastest .. 1 = cheapest). The function itself is left as it
    was: each size runs in a temporary copy. See ``lambda_widget.tuning``.
    """
    result = get_manager().power_tune(name, {} if event is _DEFAULT else event, memory_sizes=memory_sizes,
                                      num=num, strategy=strategy, balanced_weight=balanced_weight,
                                      architecture=architecture)
    return tuning_view(result)


# ---------------------------------------------------------------------- building blocks (shared with the magics)
def simulate(workload: Any, duration: float | str | None = None, **options: Any):
    """Simulate a workload (``traffic.poisson(rate)``, ...) through the execution model: no processes,
    a day in seconds. Returns a SimulationResult (``.cold_start_ratio``, ``.mean_environments``,
    ``.cost_usd``, ``.to_dict()``) that displays with charts. ``function="name"`` measures a registered
    function's cold and warm times; see :func:`lambda_widget.traffic.simulate` for every option.
    """
    from lambda_widget.traffic import simulate as run

    return run(workload, duration, **_with_manager(options))


def keep_alive_sweep(workload: Any, duration: float | str | None = None, **options: Any):
    """The same workload under several keep-alive policies: a Pareto chart of cold-start % against
    idle memory time (see :func:`lambda_widget.traffic.sweep`)."""
    from lambda_widget.traffic import sweep

    return sweep(workload, duration, **_with_manager(options))


def _with_manager(options: dict[str, Any]) -> dict[str, Any]:
    """``function="name"`` names one of the kernel's functions: the simulator measures it there."""
    if options.get("function") is not None and options.get("manager") is None:
        options = {**options, "manager": get_manager()}
    return options


def resolve_event(event: Any = _DEFAULT, sample: str | None = None) -> Any:
    """The event to send: ``event``, or the sample called ``sample``, or ``{}``."""
    if sample is not None:
        if event is not _DEFAULT:
            raise ValueError("give an event or a sample, not both")
        try:
            return _events.sample(sample)
        except KeyError as exc:
            raise ValueError(exc.args[0]) from None
    return {} if event is _DEFAULT else event


def submit(name: str, event: Any = _DEFAULT, *, sample: str | None = None,
           qualifier: str | None = None) -> Future:
    """Queue one invocation; ``future.invocation`` is its record at once."""
    return get_manager().submit(name, resolve_event(event, sample), qualifier=qualifier)


def submit_many(name: str, n: int, event: Any = _DEFAULT, *, sample: str | None = None,
                qualifier: str | None = None) -> list[Future]:
    """Queue ``n`` invocations of one event; nothing is queued if the input is bad."""
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_BURST:
        raise ValueError(f"n must be a whole number from 1 to {MAX_BURST}, not {n!r}")
    mgr = get_manager()
    mgr.function(name, qualifier)  # raises ResourceNotFoundException before anything is queued
    payload = resolve_event(event, sample)
    return [mgr.submit(name, payload, qualifier=qualifier) for _ in range(n)]


def wait_for(futures: list[Future], on_done: Callable[[Future], None] | None = None) -> None:
    """Wait for every future; Ctrl-C cancels the ones still pending and re-raises."""
    try:
        for future in as_completed(futures):
            if on_done is not None:
                on_done(future)
    except KeyboardInterrupt:
        mgr = get_manager()
        for future in futures:
            if not future.done():
                mgr.cancel(future.invocation)
        raise


def settle(view: Any) -> Any:
    """Apply any render the view still has pending, so its text and HTML show the latest state."""
    flush = getattr(view, "flush", None)
    if callable(flush):
        flush()
    return view


class WaitResult(list):
    """The environments one ``wait`` reaped, with a short account of the pool after it."""

    def __init__(self, reaped: Iterable[Any], seconds: float, now: float, live: Iterable[Any]) -> None:
        super().__init__(reaped)
        self.seconds = seconds
        self.now = now
        self.live = list(live)

    @property
    def reaped(self) -> list[Any]:
        return list(self)

    def lines(self) -> list[str]:
        from lambda_widget.views.words import version_tag

        out = [f"Clock moved {_secs(self.seconds)} forward (now {_secs(self.now)})."]
        if self:
            out.append(f"Reaped {_count(len(self), 'environment')}:")
            for env in self:
                idle = (env.ended_at or self.now) - env.last_used_at
                out.append(f"  {env.id} ({env.function_name} {version_tag(env.version)}): idle {_secs(idle)}, "
                           f"idle timeout {_secs(env.function.idle_timeout)} -> terminated")
        else:
            out.append("No environment was reaped.")
        for env in self.live:
            if env.provisioned:
                note = "provisioned, never reaped"
            elif env.state == "idle":
                note = (f"idle {_secs(self.now - env.last_used_at)} of "
                        f"{_secs(env.function.idle_timeout)}")
            else:
                note = env.state
            out.append(f"  {env.id} ({env.function_name} {version_tag(env.version)}) stays: {note}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        import html

        return f'<pre class="lw-wait">{html.escape(str(self))}</pre>'


def _secs(value: float) -> str:
    return f"{round(value, 1):g} s"


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# ---------------------------------------------------------------------- views whose attributes fall through
def invocation_view(inv, mgr):
    from lambda_widget.views import InvocationView

    return _make(_record_handle(InvocationView, "invocation"), inv, inv, manager=mgr)


def function_card(fn, mgr):
    return _make(_record_handle(_function_card_class(), "function"), fn, fn, manager=mgr)


def _function_card_class() -> type:
    from lambda_widget.views import FunctionCard

    return FunctionCard


def tuning_view(result):
    from lambda_widget.views import TuningView

    return _make(_record_handle(TuningView, "result"), result, result)


def burst_view(invocations: list, mgr, live: bool = False):
    from lambda_widget.views import BurstView

    return _make(_list_handle(BurstView, "invocations"), lambda: list(invocations), invocations, mgr, live=live)


def queue_view(mapping, live: bool = False):
    from lambda_widget.views.queue import QueueView

    return _make(_record_handle(QueueView, "mapping"), mapping, mapping, live=live)


def pool_view(mgr, live: bool = False, function_name: str | None = None):
    from lambda_widget.views import PoolView

    return _make(_list_handle(PoolView, "containers"), lambda: mgr.containers, mgr, function_name, live=live)


def history_view(mgr, live: bool = False):
    from lambda_widget.views import HistoryView

    return _make(_list_handle(HistoryView, "invocations"), lambda: list(mgr.history), mgr, live=live)


def _make(cls: type, target: Any, *args: Any, **kwargs: Any):
    view = cls(*args, **kwargs)
    view._lw_target = target
    return view


@functools.cache
def _record_handle(view_cls: type, record_name: str) -> type:
    """``view_cls`` whose unknown public attributes are read from the record it shows."""

    def __getattr__(self, name: str) -> Any:
        target = self.__dict__.get("_lw_target")
        if name.startswith("_") or target is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        if name == record_name:
            return target
        try:
            return getattr(target, name)
        except AttributeError:
            raise AttributeError(f"neither {type(self).__name__} nor {type(target).__name__} "
                                 f"has an attribute {name!r}") from None

    def __dir__(self) -> list[str]:
        target = self.__dict__.get("_lw_target")
        extra = [n for n in dir(target) if not n.startswith("_")] if target is not None else []
        return sorted(set(object.__dir__(self)) | set(extra) | {record_name})

    return type(view_cls.__name__, (view_cls,), {
        "__getattr__": __getattr__, "__dir__": __dir__, "__module__": view_cls.__module__,
        "__doc__": view_cls.__doc__, "__qualname__": view_cls.__qualname__,
    })


@functools.cache
def _list_handle(view_cls: type, list_name: str) -> type:
    """``view_cls`` that also behaves as the (live) list of records it shows."""

    def items(self) -> list[Any]:
        target = self.__dict__.get("_lw_target")
        return target() if target is not None else []

    def __getattr__(self, name: str) -> Any:
        if name == list_name and "_lw_target" in self.__dict__:
            return items(self)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    return type(view_cls.__name__, (view_cls,), {
        "__getattr__": __getattr__,
        "__len__": lambda self: len(items(self)),
        "__iter__": lambda self: iter(items(self)),
        "__getitem__": lambda self, i: items(self)[i],
        "__bool__": lambda self: True,
        "__module__": view_cls.__module__, "__doc__": view_cls.__doc__,
        "__qualname__": view_cls.__qualname__,
    })
