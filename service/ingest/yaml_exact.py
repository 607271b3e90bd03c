"""The exact YAML reader: libyaml composes nodes (with their line numbers), and values are
built from them with the typing Kubernetes applies (:mod:`service.ingest.yaml_typing`).

This reader defines what a YAML document means to netreach; the fast path
(:mod:`service.ingest.yaml_fast`) is only allowed to give the same answer sooner. Every
refusal names the document and line: syntax errors, unsupported tags, alias bombs (by node
count and by expanded bytes), nesting deeper than ``Limits.max_depth``, duplicate keys,
integers Kubernetes cannot hold, NUL characters and invalid Unicode.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from service.engine.model import Origin, Problem
from service.ingest.collect import Collector, ItemLines, StopReading, is_list
from service.ingest.exact import shown
from service.ingest.limits import Limits
from service.ingest.yaml_typing import (
    MAP,
    MERGE,
    NULL,
    SCALAR_TAGS,
    SEQ,
    STR,
    OutOfRange,
    TagMismatch,
    key_text,
    plain_key_text,
    resolve_plain,
    resolve_tagged,
)

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

PLAIN = "tag:netreach,2025:plain"  # an untagged plain scalar, typed when it is built


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """libyaml's parser and composer; typing is left to :class:`_Builder`."""

    def resolve(self, kind: type[Node], value: str | None, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            return PLAIN if implicit[0] else STR
        return SEQ if kind is SequenceNode else MAP


class _RefusedError(Exception):
    """One document cannot be accepted (the others still are)."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _field(path: list[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


class _Builder:
    """Builds one document's value from its nodes. Aliased collections are built once and
    shared (the graph check bounded their expansion already)."""

    def __init__(self, limits: Limits) -> None:
        self.max_depth = limits.max_depth
        self.built: dict[int, Any] = {}

    def value(self, node: Node, path: list[str | int], depth: int = 0) -> Any:
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        known = self.built.get(id(node))
        if known is not None:
            return known
        if depth + 1 > self.max_depth:
            raise _RefusedError(
                f"nesting too deep (more than {self.max_depth} levels)", _line(node)
            )
        if isinstance(node, SequenceNode):
            if node.tag != SEQ:
                raise self.unsupported(node)
            result: Any = [
                self.value(child, [*path, index], depth + 1)
                for index, child in enumerate(node.value)
            ]
        else:
            if node.tag != MAP:
                raise self.unsupported(node)
            assert isinstance(node, MappingNode)
            result = self.mapping(node, path, depth)
        self.built[id(node)] = result
        return result

    def scalar(self, node: ScalarNode, path: list[str | int]) -> Any:
        text: str = node.value
        try:
            if node.tag == PLAIN:
                value = resolve_plain(text)
                if value is MERGE:
                    return text  # `<<` as a value is the string "<<"
            elif node.tag in SCALAR_TAGS:
                value = resolve_tagged(node.tag, text)
            else:
                raise self.unsupported(node)
        except OutOfRange as error:
            raise _RefusedError(self.at(path, str(error)), _line(node)) from None
        except TagMismatch as error:
            raise _RefusedError(self.at(path, str(error)), _line(node)) from None
        if type(value) is str and "\x00" in value:
            raise _RefusedError(
                self.at(path, "NUL characters are not allowed in strings"), _line(node)
            )
        return value

    def mapping(self, node: MappingNode, path: list[str | int], depth: int) -> dict[str, Any]:
        explicit: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if (
                isinstance(key_node, ScalarNode)
                and key_node.tag == PLAIN
                and key_node.value == "<<"
            ):
                self.merge(value_node, merged, path, depth)
                continue
            if not isinstance(key_node, ScalarNode):
                raise _RefusedError(self.at(path, "mapping keys must be scalars"), _line(key_node))
            if key_node.tag == PLAIN:
                self.scalar(key_node, path)  # the same refusals as for a value
                key = plain_key_text(key_node.value)
            else:
                key = key_text(self.scalar(key_node, path))
            if key is None:
                raise _RefusedError(
                    self.at(path, f"mapping key {shown(key_node.value)} is not a string"),
                    _line(key_node),
                )
            if key in explicit:
                raise _RefusedError(
                    self.at(path, f"duplicate key {shown(key)} (line {_line(key_node)})"),
                    _line(key_node),
                )
            explicit[key] = self.value(value_node, [*path, key], depth + 1)
        if not merged:
            return explicit
        merged.update(explicit)  # explicit keys win over merged ones
        return merged

    def merge(self, node: Node, into: dict[str, Any], path: list[str | int], depth: int) -> None:
        """``<<: *base`` or ``<<: [*a, *b]`` (earlier mappings win), as YAML 1.1 defines it."""
        sources = node.value if isinstance(node, SequenceNode) else [node]
        for source in reversed(sources):
            if not isinstance(source, MappingNode):
                raise _RefusedError(
                    self.at(path, "a merge key (<<) needs a mapping or a list of mappings"),
                    _line(source),
                )
            into.update(self.value(source, path, depth))

    def unsupported(self, node: Node) -> _RefusedError:
        return _RefusedError(
            f"unsupported YAML tag {node.tag!r}: only plain data is accepted (line {_line(node)})",
            _line(node),
        )

    @staticmethod
    def at(path: list[str | int], message: str) -> str:
        return f"{_field(path)}: {message}" if path else message


class _CycleError(Exception):
    pass


class _TooDeepError(Exception):
    pass


class _Graph:
    """A memoised walk of one composed document: its expanded node count and scalar bytes,
    its written node count, and its depth.

    Aliases make the node graph a DAG; each distinct collection is visited once, so the walk
    costs the size of the text, not of the expansion.
    """

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        self.seen: dict[int, tuple[int, int, int]] = {}  # id -> (nodes, bytes, height)
        self.active: set[int] = set()
        self.written = 1

    def walk(self, node: Node, depth: int) -> tuple[int, int, int]:
        if isinstance(node, ScalarNode):
            return 1, len(node.value), 0
        key = id(node)
        known = self.seen.get(key)
        if known is not None:
            if depth + known[2] > self.max_depth:
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
        size, weight, height = 1, 0, 0
        for child in children:
            child_size, child_weight, child_height = self.walk(child, depth + 1)
            size += child_size
            weight += child_weight
            height = max(height, child_height)
        self.active.discard(key)
        result = (size, weight, height + 1)
        self.seen[key] = result
        return result


def _check_graph(root: Node, limits: Limits, out: Collector) -> str | None:
    """Why a document with anchors must be refused before it is built, or None. The
    expansion is bounded for the whole read (``out`` sums it up): many documents that each
    stay within the limit cannot add up to a bomb."""
    graph = _Graph(limits.max_depth)
    try:
        expanded, weight, _ = graph.walk(root, 0)
    except (_TooDeepError, RecursionError):
        return f"nesting too deep (more than {limits.max_depth} levels)"
    except _CycleError:
        return "recursive alias (a node contains itself)"
    out.alias_expanded += expanded
    out.alias_written += graph.written
    out.alias_bytes += weight
    what = "the document" if out.alias_expanded == expanded else "the documents so far"
    budget = limits.alias_budget(out.alias_written)
    if out.alias_expanded > budget:
        return (
            f"aliases expand {what} to {out.alias_expanded} nodes from {out.alias_written} "
            f"written (limit {budget}): refusing a possible alias bomb"
        )
    byte_budget = limits.alias_byte_budget(out.yaml_bytes)
    if out.alias_bytes > byte_budget:
        return (
            f"aliases expand {what} to {out.alias_bytes} bytes of scalars from "
            f"{out.yaml_bytes} written (limit {byte_budget}): refusing a possible alias bomb"
        )
    return None


class _NodeLines:
    """Line numbers of a List's items, read from the List's composed node."""

    def __init__(self, items: SequenceNode) -> None:
        self.items: list[Node] = items.value

    @staticmethod
    def of(node: Node) -> _NodeLines | None:
        """The lines of ``node``'s ``items`` sequence, if it has one."""
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
        return _line(node), _NodeLines.of(node)


def _mark_text(error: yaml.MarkedYAMLError) -> tuple[int | None, str]:
    mark = error.problem_mark or error.context_mark
    problem = error.problem or error.context or "invalid YAML"
    if mark is None:
        return None, problem
    return mark.line + 1, f"{problem} (line {mark.line + 1}, column {mark.column + 1})"


def _reader_problem(error: yaml.reader.ReaderError, text: str, origin: Origin) -> Problem:
    """A character YAML does not allow (control characters, U+FFFE ...), with its line."""
    position = min(int(error.position), len(text))
    line = text.count("\n", 0, position) + 1
    character = error.character
    number = ord(character) if isinstance(character, str) else int(character)
    code = f"U+{number:04X}"
    return Problem(
        f"character {code} is not allowed in YAML (line {line}): {error.reason}",
        origin=Origin(origin.source, origin.document, line=line),
    )


def read_yaml_exact(text: str, source: str | None, limits: Limits, out: Collector) -> None:
    """Decode every document of a YAML stream into ``out``; empty documents are skipped but
    count toward ``Limits.max_documents``.

    Each document is composed to nodes first so that its line numbers (and its items' lines
    in a List) are known and its alias expansion and depth can be checked before anything
    is built. Raises StopReading on a syntax error (the rest of the stream is lost).
    """
    may_alias = "&" in text  # no anchor, no alias: the graph walk can be skipped
    out.yaml_bytes += len(text)
    loader = _Loader(text)
    index = 0
    try:
        while True:
            try:
                node = loader.get_node() if loader.check_node() else None
            except yaml.reader.ReaderError as error:
                raise StopReading(_reader_problem(error, text, Origin(source, index))) from None
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
            origin = Origin(source, index, line=_line(node))
            index += 1
            if index > limits.max_documents:
                out.check_count(max(0, index - len(out.documents) - out.empty))
            if isinstance(node, ScalarNode) and (
                (node.tag == PLAIN and node.value in _EMPTY) or node.tag == NULL
            ):
                out.empty += 1  # an empty document: `---` alone, only comments, or `~`/`null`
                out.check_empty()
                continue
            if may_alias:
                refused = _check_graph(node, limits, out)
                if refused is not None:
                    out.problem(Problem(refused, origin=origin))
                    continue
            try:
                value = _Builder(limits).value(node, [])
            except _RefusedError as refusal:
                out.problem(
                    Problem(
                        refusal.message,
                        origin=Origin(source, origin.document, line=refusal.line or origin.line),
                    )
                )
                continue
            except RecursionError:
                out.problem(Problem("nesting too deep", origin=origin))
                continue
            lines = _NodeLines.of(node) if isinstance(value, dict) and is_list(value) else None
            out.add(value, origin, lines)
    finally:
        loader.dispose()


_EMPTY = frozenset({"", "~", "null", "Null", "NULL"})
