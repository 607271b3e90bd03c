"""Uploads whose bodies a child process hashes and compresses (``store.offload``) store
exactly what uploads prepared in process store, and are refused alike."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from service.store import make_engine, make_session_factory
from service.store.migrate import upgrade
from service.store.models import ObjectRow
from service.store.offload import BodyWorker
from service.usecases import snapshots as usecases

MANIFEST = b"""{"apiVersion": "v1", "kind": "List", "items": [%s]}"""


def _pods(count: int) -> bytes:
    items = b",".join(
        b'{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p%d", "namespace": "n"},'
        b' "spec": {"containers": [{"name": "c", "image": "i"}]}}' % n
        for n in range(count)
    )
    return MANIFEST % items


@pytest.mark.parametrize("child", ["works", "fails"])
def test_uploads_store_the_same_whether_offloaded_or_not(
    child: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    sessions = make_session_factory(make_engine(url))
    body = _pods(300)
    with sessions() as session:
        in_process, _ = usecases.record_snapshot(
            session, "a", body, content_type="application/json"
        )
        session.commit()
        rows = set(session.execute(select(ObjectRow.content_hash, ObjectRow.body)))
    if child == "fails":
        monkeypatch.setattr(BodyWorker, "command", (sys.executable, "-c", "pass"))
    monkeypatch.setattr(usecases, "OFFLOAD_BYTES", 0)
    url = f"sqlite:///{tmp_path / 'other.sqlite'}"
    upgrade(url)
    sessions = make_session_factory(make_engine(url))
    with sessions() as session:
        offloaded, _ = usecases.record_snapshot(session, "a", body, content_type="application/json")
        session.commit()
        assert set(session.execute(select(ObjectRow.content_hash, ObjectRow.body))) == rows
    assert offloaded.content_hash == in_process.content_hash
    assert offloaded.counts == in_process.counts == {"Pod": 300}


def test_an_invalid_upload_is_refused_as_without_the_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(usecases, "OFFLOAD_BYTES", 0)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    sessions = make_session_factory(make_engine(url))
    body = b'[{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": ["not", "a", "name"]}}]'
    with sessions() as session, pytest.raises(usecases.InvalidManifestsError) as refused:
        usecases.record_snapshot(session, "a", body, content_type="application/json")
    assert "name" in str(refused.value.details)
    assert refused.value.details == in_process_refusal(body, tmp_path)


def in_process_refusal(body: bytes, tmp_path: Path) -> list[dict[str, object]]:
    url = f"sqlite:///{tmp_path / 'in-process.sqlite'}"
    upgrade(url)
    usecases.OFFLOAD_BYTES = 1 << 40  # restored by monkeypatch
    sessions = make_session_factory(make_engine(url))
    with sessions() as session, pytest.raises(usecases.InvalidManifestsError) as refused:
        usecases.record_snapshot(session, "a", body, content_type="application/json")
    return refused.value.details
