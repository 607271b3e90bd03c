"""The address partition and compact peer sets against definitions computed address by
address, on random CIDR sets in a small window of each IP version's space."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from service.engine.model import AddressRange, IPBlock
from service.engine.model.addresses import ADDRESS_BITS
from service.engine.partition import AddressPartition
from service.engine.peersets import PeerSet, PeerSets, merge_runs, runs_to_bits

WINDOW_BITS = 8  # every CIDR lies in a window of 256 addresses: the reference visits each
WINDOWS = {4: int(ipaddress.ip_address("10.0.0.0")), 6: int(ipaddress.ip_address("fd00::"))}


@st.composite
def window_blocks(draw: st.DrawFn, version: int) -> IPBlock:
    """A block in the window: a CIDR and zero to three excepts strictly inside it."""
    bits = ADDRESS_BITS[version]
    prefix = draw(st.integers(bits - WINDOW_BITS, bits))
    size = 2 ** (bits - prefix)
    start = WINDOWS[version] + draw(st.integers(0, 2**WINDOW_BITS // size - 1)) * size
    cidr = ipaddress.ip_network((start, prefix))
    excepts = []
    if prefix < bits:
        for _ in range(draw(st.integers(0, 3))):
            inner = draw(st.integers(prefix + 1, bits))
            inner_size = 2 ** (bits - inner)
            at = start + draw(st.integers(0, size // inner_size - 1)) * inner_size
            excepts.append(str(ipaddress.ip_network((at, inner))))
    return IPBlock.parse(str(cidr), excepts)


blocks_v4 = st.lists(window_blocks(4), max_size=12)
blocks_v6 = st.lists(window_blocks(6), max_size=12)


def reference_pieces(blocks: list[IPBlock], version: int) -> list[AddressRange]:
    """By definition: a new piece starts wherever membership of any CIDR or except changes,
    visiting every address of the window (and one address on either side for the rest)."""
    networks = [n for b in blocks if b.version == version for n in (b.cidr, *b.excepts)]
    low, top = WINDOWS[version], 2 ** ADDRESS_BITS[version] - 1
    probes = [low - 1, *range(low, low + 2**WINDOW_BITS), low + 2**WINDOW_BITS]
    starts = [0]
    previous = None
    for value in probes:
        address = ipaddress.ip_address(value)
        signature = tuple(address in n for n in networks)
        if previous is not None and signature != previous:
            starts.append(value)
        previous = signature
    ends = [s - 1 for s in starts[1:]] + [top]
    return [AddressRange(version, s, e) for s, e in zip(starts, ends, strict=True)]


@settings(max_examples=200, deadline=None)
@given(blocks_v4, blocks_v6)
def test_pieces_are_the_cut_at_every_boundary(v4: list[IPBlock], v6: list[IPBlock]) -> None:
    partition = AddressPartition.of([*v4, *v6], [4, 6])
    expected = reference_pieces(v4, 4) + reference_pieces(v6, 6)
    assert list(partition.pieces) == expected
    assert partition.offsets == {4: 0, 6: len(reference_pieces(v4, 4))}


@settings(max_examples=200, deadline=None)
@given(blocks_v4, blocks_v6, st.data())
def test_runs_are_exactly_the_pieces_inside(
    v4: list[IPBlock], v6: list[IPBlock], data: st.DataObject
) -> None:
    blocks = [*v4, *v6]
    partition = AddressPartition.of(blocks, [4, 6])
    for block in blocks:
        inside = {i for i, p in enumerate(partition.pieces) if block.contains(p.first)}
        runs = partition.runs(block)
        assert {i for lo, hi in runs for i in range(lo, hi)} == inside
        assert runs == list(merge_runs(runs))  # sorted, disjoint, non-adjacent
        for lo, hi in runs:  # a whole piece is in the block, or none of it is
            assert all(block.contains(p.last) for p in partition.pieces[lo:hi])
    for version, low in WINDOWS.items():
        value = low + data.draw(st.integers(-1, 2**WINDOW_BITS))
        piece = partition.piece_at(version, value)
        assert piece is not None
        assert partition.pieces[piece].contains(ipaddress.ip_address(value))


def test_a_block_whose_excepts_cover_it_has_no_pieces() -> None:
    block = IPBlock.parse("10.0.0.0/8", ["10.0.0.0/9", "10.128.0.0/9"])
    assert AddressPartition.of([block], [4]).runs(block) == []


def test_an_ip_version_not_partitioned_has_no_piece() -> None:
    partition = AddressPartition.of([IPBlock.parse("10.0.0.0/8")], [4])
    assert partition.piece_of(ipaddress.ip_address("fd00::1")) is None


runs_ = st.lists(
    st.tuples(st.integers(0, 80), st.integers(1, 12)).map(lambda t: (t[0], t[0] + t[1])),
    max_size=24,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**6 - 1), runs_), max_size=6), st.integers(0, 100))
def test_peer_sets_against_plain_bitsets(
    raw: list[tuple[int, list[tuple[int, int]]]], probe: int
) -> None:
    """Classes below 64, runs above: every operation agrees with the same sets as ints."""
    sets = [
        PeerSet(classes, merge_runs((lo + 64, hi + 64) for lo, hi in runs)) for classes, runs in raw
    ]
    plain = [s.classes | sum(1 << i for lo, hi in s.runs for i in range(lo, hi)) for s in sets]
    assert [s.to_bits() for s in sets] == plain
    assert [s.contains(probe) for s in sets] == [bool(b >> probe & 1) for b in plain]
    assert [bool(s) for s in sets] == [bool(b) for b in plain]
    peer_sets = PeerSets(sets)
    union = 0
    for bits in plain:
        union |= bits
    assert peer_sets.union_bits() == union
    first = next((i for i, bits in enumerate(plain) if bits >> probe & 1), None)
    assert peer_sets.first_containing(probe) == first
    if len(sets) >= 2:
        assert (sets[0] | sets[1]).to_bits() == plain[0] | plain[1]
    many = [(i * 3, i * 3 + 2) for i in range(40)]  # above the sparse threshold: numpy path
    assert runs_to_bits(many) == sum(1 << i for lo, hi in many for i in range(lo, hi))
