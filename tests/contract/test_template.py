"""Contract tests for template.yaml: it validates, builds, and says what the code expects."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from devstack.template import Template, load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SAM = Path(sys.executable).parent / "sam"

# The routes the first handlers serve (see docs/api.md). More routes may be added; none may vanish.
EXPECTED_ROUTES = {
    ("AgentsFunction", "POST", "/v1/agents"),
    ("AgentsFunction", "GET", "/v1/agents"),
    ("AgentsFunction", "GET", "/v1/agents/{agent}"),
    ("AgentsFunction", "POST", "/v1/agents/{agent}/versions"),
    ("AgentsFunction", "GET", "/v1/agents/{agent}/versions"),
    ("AgentsFunction", "GET", "/v1/agents/{agent}/versions/{version}"),
    ("AgentsFunction", "PUT", "/v1/agents/{agent}/tags/{tag}"),
    ("RunsFunction", "POST", "/v1/runs"),
    ("RunsFunction", "GET", "/v1/runs"),
    ("RunsFunction", "GET", "/v1/runs/{run_id}"),
    ("RunsFunction", "POST", "/v1/runs/{run_id}/invoke"),
    ("RunsFunction", "POST", "/v1/runs/{run_id}/cancel"),
    ("AccountFunction", "GET", "/v1/org"),
    ("AccountFunction", "POST", "/v1/api-keys"),
    ("AccountFunction", "GET", "/v1/api-keys"),
    ("AccountFunction", "DELETE", "/v1/api-keys/{key_id}"),
    ("AdminFunction", "POST", "/v1/admin/orgs"),
    ("AdminFunction", "PATCH", "/v1/admin/orgs/{org_id}"),
    ("DocsFunction", "GET", "/v1/health"),
    ("DocsFunction", "GET", "/v1/openapi.json"),
    ("DocsFunction", "GET", "/v1/docs"),
}
WEB_ADAPTER_HANDLER = "run.sh"
LAYER_LOCAL_ONLY = ("user_actions/examples.py",)
PUBLIC_ROUTES = {("GET", "/v1/health"), ("GET", "/v1/openapi.json"), ("GET", "/v1/docs")}


def _sam_env() -> dict[str, str]:
    env = dict(os.environ)
    env["SAM_CLI_TELEMETRY"] = "0"
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    # `sam build` looks for python3.12 on PATH; the virtualenv's interpreter is that Python.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _run_sam(*args: str, timeout: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SAM), *args],
        cwd=ROOT,
        env=_sam_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


def _resources_of_type(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template["Resources"].items() if res["Type"] == type_}


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return _resources_of_type(template, "AWS::Serverless::Function")


def _api_events(*, catch_all: bool = False) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(function, METHOD, path, event properties) for every Api event: the API's operations, or with
    `catch_all` only the ANY routes (MethodNotAllowedFunction's 405s, not operations)."""
    events = Template(TEMPLATE).api_events()
    return [(e.function, e.method, e.path, e.properties) for e in events if (e.method == "ANY") == catch_all]


# ------------------------------------------------------------------------------ sam CLI


