"""netreach against the peer network-config-analyzer 2.1.0 on S as YAML, in one run.

    make bench-peer
    python -m bench.peer --data .bench --runs 3

NCA is installed from the package index into its own virtualenv under the data directory
(``<data>/nca-venv``, once). Both tools run as whole processes on the same file (the
1,000-pod cluster as YAML): netreach ``analyze --granularity pod --format json``, NCA
``--connectivity`` with the same file as ``--resource_list`` (its connectivity map).
Figures: min and median of several runs, and the ratio of the medians. Both run from
compiled bytecode, as installed packages do (NCA's was compiled by its install; netreach's
sources are compiled here first, since a source checkout may not hold it).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import venv
from pathlib import Path

from bench.engine import DEFAULT_GENERATOR, REPO
from bench.process import yaml_path

NCA = "network-config-analyzer==2.1.0"


def nca_binary(data: Path) -> Path:
    home = data / "nca-venv"
    binary = home / "bin" / "nca"
    if not binary.exists():
        print(f"installing {NCA} into {home}", file=sys.stderr)
        venv.create(home, with_pip=True, clear=True)
        subprocess.run([home / "bin" / "pip", "install", "--quiet", NCA], check=True)
    return binary


def timed(command: list[str]) -> float:
    """Seconds of one whole process. Exit codes are not failures (NCA exits with the number
    of its queries that found something), an empty output is."""
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, cwd=REPO)
    elapsed = time.perf_counter() - started
    if not done.stdout.strip() or b'"executed": 0' in done.stdout:
        raise SystemExit(f"{command[0]} answered nothing: {done.stdout[-500:]!r}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / ".bench")
    parser.add_argument("--generator", type=Path, default=DEFAULT_GENERATOR)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cluster = yaml_path(args.generator, args.data)
    nca = nca_binary(args.data)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "service")],
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    commands = {
        "netreach": [sys.executable, "-m", "service.cli", "analyze", str(cluster),
                     "--granularity", "pod", "--format", "json"],
        "nca 2.1.0": [str(nca), "--connectivity", str(cluster), "--resource_list", str(cluster),
                      "--output_format", "json"],
    }  # fmt: skip
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):  # interleaved: both see the same machine load
        for name, command in commands.items():
            times[name].append(timed(command))
    print("| S as YAML, whole process | min | median |\n|---|---|---|")
    for name, values in times.items():
        print(f"| {name} | {min(values):.2f} s | {statistics.median(values):.2f} s |")
    ratio = statistics.median(times["nca 2.1.0"]) / statistics.median(times["netreach"])
    print(f"| ratio (median NCA / median netreach) | {ratio:.0f}x | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
