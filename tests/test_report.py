"""The per-run report: content, not pixels, of report.md, report.html and the charts.

The synthetic run below is a direct CA change against the local emulation: three probes,
a ``modify_ca`` action with a milestone, two AWS events, one outage per probe (plus a
blip), a CA issuer that changes during the outage and an error message carrying a
``<script>``. Its numbers are checked against what the analysis returns for the same
history, never against constants the report could share by accident.
"""

from __future__ import annotations

import base64
import json
import os
import re
import struct
from collections.abc import Iterable
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pyarrow.parquet as pq
import pytest

from harness.analysis import Summary, find_outages, iso_ms, summarize
from harness.analysis.outages import probe_arrays
from harness.errors import UsageError
from harness.history import HistoryWriter, Op, convert_to_parquet, load_history
from harness.probes.taxonomy import ErrorClass
from harness.ranges import to_ranges
from harness.report import ERROR_COLORS, ReportFiles, write_report
from harness.report.render import md_code, md_escape
from harness.report.series import PLOT_BINS, chart_data
from harness.report.timeline import Origin, find_events
from harness.rundir import RunInfo, finish_run

MS = 1_000_000
T0 = 5_000 * MS  # monotonic start of the schedule
WALL = 1_796_302_932_000 * MS  # wall = mono + WALL
SCRIPT = "<script>alert('pwned')</script>"
PROBES = {"write": ("write", "pooled", 10), "read": ("read", "pooled", 10)}
PROBES |= {"connect": ("connect", "fresh", 20)}


def _attempts(
    name: str, seconds: float, down: Iterable[tuple[float, float, str]], rng: np.random.Generator
) -> list[Op]:
    """One probe's attempts: due every interval, 0.1–0.4 ms late, 1–6 ms long; down in
    each (from_s, to_s, error_class) window; the old CA until 20 s, the new one after."""
    f, _, interval = PROBES[name]
    windows = list(down)
    ops = []
    for k in range(round(seconds * 1000 / interval)):
        due = T0 + k * interval * MS
        t = k * interval / 1000
        start = due + int(rng.integers(100_000, 400_000))
        end = start + int(rng.integers(1 * MS, 6 * MS))
        error = next((cls for lo, hi, cls in windows if lo <= t < hi), None)
        outcome = "ok" if error is None else "fail"
        if error == "connection_lost" and f == "write":
            outcome = "info"  # died mid-commit: indeterminate
        message = None
        if error is not None:
            message = SCRIPT if (name, k) == ("read", 1105) else f"(2003) {error} on db-1"
        ops.append(
            Op(
                process=name, f=f, type=outcome, seq=k,  # type: ignore[arg-type]
                intended_mono_ns=due, start_mono_ns=start, end_mono_ns=end,
                intended_ns=due + WALL, start_ns=start + WALL, end_ns=end + WALL,
                endpoint="127.0.0.1:33061", server="db-1" if outcome == "ok" else None,
                peer_issuer_cn=(
                    None if outcome != "ok" else "rds-ca-2019" if t < 20 else "rds-ca-rsa2048-g1"
                ),
                error_class=error, message=message,
            )
        )  # fmt: skip
    return ops


def _action(
    f: str, type_: str, at_s: float, value: dict[str, object], process: str = "scenario"
) -> Op:
    at = T0 + round(at_s * 1000) * MS
    when = {"start_mono_ns": at, "start_ns": at + WALL} if type_ == "invoke" else {}
    when = when or {"end_mono_ns": at, "end_ns": at + WALL}
    return Op(process=process, f=f, type=type_, value=json.dumps(value), **when)  # type: ignore[arg-type]


