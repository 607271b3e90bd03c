"""Service benchmarks over HTTP against a real `netreach serve`, with tokens enabled.

    make bench-api                                  # SQLite and PostgreSQL, 1 and 2 workers
    python -m bench.service --data .bench --databases sqlite --workers 1 --seconds 20
    python -m bench.service --parts load            # only the load test
    python -m bench.service --parts memory --databases sqlite   # idle RSS after uploads
    python -m bench.service --parts upload          # only the upload of L

Figures: upload of L (100,000 pods, 405 MB of JSON) on an empty database, plain and
gzip-compressed (the request's wall time, the server's CPU time with its child's, peak
memory, the bytes on the wire); upload of M end to end; point-query latency on a warm M
snapshot, one client at a time (p50, p99); the connectivity map of M (JSON, streamed);
storage of 100 versions of S with ~1% churn against one version (the generator's ``mutate``,
22 changes per version); memory: the idle RSS of a fresh server against its idle RSS after 4
uploads of 100,000 ConfigMaps (the goal: under 2x); and the load test: random pod-pair
reachability queries at a fixed rate (200/s for 60 s by default) from an open-loop generator
(:mod:`bench.load`: latencies count from when each request was due, so a stalled server
cannot hide), per database and number of workers: achieved rate, p50/p95/p99, errors.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import load
from bench.engine import DEFAULT_GENERATOR, generate
from service.client import request_body

REPO = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN = os.environ.get(
    "NETREACH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
QUERIES = 1000
VERSIONS = 100
CHANGES_PER_VERSION = 22  # ~1% of the 2,190 objects of S
MEMORY_OBJECTS = 100_000  # ConfigMaps per upload of the memory benchmark
MEMORY_UPLOADS = 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"netreach_bench_{secrets.token_hex(4)}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_ADMIN).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def create_token(url: str) -> str:
    """Migrate the database and create an admin token: the server then requires tokens."""
    from service.store import TokenRepository, make_engine, make_session_factory
    from service.store.migrate import upgrade

    upgrade(url)
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session, session.begin():
            return TokenRepository(session).create("bench", ["admin"])[1]
    finally:
        engine.dispose()


@contextmanager
def server(url: str, workers: int = 1, pid: list[int] | None = None) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "NETREACH_DATABASE_URL": url, "NETREACH_LOG_LEVEL": "warning"}
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port),
         "--workers", str(workers)],
        env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    if pid is not None:
        pid.append(process.pid)
    SERVERS[base] = process.pid
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None:
                raise RuntimeError(f"netreach serve exited with {process.returncode}")
            time.sleep(0.1)
        else:
            raise RuntimeError("netreach serve did not get ready within 60 s")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


SERVERS: dict[str, int] = {}  # base URL -> process id


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_upload_l(kind: str, l_path: Path) -> dict[str, float]:
    """L into an empty database, plain then (another empty database) gzip-compressed."""
    import gzip

    plain = l_path.read_bytes()
    started = time.perf_counter()
    compressed = gzip.compress(plain, compresslevel=1, mtime=0)  # what the client sends
    figures = {"gzip_l_client_s": time.perf_counter() - started,
               "l_json_mb": len(plain) / 1e6, "l_gzip_mb": len(compressed) / 1e6}  # fmt: skip
    for name, body, headers in (
        ("plain", plain, {}),
        ("gzip", compressed, {"Content-Encoding": "gzip"}),
    ):
        with database(kind) as url:
            token = create_token(url)
            with server(url) as base:
                pid = SERVERS[base]
                cpu = cpu_seconds(pid)
                started = time.perf_counter()
                response = httpx.post(
                    f"{base}/v1/clusters/l/snapshots",
                    content=request_body(body),
                    headers={"Content-Type": "application/json",
                             "Authorization": f"Bearer {token}", **headers},
                    timeout=1800,
                )  # fmt: skip
                response.raise_for_status()
                figures[f"upload_l_{name}_s"] = time.perf_counter() - started
                figures[f"upload_l_{name}_server_cpu_s"] = cpu_seconds(pid) - cpu
                figures[f"upload_l_{name}_server_peak_mb"] = peak_rss_mb(pid)
    return figures


def upload(client: httpx.Client, base: str, cluster: str, path: Path) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.post(
        f"{base}/v1/clusters/{cluster}/snapshots",
        content=request_body(path.read_bytes()),
        headers={"Content-Type": "application/json"},
    )
    response.raise_for_status()
    return time.perf_counter() - started, int(response.json()["version"])


def whole_map(client: httpx.Client, url: str) -> int:
    """Every page of the workload map as JSON (a large map is paged); the bytes received."""
    received, cursor = 0, None
    while True:
        params = {"granularity": "workload", **({"cursor": cursor} if cursor else {})}
        response = client.get(url, params=params)
        response.raise_for_status()
        received += len(response.content)
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return received


def bench_m(base: str, m: Path, token: str) -> dict[str, float]:
    figures: dict[str, float] = {}
    with httpx.Client(timeout=600, headers={"Authorization": f"Bearer {token}"}) as client:
        figures["upload_m_s"], version = upload(client, base, "m", m)
        snapshot = f"{base}/v1/clusters/m/snapshots/{version}"
        started = time.perf_counter()
        size = whole_map(client, f"{snapshot}/connectivity")
        figures["map_m_cold_s"] = time.perf_counter() - started  # includes the first compile
        started = time.perf_counter()
        whole_map(client, f"{snapshot}/connectivity")
        figures["map_m_warm_s"] = time.perf_counter() - started
        figures["map_m_mb"] = size / 1e6
        objects = client.get(f"{snapshot}/objects", params={"kind": "Pod", "limit": 1000})
        pods = [f"{o['namespace']}/{o['name']}" for o in objects.json()["items"]]
        rng = random.Random(1)
        latencies = []
        for _ in range(QUERIES):
            body = {"from": rng.choice(pods), "to": rng.choice(pods),
                    "port": rng.choice((53, 80, 443, 5432, 8080, 9090))}  # fmt: skip
            started = time.perf_counter()
            client.post(f"{snapshot}/reachability", json=body).raise_for_status()
            latencies.append(time.perf_counter() - started)
        latencies.sort()
        figures["query_p50_ms"] = statistics.median(latencies) * 1000
        figures["query_p99_ms"] = latencies[int(QUERIES * 0.99) - 1] * 1000
    return figures


def bench_storage(
    base: str, url: str, s: Path, data: Path, generator: Path, token: str
) -> dict[str, float]:
    from service.store import make_engine, make_session_factory
    from service.store.stats import database_size_bytes

    engine = make_engine(url)
    factory = make_session_factory(engine)

    def size() -> int:
        with factory() as session:
            return database_size_bytes(session)

    empty = size()
    versions = data / "s-history"
    versions.mkdir(exist_ok=True)
    with httpx.Client(timeout=600, headers={"Authorization": f"Bearer {token}"}) as client:
        upload(client, base, "s", s)
        one = size() - empty
        previous = s
        for index in range(1, VERSIONS):
            path = versions / f"s-{index:03d}.json"
            if not path.exists():
                subprocess.run(
                    [sys.executable, str(generator), "mutate", "--in", str(previous),
                     "--changes", str(CHANGES_PER_VERSION), "--seed", str(index),
                     "--out", str(path)],
                    check=True, stderr=subprocess.DEVNULL,
                )  # fmt: skip
            upload(client, base, "s", path)
            previous = path
        hundred = size() - empty
    engine.dispose()
    return {"one_version_mb": one / 1e6, "hundred_versions_mb": hundred / 1e6,
            "ratio": hundred / one}  # fmt: skip


def rss_mb(pid: int) -> float:
    """The resident set of a process (Linux), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def config_maps(count: int, seed: int) -> bytes:
    """A JSON List of ``count`` ConfigMaps, different for every seed."""
    items = [
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": f"cm-{seed}-{n}", "namespace": f"ns-{n % 50}",
                      "labels": {"app": f"app-{n % 300}", "seed": str(seed)}},
         "data": {"key": f"value-{seed}-{n}", "other": "x" * 40}}
        for n in range(count)
    ]  # fmt: skip
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items}).encode()


