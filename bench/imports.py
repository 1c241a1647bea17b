"""Cold import time of each function's handler module beyond boto3 (which the Lambda runtime provides).

For each AWS::Serverless::Function in template.yaml: a fresh interpreter runs
`python -X importtime -c "import boto3; import <handler module>"` with the function's environment
(PYTHONPATH = the runs_core layer + the function's CodeUri, its resolvable Environment.Variables), and
the self-times of every module imported after boto3 are summed: the handler's own import cost.
"""

import os
import statistics
import subprocess
import sys
from pathlib import Path

from devstack.template import FUNCTION_TYPE, Template, Unresolvable

REPO = Path(__file__).resolve().parents[1]
REPEATS = 3  # median of fresh interpreters (the machine is shared: noisy)
ENV_DEFAULTS = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
}


def parse_importtime(stderr: str, after: str = "boto3") -> tuple[float, int]:
    """(sum of self-times in ms, modules) of the imports after the top-level `after` package's line."""
    total_us, modules, seen = 0, 0, False
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = (part.strip() for part in line[len("import time:") :].split("|", 2))
        if not seen:
            seen = name == after  # the unindented line: boto3 and everything it pulled in are done
            continue
        total_us += int(self_us)
        modules += 1
    if not seen:
        raise ValueError(f"{after} not found in the -X importtime output")
    return total_us / 1000, modules


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


def measure(template_path: Path = REPO / "template.yaml") -> list[tuple[str, str, float, int, str]]:
    """[(function, handler module, median ms, modules, error)] for every function in the template."""
    template = Template(template_path)
    layer = str(REPO / "layers" / "runs_core")
    results = []
    for logical_id in template.resources_of(FUNCTION_TYPE):
        properties = template.function_properties(logical_id)
        code_dir = str((template.root / str(properties["CodeUri"])).resolve())
        module = str(properties["Handler"]).rpartition(".")[0]
        env = {**_environment(template, properties), "PYTHONPATH": os.pathsep.join([code_dir, layer])}
        samples: list[float] = []
        modules, error = 0, ""
        for _ in range(REPEATS):
            done = subprocess.run(
                [sys.executable, "-X", "importtime", "-c", f"import boto3; import {module}"],
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
            ms, modules = parse_importtime(done.stderr)
            samples.append(ms)
        median = statistics.median(samples) if samples else float("nan")
        results.append((logical_id, f"{properties['CodeUri']}{module}.py", median, modules, error))
    return results
