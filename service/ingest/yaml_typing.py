"""YAML scalars typed as Kubernetes types them.

The API server and kubectl read YAML with ``sigs.k8s.io/yaml``: go-yaml v2 decodes the YAML
(YAML 1.1 typing, its own dialect of it) into Go values, which are then converted to JSON.
This module reproduces that typing for one scalar, so that netreach reads a manifest as the
cluster would:

>>> [resolve_plain(text) for text in ("yes", "off", "y", "~", "", "0777", "0x1F", "1_000")]
[True, False, True, None, None, 511, 31, 1000]
>>> [resolve_plain(text) for text in ("1.5", "1e3", ".5", "1:20", "0o17", "2025-01-06")]
[1.5, 1000.0, 0.5, '1:20', 15, '2025-01-06']

Quoted scalars are always strings (``"80"`` stays ``"80"``). Three conversions keep values
JSON-storable, as before: timestamps stay the text they were written as (go-yaml keeps them as
strings when decoding into untyped values), ``.inf``/``.nan`` stay text (JSON has no form for
them; Kubernetes refuses them), and integers are exact Python integers whatever their size
(go-yaml would widen one beyond 64 bits to a float64): those beyond the float64 range, which
the API server cannot decode, are refused (:class:`OutOfRange`), as are number literals of
more than ``MAX_NUMBER_CHARS`` characters (never converted at all).

Mapping keys become strings the way ``sigs.k8s.io/yaml`` converts them (:func:`key_text`):

>>> [key_text(resolve_plain(text)) for text in ("on", "80", "1.50", "name")]
['true', '80', '1.5', 'name']
"""

from __future__ import annotations

import math
import re
from typing import Final

from service.ingest.exact import MAX_NUMBER_CHARS, beyond_range, decodable, shown

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1

STR: Final = "tag:yaml.org,2002:str"
INT: Final = "tag:yaml.org,2002:int"
FLOAT: Final = "tag:yaml.org,2002:float"
BOOL: Final = "tag:yaml.org,2002:bool"
NULL: Final = "tag:yaml.org,2002:null"
TIMESTAMP: Final = "tag:yaml.org,2002:timestamp"
BINARY: Final = "tag:yaml.org,2002:binary"
MERGE_TAG: Final = "tag:yaml.org,2002:merge"
MAP: Final = "tag:yaml.org,2002:map"
SEQ: Final = "tag:yaml.org,2002:seq"

SCALAR_TAGS: Final = frozenset({STR, INT, FLOAT, BOOL, NULL, TIMESTAMP, BINARY})


class Merge:
    """The merge key ``<<`` (its value's mappings are merged into the enclosing mapping)."""

    def __repr__(self) -> str:
        return "MERGE"


MERGE: Final = Merge()


class OutOfRange(ValueError):  # noqa: N818 - reads as a value judgement: "out of range"
    """An integer Kubernetes cannot decode (beyond the float64 range)."""

    def __init__(self, text: str) -> None:
        super().__init__(beyond_range(text))
        self.text = text


class TagMismatch(ValueError):  # noqa: N818
    """An explicit tag the value does not fit (``!!int x``)."""


