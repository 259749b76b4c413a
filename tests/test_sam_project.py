"""Code packages and SAM templates: a project with two functions and a shared module, its
requirements installed once per hash, its routes served, and clear errors for what cannot load."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import textwrap
import urllib.request
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

import lambda_widget as lw
from lambda_widget.engine import package
from lambda_widget.project.sam import TemplateError, load, read

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Greeting:
    Type: String
    Default: Hello
  Stage:
    Type: String
    Default: dev
Globals:
  Function:
    Runtime: python3.11
    Timeout: 5
    MemorySize: 256
    Environment:
      Variables:
        GREETING: !Ref Greeting
Resources:
  HelloFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: hello.handler
      Architectures: [arm64]
      FunctionUrlConfig:
        AuthType: NONE
        Cors:
          AllowOrigins: [https://app.example]
          AllowMethods: [GET]
          ExposeHeaders: [x-greeting]
          MaxAge: 60
      Events:
        Hi:
          Type: HttpApi
          Properties:
            Path: /hello/{name}
            Method: get
  CountFunction:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: counter
      CodeUri: src/
      Handler: count.handler
      MemorySize: 512
      ReservedConcurrentExecutions: 3
      ProvisionedConcurrencyConfig:
        ProvisionedConcurrentExecutions: 1
      Environment:
        Variables:
          STAGE: !Sub "${Stage}-${AWS::Region}"
      Events:
        Count:
          Type: Api
          Properties:
            Path: /count
            Method: post
        Nightly:
          Type: Schedule
          Properties:
            Schedule: rate(1 day)
  Table:
    Type: AWS::DynamoDB::Table
"""

FILES = {
    "src/shared/__init__.py": "",
    "src/shared/text.py": """\
        import os


        def greet(name):
            word = os.environ["GREETING"]
            return f"{word}, {name}!"
        """,
    "src/hello.py": """\
        from shared.text import greet


        def handler(event, context):
            name = (event.get("pathParameters") or {}).get("name", "world")
            message = greet(name)
            return {"statusCode": 200, "body": message}
        """,
    "src/count.py": """\
        import json
        import os

        from shared.text import greet

        count = 0


        def handler(event, context):
            global count
            count += 1
            body = {"count": count, "stage": os.environ["STAGE"], "greeting": greet("counter")}
            return {"statusCode": 201, "headers": {"content-type": "application/json"},
                    "body": json.dumps(body)}
        """,
    "src/data/words.txt": "alpha\nbeta\n",
}


def write_project(root: Path, template: str = TEMPLATE, files: dict[str, str] = FILES) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    (root / "template.yaml").write_text(template)
    return root / "template.yaml"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("sam-app")
    with lw.ContainerManager(seed=6) as mgr:
        yield mgr, load(mgr, write_project(root))


def test_every_function_is_registered_with_globals_and_its_own_properties(project):
    mgr, proj = project
    assert sorted(mgr.functions) == ["HelloFunction", "counter"]
    hello, counter = mgr.function("HelloFunction"), mgr.function("counter")
    assert (hello.handler, hello.timeout, hello.memory_mb) == ("hello.handler", 5.0, 256)
    assert hello.env == {"GREETING": "Hello"}
    assert (counter.memory_mb, counter.reserved_concurrency, counter.provisioned_concurrency) == (512, 3, 1)
    assert counter.env == {"GREETING": "Hello", "STAGE": "dev-us-east-1"}
    assert [c for c in mgr.containers if c.function_name == "counter" and c.provisioned]
    spec = next(s for s in proj.specs if s.name == "HelloFunction")
    assert spec.architecture == "arm64" and spec.function_url


def test_what_is_not_served_is_listed(project):
    _, proj = project
    text = str(proj)
    assert any(u.startswith("Table (AWS::DynamoDB::Table, line 61)") for u in proj.unsupported)
    assert [(s.function, s.expression) for s in proj.schedules] == [("counter", "rate(1 day)")]
    assert "not served: Table" in text and "route GET /hello/{name} -> HelloFunction (HttpApi" in text
    assert "schedule rate(1 day) -> counter (Schedule Nightly)" in text


