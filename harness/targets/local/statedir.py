"""The files that let a local cluster outlive the command that started it.

A cluster runs in a detached daemon process; every later command (``status``, ``probe``,
``run``, ``down``) finds it again through its state directory alone:

- ``daemon.json``: the daemon's pid, its control socket, its phase (``starting`` until
  the engine is up, then ``ready``). Written by the daemon, atomically.
- ``state.json``: the engine's own record (instances, ports, server pids).
- ``daemon.log``: what the daemon did and why it failed (with the server's error log).
- ``.harness-local``: a marker written before anything else, so that ``down`` removes a
  directory only if this tool created it (``--state-dir .`` must never be wiped).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

DEFAULT_STATE_DIR = Path(".harness/local")
_MARKER = ".harness-local"
#: sun_path is 108 bytes on Linux (104 on macOS); keep a margin.
_SOCKET_PATH_MAX = 100

#: Marks progress lines in ``daemon.log``; ``up`` shows them while it waits.
LOG_STEP_PREFIX = "step: "
#: Marks the daemon's last word when the cluster could not start.
LOG_FAILED_PREFIX = "the local cluster failed: "
#: The daemon's exit code when the engine refused its arguments (as the CLI's exit 2).
EXIT_BAD_INPUT = 2

DaemonPhase = Literal["starting", "ready", "stopping"]


class DaemonRecord(BaseModel):
    """What ``daemon.json`` says about the process serving a state directory."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    pid: int
    control_socket: Path
    started: datetime
    phase: DaemonPhase
    instances: int
    timing: str


class StateDir:
    """Paths inside one state directory, and the reads and writes of its small files."""

    def __init__(self, root: Path) -> None:
        #: Resolved, as the engine resolves it: the servers' command lines name it so.
        self.root = root.expanduser().resolve()

    def __str__(self) -> str:
        return shown(self.root)

    def cli_flag(self) -> str:
        """`` --state-dir DIR`` for a command quoted in a message; empty for the default."""
        if self.root == DEFAULT_STATE_DIR.resolve():
            return ""
        return f" --state-dir {shlex.quote(shown(self.root))}"

    @property
    def daemon_json(self) -> Path:
        return self.root / "daemon.json"

    @property
    def state_json(self) -> Path:
        return self.root / "state.json"

    @property
    def log(self) -> Path:
        return self.root / "daemon.log"

    @property
    def marker(self) -> Path:
        return self.root / _MARKER

    def control_socket(self) -> Path:
        """``control.sock`` in the state directory, or in a short temp dir if that is too
        long for a unix socket address (the real path is recorded in ``daemon.json``)."""
        path = self.root / "control.sock"
        if len(str(path)) <= _SOCKET_PATH_MAX:
            return path
        return Path(tempfile.mkdtemp(prefix="harness-ctl-")) / "control.sock"

    def is_ours(self) -> bool:
        """True when this tool created the directory (so ``down`` may remove it)."""
        return self.marker.exists() or self.daemon_json.exists() or self.state_json.exists()

    def is_empty(self) -> bool:
        return not self.root.exists() or not any(self.root.iterdir())

    def claim(self) -> None:
        """Create the directory and mark it as ours, before any process is started."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.marker.write_text("a `harness local` cluster; `harness local down` removes it\n")

    def remove(self, record: DaemonRecord | None = None) -> None:
        """Delete the directory (and a control socket kept outside it, if any)."""
        if record is not None and record.control_socket.parent != self.root:
            shutil.rmtree(record.control_socket.parent, ignore_errors=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def read_record(self) -> DaemonRecord | None:
        """``daemon.json``, or None if absent or unreadable (a daemon killed mid-write)."""
        try:
            return DaemonRecord.model_validate_json(self.daemon_json.read_bytes())
        except (FileNotFoundError, ValidationError):
            return None

    def write_record(self, record: DaemonRecord) -> None:
        _write_atomic(self.daemon_json, record.model_dump_json(indent=2).encode())

    def server_pids(self) -> list[int]:
        """Every pid the engine listed in ``state.json``, wherever in the document.

        Read generically (any ``pid`` number, any ``pids`` list) so that cleanup keeps
        working when the engine's record grows new fields.
        """
        try:
            document = json.loads(self.state_json.read_bytes())
        except (FileNotFoundError, ValueError):
            return []
        return sorted(set(_pids_in(document)))

    def failure(self) -> str | None:
        """The first line of the daemon's last failure message in the log, if any."""
        try:
            text = self.log.read_text(errors="replace")
        except FileNotFoundError:
            return None
        found = text.rfind(LOG_FAILED_PREFIX)
        if found < 0:
            return None
        return text[found + len(LOG_FAILED_PREFIX) :].splitlines()[0]

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def shown(path: Path) -> str:
    """Relative to the working directory when under it: shorter, and still pasteable."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _pids_in(node: Any) -> Iterator[int]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in {"pid", "owner_pid"} and isinstance(value, int) and value > 0:
                yield value
            elif key == "pids" and isinstance(value, list):
                yield from (v for v in value if isinstance(v, int) and v > 0)
            else:
                yield from _pids_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from _pids_in(item)


def _write_atomic(path: Path, data: bytes) -> None:
    """Readers poll these files: they must see the old content or the new, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