def scenario_ops(seconds: float = 40.0, *, with_actions: bool = True) -> list[Op]:
    """The run described in the module docstring."""
    rng = np.random.default_rng(7)
    restart = [(11.0, 11.05, "connection_lost"), (11.05, 25.6, "connect_refused")]
    ops = _attempts("write", seconds, restart, rng)
    ops += _attempts("read", seconds, [*restart, (33.0, 33.04, "timeout")], rng)
    ops += _attempts("connect", seconds, [(11.0, 26.0, "connect_refused")], rng)
    if with_actions:
        ca = {"instance": "db-1", "ca": "rds-ca-rsa2048-g1", "apply_immediately": True}
        ops += [
            _action("modify_ca", "invoke", 10.0, ca),
            _action("modify_ca", "ok", 10.25, {"status": "modifying"}),
            _action("wait_available", "invoke", 10.25, {"instance": "db-1"}),
            _action("event", "info", 11.0, {"message": "DB instance shutdown"}, process="aws"),
            _action("event", "info", 25.5, {"message": "DB instance restarted"}, process="aws"),
            _action("wait_available", "ok", 26.5, {"status": "available"}),
        ]
    acked = [op.seq for op in ops if op.process == "write" and op.type == "ok"]
    end = T0 + round(seconds * 1000 + 500) * MS
    value = {"writer": "db-1", "found": {"write": to_ranges(x for x in acked if x is not None)}}
    ops.append(
        Op(process="audit", f="final_read", type="ok", value=json.dumps(value),
           start_mono_ns=end, end_mono_ns=end + 5 * MS, start_ns=end + WALL,
           end_ns=end + 5 * MS + WALL)
    )  # fmt: skip
    return ops


def write_run(
    run_dir: Path, ops: list[Op], *, info: RunInfo | None = None, finish: bool = True
) -> Path:
    """A run directory as a run leaves it: journal, run.json, Parquet and summary.json."""
    run_dir.mkdir(parents=True, exist_ok=True)
    done = sorted(ops, key=lambda op: op.end_mono_ns or op.start_mono_ns or 0)
    with HistoryWriter(run_dir / "history.jsonl") as writer:
        for op in done:
            writer.append(op)
    if info is not None:
        (run_dir / "run.json").write_text(info.model_dump_json(indent=2))
    if finish:
        probe_info = info.probes if info is not None else None
        finish_run(run_dir, info.run_id if info else run_dir.name, probe_info)
    return run_dir


def local_info(**changes: object) -> RunInfo:
    info = RunInfo(
        run_id="20261203T130212Z-abc123", command="run", started="2026-12-03T13:02:12.000Z",
        tool_version="0.1.0", target="local", emulation="aurora", scenario="direct-ca-change",
        cluster="harness-local", writer_endpoint="127.0.0.1:33061",
        probes={
            name: {"kind": kind, "mode": mode, "endpoint": "127.0.0.1:33061", "interval_ms": iv}
            for name, (kind, mode, iv) in PROBES.items()
        },
    )  # fmt: skip
    return info.model_copy(update=changes)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> ReportFiles:
    run_dir = write_run(tmp_path_factory.mktemp("run") / "run", scenario_ops(), info=local_info())
    return write_report(run_dir)


@pytest.fixture(scope="module")
def md(report: ReportFiles) -> str:
    assert report.markdown is not None
    return report.markdown.read_text()


@pytest.fixture(scope="module")
def html(report: ReportFiles) -> str:
    assert report.html is not None
    return report.html.read_text()


@pytest.fixture(scope="module")
def summary(report: ReportFiles) -> Summary:
    return Summary.model_validate_json((report.run_dir / "summary.json").read_text())


def section(md: str, heading: str) -> str:
    """The text under ``heading`` up to the next heading of the same or a higher level."""
    level = heading.split(" ")[0]
    start = md.index(f"\n{heading}\n")
    rest = md[start + len(heading) + 2 :]
    ends = [m.start() for m in re.finditer(rf"^#{{1,{len(level)}}} ", rest, re.M)]
    return rest[: ends[0]] if ends else rest


def table(text: str) -> list[list[str]]:
    """The body rows of the first Markdown table in ``text``, cells stripped."""
    rows = [line for line in text.splitlines() if line.startswith("|")]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", r)[1:-1]] for r in rows[2:]]


def plain(cell: str) -> str:
    return cell.replace("`", "").replace("\\", "")


# --- content ----------------------------------------------------------------------------


def test_markdown_has_the_sections_in_order(md: str) -> None:
    headings = re.findall(r"^#{1,3} .*$", md, re.M)
    assert [h.split(":")[0] for h in headings] == [
        "# Downtime report",
        "## Summary",
        "### Measured downtime per probe",
        "## Outages",
        "## Timeline",
        "### Actions and cluster events",
        "## Latency",
        "## Errors",
        "## Files",
    ]
    assert headings[0] == "# Downtime report: direct-ca-change"


