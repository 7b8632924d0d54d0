"""An asyncio TCP proxy on 127.0.0.1 that can reset, blackhole or delay what it carries.

The local cluster's endpoints are such proxies (``set_upstream`` moves the writer
endpoint on failover), and tests use one to give probes the network faults a real
failover shows: connections reset, a host that stops answering, a slow path. Built on
protocols and transports, not tasks per connection, so a forwarded chunk costs one
callback; asyncio sets TCP_NODELAY on both sides. All methods must be called from the
event loop that ran :meth:`FaultProxy.start`.

The upstream is either fixed (``set_upstream``) or chosen per new connection by a
callable (``set_chooser``): the reader endpoint spreads connections over readers that
way, and a chooser that has nothing to offer raises :class:`NoUpstream`, which the
client sees as a dead backend (a reset).
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

FaultKind = Literal["reset", "blackhole", "latency"]
_LINGER_RESET = struct.pack("ii", 1, 0)  # close() then sends RST, not FIN
_CONNECT_TIMEOUT_S = 5.0
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_EOF = None  # queued like data: the FIN must follow what was sent before it

Address = tuple[str, int]
#: Picks the upstream of each new connection; raises :class:`NoUpstream` if there is none.
UpstreamChooser = Callable[[], Address]


class NoUpstream(LookupError):
    """Raised by a chooser with no backend to offer; the client's connection is reset."""


@dataclass(frozen=True, slots=True)
class FaultWindow:
    """When a fault really held, wall clock (epoch ns) to line up with the history."""

    kind: FaultKind
    start_ns: int
    end_ns: int
    latency_ms: float | None = None


def _local(address: Address) -> Address:
    """The local target never sends traffic off this machine, even by mistake."""
    if address[0] not in _LOCAL_HOSTS:
        raise ValueError(f"upstream {address[0]!r} is not a loopback address")
    return address


def _reset(transport: asyncio.BaseTransport | None) -> None:
    """Close with RST: the peer's next read fails with ECONNRESET, as after a crash."""
    if transport is None or transport.is_closing():
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    assert isinstance(transport, asyncio.Transport)
    transport.abort()


class _Side(asyncio.Protocol):
    """One socket of a proxied connection; what it receives goes to the other side."""

    def __init__(self, link: _Link) -> None:
        self.link = link
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self.queue: deque[tuple[float, bytes | None]] = deque()
        self.timer: asyncio.TimerHandle | None = None
        self.eof_in = self.eof_out = self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self is self.link.client:
            self.link.opened()

    def data_received(self, data: bytes) -> None:
        if self.peer is not None and not self.link.blackholed:
            self.peer.send(data)

    def eof_received(self) -> bool:
        self.eof_in = True
        if self.peer is not None and not self.link.blackholed:
            self.peer.send(_EOF)
        return not self.eof_out or self.link.blackholed  # False closes: both ways done

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.link.lost(exc)

    def pause_writing(self) -> None:  # the peer sends faster than we can write
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()

    def send(self, data: bytes | None) -> None:
        """Write now, or queue behind earlier data when latency is in force."""
        delay = self.link.proxy.latency_s
        if delay <= 0 and not self.queue:
            self._write(data)
            return
        loop = asyncio.get_running_loop()
        self.queue.append((loop.time() + delay, data))
        if self.timer is None:
            self.timer = loop.call_at(self.queue[0][0], self._flush)

    def _flush(self) -> None:
        self.timer = None
        loop = asyncio.get_running_loop()
        while self.queue and self.queue[0][0] <= loop.time():
            self._write(self.queue.popleft()[1])
        if self.queue:
            self.timer = loop.call_at(self.queue[0][0], self._flush)

    def _write(self, data: bytes | None) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        if data is not None:
            self.transport.write(data)
            return
        self.eof_out = True
        if self.eof_in:
            self.transport.close()  # FIN both ways: this socket is done
        else:
            self.transport.write_eof()

    def drop(self) -> None:
        self.queue.clear()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class _Link:
    """A client connection and, once connected, its upstream connection."""

    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy
        self.client = _Side(self)
        self.upstream: _Side | None = None
        self.blackholed = proxy.fault == "blackhole"
        self.connecting: asyncio.Task[None] | None = None
        #: Where this connection was sent (None until chosen).
        self.target: Address | None = None

    def opened(self) -> None:
        """The client is accepted: reset it, let it hang (blackhole) or connect upstream."""
        if self.proxy.fault == "reset":
            self.reset()
        elif not self.blackholed:
            self.connecting = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        assert self.client.transport is not None
        self.client.transport.pause_reading()
        try:
            host, port = self.target = self.proxy.choose_upstream()
        except NoUpstream:
            self.reset()  # nothing to connect to: as a dead backend
            return
        except Exception:
            self.reset()  # a chooser bug: do not leave the client hanging, but say so
            raise
        upstream = _Side(self)
        try:
            async with asyncio.timeout(_CONNECT_TIMEOUT_S):
                await asyncio.get_running_loop().create_connection(lambda: upstream, host, port)
        except (OSError, TimeoutError):
            self.reset()  # a dead backend: the client sees its connection lost
            return
        self.upstream, upstream.peer, self.client.peer = upstream, self.client, upstream
        if self.client.closed or self.proxy.fault == "reset":
            self.reset()
        else:  # blackholed since the connect began: read and discard until the end
            self.client.transport.resume_reading()

    def sides(self) -> list[_Side]:
        return [self.client] + ([self.upstream] if self.upstream else [])

    def reset(self) -> None:
        if self.connecting is not None and self.connecting is not asyncio.current_task():
            self.connecting.cancel()
        for side in self.sides():
            side.drop()
            _reset(side.transport)
        self.proxy.links.discard(self)

    def blackhole(self) -> None:
        self.blackholed = True
        for side in self.sides():
            side.drop()

    def lost(self, exc: Exception | None) -> None:
        """A socket closed. Reset by its end: pass the reset on (unless blackholed)."""
        if exc is not None and not self.blackholed:
            self.reset()
        if all(side.closed for side in self.sides()):
            self.proxy.links.discard(self)


