//! The `password_credentials` table.

use sea_orm::entity::prelude::*;

#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "password_credentials")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    pub tenant_id: Uuid,
    pub hash: crate::store::PasswordHash,
    pub set_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
    pub must_change: bool,
    pub temporary: bool,
    pub failed_attempts: i32,
    pub locked_until: Option<DateTimeUtc>,
    pub lockout_count: i32,
    pub recent_failures: String,
    pub reminder_sent_for: Option<DateTimeUtc>,
    pub attempts_in_flight: i32,
    pub attempts_lease_until: Option<DateTimeUtc>,
    pub compromised_at: Option<DateTimeUtc>,
}

#[allow(missing_docs)]
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
