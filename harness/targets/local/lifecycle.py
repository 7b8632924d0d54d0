"""``up``, ``status`` and ``down`` of a local cluster that outlives the command starting it.

``up`` spawns the daemon (:mod:`harness.targets.local.daemon`) detached and waits until
it serves; ``down`` asks it to stop, then makes sure: every pid the state directory
names is killed and checked gone before the directory is removed. A failed or
interrupted ``up`` goes through the same cleanup, so no server outlives a Ctrl-C.
One state directory holds at most one cluster: ``up`` on a running one reports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from harness.errors import HarnessError, UsageError
from harness.targets.base import ClusterView
from harness.targets.local import procs
from harness.targets.local.client import LocalCluster
from harness.targets.local.rpc import DaemonError
from harness.targets.local.server import find_server_binary
from harness.targets.local.state import ConnectionInfo
from harness.targets.local.statedir import (
    DEFAULT_STATE_DIR,
    EXIT_BAD_INPUT,
    LOG_STEP_PREFIX,
    DaemonRecord,
    StateDir,
)
from harness.targets.local.timing import timing_named

Progress = Callable[[str], None]

START_TIMEOUT_S = 120.0
#: ``down``: how long the daemon gets to stop its servers cleanly before SIGKILL.
STOP_TIMEOUT_S = 30.0
#: A failed or interrupted ``up``: the daemon's grace before SIGKILL (the user is waiting).
ABORT_GRACE_S = 10.0
_POLL_S = 0.02


class EndpointPorts(NamedTuple):
    """Where the writer and reader endpoints should listen (0: any free port).

    A port in use is replaced by a free one (the engine does it); ``up`` says which.
    """

    writer: int = 3307
    reader: int = 3308


DEFAULT_PORTS = EndpointPorts()


class StartFailed(HarnessError):
    """The cluster did not come up; everything it started has been stopped (exit 1)."""


@dataclass(frozen=True)
class ClusterInfo:
    """A running cluster as ``up`` and ``status`` report it."""

    state_dir: Path
    record: DaemonRecord
    connection: ConnectionInfo
    cluster: ClusterView


@dataclass(frozen=True)
class UpResult:
    info: ClusterInfo
    #: True when a cluster was already up in the state directory (nothing was started).
    already_running: bool
    #: One line per endpoint that could not get the port asked for.
    port_notes: tuple[str, ...]
    elapsed_s: float


@dataclass(frozen=True)
class DownResult:
    state_dir: Path
    was_up: bool
    daemon_pid: int | None = None
    #: Server processes the state directory listed when ``down`` began.
    servers: int = 0
    #: Pids that had to be SIGKILLed (the daemon did not stop them in time, or was dead).
    killed: tuple[int, ...] = ()


def up(
    state_dir: Path = DEFAULT_STATE_DIR, *, instances: int = 2, timing: str = "instant",
    ports: EndpointPorts = DEFAULT_PORTS, progress: Progress | None = None,
    timeout_s: float = START_TIMEOUT_S,
) -> UpResult:  # fmt: skip
    """Start a cluster in ``state_dir`` and return once it serves, or report the running one.

    Raises :class:`UsageError` for bad input, a missing server binary, or a state
    directory left behind by a dead cluster; :class:`StartFailed` (with the end of the
    daemon's log) when the cluster did not start. Either way nothing is left running.
    """
    began = time.monotonic()
    state = StateDir(state_dir)
    step = progress or (lambda _message: None)
    timing_named(timing)
    if instances < 1:
        raise UsageError(f"--instances must be at least 1, not {instances}")
    if ports.writer and ports.writer == ports.reader:
        raise UsageError(f"the writer and reader endpoints cannot share port {ports.writer}")
    existing = _running(state)
    if existing is not None:
        return UpResult(existing, True, (), time.monotonic() - began)
    find_server_binary()  # the install hint, before anything is spawned or written
    with _exclusive(state):
        existing = _running(state)  # again: another `up` may have finished meanwhile
        if existing is not None:
            return UpResult(existing, True, (), time.monotonic() - began)
        state.claim()
        info = _start(state, (instances, timing, ports), step, timeout_s)
    notes = _port_notes(ports, info.connection)
    return UpResult(info, False, notes, time.monotonic() - began)


def status(state_dir: Path = DEFAULT_STATE_DIR) -> ClusterInfo:
    """The running cluster, or a :class:`UsageError` saying that none is up."""
    state = StateDir(state_dir)
    return _fetch(state, LocalCluster(state.root).record())


def down(state_dir: Path = DEFAULT_STATE_DIR, *, timeout_s: float = STOP_TIMEOUT_S) -> DownResult:
    """Stop every process of the cluster in ``state_dir`` and remove the directory.

    Works on a healthy cluster (the daemon stops its servers cleanly), on one whose
    daemon died (its servers are killed by pid) and on a half-started one. A directory
    this tool did not create is never touched.
    """
    state = StateDir(state_dir)
    if not state.root.is_dir() or not state.is_ours():
        return DownResult(state.root, was_up=False)
    record = state.read_record()
    servers = [pid for pid in state.server_pids() if _ours(pid, state) and pid != _pid(record)]
    daemon = _pid(record) if record is not None and _ours(record.pid, state) else None
    with _no_interrupts():
        if daemon is not None:
            _ask_to_stop(state, daemon, record)
            procs.wait_gone([daemon], timeout_s)
        leftovers = _leftovers(state, [daemon] if daemon else [])
        survivors = procs.kill_all(leftovers)
        if survivors:
            raise DaemonError(
                f"could not stop pids {', '.join(map(str, survivors))}; {state} was kept"
            )
        state.remove(record)
    return DownResult(state.root, True, daemon, len(servers), tuple(leftovers))


# -- up ----------------------------------------------------------------------------------


def _running(state: StateDir) -> ClusterInfo | None:
    """The cluster a live daemon serves from ``state``; None if the directory is free."""
    record = state.read_record()
    if record is not None and _ours(record.pid, state):
        if record.phase == "ready":
            return _fetch(state, record)
        raise UsageError(
            f"a local cluster is {record.phase} in {state} (daemon pid {record.pid}): "
            f"wait for it, or run `{_command('down', state)}`"
        )
    if state.is_ours():
        gone = f" (its daemon, pid {record.pid}, is gone)" if record is not None else ""
        raise UsageError(
            f"a local cluster in {state} was left behind{gone}: "
            f"run `{_command('down', state)}` to clean it up, then `up` again"
        )
    if not state.is_empty():
        raise UsageError(
            f"{state} is not empty and was not made by `harness local up`; "
            "choose another --state-dir"
        )
    return None


def _start(
    state: StateDir, args: tuple[int, str, EndpointPorts], step: Progress, timeout_s: float
) -> ClusterInfo:
    """Spawn the daemon and wait for it; on any failure or interrupt, stop all it started."""
    pid: int | None = None
    try:
        step("starting the cluster daemon")
        pid = procs.spawn_detached(_daemon_argv(state, *args), state.log)
        return _fetch(state, _wait_ready(state, pid, step, timeout_s))
    except BaseException as exc:
        tail = state.log_tail()
        with _no_interrupts():
            survivors = _abort(state, pid)
        if survivors:
            raise DaemonError(
                f"{exc}; could not stop pids {', '.join(map(str, survivors))}, {state} was kept"
            ) from exc
        if isinstance(exc, StartFailed):
            raise StartFailed(f"{exc}; everything it started was stopped.{_indent(tail)}") from None
        raise


@contextlib.contextmanager
def _exclusive(state: StateDir) -> Iterator[None]:
    """One ``up`` at a time per state directory (a lock on the directory itself)."""
    state.root.mkdir(parents=True, exist_ok=True)
    fd = os.open(state.root, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(
                f"another `harness local up` is starting a cluster in {state}"
            ) from None
        yield
    finally:
        os.close(fd)


def _port_notes(asked: EndpointPorts, connection: ConnectionInfo) -> tuple[str, ...]:
    notes = []
    for name, port, endpoint in (
        ("writer", asked.writer, connection.writer_endpoint),
        ("reader", asked.reader, connection.reader_endpoint),
    ):
        if port and endpoint.rpartition(":")[2] != str(port):
            notes.append(f"port {port} was in use: the {name} endpoint is {endpoint} instead")
    return tuple(notes)


def _daemon_argv(state: StateDir, instances: int, timing: str, ports: EndpointPorts) -> list[str]:
    return [
        sys.executable, "-m", "harness.targets.local.daemon", "--state-dir", str(state.root),
        "--instances", str(instances), "--timing", timing,
        "--writer-port", str(ports.writer), "--reader-port", str(ports.reader),
    ]  # fmt: skip


def _wait_ready(state: StateDir, pid: int, step: Progress, timeout_s: float) -> DaemonRecord:
    """Poll until the daemon says ``ready``, passing its progress lines on."""
    deadline = time.monotonic() + timeout_s
    offset = 0
    while True:
        offset = _forward_steps(state.log, offset, step)
        code = procs.exit_code(pid)
        if code == EXIT_BAD_INPUT:
            raise UsageError(state.failure() or "the local cluster refused its arguments")
        if code is not None:
            _forward_steps(state.log, offset, step)
            raise StartFailed(f"the local cluster did not start (its daemon exited with {code})")
        record = state.read_record()
        if record is not None and record.pid == pid and record.phase == "ready":
            return record
        if time.monotonic() > deadline:
            raise StartFailed(f"the local cluster did not start within {timeout_s:g} s")
        time.sleep(_POLL_S)


def _forward_steps(log: Path, offset: int, step: Progress) -> int:
    """Pass on the step lines the daemon logged since ``offset``; returns the new offset."""
    try:
        with log.open("rb") as handle:
            handle.seek(offset)
            chunk = handle.read()
    except FileNotFoundError:
        return offset
    complete = chunk[: chunk.rfind(b"\n") + 1]
    for line in complete.decode(errors="replace").splitlines():
        _, marker, message = line.partition(LOG_STEP_PREFIX)
        if marker:
            step(message)
    return offset + len(complete)


def _abort(state: StateDir, pid: int | None) -> list[int]:
    """Stop a daemon that did not come up (SIGTERM, then SIGKILL), its servers, the state.

    Returns the pids that could not be killed (then the state directory is kept).
    """
    record = state.read_record()
    if pid is not None and procs.exit_code(pid) is None:
        procs.signal_pids([pid], signal.SIGTERM)
        deadline = time.monotonic() + ABORT_GRACE_S
        while procs.exit_code(pid) is None and time.monotonic() < deadline:
            time.sleep(_POLL_S)
    survivors = procs.kill_all(_leftovers(state, [pid] if pid else []))
    if pid is not None:
        procs.exit_code(pid)  # reap
    if not survivors:
        state.remove(record)
    return survivors


# -- shared --------------------------------------------------------------------------------


def _fetch(state: StateDir, record: DaemonRecord) -> ClusterInfo:
    async def both() -> tuple[ConnectionInfo, ClusterView]:
        cluster = LocalCluster(state.root)
        return await cluster.connection_info(), await cluster.describe()

    connection, view = asyncio.run(both())
    return ClusterInfo(state.root, record, connection, view)


def _ask_to_stop(state: StateDir, daemon: int, record: DaemonRecord | None) -> None:
    """The ``shutdown`` request if the daemon serves, else SIGTERM (same effect)."""
    if record is not None and record.phase == "ready":
        with contextlib.suppress(HarnessError):
            asyncio.run(LocalCluster(state.root).shutdown())
            return
    procs.signal_pids([daemon], signal.SIGTERM)


def _leftovers(state: StateDir, daemon: list[int]) -> list[int]:
    """Every process of this cluster still running: recorded pids, then a procfs sweep."""
    listed = [*daemon, *state.server_pids()]
    found = {pid for pid in listed if _ours(pid, state)}
    found.update(procs.cluster_processes(state.root))
    return sorted(found)


def _ours(pid: int, state: StateDir) -> bool:
    return procs.belongs_to(pid, state.root)


def _pid(record: DaemonRecord | None) -> int | None:
    return record.pid if record is not None else None


def _command(verb: str, state: StateDir) -> str:
    return f"harness local {verb}{state.cli_flag()}"


def _indent(text: str) -> str:
    if not text:
        return ""
    return "\nlast lines of daemon.log:\n" + "\n".join(f"  {line}" for line in text.splitlines())


@contextlib.contextmanager
def _no_interrupts() -> Iterator[None]:
    """Cleanup must finish: a second Ctrl-C would leave servers behind. SIGINT is held
    off (main thread only; elsewhere it cannot arrive) and re-raised afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt
