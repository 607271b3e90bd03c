"""Compressed request bodies and compressed answers, over a real server on SQLite and
PostgreSQL: a gzip or deflate body is stored exactly as the plain one, the body limit holds
for the decoded bytes (a compression bomb is refused after reading a sliver of it), broken
or unknown codings are clear errors, and answers are gzip exactly when the client accepts it.
"""

from __future__ import annotations

import gzip
import json
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.api.compression import MINIMUM_SIZE
from tests.api.conftest import MAX_BODY_BYTES, YAML, assert_error, running_server, test_settings
from tests.api.manifests import SHOP_YAML
from tests.api.processes import serve_process
from tests.api.recording import Arrival, recording
from tests.conftest import ThrowawayDatabases

PLAIN = {"Accept-Encoding": "identity"}


@dataclass
class Served:
    base_url: str
    arrivals: list[Arrival] = field(default_factory=list)

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=60, **kwargs)

    def last(self, method: str, path: str) -> Arrival:
        return next(a for a in reversed(self.arrivals) if (a.method, a.path) == (method, path))


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def served(
    request: pytest.FixtureRequest, throwaway_databases: ThrowawayDatabases
) -> Iterator[Served]:
    """A server without tokens (open to loopback requests), its requests recorded."""
    arrivals: list[Arrival] = []
    url = throwaway_databases.create(str(request.param))
    with running_server(test_settings(url), wrap=recording(arrivals)) as base_url:
        yield Served(base_url, arrivals)


def bomb(decoded: int, wbits: int = 31) -> bytes:
    """A deflate stream of ``decoded`` zero bytes (a multiple of 1 MiB) in about a
    thousandth of that: after a full flush, every further MiB of zeros compresses to the same
    bytes, so the stream is built without compressing it all. It has no end: a reader that
    inflated it all would still find it truncated."""
    zeros = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeated = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    return first + repeated * (decoded // len(zeros) - 1)


def deflate_raw(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def upload(client: httpx.Client, cluster: str, body: bytes, **headers: str) -> httpx.Response:
    return client.post(
        f"/v1/clusters/{cluster}/snapshots", content=body, headers={**YAML, **headers}
    )


SHOP = SHOP_YAML.encode()
HALF = len(SHOP) // 2
ENCODINGS = {
    "gzip": ("gzip", gzip.compress(SHOP)),
    "x-gzip": ("x-gzip", gzip.compress(SHOP)),
    "gzip-two-members": ("gzip", gzip.compress(SHOP[:HALF]) + gzip.compress(SHOP[HALF:])),
    "deflate-zlib-format": ("deflate", zlib.compress(SHOP)),
    "deflate-raw": ("deflate", deflate_raw(SHOP)),
    "identity": ("identity", SHOP),
}


@pytest.mark.parametrize("case", list(ENCODINGS))
def test_a_compressed_body_is_stored_as_the_plain_one(served: Served, case: str) -> None:
    coding, body = ENCODINGS[case]
    cluster = f"enc-{case}"
    with served.client() as client:
        compressed = upload(client, cluster, body, **{"Content-Encoding": coding})
        assert compressed.status_code == 201, compressed.text
        plain = upload(client, cluster, SHOP)
        assert plain.status_code == 200, plain.text  # identical content: the same version
        assert plain.json()["content_hash"] == compressed.json()["content_hash"]
        assert plain.json()["version"] == 1
        assert compressed.json()["counts"] == plain.json()["counts"]


def test_a_gzip_json_body_of_a_question_is_read(served: Served) -> None:
    with served.client() as client:
        assert upload(client, "enc-question", SHOP).status_code == 201
        question = {"from": "shop/Deployment/web", "to": "db/Service/pg", "port": 5432}
        answer = client.post(
            "/v1/clusters/enc-question/snapshots/latest/reachability",
            content=gzip.compress(json.dumps(question).encode()),
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["allowed"] is False


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("wbits", [31, 15, -15], ids=["gzip", "deflate", "raw-deflate"])
def test_a_compression_bomb_is_refused_after_reading_a_sliver(
    served: Served, chunked: bool, wbits: int
) -> None:
    """128 MiB of zeros in 128 KiB of wire (under the 256 KiB limit): refused once the
    decoded bytes pass the limit (the wire bytes are under it)."""
    body = bomb(128 << 20, wbits)
    assert len(body) < MAX_BODY_BYTES
    coding = "gzip" if wbits == 31 else "deflate"
    content: Any = body
    if chunked:
        content = iter([body[i : i + 16384] for i in range(0, len(body), 16384)])
    with served.client() as client:
        refused = client.post(
            "/v1/clusters/enc-bomb/snapshots",
            content=content,
            headers={**YAML, "Content-Encoding": coding},
        )
    error = assert_error(refused, 413, "payload_too_large")
    assert error["details"] == [{"limit": MAX_BODY_BYTES, "content_encoding": coding}]
    assert "decoded request body exceeds" in error["message"]


BROKEN = {
    "not-gzip": ("gzip", SHOP),
    "truncated-gzip": ("gzip", gzip.compress(SHOP)[:-12]),
    "bad-gzip-checksum": (
        "gzip",
        gzip.compress(SHOP)[:-8] + b"\0\0\0\0" + len(SHOP).to_bytes(4, "little"),
    ),
    "garbage-after-gzip": ("gzip", gzip.compress(SHOP) + b"garbage"),
    "not-deflate": ("deflate", b"\xff" * 64),
    "data-after-deflate": ("deflate", zlib.compress(SHOP) + b"more"),
    "truncated-deflate": ("deflate", zlib.compress(SHOP)[:-6]),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_compressed_body_is_a_400_and_nothing_is_stored(served: Served, case: str) -> None:
    coding, body = BROKEN[case]
    cluster = f"enc-broken-{case}"
    with served.client() as client:
        refused = upload(client, cluster, body, **{"Content-Encoding": coding})
        error = assert_error(refused, 400, "invalid_content_encoding")
        assert error["details"][0]["content_encoding"] == coding
        assert error["details"][0]["field"] == "body"
        assert client.get(f"/v1/clusters/{cluster}").status_code == 404


@pytest.mark.parametrize("coding", ["br", "zstd", "compress", "gzip, gzip", "gzip, br"])
def test_an_unsupported_content_encoding_is_a_415_naming_the_supported(
    served: Served, coding: str
) -> None:
    with served.client() as client:
        refused = upload(
            client, "enc-unsupported", gzip.compress(SHOP), **{"Content-Encoding": coding}
        )
        error = assert_error(refused, 415, "unsupported_content_encoding")
        assert error["details"] == [
            {"field": "header.content-encoding", "input": coding, "supported": ["gzip", "deflate"]}
        ]
        assert refused.headers["Accept-Encoding"] == "gzip, deflate"
        assert client.get("/v1/clusters/enc-unsupported").status_code == 404


def many_pods(count: int) -> bytes:
    """A namespace of ``count`` pods and no policy: every pod reaches every other."""
    items: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "wide"}}
    ]
    items += [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"p-{i}", "namespace": "wide", "labels": {"app": f"a{i}"}},
            "spec": {"containers": [{"name": "c", "image": "i"}]},
            "status": {"podIP": f"10.1.{i // 250}.{i % 250 + 1}"},
        }
        for i in range(count)
    ]
    return json.dumps(items).encode()


