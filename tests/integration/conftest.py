"""Integration tier: the real handlers in-process behind the API Gateway emulator, over moto tables
built from template.yaml (devstack.stack.DevStack) — the same path as `make dev`, without sockets.

Fixtures: `stack` (one per session, seeded: org "dev" + demo agent), `dev_key`, `admin_key`,
`api` (a client; the dev key unless told otherwise), `make_org` (another tenant via the admin API),
`bus_queue` (an SQS queue that receives the stack's bus events). Shared helpers: tests/integration/helpers.py.
"""

import json as jsonlib
import secrets
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from requests.structures import CaseInsensitiveDict

from devstack import iam
from devstack.stack import DevStack
from devstack.template import REGION

QueryValue = str | int | Sequence[str]


class _DefaultKey:
    """Sentinel: "use the client's own key" (None means: send no key at all)."""

    def __repr__(self) -> str:
        return "<client key>"


CLIENT_KEY: Any = _DefaultKey()

# Limits for the orgs the suites use, so that creating many runs quickly is not throttled.
GENEROUS_RATE_LIMITS = {"runs_per_minute": 100_000, "requests_per_minute": 1_000_000}


@dataclass(frozen=True)
class ApiResponse:
    status: int
    headers: CaseInsensitiveDict[str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return jsonlib.loads(self.body)


class ApiClient:
    """requests-like calls straight into DevStack.request (API Gateway emulator → real handlers)."""

    def __init__(self, stack: DevStack, key: str | None) -> None:
        self.stack = stack
        self.key = key

    def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        key: str | None = CLIENT_KEY,
        query: Mapping[str, QueryValue] | None = None,
        body: bytes | None = None,
    ) -> ApiResponse:
        """`json` is sent as the JSON body (None: no body); `body` sends raw bytes instead.

        `key` defaults to the client's key and goes in `Authorization: Bearer`; None sends no key.
        """
        sent_headers: dict[str, str] = {"Host": "127.0.0.1", "User-Agent": "runs-api-tests"}
        use_key = self.key if key is CLIENT_KEY else key
        if use_key is not None:
            sent_headers["Authorization"] = f"Bearer {use_key}"
        if json is not None:
            body = jsonlib.dumps(json).encode("utf-8")
            sent_headers["Content-Type"] = "application/json"
        sent_headers.update(headers or {})
        if body is not None:
            sent_headers["Content-Length"] = str(len(body))
        status, response_headers, response_body = self.stack.request(
            method, path, sent_headers, body, _query_lists(query)
        )
        return ApiResponse(status, CaseInsensitiveDict(response_headers), response_body)

    def get(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> ApiResponse:
        return self.request("POST", path, json=json, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs: Any) -> ApiResponse:
        return self.request("PUT", path, json=json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any) -> ApiResponse:
        return self.request("PATCH", path, json=json, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("DELETE", path, **kwargs)

    def with_key(self, key: str | None) -> "ApiClient":
        return ApiClient(self.stack, key)


def _query_lists(query: Mapping[str, QueryValue] | None) -> dict[str, list[str]] | None:
    if query is None:
        return None
    return {
        name: [str(value)] if isinstance(value, str | int) else [str(v) for v in value]
        for name, value in query.items()
        if value is not None
    }


@dataclass(frozen=True)
class Tenant:
    """An org made through the admin API, with its first key and a client that uses it."""

    org_id: str
    key: str
    key_id: str
    org: dict[str, Any]
    api: ApiClient


# Package scope: moto's mock is process-wide, so it must end with this package, before tests that
# talk to their own fakes (e.g. the Bedrock provider's tests answer botocore themselves).
@pytest.fixture(scope="package")
def stack() -> Iterator[DevStack]:
    local = DevStack(
        dev_key="sk_test_" + secrets.token_urlsafe(24),
        admin_key="sk_admin_" + secrets.token_urlsafe(24),
    )
    local.start()
    try:
        local.seed()
        # The suites create runs far faster than the default 20/min: the dev org gets generous limits
        # (set by an operator, as in production). Rate-limit tests make their own orgs with low limits.
        response = ApiClient(local, local.admin_key).request(
            "PATCH", f"/v1/admin/orgs/{local.dev_org_id}", json={"rate_limits": GENEROUS_RATE_LIMITS}
        )
        assert response.status == 200, response.text
        yield local
        # A call a function's template policy does not allow fails in AWS; code that swallows the
        # error (fails open) would hide it from the test that made it, so the whole package checks.
        assert not iam.DENIALS, "AWS calls template.yaml does not allow:\n" + "\n".join(iam.DENIALS)
    finally:
        local.stop()


@pytest.fixture(scope="package")
def dev_key(stack: DevStack) -> str:
    return stack.dev_key


@pytest.fixture(scope="package")
def admin_key(stack: DevStack) -> str:
    return stack.admin_key


@pytest.fixture
def api(stack: DevStack) -> ApiClient:
    return ApiClient(stack, stack.dev_key)


@pytest.fixture
def admin_api(stack: DevStack) -> ApiClient:
    return ApiClient(stack, stack.admin_key)


@pytest.fixture
def make_org(stack: DevStack) -> Callable[..., Tenant]:
    """make_org(credits=1000, name=None, **fields) → a new org (POST /v1/admin/orgs) and its key.

    Its rate limits are generous unless `rate_limits=` is given (rate-limit tests set low ones)."""

    def make(credits: int = 1000, name: str | None = None, **fields: Any) -> Tenant:
        fields.setdefault("rate_limits", GENEROUS_RATE_LIMITS)
        body = {"name": name or f"org-{secrets.token_hex(4)}", "credits": credits, **fields}
        response = ApiClient(stack, stack.admin_key).request("POST", "/v1/admin/orgs", json=body)
        assert response.status == 201, response.text
        created = response.json()
        key = created["api_key"]["key"]
        return Tenant(
            org_id=created["org"]["id"],
            key=key,
            key_id=created["api_key"]["id"],
            org=created["org"],
            api=ApiClient(stack, key),
        )

    return make


@pytest.fixture
def bus_queue(stack: DevStack) -> Iterator[str]:
    """An SQS queue behind a rule on the stack's bus that matches source runs-api; yields its URL."""
    events = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    bus = next(b["Name"] for b in events.list_event_buses()["EventBuses"] if b["Name"].endswith("-runs"))
    suffix = uuid.uuid4().hex[:8]
    queue_url = sqs.create_queue(QueueName=f"bus-target-{suffix}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    rule = f"all-run-events-{suffix}"
    events.put_rule(Name=rule, EventBusName=bus, EventPattern=jsonlib.dumps({"source": ["runs-api"]}))
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "queue", "Arn": queue_arn}])
    yield queue_url
    events.remove_targets(Rule=rule, EventBusName=bus, Ids=["queue"])
    events.delete_rule(Name=rule, EventBusName=bus)
    sqs.delete_queue(QueueUrl=queue_url)
