"""The public entry points: request bodies and files to documents."""

from __future__ import annotations

import os
import re
import stat
from codecs import BOM_UTF8
from collections.abc import Iterator, Sequence
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Literal, Protocol

from service.engine.collector import paused_gc
from service.engine.model import Document, ManifestError, Problem
from service.ingest.collect import Collector, StopReading, Transform
from service.ingest.json_reader import JSONSyntaxError, read_json
from service.ingest.limits import Limits, MiB
from service.ingest.text import decode_utf8, iter_utf8
from service.ingest.yaml_reader import read_yaml

Format = Literal["json", "yaml"]

JSON_TYPES = frozenset({"application/json", "text/json"})
YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")

CHUNK_BYTES = 8 * MiB
# A sniffed "JSON" input that fails to parse is retried as YAML (`{a: 1}` is YAML, not JSON)
# when it is small enough for the retry to be cheap.
YAML_RETRY_BYTES = 16 * MiB

_LEADING = re.compile(rb"(?:\xef\xbb\xbf)?[ \t\r\n]*")


def media_format(content_type: str | None) -> Format | None:
    """The format a Content-Type names, or None to sniff (absent, text/plain, unknown)."""
    if content_type is None:
        return None
    media = content_type.split(";", 1)[0].strip().lower()
    if media in JSON_TYPES or media.endswith("+json"):
        return "json"
    if media in YAML_TYPES or media.endswith("+yaml"):
        return "yaml"
    return None


def sniff(head: bytes) -> Format:
    """JSON if the first non-blank character opens an object or array, else YAML.

    YAML is a superset of JSON, so either would parse a JSON body, but the JSON path is
    many times faster."""
    start = _LEADING.match(head)
    first = head[start.end() : start.end() + 1] if start else head[:1]
    return "json" if first in (b"{", b"[") else "yaml"


def _too_large(size: int, limits: Limits) -> ManifestError:
    return ManifestError(
        [Problem(f"input is {size} bytes; the limit is {limits.max_bytes} bytes")],
        too_large=True,
    )


class _Input(Protocol):
    """One source of bytes: its first chunk, the chunks after it, or all of it at once."""

    size: int

    def head(self) -> bytes: ...

    def rest(self) -> Iterator[bytes | memoryview]: ...

    def whole(self) -> bytes: ...


class _Memory:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)

    def head(self) -> bytes:
        return self.data[:CHUNK_BYTES]

    def rest(self) -> Iterator[bytes | memoryview]:
        view = memoryview(self.data)  # the decoder takes views: no copy of the input
        for start in range(CHUNK_BYTES, self.size, CHUNK_BYTES):
            yield view[start : start + CHUNK_BYTES]

    def whole(self) -> bytes:
        return self.data


class _Pieces:
    """A body in the pieces it arrived in (a request's, some KiB to a MiB each): read as
    they are, never joined but for YAML (which needs the whole text) or to sniff the start."""

    def __init__(self, pieces: Sequence[bytes]) -> None:
        self.pieces = [piece for piece in pieces if piece]
        self.size = sum(len(piece) for piece in self.pieces)
        taken = count = 0
        while count < len(self.pieces) and taken < CHUNK_BYTES:
            taken += len(self.pieces[count])
            count += 1
        self._in_head = count
        self._head = b"".join(self.pieces[:count])

    def head(self) -> bytes:
        return self._head

    def rest(self) -> Iterator[bytes]:
        yield from self.pieces[self._in_head :]

    def whole(self) -> bytes:
        return b"".join(self.pieces)


class _File:
    """An open file read in chunks, charging every byte read to a budget shared by all the
    files of one read (the sizes were checked up front; this catches files that grow)."""

    def __init__(self, file: BinaryIO, budget: list[int], limits: Limits) -> None:
        self.file = file
        self.budget = budget
        self.limits = limits
        status = os.fstat(file.fileno())
        self.size = status.st_size
        self._regular = stat.S_ISREG(status.st_mode)
        self._head = self._read(CHUNK_BYTES)

    def _read(self, size: int = -1) -> bytes:
        data = self.file.read(size)
        self.budget[0] -= len(data)
        if self.budget[0] < 0:
            raise _too_large(self.limits.max_bytes - self.budget[0], self.limits)
        return data

    def head(self) -> bytes:
        return self._head

    def rest(self) -> Iterator[bytes]:
        self.file.seek(len(self._head))
        while chunk := self._read(CHUNK_BYTES):
            yield chunk

    def whole(self) -> bytes:
        if self._regular and len(self._head) < CHUNK_BYTES:
            return self._head  # a file's first read came back short: it was all of it
        self.budget[0] += self.file.tell()  # re-reading from the start costs nothing new
        self.file.seek(0)
        return self._read()