def bench_memory(url: str, token: str, count: int = MEMORY_OBJECTS) -> dict[str, float]:
    """Idle RSS of a fresh server, then after each of 4 uploads of ``count`` ConfigMaps."""
    pid: list[int] = []
    figures: dict[str, float] = {}
    with server(url, pid=pid) as base:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        with httpx.Client(base_url=base, timeout=600, headers=headers) as client:
            client.get("/v1/clusters").raise_for_status()
            time.sleep(1)
            figures["idle_fresh_mb"] = rss_mb(pid[0])
            peak = 0.0
            for seed in range(MEMORY_UPLOADS):
                body = config_maps(count, seed)
                posted = client.post("/v1/clusters/mem/snapshots", content=request_body(body))
                posted.raise_for_status()
                del body
                peak = max(peak, rss_mb(pid[0]))
            time.sleep(2)
            figures["idle_after_uploads_mb"] = rss_mb(pid[0])
            figures["after_last_upload_mb"] = peak
    figures["idle_ratio"] = figures["idle_after_uploads_mb"] / figures["idle_fresh_mb"]
    return figures


def warm(client: httpx.Client, snapshot: str, pods: list[str], workers: int) -> None:
    """Compile M in every worker: concurrent queries until answers come fast."""
    body = {"from": pods[0], "to": pods[1], "port": 80}
    with ThreadPoolExecutor(max_workers=8 * workers) as pool:
        list(pool.map(lambda _: client.post(f"{snapshot}/reachability", json=body),
                      range(16 * workers)))  # fmt: skip
    fast, deadline = 0, time.monotonic() + 120
    while fast < 10 * workers and time.monotonic() < deadline:
        started = time.perf_counter()
        client.post(f"{snapshot}/reachability", json=body).raise_for_status()
        fast = fast + 1 if time.perf_counter() - started < 0.1 else 0


