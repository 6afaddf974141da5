"""The client: typed calls for the common flows over the generated stubs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import grpc
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gatehouse.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    common_pb2,
    self_service_pb2,
    self_service_pb2_grpc,
)

from .errors import GatehouseError
from .results import BulkEvent, BulkReset, BulkResult, PasswordChanged, PasswordReset, SignedIn
from .results import timestamp

Response = TypeVar("Response", bound=Message)

UserLike = str | common_pb2.UserRef
"""A user: a UserRef, or a string that is a username when it holds an ``@`` and else an id."""


def user_ref(user: UserLike) -> common_pb2.UserRef:
    """A UserRef for a username (it always holds an ``@``) or else a user id."""
    if isinstance(user, common_pb2.UserRef):
        return user
    if "@" in user:
        return common_pb2.UserRef(username=user)
    return common_pb2.UserRef(id=user)


class PasswordChangeRequired(Exception):
    """:meth:`Client.session` was not given the new password a change-only sign-in needs."""

    def __init__(self, username: str, reason: str) -> None:
        super().__init__(f"{username} must change their password first ({reason})")
        self.reason = reason
        """Why, e.g. ``PASSWORD_CHANGE_REASON_TEMPORARY_PASSWORD``."""


class Client:
    """Calls Gatehouse over one mutual-TLS channel, with or without a person's session.

    Make one with :func:`gatehouse_client.connect`. :meth:`with_session` gives a client that
    sends a session token (``authorization: Bearer <token>``) on the same channel.

    The convenience methods raise :class:`GatehouseError` when a call fails. For the RPCs they
    do not cover, the generated stubs are :attr:`admin` and :attr:`self_service`; :meth:`call`
    and :meth:`stream` run any of their methods with this client's session, deadline and
    typed errors, e.g. ``client.call(client.admin.AssignRole, admin_pb2.AssignRoleRequest(…))``.
    """

    def __init__(self, channel: grpc.Channel, *, timeout: float = 15.0, token: str | None = None):
        """A client on an open channel; ``timeout`` is each unary call's deadline in seconds."""
        self._channel = channel
        self._timeout = timeout
        self._token = token
        self.admin = admin_pb2_grpc.AdminServiceStub(channel)
        """The generated ``gatehouse.v1.AdminService`` stub."""
        self.self_service = self_service_pb2_grpc.SelfServiceStub(channel)
        """The generated ``gatehouse.v1.SelfService`` stub."""
        self._health = health_pb2_grpc.HealthStub(channel)

    def __repr__(self) -> str:
        return f"Client(session={'yes' if self._token else 'no'})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the channel, which every client made from this one with sessions shares."""
        self._channel.close()

    # --- Sessions ------------------------------------------------------------------------------

    def with_session(self, token: str) -> Client:
        """A client on the same channel whose calls carry this session token."""
        return Client(self._channel, timeout=self._timeout, token=token)

    def without_session(self) -> Client:
        """A client on the same channel whose calls carry no session (a service's calls)."""
        return Client(self._channel, timeout=self._timeout)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """The metadata of this client's calls: the session token, when it has one."""
        return (("authorization", f"Bearer {self._token}"),) if self._token else ()

    # --- Any RPC -------------------------------------------------------------------------------

    def call(
        self,
        method: Callable[..., Response],
        request: Message,
        *,
        timeout: float | None = None,
    ) -> Response:
        """Runs a unary stub method with this client's session and deadline.

        Raises GatehouseError when the call fails.
        """
        try:
            deadline = self._timeout if timeout is None else timeout
            return method(request, timeout=deadline, metadata=self.metadata)
        except grpc.RpcError as error:
            raise GatehouseError.from_rpc_error(error) from None

    def stream(
        self,
        method: Callable[..., Iterator[Response]],
        request: Message,
        *,
        timeout: float | None = None,
    ) -> Iterator[Response]:
        """Starts a server-streaming stub method with this client's session; no deadline unless
        ``timeout`` is given. Reading the messages raises GatehouseError where the stream fails."""
        return _typed_errors(method(request, timeout=timeout, metadata=self.metadata))

    # --- Health --------------------------------------------------------------------------------

    def health(self, service: str = "") -> str:
        """The ``grpc.health.v1`` status name of the server (or of one service): ``SERVING``
        once migrations ran and while the database answers, else ``NOT_SERVING``."""
        try:
            response = self._health.Check(
                health_pb2.HealthCheckRequest(service=service), timeout=self._timeout
            )
        except grpc.RpcError as error:
            raise GatehouseError.from_rpc_error(error) from None
        return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)

    # --- SelfService ---------------------------------------------------------------------------

    def sign_in(self, username: str, password: str, *, tenant: str = "") -> SignedIn:
        """Checks a username and password and opens a session.

        A wrong password, an unknown user and an account that may not sign in are all the same
        UNAUTHENTICATED error. When the password is temporary, must change or has expired, the
        session is change-only (``must_change_password``): call :meth:`change_password` with it.
        ``tenant`` (an id or name) defaults to the one the username's domain names.
        """
        response = self.call(
            self.self_service.SignIn,
            self_service_pb2.SignInRequest(username=username, password=password, tenant=tenant),
        )
        return SignedIn(
            token=response.session_token,
            kind=response.session_kind,
            change_reason=response.change_reason,
            expire_time=timestamp(response, "expire_time"),
            user_id=response.user_id,
            registration=response.registration if response.HasField("registration") else None,
        )

    def change_password(self, current_password: str, new_password: str) -> PasswordChanged:
        """Replaces the password of this client's session holder (a full or change-only session).

        A new password the policy refuses is INVALID_ARGUMENT with one field violation per
        broken rule. Every session of the person is revoked, this one too; the result holds
        the new session (full, or registration-only as at sign-in).
        """
        response = self.call(
            self.self_service.ChangePassword,
            self_service_pb2.ChangePasswordRequest(
                current_password=current_password, new_password=new_password
            ),
        )
        return PasswordChanged(
            token=response.session_token,
            expire_time=timestamp(response, "expire_time"),
            kind=response.session_kind,
            registration=response.registration if response.HasField("registration") else None,
        )

    def session(
        self,
        username: str,
        password: str,
        *,
        new_password: str | None = None,
        tenant: str = "",
    ) -> Client:
        """Signs in and returns a client carrying a full session.

        When the sign-in is change-only (a one-time, temporary or expired password), the
        password is first changed to ``new_password``; without one, the change-only session
        is signed out and PasswordChangeRequired is raised.
        """
        signed_in = self.sign_in(username, password, tenant=tenant)
        session = self.with_session(signed_in.token)
        if not signed_in.must_change_password:
            return session
        if new_password is None:
            session.sign_out()
            raise PasswordChangeRequired(username, signed_in.change_reason_name)
        return self.with_session(session.change_password(password, new_password).token)

    def sign_out(self) -> None:
        """Revokes this client's session."""
        self.call(self.self_service.SignOut, self_service_pb2.SignOutRequest())

    def me(self) -> self_service_pb2.GetMeResponse:
        """The signed-in person, the kind of their session and when it ends."""
        return self.call(self.self_service.GetMe, self_service_pb2.GetMeRequest())

    # --- AdminService --------------------------------------------------------------------------

    def create_user(
        self, username: str, display_name: str, *, contact_email: str = ""
    ) -> common_pb2.User:
        """Creates an active user without a password; give one with :meth:`reset_password`."""
        response = self.call(
            self.admin.CreateUser,
            admin_pb2.CreateUserRequest(
                username=username, display_name=display_name, contact_email=contact_email
            ),
        )
        return response.user

    def get_user(self, user: UserLike) -> common_pb2.User:
        """Reads one user of the tenant by username or id."""
        return self.call(self.admin.GetUser, admin_pb2.GetUserRequest(user=user_ref(user))).user

    def list_users(
        self,
        *,
        state: common_pb2.UserState = common_pb2.USER_STATE_UNSPECIFIED,
        page_size: int = 100,
    ) -> Iterator[common_pb2.User]:
        """Every user of the tenant (optionally in one state), ordered by username; pages are
        fetched as the iteration reaches them."""
        page_token = ""
        while True:
            page = self.call(
                self.admin.ListUsers,
                admin_pb2.ListUsersRequest(page_size=page_size, page_token=page_token, state=state),
            )
            yield from page.users
            page_token = page.next_page_token
            if not page_token:
                return

    def reset_password(
        self,
        user: UserLike,
        *,
        password: str = "",
        require_change: bool | None = None,
        delivery: admin_pb2.ResetDelivery = admin_pb2.RESET_DELIVERY_UNSPECIFIED,
    ) -> PasswordReset:
        """Gives a user a new password and revokes their sessions.

        By default the server generates a temporary password, returned once in
        ``temporary_password``, which the user must change at next sign-in. ``password``
        chooses it instead (checked against the policy); ``require_change=False`` makes it a
        lasting one; RESET_DELIVERY_INVITATION emails the person a code instead.
        """
        request = admin_pb2.ResetPasswordRequest(
            user=user_ref(user), password=password, delivery=delivery
        )
        if require_change is not None:
            request.require_change = require_change
        response = self.call(self.admin.ResetPassword, request)
        return PasswordReset(
            temporary_password=response.generated_password or None,
            must_change=response.password_change_required,
            expire_time=timestamp(response, "expire_time"),
            revoked_sessions=response.revoked_sessions,
            invitation_sent=response.invitation_sent,
        )

    def bulk_reset(
        self,
        users: Iterable[UserLike] = (),
        *,
        all_users: bool = False,
        state: common_pb2.UserState = common_pb2.USER_STATE_UNSPECIFIED,
        idempotency_key: str = "",
        dry_run: bool = False,
        require_change: bool | None = None,
        delivery: admin_pb2.ResetDelivery = admin_pb2.RESET_DELIVERY_UNSPECIFIED,
        timeout: float | None = None,
    ) -> BulkResetStream:
        """Resets the passwords of many users (``users``, or ``all_users`` in ``state``).

        Iterate the result for each event as it arrives, or call ``read_all()`` for the job,
        every result and the summary. Give an ``idempotency_key``: after a cut stream, the same
        call with the same key continues where the first stopped, resets nobody twice and
        hands out the passwords not yet acknowledged again. Once every result is stored, call
        :meth:`acknowledge_bulk_results` with the job id.
        """
        request = admin_pb2.BulkResetPasswordsRequest(
            users=[user_ref(user) for user in users],
            all_users=all_users,
            state=state,
            idempotency_key=idempotency_key,
            dry_run=dry_run,
            delivery=delivery,
        )
        if require_change is not None:
            request.require_change = require_change
        return BulkResetStream(self.stream(self.admin.BulkResetPasswords, request, timeout=timeout))

    def acknowledge_bulk_results(self, job_id: str) -> int:
        """Says every result of a bulk job is stored: the passwords kept for re-delivery are
        erased. Returns how many were."""
        response = self.call(
            self.admin.AcknowledgeBulkResults,
            admin_pb2.AcknowledgeBulkResultsRequest(job_id=job_id),
        )
        return response.passwords_erased


