"""Analyses of stored snapshots over HTTP, each first answer in a fresh `netreach serve`.

    python -m bench.stored --data .bench                  # M diff, what-if on L
    python -m bench.stored --data .bench --sizes M        # without L
    python -m bench.stored --data .bench --bisect 100     # also bisection over 100 versions

* cold diff: M against M with 50 changes (the generator's ``mutate --seed 2``), the first
  ``GET /v1/clusters/m/diff`` of a server process started after the uploads, with the cache
  directory off (every manifest decoded and parsed again) and on (resolved clusters loaded
  from it), several fresh servers each; then the same request again (warm);
* what-if: five NetworkPolicies of L changed, ``POST .../what-if``, first in a fresh server
  (cold, cache directory on and off), then again (warm);
* bisection (``--bisect N``): N versions of M, a policy opened at two thirds, then
  ``GET .../history/reachability?first=allowed``.

The uploads go to a server of their own, which compiles and maps each uploaded snapshot in
the background once the upload is answered (``NETREACH_PREPARE_AFTER_UPLOAD``) and writes
both to the cache directory; the benchmark waits until its ``/metrics`` show every
preparation finished (the wait is reported) before it starts the fresh servers.

SQLite, a throwaway database and cache directory under a temporary directory.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.engine import DEFAULT_GENERATOR, REPO, generate
from bench.service import server
from service.client import request_body


def mutated(generator: Path, base: Path, changes: int, seed: int) -> Path:
    path = base.with_name(f"{base.stem}-{changes}.json")
    if not path.exists():
        subprocess.run(
            [sys.executable, str(generator), "mutate", "--in", str(base), "--changes",
             str(changes), "--seed", str(seed), "--out", str(path)],
            check=True, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    return path


def items(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_bytes())
    return list(data["items"] if isinstance(data, dict) else data)


def changed_policies(bodies: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """``count`` NetworkPolicies with an ingress rule, their first rule's ports changed."""
    out = []
    for body in bodies:
        if body.get("kind") == "NetworkPolicy" and body["spec"].get("ingress"):
            changed = copy.deepcopy(body)
            changed["spec"]["ingress"][0]["ports"] = [{"protocol": "TCP", "port": 8443}]
            out.append(changed)
            if len(out) == count:
                break
    return out


def timed(call: Callable[[], httpx.Response]) -> float:
    started = time.perf_counter()
    response = call()
    elapsed = time.perf_counter() - started
    if response.status_code not in (200, 201):
        raise SystemExit(f"{response.status_code}: {response.text[:500]}")
    return elapsed


@contextmanager
def fresh_server(url: str, cache_dir: Path, *, cache: bool) -> Iterator[httpx.Client]:
    os.environ["NETREACH_CACHE_DIR"] = str(cache_dir)
    os.environ["NETREACH_CACHE_DIR_MAX_BYTES"] = str(8 << 30) if cache else "0"
    with server(url) as base, httpx.Client(base_url=base, timeout=900) as client:
        yield client


def upload(client: httpx.Client, cluster: str, path: Path) -> float:
    return timed(
        lambda: client.post(
            f"/v1/clusters/{cluster}/snapshots",
            content=request_body(path.read_bytes()),
            headers={"Content-Type": "application/json"},
        )
    )


def preparations(client: httpx.Client) -> dict[str, float]:
    """The server's ``netreach_preparations`` metrics: ``pending`` and each outcome."""
    figures: dict[str, float] = {}
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("netreach_preparations_pending "):
            figures["pending"] = float(line.split()[1])
        elif line.startswith('netreach_preparations_total{outcome="'):
            outcome = line.split('"')[1]
            figures[outcome] = float(line.split()[1])
    return figures


