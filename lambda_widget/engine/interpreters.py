"""Which Python runs a function: Lambda's runtime names, and the interpreters this machine has.

A function whose ``Runtime`` names a Python (``python3.12``) runs on that interpreter when the
machine has one: ``python3.12`` on ``PATH``, a pyenv version (``$PYENV_ROOT`` or ``~/.pyenv``,
``versions/3.12.*``) or a uv-managed one (``$UV_PYTHON_INSTALL_DIR`` or
``~/.local/share/uv/python``, ``cpython-3.12.*``). Each candidate is run once to learn its real
version (cached). Otherwise the function runs on the kernel's Python, and a
``PythonVersionWarning`` says so.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# Lambda's Python runtimes (managed runtimes one can create functions with), oldest first.
LAMBDA_PYTHONS: dict[str, tuple[int, int]] = {f"python3.{minor}": (3, minor) for minor in range(9, 15)}
PROBE_TIMEOUT = 20.0  # seconds a candidate interpreter may take to report its version
_PROBE = ("import json, sys; print(json.dumps([list(sys.version_info[:3]), sys.executable, "
          "sys.base_prefix, sys.implementation.name]))")


class PythonVersionWarning(UserWarning):
    """A function's runtime names a Python this machine does not have: it runs on the kernel's."""


@dataclass(frozen=True)
class Interpreter:
    """A Python interpreter found on this machine (plain facts)."""

    executable: str  # its real path (the probe's ``sys.executable``)
    version: tuple[int, int, int]
    base_prefix: str  # its installation (the sandbox makes it visible read-only)
    source: str  # kernel | path | pyenv | uv

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version))

    @property
    def runtime(self) -> str:
        """Lambda's name for this interpreter's Python (``python3.12``)."""
        return f"python{self.version[0]}.{self.version[1]}"

    @property
    def is_kernel(self) -> bool:
        return self.source == "kernel"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["version"] = self.version_text
        return data


def kernel() -> Interpreter:
    """The kernel's own Python (what every function runs on unless its runtime names another)."""
    return Interpreter(sys.executable, tuple(sys.version_info[:3]), sys.base_prefix, "kernel")


_probed: dict[str, Interpreter | None] = {}
_found: dict[str, Interpreter | None] = {}
_lock = threading.Lock()


def probe(path: str, source: str) -> Interpreter | None:
    """Run ``path`` once to learn what it really is (cached by path); None if it is not a CPython."""
    with _lock:
        if path in _probed:
            return _probed[path]
    result = None
    try:
        out = subprocess.run([path, "-I", "-c", _PROBE], capture_output=True, timeout=PROBE_TIMEOUT,
                             env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"},
                             stdin=subprocess.DEVNULL, check=False)
        if out.returncode == 0:
            version, executable, base_prefix, impl = json.loads(out.stdout)
            if impl == "cpython" and executable:
                result = Interpreter(executable, tuple(version), base_prefix, source)
    except (OSError, ValueError, subprocess.SubprocessError):
        result = None
    with _lock:
        _probed[path] = result
    return result


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", name))


def candidates(minor: int) -> list[tuple[str, str]]:
    """(path, source) of every interpreter that may be Python 3.``minor``, in order of preference:
    ``PATH`` (pyenv's shims skipped: its versions come next), pyenv, uv; newest patch first."""
    found: list[tuple[str, str]] = []
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    shims = str(pyenv_root / "shims")
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if not folder or os.path.realpath(folder) == os.path.realpath(shims) or folder.rstrip("/").endswith(
                "/shims"):
            continue
        path = os.path.join(folder, f"python3.{minor}")
        if os.path.isfile(path) and os.access(path, os.X_OK):
            found.append((path, "path"))
    pattern = re.compile(rf"3\.{minor}\.\d+")
    versions = pyenv_root / "versions"
    if versions.is_dir():
        for entry in sorted(versions.iterdir(), key=lambda p: _version_key(p.name), reverse=True):
            if pattern.fullmatch(entry.name):
                found.append((str(entry / "bin" / "python3"), "pyenv"))
    uv_root = Path(os.environ.get("UV_PYTHON_INSTALL_DIR") or
                   Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "uv" / "python")
    if uv_root.is_dir():
        uv_pattern = re.compile(rf"cpython-3\.{minor}\.\d+-.*")
        for entry in sorted(uv_root.iterdir(), key=lambda p: _version_key(p.name.split("-")[1]), reverse=True):
            if uv_pattern.fullmatch(entry.name) and "freethreaded" not in entry.name:
                found.append((str(entry / "bin" / "python3"), "uv"))
    return [(p, s) for p, s in found if os.path.isfile(p) and os.access(p, os.X_OK)]


def find(runtime: str) -> Interpreter | None:
    """The interpreter for Lambda runtime ``runtime`` (``python3.12``): the kernel's own if it is
    that version, else the first candidate that really is; None when the machine has none."""
    if runtime not in LAMBDA_PYTHONS:
        raise ValueError(f"Unknown Python runtime {runtime!r}: Lambda's are {', '.join(LAMBDA_PYTHONS)}")
    major, minor = LAMBDA_PYTHONS[runtime]
    if sys.version_info[:2] == (major, minor):
        return kernel()
    with _lock:
        if runtime in _found:
            return _found[runtime]
    chosen = None
    for path, source in candidates(minor):
        interp = probe(path, source)
        if interp is not None and interp.version[:2] == (major, minor):
            chosen = interp
            break
    with _lock:
        _found[runtime] = chosen
    return chosen


def missing_words(runtime: str) -> str:
    """What a function of ``runtime`` runs on when the machine lacks it."""
    own = kernel()
    return f"{runtime} is not on this machine: runs on Python {own.version[0]}.{own.version[1]}"


def choose(runtime: str, warn: bool = True) -> tuple[Interpreter, str]:
    """The interpreter a function of ``runtime`` runs on, and a note when it is not the one asked
    for (the kernel's instead; a ``PythonVersionWarning`` too, if ``warn``)."""
    found = find(runtime)
    if found is not None:
        return found, ""
    note = missing_words(runtime)
    if warn:
        warnings.warn(note, PythonVersionWarning, stacklevel=3)
    return kernel(), note


def forget() -> None:
    """Drop what was found (for tests that change ``PATH`` or ``PYENV_ROOT``)."""
    with _lock:
        _probed.clear()
        _found.clear()
