"""Output formats and gate thresholds, shared by the CLI and the API.

Kept free of heavy imports on purpose: the CLI declares its options with these enums, and
``netreach --help`` must not load the engine.
"""

from __future__ import annotations

from enum import StrEnum


class MapFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    MD = "md"
    DOT = "dot"


class VerdictFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class DiffFormat(StrEnum):
    MD = "md"
    JSON = "json"


class LintFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    MD = "md"
    SARIF = "sarif"


class FailOn(StrEnum):
    """The lowest lint severity that fails a CI gate (``none``: never fail)."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    NONE = "none"
