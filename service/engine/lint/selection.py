"""Selectors that match nothing or the wrong things.

* NR003 a policy that selects no pod;
* NR004 a podSelector / namespaceSelector peer that matches nothing (with a did-you-mean),
  and an admin ``nodes`` peer that selects no Node;
* NR012 policies in a namespace absent from the snapshot;
* NR013 a policy that selects hostNetwork pods.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

from service.engine.compile import CompiledPolicy, nodes_selected
from service.engine.lint.context import (
    LintContext,
    listing,
    plural,
    rule_field,
    sorted_refs,
    subject_of,
)
from service.engine.lint.findings import Finding, Severity
from service.engine.model import Direction, LabelSelector, Operator, Peer
from service.engine.options import HostNetworkPods


def _close(word: str, options: Iterable[str]) -> list[str]:
    """The closest option to ``word`` (a likely typo), compared only with options of a
    similar length so that thousands of label values stay cheap."""
    near = sorted(o for o in options if abs(len(o) - len(word)) <= 2)
    return difflib.get_close_matches(word, near, n=1, cutoff=0.6)


def _hint(selector: LabelSelector, values: Mapping[str, set[str]], what: str) -> str:
    """Why ``selector`` matches nothing among objects with label ``values``, if one
    requirement alone explains it (with the closest existing key or value)."""
    for req in selector.requirements():
        if req.operator in (Operator.NOT_IN, Operator.DOES_NOT_EXIST):
            continue
        present = values.get(req.key)
        if present is None:
            close = _close(req.key, values)
            guess = f" (did you mean {close[0]!r}?)" if close else ""
            return f"no {what} has a label {req.key!r}{guess}"
        if req.operator is Operator.IN and not present.intersection(req.values):
            wanted = req.values[0]
            close = _close(wanted, present)
            guess = f"; did you mean {req.key}={close[0]}?" if close else ""
            seen = listing(sorted(present))
            return f"no {what} has {req.key}={wanted} (values seen: {seen}{guess})"
    return ""


def _merge(values: Iterable[Mapping[str, set[str]]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for per_key in values:
        for key, found in per_key.items():
            out.setdefault(key, set()).update(found)
    return out


def _selects_host_network(ctx: LintContext, policy: CompiledPolicy) -> list[object]:
    pods = ctx.host_network_pods.get(policy.policy.namespace, [])
    return [p for p in pods if policy.policy.pod_selector.matches(p.labels)]


def check_selects_nothing(ctx: LintContext) -> list[Finding]:
    findings: list[Finding] = []
    namespaces = ctx.compiled.namespaces
    for compiled in ctx.compiled.policies:
        if compiled.selected:
            continue
        policy = compiled.policy
        ns = namespaces.get(policy.namespace)
        in_namespace = ctx.compiled.class_bits_by_namespace.get(policy.namespace, 0)
        if (ns is None or not ns.declared) and not in_namespace:
            continue  # NR012 reports the namespace
        if _selects_host_network(ctx, compiled):
            continue  # NR013 reports it
        if not in_namespace:
            why = f"namespace {policy.namespace} has no pods in the snapshot"
        else:
            why = _hint(policy.pod_selector, ctx.label_values.get(policy.namespace, {}), "pod")
            why = why or "no pod matches every requirement"
        findings.append(
            Finding(
                code="NR003",
                severity=Severity.WARNING,
                message=(
                    f"{policy.ref} selects no pod: its podSelector [{policy.pod_selector}] "
                    f"matches none of namespace {policy.namespace} ({why}); it has no effect."
                ),
                objects=(policy.ref,),
                suggestion=(
                    "Fix the podSelector labels (compare with the pods' metadata.labels) or "
                    "the policy's namespace, or delete the policy."
                ),
                field="spec.podSelector",
            )
        )
    return findings


def _peer_problem(ctx: LintContext, peer: Peer, namespace: str) -> str:
    namespaces = ctx.compiled.namespaces
    if peer.namespace_selector is None:
        scope = [namespace]
    else:
        scope = [n.name for n in namespaces.values() if peer.namespace_selector.matches(n.labels)]
        if not scope:
            labels = _merge({k: {v} for k, v in n.labels.items()} for n in namespaces.values())
            why = _hint(peer.namespace_selector, labels, "namespace")
            return f"its namespaceSelector matches no namespace{f' ({why})' if why else ''}"
    where = f"namespace {scope[0]}" if len(scope) == 1 else f"namespaces {listing(scope)}"
    if peer.pod_selector is None:
        return f"{where} {'has' if len(scope) == 1 else 'have'} no pods in the snapshot"
    values = _merge(ctx.label_values.get(n, {}) for n in scope)
    if not values:
        return f"{where} {'has' if len(scope) == 1 else 'have'} no pods in the snapshot"
    why = _hint(peer.pod_selector, values, "pod")
    return f"its podSelector matches no pod of {where}{f' ({why})' if why else ''}"


def check_peers(ctx: LintContext) -> list[Finding]:
    findings: list[Finding] = []
    for compiled in ctx.compiled.policies:
        policy = compiled.policy
        for direction in (Direction.INGRESS, Direction.EGRESS):
            for rule in ctx.rules(compiled, direction):
                for j, peer_set in enumerate(rule.peer_sets):
                    peer = rule.rule.peers[j]
                    if peer_set or peer.ip_block is not None:
                        continue
                    problem = _peer_problem(ctx, peer, policy.namespace)
                    side = "from" if direction is Direction.INGRESS else "to"
                    findings.append(
                        Finding(
                            code="NR004",
                            severity=Severity.WARNING,
                            message=(
                                f"{policy.ref}: the {direction.value.lower()} peer "
                                f"{rule_field(rule, j)} ({peer}) matches nothing: {problem}. "
                                f"It admits no traffic {side} anyone."
                            ),
                            objects=(policy.ref,),
                            suggestion=(
                                "Fix the selector's labels (a typo?) so it matches the pods "
                                "or namespaces meant, or remove the peer."
                            ),
                            field=rule_field(rule, j),
                        )
                    )
    return findings


def check_node_peers(ctx: LintContext) -> list[Finding]:
    """NR004 for the admin tiers' ``nodes`` peers: a selector that selects no Node."""
    findings: list[Finding] = []
    nodes = ctx.compiled.cluster.nodes
    labels = _merge({k: {v} for k, v in n.labels.items()} for n in nodes)
    for policy in ctx.compiled.cluster.admin_policies:
        for index, rule in enumerate(policy.egress):
            for j, peer in enumerate(rule.peers):
                if peer.nodes is None or nodes_selected(nodes, peer.nodes):
                    continue
                if nodes:
                    why = _hint(peer.nodes, labels, "Node") or "no Node matches every requirement"
                else:
                    why = "the snapshot holds no Node objects"
                where = f"spec.egress[{index}].to[{j}]"
                findings.append(
                    Finding(
                        code="NR004",
                        severity=Severity.WARNING,
                        message=(
                            f"{policy}: the egress peer {where} (nodes [{peer.nodes}]) "
                            f"selects no Node ({why}), so it matches no address: rule "
                            f"{rule.name or index} ({rule.action.value}) never applies to it."
                        ),
                        objects=(policy.ref,),
                        suggestion=(
                            "Fix the node selector's labels (compare with the Nodes' "
                            "metadata.labels), or add the Node objects to the snapshot."
                        ),
                        field=f"{where}.nodes",
                    )
                )
    return findings


