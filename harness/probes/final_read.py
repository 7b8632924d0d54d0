"""The final read: which of this run's writes are on the writer when the run ends.

Jepsen ends with a final read that the checker compares with acknowledged operations;
here it is one op (process ``audit``, f ``final_read``) whose value lists, range-encoded,
the sequence numbers found per write probe. The analysis decides what they mean.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict

from harness.history import Clock, HistoryWriter, Op
from harness.probes.connection import ConnectionSettings, Endpoint, Identity, open_connection
from harness.probes.probe import WRITES_TABLE
from harness.probes.taxonomy import Phase, classify
from harness.ranges import to_ranges

#: The read can be large (one row per write); it gets its own, longer deadline.
FINAL_READ_TIMEOUT_S = 60.0


def _note_failure(op: Op, exc: BaseException, phase: Phase) -> None:
    found = classify(exc, phase)
    op.error_class, op.errno, op.message = found.error_class.value, found.errno, found.message


async def final_read(
    endpoint: Endpoint,
    settings: ConnectionSettings,
    run_id: str,
    history: HistoryWriter,
    clock: Clock,
    *,
    attempts: int = 5,
    retry_delay_s: float = 1.0,
) -> Op:
    """Read this run's rows from the writer and append the result as an op.

    Retries a few times: a run often stops while the cluster is still settling.
    """
    start = clock.mono_ns()
    op = Op(
        process="audit", f="final_read", type="fail", endpoint=str(endpoint),
        start_mono_ns=start, start_ns=clock.wall(start),
    )  # fmt: skip
    for attempt in range(attempts):
        try:
            conn = await open_connection(endpoint, settings)
        except Exception as exc:
            _note_failure(op, exc, "connect")
            if attempt + 1 < attempts:
                await asyncio.sleep(retry_delay_s)
            continue
        try:
            async with asyncio.timeout(FINAL_READ_TIMEOUT_S):
                server, _ = await Identity(settings.identity_sql).ask(conn)
                async with conn.raw.cursor() as cur:
                    await cur.execute(
                        f"SELECT probe, seq FROM {WRITES_TABLE} WHERE run_id = %s", (run_id,)
                    )
                    rows = await cur.fetchall()
        except Exception as exc:
            conn.abort()
            _note_failure(op, exc, "query")
            if attempt + 1 < attempts:
                await asyncio.sleep(retry_delay_s)
            continue
        await conn.close()
        by_probe: dict[str, list[int]] = defaultdict(list)
        for probe, seq in rows:
            by_probe[str(probe)].append(int(seq))
        op.type, op.server = "ok", server
        op.error_class = op.errno = op.message = None
        op.peer_ip, op.tls_version = conn.peer_ip, conn.tls.version
        op.peer_issuer_cn, op.peer_not_after = conn.tls.issuer_cn, conn.tls.not_after
        op.value = json.dumps(
            {"writer": server, "found": {p: to_ranges(s) for p, s in sorted(by_probe.items())}},
            separators=(",", ":"),
        )
        break
    end = clock.mono_ns()
    op.end_mono_ns, op.end_ns = end, clock.wall(end)
    return history.append(op)
