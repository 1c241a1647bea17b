"""Server-Sent Events over real HTTP against the local stack (docs/api.md §6): the stream is live locally.

Bounded waits only: every read has a socket timeout, and loops stop at the terminal event.
"""

import json

from tests.e2e.live import TERMINAL, answer, asking_run, open_stream, other_org_key, polled, read_frames


def test_a_live_run_unfolds_over_sse(base_url, dev_key):
    run_id = asking_run(base_url, dev_key)
    seen: list[dict] = []
    with open_stream(base_url, dev_key, run_id) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert response.headers["Cache-Control"] == "no-cache"
        for frame in read_frames(response):
            event = json.loads(frame["data"])
            assert int(frame["id"]) == event["seq"] and frame["event"] == event["type"]
            seen.append(event)
            if event["type"] == "run.waiting_for_input":
                # The stream is live: the run waits on us, and we answer while still connected.
                answer(base_url, dev_key, run_id)
    types = [event["type"] for event in seen]
    assert "run.waiting_for_input" in types and "run.input_received" in types
    assert types[-1] == "run.completed"
    assert [event["seq"] for event in seen] == list(range(1, len(seen) + 1))
    assert seen == polled(base_url, dev_key, run_id)


def test_reconnect_with_last_event_id_loses_and_repeats_nothing(base_url, dev_key):
    run_id = asking_run(base_url, dev_key)
    seen: list[dict] = []
    with open_stream(base_url, dev_key, run_id) as first:
        for frame in read_frames(first):
            seen.append(json.loads(frame["data"]))
            if len(seen) == 3:
                break  # drop the connection in the middle of the run
    reconnects = 0
    while not seen or seen[-1]["type"] not in TERMINAL:
        reconnects += 1
        assert reconnects <= 10
        with open_stream(base_url, dev_key, run_id, last_event_id=seen[-1]["seq"]) as again:
            assert again.status_code == 200
            for frame in read_frames(again):
                event = json.loads(frame["data"])
                seen.append(event)
                if event["type"] == "run.waiting_for_input":
                    answer(base_url, dev_key, run_id)
                    break  # and reconnect once more, after the answer
    assert [event["seq"] for event in seen] == list(range(1, len(seen) + 1))
    assert seen == polled(base_url, dev_key, run_id)


def test_a_bad_key_cannot_stream(base_url, dev_key):
    run_id = asking_run(base_url, dev_key)
    with open_stream(base_url, "sk_test_not-a-real-key", run_id) as response:
        assert response.status_code == 401
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert response.json()["code"] == "unauthorized"


def test_another_orgs_run_cannot_be_streamed(base_url, dev_key, admin_key):
    run_id = asking_run(base_url, dev_key)
    other_key = other_org_key(base_url, admin_key)
    with open_stream(base_url, other_key, run_id) as response:
        assert response.status_code == 404
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert response.json()["code"] == "not_found"
