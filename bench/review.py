"""The review-bot path on generated clusters: a diff with its causes and the PR comment.

    make bench-review                   # sizes S and M
    python -m bench.review --sizes M --changes 50 --data .bench

For each size: the generated cluster (seed 1) against the generator's own mutation of it
(``mutate --changes N``: policies added, deleted and edited, selectors widened, workloads
scaled, namespaces relabelled), both compiled, both workload maps, then timed apart: the map
diff, the causes of every connection change, the comment (65,536 characters) and the full
JSON report.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from bench.engine import DEFAULT_GENERATOR, generate


def mutated(generator: Path, base: Path, changes: int) -> Path:
    path = base.with_name(f"{base.stem}-mutated-{changes}.json")
    if not path.exists():
        subprocess.run(
            [sys.executable, str(generator), "mutate", "--in", str(base), "--changes",
             str(changes), "--seed", "2", "--out", str(path)],
            check=True,
        )  # fmt: skip
    return path


def measure(base: Path, head: Path) -> dict[str, object]:
    from service.engine.connectivity import connectivity_map
    from service.engine.diff import (
        SemanticDiff,
        attribute,
        diff_maps,
        diff_objects,
        dns_endpoints,
        index_bodies,
        service_changes,
    )
    from service.engine.options import Granularity
    from service.report.diff import DiffSide, iter_diff_json, render_markdown
    from service.usecases.compare import analysed
    from service.usecases.manifests import load_paths

    sides = [load_paths([p], whole_bodies=True) for p in (base, head)]
    compiled = [m.compile() for m in sides]
    maps = [connectivity_map(c, Granularity.WORKLOAD) for c in compiled]
    figures: dict[str, object] = {}

    def timed(name: str, call: object) -> object:
        started = time.perf_counter()
        value = call()  # type: ignore[operator]
        figures[name] = round(time.perf_counter() - started, 3)
        return value

    connections = timed("map_diff_s", lambda: diff_maps(
        maps[0], maps[1],
        base_dns=dns_endpoints(compiled[0], Granularity.WORKLOAD),
        head_dns=dns_endpoints(compiled[1], Granularity.WORKLOAD),
    ))  # fmt: skip
    bodies = [analysed(index_bodies(d.body for d in m.documents)) for m in sides]
    objects = timed("object_diff_s", lambda: diff_objects(*bodies))
    causes = timed("causes_s", lambda: attribute(connections, *compiled, objects))  # type: ignore[arg-type]
    services = timed("services_s", lambda: service_changes(
        *compiled, objects, Granularity.WORKLOAD))  # type: ignore[arg-type]  # fmt: skip
    diff = SemanticDiff(connections, objects, causes, services)  # type: ignore[arg-type]
    sides_info = DiffSide("base"), DiffSide("head")
    text = timed("comment_s", lambda: render_markdown(diff, *sides_info))
    timed("json_s", lambda: sum(len(c) for c in iter_diff_json(diff, *sides_info)))
    figures["connection_changes"] = sum(connections.counts().values())  # type: ignore[attr-defined]
    figures["cause_sets"] = len(causes.sets)  # type: ignore[attr-defined]
    figures["comment_chars"] = len(text)  # type: ignore[arg-type]
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["S", "M"])
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--data", type=Path, default=Path(".bench"))
    parser.add_argument("--generator", type=Path, default=DEFAULT_GENERATOR)
    args = parser.parse_args()
    for size in args.sizes:
        base = generate(args.generator, size, args.data)
        head = mutated(args.generator, base, args.changes)
        print(json.dumps({"size": size, "changes": args.changes, **measure(base, head)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
