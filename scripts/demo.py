"""`make demo`: a measured outage on a throw-away local MariaDB, start to finish.

Starts a TLS MariaDB on 127.0.0.1 (a certificate from a local CA named like RDS's),
runs `harness probe` against it, restarts the server half-way (what a CA change with
apply-immediately does to an instance), and leaves the run in results/. Nothing else
is left behind: the server and its files are removed at the end, even on Ctrl-C.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from harness.rundir import default_run_dir
from harness.targets.local.sandbox import start_sandbox

PROBE_SECONDS = 8.0
RESTART_AT_S = 3.0


def main() -> int:
    out = default_run_dir("demo-probe")
    print("starting a throw-away TLS MariaDB on 127.0.0.1 …", flush=True)
    with start_sandbox() as box:
        env = dict(os.environ, HARNESS_DB_PASSWORD=box.password)
        command = [
            sys.executable, "-m", "harness.cli", "probe", "--endpoint", box.endpoint,
            "--user", box.user, "--database", box.database,
            "--ca-bundle", str(box.ca_bundle), "--probes", "write,read,connect/20ms",
            "--duration", str(PROBE_SECONDS), "--out", str(out),
        ]  # fmt: skip
        print("$ HARNESS_DB_PASSWORD=… harness probe " + " ".join(command[4:]), flush=True)
        probe = subprocess.Popen(command, env=env)
        try:
            time.sleep(RESTART_AT_S)
            print(f"\n>>> restarting the server (as a CA change would) at {RESTART_AT_S:g} s\n")
            box.server.restart()
            code = probe.wait(timeout=PROBE_SECONDS + 60)
        finally:
            if probe.poll() is None:
                probe.terminate()
                probe.wait(timeout=30)
    print(f"\nrun directory: {Path(out).resolve()} (summary.json, history.parquet, …)")
    return code


if __name__ == "__main__":
    sys.exit(main())
