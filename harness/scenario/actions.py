"""Performing one scenario step: the call, then the wait for its observed effect.

Each step is recorded as an ``invoke`` op and an ``ok``/``fail``/``info`` op in the run's
history (Jepsen's nemesis ops); what the cluster is seen to do in between is recorded by
the :class:`~harness.scenario.watch.Watcher` as milestones. A step is finished when its
effect is observed in ``describe()``, never when the API call returns.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from harness.scenario.steps import (
    CreateReader,
    DeleteInstance,
    Failover,
    InjectFault,
    KillInstance,
    ModifyCa,
    Reboot,
    StepBase,
    Wait,
    WaitFor,
)
from harness.scenario.target import TargetHandle
from harness.scenario.watch import Recorder, Watcher, wait_until
from harness.targets.base import ClusterView, InvalidState

#: How long a reboot may take to *show* a transitional status before we stop looking for
#: one (a fast local restart can be over before the first poll sees it).
_TRANSITION_GRACE_S = 5.0


@dataclass(slots=True)
class StepContext:
    target: TargetHandle
    watcher: Watcher
    recorder: Recorder
    #: Instances created by this run (rollback deletes them unless asked to keep them).
    created: list[str] = field(default_factory=list)
    #: Background faults still running (``inject_fault`` with ``wait: false``).
    background: list[asyncio.Task[None]] = field(default_factory=list)


async def _request(call: Awaitable[None]) -> None:
    """Send one mutating request and wait for its reply, even through a Ctrl-C.

    Abandoning the reply does not abandon the request: the service (RDS, or the local
    cluster's daemon) carries it out anyway, and a reader created after the rollback
    looked would be left behind. So on cancellation the request is let finish, then the
    cancellation goes on, and the rollback sees what the request did.
    """
    sent = asyncio.ensure_future(call)
    try:
        await asyncio.shield(sent)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await sent
        raise


def _params(step: StepBase) -> dict[str, Any]:
    data = step.model_dump(mode="json", exclude={"when", "unless", "name", "action"})
    data["label"] = step.label
    return data


def _has(view: ClusterView, instance: str) -> bool:
    return any(i.identifier == instance for i in view.instances)


def _failed_over(view: ClusterView, target: str, demoted: str | None) -> bool:
    """``target`` is the writer, the cluster ``available``, and the demoted writer back.

    The old writer restarts as a reader after the promotion; until it is ``available``
    again the next step could not touch it (a CA change or a deletion is refused while
    it reboots), so the failover is not over for the scenario before that.
    """
    if view.writer is None or view.writer.identifier != target or view.status != "available":
        return False
    return demoted is None or not _has(view, demoted) or _available_on(view, demoted, None)


def _available_on(view: ClusterView, instance: str, ca: str | None) -> bool:
    if not _has(view, instance):
        return False
    inst = view.instance(instance)
    return inst.status == "available" and (ca is None or inst.ca_identifier == ca)


async def perform(step: StepBase, ctx: StepContext, *, rollback: bool = False) -> None:
    """Run ``step``; records invoke and completion; raises when the step failed."""
    handle = ctx.recorder.invoke(step.action, _params(step))
    try:
        note = await _dispatch(step, ctx, rollback=rollback)
    except asyncio.CancelledError:
        handle.info("interrupted while the step was under way: its effect is unknown")
        raise
    except BaseException as exc:
        handle.fail(exc)
        raise
    if note:
        handle.ok(note=note)
    else:
        handle.ok()


async def _dispatch(step: StepBase, ctx: StepContext, *, rollback: bool) -> str | None:
    cluster, watcher = ctx.target.cluster, ctx.watcher
    match step:
        case ModifyCa():
            await _request(
                cluster.modify_ca(
                    step.instance, step.ca, apply_immediately=step.apply_immediately,
                    rotation_restart=step.rotation_restart,
                )
            )  # fmt: skip
            if step.wait:
                await wait_until(
                    watcher, lambda v: _available_on(v, step.instance, step.ca),
                    f"{step.instance} available on {step.ca}", step.timeout_s,
                )  # fmt: skip
        case Reboot():
            await _request(cluster.reboot(step.instance, force_failover=step.force_failover))
            if step.wait:
                await _through_transition(ctx, step.instance, step.timeout_s)
        case CreateReader():
            if _has(await watcher.observe_once(), step.instance):
                # Not ours: the rollback must not delete it.
                raise InvalidState(f"DB instance {step.instance} already exists")
            ctx.created.append(step.instance)
            await _request(
                cluster.create_reader(step.instance, ca=step.ca, promotion_tier=step.promotion_tier)
            )
            if step.wait:
                await wait_until(
                    watcher, lambda v: _available_on(v, step.instance, step.ca),
                    f"{step.instance} created and available", step.timeout_s,
                )  # fmt: skip
        case Failover():
            before = await watcher.observe_once()
            demoted = before.writer.identifier if before.writer is not None else None
            if ctx.target.name == "local":
                await _request(
                    cluster.failover(  # type: ignore[call-arg]
                        step.target, fenced=step.fenced, split_brain_s=step.split_brain_s
                    )
                )
            else:
                await _request(cluster.failover(step.target))
            if step.wait:
                await wait_until(
                    watcher, lambda v: _failed_over(v, step.target, demoted),
                    f"writer is now {step.target}, {demoted} back as a reader", step.timeout_s,
                )  # fmt: skip
        case DeleteInstance():
            return await _delete(step, ctx, rollback=rollback)
        case Wait():
            await asyncio.sleep(step.seconds)
        case WaitFor():
            await wait_until(
                watcher, lambda v: _wait_for_holds(step, v), step.label, step.timeout_s
            )
        case KillInstance():
            await _request(cluster.kill_instance(step.instance, restart=step.restart))  # type: ignore[attr-defined]
            if step.wait and step.restart:
                await _through_transition(ctx, step.instance, step.timeout_s)
        case InjectFault():
            await _request(
                cluster.inject_fault(  # type: ignore[attr-defined]
                    step.endpoint, step.kind, step.duration_s, step.latency_ms
                )
            )
            if step.wait:
                await asyncio.sleep(step.duration_s)
        case _:
            raise InvalidState(f"no runner for step {step.label!r}")
    return None


async def _delete(step: DeleteInstance, ctx: StepContext, *, rollback: bool) -> str | None:
    view = await ctx.watcher.observe_once()
    if not _has(view, step.instance):
        if step.if_exists:
            return f"{step.instance} does not exist: nothing to delete"
        view.instance(step.instance)  # raises UnknownInstance with the valid names
    writer = view.writer
    if writer is not None and writer.identifier == step.instance:
        if rollback:
            return f"{step.instance} is the writer now: kept (a rollback never deletes it)"
        raise InvalidState(f"refusing to delete {step.instance}: it is the writer")
    await _request(ctx.target.cluster.delete_instance(step.instance))
    if step.wait:
        await wait_until(
            ctx.watcher, lambda v: not _has(v, step.instance), f"{step.instance} deleted",
            step.timeout_s,
        )  # fmt: skip
    return None


async def _through_transition(ctx: StepContext, instance: str, timeout_s: float) -> None:
    """Wait for a restart to be seen (a non-available status), then for ``available``."""
    try:
        await wait_until(
            ctx.watcher,
            lambda v: not _has(v, instance) or v.instance(instance).status != "available",
            f"{instance} restarting", min(timeout_s, _TRANSITION_GRACE_S),
        )  # fmt: skip
    except Exception:
        ctx.recorder.milestone(f"{instance}: no restart status seen (it may have been quick)")
    await wait_until(
        ctx.watcher, lambda v: _available_on(v, instance, None), f"{instance} available",
        timeout_s,
    )  # fmt: skip


def _wait_for_holds(step: WaitFor, view: ClusterView) -> bool:
    if step.instance is not None:
        if not _has(view, step.instance):
            return False
        inst = view.instance(step.instance)
        if step.status is not None and inst.status != step.status:
            return False
        if step.ca is not None and inst.ca_identifier != step.ca:
            return False
    elif step.status is not None and view.status != step.status:
        return False
    return step.writer is None or (
        view.writer is not None and view.writer.identifier == step.writer
    )
