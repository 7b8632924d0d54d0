"""What a running local cluster writes down about itself, and how clients connect to it.

``state.json`` is rewritten (atomically) on every change so that another process can
report on the cluster and, if the engine died, find and kill what it left behind: every
server's pid is in it. The password is never in it, only the path of the 0600 file that
holds it.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from harness.errors import HarnessError
from harness.targets.local.pki import write_file

STATE_FILE = "state.json"
PASSWORD_FILE = "probe-password"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ConnectionInfo(_Model):
    """Everything a client needs to connect through the endpoints, the password by path."""

    writer_endpoint: str  # 127.0.0.1:PORT
    reader_endpoint: str
    user: str
    database: str
    password_file: Path  # mode 0600; read it, never print it
    updated_bundle: Path  # trusts every CA generation (the client that was updated)
    stale_bundle: Path  # trusts only rds-ca-2019 (the client that was not)

    def read_password(self) -> str:
        return self.password_file.read_text().strip()


class InstanceState(_Model):
    name: str
    role: str
    status: str
    server_id: int
    port: int | None
    pid: int | None
    ca: str
    pending_ca: str | None
    promotion_tier: int
    directory: Path


class EngineState(_Model):
    """The cluster as last seen by the engine that runs it (``owner_pid``)."""

    cluster_id: str
    status: str  # a ClusterStatus, or "stopped" once the engine closed
    timing: str
    owner_pid: int
    #: The instance the writer endpoint leads to (lags the writer role during a failover).
    writer_endpoint_instance: str | None
    connection: ConnectionInfo
    instances: tuple[InstanceState, ...]
    updated_at: datetime

    @property
    def pids(self) -> list[int]:
        return [i.pid for i in self.instances if i.pid is not None]


def write_state(state_dir: Path, state: EngineState) -> Path:
    return write_file(state_dir / STATE_FILE, state.model_dump_json(indent=2).encode())


def read_state(state_dir: Path) -> EngineState | None:
    """The last state written under ``state_dir``; None if there is none."""
    path = state_dir / STATE_FILE
    try:
        return EngineState.model_validate(json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, ValidationError) as exc:
        raise HarnessError(f"{path} is not a local cluster state file: {exc}") from None
