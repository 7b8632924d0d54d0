"""Shared by the benchmark scripts: a fault proxy on its own thread, running the CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from harness.targets.local.proxy import FaultProxy
from harness.targets.local.sandbox import Sandbox

T = TypeVar("T")


class ThreadedProxy:
    """A :class:`FaultProxy` whose event loop runs on a thread of its own."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.proxy = FaultProxy(upstream)
        self.call(self.proxy.start())

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    @property
    def port(self) -> int:
        return self.proxy.port

    def close(self) -> None:
        self.call(self.proxy.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


def start_probe(
    box: Sandbox, endpoint: str, out: Path, *extra: str, quiet: bool = True
) -> subprocess.Popen[bytes]:
    """``harness probe`` as a user runs it, in its own process."""
    env = dict(os.environ, HARNESS_DB_PASSWORD=box.password)
    return subprocess.Popen(
        [
            sys.executable, "-m", "harness.cli", "probe", "--endpoint", endpoint,
            "--user", box.user, "--database", box.database, "--ca-bundle", str(box.ca_bundle),
            "--out", str(out), *extra,
        ],
        env=env,
        stdout=subprocess.DEVNULL if quiet else None,
        stderr=subprocess.DEVNULL if quiet else None,
    )  # fmt: skip


def wait_for_lines(path: Path, count: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return
        time.sleep(0.05)
    raise SystemExit(f"{path} never reached {count} lines")
