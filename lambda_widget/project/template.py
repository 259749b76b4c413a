"""A CloudFormation/SAM template as ``sam local`` reads it: the YAML, and its intrinsic functions.

- ``load_yaml``: the YAML (or JSON) with CloudFormation's short tags (``!Ref``, ``!Sub``...) turned
  into their long form, and timestamps kept as text, as aws-sam-cli's ``yamlhelper`` does; every
  mapping and list also remembers the line of each of its entries, so a message can name it.
- ``Resolver``: ``Ref``, ``Fn::Sub``, ``Fn::Join``, ``Fn::Split``, ``Fn::Select``, ``Fn::FindInMap``,
  ``Fn::GetAtt``, ``Fn::Base64``, ``Fn::If`` with ``Conditions`` (``Fn::Equals/And/Or/Not``), resolved
  with the values ``sam local`` gives them: its pseudo-parameter defaults, parameter defaults, then
  ``parameters=`` overrides (as ``--parameter-overrides``). A ``Ref`` to a resource is its logical
  ID and ``Fn::GetAtt X.Arn`` a function ARN, as in aws-sam-cli's ``IntrinsicsSymbolTable``. What
  cannot be resolved is left as it is, as ``sam local`` leaves it, and recorded with its line: the
  caller decides whether that matters (an error) or not (a warning).

aws-sam-cli itself is not a dependency (see the README: it pins boto3 and click exactly and brings
300 MB); this module reproduces the behaviour of its ``samcli/lib/intrinsic_resolver`` and is tested
against the same templates.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

# aws-sam-cli's IntrinsicsSymbolTable.DEFAULT_PSEUDO_PARAM_VALUES
PSEUDO_DEFAULTS: dict[str, str] = {
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::StackName": "local",
    "AWS::StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/local/51af3dc0-da77-11e4-872e-1234567db123",
    "AWS::URLSuffix": "localhost",
}
NO_VALUE = "AWS::NoValue"
LAYER_TYPES = ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion")
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
API_TYPES = ("AWS::Serverless::Api", "AWS::Serverless::HttpApi")


class TemplateError(ValueError):
    """The template cannot be loaded as it is; the message names the file and line."""


# ---------------------------------------------------------------------- YAML with lines
class Map(dict):
    """A mapping that knows its own line and the line of each key."""

    line: int = 0
    lines: dict = {}  # noqa: RUF012 - replaced per instance by the loader
    sources: list = []  # noqa: RUF012 - mappings whose lines stand in for this one's (Globals)

    def line_of(self, key: Any, default: int | None = None) -> int:
        return self.lines.get(key, default if default is not None else self.line)


class Seq(list):
    """A list that knows its own line and the line of each item."""

    line: int = 0
    lines: list = []  # noqa: RUF012 - replaced per instance by the loader

    def line_of(self, index: int, default: int | None = None) -> int:
        try:
            return self.lines[index]
        except (IndexError, AttributeError):
            return default if default is not None else self.line


def line_of(node: Any, default: int = 0) -> int:
    return getattr(node, "line", 0) or default


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with CloudFormation's tags; its own class, so the global one is untouched."""


def _mapping(loader: _Loader, node: MappingNode) -> Map:
    loader.flatten_mapping(node)
    out = Map()
    out.line = node.start_mark.line + 1
    out.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "found a mapping or list as a key", key_node.start_mark) from None
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = key_node.start_mark.line + 1
    return out


def _sequence(loader: _Loader, node: SequenceNode) -> Seq:
    out = Seq(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.lines = [child.start_mark.line + 1 for child in node.value]
    return out


def _intrinsic(loader: _Loader, suffix: str, node) -> Map:
    """``!Ref X`` -> ``{"Ref": "X"}``, ``!GetAtt A.B`` -> ``{"Fn::GetAtt": ["A", "B"]}``, ``!Sub`` -> ``Fn::Sub``..."""
    tag = node.tag[1:]
    key = tag if tag in ("Ref", "Condition") else "Fn::" + tag
    if isinstance(node, ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, SequenceNode):
        value = _sequence(loader, node)
    else:
        value = _mapping(loader, node)
    out = Map({key: value})
    out.line = node.start_mark.line + 1
    out.lines = {key: out.line}
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)
# as sam local: a timestamp stays the text it was written as
_Loader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.yaml_constructors["tag:yaml.org,2002:str"])
_Loader.add_multi_constructor("!", _intrinsic)


