"""Read every kind netreach analyses from a live cluster into one deterministic ``kind: List``.

Deterministic: the same cluster state gives the same bytes, so that pushing it again finds
the existing version instead of creating one. Items are sorted by kind (in the order of
:data:`~service.capture.resources.RESOURCES`), namespace and name; volatile fields are dropped
(:mod:`service.capture.slim`); keys are sorted when serialised.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from service.capture.errors import ForbiddenError
from service.capture.kube import Forbidden, KubeApi, NotServed
from service.capture.resources import KIND_ORDER, RESOURCES, Resource
from service.capture.slim import slim

DEFAULT_PAGE_SIZE = 500  # kubectl's chunk size


@dataclass
class Capture:
    """The captured objects (slimmed, sorted) and notes on what was not there to read."""

    items: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)

    def as_list(self) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "List", "items": self.items}

    def to_json(self) -> bytes:
        """Canonical JSON: sorted keys, one item per line (diffable, and the same bytes for
        the same cluster state)."""
        options = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
        lines = [orjson.dumps(item, option=options) for item in self.items]
        body = b",\n".join(lines)
        return b'{"apiVersion":"v1","kind":"List","items":[\n' + body + b"\n]}\n"

    def counts(self) -> dict[str, int]:
        counted = Counter(str(item.get("kind")) for item in self.items)
        return {kind: counted[kind] for kind in sorted(counted, key=KIND_ORDER.__getitem__)}

    def summary(self) -> str:
        counts = self.counts()
        listed = ", ".join(f"{n} {kind}" for kind, n in counts.items()) or "nothing"
        return f"captured {len(self.items)} objects: {listed}"


def capture(
    api: KubeApi,
    *,
    namespaces: Sequence[str] = (),
    page_size: int = DEFAULT_PAGE_SIZE,
    resources: Sequence[Resource] = RESOURCES,
) -> Capture:
    """Every object of ``resources`` the server serves; with ``namespaces``, the namespaced
    kinds of those namespaces only (and those Namespace objects), cluster-scoped kinds
    everywhere.

    Kinds the server does not serve are notes. A 403 on any kind fails the capture, after
    every kind was tried, with one :class:`ForbiddenError` naming all the rules missing: an
    analysis without, say, the AdminNetworkPolicies would be silently wrong.
    """
    notes: list[str] = []
    denials = []
    items: list[dict[str, Any]] = []
    wanted = list(dict.fromkeys(namespaces))
    served = _served(api, resources, notes)
    for resource in resources:
        if resource.plural not in served.get(resource.api_version, ()):
            continue

        def transform(body: dict[str, Any], resource: Resource = resource) -> dict[str, Any]:
            return slim(resource.kind, resource.api_version, body)

        def restarted(resource: Resource = resource) -> None:
            notes.append(
                f"the continue token of the {resource.plural} list expired; the list was "
                "restarted from its first page"
            )

        scopes: list[str | None] = [*wanted] if wanted and resource.namespaced else [None]
        try:
            if resource.kind == "Namespace" and wanted:
                for name in wanted:
                    found = api.get_namespace(name)
                    if found is None:
                        notes.append(f"namespace {name} does not exist")
                    else:
                        items.append(transform(found))
                continue
            for scope in scopes:
                items.extend(
                    api.list_objects(
                        resource,
                        scope,
                        page_size=page_size,
                        transform=transform,
                        on_restart=restarted,
                    )
                )
        except Forbidden as denied:
            denials.append(denied.denial)
        except NotServed:
            notes.append(f"{resource} is no longer served (removed since discovery)")
    if denials:
        raise ForbiddenError(denials)
    items.sort(key=_sort_key)
    return Capture(items, notes)


def _served(api: KubeApi, resources: Sequence[Resource], notes: list[str]) -> dict[str, set[str]]:
    """group/version -> the resources it serves, for the group/versions ``resources`` use."""
    served_versions = api.served_group_versions()
    served: dict[str, set[str]] = {}
    for resource in resources:
        version = resource.api_version
        if version not in served_versions:
            served.setdefault(version, set())
        elif version not in served:
            served[version] = api.served_resources(resource.group, resource.version)
        if resource.plural not in served[version]:
            notes.append(_not_served(resource))
    return served


def _not_served(resource: Resource) -> str:
    if resource.optional:
        return (
            f"{resource} is not served by this cluster (its CustomResourceDefinition is not "
            "installed): none captured"
        )
    return f"{resource} is not served by this cluster: none captured"


def _sort_key(item: dict[str, Any]) -> tuple[int, str, str]:
    metadata = item.get("metadata")
    if not isinstance(metadata, dict):
        return (KIND_ORDER[item["kind"]], "", "")
    return (
        KIND_ORDER[item["kind"]],
        str(metadata.get("namespace") or ""),
        str(metadata.get("name") or ""),
    )
