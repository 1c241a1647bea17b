"""Helpers of the dialect e2e tests (docs/api.md §8): a client of one dialect's base on the local stack, and
the check of a response against the seed's documented shape (tests/contract/dialects/<dialect>.json)."""

import json
import time
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import requests
from jsonschema import Draft202012Validator

from tests.e2e.live import TIMEOUT, auth

SCHEMAS = Path(__file__).resolve().parents[1] / "contract" / "dialects"


@cache
def _definitions(dialect: str) -> dict[str, Any]:
    return dict(json.loads((SCHEMAS / f"{dialect}.json").read_text())["$defs"])


def check(dialect: str, definition: str, instance: Any) -> Any:
    """`instance`, after validating it against the seed's `definition` (raises ValidationError if not)."""
    schema = {"$ref": f"#/$defs/{definition}", "$defs": _definitions(dialect)}
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(instance)
    return instance


class Dialect:
    """requests against `<origin><base>` with one key (in `header`: Authorization: Bearer by default)."""

    def __init__(
        self, origin: str, base: str, key: str, header: Callable[[str], dict[str, str]] = auth
    ) -> None:
        self.url, self.key, self.header = origin + base, key, header

    def call(self, method: str, path: str, key: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {**self.header(key or self.key), **kwargs.pop("headers", {})}
        return requests.request(method, self.url + path, headers=headers, timeout=TIMEOUT, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("POST", path, **kwargs)


def until(probe: Callable[[], Any], done: Callable[[Any], bool], seconds: float = 30) -> Any:
    """`probe()` every 0.2 s until `done(result)` (bounded: fails after `seconds`)."""
    deadline = time.monotonic() + seconds
    while True:
        result = probe()
        if done(result):
            return result
        assert time.monotonic() < deadline, f"not done after {seconds} s: {result}"
        time.sleep(0.2)


def sse_data(response: requests.Response) -> Iterator[dict[str, Any]]:
    """The JSON of each `data:` line of an SSE response."""
    for line in response.iter_lines(decode_unicode=True):
        if line and line.startswith("data: "):
            yield json.loads(line[len("data: ") :])
