"""Overhead: `harness probe` against a bare aiomysql loop doing the same operations.

Both do, against one real TLS MariaDB on 127.0.0.1: 3 pooled probes at 100 Hz (write,
read on the reader endpoint, read on the writer) and 1 fresh-connection probe at 20 Hz.
CPU is read from /proc over a steady window that leaves out start-up and shutdown.
Schedule lag = actual start − intended start of pooled attempts that did not open a
connection. Targets: harness CPU ≤ 1.3 × the bare loop's, harness lag p99 ≤ 2 ms.

By default the two run one after the other in one invocation (each has the machine to
itself, as in production); ``--together`` runs them at the same time, where they compete
for the two cores with the server and each other.

    .venv/bin/python benchmarks/overhead.py [--seconds 20] [--together]
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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.history import load_history
from harness.targets.local.sandbox import Sandbox, start_sandbox

from _support import start_probe, wait_for_lines

TICK = os.sysconf("SC_CLK_TCK")
HERE = Path(__file__).parent


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


@dataclass
class Measured:
    cpu: float  # fraction of one core
    lag_p50_ms: float
    lag_p99_ms: float


class Contender:
    """One process under test: started, measured over a window, stopped."""

    def __init__(self, name: str, proc: subprocess.Popen[str]) -> None:
        self.name, self.proc = name, proc
        self.cpu0 = self.cpu1 = 0.0

    def mark_start(self) -> None:
        self.cpu0 = cpu_seconds(self.proc.pid)

    def mark_end(self) -> None:
        self.cpu1 = cpu_seconds(self.proc.pid)

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        out, err = self.proc.communicate(timeout=60)
        if self.proc.returncode not in (0, None):
            raise SystemExit(f"{self.name} failed ({self.proc.returncode}):\n{err[-3000:]}")
        return out


def start_harness(box: Sandbox, out: Path) -> Contender:
    proc = start_probe(
        box, box.endpoint, out, "--reader-endpoint", box.endpoint,
        "--probes", "write,read,read@writer,connect/50ms", "--interval-ms", "10",
    )  # fmt: skip
    wait_for_lines(out / "history.jsonl", 100)  # preflight done, table created
    return Contender("harness probe", proc)  # type: ignore[arg-type]


def start_bare(box: Sandbox) -> Contender:
    proc = subprocess.Popen(
        [
            sys.executable, str(HERE / "bare_loop.py"), "--host", box.host,
            "--port", str(box.port), "--user", box.user, "--database", box.database,
            "--ca-bundle", str(box.ca_bundle), "--run-id", "bare-loop",
        ],
        env=dict(os.environ, BARE_PASSWORD=box.password),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    return Contender("bare aiomysql", proc)


def measure(contenders: list[Contender], warmup: float, seconds: float) -> tuple[float, int, int]:
    time.sleep(warmup)
    for c in contenders:
        c.mark_start()
    t0, w0 = time.monotonic(), time.time_ns()
    time.sleep(seconds)
    for c in contenders:
        c.mark_end()
    return time.monotonic() - t0, w0, time.time_ns()


def harness_lag(out: Path, w0: int, w1: int) -> tuple[float, float]:
    history = load_history(out)
    pooled = history[
        history["process"].isin(["write", "read", "read@writer"])
        & (history["new_conn"] == False)  # noqa: E712
        & (history["intended_ns"] >= w0)
        & (history["intended_ns"] <= w1)
    ]
    lag_ms = (pooled["start_mono_ns"] - pooled["intended_mono_ns"]).to_numpy(float) / 1e6
    p50, p99 = np.percentile(lag_ms, [50, 99])
    return float(p50), float(p99)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--together", action="store_true", help="run both at the same time")
    args = parser.parse_args()
    results: dict[str, Measured] = {}
    with tempfile.TemporaryDirectory(prefix="harness-overhead-") as tmp, start_sandbox() as box:
        out = Path(tmp) / "run"
        harness = start_harness(box, out)
        if args.together:
            bare = start_bare(box)
            wall, w0, w1 = measure([harness, bare], args.warmup, args.seconds)
            harness.stop()
            bare_lag = json.loads(bare.stop().strip().splitlines()[-1])
            hwall = wall
        else:
            hwall, w0, w1 = measure([harness], args.warmup, args.seconds)
            harness.stop()
            bare = start_bare(box)
            wall, _, _ = measure([bare], args.warmup, args.seconds)
            bare_lag = json.loads(bare.stop().strip().splitlines()[-1])
        p50, p99 = harness_lag(out, w0, w1)
    results["harness probe"] = Measured((harness.cpu1 - harness.cpu0) / hwall, p50, p99)
    results["bare aiomysql"] = Measured(
        (bare.cpu1 - bare.cpu0) / wall, bare_lag["lag_p50_ms"], bare_lag["lag_p99_ms"]
    )
    mode = "at the same time" if args.together else "one after the other"
    print(f"{args.seconds:g} s windows, {mode}; 3 pooled probes at 100 Hz + 1 fresh at 20 Hz")
    for name, m in results.items():
        print(f"{name:14s}: CPU {m.cpu:6.1%} of a core; schedule lag p50 {m.lag_p50_ms:.2f} ms, "
              f"p99 {m.lag_p99_ms:.2f} ms")  # fmt: skip
    ratio = results["harness probe"].cpu / results["bare aiomysql"].cpu
    ok = ratio <= 1.3 and results["harness probe"].lag_p99_ms <= 2.0
    print(f"CPU ratio {ratio:.2f} (target ≤ 1.3), harness lag p99 "
          f"{results['harness probe'].lag_p99_ms:.2f} ms (target ≤ 2 ms): "
          f"{'PASS' if ok else 'FAIL'}")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
