"""The Kubernetes API through the official client library (``kubernetes``): configuration,
discovery, paginated lists. The one module of netreach that imports it.

Why this library: it is the Kubernetes project's own, released with every Kubernetes minor
version, and its kubeconfig loader is the most complete in Python (exec credential plugins
returning tokens or client certificates, ``token`` and ``tokenFile``, client certificates
from files or inline data, merged ``KUBECONFIG`` lists, ``proxy-url``, ``tls-server-name``),
as is its in-cluster loader (the service account token re-read as the kubelet rotates it).
Every list call takes ``limit`` and ``continue``, so the pagination here is ours and a
``410 Gone`` can restart a list from scratch; ``_preload_content=False`` hands back the
server's JSON untouched instead of a model round-trip that could rename or drop fields.

Objects are decoded to plain dicts; nothing here knows netreach's model.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.incluster_config import InClusterConfigLoader

from service.capture.errors import (
    ApiServerError,
    ConfigError,
    Denial,
    UnauthorizedError,
    UnreachableError,
)
from service.capture.resources import RESOURCES, Resource

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
DEFAULT_KUBECONFIG = "~/.kube/config"
MAX_RESTARTS = 5  # consecutive expired continue tokens on one list before giving up
USER_AGENT = "netreach-capture"

NAMESPACES = next(resource for resource in RESOURCES if resource.kind == "Namespace")

Transform = Callable[[dict[str, Any]], dict[str, Any]]


class ListExpired(Exception):  # noqa: N818  (a condition, not an error: the list restarts)
    """410 Gone on a continue token: the list must start again."""


class Forbidden(Exception):  # noqa: N818
    """403 on one request; the caller collects these into a ForbiddenError."""

    def __init__(self, denial: Denial) -> None:
        super().__init__(denial.message)
        self.denial = denial


class NotServed(Exception):  # noqa: N818
    """404 on a list: the resource went away after discovery (a CRD deleted)."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where the configuration came from, for messages: ``context 'kind-dev' of
    ~/.kube/config`` or ``the pod's service account``."""

    server: str
    described: str


def _kubeconfig_files(kubeconfig: str | None, environ: Mapping[str, str]) -> str | None:
    """The kubeconfig to use, as kubectl chooses it: the flag, else ``KUBECONFIG`` (a list
    of files, those that do not exist skipped), else ``~/.kube/config`` if it exists; None
    when there is none."""
    if kubeconfig:
        if not Path(kubeconfig).expanduser().is_file():
            raise ConfigError(f"kubeconfig {kubeconfig} does not exist")
        return kubeconfig
    if environ.get("KUBECONFIG"):
        listed = environ["KUBECONFIG"].split(os.pathsep)
        found = [path for path in listed if path and Path(path).expanduser().is_file()]
        if not found:
            raise ConfigError(f"none of the kubeconfig files in KUBECONFIG exist: {listed}")
        return os.pathsep.join(found)
    home = environ.get("HOME")
    default = Path(home, ".kube", "config") if home else Path(DEFAULT_KUBECONFIG).expanduser()
    return str(default) if default.is_file() else None


def load_configuration(
    kubeconfig: str | None = None,
    context: str | None = None,
    *,
    environ: Mapping[str, str] = os.environ,
    service_account_dir: Path = SERVICE_ACCOUNT_DIR,
) -> tuple[client.Configuration, Target]:
    """A client configuration from a kubeconfig (``--kubeconfig``, ``KUBECONFIG``,
    ``~/.kube/config``), else from the pod's service account when run in a pod."""
    configuration = client.Configuration()
    files = _kubeconfig_files(kubeconfig, environ)
    try:
        if files is not None:
            config.load_kube_config(
                config_file=files, context=context, client_configuration=configuration
            )
            _, current = config.list_kube_config_contexts(files)
            described = f"context {context or current.get('name')!r} of {files}"
        elif environ.get("KUBERNETES_SERVICE_HOST"):
            if context:
                raise ConfigError(
                    f"--context {context} needs a kubeconfig; none was found, and in a pod the "
                    "service account is used"
                )
            InClusterConfigLoader(
                token_filename=str(service_account_dir / "token"),
                cert_filename=str(service_account_dir / "ca.crt"),
                environ=dict(environ),
            ).load_and_set(configuration)
            described = "the pod's service account"
        else:
            raise ConfigError(
                "no kubeconfig found: pass --kubeconfig FILE, set KUBECONFIG, or create "
                "~/.kube/config (run in a pod, capture uses the pod's service account)"
            )
    except ConfigException as error:
        where = files or f"the service account in {service_account_dir}"
        raise ConfigError(f"cannot use {where}: {error}") from error
    except ConfigError:
        raise
    except Exception as error:  # the loader fails on malformed files with any exception
        what = (
            f"the kubeconfig {files}" if files else f"the service account in {service_account_dir}"
        )
        raise ConfigError(
            f"cannot read {what}: {type(error).__name__}: {error}".replace("\n", " ")
        ) from error
    return configuration, Target(str(configuration.host), described)


