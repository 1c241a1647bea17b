"""The README's "Bring your client" examples work as written, against a running local stack (real curl)."""

import subprocess

from tests.e2e.dialects import org_key
from tests.e2e.test_readme_tour import section_script


def test_readme_dialect_examples(local_stack):
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "ORIGIN": local_stack.origin, "KEY": org_key(local_stack)}
    script = "set -euo pipefail\n" + section_script("Bring your client")
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr + result.stdout
    out = result.stdout
    # threads/runs: the run's last SSE frame, the thread's runs, the run, a cancel
    assert '"type":"run.completed"' in out and '"status":"completed"' in out and '{"ok":true}' in out
    # Ziet: the invoked run, read with its steps, and the second invoke's error
    assert '"status":"running"' in out and '"action_id":"echo"' in out and '{"error":"invalid_state"' in out
    # Kognitos: the run's outputs, and a page of the agent's runs with a continuation token
    assert '"outputs":[{"name":"greeting","value":"Hello from the demo agent!"}]' in out
    assert '"continuation_token":"' in out
    # Roe: the outputs of both synchronous runs, values as strings, with the cost
    assert out.count('[{"key":"greeting","description":"The greeting","data_type":"text/plain"') == 2
    # Appstrate: the run's id, and a 404 problem with Appstrate's members
    assert '{"runId":"run_' in out and '"code":"not_found","requestId":"' in out
    for failure in ("unauthorized", "internal_error", "validation_error"):
        assert failure not in out, failure
    assert out.count('"code":"not_found"') == 1  # Appstrate's deliberate 404