_WORDS: Final[dict[str, object]] = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE"), True),
    **dict.fromkeys(("on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE"), False),
    **dict.fromkeys(("off", "Off", "OFF"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
    "<<": MERGE,
}
WORDS: Final = frozenset(_WORDS)  # the plain scalars that resolve by their spelling alone

# go-yaml's hint: only these first characters can start a non-string plain scalar.
_NUMERIC_START: Final = frozenset("+-0123456789")
# strconv.ParseInt(s, 0, 64) syntax, after go-yaml removed every underscore.
_GO_INT: Final = re.compile(
    r"([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)"
)
_GO_BINARY_SIGNED: Final = re.compile(r"0b([+-]?[01]+)")
_YAML_FLOAT: Final = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_DOT_FLOAT: Final = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?")
_BASES: Final = {"x": 16, "o": 8, "b": 2}


def _go_int(digits: str) -> int:
    """The value of an unsigned ``_GO_INT`` literal (``0777`` is octal, as in Go)."""
    if len(digits) > 1 and digits[0] == "0":
        base = _BASES.get(digits[1].lower())
        if base is not None:
            return int(digits[2:], base)
        return int(digits[1:], 8)
    return int(digits)


def _in_range(value: int, text: str) -> int:
    if not decodable(value):
        raise OutOfRange(text)
    return value


def _number(text: str) -> object:
    """A plain scalar starting with a sign or a digit, as go-yaml v2 resolves it."""
    plain = text.replace("_", "")
    if len(plain) > MAX_NUMBER_CHARS and _GO_INT.fullmatch(plain):
        raise OutOfRange(text)
    match = _GO_INT.fullmatch(plain)
    if match is not None:
        value = _go_int(match.group(2))
        return _in_range(-value if match.group(1) == "-" else value, text)
    if _YAML_FLOAT.fullmatch(plain):
        number = float(plain)
        return number if math.isfinite(number) else text  # overflow: Go leaves it a string
    binary = _GO_BINARY_SIGNED.fullmatch(plain)
    if binary is not None:
        return _in_range(int(binary.group(1), 2), text)
    return text


def resolve_plain(text: str) -> object:
    """The value of an untagged plain scalar: bool, None, int, float, :data:`MERGE`, or the
    text itself. Raises :class:`OutOfRange` for an integer Kubernetes cannot decode.

    >>> [resolve_plain(t) for t in ("TRUE", "tRUE", "09", "-0b11", "+12", "1.", ".inf")]
    [True, 'tRUE', 9.0, -3, 12, 1.0, '.inf']
    """
    found = _WORDS.get(text, _WORDS)
    if found is not _WORDS:
        if type(found) is float:
            return text  # .inf/.nan have no JSON form: kept as written
        return found
    if not text:
        return None
    first = text[0]
    if first in _NUMERIC_START:
        return _number(text)
    if first == "." and _DOT_FLOAT.fullmatch(text):
        return float(text)
    return text


def resolve_tagged(tag: str, text: str) -> object:
    """The value of a scalar with an explicit standard tag (``!!int "80"``).

    >>> resolve_tagged(INT, "80"), resolve_tagged(FLOAT, "1"), resolve_tagged(STR, "yes")
    (80, 1.0, 'yes')
    """
    if tag in (STR, BINARY, TIMESTAMP):
        return text  # binary and timestamps stay the text they were written as
    value = resolve_plain(text)
    if tag == NULL and value is None:
        return None
    if tag == BOOL and type(value) is bool:
        return value
    if tag == INT and type(value) is int:
        return value
    if tag == FLOAT and type(value) in (int, float):
        return float(value)  # type: ignore[arg-type]
    if tag == FLOAT and value == text and text.lstrip("+-").lower() in (".inf", ".nan"):
        return text
    short = "!!" + tag.rsplit(":", 1)[-1]
    raise TagMismatch(f"cannot decode {shown(text)} as a {short}")


def _float32_g(value: float) -> str:
    """Go's ``strconv.FormatFloat(value, 'g', -1, 32)`` (shortest float32 digits, %g)."""
    import numpy as np  # only float keys, which are rare, need it

    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    with np.errstate(over="ignore"):
        single = np.float32(value)
    if not np.isfinite(single):  # beyond float32: Go writes +Inf, which sigs.k8s.io/yaml maps
        return ".nan" if np.isnan(single) else (".inf" if single > 0 else "-.inf")
    sci = np.format_float_scientific(single, unique=True, trim="-")
    mantissa, exponent = sci.split("e")
    negative = mantissa.startswith("-")
    digits = mantissa.lstrip("-").replace(".", "")
    exp = int(exponent)
    sign = "-" if negative else ""
    if exp < -4 or exp >= 6:  # shortest 'g': %e from the 7th integer digit on
        rest = f".{digits[1:]}" if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{rest}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    point = exp + 1
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def plain_key_text(text: str) -> str | None:
    """An untagged plain mapping key as ``sigs.k8s.io/yaml`` writes it: resolved, then
    turned into a string; infinities and NaN become Go's ``.inf``, ``-.inf``, ``.nan``.

    >>> [plain_key_text(t) for t in ("-.Inf", "+.INF", ".NaN", "on", "1.50")]
    ['-.inf', '.inf', '.nan', 'true', '1.5']
    """
    found = _WORDS.get(text)
    if type(found) is float:
        return _float32_g(found)
    return key_text(resolve_plain(text))


def key_text(value: object) -> str | None:
    """A mapping key as ``sigs.k8s.io/yaml`` turns it into a JSON key, or None where it
    refuses the key (null, or a collection).

    >>> [key_text(v) for v in (True, 0, -5, 1000.0, 0.5, None)]
    ['true', '0', '-5', '1000', '0.5', None]
    """
    if type(value) is str:
        return value
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is int:
        return str(value)
    if type(value) is float:
        return _float32_g(value)
    return None
