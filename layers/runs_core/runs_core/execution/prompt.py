"""The model request of a decision: the agent's instructions (and persona), the conversation so far
(the thread's history, the user's turn, earlier decisions and tool results) and the tools."""

import json
from collections.abc import Sequence
from typing import Any

from runs_core.run_status import STEP_COMPLETED, STEP_FAILED, STEP_RESULTS

ASK_USER_PARAMETERS = {
    "type": "object",
    "properties": {"prompt": {"type": "string", "description": "The question for the user."}},
    "required": ["prompt"],
}


def builtin_name(spec: dict[str, Any]) -> str | None:
    return (spec.get("builtin") or spec["name"]) if spec["kind"] == "builtin" else None


def user_turn(run: dict[str, Any]) -> str:
    """What the model is told first: the thread message (if any) and the run's input as JSON."""
    message, run_input = run.get("message"), run.get("input") or {}
    if message is None:
        return json.dumps(run_input)
    return f"{message}\n\n{json.dumps(run_input)}" if run_input else message


def model_request(
    run: dict[str, Any],
    definition: dict[str, Any],
    steps: list[dict[str, Any]],
    history: Sequence[dict[str, Any]] = (),
) -> Any:
    # lazy (cold start): only a decision builds a prompt; the park, expire and fail tasks do not
    from runs_core.logic.files import run_attachments
    from runs_core.providers.base import Message, ModelRequest, ToolCall, ToolSpec

    instructions = definition.get("instructions", "")
    persona = (definition.get("personas") or {}).get(run.get("persona") or "")
    if persona:
        instructions = f"{instructions}\n\n{persona['instructions']}".strip()
    messages = [Message(message["role"], message["content"]) for message in history]
    messages.append(Message("user", user_turn(run), attachments=run_attachments(run)))
    for step in steps:
        output = step.get("output") or {}
        if step["type"] == "decision":
            calls = tuple(ToolCall(c["id"], c["name"], c["arguments"]) for c in output.get("tool_calls", []))
            messages.append(Message("assistant", output.get("text", ""), tool_calls=calls))
        elif step["type"] == "action" and step["status"] in STEP_RESULTS:
            failed = step["status"] == STEP_FAILED
            content = json.dumps({"error": step["error"]["message"]} if failed else step.get("output"))
            messages.append(
                Message(
                    "tool", content, tool_call_id=step["tool_call_id"], name=step["action"], is_error=failed
                )
            )
        elif step["type"] == "input" and step["status"] == STEP_COMPLETED:
            answer = str(output["content"]) if "content" in output else json.dumps(output.get("data"))
            messages.append(Message("tool", answer, tool_call_id=step["tool_call_id"], name=step["action"]))
        elif step["type"] == "approval" and output.get("decision") == "reject":
            rejection = {"error": "rejected by the approver", "comment": output.get("comment")}
            messages.append(
                Message(
                    "tool",
                    json.dumps(rejection),
                    tool_call_id=step["tool_call_id"],
                    name=step["action"],
                    is_error=True,
                )
            )
    tools = tuple(
        ToolSpec(
            action["name"],
            action.get("description") or "",
            ASK_USER_PARAMETERS
            if action["kind"] == "builtin" and builtin_name(action) == "ask_user"
            else action.get("parameters") or {"type": "object"},
        )
        for action in definition.get("actions", [])
    )
    turn = sum(1 for step in steps if step["type"] == "decision")
    return ModelRequest(definition["model"], instructions, tuple(messages), tools, turn)
