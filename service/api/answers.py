"""Response models of the analyses: connectivity pages, verdicts, batches, diffs, lint and
history. They document (OpenAPI) and type what the renderers in :mod:`service.report`
produce; the routes stream those renderers' JSON as is, and the test suite checks every
answer against these schemas (schemathesis)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.api.errors import ErrorBody

_OPEN = ConfigDict(populate_by_name=True)


class SnapshotAnswer(BaseModel):
    """Which snapshot an answer is about (also in the ``X-Netreach-Snapshot`` header)."""

    cluster: str = Field(description="the cluster answered about")
    version: int = Field(description="the version answered about (`latest` resolved)")


class Endpoint(BaseModel):
    """A pod, a workload, a namespace, or external addresses (``IPBlock``)."""

    model_config = _OPEN

    kind: str = Field(examples=["Pod", "Deployment", "Namespace", "IPBlock"])
    namespace: str | None = Field(None, description="absent for namespaces and IPBlocks")
    name: str | None = Field(None, description="absent for IPBlocks")
    cidr: str | None = Field(None, description="IPBlocks only")
    except_: list[str] | None = Field(None, alias="except", description="IPBlocks only")


class PortRange(BaseModel):
    """NetworkPolicyPort-like: ``{"protocol": "UDP"}`` is every UDP port."""

    model_config = _OPEN

    protocol: Literal["TCP", "UDP", "SCTP"]
    port: int | None = Field(None, ge=1, le=65535)
    end_port: int | None = Field(None, alias="endPort", ge=1, le=65535)


class Connection(BaseModel):
    model_config = _OPEN

    source: Endpoint = Field(alias="from")
    target: Endpoint = Field(alias="to")
    ports: list[PortRange]


class ConnectivityPage(SnapshotAnswer):
    granularity: Literal["pod", "workload", "namespace"]
    total: int = Field(description="connections in the whole map (after the namespace filter)")
    limit: int | None = Field(
        description="the page size used; null when the whole map is in this answer"
    )
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null at the end. Bound to this "
        "version: paging `latest` stays on the version the first page answered"
    )
    connections: list[Connection]
    depends_on_dns: list[Connection] | None = Field(
        None,
        description="only with ClusterNetworkPolicy domainNames rules (first page): the "
        "connections and ports that DNS decides, in neither direction decided by manifests",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "cluster": "prod",
                    "version": 3,
                    "granularity": "workload",
                    "total": 1,
                    "limit": None,
                    "next_cursor": None,
                    "connections": [
                        {
                            "from": {"kind": "Deployment", "namespace": "shop", "name": "web"},
                            "to": {"kind": "Deployment", "namespace": "shop", "name": "api"},
                            "ports": [{"protocol": "TCP", "port": 8080}],
                        }
                    ],
                }
            ]
        }
    )


class PolicyRef(BaseModel):
    kind: str | None = Field(None, description="cluster-scoped tiers only")
    namespace: str | None = Field(None, description="NetworkPolicies only")
    name: str


class Effect(BaseModel):
    """A rule that matches the peer, and what it does to which ports."""

    tier: str = Field(examples=["NetworkPolicy", "Admin", "Baseline"])
    policy: PolicyRef
    direction: Literal["Ingress", "Egress"]
    rule: int = Field(description="index of the rule in the policy")
    peer: int | None = Field(description="index of the peer in the rule; null: any peer")
    ports: list[PortRange]
    action: str = Field(examples=["Allow", "Deny", "Pass", "Accept"])
    missing_named_ports: list[str] | None = None
    name: str | None = Field(None, description="the rule's name (admin tiers)")
    ambiguous: bool | None = Field(
        None, description="a policy of the same tier and priority matches too (undefined order)"
    )
    ambiguous_with: list[PolicyRef] | None = None
    depends_on_dns: bool | None = Field(
        None, description="the rule matches only if a domainNames peer resolves to the peer"
    )
    nodes: list[str] | None = Field(
        None, description="a nodes peer: the selected Nodes whose address the peer has"
    )


class Side(BaseModel):
    """One direction: the source's egress or the destination's ingress."""

    endpoint: str
    subject_to_policies: bool
    isolated: bool
    policies: list[PolicyRef] = Field(description="the policies isolating the endpoint")
    effects: list[Effect]
    allowed_ports: list[PortRange]
    reason: str
    depends_on_dns_ports: list[PortRange] | None = Field(
        None, description="ports that only a domainNames rule decides (not in allowed_ports)"
    )


class Explanation(BaseModel):
    egress: Side
    ingress: Side


class PairVerdict(BaseModel):
    model_config = _OPEN

    source: str = Field(alias="from")
    target: str = Field(alias="to")
    allowed: bool
    ports: list[PortRange]
    explanation: Explanation
    depends_on_dns: bool = False
    dns_dependent_ports: list[PortRange] = []


class Verdict(BaseModel):
    """May ``from`` open a connection to ``to``; which policies and rules decide."""

    model_config = _OPEN

    source: str = Field(alias="from")
    target: str = Field(alias="to")
    protocol: str | None
    port: int | str | None
    allowed: bool = Field(description="every pod pair is allowed")
    partially_allowed: bool = Field(description="some pod pairs are allowed, not all")
    ports: list[PortRange] = Field(description="the ports every pair allows")
    explanation: Explanation | None = Field(
        description="the first pod pair's egress and ingress sides"
    )
    pairs: list[PairVerdict] = Field(description="every pod pair (at most 100)")
    pair_count: int
    notes: list[str]
    depends_on_dns: bool = Field(
        False, description="some asked port is allowed only if DNS resolves a domainNames peer"
    )
    dns_dependent_ports: list[PortRange] = Field(
        [], description="those ports, allowed by no verdict the manifests can decide"
    )
    ambiguous: bool = Field(
        False, description="two policies of one tier and priority both match (spec: undefined)"
    )


class VerdictAnswer(SnapshotAnswer, Verdict):
    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "cluster": "prod",
                    "version": 3,
                    "from": "shop/api-0",
                    "to": "db/pg-0",
                    "protocol": "TCP",
                    "port": 5432,
                    "allowed": True,
                    "partially_allowed": False,
                    "ports": [{"protocol": "TCP", "port": 5432}],
                    "explanation": None,
                    "pairs": [],
                    "pair_count": 1,
                    "notes": [],
                }
            ]
        },
    )


class BatchItem(BaseModel):
    """One question's answer: a verdict, or the error it alone got."""

    index: int = Field(description="position of the question in the request")
    verdict: Verdict | None = None
    error: ErrorBody | None = None


