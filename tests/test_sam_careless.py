"""Careless templates (issue 19): every one gets a clear error naming its line, or a warning when
the property has no local effect, and a template that fails leaves nothing registered."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import lambda_widget as lw
from lambda_widget.project.sam import TemplateError, load, read

HEAD = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
"""

GOOD = """\
  First:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      CodeUri: src/
      Handler: app.handler
"""


def project(tmp_path: Path, resources: str, head: str = HEAD) -> Path:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return {'ok': True}\n")
    path = tmp_path / "template.yaml"
    path.write_text(head + resources)
    return path


def one(name: str, props: str) -> str:
    body = textwrap.indent(textwrap.dedent(props), " " * 6)
    return f"  {name}:\n    Type: AWS::Serverless::Function\n    Properties:\n{body}"


BASE = "Runtime: python3.11\nCodeUri: src/\nHandler: app.handler\n"


@pytest.mark.parametrize("props, line, message", [
    (BASE + "Environment: abc\n", 16, "Environment must be a mapping with Variables, not 'abc'"),
    (BASE + "Events: [a]\n", 16, "Events must be a mapping of event names to events"),
    (BASE + "Events:\n  Hello: abc\n", 17, "event Hello: an event is a mapping with a Type and Properties"),
    (BASE + "ProvisionedConcurrencyConfig: abc\n", 16, "ProvisionedConcurrencyConfig must be a mapping"),
    (BASE + "Timeout: soon\n", 16, "Timeout must be a number, not 'soon'"),
    (BASE + "Layers: abc\n", 16, "Layers must be a list"),
    (BASE + "Events:\n  Get:\n    Type: Api\n    Properties: {Path: '/{id}/{id}', Method: get}\n", 17,
     "Path '/{id}/{id}' cannot work: path parameter {id} appears twice"),
    (BASE + "Events:\n  Get:\n    Type: Api\n    Properties: {Path: '/a/{p+}/b', Method: get}\n", 17,
     "greedy parameter {p+} must be the last segment"),
    (BASE + "Events:\n  Get:\n    Type: Api\n    Properties: {Path: /a, Method: fetch}\n", 17,
     "Method 'FETCH' is not an HTTP method"),
    (BASE + "Events:\n  Tick:\n    Type: Schedule\n    Properties: {Schedule: rate(5 minute)}\n", 17,
     "rate(1 minute) and rate(N minutes)"),
    ("Runtime: python3.11\nCodeUri: src/\n", 10, "Handler must be module.function, not None"),
])
def test_a_malformed_property_is_an_error_naming_its_line(tmp_path, props, line, message):
    path = project(tmp_path, GOOD + one("Second", props))
    with pytest.raises(TemplateError) as exc:
        read(path)
    assert f"{path}, line {line}: " in str(exc.value) and message in str(exc.value), str(exc.value)


def test_properties_that_are_not_a_mapping(tmp_path):
    path = project(tmp_path, GOOD + "  Second:\n    Type: AWS::Serverless::Function\n    Properties: [a]\n")
    with pytest.raises(TemplateError, match=r"line 12: Second: Properties must be a mapping, not \['a'\]"):
        read(path)


def test_every_error_is_reported_at_once(tmp_path):
    path = project(tmp_path, one("A", BASE + "Environment: abc\n") + one("B", BASE + "Events: [a]\n"))
    with pytest.raises(TemplateError) as exc:
        read(path)
    lines = str(exc.value).splitlines()
    assert len(lines) == 2 and "line 10:" in lines[0] and "line 17:" in lines[1]
    assert "(sam local: Resource with id [A] is invalid. Type of property 'Environment' is invalid.)" in lines[0]


def test_a_binary_file_is_refused_with_its_line(tmp_path):
    path = tmp_path / "template.yaml"
    path.write_bytes(b"Resources:\n  A: \xff\xfe\n")
    with pytest.raises(TemplateError, match=r"line 2: not a UTF-8 text file \(byte 0xff"):
        read(path)
    path.write_bytes(b"Resources:\x00\x01")
    with pytest.raises(TemplateError, match="not a text file"):
        read(path)


