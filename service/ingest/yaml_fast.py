"""The fast YAML path: rapidyaml (C++) parses the stream and emits each document as JSON,
orjson decodes it, and cheap checks prove the result is what the exact reader
(:mod:`service.ingest.yaml_exact`) would have built. When anything cannot be proved, the
fast path declines and the exact reader reads the whole input instead, so the answer is
always the exact reader's, only sooner.

What is proved, and how:

- *Constructs it does not handle* (anchors, aliases, tags, merge keys, directives, complex
  keys, tabs, characters YAML forbids, content on a ``---`` line) are searched for in the
  text; any occurrence, even inside a string, declines.
- *Typing.* rapidyaml types plain scalars by YAML 1.2 rules, Kubernetes by go-yaml v2's
  YAML 1.1 ones. They agree on ``true``/``false``/``null`` and on every number written as
  JSON writes it; a number rapidyaml would write bare in any other form (``+1``, ``1.2.3``)
  is not JSON, and orjson's refusal declines. What remains is searched for in the text:
  the YAML 1.1 words (``yes``, ``on``, ``~``, ``True`` ...), numbers with a leading zero or
  underscores (``0777``, ``0x1F``, ``1_000``), and mapping keys that are not their own
  ``sigs.k8s.io/yaml`` key text (``1.50:``, ``null:``). Such a token where a plain scalar
  can start declines (inside a quoted string or a comment it is harmless, and skipped).
- *Duplicate keys*: the colons counted in the emitted JSON equal those of the decoded value
  re-encoded (a dropped key takes its colon with it; a colon escaped as ``\\u003a`` defers to
  the exact reader, see :func:`service.ingest.exact.same_json_keys`).
- *Exact values*: no escaped NUL, no lone surrogate, no integer that may exceed 64 bits, no
  nesting deeper than ``Limits.max_depth`` (see :mod:`service.ingest.exact`).
- *Line numbers*: a document's and a List item's line is the line of its first key, as
  located in the input buffer; a document or item that is not a block mapping declines.

How the text is searched (:class:`Scan`): one translate gives every byte its classes, and
numpy finds from them, in a few passes over the input, the places each check looks at (the
first bytes of constructs with the neighbours a match needs, token starts, digit runs,
brackets); the patterns and the typing rules then run at those places only. Each such
narrowing is a necessary condition of what it stands for, so it never changes an answer.
Masks over the whole input share one room, later reused for the JSON: a fresh page costs
a page fault, more than the operation that touches it.
"""

from __future__ import annotations

import mmap
import re
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np
import orjson
import ryml  # type: ignore[import-untyped]

from service.engine.model import Origin
from service.ingest.collect import Collector, ItemLines, is_list
from service.ingest.exact import compact, depth, looks_exact, same_json_keys
from service.ingest.limits import Limits
from service.ingest.yaml_typing import WORDS as TYPED_WORDS
from service.ingest.yaml_typing import OutOfRange, plain_key_text, resolve_plain

_NOT_PRINTABLE = "[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
_PRINTABLE_ASCII = bytes([9, 10, 13, *range(0x20, 0x7F)])
_INDICATORS = b"&*!%@`"
_SPACE = b" \t\n\r\f\v"  # what `\s` matches in a bytes pattern


class _Where(NamedTuple):
    """Where a match of a pattern may start: at ``byte`` (or ``back`` bytes before it),
    after a byte of ``before`` (if given) and followed by a byte of each of ``after`` in
    turn; or, with ``line_start``, at the newline before such a byte. A necessary condition,
    tested in numpy on the byte's positions: the pattern itself runs only where it holds."""

    byte: int
    before: bytes | None = None
    after: tuple[bytes, ...] = ()
    line_start: bool = False
    back: int = 0