def load_yaml(path: Path) -> Map:
    """The template at ``path``, as nested Map/Seq (``TemplateError`` names the line of a problem)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TemplateError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise TemplateError(f"{path}, line {line}: not a UTF-8 text file (byte 0x{raw[exc.start]:02x} at "
                            f"offset {exc.start}); a template is YAML or JSON text") from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise TemplateError(f"{path}, line {line}: not a text file (it holds NUL bytes); a template is "
                            f"YAML or JSON text")
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise TemplateError(f"{path}{where}: not valid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise TemplateError(f"{path}: a template is a mapping with a Resources section, not "
                            f"{type(data).__name__ if data is not None else 'an empty file'}")
    if not isinstance(data.get("Resources"), dict) or not data["Resources"]:
        where = data.line_of("Resources", 1) if isinstance(data, Map) else 1
        raise TemplateError(f"{path}, line {where}: 'Resources' section is required (a mapping of "
                            f"logical IDs to resources)")
    return data


# ---------------------------------------------------------------------- intrinsic functions
class Unresolved(Exception):
    """An intrinsic function that cannot be resolved locally."""

    def __init__(self, message: str, line: int = 0, kind: str = "unresolved") -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.kind = kind  # unresolved | parameter (no value given) | unknown (no such name: CloudFormation refuses it)


@dataclass
class Problem:
    """Something the resolver left as it was, or resolved to a stand-in (``kind``: unresolved | standin)."""

    line: int
    where: str  # the property path: "HelloFunction.Properties.Environment.Variables.TABLE"
    message: str
    kind: str = "unresolved"


_SUB = re.compile(r"\$\{([^}]*)\}")


class Resolver:
    """Resolves intrinsic functions as aws-sam-cli's ``IntrinsicResolver`` with its default symbol table.

    ``values``: names (parameters, pseudo parameters, logical IDs) to values; a name with a dot
    (``"Table.Arn"``) gives one attribute of a resource. ``problems`` collects what could not be
    resolved, with its line, and the resources whose logical ID stood in for their value.
    """

    def __init__(self, template: dict, values: dict[str, Any]) -> None:
        self.template = template
        self.resources: dict = template.get("Resources") or {}
        self.parameters: dict = template.get("Parameters") or {}
        self.mappings: dict = template.get("Mappings") or {}
        self.conditions: dict = template.get("Conditions") or {}
        self.values = dict(values)
        self.problems: list[Problem] = []
        self._condition_cache: dict[str, bool] = {}
        self._evaluating: set[str] = set()

    # -- the walk -----------------------------------------------------------
    def resolve(self, node: Any, where: str, line: int = 0) -> Any:
        """``node`` resolved; a part that cannot be is left as it was and recorded in ``problems``."""
        line = line_of(node, line)
        if isinstance(node, dict) and len(node) == 1:
            key = next(iter(node))
            if key == "Ref" or (isinstance(key, str) and key.startswith("Fn::")):
                known = len(self.problems)
                try:
                    return self.intrinsic(node, line)
                except Unresolved as exc:
                    self.problems.append(Problem(exc.line or line, where, exc.message, exc.kind))
                    return node
                finally:
                    for problem in self.problems[known:]:
                        problem.where = problem.where or where
        if isinstance(node, dict):
            out = Map()
            out.line = line
            out.lines = dict(getattr(node, "lines", {}))
            for key, value in node.items():
                value = self.resolve(value, f"{where}.{key}", node.line_of(key) if isinstance(node, Map) else line)
                if value is not _NOVALUE:
                    out[key] = value
            return out
        if isinstance(node, list):
            out_list = Seq()
            out_list.line = line
            out_list.lines = []
            for i, item in enumerate(node):
                item_line = node.line_of(i) if isinstance(node, Seq) else line
                value = self.resolve(item, f"{where}[{i}]", item_line)
                if value is not _NOVALUE:
                    out_list.append(value)
                    out_list.lines.append(item_line)
            return out_list
        return node

    def value(self, node: Any, line: int) -> Any:
        """Fully resolve an argument of an intrinsic function (raises Unresolved)."""
        line = line_of(node, line)
        if isinstance(node, dict) and len(node) == 1:
            key = next(iter(node))
            if key == "Ref" or (isinstance(key, str) and key.startswith("Fn::")):
                return self.intrinsic(node, line)
        if isinstance(node, dict):
            return {k: v for k, v in ((k, self.value(v, line)) for k, v in node.items()) if v is not _NOVALUE}
        if isinstance(node, list):
            return [v for v in (self.value(x, line) for x in node) if v is not _NOVALUE]
        return node

    # -- the functions ------------------------------------------------------
    def intrinsic(self, node: dict, line: int) -> Any:
        key, arg = next(iter(node.items()))
        handler = _HANDLERS.get(key)
        if handler is None:
            raise Unresolved(f"{key} cannot be resolved locally", line)
        return handler(self, arg, line)

    def _ref(self, arg: Any, line: int) -> Any:
        name = self.value(arg, line)
        if not isinstance(name, str):
            raise Unresolved(f"Ref takes a name, not {_short(name)}", line)
        if name == NO_VALUE:
            return _NOVALUE
        return self.symbol(name, "Ref", line)

    def _getatt(self, arg: Any, line: int) -> Any:
        if isinstance(arg, str):
            arg = arg.split(".", 1)
        args = self.value(arg, line)
        if not (isinstance(args, list) and len(args) == 2 and all(isinstance(a, str) for a in args)):
            raise Unresolved(f"Fn::GetAtt takes [logicalId, attribute], not {_short(args)}", line)
        return self.symbol(args[0], args[1], line)

    def symbol(self, name: str, attribute: str, line: int) -> Any:
        """A name's value, in aws-sam-cli's order: given values, pseudo parameters, parameter
        defaults, then the resource: its logical ID for ``Ref``, a function ARN for ``Arn``."""
        if attribute == "Ref":
            if name in self.values:
                value = self.values[name]
                spec = self.parameters.get(name)
                if isinstance(spec, dict) and spec.get("Type") == "CommaDelimitedList" and isinstance(value, str):
                    return [item.strip() for item in value.split(",")]
                return value
        elif f"{name}.{attribute}" in self.values:
            return self.values[f"{name}.{attribute}"]
        if name in self.parameters and attribute == "Ref":
            raise Unresolved(f"!Ref {name}: the parameter has no Default; pass parameters={{'{name}': ...}}",
                             line, "parameter")
        resource = self.resources.get(name)
        if isinstance(resource, dict):
            rtype = resource.get("Type")
            if attribute == "Ref":
                if rtype in LAYER_TYPES:
                    return {"Ref": name}  # a layer of this template: the loader knows it
                if rtype in API_TYPES:
                    return name  # an API of this template: served locally under its logical ID
                if rtype in FUNCTION_TYPES:  # its name, as CloudFormation gives it (it exists locally)
                    props = resource.get("Properties")
                    fname = props.get("FunctionName") if isinstance(props, dict) else None
                    return fname if isinstance(fname, str) else name
                self.problems.append(Problem(line, "", f"!Ref {name} ({rtype}) is {name!r} locally, as in "
                                             f"sam local; parameters={{'{name}': ...}} gives it a value",
                                             "standin"))
                return name
            if rtype == "AWS::SQS::Queue" and attribute in ("Arn", "QueueName"):
                # a queue exists locally once the queues work creates it: its own ARN, not sam local's
                props = resource.get("Properties")
                qname = props.get("QueueName") if isinstance(props, dict) else None
                qname = qname if isinstance(qname, str) else name
                if attribute == "QueueName":
                    return qname
                return (f"arn:{self.symbol('AWS::Partition', 'Ref', line)}:sqs:{self.symbol('AWS::Region', 'Ref', line)}"
                        f":{self.symbol('AWS::AccountId', 'Ref', line)}:{qname}")
            if attribute == "Arn":
                function = name
                props = resource.get("Properties")
                if rtype in FUNCTION_TYPES and isinstance(props, dict) and isinstance(props.get("FunctionName"), str):
                    function = props["FunctionName"]
                arn = (f"arn:{self.symbol('AWS::Partition', 'Ref', line)}:lambda:"
                       f"{self.symbol('AWS::Region', 'Ref', line)}:{self.symbol('AWS::AccountId', 'Ref', line)}"
                       f":function:{function}")
                if rtype not in FUNCTION_TYPES:
                    self.problems.append(Problem(line, "", f"!GetAtt {name}.Arn ({rtype}) is {arn!r} locally, as "
                                                 f"in sam local; parameters={{'{name}.Arn': ...}} gives it a "
                                                 f"value", "standin"))
                return arn
            raise Unresolved(f"!GetAtt {name}.{attribute} cannot be resolved locally; pass "
                             f"parameters={{'{name}.{attribute}': ...}}", line)
        what = "!Ref" if attribute == "Ref" else "!GetAtt"
        target = name if attribute == "Ref" else f"{name}.{attribute}"
        raise Unresolved(f"{what} {target}: no such parameter or resource", line, "unknown")

    def _sub(self, arg: Any, line: int) -> str:
        if isinstance(arg, str):
            text, variables = arg, {}
        elif isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], dict):
            text = self.value(arg[0], line)
            variables = {k: self.value(v, line) for k, v in arg[1].items()}
        else:
            raise Unresolved("Fn::Sub takes a string or [string, {variables}]", line)
        if not isinstance(text, str):
            raise Unresolved(f"Fn::Sub needs a string, not {_short(text)}", line)

        def one(match: re.Match) -> str:
            name = match[1]
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return _text(variables[name])
            if "." in name:
                logical, attribute = name.rsplit(".", 1)
                if name in self.values:
                    return _text(self.values[name])
                if logical not in self.resources:
                    raise Unresolved(f"!Sub ${{{name}}}: no such resource", line, "unknown")
                return _text(self.symbol(logical, attribute, line))
            return _text(self.symbol(name, "Ref", line))

        return _SUB.sub(one, text)

    def _join(self, arg: Any, line: int) -> str:
        args = self.value(arg, line)
        if not (isinstance(args, list) and len(args) == 2 and isinstance(args[0], str) and isinstance(args[1], list)):
            raise Unresolved("Fn::Join takes [delimiter, [values]]", line)
        return args[0].join(_text(v) for v in args[1])

    def _split(self, arg: Any, line: int) -> list[str]:
        args = self.value(arg, line)
        if not (isinstance(args, list) and len(args) == 2 and isinstance(args[0], str) and isinstance(args[1], str)):
            raise Unresolved("Fn::Split takes [delimiter, string]", line)
        return args[1].split(args[0])

    def _select(self, arg: Any, line: int) -> Any:
        args = self.value(arg, line)
        if not (isinstance(args, list) and len(args) == 2 and isinstance(args[1], list)):
            raise Unresolved("Fn::Select takes [index, [values]]", line)
        try:
            return args[1][int(args[0])]
        except (IndexError, ValueError, TypeError):
            raise Unresolved(f"Fn::Select index {args[0]!r} is out of range of {len(args[1])} values", line) from None

    def _find_in_map(self, arg: Any, line: int) -> Any:
        args = self.value(arg, line)
        if not (isinstance(args, list) and len(args) in (3, 4)):
            raise Unresolved("Fn::FindInMap takes [map, top-level key, second-level key]", line)
        try:
            return self.mappings[args[0]][args[1]][args[2]]
        except (KeyError, TypeError):
            if len(args) == 4 and isinstance(args[3], dict) and "DefaultValue" in args[3]:
                return args[3]["DefaultValue"]
            raise Unresolved(f"Fn::FindInMap: no {args[0]}.{args[1]}.{args[2]} in Mappings", line) from None

    def _base64(self, arg: Any, line: int) -> str:
        text = self.value(arg, line)
        if not isinstance(text, str):
            raise Unresolved("Fn::Base64 takes a string", line)
        return base64.b64encode(text.encode()).decode()

    def _if(self, arg: Any, line: int) -> Any:
        if not (isinstance(arg, list) and len(arg) == 3 and isinstance(arg[0], str)):
            raise Unresolved("Fn::If takes [condition, value if true, value if false]", line)
        chosen = arg[1] if self.condition(arg[0], line) else arg[2]
        return self.value(chosen, line)

    def condition(self, name: str, line: int) -> bool:
        """The value of condition ``name`` of the template's ``Conditions``."""
        if name in self._condition_cache:
            return self._condition_cache[name]
        if name not in self.conditions:
            raise Unresolved(f"no condition {name!r} in Conditions", line)
        if name in self._evaluating:
            raise Unresolved(f"condition {name!r} depends on itself", line)
        self._evaluating.add(name)
        try:
            cond = self.conditions[name]
            value = self._truth(cond, line_of(cond, line))
        finally:
            self._evaluating.discard(name)
        self._condition_cache[name] = value
        return value

    def _truth(self, node: Any, line: int) -> bool:
        if isinstance(node, dict) and len(node) == 1 and "Condition" in node:
            return self.condition(node["Condition"], line)
        value = self.value(node, line)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise Unresolved(f"a condition must be true or false, not {_short(value)}", line)

    def _equals(self, arg: Any, line: int) -> bool:
        args = self.value(arg, line)
        if not (isinstance(args, list) and len(args) == 2):
            raise Unresolved("Fn::Equals takes [value, value]", line)
        return _text(args[0]) == _text(args[1])

    def _not(self, arg: Any, line: int) -> bool:
        if not (isinstance(arg, list) and len(arg) == 1):
            raise Unresolved("Fn::Not takes [condition]", line)
        return not self._truth(arg[0], line)

    def _and(self, arg: Any, line: int) -> bool:
        if not (isinstance(arg, list) and 2 <= len(arg) <= 10):
            raise Unresolved("Fn::And takes 2 to 10 conditions", line)
        return all(self._truth(a, line) for a in arg)

    def _or(self, arg: Any, line: int) -> bool:
        if not (isinstance(arg, list) and 2 <= len(arg) <= 10):
            raise Unresolved("Fn::Or takes 2 to 10 conditions", line)
        return any(self._truth(a, line) for a in arg)


