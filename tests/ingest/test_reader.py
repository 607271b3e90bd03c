"""Ingest: bytes and files to documents."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from service.engine.model import Document, ManifestError, Origin
from service.ingest import Limits, read_bytes, read_paths
from service.ingest.reader import media_format, sniff


def bodies(docs: list[Document]) -> list[dict[str, Any]]:
    return [doc.body for doc in docs]


def origins(docs: list[Document]) -> list[tuple[int, int | None, int | None]]:
    return [(d.origin.document, d.origin.item, d.origin.line) for d in docs]


def problem_of(data: bytes, **kwargs: Any) -> ManifestError:
    with pytest.raises(ManifestError) as caught:
        read_bytes(data, **kwargs)
    return caught.value


POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "n"}}
SVC = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}

KUBECTL_YAML = b"""\
apiVersion: v1
items:
- apiVersion: v1
  kind: Pod
  metadata:
    creationTimestamp: "2025-01-06T08:00:00Z"
    labels:
      app: web
    managedFields:
    - apiVersion: v1
      fieldsType: FieldsV1
      fieldsV1:
        f:metadata:
          f:labels:
            .: {}
            f:app: {}
      manager: kubectl
      operation: Update
      time: "2025-01-06T08:00:00Z"
    name: web-1
    namespace: shop
    uid: 5f5d288c-b8ce-4fca-a8ed-e85cd6ad0caa
  spec:
    containers:
    - image: nginx
      name: web
  status:
    phase: Running
    podIP: 10.0.0.7
    startTime: 2025-01-06T08:00:01Z
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata:
    name: deny
    namespace: shop
  spec:
    podSelector: {}
kind: List
metadata:
  resourceVersion: ""
