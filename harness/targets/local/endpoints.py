"""The cluster endpoint and the reader endpoint: two fault proxies that follow the roles.

As on Aurora, an endpoint decides where a *new* connection goes; connections already open
stay where they are (a DNS change does not move them), which is exactly why a pooled
client can keep writing to a demoted writer. The writer endpoint leads to one instance
(it lags the writer role by ``endpoint_move_delay_s`` during a failover); the reader
endpoint spreads new connections round-robin over the readers in its pool and, with none,
leads to the writer endpoint's instance, as Aurora's reader endpoint does.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Literal

from harness.targets.local.proxy import Address, FaultKind, FaultProxy, FaultWindow, NoUpstream

EndpointName = Literal["writer", "reader"]


class ClusterEndpoints:
    def __init__(
        self,
        writer: Callable[[], Address | None],
        readers: Callable[[], list[Address]],
    ) -> None:
        """``writer()``: where the writer endpoint leads now; ``readers()``: the pool."""
        self._writer = writer
        self._readers = readers
        self._turn = 0
        self.writer = FaultProxy(self._choose_writer)
        self.reader = FaultProxy(self._choose_reader)

    def _choose_writer(self) -> Address:
        address = self._writer()
        if address is None:
            raise NoUpstream("the cluster has no writer")
        return address

    def _choose_reader(self) -> Address:
        pool = self._readers()
        if not pool:
            return self._choose_writer()
        self._turn = (self._turn + 1) % len(pool)
        return pool[self._turn]

    async def start(
        self, writer_port: int, reader_port: int, progress: Callable[[str], None]
    ) -> None:
        """Listen on the requested ports; a port in use is replaced (and reported)."""
        for name, proxy, port in (
            ("writer", self.writer, writer_port),
            ("reader", self.reader, reader_port),
        ):
            proxy.listen_port = port
            try:
                await proxy.start()
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE or port == 0:
                    raise
                proxy.listen_port = 0
                await proxy.start()
                progress(
                    f"port {port} is in use: the {name} endpoint listens on "
                    f"127.0.0.1:{proxy.port} instead"
                )

    def proxy(self, name: EndpointName) -> FaultProxy:
        return self.writer if name == "writer" else self.reader

    def endpoint(self, name: EndpointName) -> str:
        return f"127.0.0.1:{self.proxy(name).port}"

    def forget(self, address: Address) -> int:
        """Reset every proxied connection to ``address`` (an instance leaving for good)."""
        return sum(p.reset_connections_to(*address) for p in (self.writer, self.reader))

    async def inject(
        self, name: EndpointName, kind: FaultKind, duration_s: float, latency_ms: float | None
    ) -> FaultWindow:
        return await self.proxy(name).inject(kind, duration_s, latency_ms)

    async def close(self) -> None:
        for proxy in (self.writer, self.reader):
            await proxy.close()
