"""Input limits: how much a single read may take in before it is refused."""

from __future__ import annotations

from dataclasses import dataclass

from service.engine.parse.counts import DEFAULT_COUNTS, CountLimits

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """Limits for one read (one request body, or all the files of one ``read_paths`` call).

    The defaults suit a laptop analysing a large cluster from files; the HTTP layer passes a
    smaller ``max_bytes``.

    ``max_depth`` is the deepest nesting of mappings and sequences a document may have (a
    document ``{}`` has depth 1; real Kubernetes objects stay under 20). It is checked exactly
    on the YAML node graph; JSON nesting, and YAML without anchors, is bounded by the parser
    (libyaml stops at 1000 levels, the JSON decoder at the interpreter's recursion limit) and
    reported as "nesting too deep" as well.

    Aliases (summed over the documents of the read): YAML with anchors may expand to at most
    ``max_alias_expansion * written + alias_expansion_slack`` nodes, where ``written`` is the
    number of nodes as they appear in the text. Ordinary reuse of an anchor (a shared label
    block, a merge key) stays far below that; a "billion laughs" document exceeds it by orders
    of magnitude and is refused before anything is constructed. Aliases are bounded by bytes
    too: the scalars of the expanded document may hold at most ``max_alias_expansion`` times
    the input's size plus ``alias_expansion_slack_bytes`` (one 100 kB scalar referenced
    20,000 times is a few thousand nodes but 2 GB).

    Empty YAML documents (a bare ``---``, only comments) count toward ``max_documents`` like
    any other, and there may be at most ``max_empty_documents`` of them: a template's output
    has a few, a flood of separators is refused as soon as the limit is passed.
    """

    max_bytes: int = 512 * MiB
    max_documents: int = 1_000_000
    max_empty_documents: int = 10_000
    max_depth: int = 100
    max_alias_expansion: int = 10
    alias_expansion_slack: int = 10_000
    alias_expansion_slack_bytes: int = 1 * MiB
    counts: CountLimits = DEFAULT_COUNTS  # items per NetworkPolicy (netreach's own limits)

    def __post_init__(self) -> None:
        for name in (
            "max_bytes",
            "max_documents",
            "max_empty_documents",
            "max_depth",
            "max_alias_expansion",
            "alias_expansion_slack",
            "alias_expansion_slack_bytes",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"Limits.{name} must not be negative")

    def alias_budget(self, written: int) -> int:
        """The largest expanded node count allowed for a document of ``written`` nodes."""
        return self.max_alias_expansion * written + self.alias_expansion_slack

    def alias_byte_budget(self, written_bytes: int) -> int:
        """The most scalar bytes a document of ``written_bytes`` may expand to."""
        return self.max_alias_expansion * written_bytes + self.alias_expansion_slack_bytes
