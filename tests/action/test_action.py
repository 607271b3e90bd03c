"""The GitHub Action end to end: its steps, as a runner runs them, in a temporary git
repository with a base and a head commit, posting to a local stand-in for GitHub's API.

The install step really runs ``pip install`` on the action's checkout, offline: the
dependencies come from this test environment (``PYTHONPATH``), the package is built from
the checkout without build isolation and without an index.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from service.report.comment import MARKER
from service.report.github import FORK_NOTE
from tests.action.fake_github import FakeGitHub
from tests.action.runner import Run, run_action

ACTION = Path(__file__).resolve().parents[2]
REPOSITORY = "acme/shop"

NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Namespace
metadata: {name: kube-system}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system}
spec:
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec: {containers: [{name: dns, image: coredns, ports: [{containerPort: 53, protocol: UDP}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web, ports: [{containerPort: 8080, name: http}]}]}
"""
DENY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
"""
DNS = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-dns, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
      podSelector: {matchLabels: {k8s-app: kube-dns}}
    ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]
"""
OPEN = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-anywhere, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{ipBlock: {cidr: 0.0.0.0/0}}], ports: [{port: http}]}]
"""
VALUES = "replicaCount: 2\nimage: {repository: web, tag: '1.2'}\n"


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def _commit(repo: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if text:
            path.write_text(text)
        else:
            path.unlink()
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


def _offline_packages(tmp: Path) -> Path:
    """This environment's packages, without netreach itself (the action installs it)."""
    site = Path(sysconfig.get_paths()["purelib"])
    out = tmp / "site"
    out.mkdir()
    for entry in site.iterdir():
        if "netreach" in entry.name or entry.suffix == ".pth":
            continue
        (out / entry.name).symlink_to(entry)
    return out


def _event(number: int, base: str, head: str, head_repo: str = REPOSITORY) -> dict[str, Any]:
    return {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "base": {"sha": base, "repo": {"full_name": REPOSITORY}},
            "head": {"sha": head, "repo": {"full_name": head_repo}},
        },
        "repository": {"full_name": REPOSITORY},
    }


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    repo = tmp_path / "workspace"
    repo.mkdir()
    _git(repo, "init", "-q")
    base = _commit(
        repo,
        {"deploy/apps.yaml": NAMESPACE, "deploy/deny.yaml": DENY, "deploy/dns.yaml": DNS,
         "deploy/chart/values.yaml": VALUES},
        "base",
    )  # fmt: skip
    head = _commit(repo, {"deploy/dns.yaml": ""}, "drop the DNS policy")
    site = _offline_packages(tmp_path)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "GITHUB_REPOSITORY": REPOSITORY,
        "PYTHONPATH": str(site),
        "PIP_NO_INDEX": "1",
        "PIP_NO_BUILD_ISOLATION": "0",  # pip reads "0" as --no-build-isolation (sic)
        "PIP_CONFIG_FILE": os.devnull,
    }
    return {"repo": repo, "base": base, "head": head, "env": env, "temp": tmp_path / "runner"}


def _run(world: dict[str, Any], fake: FakeGitHub, event: dict[str, Any], **inputs: str) -> Run:
    return run_action(
        ACTION,
        workspace=world["repo"],
        runner_temp=world["temp"],
        inputs={"paths": "deploy", "fail-on": "lost-dns", "python": sys.executable, **inputs},
        event=event,
        env={**world["env"], "GITHUB_API_URL": fake.url},
        token=fake.token,
    )


def test_the_action_comments_then_updates_the_same_comment(world: dict[str, Any]) -> None:
    with FakeGitHub() as fake:
        first = _run(world, fake, _event(7, world["base"], world["head"]))
        install = first.step("Install")
        assert install.returncode == 0, install.stderr
        diff = first.step("Diff")
        assert diff.outputs.get("exit-code") == "1", (diff.returncode, diff.stdout, diff.stderr)
        assert "skipped deploy/chart/values.yaml" in diff.stderr
        assert first.step("Upload").ran is False  # a `uses:` step: its files are checked
        gate = first.step("Gate")
        assert gate.returncode == 1
        assert first.failed is gate
        [created] = fake.writes()
        assert (created.method, created.path) == ("POST", f"/repos/{REPOSITORY}/issues/7/comments")
        assert created.authorization == f"Bearer {fake.token}"
        body = created.body["body"]
        assert body.startswith(MARKER)
        assert "#### Lost DNS (1)" in body
        assert "`shop/NetworkPolicy/allow-dns` (removed" in body
        assert "`netreach-report` artifact" not in body  # nothing was cut
        assert body in first.summary  # the same report in the job summary

        report = Path(diff.outputs["report-dir"])
        assert (report / "comment.md").read_text() == body
        assert "Lost DNS" in (report / "netreach-diff.md").read_text()
        data = json.loads((report / "netreach-diff.json").read_text())
        [lost] = data["highlights"]["lost_dns"]
        assert lost == {"kind": "Deployment", "namespace": "shop", "name": "web"}
        causes = [c for row in data["connections"]["removed"] for c in row["causes"]]
        assert {"kind": "policy-removed",
                "object": {"kind": "NetworkPolicy", "namespace": "shop", "name": "allow-dns"},
                "details": ["egress rule 0 peer 0"]} in causes  # fmt: skip

        # A second push to the pull request: the same comment is updated.
        head = _commit(world["repo"], {"deploy/open.yaml": OPEN}, "open web to the world")
        second = _run(world, fake, _event(7, world["base"], head))
        assert second.step("Gate").returncode == 1
        writes = fake.writes()
        assert [(w.method, w.path) for w in writes[1:]] == [
            ("PATCH", f"/repos/{REPOSITORY}/issues/comments/{created_id(fake)}")
        ]
        [comment] = fake.comments.values()
        assert "#### Newly reachable from outside the cluster (1)" in comment["body"]
        assert "`shop/NetworkPolicy/web-from-anywhere` (added" in comment["body"]


def created_id(fake: FakeGitHub) -> int:
    [comment] = fake.comments.values()
    return int(comment["id"])


def test_a_fork_gets_the_report_in_the_job_summary_only(world: dict[str, Any]) -> None:
    with FakeGitHub() as fake:
        run = _run(world, fake, _event(8, world["base"], world["head"], "someone/shop"),
                   **{"fail-on": ""})  # fmt: skip
        assert run.failed is None, run.failed and run.failed.stderr
        assert fake.writes() == []
        assert FORK_NOTE in run.summary
        assert "#### Lost DNS (1)" in run.summary
        assert "comment skipped" in run.step("Comment").stdout


def test_a_read_only_token_degrades_to_the_summary(world: dict[str, Any]) -> None:
    with FakeGitHub(forbid=True) as fake:
        run = _run(world, fake, _event(9, world["base"], world["head"]), **{"fail-on": ""})
        assert run.failed is None, run.failed and run.failed.stderr
        assert [w.method for w in fake.writes()] == ["POST"]  # tried, answered 403
        assert "the token may not comment" in run.summary
        assert "#### Lost DNS (1)" in run.summary
