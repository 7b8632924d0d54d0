"""The error taxonomy: the one place where low-level exceptions become error classes.

Drivers hide the real cause: aiomysql reports a certificate that did not verify as
``OperationalError(2003, "Can't connect ...")`` whose ``__cause__`` is the
``ssl.SSLCertVerificationError``. :func:`classify` walks ``__cause__``/``__context__`` and
returns the most specific class it finds, the MySQL errno, and a short message.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from errno import EBADF
from typing import Literal

import pymysql

Phase = Literal["connect", "query"]


class ErrorClass(StrEnum):
    """Why an attempt failed. Values are written into histories: never rename one."""

    TLS_VERIFY_FAILED = "tls_verify_failed"  # CA not trusted, hostname mismatch, expired
    TLS_HANDSHAKE = "tls_handshake"  # TLS offered but negotiation failed otherwise
    TLS_NOT_NEGOTIATED = "tls_not_negotiated"  # server offered no TLS: refused, never plaintext
    CONNECT_REFUSED = "connect_refused"  # nothing listening (RST on SYN)
    CONNECT_TIMEOUT = "connect_timeout"  # no connection (TCP, TLS, auth) within the deadline
    CONNECTION_LOST = "connection_lost"  # an established connection broke (2013, reset, EOF)
    READ_ONLY = "read_only"  # a write reached a read-only server (1290, 1836, 1792)
    AUTH_FAILED = "auth_failed"  # wrong user or password (1045 and friends)
    TIMEOUT = "timeout"  # a query got no answer within the deadline
    DNS_FAILED = "dns_failed"  # the endpoint name did not resolve
    OTHER = "other"


class TlsNotNegotiated(Exception):
    """The server did not offer TLS, so the probe refused to authenticate.

    Raised before credentials are sent: this tool never falls back to plaintext.
    """


class SlotTimeout(TimeoutError):
    """No connection slot became free within the attempt's deadline (nothing was sent)."""


_READ_ONLY_ERRNOS = {1290, 1792, 1836}
_AUTH_ERRNOS = {1044, 1045, 1251, 1698, 1827, 1862}
_LOST_ERRNOS = {2006, 2013, 2055}
_MAX_MESSAGE = 300


@dataclass(frozen=True, slots=True)
class Classified:
    error_class: ErrorClass
    errno: int | None
    message: str
    #: True when the server answered with an error packet: a write it rejected did not happen.
    server_rejected: bool


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _mysql_errno(exc: BaseException) -> int | None:
    if isinstance(exc, pymysql.err.MySQLError) and exc.args and isinstance(exc.args[0], int):
        return exc.args[0]
    return None


def _specific(exc: BaseException, phase: Phase) -> ErrorClass | None:
    """The class this one exception proves, or None if it is only a wrapper."""
    if isinstance(exc, TlsNotNegotiated):
        return ErrorClass.TLS_NOT_NEGOTIATED
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ErrorClass.TLS_VERIFY_FAILED
    if isinstance(exc, ssl.SSLError):
        return ErrorClass.TLS_HANDSHAKE
    if isinstance(exc, socket.gaierror):
        return ErrorClass.DNS_FAILED
    if isinstance(exc, ConnectionRefusedError):
        return ErrorClass.CONNECT_REFUSED
    if isinstance(exc, SlotTimeout):
        return ErrorClass.TIMEOUT
    if isinstance(exc, TimeoutError):
        return ErrorClass.CONNECT_TIMEOUT if phase == "connect" else ErrorClass.TIMEOUT
    errno = _mysql_errno(exc)
    if errno in _READ_ONLY_ERRNOS:
        return ErrorClass.READ_ONLY
    if errno in _AUTH_ERRNOS:
        return ErrorClass.AUTH_FAILED
    if errno in _LOST_ERRNOS or isinstance(
        exc, ConnectionResetError | BrokenPipeError | asyncio.IncompleteReadError
    ):
        return ErrorClass.CONNECTION_LOST
    if isinstance(exc, OSError) and exc.errno == EBADF:
        # aiomysql touches the socket (keep-alive, TLS upgrade) after asyncio has already
        # closed it because the peer reset the connection mid-handshake.
        return ErrorClass.CONNECTION_LOST
    return None


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, pymysql.err.MySQLError) and len(exc.args) >= 2:
        text = f"({exc.args[0]}) {exc.args[1]}"
    return text


def classify(exc: BaseException, phase: Phase) -> Classified:
    """Map an exception raised during ``phase`` of an attempt to the taxonomy."""
    chain = list(_chain(exc))
    found = ErrorClass.OTHER
    for link in chain:
        specific = _specific(link, phase)
        if specific is not None:
            found = specific
            break
    errno = next((e for e in map(_mysql_errno, chain) if e is not None), None)
    if errno is None:
        errno = next((e.errno for e in chain if isinstance(e, OSError) and e.errno), None)
    parts = [_describe(link) for link in chain]
    message = " <- ".join(dict.fromkeys(p for p in parts if p))[:_MAX_MESSAGE]
    rejected = any((n := _mysql_errno(link)) is not None and n < 2000 for link in chain)
    return Classified(found, errno, message, rejected)
