"""The analysis deadline: checked at coarse points only (per policy, per destination, per
source pod, per lint check, per distinct verdict of a diff), naming where it stopped."""

from __future__ import annotations

from typing import Any

import pytest

from service.engine.compile import compile_cluster
from service.engine.connectivity import connectivity_map
from service.engine.deadline import Deadline, DeadlineExceeded
from service.engine.lint import lint
from service.engine.model import Document, Origin
from service.engine.options import Granularity
from service.engine.reachability import check
from service.report.diff import DiffSide, iter_diff_json
from service.usecases.compare import diff_manifests
from service.usecases.manifests import Manifests, from_documents

PODS = 40
POLICIES = 12


class Clock:
    """A monotonic clock that stands still for ``ticks`` readings, then jumps far ahead."""

    def __init__(self, ticks: int | None = None) -> None:
        self.ticks = ticks
        self.readings = 0

    def __call__(self) -> float:
        self.readings += 1
        if self.ticks is not None and self.readings > self.ticks:
            return 1e9
        return 0.0


def deadline(ticks: int | None = None) -> tuple[Deadline, Clock]:
    clock = Clock(None if ticks is None else ticks + 1)  # + the reading that sets it
    return Deadline.after(5.0, clock), clock


def _manifests(policies: int = POLICIES) -> Manifests:
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}
    ]
    for i in range(PODS):
        objects.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"p{i}", "namespace": "a", "labels": {"app": f"x{i % 4}"}},
            "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}]}]},
            "status": {"podIP": f"10.0.0.{i + 1}"},
        })  # fmt: skip
    for i in range(policies):
        objects.append({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": f"np{i}", "namespace": "a"},
            "spec": {
                "podSelector": {"matchLabels": {"app": f"x{i % 4}"}},
                "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": f"x{(i + 1) % 4}"}}},
                                      {"ipBlock": {"cidr": f"192.168.{i}.0/24",
                                                   "except": [f"192.168.{i}.128/25"]}}]}],
            },
        })  # fmt: skip
    return from_documents([Document(Origin(None, i), o) for i, o in enumerate(objects)])


def test_compile_checks_once_per_policy_not_per_pod() -> None:
    cluster = _manifests().cluster
    budget, clock = deadline()
    compile_cluster(cluster, deadline=budget)
    # the reading that set it, one per stage (2) and one per policy
    assert clock.readings == 1 + 2 + POLICIES


def test_compile_stops_at_the_policy_where_time_ran_out() -> None:
    cluster = _manifests().cluster
    budget, _ = deadline(ticks=4)  # the stage check, then three policies
    with pytest.raises(DeadlineExceeded) as raised:
        compile_cluster(cluster, deadline=budget)
    assert raised.value.stage == "compile: NetworkPolicy a/np3"
    assert raised.value.budget == 5.0
    assert str(raised.value) == "compile: NetworkPolicy a/np3 exceeded the analysis budget of 5 s"


def test_a_map_checks_once_per_destination() -> None:
    compiled = compile_cluster(_manifests().cluster)
    budget, clock = deadline()
    full = connectivity_map(compiled, Granularity.POD, budget)
    assert clock.readings == 1 + compiled.peer_count + 1
    assert full.lookup() == connectivity_map(compiled, Granularity.POD).lookup()
    budget, _ = deadline(ticks=3)
    with pytest.raises(DeadlineExceeded) as raised:
        connectivity_map(compiled, Granularity.POD, budget)
    assert raised.value.stage == f"connectivity map (destination 4 of {compiled.peer_count})"


def test_reachability_checks_per_source_pod() -> None:
    compiled = compile_cluster(_manifests().cluster)
    budget, clock = deadline()
    verdict = check(compiled, "a/p1", "a/p2", port=80, deadline=budget)
    assert clock.readings == 2
    assert verdict == check(compiled, "a/p1", "a/p2", port=80)
    with pytest.raises(DeadlineExceeded) as raised:
        check(compiled, "a/p1", "a/p2", port=80, deadline=deadline(ticks=0)[0])
    assert raised.value.stage == "reachability a/p1 -> a/p2 (0 pairs done)"


def test_lint_checks_per_check() -> None:
    compiled = compile_cluster(_manifests().cluster)
    budget, _ = deadline()
    assert lint(compiled, deadline=budget) == lint(compiled)
    with pytest.raises(DeadlineExceeded) as raised:
        lint(compiled, deadline=deadline(ticks=1)[0])
    assert raised.value.stage.startswith("lint: NR")


def test_a_diff_stops_within_its_budget() -> None:
    base, head = _manifests(POLICIES), _manifests(POLICIES // 2)
    budget, _ = deadline()
    sides = DiffSide("base", {}), DiffSide("head", {})
    bounded = "".join(iter_diff_json(diff_manifests(base, head, deadline=budget), *sides))
    assert bounded == "".join(iter_diff_json(diff_manifests(base, head), *sides))
    assert '"removed":[{' in bounded  # there is something to compare
    checks = Clock()
    diff_manifests(base, head, deadline=Deadline.after(5.0, checks))
    for ticks in (3, checks.readings - 3):  # in a compile, then in the diff's own stages
        with pytest.raises(DeadlineExceeded) as raised:
            diff_manifests(base, head, deadline=deadline(ticks=ticks)[0])
        assert raised.value.stage.startswith("compile" if ticks == 3 else "diff")


def test_no_deadline_never_reads_a_clock() -> None:
    assert Deadline.none().at is None
    Deadline.none().check(lambda: pytest.fail("the stage is named only when time ran out"))
