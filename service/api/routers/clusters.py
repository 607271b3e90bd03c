"""Clusters: created by their first snapshot; listed with their latest version."""

from __future__ import annotations

from fastapi import APIRouter

from service.api.deps import ReadAccess, SessionDep
from service.api.errors import responses
from service.api.schemas import ClusterList, ClusterOut
from service.usecases.snapshots import list_clusters

router = APIRouter(prefix="/v1", tags=["clusters"])


@router.get(
    "/clusters",
    response_model=ClusterList,
    responses=responses(401, 403),
    summary="Clusters the caller may see, each with its latest version",
)
def get_clusters(session: SessionDep, principal: ReadAccess) -> ClusterList:
    return ClusterList(
        items=[ClusterOut.of(c) for c in list_clusters(session) if principal.may_access(c.name)]
    )
