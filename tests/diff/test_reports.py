"""Golden markdown reports of realistic changes, the CI gate's exit codes, the JSON shape
and GitHub's comment limit.

Regenerate the golden files with ``NETREACH_UPDATE_GOLDEN=1 pytest tests/diff``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from service.engine.model import Document, Origin
from service.engine.options import Granularity
from service.report.diff import GITHUB_COMMENT_LIMIT, DiffSide, diff_to_api, render_markdown
from service.usecases.compare import diff_manifests
from service.usecases.manifests import from_documents
from tests.diff import synthetic
from tests.diff.helpers import GOLDEN, GOLDEN_CASES, write_case

runner = CliRunner()


def _diff(tmp_path: Path, case: str, *extra: str) -> tuple[int, str]:
    base, head = write_case(tmp_path, case)
    result = runner.invoke(app, ["diff", str(base), str(head), *extra])
    return result.exit_code, result.stdout


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_markdown_matches_golden_file(tmp_path: Path, case: str) -> None:
    code, text = _diff(tmp_path, case)
    assert code == 0
    text = text.replace(str(tmp_path) + "/", "")
    golden = GOLDEN / f"{case}.md"
    if os.environ.get("NETREACH_UPDATE_GOLDEN") == "1":
        golden.write_text(text)
    assert text == golden.read_text(), f"regenerate with NETREACH_UPDATE_GOLDEN=1 ({golden.name})"


@pytest.mark.parametrize(
    ("case", "fail_on", "expected"),
    [
        pytest.param("new-ipblock-anywhere", "external-exposure", 1, id="exposure-gated"),
        pytest.param("new-ipblock-anywhere", "lost-dns", 0, id="exposure-not-gated"),
        pytest.param("removed-dns-rule", "external-exposure,lost-dns", 1, id="lost-dns-gated"),
        pytest.param("widened-namespace-selector", "cross-namespace", 1, id="cross-namespace"),
        pytest.param("new-default-deny", "lost-ingress", 1, id="lost-ingress"),
        pytest.param("new-default-deny", "external-exposure,lost-dns", 0, id="deny-not-gated"),
        pytest.param("new-default-deny", "any", 1, id="any-change"),
        pytest.param("new-default-deny", "no-such-finding", 2, id="unknown-finding-invalid"),
    ],
)
def test_fail_on_sets_the_exit_code(tmp_path: Path, case: str, fail_on: str, expected: int) -> None:
    code, _ = _diff(tmp_path, case, "--fail-on", fail_on)
    assert code == expected


def test_identical_sides_pass_any_gate(tmp_path: Path) -> None:
    base, _ = write_case(tmp_path, "new-default-deny")
    result = runner.invoke(app, ["diff", str(base), str(base), "--fail-on", "any"])
    assert result.exit_code == 0
    assert "no change in connectivity" in result.stdout


def test_invalid_input_exits_2(tmp_path: Path) -> None:
    base, _ = write_case(tmp_path, "new-default-deny")
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {}\n")
    assert runner.invoke(app, ["diff", str(base), str(bad)]).exit_code == 2
    assert runner.invoke(app, ["diff", str(base), str(tmp_path / "missing")]).exit_code == 2


def test_json_has_the_api_shape(tmp_path: Path) -> None:
    code, text = _diff(tmp_path, "new-ipblock-anywhere", "--format", "json")
    assert code == 0
    out = json.loads(text)
    assert set(out) == {
        "base", "head", "granularity", "summary", "highlights", "connections", "objects"
    }  # fmt: skip
    assert out["granularity"] == "workload"
    assert out["highlights"]["external_exposure"] == [
        {
            "from": {"kind": "IPBlock", "cidr": "0.0.0.0/0"},
            "to": {"kind": "Deployment", "namespace": "shop", "name": "web"},
            "ports": [{"protocol": "TCP", "port": 8080}],
        }
    ]
    assert out["objects"]["changed"] == [
        {
            "kind": "NetworkPolicy",
            "namespace": "shop",
            "name": "web",
            "fields": ["spec.ingress[1]"],
        }
    ]
    assert out["summary"]["connections"] == {"added": 1, "removed": 0, "changed": 0}


def test_markdown_stays_within_githubs_comment_limit() -> None:
    """A change adding 180,000 workload connections still renders one bounded comment."""
    docs = synthetic.sized("M")
    sides = [
        from_documents([Document(Origin(None, i), b) for i, b in enumerate(d)])
        for d in (docs, synthetic.changed(docs, 50))
    ]
    diff = diff_manifests(sides[0], sides[1], granularity=Granularity.WORKLOAD)
    assert diff.connections.counts()["added"] == 180_000
    text = render_markdown(diff, DiffSide("base"), DiffSide("head"))
    assert len(text) <= GITHUB_COMMENT_LIMIT
    assert "_… and 179700 more_" in text  # the added table: TABLE_ROWS shown
    assert text.count("<details>") == text.count("</details>")
    tight = render_markdown(diff, DiffSide("base"), DiffSide("head"), limit=20_000)
    assert len(tight) <= 20_000
    assert "more_" in tight
    assert (
        diff_to_api(diff, DiffSide("b"), DiffSide("h"))["summary"]["highlights"]["cross_namespace"]
        == 180_000
    )
