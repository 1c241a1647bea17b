"""Cold import time of each function's handler module beyond boto3 (which the Lambda runtime provides).

For each AWS::Serverless::Function in template.yaml: a fresh interpreter runs `import boto3`, then times
`import <handler module>` with a wall clock (`time.perf_counter`), with the function's environment
(PYTHONPATH = the runs_core layer + the function's CodeUri, its resolvable Environment.Variables). That
is what a Lambda cold start pays for the handler's init beyond the runtime: every module imported, and
every line the handler module runs at import time (building the resolver, reading files). The median
of REPEATS fresh interpreters. A function started by a script (EventsFunction: `run.sh`, the Lambda Web
Adapter's server) is timed on the module its server imports (STARTED_BY_SCRIPT).

`python -X importtime` shows where the time goes; `modules` counts the modules imported after boto3.
"""

import os
import statistics
import subprocess
import sys
from pathlib import Path

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
import {module}
print(f"{{(time.perf_counter() - began) * 1000:.3f}} {{len(sys.modules) - before}}")
"""


def parse_timer(stdout: str) -> tuple[float, int]:
    """(ms, modules) from TIMER's last line."""
    ms, modules = stdout.strip().splitlines()[-1].split()
    return float(ms), int(modules)


def _environment(template: Template, properties: dict) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env.update(ENV_DEFAULTS)
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
        samples: list[float] = []
        modules, error = 0, ""
        for _ in range(REPEATS):
            done = subprocess.run(
                [sys.executable, "-c", TIMER.format(module=module)],
                cwd=code_dir,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            if done.returncode != 0:
                error = (done.stderr.strip().splitlines() or ["failed"])[-1][:120]
                break
            ms, modules = parse_timer(done.stdout)
            samples.append(ms)
        median = statistics.median(samples) if samples else float("nan")
        shown = module.rpartition(", ")[2]  # run.sh: the function's own module
        results.append((logical_id, f"{properties['CodeUri']}{shown}.py", median, modules, error))
    return results
