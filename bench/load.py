"""An open-loop HTTP load generator: requests leave on a fixed schedule, answered or not.

A closed loop (send, wait, send the next) slows down with the server and so hides the
latency of the requests it never sent ("coordinated omission"). Here request ``i`` is due at
``start + i / rate``; its latency is measured from when it was *due*, so a stalled server
shows up in the percentiles, as with ``wrk2``. Connections are kept alive and reused.

    python -m bench.load URL --rate 200 --seconds 60       # GET URL at 200/s
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    url: str
    json: Any = None


@dataclass
class Result:
    rate: float
    seconds: float
    latencies: list[float] = field(default_factory=list)  # seconds, of successful requests
    errors: dict[str, int] = field(default_factory=dict)  # "status 503", "ReadTimeout", ...
    elapsed: float = 0.0

    @property
    def sent(self) -> int:
        return len(self.latencies) + sum(self.errors.values())

    def percentile(self, fraction: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    def summary(self) -> dict[str, Any]:
        return {
            "target_rate": self.rate,
            "achieved_rate": round(len(self.latencies) / self.elapsed, 1) if self.elapsed else 0,
            "requests": self.sent,
            "p50_ms": round(self.percentile(0.50) * 1000, 2),
            "p95_ms": round(self.percentile(0.95) * 1000, 2),
            "p99_ms": round(self.percentile(0.99) * 1000, 2),
            "max_ms": round(max(self.latencies, default=float("nan")) * 1000, 2),
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors),
        }


async def _run(
    make_request: Callable[[int], Request],
    rate: float,
    seconds: float,
    headers: dict[str, str],
    timeout: float,
) -> Result:
    result = Result(rate, seconds)
    total = int(rate * seconds)
    limits = httpx.Limits(max_connections=512, max_keepalive_connections=512)
    async with httpx.AsyncClient(headers=headers, timeout=timeout, limits=limits) as client:

        async def one(index: int, due: float) -> None:
            request = make_request(index)
            try:
                response = await client.request(request.method, request.url, json=request.json)
                await response.aread()
            except httpx.HTTPError as error:
                key = type(error).__name__
            else:
                if response.status_code < 400:
                    result.latencies.append(time.perf_counter() - due)
                    return
                key = f"status {response.status_code}"
            result.errors[key] = result.errors.get(key, 0) + 1

        start = time.perf_counter()
        tasks: list[asyncio.Task[None]] = []
        for index in range(total):
            due = start + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(index, due)))
        await asyncio.gather(*tasks)
        result.elapsed = time.perf_counter() - start
    return result


def run(
    make_request: Callable[[int], Request],
    *,
    rate: float,
    seconds: float,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Result:
    """Send ``rate * seconds`` requests on schedule; ``make_request(i)`` builds the i-th."""
    return asyncio.run(_run(make_request, rate, seconds, headers or {}, timeout))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--token")
    args = parser.parse_args()
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    result = run(lambda _: Request("GET", args.url), rate=args.rate, seconds=args.seconds,
                 headers=headers)  # fmt: skip
    print(json.dumps(result.summary(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
