"""The write audit against a final read, over histories written and read the real way."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd
import pytest

from harness.analysis import AuditResult, audit_writes
from harness.history import HistoryWriter, Op, load_history
from harness.ranges import to_ranges

MS = 1_000_000
T0 = 5_000 * MS
WALL = 1_796_302_932_000 * MS


def writes(
    n: int,
    *,
    process: str = "write",
    fail: Iterable[int] = (),
    info: Iterable[int] = (),
    f: str = "write",
) -> list[Op]:
    """``n`` write attempts on a 10 ms schedule; ``fail``/``info`` seqs did not succeed."""
    failing, unknown = set(fail), set(info)
    ops = []
    for k in range(n):
        due = T0 + k * 10 * MS
        outcome = "info" if k in unknown else "fail" if k in failing else "ok"
        ops.append(
            Op(
                process=process, f=f, type=outcome, seq=k,
                intended_mono_ns=due, start_mono_ns=due, end_mono_ns=due + 2 * MS,
                intended_ns=due + WALL, start_ns=due + WALL, end_ns=due + 2 * MS + WALL,
                error_class=None if outcome == "ok" else "connection_lost",
            )
        )  # fmt: skip
    return ops


def final_read(found: Mapping[str, Iterable[int]], *, writer: str = "db-2") -> Op:
    """The final read's op, with the found seqs range-encoded as the probes write them."""
    value = {"writer": writer, "found": {name: to_ranges(seqs) for name, seqs in found.items()}}
    return Op(process="audit", f="final_read", type="ok", value=json.dumps(value))


def load(tmp_path: Path, ops: Iterable[Op]) -> pd.DataFrame:
    with HistoryWriter(tmp_path / "history.jsonl") as writer:
        for op in ops:
            writer.append(op)
    return load_history(tmp_path)


def audit(tmp_path: Path, ops: Iterable[Op]) -> AuditResult:
    return audit_writes(load(tmp_path, ops))


def test_all_acknowledged_found_passes(tmp_path: Path) -> None:
    result = audit(tmp_path, [*writes(100), final_read({"write": range(100)})])
    assert result.status == "pass"
    assert result.passed
    assert (result.acknowledged, result.lost, result.lost_seqs) == (100, 0, {})
    assert result.final_read == "ok"
    assert result.writer == "db-2"
    assert result.notes == []


def test_missing_acknowledged_write_is_lost(tmp_path: Path) -> None:
    found = [k for k in range(100) if k not in (50, 77)]
    result = audit(tmp_path, [*writes(100), final_read({"write": found})])
    assert result.status == "fail"
    assert not result.passed
    assert result.lost == 2
    assert result.lost_seqs == {"write": [50, 77]}
    assert result.probes["write"].lost == 2


def test_lost_seqs_are_capped_but_the_count_is_not(tmp_path: Path) -> None:
    result = audit(tmp_path, [*writes(100), final_read({"write": []})])
    assert result.lost == 100
    assert result.lost_seqs["write"] == list(range(20))


def test_indeterminate_writes_are_counted_found_or_missing_never_lost(tmp_path: Path) -> None:
    ops = writes(50, info=range(10, 15), fail=range(15, 20))
    found = [k for k in range(50) if k not in range(12, 20)]  # 10, 11 landed; 12..14 did not
    result = audit(tmp_path, [*ops, final_read({"write": found})])
    assert result.status == "pass"
    assert result.lost == 0
    assert result.acknowledged == 40
    assert result.indeterminate == 5
    assert (result.indeterminate_found, result.indeterminate_missing) == (2, 3)
    assert result.failed_but_found == 0


def test_failed_but_found_is_flagged(tmp_path: Path) -> None:
    ops = writes(30, fail=[7, 8])
    result = audit(tmp_path, [*ops, final_read({"write": [*range(8), *range(9, 30)]})])
    assert result.failed_but_found == 1
    assert result.probes["write"].failed_but_found_seqs == [7]
    assert result.status == "pass"  # not data loss, but the taxonomy needs a look
    assert any("reported as failed were found" in note for note in result.notes)


