"""The local stack: template.yaml's tables in moto, its functions in-process, an API Gateway emulator.

`make dev` runs `python -m devstack` (see devstack/__main__.py); tests build `devstack.stack.DevStack`
directly.
Everything (tables, functions, routes, environment, gateway responses) comes from template.yaml.
While a function's handler runs, its AWS calls are checked against its template policy (devstack.iam).
"""
