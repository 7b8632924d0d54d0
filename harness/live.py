"""What a person watching a run sees: live per-probe status, then the summary table.

On a terminal it is a Rich live table refreshed twice a second; elsewhere (CI, a pipe)
one plain line every few seconds. Rendering runs on the probes' event loop, so it is
kept small: a few counters per probe, no history scans.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

from rich.console import Console
from rich.live import Live
from rich.table import Table

from harness.analysis import Summary
from harness.probes.session import ProbeSession

if TYPE_CHECKING:
    from harness.scenario.runner import ScenarioOutcome

PLAIN_EVERY_S = 5.0


class LiveStatus:
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._live: Live | None = None
        self._session: ProbeSession | None = None
        self._last_plain = 0.0
        self._stopping = False

    def start(self, session: ProbeSession, run_dir: object) -> None:
        self._session = session
        self.console.print(
            f"[bold]probing[/] → {run_dir}  (run id {session.config.run_id}); Ctrl-C to stop"
        )
        for warning in session.config.warnings:
            self.console.print(f"[yellow]warning:[/] {warning}")
        if self.console.is_terminal:
            self._live = Live(
                self._table(), console=self.console, auto_refresh=False, transient=False
            )
            self._live.start()

    def stopping(self) -> None:
        self._stopping = True
        self.console.print("stopping: waiting for attempts in flight, then the final read …")

    def tick(self) -> None:
        if self._session is None:
            return
        if self._live is not None:
            self._live.update(self._table(), refresh=True)
            return
        now = time.monotonic()
        if now - self._last_plain >= PLAIN_EVERY_S:
            self._last_plain = now
            parts = [
                f"{p.spec.name} ok={p.status.ok} fail={p.status.fail} info={p.status.info}"
                + (" DOWN" if p.status.failing_since_mono is not None else "")
                for p in self._session.probes
            ]
            line = f"{self._elapsed():7.1f}s  " + " | ".join(parts)
            self.console.print(line, highlight=False, soft_wrap=True)

    def close(self) -> None:
        if self._live is not None:
            self._live.update(self._table(), refresh=True)
            self._live.stop()
            self._live = None

    def _elapsed(self) -> float:
        session = self._session
        if session is None or session.t0_mono is None:
            return 0.0
        return max(0.0, (session.clock.mono_ns() - session.t0_mono) / 1e9)

    def _table(self) -> Table:
        table = Table(title=f"elapsed {self._elapsed():.1f} s", title_justify="left")
        for column in ("probe", "endpoint", "state", "ok", "fail", "info", "last error"):
            numeric = column in {"ok", "fail", "info"}
            table.add_column(column, justify="right" if numeric else "left")
        if self._session is None:
            return table
        now = self._session.clock.mono_ns()
        for probe in self._session.probes:
            status = probe.status
            if status.failing_since_mono is None:
                state = "[green]up[/]" if status.ok else "…"
            else:
                state = f"[red]down {(now - status.failing_since_mono) / 1e9:.2f} s[/]"
            table.add_row(
                probe.spec.name, str(probe.endpoint), state, str(status.ok),
                str(status.fail), str(status.info), status.last_error or "",
            )  # fmt: skip
        return table


def summary_table(summary: Summary) -> Table:
    resolution = summary.resolution_ms
    detail = "no probe attempts" if resolution is None else f"resolution {resolution:g} ms"
    table = Table(title=f"run {summary.run_id} — {detail}")
    for column in ("probe", "ops", "ok", "fail", "info", "outages", "downtime ms", "longest ms"):
        table.add_column(column, justify="left" if column == "probe" else "right")
    for name, probe in summary.probes.items():
        table.add_row(
            name, str(probe.ops), str(probe.ok), str(probe.fail), str(probe.info),
            str(len(probe.outages)), f"{probe.downtime_ms:.1f}", f"{probe.longest_outage_ms:.1f}",
        )  # fmt: skip
    return table


def print_summary(summary: Summary, run_dir: object, console: Console | None = None) -> None:
    out = console or Console(file=sys.stdout)
    out.print(summary_table(summary))
    audit = summary.audit
    out.print(
        f"audit: {audit.status} — acknowledged {audit.acknowledged}, lost {audit.lost}, "
        f"indeterminate found {audit.indeterminate_found} / missing {audit.indeterminate_missing}",
        highlight=False,
    )
    out.print(f"written to {run_dir}", highlight=False)


def print_run_outcome(outcome: ScenarioOutcome, console: Console | None = None) -> None:
    """The end of ``harness run``: the table, the thresholds, the audit, where it all is."""
    out = console or Console(file=sys.stdout)
    summary = outcome.summary
    out.print(summary_table(summary))
    for result in summary.thresholds:
        value = "n/a" if result.value is None else f"{result.value:g}"
        mark = "[green]pass[/]" if result.verdict == "pass" else f"[red]{result.verdict}[/]"
        out.print(f"threshold {result.condition}: measured {value} → {mark}")
    audit = summary.audit
    out.print(f"audit: {audit.status} — {audit.reason}", highlight=False)
    if outcome.failure:
        out.print(f"[red]the change failed[/]: {outcome.failure} (rolled back)")
    out.print(f"written to {outcome.run_dir} (report.md, report.html)", highlight=False)
