"""Outages and latency from histories written and read the real way (HistoryWriter → file)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.analysis import Outage, find_outages, latency_by_probe, probe_ops
from harness.history import HistoryWriter, Op, load_history

MS = 1_000_000
T0 = 5_000 * MS  # monotonic start of the schedule
WALL = 1_796_302_932_000 * MS  # wall = mono + WALL: 2026-12-03T13:02:12Z at mono 0


def schedule(
    process: str,
    n: int,
    *,
    f: str | None = None,
    interval_ms: float = 10,
    first_seq: int = 0,
    latency_ms: float = 2,
    lag_ms: float = 0.1,
    fail: Iterable[int] = (),
    info: Iterable[int] = (),
    error_class: str = "connection_lost",
    changes: Mapping[int, Mapping[str, Any]] | None = None,
) -> list[Op]:
    """Attempts ``first_seq .. first_seq+n-1`` due at T0 + k·interval; ``fail``/``info``
    seqs fail or are indeterminate with ``error_class``; ``changes`` overrides fields."""
    failing, unknown = set(fail), set(info)
    interval = round(interval_ms * MS)
    ops = []
    for k in range(first_seq, first_seq + n):
        due = T0 + k * interval
        start = due + round(lag_ms * MS)
        end = start + round(latency_ms * MS)
        outcome = "info" if k in unknown else "fail" if k in failing else "ok"
        op = Op(
            process=process, f=f or process.split("@")[0], type=outcome, seq=k,
            intended_mono_ns=due, start_mono_ns=start, end_mono_ns=end,
            endpoint="writer.example:3306", server="db-1" if outcome == "ok" else None,
            error_class=None if outcome == "ok" else error_class,
        )  # fmt: skip
        op = replace(op, **(changes or {}).get(k, {}))
        ops.append(with_wall(op))
    return ops


def with_wall(op: Op) -> Op:
    """Fill the wall-clock twins from the monotonic times, as :class:`Clock` does."""
    wall = {
        name: None if mono is None else mono + WALL
        for name, mono in (
            ("intended_ns", op.intended_mono_ns),
            ("start_ns", op.start_mono_ns),
            ("end_ns", op.end_mono_ns),
        )
    }
    return replace(op, **wall)


def load(tmp_path: Path, ops: Iterable[Op]) -> pd.DataFrame:
    """Append ``ops`` in completion order, as the probes do, and load the file back."""
    done = sorted(ops, key=lambda op: op.end_mono_ns if op.end_mono_ns is not None else -1)
    with HistoryWriter(tmp_path / "history.jsonl") as writer:
        for op in done:
            writer.append(op)
    return load_history(tmp_path)


def by_seq(ops: list[Op]) -> dict[int, Op]:
    return {op.seq: op for op in ops if op.seq is not None}


def test_no_failures_means_no_outages(tmp_path: Path) -> None:
    history = load(tmp_path, schedule("write", 200) + schedule("read", 200))
    assert find_outages(history) == []


def test_one_outage_runs_from_first_failure_start_to_next_ok_start(tmp_path: Path) -> None:
    ops = schedule("write", 50, fail=range(10, 20), latency_ms=3)
    seqs = by_seq(ops)
    [outage] = find_outages(load(tmp_path, ops))
    assert outage.process == "write"
    assert outage.start_mono_ns == seqs[10].start_mono_ns
    assert outage.end_mono_ns == seqs[20].start_mono_ns
    assert outage.start_ns == seqs[10].start_ns
    assert outage.end_ns == seqs[20].start_ns
    assert outage.duration_ms == pytest.approx(100.0)
    assert (outage.first_seq, outage.last_seq) == (10, 19)
    assert (outage.attempts, outage.failed, outage.indeterminate) == (10, 10, 0)
    assert outage.errors == {"connection_lost": 10}
    assert outage.recovered


def test_ordering_is_by_intended_start_not_completion(tmp_path: Path) -> None:
    # Attempt 9 was due before the outage, hung for 5 s and then succeeded: it completes
    # (and is appended) long after attempt 20. It must neither end nor split the outage.
    ops = schedule("write", 60, fail=range(10, 20), changes={9: {"end_mono_ns": T0 + 5_000 * MS}})
    seqs = by_seq(ops)
    history = load(tmp_path, ops)
    assert history["seq"].iloc[-1] == 9  # really written last
    [outage] = find_outages(history)
    assert outage.start_mono_ns == seqs[10].start_mono_ns
    assert outage.end_mono_ns == seqs[20].start_mono_ns
    assert outage.attempts == 10


def test_late_ok_inside_failures_in_completion_order_does_not_hide_them(tmp_path: Path) -> None:
    # In completion order the ok attempt 9 sits after all failures; by intended start it is
    # before them, so attempts 10..29 form one outage, not one cut short by attempt 9.
    ops = schedule("read", 40, fail=range(10, 30), changes={9: {"end_mono_ns": T0 + 250 * MS}})
    [outage] = find_outages(load(tmp_path, ops))
    assert (outage.first_seq, outage.last_seq, outage.attempts) == (10, 29, 20)
    assert outage.duration_ms == pytest.approx(200.0)


def test_ok_attempt_that_waited_ends_outage_at_its_actual_start(tmp_path: Path) -> None:
    # Attempt 20 was due at 200 ms but only got a connection 300 ms later; it proves the
    # service was up at its actual start, not when it was due.
    waited = T0 + 200 * MS + 300 * MS
    ops = schedule(
        "write", 40, fail=range(10, 20),
        changes={20: {"start_mono_ns": waited, "end_mono_ns": waited + 2 * MS}},
    )  # fmt: skip
    seqs = by_seq(ops)
    [outage] = find_outages(load(tmp_path, ops))
    assert outage.end_mono_ns == waited
    assert outage.end_ns == seqs[20].start_ns
    assert outage.duration_ms == pytest.approx((waited - seqs[10].start_mono_ns) / MS)
    assert outage.duration_ms == pytest.approx(399.9)


def test_first_failure_without_a_start_begins_at_its_intended_time(tmp_path: Path) -> None:
    # A slot timeout: the attempt never started its network work.
    ops = schedule(
        "connect", 30, interval_ms=50, fail=range(5, 8), error_class="timeout",
        changes={5: {"start_mono_ns": None}},
    )  # fmt: skip
    seqs = by_seq(ops)
    [outage] = find_outages(load(tmp_path, ops))
    assert outage.start_mono_ns == seqs[5].intended_mono_ns
    assert outage.start_ns == seqs[5].intended_ns
    assert outage.end_mono_ns == seqs[8].start_mono_ns
    assert outage.duration_ms == pytest.approx(150.1)


def test_open_outage_at_end_of_run_ends_at_latest_attempt_end(tmp_path: Path) -> None:
    hung = T0 + 900 * MS
    ops = schedule(
        "write", 50, fail=range(40, 50), error_class="timeout",
        changes={44: {"end_mono_ns": hung}},
    )  # fmt: skip
    seqs = by_seq(ops)
    [outage] = find_outages(load(tmp_path, ops))
    assert not outage.recovered
    assert outage.start_mono_ns == seqs[40].start_mono_ns
    assert outage.end_mono_ns == hung
    assert outage.end_ns == hung + WALL
    assert outage.duration_ms == pytest.approx((hung - seqs[40].start_mono_ns) / MS)


def test_open_outage_without_any_end_falls_back_to_last_intended(tmp_path: Path) -> None:
    ops = schedule(
        "read", 20, fail=range(15, 20),
        changes={k: {"end_mono_ns": None, "start_mono_ns": None} for k in range(15, 20)},
    )  # fmt: skip
    seqs = by_seq(ops)
    [outage] = find_outages(load(tmp_path, ops))
    assert not outage.recovered
    assert outage.start_mono_ns == seqs[15].intended_mono_ns
    assert outage.end_mono_ns == seqs[19].intended_mono_ns
    assert outage.duration_ms == pytest.approx(40.0)


def test_probes_are_independent(tmp_path: Path) -> None:
    write = schedule("write", 100, fail=range(10, 20))
    read = schedule("read", 100, fail=range(30, 35), error_class="tls_verify_failed")
    reader = schedule("read@writer", 100)
    connect = schedule("connect", 20, interval_ms=50, fail=[0, 1, 19])
    outages = find_outages(load(tmp_path, write + read + reader + connect))
    summary = [(o.process, o.first_seq, o.last_seq, o.recovered) for o in outages]
    assert summary == [
        ("connect", 0, 1, True),
        ("connect", 19, 19, False),
        ("read", 30, 34, True),
        ("write", 10, 19, True),
    ]
    assert outages[2].errors == {"tls_verify_failed": 5}
    assert outages[0].duration_ms == pytest.approx(100.0)


def test_info_and_fail_are_counted_apart(tmp_path: Path) -> None:
    ops = schedule("write", 40, fail=range(10, 15), info=range(15, 22), error_class="timeout")
    [outage] = find_outages(load(tmp_path, ops))
    assert (outage.attempts, outage.failed, outage.indeterminate) == (12, 5, 7)
    assert outage.errors == {"timeout": 12}


def test_error_breakdown_per_outage(tmp_path: Path) -> None:
    classes = {10: "connection_lost", 11: "connect_refused", 12: "connect_refused"}
    classes |= {30: "read_only", 31: "read_only", 32: "tls_verify_failed"}
    ops = schedule(
        "write", 50, fail=[10, 11, 12, 13, 30, 31, 32],
        changes={k: {"error_class": v} for k, v in classes.items()} | {13: {"error_class": None}},
    )  # fmt: skip
    first, second = find_outages(load(tmp_path, ops))
    assert first.errors == {"connection_lost": 1, "connect_refused": 2, "unclassified": 1}
    assert second.errors == {"read_only": 2, "tls_verify_failed": 1}
    assert sum(first.errors.values()) == first.attempts


def test_alternating_failures_make_one_outage_each(tmp_path: Path) -> None:
    n = 1000
    ops = schedule("read", n, fail=range(1, n, 2))
    outages = find_outages(load(tmp_path, ops))
    assert len(outages) == n // 2
    assert [o.first_seq for o in outages] == list(range(1, n, 2))
    assert all(o.attempts == 1 and o.duration_ms == pytest.approx(10.0) for o in outages[:-1])
    assert not outages[-1].recovered and all(o.recovered for o in outages[:-1])


def test_other_rows_are_ignored(tmp_path: Path) -> None:
    ops = schedule("write", 30)
    mid = T0 + 100 * MS
    ops += [
        with_wall(Op(process="scenario", f="modify_ca", type="invoke", start_mono_ns=mid)),
        with_wall(Op(process="scenario", f="modify_ca", type="fail", end_mono_ns=mid + 1)),
        with_wall(Op(process="audit", f="final_read", type="fail", end_mono_ns=mid + 2)),
    ]
    history = load(tmp_path, ops)
    assert len(probe_ops(history)) == 30
    assert find_outages(history) == []
    assert set(latency_by_probe(history)) == {"write"}


def test_outage_is_hashable_and_frozen(tmp_path: Path) -> None:
    [outage] = find_outages(load(tmp_path, schedule("write", 10, fail=[3])))
    assert isinstance(outage, Outage)
    assert hash(outage) == hash(replace(outage))
    with pytest.raises(AttributeError):
        outage.duration_ms = 0.0  # type: ignore[misc]


def test_latency_percentiles_on_known_values(tmp_path: Path) -> None:
    # ok attempts k = 0..99 take k+1 ms from the intended start, having started 1 ms late.
    n = 100
    changes = {
        k: {"start_mono_ns": T0 + k * 10 * MS + MS, "end_mono_ns": T0 + k * 10 * MS + (k + 1) * MS}
        for k in range(n)
    }
    ops = schedule("read", n, changes=changes)
    # Failed attempts do not count toward latency, but do toward schedule lag.
    ops += schedule(
        "read", 10, first_seq=n, fail=range(n, n + 10), lag_ms=5, latency_ms=1000
    )  # fmt: skip
    lat = latency_by_probe(load(tmp_path, ops))["read"]
    fi = lat.from_intended
    assert (fi.count, fi.p50, fi.p90, fi.p99, fi.p99_9, fi.max) == (100, 50, 90, 99, 100, 100)
    fs = lat.from_start
    assert (fs.count, fs.p50, fs.p90, fs.p99, fs.max) == (100, 49, 89, 98, 99)
    lag = lat.schedule_lag
    assert (lag.count, lag.p50, lag.p90, lag.p99, lag.max) == (110, 1, 1, 5, 5)


def test_latency_skips_attempts_without_a_start(tmp_path: Path) -> None:
    ops = schedule("write", 20, fail=[5], changes={5: {"start_mono_ns": None}}, lag_ms=0.25)
    lat = latency_by_probe(load(tmp_path, ops))["write"]
    assert lat.schedule_lag.count == 19
    assert lat.schedule_lag.max == pytest.approx(0.25)
    assert lat.from_intended.count == 19
    assert lat.from_intended.p50 == pytest.approx(2.25)
    assert lat.from_start.p99_9 == pytest.approx(2.0)


def test_probe_without_ok_has_empty_latency(tmp_path: Path) -> None:
    lat = latency_by_probe(load(tmp_path, schedule("connect", 5, fail=range(5))))["connect"]
    assert lat.from_intended.count == 0
    assert lat.from_intended.p50 is None and lat.from_start.max is None
    assert lat.schedule_lag.count == 5
