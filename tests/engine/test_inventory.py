"""Inventory: pods roll up to their top owner; idle workloads get template pods; implicit
namespaces."""

from __future__ import annotations

from typing import Any

from service.engine.inventory import build_cluster
from service.engine.model import (
    Cluster,
    ContainerPort,
    Document,
    Labels,
    ObjectRef,
    Origin,
    Pod,
)
from service.engine.parse import parse_documents

Body = dict[str, Any]
API = {
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "ReplicaSet": "apps/v1",
    "ReplicationController": "v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
}
TEMPLATE: Body = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80, "name": "http"}]}]},
}


def build(*bodies: Body) -> Cluster:
    documents = [Document(Origin(None, i), body) for i, body in enumerate(bodies)]
    return build_cluster(parse_documents(documents))


def owner(kind: str, name: str) -> list[Body]:
    return [{"apiVersion": API.get(kind, "v1"), "kind": kind, "name": name, "controller": True}]


def workload(kind: str, name: str, owned_by: tuple[str, str] | None = None, **spec: Any) -> Body:
    metadata: Body = {"name": name, "namespace": "ns"}
    if owned_by:
        metadata["ownerReferences"] = owner(*owned_by)
    if kind == "CronJob":
        spec = {"jobTemplate": {"spec": {"template": TEMPLATE}}, **spec}
    else:
        spec = {"template": TEMPLATE, **spec}
    return {"apiVersion": API.get(kind, "v1"), "kind": kind, "metadata": metadata, "spec": spec}


def pod(
    name: str, owned_by: tuple[str, str] | None = None, template_hash: str | None = None
) -> Body:
    metadata: Body = {"name": name, "namespace": "ns", "labels": {"app": "web"}}
    if template_hash:
        metadata["labels"]["pod-template-hash"] = template_hash
    if owned_by:
        metadata["ownerReferences"] = owner(*owned_by)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"containers": [{"name": "c"}]},
        "status": {"phase": "Running", "podIP": "10.0.0.1"},
    }


def namespace(name: str) -> Body:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def workload_of(cluster: Cluster, name: str) -> ObjectRef | None:
    (found,) = [p for p in cluster.pods if p.name == name]
    return found.workload


def ref(kind: str, name: str) -> ObjectRef:
    return ObjectRef(kind, "ns", name)


# -- roll-up --------------------------------------------------------------------------------
def test_replicaset_present_rolls_up_to_its_deployment() -> None:
    cluster = build(
        namespace("ns"),
        workload("Deployment", "web"),
        workload("ReplicaSet", "web-5d8f9", ("Deployment", "web")),
        workload("ReplicaSet", "web-old11", ("Deployment", "web"), replicas=0),
        pod("web-5d8f9-a", ("ReplicaSet", "web-5d8f9"), "5d8f9"),
        pod("web-5d8f9-b", ("ReplicaSet", "web-5d8f9"), "5d8f9"),
    )
    assert workload_of(cluster, "web-5d8f9-a") == ref("Deployment", "web")
    assert workload_of(cluster, "web-5d8f9-b") == ref("Deployment", "web")
    assert [w.ref for w in cluster.workloads] == [ref("Deployment", "web")]
    assert not any(p.template for p in cluster.pods)  # old ReplicaSets are not top-level
    assert cluster.warnings == ()


def test_replicaset_present_with_its_deployment_absent() -> None:
    cluster = build(
        workload("ReplicaSet", "web-5d8f9", ("Deployment", "web")),
        pod("web-5d8f9-a", ("ReplicaSet", "web-5d8f9"), "5d8f9"),
    )
    assert workload_of(cluster, "web-5d8f9-a") == ref("Deployment", "web")
    assert cluster.workloads == ()
    assert [p.name for p in cluster.pods] == ["web-5d8f9-a"]


def test_replicaset_absent_uses_the_pod_template_hash() -> None:
    cluster = build(
        pod("api-7c6d5-x", ("ReplicaSet", "api-7c6d5"), "7c6d5"),
        workload("Deployment", "web"),
        pod("web-5d8f9-a", ("ReplicaSet", "web-5d8f9"), "5d8f9"),
    )
    # Deployment absent: named by the rest of the ReplicaSet's name.
    assert workload_of(cluster, "api-7c6d5-x") == ref("Deployment", "api")
    # Deployment present: the pod counts as its, so it gets no template pod.
    assert workload_of(cluster, "web-5d8f9-a") == ref("Deployment", "web")
    assert not any(p.template for p in cluster.pods)


def test_replicaset_absent_without_matching_hash_is_the_owner() -> None:
    cluster = build(
        pod("a", ("ReplicaSet", "standalone"), "5d8f9"),
        pod("b", ("ReplicaSet", "web-5d8f9")),  # no pod-template-hash label
        pod("c", ("ReplicaSet", "5d8f9"), "5d8f9"),  # nothing left for the Deployment name
    )
    assert workload_of(cluster, "a") == ref("ReplicaSet", "standalone")
    assert workload_of(cluster, "b") == ref("ReplicaSet", "web-5d8f9")
    assert workload_of(cluster, "c") == ref("ReplicaSet", "5d8f9")


