"""Whole-process benchmarks of the command line: what a user waits for at the prompt.

    python -m bench.process --data .bench              # start-up, query, YAML S, analyze L
    python -m bench.process --data .bench --sizes S    # without L

* ``netreach --help`` and ``netreach query`` on the demo: several runs, min and median;
* read + parse of S as YAML (in this process, several runs);
* ``netreach analyze l.json --granularity workload --format json > file``: wall time, CPU
  time and peak RSS of the process (``wait4``), the output checked to be JSON-shaped.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.engine import DEFAULT_GENERATOR, REPO, generate

DEMO = REPO / "service" / "demo" / "v2.yaml"
NETREACH = [sys.executable, "-m", "service.cli"]


def run(args: list[str], stdout: int | object = subprocess.DEVNULL) -> tuple[float, float, int]:
    """``(wall s, cpu s, peak RSS bytes)`` of one process."""
    started = time.perf_counter()
    process = subprocess.Popen(args, stdout=stdout, stderr=subprocess.DEVNULL, cwd=REPO)  # type: ignore[arg-type]
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args)} exited {process.returncode}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024


def summary(values: list[float]) -> str:
    return f"min {min(values):.3f} s, median {statistics.median(values):.3f} s (n={len(values)})"


def yaml_path(generator: Path, data: Path) -> Path:
    path = data / "s.yaml"
    if not path.exists():
        subprocess.run(
            [sys.executable, str(generator), "--pods", "1000", "--seed", "1", "--format",
             "yaml", "--out", str(path)],
            check=True,
        )  # fmt: skip
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / ".bench")
    parser.add_argument("--generator", type=Path, default=DEFAULT_GENERATOR)
    parser.add_argument("--sizes", nargs="+", default=["S", "L"], choices=["S", "M", "L"])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    figures: dict[str, str] = {}
    figures["netreach --help"] = summary([run([*NETREACH, "--help"])[0] for _ in range(args.runs)])
    query = [*NETREACH, "query", str(DEMO), "--from", "shop/Deployment/web", "--to",
             "shop/Service/api", "--port", "80"]  # fmt: skip
    figures["netreach query (demo)"] = summary([run(query)[0] for _ in range(args.runs)])

    from service.engine.collector import paused_gc
    from service.ingest import Limits, read_paths
    from service.usecases.manifests import from_documents

    s_yaml = yaml_path(args.generator, args.data)
    times = []
    for _ in range(args.runs):
        started = time.perf_counter()
        with paused_gc():
            documents = read_paths([s_yaml], Limits())
        from_documents(documents)
        times.append(time.perf_counter() - started)
    figures["read + parse S as YAML"] = summary(times)

    if "L" in args.sizes:
        large = generate(args.generator, "L", args.data)
        out = args.data / "l-workload-map.json"
        command = [*NETREACH, "analyze", str(large), "--granularity", "workload", "--format",
                   "json"]  # fmt: skip
        with out.open("wb") as sink:
            wall, cpu, rss = run(command, stdout=sink)
        with out.open("rb") as written:
            assert written.read(16) == b'{"connections":['
        figures["analyze L workload JSON (whole process)"] = (
            f"{wall:.1f} s wall, {cpu:.1f} s CPU, {rss / 1e9:.2f} GB peak RSS, "
            f"{out.stat().st_size / 1e6:.0f} MB"
        )
        out.unlink()
    print("| command line, whole processes | time |\n|---|---|")
    for name, value in figures.items():
        print(f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
