"""Cold import time of each function's handler module beyond boto3 (which the Lambda runtime provides).

For each AWS::Serverless::Function in template.yaml: a fresh interpreter runs `import boto3`, then times
`import <handler module>` with a wall clock (`time.perf_counter`), with the function's environment
(PYTHONPATH = the runs_core layer + the function's CodeUri, its resolvable Environment.Variables). That
is what a Lambda cold start pays for the handler's init beyond the runtime: every module imported, and
every line the handler module runs at import time (building the resolver, reading files). The median
of REPEATS fresh interpreters. A function started by a script (EventsFunction: `run.sh`, the Lambda Web
Adapter's server) is timed on the module its server imports (STARTED_BY_SCRIPT).

`python -X importtime` shows where the time goes; `modules` counts the modules imported after boto3.
FLOOR is what every API function pays before any runs-api code (pydantic, Powertools' resolver with
validation), timed the same way, so a run on a loaded machine still shows how far above it each is.

`python -m bench.imports` prints the per-function table alone.
"""

import os
import statistics
import subprocess
import sys
from pathlib import Path

from bench.table import Table
from devstack.template import FUNCTION_TYPE, Template, Unresolvable

REPO = Path(__file__).resolve().parents[1]
REPEATS = 5  # median of fresh interpreters (the machine is shared: noisy)
ENV_DEFAULTS = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
}
# run.sh starts runs_core.api.lwa_server, which imports the function's `app` module (and itself).
STARTED_BY_SCRIPT = {"run.sh": "runs_core.api.lwa_server, app"}
# Prints "<ms> <modules>": the wall time of the handler's import after boto3, and the modules it added.
TIMER = """import sys, time
import boto3
before = len(sys.modules)
began = time.perf_counter()
{statement}
print(f"{{(time.perf_counter() - began) * 1000:.3f}} {{len(sys.modules) - before}}")
"""


# The framework every API function imports before any runs-api code: the validating resolver's floor.
FLOOR = """from pydantic import BaseModel, Field
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
APIGatewayRestResolver(enable_validation=True)"""


def parse_timer(stdout: str) -> tuple[float, int]:
    """(ms, modules) from TIMER's last line."""
    ms, modules = stdout.strip().splitlines()[-1].split()
    return float(ms), int(modules)


def _base_environment() -> dict[str, str]:
    """This process's environment without PYTHON* settings, plus what every function gets."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")} | ENV_DEFAULTS


def _environment(template: Template, properties: dict) -> dict[str, str]:
    env = _base_environment()
    for name, raw in ((properties.get("Environment") or {}).get("Variables") or {}).items():
        try:
            value = template.resolve(raw)
        except Unresolvable:
            continue
        env[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return env


def handler_module(handler: str) -> str:
    """The module(s) a function's Handler makes Lambda import: `app.lambda_handler` → `app`."""
    return STARTED_BY_SCRIPT.get(handler) or handler.rpartition(".")[0]


def _time(script: str, cwd: str, env: dict[str, str]) -> tuple[float, int, str]:
    """(median ms, modules, error) of REPEATS fresh interpreters running `script` (a TIMER)."""
    samples: list[float] = []
    modules = 0
    for _ in range(REPEATS):
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            return float("nan"), 0, (done.stderr.strip().splitlines() or ["failed"])[-1][:120]
        ms, modules = parse_timer(done.stdout)
        samples.append(ms)
    return statistics.median(samples), modules, ""


def measure(template_path: Path = REPO / "template.yaml") -> list[tuple[str, str, float, int, str]]:
    """[(function, handler module, median ms, modules, error)] for every function in the template."""
    template = Template(template_path)
    layer = str(REPO / "layers" / "runs_core")
    results = []
    for logical_id in template.resources_of(FUNCTION_TYPE):
        properties = template.function_properties(logical_id)
        code_dir = str((template.root / str(properties["CodeUri"])).resolve())
        module = handler_module(str(properties["Handler"]))
        env = {**_environment(template, properties), "PYTHONPATH": os.pathsep.join([code_dir, layer])}
        median, modules, error = _time(TIMER.format(statement=f"import {module}"), code_dir, env)
        shown = module.rpartition(", ")[2]  # run.sh: the function's own module
        results.append((logical_id, f"{properties['CodeUri']}{shown}.py", median, modules, error))
    return results


def measure_floor() -> tuple[float, int, str]:
    """(median ms, modules, error) of FLOOR alone after boto3, timed as a handler is."""
    return _time(TIMER.format(statement=FLOOR), str(REPO), _base_environment())


def table(results: list[tuple[str, str, float, int, str]], floor: tuple[float, int, str]) -> Table:
    """The cold-import rows of `make bench` and `python -m bench.imports`: the floor, then each function."""
    rows = Table()
    floor_ms, floor_modules, floor_error = floor
    if floor_error:
        rows.add("cold import", "framework floor", "failed", floor_error)
    else:
        detail = f"pydantic + APIGatewayRestResolver(enable_validation=True): {floor_modules} modules"
        rows.add("cold import", "framework floor", f"{floor_ms:.0f} ms", detail)
    for function, module, ms, modules, error in results:
        if error:
            rows.add("cold import", function, "failed", error)
        else:
            rows.add("cold import", function, f"{ms:.0f} ms", f"{module}: {modules} modules after boto3")
    return rows


if __name__ == "__main__":
    print(f"Wall time of each handler's import after boto3, median of {REPEATS} fresh interpreters:")
    print(table(measure(), measure_floor()).render())
