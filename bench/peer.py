"""netreach against the peer network-config-analyzer 2.1.0 on S as YAML, in one run.

    make bench-peer
    python -m bench.peer --data .bench --runs 3

NCA is installed from the package index into its own virtualenv under the data directory
(``<data>/nca-venv``, once). Both tools run as whole processes on the same file (the
1,000-pod cluster as YAML): netreach ``analyze --granularity pod --format json``, NCA
``--connectivity`` with the same file as ``--resource_list`` (its connectivity map).
Figures: min and median of several runs, wall and CPU (user + sys), and the ratios of
the medians; the load average seen during the runs. Both run from
compiled bytecode, as installed packages do (NCA's was compiled by its install; netreach's
sources are compiled here first, since a source checkout may not hold it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
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


def timed(command: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + sys) seconds of one whole process. Exit codes are not failures
    (NCA exits with the number of its queries that found something), an empty output is."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL, cwd=REPO)
        _, _, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        out.seek(0)
        stdout = out.read()
    if not stdout.strip() or b'"executed": 0' in stdout:
        raise SystemExit(f"{command[0]} answered nothing: {stdout[-500:]!r}")
    return elapsed, usage.ru_utime + usage.ru_stime


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
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    loads = [os.getloadavg()[0]]
    for _ in range(args.runs):  # interleaved: both see the same machine load
        for name, command in commands.items():
            wall, used = timed(command)
            times[name].append(wall)
            cpu[name].append(used)
        loads.append(os.getloadavg()[0])
    print("| S as YAML, whole process | min | median | CPU min | CPU median |")
    print("|---|---|---|---|---|")
    for name, values in times.items():
        print(f"| {name} | {min(values):.2f} s | {statistics.median(values):.2f} s "
              f"| {min(cpu[name]):.2f} s | {statistics.median(cpu[name]):.2f} s |")  # fmt: skip
    ratio = statistics.median(times["nca 2.1.0"]) / statistics.median(times["netreach"])
    cpu_ratio = statistics.median(cpu["nca 2.1.0"]) / statistics.median(cpu["netreach"])
    print(f"| ratio (median NCA / median netreach) | {ratio:.0f}x | | {cpu_ratio:.0f}x | |")
    print(f"load average (1 min) during the runs: {min(loads):.1f}-{max(loads):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
