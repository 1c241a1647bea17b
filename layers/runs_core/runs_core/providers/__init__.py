"""Model providers behind one interface (docs/api.md §3 `model.provider`): scripted, bedrock, openai."""

from typing import Any

from runs_core.providers.base import ModelProvider


def provider_for(model: dict[str, Any]) -> ModelProvider:
    """The provider for a definition's `model` block. Imports lazily: a run loads only its provider."""
    name = model["provider"]
    if name == "scripted":
        from runs_core.providers.scripted import ScriptedProvider

        return ScriptedProvider()
    if name == "bedrock":
        from runs_core.providers.bedrock import BedrockProvider

        return BedrockProvider()
    if name == "openai":
        from runs_core.providers.openai import OpenAIProvider

        return OpenAIProvider()
    raise ValueError(f"unknown provider {name!r}")
