"""Schemathesis against the running local stack: no 5xx, and every response as the spec documents it.

The local stack (`python -m devstack`) runs on a free port (tests/e2e/conftest.py's start_server). The fuzzer
works in an org of its own with high rate limits and credits (created through the operators' API), so the
default limits of the dev org (20 runs and 600 requests a minute) neither slow it down nor are switched off.
The fuzzer is the schemathesis CLI, run as a subprocess, bounded by examples per operation and a fixed seed.

Nothing is excluded. Adjustments, all in tests/contract/fuzz_hooks.py:
- `timeout` of POST /v1/runs/{run_id}/wait and POST /v1/agents/{agent}/run, and `wait` of the threads/runs
  dialect's SSE events, become 0 (answer at once) when missing or valid (FUZZ_WAIT_SECONDS); out-of-range or
  mistyped values are sent as generated.
- The SSE form of GET /v1/runs/{run_id}/events (a stream that lasts up to `wait` seconds) is not fuzzed: it
  needs `Accept: text/event-stream`, which the document does not list as a parameter (tests/e2e/test_sse.py
  covers it); the JSON form of that operation is fuzzed.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from devstack.seed import DEMO_AGENT  # the scripted agent the examples of run creation name
from tests.e2e.conftest import LocalServer, running_server

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
)
MAX_EXAMPLES = int(os.environ.get("RUNS_API_FUZZ_MAX_EXAMPLES", "5"))
SEED = 20261123
FUZZ_TIMEOUT_S = 600
# Concurrent requests (client threads). Each waits for its answer, then checks it: with 2 the local server sat
# idle between requests (the coverage phase of /v1/runs* and /v1/agents*: 255 s wall with 2, 199 s with 4, the
# same CPU, on a loaded machine). Every case is still generated from the seed and checked.
WORKERS = 4


@pytest.fixture(scope="module")
def server():
    with running_server() as server:
        yield server


def fuzz_org_key(server: LocalServer) -> str:
    created = requests.post(
        f"{server.base_url}/admin/orgs",
        headers={"Authorization": f"Bearer {server.admin_key}"},
        json={
            "name": "fuzz",
            "credits": 10**12,
            "rate_limits": {"runs_per_minute": 1_000_000, "requests_per_minute": 10_000_000},
        },
        timeout=30,
    )
    assert created.status_code == 201, created.text
    key = created.json()["api_key"]["key"]
    agent = requests.post(
        f"{server.base_url}/agents", headers={"Authorization": f"Bearer {key}"}, json=DEMO_AGENT, timeout=30
    )
    assert agent.status_code == 201, agent.text
    return key


def test_schemathesis_finds_nothing(server: LocalServer, tmp_path: Path):
    key = fuzz_org_key(server)
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{server.base_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {key}",
        "--checks",
        ",".join(CHECKS),
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-deterministic",
        "--workers",
        str(WORKERS),
        "--request-timeout",
        "10",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "fuzz_hooks",
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    started = time.monotonic()
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=FUZZ_TIMEOUT_S, check=False
    )
    elapsed = time.monotonic() - started
    print(f"schemathesis exited {result.returncode} after {elapsed:.0f} s")
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert server.process.poll() is None, "the local stack died under the fuzzer:\n" + server.output()
