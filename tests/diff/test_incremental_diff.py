"""The diff of an incremental what-if (the head compiled on the base's classes) against the
same diff with the head compiled in full: the causes of every connection change are the
same, though the incremental side skips the verdicts its construction leaves unchanged."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from service.engine.compile import CompiledCluster, compile_cluster
from service.engine.connectivity import connectivity_map
from service.engine.diff import CauseSet, ConnectivityDiff, ObjectDiff, attribute, diff_maps
from service.engine.diff.endpoint_changes import shares_classes
from service.engine.incremental import Basis, recompile
from service.engine.model import Cluster
from service.engine.options import AnalysisOptions, Granularity
from tests.engine.strategies import clusters_with_admin, clusters_with_cluster_policies, options_
from tests.engine.test_incremental import PROPERTY, changes


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
