"""The ``netreach`` command line: the same engine as the service, no server needed.

One module per group of commands; each registers itself on :data:`app`. Command modules
import what a command needs inside the command, so ``netreach --help`` and the file-only
commands (analyze, query, diff of files, lint) never load the database, web or HTTP layers
(``tests/cli/test_startup.py`` keeps it so).

Exit codes: 0 success (for ``query``: allowed); 1 ``query`` denied or partially allowed, or
a gated finding; 2 invalid input or usage.
"""

from __future__ import annotations

from service.cli import (  # noqa: F401  (they register commands)
    analysis,
    capture,
    diffing,
    github,
    server,
)
from service.cli.app import app, claim_process

__all__ = ["app", "main"]


def main() -> None:
    claim_process()
    app()
