"""Indexes shared by the checks, built once per lint run from a compiled cluster."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property

from service.engine import bitsets
from service.engine.compile import CompiledCluster, CompiledPolicy, CompiledRule
from service.engine.model import Direction, ObjectRef, Pod

SAMPLE = 20  # affected pods or workloads listed per finding


def ref_key(ref: ObjectRef) -> tuple[str, str, str]:
    """Sort key of an ObjectRef (the dataclass ordering is slow for large sorts)."""
    return (ref.kind, ref.namespace, ref.name)


def sorted_refs(refs: Iterable[ObjectRef]) -> list[ObjectRef]:
    """Distinct refs, sorted."""
    return sorted(set(refs), key=ref_key)


def subject_of(pod: Pod) -> ObjectRef:
    """What a pod is reported as: its workload, or itself when it has none."""
    return pod.workload if pod.workload is not None else pod.ref


def rule_field(rule: CompiledRule, peer: int | None = None) -> str:
    side = "ingress" if rule.direction is Direction.INGRESS else "egress"
    path = f"spec.{side}[{rule.index}]"
    if peer is not None:
        path += f".{'from' if rule.direction is Direction.INGRESS else 'to'}[{peer}]"
    return path


def plural(count: int, noun: str, many: str | None = None) -> str:
    return f"{count} {noun if count == 1 else (many or noun + 's')}"


def listing(items: Iterable[object], limit: int = 5) -> str:
    """``a, b and c`` (``a, b, c and 4 more`` past ``limit``)."""
    names = [str(i) for i in items]
    if len(names) > limit:
        return ", ".join(names[:limit]) + f" and {len(names) - limit} more"
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


class LintContext:
    def __init__(self, compiled: CompiledCluster) -> None:
        self.compiled = compiled
        self.classes = compiled.classes
        self.all_classes = compiled.all_classes
        self.all_peers = compiled.all_peers
        self.pieces = self.all_peers & ~self.all_classes
        self.exempt = bitsets.from_indices(c.index for c in compiled.classes if c.exempt)
        self.subject_classes = self.all_classes & ~self.exempt

    # -- policies -------------------------------------------------------------------------
    @staticmethod
    def rules(policy: CompiledPolicy, direction: Direction) -> tuple[CompiledRule, ...]:
        """The rules of ``direction`` that count: none when the policy is not of that type."""
        if direction not in policy.policy.policy_types:
            return ()
        return policy.rules(direction)

    @cached_property
    def policies_by_namespace(self) -> dict[str, list[CompiledPolicy]]:
        out: dict[str, list[CompiledPolicy]] = {}
        for policy in self.compiled.policies:
            out.setdefault(policy.policy.namespace, []).append(policy)
        return out

    # -- affected pods --------------------------------------------------------------------
    @cached_property
    def class_subjects(self) -> list[tuple[ObjectRef, ...]]:
        pods = self.compiled.pods
        return [tuple(dict.fromkeys(subject_of(pods[i]) for i in cls.pods)) for cls in self.classes]

    def subjects(self, class_bits: int) -> tuple[tuple[ObjectRef, ...], int]:
        """A sorted sample of the workloads / pods in ``class_bits``, and their number."""
        return self.subjects_of(bitsets.indices(class_bits & self.all_classes).tolist())

    def subjects_of(self, classes: Iterable[int]) -> tuple[tuple[ObjectRef, ...], int]:
        found: set[ObjectRef] = set()
        per_class = self.class_subjects
        for c in classes:
            found.update(per_class[c])
        return tuple(sorted(found, key=ref_key)[:SAMPLE]), len(found)

    @cached_property
    def host_network_pods(self) -> dict[str, list[Pod]]:
        out: dict[str, list[Pod]] = {}
        for pod in self.compiled.pods:
            if pod.host_network:
                out.setdefault(pod.namespace, []).append(pod)
        return out

    @cached_property
    def label_values(self) -> dict[str, dict[str, set[str]]]:
        """namespace -> label key -> the values pods of that namespace have."""
        out: dict[str, dict[str, set[str]]] = {}
        for pod in self.compiled.pods:
            keys = out.setdefault(pod.namespace, {})
            for key, value in pod.labels.items():
                keys.setdefault(key, set()).add(value)
        return out
