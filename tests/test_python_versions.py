"""A function whose runtime names another Python runs on that interpreter when the machine has it
(PATH, pyenv, uv), through a fork server of its own; otherwise on the kernel's Python, with a
warning and a note on its card. Real interpreters: tests of a version skip where it is absent
(this image has pyenv's 3.9, 3.10, 3.12 and 3.13 under /root/.pyenv)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

import lambda_widget as lw
from lambda_widget.engine import interpreters
from lambda_widget.engine.errors import InvalidParameterValueException
from lambda_widget.project import sam
from lambda_widget.project.reader import read
from lambda_widget.views.html import function_html, header_html
from lambda_widget.views.text import function_text, render_invocation

KERNEL = f"python{sys.version_info.major}.{sys.version_info.minor}"
OTHERS = ["python3.9", "python3.12", "python3.13"]

REPORTER = textwrap.dedent('''
    import os
    import sys

    def lambda_handler(event, context):
        import decimal  # not preloaded by the fork server: read from the interpreter's own files
        facts = {"version": list(sys.version_info[:3]), "executable": sys.executable,
                 "execution_env": os.environ["AWS_EXECUTION_ENV"], "decimal": str(decimal.Decimal("1.10")),
                 "prefix_seen": os.path.isdir(sys.base_prefix)}
        try:
            open(os.path.join(sys.base_prefix, "lw-write-probe"), "w").close()
            os.unlink(os.path.join(sys.base_prefix, "lw-write-probe"))
            facts["prefix_writable"] = True
        except OSError:
            facts["prefix_writable"] = False
        kernel = event.get("kernel_prefix")
        facts["kernel_prefix_seen"] = bool(kernel) and os.path.isdir(os.path.join(kernel, "lib"))
        return facts
''')


def interpreter(runtime: str) -> interpreters.Interpreter:
    found = interpreters.find(runtime)
    if found is None:
        pytest.skip(f"{runtime} is not on this machine (no python3.X on PATH, no pyenv or uv version of it)")
    return found


def as_version(text: str) -> list[int]:
    return [int(n) for n in text.split(".")]


@pytest.fixture
def no_other_python(monkeypatch):
    """A machine with no Python but the kernel's: nothing on PATH, no pyenv, no uv."""
    monkeypatch.setattr(interpreters, "candidates", lambda minor: [])
    interpreters.forget()
    yield
    interpreters.forget()


# ---------------------------------------------------------------------- finding interpreters
def test_runtime_names_map_to_versions():
    assert interpreters.LAMBDA_PYTHONS["python3.9"] == (3, 9)
    assert list(interpreters.LAMBDA_PYTHONS) == [f"python3.{m}" for m in range(9, 15)]
    assert interpreters.find(KERNEL).is_kernel and interpreters.find(KERNEL).executable == sys.executable
    with pytest.raises(ValueError, match="Unknown Python runtime 'python2.7'"):
        interpreters.find("python2.7")


@pytest.mark.parametrize("runtime", OTHERS)
def test_find_checks_the_real_version(runtime):
    found = interpreter(runtime)
    assert found.runtime == runtime and not found.is_kernel
    assert os.access(found.executable, os.X_OK) and Path(found.base_prefix).is_dir()


def test_uv_layout_and_a_lying_path_entry(tmp_path, monkeypatch):
    """uv's ``cpython-3.X.Y-<platform>`` directories are found; a ``python3.12`` on PATH that is
    really another version is run once and passed over."""
    real12, real13 = interpreter("python3.12"), interpreter("python3.13")
    liar = tmp_path / "bin"
    liar.mkdir()
    (liar / "python3.12").symlink_to(real13.executable)
    uv = tmp_path / "uv"
    (uv / "cpython-3.12.1-linux-x86_64-gnu" / "bin").mkdir(parents=True)
    (uv / "cpython-3.12.1-linux-x86_64-gnu" / "bin" / "python3").symlink_to(real12.executable)
    monkeypatch.setenv("PATH", f"{liar}{os.pathsep}/usr/bin{os.pathsep}/bin")
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(uv))
    interpreters.forget()
    try:
        assert [s for _, s in interpreters.candidates(12)][:2] == ["path", "uv"]
        found = interpreters.find("python3.12")
        assert found is not None and found.source == "uv" and found.version[:2] == (3, 12)
    finally:
        interpreters.forget()


