"""Line tracer: records one step per executed line of the handler's module.

Records are JSON lines appended to a file the manager reads. Each line is written
when it happens, so the steps survive a timeout or a crash that kills the process.
Record types (``t``):

- ``entry``: variables when the handler is called (before its first line)
- ``globals``: module globals before / after the call
- ``step``: a line starts (``n``, ``line``, ``fn``); ``pv`` / ``po`` are the variables after
  the previous step and what it printed (one record a line keeps tracing cheap); ``pg``, the
  module globals the handler reads or writes, after the previous step (only when there are any)
- ``return``: the handler frame returned (or raised); ``pv`` / ``po`` close the last step
- ``truncated``: the step cap was reached; tracing stopped (``pv`` / ``po`` as above)
- ``post``: closes the last step when none of the above did
"""

from __future__ import annotations

import array
import collections
import dis
import io
import itertools
import json
import os
import re
import reprlib
import sys
import types

UNDEFINED = "undefined"
MAX_REPR = 80
STEP_OUTPUT = 1024  # characters of printed output a step keeps
INVOCATION_OUTPUT = 64 * 1024  # ... and all the steps of one invocation together

_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60
_repr.maxlong = 40
_repr.maxlevel = 3
for _name in ("maxlist", "maxtuple", "maxdict", "maxset", "maxfrozenset", "maxdeque", "maxarray"):
    setattr(_repr, _name, 8)

_SKIP_GLOBAL_TYPES = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)
_encode = json.JSONEncoder(ensure_ascii=False).encode
_quote = json.encoder.encode_basestring  # the C string encoder


def _dumps(record: dict) -> str:
    """``record`` as JSON. A trace record is strings, ints and a dict of strings: those are
    joined by hand, three times faster than the json module (which builds an encoder per call)."""
    parts = []
    for key, value in record.items():
        kind = type(value)
        if kind is str:
            text = _quote(value)
        elif kind is int:
            text = str(value)
        elif kind is dict and all(type(k) is str and type(v) is str for k, v in value.items()):
            text = "{" + ",".join([_quote(k) + ":" + _quote(v) for k, v in value.items()]) + "}"
        else:
            return _encode(record)
        parts.append(_quote(key) + ":" + text)
    return "{" + ",".join(parts) + "}"


def _scalar_repr(value, limit: int) -> str | None:
    """The builtin repr of an int/float/bool/None/str when reprlib would print it unchanged
    (at most ``limit`` characters, and within reprlib's maxlong/maxother/maxstring); else None."""
    kind = type(value)
    if kind is str:
        if len(value) > _repr.maxstring:
            return None
    elif kind not in _SCALARS:
        return None
    text = repr(value)
    return text if len(text) <= limit else None


_SCALARS = frozenset({int, float, bool, type(None)})
_SHORT = min(_repr.maxlong, _repr.maxother, _repr.maxstring)
_SEQUENCES = {list: ("[", "]"), tuple: ("(", ")")}


def _fast_repr(value) -> str | None:
    """reprlib's output for scalars and flat, small lists, tuples and dicts of scalars, built
    without reprlib's Python-level dispatch (most of what a handler's locals hold); else None."""
    kind = type(value)
    if kind in _SEQUENCES:
        if len(value) > _repr.maxlist:
            return None
        parts = [_scalar_repr(v, _SHORT) for v in value]
        if None in parts:
            return None
        start, end = _SEQUENCES[kind]
        return start + ", ".join(parts) + ("," if kind is tuple and len(parts) == 1 else "") + end
    if kind is dict:
        if len(value) > _repr.maxdict:
            return None
        try:
            keys = sorted(value)  # reprlib sorts keys when it can
        except Exception:  # noqa: BLE001 - as reprlib: any failing comparison means unsorted
            keys = list(value)
        parts = []
        for key in keys:
            k, v = _scalar_repr(key, _SHORT), _scalar_repr(value[key], _SHORT)
            if k is None or v is None:
                return None
            parts.append(k + ": " + v)
        return "{" + ", ".join(parts) + "}"
    return _scalar_repr(value, _SHORT)


