"""devstack, the local stack: template.yaml's tables in moto, its functions in-process, an API Gateway
emulator.

`make dev` runs `python -m devstack` (see devstack/__main__.py); tests build `devstack.stack.DevStack`
directly, and the emulator's own tests are tests/emulator. Everything (tables, functions, routes,
environment, gateway responses) comes from template.yaml. While a function's handler runs, its AWS calls
are checked against its template policy (devstack.iam).

devstack uses runs_core and the handlers; they never import devstack (tests/unit/test_emulator_boundary.py),
and none of it ships in the layer. docs/architecture.md ("The local stack") says where it reaches in.
"""
