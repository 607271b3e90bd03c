"""Stored snapshots: a what-if equals storing its result and diffing; invalid what-ifs are
refused as uploads are; time travel by version and by bisection. SQLite, migrated."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.orm import Session, sessionmaker

from service.engine.diff import ObjectKey
from service.engine.options import Granularity
from service.report.diff import diff_to_api
from service.store import make_engine, make_session_factory
from service.store.migrate import upgrade
from service.usecases.diffs import (
    DiffOutcome,
    apply_change,
    diff_snapshots,
    proposed_change,
    what_if,
)
from service.usecases.errors import InvalidManifestsError, InvalidQueryError, NotFoundError
from service.usecases.history import Question, State, at_version, first_version
from service.usecases.snapshots import Analyzer, record_snapshot
from tests.diff.helpers import GOLDEN_CASES, base_documents, case_change


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'diff.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield make_session_factory(engine)
    engine.dispose()


def store(factory: sessionmaker[Session], cluster: str, docs: list[dict[str, Any]]) -> int:
    with factory() as session:
        record, _ = record_snapshot(
            session, cluster, json.dumps(docs).encode(), content_type="application/json"
        )
        session.commit()
        return record.version


def comparable(outcome: DiffOutcome) -> dict[str, Any]:
    out = diff_to_api(outcome.diff, outcome.base, outcome.head)
    del out["base"], out["head"]
    return out


def _widen_web(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "web"]


WHAT_IFS: dict[str, dict[str, Any]] = {
    "add-a-pod-slow-path": {
        "manifests": [
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "debug", "namespace": "shop", "labels": {"app": "api"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
                "status": {"phase": "Running", "podIP": "10.9.0.1"},
            }
        ]
    },
    "delete-a-namespace-label": {
        "manifests": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "edge"}}]
    },
    "delete-a-policy": {"delete": [{"kind": "NetworkPolicy", "namespace": "shop", "name": "db"}]},
    "replace-service-and-ignored-kind": {
        "manifests": [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web", "namespace": "shop"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
            },
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {}},
        ]
    },
}


@pytest.mark.parametrize("granularity", list(Granularity))
@pytest.mark.parametrize("name", [*sorted(GOLDEN_CASES), *sorted(WHAT_IFS)])
def test_what_if_equals_storing_the_result(
    sessions: sessionmaker[Session], name: str, granularity: Granularity
) -> None:
    base = base_documents()
    if name in GOLDEN_CASES:
        golden = case_change(name)
        change = proposed_change(
            manifests=[d.body for d in golden.documents],
            delete=[k.to_api() for k in golden.deletions],
        )
    else:
        change = proposed_change(**WHAT_IFS[name])
    store(sessions, "c", base)
    version = store(sessions, "c", apply_change(base, change))
    analyzer = Analyzer()
    with sessions() as session:
        predicted = what_if(session, analyzer, "c", 1, change, granularity=granularity)
        stored = diff_snapshots(
            session, analyzer, ("c", 1), ("c", version), granularity=granularity
        )
    assert comparable(predicted) == comparable(stored)
    assert predicted.head.info["what_if"]["deleted"] == len(change.deletions)


def test_what_if_from_yaml_across_clusters(sessions: sessionmaker[Session]) -> None:
    base = base_documents()
    store(sessions, "staging", base)
    web = copy.deepcopy(_widen_web(base)[0])
    web["spec"]["ingress"].append({"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]})
    store(sessions, "prod", apply_change(base, proposed_change(manifests=[web])))
    analyzer = Analyzer()
    with sessions() as session:
        outcome = diff_snapshots(session, analyzer, ("staging", "latest"), ("prod", 1))
        predicted = what_if(
            session, analyzer, "staging", 1, proposed_change(manifests_yaml=yaml.safe_dump(web))
        )
    assert outcome.diff.connections.highlights.counts()["external_exposure"] == 1
    assert comparable(outcome) == comparable(predicted)
    assert outcome.base.label == "staging@1"
    assert outcome.head.label == "prod@1"


def test_invalid_what_ifs_are_refused_like_uploads(sessions: sessionmaker[Session]) -> None:
    store(sessions, "c", base_documents())
    bad = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
           "metadata": {"name": "p", "namespace": "shop"},
           "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 70000}]}]}}  # fmt: skip
    with pytest.raises(InvalidManifestsError) as error:
        proposed_change(manifests=[bad])
    assert error.value.details[0]["field"].startswith("spec.ingress[0].ports[0]")
    with pytest.raises(InvalidManifestsError):
        proposed_change(manifests_yaml="kind: [unclosed")
    with pytest.raises(InvalidQueryError):
        proposed_change(manifests=[], manifests_yaml="")
    analyzer = Analyzer()
    gone = proposed_change(delete=[{"kind": "NetworkPolicy", "namespace": "shop", "name": "no"}])
    with sessions() as session, pytest.raises(InvalidQueryError):
        what_if(session, analyzer, "c", 1, gone)
    with sessions() as session, pytest.raises(NotFoundError):
        what_if(session, analyzer, "c", 7, proposed_change())


def _dns_policy(allowed: bool) -> list[dict[str, Any]]:
    docs = base_documents()
    if not allowed:
        key = ObjectKey("NetworkPolicy", "shop", "allow-dns")
        docs = apply_change(docs, proposed_change(delete=[key.to_api()]))
    return docs


def test_history_at_a_version_and_first_by_bisection(sessions: sessionmaker[Session]) -> None:
    # 20 versions: DNS from web denied in 1..12, allowed from 13 on.
    for version in range(1, 21):
        docs = _dns_policy(allowed=version >= 13)
        docs.append({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": f"v{version}", "namespace": "shop"}})  # fmt: skip
        assert store(sessions, "h", docs) == version
    question = Question.of("shop/Deployment/web", "kube-system/Deployment/coredns", "53", "UDP")
    analyzer = Analyzer(cache_size=4)
    with sessions() as session:
        assert at_version(session, analyzer, "h", 12, question).state is State.DENIED
        assert at_version(session, analyzer, "h", 13, question).state is State.ALLOWED
        found = first_version(session, analyzer, "h", question, State.ALLOWED)
        assert (found.version, found.previous) == (13, 12)
        assert len(found.probes) <= 2 + 5  # both ends, then log2(20) rounded up
        denied = first_version(session, analyzer, "h", question, State.DENIED)
        assert (denied.version, denied.previous) == (1, None)
        absent = Question.of("shop/Deployment/nope", "kube-system/Deployment/coredns", None, None)
        assert at_version(session, analyzer, "h", 3, absent).state is State.ABSENT
        never = first_version(session, analyzer, "h", absent, State.ALLOWED)
        assert never.version is None
        with pytest.raises(NotFoundError):
            first_version(session, analyzer, "missing", question, State.ALLOWED)
