"""Filters that name something (a kind, a namespace): absent names are a NotFoundError
with suggestions, never a silent empty answer; kinds match case-insensitively."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from service.usecases.errors import NotFoundError


def suggestions(given: str, known: Iterable[str], count: int = 3) -> list[str]:
    """The known names closest to ``given`` (case-insensitive).

    >>> suggestions("shpo", ["shop", "db", "monitoring"])
    ['shop']
    """
    by_lower = {name.lower(): name for name in known}
    close = difflib.get_close_matches(given.lower(), list(by_lower), n=count, cutoff=0.6)
    return [by_lower[name] for name in close]


def _absent(what: str, given: str, known: Iterable[str], where: str, field: str) -> NotFoundError:
    names = sorted(set(known))
    close = suggestions(given, names)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return NotFoundError(
        f"{where} has no {what} {given!r}{hint}",
        [{"field": field, "loc": field.split("."), "input": given, "suggestions": close}],
    )


def match_kind(given: str, kinds: Iterable[str], where: str, field: str = "query.kind") -> str:
    """The kind of ``kinds`` that ``given`` names, whatever its case."""
    known = list(kinds)
    for kind in known:
        if kind.lower() == given.lower():
            return kind
    raise _absent("object of kind", given, known, where, field)


def require_name(what: str, given: str, known: Iterable[str], where: str, field: str) -> None:
    """``given`` is one of ``known`` (exactly: Kubernetes names are lower case)."""
    names = set(known)
    if given not in names:
        raise _absent(what, given, names, where, field)
