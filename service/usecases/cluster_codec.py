"""Resolved clusters, compiled snapshots and connectivity maps as bytes and back, for the
cache directory (:mod:`cluster_cache`).

pickle protocol 5, with one change: a frozen dataclass is reduced to its constructor and
its field values. The standard reduction of a slotted frozen dataclass restores each object
through ``dataclasses``' ``__setstate__``, a Python loop that calls ``fields()`` per object
(0.45 s for the 10,000-pod cluster); the constructor takes 0.07 s. orjson of a compact form
needs as long to decode before it has rebuilt a single object (``python -m bench.cache``
measures all three).

A compiled snapshot holds its resolved cluster (loading it needs no other entry), drops
what it builds on first use (endpoint lookups, run indexes), and keeps every object shared
as shared (a policy compiled once and listed under each class it selects). numpy arrays go
as their raw bytes.

Unpickling runs the constructors the data names, so :func:`load_value` is only for bytes
netreach wrote itself (the cache directory checks an HMAC first), and even then resolves
nothing but the engine's model, compiled-form and map classes, ``ipaddress`` values and
numpy arrays rebuilt from bytes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import ipaddress
import pickle
import sys
from enum import Enum
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from isal import isal_zlib

from service.engine.collector import paused_gc
from service.engine.compile import CompiledCluster
from service.engine.model import Cluster, PortSet
from service.engine.peersets import PeerSets

T = TypeVar("T")

FORMAT_VERSION = 2
_MODEL_PACKAGE = "service.engine.model"
# Modules outside the model whose classes a compiled snapshot or a map is made of.
_ENGINE_MODULES = frozenset(
    {"service.engine.compile", "service.engine.peersets", "service.engine.connectivity",
     "service.engine.options"}
)  # fmt: skip
_IPADDRESS = frozenset(
    {"IPv4Address", "IPv6Address", "IPv4Network", "IPv6Network", "IPv4Interface", "IPv6Interface"}
)
# Whatever turns stored bodies into a resolved cluster, and this format: a change to any of
# them gives another fingerprint, so a cache written by other code is never read.
_SOURCES = ("engine", "ingest", "store", "usecases/manifests.py", "usecases/cluster_codec.py")


def _constructor_fields(cls: type) -> tuple[str, ...] | None:
    """The field names to pass to ``cls(...)`` positionally, or None when the constructor
    would not rebuild the same value (fields outside ``__init__``, keyword-only fields, or a
    ``__post_init__`` that might change what it is given)."""
    if not dataclasses.is_dataclass(cls) or hasattr(cls, "__post_init__"):
        return None
    fields = dataclasses.fields(cls)
    if any(not f.init or f.kw_only for f in fields):
        return None
    return tuple(f.name for f in fields)


_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _array(data: bytes, dtype: str, shape: tuple[int, ...]) -> npt.NDArray[Any]:
    """A numpy array from its raw bytes (a copy: writable, like the one dumped)."""
    return np.frombuffer(data, dtype=np.dtype(dtype)).reshape(shape).copy()


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        cls = type(obj)
        if cls is np.ndarray:
            return _array, (obj.tobytes(), obj.dtype.str, obj.shape)
        if cls is PeerSets:  # its run index is built again on first use
            return PeerSets, (tuple(obj),)
        if cls is PortSet:  # immutable, slotted: through its constructor
            return PortSet, (obj.ranges,)
        if cls is CompiledCluster and obj._lookups is not None:  # built again on first use
            return self.reducer_override(dataclasses.replace(obj, _lookups=None))
        try:
            names = _FIELDS[cls]
        except KeyError:
            names = _FIELDS[cls] = _constructor_fields(cls)
        if names is not None:
            return cls, tuple(getattr(obj, name) for name in names)
        if isinstance(obj, Enum):  # by value on every Python version (3.12 pickles by name)
            return cls, (obj.value,)
        return NotImplemented


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "ipaddress" and name in _IPADDRESS:
            return getattr(ipaddress, name)
        if module == __name__ and name == "_array":
            return _array
        if (
            module == _MODEL_PACKAGE
            or module.startswith(_MODEL_PACKAGE + ".")
            or module in _ENGINE_MODULES
        ):
            value = getattr(sys.modules.get(module), name, None)
            if isinstance(value, type):
                return value
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a resolved cluster")


def dump_value(value: object) -> bytes:
    """A resolved cluster, a compiled snapshot or a connectivity map as bytes."""
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=5).dump(value)
    # the zlib format through ISA-L: 5x smaller for 10 ms per 10,000 pods, and read back
    # in a third of zlib's time (a compiled 100,000-pod snapshot is 95 MB of pickle)
    return isal_zlib.compress(buffer.getbuffer(), 1)


def load_value(data: bytes, kind: type[T]) -> T:
    """Raises ValueError (or pickle's errors) when ``data`` is not a dumped ``kind``."""
    with paused_gc():  # hundreds of thousands of objects, no cycles among them
        value = _Unpickler(io.BytesIO(isal_zlib.decompress(data))).load()
    if not isinstance(value, kind):
        raise ValueError(f"a cached entry holds a {type(value).__name__}, not a {kind.__name__}")
    return value


def dump_cluster(cluster: Cluster) -> bytes:
    return dump_value(cluster)


def load_cluster(data: bytes) -> Cluster:
    """Raises ValueError (or pickle's errors) when ``data`` is not a dumped cluster."""
    return load_value(data, Cluster)


@lru_cache(maxsize=1)
def fingerprint() -> bytes:
    """32 bytes that change with the format, the Python version, netreach's version and the
    source of every module that decides what a stored snapshot resolves to."""
    digest = hashlib.sha256(f"{FORMAT_VERSION}|{sys.implementation.cache_tag}|".encode())
    try:
        digest.update(version("netreach").encode())
    except PackageNotFoundError:  # a checkout that was never installed
        digest.update(b"unknown")
    root = Path(__file__).resolve().parent.parent
    for source in _SOURCES:
        path = root / source
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            digest.update(str(file.relative_to(root)).encode() + b"\0" + file.read_bytes())
    return digest.digest()
