"""Manifest files at a git revision of the current repository, without a second checkout.

``git ls-tree`` lists the blobs under the given paths at the revision, and one
``git cat-file --batch`` reads them all into memory; the same rules as a directory walk
apply (``.yaml``, ``.yml``, ``.json``; hidden files and directories skipped; ``exclude``
globs), so a revision and a checkout of it read alike.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from service.ingest.reader import excluded, is_manifest_name

_SYMLINK = "120000"


class GitError(ValueError):
    """The revision or the repository cannot be read (the message says why)."""


def _git(args: Sequence[str], cwd: Path, data: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, input=data, capture_output=True, check=False)
    except FileNotFoundError:
        raise GitError("git is not installed") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(message[-1] if message else f"git {args[0]} failed")
    return done.stdout


@dataclass(frozen=True, slots=True)
class Revision:
    """A commit of the repository holding ``cwd``."""

    cwd: Path
    ref: str
    commit: str

    @classmethod
    def resolve(cls, ref: str, cwd: Path | None = None) -> Revision:
        where = (cwd or Path.cwd()).resolve()
        try:
            commit = _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], where)
        except GitError as error:
            if "not a git repository" in str(error):
                raise GitError(f"{where} is not in a git repository") from None
            raise GitError(f"{ref!r} is not a commit of this repository") from None
        return cls(where, ref, commit.decode().strip())

    def files(
        self, paths: Sequence[str], exclude: Sequence[str] = ()
    ) -> tuple[list[tuple[str, bytes]], list[str]]:
        """The manifest files under ``paths`` (relative to ``cwd``) at this revision, as
        (name relative to ``cwd``, content), and warnings for paths absent there."""
        prefix = _git(["rev-parse", "--show-prefix"], self.cwd).decode().strip()
        warnings: list[str] = []
        wanted: dict[str, tuple[str, str]] = {}  # name -> (blob id, how it was found)
        for given in paths:
            listing = _git(
                ["ls-tree", "-r", "-z", "--full-name", self.commit, "--", given], self.cwd
            )
            entries = [e for e in listing.split(b"\0") if e]
            if not entries:
                warnings.append(f"{given}: not in {self.ref} ({self.commit[:12]}); read as empty")
                continue
            explicit = PurePosixPath(os.path.normpath(prefix + given)).as_posix()
            for entry in entries:
                meta, _, raw = entry.partition(b"\t")
                mode, kind, blob = meta.decode().split()
                full = raw.decode("utf-8", "surrogateescape")
                if kind != "blob" or mode == _SYMLINK:
                    continue
                name = os.path.relpath(full, prefix or ".") if prefix else full
                name = PurePosixPath(name).as_posix()
                if full != explicit and not _walked(full, explicit):
                    continue
                if excluded(name, exclude):
                    continue
                wanted[name] = (blob, full)
        names = sorted(wanted, key=lambda n: PurePosixPath(n).parts)
        blobs = _cat(self.cwd, [wanted[n][0] for n in names])
        return list(zip(names, blobs, strict=True)), warnings


def _walked(full: str, root: str) -> bool:
    """Whether a directory walk from ``root`` reads ``full`` (manifest suffix, nothing
    hidden on the way)."""
    inside = PurePosixPath(full).relative_to(root) if root != "." else PurePosixPath(full)
    if any(part.startswith(".") for part in inside.parts[:-1]):
        return False
    return is_manifest_name(inside.name)


def _cat(cwd: Path, blobs: Sequence[str]) -> list[bytes]:
    """The contents of ``blobs``, read by one ``git cat-file --batch``."""
    if not blobs:
        return []
    out = _git(["cat-file", "--batch"], cwd, "".join(f"{b}\n" for b in blobs).encode())
    contents: list[bytes] = []
    position = 0
    for _ in blobs:
        end = out.index(b"\n", position)
        header = out[position:end].split()
        if len(header) < 3 or header[1] == b"missing":
            raise GitError(f"cannot read blob {header[0].decode()}")
        size = int(header[2])
        contents.append(out[end + 1 : end + 1 + size])
        position = end + 1 + size + 1
    return contents
