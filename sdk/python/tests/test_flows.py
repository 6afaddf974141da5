"""The common flows against a real server (see conftest.py)."""

from __future__ import annotations

import uuid
from pathlib import Path

import grpc
import pytest
from conftest import ADMIN, ADMIN_PASSWORD, Bootstrap

from gatehouse.v1 import admin_pb2, common_pb2
from gatehouse_client import (
    BulkResult,
    Client,
    GatehouseError,
    PasswordChangeRequired,
    connect,
)


def unique(name: str) -> str:
    """A username that no other test (nor an earlier run against the same server) uses."""
    return f"{name}-{uuid.uuid4().hex[:8]}@contoso.example"


def user_with_temporary_password(admin: Client, name: str) -> tuple[str, str]:
    username = unique(name)
    admin.create_user(username, name.title())
    reset = admin.reset_password(username)
    assert reset.temporary_password
    return username, reset.temporary_password


def test_health_is_serving(client: Client) -> None:
    assert client.health() == "SERVING"
    assert client.health("gatehouse.v1.AdminService") == "SERVING"


def test_bootstrap_admin_changes_the_one_time_password_first(bootstrap: Bootstrap) -> None:
    first = bootstrap.first_sign_in
    assert first.must_change_password
    assert first.kind == common_pb2.SESSION_KIND_PASSWORD_CHANGE_ONLY
    assert first.change_reason_name == "PASSWORD_CHANGE_REASON_TEMPORARY_PASSWORD"
    me = bootstrap.admin.me()
    assert me.user.username == ADMIN
    assert me.session_kind == common_pb2.SESSION_KIND_FULL
    assert common_pb2.ROLE_GLOBAL_ADMIN in me.user.roles


def test_reset_user_signs_in_change_only_and_completes_the_forced_change(
    client: Client, admin: Client
) -> None:
    username = unique("bob")
    created = admin.create_user(username, "Bob")
    assert created.username == username and created.id

    reset = admin.reset_password(username)
    assert reset.temporary_password and reset.must_change and reset.expire_time
    assert reset.temporary_password not in repr(reset)

    signed_in = client.sign_in(username, reset.temporary_password)
    assert signed_in.must_change_password
    assert signed_in.change_reason_name == "PASSWORD_CHANGE_REASON_TEMPORARY_PASSWORD"
    assert signed_in.user_id == created.id
    assert signed_in.token not in repr(signed_in)
    change_only = client.with_session(signed_in.token)
    with pytest.raises(GatehouseError) as refused:
        list(change_only.list_users())
    assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED

    changed = change_only.change_password(reset.temporary_password, "my very own long passphrase")
    assert client.with_session(changed.token).me().session_kind == common_pb2.SESSION_KIND_FULL
    again = client.sign_in(username, "my very own long passphrase")
    assert not again.must_change_password
    with pytest.raises(GatehouseError) as old:
        client.sign_in(username, reset.temporary_password)
    assert old.value.code == grpc.StatusCode.UNAUTHENTICATED


def test_session_changes_a_temporary_password_when_given_the_new_one(
    client: Client, admin: Client
) -> None:
    username, temporary = user_with_temporary_password(admin, "carol")
    with pytest.raises(PasswordChangeRequired) as required:
        client.session(username, temporary)
    assert required.value.reason == "PASSWORD_CHANGE_REASON_TEMPORARY_PASSWORD"

    session = client.session(username, temporary, new_password="a quiet harbour at dawn in june")
    assert session.me().session_kind == common_pb2.SESSION_KIND_FULL
    session.sign_out()
    with pytest.raises(GatehouseError) as signed_out:
        session.me()
    assert signed_out.value.code == grpc.StatusCode.UNAUTHENTICATED


def test_a_too_short_new_password_is_refused_with_field_violations(
    client: Client, admin: Client
) -> None:
    username, temporary = user_with_temporary_password(admin, "dave")
    change_only = client.with_session(client.sign_in(username, temporary).token)
    with pytest.raises(GatehouseError) as refused:
        change_only.change_password(temporary, "short")
    error = refused.value
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert any(
        v.field == "new_password" and "too short" in v.description for v in error.field_violations
    ), error.field_violations
    assert "too short: at least 15 characters" in str(error)


def test_a_policy_failure_on_a_chosen_reset_password_names_the_field(admin: Client) -> None:
    username = unique("erin")
    admin.create_user(username, "Erin")
    with pytest.raises(GatehouseError) as refused:
        admin.reset_password(username, password="tiny")
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert {v.field for v in refused.value.field_violations} == {"password"}


def test_a_wrong_password_is_unauthenticated(client: Client) -> None:
    with pytest.raises(GatehouseError) as refused:
        client.sign_in(ADMIN, "not the password at all")
    assert refused.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert refused.value.field_violations == ()


