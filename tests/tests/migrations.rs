//! The migrations themselves: every migration applies on an empty database, rolls back with
//! its `down`, and applies again, on SQLite and PostgreSQL.

use gatehouse_migrations::{Migrator, MigratorTrait as _};
use gatehouse_tests::{Backend, backend_tests, fresh_database};
use sea_orm::{ConnectionTrait as _, Database};

backend_tests!(migrations_apply_roll_back_and_apply_again);

async fn migrations_apply_roll_back_and_apply_again(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = fresh_database(backend, dir.path()).await;
    let db = Database::connect(url.expose()).await.expect("connect");
    let all = Migrator::migrations().len();
    assert_eq!(all, 20, "a new migration? update this count deliberately");
    assert_eq!(
        Migrator::get_pending_migrations(&db)
            .await
            .expect("pending")
            .len(),
        all
    );
    Migrator::up(&db, None).await.expect("up");
    assert!(
        Migrator::get_pending_migrations(&db)
            .await
            .expect("pending")
            .is_empty()
    );
    Migrator::down(&db, None).await.expect("down");
    let left = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            match backend {
                Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'seaql_migrations'",
                Backend::Postgres => "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'seaql_migrations'",
            },
        ))
        .await
        .expect("tables");
    let left: Vec<String> = left
        .iter()
        .map(|row| row.try_get::<String>("", "name").expect("name"))
        .collect();
    assert!(left.is_empty(), "down leaves no table behind: {left:?}");
    assert_eq!(
        Migrator::get_pending_migrations(&db)
            .await
            .expect("pending")
            .len(),
        all
    );
    Migrator::up(&db, None).await.expect("up again");
    db.close().await.expect("close");
}