def test_job_rolls_up_to_its_cronjob() -> None:
    cluster = build(
        workload("CronJob", "nightly"),
        workload("Job", "nightly-28000", ("CronJob", "nightly")),
        pod("nightly-28000-abc", ("Job", "nightly-28000")),
    )
    assert workload_of(cluster, "nightly-28000-abc") == ref("CronJob", "nightly")
    assert [w.ref for w in cluster.workloads] == [ref("CronJob", "nightly")]
    assert not any(p.template for p in cluster.pods)


def test_statefulset_daemonset_and_absent_owners() -> None:
    cluster = build(
        workload("StatefulSet", "db"),
        workload("DaemonSet", "agent"),
        pod("db-0", ("StatefulSet", "db")),
        pod("agent-x", ("DaemonSet", "agent")),
        pod("gone-0", ("StatefulSet", "gone")),
        pod("mirror", ("Node", "node-1")),
        pod("bare"),
    )
    assert workload_of(cluster, "db-0") == ref("StatefulSet", "db")
    assert workload_of(cluster, "agent-x") == ref("DaemonSet", "agent")
    assert workload_of(cluster, "gone-0") == ref("StatefulSet", "gone")
    assert workload_of(cluster, "mirror") == ref("Node", "node-1")
    assert workload_of(cluster, "bare") is None
    assert not any(p.template for p in cluster.pods)


def test_ownership_cycles_terminate() -> None:
    cluster = build(
        workload("ReplicaSet", "a", ("ReplicaSet", "b")),
        workload("ReplicaSet", "b", ("ReplicaSet", "a")),
        pod("p", ("ReplicaSet", "a")),
    )
    assert workload_of(cluster, "p") in {ref("ReplicaSet", "a"), ref("ReplicaSet", "b")}


# -- template pods --------------------------------------------------------------------------
def test_workloads_without_pods_get_one_template_pod() -> None:
    cluster = build(
        workload("Deployment", "web"),
        workload("CronJob", "nightly"),
        workload("StatefulSet", "db"),
        pod("db-0", ("StatefulSet", "db")),
    )
    templates = [p for p in cluster.pods if p.template]
    assert templates == [
        Pod(
            "ns",
            "web-template",
            Labels({"app": "web"}),
            (),
            (ContainerPort("http", 80),),
            False,
            ref("Deployment", "web"),
            template=True,
        ),
        Pod(
            "ns",
            "nightly-template",
            Labels({"app": "web"}),
            (),
            (ContainerPort("http", 80),),
            False,
            ref("CronJob", "nightly"),
            template=True,
        ),
    ]
    assert [w.ref for w in cluster.workloads] == [
        ref("Deployment", "web"),
        ref("CronJob", "nightly"),
        ref("StatefulSet", "db"),
    ]


def test_template_pod_names_are_unique() -> None:
    host = {"hostNetwork": True, "containers": [{"name": "c"}]}
    daemon = workload("DaemonSet", "web")
    daemon["spec"]["template"] = {"metadata": {"labels": {"app": "agent"}}, "spec": host}
    cluster = build(
        pod("web-template"),  # a live bare pod already holds the obvious name
        workload("Deployment", "web"),
        daemon,
        workload("StatefulSet", "web"),
    )
    names = [(p.name, p.workload) for p in cluster.pods if p.template]
    assert names == [
        ("web-deployment-template", ref("Deployment", "web")),
        ("web-daemonset-template", ref("DaemonSet", "web")),
        ("web-statefulset-template", ref("StatefulSet", "web")),
    ]
    daemon_pod = next(p for p in cluster.pods if p.workload == ref("DaemonSet", "web"))
    assert daemon_pod.host_network
    assert daemon_pod.labels == Labels({"app": "agent"})
    assert daemon_pod.ips == ()


# -- namespaces -----------------------------------------------------------------------------
def test_undeclared_namespaces_exist_implicitly_with_a_warning() -> None:
    other = pod("x")
    other["metadata"]["namespace"] = "zeta"
    bare = pod("y")
    del bare["metadata"]["namespace"]
    cluster = build(namespace("ns"), pod("a"), other, bare, workload("Deployment", "web"))
    by_name = {n.name: n for n in cluster.namespaces}
    assert [n.name for n in cluster.namespaces] == ["ns", "default", "zeta"]
    assert by_name["ns"].declared
    assert not by_name["zeta"].declared
    assert not by_name["default"].declared
    assert by_name["zeta"].labels == Labels({"kubernetes.io/metadata.name": "zeta"})
    assert cluster.warnings == (
        "2 namespaces not declared in the input, assumed to exist: default, zeta",
    )


def test_parse_warnings_are_kept() -> None:
    done = pod("done")
    done["status"]["phase"] = "Succeeded"
    cluster = build(namespace("ns"), done, {"apiVersion": "v1", "kind": "Secret", "metadata": {}})
    assert cluster.warnings == (
        "skipped 1 object of unsupported kind: Secret (1)",
        "skipped 1 pod that is not running (phase Succeeded or Failed): ns/done",
    )
    assert cluster.pods == ()
