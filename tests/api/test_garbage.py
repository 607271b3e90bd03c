"""Deleted snapshots free their objects: after a delete over a real server, and by
``netreach db gc``."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from service.api.garbage import Collector
from service.cli import app as cli
from service.settings import get_settings
from service.store import NewObject, SnapshotRepository, make_engine, make_session_factory
from service.store.database import DatabaseTimeouts
from service.store.migrate import upgrade
from service.store.models import ObjectRow
from tests.api.conftest import YAML, Api
from tests.conftest import ThrowawayDatabases


def _config_map(name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: shop}}\n"


def _stored(database_url: str, names: list[str]) -> int:
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            return int(
                session.scalar(
                    select(func.count()).select_from(ObjectRow).where(ObjectRow.name.in_(names))
                )
                or 0
            )
    finally:
        engine.dispose()


def test_deleted_snapshots_and_clusters_free_their_objects(api: Api, cluster: str) -> None:
    names = [f"{cluster}-{n}" for n in range(4)]
    with api.client("admin") as client:
        for name in names:
            response = client.post(
                f"/v1/clusters/{cluster}/snapshots", content=_config_map(name), headers=YAML
            )
            assert response.status_code == 201, response.text
        assert _stored(api.database_url, names) == 4
        for version in (1, 2):
            assert client.delete(f"/v1/clusters/{cluster}/snapshots/{version}").status_code == 204
        deadline = time.monotonic() + 15
        while _stored(api.database_url, names[:2]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _stored(api.database_url, names[:2]) == 0
        assert _stored(api.database_url, names[2:]) == 2
        objects = client.get(f"/v1/clusters/{cluster}/snapshots/4/objects").json()["items"]
        assert [o["name"] for o in objects] == [names[3]]
        assert client.delete(f"/v1/clusters/{cluster}").status_code == 204
        deadline = time.monotonic() + 15
        while _stored(api.database_url, names) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _stored(api.database_url, names) == 0


def test_db_gc_prints_what_it_freed(throwaway_databases: ThrowawayDatabases) -> None:
    url = throwaway_databases.create("sqlite")
    upgrade(url)
    engine = make_engine(url)
    try:
        with make_session_factory(engine, write=True)() as session, session.begin():
            repo = SnapshotRepository(session)
            for n in range(3):
                body = {"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": f"cm{n}", "namespace": "shop"}}  # fmt: skip
                repo.create("c", [NewObject("ConfigMap", "shop", f"cm{n}", body)])
            repo.delete("c", 1)
            repo.delete("c", 2)
    finally:
        engine.dispose()
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["db", "gc"], env={"NETREACH_DATABASE_URL": url})
        again = CliRunner().invoke(cli, ["db", "gc"], env={"NETREACH_DATABASE_URL": url})
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "freed 2 object(s)" in result.stdout
    assert "freed 0 object(s)" in again.stdout
    assert _stored(url, ["cm0", "cm1", "cm2"]) == 1


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_collection_held_off_by_an_upload_runs_again_later(
    backend: str, throwaway_databases: ThrowawayDatabases
) -> None:
    url = throwaway_databases.create(backend)
    upgrade(url)
    engine = make_engine(url, timeouts=DatabaseTimeouts(busy=0.2))
    sessions = make_session_factory(engine, write=True)
    collector = Collector(sessions, retry_seconds=0.2)
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "orphan", "namespace": "a"},
    }
    try:
        with sessions() as session, session.begin():
            SnapshotRepository(session).create("c", [NewObject("ConfigMap", "a", "orphan", body)])
            SnapshotRepository(session).delete("c", 1)
        upload = sessions()
        upload.begin()
        other = {**body, "metadata": {"name": "other", "namespace": "a"}}
        SnapshotRepository(upload).create("d", [NewObject("ConfigMap", "a", "other", other)])
        collector.run()  # held off: SQLite's lock wait runs out, PostgreSQL's try-lock fails
        assert _stored(url, ["orphan"]) == 1
        upload.commit()
        upload.close()
        deadline = time.monotonic() + 10
        while _stored(url, ["orphan"]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _stored(url, ["orphan"]) == 0
        assert _stored(url, ["other"]) == 1
    finally:
        collector.close()
        engine.dispose()
