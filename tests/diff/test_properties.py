"""Properties of the semantic diff over small random clusters.

* ``diff(a, a)`` is empty;
* ``diff(a, b).added == diff(b, a).removed`` (and changed swaps before and after);
* the diff agrees, pair by pair, with looking both maps up directly (external addresses
  probed at every boundary, so differently cut ranges are compared correctly);
* a cluster reduced to representative pods has the same workload and namespace maps.
"""

from __future__ import annotations

import dataclasses
import ipaddress

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.engine.compile import compile_cluster
from service.engine.connectivity import ConnectivityMap, Endpoint, connectivity_map
from service.engine.diff import ConnectivityDiff, diff_maps, dns_endpoints, reduced
from service.engine.model import AddressRange, Cluster, IPAddress, ObjectRef, PortSet
from service.engine.options import Granularity
from tests.engine.strategies import clusters, clusters_with_admin, policies, sample_addresses

GRANULARITIES = st.sampled_from(list(Granularity))
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def with_workloads(draw: st.DrawFn, admin: bool = False) -> Cluster:
    """A random cluster whose pods roll up to a few Deployments (or none); ``admin``: with
    admin tiers and Nodes."""
    cluster = draw(clusters_with_admin() if admin else clusters())
    pods = tuple(
        dataclasses.replace(
            pod,
            workload=None if (k := draw(st.integers(0, 2))) == 2
            else ObjectRef("Deployment", pod.namespace, f"w{k}"),
        )
        for pod in cluster.pods
    )  # fmt: skip
    return dataclasses.replace(cluster, pods=pods)


@st.composite
def pairs(draw: st.DrawFn) -> tuple[Cluster, Cluster]:
    """Two clusters: the same pods with other policies (a policy change), or unrelated."""
    a = draw(with_workloads())
    if draw(st.booleans()):
        names = tuple(n.name for n in a.namespaces)
        count = draw(st.integers(0, 4))
        kept = draw(st.lists(st.sampled_from(a.policies), unique=True)) if a.policies else []
        fresh = [draw(policies(names, 10 + i)) for i in range(count)]
        return a, dataclasses.replace(a, policies=(*kept, *fresh))
    return a, draw(with_workloads())


def _map(cluster: Cluster, granularity: Granularity) -> ConnectivityMap:
    return connectivity_map(compile_cluster(cluster), granularity)


def _diff(a: Cluster, b: Cluster, granularity: Granularity) -> ConnectivityDiff:
    ca, cb = compile_cluster(a), compile_cluster(b)
    return diff_maps(
        connectivity_map(ca, granularity),
        connectivity_map(cb, granularity),
        base_dns=dns_endpoints(ca, granularity),
        head_dns=dns_endpoints(cb, granularity),
    )


def _rows(diff: ConnectivityDiff) -> dict[str, set[tuple[object, ...]]]:
    e, p = diff.endpoints, diff.portsets
    return {
        "added": {
            (e[s], e[t], p[q])
            for s, t, q in zip(
                diff.added.sources, diff.added.targets, diff.added.ports, strict=True
            )
        },
        "removed": {
            (e[s], e[t], p[q])
            for s, t, q in zip(
                diff.removed.sources, diff.removed.targets, diff.removed.ports, strict=True
            )
        },
        "changed": {
            (e[s], e[t], p[b], p[a])
            for s, t, b, a in zip(
                diff.changed.sources,
                diff.changed.targets,
                diff.changed.before,
                diff.changed.after,
                strict=True,
            )
        },
    }


@SETTINGS
@given(with_workloads(), GRANULARITIES)
def test_diff_of_a_map_with_itself_is_empty(cluster: Cluster, granularity: Granularity) -> None:
    diff = _diff(cluster, cluster, granularity)
    assert diff.is_empty
    assert not any(diff.highlights.counts().values())


@SETTINGS
@given(pairs(), GRANULARITIES)
def test_added_one_way_is_removed_the_other(
    pair: tuple[Cluster, Cluster], granularity: Granularity
) -> None:
    forward, backward = _rows(_diff(*pair, granularity)), _rows(_diff(*pair[::-1], granularity))
    assert forward["added"] == backward["removed"]
    assert forward["removed"] == backward["added"]
    assert forward["changed"] == {(s, t, a, b) for s, t, b, a in backward["changed"]}


def _holds(endpoint: Endpoint, point: ObjectRef | IPAddress) -> bool:
    """Ranges may overlap (each endpoint's external peers are merged on their own)."""
    if isinstance(point, ObjectRef):
        return endpoint == point
    return isinstance(endpoint, AddressRange) and endpoint.contains(point)


def _ports(cmap: ConnectivityMap, s: ObjectRef | IPAddress, t: ObjectRef | IPAddress) -> PortSet:
    found = [c.ports for c in cmap.connections() if _holds(c.source, s) and _holds(c.target, t)]
    assert len(found) <= 1, f"two rows of one map hold {s} -> {t}"
    return found[0] if found else PortSet.empty()


@SETTINGS
@given(pairs(), GRANULARITIES)
def test_diff_agrees_with_looking_both_maps_up(
    pair: tuple[Cluster, Cluster], granularity: Granularity
) -> None:
    a, b = pair
    old, new = _map(a, granularity), _map(b, granularity)
    diff = diff_maps(old, new)
    rows = _rows(diff)
    refs = {e for e in (*old.endpoints, *new.endpoints) if isinstance(e, ObjectRef)}
    addresses = sorted(
        set(sample_addresses(a)) | set(sample_addresses(b)) | {ipaddress.ip_address("1.2.3.4")},
        key=lambda x: (x.version, int(x)),
    )
    points: list[ObjectRef | IPAddress] = [*sorted(refs), *addresses]
    for s in points:
        for t in points:
            if s == t or not (isinstance(s, ObjectRef) or isinstance(t, ObjectRef)):
                continue
            before, after = _ports(old, s, t), _ports(new, s, t)
            expected = (
                None
                if before == after
                else ("added" if not before else "removed" if not after else "changed")
            )
            actual = [
                (category, item[2] if category != "added" else PortSet.empty(),
                 item[-1] if category != "removed" else PortSet.empty())
                for category, items in rows.items()
                for item in items
                if _holds(item[0], s) and _holds(item[1], t)  # type: ignore[arg-type]
            ]  # fmt: skip
            if expected is None:
                assert not actual, (s, t, actual)
            else:
                assert actual == [(expected, before, after)], (s, t, before, after, actual)


@SETTINGS
@given(with_workloads(), st.sampled_from([Granularity.WORKLOAD, Granularity.NAMESPACE]))
def test_representative_pods_give_the_same_map(cluster: Cluster, granularity: Granularity) -> None:
    full, small = _map(cluster, granularity), _map(reduced(cluster, granularity), granularity)
    assert set(full.endpoints) == set(small.endpoints)
    assert full.lookup() == small.lookup()


@SETTINGS
@given(with_workloads(admin=True), st.sampled_from([Granularity.WORKLOAD, Granularity.NAMESPACE]))
def test_representative_pods_give_the_same_map_with_admin_tiers_and_nodes(
    cluster: Cluster, granularity: Granularity
) -> None:
    """The address space is cut where admin ``networks`` and node addresses cut it too."""
    full, small = _map(cluster, granularity), _map(reduced(cluster, granularity), granularity)
    assert set(full.endpoints) == set(small.endpoints)
    assert full.lookup() == small.lookup()
