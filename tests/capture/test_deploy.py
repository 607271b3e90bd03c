"""netreach on its own deployment: ``deploy/`` lints clean beside a representative
PostgreSQL, kube-dns and API server (``neighbours/``), and the connectivity map proves who
may talk to netreach and to whom netreach may talk. Also: the manifests match the Dockerfile
and the CLI, and the example overlay's patches land where they mean to."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from service.capture.periodic import parse_duration
from service.capture.resources import RESOURCES
from service.cli import app as cli

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
BASE = DEPLOY / "base"
OVERLAY = DEPLOY / "overlays" / "example"
NEIGHBOURS = Path(__file__).resolve().parent / "neighbours"
API = {"kind": "Deployment", "namespace": "netreach", "name": "netreach"}
SNAPSHOTTER = {"kind": "Deployment", "namespace": "netreach", "name": "netreach-snapshotter"}
MIGRATE = {"kind": "Job", "namespace": "netreach", "name": "netreach-migrate"}
POSTGRES = {"kind": "StatefulSet", "namespace": "postgres", "name": "postgresql"}
COREDNS = {"kind": "Deployment", "namespace": "kube-system", "name": "coredns"}
APISERVER = {"kind": "Pod", "namespace": "kube-system", "name": "kube-apiserver-control-plane"}
REVIEW_BOT = {"kind": "Deployment", "namespace": "review", "name": "review-bot"}


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def documents(*directories: Path) -> list[dict[str, Any]]:
    found = []
    for directory in directories:
        for path in sorted(directory.rglob("*.yaml")):
            found += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return found


def workload_map(*paths: Path) -> list[dict[str, Any]]:
    result = run("analyze", *map(str, paths), "--granularity", "workload", "--format", "json")
    assert result.exit_code == 0, result.output
    return list(json.loads(result.stdout)["connections"])


def ports(connections: list[dict[str, Any]], source: dict[str, Any], target: dict[str, Any]) -> Any:
    found = [c["ports"] for c in connections if c["from"] == source and c["to"] == target]
    return found[0] if found else None


# --- lint and reachability ----------------------------------------------------------------


def test_deploy_lints_clean_beside_its_neighbours() -> None:
    result = run("lint", str(DEPLOY), str(NEIGHBOURS), "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["findings"] == []


def test_deploy_alone_lacks_only_its_peers() -> None:
    """Without PostgreSQL, kube-dns and a client namespace in the input, the only findings
    are the peers that match nothing (and, so, DNS)."""
    result = run("lint", str(DEPLOY), "--format", "json")
    findings = json.loads(result.stdout)["findings"]
    assert {f["code"] for f in findings} == {"NR001", "NR004"}
    peers = [f["message"] for f in findings if f["code"] == "NR004"]
    assert len(peers) == 3
    assert any("netreach.io/client=true" in m for m in peers)
    assert any("kubernetes.io/metadata.name=postgres" in m for m in peers)
    assert any("kubernetes.io/metadata.name=kube-system" in m for m in peers)


SNAP, SVC, PG, DNS = (
    "netreach/Deployment/netreach-snapshotter",
    "netreach/Service/netreach",
    "postgres/Service/postgresql",
    "kube-system/Service/kube-dns",
)
APIS, KAS, JOB = (
    "netreach/Deployment/netreach",
    "kube-system/kube-apiserver-control-plane",
    "netreach/Job/netreach-migrate",
)


@pytest.mark.parametrize(
    ("source", "target", "port", "protocol", "allowed"),
    [
        (SNAP, SVC, "8000", "TCP", True),
        ("review/Deployment/review-bot", SVC, "8000", "TCP", True),
        (APIS, PG, "5432", "TCP", True),
        (JOB, PG, "5432", "TCP", True),
        (APIS, DNS, "53", "UDP", True),
        (APIS, DNS, "53", "TCP", True),
        (JOB, DNS, "53", "UDP", True),
        (SNAP, DNS, "53", "UDP", True),
        (SNAP, KAS, "6443", "TCP", True),
        ("shop/Deployment/web", SVC, "8000", "TCP", False),
        ("kube-system/Deployment/coredns", SVC, "8000", "TCP", False),
        ("postgres/StatefulSet/postgresql", SVC, "8000", "TCP", False),
        ("203.0.113.9", SVC, "8000", "TCP", False),
        (APIS, "203.0.113.9", "443", "TCP", False),
        (APIS, KAS, "6443", "TCP", False),
        (APIS, "shop/Deployment/web", "8080", "TCP", False),
        (SNAP, PG, "5432", "TCP", False),
        (JOB, SVC, "8000", "TCP", False),
    ],
)
def test_point_queries(source: str, target: str, port: str, protocol: str, allowed: bool) -> None:
    result = run("query", str(DEPLOY), str(NEIGHBOURS), "--from", source, "--to", target,
                 "--port", port, "--protocol", protocol)  # fmt: skip
    assert result.exit_code == (0 if allowed else 1), result.output
    assert result.stdout.startswith("ALLOWED" if allowed else "DENIED"), result.stdout


def test_only_clients_and_the_snapshotter_reach_the_api_which_reaches_only_postgres_and_dns() -> (
    None
):
    """The whole map, not samples: every source of the API, every destination of each of
    netreach's workloads."""
    connections = workload_map(DEPLOY, NEIGHBOURS)
    http = [{"protocol": "TCP", "port": 8000}]
    dns = [{"protocol": "TCP", "port": 53}, {"protocol": "UDP", "port": 53}]
    sources = {json.dumps(c["from"], sort_keys=True): c["ports"]
               for c in connections if c["to"] == API}  # fmt: skip
    assert sources == {json.dumps(REVIEW_BOT, sort_keys=True): http,
                       json.dumps(SNAPSHOTTER, sort_keys=True): http}  # fmt: skip

    def destinations(source: dict[str, Any]) -> dict[str, Any]:
        return {json.dumps(c["to"], sort_keys=True): c["ports"]
                for c in connections if c["from"] == source}  # fmt: skip

    postgres = [{"protocol": "TCP", "port": 5432}]
    assert destinations(API) == {json.dumps(POSTGRES, sort_keys=True): postgres,
                                 json.dumps(COREDNS, sort_keys=True): dns}  # fmt: skip
    assert destinations(MIGRATE) == destinations(API)
    snapshotter = destinations(SNAPSHOTTER)
    assert snapshotter.pop(json.dumps(API, sort_keys=True)) == http
    assert snapshotter.pop(json.dumps(COREDNS, sort_keys=True)) == dns
    api_server = [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]
    assert snapshotter.pop(json.dumps(APISERVER, sort_keys=True)) == api_server
    assert {json.loads(k)["kind"] for k in snapshotter} == {"IPBlock"}  # outside the cluster
    assert all(v == api_server for v in snapshotter.values())


