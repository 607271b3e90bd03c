"""``github-comment``: post (or update) the diff comment on a GitHub pull request.

What the GitHub Action runs after ``netreach diff``; every input has the environment
variable a runner sets as its default, so in a workflow it needs only ``--body-file``.
"""

from pathlib import Path
from typing import Annotated

import typer

from service.cli.app import command_set, fail

commands = command_set()


@commands.command("github-comment")
def github_comment(
    body_file: Annotated[Path, typer.Option(help="The markdown to post (netreach diff's).")],
    repository: Annotated[
        str | None, typer.Option(envvar="GITHUB_REPOSITORY", help="owner/name.")
    ] = None,
    event_path: Annotated[
        Path | None,
        typer.Option(envvar="GITHUB_EVENT_PATH", help="The event payload (pull_request)."),
    ] = None,
    token: Annotated[
        str | None, typer.Option(envvar="GITHUB_TOKEN", help="Token that may comment.")
    ] = None,
    api_url: Annotated[
        str, typer.Option(envvar="GITHUB_API_URL", help="GitHub's REST API.")
    ] = "https://api.github.com",
    summary: Annotated[
        Path | None,
        typer.Option(envvar="GITHUB_STEP_SUMMARY", help="Job summary file to append to."),
    ] = None,
    marker: Annotated[
        str | None, typer.Option(help="Finds the comment to update (default: netreach's).")
    ] = None,
) -> None:
    """Create the pull request's netreach comment, or update it (found by its marker), and
    append the report to the job summary. On a fork, or when the token may not comment,
    only the summary is written. Never fails the job for the comment's sake (exit 0)."""
    from service.report.comment import MARKER
    from service.report.github import PullRequest, publish, read_event

    if not body_file.is_file():
        fail(f"{body_file}: no such file")
    body = body_file.read_text(encoding="utf-8")
    pull = None
    if repository:
        pull = PullRequest.from_event(read_event(event_path), repository)
    outcome = publish(
        body, marker=marker or MARKER, pull=pull, token=token, api_url=api_url, summary=summary
    )
    if outcome.action == "skipped":
        typer.echo(f"::notice::netreach: comment skipped: {outcome.reason}")
    else:
        typer.echo(f"netreach: comment {outcome.action}: {outcome.url or outcome.comment_id}")
