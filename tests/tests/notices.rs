//! Notices of password changes, by real SMTP through the outbox: a person is told when an
//! administrator reset their password (who and when, at every confirmed email, never the
//! password); every global admin is told when an administrator's password is reset or
//! changed; a tenant setting turns each off.

use std::time::Duration;

use gatehouse_client::{Client, pb};
use gatehouse_tests::smtp::{Mail, SmtpSink};
use gatehouse_tests::{Backend, TestServer, USER_PASSWORD, backend_tests, user_id};

backend_tests!(
    an_admin_reset_tells_the_person_who_and_when_at_every_confirmed_email,
    every_global_admin_hears_of_a_change_to_an_administrators_password,
    a_tenant_turns_each_notice_off,
);

const WAIT: Duration = Duration::from_secs(15);

async fn server(backend: Backend, sink: &SmtpSink) -> TestServer {
    TestServer::start_with(backend, |config| sink.configure(config)).await
}

fn is_reset_notice(mail: &Mail) -> bool {
    mail.text().contains("An administrator reset your password")
}

fn is_admin_notice(mail: &Mail) -> bool {
    mail.text().contains("The password of administrator")
}

async fn reset(admin: &Client, id: &str) -> String {
    admin
        .calls()
        .reset_password(pb::ResetPasswordRequest {
            user: Some(user_id(id)),
            ..Default::default()
        })
        .await
        .expect("reset")
        .generated_password
}

async fn update_policy(admin: &Client, update: pb::PasswordPolicyUpdate) {
    admin
        .calls()
        .update_password_policy(pb::UpdatePasswordPolicyRequest {
            update: Some(update),
        })
        .await
        .expect("policy");
}

async fn an_admin_reset_tells_the_person_who_and_when_at_every_confirmed_email(backend: Backend) {
    let sink = SmtpSink::start().await;
    let server = server(backend, &sink).await;
    let admin = server.admin().await;
    let (desk, _) = server
        .user_with_roles(&admin, "desk@contoso.example", &[pb::Role::PasswordAdmin])
        .await;
    let pia = gatehouse_tests::user_with_alternate_email(
        &server,
        &admin,
        &sink,
        "pia@contoso.example",
        "pia.home@mail.example",
    )
    .await;
    let me = pia
        .calls()
        .get_me(pb::GetMeRequest {})
        .await
        .expect("me")
        .user
        .expect("user");
    let before = sink.mails().iter().filter(|m| is_reset_notice(m)).count();
    let password = reset(&desk, &me.id).await;

    for address in ["pia@contoso.example", "pia.home@mail.example"] {
        let mail = sink
            .wait_for_match(0, WAIT, |m| {
                is_reset_notice(m) && m.to == [address] && m.text().contains("desk@contoso.example")
            })
            .await;
        assert!(
            mail.text()
                .contains("reset the password of your account pia@contoso.example"),
            "{}",
            mail.text()
        );
        assert!(mail.text().contains(" UTC"), "says when: {}", mail.text());
        assert!(
            mail.text().contains("If you did not"),
            "says what to do: {}",
            mail.text()
        );
        assert!(!mail.text().contains(&password), "never the password");
    }
    // Exactly one notice per address for this reset.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let now = sink.mails().iter().filter(|m| is_reset_notice(m)).count();
    assert_eq!(
        now - before,
        2,
        "one notice for each of Pia's two addresses"
    );
}

async fn every_global_admin_hears_of_a_change_to_an_administrators_password(backend: Backend) {
    let sink = SmtpSink::start().await;
    let server = server(backend, &sink).await;
    let admin = server.admin().await;
    gatehouse_tests::create_user(&admin, "second@contoso.example", &[pb::Role::GlobalAdmin]).await;
    let (_, ula) = server
        .user_with_roles(&admin, "ula@contoso.example", &[pb::Role::UserAdmin])
        .await;
    // The admin reset of a user admin: both global admins hear of it.
    let temporary = reset(&admin, &ula).await;
    for address in [server.admin_username.as_str(), "second@contoso.example"] {
        let mail = sink
            .wait_for_match(0, WAIT, |m| {
                is_admin_notice(m)
                    && m.to == [address]
                    && m.text().contains("ula@contoso.example")
                    && m.text().contains("reset by")
            })
            .await;
        assert!(
            mail.text().contains("ula@contoso.example"),
            "{}",
            mail.text()
        );
        assert!(
            mail.text().contains("user_admin"),
            "names the role: {}",
            mail.text()
        );
        assert!(!mail.text().contains(&temporary), "never the password");
    }
    // Ula changes it herself: they hear of that too.
    let signed_in = server.sign_in("ula@contoso.example", &temporary).await;
    server
        .client()
        .await
        .with_session(signed_in.session_token)
        .calls()
        .change_password(pb::ChangePasswordRequest {
            current_password: temporary.clone(),
            new_password: USER_PASSWORD.to_owned() + " anew",
        })
        .await
        .expect("change");
    sink.wait_for_match(0, WAIT, |m| {
        is_admin_notice(m)
            && m.to == ["second@contoso.example"]
            && m.text().contains("changed by its owner")
    })
    .await;
    // A person without a role changing their password tells no admin.
    let (plain, _) = server
        .user_with_roles(&admin, "plain@contoso.example", &[])
        .await;
    plain
        .calls()
        .change_password(pb::ChangePasswordRequest {
            current_password: USER_PASSWORD.to_owned(),
            new_password: USER_PASSWORD.to_owned() + " changed",
        })
        .await
        .expect("change");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        !sink
            .mails()
            .iter()
            .any(|m| is_admin_notice(m) && m.text().contains("plain@contoso.example")),
        "no role, no admin notice"
    );
}

async fn a_tenant_turns_each_notice_off(backend: Backend) {
    let sink = SmtpSink::start().await;
    let server = server(backend, &sink).await;
    let admin = server.admin().await;
    update_policy(
        &admin,
        pb::PasswordPolicyUpdate {
            notify_person_on_admin_reset: Some(false),
            notify_admins_on_admin_password_change: Some(false),
            ..Default::default()
        },
    )
    .await;
    let policy = admin
        .calls()
        .get_password_policy(pb::GetPasswordPolicyRequest {})
        .await
        .expect("policy")
        .policy
        .expect("policy");
    assert!(!policy.notify_person_on_admin_reset);
    assert!(!policy.notify_admins_on_admin_password_change);
    gatehouse_tests::create_user(&admin, "second@contoso.example", &[pb::Role::GlobalAdmin]).await;
    let (_, quiet) = server
        .user_with_roles(&admin, "quiet@contoso.example", &[pb::Role::PasswordAdmin])
        .await;
    reset(&admin, &quiet).await;
    // Something that is still sent, to know the outbox has been drained past the reset.
    update_policy(
        &admin,
        pb::PasswordPolicyUpdate {
            notify_person_on_admin_reset: Some(true),
            ..Default::default()
        },
    )
    .await;
    reset(&admin, &quiet).await;
    sink.wait_for_match(0, WAIT, |m| {
        is_reset_notice(m) && m.to == ["quiet@contoso.example"]
    })
    .await;
    let mails = sink.mails();
    assert_eq!(
        mails
            .iter()
            .filter(|m| is_reset_notice(m) && m.to == ["quiet@contoso.example"])
            .count(),
        1,
        "only the reset after the notice was turned back on"
    );
    assert!(
        !mails.iter().any(is_admin_notice),
        "no admin notice while that one is off"
    );
}
