"""The web view's pure modules (YAML paths, addresses, ports), run in the browser."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ui.conftest import Browsing

pytestmark = pytest.mark.browser


def run(browsing: Browsing, module: str, body: str, arg: Any = None) -> Any:
    page = browsing.open("#/")
    return page.evaluate(
        f"async (arg) => {{ const m = await import('./assets/js/{module}'); {body} }}", arg
    )


POLICY = {
    "kind": "NetworkPolicy",
    "metadata": {"name": "x", "labels": {}},
    "spec": {
        "ingress": [
            {"from": [{"podSelector": {}},
                      {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}],
             "ports": [{"port": "http"}]},
            {},
        ],
        "policyTypes": ["Ingress"],
    },
}  # fmt: skip


def test_yaml_lines_and_paths(browsing: Browsing) -> None:
    result = run(
        browsing,
        "yaml.js",
        "const r = m.toYaml(arg);"
        "return {text: r.lines.map(m.lineText), spans: Object.fromEntries(r.spans)};",
        POLICY,
    )
    text = result["text"]
    assert text == [
        "kind: NetworkPolicy",
        "metadata:",
        "  name: x",
        "  labels: {}",
        "spec:",
        "  ingress:",
        "  - from:",
        "    - podSelector: {}",
        "    - ipBlock:",
        '        cidr: "0.0.0.0/0"',
        "        except:",
        '        - "10.0.0.0/8"',
        "    ports:",
        "    - port: http",
        "  - {}",
        "  policyTypes:",
        "  - Ingress",
    ]
    spans = result["spans"]
    assert spans["spec.ingress[0]"] == [6, 13]
    assert spans["spec.ingress[0].from[1]"] == [8, 11]
    assert spans["spec.ingress[1]"] == [14, 14]
    assert spans["spec.policyTypes"] == [15, 16]


def test_yaml_quotes_what_would_change_meaning(browsing: Browsing) -> None:
    values = {
        "a": "true",
        "b": "",
        "c": "80",
        "d": "x: y",
        "e": " pad",
        "f": True,
        "g": 3,
        "h": None,
    }
    text = run(browsing, "yaml.js", "return m.toYaml(arg).lines.map(m.lineText);", values)
    assert text == [
        'a: "true"',
        'b: ""',
        'c: "80"',
        'd: "x: y"',
        'e: " pad"',
        "f: true",
        "g: 3",
        "h: null",
    ]


@pytest.mark.parametrize(
    ("block", "address"),
    [
        ({"cidr": "0.0.0.0/0", "except": ["0.0.0.0/5", "8.0.0.0/7", "10.0.0.0/8"]}, "11.0.0.0"),
        ({"cidr": "10.1.2.0/24"}, "10.1.2.0"),
        ({"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8"]}, None),
        ({"cidr": "2001:db8::/32"}, None),
    ],
)
def test_first_address_of_a_block(
    browsing: Browsing, block: dict[str, Any], address: str | None
) -> None:
    assert run(browsing, "format.js", "return m.firstAddress(arg);", block) == address


@pytest.mark.parametrize(
    ("ports", "text"),
    [
        ([{"protocol": "SCTP"}, {"protocol": "TCP"}, {"protocol": "UDP"}], "all ports"),
        (
            [{"protocol": "TCP", "port": 80}, {"protocol": "TCP", "port": 8000, "endPort": 8080}],
            "TCP 80, 8000-8080",
        ),
        ([{"protocol": "TCP", "port": 53}, {"protocol": "UDP", "port": 53}], "TCP 53 · UDP 53"),
        ([{"protocol": "UDP"}], "UDP (all)"),
        ([], "no ports"),
    ],
)
def test_ports_text(browsing: Browsing, ports: list[dict[str, Any]], text: str) -> None:
    assert run(browsing, "format.js", "return m.portsText(arg);", ports) == text


def test_causes_are_described_whatever_their_shape(browsing: Browsing) -> None:
    policy = {"kind": "NetworkPolicy", "namespace": "shop", "name": "x"}
    causes = [
        # the diff's shape: kind, object, details
        {"kind": "policy-edited", "object": policy, "details": ["ingress rule 1 peer 0"]},
        {"kind": "namespace-relabelled", "object": {"kind": "Namespace", "name": "shop"},
         "details": []},
        {"kind": "policy-added", "object": policy, "details": ["egress rule 2"]},
        # tolerated: a string, an object with other field names
        "shop/NetworkPolicy/x added",
        {"object": policy, "change": "edited", "rule": 1, "peer": 0},
    ]  # fmt: skip
    described = run(
        browsing,
        "diffview.js",
        "return arg.map(c => { const d = m.describeCause(c);"
        "  return [d.object ? d.object.name : null, d.text, d.path]; });",
        causes,
    )
    assert described == [
        ["x", "edited: ingress rule 1 peer 0", "spec.ingress[1].from[0]"],
        ["shop", "relabelled", None],
        ["x", "added: egress rule 2", "spec.egress[2]"],
        [None, "shop/NetworkPolicy/x added", None],
        ["x", "edited: rule 1 peer 0", None],
    ]
