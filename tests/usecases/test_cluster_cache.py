"""The cache directory of resolved clusters: a fresh Analyzer reads it instead of parsing,
stale, corrupt, foreign and truncated entries are rebuilt, concurrent writers never leave a
torn file, and the size bound evicts the least recently used."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy.orm import Session, sessionmaker

from service.engine.compile import CompiledCluster, compile_cluster
from service.engine.connectivity import ConnectivityMap, connectivity_map
from service.engine.model import Cluster, Protocol
from service.engine.options import AnalysisOptions, Granularity
from service.engine.reachability import check
from service.report.verdict import verdict_to_api
from service.store import make_engine, make_session_factory
from service.store.migrate import upgrade
from service.store.records import SnapshotRecord
from service.usecases import cluster_cache, cluster_codec
from service.usecases import snapshots as snapshots_module
from service.usecases.cluster_cache import MAGIC, ClusterCache
from service.usecases.cluster_codec import dump_cluster, load_cluster
from service.usecases.manifests import load_paths
from service.usecases.snapshots import Analyzer, record_snapshot

REPO = Path(__file__).resolve().parents[2]
CORPUS = sorted((REPO / "tests" / "conformance" / "cases").glob("*/manifests.yaml"))
DEMO = REPO / "service" / "demo" / "v1.yaml"
GiB = 1 << 30


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times stored manifests were parsed into a cluster."""
    calls: list[int] = []
    real = snapshots_module.from_documents

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(snapshots_module, "from_documents", counting)
    return calls


def _store(sessions: sessionmaker[Session], analyzer: Analyzer | None = None) -> SnapshotRecord:
    with sessions() as session:
        record, _ = record_snapshot(
            session, "demo", DEMO.read_bytes(), content_type="application/yaml", analyzer=analyzer
        )
        session.commit()
    return record


def _analyze(
    sessions: sessionmaker[Session], analyzer: Analyzer, record: SnapshotRecord
) -> Cluster:
    with sessions() as session:
        return analyzer.cluster(session, record)


def _entry(directory: Path) -> Path:
    (entry,) = (directory / "clusters").glob("*.bin")
    return entry


# -- the codec ------------------------------------------------------------------------


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.parent.name)
def test_every_conformance_cluster_round_trips(path: Path) -> None:
    cluster = load_paths([path]).cluster
    again = load_cluster(dump_cluster(cluster))
    assert again == cluster
    assert hash(again) == hash(cluster)


def test_enum_members_come_back_as_the_members() -> None:
    cluster = load_paths([DEMO]).cluster
    again = load_cluster(dump_cluster(cluster))
    protocols = {port.protocol for pod in again.pods for port in pod.ports}
    assert protocols
    assert all(p is Protocol[p.value] for p in protocols)


class _Exploit:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo pwned",))


def test_only_model_classes_are_resolved() -> None:
    payload = zlib.compress(pickle.dumps(_Exploit(), protocol=5))
    with pytest.raises(pickle.UnpicklingError, match="not part of a resolved cluster"):
        load_cluster(payload)


def test_a_payload_that_is_no_cluster_is_refused() -> None:
    with pytest.raises(ValueError, match="not a Cluster"):
        load_cluster(zlib.compress(pickle.dumps((1, 2), protocol=5)))


# -- a fresh process reads instead of parsing ------------------------------------------


def test_a_fresh_analyzer_loads_the_cluster_without_parsing(
    tmp_path: Path, sessions: sessionmaker[Session], parses: list[int]
) -> None:
    directory = tmp_path / "cache"
    writer = Analyzer(files=ClusterCache.open(directory, GiB))
    record = _store(sessions, writer)  # the upload hands its parsed cluster to the cache
    writer.close()
    parses.clear()  # the upload's own parse: only the analyses' count here
    parsed = writer.clusters.get_or_compute(record.content_hash, lambda: pytest.fail("not cached"))[
        0
    ]

    fresh = Analyzer(files=ClusterCache.open(directory, GiB))
    cluster = _analyze(sessions, fresh, record)
    assert parses == []
    assert cluster == parsed
    assert fresh.files is not None
    assert (fresh.files.hits, fresh.files.misses, fresh.files.rejected) == (1, 0, 0)


