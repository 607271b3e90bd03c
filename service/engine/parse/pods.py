"""Pods and pod specs (shared with workload templates)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from service.engine.model import ContainerPort, IPAddress, LivePod, Pod
from service.engine.parse.addresses import parse_ip
from service.engine.parse.fields import (
    Context,
    as_map,
    freeze,
    get_bool,
    get_list,
    get_map,
    get_str,
    item,
    join,
)
from service.engine.parse.metadata import Metadata, parse_owner
from service.engine.parse.ports import parse_container_port

TEMPLATE_HASH_LABEL = "pod-template-hash"
NOT_RUNNING_PHASES = frozenset({"Succeeded", "Failed"})
_CONTAINER_LISTS = ("containers", "initContainers")


def parse_pod_spec(
    ctx: Context, spec: dict[str, Any] | None, path: str
) -> tuple[tuple[ContainerPort, ...], bool]:
    """The container ports (of containers and of restartable init containers, i.e. sidecars)
    and hostNetwork of a pod spec."""
    if spec is None:
        return (), False
    host_network = spec.get("hostNetwork")
    if host_network is not None and type(host_network) is not bool:
        host_network = get_bool(ctx, spec, "hostNetwork", path)
    return _container_ports(ctx, spec, path), host_network is True


def _ports_key(spec: dict[str, Any]) -> tuple[Hashable, ...] | None:
    """A cache key for the ports of ``spec``'s containers; None when the spec holds anything
    but maps of strings and integers where ports are (parsed uncached, to report where)."""
    key: list[Hashable] = []
    containers = spec.get("containers")
    if containers and (type(containers) is not list or not _add_ports(key, containers)):
        return None
    init = spec.get("initContainers")
    if init:
        if type(init) is not list:
            return None
        key.append("initContainers")
        for container in init:
            if type(container) is not dict:
                return None
            key.append(("restartPolicy", freeze(container.get("restartPolicy"))))
        if not _add_ports(key, init):
            return None
    return tuple(key)


def _add_ports(key: list[Hashable], containers: list[Any]) -> bool:
    """Append each container's ports, then a separator; False if a value is unusual."""
    for container in containers:
        if type(container) is not dict:
            return False
        ports = container.get("ports")
        if ports:
            if type(ports) is not list:
                return False
            for port in ports:
                if type(port) is not dict:
                    return False
                for value in port.values():
                    kind = type(value)
                    if kind is not str and kind is not int:
                        return False
                key.append(tuple(port.items()))
        key.append(None)
    return True


def _container_ports(ctx: Context, spec: dict[str, Any], path: str) -> tuple[ContainerPort, ...]:
    key = _ports_key(spec)
    cache = ctx.session.container_ports
    if key is not None:
        found = cache.get(key)
        if found is not None:
            return found  # type: ignore[no-any-return]
    before = ctx.problem_count
    result = _parse_container_ports(ctx, spec, path)
    if key is not None and ctx.problem_count == before:
        cache[key] = result
    return result


def _parse_container_ports(
    ctx: Context, spec: dict[str, Any], path: str
) -> tuple[ContainerPort, ...]:
    out: list[ContainerPort] = []
    for field in _CONTAINER_LISTS:
        containers = get_list(ctx, spec, field, path)
        if not containers:
            continue
        list_path = join(path, field)
        for index, value in enumerate(containers):
            container_path = item(list_path, index)
            container = as_map(ctx, value, container_path)
            if container is None:
                continue
            if field == "initContainers":
                policy = get_str(ctx, container, "restartPolicy", container_path)
                if policy != "Always":
                    continue  # an ordinary init container: gone before the pod serves
            ports = get_list(ctx, container, "ports", container_path)
            if not ports:
                continue
            ports_path = join(container_path, "ports")
            for port_index, raw in enumerate(ports):
                port = parse_container_port(ctx, raw, item(ports_path, port_index))
                if port is not None:
                    out.append(port)
    return tuple(out)


def parse_pod(ctx: Context, body: dict[str, Any], meta: Metadata) -> LivePod | None:
    """A live Pod. None when it is not running (phase Succeeded or Failed)."""
    status = body.get("status")
    if type(status) is not dict:
        status = get_map(ctx, body, "status", "") or {}
    phase = status.get("phase")
    if phase is not None and type(phase) is not str:
        phase = get_str(ctx, status, "phase", "status")
    if phase in NOT_RUNNING_PHASES:
        return None
    spec = body.get("spec")
    if spec is not None and type(spec) is not dict:
        spec = get_map(ctx, body, "spec", "")
    ports, host_network = parse_pod_spec(ctx, spec, "spec")
    node = spec.get("nodeName") if spec else None
    if node is not None and type(node) is not str:
        node = get_str(ctx, spec, "nodeName", "spec")  # type: ignore[arg-type]
    ips = _pod_ips(ctx, status)
    owner = parse_owner(ctx, meta.raw)
    pod = Pod(
        meta.namespace or "",
        meta.name,
        meta.labels,
        ips,
        ports,
        host_network,
        node=ctx.session.intern(node) if node else None,
    )
    raw_labels = meta.raw.get("labels")  # the parsed Labels' .get is slower; same values
    template_hash = raw_labels.get(TEMPLATE_HASH_LABEL) if type(raw_labels) is dict else None
    return LivePod(pod, owner, phase, template_hash)


def _pod_ips(ctx: Context, status: dict[str, Any]) -> tuple[IPAddress, ...]:
    """``status.podIPs[].ip``, else ``status.podIP``; duplicates dropped, order kept."""
    raw_ips = status.get("podIPs")
    if type(raw_ips) is list and len(raw_ips) == 1:  # fast path: one IP
        entry = raw_ips[0]
        text = entry.get("ip") if type(entry) is dict else None
        if type(text) is str:
            try:
                return (parse_ip(text),)
            except ValueError:
                pass  # reported below
    ips: list[IPAddress] = []
    if raw_ips:
        if type(raw_ips) is not list:
            get_list(ctx, status, "podIPs", "status")
            raw_ips = ()
        for index, value in enumerate(raw_ips):
            text = value.get("ip") if type(value) is dict else None
            if type(text) is not str or not text:
                path = item("status.podIPs", index)
                entry = as_map(ctx, value, path)
                if entry is not None:
                    get_str(ctx, entry, "ip", path, required=True)
                continue
            address = _address(ctx, text, "status.podIPs", index)
            if address is not None and address not in ips:
                ips.append(address)
    if not ips:
        text = status.get("podIP")
        if text:
            if type(text) is str:
                address = _address(ctx, text, "status.podIP")
                if address is not None:
                    ips.append(address)
            else:
                get_str(ctx, status, "podIP", "status")
    return tuple(ips)


def _address(ctx: Context, text: str, path: str, index: int | None = None) -> IPAddress | None:
    try:
        return parse_ip(text)
    except ValueError:
        where = path if index is None else join(item(path, index), "ip")
        ctx.error(where, f'invalid IP address "{text}"')
        return None
