"""Strict JSON for request bodies: RFC 8259 text that DynamoDB can store as it is.

One parser for every JSON body, whether it came as the request body or as the `json` part of a
multipart request: NaN/Infinity and an unpaired surrogate escape (`"\\ud800"`, which no UTF-8 text can
hold) are 400 invalid_json; an empty object key, an integer of more than 38 digits, a number beyond
DynamoDB's range or nesting deeper than DynamoDB's 32 levels (none fits an item) is 400
validation_error — instead of a 500 deeper in (or a RecursionError in the parser).
"""

import json
import math
import re
from typing import Any

from runs_core.errors import ApiError, InvalidJson, ValidationFailed

# DynamoDB numbers: 38 digits of precision, magnitudes from 1E-130 up to (not including) 1E+126.
MAX_INTEGER_DIGITS = 38
MIN_NUMBER_MAGNITUDE, MAX_NUMBER_MAGNITUDE = 1e-130, 1e126
# DynamoDB nests attributes up to 32 levels; a body's top-level keys become an item's attributes, so a
# body of at most 32 levels leaves a level for the few places that wrap a value once more.
MAX_NESTING = 32
# A JSON \u escape of a UTF-16 surrogate: paired it is one character, alone it is no text at all.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def loads_storable(text: str) -> Any:
    """The document; raises ApiError when it is JSON that cannot be stored, ValueError when it is not JSON
    at all (the caller words that error for its context)."""
    try:
        document = json.loads(
            text,
            object_pairs_hook=_object_without_empty_keys,
            parse_int=_storable_int,
            parse_float=_finite_float,
            parse_constant=_no_constant,
        )
        if _SURROGATE_ESCAPE.search(text):
            json.dumps(document, ensure_ascii=False).encode("utf-8")
        _check_nesting(document)
    except _Unstorable as error:
        raise error.problem from None
    except UnicodeEncodeError:  # (a ValueError: caught first)
        raise InvalidJson("The body holds an unpaired UTF-16 surrogate escape.") from None
    except RecursionError:  # thousands of levels: the parser's own limit, far beyond DynamoDB's
        raise _too_deep() from None
    return document


def _check_nesting(document: Any) -> None:
    """Iterative (a recursive walk would hit the recursion limit itself)."""
    pending = [(document, 1)]
    while pending:
        value, level = pending.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is None:
            continue
        if level > MAX_NESTING:
            raise _Unstorable(_too_deep())
        pending.extend((child, level + 1) for child in children)


def _too_deep() -> ApiError:
    message = f"JSON is nested at most {MAX_NESTING} levels deep"
    return ValidationFailed(message, [{"field": "body", "code": "nesting", "message": message}])


class _Unstorable(Exception):
    def __init__(self, problem: ApiError) -> None:
        super().__init__(problem.detail)
        self.problem = problem


def _object_without_empty_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if any(key == "" for key, _ in pairs):
        message = "object keys must not be empty"
        raise _Unstorable(
            ValidationFailed(message, [{"field": "body", "code": "empty_key", "message": message}])
        )
    return dict(pairs)


def _storable_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        message = f"integers have at most {MAX_INTEGER_DIGITS} digits"
        raise _Unstorable(
            ValidationFailed(message, [{"field": "body", "code": "number", "message": message}])
        )
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Unstorable(InvalidJson(f"The number {text[:40]} is out of range."))
    if value and not MIN_NUMBER_MAGNITUDE <= abs(value) < MAX_NUMBER_MAGNITUDE:
        message = "numbers are 0 or between 1e-130 and 1e126 in magnitude"
        raise _Unstorable(
            ValidationFailed(message, [{"field": "body", "code": "number", "message": message}])
        )
    return value


def _no_constant(name: str) -> Any:
    raise _Unstorable(InvalidJson(f"{name} is not JSON."))
