"""What preflight found, for either target, and whether a CA bundle trusts a CA.

Preflight runs before anything changes: a run that would fail (unknown CA, an instance
already modifying, a client bundle that does not trust the new CA) must stop here, with
nothing restarted. :class:`PreflightReport` separates *problems* (the run must not start)
from *warnings* (it may, but the user should know: which instances will restart, a
maintenance action already scheduled). Both are plain sentences, ready to print.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID
from pydantic import BaseModel, ConfigDict

from harness.errors import UsageError
from harness.targets.base import CertificateView, Role

_GENERATION = re.compile(r"^rds-ca-(?P<alg>rsa|ecc)(?P<bits>\d+)-g(?P<gen>\d+)$")
_YEAR = re.compile(r"^rds-ca-(?P<year>\d{4})$")
_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d+"


class InstanceCheck(BaseModel):
    """One instance as preflight saw it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    identifier: str
    role: Role
    status: str
    ca_identifier: str | None
    pending_ca_identifier: str | None = None
    server_cert_issuer: str | None = None
    server_cert_valid_till: datetime | None = None
    #: Pending maintenance actions (``ca-certificate-rotation``, ``system-update``, ...).
    pending_maintenance: tuple[str, ...] = ()
    #: Whether changing this instance's CA restarts it.
    will_restart: bool = True


class PreflightReport(BaseModel):
    """The verdict of preflight: ``ok`` when there is no problem (warnings allowed)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cluster: str
    ca: str
    ca_exists: bool
    engine: str
    engine_version: str | None = None
    #: ``SupportsCertificateRotationWithoutRestart`` for the engine version; None: unknown.
    rotation_without_restart: bool | None = None
    instances: tuple[InstanceCheck, ...] = ()
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def restarts(self) -> tuple[str, ...]:
        return tuple(i.identifier for i in self.instances if i.will_restart)

    def raise_for_problems(self) -> None:
        """One line, exit 2, before any change: what the CLI prints when preflight fails."""
        if self.problems:
            more = f" (+{len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
            raise UsageError(f"preflight failed: {self.problems[0]}{more}")


def ca_subject_matches(common_name: str, ca_identifier: str, region: str | None = None) -> bool:
    """Whether a root whose subject CN is ``common_name`` is the CA ``ca_identifier``.

    AWS's bundles name roots by region and generation, not by identifier:
    ``rds-ca-rsa2048-g1`` is "Amazon RDS eu-west-1 Root CA RSA2048 G1" (one root per
    region: with ``region`` given, only that region's root counts), ``rds-ca-2019`` is
    "Amazon RDS Root 2019 CA" (or a regional "Amazon RDS eu-west-1 2019 CA"). The local
    target names its CAs exactly like the identifier, so an exact match counts too.
    """
    if common_name == ca_identifier:
        return True
    generation = _GENERATION.match(ca_identifier)
    if generation:
        label = f"{generation['alg'].upper()}{generation['bits']} G{generation['gen']}"
        match = re.fullmatch(rf"Amazon RDS (?P<region>{_REGION}) Root CA {label}", common_name)
        return match is not None and region in (None, match["region"])
    year = _YEAR.match(ca_identifier)
    if year:
        match = re.fullmatch(
            rf"Amazon RDS (?P<where>Root|{_REGION}) {year['year']} CA", common_name
        )
        return match is not None and (region is None or match["where"] in ("Root", region))
    return False


def bundle_contains_ca(
    bundle_path: Path,
    ca_identifier: str,
    certificates: Sequence[CertificateView] = (),
    *,
    region: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Whether the PEM bundle a probe trusts holds the root of ``ca_identifier``.

    Matched on the certificate *subject* (see :func:`ca_subject_matches`), the way a TLS
    client finds the issuer of a server certificate. A matching root that has expired
    (or is not yet valid) at ``now`` does not count: a client would reject it. When
    ``certificates`` (the target's CAs) is given, an identifier the target does not
    offer is trusted by no bundle. A missing or unreadable bundle is bad input.
    """
    if certificates and ca_identifier not in {c.identifier for c in certificates}:
        return False
    try:
        data = bundle_path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read CA bundle {bundle_path}: {exc.strerror or exc}") from exc
    try:
        roots = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise UsageError(f"CA bundle {bundle_path} holds no readable PEM certificate") from exc
    moment = now or datetime.now(UTC)
    for root in roots:
        for attribute in root.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
            name = attribute.value if isinstance(attribute.value, str) else ""
            if (
                ca_subject_matches(name, ca_identifier, region)
                and root.not_valid_before_utc <= moment <= root.not_valid_after_utc
            ):
                return True
    return False