def test_two_functions_share_a_module_and_the_tracer_follows_it(project):
    mgr, _ = project
    inv = mgr.invoke("HelloFunction", {"pathParameters": {"name": "Ada"}})
    assert inv.result == {"statusCode": 200, "body": "Hello, Ada!"}
    executed = [s.handler_execution for s in inv.steps]
    assert 'shared/text.py:5  word = os.environ["GREETING"]' in executed
    assert "message = greet(name)" in executed
    inv = mgr.invoke("counter", {})
    assert json.loads(inv.result["body"]) == {"count": 1, "stage": "dev-us-east-1", "greeting": "Hello, counter!"}
    assert not inv.cold  # the provisioned environment was ready


def test_routes_are_served_as_sam_local_start_api(project):
    mgr, proj = project
    api = proj.start_api()
    with urllib.request.urlopen(api.url + "hello/Grace", timeout=30) as r:
        assert r.status == 200 and r.read() == b"Hello, Grace!"
    event = mgr.history[-1].event
    assert event["version"] == "2.0" and event["routeKey"] == "GET /hello/{name}"
    assert event["pathParameters"] == {"name": "Grace"}
    req = urllib.request.Request(api.url + "count", data=b"{}", method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 201 and json.loads(r.read())["stage"] == "dev-us-east-1"
    event = mgr.history[-1].event
    assert event["httpMethod"] == "POST" and event["resource"] == "/count"  # payload 1.0 for Api
    sample = lw.events.apigateway_rest("POST", "/count", body={})  # the sample and the front agree
    assert list(event) == list(sample)
    assert list(event["requestContext"]) == list(sample["requestContext"])
    assert list(event["requestContext"]["identity"]) == list(sample["requestContext"]["identity"])
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(api.url + "count", timeout=30)  # GET: no such route
    assert exc.value.code == 403  # as API Gateway and sam local answer it
    assert json.loads(exc.value.read()) == {"message": "Missing Authentication Token"}


def test_boto3_and_the_function_url_reach_the_project(project):
    mgr, proj = project
    with mgr.serve() as endpoint:
        c = boto3.client("lambda", endpoint_url=endpoint.url, region_name="us-east-1",
                         aws_access_key_id="x", aws_secret_access_key="x",
                         config=Config(retries={"max_attempts": 0}))
        out = c.invoke(FunctionName="HelloFunction", Payload=json.dumps({"pathParameters": {"name": "boto"}}))
        assert json.loads(out["Payload"].read())["body"] == "Hello, boto!"
    with urllib.request.urlopen(proj.function_url("HelloFunction") + "anything", timeout=30) as r:
        assert r.read() == b"Hello, world!"


def test_the_function_url_answers_cors_as_configured(project):
    mgr, proj = project
    url = proj.function_url("HelloFunction")
    before = len(mgr.history)
    preflight = urllib.request.Request(url, method="OPTIONS", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "GET"})
    with urllib.request.urlopen(preflight, timeout=30) as r:
        assert r.status == 200 and r.headers["Access-Control-Allow-Origin"] == "https://app.example"
        assert r.headers["Access-Control-Allow-Methods"] == "GET"
        assert r.headers["Access-Control-Max-Age"] == "60"
    assert len(mgr.history) == before  # answered by the URL, not the function
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Origin": "https://app.example"}),
                                timeout=30) as r:
        assert r.headers["Access-Control-Allow-Origin"] == "https://app.example"
        assert r.headers["Access-Control-Expose-Headers"] == "x-greeting"
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Origin": "https://evil.example"}),
                                timeout=30) as r:
        assert r.headers["Access-Control-Allow-Origin"] is None


def test_parameters_override_defaults(tmp_path):
    with lw.ContainerManager() as mgr:
        load(mgr, write_project(tmp_path), {"Greeting": "Bonjour", "Stage": "prod"})
        assert mgr.function("HelloFunction").env == {"GREETING": "Bonjour"}
        assert mgr.function("counter").env["STAGE"] == "prod-us-east-1"
        project = load(mgr, tmp_path / "template.yaml", {"Nope": "x"})  # ignored, as sam local ignores it
        assert any("parameters: 'Nope' is no parameter" in note for note in project.notes)
        project = load(mgr, tmp_path / "template.yaml", {"AWS::Region": "eu-west-1"})  # pseudo parameters too
        assert mgr.function("counter").env["STAGE"] == "dev-eu-west-1"


