"""template.yaml through the SAM transform, offline: what CloudFormation would receive."""

from __future__ import annotations

import copy
import os
from functools import cache
from pathlib import Path
from typing import Any

from devstack.template import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


def transform_template(template: dict[str, Any]) -> dict[str, Any]:
    """`template` through the SAM transform (code URIs made up; managed policies are not looked up)."""
    from samtranslator.translator.transform import transform

    document = copy.deepcopy(template)
    for resource in document["Resources"].values():
        properties = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://bucket/{properties[key]}"
    region = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"  # the transform needs a region, not an account
    try:
        result: dict[str, Any] = transform(document, {}, _NoManagedPolicies())
    finally:
        if region is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = region
    return result


@cache
def _transformed_repository_template() -> dict[str, Any]:
    return transform_template(load_template(TEMPLATE))


def transformed_template() -> dict[str, Any]:
    """The repository's template.yaml, transformed (a fresh copy each call)."""
    return copy.deepcopy(_transformed_repository_template())
