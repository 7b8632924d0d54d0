"""Every error class provoked for real against real servers on 127.0.0.1.

No mocks: the exceptions come from aiomysql, ssl and the kernel exactly as a probe meets
them, and :func:`classify` must find the cause under aiomysql's wrappers.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from harness.probes.connection import Endpoint, open_connection
from harness.probes.taxonomy import Classified, ErrorClass, Phase, classify
from harness.targets.local.proxy import FaultProxy

from probing import settings_for
from support import Database, PkiFiles, ServerLauncher


async def _connect_failure(endpoint: Endpoint, settings: object) -> Classified:
    try:
        conn = await open_connection(endpoint, settings)  # type: ignore[arg-type]
    except Exception as exc:
        return classify(exc, "connect")
    await conn.close()
    raise AssertionError(f"connected to {endpoint}, expected a failure")


def connect_failure(endpoint: Endpoint, settings: object) -> Classified:
    return asyncio.run(_connect_failure(endpoint, settings))


def _endpoint(db: Database) -> Endpoint:
    return Endpoint(db.host, db.port)


def test_success_is_verified_tls(mariadb: Database) -> None:
    async def go() -> None:
        conn = await open_connection(_endpoint(mariadb), settings_for(mariadb))
        assert conn.tls.version in {"TLSv1.2", "TLSv1.3"}
        assert conn.tls.issuer_cn == "rds-ca-rsa2048-g1"
        assert conn.peer_ip == "127.0.0.1"
        await conn.close()

    asyncio.run(go())


def test_untrusted_ca(mariadb: Database, pki: PkiFiles) -> None:
    found = connect_failure(_endpoint(mariadb), settings_for(mariadb, pki.untrusted_bundle))
    assert found.error_class is ErrorClass.TLS_VERIFY_FAILED
    assert "certificate verify failed" in found.message


def test_hostname_mismatch(mariadb_factory: ServerLauncher, pki: PkiFiles) -> None:
    db = mariadb_factory(cert=pki.mismatch_cert)
    found = connect_failure(_endpoint(db), settings_for(db))
    assert found.error_class is ErrorClass.TLS_VERIFY_FAILED
    assert "mismatch" in found.message


def test_plaintext_server_is_refused_before_login(mariadb_factory: ServerLauncher) -> None:
    db = mariadb_factory(tls=False)
    before = db.server.execute("SHOW GLOBAL STATUS LIKE 'Access_denied_errors'")[0][1]
    found = connect_failure(_endpoint(db), settings_for(db, password="wrong-on-purpose"))
    assert found.error_class is ErrorClass.TLS_NOT_NEGOTIATED
    after = db.server.execute("SHOW GLOBAL STATUS LIKE 'Access_denied_errors'")[0][1]
    assert after == before, "credentials must not be sent to a server without TLS"


def test_tls_handshake_failure(mariadb_factory: ServerLauncher) -> None:
    import ssl

    db = mariadb_factory(tls_version="TLSv1.2")
    settings = settings_for(db)
    settings.ssl_context.minimum_version = ssl.TLSVersion.TLSv1_3
    found = connect_failure(_endpoint(db), settings)
    assert found.error_class is ErrorClass.TLS_HANDSHAKE


def test_refused_port(mariadb: Database) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    found = connect_failure(Endpoint("127.0.0.1", port), settings_for(mariadb))
    assert found.error_class is ErrorClass.CONNECT_REFUSED
    assert found.errno == 2003


def test_blackholed_port_times_out(mariadb: Database) -> None:
    async def go() -> Classified:
        async with FaultProxy((mariadb.host, mariadb.port)) as proxy:
            proxy.start_fault("blackhole")
            settings = settings_for(mariadb, connect_timeout_s=0.3)
            return await _connect_failure(Endpoint("127.0.0.1", proxy.port), settings)

    assert asyncio.run(go()).error_class is ErrorClass.CONNECT_TIMEOUT


def test_unresolvable_name(mariadb: Database) -> None:
    found = connect_failure(Endpoint("no-such-host.invalid", 3306), settings_for(mariadb))
    assert found.error_class is ErrorClass.DNS_FAILED


def test_bad_password(mariadb: Database) -> None:
    found = connect_failure(_endpoint(mariadb), settings_for(mariadb, password="nope"))
    assert found.error_class is ErrorClass.AUTH_FAILED
    assert found.errno == 1045
    assert "nope" not in found.message


def test_database_not_granted_is_auth(mariadb: Database) -> None:
    found = connect_failure(_endpoint(mariadb), settings_for(mariadb, database="missing_db"))
    assert found.error_class is ErrorClass.AUTH_FAILED
    assert found.errno == 1044


def sql_failure(db: Database, sql: str) -> Classified:
    """Run ``sql`` as the probe user; the classified error it must raise."""

    async def go() -> Classified:
        conn = await open_connection(_endpoint(db), settings_for(db))
        try:
            await conn.execute(sql)
        except Exception as exc:
            return classify(exc, "query")
        finally:
            await conn.close()
        raise AssertionError(f"{sql!r} succeeded")

    return asyncio.run(go())


def test_syntax_error_is_other(mariadb: Database) -> None:
    found = sql_failure(mariadb, "SELEC 1")
    assert (found.error_class, found.errno, found.server_rejected) == (ErrorClass.OTHER, 1064, True)


async def _query_failure(db: Database, fault: str, phase: Phase = "query") -> Classified:
    async with FaultProxy((db.host, db.port)) as proxy:
        conn = await open_connection(Endpoint("127.0.0.1", proxy.port), settings_for(db))
        proxy.start_fault(fault)  # type: ignore[arg-type]
        try:
            async with asyncio.timeout(0.3):
                await conn.fetch_one("SELECT 1")
        except Exception as exc:
            return classify(exc, phase)
        finally:
            conn.abort()
    raise AssertionError("query succeeded")


def test_reset_connection_is_lost(mariadb: Database) -> None:
    found = asyncio.run(_query_failure(mariadb, "reset"))
    assert found.error_class is ErrorClass.CONNECTION_LOST
    assert not found.server_rejected


def test_blackholed_query_times_out(mariadb: Database) -> None:
    found = asyncio.run(_query_failure(mariadb, "blackhole"))
    assert found.error_class is ErrorClass.TIMEOUT


def test_write_to_read_only_server(mariadb_factory: ServerLauncher) -> None:
    db = mariadb_factory(read_only=True)
    db.server.execute("CREATE TABLE harness.t (id INT PRIMARY KEY)")
    found = sql_failure(db, "INSERT INTO t VALUES (1)")  # probe user: no SUPER, no bypass
    assert found.error_class is ErrorClass.READ_ONLY
    assert found.errno == 1290
    assert found.server_rejected


@pytest.mark.parametrize("phase", ["connect", "query"])
def test_timeouts_depend_on_phase(phase: Phase) -> None:
    expected = ErrorClass.CONNECT_TIMEOUT if phase == "connect" else ErrorClass.TIMEOUT
    try:
        raise TimeoutError
    except TimeoutError as exc:
        assert classify(exc, phase).error_class is expected


def test_unknown_exception_is_other() -> None:
    found = classify(ValueError("boom"), "query")
    assert (found.error_class, found.message) == (ErrorClass.OTHER, "boom")


def test_socket_closed_under_the_driver_is_lost() -> None:
    """aiomysql hits EBADF when a reset closed the socket before it set keep-alive."""
    import errno

    import pymysql

    try:
        try:
            raise OSError(errno.EBADF, "Bad file descriptor")
        except OSError as inner:
            raise pymysql.err.OperationalError(2003, "Can't connect") from inner
    except pymysql.err.OperationalError as exc:
        found = classify(exc, "connect")
    assert found.error_class is ErrorClass.CONNECTION_LOST
    assert found.errno == 2003
