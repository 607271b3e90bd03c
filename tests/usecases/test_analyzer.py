"""The Analyzer's caches: keyed by snapshot content, warmed by uploads."""

from __future__ import annotations

from pathlib import Path

from service.engine.options import AnalysisOptions, Granularity
from service.store import make_engine, make_session_factory
from service.store.migrate import upgrade
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
