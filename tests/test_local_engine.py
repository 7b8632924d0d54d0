"""The emulated Aurora cluster, end to end: real servers, real probes through its endpoints.

Every test starts its own cluster (``instant`` timing, servers copied from the session's
template datadir) inside its own event loop, because the endpoints are proxies on that
loop, and closes it; no test may leave a server running.
"""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.analysis import audit_writes, find_outages
from harness.probes.connection import ConnectionSettings, Endpoint, open_connection
from harness.probes.tls import client_context
from harness.targets.base import (
    Cluster,
    ClusterEvent,
    InvalidState,
    UnknownCertificate,
    UnknownInstance,
)
from harness.targets.local import events as ev
from harness.targets.local.engine import ConnectionInfo, LocalClusterEngine
from harness.targets.local.server import ServerError, live_pids
from harness.targets.local.state import read_state
from harness.targets.local.timing import Timing

from probing import probe_rows, run_probes, spec

OLD_CA = "rds-ca-2019"
NEW_CA = "rds-ca-rsa2048-g1"
WRITER = "harness-local-instance-1"
READER = "harness-local-instance-2"
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@pytest.fixture
def state_root(local_root: Path) -> Path:
    """A short directory per test (unix socket paths must stay under 108 bytes)."""
    return Path(tempfile.mkdtemp(dir=local_root, prefix="e-"))


@pytest.fixture
def run(mariadb_template: Path, state_root: Path) -> Callable[..., Any]:
    """``run(scenario, **create_args)``: a cluster for ``scenario(engine)``, then closed."""

    def runner(scenario: Callable[[LocalClusterEngine], Awaitable[Any]], **kwargs: Any) -> Any:
        async def main() -> Any:
            async with asyncio.timeout(45):
                async with cluster(state_root / "state", mariadb_template, **kwargs) as engine:
                    return await scenario(engine)

        others = set(live_pids())  # servers of other fixtures (the session's ``mariadb``)
        result = asyncio.run(main())
        assert set(live_pids()) <= others, "a server outlived its cluster"
        return result

    return runner


@asynccontextmanager
async def cluster(
    state_dir: Path, template: Path, **kwargs: Any
) -> AsyncIterator[LocalClusterEngine]:
    engine = await LocalClusterEngine.create(state_dir, template=template, **kwargs)
    try:
        yield engine
    finally:
        await engine.close()
    assert engine.failures == [], engine.failures


def settings(info: ConnectionInfo, bundle: Path | None = None) -> ConnectionSettings:
    return ConnectionSettings(
        user=info.user, password=info.read_password(), database=info.database,
        ssl_context=client_context(bundle or info.updated_bundle),
        connect_timeout_s=1.0, query_timeout_s=1.0,
    )  # fmt: skip


def endpoint(text: str) -> Endpoint:
    return Endpoint.parse(text)


def port_of(engine_view_endpoint: str | None) -> str:
    assert engine_view_endpoint is not None
    return ":" + engine_view_endpoint.rsplit(":", 1)[1]


def messages(events: list[ClusterEvent], source: str) -> list[str]:
    return [e.message for e in events if e.source_identifier == source]


def in_order(seen: list[str], expected: list[str]) -> bool:
    """``expected`` appears in ``seen`` as a subsequence."""
    remaining = iter(seen)
    return all(any(item == want for item in remaining) for want in expected)


async def after(delay_s: float, action: Callable[[], Awaitable[None]]) -> None:
    await asyncio.sleep(delay_s)
    await action()


def servers_in_order(rows: pd.DataFrame) -> list[str]:
    seen: list[str] = []
    for server in rows.loc[rows["type"] == "ok", "server"]:
        if not seen or seen[-1] != server:
            seen.append(str(server))
    return seen


# -- failover ------------------------------------------------------------------------------


