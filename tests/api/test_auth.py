"""Who may do what: the auth matrix, cluster patterns, and open mode."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from service.api.auth import arrived_locally
from service.store.migrate import upgrade
from tests.api.conftest import (
    YAML,
    Api,
    assert_error,
    create_token,
    revoke_token,
    running_server,
    test_settings,
)
from tests.api.manifests import SHOP_YAML
from tests.conftest import ThrowawayDatabases

MATRIX_CLUSTER = "matrix"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    scope: str  # the scope it needs
    ok: frozenset[int]  # statuses once authorised
    body: dict[str, object] | None = None
    yaml: bool = False

    def call(self, client: httpx.Client) -> httpx.Response:
        path = self.path.format(cluster=MATRIX_CLUSTER)
        if self.yaml:
            return client.request(self.method, path, content=SHOP_YAML, headers=YAML)
        return client.request(self.method, path, json=self.body)


SNAPSHOT = "/v1/clusters/{cluster}/snapshots"
ENDPOINTS = [
    Endpoint("GET", "/v1/clusters", "read", frozenset({200})),
    Endpoint("GET", SNAPSHOT, "read", frozenset({200})),
    Endpoint("POST", SNAPSHOT, "write", frozenset({200, 201}), yaml=True),
    Endpoint("GET", SNAPSHOT + "/latest", "read", frozenset({200})),
    Endpoint("DELETE", SNAPSHOT + "/999", "write", frozenset({404})),
    Endpoint("GET", SNAPSHOT + "/latest/objects?kind=Pod", "read", frozenset({200})),
    Endpoint("GET", SNAPSHOT + "/latest/connectivity?format=csv", "read", frozenset({200})),
    Endpoint(
        "POST",
        SNAPSHOT + "/latest/reachability",
        "read",
        frozenset({200}),
        body={"from": "shop/api-0", "to": "db/Service/pg", "port": 5432},
    ),
]
CALLERS = [None, "wrong", "revoked", "read", "write", "admin", "other"]
RANK = {"read": 1, "write": 2, "admin": 3}


@pytest.fixture(scope="module")
def matrix(api: Api) -> Api:
    with api.client("admin") as client:
        response = client.post(
            f"/v1/clusters/{MATRIX_CLUSTER}/snapshots", content=SHOP_YAML, headers=YAML
        )
        assert response.status_code in (200, 201)
    return api


def _client(api: Api, caller: str | None) -> httpx.Client:
    if caller == "wrong":
        return httpx.Client(
            base_url=api.base_url, headers={"Authorization": "Bearer nr_not-a-real-token"}
        )
    return api.client(caller)


@pytest.mark.parametrize("caller", CALLERS, ids=lambda c: str(c))
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
def test_auth_matrix(matrix: Api, endpoint: Endpoint, caller: str | None) -> None:
    with _client(matrix, caller) as client:
        response = endpoint.call(client)
    if caller in (None, "wrong", "revoked"):
        assert_error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"].startswith("Bearer")
    elif caller == "other" and endpoint.path != "/v1/clusters":
        error = assert_error(response, 403, "forbidden")
        assert MATRIX_CLUSTER in str(error["message"])
    elif caller in RANK and RANK[caller] < RANK[endpoint.scope]:
        assert_error(response, 403, "forbidden")
    else:
        assert response.status_code in endpoint.ok, response.text


def test_malformed_authorization_header_is_401(matrix: Api) -> None:
    for header in ("Basic dXNlcjpwYXNz", "Bearer", "nr_token-without-scheme", "Bearer x y"):
        response = httpx.get(f"{matrix.base_url}/v1/clusters", headers={"Authorization": header})
        assert_error(response, 401)


def test_cluster_list_shows_only_permitted_clusters(matrix: Api) -> None:
    with matrix.client("admin") as admin:
        created = admin.post("/v1/clusters/other-eu/snapshots", content=SHOP_YAML, headers=YAML)
        assert created.status_code in (200, 201)
        everything = {c["name"] for c in admin.get("/v1/clusters").json()["items"]}
    with matrix.client("other") as other:
        visible = {c["name"] for c in other.get("/v1/clusters").json()["items"]}
        # The pattern also grants access, with the token's own (admin) scope.
        assert other.get("/v1/clusters/other-eu/snapshots/latest").status_code == 200
    assert {MATRIX_CLUSTER, "other-eu"} <= everything
    assert visible == {name for name in everything if name.startswith("other-")}


def test_operations_endpoints_stay_open(matrix: Api) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert httpx.get(matrix.base_url + path).status_code == 200


# -- open mode ---------------------------------------------------------------------------


@pytest.fixture
def fresh_sqlite(throwaway_databases: ThrowawayDatabases) -> str:
    url = throwaway_databases.create("sqlite")
    upgrade(url)
    return url


def _server(url: str, **overrides: object) -> Iterator[str]:
    with running_server(test_settings(url, **overrides)) as base_url:
        yield base_url


def test_open_on_loopback_until_a_token_is_ever_created(fresh_sqlite: str) -> None:
    for base_url in _server(fresh_sqlite):
        assert httpx.get(f"{base_url}/v1/clusters").status_code == 200
        upload = httpx.post(
            f"{base_url}/v1/clusters/dev/snapshots", content=SHOP_YAML, headers=YAML
        )
        assert upload.status_code == 201
        secret = create_token(fresh_sqlite, "first", "read")
        assert_error(httpx.get(f"{base_url}/v1/clusters"), 401)
        authorised = httpx.get(
            f"{base_url}/v1/clusters", headers={"Authorization": f"Bearer {secret}"}
        )
        assert authorised.status_code == 200
        # Revoking the last token does not reopen the API, to the revoked token either.
        revoke_token(fresh_sqlite, "first")
        assert_error(httpx.get(f"{base_url}/v1/clusters"), 401)


def test_a_revoked_token_is_refused_within_the_cache_time(fresh_sqlite: str) -> None:
    secret = create_token(fresh_sqlite, "soon-revoked", "read")
    for base_url in _server(fresh_sqlite, token_cache_seconds=0.5):
        headers = {"Authorization": f"Bearer {secret}"}
        assert httpx.get(f"{base_url}/v1/clusters", headers=headers).status_code == 200
        revoke_token(fresh_sqlite, "soon-revoked")
        time.sleep(0.6)
        assert_error(httpx.get(f"{base_url}/v1/clusters", headers=headers), 401)


def test_a_public_address_without_tokens_refuses_to_start(fresh_sqlite: str) -> None:
    # The app decides from settings.host, however it is started.
    with pytest.raises(RuntimeError, match="did not start"):
        next(_server(fresh_sqlite, host="0.0.0.0"))


def test_a_public_address_starts_once_a_token_exists(fresh_sqlite: str) -> None:
    secret = create_token(fresh_sqlite, "ops", "read")
    revoke_token(fresh_sqlite, "ops")  # even revoked: tokens were created, nothing is open
    for base_url in _server(fresh_sqlite, host="0.0.0.0"):
        assert_error(httpx.get(f"{base_url}/v1/clusters"), 401)
        assert httpx.get(f"{base_url}/healthz").status_code == 200
        del secret


def test_requests_from_another_machine_are_never_open(fresh_sqlite: str) -> None:
    # A server configured for loopback but reached through a (local) proxy on behalf of a
    # remote client: uvicorn's proxy headers make the client the remote address.
    for base_url in _server(fresh_sqlite):
        remote = {"X-Forwarded-For": "203.0.113.7"}
        error = assert_error(httpx.get(f"{base_url}/v1/clusters", headers=remote), 401)
        assert "loopback" in str(error["message"])
        assert httpx.get(f"{base_url}/v1/clusters").status_code == 200


@pytest.mark.parametrize(
    ("server", "client", "local"),
    [
        (("127.0.0.1", 8000), ("127.0.0.1", 5000), True),
        (("::1", 8000), ("::1", 5000), True),
        (("10.1.2.3", 8000), ("10.9.9.9", 5000), False),  # bound to 0.0.0.0, reached remotely
        (("127.0.0.1", 8000), ("192.0.2.1", 5000), False),  # a proxied remote client
        (("/run/netreach.sock", None), None, False),  # unix socket: closed, to be safe
        (None, None, False),
    ],
)
def test_which_requests_arrive_locally(
    server: tuple[str, int | None] | None, client: tuple[str, int] | None, local: bool
) -> None:
    assert arrived_locally({"server": server, "client": client}) is local


def test_insecure_is_open_only_while_no_token_exists(fresh_sqlite: str) -> None:
    for base_url in _server(fresh_sqlite, host="0.0.0.0", insecure=True):
        assert httpx.get(f"{base_url}/v1/clusters").status_code == 200
        create_token(fresh_sqlite, "first", "admin")
        assert_error(httpx.get(f"{base_url}/v1/clusters"), 401)
