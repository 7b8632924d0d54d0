"""A set of probes measuring one cluster: preflight, run until told to stop, final read.

Used by ``harness probe`` (observe only) and by the scenario runner, which performs a
change while a session measures it. It only measures; it never computes downtime.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pymysql

from harness.errors import UsageError
from harness.history import Clock, HistoryWriter, Op
from harness.probes.connection import (
    ConnectionSettings,
    Endpoint,
    ServerConnection,
    check_reachable,
    open_connection,
)
from harness.probes.final_read import final_read
from harness.probes.probe import Probe, ensure_writes_table
from harness.probes.spec import ProbeKind, ProbeSpec, Role
from harness.probes.taxonomy import ErrorClass, classify

#: Probes start together this long after ``run`` is called, on a common t0.
START_DELAY_NS = 50_000_000
#: 1044: access denied to the database; 1049: unknown database (seen with broad grants).
_DATABASE_REFUSED = {1044, 1049}


@dataclass(slots=True)
class Endpoints:
    writer: Endpoint
    reader: Endpoint | None = None

    def for_role(self, role: Role) -> Endpoint:
        if role is Role.READER:
            if self.reader is None:
                raise UsageError("a probe needs the reader endpoint: pass --reader-endpoint")
            return self.reader
        return self.writer


@dataclass(slots=True)
class SessionConfig:
    endpoints: Endpoints
    settings: ConnectionSettings
    specs: Sequence[ProbeSpec]
    run_id: str
    #: Things preflight noticed that do not stop the run (e.g. a CA that does not verify).
    warnings: list[str] = field(default_factory=list)
    #: Probes that trust another CA bundle than ``settings`` (a stale client next to an
    #: updated one), by probe name.
    settings_by_probe: dict[str, ConnectionSettings] = field(default_factory=dict)

    def settings_for(self, probe: str) -> ConnectionSettings:
        return self.settings_by_probe.get(probe, self.settings)


class ProbeSession:
    """Runs the probes of one run against one cluster and records into one history."""

    def __init__(self, config: SessionConfig, history: HistoryWriter, clock: Clock) -> None:
        self.config = config
        self.history = history
        self.clock = clock
        self.probes = [
            Probe(
                spec, config.endpoints.for_role(spec.role), config.settings_for(spec.name),
                history, clock, config.run_id,
            )
            for spec in config.specs
        ]  # fmt: skip
        self.t0_mono: int | None = None
        self.final_read_op: Op | None = None

    @property
    def has_writes(self) -> bool:
        return any(spec.kind is ProbeKind.WRITE for spec in self.config.specs)

    async def run(
        self,
        stop: asyncio.Event,
        *,
        duration_s: float | None = None,
        on_tick: Callable[[], None] | None = None,
        tick_s: float = 0.5,
    ) -> None:
        """Probe until ``stop`` is set or ``duration_s`` passed; then read back the writes."""
        await asyncio.gather(*(p.warm_up() for p in self.probes))
        # Everything imported and built so far lives for the whole run; freezing it keeps
        # the cyclic GC from rescanning it (pandas alone is ~10^5 objects) while probing.
        gc.collect()
        gc.freeze()
        self.t0_mono = self.clock.mono_ns() + START_DELAY_NS
        # All probes share one phase. Staggering them across the interval was measured
        # (benchmarks/overhead.py): schedule lag p50 1.16 → 0.74 ms, p99 unchanged within
        # noise, but ~6 % of a core more CPU, from four loop wake-ups per tick instead of one.
        tasks = [asyncio.create_task(p.run(self.t0_mono, stop)) for p in self.probes]
        deadline = None if duration_s is None else self.t0_mono + round(duration_s * 1e9)
        try:
            while not stop.is_set():
                remaining = None if deadline is None else (deadline - self.clock.mono_ns()) / 1e9
                if remaining is not None and remaining <= 0:
                    break
                wait = tick_s if remaining is None else min(tick_s, remaining)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
                if on_tick is not None:
                    on_tick()
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
        if self.has_writes:
            self.final_read_op = await final_read(
                self.config.endpoints.writer, self.config.settings, self.config.run_id,
                self.history, self.clock,
            )  # fmt: skip


async def preflight(config: SessionConfig) -> None:
    """Check, before anything is recorded, that the endpoints are the ones meant.

    A typo must be reported, not measured as an outage: unreachable endpoints, a refused
    login and a missing database are :class:`UsageError`. A CA bundle that does not verify
    the server is *not* bad input: it is what a stale client sees, so the run goes on and
    the reason is added to ``config.warnings``.
    """
    endpoints = [config.endpoints.writer]
    if config.endpoints.reader is not None and any(s.role is Role.READER for s in config.specs):
        endpoints.append(config.endpoints.reader)
    timeout = max(config.settings.connect_timeout_s, 3.0)
    for endpoint in endpoints:
        await check_reachable(endpoint, timeout)
    for endpoint in endpoints:
        conn = await _login(endpoint, config)
        if conn is None:
            continue
        try:
            if endpoint is config.endpoints.writer and any(
                s.kind is ProbeKind.WRITE for s in config.specs
            ):
                await ensure_writes_table(conn)
        except pymysql.err.MySQLError as exc:
            raise UsageError(
                f"cannot prepare the write probe's table on {endpoint} ({exc.args[-1]}): grant "
                f"CREATE, INSERT, SELECT on {config.settings.database}.* to "
                f"{config.settings.user!r}"
            ) from None
        finally:
            await conn.close()


async def _login(endpoint: Endpoint, config: SessionConfig) -> ServerConnection | None:
    settings = config.settings
    try:
        return await open_connection(endpoint, settings)
    except Exception as exc:
        found = classify(exc, "connect")
        if found.errno in _DATABASE_REFUSED:
            raise UsageError(
                f"user {settings.user!r} may not use database {settings.database!r} on "
                f"{endpoint}, or it does not exist: create it and GRANT CREATE, INSERT, SELECT "
                "on it, or pass --database"
            ) from None
        if found.error_class is ErrorClass.AUTH_FAILED:
            raise UsageError(
                f"login refused at {endpoint} for user {settings.user!r} ({found.message}): "
                "check --user and the password"
            ) from None
        config.warnings.append(
            f"{endpoint}: {found.error_class.value} at start ({found.message}); probing anyway"
        )
        return None
