"""How long does `harness report` take on a big run? Target: ≤ 15 s and ≤ 1.5 GB peak.

Uses the synthetic history of ``summary_speed.py`` (four probes, ~1,000,000 probe ops,
several outages, a final read) and adds what a scenario run also records: a direct CA
change and a failover as scenario actions with milestones, and the AWS events around them,
so the charts draw markers too. The run is prepared as a run leaves it (Parquet and
``summary.json``) in one child process; ``write_report`` is then timed in fresh child
processes, once with ``summary.json`` (the usual case: the end of a run, or `harness
report` later) and once without it (the report re-analyses the history).

Each measurement runs in its own process started from this small parent, because
``ru_maxrss`` carries over fork: the peak printed is the report's own (imports included).

    .venv/bin/python benchmarks/report_speed.py [--ops 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

#: (seconds from the start, process, f, type, value): the scenario and the AWS events,
#: placed on the outages of summary_speed.OUTAGES.
ACTIONS = (
    (598.0, "scenario", "modify_ca", "invoke", {"instance": "db-1", "ca": "rds-ca-rsa2048-g1"}),
    (598.4, "scenario", "modify_ca", "ok", {"status": "modifying"}),
    (598.4, "scenario", "wait_available", "invoke", {"instance": "db-1"}),
    (600.0, "aws", "event", "info", {"message": "DB instance shutdown"}),
    (615.0, "aws", "event", "info", {"message": "DB instance restarted"}),
    (616.0, "scenario", "wait_available", "ok", {"status": "available"}),
    (1795.0, "scenario", "failover", "invoke", {"target": "db-2"}),
    (1800.0, "aws", "event", "info", {"message": "Started cluster failover to db-2"}),
    (1830.0, "aws", "event", "info", {"message": "Completed failover to DB instance: db-2"}),
    (1831.0, "scenario", "failover", "ok", {"writer": "db-2"}),
)


def _append_actions(run_dir: Path) -> None:
    import summary_speed as base  # the generator's constants; imported in the child only

    from harness.history import JSONL_NAME

    path = run_dir / JSONL_NAME
    count = path.read_bytes().count(b"\n")
    lines = []
    for i, (at_s, process, f, type_, value) in enumerate(ACTIONS):
        mono = base.T0_MONO + round(at_s * 1e9)
        key = "start" if type_ == "invoke" else "end"
        op = {
            "index": count + i, "process": process, "f": f, "type": type_,
            f"{key}_mono_ns": mono, f"{key}_ns": mono + base.WALL_OFFSET,
            "value": json.dumps(value),
        }  # fmt: skip
        lines.append(json.dumps(op, separators=(",", ":")))
    with path.open("a", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")


def prepare(run_dir: Path, total_ops: int) -> None:
    """Generate, add the actions, convert and summarize: what a finished run leaves."""
    import time

    import summary_speed as base

    from harness.analysis import ProbeInfo
    from harness.rundir import RUN_INFO_NAME, RunInfo, finish_run

    t0 = time.perf_counter()
    rows = base.generate(run_dir, total_ops)
    _append_actions(run_dir)
    info = RunInfo(
        run_id="bench", command="run", started="2026-12-03T13:02:12.000Z", tool_version="bench",
        target="local", emulation="aurora", scenario="direct CA change, then failover (benchmark)",
        cluster="bench-cluster", ca_from="rds-ca-2019", ca_to="rds-ca-rsa2048-g1",
        probes={
            name: ProbeInfo(
                kind=kind, mode="fresh" if kind == "connect" else "pooled", interval_ms=interval
            )
            for name, kind, interval in base.PROBES
        },
    )  # fmt: skip
    (run_dir / RUN_INFO_NAME).write_text(info.model_dump_json(indent=2), encoding="utf-8")
    finish_run(run_dir, info.run_id, info.probes, info.target)
    print(f"prepared:        {rows + len(ACTIONS):,} ops in {time.perf_counter() - t0:.1f} s")


def measure(run_dir: Path, label: str) -> None:
    """The timed part, in a process of its own: ``write_report`` with every format."""
    import resource
    import time

    from harness.report import write_report

    started = time.perf_counter()
    files = write_report(run_dir)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    sizes = ", ".join(f"{p.name} {p.stat().st_size / 1024:.0f} KiB" for p in files.all())
    print(f"{label}: {elapsed:.2f} s (target ≤ 15 s), peak RSS {peak:.0f} MiB (≤ 1536 MiB)")
    print(f"    {sizes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=1_000_000, help="probe ops to generate")
    parser.add_argument("--keep", type=Path, help="write the run here and keep it")
    parser.add_argument("--prepare", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--label", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        prepare(args.prepare, args.ops)
        return
    if args.measure:
        measure(args.measure, args.label)
        return
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.keep or Path(tmp)
        run_dir.mkdir(parents=True, exist_ok=True)
        me = [sys.executable, __file__]
        subprocess.run([*me, "--prepare", str(run_dir), "--ops", str(args.ops)], check=True)
        summary, aside = run_dir / "summary.json", run_dir / "summary.json.aside"
        summary.rename(aside)  # a rename keeps its mtime: still current afterwards
        label = "write_report, re-analysing    "
        subprocess.run([*me, "--measure", str(run_dir), "--label", label], check=True)
        aside.rename(summary)
        label = "write_report with summary.json"
        subprocess.run([*me, "--measure", str(run_dir), "--label", label], check=True)


if __name__ == "__main__":
    main()
