"""`harness probe` end to end, as a user runs it: a real process against a real server."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

from harness.history import load_history

from support import Database, PkiFiles, ServerLauncher

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _start(db: Database, out: Path, *extra: str) -> subprocess.Popen[str]:
    env = dict(os.environ, HARNESS_DB_PASSWORD=db.password)
    return subprocess.Popen(
        [
            sys.executable, "-m", "harness.cli", "probe",
            "--endpoint", f"{db.host}:{db.port}", "--user", db.user,
            "--database", db.database, "--ca-bundle", str(db.ca_bundle), "--out", str(out),
            *extra,
        ],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _wait_for_lines(path: Path, count: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} did not reach {count} lines")


def test_restart_is_measured_and_summarized(
    mariadb_factory: ServerLauncher, tmp_path: Path
) -> None:
    db = mariadb_factory()
    out = tmp_path / "run"
    proc = _start(db, out, "--duration", "3", "--probes", "write,read,connect/20ms")
    _wait_for_lines(out / "history.jsonl", 100)
    db.server.restart()
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert db.password not in stdout + stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["audit"]["status"] == "pass"
    assert summary["audit"]["lost"] == 0
    assert summary["resolution_ms"] == 10
    for name in ("write", "read", "connect"):
        probe = summary["probes"][name]
        assert probe["ops"] == probe["ok"] + probe["fail"] + probe["info"]
        assert len(probe["outages"]) >= 1, name
        assert probe["downtime_ms"] >= probe["longest_outage_ms"] > 0
        outage = probe["outages"][0]
        assert ISO_MS.match(outage["start"]) and ISO_MS.match(outage["end"])
        assert outage["duration_ms"] > 0 and sum(outage["errors"].values()) >= 1
    # the table printed at the end carries the same numbers
    assert f"{summary['probes']['write']['downtime_ms']:.1f}" in stdout
    files = {p.name for p in out.iterdir()}
    assert {"history.jsonl", "history.parquet", "summary.json", "run.json"} <= files
    for path in out.iterdir():
        assert db.password not in path.read_text(errors="ignore"), path


def test_sigkill_keeps_what_was_recorded(mariadb: Database, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = _start(mariadb, out)
    _wait_for_lines(out / "history.jsonl", 150)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    assert not (out / "history.parquet").exists()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = load_history(out)  # a torn last line, if any, is skipped with a warning
    assert all("torn last line" in str(w.message) for w in caught)
    assert len(history) >= 150
    for _, rows in history.groupby("process"):
        seqs = sorted(rows["seq"])
        # everything up to the last flush is there; in-flight attempts may be missing
        assert seqs[: len(seqs) // 2] == list(range(len(seqs) // 2))


def test_ctrl_c_ends_cleanly_and_writes_everything(mariadb: Database, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = _start(mariadb, out, "--probes", "write")
    _wait_for_lines(out / "history.jsonl", 50)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "stopping" in stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["probes"]["write"]["ok"] >= 50
    assert summary["audit"]["status"] == "pass"
    assert len(load_history(out)) == summary["probes"]["write"]["ops"] + 1  # + final read


def test_wrong_password_is_bad_input_not_an_outage(mariadb: Database, tmp_path: Path) -> None:
    out = tmp_path / "run"
    env = dict(os.environ, HARNESS_DB_PASSWORD="wrong-password")
    proc = subprocess.run(
        [
            sys.executable, "-m", "harness.cli", "probe", "--endpoint",
            f"{mariadb.host}:{mariadb.port}", "--user", mariadb.user,
            "--ca-bundle", str(mariadb.ca_bundle), "--out", str(out), "--duration", "1",
        ],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "login refused" in proc.stderr
    assert not out.exists()


def test_password_file_and_stale_bundle_are_measured(
    mariadb: Database, pki: PkiFiles, tmp_path: Path
) -> None:
    """A CA bundle that does not verify the server is what a stale client sees: recorded."""
    secret = tmp_path / "password"
    secret.write_text(mariadb.password + "\n")
    out = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k != "HARNESS_DB_PASSWORD"}
    proc = subprocess.run(
        [
            sys.executable, "-m", "harness.cli", "probe", "--endpoint",
            f"{mariadb.host}:{mariadb.port}", "--user", mariadb.user,
            "--password-file", str(secret), "--ca-bundle", str(pki.untrusted_bundle),
            "--out", str(out), "--duration", "0.5", "--probes", "write,connect",
        ],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "tls_verify_failed at start" in proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    for name in ("write", "connect"):
        assert set(summary["probes"][name]["errors"]) == {"tls_verify_failed"}
        assert summary["probes"][name]["ok"] == 0
    # nothing acknowledged and no final read possible: the audit could not check
    assert summary["audit"]["status"] == "unknown"
    assert proc.returncode == 1
