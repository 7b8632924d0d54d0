"""The report's content as plain strings and rows, before it becomes Markdown or HTML.

Both outputs render this one model, so the Markdown for the ticket and the HTML page can
never disagree on a number. Every value here is text as the reader will see it (units
included) but not yet escaped: each template escapes for its own format, because anything
that comes from the history (an error message, an action's value) may contain ``<``,
``|`` or a backtick.

Numbers come from the :class:`~harness.analysis.Summary` as they are: downtime keeps the
summary's microseconds so a reader can check the report against ``summary.json``, and
each one carries the resolution that bounds its accuracy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from pydantic import BaseModel

from harness import __version__
from harness.analysis import AuditResult, Percentiles, Summary, iso_ms
from harness.history import JSONL_NAME, PARQUET_NAME
from harness.report.timeline import Event, Origin
from harness.rundir import RUN_INFO_NAME, SUMMARY_NAME, RunInfo

#: The outage table lists at most this many outages (the longest; summary.json has all).
MAX_OUTAGE_ROWS: Final = 300

#: Chart name → (title, alt text) in the order the report shows them.
CHART_TITLES: Final = {
    "timeline": "Timeline",
    "latency": "Latency over time",
    "errors": "Error breakdown",
}

FILE_DESCRIPTIONS: Final = {
    JSONL_NAME: "the journal: every op as JSON Lines, written while the run went on",
    PARQUET_NAME: "the same history, typed and compressed (written when the run ended)",
    RUN_INFO_NAME: "what was run: endpoints, probes, timeouts, tool version (no password)",
    SUMMARY_NAME: "the analysis: downtime, outages, latency and audit per probe, as JSON",
    "report.md": "this report, Markdown, for change tickets",
    "report.html": "this report as one self-contained page (charts embedded, printable)",
    "timeline.png": "chart: attempts per probe, outages and actions over time",
    "timeline.svg": "the timeline chart as SVG",
    "latency.png": "chart: latency of ok attempts over time (log scale)",
    "latency.svg": "the latency chart as SVG",
    "errors.png": "chart: failed attempts per probe and error class",
    "errors.svg": "the error breakdown chart as SVG",
}


@dataclass(frozen=True)
class DowntimeRow:
    probe: str
    kind: str
    endpoint: str
    downtime: str
    outages: int
    longest: str
    resolution: str


@dataclass(frozen=True)
class OutageRow:
    probe: str
    start: str
    end: str
    at: str
    duration: str
    attempts: str
    #: (error class, attempts), most frequent first.
    errors: list[tuple[str, str]]


@dataclass(frozen=True)
class EventRow:
    time: str
    at: str
    process: str
    what: str
    type: str
    took: str
    detail: str


@dataclass(frozen=True)
class ErrorRow:
    probe: str
    error_class: str
    count: str
    example: str


@dataclass(frozen=True)
class LatencyRow:
    probe: str
    count: str
    p50: str
    p90: str
    p99: str
    p99_9: str
    max: str
    lag_p99: str


@dataclass(frozen=True)
class ChartRef:
    name: str
    title: str
    caption: str
    #: File name the Markdown links to (PNG when written, else SVG, else None).
    file: str | None


@dataclass(frozen=True)
class FileRow:
    name: str
    size: str
    description: str


@dataclass
class ReportView:
    """What the templates render; see the module docstring."""

    title: str
    run_id: str
    tool: str
    emulation_notice: str | None
    summary: list[tuple[str, str]]
    downtime: list[DowntimeRow]
    notes: list[str]
    #: What "from x = 0" counts from (the charts' origin), one sentence.
    origin: str
    outages: list[OutageRow]
    outages_left_out: int
    charts: dict[str, ChartRef]
    events: list[EventRow]
    events_left_out: int
    errors: list[ErrorRow]
    latency: list[LatencyRow]
    files: list[FileRow] = field(default_factory=list)


def fmt_ms(value: float) -> str:
    """A duration as the summary has it (ms, 3 decimals), with seconds when that helps."""
    text = f"{value:.3f} ms"
    return f"{text} ({value / 1000:.1f} s)" if value >= 1000 else text


def _resolution(ms: float | None) -> str:
    return "resolution unknown" if ms is None else f"± {ms:g} ms resolution"


def _size(num_bytes: int) -> str:
    size = float(num_bytes)
    for unit in ("B", "KiB", "MiB"):
        if size < 1024 or unit == "MiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"  # pragma: no cover - the loop returns


def _method(info: RunInfo | None) -> str:
    if info is not None and info.scenario:
        return info.scenario
    if info is None or info.command == "probe":
        return "observe-only: harness probe (the change was made outside the harness)"
    return f"harness {info.command} (no scenario recorded)"


def _title(info: RunInfo | None) -> str:
    if info is not None and info.scenario:
        return info.scenario
    if info is None or info.command == "probe":
        return "observe-only run (harness probe)"
    return f"harness {info.command}"


def _target(info: RunInfo | None) -> tuple[str, str | None]:
    """The target line and, for the local emulation, the notice to show first."""
    if info is None:
        return "not recorded (no run.json)", None
    endpoint = info.writer_endpoint or "endpoint not recorded"
    if info.target == "local":
        name = f"timing '{info.emulation}'" if info.emulation else "timing not recorded"
        line = f"local emulation ({name}), writer endpoint {endpoint}"
        notice = (
            f"Local emulation, {name}: these numbers were measured against an emulated "
            "Aurora-like cluster of MariaDB servers on this machine, not against AWS."
        )
        return line, notice
    if info.target == "aws":
        return f"AWS (RDS / Aurora), writer endpoint {endpoint}", None
    if info.target:
        return f"{info.target}, writer endpoint {endpoint}", None
    reader = f", reader endpoint {info.reader_endpoint}" if info.reader_endpoint else ""
    return f"endpoint {endpoint}{reader} (target kind not recorded)", None


def _thresholds(summary: Summary, info: RunInfo | None) -> str:
    """The verdict line. Summaries do not carry thresholds yet; a scenario run will."""
    results = getattr(summary, "thresholds", None)
    if not results:
        if info is not None and info.scenario:
            return "no thresholds (the scenario defines none)"
        return "no thresholds (observe-only run)"
    lines = []
    failed = 0
    for item in results:
        data = item.model_dump() if isinstance(item, BaseModel) else item
        if not isinstance(data, Mapping):
            lines.append(str(item))
            continue
        passed = data.get("passed", data.get("verdict", data.get("status")) == "pass")
        failed += not passed
        name = data.get("condition") or data.get("name") or data.get("metric") or "threshold"
        value = data.get("value")
        seen = "" if value is None else f" (measured {value:g})"
        lines.append(f"{name}{seen}: {'pass' if passed else 'FAIL'}")
    verdict = "FAIL" if failed else "pass"
    return f"{verdict} — " + "; ".join(lines)


def _count(value: int | None) -> str:
    return "not checked" if value is None else f"{value:,}"


def audit_line(audit: AuditResult) -> str:
    return (
        f"{audit.status} — {audit.reason}; acknowledged {audit.acknowledged:,}, "
        f"lost {_count(audit.lost)}, indeterminate {audit.indeterminate:,} "
        f"(found {_count(audit.indeterminate_found)}, "
        f"missing {_count(audit.indeterminate_missing)})"
    )


def _when(summary: Summary) -> str:
    if summary.started is None or summary.ended is None:
        return "no timed ops in the history"
    seconds = (summary.duration_ms or 0.0) / 1000
    return f"{summary.started} → {summary.ended} UTC ({seconds:.1f} s)"


def _seconds_from(origin: Origin, wall_ns: int) -> str:
    return f"{(wall_ns - origin.wall_ns) / 1e9:+.3f} s"


def _errors(errors: Mapping[str, int]) -> list[tuple[str, str]]:
    return [(cls, f"{n:,}") for cls, n in sorted(errors.items(), key=lambda kv: (-kv[1], kv[0]))]


def outage_rows(summary: Summary, origin: Origin) -> tuple[list[OutageRow], int]:
    """Every outage (by probe, then start); the longest :data:`MAX_OUTAGE_ROWS` if more."""
    flat = [(name, o) for name, probe in summary.probes.items() for o in probe.outages]
    left_out = max(0, len(flat) - MAX_OUTAGE_ROWS)
    if left_out:
        keep = sorted(range(len(flat)), key=lambda i: -flat[i][1].duration_ms)[:MAX_OUTAGE_ROWS]
        flat = [flat[i] for i in sorted(keep)]
    rows = [
        OutageRow(
            probe=name,
            start=o.start,
            end=o.end + ("" if o.recovered else " (run ended while down)"),
            at=_seconds_from(origin, o.start_ns),
            duration=("≥ " if not o.recovered else "") + fmt_ms(o.duration_ms),
            attempts=f"{o.attempts:,}"
            + (f" ({o.indeterminate} indeterminate)" if o.indeterminate else ""),
            errors=_errors(o.errors),
        )
        for name, o in flat
    ]
    return rows, left_out


def event_rows(events: Iterable[Event], origin: Origin) -> list[EventRow]:
    return [
        EventRow(
            time=iso_ms(e.wall_ns) if e.wall_ns is not None else "—",
            at=_seconds_from(origin, e.wall_ns) if e.wall_ns is not None else "—",
            process=e.process,
            what=e.f,
            type=e.type,
            took=fmt_ms(e.took_ms) if e.took_ms is not None else "",
            detail=e.detail,
        )
        for e in events
    ]


def _pct(p: Percentiles, name: str) -> str:
    value = getattr(p, name)
    return "—" if value is None else f"{value:.3f}"


def latency_rows(summary: Summary) -> list[LatencyRow]:
    rows = []
    for name, probe in summary.probes.items():
        lat = probe.latency_ms.from_intended
        rows.append(
            LatencyRow(
                probe=name,
                count=f"{lat.count:,}",
                p50=_pct(lat, "p50"),
                p90=_pct(lat, "p90"),
                p99=_pct(lat, "p99"),
                p99_9=_pct(lat, "p99_9"),
                max=_pct(lat, "max"),
                lag_p99=_pct(probe.schedule_lag_ms, "p99"),
            )
        )
    return rows


def error_rows(summary: Summary, examples: Mapping[tuple[str, str], str]) -> list[ErrorRow]:
    return [
        ErrorRow(probe=name, error_class=cls, count=f"{n:,}", example=examples.get((name, cls), ""))
        for name, probe in summary.probes.items()
        for cls, n in sorted(probe.errors.items(), key=lambda kv: -kv[1])
    ]


def file_rows(run_dir: Path, written: Iterable[str]) -> list[FileRow]:
    """The run directory's files after this report is written, one line each."""
    names = {p.name for p in run_dir.iterdir() if p.is_file()} | set(written)
    names = {n for n in names if not n.endswith(".partial")}
    rows = []
    known = list(FILE_DESCRIPTIONS)
    for name in sorted(names, key=lambda n: (known.index(n) if n in known else len(known), n)):
        path = run_dir / name
        size = _size(path.stat().st_size) if path.exists() and name not in written else ""
        rows.append(
            FileRow(
                name, size, FILE_DESCRIPTIONS.get(name, "(a file this report does not describe)")
            )
        )
    return rows


