"""`harness local up / status / down`: a real cluster that outlives the command starting it.

Real processes throughout: the CLI (in-process, or a subprocess where a signal is sent)
spawns the detached daemon, which runs the real engine and real MariaDB servers. Each
test checks the processes themselves: which pids run, and that none is left behind.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import UsageError
from harness.targets.base import Cluster, UnknownInstance
from harness.targets.local import lifecycle, procs
from harness.targets.local.client import LocalCluster
from harness.targets.local.ports import free_port
from harness.targets.local.server import INSTALL_HINT, find_server_binary
from harness.targets.local.statedir import StateDir
from harness.targets.local.template_cache import CACHE_ENV, template_path

WRITER = "harness-local-instance-1"
READER = "harness-local-instance-2"
NEW_CA = "rds-ca-rsa2048-g1"

needs_server = pytest.mark.mariadb


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    """A state directory that is taken down whatever the test did."""
    path = tmp_path / "local"
    try:
        yield path
    finally:
        if path.exists():
            lifecycle.down(path, timeout_s=10)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["local", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def up_args(state_dir: Path, *extra: str) -> list[str]:
    """``up`` on free ports: a developer's own cluster may hold 3307 and 3308."""
    return [
        "up", "--state-dir", str(state_dir), "--writer-port", str(free_port()),
        "--reader-port", str(free_port()), *extra,
    ]  # fmt: skip


def cluster_pids(state_dir: Path) -> set[int]:
    state = StateDir(state_dir)
    record = state.read_record()
    listed = {record.pid} if record else set()
    listed.update(state.server_pids())
    return {pid for pid in listed if procs.alive(pid)} | set(procs.cluster_processes(state.root))


def assert_nothing_left(state_dir: Path, pids: set[int]) -> None:
    assert pids, "the test should have seen the cluster's processes"
    assert [pid for pid in pids if procs.alive(pid)] == []
    assert procs.cluster_processes(StateDir(state_dir).root) == []
    assert not state_dir.exists()


