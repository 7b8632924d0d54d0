"""One open-loop probe: attempts on a fixed schedule, each recorded as one op.

Attempt *k* is due at ``t0 + k·interval`` and is launched then, whether or not attempt
*k−1* has finished (wrk2's lesson: a stalled request must not hide the ones that should
have been sent). At most ``max_in_flight`` attempts run at once; a later one waits for a
slot, and its ``start_ns`` says when its network work really began.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pymysql

from harness.history import Clock, HistoryWriter, Op
from harness.probes.connection import (
    ConnectionSettings,
    Endpoint,
    Identity,
    ServerConnection,
    open_connection,
)
from harness.probes.spec import ProbeKind, ProbeMode, ProbeSpec
from harness.probes.taxonomy import Phase, SlotTimeout, classify

#: The write probe's table. Created if missing; its rows are the audit's ground truth.
WRITES_TABLE = "harness_probe_writes"
WRITES_DDL = f"""CREATE TABLE IF NOT EXISTS {WRITES_TABLE} (
  run_id    VARCHAR(64) NOT NULL,
  probe     VARCHAR(64) NOT NULL,
  seq       BIGINT      NOT NULL,
  client_ns BIGINT      NOT NULL,
  server_ts TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (run_id, probe, seq)
) ENGINE=InnoDB"""
_INSERT = f"INSERT INTO {WRITES_TABLE} (run_id, probe, seq, client_ns) VALUES (%s, %s, %s, %s)"

#: Idle pooled connections kept beyond this are closed (a burst should not leave 100 open).
MAX_IDLE = 4


@dataclass(slots=True)
class ProbeStatus:
    """Running counters for the live display; the history remains the record."""

    ok: int = 0
    fail: int = 0
    info: int = 0
    #: Monotonic ns of the first failure since the last success (completion order), or None.
    failing_since_mono: int | None = None
    last_error: str | None = None

    @property
    def ops(self) -> int:
        return self.ok + self.fail + self.info


class Probe:
    """Runs one :class:`ProbeSpec` against one endpoint and appends its ops to the history."""

    def __init__(
        self,
        spec: ProbeSpec,
        endpoint: Endpoint,
        settings: ConnectionSettings,
        history: HistoryWriter,
        clock: Clock,
        run_id: str,
    ) -> None:
        self.spec = spec
        self.endpoint = endpoint
        self.settings = settings
        self.history = history
        self.clock = clock
        self.run_id = run_id
        self.status = ProbeStatus()
        self.identity = Identity(settings.identity_sql)
        self._idle: list[ServerConnection] = []
        self._slots = asyncio.Semaphore(spec.max_in_flight)
        self._tasks: set[asyncio.Task[None]] = set()
        self._endpoint_text = str(endpoint)
        self._deadline_s = settings.connect_timeout_s + settings.query_timeout_s

    async def warm_up(self) -> None:
        """Open the first pooled connection before the schedule starts, as a warm app pool.

        Otherwise the first attempts would each pay for a TLS handshake and overlap. A
        failure here is not recorded: the scheduled attempts will meet it and say so.
        """
        if self.spec.mode is not ProbeMode.POOLED or self._idle:
            return
        try:
            conn = await open_connection(self.endpoint, self.settings)
        except Exception:
            return
        try:
            async with asyncio.timeout(self.settings.query_timeout_s):
                conn.server, conn.read_only = await self.identity.ask(conn)
        except Exception:
            conn.abort()
            return
        self._idle.append(conn)

    async def run(self, t0_mono: int, stop: asyncio.Event) -> None:
        """Launch attempts on schedule until ``stop`` is set, then let in-flight ones finish.

        Each launch is a timer on the event loop (whose clock is ``time.monotonic``): the
        attempt starts one loop iteration after it is due, not two as with a sleeping
        scheduler coroutine; on a busy loop that iteration is most of the schedule lag.
        """
        loop = asyncio.get_running_loop()
        interval = self.spec.interval_ns
        timer: asyncio.TimerHandle | None = None

        def launch(seq: int) -> None:
            nonlocal timer
            due = t0_mono + seq * interval
            task = loop.create_task(self._attempt(seq, due))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            timer = loop.call_at((due + interval) / 1e9, launch, seq + 1)

        timer = loop.call_at(t0_mono / 1e9, launch, 0)
        try:
            await stop.wait()
        finally:
            timer.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            for conn in self._idle:
                await conn.close()
            self._idle.clear()

    async def _attempt(self, seq: int, due_mono: int) -> None:
        clock = self.clock
        op = Op(
            process=self.spec.name, f=self.spec.kind.value, type="fail", seq=seq,
            intended_mono_ns=due_mono, intended_ns=clock.wall(due_mono),
            endpoint=self._endpoint_text,
        )  # fmt: skip
        slots = self._slots
        try:
            if slots.locked():  # only then pay for a deadline: the common case is a free slot
                async with asyncio.timeout(self._deadline_s):
                    await slots.acquire()
            else:
                await slots.acquire()
        except TimeoutError:
            busy = SlotTimeout(f"no free slot: {self.spec.max_in_flight} attempts in flight")
            self._finish(op, busy, "connect")
            return
        try:
            await self._run_attempt(op)
        finally:
            slots.release()

    async def _run_attempt(self, op: Op) -> None:
        clock = self.clock
        start = clock.mono_ns()
        op.start_mono_ns, op.start_ns = start, clock.wall(start)
        conn: ServerConnection | None = None
        phase: Phase = "connect"
        try:
            if self.spec.mode is ProbeMode.POOLED and self._idle:
                conn = self._idle.pop()
                op.new_conn = False
            else:
                op.new_conn = True
                conn = await open_connection(self.endpoint, self.settings)
            phase = "query"
            async with asyncio.timeout(self.settings.query_timeout_s):
                await self._operate(conn, op)
        except Exception as exc:
            if conn is not None:
                conn.abort()
                self._describe_connection(op, conn)
            self._finish(op, exc, phase)
            return
        op.type = "ok"
        self._describe_connection(op, conn)
        self._stamp_end(op)
        self._record(op)
        if self.spec.mode is ProbeMode.POOLED and len(self._idle) < MAX_IDLE:
            self._idle.append(conn)
        else:
            await conn.close()

    async def _operate(self, conn: ServerConnection, op: Op) -> None:
        kind = self.spec.kind
        if kind is ProbeKind.WRITE:
            if conn.server is None:
                conn.server, conn.read_only = await self.identity.ask(conn)
            await conn.execute(_INSERT, (self.run_id, self.spec.name, op.seq, op.intended_ns))
            op.read_only = conn.read_only
        else:
            conn.server, op.read_only = await self.identity.ask(conn)

    @staticmethod
    def _describe_connection(op: Op, conn: ServerConnection) -> None:
        op.peer_ip = conn.peer_ip
        op.server = conn.server
        tls = conn.tls
        op.tls_version, op.tls_cipher = tls.version, tls.cipher
        op.peer_issuer_cn, op.peer_not_after = tls.issuer_cn, tls.not_after

    def _stamp_end(self, op: Op) -> None:
        end = self.clock.mono_ns()
        op.end_mono_ns, op.end_ns = end, self.clock.wall(end)

    def _finish(self, op: Op, exc: BaseException, phase: Phase) -> None:
        self._stamp_end(op)
        found = classify(exc, phase)
        op.error_class, op.errno, op.message = found.error_class.value, found.errno, found.message
        indeterminate = (
            self.spec.kind is ProbeKind.WRITE and phase == "query" and not found.server_rejected
        )
        op.type = "info" if indeterminate else "fail"
        if found.error_class == "read_only":
            op.read_only = True
        self._record(op)

    def _record(self, op: Op) -> None:
        self.history.append(op)
        status = self.status
        if op.type == "ok":
            status.ok += 1
            status.failing_since_mono = None
            return
        if op.type == "info":
            status.info += 1
        else:
            status.fail += 1
        status.last_error = op.error_class
        if status.failing_since_mono is None:
            status.failing_since_mono = op.start_mono_ns or op.intended_mono_ns


async def ensure_writes_table(conn: ServerConnection) -> None:
    """Create the write probe's table if missing (needs CREATE on the probe database)."""
    try:
        await conn.execute(f"SELECT 1 FROM {WRITES_TABLE} LIMIT 0")
    except pymysql.err.ProgrammingError:  # 1146: no such table
        await conn.execute(WRITES_DDL)
