//! Expired rows nothing needs are removed by the background clean-up; live ones stay.

use std::time::Duration;

use gatehouse::store::entities::session;
use gatehouse_tests::{Backend, TestServer, USER_PASSWORD, backend_tests};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait as _, Database, EntityTrait as _, PaginatorTrait as _, QueryFilter as _,
};

backend_tests!(expired_sessions_are_removed_and_live_ones_kept);

async fn expired_sessions_are_removed_and_live_ones_kept(backend: Backend) {
    let server = TestServer::start_with(backend, |config| {
        config.cleanup_interval_secs = 1;
        config.expired_retention_hours = 0;
    })
    .await;
    let admin = server.admin().await;
    let (person, _) = server
        .user_with_roles(&admin, "pia@contoso.example", &[])
        .await;
    let old = server
        .sign_in("pia@contoso.example", USER_PASSWORD)
        .await
        .session_token;
    let db = Database::connect(server.config.database_url().expose())
        .await
        .expect("connect");
    let digest = {
        use sha2::Digest as _;
        sha2::Sha256::digest(old.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    // This session expired two days ago.
    session::Entity::update_many()
        .col_expr(
            session::Column::ExpiresAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::days(2)),
        )
        .filter(session::Column::TokenHash.eq(digest.clone()))
        .exec(&db)
        .await
        .expect("age the session");
    let gone = async {
        loop {
            let left = session::Entity::find()
                .filter(session::Column::TokenHash.eq(digest.clone()))
                .count(&db)
                .await
                .expect("count");
            if left == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), gone)
        .await
        .expect("the expired session is removed");
    // The live session still works.
    person
        .self_service()
        .get_me(gatehouse_client::pb::GetMeRequest {})
        .await
        .expect("a live session is kept");
}
