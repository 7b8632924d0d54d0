"""Failover, fenced as Aurora does it, or unfenced to show what a split brain costs.

Fenced: the old writer stops taking writes (``read_only``), the target catches up to
everything the old writer acknowledged, and only then is promoted, so no acknowledged
write can be lost. The old writer is shut down at the start (Aurora reboots it; its
connections drop) and comes back ``old_writer_down_s`` later as a read-only reader; the
target is promoted after ``failover_promote_s``; the writer endpoint follows
``endpoint_move_delay_s`` later, as DNS does.

Unfenced (a chaos knob, not something Aurora does): the target is promoted while the old
writer still accepts writes, and the writer endpoint stays on the old writer for
``split_brain_s``. What is acknowledged there never reaches the new writer, so the old
writer's data is discarded before it rejoins (rebuilt from the template, replicating the
new writer's history), as Aurora's storage would; the audit must report those writes lost.
"""

from __future__ import annotations

import asyncio
import contextlib

from harness.targets.local import events as ev
from harness.targets.local import replication
from harness.targets.local.cluster import CATCH_UP_TIMEOUT_S, ClusterCore
from harness.targets.local.instance import LocalInstance


async def failover(
    core: ClusterCore,
    old: LocalInstance,
    target: LocalInstance,
    *,
    fenced: bool,
    split_brain_s: float,
) -> None:
    timing = core.timing
    promoted = asyncio.Event()
    old.hold = target.hold = True
    core.emit_cluster(ev.FAILOVER_STARTED.format(target=target.name), ev.FAILOVER)
    back: asyncio.Task[None] | None = None
    try:
        if fenced:
            await core.call(replication.fence, old.server)
            final = await core.call(replication.binlog_pos, old.server)
            await core.call(replication.wait_for, target.server, final, CATCH_UP_TIMEOUT_S)
            back = asyncio.create_task(_rejoin(core, old, promoted, stop=True))
            await asyncio.sleep(timing.failover_promote_s)
            await _promote(core, old, target, promoted)
            await asyncio.sleep(timing.endpoint_move_delay_s)
            _move_writer_endpoint(core, target)
        else:
            await asyncio.sleep(timing.failover_promote_s)
            await _promote(core, old, target, promoted)
            await asyncio.sleep(max(split_brain_s, timing.endpoint_move_delay_s))
            _move_writer_endpoint(core, target)
            # Only now does the old writer stop: what it acknowledged meanwhile is lost.
            await core.call(replication.fence, old.server)
            final = await core.call(replication.binlog_pos, old.server)
            await core.stop(old)
            core.set_status(old, "rebooting")
            assert target.up, "the new writer serves"
            state = await core.call(replication.binlog_state, target.server)
            if not replication.contained(final, state):
                await core.wipe(old)
            back = asyncio.create_task(_rejoin(core, old, promoted, stop=False))
        core.emit_cluster(ev.FAILOVER_COMPLETED.format(target=target.name), ev.FAILOVER)
        core.set_cluster_status("available")
        await back
    except BaseException:
        if fenced and not promoted.is_set() and old.up:
            # Nothing was promoted: let the old writer take writes again rather than
            # leave the cluster without a writable writer.
            with contextlib.suppress(Exception):
                await core.call(old.server.set_read_only, False)
        raise
    finally:
        if back is not None and not back.done():
            back.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await back


async def _promote(
    core: ClusterCore, old: LocalInstance, target: LocalInstance, promoted: asyncio.Event
) -> None:
    """Make ``target`` the writer (roles swap now; the endpoint may follow later)."""
    async with core.topology:
        await core.call(replication.promote, target.server)
        target.role, old.role = "writer", "reader"
        target.source = None
        target.in_reader_pool = False
        target.hold = False
    core.save()
    promoted.set()
    await core.reconcile()  # the other readers follow the new writer


def _move_writer_endpoint(core: ClusterCore, target: LocalInstance) -> None:
    core.writer_target = target.name
    core.save()


async def _rejoin(
    core: ClusterCore, old: LocalInstance, promoted: asyncio.Event, *, stop: bool
) -> None:
    """The old writer restarts and, once there is a new writer, follows it as a reader."""
    if stop:
        core.set_status(old, "rebooting")
        await core.stop(old)
    await asyncio.sleep(core.timing.old_writer_down_s)
    await core.start(old)  # read-only: fenced, or started so after a wipe
    await promoted.wait()
    old.hold = False
    await core.reconcile()
    old.in_reader_pool = True
    core.set_status(old, "available")
