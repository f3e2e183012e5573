"""A bounded JSON parser for what clients send the companion (HTTP bodies, WebSocket text).

Python's ``json.loads`` recurses once per nesting level, so a body of ``[[[[...`` 15,000 deep
raises ``RecursionError``; it also accepts ``NaN`` and ``Infinity`` (not JSON) and turns
``1e999`` into infinity. :func:`parse_json` checks the size, then the nesting depth with one
linear scan that skips strings, before ``json.loads`` runs, and refuses every non-finite
number. Every refusal is a one-line :class:`JsonRejected`. No Panda3D here.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

from vrgmi.errors import VrgmiError

MAX_DEPTH = 16          # arrays and objects inside one another (a command needs 3)
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


class JsonRejected(VrgmiError, ValueError):
    """A client's JSON was refused (one line, safe to show the client)."""


def _constant(name: str) -> Any:
    raise JsonRejected(f"companion: {name} is not a JSON number")


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonRejected(f"companion: the number {text[:24]} is too large")
    return value


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > 30:       # no setting needs more digits than a float holds
        raise JsonRejected(f"companion: the number {text[:24]}... is too long")
    return int(text)


def nested_deeper(text: str, max_depth: int) -> bool:
    """True when ``[`` / ``{`` nest deeper than ``max_depth`` in ``text`` (brackets inside
    strings skipped); it stops at the first level too deep."""
    if text.count("[") + text.count("{") <= max_depth:
        return False
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > max_depth:
                return True
        elif token in "]}":
            depth -= 1
    return False


def parse_json(data: str | bytes, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """``data`` parsed as strict JSON, or :class:`JsonRejected` (too large, too deep,
    malformed, not UTF-8, an unpaired surrogate, or a number that is not finite)."""
    if len(data) > max_bytes:
        raise JsonRejected(f"companion: the JSON is larger than {max_bytes} bytes")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise JsonRejected("companion: the JSON must be UTF-8 text") from None
    if nested_deeper(data, max_depth):
        raise JsonRejected(f"companion: the JSON is nested deeper than {max_depth} levels")
    try:
        value = json.loads(data, parse_constant=_constant, parse_float=_number,
                           parse_int=_integer)
    except JsonRejected:
        raise
    except (ValueError, RecursionError):
        raise JsonRejected("companion: malformed JSON") from None
    try:            # a lone surrogate ("\ud800") is valid JSON but no text a database takes
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise JsonRejected("companion: the JSON holds an unpaired surrogate") from None
    return value
