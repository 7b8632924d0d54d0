"""The fault proxy against a tiny echo server: forwarding, reset, blackhole, latency.

Each test runs its own event loop (``asyncio.run``), as probe tests will: the proxy must
live on the loop its clients use.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiomysql
import pymysql
import pytest

from harness.targets.local.proxy import FaultProxy, NoUpstream

from support import Database, server_port, start_echo_server

LOOPBACK = "127.0.0.1"
Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def run(test: Callable[[], Awaitable[None]], timeout_s: float = 20.0) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(timeout_s):
            await test()

    asyncio.run(bounded())


async def connect(proxy: FaultProxy) -> Stream:
    return await asyncio.open_connection(LOOPBACK, proxy.port)


async def echo(stream: Stream, data: bytes, timeout_s: float = 2.0) -> bytes:
    reader, writer = stream
    writer.write(data)
    await writer.drain()
    async with asyncio.timeout(timeout_s):
        return await reader.readexactly(len(data))


async def expect_reset(stream: Stream, timeout_s: float = 2.0) -> None:
    reader, writer = stream
    with pytest.raises(ConnectionResetError):
        async with asyncio.timeout(timeout_s):
            # Writing after the RST may fail first; either way the next read must too.
            writer.write(b"x")
            await reader.read(1)
    writer.close()


async def expect_hang(stream: Stream, hang_s: float = 0.3) -> None:
    reader, writer = stream
    writer.write(b"are you there?")
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(hang_s):
            await reader.read(1)


def test_forwards_both_ways_and_large_payloads() -> None:
    async def scenario() -> None:
        upstream = await start_echo_server()
        async with FaultProxy((LOOPBACK, server_port(upstream))) as proxy:
            stream = await connect(proxy)
            assert await echo(stream, b"hello") == b"hello"
            big = bytes(range(256)) * 16384  # 4 MiB: exercises flow control
            assert await echo(stream, big, timeout_s=10) == big
            stream[1].close()
        upstream.close()

    run(scenario)


def test_half_close_is_forwarded() -> None:
    async def scenario() -> None:
        upstream = await start_echo_server()
        async with FaultProxy((LOOPBACK, server_port(upstream))) as proxy:
            reader, writer = await connect(proxy)
            writer.write(b"last words")
            writer.write_eof()
            async with asyncio.timeout(2):
                assert await reader.read() == b"last words"  # echo, then the echo's FIN
            writer.close()
            await asyncio.sleep(0.05)
            assert not proxy.links, "both sides closed: nothing left to track"
        upstream.close()

    run(scenario)


def test_reset_kills_open_connections_and_refuses_new_ones_until_it_ends() -> None:
    async def scenario() -> None:
        upstream = await start_echo_server()
        async with FaultProxy((LOOPBACK, server_port(upstream))) as proxy:
            before = await connect(proxy)
            assert await echo(before, b"ping") == b"ping"
            proxy.start_fault("reset")
            await expect_reset(before)
            during = await connect(proxy)  # the kernel accepts; the proxy resets at once
            await expect_reset(during)
            proxy.end_fault()
            after = await connect(proxy)
            assert await echo(after, b"back") == b"back"
            after[1].close()
        upstream.close()

    run(scenario)


def test_blackhole_hangs_then_resets_when_it_ends() -> None:
    async def scenario() -> None:
        accepted = 0

        async def counting_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal accepted
            accepted += 1
            try:
                while data := await reader.read(65536):
                    writer.write(data)
            except (ConnectionError, asyncio.CancelledError):  # see start_echo_server
                pass
            writer.close()

        upstream = await asyncio.start_server(counting_echo, LOOPBACK, 0)
        async with FaultProxy((LOOPBACK, server_port(upstream))) as proxy:
            before = await connect(proxy)
            assert await echo(before, b"ping") == b"ping"
            assert accepted == 1
            proxy.start_fault("blackhole")
            await expect_hang(before)
            during = await connect(proxy)  # accepted, but never connected upstream
            await expect_hang(during)
            assert accepted == 1
            proxy.end_fault()
            await expect_reset(before)
            await expect_reset(during)
            after = await connect(proxy)
            assert await echo(after, b"back") == b"back"
            assert accepted == 2
            after[1].close()
        upstream.close()

    run(scenario)


async def round_trip_s(stream: Stream) -> float:
    began = time.perf_counter()
    await echo(stream, b"rtt")
    return time.perf_counter() - began


def test_latency_delays_both_directions() -> None:
    async def scenario() -> None:
        upstream = await start_echo_server()
        async with FaultProxy((LOOPBACK, server_port(upstream))) as proxy:
            stream = await connect(proxy)
            await round_trip_s(stream)
            proxy.start_fault("latency", latency_ms=50)
            slowed = await round_trip_s(stream)
            # Bytes sent as the fault ends still arrive, whole and in order.
            payload = b"".join(b"%06d" % i for i in range(2000))
            writer = stream[1]
            for offset in range(0, len(payload), 1000):
                writer.write(payload[offset : offset + 1000])
                if offset == 6000:
                    proxy.end_fault()
            async with asyncio.timeout(2):
                assert await stream[0].readexactly(len(payload)) == payload
            assert slowed >= 2 * 0.050 * 0.95, "50 ms each way"
            assert await round_trip_s(stream) < 0.100
            writer.close()
        upstream.close()

    run(scenario)


def test_set_upstream_moves_new_connections_only() -> None:
    async def tagged(tag: bytes) -> asyncio.Server:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(tag + data[len(tag) :])
            except (ConnectionError, asyncio.CancelledError):  # see start_echo_server
                pass
            writer.close()

        return await asyncio.start_server(handle, LOOPBACK, 0)

    async def scenario() -> None:
        first, second = await tagged(b"A"), await tagged(b"B")
        async with FaultProxy((LOOPBACK, server_port(first))) as proxy:
            old = await connect(proxy)
            assert await echo(old, b"?1") == b"A1"
            proxy.set_upstream(LOOPBACK, server_port(second))
            new = await connect(proxy)
            assert await echo(new, b"?2") == b"B2"
            assert await echo(old, b"?3") == b"A3"
            old[1].close()
            new[1].close()
        first.close()
        second.close()

    run(scenario)


def test_chooser_picks_each_new_connection_and_can_refuse() -> None:
    """The reader endpoint's mechanism: a callable picks every new connection's upstream."""

    async def scenario() -> None:
        first, second = await start_echo_server(), await start_echo_server()
        ports = [server_port(first), server_port(second)]
        picks: list[int] = []
        offer: list[int] = list(ports)

        def choose() -> tuple[str, int]:
            if not offer:
                raise NoUpstream("nothing to offer")
            port = offer[len(picks) % len(offer)]
            picks.append(port)
            return (LOOPBACK, port)

        async with FaultProxy(choose) as proxy:
            streams = [await connect(proxy) for _ in range(4)]
            for stream in streams:
                assert await echo(stream, b"x") == b"x"
            assert picks == [ports[0], ports[1], ports[0], ports[1]]
            # leaving the pool: only the connections forwarded to that upstream are reset
            assert proxy.reset_connections_to(LOOPBACK, ports[0]) == 2
            await expect_reset(streams[0])
            assert await echo(streams[1], b"still") == b"still"
            offer.clear()
            await expect_reset(await connect(proxy))  # nothing to offer: as a dead backend
            for stream in streams[1:]:
                stream[1].close()
        first.close()
        second.close()

    run(scenario)


def test_windows_record_when_faults_really_held() -> None:
    async def scenario() -> None:
        upstream = await start_echo_server()
        async with FaultProxy((LOOPBACK, server_port(upstream))) as proxy:
            before_ns = time.time_ns()
            reset = await proxy.inject("reset", 0.2)
            slow = await proxy.inject("latency", 0.1, latency_ms=5)
            after_ns = time.time_ns()
        upstream.close()
        assert proxy.windows == [reset, slow]
        assert before_ns <= reset.start_ns < reset.end_ns <= slow.start_ns < slow.end_ns
        assert slow.end_ns <= after_ns
        assert 0.2 <= (reset.end_ns - reset.start_ns) / 1e9 < 0.3
        assert 0.1 <= (slow.end_ns - slow.start_ns) / 1e9 < 0.2
        assert (reset.kind, reset.latency_ms) == ("reset", None)
        assert (slow.kind, slow.latency_ms) == ("latency", 5)

    run(scenario)


def test_misuse_is_refused() -> None:
    async def scenario() -> None:
        upstream = await start_echo_server()
        async with FaultProxy((LOOPBACK, server_port(upstream))) as proxy:
            with pytest.raises(RuntimeError):
                proxy.end_fault()
            with pytest.raises(ValueError):
                proxy.start_fault("latency")
            proxy.start_fault("blackhole")
            with pytest.raises(RuntimeError):
                proxy.start_fault("reset")
            proxy.end_fault()
            with pytest.raises(ValueError, match="loopback"):
                proxy.set_upstream("192.0.2.1", 3306)
        upstream.close()

    run(scenario)


def test_dead_upstream_and_close_reset_clients() -> None:
    async def scenario() -> None:
        with socket.socket() as unused:
            unused.bind((LOOPBACK, 0))
            dead_port = unused.getsockname()[1]
        upstream = await start_echo_server()
        proxy = FaultProxy((LOOPBACK, dead_port))
        await proxy.start()
        await expect_reset(await connect(proxy))
        proxy.set_upstream(LOOPBACK, server_port(upstream))
        open_stream = await connect(proxy)
        assert await echo(open_stream, b"hi") == b"hi"
        port = proxy.port
        await proxy.close()
        await expect_reset(open_stream)
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection(LOOPBACK, port)
        upstream.close()

    run(scenario)


def test_mysql_through_proxy_sees_lost_connection_on_reset(mariadb: Database) -> None:
    """Through a proxy a reset shows as 2013 (lost), the error probes must classify."""

    async def scenario() -> None:
        async with FaultProxy((LOOPBACK, mariadb.port)) as proxy:
            conn: Any = await aiomysql.connect(
                host=LOOPBACK,
                port=proxy.port,
                user=mariadb.user,
                password=mariadb.password,
                db=mariadb.database,
                ssl=mariadb.ssl_context(),  # verified: the cert's SANs include 127.0.0.1
                connect_timeout=2,
            )
            async with conn.cursor() as cur:
                await cur.execute("SELECT 1")
                assert await cur.fetchone() == (1,)
            proxy.start_fault("reset")
            with pytest.raises(pymysql.err.OperationalError) as exc:
                async with conn.cursor() as cur:
                    await cur.execute("SELECT 1")
            assert exc.value.args[0] == 2013
            conn.close()
            proxy.end_fault()

    run(scenario)
