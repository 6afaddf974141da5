"""Typed results of the common flows.

Session tokens and generated passwords are left out of every ``repr``, so logging a result
does not log its secret; read the attribute to use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from google.protobuf import timestamp_pb2

from gatehouse.v1 import admin_pb2, common_pb2


def timestamp(message: object, name: str) -> datetime | None:
    """The Timestamp field ``name`` of a message as an aware UTC datetime; None when unset."""
    if not message.HasField(name):  # type: ignore[attr-defined]
        return None
    value: timestamp_pb2.Timestamp = getattr(message, name)
    return value.ToDatetime(tzinfo=timezone.utc)


@dataclass(frozen=True)
class SignedIn:
    """A new session, from :meth:`Client.sign_in`."""

    token: str = field(repr=False)
    """The bearer token: pass it to :meth:`Client.with_session`."""
    kind: common_pb2.SessionKind
    """SESSION_KIND_FULL; SESSION_KIND_PASSWORD_CHANGE_ONLY when the password must change;
    SESSION_KIND_REGISTRATION_ONLY when the tenant requires security info not yet registered."""
    change_reason: common_pb2.PasswordChangeReason
    """Why the session is change-only; PASSWORD_CHANGE_REASON_UNSPECIFIED for a full one."""
    expire_time: datetime | None
    """When the session ends."""
    user_id: str
    """The signed-in user's id."""
    registration: common_pb2.RegistrationStatus | None = None
    """Where the person stands with the security info the tenant requires (when it does)."""

    @property
    def must_change_password(self) -> bool:
        """True when the session only allows ChangePassword, GetMe and SignOut."""
        return self.kind == common_pb2.SESSION_KIND_PASSWORD_CHANGE_ONLY

    @property
    def must_register(self) -> bool:
        """True when the session only allows registering security info (or SnoozeRegistration)."""
        return self.kind == common_pb2.SESSION_KIND_REGISTRATION_ONLY

    @property
    def change_reason_name(self) -> str:
        """The change reason's name, e.g. ``PASSWORD_CHANGE_REASON_TEMPORARY_PASSWORD``."""
        return common_pb2.PasswordChangeReason.Name(self.change_reason)


@dataclass(frozen=True)
class PasswordChanged:
    """A new session, from :meth:`Client.change_password`; every earlier one is revoked."""

    token: str = field(repr=False)
    """The bearer token of the new session."""
    expire_time: datetime | None
    """When it ends."""
    kind: common_pb2.SessionKind = common_pb2.SESSION_KIND_FULL
    """Full, or registration-only as at sign-in."""
    registration: common_pb2.RegistrationStatus | None = None
    """As in :attr:`SignedIn.registration`."""


@dataclass(frozen=True)
class PasswordReset:
    """The result of :meth:`Client.reset_password`."""

    temporary_password: str | None = field(repr=False)
    """The generated password, shown only here; None for an invitation or a chosen password."""
    must_change: bool
    """Whether the user must change it at next sign-in."""
    expire_time: datetime | None
    """When a temporary password (or an invitation's code) stops working."""
    revoked_sessions: int
    """How many of the user's sessions were revoked."""
    invitation_sent: bool
    """Whether an invitation was queued instead of showing a password."""


@dataclass(frozen=True)
class BulkResult:
    """One user's result in a bulk reset."""

    index: int
    """The user's position in the request (or in the job, for all users)."""
    user_ref: str
    """The user as the request named them: ``username:…`` or ``id:…``."""
    user_id: str
    """The user's id, when found."""
    outcome: admin_pb2.BulkOutcome
    """What happened, e.g. BULK_OUTCOME_RESET or BULK_OUTCOME_NOT_FOUND."""
    temporary_password: str | None = field(repr=False)
    """For BULK_OUTCOME_RESET: the new temporary password, shown once."""
    expire_time: datetime | None
    """When the temporary password stops working."""
    reason: str
    """Why, for refusals, failures and earlier settlements."""
    invitation_sent: bool
    """Whether an invitation was queued instead."""
    redelivered: bool
    """The same password an earlier, unacknowledged call with the same key handed out."""

    @property
    def outcome_name(self) -> str:
        """The outcome's name, e.g. ``BULK_OUTCOME_RESET``."""
        return admin_pb2.BulkOutcome.Name(self.outcome)

    @classmethod
    def from_message(cls, result: admin_pb2.BulkResetResult) -> BulkResult:
        """The typed form of one result message of the stream."""
        return cls(
            index=result.index,
            user_ref=result.user_ref,
            user_id=result.user_id,
            outcome=result.outcome,
            temporary_password=result.generated_password or None,
            expire_time=timestamp(result, "expire_time"),
            reason=result.reason,
            invitation_sent=result.invitation_sent,
            redelivered=result.redelivered,
        )


BulkEvent = admin_pb2.BulkResetStarted | BulkResult | admin_pb2.BulkResetSummary
"""One message of a bulk reset: the job that started, one user's result, or the summary."""


@dataclass(frozen=True)
class BulkReset:
    """A bulk reset read to the end of its stream, from :meth:`BulkResetStream.read_all`."""

    job_id: str
    """The stored job (GetBulkJob, AcknowledgeBulkResults); empty for a dry run."""
    results: list[BulkResult]
    """One result per user, in the order they completed (``index`` is the request order)."""
    summary: admin_pb2.BulkResetSummary
    """The totals."""
