"""Fixtures for capture: a fake API server loaded with a cluster, and real kubeconfig files.

The cluster is the team's generator's small live cluster (Pods with IPs, ReplicaSets,
status) plus ``manifests/edge-cases.yaml`` (admin tiers, a ClusterNetworkPolicy, Nodes,
Jobs, host-network and dual-stack pods).
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.capture.fake_apiserver import FakeApiServer, FakeCluster

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
GENERATOR = REPO.parent / "shared" / "bench" / "gen_cluster.py"
EDGE_CASES = HERE / "manifests" / "edge-cases.yaml"
TOKEN = "good-token-0123456789"
USER = "capture-tester"


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A live cluster of 300 pods from the generator, as one List file."""
    if not GENERATOR.is_file():
        pytest.skip(f"the cluster generator is not at {GENERATOR}")
    out = tmp_path_factory.mktemp("generated") / "cluster.json"
    subprocess.run(
        [sys.executable, str(GENERATOR), "--pods", "300", "--seed", "7", "--out", str(out)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out


@pytest.fixture(scope="session")
def manifests(generated: Path) -> list[dict[str, Any]]:
    """Every document the fake server is loaded with."""
    documents = [json.loads(generated.read_text())]
    documents += [d for d in yaml.safe_load_all(EDGE_CASES.read_text()) if d]
    return documents


@pytest.fixture
def apiserver(manifests: list[dict[str, Any]]) -> Iterator[FakeApiServer]:
    cluster = FakeCluster()
    cluster.load(manifests)
    with FakeApiServer(cluster, tokens={TOKEN: USER}).running() as server:
        yield server


def write_kubeconfig(
    path: Path,
    server: FakeApiServer,
    user: dict[str, Any],
    *,
    server_url: str | None = None,
    extra_contexts: dict[str, str] | None = None,
) -> Path:
    """A kubeconfig file as kubectl writes it: one cluster (with the CA inline), one user,
    one context ``test``, current; ``extra_contexts`` adds contexts to other server URLs."""
    ca = base64.b64encode(server.ca.cert_pem.bytes()).decode()
    clusters = [{"name": "fake", "cluster": {"server": server_url or server.url,
                                             "certificate-authority-data": ca}}]  # fmt: skip
    contexts = [{"name": "test", "context": {"cluster": "fake", "user": "tester"}}]
    for name, url in (extra_contexts or {}).items():
        clusters.append({"name": name, "cluster": {"server": url,
                                                   "certificate-authority-data": ca}})  # fmt: skip
        contexts.append({"name": name, "context": {"cluster": name, "user": "tester"}})
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": clusters,
        "users": [{"name": "tester", "user": user}],
        "contexts": contexts,
        "current-context": "test",
        "preferences": {},
    }
    path.write_text(yaml.safe_dump(config))
    return path


def certificate_user(server: FakeApiServer, name: str = USER) -> dict[str, str]:
    """A kubeconfig user authenticating with a client certificate (inline data)."""
    leaf = server.client_certificate(name)
    return {
        "client-certificate-data": base64.b64encode(leaf.cert_chain_pems[0].bytes()).decode(),
        "client-key-data": base64.b64encode(leaf.private_key_pem.bytes()).decode(),
    }


@pytest.fixture
def kubeconfig(tmp_path: Path, apiserver: FakeApiServer) -> Path:
    """A kubeconfig with a client certificate, the way kind and kubeadm write them."""
    return write_kubeconfig(tmp_path / "kubeconfig", apiserver, certificate_user(apiserver))