def _typed_errors(messages: Iterator[Response]) -> Iterator[Response]:
    try:
        yield from messages
    except grpc.RpcError as error:
        raise GatehouseError.from_rpc_error(error) from None


class BulkResetStream:
    """The events of a bulk reset as they arrive: the job that started (not for a dry run),
    one :class:`BulkResult` per user, then the summary. Raises GatehouseError where the
    stream fails."""

    def __init__(self, messages: Iterator[admin_pb2.BulkResetPasswordsResponse]) -> None:
        self._messages = messages

    def __iter__(self) -> Iterator[BulkEvent]:
        for message in self._messages:
            kind = message.WhichOneof("event")
            if kind == "started":
                yield message.started
            elif kind == "result":
                yield BulkResult.from_message(message.result)
            elif kind == "summary":
                yield message.summary
            # Anything else is a message of a newer server that this client does not know.

    def read_all(self) -> BulkReset:
        """Reads the stream to its end: the job id, every user's result and the summary."""
        job_id, results, summary = "", [], None
        for event in self:
            if isinstance(event, BulkResult):
                results.append(event)
            elif isinstance(event, admin_pb2.BulkResetStarted):
                job_id = event.job_id
            else:
                summary = event
        if summary is None:
            raise GatehouseError(grpc.StatusCode.UNKNOWN, "the bulk reset ended without a summary")
        return BulkReset(job_id=job_id or summary.job_id, results=results, summary=summary)