def test_summary_block_says_what_where_when_and_the_verdicts(md: str, summary: Summary) -> None:
    block = section(md, "## Summary")
    items = dict(re.findall(r"^- \*\*(.+?):\*\* (.*)$", block, re.M))
    assert list(items)[:8] == [
        "Scenario / method", "Target", "Cluster", "CA", "When", "Resolution", "Thresholds", "Audit",
    ]  # fmt: skip
    assert items["Scenario / method"] == "direct-ca-change"
    assert items["Target"].startswith("local emulation (timing 'aurora')")
    assert items["Cluster"] == "harness-local"
    # run.json names no CA, so the issuers the probes saw before and after are reported.
    assert items["CA"].startswith("rds-ca-2019 → rds-ca-rsa2048-g1")
    assert items["When"].startswith(f"{summary.started} → {summary.ended} UTC")
    assert items["Thresholds"] == "no thresholds (the scenario defines none)"
    audit = summary.audit
    assert items["Audit"].startswith(f"{audit.status} — ")
    assert f"acknowledged {audit.acknowledged:,}" in items["Audit"]
    assert f"lost {audit.lost}" in items["Audit"]
    assert (
        f"indeterminate {audit.indeterminate} (found {audit.indeterminate_found}, "
        f"missing {audit.indeterminate_missing})"
    ) in items["Audit"]
    assert audit.indeterminate > 0 and audit.status == "pass"


def test_downtime_and_resolution_are_the_summarys(md: str, summary: Summary) -> None:
    rows = table(section(md, "### Measured downtime per probe"))
    assert [plain(r[0]) for r in rows] == list(summary.probes)
    for row in rows:
        probe = summary.probes[plain(row[0])]
        assert row[3].startswith(f"{probe.downtime_ms:.3f} ms"), row
        assert row[4] == str(len(probe.outages))
        assert row[5].startswith(f"{probe.longest_outage_ms:.3f} ms")
        assert row[6] == f"± {probe.resolution_ms:g} ms resolution"
    assert {summary.probes[p].resolution_ms for p in summary.probes} == {10.0, 20.0}
    assert summary.probes["write"].downtime_ms > 14_000  # the ~14.6 s restart is measured


def test_outage_table_rows_are_find_outages(report: ReportFiles, md: str, summary: Summary) -> None:
    order = list(summary.probes)  # the report lists probes as run.json does, then by start
    expected = sorted(
        find_outages(load_history(report.run_dir)),
        key=lambda o: (order.index(o.process), o.start_ns),
    )
    rows = table(section(md, "## Outages"))
    assert len(rows) == len(expected) == 4
    for row, outage in zip(rows, expected, strict=True):
        assert plain(row[0]) == outage.process
        assert row[1] == iso_ms(outage.start_ns)
        assert row[2] == iso_ms(outage.end_ns)
        assert row[4].startswith(f"{round(outage.duration_ms, 3):.3f} ms")
        for cls, count in outage.errors.items():
            assert f"`{cls}` {count:,}" in row[6]
    # x = 0 is the start of the method (modify_ca invoked at 10 s): the restart began +1 s.
    assert rows[0][3] == "+1.000 s"


def test_actions_and_aws_events_appear_in_the_timeline_section(md: str) -> None:
    timeline = section(md, "## Timeline")
    assert "![Timeline](timeline.png)" in timeline
    assert "0 s = modify\\_ca invoked at" in timeline  # the axis says where x = 0 is
    rows = table(section(md, "### Actions and cluster events"))
    what = [(plain(r[2]), plain(r[3]), r[4]) for r in rows]
    assert what == [
        ("scenario", "modify_ca", "invoke"),
        ("scenario", "modify_ca", "ok"),
        ("scenario", "wait_available", "invoke"),
        ("aws", "event", "info"),
        ("aws", "event", "info"),
        ("scenario", "wait_available", "ok"),
    ]
    invoke, done = rows[0], rows[1]
    assert invoke[0] == iso_ms(T0 + 10_000 * MS + WALL) and invoke[1] == "+0.000 s"
    assert "instance=db-1" in invoke[6] and "ca=rds-ca-rsa2048-g1" in invoke[6]
    assert done[5] == "250.000 ms"  # took: from invoke to ok
    assert "DB instance shutdown" in rows[3][6]