# ---------------------------------------------------------------------- running on them
@pytest.mark.parametrize("runtime", OTHERS)
def test_handler_runs_on_the_named_python(runtime, isolation):
    found = interpreter(runtime)
    with lw.ContainerManager() as mgr:
        fn = mgr.register("ver", REPORTER, runtime=runtime)
        assert fn.runtime == "bundled" and fn.python_runtime == runtime and fn.python_note == ""
        inv = mgr.invoke("ver", {"kernel_prefix": sys.base_prefix})
        assert inv.status == "succeeded", inv.logs
        facts = inv.result
        assert facts["version"] == list(found.version) == as_version(inv.python_version)
        assert facts["execution_env"] == f"AWS_Lambda_{runtime}" and facts["decimal"] == "1.10"
        assert inv.logs[0].startswith(f"INIT_START Runtime Version: python:3.{found.version[1]}.v{found.version[2]}")
        env = next(e for e in mgr.containers if e.id == inv.container_id)
        assert env.to_dict()["python_version"] == found.version_text == inv.to_dict()["python_version"]
        assert mgr.invoke("ver", {}).result["version"] == facts["version"]  # warm: the same process
        if isolation == "namespaces":  # the sandbox sees its own interpreter, read-only, not the kernel's
            assert facts["prefix_seen"] and not facts["prefix_writable"]
            if found.base_prefix != sys.base_prefix and Path(sys.base_prefix).is_relative_to("/root"):
                assert not facts["kernel_prefix_seen"]
        fork_servers = [z for z in mgr._other_zygotes.values()]
        assert [z.python for z in fork_servers] == [found.executable]  # one fork server, of that Python
        assert f", Python {found.version_text}" in render_invocation(inv)
        assert f'<span class="lw-k">Python</span> <span class="lw-v">{found.version_text}</span>' in header_html(
            inv.to_dict())
        card = function_text(fn.to_dict())
        assert f"runtime bundled on Python {found.version_text} ({runtime}, {found.source})" in card


def test_two_pythons_side_by_side_each_with_its_fork_server(isolation):
    a, b = interpreter("python3.9"), interpreter("python3.13")
    with lw.ContainerManager() as mgr:
        mgr.register("old", REPORTER, runtime="python3.9")
        mgr.register("new", REPORTER, runtime="python3.13")
        mgr.register("own", REPORTER)
        assert mgr.invoke("old", {}).result["version"] == list(a.version)
        assert mgr.invoke("new", {}).result["version"] == list(b.version)
        assert mgr.invoke("own", {}).result["version"] == list(sys.version_info[:3])
        assert sorted(mgr._other_zygotes) == sorted([a.executable, b.executable])


def test_layer_path_follows_the_function_python(tmp_path, isolation):
    """Lambda puts ``/opt/python/lib/python3.X/site-packages`` on sys.path for the runtime's own 3.X."""
    found = interpreter("python3.12")
    site = tmp_path / "layer" / "python" / "lib" / "python3.12" / "site-packages"
    site.mkdir(parents=True)
    (site / "only_in_layer.py").write_text("WHERE = 'layer 3.12'\n")
    src = "import only_in_layer, sys\ndef lambda_handler(e, c):\n    return [only_in_layer.WHERE, sys.version_info[1]]\n"
    with lw.ContainerManager() as mgr:
        mgr.register("layered", src, runtime="python3.12", layers=[str(tmp_path / "layer")])
        inv = mgr.invoke("layered", {})
        assert inv.status == "succeeded", inv.logs
        assert inv.result == ["layer 3.12", found.version[1]]


def test_awslambdaric_stays_on_the_kernel_python():
    with lw.ContainerManager() as mgr:
        fn = mgr.register("ric", REPORTER, runtime="awslambdaric")
        inv = mgr.invoke("ric", {})
        assert inv.status == "succeeded", inv.logs
        assert inv.result["version"] == list(sys.version_info[:3]) == as_version(inv.python_version)
        assert function_text(fn.to_dict()).splitlines()[1].startswith("  handler lambda_function.lambda_handler, "
                                                                      "runtime awslambdaric,")


# ---------------------------------------------------------------------- a Python the machine lacks
def test_missing_python_warns_and_runs_on_the_kernel(no_other_python, isolation):
    runtime = "python3.14" if KERNEL != "python3.14" else "python3.13"
    words = f"{runtime} is not on this machine: runs on Python {sys.version_info.major}.{sys.version_info.minor}"
    with lw.ContainerManager() as mgr:
        with pytest.warns(interpreters.PythonVersionWarning, match=words):
            fn = mgr.register("absent", REPORTER, runtime=runtime)
        assert fn.python_note == words and fn.executable == sys.executable
        inv = mgr.invoke("absent", {})
        assert inv.status == "succeeded", inv.logs
        assert inv.result["version"] == list(sys.version_info[:3]) == as_version(inv.python_version)
        assert inv.result["execution_env"] == f"AWS_Lambda_{KERNEL}"
        assert not mgr._other_zygotes
        assert f"warning: {words}" in function_text(fn.to_dict())
        assert "Python" not in render_invocation(inv).splitlines()[1]  # the kernel's: nothing to say
        assert words in function_html(fn.to_dict())


