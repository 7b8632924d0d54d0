"""Real MariaDB servers on 127.0.0.1: TLS, least privilege, crashes and certificate reloads.

These are the ground the probes' integration tests and the emulated cluster stand on, so
each test checks a behaviour those rely on (see FACTS.md, MySQL/MariaDB section).
"""

from __future__ import annotations

import socket
import ssl
import time
from pathlib import Path
from typing import Any

import pymysql
import pytest

from harness.errors import UsageError
from harness.targets.local import server as server_module
from harness.targets.local.ports import free_port
from harness.targets.local.server import (
    INSTALL_HINT,
    DatabaseServer,
    ServerError,
    find_server_binary,
    live_pids,
)

from support import (
    TRUSTED_CA,
    Database,
    PkiFiles,
    ServerLauncher,
    issuer_cn,
    unique_name,
    verified_context,
)

ACCESS_DENIED = 1045
CANNOT_CONNECT = 2003
READ_ONLY = 1290
NEEDS_PRIVILEGE = 1227
TABLE_ACCESS_DENIED = 1142


def peer_issuer_cn(conn: pymysql.Connection[Any]) -> str | None:
    sock = conn._sock
    assert isinstance(sock, ssl.SSLSocket), "the connection is not encrypted"
    return issuer_cn(sock.getpeercert())


def query(conn: pymysql.Connection[Any], sql: str, args: Any = None) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return [tuple(row) for row in cur.fetchall()]


def error_code(exc: pytest.ExceptionInfo[pymysql.err.MySQLError]) -> int:
    code: int = exc.value.args[0]
    return code


def test_probe_user_connects_over_verified_tls(mariadb: Database) -> None:
    with mariadb.connect() as conn:
        assert peer_issuer_cn(conn) == TRUSTED_CA
        (version,) = query(conn, "SHOW SESSION STATUS LIKE 'Ssl_version'")
        assert version[1].startswith("TLSv1.")
        assert query(conn, "SELECT CURRENT_USER()") == [("probe@%",)]
        assert query(conn, "SELECT @@global.require_secure_transport") == [(1,)]


def test_plaintext_is_refused(mariadb: Database) -> None:
    # PyMySQL upgrades to (unverified) TLS by default; ssl_disabled=True is real plaintext.
    with pytest.raises(pymysql.err.OperationalError) as exc:
        mariadb.connect(ssl=None, ssl_disabled=True)
    assert error_code(exc) == ACCESS_DENIED


def test_client_trusting_another_ca_cannot_connect(mariadb: Database, pki: PkiFiles) -> None:
    with pytest.raises(pymysql.err.OperationalError) as exc:
        mariadb.connect(ssl_context=verified_context(pki.untrusted_bundle))
    assert error_code(exc) == CANNOT_CONNECT
    # PyMySQL keeps the real reason in __context__, not __cause__.
    assert isinstance(exc.value.__context__, ssl.SSLCertVerificationError)


def test_probe_user_has_least_privilege(mariadb: Database) -> None:
    table = unique_name("priv")
    with mariadb.connect() as conn:
        query(conn, f"CREATE TABLE {table} (id INT PRIMARY KEY)")
        query(conn, f"INSERT INTO {table} VALUES (1)")
        assert query(conn, f"SELECT id FROM {table}") == [(1,)]
        with pytest.raises(pymysql.err.OperationalError) as exc:
            query(conn, "SET GLOBAL read_only = 1")
        assert error_code(exc) == NEEDS_PRIVILEGE
        with pytest.raises(pymysql.err.OperationalError) as denied:
            query(conn, f"DELETE FROM {table}")
        assert error_code(denied) == TABLE_ACCESS_DENIED
    assert mariadb.server.execute("SELECT @@global.read_only") == [(0,)]


def test_read_only_server_refuses_probe_writes(mariadb_factory: ServerLauncher) -> None:
    db = mariadb_factory(read_only=True)
    table = unique_name("ro")
    db.server.execute(f"CREATE TABLE {db.database}.{table} (id INT PRIMARY KEY)")
    with db.connect() as conn:
        with pytest.raises(pymysql.err.MySQLError) as exc:
            query(conn, f"INSERT INTO {table} VALUES (1)")
        assert error_code(exc) == READ_ONLY
        db.server.set_read_only(False)
        query(conn, f"INSERT INTO {table} VALUES (1)")
        assert query(conn, f"SELECT id FROM {table}") == [(1,)]


def test_kill_then_start_recovers_committed_rows(mariadb_factory: ServerLauncher) -> None:
    db = mariadb_factory()
    table = unique_name("crash")
    with db.connect() as conn:
        query(conn, f"CREATE TABLE {table} (id INT PRIMARY KEY)")
        query(conn, f"INSERT INTO {table} VALUES (1), (2)")
    port, pid = db.port, db.server.pid
    db.server.kill()
    assert not db.server.running
    assert pid not in live_pids()
    with pytest.raises(pymysql.err.OperationalError):
        db.connect(connect_timeout=1)
    ready_s = db.server.start()
    assert db.port == port, "a restarted server keeps its port (proxies point at it)"
    assert ready_s < 10
    with db.connect() as conn:
        assert query(conn, f"SELECT id FROM {table} ORDER BY id") == [(1,), (2,)]


def test_restart_keeps_port_and_data(mariadb_factory: ServerLauncher) -> None:
    db = mariadb_factory()
    port = db.port
    took_s = db.server.restart()
    assert db.port == port
    assert took_s < 10
    with db.connect() as conn:
        assert query(conn, "SELECT 1") == [(1,)]


