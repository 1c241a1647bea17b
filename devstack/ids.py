"""Request ids for the local stack's own answers (a Lambda invocation's aws_request_id, API Gateway's
request id): a uuid4's form, unique in the process and across restarts, made without uuid4.

uuid4 reads os.urandom, which lets go of the GIL: beside busy runs the calling thread then waits to get
it back, up to the switch interval (5 ms; devstack.wakeups, devstack.websocket measured it). A soak run
made ~20 of them (every Lambda invocation, every Invoke answer, every API request). Here: one uuid4 per
process, its last 48 bits replaced by a counter (the version and variant bits stay a uuid4's).
"""

import itertools
import uuid

_NODE_BITS = 48
_BASE = uuid.uuid4().int >> _NODE_BITS << _NODE_BITS
_counter = itertools.count(1)


def request_id() -> str:
    """A new id of uuid4's form, e.g. 1b4e28ba-2fa1-41d2-883f-0016d3cca427."""
    digits = f"{_BASE | next(_counter) & ((1 << _NODE_BITS) - 1):032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
