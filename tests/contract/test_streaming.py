"""Contract tests for the deployed SSE stream (README "Events: polling and Server-Sent Events").

GET /v1/runs/{run_id}/events is served by EventsFunction behind the AWS Lambda Web Adapter, through an
API Gateway REST integration in STREAM transfer mode, on the same API, authorizer and stage as every
route. These tests pin what template.yaml says, and what SAM makes of it (the transform runs offline:
the integration CloudFormation would create is checked, not only our own property names).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from devstack.template import load_template
from runs_core.api.sse import DEADLINE_MARGIN_SECONDS
from runs_core.logic.events import MAX_STREAM_WAIT_SECONDS
from tests.contract.sam_transform import transform_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
ROUTE = "/v1/runs/{run_id}/events"
LAMBDA_MAX_TIMEOUT_S = 900  # Lambda's longest timeout, and API Gateway's longest stream (15 minutes)
# AWS's Lambda Web Adapter layer for arm64 (awslabs/aws-lambda-web-adapter publishes it from this account).
WEB_ADAPTER_LAYER = re.compile(
    r"^arn:\$\{AWS::Partition\}:lambda:\$\{AWS::Region\}:753240598075:layer:LambdaAdapterLayerArm64:\d+$"
)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


@pytest.fixture(scope="module")
def events_function(template: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = template["Resources"]["EventsFunction"]["Properties"]
    return properties


@pytest.fixture(scope="module")
def transformed(template: dict[str, Any]) -> dict[str, Any]:
    """template.yaml through the SAM transform, as CloudFormation receives it (code URIs made up)."""
    return transform_template(template)


OPENAI_DIALECT_ROUTES = {
    ("post", "/dialects/openai/v1/responses"),
    ("get", "/dialects/openai/v1/responses/{response_id}"),
    ("delete", "/dialects/openai/v1/responses/{response_id}"),
    ("post", "/dialects/openai/v1/responses/{response_id}/cancel"),
}
LANGGRAPH_DIALECT_ROUTES = {
    ("post", "/dialects/langgraph/assistants/search"),
    ("get", "/dialects/langgraph/assistants/{assistant_id}"),
    ("post", "/dialects/langgraph/threads"),
    ("get", "/dialects/langgraph/threads/{thread_id}"),
    ("get", "/dialects/langgraph/threads/{thread_id}/state"),
    ("post", "/dialects/langgraph/threads/{thread_id}/runs"),
    ("get", "/dialects/langgraph/threads/{thread_id}/runs"),
    ("post", "/dialects/langgraph/threads/{thread_id}/runs/wait"),
    ("post", "/dialects/langgraph/threads/{thread_id}/runs/stream"),
    ("get", "/dialects/langgraph/threads/{thread_id}/runs/{run_id}"),
    ("post", "/dialects/langgraph/threads/{thread_id}/runs/{run_id}/cancel"),
    ("get", "/dialects/langgraph/threads/{thread_id}/runs/{run_id}/join"),
    ("get", "/dialects/langgraph/threads/{thread_id}/runs/{run_id}/stream"),
}


def _integrations(transformed: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    paths = transformed["Resources"]["RunsApi"]["Properties"]["Body"]["paths"]
    return {
        (method, path): operation
        for path, operations in paths.items()
        for method, operation in operations.items()
        if isinstance(operation, dict) and "x-amazon-apigateway-integration" in operation
    }


def _integration(operation: dict[str, Any]) -> dict[str, Any]:
    integration: dict[str, Any] = operation["x-amazon-apigateway-integration"]
    return integration


def test_the_events_route_streams_through_the_runs_api(events_function: dict[str, Any]) -> None:
    event = events_function["Events"]["ListRunEvents"]
    assert event["Type"] == "Api"
    properties = event["Properties"]
    assert (properties["Method"], properties["Path"]) == ("get", ROUTE)
    assert properties["RestApiId"] == {"Ref": "RunsApi"}  # same host and stage (throttling) as every route
    assert "Auth" not in properties  # the API's default authorizer: ApiKeyAuthorizer
    assert properties["ResponseTransferMode"] == "RESPONSE_STREAM"
    assert properties["TimeoutInMillis"] == LAMBDA_MAX_TIMEOUT_S * 1000


def test_sam_makes_a_stream_mode_integration_behind_the_authorizer(transformed: dict[str, Any]) -> None:
    integrations = _integrations(transformed)
    operation = integrations[("get", ROUTE)]
    integration = _integration(operation)
    assert integration["type"] == "aws_proxy"
    assert integration["responseTransferMode"] == "STREAM"
    assert integration["timeoutInMillis"] == LAMBDA_MAX_TIMEOUT_S * 1000
    uri = integration["uri"]["Fn::Sub"]
    # InvokeWithResponseStream, not Invoke (2015-03-31/…/invocations)
    assert uri.endswith(":path/2021-11-15/functions/${EventsFunction.Arn}/response-streaming-invocations")
    assert operation["security"] == [{"ApiKeyAuthorizer": []}]
    # The streamed routes: this one and the OpenAI Responses and LangGraph dialects' (a function behind the
    # web adapter streams all its routes); every other integration stays buffered (InvokeFunction).
    streamed = {key for key, op in integrations.items() if "responseTransferMode" in _integration(op)}
    assert streamed == {("get", ROUTE), *OPENAI_DIALECT_ROUTES, *LANGGRAPH_DIALECT_ROUTES}
    permission = transformed["Resources"]["EventsFunctionListRunEventsPermissionStage"]["Properties"]
    assert permission["Action"] == "lambda:InvokeFunction"  # what InvokeWithResponseStream requires
    assert permission["Principal"] == "apigateway.amazonaws.com"


def test_events_function_runs_behind_the_lambda_web_adapter(
    template: dict[str, Any], events_function: dict[str, Any]
) -> None:
    globals_ = template["Globals"]["Function"]
    assert events_function["Handler"] == "run.sh"
    assert events_function.get("Runtime", globals_["Runtime"]) == "python3.12"
    assert events_function.get("Architectures", globals_["Architectures"]) == ["arm64"]
    layers = globals_["Layers"] + events_function["Layers"]  # SAM concatenates Globals' list first
    assert {"Ref": "RunsCoreLayer"} in layers
    assert [layer for layer in layers if isinstance(layer, dict) and "Fn::Sub" in layer] == [
        {"Fn::Sub": layer["Fn::Sub"]} for layer in events_function["Layers"]
    ]
    assert WEB_ADAPTER_LAYER.match(events_function["Layers"][0]["Fn::Sub"]), events_function["Layers"]
    variables = events_function["Environment"]["Variables"]
    assert variables["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert variables["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert str(variables["AWS_LWA_PORT"]).isdigit()
    assert "AWS_LWA_ENABLE_COMPRESSION" not in variables  # buffers the body: not with streaming


def test_the_startup_script_serves_the_stream_handler(events_function: dict[str, Any]) -> None:
    script = ROOT / events_function["CodeUri"] / events_function["Handler"]
    text = script.read_text(encoding="utf-8")
    assert text.startswith("#!/bin/bash\n") and "\r" not in text
    assert "exec python3 -m runs_core.api.lwa_server app:stream_handler" in text
    mode = subprocess.run(
        ["git", "ls-files", "--stage", str(script.relative_to(ROOT))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert mode and mode[0] == "100755", "run.sh must be committed executable (LWA's bootstrap execs it)"


def test_a_stream_ends_before_the_function_and_the_gateway_give_up(events_function: dict[str, Any]) -> None:
    timeout = events_function["Timeout"]
    assert timeout == LAMBDA_MAX_TIMEOUT_S
    assert timeout >= MAX_STREAM_WAIT_SECONDS
    assert events_function["Events"]["ListRunEvents"]["Properties"]["TimeoutInMillis"] <= timeout * 1000
    assert 0 < DEADLINE_MARGIN_SECONDS < 30  # the retry: frame leaves before Lambda stops the function


def test_events_function_reads_only_what_the_route_needs(events_function: dict[str, Any]) -> None:
    statements = events_function["Policies"][0]["Statement"]
    granted = {(each["Sid"], tuple(sorted(each["Action"]))): each["Resource"] for each in statements}
    assert granted == {
        ("RateLimitCounters", ("dynamodb:UpdateItem",)): {"Fn::GetAtt": ["RateLimitsTable", "Arn"]},
        ("RunsRead", ("dynamodb:GetItem",)): {"Fn::GetAtt": ["RunsTable", "Arn"]},
        ("EventsRead", ("dynamodb:Query",)): {"Fn::GetAtt": ["EventsTable", "Arn"]},
    }


def test_the_stream_router_pushes_without_a_batching_window(template):
    """WebSocket pushes are live: the router's stream mapping must not hold records back to fill a batch."""
    router = template["Resources"]["EventRouterFunction"]["Properties"]
    [stream] = [event["Properties"] for event in router["Events"].values() if event["Type"] == "DynamoDB"]
    assert stream.get("MaximumBatchingWindowInSeconds", 0) == 0
