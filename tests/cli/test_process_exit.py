"""``netreach analyze`` in its own process ends without freeing the analysis object by
object (see ``end_process``): the output must still be complete, flushed, and the exit code
0; in-process runners are not ended."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from service.cli import app

DEMO = Path(__file__).resolve().parents[2] / "service" / "demo" / "v2.yaml"
ANALYZE = ["analyze", str(DEMO), "--format", "json", "--granularity", "pod"]


def test_analyze_output_is_complete_when_the_process_ends_early(tmp_path: Path) -> None:
    in_process = CliRunner().invoke(app, ANALYZE)  # returns: the runner was not ended
    assert in_process.exit_code == 0
    out = tmp_path / "map.json"
    with out.open("wb") as sink:
        done = subprocess.run(
            [sys.executable, "-m", "service.cli", *ANALYZE],
            stdout=sink,
            stderr=subprocess.PIPE,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    assert out.read_text() == in_process.stdout
    assert in_process.stdout.startswith('{"connections":[')