def one_line_error(code: int, err: str, expected: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("harness: error: ")
    assert expected in lines[0]


@needs_server
def test_up_status_client_and_down(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *up_args(state_dir))
    assert code == 0, err
    info = asyncio.run(LocalCluster(state_dir).connection_info())
    assert "local cluster up in" in out
    assert f"writer endpoint    {info.writer_endpoint}" in out
    assert 'export HARNESS_DB_PASSWORD="$(cat ' in out
    assert "probe-password" in out and "updated-bundle.pem" in out and "stale-bundle.pem" in out
    assert (
        f"harness probe --endpoint {info.writer_endpoint} --reader-endpoint "
        f"{info.reader_endpoint} --user {info.user} --ca-bundle "
    ) in out
    pids = cluster_pids(state_dir)
    assert len(pids) == 3  # the daemon and two servers

    code, out, err = run(capsys, "status", "--state-dir", str(state_dir))
    assert code == 0, err
    for expected in (WRITER, READER, "writer", "reader", "available", "rds-ca-2019"):
        assert expected in out
    assert "local emulation, timing instant" in out
    assert info.writer_endpoint in out and "harness probe --endpoint" in out

    code, out, err = run(capsys, *up_args(state_dir))
    assert code == 0, err
    assert "already up" in out and "nothing was started" in out
    assert cluster_pids(state_dir) == pids

    asyncio.run(drive(LocalCluster(state_dir)))

    code, out, err = run(capsys, "status", "--state-dir", str(state_dir))
    assert code == 0, err
    assert f"{NEW_CA}" in out

    code, out, err = run(capsys, "down", "--state-dir", str(state_dir))
    assert code == 0, err
    assert "stopped the local cluster" in out and "2 server(s)" in out
    assert_nothing_left(state_dir, pids)

    code, out, err = run(capsys, "down", "--state-dir", str(state_dir))
    assert (code, err) == (0, "")
    assert "no local cluster is up" in out


async def drive(cluster: LocalCluster) -> None:
    """What a scenario does through the client: the views, a failover, a CA change."""
    assert isinstance(cluster, Cluster)
    since = datetime.now(UTC)
    view = await cluster.describe()
    assert [(i.identifier, i.role, i.status) for i in view.instances] == [
        (WRITER, "writer", "available"),
        (READER, "reader", "available"),
    ]
    assert {c.identifier for c in await cluster.certificates()} >= {"rds-ca-2019", NEW_CA}
    with pytest.raises(UnknownInstance, match=f"no DB instance 'nope'.*valid: {WRITER}"):
        await cluster.failover("nope")
    reader, writer = await asyncio.open_unix_connection(str(cluster.record().control_socket))
    writer.write(b'{"method": "close", "params": {}}\n')  # not allow-listed
    assert json.loads(await reader.readline())["error"]["type"] == "UnknownMethod"
    writer.close()

    await cluster.failover(READER)
    assert (await cluster.describe()).status == "failing-over"
    await cluster.wait_idle(timeout_s=30)
    view = await cluster.describe()
    assert view.writer is not None and view.writer.identifier == READER
    assert view.instance(WRITER).role == "reader"

    await cluster.modify_ca(WRITER, NEW_CA)
    assert (await cluster.describe()).instance(WRITER).status == "modifying"
    await cluster.wait_idle(timeout_s=30)
    changed = (await cluster.describe()).instance(WRITER)
    assert (changed.status, changed.ca_identifier, changed.server_cert_issuer) == (
        "available", NEW_CA, NEW_CA,
    )  # fmt: skip
    messages = [e.message for e in await cluster.events(since)]
    assert any(READER in m and "failover" in m for m in messages), messages


@needs_server
def test_ports_in_use_are_replaced_and_reported(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as writer_holder, socket.socket() as reader_holder:
        for holder in (writer_holder, reader_holder):
            holder.bind(("127.0.0.1", 0))
            holder.listen()
        taken = [str(h.getsockname()[1]) for h in (writer_holder, reader_holder)]
        code, out, err = run(
            capsys, "up", "--state-dir", str(state_dir), "--instances", "1",
            "--writer-port", taken[0], "--reader-port", taken[1],
        )  # fmt: skip
    assert code == 0, err
    info = asyncio.run(LocalCluster(state_dir).connection_info())
    assert f"port {taken[0]} was in use: the writer endpoint is {info.writer_endpoint}" in out
    assert f"port {taken[1]} was in use: the reader endpoint is {info.reader_endpoint}" in out
    assert not info.writer_endpoint.endswith(f":{taken[0]}")
    pids = cluster_pids(state_dir)
    assert run(capsys, "down", "--state-dir", str(state_dir))[0] == 0
    assert_nothing_left(state_dir, pids)


@needs_server
def test_down_kills_the_servers_of_a_dead_daemon(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, *up_args(state_dir, "--instances", "1"))[0] == 0
    pids = cluster_pids(state_dir)
    record = StateDir(state_dir).read_record()
    assert record is not None
    os.kill(record.pid, signal.SIGKILL)
    assert procs.wait_gone([record.pid], 5) == []
    servers = [pid for pid in pids if pid != record.pid]
    assert servers and all(procs.alive(pid) for pid in servers), "the servers outlive it"

    code, _, err = run(capsys, "status", "--state-dir", str(state_dir))
    one_line_error(code, err, "is not running")
    code, _, err = run(capsys, *up_args(state_dir))
    one_line_error(code, err, "was left behind")

    code, out, err = run(capsys, "down", "--state-dir", str(state_dir))
    assert code == 0, err
    assert "no daemon running" in out
    assert_nothing_left(state_dir, pids)


@needs_server
def test_ctrl_c_during_up_leaves_nothing_behind(state_dir: Path) -> None:
    command = [sys.executable, "-m", "harness.cli", "local", *up_args(state_dir)]
    cli = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + 30
        while not any(_is_server(pid) for pid in seen) and time.monotonic() < deadline:
            if cli.poll() is not None:
                pytest.fail(f"up ended before it could be interrupted: {cli.communicate()}")
            if state_dir.exists():
                seen |= set(procs.cluster_processes(StateDir(state_dir).root))
            time.sleep(0.005)
        cli.send_signal(signal.SIGINT)
        _, err = cli.communicate(timeout=30)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    assert cli.returncode == 130, err
    assert "harness: interrupted" in err
    assert_nothing_left(state_dir, seen)


def _is_server(pid: int) -> bool:
    argv = procs.cmdline(pid) or [""]
    return Path(argv[0]).name in {"mariadbd", "mysqld"}


@needs_server
def test_a_failed_start_shows_the_log_and_cleans_up(
    state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """A half-started cluster: the servers die on a datadir without system tables."""
    cache = tmp_path / "broken-cache"
    (template_path(find_server_binary(), cache) / "mysql").mkdir(parents=True)
    monkeypatch.setenv(CACHE_ENV, str(cache))
    code, _, err = run(capsys, *up_args(state_dir))
    assert code == 1, err
    assert "the local cluster did not start (its daemon exited with 1)" in err
    assert "everything it started was stopped" in err
    assert "did not start: server exited with 1 while starting" in err
    assert "[ERROR] Aborting" in err, "the instance's error log tail"
    assert procs.cluster_processes(StateDir(state_dir).root) == []
    assert not state_dir.exists()


@needs_server
def test_input_the_engine_refuses_is_one_line_and_leaves_nothing(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, *up_args(state_dir, "--instances", "16"))
    not_progress = [line for line in err.splitlines() if not line.startswith("  ")]
    one_line_error(code, "\n".join(not_progress), "1 to 15 instances, not 16")
    assert not state_dir.exists()


def test_down_when_nothing_is_up(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "down", "--state-dir", str(state_dir))
    assert (code, err) == (0, "")
    assert out.strip() == f"no local cluster is up in {state_dir.resolve()}"


def test_status_when_nothing_is_up(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "status", "--state-dir", str(state_dir))
    one_line_error(code, err, "no local cluster is up in")
    assert "run `harness local up --state-dir" in err


def test_unknown_timing_is_one_line(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "up", "--state-dir", str(state_dir), "--timing", "slow")
    one_line_error(code, err, "'slow' is not one of 'instant', 'aurora'")
    assert not state_dir.exists()


def test_missing_server_binary_gets_the_install_hint(
    state_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing() -> Path:
        raise UsageError(INSTALL_HINT)

    monkeypatch.setattr(lifecycle, "find_server_binary", missing)
    code, _, err = run(capsys, "up", "--state-dir", str(state_dir))
    one_line_error(code, err, INSTALL_HINT)
    assert not state_dir.exists()


def test_a_directory_not_made_by_up_is_refused_and_never_removed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    code, _, err = run(capsys, "up", "--state-dir", str(tmp_path))
    one_line_error(code, err, "was not made by `harness local up`")
    code, out, _ = run(capsys, "down", "--state-dir", str(tmp_path))
    assert code == 0 and "no local cluster is up" in out
    assert (tmp_path / "notes.txt").read_text() == "mine"