class BatchAnswer(SnapshotAnswer):
    results: list[BatchItem]
    allowed: int = Field(description="questions answered allowed")
    denied: int = Field(description="questions answered not allowed")
    errors: int = Field(description="questions that got an error")


class Cause(BaseModel):
    """An object change behind a connection change."""

    kind: str = Field(
        description="policy-added, policy-removed, policy-edited, pod-relabelled, "
        "namespace-relabelled, container-ports-changed, service-changed, endpoint-added, "
        "endpoint-removed, endpoint-changed or node-changed"
    )
    object: dict[str, str] = Field(description="kind, namespace (if namespaced) and name")
    details: list[str] = Field(description='what of it mattered: "ingress rule 1 peer 0"')


class ChangedConnection(BaseModel):
    model_config = _OPEN

    source: Endpoint = Field(alias="from")
    target: Endpoint = Field(alias="to")
    before: list[PortRange]
    after: list[PortRange]
    causes: list[Cause] = Field(default_factory=list)


class CausedConnection(Connection):
    causes: list[Cause] = Field(
        default_factory=list, description="the object changes that produced it"
    )


class ObjectKeyOut(BaseModel):
    kind: str
    namespace: str | None = None
    name: str


class ChangedObject(ObjectKeyOut):
    fields: list[str] = Field(description="the top-level field paths that differ")
    more_fields: int | None = None


class Highlights(BaseModel):
    external_exposure: list[Connection]
    cross_namespace: list[Connection]
    lost_ingress: list[Endpoint]
    lost_egress: list[Endpoint]
    narrowed_egress: list[Endpoint] = Field(default_factory=list)
    lost_dns: list[Endpoint]


class ConnectionChanges(BaseModel):
    added: list[CausedConnection]
    removed: list[CausedConnection]
    changed: list[ChangedConnection]
    via_services: list[ChangedConnection] = Field(
        default_factory=list,
        description="clients whose reach into a retargeted Service changed (its ports)",
    )


class ObjectChanges(BaseModel):
    added: list[ObjectKeyOut]
    removed: list[ObjectKeyOut]
    changed: list[ChangedObject]


class DiffSideOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    cluster: str
    version: int
    content_hash: str
    created_at: str
    what_if: dict[str, int] | None = Field(
        None, description="what-if only: objects replaced or added, and deleted"
    )


class DiffAnswer(BaseModel):
    """What changed from ``base`` to ``head``: connections, highlights and objects."""

    base: DiffSideOut
    head: DiffSideOut
    granularity: Literal["pod", "workload", "namespace"]
    summary: dict[str, dict[str, int] | int]
    highlights: Highlights
    connections: ConnectionChanges
    objects: ObjectChanges


class Finding(BaseModel):
    model_config = ConfigDict(extra="allow")

    severity: Literal["error", "warning", "info"]
    code: str = Field(examples=["NR001"])
    check: str
    message: str
    object: dict[str, Any]
    objects: list[dict[str, Any]]
    suggestion: str | None
    field: str | None = None
    affected: dict[str, Any] | None = None


class LintAnswer(SnapshotAnswer):
    findings: list[Finding]
    summary: dict[str, int] = Field(description="findings per severity")
    suppressed: int


class HistoryAsked(BaseModel):
    model_config = _OPEN

    cluster: str
    source: str = Field(alias="from")
    target: str = Field(alias="to")
    port: int | str | None
    protocol: str | None


class HistoryAt(HistoryAsked):
    """``at=N``: the state of the connection in version N."""

    version: int
    state: Literal["allowed", "denied", "absent"]
    allowed: bool
    note: str | None
    verdict: Verdict | None


class Probe(BaseModel):
    version: int
    state: Literal["allowed", "denied", "absent"]


class HistoryFirst(HistoryAsked):
    """``first=allowed|denied``: the first version in that state, found by bisection."""

    first: Literal["allowed", "denied"]
    version: int | None = Field(description="null: no version is in that state")
    previous_version: int | None
    versions_searched: int
    note: str
    probes: list[Probe]
