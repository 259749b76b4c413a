"""Invoke payloads checked as Lambda checks them: one JSON value, refused in Lambda's words.

Lambda parses a payload with Jackson and quotes Jackson's message (recorded 2025-11):
``Could not parse request body into json: Could not parse payload into json: Invalid UTF-8 start
byte 0x87\\n at [Source: REDACTED (...); line: 1, column: 3]``. The common failures are given the
same wording here: a bad first character, an unknown token, invalid UTF-8, and the usual syntax
errors; the location is the line and byte column Jackson reports.
"""

from __future__ import annotations

import json
import re

PREFIX = "Could not parse request body into json: Could not parse payload into json: "
LOCATION = "\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: {line}, column: {column}]"
_VALUE = "expected a valid value (JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
_TOKEN = "was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
_WHITESPACE = b" \t\r\n"
_WORD = re.compile(rb"[A-Za-z0-9_$\x80-\xff]*")
# Python's json messages -> Jackson's, for the character at the error's position.
_SYNTAX = {
    "Expecting property name enclosed in double quotes": "was expecting double-quote to start field name",
    "Expecting ':' delimiter": "was expecting a colon to separate field name and value",
    "Extra data": "Expected space separating root-level values",
}


class _Constant(ValueError):
    pass


def _reject_constant(name: str):
    raise _Constant(name)


def check_payload(data: bytes) -> str | None:
    """None if ``data`` is one JSON value; otherwise the message Lambda answers with."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _utf8_error(data, exc)
    try:
        json.loads(text, parse_constant=_reject_constant)
    except _Constant as exc:
        return PREFIX + f"Non-standard token '{exc.args[0]}': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` " \
                        f"to allow" + _location(data, data.find(exc.args[0].encode()) + len(exc.args[0]))
    except json.JSONDecodeError as exc:
        return _syntax_error(data, text, exc)
    except RecursionError:
        return PREFIX + "Document nesting depth exceeds the maximum allowed" + _location(data, len(data))
    return None


def describe(data: bytes) -> str | None:
    """Jackson's message for ``data`` without Lambda's prefix (None if it is one JSON value)."""
    message = check_payload(data)
    return None if message is None else message[len(PREFIX):]


def _location(data: bytes, offset: int) -> str:
    """Jackson's location: line, and 1-based byte column, of ``offset``."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    return LOCATION.format(line=data.count(b"\n", 0, offset) + 1, column=offset - line_start + 1)


def _char_desc(code: int) -> str:
    """Jackson's description of a character: ``'x' (code 120)`` or ``(CTRL-CHAR, code 153)``."""
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return f"(CTRL-CHAR, code {code})"
    if code > 255:
        return f"'{chr(code)}' (code {code} / 0x{code:x})"
    return f"'{chr(code)}' (code {code})"


def _char_at(data: bytes, offset: int) -> int:
    """The character starting at ``offset``: a whole UTF-8 sequence if one starts there, else the byte."""
    for size in (1, 2, 3, 4):
        try:
            return ord(data[offset:offset + size].decode("utf-8"))
        except (UnicodeDecodeError, TypeError):
            continue
    return data[offset]


def _value_start(data: bytes, offset: int) -> int:
    while offset < len(data) and data[offset] in _WHITESPACE:
        offset += 1
    return offset


def _unexpected(data: bytes, offset: int, what: str = _VALUE) -> str:
    if offset >= len(data):
        return PREFIX + "No content to map due to end-of-input" + _location(data, offset)
    byte = data[offset]
    if chr(byte).isalpha() or byte >= 0x80 and chr(_char_at(data, offset)).isalpha():
        word = _WORD.match(data, offset)[0]
        try:
            token = word.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = offset + exc.start
            return PREFIX + f"Invalid UTF-8 start byte 0x{data[bad]:02x}" + _location(data, bad + 1)
        if token not in ("true", "false", "null"):
            return PREFIX + f"Unrecognized token '{token}': {_TOKEN}" + _location(data, offset + len(word))
    return PREFIX + f"Unexpected character ({_char_desc(_char_at(data, offset))}): {what}" + \
        _location(data, offset)


def _utf8_error(data: bytes, exc: UnicodeDecodeError) -> str:
    start = _value_start(data, 0)
    if start == exc.start or start < len(data) and data[start] not in b'{["-0123456789':
        return _unexpected(data, start)  # a bad first character is reported as such, as Jackson does
    bad = exc.start
    kind = "start" if data[bad] < 0xC0 or data[bad] > 0xF4 or exc.end - exc.start > 1 else "middle"
    if kind == "middle" and exc.start + 1 < len(data):
        bad = exc.start + 1
    return PREFIX + f"Invalid UTF-8 {kind} byte 0x{data[bad]:02x}" + _location(data, bad + 1)


def _syntax_error(data: bytes, text: str, exc: json.JSONDecodeError) -> str:
    offset = len(text[:exc.pos].encode("utf-8"))
    message = exc.msg
    if message == "Expecting value":
        return _unexpected(data, offset)
    if offset >= len(data):
        opened = "Array" if text.lstrip().startswith("[") else "Object"
        return PREFIX + f"Unexpected end-of-input: expected close marker for {opened}" + _location(data, offset)
    if message.startswith("Unterminated string"):
        return PREFIX + "Unexpected end-of-input: was expecting closing quote for a string value" + \
            _location(data, len(data))
    if message.startswith("Invalid control character"):
        return PREFIX + f"Illegal unquoted character ({_char_desc(data[offset])}): has to be escaped using " \
                        f"backslash to be included in string value" + _location(data, offset + 1)
    if message.startswith("Invalid \\escape") or message.startswith("Invalid \\uXXXX"):
        return PREFIX + f"Unrecognized character escape {_char_desc(_char_at(data, offset + 1))}" + \
            _location(data, offset + 2)
    if message == "Expecting ',' delimiter":
        inside = "Array" if _innermost(text[:exc.pos]) == "[" else "Object"
        return PREFIX + f"Unexpected character ({_char_desc(_char_at(data, offset))}): was expecting comma " \
                        f"to separate {inside} entries" + _location(data, offset + 1)
    what = _SYNTAX.get(message, message)
    return PREFIX + f"Unexpected character ({_char_desc(_char_at(data, offset))}): {what}" + \
        _location(data, offset + 1)


def _innermost(text: str) -> str:
    """The innermost open bracket of ``text`` (a JSON prefix), ignoring strings."""
    stack, in_string, escaped = [], False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            stack.append(ch)
        elif ch in "]}" and stack:
            stack.pop()
    return stack[-1] if stack else ""
