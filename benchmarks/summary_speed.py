"""How long does it take to analyse a big run? Target: ≤ 3 s for 1,000,000 probe ops.

Generates a synthetic history of four probes (write, read, read@writer at 10 ms, connect at
50 ms: ~52 minutes of probing), with several outages and a final read, as
``history.jsonl`` in a temporary directory and converts it to Parquet as a run does when
it ends (both in a child process, so the peak RSS printed is the analysis's alone); then
times ``load_history`` + ``summarize`` + writing ``summary.json``.

    .venv/bin/python benchmarks/summary_speed.py [--ops 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from harness.analysis import summarize
from harness.history import JSONL_NAME, convert_to_parquet, load_history
from harness.ranges import to_ranges

MS = 1_000_000
T0_MONO = 1_000_000 * MS
WALL_OFFSET = 1_796_302_932_000 * MS - T0_MONO  # the run starts 2026-12-03T13:02:12Z
PROBES = (("write", "write", 10), ("read", "read", 10), ("read@writer", "read", 10))
PROBES += (("connect", "connect", 50),)

#: (probe or "*", first second, last second, error_class): when each probe is down.
OUTAGES = (
    ("*", 600.0, 615.0, "connection_lost"),  # a direct CA change: everyone down ~15 s
    ("connect", 615.0, 640.0, "tls_verify_failed"),  # new clients distrust the new CA
    ("read", 1200.0, 1200.35, "timeout"),  # a blip
    ("*", 1800.0, 1830.0, "connect_refused"),  # a failover
    ("write", 1830.0, 1832.0, "read_only"),  # writes landing on the demoted writer
    ("read", 2400.0, 2400.05, "connection_lost"),
)


def probe_lines(
    name: str, f: str, interval_ms: int, n: int, rng: np.random.Generator
) -> tuple[list[str], np.ndarray, list[int]]:
    """JSON lines for one probe, their end times, and (for writes) the seqs that landed."""
    seq = np.arange(n, dtype=np.int64)
    intended = T0_MONO + seq * interval_ms * MS
    lag = rng.integers(20_000, 300_000, n)  # 0.02–0.3 ms of schedule lag
    latency = (rng.lognormal(mean=0.7, sigma=0.4, size=n) * MS).astype(np.int64)
    start = intended + lag
    end = start + latency
    t = (intended - T0_MONO) / 1e9
    down = np.zeros(n, dtype=bool)
    error = np.full(n, "", dtype=object)
    for who, lo, hi, cls in OUTAGES:
        if who in ("*", name):
            hit = (t >= lo) & (t < hi)
            down |= hit
            error[hit] = cls
    # During the outages a third of the attempts hang until their 2 s deadline.
    hang = down & (rng.random(n) < 0.33)
    end[hang] = start[hang] + 2_000 * MS
    info = hang & (f == "write")
    outcome = np.where(down, np.where(info, "info", "fail"), "ok")
    server = np.where(t < 1815.0, "db-1", "db-2")
    endpoint = "writer.example:3306" if "@writer" in name or f != "read" else "reader.example:3306"
    common = f'"process":"{name}","f":"{f}","endpoint":"{endpoint}"'
    lines = [
        (
            f'{{{common},"type":"ok","seq":{k},"intended_ns":{i + WALL_OFFSET},'
            f'"start_ns":{s + WALL_OFFSET},"end_ns":{e + WALL_OFFSET},'
            f'"intended_mono_ns":{i},"start_mono_ns":{s},"end_mono_ns":{e},'
            f'"server":"{srv}","read_only":false,"new_conn":false,"tls_version":"TLSv1.3",'
            f'"peer_issuer_cn":"Amazon RDS us-east-1 Root CA RSA2048 G1"}}'
        )
        if o == "ok"
        else (
            f'{{{common},"type":"{o}","seq":{k},"intended_ns":{i + WALL_OFFSET},'
            f'"start_ns":{s + WALL_OFFSET},"end_ns":{e + WALL_OFFSET},'
            f'"intended_mono_ns":{i},"start_mono_ns":{s},"end_mono_ns":{e},'
            f'"error_class":"{c}","errno":2013,"message":"Lost connection to server"}}'
        )
        for k, i, s, e, o, c, srv in zip(
            seq.tolist(), intended.tolist(), start.tolist(), end.tolist(),
            outcome.tolist(), error.tolist(), server.tolist(), strict=True,
        )
    ]  # fmt: skip
    landed: list[int] = []
    if f == "write":
        # Acknowledged writes all landed; half of the indeterminate ones did.
        keep = (outcome == "ok") | (info & (rng.random(n) < 0.5))
        landed = seq[keep].tolist()
    return lines, end, landed


def generate(run_dir: Path, total_ops: int) -> int:
    """Write ``history.jsonl`` with about ``total_ops`` probe ops; returns the line count."""
    rng = np.random.default_rng(42)
    per_second = sum(1000 / interval for _, _, interval in PROBES)
    seconds = total_ops / per_second
    lines: list[str] = []
    ends: list[np.ndarray] = []
    found: dict[str, list[list[int]]] = {}
    for name, f, interval in PROBES:
        n = round(seconds * 1000 / interval)
        probe, end, landed = probe_lines(name, f, interval, n, rng)
        lines += probe
        ends.append(end)
        if f == "write":
            found[name] = to_ranges(landed)
    order = np.argsort(np.concatenate(ends), kind="stable")  # completion order, as recorded
    last = T0_MONO + round(seconds * 1e9) + 3_000 * MS
    value = json.dumps({"writer": "db-2", "found": found}, separators=(",", ":"))
    final = {
        "process": "audit", "f": "final_read", "type": "ok", "start_mono_ns": last,
        "end_mono_ns": last + 80 * MS, "start_ns": last + WALL_OFFSET,
        "end_ns": last + 80 * MS + WALL_OFFSET, "value": value,
    }  # fmt: skip
    with (run_dir / JSONL_NAME).open("w", encoding="utf-8") as out:
        body = [f'{{"index":{idx},{lines[row][1:]}' for idx, row in enumerate(order.tolist())]
        body.append(json.dumps({"index": len(body), **final}, separators=(",", ":")))
        out.write("\n".join(body) + "\n")
    return len(body)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def measure(run_dir: Path) -> None:
    """The timed part: load the Parquet history, summarize, write summary.json."""
    t0 = time.perf_counter()
    history = load_history(run_dir)
    t1 = time.perf_counter()
    summary = summarize(history, run_id="bench")
    t2 = time.perf_counter()
    (run_dir / "summary.json").write_text(summary.model_dump_json(indent=2) + "\n", "utf-8")
    t3 = time.perf_counter()
    outages = sum(len(p.outages) for p in summary.probes.values())
    print(f"rows:               {len(history):,}")
    print(f"load_history:       {t1 - t0:.3f} s (parquet)")
    print(f"summarize:          {t2 - t1:.3f} s")
    print(f"write summary.json: {t3 - t2:.3f} s")
    print(f"total:              {t3 - t0:.3f} s (target ≤ 3 s)")
    print(f"peak RSS:           {peak_rss_mb():.0f} MiB (getrusage; this process: load + summary)")
    print(f"outages found:      {outages}; audit {summary.audit.status}", end="")
    print(f", indeterminate {summary.audit.indeterminate}", end="")
    print(f" (found {summary.audit.indeterminate_found})")
    for name, probe in summary.probes.items():
        print(
            f"  {name:12} ops {probe.ops:>7,} downtime {probe.downtime_ms:>9.1f} ms "
            f"longest {probe.longest_outage_ms:>9.1f} ms outages {len(probe.outages)}"
        )


def prepare(run_dir: Path, total_ops: int) -> None:
    """Generate the run and convert it, as a run's end does (not part of the timed part)."""
    t0 = time.perf_counter()
    rows = generate(run_dir, total_ops)
    t1 = time.perf_counter()
    size = (run_dir / JSONL_NAME).stat().st_size
    print(f"generated:          {rows:,} rows, {size / 2**20:.0f} MiB JSONL in {t1 - t0:.1f} s")
    load_history(run_dir)
    t2 = time.perf_counter()
    print(f"load_history:       {t2 - t1:.3f} s (JSONL, before conversion; not timed)")
    convert_to_parquet(run_dir)
    t3 = time.perf_counter()
    parquet = (run_dir / "history.parquet").stat().st_size
    print(f"convert_to_parquet: {t3 - t2:.3f} s ({parquet / 2**20:.0f} MiB; not timed)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=1_000_000, help="probe ops to generate")
    parser.add_argument("--keep", type=Path, help="write the run here and keep it")
    parser.add_argument("--prepare", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        prepare(args.prepare, args.ops)
        return
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.keep or Path(tmp)
        run_dir.mkdir(parents=True, exist_ok=True)
        # Generation runs in a child so that this process's peak RSS is the analysis's own
        # (ru_maxrss survives fork and exec, so the child must be the generator, not us).
        command = [sys.executable, __file__, "--prepare", str(run_dir), "--ops", str(args.ops)]
        subprocess.run(command, check=True)
        measure(run_dir)


if __name__ == "__main__":
    main()
