"""One rule for what clients send as whole numbers and as JSON, shared by every route and form."""

from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any

from annotated_types import Ge, Le
from pydantic import BeforeValidator

from duetto.app.core.errors import InvalidRequest

# The largest value an integer column holds on SQLite and PostgreSQL (signed 64 bits); a larger id cannot
# name a row, and the drivers raise OverflowError for it instead of finding nothing.
MAX_ROW_ID = 2**63 - 1
# Deeper JSON than this is refused: no request here nests more than a few levels, and Python recurses on
# each level while decoding, hashing or printing it.
MAX_JSON_DEPTH = 32

# ASCII digits only: str.isdigit() and int() also take "²", "١٢" or "１２", which are no numbers a form sends.
_DIGITS = re.compile(r"[0-9]{1,19}")


def parse_whole(text: str) -> int | None:
    """The whole number `text` spells in ASCII digits (spaces around allowed), else None."""
    text = text.strip()
    return int(text) if _DIGITS.fullmatch(text) else None


def whole_number(text: str, *, param: str, low: int = 0, high: int = MAX_ROW_ID, message: str) -> int:
    """A form's whole number between `low` and `high`, or InvalidRequest(message) naming `param`."""
    value = parse_whole(text)
    if value is None or not low <= value <= high:
        raise InvalidRequest(message, param=param)
    return value


def _digits_only(value: Any) -> Any:
    if isinstance(value, str):
        parsed = parse_whole(value)
        if parsed is None:
            raise ValueError("must be a whole number written in the digits 0-9")
        return parsed
    return value


#: A row id in a path or query (`/comments/{comment_id}`): the same rule as `whole_number`, 1 to MAX_ROW_ID.
RowId = Annotated[int, BeforeValidator(_digits_only), Ge(1), Le(MAX_ROW_ID)]


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in a decoded JSON value (iteratively: no recursion of our own)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def parse_json_object(raw: bytes, *, what: str = "The request body") -> dict[str, Any]:
    """A JSON object from request bytes, or InvalidRequest: malformed, too deeply nested, not an object,
    or holding NaN, Infinity or a number beyond a float (JSON has none of them; Python's decoder takes them)."""

    def refuse_constant(name: str) -> None:
        raise ValueError(f"{name} is not a JSON number")

    def finite(text: str) -> float:
        value = float(text)
        if math.isinf(value):  # 1e999 decodes to infinity
            raise ValueError(f"{text} is out of range")
        return value

    try:
        data = json.loads(raw or b"null", parse_constant=refuse_constant, parse_float=finite)
    except RecursionError:
        raise InvalidRequest(f"{what} nests too deeply; at most {MAX_JSON_DEPTH} levels are allowed.") from None
    except ValueError:  # JSONDecodeError and bad UTF-8 are ValueErrors
        raise InvalidRequest(f"{what} is not valid JSON; send a JSON object.") from None
    if not isinstance(data, dict):
        raise InvalidRequest(f"{what} must be a JSON object.")
    if _depth(data) > MAX_JSON_DEPTH:
        raise InvalidRequest(f"{what} nests too deeply; at most {MAX_JSON_DEPTH} levels are allowed.")
    return data
