"""Engine benchmarks on generated clusters: ingest, compile, workload map, point queries.

    make bench                      # sizes S, M and L
    make bench SIZES="S M"          # fewer sizes
    python -m bench.engine --sizes S --data .bench

Each size runs in its own process so "peak RSS" is that size's own high-water mark. The
clusters come from the team's deterministic generator (``../shared/bench/gen_cluster.py``
beside the repository, or ``--generator``), seed 1, as JSON ``kind: List``.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_GENERATOR = REPO.parent / "shared" / "bench" / "gen_cluster.py"
SIZES = {"S": 1_000, "M": 10_000, "L": 100_000}
QUERIES = 1000


def generate(generator: Path, size: str, data: Path) -> Path:
    data.mkdir(parents=True, exist_ok=True)
    path = data / f"{size.lower()}.json"
    if not path.exists():
        print(f"generating {size} ({SIZES[size]} pods) -> {path}", file=sys.stderr)
        subprocess.run(
            [sys.executable, str(generator), "--pods", str(SIZES[size]), "--seed", "1",
             "--out", str(path)],
            check=True,
        )  # fmt: skip
    return path


def measure(path: Path) -> dict[str, object]:
    """Run inside a fresh process: every stage timed, peak memory at the end."""
    from service.engine.collector import paused_gc
    from service.engine.connectivity import connectivity_map
    from service.engine.options import Granularity
    from service.engine.parse.essentials import essentials
    from service.engine.reachability import check
    from service.ingest import Limits, read_paths
    from service.usecases.manifests import from_documents

    figures: dict[str, object] = {}
    started = time.perf_counter()
    with paused_gc():
        documents = read_paths([path], Limits(), essentials)  # as `netreach analyze` reads
    figures["read_s"] = time.perf_counter() - started
    mark = time.perf_counter()
    manifests = from_documents(documents)
    del documents
    figures["parse_s"] = time.perf_counter() - mark
    mark, cpu = time.perf_counter(), time.process_time()
    compiled = manifests.compile()
    figures["compile_s"] = time.perf_counter() - mark
    figures["compile_cpu_s"] = time.process_time() - cpu
    figures["ingest_compile_s"] = time.perf_counter() - started
    figures["pods"] = len(compiled.pods)
    figures["classes"] = compiled.class_count
    figures["policies"] = len(compiled.policies)

    mark, cpu = time.perf_counter(), time.process_time()
    workload_map = connectivity_map(compiled, Granularity.WORKLOAD)
    figures["workload_map_s"] = time.perf_counter() - mark
    figures["workload_map_cpu_s"] = time.process_time() - cpu
    figures["workload_connections"] = len(workload_map)

    rng = random.Random(1)
    pods = [p for p in compiled.pods if not p.template]
    latencies = []
    for _ in range(QUERIES):
        source, target = rng.choice(pods), rng.choice(pods)
        port = rng.choice((53, 80, 443, 5432, 6379, 8080, 9090, 9100))
        mark = time.perf_counter()
        check(compiled, f"{source.namespace}/{source.name}", f"{target.namespace}/{target.name}",
              port=port)  # fmt: skip
        latencies.append(time.perf_counter() - mark)
    latencies.sort()
    figures["query_p50_ms"] = statistics.median(latencies) * 1000
    figures["query_p99_ms"] = latencies[int(len(latencies) * 0.99) - 1] * 1000
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--data", type=Path, default=REPO / ".bench")
    parser.add_argument("--generator", type=Path, default=DEFAULT_GENERATOR)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # child process mode
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return 0
    rows = []
    for size in args.sizes:
        path = generate(args.generator, size, args.data)
        child = subprocess.run(
            [sys.executable, "-m", "bench.engine", "--measure", str(path)],
            check=True, capture_output=True, text=True, cwd=REPO,
        )  # fmt: skip
        figures = json.loads(child.stdout.strip().splitlines()[-1])
        rows.append((size, figures))
        print(f"{size}: {json.dumps(figures)}", file=sys.stderr)
    columns = [
        ("pods", "pods", "{:,}"),
        ("classes", "classes", "{:,}"),
        ("read_s", "read s", "{:.2f}"),
        ("parse_s", "parse s", "{:.2f}"),
        ("compile_s", "compile s", "{:.2f}"),
        ("ingest_compile_s", "ingest+compile s", "{:.2f}"),
        ("workload_map_s", "workload map s", "{:.2f}"),
        ("workload_connections", "connections", "{:,}"),
        ("query_p50_ms", "query p50 ms", "{:.3f}"),
        ("query_p99_ms", "query p99 ms", "{:.3f}"),
        ("peak_rss_mb", "peak RSS MB", "{:,.0f}"),
    ]
    print("| size | " + " | ".join(title for _, title, _ in columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for size, figures in rows:
        cells = [fmt.format(figures[key]) for key, _, fmt in columns]
        print(f"| {size} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
