"""Write a run's report: ``report.md``, ``report.html`` and the charts, from the run alone.

:func:`write_report` is the one entry point (the CLI calls it at the end of a run and for
``harness report RUN_DIR``). It reads the run directory (:mod:`~harness.report.inputs`),
reduces what the charts draw (:mod:`~harness.report.series`), draws them
(:mod:`~harness.report.charts`) and renders one view model
(:mod:`~harness.report.view`) through two Jinja2 templates.

Escaping is on by default in both templates, because error messages and action values in
the history can contain anything: the HTML environment autoescapes, and the Markdown
environment escapes every ``{{ }}`` through ``finalize`` unless a filter marked the text as
already-safe Markdown. Files are written to ``*.partial`` and renamed, so a reader never
opens half a report.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import jinja2

from harness.analysis.outages import probe_arrays
from harness.errors import UsageError
from harness.report.charts import CHARTS, render_charts
from harness.report.inputs import RunInputs, load_run
from harness.report.series import chart_data
from harness.report.timeline import (
    ca_change,
    example_messages,
    find_events,
    find_origin,
    seen_issuers,
)
from harness.report.view import CHART_TITLES, ChartRef, ReportView, build_view, file_rows

FORMATS: Final = ("md", "html", "png", "svg")
MARKDOWN_NAME: Final = "report.md"
HTML_NAME: Final = "report.html"

_TEMPLATES: Final = Path(__file__).with_name("templates")


@dataclass(frozen=True)
class ReportFiles:
    """The files :func:`write_report` wrote (absent formats are None / missing keys)."""

    run_dir: Path
    markdown: Path | None
    html: Path | None
    #: chart name (``timeline``, ``latency``, ``errors``) → format (``png``, ``svg``) → path.
    charts: dict[str, dict[str, Path]] = field(default_factory=dict)
    #: The warnings the report repeats (torn history, stale summary...).
    warnings: list[str] = field(default_factory=list)

    def all(self) -> list[Path]:
        """Every file written, report first."""
        paths = [p for p in (self.markdown, self.html) if p is not None]
        return paths + [path for by_fmt in self.charts.values() for path in by_fmt.values()]


class Md(str):
    """Text that is already Markdown: ``finalize`` leaves it alone."""

    __slots__ = ()


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md_escape(value: object) -> str:
    """Plain text → Markdown that shows it literally, on one line (safe in table cells)."""
    if isinstance(value, Md):
        return value
    text = " ".join(str(value).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_code(value: object) -> Md:
    """A code span that survives any content (backticks, pipes in a table cell)."""
    text = " ".join(str(value).split()).replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return Md(f"{fence}{pad}{text}{pad}{fence}")


def template_environment(markdown: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=not markdown,
        undefined=jinja2.StrictUndefined,  # a typo in a template fails loudly, in tests
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=md_escape if markdown else None,
    )
    env.filters["code"] = md_code
    return env


def render_markdown(view: ReportView) -> str:
    text = template_environment(markdown=True).get_template("report.md.j2").render(v=view)
    return re.sub(r"\n{3,}", "\n\n", text)


def render_html(view: ReportView, images: dict[str, str]) -> str:
    """``images``: chart name → ``data:`` URI (the page must stand alone)."""
    return (
        template_environment(markdown=False)
        .get_template("report.html.j2")
        .render(v=view, images=images)
    )


def write_output(path: Path, data: bytes) -> Path:
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_bytes(data)
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def _formats(formats: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(formats))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown:
        raise UsageError(
            f"unknown report format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}"
        )
    return chosen


def build_report(
    inputs: RunInputs, formats: tuple[str, ...]
) -> tuple[ReportView, dict[str, dict[str, bytes]]]:
    """The view and the chart bytes (PNG always when HTML is wanted: it embeds them)."""
    summary, history = inputs.summary, inputs.history
    names = list(summary.probes)
    arrays = probe_arrays(history)
    events, left_out = find_events(history, names)
    origin = find_origin(events, arrays)
    data = chart_data(arrays, dict(summary.probes), events, origin)
    image_formats = [
        f for f in ("png", "svg") if f in formats or (f == "png" and "html" in formats)
    ]
    images = render_charts(data, image_formats) if image_formats else {}
    info = inputs.run_info
    link_format = "png" if "png" in formats else "svg" if "svg" in formats else None
    charts = {
        name: ChartRef(
            name=name,
            title=CHART_TITLES[name],
            caption=_caption(name, data.reduction, data.xlabel),
            file=f"{name}.{link_format}" if link_format else None,
        )
        for name in CHARTS
    }
    view = build_view(
        summary=summary,
        info=info,
        origin=origin,
        events=events,
        events_left_out=left_out,
        ca_change=ca_change(
            info.ca_from if info else None,
            info.ca_to if info else None,
            seen_issuers(history, names),
        ),
        examples=example_messages(history, names),
        warnings=list(inputs.warnings),
        charts=charts,
    )
    return view, images


def _caption(name: str, reduction: str, xlabel: str) -> str:
    if name == "timeline":
        return (
            "One lane per probe. Gray ticks: ok attempts; colored ticks: failed attempts by "
            "error class; red bands: outages, with their duration; vertical lines: actions "
            f"and events. x: {xlabel}. Drawing: {reduction}."
        )
    if name == "latency":
        return (
            "Latency of ok attempts from their intended start (ms, log scale); gray: "
            f"outages. x: {xlabel}."
        )
    return "Failed attempts per probe and error class over the whole run (the summary's counts)."


def write_report(run_dir: Path, *, formats: Iterable[str] = FORMATS) -> ReportFiles:
    """Write the report of the run in ``run_dir`` into it; see the module docstring.

    Raises :class:`~harness.errors.UsageError` (one line) when the directory holds no
    usable history; warns (and says so in the report) when it is only imperfect.
    """
    chosen = _formats(formats)
    inputs = load_run(Path(run_dir))
    view, images = build_report(inputs, chosen)
    run = inputs.run_dir
    chart_files = {
        name: {fmt: run / f"{name}.{fmt}" for fmt in ("png", "svg") if fmt in chosen}
        for name in images
    }
    written = [p.name for by_fmt in chart_files.values() for p in by_fmt.values()]
    written += [n for n, f in ((MARKDOWN_NAME, "md"), (HTML_NAME, "html")) if f in chosen]
    view.files = file_rows(run, written)

    out_charts: dict[str, dict[str, Path]] = {}
    for name, by_fmt in chart_files.items():
        out_charts[name] = {
            fmt: write_output(path, images[name][fmt]) for fmt, path in by_fmt.items()
        }
    markdown = html = None
    if "md" in chosen:
        markdown = write_output(run / MARKDOWN_NAME, render_markdown(view).encode("utf-8"))
    if "html" in chosen:
        uris = {
            name: "data:image/png;base64," + base64.b64encode(by_fmt["png"]).decode("ascii")
            for name, by_fmt in images.items()
        }
        html = write_output(run / HTML_NAME, render_html(view, uris).encode("utf-8"))
    return ReportFiles(run, markdown, html, out_charts, list(inputs.warnings))
