"""The dialects in the served OpenAPI document (docs/api.md §8): every route under /dialects/<name> carries
its dialect's tag, and the schemas it documents agree with the seed's own (tests/contract/dialects/*.json:
the seeds' published schemas, or their examples' shapes): every field a seed requires is documented and
required, and an enum never goes beyond the seed's. The responses themselves are checked against the same
seed schemas end to end (tests/e2e/test_dialect_*.py)."""

import json
from pathlib import Path
from typing import Any

import pytest

SEEDS = Path(__file__).resolve().parent / "dialects"
TAGS = {
    "tr": "Dialect: threads/runs",
    "ziet": "Dialect: Ziet",
    "kognitos": "Dialect: Kognitos",
    "roe": "Dialect: Roe AI",
    "appstrate": "Dialect: Appstrate",
    "openai": "Dialect: OpenAI Responses",
    "langgraph": "Dialect: Agent Protocol (LangGraph)",
}
# (method, path, status) → (dialect, the seed's schema it must agree with)
DOCUMENTED = {
    ("post", "/dialects/tr/v1/threads/{thread_id}/runs", "201"): ("tr", "CreateRunResponse"),
    ("get", "/dialects/tr/v1/threads/{thread_id}/runs", "200"): ("tr", "ThreadRuns"),
    ("get", "/dialects/tr/v1/runs", "200"): ("tr", "RunList"),
    ("get", "/dialects/tr/v1/runs/{run_id}", "200"): ("tr", "RunDetails"),
    ("post", "/dialects/tr/v1/runs/{run_id}", "200"): ("tr", "Ok"),
    ("post", "/dialects/tr/v1/runs/{run_id}/input", "200"): ("tr", "Ok"),
    ("get", "/dialects/tr/v1/runs/{run_id}", "404"): ("tr", "Error"),
    ("post", "/dialects/ziet/v1/runs", "201"): ("ziet", "Run"),
    ("get", "/dialects/ziet/v1/runs/{run_id}", "200"): ("ziet", "Run"),
    ("post", "/dialects/ziet/v1/runs/{run_id}/invoke", "200"): ("ziet", "Run"),
    ("post", "/dialects/ziet/v1/runs", "400"): ("ziet", "Error"),
    ("get", "/dialects/ziet/v1/runs/{run_id}", "404"): ("ziet", "Error"),
    ("post", "/dialects/kognitos/v2/runs", "201"): ("kognitos", "RunResource"),
    ("get", "/dialects/kognitos/v2/runs", "200"): ("kognitos", "ListOfRuns"),
    ("get", "/dialects/kognitos/v2/runs/{run_id}", "200"): ("kognitos", "RunResource"),
    ("post", "/dialects/kognitos/v2/runs", "400"): ("kognitos", "ErrorModel"),
    ("get", "/dialects/kognitos/v2/runs/{run_id}", "404"): ("kognitos", "ErrorModel"),
    ("post", "/dialects/roe/v1/agents/run/{agent_id}", "200"): ("roe", "AgentData"),
    **{
        ("post", "/dialects/roe/v1/agents/run/{agent_id}", s): ("roe", "ErrorResponse")
        for s in ("400", "402", "403", "404")
    },
    ("post", "/dialects/appstrate/api/agents/{scope}/{name}/run", "202"): ("appstrate", "RunStarted"),
    **{
        ("post", "/dialects/appstrate/api/agents/{scope}/{name}/run", s): ("appstrate", "Problem")
        for s in ("400", "404", "409", "422", "429")
    },
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    from runs_core.api.document import openapi_document

    return dict(json.loads(openapi_document()))


class Schemas:
    """Resolves `$ref`s of one document (`#/components/schemas/…` or `#/$defs/…`)."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root

    def __call__(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            node: Any = self.root
            for part in schema["$ref"].removeprefix("#/").split("/"):
                node = node[part]
            schema = node
        return schema

    def variants(self, schema: dict[str, Any]) -> list[dict[str, Any]]:
        """The schema, or its anyOf/allOf members, resolved; null left out."""
        schema = self(schema)
        members = schema.get("anyOf") or schema.get("allOf")
        if not members:
            return [schema]
        return [
            variant
            for member in members
            for variant in self.variants(member)
            if variant.get("type") != "null"
        ]


def disagreements(
    ours: Schemas, spec: dict[str, Any], seeds: Schemas, seed: dict[str, Any], where: str
) -> list[str]:
    found: list[str] = []
    seed_variants, spec_variants = seeds.variants(seed), ours.variants(spec)
    seed_enum = {value for variant in seed_variants for value in variant.get("enum", [])}
    spec_enum = {value for variant in spec_variants for value in variant.get("enum", [variant.get("const")])}
    if seed_enum and not spec_enum - {None} <= seed_enum:
        found.append(f"{where}: enum {sorted(spec_enum - {None} - seed_enum)} beyond the seed's")
    for seed_variant in seed_variants:
        if seed_variant.get("type") == "array" and seed_variant.get("items"):
            arrays = [variant for variant in spec_variants if variant.get("type") == "array"]
            if not arrays:
                found.append(f"{where}: not documented as an array")
            for array in arrays:
                found += disagreements(
                    ours, array.get("items", {}), seeds, seed_variant["items"], f"{where}[]"
                )
        seed_properties = seed_variant.get("properties", {})
        if not seed_properties:
            continue
        objects = [variant for variant in spec_variants if "properties" in variant]
        if not objects:
            found.append(f"{where}: not documented as an object")
        for spec_object in objects:
            missing = set(seed_variant.get("required", [])) - set(spec_object.get("required", []))
            if missing:
                found.append(f"{where}: {sorted(missing)} not required")
            for name, seed_property in seed_properties.items():
                if name not in spec_object["properties"]:
                    found.append(f"{where}.{name}: not documented")
                    continue
                found += disagreements(
                    ours, spec_object["properties"][name], seeds, seed_property, f"{where}.{name}"
                )
    return found


def test_every_dialect_route_carries_its_tag(document):
    dialect_paths = [path for path in document["paths"] if path.startswith("/dialects/")]
    assert {path.split("/")[2] for path in dialect_paths} == set(TAGS)
    for path in dialect_paths:
        for method, operation in document["paths"][path].items():
            assert operation["tags"] == [TAGS[path.split("/")[2]]], (method, path)


@pytest.mark.parametrize(("route", "seed"), DOCUMENTED.items(), ids=lambda value: " ".join(value))
def test_documented_schemas_agree_with_the_seeds(document, route, seed):
    method, path, status = route
    dialect, definition = seed
    response = document["paths"][path][method]["responses"][status]
    (content,) = response["content"].values()
    seed_document = json.loads((SEEDS / f"{dialect}.json").read_text())
    ours, seeds = Schemas(document), Schemas(seed_document)
    assert disagreements(ours, content["schema"], seeds, {"$ref": f"#/$defs/{definition}"}, definition) == []
