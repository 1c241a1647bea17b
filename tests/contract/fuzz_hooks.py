"""Schemathesis hooks for tests/contract/test_fuzz.py (loaded through SCHEMATHESIS_HOOKS)."""

from typing import Any

import schemathesis

# POST /v1/runs/{run_id}/wait and POST /v1/agents/{agent}/run hold the request up to `timeout` seconds (25 by
# default), the threads/runs dialect's SSE events up to `wait` seconds (≤ 900): a valid or missing value
# becomes 0 (answer at once) so the fuzzer does not spend minutes waiting (a valid wait over 25 held a request
# until the client's 10 s timeout). Out-of-range or mistyped values are left as generated, so the API still
# has to reject them.
WAITING_OPERATIONS = {  # operation → (its waiting parameter, the parameter's maximum in the spec)
    ("POST", "/v1/runs/{run_id}/wait"): ("timeout", 25),
    ("POST", "/v1/agents/{agent}/run"): ("timeout", 25),
    ("GET", "/dialects/tr/v1/runs/{run_id}/events"): ("wait", 900),  # always SSE
}
FUZZ_WAIT_SECONDS = 0


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    waiting = WAITING_OPERATIONS.get((case.method.upper(), case.path))
    if waiting is None:
        return
    parameter, maximum = waiting
    timeout = (case.query or {}).get(parameter)
    valid = isinstance(timeout, int) and not isinstance(timeout, bool) and 0 <= timeout <= maximum
    if timeout is None or (valid and timeout > FUZZ_WAIT_SECONDS):
        case.query = {**(case.query or {}), parameter: FUZZ_WAIT_SECONDS}
