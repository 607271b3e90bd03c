"""The log processors: what :func:`service.api.logging.scrub` removes and bounds."""

from __future__ import annotations

from typing import Any

import pytest

from service.api.logging import MAX_ITEMS, MAX_STRING_CHARS, REDACTED, scrub


def _scrubbed(**event: Any) -> dict[str, Any]:
    return dict(scrub(None, "info", dict(event)))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Authorization: Bearer abc.def-1", f"Authorization: Bearer {REDACTED}"),
        ("Basic dXNlcjpwYXNz", f"Basic {REDACTED}"),
        ("token nr_0123456789abcdef leaked", f"token {REDACTED} leaked"),
        ("postgresql://u:p%40ss@h:5432/d", f"postgresql://u:{REDACTED}@h:5432/d"),
        ("host=h password=p user=u", f"host=h password={REDACTED} user=u"),
        ('{"token": "abc"}', f'{{"token": "{REDACTED}"}}'),
        (
            "x\n[SQL: INSERT]\n[parameters: ('secret body',)]\n(Background)",
            f"x\n[SQL: INSERT]\n[parameters: {REDACTED}]\n(Background)",
        ),
        ("an ordinary message", "an ordinary message"),
    ],
    ids=["bearer", "basic", "netreach-token", "url-password", "dsn", "json-pair", "sql", "plain"],
)
def test_strings_are_redacted(given: str, expected: str) -> None:
    assert _scrubbed(event=given)["event"] == expected


def test_values_under_secret_names_are_redacted_at_any_depth() -> None:
    event = _scrubbed(
        event="e", password="p", headers={"Authorization": "x", "accept": "*/*"}, tokens_ever=True
    )
    assert event["password"] == REDACTED
    assert event["headers"] == {"Authorization": REDACTED, "accept": "*/*"}
    assert event["tokens_ever"] is True  # not a secret: only strings are


def test_values_are_bounded() -> None:
    event = _scrubbed(event="x" * 70_000_000, items=list(range(1000)))
    assert len(event["event"]) < MAX_STRING_CHARS + 40
    assert event["event"].endswith("(70000000 characters)")
    assert len(event["items"]) == MAX_ITEMS + 1


def test_a_text_traceback_keeps_its_end() -> None:
    text = "Traceback (most recent call last):\n" + "  frame\n" * 10_000 + "ValueError: token=abc"
    kept = _scrubbed(event="e", exception=text)["exception"]
    assert len(kept) < 8100
    assert kept.endswith(f"ValueError: token={REDACTED}")
