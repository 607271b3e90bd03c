"""Snapshots: upload (validated, content-addressed, idempotent), list, get, delete, objects."""

from __future__ import annotations

import re
from contextlib import nullcontext
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import DataError
from starlette.background import BackgroundTask

from service.api.deps import (
    AnalyzerDep,
    MetricsDep,
    ReadAccess,
    ReadSnapshot,
    RuntimeDep,
    SessionDep,
    SettingsDep,
    WriteAccess,
    WriteSessionDep,
    snapshot_headers,
    snapshot_label,
)
from service.api.errors import InvalidParameterError, UnsupportedMediaTypeError, responses
from service.api.examples import SNAPSHOT_EXAMPLE, YAML_EXAMPLE
from service.api.pagination import (
    Page,
    PageDep,
    SnapshotCursor,
    decode_version_cursor,
    encode_version_cursor,
    query_digest,
    resume,
)
from service.api.params import (
    KIND_PATTERN,
    PRINTABLE_PATTERN,
    ClusterPath,
    NamespaceFilter,
    RefPath,
    parse_ref_param,
)
from service.api.schemas import ObjectOut, ObjectPage, SnapshotOut
from service.ingest import Limits, read_bytes
from service.usecases.errors import (
    InputTooLargeError,
    InvalidManifestsError,
    InvalidQueryError,
)
from service.usecases.filters import match_kind, require_name
from service.usecases.snapshots import (
    delete_snapshot,
    list_snapshots,
    record_snapshot,
    snapshot_namespaces,
    snapshot_objects,
)

router = APIRouter(prefix="/v1/clusters/{cluster}/snapshots", tags=["snapshots"])

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
JSON_TYPES = ("application/json",)
UTF8 = ("utf-8", "utf8", "us-ascii")
MAX_LABELS = 64
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def manifest_media_type(header: str | None) -> str:
    """The body's media type if it is one we read (415 otherwise)."""
    media, _, params = (header or "").partition(";")
    media = media.strip().lower()
    charset = next(
        (
            value.strip().strip('"').lower()
            for key, _, value in (p.partition("=") for p in params.split(";"))
            if key.strip().lower() == "charset"
        ),
        None,
    )
    if media not in YAML_TYPES + JSON_TYPES or (charset is not None and charset not in UTF8):
        raise UnsupportedMediaTypeError(
            f"cannot read a body of type {header or '(none)'!r}: send application/yaml "
            "(multi-document) or application/json (an object, a List, or an array), in UTF-8",
            [{"supported": list(YAML_TYPES + JSON_TYPES)}],
        )
    return media


def parse_labels(pairs: list[str] | None) -> dict[str, str]:
    labels: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if (
            not sep
            or not key.strip()
            or len(key) > 253
            or len(value) > 1024
            or _CONTROL.search(pair)
        ):
            raise InvalidParameterError(
                f"label {pair[:100]!r} is not key=value (key 1-253 characters, value up to "
                "1024, no control characters)",
                [{"field": "query.label", "loc": ["query", "label"], "input": pair[:100]}],
            )
        labels[key.strip()] = value
    if len(labels) > MAX_LABELS:
        raise InvalidParameterError(
            f"at most {MAX_LABELS} labels", [{"field": "query.label", "loc": ["query", "label"]}]
        )
    return labels


_OTHER_FORMAT = {"json": "application/yaml", "yaml": "application/json"}


def other_format_hint(data: bytes, media: str, details: list[dict[str, Any]]) -> str | None:
    """The Content-Type to use when a body that failed to read reads as the other format.

    Not when the body read but its objects are invalid (they would be in either format), nor
    when a body sent as JSON parsed but holds a value Kubernetes refuses (``1e400`` reads as
    YAML, where the same text is a string)."""
    sent = "json" if media in JSON_TYPES else "yaml"
    other = _OTHER_FORMAT[sent]
    limits = Limits(max_bytes=len(data) + 1)
    if sent == "json":
        messages = (str(detail.get("message", "")) for detail in details)
        if not any(message.startswith("JSON syntax error") for message in messages):
            return None
    else:
        try:
            read_bytes(data, content_type=media, limits=limits)
        except Exception:
            pass  # not readable as YAML: JSON may be what was meant
        else:
            return None
    try:
        documents = read_bytes(data, content_type=other, limits=limits)
    except Exception:
        return None
    if not documents:
        return None
    return (
        f"the body is not valid {sent.upper()} but reads as "
        f"{'YAML' if sent == 'json' else 'JSON'}: send it with Content-Type: {other}"
    )


MANIFEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "Kubernetes manifests: multi-document YAML, or JSON (one object, a "
        "`kind: List`, or an array of objects)",
        "content": {
            **{
                media: {"schema": {"type": "string"}, "example": YAML_EXAMPLE}
                for media in YAML_TYPES
            },
            "application/json": {
                "schema": {
                    "oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]
                },
                "example": [
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
                ],
            },
        },
    }
}


@router.post(
    "",
    status_code=201,
    response_model=SnapshotOut,
    responses={
        201: {"description": "Stored as the next version (`Location` names it)"},
        200: {"model": SnapshotOut, "description": "Identical content: the existing version"},
        **responses(401, 403, 413, 415, 422),
    },
    openapi_extra=MANIFEST_BODY,
    summary="Upload manifests as the next version of the cluster",
    description="Validates every object (nothing is stored if one is invalid), stores the "
    "objects content-addressed, and allocates the next version number. The same content "
    "as an existing version answers 200 with that version. An upload with no object is a "
    "422 unless `allow_empty=true`. A body that does not parse but reads as the other "
    "format (YAML sent as JSON, or the reverse) says which `Content-Type` to use.",
)
async def upload_snapshot(
    cluster: ClusterPath,
    request: Request,
    response: Response,
    principal: WriteAccess,
    session: WriteSessionDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    analyzer: AnalyzerDep,
    runtime: RuntimeDep,
    background: BackgroundTasks,
    source: Annotated[
        str | None,
        Query(
            max_length=500,
            pattern=PRINTABLE_PATTERN,
            description="where the manifests came from (a repository and commit, a tool)",
            examples=["git@example:shop@abc123"],
        ),
    ] = None,
    label: Annotated[
        list[str] | None,
        Query(
            description="`key=value`, repeatable: labels of the snapshot",
            max_length=MAX_LABELS,
            examples=[["env=prod"]],
        ),
    ] = None,
    allow_empty: Annotated[
        bool, Query(description="store a snapshot with no object (refused otherwise)")
    ] = False,
) -> SnapshotOut:
    media = manifest_media_type(request.headers.get("content-type"))
    labels = parse_labels(label)
    # The body as it arrived, in pieces: joined, a large upload would be copied once more
    # (405 MB for L) before the reader even starts, which reads it piece by piece anyway.
    pieces = [piece async for piece in request.stream() if piece]
    # isspace, not strip: strip would copy a body that ends in a newline
    if all(piece.isspace() for piece in pieces) and not allow_empty:
        metrics.uploads.labels("invalid").inc()
        raise InvalidManifestsError(
            "the request body is empty: send the manifests to store", [{"field": "body"}]
        )
    # The decoded documents, freed once the answer is sent: freeing L's 220,000 objects
    # takes about half a second, which the client need not wait for (it is stored then).
    decoded: list[object] = []
    background.add_task(decoded.clear)
    uploading = nullcontext() if runtime.preparer is None else runtime.preparer.upload()
    try:
        with uploading:  # background preparations pause meanwhile
            # Parsing and validating is CPU-bound: keep it off the event loop.
            record, created = await run_in_threadpool(
                lambda: record_snapshot(
                    session,
                    cluster,
                    pieces,
                    content_type=media,
                    source=source,
                    labels=labels,
                    limits=Limits(
                        max_bytes=settings.max_body_bytes, counts=settings.count_limits()
                    ),
                    analyzer=analyzer,
                    allow_empty=allow_empty,
                    keep=decoded,
                )
            )
    except InputTooLargeError:
        metrics.uploads.labels("too_large").inc()
        raise
    except DataError as error:
        # A value the validation let through but the database cannot hold (PostgreSQL
        # refuses NUL characters in text): the client's input, so a 422, not a 500.
        metrics.uploads.labels("invalid").inc()
        reason = str(error.orig or error).splitlines()[0]
        raise InvalidManifestsError(
            "the database cannot store a value of these manifests; nothing was stored",
            [{"message": reason}],
        ) from error
    except InvalidManifestsError as error:
        metrics.uploads.labels("invalid").inc()
        hint = await run_in_threadpool(other_format_hint, b"".join(pieces), media, error.details)
        if hint is not None:
            raise InvalidManifestsError(
                hint, [{"field": "header.content-type", "hint": hint}, *error.details]
            ) from error
        raise
    except InvalidQueryError:
        metrics.uploads.labels("invalid").inc()
        raise
    except BaseException:
        metrics.uploads.labels("error").inc()
        raise
    runtime.refs.forget(cluster)
    if runtime.preparer is not None:  # compiled and mapped once the response has gone
        background.add_task(runtime.preparer.submit, record)
    metrics.uploads.labels("created" if created else "unchanged").inc()
    response.status_code = 201 if created else 200
    response.headers["Location"] = f"/v1/clusters/{record.cluster}/snapshots/{record.version}"
    response.headers.update(snapshot_headers(record))
    return SnapshotOut.of(record)


