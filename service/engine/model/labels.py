"""Labels and label selectors (metav1.LabelSelector).

A selector ANDs its ``matchLabels`` and every ``matchExpressions`` requirement; an empty
selector matches everything.

>>> sel = LabelSelector.of({"app": "web"}, [Requirement("tier", Operator.NOT_IN, ("db",))])
>>> sel.matches(Labels({"app": "web"})), sel.matches(Labels({"app": "web", "tier": "db"}))
(True, False)
>>> LabelSelector().matches(Labels({}))
True
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NoReturn


class Labels(dict[str, str]):
    """An immutable, hashable label map.

    A ``dict`` underneath so lookups run at C speed (selectors are matched hundreds of
    thousands of times per snapshot); every mutating method is refused.
    """

    __slots__ = ("_hash",)

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(items)
        self._hash: int | None = None

    def __hash__(self) -> int:  # type: ignore[override]
        if self._hash is None:
            self._hash = hash(frozenset(self.items()))
        return self._hash

    def _immutable(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("Labels are immutable")

    __setitem__ = _immutable
    __delitem__ = _immutable
    __ior__ = _immutable
    clear = _immutable
    pop = _immutable
    popitem = _immutable
    setdefault = _immutable
    update = _immutable

    def __repr__(self) -> str:
        return f"Labels({dict(self)!r})"

    def __reduce__(self) -> tuple[type[Labels], tuple[dict[str, str]]]:
        return (Labels, (dict(self),))

    def as_dict(self) -> dict[str, str]:
        return dict(self)


class Operator(StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


@dataclass(frozen=True, slots=True, order=True)
class Requirement:
    """One ``matchExpressions`` entry. ``values`` is empty for Exists/DoesNotExist."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.key)
        if self.operator is Operator.IN:
            return value is not None and value in self.values
        if self.operator is Operator.NOT_IN:
            # NotIn also matches objects that lack the key (apimachinery semantics).
            return value is None or value not in self.values
        if self.operator is Operator.EXISTS:
            return value is not None
        return value is None

    def __str__(self) -> str:
        if self.operator is Operator.EXISTS:
            return self.key
        if self.operator is Operator.DOES_NOT_EXIST:
            return f"!{self.key}"
        word = "in" if self.operator is Operator.IN else "notin"
        return f"{self.key} {word} ({','.join(self.values)})"


@dataclass(frozen=True, slots=True, order=True)
class LabelSelector:
    """``matchLabels`` (as sorted pairs) ANDed with ``matchExpressions``."""

    match_labels: tuple[tuple[str, str], ...] = field(default=())
    match_expressions: tuple[Requirement, ...] = field(default=())

    @classmethod
    def of(
        cls, labels: Mapping[str, str] | None = None, expressions: Iterable[Requirement] = ()
    ) -> LabelSelector:
        return cls(tuple(sorted((labels or {}).items())), tuple(expressions))

    @property
    def is_empty(self) -> bool:
        """An empty selector selects every object."""
        return not self.match_labels and not self.match_expressions

    def matches(self, labels: Mapping[str, str]) -> bool:
        for key, value in self.match_labels:
            if labels.get(key) != value:
                return False
        return all(req.matches(labels) for req in self.match_expressions)

    def requirements(self) -> Iterator[Requirement]:
        """Every condition as a Requirement (matchLabels become single-value In)."""
        for key, value in self.match_labels:
            yield Requirement(key, Operator.IN, (value,))
        yield from self.match_expressions

    def __str__(self) -> str:
        parts = [f"{k}={v}" for k, v in self.match_labels]
        parts += [str(r) for r in self.match_expressions]
        return ",".join(parts) if parts else "{} (all)"
