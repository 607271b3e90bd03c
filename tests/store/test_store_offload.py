"""Bodies hashed and compressed by the child process: the same prepared objects as in
process, and a child that fails is an error the caller can fall back from."""

from __future__ import annotations

import sys

import pytest

from service.store.offload import BodyWorker, OffloadedObjects, WorkerError
from service.store.records import NewObject
from service.store.snapshots import prepare_objects
from tests.store.test_store_snapshots import cluster_objects, pod


def odd_objects() -> list[NewObject]:
    return [
        NewObject("ConfigMap", "a", "big", {"kind": "ConfigMap", "data": {"n": 10**30}}),
        NewObject("ConfigMap", "a", "keys", {"kind": "ConfigMap", "data": {1: "x"}}),
        NewObject(
            "Pod",
            "a",
            "noisy",
            {"kind": "Pod", "metadata": {"name": "noisy", "managedFields": [{"m": 1}]}},
        ),
        NewObject("Secret", "a", "s", {"apiVersion": "v1", "kind": "Secret", "data": {"k": "v"}}),
        NewObject("Namespace", None, "é", {"kind": "Namespace", "metadata": {"name": "é"}}),
    ]


def test_the_child_prepares_what_the_process_would() -> None:
    objects = cluster_objects(2_500) + odd_objects() + [pod("p0"), pod("p0")]  # a duplicate
    with BodyWorker() as worker:
        offloaded = OffloadedObjects(objects, worker).finish()
    assert offloaded == prepare_objects(objects, compress=True)


def test_no_objects() -> None:
    with BodyWorker() as worker:
        assert OffloadedObjects([], worker).finish() == prepare_objects([], compress=True)


@pytest.mark.parametrize(
    "command",
    [
        (sys.executable, "-c", "pass"),  # ends without answering
        (sys.executable, "-c", "import sys; sys.stdout.write('x' * 20)"),  # answers nonsense
        ("/nonexistent/python",),  # cannot start
    ],
)
def test_a_failing_child_is_a_worker_error(
    command: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(BodyWorker, "command", command)
    with pytest.raises(WorkerError), BodyWorker() as worker:  # starting or answering fails
        OffloadedObjects(cluster_objects(50), worker).finish()
