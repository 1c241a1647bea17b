"""devstack.client_memo: botocore's User-Agent memoized per client, byte for byte what botocore builds."""

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.context import start_as_current_context
from botocore.useragent import UserAgentString, register_feature_id

from devstack import client_memo


@pytest.fixture(autouse=True)
def installed() -> None:
    client_memo.install()


def botocore_string(ua: UserAgentString) -> str:
    return UserAgentString.to_string.__wrapped__(ua)  # type: ignore[attr-defined,no-any-return]


def test_the_user_agent_is_memoized() -> None:
    assert UserAgentString.to_string.__name__ == "memoized_to_string"


@pytest.mark.parametrize(
    "settings",
    [
        None,
        {"user_agent_appid": "my-app", "user_agent_extra": "extra/1", "retries": {"mode": "adaptive"}},
        {"user_agent": "legacy-agent/1.0"},
    ],
)
def test_the_header_is_the_one_botocore_builds(settings: dict[str, Any] | None) -> None:
    config = None if settings is None else Config(**settings)
    client = boto3.Session(region_name="us-east-1").client(
        "dynamodb", config=config, aws_access_key_id="a", aws_secret_access_key="b"
    )
    ua = client._user_agent_creator
    first = ua.to_string()
    assert first == botocore_string(ua) == ua.to_string()
    if settings is not None and "user_agent" in settings:
        assert first.startswith("legacy-agent/1.0")


def test_features_registered_later_are_in_the_header() -> None:
    client = boto3.Session(region_name="us-east-1").client(
        "dynamodb", aws_access_key_id="a", aws_secret_access_key="b"
    )
    ua = client._user_agent_creator
    before = ua.to_string()
    with start_as_current_context():
        register_feature_id("WAITER")
        register_feature_id("PAGINATOR")
        during = ua.to_string()
        assert during == botocore_string(ua)
        assert during != before
    assert ua.to_string() == before == botocore_string(ua)
