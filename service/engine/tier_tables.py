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

from collections.abc import Callable, Sequence
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
    Admin tier left to the rest). The states of subjects NetworkPolicy does not isolate are
    kept as (their final ports, the others, none)."""

    allowed: PortSet
    denied: PortSet
    baseline_denied: PortSet

    def result(self, policy: PortSet | None) -> PortSet:
        """The ports let through, given NetworkPolicy's verdict (None: not isolated)."""
        rest = _ALL - self.allowed - self.denied
        if policy is not None:
            return self.allowed | (rest & policy)
        return self.allowed | (rest - self.baseline_denied)


class States:
    """The distinct states of one table, made when first asked for (most are never: a
    map looks up the states of the few sources its destinations need)."""

    def __init__(self, atoms: PortAtoms, allowed: Words, denied: Words) -> None:
        self._atoms = atoms
        self._allowed = allowed
        self._denied = denied
        self._made: dict[int, TierState] = {}
        self.allows = (allowed != 0).any(axis=1).tolist()  # whether each lets a port through
        # states with equal allowed ports share a kind: compared without building port sets
        self.allowed_kind: list[int] = _distinct_rows(allowed)[1].tolist()

    def __len__(self) -> int:
        return len(self._allowed)

    def __getitem__(self, state: int) -> TierState:
        found = self._made.get(state)
        if found is None:
            atoms = self._atoms
            found = self._made[state] = TierState(
                atoms.portset(atoms.from_words(self._allowed[state])),
                atoms.portset(atoms.from_words(self._denied[state])),
                PortSet.empty(),
            )
        return found


class TierTable:
    """Per destination group, per source group, a state id (into ``states``)."""

    def __init__(
        self,
        destination_group: IntArray,
        source_group: IntArray,
        matrix: IntArray,
        states: States,
    ) -> None:
        # destination groups whose states are the same towards every source group are one
        # (their sides, computed per group, are then shared)
        first: dict[bytes, int] = {}
        shared = np.array([first.setdefault(r.tobytes(), len(first)) for r in matrix], np.int64)
        if len(first) < len(matrix):
            rows = np.empty(len(first), dtype=np.int64)
            rows[shared] = np.arange(len(matrix))
            matrix = matrix[rows]  # any row of each kind: they are equal
            destination_group = np.where(destination_group < 0, -1, shared[destination_group])
        self._destination_group = destination_group.tolist()  # (plain, dns) x peer; -1: none
        self._source_group = source_group  # per peer
        self._matrix = matrix  # destination groups x source groups
        self.states = states
        self._allows: list[bool] = states.allows
        self._allow_flags = np.array(self._allows, dtype=bool)
        self._allowed_rank: dict[int, dict[int, int]] = {}
        self._rows: dict[int, list[int]] = {}
        self._source_groups: list[int] | None = None
        self._by_state: dict[int, dict[int, int]] = {}
        self._allowed_sources: dict[int, int] = {}
        self._results: dict[PortSet | None, dict[int, PortSet]] = {}

    def group(self, destination: int, *, dns: bool = False) -> int:
        """``dns``: the group as a DNS-resolved destination."""
        return int(self._destination_group[dns][destination])

    def by_state(self, group: int) -> dict[int, int]:
        """The sources of a destination group by state: {state id: bitset of peers}."""
        found = self._by_state.get(group)
        if found is None:
            row = self._matrix[group]
            per_source = row[self._source_group]
            present = np.flatnonzero(np.bincount(row))
            packed = np.packbits(per_source[None, :] == present[:, None], axis=1, bitorder="little")
            found = self._by_state[group] = {
                state: int.from_bytes(packed[i].tobytes(), "little")
                for i, state in enumerate(present.tolist())
            }
        return found

    def split(self, group: int, peers: int) -> list[tuple[int, int]]:
        """The sources among ``peers`` of a destination group by state, ascending (as
        :meth:`by_state`, restricted; states with none left out)."""
        return [
            (state, bits & peers) for state, bits in self.by_state(group).items() if bits & peers
        ]

    def allowed_rank(self, group: int) -> dict[int, int]:
        """The order of the cells of a destination group's sources by the ports the admin
        tiers alone let through (the verdict where NetworkPolicy admits nothing or does not
        isolate): {allowed kind (:attr:`States.allowed_kind`): rank}, ports first seen in
        the order of the source groups first (which the map's port sets keep)."""
        found = self._allowed_rank.get(group)
        if found is None:
            found = {}
            kinds, allows = self.states.allowed_kind, self._allows
            for state in dict.fromkeys(self._matrix[group].tolist()):
                if allows[state]:
                    found.setdefault(kinds[state], len(found))
            self._allowed_rank[group] = found
        return found

    def state_of(self, group: int) -> Callable[[int], int]:
        """Each source's state towards a destination group: ``state_of(group)(source)``."""
        row = self._rows.get(group)
        if row is None:
            row = self._rows[group] = self._matrix[group].tolist()
        if self._source_groups is None:
            self._source_groups = self._source_group.tolist()
        of_source = self._source_groups
        return lambda source: row[of_source[source]]

    def allowed_sources(self, group: int) -> int:
        """Every source to which the admin tiers alone let some port through."""
        found = self._allowed_sources.get(group)
        if found is None:
            flags = self._allow_flags[self._matrix[group]][self._source_group]
            packed = np.packbits(flags, bitorder="little")
            found = self._allowed_sources[group] = int.from_bytes(packed.tobytes(), "little")
        return found

    def results(self, policy: PortSet | None) -> dict[int, PortSet]:
        """The ports let through per state known so far, given NetworkPolicy's verdict
        (filled by :meth:`result`)."""
        found = self._results.get(policy)
        if found is None:
            found = self._results[policy] = {}
        return found

    def result(self, state: int, policy: PortSet | None) -> PortSet:
        found = self.results(policy).get(state)
        if found is None:
            found = self._results[policy][state] = self.states[state].result(policy)
        return found


