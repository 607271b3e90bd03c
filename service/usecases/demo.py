"""Load the demo cluster (two versions of a small shop) into the database."""

from __future__ import annotations

from importlib import resources

from sqlalchemy.orm import Session

from service.store.records import SnapshotRecord
from service.usecases.snapshots import record_snapshot

DEMO_CLUSTER = "demo"
VERSIONS = ("v1.yaml", "v2.yaml")


def load_demo(session: Session) -> list[SnapshotRecord]:
    """Record both versions (idempotent: existing identical versions are reused)."""
    records = []
    for name in VERSIONS:
        data = resources.files("service.demo").joinpath(name).read_bytes()
        record, _ = record_snapshot(
            session, DEMO_CLUSTER, data, content_type="application/yaml", source=f"demo/{name}"
        )
        session.commit()
        records.append(record)
    return records


def curl_examples(base: str) -> list[str]:
    """Commands that work against the demo as loaded."""
    v = f"{base}/v1/clusters/{DEMO_CLUSTER}"
    return [
        f"curl {base}/v1/clusters",
        f"curl {v}/snapshots",
        f"curl '{v}/snapshots/latest/connectivity?granularity=workload&format=md'",
        f"curl -X POST -H 'Content-Type: application/json' -d '{{\"from\": "
        f'"shop/Deployment/api", "to": "payments/Service/gateway", "port": 443}}\' '
        f"{v}/snapshots/latest/reachability",
        f"curl '{v}/diff?base=1&head=2&format=md'",
        f"curl '{v}/snapshots/2/lint?format=text'",
        f"curl -X POST --data-binary @service/demo/v1.yaml -H 'Content-Type: application/yaml' "
        f"{base}/v1/clusters/staging/snapshots",
    ]