# Constructs the fast path leaves to the exact reader, each a pattern (its source) with the
# places where a match of it may start (see Scan.matches): anchors, aliases, tags,
# directives, reserved indicators and complex keys where a token starts; merge keys; content
# on a `---` line; `...` document ends; tabs. Most are absent from most manifests, and their
# first bytes with them; the others are tried where their neighbours allow.
_UNHANDLED: tuple[tuple[bytes, tuple[_Where, ...]], ...] = (
    *(
        (
            re.escape(c) + rb"(?<=[\s\[\]{},:]" + re.escape(c) + rb")",
            (_Where(c[0], before=_SPACE + b"[]{},:"),),
        )
        # a `?` where a token starts: a complex key, and in a flow collection always one
        # for libyaml (`[?x]` is `[{x: null}]`), which rapidyaml reads as text
        for c in (*(bytes([i]) for i in _INDICATORS), b"?")
    ),
    (rb"\n---[ ]*[^\s#]", (_Where(ord("-"), b"\n", (b"-", b"-"), back=1),)),
    # an empty key, which libyaml refuses (its colon follows a newline, a space or a dash)
    (
        rb"\n[ -]*:(?=\s)",
        (_Where(ord(":"), before=b"\n -", after=(_SPACE,), line_start=True),),
    ),
    *(
        (re.escape(c) + rb"[ ]*:(?=\s)", (_Where(c[0], after=(b" :",)),))
        for c in (b"[", b"{", b",")
    ),
    # a block scalar's indentation indicator (`|2`, `>-1`): rapidyaml reads past what
    # libyaml refuses after it (`>1:`); rare in manifests, so all of them go to libyaml
    *(
        (
            re.escape(c) + rb"(?<= " + re.escape(c) + rb")[-+]?[0-9]",
            (_Where(c[0], before=b" ", after=(b"-+0123456789",)),),
        )
        for c in (b"|", b">")
    ),
    # text after a block scalar's header (`- | x`), which libyaml refuses
    *(
        (
            re.escape(c) + rb"(?<=[:-] " + re.escape(c) + rb")[-+]?[ ]+[^#\s]",
            (_Where(c[0], before=b" ", after=(b"-+ ",)),),
        )
        for c in (b"|", b">")
    ),
    # the same after indentation only (`k:\n  | -: 1`), which rapidyaml reads
    (
        rb"\n[ ]*[|>][-+]?[ ]+[^#\s]",
        tuple(_Where(ord(c), before=b" \n", after=(b"-+ ",), line_start=True) for c in "|>"),
    ),
    # colons where libyaml (as sigs.k8s.io/yaml's parser) and rapidyaml part ways in a flow
    # collection: right before a flow indicator (`[a:, b]`: refused by libyaml, a key to
    # rapidyaml) and starting a plain scalar (`[:a]`: a value indicator to libyaml, text to
    # rapidyaml); and a key's colon after a space (`1. : v`), whose key the typing scan
    # does not see as one (Kubernetes' key text of `1.` is `1`)
    (
        rb":(?:[,?\[\]{}]|(?<=[\[{, ]:)(?:(?<=[\[{,]:)|(?<=[\[{,:] :)|(?<=[\[{,:]  :)|(?=\s)))",
        (_Where(ord(":"), after=(b",?[]{}",)), _Where(ord(":"), before=b"[{, ")),
    ),
    # a comment on a line that then closes a flow collection (`{a: b # c}`): libyaml's
    # comment takes the closer with it, rapidyaml's does not (a closer in a comment declines)
    (rb"#(?<=\s#)[^\n]*[\]}]", (_Where(ord("#"), before=_SPACE),)),
    # rapidyaml writes `.Inf`/`.NaN` as `.inf`/`.nan` even when quoted
    (
        rb"\.(?:inf|Inf|INF|nan|NaN|NAN)",
        (_Where(ord("."), after=(b"iInN", b"nNaA", b"fFNn")),),
    ),
    (rb"<<", (_Where(ord("<"), after=(b"<",)),)),  # a merge key
    (rb"\n\.\.\.", (_Where(ord("."), b"\n", (b".", b"."), back=1),)),
    (rb"\t", (_Where(ord("\t")),)),
)
_MAX_RESERVED_NODES = 1 << 20
_MAPPED_ROOM = 4 << 20  # rooms from this size are mapped (see _room)
_SHARED_ROOM = 64 << 20  # inputs up to this size share their masks' room with their JSON
_BLOCK_MAP = ryml.MAP | ryml.BLOCK  # a node type's flags


def _byte_table(chars: bytes) -> np.ndarray:
    table = np.zeros(256, dtype=bool)
    table[np.frombuffer(chars, dtype=np.uint8)] = True
    return table