"""


# -- accepted inputs: (name, data, content type, expected bodies, expected origins) ---------

ACCEPTED: list[tuple[str, bytes, str | None, list[dict[str, Any]], list[Any]]] = [
    (
        "multi_document_yaml_skips_empty_documents",
        b"# leading comment\n---\n---\nkind: Pod\nmetadata: {name: a}\n---\n# only a comment\n"
        b"---\nkind: Service\n...\n",
        None,
        [{"kind": "Pod", "metadata": {"name": "a"}}, {"kind": "Service"}],
        [(1, None, 4), (3, None, 9)],
    ),
    (
        "yaml_line_numbers_of_list_items",
        b"kind: List\nitems:\n- kind: Pod\n  a: 1\n\n- kind: Service\n",
        "application/yaml",
        [{"kind": "Pod", "a": 1}, {"kind": "Service"}],
        [(0, 0, 3), (0, 1, 6)],
    ),
    (
        "yaml_timestamps_stay_strings",
        b"kind: Pod\nt: 2025-01-06T08:00:00Z\n",
        None,
        [{"kind": "Pod", "t": "2025-01-06T08:00:00Z"}],
        [(0, None, 1)],
    ),
    (
        "yaml_anchors_and_merge_keys_within_limits",
        b"kind: Pod\nbase: &b {app: web}\nmetadata:\n  labels:\n    <<: *b\n    tier: fe\n",
        None,
        [
            {
                "kind": "Pod",
                "base": {"app": "web"},
                "metadata": {"labels": {"app": "web", "tier": "fe"}},
            }
        ],
        [(0, None, 1)],
    ),
    (
        "json_object",
        json.dumps(POD).encode(),
        "application/json",
        [POD],
        [(0, None, 1)],
    ),
    (
        "json_array_of_objects",
        json.dumps([POD, SVC], indent=2).encode(),
        None,
        [POD, SVC],
        [(0, None, 2), (1, None, 10)],
    ),
    (
        "json_empty_array",
        b"[]",
        None,
        [],
        [],
    ),
    (
        "json_list",
        json.dumps({"apiVersion": "v1", "items": [POD, SVC], "kind": "List"}).encode(),
        None,
        [POD, SVC],
        [(0, 0, None), (0, 1, None)],
    ),
    (
        "json_typed_list_pod_list",
        json.dumps({"kind": "PodList", "items": [POD, POD]}, indent=4).encode(),
        None,
        [POD, POD],
        [(0, 0, None), (0, 1, None)],
    ),
    (
        "json_concatenated_and_newline_delimited",
        (json.dumps(POD) + json.dumps(SVC) + "\n" + json.dumps(POD) + "\n").encode(),
        "application/json; charset=utf-8",
        [POD, SVC, POD],
        [(0, None, 1), (1, None, 1), (2, None, 2)],
    ),
    (
        "nested_list_is_flattened",
        json.dumps(
            {"kind": "List", "items": [POD, {"kind": "List", "items": [SVC, SVC]}]}
        ).encode(),
        None,
        [POD, SVC, SVC],
        [(0, 0, None), (0, 1, None), (0, 1, None)],
    ),
    (
        "nested_list_in_yaml_keeps_item_lines",
        b"kind: List\nitems:\n- kind: Pod\n- kind: List\n  items:\n  - kind: Service\n",
        None,
        [{"kind": "Pod"}, {"kind": "Service"}],
        [(0, 0, 3), (0, 1, 6)],
    ),
    (
        "list_with_null_items_is_empty",
        b"kind: List\nitems:\n",
        None,
        [],
        [],
    ),
    (
        "object_with_items_but_not_a_list_kind_is_kept",
        b'{"kind": "ConfigMap", "items": [1, 2]}',
        None,
        [{"kind": "ConfigMap", "items": [1, 2]}],
        [(0, None, 1)],
    ),
    (
        "json_body_declared_yaml_parses_as_yaml",
        json.dumps(POD).encode(),
        "text/yaml",
        [POD],
        [(0, None, 1)],
    ),
    (
        "sniffed_json_that_is_yaml_flow_style_falls_back_to_yaml",
        b"{kind: Pod, metadata: {name: a}}\n",
        None,
        [{"kind": "Pod", "metadata": {"name": "a"}}],
        [(0, None, 1)],
    ),
    (
        "utf8_byte_order_mark_is_dropped",
        b"\xef\xbb\xbf" + json.dumps(POD).encode(),
        None,
        [POD],
        [(0, None, 1)],
    ),
    (
        "non_ascii_text",
        json.dumps({"kind": "Pod", "n": "caf\u00e9 \u2603"}, ensure_ascii=False).encode(),
        None,
        [{"kind": "Pod", "n": "caf\u00e9 \u2603"}],
        [(0, None, 1)],
    ),
]


@pytest.mark.parametrize(
    ("data", "content_type", "expected", "where"),
    [pytest.param(*case[1:], id=case[0]) for case in ACCEPTED],
)
def test_accepted(
    data: bytes, content_type: str | None, expected: list[dict[str, Any]], where: list[Any]
) -> None:
    docs = read_bytes(data, source="in.yaml", content_type=content_type)
    assert bodies(docs) == expected
    assert origins(docs) == where
    assert all(doc.origin.source == "in.yaml" for doc in docs)


def test_kubectl_get_all_yaml_output_just_works() -> None:
    docs = read_bytes(KUBECTL_YAML)
    assert [d.body["kind"] for d in docs] == ["Pod", "NetworkPolicy"]
    assert origins(docs) == [(0, 0, 3), (0, 1, 31)]
    pod = docs[0].body
    assert pod["status"]["podIP"] == "10.0.0.7"
    assert pod["status"]["startTime"] == "2025-01-06T08:00:01Z"
    assert pod["metadata"]["managedFields"][0]["manager"] == "kubectl"


def test_kubectl_json_and_yaml_agree() -> None:
    as_json = json.dumps(yaml.safe_load(KUBECTL_YAML.replace(b"2025-01-06T08:00:01Z", b'"x"')))
    from_json = read_bytes(as_json.encode())
    from_yaml = read_bytes(KUBECTL_YAML.replace(b"2025-01-06T08:00:01Z", b'"x"'))
    assert bodies(from_json) == bodies(from_yaml)


# -- refused inputs: (name, data, kwargs, expected message part, expected origin, too large) -


def nest(depth: int) -> bytes:
    return b"kind: Pod\nx: &a " + b"[" * depth + b"]" * depth + b"\ny: *a\n"


BILLION_LAUGHS = b"""\
kind: Pod
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""

