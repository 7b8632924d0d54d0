"""Test-only helpers behind the fixtures in ``conftest.py``.

Kept out of ``conftest.py`` so that tests can import the types (``Database``, ``PkiFiles``)
for annotations and so that nothing here touches a server binary until a fixture asks:
unit tests must run on a machine without MariaDB.
"""

from __future__ import annotations

import asyncio
import secrets
import ssl
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pymysql

from harness.targets.local.pki import CertificateAuthority, LocalPki, issue_server_cert

if TYPE_CHECKING:
    from harness.targets.local.server import DatabaseServer

TRUSTED_CA = "rds-ca-rsa2048-g1"
UNTRUSTED_CA = "rds-ca-2019"
LOOPBACK = "127.0.0.1"


def unique_name(prefix: str = "t") -> str:
    """A table or run id no other test sharing the session server will pick."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def issuer_cn(peer_cert: Mapping[str, Any] | None) -> str | None:
    """The issuer CN in ``SSLSocket.getpeercert()``: which CA generation signed it."""
    for rdn in (peer_cert or {}).get("issuer", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


def verified_context(bundle: Path) -> ssl.SSLContext:
    """What a careful client uses: trusts ``bundle`` only, checks the hostname.

    PyMySQL's ``ssl_ca=`` alone does not verify the certificate, hence a context.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=str(bundle))
    return context


@dataclass(frozen=True)
class PkiFiles:
    """The session's CAs, bundles and server certificates (all PEM bytes or paths)."""

    pki: LocalPki
    trusted_ca: CertificateAuthority
    untrusted_ca: CertificateAuthority
    trusted_bundle: Path
    untrusted_bundle: Path
    #: Trusted CA, CN localhost, SANs localhost and 127.0.0.1.
    server_cert: tuple[bytes, bytes] = field(repr=False)
    #: Trusted CA, but SANs only db.example.invalid: fails any hostname check here.
    mismatch_cert: tuple[bytes, bytes] = field(repr=False)

    @classmethod
    def create(cls, root: Path) -> PkiFiles:
        pki = LocalPki(root)
        trusted, untrusted = pki.ca(TRUSTED_CA), pki.ca(UNTRUSTED_CA)
        return cls(
            pki=pki,
            trusted_ca=trusted,
            untrusted_ca=untrusted,
            trusted_bundle=pki.bundle(TRUSTED_CA),
            untrusted_bundle=pki.bundle(UNTRUSTED_CA),
            server_cert=issue_server_cert(trusted, "localhost", ["localhost"], [LOOPBACK]),
            mismatch_cert=issue_server_cert(
                trusted, "db.example.invalid", ["db.example.invalid"], []
            ),
        )


@dataclass
class Database:
    """A running server and the least-privilege account probes log in with."""

    server: DatabaseServer
    password: str = field(repr=False)
    ca_bundle: Path
    user: str = "probe"
    database: str = "harness"
    host: str = LOOPBACK

    @property
    def port(self) -> int:
        return self.server.port

    def ssl_context(self, bundle: Path | None = None) -> ssl.SSLContext:
        return verified_context(bundle or self.ca_bundle)

    def connect(
        self, *, ssl_context: ssl.SSLContext | None = None, **kwargs: Any
    ) -> pymysql.Connection[Any]:
        """A PyMySQL connection as the probe user over verified TLS (by default)."""
        options: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "database": self.database,
            "autocommit": True,
            "connect_timeout": 5,
            "read_timeout": 5,
            "ssl": ssl_context or self.ssl_context(),
        }
        options.update(kwargs)
        return pymysql.connect(**options)


class ServerLauncher:
    """Starts servers from one template datadir and remembers them all for teardown."""

    _next_server_id = 1

    def __init__(self, root: Path, template: Path, pki: PkiFiles) -> None:
        self.root = root
        self.template = template
        self.pki = pki
        self.servers: list[DatabaseServer] = []

    def launch(
        self,
        name: str | None = None,
        *,
        tls: bool = True,
        cert: tuple[bytes, bytes] | None = None,
        ca_pem: bytes | None = None,
        tls_version: str | None = None,
        require_secure_transport: bool | None = None,
        read_only: bool = False,
        server_id: int | None = None,
        password: str | None = None,
        probe_user: bool = True,
    ) -> Database:
        """Start a server with a probe user ``probe`` on database ``harness``.

        ``probe_user=False`` leaves the server without local writes, as a replica must be
        under ``gtid_strict_mode``: the user then arrives by replication (pass the source's
        ``password``).
        """
        from harness.targets.local.server import DatabaseServer, TlsMaterial

        if server_id is None:
            server_id = ServerLauncher._next_server_id
        ServerLauncher._next_server_id = max(ServerLauncher._next_server_id, server_id) + 1
        material = None
        if tls:
            cert_pem, key_pem = cert or self.pki.server_cert
            material = TlsMaterial(cert_pem, key_pem, ca_pem or self.pki.trusted_ca.cert_pem)
        server = DatabaseServer(
            self.root / (name or unique_name("db")),
            tls=material,
            tls_version=tls_version,
            require_secure_transport=require_secure_transport,
            read_only=read_only,
            server_id=server_id,
        )
        self.servers.append(server)
        server.init(template=self.template)
        server.start()
        db = Database(server, password or secrets.token_urlsafe(16), self.pki.trusted_bundle)
        if probe_user:
            server.create_probe_user(db.user, db.password, db.database)
        return db

    __call__ = launch

    def close(self) -> None:
        """Stop every server launched here, even if stopping one of them fails."""
        errors: list[BaseException] = []
        for server in reversed(self.servers):
            try:
                server.close()
            except BaseException as exc:
                errors.append(exc)
                server.kill()
        self.servers.clear()
        if errors:
            raise errors[0]


async def start_echo_server() -> asyncio.Server:
    """A TCP echo server on 127.0.0.1 (an ephemeral port): the simplest upstream."""

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            # Cancelled when the test's loop ends first; finishing quietly avoids
            # Python 3.11's "Exception in callback" noise for cancelled stream handlers.
            pass
        finally:
            writer.close()

    return await asyncio.start_server(echo, LOOPBACK, 0)


def server_port(server: asyncio.Server) -> int:
    port: int = server.sockets[0].getsockname()[1]
    return port