def test_bulk_reset_reads_started_one_result_per_user_and_the_summary(
    client: Client, admin: Client
) -> None:
    usernames = [unique(name) for name in ("frank", "grace", "heidi")]
    for username in usernames:
        admin.create_user(username, username.split("-")[0].title())
    ghost = unique("ghost")

    done = admin.bulk_reset([*usernames, ghost], idempotency_key=uuid.uuid4().hex).read_all()

    assert done.job_id
    assert sorted(r.index for r in done.results) == [0, 1, 2, 3]
    by_ref = {r.user_ref.removeprefix("username:"): r for r in done.results}
    for username in usernames:
        result = by_ref[username]
        assert result.outcome_name == "BULK_OUTCOME_RESET", result
        assert result.temporary_password and result.expire_time
        assert result.temporary_password not in repr(result)
    assert by_ref[ghost].outcome == admin_pb2.BULK_OUTCOME_NOT_FOUND
    assert by_ref[ghost].temporary_password is None
    summary = done.summary
    assert (summary.job_id, summary.total, summary.reset, summary.not_found) == (
        done.job_id, 4, 3, 1)

    temporary = by_ref[usernames[0]].temporary_password
    assert temporary is not None
    assert client.sign_in(usernames[0], temporary).must_change_password
    assert admin.acknowledge_bulk_results(done.job_id) == 3


def test_bulk_reset_streams_started_first_and_the_summary_last(admin: Client) -> None:
    usernames = [unique(name) for name in ("ivan", "judy")]
    for username in usernames:
        admin.create_user(username, username.split("-")[0].title())

    events = list(admin.bulk_reset(usernames, idempotency_key=uuid.uuid4().hex))

    started, *results, summary = events
    assert isinstance(started, admin_pb2.BulkResetStarted) and started.total == 2
    assert all(isinstance(r, BulkResult) for r in results) and len(results) == 2
    assert isinstance(summary, admin_pb2.BulkResetSummary)
    assert (summary.job_id, summary.reset) == (started.job_id, 2)


def test_a_dry_run_resets_nobody(client: Client, admin: Client) -> None:
    username, temporary = user_with_temporary_password(admin, "mallory")
    done = admin.bulk_reset([username], dry_run=True).read_all()
    assert done.job_id == ""
    assert [r.outcome_name for r in done.results] == ["BULK_OUTCOME_WOULD_RESET"]
    assert done.results[0].temporary_password is None
    assert client.sign_in(username, temporary).must_change_password


def test_list_users_reads_every_page(admin: Client) -> None:
    created = {unique(name) for name in ("kim", "lee", "max")}
    for username in created:
        admin.create_user(username, "Lister")
    listed = [user.username for user in admin.list_users(page_size=2)]
    assert created <= set(listed)
    assert listed == sorted(listed)
    assert ADMIN in listed


def test_a_tenant_requiring_security_info_opens_registration_only_sessions(
    client: Client, admin: Client
) -> None:
    username, temporary = user_with_temporary_password(admin, "rita")

    def require(on: bool) -> None:
        update = common_pb2.PasswordPolicyUpdate(require_registration=on)
        admin.call(
            admin.admin.UpdatePasswordPolicy, admin_pb2.UpdatePasswordPolicyRequest(update=update)
        )

    require(True)
    try:
        # The password to change comes first; the session the change opens asks to register.
        first = client.sign_in(username, temporary)
        assert first.must_change_password and not first.must_register
        assert first.registration is not None
        assert first.registration.state == common_pb2.REGISTRATION_STATE_NOT_REGISTERED
        chosen = "a quiet harbour at dusk in may"
        changed = client.with_session(first.token).change_password(temporary, chosen)
        assert changed.kind == common_pb2.SESSION_KIND_REGISTRATION_ONLY
        again = client.sign_in(username, chosen)
        assert again.must_register
        assert again.registration is not None and again.registration.snoozes_left == 3
        with pytest.raises(GatehouseError) as refused:
            list(client.with_session(again.token).list_users())
        assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
    finally:
        require(False)
    assert client.sign_in(username, chosen).registration is None


def test_raw_stubs_run_with_the_session_through_call(admin: Client) -> None:
    policy = admin.call(admin.admin.GetPasswordPolicy, admin_pb2.GetPasswordPolicyRequest())
    assert policy.policy.min_length == 15
    with pytest.raises(GatehouseError) as missing:
        admin.call(
            admin.admin.GetUser,
            admin_pb2.GetUserRequest(user=common_pb2.UserRef(username=unique("nobody"))),
        )
    assert missing.value.code == grpc.StatusCode.NOT_FOUND


def test_calls_without_a_session_are_refused(client: Client) -> None:
    with pytest.raises(GatehouseError) as refused:
        list(client.list_users())
    # The dev client certificate's identity holds no role.
    assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert "session=no" in repr(client)


def test_a_server_we_cannot_reach_is_unavailable(certs: Path) -> None:
    with connect("127.0.0.1:1", ca=certs / "ca.pem", cert=certs / "client.pem",
                 key=certs / "client.key", timeout=5) as nowhere:
        with pytest.raises(GatehouseError) as unreachable:
            nowhere.health()
    assert unreachable.value.code == grpc.StatusCode.UNAVAILABLE
