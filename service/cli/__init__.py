"""The ``netreach`` command line: the same engine as the service, no server needed.

One module per group of commands, each on its own Typer; :data:`app` imports and converts a
module only when one of its commands runs (``--help`` loads them all), so a command never
imports the others' modules. Command modules import what a command needs inside the
command, so ``netreach --help`` and the file-only commands (analyze, query, diff of files,
lint) never load the database, web or HTTP layers (``tests/cli/test_startup.py`` keeps it so).
Command modules have no ``from __future__ import annotations``: Typer reads a command's
signature each time it converts it, and evaluates string annotations (twice); real ones
halve the conversion (all 16 commands, as ``--help`` converts them: about 22 ms -> 7 ms).
Names imported only for type checking are quoted instead.

Exit codes: 0 success (for ``query``: allowed); 1 ``query`` denied or partially allowed, or
a gated finding; 2 invalid input or usage.
"""

from __future__ import annotations

import os

from service.cli import _startup  # first: pauses the collector while the CLI starts
from service.cli.app import app, claim_process

__all__ = ["app", "main"]

_startup.resume()


def main() -> None:
    claim_process()
    # netreach does no linear algebra: without this, numpy's BLAS starts a thread per core
    # that spins at start-up, taking 60 ms of a 2-core machine from every command.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    app()
