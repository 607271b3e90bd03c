"""A typed Python client of the netreach API (httpx), standalone: it imports nothing of
the engine, the store or the web layer, only ``httpx``.

    from service.client import NetreachClient
    with NetreachClient("http://127.0.0.1:8000", token="nr_...") as api:
        stored, created = api.upload("prod", manifests_bytes, content_type="application/yaml")
        verdict = api.reachability("prod", "latest", "shop/Deployment/web", "db/Service/pg", 5432)

Every method maps to one endpoint. Errors in the API's envelope are raised as the
:class:`NetreachError` subclass of their status (``NotFoundError``, ``InvalidRequestError``,
...), with the envelope's ``code``, ``message`` and ``details``; a server that cannot be
reached raises :class:`UnreachableError`. Lists that the API pages are iterated page by page.
"""

from __future__ import annotations

import gzip as gzip_module
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote

import httpx

JSON = dict[str, Any]
Ref = int | Literal["latest"] | str
Granularity = Literal["pod", "workload", "namespace"]
SNAPSHOT_HEADER = "X-Netreach-Snapshot"


# -- errors -------------------------------------------------------------------------------


class NetreachError(Exception):
    """An error answer of the API (or no answer at all, for :class:`UnreachableError`)."""

    status: int | None = None

    def __init__(
        self,
        message: str,
        *,
        code: str = "error",
        details: Sequence[Mapping[str, Any]] = (),
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = [dict(d) for d in details]
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        where = f"{self.status} " if self.status else ""
        return f"{where}{self.code}: {self.message}"


class UnreachableError(NetreachError):
    """No answer: connection refused, DNS, timeout."""


class BadRequestError(NetreachError):
    status = 400


class UnauthorizedError(NetreachError):
    status = 401


class ForbiddenError(NetreachError):
    status = 403


class NotFoundError(NetreachError):
    status = 404


class ConflictError(NetreachError):
    status = 409


class PayloadTooLargeError(NetreachError):
    status = 413


class UnsupportedMediaTypeError(NetreachError):
    status = 415


class InvalidRequestError(NetreachError):
    """422: invalid manifests or parameters; ``details`` say which document or field."""

    status = 422


class UnavailableError(NetreachError):
    status = 503


class ServerError(NetreachError):
    status = 500


_BY_STATUS: dict[int, type[NetreachError]] = {
    cls.status: cls
    for cls in (
        BadRequestError,
        UnauthorizedError,
        ForbiddenError,
        NotFoundError,
        ConflictError,
        PayloadTooLargeError,
        UnsupportedMediaTypeError,
        InvalidRequestError,
        UnavailableError,
    )
    if cls.status is not None
}


def error_of(response: httpx.Response) -> NetreachError:
    """The typed error of an error response (the envelope, or its text if it has none)."""
    status = response.status_code
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else NetreachError)
    try:
        body = response.json()["error"]
        message, code = str(body["message"]), str(body.get("code", "error"))
        details = [d for d in body.get("details", []) if isinstance(d, dict)]
    except (ValueError, KeyError, TypeError):
        message, code, details = response.text.strip()[:500] or "no body", "error", []
    return cls(message, code=code, details=details, status=status)


# -- values -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Snapshot:
    cluster: str
    version: int
    id: int
    content_hash: str
    created_at: str
    counts: dict[str, int]
    warnings: list[str]
    labels: dict[str, str]
    source: str | None
    object_count: int

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> Snapshot:
        return cls(
            cluster=str(body["cluster"]),
            version=int(body["version"]),
            id=int(body["id"]),
            content_hash=str(body["content_hash"]),
            created_at=str(body["created_at"]),
            counts=dict(body.get("counts", {})),
            warnings=list(body.get("warnings", [])),
            labels=dict(body.get("labels", {})),
            source=body.get("source"),
            object_count=int(body.get("object_count", 0)),
        )


@dataclass(frozen=True, slots=True)
class Cluster:
    name: str
    created_at: str
    latest_version: int | None
    snapshot_count: int

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> Cluster:
        return cls(
            name=str(body["name"]),
            created_at=str(body["created_at"]),
            latest_version=body.get("latest_version"),
            snapshot_count=int(body.get("snapshot_count", 0)),
        )