def test_a_first_analysis_writes_what_the_next_process_reads(
    tmp_path: Path, sessions: sessionmaker[Session], parses: list[int]
) -> None:
    directory = tmp_path / "cache"
    record = _store(sessions)  # stored without any cache
    parses.clear()  # the upload's own parse: only the analyses' count here
    first = Analyzer(files=ClusterCache.open(directory, GiB))
    cluster = _analyze(sessions, first, record)
    first.close()
    assert len(parses) == 1

    second = Analyzer(files=ClusterCache.open(directory, GiB))
    assert _analyze(sessions, second, record) == cluster
    assert len(parses) == 1


def _rejected_then_rebuilt(
    directory: Path, sessions: sessionmaker[Session], record: SnapshotRecord, parses: list[int]
) -> None:
    """A fresh analyzer must refuse the entry, parse, and leave a good entry behind."""
    before = len(parses)
    analyzer = Analyzer(files=ClusterCache.open(directory, GiB))
    cluster = _analyze(sessions, analyzer, record)
    analyzer.close()
    assert analyzer.files is not None
    assert analyzer.files.rejected == 1
    assert len(parses) == before + 1
    check = ClusterCache.open(directory, GiB)
    assert check is not None
    assert check.get(record.content_hash) == cluster


@pytest.fixture
def cached(tmp_path: Path, sessions: sessionmaker[Session]) -> tuple[Path, SnapshotRecord]:
    directory = tmp_path / "cache"
    analyzer = Analyzer(files=ClusterCache.open(directory, GiB))
    record = _store(sessions, analyzer)
    analyzer.close()
    return directory, record


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[:-1] + bytes([data[-1] ^ 1]), id="flipped-payload-bit"),
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: data[:10], id="shorter-than-a-header"),
        pytest.param(lambda data: b"", id="empty"),
        pytest.param(lambda data: b"X" + data[1:], id="wrong-magic"),
        pytest.param(lambda data: data + b"tail", id="longer-than-its-header-says"),
    ],
)
def test_a_corrupt_entry_is_rebuilt(
    cached: tuple[Path, SnapshotRecord],
    sessions: sessionmaker[Session],
    parses: list[int],
    damage: object,
) -> None:
    directory, record = cached
    entry = _entry(directory)
    entry.write_bytes(damage(entry.read_bytes()))  # type: ignore[operator]
    _rejected_then_rebuilt(directory, sessions, record, parses)


def test_an_entry_signed_with_another_key_is_rebuilt(
    cached: tuple[Path, SnapshotRecord], sessions: sessionmaker[Session], parses: list[int]
) -> None:
    directory, record = cached
    (directory / "key").unlink()  # the next open creates another key
    _rejected_then_rebuilt(directory, sessions, record, parses)


