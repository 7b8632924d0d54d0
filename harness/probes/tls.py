"""TLS for probes: verified contexts, CA bundle checks, what a connection negotiated.

Verification is never optional here: contexts are built with ``PROTOCOL_TLS_CLIENT``
(certificate required, hostname checked) and nothing in the package turns that off.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from harness.errors import UsageError

_PEM_CERT = re.compile(
    rb"-----BEGIN CERTIFICATE-----\s+[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----"
)


def read_ca_bundle(path: Path) -> list[x509.Certificate]:
    """Load and check a PEM CA bundle; raises :class:`UsageError` with a fix if unusable."""
    if not path.exists():
        raise UsageError(f"CA bundle {path} does not exist: pass --ca-bundle with a PEM file")
    if not path.is_file():
        raise UsageError(f"CA bundle {path} is not a file: pass --ca-bundle with a PEM file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"CA bundle {path} cannot be read ({exc.strerror})") from None
    blocks = _PEM_CERT.findall(data)
    if not blocks:
        raise UsageError(
            f"CA bundle {path} holds no PEM certificate: expected "
            "'-----BEGIN CERTIFICATE-----' blocks, e.g. AWS's global-bundle.pem"
        )
    try:
        return [x509.load_pem_x509_certificate(block) for block in blocks]
    except ValueError as exc:
        raise UsageError(f"CA bundle {path} has a malformed certificate ({exc})") from None


def client_context(ca_bundle: Path) -> ssl.SSLContext:
    """A client context that trusts exactly ``ca_bundle`` and checks hostnames."""
    read_ca_bundle(ca_bundle)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(cafile=str(ca_bundle))
    return context


def common_name(name: x509.Name) -> str | None:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else None


@dataclass(frozen=True, slots=True)
class TlsInfo:
    """What one connection negotiated, read once when it opens."""

    version: str | None
    cipher: str | None
    issuer_cn: str | None
    not_after: str | None  # ISO-8601 UTC


def _issuer_cn(cert: dict[str, Any]) -> str | None:
    for rdn in cert.get("issuer", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


def _iso_not_after(cert: dict[str, Any]) -> str | None:
    raw = cert.get("notAfter")
    if not isinstance(raw, str):
        return None
    stamp = datetime.fromtimestamp(ssl.cert_time_to_seconds(raw), tz=UTC)
    return stamp.isoformat().replace("+00:00", "Z")


def tls_info(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> TlsInfo:
    cert: dict[str, Any] = dict(ssl_object.getpeercert() or {})
    cipher = ssl_object.cipher()
    return TlsInfo(
        version=ssl_object.version(),
        cipher=cipher[0] if cipher else None,
        issuer_cn=_issuer_cn(cert),
        not_after=_iso_not_after(cert),
    )
