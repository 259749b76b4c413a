"""Reading a magic's line: tokens, events, ``K=V`` pairs, and usage errors that show the usage line."""

from __future__ import annotations

import json
import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import MagicArgumentParser

_CLOSE = {"(": ")", "[": "]", "{": "}"}


def split_line(line: str) -> list[str]:
    """Split at top-level whitespace, keeping brackets and quoted text whole.

    Unlike a shell split, ``{"value": 5}`` and ``event['value']`` stay as written;
    a token that is one quoted string as a whole loses its quotes, as in a shell
    (``'{"value": 5}'`` -> ``{"value": 5}``).
    """
    tokens: list[str] = []
    buf: list[str] = []
    stack: list[str] = []
    quote = ""
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            buf.append(ch)
            if ch == "\\" and i + 1 < len(line):
                buf.append(line[i + 1])
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            buf.append(ch)
        elif ch in _CLOSE:
            stack.append(_CLOSE[ch])
            buf.append(ch)
        elif stack and ch == stack[-1]:
            stack.pop()
            buf.append(ch)
        elif ch.isspace() and not stack:
            if buf:
                tokens.append("".join(buf))
                buf = []
        else:
            buf.append(ch)
        i += 1
    if buf:
        tokens.append("".join(buf))
    return [_unquote(t) for t in tokens]


def _unquote(token: str) -> str:
    if len(token) < 2 or token[0] not in "'\"" or token[-1] != token[0]:
        return token
    try:
        parts = shlex.split(token)
    except ValueError:
        return token
    return parts[0] if len(parts) == 1 else token


def usage_line(parser: MagicArgumentParser) -> str:
    """``usage: %lambda invoke ...`` on one line."""
    text = " ".join(parser.format_usage().split())
    return "usage: %" + text.split("%", 1)[-1].lstrip() if "%" in text else text


def parse(parser: MagicArgumentParser, tokens: list[str]):
    """Parse tokens; a bad argument becomes a UsageError that ends with the usage line."""
    try:
        return parser.parse_args(tokens)
    except UsageError as exc:
        raise UsageError(f"{exc}\n{usage_line(parser)}") from None


def usage_error(parser: MagicArgumentParser, message: str) -> UsageError:
    return UsageError(f"{message}\n{usage_line(parser)}")


def parse_env(pairs: list[str], parser: MagicArgumentParser) -> dict[str, str]:
    """``["TABLE=orders", "DEBUG=1"]`` -> ``{"TABLE": "orders", "DEBUG": "1"}``."""
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise usage_error(parser, f"--env expects KEY=VALUE, got {pair!r}")
        env[key] = value
    return env


def decode_event(text: str, namespace: dict[str, Any]) -> Any:
    """An event from the magic's line: JSON first, else a Python expression in ``namespace``.

    If it is neither, the UsageError says where the JSON broke (line, column, caret)
    and why Python could not use it.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        json_error = exc
    try:
        code = compile(text, "<event>", "eval")
    except SyntaxError as exc:
        why = f"nor a Python expression: SyntaxError: {exc.msg}"
    else:
        try:
            return eval(code, namespace)  # noqa: S307 - the user typed this expression in their own kernel
        except Exception as exc:  # noqa: BLE001 - any error is reported back to the user
            why = f"and evaluating it as Python failed: {type(exc).__name__}: {exc}"
    raise UsageError(f"{json_location(text, json_error)}\n{why}")


def json_location(text: str, error: json.JSONDecodeError) -> str:
    """``EVENT is not valid JSON: <msg> (line L, column C)`` plus the line and a caret under the spot."""
    lines = text.splitlines() or [""]
    line = lines[min(error.lineno, len(lines)) - 1]
    return (f"EVENT is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})\n"
            f"  {line}\n  {' ' * (error.colno - 1)}^")
