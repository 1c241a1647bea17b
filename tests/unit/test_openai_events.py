"""The event log → OpenAI Responses stream translation (runs_core.dialects.openai_events)."""

from typing import Any

from runs_core.dialects.openai_events import Translator, approval_request_id

LOG = [
    ("run.created", {"status": "created"}),
    ("run.queued", {"status": "queued"}),
    ("run.started", {"status": "running"}),
    ("step.started", {"step_id": "s1", "index": 0, "type": "decision"}),
    ("message.delta", {"step_id": "s1", "delta": "Hel"}),
    ("message.delta", {"step_id": "s1", "delta": "lo"}),
    ("message.completed", {"step_id": "s1", "content": "Hello"}),
    ("tool.call", {"step_id": "s1", "action": "pay", "arguments": {"amount": 1}}),
    ("step.completed", {"step_id": "s1", "index": 0, "status": "completed"}),
    (
        "run.waiting_approval",
        {
            "status": "waiting_approval",
            "pending": {"type": "approval", "step_id": "s2", "action": "pay", "arguments": {"amount": 1}},
        },
    ),
    ("run.approval_decided", {"status": "running"}),
    ("message.completed", {"step_id": "s3", "content": "Paid."}),
    ("run.completed", {"status": "completed"}),
]


def snapshot(status: str, output: list[dict[str, Any]], incomplete: dict[str, Any] | None) -> dict[str, Any]:
    return {"status": status, "output": output, "incomplete_details": incomplete}


def translate() -> tuple[Translator, list[dict[str, Any]]]:
    translator = Translator(snapshot)
    events = []
    for seq, (kind, data) in enumerate(LOG, 1):
        events += translator.translate({"seq": seq, "type": kind, "data": data})
    return translator, events


def test_the_log_becomes_numbered_stream_events_the_same_every_time():
    _, events = translate()
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    assert events == translate()[1]
    types = [event["type"] for event in events]
    assert types[:4] == [
        "response.created",
        "response.queued",
        "response.in_progress",
        "response.output_item.added",
    ]
    assert types[-1] == "response.completed" and events[-1]["response"]["status"] == "completed"
    assert types.index("response.incomplete") < types.index("response.completed")


def test_items_are_shown_as_they_were_when_each_event_happened():
    _, events = translate()
    added = next(event for event in events if event["type"] == "response.output_item.added")
    assert added["item"]["content"] == [] and added["item"]["status"] == "in_progress"
    deltas = [event["delta"] for event in events if event["type"] == "response.output_text.delta"]
    assert deltas == ["Hel", "lo"]
    call = next(event for event in events if event["type"] == "response.function_call_arguments.done")
    assert call["arguments"] == '{"amount":1}' and call["name"] == "pay"


def test_an_approval_is_an_mcp_approval_request_and_the_response_incomplete():
    translator, events = translate()
    incomplete = next(event for event in events if event["type"] == "response.incomplete")
    assert incomplete["response"]["incomplete_details"] == {"reason": "approval_required"}
    request = incomplete["response"]["output"][-1]
    assert request["type"] == "mcp_approval_request" and request["id"] == approval_request_id("s2")
    texts = [item["content"][0]["text"] for item in translator.output if item["type"] == "message"]
    assert texts == ["Hello", "Paid."] and translator.incomplete is None