def test_an_entry_of_another_engine_version_is_never_used(
    cached: tuple[Path, SnapshotRecord],
    sessions: sessionmaker[Session],
    parses: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    directory, record = cached
    old_entry = _entry(directory)
    monkeypatch.setattr(cluster_codec, "fingerprint", lambda: b"\x01" * 32)
    monkeypatch.setattr(cluster_cache, "fingerprint", lambda: b"\x01" * 32)
    # Another engine looks under another name; were the old file there, its header refuses it.
    cache = ClusterCache.open(directory, GiB)
    assert cache is not None
    new_entry = cache._path(record.content_hash)
    assert new_entry != old_entry
    os.replace(old_entry, new_entry)
    _rejected_then_rebuilt(directory, sessions, record, parses)


def test_an_entry_of_another_snapshot_is_refused(
    cached: tuple[Path, SnapshotRecord], sessions: sessionmaker[Session]
) -> None:
    directory, _record = cached
    cache = ClusterCache.open(directory, GiB)
    assert cache is not None
    os.replace(_entry(directory), cache._path("another content hash"))
    assert cache.get("another content hash") is None
    assert cache.rejected == 1


def test_the_fingerprint_follows_the_engine_source() -> None:
    assert len(cluster_codec.fingerprint()) == 32
    sources = cluster_codec._SOURCES
    assert "engine" in sources
    assert "usecases/manifests.py" in sources


# -- safety of the directory ----------------------------------------------------------------


def test_a_key_others_may_read_turns_the_cache_off(tmp_path: Path) -> None:
    assert ClusterCache.open(tmp_path, GiB) is not None
    (tmp_path / "key").chmod(0o644)
    assert ClusterCache.open(tmp_path, GiB) is None


def test_a_key_of_the_wrong_size_turns_the_cache_off(tmp_path: Path) -> None:
    (tmp_path / "key").write_bytes(b"short")
    (tmp_path / "key").chmod(0o600)
    assert ClusterCache.open(tmp_path, GiB) is None


def test_zero_bytes_turns_the_cache_off(tmp_path: Path) -> None:
    assert ClusterCache.open(tmp_path, 0) is None


def test_an_unwritable_directory_only_costs_the_cache(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert ClusterCache.open(blocker / "cache", GiB) is None


def test_a_failed_write_is_no_error(tmp_path: Path) -> None:
    cache = ClusterCache.open(tmp_path, GiB)
    assert cache is not None
    (tmp_path / "clusters").write_text("a file where the entries go")
    assert cache.put("h", load_paths([DEMO]).cluster) is False
    assert cache.get("h") is None


# -- bounded ---------------------------------------------------------------------------


def test_the_least_recently_used_entries_are_evicted(tmp_path: Path) -> None:
    cluster = load_paths([DEMO]).cluster
    probe = ClusterCache.open(tmp_path / "probe", GiB)
    assert probe is not None
    assert probe.put("x", cluster)
    size = _entry(tmp_path / "probe").stat().st_size

    cache = ClusterCache.open(tmp_path / "cache", 2 * size + size // 2)  # room for two
    assert cache is not None
    for age, name in ((300, "a"), (200, "b")):
        assert cache.put(name, cluster)
        os.utime(cache._path(name), (1e9 - age, 1e9 - age))
    assert cache.get("a") == cluster  # a is now the most recently used
    assert cache.put("c", cluster)
    assert cache._path("a").exists()
    assert cache._path("c").exists()
    assert not cache._path("b").exists()


def test_an_entry_larger_than_the_bound_is_not_written(tmp_path: Path) -> None:
    cache = ClusterCache.open(tmp_path, 1024)
    assert cache is not None
    assert cache.put("big", load_paths([DEMO]).cluster) is False
    assert not list(tmp_path.glob("clusters/*"))


def test_temporary_files_of_dead_writers_are_removed(tmp_path: Path) -> None:
    cache = ClusterCache.open(tmp_path, GiB)
    assert cache is not None
    (tmp_path / "clusters").mkdir()
    old, young = tmp_path / "clusters" / ".tmp-old", tmp_path / "clusters" / ".tmp-young"
    old.write_bytes(b"x")
    young.write_bytes(b"x")
    os.utime(old, (1e9, 1e9))
    cache.evict()
    assert not old.exists()
    assert young.exists()


# -- concurrent writers ------------------------------------------------------------------


def _writer(directory: str, rounds: int) -> None:
    cache = ClusterCache.open(Path(directory), GiB)
    assert cache is not None
    cluster = load_paths([DEMO]).cluster
    for _ in range(rounds):
        cache.write("shared", cluster)


def _reader(
    directory: str, rounds: int, results: multiprocessing.Queue[tuple[int, int, int]]
) -> None:
    cache = ClusterCache.open(Path(directory), GiB)
    assert cache is not None
    expected = load_paths([DEMO]).cluster
    wrong = 0
    for _ in range(rounds):
        wrong += cache.get("shared") != expected
    results.put((cache.hits, cache.rejected, wrong))


def test_concurrent_writers_never_leave_a_torn_file(tmp_path: Path) -> None:
    first = ClusterCache.open(tmp_path, GiB)  # the key and a first entry exist before the race
    assert first is not None
    assert first.put("shared", load_paths([DEMO]).cluster)
    context = multiprocessing.get_context("fork")
    results: multiprocessing.Queue[tuple[int, int, int]] = context.Queue()
    writers = [context.Process(target=_writer, args=(str(tmp_path), 40)) for _ in range(3)]
    readers = [
        context.Process(target=_reader, args=(str(tmp_path), 150, results)) for _ in range(2)
    ]
    for process in (*writers, *readers):
        process.start()
    for process in (*writers, *readers):
        process.join(timeout=120)
        assert process.exitcode == 0
    outcomes = [results.get(timeout=10) for _ in readers]
    assert outcomes == [(150, 0, 0), (150, 0, 0)]  # every read found a whole entry
    cache = ClusterCache.open(tmp_path, GiB)
    assert cache is not None
    assert cache.get("shared") == load_paths([DEMO]).cluster
    assert [p.name for p in (tmp_path / "clusters").iterdir() if p.name.startswith(".tmp-")] == []


def test_entries_start_with_the_magic(cached: tuple[Path, SnapshotRecord]) -> None:
    directory, _ = cached
    assert _entry(directory).read_bytes().startswith(MAGIC)


# -- compiled snapshots and maps --------------------------------------------------------


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.parent.name)
def test_every_conformance_compile_and_map_round_trip(path: Path) -> None:
    """A loaded compiled snapshot answers exactly as the one dumped: the same maps at every
    granularity, the same verdicts; a loaded map is the same arrays over the same tables."""
    compiled = compile_cluster(load_paths([path]).cluster)
    assert compiled.lookups is not None  # built on first use: dropped when dumped
    again = cluster_codec.load_value(cluster_codec.dump_value(compiled), CompiledCluster)
    assert again.cluster == compiled.cluster
    assert again.pods is again.cluster.pods  # shared objects stay shared
    for granularity in Granularity:
        cmap = connectivity_map(compiled, granularity)
        assert connectivity_map(again, granularity).lookup() == cmap.lookup()
        loaded = cluster_codec.load_value(cluster_codec.dump_value(cmap), ConnectivityMap)
        assert (loaded.endpoints, loaded.portsets) == (cmap.endpoints, cmap.portsets)
        for column in ("sources", "targets", "ports"):
            assert np.array_equal(getattr(loaded, column), getattr(cmap, column))
    pods = [f"{p.namespace}/{p.name}" for p in compiled.pods][:6]
    for source in pods:
        for target in pods:
            assert verdict_to_api(check(again, source, target)) == verdict_to_api(
                check(compiled, source, target)
            )


def test_a_fresh_analyzer_neither_compiles_nor_maps_again(
    tmp_path: Path, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "cache"
    record = _store(sessions)
    options = AnalysisOptions()
    first = Analyzer(files=ClusterCache.open(directory, GiB))
    with sessions() as session:
        compiled = first.compiled_for(session, record, options)
        cmap = first.connectivity(session, record, options, Granularity.WORKLOAD)
    first.close()

    calls: list[str] = []
    for name in ("compile_snapshot", "connectivity_map"):
        real = getattr(snapshots_module, name)

        def counting(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(snapshots_module, name, counting)
    second = Analyzer(files=ClusterCache.open(directory, GiB))
    with sessions() as session:
        again = second.compiled_for(session, record, options)
        loaded = second.connectivity(session, record, options, Granularity.WORKLOAD)
        assert second.cluster(session, record) is again.cluster  # one object graph
        other = second.connectivity(session, record, options, Granularity.NAMESPACE)
    assert calls == ["connectivity_map"]  # only the granularity never mapped before
    assert loaded.lookup() == cmap.lookup()
    assert other.lookup() == connectivity_map(compiled, Granularity.NAMESPACE).lookup()
    assert again.cluster == compiled.cluster
