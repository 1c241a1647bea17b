"""The Agent Protocol / LangGraph dialect (/dialects/langgraph) on the local stack, driven by the official
`langgraph-sdk` client (pinned in requirements.lock): assistants, threads, wait, stream in several modes,
background create + join and join_stream, cancel, an interrupt resumed with Command(resume=…), and
another org's ids (404)."""

import httpx
import pytest
from langgraph_sdk import get_sync_client

from tests.e2e.dialects import until
from tests.e2e.live import ASK_SCRIPT, other_org_key, scripted_agent

BASE = "/dialects/langgraph"
HI = {"messages": [{"role": "user", "content": "Hi, I am Ada."}]}


def client_of(local_stack, key: str | None = None):
    return get_sync_client(url=local_stack.origin + BASE, api_key=key or local_stack.dev_key)


@pytest.fixture(scope="module")
def client(local_stack):
    return client_of(local_stack)


def agent(local_stack, script: list[dict], actions: list[dict] | None = None) -> str:
    return scripted_agent(local_stack.base_url, local_stack.dev_key, script, actions)


def test_assistants_are_agents(client):
    found = client.assistants.search(graph_id="demo")
    assert [assistant["name"] for assistant in found] == ["demo"]
    assistant = client.assistants.get(found[0]["assistant_id"])
    assert assistant["graph_id"] == "demo" and assistant["assistant_id"].startswith("agt_")


def test_wait_answers_the_threads_values(client):
    thread = client.threads.create(metadata={"user": "ada"})
    assert thread["status"] == "idle" and thread["metadata"] == {"user": "ada"}
    values = client.runs.wait(thread["thread_id"], "demo", input=HI)
    messages = values["messages"]
    assert messages[-1]["type"] == "ai" and messages[-1]["content"].startswith("Hello from the demo agent!")
    assert any(message["type"] == "human" for message in messages)
    state = client.threads.get_state(thread["thread_id"])
    assert state["values"] == values and state["next"] == [] and state["interrupts"] == []
    runs = client.runs.list(thread["thread_id"])
    assert [run["status"] for run in runs] == ["success"]


def test_stream_in_several_modes(client):
    thread = client.threads.create()
    parts = list(
        client.runs.stream(
            thread["thread_id"],
            "demo",
            input=HI,
            stream_mode=["values", "messages-tuple", "updates", "events"],
        )
    )
    events = [part.event for part in parts]
    assert events[0] == "metadata" and {"values", "messages", "updates", "events"} <= set(events)
    chunks = [part.data[0]["content"] for part in parts if part.event == "messages"]
    final = [part.data for part in parts if part.event == "values"][-1]
    assert len(chunks) > 1 and "".join(chunks) in final["messages"][-1]["content"]
    callbacks = [part.data["event"] for part in parts if part.event == "events"]
    assert {"on_chain_start", "on_chat_model_stream", "on_tool_start", "on_tool_end", "on_chain_end"} <= set(
        callbacks
    )

    only_updates = list(client.runs.stream(thread["thread_id"], "demo", input=HI, stream_mode="updates"))
    assert {part.event for part in only_updates} == {"metadata", "updates"}


def test_background_create_then_join_and_join_stream(client):
    thread = client.threads.create()
    run = client.runs.create(thread["thread_id"], "demo", input=HI, metadata={"source": "test"})
    assert run["status"] in ("pending", "running") and run["metadata"] == {"source": "test"}
    parts = list(client.runs.join_stream(thread["thread_id"], run["run_id"], stream_mode="messages-tuple"))
    assert parts[0].event == "metadata" and any(part.event == "messages" for part in parts)
    values = client.runs.join(thread["thread_id"], run["run_id"])
    assert values["messages"][-1]["type"] == "ai"
    assert client.runs.get(thread["thread_id"], run["run_id"])["status"] == "success"

    # multitask_strategy: reject (the default) refuses a busy thread, enqueue waits its turn
    first = client.runs.create(thread["thread_id"], "demo", input=HI)
    with pytest.raises(httpx.HTTPStatusError) as busy:
        client.runs.create(thread["thread_id"], "demo", input=HI)
    assert busy.value.response.status_code == 409
    second = client.runs.create(thread["thread_id"], "demo", input=HI, multitask_strategy="enqueue")
    assert second["multitask_strategy"] == "enqueue"
    client.runs.cancel(thread["thread_id"], first["run_id"])
    assert client.runs.get(thread["thread_id"], first["run_id"])["status"] == "interrupted"
    assert client.runs.join(thread["thread_id"], second["run_id"])["messages"][-1]["type"] == "ai"


def test_an_approval_is_an_interrupt_resumed_with_a_command(client, local_stack):
    approving = agent(
        local_stack,
        [{"tool_calls": [{"name": "echo", "arguments": {"pay": 10}}]}, {"text": "Paid."}],
        [{"name": "echo", "kind": "builtin", "requires_approval": True}],
    )
    thread = client.threads.create()
    values = client.runs.wait(
        thread["thread_id"], approving, input={"messages": [{"role": "user", "content": "Pay"}]}
    )
    interrupt = values["__interrupt__"][0]
    assert interrupt["value"]["type"] == "approval" and interrupt["value"]["action"] == "echo"
    assert client.threads.get(thread["thread_id"])["status"] == "interrupted"
    state = client.threads.get_state(thread["thread_id"])
    assert state["next"] == ["agent"] and state["interrupts"] == [interrupt]
    assert client.runs.list(thread["thread_id"])[0]["status"] == "interrupted"

    resumed = list(
        client.runs.stream(thread["thread_id"], approving, command={"resume": True}, stream_mode="values")
    )
    assert resumed[-1].data["messages"][-1]["content"] == "Paid."
    # the thread is handed back once the run has ended (a moment after its last event)
    until(lambda: client.threads.get(thread["thread_id"])["status"], lambda status: status == "idle")


def test_a_question_is_an_interrupt_answered_with_text(client, local_stack):
    asking = agent(local_stack, ASK_SCRIPT, [{"name": "ask_user", "kind": "builtin"}])
    thread = client.threads.create()
    parts = list(client.runs.stream(thread["thread_id"], asking, input=HI, stream_mode="updates"))
    assert parts[-1].data["__interrupt__"][0]["value"]["prompt"] == "Which account?"
    values = client.runs.wait(thread["thread_id"], asking, command={"resume": "savings"})
    assert values["messages"][-1]["content"] == "Paid from savings."


def test_another_orgs_ids_are_404(client, local_stack):
    thread = client.threads.create()
    run = client.runs.create(thread["thread_id"], "demo", input=HI)
    other = client_of(local_stack, other_org_key(local_stack.base_url, local_stack.admin_key))
    tid, rid = thread["thread_id"], run["run_id"]
    for call in (
        lambda: other.threads.get(tid),
        lambda: other.threads.get_state(tid),
        lambda: other.runs.get(tid, rid),
        lambda: other.runs.join(tid, rid),
        lambda: other.runs.cancel(tid, rid),
        lambda: other.runs.create(tid, "demo", input=HI),
        lambda: other.runs.list(tid),
        lambda: list(other.runs.join_stream(tid, rid)),
        lambda: other.assistants.get(client.assistants.search(graph_id="demo")[0]["assistant_id"]),
    ):
        with pytest.raises(httpx.HTTPStatusError) as missing:
            call()
        assert missing.value.response.status_code == 404
        assert missing.value.response.json()["code"] == "not_found"
    client.runs.join(tid, rid)
