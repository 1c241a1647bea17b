"""Orgs, API keys and operator requests (docs/api.md §7)."""

from typing import Literal

from pydantic import ConfigDict, Field

from runs_core.logic.rate_limits import DEFAULT_LIMITS
from runs_core.models.common import RequestModel, ResponseModel


class RateLimits(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [dict(DEFAULT_LIMITS)]})

    runs_per_minute: int = Field(DEFAULT_LIMITS["runs_per_minute"], ge=0, le=1_000_000)
    requests_per_minute: int = Field(DEFAULT_LIMITS["requests_per_minute"], ge=0, le=10_000_000)


class Org(ResponseModel):
    id: str
    object: Literal["org"] = "org"
    name: str
    credits_balance: int
    rate_limits: RateLimits
    created_at: str


class CreateApiKey(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "ci"}]})

    name: str = Field(min_length=1, max_length=128)


class ApiKey(ResponseModel):
    id: str
    object: Literal["api_key"] = "api_key"
    name: str
    prefix: str = Field(description="The first characters of the key, to recognise it.")
    created_at: str
    revoked_at: str | None = None


class CreatedApiKey(ApiKey):
    key: str = Field(description="The secret key. Shown once; only its hash is stored.")


class CreateOrg(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "acme",
                    "credits": 100000,
                    "rate_limits": {"runs_per_minute": 20, "requests_per_minute": 600},
                }
            ]
        }
    )

    name: str = Field(min_length=1, max_length=128)
    credits: int = Field(0, ge=0, le=10**15)
    rate_limits: RateLimits | None = None


class UpdateOrg(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "credits_balance": 500000,
                    "rate_limits": {"runs_per_minute": 60, "requests_per_minute": 1200},
                }
            ]
        }
    )

    credits_balance: int | None = Field(None, ge=-(10**15), le=10**15)
    rate_limits: RateLimits | None = None


class CreatedOrg(ResponseModel):
    org: Org
    api_key: CreatedApiKey
