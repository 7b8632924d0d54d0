"""The local cluster's shared state and the primitives every operation is built from.

Owned by :class:`harness.targets.local.engine.LocalClusterEngine`, which validates
requests and runs operations (``operations.py``, ``failover.py``) as background tasks on
its event loop. Everything here runs on that loop; anything that blocks (server start and
stop, SQL, key generation) goes through :meth:`ClusterCore.call` to a worker thread, so
the endpoint proxies keep forwarding while the cluster changes.

The one rule that keeps replication right whatever happens is :meth:`ClusterCore.reconcile`:
after any start, promotion or restart, every serving reader follows the current writer,
and a reader holding writes the writer never had (after an unfenced failover) is rebuilt
from scratch first, as Aurora's shared storage would discard them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from harness.targets.base import ClusterStatus, Role
from harness.targets.local import events as ev
from harness.targets.local import replication
from harness.targets.local.endpoints import ClusterEndpoints
from harness.targets.local.events import EventLog
from harness.targets.local.instance import LOOPBACK, LocalInstance
from harness.targets.local.pki import RDS_CA_KEY_TYPES, LocalPki, write_bundle
from harness.targets.local.proxy import Address
from harness.targets.local.server import DatabaseServer, TlsMaterial
from harness.targets.local.state import ConnectionInfo, EngineState, InstanceState, write_state
from harness.targets.local.timing import Timing

P = ParamSpec("P")
T = TypeVar("T")

log = logging.getLogger(__name__)

#: Every instance starts on the old CA, as clusters did before the rotation notices.
OLD_CA = "rds-ca-2019"
#: RDS's default for new instances.
DEFAULT_CA = "rds-ca-rsa2048-g1"
#: How long a replica may take to catch up before an operation gives up.
CATCH_UP_TIMEOUT_S = 60.0
#: InnoDB writes its temporary tablespace in full at every start (12 MB by default); a
#: small one keeps that write out of every restart the probes measure.
SERVER_ARGS = ("--innodb-temp-data-file-path=ibtmp1:1M:autoextend",)


class ClusterCore:
    def __init__(
        self,
        state_dir: Path,
        cluster_id: str,
        timing: Timing,
        template: Path,
        progress: Callable[[str], None],
        binary: Path,
    ) -> None:
        self.state_dir = state_dir
        self.cluster_id = cluster_id
        self.timing = timing
        self.template = template
        self.progress = progress
        self.binary = binary
        self.pki = LocalPki(state_dir / "pki")
        self.updated_bundle = state_dir / "bundles" / "updated-bundle.pem"
        self.stale_bundle = state_dir / "bundles" / "stale-bundle.pem"
        self.instances: dict[str, LocalInstance] = {}
        self.events = EventLog()
        self.status: ClusterStatus | str = "creating"
        #: The instance the writer endpoint leads to; lags the writer role in a failover.
        self.writer_target: str | None = None
        self.endpoints = ClusterEndpoints(self._writer_address, self._reader_pool)
        #: Held while replication sources change (promotion, re-pointing, rebuilding).
        self.topology = asyncio.Lock()
        self.account: replication.ReplicationAccount | None = None
        self.connection: ConnectionInfo | None = None
        self.engine_version = "mariadb"
        self._threads: set[asyncio.Future[Any]] = set()
        self._next_server_id = 1

    # -- threads -----------------------------------------------------------------------

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run blocking ``fn`` on a worker thread.

        Shielded: a cancelled operation does not abandon a server half started in a
        thread; :meth:`drain` waits for such calls before the servers are stopped.
        """
        future: asyncio.Future[T] = asyncio.ensure_future(asyncio.to_thread(fn, *args, **kwargs))
        self._threads.add(future)
        future.add_done_callback(self._threads.discard)
        return await asyncio.shield(future)

    async def drain(self) -> None:
        while self._threads:
            await asyncio.gather(*list(self._threads), return_exceptions=True)

    # -- lookups -----------------------------------------------------------------------

    @property
    def writer(self) -> LocalInstance | None:
        return next((i for i in self.instances.values() if i.role == "writer"), None)

    def readers(self) -> list[LocalInstance]:
        return [i for i in self.instances.values() if i.role == "reader"]

    def _writer_address(self) -> Address | None:
        target = self.instances.get(self.writer_target or "")
        return None if target is None else target.address

    def _reader_pool(self) -> list[Address]:
        return [
            address
            for inst in self.readers()
            if inst.in_reader_pool and inst.up and (address := inst.address) is not None
        ]

    # -- bookkeeping -------------------------------------------------------------------

    def set_status(self, inst: LocalInstance, status: str) -> None:
        inst.status = status
        self.save()

    def set_cluster_status(self, status: ClusterStatus | str) -> None:
        self.status = status
        self.save()

    def emit(self, inst: LocalInstance, message: str, categories: tuple[str, ...] = ()) -> None:
        self.events.emit(inst.name, "db-instance", message, categories)

    def emit_cluster(self, message: str, categories: tuple[str, ...] = ()) -> None:
        self.events.emit(self.cluster_id, "db-cluster", message, categories)

    def snapshot(self) -> EngineState | None:
        if self.connection is None:
            return None
        instances = tuple(
            InstanceState(
                name=i.name, role=i.role, status=i.status, server_id=i.server_id,
                port=i.port, pid=i.server.pid, ca=i.ca, pending_ca=i.pending_ca,
                promotion_tier=i.promotion_tier, directory=i.server.base_dir,
            )
            for i in self.instances.values()
        )  # fmt: skip
        return EngineState(
            cluster_id=self.cluster_id, status=self.status, timing=self.timing.name,
            owner_pid=os.getpid(), writer_endpoint_instance=self.writer_target,
            connection=self.connection, instances=instances, updated_at=datetime.now(UTC),
        )  # fmt: skip

    def save(self) -> None:
        """Rewrite ``state.json`` (small, atomic; on the loop so it is never stale)."""
        state = self.snapshot()
        if state is not None:
            write_state(self.state_dir, state)

    # -- certificates ------------------------------------------------------------------

    def write_bundles(self) -> None:
        """Generate every CA (RSA-4096 is the slow one) and write both client bundles."""
        write_bundle(self.updated_bundle, [self.pki.ca(name) for name in RDS_CA_KEY_TYPES])
        write_bundle(self.stale_bundle, [self.pki.ca(OLD_CA)])

    async def issue(self, inst_name: str, ca: str) -> TlsMaterial:
        """A server certificate for ``inst_name`` signed by ``ca`` (SANs localhost, 127.0.0.1)."""
        cert, key = await self.call(
            self.pki.server_cert, ca, inst_name, ("localhost",), (LOOPBACK,)
        )
        return TlsMaterial(cert_pem=cert, key_pem=key, ca_pem=self.pki.ca(ca).cert_pem)

    async def provision(self, name: str, role: Role, promotion_tier: int, ca: str) -> LocalInstance:
        """Register a new instance (status ``creating``): certificate and files, not started."""
        server_id = self._next_server_id  # taken now: provisions may run concurrently
        self._next_server_id += 1
        tls = await self.issue(name, ca)

        def build() -> DatabaseServer:
            server = DatabaseServer(
                self.state_dir / "instances" / name, tls=tls, require_secure_transport=True,
                server_id=server_id, read_only=role == "reader", extra_args=SERVER_ARGS,
                binary=self.binary,
            )  # fmt: skip
            server.init(template=self.template)
            return server

        inst = LocalInstance(
            name=name, server=await self.call(build), server_id=server_id, role=role,
            promotion_tier=promotion_tier, ca=ca,
        )  # fmt: skip
        inst.note_certificate(tls.cert_pem)
        self.instances[name] = inst
        self.save()
        return inst

    # -- servers -----------------------------------------------------------------------

    async def stop(self, inst: LocalInstance, *, event: bool = True) -> None:
        """Clean shutdown; endpoints stop choosing it before it goes."""
        inst.up = False
        if event:
            self.emit(inst, ev.SHUTDOWN, ev.AVAILABILITY)
        await self.call(inst.server.stop)
        self.save()

    async def start(self, inst: LocalInstance, *, event: bool = True) -> None:
        """Start, then let replication follow whatever changed while it was down."""
        await self.call(inst.server.start)
        inst.up = True
        if event:
            self.emit(inst, ev.RESTARTED, ev.AVAILABILITY)
        self.save()
        await self.reconcile()

    async def restart(
        self, inst: LocalInstance, *, tls: TlsMaterial | None = None, ca: str | None = None
    ) -> None:
        """Stop, install a new certificate if given, stay down ``restart_down_s``, start."""
        await self.stop(inst)
        if tls is not None and ca is not None:
            await self.call(inst.server.write_tls, tls.cert_pem, tls.key_pem, tls.ca_pem)
            self.apply_ca(inst, ca, tls)
        await asyncio.sleep(self.timing.restart_down_s)
        await self.start(inst)

    def apply_ca(self, inst: LocalInstance, ca: str, tls: TlsMaterial) -> None:
        inst.ca = ca
        inst.pending_ca = None
        inst.note_certificate(tls.cert_pem)
        self.save()

    async def wipe(self, inst: LocalInstance) -> None:
        """Replace a stopped instance's data with the template's (it replicates it all)."""

        def reset() -> None:
            shutil.rmtree(inst.server.datadir)
            inst.server.init(template=self.template)

        await self.call(reset)
        inst.source = None
        self.emit(inst, ev.DATA_DISCARDED, ev.AVAILABILITY)

    # -- replication -------------------------------------------------------------------

    async def reconcile(self) -> None:
        """Make every serving reader follow the current writer (idempotent)."""
        async with self.topology:
            writer = self.writer
            if writer is None or not writer.up or writer.port is None:
                return
            want = (writer.name, writer.port)
            for inst in self.readers():
                if inst.up and not inst.hold and inst.source != want:
                    try:
                        await self._follow(inst, writer)
                    except Exception:
                        if inst.up and inst.name in self.instances:
                            raise
                        # Stopped or deleted meanwhile: it follows at its next start.
                        log.info("%s went down while being re-pointed", inst.name)

    async def _follow(self, inst: LocalInstance, writer: LocalInstance) -> None:
        assert self.account is not None and writer.port is not None
        state = await self.call(replication.binlog_state, writer.server)
        position = await self.call(replication.binlog_pos, inst.server)
        if not replication.contained(position, state):
            log.warning("%s holds writes %s never had (%s): rebuilding", inst.name, writer.name,
                        position)  # fmt: skip
            await self.stop(inst)
            await self.wipe(inst)
            await self.call(inst.server.start)
            inst.up = True
            self.emit(inst, ev.RESTARTED, ev.AVAILABILITY)
        await self.call(replication.follow, inst.server, writer.port, self.account)
        inst.source = (writer.name, writer.port)
        self.save()

    async def wait_caught_up(
        self, inst: LocalInstance, timeout_s: float = CATCH_UP_TIMEOUT_S
    ) -> None:
        """Until ``inst`` has applied everything the writer had binlogged when asked."""
        writer = self.writer
        if writer is None or writer is inst:
            return
        position = await self.call(replication.binlog_pos, writer.server)
        await self.call(replication.wait_for, inst.server, position, timeout_s)
