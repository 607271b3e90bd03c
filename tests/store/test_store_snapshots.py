"""Snapshots: round trips, versions, idempotency, content addressing, clusters."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.store import (
    ClusterRepository,
    NewObject,
    SnapshotNotFoundError,
    SnapshotRepository,
)
from service.store.canonical import LAST_APPLIED_ANNOTATION
from service.store.models import ObjectRow
from service.store.stats import database_size_bytes


def pod(name: str, namespace: str = "default", image: str = "nginx:1", **extra: Any) -> NewObject:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {"containers": [{"name": "c", "image": image}]},
        **extra,
    }
    return NewObject("Pod", namespace, name, body)


def namespace_object(name: str) -> NewObject:
    return NewObject("Namespace", None, name, {"kind": "Namespace", "metadata": {"name": name}})


def cluster_objects(n: int = 5) -> list[NewObject]:
    return [namespace_object("default"), *(pod(f"p{i}") for i in range(n))]


def object_rows(session: Session) -> int:
    return session.execute(select(func.count()).select_from(ObjectRow)).scalar_one()


def test_create_get_list_objects_round_trip(session: Session) -> None:
    snapshots = SnapshotRepository(session)
    objects = cluster_objects(3)
    record, created = snapshots.create(
        "prod",
        objects,
        source="ci",
        labels={"commit": "abc"},
        counts={"Pod": 3, "Namespace": 1},
        warnings=["w1"],
    )
    assert created is True
    assert record.cluster == "prod"
    assert record.version == 1
    assert record.source == "ci"
    assert record.labels == {"commit": "abc"}
    assert record.counts == {"Pod": 3, "Namespace": 1}
    assert record.warnings == ("w1",)
    assert record.object_count == 4
    assert len(record.content_hash) == 64
    assert record.created_at.tzinfo is not None
    assert abs(record.created_at - datetime.now(UTC)) < timedelta(minutes=1)

    assert snapshots.get("prod", 1) == record
    assert snapshots.get("prod", "latest") == record
    assert snapshots.get("prod", 2) is None
    assert snapshots.get("other", "latest") is None
    assert snapshots.list("prod") == [record]

    stored = snapshots.objects(record.id)
    assert [(o.kind, o.namespace, o.name) for o in stored] == [
        ("Namespace", None, "default"),
        ("Pod", "default", "p0"),
        ("Pod", "default", "p1"),
        ("Pod", "default", "p2"),
    ]
    assert {o.name: o.body for o in stored} == {o.name: o.body for o in objects}
    assert all(len(o.content_hash) == 64 for o in stored)
    assert sorted(b["metadata"]["name"] for b in snapshots.object_bodies(record.id)) == [
        "default",
        "p0",
        "p1",
        "p2",
    ]


def test_objects_filter_by_kind_and_namespace(session: Session) -> None:
    snapshots = SnapshotRepository(session)
    record, _ = snapshots.create(
        "c", [namespace_object("a"), pod("x", "a"), pod("y", "b"), pod("z", "a")]
    )
    assert [o.name for o in snapshots.objects(record.id, kind="Pod")] == ["x", "z", "y"]
    assert [o.name for o in snapshots.objects(record.id, namespace="a")] == ["x", "z"]
    assert [o.name for o in snapshots.objects(record.id, kind="Pod", namespace="b")] == ["y"]
    assert snapshots.objects(record.id, kind="Service") == []


def test_objects_of_a_missing_snapshot(session: Session) -> None:
    with pytest.raises(SnapshotNotFoundError):
        SnapshotRepository(session).objects(10**9)
    with pytest.raises(SnapshotNotFoundError):
        SnapshotRepository(session).object_bodies(10**9)


def test_counts_default_to_objects_per_kind(session: Session) -> None:
    record, _ = SnapshotRepository(session).create("c", cluster_objects(2))
    assert record.counts == {"Namespace": 1, "Pod": 2}
    assert record.labels == {}
    assert record.warnings == ()
    assert record.source is None


def test_versions_are_consecutive_and_never_reused(session: Session) -> None:
    snapshots = SnapshotRepository(session)
    for i in range(4):
        record, created = snapshots.create("c", [pod(f"only-{i}")])
        assert (record.version, created) == (i + 1, True)
    assert snapshots.versions("c") == [1, 2, 3, 4]

    assert snapshots.delete("c", 4) is True
    assert snapshots.delete("c", 2) is True
    assert snapshots.delete("c", 2) is False
    assert snapshots.delete("nope", 1) is False
    assert snapshots.versions("c") == [1, 3]
    assert snapshots.get("c", "latest") is not None
    assert snapshots.get("c", 4) is None

    record, created = snapshots.create("c", [pod("only-new")])
    assert (record.version, created) == (5, True)
    # The content of a deleted version is new content again.
    record, created = snapshots.create("c", [pod("only-3")])
    assert (record.version, created) == (6, True)
    assert snapshots.versions("c") == [1, 3, 5, 6]


def test_versions_are_per_cluster(session: Session) -> None:
    snapshots = SnapshotRepository(session)
    a, _ = snapshots.create("a", cluster_objects())
    b, created = snapshots.create("b", cluster_objects())
    assert (a.version, b.version, created) == (1, 1, True)
    assert a.content_hash == b.content_hash
    assert a.id != b.id


def test_identical_content_is_the_same_version(session: Session) -> None:
    snapshots = SnapshotRepository(session)
    first, created = snapshots.create("c", cluster_objects(), source="one")
    assert created is True
    again, created = snapshots.create("c", cluster_objects(), source="two", labels={"x": "y"})
    assert created is False
    assert again == first
    assert snapshots.versions("c") == [1]


def test_content_hash_is_independent_of_object_order_and_noise(session: Session) -> None:
    snapshots = SnapshotRepository(session)
    objects = cluster_objects(20)
    first, _ = snapshots.create("c", objects)
    shuffled = list(objects)
    random.Random(7).shuffle(shuffled)
    noisy = [
        NewObject(
            o.kind,
            o.namespace,
            o.name,
            {
                **o.body,
                "metadata": {
                    **o.body["metadata"],
                    "managedFields": [{"manager": "kubectl-client-side-apply"}],
                    "annotations": {LAST_APPLIED_ANNOTATION: "{...}"},
                },
            },
        )
        for o in shuffled
    ]
    again, created = snapshots.create("c", noisy)
    assert created is False
    assert again.version == first.version
    assert again.content_hash == first.content_hash


def test_duplicate_objects_in_one_upload_count_once(session: Session) -> None:
    objects = cluster_objects(2)
    record, _ = SnapshotRepository(session).create("c", objects + objects)
    assert record.object_count == 3
    assert len(SnapshotRepository(session).objects(record.id)) == 3


def test_objects_are_shared_between_snapshots(session: Session) -> None:
    snapshots = SnapshotRepository(session)
    objects = cluster_objects(10)
    before = object_rows(session)
    first, _ = snapshots.create("c", objects)
    assert object_rows(session) == before + 11

    changed = [*objects[:-1], pod("p9", image="nginx:2")]
    second, created = snapshots.create("c", changed)
    assert created is True
    assert second.version == 2
    assert second.content_hash != first.content_hash
    assert object_rows(session) == before + 12

    # Another cluster with the same objects adds none.
    snapshots.create("mirror", changed)
    assert object_rows(session) == before + 12

    first_hashes = {o.content_hash for o in snapshots.objects(first.id)}
    second_hashes = {o.content_hash for o in snapshots.objects(second.id)}
    assert len(first_hashes & second_hashes) == 10


def test_changed_objects_are_those_one_side_holds_alone(session: Session) -> None:
    """What a diff reads: changed, added and removed objects with their bodies; the
    objects both snapshots share (one row each) are not returned."""
    snapshots = SnapshotRepository(session)
    objects = cluster_objects(6)
    first, _ = snapshots.create("c", objects)
    changed = pod("p1", image="nginx:2")
    second, _ = snapshots.create("c", [*objects[:2], changed, *objects[3:-1], pod("new")])
    base, head = snapshots.changed_objects(first.id, second.id)
    assert base == {
        ("Pod", "default", "p1"): objects[2].body,
        ("Pod", "default", "p5"): objects[-1].body,
    }
    assert head == {
        ("Pod", "default", "p1"): changed.body,
        ("Pod", "default", "new"): pod("new").body,
    }
    assert snapshots.changed_objects(second.id, second.id) == ({}, {})
    with pytest.raises(SnapshotNotFoundError):
        snapshots.changed_objects(first.id, 10**9)


def test_hashes_of_reads_only_the_objects_asked_for(session: Session) -> None:
    """What a what-if reads: the hash of each object it replaces or deletes, as this
    snapshot holds it (another version's row with the same key is not it), none for an
    object it does not hold; cluster-scoped objects under namespace ``""``."""
    snapshots = SnapshotRepository(session)
    objects = cluster_objects(4)
    first, _ = snapshots.create("c", objects)
    second, _ = snapshots.create("c", [*objects[:2], pod("p1", image="nginx:2"), *objects[3:]])
    every = {
        (o.kind, o.namespace or "", o.name): o.content_hash for o in snapshots.objects(first.id)
    }
    asked = [("Pod", "default", "p1"), ("Namespace", "", "default"), ("Pod", "default", "gone")]
    assert snapshots.hashes_of(first.id, asked) == {k: every[k] for k in asked[:2]}
    later = snapshots.hashes_of(second.id, asked)
    assert later[("Namespace", "", "default")] == every[("Namespace", "", "default")]
    assert later[("Pod", "default", "p1")] not in every.values()
    assert snapshots.hashes_of(first.id, []) == {}
    assert snapshots.hashes_of(first.id, [("Pod", "other", "p1")]) == {}


def test_list_paginates_by_version(session: Session) -> None:
    snapshots = SnapshotRepository(session)
    for i in range(7):
        snapshots.create("c", [pod(f"v{i}")])
    snapshots.delete("c", 4)

    def versions(**kwargs: Any) -> list[int]:
        return [r.version for r in snapshots.list("c", **kwargs)]

    assert versions() == [7, 6, 5, 3, 2, 1]
    assert versions(limit=2) == [7, 6]
    assert versions(limit=2, after=6) == [5, 3]
    assert versions(limit=2, after=3) == [2, 1]
    assert versions(limit=2, after=1) == []
    assert versions(descending=False, limit=3) == [1, 2, 3]
    assert versions(descending=False, limit=3, after=3) == [5, 6, 7]
    assert versions(limit=0) == []
    assert snapshots.list("nope") == []


def test_get_refuses_bad_refs(session: Session) -> None:
    with pytest.raises(ValueError, match="latest"):
        SnapshotRepository(session).get("c", "newest")  # type: ignore[arg-type]


def test_empty_snapshot(session: Session) -> None:
    snapshots = SnapshotRepository(session)
    record, created = snapshots.create("empty", [])
    assert (record.version, record.object_count, created) == (1, 0, True)
    assert snapshots.objects(record.id) == []
    assert snapshots.create("empty", [])[1] is False


def test_clusters(session: Session) -> None:
    snapshots = SnapshotRepository(session)
    clusters = ClusterRepository(session)
    assert clusters.list() == []
    assert clusters.get("b") is None
    snapshots.create("b", [pod("x")])
    snapshots.create("b", [pod("y")])
    snapshots.create("a", [pod("x")])
    listed = clusters.list()
    assert [(c.name, c.latest_version, c.snapshot_count) for c in listed] == [
        ("a", 1, 1),
        ("b", 2, 2),
    ]
    assert clusters.get("b") == listed[1]
    assert listed[0].created_at.tzinfo is not None

    snapshots.delete("a", 1)
    cluster = clusters.get("a")
    assert cluster is not None
    assert (cluster.latest_version, cluster.snapshot_count) == (None, 0)


def test_database_size_grows_with_content(session: Session) -> None:
    before = database_size_bytes(session)
    assert before > 0
    big = [pod(f"p{i}", image="x" * 2000 + str(i)) for i in range(300)]
    SnapshotRepository(session).create("c", big)
    session.flush()
    assert database_size_bytes(session) >= before
