"""The admin tiers' verdicts for every (destination, source) pair of one direction at once.

The subject (whose policies apply: the destination for ingress, the source for egress) and
the peer are grouped apart: subjects by the admin policies that select them and whether
NetworkPolicy isolates them (then the Baseline tier cannot matter), peers by the admin
rules whose peers hold them; the destination side also by its named ports. Each (subject
group, peer group) pair matches a set of rules; pairs with equal sets and named ports share
one walk of the rules in evaluation order, in numpy, each port atom
(:mod:`service.engine.port_atoms`) decided by the first rule that matches it (rule 8).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from service.engine.compile import CompiledAdminRule, CompiledCluster, NamedPorts
from service.engine.model import AdminAction, Direction, PortSet
from service.engine.port_atoms import PortAtoms

IntArray = npt.NDArray[np.int64]
Words = npt.NDArray[np.uint64]
_ALL = PortSet.all()
_CHUNK = 1 << 22  # bytes of rule sets held at once while pairs are hashed


@dataclass(frozen=True, slots=True)
class TierState:
    """What the admin tiers decided for a pair (``baseline_denied``: among the ports the
    Admin tier left to the rest)."""

    allowed: PortSet
    denied: PortSet
    baseline_denied: PortSet

    def result(self, policy: PortSet | None) -> PortSet:
        """The ports let through, given NetworkPolicy's verdict (None: not isolated)."""
        rest = _ALL - self.allowed - self.denied
        if policy is not None:
            return self.allowed | (rest & policy)
        return self.allowed | (rest - self.baseline_denied)


class TierTable:
    """Per destination group, per source group, a state id (into ``states``)."""

    def __init__(
        self,
        destination_group: IntArray,
        source_group: IntArray,
        matrix: IntArray,
        states: list[TierState],
    ) -> None:
        self._destination_group = destination_group  # per peer; -1: not a destination here
        self._source_group = source_group  # per peer
        self._matrix = matrix  # destination groups x source groups
        self.states = states
        self._cells: dict[int, dict[int, int]] = {}
        self._results: dict[tuple[int, PortSet | None], PortSet] = {}

    def group(self, destination: int) -> int:
        return int(self._destination_group[destination])

    def cells(self, group: int) -> dict[int, int]:
        """The sources of a destination group by state: {state id: bitset of peers}."""
        found = self._cells.get(group)
        if found is None:
            row = self._matrix[group]
            per_source = row[self._source_group]
            present = np.flatnonzero(np.bincount(row))
            packed = np.packbits(per_source[None, :] == present[:, None], axis=1, bitorder="little")
            found = self._cells[group] = {
                state: int.from_bytes(packed[i].tobytes(), "little")
                for i, state in enumerate(present.tolist())
            }
        return found

    def result(self, state: int, policy: PortSet | None) -> PortSet:
        key = (state, policy)
        found = self._results.get(key)
        if found is None:
            found = self._results[key] = self.states[state].result(policy)
        return found


