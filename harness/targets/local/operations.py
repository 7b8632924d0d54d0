"""What happens in the background after a request was accepted (everything but failover).

Each coroutine runs as one background task per request, with the instance already
claimed and its first status set by the engine (so ``describe`` right after the call
shows ``modifying``, ``rebooting``, ...). Each ends by setting the status RDS would show
once the change is done; failures are the engine's to record.
"""

from __future__ import annotations

import asyncio
import shutil
import time

from harness.targets.local import events as ev
from harness.targets.local.cluster import ClusterCore
from harness.targets.local.instance import LocalInstance


async def change_ca(core: ClusterCore, inst: LocalInstance, ca: str, *, restart: bool) -> None:
    """Modify the CA, applied immediately: with a restart, or reloaded in place."""
    await asyncio.sleep(core.timing.apply_delay_s)
    core.emit(inst, ev.CA_APPLYING.format(ca=ca), ev.CONFIGURATION)
    tls = await core.issue(inst.name, ca)
    if restart:
        await core.restart(inst, tls=tls, ca=ca)
        core.emit(inst, ev.CA_APPLIED.format(ca=ca), ev.CONFIGURATION)
    else:
        # FLUSH SSL: new sessions get the new certificate, open ones keep the old one.
        await core.call(inst.server.reload_tls, tls.cert_pem, tls.key_pem, tls.ca_pem)
        core.apply_ca(inst, ca, tls)
        core.emit(inst, ev.CA_ROTATED_NO_RESTART.format(ca=ca), ev.CONFIGURATION)
    core.set_status(inst, "available")


async def reboot(core: ClusterCore, inst: LocalInstance) -> None:
    """Restart in place; a pending CA modification is applied now, as RDS does."""
    await asyncio.sleep(core.timing.apply_delay_s)
    pending = inst.pending_ca
    if pending is None:
        await core.restart(inst)
    else:
        core.emit(inst, ev.CA_APPLYING.format(ca=pending), ev.CONFIGURATION)
        await core.restart(inst, tls=await core.issue(inst.name, pending), ca=pending)
        core.emit(inst, ev.CA_APPLIED.format(ca=pending), ev.CONFIGURATION)
    core.set_status(inst, "available")


async def create_reader(core: ClusterCore, inst: LocalInstance) -> None:
    """Start the provisioned server, replicate from the writer, join once caught up."""
    began = time.monotonic()
    await core.start(inst, event=False)  # reconcile makes it follow the writer
    await core.wait_caught_up(inst)
    await asyncio.sleep(max(0.0, core.timing.create_instance_s - (time.monotonic() - began)))
    inst.in_reader_pool = True
    core.emit(inst, ev.CREATED, ("creation",))
    core.set_status(inst, "available")


async def delete(core: ClusterCore, inst: LocalInstance) -> None:
    """Leave the reader pool (its proxied connections are reset), stop, remove the files."""
    began = time.monotonic()
    inst.in_reader_pool = False
    inst.up = False
    address = inst.address
    if address is not None:
        core.endpoints.forget(address)
    await core.call(inst.server.close)
    await core.call(shutil.rmtree, inst.server.base_dir, True)
    await asyncio.sleep(max(0.0, core.timing.delete_instance_s - (time.monotonic() - began)))
    core.instances.pop(inst.name, None)
    core.emit(inst, ev.DELETED, ("deletion",))
    core.save()


async def recover(core: ClusterCore, inst: LocalInstance) -> None:
    """After a crash: start again (InnoDB recovers), as Aurora restarts a crashed instance."""
    await core.start(inst)
    core.set_status(inst, "available")
