"""Finding and killing the processes of a local cluster, by pid, without hitting strangers.

The daemon and the servers run in their own sessions so that a Ctrl-C in the shell does
not reach them; the price is that nothing kills them for us. ``down`` and a failed
``up`` therefore kill by pid, and a pid read from a file may have been reused by an
unrelated process since: on Linux a pid is only killed if its command line names the
cluster's state directory (a server's ``--datadir``, the daemon's ``--state-dir``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

_PROC = Path("/proc")
_POLL_S = 0.02
#: Executables that can be a cluster's server or daemon (the daemon is a Python).
_SERVER_NAMES = frozenset({"mariadbd", "mysqld"})
_DAEMON_MODULE = "harness.targets.local.daemon"


def _reap(pid: int) -> None:
    """A child of ours that exited stays a zombie (and "alive" to kill 0) until waited."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone)."""
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return not _PROC.is_dir()  # no procfs (macOS): trust kill(0)
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def cmdline(pid: int) -> list[str] | None:
    """The argv of ``pid``; None without procfs or when the process is gone."""
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def belongs_to(pid: int, state_dir: Path) -> bool:
    """Whether ``pid`` is a server or the daemon of the cluster in ``state_dir``.

    Without procfs there is no way to tell, and the pid is trusted if it runs.
    """
    if not alive(pid):
        return False
    argv = cmdline(pid)
    if argv is None:
        return not _PROC.is_dir()
    return _is_cluster_process(argv, str(state_dir))


def _is_cluster_process(argv: list[str], root: str) -> bool:
    if not argv:
        return False
    is_server = Path(argv[0]).name in _SERVER_NAMES
    is_daemon = _DAEMON_MODULE in argv
    if not (is_server or is_daemon):
        return False
    return any(arg == root or root + os.sep in arg for arg in argv[1:])


def cluster_processes(state_dir: Path) -> list[int]:
    """Every live server or daemon whose command line names ``state_dir`` (Linux).

    The last sweep of a cleanup: catches a server the daemon started but had not yet
    recorded in ``state.json`` when it was killed.
    """
    if not _PROC.is_dir():
        return []
    found = []
    for entry in _PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        argv = cmdline(int(entry.name))
        if argv and _is_cluster_process(argv, str(state_dir)) and alive(int(entry.name)):
            found.append(int(entry.name))
    return sorted(found)


def wait_gone(pids: list[int], timeout_s: float) -> list[int]:
    """Wait until every pid has exited; returns those still running at the deadline."""
    deadline = time.monotonic() + timeout_s
    remaining = [pid for pid in pids if alive(pid)]
    while remaining and time.monotonic() < deadline:
        time.sleep(_POLL_S)
        remaining = [pid for pid in remaining if alive(pid)]
    return remaining


def signal_pids(pids: list[int], signum: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def kill_all(pids: list[int], timeout_s: float = 5.0) -> list[int]:
    """SIGKILL ``pids`` and verify they are gone; returns any that survived."""
    signal_pids(pids, signal.SIGKILL)
    return wait_gone(pids, timeout_s)


def spawn_detached(argv: list[str], log_path: Path) -> int:
    """Start ``argv`` in its own session, stdin from /dev/null, stdout+stderr to the log.

    Its own session: a Ctrl-C in the shell that ran ``up`` must not reach the cluster.
    A bare pid rather than a ``Popen``: the process is meant to outlive its ``Popen``
    object, which would warn (and reap nothing) when garbage-collected.
    """
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        return os.posix_spawn(
            argv[0],
            argv,
            dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, fd, 1),
                (os.POSIX_SPAWN_DUP2, fd, 2),
            ],
            setsid=True,
        )
    finally:
        os.close(fd)


def exit_code(pid: int) -> int | None:
    """The exit code of our child ``pid`` once it has exited (reaping it), else None.

    A pid that is not (or no longer) our child and is gone counts as exit code -1.
    """
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None if alive(pid) else -1
    return os.waitstatus_to_exitcode(status) if done else None
