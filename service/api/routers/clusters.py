"""Clusters: created by their first snapshot; listed with their latest version; deleted
with every snapshot of them."""

from __future__ import annotations

from fastapi import APIRouter, Response
from starlette.background import BackgroundTask

from service.api.deps import (
    AnalyzerDep,
    ReadAccess,
    RuntimeDep,
    SessionDep,
    WriteAccess,
    WriteSessionDep,
)
from service.api.errors import responses
from service.api.params import ClusterPath
from service.api.schemas import ClusterList, ClusterOut
from service.usecases.snapshots import delete_cluster, get_cluster, list_clusters, list_snapshots

router = APIRouter(prefix="/v1", tags=["clusters"])


@router.get(
    "/clusters",
    response_model=ClusterList,
    responses=responses(401, 403),
    summary="Clusters the caller may see, each with its latest version",
    description="A token limited to cluster patterns sees only the clusters it may access.",
)
def get_clusters(session: SessionDep, principal: ReadAccess) -> ClusterList:
    return ClusterList(
        items=[ClusterOut.of(c) for c in list_clusters(session) if principal.may_access(c.name)]
    )


@router.get(
    "/clusters/{cluster}",
    response_model=ClusterOut,
    responses=responses(401, 403, 404, 422),
    summary="One cluster, with its latest version",
    description="404 if no snapshot was ever uploaded under that name (or it was deleted).",
)
def get_one_cluster(cluster: ClusterPath, session: SessionDep, principal: ReadAccess) -> ClusterOut:
    return ClusterOut.of(get_cluster(session, cluster))


@router.delete(
    "/clusters/{cluster}",
    status_code=204,
    response_class=Response,
    responses=responses(401, 403, 404, 422),
    summary="Delete a cluster with every snapshot of it",
    description="Its name may be used again afterwards; versions then start again at 1.",
)
def remove_cluster(
    cluster: ClusterPath,
    principal: WriteAccess,
    session: WriteSessionDep,
    analyzer: AnalyzerDep,
    runtime: RuntimeDep,
) -> Response:
    doomed = list_snapshots(session, cluster, after=None, limit=2**31 - 1)
    delete_cluster(session, cluster)
    session.commit()  # before forgetting, so no reader caches a snapshot again
    runtime.refs.forget(cluster)
    for record in doomed:
        analyzer.forget(record)
    # After the response: free the objects no snapshot holds any more.
    return Response(status_code=204, background=BackgroundTask(runtime.collector.run))
