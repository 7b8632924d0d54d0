"""The local PKI: what a client trusting a bundle accepts and rejects, and why.

Handshakes run over in-memory BIOs: no sockets, so these stay unit tests.
"""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from harness.targets.local.pki import (
    RDS_CA_KEY_TYPES,
    LocalPki,
    issue_server_cert,
    make_ca,
    save_ca,
    write_bundle,
)

from support import TRUSTED_CA, UNTRUSTED_CA, PkiFiles, issuer_cn, verified_context


def handshake(cert: tuple[bytes, bytes], bundle: Path, hostname: str, tmp_path: Path) -> str | None:
    """Handshake a server presenting ``cert`` with a verifying client; the issuer CN seen."""
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert[0])
    key_file.write_bytes(cert[1])
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert_file, key_file)
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = verified_context(bundle).wrap_bio(c_in, c_out, server_hostname=hostname)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(10):
        finished = True
        for end in (client, server):
            try:
                end.do_handshake()
            except ssl.SSLWantReadError:
                finished = False
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if finished:
            return issuer_cn(client.getpeercert())
    raise AssertionError("handshake did not complete")


def test_trusted_bundle_verifies_server_cert(pki: PkiFiles, tmp_path: Path) -> None:
    assert handshake(pki.server_cert, pki.trusted_bundle, "localhost", tmp_path) == TRUSTED_CA


def test_ip_san_verifies_when_connecting_by_address(pki: PkiFiles, tmp_path: Path) -> None:
    assert handshake(pki.server_cert, pki.trusted_bundle, "127.0.0.1", tmp_path) == TRUSTED_CA


def test_wrong_ca_is_rejected(pki: PkiFiles, tmp_path: Path) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(pki.server_cert, pki.untrusted_bundle, "localhost", tmp_path)


def test_hostname_mismatch_is_rejected(pki: PkiFiles, tmp_path: Path) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        handshake(pki.mismatch_cert, pki.trusted_bundle, "localhost", tmp_path)


def test_server_cert_has_sans_eku_and_issuer(pki: PkiFiles) -> None:
    cert = x509.load_pem_x509_certificate(pki.server_cert[0])
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    cn = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == TRUSTED_CA


def test_ca_subject_cn_is_its_identifier(pki: PkiFiles) -> None:
    for ca in (pki.trusted_ca, pki.untrusted_ca):
        assert ca.cert.subject == ca.cert.issuer
        assert ca.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == ca.name
        assert ca.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert {pki.trusted_ca.name, pki.untrusted_ca.name} == {TRUSTED_CA, UNTRUSTED_CA}


def test_rds_identifiers_get_their_key_types() -> None:
    assert RDS_CA_KEY_TYPES == {
        "rds-ca-2019": "rsa2048",
        "rds-ca-rsa2048-g1": "rsa2048",
        "rds-ca-rsa4096-g1": "rsa4096",
        "rds-ca-ecc384-g1": "ecdsa384",
    }
    ecc = make_ca("rds-ca-ecc384-g1")
    assert isinstance(ecc.key, ec.EllipticCurvePrivateKey)
    assert ecc.key.curve.name == "secp384r1"
    assert ecc.key_type == "ecdsa384"
    rsa_ca = make_ca("rds-ca-2019")
    assert isinstance(rsa_ca.key, rsa.RSAPrivateKey)
    assert rsa_ca.key.key_size == 2048


@pytest.mark.parametrize("identifier", ["rds-ca-ecc384-g1", "rds-ca-rsa4096-g1"])
def test_other_generations_sign_verifiable_certs(identifier: str, tmp_path: Path) -> None:
    """Covers the ECDSA chain and the 4096-bit CA (about a second to generate)."""
    ca = make_ca(identifier)
    assert ca.key_type == RDS_CA_KEY_TYPES[identifier]
    bundle = write_bundle(tmp_path / "bundle.pem", [ca])
    cert = issue_server_cert(ca, "localhost", ["localhost"], ["127.0.0.1"])
    assert (handshake(cert, bundle, "localhost", tmp_path)) == identifier


def test_unknown_identifier_needs_a_key_type() -> None:
    with pytest.raises(ValueError, match="key_type"):
        make_ca("my-own-ca")
    assert make_ca("my-own-ca", "ecdsa384").name == "my-own-ca"


def test_files_keys_private_and_bundles_hold_every_ca(pki: PkiFiles, tmp_path: Path) -> None:
    cert_path, key_path = save_ca(tmp_path, pki.untrusted_ca)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert cert_path.read_bytes() == pki.untrusted_ca.cert_pem
    bundle = write_bundle(tmp_path / "both.pem", [pki.trusted_ca, pki.untrusted_ca])
    assert len(x509.load_pem_x509_certificates(bundle.read_bytes())) == 2


def test_local_pki_makes_each_ca_once(tmp_path: Path) -> None:
    local = LocalPki(tmp_path)
    assert local.ca("rds-ca-2019") is local.ca("rds-ca-2019")
    assert stat.S_IMODE((tmp_path / "ca" / "rds-ca-2019.key").stat().st_mode) == 0o600
    bundle = local.bundle("rds-ca-2019", "rds-ca-ecc384-g1")
    assert len(x509.load_pem_x509_certificates(bundle.read_bytes())) == 2
    cert = local.server_cert("rds-ca-ecc384-g1")
    assert (handshake(cert, bundle, "localhost", tmp_path)) == "rds-ca-ecc384-g1"