class KubeApi:
    """Discovery and paginated lists on one API server, as plain JSON objects.

    Requests go through the client's ``ApiClient`` (authentication, token refresh, TLS,
    proxies) on paths built here: the generated per-kind API classes would add nothing but
    an import of every model class (1.6 s).
    """

    def __init__(
        self, configuration: client.Configuration, target: Target, *, timeout: float = 30.0
    ) -> None:
        configuration.retries = 1  # one retry on a dropped connection; the caller retries more
        self.target = target
        self._timeout = (min(timeout, 10.0), timeout)
        self._client = client.ApiClient(configuration)
        self._client.user_agent = USER_AGENT

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> KubeApi:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- discovery -----------------------------------------------------------------------

    def served_group_versions(self) -> set[str]:
        """Every group/version the server serves (``v1``, ``apps/v1``, ...), from ``/api``
        and ``/apis``."""
        with self._translated(None, "discovery", "of /api"):
            core = self._get("/api")
        with self._translated(None, "discovery", "of /apis"):
            groups = self._get("/apis")
        served = {str(v) for v in core.get("versions") or ()}
        for group in groups.get("groups") or ():
            for version in group.get("versions") or ():
                served.add(str(version.get("groupVersion")))
        return served

    def served_resources(self, group: str, version: str) -> set[str]:
        """The resources (plural names, no subresources) of one served group/version."""
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        with self._translated(None, "discovery", f"of {path}"):
            body = self._get(path)
        return {
            str(r.get("name")) for r in body.get("resources") or () if "/" not in str(r.get("name"))
        }

    # --- reads ---------------------------------------------------------------------------

    def list_objects(
        self,
        resource: Resource,
        namespace: str | None,
        *,
        page_size: int,
        transform: Transform,
        on_restart: Callable[[], None] = lambda: None,
    ) -> list[dict[str, Any]]:
        """Every object of ``resource`` (in ``namespace``, or everywhere), page by page,
        each passed through ``transform`` as it arrives. An expired continue token restarts
        the list from the first page, so the result is one consistent list."""
        for _ in range(MAX_RESTARTS + 1):
            try:
                return list(self._pages(resource, namespace, page_size, transform))
            except ListExpired:
                on_restart()
        raise ApiServerError(
            f"listing {resource.plural} restarted {MAX_RESTARTS} times: the continue token "
            "expired every time before the list was complete; retry with a larger --page-size"
        )

    def get_namespace(self, name: str) -> dict[str, Any] | None:
        """The Namespace ``name``, or None if it does not exist."""
        with self._translated(NAMESPACES, "get", f"namespace {name}"):
            try:
                return self._get(f"/api/v1/namespaces/{quote(name, safe='')}")
            except _Status as answer:
                if answer.status == 404:
                    return None
                raise

    def _pages(
        self, resource: Resource, namespace: str | None, page_size: int, transform: Transform
    ) -> Iterator[dict[str, Any]]:
        path = _collection_path(resource, namespace)
        token: str | None = None
        scope = "cluster-wide" if namespace is None else f"in namespace {namespace}"
        while True:
            query: list[tuple[str, Any]] = [("limit", page_size)]
            if token:
                query.append(("continue", token))
            with self._translated(resource, "list", scope):
                try:
                    page = self._get(path, query)
                except _Status as answer:
                    if answer.status == 410 and token is not None:
                        raise ListExpired from answer
                    if answer.status == 404:
                        raise NotServed(str(resource)) from answer
                    raise
            items = page.get("items")
            if not isinstance(items, list):
                raise ApiServerError(
                    f"the API server's list of {resource.plural} has no items array"
                )
            for item in items:
                if not isinstance(item, dict):
                    raise ApiServerError(f"the API server listed a {resource.plural} item "
                                         "that is not an object")  # fmt: skip
                yield transform(item)
            metadata = page.get("metadata")
            token = metadata.get("continue") if isinstance(metadata, dict) else None
            if not token:
                return

    # --- plumbing ------------------------------------------------------------------------

    def _get(self, path: str, query: list[tuple[str, Any]] | None = None) -> dict[str, Any]:
        """GET ``path``: the JSON object of a 2xx answer; raises :class:`_Status` for others."""
        request = self._client.param_serialize(
            method="GET",
            resource_path=path,
            query_params=query or [],
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        response = self._client.call_api(*request, _request_timeout=self._timeout)
        try:
            data = response.read()
        finally:
            response.response.release_conn()
        if not 200 <= response.status <= 299:
            raise _Status(response.status, response.reason, data)
        return self._decode(data)

    def _decode(self, data: bytes) -> dict[str, Any]:
        try:
            body = orjson.loads(data)
        except orjson.JSONDecodeError:
            try:  # integers beyond 64 bits, which orjson refuses
                body = json.loads(data)
            except ValueError as error:
                raise ApiServerError(
                    f"the API server at {self.target.server} answered with something that is "
                    f"not JSON: {error}"
                ) from error
        if not isinstance(body, dict):
            raise ApiServerError(f"the API server at {self.target.server} answered with JSON "
                                 "that is not an object")  # fmt: skip
        return body

    @contextmanager
    def _translated(self, resource: Resource | None, verb: str, scope: str) -> Iterator[None]:
        """Answers and client exceptions -> capture errors that say what happened."""
        server = self.target.server
        try:
            yield
        except _Status as answer:
            message = answer.message()
            if answer.status == 401:
                raise UnauthorizedError(
                    f"the API server at {server} rejected the credentials of "
                    f"{self.target.described} (401 Unauthorized: {message}): they are "
                    "missing, invalid or expired; log in again or renew the token or client "
                    "certificate (an exec plugin's own errors are logged above)"
                ) from answer
            if answer.status == 403 and resource is not None:
                raise Forbidden(Denial(resource, scope, verb, message)) from answer
            what = f"{verb} {resource.plural if resource else ''} {scope}"
            raise ApiServerError(
                f"the API server at {server} answered {answer.status} {answer.reason} to "
                f"{' '.join(what.split())}: {message}"
            ) from answer
        except ApiException as error:  # the client's word for a TLS failure (status 0)
            raise UnreachableError(
                f"cannot reach the Kubernetes API server at {server} "
                f"({self.target.described}): {' '.join(str(error.reason).split())}"
            ) from error
        except urllib3.exceptions.HTTPError as error:
            reason = getattr(error, "reason", None) or error
            raise UnreachableError(
                f"cannot reach the Kubernetes API server at {server} ({self.target.described}): "
                f"{reason}"
            ) from error


class _Status(Exception):  # noqa: N818
    """A non-2xx answer."""

    def __init__(self, status: int, reason: str | None, body: bytes) -> None:
        super().__init__(status)
        self.status = status
        self.reason = reason or ""
        self.body = body

    def message(self) -> str:
        """The ``message`` of the Status object the API server sent, else the raw body."""
        text = self.body.decode("utf-8", "replace")
        try:
            status = json.loads(text)
        except ValueError:
            return text.strip()[:300] or "no message"
        if isinstance(status, dict) and isinstance(status.get("message"), str):
            return str(status["message"])
        return text.strip()[:300]


def _collection_path(resource: Resource, namespace: str | None) -> str:
    """``/api/v1/pods``, ``/apis/apps/v1/namespaces/x/deployments``..."""
    root = f"/apis/{resource.group}/{resource.version}" if resource.group else "/api/v1"
    if namespace is not None and resource.namespaced:
        return f"{root}/namespaces/{quote(namespace, safe='')}/{resource.plural}"
    return f"{root}/{resource.plural}"
