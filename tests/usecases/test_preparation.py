"""Background preparation of uploaded snapshots: it compiles and maps the snapshot, writes
both to the cache directory (a fresh process then analyses without compiling), counts a
failure without stopping, is bounded, and stops at close."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from service.engine.options import AnalysisOptions, Granularity
from service.report.connectivity import iter_map_json
from service.store import make_engine, make_session_factory
from service.store.migrate import upgrade
from service.store.records import SnapshotRecord
from service.usecases.cluster_cache import ClusterCache
from service.usecases.preparation import Preparer
from service.usecases.snapshots import Analyzer, record_snapshot

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "service" / "demo" / "v1.yaml"
GiB = 1 << 30
OPTIONS = AnalysisOptions()


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    return url


@pytest.fixture
def sessions(url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(url)
    yield make_session_factory(engine)
    engine.dispose()


def _store(
    sessions: sessionmaker[Session], analyzer: Analyzer, cluster: str = "demo", extra: str = ""
) -> SnapshotRecord:
    data = DEMO.read_bytes() + extra.encode()
    with sessions() as session:
        record, _ = record_snapshot(
            session, cluster, data, content_type="application/yaml", analyzer=analyzer
        )
        session.commit()
    return record


def _config_map(name: str) -> str:
    return f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: default}}\n"


def test_a_prepared_snapshot_has_its_compiled_form_and_map_in_the_cache_directory(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    files = ClusterCache.open(tmp_path / "cache", GiB)
    assert files is not None
    analyzer = Analyzer(files=files)
    record = _store(sessions, analyzer)
    assert not files.has_compiled(record.content_hash, OPTIONS)
    preparer = Preparer(analyzer, sessions)
    try:
        assert preparer.submit(record)
        assert preparer.wait(60)
        assert preparer.stats().outcomes["prepared"] == 1
        assert preparer.stats().pending == 0
        # written, not just scheduled: readable by another cache on the same directory
        other = ClusterCache.open(tmp_path / "cache", GiB)
        assert other is not None
        compiled = other.get_compiled(record.content_hash, OPTIONS)
        cmap = other.get_map(record.content_hash, OPTIONS, Granularity.WORKLOAD)
        assert compiled is not None
        assert cmap is not None
        with sessions() as session:
            in_memory = analyzer.connectivity(session, record, OPTIONS, Granularity.WORKLOAD)
        assert cmap is not in_memory
        assert "".join(iter_map_json(cmap)) == "".join(iter_map_json(in_memory))
        # the same content again: nothing to do
        assert preparer.submit(record)
        assert preparer.wait(60)
        assert preparer.stats().outcomes["ready"] == 1
    finally:
        preparer.close()


FRESH_PROCESS = """
import json, sys
from service.report.connectivity import iter_map_json
from service.store import make_engine, make_session_factory
from service.usecases import snapshots
from service.usecases.cluster_cache import ClusterCache
from service.usecases.diffs import proposed_change, what_if
from service.ingest import Limits

def no_compile(*args, **kwargs):
    raise AssertionError("the base was compiled again")

snapshots.compile_snapshot = no_compile
snapshots.from_documents = no_compile
url, directory, policy = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
analyzer = snapshots.Analyzer(files=ClusterCache.open(directory, 1 << 30))
sessions = make_session_factory(make_engine(url))
change = proposed_change(manifests=[policy], manifests_yaml=None, delete=[], limits=Limits())
with sessions() as session:
    outcome = what_if(session, analyzer, "demo", 1, change)
print(json.dumps({"hits": analyzer.files.hits, "misses": analyzer.files.misses,
                  "changed": not outcome.diff.connections.is_empty}))
"""

API_CLOSED = {  # the demo's api-from-web, with no ingress rule left
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "api-from-web", "namespace": "shop"},
    "spec": {"podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": ["Ingress"]},
}


def test_a_fresh_process_analyses_a_prepared_snapshot_without_compiling_it(
    tmp_path: Path, url: str, sessions: sessionmaker[Session]
) -> None:
    directory = tmp_path / "cache"
    analyzer = Analyzer(files=ClusterCache.open(directory, GiB))
    record = _store(sessions, analyzer)
    preparer = Preparer(analyzer, sessions)
    preparer.submit(record)
    assert preparer.wait(60)
    preparer.close()
    analyzer.close()
    child = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, url, str(directory), json.dumps(API_CLOSED)],
        capture_output=True, text=True, cwd=REPO, env={**os.environ}, timeout=120,
    )  # fmt: skip
    assert child.returncode == 0, child.stderr
    answer: dict[str, Any] = json.loads(child.stdout)
    assert answer["hits"] == 2  # the compiled form and the map
    assert answer["misses"] == 0
    assert answer["changed"]


class _Gated:
    """A session factory whose first call waits for ``release`` (a preparation held up)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self.started = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    def __call__(self, **kwargs: Any) -> Session:
        self.calls += 1
        if self.calls == 1:
            self.started.set()
            assert self.release.wait(60)
        return self.sessions(**kwargs)


