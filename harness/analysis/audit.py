"""The audit: was every acknowledged write still there on the final writer?

Jepsen's checker compares acknowledged operations with a final read; so does this. A write
the database acknowledged (``ok``) and that the final read did not find is *lost*: the
cluster change broke durability, and the run fails whatever its downtime. A write whose
outcome was unknown (``info``: the connection died mid-commit) may legitimately be present
or absent, so those are counted separately (found / missing), never as lost. A write that
*failed* (the server rejected it) but was found anyway means the error taxonomy called a
maybe-committed write a rejection; it is flagged, because it makes ``fail`` untrustworthy.

The final read is one op (process ``audit``, f ``final_read``) whose ``value`` is JSON
``{"writer": "<server>", "found": {"<probe>": [[lo, hi], ...]}}`` with inclusive ranges.
Membership is tested with ``searchsorted`` over those ranges, never by expanding them: a
long run has millions of sequence numbers.
"""

from __future__ import annotations

import json
from typing import Final, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from harness.analysis.outages import I64, MISSING, PROBE_OUTCOMES, Bools

AuditStatus = Literal["pass", "fail", "unknown", "not_applicable"]
FinalReadState = Literal["ok", "fail", "missing", "invalid"]

#: How many lost sequence numbers are listed per probe (the count is always complete).
LOST_SEQS_SHOWN: Final = 20

AUDIT_PROCESS: Final = "audit"
FINAL_READ: Final = "final_read"


class ProbeAudit(BaseModel):
    """The audit of one write probe. Counts that need the final read are None without one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    acknowledged: int
    lost: int | None = None
    #: The first :data:`LOST_SEQS_SHOWN` lost sequence numbers, ascending.
    lost_seqs: list[int] = []
    indeterminate: int
    indeterminate_found: int | None = None
    indeterminate_missing: int | None = None
    failed: int
    failed_but_found: int | None = None
    failed_but_found_seqs: list[int] = []
    #: Rows found whose op is not in the history: expected in small numbers after a crash
    #: (the journal loses its last ~100 ms), suspicious otherwise.
    unrecorded_found: int | None = None


class AuditResult(BaseModel):
    """The audit of a whole run.

    ``status``: ``pass`` (a final read was done and no acknowledged write is missing),
    ``fail`` (at least one acknowledged write is lost), ``unknown`` (there were writes but
    no usable final read, so durability was not checked), ``not_applicable`` (no write
    probe ran). Counts that need the final read are None when there was none, so that
    "lost 0" is never printed for a run that could not look.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: AuditStatus
    #: One sentence saying why the status is what it is.
    reason: str
    final_read: FinalReadState
    #: The server the final read ran on (the final writer), when known.
    writer: str | None = None
    acknowledged: int = 0
    lost: int | None = None
    #: Probe → its first :data:`LOST_SEQS_SHOWN` lost sequence numbers (probes with losses).
    lost_seqs: dict[str, list[int]] = {}
    indeterminate: int = 0
    indeterminate_found: int | None = None
    indeterminate_missing: int | None = None
    failed_but_found: int | None = None
    unrecorded_found: int | None = None
    probes: dict[str, ProbeAudit] = {}
    #: Anomalies that do not change the status but deserve a look.
    notes: list[str] = []

    @property
    def passed(self) -> bool:
        """True unless the run wrote and cannot vouch for every acknowledged write.

        ``unknown`` does not pass: a run meant to prove that a change loses no data proves
        nothing if its final read failed. ``not_applicable`` passes: a read-only run has
        no writes to lose.
        """
        return self.status in ("pass", "not_applicable")


class _FinalRead:
    """The decoded final read: state, writer and probe → ranges (n × 2 int64)."""

    def __init__(self, state: FinalReadState, writer: str | None = None) -> None:
        self.state: FinalReadState = state
        self.writer = writer
        self.found: dict[str, I64] = {}
        self.problem = ""


def _final_read(history: pd.DataFrame) -> _FinalRead:
    """The last ok final read (else the last one), decoded and validated."""
    rows = history.loc[
        (history["process"] == AUDIT_PROCESS).to_numpy(dtype=bool, na_value=False)
        & (history["f"] == FINAL_READ).to_numpy(dtype=bool, na_value=False)
        & history["type"].isin(PROBE_OUTCOMES).to_numpy(dtype=bool, na_value=False)
    ]
    if rows.empty:
        return _FinalRead("missing")
    oks = rows[(rows["type"] == "ok").to_numpy(dtype=bool, na_value=False)]
    if oks.empty:
        read = _FinalRead("fail")
        error = rows["error_class"].iloc[-1]
        read.problem = f"the final read failed ({error if isinstance(error, str) else 'error'})"
        return read
    text = oks["value"].iloc[-1]
    try:
        value = json.loads(text) if isinstance(text, str) else None
        if not isinstance(value, dict) or not isinstance(value.get("found"), dict):
            raise ValueError("no 'found' object")
        writer = value.get("writer")
        read = _FinalRead("ok", writer if isinstance(writer, str) else None)
        for probe, ranges in value["found"].items():
            array = np.asarray(ranges, dtype=np.int64).reshape(-1, 2)
            if (array[:, 0] > array[:, 1]).any():
                raise ValueError(f"{probe}: a range with lo > hi")
            read.found[str(probe)] = array
    except (ValueError, TypeError) as exc:
        read = _FinalRead("invalid")
        read.problem = f"the final read's value is not readable ({exc})"
    return read


