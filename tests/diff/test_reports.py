"""Golden markdown and JSON reports of realistic pull requests (each with its causes), the
CI gate's exit codes, the JSON shape, and GitHub's comment limit on a 10,000-pod change.

Regenerate the golden files with ``NETREACH_UPDATE_GOLDEN=1 pytest tests/diff``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from service.engine.diff import SemanticDiff
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


def _golden(name: str, text: str) -> None:
    golden = GOLDEN / name
    if os.environ.get("NETREACH_UPDATE_GOLDEN") == "1":
        golden.write_text(text)
    assert text == golden.read_text(), f"regenerate with NETREACH_UPDATE_GOLDEN=1 ({golden.name})"


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_markdown_matches_golden_file(tmp_path: Path, case: str) -> None:
    code, text = _diff(tmp_path, case)
    assert code == 0
    _golden(f"{case}.md", text.replace(str(tmp_path) + "/", ""))


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_json_matches_golden_file(tmp_path: Path, case: str) -> None:
    code, text = _diff(tmp_path, case, "--format", "json")
    assert code == 0
    value = json.loads(text.replace(str(tmp_path) + "/", ""))
    _golden(f"{case}.json", json.dumps(value, indent=1, sort_keys=True) + "\n")


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_every_connection_change_names_a_cause(tmp_path: Path, case: str) -> None:
    _, text = _diff(tmp_path, case, "--format", "json")
    value = json.loads(text)
    rows = [r for rows in value["connections"].values() for r in rows]
    assert rows, "each golden case changes some connection"
    for row in rows:
        assert row["causes"], row
        for cause in row["causes"]:
            assert set(cause) == {"kind", "object", "details"}


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


def _large_change() -> tuple[SemanticDiff, list[list[dict[str, object]]]]:
    """10,000 pods (50 namespaces x 20 Deployments x 10 replicas); 50 policies widened so
    that 180,000 workload connections are added, plus a deleted DNS policy and a new
    ipBlock so that every kind of section has rows."""
    docs = synthetic.sized("M")
    head = synthetic.changed(docs, 50)
    head = [d for d in head if not (d["kind"] == "NetworkPolicy"
                                    and d["metadata"] == {"name": "allow-dns",
                                                          "namespace": "team-001"})]  # fmt: skip
    for body in head:
        if body["kind"] == "NetworkPolicy" and body["metadata"] == {
            "name": "allow-ingress-controller",
            "namespace": "team-002",
        }:
            body["spec"]["ingress"].append({"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]})
    sides = [
        from_documents([Document(Origin(None, i), b) for i, b in enumerate(d)])
        for d in (docs, head)
    ]
    return diff_manifests(sides[0], sides[1], granularity=Granularity.WORKLOAD), [docs, head]


def test_a_large_change_shares_the_budget_and_every_section_keeps_rows() -> None:
    diff, _ = _large_change()
    counts = diff.connections.counts()
    assert counts["added"] >= 180_000
    text = render_markdown(diff, DiffSide("base"), DiffSide("head"),
                           full_report="the `netreach-report` artifact")  # fmt: skip
    assert len(text) <= GITHUB_COMMENT_LIMIT
    _golden("large-change.md", text)
    assert text.count("<details>") == text.count("</details>")
    headings = [line for line in text.splitlines() if line.startswith(("#### ", "**`"))]
    assert any("Newly reachable from outside" in h for h in headings)
    assert any("Lost DNS" in h for h in headings)
    # the causes behind the highlights come first, however few connections they touch
    assert any("`team-001/NetworkPolicy/allow-dns` (removed" in h for h in headings)
    assert any("`team-002/NetworkPolicy/allow-ingress-controller` (edited" in h
               for h in headings)  # fmt: skip
    assert any("New cross-namespace paths" in h for h in headings)
    assert "Objects changed" in text
    # each section shows rows: a table row follows every table header
    lines = text.splitlines()
    separators = [i for i, line in enumerate(lines) if line.startswith("| --- |")]
    assert len(separators) >= 8
    for i in separators:
        assert lines[i + 1].startswith("| "), f"a table without rows after {lines[i - 2]!r}"
    assert "more, in the full report_" in text
    assert "the full report is the `netreach-report` artifact" in text
    tight = render_markdown(diff, DiffSide("base"), DiffSide("head"), limit=20_000)
    assert len(tight) <= 20_000
    assert "Objects changed" in tight
    assert "more, in the full report_" in tight
    api = diff_to_api(diff, DiffSide("b"), DiffSide("h"))
    assert api["summary"]["highlights"]["cross_namespace"] >= 180_000
    assert all(row["causes"] for row in api["connections"]["added"])
    assert all(row["causes"] for row in api["connections"]["removed"])
