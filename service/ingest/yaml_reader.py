"""Multi-document YAML to documents, safely: no arbitrary tags, no alias bombs, bounded depth."""

from __future__ import annotations

import math

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from service.engine.model import Origin, Problem
from service.ingest.collect import Collector, ItemLines, StopReading, is_list
from service.ingest.limits import Limits

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """The safe loader, keeping timestamps and binary as the strings they are in Kubernetes
    (a ``datetime`` or ``bytes`` would not survive a round trip through JSON)."""


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_str)
_Loader.add_constructor("tag:yaml.org,2002:binary", _Loader.construct_yaml_str)


def _finite_float(loader: yaml.SafeLoader, node: ScalarNode) -> float | str:
    """``.nan`` and ``.inf`` have no JSON form: keep them as the text they were written as."""
    value = loader.construct_yaml_float(node)
    return value if math.isfinite(value) else str(node.value)


_Loader.add_constructor("tag:yaml.org,2002:float", _finite_float)


class _CycleError(Exception):
    pass


class _TooDeepError(Exception):
    pass


class _Graph:
    """A memoised walk of one composed document: its expanded size, written size and depth.

    Aliases make the node graph a DAG; each distinct collection is visited once, so the walk
    costs the size of the text, not of the expansion.
    """

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        self.seen: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, height)
        self.active: set[int] = set()
        self.written = 1

    def walk(self, node: Node, depth: int) -> tuple[int, int]:
        if isinstance(node, ScalarNode):
            return 1, 0
        key = id(node)
        known = self.seen.get(key)
        if known is not None:
            if depth + known[1] > self.max_depth:
                raise _TooDeepError
            return known
        if depth + 1 > self.max_depth:
            raise _TooDeepError
        if key in self.active:
            raise _CycleError
        self.active.add(key)
        children: list[Node] = (
            [part for pair in node.value for part in pair]
            if isinstance(node, MappingNode)
            else list(node.value)
        )
        self.written += len(children)
        size, height = 1, 0
        for child in children:
            child_size, child_height = self.walk(child, depth + 1)
            size += child_size
            height = max(height, child_height)
        self.active.discard(key)
        result = (size, height + 1)
        self.seen[key] = result
        return result


def _check_graph(root: Node, limits: Limits) -> str | None:
    """Why the document must be refused before construction, or None."""
    graph = _Graph(limits.max_depth)
    try:
        expanded, _ = graph.walk(root, 0)
    except (_TooDeepError, RecursionError):
        return f"nesting too deep (more than {limits.max_depth} levels)"
    except _CycleError:
        return "recursive alias (a node contains itself)"
    budget = limits.alias_budget(graph.written)
    if expanded > budget:
        return (
            f"aliases expand the document to {expanded} nodes from {graph.written} written "
            f"(limit {budget}): refusing a possible alias bomb"
        )
    return None


class _NodeLines:
    """Line numbers of a List's items, read from the List's composed node."""

    def __init__(self, items: SequenceNode) -> None:
        self.items: list[Node] = items.value

    @staticmethod
    def of(node: Node) -> _NodeLines | None:
        """The lines of ``node``'s ``items`` sequence, if it has one (the last key wins, as in
        construction)."""
        if not isinstance(node, MappingNode):
            return None
        found: Node | None = None
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == "items":
                found = value
        return _NodeLines(found) if isinstance(found, SequenceNode) else None

    def item(self, index: int) -> tuple[int | None, ItemLines | None]:
        if index >= len(self.items):
            return None, None
        node = self.items[index]
        return node.start_mark.line + 1, _NodeLines.of(node)


def _mark_text(error: yaml.MarkedYAMLError) -> tuple[int | None, str]:
    mark = error.problem_mark or error.context_mark
    problem = error.problem or error.context or "invalid YAML"
    if mark is None:
        return None, problem
    return mark.line + 1, f"{problem} (line {mark.line + 1}, column {mark.column + 1})"


_UNKNOWN_TAG = "could not determine a constructor for the tag"


def _construct_problem(error: yaml.MarkedYAMLError, origin: Origin) -> Problem:
    line, text = _mark_text(error)
    if error.problem and error.problem.startswith(_UNKNOWN_TAG):
        tag = error.problem[len(_UNKNOWN_TAG) :].strip().strip("'")
        text = (
            f"unsupported YAML tag {tag!r}: only plain data is accepted (line {line})"
            if line
            else f"unsupported YAML tag {tag!r}: only plain data is accepted"
        )
    return Problem(text, origin=Origin(origin.source, origin.document, line=line or origin.line))


def read_yaml(text: str, source: str | None, limits: Limits, out: Collector) -> None:
    """Decode every document of a YAML stream into ``out``; empty documents are skipped.

    Each document is composed to nodes first so that its line numbers (and its items' lines
    in a List) are known and its alias expansion and depth can be checked before anything
    is constructed. Raises StopReading on a syntax error (the rest of the stream is lost).
    """
    may_alias = "&" in text  # no anchor, no alias: the graph walk can be skipped
    loader = _Loader(text)
    index = 0
    try:
        while True:
            try:
                node = loader.get_node() if loader.check_node() else None
            except yaml.MarkedYAMLError as error:
                line, message = _mark_text(error)
                raise StopReading(
                    Problem(
                        f"YAML syntax error: {message}", origin=Origin(source, index, line=line)
                    )
                ) from None
            except yaml.YAMLError as error:
                raise StopReading(
                    Problem(f"YAML error: {error}", origin=Origin(source, index))
                ) from None
            except RecursionError:
                raise StopReading(
                    Problem("nesting too deep", origin=Origin(source, index))
                ) from None
            if node is None:
                return
            origin = Origin(source, index, line=node.start_mark.line + 1)
            index += 1
            if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null":
                continue  # an empty document: `---` alone, or only comments
            if may_alias:
                refused = _check_graph(node, limits)
                if refused is not None:
                    out.problem(Problem(refused, origin=origin))
                    continue
            try:
                value = loader.construct_document(node)
            except yaml.MarkedYAMLError as error:
                out.problem(_construct_problem(error, origin))
                continue
            except RecursionError:
                out.problem(Problem("nesting too deep", origin=origin))
                continue
            lines = _NodeLines.of(node) if isinstance(value, dict) and is_list(value) else None
            out.add(value, origin, lines)
    finally:
        loader.dispose()