REFUSED: list[tuple[str, bytes, dict[str, Any], str, Origin | None, bool]] = [
    (
        "python_tags_rejected",
        b"kind: Pod\n---\n!!python/object/apply:os.system ['echo hi']\n",
        {},
        "unsupported YAML tag 'tag:yaml.org,2002:python/object/apply:os.system'",
        Origin("src", 1, line=3),
        False,
    ),
    (
        "custom_tags_rejected",
        b"kind: Pod\nx: !Ref foo\n",
        {},
        "unsupported YAML tag '!Ref'",
        Origin("src", 0, line=2),
        False,
    ),
    (
        "billion_laughs_rejected",
        BILLION_LAUGHS,
        {},
        "refusing a possible alias bomb",
        Origin("src", 0, line=1),
        False,
    ),
    (
        "recursive_alias_rejected",
        b"kind: Pod\nx: &a [*a]\n",
        {},
        "recursive alias",
        Origin("src", 0, line=1),
        False,
    ),
    (
        "deep_nesting_with_anchors_rejected",
        nest(150),
        {},
        "nesting too deep (more than 100 levels)",
        Origin("src", 0, line=1),
        False,
    ),
    (
        "deep_nesting_limit_is_configurable",
        nest(10),
        {"limits": Limits(max_depth=5)},
        "nesting too deep (more than 5 levels)",
        Origin("src", 0, line=1),
        False,
    ),
    (
        "deep_yaml_nesting_without_anchors_rejected",
        b"kind: Pod\nx: " + b"[" * 5000 + b"]" * 5000 + b"\n",
        {"content_type": "application/yaml"},
        "nesting",
        Origin("src", 0, line=2),
        False,
    ),
    (
        "deep_json_nesting_rejected",
        b'{"kind": "Pod", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        {},
        "nesting too deep",
        Origin("src", 0),
        False,
    ),
    (
        "size_limit_is_too_large",
        json.dumps(POD).encode(),
        {"limits": Limits(max_bytes=10)},
        "the limit is 10 bytes",
        None,
        True,
    ),
    (
        "document_limit_counts_list_items",
        json.dumps({"kind": "List", "items": [POD, POD, POD]}).encode(),
        {"limits": Limits(max_documents=2)},
        "more than 2 documents",
        None,
        True,
    ),
    (
        "document_limit_counts_yaml_documents",
        b"kind: Pod\n---\nkind: Pod\n---\nkind: Pod\n",
        {"limits": Limits(max_documents=2)},
        "more than 2 documents",
        None,
        True,
    ),
    (
        "scalar_document_rejected",
        b"kind: Pod\n---\n42\n",
        {},
        "expected a mapping (a Kubernetes object), found a number",
        Origin("src", 1, line=3),
        False,
    ),
    (
        "sequence_document_rejected",
        b"- kind: Pod\n",
        {},
        "found a sequence",
        Origin("src", 0, line=1),
        False,
    ),
    (
        "json_array_element_not_a_mapping",
        b'[{"kind": "Pod"}, "x"]',
        {},
        "found a string",
        Origin("src", 1, line=1),
        False,
    ),
    (
        "list_item_not_a_mapping",
        b"kind: List\nitems:\n- kind: Pod\n- [1]\n",
        {},
        "List item must be a mapping",
        Origin("src", 0, item=1, line=4),
        False,
    ),
    (
        "invalid_utf8",
        b"kind: Pod\nname: caf\xe9\n",
        {},
        "not valid UTF-8 (byte 0xe9 at offset 19, line 2",
        None,
        False,
    ),
    (
        "invalid_utf8_json",
        b'{"kind": "Pod", "name": "caf\xe9"}',
        {},
        "not valid UTF-8 (byte 0xe9 at offset 28",
        None,
        False,
    ),
    (
        "yaml_syntax_error_has_line_and_column",
        b"kind: Pod\nmetadata:\n  name: a\n bad: [\n",
        {},
        "YAML syntax error",
        Origin("src", 0, line=4),
        False,
    ),
    (
        "yaml_syntax_error_in_later_document",
        b"kind: Pod\n---\nkind: Service\n---\na: b: c\n",
        {},
        "line 5, column 5",
        Origin("src", 2, line=5),
        False,
    ),
    (
        "json_syntax_error_has_line_and_column",
        b'{"kind": "Pod",\n "x": [1, 2,]\n}',
        {"content_type": "application/json"},
        "JSON syntax error: Expecting value (line 2, column 13)",
        Origin("src", 0, line=2),
        False,
    ),
    (
        "json_nan_rejected",
        b'{"kind": "Pod", "x": NaN}',
        {"content_type": "application/json"},
        "NaN is not valid JSON",
        Origin("src", 0, line=1),
        False,
    ),
    (
        "truncated_json_list",
        json.dumps({"kind": "List", "items": [POD, POD]}).encode()[:-20],
        {"content_type": "application/json"},
        "JSON syntax error",
        Origin("src", 0, line=1),
        False,
    ),
]