@pytest.fixture(scope="module")
def wide(served: Served) -> str:
    """A cluster whose pod map and diff are well over the compression threshold."""
    with served.client() as client:
        for body, media in ((SHOP, "application/yaml"), (many_pods(40), "application/json")):
            response = client.post(
                "/v1/clusters/enc-wide/snapshots", content=body, headers={"Content-Type": media}
            )
            assert response.status_code == 201, response.text
    return "/v1/clusters/enc-wide"


ANSWERS = {
    "map-json": ("/snapshots/2/connectivity", {"granularity": "pod"}),
    "map-csv": ("/snapshots/2/connectivity", {"granularity": "pod", "format": "csv"}),
    "diff-json": ("/diff", {"base": "1", "head": "2"}),
    "diff-md": ("/diff", {"base": "1", "head": "2", "format": "md"}),
}


@pytest.mark.parametrize("case", list(ANSWERS))
def test_answers_are_gzip_when_accepted_and_plain_otherwise(
    served: Served, wide: str, case: str
) -> None:
    path, params = ANSWERS[case]
    with served.client() as client:
        plain = client.get(wide + path, params=params, headers=PLAIN)
        assert plain.status_code == 200, plain.text
        assert "content-encoding" not in plain.headers
        assert len(plain.content) > MINIMUM_SIZE
        assert "Accept-Encoding" in plain.headers["Vary"]
        refused_gzip = client.get(
            wide + path, params=params, headers={"Accept-Encoding": "br, gzip;q=0"}
        )
        assert "content-encoding" not in refused_gzip.headers
        compressed = client.get(wide + path, params=params, headers={"Accept-Encoding": "gzip"})
        assert compressed.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in compressed.headers["Vary"]
        # httpx inflates: the same answer, and the same snapshot headers
        assert compressed.content == plain.content
        assert compressed.headers["X-Netreach-Snapshot"] == plain.headers["X-Netreach-Snapshot"]
        assert compressed.headers["Content-Type"] == plain.headers["Content-Type"]
        assert compressed.num_bytes_downloaded < len(plain.content) / 3