def check_absent_namespaces(ctx: LintContext) -> list[Finding]:
    findings: list[Finding] = []
    for name, policies in sorted(ctx.policies_by_namespace.items()):
        ns = ctx.compiled.namespaces.get(name)
        if ns is not None and ns.declared:
            continue
        refs = tuple(sorted_refs(p.policy.ref for p in policies))
        pods = ctx.compiled.class_bits_by_namespace.get(name, 0)
        tail = "" if pods else " and no pod"
        findings.append(
            Finding(
                code="NR012",
                severity=Severity.WARNING,
                message=(
                    f"namespace {name} is not in the snapshot (no Namespace object{tail}), yet "
                    f"{plural(len(refs), 'NetworkPolicy', 'NetworkPolicies')} "
                    f"{'is' if len(refs) == 1 else 'are'} in it: {listing(r.name for r in refs)}. "
                    "Its labels are unknown, so namespaceSelectors may be evaluated wrongly."
                ),
                objects=refs,
                suggestion=(
                    f"Add the Namespace {name} (with its labels) to the snapshot, or fix the "
                    "policies' metadata.namespace."
                ),
                field="metadata.namespace",
            )
        )
    return findings


def check_host_network(ctx: LintContext) -> list[Finding]:
    findings: list[Finding] = []
    if not ctx.host_network_pods:
        return findings
    as_pods = ctx.compiled.options.host_network_pods is HostNetworkPods.AS_PODS
    for compiled in ctx.compiled.policies:
        policy = compiled.policy
        matched = ctx.host_network_pods.get(policy.namespace, [])
        matched = [p for p in matched if policy.pod_selector.matches(p.labels)]
        if not matched:
            continue
        subjects = tuple(sorted_refs(subject_of(p) for p in matched))
        note = (
            " (analysed as ordinary pods because of --host-network-pods as-pods)" if as_pods else ""
        )
        findings.append(
            Finding(
                code="NR013",
                severity=Severity.WARNING,
                message=(
                    f"{policy.ref} selects {plural(len(matched), 'hostNetwork pod')} "
                    f"({listing(subjects)}): NetworkPolicies do not apply to pods on the host "
                    f"network in most network plugins, so they are not protected{note}."
                ),
                objects=(policy.ref,),
                suggestion=(
                    "Narrow the podSelector so it leaves out the hostNetwork pods, and protect "
                    "them with node-level firewalling instead."
                ),
                field="spec.podSelector",
                subjects=subjects[:20],
                subject_count=len(subjects),
            )
        )
    return findings
