"""What `sam local invoke` / `sam local start-api` users rely on: every environment variable the code reads
is declared in template.yaml (SAM's --env-vars sets only declared ones), the AWS clients honour
AWS_ENDPOINT_URL, and env.json names only declared variables of real functions."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.template import load_template
from tests.conftest import REPO_ROOT

CODE_ROOTS = (REPO_ROOT / "layers" / "runs_core" / "runs_core", REPO_ROOT / "functions")
# Set by the Lambda runtime or the Web Adapter, never by the template.
RUNTIME_PROVIDED_PREFIXES = ("AWS_LAMBDA_", "_X_AMZN_")
RUNTIME_PROVIDED = frozenset({"PORT"})  # the Web Adapter's fallback for AWS_LWA_PORT
# Plain local values that stand in for a secret the deployed stack reads by ARN: a function that reads
# the ARN must also declare the plain one, or `--env-vars` cannot give it a local value.
LOCAL_STAND_INS = {
    "CURSOR_SECRET_ARN": "CURSOR_SECRET",
    "ADMIN_KEY_SECRET_ARN": "RUNS_API_ADMIN_KEY",
    "WEBHOOK_SECRET_ARN": "RUNS_API_WEBHOOK_SECRET",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(REPO_ROOT / "template.yaml")


def _sources() -> Iterator[tuple[Path, ast.Module]]:
    for root in CODE_ROOTS:
        for path in sorted(root.rglob("*.py")):
            yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _is_environ(node: ast.expr) -> bool:
    """`os.environ`, or a parameter / name called `environ` or `env` (a Mapping passed os.environ)."""
    if isinstance(node, ast.Attribute):
        return node.attr == "environ"
    return isinstance(node, ast.Name) and node.id in ("environ", "env")


def variables_read_by_code() -> dict[str, str]:
    """Every environment variable the layer and the handlers read → where (file:line)."""
    from runs_core.settings import ENV_NAMES

    found: dict[str, str] = {name: "runs_core/settings.py ENV_NAMES" for name in ENV_NAMES.values()}
    for path, module in _sources():
        for node in ast.walk(module):
            name: ast.expr | None = None
            if isinstance(node, ast.Call) and node.args:
                func = node.func
                reads = isinstance(func, ast.Attribute) and (
                    func.attr == "getenv" or (func.attr == "get" and _is_environ(func.value))
                )
                name = node.args[0] if reads else None
            elif (
                isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and _is_environ(node.value)
            ):
                name = node.slice
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                found.setdefault(name.value, f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
    return found


def _declared(template: dict[str, Any]) -> tuple[set[str], dict[str, set[str]]]:
    """(variables in Globals, function → its own variables)."""
    globals_ = set(template["Globals"]["Function"]["Environment"]["Variables"])
    functions = {
        name: set((resource["Properties"].get("Environment") or {}).get("Variables") or {})
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    return globals_, functions


def test_the_scan_finds_what_the_code_reads() -> None:
    """Guards the guard: variables read in each of the ways the code reads them."""
    found = variables_read_by_code()
    assert {"RUNS_TABLE", "RUNS_API_WEBHOOK_SECRET", "RUNS_API_HTTP_ALLOWLIST", "AWS_LWA_PORT"} <= set(found)
    assert "POWERTOOLS_METRICS_NAMESPACE" in found


def test_every_variable_the_code_reads_is_declared(template: dict[str, Any]) -> None:
    """`sam local invoke --env-vars env.json` sets only variables the template declares for the function:
    one the code reads but the template does not declare cannot be set under `sam local` at all."""
    globals_, functions = _declared(template)
    declared = globals_.union(*functions.values())
    missing = {
        name: where
        for name, where in variables_read_by_code().items()
        if name not in declared
        and name not in RUNTIME_PROVIDED
        and not name.startswith(RUNTIME_PROVIDED_PREFIXES)
    }
    assert not missing, f"read by the code, declared by no function in template.yaml: {missing}"


def test_functions_that_read_a_secret_by_arn_can_be_given_a_plain_one(template: dict[str, Any]) -> None:
    globals_, functions = _declared(template)
    for function, variables in functions.items():
        for arn_variable, plain in LOCAL_STAND_INS.items():
            if arn_variable in variables | globals_:
                assert plain in variables | globals_, (
                    f"{function} reads {arn_variable}, cannot be given {plain}"
                )


def test_local_only_variables_are_empty_when_deployed(template: dict[str, Any]) -> None:
    """Declared for `sam local`, they must not change a deployed stack: empty (runs_core treats an empty
    variable as unset, and so does botocore for AWS_ENDPOINT_URL)."""
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    for name in ("AWS_ENDPOINT_URL", *LOCAL_STAND_INS.values(), "API_KEY_PREFIX", "FILES_PUBLIC_ENDPOINT"):
        assert variables[name] == "", name


def test_env_json_sets_only_declared_variables_of_real_functions(template: dict[str, Any]) -> None:
    """SAM ignores an env.json entry the template does not declare, silently: a typo would go unnoticed."""
    env = json.loads((REPO_ROOT / "env.json").read_text(encoding="utf-8"))
    globals_, functions = _declared(template)
    assert set(env) - {"Parameters"} <= set(functions), "env.json names functions template.yaml lacks"
    for name in env.get("Parameters", {}):
        assert name in globals_.union(*functions.values()), f"env.json Parameters.{name} is declared nowhere"
    for function, variables in env.items():
        if function != "Parameters":
            for name in variables:
                assert name in globals_ | functions[function], f"env.json {function}.{name} is not declared"
    assert env["Parameters"].get("AWS_ENDPOINT_URL"), "env.json should show pointing the clients elsewhere"


# ------------------------------------------------------------------ AWS_ENDPOINT_URL


def _client_calls() -> Iterator[tuple[str, ast.Call]]:
    """Every boto3 client or session construction in the layer and the handlers."""
    for path, module in _sources():
        for node in ast.walk(module):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in ("client", "resource", "Session", "Config"):
                yield f"{path.relative_to(REPO_ROOT)}:{node.lineno}", node


# Clients that name their endpoint on purpose: the API Gateway Management API has no default endpoint (it
# is the WebSocket API's own URL), and the local stack's presigner points URLs at its /_s3 route (only
# when FILES_PUBLIC_ENDPOINT is set; otherwise endpoint_url=None leaves AWS_ENDPOINT_URL in charge).
ENDPOINT_ON_PURPOSE = {"runs_core/stream/websocket.py", "runs_core/storage/files.py"}


def test_no_client_defeats_aws_endpoint_url() -> None:
    """boto3 sends every client to AWS_ENDPOINT_URL (DynamoDB Local, a moto server) unless the code passes
    endpoint_url itself or sets ignore_configured_endpoint_urls."""
    calls = list(_client_calls())
    assert len(calls) >= 5, calls  # the scan sees the clients
    for where, call in calls:
        keywords = {keyword.arg for keyword in call.keywords}
        assert "ignore_configured_endpoint_urls" not in keywords, where
        if "endpoint_url" in keywords:
            assert any(where.startswith(f"layers/runs_core/{path}") for path in ENDPOINT_ON_PURPOSE), where


def test_boto3_honours_aws_endpoint_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pinned botocore reads AWS_ENDPOINT_URL, and an empty value (the deployed template's) is unset."""
    import boto3

    from runs_core.storage import dynamo

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:8000")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert dynamo.client.__wrapped__().meta.endpoint_url == "http://127.0.0.1:8000"  # type: ignore[attr-defined]
    monkeypatch.setenv("AWS_ENDPOINT_URL", "")
    assert boto3.client("dynamodb").meta.endpoint_url == "https://dynamodb.us-east-1.amazonaws.com"
