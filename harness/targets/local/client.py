"""``LocalCluster``: the Cluster protocol for a local cluster running in its daemon.

A scenario or probe run in one shell drives the cluster that ``harness local up`` left
running from another, through the daemon's control socket; it gets the same views and
the same exceptions (by type) as from the engine itself, so code written against
:class:`~harness.targets.base.Cluster` cannot tell the difference. Each call opens its
own connection: a unix socket costs microseconds, and calls never wait on each other.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import TypeAdapter

from harness.errors import UsageError
from harness.targets.base import CertificateView, ClusterEvent, ClusterView, FaultKind
from harness.targets.local import procs, rpc
from harness.targets.local.state import ConnectionInfo
from harness.targets.local.statedir import DEFAULT_STATE_DIR, DaemonRecord, StateDir

#: Most calls return once the request is accepted, as RDS's API does.
CALL_TIMEOUT_S = 30.0
_CERTIFICATES = TypeAdapter(list[CertificateView])
_EVENTS = TypeAdapter(list[ClusterEvent])


class LocalCluster:
    """A handle on the cluster served from ``state_dir``; creating it starts nothing."""

    def __init__(self, state_dir: Path = DEFAULT_STATE_DIR) -> None:
        self.state = StateDir(state_dir)

    def __repr__(self) -> str:
        return f"LocalCluster({str(self.state.root)!r})"

    # -- the Cluster protocol -------------------------------------------------------------

    async def describe(self) -> ClusterView:
        return ClusterView.model_validate(await self._call("describe"))

    async def certificates(self) -> list[CertificateView]:
        return _CERTIFICATES.validate_python(await self._call("certificates"))

    async def events(self, since: datetime) -> list[ClusterEvent]:
        return _EVENTS.validate_python(await self._call("events", since=since.isoformat()))

    async def modify_ca(
        self, instance: str, ca: str, *, apply_immediately: bool = True,
        rotation_restart: bool = True,
    ) -> None:  # fmt: skip
        await self._call(
            "modify_ca", instance=instance, ca=ca, apply_immediately=apply_immediately,
            rotation_restart=rotation_restart,
        )  # fmt: skip

    async def reboot(self, instance: str, *, force_failover: bool = False) -> None:
        await self._call("reboot", instance=instance, force_failover=force_failover)

    async def create_reader(
        self, instance: str, *, ca: str | None = None, promotion_tier: int = 1
    ) -> None:
        await self._call("create_reader", instance=instance, ca=ca, promotion_tier=promotion_tier)

    async def failover(
        self, target: str, *, fenced: bool = True, split_brain_s: float = 0.0
    ) -> None:
        """Fail over to ``target``; ``fenced=False`` is the chaos knob that can lose writes."""
        await self._call("failover", target=target, fenced=fenced, split_brain_s=split_brain_s)

    async def delete_instance(self, instance: str) -> None:
        await self._call("delete_instance", instance=instance)

    # -- chaos knobs ------------------------------------------------------------------------

    async def kill_instance(self, instance: str, *, restart: bool = True) -> None:
        """SIGKILL the instance's server, as a crash; it is restarted unless told not to."""
        await self._call("kill_instance", instance=instance, restart=restart)

    async def inject_fault(
        self, endpoint: Literal["writer", "reader"], kind: FaultKind, duration_s: float,
        latency_ms: float | None = None,
    ) -> None:  # fmt: skip
        """Reset, blackhole or delay an endpoint for ``duration_s``, in the background."""
        await self._call(
            "inject_fault", endpoint=endpoint, kind=kind, duration_s=duration_s,
            latency_ms=latency_ms,
        )  # fmt: skip

    # -- the daemon ---------------------------------------------------------------------------

    async def connection_info(self) -> ConnectionInfo:
        return ConnectionInfo.model_validate(await self._call("connection_info"))

    async def wait_idle(self, timeout_s: float = 120.0) -> None:
        """Return once no background operation (or endpoint fault) is running;
        :class:`TimeoutError` after ``timeout_s``, as from the engine itself."""
        await self._call("wait_idle", timeout_s + CALL_TIMEOUT_S, timeout_s=timeout_s)

    async def shutdown(self) -> None:
        """Ask the daemon to stop the cluster; it exits once every server is stopped."""
        await self._call("shutdown")

    # -- transport ----------------------------------------------------------------------------

    def record(self) -> DaemonRecord:
        """The serving daemon's record, or a :class:`UsageError` saying what to run."""
        record, flag = self.state.read_record(), self.state.cli_flag()
        if record is None:
            raise UsageError(
                f"no local cluster is up in {self.state}: run `harness local up{flag}`"
            )
        if not procs.belongs_to(record.pid, self.state.root):
            raise UsageError(
                f"the local cluster in {self.state} is not running (its daemon, pid "
                f"{record.pid}, is gone): run `harness local down{flag}`, then `up` again"
            )
        if record.phase != "ready":
            raise UsageError(f"the local cluster in {self.state} is {record.phase}; try again")
        return record

    async def _call(
        self, method: str, timeout_s: float = CALL_TIMEOUT_S, /, **params: object
    ) -> Any:
        """One request, one reply; ``timeout_s`` bounds the wait for the reply."""
        record = self.record()
        try:
            reader, writer = await asyncio.open_unix_connection(
                str(record.control_socket), limit=rpc.MAX_LINE
            )
        except OSError:
            down = f"harness local down{self.state.cli_flag()}"
            raise UsageError(
                f"the local cluster daemon in {self.state} (pid {record.pid}) does not accept "
                f"requests; see {self.state.log}, or run `{down}`"
            ) from None
        try:
            writer.write(rpc.encode_request(method, params))
            async with asyncio.timeout(timeout_s):
                line = await reader.readline()
        except TimeoutError:
            raise rpc.DaemonError(
                f"no reply to {method} within {timeout_s:g} s; see {self.state.log}"
            ) from None
        except (ConnectionError, ValueError) as exc:
            raise rpc.DaemonError(f"{method}: lost the local cluster daemon: {exc}") from None
        finally:
            writer.close()
        if not line:
            raise rpc.DaemonError(f"{method}: the local cluster daemon closed the connection")
        return rpc.decode_reply(line)
