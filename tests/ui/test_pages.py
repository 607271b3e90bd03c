"""Each page of the web view in a real headless Chromium, against a real server holding the
demo (service/demo/v1.yaml as version 1, v2.yaml as version 2).

Known facts of the demo that the pages must show: in version 2, shop/api may call
payments/gateway on TCP 8443 (egress rule 0 of shop/api-to-gateway, ingress rule 0 of
payments/gateway-from-shop-api); the internet reaches shop/web on TCP 8080; version 2 added
kube-system/coredns -> payments/gateway (the gateway policy now admits every namespace).
"""

from __future__ import annotations

import re

import httpx
import pytest

from tests.ui.conftest import DEMO, Browsing

pytestmark = pytest.mark.browser


def cell(browsing: Browsing, source: str, target: str) -> str:
    selector = f'table.matrix td[data-from="{source}"][data-to="{target}"]'
    return browsing.page.locator(selector).inner_text()


def test_clusters_page_shows_the_timeline_and_lint_status(browsing: Browsing) -> None:
    page = browsing.open("#/")
    section = page.locator("section.cluster", has=page.locator(f"h2:text-is('{DEMO}')"))
    versions = section.locator("ol.timeline > li")
    assert versions.count() == 2
    newest = versions.nth(0).inner_text()
    assert "version 2" in newest
    assert "7 NetworkPolicy" in newest
    assert "21 objects" in newest
    assert "5 NetworkPolicy" in versions.nth(1).inner_text()
    page.wait_for_selector("section.cluster .lint-status a.badge")
    assert "2 warnings" in section.locator(".lint-status").inner_text()


def test_matrix_cell_shows_the_known_ports(browsing: Browsing) -> None:
    browsing.open(f"#/c/{DEMO}/2/matrix")
    assert cell(browsing, "shop", "payments").split() == ["1", "TCP", "8443"]
    assert "TCP 8080" in cell(browsing, "IPBlock", "shop")
    assert "UDP 53" in cell(browsing, "shop", "kube-system")
    page = browsing.page
    assert "dns" in (
        page.locator('td[data-from="shop"][data-to="kube-system"]').get_attribute("class") or ""
    )
    assert "ext" in (
        page.locator('td[data-from="IPBlock"][data-to="shop"]').get_attribute("class") or ""
    )
    # version 1: shop egress was open, no DNS restriction
    browsing.open(f"#/c/{DEMO}/1/matrix")
    assert "UDP 53" not in cell(browsing, "shop", "kube-system")


def test_matrix_filters(browsing: Browsing) -> None:
    page = browsing.open(f"#/c/{DEMO}/2/matrix")
    page.fill("#f-port", "8443")
    page.click("form.filters button[type=submit]")
    browsing.wait()
    assert "port=8443" in page.url
    assert cell(browsing, "shop", "payments").split() == ["1", "TCP", "8443"]
    assert page.locator('td[data-from="IPBlock"][data-to="shop"]').count() == 0
    browsing.open(f"#/c/{DEMO}/2/matrix?external=1")
    froms = set(
        page.locator("td[data-from]").evaluate_all(
            "cells => cells.map(c => c.dataset.from + '>' + c.dataset.to)"
        )
    )
    assert froms
    assert all("IPBlock" in pair for pair in froms)
    browsing.open(f"#/c/{DEMO}/2/matrix?namespace=payments")
    pairs = page.locator("td[data-from]").evaluate_all(
        "cells => cells.map(c => [c.dataset.from, c.dataset.to])"
    )
    assert pairs
    assert all("payments" in pair for pair in pairs)


def test_drill_down_reaches_the_pod_pair_with_the_keyboard(browsing: Browsing) -> None:
    page = browsing.open(f"#/c/{DEMO}/2/matrix")
    link = page.locator('td[data-from="shop"][data-to="payments"] a')
    link.focus()
    page.keyboard.press("Enter")
    browsing.wait()
    assert "/between/shop/payments" in page.url
    rows = page.locator("#pairs tr.pair")
    assert rows.count() == 1
    assert "shop/Deployment/api" in rows.first.inner_text()
    assert "payments/Deployment/gateway" in rows.first.inner_text()
    button = rows.first.locator("button", has_text="pod pairs")
    button.focus()
    page.keyboard.press("Enter")
    pods = page.locator("table.pod-pairs tbody tr")
    pods.first.wait_for()
    text = pods.first.inner_text()
    assert "shop/api-template" in text
    assert "payments/gateway-template" in text
    assert "TCP 8443" in text


