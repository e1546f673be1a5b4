"""Cold start: how long importing each handler takes, against `import boto3` alone.

Each figure is the median of 5 imports, each in a fresh interpreter, with the
environment a Lambda function has (so Powertools behaves as it does there). Also shown:
the same without any compiled bytecode (Lambda layers built by `sam build` carry none,
so every cold start compiles), the X-Ray SDK start-up that the first traced
invocation pays, and what reading `config/example.yaml` costs the first invocation (the
config's model is imported on first use, then validates the document) and a warm one.
Last line:
`coldstart: R x boto3` for the slowest handler.

    python -m bench.coldstart
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5

LAMBDA_ENVIRONMENT = {
    "AWS_LAMBDA_FUNCTION_NAME": "stormwatch-bench",
    "AWS_REGION": "eu-central-1",
    "AWS_DEFAULT_REGION": "eu-central-1",
    "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
    "POWERTOOLS_SERVICE_NAME": "stormwatch",
    "POWERTOOLS_METRICS_NAMESPACE": "Stormwatch",
}


def _timed(statement: str, path: list[Path], *, bytecode: bool) -> float:
    program = (
        "import sys, time\n"
        f"sys.path[:0] = {[str(p) for p in path]!r}\n"
        "started = time.perf_counter()\n"
        f"{statement}\n"
        "print(time.perf_counter() - started)\n"
    )
    environment = {"PATH": os.environ.get("PATH", ""), **LAMBDA_ENVIRONMENT}
    arguments = [sys.executable, "-I", "-c", program]
    with tempfile.TemporaryDirectory() as empty_cache:
        if not bytecode:
            # An empty, private bytecode cache: everything is compiled from source, as in a
            # Lambda layer without .pyc files.
            arguments[1:1] = ["-X", f"pycache_prefix={empty_cache}"]
            environment["PYTHONDONTWRITEBYTECODE"] = "1"
        result = subprocess.run(
            arguments, capture_output=True, text=True, check=True, env=environment, timeout=120
        )
    return float(result.stdout.strip().splitlines()[-1])


def median_seconds(statement: str, path: list[Path], *, bytecode: bool = True) -> float:
    return statistics.median(_timed(statement, path, bytecode=bytecode) for _ in range(RUNS))


def _config_loads(path: list[Path], *, bytecode: bool = True) -> tuple[float, float]:
    """Seconds to import the config and validate the example the first time, and warm."""
    program = (
        "import json, sys, time\n"
        f"sys.path[:0] = {[str(p) for p in path]!r}\n"
        "import yaml\n"
        f"text = json.dumps(yaml.safe_load(open({str(ROOT / 'config' / 'example.yaml')!r})))\n"
        "import stormwatch.runtime\n"
        "started = time.perf_counter()\n"
        "from stormwatch.config import load_config_json\n"
        "load_config_json(text)\n"
        "first = time.perf_counter() - started\n"
        "started = time.perf_counter()\n"
        "load_config_json(text)\n"
        "print(first, time.perf_counter() - started)\n"
    )
    environment = {"PATH": os.environ.get("PATH", ""), **LAMBDA_ENVIRONMENT}
    runs = []
    for _ in range(RUNS):
        # Not isolated (-I): PyYAML comes from the venv, which the layer does not ship.
        arguments = [sys.executable, "-c", program]
        with tempfile.TemporaryDirectory() as empty_cache:
            if not bytecode:
                arguments[1:1] = ["-X", f"pycache_prefix={empty_cache}"]
            result = subprocess.run(
                arguments,
                capture_output=True,
                text=True,
                check=True,
                env={**environment, **({} if bytecode else {"PYTHONDONTWRITEBYTECODE": "1"})},
                timeout=120,
            )
        first, warm = result.stdout.split()
        runs.append((float(first), float(warm)))
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def handlers() -> dict[str, Path]:
    return {app.parent.name: app.parent for app in sorted((ROOT / "functions").glob("*/app.py"))}


def main() -> None:
    layer = ROOT / "layers" / "core"
    boto3 = median_seconds("import boto3", [layer])
    boto3_cold = median_seconds("import boto3", [layer], bytecode=False)
    tracer = median_seconds("from aws_lambda_powertools import Tracer; Tracer()", [layer])
    print(
        f"import boto3                      {boto3 * 1000:7.1f} ms (no bytecode: "
        f"{boto3_cold * 1000:.1f} ms)"
    )
    print(
        f"Tracer() incl. X-Ray SDK start    {tracer * 1000:7.1f} ms (paid on the first "
        "traced invocation)"
    )
    first, warm = _config_loads([layer])
    first_cold, _ = _config_loads([layer], bytecode=False)
    print(
        f"first config load (example.yaml) {first * 1000:7.1f} ms (import and validation, paid on "
        f"the first invocation; no bytecode: {first_cold * 1000:.1f} ms; warm: "
        f"{warm * 1000:.1f} ms)"
    )
    worst_name, worst_ratio = "", 0.0
    for name, folder in handlers().items():
        seconds = median_seconds("import app", [folder, layer])
        cold = median_seconds("import app", [folder, layer], bytecode=False)
        ratio = seconds / boto3
        print(
            f"import {name:<26} {seconds * 1000:7.1f} ms = {ratio:.2f} x boto3 "
            f"(no bytecode: {cold * 1000:.1f} ms = {cold / boto3_cold:.2f} x)"
        )
        if ratio > worst_ratio:
            worst_name, worst_ratio = name, ratio
    print(f"slowest handler: {worst_name}")
    print(f"coldstart: {worst_ratio:.2f} x boto3")


if __name__ == "__main__":
    main()
