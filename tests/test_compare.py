"""``harness compare``: content of comparison.md / .html, grouping, warnings, bad input.

The runs are synthetic but complete (history, run.json, summary.json from the real
analysis; see ``synthetic.py``): three repetitions of the direct CA change in a
``--repeat``-style parent, four of the failover method, with different temporary-reader
lifetimes. Every expected number is computed here from the runs' own ``summary.json``
files or from the instants the test chose, never taken from the code under test.
"""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from harness.analysis import Summary
from harness.cli import main
from harness.errors import UsageError
from harness.report.compare import ComparisonFiles, write_comparison
from harness.report.compare_stats import extra_instances

from synthetic import RunSpec, reader_actions, wall_ns, write_synthetic_run

DIRECT_DOWN_S = (14.2, 16.3, 15.1)
FAILOVER_DOWN_S = (28.0, 31.5, 29.2, 35.0)
CREATE_S = 2.0
#: Per failover run: when the old writer is seen deleted (None: never, so the reader is
#: counted to the end of the run), and by what evidence.
FAILOVER_DELETE = ((30.0, "op"), (34.5, "op"), (None, None), (36.0, "event"))
FAILOVER_SECONDS = 40.0


def _failover_actions(i: int) -> list[tuple[object, ...]]:
    reader = f"harness-run-{i}"
    delete_s, evidence = FAILOVER_DELETE[i]
    if evidence == "event":
        return [
            *reader_actions(reader, CREATE_S, None),
            (
                "event",
                "ok",
                delete_s,
                {"categories": ["deletion"], "server": "instance-1"},
                "local",
            ),
        ]
    return reader_actions(reader, CREATE_S, delete_s)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("results")
    for i, seconds in enumerate(DIRECT_DOWN_S, start=1):
        write_synthetic_run(
            root / "direct" / f"run-{i:02d}",
            RunSpec(
                run_id=f"20261203T1300{i:02d}Z-d{i}", scenario="direct-ca-change", seconds=25.0,
                down={"write": [(5.0, 5.0 + seconds)], "connect": [(5.0, 5.0 + seconds + 0.4)]},
                actions=[("modify_ca", "invoke", 5.0, {"instance": "instance-1"}),
                         ("modify_ca", "ok", 5.0 + seconds, {"instance": "instance-1"})],
                parameters={"ca": "rds-ca-rsa2048-g1", "baseline_s": 5},
            ),
        )  # fmt: skip
    for i, seconds in enumerate(FAILOVER_DOWN_S):
        run_id = f"20261203T1400{i:02d}Z-f{i}"
        write_synthetic_run(
            root / f"failover-{i}",
            RunSpec(
                run_id=run_id, scenario="failover-method", seconds=FAILOVER_SECONDS,
                down={"write": [(3.0, 3.0 + seconds)], "connect": [(3.0, 3.0 + seconds / 3)]},
                actions=_failover_actions(i), max_write_downtime_ms=33_000,
                lose_writes=2 if i == 3 else 0,
                # the reader's name carries the run id: not a difference between runs
                parameters={"ca": "rds-ca-rsa2048-g1", "temp_reader": f"harness-{run_id.lower()}"},
            ),
        )  # fmt: skip
    return root


@pytest.fixture(scope="module")
def compared(results: Path) -> ComparisonFiles:
    failover = sorted(results.glob("failover-*"))
    return write_comparison([results / "direct", *failover], results / "comparison")


@pytest.fixture(scope="module")
def md(compared: ComparisonFiles) -> str:
    assert compared.markdown is not None
    return compared.markdown.read_text()


@pytest.fixture(scope="module")
def html(compared: ComparisonFiles) -> str:
    assert compared.html is not None
    return compared.html.read_text()


def summaries(results: Path, pattern: str) -> list[Summary]:
    return [
        Summary.model_validate_json((d / "summary.json").read_text())
        for d in sorted(results.glob(pattern))
    ]


def section(md: str, heading: str) -> str:
    start = md.index(f"\n{heading}\n")
    rest = md[start + len(heading) + 2 :]
    end = re.search(r"^## ", rest, re.M)
    return rest[: end.start()] if end else rest


def table(text: str) -> list[list[str]]:
    rows = [line for line in text.splitlines() if line.startswith("|")]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", r)[1:-1]] for r in rows[2:]]


def seconds(cell: str) -> float:
    match = re.fullmatch(r"\**(≥ )?([\d,]+\.\d+) s\**", cell)
    assert match, cell
    return float(match.group(2).replace(",", ""))


