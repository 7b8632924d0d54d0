"""Real probes against a real MariaDB on 127.0.0.1, faults injected by a real TCP proxy.

The accuracy assertions are the ones the issue sets (|measured − injected| within the
interval + 5 ms); the benchmarks measure accuracy over more and longer windows.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pandas as pd

from harness.analysis import audit_writes, find_outages
from harness.probes.connection import Endpoint
from harness.targets.local.proxy import FaultProxy, FaultWindow

from probing import probe_rows, run_probes, settings_for, spec
from support import Database, PkiFiles, ServerLauncher

INTERVAL_MS = 10.0
TOLERANCE_NS = int((INTERVAL_MS + 5) * 1e6)


def test_write_read_connect_record_what_the_server_said(mariadb: Database, tmp_path: Path) -> None:
    specs = [spec("write"), spec("read"), spec("connect", interval_ms=50)]
    endpoint = Endpoint(mariadb.host, mariadb.port)
    history = asyncio.run(run_probes(tmp_path, specs, endpoint, settings_for(mariadb), 0.5))
    writes = probe_rows(history, "write")
    assert len(writes) >= 40
    assert set(writes["type"]) == {"ok"}
    assert list(writes["seq"]) == list(range(len(writes)))
    # open loop: attempt k is due exactly k intervals after attempt 0
    due = writes["intended_mono_ns"] - writes["intended_mono_ns"].iloc[0]
    assert (due == writes["seq"] * int(INTERVAL_MS * 1e6)).all()
    for name in ("write", "read", "connect"):
        rows = probe_rows(history, name)
        assert (rows["peer_issuer_cn"] == "rds-ca-rsa2048-g1").all(), name
        assert rows["tls_version"].isin(["TLSv1.2", "TLSv1.3"]).all(), name
        assert (rows["server"] == f"{_hostname(mariadb)}:{mariadb.port}").all(), name
        assert (rows["peer_ip"] == "127.0.0.1").all(), name
        assert (rows["start_mono_ns"] >= rows["intended_mono_ns"]).all(), name
        assert (rows["end_mono_ns"] >= rows["start_mono_ns"]).all(), name
        assert rows["peer_not_after"].str.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$").all()
    assert probe_rows(history, "connect")["new_conn"].all()
    # pooled: warmed up before t0 and reused; it grows only while attempts are slow (the
    # first inserts into a new table on a fresh CI machine opened 16 in one run)
    assert probe_rows(history, "write")["new_conn"].mean() < 0.5
    assert (probe_rows(history, "read")["read_only"] == False).all()  # noqa: E712
    audit = audit_writes(history)
    assert audit.status == "pass"
    assert audit.acknowledged == len(writes)
    stored = mariadb.server.execute(
        "SELECT COUNT(*) FROM harness.harness_probe_writes WHERE run_id = %s",
        (_run_id(history, mariadb),),
    )[0][0]
    assert stored == len(writes)


def _hostname(db: Database) -> str:
    return str(db.server.execute("SELECT @@hostname")[0][0])


def _run_id(history: pd.DataFrame, db: Database) -> str:
    seq0 = probe_rows(history, "write")["intended_ns"].iloc[0]
    rows = db.server.execute(
        "SELECT run_id FROM harness.harness_probe_writes WHERE probe = 'write' AND seq = 0 "
        "AND client_ns = %s",
        (int(seq0),),
    )
    return str(rows[0][0])


async def _inject_after(
    proxy: FaultProxy, kind: str, delay_s: float, duration_s: float, out: list[FaultWindow]
) -> None:
    await asyncio.sleep(delay_s)
    out.append(await proxy.inject(kind, duration_s))  # type: ignore[arg-type]


def _measure_fault(db: Database, run_dir: Path, kind: str, duration_s: float) -> tuple:  # type: ignore[type-arg]
    async def go() -> tuple[pd.DataFrame, FaultWindow]:
        windows: list[FaultWindow] = []
        async with FaultProxy((db.host, db.port)) as proxy:
            history = await run_probes(
                run_dir, [spec("write"), spec("read")], Endpoint("127.0.0.1", proxy.port),
                settings_for(db), 0.6 + duration_s + 0.4,
                lambda: _inject_after(proxy, kind, 0.6, duration_s, windows),
            )  # fmt: skip
        return history, windows[0]

    return asyncio.run(go())


def _assert_matches(history: pd.DataFrame, window: FaultWindow) -> None:
    outages = find_outages(history)
    for process in ("write", "read"):
        mine = [o for o in outages if o.process == process]
        assert len(mine) == 1, (process, mine)
        outage = mine[0]
        assert outage.recovered
        assert abs(outage.start_ns - window.start_ns) <= TOLERANCE_NS, (process, outage, window)
        assert abs(outage.end_ns - window.end_ns) <= TOLERANCE_NS, (process, outage, window)


def test_reset_outage_matches_the_injected_window(mariadb: Database, tmp_path: Path) -> None:
    history, window = _measure_fault(mariadb, tmp_path, "reset", 0.3)
    _assert_matches(history, window)
    errors = set(history.loc[history["type"] != "ok", "error_class"])
    assert errors <= {"connection_lost", "connect_refused"}, errors


def test_blackhole_outage_matches_the_injected_window(mariadb: Database, tmp_path: Path) -> None:
    history, window = _measure_fault(mariadb, tmp_path, "blackhole", 0.3)
    _assert_matches(history, window)
    # writes cut off after they were sent have an unknown outcome: info, never ok or fail
    write_failures = probe_rows(history, "write").query("type != 'ok'")
    assert "info" in set(write_failures["type"])
    read_failures = probe_rows(history, "read").query("type != 'ok'")
    assert set(read_failures["type"]) == {"fail"}, "a failed read is never indeterminate"
    audit = audit_writes(history)
    assert audit.status == "pass"
    assert audit.indeterminate == audit.indeterminate_found + audit.indeterminate_missing  # type: ignore[operator]
    assert audit.indeterminate >= 1


def test_stale_trust_store_never_recovers(mariadb: Database, pki: PkiFiles, tmp_path: Path) -> None:
    settings = settings_for(mariadb, pki.untrusted_bundle)
    history = asyncio.run(
        run_probes(
            tmp_path, [spec("connect", interval_ms=50)], Endpoint(mariadb.host, mariadb.port),
            settings, 0.4, check_first=False,
        )
    )  # fmt: skip
    rows = probe_rows(history, "connect")
    assert set(rows["error_class"]) == {"tls_verify_failed"}
    (outage,) = find_outages(history)
    assert not outage.recovered
    assert outage.attempts == len(rows)


def test_read_only_writer_fails_writes_definitely(
    mariadb_factory: ServerLauncher, tmp_path: Path
) -> None:
    db = mariadb_factory(read_only=True)
    db.server.execute(
        "CREATE TABLE harness.harness_probe_writes (run_id VARCHAR(64), probe VARCHAR(64), "
        "seq BIGINT, client_ns BIGINT, server_ts TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6), "
        "PRIMARY KEY (run_id, probe, seq))"
    )
    history = asyncio.run(
        run_probes(tmp_path, [spec("write")], Endpoint(db.host, db.port), settings_for(db), 0.2)
    )
    writes = probe_rows(history, "write")
    assert set(writes["type"]) == {"fail"}  # the server said no: definitely not written
    assert set(writes["error_class"]) == {"read_only"}
    assert writes["read_only"].all()
    assert audit_writes(history).acknowledged == 0


def test_attempts_wait_for_a_slot_and_say_so(mariadb: Database, tmp_path: Path) -> None:
    """With two slots and hanging attempts, later ones time out waiting: nothing sent."""

    async def go() -> pd.DataFrame:
        async with FaultProxy((mariadb.host, mariadb.port)) as proxy:
            windows: list[FaultWindow] = []
            return await run_probes(
                tmp_path, [spec("read", max_in_flight=2, deadline_s=0.4)],
                Endpoint("127.0.0.1", proxy.port),
                settings_for(mariadb, connect_timeout_s=0.2, query_timeout_s=0.2),
                1.2, lambda: _inject_after(proxy, "blackhole", 0.2, 0.7, windows),
            )  # fmt: skip

    reads = probe_rows(asyncio.run(go()), "read")
    never_started = reads[reads["start_ns"].isna()]
    assert len(never_started) > 0
    assert set(never_started["error_class"]) == {"timeout"}
    assert never_started["message"].str.contains("no free slot").all()
    assert reads["type"].iloc[-1] == "ok", "recovers after the window"
