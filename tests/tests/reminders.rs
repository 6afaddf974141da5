//! Expiry reminders: once per password, before it expires, never to exempt users.

use std::time::Duration;

use gatehouse::store::entities::password_credential;
use gatehouse_client::pb;
use gatehouse_tests::smtp::SmtpSink;
use gatehouse_tests::{Backend, TestServer, backend_tests, get_user};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait as _, Database, EntityTrait as _, QueryFilter as _};

backend_tests!(a_password_about_to_expire_gets_one_reminder);

async fn a_password_about_to_expire_gets_one_reminder(backend: Backend) {
    let sink = SmtpSink::start().await;
    let server = TestServer::start_with(backend, |config| {
        sink.configure(config);
        config.expiry_reminder_interval_secs = 1;
    })
    .await;
    let admin = server.admin().await;
    admin
        .admin()
        .update_password_policy(pb::UpdatePasswordPolicyRequest {
            update: Some(pb::PasswordPolicyUpdate {
                max_age_days: Some(30),
                expiry_reminder_days: Some(14),
                ..Default::default()
            }),
        })
        .await
        .expect("policy");
    let (_, due) = server
        .user_with_roles(&admin, "zoe@contoso.example", &[])
        .await;
    let (_, fresh) = server
        .user_with_roles(&admin, "zed@contoso.example", &[])
        .await;
    let (_, exempt) = server
        .user_with_roles(&admin, "zia@contoso.example", &[])
        .await;
    let version = get_user(&admin, &exempt).await.version;
    admin
        .admin()
        .update_user(pb::UpdateUserRequest {
            id: exempt.clone(),
            version,
            password_never_expires: Some(true),
            ..Default::default()
        })
        .await
        .expect("exempt");

    // zoe's and zia's passwords are 20 days old: 10 days before expiry, inside the 14-day
    // window. zed's is new.
    let db = Database::connect(server.config.database_url().expose())
        .await
        .expect("db");
    let ids = [
        due.parse::<uuid::Uuid>().expect("id"),
        exempt.parse::<uuid::Uuid>().expect("id"),
    ];
    password_credential::Entity::update_many()
        .col_expr(
            password_credential::Column::SetAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::days(20)),
        )
        .filter(password_credential::Column::UserId.is_in(ids))
        .exec(&db)
        .await
        .expect("age");

    let mails = sink.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(mails[0].to, ["zoe@contoso.example"]);
    assert!(mails[0].data.contains("expires"));
    // The job runs every second: three more runs send nothing more.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mails = sink.mails();
    assert_eq!(
        mails.len(),
        1,
        "one reminder per password, none for {fresh} or the exempt user"
    );
}
