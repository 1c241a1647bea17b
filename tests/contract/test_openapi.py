"""The published OpenAPI document describes exactly the routes the template serves (docs/api.md §7)."""

import json
import re
from pathlib import Path

from devstack.template import Template

REPO = Path(__file__).resolve().parents[2]
SWAGGER_UI = ("GET", "/v1/docs")  # HTML for people; not an API operation


def template_routes() -> set[tuple[str, str]]:
    return {(event.method, event.path) for event in Template(REPO / "template.yaml").api_operations()}


def spec_routes(document: dict) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, operations in document["paths"].items() for method in operations}


def test_the_committed_document_is_the_one_the_routes_generate():
    """The served document is generated at build time (runs_core.api.spec) and committed: it must still be
    what the routers and models generate."""
    from runs_core.api.document import openapi_document
    from runs_core.api.spec import generate

    assert json.loads(openapi_document()) == generate(), (
        "layers/runs_core/runs_core/api/openapi.json is out of date: regenerate it with `make openapi`"
    )


def test_spec_paths_equal_template_routes():
    from runs_core.api.document import openapi_document

    document = json.loads(openapi_document())
    assert document["openapi"].startswith("3.1")
    assert spec_routes(document) == template_routes() - {SWAGGER_UI}


def test_every_operation_documents_its_errors_as_problems():
    from runs_core.api.document import openapi_document

    document = json.loads(openapi_document())
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if path in ("/v1/health", "/v1/openapi.json"):
                continue
            responses = operation["responses"]
            # This API answers validation errors with 400; its 422s: idempotency_conflict on every write,
            # run_failed on the synchronous run.
            if method in ("post", "put", "patch"):
                assert "idempotency_conflict" in responses["422"]["description"], (method, path)
                assert "idempotency_in_progress" in responses["409"]["description"], (method, path)
                assert "Idempotency-Key" in [p["name"] for p in operation.get("parameters", [])]
            else:
                assert "422" not in responses, (method, path)
            assert {"Retry-After", "RateLimit-Limit"} <= set(responses["429"]["headers"]), (method, path)
            for status in ("400", "401", "429", "500"):
                content = responses[status]["content"]
                if path.startswith("/dialects/") and status != "401":
                    assert content, (method, path, status)  # the dialect's own error body
                else:
                    assert "application/problem+json" in content, (method, path, status)


def test_path_parameters_match_between_spec_and_template():
    """API Gateway needs one parameter name per path segment; the spec must use the same names."""
    names = {}
    for _, path in template_routes():
        for depth, segment in enumerate(path.split("/")):
            if match := re.fullmatch(r"\{(\w+)\}", segment):
                prefix = "/".join(path.split("/")[:depth])
                names.setdefault(prefix, set()).add(match.group(1))
    assert all(len(found) == 1 for found in names.values()), names


def _resolve(document: dict, schema: dict) -> dict:
    """The schema a $ref (or a nullable `anyOf: [$ref, null]`, as optional bodies are) points at."""
    if "$ref" in schema:
        return _resolve(document, document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]])
    refs = [option for option in schema.get("anyOf", []) if "$ref" in option]
    return _resolve(document, refs[0]) if len(refs) == 1 else schema