def test_fenced_failover_loses_no_write_and_moves_the_writer_endpoint(
    run: Callable[..., Any], tmp_path: Path
) -> None:
    async def scenario(
        engine: LocalClusterEngine,
    ) -> tuple[pd.DataFrame, Any, Any, list[ClusterEvent]]:
        assert isinstance(engine, Cluster)
        since = datetime.now(UTC)
        before = await engine.describe()
        info = engine.connection_info()

        async def fail_over() -> None:
            await engine.failover(READER)
            assert (await engine.describe()).status == "failing-over"
            await engine.wait_idle()

        history = await run_probes(
            tmp_path, [spec("write")], endpoint(info.writer_endpoint), settings(info), 1.6,
            lambda: after(0.5, fail_over),
        )  # fmt: skip
        return history, before, await engine.describe(), await engine.events(since)

    history, before, after_view, events = run(scenario)
    audit = audit_writes(history)
    assert audit.status == "pass", audit.reason
    assert audit.acknowledged > 100
    writes = probe_rows(history, "write")
    servers = servers_in_order(writes)
    assert len(servers) == 2, servers
    assert servers[0].endswith(port_of(before.instance(WRITER).endpoint))
    assert servers[1].endswith(port_of(before.instance(READER).endpoint))
    assert after_view.writer.identifier == READER
    assert after_view.status == "available"
    old = after_view.instance(WRITER)
    assert (old.role, old.status) == ("reader", "available")
    cluster_events = messages(events, "harness-local")
    assert cluster_events == [
        ev.FAILOVER_STARTED.format(target=READER),
        ev.FAILOVER_COMPLETED.format(target=READER),
    ]
    assert in_order(messages(events, WRITER), [ev.SHUTDOWN, ev.RESTARTED])
    outages = [o for o in find_outages(history) if o.process == "write"]
    assert len(outages) == 1 and outages[0].recovered
    assert outages[0].duration_ms < 1000, outages


def test_unfenced_failover_loses_acknowledged_writes_and_the_audit_says_so(
    run: Callable[..., Any], tmp_path: Path
) -> None:
    async def scenario(engine: LocalClusterEngine) -> tuple[pd.DataFrame, Any, list[ClusterEvent]]:
        since = datetime.now(UTC)
        info = engine.connection_info()

        async def split_brain() -> None:
            await engine.failover(READER, fenced=False, split_brain_s=0.5)
            await engine.wait_idle()

        history = await run_probes(
            tmp_path, [spec("write")], endpoint(info.writer_endpoint), settings(info), 1.8,
            lambda: after(0.4, split_brain),
        )  # fmt: skip
        return history, await engine.describe(), await engine.events(since)

    history, view, events = run(scenario)
    audit = audit_writes(history)
    assert audit.status == "fail", audit.reason
    assert audit.lost is not None and audit.lost >= 10  # ~50: 0.5 s of 10 ms writes
    assert view.writer.identifier == READER
    old = view.instance(WRITER)
    assert (old.role, old.status) == ("reader", "available")
    assert in_order(messages(events, WRITER), [ev.SHUTDOWN, ev.DATA_DISCARDED, ev.RESTARTED])


def test_failover_with_delays_looks_like_aurora(run: Callable[..., Any], tmp_path: Path) -> None:
    """A scaled-down ``aurora`` timing: the old writer drops its connections at once, comes
    back read-only, and writes succeed only when the endpoint has moved to the new writer."""
    timing = Timing(
        name="mini-aurora", description="aurora's shape, scaled down for a test",
        failover_promote_s=0.8, old_writer_down_s=0.3, endpoint_move_delay_s=0.4,
    )  # fmt: skip

    async def scenario(engine: LocalClusterEngine) -> tuple[pd.DataFrame, Any]:
        info = engine.connection_info()

        async def fail_over() -> None:
            await engine.failover(READER)
            await engine.wait_idle()

        history = await run_probes(
            tmp_path, [spec("write")], endpoint(info.writer_endpoint), settings(info), 2.5,
            lambda: after(0.3, fail_over),
        )  # fmt: skip
        return history, await engine.describe()

    history, view = run(scenario, timing=timing)
    assert view.emulation == "mini-aurora"
    assert view.writer.identifier == READER
    (outage,) = find_outages(history)
    assert outage.recovered
    # promote 0.8 s + endpoint 0.4 s after the request; the outage starts only when the
    # old writer's shutdown has taken effect (up to ~0.3 s later on a busy machine)
    assert 900 <= outage.duration_ms < 2000, outage
    assert set(outage.errors) <= {"connection_lost", "connect_refused", "read_only"}
    assert "read_only" in outage.errors, "the old writer came back read-only before the move"
    assert audit_writes(history).status == "pass"


# -- certificates --------------------------------------------------------------------------


