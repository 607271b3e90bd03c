"""YAML read as Kubernetes reads it, and the fast path always agreeing with the exact reader.

The exact reader (libyaml nodes, go-yaml v2 typing) defines the answer; the rapidyaml fast
path may only give it sooner. Every case here is read both ways and compared, and the cases
where the fast path must take over (kubectl output, generated clusters) check that it did.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.engine.model import Document, ManifestError
from service.ingest import Limits, read_bytes
from service.ingest.collect import Collector
from service.ingest.exact import compact, depth, long_digits
from service.ingest.yaml_exact import read_yaml_exact
from service.ingest.yaml_fast import (
    _RISKY_WORDS,
    _UNHANDLED,
    _WORD_START,
    Scan,
    _candidates,
    _closer_may_start_a_scalar,
    _differs,
    _emit,
    _flow_depth,
    _long_digits,
    _shallow,
    _starts_scalar,
    _Tree,
    _typing_agrees,
    read_yaml_fast,
)

REPO = Path(__file__).resolve().parents[2]
GENERATOR = REPO.parent / "shared" / "bench" / "gen_cluster.py"
CORPORA = [REPO / "tests", REPO / "service" / "demo", REPO.parent / "shared" / "conformance"]


def exact(data: bytes, limits: Limits = Limits()) -> list[Document] | str:
    """What the exact reader makes of ``data``: documents, or the error text."""
    out = Collector(limits)
    try:
        read_yaml_exact(data.decode(), "in.yaml", limits, out)
        return out.finish()
    except ManifestError as error:
        return str(error)
    except Exception as error:
        return f"stop: {error}"


def fast(data: bytes, limits: Limits = Limits()) -> list[Document] | str | None:
    """What the fast path makes of ``data``, or None where it declines."""
    out = Collector(limits)
    try:
        if not read_yaml_fast(data.decode(), data, "in.yaml", limits, out):
            return None
        return out.finish()
    except ManifestError as error:
        return str(error)


def agree(data: bytes) -> list[Document] | str:
    """Both readers' answer, which must be the same wherever the fast path answers."""
    expected = exact(data)
    got = fast(data)
    if got is not None:
        assert got == expected
    return expected


def value_of(data: bytes) -> Any:
    result = agree(data)
    assert not isinstance(result, str), result
    return result[0].body["v"]


# -- typing: (YAML scalar as written, value Kubernetes reads) ------------------------------

TYPING = [
    ("yes", True),
    ("Yes", True),
    ("on", True),
    ("ON", True),
    ("y", True),
    ("no", False),
    ("off", False),
    ("N", False),
    ("true", True),
    ("False", False),
    ("tRUE", "tRUE"),
    ("~", None),
    ("null", None),
    ("", None),
    ("0777", 511),
    ("0o17", 15),
    ("0x1F", 31),
    ("-0x1F", -31),
    ("0b101", 5),
    ("1_000", 1000),
    ("+12", 12),
    ("-0", 0),
    ("09", 9.0),
    ("1.5", 1.5),
    ("1e3", 1000.0),
    ("1.5E+3", 1500.0),
    (".5", 0.5),
    ("1.", 1.0),
    ("1:20", "1:20"),
    ("2025-01-06", "2025-01-06"),
    ("2025-01-06T08:00:00Z", "2025-01-06T08:00:00Z"),
    (".inf", ".inf"),
    ("-.Inf", "-.Inf"),
    (".nan", ".nan"),
    ("1e400", "1e400"),
    ("9223372036854775807", 2**63 - 1),
    ("-9223372036854775808", -(2**63)),
    ("10.0.0.1", "10.0.0.1"),
    ("'80'", "80"),
    ('"yes"', "yes"),
    ('"0777"', "0777"),
    ("!!str 80", "80"),
    ("!!int '80'", 80),
    ("!!float 1", 1.0),
    ("!!bool yes", True),
    ("<<", "<<"),
]


@pytest.mark.parametrize(("written", "expected"), TYPING, ids=[w or "empty" for w, _ in TYPING])
def test_scalars_are_typed_as_kubernetes_types_them(written: str, expected: object) -> None:
    value = value_of(f"kind: ConfigMap\nv: {written}\n".encode())
    assert type(value) is type(expected)
    assert value == expected


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("on", "true"),
        ("80", "80"),
        ("1.50", "1.5"),
        ("1e3", "1000"),
        ("0x1F", "31"),
        ("n", "false"),
        ("-.Inf", "-.inf"),  # Go's spelling of the float key, not the text as written
        (".NaN", ".nan"),
        ("'-.Inf'", "-.Inf"),  # quoted: a string, kept
    ],
)
def test_keys_become_strings_as_sigs_k8s_io_yaml_writes_them(written: str, key: str) -> None:
    result = agree(f"kind: ConfigMap\ndata:\n  {written}: x\n".encode())
    assert not isinstance(result, str)
    assert result[0].body["data"] == {key: "x"}


