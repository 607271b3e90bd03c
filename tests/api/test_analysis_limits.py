"""Heavy analyses cannot take the server: a time budget per analysis (503 analysis_timeout),
a bound on concurrent analyses (503 analyses_busy at once), and no database connection held
while computing, so health, readiness, metrics and cheap calls keep answering. Over a real
server, on SQLite and PostgreSQL."""

from __future__ import annotations

import ipaddress
import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from service.settings import MiB
from tests.api.conftest import assert_error, running_server, test_settings
from tests.conftest import ThrowawayDatabases

HEAVY = 45
SLOTS = 4
BUDGET = 0.005  # seconds: compiling the heavy cluster alone takes longer, its pod map far longer
PROMPT = 3.0  # seconds a cheap call may take while the heavy ones run


def _pod(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"p{i}", "namespace": "ab"[i % 2], "labels": {"app": f"x{i % 7}"}},
        "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}]}]},
        "status": {"podIP": f"10.0.{i // 200}.{i % 200 + 1}"},
    }  # fmt: skip


def _blocks(rng: random.Random, count: int, version: int) -> list[dict[str, Any]]:
    bits = 32 if version == 4 else 128
    found = []
    for _ in range(count):
        prefix = rng.randint(8, 24) if version == 4 else rng.randint(16, 100)
        value = rng.getrandbits(bits) >> (bits - prefix) << (bits - prefix)
        network = ipaddress.ip_network((value, prefix))
        inner = ipaddress.ip_network((value + (1 << (bits - prefix - 2)), prefix + 2))
        found.append({"cidr": str(network), "except": [str(inner)]})
    return found


def heavy_cluster() -> list[dict[str, Any]]:
    """300 pods, and a policy of 3,000 ipBlocks (a pod map of half a million rows)."""
    rng = random.Random(7)
    objects = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in "ab"]
    objects += [_pod(i) for i in range(300)]
    objects.append({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "many-blocks", "namespace": "a"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"],
                 "ingress": [{"from": [{"ipBlock": b} for b in _blocks(rng, 1500, 4)]}],
                 "egress": [{"to": [{"ipBlock": b} for b in _blocks(rng, 1500, 4)]}]},
    })  # fmt: skip
    return objects


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def bounded(
    request: pytest.FixtureRequest, throwaway_databases: ThrowawayDatabases
) -> Iterator[str]:
    """A server with a tiny analysis budget and few analysis slots, holding the heavy
    cluster as ``heavy@1``."""
    url = throwaway_databases.create(str(request.param))
    settings = test_settings(
        url,
        analysis_timeout_seconds=BUDGET,
        max_concurrent_analyses=SLOTS,
        max_body_bytes=16 * MiB,
    )
    with running_server(settings) as base_url:
        with httpx.Client(base_url=base_url, timeout=60) as client:
            response = client.post("/v1/clusters/heavy/snapshots", json=heavy_cluster())
            assert response.status_code == 201, response.text
        yield base_url


def _heavy(client: httpx.Client, i: int) -> httpx.Response:
    options = ["match", "ignore"][i % 2]
    return client.get(
        "/v1/clusters/heavy/snapshots/1/connectivity",
        params={"granularity": "pod", "pod_ips_in_ipblocks": options},
    )


