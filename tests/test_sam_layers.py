"""Layers: directories or zips merged in order at /opt, on sys.path as Lambda puts them, read-only in
the sandbox and a per-environment copy in the process fallback; from register(layers=...) and from a
template's AWS::Serverless::LayerVersion / AWS::Lambda::LayerVersion."""

from __future__ import annotations

import os
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

import lambda_widget as lw
from lambda_widget.engine.isolation import namespaces_unavailable
from lambda_widget.project.sam import TemplateError, load, read

SITE = f"python/lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"

HANDLER = """\
import os
import sys

import greeting           # only in the first layer (/opt/python)
import deep               # only in the second (its site-packages directory)


def handler(event, context):
    opt = [p for p in sys.path if p.endswith(("/python", "/site-packages")) and "opt" in p]
    wrote = None
    try:
        with open(greeting.__file__, "a") as f:
            f.write("# changed\\n")
        wrote = "yes"
    except OSError as exc:
        wrote = type(exc).__name__
    return {"greeting": greeting.TEXT, "deep": deep.VALUE, "shared": open(os.path.join(os.path.dirname(
        greeting.__file__), "..", "shared.txt")).read().strip(), "opt": opt, "file": greeting.__file__,
        "wrote": wrote, "extension": os.access(os.path.join(os.path.dirname(greeting.__file__), "..",
                                                            "extensions", "agent"), os.X_OK)}
"""


def layers(tmp_path: Path) -> list[Path]:
    first = tmp_path / "first"
    (first / "python").mkdir(parents=True)
    (first / "python" / "greeting.py").write_text("TEXT = 'hello from a layer'\n")
    (first / "shared.txt").write_text("first\n")
    (first / "extensions").mkdir()
    (first / "extensions" / "agent").write_text("#!/bin/sh\necho agent\n")
    (first / "extensions" / "agent").chmod(0o755)
    second = tmp_path / "second.zip"
    with zipfile.ZipFile(second, "w") as z:
        z.writestr(f"{SITE}/deep.py", "VALUE = 42\n")
        z.writestr("shared.txt", "second\n")  # a later layer's file wins
    return [first, second]


def modes():
    out = ["process"]
    if namespaces_unavailable() is None:
        out.insert(0, "namespaces")
    return out


@pytest.mark.parametrize("isolation", modes())
def test_a_handler_imports_a_module_that_lives_only_in_its_layer(tmp_path, isolation):
    with lw.ContainerManager(isolation=isolation) as mgr:
        assert mgr.isolation == isolation
        fn = mgr.register("layered", HANDLER, handler="app.handler", layers=layers(tmp_path))
        assert len(fn.layers) == 2
        inv = mgr.invoke("layered", {})
        assert inv.status == "succeeded", inv.error
        result = inv.result
        assert (result["greeting"], result["deep"], result["shared"]) == ("hello from a layer", 42, "second")
        assert result["extension"] is True  # executables in /opt/extensions keep their mode
        if isolation == "namespaces":
            assert result["opt"][:2] == [f"/opt/{SITE}", "/opt/python"]
            assert result["file"] == "/opt/python/greeting.py" and result["wrote"] in ("OSError", "PermissionError")
        else:
            env = mgr.containers[0]
            assert result["opt"][:2] == [f"{env.dir}/opt/{SITE}", f"{env.dir}/opt/python"]
            # the environment's own copy: what it changes, neither the version's layers nor a new
            # environment sees
            assert result["wrote"] == "yes" and result["file"].startswith(str(env.dir))
            master = mgr._root / "functions" / "layered" / "v1.opt" / "python" / "greeting.py"
            assert "# changed" not in master.read_text()
            mgr.register("layered", HANDLER, handler="app.handler", layers=fn.layers)  # v2: a new environment
            again = mgr.invoke("layered", {}).result
            assert again["file"] != result["file"] and Path(again["file"]).read_text().count("# changed") == 1