def test_the_queue_is_bounded_and_close_cancels_what_waits_and_what_runs(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    files = ClusterCache.open(tmp_path / "cache", GiB)
    analyzer = Analyzer(files=files)
    records = [_store(sessions, analyzer, extra=_config_map(f"c{i}")) for i in range(4)]
    gated = _Gated(sessions)
    preparer = Preparer(analyzer, gated, max_pending=2)
    assert preparer.submit(records[0])
    assert gated.started.wait(60)  # the first is running (held up)
    assert not preparer.submit(records[0])  # running already
    assert preparer.submit(records[1])
    assert not preparer.submit(records[1])  # queued already
    assert preparer.submit(records[2])
    assert not preparer.submit(records[3])  # the queue is full
    assert preparer.stats().pending == 3
    closing = threading.Thread(target=preparer.close)
    closing.start()
    gated.release.set()
    closing.join(60)
    stats = preparer.stats()
    assert stats.pending == 0
    assert stats.outcomes["dropped"] == 1
    # the two queued, and the running one at its first deadline check
    assert stats.outcomes["cancelled"] == 3
    assert stats.outcomes["prepared"] == 0
    assert not preparer.submit(records[3])  # closed
    assert files is not None
    assert not any(files.has_compiled(r.content_hash, OPTIONS) for r in records)


def test_a_failure_is_counted_and_the_next_snapshot_is_still_prepared(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    files = ClusterCache.open(tmp_path / "cache", GiB)
    analyzer = Analyzer(files=files)
    first = _store(sessions, analyzer, extra=_config_map("a"))
    second = _store(sessions, analyzer, extra=_config_map("b"))
    calls: list[int] = []

    def failing_once(**kwargs: Any) -> Session:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("the database went away")
        return sessions(**kwargs)

    preparer = Preparer(analyzer, failing_once)
    try:
        preparer.submit(first)
        preparer.submit(second)
        assert preparer.wait(60)
        outcomes = preparer.stats().outcomes
        assert (outcomes["failed"], outcomes["prepared"]) == (1, 1)
        assert files is not None
        assert not files.has_compiled(first.content_hash, OPTIONS)
        assert files.has_compiled(second.content_hash, OPTIONS)
        assert files.has_map(second.content_hash, OPTIONS, Granularity.WORKLOAD)
    finally:
        preparer.close()


def test_a_preparation_waits_while_an_upload_is_processed(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    files = ClusterCache.open(tmp_path / "cache", GiB)
    analyzer = Analyzer(files=files)
    record = _store(sessions, analyzer)
    preparer = Preparer(analyzer, sessions)
    try:
        with preparer.upload():
            assert preparer.submit(record)
            assert not preparer.wait(0.5)  # paused at its first deadline check
            assert preparer.stats().outcomes["prepared"] == 0
        assert preparer.wait(60)  # goes on once the upload is over
        assert preparer.stats().outcomes["prepared"] == 1
        assert files is not None
        assert files.has_map(record.content_hash, OPTIONS, Granularity.WORKLOAD)
    finally:
        preparer.close()


def test_a_paused_preparation_goes_on_when_an_analysis_waits_for_it(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    analyzer = Analyzer(files=ClusterCache.open(tmp_path / "cache", GiB))
    record = _store(sessions, analyzer)
    preparer = Preparer(analyzer, sessions)
    compiled: list[object] = []

    def analysis() -> None:
        with sessions() as session:
            compiled.append(analyzer.compiled_for(session, record, OPTIONS))

    try:
        with preparer.upload():
            preparer.submit(record)
            assert not preparer.wait(0.3)  # paused, holding the compilation
            waiting = threading.Thread(target=analysis)
            waiting.start()
            waiting.join(30)  # the upload is still being processed
            assert compiled, "the analysis waited for the paused preparation"
        # (the map that follows may pause again while the upload lasts: nobody waits for it)
        assert preparer.wait(30)
        assert preparer.stats().outcomes["prepared"] == 1
        assert analyzer.compiled.misses == 1  # computed once, for both
    finally:
        preparer.close()