def test_explain_shows_the_rule_that_admits_a_known_pair(browsing: Browsing) -> None:
    page = browsing.open(
        f"#/c/{DEMO}/2/explain?from=shop/Deployment/api&to=payments/Service/gateway&port=443"
    )
    assert page.locator("#verdict-state").inner_text() == "Allowed"
    rules = page.locator("a.rule-link")
    names = rules.all_inner_texts()
    assert "shop/api-to-gateway" in names
    assert "payments/gateway-from-shop-api" in names
    ingress = page.locator("a.rule-link", has_text="payments/gateway-from-shop-api")
    assert "spec.ingress%5B0%5D.from%5B0%5D" in (ingress.get_attribute("href") or "") or (
        "spec.ingress[0].from[0]" in (ingress.get_attribute("href") or "")
    )
    ingress.click()
    browsing.wait()
    assert "/object/NetworkPolicy/payments/gateway-from-shop-api" in page.url
    highlighted = page.locator("pre.yaml .line.hl").all_inner_texts()
    # v2's peer 0 of ingress rule 0: every namespace
    assert [line.strip() for line in highlighted] == ["- namespaceSelector: {}"]
    # v1's: pods labelled app=api in namespaces labelled team=shop
    page = browsing.open(
        f"#/c/{DEMO}/1/explain?from=shop/Deployment/api&to=payments/Service/gateway&port=443"
    )
    assert page.locator("#verdict-state").inner_text() == "Allowed"
    page.locator("a.rule-link", has_text="payments/gateway-from-shop-api").click()
    browsing.wait()
    joined = "\n".join(page.locator("pre.yaml .line.hl").all_inner_texts())
    assert "team: shop" in joined
    assert "app: api" in joined
    assert "ports" not in joined


def test_explain_a_denied_pair(browsing: Browsing) -> None:
    page = browsing.open(
        f"#/c/{DEMO}/2/explain?from=shop/Deployment/web&to=shop/StatefulSet/postgres&port=5432"
    )
    assert page.locator("#verdict-state").inner_text() == "Denied"
    assert "isolated" in page.locator(".side").nth(1).inner_text()


def test_diff_shows_the_added_connection_under_its_cause(
    browsing: Browsing, ui_server: object
) -> None:
    page = browsing.open(f"#/c/{DEMO}/diff?base=1&head=2")
    added = "kube-system/Deployment/coredns → payments/Deployment/gateway"
    groups = page.locator("#changes .change-group", has_text=added)
    assert groups.count() >= 1
    heading = groups.first.locator("h3").inner_text()
    with httpx.Client(base_url=browsing.server.base_url, timeout=30) as client:
        diff = client.get(
            f"/v1/clusters/{DEMO}/diff",
            params={"base": 1, "head": 2},
            headers={"Authorization": f"Bearer {browsing.server.token}"},
        ).json()
    change = next(c for c in diff["connections"]["added"] if c["from"]["name"] == "coredns")
    if change.get("causes"):
        # the server names the cause: the edited gateway policy
        assert "gateway-from-shop-api" in heading
    else:
        assert heading.startswith("Added connections")
    # highlights first, then the change matrix with the changed cell coloured
    text = page.locator("main").inner_text()
    assert text.index("Highlights") < text.index("Where it changed") < text.index("Changes")
    assert "added" in (
        page.locator('table.matrix td[data-from="kube-system"][data-to="payments"]').get_attribute(
            "class"
        )
        or ""
    )
    assert "changed" in (
        page.locator('table.matrix td[data-from="shop"][data-to="kube-system"]').get_attribute(
            "class"
        )
        or ""
    )
    # a cell narrows the list to its changes
    page.locator('table.matrix td[data-from="shop"][data-to="IPBlock"] a').click()
    listed = page.locator("#changes ul.changes li").all_inner_texts()
    assert listed
    assert all("shop/" in line and "0.0.0.0/0" in line for line in listed)


def test_diff_across_clusters(browsing: Browsing) -> None:
    page = browsing.open(f"#/diff?base={DEMO}@1&head={DEMO}@latest")
    assert "demo version 1 → demo version 2" in page.locator("main").inner_text()
    assert page.locator("#changes li.added").count() >= 2