def test_unknown_python_runtime_is_refused(mgr):
    with pytest.raises(InvalidParameterValueException, match="Unknown runtime 'python3.8'.*python3.9"):
        mgr.register("old", REPORTER, runtime="python3.8")
    with pytest.raises(InvalidParameterValueException, match="Unknown runtime"):
        mgr.register("odd", REPORTER, runtime=["python3.12"])


# ---------------------------------------------------------------------- SAM and CreateFunction
TEMPLATE = """AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Twelve:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: {runtime}
      CodeUri: src/
      Handler: app.lambda_handler
"""


def sam_project(tmp_path: Path, runtime: str) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(REPORTER)
    (tmp_path / "template.yaml").write_text(TEMPLATE.format(runtime=runtime))
    return tmp_path / "template.yaml"


def test_sam_runtime_runs_on_that_python(tmp_path, isolation):
    found = interpreter("python3.12")
    with lw.ContainerManager() as mgr:
        project = sam.load(mgr, sam_project(tmp_path, "python3.12"))
        assert f"Runtime python3.12 (Twelve) runs on Python {found.version_text}" in str(project)
        assert not project.warnings
        inv = mgr.invoke("Twelve", {})
        assert inv.status == "succeeded", inv.logs
        assert inv.result["version"] == list(found.version)


def test_sam_missing_python_is_a_warning_with_its_line(tmp_path, no_other_python):
    runtime = "python3.14" if KERNEL != "python3.14" else "python3.13"
    project = read(sam_project(tmp_path, runtime), register_params={"runtime"})
    own = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert project.warnings == [f"line 7: Twelve: {runtime} is not on this machine: runs on Python {own}"]
    assert project.specs[0].config["runtime"] == runtime
    old = tmp_path / "old"
    old.mkdir()
    project = read(sam_project(old, "python3.8"), register_params={"runtime"})
    assert project.warnings == [f"line 7: Twelve: python3.8 is not one of Lambda's Python runtimes "
                                f"({', '.join(interpreters.LAMBDA_PYTHONS)}): runs on Python {own}"]
    assert "runtime" not in project.specs[0].config


