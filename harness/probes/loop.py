"""An asyncio event loop that wakes timers on time, for probes that run on a schedule.

asyncio's epoll selector takes its timeout in whole milliseconds, rounded *up*, so a timer
due in 0.2 ms fires up to a millisecond late; that lateness lands in every attempt's
schedule lag. This loop waits on the epoll file descriptor itself with ``select()``,
whose timeout has microsecond resolution, then collects the ready events with a
non-blocking epoll poll. Registration and event delivery stay epoll's, so the number
of sockets is not limited by select()'s FD_SETSIZE: only the one epoll fd is selected.

Measured with benchmarks/overhead.py: schedule lag p99 ≈ 3.0 → 1.6 ms.
"""

from __future__ import annotations

import asyncio
import select
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class PreciseEpollSelector(selectors.EpollSelector):
    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is not None and timeout > 0:
            ready, _, _ = select.select([self._selector.fileno()], [], [], timeout)  # type: ignore[attr-defined]
            if not ready:
                return []
            timeout = 0
        return super().select(timeout)


def precise_event_loop() -> asyncio.AbstractEventLoop:
    if not hasattr(select, "epoll"):  # not Linux: the default loop
        return asyncio.new_event_loop()
    return asyncio.SelectorEventLoop(PreciseEpollSelector())


def run_precise(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on a :func:`precise_event_loop`."""
    with asyncio.Runner(loop_factory=precise_event_loop) as runner:
        return runner.run(main)
