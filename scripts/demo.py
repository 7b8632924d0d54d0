"""`make demo`: both runbook methods on an emulated Aurora cluster, their reports, compared.

Runs ``scenarios/direct-ca-change.yaml`` and ``scenarios/failover-method.yaml`` against
the local emulation with the ``aurora`` timing (restarts of ~15 s, failovers of ~30 s,
as on Aurora), each on a fresh cluster so both start from the same state, then
``harness compare`` on the two runs. Everything goes to ``results/<UTC time>-demo/``.

A thin script over the command line, on purpose: it shows the commands a user would
type, and each of them cleans up after itself. The cluster lives in a temporary state
directory and is taken down after each method and again at the end, whatever happens:
a failed run, Ctrl-C (the run in progress gets it too, rolls back and reports; this
script waits for it, then cleans up) or SIGTERM (passed on to the run in progress).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("direct-ca-change", "failover-method")
#: Shorter steady state and cooldown than the scenarios' defaults (5 s each): the demo's
#: budget is three minutes on two cores, and the outages are what it is about.
PHASES = ("--set", "baseline_s=2", "--set", "cooldown_s=3")
EXIT_USAGE, EXIT_INTERRUPTED = 2, 130


class Demo:
    def __init__(self) -> None:
        self.child: subprocess.Popen[bytes] | None = None
        self.interrupted = False

    def on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        """Pass SIGTERM on to the run in progress (it rolls back), then stop."""
        self.interrupted = True
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)

    def harness(self, *args: str | Path) -> int:
        """Run ``harness ARGS`` and wait for it, even through Ctrl-C.

        Ctrl-C reaches the child too (same process group): it stops its method, rolls
        back and writes its report. Killing it meanwhile could leave a temporary reader
        behind, so this only notes the interruption and keeps waiting.
        """
        command = [sys.executable, "-m", "harness.cli", *map(str, args)]
        print("$ harness " + " ".join(map(str, args)), flush=True)
        self.child = subprocess.Popen(command, cwd=ROOT)
        while True:
            try:
                code = self.child.wait()
                break
            except KeyboardInterrupt:
                self.interrupted = True
                print("\ninterrupted: waiting for the run to roll back and stop …", flush=True)
        self.child = None
        return code

    def main(self) -> int:
        started = time.monotonic()
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        out = ROOT / "results" / f"{stamp}-demo"
        temp = Path(tempfile.mkdtemp(prefix="harness-demo-"))
        state = temp / "cluster"
        codes: dict[str, int] = {}
        try:
            for name in SCENARIOS:
                print(f"\n=== {name} (local emulation, aurora timing) ===", flush=True)
                codes[name] = self.harness(
                    "run", ROOT / "scenarios" / f"{name}.yaml", "--timing", "aurora",
                    "--state-dir", state, "--out", out / name, *PHASES,
                )  # fmt: skip
                # A fresh cluster for the next method: both start from the same state.
                self.harness("local", "down", "--state-dir", state)
                if self.interrupted or codes[name] in (EXIT_USAGE, EXIT_INTERRUPTED):
                    return EXIT_INTERRUPTED if self.interrupted else codes[name]
            print("\n=== comparison ===", flush=True)
            runs = [out / name for name in SCENARIOS]
            compared = self.harness("compare", *runs, "--out", out / "comparison")
        finally:
            if state.exists():
                self.harness("local", "down", "--state-dir", state)
            shutil.rmtree(temp, ignore_errors=True)
        elapsed = time.monotonic() - started
        print(f"\ndone in {elapsed:.0f} s; the local cluster is down and its files are removed.")
        print("Reports (local emulation with Aurora-like timing, not AWS):")
        for name in SCENARIOS:
            print(f"  {name:<18} {out / name / 'report.html'}  (and report.md, *.png)")
        print(f"  {'comparison':<18} {out / 'comparison' / 'comparison.html'}  (and .md, .png)")
        return max([compared, *codes.values()])


def main() -> int:
    demo = Demo()
    signal.signal(signal.SIGTERM, demo.on_sigterm)
    return demo.main()


if __name__ == "__main__":
    sys.exit(main())
