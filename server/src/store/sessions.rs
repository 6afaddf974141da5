//! Sessions, found by the SHA-256 of their bearer token.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _};
use uuid::Uuid;

use super::entities::session;
use super::{SessionRow, Store, StoreResult, Tx};

impl Store {
    /// The session whose token hashes to `digest`, revoked or not.
    /// Served from the read cache (see `store::cache`): a revocation through this process
    /// applies at once, one through another replica within the cache's TTL.
    pub async fn session_by_digest(&self, digest: &str) -> StoreResult<Option<SessionRow>> {
        let query = async {
            Ok(session::Entity::find()
                .filter(session::Column::TokenHash.eq(digest))
                .one(self.conn())
                .await?)
        };
        self.cache
            .through_found(&self.cache.sessions, digest.to_owned(), query)
            .await
    }
}

impl Tx {
    /// Stores a new session.
    pub async fn insert_session(&self, row: SessionRow) -> StoreResult<()> {
        session::Entity::insert(session::ActiveModel::from(row))
            .exec(self.conn())
            .await?;
        Ok(())
    }

    /// Revokes every live session of a user; returns how many.
    pub async fn revoke_user_sessions(&self, user_id: Uuid, at: DateTime<Utc>) -> StoreResult<u64> {
        self.invalidates_cache();
        Ok(session::Entity::update_many()
            .col_expr(session::Column::RevokedAt, Expr::value(at))
            .filter(session::Column::UserId.eq(user_id))
            .filter(session::Column::RevokedAt.is_null())
            .filter(session::Column::ExpiresAt.gt(at))
            .exec(self.conn())
            .await?
            .rows_affected)
    }

    /// Whether a session is neither revoked nor expired, as this transaction sees it.
    pub async fn session_live(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<bool> {
        Ok(session::Entity::find_by_id(id)
            .filter(session::Column::RevokedAt.is_null())
            .filter(session::Column::ExpiresAt.gt(at))
            .one(self.conn())
            .await?
            .is_some())
    }

    /// Revokes one session; false when it was already revoked.
    pub async fn revoke_session(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<bool> {
        self.invalidates_cache();
        Ok(session::Entity::update_many()
            .col_expr(session::Column::RevokedAt, Expr::value(at))
            .filter(session::Column::Id.eq(id))
            .filter(session::Column::RevokedAt.is_null())
            .exec(self.conn())
            .await?
            .rows_affected
            == 1)
    }
}