# Byte classes, a bit each (see Scan): where a plain scalar may start after, what a risky
# token starts with (the bit right above: a start is one shift and two masks), what ends one;
# bytes YAML may forbid; digits, and what a number may follow (see exact.long_digits); the
# rare bytes the scans for unhandled constructs and flow brackets look at.
_BEFORE_SCALAR = 1
_RISKY_START = 2
_DELIMITER = 4
_NOT_PRINTABLE_ASCII = 8
_DIGIT = 16
_NUMBER_SEPARATOR = 32
_RARE = 128
# the first bytes of unhandled constructs, and the flow brackets: rare in most manifests
_RARE_BYTES = b"&*!%@`?|>#<[]{}\t"
_CLASS_BYTES = (
    (_BEFORE_SCALAR, b" \n:,[{"),
    (_RISKY_START, b"yYnNoOTFN~0123456789+-."),
    (_DELIMITER, b" \n\r,[]{}"),
    (_NOT_PRINTABLE_ASCII, bytes(sorted(set(range(256)) - set(_PRINTABLE_ASCII)))),
    (_DIGIT, b"0123456789"),
    (_NUMBER_SEPARATOR, b":[,- \t\r\n"),  # as exact.long_digits has it
    (_RARE, _RARE_BYTES),
)
_CLASSES = bytes(sum(bit for bit, chars in _CLASS_BYTES if byte in chars) for byte in range(256))
_WORD_START = frozenset(b"yYnNoOTFN~")  # the risky first bytes that start no number
_DIGIT_START = _byte_table(b"0123456789+-.")
_BASE_MARK = _byte_table(b"0123456789xXoObBeE_")
_INF_NAN = _byte_table(b"iInN")
_FLOW_STEP = np.zeros(256, dtype=np.int8)
_FLOW_STEP[[ord("["), ord("{")]] = 1
_FLOW_STEP[[ord("]"), ord("}")]] = -1
_SCALAR_STARTS = frozenset(b":-[{,?\n")
_CLOSER = _byte_table(b"]}")
_FLOW_BYTE = _byte_table(b"[]{}")
_SPACE_OR_NEWLINE = _byte_table(b" \n")
_LONG_NUMBER = 19  # digits after a separator that may exceed int64 (see exact.long_digits)
_WORDS = frozenset(
    [
        "y",
        "Y",
        "yes",
        "Yes",
        "YES",
        "n",
        "N",
        "no",
        "No",
        "NO",
        "True",
        "TRUE",
        "False",
        "FALSE",
        "on",
        "On",
        "ON",
        "off",
        "Off",
        "OFF",
        "Null",
        "NULL",
        "~",
    ]
    + [
        sign + dot
        for sign in ("", "+", "-")
        for dot in (".inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN")
    ]
)  # rapidyaml rewrites `.Inf` as `.inf`: netreach keeps what was written


_Room = bytearray | mmap.mmap


def _room(size: int) -> _Room:
    """Writable zeroed bytes for masks and JSON. A large room is an anonymous mapping
    advised to use huge pages (as numpy does for its arrays from 4 MiB): a bytearray is
    zero-filled at once, a page fault per 4 KiB page (S as YAML: 2,230 of them, about
    2.5 ms), where a mapping's pages are touched only when used, 2 MiB at a time."""
    if size < _MAPPED_ROOM or not hasattr(mmap, "MAP_ANONYMOUS"):  # (not on Windows)
        return bytearray(size)
    room = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if hasattr(mmap, "MADV_HUGEPAGE"):  # (Linux)
        room.madvise(mmap.MADV_HUGEPAGE)
    return room


