"""Domain errors the use cases raise; the API maps them to HTTP statuses, the CLI to exit
codes. No HTTP in here."""

from __future__ import annotations

from typing import Any

from service.engine.model import ManifestError


class UseCaseError(Exception):
    """Base of every error a client can cause. ``code`` is stable and machine-readable."""

    code = "error"

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class NotFoundError(UseCaseError):
    code = "not_found"


class InvalidManifestsError(UseCaseError):
    code = "invalid_manifests"


class InputTooLargeError(UseCaseError):
    code = "payload_too_large"


class InvalidQueryError(UseCaseError):
    code = "invalid_query"


def from_manifest_error(error: ManifestError) -> InvalidManifestsError | InputTooLargeError:
    """The domain error for invalid input: 413 material when a limit was hit, else 422."""
    details = [p.to_api() for p in error.problems]
    if error.too_large:
        return InputTooLargeError(str(error.problems[0].message), details)
    count = len(error.problems)
    return InvalidManifestsError(
        f"the manifests have {count} problem(s); nothing was stored", details
    )