@pytest.mark.parametrize(
    ("data", "message", "line"),
    [
        (b"kind: Pod\nmetadata:\n  name: a\n  name: b\n", "duplicate key 'name' (line 4)", 4),
        (b"kind: Pod\nkind: ConfigMap\n", "duplicate key 'kind'", 2),
        (b"kind: Pod\nx:\n  on: 1\n  yes: 2\n", "duplicate key 'true'", 4),
        (
            b'kind: Pod\nx:\n  key: "a:b"\n  key: "c"\n',
            "duplicate key 'key'",
            4,
        ),  # colons in values
        (b'kind: Pod\na: "\\u003a"\na: 1\n', "duplicate key 'a'", 3),  # an escaped colon
        (b"kind: Pod\na: \\u003a\na: x\n", "duplicate key 'a'", 3),  # its text, as a value
        (b'kind: Pod\nx: {"k": 1, k: 2}\n', "duplicate key 'k'", 2),
        (b"kind: Pod\nspec:\n  count: 1" + b"0" * 309 + b"\n", "spec.count: number 1000", 3),
        (b"kind: Pod\nx: [1, -" + b"9" * 5000 + b"]\n", "x[1]: number -9999", 2),
        (b"kind: Pod\nx: 0x1" + b"0" * 256 + b"\n", "x: number 0x1000", 2),
        (b'kind: Pod\nx: "a\\0b"\n', "x: NUL characters are not allowed", 2),
        (b"kind: Pod\nx: a\x01b\n", "character U+0001 is not allowed in YAML (line 2)", 2),
        (b"kind: Pod\n~: 1\n", "mapping key '~' is not a string", 2),
        (b"kind: Pod\nx: !!int abc\n", "x: cannot decode 'abc' as a !!int", 2),
    ],
)
def test_refused_with_key_field_and_line(data: bytes, message: str, line: int) -> None:
    with pytest.raises(ManifestError) as caught:
        read_bytes(data, source="src", content_type="application/yaml")
    assert message in str(caught.value)
    assert [p.origin.line for p in caught.value.problems if p.origin] == [line]
    assert fast(data) is None  # the fast path leaves every refusal to the exact reader


def test_alias_bomb_by_bytes_is_refused_fast() -> None:
    """One 100,000-byte scalar referenced 20,000 times: few nodes, 2 GB of text."""
    data = b"kind: ConfigMap\na: &a " + b"x" * 100_000 + b"\nb: [" + b"*a, " * 20_000 + b"*a]\n"
    started = __import__("time").perf_counter()
    with pytest.raises(ManifestError) as caught:
        read_bytes(data)
    assert __import__("time").perf_counter() - started < 5
    assert "bytes of scalars" in str(caught.value)
    assert "refusing a possible alias bomb" in str(caught.value)


def test_alias_expansion_is_bounded_for_the_whole_read() -> None:
    """Each document's anchors are its own, but their expansions add up: ten documents that
    each stay within the limit for the input make ten times the limit together."""

    def document(index: int) -> bytes:
        return (
            b"kind: ConfigMap\nmetadata: {name: c%d}\na: &a " % index
            + b"x" * 500 + b"\nb: [" + b"*a, " * 4_999 + b"*a]\n"
        )  # fmt: skip

    one = read_bytes(document(0) + b"---\nkind: Pod\n" + b"# padding\n" * 30_000)
    assert len(one) == 2  # 2.5 MB expanded, within 10 x 300 kB + 1 MiB
    many = b"---\n".join(document(i) for i in range(10))
    assert len(many) > len(document(0)) * 9
    with pytest.raises(ManifestError) as caught:
        read_bytes(many + b"# padding\n" * 10_000)
    assert "aliases expand the documents so far to" in str(caught.value)
    assert caught.value.problems[0].origin.document == 1


def test_empty_documents_count_toward_the_document_limit() -> None:
    data = b"---\n" * 1001 + b"kind: Pod\n"
    with pytest.raises(ManifestError) as caught:
        read_bytes(data, limits=Limits(max_documents=1000))
    assert caught.value.too_large
    assert exact(data, Limits(max_documents=1000)) == str(caught.value)


@pytest.mark.parametrize("separator", [b"---\n", b"---\n# nothing\n\n", b"--- ~\n", b"--- null\n"])
def test_a_million_bare_separators_are_refused_quickly(separator: bytes) -> None:
    started = __import__("time").perf_counter()
    with pytest.raises(ManifestError) as caught:
        read_bytes(separator * 1_000_000, content_type="application/yaml")
    assert caught.value.too_large
    assert str(caught.value) == "more than 10000 empty documents (a bare `---` is one)"
    assert __import__("time").perf_counter() - started < 2


