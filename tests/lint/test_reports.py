"""Lint through the command line: formats (SARIF validated against the official 2.1.0
schema, with file and line), suppressions and exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from service.cli import app
from service.engine.lint import CHECKS
from service.usecases.errors import InvalidQueryError
from service.usecases.lint import parse_suppressions

SCHEMA = json.loads((Path(__file__).parent / "sarif-schema-2.1.0.json").read_text())

SHOP = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
# ingress is denied everywhere, egress too
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: deny-all
  namespace: shop
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-wbe
  namespace: shop
spec:
  podSelector:
    matchLabels: {app: wbe}
  ingress:
  - ports: [{port: 8080}]
"""
# lines where the documents of SHOP start
DENY_ALL_LINE = 7
ALLOW_WBE_LINE = 16

PODS = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  containers:
  - name: main
    image: example
    ports: [{name: http, containerPort: 8080}]
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "deploy" / "policies").mkdir(parents=True)
    (tmp_path / "deploy" / "policies" / "shop.yaml").write_text(SHOP)
    (tmp_path / "deploy" / "pods.yaml").write_text(PODS)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["lint", *args])
    return result.exit_code, result.stdout


def test_text_lists_findings_with_file_and_line(workdir: Path) -> None:
    code, out = run("deploy")
    assert code == 1  # NR001 is an error
    assert f"deploy/policies/shop.yaml:{DENY_ALL_LINE}" in out
    assert "NR003" in out
    assert "did you mean app=web" in out
    assert "fix:" in out


def test_json_is_the_api_shape(workdir: Path) -> None:
    _, out = run("deploy", "--format", "json")
    answer = json.loads(out)
    codes = {f["code"] for f in answer["findings"]}
    assert {"NR001", "NR003"} <= codes
    for finding in answer["findings"]:
        assert {"severity", "code", "message", "object", "suggestion"} <= finding.keys()
    nr003 = next(f for f in answer["findings"] if f["code"] == "NR003")
    assert nr003["object"] == {"kind": "NetworkPolicy", "namespace": "shop", "name": "allow-wbe"}
    assert nr003["location"] == {
        "file": "deploy/policies/shop.yaml",
        "document": 2,
        "line": ALLOW_WBE_LINE,
    }
    assert answer["summary"]["error"] >= 1


def test_markdown_is_a_table(workdir: Path) -> None:
    _, out = run("deploy", "--format", "md")
    assert "| Severity | Code | Object | Finding | Suggested fix |" in out
    assert "NR003 policy-selects-nothing" in out


def test_sarif_validates_against_the_schema_with_file_and_line(workdir: Path) -> None:
    _, out = run("deploy", "--format", "sarif")
    sarif = json.loads(out)
    jsonschema.validate(sarif, SCHEMA)
    [run_] = sarif["runs"]
    assert [r["id"] for r in run_["tool"]["driver"]["rules"]] == [c.code for c in CHECKS]
    by_rule = {r["ruleId"]: r for r in run_["results"]}
    location = by_rule["NR003"]["locations"][0]
    assert location["physicalLocation"] == {
        "artifactLocation": {"uri": "deploy/policies/shop.yaml"},
        "region": {"startLine": ALLOW_WBE_LINE},
    }
    assert location["logicalLocations"][0]["fullyQualifiedName"] == ("shop/NetworkPolicy/allow-wbe")
    assert by_rule["NR001"]["level"] == "error"
    assert by_rule["NR001"]["locations"][0]["physicalLocation"]["region"] == {
        "startLine": DENY_ALL_LINE
    }


def test_sarif_without_files_has_logical_locations_only() -> None:
    from service.report.lint import findings_to_sarif
    from tests.lint.builders import DENY_EGRESS, base, findings, policy

    sarif: dict[str, Any] = findings_to_sarif(
        findings([*base(), policy("shop", "deny-egress", DENY_EGRESS)])
    )
    jsonschema.validate(sarif, SCHEMA)
    [location] = sarif["runs"][0]["results"][0]["locations"]
    assert "physicalLocation" not in location
    assert location["logicalLocations"][0]["name"] == "deny-egress"


