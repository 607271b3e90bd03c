"""Incremental compiles (what-if) against full ones: the same map at every granularity and
the same verdicts, whatever the change; and the full compile whenever a change would split
one of the base's classes or address pieces."""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.engine.compile import CompiledCluster, compile_cluster
from service.engine.connectivity import connectivity_map
from service.engine.incremental import Basis, head_map, recompile
from service.engine.model import (
    AdminPolicy,
    Cluster,
    ContainerPort,
    Direction,
    IPBlock,
    Labels,
    LabelSelector,
    Namespace,
    NetworkPolicy,
    Peer,
    Pod,
    PolicyPort,
    Protocol,
    Rule,
)
from service.engine.options import AnalysisOptions, Granularity
from service.engine.reachability import check
from service.report.verdict import verdict_to_api
from tests.engine.strategies import (
    admin_policies,
    clusters_with_admin,
    clusters_with_cluster_policies,
    has_ipv6,
    options_,
    policies,
    policy_ports,
    sample_addresses,
)

PROPERTY = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def changes(draw: st.DrawFn, base: Cluster) -> Cluster:
    """The base with NetworkPolicies and admin policies added, edited or deleted; edits
    either redraw a policy or change only what splits no class (ports, types, rules
    borrowed from another policy), so both paths are taken often."""
    names = tuple(n.name for n in base.namespaces)
    kept: list[NetworkPolicy] = []
    for policy in base.policies:
        action = draw(st.sampled_from(("keep", "keep", "delete", "redraw", "ports", "types")))
        if action == "delete":
            continue
        if action == "redraw":
            drawn = draw(policies(names, 0))
            policy = dataclasses.replace(drawn, namespace=policy.namespace, name=policy.name)
        elif action == "ports":
            ports = tuple(p for p in draw(st.lists(policy_ports(), max_size=2)) if p.port != "")
            rules = tuple(dataclasses.replace(r, ports=ports) for r in policy.ingress)
            policy = dataclasses.replace(policy, ingress=rules, egress=policy.egress[::-1])
        elif action == "types":
            types = draw(
                st.sampled_from(
                    (
                        frozenset({Direction.INGRESS}),
                        frozenset({Direction.EGRESS}),
                        frozenset({Direction.INGRESS, Direction.EGRESS}),
                    )
                )
            )
            others = [r for p in base.policies for r in (*p.ingress, *p.egress)]
            borrowed = tuple(draw(st.lists(st.sampled_from(others), max_size=2))) if others else ()
            policy = dataclasses.replace(policy, policy_types=types, egress=borrowed)
        kept.append(policy)
    for index in range(draw(st.integers(0, 2))):
        kept.append(draw(policies(names, 100 + index)))
    admin: list[AdminPolicy] = []
    for policy in base.admin_policies:
        action = draw(st.sampled_from(("keep", "keep", "delete", "priority", "redraw")))
        if action == "delete":
            continue
        if action == "priority" and not policy.baseline:
            policy = dataclasses.replace(policy, priority=draw(st.integers(0, 3)))
        elif action == "redraw":
            drawn = draw(admin_policies(names, 0, policy.baseline))
            policy = dataclasses.replace(drawn, name=policy.name)
        admin.append(policy)
    if draw(st.booleans()):
        admin.append(draw(admin_policies(names, 50, False)))
    order = draw(st.permutations(kept))
    return dataclasses.replace(base, policies=tuple(order), admin_policies=tuple(admin))


def verdicts(compiled: CompiledCluster, cluster: Cluster) -> list[object]:
    pods = [f"{p.namespace}/{p.name}" for p in cluster.pods]
    addresses = [str(a) for a in sample_addresses(cluster)][:6]
    found: list[object] = []
    for source in pods + addresses:
        for target in pods + addresses:
            if source in addresses and target in addresses:
                continue
            found.append(verdict_to_api(check(compiled, source, target)))
            found.append(verdict_to_api(check(compiled, source, target, port=80)))
    return found


def assert_same(
    base: CompiledCluster, basis: Basis, head: Cluster, options: AnalysisOptions
) -> None:
    increment = recompile(basis, head)
    assert increment is not None
    full = compile_cluster(head, options)
    for granularity in Granularity:
        base_map = connectivity_map(base, granularity)
        patched = head_map(basis, base_map, increment)
        expected = connectivity_map(full, granularity)
        assert patched.lookup() == expected.lookup(), granularity
        assert set(patched.endpoints) == set(expected.endpoints), granularity
    assert verdicts(increment.compiled, head) == verdicts(full, head)


@PROPERTY
@given(st.data(), st.one_of(clusters_with_admin(), clusters_with_cluster_policies()), options_)
def test_incremental_equals_full(
    data: st.DataObject, base: Cluster, options: AnalysisOptions
) -> None:
    head = data.draw(changes(base))
    compiled = compile_cluster(base, options)
    basis = Basis(compiled)
    increment = recompile(basis, head)
    if increment is None:
        return  # a full compile: nothing incremental to compare
    assert_same(compiled, basis, head, options)


