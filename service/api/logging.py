"""Structured logs: one JSON object per line, one ``request`` line per HTTP request.

The request id is bound in a context variable for the duration of the request, so every
line logged while handling it carries ``request_id``.

Logs never hold secrets or bodies: tracebacks are rendered without local variables (a
frame's locals hold the request's headers, the settings and the manifests), every string is
redacted (bearer tokens, netreach tokens, URL passwords, SQL parameters) and bounded in
length, and the standard library's loggers (uvicorn's, SQLAlchemy's) go through the same
processors.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog
from structlog.tracebacks import ExceptionDictTransformer

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}  # fmt: skip

MAX_STRING_CHARS = 2000  # longer strings are cut (a message, one frame's line, an error)
MAX_ITEMS = 50  # longer lists (and mappings) keep their first items
MAX_FRAMES = 20  # the outermost and innermost frames of a traceback
MAX_TRACEBACK_CHARS = 8000  # the end of a traceback rendered as text
REDACTED = "[redacted]"

# Keys whose values are secrets whatever they hold.
_SECRET_KEY = re.compile(r"authorization|cookie|password|passwd|secret|token", re.IGNORECASE)
_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization: Bearer <token>, Basic <credentials>
    (re.compile(r"\b(Bearer|Basic)\s+[^\s'\",;]+", re.IGNORECASE), rf"\1 {REDACTED}"),
    # netreach's own token format, wherever it appears (a header dump, a body)
    (re.compile(r"\bnr_[A-Za-z0-9_\-]{8,}"), REDACTED),
    # scheme://user:password@host
    (re.compile(r"(\b[A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]*):[^@\s/]*@"), rf"\1:{REDACTED}@"),
    # key=value and "key": "value" pairs naming a secret (libpq DSNs, dumped headers)
    (
        re.compile(
            r"""(\b(?:password|passwd|secret|token|authorization)['"]?\s*[=:]\s*['"]?)"""
            r"""(?!\[redacted\]|Bearer\b|Basic\b)[^\s'",;}&]+""",
            re.IGNORECASE,
        ),
        rf"\1{REDACTED}",
    ),
    # SQLAlchemy appends the statement's parameters (manifest bodies) to its messages
    (re.compile(r"\[parameters: .*?\](?=\n|$)", re.DOTALL), f"[parameters: {REDACTED}]"),
)


def redact(text: str) -> str:
    """``text`` without the secrets a log line could carry.

    >>> redact("GET with Authorization: Bearer nr_abc.def")
    'GET with Authorization: Bearer [redacted]'
    >>> redact("postgresql+psycopg://app:s3cret@db:5432/netreach")
    'postgresql+psycopg://app:[redacted]@db:5432/netreach'
    >>> redact("host=db password=s3cret dbname=x")
    'host=db password=[redacted] dbname=x'
    """
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def _bounded(text: str) -> str:
    if len(text) <= MAX_STRING_CHARS:
        return text
    return f"{text[:MAX_STRING_CHARS]}... ({len(text)} characters)"


def scrub_value(value: Any, depth: int = 0) -> Any:
    """``value`` redacted and bounded: strings cut, long lists and mappings shortened,
    nesting beyond a few levels summarised. Other scalars are kept as they are."""
    if isinstance(value, str):
        return _bounded(redact(value))
    if isinstance(value, bool | int | float) or value is None:
        return value
    if depth >= 8:
        return f"<{type(value).__name__}>"
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for index, (key, item) in enumerate(value.items()):
            if index == MAX_ITEMS:
                out["..."] = f"{len(value) - MAX_ITEMS} more"
                break
            name = _bounded(str(key))
            out[name] = _scrub_item(name, item, depth + 1)
        return out
    if isinstance(value, list | tuple):
        items = [scrub_value(item, depth + 1) for item in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            items.append(f"... {len(value) - MAX_ITEMS} more")
        return items
    return _bounded(redact(repr(value)))


def _scrub_item(key: str, value: Any, depth: int = 0) -> Any:
    """A value under ``key``: a string under a secret's name is redacted whole; a traceback
    rendered as text (console logs) keeps its end, where the error is."""
    if isinstance(value, str | bytes) and _SECRET_KEY.search(key):
        return REDACTED
    if key == "exception" and isinstance(value, str) and len(value) > MAX_TRACEBACK_CHARS:
        return f"({len(value)} characters) ...{redact(value[-MAX_TRACEBACK_CHARS:])}"
    return scrub_value(value, depth)


def scrub(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor: every value of the event redacted and bounded."""
    for key, value in list(event_dict.items()):
        if key.startswith("_"):  # the stdlib bridge's own entries (_record, _from_structlog)
            continue
        event_dict[key] = _scrub_item(key, value)
    return event_dict


def _exceptions(json: bool) -> structlog.types.Processor:
    if not json:
        return structlog.processors.format_exc_info
    return structlog.processors.ExceptionRenderer(
        ExceptionDictTransformer(show_locals=False, max_frames=MAX_FRAMES)
    )


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler :func:`configure_logging` installs (recognised when reconfiguring)."""


def _route_standard_logging(formatter: logging.Formatter, level: int) -> None:
    """The root logger and uvicorn's (which do not propagate) write through structlog.

    ``uvicorn.access`` only when uvicorn gave it a handler (its access log is on): without
    one, uvicorn writes no access line, and the app's own ``request`` line is the only one.
    """
    handler = _Handler(sys.stderr)
    handler.setFormatter(formatter)
    for name in (None, "uvicorn", "uvicorn.access"):
        logger = logging.getLogger(name)
        if name == "uvicorn.access" and not logger.handlers:
            continue
        kept = [h for h in logger.handlers if name is None and not isinstance(h, _Handler)]
        logger.handlers = kept
        logger.addHandler(handler)
    logging.getLogger().setLevel(max(level, logging.WARNING))


def configure_logging(level: str = "info", *, json: bool = True) -> None:
    """Configure structlog and the standard library's logging (process-wide; calling it
    again reconfigures)."""
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    threshold = LEVELS.get(level.lower(), logging.INFO)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _exceptions(json),
            scrub,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_logger_name,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _exceptions(json),
            scrub,
            renderer,
        ],
    )
    _route_standard_logging(formatter, threshold)
