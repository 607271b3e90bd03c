"""Time travel over a cluster's stored versions: "was A -> B (on port P) allowed in version
N?" and "which version first allowed (or denied) A -> B?", found by bisection.

A version where an endpoint does not exist counts as *absent*: not allowed, and therefore
denied. Bisection assumes one transition between the oldest and the newest version, as
``git bisect`` does; with several, it finds one of them (a version in the wanted state whose
predecessor was not), and every probe is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.orm import Session

from service.engine.deadline import NO_DEADLINE, Deadline
from service.engine.endpoints import EndpointError, EndpointNotFoundError
from service.engine.model import Protocol
from service.engine.options import AnalysisOptions
from service.engine.reachability import QueryError, Verdict, check
from service.store.records import SnapshotRecord
from service.store.snapshots import SnapshotRepository
from service.usecases.errors import InvalidQueryError, NotFoundError
from service.usecases.snapshots import Analyzer, get_snapshot


class State(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"
    ABSENT = "absent"  # an endpoint does not exist in that version (counts as denied)

    @property
    def allowed(self) -> bool:
        return self is State.ALLOWED


@dataclass(frozen=True, slots=True)
class Question:
    source: str
    target: str
    port: int | str | None = None
    protocol: Protocol | None = None

    @classmethod
    def of(cls, source: str, target: str, port: str | int | None, protocol: str | None) -> Question:
        if protocol is not None and protocol not in Protocol.__members__:
            raise InvalidQueryError(
                f"protocol {protocol!r} is not one of TCP, UDP, SCTP", [{"field": "protocol"}]
            )
        if isinstance(port, str):
            port = int(port) if port.isascii() and port.isdigit() else port
        return cls(source, target, port, None if protocol is None else Protocol(protocol))


@dataclass(frozen=True, slots=True)
class Probe:
    version: int
    state: State
    verdict: Verdict | None  # None when absent
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Bisection:
    wanted: State  # ALLOWED or DENIED
    version: int | None  # the first version in the wanted state (None: never)
    previous: int | None  # the version before it, in the other state (None: it is the oldest)
    probes: tuple[Probe, ...]  # in the order they were made
    versions: int  # how many versions were searched
    note: str


def probe(
    session: Session,
    analyzer: Analyzer,
    record: SnapshotRecord,
    question: Question,
    options: AnalysisOptions,
    deadline: Deadline = NO_DEADLINE,
) -> Probe:
    compiled = analyzer.compiled_for(session, record, options, deadline)
    try:
        verdict = check(
            compiled,
            question.source,
            question.target,
            port=question.port,
            protocol=question.protocol,
            deadline=deadline,
        )
    except EndpointNotFoundError as error:
        return Probe(record.version, State.ABSENT, None, str(error))
    except (EndpointError, QueryError) as error:
        raise InvalidQueryError(str(error), [{"field": error.field}]) from error
    return Probe(record.version, State.ALLOWED if verdict.allowed else State.DENIED, verdict)


def at_version(
    session: Session,
    analyzer: Analyzer,
    cluster: str,
    version: int,
    question: Question,
    options: AnalysisOptions | None = None,
    deadline: Deadline = NO_DEADLINE,
) -> Probe:
    """Was ``question`` allowed in ``version``?"""
    record = get_snapshot(session, cluster, version)
    return probe(session, analyzer, record, question, options or AnalysisOptions(), deadline)


def first_version(
    session: Session,
    analyzer: Analyzer,
    cluster: str,
    question: Question,
    wanted: State,
    options: AnalysisOptions | None = None,
    deadline: Deadline = NO_DEADLINE,
) -> Bisection:
    """The first stored version in the ``wanted`` state (allowed or denied), by bisection."""
    if wanted is State.ABSENT:
        raise InvalidQueryError("first must be allowed or denied", [{"field": "first"}])
    options = options or AnalysisOptions()
    repository = SnapshotRepository(session)
    versions = repository.versions(cluster)
    if not versions:
        get_snapshot(session, cluster, "latest")  # the right NotFoundError
        raise NotFoundError(f"cluster {cluster!r} has no snapshots")
    probes: dict[int, Probe] = {}

    def in_state(index: int) -> bool:
        version = versions[index]
        if version not in probes:
            record = repository.get(cluster, version)
            if record is None:  # deleted while we searched
                raise NotFoundError(f"cluster {cluster!r} has no snapshot {version}")
            probes[version] = probe(session, analyzer, record, question, options, deadline)
        return probes[version].state.allowed == wanted.allowed

    def done(version: int | None, previous: int | None, note: str) -> Bisection:
        return Bisection(wanted, version, previous, tuple(probes.values()), len(versions), note)

    last = len(versions) - 1
    if in_state(0):
        still = "" if in_state(last) else f", but no longer in version {versions[last]}"
        return done(versions[0], None, f"{wanted.value} since the oldest version{still}")
    if not in_state(last):
        return done(None, None, f"{wanted.value} in neither the oldest nor the newest version")
    lo, hi = 0, last  # invariant: lo not in the wanted state, hi in it
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if in_state(mid):
            hi = mid
        else:
            lo = mid
    return done(
        versions[hi],
        versions[lo],
        f"first {wanted.value} in version {versions[hi]} (version {versions[lo]} was not)",
    )
