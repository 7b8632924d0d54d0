"""Opening verified connections, with deadlines, and learning who answered.

The only module that touches aiomysql's connection internals. aiomysql applies its
``connect_timeout`` to the TCP connect alone and silently continues in plaintext when the
server offers no TLS; :class:`_VerifiedConnection` refuses that before any credential is
sent, and :func:`open_connection` puts one deadline over TCP, TLS and authentication.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from typing import Any

import aiomysql
import pymysql
from pymysql.constants import CLIENT

from harness.errors import UsageError
from harness.probes.taxonomy import TlsNotNegotiated
from harness.probes.tls import TlsInfo, tls_info

#: Aurora MySQL names the instance that answered; elsewhere fall back to host:port.
AURORA_IDENTITY = "@@aurora_server_id"
GENERIC_IDENTITY = "CONCAT(@@hostname, ':', @@port)"
_UNKNOWN_VARIABLE = 1193


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def parse(cls, text: str, flag: str = "--endpoint") -> Endpoint:
        """Parse ``HOST:PORT``; a bad value is a :class:`UsageError` naming ``flag``."""
        host, sep, port = text.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise UsageError(
                f"{flag} {text!r} is not HOST:PORT (e.g. mydb.cluster-xyz.eu-west-1."
                "rds.amazonaws.com:3306)"
            )
        return cls(host.strip("[]"), int(port))


@dataclass(slots=True)
class ConnectionSettings:
    """How probes log in. The password never appears in repr, logs or results."""

    user: str
    password: str = field(repr=False)
    database: str
    ssl_context: ssl.SSLContext = field(repr=False)
    connect_timeout_s: float = 1.0
    query_timeout_s: float = 1.0
    #: SQL expression naming the answering server; None = detect (Aurora, else host:port).
    identity_sql: str | None = None


class _VerifiedConnection(aiomysql.Connection):  # type: ignore[misc]
    """An aiomysql connection that will not authenticate without TLS."""

    async def _request_authentication(self) -> None:
        if not self.server_capabilities & CLIENT.SSL:
            raise TlsNotNegotiated("server offered no TLS; refused to authenticate in plaintext")
        await super()._request_authentication()
        if self._writer.get_extra_info("ssl_object") is None:
            raise TlsNotNegotiated("connection is not encrypted after the TLS upgrade")


@dataclass(slots=True)
class ServerConnection:
    """An open, verified connection and the facts learned when it opened."""

    raw: Any
    endpoint: Endpoint
    peer_ip: str | None
    tls: TlsInfo
    server: str | None = None
    read_only: bool | None = None

    async def fetch_one(self, sql: str, args: tuple[Any, ...] | None = None) -> tuple[Any, ...]:
        async with self.raw.cursor() as cur:
            await cur.execute(sql, args)
            row = await cur.fetchone()
        return tuple(row) if row is not None else ()

    async def execute(self, sql: str, args: tuple[Any, ...] | None = None) -> int:
        async with self.raw.cursor() as cur:
            return int(await cur.execute(sql, args))

    def abort(self) -> None:
        """Drop the connection at once (its state is unknown after an error or timeout)."""
        self.raw.close()

    async def close(self) -> None:
        """Say goodbye (COM_QUIT) and close; never raises."""
        try:
            await self.raw.ensure_closed()
        except Exception:
            self.raw.close()


async def open_connection(endpoint: Endpoint, settings: ConnectionSettings) -> ServerConnection:
    """Connect, upgrade to verified TLS and authenticate within ``connect_timeout_s``."""
    raw = _VerifiedConnection(
        host=endpoint.host,
        port=endpoint.port,
        user=settings.user,
        password=settings.password,
        db=settings.database,
        ssl=settings.ssl_context,
        connect_timeout=settings.connect_timeout_s,
        autocommit=True,
    )
    try:
        async with asyncio.timeout(settings.connect_timeout_s):
            await raw._connect()
    except BaseException:
        raw.close()
        raise
    writer = raw._writer
    peer = writer.get_extra_info("peername")
    return ServerConnection(
        raw=raw,
        endpoint=endpoint,
        peer_ip=peer[0] if peer else None,
        tls=tls_info(writer.get_extra_info("ssl_object")),
    )


class Identity:
    """Chooses, once per probe, the SQL that names the answering server."""

    def __init__(self, configured: str | None) -> None:
        self.sql = configured

    def select(self) -> str:
        """``SELECT <identity>, @@global.read_only``, the probes' trivial query."""
        return f"SELECT {self.sql or AURORA_IDENTITY}, @@global.read_only"

    async def ask(self, conn: ServerConnection) -> tuple[str | None, bool | None]:
        """Who answered and whether it is read-only; detects Aurora on first use."""
        try:
            row = await conn.fetch_one(self.select())
        except pymysql.err.MySQLError as exc:
            if self.sql is not None or not exc.args or exc.args[0] != _UNKNOWN_VARIABLE:
                raise
            self.sql = GENERIC_IDENTITY
            row = await conn.fetch_one(self.select())
        else:
            if self.sql is None:
                self.sql = AURORA_IDENTITY
        return _identity_from_row(row)


def _identity_from_row(row: tuple[Any, ...]) -> tuple[str | None, bool | None]:
    server = None if not row or row[0] is None else str(row[0])
    read_only = None if len(row) < 2 or row[1] is None else bool(int(row[1]))
    return server, read_only


async def check_reachable(endpoint: Endpoint, timeout_s: float) -> None:
    """Resolve and open a TCP connection to ``endpoint``, or raise :class:`UsageError`.

    Run before a measurement starts so that a typo is reported, not recorded as an outage.
    """
    try:
        async with asyncio.timeout(timeout_s):
            _, writer = await asyncio.open_connection(endpoint.host, endpoint.port)
    except TimeoutError:
        reason = f"no answer within {timeout_s:g} s"
    except OSError as exc:
        reason = exc.strerror or str(exc)
    else:
        writer.close()
        return
    raise UsageError(f"cannot reach {endpoint} ({reason}): check the host and port")