@pytest.mark.parametrize(
    ("data", "kwargs", "message", "origin", "too_large"),
    [pytest.param(*case[1:], id=case[0]) for case in REFUSED],
)
def test_refused(
    data: bytes, kwargs: dict[str, Any], message: str, origin: Origin | None, too_large: bool
) -> None:
    error = problem_of(data, source="src", **kwargs)
    assert error.too_large is too_large
    assert message in str(error)
    if origin is not None:
        assert [p.origin for p in error.problems] == [origin]


def test_billion_laughs_fails_fast() -> None:
    started = time.perf_counter()
    with pytest.raises(ManifestError, match="alias bomb"):
        read_bytes(BILLION_LAUGHS)
    assert time.perf_counter() - started < 0.2


def test_every_problem_is_reported() -> None:
    error = problem_of(b"1\n---\nkind: Pod\n---\n[2]\n---\n!!python/name:os.system x\n")
    assert [p.origin.document for p in error.problems if p.origin] == [0, 2, 3]


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/json", "json"),
        ("application/json; charset=utf-8", "json"),
        ("application/yaml", "yaml"),
        ("application/x-yaml", "yaml"),
        ("text/yaml", "yaml"),
        ("Application/YAML", "yaml"),
        ("text/plain", None),
        (None, None),
    ],
)
def test_media_format(content_type: str | None, expected: str | None) -> None:
    assert media_format(content_type) == expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"{}", "json"),
        (b"  \n\t[1]", "json"),
        (b"\xef\xbb\xbf{", "json"),
        (b"kind: Pod", "yaml"),
        (b"# {not json}\n{}", "yaml"),
        (b"", "yaml"),
    ],
)
def test_sniff(head: bytes, expected: str) -> None:
    assert sniff(head) == expected


# -- files ---------------------------------------------------------------------------------


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_directories_recursive_sorted_skipping_hidden_and_other_files(tmp_path: Path) -> None:
    write(tmp_path, "b.yaml", "kind: B\n")
    write(tmp_path, "a/z.yml", "kind: AZ\n---\nkind: AZ2\n")
    write(tmp_path, "a/c.json", '{"kind": "List", "items": [{"kind": "AC"}]}')
    write(tmp_path, "A.YAML", "kind: Upper\n")
    write(tmp_path, "notes.txt", "not: read\n")
    write(tmp_path, "README.md", "# no\n")
    write(tmp_path, ".hidden.yaml", "kind: Hidden\n")
    write(tmp_path, ".git/config.yaml", "kind: Git\n")
    write(tmp_path, "sub/.cache/x.yaml", "kind: Cache\n")
    docs = read_paths([tmp_path])
    assert [d.body["kind"] for d in docs] == ["Upper", "AC", "AZ", "AZ2", "B"]
    assert [d.origin for d in docs] == [
        Origin(str(tmp_path / "A.YAML"), 0, line=1),
        Origin(str(tmp_path / "a" / "c.json"), 0, item=0),
        Origin(str(tmp_path / "a" / "z.yml"), 0, line=1),
        Origin(str(tmp_path / "a" / "z.yml"), 1, line=3),
        Origin(str(tmp_path / "b.yaml"), 0, line=1),
    ]


