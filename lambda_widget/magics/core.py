"""``%%lambda`` registers a cell as a function; ``%lambda`` invokes, bursts, waits and inspects."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import MagicArgumentParser, argument, magic_arguments
from IPython.display import display
from traitlets import CaselessStrEnum

from lambda_widget import api
from lambda_widget.engine import (
    InvalidParameterValueException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from lambda_widget.engine.interpreters import LAMBDA_PYTHONS
from lambda_widget.engine.manager import encode_event
from lambda_widget.events import SAMPLES
from lambda_widget.magics.output import Output
from lambda_widget.magics.parsing import decode_event, parse, parse_env, split_line, usage_error, usage_line
from lambda_widget.magics.source import check_source, transform_cell
from lambda_widget.manager import get_manager
from lambda_widget.tuning import DEFAULT_SIZES, TuningFailed, check_options

# What the engine and the API raise for bad input (the engine's errors are ValueErrors or LookupErrors).
_INPUT_ERRORS = (ResourceNotFoundException, ResourceConflictException, ValueError)


def _weights(parser: MagicArgumentParser, words: list[str]) -> dict[str, float] | None:
    """``--weight 2=0.1`` -> ``{"2": 0.1}``; None when not given."""
    if not words:
        return None
    weights = {}
    for word in words:
        version, sep, value = word.partition("=")
        try:
            weights[version] = float(value)
        except ValueError:
            raise usage_error(parser, f"--weight expects VERSION=WEIGHT (e.g. 2=0.1), got {word!r}") from None
        if not sep:
            raise usage_error(parser, f"--weight expects VERSION=WEIGHT (e.g. 2=0.1), got {word!r}")
    return weights


def _sizes(parser: MagicArgumentParser, words: list[str]) -> list[int]:
    """``--sizes 128 512`` or ``--sizes 128,512`` -> ``[128, 512]``."""
    sizes = []
    for word in (w for token in words for w in token.split(",") if w):
        try:
            sizes.append(int(word))
        except ValueError:
            raise usage_error(parser, f"--sizes expects whole numbers of MB, got {word!r}") from None
    return sizes


# ---------------------------------------------------------------------- %lambda subcommands
def _command(name: str, doc: str, *arguments: tuple[tuple, dict]) -> MagicArgumentParser:
    parser = MagicArgumentParser(prog=f"lambda {name}", description=doc)
    for args, kwargs in arguments:
        parser.add_argument(*args, **kwargs)
    return parser


def _arg(*args: Any, **kwargs: Any) -> tuple[tuple, dict]:
    return args, kwargs


_EVENT = _arg("event", nargs="*", default=[], metavar="EVENT",
              help="JSON (e.g. {\"value\": 5}), or a Python expression in your namespace; default {}")
_NAME = _arg("name", metavar="NAME", help="a function registered with %%%%lambda")  # argparse halves %%
_TARGET = _arg("name", metavar="NAME",
               help="a function registered with %%%%lambda; NAME:1 or NAME:live runs a version or an alias")
_QUALIFIER = _arg("--qualifier", metavar="QUALIFIER", default=None,
                  help="a published version (1, 2, ...) or an alias to run instead of $LATEST")
_SAMPLE = _arg("--sample", metavar="SAMPLE",
               help="send a sample event instead: " + ", ".join(SAMPLES))
_LIVE = _arg("--live", action="store_true",
             help="keep the view following the pool after this cell (default: it keeps this cell's moment)")
COMMANDS: dict[str, MagicArgumentParser] = {
    "invoke": _command("invoke", "Invoke function NAME once with EVENT and show the invocation.",
                       _TARGET, _EVENT, _SAMPLE, _QUALIFIER),
    "burst": _command("burst", "Submit N concurrent invocations of NAME; the pool scales out as they run.",
                      _TARGET, _arg("n", metavar="N", type=int, help=f"how many invocations, 1 to {api.MAX_BURST}"),
                      _EVENT, _SAMPLE, _LIVE),
    "publish": _command("publish", "Publish NAME's $LATEST as an immutable numbered version (1, 2, ...) and show "
                        "it; an unchanged $LATEST gives the version published last.",
                        _NAME, _arg("--description", default=None, metavar="TEXT",
                                    help="the version's description (default: the function's)")),
    "alias": _command("alias", "Create or update alias ALIAS of NAME, pointing at VERSION; --weight sends a share "
                      "of its events to a second version (a canary).",
                      _NAME, _arg("alias", metavar="ALIAS", help="the alias name, e.g. live"),
                      _arg("version", nargs="?", default=None, metavar="VERSION",
                           help="a published version's number, or $LATEST (required to create the alias)"),
                      _arg("--weight", action="append", default=[], metavar="VERSION=WEIGHT",
                           help="send WEIGHT (0 to 1) of the alias's events to VERSION, e.g. 2=0.1"),
                      _arg("--description", default=None, metavar="TEXT", help="the alias's description"),
                      _arg("--delete", action="store_true", help="delete the alias instead")),
    "wait": _command("wait", "Move the clock SECONDS forward and show which idle environments were reaped.",
                     _arg("seconds", metavar="SECONDS", type=float)),
    "containers": _command("containers", "Show the container pool as it is now.", _LIVE),
    "history": _command("history", "Show every invocation so far.",
                        _arg("--live", action="store_true", help="keep adding invocations as they happen")),
    "reset": _command("reset", "Terminate every environment; forget all functions and history; restart "
                      "numbering and the clock.",
                      _arg("--seed", type=int, default=None, metavar="N",
                           help="reproducible request ids from now on"),
                      _arg("--virtual-clock", action="store_true",
                           help="only %%%%lambda wait moves the clock (idle time never passes by itself)")),
    "quiz": _command("quiz", "A multiple-choice quiz on the last invocation that ran.",
                     _arg("--seed", type=int, default=None, metavar="N",
                          help="another seed shuffles the options differently (default: the manager's "
                               "seed from %%%%lambda reset --seed, else 0)")),
    "traffic": _command("traffic", "Simulate traffic at function NAME (its cold and warm times measured from "
                        "real runs): cold starts, environments and cost, with charts; no processes.",
                        _NAME, _arg("--rate", required=True, metavar="RATE",
                                    help="mean arrival rate, e.g. 5/s, 30/min or 0.1"),
                        _arg("--for", dest="duration", default="1h", metavar="DURATION",
                             help="simulated time, e.g. 90s, 10m, 1h, 1d (default 1h)"),
                        _arg("--idle-timeout", default=None, metavar="DURATION",
                             help="keep-alive after each event, e.g. 10m (default: the function's)"),
                        _arg("--provisioned", type=int, default=0, metavar="N",
                             help="provisioned concurrency (default 0)"),
                        _arg("--reserved", type=int, default=None, metavar="N",
                             help="reserved concurrency (default: none)"),
                        _arg("--constant", action="store_true",
                             help="evenly spaced arrivals instead of random (Poisson) ones"),
                        _arg("--event", default=None, metavar="EVENT",
                             help="the event the measuring runs send (JSON or Python; default {})"),
                        _arg("--seed", type=int, default=1, metavar="N", help="random seed (default 1)")),
    "help": _command("help", "Show this help, or one subcommand's.",
                     _arg("topic", nargs="?", metavar="SUBCOMMAND")),
    "tune": _command("tune", "Power-tune NAME: run it --num times at each memory size, then chart duration "
                     "and cost and pick the best size (as AWS Lambda Power Tuning does).",
                     _NAME, _EVENT,
                     _arg("--sizes", nargs="+", default=None, metavar="MB",
                          help="memory sizes, 128 to 10240 (default 128 256 512 1024 1769 3008)"),
                     _arg("--num", type=int, default=10, metavar="N", help="runs per size, at least 5 (default 10)"),
                     _arg("--strategy", choices=["cost", "speed", "balanced"], default="cost",
                          help="pick the cheapest, the fastest, or a balance (default cost)"),
                     _arg("--weight", type=float, default=0.5, metavar="W",
                          help="balanced only: 0 = fastest .. 1 = cheapest (default 0.5)"),
                     _arg("--architecture", choices=["x86_64", "arm64"], default=None,
                          help="price as this architecture (default: the function's)")),
}

LINE_DOC = """Invoke and inspect Lambda functions registered with ``%%lambda``.