_NOVALUE = object()  # AWS::NoValue: the property is left out

_HANDLERS = {
    "Ref": Resolver._ref, "Fn::GetAtt": Resolver._getatt, "Fn::Sub": Resolver._sub, "Fn::Join": Resolver._join,
    "Fn::Split": Resolver._split, "Fn::Select": Resolver._select, "Fn::FindInMap": Resolver._find_in_map,
    "Fn::Base64": Resolver._base64, "Fn::If": Resolver._if, "Fn::Equals": Resolver._equals,
    "Fn::Not": Resolver._not, "Fn::And": Resolver._and, "Fn::Or": Resolver._or,
}


def _text(value: Any) -> str:
    if value is _NOVALUE:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        raise Unresolved(f"{_short(value)} is not a string")
    return str(value)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def parameter_values(template: dict, path: Path, overrides: dict[str, Any], region: str,
                     account: str) -> tuple[dict[str, Any], list[str]]:
    """sam local's parameter values: pseudo-parameter defaults (with this manager's region and
    account), the template's defaults, then ``overrides``. Returns them and warnings."""
    values: dict[str, Any] = dict(PSEUDO_DEFAULTS)
    values["AWS::Region"] = region
    values["AWS::AccountId"] = account
    values["AWS::StackId"] = values["AWS::StackId"].replace("us-east-1", region).replace("123456789012", account)
    if region.startswith("cn-"):
        values["AWS::Partition"] = "aws-cn"
    elif "-gov-" in region:
        values["AWS::Partition"] = "aws-us-gov"
    params = template.get("Parameters") or {}
    if not isinstance(params, dict):
        raise TemplateError(f"{path}, line {line_of(params, 1)}: Parameters must be a mapping")
    for name, spec in params.items():
        line = params.line_of(name) if isinstance(params, Map) else 0
        if not isinstance(spec, dict):
            raise TemplateError(f"{path}, line {line}: parameter {name} must be a mapping (Type, Default...)")
        if "Default" in spec:
            default = spec["Default"]
            if isinstance(default, (dict, list)):
                raise TemplateError(f"{path}, line {spec.line_of('Default', line)}: parameter {name}: Default "
                                    f"must be a plain value, not {_short(default)} (CloudFormation does not "
                                    f"resolve functions in Default)")
            values[name] = default
    warnings = []
    resources = template.get("Resources") or {}
    for name, value in overrides.items():
        base = name.split(".", 1)[0]
        if name not in params and name not in PSEUDO_DEFAULTS and base not in resources:
            warnings.append(f"parameters: {name!r} is no parameter, pseudo parameter or resource of "
                            f"{path.name}; ignored")
            continue
        values[name] = value
    return values, warnings