def test_a_run_without_actions_has_no_actions_section(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", scenario_ops(with_actions=False))
    text = write_report(run, formats=("md",)).markdown.read_text()  # type: ignore[union-attr]
    assert "### Actions and cluster events" not in text
    assert "0 s = first probe attempt due at" in text
    assert "observe-only: harness probe" in text
    assert "no thresholds (observe-only run)" in text
    assert "not recorded (no run.json)" in text


def test_local_emulation_is_stated_when_run_json_says_local(tmp_path: Path) -> None:
    ops = scenario_ops(seconds=12.0, with_actions=False)
    local = write_report(write_run(tmp_path / "local", ops, info=local_info(emulation="instant")))
    aws = write_report(write_run(tmp_path / "aws", ops, info=local_info(target="aws")))
    assert local.markdown is not None and local.html is not None
    notice = "Local emulation, timing 'instant': these numbers were measured against an emulated"
    assert f"> **{notice}" in local.markdown.read_text()  # a quote block, before the summary
    assert notice.replace("'", "&#39;") in local.html.read_text()
    for path in (aws.markdown, aws.html):
        assert path is not None
        assert "emulation" not in path.read_text().lower()
    assert "AWS (RDS / Aurora)" in aws.markdown.read_text()  # type: ignore[union-attr]


def test_error_section_lists_classes_with_an_example_message(md: str, summary: Summary) -> None:
    rows = table(section(md, "## Errors"))
    listed = {(plain(r[0]), plain(r[1])): r[2] for r in rows}
    expected = {
        (name, cls): f"{n:,}" for name, p in summary.probes.items() for cls, n in p.errors.items()
    }
    assert listed == expected
    assert any("(2003) connect\\_refused on db-1" in r[3] for r in rows)


def test_markdown_escapes_what_comes_from_the_history(md: str) -> None:
    assert SCRIPT not in md
    assert "&lt;script&gt;alert('pwned')&lt;/script&gt;" in md


def test_html_escapes_what_comes_from_the_history(html: str) -> None:
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in html


def test_html_is_self_contained_with_embedded_charts(html: str) -> None:
    assert re.search(r"https?://", html) is None
    assert "<link" not in html and "@import" not in html
    sources = re.findall(r'<img src="([^"]+)"', html)
    assert len(sources) == 3
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "@media print" in html
    # The same sections as the Markdown, in the same order.
    assert re.findall(r"<h2 id=\"(\w+)\">", html) == [
        "summary", "outages", "timeline", "latency", "errors", "files",
    ]  # fmt: skip
    assert "Actions and cluster events" in html


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_chart_files_exist_and_are_not_trivial(report: ReportFiles) -> None:
    assert set(report.charts) == {"timeline", "latency", "errors"}
    for name, by_format in report.charts.items():
        png, svg = by_format["png"].read_bytes(), by_format["svg"].read_text()
        width, height = _png_size(png)
        assert width >= 1800 and height >= 400, name
        assert len(png) > 20_000, name
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg and len(svg) > 20_000, name
    assert [p.name for p in report.all()][:2] == ["report.md", "report.html"]


def test_files_section_lists_every_file_of_the_run(report: ReportFiles, md: str) -> None:
    listed = re.findall(r"^- `([^`]+)`", section(md, "## Files"), re.M)
    on_disk = sorted(p.name for p in report.run_dir.iterdir())
    assert sorted(listed) == on_disk
    assert listed[:4] == ["history.jsonl", "history.parquet", "run.json", "summary.json"]


def test_report_renders_the_saved_summary_when_it_is_current(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", scenario_ops(seconds=12.0), info=local_info())
    doc = json.loads((run / "summary.json").read_text())
    doc["probes"]["write"]["downtime_ms"] = 4242.125  # not what the history says
    (run / "summary.json").write_text(json.dumps(doc))
    text = write_report(run, formats=("md",)).markdown.read_text()  # type: ignore[union-attr]
    assert "4242.125 ms" in text


def test_a_stale_summary_is_reanalysed_and_the_report_says_so(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", scenario_ops(seconds=12.0), info=local_info())
    doc = json.loads((run / "summary.json").read_text())
    doc["probes"]["write"]["downtime_ms"] = 4242.125
    (run / "summary.json").write_text(json.dumps(doc))
    old = (run / "history.parquet").stat().st_mtime_ns - 10**9
    os.utime(run / "summary.json", ns=(old, old))
    files = write_report(run, formats=("md",))
    text = files.markdown.read_text()  # type: ignore[union-attr]
    assert "4242.125 ms" not in text
    fresh = summarize(load_history(run), run_id="x")
    assert f"{fresh.probes['write'].downtime_ms:.3f} ms" in text
    assert "summary.json is older than history.parquet" in text
    assert files.warnings and "re-analysed" in files.warnings[0]


def test_formats_can_be_chosen(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", scenario_ops(seconds=12.0), info=local_info())
    files = write_report(run, formats=("md", "svg"))
    assert files.html is None and set(files.charts["timeline"]) == {"svg"}
    written = {p.name for p in run.iterdir()} - {"history.jsonl", "history.parquet", "run.json"}
    assert written == {"summary.json", "report.md", "timeline.svg", "latency.svg", "errors.svg"}
    assert "![Timeline](timeline.svg)" in files.markdown.read_text()  # type: ignore[union-attr]
    with pytest.raises(UsageError, match="unknown report format"):
        write_report(run, formats=("pdf",))


def test_charts_leave_no_global_state(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", scenario_ops(seconds=12.0), info=local_info())
    before = dict(mpl.rcParams)
    backend = mpl.get_backend()
    write_report(run, formats=("png",))
    assert dict(mpl.rcParams) == before
    assert mpl.get_backend() == backend


def test_an_empty_history_still_renders(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "history.jsonl").write_text("")
    files = write_report(run)
    text = files.markdown.read_text()  # type: ignore[union-attr]
    assert "No outage" in text and "no probe attempts" in text
    assert files.charts["timeline"]["png"].stat().st_size > 5_000


# --- what the charts draw ---------------------------------------------------------------


def test_ok_attempts_are_thinned_but_every_failed_attempt_is_drawn(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    down = [(100.0 + 50 * i, 100.4 + 50 * i, "timeout") for i in range(20)]
    ops = _attempts("write", 1_200.0, down, rng)  # 120,000 attempts, 800 failed
    lines = (op.to_json() for op in _with_index(ops))
    (tmp_path / "history.jsonl").write_text("\n".join(lines) + "\n")
    history = load_history(tmp_path)
    summary = summarize(history, run_id="big")
    arrays = probe_arrays(history)
    data = chart_data(arrays, dict(summary.probes), [], Origin(T0 + WALL, "run", "t0"))
    (lane,) = data.lanes
    failed = sum(1 for op in ops if op.type != "ok")
    assert failed == sum(len(x) for x in lane.failed_x.values()) == 20 * 40
    assert 0 < len(lane.ok_x) <= PLOT_BINS
    assert lane.latency.binned and len(lane.latency.x) < 1000
    assert "every failed attempt is drawn" in data.reduction


def test_a_long_quiet_run_is_shown_around_its_outages(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    ops = _attempts("write", 600.0, [(300.0, 302.0, "connect_refused")], rng)
    (tmp_path / "history.jsonl").write_text("\n".join(o.to_json() for o in _with_index(ops)))
    history = load_history(tmp_path)
    summary = summarize(history, run_id="quiet")
    origin = Origin(T0 + WALL, "run", "t0")
    data = chart_data(probe_arrays(history), dict(summary.probes), [], origin)
    lo, hi = data.window
    assert 270 < lo < 290 and 312 < hi < 330  # 10 s or more around 300–302 s, not 0–600 s
    assert "of a run from +0 s to +600 s: every probe attempt outside it succeeded" in (
        data.reduction
    )
    (lane,) = data.lanes
    assert lane.ok_x.min() >= lo and lane.latency.x.max() <= hi


def _with_index(ops: list[Op]) -> list[Op]:
    for i, op in enumerate(ops):
        op.index = i
    return ops


def test_actions_become_markers_at_their_time(report: ReportFiles) -> None:
    history = load_history(report.run_dir)
    events, left_out = find_events(history, ["write", "read", "connect"])
    assert left_out == 0
    assert [e.label for e in events][:2] == ["▶ modify_ca", "✓ modify_ca"]
    assert [e.label for e in events][3] == "DB instance shutdown"
    assert events[1].took_ms == 250.0


def test_every_error_class_has_its_own_color() -> None:
    assert {c.value for c in ErrorClass} <= set(ERROR_COLORS)
    assert len(set(ERROR_COLORS.values())) == len(ERROR_COLORS)


def test_markdown_escaping_keeps_tables_intact() -> None:
    assert md_escape("a|b `c` *d* _e_ [f](g) <h>") == (
        "a\\|b \\`c\\` \\*d\\* \\_e\\_ \\[f\\](g) &lt;h&gt;"
    )
    assert md_escape("two\nlines") == "two lines"
    assert md_code("x|`y`") == "`` x\\|`y` ``"


# --- bad input --------------------------------------------------------------------------


def _one_line(exc: pytest.ExceptionInfo[UsageError]) -> str:
    text = str(exc.value)
    assert "\n" not in text and text
    return text


def test_a_directory_without_history_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as exc:
        write_report(tmp_path)
    assert "no history.jsonl or history.parquet" in _one_line(exc)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(UsageError) as exc:
        write_report(tmp_path / "missing")
    assert "does not exist" in _one_line(exc)


def test_a_torn_history_warns_and_still_renders(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", scenario_ops(seconds=12.0), finish=False)
    with (run / "history.jsonl").open("a") as journal:
        journal.write('{"process":"write","f":"wri')
    with pytest.warns(UserWarning, match="torn last line"):
        files = write_report(run)
    text = files.markdown.read_text()  # type: ignore[union-attr]
    assert "skipped a torn last line" in section(text, "## Summary")
    assert files.html is not None and "skipped a torn last line" in files.html.read_text()


def test_a_corrupt_history_is_a_one_line_error(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    lines = [op.to_json() for op in _with_index(scenario_ops(seconds=1.0))]
    (run / "history.jsonl").write_text("\n".join([lines[0], "not json", *lines[1:]]) + "\n")
    with pytest.raises(UsageError) as exc:
        write_report(run)
    assert "not a readable history" in _one_line(exc)


def test_a_history_from_a_newer_format_is_a_one_line_error(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", scenario_ops(seconds=1.0), finish=False)
    convert_to_parquet(run)
    table = pq.read_table(run / "history.parquet")
    pq.write_table(
        table.replace_schema_metadata({"harness.history_format": "9"}), run / "history.parquet"
    )
    with pytest.raises(UsageError) as exc:
        write_report(run)
    assert "history format 9" in _one_line(exc) and "upgrade" in _one_line(exc)


def test_run_json_from_a_newer_or_older_format_is_a_one_line_error(tmp_path: Path) -> None:
    for fmt, words in ((2, "upgrade"), (0, "older than any")):
        run = write_run(
            tmp_path / f"run{fmt}",
            scenario_ops(seconds=1.0),
            info=local_info(format=fmt),
            finish=False,
        )
        with pytest.raises(UsageError) as exc:
            write_report(run)
        assert words in _one_line(exc)


def test_an_older_history_missing_columns_is_a_one_line_error(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", scenario_ops(seconds=1.0), finish=False)
    convert_to_parquet(run)
    table = pq.read_table(run / "history.parquet").drop_columns(["intended_ns", "peer_issuer_cn"])
    pq.write_table(table, run / "history.parquet")
    with pytest.raises(UsageError) as exc:
        write_report(run)
    assert "lacks columns" in _one_line(exc)


def test_an_unreadable_run_json_is_a_one_line_error(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", scenario_ops(seconds=1.0), finish=False)
    (run / "run.json").write_text('{"run_id": 3,\n "command": [] }')
    with pytest.raises(UsageError) as exc:
        write_report(run)
    assert "run.json is not readable" in _one_line(exc)
