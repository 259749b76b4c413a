"""Layers: directories or zip files merged, in order, into what a function sees at ``/opt``.

As on Lambda: at most 5 layers; each is extracted over the ones before it (a later layer's
file wins); code and layers together stay under 250 MB unzipped; ``/opt/python`` and
``/opt/python/lib/python3.X/site-packages`` go on ``sys.path`` (the engine sets that up), and
executables keep their mode (``/opt/extensions``, ``/opt/bin``).
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

from lambda_widget.engine.errors import InvalidParameterValueException
from lambda_widget.engine.package import IGNORED, MAX_UNZIPPED, unzip

MAX_LAYERS = 5


def python_paths(opt: str, python_version: str | None = None) -> list[str]:
    """What Lambda's Python runtime puts on ``sys.path`` for the layers at ``opt``, in its order.
    ``python_version``: the function's interpreter (``3.12.1``), when not this kernel's."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}" if not python_version \
        else "python" + ".".join(python_version.split(".")[:2])
    return [f"{opt}/python/lib/{version}/site-packages", f"{opt}/python"]


def check_layers(layers: Sequence[str | os.PathLike]) -> tuple[str, ...]:
    """The layers as absolute paths, refused as CreateFunction refuses them (too many, missing)."""
    if isinstance(layers, (str, bytes, os.PathLike)):
        raise InvalidParameterValueException("layers must be a list of directories or zip files")
    layers = list(layers)
    if len(layers) > MAX_LAYERS:
        raise InvalidParameterValueException(f"Cannot reference more than {MAX_LAYERS} layers.")
    out = []
    for layer in layers:
        if not isinstance(layer, (str, os.PathLike)):
            raise InvalidParameterValueException(f"a layer is a directory or a zip file, not {layer!r}")
        path = Path(layer).expanduser().resolve()
        if not (path.is_dir() or (path.is_file() and zipfile.is_zipfile(path))):
            raise InvalidParameterValueException(
                f"Layer {str(layer)!r} is neither a directory nor a zip file")
        out.append(str(path))
    return tuple(out)


def merge_layers(layers: Sequence[str], dest: Path, code_bytes: int = 0) -> int:
    """Extract ``layers`` in order into ``dest`` (read-only afterwards); returns its bytes.

    ``code_bytes``: the function's own unzipped size, which counts against the same limit."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        for layer in layers:
            path = Path(layer)
            if path.is_dir():
                shutil.copytree(path, dest, symlinks=True, ignore=shutil.ignore_patterns(*IGNORED),
                                dirs_exist_ok=True)
            else:
                unzip(path.read_bytes(), dest)
            total = code_bytes + tree_size(dest)
            if total > MAX_UNZIPPED:
                raise InvalidParameterValueException(
                    f"Function code combined with layers exceeds the maximum allowed size of {MAX_UNZIPPED} "
                    f"bytes. The actual size is {total} bytes.")
    except shutil.Error as exc:
        shutil.rmtree(dest, ignore_errors=True)
        raise InvalidParameterValueException(f"Could not copy a layer into /opt: {exc}") from None
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    for dirpath, _dirs, files in os.walk(dest):
        for name in files:
            p = os.path.join(dirpath, name)
            mode = os.lstat(p).st_mode
            if stat.S_ISREG(mode):  # read-only, as /opt is; executables stay executable
                os.chmod(p, stat.S_IMODE(mode) & ~0o222 | 0o444)
    return tree_size(dest)


def tree_size(root: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            total += os.lstat(os.path.join(dirpath, name)).st_size
    return total
