"""The command line's bounds: ``--timeout`` on analyze, query, diff and lint (exit 3, naming
where it stopped), and the item counts of an object (exit 2, naming field and limit)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from service.cli import app as cli

PODS = 150
BLOCKS = 3000


def _cluster(blocks: int = BLOCKS) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}
    ]
    for i in range(PODS):
        objects.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"p{i}", "namespace": "a", "labels": {"app": f"x{i % 5}"}},
            "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}]}]},
            "status": {"podIP": f"10.0.{i // 200}.{i % 200 + 1}"},
        })  # fmt: skip
    peers = [{"ipBlock": {"cidr": f"10.{1 + i // 256}.{i % 256}.0/24",
                          "except": [f"10.{1 + i // 256}.{i % 256}.128/25"]}}
             for i in range(blocks)]  # fmt: skip
    objects.append({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "many", "namespace": "a"},
        "spec": {"podSelector": {}, "egress": [{"to": peers}], "ingress": [{"from": peers}]},
    })  # fmt: skip
    return objects


@pytest.fixture(scope="module")
def heavy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("limits") / "heavy.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": _cluster()}))
    return path


def _small(tmp_path: Path) -> Path:
    path = tmp_path / "small.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": _cluster(3)}))
    return path


COMMANDS = {
    "analyze": lambda p: ["analyze", str(p), "--granularity", "pod"],
    "query": lambda p: ["query", str(p), "--from", "a/Pod/p1", "--to", "a/p2"],
    "lint": lambda p: ["lint", str(p)],
    "diff": lambda p: ["diff", str(p), str(p)],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_past_the_timeout_a_command_stops_with_exit_3(command: str, heavy: Path) -> None:
    # Reading 3,000 ipBlocks alone takes longer than a millisecond: the first check stops it.
    result = CliRunner().invoke(cli, [*COMMANDS[command](heavy), "--timeout", "0.001"])
    assert result.exit_code == 3, result.output
    assert "exceeded the analysis budget of 0.001 s (--timeout)" in result.output
    assert "compile: " in result.output


@pytest.mark.parametrize("command", list(COMMANDS))
def test_without_a_timeout_commands_are_unbounded(command: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, COMMANDS[command](_small(tmp_path)))
    assert result.exit_code in (0, 1), result.output  # lint and query may exit 1
    assert "budget" not in result.output


def test_an_object_past_a_count_limit_is_refused_naming_field_and_limit(tmp_path: Path) -> None:
    ports = [{"port": 1 + i} for i in range(1001)]
    anp = {
        "apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy",
        "metadata": {"name": "wide"},
        "spec": {"priority": 5, "subject": {"namespaces": {}},
                 "ingress": [{"action": "Allow", "from": [{"namespaces": {}}] * 101}]},
    }  # fmt: skip
    policy = {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "ports", "namespace": "a"},
        "spec": {"podSelector": {}, "ingress": [{"ports": ports}]},
    }  # fmt: skip
    path = tmp_path / "too-many.json"
    path.write_text(json.dumps([anp, policy]))
    result = CliRunner().invoke(cli, ["analyze", str(path)])
    assert result.exit_code == 2, result.output
    assert "spec.ingress[0].from" in result.output
    assert "must have at most 100 items (the CRD's maxItems), got 101" in result.output
    assert "spec.ingress[0].ports" in result.output
    assert "holds 1001 ports: more than netreach's limit of 1000" in result.output
