"""AWS calls per request and in-process latency of each endpoint, on the local stack.

Counts every DynamoDB API call the authorizer and the handler make (a botocore event hook on the one
client runs_core uses). The authorizer's 60 s principal cache is warm, as in steady state; a cold
authorizer adds one GetItem. Latency is in-process (API Gateway emulator + handler + moto), so it
is not what Lambda would measure: moto evaluates a Query by reading the whole index, so in-process
latency grows with the table even where DynamoDB would not. The AWS call counts are the real cost.
"""

import json
import statistics
import time
from collections import Counter

from local.stack import LocalStack

RUNS_STORED = 200
SAMPLES = 20


def main() -> None:
    stack = LocalStack().start()
    stack.seed()
    from runs_core.storage import dynamo

    calls: Counter[str] = Counter()
    dynamo.client().meta.events.register(
        "before-call.dynamodb", lambda model, **_: calls.update([model.name])
    )

    def request(method: str, path: str, body: dict | None = None, query: str = "") -> tuple[int, dict]:
        headers = {"Authorization": f"Bearer {stack.dev_key}", "Content-Type": "application/json"}
        raw = json.dumps(body).encode() if body is not None else None
        status, _, payload = stack.request(method, path + (f"?{query}" if query else ""), headers, raw)
        return status, json.loads(payload or b"null")

    request("GET", "/v1/org")  # warm the authorizer cache and imports
    definition = {"model": {"provider": "scripted", "script": [{"text": "ok"}]}}
    request("POST", "/v1/agents", {"name": "bench", "version": "1.0.0", "definition": definition})
    for index in range(RUNS_STORED):
        request("POST", "/v1/runs", {"agent": "bench", "start": index % 2 == 0})
    _, created = request("POST", "/v1/runs", {"agent": "bench", "start": False})
    run_id = created["id"]

    draft = {"agent": "bench", "start": False}
    cases: list[tuple[str, str, str, dict | None, str]] = [
        ("GET /v1/org", "GET", "/v1/org", None, ""),
        ("GET /v1/agents/{name}", "GET", "/v1/agents/bench", None, ""),
        ("GET /v1/agents", "GET", "/v1/agents", None, ""),
        ("POST /v1/runs (latest tag)", "POST", "/v1/runs", draft, ""),
        ("POST /v1/runs (range ^1)", "POST", "/v1/runs", {**draft, "version": "^1"}, ""),
        ("GET /v1/runs/{id}", "GET", f"/v1/runs/{run_id}", None, ""),
        ("GET /v1/runs?limit=20", "GET", "/v1/runs", None, "limit=20"),
        ("GET /v1/runs?status=created", "GET", "/v1/runs", None, "status=created"),
        ("GET /v1/runs?status=created,queued", "GET", "/v1/runs", None, "status=created,queued"),
        ("GET /v1/runs?agent=bench&status=..", "GET", "/v1/runs", None, "agent=bench&status=queued"),
        ("POST /v1/runs/{id}/cancel", "POST", f"/v1/runs/{run_id}/cancel", None, ""),
    ]
    print(f"runs-api bench: {RUNS_STORED} runs stored, {SAMPLES} samples per endpoint (in-process, moto)\n")
    print(f"{'endpoint':40} {'status':>6} {'AWS calls':>10}  {'calls by API':32} {'p50 ms':>7} {'p99 ms':>7}")
    for name, method, path, body, query in cases:

        def call(method: str = method, path: str = path, body: dict | None = body, q: str = query) -> tuple:
            return request(method, path, body, q)

        calls.clear()
        status, _ = call()
        per_request = dict(calls)
        timings = []
        for _ in range(SAMPLES):
            started = time.perf_counter()
            call()
            timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
        by_api = ", ".join(f"{api} {count}" for api, count in sorted(per_request.items()))
        print(
            f"{name:40} {status:>6} {sum(per_request.values()):>10}  {by_api:32} "
            f"{statistics.median(timings):>7.1f} {p99:>7.1f}"
        )
    from bench import execution, latency

    execution.run_bench(stack)
    stack.stop()
    latency.run_bench()


if __name__ == "__main__":
    main()
