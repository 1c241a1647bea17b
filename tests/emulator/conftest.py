"""The emulator's own tier: devstack's mechanisms (IAM checks, Step Functions executions in-process,
stream pollers, the Query index, retention, DynamoDB responses, wakeups, execution environments), tested
against moto and the real handlers.

The tests that need a running stack use the integration tier's fixtures (`stack`: one per package, seeded;
`api`: a client with the dev key), so both tiers build the stack the same way `make dev` does.

The folder is tests/emulator, not tests/devstack: pytest puts tests/ on sys.path, where a test package
named devstack would be found before the emulator's own package.
"""

from tests.integration.conftest import api, stack

__all__ = ["api", "stack"]
