"""Lint: the NetworkPolicy mistakes people really make, each explained with a fix.

``lint(compiled)`` runs every check over a compiled cluster (pod classes and bitsets, never
pairs of pods) and returns findings in a deterministic order. Codes are stable (see
:data:`CHECKS`); :func:`suppress` filters findings by code and object.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from service.engine.compile import CompiledCluster
from service.engine.deadline import NO_DEADLINE, Deadline
from service.engine.lint.admin import (
    check_admin_rules,
    check_ambiguous_priorities,
    check_domain_names,
)
from service.engine.lint.context import LintContext
from service.engine.lint.dns import check_dns
from service.engine.lint.exposure import check_allow_all, check_ipblocks, check_unprotected
from service.engine.lint.findings import CHECKS, CHECKS_BY_CODE, Check, Finding, Severity
from service.engine.lint.ports import check_named_ports, check_services
from service.engine.lint.redundancy import check_redundancy
from service.engine.lint.selection import (
    check_absent_namespaces,
    check_host_network,
    check_node_peers,
    check_peers,
    check_selects_nothing,
)
from service.engine.lint.suppress import Suppression, suppress

__all__ = [
    "CHECKS",
    "CHECKS_BY_CODE",
    "Check",
    "Finding",
    "Severity",
    "Suppression",
    "lint",
    "suppress",
]

_RUNNERS: tuple[tuple[frozenset[str], Callable[[LintContext], list[Finding]]], ...] = (
    (frozenset({"NR001", "NR002"}), check_dns),
    (frozenset({"NR003"}), check_selects_nothing),
    (frozenset({"NR004"}), check_peers),
    (frozenset({"NR004"}), check_node_peers),
    (frozenset({"NR005"}), check_named_ports),
    (frozenset({"NR006", "NR007"}), check_redundancy),
    (frozenset({"NR008"}), check_unprotected),
    (frozenset({"NR009"}), check_allow_all),
    (frozenset({"NR010"}), check_ipblocks),
    (frozenset({"NR011"}), check_services),
    (frozenset({"NR012"}), check_absent_namespaces),
    (frozenset({"NR013"}), check_host_network),
    (frozenset({"NR014", "NR016"}), check_admin_rules),
    (frozenset({"NR015"}), check_ambiguous_priorities),
    (frozenset({"NR017", "NR018"}), check_domain_names),
)


def lint(
    compiled: CompiledCluster,
    *,
    codes: Collection[str] | None = None,
    deadline: Deadline = NO_DEADLINE,
) -> list[Finding]:
    """Every finding of the checks in ``codes`` (default: all), sorted by code then object
    (``deadline`` checked before each check)."""
    ctx = LintContext(compiled)
    findings: list[Finding] = []
    for produced, run in _RUNNERS:
        if codes is not None and not produced.intersection(codes):
            continue
        deadline.check(lambda: f"lint: {'/'.join(sorted(produced))}")  # noqa: B023  (called now)
        findings.extend(f for f in run(ctx) if codes is None or f.code in codes)
    findings.sort(key=Finding.sort_key)
    return findings