def _zip(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", source)
    return buf.getvalue()


def test_create_function_runtime_chooses_the_python():
    found = interpreter("python3.13")
    with lw.ContainerManager() as mgr, mgr.serve() as endpoint:
        client = boto3.client("lambda", endpoint_url=endpoint.url, region_name="us-east-1",
                              aws_access_key_id="local", aws_secret_access_key="local",
                              config=Config(retries={"max_attempts": 0}))
        role = "arn:aws:iam::123456789012:role/r"
        made = client.create_function(FunctionName="thirteen", Runtime="python3.13", Role=role,
                                      Handler="app.lambda_handler", Code={"ZipFile": _zip(REPORTER)})
        assert made["Runtime"] == "python3.13"
        out = client.invoke(FunctionName="thirteen", Payload=b"{}")
        assert json.loads(out["Payload"].read())["version"] == list(found.version)
        with pytest.raises(client.exceptions.InvalidParameterValueException, match="python3.8 is no longer"):
            client.create_function(FunctionName="old", Runtime="python3.8", Role=role,
                                   Handler="app.lambda_handler", Code={"ZipFile": _zip(REPORTER)})


def test_bundled_runtime_compiles_on_every_lambda_python():
    """runtime/ must stay importable on Lambda's oldest Python: no 3.10+ syntax (match, ``X | Y``
    evaluated at run time)."""
    runtime_dir = Path(lw.__file__).parent / "runtime"
    checked = []
    for runtime in interpreters.LAMBDA_PYTHONS:
        found = interpreters.find(runtime)
        if found is None:
            continue
        code = ("import sys; sys.path.insert(0, sys.argv[1]); import lambda_widget.runtime.zygote, "
                "lambda_widget.runtime.platform, lambda_widget.runtime.bootstrap")
        done = subprocess.run([found.executable, "-I", "-c", code, str(runtime_dir.parent.parent)],
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, f"{runtime}: {done.stderr}"
        checked.append(runtime)
    if checked == [KERNEL]:
        pytest.skip("no Python but the kernel's on this machine")


# ---------------------------------------------------------------------- requirements.txt
def old_python_wheel(where: Path) -> Path:
    """A wheel that only Python < 3.10 may install (``Requires-Python``), as a compiled one for
    cp39 would be: pip must be the function's Python's, not the kernel's."""
    import base64
    import hashlib

    meta = "Metadata-Version: 2.1\nName: oldonly\nVersion: 1.0\nRequires-Python: <3.10\n"
    files = {"oldonly/__init__.py": "import sys\nBUILT_FOR = sys.version_info[:2]\n",
             "oldonly-1.0.dist-info/METADATA": meta,
             "oldonly-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\n"
                                            "Tag: py3-none-any\n"}
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    files["oldonly-1.0.dist-info/RECORD"] = "\n".join(record + ["oldonly-1.0.dist-info/RECORD,,"]) + "\n"
    wheel = where / "oldonly-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return wheel


def test_requirements_install_with_the_function_python(tmp_path, monkeypatch):
    found = interpreter("python3.9")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code = tmp_path / "code"
    (code / "wheels").mkdir(parents=True)
    old_python_wheel(code / "wheels")
    (code / "app.py").write_text("import oldonly\ndef main(e, c):\n    return list(oldonly.BUILT_FOR)\n")
    (code / "requirements.txt").write_text("--no-index\n./wheels/oldonly-1.0-py3-none-any.whl\n")
    with lw.ContainerManager() as mgr:
        mgr.register("old", path=str(code), handler="app.main", runtime="python3.9")
        inv = mgr.invoke("old", {})
        assert inv.status == "succeeded", inv.logs
        assert inv.result == list(found.version[:2])
        # the kernel's own pip refuses it (the package requires Python < 3.10): the install was 3.9's
        with pytest.raises(lw.InvalidParameterValueException, match="pip install -r .* failed"):
            mgr.register("own", path=str(code), handler="app.main")


def test_snapstart_and_a_fresh_interpreter_on_another_python(tmp_path, isolation):
    """SnapStart forks the snapshot of that Python's runtime; without a fork server (here an exec
    wrapper, and fork_server=False) the runtime starts as a fresh process of that interpreter."""
    a, b = interpreter("python3.12"), interpreter("python3.9")
    src = "import sys\ndef lambda_handler(e, c):\n    return list(sys.version_info[:3])\n"
    wrapper = tmp_path / "wrap.sh"
    wrapper.write_text('#!/bin/sh\nexec "$@"\n')
    wrapper.chmod(0o755)
    with lw.ContainerManager() as mgr:
        mgr.register("snap", src, runtime="python3.12", snap_start=True)
        version = mgr.publish("snap").version
        inv = mgr.invoke(f"snap:{version}", {})
        assert inv.status == "succeeded" and inv.restored, inv.logs
        assert inv.result == list(a.version) and inv.logs[0].startswith(
            f"RESTORE_START Runtime Version: python:3.12.v{a.version[2]}")
        mgr.register("wrapped", src, runtime="python3.9", env={"AWS_LAMBDA_EXEC_WRAPPER": str(wrapper)})
        assert mgr.invoke("wrapped", {}).result == list(b.version)
    with lw.ContainerManager(fork_server=False) as mgr:
        mgr.register("plain", src, runtime="python3.9")
        assert mgr.invoke("plain", {}).result == list(b.version)


def test_update_configuration_changes_the_python(tmp_path):
    """UpdateFunctionConfiguration's ``Runtime``: a new update of $LATEST on the other Python; the
    old environments retire. A code directory whose requirements were installed for another
    Python must be registered again."""
    a, b = interpreter("python3.12"), interpreter("python3.13")
    with lw.ContainerManager() as mgr, mgr.serve() as endpoint:
        client = boto3.client("lambda", endpoint_url=endpoint.url, region_name="us-east-1",
                              aws_access_key_id="local", aws_secret_access_key="local",
                              config=Config(retries={"max_attempts": 0}))
        mgr.register("moving", REPORTER, runtime="python3.12")
        assert mgr.invoke("moving", {}).result["version"] == list(a.version)
        updated = client.update_function_configuration(FunctionName="moving", Runtime="python3.13")
        assert updated["Runtime"] == "python3.13"
        inv = mgr.invoke("moving", {})
        assert inv.cold and inv.result["version"] == list(b.version)
        with pytest.raises(client.exceptions.InvalidParameterValueException, match="python3.8 is no longer"):
            client.update_function_configuration(FunctionName="moving", Runtime="python3.8")
        with pytest.raises(InvalidParameterValueException, match="cannot update runtime to 'bundled'"):
            mgr.update_configuration("moving", runtime="bundled")
        code = tmp_path / "code"
        code.mkdir()
        (code / "app.py").write_text(REPORTER)
        (code / "requirements.txt").write_text("")
        mgr.register("pinned", path=str(code), handler="app.lambda_handler", runtime="python3.12")
        with pytest.raises(InvalidParameterValueException, match="requirements.txt was installed for Python 3.12"):
            mgr.update_configuration("pinned", runtime="python3.13")
