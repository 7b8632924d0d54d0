"""A local PKI whose certificate authorities are named like RDS's.

The local target rotates CAs the way RDS does, so a client must be able to tell which
generation signed the certificate it was shown: every CA's subject CN is its RDS
identifier (``rds-ca-rsa2048-g1``, ...), and a server certificate's issuer CN names it.
Keys are generated on demand because an RSA-4096 key costs about a second.
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, get_args

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KeyType = Literal["rsa2048", "rsa4096", "ecdsa384"]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

#: The CA identifiers RDS offers (and the retired 2019 one), with the key each uses.
RDS_CA_KEY_TYPES: Mapping[str, KeyType] = {
    "rds-ca-2019": "rsa2048",
    "rds-ca-rsa2048-g1": "rsa2048",
    "rds-ca-rsa4096-g1": "rsa4096",
    "rds-ca-ecc384-g1": "ecdsa384",
}

#: Certificates start this long before "now", so a little clock skew cannot reject them.
_BACKDATE = timedelta(hours=1)
_ORGANIZATION = "rds-downtime-harness local PKI"


def generate_key(key_type: KeyType) -> PrivateKey:
    """A fresh private key of ``key_type`` (RSA-4096 takes about a second)."""
    if key_type == "rsa2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type == "rsa4096":
        return rsa.generate_private_key(public_exponent=65537, key_size=4096)
    if key_type == "ecdsa384":
        return ec.generate_private_key(ec.SECP384R1())
    raise ValueError(f"unknown key type {key_type!r}; expected one of {get_args(KeyType)}")


def key_type_of(key: PrivateKey) -> KeyType:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "ecdsa384"
    return "rsa4096" if key.key_size >= 4096 else "rsa2048"


def key_pem(key: PrivateKey) -> bytes:
    """Unencrypted PKCS#8 PEM, the form MariaDB and MySQL read without a passphrase."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _hash_for(key_type: KeyType) -> hashes.SHA256 | hashes.SHA384:
    # The G1 generations with bigger keys sign with SHA-384, as RDS's do.
    return hashes.SHA256() if key_type == "rsa2048" else hashes.SHA384()


@dataclass(frozen=True, slots=True)
class CertificateAuthority:
    """A self-signed root CA: the trust anchor a client bundle holds."""

    name: str
    key: PrivateKey
    cert: x509.Certificate

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return key_pem(self.key)

    @property
    def key_type(self) -> KeyType:
        return key_type_of(self.key)


def make_ca(
    name: str, key_type: KeyType | None = None, valid_days: int = 3650
) -> CertificateAuthority:
    """A root CA whose subject CN is ``name``; the key type defaults to RDS's for that name."""
    if key_type is None:
        if name not in RDS_CA_KEY_TYPES:
            raise ValueError(f"{name!r} is not an RDS CA identifier: pass key_type")
        key_type = RDS_CA_KEY_TYPES[name]
    key = generate_key(key_type)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    now = datetime.now(UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, cert_sign=True), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, _hash_for(key_type))
    )
    return CertificateAuthority(name=name, key=key, cert=cert)


def _key_usage(
    *, digital_signature: bool, cert_sign: bool = False, key_encipherment: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def issue_server_cert(
    ca: CertificateAuthority,
    common_name: str,
    dns_names: Iterable[str] = (),
    ip_addresses: Iterable[str] = (),
    valid_days: int = 365,
    key_type: KeyType | None = None,
) -> tuple[bytes, bytes]:
    """A TLS server certificate signed by ``ca``, as ``(cert_pem, key_pem)``.

    The SANs are what clients check the hostname against (the CN is ignored by modern
    clients). The server key defaults to ECDSA P-384 under an ECC CA and RSA-2048
    otherwise, which keeps issuing fast even under ``rds-ca-rsa4096-g1``.
    """
    if key_type is None:
        key_type = "ecdsa384" if ca.key_type == "ecdsa384" else "rsa2048"
    key = generate_key(key_type)
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORGANIZATION),
                    x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                ]
            )
        )
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(min(now + timedelta(days=valid_days), ca.cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            _key_usage(digital_signature=True, key_encipherment=isinstance(key, rsa.RSAPrivateKey)),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(ca.key, _hash_for(ca.key_type))
    return cert.public_bytes(serialization.Encoding.PEM), key_pem(key)


def write_file(path: Path, data: bytes, *, private: bool = False) -> Path:
    """Write ``data`` atomically (a reader never sees half a file); keys get mode 0600.

    Atomic replacement matters because a server re-reads its certificate files on
    ``FLUSH SSL`` while the harness may be rewriting them.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600 if private else 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_bundle(path: Path, cas: Iterable[CertificateAuthority]) -> Path:
    """A PEM trust bundle holding the given CAs' certificates, like AWS's global-bundle.pem."""
    return write_file(path, b"".join(ca.cert_pem for ca in cas))


def save_ca(directory: Path, ca: CertificateAuthority) -> tuple[Path, Path]:
    """Write ``<name>.pem`` and ``<name>.key`` (0600) under ``directory``."""
    return (
        write_file(directory / f"{ca.name}.pem", ca.cert_pem),
        write_file(directory / f"{ca.name}.key", ca.key_pem, private=True),
    )


class LocalPki:
    """The RDS-like CAs of one run, created on first use and saved under ``root``."""

    def __init__(self, root: Path, valid_days: int = 3650) -> None:
        self.root = root
        self.valid_days = valid_days
        self._cas: dict[str, CertificateAuthority] = {}

    def ca(self, identifier: str, key_type: KeyType | None = None) -> CertificateAuthority:
        """The CA named ``identifier``, generated (and saved) the first time it is asked for."""
        if identifier not in self._cas:
            ca = make_ca(identifier, key_type, self.valid_days)
            save_ca(self.root / "ca", ca)
            self._cas[identifier] = ca
        return self._cas[identifier]

    def bundle(self, *identifiers: str) -> Path:
        """A bundle file trusting exactly ``identifiers`` (in that order)."""
        if not identifiers:
            raise ValueError("a bundle needs at least one CA identifier")
        path = self.root / "bundles" / f"{'+'.join(identifiers)}.pem"
        return write_bundle(path, [self.ca(identifier) for identifier in identifiers])

    def server_cert(
        self,
        identifier: str,
        common_name: str = "localhost",
        dns_names: Iterable[str] = ("localhost",),
        ip_addresses: Iterable[str] = ("127.0.0.1",),
        valid_days: int = 365,
    ) -> tuple[bytes, bytes]:
        """``(cert_pem, key_pem)`` for a server, signed by the CA ``identifier``."""
        return issue_server_cert(
            self.ca(identifier), common_name, dns_names, ip_addresses, valid_days
        )