CNP = """\
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata:
  name: allow-list
spec:
  tier: Admin
  priority: 1
  subject: {namespaces: {}}
  egress:
  - action: Accept
    to: [{domainNames: [example.com]}]
"""


def test_sarif_names_cluster_network_policies_with_file_and_line(workdir: Path) -> None:
    (workdir / "deploy" / "policies" / "cluster.yaml").write_text(CNP)
    _, out = run("deploy", "--format", "sarif")
    sarif = json.loads(out)
    jsonschema.validate(sarif, SCHEMA)
    [result] = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "NR017"]
    [location] = result["locations"]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "deploy/policies/cluster.yaml"
    assert location["logicalLocations"][0]["fullyQualifiedName"] == (
        "ClusterNetworkPolicy/allow-list"
    )
    assert "properties" not in location["logicalLocations"][0]
    assert result["properties"] == {"field": "spec.egress[0]"}


def test_empty_sarif_is_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pods.yaml").write_text(PODS)
    monkeypatch.chdir(tmp_path)
    code, out = run("pods.yaml", "--format", "sarif")
    assert code == 0
    sarif = json.loads(out)
    jsonschema.validate(sarif, SCHEMA)
    assert sarif["runs"][0]["results"] == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param([], 1, id="exit-1-error-at-default-fail-on"),
        pytest.param(["--fail-on", "none"], 0, id="exit-0-fail-on-none"),
        pytest.param(["--suppress", "NR001"], 0, id="exit-0-errors-suppressed"),
        pytest.param(["--suppress", "NR001", "--fail-on", "warning"], 1, id="exit-1-warnings"),
        pytest.param(["--suppress", "NR001,NR003,NR008", "--fail-on", "info"], 0, id="exit-0"),
        pytest.param(["--suppress", "NR999"], 2, id="exit-2-unknown-code"),
        pytest.param(["--suppress", "NR001:a/b/c/d"], 2, id="exit-2-bad-target"),
    ],
)
def test_exit_codes(workdir: Path, args: list[str], expected: int) -> None:
    code, _ = run("deploy", *args)
    assert code == expected


def test_invalid_input_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: [x]}\n")
    code, _ = run(str(bad))
    assert code == 2


@pytest.mark.parametrize(
    ("suppress", "kept"),
    [
        pytest.param("NR003", False, id="by-code"),
        pytest.param("NR003:shop/allow-wbe", False, id="by-code-and-object"),
        pytest.param("NR003:shop/NetworkPolicy/allow-*", False, id="by-kind-and-glob"),
        pytest.param("NR003:shop", False, id="by-namespace"),
        pytest.param("NR003:shop/deny-all", True, id="other-object-kept"),
        pytest.param("NR004", True, id="other-code-kept"),
    ],
)
def test_suppression(workdir: Path, suppress: str, kept: bool) -> None:
    _, out = run("deploy", "--format", "json", "--suppress", suppress)
    answer = json.loads(out)
    assert any(f["code"] == "NR003" for f in answer["findings"]) is kept
    assert answer["suppressed"] == (0 if kept else 1)


def test_annotation_suppresses_findings_on_that_object(workdir: Path) -> None:
    annotated = SHOP.replace(
        "  name: allow-wbe\n",
        "  name: allow-wbe\n  annotations:\n    netreach.io/lint-ignore: NR003, NR008\n",
    )
    (workdir / "deploy" / "policies" / "shop.yaml").write_text(annotated)
    _, out = run("deploy", "--format", "json")
    codes = [f["code"] for f in json.loads(out)["findings"]]
    assert "NR003" not in codes
    assert "NR001" in codes


def test_parse_suppressions_rejects_unknown_codes() -> None:
    with pytest.raises(InvalidQueryError):
        parse_suppressions(["XX1"])
    assert [s.code for s in parse_suppressions(["nr001, NR00*"])] == ["NR001", "NR00*"]
