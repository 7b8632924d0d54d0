"""Waiting on *observed* conditions in the ``aws`` target.

RDS replies when it has accepted a request; the change itself takes seconds to minutes.
The runner waits for what it needs to see (a status, a new writer, an instance gone) by
polling: botocore's waiters where they exist (``db_instance_available``,
``db_instance_deleted``: their acceptors know which states are terminal), a poll of
``describe_db_clusters`` for the writer (there is no failover waiter). Each waiter runs
*one attempt per thread hop* (``WaiterConfig={"Delay": 1, "MaxAttempts": 1}``) and the
delay is slept in asyncio: the stock 30 s × 60 is far too coarse to time an outage, and a
waiter blocking a thread for 30 minutes would also hold up Ctrl-C and the rollback it
starts (``asyncio.run`` joins its worker threads on exit).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from botocore.exceptions import ClientError, WaiterError

from harness.targets.aws_base import AwsBase, first_cluster
from harness.targets.aws_errors import WaitFailed, WaitTimeout
from harness.targets.base import UnknownInstance

T = TypeVar("T")

#: States an instance does not leave by itself: waiting for anything else is pointless.
TERMINAL_STATUSES = frozenset(
    {"failed", "deleted", "incompatible-parameters", "incompatible-restore",
     "inaccessible-encryption-credentials", "storage-full"}
)  # fmt: skip

_ONE_ATTEMPT: Any = {"Delay": 1, "MaxAttempts": 1}


class AwsWaits(AwsBase):
    """The waits the runner calls between an action and its next step."""

    async def _poll(self, check: Callable[[], T | None], timeout_s: float,
                    describe: Callable[[], str], *, instance: str | None = None) -> T:  # fmt: skip
        """Call ``check`` (in a thread) until it returns a value or time runs out."""
        deadline = time.monotonic() + timeout_s
        while True:
            result = await self._run(check, instance=instance)
            if result is not None:
                return result
            left = deadline - time.monotonic()
            if left <= 0:
                raise WaitTimeout(f"gave up after {timeout_s:g} s: {describe()}")
            await asyncio.sleep(min(self.poll_s, left))

    async def wait_instance_status(
        self, instance: str, statuses: str | Iterable[str], timeout_s: float
    ) -> str:
        """Wait until ``instance`` shows one of ``statuses``; returns the one seen.

        RDS may still say ``available`` for a few seconds after accepting a change: to
        wait for a change to finish, wait for its intermediate state (``modifying``,
        ``rebooting``) first, or for its effect (the new CA in force).
        """
        wanted = {statuses} if isinstance(statuses, str) else set(statuses)
        last = ["unknown"]
        if wanted == {"available"}:
            waiter = self._client.get_waiter("db_instance_available")
            check = self._waiter_check(
                lambda: waiter.wait(DBInstanceIdentifier=instance, WaiterConfig=_ONE_ATTEMPT),
                "available", instance, last,
            )  # fmt: skip
        else:

            def check() -> str | None:
                reply = self._client.describe_db_instances(DBInstanceIdentifier=instance)
                found = reply.get("DBInstances", [])
                last[0] = found[0].get("DBInstanceStatus", "unknown") if found else "deleted"
                if last[0] in wanted:
                    return last[0]
                if last[0] in TERMINAL_STATUSES:
                    raise WaitFailed(
                        f"instance {instance} is {last[0]!r} while waiting for {sorted(wanted)}"
                    )
                return None

        return await self._poll(
            check, timeout_s, lambda: f"instance {instance} is {last[0]!r}, not {sorted(wanted)}",
            instance=instance,
        )  # fmt: skip

    async def wait_deleted(self, instance: str, timeout_s: float) -> None:
        """Wait until RDS no longer lists ``instance`` (an unknown one counts as gone)."""
        last = ["unknown"]
        waiter = self._client.get_waiter("db_instance_deleted")
        check = self._waiter_check(
            lambda: waiter.wait(DBInstanceIdentifier=instance, WaiterConfig=_ONE_ATTEMPT),
            "deleted", instance, last,
        )  # fmt: skip
        await self._poll(check, timeout_s, lambda: f"instance {instance} is still {last[0]!r}")

    def _waiter_check(
        self, attempt: Callable[[], None], goal: str, instance: str, last: list[str]
    ) -> Callable[[], str | None]:
        """One waiter attempt as a poll check: ``goal`` on success, None to keep waiting."""

        def check() -> str | None:
            try:
                attempt()
            except WaiterError as exc:
                reply: Any = exc.last_response or {}
                if "Error" in reply:
                    raise ClientError(reply, "DescribeDBInstances") from exc
                statuses = [i.get("DBInstanceStatus") for i in reply.get("DBInstances", [])]
                last[0] = ", ".join(str(s) for s in statuses) or "unknown"
                if "terminal failure" in str(exc):
                    raise WaitFailed(
                        f"instance {instance} is {last[0]!r} while waiting for {goal}"
                    ) from exc
                return None
            return goal

        return check

    async def wait_writer(self, target: str, timeout_s: float) -> None:
        """Wait until the cluster reports ``target`` as its writer (there is no waiter)."""
        last: list[str | None] = [None]

        def check() -> bool | None:
            reply = self._client.describe_db_clusters(DBClusterIdentifier=self.cluster_id)
            members = first_cluster(reply).get("DBClusterMembers", [])
            names = [m.get("DBInstanceIdentifier", "") for m in members]
            if target not in names:
                raise UnknownInstance(target, names)
            last[0] = next(
                (m.get("DBInstanceIdentifier") for m in members if m.get("IsClusterWriter")), None
            )
            return True if last[0] == target else None

        await self._poll(
            check, timeout_s, lambda: f"the writer is still {last[0]}, not {target}",
            instance=target,
        )  # fmt: skip