def test_what_if_of_a_pasted_deletion(browsing: Browsing) -> None:
    page = browsing.open(f"#/c/{DEMO}/2/what-if")
    page.fill("#w-delete", "NetworkPolicy shop/api-from-web")
    page.click("main form button[type=submit]")
    page.wait_for_selector("#changes")
    removed = page.locator("#changes li.removed").all_inner_texts()
    assert any("shop/Deployment/web" in r and "shop/Deployment/api" in r for r in removed)


def test_lint_findings_with_fix_and_object_link(browsing: Browsing) -> None:
    page = browsing.open(f"#/c/{DEMO}/2/lint")
    findings = page.locator("article.finding.warning")
    assert findings.count() == 2
    first = findings.first.inner_text()
    assert "NR002" in first
    assert "Fix" in first
    assert "TCP, port: 53" in first
    findings.first.locator("a", has_text="shop/NetworkPolicy/").first.click()
    browsing.wait()
    assert "/object/NetworkPolicy/shop/" in page.url
    assert page.locator("pre.yaml .line").count() > 5


def test_graph_of_a_namespace(browsing: Browsing) -> None:
    page = browsing.open(f"#/c/{DEMO}/2/graph/shop")
    names = page.locator("svg.graph .node").evaluate_all("nodes => nodes.map(n => n.dataset.name)")
    assert {"shop/Deployment/api", "shop/Deployment/web", "shop/StatefulSet/postgres"} <= set(names)
    assert "@payments" in names
    api = page.locator('svg.graph .node[data-name="shop/Deployment/api"]')
    api.focus()
    panel = page.locator("#graph-panel").inner_text()
    assert "shop/StatefulSet/postgres" in panel
    assert "TCP 5432" in panel
    assert page.locator("svg.graph path.edge.hot").count() >= 2


def test_a_bad_token_shows_an_error_not_a_blank_page(browsing: Browsing) -> None:
    page = browsing.open("#/", token="nr_not-a-real-token")
    error = page.locator("main .error")
    assert error.get_attribute("data-status") == "401"
    assert "valid API token" in error.inner_text()
    assert "refused" in error.inner_text()
    page.goto(f"{browsing.server.base_url}/ui/#/c/{DEMO}/2/matrix")
    browsing.wait()
    assert page.locator("main .error").get_attribute("data-status") == "401"
    assert page.evaluate("() => document.activeElement.id") == "token-input"
    # no token at all: the same clear error
    page.click("#token-forget")
    browsing.wait()
    assert page.locator("main .error").get_attribute("data-status") == "401"


def test_a_token_without_access_and_a_missing_cluster_are_explained(browsing: Browsing) -> None:
    page = browsing.open("#/c/absent/latest/matrix")
    error = page.locator("main .error")
    assert error.get_attribute("data-status") == "404"
    assert "absent" in error.inner_text()
    page = browsing.open("#/no/such/page")
    assert "No such page" in page.locator("main").inner_text()


def test_the_token_stays_in_the_session_only(browsing: Browsing) -> None:
    page = browsing.open("#/", token="read")
    assert (
        page.evaluate("() => sessionStorage.getItem('netreach.token')")
        == browsing.server.read_token
    )
    assert page.evaluate("() => localStorage.length") == 0
    assert page.locator("section.cluster").count() >= 1


def test_light_and_dark(browsing: Browsing) -> None:
    page = browsing.open("#/")
    colours = {}
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        colours[scheme] = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert colours["light"] != colours["dark"]
    dark = [int(n) for n in re.findall(r"\d+", colours["dark"])[:3]]
    assert sum(dark) < 150


def test_every_page_stays_on_the_server(browsing: Browsing) -> None:
    """The fixture asserts that no request left the test server; here every page is visited."""
    for fragment in [
        "#/",
        f"#/c/{DEMO}/latest/matrix",
        f"#/c/{DEMO}/latest/between/IPBlock/shop",
        f"#/c/{DEMO}/latest/graph/shop",
        f"#/c/{DEMO}/latest/explain?from=shop/Deployment/web&to=8.8.8.8",
        f"#/c/{DEMO}/latest/object/NetworkPolicy/shop/api-from-web",
        f"#/c/{DEMO}/diff",
        f"#/c/{DEMO}/latest/lint",
        f"#/c/{DEMO}/latest/what-if",
    ]:
        page = browsing.open(fragment)
        assert page.locator("main").inner_text().strip()
        assert page.locator("main .error").count() == 0, fragment
    assert any("/connectivity/summary" in url for url in browsing.requests)
    assert all(url.startswith(browsing.server.base_url) for url in browsing.requests)