def p95(values: list[float]) -> float:
    """The 95th percentile, linear between closest ranks, as the stdlib computes it."""
    return statistics.quantiles(values, n=20, method="inclusive")[18]


# --- content ----------------------------------------------------------------------------


def test_files_written(compared: ComparisonFiles, results: Path) -> None:
    out = results / "comparison"
    assert compared.out == out
    names = sorted(p.name for p in out.iterdir())
    assert names == ["comparison.html", "comparison.md", "comparison.png", "comparison.svg"]
    assert (out / "comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (out / "comparison.svg").read_bytes()[:2000]


def test_downtime_spreads_match_the_runs_summaries(md: str, results: Path) -> None:
    rows = table(section(md, "## Downtime per probe"))
    probe = ""
    seen = {}
    for row in rows:
        probe = row[0].strip("`") or probe
        seen[(probe, row[1])] = row
    expected = {
        "direct-ca-change": summaries(results, "direct/run-*"),
        "failover-method": summaries(results, "failover-*"),
    }
    assert len(expected["direct-ca-change"]) == 3 and len(expected["failover-method"]) == 4
    assert set(seen) == {(p, g) for p in ("write", "connect") for g in expected}
    for (name, group), row in seen.items():
        values = [s.probes[name].downtime_ms / 1000 for s in expected[group]]
        assert int(row[2]) == len(values)
        assert seconds(row[3]) == pytest.approx(statistics.median(values), abs=5e-4)
        assert seconds(row[4]) == pytest.approx(p95(values), abs=5e-4)
        assert seconds(row[5]) == pytest.approx(max(values), abs=5e-4)
        assert seconds(row[6]) == pytest.approx(min(values), abs=5e-4)
        assert row[7] == ("± 10 ms" if name == "write" else "± 50 ms")


def test_downtime_spreads_are_not_trivial(results: Path) -> None:
    """Guards the test above: every outage ended inside its run (no lower bounds), and
    median, p95 and max all differ."""
    runs = summaries(results, "failover-*") + summaries(results, "direct/run-*")
    assert not any(p.down_at_end for s in runs for p in s.probes.values())
    values = [s.probes["write"].downtime_ms for s in summaries(results, "failover-*")]
    assert len({statistics.median(values), p95(values), max(values)}) == 3
    direct = [s.probes["write"].downtime_ms / 1000 for s in summaries(results, "direct/run-*")]
    assert direct == pytest.approx(DIRECT_DOWN_S, abs=0.011)


def test_summary_counts_runs_thresholds_audit_and_extra_time(md: str) -> None:
    rows = {row[0].strip("*"): row for row in table(section(md, "## Summary"))}
    assert list(rows) == ["direct-ca-change", "failover-method"]
    direct, failover = rows["direct-ca-change"], rows["failover-method"]
    assert (direct[1], failover[1]) == ("3", "4")
    assert direct[2] == failover[2] == "local emulation (timing 'aurora')"
    assert direct[3] == "3/3 runs passed (100%)"
    # run 4 exceeds 33 s and lost two writes
    assert failover[3] == "3/4 runs passed (75%)"
    assert direct[4] == "pass: 0 acknowledged writes lost in 3 runs"
    assert failover[4] == "FAIL: 2 acknowledged writes lost in 4 runs"
    assert direct[5] == "none (no instance created)"
    extra = [_expected_extra_s(i) for i in range(4)]
    assert failover[5].startswith(
        f"median {statistics.median(extra):,.1f} s per run, max {max(extra):,.1f} s"
    )
    assert "counted to the end of the run" in failover[5]  # run 2 never deleted anything


def _expected_extra_s(i: int) -> float:
    delete_s = FAILOVER_DELETE[i][0]
    end_s = delete_s if delete_s is not None else FAILOVER_SECONDS + 0.5  # the final read
    return (wall_ns(end_s) - wall_ns(CREATE_S)) / 1e9


def test_runs_table_lists_every_run_with_its_extra_instance_time(md: str, results: Path) -> None:
    rows = table(section(md, "## Runs"))
    assert [r[0] for r in rows] == ["direct-ca-change"] * 3 + ["failover-method"] * 4
    header = next(line for line in section(md, "## Runs").splitlines() if line.startswith("|"))
    # one target for every run: the summary names it, the runs table does not repeat it
    assert [c.strip() for c in header.split("|")[1:-1]] == [
        "scenario", "run", "`write` downtime", "`connect` downtime", "extra instance time",
        "thresholds", "report",
    ]  # fmt: skip
    failover = rows[3:]
    for i, row in enumerate(failover):
        assert row[1] == f"`20261203T1400{i:02d}Z-f{i}`"
        assert row[4] == f"{_expected_extra_s(i):,.1f} s"
        summary = summaries(results, f"failover-{i}")[0]
        assert seconds(row[2]) == pytest.approx(
            summary.probes["write"].downtime_ms / 1000, abs=5e-4
        )
    assert [r[5] for r in failover] == ["pass", "pass", "pass", "FAIL"]
    assert all(r[4] == "—" for r in rows[:3])
    # links to each run's own report are relative to the comparison (none written here)
    assert "`" + str(results / "direct" / "run-01") + "`" in rows[0][6]


def test_html_is_self_contained_and_says_what_the_markdown_says(html: str, md: str) -> None:
    assert re.search(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]{1000,}"', html)
    assert not re.search(r'(src|href)="(https?:)?//', html)
    for heading in ("Summary", "Downtime per probe", "Runs", "How the numbers are computed"):
        assert f"## {heading}" in md
        assert f">{heading}</h2>" in html
    assert "3/4 runs passed (75%)" in html
    assert "Local emulation (timing &#39;aurora&#39;)" in html
    assert "> **Local emulation (timing 'aurora')" in md


def test_grouping_is_said_and_nothing_misleading_is_flagged(
    compared: ComparisonFiles, md: str
) -> None:
    assert compared.warnings == [
        "the runs are of 2 different scenarios: each scenario is compared as a group of its "
        "own, never pooled (direct-ca-change: 3 runs, failover-method: 4 runs)"
    ]
    assert "Warnings" not in md  # the temporary reader's name differs per run: not a warning


def test_extra_instances_counts_until_deleted_replaced_or_the_end() -> None:
    def frame(rows: list[tuple[str, str, float, dict[str, object]]]) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "f": f, "type": t, "start_ns": wall_ns(at), "end_ns": wall_ns(at),
                    "server": v.get("server"), "message": v.get("message"),
                    "value": json.dumps(v),
                }
                for f, t, at, v in rows
            ]
        )  # fmt: skip

    end = wall_ns(100.0)
    create = ("create_reader", "invoke", 10.0, {"instance": "Temp"})
    # the rollback deletes the reader it created (names compare case-insensitively)
    gone = frame([create, ("delete_instance", "ok", 25.0, {"instance": "temp"})])
    assert extra_instances(gone, end).ms == pytest.approx(15_000.0)
    # the failover method: the old writer is deleted in its place
    replaced = frame([create, ("delete_instance", "ok", 40.0, {"instance": "instance-1"})])
    assert extra_instances(replaced, end).ms == pytest.approx(30_000.0)
    # a deletion that deleted nothing (a note) does not end it; the watcher's milestone does
    kept = frame(
        [create, ("delete_instance", "ok", 30.0, {"instance": "temp", "note": "kept"}),
         ("milestone", "ok", 70.0, {"message": "temp is gone"})]
    )  # fmt: skip
    assert extra_instances(kept, end).ms == pytest.approx(60_000.0)
    # never deleted: to the end of the run, and named
    alone = extra_instances(frame([create]), end)
    assert (alone.ms, alone.open_at_end) == (pytest.approx(90_000.0), ["Temp"])
    # two readers at once cost twice
    two = frame(
        [create, ("create_reader", "invoke", 20.0, {"instance": "other"}),
         ("delete_instance", "ok", 30.0, {"instance": "other"}),
         ("delete_instance", "ok", 50.0, {"instance": "temp"})]
    )  # fmt: skip
    assert extra_instances(two, end).ms == pytest.approx(40_000.0 + 10_000.0)
    assert extra_instances(frame([("milestone", "ok", 1.0, {"message": "baseline"})]), end).ms == 0


