"""`python -m devstack` (what `make dev` runs): the whole API on http://127.0.0.1:$RUNS_API_PORT/v1.

Environment: RUNS_API_PORT (default 3000), RUNS_API_DEV_KEY and RUNS_API_ADMIN_KEY (generated and
printed when unset), RUNS_API_WEBHOOK_SECRET (the whsec_ key that signs http actions; generated and
printed when unset), RUNS_API_CURSOR_SECRET (random when unset), RUNS_API_HTTP_ALLOWLIST (non-public
targets agents may call, e.g. 127.0.0.1 for a local model server; none when unset).
Ctrl-C or SIGTERM stops it (exit 0). The last line printed on stdout at start-up is the "ready" line;
tests wait for it.
"""

import logging
import os
import signal
import sys
import threading

from devstack.server import DEFAULT_HOST, LocalApiServer
from devstack.stack import DEFAULT_PORT, DEV_ORG_CREDITS, DEV_ORG_NAME, DevStack, freeze_start_up


def main() -> int:
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    # moto's ASL interpreter logs every caught task error (a run's wait timing out, a cancel) at ERROR,
    # with its whole parse tree. Executions keep their errors in their history; handler exceptions are
    # still logged (devstack.executions).
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    try:
        port = int(os.environ.get("RUNS_API_PORT") or DEFAULT_PORT)
    except ValueError:
        print(f"RUNS_API_PORT must be a port number, not {os.environ['RUNS_API_PORT']!r}", file=sys.stderr)
        return 2

    stack = DevStack()
    # Bind first: a taken port should fail in milliseconds, not after the stack has started.
    try:
        server = LocalApiServer(stack, DEFAULT_HOST, port)
    except OSError as error:
        print(
            f"cannot listen on {DEFAULT_HOST}:{port}: {error} (set RUNS_API_PORT to another port)",
            file=sys.stderr,
        )
        return 1

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    try:
        stack.start()
        stack.seed()
        freeze_start_up()  # full garbage collections skip start-up's objects (devstack.stack)
        serving = threading.Thread(target=server.serve_forever, name="local-http", daemon=True)
        serving.start()
        _print_banner(stack, f"{server.url}/v1")
        print(f"runs-api local stack ready on {server.url}", flush=True)
        while not stop.wait(timeout=1.0):
            pass
        print("\nstopping the local stack (in-memory data is discarded)", file=sys.stderr, flush=True)
        server.shutdown()
    finally:
        server.server_close()
        stack.stop()
    return 0


def _print_banner(stack: DevStack, base_url: str) -> None:
    not_emulated = stack.unemulated_resources()
    definitions = ", ".join(stack.state_machine_sources().values()) or "state machines"
    lines = [
        "",
        "runs-api local stack (template.yaml, real handlers, moto; no Docker, no AWS account)",
        "",
        f"  API          {base_url}   (docs {base_url}/docs, spec {base_url}/openapi.json)",
        f"  dev key      {stack.dev_key}",
        f"               org {DEV_ORG_NAME!r}, {DEV_ORG_CREDITS:,} credits; fix it with RUNS_API_DEV_KEY",
        f"  admin key    {stack.admin_key}",
        "               for /v1/admin/*; fix it with RUNS_API_ADMIN_KEY",
        f"  webhook key  {stack.webhook_secret}",
        "               signs http actions (Standard Webhooks); fix it with RUNS_API_WEBHOOK_SECRET",
        "  demo agent   'demo' (scripted model: runs offline)",
        "",
        "  Try:",
        f'    curl -s {base_url}/agents -H "Authorization: Bearer {stack.dev_key}"',
        f'    curl -s -X POST {base_url}/runs -H "Authorization: Bearer {stack.dev_key}" \\',
        """         -H "Content-Type: application/json" -d '{"agent": "demo", "input": {"name": "Ada"}}'""",
        "",
        "  Limits:",
        "    - In memory: every org, key, agent and run is lost when this process stops.",
        "    - AWS is moto, in this process: close to DynamoDB, not identical (no TTL expiry, no throttling,",
        "      no capacity errors). API Gateway stage throttling is not emulated.",
        f"    - Runs execute the real {definitions} on moto's Step Functions (ASL) interpreter; its",
        "      Lambda tasks run the real handlers in this process. Close to Step Functions, not identical",
        "      (execution history details differ).",
        "    - No AWS call leaves this machine: boto3 talks to moto with fake credentials.",
        "    - Org 'dev' has the default rate limits (20 run creations, 600 requests per minute); raise them",
        f'      with PATCH {base_url}/admin/orgs/{stack.dev_org_id} (admin key) and {{"rate_limits": …}}.',
    ]
    if not_emulated:
        lines.append("    - Not emulated here: " + ", ".join(not_emulated) + ".")
    lines.append("  Ctrl-C stops it.")
    lines.append("")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
