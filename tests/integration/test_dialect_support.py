"""What /v1 gained for the dialects (docs/api.md §4, §5, §8): threads with an agent, runs that echo the
caller's external ids."""

from tests.integration.helpers import ok


def test_a_thread_keeps_its_agent(api):
    demo = ok(api.get("/v1/agents/demo"))
    thread = ok(api.post("/v1/threads", json={"agent": "demo"}), 201)
    assert thread["agent_id"] == demo["id"]
    assert ok(api.get(f"/v1/threads/{thread['id']}"))["agent_id"] == demo["id"]
    assert ok(api.post("/v1/threads", json={}), 201)["agent_id"] is None
    missing = api.post("/v1/threads", json={"agent": "no-such-agent"})
    assert missing.status == 404 and missing.json()["code"] == "not_found"
    spec = ok(api.get("/v1/openapi.json", key=None))
    assert "404" in spec["paths"]["/v1/threads"]["post"]["responses"]  # found by the fuzzer: undocumented


def test_a_run_echoes_its_external_ids(api):
    external = {"agent_id": "AGENT-1", "stage": "Published"}
    run = ok(api.post("/v1/runs", json={"agent": "demo", "external_ids": external, "start": False}), 201)
    assert run["external_ids"] == external
    assert ok(api.get(f"/v1/runs/{run['id']}"))["external_ids"] == external
    too_many = {f"k{index}": "v" for index in range(11)}
    refused = api.post("/v1/runs", json={"agent": "demo", "external_ids": too_many})
    assert refused.status == 400 and refused.json()["code"] == "validation_error"