def wait_for_preparations(client: httpx.Client, uploads: int, timeout: float = 900) -> float:
    """Wait until the server has prepared (compiled and mapped, in the background, and
    written to the cache directory) each of ``uploads`` snapshots; seconds waited."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        state = preparations(client)
        finished = sum(state.get(o, 0) for o in ("prepared", "ready", "failed", "dropped"))
        if finished >= uploads and not state.get("pending"):
            if state.get("failed") or state.get("dropped"):
                raise SystemExit(f"background preparation did not complete: {state}")
            return time.perf_counter() - started
        time.sleep(0.1)
    raise SystemExit(f"background preparation still running after {timeout:g} s")


def summary(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f} s"
    return f"min {min(values):.2f} s, median {statistics.median(values):.2f} s (n={len(values)})"


def bench_diff(url: str, cache_dir: Path, runs: int) -> dict[str, str]:
    figures: dict[str, str] = {}
    diff = {"base": "1", "head": "2"}
    for cache in (False, True):
        cold, warm = [], []
        for _ in range(runs):
            with fresh_server(url, cache_dir, cache=cache) as client:
                cold.append(timed(lambda: client.get("/v1/clusters/m/diff", params=diff)))
                warm.append(timed(lambda: client.get("/v1/clusters/m/diff", params=diff)))
        label = "cache directory" if cache else "no cache directory"
        figures[f"diff M cold, {label}"] = summary(cold)
        figures[f"diff M warm, {label}"] = summary(warm)
    return figures


def bench_what_if(url: str, cache_dir: Path, change: dict[str, Any], runs: int) -> dict[str, str]:
    figures: dict[str, str] = {}
    path = "/v1/clusters/l/snapshots/1/what-if"
    for cache in (False, True):
        cold, warm = [], []
        for _ in range(runs):
            with fresh_server(url, cache_dir, cache=cache) as client:
                cold.append(timed(lambda: client.post(path, json=change)))
                warm += [timed(lambda: client.post(path, json=change)) for _ in range(2)]
        label = "cache directory" if cache else "no cache directory"
        figures[f"what-if 5 policies on L cold, {label}"] = summary(cold)
        figures[f"what-if 5 policies on L warm, {label}"] = summary(warm)
    return figures


def bench_bisect(url: str, cache_dir: Path, base: Path, versions: int) -> dict[str, str]:
    from service.store import make_engine, make_session_factory
    from service.usecases.snapshots import record_snapshot

    bodies = items(base)
    policy = next(
        b for b in bodies
        if b.get("kind") == "NetworkPolicy" and b["spec"].get("ingress")
        and set(b["spec"].get("podSelector") or {}) <= {"matchLabels"}
    )  # fmt: skip
    namespace = policy["metadata"]["namespace"]
    opened = copy.deepcopy(policy)
    opened["spec"]["ingress"].append(
        {"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 7777}]}
    )
    engine = make_engine(url)
    factory = make_session_factory(engine)
    turn = versions * 2 // 3
    for version in range(1, versions + 1):
        docs = [opened if b is policy and version >= turn else b for b in bodies]
        docs.append({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": f"v{version}", "namespace": namespace}})  # fmt: skip
        with factory() as session:
            record_snapshot(
                session, "h", json.dumps(docs).encode(), content_type="application/json"
            )
            session.commit()
    engine.dispose()
    selector = policy["spec"].get("podSelector", {}).get("matchLabels", {})
    target = next(
        b for b in bodies
        if b.get("kind") == "Pod" and b["metadata"].get("namespace") == namespace
        and selector.items() <= (b["metadata"].get("labels") or {}).items()
    )  # fmt: skip
    params = {"from": "203.0.113.7", "to": f"{namespace}/{target['metadata']['name']}",
              "port": "7777", "first": "allowed"}  # fmt: skip
    figures = {}
    with fresh_server(url, cache_dir, cache=True) as client:
        for run in ("cold", "warm"):
            started = time.perf_counter()
            response = client.get("/v1/clusters/h/history/reachability", params=params)
            figures[f"bisect over {versions} versions of M ({run})"] = (
                f"{time.perf_counter() - started:.2f} s"
            )
            found = response.json()["version"]
            if found != turn:
                raise SystemExit(f"bisection found version {found}, expected {turn}")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / ".bench")
    parser.add_argument("--generator", type=Path, default=DEFAULT_GENERATOR)
    parser.add_argument("--sizes", nargs="+", default=["M", "L"], choices=["S", "M", "L"])
    parser.add_argument("--runs", type=int, default=3, help="fresh servers per cold figure")
    parser.add_argument("--bisect", type=int, default=0, metavar="N", help="versions (0: skip)")
    args = parser.parse_args()
    m = generate(args.generator, "M", args.data)
    m2 = mutated(args.generator, m, 50, 2)
    large = generate(args.generator, "L", args.data) if "L" in args.sizes else None
    figures: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="netreach-bench-") as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        cache_dir = Path(tmp) / "cache"
        with fresh_server(url, cache_dir, cache=True) as client:  # uploads write the cache
            figures["upload M"] = f"{upload(client, 'm', m):.2f} s"
            figures["upload M+50"] = f"{upload(client, 'm', m2):.2f} s"
            if large is not None:
                figures["upload L"] = f"{upload(client, 'l', large):.2f} s"
            # the cold figures below are those of a snapshot prepared after its upload
            waited = wait_for_preparations(client, 3 if large is not None else 2)
            figures["background preparation, after the last upload"] = f"{waited:.2f} s"
        figures.update(bench_diff(url, cache_dir, args.runs))
        if large is not None:
            change = {"manifests": changed_policies(items(large), 5)}
            figures.update(bench_what_if(url, cache_dir, change, args.runs))
        if args.bisect:
            figures.update(bench_bisect(url, cache_dir, m, args.bisect))
    print("| stored snapshots, over HTTP (SQLite) | time |\n|---|---|")
    for name, value in figures.items():
        print(f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