class Scan:
    """The input between two newlines (``padded``), as numpy bytes and as byte classes: one
    translate in C gives every byte the bits of the classes it belongs to (``_CLASSES``), and
    each check reads the bits it needs (a shift and a mask: a tenth of a translate), or the
    positions of the bytes it looks at."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        # one copy for every scan, and then the buffer rapidyaml parses in place
        self.padded = bytearray().join((b"\n", raw, b"\n"))
        self.data = np.frombuffer(self.padded, dtype=np.uint8)
        self.classes = np.frombuffer(self.padded.translate(_CLASSES), dtype=np.uint8)
        self.end = len(self.padded) - 1  # the patterns see the input after a newline only
        # past this many places, one search of a pattern costs less than a match at each
        self.many = max(len(self.padded) >> 10, 64)
        self._positions: dict[int, np.ndarray] = {}
        self._work = np.empty(0, dtype=np.intp)
        self._work_bytes = np.empty(0, dtype=np.uint8)
        self._work_flags = np.empty(0, dtype=np.bool_)
        # Room for the masks over the whole input, made once (each new array of that size
        # costs its pages' first touch, a page fault each, more than the operation itself),
        # and then for the documents as JSON (about 1.5 times the YAML), one at a time; for
        # a large input, only the masks' (a document's JSON gets a buffer of its own, if
        # larger: room for all of the input's would be memory held for a rare case).
        shared = len(self.padded) <= _SHARED_ROOM
        self.room = _room(2 * len(self.padded) + 4096 if shared else len(self.padded))
        self._mask = np.frombuffer(self.room, dtype=np.uint8, count=len(self.padded))

    def scratch(self, size: int | None = None) -> np.ndarray:
        """Room for a mask of ``size`` bytes (all of ``padded``'s length by default): what
        was left there is overwritten by the next user."""
        return self._mask[: len(self.padded) if size is None else size]

    def bit(self, bit: int) -> np.ndarray:
        """Which bytes of ``padded`` are in the class of ``bit``, as booleans (in the
        scratch room)."""
        out = self.scratch()
        np.right_shift(self.classes, bit.bit_length() - 1, out=out)
        np.bitwise_and(out, 1, out=out)
        return out.view(np.bool_)

    def equal(self, byte: int) -> np.ndarray:
        """Which bytes of ``padded`` are ``byte`` (in the scratch room)."""
        return np.equal(self.data, byte, out=self.scratch().view(np.bool_))

    @cached_property
    def newlines(self) -> np.ndarray:
        return np.flatnonzero(self.equal(ord("\n")))

    @cached_property
    def flow(self) -> np.ndarray:
        """Where the flow brackets are."""
        rare: np.ndarray = self.rare
        flow: np.ndarray = rare[_FLOW_BYTE[self.data[rare]]]
        return flow

    def positions(self, byte: int) -> np.ndarray:
        """Where ``byte`` is in ``padded`` (found once per byte)."""
        if byte == ord("\n"):
            return self.newlines
        found = self._positions.get(byte)
        if found is None:
            if byte in _RARE_BYTES:  # all found at once, then told apart
                rare = self.rare
                found = rare[self.data[rare] == byte]
            elif byte in self.padded:  # a memchr: most of the bytes looked for are absent
                found = np.flatnonzero(self.equal(byte))
            else:
                found = np.empty(0, dtype=np.intp)
            self._positions[byte] = found
        return found

    @cached_property
    def rare(self) -> np.ndarray:
        """Where the bytes of ``_RARE_BYTES`` are."""
        return np.flatnonzero(self.bit(_RARE))

    def where(self, place: _Where) -> np.ndarray:
        """The positions of ``place.byte`` that meet its conditions (see :class:`_Where`)."""
        at = self.positions(place.byte)
        if place.before is not None and len(at):
            at = at[self._near(at, -1, place.before)]
        for step, chars in enumerate(place.after, 1):
            if not len(at):
                break
            at = at[self._near(at, step, chars)]
        if place.line_start and len(at):
            newlines = self.newlines
            at = newlines[np.searchsorted(newlines, at) - 1]  # the newline before each
        return at - place.back if place.back else at

    def _near(self, at: np.ndarray, step: int, chars: bytes) -> np.ndarray:
        """Whether the byte ``step`` bytes after each position (clipped to the buffer) is
        one of ``chars``: computed in work arrays kept for the next call (new arrays of a
        position per byte would each touch fresh pages)."""
        count = len(at)
        if len(self._work) < count:
            size = max(count, 2 * len(self._work))
            self._work = np.empty(size, dtype=np.intp)
            self._work_bytes = np.empty(size, dtype=np.uint8)
            self._work_flags = np.empty(size, dtype=np.bool_)
        index = np.add(at, step, out=self._work[:count])
        near = np.take(self.data, index, mode="clip", out=self._work_bytes[:count])
        return np.take(_table(chars), near, out=self._work_flags[:count])

    def matches(self, source: bytes, places: tuple[_Where, ...]) -> bool:
        """Whether the pattern ``source`` matches in ``padded`` (before its last newline),
        tried only where ``places`` says a match may start, or with one search if there are
        many. (Compiled only then: most inputs need few of the patterns, if any.)"""
        found = [self.where(place) for place in places]
        count = sum(len(at) for at in found)
        if not count:
            return False
        pattern = re.compile(source)  # (the re module keeps it)
        if count > self.many:
            return pattern.search(self.padded, 0, self.end) is not None
        padded, end = self.padded, self.end
        return any(pattern.match(padded, at, end) for part in found for at in part.tolist())


_TABLES: dict[bytes, np.ndarray] = {}


def _table(chars: bytes) -> np.ndarray:
    """A 256-entry boolean table of ``chars`` (made once per set)."""
    table = _TABLES.get(chars)
    if table is None:
        table = _TABLES[chars] = _byte_table(chars)
    return table


def _flow_depth(scan: Scan) -> int:
    """The deepest nesting of flow brackets (counting those inside strings too: an
    overestimate only declines)."""
    if not len(scan.flow):
        return 0
    steps = _FLOW_STEP[scan.data[scan.flow]]
    return int(np.cumsum(steps, dtype=np.int64).max(initial=0))


def _long_digits(scan: Scan) -> bool:
    """:func:`service.ingest.exact.long_digits` of the input (19 digits right after a
    separator), found in numpy: such a run covers two consecutive multiples of 9 and every
    byte between, so only the runs of 10 digits that start at a multiple of 9 are looked at,
    each in the window of bytes where its separator and 19 digits may lie."""
    digit = scan.bit(_DIGIT)
    aligned = digit[::9]
    # the multiples of 9 starting a run of 10 digits, found one byte after another
    at = np.flatnonzero(aligned[:-1] & aligned[1:]) * 9
    last = len(digit) - 1
    for step in range(1, 9):
        if not len(at):
            return False
        at = at[digit[np.minimum(at + step, last)]]
    if not len(at):
        return False
    # each window: the separator 10 to 1 bytes before the aligned run, then 19 digits
    window = at[:, None] + np.arange(-10, _LONG_NUMBER, dtype=np.intp)
    classes = scan.classes[np.clip(window, 0, last)]
    digits = np.cumsum((classes & _DIGIT) != 0, axis=1, dtype=np.int32)
    run = digits[:, _LONG_NUMBER : _LONG_NUMBER + 10] - digits[:, :10] == _LONG_NUMBER
    separator = ((classes[:, :10] & _NUMBER_SEPARATOR) != 0) & (window[:, :10] >= 1)
    return bool((run & separator).any())  # (the padding's first newline is no separator)


def _printable(text: str | None, scan: Scan) -> bool:
    """No character YAML forbids (looked for in the text only if a byte is not printable
    ASCII: compiling the pattern takes 3 ms; ``text`` None: the input is ASCII)."""
    if not np.bitwise_and(scan.classes, _NOT_PRINTABLE_ASCII, out=scan.scratch()).any():
        return True
    return re.search(_NOT_PRINTABLE, text if text is not None else scan.raw.decode()) is None


def _simple(text: str | None, scan: Scan, flow: int, limits: Limits) -> bool:
    """No character YAML forbids, none of the constructs the fast path leaves alone, and no
    flow nesting (``flow``: its depth) beyond the depth limit (which rapidyaml's emitter
    would refuse noisily)."""
    if not _printable(text, scan) or flow > limits.max_depth:
        return False
    if _long_digits(scan):
        return False  # an integer rapidyaml and orjson would turn into a float
    if _closer_may_start_a_scalar(scan):
        return False
    return not any(scan.matches(source, places) for source, places in _UNHANDLED)


def _closer_may_start_a_scalar(scan: Scan) -> bool:
    """Whether a ``]`` or ``}`` stands where a block value, item or key starts (``k: }``,
    ``- ]x``, ``}: v``): libyaml, as sigs.k8s.io/yaml's parser, refuses it; rapidyaml reads
    a string. Only closers after a space or a newline are looked at (a closer right after
    other text ends a flow collection); one after a colon, a dash or nothing but indentation
    declines, which also turns away a few closers libyaml accepts (``{a: }``)."""
    data, padded = scan.data, scan.padded
    at = scan.flow
    at = at[_CLOSER[data[at]] & _SPACE_OR_NEWLINE[data[at - 1]]]  # (a bracket is never first)
    for position in at.tolist():
        before = padded[padded.rfind(b"\n", 0, position) + 1 : position].rstrip(b" ")
        if not before or before.endswith((b":", b"-")):
            return True
    return False


_SHORT_WORD = 6  # the longest word _WORDS holds
_SCANNED_NUMBER = 16  # number tokens are followed to their end step by step up to this length,
_SCANNED_LONG = 256  # and further, up to this one, while few are left (hashes: 64 hex digits)


def _token_ends(delimiter: np.ndarray, starts: np.ndarray, digit: np.ndarray) -> np.ndarray:
    """Where each token starting at ``starts`` ends (its first delimiter), followed in
    steps over the tokens still open: a word only as far as the longest risky word (a longer
    one is no candidate, and its end is left past ``_SHORT_WORD``), a number further (its
    end decides), the numbers left after that by a search over every delimiter. (A step
    costs the open tokens; the search, the whole input.)"""
    ends = starts + 1
    pending = np.flatnonzero(~delimiter[ends])
    few = len(delimiter) >> 12
    step = 1
    while len(pending) and (
        step < _SCANNED_NUMBER or (step < _SCANNED_LONG and len(pending) <= few)
    ):
        if step == _SHORT_WORD:  # the words left are longer: past it, and no candidates
            ends[pending[~digit[pending]]] += 1
            pending = pending[digit[pending]]
        ends[pending] += 1
        pending = pending[~delimiter[ends[pending]]]
        step += 1
    if len(pending):
        delimiters = np.flatnonzero(delimiter)
        ends[pending] = delimiters[np.searchsorted(delimiters, ends[pending])]
    return ends


def _candidate_spans(scan: Scan, prune: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spans (starts, ends, and whether each starts like a number) of the tokens that may
    type differently in Kubernetes and in rapidyaml: short words that could be a YAML 1.1
    boolean or null, numbers with a leading zero or an underscore, numbers used as mapping
    keys. Found in numpy over the whole buffer; the spans are offsets in ``scan.padded``.
    With ``prune``, a token is followed only if its first two bytes may start a risky word
    or a number of two bytes or more (a one-byte number is never kept)."""
    data, classes = scan.data, scan.classes
    # a risky first byte right after a byte that may precede a scalar
    pairs = scan.scratch(len(classes) - 1)
    np.right_shift(classes[1:], 1, out=pairs)
    np.bitwise_and(pairs, classes[:-1], out=pairs)
    np.bitwise_and(pairs, _BEFORE_SCALAR, out=pairs)
    starts = np.flatnonzero(pairs.view(np.bool_))
    starts += 1
    if prune:  # (a start is never the last byte: that is the padding's newline)
        starts = starts[_RISKY_PAIRS[(data[starts].astype(np.intp) << 8) | data[starts + 1]]]
    if not len(starts):
        return starts, starts, starts.astype(np.bool_)
    digit = _DIGIT_START[data[starts]]
    ends = _token_ends(scan.bit(_DELIMITER), starts, digit)  # (the pairs are done with)
    lengths = ends - starts
    underscores = scan.positions(ord("_"))
    sign = (data[starts] == ord("-")) | (data[starts] == ord("+"))
    second = data[np.minimum(starts + 1 + sign, len(data) - 1)]
    first_digit = data[starts + sign]
    keep = np.where(
        digit,
        ((first_digit == ord("0")) & _BASE_MARK[second])
        | ((first_digit == ord(".")) & _INF_NAN[second])
        | (np.searchsorted(underscores, ends) > np.searchsorted(underscores, starts))
        | (data[ends - 1] == ord(":")),
        lengths <= _SHORT_WORD,
    )
    return starts[keep], ends[keep], digit[keep]


