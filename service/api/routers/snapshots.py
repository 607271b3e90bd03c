"""Snapshots: upload (validated, content-addressed, idempotent), list, get, delete, objects."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import DataError

from service.api.deps import (
    AnalyzerDep,
    MetricsDep,
    ReadAccess,
    SessionDep,
    SettingsDep,
    WriteAccess,
)
from service.api.errors import InvalidParameterError, UnsupportedMediaTypeError, responses
from service.api.pagination import MAX_VERSION, Page, PageDep, encode_cursor, offset_page
from service.api.schemas import ObjectOut, SnapshotOut
from service.ingest import Limits
from service.usecases.errors import (
    InputTooLargeError,
    InvalidManifestsError,
    InvalidQueryError,
    NotFoundError,
)
from service.usecases.snapshots import (
    Ref,
    delete_snapshot,
    get_snapshot,
    list_snapshots,
    parse_ref,
    record_snapshot,
    snapshot_objects,
)

router = APIRouter(prefix="/v1/clusters/{cluster}/snapshots", tags=["snapshots"])

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
JSON_TYPES = ("application/json",)
UTF8 = ("utf-8", "utf8", "us-ascii")
MAX_LABELS = 64

# Names that cannot exist are refused before they reach SQL (PostgreSQL refuses NUL bytes).
CLUSTER_PATTERN = r"^[a-z0-9]([-a-z0-9_.]{0,61}[a-z0-9])?$"
KIND_PATTERN = r"^[A-Za-z][A-Za-z0-9]{0,62}$"
NAMESPACE_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
PRINTABLE_PATTERN = r"^[^\x00-\x1f\x7f]*$"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

ClusterPath = Annotated[
    str,
    Path(
        description="cluster name: 1-63 lowercase letters, digits, '-', '_', '.'",
        pattern=CLUSTER_PATTERN,
    ),
]
NamespaceQuery = Annotated[str | None, Query(pattern=NAMESPACE_PATTERN)]
RefPath = Annotated[str, Path(description="a version number, or `latest`", max_length=32)]


def parse_ref_param(cluster: str, text: str) -> Ref:
    try:
        ref = parse_ref(text)
    except InvalidQueryError as error:
        raise InvalidQueryError(
            error.message, [{"field": "path.ref", "loc": ["path", "ref"]}]
        ) from None
    if isinstance(ref, int) and ref > MAX_VERSION:
        raise NotFoundError(f"cluster {cluster!r} has no snapshot {ref}")
    return ref


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


MANIFEST_BODY = {
    "requestBody": {
        "required": True,
        "description": "Kubernetes manifests: multi-document YAML, or JSON (one object, a "
        "`kind: List`, or an array of objects)",
        "content": {
            **{media: {"schema": {"type": "string"}} for media in YAML_TYPES},
            "application/json": {
                "schema": {
                    "oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]
                }
            },
        },
    }
}


@router.post(
    "",
    status_code=201,
    response_model=SnapshotOut,
    responses={
        200: {"model": SnapshotOut, "description": "Identical content: the existing version"},
        **responses(401, 403, 413, 415, 422),
    },
    openapi_extra=MANIFEST_BODY,
    summary="Upload manifests as the next version of the cluster",
)
async def upload_snapshot(
    cluster: ClusterPath,
    request: Request,
    response: Response,
    principal: WriteAccess,
    session: SessionDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    analyzer: AnalyzerDep,
    source: Annotated[
        str | None,
        Query(
            max_length=500,
            pattern=PRINTABLE_PATTERN,
            description="where the manifests came from",
        ),
    ] = None,
    label: Annotated[
        list[str] | None, Query(description="`key=value`, repeatable", max_length=MAX_LABELS)
    ] = None,
) -> SnapshotOut:
    media = manifest_media_type(request.headers.get("content-type"))
    labels = parse_labels(label)
    data = await request.body()
    if not data.strip():
        metrics.uploads.labels("invalid").inc()
        raise InvalidManifestsError(
            "the request body is empty: send the manifests to store", [{"field": "body"}]
        )
    try:
        # Parsing and validating is CPU-bound: keep it off the event loop.
        record, created = await run_in_threadpool(
            lambda: record_snapshot(
                session,
                cluster,
                data,
                content_type=media,
                source=source,
                labels=labels,
                limits=Limits(max_bytes=settings.max_body_bytes),
                analyzer=analyzer,
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
    except (InvalidManifestsError, InvalidQueryError):
        metrics.uploads.labels("invalid").inc()
        raise
    except BaseException:
        metrics.uploads.labels("error").inc()
        raise
    metrics.uploads.labels("created" if created else "unchanged").inc()
    response.status_code = 201 if created else 200
    response.headers["Location"] = f"/v1/clusters/{record.cluster}/snapshots/{record.version}"
    return SnapshotOut.of(record)


@router.get(
    "",
    response_model=Page[SnapshotOut],
    responses=responses(401, 403, 404, 422),
    summary="The cluster's snapshots, newest first (keyset pagination by version)",
)
def get_snapshots(
    cluster: ClusterPath, principal: ReadAccess, session: SessionDep, page: PageDep
) -> Page[SnapshotOut]:
    after = page.after("v")
    records = list_snapshots(session, cluster, after=after, limit=page.limit + 1)
    more = len(records) > page.limit
    records = records[: page.limit]
    return Page[SnapshotOut](
        items=[SnapshotOut.of(r) for r in records],
        next_cursor=encode_cursor("v", records[-1].version) if more else None,
        limit=page.limit,
    )


@router.get(
    "/{ref}",
    response_model=SnapshotOut,
    responses=responses(401, 403, 404, 422),
    summary="One snapshot",
)
def get_one_snapshot(
    cluster: ClusterPath, ref: RefPath, principal: ReadAccess, session: SessionDep
) -> SnapshotOut:
    return SnapshotOut.of(get_snapshot(session, cluster, parse_ref_param(cluster, ref)))


@router.delete(
    "/{ref}",
    status_code=204,
    response_class=Response,
    responses=responses(401, 403, 404, 422),
    summary="Delete a snapshot (its version number is never reused)",
)
def remove_snapshot(
    cluster: ClusterPath,
    ref: RefPath,
    principal: WriteAccess,
    session: SessionDep,
    analyzer: AnalyzerDep,
) -> Response:
    record = delete_snapshot(session, cluster, parse_ref_param(cluster, ref))
    analyzer.forget(record)
    return Response(status_code=204)


@router.get(
    "/{ref}/objects",
    response_model=Page[ObjectOut],
    responses=responses(401, 403, 404, 422),
    summary="The snapshot's objects (full bodies), by kind, namespace and name",
)
def get_objects(
    cluster: ClusterPath,
    ref: RefPath,
    principal: ReadAccess,
    session: SessionDep,
    page: PageDep,
    kind: Annotated[str | None, Query(pattern=KIND_PATTERN)] = None,
    namespace: NamespaceQuery = None,
) -> Page[ObjectOut]:
    record = get_snapshot(session, cluster, parse_ref_param(cluster, ref))
    found = snapshot_objects(session, record, kind=kind, namespace=namespace)
    return offset_page(found, page, "o", ObjectOut.of)
