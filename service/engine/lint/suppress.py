"""Suppressions: ``CODE`` (everywhere), ``CODE:namespace/name``, ``CODE:namespace/Kind/name``
or ``CODE:namespace`` (every object of that namespace). Codes and names may use shell
wildcards (``NR00*``, ``CODE:kube-system/*``). A finding is suppressed when any of its
objects matches.

>>> s = Suppression.parse("NR003:shop/allow-*")
>>> s.matches("NR003", ObjectRef("NetworkPolicy", "shop", "allow-web"))
True
>>> s.matches("NR004", ObjectRef("NetworkPolicy", "shop", "allow-web"))
False
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass

from service.engine.lint.findings import CHECKS_BY_CODE, Finding
from service.engine.model import ObjectRef

_CODE = re.compile(r"[A-Za-z0-9*?\[\]]+\Z")


@dataclass(frozen=True, slots=True)
class Suppression:
    code: str
    target: str | None = None  # None: every object
    ref: ObjectRef | None = None  # an exact object (from an annotation on it)

    @classmethod
    def parse(cls, text: str) -> Suppression:
        code, _, target = text.strip().partition(":")
        code = code.strip().upper()
        if not _CODE.match(code):
            raise ValueError(f"suppression {text!r}: expected CODE or CODE:namespace/name")
        if not any(fnmatch.fnmatchcase(known, code) for known in CHECKS_BY_CODE):
            raise ValueError(
                f"suppression {text!r}: no check has code {code!r} "
                f"(codes: {', '.join(CHECKS_BY_CODE)})"
            )
        target = target.strip()
        if ":" in text and (not target or target.count("/") > 2):
            raise ValueError(f"suppression {text!r}: expected CODE:namespace/name")
        return cls(code, target or None)

    def matches(self, code: str, ref: ObjectRef) -> bool:
        if not fnmatch.fnmatchcase(code, self.code):
            return False
        if self.ref is not None:
            return ref == self.ref
        if self.target is None:
            return True
        parts = self.target.split("/")
        namespace = ref.name if ref.kind == "Namespace" else ref.namespace
        if len(parts) == 1:
            return fnmatch.fnmatchcase(namespace, parts[0])
        if len(parts) == 2:
            return fnmatch.fnmatchcase(namespace, parts[0]) and fnmatch.fnmatchcase(
                ref.name, parts[1]
            )
        return (
            fnmatch.fnmatchcase(namespace, parts[0])
            and fnmatch.fnmatchcase(ref.kind, parts[1])
            and fnmatch.fnmatchcase(ref.name, parts[2])
        )


def suppress(
    findings: Iterable[Finding], suppressions: Iterable[Suppression]
) -> tuple[list[Finding], list[Finding]]:
    """``(kept, suppressed)``."""
    rules = list(suppressions)
    kept: list[Finding] = []
    dropped: list[Finding] = []
    for finding in findings:
        hit = any(s.matches(finding.code, ref) for s in rules for ref in finding.objects)
        (dropped if hit else kept).append(finding)
    return kept, dropped