def test_without_final_read_the_audit_is_unknown(tmp_path: Path) -> None:
    result = audit(tmp_path, writes(20, info=[3]))
    assert result.status == "unknown"
    assert not result.passed
    assert result.final_read == "missing"
    assert result.acknowledged == 19 and result.indeterminate == 1
    assert result.lost is None and result.indeterminate_found is None


def test_failed_final_read_is_unknown(tmp_path: Path) -> None:
    failed = Op(process="audit", f="final_read", type="fail", error_class="connect_refused")
    result = audit(tmp_path, [*writes(20), failed])
    assert result.status == "unknown"
    assert result.final_read == "fail"
    assert "connect_refused" in result.reason


def test_unreadable_final_read_is_unknown(tmp_path: Path) -> None:
    broken = Op(process="audit", f="final_read", type="ok", value='{"writer": "db-1"}')
    result = audit(tmp_path, [*writes(5), broken])
    assert (result.status, result.final_read) == ("unknown", "invalid")


def test_last_ok_final_read_counts(tmp_path: Path) -> None:
    ops = [
        *writes(10),
        Op(process="audit", f="final_read", type="invoke"),
        final_read({"write": range(5)}, writer="db-1"),
        final_read({"write": range(10)}, writer="db-2"),
        Op(process="audit", f="final_read", type="fail", error_class="timeout"),
    ]
    result = audit(tmp_path, ops)
    assert (result.status, result.writer, result.lost) == ("pass", "db-2", 0)


def test_no_writes_is_not_applicable(tmp_path: Path) -> None:
    reads = writes(20, process="read", f="read")
    result = audit(tmp_path, reads)
    assert result.status == "not_applicable"
    assert result.passed
    assert result.acknowledged == 0 and result.probes == {}


def test_overlapping_and_unsorted_ranges(tmp_path: Path) -> None:
    value = {"writer": "db-2", "found": {"write": [[50, 99], [10, 20], [0, 60]]}}
    read = Op(process="audit", f="final_read", type="ok", value=json.dumps(value))
    result = audit(tmp_path, [*writes(100), read])
    assert (result.status, result.lost, result.unrecorded_found) == ("pass", 0, 0)


def test_rows_without_ops_are_counted_as_unrecorded(tmp_path: Path) -> None:
    result = audit(tmp_path, [*writes(10), final_read({"write": range(13)})])
    assert result.status == "pass"
    assert result.unrecorded_found == 3
    assert any("no op in the history" in note for note in result.notes)


def test_write_probes_are_audited_separately(tmp_path: Path) -> None:
    ops = [*writes(10), *writes(10, process="write:fresh")]
    read = final_read({"write": range(10), "write:fresh": [k for k in range(10) if k != 4]})
    result = audit(tmp_path, [*ops, read])
    assert result.status == "fail"
    assert result.acknowledged == 20
    assert result.lost_seqs == {"write:fresh": [4]}
    assert (result.probes["write"].lost, result.probes["write:fresh"].lost) == (0, 1)


@pytest.mark.parametrize(
    ("status", "passed"), [("pass", True), ("fail", False), ("unknown", False)]
)
def test_passed_follows_status(tmp_path: Path, status: str, passed: bool) -> None:
    found = {"pass": range(10), "fail": range(9)}
    ops = writes(10)
    if status in found:
        ops.append(final_read({"write": found[status]}))
    result = audit(tmp_path, ops)
    assert (result.status, result.passed) == (status, passed)


def test_probe_only_in_the_final_read_is_reported(tmp_path: Path) -> None:
    read = final_read({"write": range(10), "write:old": range(5)})
    result = audit(tmp_path, [*writes(10), read])
    assert result.status == "pass"
    old = result.probes["write:old"]
    assert (old.acknowledged, old.lost, old.unrecorded_found) == (0, 0, 5)
    assert result.unrecorded_found == 5