# --- warnings ---------------------------------------------------------------------------


def _spec(run_id: str, **changes: object) -> RunSpec:
    spec = RunSpec(run_id=run_id, scenario="failover-method", down={"write": [(5.0, 12.0)]})
    for key, value in changes.items():
        setattr(spec, key, value)
    return spec


def test_mixed_targets_and_timings_in_a_group_are_warned(tmp_path: Path) -> None:
    write_synthetic_run(tmp_path / "a", _spec("r-a"))
    write_synthetic_run(tmp_path / "b", _spec("r-b", target="aws", emulation=None))
    write_synthetic_run(tmp_path / "c", _spec("r-c", emulation="instant"))
    files = write_comparison([tmp_path / n for n in "abc"], tmp_path / "out")
    assert len(files.warnings) == 1  # one group: no grouping notice
    warning = files.warnings[0]
    assert warning.startswith("failover-method: its runs were measured on different targets")
    assert "local emulation (timing 'aurora') ×1" in warning and "AWS ×1" in warning
    assert "local emulation (timing 'instant') ×1" in warning
    assert "comparing an emulation with AWS is misleading" in warning
    assert files.markdown is not None and files.html is not None
    md = files.markdown.read_text()
    assert f"- ⚠ {warning}" in md
    runs = table(section(md, "## Runs"))  # now each run names its target
    assert [r[2] for r in runs] == [
        "local emulation (timing 'aurora')",
        "AWS",
        "local emulation (timing 'instant')",
    ]
    assert "Warnings: read these before comparing" in files.html.read_text()