def _candidates(padded: bytes) -> list[tuple[int, int]]:
    """The spans of :func:`_candidate_spans` in the input (``padded``: it between two
    newlines)."""
    starts, ends, _ = _candidate_spans(Scan(padded[1:-1]))
    return list(zip((starts - 1).tolist(), (ends - 1).tolist(), strict=True))


def _word_codes(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Each token of at most ``_SHORT_WORD`` bytes as one integer: its bytes and its length
    (longer tokens get codes no word has)."""
    codes = lengths.astype(np.uint64) << np.uint64(56)
    last = len(data) - 1
    for index in range(_SHORT_WORD):
        byte = data[np.minimum(starts + index, last)].astype(np.uint64) << np.uint64(8 * index)
        codes |= np.where(index < lengths, byte, np.uint64(0))
    return codes


def _starts_scalar(raw: bytes, low: int) -> bool:
    """Whether a plain scalar may start at ``low``: after indentation, `: `, `- `, `? ` or a
    flow indicator. Elsewhere the token is inside a longer scalar, a string or a comment."""
    index = low - 1
    while index >= 0 and raw[index] == 0x20:
        index -= 1
    return index < 0 or raw[index] in _SCALAR_STARTS


def _differs(token: bytes) -> bool:
    """Whether Kubernetes reads this plain token otherwise than rapidyaml does."""
    text = token.decode()
    try:
        if text.endswith(":"):
            return plain_key_text(text[:-1]) != text[:-1]
        if text in _WORDS:
            return True
        return text[:1] in "0123456789+-." and type(resolve_plain(text)) is not str
    except OutOfRange:
        return True


# The word-like tokens (a first byte that starts no number) that may differ. Any other such
# token does not: as a value it is a string to both unless it is one of ``_WORDS``, and as a
# key (``t:``) Kubernetes' key text is the token itself unless a YAML 1.1 word resolves it.
_RISKY_WORDS = frozenset(
    token
    for token in {word.encode() for word in _WORDS} | {w.encode() + b":" for w in TYPED_WORDS}
    if token and token[0] in _WORD_START and _differs(token)
)
# (sorted and distinct without np.unique, which imports numpy.ma: ~4 ms of every start)
_RISKY_WORD_CODES = np.array(
    sorted(
        set(
            _word_codes(
                np.frombuffer(b"".join(_RISKY_WORDS) + b"\n", dtype=np.uint8),
                np.cumsum([0] + [len(word) for word in _RISKY_WORDS])[:-1],
                np.array([len(word) for word in _RISKY_WORDS]),
            ).tolist()
        )
    ),
    dtype=np.uint64,
)


def _risky_pairs() -> np.ndarray:
    """Which first two bytes (``first << 8 | second``) may start a token the typing scan
    keeps: a risky word's, or a number's but for a one-byte number (a delimiter next)."""
    table = np.zeros(1 << 16, dtype=np.bool_)
    delimiters = [byte for byte in range(256) if _CLASSES[byte] & _DELIMITER]
    for first in _DIGIT_START.nonzero()[0].tolist():
        table[first << 8 : (first + 1) << 8] = True
        table[[first << 8 | byte for byte in delimiters]] = False
    for word in _RISKY_WORDS:
        seconds = [word[1]] if len(word) > 1 else delimiters
        table[[word[0] << 8 | byte for byte in seconds]] = True
    return table


_RISKY_PAIRS = _risky_pairs()


def _typing_agrees(scan: Scan) -> bool:
    """Whether rapidyaml types every plain scalar as Kubernetes does (a False may be wrong
    the safe way: it only costs the exact reader)."""
    starts, ends, digit = _candidate_spans(scan, prune=True)
    words = np.flatnonzero(~digit)
    codes = _word_codes(scan.data, starts[words], ends[words] - starts[words])
    keep = digit.copy()
    found = np.minimum(np.searchsorted(_RISKY_WORD_CODES, codes), len(_RISKY_WORD_CODES) - 1)
    keep[words] = _RISKY_WORD_CODES[found] == codes  # the other words are no candidates
    spans = list(zip((starts[keep] - 1).tolist(), (ends[keep] - 1).tolist(), strict=True))
    raw = scan.raw
    differing = {token for token in {raw[low:high] for low, high in spans} if _differs(token)}
    if not differing:
        return True
    return not any(raw[low:high] in differing and _starts_scalar(raw, low) for low, high in spans)


class _Lines:
    """Line numbers of a List's items (and of nested Lists' items), computed up front."""

    def __init__(self, lines: list[int], nested: dict[int, _Lines]) -> None:
        self.lines = lines
        self.nested = nested

    def item(self, index: int) -> tuple[int | None, ItemLines | None]:
        if index >= len(self.lines):
            return None, None
        return self.lines[index], self.nested.get(index)


class _Decline(Exception):  # noqa: N818 - a control-flow signal
    """The fast path cannot prove its answer: the exact reader reads the input."""


class _Tree:
    """The parsed stream, with offsets of keys in the input buffer turned into lines."""

    def __init__(self, scan: Scan) -> None:
        self.scan = scan  # its padded copy of the input is parsed in place
        self.tree = ryml.Tree()
        self.newlines = scan.newlines[1:-1] - 1  # the input's own (not the padding's)
        # Room for about a node per line, and one more per sequence item (``- a: 1`` is an
        # item and its mapping), up front: growing the tree while parsing copies it again
        # (over a third of the parse's time on a 4.5 MB file).
        dashes = scan.positions(ord("-"))
        items = int(np.count_nonzero(scan.data[dashes + 1] == ord(" ")))  # (never the last)
        nodes = len(self.newlines) + items + 16
        self.tree.reserve(min(nodes, _MAX_RESERVED_NODES))
        self.buf = memoryview(scan.padded)[1:-1]
        ryml.parse_in_place(self.buf, self.tree)
        self.base = int(scan.data.ctypes.data) + 1
        self.size = len(self.buf)

    def documents(self) -> list[int]:
        tree = self.tree
        root = tree.root_id()
        if not tree.is_stream(root):
            return [root] if tree.has_children(root) or tree.has_val(root) else []
        return self.children(root)

    def children(self, node: int) -> list[int]:
        next_sibling = self.tree.next_sibling
        found = []
        child = self.tree.first_child(node)
        while child != ryml.NONE:
            found.append(child)
            child = next_sibling(child)
        return found

    def offset(self, node: int) -> int:
        """Where a block mapping's first key starts in the buffer (its node's position)."""
        return self.offsets([node])[0]

    def offsets(self, nodes: list[int]) -> list[int]:
        """:meth:`offset` of each node (one node type read for its map and block flags)."""
        tree = self.tree
        node_type, first_child, key_of = tree.type, tree.first_child, tree.key
        base, size = self.base, self.size
        found = []
        for node in nodes:
            if node_type(node) & _BLOCK_MAP != _BLOCK_MAP:
                raise _Decline
            child = first_child(node)
            if child == ryml.NONE:
                raise _Decline
            key = key_of(child)
            if len(key) == 0:
                raise _Decline
            offset = np.frombuffer(key, dtype=np.uint8).ctypes.data - base
            if not 0 <= offset < size:
                raise _Decline
            found.append(offset)
        return found

    def lines(self, offsets: list[int]) -> list[int]:
        found = np.searchsorted(self.newlines, np.asarray(offsets, dtype=np.int64)) + 1
        return [int(line) for line in found]

    def item_lines(self, node: int, value: dict[str, Any]) -> _Lines | None:
        """The lines of a List's items, read from the List's node (``items`` is its last key
        of that name; duplicates were ruled out)."""
        items_node = None
        for child in self.children(node):
            if bytes(self.tree.key(child)) == b"items":
                items_node = child
        items = value.get("items")
        if items_node is None or not self.tree.is_seq(items_node) or not isinstance(items, list):
            return None
        item_nodes = self.children(items_node)
        if len(item_nodes) != len(items):
            raise _Decline
        lines = self.lines(self.offsets(item_nodes))
        nested: dict[int, _Lines] = {}
        for index, item in enumerate(items):
            if type(item) is dict and is_list(item):
                inner = self.item_lines(item_nodes[index], item)
                if inner is not None:
                    nested[index] = inner
        return _Lines(lines, nested)


_Emitted = tuple[_Room, int]  # a buffer, and how many of its bytes the JSON is


def _emit(tree: Any, node: int, room: _Room) -> _Emitted | None:
    """The document as JSON (None when empty), emitted into ``room`` or, if that is too
    small, into a buffer of the size the emitter asked for."""
    out: _Room = room
    try:
        failed, size = ryml.emit_json_to_substr(tree, node, out)
        if failed:
            out = bytearray(size)
            failed, size = ryml.emit_json_to_substr(tree, node, out)
    except Exception:
        raise _Decline from None
    if failed:
        raise _Decline
    if not size:
        return None
    return out, size


def _shallow(emitted: _Emitted, flow: int, limits: Limits) -> bool:
    """Whether the emitted document surely nests no deeper than the limit, seen from its
    layout alone (else :func:`depth` measures it).

    rapidyaml writes a block container's items one per line, two spaces deeper than the
    line that opens it, and a flow container on the line it opens on; JSON strings hold no
    raw newline. So a line indented ``2 i`` spaces holds values nested ``i + 1`` deep, and
    the flow containers on it add at most ``flow`` more (their deepest nesting in the
    input, counted generously). No line indented ``2 (max_depth - flow)`` spaces or more:
    no value deeper than ``max_depth``. (One search in C, a tenth of measuring.)"""
    blocks = limits.max_depth - flow
    buffer, size = emitted
    return blocks > 0 and buffer.find(b"\n" + b" " * (2 * blocks), 0, size) < 0


def _decode(emitted: _Emitted | None, flow: int, limits: Limits) -> Any:
    """One emitted document, decoded and checked (``_Decline`` when it cannot be proved)."""
    if emitted is None:
        return None
    buffer, size = emitted
    json = memoryview(buffer)[:size]  # (no copy)
    try:
        value = orjson.loads(json)
    except orjson.JSONDecodeError:
        raise _Decline from None
    if value is None:
        return None
    dumped = compact(value)
    if (
        dumped is None
        or not same_json_keys(json, dumped)  # (colons counted: twice as fast as keys)
        or not looks_exact(dumped)
        or (not _shallow(emitted, flow, limits) and depth(dumped) > limits.max_depth)
    ):
        raise _Decline
    return value


def read_yaml_fast(
    text: str | None,
    raw: bytes,
    source: str | None,
    limits: Limits,
    out: Collector,
    scan: Scan | None = None,
) -> bool:
    """Read a YAML stream into ``out`` if its result can be proved equal to the exact
    reader's; False (with nothing added) otherwise. ``raw`` is ``text`` as UTF-8 (``text``
    None: ``raw`` is ASCII); ``scan``: ``Scan(raw)``, if the caller made it."""
    scan = scan if scan is not None else Scan(raw)
    flow = _flow_depth(scan)
    if not _simple(text, scan, flow, limits) or not _typing_agrees(scan):
        return False
    try:
        parsed = _Tree(scan)
    except Exception:
        return False
    documents = parsed.documents()
    out.check_count(len(documents))  # empty documents count too
    decoded: list[tuple[Origin, dict[str, Any], _Lines | None]] = []
    empty = 0
    offsets: list[int] = []
    room = scan.room
    if len(room) < (hint := 2 * len(raw) // max(len(documents), 1) + 4096):
        room = _room(hint)  # a large input's documents: JSON is about 1.5x the YAML
    try:
        for index, node in enumerate(documents):
            value = _decode(_emit(parsed.tree, node, room), flow, limits)
            if value is None:
                empty += 1
                out.check_empty(empty)  # the exact reader would refuse them too
                continue
            if not isinstance(value, dict):
                raise _Decline  # the exact reader words the problem
            offsets.append(parsed.offset(node))
            lines = parsed.item_lines(node, value) if is_list(value) else None
            decoded.append((Origin(source, index), value, lines))
    except _Decline:
        return False
    for (origin, value, lines), line in zip(decoded, parsed.lines(offsets), strict=True):
        out.add(value, Origin(origin.source, origin.document, line=line), lines)
    out.empty += empty
    return True
