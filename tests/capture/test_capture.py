"""``netreach capture`` through the real Kubernetes client library and real kubeconfig files,
against the fake API server (``fake_apiserver.py``): pagination, expired continue tokens,
kinds not served, 403, 401, unreachable servers, in-cluster configuration, and a List that
analyses exactly as the manifests the server was loaded with."""

from __future__ import annotations

import dataclasses
import json
import math
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from service.capture import KubeApi, capture, load_configuration
from service.capture.kube import MAX_RESTARTS
from service.cli import app as cli
from service.usecases.manifests import load_paths
from tests.capture.conftest import (
    TOKEN,
    certificate_user,
    write_kubeconfig,
)
from tests.capture.fake_apiserver import ADMIN, BUILTIN, FakeApiServer, FakeCluster


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def captured_list(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def kinds_of(listed: dict[str, Any]) -> set[str]:
    return {item["kind"] for item in listed["items"]}


def analyze(path: Path, granularity: str) -> Any:
    result = run("analyze", str(path), "--granularity", granularity, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --- a faithful List ----------------------------------------------------------------------


@pytest.fixture
def originals(tmp_path: Path, manifests: list[dict[str, Any]]) -> Path:
    """The manifests the fake server was loaded with, as one file."""
    path = tmp_path / "originals.json"
    items: list[dict[str, Any]] = []
    for document in manifests:
        items.extend(document["items"] if document.get("kind") == "List" else [document])
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    return path


def test_captured_list_analyses_to_the_same_connectivity(
    apiserver: FakeApiServer, kubeconfig: Path, originals: Path, tmp_path: Path
) -> None:
    out = tmp_path / "captured.json"
    result = run("capture", "--kubeconfig", str(kubeconfig), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "captured" in result.stderr
    listed = captured_list(out)
    assert listed["kind"] == "List"
    assert {"Namespace", "Node", "Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet",
            "ReplicationController", "Job", "CronJob", "Service", "NetworkPolicy",
            "AdminNetworkPolicy", "BaselineAdminNetworkPolicy",
            "ClusterNetworkPolicy"} == kinds_of(listed)  # fmt: skip
    for granularity in ("pod", "workload", "namespace"):
        expected = analyze(originals, granularity)
        assert expected["connections"], "the fixture cluster has connections"
        assert analyze(out, granularity) == expected, granularity


def test_captured_list_parses_to_the_same_objects(
    apiserver: FakeApiServer, kubeconfig: Path, originals: Path, tmp_path: Path
) -> None:
    """Every model object the parser builds from the originals, it builds from the capture
    (so nothing the parser reads was dropped)."""
    out = tmp_path / "captured.json"
    assert run("capture", "--kubeconfig", str(kubeconfig), "--out", str(out)).exit_code == 0
    before = load_paths([originals], whole_bodies=True).parsed
    after = load_paths([out], whole_bodies=True).parsed
    for field in ("namespaces", "workloads", "services", "policies", "admin_policies", "nodes"):
        assert set(getattr(after, field)) == set(getattr(before, field)), field
    # the server schedules the pods the originals left unscheduled (spec.nodeName)
    scheduled = {p.pod.ref: p.pod.node for p in before.pods}
    assert set(before.pods) == {
        dataclasses.replace(p, pod=dataclasses.replace(p.pod, node=scheduled.get(p.pod.ref)))
        for p in after.pods
    }
    assert any(p.pod.node is None for p in before.pods)
    assert any(p.pod.node is not None for p in before.pods)
    assert before.pods
    assert before.policies
    assert before.admin_policies


def test_bookkeeping_is_dropped_and_captures_are_byte_identical(
    apiserver: FakeApiServer, kubeconfig: Path, tmp_path: Path
) -> None:
    """The server shuffles its answers, moves resourceVersions and beats Node heartbeats on
    every list: two captures are still the same bytes, holding none of it."""
    first, second = tmp_path / "1.json", tmp_path / "2.json"
    for out in (first, second):
        assert run("capture", "--kubeconfig", str(kubeconfig), "--out", str(out)).exit_code == 0
    assert first.read_bytes() == second.read_bytes()
    text = first.read_text()
    for volatile in ('"managedFields"', '"resourceVersion"', '"creationTimestamp"',
                     '"lastHeartbeatTime"', '"conditions"', '"startTime"', '"tolerations"',
                     "last-applied-configuration", "hunter2", "hunter3"):  # fmt: skip
        assert volatile not in text, volatile
    items = captured_list(first)["items"]
    kept = {"name", "namespace", "labels", "annotations", "ownerReferences"}
    assert all(set(item["metadata"]) <= kept for item in items)  # no uid, no generateName
    pod = next(i for i in items if i["kind"] == "Pod" and i["metadata"]["name"] == "dual")
    assert pod["status"]["podIPs"] == [{"ip": "10.244.1.7"}, {"ip": "fd00::7"}]
    assert pod["spec"]["initContainers"][0] == {
        "name": "proxy", "restartPolicy": "Always",
        "ports": [{"name": "proxy", "containerPort": 15001}]}  # fmt: skip
    node = next(i for i in items if i["kind"] == "Node")
    assert node["status"] == {"addresses": [{"type": "InternalIP", "address": "10.0.9.1"},
                                            {"type": "Hostname", "address": "node-a"}]}  # fmt: skip
    deployment = next(i for i in items if i["kind"] == "Deployment")
    assert "status" not in deployment
    assert deployment["spec"]["replicas"] is not None  # the workload's own spec is kept
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert set(container) <= {"name", "ports", "restartPolicy"}  # the template is slimmed
    cron = next(i for i in items if i["kind"] == "CronJob")
    job_pod = cron["spec"]["jobTemplate"]["spec"]["template"]
    assert job_pod["metadata"]["labels"] == {"app": "nightly"}
    assert job_pod["spec"]["containers"] == [{"name": "job"}]
    replica_set = next(i for i in items if i["kind"] == "ReplicaSet")
    assert replica_set["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    keys = [(i["kind"], i["metadata"].get("namespace", ""), i["metadata"]["name"]) for i in items]
    order = list(dict.fromkeys(kind for kind, _, _ in keys))
    assert order[:3] == ["Namespace", "Node", "Pod"]
    assert keys == sorted(keys, key=lambda k: (order.index(k[0]), k[1], k[2]))


# --- pagination ---------------------------------------------------------------------------


def test_lists_are_paginated_with_continue_tokens(
    apiserver: FakeApiServer, kubeconfig: Path, tmp_path: Path
) -> None:
    pods = len(apiserver.cluster.objects["pods"])
    out = tmp_path / "captured.json"
    result = run("capture", "--kubeconfig", str(kubeconfig), "--out", str(out),
                 "--page-size", "40")  # fmt: skip
    assert result.exit_code == 0, result.output
    pod_requests = [(q, u) for p, q, u in apiserver.requests if p == "/api/v1/pods"]
    assert len(pod_requests) == math.ceil(pods / 40) > 3
    assert all(q["limit"] == "40" for q, _ in pod_requests)
    assert "continue" not in pod_requests[0][0]
    assert all("continue" in q for q, _ in pod_requests[1:])
    assert {u for _, u in pod_requests} == {"capture-tester"}  # the client certificate
    names = [(i["metadata"]["namespace"], i["metadata"]["name"])
             for i in captured_list(out)["items"] if i["kind"] == "Pod"]  # fmt: skip
    assert len(names) == len(set(names)) == pods


def test_an_expired_continue_token_restarts_the_list(
    apiserver: FakeApiServer, kubeconfig: Path, tmp_path: Path
) -> None:
    """A 410 on a continue token: the list starts again and reflects the state at the
    restart: one consistent list, nothing twice, nothing stale."""
    cluster = apiserver.cluster
    first_pod = sorted(cluster.objects["pods"])[0]

    def churn() -> None:
        cluster.delete("Pod", *first_pod)
        cluster.put({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": "late", "namespace": "edge", "labels": {"app": "x"}},
                     "spec": {"containers": [{"name": "c", "image": "c"}]},
                     "status": {"phase": "Running", "podIP": "10.244.1.99"}})  # fmt: skip

    apiserver.behaviour.expire_continue["pods"] = 1
    apiserver.behaviour.on_expire.append(churn)
    out = tmp_path / "captured.json"
    result = run("capture", "--kubeconfig", str(kubeconfig), "--out", str(out),
                 "--page-size", "25")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "continue token of the pods list expired; the list was restarted" in result.stderr
    pod_queries = [q for p, q, _ in apiserver.requests if p == "/api/v1/pods"]
    fresh_starts = [i for i, q in enumerate(pod_queries) if "continue" not in q]
    assert len(fresh_starts) == 2  # the first list, and the restart after the 410
    pods = {(i["metadata"]["namespace"], i["metadata"]["name"])
            for i in captured_list(out)["items"] if i["kind"] == "Pod"}  # fmt: skip
    assert pods == set(cluster.objects["pods"])
    assert ("edge", "late") in pods
    assert first_pod not in pods


def test_a_continue_token_that_always_expires_fails_after_restarts(
    apiserver: FakeApiServer, kubeconfig: Path, tmp_path: Path
) -> None:
    apiserver.behaviour.expire_continue["pods"] = 1000
    out = tmp_path / "captured.json"
    result = run("capture", "--kubeconfig", str(kubeconfig), "--out", str(out),
                 "--page-size", "25")  # fmt: skip
    assert result.exit_code == 1
    assert f"restarted {MAX_RESTARTS} times" in result.stderr
    assert "larger --page-size" in result.stderr
    assert not out.exists()


# --- what the server serves, and what it refuses ------------------------------------------


def test_kinds_the_server_does_not_serve_are_notes(
    manifests: list[dict[str, Any]], tmp_path: Path
) -> None:
    cluster = FakeCluster(served=BUILTIN)
    cluster.load(manifests)
    with FakeApiServer(cluster).running() as server:
        config = write_kubeconfig(tmp_path / "kubeconfig", server, certificate_user(server))
        out = tmp_path / "captured.json"
        result = run("capture", "--kubeconfig", str(config), "--out", str(out))
    assert result.exit_code == 0, result.output
    for kind in ("AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy"):
        assert f"note: {kind} (" in result.stderr
    assert "CustomResourceDefinition is not installed" in result.stderr
    assert not kinds_of(captured_list(out)) & {"AdminNetworkPolicy", "ClusterNetworkPolicy"}
    assert not [p for p in server.paths() if "policy.networking" in p]  # /apis said so


def test_one_served_version_of_a_group_and_not_the_other(
    manifests: list[dict[str, Any]], tmp_path: Path
) -> None:
    cluster = FakeCluster(served=(*BUILTIN, *ADMIN))  # v1alpha1 only, no v1alpha2
    cluster.load(manifests)
    with FakeApiServer(cluster).running() as server:
        config = write_kubeconfig(tmp_path / "kubeconfig", server, certificate_user(server))
        out = tmp_path / "captured.json"
        result = run("capture", "--kubeconfig", str(config), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "note: ClusterNetworkPolicy (clusternetworkpolicies." in result.stderr
    assert "AdminNetworkPolicy (" not in result.stderr
    assert {"AdminNetworkPolicy", "BaselineAdminNetworkPolicy"} <= kinds_of(captured_list(out))


def test_a_forbidden_kind_fails_with_the_rbac_rule_it_needs(
    apiserver: FakeApiServer, kubeconfig: Path, tmp_path: Path
) -> None:
    apiserver.behaviour.forbidden |= {("networkpolicies", None), ("adminnetworkpolicies", None)}
    out = tmp_path / "captured.json"
    result = run("capture", "--kubeconfig", str(kubeconfig), "--out", str(out))
    assert result.exit_code == 1
    assert "forbidden: the API server refused 2 request(s)" in result.stderr
    assert (
        "list NetworkPolicy (networkpolicies.networking.k8s.io/v1) cluster-wide: "
        'networkpolicies.networking.k8s.io is forbidden: User "capture-tester" cannot list '
        'resource "networkpolicies"' in result.stderr
    )
    assert ('needs the rule {apiGroups: ["networking.k8s.io"], resources: ["networkpolicies"], '
            "verbs: [list]}") in result.stderr  # fmt: skip
    assert ('{apiGroups: ["policy.networking.k8s.io"], resources: ["adminnetworkpolicies"], '
            "verbs: [list]}") in result.stderr  # fmt: skip
    assert not out.exists(), "a partial capture is never written"
    # every other kind was still tried, so one run names every missing rule
    assert "/apis/policy.networking.k8s.io/v1alpha2/clusternetworkpolicies" in apiserver.paths()


def test_bad_credentials_are_a_401_that_says_so(apiserver: FakeApiServer, tmp_path: Path) -> None:
    config = write_kubeconfig(tmp_path / "kubeconfig", apiserver, {"token": "expired-token"})
    result = run("capture", "--kubeconfig", str(config), "--out", str(tmp_path / "x.json"))
    assert result.exit_code == 1
    assert "rejected the credentials of context 'test' of" in result.stderr
    assert "401 Unauthorized" in result.stderr
    assert "missing, invalid or expired" in result.stderr
    assert apiserver.paths() == ["/api"], "it stops at the first 401"


def test_a_bearer_token_from_the_kubeconfig(apiserver: FakeApiServer, tmp_path: Path) -> None:
    config = write_kubeconfig(tmp_path / "kubeconfig", apiserver, {"token": TOKEN})
    out = tmp_path / "x.json"
    result = run("capture", "--kubeconfig", str(config), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert {user for _, _, user in apiserver.requests} == {"capture-tester"}


def test_a_token_from_an_exec_credential_plugin(apiserver: FakeApiServer, tmp_path: Path) -> None:
    """The way cloud providers' kubeconfigs authenticate: a command prints an ExecCredential."""
    plugin = tmp_path / "credential-plugin"
    plugin.write_text(
        f"#!{sys.executable}\nimport json\n"
        'print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1", '
        f'"kind": "ExecCredential", "status": {{"token": "{TOKEN}"}}}}))\n'
    )
    plugin.chmod(plugin.stat().st_mode | stat.S_IEXEC)
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin),
                     "interactiveMode": "Never"}}  # fmt: skip
    config = write_kubeconfig(tmp_path / "kubeconfig", apiserver, user)
    out = tmp_path / "x.json"
    result = run("capture", "--kubeconfig", str(config), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert {user for _, _, user in apiserver.requests} == {"capture-tester"}


def test_an_unreachable_server(apiserver: FakeApiServer, tmp_path: Path) -> None:
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        config = write_kubeconfig(tmp_path / "kubeconfig", apiserver, {"token": TOKEN},
                                  server_url=f"https://127.0.0.1:{port}")  # fmt: skip
        result = run("capture", "--kubeconfig", str(config), "--out", str(tmp_path / "x.json"))
    assert result.exit_code == 1
    assert f"cannot reach the Kubernetes API server at https://127.0.0.1:{port}" in result.stderr
    assert "refused" in result.stderr.lower()


def test_a_server_certificate_the_kubeconfig_does_not_trust(
    apiserver: FakeApiServer, tmp_path: Path
) -> None:
    other = FakeApiServer(FakeCluster())  # another CA
    config = write_kubeconfig(tmp_path / "kubeconfig", other, {"token": TOKEN},
                              server_url=apiserver.url)  # fmt: skip
    result = run("capture", "--kubeconfig", str(config), "--out", str(tmp_path / "x.json"))
    assert result.exit_code == 1
    assert "cannot reach the Kubernetes API server" in result.stderr
    assert "certificate verify failed" in result.stderr


def test_kubeconfig_contexts_and_missing_files(apiserver: FakeApiServer, tmp_path: Path) -> None:
    config = write_kubeconfig(tmp_path / "kubeconfig", apiserver, {"token": TOKEN},
                              extra_contexts={"elsewhere": "https://127.0.0.1:1"})  # fmt: skip
    out = tmp_path / "x.json"
    elsewhere = run("capture", "--kubeconfig", str(config), "--context", "elsewhere",
                    "--out", str(out))  # fmt: skip
    assert elsewhere.exit_code == 1
    assert "https://127.0.0.1:1 (context 'elsewhere' of" in elsewhere.stderr
    unknown = run("capture", "--kubeconfig", str(config), "--context", "nope", "--out", str(out))
    assert unknown.exit_code == 1
    assert "nope" in unknown.stderr
    missing = run("capture", "--kubeconfig", str(tmp_path / "absent"), "--out", str(out))
    assert missing.exit_code == 1
    assert "absent does not exist" in missing.stderr


@pytest.mark.parametrize(
    "content", ["apiVersion: v1\nclusters: [\n", "just a string\n", "{}\n", "clusters: 5\n"]
)
def test_a_malformed_kubeconfig(tmp_path: Path, content: str) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(content)
    result = run("capture", "--kubeconfig", str(config), "--out", str(tmp_path / "x.json"))
    assert result.exit_code == 1
    assert result.stderr.startswith("netreach: cannot "), result.stderr
    assert str(config) in result.stderr
    assert "Traceback" not in result.output


def test_kubeconfig_from_the_environment_then_the_home_directory(
    apiserver: FakeApiServer, tmp_path: Path
) -> None:
    config = write_kubeconfig(tmp_path / "kubeconfig", apiserver, {"token": TOKEN})
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    listed = f"{tmp_path / 'gone'}:{config}"  # files that do not exist are skipped
    _, from_env = load_configuration(environ={"KUBECONFIG": listed, "HOME": str(home)})
    assert from_env.described == f"context 'test' of {config}"
    with pytest.raises(Exception, match="none of the kubeconfig files in KUBECONFIG exist"):
        load_configuration(environ={"KUBECONFIG": str(tmp_path / "gone")})
    (home / ".kube" / "config").write_text(config.read_text())
    _, from_home = load_configuration(environ={"HOME": str(home)})
    assert from_home.described == f"context 'test' of {home / '.kube' / 'config'}"
    with pytest.raises(Exception, match="no kubeconfig found"):
        load_configuration(environ={"HOME": str(tmp_path / "nobody")})


def test_in_cluster_configuration(apiserver: FakeApiServer, tmp_path: Path) -> None:
    """In a pod: the service account's token and CA, the API server from the environment
    the kubelet sets."""
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text(TOKEN)
    (account / "ca.crt").write_bytes(apiserver.ca.cert_pem.bytes())
    port = apiserver.url.rsplit(":", 1)[1]
    environ = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": port,
               "HOME": str(tmp_path / "nobody")}  # fmt: skip
    configuration, target = load_configuration(environ=environ, service_account_dir=account)
    assert target.described == "the pod's service account"
    with KubeApi(configuration, target) as api:
        captured = capture(api, page_size=100)
    assert len([i for i in captured.items if i["kind"] == "Pod"]) == len(
        apiserver.cluster.objects["pods"]
    )
    assert {user for _, _, user in apiserver.requests} == {"capture-tester"}
    with pytest.raises(Exception, match="--context x needs a kubeconfig"):
        load_configuration(context="x", environ=environ, service_account_dir=account)


# --- namespaces, output formats -----------------------------------------------------------


def test_only_some_namespaces(apiserver: FakeApiServer, kubeconfig: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.json"
    result = run("capture", "--kubeconfig", str(kubeconfig), "--namespace", "edge",
                 "--namespace", "ghost", "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "note: namespace ghost does not exist" in result.stderr
    items = captured_list(out)["items"]
    namespaced = {i["metadata"].get("namespace") for i in items if "namespace" in i["metadata"]}
    assert namespaced == {"edge"}
    assert [i["metadata"]["name"] for i in items if i["kind"] == "Namespace"] == ["edge"]
    assert {"Node", "AdminNetworkPolicy", "ClusterNetworkPolicy"} <= kinds_of({"items": items})
    assert "/api/v1/namespaces/edge/pods" in apiserver.paths()
    assert "/apis/apps/v1/namespaces/ghost/deployments" in apiserver.paths()
    assert "/api/v1/pods" not in apiserver.paths()


def test_a_namespaced_denial_names_the_namespace(
    apiserver: FakeApiServer, kubeconfig: Path, tmp_path: Path
) -> None:
    apiserver.behaviour.forbidden.add(("services", "edge"))
    result = run("capture", "--kubeconfig", str(kubeconfig), "--namespace", "edge",
                 "--out", str(tmp_path / "x.json"))  # fmt: skip
    assert result.exit_code == 1
    assert "list Service (services.v1) in namespace edge:" in result.stderr
    assert 'cannot list resource "services" in API group "" in the namespace "edge"' in (
        result.stderr
    )


def test_yaml_and_stdout(apiserver: FakeApiServer, kubeconfig: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.yaml"
    assert run("capture", "--kubeconfig", str(kubeconfig), "--out", str(out)).exit_code == 0
    as_yaml = yaml.load(out.read_text(), Loader=yaml.CSafeLoader)
    printed = run("capture", "--kubeconfig", str(kubeconfig), "--out", "-")
    assert printed.exit_code == 0
    assert json.loads(printed.stdout) == as_yaml
    assert as_yaml["kind"] == "List"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give --out FILE, or --server URL --cluster NAME"),
        (["--server", "http://127.0.0.1:1"], "--server needs --cluster NAME"),
        (["--out", "x.json", "--every", "5m"], "--every pushes to a server"),
        (["--server", "http://x", "--cluster", "c", "--every", "5"], "invalid duration '5'"),
        (["--server", "http://x", "--cluster", "c", "--every", "0s"], "longer than zero"),
    ],
)
def test_usage_errors(args: list[str], message: str) -> None:
    result = run("capture", *args)
    assert result.exit_code == 2
    assert message in result.stderr
