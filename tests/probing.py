"""Test-only helpers to run real probes against a real server and read what they wrote."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import pandas as pd

from harness.history import Clock, HistoryWriter, load_history
from harness.probes.connection import ConnectionSettings, Endpoint
from harness.probes.session import Endpoints, ProbeSession, SessionConfig, preflight
from harness.probes.spec import (
    ProbeKind,
    ProbeMode,
    ProbeSpec,
    Role,
    default_max_in_flight,
)
from harness.probes.tls import client_context

from support import Database, unique_name


def settings_for(
    db: Database,
    bundle: Path | None = None,
    *,
    connect_timeout_s: float = 1.0,
    query_timeout_s: float = 1.0,
    password: str | None = None,
    database: str | None = None,
) -> ConnectionSettings:
    return ConnectionSettings(
        user=db.user,
        password=db.password if password is None else password,
        database=database or db.database,
        ssl_context=client_context(bundle or db.ca_bundle),
        connect_timeout_s=connect_timeout_s,
        query_timeout_s=query_timeout_s,
    )


def spec(
    kind: str,
    *,
    interval_ms: float = 10.0,
    mode: str | None = None,
    name: str | None = None,
    max_in_flight: int | None = None,
    deadline_s: float = 2.0,
) -> ProbeSpec:
    probe_kind = ProbeKind(kind)
    probe_mode = ProbeMode(mode) if mode else (
        ProbeMode.FRESH if probe_kind is ProbeKind.CONNECT else ProbeMode.POOLED
    )  # fmt: skip
    return ProbeSpec(
        name=name or kind, kind=probe_kind, mode=probe_mode, role=Role.WRITER,
        interval_ms=interval_ms,
        max_in_flight=max_in_flight or default_max_in_flight(interval_ms, deadline_s),
    )  # fmt: skip


async def run_probes(
    run_dir: Path,
    specs: Sequence[ProbeSpec],
    endpoint: Endpoint,
    settings: ConnectionSettings,
    duration_s: float,
    during: Callable[[], Awaitable[object]] | None = None,
    *,
    run_id: str | None = None,
    check_first: bool = True,
) -> pd.DataFrame:
    """Probe for ``duration_s`` while ``during()`` runs; return the loaded history."""
    config = SessionConfig(Endpoints(endpoint), settings, specs, run_id or unique_name("run"))
    if check_first:
        await preflight(config)
    run_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (test setup, not a hot path)
    with HistoryWriter(run_dir / "history.jsonl") as history:
        session = ProbeSession(config, history, Clock())
        stop = asyncio.Event()
        side = asyncio.create_task(during()) if during is not None else None
        await session.run(stop, duration_s=duration_s)
        if side is not None:
            await side
    return load_history(run_dir)


def probe_rows(history: pd.DataFrame, process: str) -> pd.DataFrame:
    rows = history[history["process"] == process]
    return rows.sort_values("seq").reset_index(drop=True)