@pytest.mark.parametrize("empty", [b"---\n", b"--- ~\n", b"---\n# only a comment\n"])
def test_empty_documents_have_a_limit_of_their_own(empty: bytes) -> None:
    limits = Limits(max_empty_documents=3)
    pod = b"---\nkind: Pod\nmetadata: {name: a}\n"
    assert len(read_bytes(empty * 3 + pod, limits=limits)) == 1
    for reader in (exact, fast):
        got = reader(empty * 3 + pod, limits)
        assert got is None or len(got) == 1
    with pytest.raises(ManifestError, match="more than 3 empty documents"):
        read_bytes(empty * 4 + pod, limits=limits)
    assert exact(empty * 4 + pod, limits) == "more than 3 empty documents (a bare `---` is one)"


# -- the fast path: taken where it should be, always equal ---------------------------------

KUBECTL = b"""\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata:
    name: web-1
    namespace: shop
    labels: {app: web, tier: "1"}
    annotations:
      note: "on call: yes"
  spec:
    containers:
    - name: web
      ports:
      - containerPort: 8080
        name: http
  status:
    phase: Running
    podIP: 10.0.0.7
    startTime: 2025-01-06T08:00:01Z
- kind: List
  items:
  - kind: Service
    metadata: {name: s}
"""


def test_fast_path_reads_kubectl_output_with_lines() -> None:
    docs = fast(KUBECTL)
    assert isinstance(docs, list)
    assert docs == exact(KUBECTL)
    assert [(d.origin.item, d.origin.line) for d in docs] == [(0, 4), (1, 24)]


def test_fast_path_reads_a_document_far_larger_than_the_others() -> None:
    # Its JSON is far larger than the others' (each emitted into the same room).
    small = b"".join(b"---\nkind: ConfigMap\nmetadata: {name: c%d}\n" % i for i in range(50))
    nested = (
        b"".join(b" " * depth + b"k%d:\n" % depth for depth in range(60)) + b" " * 60 + b"v: 1\n"
    )
    big = b"---\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n" + b"".join(
        b"  n%d:\n" % i + b"".join(b"   " + line + b"\n" for line in nested.splitlines())
        for i in range(40)
    )
    data = small + big
    docs = fast(data)
    assert isinstance(docs, list), docs
    assert docs == exact(data)
    assert len(docs) == 51
    assert docs[-1].origin.line == len(small.splitlines()) + 2


