"""Typed field access over decoded manifests.

Every getter takes the object being parsed (a :class:`Context`, which knows the document,
kind, namespace and name), reads one field, checks its JSON type and, when it is wrong,
records a :class:`Problem` with the exact field path and returns ``None`` so parsing can go
on and report every problem at once. ``null`` counts as absent, as in the API server.

Field paths are built only when a problem is reported (the hot path builds no strings):
getters take the parent's path and the key and join them on error.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from service.engine.model import Origin, Problem

if TYPE_CHECKING:
    from service.engine.parse.counts import CountLimits

_TYPE_NAMES: dict[type, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    list: "list",
    dict: "map",
    type(None): "null",
}


def type_name(value: object) -> str:
    """The JSON name of ``value``'s type, for "expected a list, got string"."""
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def join(prefix: str, key: str) -> str:
    """``spec`` + ``podSelector`` -> ``spec.podSelector``; an empty prefix is the root."""
    return f"{prefix}.{key}" if prefix else key


def item(prefix: str, index: int) -> str:
    return f"{prefix}[{index}]"


def map_key(prefix: str, key: str) -> str:
    """The path of one entry of a map field (``metadata.labels[app]``), as apimachinery."""
    return f"{prefix}[{key}]"


class Session:
    """State shared by one ``parse_documents`` call: the problems found so far, and caches of
    parsed values keyed by the raw value (frozen), since many objects share labels, selectors
    and ports. Only valid values are cached, so every invalid occurrence is reported."""

    __slots__ = (
        "container_ports",
        "counts",
        "label_keys",
        "label_values",
        "labels",
        "namespaces",
        "networks",
        "owners",
        "problems",
        "rules",
        "selectors",
        "service_ports",
        "strings",
    )

    def __init__(self, counts: CountLimits) -> None:
        self.counts = counts
        self.problems: list[Problem] = []
        self.strings: dict[str, str] = {}
        self.labels: dict[Hashable, Any] = {}
        self.label_keys: set[str] = set()
        self.label_values: set[str] = set()
        self.selectors: dict[Hashable, Any] = {}
        self.container_ports: dict[Hashable, Any] = {}
        self.service_ports: dict[Hashable, Any] = {}
        self.rules: dict[Hashable, Any] = {}
        self.networks: dict[Hashable, Any] = {}
        self.owners: dict[Hashable, Any] = {}
        self.namespaces: dict[str, tuple[str, list[str]]] = {}

    def intern(self, value: str) -> str:
        return self.strings.setdefault(value, value)


class Context:
    """The object being parsed: where problems about it are reported."""

    __slots__ = ("kind", "name", "namespace", "origin", "session")

    def __init__(self, session: Session, origin: Origin) -> None:
        self.session = session
        self.origin = origin
        self.kind: str | None = None
        self.namespace: str | None = None
        self.name: str | None = None

    def error(self, field: str | None, message: str) -> None:
        self.session.problems.append(
            Problem(message, self.origin, self.kind, self.namespace, self.name, field or None)
        )

    @property
    def problem_count(self) -> int:
        return len(self.session.problems)

    def wrong_type(self, path: str, expected: str, value: object) -> None:
        self.error(path, f"expected {expected}, got {type_name(value)}")

    def required(self, path: str) -> None:
        self.error(path, "is required")


def as_map(ctx: Context, value: object, path: str) -> dict[str, Any] | None:
    """``value`` itself if it is a map; None (after a problem unless it is null) otherwise."""
    if type(value) is dict:
        return value
    if value is not None:
        ctx.wrong_type(path, "a map", value)
    return None


def as_list(ctx: Context, value: object, path: str) -> list[Any] | None:
    if type(value) is list:
        return value
    if value is not None:
        ctx.wrong_type(path, "a list", value)
    return None


def as_str(ctx: Context, value: object, path: str) -> str | None:
    if type(value) is str:
        return value
    if value is not None:
        ctx.wrong_type(path, "a string", value)
    return None


def get_map(ctx: Context, obj: dict[str, Any], key: str, prefix: str) -> dict[str, Any] | None:
    value = obj.get(key)
    if value is None or type(value) is dict:
        return value
    ctx.wrong_type(join(prefix, key), "a map", value)
    return None


def get_list(ctx: Context, obj: dict[str, Any], key: str, prefix: str) -> list[Any] | None:
    value = obj.get(key)
    if value is None or type(value) is list:
        return value
    ctx.wrong_type(join(prefix, key), "a list", value)
    return None


def get_str(
    ctx: Context, obj: dict[str, Any], key: str, prefix: str, *, required: bool = False
) -> str | None:
    value = obj.get(key)
    if type(value) is str:
        if required and not value:
            ctx.required(join(prefix, key))
            return None
        return value
    if value is None:
        if required:
            ctx.required(join(prefix, key))
        return None
    ctx.wrong_type(join(prefix, key), "a string", value)
    return None


def get_int(
    ctx: Context, obj: dict[str, Any], key: str, prefix: str, *, required: bool = False
) -> int | None:
    value = obj.get(key)
    if type(value) is int:
        return value
    if value is None:
        if required:
            ctx.required(join(prefix, key))
        return None
    ctx.wrong_type(join(prefix, key), "an integer", value)
    return None


def get_bool(ctx: Context, obj: dict[str, Any], key: str, prefix: str) -> bool | None:
    value = obj.get(key)
    if value is None or type(value) is bool:
        return value
    ctx.wrong_type(join(prefix, key), "a boolean", value)
    return None


def freeze(value: Any) -> Hashable:
    """A hashable stand-in for a decoded JSON value, usable as a cache key.

    Maps and lists are tagged so that ``{"a": "b"}`` and ``[["a", "b"]]`` differ, and every
    scalar except ``str`` and ``int`` carries its type so that ``True`` and ``1.0`` never
    collide with ``1``.
    """
    kind = type(value)
    if kind is str or kind is int:
        return value  # type: ignore[no-any-return]
    if kind is dict:
        for v in value.values():
            t = type(v)
            if t is not str and t is not int:
                return ("{", tuple([(k, freeze(v)) for k, v in value.items()]))
        return ("{", tuple(value.items()))
    if kind is list:
        return ("[", tuple([freeze(v) for v in value]))
    if isinstance(value, Hashable):
        return (kind.__name__, value)
    return (kind.__name__, id(value))
