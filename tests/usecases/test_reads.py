"""Analyses hold no database connection while they compute (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from service.engine.options import AnalysisOptions, Granularity
from service.store import make_engine, make_session_factory
from service.store.migrate import upgrade
from service.usecases.reads import READ_ONLY
from service.usecases.snapshots import Analyzer, record_snapshot
from tests.conftest import ThrowawayDatabases

MANIFESTS = b"""
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x, labels: {app: a}}
spec: {containers: [{name: c, image: i}]}
status: {phase: Running, podIP: 10.0.0.1}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: x}
spec:
  podSelector: {}
  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]}]
"""


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, throwaway_databases: ThrowawayDatabases) -> str:
    url = throwaway_databases.create(str(request.param))
    upgrade(url)
    return url


def test_a_read_only_analysis_returns_its_connection_before_compiling(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    with sessions() as session:
        record, _ = record_snapshot(session, "c", MANIFESTS, content_type="application/yaml")
        session.commit()
    held: list[int] = []  # connections checked out while compiling
    analyzer = Analyzer(cache_size=2, on_compile=lambda _: held.append(engine.pool.checkedout()))
    options = AnalysisOptions()
    try:
        with sessions(info={READ_ONLY: True}) as session:
            assert len(analyzer.connectivity(session, record, options, Granularity.POD)) > 0
            assert held == [0]
            analyzer.forget(record)
            analyzer.compiled_for(session, record, options)  # reads again, then releases
            assert held == [0, 0]
        analyzer.forget(record)
        with sessions() as session:  # an ordinary unit of work keeps its transaction
            analyzer.compiled_for(session, record, options)
            assert session.in_transaction()
        assert held == [0, 0, 1]
    finally:
        engine.dispose()