Subcommands::

""" + "\n".join(f"  {usage_line(p).removeprefix('usage: ')}\n      {p.description}"
                for p in COMMANDS.values()) + """

Examples::

  %lambda invoke double {"value": 5}
  %lambda invoke double:live {"value": 5}
  %lambda invoke thumbnail --sample s3-put
  %lambda publish double
  %lambda alias double live 1 --weight 2=0.1
  %lambda burst double 10 {"value": 1}
  %lambda wait 600
  %lambda containers
  %lambda containers --live
  %lambda quiz
  %lambda tune double {"value": 5} --sizes 128 512 1769 --num 5

  %lambda traffic double --rate 5/s --for 1h --idle-timeout 10m

Every subcommand is also a Python function: ``lw.invoke``, ``lw.burst``, ``lw.publish``, ``lw.alias``,
``lw.wait``, ``lw.containers``, ``lw.history``, ``lw.reset``, ``lw.quiz``, ``lw.power_tune``,
``lw.simulate``; ``lw.monitor()`` is a live pool panel.
"""


@magics_class
class LambdaMagics(Magics):
    """The ``%%lambda`` cell magic and the ``%lambda`` line magic."""

    display = CaselessStrEnum(
        ["auto", "widget", "text"], default_value="auto",
        help="How results appear: widgets, terminal text, or 'auto' (widgets when a kernel runs us).",
    ).tag(config=True)

    def _output(self) -> Output:
        if self.display == "auto":
            return Output(widgets=getattr(self.shell, "kernel", None) is not None)
        return Output(widgets=self.display == "widget")

    # ------------------------------------------------------------------ %%lambda
    @no_var_expand
    @magic_arguments("%lambda")
    @argument("name", metavar="NAME", help="the function's name (running the cell again updates its $LATEST; "
                                            "%%lambda publish NAME makes a numbered version)")
    @argument("--handler", default="lambda_handler",
              help="the handler: a function in the cell, or module.function (default lambda_handler)")
    @argument("--timeout", type=float, default=3.0, help="seconds, 1 to 900 (default 3)")
    @argument("--memory", type=int, default=128, metavar="MB", help="memory size in MB, 128 to 10240 (default 128)")
    @argument("--idle-timeout", type=float, default=600.0, metavar="SECONDS",
              help="seconds an idle environment stays warm before it is reaped (default 600)")
    @argument("--track", action="append", default=[], metavar="EXPR",
              help="an expression to follow in the variable tracker, e.g. \"event['value']\" (repeatable)")
    @argument("--env", action="append", default=[], metavar="KEY=VALUE",
              help="an environment variable for the function (repeatable)")
    @argument("--reserved", type=int, metavar="N", help="reserved concurrency: at most N at once")
    @argument("--provisioned", type=int, default=0, metavar="N",
              help="provisioned concurrency: N environments initialised ahead of any event")
    @argument("--no-trace", action="store_true", help="run untraced: no step table, as fast as Lambda")
    @argument("--no-cpu-scaling", action="store_true",
              help="give environments the machine's CPUs instead of memory / 1,769 MB of a vCPU")
    @argument("--invoke", metavar="EVENT", help="invoke once right away with EVENT (JSON or Python)")
    @argument("--runtime", choices=["bundled", "awslambdaric", *LAMBDA_PYTHONS], default="bundled",
              help="the runtime in each environment (default bundled); python3.X: the bundled runtime on "
                   "that Python, if this machine has it")
    @argument("--architecture", choices=["x86_64", "arm64"], default="x86_64",
              help="the instruction set: x86_64 (default) or arm64; here it only sets the price")
    @argument("--snap-start", action="store_true",
              help="SnapStart: init once at publish, restore that snapshot at every cold start")
    @argument("--extensions", metavar="DIR",
              help="a directory of external extensions, started in every environment (/opt/extensions)")
    @cell_magic("lambda")
    def lambda_cell(self, line: str, cell: str) -> None:
        """Register the cell as the handler module of a Lambda function, and show its card.

        The cell is the module Lambda imports at init; IPython syntax is transformed
        line for line, so tracebacks point at the cell's own lines. A syntax error is
        reported, as on Lambda, when an environment initialises.

        Example::

          %%lambda double --invoke '{"value": 5}' --track "event['value']"
          def lambda_handler(event, context):
              return event['value'] * 2
        """
        parser = self.lambda_cell.parser
        args = parse(parser, split_line(line))
        event = self._event(args.invoke) if args.invoke is not None else None
        if args.invoke is not None:  # a payload Lambda would refuse stops us before registering
            self._guard(parser, lambda: encode_event(event))
        source = transform_cell(self.shell.input_transformer_manager, cell)
        config = {
            "handler": args.handler, "timeout": args.timeout, "memory_mb": args.memory,
            "idle_timeout": args.idle_timeout, "env": parse_env(args.env, parser),
            "track": tuple(args.track), "trace": not args.no_trace,
            "reserved_concurrency": args.reserved, "provisioned_concurrency": args.provisioned,
            "runtime": args.runtime, "cpu_scaling": not args.no_cpu_scaling,
            "architecture": args.architecture, "snap_start": args.snap_start,
            "extensions": args.extensions,
        }
        mgr = get_manager()
        try:
            fn = mgr.register(args.name, source, **config)
        except InvalidParameterValueException as exc:
            raise usage_error(parser, str(exc)) from None
        out = self._output()
        out.function(fn, mgr)
        out.warnings(check_source(cell, source, args.handler))
        if args.invoke is not None:
            out.invocation(self._guard(parser, lambda: mgr.submit(args.name, event)), mgr)

    # ------------------------------------------------------------------ %lambda
    @no_var_expand
    @line_magic("lambda")
    def lambda_line(self, line: str) -> None:
        tokens = split_line(line)
        if not tokens:
            print(LINE_DOC)
            return
        name, rest = tokens[0], tokens[1:]
        parser = COMMANDS.get(name)
        if parser is None:
            close = difflib.get_close_matches(name, COMMANDS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UsageError(f"unknown subcommand {name!r}.{hint} Subcommands: {', '.join(COMMANDS)}\n"
                             f"usage: %lambda SUBCOMMAND [ARGS]   (%lambda help for more)")
        if "-h" in rest or "--help" in rest:
            print(parser.format_help())
            return
        args = parse(parser, rest)
        getattr(self, f"_do_{name}")(parser, args)

    lambda_line.__doc__ = LINE_DOC

    def _do_invoke(self, parser: MagicArgumentParser, args: Any) -> None:
        mgr = get_manager()
        self._known(parser, args.name, args.qualifier)
        event = self._event_or_sample(parser, args)
        self._output().invocation(self._guard(
            parser, lambda: api.submit(args.name, **event, qualifier=args.qualifier)), mgr)

    def _do_burst(self, parser: MagicArgumentParser, args: Any) -> None:
        mgr = get_manager()
        self._known(parser, args.name)
        event = self._event_or_sample(parser, args)
        futures = self._guard(parser, lambda: api.submit_many(args.name, args.n, **event))
        self._output().burst(futures, mgr, live=args.live)

    def _do_publish(self, parser: MagicArgumentParser, args: Any) -> None:
        mgr = get_manager()
        self._known(parser, args.name)
        fn = self._guard(parser, lambda: mgr.publish(args.name, args.description))
        self._output().function(fn, mgr)

    def _do_alias(self, parser: MagicArgumentParser, args: Any) -> None:
        mgr = get_manager()
        self._known(parser, args.name)
        if args.delete:
            if args.version is not None or args.weight:
                raise usage_error(parser, "--delete takes no VERSION or --weight")
            self._guard(parser, lambda: mgr.get_alias(args.name, args.alias))
            mgr.delete_alias(args.name, args.alias)
            print(f"Deleted alias {args.alias} of {args.name}.")
            return
        weights = _weights(parser, args.weight)
        card = self._guard(parser, lambda: api.alias(args.name, args.alias, args.version, weights=weights,
                                                     description=args.description))
        self._output().function(card.fn, mgr, card)

    def _do_wait(self, parser: MagicArgumentParser, args: Any) -> None:
        self._output().waited(self._guard(parser, lambda: api.wait(args.seconds)))

    def _do_containers(self, parser: MagicArgumentParser, args: Any) -> None:
        self._output().pool(get_manager(), live=args.live)

    def _do_history(self, parser: MagicArgumentParser, args: Any) -> None:
        self._output().history(get_manager(), live=args.live)

    def _do_reset(self, parser: MagicArgumentParser, args: Any) -> None:
        mgr = get_manager()
        envs, fns, invs = len(mgr.containers), len(mgr.functions), len(mgr.history)
        mgr.reset(seed=args.seed, virtual_clock=True if args.virtual_clock else None)
        print(f"Reset: terminated {envs} environment{'s' if envs != 1 else ''}; forgot "
              f"{fns} function{'s' if fns != 1 else ''} and {invs} invocation{'s' if invs != 1 else ''}.")

    def _do_quiz(self, parser: MagicArgumentParser, args: Any) -> None:
        self._output().quiz(self._guard(parser, lambda: api.quiz(seed=args.seed)))

    def _do_tune(self, parser: MagicArgumentParser, args: Any) -> None:
        self._known(parser, args.name)
        options: dict[str, Any] = {"num": args.num, "strategy": args.strategy,
                                   "balanced_weight": args.weight, "architecture": args.architecture}
        if args.sizes is not None:
            options["memory_sizes"] = _sizes(parser, args.sizes)
        event = self._event(" ".join(args.event)) if args.event else {}
        self._guard(parser, lambda: (encode_event(event), check_options(
            options.get("memory_sizes", DEFAULT_SIZES), args.num, args.strategy, args.weight)))

        def run(progress: Callable[[int, int], None]) -> Any:
            return get_manager().power_tune(args.name, event, on_progress=progress, **options)

        try:
            self._output().tuning(run)
        except TuningFailed as exc:  # the function failed, not the command line: no usage line
            raise UsageError(str(exc)) from None

    def _do_traffic(self, parser: MagicArgumentParser, args: Any) -> None:
        from lambda_widget import traffic

        self._known(parser, args.name)
        fn = get_manager().function(args.name)
        event = self._event(args.event) if args.event is not None else None

        def run() -> Any:
            rate = traffic.parse_rate(args.rate)
            workload = traffic.constant(rate) if args.constant else traffic.poisson(rate)
            idle = fn.idle_timeout if args.idle_timeout is None else traffic.parse_duration(args.idle_timeout)
            return api.simulate(workload, args.duration, function=args.name, event=event, idle_timeout=idle,
                                provisioned_concurrency=args.provisioned,
                                reserved_concurrency=args.reserved, seed=args.seed)

        result = self._guard(parser, run)
        if self._output().widgets:
            display(result)
        else:
            print("\n".join(result.summary_lines()))

    def _do_help(self, parser: MagicArgumentParser, args: Any) -> None:
        if args.topic is None:
            print(LINE_DOC)
        elif args.topic in COMMANDS:
            print(COMMANDS[args.topic].format_help())
        else:
            raise usage_error(parser, f"no subcommand {args.topic!r}; choose one of: {', '.join(COMMANDS)}")

    # ------------------------------------------------------------------ helpers
    def _event(self, text: str) -> Any:
        return decode_event(text, self.shell.user_ns)

    def _event_or_sample(self, parser: MagicArgumentParser, args: Any) -> dict[str, Any]:
        """Keyword arguments for ``api.submit``: ``event=`` or ``sample=`` (or neither: ``{}``)."""
        if args.sample is not None:
            if args.event:
                raise usage_error(parser, "give EVENT or --sample, not both")
            if args.sample not in SAMPLES:
                raise usage_error(parser, f"no sample event {args.sample!r}; choose one of: "
                                          f"{', '.join(SAMPLES)}")
            return {"sample": args.sample}
        if args.event:
            return {"event": self._event(" ".join(args.event))}
        return {}

    def _known(self, parser: MagicArgumentParser, name: str, qualifier: str | None = None) -> None:
        """A UsageError naming the registered functions if ``name`` is not one of them (or its
        versions and aliases, if the qualifier names none of them)."""
        mgr = get_manager()
        base = name.split(":", 1)[0]
        try:
            mgr.function(base)
        except ResourceNotFoundException:
            names = ", ".join(sorted(mgr.functions))
            known = f"registered: {names}" if names else "none registered yet: run a %%lambda cell first"
            raise usage_error(parser, f"no function named {base!r} ({known})") from None
        try:
            mgr.function(name, qualifier)
        except ResourceNotFoundException as exc:
            versions = ", ".join(f.version for f in mgr.versions(base))
            aliases = ", ".join(a.name for a in mgr.aliases(base)) or "none"
            raise usage_error(parser, f"{exc.args[0]} (versions: {versions}; aliases: {aliases})") from None
        except InvalidParameterValueException as exc:
            raise usage_error(parser, str(exc)) from None

    @staticmethod
    def _guard(parser: MagicArgumentParser, call: Callable[[], Any]) -> Any:
        """Run ``call``; the engine's complaints about the input become UsageErrors."""
        try:
            return call()
        except _INPUT_ERRORS as exc:
            raise usage_error(parser, str(exc)) from None
