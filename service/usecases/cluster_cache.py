"""Resolved clusters, compiled snapshots and their maps in a cache directory, by snapshot
content hash, across processes.

The first analysis of a stored snapshot in a fresh process would otherwise fetch, decode and
parse every manifest again (the 10,000-pod cluster: seconds); loading its resolved
:class:`~service.engine.model.Cluster` from here takes a tenth of that. A resolved cluster
depends on the snapshot's content only (analysis options apply when compiling), so the
content hash is the key. A compiled snapshot (which holds its resolved cluster) is keyed by
content hash and analysis options, a connectivity map by those and its granularity: the
first what-if or diff on a 100,000-pod snapshot then neither compiles nor maps the base.

Each entry is one file, ``clusters/<key>.bin``::

    MAGIC | format, fingerprint, sha256(content hash), payload length | HMAC-SHA256 | payload

* **Versioned**: the key and the header hold the code's fingerprint
  (:func:`~service.usecases.cluster_codec.fingerprint`), so another release (or another
  build of the engine) never reads an entry this one wrote.
* **Trusted only if it is ours**: the payload is a pickle, and unpickling runs code, so an
  entry is read only if its HMAC verifies with the key in ``key`` (32 random bytes, created
  with mode 0600 on first use). The directory is the service's own: whoever can read that
  key can forge entries; a key file readable by others turns the cache off.
* **Never torn**: an entry is written to a temporary file and renamed into place, so readers
  see a whole old file or a whole new one, never a mix (no fsync: after a crash a truncated
  file fails its length or HMAC check).
* **Never wrong, at worst missing**: a corrupt, truncated, stale or unreadable entry is a
  miss (and removed); the caller then parses the snapshot and writes the entry again. No
  error of the cache directory fails an analysis.
* **Bounded**: after each write, the least recently used entries go until the files fit in
  ``max_bytes`` (a hit refreshes its entry's modification time).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import struct
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import structlog

from service.engine.compile import CompiledCluster
from service.engine.connectivity import ConnectivityMap
from service.engine.model import Cluster
from service.engine.options import AnalysisOptions, Granularity
from service.usecases.cluster_codec import FORMAT_VERSION, dump_value, fingerprint, load_value

T = TypeVar("T")

log = structlog.get_logger("netreach.cache")

MAGIC = b"netreach-cluster"
_HEADER = struct.Struct(">H32s32sQ")  # format, fingerprint, key digest, payload length
_MAC_BYTES = 32
_PAYLOAD_AT = len(MAGIC) + _HEADER.size + _MAC_BYTES
KEY_BYTES = 32
ORPHAN_SECONDS = 3600  # a temporary file this old belongs to a writer that died


class ClusterCache:
    """Resolved clusters in ``directory``; see the module docstring for the guarantees."""

    def __init__(self, directory: Path, max_bytes: int, *, key: bytes | None = None) -> None:
        self.directory = Path(directory)
        self.entries = self.directory / "clusters"
        self.max_bytes = max_bytes
        self._key = key
        self._writer: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self.hits = self.misses = self.rejected = self.writes = 0

    @classmethod
    def open(cls, directory: Path, max_bytes: int) -> ClusterCache | None:
        """The cache in ``directory``, or None when it is turned off (``max_bytes`` 0) or
        cannot be used (unwritable, or a key file others may read); logged once."""
        if max_bytes <= 0:
            return None
        try:
            return cls(directory, max_bytes, key=_load_or_create_key(Path(directory)))
        except (OSError, UnsafeKeyError) as error:
            log.warning("cache directory unusable; stored snapshots are parsed again in each "
                        "process", directory=str(directory), error=str(error))  # fmt: skip
            return None

    # -- reading ------------------------------------------------------------------------

    def get(self, content_hash: str) -> Cluster | None:
        return self._get(content_hash, Cluster)

    def get_compiled(self, content_hash: str, options: AnalysisOptions) -> CompiledCluster | None:
        return self._get(_compiled_key(content_hash, options), CompiledCluster)

    def get_map(
        self, content_hash: str, options: AnalysisOptions, granularity: Granularity
    ) -> ConnectivityMap | None:
        return self._get(_map_key(content_hash, options, granularity), ConnectivityMap)

    def _get(self, content_hash: str, kind: type[T]) -> T | None:
        path = self._path(content_hash)
        try:
            data = path.read_bytes()
        except OSError:  # absent (the usual miss), or unreadable
            self._count("misses")
            return None
        payload = self._verified_payload(data, content_hash)
        value = None
        if payload is not None:
            try:
                value = load_value(payload, kind)
            except Exception:  # a verified entry that does not load: written by a bug
                log.warning("cached entry does not load", path=str(path), exc_info=True)
        if value is None:
            self._count("rejected")
            _remove(path)
            return None
        self._count("hits")
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: evicted last
        return value

    def _verified_payload(self, data: bytes, content_hash: str) -> bytes | None:
        if len(data) < _PAYLOAD_AT or not data.startswith(MAGIC):
            return None
        header = data[len(MAGIC) : len(MAGIC) + _HEADER.size]
        form, code, key_digest, length = _HEADER.unpack(header)
        if (form, code, key_digest) != (FORMAT_VERSION, fingerprint(), _digest(content_hash)):
            return None
        payload = data[_PAYLOAD_AT:]
        mac = data[_PAYLOAD_AT - _MAC_BYTES : _PAYLOAD_AT]
        if len(payload) != length or not hmac.compare_digest(mac, self._mac(header, payload)):
            return None
        return payload

    # -- writing ------------------------------------------------------------------------

    def put(self, content_hash: str, cluster: Cluster | CompiledCluster | ConnectivityMap) -> bool:
        """Write the entry unless one is there already; False when it was not written.
        ``content_hash`` names the entry: :meth:`put_compiled_later` and
        :meth:`put_map_later` name theirs after the options and granularity too."""
        if self._path(content_hash).exists():
            return False
        return self.write(content_hash, cluster)

    def write(
        self, content_hash: str, cluster: Cluster | CompiledCluster | ConnectivityMap
    ) -> bool:
        """Write the entry, replacing any; False when it could not be written (logged)."""
        path = self._path(content_hash)
        try:
            payload = dump_value(cluster)
            header = _HEADER.pack(FORMAT_VERSION, fingerprint(), _digest(content_hash),
                                  len(payload))  # fmt: skip
            if len(payload) + _PAYLOAD_AT > self.max_bytes:
                return False
            self.entries.mkdir(parents=True, exist_ok=True, mode=0o700)
            handle, temporary = tempfile.mkstemp(prefix=".tmp-", dir=self.entries)
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(MAGIC + header + self._mac(header, payload))
                    out.write(payload)
                os.replace(temporary, path)
            except BaseException:
                _remove(Path(temporary))
                raise
        except Exception:
            log.warning("could not write to the cache directory", path=str(path), exc_info=True)
            return False
        self._count("writes")
        self.evict()
        return True

    def put_later(
        self, content_hash: str, cluster: Cluster | CompiledCluster | ConnectivityMap
    ) -> Future[bool]:
        """:meth:`put` in a background thread, off the request's path (pending writes are
        finished when the interpreter exits)."""
        with self._lock:
            if self._writer is None:
                self._writer = ThreadPoolExecutor(1, thread_name_prefix="netreach-cache")
            return self._writer.submit(self.put, content_hash, cluster)

    def put_compiled_later(
        self, content_hash: str, options: AnalysisOptions, compiled: CompiledCluster
    ) -> Future[bool]:
        return self.put_later(_compiled_key(content_hash, options), compiled)

    def put_map_later(
        self,
        content_hash: str,
        options: AnalysisOptions,
        granularity: Granularity,
        cmap: ConnectivityMap,
    ) -> Future[bool]:
        return self.put_later(_map_key(content_hash, options, granularity), cmap)

    def put_compiled(
        self, content_hash: str, options: AnalysisOptions, compiled: CompiledCluster
    ) -> bool:
        return self.put(_compiled_key(content_hash, options), compiled)

    def put_map(
        self,
        content_hash: str,
        options: AnalysisOptions,
        granularity: Granularity,
        cmap: ConnectivityMap,
    ) -> bool:
        return self.put(_map_key(content_hash, options, granularity), cmap)

    def has_compiled(self, content_hash: str, options: AnalysisOptions) -> bool:
        """Is there an entry (not yet verified: reading it may still find it stale)?"""
        return self._path(_compiled_key(content_hash, options)).exists()

    def has_map(
        self, content_hash: str, options: AnalysisOptions, granularity: Granularity
    ) -> bool:
        return self._path(_map_key(content_hash, options, granularity)).exists()

    def drain(self) -> None:
        """Wait for the writes :meth:`put_later` started so far (the writer is one thread:
        a no-op submitted now runs after them)."""
        with self._lock:
            writer = self._writer
            try:
                done = None if writer is None else writer.submit(lambda: None)
            except RuntimeError:  # shut down by flush(), which waits for them itself
                done = None
        if done is not None:
            done.result()

    def flush(self) -> None:
        """Wait for the writes :meth:`put_later` started."""
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.shutdown(wait=True)

    def evict(self) -> None:
        """Remove the least recently used entries until the rest fit in ``max_bytes``, and
        temporary files left by writers that died."""
        entries: list[tuple[float, int, Path]] = []
        now = time.time()
        try:
            listing = list(os.scandir(self.entries))
        except OSError:
            return
        for item in listing:
            try:
                stat = item.stat()
            except OSError:
                continue
            if item.name.startswith(".tmp-"):
                if now - stat.st_mtime > ORPHAN_SECONDS:
                    _remove(Path(item.path))
            elif item.name.endswith(".bin"):
                entries.append((stat.st_mtime, stat.st_size, Path(item.path)))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            _remove(path)
            total -= size

    # -- internals ----------------------------------------------------------------------

    def _path(self, content_hash: str) -> Path:
        name = hashlib.sha256(fingerprint() + content_hash.encode()).hexdigest()[:40]
        return self.entries / f"{name}.bin"

    def _mac(self, header: bytes, payload: bytes) -> bytes:
        if self._key is None:
            self._key = _load_or_create_key(self.directory)
        signer = hmac.new(self._key, MAGIC + header, hashlib.sha256)
        signer.update(payload)
        return signer.digest()

    def _count(self, counter: str) -> None:
        with self._lock:
            setattr(self, counter, getattr(self, counter) + 1)


class UnsafeKeyError(Exception):
    """The HMAC key file may be read or written by other users."""


def _compiled_key(content_hash: str, options: AnalysisOptions) -> str:
    return f"{content_hash}|compiled|{options!r}"


def _map_key(content_hash: str, options: AnalysisOptions, granularity: Granularity) -> str:
    return f"{content_hash}|map|{options!r}|{granularity.value}"


def _digest(content_hash: str) -> bytes:
    return hashlib.sha256(content_hash.encode()).digest()


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _load_or_create_key(directory: Path) -> bytes:
    """The directory's HMAC key, created on first use: written whole to a private temporary
    file, then linked into place (so two processes starting at once agree on one key)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / "key"
    if not path.exists():
        handle, temporary = tempfile.mkstemp(prefix=".key-", dir=directory)  # mode 0600
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(secrets.token_bytes(KEY_BYTES))
            with contextlib.suppress(FileExistsError):  # another process won: use theirs
                os.link(temporary, path)
        finally:
            _remove(Path(temporary))
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise UnsafeKeyError(f"{path} may be read or written by other users (chmod 600 it)")
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise UnsafeKeyError(f"{path} is not a key netreach wrote ({len(key)} bytes)")
    return key