def tier_table(
    compiled: CompiledCluster,
    direction: Direction,
    destinations: Sequence[int],
    *,
    dns: bool = False,
) -> TierTable:
    """The admin tiers of ``direction`` towards ``destinations`` from every peer; ``dns``:
    as if every ``domainNames`` peer resolved to every external address (rule 9)."""
    policies = [p for p in compiled.admin_policies if p.rules(direction)]  # evaluation order
    rules = [rule for p in policies for rule in p.rules(direction)]
    size = compiled.peer_count
    everyone = np.arange(size, dtype=np.int64)
    targets = np.asarray(destinations, dtype=np.int64)
    ingress = direction is Direction.INGRESS
    subject_rows, peer_rows = (targets, everyone) if ingress else (everyone, targets)

    names: dict[NamedPorts | None, int] = {None: 0}
    named_of_peer = np.zeros(size, dtype=np.int64)
    for c in range(compiled.class_count):
        named_of_peer[c] = names.setdefault(compiled.named_ports_of(c), len(names))
    isolated = _bit_matrix([compiled.isolated[direction]], subject_rows, size)[:, 0]
    destination_named = named_of_peer[subject_rows if ingress else peer_rows]
    subject_extra = isolated.astype(np.int64)
    if ingress:
        subject_extra += 2 * destination_named
    peer_extra = np.zeros(len(peer_rows), dtype=np.int64) if ingress else destination_named
    subject_signature = _bit_matrix([p.selected for p in policies], subject_rows, size)
    peer_bits = [r.bits | r.dns_bits if dns else r.bits for r in rules]
    peer_signature = _bit_matrix(peer_bits, peer_rows, size)
    subject_first, subject_group = _distinct_rows(_packed(subject_signature, subject_extra))
    peer_first, peer_group = _distinct_rows(_packed(peer_signature, peer_extra))

    policy_of_rule = np.array(
        [i for i, p in enumerate(policies) for _ in p.rules(direction)], dtype=np.int64
    )
    by_subject = _packed(subject_signature[subject_first][:, policy_of_rule])
    by_peer = _packed(peer_signature[peer_first])
    peer_kinds = int(peer_extra.max(initial=0)) + 1
    pair_extra = subject_extra[subject_first][:, None] * peer_kinds + peer_extra[peer_first]
    first, set_of_pair = _distinct_pairs(by_subject, by_peer, pair_extra.ravel())
    subject_of_set, peer_of_set = first // len(peer_first), first % len(peer_first)
    sets = by_subject[subject_of_set] & by_peer[peer_of_set]
    subject_at, peer_at = subject_first[subject_of_set], peer_first[peer_of_set]
    named = destination_named[subject_at if ingress else peer_at]
    state_of_set, states = _walk(rules, sets, named, isolated[subject_at], list(names))
    matrix = state_of_set[set_of_pair].reshape(len(subject_first), len(peer_first))

    destination_group = np.full(size, -1, dtype=np.int64)
    if ingress:
        destination_group[targets] = subject_group
        return TierTable(destination_group, peer_group, matrix, states)
    destination_group[targets] = peer_group
    return TierTable(destination_group, subject_group, np.ascontiguousarray(matrix.T), states)


def _walk(
    rules: Sequence[CompiledAdminRule],
    sets: Words,
    named: IntArray,
    isolated: npt.NDArray[np.bool_],
    names: Sequence[NamedPorts | None],
) -> tuple[IntArray, list[TierState]]:
    """Per distinct rule set (with the destination's named ports, and whether the subject
    is isolated): its state id; and the states."""
    ports = [[rule.ports_for(n) for n in names] for rule in rules]
    atoms = PortAtoms(p for per_rule in ports for p in per_rule)
    width = atoms.words
    masks = np.zeros((len(rules), len(names), width), dtype=np.uint64)
    for r, per_rule in enumerate(ports):
        for n, portset in enumerate(per_rule):
            masks[r, n] = atoms.to_words(atoms.mask(portset))
    count = len(sets)
    decided = np.zeros((count, width), dtype=np.uint64)
    allowed = np.zeros_like(decided)
    denied = np.zeros_like(decided)
    baseline_decided = np.zeros_like(decided)
    baseline_denied = np.zeros_like(decided)
    matched = np.unpackbits(sets.astype("<u8").view(np.uint8), axis=1, bitorder="little")
    rule_of, row_of = np.nonzero(matched[:, : len(rules)].T)
    bounds = np.searchsorted(rule_of, np.arange(len(rules) + 1)).tolist()
    for r, rule in enumerate(rules):
        rows = row_of[bounds[r] : bounds[r + 1]]
        baseline = rule.policy.baseline
        if baseline:
            rows = rows[~isolated[rows]]  # NetworkPolicy decides instead
        if not len(rows):
            continue
        seen = baseline_decided if baseline else decided
        wanted = masks[r, named[rows]]
        before = seen[rows]
        seen[rows] = before | wanted
        if rule.action is AdminAction.DENY:
            target = baseline_denied if baseline else denied
        elif rule.action is AdminAction.ALLOW and not baseline:
            target = allowed
        else:
            continue  # Pass, or a baseline Accept: only keeps later rules off those ports
        target[rows] |= wanted & ~before
    full = atoms.to_words(atoms.full)
    # Not isolated: the verdict is final, kept as (those ports, the others); isolated:
    # what NetworkPolicy's verdict is combined with (the baseline is never reached).
    final = allowed | (full & ~(denied | baseline_denied))
    allowed = np.where(isolated[:, None], allowed, final)
    denied = np.where(isolated[:, None], denied, full & ~final)
    first, state_of_set = _distinct_rows(np.concatenate((allowed, denied), axis=1))
    states = [
        TierState(
            atoms.portset(atoms.from_words(allowed[i])),
            atoms.portset(atoms.from_words(denied[i])),
            PortSet.empty(),
        )
        for i in first.tolist()
    ]
    return state_of_set, states