def test_heavy_analyses_get_503_while_cheap_calls_answer(bounded: str) -> None:
    stop = threading.Event()
    slowest: dict[str, float] = {}

    def probe() -> None:
        with httpx.Client(base_url=bounded, timeout=30) as client:
            while not stop.is_set():
                for path in ("/healthz", "/readyz", "/metrics", "/v1/clusters"):
                    started = time.monotonic()
                    response = client.get(path)
                    took = time.monotonic() - started
                    assert response.status_code == 200, (path, response.text)
                    slowest[path] = max(slowest.get(path, 0.0), took)
                time.sleep(0.02)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        with (
            ThreadPoolExecutor(HEAVY) as pool,
            httpx.Client(
                base_url=bounded, timeout=60, limits=httpx.Limits(max_connections=HEAVY)
            ) as client,
        ):
            answers = list(pool.map(lambda i: _heavy(client, i), range(HEAVY)))
    finally:
        stop.set()
        prober.join()
    codes = [assert_error(a, 503)["code"] for a in answers]
    assert set(codes) <= {"analysis_timeout", "analyses_busy"}, codes
    assert "analysis_timeout" in codes
    assert "analyses_busy" in codes
    assert all(a.headers["Retry-After"].isdigit() for a in answers)
    assert set(slowest) == {"/healthz", "/readyz", "/metrics", "/v1/clusters"}
    assert max(slowest.values()) < PROMPT, slowest


def test_a_timeout_names_what_exceeded_what_and_frees_its_slot(bounded: str) -> None:
    with httpx.Client(base_url=bounded, timeout=60) as client:
        for _ in range(SLOTS + 2):  # more than the slots: each one was given back
            started = time.monotonic()
            error = assert_error(_heavy(client, 0), 503, "analysis_timeout")
            assert time.monotonic() - started < PROMPT
            (detail,) = error["details"]
            assert detail["budget_seconds"] == BUDGET
            assert detail["setting"] == "NETREACH_ANALYSIS_TIMEOUT_SECONDS"
            assert detail["stage"].startswith(("compile", "connectivity map"))
            assert f"exceeded the analysis budget of {BUDGET:g} s" in error["message"]


def _v6_blocks(count: int) -> list[dict[str, Any]]:
    """``count`` IPv6 ipBlocks, each with two ``except`` CIDRs."""
    rng = random.Random(11)
    found = []
    for _ in range(count):
        prefix = rng.randint(32, 100)
        value = rng.getrandbits(128) >> (128 - prefix) << (128 - prefix)
        network = ipaddress.IPv6Network((value, prefix))
        holes = [ipaddress.IPv6Network((value + (k << (128 - prefix - 4)), prefix + 4))
                 for k in (3, 9)]  # fmt: skip
        found.append({"ipBlock": {"cidr": str(network), "except": [str(h) for h in holes]}})
    return found


def test_a_what_if_of_20000_ipv6_ipblocks_with_except_answers(
    throwaway_databases: ThrowawayDatabases,
) -> None:
    """It never answered: every ipBlock scanned every address piece, twice over."""
    url = throwaway_databases.create("sqlite")
    settings = test_settings(url, max_body_bytes=64 * MiB, analysis_timeout_seconds=120)
    web = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "a"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "x"}]}}},
    }  # fmt: skip
    policy = {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "v6-egress", "namespace": "a"},
        "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Egress"],
                 "egress": [{"to": _v6_blocks(20_000)}]},
    }  # fmt: skip
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}
    with running_server(settings) as base_url, httpx.Client(base_url=base_url, timeout=300) as c:
        assert c.post("/v1/clusters/v6/snapshots", json=[namespace, web]).status_code == 201
        answer = c.post(
            "/v1/clusters/v6/snapshots/1/what-if",
            json={"manifests": [policy], "granularity": "workload"},
        )
        assert answer.status_code == 200, answer.text[:500]
        body = answer.json()
        assert body["objects"]["added"] == [
            {"kind": "NetworkPolicy", "namespace": "a", "name": "v6-egress"}
        ]
        added = body["connections"]["added"]
        egress = [c["to"] for c in added if c["from"].get("name") == "web"]
        assert len(egress) >= 20_000  # to each allowed IPv6 range (a block minus its holes)
        assert all(e["kind"] == "IPBlock" and ":" in e["cidr"] for e in egress)
        removed = [c["to"] for c in body["connections"]["removed"]]
        assert {"kind": "IPBlock", "cidr": "0.0.0.0/0"} in removed  # its IPv4 egress is gone