def test_layers_are_checked_as_lambda_checks_them(tmp_path):
    with lw.ContainerManager() as mgr:
        with pytest.raises(lw.InvalidParameterValueException, match="Cannot reference more than 5 layers."):
            mgr.register("f", "def h(e, c): pass", handler="h", layers=[tmp_path] * 6)
        with pytest.raises(lw.InvalidParameterValueException, match="neither a directory nor a zip file"):
            mgr.register("f", "def h(e, c): pass", handler="h", layers=[tmp_path / "nowhere"])
        (tmp_path / "not.zip").write_text("text")
        with pytest.raises(lw.InvalidParameterValueException, match="neither a directory nor a zip file"):
            mgr.register("f", "def h(e, c): pass", handler="h", layers=[tmp_path / "not.zip"])
        assert mgr.functions == {}


TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
Resources:
  Shared:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layers/shared/
  Built:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layers/built/
    Metadata:
      BuildMethod: python3.11
  Zipped:
    Type: AWS::Lambda::LayerVersion
    Properties:
      Content: layers/zipped.zip
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Layers:
        - !Ref Shared
        - !Ref Built
        - !Ref Zipped
        - arn:aws:lambda:us-east-1:580247275435:layer:LambdaInsightsExtension:38
"""


def template_project(tmp_path: Path, template: str = TEMPLATE) -> Path:
    (tmp_path / "layers" / "shared" / "python").mkdir(parents=True)
    (tmp_path / "layers" / "shared" / "python" / "greeting.py").write_text("TEXT = 'shared'\n")
    (tmp_path / "layers" / "built").mkdir()
    (tmp_path / "layers" / "built" / "helpers.py").write_text("def twice(x):\n    return 2 * x\n")
    with zipfile.ZipFile(tmp_path / "layers" / "zipped.zip", "w") as z:
        z.writestr("python/zipped_mod.py", "NAME = 'zipped'\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(textwrap.dedent("""\
        import greeting
        import helpers
        import zipped_mod


        def handler(event, context):
            return [greeting.TEXT, helpers.twice(21), zipped_mod.NAME]
        """))
    path = tmp_path / "template.yaml"
    path.write_text(template)
    return path


@pytest.mark.parametrize("isolation", modes())
def test_layers_of_a_template(tmp_path, isolation, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = template_project(tmp_path)
    with lw.ContainerManager(isolation=isolation) as mgr:
        project = load(mgr, path)
        assert [layer.logical_id for layer in project.layers] == ["Shared", "Built", "Zipped"]
        assert any("line 30: Fn: layer arn:aws:lambda:us-east-1:580247275435:layer:LambdaInsightsExtension:38 is "
                   "published in AWS" in w for w in project.warnings)
        inv = mgr.invoke("Fn", {})
        assert inv.status == "succeeded", inv.error
        assert inv.result == ["shared", 42, "zipped"]  # BuildMethod python3.11: the content is under python/


def test_a_layer_outside_the_project_or_missing_is_an_error(tmp_path):
    path = template_project(tmp_path, TEMPLATE.replace("ContentUri: layers/shared/", "ContentUri: ../elsewhere/")
                            .replace("Content: layers/zipped.zip", "Content: layers/missing.zip"))
    (tmp_path.parent / "elsewhere").mkdir(exist_ok=True)
    with pytest.raises(TemplateError) as exc:
        read(path)
    text = str(exc.value)
    assert "line 10: Shared: ContentUri '../elsewhere/' is outside the template's directory" in text
    assert "line 20: Zipped: Content 'layers/missing.zip' does not exist" in text


def test_the_environment_sees_opt_bin_and_lib(tmp_path):
    source = "import os\n\ndef handler(e, c):\n    return os.environ['PATH'], os.environ.get('LD_LIBRARY_PATH', '')\n"
    with lw.ContainerManager() as mgr:
        mgr.register("f", source, handler="app.handler", layers=layers(tmp_path)[:1])
        path, libs = mgr.invoke("f", {}).result
        opt = "/opt" if mgr.isolation == "namespaces" else os.path.join(str(mgr.containers[0].dir), "opt")
        assert path.endswith(f"{opt}/bin") and libs.endswith(f"{opt}/lib")