@router.get(
    "",
    response_model=Page[SnapshotOut],
    responses=responses(401, 403, 404, 422),
    summary="The cluster's snapshots, newest first",
    description="Keyset pagination by version: pages stay stable while versions are added.",
)
def get_snapshots(
    cluster: ClusterPath, principal: ReadAccess, session: SessionDep, page: PageDep
) -> Page[SnapshotOut]:
    after = None if page.cursor is None else decode_version_cursor(page.cursor)
    records = list_snapshots(session, cluster, after=after, limit=page.limit + 1)
    more = len(records) > page.limit
    records = records[: page.limit]
    return Page[SnapshotOut](
        items=[SnapshotOut.of(r) for r in records],
        next_cursor=encode_version_cursor(records[-1].version) if more else None,
        limit=page.limit,
    )


@router.get(
    "/{ref}",
    response_model=SnapshotOut,
    responses={
        200: {"content": {"application/json": {"example": SNAPSHOT_EXAMPLE}}},
        **responses(401, 403, 404, 422),
    },
    summary="One snapshot",
    description="`ref` is a version number or `latest`.",
)
async def get_one_snapshot(record: ReadSnapshot, response: Response) -> SnapshotOut:
    response.headers.update(snapshot_headers(record))
    return SnapshotOut.of(record)


@router.delete(
    "/{ref}",
    status_code=204,
    response_class=Response,
    responses=responses(401, 403, 404, 422),
    summary="Delete a snapshot",
    description="Its version number is never reused; the cluster stays, with its other "
    "versions. Objects no snapshot holds any more are deleted after the response.",
)
def remove_snapshot(
    cluster: ClusterPath,
    ref: RefPath,
    principal: WriteAccess,
    session: WriteSessionDep,
    analyzer: AnalyzerDep,
    runtime: RuntimeDep,
) -> Response:
    record = delete_snapshot(session, cluster, parse_ref_param(cluster, ref))
    session.commit()  # before forgetting, so no reader caches the snapshot again
    runtime.refs.forget(cluster)
    analyzer.forget(record)
    # After the response: free the objects no snapshot holds any more.
    return Response(
        status_code=204,
        headers=snapshot_headers(record),
        background=BackgroundTask(runtime.collector.run),
    )


@router.get(
    "/{ref}/objects",
    response_model=ObjectPage,
    responses=responses(401, 403, 404, 422),
    summary="The snapshot's objects (full bodies), by kind, namespace and name",
    description="`kind` matches case-insensitively; a kind or namespace the snapshot does "
    "not have is a 404 with suggestions. Pages are bound to the version the first page "
    "answered.",
)
def get_objects(
    record: ReadSnapshot,
    ref: RefPath,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
    page: PageDep,
    kind: Annotated[
        str | None,
        Query(
            pattern=KIND_PATTERN,
            description="only objects of this kind (any case: `networkpolicy` works)",
            examples=["NetworkPolicy"],
        ),
    ] = None,
    namespace: NamespaceFilter = None,
) -> ObjectPage:
    query = query_digest({"kind": (kind or "").lower(), "namespace": namespace or ""})
    record, start = resume(runtime.refs, record, ref, page.cursor, "o", query)
    where = f"snapshot {snapshot_label(record)}"
    if kind is not None:
        kind = match_kind(kind, record.counts, where)
    if namespace is not None:
        known = snapshot_namespaces(session, record)
        require_name("namespace", namespace, known, where, "query.namespace")
    found = snapshot_objects(session, record, kind=kind, namespace=namespace)
    stop = start + page.limit
    more = stop < len(found)
    response.headers.update(snapshot_headers(record))
    return ObjectPage(
        cluster=record.cluster,
        version=record.version,
        items=[ObjectOut.of(o) for o in found[start:stop]],
        next_cursor=SnapshotCursor.first(record, stop, query).encode("o") if more else None,
        limit=page.limit,
    )
