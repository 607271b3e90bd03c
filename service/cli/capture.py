"""``netreach capture``: read a live cluster into a List, written to a file or pushed to a
server; with ``--every``, keep pushing.

The Kubernetes client library and httpx are imported inside the command: ``--help`` and the
other commands never load them.
"""

import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from service.cli.app import EXIT_FAILED, EXIT_INVALID, command_set, fail

if TYPE_CHECKING:
    from service.capture import Capture

LOG = logging.getLogger("netreach.capture")
commands = command_set()


class PushError(Exception):
    """The server refused or could not be reached; ``invalid`` when resending the same body
    cannot help (413, 415, 422)."""

    def __init__(self, message: str, *, invalid: bool = False) -> None:
        super().__init__(message)
        self.invalid = invalid


@dataclass(frozen=True)
class Upload:
    """Where and how to push (mirrors ``netreach push``)."""

    server: str
    cluster: str
    token: str | None
    source: str | None
    labels: tuple[str, ...]
    gzip: bool
    timeout: float


@commands.command()
def capture(
    kubeconfig: Annotated[
        str | None,
        typer.Option(
            help="Kubeconfig file [KUBECONFIG, else ~/.kube/config; in a pod, the service account]."
        ),
    ] = None,
    context: Annotated[str | None, typer.Option(help="Kubeconfig context [current].")] = None,
    namespace: Annotated[
        list[str] | None,
        typer.Option(
            help="Only this namespace's objects (repeatable); cluster-scoped kinds are read whole."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Write the List here (- for stdout; .yaml/.yml: YAML, else JSON)."),
    ] = None,
    server: Annotated[
        str | None,
        typer.Option(envvar="NETREACH_SERVER", help="Push to this netreach server instead."),
    ] = None,
    cluster: Annotated[str | None, typer.Option(help="Cluster name on the server.")] = None,
    token: Annotated[
        str | None, typer.Option(envvar="NETREACH_TOKEN", help="Bearer token (write scope).")
    ] = None,
    source: Annotated[str | None, typer.Option(help="Where the snapshot came from.")] = None,
    label: Annotated[
        list[str] | None, typer.Option(help="key=value label of the snapshot (repeatable).")
    ] = None,
    every: Annotated[
        str | None,
        typer.Option(
            help="Keep capturing and pushing at this interval (30s, 5m, 1h) until "
            "SIGTERM; an unchanged cluster creates no version."
        ),
    ] = None,
    page_size: Annotated[
        int, typer.Option(min=1, help="Objects per list request (limit/continue).")
    ] = 500,
    timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds to wait for each API server request.")
    ] = 30.0,
    push_timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds to wait for the netreach server.")
    ] = 300.0,
    gzip: Annotated[
        bool, typer.Option(help="Send the upload gzip-compressed (about a tenth the bytes).")
    ] = True,
) -> None:
    """Read every kind netreach analyses from a live cluster (Kubernetes API, kubeconfig or
    in-cluster), into --out FILE and/or pushed to --server as --cluster's next version."""
    if out is None and server is None:
        fail("give --out FILE, or --server URL --cluster NAME (or both)")
    if server is not None and not cluster:
        fail("--server needs --cluster NAME")
    interval = None
    if every is not None:
        from service.capture.periodic import parse_duration

        if server is None or out is not None:
            fail("--every pushes to a server: give --server URL --cluster NAME, not --out")
        try:
            interval = parse_duration(every)
        except ValueError as error:
            fail(str(error))
    upload = None
    if server is not None and cluster:
        upload = Upload(server, cluster, token, source, tuple(label or ()), gzip, push_timeout)

    def read() -> "Capture":
        from service.capture import KubeApi, capture, load_configuration

        configuration, target = load_configuration(kubeconfig, context)
        with KubeApi(configuration, target, timeout=timeout) as api:
            return capture(api, namespaces=namespace or (), page_size=page_size)

    if interval is not None and upload is not None:
        _run_every(interval, read, upload)
        return
    from service.capture import CaptureError

    try:
        captured = read()
    except CaptureError as error:
        fail(str(error), EXIT_FAILED)
    for note in captured.notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(captured.summary(), err=True)
    if out is not None:
        _write(captured, out)
    if upload is not None:
        try:
            typer.echo(_push(captured, upload))
        except PushError as error:
            fail(str(error), EXIT_INVALID if error.invalid else EXIT_FAILED)


def _write(captured: "Capture", out: Path) -> None:
    if out.suffix in (".yaml", ".yml"):
        import yaml

        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
        data = yaml.dump(captured.as_list(), Dumper=dumper, sort_keys=True).encode("utf-8")
    else:
        data = captured.to_json()
    if str(out) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        out.write_bytes(data)
    except OSError as error:
        fail(f"cannot write {out}: {error}", EXIT_FAILED)


def _push(captured: "Capture", upload: Upload) -> str:
    """POST the List as the cluster's next version, as ``netreach push`` does; returns the
    line ``push`` prints. Raises :class:`PushError`."""
    from service.client import NetreachClient, NetreachError, UnreachableError

    try:
        with NetreachClient(upload.server, token=upload.token, timeout=upload.timeout) as api:
            stored, created = api.upload(
                upload.cluster,
                captured.to_json(),
                content_type="application/json",
                source=upload.source,
                labels=upload.labels,
                gzip=upload.gzip,
            )
    except UnreachableError as error:
        raise PushError(error.message) from error
    except NetreachError as error:
        shown = "".join(f"\n  {json.dumps(detail)}" for detail in error.details[:20])
        raise PushError(
            f"server refused the snapshot ({error.status}): {error.message}{shown}",
            invalid=error.status in (413, 415, 422),
        ) from error
    outcome = "created" if created else "unchanged: identical content"
    return f"{stored.cluster} version {stored.version} ({outcome})"


def _run_every(interval: float, read: "Callable[[], Capture]", upload: Upload) -> None:
    from service.capture import CaptureError
    from service.capture.periodic import StopSignals, run_every

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    LOG.addHandler(handler)
    LOG.setLevel(logging.INFO)
    LOG.propagate = False
    last_notes: list[str] = []

    def cycle() -> str:
        captured = read()
        if captured.notes != last_notes:
            for note in captured.notes:
                LOG.info("note: %s", note)
            last_notes[:] = captured.notes
        return f"{captured.summary()}; pushed: {_push(captured, upload)}"

    LOG.info("capturing every %gs into %s as %s", interval, upload.server, upload.cluster)
    with StopSignals() as signals:
        run_every(interval, cycle, signals=signals, log=LOG, expected=(CaptureError, PushError))