def test_files_as_given_keep_their_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "dir/x.yaml", "kind: X\n")
    write(tmp_path, "explicit.txt", "kind: T\n")
    monkeypatch.chdir(tmp_path)
    docs = read_paths(["explicit.txt", "dir"])
    assert [(d.origin.source, d.body["kind"]) for d in docs] == [
        ("explicit.txt", "T"),
        (str(Path("dir", "x.yaml")), "X"),
    ]


def test_missing_paths_are_named(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as caught:
        read_paths([tmp_path / "nope.yaml", tmp_path / "gone"])
    assert "nope.yaml: no such file or directory" in str(caught.value)
    assert "gone: no such file or directory" in str(caught.value)


def test_size_limit_applies_across_files(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "kind: A\n" + "".join(f"k{i}: A\n" for i in range(9)))
    write(tmp_path, "b.yaml", "kind: B\n" + "".join(f"k{i}: B\n" for i in range(9)))
    assert len(read_paths([tmp_path], Limits(max_bytes=200))) == 2
    with pytest.raises(ManifestError) as caught:
        read_paths([tmp_path], Limits(max_bytes=100))
    assert caught.value.too_large


def test_document_limit_applies_across_files(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "kind: A\n---\nkind: A\n")
    write(tmp_path, "b.json", '[{"kind": "B"}]')
    with pytest.raises(ManifestError) as caught:
        read_paths([tmp_path], Limits(max_documents=2))
    assert caught.value.too_large


def test_problems_in_several_files_are_all_reported(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "kind: A\nx: [\n")
    write(tmp_path, "b.json", '{"kind": ')
    write(tmp_path, "c.yaml", "kind: C\n")
    with pytest.raises(ManifestError) as caught:
        read_paths([tmp_path])
    sources = [p.origin.source for p in caught.value.problems if p.origin]
    assert sources == [str(tmp_path / "a.yaml"), str(tmp_path / "b.json")]


def test_invalid_utf8_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_bytes(b'{"kind": "\xff"}')
    with pytest.raises(ManifestError, match=r"bad\.json: input is not valid UTF-8"):
        read_paths([tmp_path])


def test_large_json_list_file_streams_in_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small chunk and batch sizes force values across chunk boundaries and many batches."""
    import service.ingest.json_reader as json_reader
    import service.ingest.reader as reader

    monkeypatch.setattr(reader, "CHUNK_BYTES", 97)
    monkeypatch.setattr(json_reader, "CHUNK_CHARS", 89)
    monkeypatch.setattr(json_reader, "BATCH_CHARS", 300)
    items = [
        {"kind": "Pod", "metadata": {"name": f"p{i}", "labels": {"a": "}, {" * (i % 3)}}}
        for i in range(200)
    ]
    for indent in (None, 2):
        text = json.dumps({"apiVersion": "v1", "items": items, "kind": "List"}, indent=indent)
        path = tmp_path / f"list{indent}.json"
        path.write_text(text + "\n" + json.dumps(POD) + " 12345")
        with pytest.raises(ManifestError) as caught:
            read_paths([path])
        assert [p.message for p in caught.value.problems] == [
            "expected a mapping (a Kubernetes object), found a number"
        ]
        path.write_text(text + "\n" + json.dumps(POD))
        docs = read_paths([path])
        assert bodies(docs) == [*items, POD]
        assert docs[-1].origin == Origin(str(path), 1, line=text.count("\n") + 2)


def _pieces(data: bytes, size: int) -> list[bytes]:
    return [data[start : start + size] for start in range(0, len(data), size)]


def _outcome(data: bytes | list[bytes], **kwargs: Any) -> object:
    try:
        docs = read_bytes(data, **kwargs)
    except ManifestError as error:
        return [(p.message, p.origin) for p in error.problems], error.too_large
    return [(d.origin, d.body) for d in docs]


@pytest.mark.parametrize(
    "data",
    [
        b"\xef\xbb\xbf"
        + json.dumps({"apiVersion": "v1", "kind": "List", "items": [POD] * 30}).encode(),
        (json.dumps(POD, indent=2) + "\n") * 5,
        b"[" + b",\n".join(json.dumps(SVC).encode() for _ in range(20)) + b"]",
        json.dumps({"kind": "List", "items": [POD] * 20}).encode()[:-30] + b"!}",  # syntax
        json.dumps({"kind": "List", "items": [POD] * 20}).encode().replace(b'"n"', b'"\xc3n"', 7),
        json.dumps(POD).encode()[:-1] + b', "kind": "Service"}',  # a duplicate key
        b'{"kind": "List", "items": [' + b"1" * 25 + b"]}",  # a long integer, not an object
        KUBECTL_YAML,
        b"   \n\t",
    ],
)
def test_pieces_read_as_the_whole_body(data: bytes | str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A request body handed over in the pieces it arrived in reads exactly as the joined
    body: the same documents and origins, the same errors (lines, offsets, fields), whatever
    the pieces' sizes (one byte splits every character and token)."""
    import service.ingest.json_reader as json_reader
    import service.ingest.reader as reader

    monkeypatch.setattr(reader, "CHUNK_BYTES", 64)
    monkeypatch.setattr(json_reader, "CHUNK_CHARS", 89)
    monkeypatch.setattr(json_reader, "BATCH_CHARS", 300)
    body = data.encode() if isinstance(data, str) else data
    for content_type in ("application/json", None):
        whole = _outcome(body, content_type=content_type)
        for size in (1, 7, 64, 1000, len(body) + 1):
            assert _outcome(_pieces(body, size), content_type=content_type) == whole
    assert _outcome([], content_type="application/json") == _outcome(b"")


def test_pieces_count_toward_the_size_limit() -> None:
    error = problem_of_pieces([b"[", b" " * 20, b"]"], limits=Limits(max_bytes=21))
    assert error.too_large
    assert "input is 22 bytes; the limit is 21 bytes" in str(error)


def problem_of_pieces(pieces: list[bytes], **kwargs: Any) -> ManifestError:
    with pytest.raises(ManifestError) as caught:
        read_bytes(pieces, **kwargs)
    return caught.value


# -- round trips ---------------------------------------------------------------------------

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), names, st.sampled_from(["yes", "1.5"])
)
objects = st.fixed_dictionaries(
    {"kind": st.sampled_from(["Pod", "Service", "NetworkPolicy"])},
    optional={
        "metadata": st.fixed_dictionaries(
            {"name": names}, optional={"labels": st.dictionaries(names, names, max_size=3)}
        ),
        "spec": st.dictionaries(names, st.one_of(scalars, st.lists(scalars, max_size=3))),
    },
)


