"""Shared helpers of the diff tests: the golden cases, applied as what-ifs to one cluster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from service.engine.diff import ObjectKey
from service.engine.model import Document, Origin
from service.usecases.diffs import ProposedChange, apply_change

CASES = Path(__file__).parent / "cases"
GOLDEN = Path(__file__).parent / "golden"

# name -> (file of objects to add or replace, or None; objects to delete)
GOLDEN_CASES: dict[str, tuple[str | None, tuple[ObjectKey, ...]]] = {
    "new-default-deny": ("new-default-deny.yaml", ()),
    "widened-namespace-selector": ("widened-namespace-selector.yaml", ()),
    "removed-dns-rule": (None, (ObjectKey("NetworkPolicy", "shop", "allow-dns"),)),
    "new-ipblock-anywhere": ("new-ipblock-anywhere.yaml", ()),
    "default-deny-egress-without-dns": ("default-deny-egress-without-dns.yaml", ()),
    "namespace-relabel": ("namespace-relabel.yaml", ()),
    "renamed-container-port": ("renamed-container-port.yaml", ()),
    "relabelled-pods": ("relabelled-pods.yaml", ()),
    "retargeted-service": ("retargeted-service.yaml", ()),
    "deleted-policy": (None, (ObjectKey("NetworkPolicy", "shop", "api"),)),
}


def read_yaml(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def base_documents() -> list[dict[str, Any]]:
    return read_yaml(CASES / "cluster.yaml")


def case_change(name: str) -> ProposedChange:
    file, deletions = GOLDEN_CASES[name]
    bodies = read_yaml(CASES / file) if file else []
    documents = tuple(Document(Origin(file, i), b) for i, b in enumerate(bodies))
    return ProposedChange(documents, deletions)


def write_case(tmp: Path, name: str) -> tuple[Path, Path]:
    """``base.json`` and ``head.json`` of a golden case, as the CLI reads them."""
    base = base_documents()
    head = apply_change(base, case_change(name))
    paths = tmp / "base.json", tmp / "head.json"
    for path, docs in zip(paths, (base, head), strict=True):
        path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}))
    return paths