@pytest.mark.parametrize("documents", [1, 3])
def test_a_large_input_emits_its_json_into_rooms_of_its_own(
    documents: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import service.ingest.yaml_fast as yaml_fast

    monkeypatch.setattr(yaml_fast, "_SHARED_ROOM", 0)  # as if the input were large
    data = b"---\n".join([KUBECTL] * documents)
    docs = fast(data)
    assert isinstance(docs, list)
    assert docs == exact(data)


@pytest.mark.parametrize(
    "data",
    [
        b"kind: Pod\nx: &a [1]\ny: *a\n",
        b"kind: Pod\nx: !!str 1\n",
        b"kind: Pod\nx: yes\n",
        b"kind: Pod\nx: 0777\n",
        b"kind: Pod\nx: 1_000\n",
        b"kind: Pod\nx:\n\t- 1\n",
        b"--- kind: Pod\n",
        b"kind: Pod\nx: [\n",
        b"kind: Pod\n: v\n",
        b"kind: Pod\nx:\n- : v\n",
        b"kind: Pod\nx:\n  : v\n",
        b"kind: Pod\nx: {a: 1, : 2}\n",
        b"kind: Pod\nx: %y\n",
        b"kind: Pod\nx: @y\n",
        b"kind: Pod\nx: .Inf\n",
        b"kind: Pod\nx: 1\n---x: 2\n",
        b"kind: Pod\nx: [?x]\n",
        b"kind: Pod\nx: [?, y]\n",
        b"kind: Pod\nx: [a:, b]\n",
        b"kind: Pod\nx: {a:}\n",
        b"kind: Pod\nx: [a:[b]]\n",
    ],
    ids=[
        *("anchor", "tag", "word", "octal", "underscore", "tab", "on-marker", "bad", "no-key"),
        *("no-key-in-item", "no-key-indented", "no-key-in-flow", "directive", "reserved"),
        *("inf", "content-after-marker"),
        *("flow-complex-key", "flow-lone-question-mark"),
        *("colon-before-comma", "colon-before-brace", "colon-before-bracket"),
    ],
)
def test_fast_path_declines_what_it_cannot_prove(data: bytes) -> None:
    assert fast(data) is None


@pytest.mark.parametrize(
    "value", [b"}", b"]", b"\n- }", b"\n- ]x", b"\n  }", b"  ]", b"\n  }: v", b"\n  - a: }"]
)
def test_a_closer_where_a_value_starts_is_a_syntax_error_as_in_kubernetes(value: bytes) -> None:
    # libyaml refuses `k: }`, `- ]x` and `}: v` (no node content, or no key); rapidyaml reads
    # a string
    answer = agree(b"kind: Pod\nx: " + value + b"\n")
    assert isinstance(answer, str)
    assert "YAML syntax error" in answer


@pytest.mark.parametrize(
    "value", [b"{ a: 1 }", b"[ a, b ]", b"a]", b"a}", b"[a, [b]]", b"{}", b'"}"', b"'a ]'"]
)
def test_closers_of_flow_collections_and_inside_scalars_keep_the_fast_path(value: bytes) -> None:
    data = b"kind: Pod\nx: " + value + b"\n"
    assert fast(data) is not None
    agree(data)


@pytest.mark.parametrize("flow", [b"[:a]", b"{:: x}", b"[b, :a]", b"{a: :b}", b"{a:  :b}"])
def test_a_colon_starting_a_flow_scalar_is_left_to_libyaml(flow: bytes) -> None:
    data = b"kind: Pod\nx: " + flow + b"\n"
    assert fast(data) is None
    assert isinstance(exact(data), str)  # libyaml: a value indicator, then no value


@pytest.mark.parametrize("data", [b"kind: Pod\nx:\n  1.  : v\n", b"kind: Pod\nx: {1. : v}\n"])
def test_a_number_key_before_spaced_colon_has_kubernetes_key_text(data: bytes) -> None:
    answer = agree(data)
    assert not isinstance(answer, str)
    assert answer[0].body["x"] == {"1": "v"}  # sigs.k8s.io/yaml: the float 1.0's text


def test_a_comment_before_a_flow_closer_is_a_syntax_error_as_in_kubernetes() -> None:
    data = b"kind: Pod\nx: {a: b # c}\n"
    assert fast(data) is None
    assert "YAML syntax error" in str(agree(data))


@pytest.mark.parametrize(
    "data",
    [b"kind: Pod\nx:\n- | -x\n  a\n", b"kind: Pod\nx:\n  | -: 1\n", b"kind: Pod\nx:\n  > -: 1\n"],
)
def test_text_after_a_block_scalar_header_is_a_syntax_error_as_in_kubernetes(data: bytes) -> None:
    # (`| -: 1` on a line of its own: rapidyaml reads an empty block scalar)
    assert fast(data) is None
    assert "did not find expected comment or line break" in str(agree(data))


@pytest.mark.parametrize("header", [b">1:", b"|1x", b"|2-x", b">-1a", b"|1 x"])
def test_junk_after_an_indentation_indicator_is_a_syntax_error_as_in_kubernetes(
    header: bytes,
) -> None:
    answer = agree(b"kind: Pod\nx: " + header + b"\n  a\n")
    assert isinstance(answer, str)
    assert "did not find expected comment or line break" in answer


@pytest.mark.parametrize("flow", [b"[a:, b]", b"[a:]", b"{a:}", b"[a:?]", b"[a:[b]]", b"[a:{}]"])
def test_a_colon_before_a_flow_indicator_is_a_syntax_error_as_in_kubernetes(flow: bytes) -> None:
    # libyaml, as sigs.k8s.io/yaml's parser, refuses `a:` followed by `,?[]{}` inside a flow
    # collection; rapidyaml (and PyYAML's pure-Python scanner) read `a` as a key
    answer = agree(b"kind: Pod\nx: " + flow + b"\n")
    assert isinstance(answer, str)
    assert "found unexpected ':' (line 2" in answer


def corpus_files() -> list[Path]:
    found: list[Path] = []
    for root in CORPORA:
        if root.is_dir():
            found.extend(sorted(root.rglob("*.yaml")) + sorted(root.rglob("*.yml")))
    return found


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
def test_corpora_read_the_same_both_ways(path: Path) -> None:
    agree(path.read_bytes())


@pytest.fixture(scope="module")
def small_cluster(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    if not GENERATOR.exists():
        pytest.skip("the shared cluster generator is not beside the repository")
    out = tmp_path_factory.mktemp("cluster") / "s.yaml"
    subprocess.run(
        [sys.executable, str(GENERATOR), "--pods", "300", "--format", "yaml", "--out", str(out)],
        check=True,
        capture_output=True,
    )
    return out.read_bytes()


def test_generated_cluster_takes_the_fast_path_and_agrees(small_cluster: bytes) -> None:
    docs = fast(small_cluster)
    assert isinstance(docs, list)
    assert len(docs) > 300
    assert docs == exact(small_cluster)


# -- property: scalars in every position read the same both ways ---------------------------

TOKENS = st.one_of(
    st.sampled_from([w for w, _ in TYPING if not w.startswith(("!", "'", '"'))]),
    st.from_regex(r"[-+]?[0-9_.]{1,6}([eE][-+]?[0-9]{1,3})?", fullmatch=True),
    st.from_regex(r"[-+]?0[xXoObB][0-9a-fA-F_]{0,4}", fullmatch=True),
    st.from_regex(r"[a-zA-Z~.][a-zA-Z0-9.:/-]{0,6}", fullmatch=True),
    st.integers(-(2**70), 2**70).map(str),
)
PLACES = st.sampled_from(
    [
        "v: {t}",
        "{t}: v",
        "v: [{t}, x]",
        "v: {{{t}: x}}",
        "v:\n- {t}",
        "v:\n  - a: {t}",
        "v: '{t}'",
        'v: "{t}"',
        "'{t}': v",
        '"{t}": v',
        "v: {{'{t}': x}}",
    ]
)


def config_map(pairs: list[tuple[str, str]]) -> bytes:
    """A ConfigMap with each token in its place, under keys of its own (k0, k1, ...)."""
    lines = [
        place.format(t=token).replace("v", f"k{index}", 1)
        for index, (token, place) in enumerate(pairs)
    ]
    return ("kind: ConfigMap\n" + "\n".join(lines) + "\n").encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(TOKENS, PLACES), min_size=1, max_size=4))
