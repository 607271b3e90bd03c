"""Multi-document YAML to documents: the fast path when it can prove its answer, the exact
reader otherwise (see :mod:`service.ingest.yaml_fast` and :mod:`service.ingest.yaml_exact`)."""

from __future__ import annotations

import re

import numpy as np

from service.ingest.collect import Collector
from service.ingest.limits import Limits
from service.ingest.yaml_fast import Scan, read_yaml_fast

# A `---` line (alone, or with a null: `--- ~`) followed, after blank and comment lines
# only, by another: an empty document between them (a `---` at the start of a line always is
# a marker, even in a block scalar).
_EMPTY_BETWEEN = re.compile(
    rb"^---[ \t]*(?:(?:~|null|Null|NULL)[ \t]*)?(?:#[^\n]*)?\r?\n"
    rb"(?:[ \t]*(?:#[^\n]*)?\r?\n)*(?=---(?:[ \t\r\n]|$))",
    re.M,
)


def _dashes_at_most(scan: Scan, cap: int) -> bool:
    """Whether the input holds at most ``cap`` (non-overlapping) ``---``: counted in numpy
    from the scan's dashes, overlapping ones too (at least as many; bytes.count follows every
    dash, four times slower), and by ``bytes.count`` only if that is more."""
    data, last = scan.data, len(scan.data) - 1
    dashes = scan.positions(ord("-"))
    dashes = dashes[data[np.minimum(dashes + 1, last)] == ord("-")]
    if int(np.count_nonzero(data[np.minimum(dashes + 2, last)] == ord("-"))) <= cap:
        return True
    return scan.raw.count(b"---") <= cap


def _surely_empty(scan: Scan, cap: int) -> int:
    """How many documents are certainly empty (up to ``cap + 1``), found in the text alone,
    so that a flood of separators is refused before either reader walks it."""
    if _dashes_at_most(scan, cap):
        return 0
    found = 0
    for _ in _EMPTY_BETWEEN.finditer(scan.raw):
        found += 1
        if found > cap:
            break
    return found


def read_yaml(
    text: str | None,
    source: str | None,
    limits: Limits,
    out: Collector,
    raw: bytes | None = None,
) -> None:
    """Decode every document of a YAML stream into ``out`` (``raw``: ``text`` as UTF-8, if
    the caller has it; ``text`` may be None when ``raw`` is ASCII, and is decoded only if
    needed). Raises StopReading on a syntax error (the rest of the stream is lost); other
    problems are collected per document."""
    if raw is not None:
        data = raw
    elif text is not None:
        data = text.encode("utf-8", "surrogatepass")
    else:
        raise ValueError("read_yaml needs the text or its bytes")
    scan = Scan(data)
    out.check_empty(_surely_empty(scan, limits.max_empty_documents - out.empty))
    if read_yaml_fast(text, data, source, limits, out, scan):
        return
    from service.ingest.yaml_exact import read_yaml_exact  # libyaml: loaded only when needed

    read_yaml_exact(text if text is not None else data.decode("ascii"), source, limits, out)
