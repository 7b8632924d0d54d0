"""``harness compare``: which change method costs less downtime, across repetitions.

:func:`write_comparison` reads runs (:mod:`~harness.report.compare_inputs`), groups them
by scenario and computes spreads and costs (:mod:`~harness.report.compare_stats`), draws
the chart (:mod:`~harness.report.compare_chart`) and renders one view model through two
Jinja2 templates, as the per-run report does and with its escaping rules: the Markdown
for a capacity review and the self-contained HTML page can never disagree on a number.

Every input is read and every file rendered in memory before the output directory is
created: bad input (a directory without a history, a run from a newer harness) is one
line and exit 2, and nothing is written. What is merely misleading (an emulation next to
AWS, different probe intervals) is compared anyway and said first, in the output itself,
where the reader of the comparison will see it.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from harness import __version__
from harness.errors import UsageError
from harness.report.compare_chart import group_color, render_comparison_chart
from harness.report.compare_inputs import load_runs
from harness.report.compare_stats import (
    GroupStats,
    RunRecord,
    Spread,
    comparison_warnings,
    group_runs,
)
from harness.report.render import template_environment, write_output
from harness.report.view import audit_line
from harness.rundir import default_run_dir

FORMATS: Final = ("md", "html", "png", "svg")
MARKDOWN_NAME: Final = "comparison.md"
HTML_NAME: Final = "comparison.html"
CHART_STEM: Final = "comparison"
EMULATION_PREFIX: Final = "local emulation"


@dataclass(frozen=True)
class ComparisonFiles:
    """What :func:`write_comparison` wrote, and what the person running it must be told."""

    out: Path
    markdown: Path | None
    html: Path | None
    #: Format (``png``, ``svg``) → path of the chart.
    charts: dict[str, Path] = field(default_factory=dict)
    #: Misleading comparisons (also at the top of the documents), then how runs were grouped.
    warnings: list[str] = field(default_factory=list)

    def all(self) -> list[Path]:
        """Every file written, documents first."""
        paths = [p for p in (self.markdown, self.html) if p is not None]
        return paths + list(self.charts.values())


@dataclass(frozen=True)
class GroupRow:
    name: str
    color: str
    runs: str
    target: str
    thresholds: str
    audit: str
    extra: str


@dataclass(frozen=True)
class SpreadRow:
    probe: str
    detail: str
    group: str
    color: str
    runs: str
    median: str
    p95: str
    max: str
    min: str
    resolution: str
    note: str
    #: First row of a probe: the tables draw a rule above it.
    first: bool


@dataclass(frozen=True)
class RunRow:
    group: str
    color: str
    run_id: str
    path: str
    #: Links (relative to the comparison) to the run's own report, when it has one.
    report_md: str | None
    report_html: str | None
    target: str
    downtime: list[str]
    extra: str
    thresholds: str
    audit: str


@dataclass
class ComparisonView:
    """What the comparison templates render; every value is display text, not yet escaped."""

    title: str
    tool: str
    overview: str
    emulation_notice: str | None
    warnings: list[str]
    groups: list[GroupRow]
    spreads: list[SpreadRow]
    probes: list[str]
    runs: list[RunRow]
    notes: list[str]
    #: Whether any spread row has a note (the column is left out otherwise).
    spread_notes: bool
    #: Whether the runs were measured on more than one target (else the Runs table leaves
    #: the column out: the summary names the one target).
    run_targets: bool
    chart_file: str | None
    chart_caption: str
    method: list[str]
    files: list[tuple[str, str]] = field(default_factory=list)


def fmt_s(ms: float) -> str:
    """A duration in seconds to the millisecond: exact enough to check, short enough to
    read across a table row (the summaries keep microseconds)."""
    return f"{ms / 1000:,.3f} s"


def fmt_long(ms: float) -> str:
    """An instance time: seconds while short, then minutes and hours."""
    seconds = ms / 1000
    if seconds < 120:
        return f"{seconds:,.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:,.1f} min"
    return f"{seconds / 3600:,.2f} h"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _thresholds(group: GroupStats) -> str:
    if not group.threshold_runs:
        if group.threshold_unknown:
            return f"unknown ({group.threshold_unknown} re-analysed)"
        return "none defined"
    rate = group.thresholds_passed / group.threshold_runs
    text = f"{group.thresholds_passed}/{group.threshold_runs} runs passed ({rate:.0%})"
    if group.threshold_unknown:
        text += f"; {group.threshold_unknown} unknown (re-analysed)"
    return text


def _audit(group: GroupStats) -> str:
    runs = len(group.runs)
    text = f"{group.lost:,} acknowledged writes lost in {_plural(runs, 'run')}"
    if group.lost_unknown:
        text += f" ({group.lost_unknown} not checked: no usable final read)"
    return f"{'pass' if group.audit_passed == runs else 'FAIL'}: {text}"


def _extra(spread: Spread, runs: Sequence[RunRecord]) -> str:
    if spread.max == 0:
        return "none (no instance created)"
    text = f"median {fmt_long(spread.median)} per run, max {fmt_long(spread.max)}"
    if any(r.extra.open_at_end for r in runs):
        text += " (some still existed at the end: counted to the end of the run)"
    return text


def _resolution(values: tuple[float, ...]) -> str:
    distinct = sorted(set(values))
    if not distinct:
        return "unknown"
    return " / ".join(f"± {v:g} ms" for v in distinct)


def _spread_rows(groups: Sequence[GroupStats]) -> tuple[list[SpreadRow], list[str]]:
    probes: list[str] = []
    for group in groups:
        probes += [p for p in group.probes if p not in probes]
    rows = []
    for probe in probes:
        first = True
        for i, group in enumerate(groups):
            stats = group.probes.get(probe)
            if stats is None:
                continue
            s = stats.downtime_ms
            note = ""
            if stats.down_at_end:
                whose = "its" if stats.down_at_end == 1 else "their"
                note = (
                    f"{_plural(stats.down_at_end, 'run')} ended while down: {whose} downtime "
                    "is a lower bound"
                )
            rows.append(
                SpreadRow(
                    probe=probe, detail=stats.detail, group=group.name, color=group_color(i),
                    runs=f"{s.n}", median=fmt_s(s.median), p95=fmt_s(s.p95), max=fmt_s(s.max),
                    min=fmt_s(s.min), resolution=_resolution(stats.resolutions_ms), note=note,
                    first=first,
                )
            )  # fmt: skip
            first = False
    return rows, probes


def _link(out: Path, target: Path) -> str | None:
    if not target.exists():
        return None
    return Path(os.path.relpath(target.resolve(), out.resolve())).as_posix()


def _run_verdict(run: RunRecord) -> str:
    if not run.thresholds_known:
        return "unknown (re-analysed)"
    if not run.summary.thresholds:
        return "none"
    return "pass" if run.summary.thresholds_passed else "FAIL"


def _run_rows(groups: Sequence[GroupStats], probes: list[str], out: Path) -> list[RunRow]:
    rows = []
    for i, group in enumerate(groups):
        for run in group.runs:
            downtime = []
            for name in probes:
                probe = run.summary.probes.get(name)
                if probe is None or not probe.ops:
                    downtime.append("—")
                else:
                    downtime.append(("≥ " if probe.down_at_end else "") + fmt_s(probe.downtime_ms))
            rows.append(
                RunRow(
                    group=group.name, color=group_color(i), run_id=run.summary.run_id,
                    path=str(run.run_dir), report_md=_link(out, run.run_dir / "report.md"),
                    report_html=_link(out, run.run_dir / "report.html"), target=run.target,
                    downtime=downtime,
                    extra=fmt_long(run.extra.ms) if run.extra.created else "—",
                    thresholds=_run_verdict(run), audit=audit_line(run.summary.audit),
                )
            )  # fmt: skip
    return rows


def _notice(runs: Sequence[RunRecord]) -> str | None:
    local = sorted({r.target for r in runs if r.target.startswith(EMULATION_PREFIX)})
    if not local:
        return None
    every = len(local) == len({r.target for r in runs})
    which = "these numbers were" if every else "some of these runs were"
    timings = ", ".join(t.removeprefix(EMULATION_PREFIX).strip(" ()") for t in local)
    return (
        f"Local emulation ({timings}): {which} measured against an emulated Aurora-like "
        "cluster of MariaDB servers on one machine, not against AWS: the shape is meant to be "
        "Aurora's, the numbers are the emulation's."
    )


METHOD: Final = (
    "Downtime of a run is the sum of a probe's outages, as in each run's summary.json "
    "(probes.<name>.downtime_ms); it is exact to within the probe's interval (the resolution).",
    "Median and p95 across the runs of a group use linear interpolation between closest "
    "ranks (numpy's default; PERCENTILE.INC in a spreadsheet); with fewer than 20 runs p95 "
    "lies between the two largest values. A run in which a probe attempted nothing does not "
    "count for that probe.",
    "Extra instance time: from each create_reader request until that instance is seen "
    "deleted, or until an instance the cluster started with is deleted in its place (the "
    "failover method's reader replaces the old writer), else until the end of the run; "
    "summed per run. Billing starts at the request, so this is what a method adds to the bill.",
    "Thresholds: runs whose every threshold and audit passed, out of the runs that recorded "
    "threshold verdicts (a re-analysed summary has none).",
)


def build_view(
    groups: Sequence[GroupStats], runs: Sequence[RunRecord], warnings: list[str], out: Path,
    chart_file: str | None,
) -> ComparisonView:  # fmt: skip
    """The view for the templates; ``files`` is filled in once the files are known."""
    spreads, probes = _spread_rows(groups)
    names = [g.name for g in groups]
    title = " vs ".join(names) if len(names) <= 4 else f"{len(names)} scenarios"
    overview = (
        f"{_plural(len(runs), 'run')} of {_plural(len(groups), 'scenario')}, grouped by "
        f"scenario ({', '.join(f'{g.name}: {len(g.runs)}' for g in groups)})."
    )
    notes = [f"{run.run_dir}: {note}" for run in runs for note in run.notes]
    for group in groups:
        if len(group.runs) == 1:
            notes.append(
                f"{group.name}: a single run, so its median, p95 and max are that run's "
                "downtime; repeat it (harness run --repeat N) to see the spread"
            )
    return ComparisonView(
        title=title,
        tool=f"rds-downtime-harness {__version__}",
        overview=overview,
        emulation_notice=_notice(runs),
        warnings=warnings,
        groups=[
            GroupRow(
                name=g.name,
                color=group_color(i),
                runs=f"{len(g.runs)}",
                target=", ".join(g.targets),
                thresholds=_thresholds(g),
                audit=_audit(g),
                extra=_extra(g.extra_ms, g.runs),
            )
            for i, g in enumerate(groups)
        ],
        spreads=spreads,
        probes=probes,
        runs=_run_rows(groups, probes, out),
        notes=notes,
        spread_notes=any(r.note for r in spreads),
        run_targets=len({r.target for r in runs}) > 1,
        chart_file=chart_file,
        chart_caption=(
            "One panel per probe, one row per scenario: a dot per run, a dark tick at the "
            "median; from three runs on, a box from the 25th to the 75th percentile and "
            "whiskers from the minimum to the maximum. Each panel has its own x axis in "
            "seconds (log when the values span two decades); the numbers at the end of each "
            "row are those of the table below."
        ),
        method=list(METHOD),
    )


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(
            f"--out {out} exists and is not an empty directory: choose a new directory "
            "(a comparison never overwrites files)"
        )


def _formats(formats: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(formats))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown:
        raise UsageError(
            f"unknown comparison format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}"
        )
    return chosen


FILE_DESCRIPTIONS: Final = {
    MARKDOWN_NAME: "this comparison, Markdown (for a capacity review or a ticket)",
    HTML_NAME: "this comparison as one self-contained page (chart embedded, printable)",
    f"{CHART_STEM}.png": "chart: downtime per probe across runs, one row per scenario",
    f"{CHART_STEM}.svg": "the same chart as SVG",
}


def write_comparison(
    paths: Sequence[Path], out: Path | None = None, *, formats: Iterable[str] = FORMATS
) -> ComparisonFiles:
    """Compare the runs under ``paths`` into ``out`` (default ``results/<UTC>-comparison``).

    Raises :class:`~harness.errors.UsageError` (one line, nothing written) for unusable
    input; see the module docstring.
    """
    chosen = _formats(formats)
    target = out if out is not None else default_run_dir("comparison")
    _check_out(target)
    runs, input_notes = load_runs([Path(p) for p in paths])
    groups = group_runs(runs)
    warnings = comparison_warnings(groups)
    images = [f for f in ("png", "svg") if f in chosen or (f == "png" and "html" in chosen)]
    chart = render_comparison_chart(groups, images) if images else {}
    link = "png" if "png" in chosen else "svg" if "svg" in chosen else None
    view = build_view(groups, runs, warnings, target, f"{CHART_STEM}.{link}" if link else None)
    written = [f"{CHART_STEM}.{f}" for f in ("png", "svg") if f in chosen]
    written = [n for n, f in ((MARKDOWN_NAME, "md"), (HTML_NAME, "html")) if f in chosen] + written
    view.files = [(name, FILE_DESCRIPTIONS[name]) for name in written]
    documents: dict[str, bytes] = {}
    if "md" in chosen:
        text = template_environment(markdown=True).get_template("comparison.md.j2").render(v=view)
        documents[MARKDOWN_NAME] = re.sub(r"\n{3,}", "\n\n", text).encode("utf-8")
    if "html" in chosen:
        uri = "data:image/png;base64," + base64.b64encode(chart["png"]).decode("ascii")
        page = template_environment(markdown=False).get_template("comparison.html.j2")
        documents[HTML_NAME] = page.render(v=view, image=uri).encode("utf-8")

    target.mkdir(parents=True, exist_ok=True)
    charts: dict[str, Path] = {
        f: write_output(target / f"{CHART_STEM}.{f}", chart[f])
        for f in ("png", "svg")
        if f in chosen
    }
    paths_written = {name: write_output(target / name, data) for name, data in documents.items()}
    grouping = []
    if len(groups) > 1:
        counts = ", ".join(f"{g.name}: {_plural(len(g.runs), 'run')}" for g in groups)
        grouping.append(
            f"the runs are of {len(groups)} different scenarios: each scenario is compared "
            f"as a group of its own, never pooled ({counts})"
        )
    return ComparisonFiles(
        out=target,
        markdown=paths_written.get(MARKDOWN_NAME),
        html=paths_written.get(HTML_NAME),
        charts=charts,
        warnings=[*warnings, *input_notes, *grouping],
    )