def build_view(
    *,
    summary: Summary,
    info: RunInfo | None,
    origin: Origin,
    events: list[Event],
    events_left_out: int,
    ca_change: str,
    examples: Mapping[tuple[str, str], str],
    warnings: list[str],
    charts: dict[str, ChartRef],
) -> ReportView:
    """Assemble the view; ``files`` is filled in by the caller once it knows what it writes."""
    target, notice = _target(info)
    method = _method(info)
    downtime = [
        DowntimeRow(
            probe=name,
            kind=" · ".join(d for d in (p.kind, p.mode) if d) or "—",
            endpoint=p.endpoint or "—",
            downtime=("≥ " if p.down_at_end else "") + fmt_ms(p.downtime_ms),
            outages=len(p.outages),
            longest=fmt_ms(p.longest_outage_ms),
            resolution=_resolution(p.resolution_ms),
        )
        for name, p in summary.probes.items()
    ]
    resolution = (
        "no probe attempts, so no resolution"
        if summary.resolution_ms is None
        else f"± {summary.resolution_ms:g} ms: each outage's start and end are exact to "
        "within one probe interval"
    )
    outages, left_out = outage_rows(summary, origin)
    return ReportView(
        title=_title(info),
        run_id=summary.run_id,
        tool=f"rds-downtime-harness {__version__}",
        emulation_notice=notice,
        summary=[
            ("Scenario / method", method),
            ("Target", target),
            ("Cluster", info.cluster if info is not None and info.cluster else "not recorded"),
            ("CA", ca_change),
            ("When", _when(summary)),
            ("Resolution", resolution),
            ("Thresholds", _thresholds(summary, info)),
            ("Audit", audit_line(summary.audit)),
        ],
        downtime=downtime,
        notes=[*warnings, *summary.notes],
        origin=f"the start of the {origin.of}: {origin.detail}",
        outages=outages,
        outages_left_out=left_out,
        charts=charts,
        events=event_rows(events, origin),
        events_left_out=events_left_out,
        errors=error_rows(summary, examples),
        latency=latency_rows(summary),
    )