# --- the example overlay, rendered as kustomize would for what it uses --------------------


def render_overlay() -> list[dict[str, Any]]:
    """deploy/overlays/example applied to the base: its images and its JSON patches (the
    kustomize features it uses; each `replace` must find the path it names)."""
    kustomization = yaml.safe_load((OVERLAY / "kustomization.yaml").read_text())
    assert kustomization["resources"] == ["../../base"]
    objects = copy.deepcopy(documents(BASE))
    objects = [o for o in objects if o["kind"] != "Kustomization"]
    for patch in kustomization["patches"]:
        target = patch["target"]
        matched = [
            o
            for o in objects
            if (o["kind"], o["metadata"]["name"]) == (target["kind"], target["name"])
        ]
        assert len(matched) == 1, target
        for operation in yaml.safe_load(patch["patch"]):
            assert operation["op"] == "replace"
            *parents, last = [
                int(p) if p.isdigit() else p for p in operation["path"][1:].split("/")
            ]
            node: Any = matched[0]
            for step in parents:
                node = node[step]
            assert last in node if isinstance(node, dict) else last < len(node), operation
            node[last] = operation["value"]
    (image,) = kustomization["images"]
    for o in objects:
        spec = o.get("spec", {}).get("template", {}).get("spec", {})
        for container in spec.get("containers", []) + spec.get("initContainers", []):
            assert container["image"] == image["name"]
            container["image"] = f"{image['newName']}:{image['newTag']}"
    return objects