def _read(out: Collector, source: str | None, declared: Format | None, data: _Input) -> None:
    """Read one source into ``out`` (StopReading ends it)."""
    head = data.head()
    if (declared or sniff(head)) == "yaml":
        _read_yaml(out, source, data)
        return
    mark = out.mark()
    try:
        read_json(iter_utf8(_chain(head, data.rest()), source), source, out.limits, out)
    except JSONSyntaxError as error:
        if declared is not None or data.size > YAML_RETRY_BYTES:
            raise
        json_error = error
    else:
        return
    out.rewind(mark)
    try:
        _read_yaml(out, source, data)
    except StopReading:
        out.rewind(mark)
        raise json_error from None  # it looked like JSON: report the JSON error


def _read_yaml(out: Collector, source: str | None, data: _Input) -> None:
    raw = data.whole()
    if raw.isascii():  # valid UTF-8 as it is: decoded only if a reader needs the text
        read_yaml(None, source, out.limits, out, raw)
        return
    text = decode_utf8(raw, source)
    if raw.startswith(BOM_UTF8):
        raw = raw[len(BOM_UTF8) :]
    read_yaml(text, source, out.limits, out, raw)


def _chain(head: bytes, rest: Iterator[bytes | memoryview]) -> Iterator[bytes | memoryview]:
    yield head
    yield from rest


def read_bytes(
    data: bytes | Sequence[bytes],
    *,
    source: str | None = None,
    content_type: str | None = None,
    limits: Limits = Limits(),
    transform: Transform | None = None,
) -> list[Document]:
    """Decode a request body (or any bytes) into documents.

    ``data`` is the body whole, or the pieces it arrived in, in order (read without being
    joined).

    ``content_type`` selects JSON or YAML; without one the format is sniffed. Raises
    ManifestError listing every problem found, with ``too_large`` set when a size or count
    limit was exceeded. ``transform`` (if given) is applied to every object as soon as it is
    decoded, e.g. to keep only the fields the caller reads.
    """
    given: _Input = _Memory(data) if isinstance(data, bytes) else _Pieces(data)
    if given.size > limits.max_bytes:
        raise _too_large(given.size, limits)
    out = Collector(limits, transform)
    with paused_gc():
        try:
            _read(out, source, media_format(content_type), given)
        except StopReading as stop:
            out.problem(stop.problem)
    return out.finish()


def _walk_error(error: OSError) -> None:
    raise error


def is_manifest_name(name: str) -> bool:
    """A file a directory walk reads: ``.yaml``, ``.yml`` or ``.json``, not hidden."""
    return not name.startswith(".") and name.lower().endswith(MANIFEST_SUFFIXES)


def excluded(path: str, patterns: Sequence[str]) -> bool:
    """Whether ``path`` (``/``-separated) or one of its directories matches a glob.

    A pattern matches the whole path (``charts/*/values.yaml``, ``**/values.yaml``), or its
    end (``values.yaml``, ``kustomization.yaml``), or a directory on the way (``charts``).

    >>> excluded("deploy/charts/web/values.yaml", ["values.yaml"])
    True
    >>> excluded("deploy/charts/web/templates/a.yaml", ["deploy/charts"])
    True
    >>> excluded("deploy/app.yaml", ["*.json", "charts"])
    False
    """
    if not patterns:
        return False
    pure = PurePosixPath(path)
    prefixes = [str(p) for p in reversed(pure.parents) if str(p) != "."]
    for pattern in patterns:
        pattern = pattern.rstrip("/")
        if fnmatch(path, pattern) or pure.match(pattern):
            return True
        if pattern.startswith("**/") and pure.match(pattern[3:]):
            return True
        if any(fnmatch(prefix, pattern) or PurePosixPath(prefix).match(pattern)
               for prefix in prefixes):  # fmt: skip
            return True
    return False