def tier_table(
    compiled: CompiledCluster,
    direction: Direction,
    destinations: Sequence[int],
    dns_destinations: Sequence[int] = (),
) -> TierTable:
    """The admin tiers of ``direction`` towards ``destinations`` from every peer, and
    (egress) towards ``dns_destinations`` as if every ``domainNames`` peer resolved to
    them (rule 9)."""
    policies = [p for p in compiled.admin_policies if p.rules(direction)]  # evaluation order
    rules = [rule for p in policies for rule in p.rules(direction)]
    size = compiled.peer_count
    everyone = np.arange(size, dtype=np.int64)
    ingress = direction is Direction.INGRESS
    assert not (ingress and dns_destinations), "domain names are egress peers only"
    plain = np.asarray(destinations, dtype=np.int64)
    resolved = np.asarray(dns_destinations, dtype=np.int64)
    targets = np.concatenate((plain, resolved))
    subject_rows, peer_rows = (targets, everyone) if ingress else (everyone, targets)

    names: dict[NamedPorts | None, int] = {None: 0}
    named_of_peer = np.zeros(size, dtype=np.int64)
    named_of_peer[: compiled.class_count] = [
        names.setdefault(c.named_ports, len(names)) for c in compiled.classes
    ]
    isolated = _bit_matrix([compiled.isolated[direction]], subject_rows, size)[:, 0]
    subject_signature = _bit_matrix([p.selected for p in policies], subject_rows, size)
    peer_signature = _bit_matrix([r.bits for r in rules], peer_rows, size)
    if len(resolved):
        dns_bits = [r.bits | r.dns_bits for r in rules]
        peer_signature[len(plain) :] = _bit_matrix(dns_bits, resolved, size)
    # a destination's named ports matter only where a rule with named ports applies
    by_name = np.array([bool(r.named_ports) for r in rules], dtype=bool)
    if ingress:
        policy_names = np.array([any(r.named_ports for r in p.ingress) for p in policies], bool)
        named_matter = (subject_signature & policy_names).any(axis=1)
        destination_named = np.where(named_matter, named_of_peer[subject_rows], 0)
    else:
        named_matter = (peer_signature & by_name).any(axis=1)
        destination_named = np.where(named_matter, named_of_peer[peer_rows], 0)
    subject_named = destination_named if ingress else np.zeros(len(subject_rows), np.int64)
    peer_named = np.zeros(len(peer_rows), np.int64) if ingress else destination_named
    subject_first, subject_group = _distinct_rows(_packed(subject_signature, subject_named))
    peer_first, peer_group = _distinct_rows(_packed(peer_signature, peer_named))
    # isolation only changes what a walk's outcome means: told apart after the walks
    final = np.stack((subject_group, isolated), axis=1).astype(np.uint64)
    final_first, final_group = _distinct_rows(final)

    policy_of_rule = np.array(
        [i for i, p in enumerate(policies) for _ in p.rules(direction)], dtype=np.int64
    )
    by_subject = _packed(subject_signature[subject_first][:, policy_of_rule])
    by_peer = _packed(peer_signature[peer_first])
    pair_named = (subject_named[subject_first][:, None] + peer_named[peer_first]).ravel()
    first, set_of_pair = _distinct_pairs(by_subject, by_peer, pair_named)
    sets = _Cut(rules)(by_subject[first // len(peer_first)] & by_peer[first % len(peer_first)])
    # sets that differ only past a rule deciding every port walk alike: walked once
    walked, walk_of_set = _distinct_rows(_with(sets, pair_named[first]))
    set_of_pair = walk_of_set[set_of_pair]
    sets, walked_named = sets[walked], pair_named[first][walked]
    atoms, allowed, denied, baseline_denied = _walk(rules, sets, walked_named, list(names))

    combos = set_of_pair.reshape(len(subject_first), len(peer_first))[subject_group[final_first]]
    combos = 2 * combos + isolated[final_first][:, None]  # (final subject group, peer group)
    # small integers: grouped by counting, in ascending order (as sorting would)
    present = np.bincount(combos.ravel()) > 0
    combo = np.flatnonzero(present)
    combo_of = (np.cumsum(present) - 1)[combos.ravel()]
    state_of_combo, states = _states(
        atoms, allowed[combo // 2], denied[combo // 2], baseline_denied[combo // 2], combo % 2 == 1
    )
    matrix = state_of_combo[combo_of].reshape(len(final_first), len(peer_first))

    destination_group = np.full((2, size), -1, dtype=np.int64)  # plain, DNS resolved
    if ingress:
        destination_group[0, targets] = final_group
        return TierTable(destination_group, peer_group, matrix, states)
    destination_group[0, plain] = peer_group[: len(plain)]
    destination_group[1, resolved] = peer_group[len(plain) :]
    return TierTable(destination_group, final_group, np.ascontiguousarray(matrix.T), states)


class _Cut:
    """Rule sets cut after the first rule of each tier that decides every port: the
    tier's later rules never decide anything (broad Deny and Pass rules often name no
    ports, and many sets differ only past one)."""

    def __init__(self, rules: Sequence[CompiledAdminRule]) -> None:
        self.tiers: list[tuple[Words, Words]] = []
        for baseline in (False, True):
            tier = [rule.policy.baseline is baseline for rule in rules]
            full = [t and rule.numeric_ports == _ALL for t, rule in zip(tier, rules, strict=True)]
            if any(full):
                words = _packed(np.array([tier, full], dtype=bool))
                self.tiers.append((words[0], words[1]))

    def __call__(self, sets: Words) -> Words:
        sets = sets.copy()
        columns = np.arange(sets.shape[1])
        for tier, full in self.tiers:
            hit = sets & full
            found = hit != 0
            rows = np.flatnonzero(found.any(axis=1))
            if not len(rows):
                continue
            word = found[rows].argmax(axis=1)  # each row's first word holding such a rule
            x = hit[rows, word]
            lowest = x & (~x + np.uint64(1))
            through = lowest | (lowest - np.uint64(1))  # that rule and every earlier one
            keep = np.where(columns < word[:, None], ~np.uint64(0), np.uint64(0))
            keep[np.arange(len(rows)), word] = through
            sets[rows] &= keep | ~tier
        return sets


def _with(words: Words, extra: IntArray) -> Words:
    return np.concatenate((words, extra.astype(np.uint64)[:, None]), axis=1)


def _walk(
    rules: Sequence[CompiledAdminRule],
    sets: Words,
    named: IntArray,
    names: Sequence[NamedPorts | None],
) -> tuple[PortAtoms, Words, Words, Words]:
    """Per distinct rule set (with the destination's named ports): the ports the Admin
    tier allows and denies, and those the Baseline tier denies, as atoms."""
    ports = _ports_per_name(rules, names)
    atoms = PortAtoms(p for per_rule in ports for p in per_rule)
    width = atoms.words
    masks = _words(atoms, [atoms.mask(p) for per_rule in ports for p in per_rule])
    first_mask = np.cumsum([0] + [len(per_rule) for per_rule in ports]).tolist()
    count = len(sets)
    decided = np.zeros((count, width), dtype=np.uint64)
    allowed = np.zeros_like(decided)
    denied = np.zeros_like(decided)
    baseline_decided = np.zeros_like(decided)
    baseline_denied = np.zeros_like(decided)
    columns = np.ascontiguousarray(sets.T)
    for r, rule in enumerate(rules):
        rows = np.flatnonzero(columns[r >> 6] & np.uint64(1 << (r & 63)))
        if not len(rows):
            continue
        baseline = rule.policy.baseline
        seen = baseline_decided if baseline else decided
        at = first_mask[r]
        wanted = masks[at + named[rows]] if rule.named_ports else masks[at]
        before = seen[rows]
        seen[rows] = before | wanted
        if rule.action is AdminAction.DENY:
            target = baseline_denied if baseline else denied
        elif rule.action is AdminAction.ALLOW and not baseline:
            target = allowed
        else:
            continue  # Pass, or a baseline Accept: only keeps later rules off those ports
        target[rows] |= wanted & ~before
    return atoms, allowed, denied, baseline_denied


def _ports_per_name(
    rules: Sequence[CompiledAdminRule], names: Sequence[NamedPorts | None]
) -> list[list[PortSet]]:
    """Per rule, its ports towards a destination defining each of ``names`` (one entry
    when it names no port). Rules with the same ports resolve alike: resolved once (an
    administrator's rules repeat a few named ports, and resolving builds port sets); a
    destination defining none of a rule's names gets its numeric ports."""
    defined = [frozenset(name for name, _, _ in n or ()) for n in names]
    resolved: dict[tuple[PortSet, tuple[str, ...]], list[PortSet]] = {}
    ports = []
    for rule in rules:
        if not rule.named_ports:
            ports.append([rule.numeric_ports])
            continue
        key = (rule.numeric_ports, rule.named_ports)
        found = resolved.get(key)
        if found is None:
            wanted = frozenset(rule.named_ports)
            found = resolved[key] = [
                rule.ports_for(n) if wanted & d else rule.numeric_ports
                for n, d in zip(names, defined, strict=True)
            ]
        ports.append(found)
    return ports


def _states(
    atoms: PortAtoms,
    allowed: Words,
    denied: Words,
    baseline_denied: Words,
    isolated: npt.NDArray[np.bool_],
) -> tuple[IntArray, States]:
    """The distinct states of walks' outcomes, and each outcome's state id. Not isolated,
    the verdict is final, kept as (those ports, the others); isolated, what NetworkPolicy's
    verdict is combined with (the Baseline tier is never reached)."""
    full = atoms.to_words(atoms.full)
    final = allowed | (full & ~(denied | baseline_denied))
    allowed = np.where(isolated[:, None], allowed, final)
    denied = np.where(isolated[:, None], denied, full & ~final)
    first, state_of = _distinct_rows(np.concatenate((allowed, denied), axis=1))
    return state_of, States(atoms, allowed[first], denied[first])


def _words(atoms: PortAtoms, masks: Sequence[int]) -> Words:
    """Masks as rows of ``atoms.words`` uint64 words."""
    size = atoms.words * 8
    raw = b"".join(mask.to_bytes(size, "little") for mask in masks)
    return np.frombuffer(raw, dtype="<u8").astype(np.uint64).reshape(len(masks), atoms.words)


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


_PACKED = 1 << 18  # up to this many hashes, grouped by one sort of hashes and indices


def _group(hashes: Words) -> tuple[IntArray, IntArray]:
    """First index of each distinct hash, and each position's group, groups numbered in
    ascending order of hash (np.unique is slower).

    Up to :data:`_PACKED` hashes, each index replaces the hash's low bits and the keys are
    sorted (a plain sort, about three times as fast as ``argsort``); hashes equal but in
    those bits then fall in one group, which the callers' check of the rows finds as a
    collision (for ``2**18`` hashes, 46 bits are left: about one chance in 2,000)."""
    count = len(hashes)
    if count <= _PACKED:
        low = np.uint64((1 << max(1, (count - 1).bit_length())) - 1)
        keys = np.sort((hashes & ~low) | np.arange(count, dtype=np.uint64))
        order = (keys & low).astype(np.int64)
        ordered = keys & ~low
    else:
        order = np.argsort(hashes)
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
    if step >= subjects:  # one block: made once, hashed and checked
        return _distinct_rows(_pairs(by_subject, by_peer, extra))
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
