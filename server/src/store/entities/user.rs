//! The `users` table.

use sea_orm::entity::prelude::*;

#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub username: String,
    pub display_name: String,
    pub contact_email: String,
    pub state: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
    pub password_never_expires: bool,
    pub registration_snoozes_used: i32,
    pub registration_snoozed_until: Option<DateTimeUtc>,
    pub registration_reminded_at: Option<DateTimeUtc>,
    /// As judged when the person's methods or the tenant's policy last changed (see
    /// `store::registration`); lapses are marked by a sweep.
    pub registration_state: String,
    /// The confirmation the state rests on: the `reset_methods_required`-th newest.
    pub registration_anchor_at: Option<DateTimeUtc>,
}

#[allow(missing_docs)]
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
