"""Progress on standard error: only on a terminal, off with --quiet, standard output unchanged.

The commands run in real processes with standard error on a pseudo-terminal;
``NETREACH_PROGRESS_AFTER=0`` shows the line from the start (the demo takes well under the
default second)."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from service.cli.progress import Progress

DEMO = Path(__file__).resolve().parents[2] / "service" / "demo"
ANALYZE = ["analyze", str(DEMO / "v1.yaml"), "--format", "json"]
ENV = {**os.environ, "NETREACH_PROGRESS_AFTER": "0"}


def _netreach(*args: str) -> list[str]:
    return [sys.executable, "-m", "service.cli", *args]


def _on_terminal(args: list[str], *, stdout_too: bool = False) -> tuple[int, bytes, bytes]:
    """Run with standard error (and with ``stdout_too`` standard output) on a pty:
    ``(exit code, what the terminal received, standard output if piped)``."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        _netreach(*args),
        stdout=slave if stdout_too else subprocess.PIPE,
        stderr=slave,
        env=ENV,
    )
    os.close(slave)
    piped: list[bytes] = []
    reader = None
    if process.stdout is not None:
        stream = process.stdout
        reader = threading.Thread(target=lambda: piped.append(stream.read()))
        reader.start()
    received = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        received += chunk
    os.close(master)
    if reader is not None:
        reader.join()
    return process.wait(timeout=120), received, b"".join(piped)


def _screen_line(received: bytes) -> str:
    """What the last line of the terminal shows after the carriage returns."""
    line = ""
    for segment in received.decode().split("\n")[-1].split("\r"):
        line = segment + line[len(segment) :]
    return line


@pytest.fixture(scope="module")
def plain_output() -> bytes:
    done = subprocess.run(_netreach(*ANALYZE), capture_output=True, env=ENV, timeout=120)
    assert done.returncode == 0
    return done.stdout


def test_a_terminal_sees_the_stages_and_then_a_clean_line(plain_output: bytes) -> None:
    code, terminal, stdout = _on_terminal(ANALYZE)
    assert code == 0
    assert b"\rnetreach: reading manifests... " in terminal
    assert _screen_line(terminal).strip() == ""  # erased before the process ended
    assert stdout == plain_output


def test_standard_error_that_is_no_terminal_gets_no_progress(plain_output: bytes) -> None:
    done = subprocess.run(_netreach(*ANALYZE), capture_output=True, env=ENV, timeout=120)
    assert b"netreach:" not in done.stderr
    assert b"\r" not in done.stderr
    assert done.stdout == plain_output


@pytest.mark.parametrize(
    "args",
    [["--quiet", *ANALYZE], [*ANALYZE, "--quiet"], ["-q", *ANALYZE], [*ANALYZE, "-q"]],
    ids=["global", "per-command", "global-short", "per-command-short"],
)
def test_quiet_turns_it_off(args: list[str], plain_output: bytes) -> None:
    code, terminal, stdout = _on_terminal(args)
    assert code == 0
    assert terminal == b""
    assert stdout == plain_output


def test_output_on_the_same_terminal_starts_after_the_line_is_erased() -> None:
    code, terminal, _ = _on_terminal(ANALYZE, stdout_too=True)
    assert code == 0
    output_starts = terminal.index(b'{"connections"')
    assert b"netreach: reading" in terminal[:output_starts]
    assert b"netreach:" not in terminal[output_starts:]


def test_warnings_do_not_land_inside_the_line(tmp_path: Path) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    code, terminal, _ = _on_terminal(["analyze", str(manifest)])
    assert code == 0
    for line in terminal.decode().replace("\r\n", "\n").split("\n"):
        if "warning:" in line:
            assert _screen_line(line.encode()).startswith("warning:"), repr(line)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_work_shorter_than_the_delay_shows_nothing() -> None:
    stream = _Terminal()
    progress = Progress(stream, after=60)
    progress.stage("reading manifests")
    progress.close()
    assert stream.getvalue() == ""


def test_the_line_is_rewritten_in_place_and_erased() -> None:
    stream = _Terminal()
    progress = Progress(stream, after=0, tick=0.01)
    progress.stage("compiling")
    drawn = threading.Event()
    for _ in range(500):
        if stream.getvalue():
            drawn.set()
            break
        drawn.wait(0.01)
    progress.close()
    text = stream.getvalue()
    assert text.startswith("\rnetreach: compiling... ")
    assert text.endswith("\r")
    assert _screen_line(text.encode()).strip() == ""


def test_help_does_not_load_rich() -> None:
    probe = (
        "import sys; from service.cli import app\ntry: app(['--help'])\nexcept SystemExit: pass\n"
    )
    probe += "print('rich' in sys.modules, file=sys.stderr)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stderr.strip().splitlines()[-1] == "False"
