"""Accuracy: outages injected by a fault proxy vs what `harness probe` measures.

Injects 0.1 s, 1 s and 5 s outages by reset and by blackhole into the path between a
real `harness probe` process (write and read probes, 10 ms interval) and a real TLS
MariaDB on 127.0.0.1, then compares each measured outage with its injected window.
Target: |measured − injected| ≤ 15 ms in every case.

    .venv/bin/python benchmarks/accuracy.py [--gap 2] [--interval-ms 10] [--keep DIR]
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path

from harness.analysis import find_outages
from harness.history import load_history
from harness.targets.local.sandbox import start_sandbox

from _support import ThreadedProxy, start_probe, wait_for_lines

DURATIONS_S = (0.1, 1.0, 5.0)
KINDS = ("reset", "blackhole")
TARGET_MS = 15.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gap", type=float, default=2.0, help="seconds between windows")
    parser.add_argument("--interval-ms", type=float, default=10.0)
    parser.add_argument("--keep", type=Path, help="write the run here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="harness-accuracy-") as tmp, start_sandbox() as box:
        proxy = ThreadedProxy((box.host, box.port))
        out = args.keep or Path(tmp) / "run"
        probe = start_probe(
            box, f"127.0.0.1:{proxy.port}", out, "--probes", "write,read",
            "--interval-ms", str(args.interval_ms),
        )  # fmt: skip
        try:
            wait_for_lines(out / "history.jsonl", 100)
            windows = []
            for kind in KINDS:
                for duration in DURATIONS_S:
                    time.sleep(args.gap)
                    windows.append(proxy.call(proxy.proxy.inject(kind, duration)))  # type: ignore[arg-type]
                    print(f"injected {kind:9s} {duration:4.1f} s", file=sys.stderr)
            time.sleep(args.gap)
        finally:
            probe.send_signal(signal.SIGINT)
            probe.wait(timeout=60)
            proxy.close()
        outages = find_outages(load_history(out))
    worst = 0.0
    print(f"interval {args.interval_ms:g} ms; Δ = measured − injected (ms)")
    print(f"{'fault':9s} {'injected':>9s} {'probe':6s} {'measured':>9s} {'Δstart':>7s} "
          f"{'Δend':>7s} {'Δdur':>7s}  errors")  # fmt: skip
    for window in windows:
        injected_ms = (window.end_ns - window.start_ns) / 1e6
        for process in ("write", "read"):
            hits = [
                o for o in outages
                if o.process == process and o.start_ns < window.end_ns + 50e6
                and o.end_ns > window.start_ns - 50e6
            ]  # fmt: skip
            if len(hits) != 1:
                print(f"{window.kind:9s} {injected_ms:9.1f} {process:6s} {len(hits)} outages!")
                worst = float("inf")
                continue
            o = hits[0]
            d_start = (o.start_ns - window.start_ns) / 1e6
            d_end = (o.end_ns - window.end_ns) / 1e6
            d_dur = o.duration_ms - injected_ms
            worst = max(worst, abs(d_dur))
            print(
                f"{window.kind:9s} {injected_ms:9.1f} {process:6s} {o.duration_ms:9.1f} "
                f"{d_start:7.1f} {d_end:7.1f} {d_dur:7.1f}  {dict(o.errors)}"
            )
    others = [o for o in outages if not any(
        o.start_ns < w.end_ns + 50e6 and o.end_ns > w.start_ns - 50e6 for w in windows
    )]  # fmt: skip
    print(f"outages outside injected windows: {len(others)}")
    verdict = worst <= TARGET_MS and not others
    print(f"worst |Δduration| = {worst:.1f} ms (target ≤ {TARGET_MS:g} ms): "
          f"{'PASS' if verdict else 'FAIL'}")  # fmt: skip
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
