"""What CloudFormation receives: template.yaml through the SAM transform (offline), checked for what SAM adds
on its own: stages, Lambda permissions, environment variables."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract.sam_transform import transformed_template


@pytest.fixture(scope="module")
def transformed() -> dict[str, Any]:
    return transformed_template()


def _of_type(transformed: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in transformed["Resources"].items() if res["Type"] == type_}


def test_the_rest_api_has_one_stage_the_configured_one(transformed: dict[str, Any]) -> None:
    """SAM's default (no OpenApiVersion) gives the Deployment `StageName: Stage`: a second stage, reachable as
    /Stage/v1/..., without the real stage's throttling, tracing or logging."""
    stages = _of_type(transformed, "AWS::ApiGateway::Stage")
    assert {name: res["Properties"]["StageName"] for name, res in stages.items()} == {
        "RunsApiStage": {"Ref": "StageName"}
    }
    for name, deployment in _of_type(transformed, "AWS::ApiGateway::Deployment").items():
        assert "StageName" not in deployment["Properties"], f"{name} makes a stage of its own"


def _functions(transformed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return _of_type(transformed, "AWS::Lambda::Function")


def _role_statements(transformed: dict[str, Any], function: dict[str, Any]) -> list[dict[str, Any]]:
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in transformed["Resources"][role]["Properties"].get("Policies") or []
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def test_no_secret_value_is_resolved_into_an_environment(transformed: dict[str, Any]) -> None:
    """A `{{resolve:secretsmanager:…}}` in Environment puts the secret in plain text in every function's
    configuration (console, GetFunctionConfiguration, CloudFormation): pass the ARN, read it at run time."""
    for name, function in _functions(transformed).items():
        variables = (function["Properties"].get("Environment") or {}).get("Variables") or {}
        for variable, value in variables.items():
            assert "{{resolve:" not in str(value), f"{name}.{variable} resolves a secret into its environment"


def test_functions_that_page_read_the_cursor_secret_by_arn(transformed: dict[str, Any]) -> None:
    paging = {"AgentsFunction", "RunsFunction", "ThreadsFunction", "AccountFunction"}
    functions = _functions(transformed)
    for name in paging:
        variables = functions[name]["Properties"]["Environment"]["Variables"]
        assert variables["CURSOR_SECRET_ARN"] == {"Ref": "CursorSigningSecret"}, name
        assert any(
            "secretsmanager:GetSecretValue" in statement["Action"]
            and statement["Resource"] == {"Ref": "CursorSigningSecret"}
            for statement in _role_statements(transformed, functions[name])
        ), f"{name} may not read CursorSigningSecret"