def test_reload_tls_changes_issuer_for_new_connections(
    mariadb_factory: ServerLauncher, pki: PkiFiles, tmp_path: Path
) -> None:
    db = mariadb_factory()
    both = pki.pki.bundle(TRUSTED_CA, "rds-ca-ecc384-g1")
    old_session = db.connect(ssl_context=verified_context(both))
    assert peer_issuer_cn(old_session) == TRUSTED_CA

    new_ca = pki.pki.ca("rds-ca-ecc384-g1")
    cert, key = pki.pki.server_cert("rds-ca-ecc384-g1")
    took_s = db.server.reload_tls(cert, key, new_ca.cert_pem)
    assert took_s < 1

    with db.connect(ssl_context=verified_context(both)) as conn:
        assert peer_issuer_cn(conn) == "rds-ca-ecc384-g1"
    with pytest.raises(pymysql.err.OperationalError) as exc:
        db.connect()  # trusts only the old CA
    assert error_code(exc) == CANNOT_CONNECT
    # Sessions opened before the reload keep working on the old certificate.
    assert peer_issuer_cn(old_session) == TRUSTED_CA
    assert query(old_session, "SELECT 1") == [(1,)]
    old_session.close()


def test_server_with_mismatched_hostname_fails_verification(
    mariadb_factory: ServerLauncher, pki: PkiFiles
) -> None:
    db = mariadb_factory(cert=pki.mismatch_cert)
    with pytest.raises(pymysql.err.OperationalError) as exc:
        db.connect()
    assert isinstance(exc.value.__context__, ssl.SSLCertVerificationError)
    assert "mismatch" in str(exc.value.__context__)


def test_plaintext_server_offers_no_tls(mariadb_factory: ServerLauncher) -> None:
    db = mariadb_factory(tls=False)
    assert db.server.execute("SELECT @@have_ssl") == [("DISABLED",)]
    with db.connect(ssl=None, ssl_disabled=True) as conn:
        assert query(conn, "SELECT 1") == [(1,)]
    # PyMySQL refuses when given a context; aiomysql would silently go plaintext.
    with pytest.raises(pymysql.err.OperationalError):
        db.connect()


def test_tls_version_can_be_restricted(mariadb_factory: ServerLauncher) -> None:
    db = mariadb_factory(tls_version="TLSv1.2")
    with db.connect() as conn:
        assert query(conn, "SHOW SESSION STATUS LIKE 'Ssl_version'") == [("Ssl_version", "TLSv1.2")]
    only_13 = db.ssl_context()
    only_13.minimum_version = ssl.TLSVersion.TLSv1_3
    with pytest.raises(pymysql.err.OperationalError) as exc:
        db.connect(ssl_context=only_13)
    assert error_code(exc) == CANNOT_CONNECT


def test_gtid_replication_over_tls(mariadb_factory: ServerLauncher) -> None:
    """The binlog/GTID options are enough to build the emulated cluster's replicas."""
    source = mariadb_factory()
    # No local writes on the replica: its own GTIDs would break gtid_strict_mode.
    replica = mariadb_factory(read_only=True, probe_user=False, password=source.password)
    source.server.execute("CREATE USER 'repl'@'%' IDENTIFIED BY 'repl-pw'")
    source.server.execute("GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%'")
    replica.server.execute(
        "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%s, MASTER_USER='repl',"
        " MASTER_PASSWORD='repl-pw', MASTER_USE_GTID=slave_pos, MASTER_SSL=1,"
        " MASTER_SSL_CA=%s, MASTER_SSL_VERIFY_SERVER_CERT=1, MASTER_CONNECT_RETRY=1",
        (source.port, str(replica.server.ca_path)),
    )
    replica.server.execute("START SLAVE")
    table = unique_name("repl")
    with source.connect() as conn:
        query(conn, f"CREATE TABLE {table} (id INT PRIMARY KEY)")
        query(conn, f"INSERT INTO {table} VALUES (7)")
        (gtid,) = query(conn, "SELECT @@global.gtid_binlog_pos")[0]
    waited = replica.server.execute("SELECT MASTER_GTID_WAIT(%s, 5)", (gtid,))
    assert waited == [(0,)], replica.server.error_log_tail()
    assert replica.server.execute(f"SELECT id FROM harness.{table}") == [(7,)]
    with replica.connect() as conn:  # the probe user came by replication, TLS verified
        assert query(conn, f"SELECT id FROM {table}") == [(7,)]
        with pytest.raises(pymysql.err.MySQLError) as exc:
            query(conn, f"INSERT INTO {table} VALUES (8)")
        assert error_code(exc) == READ_ONLY


def test_start_failure_reports_error_log(mariadb_template: Path, tmp_path: Path) -> None:
    server = DatabaseServer(tmp_path / "bad", extra_args=["--no-such-option"])
    server.init(template=mariadb_template)
    began = time.monotonic()
    with pytest.raises(ServerError, match="no-such-option"):
        server.start(timeout_s=10)
    assert time.monotonic() - began < 10, "a dead server is noticed, not waited out"
    assert not server.running


def test_taken_port_is_replaced_unless_fixed(
    mariadb_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        fixed = DatabaseServer(tmp_path / "fixed", port=taken)
        fixed.init(template=mariadb_template)
        with pytest.raises(ServerError, match="in use"):
            fixed.start()
        offered = iter([taken])  # the first port "picked" is the taken one
        monkeypatch.setattr(server_module, "free_port", lambda: next(offered, 0) or free_port())
        with DatabaseServer(tmp_path / "picked") as picked:
            picked.init(template=mariadb_template)
            picked.start()
            assert picked.port != taken
            assert picked.execute("SELECT @@port") == [(picked.port,)]


def test_missing_binary_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(server_module, "_SEARCH_DIRS", ())
    with pytest.raises(UsageError) as exc:
        find_server_binary()
    assert str(exc.value) == INSTALL_HINT
    assert "apt-get install mariadb-server" in INSTALL_HINT