def test_cfn_lint_every_rule_is_clean() -> None:
    """cfn-lint with the experimental and informational rules (.cfnlintrc.yaml; each skipped rule has its
    reason there). `sam validate --lint` is the same cfn-lint with the default rules only: a template clean
    here is clean there, so it is not run as well (it took as long as this)."""
    config = (ROOT / ".cfnlintrc.yaml").read_text(encoding="utf-8")
    assert "include_experimental: true" in config
    result = subprocess.run(
        [str(SAM.parent / "cfn-lint"), "--format", "parseable"],
        cwd=ROOT,
        env=_sam_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"cfn-lint:\n{result.stdout}\n{result.stderr}"


def test_sam_build(tmp_path: Path, template: dict[str, Any]) -> None:
    build_dir = tmp_path / "build"
    result = _run_sam(
        "build",
        "--template-file",
        str(TEMPLATE),
        "--build-dir",
        str(build_dir),
        "--cache-dir",
        str(tmp_path / "cache"),
        timeout=900,
    )
    assert result.returncode == 0, f"sam build failed:\n{result.stdout}\n{result.stderr}"

    layer = build_dir / "RunsCoreLayer"
    assert (layer / "python" / "runs_core" / "__init__.py").is_file(), "layer lacks python/runs_core"
    assert (layer / "python" / "pydantic").is_dir(), "layer lacks its pinned dependencies"
    # The runtime's boto3 must run on the runtime's botocore; local-only code stays out of the layer.
    assert not (layer / "python" / "botocore").exists(), "the layer ships botocore without boto3"
    assert not (layer / "python" / "boto3").exists()
    for local_only in LAYER_LOCAL_ONLY:
        assert not (layer / "python" / local_only).exists(), f"the layer ships {local_only}"
    assert (layer / "python" / "user_actions" / "__init__.py").is_file()
    for name, res in _functions(template).items():
        assert (build_dir / name / "app.py").is_file(), f"built {name} has no app.py"
        if res["Properties"]["Handler"] == WEB_ADAPTER_HANDLER:  # the script LWA's bootstrap executes
            assert os.access(build_dir / name / WEB_ADAPTER_HANDLER, os.X_OK), f"built {name}: run.sh"
    assert (build_dir / "template.yaml").is_file()


def test_layer_requirements_leave_the_runtimes_boto3_stack_alone() -> None:
    """aws-xray-sdk depends on botocore: shipped without boto3 it would shadow the runtime's botocore under
    the runtime's boto3 (a pair never released together). The layer ships neither, nor what only botocore
    needs (urllib3 would shadow the runtime's too)."""
    requirements = (ROOT / "layers" / "runs_core" / "requirements.txt").read_text(encoding="utf-8")
    names = {line.split("==")[0].strip().lower() for line in requirements.splitlines() if "==" in line}
    assert names.isdisjoint({"boto3", "botocore", "s3transfer", "urllib3", "python-dateutil", "six"}), names
    assert {"aws-lambda-powertools", "aws-xray-sdk", "pydantic"} <= names


# ------------------------------------------------------------------------------ structure


def test_every_function_has_a_lambda_handler(template: dict[str, Any]) -> None:
    """app.lambda_handler, or for a function behind the Lambda Web Adapter run.sh, which serves that
    app.py's stream_handler (tests/contract/test_streaming.py); its app.py has a lambda_handler too."""
    functions = _functions(template)
    assert functions
    for name, res in functions.items():
        props = res["Properties"]
        variables = (props.get("Environment") or {}).get("Variables") or {}
        behind_web_adapter = variables.get("AWS_LAMBDA_EXEC_WRAPPER") == "/opt/bootstrap"
        assert props["Handler"] == (WEB_ADAPTER_HANDLER if behind_web_adapter else "app.lambda_handler"), name
        code_dir = ROOT / props["CodeUri"]
        assert code_dir.is_dir(), f"{name}: CodeUri {props['CodeUri']} does not exist"
        app = code_dir / "app.py"
        assert app.is_file(), f"{name}: {app.relative_to(ROOT)} does not exist"
        tree = ast.parse(app.read_text(encoding="utf-8"), filename=str(app))
        defined = {
            node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        } | {
            target.id
            for node in tree.body
            if isinstance(node, ast.Assign | ast.AnnAssign)
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(target, ast.Name)
        }
        assert "lambda_handler" in defined, f"{name}: {app.relative_to(ROOT)} defines no lambda_handler"


def test_every_route_appears_exactly_once(template: dict[str, Any]) -> None:
    events = _api_events() + _api_events(catch_all=True)
    counts = Counter((method, path) for _, method, path, _ in events)
    duplicates = {route: n for route, n in counts.items() if n > 1}
    assert not duplicates, f"routes declared more than once: {duplicates}"
    for _, _, _, props in events:
        assert props.get("RestApiId") == {"Ref": "RunsApi"}


def test_expected_routes_are_served(template: dict[str, Any]) -> None:
    served = {(fn, method, path) for fn, method, path, _ in _api_events()}
    missing = EXPECTED_ROUTES - served
    assert not missing, f"routes missing from template.yaml: {sorted(missing)}"


def test_only_public_routes_skip_the_authorizer(template: dict[str, Any]) -> None:
    api = template["Resources"]["RunsApi"]["Properties"]
    assert api["Auth"]["DefaultAuthorizer"] == "ApiKeyAuthorizer"
    for _, method, path, props in _api_events():
        unauthenticated = (props.get("Auth") or {}).get("Authorizer") == "NONE"
        assert unauthenticated == ((method, path) in PUBLIC_ROUTES), f"{method} {path}"


def test_every_routed_path_has_one_catch_all_405_route(template: dict[str, Any]) -> None:
    """API Gateway REST has no 405: each path with operations gets an ANY route to MethodNotAllowedFunction
    (its own methods win over ANY), with the same auth as the path's operations; no ANY route elsewhere."""
    operations: dict[str, set[str]] = {}
    auth: dict[str, set[bool]] = {}
    for _, method, path, props in _api_events():
        operations.setdefault(path, set()).add(method)
        auth.setdefault(path, set()).add((props.get("Auth") or {}).get("Authorizer") == "NONE")
    catch_all = _api_events(catch_all=True)
    assert Counter(path for _, _, path, _ in catch_all) == Counter(set(operations)), "one ANY per routed path"
    for function, _, path, props in catch_all:
        assert function == "MethodNotAllowedFunction", f"ANY {path} is served by {function}"
        unauthenticated = (props.get("Auth") or {}).get("Authorizer") == "NONE"
        assert auth[path] == {unauthenticated}, f"ANY {path}: not the auth of the path's operations"


def test_allow_header_lists_each_paths_template_methods(template: dict[str, Any]) -> None:
    from runs_core.api.document import route_methods

    operations: dict[str, set[str]] = {}
    for _, method, path, _ in _api_events():
        operations.setdefault(path, set()).add(method)
    assert {path: set(methods) for path, methods in route_methods().items()} == operations


def test_method_not_allowed_function_has_no_aws_access(template: dict[str, Any]) -> None:
    assert not template["Resources"]["MethodNotAllowedFunction"]["Properties"].get("Policies")


def test_authorizer_cache_is_off(template: dict[str, Any]) -> None:
    # The key may arrive in one of three headers; API Gateway's cache would need all of them.
    authorizer = template["Resources"]["RunsApi"]["Properties"]["Auth"]["Authorizers"]["ApiKeyAuthorizer"]
    assert authorizer["FunctionPayloadType"] == "REQUEST"
    assert authorizer["Identity"]["ReauthorizeEvery"] == 0
    assert not {"Headers", "QueryStrings", "StageVariables", "Context"} & set(authorizer["Identity"])


def test_gateway_errors_are_problem_json(template: dict[str, Any]) -> None:
    responses = template["Resources"]["RunsApi"]["Properties"]["GatewayResponses"]
    for kind in ("UNAUTHORIZED", "ACCESS_DENIED", "MISSING_AUTHENTICATION_TOKEN", "THROTTLED", "DEFAULT_5XX"):
        assert kind in responses, kind
    assert str(responses["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"]) == "404"
    for kind, response in responses.items():
        headers = response["ResponseParameters"]["Headers"]
        assert headers["Content-Type"] == "'application/problem+json'", kind
        assert headers["Request-Id"] == "context.requestId", kind
        body = response["ResponseTemplates"]["application/json"]
        assert '"request_id":"$context.requestId"' in body, kind
        if "StatusCode" in response:
            assert f'"status":{response["StatusCode"]}' in body, kind


# ------------------------------------------------------------------------------ IAM


def _statements(node: Any) -> list[dict[str, Any]]:
    """Every IAM statement anywhere in the template (function Policies, roles, ...)."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        statement = node.get("Statement")
        if statement is not None:
            found.extend(statement if isinstance(statement, list) else [statement])
        for value in node.values():
            found.extend(_statements(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_statements(value))
    return found


def test_no_scan_and_no_wildcard_actions(template: dict[str, Any]) -> None:
    statements = _statements(template["Resources"])
    assert statements, "expected explicit IAM statements"
    for statement in statements:
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        for action in actions:
            assert isinstance(action, str), statement
            if statement.get("Effect") == "Deny":
                continue  # a guard (e.g. the files bucket's deny of non-TLS requests) may deny s3:*
            assert "*" not in action, f"wildcard action {action!r}"
            assert action.lower() != "dynamodb:scan", f"{action!r}: no request path scans a table"
        assert "NotAction" not in statement, statement


def test_functions_use_explicit_statements_only(template: dict[str, Any]) -> None:
    for name, res in _functions(template).items():
        for policy in res["Properties"].get("Policies") or []:
            assert isinstance(policy, dict) and "Statement" in policy, (
                f"{name}: use explicit Statements, not SAM policy templates or managed policies: {policy!r}"
            )


def test_docs_function_has_no_aws_access(template: dict[str, Any]) -> None:
    assert not template["Resources"]["DocsFunction"]["Properties"].get("Policies")


# ------------------------------------------------------------------------------ tables


def test_tables_are_durable(template: dict[str, Any]) -> None:
    tables = _resources_of_type(template, "AWS::DynamoDB::Table")
    assert set(tables) >= {"OrgsTable", "ApiKeysTable", "AgentsTable", "RunsTable", "EventsTable"}
    for name, res in tables.items():
        props = res["Properties"]
        assert res.get("DeletionPolicy") == "Retain", name
        assert res.get("UpdateReplacePolicy") == "Retain", name
        assert props["BillingMode"] == "PAY_PER_REQUEST", name
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, name
        assert props["SSESpecification"]["SSEEnabled"] is True, name
        assert "TableName" not in props, name
    events = tables["EventsTable"]["Properties"]
    assert events["StreamSpecification"]["StreamViewType"] == "NEW_IMAGE"
    assert events["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_environment_names_every_table(template: dict[str, Any]) -> None:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    for var, table in {
        "ORGS_TABLE": "OrgsTable",
        "API_KEYS_TABLE": "ApiKeysTable",
        "AGENTS_TABLE": "AgentsTable",
        "RUNS_TABLE": "RunsTable",
        "EVENTS_TABLE": "EventsTable",
    }.items():
        assert variables[var] == {"Ref": table}, var
    # Its value stays in Secrets Manager (CURSOR_SECRET_ARN); the plain variable is only for `sam local`.
    assert variables.get("CURSOR_SECRET", "") == ""


# ------------------------------------------------------------------------------ one Python


def test_runtime_matches_python_version(template: dict[str, Any]) -> None:
    pinned = (ROOT / ".python-version").read_text(encoding="utf-8").strip()
    major_minor = ".".join(pinned.split(".")[:2])
    runtime = f"python{major_minor}"
    assert template["Globals"]["Function"]["Runtime"] == runtime
    assert f"python{sys.version_info.major}.{sys.version_info.minor}" == runtime, (
        f"the virtualenv runs Python {sys.version_info.major}.{sys.version_info.minor}, "
        f"the template {runtime}"
    )
    for name, res in _functions(template).items():
        assert res["Properties"].get("Runtime", runtime) == runtime, name
    layer = template["Resources"]["RunsCoreLayer"]
    assert layer["Properties"]["CompatibleRuntimes"] == [runtime]
    # Built by layers/runs_core/Makefile (no botocore, no local-only code), for this Python's wheels.
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    layer_makefile = (ROOT / "layers" / "runs_core" / "Makefile").read_text(encoding="utf-8")
    assert f"--python-version {major_minor} " in layer_makefile
    assert template["Globals"]["Function"]["Architectures"] == ["arm64"]
    assert layer["Metadata"]["BuildArchitecture"] == "arm64"


def test_alarms_watch_the_operational_metrics() -> None:
    """Observability (README): the alarms exist, by the metrics they watch, and a dashboard shows them."""
    resources = load_template(TEMPLATE)["Resources"]
    watched: set[tuple[str, str]] = set()
    for resource in resources.values():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        properties = resource["Properties"]
        if "MetricName" in properties:
            watched.add((properties["Namespace"], properties["MetricName"]))
        for query in properties.get("Metrics", []):
            metric = (query.get("MetricStat") or {}).get("Metric")
            if metric:
                watched.add((metric["Namespace"], metric["MetricName"]))
    assert {
        ("AWS/Lambda", "IteratorAge"),
        ("AWS/States", "ExecutionsFailed"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/ApiGateway", "5XXError"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
    } <= watched
    assert any(resource["Type"] == "AWS::CloudWatch::Dashboard" for resource in resources.values())
    assert resources["AlarmTopic"]["Condition"] == "HasAlarmEmail"
    # CloudWatch alarms cannot publish to a topic under the AWS-managed SNS key (their e-mails never leave)
    assert resources["AlarmTopic"]["Properties"].get("KmsMasterKeyId") != "alias/aws/sns"