def test_resources_can_be_given_values_and_unused_intrinsics_do_not_matter(tmp_path):
    template = TEMPLATE.replace("      Handler: hello.handler\n",
                                "      Handler: hello.handler\n      Environment:\n        Variables:\n"
                                "          TABLE: !Ref Table\n          ARN: !GetAtt Table.Arn\n"
                                "      Policies:\n        - DynamoDBCrudPolicy:\n            TableName: !Ref Table\n")
    path = write_project(tmp_path, template)
    project = read(path, {"Table": "visits", "Table.Arn": "arn:aws:dynamodb:local:table/visits"})
    spec = next(s for s in project.specs if s.name == "HelloFunction")
    assert spec.config["env"]["TABLE"] == "visits"
    assert spec.config["env"]["ARN"] == "arn:aws:dynamodb:local:table/visits"
    assert any("Policies" in note for note in project.notes)  # listed as not used, never resolved
    assert project.routes[0].path == "/hello/{name}"


@pytest.mark.parametrize("value, message", [
    ("!GetAtt Missing.Arn", "line 28: HelloFunction.Properties.Environment.Variables.TABLE: !GetAtt Missing.Arn: no such"),
    ("!Ref Missing", "line 28: HelloFunction.Properties.Environment.Variables.TABLE: !Ref Missing: no such parameter"),
    ('!Sub "${Missing.Arn}/x"', "line 28: HelloFunction.Properties.Environment.Variables.TABLE: !Sub ${Missing.Arn}: no such"),
    ("!Ref NoDefault", "line 28: HelloFunction.Properties.Environment.Variables.TABLE: !Ref NoDefault: the parameter has no Default"),
])
def test_an_unresolvable_intrinsic_names_its_line(tmp_path, value, message):
    template = TEMPLATE.replace("      Handler: hello.handler\n",
                                "      Handler: hello.handler\n      Environment:\n        Variables:\n"
                                f"          TABLE: {value}\n")
    template = template.replace("Parameters:\n", "Parameters:\n  NoDefault:\n    Type: String\n")
    path = write_project(tmp_path, template)
    with pytest.raises(TemplateError) as exc:
        read(path)
    assert str(path) in str(exc.value) and message in str(exc.value)


