"""Hashing and compressing an upload's bodies in a child process, while it is validated.

Compression and hashing release the GIL, but a thread doing them one object at a time
needs the GIL back after every object, and waits for it while validation (pure Python)
holds it: beside validation such a thread got little done, and the two together took
longer than one after the other. A child process (:mod:`service.store_worker`) has no such
wait. The caller serialises the bodies (``canonical_blob``, one orjson call per batch)
and hands each batch over; a writer thread feeds the child and a reader thread collects
its answers while the caller goes on (validating); :meth:`OffloadedObjects.finish` then
builds the same :class:`PreparedObjects` as ``prepare_objects(compress=True)``.

Anything wrong with the child (it cannot start, dies, answers nonsense) is a
:class:`WorkerError`, and the caller falls back to preparing in process.
"""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import IO

from service.store.bulk import Row as NewRow
from service.store.canonical import canonical_blob, identity_json, without_noise
from service.store.records import NewObject
from service.store.snapshots import PreparedObjects
from service.store_worker import DIGEST_BYTES, HEADER, read_u32s, u32s

BATCH = 1_000  # objects per batch


class WorkerError(Exception):
    """The child process failed: prepare in process instead."""


_Answer = tuple[list[str], list[bytes]]  # hex digests, compressed bodies


class BodyWorker:
    """One child process and its two feeding threads, for one upload. Use as a context
    manager: leaving it kills the child if it still runs."""

    command = (sys.executable, "-m", "service.store_worker")

    def __init__(self) -> None:
        try:
            self._process = subprocess.Popen(
                self.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        except OSError as error:
            raise WorkerError(f"cannot start the body worker: {error}") from error
        self._outgoing: queue.SimpleQueue[list[bytes] | None] = queue.SimpleQueue()
        self._answers: list[_Answer] = []
        self._failure: BaseException | None = None
        self._batches = 0
        self._writer = threading.Thread(target=self._write, name="netreach-offload-write")
        self._reader = threading.Thread(target=self._read, name="netreach-offload-read")
        self._writer.start()
        self._reader.start()

    def __enter__(self) -> BodyWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(
        self, identities: Sequence[bytes], blob: bytes, starts: list[int], ends: list[int]
    ) -> None:
        """One batch: body ``i`` is ``blob[starts[i]:ends[i]]`` of the object ``identities[i]``."""
        count = len(identities)
        numbers = u32s([len(identity) for identity in identities] + starts + ends)
        identity_bytes = b"".join(identities)
        size = len(numbers) + len(identity_bytes) + len(blob)
        self._outgoing.put([HEADER.pack(count, size), numbers, identity_bytes, blob])
        self._batches += 1

    def answers(self) -> list[_Answer]:
        """Every batch's answer, in order, once the child has answered them all."""
        self._outgoing.put(None)
        self._reader.join()
        self._writer.join()
        if self._failure is not None:
            raise WorkerError(f"the body worker failed: {self._failure}") from self._failure
        if len(self._answers) != self._batches:
            raise WorkerError(
                f"the body worker answered {len(self._answers)} of {self._batches} batches"
            )
        return self._answers

    def close(self) -> None:
        self._outgoing.put(None)
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        self._writer.join()
        self._reader.join()
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None:
                stream.close()

    def _write(self) -> None:
        stream: IO[bytes] | None = self._process.stdin
        assert stream is not None
        try:
            while (parts := self._outgoing.get()) is not None:
                for part in parts:
                    stream.write(part)
            stream.close()  # the child ends once it has answered everything
        except (OSError, ValueError) as error:  # the child is gone (or was killed)
            self._failure = self._failure or error

    def _read(self) -> None:
        stream: IO[bytes] | None = self._process.stdout
        assert stream is not None
        try:
            while len(header := stream.read(HEADER.size)) == HEADER.size:
                count, size = HEADER.unpack(header)
                payload = stream.read(size)
                if len(payload) != size:
                    raise WorkerError("the body worker's answer is cut short")
                self._answers.append(_parse(count, payload))
        except (OSError, ValueError, WorkerError) as error:
            self._failure = self._failure or error


def _parse(count: int, payload: bytes) -> _Answer:
    lengths_at = DIGEST_BYTES * count
    digests = [payload[i : i + DIGEST_BYTES].hex() for i in range(0, lengths_at, DIGEST_BYTES)]
    bodies: list[bytes] = []
    position = lengths_at + 4 * count
    for length in read_u32s(payload[lengths_at : lengths_at + 4 * count]):
        bodies.append(payload[position : position + length])
        position += length
    if position != len(payload):
        raise WorkerError("the body worker's answer does not add up")
    return digests, bodies


class OffloadedObjects:
    """Objects whose bodies are being hashed and compressed by a :class:`BodyWorker`."""

    def __init__(self, objects: Sequence[NewObject], worker: BodyWorker) -> None:
        self.objects = objects
        self.worker = worker
        self.sizes: list[list[int]] = []
        for start in range(0, len(objects), BATCH):
            batch = objects[start : start + BATCH]
            blob, starts, ends = canonical_blob([without_noise(obj.body) for obj in batch])
            identities = [identity_json(obj.kind, obj.namespace, obj.name) for obj in batch]
            worker.submit(identities, blob, starts, ends)
            self.sizes.append([end - begin for begin, end in zip(starts, ends, strict=True)])

    def finish(self) -> PreparedObjects:
        """What ``prepare_objects(objects, compress=True)`` gives (WorkerError if the
        child failed)."""
        rows: dict[str, NewRow] = {}
        kind_counts: dict[str, int] = {}
        answers = self.worker.answers()
        if len(answers) != len(self.sizes):
            raise WorkerError("the body worker answered another number of batches")
        for index, ((digests, bodies), sizes) in enumerate(zip(answers, self.sizes, strict=True)):
            batch = self.objects[index * BATCH : (index + 1) * BATCH]
            if not len(digests) == len(bodies) == len(batch):
                raise WorkerError("the body worker answered another number of objects")
            for obj, digest, body, size in zip(batch, digests, bodies, sizes, strict=True):
                if digest not in rows:
                    rows[digest] = (digest, obj.kind, obj.namespace, obj.name, body, size)
                    kind_counts[obj.kind] = kind_counts.get(obj.kind, 0) + 1
        return PreparedObjects(rows, kind_counts, compressed=True)