_DEFAULT_REPR = re.compile(r"<(?:[\w.]+\.)?(\w+) object at 0x[0-9a-fA-F]+>")


def _file_repr(value: io.IOBase) -> str | None:
    """``<file guestbook.txt, mode 'a'>``: a file by its base name, not its whole wrapper repr
    (None for a stream without a file name, such as ``io.StringIO``)."""
    name = getattr(value, "name", None)
    if isinstance(name, str):
        label = os.path.basename(name) or name
    elif isinstance(name, int) and not isinstance(name, bool):
        label = f"fd {name}"
    else:
        return None
    mode = getattr(value, "mode", None)
    text = f"<file {label}" + (f", mode {mode!r}" if isinstance(mode, str) else "")
    return text + (", closed>" if value.closed else ">")


BIG = 1000  # items: past this, a dict or set is shown by its first items, not its sorted smallest
_HEADED = (dict, set, frozenset)
_CHEAP = (list, tuple, str, bytes, bytearray, range, collections.deque, array.array)


def _big_repr(value) -> str | None:
    """A large container, cheaply. reprlib sorts a whole dict or set to print eight items (25 ms
    at 100,000 keys, per traced line), and falls back to the full builtin repr of a subclass; here
    a dict or set shows its first items in iteration order, and any other large sized object its
    type and length. None for everything else."""
    kind = type(value)
    if kind in _CHEAP or kind in _SCALARS or getattr(kind, "__len__", None) is None:
        return None
    try:
        size = len(value)
    except Exception:  # noqa: BLE001 - no len, or a user __len__ that raises
        return None
    if not isinstance(size, int) or size <= BIG:
        return None
    if kind in _HEADED:
        head = dict(itertools.islice(value.items(), _repr.maxdict)) if kind is dict else \
            kind(itertools.islice(value, _repr.maxset))
        text = _repr.repr(head)
        end = text.rindex("}")
        return text[:end] + ", ..." + text[end:]
    return f"<{kind.__name__} of {size:,} items>"


def safe_repr(value) -> str:
    """A short repr (reprlib's limits, then MAX_REPR characters); never raises. Open files read
    ``<file NAME, mode 'a'>`` and objects with the default repr ``<Class object>``."""
    try:
        text = _fast_repr(value)  # repr of an int past 4,300 digits raises, as in reprlib
    except ValueError:
        text = None
    if text is not None and len(text) <= MAX_REPR:
        return text
    try:
        text = _file_repr(value) if isinstance(value, io.IOBase) else _big_repr(value)
        if text is None:
            text = _repr.repr(value)
            if " object at 0x" in text:
                text = _DEFAULT_REPR.sub(r"<\1 object>", text)
    except Exception as exc:  # noqa: BLE001 - a user __repr__ may raise anything
        text = f"<repr failed: {type(exc).__name__}>"
    if len(text) > MAX_REPR:
        text = text[: MAX_REPR - 1] + "…"
    return text


def user_globals(namespace: dict) -> dict[str, str]:
    """Module globals a learner would call state: not dunders, modules, functions or classes."""
    out = {}
    for name, value in list(namespace.items()):
        if name.startswith("__") or isinstance(value, _SKIP_GLOBAL_TYPES):
            continue
        out[name] = safe_repr(value)
    return out


class ProjectFiles:
    """Which files the tracer follows: the handler's file, and the other modules of the code
    package in the task root (``LAMBDA_TASK_ROOT``), but not its dependencies: what an installed
    distribution lists in its ``*.dist-info/RECORD``, and what sits in a ``vendor/`` directory."""

    def __init__(self, handler_file: str) -> None:
        root = os.environ.get("LAMBDA_TASK_ROOT") or os.path.dirname(handler_file)
        self.root = os.path.realpath(root) + os.sep if root else None
        self.dependencies: set[str] | None = None  # top-level names, read on first need
        self.cache: dict[str, bool] = {}

    def traced(self, filename: str) -> bool:
        known = self.cache.get(filename)
        if known is None:
            known = self.cache[filename] = self._decide(filename)
        return known

    def _decide(self, filename: str) -> bool:
        if self.root is None or not filename.endswith(".py"):
            return False
        path = os.path.realpath(filename)
        if not path.startswith(self.root):
            return False
        parts = path[len(self.root):].split(os.sep)
        if any(p in _VENDOR_DIRS for p in parts[:-1]):
            return False  # vendored by hand: a dependency all the same
        top = parts[0]
        if top.endswith(".py"):
            top = top[:-3]
        if self.dependencies is None:
            self.dependencies = _installed_names(self.root)
        return top not in self.dependencies

    def where(self, frame) -> str:
        """``app/util.py:3  x = 1``: the file (relative to the task root), the line and its text."""
        import linecache

        filename = frame.f_code.co_filename
        rel = os.path.realpath(filename)[len(self.root or ""):] if self.root else filename
        text = linecache.getline(filename, frame.f_lineno).strip()
        return f"{rel}:{frame.f_lineno}  {text}"


