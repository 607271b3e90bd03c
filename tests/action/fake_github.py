"""A local stand-in for GitHub's REST API: issue comments, every request recorded.

Only what the comment poster uses: list a pull request's comments (paginated), create
one, update one. Bound to 127.0.0.1 on a free port; a context manager stops it.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_LIST = re.compile(r"/repos/([^/]+/[^/]+)/issues/(\d+)/comments")
_ONE = re.compile(r"/repos/([^/]+/[^/]+)/issues/comments/(\d+)")


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    authorization: str | None


@dataclass
class FakeGitHub:
    """Comments by id; ``forbid`` answers 403 to writes (a read-only token)."""

    token: str = "ghs_test"
    forbid: bool = False
    requests: list[Recorded] = field(default_factory=list)
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_id: int = 1000

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:  # quiet
                pass

            def _answer(self, status: int, value: Any) -> None:
                data = json.dumps(value).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                auth = self.headers.get("Authorization")
                fake.requests.append(
                    Recorded(self.command, url.path, parse_qs(url.query), body, auth)
                )
                if auth != f"Bearer {fake.token}":
                    return self._answer(401, {"message": "Bad credentials"})
                status, value = fake.route(self.command, url.path, parse_qs(url.query), body)
                self._answer(status, value)

            do_GET = do_POST = do_PATCH = _handle  # noqa: N815

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def route(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        listing, one = _LIST.fullmatch(path), _ONE.fullmatch(path)
        if listing and method == "GET":
            repo, number = listing.group(1), int(listing.group(2))
            found = [c for c in self.comments.values() if (c["repo"], c["pr"]) == (repo, number)]
            page = int(query.get("page", ["1"])[0])
            size = int(query.get("per_page", ["30"])[0])
            return 200, [self._public(c) for c in found[(page - 1) * size : page * size]]
        if listing and method == "POST":
            if self.forbid:
                return 403, {"message": "Resource not accessible by integration"}
            comment = {"id": self.next_id, "repo": listing.group(1),
                       "pr": int(listing.group(2)), "body": body["body"]}  # fmt: skip
            self.comments[self.next_id] = comment
            self.next_id += 1
            return 201, self._public(comment)
        if one and method == "PATCH":
            if self.forbid:
                return 403, {"message": "Resource not accessible by integration"}
            comment = self.comments.get(int(one.group(2)))
            if comment is None:
                return 404, {"message": "Not Found"}
            comment["body"] = body["body"]
            return 200, self._public(comment)
        return 404, {"message": "Not Found"}

    def _public(self, comment: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": comment["id"],
            "body": comment["body"],
            "html_url": f"https://github.test/{comment['repo']}/pull/{comment['pr']}"
            f"#issuecomment-{comment['id']}",
        }

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method in ("POST", "PATCH")]

    def __enter__(self) -> FakeGitHub:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
