"""``metadata``: name, namespace, labels and the controlling ownerReference."""

from __future__ import annotations

from typing import Any

from service.engine.model import DEFAULT_NAMESPACE, Labels, OwnerLink
from service.engine.parse.fields import Context, as_map, get_list, get_map, get_str, item, join
from service.engine.parse.labels import EMPTY_LABELS, parse_labels
from service.engine.parse.validation import DNS1123_SUBDOMAIN, NameRule, dns1123_label_errors


class Metadata:
    """The parts of ``metadata`` the engine uses. ``namespace`` is None for cluster-scoped
    kinds. ``valid`` is False when the name is missing or invalid (the object is dropped)."""

    __slots__ = ("labels", "name", "namespace", "raw", "valid")

    def __init__(
        self,
        name: str,
        namespace: str | None,
        labels: Labels,
        raw: dict[str, Any],
        valid: bool,
    ) -> None:
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.raw = raw
        self.valid = valid


def parse_metadata(
    ctx: Context,
    body: dict[str, Any],
    *,
    namespaced: bool = True,
    name_rule: NameRule = DNS1123_SUBDOMAIN,
) -> Metadata:
    """Read name and namespace first (so later problems name the object), then labels.

    Sets ``ctx.namespace``/``ctx.name``. A missing or empty namespace is ``default``.
    """
    raw = body.get("metadata")
    if type(raw) is not dict:
        if raw is None:
            ctx.required("metadata.name")
        else:
            get_map(ctx, body, "metadata", "")
        return Metadata("", None, EMPTY_LABELS, {}, False)
    namespace_errors: list[str] = []
    namespace: str | None = None
    if namespaced:
        namespace = raw.get("namespace")
        if type(namespace) is not str:
            namespace = get_str(ctx, raw, "namespace", "metadata")
        known = ctx.session.namespaces.get(namespace or DEFAULT_NAMESPACE)
        if known is None:
            known = _new_namespace(ctx, namespace or DEFAULT_NAMESPACE)
        namespace, namespace_errors = known
        ctx.namespace = namespace
    name = raw.get("name")
    if type(name) is not str or not name:
        name = get_str(ctx, raw, "name", "metadata", required=True)
    ctx.name = name
    for message in namespace_errors:
        ctx.error("metadata.namespace", f'invalid namespace "{namespace}": {message}')
    valid = name is not None
    if name is not None and (
        len(name) > name_rule.max_len or name_rule.pattern.fullmatch(name) is None
    ):
        for message in name_rule.errors(name):
            ctx.error("metadata.name", f'invalid name "{name}": {message}')
        valid = False
    labels = raw.get("labels")
    labels = EMPTY_LABELS if labels is None else parse_labels(ctx, labels, "metadata.labels")
    return Metadata(name or "", namespace, labels, raw, valid)


def _new_namespace(ctx: Context, namespace: str) -> tuple[str, list[str]]:
    """Validate a namespace name once per session; the interned name and its problems."""
    known = ctx.session.namespaces[namespace] = (
        ctx.session.intern(namespace),
        dns1123_label_errors(namespace),
    )
    return known


def parse_owner(ctx: Context, raw: dict[str, Any]) -> OwnerLink | None:
    """The ownerReference with ``controller: true``, else the first one (from the raw
    ``metadata``)."""
    refs = raw.get("ownerReferences")
    if not refs:
        if refs is not None:
            get_list(ctx, raw, "ownerReferences", "metadata")
        return None
    if type(refs) is list and len(refs) == 1:  # fast path: the usual single controller
        ref = refs[0]
        if type(ref) is dict:
            kind, name, controller = ref.get("kind"), ref.get("name"), ref.get("controller")
            if (
                type(kind) is str
                and kind
                and type(name) is str
                and name
                and (controller is None or type(controller) is bool)
            ):
                link = ctx.session.owners.get((kind, name))
                return _owner_link(ctx, kind, name) if link is None else link
    refs = get_list(ctx, raw, "ownerReferences", "metadata")
    if not refs:
        return None
    chosen: OwnerLink | None = None
    first: OwnerLink | None = None
    for index, value in enumerate(refs):
        path = item("metadata.ownerReferences", index)
        entry = as_map(ctx, value, path)
        if entry is None:
            if value is None:
                ctx.required(path)
            continue
        kind = get_str(ctx, entry, "kind", path, required=True)
        name = get_str(ctx, entry, "name", path, required=True)
        controller = entry.get("controller")
        if controller is not None and type(controller) is not bool:
            ctx.wrong_type(join(path, "controller"), "a boolean", controller)
        if kind is None or name is None:
            continue
        link = _owner_link(ctx, kind, name)
        if first is None:
            first = link
        if controller is True and chosen is None:
            chosen = link
    return chosen or first


def _owner_link(ctx: Context, kind: str, name: str) -> OwnerLink:
    owners = ctx.session.owners
    key = (kind, name)
    link = owners.get(key)
    if link is None:
        link = owners[key] = OwnerLink(ctx.session.intern(kind), ctx.session.intern(name))
    return link
