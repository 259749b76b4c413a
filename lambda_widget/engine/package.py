"""Code packages: a directory (modules, packages, vendored dependencies, data files) as a task root.

- ``requirements.txt`` beside the code is installed with ``pip install --target`` into a
  dependency directory cached by the file's hash (and the Python version), as ``sam build``
  does, then laid into the task root next to the code;
- a zip (``CreateFunction``) is unpacked with Lambda's limits: no path leaving the package,
  no links, at most 250 MB unzipped, whatever the headers claim.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from lambda_widget.engine.errors import InvalidParameterValueException

MAX_UNZIPPED = 262_144_000  # Lambda's limit for a function's unzipped code and layers
MAX_FILES = 50_000
PIP_TIMEOUT = 900.0
IGNORED = ("__pycache__", ".git", ".aws-sam", ".venv", "venv", ".pytest_cache", ".ipynb_checkpoints",
           ".mypy_cache", ".ruff_cache", "node_modules", ".DS_Store")


def handler_file(root: Path, handler: str) -> Path | None:
    """The module file ``handler`` (``pkg.module.function``) names under ``root``, if there is one."""
    module = handler.rsplit(".", 1)[0]
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def prepare_code_dir(path: str | os.PathLike, handler: str, log=None,
                     python: dict | None = None) -> tuple[Path, str]:
    """The code directory, resolved, with its requirements installed (cached), and the handler
    module's source ('' if it has none yet: the environment reports that at init, as Lambda does).
    ``python``: the function's interpreter (``Function.python``), when not the kernel's."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise InvalidParameterValueException(
            f"Code directory {str(path)!r} does not exist or is not a directory")
    if "." not in handler:
        raise InvalidParameterValueException(
            f"Invalid handler {handler!r} for a code directory: give module.function, e.g. "
            f"'app.lambda_handler' for app.py")
    found = handler_file(root, handler)
    try:
        source = found.read_text(encoding="utf-8") if found else ""
    except (OSError, UnicodeDecodeError):
        source = ""
    if (root / "requirements.txt").is_file():
        install_requirements(root / "requirements.txt", log, python)
    return root.resolve(), source


# ---------------------------------------------------------------------- dependencies
def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lambda-widget" / "deps"


def _pip_python(python: dict | None) -> tuple[str, str]:
    """(executable, "3.X") of the interpreter whose pip installs: the function's, or the kernel's."""
    if python and python.get("executable") and python.get("version"):
        return python["executable"], ".".join(str(python["version"]).split(".")[:2])
    return sys.executable, f"{sys.version_info.major}.{sys.version_info.minor}"


def requirements_key(requirements: Path, python: dict | None = None) -> str:
    digest = hashlib.sha256(requirements.read_bytes())
    digest.update(f"{_pip_python(python)[1]}|{sys.platform}".encode())
    return digest.hexdigest()[:32]


def install_requirements(requirements: Path, log=None, python: dict | None = None) -> Path:
    """``pip install --target`` the requirements once per hash and Python version (with that
    Python's own pip: ``python``, the function's interpreter, or the kernel's); returns the
    dependency directory."""
    target = cache_dir() / requirements_key(requirements, python)
    if (target / ".complete").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".install-", dir=target.parent))
    cmd = [_pip_python(python)[0], "-m", "pip", "install", "--target", str(staging), "--requirement",
           str(requirements), "--disable-pip-version-check", "--no-input", "--quiet",
           "--no-warn-script-location"]
    if log is not None:
        log(f"pip install --target (cache {target.name}) -r {requirements}")
    try:
        done = subprocess.run(cmd, cwd=requirements.parent, capture_output=True, text=True,
                              timeout=PIP_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        shutil.rmtree(staging, ignore_errors=True)
        raise InvalidParameterValueException(
            f"pip install -r {requirements} took longer than {PIP_TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise InvalidParameterValueException(
            f"pip install -r {requirements} failed (exit {done.returncode}):\n{tail}")
    shutil.rmtree(staging / "bin", ignore_errors=True)  # console scripts: no use in a task root
    (staging / ".complete").write_text(" ".join(cmd) + "\n")
    try:
        staging.rename(target)
    except OSError:  # another process installed the same hash meanwhile
        shutil.rmtree(staging, ignore_errors=True)
    return target


# ---------------------------------------------------------------------- the task root
def write_task_root(code: Path, root: Path, log=None, python: dict | None = None) -> int:
    """Copy ``code`` (and its installed requirements, for ``python``: the function's interpreter)
    into ``root``, read-only; returns the bytes copied."""
    deps = None
    requirements = code / "requirements.txt"
    if requirements.is_file():
        deps = install_requirements(requirements, log, python)
    budget = [MAX_UNZIPPED, MAX_FILES]

    def copy(src: str, dst: str) -> str:
        size = os.lstat(src).st_size
        budget[0] -= size
        budget[1] -= 1
        if budget[0] < 0:
            raise InvalidParameterValueException(
                f"Unzipped size must be smaller than {MAX_UNZIPPED} bytes ({code} with its dependencies)")
        if budget[1] < 0:
            raise InvalidParameterValueException(f"{code} holds more than {MAX_FILES} files")
        return shutil.copy2(src, dst)

    ignore = shutil.ignore_patterns(*IGNORED)
    try:
        shutil.copytree(code, root, symlinks=True, ignore=ignore, copy_function=copy, dirs_exist_ok=True)
        if deps is not None:
            shutil.copytree(deps, root, symlinks=True, ignore=shutil.ignore_patterns(".complete", *IGNORED),
                            copy_function=copy, dirs_exist_ok=True)
    except shutil.Error as exc:
        shutil.rmtree(root, ignore_errors=True)
        raise InvalidParameterValueException(f"Could not copy {code} into the task root: {exc}") from None
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    _read_only(root)
    return MAX_UNZIPPED - budget[0]


def _read_only(root: Path) -> None:
    """The task root is read-only on Lambda: files lose their write bits."""
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = os.path.join(dirpath, name)
            mode = os.lstat(p).st_mode
            if stat.S_ISREG(mode):
                os.chmod(p, stat.S_IMODE(mode) & ~0o222 | 0o444)


# ---------------------------------------------------------------------- zip files
def unzip(data: bytes, dest: Path) -> None:
    """Unpack a deployment package into ``dest``, refusing what Lambda (or safety) refuses."""
    bad = InvalidParameterValueException
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise bad("Could not unzip uploaded file. Please check your file, then try to upload again.") from None
    if len(infos) > MAX_FILES:
        raise bad(f"The zip file holds {len(infos)} entries; at most {MAX_FILES} are unpacked")
    total = 0
    dest = dest.resolve()
    for info in infos:
        name = info.filename.replace("\\", "/")
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if name.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
            raise bad(f"The zip file has an entry outside the package: {info.filename!r}")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise bad(f"The zip file has a symbolic link, which lambda_widget does not unpack: "
                      f"{info.filename!r}")
        if not parts:
            continue
        target = dest.joinpath(*parts)
        if info.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with archive.open(info) as src, open(target, "wb") as out:
                while True:
                    chunk = src.read(1 << 16)
                    if not chunk:
                        break
                    total += len(chunk)
                    if total > MAX_UNZIPPED:
                        raise bad(f"Unzipped size must be smaller than {MAX_UNZIPPED} bytes")
                    out.write(chunk)
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError) as exc:
            raise bad(f"Could not unzip uploaded file ({info.filename}: {exc}). Please check your "
                      f"file, then try to upload again.") from None
        if (info.external_attr >> 16) & 0o111:
            target.chmod(0o755)
