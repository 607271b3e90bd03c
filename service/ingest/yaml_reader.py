"""Multi-document YAML to documents: the fast path when it can prove its answer, the exact
reader otherwise (see :mod:`service.ingest.yaml_fast` and :mod:`service.ingest.yaml_exact`)."""

from __future__ import annotations

from service.ingest.collect import Collector
from service.ingest.limits import Limits
from service.ingest.yaml_exact import read_yaml_exact
from service.ingest.yaml_fast import read_yaml_fast


def read_yaml(
    text: str, source: str | None, limits: Limits, out: Collector, raw: bytes | None = None
) -> None:
    """Decode every document of a YAML stream into ``out`` (``raw``: ``text`` as UTF-8, if
    the caller has it). Raises StopReading on a syntax error (the rest of the stream is
    lost); other problems are collected per document."""
    data = raw if raw is not None else text.encode("utf-8", "surrogatepass")
    if read_yaml_fast(text, data, source, limits, out):
        return
    read_yaml_exact(text, source, limits, out)