def test_groups_on_different_targets_and_differing_parameters_are_warned(tmp_path: Path) -> None:
    write_synthetic_run(tmp_path / "a", _spec("r-a", parameters={"reader_on_new_ca": False}))
    write_synthetic_run(tmp_path / "b", _spec("r-b", parameters={"reader_on_new_ca": "<b>x"}))
    write_synthetic_run(
        tmp_path / "c",
        _spec("r-c", scenario=None, command="probe", target=None, emulation=None,
              max_write_downtime_ms=None),
    )  # fmt: skip
    files = write_comparison([tmp_path / n for n in "abc"], tmp_path / "out")
    text = "\n".join(files.warnings)
    assert "failover-method: the runs used different parameters (reader_on_new_ca: false ×1" in text
    assert "the groups were measured on different targets" in text
    assert "observe-only: target not recorded" in text
    assert files.markdown is not None and files.html is not None
    md = files.markdown.read_text()
    summary = {row[0].strip("*"): row for row in table(section(md, "## Summary"))}
    assert summary["observe-only"][3] == "none defined"
    html = files.html.read_text()
    assert "&lt;b&gt;x" in html and "<b>x" not in html


# --- bad input: one line, exit 2, nothing written ---------------------------------------


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["compare", *args])
    err = capsys.readouterr().err
    return code, err


def _one_good_run(root: Path) -> Path:
    write_synthetic_run(root / "good", _spec("r-good"))
    return root / "good"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("empty-dir", "has no history.jsonl or history.parquet and no run-NN subdirectories"),
        ("missing", "does not exist"),
        ("newer-run-json", "was written with history format 99"),
        ("newer-summary", "is summary format 99; this harness reads up to 1"),
        ("newer-parquet", "is history format 99; this harness reads up to 1"),
        ("torn-run-json", "run.json is not readable"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, message: str
) -> None:
    good = _one_good_run(tmp_path)
    bad = tmp_path / "bad"
    if case == "empty-dir":
        bad.mkdir()
    elif case != "missing":
        write_synthetic_run(bad, _spec("r-bad"))
    if case == "newer-run-json":
        info = json.loads((bad / "run.json").read_text())
        (bad / "run.json").write_text(json.dumps({**info, "format": 99}))
    elif case == "newer-summary":
        data = json.loads((bad / "summary.json").read_text())
        (bad / "summary.json").write_text(json.dumps({**data, "format": 99}))
    elif case == "newer-parquet":
        table = pq.read_table(bad / "history.parquet")
        pq.write_table(
            table.replace_schema_metadata({"harness.history_format": "99"}),
            bad / "history.parquet",
        )
        (bad / "summary.json").touch()  # still newer than the history: the fast path
    elif case == "torn-run-json":
        (bad / "run.json").write_text('{"format": 1, "run_id": ')
    out = tmp_path / "out"
    code, err = _cli([str(good), str(bad), "--out", str(out)], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("harness: error: ")
    assert message in err
    assert not out.exists()
    with pytest.raises(UsageError):
        write_comparison([good, bad], out)


def test_a_non_empty_out_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _one_good_run(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, err = _cli([str(good), "--out", str(out)], capsys)
    assert code == 2 and "is not an empty directory" in err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_cli_prints_files_and_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_synthetic_run(tmp_path / "a", _spec("r-a"))
    write_synthetic_run(tmp_path / "b", _spec("r-b", scenario="direct-ca-change"))
    out = tmp_path / "out"
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out.split() == [
        str(out / n)
        for n in ("comparison.md", "comparison.html", "comparison.png", "comparison.svg")
    ]
    assert captured.err.startswith("warning: the runs are of 2 different scenarios: each scenario")