class KubernetesDumper(yaml.SafeDumper):
    """PyYAML leaves `y`, `1e3` or `0o17` unquoted (YAML 1.1 as PyYAML reads it says they are
    strings); Kubernetes reads them as a boolean and numbers, so quote them."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    from service.ingest.yaml_typing import resolve_plain

    try:
        plain_is_string = resolve_plain(value) == value
    except ValueError:
        plain_is_string = False
    style = None if plain_is_string else '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


KubernetesDumper.add_representer(str, _represent_str)


@settings(max_examples=60, deadline=None)
@given(st.lists(objects, max_size=8))
def test_round_trip_multi_document_yaml(objs: list[dict[str, Any]]) -> None:
    data = yaml.dump_all(objs, Dumper=KubernetesDumper, allow_unicode=True).encode()
    assert bodies(read_bytes(data, content_type="application/yaml")) == objs


@settings(max_examples=60, deadline=None)
@given(st.lists(objects, max_size=8), st.sampled_from([None, 1, 2]))
def test_round_trip_json_list(objs: list[dict[str, Any]], indent: int | None) -> None:
    data = json.dumps({"apiVersion": "v1", "kind": "List", "items": objs}, indent=indent).encode()
    docs = read_bytes(data)
    assert bodies(docs) == objs
    assert [d.origin.item for d in docs] == list(range(len(objs)))


def test_yaml_non_finite_floats_stay_as_written() -> None:
    """JSON has no NaN or infinity; the text survives instead of an unstorable float."""
    [document] = read_bytes(b"kind: ConfigMap\ndata: {a: .nan, b: -.inf, c: 1.5}\n")
    assert document.body["data"] == {"a": ".nan", "b": "-.inf", "c": 1.5}
