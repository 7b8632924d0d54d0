"""Bringing a local cluster up: CAs, servers, accounts, replication, endpoints.

Ordered for speed, since ``harness local up`` is run often: the slow CA generations
(RSA-4096) run on a thread while the servers start from copies of a template datadir,
which is initialized only when missing (the CLI keeps it across ``down``/``up``).
Users are created only on the writer: under ``gtid_strict_mode`` a replica must have no
local writes, and each reader receives them by replaying the writer's binlog from the start.
"""

from __future__ import annotations

import asyncio
import secrets

from harness.targets.local import events as ev
from harness.targets.local import replication
from harness.targets.local.cluster import OLD_CA, ClusterCore
from harness.targets.local.pki import write_file
from harness.targets.local.replication import ReplicationAccount
from harness.targets.local.sandbox import PROBE_DATABASE, PROBE_USER
from harness.targets.local.server import DatabaseServer, ServerError, initialize_datadir
from harness.targets.local.state import PASSWORD_FILE, ConnectionInfo


async def bootstrap(core: ClusterCore, instances: int, writer_port: int, reader_port: int) -> None:
    """Start ``instances`` servers (the first is the writer) until all are available."""
    core.progress("creating the CAs")
    await core.call(core.pki.ca, OLD_CA)
    other_cas = asyncio.ensure_future(core.call(core.write_bundles))
    try:
        await _start(core, instances, writer_port, reader_port, other_cas)
    except BaseException:
        other_cas.cancel()  # the key generation itself finishes on its thread (drained)
        await asyncio.gather(other_cas, return_exceptions=True)
        raise


async def _start(
    core: ClusterCore,
    count: int,
    writer_port: int,
    reader_port: int,
    other_cas: asyncio.Future[None],
) -> None:
    if not (core.template / "mysql").is_dir():
        core.progress(f"initializing a template datadir in {core.template} (once)")
        await core.call(initialize_datadir, core.template, core.binary)
    probe_password = secrets.token_urlsafe(18)
    password_file = core.state_dir / PASSWORD_FILE
    await core.call(write_file, password_file, probe_password.encode(), private=True)
    core.account = ReplicationAccount(
        password=secrets.token_urlsafe(18), ca_bundle=core.updated_bundle
    )
    names = [f"{core.cluster_id}-instance-{n}" for n in range(1, count + 1)]
    core.progress(f"creating {', '.join(names)}")
    members = [await core.provision(names[0], "writer", 1, OLD_CA)]
    members += await asyncio.gather(
        *(core.provision(name, "reader", 1, OLD_CA) for name in names[1:])
    )
    core.instances = {name: core.instances[name] for name in names}  # provisioned in any order
    core.writer_target = names[0]
    await core.endpoints.start(writer_port, reader_port, core.progress)
    core.connection = ConnectionInfo(
        writer_endpoint=core.endpoints.endpoint("writer"),
        reader_endpoint=core.endpoints.endpoint("reader"),
        user=PROBE_USER, database=PROBE_DATABASE, password_file=password_file,
        updated_bundle=core.updated_bundle, stale_bundle=core.stale_bundle,
    )  # fmt: skip
    core.save()
    core.progress("starting the servers")
    started = await asyncio.gather(
        *(core.call(m.server.start) for m in members), return_exceptions=True
    )
    for member, result in zip(members, started, strict=True):
        if isinstance(result, BaseException):
            raise ServerError(f"DB instance {member.name} did not start: {result}") from result
        member.up = True
    core.save()  # the pids, for whoever must clean up if this process dies now
    writer = members[0]
    core.engine_version = await core.call(
        _prepare_writer, writer.server, core.account, probe_password
    )
    await other_cas  # replicas verify the writer against the bundle of every CA
    core.progress("replicating")
    await core.reconcile()
    await asyncio.gather(*(core.wait_caught_up(m) for m in members[1:]))
    for member in members:
        member.in_reader_pool = member.role == "reader"
        member.status = "available"
        core.emit(member, ev.CREATED, ("creation",))
    core.set_cluster_status("available")


def _prepare_writer(server: DatabaseServer, account: ReplicationAccount, password: str) -> str:
    """Accounts on the writer (they replicate); returns the engine's name and version."""
    replication.create_account(server, account)
    server.create_probe_user(PROBE_USER, password, PROBE_DATABASE)
    version = str(server.execute("SELECT VERSION()")[0][0])
    return f"{server.flavor} {'.'.join(version.split('-')[0].split('.')[:2])}"
