"""Helpers of the dialect e2e tests (docs/api.md §8): a client of one dialect's base on the local stack, and
the check of a response against the seed's documented shape (tests/contract/dialects/<dialect>.json)."""

import json
import time
import uuid
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import requests
from jsonschema import Draft202012Validator

from devstack.seed import DEMO_AGENT
from tests.e2e.live import ASK_SCRIPT, TIMEOUT, auth

GENEROUS_RATE_LIMITS = {"runs_per_minute": 100_000, "requests_per_minute": 1_000_000}
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


@cache
def _org_key(base_url: str, admin_key: str) -> str:
    body = {
        "name": f"dialects-{uuid.uuid4().hex[:8]}",
        "credits": 100_000,
        "rate_limits": GENEROUS_RATE_LIMITS,
    }
    created = requests.post(f"{base_url}/admin/orgs", json=body, headers=auth(admin_key), timeout=TIMEOUT)
    assert created.status_code == 201, created.text
    key = str(created.json()["api_key"]["key"])
    demo = requests.post(f"{base_url}/agents", json=DEMO_AGENT, headers=auth(key), timeout=TIMEOUT)
    assert demo.status_code == 201, demo.text
    return key


def org_key(local_stack: Any) -> str:
    """The key of the dialect tests' org on this stack: generous rate limits (the dev org's 20 runs a
    minute would throttle a whole e2e session), credits, and the seeded `demo` agent."""
    return _org_key(local_stack.base_url, local_stack.admin_key)


def v1(local_stack: Any, method: str, path: str, key: str | None = None, **kwargs: Any) -> requests.Response:
    """A /v1 request (the dialect tests' org unless told otherwise): the same runs, without a dialect."""
    headers = {**auth(key or org_key(local_stack)), **kwargs.pop("headers", {})}
    return requests.request(method, local_stack.base_url + path, headers=headers, timeout=TIMEOUT, **kwargs)


def make_agent(local_stack: Any, name: str, script: list[dict[str, Any]], **definition: Any) -> str:
    """Create the dev org's agent `name` with a scripted model (and ask_user); returns its name."""
    body = {
        "instructions": "Answer.",
        "model": {"provider": "scripted", "script": script},
        "actions": [{"name": "ask_user", "kind": "builtin"}],
        **definition,
    }
    made = v1(local_stack, "POST", "/agents", json={"name": name, "definition": body})
    assert made.status_code == 201, made.text
    return name


def asking_agent(local_stack: Any, prefix: str) -> str:
    """An agent whose runs wait for input (ASK_SCRIPT), so they can be seen waiting, answered, cancelled."""
    return make_agent(local_stack, f"{prefix}-{uuid.uuid4().hex[:8]}", ASK_SCRIPT)