def test_property_scalars_read_the_same_both_ways(pairs: list[tuple[str, str]]) -> None:
    agree(config_map(pairs))


# Tokens of YAML's punctuation in every position: where the two parsers part ways on syntax
# (flow indicators, comments, block scalar headers), the fast path must decline.
PUNCTUATED = st.text(alphabet="ab1 :,[]{}#'\"-?|>&*!%@`.~", min_size=1, max_size=6)
PUNCTUATED_PLACES = st.sampled_from(
    [
        "v: {t}",
        "{t}: v",
        "v: [{t}, x]",
        "v: {{{t}: x}}",
        "v:\n- {t}",
        "v:\n  - a: {t}",
        "v: [{t}]",
        "v: {{a: {t}}}",
        "v: {t} # c",
        "v:\n  {t}: 1",
    ]
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(PUNCTUATED, PUNCTUATED_PLACES), min_size=1, max_size=3))
def test_property_punctuation_reads_the_same_both_ways(pairs: list[tuple[str, str]]) -> None:
    agree(config_map(pairs))


# -- JSON: the same refusals -----------------------------------------------------------------

LIST_HEAD = b'{"apiVersion": "v1", "kind": "List", "items": [\n'


@pytest.mark.parametrize(
    ("data", "message", "line"),
    [
        (b'{"kind": "NetworkPolicy",\n "kind": "ConfigMap"}', "duplicate key 'kind'", 2),
        (b'[{"kind": "Pod", "metadata": {"name": "a",\n "name": "b"}}]', "duplicate key 'name'", 2),
        (
            LIST_HEAD + b'{"kind": "Pod"},\n{"kind": "Pod", "a": 1, "a": 2}\n]}',
            "duplicate key 'a'",
            3,
        ),
        (  # the key occurs before, as a key of other objects: the duplicate's own line
            LIST_HEAD
            + b'{"kind": "Pod", "metadata": {"name": "x"}},\n{"kind": "Pod", "spec": {"name": 1},'
            + b'\n"metadata": {"name": "a",\n"name": "b"}}\n]}',
            "duplicate key 'name'",
            5,
        ),
        (b'{"a": {"k": 1},\n "k": "k",\n "b": {"k": 2,\n "k": 3}}', "duplicate key 'k'", 4),
        (b'{"kind": "Pod", "spec": {"n": [1, 1' + b"0" * 309 + b"]}}", "spec.n[1]: number 1", 1),
        (b'{"kind": "Pod", "spec": {"n": -' + b"9" * 5000 + b"}}", "spec.n: number -999", 1),
        (b'{"kind": "Pod", "spec": {"n": 1e400}}', "spec.n: number 1e400 is beyond", 1),
        (b'{"kind": "Pod", "n": -1e400}', "n: number -1e400 is beyond", 1),
        (
            LIST_HEAD + b'{"kind": "Pod"},\n{"kind": "Pod", "x": 9' + b"9" * 400 + b"}\n]}",
            "items[1].x: number 99999999999999999999",
            3,
        ),
        (b'{"kind": "Pod", "n": "\\ud800"}', "n: invalid Unicode", 1),
        (b'{"kind": "Pod", "n": "a\\u0000"}', "n: NUL characters are not allowed", 1),
    ],
)
def test_json_refused_with_key_field_and_line(data: bytes, message: str, line: int) -> None:
    with pytest.raises(ManifestError) as caught:
        read_bytes(data, source="src", content_type="application/json")
    assert message in str(caught.value)
    assert [p.origin.line for p in caught.value.problems if p.origin] == [line]