def test_ca_change_breaks_stale_clients_only(run: Callable[..., Any], tmp_path: Path) -> None:
    async def scenario(
        engine: LocalClusterEngine,
    ) -> tuple[pd.DataFrame, pd.DataFrame, list[str], list[ClusterEvent]]:
        since = datetime.now(UTC)
        info = engine.connection_info()
        statuses: list[str] = []

        async def change() -> None:
            await engine.modify_ca(WRITER, NEW_CA)
            statuses.append((await engine.describe()).instance(WRITER).status)
            await engine.wait_idle()
            done = (await engine.describe()).instance(WRITER)
            statuses.append(done.status)
            assert (done.ca_identifier, done.server_cert_issuer) == (NEW_CA, NEW_CA)
            assert done.pending_ca_identifier is None

        updated, stale = await asyncio.gather(
            run_probes(
                tmp_path / "updated", [spec("write"), spec("connect", interval_ms=50)],
                endpoint(info.writer_endpoint), settings(info), 1.5, lambda: after(0.4, change),
            ),
            run_probes(
                tmp_path / "stale", [spec("connect", interval_ms=50)],
                endpoint(info.writer_endpoint), settings(info, info.stale_bundle), 1.5,
            ),
        )  # fmt: skip
        return updated, stale, statuses, await engine.events(since)

    updated, stale, statuses, events = run(scenario)
    assert statuses == ["modifying", "available"]
    assert in_order(
        messages(events, WRITER),
        [
            ev.CA_APPLYING.format(ca=NEW_CA),
            ev.SHUTDOWN,
            ev.RESTARTED,
            ev.CA_APPLIED.format(ca=NEW_CA),
        ],
    )
    fresh = probe_rows(updated, "connect").query("type == 'ok'")
    assert fresh["peer_issuer_cn"].iloc[0] == OLD_CA
    assert fresh["peer_issuer_cn"].iloc[-1] == NEW_CA
    assert probe_rows(updated, "connect")["type"].iloc[-1] == "ok"
    assert audit_writes(updated).status == "pass"
    stale_rows = probe_rows(stale, "connect")
    assert stale_rows["type"].iloc[0] == "ok"
    assert stale_rows["peer_issuer_cn"].iloc[0] == OLD_CA
    assert set(stale_rows["error_class"].iloc[-5:]) == {"tls_verify_failed"}


def test_rotation_without_restart_keeps_pooled_connections(
    run: Callable[..., Any], tmp_path: Path
) -> None:
    new_ca = "rds-ca-ecc384-g1"

    rotated_ns: list[int] = []

    async def scenario(engine: LocalClusterEngine) -> tuple[pd.DataFrame, list[ClusterEvent]]:
        since = datetime.now(UTC)
        info = engine.connection_info()

        async def rotate() -> None:
            held = await open_connection(endpoint(info.writer_endpoint), settings(info))
            await engine.modify_ca(WRITER, new_ca, rotation_restart=False)
            await engine.wait_idle()
            rotated_ns.append(time.time_ns())
            # a session opened before the rotation keeps working, on the old certificate
            assert await held.fetch_one("SELECT 1") == (1,)
            assert held.tls.issuer_cn == OLD_CA
            await held.close()

        history = await run_probes(
            tmp_path, [spec("write"), spec("read"), spec("connect", interval_ms=50)],
            endpoint(info.writer_endpoint), settings(info), 1.2, lambda: after(0.4, rotate),
        )  # fmt: skip
        view = (await engine.describe()).instance(WRITER)
        assert (view.status, view.ca_identifier, view.server_cert_issuer) == (
            "available", new_ca, new_ca,
        )  # fmt: skip
        return history, await engine.events(since)

    history, events = run(scenario)
    assert set(history.loc[history["process"] != "audit", "type"]) == {"ok"}, "no failed op"
    for name in ("write", "read", "connect"):
        later = probe_rows(history, name).query(f"start_ns > {rotated_ns[0]}")
        assert len(later) > 5
        assert set(later.query("new_conn")["peer_issuer_cn"]) <= {new_ca}, "new sessions: new CA"
    assert probe_rows(history, "connect")["peer_issuer_cn"].iloc[-1] == new_ca
    writer_events = messages(events, WRITER)
    assert writer_events[-1] == ev.CA_ROTATED_NO_RESTART.format(ca=new_ca)
    assert ev.SHUTDOWN not in writer_events


# -- requests that are refused, pending modifications --------------------------------------


def test_bad_requests_raise_typed_errors_and_change_nothing(run: Callable[..., Any]) -> None:
    async def scenario(engine: LocalClusterEngine) -> None:
        before, events_before = await engine.describe(), await engine.events(EPOCH)
        with pytest.raises(UnknownInstance, match=f"valid: {WRITER}, {READER}"):
            await engine.modify_ca("nope", NEW_CA)
        with pytest.raises(UnknownCertificate, match="rds-ca-rsa4096-g1"):
            await engine.modify_ca(WRITER, "rds-ca-2015")
        with pytest.raises(UnknownInstance):
            await engine.modify_ca("nope", "rds-ca-2015")
        with pytest.raises(InvalidState, match="fail over first"):
            await engine.delete_instance(WRITER)
        with pytest.raises(InvalidState, match="already the writer"):
            await engine.failover(WRITER)
        with pytest.raises(InvalidState, match="already exists"):
            await engine.create_reader(READER)
        with pytest.raises(UnknownCertificate):
            await engine.create_reader("harness-local-instance-9", ca="rds-ca-2015")
        with pytest.raises(UnknownInstance):
            await engine.reboot("nope")
        assert await engine.describe() == before
        assert await engine.events(EPOCH) == events_before

        await engine.modify_ca(READER, NEW_CA)  # in progress: a second request is refused
        with pytest.raises(InvalidState, match="modifying"):
            await engine.modify_ca(READER, OLD_CA)
        await engine.wait_idle()

    run(scenario)


