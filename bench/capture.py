"""Capture benchmark: ``netreach capture`` of a generated live cluster served by the test
suite's fake Kubernetes API server (TLS, client certificate, paginated lists).

    python -m bench.capture --sizes S M --data .bench

Each size runs in its own process: the fake server in a thread, the capture in the main
thread. The fake server is Python and shares the machine (and the GIL), so the wall time is
an upper bound of what capture costs against a real API server; ``capture_cpu_s`` is the
capture thread's own CPU time; "requests" and "output" do not depend on the server.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from bench.engine import DEFAULT_GENERATOR, SIZES, generate


def measure(path: Path, page_size: int) -> dict[str, object]:
    import tempfile

    from service.capture import KubeApi, capture, load_configuration
    from tests.capture.conftest import certificate_user, write_kubeconfig
    from tests.capture.fake_apiserver import Behaviour, FakeApiServer, FakeCluster

    cluster = FakeCluster()
    cluster.load([json.loads(path.read_text())])
    server = FakeApiServer(cluster)
    server.behaviour = Behaviour(shuffle=False)
    with server.running(), tempfile.TemporaryDirectory() as tmp:
        config = write_kubeconfig(Path(tmp) / "kubeconfig", server, certificate_user(server))
        started, cpu = time.perf_counter(), time.thread_time()
        configuration, target = load_configuration(str(config))
        with KubeApi(configuration, target) as api:
            captured = capture(api, page_size=page_size)
        body = captured.to_json()
        elapsed, cpu = time.perf_counter() - started, time.thread_time() - cpu
    return {
        "objects": len(captured.items),
        "requests": len(server.requests),
        "capture_s": round(elapsed, 2),
        "capture_cpu_s": round(cpu, 2),  # capture's own thread, without the fake server
        "output_mb": round(len(body) / 1e6, 1),
        "input_mb": round(path.stat().st_size / 1e6, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["S", "M"], choices=sorted(SIZES))
    parser.add_argument("--data", type=Path, default=Path(".bench"))
    parser.add_argument("--generator", type=Path, default=DEFAULT_GENERATOR)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)  # the per-size child
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.page_size)))
        return
    for size in args.sizes:
        path = generate(args.generator, size, args.data)
        done = subprocess.run(
            [sys.executable, "-m", "bench.capture", "--one", str(path),
             "--page-size", str(args.page_size)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        print(f"{size}: {done.stdout.strip()}")


if __name__ == "__main__":
    main()
