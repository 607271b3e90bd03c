"""Bytes and files to documents: multi-document YAML and JSON, ``kind: List`` (``kubectl get
-o yaml|json`` output), with size, count, depth and alias limits. Depends only on the engine's
model."""

from service.ingest.limits import Limits
from service.ingest.reader import excluded, is_manifest_name, read_bytes, read_paths, read_sources

__all__ = [
    "Limits",
    "excluded",
    "is_manifest_name",
    "read_bytes",
    "read_paths",
    "read_sources",
]
