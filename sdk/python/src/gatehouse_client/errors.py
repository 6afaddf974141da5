"""The typed error of a failed call."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from google.rpc import error_details_pb2, status_pb2

# Where a gRPC server puts the google.rpc.Status with the error's details.
_DETAILS_KEY = "grpc-status-details-bin"


@dataclass(frozen=True)
class FieldViolation:
    """One rule a request broke, from the google.rpc.BadRequest of an INVALID_ARGUMENT answer."""

    field: str
    """The request field, e.g. ``new_password`` or ``users[3].username``."""
    description: str
    """Why it was refused, for people, e.g. ``too short: at least 15 characters``."""


class GatehouseError(Exception):
    """A call that failed: the gRPC code, the server's message and the fields it refused.

    ``str(error)`` is meant for people: ``INVALID_ARGUMENT: the new password does not meet
    the password policy (new_password: too short: at least 15 characters)``.
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        field_violations: tuple[FieldViolation, ...] = (),
    ) -> None:
        super().__init__(code, message, field_violations)
        self.code = code
        """The gRPC status code, e.g. ``grpc.StatusCode.UNAUTHENTICATED``."""
        self.message = message
        """The server's message (or the transport's, when the call never reached it)."""
        self.field_violations = field_violations
        """The fields the request broke; empty unless the code is INVALID_ARGUMENT."""

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> GatehouseError:
        """The error a failed call raised, with its BadRequest field violations decoded."""
        # Every RpcError that grpcio raises for a call is also a grpc.Call.
        call: grpc.Call = error  # type: ignore[assignment]
        return cls(call.code(), call.details() or "", _field_violations(call))

    def __str__(self) -> str:
        text = f"{self.code.name}: {self.message}" if self.message else self.code.name
        # The server may repeat the violations in its message already; say them once.
        unsaid = [v for v in self.field_violations if v.description not in self.message]
        if unsaid:
            text += " (" + "; ".join(f"{v.field}: {v.description}" for v in unsaid) + ")"
        return text


def _field_violations(call: grpc.Call) -> tuple[FieldViolation, ...]:
    status = status_pb2.Status()
    for key, value in call.trailing_metadata() or ():
        if key == _DETAILS_KEY:
            status.ParseFromString(value)
    violations: list[FieldViolation] = []
    for detail in status.details:
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(bad_request):
            violations.extend(
                FieldViolation(v.field, v.description) for v in bad_request.field_violations
            )
    return tuple(violations)
