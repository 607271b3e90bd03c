"""Kubernetes naming rules (apimachinery's ``validation`` package), as pure functions.

Each function returns the list of reasons a value is invalid (empty when it is valid); the
messages follow the API server's wording so a user recognises them.

>>> dns1123_label_errors("web-1"), port_name_errors("http")
([], [])
>>> port_name_errors("-http")
['must not begin or end with a hyphen (-)']
"""

from __future__ import annotations

import re
from collections.abc import Callable

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
QUALIFIED_NAME_MAX = 63
LABEL_VALUE_MAX = 63
PORT_NAME_MAX = 15

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_QUALIFIED_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_PORT_NAME_CHARS = re.compile(r"[-a-z0-9]+")
_HAS_LETTER = re.compile(r"[a-z]")
_API_VERSION = re.compile(
    r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[a-z]([-a-z0-9]*[a-z0-9])?"
)
_KIND = re.compile(r"[A-Za-z][A-Za-z0-9]*")

_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character"
)
_DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
    "an alphabetic character, and end with an alphanumeric character"
)
_QUALIFIED_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character"
)


class NameRule:
    """A naming rule: a fast validity check, and the reasons when it fails."""

    __slots__ = ("errors", "max_len", "pattern")

    def __init__(
        self, max_len: int, pattern: re.Pattern[str], errors: Callable[[str], list[str]]
    ) -> None:
        self.max_len = max_len
        self.pattern = pattern
        self.errors = errors

    def __call__(self, value: str) -> list[str]:
        if len(value) <= self.max_len and self.pattern.fullmatch(value) is not None:
            return []
        return self.errors(value)


def _max_len(value: str, limit: int) -> list[str]:
    return [f"must be no more than {limit} characters"] if len(value) > limit else []


def dns1123_label_errors(value: str) -> list[str]:
    """RFC 1123 label: Namespace names, label-like object names."""
    if len(value) <= DNS1123_LABEL_MAX and _DNS1123_LABEL.fullmatch(value) is not None:
        return []
    errors = _max_len(value, DNS1123_LABEL_MAX)
    if _DNS1123_LABEL.fullmatch(value) is None:
        errors.append(_LABEL_MSG)
    return errors


def dns1123_subdomain_errors(value: str) -> list[str]:
    """RFC 1123 subdomain: most object names, label key prefixes."""
    if len(value) <= DNS1123_SUBDOMAIN_MAX and _DNS1123_SUBDOMAIN.fullmatch(value) is not None:
        return []
    errors = _max_len(value, DNS1123_SUBDOMAIN_MAX)
    if _DNS1123_SUBDOMAIN.fullmatch(value) is None:
        errors.append(_SUBDOMAIN_MSG)
    return errors


def dns1035_label_errors(value: str) -> list[str]:
    """RFC 1035 label: Service names."""
    errors = _max_len(value, DNS1123_LABEL_MAX)
    if _DNS1035_LABEL.fullmatch(value) is None:
        errors.append(_DNS1035_MSG)
    return errors


def qualified_name_errors(value: str) -> list[str]:
    """A label key: an optional DNS subdomain prefix and '/', then a name of <= 63 chars."""
    prefix, slash, name = value.rpartition("/")
    if slash and "/" in prefix:
        return [
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and "
            "must start and end with an alphanumeric character, with an optional DNS subdomain "
            "prefix and '/' (e.g. 'example.com/MyName')"
        ]
    errors: list[str] = []
    if slash:
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            errors += [f"prefix part {e}" for e in dns1123_subdomain_errors(prefix)]
    if not name:
        errors.append("name part must be non-empty")
        return errors
    if len(name) > QUALIFIED_NAME_MAX:
        errors.append(f"name part must be no more than {QUALIFIED_NAME_MAX} characters")
    if _QUALIFIED_NAME.fullmatch(name) is None:
        errors.append(_QUALIFIED_MSG)
    return errors


def label_value_errors(value: str) -> list[str]:
    """A label value: <= 63 chars of the qualified-name charset; may be empty."""
    errors = _max_len(value, LABEL_VALUE_MAX)
    if _LABEL_VALUE.fullmatch(value) is None:
        errors.append(_LABEL_VALUE_MSG)
    return errors


def port_name_errors(value: str) -> list[str]:
    """IANA_SVC_NAME (RFC 6335): named container ports and NetworkPolicy ports."""
    errors = _max_len(value, PORT_NAME_MAX)
    if _PORT_NAME_CHARS.fullmatch(value) is None:
        errors.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if "--" in value:
        errors.append("must not contain consecutive hyphens")
    if _HAS_LETTER.search(value) is None:
        errors.append("must contain at least one letter (a-z)")
    if value.startswith("-") or value.endswith("-"):
        errors.append("must not begin or end with a hyphen (-)")
    return errors


def port_number_errors(value: int) -> list[str]:
    return [] if 1 <= value <= 65535 else ["must be between 1 and 65535, inclusive"]


def api_version_errors(value: str) -> list[str]:
    if _API_VERSION.fullmatch(value) is None:
        return ["must be a version such as 'v1' or a group/version such as 'apps/v1'"]
    return []


def kind_errors(value: str) -> list[str]:
    if _KIND.fullmatch(value) is None:
        return ["must be a kind name such as 'Pod' (a letter, then letters and digits)"]
    return []


DNS1123_LABEL = NameRule(DNS1123_LABEL_MAX, _DNS1123_LABEL, dns1123_label_errors)
DNS1123_SUBDOMAIN = NameRule(DNS1123_SUBDOMAIN_MAX, _DNS1123_SUBDOMAIN, dns1123_subdomain_errors)
DNS1035_LABEL = NameRule(DNS1123_LABEL_MAX, _DNS1035_LABEL, dns1035_label_errors)