def test_bad_templates_get_clear_messages(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("Resources: [\n")
    with pytest.raises(TemplateError, match="not valid YAML"):
        read(bad)
    with pytest.raises(TemplateError, match="cannot read"):
        read(tmp_path / "missing.yaml")
    path = write_project(tmp_path, TEMPLATE.replace("CodeUri: src/\n      Handler: hello", "CodeUri: nowhere/\n      Handler: hello"))
    with pytest.raises(TemplateError, match=r"line 22: HelloFunction: CodeUri 'nowhere/' does not exist"):
        read(path)
    path = write_project(tmp_path, TEMPLATE.replace("Type: String\n    Default: dev", "Type: String"))
    with pytest.raises(TemplateError, match=r"line 49: CountFunction.Properties.Environment.Variables.STAGE: .*the "
                                            r"parameter has no Default; pass parameters="):
        read(path)


def test_lambda_widget_serve_template_prints_a_line_per_invocation(tmp_path):
    path = write_project(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "lambda_widget.cli", "serve", str(path), "--port", "0",
                             "--api-port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        while not any(line.startswith("Ctrl-C stops.") for line in lines):
            line = proc.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        url = next(line.split()[2] for line in lines if line.startswith("Invoke API:"))
        assert any(line.startswith("Function URL of HelloFunction: http://127.0.0.1:") for line in lines)
        c = boto3.client("lambda", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x",
                         aws_secret_access_key="x", config=Config(retries={"max_attempts": 0}))
        c.invoke(FunctionName="HelloFunction", Payload=b"{}")
        c.invoke(FunctionName="HelloFunction", Payload=b"{}")
        live = [proc.stdout.readline(), proc.stdout.readline()]
        assert "#1 HelloFunction $LATEST RequestResponse cold (first-invocation) env-" in live[0]
        assert "succeeded" in live[0]
        assert "#2 HelloFunction $LATEST RequestResponse warm" in live[1]
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Stopped." in out


# ---------------------------------------------------------------------- requirements.txt
def make_wheel(where: Path) -> Path:
    files = {"tinydep/__init__.py": "def double(x):\n    y = x * 2\n    return y\n",
             "tinydep-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: tinydep\nVersion: 1.0\n",
             "tinydep-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\n"
                                            "Tag: py3-none-any\n"}
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    record.append("tinydep-1.0.dist-info/RECORD,,")
    files["tinydep-1.0.dist-info/RECORD"] = "\n".join(record) + "\n"
    wheel = where / "tinydep-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return wheel


APP = """\
import tinydep
from vendor import slowmath

WORDS = open('data/words.txt').read().split()


def main(event, context):
    doubled = tinydep.double(event['value'])
    tripled = slowmath.triple(event['value'])
    return {'doubled': doubled, 'words': WORDS, 'tripled': tripled}
"""


def test_requirements_install_once_per_hash_and_the_tracer_skips_them(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code = tmp_path / "code"
    (code / "app").mkdir(parents=True)
    (code / "data").mkdir()
    (code / "wheels").mkdir()
    make_wheel(code / "wheels")
    (code / "app" / "__init__.py").write_text("")
    (code / "app" / "handlers.py").write_text(APP)
    (code / "data" / "words.txt").write_text("alpha beta\n")
    (code / "vendor").mkdir()
    (code / "vendor" / "__init__.py").write_text("")
    (code / "vendor" / "slowmath.py").write_text("def triple(x):\n    t = x * 3\n    return t\n")
    (code / "requirements.txt").write_text("--no-index\n./wheels/tinydep-1.0-py3-none-any.whl\n")
    with lw.ContainerManager() as mgr:
        mgr.register("pkg", path=str(code), handler="app.handlers.main")
        cached = list((tmp_path / "cache" / "lambda-widget" / "deps").iterdir())
        assert len(cached) == 1 and (cached[0] / "tinydep" / "__init__.py").is_file()
        inv = mgr.invoke("pkg", {"value": 21})
        assert inv.status == "succeeded", inv.error
        assert inv.result == {"doubled": 42, "words": ["alpha", "beta"], "tripled": 63}
        executed = [s.handler_execution for s in inv.steps]
        assert "doubled = tinydep.double(event['value'])" in executed
        assert not any("tinydep" in e and "y = x * 2" in e for e in executed)  # not into the dependency
        assert not any(e.startswith(("tinydep/", "vendor/")) for e in executed)
        assert "tripled = slowmath.triple(event['value'])" in executed

        calls = []
        real_run = subprocess.run
        monkeypatch.setattr(package.subprocess, "run", lambda *a, **k: calls.append(a) or real_run(*a, **k))
        mgr.register("pkg", path=str(code), handler="app.handlers.main")  # same hash: no pip
        assert calls == []
        assert mgr.invoke("pkg", {"value": 1}).result["doubled"] == 2
        (code / "requirements.txt").write_text("--no-index\n./wheels/tinydep-1.0-py3-none-any.whl\n# v2\n")
        mgr.register("pkg", path=str(code), handler="app.handlers.main")
        assert len(calls) == 1  # a new hash installs again
        assert mgr.invoke("pkg", {"value": 2}).result["doubled"] == 4
        # the task root is read-only, as on Lambda
        root = Path(mgr.containers[0].task_root)
        assert not (root / "app" / "handlers.py").stat().st_mode & 0o222


def test_a_failing_pip_install_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("def main(e, c):\n    return 1\n")
    (code / "requirements.txt").write_text("--no-index\nno-such-package-here==1.0\n")
    with lw.ContainerManager() as mgr:
        with pytest.raises(lw.InvalidParameterValueException, match="pip install -r .* failed"):
            mgr.register("broken", path=str(code), handler="app.main")
        assert "broken" not in mgr.functions
        with pytest.raises(lw.InvalidParameterValueException, match="does not exist"):
            mgr.register("x", path=str(tmp_path / "nowhere"), handler="app.main")
        with pytest.raises(lw.InvalidParameterValueException, match="module.function"):
            mgr.register("x", path=str(code), handler="main")
        with pytest.raises(lw.InvalidParameterValueException, match="not both"):
            mgr.register("x", "def main(e, c): pass", path=str(code), handler="app.main")


def test_a_missing_handler_module_fails_at_init_as_on_lambda(tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "other.py").write_text("x = 1\n")
    with lw.ContainerManager() as mgr:
        mgr.register("missing", path=str(code), handler="app.main")
        inv = mgr.invoke("missing", {})
        assert inv.status == "failed"
        assert inv.error["errorType"] == "Runtime.ImportModuleError"
