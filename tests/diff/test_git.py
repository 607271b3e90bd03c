"""``netreach diff --base-ref REF [--head-ref REF] PATH...`` on a temporary repository with
two commits: the manifests are read at each revision without a second checkout."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from service.ingest.git import GitError, Revision

runner = CliRunner()

NAMESPACES = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web, ports: [{containerPort: 8080}]}]}
"""
DENY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress]}
"""
OPEN = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-anywhere, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{ipBlock: {cidr: 0.0.0.0/0}}], ports: [{port: 8080}]}]
"""


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    (root / "deploy" / "chart").mkdir(parents=True)
    _git(root, "init", "-q")
    (root / "deploy" / "apps.yaml").write_text(NAMESPACES)
    (root / "deploy" / "deny.yaml").write_text(DENY)
    (root / "deploy" / "chart" / "values.yaml").write_text("replicaCount: 3\n")
    (root / "deploy" / "notes.txt").write_text("not a manifest")
    (root / "deploy" / ".hidden.yaml").write_text(OPEN)  # hidden: never read
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "base")
    (root / "deploy" / "open.yaml").write_text(OPEN)
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "open web")
    monkeypatch.chdir(root)
    return root


def _json(*args: str) -> tuple[int, dict[str, object], str]:
    result = runner.invoke(app, ["diff", *args, "--format", "json"])
    return result.exit_code, json.loads(result.stdout) if result.stdout else {}, result.stderr


def test_two_revisions_of_the_current_repository(repo: Path) -> None:
    code, out, stderr = _json("--base-ref", "HEAD~1", "--head-ref", "HEAD", "deploy")
    assert code == 0, stderr
    assert out["base"] == {"source": "HEAD~1"}
    [exposed] = out["highlights"]["external_exposure"]  # type: ignore[index]
    assert exposed["to"] == {"kind": "Deployment", "namespace": "shop", "name": "web"}
    assert out["objects"]["added"] == [  # type: ignore[index]
        {"kind": "NetworkPolicy", "namespace": "shop", "name": "web-from-anywhere"}
    ]
    assert "skipped deploy/chart/values.yaml" in stderr  # at both revisions


def test_the_working_tree_is_the_default_head(repo: Path) -> None:
    (repo / "deploy" / "open.yaml").unlink()  # uncommitted: back to the base's state
    code, out, _ = _json("--base-ref", "HEAD~1", "deploy")
    assert code == 0
    assert out["head"] == {"source": "working tree"}
    assert out["summary"]["connections"] == {"added": 0, "removed": 0, "changed": 0}  # type: ignore[index]
    code, out, _ = _json("--base-ref", "HEAD~1", "deploy", "--fail-on", "any")
    assert code == 0


def test_exclude_and_gates_apply(repo: Path) -> None:
    result = runner.invoke(
        app,
        ["diff", "--base-ref", "HEAD~1", "--head-ref", "HEAD", "deploy",
         "--exclude", "**/values.yaml", "--exclude", "open.yaml",
         "--fail-on", "external-exposure"],
    )  # fmt: skip
    assert result.exit_code == 0  # open.yaml excluded at both revisions: nothing changes
    assert "values.yaml" not in result.stderr
    result = runner.invoke(
        app, ["diff", "--base-ref", "HEAD~1", "deploy", "--fail-on", "external-exposure"]
    )
    assert result.exit_code == 1


def test_a_path_absent_at_the_base_is_empty_there(repo: Path) -> None:
    (repo / "new").mkdir()
    (repo / "new" / "apps.yaml").write_text(NAMESPACES)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "new dir")
    code, out, stderr = _json("--base-ref", "HEAD~1", "--head-ref", "HEAD", "new")
    assert code == 0
    assert "new: not in HEAD~1" in stderr
    assert out["objects"]["added"]  # type: ignore[index]


def test_from_a_subdirectory_paths_are_relative_to_it(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo / "deploy")
    files, _ = Revision.resolve("HEAD").files(["."])
    # the order of a directory walk (by path components); .hidden.yaml and notes.txt skipped
    assert [name for name, _ in files] == ["apps.yaml", "chart/values.yaml", "deny.yaml",
                                           "open.yaml"]  # fmt: skip
    files, _ = Revision.resolve("HEAD").files(["notes.txt"])  # a file named explicitly
    assert [name for name, _ in files] == ["notes.txt"]


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--base-ref", "no-such-ref", "deploy"], id="unknown-ref"),
        pytest.param(["--head-ref", "HEAD", "deploy"], id="head-without-base"),
        pytest.param(["deploy"], id="one-side-without-base-ref"),
        pytest.param(["--base-ref", "HEAD~1", "missing-dir"], id="missing-working-tree-path"),
    ],
)
def test_invalid_use_exits_2(repo: Path, args: list[str]) -> None:
    assert runner.invoke(app, ["diff", *args]).exit_code == 2


def test_outside_a_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(GitError, match="not in a git repository"):
        Revision.resolve("HEAD")
