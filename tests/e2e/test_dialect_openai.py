"""The OpenAI Responses dialect (/dialects/openai/v1) on the local stack, driven by the official `openai`
client (pinned in requirements.lock): background + poll, stream, resume with `starting_after`, cancel,
delete, an approval answered through `previous_response_id`, and another org's ids (404)."""

import time

import openai
import pytest
import requests

from tests.e2e.live import ASK_SCRIPT, TIMEOUT, auth, other_org_key, scripted_agent

BASE = "/dialects/openai/v1"
SLOW_SCRIPT = [
    {
        "text": "One two three four five six seven eight nine ten eleven twelve thirteen fourteen.",
        "stream": {"chunk_chars": 3, "interval_ms": 150},
    }
]


def client_of(local_stack, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=local_stack.origin + BASE, api_key=key or local_stack.dev_key, max_retries=0, timeout=30
    )


@pytest.fixture(scope="module")
def client(local_stack) -> openai.OpenAI:
    return client_of(local_stack)


def agent(local_stack, script: list[dict], actions: list[dict] | None = None) -> str:
    return scripted_agent(local_stack.base_url, local_stack.dev_key, script, actions)


def poll(client: openai.OpenAI, response_id: str, until: set[str]) -> openai.types.responses.Response:
    deadline = time.monotonic() + 30
    while True:
        response = client.responses.retrieve(response_id)
        if response.status in until:
            return response
        assert time.monotonic() < deadline, response
        time.sleep(0.2)


def test_a_background_response_is_polled_until_completed(client):
    created = client.responses.create(
        model="demo", input="Hi, I am Ada.", background=True, metadata={"k": "v"}
    )
    assert created.object == "response" and created.status in ("queued", "in_progress")
    assert created.id.startswith("run_") and created.metadata == {"k": "v"}

    done = poll(client, created.id, {"completed"})
    assert done.model == "demo@1.0.0"
    assert done.output_text.startswith("Hello from the demo agent!")
    calls = [item for item in done.output if item.type == "function_call"]
    assert [(call.name, call.arguments) for call in calls] == [("echo", '{"hello":"world"}')]
    assert done.usage.input_tokens > 0 and done.usage.output_tokens > 0
    assert done.usage.input_tokens_details.cached_tokens == 0
    assert done.usage.total_tokens == done.usage.input_tokens + done.usage.output_tokens


def test_a_plain_create_waits_and_previous_response_id_continues_the_thread(client, local_stack):
    first = client.responses.create(model="demo@1.0.0", input="Hello")
    assert first.status == "completed" and first.output_text
    second = client.responses.create(
        model="demo", input=[{"role": "user", "content": "Again"}], previous_response_id=first.id
    )
    assert second.status == "completed" and second.previous_response_id == first.id
    runs = [
        requests.get(f"{local_stack.base_url}/runs/{rid}", headers=auth(local_stack.dev_key), timeout=TIMEOUT)
        for rid in (first.id, second.id)
    ]
    assert runs[0].json()["thread_id"] == runs[1].json()["thread_id"] is not None


def test_a_streamed_response_arrives_event_by_event_and_resumes(client):
    with client.responses.create(model="demo", input="Hi", stream=True) as stream:
        events = list(stream)
    types = [event.type for event in events]
    assert types[0] == "response.created" and types[-1] == "response.completed"
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert "response.function_call_arguments.delta" in types
    assert "response.function_call_arguments.done" in types
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    assert len(deltas) > 1
    done = events[-1].response
    assert "".join(deltas) == done.output_text and done.status == "completed" and done.usage.output_tokens

    middle = events[len(events) // 2].sequence_number
    with client.responses.retrieve(done.id, stream=True, starting_after=middle) as resumed:
        rest = list(resumed)
    assert [event.sequence_number for event in rest] == list(range(middle + 1, len(events)))
    assert [event.type for event in rest] == types[middle + 1 :]


def test_a_background_response_is_cancelled_and_its_stream_ends(client, local_stack):
    slow = agent(local_stack, SLOW_SCRIPT)
    created = client.responses.create(model=slow, input="Count", background=True)
    poll(client, created.id, {"in_progress"})
    cancelled = client.responses.cancel(created.id)
    assert cancelled.status == "cancelled"
    assert client.responses.cancel(created.id).status == "cancelled"  # again: harmless
    with client.responses.retrieve(created.id, stream=True) as stream:
        types = [event.type for event in stream]
    assert types[0] == "response.created" and types[-1] == "response.cancelled"

    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)


def test_an_approval_is_an_mcp_approval_request_answered_with_previous_response_id(client, local_stack):
    approving = agent(
        local_stack,
        [{"tool_calls": [{"name": "echo", "arguments": {"pay": 10}}]}, {"text": "Paid."}],
        [{"name": "echo", "kind": "builtin", "requires_approval": True}],
    )
    waiting = client.responses.create(model=approving, input="Pay")
    assert waiting.status == "incomplete"
    assert waiting.incomplete_details.reason == "approval_required"
    request = next(item for item in waiting.output if item.type == "mcp_approval_request")
    assert request.name == "echo" and request.arguments == '{"pay":10}'

    answered = client.responses.create(
        model=approving,
        previous_response_id=waiting.id,
        input=[{"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}],
    )
    assert answered.id == waiting.id and answered.status == "completed"
    assert answered.output_text == "Paid."


def test_a_question_is_incomplete_and_the_answer_streams_on(client, local_stack):
    asking = agent(local_stack, ASK_SCRIPT, [{"name": "ask_user", "kind": "builtin"}])
    with client.responses.create(model=asking, input="Pay the bill", stream=True) as stream:
        first = list(stream)
    assert first[-1].type == "response.incomplete"
    assert first[-1].response.incomplete_details.reason == "input_required"
    assert "Which account?" in first[-1].response.output_text

    with client.responses.create(
        model=asking, input="savings", previous_response_id=first[-1].response.id, stream=True
    ) as stream:
        rest = list(stream)
    assert rest[0].sequence_number == first[-1].sequence_number + 1
    assert rest[0].type == "response.in_progress" and rest[-1].type == "response.completed"
    assert rest[-1].response.output_text.endswith("Paid from savings.")


def test_errors_are_openai_error_bodies_and_other_orgs_ids_are_404(client, local_stack):
    with pytest.raises(openai.NotFoundError) as missing:
        client.responses.create(model="no-such-agent", input="Hi")
    assert missing.value.code == "not_found" and missing.value.type == "invalid_request_error"
    with pytest.raises(openai.BadRequestError) as invalid:
        client.responses.create(model="demo", input="Hi", metadata={"k" * 41: "v"})
    assert invalid.value.param and invalid.value.param.startswith("metadata")

    mine = client.responses.create(model="demo", input="Hi", background=True)
    other = client_of(local_stack, other_org_key(local_stack.base_url, local_stack.admin_key))
    for call in (
        lambda: other.responses.retrieve(mine.id),
        lambda: other.responses.cancel(mine.id),
        lambda: other.responses.delete(mine.id),
        lambda: other.responses.create(model="demo", input="Hi", previous_response_id=mine.id),
    ):
        with pytest.raises(openai.NotFoundError):
            call()
    with pytest.raises(openai.NotFoundError):
        list(other.responses.retrieve(mine.id, stream=True))
    poll(client, mine.id, {"completed"})
