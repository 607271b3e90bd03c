"""Where the CPU time of ``analyze --granularity pod --format json`` on S as YAML goes.

    python -m bench.phases --data .bench --runs 5

Each run is a fresh interpreter that does what the command does, stage by stage, and
reports the CPU time (user + sys) of each: interpreter start-up, imports (the command line,
then what ``analyze`` imports), reading the YAML, parsing and resolving the objects,
compiling, the pod map, and the JSON. The whole command is also run as itself; what it
spends beyond the sum of the stages is the command line's own (option parsing, exit).
Figures: the median over the runs, in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from bench.engine import DEFAULT_GENERATOR, REPO
from bench.process import yaml_path

PROBE = """
import json, os, sys, time
marks = [("start-up", time.process_time())]
def mark(name):
    marks.append((name, time.process_time()))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the command line sets it
import service.cli
from service.engine.collector import paused_gc
with paused_gc():  # as the command line imports the module of the command it runs
    import service.cli.analysis
mark("import the command line")
with paused_gc():  # as analyze imports them
    from service.engine.connectivity import connectivity_map
    from service.engine.deadline import NO_DEADLINE
    from service.engine.options import AnalysisOptions, Granularity
    from service.report.connectivity import iter_map_json
    from service.usecases.manifests import compile_snapshot, from_documents
    from service.ingest import Limits, read_paths
    from service.engine.collector import paused_gc
    from service.engine.parse.essentials import essentials
mark("import what analyze needs")
limits, warnings = Limits(), []
with paused_gc():
    documents = read_paths([sys.argv[1]], limits, essentials, warnings=warnings)
mark("read YAML")
cluster = from_documents(documents, warnings, limits.counts).cluster
del documents
mark("parse and resolve")
compiled = compile_snapshot(cluster, AnalysisOptions(), NO_DEADLINE)
mark("compile")
cmap = connectivity_map(compiled, Granularity.POD, NO_DEADLINE)
mark("pod map")
size = sum(len(chunk) for chunk in iter_map_json(cmap))
mark("JSON")
print(json.dumps({"marks": marks, "size": size}), file=sys.stderr)
os._exit(0)
"""


def whole_cpu(command: list[str]) -> float:
    """CPU seconds (user + sys) of one whole process."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               cwd=REPO)  # fmt: skip
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed")
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / ".bench")
    parser.add_argument("--generator", type=Path, default=DEFAULT_GENERATOR)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cluster = str(yaml_path(args.generator, args.data))
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "service")],
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    stages: dict[str, list[float]] = {}
    whole: list[float] = []
    command = [sys.executable, "-m", "service.cli", "analyze", cluster, "--granularity", "pod",
               "--format", "json"]  # fmt: skip
    for _ in range(args.runs):
        done = subprocess.run([sys.executable, "-c", PROBE, cluster], capture_output=True,
                              cwd=REPO, check=True)  # fmt: skip
        marks = json.loads(done.stderr.strip().splitlines()[-1])["marks"]
        previous = 0.0
        for name, at in marks:
            stages.setdefault(name, []).append(at - previous)
            previous = at
        whole.append(whole_cpu(command))
    print("| `analyze` S as YAML, pod map as JSON: stage | CPU (median) |\n|---|---|")
    total = 0.0
    for name, values in stages.items():
        total += statistics.median(values)
        print(f"| {name} | {1000 * statistics.median(values):.0f} ms |")
    rest = statistics.median(whole) - total
    print(f"| the command line's own (options, exit) | {1000 * rest:.0f} ms |")
    print(f"| whole process | {1000 * statistics.median(whole):.0f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
