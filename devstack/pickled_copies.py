"""Parsed programs copied by unpickling instead of copy.deepcopy, and the check that the copy is the same."""

import enum
import logging
import pickle
import re
import types
from typing import Any

logger = logging.getLogger(__name__)

# What copy.deepcopy keeps as is (and pickle makes equal, or refers to by name).
_ATOMIC = (
    str,
    bytes,
    int,
    float,
    complex,
    bool,
    type(None),
    enum.Enum,
    type,
    re.Pattern,
    types.FunctionType,
    types.BuiltinFunctionType,
)


class NotFaithful(RuntimeError):
    """An unpickled copy differs from what copy.deepcopy would make."""


def faithful_copy(original: Any, copy: Any) -> None:
    """Raise unless `copy` is what copy.deepcopy(original) would be: the same structure of the same
    classes with equal values, no mutable object shared with `original`, the same sharing within it."""
    pairs: dict[int, int] = {}  # id in original → id in copy
    stack = [(original, copy, "program")]
    while stack:
        a, b, where = stack.pop()
        same = type(a) is type(b)
        if same and isinstance(a, (*_ATOMIC, set, frozenset)):
            same = a == b
        elif same and id(a) in pairs:
            same = pairs[id(a)] == id(b)
        elif same:
            same = a is not b or isinstance(a, tuple)  # () is one object
            pairs[id(a)] = id(b)
            if isinstance(a, dict):
                same = same and list(a) == list(b)
                stack.extend((a[key], b[key], f"{where}[{key!r}]") for key in a if same)
            elif isinstance(a, list | tuple):
                same = same and len(a) == len(b)
                stack.extend(
                    (x, y, f"{where}[{i}]") for i, (x, y) in enumerate(zip(a, b, strict=True)) if same
                )
            elif hasattr(a, "__dict__") and not any(vars(c).get("__slots__") for c in type(a).__mro__):
                stack.append((vars(a), vars(b), f"{where}.{type(a).__name__}"))
            else:
                same = False  # something this check does not know how to compare
        if not same:
            raise NotFaithful(f"not copied faithfully by pickle at {where}")


def pickled(program: Any) -> bytes | None:
    """`program`'s pickle if unpickling it gives what copy.deepcopy would (checked once, here), else None:
    the caller then deep-copies, as moto does. Checked rather than assumed, as a moto upgrade can add a
    component that pickles differently (or not at all)."""
    try:
        blob = pickle.dumps(program, protocol=pickle.HIGHEST_PROTOCOL)
        faithful_copy(program, pickle.loads(blob))
    except Exception:
        logger.warning(
            "%s is deep-copied: its pickle is not a faithful copy", type(program).__name__, exc_info=True
        )
        return None
    return blob
