"""GTID replication between the local cluster's servers, as plain blocking SQL.

Every function here blocks (PyMySQL over the server's socket), so the engine calls them
through ``asyncio.to_thread`` to keep its endpoint proxies forwarding meanwhile.

Replication is over verified TLS, as Aurora's own traffic would be: the source's
certificate is checked against a bundle of every CA generation, so a source whose CA was
just rotated is still trusted. All servers share GTID domain 0 and run with
``gtid_strict_mode``, which is what makes divergence detectable: a server holds a write
the writer never had exactly when one of its last GTIDs is beyond what the writer's
``gtid_binlog_state`` records for that domain and origin (see :func:`contained`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.targets.local.server import DatabaseServer, ServerError

REPLICATION_USER = "harness_repl"
#: Seconds a replica waits before retrying a lost source (1 is MariaDB's minimum): a
#: restarted writer is followed again within a second.
CONNECT_RETRY_S = 1

Gtid = tuple[int, int, int]  # domain, server id, sequence number


@dataclass(frozen=True, slots=True)
class ReplicationAccount:
    """The account replicas log in to their source with, and what they verify it against."""

    password: str = field(repr=False)
    ca_bundle: Path
    user: str = REPLICATION_USER


def create_account(source: DatabaseServer, account: ReplicationAccount) -> None:
    """Create the replication account on the writer; replicas receive it by replication,
    so any of them can serve as a source after a failover."""
    source.execute(
        "CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", (account.user, account.password)
    )
    source.execute("GRANT REPLICATION SLAVE ON *.* TO %s@'%%'", (account.user,))


def follow(replica: DatabaseServer, source_port: int, account: ReplicationAccount) -> None:
    """Make ``replica`` replicate from 127.0.0.1:``source_port``, from where it stands.

    Its own binlog position becomes its replication position first: a former writer has
    no replication position at all, and without this would ask for the whole history
    again. Callers check :func:`contained` before, so that position exists on the source.
    """
    replica.execute("STOP SLAVE")
    replica.execute("SET GLOBAL gtid_slave_pos = @@global.gtid_binlog_pos")
    replica.execute(
        "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%s, MASTER_USER=%s,"
        " MASTER_PASSWORD=%s, MASTER_USE_GTID=slave_pos, MASTER_SSL=1, MASTER_SSL_CA=%s,"
        " MASTER_SSL_VERIFY_SERVER_CERT=1, MASTER_CONNECT_RETRY=%s",
        (source_port, account.user, account.password, str(account.ca_bundle), CONNECT_RETRY_S),
    )
    replica.execute("START SLAVE")


def promote(server: DatabaseServer) -> None:
    """Stop replicating, forget the source, accept writes (~3 ms on MariaDB)."""
    server.execute("STOP SLAVE")
    server.execute("RESET SLAVE ALL")
    server.set_read_only(False)


def fence(server: DatabaseServer) -> None:
    """Refuse further writes from ordinary users (commits in progress finish first)."""
    server.set_read_only(True)


def binlog_pos(server: DatabaseServer) -> str:
    """The last GTID per domain this server has binlogged (its own writes or replicated)."""
    return str(server.execute("SELECT @@global.gtid_binlog_pos")[0][0] or "")


def binlog_state(server: DatabaseServer) -> str:
    """The last GTID per (domain, origin server) in this server's binlog."""
    return str(server.execute("SELECT @@global.gtid_binlog_state")[0][0] or "")


def wait_for(replica: DatabaseServer, position: str, timeout_s: float) -> None:
    """Wait until ``replica`` has applied ``position`` (MASTER_GTID_WAIT), or explain why not."""
    if not position:
        return
    with replica.admin(timeout_s=timeout_s + 10) as conn, conn.cursor() as cur:
        cur.execute("SELECT MASTER_GTID_WAIT(%s, %s)", (position, timeout_s))
        (result,) = cur.fetchone()
    if result != 0:
        raise ServerError(
            f"replica did not reach GTID {position} within {timeout_s:g} s "
            f"({replication_error(replica) or 'no replication error reported'})"
        )


def replication_error(replica: DatabaseServer) -> str:
    """The replica's last IO/SQL thread error, if it reports one."""
    with replica.admin() as conn, conn.cursor() as cur:
        cur.execute("SHOW SLAVE STATUS")
        row = cur.fetchone()
        if row is None:
            return "not configured as a replica"
        columns = [d[0] for d in cur.description]
    status = dict(zip(columns, row, strict=True))
    errors = [str(status.get(k) or "") for k in ("Last_IO_Error", "Last_SQL_Error")]
    return "; ".join(e for e in errors if e)


def parse_gtids(text: str) -> list[Gtid]:
    """``"0-1-100,1-2-5"`` → ``[(0, 1, 100), (1, 2, 5)]``."""
    gtids: list[Gtid] = []
    for item in text.replace("\n", "").split(","):
        if item.strip():
            domain, server_id, seq = (int(part) for part in item.strip().split("-"))
            gtids.append((domain, server_id, seq))
    return gtids


def contained(position: str, state: str) -> bool:
    """Does a binlog that ended at ``position`` hold only writes the ``state``'s owner has?

    With one writer at a time and strict GTID mode, a server's history is the writer's
    history up to some point plus, if it ever accepted writes on its own (an unfenced
    failover), GTIDs the writer does not record for that origin. Such a server must be
    rebuilt, not re-pointed: the writer cannot serve it from a position it never had.
    """
    last = {(domain, origin): seq for domain, origin, seq in parse_gtids(state)}
    return all(last.get((d, origin), -1) >= seq for d, origin, seq in parse_gtids(position))
