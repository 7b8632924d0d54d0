"""What happened besides the probes: actions, milestones and AWS events, and where x = 0 is.

The report's charts put every probe attempt and every action on one time axis, so the
reader can see that writes failed 1.2 s after ``modify_ca`` was invoked. This module
picks those ops out of the history (everything that is neither a probe attempt nor the
final audit read), decodes their JSON ``value`` into one readable line, and chooses the
origin of the axis: the start of the method (its first action), else the start of the run.

It also reads two facts the summary does not carry but a change ticket wants: which CA
signed the servers' certificates before and after (first and last ``peer_issuer_cn`` seen
by each probe) and one example error message per probe and error class. Both are lookups
over the history, not analysis: nothing here measures time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import pandas as pd

from harness.analysis import PROBE_FUNCTIONS, iso_ms
from harness.analysis.audit import AUDIT_PROCESS
from harness.analysis.outages import MISSING, UNCLASSIFIED, ProbeArrays

#: The process of scenario actions and their milestones.
SCENARIO_PROCESS: Final = "scenario"
#: The process of AWS (or emulated) cluster events copied into the history.
AWS_PROCESS: Final = "aws"
#: ``f`` of what the scenario runner observed (phases, status changes), see watch.py.
MILESTONE: Final = "milestone"
#: ``f`` of a target's event op (process ``aws`` or ``local``), see harness.scenario.watch.
TARGET_EVENT: Final = "event"

#: At most this many actions/events are listed and drawn; a runaway event poller must not
#: turn a one-page report into a thousand-page one.
MAX_EVENTS: Final = 500

_LABEL_CHARS: Final = 46


@dataclass(frozen=True)
class Event:
    """One action op, milestone or AWS event, ready to print and to draw."""

    index: int
    #: Epoch ns of the op (an invoke's start, else its end); None if it carries no time.
    wall_ns: int | None
    process: str
    f: str
    type: str
    #: One line: the decoded ``value``, the message, the error class.
    detail: str
    #: For an ok/fail/info op that completes an earlier invoke of the same action.
    took_ms: float | None
    #: Short text for the marker on the charts.
    label: str

    @property
    def is_aws(self) -> bool:
        """A target's own event (AWS's, or the local emulation's RDS-like one)."""
        return self.process == AWS_PROCESS or self.f == TARGET_EVENT


@dataclass(frozen=True)
class Origin:
    """x = 0 of the charts: epoch ns, whether it is the method's start or the run's, and how
    it was found (e.g. ``modify_ca invoked at 2026-12-03T13:02:21.000Z``)."""

    wall_ns: int
    of: Literal["method", "run"]
    detail: str

    @property
    def description(self) -> str:
        return f"start of the {self.of}: {self.detail}"


_TYPE_MARK: Final = {"invoke": "▶", "ok": "✓", "fail": "✗", "info": "?"}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: object) -> int | None:
    return None if value is None or pd.isna(value) else int(value)  # type: ignore[call-overload]


def _compact(value_json: str | None) -> tuple[str, object]:
    """The op's ``value`` as one line of ``key=value`` (or the raw text if not JSON)."""
    if value_json is None:
        return "", None
    try:
        value = json.loads(value_json)
    except ValueError:
        return value_json, None
    if isinstance(value, dict):
        parts = []
        for key, item in value.items():
            shown = item if isinstance(item, str) else json.dumps(item, separators=(",", ":"))
            parts.append(f"{key}={shown}")
        return ", ".join(parts), value
    return json.dumps(value, separators=(",", ":")), value


