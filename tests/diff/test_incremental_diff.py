"""The diff of an incremental what-if (the head compiled on the base's classes) against the
same diff computed in full: comparing only the rows towards the endpoints the change touched
gives the same diff as comparing every row, and the causes of every connection change are
the same, though the incremental side skips the verdicts its construction leaves
unchanged."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from service.engine.compile import CompiledCluster, compile_cluster
from service.engine.connectivity import connectivity_map
from service.engine.diff import (
    CauseSet,
    ConnectivityDiff,
    ObjectDiff,
    attribute,
    diff_maps,
    dns_endpoints,
)
from service.engine.diff.attribution import _same_inputs
from service.engine.diff.endpoint_changes import shares_classes
from service.engine.incremental import Basis, changed_targets, head_map, recompile
from service.engine.model import (
    Cluster,
    Direction,
    LabelSelector,
    NetworkPolicy,
    Peer,
    PolicyPort,
    Protocol,
    Rule,
)
from service.engine.options import AnalysisOptions, Granularity
from tests.engine.strategies import clusters_with_admin, clusters_with_cluster_policies, options_
from tests.engine.test_incremental import DEFAULT, PROPERTY, changes, pod


def _per_row(
    diff: ConnectivityDiff, base: CompiledCluster, head: CompiledCluster
) -> dict[str, list[CauseSet]]:
    causes = attribute(diff, base, head, ObjectDiff())
    return {
        category: [causes.sets[i] for i in getattr(causes, category).tolist()]
        for category in ("added", "removed", "changed")
    }


@PROPERTY
@given(
    st.data(),
    st.one_of(clusters_with_admin(), clusters_with_cluster_policies()),
    options_,
    st.sampled_from(list(Granularity)),
)
def test_causes_on_shared_classes_equal_the_full_compile(
    data: st.DataObject, base: Cluster, options: AnalysisOptions, granularity: Granularity
) -> None:
    head = data.draw(changes(base))
    compiled = compile_cluster(base, options)
    increment = recompile(Basis(compiled), head)
    if increment is None:
        return  # a full compile: nothing shared
    full = compile_cluster(head, options)
    assert shares_classes(compiled, increment.compiled)
    assert not shares_classes(compiled, full)
    diff = diff_maps(connectivity_map(compiled, granularity), connectivity_map(full, granularity))
    assert _per_row(diff, compiled, increment.compiled) == _per_row(diff, compiled, full)


def _flat(value: object) -> object:
    """A diff (or part of one) as plain values: numpy arrays as lists."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _flat(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


@PROPERTY
@given(
    st.data(),
    st.one_of(clusters_with_admin(), clusters_with_cluster_policies()),
    options_,
    st.sampled_from(list(Granularity)),
)
def test_comparing_only_the_touched_rows_is_comparing_all(
    data: st.DataObject, base: Cluster, options: AnalysisOptions, granularity: Granularity
) -> None:
    head = data.draw(changes(base))
    compiled = compile_cluster(base, options)
    basis = Basis(compiled)
    increment = recompile(basis, head)
    if increment is None:
        return
    base_map = connectivity_map(compiled, granularity)
    patched = head_map(basis, base_map, increment)
    targets = changed_targets(basis, base_map, increment)
    dns = {
        "base_dns": dns_endpoints(compiled, granularity),
        "head_dns": dns_endpoints(increment.compiled, granularity),
    }
    every_row = diff_maps(base_map, patched, **dns)
    assert _flat(diff_maps(base_map, patched, **dns, changed_targets=targets)) == _flat(every_row)


def _dns_policy(which: str, port: int) -> NetworkPolicy:
    return NetworkPolicy(
        namespace="default",
        name=f"dns-{which}",
        pod_selector=LabelSelector.of({"dns": which}),
        policy_types=frozenset({Direction.INGRESS}),
        ingress=(
            Rule(
                peers=(Peer(pod_selector=LabelSelector.of({})),),
                ports=(PolicyPort(Protocol.UDP, port),),
            ),
        ),
    )


def test_dns_still_reached_through_rows_not_compared_is_not_lost() -> None:
    """The client loses DNS on one kube-dns pod (a touched endpoint) and keeps it on the
    other, whose rows are not compared: not lost, as comparing every row says."""
    base = Cluster(
        namespaces=(DEFAULT,),
        pods=(
            pod("dns-a", "10.0.0.1", **{"k8s-app": "kube-dns", "dns": "a"}),
            pod("dns-b", "10.0.0.2", **{"k8s-app": "kube-dns", "dns": "b"}),
            pod("client", "10.0.0.3", app="client"),
        ),
        policies=(_dns_policy("a", 53), _dns_policy("b", 53)),
    )
    head = dataclasses.replace(base, policies=(_dns_policy("a", 5353), _dns_policy("b", 53)))
    compiled = compile_cluster(base)
    basis = Basis(compiled)
    increment = recompile(basis, head)
    assert increment is not None
    base_map = connectivity_map(compiled, Granularity.POD)
    patched = head_map(basis, base_map, increment)
    targets = changed_targets(basis, base_map, increment)
    assert targets is not None
    assert len(targets) == 1
    dns = dns_endpoints(compiled, Granularity.POD)
    every_row = diff_maps(base_map, patched, base_dns=dns, head_dns=dns)
    touched = diff_maps(base_map, patched, base_dns=dns, head_dns=dns, changed_targets=targets)
    assert len(every_row.changed) == 2  # client and dns-b towards dns-a: UDP 53 -> 5353
    lost = {every_row.endpoints[i].name for i in every_row.highlights.lost_dns}  # type: ignore[union-attr]
    assert lost == {"dns-b"}  # its only other kube-dns pod is dns-a; the client has dns-b
    assert _flat(touched) == _flat(every_row)


def test_a_policy_edit_on_a_base_never_evaluated_keeps_every_egress_side_known() -> None:
    """A base loaded from the cache directory has not built its tier tables yet: the head
    shares the base's (no admin policy changed), so the diff knows every egress side of an
    ingress-only edit unchanged instead of evaluating each one again."""
    base = Cluster(
        namespaces=(DEFAULT,),
        pods=(pod("a", "10.0.0.1", dns="a"), pod("b", "10.0.0.2", dns="b")),
        policies=(_dns_policy("a", 53),),
    )
    head = dataclasses.replace(base, policies=(_dns_policy("a", 5353),))
    compiled = compile_cluster(base)
    assert compiled._tiers is None  # as a fresh compile or a cached entry has it
    increment = recompile(Basis(compiled), head)
    assert increment is not None
    assert increment.compiled.admin_rules is compiled.admin_rules
    assert increment.compiled.baseline_rules is compiled.baseline_rules
    assert _same_inputs(compiled, increment.compiled, Direction.EGRESS).all()
    assert not _same_inputs(compiled, increment.compiled, Direction.INGRESS).all()
