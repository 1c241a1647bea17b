"""Ids sort by time; request models refuse unknown and server-owned fields."""

import time

import pytest
from pydantic import ValidationError

from runs_core import ids
from runs_core.models.agents import CreateAgent
from runs_core.models.runs import CreateRun

SCRIPTED = {"model": {"provider": "scripted", "script": [{"text": "hi"}]}}


def test_ids_are_prefixed_and_sort_by_creation():
    first = ids.new_id("run")
    time.sleep(0.002)
    second = ids.new_id("run")
    assert first.startswith("run_") and ids.has_prefix(first, "run")
    assert first < second


def test_time_bounds_enclose_ids_minted_then():
    run_id, _ = ids.new_id_at("run")
    epoch_ms = int(time.time() * 1000)
    assert (
        ids.id_bound_at("run", epoch_ms - 5000, upper=False)
        < run_id
        < ids.id_bound_at("run", epoch_ms + 5000, True)
    )


@pytest.mark.parametrize("field", ["status", "org_id", "usage", "id", "created_at"])
def test_server_owned_fields_are_rejected(field):
    with pytest.raises(ValidationError) as caught:
        CreateRun.model_validate({"agent": "demo", field: "x"})
    assert caught.value.errors()[0]["type"] == "extra_forbidden"


def test_input_and_inputs_are_exclusive():
    with pytest.raises(ValidationError):
        CreateRun.model_validate({"agent": "a", "input": {}, "inputs": [{"name": "x", "value": 1}]})
    run = CreateRun.model_validate({"agent": "a", "inputs": [{"name": "x", "value": 1}]})
    assert run.resolved_input() == {"x": 1}


@pytest.mark.parametrize(
    "change",
    [
        {"name": "Bad Name"},
        {"version": "1.0"},
        {"tags": ["1.0.0"]},
        {"definition": {"model": {"provider": "scripted", "script": []}}},
        {"definition": {"model": {"provider": "bedrock"}}},
        {"definition": {**SCRIPTED, "input_schema": {"type": "nonsense"}}},
        {"definition": {**SCRIPTED, "actions": [{"name": "x", "kind": "http"}]}},
        {"definition": {**SCRIPTED, "actions": [{"name": "nope", "kind": "builtin"}]}},
    ],
)
def test_invalid_agents_are_rejected(change):
    with pytest.raises(ValidationError):
        CreateAgent.model_validate({"name": "a", "definition": SCRIPTED, **change})


def test_valid_agent_defaults():
    agent = CreateAgent.model_validate({"name": "invoice-triage", "definition": SCRIPTED})
    assert agent.version == "0.1.0" and agent.tags == ["latest"]
    assert agent.definition.limits.max_steps == 25
