"""One real MariaDB (or MySQL 8) server process on 127.0.0.1, started and stopped on demand.

The local target and the integration tests measure real servers, not mocks: a restart,
a crash or a certificate reload must cost what it costs in the server itself. Each
server lives in its own directory (datadir, socket, logs, TLS files), listens on
127.0.0.1 only and is run in its own session so that a Ctrl-C of the harness does not
reach it; every process started here is tracked and killed at interpreter exit at the
latest, so none outlives the run.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pymysql

from harness.errors import HarnessError, UsageError
from harness.targets.local.pki import write_file
from harness.targets.local.ports import free_port

INSTALL_HINT = (
    "no MariaDB/MySQL server found: install it with `sudo apt-get install mariadb-server`"
    " (Debian/Ubuntu)"
)
_SEARCH_DIRS = ("/usr/sbin", "/usr/local/sbin", "/usr/local/mysql/bin")
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes on Linux; keep a margin
_POLL_S = 0.005
_PORT_ATTEMPTS = 5

Flavor = Literal["mariadb", "mysql"]

#: Every server process started in this interpreter, by pid, until it is reaped.
_LIVE: dict[int, subprocess.Popen[bytes]] = {}


class ServerError(HarnessError):
    """A local server did not start, stop or answer as asked (with its error log tail)."""


def _which(name: str) -> Path | None:
    search = os.pathsep.join([os.environ.get("PATH", ""), *_SEARCH_DIRS])
    found = shutil.which(name, path=search)
    return Path(found) if found else None


def find_server_binary() -> Path:
    """``mariadbd``, else ``mysqld``, on PATH or in the usual sbin directories."""
    for name in ("mariadbd", "mysqld"):
        found = _which(name)
        if found is not None:
            return found
    raise UsageError(INSTALL_HINT)


def server_flavor(binary: Path) -> Flavor:
    """MariaDB or MySQL: Debian's ``mysqld`` is MariaDB, so ask the binary itself."""
    out = subprocess.run(
        [str(binary), "--no-defaults", "--version"], capture_output=True, text=True, check=False
    ).stdout
    return "mariadb" if "mariadb" in out.lower() else "mysql"


def initialize_datadir(datadir: Path, binary: Path | None = None) -> Path:
    """Create an empty datadir whose root logs in over the socket without a password.

    About a second for MariaDB; copying an initialized datadir (``DatabaseServer.init(
    template=...)``) takes 0.1-0.2 s, so tests make one template per session.
    """
    binary = binary or find_server_binary()
    datadir.mkdir(parents=True, exist_ok=True)
    # A private tmpdir: with /tmp shared, concurrent bootstraps (parallel tests, other
    # tools cleaning /tmp) have been seen to lose the bootstrap's temporary tables.
    tmpdir = datadir.parent / f"{datadir.name}.tmp"
    tmpdir.mkdir(exist_ok=True)
    if server_flavor(binary) == "mariadb":
        install = _which("mariadb-install-db") or _which("mysql_install_db")
        if install is None:
            raise UsageError(INSTALL_HINT)
        cmd = [
            str(install),
            "--no-defaults",
            f"--datadir={datadir}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--innodb-log-file-size=16M",
            f"--tmpdir={tmpdir}",
            *_user_args(),
        ]
    else:
        cmd = [str(binary), "--no-defaults", "--initialize-insecure", f"--datadir={datadir}"]
        cmd += _user_args()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    shutil.rmtree(tmpdir, ignore_errors=True)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
        raise ServerError(f"initializing {datadir} failed ({done.returncode}):\n{tail}")
    return datadir


def _user_args() -> list[str]:
    # As root the server refuses to start unless told which user to run as.
    return ["--user=root"] if os.geteuid() == 0 else []


@dataclass(frozen=True, slots=True)
class TlsMaterial:
    """What a server presents (certificate and key) and the CA file it is configured with."""

    cert_pem: bytes
    key_pem: bytes = field(repr=False)
    ca_pem: bytes


