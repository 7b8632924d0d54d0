"""Timings of the local emulation, as data: how long each RDS-like step takes.

``instant`` adds nothing to what the real MariaDB processes take (tests, quick
rehearsals). ``aurora`` adds delays modelled on published Aurora MySQL behaviour so a
rehearsal shows the shape users will meet on AWS: an instance restart of ~15 s, a
failover of ~30 s whose writer endpoint moves late, as DNS with a 5 s TTL does. Every
report made against the local target names the timing it used.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from harness.errors import UsageError


class Timing(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str
    #: From an accepted modify/reboot request to the instance shutting down.
    apply_delay_s: float = Field(default=0.0, ge=0)
    #: An instance restart (CA change, reboot) stays down this long on top of the real
    #: stop + start of the server process.
    restart_down_s: float = Field(default=0.0, ge=0)
    #: Failover: from "Started ... failover" until the target is promoted. The old writer
    #: is shut down at the start (as Aurora reboots it), so writes fail from then on.
    failover_promote_s: float = Field(default=0.0, ge=0)
    #: Failover: the old writer comes back as a (read-only) reader after this long.
    old_writer_down_s: float = Field(default=0.0, ge=0)
    #: Failover: the writer endpoint follows the promotion this much later (DNS TTL and
    #: client caches), so new connections still reach the demoted writer meanwhile.
    endpoint_move_delay_s: float = Field(default=0.0, ge=0)
    #: Creating a reader takes at least this long (Aurora: minutes; shortened here).
    create_instance_s: float = Field(default=0.0, ge=0)
    #: Deleting an instance takes at least this long.
    delete_instance_s: float = Field(default=0.0, ge=0)


INSTANT = Timing(
    name="instant",
    description="real process timings only (MariaDB stop/start, promotion) — tests, quick runs",
)
AURORA = Timing(
    name="aurora",
    description=(
        "delays modelled on Aurora MySQL: instance restart ~15 s, failover ~30 s with the "
        "writer endpoint moving 5 s after promotion (DNS TTL), reader creation shortened "
        "to 20 s"
    ),
    apply_delay_s=1.0,
    restart_down_s=14.5,
    failover_promote_s=24.0,
    old_writer_down_s=10.0,
    endpoint_move_delay_s=5.0,
    create_instance_s=20.0,
    delete_instance_s=5.0,
)
TIMINGS = {t.name: t for t in (INSTANT, AURORA)}


def timing_named(name: str) -> Timing:
    try:
        return TIMINGS[name]
    except KeyError:
        raise UsageError(f"unknown timing {name!r}; choose one of: {', '.join(TIMINGS)}") from None