def _shorten(text: str, limit: int = _LABEL_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _event_label(process: str, f: str, type_: str, decoded: object, message: str | None) -> str:
    if process == AWS_PROCESS or f == TARGET_EVENT:
        said = decoded.get("message") if isinstance(decoded, dict) else None
        return _shorten(str(said or message or f))
    if f == MILESTONE and message:
        # What the runner observed ("baseline", "<instance> status rebooting"): the word
        # "milestone" alone would tell the reader nothing.
        return _shorten(f"◆ {message}")
    mark = _TYPE_MARK.get(type_, type_)
    return _shorten(f"{mark} {f}" if process == SCENARIO_PROCESS else f"{mark} {process}:{f}")


def find_events(history: pd.DataFrame, probe_names: Iterable[str]) -> tuple[list[Event], int]:
    """Actions, milestones and AWS events in history order, and how many were left out."""
    excluded = {*probe_names, AUDIT_PROCESS}
    mask = ~history["process"].isin(list(excluded)).to_numpy(dtype=bool, na_value=False)
    columns = ["index", "process", "f", "type", "start_ns", "end_ns", "intended_ns"]
    rows = history.loc[mask, [*columns, "error_class", "message", "value"]]
    left_out = max(0, len(rows) - MAX_EVENTS)
    rows = rows.iloc[:MAX_EVENTS]
    open_invokes: dict[tuple[str, str], int] = {}
    events: list[Event] = []
    for row in rows.to_dict("records"):
        proc, f, type_ = str(row["process"]), str(row["f"]), str(row["type"])
        start, end, due = _int(row["start_ns"]), _int(row["end_ns"]), _int(row["intended_ns"])
        when = (start or due or end) if type_ == "invoke" else (end or start or due)
        detail, decoded = _compact(_text(row["value"]))
        message, error = _text(row["message"]), _text(row["error_class"])
        extra = [d for d in (error, message) if d]
        detail = "; ".join(d for d in (detail, *extra) if d)
        took: float | None = None
        key = (proc, f)
        if type_ == "invoke" and when is not None:
            open_invokes[key] = when
        elif type_ != "invoke" and key in open_invokes and when is not None:
            took = round((when - open_invokes.pop(key)) / 1e6, 3)
        events.append(
            Event(
                index=int(row["index"]),
                wall_ns=when,
                process=proc,
                f=f,
                type=type_,
                detail=detail,
                took_ms=took,
                label=_event_label(proc, f, type_, decoded, message),
            )
        )
    return events, left_out


def find_origin(events: list[Event], arrays: ProbeArrays) -> Origin:
    """The start of the method (first action invoked), else of the probing, else of anything."""
    for event in events:
        if event.process == SCENARIO_PROCESS and event.type == "invoke" and event.wall_ns:
            return Origin(event.wall_ns, "method", f"{event.f} invoked at {iso_ms(event.wall_ns)}")
    starts = np.where(arrays.intended_wall == MISSING, arrays.start_wall, arrays.intended_wall)
    starts = starts[starts != MISSING]
    if len(starts):
        first = int(starts.min())
        return Origin(first, "run", f"first probe attempt due at {iso_ms(first)}")
    times = [e.wall_ns for e in events if e.wall_ns is not None]
    if times:
        return Origin(min(times), "run", f"first action at {iso_ms(min(times))}")
    return Origin(0, "run", "no timed ops in the history")


def seen_issuers(history: pd.DataFrame, probe_names: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Probe → (first, last) ``peer_issuer_cn`` it saw, in history order."""
    issuer = history["peer_issuer_cn"]
    mask = issuer.notna().to_numpy(dtype=bool) & history["process"].isin(
        list(probe_names)
    ).to_numpy(dtype=bool, na_value=False)
    if not mask.any():
        return {}
    rows = history.loc[mask, ["process", "peer_issuer_cn"]]
    grouped = rows.groupby("process", sort=False)["peer_issuer_cn"]
    first, last = grouped.first(), grouped.last()
    return {str(p): (str(first[p]), str(last[p])) for p in first.index}


def example_messages(
    history: pd.DataFrame, probe_names: Iterable[str]
) -> dict[tuple[str, str], str]:
    """(probe, error class) → the first message recorded for it: what the error looked like."""
    failed = (
        (history["type"] != "ok").to_numpy(dtype=bool, na_value=False)
        & history["f"].isin(PROBE_FUNCTIONS).to_numpy(dtype=bool, na_value=False)
        & history["process"].isin(list(probe_names)).to_numpy(dtype=bool, na_value=False)
    )
    rows = history.loc[failed, ["process", "error_class", "message"]]
    rows = rows.assign(error_class=rows["error_class"].fillna(UNCLASSIFIED))
    rows = rows[rows["message"].notna()].drop_duplicates(["process", "error_class"])
    return {
        (str(p), str(c)): str(m)
        for p, c, m in zip(rows["process"], rows["error_class"], rows["message"], strict=True)
    }


def ca_change(
    recorded_from: str | None, recorded_to: str | None, seen: Mapping[str, tuple[str, str]]
) -> str:
    """One line: the CA before → after, from run.json, else from what the probes saw."""
    if recorded_from or recorded_to:
        return f"{recorded_from or 'not recorded'} → {recorded_to or 'not recorded'} (run.json)"
    if not seen:
        return "not recorded (no probe saw a server certificate)"
    pairs = set(seen.values())
    if len(pairs) == 1:
        first, last = next(iter(pairs))
        change = f"{first} → {last}" if first != last else f"{first} (unchanged)"
        return f"{change} (issuer of the server certificate as the probes saw it)"
    per_probe = "; ".join(
        f"{name}: {a} → {b}" if a != b else f"{name}: {a}" for name, (a, b) in seen.items()
    )
    return f"{per_probe} (issuer of the server certificate as each probe saw it)"