class DatabaseServer:
    """A MariaDB/MySQL server under ``base_dir``, listening on 127.0.0.1:``port``.

    ``tls=None`` makes a plaintext-only server. With TLS, ``require_secure_transport``
    defaults to on, like RDS with ``require_secure_transport=1``. Binary logging with GTIDs
    is on by default so that any server can become a replication source or replica.
    """

    def __init__(
        self,
        base_dir: Path,
        *,
        tls: TlsMaterial | None = None,
        tls_version: str | None = None,
        require_secure_transport: bool | None = None,
        server_id: int = 1,
        read_only: bool = False,
        binlog: bool = True,
        port: int = 0,
        extra_args: Sequence[str] = (),
        binary: Path | None = None,
    ) -> None:
        self.binary = binary or find_server_binary()
        self.flavor = server_flavor(self.binary)
        self.base_dir = base_dir
        self.datadir = base_dir / "data"
        self.tls_dir = base_dir / "tls"
        self.pid_file = base_dir / "mysqld.pid"
        self.log_file = base_dir / "error.log"
        self.socket_path = self._socket_path(base_dir)
        self.tls_enabled = tls is not None
        self.tls_version = tls_version
        self.require_secure_transport = (
            self.tls_enabled if require_secure_transport is None else require_secure_transport
        )
        self.server_id = server_id
        self.read_only = read_only
        self.binlog = binlog
        self.extra_args = tuple(extra_args)
        self._port = port
        self._port_fixed = port != 0
        self._proc: subprocess.Popen[bytes] | None = None
        #: Seconds from spawning the process to the first successful query, last start.
        self.last_ready_s: float | None = None
        base_dir.mkdir(parents=True, exist_ok=True)
        if tls is not None:
            self.write_tls(tls.cert_pem, tls.key_pem, tls.ca_pem)

    @staticmethod
    def _socket_path(base_dir: Path) -> Path:
        path = base_dir / "mysqld.sock"
        if len(str(path)) <= _SOCKET_PATH_MAX:
            return path
        return Path(tempfile.mkdtemp(prefix="hdb-")) / "mysqld.sock"

    # -- files -------------------------------------------------------------------------

    @property
    def tmp_dir(self) -> Path:
        """The server's own tmpdir (temporary tables, filesort), never the shared /tmp."""
        path = self.base_dir / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def ca_path(self) -> Path:
        return self.tls_dir / "ca.pem"

    @property
    def cert_path(self) -> Path:
        return self.tls_dir / "server-cert.pem"

    @property
    def key_path(self) -> Path:
        return self.tls_dir / "server-key.pem"

    def init(self, template: Path | None = None) -> None:
        """Create the datadir (a copy of ``template`` if given); no-op if it exists."""
        if (self.datadir / "mysql").is_dir():
            return
        if template is not None:
            shutil.copytree(template, self.datadir, symlinks=True)
        else:
            initialize_datadir(self.datadir, self.binary)

    def write_tls(self, cert_pem: bytes, key_pem: bytes, ca_pem: bytes | None = None) -> None:
        """Replace the TLS files (atomically); a running server reads them on reload/start."""
        if ca_pem is not None:
            write_file(self.ca_path, ca_pem)
        write_file(self.cert_path, cert_pem)
        write_file(self.key_path, key_pem, private=True)
        self.tls_enabled = True

    def error_log_tail(self, n: int = 20) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return ""
        return "\n".join(lines[-n:])

    # -- process -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        if not self._port:
            raise ServerError("the server has no port until it is started")
        return self._port

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        """The full command line the server is started with."""
        args = [
            str(self.binary),
            "--no-defaults",
            *_user_args(),
            f"--datadir={self.datadir}",
            f"--port={self._port}",
            "--bind-address=127.0.0.1",
            f"--socket={self.socket_path}",
            f"--pid-file={self.pid_file}",
            f"--log-error={self.log_file}",
            f"--tmpdir={self.tmp_dir}",
            "--skip-name-resolve",
            "--max-connections=1000",
            "--innodb-log-file-size=16M",
            "--innodb-buffer-pool-size=32M",
            f"--server-id={self.server_id}",
            f"--read-only={'ON' if self.read_only else 'OFF'}",
        ]
        if self.binlog:
            args += ["--log-bin=binlog", "--relay-log=relay-bin", "--log-slave-updates"]
            args += ["--binlog-format=ROW"]
            if self.flavor == "mariadb":
                args += ["--gtid-strict-mode=ON"]
            else:
                args += ["--gtid-mode=ON", "--enforce-gtid-consistency=ON"]
        if self.tls_enabled:
            args += [f"--ssl-ca={self.ca_path}", f"--ssl-cert={self.cert_path}"]
            args += [f"--ssl-key={self.key_path}"]
            if self.tls_version:
                args.append(f"--tls-version={self.tls_version}")
        elif self.flavor == "mariadb":
            args.append("--skip-ssl")
        secure = "ON" if self.require_secure_transport else "OFF"
        args.append(f"--require-secure-transport={secure}")
        return [*args, *self.extra_args]

    def start(self, timeout_s: float = 30.0) -> float:
        """Start and wait until a query succeeds; returns the seconds that took.

        A port picked here (``port=0``) that turns out to be taken is replaced by another
        (so after a restart, re-read :attr:`port` if something else may have taken it); an
        explicit port is kept and the start fails.
        """
        if self.running:
            raise ServerError(f"server {self.base_dir} is already running")
        if not (self.datadir / "mysql").is_dir():
            self.init()
        for attempt in range(_PORT_ATTEMPTS):
            if not self._port_fixed and (attempt > 0 or not self._port):
                self._port = free_port()
            try:
                return self._start_once(timeout_s)
            except _AddressInUse:
                if self._port_fixed or attempt == _PORT_ATTEMPTS - 1:
                    raise ServerError(
                        f"port {self._port} is in use:\n{self.error_log_tail()}"
                    ) from None
        raise AssertionError("unreachable")

    def _start_once(self, timeout_s: float) -> float:
        log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        with self.log_file.open("ab") as log:
            began = time.monotonic()
            proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        _LIVE[proc.pid] = proc
        self._proc = proc
        deadline = began + timeout_s
        while True:
            if proc.poll() is not None:
                self._reap()
                new_log = self._log_since(log_offset)
                if "Address already in use" in new_log:
                    raise _AddressInUse
                raise ServerError(
                    f"server exited with {proc.returncode} while starting:\n{self.error_log_tail()}"
                )
            if self._answers():
                self.last_ready_s = time.monotonic() - began
                return self.last_ready_s
            if time.monotonic() > deadline:
                self.kill()
                raise ServerError(
                    f"server not ready within {timeout_s:g} s:\n{self.error_log_tail()}"
                )
            time.sleep(_POLL_S)

    def _log_since(self, offset: int) -> str:
        with self.log_file.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def _answers(self) -> bool:
        """Cheap socket probe first, then one real query (accepting is not yet serving)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(str(self.socket_path))
            except OSError:
                return False
        try:
            with self.admin(timeout_s=2.0) as conn, conn.cursor() as cur:
                cur.execute("SELECT 1")
        except pymysql.err.MySQLError:
            return False
        return True

    def stop(self, timeout_s: float = 30.0) -> float:
        """Shut down cleanly (SIGTERM); SIGKILL after ``timeout_s``. Returns seconds taken."""
        proc = self._proc
        began = time.monotonic()
        if proc is None:
            return 0.0
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            # Polled, not Popen.wait(timeout): that sleeps up to 50 ms between checks, and
            # every restart's measured downtime would include the oversleep.
            deadline = began + timeout_s
            while proc.poll() is None:
                if time.monotonic() > deadline:
                    self.kill()
                    break
                time.sleep(_POLL_S)
        self._reap()
        return time.monotonic() - began

    def kill(self) -> None:
        """SIGKILL, as in a crash: no clean shutdown, InnoDB recovers at the next start."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        self._reap()

    def _reap(self) -> None:
        if self._proc is not None:
            self._proc.wait()
            _LIVE.pop(self._proc.pid, None)
            self._proc = None

    def restart(self, timeout_s: float = 30.0) -> float:
        """Clean stop then start on the same port; returns the seconds from stop to ready."""
        began = time.monotonic()
        self.stop(timeout_s)
        self.start(timeout_s)
        return time.monotonic() - began

    def close(self) -> None:
        """Stop (quickly) if running; safe to call twice."""
        self.stop(timeout_s=10.0)
        if self.socket_path.parent != self.base_dir:
            shutil.rmtree(self.socket_path.parent, ignore_errors=True)

    def __enter__(self) -> DatabaseServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- SQL ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def admin(self, timeout_s: float = 10.0) -> Iterator[pymysql.Connection[Any]]:
        """A root connection over the unix socket (plaintext: TLS there only costs time).

        Root bypasses ``read_only`` and ``require_secure_transport`` on a socket, which is
        what administration needs and exactly what probes must not do.
        """
        conn = pymysql.connect(
            unix_socket=str(self.socket_path),
            user="root",
            password="",
            ssl_disabled=True,
            autocommit=True,
            connect_timeout=timeout_s,
            read_timeout=timeout_s,
            write_timeout=timeout_s,
        )
        try:
            yield conn
        finally:
            conn.close()

    def execute(self, sql: str, args: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement as root; returns its rows (empty for statements without any)."""
        with self.admin() as conn, conn.cursor() as cur:
            cur.execute(sql, args)
            return [tuple(row) for row in cur.fetchall()]

    def create_probe_user(
        self,
        user: str,
        password: str,
        database: str,
        privileges: Sequence[str] = ("CREATE", "INSERT", "SELECT"),
    ) -> None:
        """Create ``database`` and a user with only ``privileges`` on it.

        Least privilege on purpose: a user with SUPER or READ ONLY ADMIN can write to a
        read-only server and would hide exactly the failure a demoted writer causes.
        """
        for name in (user, database, *privileges):
            if not name.replace("_", "").replace(" ", "").isalnum():
                raise ValueError(f"refusing to quote identifier {name!r}")
        self.execute(f"CREATE DATABASE IF NOT EXISTS `{database}`")
        self.execute("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", (user, password))
        self.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (user, password))
        grants = ", ".join(privileges)
        self.execute(f"GRANT {grants} ON `{database}`.* TO %s@'%%'", (user,))

    def set_read_only(self, read_only: bool) -> None:
        self.execute(f"SET GLOBAL read_only = {1 if read_only else 0}")
        self.read_only = read_only

    def reload_tls(self, cert_pem: bytes, key_pem: bytes, ca_pem: bytes | None = None) -> float:
        """Swap the certificate without a restart; returns the seconds the reload took.

        New connections see the new certificate; TLS sessions already open keep the old one.
        A stopped server only gets the files, which it reads when it starts.
        """
        self.write_tls(cert_pem, key_pem, ca_pem)
        if not self.running:
            return 0.0  # read at the next start
        began = time.monotonic()
        self.execute("FLUSH SSL" if self.flavor == "mariadb" else "ALTER INSTANCE RELOAD TLS")
        return time.monotonic() - began


class _AddressInUse(Exception):
    pass


def stop_all() -> None:
    """SIGKILL every server process this interpreter started and has not reaped."""
    for pid, proc in list(_LIVE.items()):
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            proc.wait()
        _LIVE.pop(pid, None)


def live_pids() -> list[int]:
    """Pids of server processes started here and still running (for leak checks)."""
    return [pid for pid, proc in _LIVE.items() if proc.poll() is None]


atexit.register(stop_all)
