"""Documents: decoded manifests, with where they came from (for error messages and SARIF)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a document came from: file (None for a request body), its index in the stream,
    the item index inside a ``kind: List``, and its first line when known (1-based)."""

    source: str | None
    document: int
    item: int | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        where += f"document {self.document}"
        if self.item is not None:
            where += f" item {self.item}"
        if self.line is not None:
            where += f" (line {self.line})"
        return where


@dataclass(frozen=True, slots=True)
class Document:
    """One Kubernetes object as decoded JSON/YAML, with its origin."""

    origin: Origin
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the input, located as precisely as we can: the document, the
    object (kind, namespace/name) and the field path (``spec.ingress[0].ports[1].endPort``)."""

    message: str
    origin: Origin | None = None
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    field: str | None = None

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message}
        if self.origin is not None:
            if self.origin.source is not None:
                out["source"] = self.origin.source
            out["document"] = self.origin.document
            if self.origin.item is not None:
                out["item"] = self.origin.item
            if self.origin.line is not None:
                out["line"] = self.origin.line
        for key in ("kind", "namespace", "name", "field"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    def __str__(self) -> str:
        parts = []
        if self.origin is not None:
            parts.append(str(self.origin))
        if self.kind:
            obj = self.kind
            if self.name:
                obj += " " + (f"{self.namespace}/{self.name}" if self.namespace else self.name)
            parts.append(obj)
        if self.field:
            parts.append(self.field)
        return ": ".join([*parts, self.message])


class ManifestError(ValueError):
    """The input cannot be accepted; ``problems`` says where and why (at least one)."""

    def __init__(self, problems: list[Problem], *, too_large: bool = False) -> None:
        self.problems = problems
        self.too_large = too_large
        super().__init__("; ".join(str(p) for p in problems[:5]))