class _Ranges:
    """Sorted inclusive ranges answering "is seq in the set?" for many seqs at once."""

    def __init__(self, ranges: I64) -> None:
        order = np.argsort(ranges[:, 0], kind="stable")
        self.lo: I64 = ranges[order, 0]
        # Running max of hi makes overlapping or nested ranges harmless for searchsorted.
        self.hi: I64 = np.maximum.accumulate(ranges[order, 1]) if len(order) else self.lo

    def contains(self, seqs: I64) -> Bools:
        idx = np.searchsorted(self.lo, seqs, side="right") - 1
        inside = idx >= 0
        inside[inside] = seqs[inside] <= self.hi[idx[inside]]
        inside &= seqs != MISSING
        return inside

    def size(self) -> int:
        """How many distinct integers the ranges cover."""
        if len(self.lo) == 0:
            return 0
        prev_hi = np.concatenate(([np.iinfo(np.int64).min], self.hi[:-1]))
        block = self.lo > prev_hi  # starts a block disjoint from everything before
        starts = np.flatnonzero(block)
        ends = np.concatenate((starts[1:], [len(self.lo)])) - 1
        return int((self.hi[ends] - self.lo[starts] + 1).sum())


def _distinct(seqs: I64) -> int:
    """How many distinct values (a sort is much faster than ``np.unique``'s hashing here)."""
    if len(seqs) == 0:
        return 0
    ordered = np.sort(seqs)
    return 1 + int(np.count_nonzero(ordered[1:] != ordered[:-1]))


def _first(seqs: I64) -> list[int]:
    shown: list[int] = np.unique(seqs)[:LOST_SEQS_SHOWN].tolist()
    return shown


def _audit_probe(
    ok: Bools, info: Bools, fail: Bools, seqs: I64, ranges: _Ranges | None
) -> ProbeAudit:
    acknowledged, indeterminate, failed = int(ok.sum()), int(info.sum()), int(fail.sum())
    if ranges is None:
        return ProbeAudit(acknowledged=acknowledged, indeterminate=indeterminate, failed=failed)
    found = ranges.contains(seqs)
    lost = ok & ~found
    failed_found = fail & found
    return ProbeAudit(
        acknowledged=acknowledged,
        indeterminate=indeterminate,
        failed=failed,
        lost=int(lost.sum()),
        lost_seqs=_first(seqs[lost]),
        indeterminate_found=int((info & found).sum()),
        indeterminate_missing=int((info & ~found).sum()),
        failed_but_found=int(failed_found.sum()),
        failed_but_found_seqs=_first(seqs[failed_found]),
        unrecorded_found=max(0, ranges.size() - _distinct(seqs[found])),
    )


def _total(probes: dict[str, ProbeAudit], name: str) -> int | None:
    values = [getattr(p, name) for p in probes.values()]
    if any(v is None for v in values):
        return None
    return int(sum(values))


def audit_writes(history: pd.DataFrame) -> AuditResult:
    """Compare the write probes' outcomes with the final read; see :class:`AuditResult`."""
    writes = history.loc[
        (history["f"] == "write").to_numpy(dtype=bool, na_value=False)
        & history["type"].isin(PROBE_OUTCOMES).to_numpy(dtype=bool, na_value=False),
        ["process", "type", "seq"],
    ]
    read = _final_read(history)
    usable = read.state == "ok"
    codes, uniques = pd.factorize(writes["process"], sort=True)
    code_of = {str(u): i for i, u in enumerate(uniques)}
    names = sorted(set(code_of) | set(read.found))
    all_seqs = writes["seq"].to_numpy(dtype=np.int64, na_value=MISSING)
    all_ok = (writes["type"] == "ok").to_numpy(dtype=bool, na_value=False)
    all_info = (writes["type"] == "info").to_numpy(dtype=bool, na_value=False)
    all_fail = (writes["type"] == "fail").to_numpy(dtype=bool, na_value=False)
    probes: dict[str, ProbeAudit] = {}
    for name in names:
        mask = codes == code_of.get(name, len(code_of))  # no rows for a found-only probe
        empty: I64 = np.empty((0, 2), dtype=np.int64)
        ranges = _Ranges(read.found.get(name, empty)) if usable else None
        probes[name] = _audit_probe(
            all_ok[mask], all_info[mask], all_fail[mask], all_seqs[mask], ranges
        )

    acknowledged = sum(p.acknowledged for p in probes.values())
    lost = _total(probes, "lost")
    notes: list[str] = []
    if writes.empty:
        status: AuditStatus = "not_applicable"
        reason = "no write probe ran, so there were no writes to lose"
    elif not usable:
        status = "unknown"
        reason = read.problem or "there is no final read, so no write could be checked"
    elif lost:
        status = "fail"
        reason = f"{lost} acknowledged write(s) missing on the final writer"
    else:
        status = "pass"
        reason = f"all {acknowledged} acknowledged write(s) found on the final writer"
    for name, p in probes.items():
        if p.failed_but_found:
            notes.append(
                f"{name}: {p.failed_but_found} write(s) reported as failed were found "
                f"(seqs {p.failed_but_found_seqs}); they should have been indeterminate"
            )
        if p.unrecorded_found:
            notes.append(
                f"{name}: {p.unrecorded_found} row(s) found with no op in the history "
                "(normal only if the run was killed)"
            )
    return AuditResult(
        status=status,
        reason=reason,
        final_read=read.state,
        writer=read.writer,
        acknowledged=acknowledged,
        lost=lost,
        lost_seqs={name: p.lost_seqs for name, p in probes.items() if p.lost_seqs},
        indeterminate=sum(p.indeterminate for p in probes.values()),
        indeterminate_found=_total(probes, "indeterminate_found"),
        indeterminate_missing=_total(probes, "indeterminate_missing"),
        failed_but_found=_total(probes, "failed_but_found"),
        unrecorded_found=_total(probes, "unrecorded_found"),
        probes=probes,
        notes=notes,
    )
