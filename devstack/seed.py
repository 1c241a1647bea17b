"""What the local stack seeds: org `dev` with a known key, and the offline `demo` agent (not in the layer)."""

from runs_core.context import Caller
from runs_core.logic import accounts, agents
from runs_core.models.account import CreateOrg
from runs_core.models.agents import CreateAgent

DEMO_AGENT = {
    "name": "demo",
    "description": "A scripted agent that echoes a tool call and streams its answer: runs offline, no model.",
    "version": "1.0.0",
    "definition": {
        "instructions": "Greet the user by name.",
        "model": {
            "provider": "scripted",
            "price": {"input_per_mtok": 3.0, "output_per_mtok": 15.0},
            "script": [
                {"tool_calls": [{"name": "echo", "arguments": {"hello": "world"}}]},
                {
                    "text": "Hello from the demo agent! A scripted model streams these words to you as they "
                    "come, a few characters every 40 ms, like a real one would.",
                    "stream": {"chunk_chars": 6, "interval_ms": 40},
                    "outputs": {"greeting": "Hello from the demo agent!"},
                },
            ],
        },
        "input_schema": {
            "type": "object",
            "properties": {"name": {"type": "string", "maxLength": 100}},
            "additionalProperties": False,
        },
        "outputs": [{"key": "greeting", "description": "The greeting", "data_type": "text/plain"}],
        "actions": [{"name": "echo", "kind": "builtin", "description": "Returns its arguments."}],
    },
}


def seed_dev(org_name: str, credits: int, api_key: str) -> str:
    """Create the dev org with `api_key` and the demo agent; returns the org id."""
    created = accounts.create_org(CreateOrg(name=org_name, credits=credits), secret=api_key)
    caller = Caller(org_id=created.org.id, api_key_id=created.api_key.id)
    agents.create_agent(caller, CreateAgent.model_validate(DEMO_AGENT))
    return created.org.id
