"""The Analyzer's caches: keyed by snapshot content, warmed by uploads."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.engine.options import AnalysisOptions, Granularity
from service.store import make_engine, make_session_factory
from service.store.migrate import upgrade
from service.usecases.errors import InvalidManifestsError
from service.usecases.snapshots import Analyzer, record_snapshot

MANIFESTS = b"""
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x, labels: {app: a}}
spec: {containers: [{name: c, image: i}]}
status: {phase: Running, podIP: 10.0.0.1}
"""


def test_upload_warms_the_cache_and_identical_content_shares_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    sessions = make_session_factory(make_engine(url))
    analyzer = Analyzer(cache_size=4)
    with sessions() as session:
        first, _ = record_snapshot(
            session, "one", MANIFESTS, content_type="application/yaml", analyzer=analyzer
        )
        second, _ = record_snapshot(session, "two", MANIFESTS, content_type="application/yaml")
        session.commit()
        assert (analyzer.clusters.hits, analyzer.clusters.misses) == (0, 1)  # the upload
        cluster = analyzer.cluster(session, first)  # no second parse: a hit
        assert analyzer.cluster(session, second) is cluster  # same content, other cluster
        assert analyzer.clusters.misses == 1
        options = AnalysisOptions()
        assert analyzer.compiled_for(session, first, options) is analyzer.compiled_for(
            session, second, options
        )
        assert len(analyzer.connectivity(session, second, options, Granularity.POD)) > 0
        analyzer.forget(first)
        assert len(analyzer.clusters) == len(analyzer.compiled) == len(analyzer.maps) == 0


def test_upload_hands_its_documents_to_keep_once_stored(tmp_path: Path) -> None:
    """A server frees the decoded documents after its answer: they go to ``keep`` only when
    the upload is stored (an invalid one leaves ``keep`` empty), read from the body's pieces
    as from the whole body."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    sessions = make_session_factory(make_engine(url))
    with sessions() as session:
        keep: list[object] = []
        pieces = [MANIFESTS[i : i + 5] for i in range(0, len(MANIFESTS), 5)]
        record, created = record_snapshot(
            session, "one", pieces, content_type="application/yaml", keep=keep
        )
        assert created
        assert record.object_count == 1
        documents, manifests = keep
        assert isinstance(documents, list)
        assert [d.body["metadata"]["name"] for d in documents] == ["a"]
        assert getattr(manifests, "documents", None) is documents
        same, created = record_snapshot(session, "one", MANIFESTS, content_type="application/yaml")
        assert (same.version, created) == (record.version, False)
        refused: list[object] = []
        with pytest.raises(InvalidManifestsError):
            record_snapshot(
                session, "one", b"kind: Pod\n", content_type="application/yaml", keep=refused
            )
        assert refused == []
