"""Event filtering for SQS mappings (``FilterCriteria``): EventBridge patterns, matched by moto's matcher.

A pattern names keys of the event record (``body``, ``attributes``, ``messageAttributes``...). When the
body is JSON, patterns under ``body`` match its fields; a plain-text body matches only a pattern on the
text itself. Lambda deletes a message that no filter matches (with-sqs-filtering).
"""

from __future__ import annotations

import json
from typing import Any

from lambda_widget.placement.esm import MappingConfigError

MAX_FILTERS = 5  # Lambda's quota of filters per event source mapping (raisable to 10)
INVALID = "Invalid filter pattern definition."


def _invalid() -> MappingConfigError:
    return MappingConfigError("InvalidParameterValueException", INVALID)


def parse_filters(filters: Any) -> tuple[list[str], list[dict[str, Any]]]:
    """(the patterns as given, parsed) from ``FilterCriteria`` (``{"Filters": [{"Pattern": text}]}``) or a
    list of patterns (dicts or JSON text); raises AWS's error for an invalid one."""
    if filters is None:
        return [], []
    if isinstance(filters, dict):
        items = filters.get("Filters", [])
        if not isinstance(items, list) or any(not isinstance(f, dict) for f in items):
            raise _invalid()
        texts = [f.get("Pattern") for f in items]
    elif isinstance(filters, (list, tuple)):
        texts = [json.dumps(f) if isinstance(f, dict) else f for f in filters]
    else:
        raise _invalid()
    if len(texts) > MAX_FILTERS:
        raise MappingConfigError("InvalidParameterValueException",
                                 f"A mapping takes at most {MAX_FILTERS} filters, not {len(texts)}")
    from moto.events.exceptions import InvalidEventPatternException
    from moto.events.models import EventPatternParser

    parsed = []
    for text in texts:
        if not isinstance(text, str) or not text.strip():
            raise _invalid()
        try:
            value = json.loads(text)
        except ValueError:
            raise _invalid() from None
        if not isinstance(value, dict):
            raise _invalid()
        try:
            parsed.append(EventPatternParser(text).parse())
        except InvalidEventPatternException:
            raise _invalid() from None
    return list(texts), parsed


def subject(record: dict[str, Any]) -> dict[str, Any]:
    """The record as patterns see it: a JSON body as its value, any other body as text."""
    view = dict(record)
    try:
        view["body"] = json.loads(record["body"])
    except (TypeError, ValueError):
        pass
    return view


def matches(patterns: list[dict[str, Any]], record: dict[str, Any]) -> bool:
    """Does any pattern match the record? (No patterns: every record matches.)"""
    if not patterns:
        return True
    from moto.events.models import EventPattern

    seen = subject(record)
    return any(EventPattern(None, pattern).matches_event(seen) for pattern in patterns)