@pytest.mark.parametrize("content_type", ["application/json", "application/yaml"])
def test_integers_beyond_64_bits_are_kept_exactly(content_type: str) -> None:
    """The API server accepts any number in the float64 range in a field without a declared
    type; netreach keeps the integer as written, never a float."""
    big, small = 123456789012345678901234567890, -(10**308)
    body = f'{{"kind": "Pod", "a": {big}, "b": [{small}], "c": 18446744073709551616}}'
    [doc] = read_bytes(body.encode(), content_type=content_type)
    assert doc.body == {"kind": "Pod", "a": big, "b": [small], "c": 2**64}
    assert all(type(value) is int for value in (doc.body["a"], doc.body["b"][0]))


def test_integers_beyond_64_bits_in_batched_list_items_are_kept_exactly() -> None:
    """List items after the first are decoded in batches by orjson, which reads an integer
    beyond 64 bits as a float: such a batch is decoded again exactly."""
    items = [{"kind": "Widget", "metadata": {"name": f"w{i}"}, "n": 10**25 + i} for i in range(50)]
    data = json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=4).encode()
    documents = read_bytes(data, content_type="application/json")
    assert [doc.body["n"] for doc in documents] == [10**25 + i for i in range(50)]
    assert all(type(doc.body["n"]) is int for doc in documents)


@pytest.mark.parametrize("number", ["1e400", "-2.5E+400", "1e0400"])
def test_overflowing_floats_in_batched_list_items_are_refused(number: str) -> None:
    """orjson refuses a float literal that overflows; the item's own decode names it. UIDs
    that look like exponents (``5e877ef4``) are strings and pass."""
    items = [
        {"kind": "Pod", "metadata": {"name": f"p{i}", "uid": f"5e877ef4-{i}e+123"}, "n": [i]}
        for i in range(40)
    ]
    text = json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=2)
    assert len(read_bytes(text.encode(), content_type="application/json")) == 40
    bad = text.replace('"n": [\n        20\n', f'"n": [\n        {number}\n')
    assert bad != text
    with pytest.raises(ManifestError) as caught:
        read_bytes(bad.encode(), content_type="application/json")
    assert f"items[20].n[0]: number {number} is beyond the float64 range" in str(caught.value)


def _batched_list(item_20: str) -> bytes:
    """40 List items (kubectl's indentation: decoded in batches), item 20 replaced."""
    items = [{"kind": "Pod", "metadata": {"name": f"p{i}"}, "n": i} for i in range(40)]
    text = json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=2)
    marker = '"n": 20\n'
    assert marker in text
    return text.replace(marker, item_20 + "\n").encode()


@pytest.mark.parametrize(
    ("item_20", "message"),
    [
        ('"n": 20, "n": 21', "duplicate key 'n'"),
        ('"s": "\\u003a", "n": 20, "n": 21', "duplicate key 'n'"),
        ('"s": "a:\\u003A", "n": 20, "n": 21', "duplicate key 'n'"),
        ('"n": 20, "s": "a\\u0000"', "items[20].s: NUL characters are not allowed"),
    ],
    ids=["duplicate", "duplicate-and-escaped-colon", "duplicate-and-escaped-colon-upper", "nul"],
)
def test_batched_list_items_refused_with_field(item_20: str, message: str) -> None:
    """Colons are counted to find dropped duplicates; an escaped colon (which decodes to
    one more colon) or NUL sends the batch to the strict decoder."""
    with pytest.raises(ManifestError) as caught:
        read_bytes(_batched_list(item_20), content_type="application/json")
    [problem] = caught.value.problems
    assert message in problem.message


def test_batched_list_items_with_escaped_colons_are_kept() -> None:
    documents = read_bytes(_batched_list('"n": 20, "s": "\\u003a\\u003A:"'))
    assert documents[20].body["s"] == ":::"
    assert [doc.body.get("n") for doc in documents] == list(range(40))


def test_json_integers_in_range_round_trip_exactly() -> None:
    body = b'{"kind": "Pod", "a": 9223372036854775807, "b": -9223372036854775808, "c": "\\u00e9"}'
    [doc] = read_bytes(body)
    assert doc.body == {"kind": "Pod", "a": 2**63 - 1, "b": -(2**63), "c": "\u00e9"}
    assert __import__("orjson").loads(__import__("orjson").dumps(doc.body)) == doc.body