@PROPERTY
@given(st.data(), clusters_with_admin(), options_)
def test_deleting_policies_keeps_the_classes(
    data: st.DataObject, base: Cluster, options: AnalysisOptions
) -> None:
    """Deletions introduce nothing: incremental (unless the last IPv6 address goes, which
    takes the IPv6 pieces with it), and exact."""
    policies_left = (
        data.draw(st.lists(st.sampled_from(base.policies), unique=True)) if base.policies else []
    )
    admin_left = (
        data.draw(st.lists(st.sampled_from(base.admin_policies), unique=True))
        if base.admin_policies
        else []
    )
    head = dataclasses.replace(
        base,
        policies=tuple(p for p in base.policies if p in policies_left),
        admin_policies=tuple(p for p in base.admin_policies if p in admin_left),
    )
    compiled = compile_cluster(base, options)
    basis = Basis(compiled)
    if has_ipv6(base) and not has_ipv6(head):
        assert recompile(basis, head) is None  # the IPv6 pieces go: compiled in full
        return
    assert_same(compiled, basis, head, options)


# --------------------------------------------------------------------------------------
# The fallback
# --------------------------------------------------------------------------------------

DEFAULT = Namespace("default", Labels({"kubernetes.io/metadata.name": "default"}))


def pod(name: str, ip: str, ports: tuple[ContainerPort, ...] = (), **labels: str) -> Pod:
    return Pod(
        namespace="default",
        name=name,
        labels=Labels(labels),
        ips=(ipaddress.ip_address(ip),),
        ports=ports,
    )


HTTP = (ContainerPort("http", 8080, Protocol.TCP),)
BASE = Cluster(
    namespaces=(DEFAULT,),
    pods=(
        pod("a", "10.0.0.1", HTTP, app="web", tier="front", canary="yes"),
        pod("b", "10.0.0.2", app="web", tier="back"),
        pod("c", "10.0.0.3", app="db"),
    ),
    policies=(
        NetworkPolicy(
            namespace="default",
            name="web",
            pod_selector=LabelSelector.of({"app": "web"}),
            policy_types=frozenset({Direction.INGRESS}),
            ingress=(
                Rule(
                    peers=(Peer(ip_block=IPBlock.parse("10.0.0.0/24")),),
                    ports=(PolicyPort(Protocol.TCP, 80),),
                ),
            ),
        ),
    ),
)


def edited(**changes: object) -> Cluster:
    policy = dataclasses.replace(BASE.policies[0], **changes)  # type: ignore[arg-type]
    return dataclasses.replace(BASE, policies=(policy,))


def ingress(peer: Peer, port: int | str = 80) -> tuple[Rule, ...]:
    return (Rule(peers=(peer,), ports=(PolicyPort(Protocol.TCP, port),)),)


@pytest.mark.parametrize(
    ("what", "head"),
    [
        ("a new label value", edited(pod_selector=LabelSelector.of({"tier": "front"}))),
        (
            "a new label key",
            edited(ingress=ingress(Peer(pod_selector=LabelSelector.of({"canary": "yes"})))),
        ),
        (
            "a new ipBlock boundary",
            edited(ingress=ingress(Peer(ip_block=IPBlock.parse("10.0.0.2/31")))),
        ),
        (
            "a new named port",
            edited(ingress=ingress(Peer(ip_block=IPBlock.parse("10.0.0.0/24")), "http")),
        ),
        ("a new IP version", edited(ingress=ingress(Peer(ip_block=IPBlock.parse("fd00::/8"))))),
        ("a new pod", dataclasses.replace(BASE, pods=(*BASE.pods, pod("d", "10.0.0.4")))),
    ],
)
def test_a_change_that_splits_a_class_is_compiled_in_full(what: str, head: Cluster) -> None:
    base = compile_cluster(BASE)
    assert recompile(Basis(base), head) is None, what
    full = compile_cluster(head)
    assert (full.class_count, len(full.pieces)) != (base.class_count, len(base.pieces)), what


def test_a_change_within_the_classes_is_incremental() -> None:
    """Known values, boundaries and ports, in new combinations: no full compile."""
    base = compile_cluster(BASE)
    head = edited(
        policy_types=frozenset({Direction.INGRESS, Direction.EGRESS}),
        egress=(
            *ingress(Peer(pod_selector=LabelSelector.of({"app": "web"})), 443),
            *ingress(Peer(ip_block=IPBlock.parse("10.0.0.0/24")), 53),
        ),
    )
    increment = recompile(Basis(base), head)
    assert increment is not None
    assert increment.compiled.classes is base.classes
    assert_same(base, Basis(base), head, AnalysisOptions())