def test_every_operation_documents_its_success_response():
    """Powertools drops the 2xx of a route that passes `responses=`; runs_core.api.openapi.Router puts it
    back."""
    from runs_core.api.document import openapi_document

    document = json.loads(openapi_document())
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            successes = {status: r for status, r in operation["responses"].items() if status.startswith("2")}
            assert successes, (method, path)
            for status, response in successes.items():
                if status == "204":
                    assert "content" not in response, (method, path)
                elif "application/json" not in response["content"]:  # an SSE-only route (a dialect's)
                    assert set(response["content"]) == {"text/event-stream"}, (method, path)
                elif path != "/v1/openapi.json":
                    schema = response["content"]["application/json"]["schema"]
                    assert "$ref" in schema or schema.get("type") == "array", (method, path, status)
                if path not in ("/v1/health", "/v1/openapi.json"):
                    assert "RateLimit-Limit" in response["headers"], (method, path, status)
                    if method in ("post", "put", "patch"):
                        assert "Idempotent-Replayed" in response["headers"], (method, path, status)
    runs = document["paths"]["/v1/runs"]["post"]["responses"]
    assert runs["201"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Run"}
    deletes = [ops["delete"] for ops in document["paths"].values() if "delete" in ops]
    assert {status for op in deletes for status in op["responses"] if status.startswith("2")} <= {
        "200",
        "204",
    }


def test_every_request_body_has_an_example():
    from runs_core.api.document import openapi_document

    document = json.loads(openapi_document())
    bodies = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
                bodies += 1
                schema = _resolve(document, content["schema"])
                assert schema.get("examples") or content.get("examples"), (method, path, media_type)
    assert bodies >= 20


def test_the_description_documents_websocket_and_events():
    from runs_core.api.document import openapi_document

    description = json.loads(openapi_document())["info"]["description"]
    for needle in ("/ws", '"action": "subscribe"', "text/event-stream", "run.completed", "Request-Id"):
        assert needle in description, needle


def test_a_routes_own_error_statuses_survive_the_shared_ones():
    """The sync run's 422 run_failed (a status the contract is silent on) and a route's 409 stay documented
    next to the idempotency errors that share their status codes."""
    from runs_core.api.document import openapi_document

    paths = json.loads(openapi_document())["paths"]
    sync = paths["/v1/agents/{agent}/run"]["post"]["responses"]
    assert "run_failed" in sync["422"]["description"] and "idempotency_conflict" in sync["422"]["description"]
    thread_run = paths["/v1/threads/{thread_id}/runs"]["post"]["responses"]
    assert "thread_busy" in thread_run["409"]["description"]
    assert "idempotency_in_progress" in thread_run["409"]["description"]


def _request_schemas(document: dict) -> list[tuple[str, dict]]:
    """(where, schema) of every parameter and of every schema a request body can reach (not responses)."""
    components = document.get("components", {}).get("schemas", {})
    found: list[tuple[str, dict]] = []
    pending: list[tuple[str, object]] = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                pending.append((f"{method} {path} {parameter['name']}", parameter.get("schema", {})))
            for content in operation.get("requestBody", {}).get("content", {}).values():
                pending.append((f"{method} {path} body", content.get("schema", {})))
    seen: set[str] = set()
    while pending:
        where, node = pending.pop()
        if isinstance(node, list):
            pending.extend((where, child) for child in node)
        elif isinstance(node, dict):
            reference = node.get("$ref")
            if isinstance(reference, str) and reference.startswith("#/components/schemas/"):
                name = reference.rsplit("/", 1)[1]
                if name not in seen:
                    seen.add(name)
                    pending.append((name, components[name]))
            if node.get("type") == "integer":
                found.append((where, node))
            pending.extend((f"{where}.{key}", child) for key, child in node.items() if key != "examples")
    return found


def test_every_integer_a_request_carries_is_bounded():
    """Issue 10: a 39-digit integer was a 500 (DynamoDB holds 38 digits); every integer parameter and body
    field is bounded, in the spec as in validation (runs_core.models.common.MAX_INTEGER at most)."""
    from runs_core.api.document import openapi_document
    from runs_core.models.common import MAX_INTEGER

    integers = _request_schemas(json.loads(openapi_document()))
    assert len(integers) > 20, integers  # the walk reaches query parameters and nested body models
    unbounded = [
        where
        for where, schema in integers
        if not ("minimum" in schema and "maximum" in schema and schema["maximum"] <= MAX_INTEGER)
    ]
    assert unbounded == []


def test_the_served_document_is_a_valid_openapi_document():
    """What GET /v1/openapi.json serves passes openapi-spec-validator: every $ref resolves (Powertools adds
    schemas for its own validation errors, which this API does not answer with); shapes are OpenAPI 3.1."""
    from openapi_spec_validator import validate

    from runs_core.api.document import openapi_document

    document = json.loads(openapi_document())
    try:
        validate(document)
    except Exception as error:  # the validator's error carries the whole document: keep the report short
        raise AssertionError(f"invalid OpenAPI document: {str(error)[:2000]}") from None