def test_deep_flow_nesting_is_left_to_the_exact_reader_silently(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """rapidyaml's emitter would print "max depth exceeded" on standard error (a line that
    is not JSON in the server's log) before refusing: the fast path declines first."""
    data = b"kind: ConfigMap\ndata:\n  a: " + b"[" * 990 + b"]" * 990 + b"\n"
    assert fast(data) is None
    with pytest.raises(ManifestError, match="nesting too deep"):
        read_bytes(data, content_type="application/yaml")
    assert capfd.readouterr().err == ""
    shallow = b"kind: ConfigMap\ndata:\n  a: " + b"[" * 50 + b"]" * 50 + b"\n"
    assert fast(shallow) == exact(shallow)


# -- the candidates for typing: every token that may type otherwise, long ones too -----------


def reference_candidates(raw: bytes) -> list[tuple[int, int]]:
    """``_candidates`` written out byte by byte: tokens starting where a plain scalar may,
    with a risky first byte, kept if a short word or a number of a risky form."""
    padded = b"\n" + raw + b"\n"
    spans = []
    for start in range(1, len(padded) - 1):
        if padded[start - 1] not in b" \n:,[{" or padded[start] not in b"yYnNoOTFN~0123456789+-.":
            continue
        end = start
        while padded[end] not in b" \n\r,[]{}":
            end += 1
        token = padded[start:end]
        if token[0] in b"0123456789+-.":
            sign = 1 if token[0] in b"+-" else 0
            first = padded[start + sign]
            second = padded[min(start + sign + 1, len(padded) - 1)]
            keep = (
                (first == ord("0") and second in b"0123456789xXoObBeE_")
                or (first == ord(".") and second in b"iInN")
                or b"_" in token
                or token.endswith(b":")
            )
        else:
            keep = len(token) <= 6
        if keep:
            spans.append((start - 1, end - 1))
    return spans


LONG = [
    b"x: nnnnnn\ny: nnnnnnn\n",  # a word as long as the longest risky one, and one longer
    b"x: " + b"N" * 300 + b"\n",
    b"x: 1" + b"2.3" * 30 + b"_4\n",  # a number longer than the stepwise scan, underscored
    b"x:\n  " + b"9." * 40 + b"1: v\n",  # a long number as a key
    b"x: " + b"1." * 60 + b"\n- 0x" + b"F" * 50 + b"\n",
    b"a: [yes,on, 0o7, {n: 1_0}]\nb: -.inf\nc: +0b1\n",
    b"x: 1" + b"0." * 200 + b"_\n",  # longer than any stepwise scan
    b"y: " + b"z" * 5000 + b"\nx: 1" + b"a" * 70 + b"_\n",  # one long number in a larger input
    b"y: " + b"z" * 5000 + b"\nx: 1" + b"a" * 300 + b"_:\n",
]
PIECES = st.sampled_from(
    [b"yes", b"n", b"Off", b"0777", b"0x1F", b"1_0", b"1.5:", b"~", b"-.5", b"+1", b"nginx-x",
     b"N" * 45, b"1." * 25, b"7" * 44 + b"_", b" ", b"\n", b": ", b"- ", b",", b"[", b"{", b"]",
     b"}", b'"q"', b"#c", b":", b"_", b"0", b".", b"-", b"+", b"\r"]
)  # fmt: skip


@pytest.mark.parametrize("raw", LONG, ids=range(len(LONG)))
def test_candidates_of_long_tokens_are_found(raw: bytes) -> None:
    assert _candidates(b"\n" + raw + b"\n") == reference_candidates(raw)


@settings(max_examples=300, deadline=None)
@given(st.lists(PIECES, min_size=1, max_size=40).map(b"".join))
def test_property_candidates_are_found_as_written_out(raw: bytes) -> None:
    assert _candidates(b"\n" + raw + b"\n") == reference_candidates(raw)


def reference_typing_agrees(raw: bytes) -> bool:
    """``_typing_agrees`` written out: no candidate that types otherwise where a plain
    scalar starts."""
    return not any(
        _differs(raw[low:high]) and _starts_scalar(raw, low)
        for low, high in reference_candidates(raw)
    )


@settings(max_examples=500, deadline=None)
@given(st.lists(PIECES | st.sampled_from([b"yes:", b"no:", b"~:", b"null:", b"NULL", b"Onx"]),
                min_size=1, max_size=40).map(b"".join))  # fmt: skip
def test_property_typing_agrees_as_written_out(raw: bytes) -> None:
    assert _typing_agrees(Scan(raw)) == reference_typing_agrees(raw)


@settings(max_examples=1000, deadline=None)
@given(
    st.sampled_from(sorted(_WORD_START)),
    st.text(alphabet="yYnNoOTFNeEsSrRuUlLaA~:.0_", max_size=7),
)
def test_property_the_words_that_may_type_otherwise_are_all_known(first: int, rest: str) -> None:
    # the typing scan looks only at the word-like tokens of _RISKY_WORDS
    token = bytes([first]) + rest.encode()
    assert not _differs(token) or token in _RISKY_WORDS


# -- the scans for unhandled constructs: numpy narrows where each pattern is tried ---------

SYNTAX = st.sampled_from(
    [b" ", b"\n", b"\t", b"\r", b":", b"-", b"---", b"...", b".", b"..", b"?", b",", b"[", b"]",
     b"{", b"}", b"#", b"|", b">", b"<", b"&", b"*", b"!", b"%", b"@", b"`", b"'", b'"', b"a",
     b"1", b"2", b"+", b"inf", b"NaN", b"0" * 9, b"1" * 10, b"x: ", b"- ", b"  "]
)  # fmt: skip
SYNTAX_TEXT = st.lists(SYNTAX, min_size=1, max_size=60).map(b"".join)


@settings(max_examples=1000, deadline=None)
@given(SYNTAX_TEXT)
def test_property_each_pattern_is_tried_wherever_it_matches(raw: bytes) -> None:
    scan = Scan(raw)
    for source, places in _UNHANDLED:
        pattern = re.compile(source)
        starts = {int(at) for place in places for at in scan.where(place)}
        for at in range(len(scan.padded)):
            if pattern.match(scan.padded, at, scan.end):
                assert at in starts, (pattern.pattern, raw, at)
        found = pattern.search(scan.padded, 0, scan.end) is not None
        assert scan.matches(source, places) == found
        scan.many = 0  # one search instead of a match at each place: the same answer
        assert scan.matches(source, places) == found
        scan.many = len(raw) + 64


def reference_closer_may_start_a_scalar(padded: bytes) -> bool:
    for closer in b"]}":
        at = padded.find(closer)
        while at >= 0:
            if padded[at - 1] in b" \n":
                before = padded[padded.rfind(b"\n", 0, at) + 1 : at].rstrip(b" ")
                if not before or before.endswith((b":", b"-")):
                    return True
            at = padded.find(closer, at + 1)
    return False


def reference_flow_depth(raw: bytes) -> int:
    level = deepest = 0
    for byte in raw:
        level += (byte in b"[{") - (byte in b"]}")
        deepest = max(deepest, level)
    return deepest


@settings(max_examples=1000, deadline=None)
@given(SYNTAX_TEXT)
def test_property_scans_of_the_whole_input_as_written_out(raw: bytes) -> None:
    scan = Scan(raw)
    assert _closer_may_start_a_scalar(scan) == reference_closer_may_start_a_scalar(scan.padded)
    assert _flow_depth(scan) == reference_flow_depth(raw)
    assert _long_digits(scan) == long_digits(raw)


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from([b"1", b"12", b"1" * 9, b"7" * 19, b"0" * 20, b"a", b":", b"-",
                                 b" ", b"\n", b"[", b",", b"\t", b"x", b'"', b"."]),
                min_size=1, max_size=40).map(b"".join))  # fmt: skip
