//! Expiry reminders: finding passwords about to expire and claiming each reminder once.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{ColumnTrait as _, Condition, EntityTrait as _, QueryFilter as _, QuerySelect as _};
use uuid::Uuid;

use super::entities::password_credential;
use super::{CredentialRow, Store, StoreResult, Tx};

impl Store {
    /// Permanent passwords of a tenant set in `[set_after, set_before]` that have had no
    /// reminder yet, at most `limit`.
    pub async fn unreminded_passwords(
        &self,
        tenant_id: Uuid,
        set_after: DateTime<Utc>,
        set_before: DateTime<Utc>,
        limit: u64,
    ) -> StoreResult<Vec<CredentialRow>> {
        Ok(password_credential::Entity::find()
            .filter(password_credential::Column::TenantId.eq(tenant_id))
            .filter(password_credential::Column::Temporary.eq(false))
            .filter(password_credential::Column::MustChange.eq(false))
            .filter(password_credential::Column::SetAt.gt(set_after))
            .filter(password_credential::Column::SetAt.lte(set_before))
            .filter(not_reminded())
            .limit(limit)
            .all(self.conn())
            .await?)
    }
}

impl Tx {
    /// Claims the reminder of the user's current password; false when it was claimed
    /// already (by another server) or the password changed since it was read.
    pub async fn claim_reminder(&self, user_id: Uuid, set_at: DateTime<Utc>) -> StoreResult<bool> {
        let result = password_credential::Entity::update_many()
            .col_expr(
                password_credential::Column::ReminderSentFor,
                Expr::col(password_credential::Column::SetAt),
            )
            .filter(password_credential::Column::UserId.eq(user_id))
            .filter(password_credential::Column::SetAt.eq(set_at))
            .filter(not_reminded())
            .exec(self.conn())
            .await?;
        Ok(result.rows_affected == 1)
    }
}

/// No reminder was sent yet for the password now set.
fn not_reminded() -> Condition {
    Condition::any()
        .add(password_credential::Column::ReminderSentFor.is_null())
        .add(
            Expr::col(password_credential::Column::ReminderSentFor)
                .ne(Expr::col(password_credential::Column::SetAt)),
        )
}
