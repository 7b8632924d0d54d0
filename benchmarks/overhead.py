"""Overhead: `harness probe` against a bare aiomysql loop doing the same operations.

Both run side by side, at the same time, against one real TLS MariaDB on 127.0.0.1:
3 pooled probes at 100 Hz (write, read on the reader endpoint, read on the writer) and
1 fresh-connection probe at 20 Hz. CPU is read from /proc over a steady window that
leaves out start-up and shutdown. Targets: harness CPU ≤ 1.3 × the bare loop's, schedule
lag p99 ≤ 2 ms.

    .venv/bin/python benchmarks/overhead.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from harness.history import load_history
from harness.targets.local.sandbox import start_sandbox

from _support import start_probe, wait_for_lines

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=4.0)
    args = parser.parse_args()
    here = Path(__file__).parent
    with tempfile.TemporaryDirectory(prefix="harness-overhead-") as tmp, start_sandbox() as box:
        out = Path(tmp) / "run"
        harness = start_probe(
            box, box.endpoint, out, "--reader-endpoint", box.endpoint,
            "--probes", "write,read,read@writer,connect/50ms", "--interval-ms", "10",
        )  # fmt: skip
        wait_for_lines(out / "history.jsonl", 100)  # the table exists now
        bare = subprocess.Popen(
            [
                sys.executable, str(here / "bare_loop.py"), "--host", box.host,
                "--port", str(box.port), "--user", box.user, "--database", box.database,
                "--ca-bundle", str(box.ca_bundle), "--run-id", "bare-loop",
            ],
            env=dict(os.environ, BARE_PASSWORD=box.password), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(args.warmup)
        h0, b0, t0 = cpu_seconds(harness.pid), cpu_seconds(bare.pid), time.monotonic()
        window_start_ns = time.time_ns()
        time.sleep(args.seconds)
        h1, b1, t1 = cpu_seconds(harness.pid), cpu_seconds(bare.pid), time.monotonic()
        window_end_ns = time.time_ns()
        for proc in (harness, bare):
            proc.send_signal(signal.SIGINT)
        bare_out, bare_err = bare.communicate(timeout=30)
        if bare.returncode != 0:
            raise SystemExit(f"bare loop failed:\n{bare_err[-3000:]}")
        harness.wait(timeout=60)
        history = load_history(out)
    wall = t1 - t0
    harness_cpu, bare_cpu = (h1 - h0) / wall, (b1 - b0) / wall
    pooled = history[
        history["process"].isin(["write", "read", "read@writer"])
        & (history["new_conn"] == False)  # noqa: E712
        & (history["intended_ns"] >= window_start_ns)
        & (history["intended_ns"] <= window_end_ns)
    ]
    lag_ms = (pooled["start_mono_ns"] - pooled["intended_mono_ns"]).to_numpy(float) / 1e6
    p50, p99, p999 = np.percentile(lag_ms, [50, 99, 99.9])
    bare_lag = json.loads(bare_out.strip().splitlines()[-1])
    ratio = harness_cpu / bare_cpu
    ok = ratio <= 1.3 and p99 <= 2.0
    print(f"window {wall:.1f} s; 3 pooled probes at 100 Hz + 1 fresh at 20 Hz, side by side")
    print(
        f"harness probe : CPU {harness_cpu:6.1%} of a core; schedule lag p50 {p50:.2f} ms, "
        f"p99 {p99:.2f} ms, p99.9 {p999:.2f} ms over {len(lag_ms)} pooled attempts"
    )
    print(
        f"bare aiomysql : CPU {bare_cpu:6.1%} of a core; schedule lag p50 "
        f"{bare_lag['lag_p50_ms']:.2f} ms, p99 {bare_lag['lag_p99_ms']:.2f} ms"
    )
    print(f"CPU ratio {ratio:.2f} (target ≤ 1.3), lag p99 {p99:.2f} ms (target ≤ 2 ms): "
          f"{'PASS' if ok else 'FAIL'}")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
