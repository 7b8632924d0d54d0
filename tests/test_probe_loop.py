"""The probes' event loop: epoll for events, select() on the epoll fd for exact timeouts."""

from __future__ import annotations

import asyncio

from harness.probes.loop import PreciseEpollSelector, precise_event_loop, run_precise

from support import server_port, start_echo_server


def test_loop_uses_the_precise_selector() -> None:
    loop = precise_event_loop()
    try:
        assert isinstance(loop._selector, PreciseEpollSelector)  # type: ignore[attr-defined]
    finally:
        loop.close()


def test_sockets_timers_and_order_work_as_on_the_default_loop() -> None:
    """Functional, not timed: events arrive, timers fire in order and never early."""

    async def main() -> tuple[list[bytes], list[int], bool]:
        server = await start_echo_server()
        port = server_port(server)
        replies = []
        for n in range(20):  # many sockets registered at once
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"ping %d" % n)
            replies.append(await reader.read(100))
            writer.close()
        loop = asyncio.get_running_loop()
        fired: list[int] = []
        start = loop.time()
        never_early = True

        def mark(i: int, due: float) -> None:
            nonlocal never_early
            never_early = never_early and loop.time() >= due
            fired.append(i)

        for i in (3, 1, 2):
            due = start + i * 0.002
            loop.call_at(due, mark, i, due)
        await asyncio.sleep(0.02)
        server.close()
        await server.wait_closed()
        return replies, fired, never_early

    replies, fired, never_early = run_precise(main())
    assert replies == [b"ping %d" % n for n in range(20)]
    assert fired == [1, 2, 3]
    assert never_early
