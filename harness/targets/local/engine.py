"""The local target: an Aurora-like cluster of real MariaDB processes on 127.0.0.1.

:class:`LocalClusterEngine` implements :class:`harness.targets.base.Cluster` with RDS's
semantics, so that a scenario cannot tell it from AWS except by timing: requests are
validated and refused with RDS's typed errors before anything changes, then accepted
(the first status, such as ``modifying``, is visible at once) and carried out by a
background task on the engine's event loop, observed through ``describe`` and
``events``. Local-only chaos knobs (unfenced failover, crash, endpoint faults) sit next
to the protocol's operations.

Everything lives under one state directory (``pki/``, ``bundles/``, ``instances/<name>/``,
``probe-password``, ``state.json``); nothing is left running by :meth:`close` or by a
failed :meth:`create`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from harness.errors import UsageError
from harness.targets.base import (
    CertificateView,
    ClusterEvent,
    ClusterView,
    FaultKind,
    InvalidState,
    TargetError,
    UnknownCertificate,
    UnknownInstance,
)
from harness.targets.local import events as ev
from harness.targets.local import failover as failover_op
from harness.targets.local import operations as ops
from harness.targets.local.bootstrap import bootstrap
from harness.targets.local.cluster import DEFAULT_CA, ClusterCore
from harness.targets.local.instance import LocalInstance
from harness.targets.local.pki import RDS_CA_KEY_TYPES
from harness.targets.local.proxy import FaultWindow
from harness.targets.local.server import find_server_binary
from harness.targets.local.state import ConnectionInfo
from harness.targets.local.timing import INSTANT, Timing

__all__ = ["ConnectionInfo", "LocalClusterEngine"]

log = logging.getLogger(__name__)

#: RDS's rule for DB instance identifiers: a letter, then letters, digits and single
#: hyphens, at most 63 characters, not ending with a hyphen.
_IDENTIFIER = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}(?<!-)$")
_KEY_TYPE_NAMES = {"rsa2048": "RSA2048", "rsa4096": "RSA4096", "ecdsa384": "ECC384"}


class LocalClusterEngine:
    """A running local cluster; make one with :meth:`create`, end it with :meth:`close`."""

    def __init__(self, core: ClusterCore) -> None:
        self.core = core
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        #: Names of readers being provisioned (not yet in ``core.instances``).
        self._reserved: set[str] = set()
        #: One line per background operation that failed (also an event and a log record).
        self.failures: list[str] = []

    # -- lifecycle ---------------------------------------------------------------------

    @classmethod
    async def create(
        cls,
        state_dir: Path,
        *,
        instances: int = 2,
        timing: Timing = INSTANT,
        writer_port: int = 0,
        reader_port: int = 0,
        cluster_id: str = "harness-local",
        template: Path | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> LocalClusterEngine:
        """Start a cluster of ``instances`` (one writer, the rest readers), all available.

        Raises :class:`UsageError` for bad arguments or a state directory that already
        holds a cluster, :class:`ServerError` (with the error log's tail) if a server does
        not come up; either way everything started so far has been stopped.
        """
        if not 1 <= instances <= 15:
            raise UsageError(f"a cluster has 1 to 15 instances, not {instances}")
        if not _IDENTIFIER.match(cluster_id) or len(cluster_id) > 40:
            raise UsageError(f"invalid cluster identifier {cluster_id!r}: letters, digits, hyphens")
        state_dir, template = _prepare_state_dir(state_dir, template)
        core = ClusterCore(
            state_dir,
            cluster_id,
            timing,
            template,
            progress or (lambda _message: None),
            find_server_binary(),
        )
        engine = cls(core)
        try:
            await bootstrap(core, instances, writer_port, reader_port)
        except BaseException:
            await engine.close()
            raise
        return engine

    async def close(self) -> None:
        """Stop background operations, endpoints and every server; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        core = self.core
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await core.drain()  # a server half started in a thread finishes before it is stopped
        await core.endpoints.close()
        results = await asyncio.gather(
            *(core.call(inst.server.close) for inst in core.instances.values()),
            return_exceptions=True,
        )
        for inst, result in zip(list(core.instances.values()), results, strict=True):
            inst.up = False
            if isinstance(result, BaseException):
                log.error("stopping %s failed (%s): killing it", inst.name, result)
                inst.server.kill()
        core.set_cluster_status("stopped")

    def connection_info(self) -> ConnectionInfo:
        if self.core.connection is None:
            raise RuntimeError("the cluster is not up")
        return self.core.connection

    def pids(self) -> list[int]:
        """Every server process still running, for a last-resort kill."""
        return [pid for inst in self.core.instances.values() if (pid := inst.server.pid)]

    async def wait_idle(self, timeout_s: float = 120) -> None:
        """Until no background operation (or endpoint fault) is running."""
        async with asyncio.timeout(timeout_s):
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- the Cluster protocol: observe -------------------------------------------------

    async def describe(self) -> ClusterView:
        core = self.core
        return ClusterView(
            identifier=core.cluster_id, status=core.status,
            engine=f"{core.engine_version} (local emulation of aurora-mysql)",
            writer_endpoint=core.endpoints.endpoint("writer"),
            reader_endpoint=core.endpoints.endpoint("reader"),
            instances=tuple(inst.view() for inst in core.instances.values()),
            emulation=core.timing.name,
        )  # fmt: skip

    async def certificates(self) -> list[CertificateView]:
        views = []
        for name, key_type in RDS_CA_KEY_TYPES.items():
            cert = (await self.core.call(self.core.pki.ca, name)).cert
            view = CertificateView(
                identifier=name, key_type=_KEY_TYPE_NAMES[key_type],
                valid_from=cert.not_valid_before_utc, valid_till=cert.not_valid_after_utc,
                is_default=name == DEFAULT_CA,
            )  # fmt: skip
            views.append(view)
        return views

    async def events(self, since: datetime) -> list[ClusterEvent]:
        return self.core.events.since(since)

    # -- the Cluster protocol: change --------------------------------------------------

    async def modify_ca(
        self, instance: str, ca: str, *, apply_immediately: bool = True,
        rotation_restart: bool = True,
    ) -> None:  # fmt: skip
        inst = self._instance(instance)
        self._check_ca(ca)
        self._check_free(inst)
        if not apply_immediately:
            inst.pending_ca = ca  # applied at the next reboot (or maintenance window)
            self.core.save()
            return
        self.core.set_status(inst, "modifying")
        change = ops.change_ca(self.core, inst, ca, restart=rotation_restart)
        self._spawn("modify_ca", [inst], change)

    async def reboot(self, instance: str, *, force_failover: bool = False) -> None:
        inst = self._instance(instance)
        self._check_free(inst, allowed=("available", "failed"))
        if force_failover and inst.role == "writer":
            best = self._best_reader()
            if best is not None:
                await self.failover(best.name)
                return
        self.core.set_status(inst, "rebooting")
        self._spawn("reboot", [inst], ops.reboot(self.core, inst))

    async def create_reader(
        self, instance: str, *, ca: str | None = None, promotion_tier: int = 1
    ) -> None:
        if not _IDENTIFIER.match(instance):
            raise TargetError(
                f"invalid DB instance identifier {instance!r}: a letter, then letters, digits "
                "or single hyphens (at most 63)"
            )
        if instance in self.core.instances or instance in self._reserved:
            raise InvalidState(f"DB instance {instance} already exists")
        ca = self._check_ca(ca or DEFAULT_CA)
        if not 0 <= promotion_tier <= 15:
            raise TargetError(f"promotion tier must be 0-15, not {promotion_tier}")
        self._reserved.add(instance)
        try:
            inst = await self.core.provision(instance, "reader", promotion_tier, ca)
        finally:
            self._reserved.discard(instance)
        self._spawn("create_reader", [inst], ops.create_reader(self.core, inst))

    async def failover(
        self, target: str, *, fenced: bool = True, split_brain_s: float = 0.0
    ) -> None:
        """Promote ``target`` (a reader). ``fenced=False`` is the split-brain chaos knob."""
        inst = self._instance(target)
        core = self.core
        if split_brain_s < 0 or (fenced and split_brain_s > 0):
            raise TargetError("split_brain_s is for unfenced failovers (fenced=False) and >= 0")
        if core.status != "available":
            raise InvalidState(f"DB cluster {core.cluster_id} is {core.status}, not available")
        if inst.role == "writer":
            raise InvalidState(f"DB instance {target} is already the writer")
        writer = core.writer
        if writer is None:
            raise InvalidState(f"DB cluster {core.cluster_id} has no writer")
        self._check_free(inst)
        self._check_free(writer)
        core.set_cluster_status("failing-over")
        self._spawn(
            "failover", [writer, inst],
            failover_op.failover(core, writer, inst, fenced=fenced, split_brain_s=split_brain_s),
            cluster_level=True,
        )  # fmt: skip

    async def delete_instance(self, instance: str) -> None:
        inst = self._instance(instance)
        if inst.role == "writer":
            raise InvalidState(
                f"cannot delete the writer {instance} of DB cluster {self.core.cluster_id}: "
                "fail over first"
            )
        self._check_free(inst, allowed=("available", "failed"))
        self.core.set_status(inst, "deleting")
        self._spawn("delete_instance", [inst], ops.delete(self.core, inst))

    # -- chaos knobs (local only) ------------------------------------------------------

    async def kill_instance(self, instance: str, *, restart: bool = True) -> None:
        """SIGKILL the server now (a crash); Aurora restarts it, and so does this."""
        inst = self._instance(instance)
        self._check_free(inst)
        inst.up = False
        inst.operation = "crash"  # claimed while the kill runs on its thread
        try:
            await self.core.call(inst.server.kill)
        finally:
            inst.operation = None
        self.core.emit(inst, ev.SHUTDOWN, ev.AVAILABILITY)
        if not restart:
            self.core.set_status(inst, "failed")  # until rebooted
            return
        self.core.set_status(inst, "rebooting")
        self._spawn("recovery", [inst], ops.recover(self.core, inst))

    async def inject_fault(
        self,
        endpoint: Literal["writer", "reader"],
        kind: FaultKind,
        duration_s: float,
        latency_ms: float | None = None,
    ) -> None:
        """Hold a network fault on an endpoint for ``duration_s``, in the background."""
        if endpoint not in ("writer", "reader"):
            raise TargetError(f"unknown endpoint {endpoint!r}; valid: writer, reader")
        if kind not in ("reset", "blackhole", "latency"):
            raise TargetError(f"unknown fault {kind!r}; valid: reset, blackhole, latency")
        if duration_s <= 0 or (kind == "latency" and not (latency_ms and latency_ms > 0)):
            raise TargetError("a fault needs duration_s > 0 (and latency_ms > 0 for latency)")
        proxy = self.core.endpoints.proxy(endpoint)
        if proxy.fault is not None:
            raise InvalidState(f"the {endpoint} endpoint already has a {proxy.fault} fault")
        proxy.start_fault(kind, latency_ms)

        async def hold() -> None:
            try:
                await asyncio.sleep(duration_s)
            finally:
                proxy.end_fault()

        self._spawn(f"{kind} fault on the {endpoint} endpoint", [], hold())

    def fault_windows(self, endpoint: Literal["writer", "reader"]) -> list[FaultWindow]:
        """When faults on ``endpoint`` really held (wall clock), to line up with a history."""
        return list(self.core.endpoints.proxy(endpoint).windows)

    # -- internals ---------------------------------------------------------------------

    def _instance(self, name: str) -> LocalInstance:
        inst = self.core.instances.get(name)
        if inst is None:
            raise UnknownInstance(name, list(self.core.instances))
        return inst

    @staticmethod
    def _check_ca(ca: str) -> str:
        if ca not in RDS_CA_KEY_TYPES:
            raise UnknownCertificate(ca, list(RDS_CA_KEY_TYPES))
        return ca

    def _check_free(self, inst: LocalInstance, allowed: tuple[str, ...] = ("available",)) -> None:
        if self._closed:
            raise InvalidState("the local cluster is closed")
        if inst.operation is not None or inst.status not in allowed:
            doing = f" ({inst.operation} in progress)" if inst.operation else ""
            raise InvalidState(
                f"DB instance {inst.name} is {inst.status}{doing}; it must be "
                f"{' or '.join(allowed)}"
            )

    def _best_reader(self) -> LocalInstance | None:
        candidates = [
            i for i in self.core.readers() if i.status == "available" and i.operation is None
        ]
        return min(candidates, key=lambda i: (i.promotion_tier, i.name), default=None)

    def _spawn(
        self,
        what: str,
        instances: list[LocalInstance],
        body: Coroutine[Any, Any, None],
        *,
        cluster_level: bool = False,
    ) -> None:
        for inst in instances:
            inst.operation = what
        task = asyncio.get_running_loop().create_task(
            self._run(what, instances, body, cluster_level), name=f"local-cluster {what}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(
        self,
        what: str,
        instances: list[LocalInstance],
        body: Coroutine[Any, Any, None],
        cluster_level: bool,
    ) -> None:
        """Run one operation; a failure is never lost: status, event, log, ``failures``."""
        core = self.core
        try:
            await body
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.exception("local cluster: %s failed", what)
            self.failures.append(f"{what}: {reason}")
            message = ev.OPERATION_FAILED.format(operation=what, reason=reason)
            for inst in instances:
                if inst.name in core.instances:
                    inst.status = "failed"
                    core.emit(inst, message, ("failure",))
            if cluster_level:
                core.emit_cluster(message, ("failure",))
            if core.status == "failing-over":
                core.status = "available"
        finally:
            for inst in instances:
                inst.operation = None
                inst.hold = False
            core.save()


def _prepare_state_dir(state_dir: Path, template: Path | None) -> tuple[Path, Path]:
    """Absolute paths (servers' replication settings store them); refuse a second cluster."""
    state_dir = state_dir.resolve()
    existing = state_dir / "instances"
    if existing.is_dir() and any(existing.iterdir()):
        raise UsageError(f"{state_dir} already holds a local cluster: take it down first")
    state_dir.mkdir(parents=True, exist_ok=True)
    return state_dir, (template or state_dir / "template").resolve()
