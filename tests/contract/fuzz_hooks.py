"""Schemathesis hooks for tests/contract/test_fuzz.py (loaded through SCHEMATHESIS_HOOKS)."""

from typing import Any

import schemathesis

# POST /v1/runs/{run_id}/wait and POST /v1/agents/{agent}/run hold the request up to `timeout` seconds (25 by
# default): a valid or missing timeout becomes 0 (answer at once) so the fuzzer does not spend minutes
# waiting. Out-of-range or mistyped values are left as generated, so the API still has to reject them.
WAITING_OPERATIONS = {("POST", "/v1/runs/{run_id}/wait"), ("POST", "/v1/agents/{agent}/run")}
FUZZ_WAIT_SECONDS = 0


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if (case.method.upper(), case.path) not in WAITING_OPERATIONS:
        return
    timeout = (case.query or {}).get("timeout")
    valid = isinstance(timeout, int) and not isinstance(timeout, bool) and 0 <= timeout <= 25
    if timeout is None or (valid and timeout > FUZZ_WAIT_SECONDS):
        case.query = {**(case.query or {}), "timeout": FUZZ_WAIT_SECONDS}
