"""Posting the diff comment to a GitHub pull request, and to the job summary.

One comment per pull request, found again by the marker the markdown carries and updated
on every push. The same report goes to the job summary (``GITHUB_STEP_SUMMARY``), which is
the only output on pull requests from forks: GitHub gives their workflows a read-only
token. A fork (the head repository is not the base repository), a missing token, or a 403
or 404 answer from GitHub degrade to the summary alone, with a note saying why; they never
fail the job (the gate is the diff's exit code, not the comment).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

DEFAULT_API_URL = "https://api.github.com"
PER_PAGE = 100
MAX_PAGES = 50


@dataclass(frozen=True, slots=True)
class PullRequest:
    """Where to comment: ``owner/name`` and the pull request number, and whether the pull
    request comes from a fork."""

    repository: str
    number: int
    fork: bool = False

    @classmethod
    def from_event(cls, event: Mapping[str, Any], repository: str) -> PullRequest | None:
        """From a ``pull_request`` (or ``pull_request_target``) event payload; None for
        other events."""
        pull = event.get("pull_request")
        if not isinstance(pull, Mapping) or not isinstance(pull.get("number"), int):
            return None
        head_repo = ((pull.get("head") or {}).get("repo") or {}).get("full_name")
        base_repo = ((pull.get("base") or {}).get("repo") or {}).get("full_name") or repository
        fork = bool(head_repo) and head_repo != base_repo
        return cls(repository, pull["number"], fork)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to the comment: ``created``, ``updated`` or ``skipped`` (and why)."""

    action: str
    comment_id: int | None = None
    url: str | None = None
    reason: str | None = None


class GitHubError(RuntimeError):
    """GitHub answered something unexpected."""


class CommentPoster:
    """The REST calls: list the pull request's comments, update the marked one or create."""

    def __init__(
        self, token: str, api_url: str = DEFAULT_API_URL, *, timeout: float = 30.0
    ) -> None:
        self.client = httpx.Client(
            base_url=api_url.rstrip("/"),
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "netreach",
            },
            timeout=timeout,
        )

    def __enter__(self) -> CommentPoster:
        return self

    def __exit__(self, *_: object) -> None:
        self.client.close()

    def find(self, pull: PullRequest, marker: str) -> dict[str, Any] | None:
        """The first comment of the pull request whose body holds ``marker``."""
        for page in range(1, MAX_PAGES + 1):
            response = self.client.get(
                f"/repos/{pull.repository}/issues/{pull.number}/comments",
                params={"per_page": PER_PAGE, "page": page},
            )
            _check(response)
            comments = response.json()
            for comment in comments:
                if marker in (comment.get("body") or ""):
                    return dict(comment)
            if len(comments) < PER_PAGE:
                return None
        return None

    def post(self, pull: PullRequest, body: str, marker: str) -> Outcome:
        """Update the marked comment, or create it."""
        found = self.find(pull, marker)
        if found is not None:
            response = self.client.patch(
                f"/repos/{pull.repository}/issues/comments/{found['id']}", json={"body": body}
            )
            _check(response)
            answer = response.json()
            return Outcome("updated", answer.get("id", found["id"]), answer.get("html_url"))
        response = self.client.post(
            f"/repos/{pull.repository}/issues/{pull.number}/comments", json={"body": body}
        )
        _check(response)
        answer = response.json()
        return Outcome("created", answer.get("id"), answer.get("html_url"))


class ForbiddenError(GitHubError):
    pass


def _check(response: httpx.Response) -> None:
    if response.status_code in (401, 403, 404):
        raise ForbiddenError(f"GitHub answered {response.status_code}: {response.text[:200]}")
    if response.status_code >= 300:
        raise GitHubError(f"GitHub answered {response.status_code}: {response.text[:300]}")


FORK_NOTE = (
    "This pull request comes from a fork, whose workflow token cannot comment: the report "
    "is here, in the job summary."
)


def append_summary(path: Path | None, body: str, note: str | None = None) -> None:
    """Append the report (and a note) to the job summary file, when there is one."""
    if path is None:
        return
    with path.open("a", encoding="utf-8") as out:
        if note:
            out.write(f"> {note}\n\n")
        out.write(body)
        if not body.endswith("\n"):
            out.write("\n")


def publish(
    body: str,
    *,
    marker: str,
    pull: PullRequest | None,
    token: str | None,
    api_url: str = DEFAULT_API_URL,
    summary: Path | None = None,
) -> Outcome:
    """The comment on the pull request (when possible) and the report in the summary."""
    reason = None
    if pull is None:
        reason = "not a pull request event: the report is in the job summary only"
    elif pull.fork:
        reason = FORK_NOTE
    elif not token:
        reason = "no token to comment with: the report is in the job summary only"
    if reason is not None or pull is None or not token:
        append_summary(summary, body, reason)
        return Outcome("skipped", reason=reason)
    try:
        with CommentPoster(token, api_url) as poster:
            outcome = poster.post(pull, body, marker)
    except ForbiddenError as error:
        reason = f"the token may not comment ({error}): the report is in the job summary only"
        append_summary(summary, body, reason)
        return Outcome("skipped", reason=reason)
    except (httpx.HTTPError, GitHubError) as error:
        reason = f"could not comment: {error}"
        append_summary(summary, body, reason)
        return Outcome("skipped", reason=reason)
    append_summary(summary, body)
    return outcome


def read_event(path: Path | None) -> dict[str, Any]:
    """The event payload a runner writes to ``GITHUB_EVENT_PATH`` (empty when absent)."""
    if path is None or not path.is_file():
        return {}
    value = json.loads(path.read_text(encoding="utf-8"))
    return value if isinstance(value, dict) else {}
