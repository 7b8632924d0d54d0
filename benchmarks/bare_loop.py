"""The baseline for benchmarks/overhead.py: the same operations in a bare aiomysql loop.

What someone would write by hand: one coroutine per probe, sleeping until the next due
time, no history, no classification, no live display. Same TLS verification, same SQL.
Prints one JSON line with its schedule lag percentiles when it ends (SIGINT/SIGTERM).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import ssl
import time

import aiomysql
import numpy as np

IDENTITY = "SELECT CONCAT(@@hostname, ':', @@port), @@global.read_only"
INSERT = "INSERT INTO harness_probe_writes (run_id, probe, seq, client_ns) VALUES (%s, %s, %s, %s)"


async def connect(args: argparse.Namespace, ctx: ssl.SSLContext) -> aiomysql.Connection:
    return await aiomysql.connect(
        host=args.host, port=args.port, user=args.user, password=os.environ["BARE_PASSWORD"],
        db=args.database, ssl=ctx, autocommit=True, connect_timeout=1,
    )  # fmt: skip


async def pooled(
    kind: str, name: str, interval: float, args: argparse.Namespace, ctx: ssl.SSLContext,
    stop: asyncio.Event, lags: list[float],
) -> None:  # fmt: skip
    conn = await connect(args, ctx)
    t0 = time.monotonic() + 0.05
    k = 0
    while not stop.is_set():
        due = t0 + k * interval
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        lags.append(time.monotonic() - due)
        async with conn.cursor() as cur:
            if kind == "write":
                await asyncio.wait_for(
                    cur.execute(INSERT, (args.run_id, name, k, time.time_ns())), 1
                )
            else:
                await asyncio.wait_for(cur.execute(IDENTITY), 1)
                await cur.fetchone()
        k += 1
    conn.close()


async def fresh(
    interval: float, args: argparse.Namespace, ctx: ssl.SSLContext, stop: asyncio.Event
) -> None:
    t0 = time.monotonic() + 0.05
    k = 0
    while not stop.is_set():
        delay = t0 + k * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        conn = await asyncio.wait_for(connect(args, ctx), 1)
        async with conn.cursor() as cur:
            await asyncio.wait_for(cur.execute(IDENTITY), 1)
            await cur.fetchone()
        await conn.ensure_closed()
        k += 1


async def main() -> None:
    parser = argparse.ArgumentParser()
    for flag in ("--host", "--user", "--database", "--ca-bundle", "--run-id"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    ctx = ssl.create_default_context(cafile=args.ca_bundle)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    lags: list[float] = []
    await asyncio.gather(
        pooled("write", "write", 0.01, args, ctx, stop, lags),
        pooled("read", "read", 0.01, args, ctx, stop, lags),
        pooled("read", "read@writer", 0.01, args, ctx, stop, lags),
        fresh(0.05, args, ctx, stop),
    )
    ms = np.array(lags) * 1000
    print(json.dumps({"lag_p50_ms": float(np.percentile(ms, 50)),
                      "lag_p99_ms": float(np.percentile(ms, 99)), "n": len(ms)}))  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
