"""The one place where botocore's exceptions become this tool's errors.

A scenario must not be able to tell the ``aws`` target from the ``local`` one by the
errors it gets, and the command line turns :class:`~harness.errors.UsageError` (and its
subclass :class:`~harness.targets.base.TargetError`) into one line and exit code 2. So
every boto3 call of :class:`~harness.targets.aws.AwsCluster` goes through
:func:`translate`, which knows what each RDS error code means for the user:

- the request named something that does not exist (cluster, instance, CA) or the cluster
  refused it (wrong state, invalid parameter): bad input, nothing changed (exit 2);
- the credentials are missing, expired or not allowed to call the operation: bad input,
  with the flag or variable that fixes it;
- RDS throttled us even after botocore's retries, a 5xx, or the endpoint is unreachable:
  :class:`AwsApiError`, not the user's input, so not exit 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from harness.errors import HarnessError, UsageError
from harness.targets.base import InvalidState, TargetError, UnknownCertificate, UnknownInstance

NO_CREDENTIALS = (
    "no AWS credentials found: configure a profile (aws configure / aws sso login), "
    "pass --profile, or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
)
NO_REGION = (
    "no AWS region: pass --region, set AWS_REGION (or AWS_DEFAULT_REGION), "
    "or set region in the profile"
)

_NOT_FOUND_INSTANCE = {"DBInstanceNotFound", "DBInstanceNotFoundFault"}
_NOT_FOUND_CA = {"CertificateNotFound", "CertificateNotFoundFault"}
_INVALID_STATE = {
    "InvalidDBInstanceState", "InvalidDBInstanceStateFault",
    "InvalidDBClusterStateFault", "InvalidDBClusterState",
}  # fmt: skip
_ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthFailure"}
_BAD_CREDENTIALS = {
    "InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException",
    "IncompleteSignature", "MissingAuthenticationToken",
}  # fmt: skip
_EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}
_THROTTLED = {
    "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException",
    "RequestThrottled", "RequestThrottledException", "SlowDown",
}  # fmt: skip


class AwsApiError(HarnessError):
    """RDS could not be asked or did not answer (throttled, 5xx, unreachable).

    Not a :class:`UsageError`: the input may be fine; retrying later may work.
    """


class WaitFailed(HarnessError):
    """A wait saw a state it cannot come back from (e.g. ``failed``, ``deleting``)."""


class WaitTimeout(HarnessError, TimeoutError):
    """A wait ran out of time; a ``TimeoutError`` so callers can treat both targets alike."""


@dataclass(frozen=True, slots=True)
class ErrorContext:
    """What the caller was talking about, so an error can name it and list valid names."""

    cluster_id: str
    region: str
    profile: str | None = None
    instance: str | None = None
    ca: str | None = None
    members: Sequence[str] = ()
    certificates: Sequence[str] = ()


def one_line(text: str, limit: int = 300) -> str:
    """AWS messages may span lines; the command line prints exactly one."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def translate(exc: Exception, ctx: ErrorContext) -> HarnessError:
    """Map a botocore exception to the error a scenario or the CLI understands.

    Returns (does not raise) so call sites write ``raise translate(exc, ctx) from exc``
    and the original stays in ``__cause__`` for debugging.
    """
    if isinstance(exc, ClientError):
        return _client_error(exc, ctx)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return UsageError(NO_CREDENTIALS)
    if isinstance(exc, NoRegionError):
        return UsageError(NO_REGION)
    if isinstance(exc, ParamValidationError):
        return TargetError(f"invalid request to RDS: {one_line(str(exc))}")
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
        return AwsApiError(f"cannot reach RDS in region {ctx.region}: {one_line(str(exc))}")
    if isinstance(exc, BotoCoreError) and _is_credential_problem(exc):
        return UsageError(f"AWS credentials could not be loaded: {one_line(str(exc))}")
    return AwsApiError(f"RDS call failed: {one_line(str(exc))}")


def _is_credential_problem(exc: BotoCoreError) -> bool:
    # SSO and assume-role failures have many classes (TokenRetrievalError,
    # SSOTokenLoadError, CredentialRetrievalError, ...); their names say what they are.
    name = type(exc).__name__
    return any(word in name for word in ("Credential", "Token", "SSO", "Profile"))


def _client_error(exc: ClientError, ctx: ErrorContext) -> HarnessError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    message = one_line(str(error.get("Message", "")))
    operation = exc.operation_name
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    profile = f"profile {ctx.profile!r}" if ctx.profile else "these credentials"

    if code == "DBClusterNotFoundFault":
        return UsageError(
            f"no DB cluster {ctx.cluster_id!r} in region {ctx.region} "
            "(check --cluster, --region and --profile)"
        )
    if code in _NOT_FOUND_INSTANCE:
        return UnknownInstance(ctx.instance or "?", list(ctx.members))
    if code in _NOT_FOUND_CA:
        return UnknownCertificate(
            ctx.ca or "?", list(ctx.certificates) or ["see describe-certificates"]
        )
    if code in _INVALID_STATE:
        return InvalidState(f"RDS refused {operation}: {message}")
    if code in _EXPIRED:
        return UsageError(
            f"the AWS credentials of {profile} have expired: refresh them "
            "(aws sso login, or new session keys) and run again"
        )
    if code in _BAD_CREDENTIALS:
        return UsageError(f"AWS rejected the credentials of {profile} ({code}): {message}")
    if code in _ACCESS_DENIED:
        return UsageError(f"{profile} may not call rds:{operation}: {message}")
    if code in _THROTTLED:
        return AwsApiError(
            f"RDS throttled {operation} even after retries: try again later, "
            "or raise the polling interval"
        )
    if 400 <= status < 500 or error.get("Type") == "Sender":
        # RDS refused the request as such (invalid parameter, already exists, quota):
        # nothing changed, and the request is what needs fixing.
        return TargetError(f"RDS refused {operation}: {code}: {message}")
    return AwsApiError(f"RDS {operation} failed: {code}: {message}")