class FaultProxy:
    """Forwards 127.0.0.1:``port`` to ``upstream``; one fault at a time, all recorded."""

    def __init__(self, upstream: Address | UpstreamChooser, listen_port: int = 0) -> None:
        self.upstream: Address | None = None
        self._chooser: UpstreamChooser | None = None
        if callable(upstream):
            self._chooser = upstream
        else:
            self.upstream = _local(upstream)
        self.listen_port = listen_port
        self.links: set[_Link] = set()
        self.fault: FaultKind | None = None
        self.latency_s = 0.0
        self.windows: list[FaultWindow] = []
        self._server: asyncio.Server | None = None
        self._fault_start_ns = 0
        self._latency_ms: float | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._accept, "127.0.0.1", self.listen_port, reuse_address=True
        )

    def _accept(self) -> _Side:
        link = _Link(self)
        self.links.add(link)
        return link.client

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the proxy is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def set_upstream(self, host: str, port: int) -> None:
        """New connections go to ``host:port``; open ones stay where they are."""
        self.upstream = _local((host, port))
        self._chooser = None

    def set_chooser(self, chooser: UpstreamChooser) -> None:
        """Each new connection goes where ``chooser()`` says; open ones stay where they are."""
        self._chooser = chooser

    def choose_upstream(self) -> Address:
        """The upstream for the next new connection (checked to be a loopback address)."""
        if self._chooser is not None:
            return _local(self._chooser())
        if self.upstream is None:
            raise NoUpstream("the proxy has no upstream")
        return self.upstream

    def reset_connections_to(self, host: str, port: int) -> int:
        """Reset every connection forwarded to ``host:port`` (a backend leaving the pool)."""
        doomed = [link for link in self.links if link.target == (host, port)]
        for link in doomed:
            link.reset()
        return len(doomed)

    def start_fault(self, kind: FaultKind, latency_ms: float | None = None) -> int:
        """Begin ``kind`` now; returns the wall-clock instant (ns) it took effect."""
        if self.fault is not None:
            raise RuntimeError(f"fault {self.fault!r} is already active")
        if kind == "latency" and (latency_ms is None or latency_ms <= 0):
            raise ValueError("a latency fault needs latency_ms > 0")
        self.fault = kind
        self._fault_start_ns = time.time_ns()
        self._latency_ms = latency_ms if kind == "latency" else None
        self.latency_s = (self._latency_ms or 0.0) / 1000
        for link in list(self.links):
            if kind == "reset":
                link.reset()
            elif kind == "blackhole":
                link.blackhole()
        return self._fault_start_ns

    def end_fault(self) -> int:
        """End the active fault; blackholed connections are reset (the host came back)."""
        if self.fault is None:
            raise RuntimeError("no fault is active")
        kind, self.fault, self.latency_s = self.fault, None, 0.0
        end_ns = time.time_ns()
        for link in list(self.links):
            if link.blackholed:
                link.reset()
        self.windows.append(FaultWindow(kind, self._fault_start_ns, end_ns, self._latency_ms))
        return end_ns

    async def inject(
        self, kind: FaultKind, duration_s: float, latency_ms: float | None = None
    ) -> FaultWindow:
        """Hold ``kind`` for ``duration_s``; ended even if the caller is cancelled."""
        self.start_fault(kind, latency_ms)
        try:
            await asyncio.sleep(duration_s)
        finally:
            self.end_fault()
        return self.windows[-1]

    async def close(self) -> None:
        """Stop listening and reset every connection still open."""
        if self.fault is not None:
            self.end_fault()
        if self._server is not None:
            self._server.close()
        for link in list(self.links):
            link.reset()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FaultProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