_VENDOR_DIRS = frozenset({"site-packages", "dist-packages", "vendor", "_vendor", "vendored"})


def _installed_names(root: str) -> set[str]:
    names: set[str] = set()
    try:
        entries = os.listdir(root)
    except OSError:
        return names
    for entry in entries:
        if not entry.endswith((".dist-info", ".egg-info")):
            continue
        names.add(entry)
        try:
            with open(os.path.join(root, entry, "RECORD"), encoding="utf-8", errors="replace") as f:
                for line in f:
                    first = line.split(",", 1)[0].split("/", 1)[0]
                    if first:
                        names.add(first[:-3] if first.endswith(".py") else first)
        except OSError:
            continue
    return names


_GLOBAL_OPS = frozenset({"LOAD_GLOBAL", "STORE_GLOBAL", "DELETE_GLOBAL"})
_uses: dict[types.CodeType, dict[str, bool]] = {}
_MISSING = object()


def _global_uses(code: types.CodeType) -> dict[str, bool]:
    """Names ``code`` (and the code nested in it) uses as globals, in order: whether it assigns them."""
    found = _uses.get(code)
    if found is None:
        found = {}
        for op in dis.get_instructions(code):
            if op.opname in _GLOBAL_OPS:
                found[op.argval] = found.get(op.argval, False) or op.opname == "STORE_GLOBAL"
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                for name, stored in _global_uses(const).items():
                    found[name] = found.get(name, False) or stored
        _uses[code] = found
    return found


def globals_used(handler, namespace: dict) -> list[str]:
    """Module globals the handler reads or writes, directly or through functions of its own module
    it calls: the learner's state (not modules, functions or classes), in order of first use."""
    code = getattr(handler, "__code__", None)
    if code is None:
        return []
    out: list[str] = []
    seen, pending = {code}, [code]
    while pending:
        for name, stored in _global_uses(pending.pop(0)).items():
            value = namespace.get(name, _MISSING)
            if isinstance(value, types.FunctionType) and value.__code__.co_filename == code.co_filename:
                if value.__code__ not in seen:
                    seen.add(value.__code__)
                    pending.append(value.__code__)
            elif name not in out and not name.startswith("__") and not isinstance(value, _SKIP_GLOBAL_TYPES) \
                    and (value is not _MISSING or stored):
                out.append(name)
    return out


