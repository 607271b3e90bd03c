"""An open-loop HTTP load generator: requests leave on a fixed schedule, answered or not.

A closed loop (send, wait, send the next) slows down with the server and so hides the
latency of the requests it never sent ("coordinated omission"). Here request ``i`` is due at
``start + i / rate``; its latency is measured from when it was *due*, so a stalled server
shows up in the percentiles, as with ``wrk2``. Requests go out over a fixed number of
kept-alive HTTP/1.1 connections (plain asyncio streams: a general-purpose client's pool
bookkeeping costs more CPU than the server's answer once requests queue up).

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
from urllib.parse import urlsplit


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
    errors: dict[str, int] = field(default_factory=dict)  # "status 503", "timeout", ...
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


def _encode(request: Request, host: str, headers: dict[str, str]) -> bytes:
    target = urlsplit(request.url)
    path = (target.path or "/") + (f"?{target.query}" if target.query else "")
    body = b"" if request.json is None else json.dumps(request.json).encode()
    lines = [f"{request.method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    if request.json is not None:
        lines.append("Content-Type: application/json")
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; ``(status, keep_alive)``."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    fields = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    if "content-length" in fields:
        await reader.readexactly(int(fields["content-length"]))
    elif fields.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status, fields.get("connection", "").lower() != "close"


async def _run(
    make_request: Callable[[int], Request],
    rate: float,
    seconds: float,
    headers: dict[str, str],
    timeout: float,
    connections: int,
) -> Result:
    result = Result(rate, seconds)
    total = int(rate * seconds)
    queue: asyncio.Queue[tuple[bytes, float] | None] = asyncio.Queue()
    first = urlsplit(make_request(0).url)
    host, port = first.hostname or "127.0.0.1", first.port or 80

    def failed(key: str) -> None:
        result.errors[key] = result.errors.get(key, 0) + 1

    async def connection() -> None:
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        while (item := await queue.get()) is not None:
            data, due = item
            try:
                if writer is None or reader is None:
                    reader, writer = await asyncio.open_connection(host, port)
                writer.write(data)
                status, keep_alive = await asyncio.wait_for(_response(reader), timeout)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as e:
                failed("timeout" if isinstance(e, asyncio.TimeoutError) else type(e).__name__)
                if writer is not None:
                    writer.close()
                reader = writer = None
                continue
            if status < 400:
                result.latencies.append(time.perf_counter() - due)
            else:
                failed(f"status {status}")
            if not keep_alive:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    start = time.perf_counter()
    for index in range(total):
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((_encode(make_request(index), f"{host}:{port}", headers), due))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    result.elapsed = time.perf_counter() - start
    return result


def run(
    make_request: Callable[[int], Request],
    *,
    rate: float,
    seconds: float,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
    connections: int = 64,
) -> Result:
    """Send ``rate * seconds`` requests on schedule over ``connections`` kept-alive
    connections; ``make_request(i)`` builds the i-th (all to one host)."""
    return asyncio.run(_run(make_request, rate, seconds, headers or {}, timeout, connections))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--token")
    args = parser.parse_args()
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    result = run(lambda _: Request("GET", args.url), rate=args.rate, seconds=args.seconds,
                 headers=headers, connections=args.connections)  # fmt: skip
    print(json.dumps(result.summary(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