def test_the_example_overlay_narrows_the_snapshotter_to_the_api_server(tmp_path: Path) -> None:
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(yaml.safe_dump_all(render_overlay()))
    assert run("lint", str(rendered), str(NEIGHBOURS)).exit_code == 0
    connections = workload_map(rendered, NEIGHBOURS)
    targets = [c["to"] for c in connections if c["from"] == SNAPSHOTTER]
    assert APISERVER in targets
    outside = [t["cidr"] for t in targets if t["kind"] == "IPBlock"]
    assert outside == ["172.18.0.2/32"]  # the API server's address, and nothing else
    snapshotter = next(o for o in render_overlay() if o["metadata"]["name"] == SNAPSHOTTER["name"]
                       and o["kind"] == "Deployment")  # fmt: skip
    env = {
        e["name"]: e.get("value")
        for e in snapshotter["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["NETREACH_CLUSTER"] == "prod-eu-1"
    assert parse_duration(env["NETREACH_CAPTURE_EVERY"]) == 120
    secret = (OVERLAY / "secret.env.example").read_text()
    assert re.search(r"^database-url=postgresql\+psycopg://", secret, re.M)
    assert re.search(r"^token=$", secret, re.M)  # never a usable example token


# --- the manifests against the image and the CLI ------------------------------------------


def pod_specs() -> dict[str, dict[str, Any]]:
    return {
        f"{o['kind']}/{o['metadata']['name']}": o["spec"]["template"]["spec"]
        for o in documents(BASE)
        if o["kind"] in ("Deployment", "Job")
    }


def dockerfile_user() -> tuple[int, int]:
    text = (REPO / "Dockerfile").read_text()
    found = re.findall(r"^USER (\d+):(\d+)$", text, re.M)
    assert len(found) == 1, "the image runs as one numeric user (runAsNonRoot can check it)"
    return int(found[0][0]), int(found[0][1])


def test_every_pod_runs_restricted_as_the_images_user() -> None:
    uid, gid = dockerfile_user()
    specs = pod_specs()
    assert set(specs) == {"Deployment/netreach", "Deployment/netreach-snapshotter",
                          "Job/netreach-migrate"}  # fmt: skip
    for name, spec in specs.items():
        security = spec["securityContext"]
        assert security["runAsNonRoot"] is True, name
        assert (security["runAsUser"], security["runAsGroup"]) == (uid, gid), name
        assert security["seccompProfile"] == {"type": "RuntimeDefault"}, name
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert "emptyDir" in volumes["tmp"], name
        for container in spec["containers"] + spec.get("initContainers", []):
            where = f"{name} {container['name']}"
            assert container["securityContext"] == {
                "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]}}, where  # fmt: skip
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], where
            assert container["resources"]["requests"]["cpu"], where
            assert container["resources"]["limits"]["memory"], where
            assert container["command"][0] in ("netreach", "sh"), where


def test_the_api_container_probes_and_configuration() -> None:
    spec = pod_specs()["Deployment/netreach"]
    (api,) = spec["containers"]
    env = {e["name"]: e for e in api["env"]}
    assert api["command"] == ["netreach", "serve"]
    assert env["NETREACH_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "netreach", "key": "database-url"}  # fmt: skip
    assert env["NETREACH_MIGRATE_ON_START"]["value"] == "false"  # the Job migrates
    assert env["NETREACH_HOST"]["value"] == "0.0.0.0"
    (port,) = api["ports"]
    assert port == {"name": "http", "containerPort": int(env["NETREACH_PORT"]["value"]),
                    "protocol": "TCP"}  # fmt: skip
    assert api["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert api["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    (bootstrap,) = spec["initContainers"]
    script = bootstrap["command"][-1]
    assert "netreach db current" in script
    assert "netreach token create snapshotter --scope write" in script
    assert "--secret-env NETREACH_BOOTSTRAP_TOKEN --exist-ok" in script
    bootstrap_env = {e["name"]: e for e in bootstrap["env"]}
    assert bootstrap_env["NETREACH_BOOTSTRAP_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "netreach", "key": "token"}  # fmt: skip
    job = pod_specs()["Job/netreach-migrate"]["containers"][0]
    assert job["command"] == ["netreach", "db", "upgrade"]


def test_the_snapshotter_runs_a_valid_capture_with_its_token() -> None:
    (container,) = pod_specs()["Deployment/netreach-snapshotter"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    args = dict(a.split("=", 1) for a in container["command"][2:])
    assert container["command"][:2] == ["netreach", "capture"]
    assert parse_duration(env["NETREACH_CAPTURE_EVERY"]["value"]) == 300
    assert args["--every"] == "$(NETREACH_CAPTURE_EVERY)"
    assert args["--cluster"] == "$(NETREACH_CLUSTER)"
    service = next(o for o in documents(BASE) if o["kind"] == "Service")
    assert (
        args["--server"]
        == f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}"
    )
    assert env["NETREACH_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "netreach",
        "key": "token",
    }
    help_text = run("capture", "--help").stdout
    for option in args:
        assert option in help_text


def test_the_cluster_role_grants_get_and_list_on_exactly_the_captured_kinds() -> None:
    (role,) = [o for o in documents(BASE) if o["kind"] == "ClusterRole"]
    granted = set()
    for rule in role["rules"]:
        assert rule["verbs"] == ["get", "list"], rule
        granted |= {
            (group, resource) for group in rule["apiGroups"] for resource in rule["resources"]
        }
    assert granted == {(r.group, r.plural) for r in RESOURCES}
    (binding,) = [o for o in documents(BASE) if o["kind"] == "ClusterRoleBinding"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    subject = {"kind": "ServiceAccount", "name": "netreach-snapshotter", "namespace": "netreach"}
    assert binding["subjects"] == [subject]


def test_the_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    files = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
