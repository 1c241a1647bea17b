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
