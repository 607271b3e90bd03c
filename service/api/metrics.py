"""Prometheus metrics, in a registry of the app's own (tests create many apps).

HTTP requests are labelled by method, route template (``/v1/clusters/{cluster}/snapshots``,
never the raw path) and status; unmatched paths share the route label ``unmatched``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
COMPILE_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class CacheStats(Protocol):
    hits: int
    misses: int

    def __len__(self) -> int: ...


class CacheCollector(Collector):
    """Reads the analyzer's caches' counters at scrape time, labelled by cache."""

    def __init__(self, caches: Callable[[], Mapping[str, CacheStats]]) -> None:
        self.caches = caches

    def collect(self) -> Iterator[Metric]:
        hits = CounterMetricFamily("netreach_cache_hits", "Analyzer cache hits", labels=["cache"])
        misses = CounterMetricFamily(
            "netreach_cache_misses", "Analyzer cache misses (computations)", labels=["cache"]
        )
        entries = GaugeMetricFamily(
            "netreach_cache_entries", "Entries held in an analyzer cache", labels=["cache"]
        )
        for name, cache in sorted(self.caches().items()):
            hits.add_metric([name], cache.hits)
            misses.add_metric([name], cache.misses)
            entries.add_metric([name], len(cache))
        yield from (hits, misses, entries)


class PreparationCounts(Protocol):
    @property
    def pending(self) -> int: ...
    @property
    def outcomes(self) -> Mapping[str, int]: ...


class PreparationCollector(Collector):
    """Reads the preparer's state at scrape time (:mod:`service.usecases.preparation`)."""

    def __init__(self, stats: Callable[[], PreparationCounts]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self.stats()
        pending = GaugeMetricFamily(
            "netreach_preparations_pending",
            "Uploaded snapshots waiting to be compiled and mapped in the background, or being so",
        )
        pending.add_metric([], stats.pending)
        outcomes = CounterMetricFamily(
            "netreach_preparations",
            "Background preparations of uploaded snapshots by outcome: prepared, ready "
            "(the cache directory had them), failed, cancelled, dropped (queue full)",
            labels=["outcome"],
        )
        for outcome, count in stats.outcomes.items():
            outcomes.add_metric([outcome], count)
        yield from (pending, outcomes)


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    requests: Counter = field(init=False)
    latency: Histogram = field(init=False)
    uploads: Counter = field(init=False)
    compile_seconds: Histogram = field(init=False)
    _cache: CacheCollector | None = field(default=None, init=False)
    _preparations: PreparationCollector | None = field(default=None, init=False)

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

    def watch_caches(self, caches: Callable[[], Mapping[str, CacheStats]]) -> None:
        self.unwatch_caches()
        self._cache = CacheCollector(caches)
        self.registry.register(self._cache)

    def unwatch_caches(self) -> None:
        if self._cache is not None:
            self.registry.unregister(self._cache)
            self._cache = None
        if self._preparations is not None:
            self.registry.unregister(self._preparations)
            self._preparations = None

    def watch_preparations(self, stats: Callable[[], PreparationCounts]) -> None:
        if self._preparations is not None:
            self.registry.unregister(self._preparations)
        self._preparations = PreparationCollector(stats)
        self.registry.register(self._preparations)