def _bit_matrix(columns: Sequence[int], rows: IntArray, size: int) -> npt.NDArray[np.bool_]:
    """rows x columns: whether each row's peer is in each column's bitset."""
    if not columns or not len(rows):
        return np.zeros((len(rows), len(columns)), dtype=bool)
    width = (size + 7) // 8
    raw = np.frombuffer(b"".join(bits.to_bytes(width, "little") for bits in columns), np.uint8)
    flags = np.unpackbits(raw.reshape(len(columns), width), axis=1, count=size, bitorder="little")
    return flags[:, rows].T.astype(bool)


def _packed(flags: npt.NDArray[np.bool_], extra: IntArray | None = None) -> Words:
    """Each row's flags as uint64 words (bit ``j`` of the row: bit ``j % 64`` of word
    ``j // 64``, as bytes in little-endian order), then ``extra`` as one more word."""
    rows, count = flags.shape
    width = max(1, (count + 63) // 64)
    padded = np.zeros((rows, width * 64), dtype=bool)
    padded[:, :count] = flags
    words = np.packbits(padded, axis=1, bitorder="little").view("<u8").astype(np.uint64)
    if extra is None:
        return words
    return np.concatenate((words, extra.astype(np.uint64)[:, None]), axis=1)


def _mix(x: Words) -> Words:
    """splitmix64's finaliser: every input bit moves every output bit."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _hash(words: Words) -> Words:
    found = np.zeros(len(words), dtype=np.uint64)
    for column in range(words.shape[1]):
        found = _mix(found ^ words[:, column])
    return found


def _group(hashes: Words) -> tuple[IntArray, IntArray]:
    """First index of each distinct hash, and each position's group (np.unique is slower)."""
    order = np.argsort(hashes, kind="stable")
    ordered = hashes[order]
    starts = np.ones(len(ordered), dtype=bool)
    starts[1:] = ordered[1:] != ordered[:-1]
    inverse = np.empty(len(ordered), dtype=np.int64)
    inverse[order] = np.cumsum(starts) - 1
    return order[starts].astype(np.int64), inverse


def _distinct_rows(words: Words) -> tuple[IntArray, IntArray]:
    """First row of each distinct row, and each row's group (exact: hashes are checked)."""
    if not len(words):
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    first, inverse = _group(_hash(words))
    if not (words == words[first][inverse]).all():  # a collision: sort the rows themselves
        rows = np.ascontiguousarray(words).view(np.dtype((np.void, words.shape[1] * 8)))[:, 0]
        _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
    return first.astype(np.int64), inverse.ravel().astype(np.int64)


def _distinct_pairs(
    by_subject: Words, by_peer: Words, extra: Words | IntArray
) -> tuple[IntArray, IntArray]:
    """As :func:`_distinct_rows` over every (subject, peer) row ``by_subject[s] &
    by_peer[p]`` plus ``extra``, in chunks of subjects (the rows are never all held)."""
    subjects, peers = len(by_subject), len(by_peer)
    step = max(1, _CHUNK // max(1, peers * by_peer.shape[1] * 8))
    extra = np.asarray(extra, dtype=np.uint64)
    hashes = np.empty(subjects * peers, dtype=np.uint64)
    for lo in range(0, subjects, step):
        block = _pairs(by_subject[lo : lo + step], by_peer, extra[lo * peers : (lo + step) * peers])
        hashes[lo * peers : lo * peers + len(block)] = _hash(block)
    first, inverse = _group(hashes)
    chosen = _pairs_at(by_subject, by_peer, extra, first)
    for lo in range(0, subjects, step):
        span = slice(lo * peers, min(subjects, lo + step) * peers)
        block = _pairs(by_subject[lo : lo + step], by_peer, extra[span])
        if not (block == chosen[inverse[span]]).all():
            every = _pairs(by_subject, by_peer, extra)  # a collision: exact, all at once
            return _distinct_rows(every)
    return first, inverse


def _pairs(by_subject: Words, by_peer: Words, extra: Words) -> Words:
    sets = (by_subject[:, None, :] & by_peer[None, :, :]).reshape(-1, by_peer.shape[1])
    return np.concatenate((sets, extra[:, None]), axis=1)


def _pairs_at(by_subject: Words, by_peer: Words, extra: Words, index: IntArray) -> Words:
    peers = len(by_peer)
    sets = by_subject[index // peers] & by_peer[index % peers]
    return np.concatenate((sets, extra[index][:, None]), axis=1)