def manifest_files(
    paths: Sequence[str | Path], exclude: Sequence[str] = ()
) -> list[tuple[Path, str]]:
    """The files to read, with the source name of each: files as given, and the manifest
    files (``.yaml``, ``.yml``, ``.json``) under directories, recursively, sorted, skipping
    hidden files and directories (``.git``) and paths matching ``exclude`` (globs, matched
    against the path as found). Raises ManifestError naming missing paths."""
    found: list[tuple[Path, str]] = []
    missing: list[Problem] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            inside: list[Path] = []
            try:
                for root, dirs, names in os.walk(path, onerror=_walk_error):
                    dirs[:] = [
                        d for d in dirs
                        if not d.startswith(".") and not excluded(Path(root, d).as_posix(), exclude)
                    ]  # fmt: skip
                    inside.extend(
                        Path(root, name)
                        for name in names
                        if is_manifest_name(name)
                        and not excluded(Path(root, name).as_posix(), exclude)
                    )
            except OSError as error:
                missing.append(Problem(f"{error.filename or path}: cannot list: {error.strerror}"))
            inside.sort(key=lambda file: file.relative_to(path).parts)
            found.extend((file, str(file)) for file in inside)
        elif path.exists():
            if not excluded(Path(given).as_posix(), exclude):
                found.append((path, str(given)))
        else:
            missing.append(Problem(f"{given}: no such file or directory"))
    if missing:
        raise ManifestError(missing)
    return found


def read_sources(
    sources: Sequence[tuple[str, bytes]],
    limits: Limits = Limits(),
    transform: Transform | None = None,
    *,
    warnings: list[str] | None = None,
) -> list[Document]:
    """Decode in-memory files (name, content), as :func:`read_paths` reads files: JSON by
    the ``.json`` suffix, otherwise sniffed; documents without apiVersion and kind skipped
    (each file named in ``warnings``)."""
    total = sum(len(data) for _, data in sources)
    if total > limits.max_bytes:
        raise _too_large(total, limits)
    out = Collector(limits, transform, skip_foreign=True)
    with paused_gc():
        for source, data in sources:
            declared: Format | None = "json" if source.lower().endswith(".json") else None
            try:
                _read(out, source, declared, _Memory(data))
            except StopReading as stop:
                out.problem(stop.problem)
    if warnings is not None:
        warnings += out.warnings()
    return out.finish()


def read_paths(
    paths: Sequence[str | Path],
    limits: Limits = Limits(),
    transform: Transform | None = None,
    *,
    exclude: Sequence[str] = (),
    warnings: list[str] | None = None,
) -> list[Document]:
    """Decode files, and manifest files under directories, into documents.

    ``Origin.source`` is each file's path as given (or as found under a given directory).
    ``max_bytes`` applies to all the files together. A file with a syntax error is reported
    and the other files are still read; every problem is raised in one ManifestError.
    Documents with neither apiVersion nor kind (Helm values, CI configs) are skipped, and
    each file that had some is named in ``warnings``.
    """
    files = manifest_files(paths, exclude)
    sizes = []
    for path, source in files:
        try:
            sizes.append(path.stat().st_size)
        except OSError as error:
            raise ManifestError([Problem(f"{source}: cannot read: {error.strerror}")]) from None
    if sum(sizes) > limits.max_bytes:
        raise _too_large(sum(sizes), limits)
    out = Collector(limits, transform, skip_foreign=True)
    budget = [limits.max_bytes]
    with paused_gc():
        for path, source in files:
            try:
                _read_file(out, path, source, budget)
            except StopReading as stop:
                out.problem(stop.problem)
            except OSError as error:
                out.problem(Problem(f"{source}: cannot read: {error.strerror or error}"))
    if warnings is not None:
        warnings += out.warnings()
    return out.finish()


def _read_file(out: Collector, path: Path, source: str, budget: list[int]) -> None:
    declared: Format | None = "json" if path.suffix.lower() == ".json" else None
    with path.open("rb") as file:
        _read(out, source, declared, _File(file, budget, out.limits))
