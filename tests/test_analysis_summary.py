"""summarize() and summary.json, over histories written and read the real way."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.analysis import ProbeInfo, Summary, iso_ms, summarize
from harness.analysis.summary import iso_ms_many
from harness.history import HistoryWriter, Op, convert_to_parquet, load_history
from harness.ranges import to_ranges

MS = 1_000_000
T0 = 5_000 * MS  # monotonic start of the schedule
WALL = 1_796_302_932_000 * MS  # wall = mono + WALL: 2026-12-03T13:02:12Z at mono 0
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def schedule(
    process: str,
    n: int,
    *,
    interval_ms: float = 10,
    fail: Iterable[int] = (),
    info: Iterable[int] = (),
    error_class: str = "connection_lost",
    endpoint: str = "writer.example:3306",
    changes: Mapping[int, Mapping[str, Any]] | None = None,
) -> list[Op]:
    """Attempts 0..n-1 due at T0 + k·interval, started 0.1 ms late, 2 ms long."""
    failing, unknown = set(fail), set(info)
    ops = []
    for k in range(n):
        due = T0 + round(k * interval_ms * MS)
        start, end = due + MS // 10, due + MS // 10 + 2 * MS
        outcome = "info" if k in unknown else "fail" if k in failing else "ok"
        op = Op(
            process=process, f=process.split("@")[0].split(":")[0], type=outcome, seq=k,
            intended_mono_ns=due, start_mono_ns=start, end_mono_ns=end,
            intended_ns=due + WALL, start_ns=start + WALL, end_ns=end + WALL, endpoint=endpoint,
            server=("db-1" if k < n // 2 else "db-2") if outcome == "ok" else None,
            error_class=None if outcome == "ok" else error_class,
        )  # fmt: skip
        ops.append(replace(op, **(changes or {}).get(k, {})))
    return ops


def final_read(found: Mapping[str, Iterable[int]]) -> Op:
    value = {"writer": "db-2", "found": {name: to_ranges(seqs) for name, seqs in found.items()}}
    end = T0 + 10_000 * MS
    return Op(
        process="audit", f="final_read", type="ok", value=json.dumps(value),
        start_mono_ns=end - 5 * MS, end_mono_ns=end,
        start_ns=end - 5 * MS + WALL, end_ns=end + WALL,
    )  # fmt: skip


def write_history(run_dir: Path, ops: Iterable[Op]) -> None:
    """Append ``ops`` in completion order, as a run does."""
    done = sorted(ops, key=lambda op: op.end_mono_ns if op.end_mono_ns is not None else 0)
    with HistoryWriter(run_dir / "history.jsonl") as writer:
        for op in done:
            writer.append(op)


def run_ops() -> list[Op]:
    """A small run: four probes, a CA change, and a final read."""
    write = schedule("write", 600, fail=range(100, 150), info=range(150, 160))
    read = schedule(
        "read", 600, fail=range(120, 130), error_class="tls_verify_failed",
        endpoint="reader.example:3306",
        changes={k: {"endpoint": "writer.example:3306"} for k in range(5)},
    )  # fmt: skip
    reader = schedule("read@writer", 600)
    connect = schedule("connect", 120, interval_ms=50, fail=range(115, 120), error_class="timeout")
    action = T0 + 900 * MS
    scenario = [
        Op(process="scenario", f="modify_ca", type="invoke", start_mono_ns=action,
           start_ns=action + WALL),
        Op(process="scenario", f="modify_ca", type="ok", end_mono_ns=action + 50 * MS,
           end_ns=action + 50 * MS + WALL),
    ]  # fmt: skip
    found = [k for k in range(600) if k not in range(100, 155)]  # 150..154 indeterminate missing
    return [*write, *read, *reader, *connect, *scenario, final_read({"write": found})]


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    write_history(tmp_path, run_ops())
    return tmp_path


def test_iso_ms_truncates_to_the_millisecond() -> None:
    assert iso_ms(WALL + 345 * MS + 999_999) == "2026-12-03T13:02:12.345Z"
    assert iso_ms(WALL) == "2026-12-03T13:02:12.000Z"
    assert iso_ms(0) == "1970-01-01T00:00:00.000Z"


def test_iso_ms_many_agrees_with_iso_ms() -> None:
    values = [WALL, WALL + 1, WALL + 999_999, WALL + 123_456_789_012, 0, -1, 1]
    assert iso_ms_many(values) == [iso_ms(v) for v in values]
    assert iso_ms(-1) == "1969-12-31T23:59:59.999Z"


def test_summary_json_has_the_documented_shape(run_dir: Path) -> None:
    summary = summarize(load_history(run_dir), run_id="r1", target="local")
    doc = json.loads(summary.model_dump_json(indent=2))
    assert doc["format"] == 1
    assert (doc["run_id"], doc["target"]) == ("r1", "local")
    assert ISO.match(doc["started"]) and ISO.match(doc["ended"])
    assert doc["started"] == "2026-12-03T13:02:17.000Z"  # the first attempt's due time
    assert doc["ended"] == iso_ms(T0 + 10_000 * MS + WALL)  # the final read's end
    assert doc["resolution_ms"] == 10.0
    assert set(doc["probes"]) == {"write", "read", "read@writer", "connect"}
    probe_keys = {
        "kind", "mode", "endpoint", "resolution_ms", "ops", "ok", "fail", "info",
        "downtime_ms", "longest_outage_ms", "outages", "errors", "latency_ms", "schedule_lag_ms",
    }  # fmt: skip
    outage_keys = {"start", "end", "duration_ms", "errors", "attempts", "recovered"}
    outage_keys |= {"first_seq", "last_seq"}
    percentile_keys = {"count", "p50", "p90", "p99", "p99_9", "max"}
    for probe in doc["probes"].values():
        assert probe_keys <= set(probe)
        assert set(probe["latency_ms"]) == {"from_intended", "from_start"}
        assert percentile_keys <= set(probe["latency_ms"]["from_intended"])
        assert percentile_keys <= set(probe["schedule_lag_ms"])
        for outage in probe["outages"]:
            assert outage_keys <= set(outage)
            assert ISO.match(outage["start"]) and ISO.match(outage["end"])
    audit_keys = {"status", "acknowledged", "lost", "lost_seqs", "indeterminate"}
    audit_keys |= {"indeterminate_found", "indeterminate_missing", "failed_but_found"}
    assert audit_keys <= set(doc["audit"])
    assert doc["audit_passed"] is True


def test_summary_numbers(run_dir: Path) -> None:
    summary = summarize(load_history(run_dir), run_id="r1")
    write = summary.probes["write"]
    assert (write.kind, write.mode, write.resolution_ms) == ("write", None, 10.0)
    assert (write.ops, write.ok, write.fail, write.info) == (600, 540, 50, 10)
    assert write.errors == {"connection_lost": 60}
    [outage] = write.outages
    assert outage.start == "2026-12-03T13:02:18.000Z"  # attempt 100 started at +1000.1 ms
    assert outage.end == "2026-12-03T13:02:18.600Z"
    assert outage.duration_ms == pytest.approx(600.0)
    assert (outage.attempts, outage.failed, outage.indeterminate) == (60, 50, 10)
    assert write.downtime_ms == pytest.approx(600.0)
    assert write.longest_outage_ms == pytest.approx(600.0)
    assert write.servers == {"db-1": 240, "db-2": 300}  # failover at seq 300
    assert write.latency_ms.from_intended.p50 == pytest.approx(2.1)
    assert write.latency_ms.from_start.max == pytest.approx(2.0)
    assert write.schedule_lag_ms.p99 == pytest.approx(0.1)

    read = summary.probes["read"]
    assert read.endpoint == "reader.example:3306"  # the most common one
    assert read.errors == {"tls_verify_failed": 10}
    assert read.downtime_ms == pytest.approx(100.0)

    connect = summary.probes["connect"]
    assert connect.resolution_ms == 50.0
    assert connect.down_at_end and not connect.outages[-1].recovered
    assert any(note.startswith("connect: still down") for note in summary.notes)
    assert summary.probes["read@writer"].kind == "read"
    assert summary.probes["read@writer"].outages == []

    audit = summary.audit
    assert (audit.status, audit.acknowledged, audit.lost) == ("pass", 540, 0)
    assert (audit.indeterminate, audit.indeterminate_found, audit.indeterminate_missing) == (
        10, 5, 5,
    )  # fmt: skip
    assert summary.audit_passed


def test_interval_is_derived_without_seq_zero(tmp_path: Path) -> None:
    ops = [op for op in schedule("connect", 40, interval_ms=37.5) if op.seq not in (0, 1, 39)]
    write_history(tmp_path, ops)
    summary = summarize(load_history(tmp_path), run_id="r")
    assert summary.probes["connect"].resolution_ms == pytest.approx(37.5)
    assert summary.resolution_ms == pytest.approx(37.5)


def test_probe_info_overrides_and_adds_probes(run_dir: Path) -> None:
    info = {
        "read@writer": ProbeInfo(mode="pooled", endpoint="w.example:3306", interval_ms=20),
        "write": ProbeInfo(kind="write", mode="pooled"),
        "connect:idle": ProbeInfo(kind="connect", mode="fresh", interval_ms=5),
    }
    summary = summarize(load_history(run_dir), run_id="r1", probe_info=info)
    assert list(summary.probes) == ["read@writer", "write", "connect:idle", "connect", "read"]
    reader = summary.probes["read@writer"]
    assert (reader.kind, reader.mode, reader.endpoint) == ("read", "pooled", "w.example:3306")
    assert reader.resolution_ms == 20
    assert summary.probes["write"].resolution_ms == 10.0
    idle = summary.probes["connect:idle"]
    assert (idle.ops, idle.downtime_ms, idle.resolution_ms) == (0, 0.0, 5)
    assert summary.resolution_ms == 5
    assert "connect:idle: no attempt recorded" in summary.notes


def test_lost_writes_fail_the_summary(tmp_path: Path) -> None:
    write_history(tmp_path, [*schedule("write", 50), final_read({"write": range(49)})])
    summary = summarize(load_history(tmp_path), run_id="r")
    assert summary.audit.status == "fail"
    assert summary.audit.lost_seqs == {"write": [49]}
    assert not summary.audit_passed
    assert json.loads(summary.model_dump_json())["audit_passed"] is False


def test_missing_final_read_does_not_pass(tmp_path: Path) -> None:
    write_history(tmp_path, schedule("write", 50))
    summary = summarize(load_history(tmp_path), run_id="r")
    assert summary.audit.status == "unknown"
    assert not summary.audit_passed


def test_read_only_run_passes(tmp_path: Path) -> None:
    write_history(tmp_path, schedule("read", 50, fail=[3]))
    summary = summarize(load_history(tmp_path), run_id="r")
    assert summary.audit.status == "not_applicable"
    assert summary.audit_passed
    assert summary.probes["read"].downtime_ms == pytest.approx(10.0)


def test_torn_last_line_still_summarizes(run_dir: Path) -> None:
    with (run_dir / "history.jsonl").open("a", encoding="utf-8") as f:
        f.write('{"process":"write","f":"write","type":"ok","se')
    with pytest.warns(UserWarning, match="torn last line"):
        history = load_history(run_dir)
    summary = summarize(history, run_id="r1")
    assert summary.ops == len(run_ops())
    assert summary.probes["write"].ops == 600
    assert summary.audit.status == "pass"


def test_parquet_and_jsonl_give_the_same_summary(run_dir: Path) -> None:
    from_jsonl = summarize(load_history(run_dir), run_id="r1")
    convert_to_parquet(run_dir)
    from_parquet = summarize(load_history(run_dir), run_id="r1")
    assert from_parquet.model_dump_json() == from_jsonl.model_dump_json()


def test_summary_round_trips_through_json(run_dir: Path) -> None:
    summary = summarize(load_history(run_dir), run_id="r1")
    again = Summary.model_validate_json(summary.model_dump_json(indent=2))
    assert again == summary


def test_empty_history(tmp_path: Path) -> None:
    (tmp_path / "history.jsonl").write_text("", encoding="utf-8")
    summary = summarize(load_history(tmp_path), run_id="r")
    assert (summary.started, summary.ended, summary.resolution_ms) == (None, None, None)
    assert summary.probes == {}
    assert summary.audit.status == "not_applicable"


def test_summarize_does_not_touch_its_input(run_dir: Path) -> None:
    history = load_history(run_dir)
    before = history.copy()
    summarize(history, run_id="r1")
    pd.testing.assert_frame_equal(history, before)
