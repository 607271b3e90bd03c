"""Runs a composite action's steps as a GitHub runner would, on this machine.

``action.yml`` is parsed; each ``run:`` step runs in bash (``-e -o pipefail``, as the
runner's ``shell: bash``) in the workspace, with the ``GITHUB_*`` and ``RUNNER_*``
environment a runner provides, ``${{ ... }}`` expressions resolved from the inputs, the
event, and earlier steps' outputs. ``GITHUB_OUTPUT`` and ``GITHUB_PATH`` are honoured
between steps. ``uses:`` steps (actions/upload-artifact) are recorded, not run: the files
they would upload are checked instead.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_PATH = re.compile(r"[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*")


def _lookup(context: Mapping[str, Any], expression: str) -> str:
    if not _PATH.fullmatch(expression):
        raise ValueError(f"the test runner supports only dotted paths, not {expression!r}")
    value: Any = context
    for part in expression.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return "" if value is None else str(value)


def resolve(text: str, context: Mapping[str, Any]) -> str:
    return _EXPRESSION.sub(lambda m: _lookup(context, m.group(1)), text)


@dataclass
class StepResult:
    name: str
    ran: bool
    returncode: int = 0
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class Run:
    steps: list[StepResult]
    summary: str

    def step(self, name_part: str) -> StepResult:
        return next(s for s in self.steps if name_part in s.name)

    @property
    def failed(self) -> StepResult | None:
        return next((s for s in self.steps if s.ran and s.returncode), None)


def _outputs(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        key, sep, value = line.partition("=")
        if sep:
            found[key] = value
    return found


def run_action(
    action: Path,
    *,
    workspace: Path,
    runner_temp: Path,
    inputs: Mapping[str, str],
    event: Mapping[str, Any],
    env: Mapping[str, str],
    token: str,
) -> Run:
    """Every step of the composite action at ``action`` (its directory is the action path),
    until one fails, as on a ``pull_request`` event in ``workspace``."""
    spec = yaml.safe_load((action / "action.yml").read_text())
    assert spec["runs"]["using"] == "composite"
    runner_temp.mkdir(parents=True, exist_ok=True)
    files = runner_temp / "_runner"
    files.mkdir(exist_ok=True)
    event_path = files / "event.json"
    event_path.write_text(json.dumps(event))
    summary = files / "step_summary.md"
    summary.touch()
    github_path = files / "path.txt"
    github_path.touch()
    context: dict[str, Any] = {
        "github": {"action_path": str(action), "token": token, "event": event,
                   "workspace": str(workspace)},
        "runner": {"temp": str(runner_temp)},
        "steps": {},
        "inputs": {},
    }  # fmt: skip
    for name, declared in spec.get("inputs", {}).items():
        default = resolve(str(declared.get("default", "")), context)
        context["inputs"][name] = inputs.get(name, default)
    unknown = set(inputs) - set(context["inputs"])
    assert not unknown, f"the action has no inputs {sorted(unknown)}"
    base_env = {
        **env,
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_PATH": str(github_path),
        "GITHUB_ACTION_PATH": str(action),
        "RUNNER_TEMP": str(runner_temp),
    }
    results: list[StepResult] = []
    for index, step in enumerate(spec["runs"]["steps"]):
        name = step.get("name", f"step {index}")
        if "uses" in step:
            results.append(StepResult(name, ran=False))
            continue
        assert step.get("shell") == "bash", f"{name}: the test runner runs bash steps"
        output = files / f"output-{index}.txt"
        output.touch()
        step_env = {**base_env, "GITHUB_OUTPUT": str(output)}
        extra = [p for p in github_path.read_text().splitlines() if p]
        step_env["PATH"] = os.pathsep.join([*reversed(extra), base_env["PATH"]])
        for key, value in (step.get("env") or {}).items():
            step_env[key] = resolve(str(value), context)
        script = files / f"step-{index}.sh"
        script.write_text(resolve(step["run"], context))
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", str(script)],
            cwd=workspace,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        result = StepResult(name, True, done.returncode, done.stdout, done.stderr,
                            _outputs(output))  # fmt: skip
        results.append(result)
        if "id" in step:
            context["steps"][step["id"]] = {"outputs": result.outputs}
        if done.returncode:
            break
    return Run(results, summary.read_text())