def bench_load(
    base: str, m: Path, token: str, workers: int, rate: float, seconds: float
) -> dict[str, object]:
    """Random pod-pair queries on a warm M at ``rate`` per second, open loop."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, timeout=600, headers=headers) as client:
        if client.get("/v1/clusters/m/snapshots/latest").status_code == 404:
            upload(client, base, "m", m)
        snapshot = "/v1/clusters/m/snapshots/latest"
        page = client.get(f"{snapshot}/objects", params={"kind": "Pod", "limit": 1000})
        pods = [f"{o['namespace']}/{o['name']}" for o in page.json()["items"]]
        warm(client, f"{base}{snapshot}", pods, workers)
    rng = random.Random(1)
    url = f"{base}{snapshot}/reachability"

    def question(_: int) -> load.Request:
        body = {"from": rng.choice(pods), "to": rng.choice(pods),
                "port": rng.choice((53, 80, 443, 5432, 8080, 9090))}  # fmt: skip
        return load.Request("POST", url, body)

    return load.run(question, rate=rate, seconds=seconds, headers=headers).summary()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / ".bench")
    parser.add_argument("--generator", type=Path, default=DEFAULT_GENERATOR)
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--parts", nargs="+", default=["upload", "m", "storage", "memory", "load"],
                        choices=["upload", "m", "storage", "memory", "load"])  # fmt: skip
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--rate", type=float, default=200.0, help="load: requests per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="load: duration")
    args = parser.parse_args()
    m = generate(args.generator, "M", args.data)
    s = generate(args.generator, "S", args.data) if "storage" in args.parts else m
    for kind in args.databases:
        if "upload" in args.parts:
            figures = bench_upload_l(kind, generate(args.generator, "L", args.data))
            shown = " | ".join(f"{k} {v:.2f}" for k, v in figures.items())
            print(f"| upload L | {kind} | {shown} |", flush=True)
        if {"m", "storage"} & set(args.parts):
            with database(kind) as url:
                token = create_token(url)
                with server(url) as base:
                    figures: dict[str, float] = {}
                    if "m" in args.parts:
                        figures.update(bench_m(base, m, token))
                    if "storage" in args.parts:
                        figures.update(bench_storage(base, url, s, args.data, args.generator,
                                                     token))  # fmt: skip
            print(f"| {kind} | " + " | ".join(f"{k} {v:.3f}" for k, v in figures.items()) + " |")
        if "memory" in args.parts:
            with database(kind) as url:
                figures = bench_memory(url, create_token(url))
            print(f"| memory | {kind} | " + " | ".join(f"{k} {v:.2f}" for k, v in
                  figures.items()) + " |", flush=True)  # fmt: skip
        if "load" in args.parts:
            for workers in args.workers:
                with database(kind) as url:
                    token = create_token(url)
                    with server(url, workers) as base:
                        result = bench_load(base, m, token, workers, args.rate, args.seconds)
                print(f"| load | {kind} | {workers} worker(s) | {json.dumps(result)} |",
                      flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
