"""What one side of a diff is, for people (a label) and machines (details)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class DiffSide:
    """What one side of a diff is: a label for people, details for machines."""

    label: str
    info: dict[str, Any] = field(default_factory=dict)