@dataclass(frozen=True, slots=True)
class StoredObject:
    kind: str
    namespace: str | None
    name: str
    content_hash: str
    body: dict[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class Options:
    """Analysis options, spelled as the API's query parameters."""

    pod_ips_in_ipblocks: Literal["match", "ignore"] = "match"
    host_network_pods: Literal["exempt", "as-pods"] = "exempt"

    def params(self) -> dict[str, str]:
        return {
            "pod_ips_in_ipblocks": self.pod_ips_in_ipblocks,
            "host_network_pods": self.host_network_pods,
        }


DEFAULT_OPTIONS = Options()


# -- the client ---------------------------------------------------------------------------


STREAMED_BODY_BYTES = 64 * 1024  # what httpx reads from a file-like body at a time


def request_body(data: bytes) -> bytes | io.BytesIO:
    """A request body for httpx's ``content=``: a large one as a file-like object.

    Given bytes, httpx's synchronous transport sends what a socket write left unsent by
    slicing it, which copies the rest of the body after every write: quadratic, about 12 s
    of the client's CPU for a 405 MB body on loopback. From a file-like object it sends
    64 KiB pieces, with the same ``Content-Length`` (httpx seeks to the end to learn it).
    """
    return io.BytesIO(data) if len(data) > STREAMED_BODY_BYTES else data


def _segment(value: object) -> str:
    return quote(str(value), safe="")


class NetreachClient:
    """One connection pool to one server; use it as a context manager (or ``close()``)."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    def __enter__(self) -> NetreachClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- plumbing -----------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        try:
            response = self._http.request(
                method,
                path,
                params=params,
                json=json,
                content=None if content is None else request_body(content),
                headers=headers,
            )
        except httpx.HTTPError as error:
            raise UnreachableError(
                f"cannot reach {self.base_url}: {error}", code="unreachable"
            ) from error
        if response.status_code >= 400:
            raise error_of(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> JSON:
        body = self._request(method, path, **kwargs).json()
        if not isinstance(body, dict):
            raise ServerError("the server answered JSON that is not an object", status=200)
        return body

    @staticmethod
    def _snapshot_path(cluster: str, ref: Ref = "") -> str:
        path = f"/v1/clusters/{_segment(cluster)}/snapshots"
        return f"{path}/{_segment(ref)}" if ref != "" else path

    def _pages(self, path: str, params: Mapping[str, Any], key: str) -> Iterator[JSON]:
        cursor: str | None = None
        while True:
            page = self._json(
                "GET", path, params={**params, **({"cursor": cursor} if cursor else {})}
            )
            yield from page[key]
            cursor = page.get("next_cursor")
            if not cursor:
                return

    # -- operations ---------------------------------------------------------------------

    def health(self) -> JSON:
        return self._json("GET", "/healthz")

    def ready(self) -> JSON:
        return self._json("GET", "/readyz")

    # -- clusters and snapshots ---------------------------------------------------------

    def clusters(self) -> list[Cluster]:
        return [Cluster.of(c) for c in self._json("GET", "/v1/clusters")["items"]]

    def cluster(self, name: str) -> Cluster:
        return Cluster.of(self._json("GET", f"/v1/clusters/{_segment(name)}"))

    def delete_cluster(self, name: str) -> None:
        self._request("DELETE", f"/v1/clusters/{_segment(name)}")

    def upload(
        self,
        cluster: str,
        manifests: bytes,
        *,
        content_type: str = "application/yaml",
        source: str | None = None,
        labels: Mapping[str, str] | Iterable[str] = (),
        allow_empty: bool = False,
        gzip: bool = False,
    ) -> tuple[Snapshot, bool]:
        """Store manifests as the next version; ``(snapshot, created)`` (``created`` is
        false when identical content already was a version).

        ``gzip`` sends the body compressed (``Content-Encoding: gzip``, zlib's fastest
        level: on JSON manifests it still shrinks the body about tenfold, in a fraction of
        the time the server takes to store it). The server's size limit applies to the
        uncompressed manifests either way."""
        headers = {"Content-Type": content_type}
        if gzip:
            manifests = gzip_module.compress(manifests, compresslevel=1, mtime=0)
            headers["Content-Encoding"] = "gzip"
        texts = [f"{k}={v}" for k, v in labels.items()] if isinstance(labels, Mapping) else labels
        params: list[tuple[str, str]] = [("label", text) for text in texts]
        if source is not None:
            params.append(("source", source))
        if allow_empty:
            params.append(("allow_empty", "true"))
        response = self._request(
            "POST",
            self._snapshot_path(cluster),
            params=params,
            content=manifests,
            headers=headers,
        )
        return Snapshot.of(response.json()), response.status_code == 201

    def snapshots(self, cluster: str, *, page_size: int | None = None) -> Iterator[Snapshot]:
        """Every version, newest first."""
        params = {"limit": page_size} if page_size else {}
        for item in self._pages(self._snapshot_path(cluster), params, "items"):
            yield Snapshot.of(item)

    def snapshot(self, cluster: str, ref: Ref = "latest") -> Snapshot:
        return Snapshot.of(self._json("GET", self._snapshot_path(cluster, ref)))

    def delete_snapshot(self, cluster: str, ref: Ref) -> None:
        self._request("DELETE", self._snapshot_path(cluster, ref))

    def objects(
        self,
        cluster: str,
        ref: Ref = "latest",
        *,
        kind: str | None = None,
        namespace: str | None = None,
        page_size: int = 1000,
    ) -> Iterator[StoredObject]:
        """Every stored object (all pages come from the version the first page answered)."""
        params: dict[str, Any] = {"limit": page_size}
        if kind is not None:
            params["kind"] = kind
        if namespace is not None:
            params["namespace"] = namespace
        for item in self._pages(f"{self._snapshot_path(cluster, ref)}/objects", params, "items"):
            yield StoredObject(
                item["kind"],
                item.get("namespace"),
                item["name"],
                item["content_hash"],
                item["body"],
            )

    # -- analyses -----------------------------------------------------------------------

    def connectivity(
        self,
        cluster: str,
        ref: Ref = "latest",
        *,
        granularity: Granularity = "workload",
        namespace: str | None = None,
        options: Options = DEFAULT_OPTIONS,
        page_size: int | None = None,
    ) -> Iterator[JSON]:
        """Every connection of the map (paged through when the server pages it)."""
        params: dict[str, Any] = {"granularity": granularity, **options.params()}
        if namespace is not None:
            params["namespace"] = namespace
        if page_size is not None:
            params["limit"] = page_size
        path = f"{self._snapshot_path(cluster, ref)}/connectivity"
        yield from self._pages(path, params, "connections")

    def connectivity_text(
        self,
        cluster: str,
        ref: Ref = "latest",
        *,
        output_format: Literal["csv", "md", "dot"] = "csv",
        granularity: Granularity = "workload",
        namespace: str | None = None,
        options: Options = DEFAULT_OPTIONS,
    ) -> str:
        params: dict[str, Any] = {"granularity": granularity, "format": output_format,
                                  **options.params()}  # fmt: skip
        if namespace is not None:
            params["namespace"] = namespace
        path = f"{self._snapshot_path(cluster, ref)}/connectivity"
        return self._request("GET", path, params=params).text

    def reachability(
        self,
        cluster: str,
        ref: Ref,
        source: str,
        target: str,
        port: int | str | None = None,
        protocol: Literal["TCP", "UDP", "SCTP"] | None = None,
        *,
        options: Options = DEFAULT_OPTIONS,
    ) -> JSON:
        """The verdict: ``allowed``, ``ports``, ``explanation``, and ``cluster``/``version``."""
        body = {"from": source, "to": target, "port": port, "protocol": protocol}
        path = f"{self._snapshot_path(cluster, ref)}/reachability"
        return self._json("POST", path, json=body, params=options.params())

    def reachability_batch(
        self,
        cluster: str,
        ref: Ref,
        questions: Iterable[Mapping[str, Any]],
        *,
        options: Options = DEFAULT_OPTIONS,
    ) -> JSON:
        """Up to 1,000 questions (``{"from", "to", "port"?, "protocol"?}``) in one call;
        each result has a ``verdict`` or its own ``error``."""
        path = f"{self._snapshot_path(cluster, ref)}/reachability:batch"
        body = {"questions": [dict(q) for q in questions]}
        return self._json("POST", path, json=body, params=options.params())

    def lint(
        self,
        cluster: str,
        ref: Ref = "latest",
        *,
        suppress: Sequence[str] = (),
        options: Options = DEFAULT_OPTIONS,
    ) -> JSON:
        params: list[tuple[str, str]] = [*options.params().items()]
        params += [("suppress", s) for s in suppress]
        return self._json("GET", f"{self._snapshot_path(cluster, ref)}/lint", params=params)

    def lint_text(
        self,
        cluster: str,
        ref: Ref = "latest",
        *,
        output_format: Literal["md", "sarif", "text"] = "text",
        options: Options = DEFAULT_OPTIONS,
    ) -> str:
        params = {"format": output_format, **options.params()}
        return self._request("GET", f"{self._snapshot_path(cluster, ref)}/lint", params=params).text

    # -- diffs and history --------------------------------------------------------------

    def diff(
        self,
        cluster: str,
        base: Ref,
        head: Ref = "latest",
        *,
        granularity: Granularity = "workload",
        options: Options = DEFAULT_OPTIONS,
    ) -> JSON:
        params = {"base": base, "head": head, "granularity": granularity, **options.params()}
        return self._json("GET", f"/v1/clusters/{_segment(cluster)}/diff", params=params)

    def diff_markdown(
        self,
        cluster: str,
        base: Ref,
        head: Ref = "latest",
        *,
        granularity: Granularity = "workload",
    ) -> str:
        params = {"base": base, "head": head, "granularity": granularity, "format": "md"}
        return self._request("GET", f"/v1/clusters/{_segment(cluster)}/diff", params=params).text

    def diff_across(
        self,
        base: str,
        head: str,
        *,
        granularity: Granularity = "workload",
        options: Options = DEFAULT_OPTIONS,
    ) -> JSON:
        """``base`` and ``head`` are ``CLUSTER@REF``."""
        params = {"base": base, "head": head, "granularity": granularity, **options.params()}
        return self._json("GET", "/v1/diff", params=params)

    def what_if(
        self,
        cluster: str,
        ref: Ref = "latest",
        *,
        manifests: Sequence[Mapping[str, Any]] | None = None,
        manifests_yaml: str | None = None,
        delete: Sequence[Mapping[str, str]] = (),
        granularity: Granularity = "workload",
        options: Options = DEFAULT_OPTIONS,
    ) -> JSON:
        body: JSON = {"delete": [dict(d) for d in delete], "granularity": granularity}
        if manifests is not None:
            body["manifests"] = [dict(m) for m in manifests]
        if manifests_yaml is not None:
            body["manifests_yaml"] = manifests_yaml
        path = f"{self._snapshot_path(cluster, ref)}/what-if"
        return self._json("POST", path, json=body, params=options.params())

    def history(
        self,
        cluster: str,
        source: str,
        target: str,
        *,
        port: int | str | None = None,
        protocol: Literal["TCP", "UDP", "SCTP"] | None = None,
        at: int | None = None,
        first: Literal["allowed", "denied"] | None = None,
        options: Options = DEFAULT_OPTIONS,
    ) -> JSON:
        """``at=N``: the state in version N; ``first=``: the first version in that state."""
        params: dict[str, Any] = {"from": source, "to": target, **options.params()}
        for name, value in (("port", port), ("protocol", protocol), ("at", at), ("first", first)):
            if value is not None:
                params[name] = value
        path = f"/v1/clusters/{_segment(cluster)}/history/reachability"
        return self._json("GET", path, params=params)
