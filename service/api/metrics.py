"""Prometheus metrics, in a registry of the app's own (tests create many apps).

HTTP requests are labelled by method, route template (``/v1/clusters/{cluster}/snapshots``,
never the raw path) and status; unmatched paths share the route label ``unmatched``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
COMPILE_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class CacheCollector(Collector):
    """Reads the analyzer's cache counters at scrape time."""

    def __init__(self, stats: Callable[[], dict[str, Any]]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self.stats()
        hits = CounterMetricFamily("netreach_compile_cache_hits", "Compiled-snapshot cache hits")
        hits.add_metric([], stats["hits"])
        misses = CounterMetricFamily(
            "netreach_compile_cache_misses", "Compiled-snapshot cache misses (compilations)"
        )
        misses.add_metric([], stats["misses"])
        size = GaugeMetricFamily(
            "netreach_compile_cache_entries", "Compiled snapshots held in the cache"
        )
        size.add_metric([], stats["compiled"])
        yield from (hits, misses, size)


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    requests: Counter = field(init=False)
    latency: Histogram = field(init=False)
    uploads: Counter = field(init=False)
    compile_seconds: Histogram = field(init=False)
    _cache: CacheCollector | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        labels = ("method", "route", "status")
        self.requests = Counter(
            "netreach_http_requests", "HTTP requests", labels, registry=self.registry
        )
        self.latency = Histogram(
            "netreach_http_request_duration_seconds",
            "HTTP request latency, until the response is complete",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.uploads = Counter(
            "netreach_snapshot_uploads",
            "Snapshot uploads by outcome: created, unchanged, invalid, too_large, error",
            ("outcome",),
            registry=self.registry,
        )
        self.compile_seconds = Histogram(
            "netreach_compile_seconds",
            "Time to compile a snapshot for analysis",
            buckets=COMPILE_BUCKETS,
            registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route, str(status)).observe(seconds)

    def watch_cache(self, stats: Callable[[], dict[str, Any]]) -> None:
        self.unwatch_cache()
        self._cache = CacheCollector(stats)
        self.registry.register(self._cache)

    def unwatch_cache(self) -> None:
        if self._cache is not None:
            self.registry.unregister(self._cache)
            self._cache = None