class StepRecorder:
    """Traces one handler call at a time and writes its records to ``fd``."""

    def __init__(self, fd: int, filename: str, max_steps: int, track: list[str]) -> None:
        self.fd = fd
        self.filename = filename
        self.max_steps = max_steps
        self.track = []
        for expr in track:
            try:
                self.track.append((expr, compile(expr, "<track>", "eval")))
            except SyntaxError:
                self.track.append((expr, None))
        self.active = False
        self.out: list[str] = []
        self.out_len = 0
        self.total_out = 0
        self.project = ProjectFiles(filename)

    # -- writing ---------------------------------------------------------------
    def _write(self, record: dict) -> None:
        data = (_dumps(record) + "\n").encode("utf-8", "replace")
        while data:
            written = os.write(self.fd, data)
            data = data[written:]

    def output(self, text: str) -> None:
        """Called by the stdout wrapper: attribute printed text to the current step (capped:
        the logs keep the full text; a step keeps the first STEP_OUTPUT characters)."""
        if not (self.active and self.step_open):
            return
        room = min(STEP_OUTPUT - self.out_len, INVOCATION_OUTPUT - self.total_out)
        if room > 0:
            self.out.append(text[:room])
        self.out_len += len(text)
        self.total_out += min(len(text), max(room, 0))

    # -- snapshots -------------------------------------------------------------
    def _variables(self, frame) -> dict[str, str]:
        local_ns = frame.f_locals
        snap = {}
        for name, value in local_ns.items():
            if value is self.context:
                continue
            snap[name] = safe_repr(value)
        scope = dict(local_ns) if self.track else None  # one copy for every tracked expression
        for expr, code in self.track:
            if code is None:
                snap[expr] = "<invalid expression>"
                continue
            try:
                snap[expr] = safe_repr(eval(code, frame.f_globals, scope))  # noqa: S307
            except (NameError, UnboundLocalError):
                snap[expr] = UNDEFINED
            except Exception as exc:  # noqa: BLE001
                snap[expr] = f"<{type(exc).__name__}>"
        return snap

    # -- the run ---------------------------------------------------------------
    def run(self, handler, event, context, request_id: str):
        self.request_id = request_id
        self.context = context
        self.handler_frame = None
        self.n = 0
        self.step_open = False
        self.out = []
        self.out_len = 0
        self.total_out = 0
        self.active = True
        module_globals = getattr(handler, "__globals__", None)
        self.module_globals = module_globals
        self.watch = globals_used(handler, module_globals) if module_globals is not None else []
        if module_globals is not None:
            self._write({"t": "globals", "rid": request_id, "when": "before",
                         "vars": user_globals(module_globals)})
        sys.settrace(self._global_trace)
        try:
            return handler(event, context)
        finally:
            sys.settrace(None)
            record = self._close_step(None)
            if record:  # the handler frame never returned normally (e.g. tracing stopped)
                record["t"] = "post"
                self._write(record)
            self.active = False
            if module_globals is not None:
                self._write({"t": "globals", "rid": request_id, "when": "after",
                             "vars": user_globals(module_globals)})

    def _global_trace(self, frame, event, arg):
        filename = frame.f_code.co_filename
        if filename != self.filename and not self.project.traced(filename):
            return None
        if self.handler_frame is None:
            self.handler_frame = frame
            self._write({"t": "entry", "rid": self.request_id, "vars": self._variables(frame)})
        return self._local_trace

    def _local_trace(self, frame, event, arg):
        if event == "line":
            # One record a line: it opens this step and carries what the previous one left.
            record = self._close_step(frame)
            if self.n >= self.max_steps:
                record.update(t="truncated", n=self.n)
                self._write(record)
                self._stop(frame)
                return None
            self.n += 1
            record.update(t="step", n=self.n, line=frame.f_lineno, fn=frame.f_code.co_name)
            if frame.f_code.co_filename != self.filename:
                # Another module of the project: its own line text; no line number of the
                # handler's file to point at.
                del record["line"]
                record["src"] = self.project.where(frame)
            self._write(record)
            self.step_open = True
        elif frame is self.handler_frame and event == "return":
            record = self._close_step(frame)
            record.update(t="return", line=frame.f_lineno)
            self._write(record)
        return self._local_trace

    def _close_step(self, frame) -> dict:
        """The open step's variables (``pv``) and output (``po``), for the next record."""
        if not self.step_open:
            return {}
        self.step_open = False
        target = self.handler_frame if self.handler_frame is not None else frame
        variables = self._variables(target) if target is not None else {}
        out = "".join(self.out)
        if self.out_len > len(out):
            out += f"… ({self.out_len - len(out)} more characters in the logs)"
        self.out = []
        self.out_len = 0
        if self.watch:
            namespace = self.module_globals
            return {"pv": variables, "po": out,
                    "pg": {name: safe_repr(namespace[name]) if name in namespace else UNDEFINED
                           for name in self.watch}}
        return {"pv": variables, "po": out}

    def _stop(self, frame) -> None:
        sys.settrace(None)
        while frame is not None:
            frame.f_trace = None
            frame = frame.f_back
