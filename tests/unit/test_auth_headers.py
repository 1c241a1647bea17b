"""The three key header forms of docs/api.md §1."""

import pytest

from runs_core.auth import key_from_headers


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer sk_test_abc"},
        {"authorization": "bearer sk_test_abc"},
        {"Authorization": "Api-Key sk_test_abc"},
        {"x-api-key": "sk_test_abc"},
        {"X-Api-Key": " sk_test_abc "},
    ],
)
def test_key_forms(headers):
    assert key_from_headers(headers) == "sk_test_abc"


@pytest.mark.parametrize(
    "headers",
    [None, {}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "}, {"x-api-key": ""}],
)
def test_no_key(headers):
    assert key_from_headers(headers) is None