def test_yaml_errors_name_their_line(tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text("Resources:\n  A:\n    Type: [\n")
    with pytest.raises(TemplateError, match=r"line 4: not valid YAML"):
        read(path)
    path.write_text("Description: nothing\n")
    with pytest.raises(TemplateError, match="'Resources' section is required"):
        read(path)


def test_a_default_that_is_a_function_is_an_error(tmp_path):
    head = HEAD.replace("Resources:\n", "Parameters:\n  A:\n    Type: String\n    Default: x\n"
                                         "  B:\n    Type: String\n    Default: !Ref A\nResources:\n")
    path = project(tmp_path, GOOD, head)
    with pytest.raises(TemplateError, match=r"line 9: parameter B: Default must be a plain value"):
        read(path)


def test_two_functions_with_one_name_are_an_error_unless_named_by_logical_id(tmp_path):
    props = BASE + "FunctionName: shared\n"
    path = project(tmp_path, one("A", props) + one("B", props))
    with pytest.raises(TemplateError, match=r"line 11: B: FunctionName 'shared' is also A's \(line 4\)"):
        read(path)
    names = [s.name for s in read(path, logical_ids=True).specs]
    assert names == ["A", "B"]


def test_code_outside_the_project_needs_an_opt_in(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "app.py").write_text("def handler(e, c):\n    return 1\n")
    inside = tmp_path / "proj"
    inside.mkdir()
    for code_uri in ("../elsewhere", str(outside), "../../../../../../../../etc"):
        path = project(inside, one("A", f"Runtime: python3.11\nCodeUri: {code_uri}\nHandler: app.handler\n"))
        with pytest.raises(TemplateError, match=r"line 8: A: CodeUri .* is outside the template's directory .*"
                                                r"allow_outside_code=True"):
            read(path)
    path = project(inside, one("A", "Runtime: python3.11\nCodeUri: ../elsewhere\nHandler: app.handler\n"))
    assert read(path, allow_outside_code=True).specs[0].code_dir == outside


def test_properties_with_no_local_effect_only_warn(tmp_path):
    path = project(tmp_path, one("A", BASE + "FunctionName: !GetAtt Role.Name\nTracing: !ImportValue shared\n"
                                             "Policies:\n  - !GetAtt Role.Nope\n"))
    path.write_text(path.read_text() + "  Role:\n    Type: AWS::IAM::Role\n")
    proj = read(path)
    assert [s.name for s in proj.specs] == ["A"]  # the FunctionName could not be resolved: the logical ID
    text = "\n".join(proj.warnings)
    assert "line 10: A.Properties.FunctionName: !GetAtt Role.Name cannot be resolved locally" in text
    assert "line 11: A.Properties.Tracing: Fn::ImportValue cannot be resolved locally (no local effect)" in text
    assert "line 13: A.Properties.Policies[0]: !GetAtt Role.Nope cannot be resolved locally" in text


def test_an_unknown_name_is_an_error_wherever_it_is(tmp_path):
    # CloudFormation refuses a template that refers to a name it does not define.
    path = project(tmp_path, one("A", BASE + "Tracing: !Ref Nowhere\n"))
    with pytest.raises(TemplateError, match=r"line 10: A.Properties.Tracing: !Ref Nowhere: no such parameter"):
        read(path)


def test_a_resource_stands_for_its_logical_id_as_in_sam_local_with_a_warning(tmp_path):
    path = project(tmp_path, one("A", BASE + "Environment:\n  Variables:\n    TABLE: !Ref Table\n"
                                             "    ARN: !GetAtt Table.Arn\n    STREAM: !GetAtt Table.StreamArn\n")
                   + "  Table:\n    Type: AWS::DynamoDB::Table\n")
    proj = read(path)
    env = proj.specs[0].config["env"]
    assert env == {"TABLE": "Table", "ARN": "arn:aws:lambda:us-east-1:123456789012:function:Table", "STREAM": ""}
    text = "\n".join(proj.warnings)
    assert "line 12: A.Properties.Environment.Variables.TABLE: !Ref Table (AWS::DynamoDB::Table) is 'Table'" in text
    assert "line 14: A.Properties.Environment.Variables.STREAM: !GetAtt Table.StreamArn cannot be resolved" in text
    assert "the variable is empty, as in sam local" in text
    proj = read(path, {"Table": "visits", "Table.StreamArn": "arn:stream"})
    assert proj.specs[0].config["env"]["TABLE"] == "visits" and proj.specs[0].config["env"]["STREAM"] == "arn:stream"


def test_a_failure_anywhere_registers_nothing(tmp_path):
    path = project(tmp_path, GOOD + one("Second", BASE + "Timeout: 1000\n"))
    with lw.ContainerManager() as mgr:
        with pytest.raises(TemplateError, match=r"line 10: Second: Invalid timeout 1000"):
            load(mgr, path)
        assert mgr.functions == {}
        (tmp_path / "src" / "requirements.txt").write_text("--no-index\nno-such-package-anywhere==1.0\n")
        path = project(tmp_path, GOOD + one("Second", BASE))
        with pytest.raises(TemplateError, match=r"line 4: First: pip install -r .* failed"):
            load(mgr, path)
        assert mgr.functions == {}


def test_serve_prints_one_line_per_error_and_no_traceback(tmp_path):
    path = project(tmp_path, GOOD + one("Second", BASE + "Environment: abc\n"))
    done = subprocess.run([sys.executable, "-m", "lambda_widget.cli", "serve", str(path), "--port", "0",
                           "--api-port", "0"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"lambda-widget: {path}, line 16: Second: Environment must be a mapping")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    done = subprocess.run([sys.executable, "-m", "lambda_widget.cli", "serve", str(binary), "--port", "0"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "not a UTF-8 text file" in done.stderr


def _plain(node):
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _paths(node, prefix=()):
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        yield prefix + (key,)
        yield from _paths(value, prefix + (key,))


ODD = ["abc", ["a"], 1, None, {}, {"Ref": "Nope"}, {"Fn::GetAtt": "X"}, {"Fn::Sub": 5}, [{"a": 1}], True, -3,
       "/{id}/{id}", {"Fn::If": ["C", 1]}, {"Ref": {"Ref": "A"}}]


def test_any_careless_change_to_a_real_template_is_a_clear_message(tmp_path):
    """The corpus's templates, each with one value replaced by something odd (seeded): reading one
    gives a Project or a TemplateError naming lines, never another exception."""
    import random
    import shutil

    import yaml

    from lambda_widget.project.template import load_yaml

    rng = random.Random(int(os.environ.get("SAM_FUZZ_SEED", "19")))
    data_dir = Path(__file__).parent / "data" / "sam"
    templates = sorted(data_dir.glob("*/*template*.y*ml"))
    for n in range(150):
        source = rng.choice(templates)
        data = _plain(load_yaml(source))
        path = rng.choice(list(_paths(data)))
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = rng.choice(ODD)
        work = tmp_path / f"t{n}"
        shutil.copytree(source.parent, work)
        (work / source.name).write_text(yaml.safe_dump(data))
        try:
            read(work / source.name, logical_ids=True)
        except TemplateError as exc:
            assert all(", line " in line for line in str(exc).splitlines()), (path, str(exc))
            assert "could not be read (" not in str(exc), (path, str(exc))
        shutil.rmtree(work)
