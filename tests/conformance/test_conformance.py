"""Every conformance case, run through the real ``netreach`` command line.

Cases are discovered, not listed: a case dropped into ``tests/conformance/cases`` or into the
shared corpus beside the repository (``../shared/conformance``, or the directory named by
``NETREACH_CONFORMANCE_DIR``) is picked up with no code change.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.expectations import (
    Case,
    actual_facts,
    api_keys,
    comparable,
    discover,
    expected_facts,
)

HERE = Path(__file__).parent
REPO = HERE.parent.parent
ROOTS = [HERE / "cases", REPO.parent / "shared" / "conformance"]
if os.environ.get("NETREACH_CONFORMANCE_DIR"):
    ROOTS.append(Path(os.environ["NETREACH_CONFORMANCE_DIR"]))

CASES = discover(*ROOTS)


def netreach(*args: str) -> Any:
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_cases_are_found() -> None:
    assert len(CASES) >= 8, f"expected the sample cases under {ROOTS}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Case) -> None:
    expected = case.expected
    assert expected.get("probes") or "connections" in expected, "a case needs probes or connections"
    if expected.get("probes"):
        check_probes(case)
    if "connections" in expected:
        check_connections(case)


def check_probes(case: Case) -> None:
    result = netreach("analyze", str(case.manifests), "--granularity", "pod", "--format", "json")
    facts = actual_facts(result["connections"])
    for probe in case.expected["probes"]:
        pods, protocol, port = probe["pods"], probe.get("protocol", "TCP"), probe["port"]
        got = []
        for source in pods:
            row = ""
            for target in pods:
                ports = facts.get((source, target))
                allowed = source == target or (ports is not None and ports.contains(protocol, port))
                row += "1" if allowed else "0"
            got.append(row)
        assert got == probe["matrix"], f"{protocol}/{port}: expected {probe['matrix']}, got {got}"


def check_connections(case: Case) -> None:
    granularity = case.expected.get("granularity", "pod")
    result = netreach("analyze", str(case.manifests), "--granularity", granularity)
    expected, actual = comparable(
        expected_facts(case.expected["connections"]), actual_facts(result["connections"])
    )
    missing = {k: str(v) for k, v in expected.items() if actual.get(k) != v}
    extra = {k: str(v) for k, v in actual.items() if k not in expected}
    assert not missing, f"expected but not found (or with other ports): {missing}"
    assert not extra, f"found but not expected: {extra}"


def test_api_keys_cover_every_endpoint_kind() -> None:
    assert api_keys({"kind": "Pod", "namespace": "x", "name": "a"}) == ["x/a"]
    assert api_keys({"kind": "Deployment", "namespace": "x", "name": "w"}) == ["x/Deployment/w"]
    assert api_keys({"kind": "IPBlock", "cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}) == [
        ("ip", 4, 167772160, 167837695),
        ("ip", 4, 167903232, 184549375),
    ]