def test_head_answers_with_the_headers_of_the_get(served: Served, wide: str) -> None:
    url = f"{wide}/snapshots/2/objects"
    with served.client() as client:
        for accept in ("gzip", "identity"):
            got = client.get(url, headers={"Accept-Encoding": accept})
            head = client.head(url, headers={"Accept-Encoding": accept})
            assert head.status_code == got.status_code == 200
            assert head.content == b""
            for name in ("Content-Encoding", "Content-Length", "Vary", "Content-Type"):
                assert head.headers.get(name) == got.headers.get(name), name
            assert ("Content-Encoding" in got.headers) == (accept == "gzip")


def test_small_answers_are_not_compressed(served: Served) -> None:
    with served.client() as client:
        health = client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert len(health.content) < MINIMUM_SIZE
    assert "content-encoding" not in health.headers


def test_a_static_asset_compressed_gets_a_weak_etag_that_still_revalidates(served: Served) -> None:
    with served.client() as client:
        plain = client.get("/ui/assets/js/diffview.js", headers=PLAIN)
        assert plain.status_code == 200, plain.text
        compressed = client.get("/ui/assets/js/diffview.js", headers={"Accept-Encoding": "gzip"})
        assert compressed.headers["Content-Encoding"] == "gzip"
        assert not plain.headers["ETag"].startswith("W/")
        assert compressed.headers["ETag"] == "W/" + plain.headers["ETag"]
        again = client.get(
            "/ui/assets/js/diffview.js",
            headers={"Accept-Encoding": "gzip", "If-None-Match": compressed.headers["ETag"]},
        )
        assert again.status_code == 304


# -- the CLI sends gzip ---------------------------------------------------------------------


def test_push_sends_gzip_and_stores_what_a_plain_push_stores(
    served: Served, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from service.cli import app as cli

    (tmp_path / "shop.yaml").write_text(SHOP_YAML)
    path = "/v1/clusters/enc-push/snapshots"
    args = ["push", "--server", served.base_url, "--cluster", "enc-push", str(tmp_path)]
    zipped = CliRunner().invoke(cli, args)
    assert zipped.exit_code == 0, zipped.output
    assert zipped.stdout.strip() == "enc-push version 1 (created)"
    arrival = served.last("POST", path)
    assert arrival.headers["content-encoding"] == "gzip"
    compressed_bytes = arrival.wire_bytes
    plain = CliRunner().invoke(cli, [*args, "--no-gzip"])
    assert plain.exit_code == 0, plain.output
    assert plain.stdout.strip() == "enc-push version 1 (unchanged: identical content)"
    arrival = served.last("POST", path)
    assert "content-encoding" not in arrival.headers
    assert compressed_bytes < arrival.wire_bytes / 3


# -- memory: a bomb against `netreach serve` ------------------------------------------------


def _peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/PID/status")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_a_gigabyte_bomb_leaves_the_server_memory_bounded(
    throwaway_databases: ThrowawayDatabases,
) -> None:
    """1 GiB of zeros in 1 MiB of gzip against a server limited to 2 MiB: a 413 within
    seconds, and the server's peak memory grows by a small multiple of the limit at most,
    far from the gigabyte that inflating the bomb would take."""
    limit = 2 << 20
    environment = {
        "NETREACH_DATABASE_URL": throwaway_databases.create("sqlite"),
        "NETREACH_MAX_BODY_BYTES": str(limit),
        "NETREACH_LOG_LEVEL": "warning",
    }
    with serve_process(environment) as (base_url, process):
        body = bomb(1 << 30)
        assert len(body) < limit
        with httpx.Client(base_url=base_url, timeout=60) as client:
            client.post("/v1/clusters/warm/snapshots", content=SHOP, headers=YAML)
            before = _peak_rss_bytes(process.pid)
            started = time.monotonic()
            refused = client.post(
                "/v1/clusters/bomb/snapshots",
                content=body,
                headers={**YAML, "Content-Encoding": "gzip"},
            )
            elapsed = time.monotonic() - started
        assert_error(refused, 413, "payload_too_large")
        grown = _peak_rss_bytes(process.pid) - before
        assert grown < 64 << 20, f"the server's peak memory grew by {grown / 2**20:.0f} MiB"
        assert elapsed < 20, f"the 413 took {elapsed:.1f} s"
