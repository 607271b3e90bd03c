"""Path and query parameters shared by the routers, each with its description."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from service.usecases.errors import InvalidQueryError, NotFoundError
from service.usecases.snapshots import Ref, parse_ref

# Versions are 32-bit integer columns: larger numbers are no version (and must not reach SQL).
MAX_VERSION = 2**31 - 1

# Names that cannot exist are refused before they reach SQL (PostgreSQL refuses NUL bytes).
CLUSTER_PATTERN = r"^[a-z0-9]([-a-z0-9_.]{0,61}[a-z0-9])?$"
KIND_PATTERN = r"^[A-Za-z][A-Za-z0-9]{0,62}$"
NAMESPACE_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
PRINTABLE_PATTERN = r"^[^\x00-\x1f\x7f]*$"

ClusterPath = Annotated[
    str,
    Path(
        description="cluster name: 1-63 lowercase letters, digits, '-', '_', '.', starting "
        "and ending with a letter or digit",
        pattern=CLUSTER_PATTERN,
        examples=["prod"],
    ),
]
RefPath = Annotated[
    str,
    Path(description="a version number, or `latest`", max_length=32, examples=["latest", "3"]),
]
NamespaceFilter = Annotated[
    str | None,
    Query(
        pattern=NAMESPACE_PATTERN,
        description="only this namespace (404, with suggestions, if the snapshot has none "
        "of that name)",
        examples=["shop"],
    ),
]


def parse_ref_param(cluster: str, text: str, field: str = "path.ref") -> Ref:
    """A snapshot reference from a request: 422 naming ``field`` if malformed."""
    try:
        ref = parse_ref(text)
    except InvalidQueryError as error:
        loc = field.split(".")
        raise InvalidQueryError(error.message, [{"field": field, "loc": loc}]) from None
    if isinstance(ref, int) and ref > MAX_VERSION:
        raise NotFoundError(f"cluster {cluster!r} has no snapshot {ref}")
    return ref
