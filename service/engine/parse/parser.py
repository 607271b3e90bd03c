"""Documents -> model objects: dispatch by kind, duplicate detection, warnings, problems."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from service.engine.model import (
    ADMIN_KIND,
    BASELINE_KIND,
    CLUSTER_KIND,
    NODE_KIND,
    WORKLOAD_KINDS,
    AdminPolicy,
    Document,
    LivePod,
    ManifestError,
    Namespace,
    NetworkPolicy,
    Node,
    ObjectRef,
    Origin,
    Problem,
    Service,
    Workload,
)
from service.engine.parse.admin import parse_admin_policy
from service.engine.parse.cluster_policy import parse_cluster_policy
from service.engine.parse.counts import CountLimits
from service.engine.parse.fields import Context, Session, get_map, get_str, type_name
from service.engine.parse.metadata import Metadata, parse_metadata
from service.engine.parse.namespaces import parse_namespace
from service.engine.parse.nodes import parse_node
from service.engine.parse.pods import parse_pod
from service.engine.parse.policies import parse_policy
from service.engine.parse.result import ParsedObjects
from service.engine.parse.services import parse_service
from service.engine.parse.validation import (
    DNS1035_LABEL,
    DNS1123_LABEL,
    api_version_errors,
    kind_errors,
)
from service.engine.parse.workloads import parse_workload

MAX_PROBLEMS = 1000
ADMIN_API_VERSION = "policy.networking.k8s.io/v1alpha1"
CLUSTER_API_VERSION = "policy.networking.k8s.io/v1alpha2"
MAX_LISTED = 20

# The apiVersion each supported kind is read at.
API_VERSIONS: dict[str, str] = {
    "Namespace": "v1",
    NODE_KIND: "v1",
    "Pod": "v1",
    "Service": "v1",
    "ReplicationController": "v1",
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "ReplicaSet": "apps/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
    "NetworkPolicy": "networking.k8s.io/v1",
    ADMIN_KIND: ADMIN_API_VERSION,
    BASELINE_KIND: ADMIN_API_VERSION,
    CLUSTER_KIND: CLUSTER_API_VERSION,
}


class _Collector:
    def __init__(self) -> None:
        self.namespaces: list[Namespace] = []
        self.pods: list[LivePod] = []
        self.workloads: list[Workload] = []
        self.services: list[Service] = []
        self.policies: list[NetworkPolicy] = []
        self.admin_policies: list[AdminPolicy] = []
        self.nodes: list[Node] = []
        self.refs: list[tuple[ObjectRef, Origin]] = []
        self.seen: dict[tuple[str, str, str], Origin] = {}
        self.unsupported: Counter[str] = Counter()
        self.not_running: list[str] = []


def parse_documents(
    documents: Sequence[Document], counts: CountLimits | None = None
) -> ParsedObjects:
    """Read every document; raise one :class:`ManifestError` listing every problem found
    (at most ``MAX_PROBLEMS``, then a count of the rest). ``counts``: netreach's limits on
    a NetworkPolicy's items (default: :class:`CountLimits`' defaults)."""
    session = Session(counts or CountLimits())
    out = _Collector()
    ctx = Context(session, Origin(None, 0))
    for document in documents:
        ctx.origin = document.origin  # one context, reset per document
        ctx.kind = ctx.namespace = ctx.name = None
        _parse_document(ctx, out, document.body)
    if session.problems:
        raise ManifestError(_capped(session.problems))
    return ParsedObjects(
        namespaces=tuple(out.namespaces),
        pods=tuple(out.pods),
        workloads=tuple(out.workloads),
        services=tuple(out.services),
        policies=tuple(out.policies),
        admin_policies=tuple(out.admin_policies),
        nodes=tuple(out.nodes),
        warnings=tuple(_warnings(out)),
        refs=tuple(out.refs),
    )


def _capped(problems: list[Problem]) -> list[Problem]:
    if len(problems) <= MAX_PROBLEMS:
        return problems
    rest = len(problems) - MAX_PROBLEMS
    return [*problems[:MAX_PROBLEMS], Problem(f"{rest} more problems not shown")]


def _parse_document(ctx: Context, out: _Collector, body: Any) -> None:
    if type(body) is not dict:
        ctx.error(None, f"expected an object (a map), got {type_name(body)}")
        return
    raw_kind = body.get("kind")
    api_version: str | None = body.get("apiVersion")
    expected = API_VERSIONS.get(raw_kind) if type(raw_kind) is str else None
    if expected is not None and api_version == expected:  # the fast path
        kind: str = raw_kind  # type: ignore[assignment]
    else:
        checked_kind = _type_field(ctx, body, "kind", kind_errors)
        ctx.kind = checked_kind
        api_version = _type_field(ctx, body, "apiVersion", api_version_errors)
        if checked_kind is None:
            return
        kind = checked_kind
        expected = API_VERSIONS.get(kind)
        if expected is None:
            out.unsupported[kind] += 1
            _skipped_identity(ctx, body)
            return
    ctx.kind = kind
    if api_version is None:
        return
    if api_version != expected:
        ctx.error(
            "apiVersion",
            f'unsupported apiVersion "{api_version}" for kind {kind} (expected "{expected}")',
        )
        return
    _HANDLERS[kind](ctx, out, kind, body)


def _skipped_identity(ctx: Context, body: dict[str, Any]) -> None:
    """An object of a kind netreach does not read is stored as written, under its name and
    namespace: those must have the types the API server decodes (``metadata`` a map, name
    and namespace strings), or the stored identity would be made up ("5", "None").

    A missing name is accepted, unlike for the kinds netreach reads: a repository's files
    (what a review bot uploads) hold objects named by ``generateName``, kustomize patches and
    the like, which the API server would complete or never see. A name given as null (an
    empty ``name:``), a number, a map or a list is refused: it is a mistake in the file.
    """
    metadata = get_map(ctx, body, "metadata", "")
    if metadata is None:
        return
    if "name" in metadata and type(metadata["name"]) is not str:
        ctx.wrong_type("metadata.name", "a string", metadata["name"])
    get_str(ctx, metadata, "namespace", "metadata")


def _pod(ctx: Context, out: _Collector, kind: str, body: dict[str, Any]) -> None:
    meta = parse_metadata(ctx, body)
    pod = parse_pod(ctx, body, meta)
    if pod is None:
        out.not_running.append(f"{meta.namespace}/{meta.name}")
    elif _accept(ctx, out, kind, meta):
        out.pods.append(pod)


def _workload(ctx: Context, out: _Collector, kind: str, body: dict[str, Any]) -> None:
    meta = parse_metadata(ctx, body)
    workload = parse_workload(ctx, kind, body, meta)
    if _accept(ctx, out, kind, meta):
        out.workloads.append(workload)


def _policy(ctx: Context, out: _Collector, kind: str, body: dict[str, Any]) -> None:
    meta = parse_metadata(ctx, body)
    policy = parse_policy(ctx, body, meta)
    if _accept(ctx, out, kind, meta):
        out.policies.append(policy)


def _service(ctx: Context, out: _Collector, kind: str, body: dict[str, Any]) -> None:
    meta = parse_metadata(ctx, body, name_rule=DNS1035_LABEL)
    service = parse_service(ctx, body, meta)
    if _accept(ctx, out, kind, meta):
        out.services.append(service)


def _namespace(ctx: Context, out: _Collector, kind: str, body: dict[str, Any]) -> None:
    meta = parse_metadata(ctx, body, namespaced=False, name_rule=DNS1123_LABEL)
    if _accept(ctx, out, kind, meta):
        out.namespaces.append(parse_namespace(meta))


def _admin(ctx: Context, out: _Collector, kind: str, body: dict[str, Any]) -> None:
    meta = parse_metadata(ctx, body, namespaced=False)
    policy = parse_admin_policy(ctx, body, meta, baseline=kind == BASELINE_KIND)
    if _accept(ctx, out, kind, meta) and policy is not None:
        out.admin_policies.append(policy)


def _cluster_policy(ctx: Context, out: _Collector, kind: str, body: dict[str, Any]) -> None:
    meta = parse_metadata(ctx, body, namespaced=False)
    policy = parse_cluster_policy(ctx, body, meta)
    if _accept(ctx, out, kind, meta) and policy is not None:
        out.admin_policies.append(policy)


def _node(ctx: Context, out: _Collector, kind: str, body: dict[str, Any]) -> None:
    meta = parse_metadata(ctx, body, namespaced=False)
    node = parse_node(ctx, body, meta)
    if _accept(ctx, out, kind, meta):
        out.nodes.append(node)


_Handler = Callable[[Context, _Collector, str, dict[str, Any]], None]
_HANDLERS: dict[str, _Handler] = {
    "Pod": _pod,
    "NetworkPolicy": _policy,
    "Service": _service,
    "Namespace": _namespace,
    NODE_KIND: _node,
    ADMIN_KIND: _admin,
    BASELINE_KIND: _admin,
    CLUSTER_KIND: _cluster_policy,
    **dict.fromkeys(WORKLOAD_KINDS, _workload),
}
assert set(_HANDLERS) == set(API_VERSIONS)


def _type_field(ctx: Context, body: dict[str, Any], key: str, rule: Any) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        ctx.error(key, "is required")
        return None
    if type(value) is not str:
        ctx.wrong_type(key, "a string", value)
        return None
    errors = rule(value)
    for message in errors:
        ctx.error(key, f'invalid {key} "{value}": {message}')
    return None if errors else value


def _accept(ctx: Context, out: _Collector, kind: str, meta: Metadata) -> bool:
    """Record the object's ref; False (after a problem) for a duplicate or a bad name."""
    if not meta.valid:
        return False
    namespace = meta.namespace or ""
    key = (kind, namespace, meta.name)
    first = out.seen.get(key)
    if first is not None:
        ctx.error(
            "metadata.name",
            f"duplicate {kind} {f'{namespace}/' if namespace else ''}{meta.name}: "
            f"also defined at {first}",
        )
        return False
    origin = ctx.origin
    out.seen[key] = origin
    out.refs.append((ObjectRef(kind, namespace, meta.name), origin))
    return True


def _warnings(out: _Collector) -> list[str]:
    warnings = []
    if out.unsupported:
        total = sum(out.unsupported.values())
        counts = sorted(out.unsupported.items(), key=lambda kv: (-kv[1], kv[0]))
        listed = ", ".join(f"{kind} ({n})" for kind, n in counts)
        plural = "objects of unsupported kinds" if total != 1 else "object of unsupported kind"
        warnings.append(f"skipped {total} {plural}: {listed}")
    if out.not_running:
        names = out.not_running
        listed = ", ".join(names[:MAX_LISTED])
        if len(names) > MAX_LISTED:
            listed += f" and {len(names) - MAX_LISTED} more"
        plural = "pods that are" if len(names) != 1 else "pod that is"
        warnings.append(
            f"skipped {len(names)} {plural} not running (phase Succeeded or Failed): {listed}"
        )
    return warnings
