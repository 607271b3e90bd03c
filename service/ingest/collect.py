"""Collecting decoded values into documents: ``kind: List`` flattening, limits, problems."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from service.engine.model import Document, ManifestError, Origin, Problem
from service.ingest.limits import Limits

MAX_PROBLEMS = 1000


class StopReading(Exception):  # noqa: N818 - a control-flow signal, not an error class
    """The current source cannot be read any further (syntax error, bad encoding)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class ItemLines(Protocol):
    """Line numbers of the items of a ``kind: List``, where the reader knows them."""

    def item(self, index: int) -> tuple[int | None, ItemLines | None]:
        """The first line of item ``index`` and the lines of its own items (if it is a List)."""
        ...


def type_name(value: object) -> str:
    """A JSON-ish name for a decoded value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a sequence"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def is_list(body: dict[str, Any]) -> bool:
    """``kind: List`` or any ``*List`` kind (``PodList``) whose ``items`` is a sequence."""
    kind = body.get("kind")
    if not (isinstance(kind, str) and kind.endswith("List")):
        return False
    items = body.get("items")
    return items is None or isinstance(items, list)


Transform = Callable[[dict[str, Any]], dict[str, Any]]


def _unchanged(body: dict[str, Any]) -> dict[str, Any]:
    return body


class Collector:
    """Accumulates documents and problems for one read, enforcing the document limit."""

    def __init__(
        self, limits: Limits, transform: Transform | None = None, *, skip_foreign: bool = False
    ) -> None:
        self.limits = limits
        self.transform: Transform = transform or _unchanged
        self.documents: list[Document] = []
        self.problems: list[Problem] = []
        # Files of a repository hold more than manifests (Helm values, CI configs): with
        # ``skip_foreign``, a mapping with neither apiVersion nor kind is skipped and
        # counted per source instead of being an error.
        self.skip_foreign = skip_foreign
        self.skipped: dict[str | None, int] = {}
        self.empty = 0  # empty YAML documents read: they count toward the document limit
        # What YAML aliases expanded to so far, summed over the documents of the read (each
        # document's anchors are its own, but their expansions add up).
        self.alias_expanded = 0  # nodes, as expanded
        self.alias_written = 0  # nodes, as written
        self.alias_bytes = 0  # scalar bytes, as expanded
        self.yaml_bytes = 0  # YAML text read by the exact reader

    def problem(self, problem: Problem) -> None:
        self.problems.append(problem)
        if len(self.problems) >= MAX_PROBLEMS:
            raise ManifestError(self.problems)

    def mark(self) -> tuple[int, int]:
        """A point to :meth:`rewind` to when a source is re-read in another format."""
        return len(self.documents), len(self.problems)

    def rewind(self, mark: tuple[int, int]) -> None:
        del self.documents[mark[0] :]
        del self.problems[mark[1] :]
        # empty documents are only counted by YAML, which is never rewound

    def check_empty(self, pending: int = 0) -> None:
        """Refuse the read once the empty documents (plus ``pending``) exceed their limit."""
        if self.empty + pending > self.limits.max_empty_documents:
            raise ManifestError(
                [
                    Problem(
                        f"more than {self.limits.max_empty_documents} empty documents (a bare "
                        "`---` is one)"
                    )
                ],
                too_large=True,
            )

    def check_count(self, pending: int = 0) -> None:
        """Refuse the read once the documents (plus ``pending`` still to come) exceed the limit."""
        count = len(self.documents) + self.empty + pending
        if count > self.limits.max_documents:
            raise ManifestError(
                [
                    Problem(
                        f"more than {self.limits.max_documents} documents (after List expansion)"
                    )
                ],
                too_large=True,
            )

    def add(
        self,
        value: object,
        origin: Origin,
        lines: ItemLines | None = None,
        *,
        items_transformed: bool = False,
    ) -> None:
        """Add one decoded document, flattening it if it is a List (whose items the reader
        may have passed through the transform already: ``items_transformed``)."""
        if not isinstance(value, dict):
            self.problem(
                Problem(
                    f"expected a mapping (a Kubernetes object), found {type_name(value)}",
                    origin=origin,
                )
            )
            return
        if is_list(value):
            self._flatten(value.get("items") or [], origin, lines, items_transformed)
        elif self.skip_foreign and "apiVersion" not in value and "kind" not in value:
            self.skipped[origin.source] = self.skipped.get(origin.source, 0) + 1
        else:
            self.documents.append(Document(origin, self.transform(value)))
            if len(self.documents) + self.empty > self.limits.max_documents:
                self.check_count()

    def _flatten(
        self,
        items: list[Any],
        origin: Origin,
        lines: ItemLines | None,
        transformed: bool = False,
    ) -> None:
        self.check_count(len(items))
        source, document, outer = origin.source, origin.document, origin.item
        append = self.documents.append
        transform = _unchanged if transformed else self.transform
        for index, item in enumerate(items):
            line, nested = lines.item(index) if lines is not None else (None, None)
            item_origin = Origin(source, document, index if outer is None else outer, line)
            if type(item) is dict:
                kind = item.get("kind")
                if type(kind) is str and kind.endswith("List") and is_list(item):
                    self._flatten(item.get("items") or [], item_origin, nested)
                else:
                    append(Document(item_origin, transform(item)))
            elif isinstance(item, dict):
                self.add(item, item_origin, nested)
            else:
                self.problem(
                    Problem(
                        "List item must be a mapping (a Kubernetes object), "
                        f"found {type_name(item)}",
                        origin=item_origin,
                    )
                )

    def warnings(self) -> list[str]:
        """One warning per source with skipped documents, naming it."""
        out = []
        for source, count in self.skipped.items():
            what = "document" if count == 1 else "documents"
            out.append(
                f"skipped {source or 'input'}: {count} {what} without apiVersion and kind "
                "(not a Kubernetes manifest)"
            )
        return out

    def finish(self) -> list[Document]:
        """The documents, or a ManifestError carrying every problem found."""
        if self.problems:
            raise ManifestError(self.problems)
        return self.documents
