"""Real repositories as input: files that are not Kubernetes manifests (Helm values, CI
configs) are skipped with a warning naming them; ``--exclude`` globs; kinds netreach does
not analyse are counted in the warnings and never appear in object diffs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from service.engine.model import ManifestError
from service.ingest import excluded, read_bytes, read_paths
from service.usecases.manifests import from_documents, load_paths

runner = CliRunner()

POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: shop}
spec: {podSelector: {}}
"""
KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [policy.yaml]
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "charts" / "web").mkdir(parents=True)
    (root / "policy.yaml").write_text(POLICY)
    (root / "kustomization.yaml").write_text(KUSTOMIZATION)
    (root / "charts" / "web" / "values.yaml").write_text("replicaCount: 2\nimage: web\n")
    (root / "ci.yml").write_text("on: [push]\njobs: {test: {runs-on: ubuntu-latest}}\n")
    return root


def test_documents_without_apiversion_and_kind_are_skipped_with_a_warning(tree: Path) -> None:
    manifests = load_paths([tree])
    kinds = sorted(d.body["kind"] for d in manifests.documents)
    assert kinds == ["Kustomization", "NetworkPolicy"]
    warnings = "\n".join(manifests.warnings)
    assert f"skipped {tree}/charts/web/values.yaml: 1 document without apiVersion" in warnings
    assert f"skipped {tree}/ci.yml" in warnings
    assert "skipped 1 object of unsupported kind: Kustomization (1)" in warnings


def test_half_a_kubernetes_object_is_still_an_error(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("kind: NetworkPolicy\nmetadata: {name: x}\n")
    with pytest.raises(ManifestError, match="apiVersion"):
        load_paths([tmp_path])


def test_request_bodies_are_not_filtered() -> None:
    """Only files are skipped: an upload of a non-object is refused as before."""
    documents = read_bytes(b"replicaCount: 2\n")
    with pytest.raises(ManifestError):
        from_documents(documents)


def test_exclude_globs(tree: Path) -> None:
    warnings: list[str] = []
    documents = read_paths([tree], exclude=["values.yaml", "ci.yml"], warnings=warnings)
    assert warnings == []
    assert len(documents) == 2
    documents = read_paths([tree], exclude=["charts", "*.yml", "**/kustomization.yaml"])
    assert [d.body["kind"] for d in documents] == ["NetworkPolicy"]


@pytest.mark.parametrize(
    ("path", "patterns", "expected"),
    [
        ("repo/charts/web/values.yaml", ["values.yaml"], True),
        ("repo/charts/web/values.yaml", ["**/values.yaml"], True),
        ("repo/charts/web/values.yaml", ["charts"], True),
        ("repo/charts/web/values.yaml", ["repo/charts/*"], True),
        ("repo/charts/web/deploy.yaml", ["values.yaml"], False),
        ("repo/apps/web.yaml", ["*.json"], False),
        ("repo/apps/web.yaml", [], False),
    ],
)
def test_excluded(path: str, patterns: list[str], expected: bool) -> None:
    assert excluded(path, patterns) is expected


def test_every_command_that_reads_paths_takes_exclude(tree: Path) -> None:
    (tree / "broken.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {}\n")
    for args in (["analyze", str(tree)], ["lint", str(tree)],
                 ["query", str(tree), "--from", "shop/a", "--to", "10.0.0.1"]):  # fmt: skip
        assert runner.invoke(app, args).exit_code == 2, args  # the broken file is read
        result = runner.invoke(app, [*args, "--exclude", "broken.yaml"])
        assert "problem(s) in the input" not in result.stderr, (args, result.stderr)
    result = runner.invoke(app, ["diff", str(tree), str(tree), "--exclude", "broken.yaml"])
    assert result.exit_code == 0


def test_unanalysed_kinds_never_appear_in_object_diffs(tree: Path, tmp_path: Path) -> None:
    head = tmp_path / "head"
    head.mkdir()
    (head / "policy.yaml").write_text(POLICY)
    (head / "kustomization.yaml").write_text(KUSTOMIZATION.replace("policy.yaml", "x.yaml"))
    result = runner.invoke(app, ["diff", str(tree), str(head), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    objects = json.loads(result.stdout)["objects"]
    assert objects == {"added": [], "removed": [], "changed": []}
    assert "unsupported kind: Kustomization" in result.stderr
