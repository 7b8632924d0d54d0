"""Recording what a scenario does and what the cluster is seen to do, in the history.

Actions are Jepsen's nemesis: each is an ``invoke`` op, then ``ok``/``fail``/``info``.
What the cluster shows meanwhile (statuses, the writer moving, a CA taking effect, the
target's own events) becomes ``milestone`` ops, so the report can draw them next to the
probes' outages. An action is finished when its effect is observed, never when the API
call returns (principle 6); :func:`wait_until` is that wait.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from harness.history import Clock, HistoryWriter, Op
from harness.targets.base import Cluster, ClusterEvent, ClusterView

SCENARIO = "scenario"


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str, sort_keys=True)


@dataclass(slots=True)
class Recorder:
    """Appends scenario ops to the shared history with the probes' clock."""

    history: HistoryWriter
    clock: Clock
    process: str = SCENARIO

    def _op(self, f: str, kind: str, value: Any = None, **extra: Any) -> Op:
        now = self.clock.mono_ns()
        op = Op(
            process=self.process, f=f, type=kind,  # type: ignore[arg-type]
            start_mono_ns=now, start_ns=self.clock.wall(now),
            end_mono_ns=now, end_ns=self.clock.wall(now),
            value=None if value is None else _json(value), **extra,
        )  # fmt: skip
        return self.history.append(op)

    def invoke(self, f: str, params: dict[str, Any]) -> ActionHandle:
        start = self.clock.mono_ns()
        self._op(f, "invoke", params)
        return ActionHandle(self, f, params, start)

    def milestone(self, text: str, **details: Any) -> None:
        self._op("milestone", "ok", details or None, message=text)

    def event(self, source: str, event: ClusterEvent) -> None:
        """A target event (AWS's or the emulation's), at the time the target gave it."""
        stamp = int(event.date.timestamp() * 1e9)
        mono = stamp - self.clock.offset_ns
        op = Op(
            process=source, f="event", type="ok", start_ns=stamp, end_ns=stamp,
            start_mono_ns=mono, end_mono_ns=mono, server=event.source_identifier,
            message=event.message,
            value=_json({"source_type": event.source_type, "categories": event.categories}),
        )  # fmt: skip
        self.history.append(op)


@dataclass(slots=True)
class ActionHandle:
    recorder: Recorder
    f: str
    params: dict[str, Any]
    start_mono_ns: int
    done: bool = False

    def _complete(self, kind: str, value: dict[str, Any], **extra: Any) -> None:
        if self.done:
            return
        self.done = True
        clock = self.recorder.clock
        end = clock.mono_ns()
        op = Op(
            process=self.recorder.process, f=self.f, type=kind,  # type: ignore[arg-type]
            start_mono_ns=self.start_mono_ns, start_ns=clock.wall(self.start_mono_ns),
            end_mono_ns=end, end_ns=clock.wall(end), value=_json({**self.params, **value}),
            **extra,
        )  # fmt: skip
        self.recorder.history.append(op)

    def ok(self, **result: Any) -> None:
        self._complete("ok", result)

    def fail(self, exc: BaseException) -> None:
        self._complete("fail", {}, error_class=type(exc).__name__, message=str(exc)[:300])

    def info(self, reason: str) -> None:
        """Outcome unknown (e.g. interrupted while the change was under way)."""
        self._complete("info", {}, message=reason[:300])


def describe_changes(before: ClusterView | None, after: ClusterView) -> list[str]:
    """Plain-language differences between two observations of the cluster."""
    if before is None:
        return []
    notes: list[str] = []
    if before.status != after.status:
        notes.append(f"cluster status {after.status}")
    old = {i.identifier: i for i in before.instances}
    new = {i.identifier: i for i in after.instances}
    for name, inst in new.items():
        prev = old.get(name)
        if prev is None:
            notes.append(f"{name} appeared ({inst.status})")
            continue
        if prev.status != inst.status:
            notes.append(f"{name} status {inst.status}")
        if prev.role != inst.role and inst.role == "writer":
            notes.append(f"writer is now {name}")
        if prev.ca_identifier != inst.ca_identifier:
            notes.append(f"{name} CA is now {inst.ca_identifier}")
        if prev.server_cert_issuer != inst.server_cert_issuer:
            notes.append(f"{name} certificate issued by {inst.server_cert_issuer}")
    notes.extend(f"{name} is gone" for name in old.keys() - new.keys())
    return notes


@dataclass(slots=True)
class Watcher:
    """Polls the cluster while a scenario runs; records changes and new target events."""

    cluster: Cluster
    recorder: Recorder
    source: str  # "aws" or "local": who speaks in the events
    poll_s: float
    since: datetime
    latest: ClusterView | None = None
    _seen_events: set[tuple[str, str, str]] = field(default_factory=set)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    #: One observation at a time: two overlapping describes could land out of order and
    #: record a change backwards ("available" then "modifying" again).
    _observing: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def observe_once(self) -> ClusterView:
        async with self._observing:
            view = await self.cluster.describe()
            for text in describe_changes(self.latest, view):
                self.recorder.milestone(text)
            self.latest = view
            await self._pull_events()
            self._changed.set()
            return view

    async def _pull_events(self) -> None:
        for event in await self.cluster.events(self.since):
            key = (event.date.isoformat(), event.source_identifier, event.message)
            if key not in self._seen_events:
                self._seen_events.add(key)
                self.recorder.event(self.source, event)

    async def run(self) -> None:
        """Observe until cancelled; a failed observation is retried, not fatal."""
        while True:
            try:
                await self.observe_once()
            except Exception as exc:  # the target may be briefly unreachable
                self.recorder.milestone(f"observation failed: {exc}"[:300])
            await asyncio.sleep(self.poll_s)

    async def next_view(self) -> ClusterView:
        self._changed.clear()
        await self._changed.wait()
        assert self.latest is not None
        return self.latest


class WaitTimeout(Exception):
    """An observed condition did not hold within its deadline."""


async def wait_until(
    watcher: Watcher,
    condition: Callable[[ClusterView], bool],
    what: str,
    timeout_s: float,
) -> ClusterView:
    """Wait until ``condition`` holds for a view observed *after* this call began;
    records the milestone.

    The first view is a fresh observation, never the watcher's latest one: that may
    predate the request the caller just made (a CA change to the CA already in force
    would otherwise count as done before the instance had even started modifying).
    """
    try:
        async with asyncio.timeout(timeout_s):
            try:
                view = await watcher.observe_once()
            except Exception as exc:  # briefly unreachable: the watcher's loop retries
                watcher.recorder.milestone(f"observation failed: {exc}"[:300])
                view = await watcher.next_view()
            while not condition(view):
                view = await watcher.next_view()
    except TimeoutError:
        raise WaitTimeout(f"{what}: not observed within {timeout_s:g} s") from None
    watcher.recorder.milestone(what)
    return view
