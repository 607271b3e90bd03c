"""Hostile and malformed uploads over a real server, on SQLite and PostgreSQL: each is a
clear 4xx naming the document and field (and nothing is stored), or is stored exactly as
written; never a 500, then or later."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from service.cli import app as cli
from tests.api.conftest import YAML, Api, assert_error, running_server, test_settings

JSON = {"Content-Type": "application/json"}


def _upload(client: httpx.Client, cluster: str, body: str | bytes, headers: dict[str, str]) -> Any:
    return client.post(f"/v1/clusters/{cluster}/snapshots", content=body, headers=headers)


def _refused(response: httpx.Response, status: int = 422) -> list[dict[str, Any]]:
    """The details of a refused upload (every one names its document)."""
    error = assert_error(response, status)
    assert all("document" in detail for detail in error["details"]), error
    return list(error["details"])


def _nothing_stored(client: httpx.Client, cluster: str) -> None:
    assert client.get(f"/v1/clusters/{cluster}/snapshots/latest").status_code == 404


# -- numbers ----------------------------------------------------------------------------------

BIG = 123456789012345678901234567890
NEGATIVE = -(10**308)
WIDGET = {
    "apiVersion": "example.com/v1",
    "kind": "Widget",
    "metadata": {"name": "w", "namespace": "shop"},
    "spec": {"big": BIG, "list": [NEGATIVE, 2**64], "small": 1},
}
POD = """apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c, ports: [{containerPort: 80}]}]}
"""


def _widget(**spec: Any) -> dict[str, Any]:
    return {**WIDGET, "spec": {**WIDGET["spec"], **spec}}


def _bodies(client: httpx.Client, cluster: str, version: int) -> dict[str, Any]:
    response = client.get(f"/v1/clusters/{cluster}/snapshots/{version}/objects")
    assert response.status_code == 200, response.text
    return {item["kind"]: item["body"] for item in response.json()["items"]}


@pytest.mark.parametrize("form", ["json", "yaml"])
def test_integers_of_any_decodable_size_round_trip_exactly(
    api: Api, client: httpx.Client, cluster: str, form: str
) -> None:
    if form == "json":
        body, headers = json.dumps({"kind": "List", "apiVersion": "v1", "items": [WIDGET]}), JSON
    else:
        body, headers = json.dumps(WIDGET), YAML  # JSON is YAML: the YAML readers decode it
    first = _upload(client, cluster, body + ("\n---\n" + POD if form == "yaml" else ""), headers)
    assert first.status_code == 201, first.text
    second = _upload(client, cluster, json.dumps(_widget(big=BIG + 1)), JSON)
    assert second.status_code == 201, second.text
    version = first.json()["version"]
    stored = _bodies(client, cluster, version)["Widget"]
    assert stored["spec"] == WIDGET["spec"]
    assert type(stored["spec"]["big"]) is int
    diff = client.get("/v1/diff", params={"base": f"{cluster}@{version}", "head": f"{cluster}@2"})
    assert diff.status_code == 200, diff.text
    # A server started afresh on the same database reads them back just as exactly.
    with (
        running_server(test_settings(api.database_url)) as base_url,
        httpx.Client(base_url=base_url, headers=client.headers, timeout=60) as again,
    ):
        assert _bodies(again, cluster, version)["Widget"]["spec"] == WIDGET["spec"]
        for path in (
            f"/v1/clusters/{cluster}/snapshots/{version}/connectivity",
            f"/v1/diff?base={cluster}@{version}&head={cluster}@2",
        ):
            assert again.get(path).status_code == 200, path


@pytest.mark.parametrize(
    ("body", "headers", "field", "message"),
    [
        (
            '{"apiVersion": "v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"count": 1'
            + "0" * 309
            + "}}",
            JSON,
            "spec.count",
            "beyond the float64 range",
        ),
        (
            '{"apiVersion": "v1", "kind": "Widget", "metadata": {"name": "w"}, '
            '"spec": {"count": [1e400]}}',
            JSON,
            "spec.count[0]",
            "beyond the float64 range",
        ),
        (
            "apiVersion: v1\nkind: Widget\nmetadata: {name: w}\nspec:\n  count: "
            + "9" * 5000
            + "\n",
            YAML,
            "spec.count",
            "(5000 characters) is beyond the float64 range",
        ),
        (
            '{"apiVersion": "v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"count": -'
            + "9" * 5000
            + "}}",
            JSON,
            "spec.count",
            "(5001 characters) is beyond",
        ),
        (
            POD.replace("80", str(2**63)),
            YAML,
            "spec.containers[0].ports[0].containerPort",
            "invalid port 9223372036854775808",
        ),
        (
            POD.replace("80", str(10**30)),
            YAML,
            "spec.containers[0].ports[0].containerPort",
            "invalid port 1000000000000000000000000000000",
        ),
    ],
    ids=[
        "310-digits-json",
        "1e400-json",
        "5000-digits-yaml",
        "5000-digits-json",
        "port-beyond-int64",
        "port-of-31-digits",
    ],
)
def test_numbers_kubernetes_refuses_are_422_naming_the_field(
    client: httpx.Client,
    cluster: str,
    body: str,
    headers: dict[str, str],
    field: str,
    message: str,
) -> None:
    [detail] = _refused(_upload(client, cluster, body, headers))
    assert detail["document"] == 0
    assert field in (detail.get("field") or detail["message"])
    assert message in detail["message"]
    _nothing_stored(client, cluster)


# -- alias bombs ------------------------------------------------------------------------------

CONFIG_MAP_HEAD = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb, namespace: shop}\n"


@pytest.mark.parametrize(
    "body",
    [
        CONFIG_MAP_HEAD
        + "data:\n  a: &a "
        + "x" * 100_000
        + "\n  b: ["
        + "*a, " * 19_999
        + "*a]\n",
        CONFIG_MAP_HEAD
        + "x: &a {k: "
        + "x" * 100_000
        + "}\n"
        + "".join(f"y{i}: {{<<: *a}}\n" for i in range(8_000)),
        CONFIG_MAP_HEAD
        + "k: &k "
        + "x" * 100_000
        + "\nm:\n"
        + "".join(f"  - {{*k : {i}}}\n" for i in range(8_000)),
        "---\n".join(
            CONFIG_MAP_HEAD.replace("bomb", f"bomb{i}")
            + "a: &a "
            + "x" * 500
            + "\nb: ["
            + "*a, " * 4_999
            + "*a]\n"
            for i in range(10)
        ),
    ],
    ids=[
        "scalar-referenced-20000-times",
        "merged-8000-times",
        "as-a-key-8000-times",
        "ten-documents-each-within-the-limit",
    ],
)
def test_alias_bombs_by_size_are_refused_at_once(
    client: httpx.Client, cluster: str, body: str
) -> None:
    started = time.monotonic()
    detail = _refused(_upload(client, cluster, body, YAML))[0]
    assert time.monotonic() - started < 2
    assert "bytes of scalars" in detail["message"]
    assert "(limit " in detail["message"]
    assert "refusing a possible alias bomb" in detail["message"]
    _nothing_stored(client, cluster)


# -- other inputs -----------------------------------------------------------------------------


def _object(kind: str = "ConfigMap", **metadata: Any) -> str:
    api_version = "networking.k8s.io/v1" if kind == "NetworkPolicy" else "v1"
    body: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": metadata}
    if kind == "NetworkPolicy":
        body["spec"] = {"podSelector": {}}
    return json.dumps(body)


MALFORMED = {
    "metadata-list": (
        '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": [1]}', "metadata", "a map"),
    "metadata-string": (
        '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": "x"}', "metadata", "a map"),
    "metadata-number": (
        '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": 5}', "metadata", "a map"),
    "namespace-list": (_object(name="a", namespace=["x"]), "metadata.namespace", "a string"),
    "np-namespace-list": (
        _object("NetworkPolicy", name="a", namespace=["x"]), "metadata.namespace", "a string"),
    "name-number": (_object(name=5), "metadata.name", "a string, got integer"),
    "name-map": (_object(name={"a": 1}), "metadata.name", "a string, got map"),
    "name-null": (_object(name=None), "metadata.name", "a string, got null"),
    "np-name-number": (_object("NetworkPolicy", name=5), "metadata.name", "a string"),
    "np-name-map": (_object("NetworkPolicy", name={"a": 1}), "metadata.name", "a string"),
    "np-name-null": (_object("NetworkPolicy", name=None), "metadata.name", "is required"),
}  # fmt: skip


@pytest.mark.parametrize(("body", "field", "message"), MALFORMED.values(), ids=MALFORMED)
@pytest.mark.parametrize("form", ["json", "yaml"])
def test_metadata_of_the_wrong_type_is_422_naming_the_field(
    client: httpx.Client, cluster: str, body: str, field: str, message: str, form: str
) -> None:
    [detail] = _refused(_upload(client, cluster, body, JSON if form == "json" else YAML))
    assert detail["field"] == field
    assert message in detail["message"]
    _nothing_stored(client, cluster)


def test_a_skipped_kind_without_a_name_is_still_accepted(
    client: httpx.Client, cluster: str
) -> None:
    """A repository holds objects named by generateName and patches: netreach does not read
    their kind, so they are stored under an empty name (a NetworkPolicy needs its name)."""
    body = _object(generateName="job-") + "\n---\n" + _object("NetworkPolicy", name="np")
    created = _upload(client, cluster, body, YAML)
    assert created.status_code == 201, created.text
    items = client.get(f"/v1/clusters/{cluster}/snapshots/1/objects").json()["items"]
    assert sorted((item["kind"], item["name"]) for item in items) == [
        ("ConfigMap", ""), ("NetworkPolicy", "np")]  # fmt: skip
    [detail] = _refused(_upload(client, cluster, _object("NetworkPolicy"), YAML))
    assert (detail["field"], detail["message"]) == ("metadata.name", "is required")


@pytest.mark.parametrize(
    ("body", "headers", "line"),
    [
        ('{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",\n'
         ' "metadata": {"name": "np"}, "spec": {"podSelector": {}},\n "kind": "ConfigMap"}',
         JSON, 3),
        ("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np}\n"
         "spec: {podSelector: {}}\nkind: ConfigMap\n", YAML, 5),
    ],
    ids=["json", "yaml"],
)  # fmt: skip
def test_duplicate_keys_are_422_naming_the_key_and_line(
    client: httpx.Client, cluster: str, body: str, headers: dict[str, str], line: int
) -> None:
    [detail] = _refused(_upload(client, cluster, body, headers))
    assert f"duplicate key 'kind' (line {line})" in detail["message"]
    assert detail["line"] == line
    _nothing_stored(client, cluster)


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "a\\u0000b"])
def test_invalid_unicode_and_nul_in_strings_are_422(
    client: httpx.Client, cluster: str, escape: str
) -> None:
    body = '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, '
    body += f'"data": {{"k": "{escape}"}}}}'
    [detail] = _refused(_upload(client, cluster, body, JSON))
    assert detail["message"].startswith("data.k: ")
    _nothing_stored(client, cluster)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/diff", {"base": "a\x00b@1", "head": "c@1"}),
        ("/v1/diff", {"base": "a@1", "head": "c\x01@1"}),
        ("/v1/clusters/a%00b/snapshots/latest", {}),
        ("/v1/clusters/a/snapshots", {"source": "x\x00y"}),
    ],
    ids=["diff-base-nul", "diff-head-control", "cluster-nul", "source-nul"],
)
def test_control_characters_in_the_request_are_4xx(
    client: httpx.Client, path: str, params: dict[str, str]
) -> None:
    response = client.request("POST" if "source" in params else "GET", path, params=params,
                              content=_object(name="a"), headers=JSON)  # fmt: skip
    assert 400 <= response.status_code < 500, response.text
    assert_error(response, response.status_code)


def test_a_flood_of_separators_is_refused_quickly(client: httpx.Client, cluster: str) -> None:
    started = time.monotonic()
    response = _upload(client, cluster, "---\n" * 60_000, YAML)  # under the body limit
    assert time.monotonic() - started < 2
    error = assert_error(response, 413, "payload_too_large")
    assert "more than 10000 empty documents" in error["message"] + json.dumps(error["details"])
    _nothing_stored(client, cluster)


# -- the command line reads the same files the same way ----------------------------------------

FILES = {
    "metadata-list.json": ('{"apiVersion": "v1", "kind": "ConfigMap", "metadata": [1]}',
                           "ConfigMap: metadata: expected a map, got list"),
    "name-number.yaml": ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: 5}\n",
                         "metadata.name: expected a string, got integer"),
    "huge-number.yaml": ("apiVersion: v1\nkind: Widget\nmetadata: {name: w}\nspec:\n  count: "
                         + "9" * 5000 + "\n", "spec.count: number 9999"),
    "duplicate.json": ('{"apiVersion": "v1", "kind": "NetworkPolicy",\n "kind": "ConfigMap"}',
                       "duplicate key 'kind' (line 2)"),
    "bomb.yaml": (CONFIG_MAP_HEAD + "data:\n  a: &a " + "x" * 100_000 + "\n  b: ["
                  + "*a, " * 19_999 + "*a]\n", "refusing a possible alias bomb"),
    "separators.yaml": ("---\n" * 1_000_000, "more than 10000 empty documents"),
}  # fmt: skip


@pytest.mark.parametrize("name", FILES)
def test_netreach_analyze_refuses_the_same_files_as_clearly(tmp_path: Path, name: str) -> None:
    body, message = FILES[name]
    path = tmp_path / name
    path.write_text(body)
    result = CliRunner().invoke(cli, ["analyze", str(path), "--format", "json"])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_netreach_analyze_reads_integers_beyond_64_bits(tmp_path: Path) -> None:
    path = tmp_path / "widget.json"
    path.write_text(json.dumps(WIDGET))
    result = CliRunner().invoke(cli, ["analyze", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
