"""A throw-away TLS MariaDB with a least-privilege probe user, in a temporary directory.

For the demo, the benchmarks and the tests: everything a probe needs to connect (host,
port, user, password, database, CA bundle) and nothing left behind when it is closed.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from harness.targets.local.pki import LocalPki
from harness.targets.local.server import DatabaseServer, TlsMaterial

#: The CA the sandbox's server certificate is signed by (a current RDS generation).
SANDBOX_CA = "rds-ca-rsa2048-g1"
PROBE_USER = "probe"
PROBE_DATABASE = "harness"


@dataclass
class Sandbox:
    """One running server; ``password`` is random per sandbox and never printed."""

    root: Path
    server: DatabaseServer
    pki: LocalPki
    ca_bundle: Path
    user: str = PROBE_USER
    database: str = PROBE_DATABASE
    password: str = field(default="", repr=False)
    host: str = "127.0.0.1"
    _owns_root: bool = field(default=True, repr=False)

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    def close(self) -> None:
        self.server.close()
        if self._owns_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def start_sandbox(root: Path | None = None, *, read_only: bool = False) -> Sandbox:
    """Start a TLS server (require_secure_transport=ON) with database and probe user."""
    owns = root is None
    base = Path(tempfile.mkdtemp(prefix="harness-sandbox-")) if root is None else root
    try:
        pki = LocalPki(base / "pki")
        cert, key = pki.server_cert(SANDBOX_CA)
        server = DatabaseServer(
            base / "server",
            tls=TlsMaterial(cert_pem=cert, key_pem=key, ca_pem=pki.ca(SANDBOX_CA).cert_pem),
        )
        server.start()
        password = secrets.token_urlsafe(18)
        server.create_probe_user(PROBE_USER, password, PROBE_DATABASE)
        if read_only:
            server.set_read_only(True)
    except BaseException:
        if owns:
            shutil.rmtree(base, ignore_errors=True)
        raise
    return Sandbox(
        root=base, server=server, pki=pki, ca_bundle=pki.bundle(SANDBOX_CA),
        password=password, _owns_root=owns,
    )  # fmt: skip
