"""One DB instance of the local cluster: a real server plus what RDS would say about it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.x509.oid import NameOID

from harness.targets.base import InstanceView, Role
from harness.targets.local.server import DatabaseServer, ServerError

LOOPBACK = "127.0.0.1"


@dataclass(eq=False)
class LocalInstance:
    """Mutable on the engine's event loop only; the server is driven from worker threads."""

    name: str
    server: DatabaseServer
    server_id: int
    role: Role
    promotion_tier: int
    ca: str  # CACertificateIdentifier in force
    status: str = "creating"
    pending_ca: str | None = None
    cert_issuer: str | None = None
    cert_valid_till: datetime | None = None
    #: The mutating operation under way on this instance (one at a time, as on RDS).
    operation: str | None = None
    #: Serving: started and answering. Cleared before every stop, so endpoints skip it.
    up: bool = False
    #: Member of the reader endpoint's pool (a new reader joins once it has caught up).
    in_reader_pool: bool = False
    #: The (instance, port) this instance replicates from; None for the writer.
    source: tuple[str, int] | None = None
    #: A failover owns this instance's replication for now: reconcile leaves it alone.
    hold: bool = False

    @property
    def port(self) -> int | None:
        try:
            return self.server.port
        except ServerError:
            return None  # not started yet

    @property
    def address(self) -> tuple[str, int] | None:
        port = self.port
        return None if port is None else (LOOPBACK, port)

    def note_certificate(self, cert_pem: bytes) -> None:
        """Remember what the server now presents (describe shows issuer and expiry)."""
        cert = x509.load_pem_x509_certificate(cert_pem)
        names = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
        self.cert_issuer = str(names[0].value) if names else None
        self.cert_valid_till = cert.not_valid_after_utc

    def view(self) -> InstanceView:
        port = self.port
        return InstanceView(
            identifier=self.name, role=self.role, status=self.status,
            ca_identifier=self.ca, pending_ca_identifier=self.pending_ca,
            server_cert_issuer=self.cert_issuer, server_cert_valid_till=self.cert_valid_till,
            promotion_tier=self.promotion_tier,
            endpoint=None if port is None else f"{LOOPBACK}:{port}",
        )  # fmt: skip