def test_pending_ca_is_applied_at_the_next_reboot(run: Callable[..., Any]) -> None:
    async def scenario(engine: LocalClusterEngine) -> None:
        since = datetime.now(UTC)
        events_before = await engine.events(EPOCH)
        await engine.modify_ca(READER, NEW_CA, apply_immediately=False)
        pending = (await engine.describe()).instance(READER)
        assert (pending.status, pending.ca_identifier, pending.pending_ca_identifier) == (
            "available", OLD_CA, NEW_CA,
        )  # fmt: skip
        assert await engine.events(EPOCH) == events_before, "pending: nothing happens yet"
        await engine.reboot(READER)
        assert (await engine.describe()).instance(READER).status == "rebooting"
        await engine.wait_idle()
        done = (await engine.describe()).instance(READER)
        assert (done.status, done.ca_identifier, done.pending_ca_identifier) == (
            "available", NEW_CA, None,
        )  # fmt: skip
        assert done.server_cert_issuer == NEW_CA
        assert in_order(messages(await engine.events(since), READER), [ev.SHUTDOWN, ev.RESTARTED])

    run(scenario)


def test_a_failed_operation_is_recorded_not_lost(
    run: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario(engine: LocalClusterEngine) -> None:
        async def broken(name: str, ca: str) -> None:
            raise RuntimeError("no certificate today")

        monkeypatch.setattr(engine.core, "issue", broken)
        await engine.modify_ca(READER, NEW_CA)
        await engine.wait_idle()
        failed = (await engine.describe()).instance(READER)
        assert (failed.status, failed.ca_identifier) == ("failed", OLD_CA)
        last = (await engine.events(EPOCH))[-1]
        assert last.source_identifier == READER
        assert last.message == ev.OPERATION_FAILED.format(
            operation="modify_ca", reason="no certificate today"
        )
        assert engine.failures == ["modify_ca: no certificate today"]
        engine.failures.clear()  # seen; the cluster fixture checks that no other one failed

    run(scenario)


# -- membership ------------------------------------------------------------------------------


def test_create_reader_spreads_reads_then_delete(run: Callable[..., Any], tmp_path: Path) -> None:
    new = "harness-local-instance-3"

    async def reads(engine: LocalClusterEngine, run_dir: Path) -> set[str]:
        info = engine.connection_info()
        history = await run_probes(
            run_dir, [spec("read", mode="fresh", interval_ms=20)],
            endpoint(info.reader_endpoint), settings(info), 0.4,
        )  # fmt: skip
        rows = probe_rows(history, "read")
        assert set(rows["type"]) == {"ok"}
        assert not rows["read_only"].isna().any()
        return {str(s) for s in rows["server"]}

    async def scenario(engine: LocalClusterEngine) -> None:
        since = datetime.now(UTC)
        await engine.create_reader(new, ca="rds-ca-rsa4096-g1", promotion_tier=0)
        assert (await engine.describe()).instance(new).status == "creating"
        await engine.wait_idle()
        view = await engine.describe()
        created = view.instance(new)
        assert (created.status, created.role, created.promotion_tier) == ("available", "reader", 0)
        assert created.server_cert_issuer == "rds-ca-rsa4096-g1"
        served = await reads(engine, tmp_path / "three")
        assert {s[s.rindex(":") :] for s in served} == {
            port_of(view.instance(READER).endpoint), port_of(created.endpoint),
        }  # fmt: skip

        directory = engine.core.instances[new].server.base_dir
        await engine.delete_instance(new)
        assert (await engine.describe()).instance(new).status == "deleting"
        await engine.delete_instance(READER)
        await engine.wait_idle()
        after_view = await engine.describe()
        assert [i.identifier for i in after_view.instances] == [WRITER]
        assert not directory.exists()
        assert messages(await engine.events(since), new) == [ev.CREATED, ev.DELETED]
        # no reader left: the reader endpoint leads to the writer, as Aurora's does
        served = await reads(engine, tmp_path / "none")
        assert {s[s.rindex(":") :] for s in served} == {port_of(view.instance(WRITER).endpoint)}

    run(scenario)


# -- chaos knobs -----------------------------------------------------------------------------


def test_crash_of_the_writer_restarts_it_and_replication_resumes(
    run: Callable[..., Any], tmp_path: Path
) -> None:
    async def scenario(engine: LocalClusterEngine) -> pd.DataFrame:
        since = datetime.now(UTC)
        info = engine.connection_info()
        old_pids = engine.pids()

        async def crash() -> None:
            await engine.kill_instance(WRITER)
            assert (await engine.describe()).instance(WRITER).status == "rebooting"
            await engine.wait_idle()

        history = await run_probes(
            tmp_path, [spec("write")], endpoint(info.writer_endpoint), settings(info), 1.2,
            lambda: after(0.3, crash),
        )  # fmt: skip
        assert (await engine.describe()).instance(WRITER).status == "available"
        assert set(engine.pids()) != set(old_pids)
        assert in_order(messages(await engine.events(since), WRITER), [ev.SHUTDOWN, ev.RESTARTED])
        # the reader follows the restarted writer (it retries every second)
        core = engine.core
        await core.wait_caught_up(core.instances[READER], timeout_s=10)
        return history

    history = run(scenario)
    audit = audit_writes(history)
    assert audit.status == "pass", audit.reason
    (outage,) = find_outages(history)
    assert outage.recovered


def test_endpoint_fault_is_held_for_its_window(run: Callable[..., Any], tmp_path: Path) -> None:
    async def scenario(engine: LocalClusterEngine) -> tuple[pd.DataFrame, Any]:
        info = engine.connection_info()

        async def fault() -> None:
            await engine.inject_fault("writer", "reset", 0.3)
            with pytest.raises(InvalidState, match="already has a reset fault"):
                await engine.inject_fault("writer", "blackhole", 0.3)
            await engine.wait_idle()

        history = await run_probes(
            tmp_path, [spec("write")], endpoint(info.writer_endpoint), settings(info), 1.0,
            lambda: after(0.3, fault),
        )  # fmt: skip
        return history, engine.fault_windows("writer")

    history, windows = run(scenario)
    (window,) = windows
    (outage,) = find_outages(history)
    assert abs(outage.start_ns - window.start_ns) < 20e6
    # The end is exact to ~10 ms when the loop runs freely (benchmarks/accuracy.py); one CI
    # run saw the probes' event loop stall ~0.34 s right at the window's end, hence slack.
    assert abs(outage.end_ns - window.end_ns) < 500e6


# -- lifecycle -------------------------------------------------------------------------------


def test_state_ports_and_close(mariadb_template: Path, state_root: Path) -> None:
    """A taken port is replaced and reported; state.json lists the pids; close ends them."""
    notes: list[str] = []

    async def scenario() -> list[int]:
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            taken = busy.getsockname()[1]
            engine = await LocalClusterEngine.create(
                state_root / "state", template=mariadb_template, writer_port=taken,
                progress=notes.append,
            )  # fmt: skip
        try:
            info = engine.connection_info()
            assert info.writer_endpoint != f"127.0.0.1:{taken}"
            assert any(f"port {taken} is in use" in n and info.writer_endpoint in n for n in notes)
            password_mode = stat.S_IMODE(info.password_file.stat().st_mode)
            assert password_mode == 0o600
            assert info.read_password() not in (state_root / "state" / "state.json").read_text()
            state = read_state(state_root / "state")
            assert state is not None
            assert sorted(state.pids) == sorted(engine.pids())
            assert [i.name for i in state.instances] == [WRITER, READER]
            assert state.writer_endpoint_instance == WRITER
            pids = engine.pids()
            assert len(pids) == 2
        finally:
            await engine.close()
        await engine.close()  # idempotent
        return pids

    others = set(live_pids())
    pids = asyncio.run(scenario())
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert set(live_pids()) <= others
    state = read_state(state_root / "state")
    assert state is not None and state.status == "stopped" and state.pids == []


def test_half_started_cluster_is_cleaned_up_and_explained(state_root: Path) -> None:
    broken = state_root / "broken-template"
    (broken / "mysql").mkdir(parents=True)  # no system tables: the server refuses to start

    async def scenario() -> None:
        with pytest.raises(ServerError, match=f"DB instance {WRITER} did not start") as exc:
            await LocalClusterEngine.create(state_root / "state", template=broken)
        assert "mysql" in str(exc.value).lower()  # the error log's tail names the problem

    others = set(live_pids())
    asyncio.run(scenario())
    assert set(live_pids()) <= others