def test_property_long_numbers_are_found_as_exact_finds_them(raw: bytes) -> None:
    assert _long_digits(Scan(raw)) == long_digits(raw)


@pytest.mark.parametrize("offset", range(12))
def test_long_numbers_are_found_at_every_alignment(offset: int) -> None:
    for digits, found in ((18, False), (19, True), (40, True)):
        raw = b"x" * offset + b" " + b"9" * digits + b"\n"
        assert _long_digits(Scan(raw)) is found, (offset, digits)
        assert _long_digits(Scan(raw[offset + 1 :])) is False  # no separator before it


# -- the nesting read from the emitted layout never understates it --------------------------


def _block(value: object, indent: int, flow_below: int) -> str:
    """``value`` as block YAML under ``indent`` spaces, flow style for the containers at most
    ``flow_below`` levels above the leaves."""
    pad = " " * indent
    if not isinstance(value, dict | list):
        return f"{pad}{value}\n"
    if _height(value) <= flow_below:
        return f"{pad}{json.dumps(value)}\n"
    if isinstance(value, dict):
        if not value:
            return f"{pad}{{}}\n"
        return "".join(
            f"{pad}{key}:\n{_block(item, indent + 2, flow_below)}"
            if isinstance(item, dict | list) and item and _height(item) > flow_below
            else f"{pad}{key}: {_block(item, 0, flow_below).strip()}\n"
            for key, item in value.items()
        )
    if not value:
        return f"{pad}[]\n"
    return "".join(f"{pad}-\n{_block(item, indent + 2, flow_below)}" for item in value)


def _height(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_height, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_height, value), default=0)
    return 0


NESTED = st.recursive(
    st.integers(0, 9),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, min_size=1, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["k", "m"]), NESTED, min_size=1), st.integers(0, 4))
def test_property_the_emitted_layout_bounds_the_nesting(value: dict[str, Any], flow: int) -> None:
    raw = _block(value, 0, flow).encode()
    parsed = _Tree(Scan(raw))
    (node,) = parsed.documents()
    emitted = _emit(parsed.tree, node, bytearray(64))  # (too small: emitted again)
    assert emitted is not None
    dumped = compact(json.loads(bytes(emitted[0][: emitted[1]])))
    assert dumped is not None
    assert json.loads(dumped) == value, raw
    nesting = depth(dumped)
    for limit in range(1, 12):
        if _shallow(emitted, _flow_depth(Scan(raw)), Limits(max_depth=limit)):
            assert nesting <= limit, (raw, emitted)
    assert _shallow(
        emitted, _flow_depth(Scan(raw)), Limits(max_depth=nesting + _flow_depth(Scan(raw)) + 1)
    )
